//! Inspection: what a directory holds, read without writing anything. The archive's frames as
//! the archive index describes them, each snapshot and how far behind the log it is, and the
//! state of the last rotation.

use crate::error::{Context, check_view_name, file_error, message_about};
use crate::format::lines;
use crate::replay::reader::EventReader;
use crate::store::index;
use crate::store::mmap;
use crate::store::position::Position;
use crate::store::recovery;
use crate::store::{platform, seals};
use serde::Deserialize;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

pub use crate::store::index::ArchiveFrame;

/// How a snapshot stands against the log: whether a view would trust it.
///
/// # Examples
///
/// ```
/// use eventfold::SnapshotStatus;
/// assert!(SnapshotStatus::Current.is_valid());
/// assert!(!SnapshotStatus::Stale { active_len: 0 }.is_valid());
/// assert_eq!(SnapshotStatus::Behind.label(), "behind");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SnapshotStatus {
    /// Trusted, and nothing was appended since.
    Current,
    /// Trusted; events were appended since, and the next refresh folds them.
    Behind,
    /// Its offset lies past the end of `app.jsonl`: it was taken of a log that has since been
    /// replaced or cut. The view replays the whole history.
    Stale {
        /// The length of `app.jsonl`.
        active_len: u64,
    },
    /// The line that ends at its offset does not hash to its hash: a snapshot of another log,
    /// or of a log rewritten since. The view replays the whole history.
    Mismatch {
        /// The hash of the line that ends there, if a line ends there.
        found: Option<String>,
    },
    /// The file is not a snapshot (not JSON, or without `state`, `offset` and `hash`).
    Unreadable {
        /// What the JSON parser objected to.
        reason: String,
    },
}

impl SnapshotStatus {
    /// Whether a view trusts the snapshot.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::SnapshotStatus;
    /// assert!(!SnapshotStatus::Mismatch { found: None }.is_valid());
    /// ```
    pub fn is_valid(&self) -> bool {
        matches!(self, SnapshotStatus::Current | SnapshotStatus::Behind)
    }

    /// One word for the status: `current`, `behind`, `stale`, `mismatch` or `unreadable`.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::SnapshotStatus;
    /// assert_eq!(SnapshotStatus::Unreadable { reason: String::new() }.label(), "unreadable");
    /// ```
    pub fn label(&self) -> &'static str {
        match self {
            SnapshotStatus::Current => "current",
            SnapshotStatus::Behind => "behind",
            SnapshotStatus::Stale { .. } => "stale",
            SnapshotStatus::Mismatch { .. } => "mismatch",
            SnapshotStatus::Unreadable { .. } => "unreadable",
        }
    }
}

/// One snapshot file in `views/`, and how it stands against the log.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{Event, EventLog, SnapshotStatus};
/// fn count(n: u64, _e: &Event) -> u64 { n + 1 }
/// let mut log = EventLog::builder(dir.path()).view::<u64>("count", count).open()?;
/// log.append(&Event::new("a", serde_json::json!({})))?;
/// log.refresh_all()?;
/// log.append(&Event::new("b", serde_json::json!({})))?;
/// let snapshots = log.reader().read_only().snapshots()?;
/// assert_eq!(snapshots[0].name, "count");
/// assert_eq!(snapshots[0].status, SnapshotStatus::Behind);
/// assert_eq!(snapshots[0].lag_events, Some(1));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SnapshotInfo {
    /// The view's name.
    pub name: String,
    /// The snapshot file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub file_len: u64,
    /// Byte offset in `app.jsonl` just past the last event folded (0 when unreadable).
    pub offset: u64,
    /// Line hash of that event (`""` at offset 0 or when unreadable).
    pub hash: String,
    /// The snapshot's `version` field (0 when absent).
    pub version: u64,
    /// Whether a view trusts it.
    pub status: SnapshotStatus,
    /// For a trusted snapshot, the committed bytes of `app.jsonl` past its offset.
    pub lag_bytes: Option<u64>,
    /// For a trusted snapshot, the events past its offset.
    pub lag_events: Option<u64>,
}

pub use crate::store::recovery::RotationRecord;

