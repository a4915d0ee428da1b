//! Views: state derived from the log by a reducer, cached in a snapshot file.

use crate::error::{Context, check_view_name};
use crate::format::event::{Event, EventRef};
use crate::format::fold::{self, LineFold, MaxTs, ReduceFn, ReduceRefFn, Until};
use crate::format::upcast::Upcasting;
use crate::replay::counted::{Count, Counted};
use crate::replay::reader::{EventReader, Folded, Pauses, Place, Tail};
use crate::store::fsutil;
use crate::store::platform;
use crate::store::recovery;
use crate::store::snapshot::{self, Durability};
use crate::views::checkpoint::{self, Mark};
use crate::views::policy::ViewConfig;
use crate::views::report::{RefreshReport, Replay};
use crate::views::travel::{self, At, Start};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::any::Any;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The `log` target of this module's log lines: the module path it had before the crate's
/// modules were grouped into layers, kept so that filters naming it still match.
const LOG_TARGET: &str = "eventfold::view";

mod sealed {
    pub trait Sealed {}
}

/// The operations a log performs on every registered view, whatever its state type.
///
/// Sealed: only [`View`] implements it.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{Event, EventWriter, View, ViewOps};
/// use std::collections::HashMap;
/// fn count(n: u64, _e: &Event) -> u64 { n + 1 }
/// let mut writer = EventWriter::open(dir.path())?;
/// writer.append(&Event::new("a", serde_json::json!({})))?;
///
/// let mut views: HashMap<String, Box<dyn ViewOps>> = HashMap::new();
/// views.insert("count".into(), Box::new(View::<u64>::new("count", count, writer.views_dir())));
/// let reader = writer.reader();
/// writer.rotate(&reader, &mut views)?; // refreshes every view first
/// let view = &views["count"];
/// assert_eq!(view.view_name(), "count");
/// assert_eq!(view.as_any().downcast_ref::<View<u64>>().map(View::state), Some(&1));
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait ViewOps: sealed::Sealed + Send {
    /// Refreshes the view (see [`View::refresh`]), then makes its snapshot durable (written and
    /// synced, with its directory) whatever the view's
    /// [`SnapshotPolicy`](crate::SnapshotPolicy).
    ///
    /// Rotation calls this on every view before it archives the active log, so that a crash in
    /// the middle of the rotation finds each snapshot where the archived log ends, never at an
    /// earlier offset 0 that the grown archive would make wrong.
    ///
    /// # Errors
    ///
    /// As [`View::refresh`], plus a failure to write or sync the snapshot.
    fn refresh_boxed(&mut self, reader: &EventReader) -> io::Result<()>;
    /// Refreshes the view and reports what it did (see [`View::refresh_with_report`]).
    ///
    /// # Errors
    ///
    /// As [`View::refresh`].
    fn refresh_with_report_boxed(&mut self, reader: &EventReader) -> io::Result<RefreshReport>;
    /// Saves the view's snapshot if it holds unsaved progress (see [`View::save`]).
    ///
    /// # Errors
    ///
    /// As [`View::save`].
    fn save_boxed(&mut self) -> io::Result<bool>;
    /// The first half of a refresh whose fold the view shares with others: loads and checks
    /// the snapshot, and says where the fold must start. Used by
    /// [`EventLog::refresh_all`](crate::EventLog::refresh_all).
    #[doc(hidden)]
    fn pass_begin(&mut self, reader: &EventReader) -> io::Result<PassStart>;
    /// Folds one event of a shared pass.
    #[doc(hidden)]
    fn pass_fold(&mut self, item: &PassItem<'_, '_>);
    /// The second half of a refresh whose fold was shared.
    #[doc(hidden)]
    fn pass_finish(&mut self, outcome: Outcome) -> io::Result<RefreshReport>;
    /// Sets the view's offset to 0 and its hash to empty and saves its snapshot durably
    /// (synced, with its directory), whatever the view's [`SnapshotPolicy`](crate::SnapshotPolicy):
    /// what rotation does once the active log has been archived.
    ///
    /// # Errors
    ///
    /// Returns an error if the snapshot cannot be saved.
    fn reset_offset(&mut self) -> io::Result<()>;
    /// The version of the view's state (see [`ViewConfig::version`]).
    #[doc(hidden)]
    fn state_version(&self) -> u32;
    /// The view's name.
    fn view_name(&self) -> &str;
    /// The view as `Any`, to recover its concrete `View<S>`.
    fn as_any(&self) -> &dyn Any;
    /// The view as mutable `Any`.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

// The types of the hidden methods of `ViewOps`, with which `crate::views::pass` shares one fold
// among several views. They are public only because `ViewOps` names them; they live in a
// private module, so no program outside the crate can name or build them.

/// Where a view's fold starts, as the first half of its refresh decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassStart {
    /// The view folds alone, with its own refresh (it keeps checkpoints).
    Alone,
    /// From the first event of the history.
    Full { owned: bool },
    /// From this offset of the active log.
    Active { offset: u64, owned: bool },
}

/// One event of a shared pass, as each kind of reducer reads it.
#[derive(Debug)]
pub struct PassItem<'a, 'b> {
    /// The owned event, when a view of the pass needs one.
    pub event: Option<&'a Event>,
    /// The borrowed event, when a view of the pass reads one.
    pub event_ref: Option<&'a EventRef<'b>>,
}

