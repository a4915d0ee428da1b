//! Reading: [`EventReader`], its iterators, and the fold engine that views replay through.
//!
//! Every read goes through the same steps: take the committed bytes of a source (the mapped
//! active log, or one decompressed archive frame), split them into lines with memchr, parse
//! each line, and report a bad line with its file, byte offset and line number.

use crate::WaitResult;
use crate::archive::{Window, Windows};
use crate::error::Error;
use crate::event::Event;
use crate::fold::{self, LineFold};
use crate::lines::{self, Lines};
use crate::mmap::{self, Region};
use crate::recovery;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Compute xxh64 (seed 0) of a line's bytes, without its newline, as 16 lowercase hex digits.
///
/// This is the hash snapshots store for the last line they consumed, and the hash
/// [`AppendResult::line_hash`](crate::AppendResult::line_hash) reports.
///
/// # Examples
///
/// ```
/// use eventfold::line_hash;
/// let hash = line_hash(br#"{"type":"a","data":{},"ts":1}"#);
/// assert_eq!(hash.len(), 16);
/// assert!(hash.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
/// ```
pub fn line_hash(line: &[u8]) -> String {
    format!("{:016x}", xxhash_rust::xxh64::xxh64(line, 0))
}

/// A cheap, cloneable handle for reading an event log directory.
///
/// A reader holds only paths; every call opens the files afresh, maps the committed part of the
/// active log, and lets go of it when done. It is safe to use beside a writer, in this process or
/// in another: only lines that end in a newline are read, and the writer never shrinks a file
/// that a reader may have mapped (rotation renames a fresh file into place instead).
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{Event, EventReader, EventWriter};
/// use serde_json::json;
///
/// let mut writer = EventWriter::open(dir.path())?;
/// writer.append(&Event::new("click", json!({"x": 1})))?;
///
/// let reader = EventReader::new(dir.path());
/// let events = reader.read_from(0)?.collect::<Result<Vec<_>, _>>()?;
/// assert_eq!(events.len(), 1);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct EventReader {
    log_path: PathBuf,
    archive_path: PathBuf,
}

/// How much of the active log is mapped at a time while folding.
const SEGMENT: u64 = 32 << 20;

/// The iterator [`EventReader::read_full`] returns: `(event, line_hash)` items.
pub(crate) type FullHistory = Box<dyn Iterator<Item = io::Result<(Event, String)>>>;

/// Where the fold stopped in the active log: just past the last event read, and its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tail {
    pub end: u64,
    pub hash: String,
}

/// The outcome of a fold: the accumulator (folded up to the last good event), where in the
/// active log it stands, and the error that stopped it, if any.
pub(crate) struct Folded<A> {
    pub acc: A,
    pub tail: Option<Tail>,
    pub error: Option<io::Error>,
    /// Whether the error was met in the archive (the accumulator then holds a partial history
    /// that no active-log offset describes).
    pub failed_in_archive: bool,
    /// Whether any event was folded.
    pub any: bool,
}

impl<A> Folded<A> {
    /// Nothing folded yet into `acc`.
    fn start(acc: A) -> Self {
        Folded {
            acc,
            tail: None,
            error: None,
            failed_in_archive: false,
            any: false,
        }
    }

    /// `acc` and an error that stopped the fold before the active log.
    fn failed(acc: A, error: io::Error, failed_in_archive: bool) -> Self {
        Folded {
            acc,
            tail: None,
            error: Some(error),
            failed_in_archive,
            any: failed_in_archive,
        }
    }
}

/// Where a buffer of lines came from, to report a bad line's position.
#[derive(Debug, Clone, Copy)]
enum Origin {
    /// The active log, from this byte offset.
    Active { from: u64 },
    /// A decompressed archive frame at this offset of the decompressed stream, after this many
    /// lines.
    Archive {
        stream_offset: u64,
        lines_before: u64,
    },
}

