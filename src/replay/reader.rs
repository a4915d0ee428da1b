//! Reading: [`EventReader`], its iterators, and the fold engine that views replay through.
//!
//! Every read goes through the same steps: take the committed bytes of a source (the mapped
//! active log, or one decompressed archive frame), split them into lines with memchr, parse
//! each line, and report a bad line with its file, byte offset and line number.

use crate::error::{Context, file_error};
use crate::format::event::Event;
use crate::format::fold::{self, Block, LineFold, MaxTs, Trust, Until};
use crate::format::lines::{self, Lines, line_hash};
use crate::format::parse::ParseError;
use crate::format::upcast::{UpcastFailure, Upcasters};
use crate::replay::walk::{self, NextSegment, NextWindow, ReadSegments, ReadWindows};
use crate::store::archive::{Window, Windows};
use crate::store::index::{self, ArchiveIndex};
use crate::store::mmap::{self, Region};
use crate::store::platform;
use crate::store::position::{HistoryEvent, Position};
use crate::store::recovery;
use crate::store::seals::{self, Seal, Sealer};
use crate::store::watch::Watch;
use crate::store::writer::EventWriter;
use std::fs::{self, File};
use std::io;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

/// What [`EventReader::wait_for_events`] saw.
///
/// # Examples
///
/// ```
/// use eventfold::WaitResult;
/// assert_ne!(WaitResult::NewData(10), WaitResult::Timeout);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitResult {
    /// The active log grew past the offset; this is its new size in bytes.
    NewData(u64),
    /// The timeout elapsed first.
    Timeout,
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
    /// Whether a rebuilt archive index may be written into the directory.
    write_index: bool,
    /// The archive index last read, and the identity (device, inode) of the archive it
    /// describes. Shared by clones.
    index_cache: Arc<Mutex<Option<CachedIndex>>>,
    /// The sealer of the writer this reader came from, while that writer lives: what a fold
    /// of the active log validates past the sealed blocks is handed to it, to be sealed.
    sealer: Weak<Mutex<Sealer>>,
    /// How many threads a replay may use (`None`: [`fold::default_threads`]).
    threads: Option<NonZeroUsize>,
    /// What the folds of views through this reader apply to each event.
    upcasters: Upcasters,
}

/// An archive index read earlier, and the archive file it describes.
#[derive(Debug)]
struct CachedIndex {
    /// Which file the archive was (`None`: there was none).
    archive: Option<platform::FileId>,
    index: Arc<ArchiveIndex>,
}