/// What a fold did for a view: the second half of its refresh works from it.
#[derive(Debug, Default)]
pub struct Outcome {
    pub(crate) count: Count,
    pub(crate) tail: Option<Tail>,
    pub(crate) error: Option<io::Error>,
    pub(crate) failed_in_archive: bool,
    pub(crate) any: bool,
    pub(crate) events: u64,
    pub(crate) max_ts: MaxTs,
    pub(crate) archive_end: Option<u64>,
}

#[derive(Clone, Copy)]
enum Reducer<S> {
    Owned(ReduceFn<S>),
    Borrowed(ReduceRefFn<S>),
}

/// A named state derived from the log by a reducer, kept up to date incrementally.
///
/// The view holds its state in memory and caches it on disk at `views/NAME.snapshot.json` with
/// the offset in `app.jsonl` it has read up to. [`refresh`](View::refresh) reads only the events
/// past that offset; with no usable snapshot it replays the whole history.
///
/// When the snapshot is written is the view's [`SnapshotPolicy`](crate::SnapshotPolicy) (set
/// with [`with_config`](View::with_config); after every refresh that folded an event by
/// default). Progress not yet saved stays in memory: [`save`](View::save) writes it, and
/// dropping the view does not (a drop cannot report an error). Nothing is lost either way, since
/// the snapshot is only a cache: the next refresh folds again the events after the last saved
/// offset.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{Event, EventWriter, View};
/// let mut writer = EventWriter::open(dir.path())?;
/// writer.append(&Event::new("a", serde_json::json!({})))?;
/// let mut view: View<u64> = View::new("count", |n, _e| n + 1, writer.views_dir());
/// assert_eq!(*view.refresh(&writer.reader())?, 1);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct View<S> {
    name: String,
    reducer: Reducer<S>,
    snapshot_path: PathBuf,
    state: S,
    offset: u64,
    hash: String,
    config: ViewConfig,
    loaded: bool,
    /// Why the next refresh must replay the whole history, if it must.
    replay: Option<Replay>,
    /// Whether the state in memory holds events the snapshot on disk does not.
    unsaved: bool,
    /// Events and bytes folded since the last save, for the snapshot policy.
    since_save: Count,
    /// Size of the snapshot file last read or written: the next save's buffer size.
    snapshot_len: usize,
    /// The archive's length and the active log's inode when the state was last brought up to
    /// date, to notice a rotation since (for views not reset by it, such as standalone ones).
    generation: Option<(u64, platform::FileId)>,
    /// For a view that keeps checkpoints: where its state stands in the history, once known.
    tracked: Option<Tracked>,
    /// The first half of a refresh whose fold is shared with other views (see
    /// `crate::views::pass`).
    pending: Option<Begun>,
    /// During a refresh through upcasters that has events to fold: the state (and where it
    /// stands in the history) before the fold, which an upcaster's failure brings back.
    before: Option<(S, Option<Tracked>)>,
}

/// What the first half of a refresh decided, for the second.
#[derive(Debug)]
struct Begun {
    started: Instant,
    replay: Option<Replay>,
    full: bool,
}

/// Whether `error` is an upcaster's failure ([`crate::Error::Upcast`]).
fn is_upcast(error: &io::Error) -> bool {
    matches!(
        crate::Error::from_io(error),
        Some(crate::Error::Upcast { .. })
    )
}

/// Where a view's state stands in the history, kept by views with checkpoints: what a
/// checkpoint records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tracked {
    /// Events folded into the state, from the first of the history.
    events: u64,
    /// The largest `ts` folded, as far as it is known.
    max_ts: MaxTs,
    /// The position where the active log the view's offset points into begins.
    active_base: u64,
}

impl<S: fmt::Debug> fmt::Debug for View<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("View")
            .field("name", &self.name)
            .field("snapshot_path", &self.snapshot_path)
            .field("state", &self.state)
            .field("offset", &self.offset)
            .field("config", &self.config)
            .finish()
    }
}

