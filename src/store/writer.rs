//! Writing: [`EventWriter`] appends lines, fsyncs them, and rotates the active log.

use crate::error::{Context, Error, file_error};
use crate::format::event::Event;
use crate::format::lines::line_hash;
use crate::store::archive;
use crate::store::fsutil;
#[cfg_attr(test, allow(unused_imports))]
use crate::store::fsutil::Fs;
use crate::store::index;
use crate::store::mmap;
use crate::store::platform;
use crate::store::recovery::{self, RotationRecord};
use crate::store::seals::Sealer;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// How a writer keeps other writers out.
///
/// # Examples
///
/// ```
/// use eventfold::LockMode;
/// assert_eq!(LockMode::default(), LockMode::Flock);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LockMode {
    /// Hold an exclusive lock on `app.jsonl`; a second writer, in this process or another,
    /// fails to open. The default. On Unix it is an advisory `flock`. On Windows it is a
    /// `LockFileEx` lock of one byte far past the end of the file, so that it blocks no read,
    /// and which an eventfold 0.2.0 writer's whole-file lock conflicts with.
    #[default]
    Flock,
    /// Take no lock. Only for setups where a single writer is guaranteed some other way.
    None,
}

/// Where an appended event landed.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{Event, EventLog};
/// let mut log = EventLog::open(dir.path())?;
/// let r = log.append(&Event::new("a", serde_json::json!({})))?;
/// assert_eq!(r.start_offset, 0);
/// assert_eq!(r.end_offset, log.active_log_size()?);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendResult {
    /// Byte offset in `app.jsonl` of the line's first byte.
    pub start_offset: u64,
    /// Byte offset just past the line's newline: where the next event will start.
    pub end_offset: u64,
    /// [`line_hash`](crate::line_hash) of the line written.
    pub line_hash: String,
}

/// Why [`EventWriter::append_if`] did not append: the log is not where the caller expected.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{ConditionalAppendError, Event, EventWriter};
/// use serde_json::json;
/// let mut writer = EventWriter::open(dir.path())?;
/// let first = writer.append(&Event::new("a", json!({})))?;
///
/// // The size differs: only the offsets are compared.
/// let stale = writer.append_if(&Event::new("b", json!({})), 0, "");
/// let Err(ConditionalAppendError::Conflict(c)) = stale else { panic!("stale offset refused") };
/// assert_eq!((c.expected_offset, c.actual_offset), (0, first.end_offset));
/// assert_eq!(c.actual_hash, None);
///
/// // The size matches but the last line is not the one expected.
/// let wrong = "0000000000000000";
/// let moved = writer.append_if(&Event::new("b", json!({})), first.end_offset, wrong);
/// let Err(ConditionalAppendError::Conflict(c)) = moved else { panic!("wrong hash refused") };
/// assert_eq!(c.expected_hash, wrong);
/// assert_eq!(c.actual_hash, Some(first.line_hash));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendConflict {
    /// The log size the caller expected.
    pub expected_offset: u64,
    /// The log size found.
    pub actual_offset: u64,
    /// The last-line hash the caller expected.
    pub expected_hash: String,
    /// The last-line hash found, when the size matched but the hash did not; `None` when the
    /// size already differed.
    pub actual_hash: Option<String>,
}

/// The error of a conditional append.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{ConditionalAppendError, Event, EventWriter};
/// use serde_json::json;
/// let mut writer = EventWriter::open(dir.path())?;
/// writer.append(&Event::new("a", json!({})))?;
/// match writer.append_if(&Event::new("b", json!({})), 0, "") {
///     Err(ConditionalAppendError::Conflict(c)) => {
///         // Re-read the log, decide again, retry from where it is now.
///         assert_eq!(c.actual_offset, writer.active_log_size()?);
///     }
///     Err(ConditionalAppendError::Io(e)) => return Err(e.into()),
///     Ok(_) => panic!("a stale expectation is refused"),
/// }
/// assert_eq!(writer.reader().read_from(0)?.count(), 1); // nothing was written
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub enum ConditionalAppendError {
    /// The log had moved on; nothing was written.
    Conflict(AppendConflict),
    /// Reading or writing failed.
    Io(io::Error),
}