impl CachedIndex {
    /// Whether this describes the archive file `id` (an archive there is).
    fn describes(&self, id: Option<platform::FileId>) -> bool {
        self.archive.is_some() && self.archive == id
    }
}

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
    /// How many events were folded.
    pub events: u64,
    /// Whether the fold ended at a pause rather than at the end of the history.
    pub stopped: bool,
    /// The largest `ts` folded, known when the pauses asked for it all along.
    pub max_ts: MaxTs,
    /// For a fold of the whole history that read the archive to its end, or a fold from a
    /// position that began in the active log: where the archive's content ends in the history
    /// stream (the position of the active log's first byte).
    pub archive_end: Option<u64>,
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
            events: 0,
            stopped: false,
            max_ts: MaxTs::EMPTY,
            archive_end: None,
        }
    }

    /// `acc` and an error that stopped the fold before the active log.
    fn failed(acc: A, error: io::Error, failed_in_archive: bool) -> Self {
        Folded {
            error: Some(error),
            failed_in_archive,
            any: failed_in_archive,
            ..Folded::start(acc)
        }
    }

    /// This fold, stopped by an error in the archive.
    fn fail_in_archive(mut self, error: io::Error) -> Self {
        self.error = Some(error);
        self.failed_in_archive = true;
        self.any = true;
        self
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
            write_index: true,
            index_cache: Arc::default(),
            sealer: Weak::new(),
            threads: None,
            upcasters: Upcasters::new(),
        }
    }

    /// This reader, made to replay on at most `threads` threads, the calling one included
    /// (`1`: the calling thread alone). By default a replay uses as many threads as the rayon
    /// pool it runs in has: inside an embedder's `ThreadPool::install`, that pool's; elsewhere
    /// as many as rayon's global pool would start with (`RAYON_NUM_THREADS` if set, else the
    /// CPUs the process may use), without starting it. Either way the replay's helpers are
    /// threads of its own, not the pool's workers, so a replay started from a pool whose
    /// other workers are busy never waits for them, and a system that refuses a thread only
    /// makes it use fewer. Folds of views, rebuilds, time travel, archive decompression and a
    /// rotation's compression all keep to this number.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog, EventReader, View};
    /// fn count(n: u64, _: &Event) -> u64 { n + 1 }
    /// let mut log = EventLog::open(dir.path())?;
    /// log.append(&Event::new("a", serde_json::json!({})))?;
    /// let reader = EventReader::new(dir.path()).replay_threads(1);
    /// assert_eq!(reader.threads(), 1);
    /// let mut view = View::new("count", count, &dir.path().join("views"));
    /// assert_eq!(*view.rebuild(&reader)?, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[must_use]
    pub fn replay_threads(mut self, threads: usize) -> Self {
        self.threads = NonZeroUsize::new(threads);
        self
    }

    /// This reader, made to apply `upcasters` to every event that a view folds through it
    /// (refreshes, rebuilds, time travel) and to the events of its subscriptions.
    ///
    /// The reader's raw paths (`read_from`, `read_full`, `read_history`, scans, `follow`)
    /// still hand over events as they are stored; see [`Upcasters`] for which paths upcast.
    /// [`EventLog`](crate::EventLog)'s reader carries the upcasters registered on its builder.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog, EventReader, Upcaster, Upcasters, View};
    /// fn adds(n: u64, e: &Event) -> u64 { if e.event_type == "added" { n + 1 } else { n } }
    /// let mut log = EventLog::open(dir.path())?;
    /// log.append(&Event::new("created", serde_json::json!({})))?; // the old name
    /// let upcasters = Upcasters::new().with(Upcaster::rename("created", "added"));
    /// let reader = EventReader::new(dir.path()).upcasting(upcasters);
    /// let view = View::<u64>::new("adds", adds, &dir.path().join("views"));
    /// assert_eq!(view.state_at(&reader, eventfold::At::Event(0))?, 1);
    /// assert_eq!(reader.read_from(0)?.next().unwrap()?.0.event_type, "created"); // stored
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[must_use]
    pub fn upcasting(mut self, upcasters: Upcasters) -> Self {
        self.upcasters = upcasters;
        self
    }

    /// The upcasters this reader's folds apply (see [`upcasting`](Self::upcasting)).
    pub fn upcasters(&self) -> &Upcasters {
        &self.upcasters
    }

    /// The upcasters to wrap a fold in, when there are any.
    pub(crate) fn upcasters_if_any(&self) -> Option<&Upcasters> {
        (!self.upcasters.is_empty()).then_some(&self.upcasters)
    }

    /// How many threads a replay through this reader uses, the calling one included (see
    /// [`replay_threads`](Self::replay_threads)).
    pub fn threads(&self) -> usize {
        self.threads
            .map_or_else(fold::default_threads, NonZeroUsize::get)
    }

    /// This reader, made never to write into the directory.
    ///
    /// A reader may otherwise save the archive index (`archive.index.jsonl`, a cache) when it
    /// had to describe archive frames the file did not list, so that the next reader need not
    /// decompress them again. A read-only reader keeps what it learned in memory, shared with
    /// its clones, and creates, changes and removes nothing: use it to inspect a directory
    /// that another program owns, or that sits on read-only storage. Reading still updates
    /// access times where the file system records them.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog, EventReader, Position};
    /// let mut log = EventLog::open(dir.path())?;
    /// log.append(&Event::new("a", serde_json::json!({})))?;
    /// log.rotate()?;
    /// drop(log);
    /// std::fs::remove_file(dir.path().join("archive.index.jsonl"))?; // a cache: always safe
    ///
    /// let reader = EventReader::new(dir.path()).read_only();
    /// assert!(reader.is_read_only());
    /// assert_eq!(reader.read_history(Position::new(1))?.count(), 0); // needs the index
    /// assert!(!dir.path().join("archive.index.jsonl").exists()); // described, not saved
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[must_use]
    pub fn read_only(mut self) -> Self {
        self.write_index = false;
        self.sealer = Weak::new();
        self
    }

    /// Whether this reader never writes into the directory (see [`read_only`](Self::read_only)).
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::EventReader;
    /// assert!(!EventReader::new("data").is_read_only());
    /// assert!(EventReader::new("data").read_only().is_read_only());
    /// ```
    pub fn is_read_only(&self) -> bool {
        !self.write_index
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
    /// [`io::ErrorKind::InvalidData`] error carrying [`Error::Malformed`](crate::Error::Malformed) (file, byte offset,
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
    /// Yields `(event, line_hash)`. The archive is decompressed a window at a time. If a
    /// rotation was interrupted after archiving the active log but before emptying it, the
    /// active log is a copy of the archive's last frame and is not read twice.
    ///
    /// # Errors
    ///
    /// Returns an error if a file cannot be opened. Items carry [`Error::Malformed`](crate::Error::Malformed) for a bad
    /// line and [`Error::Archive`](crate::Error::Archive) for a damaged frame; iteration ends after an error.
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
        let mut events = self.history_events(Position::START, true)?;
        Ok(Box::new(std::iter::from_fn(move || {
            events
                .next_item()
                .map(|item| item.map(|(item, _)| (item.event, item.hash.unwrap_or_default())))
        })))
    }

    /// Reads the history from `from` on: every event whose [`Position`] is `from` or later, in
    /// order, archive then active log, each with its position, end and index.
    ///
    /// Pass [`Position::START`] for the whole history, or the [`end`](HistoryEvent::end) of
    /// the last event seen to go on from there: positions do not change when the log is
    /// rotated. A position inside a line starts at the next line. The events are those in the
    /// directory when this is called. Entering the history at a later position does not
    /// decompress the archive frames before it: the archive index (`archive.index.jsonl`, a
    /// cache rebuilt when missing or stale) tells where each frame's content lies.
    ///
    /// # Errors
    ///
    /// Returns an error if a file cannot be opened, or if the archive index must be rebuilt
    /// and the archive cannot be decompressed ([`Error::Archive`](crate::Error::Archive)). Items carry
    /// [`Error::Malformed`](crate::Error::Malformed) for a bad line and [`Error::Archive`](crate::Error::Archive) for a damaged frame;
    /// iteration ends after an error.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog, Position};
    /// use serde_json::json;
    /// let mut log = EventLog::open(dir.path())?;
    /// for n in 0..3 {
    ///     log.append(&Event::new("tick", json!({ "n": n })))?;
    /// }
    /// log.rotate()?;
    /// log.append(&Event::new("tick", json!({ "n": 3 })))?;
    ///
    /// let all: Vec<_> = log.reader().read_history(Position::START)?.collect::<Result<_, _>>()?;
    /// assert_eq!(all.len(), 4);
    /// // Go on from the second event's end: the third event, from the archive, then the fourth.
    /// let rest: Vec<_> = log.reader().read_history(all[1].end)?.collect::<Result<_, _>>()?;
    /// assert_eq!(rest.iter().map(|e| e.index).collect::<Vec<_>>(), [2, 3]);
    /// assert_eq!(rest[0].event.data["n"], 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read_history(&self, from: Position) -> io::Result<HistoryEvents> {
        self.history_events(from, false)
    }

    fn history_events(&self, from: Position, hashes: bool) -> io::Result<HistoryEvents> {
        let from = from.offset();
        let history = self.history()?;
        let limit = history.archive_limit;
        let (windows, lines_before, index, active_from, active_base) =
            match self.entry(from, limit)? {
                Entry::Archive(start) => {
                    let windows = Windows::open_at(
                        &self.archive_path,
                        start.frame_offset,
                        start.frame_start,
                        Some(limit),
                    )?;
                    (Some(windows), start.lines_before, start.events_before, 0, 0)
                }
                Entry::Active {
                    base,
                    from: offset,
                    lines,
                    events,
                } => {
                    let (start, before) = match &history.active {
                        Some((file, end)) => line_start_and_events_before(file, offset, *end)
                            .context("read", &self.log_path)?,
                        None => (0, 0),
                    };
                    (None, lines, events + before, start, base)
                }
            };
        let active = history.active.map(|(file, end)| {
            let from = active_from.min(end);
            ActiveEvents::new(file, self.log_path.clone(), from, end, hashes)
        });
        Ok(HistoryEvents {
            windows,
            archive_path: self.archive_path.clone(),
            current: None,
            lines_before,
            active_base,
            active,
            from,
            index,
            hashes,
            done: false,
            upcasters: Upcasters::new(),
            pending: std::collections::VecDeque::new(),
        })
    }

    /// Where a read of the history from `position` enters it, the archive being its first
    /// `limit` bytes. From the start, nothing needs the index: positions and indexes count up
    /// from zero; from a later position, the archive index tells where.
    pub(crate) fn entry(&self, position: u64, limit: u64) -> io::Result<Entry> {
        if position == 0 {
            return Ok(Entry::Archive(ArchiveStart::default()));
        }
        let index = self.archive_index(limit)?;
        Ok(match index.frame_at_position(position) {
            Some(i) => {
                let frame = &index.frames[i];
                Entry::Archive(ArchiveStart {
                    frame_offset: frame.offset,
                    frame_start: frame.start.offset(),
                    lines_before: frame.first_line,
                    events_before: frame.first_event,
                    skip_to: position,
                })
            }
            None => Entry::Active {
                base: index.content_len(),
                from: position - index.content_len(),
                lines: index.lines(),
                events: index.events(),
            },
        })
    }

    /// The position just past the last complete line of the history: where the next event
    /// appended will start (and how many bytes of history a scan from the start reads).
    ///
    /// # Errors
    ///
    /// Returns an error if `app.jsonl` cannot be opened, or if the archive index must be
    /// rebuilt and the archive cannot be decompressed ([`Error::Archive`](crate::Error::Archive)).
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog, Position};
    /// let mut log = EventLog::open(dir.path())?;
    /// let first = log.append(&Event::new("a", serde_json::json!({})))?;
    /// log.rotate()?;
    /// let second = log.append(&Event::new("b", serde_json::json!({})))?;
    /// let end = log.reader().history_end()?;
    /// assert_eq!(end, Position::new(first.end_offset + second.end_offset));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn history_end(&self) -> io::Result<Position> {
        let history = self.history()?;
        let archive = self.archive_index(history.archive_limit)?.content_len();
        let active = history.active.map_or(0, |(_, end)| end);
        Ok(Position::new(archive + active))
    }

    /// The archive index, covering the archive's first `limit` bytes (see [`index::load_with`]).
    /// The last one read is kept, and reused while the archive is the same file.
    pub(crate) fn archive_index(&self, limit: u64) -> io::Result<Arc<ArchiveIndex>> {
        let id = self.archive_id()?;
        let mut cache = self
            .index_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(cached) = cache.as_ref()
            && cached.archive == id
            && cached.index.archive_len() == limit
        {
            return Ok(cached.index.clone());
        }
        // Frames described earlier from the same archive file are kept; the archive only grows.
        let known = cache
            .as_ref()
            .filter(|cached| cached.describes(id))
            .map(|cached| cached.index.clone());
        let index = Arc::new(index::load_with(
            &self.archive_path,
            limit,
            self.write_index,
            known.as_deref(),
        )?);
        *cache = Some(CachedIndex {
            archive: id,
            index: index.clone(),
        });
        Ok(index)
    }

    /// The archive frames up to `limit` that the index seals (see `ArchiveFrame::xxh3`), as
    /// blocks of the decompressed stream: from the index this reader holds for the archive, or
    /// else from the index file's checked lines. Frames it does not record are not described
    /// for this (that would decompress them twice).
    fn sealed_frames(&self, limit: u64) -> Vec<Block> {
        let Ok(id) = self.archive_id() else {
            return Vec::new();
        };
        let cached = self
            .index_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .filter(|cached| cached.describes(id))
            .map(|cached| cached.index.clone());
        let index = match cached {
            Some(index) => index,
            None => match index::recorded(&self.archive_path, limit) {
                Ok(index) => Arc::new(index),
                Err(_) => return Vec::new(),
            },
        };
        index
            .frames
            .iter()
            .filter(|frame| frame.end_offset() <= limit)
            .filter_map(index::ArchiveFrame::sealed)
            .collect()
    }

    /// Which file the archive is, the key of the cached index (`None`: there is no archive).
    fn archive_id(&self) -> io::Result<Option<platform::FileId>> {
        match platform::path_id(&self.archive_path) {
            Ok(id) => Ok(Some(id)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(file_error(e, "access", &self.archive_path)),
        }
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
        mmap::line_hash_before(&self.log_path, offset)
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
        Ok(fs::metadata(&self.log_path)
            .context("access", &self.log_path)?
            .len())
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
        let size = self.active_log_size()?;
        if size > offset {
            return Ok(WaitResult::NewData(size));
        }
        let deadline = Instant::now() + timeout;
        let watch = Watch::new(self.dir())?;
        let grown = watch.wait_for(Some(deadline), || {
            let size = self.active_log_size()?;
            Ok((size > offset).then_some(size))
        })?;
        Ok(grown.map_or(WaitResult::Timeout, WaitResult::NewData))
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
        self.fold_active_pausing(from, 0, acc, fold, &mut NoPauses)
    }

    /// [`fold_active`](Self::fold_active), pausing where `pauses` says; `active_base` is the
    /// position where the active log begins.
    pub(crate) fn fold_active_pausing<A, F: LineFold<A>, P: Pauses<A>>(
        &self,
        from: u64,
        active_base: u64,
        acc: A,
        fold: &F,
        pauses: &mut P,
    ) -> Folded<A> {
        match open_committed(&self.log_path, from) {
            Ok((file, end)) => {
                let folded = Folded::start(acc);
                self.fold_file(&file, (from, end), active_base, folded, fold, pauses)
            }
            Err(e) => Folded::failed(acc, e, false),
        }
    }

    /// Folds `from..end` of the open active log `file` into `folded`.
    fn fold_file<A, F: LineFold<A>, P: Pauses<A>>(
        &self,
        file: &File,
        range: (u64, u64),
        active_base: u64,
        folded: Folded<A>,
        fold: &F,
        pauses: &mut P,
    ) -> Folded<A> {
        let sealer = self.sealer.upgrade();
        let trusted = if range.1 - range.0 >= seals::WORTH_READING {
            seals::blocks(self.dir())
        } else {
            Vec::new()
        };
        // What this fold validates past the sealed blocks is sealed, when it starts within
        // them and the writer is not sealing its appends already.
        let sealing = sealer.as_ref().and_then(|sealer| {
            let sealer = sealer.lock().unwrap_or_else(PoisonError::into_inner);
            (!sealer.is_sealing() && range.0 <= sealer.end()).then(|| Sealing {
                from: sealer.end(),
                next: sealer.end(),
                seals: Vec::new(),
                broken: false,
            })
        });
        let mut read = FoldSegments {
            folding: Folding::new((&self.log_path, self.threads()), folded, fold, pauses),
            active_base,
            trusted,
            sealing,
        };
        let walked = walk::active(file, &self.log_path, range, &mut read);
        if let (Some(sealer), Some(sealing)) = (sealer, read.sealing.take())
            && !sealing.seals.is_empty()
        {
            let mut sealer = sealer.lock().unwrap_or_else(PoisonError::into_inner);
            sealer.accept(sealing.from, &sealing.seals);
        }
        read.folding.done(walked)
    }

    /// Folds the whole history: the archive, then the active log.
    pub(crate) fn fold_full<A, F: LineFold<A>>(&self, acc: A, fold: &F) -> Folded<A> {
        self.fold_full_pausing(acc, fold, &mut NoPauses)
    }

    /// [`fold_full`](Self::fold_full), pausing where `pauses` says.
    pub(crate) fn fold_full_pausing<A, F: LineFold<A>, P: Pauses<A>>(
        &self,
        acc: A,
        fold: &F,
        pauses: &mut P,
    ) -> Folded<A> {
        self.fold_from(0, None, acc, fold, pauses)
    }

    /// Folds the history from `position` (the start of a line) on, up to offset `active_to`
    /// of the active log (a line end; `None`: its committed end), pausing where `pauses` says.
    /// From a position past the start, the archive index tells where to begin.
    pub(crate) fn fold_from<A, F: LineFold<A>, P: Pauses<A>>(
        &self,
        position: u64,
        active_to: Option<u64>,
        acc: A,
        fold: &F,
        pauses: &mut P,
    ) -> Folded<A> {
        let history = match self.history() {
            Ok(history) => history,
            Err(e) => return Folded::failed(acc, e, false),
        };
        let limit = history.archive_limit;
        let (start, active_from, active_base) = match self.entry(position, limit) {
            Ok(Entry::Archive(start)) => (Some(start), 0, 0),
            Ok(Entry::Active { base, from, .. }) => (None, from, base),
            Err(e) => return Folded::failed(acc, e, false),
        };
        let mut folded = Folded::start(acc);
        if let Some(start) = start {
            folded = self.fold_archive(limit, start, folded, fold, pauses);
            if folded.error.is_some() || folded.stopped {
                return folded;
            }
        }
        let active_base = *folded.archive_end.get_or_insert(active_base);
        match history.active {
            Some((file, end)) if active_from <= end => {
                let end = active_to.map_or(end, |to| to.min(end));
                self.fold_file(&file, (active_from, end), active_base, folded, fold, pauses)
            }
            _ => folded,
        }
    }

    /// Folds `from..to` of the active log (line ends; `to` at most its committed end).
    pub(crate) fn fold_active_range<A, F: LineFold<A>>(
        &self,
        (from, to): (u64, u64),
        acc: A,
        fold: &F,
    ) -> Folded<A> {
        match open_committed(&self.log_path, from) {
            Ok((file, end)) => {
                let range = (from, to.min(end));
                let folded = Folded::start(acc);
                self.fold_file(&file, range, 0, folded, fold, &mut NoPauses)
            }
            Err(e) => Folded::failed(acc, e, false),
        }
    }

    /// Folds the archive up to `limit`, from `start`, into `folded`. The next window is
    /// decompressed while the current one is folded (see below).
    fn fold_archive<A, F: LineFold<A>, P: Pauses<A>>(
        &self,
        limit: u64,
        start: ArchiveStart,
        folded: Folded<A>,
        fold: &F,
        pauses: &mut P,
    ) -> Folded<A> {
        let path = &self.archive_path;
        let windows = Windows::open_at(path, start.frame_offset, start.frame_start, Some(limit));
        let mut windows = match windows {
            Ok(windows) => windows.parallel(frames_at_once(self.threads())),
            Err(e) => return folded.fail_in_archive(e),
        };
        // When the side job that decompresses the next window finds no frame decompressed
        // ahead, it decompresses the next few at once, one per thread, so that on many cores
        // decompression keeps pace with parsing.
        let sealed = if F::TRUSTS {
            self.sealed_frames(limit)
        } else {
            Vec::new()
        };
        // A fold that reads sealed frames trusted takes a frame's lines in less than half the
        // time zstd takes to decompress it: decompression bounds the read, and gets the other
        // threads, which keep frames ready ahead (this one decompresses too rather than wait),
        // while the frames are read one after another on this one (sharing a frame's chunks
        // would only move its bytes between CPUs). On the sealed 1M-event archive, two
        // threads, this took the type-only rebuild from 88.7-92.9 to 66.6 ms (its one-thread
        // time is 98 ms, zstd's share of it 63).
        let background = !sealed.is_empty() && self.threads() > 1;
        if background {
            windows = windows.background(self.threads() - 1);
        }
        let mut read = FoldWindows {
            folding: Folding::new((path, self.threads()), folded, fold, pauses),
            skip_to: start.skip_to,
            any: false,
            sealed,
            background,
        };
        let walked = walk::archive(
            &mut windows,
            start.frame_start,
            start.lines_before,
            &mut read,
        );
        let any = read.any;
        let mut folded = read.folding.done(Ok(()));
        match walked {
            Ok(end) => {
                if !any {
                    folded.archive_end = Some(end);
                }
                folded
            }
            Err(e) => folded.fail_in_archive(e),
        }
    }

    /// What lies before `offset` of the active log: how many events the history holds before
    /// it, their largest `ts` (unknown when a frame of an older archive index does not record
    /// it), and the position where the active log begins.
    pub(crate) fn before_active_offset(&self, offset: u64) -> io::Result<Before> {
        let history = self.history()?;
        let index = self.archive_index(history.archive_limit)?;
        let mut before = Before {
            events: index.events(),
            max_ts: MaxTs::EMPTY,
            active_base: index.content_len(),
        };
        for frame in &index.frames {
            before.max_ts = before
                .max_ts
                .then(MaxTs::from_record(frame.events, frame.max_ts));
        }
        if let Some((file, end)) = history.active
            && offset > 0
        {
            let folded = self.fold_file(
                &file,
                (0, offset.min(end)),
                before.active_base,
                Folded::start(index::TsStats::default()),
                &index::TsFold,
                &mut NoPauses,
            );
            if let Some(error) = folded.error {
                return Err(error);
            }
            before.events += folded.acc.events;
            before.max_ts = before
                .max_ts
                .then(MaxTs::from_record(folded.acc.events, folded.acc.max));
        }
        Ok(before)
    }

    /// The hash of the line that ends just before `position` (the line of the last event
    /// before it), or `None` when no line ends there. May decompress the archive frame that
    /// holds it.
    pub(crate) fn hash_before(&self, position: u64) -> io::Result<Option<String>> {
        if position == 0 {
            return Ok(None);
        }
        let history = self.history()?;
        let index = self.archive_index(history.archive_limit)?;
        let in_active = position.checked_sub(index.content_len());
        if let Some(offset) = in_active.filter(|&offset| offset > 0) {
            return match history.active {
                Some((_, end)) if offset <= end => self.read_line_hash_before(offset),
                _ => Ok(None),
            };
        }
        // In the archive, or at its end: the frame whose content ends at or after it.
        let i = index.frames.partition_point(|f| f.end() < position);
        let Some(frame) = index.frames.get(i) else {
            return Ok(None);
        };
        if frame.end() == position {
            return Ok(Some(frame.last_line_hash.clone()).filter(|h| !h.is_empty()));
        }
        let mut windows = Windows::open_at(
            &self.archive_path,
            frame.offset,
            frame.start.offset(),
            Some(history.archive_limit),
        )?;
        let mut spare = Vec::new();
        while let Some(window) = windows.next_window(spare)? {
            let end = window.offset + window.bytes().len() as u64;
            if window.offset < position && position <= end {
                let upto = (position - window.offset) as usize;
                let bytes = window.bytes();
                if bytes[upto - 1] != b'\n' || upto < 2 {
                    return Ok(None);
                }
                let line_start = memchr::memrchr(b'\n', &bytes[..upto - 1]).map_or(0, |i| i + 1);
                return Ok(Some(line_hash(&bytes[line_start..upto - 1])));
            }
            if window.frame_end.is_some() {
                break;
            }
            spare = window.into_buffer();
        }
        Ok(None)
    }
}

