//! Blue/green rebuilds: a view's new reducer folds the history on a background thread, beside
//! the live view, and its state replaces the live one in one step once it has caught up.
//!
//! The background thread folds from the start of the history (or from the shadow a rebuild
//! left, `views/NAME.rebuild.json`) to its end, in rounds: each round folds what the history
//! holds when it begins, so appends made meanwhile are folded by the next. Once a round folds
//! few events, the thread hands its state over, with the position it stands at; the log's own
//! thread then folds the last events and swaps the view (`crate::log`, which owns the views).
//!
//! The shadow records the state with a *position* of the history (see `Position`), not an
//! offset of `app.jsonl`: rotations, which the log's thread goes on doing during the rebuild,
//! move bytes into the archive without changing any position, so a shadow stays true across
//! them. It is a cache, written without syncing and checked before use like a checkpoint: the
//! line before its position must still hash to the hash it recorded.

use crate::error::{Context, check_view_name, file_error};
use crate::format::fold::{self, LineFold, ReduceFn, ReduceRefFn, Stop, Until};
use crate::replay::counted::{Count, Counted};
use crate::replay::reader::{self, EventReader, Folded, NoPauses, Pauses, Place};
use crate::store::fsutil;
use crate::store::snapshot;
use crate::views::policy::ViewConfig;
use crate::views::view::{View, ViewOps};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const LOG_TARGET: &str = "eventfold::rebuild";

/// The background fold pauses now and then to publish its progress, to notice a cancel and to
/// save its shadow when it is time (see `ViewConfig::rebuild_save_every`). Each pause ends a
/// fold and starts another (with its helper threads, and the lines they read ahead of the
/// stop): the first stretch is this many events, and the later ones are sized to take about
/// [`PAUSE_EVERY`], within [`MAX_STRETCH`].
const FIRST_STRETCH: u64 = 1 << 13;
/// About how long the background fold runs between two pauses.
const PAUSE_EVERY: Duration = Duration::from_millis(50);
/// The most events between two pauses.
const MAX_STRETCH: u64 = 1 << 20;
/// A round that folded fewer events than this ends the background fold: what was appended
/// during it is left to the log's thread, which folds it at the swap.
const CAUGHT_UP_EVENTS: u64 = 10_000;
/// At most this many rounds: a log appended to faster than it can be folded still ends.
const MAX_ROUNDS: u32 = 16;

/// The path of the shadow of the view `name`: `views/NAME.rebuild.json`.
pub(crate) fn shadow_path(views_dir: &Path, name: &str) -> PathBuf {
    views_dir.join(format!("{name}.rebuild.json"))
}

/// The suffix of a shadow's file name.
pub(crate) const SHADOW_SUFFIX: &str = ".rebuild.json";

/// A shadow's fields, borrowed for writing (the state last, so that the head of the file
/// shows the progress).
#[derive(Serialize)]
struct ShadowRef<'a, S> {
    version: u32,
    position: u64,
    hash: &'a str,
    events: u64,
    total: u64,
    state: &'a S,
}

/// A shadow as read.
#[derive(Deserialize)]
pub(crate) struct Shadow<S> {
    /// The version the rebuild targets.
    pub version: u32,
    /// The position in the history just past the last event folded into `state`.
    pub position: u64,
    /// That event's line hash (`""` when `position` is 0).
    pub hash: String,
    /// Events folded into `state`, from the first of the history.
    pub events: u64,
    /// The history's events when the shadow was written (for progress).
    #[serde(default)]
    pub total: u64,
    pub state: S,
}

/// Reads the shadow at `path`: `None` if there is none, or if it is not a shadow of `S`
/// (a cache miss, logged).
///
/// # Errors
///
/// I/O failures other than the file being absent.
pub(crate) fn read_shadow<S: DeserializeOwned>(path: &Path) -> io::Result<Option<Shadow<S>>> {
    let file = match fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(file_error(e, "open", path)),
    };
    match serde_json::from_reader(io::BufReader::with_capacity(1 << 20, file)) {
        Ok(shadow) => Ok(Some(shadow)),
        Err(e) => {
            ::log::warn!(
                target: LOG_TARGET,
                "eventfold: {} is not a rebuild's shadow ({e}); it is not used",
                path.display()
            );
            Ok(None)
        }
    }
}

