//! Layer 6, tools: inspecting a directory without changing it, verifying it, salvaging what can
//! be read from a damaged one, and statistics over the history.

pub(crate) mod inspect;
pub(crate) mod salvage;
pub(crate) mod stats;
pub(crate) mod verify;
