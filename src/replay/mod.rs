//! Layer 3, replay: reading the history and folding it. The fold engine, the reader and its
//! iterators, scans with positions, filters, and the counting fold views use.

pub(crate) mod counted;
pub(crate) mod filter;
pub(crate) mod fold;
pub(crate) mod reader;
pub(crate) mod scan;