/// Writes a shadow (to `NAME.rebuild.json.tmp`, renamed into place; not synced).
fn write_shadow<S: Serialize>(path: &Path, fields: &ShadowRef<'_, S>) -> io::Result<()> {
    let json = serde_json::to_vec_pretty(fields)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    fsutil::write_replace(path, Path::new(&tmp), &json)
}

/// Removes the shadow at `path` and its temporary file, if they exist.
pub(crate) fn remove_shadow(path: &Path) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    fsutil::remove_if_exists(path)?;
    fsutil::remove_if_exists(Path::new(&tmp))?;
    Ok(())
}

/// The version a snapshot or a shadow file records (0 when it has none); `None` when there
/// is no file or it is not a JSON object.
pub(crate) fn file_version(path: &Path) -> io::Result<Option<u32>> {
    #[derive(Deserialize)]
    struct Head {
        #[serde(default)]
        version: u32,
    }
    let file = match fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(file_error(e, "open", path)),
    };
    let head: Result<Head, _> =
        serde_json::from_reader(io::BufReader::with_capacity(1 << 20, file));
    Ok(head.ok().map(|h| h.version))
}

/// Why the background fold was asked to stop.
pub(crate) mod stop {
    /// Going on.
    pub const NONE: u8 = 0;
    /// Cancelled: the shadow is removed.
    pub const CANCEL: u8 = 1;
    /// The log is closing: the shadow is saved, for a later rebuild to resume from.
    pub const CLOSE: u8 = 2;
}

/// What the background fold and its owners share: progress, and the request to stop.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// Events folded into the new state, from the first of the history.
    pub done: AtomicU64,
    /// The events of the history, as last counted.
    pub total: AtomicU64,
    /// Set once the background fold has handed its state over.
    pub caught_up: AtomicBool,
    /// A [`stop`] value.
    pub stop: AtomicU8,
}

/// A reducer of either kind.
pub(crate) enum Reducer<S> {
    Owned(ReduceFn<S>),
    Borrowed(ReduceRefFn<S>),
}

// By hand: a derive would ask `S: Copy`.
impl<S> Clone for Reducer<S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for Reducer<S> {}

/// What a rebuild folds, and for which view.
pub(crate) struct Spec<S> {
    pub name: String,
    pub reducer: Reducer<S>,
    pub config: ViewConfig,
    pub views_dir: PathBuf,
}

impl<S> Spec<S> {
    pub(crate) fn shadow(&self) -> PathBuf {
        shadow_path(&self.views_dir, &self.name)
    }
}

/// The state the background fold hands over: every event before `position` folded.
pub(crate) struct Caught<S> {
    pub state: S,
    pub position: u64,
    pub hash: String,
    /// Events folded into `state` in all.
    pub events: u64,
    /// Of those, the events the shadow it resumed from held.
    pub resumed: u64,
}

/// How the background fold ended, when it did not hand a state over.
#[derive(Debug)]
pub(crate) enum Ended {
    Stopped,
    Failed(io::Error),
}

