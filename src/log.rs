//! [`EventLog`]: a writer, a reader and a registry of views over one directory.

use crate::error::{Error, check_view_name};
use crate::format::event::Event;
use crate::format::fold::{ReduceFn, ReduceRefFn};
use crate::format::upcast::{Upcaster, Upcasters};
use crate::replay::reader::{EventReader, FullHistory, WaitResult};
use crate::store::writer::{AppendResult, ConditionalAppendError, EventWriter, LockMode};
use crate::views::policy::{SnapshotPolicy, ViewConfig};
use crate::views::report::RefreshReport;
use crate::views::travel::At;
use crate::views::view::{View, ViewOps};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub(crate) mod rebuild;

/// An event log directory with its registered views: the main entry point.
///
/// It owns the directory's [`EventWriter`] (and so its lock), an [`EventReader`], and the views
/// registered through [`EventLog::builder`], which it refreshes together and keeps consistent
/// across rotations.
///
/// ```text
/// data/
///   app.jsonl            active log, one JSON event per line
///   archive.jsonl.zst    rotated history, in zstd frames
///   archive.index.jsonl  what each frame holds (a cache)
///   views/NAME.snapshot.json
/// ```
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{Event, EventLog};
/// use serde_json::json;
///
/// fn count(n: u64, _e: &Event) -> u64 { n + 1 }
///
/// let mut log = EventLog::builder(dir.path()).view::<u64>("count", count).open()?;
/// log.append(&Event::new("click", json!({"x": 3})))?;
/// log.refresh_all()?;
/// assert_eq!(*log.view::<u64>("count")?, 1);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct EventLog {
    writer: EventWriter,
    reader: EventReader,
    views: Vec<Box<dyn ViewOps>>,
    /// The builder's default policy, for the views of rebuilds.
    snapshot_policy: Option<SnapshotPolicy>,
    /// Background rebuilds under way (see `log/rebuild.rs`).
    rebuilds: rebuild::Rebuilds,
}

