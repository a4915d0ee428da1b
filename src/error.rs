//! The typed error that eventfold carries inside [`std::io::Error`].
//!
//! Every fallible function keeps eventfold 0.2.0's `io::Result` signature. When the failure is
//! eventfold's own (a malformed line, a bad view name, a poisoned writer), the `io::Error` wraps
//! an [`Error`] that callers can recover with [`Error::from_io`] or `get_ref()?.downcast_ref()`.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// What went wrong, with where it went wrong.
///
/// Found inside an [`io::Error`] returned by eventfold; recover it with [`Error::from_io`].
///
/// # Examples
///
/// ```
/// # use tempfile::tempdir;
/// use eventfold::{Error, EventLog};
/// # let dir = tempdir()?;
/// std::fs::write(dir.path().join("app.jsonl"), "{\"type\":\"ok\",\"data\":{},\"ts\":1}\nnot json\n")?;
/// let log = EventLog::open(dir.path())?;
/// let err = log.read_from(0)?.find_map(|r| r.err()).expect("the second line is malformed");
/// match Error::from_io(&err) {
///     Some(Error::Malformed { offset, line, .. }) => {
///         assert_eq!(*offset, 31);
///         assert_eq!(*line, 2);
///     }
///     other => panic!("unexpected error {other:?}"),
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A line of the active log or of the archive is not a valid event.
    Malformed {
        /// The file that holds the line (`app.jsonl` or `archive.jsonl.zst`).
        path: PathBuf,
        /// Byte offset of the line's first byte. For the archive this is the offset in the
        /// decompressed stream (what `zstd -d archive.jsonl.zst --stdout` prints).
        offset: u64,
        /// One-based line number of the line in the same byte stream.
        line: u64,
        /// What the JSON parser objected to.
        reason: String,
    },
    /// The archive could not be decompressed (truncated or damaged frame).
    Archive {
        /// Path of the archive file.
        path: PathBuf,
        /// Offset in the compressed file of the frame that failed.
        frame_offset: u64,
        /// What the decompressor reported.
        reason: String,
    },
    /// A view name that cannot name a snapshot file.
    InvalidViewName {
        /// The refused name.
        name: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// Two views were registered under the same name.
    DuplicateView {
        /// The name registered twice.
        name: String,
    },
    /// An earlier write or fsync failed, so the writer no longer knows what is on disk.
    Poisoned {
        /// The active log the writer was appending to.
        path: PathBuf,
        /// The failure that poisoned the writer.
        cause: String,
    },
}

impl Error {
    /// Returns the eventfold error carried by `err`, if it carries one.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::Error;
    /// let plain = std::io::Error::other("disk on fire");
    /// assert!(Error::from_io(&plain).is_none());
    /// ```
    pub fn from_io(err: &io::Error) -> Option<&Error> {
        err.get_ref()?.downcast_ref::<Error>()
    }

    /// The [`io::ErrorKind`] this error is reported with.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Error, Event, EventLog};
    /// use std::io::ErrorKind;
    /// fn count(n: u64, _e: &Event) -> u64 { n + 1 }
    /// let Err(err) = EventLog::builder(dir.path()).view::<u64>("a/b", count).open() else {
    ///     panic!("a view name with a path separator is refused");
    /// };
    /// let Some(inner) = Error::from_io(&err) else { panic!("an eventfold error") };
    /// assert!(matches!(inner, Error::InvalidViewName { .. }));
    /// assert_eq!(inner.io_kind(), ErrorKind::InvalidInput);
    /// assert_eq!(err.kind(), inner.io_kind());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn io_kind(&self) -> io::ErrorKind {
        match self {
            Error::Malformed { .. } | Error::Archive { .. } => io::ErrorKind::InvalidData,
            Error::InvalidViewName { .. } | Error::DuplicateView { .. } => {
                io::ErrorKind::InvalidInput
            }
            Error::Poisoned { .. } => io::ErrorKind::Other,
        }
    }

    pub(crate) fn malformed(path: &Path, offset: u64, line: u64, reason: String) -> Self {
        Error::Malformed {
            path: path.to_path_buf(),
            offset,
            line,
            reason,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Malformed {
                path,
                offset,
                line,
                reason,
            } => {
                let what = if is_archive(path) {
                    "decompressed byte"
                } else {
                    "byte"
                };
                write!(
                    f,
                    "malformed event in {} at {what} {offset} (line {line}): {reason}",
                    path.display()
                )
            }
            Error::Archive {
                path,
                frame_offset,
                reason,
            } => write!(
                f,
                "cannot decompress the archive {} at the frame starting at byte {frame_offset}: \
                 {reason}",
                path.display()
            ),
            Error::InvalidViewName { name, reason } => {
                write!(f, "invalid view name {name:?}: {reason}")
            }
            Error::DuplicateView { name } => {
                write!(f, "a view named {name:?} is already registered")
            }
            Error::Poisoned { path, cause } => write!(
                f,
                "the writer of {} stopped after a failed write ({cause}); reopen the log to \
                 recover its state from disk",
                path.display()
            ),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for io::Error {
    fn from(err: Error) -> Self {
        io::Error::new(err.io_kind(), err)
    }
}

fn is_archive(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext == "zst")
}

/// Checks that `name` can safely name a file in `views/`.
pub(crate) fn check_view_name(name: &str) -> Result<(), Error> {
    let reason = if name.is_empty() {
        "it is empty"
    } else if name.contains(['/', '\\']) {
        "it contains a path separator"
    } else if name.contains("..") {
        "it contains `..`"
    } else if name.contains('\0') {
        "it contains a NUL byte"
    } else {
        return Ok(());
    };
    Err(Error::InvalidViewName {
        name: name.to_string(),
        reason,
    })
}