// The writer's method that returns a reader lives here, with the reader, so that the writer
// does not import the replay layer above it.
impl EventWriter {
    /// Returns a reader for this writer's directory.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::EventWriter;
    /// let writer = EventWriter::open(dir.path())?;
    /// assert_eq!(writer.reader().log_path(), writer.log_path());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn reader(&self) -> EventReader {
        let mut reader = EventReader::new(self.dir());
        if let Some(sealer) = self.sealer() {
            reader.sealer = Arc::downgrade(sealer);
        }
        reader
    }
}

/// What the history holds before an offset of the active log (see
/// [`EventReader::before_active_offset`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Before {
    pub events: u64,
    pub max_ts: MaxTs,
    pub active_base: u64,
}

/// Where a read enters the archive: the frame at `frame_offset` of the file, whose content
/// starts at `frame_start` in the history after `lines_before` newlines and `events_before`
/// events, with the lines before `skip_to` left out (for a fold, `skip_to` starts a line; a
/// scan starts at the next line when it does not).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ArchiveStart {
    pub frame_offset: u64,
    pub frame_start: u64,
    pub lines_before: u64,
    pub events_before: u64,
    pub skip_to: u64,
}

/// Where a read of the history from a position enters it (see [`EventReader::entry`]).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Entry {
    /// In the archive.
    Archive(ArchiveStart),
    /// Past the archive: at offset `from` of the active log, which begins at `base` in the
    /// history, after the archive's `lines` newlines and `events` events.
    Active {
        base: u64,
        from: u64,
        lines: u64,
        events: u64,
    },
}