/// Where the last rotation stands, from `rotation.json` and the files it describes.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{EventLog, RotationState};
/// let log = EventLog::open(dir.path())?;
/// assert_eq!(log.reader().rotation_state()?, RotationState::None);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RotationState {
    /// No record: no rotation since the last append (or none ever).
    None,
    /// The rotation finished: the archive holds its frames and `app.jsonl` was replaced. The
    /// record stays until the next append.
    Finished(RotationRecord),
    /// Interrupted while appending to the archive: the archive is shorter than the record
    /// says it will be. Readers leave the partial frames out, and the next writer cuts them
    /// off; `app.jsonl` still holds every event.
    ArchiveIncomplete {
        /// The record.
        record: RotationRecord,
        /// The archive's length now.
        archive_len: u64,
    },
    /// Interrupted after appending to the archive, before `app.jsonl` was replaced: it is a
    /// copy of what was archived. Readers do not read it twice, and the next writer finishes
    /// the rotation.
    ActiveNotReplaced(RotationRecord),
    /// The record no longer describes the files (the archive grew since, or `app.jsonl`
    /// holds other events): something other than an eventfold writer changed them. The next
    /// writer removes it.
    Outdated {
        /// The record.
        record: RotationRecord,
        /// The archive's length now.
        archive_len: u64,
        /// The length of `app.jsonl` now.
        active_len: u64,
    },
    /// `rotation.json` holds something that is not a rotation record (it was damaged, or
    /// written by another program). Readers and writers ignore it, and the next append removes
    /// it; a rotation it recorded, if it was interrupted, is not finished.
    Unreadable {
        /// Why it is not a record.
        error: String,
    },
}

/// What a directory holds, as `eventfold info` shows it.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{Event, EventLog};
/// let mut log = EventLog::open(dir.path())?;
/// let mut event = Event::new("a", serde_json::json!({}));
/// event.ts = 100;
/// log.append(&event)?;
/// log.rotate()?;
/// event.ts = 200;
/// log.append(&event)?;
/// let info = log.reader().read_only().inspect()?;
/// assert_eq!((info.events, info.archive_frames.len()), (Some(2), 1));
/// assert_eq!((info.first_ts, info.last_ts), (Some(100), Some(200)));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DirInfo {
    /// The directory.
    pub dir: PathBuf,
    /// Length of `app.jsonl`.
    pub active_len: u64,
    /// Length of its committed part (up to its last newline): more than that is a torn tail,
    /// or an append in progress.
    pub active_committed: u64,
    /// Events in the committed part of `app.jsonl` (its non-empty lines).
    pub active_events: u64,
    /// How much of `app.jsonl`, from its start, its seals (`app.seals.jsonl`) describe and
    /// still match: the part that replays read trusted instead of validating each line.
    pub active_sealed: u64,
    /// Whether `app.jsonl` is a copy of the archive's last frame left by an interrupted
    /// rotation, which readers do not read.
    pub active_is_copy: bool,
    /// Length of `archive.jsonl.zst` (0 when absent).
    pub archive_len: u64,
    /// The archive's frames; when `archive_error` is set, only those the index file records
    /// before the frame that cannot be read.
    pub archive_frames: Vec<ArchiveFrame>,
    /// Why the archive's frames cannot all be described (a frame that cannot be
    /// decompressed, or an archive that cannot be read).
    pub archive_error: Option<String>,
    /// Length of `archive.index.jsonl`, when present.
    pub index_len: Option<u64>,
    /// Why `archive.index.jsonl` cannot be read: the archive is then described from the
    /// archive itself (the index is a cache).
    pub index_error: Option<String>,
    /// Events in the history (non-empty lines, malformed ones included); `None` when the
    /// archive cannot be described.
    pub events: Option<u64>,
    /// `ts` of the history's first and last events, where they can be read.
    pub first_ts: Option<u64>,
    /// See `first_ts`.
    pub last_ts: Option<u64>,
    /// Where the next event appended will start; `None` when the archive cannot be described.
    pub end: Option<Position>,
    /// Every snapshot in `views/`.
    pub snapshots: Vec<SnapshotInfo>,
    /// The last rotation.
    pub rotation: RotationState,
    /// Files an interrupted step left behind (`app.jsonl.next`, `rotation.json.tmp`,
    /// `views/*.tmp`): harmless, removed or ignored by the next writer.
    pub leftovers: Vec<PathBuf>,
}