impl EventReader {
    /// Creates a reader for the log directory `dir` (which need not exist yet).
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::EventReader;
    /// let reader = EventReader::new("./data");
    /// assert!(reader.log_path().ends_with("app.jsonl"));
    /// ```
    pub fn new(dir: impl AsRef<Path>) -> Self {
        let dir = dir.as_ref();
        EventReader {
            log_path: dir.join("app.jsonl"),
            archive_path: dir.join("archive.jsonl.zst"),
        }
    }

    pub(crate) fn dir(&self) -> &Path {
        self.log_path.parent().unwrap_or(Path::new("."))
    }

    /// Reads the events of the active log from byte `offset` on.
    ///
    /// Yields `(event, next_offset, line_hash)` for each complete line, where `next_offset` is
    /// the byte just past the line's newline (pass it back to continue later). Empty lines are
    /// skipped; a last line without its newline (an append in progress, or torn by a crash) is
    /// not yielded. The lines read are those committed when this is called.
    ///
    /// # Errors
    ///
    /// Returns an error if `app.jsonl` cannot be opened or read. An item is an
    /// [`io::ErrorKind::InvalidData`] error carrying [`Error::Malformed`] (file, byte offset,
    /// line number) for a line that is not a valid event; iteration ends after it.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog};
    /// use serde_json::json;
    /// let mut log = EventLog::open(dir.path())?;
    /// let first = log.append(&Event::new("a", json!({})))?;
    /// log.append(&Event::new("b", json!({})))?;
    /// let later: Vec<_> = log.read_from(first.end_offset)?.collect::<Result<_, _>>()?;
    /// assert_eq!(later.len(), 1);
    /// assert_eq!(later[0].0.event_type, "b");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read_from(
        &self,
        offset: u64,
    ) -> io::Result<impl Iterator<Item = io::Result<(Event, u64, String)>> + use<>> {
        ActiveEvents::open(&self.log_path, offset)
    }

    /// Reads the whole history: every event of the archive, then of the active log.
    ///
    /// Yields `(event, line_hash)`. The archive is decompressed one frame at a time. If a
    /// rotation was interrupted after archiving the active log but before emptying it, the
    /// active log is a copy of the archive's last frame and is not read twice.
    ///
    /// # Errors
    ///
    /// Returns an error if a file cannot be opened. Items carry [`Error::Malformed`] for a bad
    /// line and [`Error::Archive`] for a damaged frame; iteration ends after an error.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog};
    /// use serde_json::json;
    /// let mut log = EventLog::open(dir.path())?;
    /// log.append(&Event::new("old", json!({})))?;
    /// log.rotate()?;
    /// log.append(&Event::new("new", json!({})))?;
    /// let types: Vec<String> = log
    ///     .read_full()?
    ///     .map(|r| r.map(|(event, _hash)| event.event_type))
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(types, ["old", "new"]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read_full(&self) -> io::Result<FullHistory> {
        let history = self.history()?;
        let windows = Windows::open(&self.archive_path, Some(history.archive_limit))?;
        let active = history
            .active
            .map(|(file, end)| ActiveEvents::new(file, self.log_path.clone(), 0, end));
        Ok(Box::new(FullEvents {
            windows: Some(windows),
            archive_path: self.archive_path.clone(),
            current: None,
            lines_before: 0,
            active,
            done: false,
        }))
    }

    /// A consistent view of the archive and the active log (see [`recovery::history`]).
    pub(crate) fn history(&self) -> io::Result<recovery::History> {
        recovery::history(self.dir(), &self.log_path, &self.archive_path)
    }

    /// Returns the hash of the line that ends just before `offset` (whose newline is at
    /// `offset - 1`), or `None` when `offset` is 0 or past the end of the active log.
    ///
    /// This is how a snapshot's position is checked, and how [`append_if`] checks that the log
    /// is where the caller believes.
    ///
    /// [`append_if`]: crate::EventWriter::append_if
    ///
    /// # Errors
    ///
    /// Returns an error if `app.jsonl` cannot be read.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog};
    /// let mut log = EventLog::open(dir.path())?;
    /// let r = log.append(&Event::new("a", serde_json::json!({})))?;
    /// assert_eq!(log.read_line_hash_before(r.end_offset)?, Some(r.line_hash));
    /// assert_eq!(log.read_line_hash_before(0)?, None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read_line_hash_before(&self, offset: u64) -> io::Result<Option<String>> {
        if offset == 0 {
            return Ok(None);
        }
        let file = File::open(&self.log_path)?;
        if offset > file.metadata()?.len() {
            return Ok(None);
        }
        // The line is everything between the previous newline and the byte at offset - 1.
        let line_end = offset - 1;
        let start = if line_end == 0 {
            0
        } else {
            mmap::committed_end(&file, 0, line_end)?
        };
        // Streamed through reads, not mapped: `offset` often comes from a snapshot and may lie
        // in a torn tail that a writer opening the log cuts at this moment. A map over bytes
        // that vanish faults the process; a read just comes back short.
        let mut hasher = xxhash_rust::xxh64::Xxh64::new(0);
        let mut buf = vec![0u8; (line_end - start).min(64 << 10) as usize];
        let mut pos = start;
        while pos < line_end {
            let want = buf.len().min((line_end - pos) as usize);
            let n = mmap::read_up_to(&file, &mut buf[..want], pos)?;
            hasher.update(&buf[..n]);
            if n < want {
                // Cut below `offset` since its length was read: no line ends there any more.
                return Ok(None);
            }
            pos += n as u64;
        }
        Ok(Some(format!("{:016x}", hasher.digest())))
    }

    /// Returns the size of `app.jsonl` in bytes.
    ///
    /// If the size has not changed, nothing has been appended.
    ///
    /// # Errors
    ///
    /// Returns an error if the file's metadata cannot be read.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventReader, EventWriter};
    /// let mut writer = EventWriter::open(dir.path())?;
    /// let reader = EventReader::new(dir.path());
    /// assert_eq!(reader.active_log_size()?, 0);
    /// let r = writer.append(&Event::new("a", serde_json::json!({})))?;
    /// assert_eq!(reader.active_log_size()?, r.end_offset);
    /// assert!(EventReader::new(dir.path().join("missing")).active_log_size().is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn active_log_size(&self) -> io::Result<u64> {
        Ok(fs::metadata(&self.log_path)?.len())
    }

    /// Returns `true` when `app.jsonl` holds bytes past `offset`: a cheap poll for tailing.
    ///
    /// # Errors
    ///
    /// Returns an error if the file's metadata cannot be read.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog};
    /// let mut log = EventLog::open(dir.path())?;
    /// assert!(!log.has_new_events(0)?);
    /// let r = log.append(&Event::new("a", serde_json::json!({})))?;
    /// assert!(log.has_new_events(0)?);
    /// assert!(!log.has_new_events(r.end_offset)?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn has_new_events(&self, offset: u64) -> io::Result<bool> {
        Ok(self.active_log_size()? > offset)
    }

    /// Blocks until `app.jsonl` grows past `offset` or `timeout` elapses.
    ///
    /// Returns [`WaitResult::NewData`] with the new size as soon as the log is larger than
    /// `offset` (at once if it already is), or [`WaitResult::Timeout`]. Uses the operating
    /// system's file notifications (inotify on Linux), so it wakes without polling.
    ///
    /// # Errors
    ///
    /// Returns an error if the watcher cannot be set up or the file's metadata cannot be read.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{EventLog, WaitResult};
    /// use std::time::Duration;
    /// let log = EventLog::open(dir.path())?;
    /// let waited = log.reader().wait_for_events(0, Duration::from_millis(10))?;
    /// assert_eq!(waited, WaitResult::Timeout);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait_for_events(&self, offset: u64, timeout: Duration) -> io::Result<WaitResult> {
        use notify::{EventKind, RecursiveMode, Watcher};

        let size = self.active_log_size()?;
        if size > offset {
            return Ok(WaitResult::NewData(size));
        }
        let deadline = Instant::now() + timeout;
        let (tx, rx) = mpsc::channel();
        let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if let Ok(event) = res
                && matches!(event.kind, EventKind::Modify(_) | EventKind::Create(_))
            {
                let _ = tx.send(());
            }
        })
        .map_err(io::Error::other)?;
        watcher
            .watch(self.dir(), RecursiveMode::NonRecursive)
            .map_err(io::Error::other)?;
        loop {
            // Checked after the watch is set up, so a write in between is not missed.
            let size = self.active_log_size()?;
            if size > offset {
                return Ok(WaitResult::NewData(size));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(WaitResult::Timeout);
            }
            match rx.recv_timeout(left) {
                Ok(()) => {}
                Err(mpsc::RecvTimeoutError::Timeout) => return Ok(WaitResult::Timeout),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(io::Error::other("the file watcher stopped unexpectedly"));
                }
            }
        }
    }

    /// Returns the path to `app.jsonl`.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::EventReader;
    /// use std::path::Path;
    /// let reader = EventReader::new("data");
    /// assert_eq!(reader.log_path(), Path::new("data").join("app.jsonl"));
    /// ```
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Returns the path to `archive.jsonl.zst`.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::EventReader;
    /// use std::path::Path;
    /// let reader = EventReader::new("data");
    /// assert_eq!(reader.archive_path(), Path::new("data").join("archive.jsonl.zst"));
    /// ```
    pub fn archive_path(&self) -> &Path {
        &self.archive_path
    }

    /// Folds the active log from `from` on.
    ///
    /// The committed range is mapped one segment at a time, so memory use does not grow with
    /// the log.
    pub(crate) fn fold_active<A, F: LineFold<A>>(&self, from: u64, acc: A, fold: &F) -> Folded<A> {
        match open_committed(&self.log_path, from) {
            Ok((file, end)) => self.fold_file(&file, from, end, Folded::start(acc), fold),
            Err(e) => Folded::failed(acc, e, false),
        }
    }

    /// Folds `from..end` of the open active log `file` into `folded`.
    fn fold_file<A, F: LineFold<A>>(
        &self,
        file: &File,
        from: u64,
        end: u64,
        mut folded: Folded<A>,
        fold: &F,
    ) -> Folded<A> {
        // Each segment is folded while a side job of the fold maps the next one and unmaps the
        // one before, so mapping (with its page faults) and unmapping leave the critical path.
        let map = |segment: Option<io::Result<(u64, u64)>>| {
            segment.map(|segment| {
                segment.and_then(|(start, end)| {
                    mmap::read_range(file, start, end).map(|region| (start, region))
                })
            })
        };
        let mut segments = mmap::segments(file, from, end, SEGMENT);
        let mut current = map(segments.next());
        let mut previous = None;
        while let Some(segment) = current {
            let (start, region) = match segment {
                Ok(found) => found,
                Err(e) => {
                    folded.error = Some(e);
                    return folded;
                }
            };
            let segments = &mut segments;
            let (done, next) = fold::fold_buf(&region, folded.acc, fold, move || {
                drop(previous);
                map(segments.next())
            });
            folded.acc = done.acc;
            if let Some((end, line)) = done.last {
                folded.tail = Some(Tail {
                    end: start + end as u64,
                    hash: line_hash(&region[line]),
                });
                folded.any = true;
            }
            if let Some((at, reason)) = done.bad {
                let origin = Origin::Active { from: start };
                folded.error = Some(malformed(&self.log_path, origin, &region, at, reason));
                return folded;
            }
            previous = Some(region);
            current = next;
        }
        folded
    }

    /// Folds the whole history: the archive, then the active log.
    pub(crate) fn fold_full<A, F: LineFold<A>>(&self, acc: A, fold: &F) -> Folded<A> {
        let history = match self.history() {
            Ok(history) => history,
            Err(e) => return Folded::failed(acc, e, false),
        };
        let (acc, any) = match self.fold_archive(history.archive_limit, acc, fold) {
            Ok(done) => done,
            Err((acc, error)) => return Folded::failed(acc, error, true),
        };
        let folded = Folded {
            any,
            ..Folded::start(acc)
        };
        match history.active {
            Some((file, end)) => self.fold_file(&file, 0, end, folded, fold),
            None => folded,
        }
    }

    /// Folds the archive up to `limit`; also reports whether it held any event. The next
    /// window is decompressed while the current one is folded (see below).
    fn fold_archive<A, F: LineFold<A>>(
        &self,
        limit: u64,
        mut acc: A,
        fold: &F,
    ) -> Result<(A, bool), (A, io::Error)> {
        let path = &self.archive_path;
        let mut windows = match Windows::open(path, Some(limit)) {
            Ok(windows) => windows,
            Err(e) => return Err((acc, e)),
        };
        // Each window is folded while the next one is decompressed by a side job of the fold
        // (on a helper thread that then joins the parsing), so decompression and parsing share
        // the threads instead of competing for them. Two buffers take turns.
        let counted = |window: Window| {
            let lines = lines::count(window.bytes());
            (window, lines)
        };
        let mut current = match windows.next_window(Vec::new()) {
            Ok(Some(window)) => counted(window),
            Ok(None) => return Ok((acc, false)),
            Err(e) => return Err((acc, e)),
        };
        let mut spare = Vec::new();
        let mut lines_before = 0u64;
        let mut any = false;
        loop {
            let (window, lines) = &current;
            let next_buf = std::mem::take(&mut spare);
            let windows = &mut windows;
            let (done, next) = fold::fold_buf(window.bytes(), acc, fold, move || {
                windows.next_window(next_buf).map(|next| next.map(counted))
            });
            acc = done.acc;
            any |= done.last.is_some();
            if let Some((start, reason)) = done.bad {
                let origin = Origin::Archive {
                    stream_offset: window.offset,
                    lines_before,
                };
                return Err((acc, malformed(path, origin, window.bytes(), start, reason)));
            }
            lines_before += lines;
            match next {
                Ok(Some(next)) => spare = std::mem::replace(&mut current, next).0.into_buffer(),
                Ok(None) => return Ok((acc, any)),
                Err(e) => return Err((acc, e)),
            }
        }
    }
}