impl fmt::Debug for EventLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventLog")
            .field("writer", &self.writer)
            .field("reader", &self.reader)
            .field(
                "views",
                &self.views.iter().map(|v| v.view_name()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Builds a registered view in the views directory, given the log's default policy.
type ViewFactory = Box<dyn FnOnce(&Path, Option<SnapshotPolicy>) -> Box<dyn ViewOps>>;

/// Configures an [`EventLog`] before opening it: views, auto-rotation, locking.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{Event, EventLog, LockMode};
/// fn count(n: u64, _e: &Event) -> u64 { n + 1 }
/// let log = EventLog::builder(dir.path())
///     .max_log_size(10_000_000)
///     .lock_mode(LockMode::Flock)
///     .view::<u64>("count", count)
///     .open()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct EventLogBuilder {
    dir: PathBuf,
    max_log_size: u64,
    lock_mode: LockMode,
    snapshot_policy: Option<SnapshotPolicy>,
    views: Vec<(String, ViewFactory)>,
    /// Replay threads (0: the rayon pool's size).
    replay_threads: usize,
    upcasters: Upcasters,
}

impl fmt::Debug for EventLogBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventLogBuilder")
            .field("dir", &self.dir)
            .field("max_log_size", &self.max_log_size)
            .field("lock_mode", &self.lock_mode)
            .field("snapshot_policy", &self.snapshot_policy)
            .field("replay_threads", &self.replay_threads)
            .field("upcasters", &self.upcasters)
            .field(
                "views",
                &self.views.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl EventLogBuilder {
    /// Sets the active log size, in bytes, at which the log rotates by itself.
    ///
    /// After an append leaves `app.jsonl` at this size or larger, the append rotates before it
    /// returns; [`open`](EventLogBuilder::open) also rotates a log already past it. `0`, the
    /// default, turns auto-rotation off.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog};
    /// let mut log = EventLog::builder(dir.path()).max_log_size(1).open()?;
    /// log.append(&Event::new("a", serde_json::json!({})))?; // past 1 byte: rotates before returning
    /// assert_eq!(log.active_log_size()?, 0);
    /// assert!(log.archive_path().exists());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn max_log_size(mut self, bytes: u64) -> Self {
        self.max_log_size = bytes;
        self
    }

    /// Replays (refreshes, rebuilds, time travel, the log's readers) and rotations use at
    /// most `threads` threads, the calling one included; `0` (the default) uses as many as
    /// the rayon pool they run in has. See [`EventReader::replay_threads`].
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::EventLog;
    /// let log = EventLog::builder(dir.path()).replay_threads(2).open()?;
    /// assert_eq!(log.reader().threads(), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn replay_threads(mut self, threads: usize) -> Self {
        self.replay_threads = threads;
        self
    }

    /// Registers an upcaster: every fold of the log's views (refreshes, rebuilds, the shared
    /// pass, [`EventLog::state_at`]) and the subscriptions of its reader see the events of
    /// `upcaster`'s type in their current shape. The files never change. See [`Upcasters`]
    /// for which paths upcast and which hand over the stored events.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog, Upcaster};
    /// fn adds(n: u64, e: &Event) -> u64 { if e.event_type == "todo_added" { n + 1 } else { n } }
    /// let mut log = EventLog::builder(dir.path())
    ///     .upcaster(Upcaster::rename("todo_created", "todo_added"))
    ///     .view::<u64>("adds", adds)
    ///     .open()?;
    /// log.append(&Event::new("todo_created", serde_json::json!({})))?;
    /// log.refresh_all()?;
    /// assert_eq!(*log.view::<u64>("adds")?, 1);
    /// assert_eq!(log.read_from(0)?.next().unwrap()?.0.event_type, "todo_created"); // as stored
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn upcaster(mut self, upcaster: Upcaster) -> Self {
        self.upcasters.add(upcaster);
        self
    }

    /// Registers every upcaster of `upcasters`, after those registered before (see
    /// [`upcaster`](Self::upcaster)).
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{EventLog, Upcaster, Upcasters};
    /// let upcasters = Upcasters::new().with(Upcaster::rename("a", "b"));
    /// let log = EventLog::builder(dir.path()).upcasters(upcasters).open()?;
    /// assert!(!log.reader().upcasters().is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn upcasters(mut self, upcasters: Upcasters) -> Self {
        for upcaster in upcasters.iter() {
            self.upcasters.add(upcaster.clone());
        }
        self
    }

    /// Sets the [`LockMode`] of the writer; [`LockMode::Flock`] by default.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{EventLog, EventWriter, LockMode};
    /// let log = EventLog::builder(dir.path()).lock_mode(LockMode::None).open()?;
    /// // No lock is held, so nothing stops a second writer: keep it out some other way.
    /// assert!(EventWriter::open(dir.path()).is_ok());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn lock_mode(mut self, mode: LockMode) -> Self {
        self.lock_mode = mode;
        self
    }

    /// Registers a view named `name` with a reducer over owned [`Event`]s.
    ///
    /// Its snapshot is `views/NAME.snapshot.json`. Registering two views under one name makes
    /// [`open`](EventLogBuilder::open) fail.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog};
    /// fn total(sum: i64, e: &Event) -> i64 { sum + e.data["amount"].as_i64().unwrap_or(0) }
    /// let mut log = EventLog::builder(dir.path()).view::<i64>("total", total).open()?;
    /// log.append(&Event::new("paid", serde_json::json!({"amount": 30})))?;
    /// log.append(&Event::new("paid", serde_json::json!({"amount": 12})))?;
    /// log.refresh_all()?;
    /// assert_eq!(*log.view::<i64>("total")?, 42);
    /// assert!(log.views_dir().join("total.snapshot.json").exists());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn view<S>(self, name: &str, reducer: ReduceFn<S>) -> Self
    where
        S: Serialize + DeserializeOwned + Default + Clone + Send + 'static,
    {
        self.view_with(name, reducer, ViewConfig::default())
    }

    /// Registers a view like [`view`](EventLogBuilder::view), with its own [`ViewConfig`]
    /// (snapshot policy, state version).
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog, SnapshotPolicy, ViewConfig};
    /// fn count(n: u64, _e: &Event) -> u64 { n + 1 }
    /// let manual = ViewConfig::new().policy(SnapshotPolicy::manual());
    /// let mut log = EventLog::builder(dir.path()).view_with::<u64>("count", count, manual).open()?;
    /// log.append(&Event::new("a", serde_json::json!({})))?;
    /// log.refresh_all()?;
    /// assert_eq!(*log.view::<u64>("count")?, 1);
    /// assert!(!log.views_dir().join("count.snapshot.json").exists()); // saved only when asked
    /// log.save_all()?;
    /// assert!(log.views_dir().join("count.snapshot.json").exists());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn view_with<S>(mut self, name: &str, reducer: ReduceFn<S>, config: ViewConfig) -> Self
    where
        S: Serialize + DeserializeOwned + Default + Clone + Send + 'static,
    {
        let owned = name.to_string();
        let factory: ViewFactory = Box::new(move |dir, policy| {
            let config = config.or_policy(policy);
            Box::new(View::<S>::new(&owned, reducer, dir).with_config(config))
        });
        self.views.push((name.to_string(), factory));
        self
    }

    /// Registers a view named `name` with a zero-copy reducer over borrowed
    /// [`EventRef`](crate::EventRef)s.
    ///
    /// It behaves like any other view: [`EventLog::view`], [`EventLog::refresh_all`] and
    /// rotation treat it the same, and it uses the same snapshot file format.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog, EventRef};
    /// fn clicks(n: u64, e: &EventRef<'_>) -> u64 {
    ///     n + u64::from(e.event_type() == "click")
    /// }
    /// let mut log = EventLog::builder(dir.path()).view_ref::<u64>("clicks", clicks).open()?;
    /// log.append(&Event::new("click", serde_json::json!({})))?;
    /// log.append(&Event::new("scroll", serde_json::json!({})))?;
    /// log.refresh_all()?;
    /// assert_eq!(*log.view::<u64>("clicks")?, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn view_ref<S>(self, name: &str, reducer: ReduceRefFn<S>) -> Self
    where
        S: Serialize + DeserializeOwned + Default + Clone + Send + 'static,
    {
        self.view_ref_with(name, reducer, ViewConfig::default())
    }

    /// Registers a zero-copy view like [`view_ref`](EventLogBuilder::view_ref), with its own
    /// [`ViewConfig`].
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog, EventRef, ViewConfig};
    /// fn clicks(n: u64, e: &EventRef<'_>) -> u64 {
    ///     n + u64::from(e.event_type() == "click")
    /// }
    /// let config = ViewConfig::new().version(3);
    /// let mut log = EventLog::builder(dir.path()).view_ref_with::<u64>("clicks", clicks, config).open()?;
    /// log.append(&Event::new("click", serde_json::json!({})))?;
    /// log.refresh_all()?;
    /// let snapshot = std::fs::read_to_string(log.views_dir().join("clicks.snapshot.json"))?;
    /// assert!(snapshot.ends_with("\"version\": 3\n}"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn view_ref_with<S>(
        mut self,
        name: &str,
        reducer: ReduceRefFn<S>,
        config: ViewConfig,
    ) -> Self
    where
        S: Serialize + DeserializeOwned + Default + Clone + Send + 'static,
    {
        let owned = name.to_string();
        let factory: ViewFactory = Box::new(move |dir, policy| {
            let config = config.or_policy(policy);
            Box::new(View::<S>::new_ref(&owned, reducer, dir).with_config(config))
        });
        self.views.push((name.to_string(), factory));
        self
    }

    /// Sets the [`SnapshotPolicy`] of every view whose [`ViewConfig`] sets none;
    /// [`SnapshotPolicy::every_refresh`] by default.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog, SnapshotPolicy, ViewConfig};
    /// fn count(n: u64, _e: &Event) -> u64 { n + 1 }
    /// let mut log = EventLog::builder(dir.path())
    ///     .snapshot_policy(SnapshotPolicy::every_events(10_000))
    ///     .view::<u64>("count", count) // every 10,000 events
    ///     .view_with::<u64>("each", count, ViewConfig::new().policy(SnapshotPolicy::every_refresh()))
    ///     .open()?;
    /// log.append(&Event::new("a", serde_json::json!({})))?;
    /// log.refresh_all()?; // both replay from scratch, and save
    /// log.append(&Event::new("b", serde_json::json!({})))?;
    /// let reports = log.refresh_all_with_report()?;
    /// assert_eq!((reports[0].saved, reports[1].saved), (false, true));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn snapshot_policy(mut self, policy: SnapshotPolicy) -> Self {
        self.snapshot_policy = Some(policy);
        self
    }

    /// Opens the log: creates the directory layout, takes the lock, repairs what a crash left,
    /// registers the views, and rotates if the active log is already at `max_log_size`.
    ///
    /// An existing directory is opened as it is; nothing is read for the views until they are
    /// refreshed (or a rotation refreshes them).
    ///
    /// # Errors
    ///
    /// Returns an error if a view name is invalid ([`Error::InvalidViewName`]) or registered
    /// twice ([`Error::DuplicateView`]), if the writer cannot be opened (see
    /// [`EventWriter::open_with_lock`]), or if the rotation on open fails.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Error, Event, EventLog};
    /// fn count(n: u64, _e: &Event) -> u64 { n + 1 }
    /// let log = EventLog::builder(dir.path()).view::<u64>("count", count).open()?;
    /// assert!(log.log_path().exists() && log.views_dir().is_dir());
    /// drop(log);
    ///
    /// let twice = EventLog::builder(dir.path())
    ///     .view::<u64>("count", count)
    ///     .view::<u64>("count", count)
    ///     .open();
    /// let Err(err) = twice else { panic!("a name registered twice is refused") };
    /// assert!(matches!(Error::from_io(&err), Some(Error::DuplicateView { .. })));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn open(self) -> io::Result<EventLog> {
        for (i, (name, _)) in self.views.iter().enumerate() {
            check_view_name(name)?;
            if self.views[..i].iter().any(|(other, _)| other == name) {
                return Err(Error::DuplicateView { name: name.clone() }.into());
            }
        }
        let mut writer = EventWriter::open_with_lock(&self.dir, self.lock_mode)?;
        writer.set_max_log_size(self.max_log_size);
        let reader = writer
            .reader()
            .replay_threads(self.replay_threads)
            .upcasting(self.upcasters);
        let views_dir = writer.views_dir().to_path_buf();
        let policy = self.snapshot_policy;
        let views = self
            .views
            .into_iter()
            .map(|(_, factory)| factory(&views_dir, policy))
            .collect();
        let mut log = EventLog {
            writer,
            reader,
            views,
            snapshot_policy: policy,
            rebuilds: rebuild::Rebuilds::default(),
        };
        for view in &log.views {
            let (name, version) = (view.view_name(), view.state_version());
            crate::views::rebuild::tidy_on_open(&log.reader, &views_dir, name, version)?;
        }
        if log.writer.needs_rotation(log.active_log_size()?) {
            log.rotate()?;
        }
        Ok(log)
    }
}