/// Where a fold paused: just past the last event folded, as a position in the history, and as
/// an offset in the active log when it is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Place {
    pub position: u64,
    pub active: Option<u64>,
}

/// Where a fold pauses, and what happens there (checkpoints are written at pauses, and time
/// travel ends at one).
pub(crate) trait Pauses<A> {
    /// Where to stop next, given the events folded so far by this fold. A stop must lie past
    /// them.
    fn until(&self, folded: u64) -> Until;

    /// The fold stopped where [`until`](Pauses::until) said: `acc` has folded `folded` events,
    /// the last of them `last_line`, ending at `place`; `max_ts` is the largest `ts` this fold
    /// has folded, as far as it knows. Returns whether to go on. (In the active log, the position of
    /// `place` is right when the fold was given where the active log begins.)
    fn pause(
        &mut self,
        acc: &A,
        folded: u64,
        place: Place,
        last_line: Option<&[u8]>,
        max_ts: MaxTs,
    ) -> bool;
}

/// A fold that never pauses.
pub(crate) struct NoPauses;

impl<A> Pauses<A> for NoPauses {
    fn until(&self, _folded: u64) -> Until {
        Until::END
    }

    fn pause(&mut self, _: &A, _: u64, _: Place, _: Option<&[u8]>, _: MaxTs) -> bool {
        true
    }
}

