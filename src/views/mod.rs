//! Layer 4, views: state folded from the log by a reducer. The view itself, the shared pass of
//! several views, the views' part of a rotation, snapshot policies, checkpoints, time travel,
//! and refresh reports. (The snapshot files themselves are the store's, which retires them at a
//! rotation.)

pub(crate) mod checkpoint;
pub(crate) mod pass;
pub(crate) mod policy;
pub(crate) mod rebuild;
pub(crate) mod report;
pub(crate) mod rotation;
pub(crate) mod travel;
pub(crate) mod view;
