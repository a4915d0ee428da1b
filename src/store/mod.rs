//! Layer 2, the store: the files of a log directory on disk. Mapping and reading committed
//! bytes, every write and sync, the active log's writer, the archive and its index, recovery
//! after a crash, the views' snapshot files (which a rotation retires), positions in the
//! history, and file notifications.

pub(crate) mod archive;
#[cfg(test)]
pub(crate) mod fault;
pub(crate) mod fsutil;
pub(crate) mod index;
pub(crate) mod mmap;
pub(crate) mod platform;
pub(crate) mod position;
pub(crate) mod recovery;
pub(crate) mod seals;
pub mod snapshot;
pub(crate) mod watch;
pub(crate) mod writer;