/// The fields of a snapshot file that inspection reads (the state is skipped).
#[derive(Deserialize)]
struct SnapshotHead {
    #[allow(dead_code)]
    state: serde::de::IgnoredAny,
    offset: u64,
    hash: String,
    #[serde(default)]
    version: u64,
}

impl EventReader {
    /// The archive's frames, as the archive index describes them.
    ///
    /// The index file (`archive.index.jsonl`) is checked against the archive, and the frames
    /// it does not describe are decompressed and described (and the index saved, unless the
    /// reader is [read-only](Self::read_only)). A frame still being appended by a rotation is
    /// left out.
    ///
    /// # Errors
    ///
    /// Returns an error if a file cannot be read, or [`Error::Archive`](crate::Error::Archive)
    /// if a frame that must be described cannot be decompressed.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::EventLog;
    /// let log = EventLog::open(dir.path())?;
    /// assert!(log.reader().archive_frames()?.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn archive_frames(&self) -> io::Result<Vec<ArchiveFrame>> {
        let history = self.history()?;
        let index = self.archive_index(history.archive_limit)?;
        Ok(index.frames.clone())
    }

    /// Every snapshot in the directory's `views/`, sorted by name, and how each stands against
    /// the log, checked as a view checks it before trusting it.
    ///
    /// # Errors
    ///
    /// Returns an error if `views/` or a snapshot cannot be read (a missing `views/` has no
    /// snapshots; a snapshot that does not parse is [`SnapshotStatus::Unreadable`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{EventLog, SnapshotStatus};
    /// let log = EventLog::open(dir.path())?;
    /// std::fs::create_dir_all(log.views_dir())?;
    /// std::fs::write(log.views_dir().join("odd.snapshot.json"), "not json")?;
    /// let snapshots = log.reader().snapshots()?;
    /// assert!(matches!(snapshots[0].status, SnapshotStatus::Unreadable { .. }));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn snapshots(&self) -> io::Result<Vec<SnapshotInfo>> {
        let views = self.dir().join("views");
        let entries = match fs::read_dir(&views) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(file_error(e, "list the directory", &views)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let name = entry.context("list the directory", &views)?.file_name();
            if let Some(view) = name.to_str().and_then(|n| n.strip_suffix(".snapshot.json")) {
                names.push(view.to_string());
            }
        }
        names.sort();
        let active = open_active(self.log_path())?;
        names
            .into_iter()
            .map(|name| self.snapshot_info(&views, name, active.as_ref()))
            .collect()
    }

    fn snapshot_info(
        &self,
        views: &Path,
        name: String,
        active: Option<&(File, u64, u64)>,
    ) -> io::Result<SnapshotInfo> {
        let path = views.join(format!("{name}.snapshot.json"));
        let bytes = fs::read(&path).context("read", &path)?;
        let mut info = SnapshotInfo {
            name,
            file_len: bytes.len() as u64,
            path,
            offset: 0,
            hash: String::new(),
            version: 0,
            status: SnapshotStatus::Current,
            lag_bytes: None,
            lag_events: None,
        };
        let head = match serde_json::from_slice::<SnapshotHead>(&bytes) {
            Ok(head) => head,
            Err(e) => {
                info.status = SnapshotStatus::Unreadable {
                    reason: e.to_string(),
                };
                return Ok(info);
            }
        };
        (info.offset, info.hash, info.version) = (head.offset, head.hash, head.version);
        let (active_len, committed) = active.map_or((0, 0), |(_, len, end)| (*len, *end));
        if info.offset > active_len {
            info.status = SnapshotStatus::Stale { active_len };
            return Ok(info);
        }
        if info.offset > 0 {
            let found = self.read_line_hash_before(info.offset)?;
            if found.as_deref() != Some(info.hash.as_str()) {
                info.status = SnapshotStatus::Mismatch { found };
                return Ok(info);
            }
        }
        let lag_bytes = committed.saturating_sub(info.offset);
        let lag_events = match active {
            Some((file, _, _)) if lag_bytes > 0 => {
                count_events(file, info.offset, committed).context("read", self.log_path())?
            }
            _ => 0,
        };
        info.lag_bytes = Some(lag_bytes);
        info.lag_events = Some(lag_events);
        if lag_events > 0 {
            info.status = SnapshotStatus::Behind;
        }
        Ok(info)
    }

    /// The state held by the snapshot of the view `name`, as JSON; `None` when it has no
    /// snapshot.
    ///
    /// # Errors
    ///
    /// Returns [`Error::InvalidViewName`](crate::Error::InvalidViewName) for a name that
    /// cannot name a snapshot file, an [`io::ErrorKind::InvalidData`] error naming the file if
    /// it is not a snapshot, and I/O errors.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog};
    /// fn count(n: u64, _e: &Event) -> u64 { n + 1 }
    /// let mut log = EventLog::builder(dir.path()).view::<u64>("count", count).open()?;
    /// log.append(&Event::new("a", serde_json::json!({})))?;
    /// log.refresh_all()?;
    /// assert_eq!(log.reader().snapshot_state("count")?, Some(serde_json::json!(1)));
    /// assert_eq!(log.reader().snapshot_state("other")?, None);
    /// assert!(log.reader().snapshot_state("../count").is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn snapshot_state(&self, name: &str) -> io::Result<Option<serde_json::Value>> {
        check_view_name(name)?;
        let path = self
            .dir()
            .join("views")
            .join(format!("{name}.snapshot.json"));
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(file_error(e, "read", &path)),
        };
        #[derive(Deserialize)]
        struct WithState {
            state: serde_json::Value,
        }
        match serde_json::from_slice::<WithState>(&bytes) {
            Ok(snapshot) => Ok(Some(snapshot.state)),
            Err(e) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is not a snapshot: {e}", path.display()),
            )),
        }
    }

    /// Where the last rotation stands (see [`RotationState`]), read as a writer opening the
    /// directory would read it, without repairing anything.
    ///
    /// # Errors
    ///
    /// Returns an error if a file cannot be read (an unreadable record counts as absent, as
    /// it does for a writer).
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog, RotationState};
    /// let mut log = EventLog::open(dir.path())?;
    /// log.append(&Event::new("a", serde_json::json!({})))?;
    /// log.rotate()?;
    /// log.append(&Event::new("b", serde_json::json!({})))?; // retires the record
    /// assert_eq!(log.reader().rotation_state()?, RotationState::None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn rotation_state(&self) -> io::Result<RotationState> {
        let record = match recovery::read_record_or_error(self.dir())? {
            None => return Ok(RotationState::None),
            Some(Err(error)) => {
                return Ok(RotationState::Unreadable {
                    error: error.to_string(),
                });
            }
            Some(Ok(record)) => record,
        };
        let archive_len = crate::store::fsutil::len_or_zero(self.archive_path())?;
        let active_len = crate::store::fsutil::len_or_zero(self.log_path())?;
        let public = record.clone();
        Ok(if archive_len < record.archive_len_after() {
            RotationState::ArchiveIncomplete {
                record: public,
                archive_len,
            }
        } else if archive_len == record.archive_len_after() && active_len == 0 {
            RotationState::Finished(public)
        } else if archive_len == record.archive_len_after()
            && recovery::active_matches(self.log_path(), &record)?
        {
            RotationState::ActiveNotReplaced(public)
        } else {
            RotationState::Outdated {
                record: public,
                archive_len,
                active_len,
            }
        })
    }

    /// What the directory holds: file sizes, event count, archive frames, first and last
    /// `ts`, every snapshot, the state of the last rotation, and leftover files.
    ///
    /// Cheap on a healthy directory: the archive is described by its index (frames missing
    /// from it are decompressed), and the active log is only searched for newlines, not
    /// parsed. An archive index that cannot be read is set aside (in
    /// [`DirInfo::index_error`]) and the archive described without it; an archive that cannot
    /// be described is reported in [`DirInfo::archive_error`], and what depends on it (the
    /// event count, the end position) is `None`, while the rest is still described.
    ///
    /// # Errors
    ///
    /// Returns an error if a file other than the archive and its index cannot be read,
    /// `app.jsonl` included.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::EventLog;
    /// let log = EventLog::open(dir.path())?;
    /// let info = log.reader().inspect()?;
    /// assert_eq!((info.events, info.first_ts, info.archive_len), (Some(0), None, 0));
    /// assert_eq!((info.archive_error, info.index_error), (None, None));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn inspect(&self) -> io::Result<DirInfo> {
        let history = self.history()?;
        let archive = self.describe_archive(history.archive_limit);
        let (active_len, active_committed, active_events, active_first, active_last, active_sealed) =
            match open_active(self.log_path())? {
                Some((file, len, end)) => {
                    let events = count_events(&file, 0, end).context("read", self.log_path())?;
                    let (first, last) =
                        first_and_last_ts(&file, end).context("read", self.log_path())?;
                    let sealed =
                        sealed_len(self.dir(), &file, end).context("read", self.log_path())?;
                    (len, end, events, first, last, sealed)
                }
                None => (0, 0, 0, None, None, 0),
            };
        let active_is_copy = history.active.is_none();
        let (active_events_counted, active_first, active_last) = if active_is_copy {
            (0, None, None)
        } else {
            (active_events, active_first, active_last)
        };
        let archive_frames = archive.frames;
        let archive_first = archive_frames.iter().find_map(|f| f.first_ts);
        let archive_last = archive_frames.iter().rev().find_map(|f| f.last_ts);
        // With the archive unreadable, the first `ts` is known only if a frame before the
        // damage holds one, and the last only if the active log does.
        let (first_ts, last_ts) = match &archive.index {
            Some(_) => (archive_first.or(active_first), active_last.or(archive_last)),
            None => (archive_first, active_last),
        };
        let dir = self.dir().to_path_buf();
        let index_path = dir.join(crate::store::index::INDEX_NAME);
        let index_len = match fs::metadata(&index_path) {
            Ok(meta) => Some(meta.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(file_error(e, "access", &index_path)),
        };
        let active_end = history.active.as_ref().map_or(0, |(_, end)| *end);
        Ok(DirInfo {
            active_len,
            active_committed,
            active_events,
            active_sealed,
            active_is_copy,
            archive_len: crate::store::fsutil::len_or_zero(self.archive_path())?,
            archive_error: archive.error,
            index_len,
            index_error: archive.index_error,
            events: archive
                .index
                .as_ref()
                .map(|index| index.events() + active_events_counted),
            first_ts,
            last_ts,
            end: archive
                .index
                .as_ref()
                .map(|index| Position::new(index.content_len() + active_end)),
            snapshots: self.snapshots()?,
            rotation: self.rotation_state()?,
            leftovers: leftovers(&dir)?,
            archive_frames,
            dir,
        })
    }

    /// The archive's first `limit` bytes, described as far as they can be: by the index
    /// file, or without it when it cannot be read.
    fn describe_archive(&self, limit: u64) -> ArchiveDescription {
        let path = self.archive_path();
        let index_path = path.with_file_name(index::INDEX_NAME);
        let index_error = index::read_error(path).map(|e| message_about(&e, &index_path));
        let described = if index_error.is_none() {
            self.archive_index(limit)
        } else {
            index::describe(path, limit).map(std::sync::Arc::new)
        };
        match described {
            Ok(index) => ArchiveDescription {
                frames: index.frames.clone(),
                index: Some(index),
                error: None,
                index_error,
            },
            Err(e) => {
                // The frames the index file vouches for, before the damage.
                let frames = match index_error {
                    None => index::recorded(path, limit).map_or_else(|_| Vec::new(), |i| i.frames),
                    Some(_) => Vec::new(),
                };
                let error = match crate::Error::from_io(&e) {
                    Some(crate::Error::Archive {
                        frame_offset,
                        reason,
                        ..
                    }) => format!(
                        "cannot decompress the frame starting at byte {frame_offset}: {reason}"
                    ),
                    _ => message_about(&e, path),
                };
                ArchiveDescription {
                    frames,
                    index: None,
                    error: Some(error),
                    index_error,
                }
            }
        }
    }
}