/// A strict fold reading the walk's buffers: each folded with [`fold_paused`], a bad line or
/// a damaged frame an error.
struct Folding<'a, A, F, P> {
    /// The file read, for errors.
    path: &'a Path,
    /// The fold, out only while a buffer is folded.
    folded: Option<Folded<A>>,
    fold: &'a F,
    pauses: &'a mut P,
    /// How many threads each buffer's fold may use.
    threads: usize,
}

impl<'a, A, F: LineFold<A>, P: Pauses<A>> Folding<'a, A, F, P> {
    fn new(
        (path, threads): (&'a Path, usize),
        folded: Folded<A>,
        fold: &'a F,
        pauses: &'a mut P,
    ) -> Self {
        Folding {
            path,
            folded: Some(folded),
            fold,
            pauses,
            threads,
        }
    }

    /// Folds `buf` (see [`fold_paused`]) on `threads` threads, the calling one included;
    /// returns the bad line that ended it, if one did, and the side job's result.
    fn fold_buf<T: Send>(
        &mut self,
        (buf, threads): (&[u8], usize),
        (trust, sealing): (Trust<'_>, &mut Option<Sealing>),
        place: impl Fn(usize) -> Place,
        side: impl FnOnce() -> T + Send,
    ) -> (Option<(usize, ParseError)>, Option<T>) {
        let folded = self
            .folded
            .take()
            .expect("the fold is back between buffers");
        let (folded, bad, next) = fold_paused(
            buf,
            folded,
            (self.fold, threads),
            self.pauses,
            (trust, sealing),
            place,
            side,
        );
        self.folded = Some(folded);
        (bad, next)
    }

    fn stopped(&self) -> bool {
        self.folded.as_ref().is_some_and(|folded| folded.stopped)
    }

    /// The fold, once the walk is over, with the error that ended it.
    fn done(self, walked: io::Result<()>) -> Folded<A> {
        let mut folded = self.folded.expect("the fold is back after the walk");
        if let Err(e) = walked {
            folded.error = Some(e);
        }
        folded
    }
}

/// A strict fold's reading of the active log's segments.
struct FoldSegments<'a, A, F, P> {
    folding: Folding<'a, A, F, P>,
    /// The position where the active log begins.
    active_base: u64,
    /// The sealed blocks of the active log.
    trusted: Vec<Block>,
    /// What is validated past them, to be sealed.
    sealing: Option<Sealing>,
}

/// The chunks a fold validated past the sealed blocks of the active log, following each other
/// from where those end.
struct Sealing {
    from: u64,
    /// Where the last one ends.
    next: u64,
    seals: Vec<Seal>,
    /// Set when a validated chunk did not follow the last one: the run is over.
    broken: bool,
}

impl Sealing {
    /// Takes in what a buffer's fold validated.
    fn take(&mut self, validated: &[Block]) {
        for block in validated {
            if self.broken || block.start != self.next {
                self.broken = true;
                return;
            }
            self.seals.push(Seal {
                end: block.end,
                hash: block.hash,
            });
            self.next = block.end;
        }
    }