impl<S> View<S>
where
    S: Serialize + DeserializeOwned + Default + Clone,
{
    /// Creates a view named `name` over owned events, with its snapshot in `views_dir`.
    ///
    /// Nothing is read until the first [`refresh`](View::refresh); the state starts as
    /// `S::default()`.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{EventWriter, View};
    /// let writer = EventWriter::open(dir.path())?;
    /// let view: View<u64> = View::new("count", |n, _e| n + 1, writer.views_dir());
    /// assert_eq!((view.name(), *view.state()), ("count", 0));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(name: &str, reducer: ReduceFn<S>, views_dir: &Path) -> Self {
        Self::with_reducer(name, Reducer::Owned(reducer), views_dir)
    }

    /// Creates a view named `name` whose reducer reads borrowed [`EventRef`]s.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventRef, EventWriter, View};
    /// let mut writer = EventWriter::open(dir.path())?;
    /// writer.append(&Event::new("a", serde_json::json!({})))?;
    /// fn count(n: u64, _e: &EventRef<'_>) -> u64 { n + 1 }
    /// let mut view: View<u64> = View::new_ref("count", count, writer.views_dir());
    /// assert_eq!(*view.refresh(&writer.reader())?, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new_ref(name: &str, reducer: ReduceRefFn<S>, views_dir: &Path) -> Self {
        Self::with_reducer(name, Reducer::Borrowed(reducer), views_dir)
    }

    fn with_reducer(name: &str, reducer: Reducer<S>, views_dir: &Path) -> Self {
        View {
            name: name.to_string(),
            reducer,
            snapshot_path: views_dir.join(format!("{name}.snapshot.json")),
            state: S::default(),
            offset: 0,
            hash: String::new(),
            config: ViewConfig::default(),
            loaded: false,
            replay: None,
            unsaved: false,
            since_save: Count::default(),
            snapshot_len: 0,
            generation: None,
            tracked: None,
            pending: None,
            before: None,
        }
    }

    /// Applies `config`: the view's [`SnapshotPolicy`](crate::SnapshotPolicy) and state
    /// version.
    ///
    /// Meant for a view that has not been refreshed yet: the version is checked against the
    /// snapshot when it is loaded, at the first refresh. A policy set later applies from the
    /// next refresh on.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventWriter, SnapshotPolicy, View, ViewConfig};
    /// let mut writer = EventWriter::open(dir.path())?;
    /// writer.append(&Event::new("a", serde_json::json!({})))?;
    /// let config = ViewConfig::new().policy(SnapshotPolicy::manual());
    /// let mut view = View::<u64>::new("count", |n, _e| n + 1, writer.views_dir()).with_config(config);
    /// view.refresh(&writer.reader())?;
    /// assert!(!writer.views_dir().join("count.snapshot.json").exists()); // manual: not saved
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[must_use]
    pub fn with_config(mut self, config: ViewConfig) -> Self {
        self.config = config;
        self
    }

    /// Brings the view up to date with the log and returns its state.
    ///
    /// The first call loads the snapshot and checks it: its version must be the view's, its
    /// offset must lie within `app.jsonl` and the line before it must hash to the stored hash;
    /// otherwise the snapshot is discarded. With no usable snapshot, the whole history (archive,
    /// then active log) is replayed; with one, only the events after its offset are read. Then
    /// the view's [`SnapshotPolicy`](crate::SnapshotPolicy) decides whether the snapshot is
    /// saved: by default whenever any event was folded, and never when none was. A replay of the
    /// whole history that folded events saves under every policy but
    /// [`manual`](crate::SnapshotPolicy::manual).
    ///
    /// # Errors
    ///
    /// Returns an error if the view's name is not a valid file name, if a file cannot be read,
    /// if a line is malformed ([`Error::Malformed`](crate::Error::Malformed), naming file, byte offset and line), or if
    /// the snapshot cannot be saved. After an error in the active log the view keeps the events
    /// folded before the bad line, with its offset just past the last of them. An upcaster's
    /// failure ([`Error::Upcast`](crate::Error::Upcast)) keeps nothing of the refresh: the
    /// state and offset are those from before it (a clone of the state is kept during each
    /// refresh through upcasters that has events to fold), and the snapshot is not written.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventWriter, View};
    /// let mut writer = EventWriter::open(dir.path())?;
    /// let mut view: View<u64> = View::new("count", |n, _e| n + 1, writer.views_dir());
    /// writer.append(&Event::new("a", serde_json::json!({})))?;
    /// assert_eq!(*view.refresh(&writer.reader())?, 1);
    /// writer.append(&Event::new("b", serde_json::json!({})))?;
    /// assert_eq!(*view.refresh(&writer.reader())?, 2); // reads only the new event
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn refresh(&mut self, reader: &EventReader) -> io::Result<&S> {
        self.refresh_inner(reader)?;
        Ok(&self.state)
    }

    /// Refreshes the view like [`refresh`](View::refresh) and reports what it did: how many
    /// events it folded, whether (and why) it replayed the whole history, whether it saved
    /// the snapshot, and how long it took.
    ///
    /// # Errors
    ///
    /// As [`View::refresh`].
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventWriter, Replay, View};
    /// let mut writer = EventWriter::open(dir.path())?;
    /// writer.append(&Event::new("a", serde_json::json!({})))?;
    /// let mut view: View<u64> = View::new("count", |n, _e| n + 1, writer.views_dir());
    /// let report = view.refresh_with_report(&writer.reader())?;
    /// assert_eq!((report.folded, report.replay, report.saved), (1, Some(Replay::NoSnapshot), true));
    ///
    /// let mut reopened: View<u64> = View::new("count", |n, _e| n + 1, writer.views_dir());
    /// let report = reopened.refresh_with_report(&writer.reader())?;
    /// assert_eq!((report.folded, report.replay, report.saved), (0, None, false));
    /// assert_eq!(*reopened.state(), 1); // from the snapshot
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn refresh_with_report(&mut self, reader: &EventReader) -> io::Result<RefreshReport> {
        self.refresh_inner(reader)
    }

    fn refresh_inner(&mut self, reader: &EventReader) -> io::Result<RefreshReport> {
        let (begun, checkpoints) = self.begin(reader)?;
        let state = (std::mem::take(&mut self.state), Count::default());
        let full = begun.full;
        let folded = match (&self.reducer, reader.upcasters_if_any()) {
            (&Reducer::Owned(reduce), None) => self.fold(
                reader,
                full,
                state,
                &Counted(fold::Owned(reduce)),
                checkpoints,
            ),
            (&Reducer::Borrowed(reduce), None) => self.fold(
                reader,
                full,
                state,
                &Counted(fold::Borrowed(reduce)),
                checkpoints,
            ),
            (&Reducer::Owned(reduce), Some(upcasters)) => {
                let fold = Counted(Upcasting::new(fold::Owned(reduce), upcasters));
                self.fold(reader, full, state, &fold, checkpoints)
            }
            (&Reducer::Borrowed(reduce), Some(upcasters)) => {
                let fold = Counted(Upcasting::new(fold::Borrowed(reduce), upcasters));
                self.fold(reader, full, state, &fold, checkpoints)
            }
        };
        let Folded {
            acc: (acc, count),
            tail,
            error,
            failed_in_archive,
            any,
            events,
            stopped: _,
            max_ts,
            archive_end,
        } = folded;
        self.state = acc;
        let outcome = Outcome {
            count,
            tail,
            error,
            failed_in_archive,
            any,
            events,
            max_ts,
            archive_end,
        };
        self.finish(begun, outcome)
    }

    /// The first half of a refresh, before the fold: loads and checks the snapshot, or notices
    /// a rotation, and decides whether to replay the whole history. Until
    /// [`finish`](Self::finish), the view counts as not loaded: should a reducer panic during
    /// the fold, the next refresh reloads the snapshot instead of going on from a state the
    /// panic left half folded.
    fn begin(&mut self, reader: &EventReader) -> io::Result<(Begun, Option<CheckpointWriter>)> {
        let started = Instant::now();
        check_view_name(&self.name)?;
        let generation = (
            fsutil::len_or_zero(reader.archive_path())?,
            platform::path_id(reader.log_path()).context("access", reader.log_path())?,
        );
        if !self.loaded {
            self.load(reader)?;
        } else if self.replay.is_none() {
            self.follow_rotation(reader, generation)?;
        }
        self.generation = Some(generation);
        let replay = self.replay.take();
        let full = replay.is_some();
        if let Some(reason) = replay {
            self.forget_checkpoints(reason)?;
        }
        let checkpoints = self.start_tracking(reader, full)?;
        // An upcaster that fails must leave the view as it was, but the fold has then folded
        // the events before the failing one: keep a copy of the state to go back to (a full
        // replay goes back to starting over, which needs none), and only when there are
        // events to fold.
        self.before = None;
        if !full
            && reader.upcasters_if_any().is_some()
            && fsutil::len_or_zero(reader.log_path())? > self.offset
        {
            self.before = Some((self.state.clone(), self.tracked));
        }
        self.loaded = false;
        let begun = Begun {
            started,
            replay,
            full,
        };
        Ok((begun, checkpoints))
    }

    /// The second half of a refresh, once the state has folded `outcome`: where the view now
    /// stands, and the save its policy asks for.
    fn finish(&mut self, begun: Begun, outcome: Outcome) -> io::Result<RefreshReport> {
        let Begun {
            started,
            replay,
            full,
        } = begun;
        let Outcome {
            count,
            tail,
            error,
            failed_in_archive,
            any,
            events,
            max_ts,
            archive_end,
        } = outcome;
        self.loaded = true;
        let before = self.before.take();
        let (error, upcast) = match error {
            Some(error) if is_upcast(&error) => (None, Some(error)),
            error => (error, None),
        };
        if let Some(error) = upcast {
            // Nothing of this refresh is kept: the state and its place in the log are those
            // before it, and the snapshot is not written.
            match before {
                Some((state, tracked)) if !full => {
                    self.state = state;
                    self.tracked = tracked;
                }
                // A replay starts over (for the same reason) at the next refresh.
                _ => self.reset(replay.unwrap_or(Replay::Retry)),
            }
            return Err(error);
        }
        if let Some(tracked) = self.tracked.as_mut() {
            tracked.events += events;
            tracked.max_ts = tracked.max_ts.then(max_ts);
            if let Some(end) = archive_end {
                tracked.active_base = end;
            }
        }
        if let Some(error) = error {
            if failed_in_archive {
                // A partial archive replay has no place in the active log: start over next time.
                self.reset(Replay::Retry);
            } else if let Some(tail) = tail {
                self.offset = tail.end;
                self.hash = tail.hash;
                self.folded(count);
            } else if full {
                // The whole archive was folded; the active log failed before its first event.
                self.offset = 0;
                self.hash.clear();
                self.folded(count);
            }
            return Err(error);
        }
        match tail {
            Some(tail) => {
                self.offset = tail.end;
                self.hash = tail.hash;
            }
            // A replay that found events only in the archive still has work to keep.
            None if full && any => {
                self.offset = 0;
                self.hash.clear();
            }
            None => {}
        }
        self.folded(count);
        let policy = self.config.effective_policy();
        let due = count.events > 0
            && if full {
                !policy.is_manual()
            } else {
                policy.is_due(self.since_save.events, self.since_save.bytes)
            };
        if due {
            // A requested rebuild usually follows a change of reducer: a crash must not bring
            // back the snapshot it replaced, which the offset and hash check would accept.
            let durability = if replay == Some(Replay::Requested) {
                Durability::Durable
            } else {
                Durability::Cache
            };
            self.write_snapshot(durability)?;
        }
        let elapsed = started.elapsed();
        if let Some(reason) = replay {
            ::log::info!(
                target: LOG_TARGET,
                "eventfold: view '{}': replayed the whole history ({}): {} events in {:?}",
                self.name,
                reason,
                count.events,
                elapsed
            );
        }
        Ok(RefreshReport {
            view: self.name.clone(),
            folded: count.events,
            replay,
            saved: due,
            elapsed,
        })
    }

    /// Accounts for `count` events folded into the state since the last save.
    fn folded(&mut self, count: Count) {
        if count.events > 0 {
            self.unsaved = true;
            self.since_save.events += count.events;
            self.since_save.bytes += count.bytes;
        }
    }

    /// Forgets the state and its position: the next refresh replays the whole history.
    fn reset(&mut self, reason: Replay) {
        self.state = S::default();
        self.offset = 0;
        self.hash.clear();
        self.tracked = None;
        self.replay = Some(reason);
        self.unsaved = false;
        self.since_save = Count::default();
    }

    /// Discards what the snapshot (or the state in memory) holds, and says why.
    fn discard(&mut self, reason: Replay, detail: fmt::Arguments<'_>) {
        ::log::warn!(target: LOG_TARGET, "eventfold: view '{}': {}, rebuilding", self.name, detail);
        self.reset(reason);
    }

    fn fold<F: LineFold<(S, Count)>>(
        &self,
        reader: &EventReader,
        full: bool,
        state: (S, Count),
        fold: &F,
        checkpoints: Option<CheckpointWriter>,
    ) -> Folded<(S, Count)> {
        match (checkpoints, full) {
            (None, true) => reader.fold_full(state, fold),
            (None, false) => reader.fold_active(self.offset, state, fold),
            (Some(mut writer), true) => reader.fold_full_pausing(state, fold, &mut writer),
            (Some(mut writer), false) => {
                let base = writer.active_base;
                reader.fold_active_pausing(self.offset, base, state, fold, &mut writer)
            }
        }
    }

    /// For a view that keeps checkpoints, before a fold: makes sure the view knows where its
    /// state stands in the history (from scratch, from its snapshot, or counted), and returns
    /// what writes the checkpoints the fold passes.
    fn start_tracking(
        &mut self,
        reader: &EventReader,
        full: bool,
    ) -> io::Result<Option<CheckpointWriter>> {
        let Some(settings) = self.config.checkpoint_settings() else {
            self.tracked = None;
            return Ok(None);
        };
        if full {
            self.tracked = Some(Tracked {
                events: 0,
                max_ts: MaxTs::EMPTY,
                active_base: 0,
            });
        } else if self.tracked.is_none() {
            let before = reader.before_active_offset(self.offset)?;
            self.tracked = Some(Tracked {
                events: before.events,
                max_ts: before.max_ts,
                active_base: before.active_base,
            });
        }
        // Even without an interval the fold tracks the largest `ts`: what a time lookup starting
        // from this state, or from the checkpoint of the next rotation, relies on.
        let tracked = self.tracked.expect("set above");
        Ok(Some(CheckpointWriter {
            dir: self.checkpoint_dir(),
            name: self.name.clone(),
            every: settings.interval(),
            keep_last: settings.kept(),
            version: self.config.state_version(),
            events: tracked.events,
            max_ts: tracked.max_ts,
            active_base: tracked.active_base,
        }))
    }

    /// Removes the view's checkpoints when a replay means they no longer hold its states:
    /// the reducer changed (a rebuild was asked for, or the version changed) or the log was
    /// rewritten. Also when the view keeps none now: checkpoints left by an earlier opening
    /// would be found again once it keeps them.
    fn forget_checkpoints(&self, reason: Replay) -> io::Result<()> {
        let stale = matches!(
            reason,
            Replay::Requested | Replay::VersionChanged { .. } | Replay::LogRewritten
        );
        if stale {
            checkpoint::clear(&self.checkpoint_dir())?;
        }
        Ok(())
    }

    fn checkpoint_dir(&self) -> PathBuf {
        checkpoint::dir(
            self.snapshot_path.parent().unwrap_or(Path::new(".")),
            &self.name,
        )
    }

    /// The view's state as it was at `at`: every event up to and including that point folded
    /// by the view's reducer, from a default state.
    ///
    /// It does not replay from the first event when it can avoid it: it starts from the newest
    /// of the view's [checkpoints](crate::Checkpoints) (if it keeps any), or from its own state
    /// in memory, that lies at or before the point and still matches the log (same version, and
    /// the line it last folded still in place), and folds on from there. The archive index
    /// lets it begin inside the archive without decompressing the frames before. The view
    /// itself does not change. A point past the end of the history gives the state of the whole
    /// history as it is now.
    ///
    /// # Errors
    ///
    /// As [`View::refresh`]: a file that cannot be read, a malformed line or a damaged archive
    /// frame met on the way.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{At, Event, EventWriter, View};
    /// let mut writer = EventWriter::open(dir.path())?;
    /// for price in [10, 20, 30] {
    ///     let mut event = Event::new("price", serde_json::json!(price));
    ///     event.ts = 1_700_000_000 + price; // stamped at 10, 20 and 30 seconds
    ///     writer.append(&event)?;
    /// }
    /// fn last(_: u64, e: &Event) -> u64 { e.data.as_u64().unwrap_or(0) }
    /// let view: View<u64> = View::new("last_price", last, writer.views_dir());
    /// let reader = writer.reader();
    /// assert_eq!(view.state_at(&reader, At::Event(0))?, 10);
    /// assert_eq!(view.state_at(&reader, At::Time(1_700_000_025))?, 20);
    /// assert_eq!(view.state_at(&reader, At::Event(99))?, 30); // past the end: all of it
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn state_at(&self, reader: &EventReader, at: At) -> io::Result<S> {
        check_view_name(&self.name)?;
        let dir = self
            .config
            .checkpoint_settings()
            .map(|_| self.checkpoint_dir());
        let version = self.config.state_version();
        let live = self.tracked.filter(|_| self.loaded).map(|tracked| Start {
            mark: Mark {
                events: tracked.events,
                position: tracked.active_base + self.offset,
                hash: self.hash.clone(),
                max_ts: tracked.max_ts.record(),
                version,
            },
            state: &self.state,
        });
        let dir = dir.as_deref();
        match (&self.reducer, reader.upcasters_if_any()) {
            (&Reducer::Owned(reduce), None) => {
                travel::state_at(reader, &fold::Owned(reduce), dir, version, at, live)
            }
            (&Reducer::Borrowed(reduce), None) => {
                travel::state_at(reader, &fold::Borrowed(reduce), dir, version, at, live)
            }
            (&Reducer::Owned(reduce), Some(upcasters)) => {
                let fold = Upcasting::new(fold::Owned(reduce), upcasters);
                travel::state_at(reader, &fold, dir, version, at, live)
            }
            (&Reducer::Borrowed(reduce), Some(upcasters)) => {
                let fold = Upcasting::new(fold::Borrowed(reduce), upcasters);
                travel::state_at(reader, &fold, dir, version, at, live)
            }
        }
    }

    /// Notices a rotation since the last refresh. If it archived exactly what this view had
    /// read, the view goes on at offset 0 of the new active log (or stays where it is while the
    /// active log is still the archived copy, the rotation half done); otherwise the view missed
    /// archived events (or cannot tell) and replays the whole history.
    fn follow_rotation(
        &mut self,
        reader: &EventReader,
        now: (u64, platform::FileId),
    ) -> io::Result<()> {
        let Some(seen) = self.generation else {
            return Ok(());
        };
        if seen == now {
            return Ok(());
        }
        let record = recovery::read_record(reader.dir())?;
        let caught_up = record.is_some_and(|r| {
            (seen.0 == r.archive_len_before || seen.0 == r.archive_len_after())
                && now.0 == r.archive_len_after()
                && r.active_len == self.offset
                && r.last_line_hash == self.hash
        });
        if caught_up {
            if reader.history()?.active.is_some() {
                if let Some(tracked) = self.tracked.as_mut() {
                    tracked.active_base += self.offset;
                }
                self.offset = 0;
                self.hash.clear();
            }
        } else {
            self.discard(
                Replay::RotationMissed,
                format_args!("a rotation archived events this view had not read"),
            );
        }
        Ok(())
    }

    /// Loads the snapshot and decides whether it can be trusted.
    fn load(&mut self, reader: &EventReader) -> io::Result<()> {
        self.loaded = true;
        let expected = self.config.state_version();
        let snap = match snapshot::read::<S>(&self.snapshot_path)? {
            snapshot::Read::Found { snapshot, len } => {
                self.snapshot_len = usize::try_from(len).unwrap_or(0);
                snapshot
            }
            snapshot::Read::Absent => {
                self.reset(Replay::NoSnapshot);
                return Ok(());
            }
            snapshot::Read::Unreadable {
                version: Some(found),
                ..
            } if found != expected => {
                self.discard(
                    Replay::VersionChanged { found, expected },
                    format_args!("snapshot has version {found}, the view version {expected}"),
                );
                return Ok(());
            }
            snapshot::Read::Unreadable { error, .. } => {
                self.discard(
                    Replay::Unreadable,
                    format_args!("snapshot cannot be read ({error})"),
                );
                return Ok(());
            }
        };
        if snap.version != expected {
            let found = snap.version;
            self.discard(
                Replay::VersionChanged { found, expected },
                format_args!("snapshot has version {found}, the view version {expected}"),
            );
            return Ok(());
        }
        self.state = snap.state;
        self.offset = snap.offset;
        self.hash = snap.hash;
        // Where the state stands: recorded by views with checkpoints; the position where the
        // active log begins is looked up when a fold needs it.
        self.tracked = None;
        if self.config.checkpoint_settings().is_some()
            && let Some(events) = snap.events
        {
            let base = reader.before_active_offset(0)?.active_base;
            self.tracked = Some(Tracked {
                events,
                max_ts: MaxTs::from_record(events, snap.max_ts),
                active_base: base,
            });
        }
        if self.offset > 0 {
            let size = reader.active_log_size()?;
            if self.offset > size {
                let offset = self.offset;
                self.discard(
                    Replay::LogRewritten,
                    format_args!(
                        "snapshot offset {offset} lies past the end of app.jsonl ({size} bytes)"
                    ),
                );
            } else if reader
                .read_line_hash_before(self.offset)?
                .is_none_or(|h| h != self.hash)
            {
                self.discard(Replay::LogRewritten, format_args!("snapshot hash mismatch"));
            }
        }
        Ok(())
    }

    /// Writes the snapshot of the state in memory.
    fn write_snapshot(&mut self, durability: Durability) -> io::Result<()> {
        let started = Instant::now();
        let fields = snapshot::SnapshotRef {
            state: &self.state,
            offset: self.offset,
            hash: &self.hash,
            version: self.config.state_version(),
            events: self.tracked.map(|t| t.events),
            max_ts: self.tracked.and_then(|t| t.max_ts.record()),
        };
        let len = snapshot::write(&self.snapshot_path, &fields, self.snapshot_len, durability)?;
        self.snapshot_len = len;
        self.unsaved = false;
        self.since_save = Count::default();
        ::log::debug!(
            target: LOG_TARGET,
            "eventfold: view '{}': saved its snapshot at offset {} ({} bytes, {}) in {:?}",
            self.name,
            self.offset,
            len,
            match durability {
                Durability::Cache => "not synced",
                Durability::Durable => "synced",
            },
            started.elapsed()
        );
        Ok(())
    }

    /// Writes the snapshot if the view holds folded events that it does not; returns whether it
    /// wrote.
    ///
    /// Use it with a [`SnapshotPolicy`](crate::SnapshotPolicy) that saves less often than every
    /// refresh, before dropping the view or at a quiet moment. Like the saves of
    /// [`refresh`](View::refresh), it is not synced: a crash may lose it, and the next refresh
    /// then folds those events again.
    ///
    /// # Errors
    ///
    /// Returns an error if the view's name is not a valid file name, or if the state cannot be
    /// serialized or the file written.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventWriter, SnapshotPolicy, View, ViewConfig};
    /// let mut writer = EventWriter::open(dir.path())?;
    /// writer.append(&Event::new("a", serde_json::json!({})))?;
    /// let config = ViewConfig::new().policy(SnapshotPolicy::manual());
    /// let mut view = View::<u64>::new("count", |n, _e| n + 1, writer.views_dir()).with_config(config);
    /// view.refresh(&writer.reader())?;
    /// assert!(view.save()?); // wrote the snapshot
    /// assert!(!view.save()?); // nothing new since
    /// assert!(writer.views_dir().join("count.snapshot.json").exists());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn save(&mut self) -> io::Result<bool> {
        if !self.unsaved {
            return Ok(false);
        }
        check_view_name(&self.name)?;
        self.write_snapshot(Durability::Cache)?;
        Ok(true)
    }

    /// Discards the snapshot and the state and replays the whole history.
    ///
    /// Use it after changing the reducer: the log is the truth, the snapshot only a cache.
    ///
    /// # Errors
    ///
    /// As [`View::refresh`], plus failure to delete the snapshot file.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventWriter, View};
    /// let mut writer = EventWriter::open(dir.path())?;
    /// writer.append(&Event::new("a", serde_json::json!({})))?;
    /// let mut view: View<u64> = View::new("count", |n, _e| n + 1, writer.views_dir());
    /// view.refresh(&writer.reader())?;
    /// assert_eq!(*view.rebuild(&writer.reader())?, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn rebuild(&mut self, reader: &EventReader) -> io::Result<&S> {
        self.rebuild_with_report(reader)?;
        Ok(&self.state)
    }

    /// Rebuilds the view like [`rebuild`](View::rebuild) and reports what the replay did; its
    /// [`replay`](RefreshReport::replay) is [`Replay::Requested`].
    ///
    /// # Errors
    ///
    /// As [`View::rebuild`].
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventWriter, Replay, View};
    /// let mut writer = EventWriter::open(dir.path())?;
    /// writer.append(&Event::new("a", serde_json::json!({})))?;
    /// writer.append(&Event::new("b", serde_json::json!({})))?;
    /// let mut view: View<u64> = View::new("count", |n, _e| n + 1, writer.views_dir());
    /// view.refresh(&writer.reader())?;
    /// let report = view.rebuild_with_report(&writer.reader())?;
    /// assert_eq!((report.replay, report.folded, report.saved), (Some(Replay::Requested), 2, true));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn rebuild_with_report(&mut self, reader: &EventReader) -> io::Result<RefreshReport> {
        check_view_name(&self.name)?;
        snapshot::delete(&self.snapshot_path)?;
        fsutil::sync_parent(&self.snapshot_path)?;
        self.loaded = true;
        self.reset(Replay::Requested);
        self.refresh_inner(reader)
    }
}