/// What [`EventReader::describe_archive`] could tell of the archive.
struct ArchiveDescription {
    /// The frames described.
    frames: Vec<ArchiveFrame>,
    /// The whole index, when every frame could be described.
    index: Option<std::sync::Arc<crate::store::index::ArchiveIndex>>,
    /// Why not every frame could be.
    error: Option<String>,
    /// Why the index file could not be read.
    index_error: Option<String>,
}

/// The active log, its length and its committed end; `None` when it does not exist.
/// How much of the log's `file`, from its start and up to `committed`, its seals describe
/// and still match (each block's bytes hashed as a replay hashes them).
fn sealed_len(dir: &Path, file: &File, committed: u64) -> io::Result<u64> {
    let mut sealed = 0;
    let mut buf = Vec::new();
    for block in seals::blocks(dir) {
        if block.end > committed {
            break;
        }
        buf.resize((block.end - block.start) as usize, 0);
        platform::read_exact_at(file, &mut buf, block.start)?;
        if seals::block_hash(&buf) != block.hash {
            break;
        }
        sealed = block.end;
    }
    Ok(sealed)
}

fn open_active(path: &Path) -> io::Result<Option<(File, u64, u64)>> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(file_error(e, "open", path)),
    };
    let len = file.metadata().context("read", path)?.len();
    let end = mmap::committed_end(&file, 0, len).context("read", path)?;
    Ok(Some((file, len, end)))
}