/// The background fold: from the shadow (when it is one of this version and still matches
/// the history) or from the first event, to the end of the history, in rounds until one
/// folds few events. The shadow is saved now and then, and at the end.
pub(crate) fn background<S>(
    reader: &EventReader,
    spec: &Spec<S>,
    progress: &Progress,
) -> Result<Caught<S>, Ended>
where
    S: Serialize + DeserializeOwned + Default + Send,
{
    let version = spec.config.state_version();
    let settings = spec.config.rebuild_settings();
    // On its own threads (one by default): the program's refreshes keep the other cores.
    let own_threads;
    let reader = match settings.threads {
        0 => reader,
        threads => {
            own_threads = reader.clone().replay_threads(threads);
            &own_threads
        }
    };
    let path = spec.shadow();
    let start = resume_point::<S>(reader, &path, version).map_err(Ended::Failed)?;
    let resumed = start.as_ref().map_or(0, |s| s.events);
    let mut at = match start {
        Some(shadow) => At {
            state: shadow.state,
            position: shadow.position,
            hash: shadow.hash,
            events: shadow.events,
        },
        None => At {
            state: S::default(),
            position: 0,
            hash: String::new(),
            events: 0,
        },
    };
    progress.done.store(at.events, Ordering::Relaxed);
    let mut saver = Saver {
        path: &path,
        version,
        every: settings.save_every,
        last: Instant::now(),
    };
    for round in 1..=MAX_ROUNDS {
        let total = history_events(reader).map_err(Ended::Failed)?;
        progress
            .total
            .store(total.max(at.events), Ordering::Relaxed);
        let before = at.events;
        at = match spec.reducer {
            Reducer::Owned(r) => {
                fold_round(reader, at, &Counted(fold::Owned(r)), progress, &mut saver)
            }
            Reducer::Borrowed(r) => fold_round(
                reader,
                at,
                &Counted(fold::Borrowed(r)),
                progress,
                &mut saver,
            ),
        }?;
        let folded = at.events - before;
        if folded < CAUGHT_UP_EVENTS || round == MAX_ROUNDS {
            break;
        }
    }
    saver.save(&at, progress).map_err(Ended::Failed)?;
    progress.caught_up.store(true, Ordering::Release);
    Ok(Caught {
        state: at.state,
        position: at.position,
        hash: at.hash,
        events: at.events,
        resumed,
    })
}

/// Where a fold stands: `state` holds the `events` events before `position`, the last of
/// them hashing to `hash`.
struct At<S> {
    state: S,
    position: u64,
    hash: String,
    events: u64,
}

/// Saves the shadow, at most every `every` during a round, and at the end.
struct Saver<'p> {
    path: &'p Path,
    version: u32,
    every: Duration,
    last: Instant,
}

impl Saver<'_> {
    fn save<S: Serialize>(&mut self, at: &At<S>, progress: &Progress) -> io::Result<()> {
        self.save_parts(&at.state, at.position, &at.hash, at.events, progress)
    }

    fn save_parts<S: Serialize>(
        &mut self,
        state: &S,
        position: u64,
        hash: &str,
        events: u64,
        progress: &Progress,
    ) -> io::Result<()> {
        if events == 0 {
            return Ok(());
        }
        let fields = ShadowRef {
            version: self.version,
            position,
            hash,
            events,
            total: progress.total.load(Ordering::Relaxed).max(events),
            state,
        };
        write_shadow(self.path, &fields)?;
        self.last = Instant::now();
        Ok(())
    }
}

/// The pauses of a round: progress published about every [`PAUSE_EVERY`], the shadow saved
/// now and then, and the fold stopped when asked.
struct RoundPauses<'a, 'p> {
    before: u64,
    progress: &'a Progress,
    saver: &'a mut Saver<'p>,
    error: Option<io::Error>,
    /// Where (in events folded by this round) the next pause is, and when and where the
    /// last one was.
    next: u64,
    last: (Instant, u64),
}

impl<'a, 'p> RoundPauses<'a, 'p> {
    fn new(before: u64, progress: &'a Progress, saver: &'a mut Saver<'p>) -> Self {
        RoundPauses {
            before,
            progress,
            saver,
            error: None,
            next: FIRST_STRETCH,
            last: (Instant::now(), 0),
        }
    }

    /// Places the next pause after the one at `folded`, as many events on as the fold's
    /// pace since the last pause folds in [`PAUSE_EVERY`].
    fn plan_next(&mut self, folded: u64) {
        let (when, at) = std::mem::replace(&mut self.last, (Instant::now(), folded));
        let took = when.elapsed().as_secs_f64().max(1e-6);
        let pace = (folded - at) as f64 / took;
        let stretch = (pace * PAUSE_EVERY.as_secs_f64()) as u64;
        self.next = folded + stretch.clamp(FIRST_STRETCH, MAX_STRETCH);
    }
}

impl<S: Serialize> Pauses<(S, Count)> for RoundPauses<'_, '_> {
    fn until(&self, folded: u64) -> Until {
        // Counted from where the fold stands: a stretch ends with its buffer (an archive
        // frame, a window of the log), which may hold fewer events than a pause's.
        Until {
            stop: Stop::After(self.next.saturating_sub(folded).max(1)),
            track_ts: false,
        }
    }