/// Opens the active log and finds the end of its committed part from `from` on (`from` itself
/// when nothing is committed past it).
fn open_committed(path: &Path, from: u64) -> io::Result<(File, u64)> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let end = mmap::committed_end(&file, from, len)?;
    Ok((file, end))
}

/// Builds the error for the bad line starting at `start` in `buf`.
fn malformed(path: &Path, origin: Origin, buf: &[u8], start: usize, reason: String) -> io::Error {
    let in_buf = lines::line_number(buf, start);
    let (offset, line) = match origin {
        Origin::Active { from } => {
            let before = count_lines_before(path, from).unwrap_or(0);
            (from + start as u64, before + in_buf)
        }
        Origin::Archive {
            stream_offset,
            lines_before,
        } => (stream_offset + start as u64, lines_before + in_buf),
    };
    Error::malformed(path, offset, line, reason).into()
}

/// Number of newlines in the first `len` bytes of the file at `path`.
fn count_lines_before(path: &Path, len: u64) -> io::Result<u64> {
    let mut file = File::open(path)?.take(len);
    let mut buf = vec![0u8; 1 << 16];
    let mut count = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(count);
        }
        count += lines::count(&buf[..n]);
    }
}

/// A buffer of lines being handed out one event at a time.
struct Source {
    region: Region,
    path: PathBuf,
    origin: Origin,
    pos: usize,
}