impl fmt::Display for ConditionalAppendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConditionalAppendError::Conflict(c) => write!(
                f,
                "conditional append refused: expected the log at offset {} with last-line hash \
                 {:?}, found offset {} with hash {:?}",
                c.expected_offset, c.expected_hash, c.actual_offset, c.actual_hash
            ),
            ConditionalAppendError::Io(e) => write!(f, "I/O error: {e}"),
        }
    }
}

impl std::error::Error for ConditionalAppendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConditionalAppendError::Conflict(_) => None,
            ConditionalAppendError::Io(e) => Some(e),
        }
    }
}

impl From<io::Error> for ConditionalAppendError {
    fn from(err: io::Error) -> Self {
        ConditionalAppendError::Io(err)
    }
}

/// The single writer of a log directory.
///
/// Opening a writer creates the directory layout, takes the lock, and repairs what a crash may
/// have left: a torn last line is cut off, and a rotation that stopped half-way is finished or
/// undone (see `docs/format.md`). Every append is written with one `write` and synced with
/// `fsync` before it returns.
///
/// Use [`EventLog`](crate::EventLog) for views and auto-rotation; use the writer directly when
/// you manage views yourself.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{Event, EventWriter};
/// let mut writer = EventWriter::open(dir.path())?;
/// let r = writer.append(&Event::new("a", serde_json::json!({"n": 1})))?;
/// assert_eq!(r.start_offset, 0);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct EventWriter {
    file: File,
    dir: PathBuf,
    log_path: PathBuf,
    archive_path: PathBuf,
    views_dir: PathBuf,
    max_log_size: u64,
    lock: LockMode,
    /// Whether `rotation.json` may exist and must be retired before the next append.
    rotation_record: bool,
    /// Set when a write or sync failed: what is on disk is then unknown.
    poisoned: Option<String>,
    /// Reused serialization buffer.
    line_buf: Vec<u8>,
    /// What the next rotation's frames hold, gathered as lines are appended (see
    /// [`index::Appended`]); `None` when some of `app.jsonl` was not appended through it.
    appended: Option<index::Appended>,
    /// Seals the blocks of `app.jsonl` this writer appends (see `store::seals`), shared with
    /// the readers it hands out, whose folds validate what it could not seal itself. `None`
    /// without the lock: another writer's lines could come in between.
    sealer: Option<Arc<Mutex<Sealer>>>,
}

impl fmt::Debug for EventWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventWriter")
            .field("log_path", &self.log_path)
            .field("archive_path", &self.archive_path)
            .field("views_dir", &self.views_dir)
            .field("max_log_size", &self.max_log_size)
            .field("lock", &self.lock)
            .finish()
    }
}

impl EventWriter {
    /// Opens (creating if needed) the log directory `dir` for writing, with the default lock.
    ///
    /// # Errors
    ///
    /// Returns an error if the directory or files cannot be created, if recovery fails, or, with
    /// [`io::ErrorKind::AlreadyExists`], if another writer holds the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::EventWriter;
    /// let _writer = EventWriter::open(dir.path())?;
    /// assert!(EventWriter::open(dir.path()).is_err()); // locked
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn open(dir: impl AsRef<Path>) -> io::Result<Self> {
        Self::open_with_lock(dir, LockMode::Flock)
    }

    /// Opens the log directory `dir` for writing with the given [`LockMode`].
    ///
    /// Creates `dir/`, `dir/views/` and `dir/app.jsonl` as needed (syncing the directory after
    /// creating them), locks `app.jsonl` without blocking, then repairs the directory.
    ///
    /// # Errors
    ///
    /// As [`EventWriter::open`]; with [`LockMode::None`] no lock error can occur.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{EventWriter, LockMode};
    /// let _a = EventWriter::open_with_lock(dir.path(), LockMode::None)?;
    /// let _b = EventWriter::open_with_lock(dir.path(), LockMode::None)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn open_with_lock(dir: impl AsRef<Path>, lock: LockMode) -> io::Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let views_dir = dir.join("views");
        let log_path = dir.join("app.jsonl");
        let archive_path = dir.join("archive.jsonl.zst");