    fn pause(
        &mut self,
        (state, _): &(S, Count),
        folded: u64,
        place: Place,
        last_line: Option<&[u8]>,
        _: fold::MaxTs,
    ) -> bool {
        let events = self.before + folded;
        self.progress.done.store(events, Ordering::Relaxed);
        self.plan_next(folded);
        let closing = match self.progress.stop.load(Ordering::Relaxed) {
            stop::NONE => false,
            stop::CLOSE => true,
            _ => return false,
        };
        if (closing || self.saver.last.elapsed() >= self.saver.every)
            && let Some(line) = last_line
        {
            let hash = crate::format::lines::line_hash(line);
            if let Err(e) =
                self.saver
                    .save_parts(state, place.position, &hash, events, self.progress)
            {
                self.error = Some(e);
                return false;
            }
        }
        !closing
    }
}

/// One round: folds the history from `at` to its end as it is now.
fn fold_round<S, F>(
    reader: &EventReader,
    at: At<S>,
    fold: &F,
    progress: &Progress,
    saver: &mut Saver<'_>,
) -> Result<At<S>, Ended>
where
    S: Serialize,
    F: LineFold<(S, Count)>,
{
    let mut pauses = RoundPauses::new(at.events, progress, saver);
    let folded = reader.fold_from(
        at.position,
        None,
        (at.state, Count::default()),
        fold,
        &mut pauses,
    );
    if let Some(e) = pauses.error.take() {
        return Err(Ended::Failed(e));
    }
    if folded.stopped {
        return Err(Ended::Stopped);
    }
    let (position, hash) =
        place_of(reader, &folded, (at.position, at.hash)).map_err(Ended::Failed)?;
    if let Some(e) = folded.error {
        return Err(Ended::Failed(e));
    }
    let events = at.events + folded.events;
    progress.done.store(events, Ordering::Relaxed);
    Ok(At {
        state: folded.acc.0,
        position,
        hash,
        events,
    })
}

/// Where a fold from `from` ended: the position just past its last event and that event's
/// hash (`from` itself when it folded none).
fn place_of<A>(
    reader: &EventReader,
    folded: &Folded<A>,
    from: (u64, String),
) -> io::Result<(u64, String)> {
    if folded.events == 0 {
        return Ok(from);
    }
    let base = folded.archive_end.unwrap_or(0);
    match &folded.tail {
        Some(tail) => Ok((base + tail.end, tail.hash.clone())),
        // Every event it folded was in the archive, which it read to its end.
        None => {
            let hash = reader.hash_before(base)?.unwrap_or_default();
            Ok((base, hash))
        }
    }
}

/// The shadow at `path`, if it is one of `version` that still matches the history.
fn resume_point<S: DeserializeOwned>(
    reader: &EventReader,
    path: &Path,
    version: u32,
) -> io::Result<Option<Shadow<S>>> {
    let Some(shadow) = read_shadow::<S>(path)? else {
        return Ok(None);
    };
    if shadow.version != version || shadow.events == 0 {
        return Ok(None);
    }
    if reader.hash_before(shadow.position)?.as_deref() != Some(shadow.hash.as_str()) {
        ::log::warn!(
            target: LOG_TARGET,
            "eventfold: {} no longer matches the history (the line before position {} \
             changed); the rebuild starts from the first event",
            path.display(),
            shadow.position
        );
        return Ok(None);
    }
    Ok(Some(shadow))
}

/// How many events the history holds now.
fn history_events(reader: &EventReader) -> io::Result<u64> {
    let history = reader.history()?;
    let index = reader.archive_index(history.archive_limit)?;
    let active = match &history.active {
        Some((file, end)) => {
            reader::line_start_and_events_before(file, *end, *end)
                .context("read", reader.log_path())?
                .1
        }
        None => 0,
    };
    Ok(index.events() + active)
}