impl<S> View<S>
where
    S: Serialize + DeserializeOwned + Default + Clone,
{
    /// Takes `state`, which holds every event up to `offset` of the active log (the line
    /// before it hashing to `hash`), as the view's, and saves it durably: how a blue/green
    /// rebuild (`crate::views::rebuild`) hands its state over. The view's old checkpoints,
    /// states of another reducer, are removed.
    pub(crate) fn adopt(
        &mut self,
        reader: &EventReader,
        state: S,
        offset: u64,
        hash: String,
    ) -> io::Result<()> {
        check_view_name(&self.name)?;
        self.state = state;
        self.offset = offset;
        self.hash = hash;
        self.tracked = None;
        self.replay = None;
        self.since_save = Count::default();
        self.generation = Some((
            fsutil::len_or_zero(reader.archive_path())?,
            platform::path_id(reader.log_path()).context("access", reader.log_path())?,
        ));
        self.write_snapshot(Durability::Durable)?;
        self.loaded = true;
        checkpoint::clear(&self.checkpoint_dir())
    }
}

impl<S> View<S> {
    /// Returns the state in memory, without any I/O.
    ///
    /// Before the first [`refresh`](View::refresh) this is `S::default()`.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventWriter, View};
    /// let mut writer = EventWriter::open(dir.path())?;
    /// writer.append(&Event::new("a", serde_json::json!({})))?;
    /// let mut view: View<u64> = View::new("count", |n, _e| n + 1, writer.views_dir());
    /// assert_eq!(*view.state(), 0); // nothing read yet
    /// view.refresh(&writer.reader())?;
    /// assert_eq!(*view.state(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn state(&self) -> &S {
        &self.state
    }

    /// Returns the view's name.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventWriter, View};
    /// let mut writer = EventWriter::open(dir.path())?;
    /// writer.append(&Event::new("a", serde_json::json!({})))?;
    /// let mut view: View<u64> = View::new("count", |n, _e| n + 1, writer.views_dir());
    /// assert_eq!(view.name(), "count");
    /// view.refresh(&writer.reader())?;
    /// assert!(writer.views_dir().join("count.snapshot.json").exists()); // named after the view
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl<S> sealed::Sealed for View<S> {}