        let dir_existed = dir.is_dir();
        fs::create_dir_all(&views_dir).context("create the directory", &views_dir)?;
        let file = Self::open_locked(&dir, &log_path, lock, dir_existed)?;
        let (file, _repairs) = recovery::recover(
            &dir,
            &log_path,
            &archive_path,
            &views_dir,
            file,
            lock == LockMode::Flock,
        )?;
        let rotation_record = recovery::record_path(&dir).exists();
        // Only a writer that holds the lock knows every line appended from here on.
        let len = file.metadata().context("read", &log_path)?.len();
        let appended = (lock == LockMode::Flock && len == 0).then(index::Appended::default);
        let sealer =
            (lock == LockMode::Flock).then(|| Arc::new(Mutex::new(Sealer::open(&dir, &file, len))));
        Ok(EventWriter {
            file,
            dir,
            log_path,
            archive_path,
            views_dir,
            max_log_size: 0,
            lock,
            rotation_record,
            poisoned: None,
            line_buf: Vec::with_capacity(256),
            appended,
            sealer,
        })
    }

    /// The sealer of this writer's appends, for the readers it hands out.
    pub(crate) fn sealer(&self) -> Option<&Arc<Mutex<Sealer>>> {
        self.sealer.as_ref()
    }

    fn with_sealer(&self, f: impl FnOnce(&mut Sealer)) {
        if let Some(sealer) = &self.sealer {
            f(&mut sealer.lock().unwrap_or_else(PoisonError::into_inner));
        }
    }

    /// Opens the active log and, with [`LockMode::Flock`], locks it. The lock must be taken on
    /// the file that is `app.jsonl` once locked: a writer that rotates renames a new, locked
    /// file over it and then lets the old one go, so a lock won on the old file would guard
    /// nothing. Opening is retried until the locked file is the one in the directory.
    fn open_locked(
        dir: &Path,
        log_path: &Path,
        lock: LockMode,
        dir_existed: bool,
    ) -> io::Result<File> {
        for _ in 0..1000 {
            let (file, created) = fsutil::open_append(log_path)?;
            if created || !dir_existed {
                fsutil::sync_dir(dir)?;
                if !dir_existed {
                    fsutil::sync_parent(dir)?;
                }
            }
            if lock == LockMode::None {
                return Ok(file);
            }
            platform::try_lock(&file).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!(
                        "another writer holds the lock on {}: {e}",
                        log_path.display()
                    ),
                )
            })?;
            let locked = platform::file_id(&file).context("read", log_path)?;
            match platform::path_id(log_path) {
                Ok(current) if current == locked => return Ok(file),
                // Replaced (or removed) since it was opened: try the file there now.
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(file_error(e, "access", log_path)),
            }
        }
        Err(io::Error::other(format!(
            "{} kept being replaced while a writer tried to lock it",
            log_path.display()
        )))
    }

    /// Appends one event and syncs it to disk before returning.
    ///
    /// Never rotates; [`EventLog::append`](crate::EventLog::append) does.
    ///
    /// # Errors
    ///
    /// Returns an error if the event cannot be serialized or the write or sync fails. After a
    /// failed write or sync the writer refuses further appends ([`Error::Poisoned`]) until the
    /// log is reopened.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventWriter};
    /// let mut writer = EventWriter::open(dir.path())?;
    /// let a = writer.append(&Event::new("a", serde_json::json!({})))?;
    /// let b = writer.append(&Event::new("b", serde_json::json!({})))?;
    /// assert_eq!(b.start_offset, a.end_offset);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn append(&mut self, event: &Event) -> io::Result<AppendResult> {
        let mut results = self.append_events(std::slice::from_ref(event))?;
        Ok(results.pop().expect("one event gives one result"))
    }

    /// Appends several events with one write and one sync.
    ///
    /// The results are those that appending the events one by one would have given. Either all
    /// events are durable when this returns `Ok`, or the call failed (and the writer is poisoned
    /// if anything may have reached the file).
    ///
    /// # Errors
    ///
    /// As [`EventWriter::append`]. An event that cannot be serialized fails the whole batch
    /// before anything is written.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventWriter};
    /// use serde_json::json;
    /// let mut writer = EventWriter::open(dir.path())?;
    /// let batch = [Event::new("a", json!(1)), Event::new("b", json!(2))];
    /// let results = writer.append_batch(&batch)?;
    /// assert_eq!(results.len(), 2);
    /// assert_eq!(results[1].start_offset, results[0].end_offset);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn append_batch(&mut self, events: &[Event]) -> io::Result<Vec<AppendResult>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        self.append_events(events)
    }

    fn append_events(&mut self, events: &[Event]) -> io::Result<Vec<AppendResult>> {
        self.check_poisoned()?;
        let mut buf = std::mem::take(&mut self.line_buf);
        buf.clear();
        let mut spans = Vec::with_capacity(events.len());
        for event in events {
            let start = buf.len();
            if let Err(e) = serde_json::to_writer(&mut buf, event) {
                self.line_buf = buf;
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
            spans.push((start, buf.len()));
            buf.push(b'\n');
        }
        if self.rotation_record {
            // The first append after a rotation retires its record: from here on, content equal
            // to the archived log is new events.
            recovery::clear_record(&self.dir)?;
            self.rotation_record = false;
        }
        let base = self
            .file
            .seek(SeekFrom::End(0))
            .context("read", &self.log_path)?;
        if self.appended.as_ref().is_some_and(|a| a.len() != base) {
            self.appended = None;
        }
        let fs = fsutil::fs();
        let written = fs
            .write_all(&mut self.file, &self.log_path, &buf)
            .and_then(|()| fs.sync_data(&self.file, &self.log_path));
        if let Err(e) = written {
            self.poisoned = Some(e.to_string());
            self.appended = None;
            self.with_sealer(Sealer::lost_track);
            self.line_buf = buf;
            return Err(e);
        }
        // After the sync: a seal never describes bytes that could still be lost.
        self.with_sealer(|sealer| sealer.appended(base, &buf));
        if let Some(appended) = &mut self.appended {
            for &(start, end) in &spans {
                appended.add_line(&buf[start..end]);
            }
        }
        let results = spans
            .iter()
            .map(|&(start, end)| AppendResult {
                start_offset: base + start as u64,
                end_offset: base + end as u64 + 1,
                line_hash: line_hash(&buf[start..end]),
            })
            .collect();
        self.line_buf = buf;
        Ok(results)
    }

    pub(crate) fn check_poisoned(&self) -> io::Result<()> {
        match &self.poisoned {
            None => Ok(()),
            Some(cause) => Err(Error::Poisoned {
                path: self.log_path.clone(),
                cause: cause.clone(),
            }
            .into()),
        }
    }

    /// Whether the active log has reached the auto-rotation size.
    pub(crate) fn needs_rotation(&self, size: u64) -> bool {
        self.max_log_size > 0 && size >= self.max_log_size
    }

    /// Appends `event` only if the active log is exactly `expected_offset` bytes long and, when
    /// non-empty, its last line hashes to `expected_hash`: optimistic concurrency for
    /// read-decide-write sequences.
    ///
    /// For an empty log pass `0` and `""`; afterwards pass the previous
    /// [`AppendResult`]'s `end_offset` and `line_hash`.
    ///
    /// # Errors
    ///
    /// [`ConditionalAppendError::Conflict`] when the log is elsewhere (nothing is written);
    /// [`ConditionalAppendError::Io`] when reading or appending fails.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{ConditionalAppendError, Event, EventWriter};
    /// use serde_json::json;
    /// let mut writer = EventWriter::open(dir.path())?;
    /// let first = writer.append_if(&Event::new("a", json!({})), 0, "")?;
    /// // A stale expectation is refused.
    /// let stale = writer.append_if(&Event::new("b", json!({})), 0, "");
    /// assert!(matches!(stale, Err(ConditionalAppendError::Conflict(_))));
    /// writer.append_if(&Event::new("b", json!({})), first.end_offset, &first.line_hash)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn append_if(
        &mut self,
        event: &Event,
        expected_offset: u64,
        expected_hash: &str,
    ) -> Result<AppendResult, ConditionalAppendError> {
        let actual_offset = self.active_log_size()?;
        let conflict = |actual_hash| {
            ConditionalAppendError::Conflict(AppendConflict {
                expected_offset,
                actual_offset,
                expected_hash: expected_hash.to_string(),
                actual_hash,
            })
        };
        if actual_offset != expected_offset {
            return Err(conflict(None));
        }
        if expected_offset > 0 {
            let actual =
                mmap::line_hash_before(&self.log_path, expected_offset)?.unwrap_or_default();
            if actual != expected_hash {
                return Err(conflict(Some(actual)));
            }
        }
        Ok(self.append(event)?)
    }

    /// Rotates the files of the active log into the archive, and nothing else: compresses the
    /// committed active log into zstd frames, writes the rotation record, appends the frames to
    /// `archive.jsonl.zst`, replaces `app.jsonl` with an empty file, and indexes the frames.
    /// Returns the record written, or `None` when the active log was empty (nothing changed).
    ///
    /// The views' part of a rotation is done around it, in the views layer
    /// (`EventWriter::rotate_views`): every view is refreshed before, and after it the views'
    /// offsets are reset and the other snapshots retired, with the record's length and last
    /// line hash. Each step here is synced, and a crash at any point is repaired by the next
    /// open. The frames are compressed on at most `threads` threads.
    pub(crate) fn rotate_files(&mut self, threads: usize) -> io::Result<Option<RotationRecord>> {
        self.check_poisoned()?;
        let region = mmap::committed(&self.file, 0).context("read", &self.log_path)?;
        if region.is_empty() {
            return Ok(None);
        }
        let compressed = archive::compress_frames(&region, threads)?;
        let last_line = {
            let body = &region[..region.len() - 1];
            let start = memchr::memrchr(b'\n', body).map_or(0, |i| i + 1);
            &body[start..]
        };
        let record = RotationRecord {
            archive_len_before: fsutil::len_or_zero(&self.archive_path)?,
            frame_len: compressed.bytes.len() as u64,
            active_len: region.len() as u64,
            active_hash: recovery::content_hash(&region),
            last_line_hash: line_hash(last_line),
        };

        // The seals go first: a crash between the two leaves no seal of the old content
        // describing the new file.
        self.with_sealer(Sealer::reset);
        let steps = (|| {
            recovery::write_record(&self.dir, &record)?;
            self.rotation_record = true;
            archive::append_frame(&self.archive_path, &compressed.bytes)?;
            recovery::replace_active(&self.log_path, self.lock == LockMode::Flock, &mut self.file)
        })();
        // What was gathered as the log was appended describes its frames, when it covers them.
        let appended = self.appended.take();
        match steps {
            Ok(()) => {
                // The new active log is empty, and this writer holds the lock on it.
                if self.lock == LockMode::Flock {
                    self.appended = Some(index::Appended::default());
                }
            }
            Err(e) => {
                // The files are in one of the states recovery repairs; the next open does so.
                self.poisoned = Some(format!("rotation failed: {e}"));
                return Err(e);
            }
        }
        // The archive index is a cache: describing the new frames costs a scan of what was
        // just compressed unless the appends were followed, and failing to record them only
        // means describing them again later.
        let _ = index::record_rotation(
            &self.archive_path,
            record.archive_len_before,
            &region,
            &compressed,
            appended.as_ref(),
        );
        Ok(Some(record))
    }

    /// Returns the log directory.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::EventWriter;
    /// let writer = EventWriter::open(dir.path())?;
    /// assert_eq!(writer.dir(), dir.path());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Returns the path to `app.jsonl`.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::EventWriter;
    /// let writer = EventWriter::open(dir.path())?;
    /// assert_eq!(writer.log_path(), dir.path().join("app.jsonl"));
    /// assert!(writer.log_path().is_file()); // created by open
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Returns the path to `archive.jsonl.zst`.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::EventWriter;
    /// let writer = EventWriter::open(dir.path())?;
    /// assert_eq!(writer.archive_path(), dir.path().join("archive.jsonl.zst"));
    /// assert!(!writer.archive_path().exists()); // created by the first rotation
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn archive_path(&self) -> &Path {
        &self.archive_path
    }

    /// Returns the path to the `views/` directory.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::EventWriter;
    /// let writer = EventWriter::open(dir.path())?;
    /// assert_eq!(writer.views_dir(), dir.path().join("views"));
    /// assert!(writer.views_dir().is_dir()); // created by open
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn views_dir(&self) -> &Path {
        &self.views_dir
    }

    /// Returns the size of `app.jsonl` in bytes.
    ///
    /// # Errors
    ///
    /// Returns an error if the file's metadata cannot be read.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventWriter};
    /// let mut writer = EventWriter::open(dir.path())?;
    /// assert_eq!(writer.active_log_size()?, 0);
    /// let r = writer.append(&Event::new("a", serde_json::json!({})))?;
    /// assert_eq!(writer.active_log_size()?, r.end_offset);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn active_log_size(&self) -> io::Result<u64> {
        Ok(fs::metadata(&self.log_path)
            .context("access", &self.log_path)?
            .len())
    }

    pub(crate) fn set_max_log_size(&mut self, bytes: u64) {
        self.max_log_size = bytes;
    }
}