/// On the log's thread, at the swap: folds the events after the handed-over state, and
/// builds the new view with it, its snapshot saved durably. Returns the view and the events
/// folded here. The caller puts the view in the old one's place, then removes the shadow.
pub(crate) fn finish<S>(
    reader: &EventReader,
    spec: Spec<S>,
    caught: Caught<S>,
) -> io::Result<(Box<dyn ViewOps>, u64)>
where
    S: Serialize + DeserializeOwned + Default + Clone + Send + 'static,
{
    check_view_name(&spec.name)?;
    let Caught {
        state,
        position,
        hash,
        ..
    } = caught;
    let folded = match spec.reducer {
        Reducer::Owned(r) => catch_up(reader, position, state, &Counted(fold::Owned(r))),
        Reducer::Borrowed(r) => catch_up(reader, position, state, &Counted(fold::Borrowed(r))),
    };
    if let Some(e) = folded.error {
        return Err(e);
    }
    let base = folded.archive_end.unwrap_or(0);
    let (offset, hash) = match &folded.tail {
        Some(tail) => (tail.end, tail.hash.clone()),
        None if folded.events > 0 || position <= base => (0, String::new()),
        None => (position - base, hash),
    };
    let events = folded.events;
    let mut view = match spec.reducer {
        Reducer::Owned(r) => View::new(&spec.name, r, &spec.views_dir),
        Reducer::Borrowed(r) => View::new_ref(&spec.name, r, &spec.views_dir),
    }
    .with_config(spec.config);
    view.adopt(reader, folded.acc.0, offset, hash)?;
    Ok((Box::new(view), events))
}

fn catch_up<S, F: LineFold<(S, Count)>>(
    reader: &EventReader,
    position: u64,
    state: S,
    fold: &F,
) -> Folded<(S, Count)> {
    reader.fold_from(
        position,
        None,
        (state, Count::default()),
        fold,
        &mut NoPauses,
    )
}

/// A view registered anew with the version its snapshot already has (a swap done by an
/// earlier run of the program): nothing to fold, the view loads that snapshot at its next
/// refresh.
pub(crate) fn registered<S>(spec: Spec<S>) -> Box<dyn ViewOps>
where
    S: Serialize + DeserializeOwned + Default + Clone + Send + 'static,
{
    let view = match spec.reducer {
        Reducer::Owned(r) => View::new(&spec.name, r, &spec.views_dir),
        Reducer::Borrowed(r) => View::new_ref(&spec.name, r, &spec.views_dir),
    };
    Box::new(view.with_config(spec.config))
}

/// What opening a log does with the shadow of the registered view `name` of version
/// `version`, left by a rebuild that the program did not see to its end:
///
/// - a shadow of another version is kept, for a rebuild to that version to resume from;
/// - a shadow of this version (the program now registers the rebuilt view) becomes the view's
///   snapshot when its position lies in the active log and the view's snapshot is of another
///   version, since it is then exactly a snapshot of this view; otherwise it is removed (the
///   view replays the history, as it would have without it).
///
/// Returns whether a shadow was turned into the snapshot.
pub(crate) fn tidy_on_open(
    reader: &EventReader,
    views_dir: &Path,
    name: &str,
    version: u32,
) -> io::Result<bool> {
    let path = shadow_path(views_dir, name);
    if file_version(&path)? != Some(version) {
        return Ok(false);
    }
    let live = views_dir.join(format!("{name}.snapshot.json"));
    let promoted = file_version(&live)? != Some(version) && promote(reader, &path, &live)?;
    remove_shadow(&path)?;
    Ok(promoted)
}

/// Writes the shadow at `path` as the snapshot `live`, if its position lies in the active log
/// and still matches it.
fn promote(reader: &EventReader, path: &Path, live: &Path) -> io::Result<bool> {
    let Some(shadow) = read_shadow::<serde_json::Value>(path)? else {
        return Ok(false);
    };
    if shadow.events == 0
        || reader.hash_before(shadow.position)?.as_deref() != Some(shadow.hash.as_str())
    {
        return Ok(false);
    }
    let history = reader.history()?;
    let base = reader.archive_index(history.archive_limit)?.content_len();
    let Some(offset) = shadow.position.checked_sub(base) else {
        return Ok(false);
    };
    let hash = if offset == 0 {
        ""
    } else {
        shadow.hash.as_str()
    };
    let fields = snapshot::SnapshotRef {
        state: &shadow.state,
        offset,
        hash,
        version: shadow.version,
        events: None,
        max_ts: None,
    };
    snapshot::write(live, &fields, 0, snapshot::Durability::Durable)?;
    ::log::info!(
        target: LOG_TARGET,
        "eventfold: view '{}': resumed from the shadow its rebuild left ({} events)",
        live.display(),
        shadow.events
    );
    Ok(true)
}