    /// Where the next validated chunk must start, while the run goes on.
    fn hash_from(&self) -> Option<u64> {
        (!self.broken).then_some(self.next)
    }
}

impl<A, F: LineFold<A>, P: Pauses<A>> ReadSegments for FoldSegments<'_, A, F, P> {
    fn segment(
        &mut self,
        start: u64,
        region: &Region,
        side: impl FnOnce() -> NextSegment + Send,
    ) -> io::Result<Option<NextSegment>> {
        let active_base = self.active_base;
        let place = |end| {
            let offset = start + end as u64;
            Place {
                position: active_base + offset,
                active: Some(offset),
            }
        };
        let trust = Trust {
            base: start,
            blocks: &self.trusted,
            hash_from: None,
            checked: false,
            text: None,
        };
        let threads = self.folding.threads;
        let (bad, next) =
            self.folding
                .fold_buf((region, threads), (trust, &mut self.sealing), place, side);
        if let Some((at, reason)) = bad {
            let origin = Origin::Active { from: start };
            return Err(malformed(self.folding.path, origin, region, at, reason));
        }
        Ok(next)
    }

    fn stopped(&self) -> bool {
        self.folding.stopped()
    }
}

/// A strict fold's reading of the archive's windows, the lines before `skip_to` (a line
/// start) left out.
struct FoldWindows<'a, A, F, P> {
    folding: Folding<'a, A, F, P>,
    skip_to: u64,
    /// Whether a window was read.
    any: bool,
    /// The frames the archive index seals, as blocks of the decompressed stream.
    sealed: Vec<Block>,
    /// Whether the windows are decompressed by a thread of their own
    /// ([`Windows::background`]): a sealed frame is then read on one thread.
    background: bool,
}

impl<A, F: LineFold<A>, P: Pauses<A>> ReadWindows for FoldWindows<'_, A, F, P> {
    fn window(
        &mut self,
        window: &Window,
        lines_before: u64,
        side: impl FnOnce() -> NextWindow + Send,
    ) -> io::Result<Option<NextWindow>> {
        self.any = true;
        let cut = self.skip_to.saturating_sub(window.offset);
        let cut = cut.min(window.bytes().len() as u64) as usize;
        let base = window.offset + cut as u64;
        let place = |end| Place {
            position: base + end as u64,
            active: None,
        };
        // A window that is a whole sealed frame is read trusted when its bytes match.
        let len = window.bytes().len() as u64;
        let whole = cut == 0
            && window.offset == window.frame_start
            && window.frame_end == Some(window.offset + len);
        // A frame's one checksum covers several parse chunks: it is checked here, once.
        let at = self.sealed.partition_point(|b| b.start < window.offset);
        let checked = self.sealed.get(at).is_some_and(|block| {
            whole
                && block.start == window.offset
                && block.end == window.offset + len
                && window.counted.map_or_else(
                    || crate::format::trusted::block_hash(window.bytes()),
                    |(hash, _)| hash,
                ) == block.hash
        });
        let trust = Trust {
            base,
            blocks: &[],
            hash_from: None,
            checked,
            // Its bytes, when the thread that decompressed the frame found them UTF-8.
            text: window.text().filter(|_| checked),
        };
        // A sealed frame read while the next ones are decompressed behind is read on this
        // thread alone: the others are busy decompressing.
        let threads = match checked && self.background {
            true => 1,
            false => self.folding.threads,
        };
        let bytes = (&window.bytes()[cut..], threads);
        let (bad, next) = self
            .folding
            .fold_buf(bytes, (trust, &mut None), place, side);
        if let Some((at, reason)) = bad {
            let origin = Origin::Archive {
                stream_offset: window.offset,
                lines_before,
            };
            let error = malformed(self.folding.path, origin, window.bytes(), cut + at, reason);
            return Err(error);
        }
        Ok(next)
    }

    fn frame_end(&mut self, _window: &Window, end: u64) -> bool {
        if let Some(folded) = self.folding.folded.as_mut() {
            folded.archive_end = Some(end);
        }
        true
    }

    fn damaged(&mut self, _: &mut Windows, error: io::Error, _: u64) -> io::Result<bool> {
        Err(error)
    }

    fn stopped(&self) -> bool {
        self.folding.stopped()
    }
}

