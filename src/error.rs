//! The typed error that eventfold carries inside [`std::io::Error`].
//!
//! Every fallible function keeps eventfold 0.2.0's `io::Result` signature. When the failure is
//! eventfold's own (a malformed line, a bad view name, a poisoned writer), the `io::Error` wraps
//! an [`Error`] that callers can recover with [`Error::from_io`] or `get_ref()?.downcast_ref()`.
//! When the operating system refuses an operation on a file, the `io::Error` keeps the OS's
//! [`io::ErrorKind`] and wraps a [`FileError`] that names the operation and the file.

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
    /// An upcaster (see [`Upcasters`](crate::Upcasters)) returned an error or panicked on a
    /// valid event of the log. The line is left as it is; the fold stopped before it, and a
    /// view whose refresh met it is as it was before that refresh (state, offset, snapshot).
    Upcast {
        /// The file that holds the event (`app.jsonl` or `archive.jsonl.zst`).
        path: PathBuf,
        /// Byte offset of the event's line (in the decompressed stream for the archive).
        offset: u64,
        /// One-based line number of the event's line in the same byte stream.
        line: u64,
        /// The type of the event the upcaster was given.
        event_type: String,
        /// The upcaster's error, or its panic message.
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
            Error::Malformed { .. } | Error::Upcast { .. } | Error::Archive { .. } => {
                io::ErrorKind::InvalidData
            }
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
            Error::Upcast {
                path,
                offset,
                line,
                event_type,
                reason,
            } => {
                let what = if is_archive(path) {
                    "decompressed byte"
                } else {
                    "byte"
                };
                write!(
                    f,
                    "the upcaster of event type {event_type:?} failed on the event in {} at \
                     {what} {offset} (line {line}): {reason}",
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

/// An operating-system error with the operation and the file it was about.
///
/// Every `io::Error` that eventfold returns from opening, reading, writing, syncing, renaming,
/// removing or listing a file of the log carries one: its message reads
/// `cannot open data/views/a.snapshot.json: Permission denied (os error 13)`, its
/// [`kind()`](io::Error::kind) is the one the OS gave (`NotFound`, `PermissionDenied`, ...), and
/// its [`source()`](std::error::Error::source) is the OS's own error. Recover it with
/// [`FileError::from_io`].
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{EventReader, FileError};
/// use std::io::ErrorKind;
/// // A directory where the active log should be: opening it works, reading it does not.
/// std::fs::create_dir(dir.path().join("app.jsonl"))?;
/// let Err(err) = EventReader::new(dir.path()).read_full() else {
///     panic!("a directory is not a log")
/// };
/// let Some(inner) = FileError::from_io(&err) else { panic!("an OS error about a file") };
/// assert_eq!(inner.path(), dir.path().join("app.jsonl"));
/// assert!(err.to_string().starts_with("cannot "), "{err}");
/// assert_ne!(err.kind(), ErrorKind::Other);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct FileError {
    operation: &'static str,
    path: PathBuf,
    to: Option<PathBuf>,
    source: io::Error,
}

impl FileError {
    /// Returns the file error carried by `err`, if it carries one.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::FileError;
    /// let plain = std::io::Error::other("disk on fire");
    /// assert!(FileError::from_io(&plain).is_none());
    /// ```
    pub fn from_io(err: &io::Error) -> Option<&FileError> {
        err.get_ref()?.downcast_ref::<FileError>()
    }

    /// What eventfold was doing: `open`, `read`, `write`, `sync`, `rename`, `remove`, ... as
    /// the message says it (`cannot open ...`).
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{EventReader, FileError};
    /// std::fs::create_dir(dir.path().join("app.jsonl"))?;
    /// let err = EventReader::new(dir.path()).read_full().err().expect("a directory");
    /// assert_eq!(FileError::from_io(&err).map(FileError::operation), Some("read"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn operation(&self) -> &'static str {
        self.operation
    }

    /// The file or directory the operation was about, as the log's directory was given joined
    /// with the file's name (for a rename, the file renamed).
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{EventReader, FileError};
    /// std::fs::create_dir(dir.path().join("app.jsonl"))?;
    /// let err = EventReader::new(dir.path()).read_full().err().expect("a directory");
    /// let path = FileError::from_io(&err).map(|e| e.path().to_path_buf());
    /// assert_eq!(path, Some(dir.path().join("app.jsonl")));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot {} {}", self.operation, self.path.display())?;
        if let Some(to) = &self.to {
            write!(f, " to {}", to.display())?;
        }
        write!(f, ": {}", self.source)
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Wraps `err`, which `operation` on `path` returned, in a [`FileError`] of the same kind,
/// unless it already names its file (a `FileError`, or eventfold's own [`Error`]).
pub(crate) fn file_error(err: io::Error, operation: &'static str, path: &Path) -> io::Error {
    wrap(err, operation, path, None)
}

fn wrap(err: io::Error, operation: &'static str, path: &Path, to: Option<&Path>) -> io::Error {
    if names_its_file(&err) {
        return err;
    }
    let kind = err.kind();
    io::Error::new(
        kind,
        FileError {
            operation,
            path: path.to_path_buf(),
            to: to.map(Path::to_path_buf),
            source: err,
        },
    )
}

/// The message of `err` without the file it names when that file is `path`: for a report that
/// shows the file beside the message (`archive.index.jsonl unreadable: Is a directory`).
pub(crate) fn message_about(err: &io::Error, path: &Path) -> String {
    match FileError::from_io(err) {
        Some(inner) if inner.path == path && inner.to.is_none() => inner.source.to_string(),
        _ => err.to_string(),
    }
}

/// Whether `err` already says which file it is about.
fn names_its_file(err: &io::Error) -> bool {
    err.get_ref()
        .is_some_and(|inner| inner.is::<FileError>() || inner.is::<Error>())
}

/// Names the operation and the file in the error of an `io::Result`.
pub(crate) trait Context<T> {
    /// The result, its error wrapped by [`file_error`].
    fn context(self, operation: &'static str, path: &Path) -> io::Result<T>;
    /// The result of renaming `from` to `to`, its error naming both.
    fn rename_context(self, from: &Path, to: &Path) -> io::Result<T>;
}

impl<T> Context<T> for io::Result<T> {
    #[inline]
    fn context(self, operation: &'static str, path: &Path) -> io::Result<T> {
        self.map_err(|e| file_error(e, operation, path))
    }

    #[inline]
    fn rename_context(self, from: &Path, to: &Path) -> io::Result<T> {
        self.map_err(|e| wrap(e, "rename", from, Some(to)))
    }
}

#[cfg(test)]
mod file_error_tests {
    use super::*;

    /// The OS's "permission denied" code: EACCES on Unix, ERROR_ACCESS_DENIED on Windows.
    const ACCESS_DENIED: i32 = if cfg!(windows) { 5 } else { 13 };
    /// The OS's "cross-device link" code: EXDEV on Unix, ERROR_NOT_SAME_DEVICE on Windows.
    const CROSSES_DEVICES: i32 = if cfg!(windows) { 17 } else { 18 };

    #[test]
    fn keeps_the_kind_and_the_source_and_names_the_file() {
        let os = io::Error::from_raw_os_error(ACCESS_DENIED);
        let shown = os.to_string();
        let err = file_error(os, "open", Path::new("d/views/a.snapshot.json"));
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        assert_eq!(
            err.to_string(),
            format!("cannot open d/views/a.snapshot.json: {shown}")
        );
        let source = std::error::Error::source(&err).expect("the OS error");
        let source = source.downcast_ref::<io::Error>().expect("an io::Error");
        assert_eq!(source.raw_os_error(), Some(ACCESS_DENIED));
        assert_eq!(
            FileError::from_io(&err).unwrap().path(),
            Path::new("d/views/a.snapshot.json")
        );
    }

    #[test]
    fn does_not_wrap_twice() {
        let once = file_error(io::Error::from_raw_os_error(2), "open", Path::new("a"));
        let twice = file_error(once, "read", Path::new("b"));
        assert!(twice.to_string().starts_with("cannot open a: "), "{twice}");
        let own: io::Error = Error::malformed(Path::new("app.jsonl"), 0, 1, "x".into()).into();
        let wrapped = file_error(own, "read", Path::new("app.jsonl"));
        assert!(Error::from_io(&wrapped).is_some());
    }

    #[test]
    fn a_rename_names_both_files() {
        let err: io::Result<()> = Err(io::Error::from_raw_os_error(CROSSES_DEVICES));
        let err = err
            .rename_context(Path::new("a.tmp"), Path::new("a"))
            .unwrap_err();
        assert!(
            err.to_string().starts_with("cannot rename a.tmp to a: "),
            "{err}"
        );
        assert_eq!(err.kind(), io::ErrorKind::CrossesDevices);
    }
}