impl EventLog {
    /// Opens (creating if needed) the log directory `dir` with no views and no auto-rotation.
    ///
    /// # Errors
    ///
    /// As [`EventWriter::open`].
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::EventLog;
    /// let log = EventLog::open(dir.path())?;
    /// assert!(log.log_path().exists());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn open(dir: impl AsRef<Path>) -> io::Result<Self> {
        Self::builder(dir).open()
    }

    /// Starts configuring a log at `dir`: register views with
    /// [`view`](EventLogBuilder::view) and [`view_ref`](EventLogBuilder::view_ref), set
    /// [`max_log_size`](EventLogBuilder::max_log_size) and
    /// [`lock_mode`](EventLogBuilder::lock_mode), then [`open`](EventLogBuilder::open).
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::EventLog;
    /// let log = EventLog::builder(dir.path()).max_log_size(1 << 20).open()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn builder(dir: impl AsRef<Path>) -> EventLogBuilder {
        EventLogBuilder {
            dir: dir.as_ref().to_path_buf(),
            max_log_size: 0,
            lock_mode: LockMode::default(),
            snapshot_policy: None,
            views: Vec::new(),
            replay_threads: 0,
            upcasters: Upcasters::new(),
        }
    }

    /// Appends an event, synced to disk before this returns.
    ///
    /// The result tells where the line landed. If `max_log_size` is set and the active log has
    /// reached it, the log rotates before this returns (refreshing every view first), so the
    /// call may take longer; the returned offsets describe the line as written, before rotation.
    ///
    /// # Errors
    ///
    /// Returns an error if serializing, writing, syncing or the triggered rotation fails.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog};
    /// let mut log = EventLog::open(dir.path())?;
    /// let r = log.append(&Event::new("a", serde_json::json!({"k": "v"})))?;
    /// assert_eq!(r.start_offset, 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn append(&mut self, event: &Event) -> io::Result<AppendResult> {
        let result = self.writer.append(event)?;
        self.rotate_if_needed(result.end_offset)?;
        Ok(result)
    }

    /// Appends several events with a single write and a single sync; auto-rotation is checked
    /// once, after the batch.
    ///
    /// # Errors
    ///
    /// As [`EventWriter::append_batch`], plus a failed rotation.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog};
    /// let mut log = EventLog::open(dir.path())?;
    /// let events: Vec<Event> = (0..3).map(|i| Event::new("n", serde_json::json!(i))).collect();
    /// let results = log.append_batch(&events)?;
    /// assert_eq!(results.len(), 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn append_batch(&mut self, events: &[Event]) -> io::Result<Vec<AppendResult>> {
        let results = self.writer.append_batch(events)?;
        if let Some(last) = results.last() {
            self.rotate_if_needed(last.end_offset)?;
        }
        Ok(results)
    }

    /// Appends only if the log is where the caller expects (see [`EventWriter::append_if`]);
    /// may then rotate like [`append`](EventLog::append).
    ///
    /// # Errors
    ///
    /// [`ConditionalAppendError::Conflict`] when the log has moved on;
    /// [`ConditionalAppendError::Io`] for I/O failures, including a failed rotation.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog};
    /// let mut log = EventLog::open(dir.path())?;
    /// let r = log.append_if(&Event::new("a", serde_json::json!({})), 0, "")?;
    /// assert!(log.append_if(&Event::new("b", serde_json::json!({})), 0, "").is_err());
    /// log.append_if(&Event::new("b", serde_json::json!({})), r.end_offset, &r.line_hash)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn append_if(
        &mut self,
        event: &Event,
        expected_offset: u64,
        expected_hash: &str,
    ) -> Result<AppendResult, ConditionalAppendError> {
        let result = self
            .writer
            .append_if(event, expected_offset, expected_hash)?;
        self.rotate_if_needed(result.end_offset)?;
        Ok(result)
    }

    fn rotate_if_needed(&mut self, size: u64) -> io::Result<()> {
        if self.writer.needs_rotation(size) {
            self.rotate()
        } else {
            Ok(())
        }
    }

    /// Reads active-log events from byte `offset` on; see [`EventReader::read_from`].
    ///
    /// Views do this for you; use it to tail the log or to inspect it.
    ///
    /// # Errors
    ///
    /// As [`EventReader::read_from`].
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog};
    /// let mut log = EventLog::open(dir.path())?;
    /// let a = log.append(&Event::new("a", serde_json::json!({})))?;
    /// let b = log.append(&Event::new("b", serde_json::json!({})))?;
    /// let read: Vec<_> = log.read_from(0)?.collect::<Result<_, _>>()?;
    /// let (event, next_offset, hash) = &read[1];
    /// assert_eq!(event.event_type, "b");
    /// assert_eq!((*next_offset, hash), (b.end_offset, &b.line_hash));
    /// assert_eq!(read[0].1, a.end_offset);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read_from(
        &self,
        offset: u64,
    ) -> io::Result<impl Iterator<Item = io::Result<(Event, u64, String)>> + use<>> {
        self.reader.read_from(offset)
    }

    /// Reads the whole history, archive then active log; see [`EventReader::read_full`].
    ///
    /// Useful for debugging, exports, or replaying by hand to a point in time.
    ///
    /// # Errors
    ///
    /// As [`EventReader::read_full`].
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog};
    /// let mut log = EventLog::open(dir.path())?;
    /// let archived = log.append(&Event::new("old", serde_json::json!({})))?;
    /// log.rotate()?;
    /// log.append(&Event::new("new", serde_json::json!({})))?;
    /// let history: Vec<_> = log.read_full()?.collect::<Result<_, _>>()?;
    /// assert_eq!(history.len(), 2);
    /// assert_eq!(history[0].0.event_type, "old"); // from the archive
    /// assert_eq!(history[0].1, archived.line_hash);
    /// assert_eq!(history[1].0.event_type, "new"); // from the active log
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read_full(&self) -> io::Result<FullHistory> {
        self.reader.read_full()
    }

    /// Rotates the active log into the archive; see [`EventWriter::rotate`] for the steps.
    ///
    /// Every registered view is refreshed first, so none needs the archive afterwards.
    ///
    /// # Errors
    ///
    /// As [`EventWriter::rotate`].
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog};
    /// fn count(n: u64, _e: &Event) -> u64 { n + 1 }
    /// let mut log = EventLog::builder(dir.path()).view::<u64>("count", count).open()?;
    /// log.append(&Event::new("a", serde_json::json!({})))?;
    /// log.rotate()?;
    /// assert_eq!(log.active_log_size()?, 0);
    /// assert_eq!(*log.view::<u64>("count")?, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn rotate(&mut self) -> io::Result<()> {
        let reader = &self.reader;
        self.writer.rotate_views(reader, self.views.iter_mut())
    }

    /// Refreshes every registered view, in registration order; each saves its snapshot if it
    /// folded new events.
    ///
    /// # Errors
    ///
    /// Returns the first error of a view's refresh (see [`View::refresh`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog};
    /// fn count(n: u64, _e: &Event) -> u64 { n + 1 }
    /// fn types(mut seen: Vec<String>, e: &Event) -> Vec<String> {
    ///     seen.push(e.event_type.clone());
    ///     seen
    /// }
    /// let mut log = EventLog::builder(dir.path())
    ///     .view::<u64>("count", count)
    ///     .view::<Vec<String>>("types", types)
    ///     .open()?;
    /// log.append(&Event::new("a", serde_json::json!({})))?;
    /// assert_eq!(*log.view::<u64>("count")?, 0); // not refreshed yet
    /// log.refresh_all()?;
    /// assert_eq!(*log.view::<u64>("count")?, 1);
    /// assert_eq!(*log.view::<Vec<String>>("types")?, ["a"]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn refresh_all(&mut self) -> io::Result<()> {
        self.refresh_all_with_report().map(|_| ())
    }

    /// Refreshes every registered view like [`refresh_all`](EventLog::refresh_all) and
    /// returns what each did, in registration order.
    ///
    /// # Errors
    ///
    /// As [`EventLog::refresh_all`]; the reports of the views refreshed before the failing
    /// one are lost with the error.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog, Replay};
    /// fn count(n: u64, _e: &Event) -> u64 { n + 1 }
    /// let mut log = EventLog::builder(dir.path()).view::<u64>("count", count).open()?;
    /// log.append(&Event::new("a", serde_json::json!({})))?;
    /// for report in log.refresh_all_with_report()? {
    ///     assert_eq!(report.replay, Some(Replay::NoSnapshot)); // its first refresh
    ///     println!("{report}");
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn refresh_all_with_report(&mut self) -> io::Result<Vec<RefreshReport>> {
        if !self.rebuilds.is_empty() {
            self.poll_rebuilds();
        }
        crate::views::pass::refresh_all(&self.reader, &mut self.views)
    }

    /// Saves the snapshot of every registered view that holds unsaved progress (see
    /// [`View::save`]), in registration order.
    ///
    /// Views save by themselves as their [`SnapshotPolicy`] says; call this before dropping
    /// the log (or at a quiet moment) to keep what they folded since. Dropping the log saves
    /// nothing: the next refresh folds those events again.
    ///
    /// # Errors
    ///
    /// Returns the first error of a view's save; the views after it are not saved.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog, SnapshotPolicy};
    /// fn count(n: u64, _e: &Event) -> u64 { n + 1 }
    /// let mut log = EventLog::builder(dir.path())
    ///     .snapshot_policy(SnapshotPolicy::manual())
    ///     .view::<u64>("count", count)
    ///     .open()?;
    /// log.append(&Event::new("a", serde_json::json!({})))?;
    /// log.refresh_all()?;
    /// log.save_all()?;
    /// drop(log);
    /// let log = EventLog::builder(dir.path()).view::<u64>("count", count).open()?;
    /// let saved = eventfold::snapshot::load::<u64>(&log.views_dir().join("count.snapshot.json"))?;
    /// assert_eq!(saved.map(|s| s.state), Some(1));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn save_all(&mut self) -> io::Result<()> {
        for view in &mut self.views {
            view.save_boxed()?;
        }
        Ok(())
    }

    /// Returns the in-memory state of the view `name`, as last refreshed (no I/O).
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::NotFound`] if no view has that name; [`io::ErrorKind::InvalidInput`]
    /// if its state type is not `S`.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog};
    /// fn count(n: u64, _e: &Event) -> u64 { n + 1 }
    /// let log = EventLog::builder(dir.path()).view::<u64>("count", count).open()?;
    /// assert_eq!(*log.view::<u64>("count")?, 0);
    /// assert!(log.view::<u64>("missing").is_err());
    /// assert!(log.view::<String>("count").is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn view<S>(&self, name: &str) -> io::Result<&S>
    where
        S: Serialize + DeserializeOwned + Default + Clone + 'static,
    {
        Ok(self.find_view::<S>(name)?.state())
    }

    /// The registered view `name`, as a `View<S>`.
    fn find_view<S: 'static>(&self, name: &str) -> io::Result<&View<S>> {
        let view = self
            .views
            .iter()
            .find(|v| v.view_name() == name)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("no view named {name:?} is registered"),
                )
            })?;
        view.as_any().downcast_ref::<View<S>>().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "view {name:?} does not hold a {}: ask for the type it was registered with",
                    std::any::type_name::<S>()
                ),
            )
        })
    }

    /// The state of the view `name` as it was at `at`; see [`View::state_at`].
    ///
    /// # Errors
    ///
    /// As [`EventLog::view`] for the name and type, then as [`View::state_at`].
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{At, Event, EventLog};
    /// fn count(n: u64, _e: &Event) -> u64 { n + 1 }
    /// let mut log = EventLog::builder(dir.path()).view::<u64>("count", count).open()?;
    /// for _ in 0..3 {
    ///     log.append(&Event::new("tick", serde_json::json!({})))?;
    /// }
    /// log.rotate()?;
    /// log.append(&Event::new("tick", serde_json::json!({})))?;
    /// assert_eq!(log.state_at::<u64>("count", At::Event(1))?, 2);
    /// assert_eq!(*log.view::<u64>("count")?, 3); // the view itself is unchanged
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn state_at<S>(&self, name: &str, at: At) -> io::Result<S>
    where
        S: Serialize + DeserializeOwned + Default + Clone + 'static,
    {
        self.find_view::<S>(name)?.state_at(&self.reader, at)
    }

    /// Returns a reader for this log (cheap; readers are independent handles).
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog};
    /// let mut log = EventLog::open(dir.path())?;
    /// let reader = log.reader();
    /// log.append(&Event::new("a", serde_json::json!({})))?;
    /// assert_eq!(reader.read_from(0)?.count(), 1); // sees what the log appended since
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn reader(&self) -> EventReader {
        self.reader.clone()
    }

    /// Returns the writer.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::EventLog;
    /// let log = EventLog::open(dir.path())?;
    /// assert_eq!(log.writer().log_path(), log.log_path());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn writer(&self) -> &EventWriter {
        &self.writer
    }

    /// Returns the writer, mutably.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog};
    /// let mut log = EventLog::builder(dir.path()).max_log_size(1).open()?;
    /// // The writer never rotates, so this append stays in the active log.
    /// let r = log.writer_mut().append(&Event::new("a", serde_json::json!({})))?;
    /// assert_eq!(log.active_log_size()?, r.end_offset);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn writer_mut(&mut self) -> &mut EventWriter {
        &mut self.writer
    }

    /// Returns the log directory.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::EventLog;
    /// let log = EventLog::open(dir.path())?;
    /// assert_eq!(log.dir(), dir.path());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn dir(&self) -> &Path {
        self.writer.dir()
    }

    /// Returns the path to `app.jsonl`.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::EventLog;
    /// let log = EventLog::open(dir.path())?;
    /// assert_eq!(log.log_path(), dir.path().join("app.jsonl"));
    /// assert!(log.log_path().is_file());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn log_path(&self) -> &Path {
        self.writer.log_path()
    }

    /// Returns the path to `archive.jsonl.zst`.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog};
    /// let mut log = EventLog::open(dir.path())?;
    /// assert_eq!(log.archive_path(), dir.path().join("archive.jsonl.zst"));
    /// assert!(!log.archive_path().exists()); // created by the first rotation
    /// log.append(&Event::new("a", serde_json::json!({})))?;
    /// log.rotate()?;
    /// assert!(log.archive_path().exists());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn archive_path(&self) -> &Path {
        self.writer.archive_path()
    }

    /// Returns the path to `views/`.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog};
    /// fn count(n: u64, _e: &Event) -> u64 { n + 1 }
    /// let mut log = EventLog::builder(dir.path()).view::<u64>("count", count).open()?;
    /// assert_eq!(log.views_dir(), dir.path().join("views"));
    /// log.append(&Event::new("a", serde_json::json!({})))?;
    /// log.refresh_all()?;
    /// assert!(log.views_dir().join("count.snapshot.json").exists());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn views_dir(&self) -> &Path {
        self.writer.views_dir()
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
    /// use eventfold::{Event, EventLog};
    /// let mut log = EventLog::open(dir.path())?;
    /// assert_eq!(log.active_log_size()?, 0);
    /// let r = log.append(&Event::new("a", serde_json::json!({})))?;
    /// assert_eq!(log.active_log_size()?, r.end_offset);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn active_log_size(&self) -> io::Result<u64> {
        self.reader.active_log_size()
    }

    /// Returns `true` when `app.jsonl` holds bytes past `offset`.
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
    /// let mut seen = 0;
    /// log.append(&Event::new("a", serde_json::json!({})))?;
    /// if log.has_new_events(seen)? {
    ///     for item in log.read_from(seen)? {
    ///         let (_event, next, _hash) = item?;
    ///         seen = next;
    ///     }
    /// }
    /// assert_eq!(seen, log.active_log_size()?);
    /// assert!(!log.has_new_events(seen)?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn has_new_events(&self, offset: u64) -> io::Result<bool> {
        self.reader.has_new_events(offset)
    }

    /// Blocks until the active log grows past `offset` or `timeout` elapses; see
    /// [`EventReader::wait_for_events`].
    ///
    /// # Errors
    ///
    /// As [`EventReader::wait_for_events`].
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog, WaitResult};
    /// use std::time::Duration;
    /// let mut log = EventLog::open(dir.path())?;
    /// let r = log.append(&Event::new("a", serde_json::json!({})))?;
    /// // The log is already past offset 0, so this returns at once.
    /// let waited = log.wait_for_events(0, Duration::from_secs(5))?;
    /// assert_eq!(waited, WaitResult::NewData(r.end_offset));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait_for_events(&self, offset: u64, timeout: Duration) -> io::Result<WaitResult> {
        self.reader.wait_for_events(offset, timeout)
    }

    /// Returns the hash of the line ending just before `offset`; see
    /// [`EventReader::read_line_hash_before`].
    ///
    /// # Errors
    ///
    /// As [`EventReader::read_line_hash_before`].
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog};
    /// let mut log = EventLog::open(dir.path())?;
    /// let a = log.append(&Event::new("a", serde_json::json!({})))?;
    /// let b = log.append(&Event::new("b", serde_json::json!({})))?;
    /// assert_eq!(log.read_line_hash_before(a.end_offset)?, Some(a.line_hash));
    /// assert_eq!(log.read_line_hash_before(b.end_offset)?, Some(b.line_hash));
    /// assert_eq!(log.read_line_hash_before(b.end_offset + 1)?, None); // past the end
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read_line_hash_before(&self, offset: u64) -> io::Result<Option<String>> {
        self.reader.read_line_hash_before(offset)
    }
}