impl Source {
    fn new(region: Region, path: PathBuf, origin: Origin) -> Self {
        Source {
            region,
            path,
            origin,
            pos: 0,
        }
    }

    /// The next event, its end offset within the buffer, and its line's hash.
    fn next_event(&mut self) -> Option<io::Result<(Event, usize, String)>> {
        let mut lines = Lines::new(&self.region[self.pos..]);
        let line = lines.next()?;
        let start = self.pos + line.start;
        let end = self.pos + line.end();
        let result = match crate::parse::event(line.bytes) {
            Ok(event) => Ok((event, end, line_hash(line.bytes))),
            Err(reason) => {
                let reason = reason.to_string();
                let err = malformed(&self.path, self.origin, &self.region, start, reason);
                // Nothing after a bad line is yielded.
                self.pos = self.region.len();
                return Some(Err(err));
            }
        };
        self.pos = end;
        Some(result)
    }
}

/// The iterator behind [`EventReader::read_from`]: the committed part of the active log (as
/// of its creation), mapped one segment at a time.
struct ActiveEvents {
    file: File,
    path: PathBuf,
    /// Where the next segment starts, and where the committed range ends.
    pos: u64,
    end: u64,
    /// The segment being read and the offset of its first byte.
    current: Option<(u64, Source)>,
    done: bool,
}