/// Folds the complete lines of `buf` into `folded`, pausing where `pauses` says and going on
/// from each pause while it agrees, with `side` run once, alongside the first stretch. `place`
/// turns an offset in `buf` into a [`Place`]. Returns the fold, the bad line that ended it if
/// one did, and the side job's result.
fn fold_paused<A, F, P, T>(
    buf: &[u8],
    mut folded: Folded<A>,
    (fold, threads): (&F, usize),
    pauses: &mut P,
    (trust, sealing): (Trust<'_>, &mut Option<Sealing>),
    place: impl Fn(usize) -> Place,
    side: impl FnOnce() -> T + Send,
) -> (Folded<A>, Option<(usize, ParseError)>, Option<T>)
where
    F: LineFold<A>,
    P: Pauses<A>,
    T: Send,
{
    let mut side = Some(side);
    let mut side_result = None;
    let mut pos = 0;
    loop {
        let until = pauses.until(folded.events);
        let side_now = side.take();
        let trust = Trust {
            hash_from: sealing.as_ref().and_then(Sealing::hash_from),
            ..trust.skip(pos)
        };
        let (done, result) = fold::fold_buf_until(
            &buf[pos..],
            folded.acc,
            fold,
            (until, threads),
            trust,
            move || side_now.map(|side| side()),
        );
        side_result = side_result.or(result);
        if let Some(sealing) = sealing {
            sealing.take(&done.validated);
        }
        folded.acc = done.acc;
        folded.events += done.events;
        folded.max_ts =
            folded
                .max_ts
                .then(MaxTs::of_fold(done.events, until.track_ts, done.max_ts));
        let mut here = pos;
        let mut last_line = None;
        if let Some((end, line)) = &done.last {
            here = pos + end;
            let line = &buf[pos + line.start..pos + line.end];
            folded.any = true;
            if let Some(end) = place(here).active {
                folded.tail = Some(Tail {
                    end,
                    hash: line_hash(line),
                });
            }
            last_line = Some(line);
        }
        if let Some((at, reason)) = done.bad {
            return (folded, Some((pos + at, reason)), side_result);
        }
        if !done.stopped {
            return (folded, None, side_result);
        }
        let go_on = pauses.pause(
            &folded.acc,
            folded.events,
            place(here),
            last_line,
            folded.max_ts,
        );
        // A stop that folds nothing would pause at the same place again and again.
        if !go_on || done.events == 0 {
            folded.stopped = true;
            return (folded, None, side_result);
        }
        pos = here;
    }
}

/// Opens the active log and finds the end of its committed part from `from` on (`from` itself
/// when nothing is committed past it).
fn open_committed(path: &Path, from: u64) -> io::Result<(File, u64)> {
    let file = File::open(path).context("open", path)?;
    let len = file.metadata().context("read", path)?.len();
    let end = mmap::committed_end(&file, from, len).context("read", path)?;
    Ok((file, end))
}

/// The first line start at or after `offset` in the active log `file` (committed up to `end`),
/// and how many events (non-empty lines) lie before it.
pub(crate) fn line_start_and_events_before(
    file: &File,
    offset: u64,
    end: u64,
) -> io::Result<(u64, u64)> {
    let offset = offset.min(end);
    let mut before = [b'\n'];
    if offset > 0 {
        platform::read_exact_at(file, &mut before, offset - 1)?;
    }
    let start = if before[0] == b'\n' {
        offset
    } else {
        mmap::next_line_end(file, offset, end)?
    };
    let mut buf = vec![0u8; (start as usize).min(1 << 16)];
    let (mut pos, mut events, mut at_line_start) = (0, 0, true);
    while pos < start {
        let n = ((start - pos) as usize).min(buf.len());
        platform::read_exact_at(file, &mut buf[..n], pos)?;
        events += lines::count_events_after(&buf[..n], at_line_start);
        at_line_start = buf[n - 1] == b'\n';
        pos += n as u64;
    }
    Ok((start, events))
}

/// How many archive frames a replay decompresses at once: one per two parsing threads, up to
/// eight (a frame holds at most 4 MiB of content, so memory stays within a few tens of MB).
///
/// With two threads this is one, streamed, as a decompression at a time beside the parsing
/// measured fastest there: a 1M-event compat rebuild from a 30-frame archive took 401-407 ms
/// streaming one frame at a time and 428-512 ms decompressing two at once, though
/// decompression alone went from 72 to 56 ms. Where threads are plenty, parsing no longer
/// waits on one decompressor.
fn frames_at_once(threads: usize) -> usize {
    (threads / 2).clamp(1, 8)
}

/// Builds the error for the bad line starting at `start` in `buf`.
fn malformed(
    path: &Path,
    origin: Origin,
    buf: &[u8],
    start: usize,
    reason: ParseError,
) -> io::Error {
    let in_buf = lines::line_number(buf, start);
    let (offset, line) = match origin {
        Origin::Active { from } => {
            let before = File::open(path)
                .and_then(|file| mmap::newlines_before(&file, from))
                .unwrap_or(0);
            (from + start as u64, before + in_buf)
        }
        Origin::Archive {
            stream_offset,
            lines_before,
        } => (stream_offset + start as u64, lines_before + in_buf),
    };
    reason.at_line(path, offset, line).into()
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

    /// Moves past the lines that start before `at` (an offset in the buffer); returns how many
    /// events (non-empty lines) that skipped.
    fn skip_to(&mut self, at: usize) -> u64 {
        let at = at.min(self.region.len());
        if at <= self.pos {
            return 0;
        }
        // The first line that starts at or after `at`.
        let cut = if self.region[at - 1] == b'\n' {
            at
        } else {
            memchr::memchr(b'\n', &self.region[at..]).map_or(self.region.len(), |i| at + i + 1)
        };
        let skipped = lines::count_events(&self.region[self.pos..cut]);
        self.pos = cut;
        skipped
    }

    /// The next event, with where its line starts and where it ends (past its newline) in the
    /// buffer.
    fn next_event(&mut self) -> Option<io::Result<(Event, usize, usize)>> {
        let mut lines = Lines::new(&self.region[self.pos..]);
        let line = lines.next()?;
        let start = self.pos + line.start;
        let end = self.pos + line.end();
        let result = match crate::format::parse::event(line.bytes) {
            Ok(event) => Ok((event, start, end)),
            Err(reason) => {
                let err = malformed(&self.path, self.origin, &self.region, start, reason);
                // Nothing after a bad line is yielded.
                self.pos = self.region.len();
                return Some(Err(err));
            }
        };
        self.pos = end;
        Some(result)
    }

    /// The hash of the line `start..end` (its newline included in the range).
    fn hash(&self, start: usize, end: usize) -> String {
        line_hash(&self.region[start..end - 1])
    }
}

/// One event read by the iterators, with its place: where its line starts and ends (in the
/// active log for [`ActiveEvents`], in the history for [`HistoryEvents`]) and, when asked
/// for, its line's hash.
struct Item {
    event: Event,
    start: u64,
    end: u64,
    hash: Option<String>,
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
    /// Whether items carry their line's hash.
    hashes: bool,
    done: bool,
}

impl ActiveEvents {
    fn open(path: &Path, from: u64) -> io::Result<Self> {
        let (file, end) = open_committed(path, from)?;
        Ok(Self::new(file, path.to_path_buf(), from, end, true))
    }

    fn new(file: File, path: PathBuf, from: u64, end: u64, hashes: bool) -> Self {
        ActiveEvents {
            file,
            path,
            pos: from,
            end,
            current: None,
            hashes,
            done: false,
        }
    }

    fn next_segment(&mut self) -> io::Result<bool> {
        if self.pos >= self.end {
            return Ok(false);
        }
        let seg_end = mmap::segment_end(&self.file, self.pos, self.end, walk::SEGMENT)
            .context("read", &self.path)?;
        let region = mmap::read_range(&self.file, self.pos, seg_end).context("read", &self.path)?;
        let origin = Origin::Active { from: self.pos };
        self.current = Some((self.pos, Source::new(region, self.path.clone(), origin)));
        self.pos = seg_end;
        Ok(true)
    }

    fn next_item(&mut self) -> Option<io::Result<Item>> {
        loop {
            if self.done {
                return None;
            }
            if let Some((base, source)) = self.current.as_mut() {
                match source.next_event() {
                    Some(Ok((event, start, end))) => {
                        let hash = self.hashes.then(|| source.hash(start, end));
                        return Some(Ok(Item {
                            event,
                            start: *base + start as u64,
                            end: *base + end as u64,
                            hash,
                        }));
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

impl Iterator for ActiveEvents {
    type Item = io::Result<(Event, u64, String)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_item()
            .map(|item| item.map(|i| (i.event, i.end, i.hash.unwrap_or_default())))
    }
}

/// The events of the history from some position on, archive then active log, each with its
/// [`Position`], its end and its index: what [`EventReader::read_history`] returns.
///
/// It reads the history as it was when it was created: events appended later are not yielded.
/// After an error (a malformed line, a damaged frame) it yields nothing more.
pub struct HistoryEvents {
    windows: Option<Windows>,
    archive_path: PathBuf,
    /// The archive window being read and the position of its first byte.
    current: Option<(u64, Source)>,
    /// Newlines in the archive before the window read next, for line numbers in errors.
    lines_before: u64,
    /// Position where the active log begins, once the archive is read.
    active_base: u64,
    active: Option<ActiveEvents>,
    /// Lines that start before this position are not yielded.
    from: u64,
    /// Index of the next event.
    index: u64,
    /// Whether items carry their line's hash.
    hashes: bool,
    done: bool,
    /// Applied to each event before it is yielded (subscriptions only: empty otherwise).
    upcasters: Upcasters,
    /// The rest of what the upcasters made of the last stored event, with its index and the
    /// part of the split each is ([`Split`]).
    pending: std::collections::VecDeque<(Item, u64, Split)>,
}

/// Which of the events made of one stored line an event is: `part` of `parts` (0 of 1 for an
/// event as stored).
#[derive(Debug, Clone, Copy)]
struct Split {
    part: u64,
    parts: u64,
}

impl std::fmt::Debug for HistoryEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryEvents")
            .field("archive_path", &self.archive_path)
            .field("from", &self.from)
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl HistoryEvents {
    /// Once every event is yielded: the position just past the last complete line read, where
    /// the next event appended will start.
    pub(crate) fn scanned_to(&self) -> Position {
        let active_end = self.active.as_ref().map_or(0, |active| active.end);
        Position::new(self.active_base + active_end)
    }

    /// Moves to the next window of the archive; `false` once the archive is exhausted.
    fn next_window(&mut self) -> io::Result<bool> {
        let Some(windows) = self.windows.as_mut() else {
            return Ok(false);
        };
        let spare = match self.current.take().map(|(_, source)| source.region) {
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
                if let Some(end) = window.frame_end {
                    self.active_base = end;
                }
                let offset = window.offset;
                let mut source = Source::new(
                    Region::Read(window.into_bytes()),
                    self.archive_path.clone(),
                    origin,
                );
                if offset < self.from {
                    self.index += source.skip_to((self.from - offset) as usize);
                }
                self.current = Some((offset, source));
                Ok(true)
            }
            None => {
                self.windows = None;
                Ok(false)
            }
        }
    }

    /// This read, yielding what `upcasters` make of each stored event: the events of a split
    /// share the stored line's position, end and index.
    pub(crate) fn upcasting(mut self, upcasters: &Upcasters) -> Self {
        self.upcasters = upcasters.clone();
        self
    }

    fn next_item(&mut self) -> Option<io::Result<(Item, u64)>> {
        self.next_part()
            .map(|next| next.map(|(item, index, _)| (item, index)))
    }

    /// The next event, with its index and which part of what the upcasters made of its stored
    /// line it is.
    fn next_part(&mut self) -> Option<io::Result<(Item, u64, Split)>> {
        loop {
            if let Some(next) = self.pending.pop_front() {
                return Some(Ok(next));
            }
            let whole = Split { part: 0, parts: 1 };
            let (item, index) = match self.next_stored()? {
                Ok((item, index)) if self.upcasters.is_empty() => {
                    return Some(Ok((item, index, whole)));
                }
                Ok(next) => next,
                Err(e) => return Some(Err(e)),
            };
            let Item {
                event,
                start,
                end,
                hash,
            } = item;
            match self.upcasters.apply(event) {
                Ok(events) => {
                    let parts = events.len() as u64;
                    self.pending.extend((0..).zip(events).map(|(part, event)| {
                        let hash = hash.clone();
                        let item = Item {
                            event,
                            start,
                            end,
                            hash,
                        };
                        (item, index, Split { part, parts })
                    }));
                }
                Err(failure) => {
                    self.done = true;
                    return Some(Err(self.upcast_error(start, failure)));
                }
            }
        }
    }

    /// The error for the upcaster that failed on the event just read, whose line starts at
    /// `position`: it names the line's file, offset and line number.
    fn upcast_error(&self, position: u64, failure: UpcastFailure) -> io::Error {
        let reason = ParseError::upcast(failure);
        let active = self.active.as_ref().and_then(|active| {
            let (base, source) = active.current.as_ref()?;
            let at = position.checked_sub(self.active_base + base)?;
            Some((source, at))
        });
        let archive = self.current.as_ref().and_then(|(base, source)| {
            let at = position.checked_sub(*base)?;
            Some((source, at))
        });
        let found = active
            .filter(|(source, at)| *at < source.region.len() as u64)
            .or(archive.filter(|(source, at)| *at < source.region.len() as u64));
        match found {
            Some((source, at)) => malformed(
                &source.path,
                source.origin,
                &source.region,
                at as usize,
                reason,
            ),
            // Not reached: the source that yielded the event is still the current one.
            None => io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{reason} (the event at position {position})"),
            ),
        }
    }

    fn next_stored(&mut self) -> Option<io::Result<(Item, u64)>> {
        loop {
            if self.done {
                return None;
            }
            if let Some((base, source)) = self.current.as_mut() {
                match source.next_event() {
                    Some(Ok((event, start, end))) => {
                        let item = Item {
                            hash: self.hashes.then(|| source.hash(start, end)),
                            event,
                            start: *base + start as u64,
                            end: *base + end as u64,
                        };
                        self.index += 1;
                        return Some(Ok((item, self.index - 1)));
                    }
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
            let item = self.active.as_mut().and_then(ActiveEvents::next_item);
            match item {
                Some(Ok(mut item)) => {
                    item.start += self.active_base;
                    item.end += self.active_base;
                    self.index += 1;
                    return Some(Ok((item, self.index - 1)));
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(e));
                }
                None => {
                    self.done = true;
                    return None;
                }
            }
        }
    }
}

impl Iterator for HistoryEvents {
    type Item = io::Result<HistoryEvent>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_part().map(|item| {
            item.map(|(item, index, split)| HistoryEvent {
                event: item.event,
                position: Position::new(item.start),
                end: Position::new(item.end),
                index,
                part: split.part,
                parts: split.parts,
            })
        })
    }
}