/// A rebuild's shadow found in `views/` (`NAME.rebuild.json`): a background rebuild under way,
/// or one that a crash or a close interrupted. See [`EventReader::rebuilds`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RebuildInfo {
    /// The view being rebuilt.
    pub name: String,
    /// The shadow's path.
    pub path: PathBuf,
    /// The shadow's size in bytes.
    pub file_len: u64,
    /// The version the rebuild targets; `None` (and the fields below 0) when the file cannot
    /// be read as a shadow.
    pub version: Option<u32>,
    /// Events folded into the shadow's state.
    pub events: u64,
    /// The history's events when the shadow was saved.
    pub total: u64,
    /// The position in the history the shadow's state reaches.
    pub position: u64,
    /// Whether the line before that position still hashes as the shadow recorded, so that a
    /// rebuild to its version would resume from it.
    pub resumable: bool,
}

impl EventReader {
    /// The shadows of background rebuilds in the directory's `views/` (see
    /// [`EventLog::start_rebuild`](crate::EventLog::start_rebuild)), sorted by view name. A
    /// shadow is saved every few seconds while a rebuild folds, and when it has caught up;
    /// it is removed by the swap, a cancel, or a rebuild to another version.
    ///
    /// # Errors
    ///
    /// Returns an error if `views/` or a shadow cannot be read, or if checking a shadow's
    /// position reads a damaged archive.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog, ViewConfig};
    /// fn count(n: u64, _e: &Event) -> u64 { n + 1 }
    /// let mut log = EventLog::builder(dir.path()).view::<u64>("count", count).open()?;
    /// log.append(&Event::new("a", serde_json::json!({})))?;
    /// log.start_rebuild::<u64>("count", count, ViewConfig::new().version(2))?;
    /// while !log.reader().rebuilds()?.iter().any(|r| r.events == 1) {
    ///     std::thread::yield_now(); // the shadow is saved once the fold has caught up
    /// }
    /// let found = log.reader().rebuilds()?.remove(0);
    /// assert_eq!((found.name.as_str(), found.version, found.resumable), ("count", Some(2), true));
    /// log.finish_rebuild("count")?;
    /// assert!(log.reader().rebuilds()?.is_empty()); // the swap removed it
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn rebuilds(&self) -> io::Result<Vec<RebuildInfo>> {
        let views = self.dir().join("views");
        let entries = match fs::read_dir(&views) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(file_error(e, "list the directory", &views)),
        };
        let mut found = Vec::new();
        for entry in entries {
            let file_name = entry.context("list the directory", &views)?.file_name();
            let Some(name) = file_name
                .to_str()
                .and_then(|n| n.strip_suffix(SHADOW_SUFFIX))
            else {
                continue;
            };
            let path = views.join(&file_name);
            let file_len = match fs::metadata(&path) {
                Ok(meta) => meta.len(),
                // Removed since it was listed: a swap or a cancel.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(file_error(e, "access", &path)),
            };
            let mut info = RebuildInfo {
                name: name.to_string(),
                path,
                file_len,
                version: None,
                events: 0,
                total: 0,
                position: 0,
                resumable: false,
            };
            if let Some(shadow) = read_shadow::<serde::de::IgnoredAny>(&info.path)? {
                info.version = Some(shadow.version);
                info.events = shadow.events;
                info.total = shadow.total.max(shadow.events);
                info.position = shadow.position;
                info.resumable = shadow.events > 0
                    && self.hash_before(shadow.position)?.as_deref() == Some(shadow.hash.as_str());
            }
            found.push(info);
        }
        found.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }
}