/// Events (non-empty lines) in `from..end` of `file`, where `from` starts a line.
fn count_events(file: &File, from: u64, end: u64) -> io::Result<u64> {
    let mut buf = vec![0u8; ((end - from) as usize).min(1 << 20)];
    let (mut pos, mut events, mut at_line_start) = (from, 0, true);
    while pos < end {
        let n = ((end - pos) as usize).min(buf.len());
        crate::store::platform::read_exact_at(file, &mut buf[..n], pos)?;
        events += lines::count_events_after(&buf[..n], at_line_start);
        at_line_start = buf[n - 1] == b'\n';
        pos += n as u64;
    }
    Ok(events)
}

/// The `ts` of the first and last non-empty lines of `file` up to `end` (each `None` when the
/// line is not an event).
fn first_and_last_ts(file: &File, end: u64) -> io::Result<(Option<u64>, Option<u64>)> {
    let ts_of = |start: u64, stop: u64| -> io::Result<Option<u64>> {
        let region = mmap::read_range(file, start, stop)?;
        let line = region.strip_suffix(b"\n").unwrap_or(&region);
        Ok(crate::format::parse::envelope(line).ok().map(|env| env.ts))
    };
    let mut first = None;
    let mut pos = 0;
    while pos < end {
        let line_end = mmap::next_line_end(file, pos, end)?;
        if line_end - pos > 1 {
            first = ts_of(pos, line_end)?;
            break;
        }
        pos = line_end;
    }
    let mut last = None;
    let mut stop = end;
    while stop > 0 {
        let start = mmap::committed_end(file, 0, stop - 1)?;
        if stop - start > 1 {
            last = ts_of(start, stop)?;
            break;
        }
        stop = start;
    }
    Ok((first, last))
}

/// Files an interrupted step left in `dir`.
fn leftovers(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for name in [recovery::NEXT_LOG_NAME, "rotation.json.tmp"] {
        let path = dir.join(name);
        if path.exists() {
            found.push(path);
        }
    }
    let views = dir.join("views");
    match fs::read_dir(&views) {
        Ok(entries) => {
            for entry in entries {
                let path = entry.context("list the directory", &views)?.path();
                if path.extension().is_some_and(|ext| ext == "tmp") {
                    found.push(path);
                }
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(file_error(e, "list the directory", &views)),
    }
    found.sort();
    Ok(found)
}
