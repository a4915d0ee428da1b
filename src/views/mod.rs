//! Layer 4, views: state folded from the log by a reducer, and the files that cache it. The
//! view itself, the shared pass of several views, snapshots, snapshot policies, checkpoints,
//! time travel, and refresh reports.

pub(crate) mod checkpoint;
pub(crate) mod pass;
pub(crate) mod policy;
pub(crate) mod report;
pub mod snapshot;
pub(crate) mod travel;
pub(crate) mod view;