impl<S> ViewOps for View<S>
where
    S: Serialize + DeserializeOwned + Default + Clone + Send + 'static,
{
    fn refresh_boxed(&mut self, reader: &EventReader) -> io::Result<()> {
        self.refresh_inner(reader)?;
        if self.unsaved {
            self.write_snapshot(Durability::Durable)
        } else if fsutil::sync_existing(&self.snapshot_path)? {
            fsutil::sync_parent(&self.snapshot_path)
        } else {
            Ok(())
        }
    }

    fn refresh_with_report_boxed(&mut self, reader: &EventReader) -> io::Result<RefreshReport> {
        self.refresh_inner(reader)
    }

    fn save_boxed(&mut self) -> io::Result<bool> {
        self.save()
    }

    fn pass_begin(&mut self, reader: &EventReader) -> io::Result<PassStart> {
        if self.config.checkpoint_settings().is_some() {
            return Ok(PassStart::Alone);
        }
        let (begun, _) = self.begin(reader)?;
        let owned = matches!(self.reducer, Reducer::Owned(_));
        let start = match begun.full {
            true => PassStart::Full { owned },
            false => PassStart::Active {
                offset: self.offset,
                owned,
            },
        };
        self.pending = Some(begun);
        Ok(start)
    }

    fn pass_fold(&mut self, item: &PassItem<'_, '_>) {
        let state = std::mem::take(&mut self.state);
        self.state = match (&self.reducer, item.event, item.event_ref) {
            (Reducer::Owned(reduce), Some(event), _) => reduce(state, event),
            (Reducer::Borrowed(reduce), _, Some(event)) => reduce(state, event),
            _ => unreachable!("a shared pass parses what each of its views reads"),
        };
    }

    fn pass_finish(&mut self, outcome: Outcome) -> io::Result<RefreshReport> {
        let begun = self.pending.take().expect("pass_finish follows pass_begin");
        self.finish(begun, outcome)
    }

    fn reset_offset(&mut self) -> io::Result<()> {
        check_view_name(&self.name)?;
        if let Some(tracked) = self.tracked.as_mut() {
            // The view had read the whole archived log: its state is the state at the end of
            // the archive, where the new active log begins.
            tracked.active_base += self.offset;
            let at_rotation = self
                .config
                .checkpoint_settings()
                .is_some_and(|c| c.at_rotations());
            if at_rotation && tracked.events > 0 && !self.hash.is_empty() {
                let mark = Mark {
                    events: tracked.events,
                    position: tracked.active_base,
                    hash: self.hash.clone(),
                    max_ts: tracked.max_ts.record(),
                    version: self.config.state_version(),
                };
                let kept = self.config.checkpoint_settings().and_then(|c| c.kept());
                checkpoint::write(&self.checkpoint_dir(), &mark, &self.state, kept)?;
            }
        }
        self.offset = 0;
        self.hash.clear();
        // The rotation that reset this view is accounted for; the next refresh starts afresh.
        self.generation = None;
        // Whatever the policy: the old offset points into the archived log, and nothing may
        // find it on disk once the next append retires the rotation record.
        self.write_snapshot(Durability::Durable)
    }

    fn state_version(&self) -> u32 {
        self.config.state_version()
    }

    fn view_name(&self) -> &str {
        &self.name
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// Writes a checkpoint every `every` events of the history as a view's fold passes them (none
/// without an interval), and has the fold track the largest `ts`.
struct CheckpointWriter {
    dir: PathBuf,
    name: String,
    every: Option<u64>,
    keep_last: Option<usize>,
    version: u32,
    /// Events folded, and the largest `ts` folded, before this fold began.
    events: u64,
    max_ts: MaxTs,
    /// Where the active log begins in the history.
    active_base: u64,
}

impl<S: Serialize> Pauses<(S, Count)> for CheckpointWriter {
    fn until(&self, folded: u64) -> Until {
        let events = self.events + folded;
        let stop = match self.every {
            Some(every) => fold::Stop::After((events / every + 1) * every - events),
            None => fold::Stop::Never,
        };
        Until {
            stop,
            track_ts: true,
        }
    }

    fn pause(
        &mut self,
        (state, _): &(S, Count),
        folded: u64,
        place: Place,
        last_line: Option<&[u8]>,
        max_ts: MaxTs,
    ) -> bool {
        let Some(line) = last_line else {
            return true;
        };
        let mark = Mark {
            events: self.events + folded,
            position: place.position,
            hash: crate::line_hash(line),
            max_ts: self.max_ts.then(max_ts).record(),
            version: self.version,
        };
        // A checkpoint is a cache: failing to write one costs a longer fold later, not the
        // refresh.
        if let Err(e) = checkpoint::write(&self.dir, &mark, state, self.keep_last) {
            ::log::warn!(
                target: LOG_TARGET,
                "eventfold: view '{}': could not write the checkpoint after {} events: {e}",
                self.name,
                mark.events
            );
        }
        true
    }
}
