//! Layer 3, replay: reading the history and folding it. The reader and its iterators, which
//! feed the archive's frames and the active log to the fold engine, scans with positions,
//! filters, and the counting fold views use.

pub(crate) mod counted;
pub(crate) mod filter;
pub(crate) mod reader;
pub(crate) mod scan;
pub(crate) mod walk;