impl ActiveEvents {
    fn open(path: &Path, from: u64) -> io::Result<Self> {
        let (file, end) = open_committed(path, from)?;
        Ok(Self::new(file, path.to_path_buf(), from, end))
    }

    fn new(file: File, path: PathBuf, from: u64, end: u64) -> Self {
        ActiveEvents {
            file,
            path,
            pos: from,
            end,
            current: None,
            done: false,
        }
    }

    fn next_segment(&mut self) -> io::Result<bool> {
        if self.pos >= self.end {
            return Ok(false);
        }
        let seg_end = mmap::segment_end(&self.file, self.pos, self.end, SEGMENT)?;
        let region = mmap::read_range(&self.file, self.pos, seg_end)?;
        let origin = Origin::Active { from: self.pos };
        self.current = Some((self.pos, Source::new(region, self.path.clone(), origin)));
        self.pos = seg_end;
        Ok(true)
    }
}

impl Iterator for ActiveEvents {
    type Item = io::Result<(Event, u64, String)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            if let Some((base, source)) = self.current.as_mut() {
                match source.next_event() {
                    Some(Ok((event, end, hash))) => {
                        return Some(Ok((event, *base + end as u64, hash)));
                    }
                    Some(Err(e)) => {
                        self.done = true;
                        return Some(Err(e));
                    }
                    None => self.current = None,
                }
            }
            match self.next_segment() {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// The iterator behind [`EventReader::read_full`].
struct FullEvents {
    windows: Option<Windows>,
    archive_path: PathBuf,
    current: Option<Source>,
    lines_before: u64,
    active: Option<ActiveEvents>,
    done: bool,
}

impl FullEvents {
    /// Moves to the next window of the archive; `false` once the archive is exhausted.
    fn next_window(&mut self) -> io::Result<bool> {
        let Some(windows) = self.windows.as_mut() else {
            return Ok(false);
        };
        let spare = match self.current.take().map(|source| source.region) {
            Some(Region::Read(buf)) => buf,
            _ => Vec::new(),
        };
        match windows.next_window(spare)? {
            Some(window) => {
                let origin = Origin::Archive {
                    stream_offset: window.offset,
                    lines_before: self.lines_before,
                };
                self.lines_before += lines::count(window.bytes());
                self.current = Some(Source::new(
                    Region::Read(window.into_bytes()),
                    self.archive_path.clone(),
                    origin,
                ));
                Ok(true)
            }
            None => {
                self.windows = None;
                Ok(false)
            }
        }
    }
}

impl Iterator for FullEvents {
    type Item = io::Result<(Event, String)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            if let Some(source) = self.current.as_mut() {
                match source.next_event() {
                    Some(Ok((event, _, hash))) => return Some(Ok((event, hash))),
                    Some(Err(e)) => {
                        self.done = true;
                        return Some(Err(e));
                    }
                    None => {}
                }
            }
            match self.next_window() {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
            // The archive is done: the active log follows.
            let item = self.active.as_mut().and_then(Iterator::next);
            if item.is_none() || matches!(item, Some(Err(_))) {
                self.done = true;
            }
            return item.map(|r| r.map(|(event, _, hash)| (event, hash)));
        }
    }
}
