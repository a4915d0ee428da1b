//! Deterministic benchmark data shared by the criterion benches and `replay_bench`.
//!
//! The benches include it as `mod data;`, `replay_bench` as
//! `#[path = "../../../benches/data/mod.rs"] mod data;`, so both measure the very same bytes.
//!
//! - [`Generator`] yields an endless, reproducible stream of todo-app events (about 100 bytes
//!   per line on average): four event types, unicode text, escaped quotes, backslashes and
//!   newlines, a fixed timestamp base, and an `id`, `actor` or `meta` on some of them. The
//!   PRNG is a hand-written SplitMix64, so the stream depends on nothing but [`SEED`].
//! - [`Datasets`] builds the log directories the workloads read, once per event count, under a
//!   cache directory (`$EVENTFOLD_BENCH_DIR`, or `eventfold-bench` in the system temp
//!   directory). A directory is reused by later runs when its `READY` marker exists; workloads
//!   that modify a directory work on a scratch copy.
//! - The time-travel data sets ([`Datasets::travel_active`], [`Datasets::travel_archive`]) hold
//!   a compat view that keeps checkpoints, and the SQLite data set ([`Datasets::sqlite`]) the
//!   same events as rows of a table, for comparing with what many users would pick instead.
//! - The reducers come in pairs, one per crate, doing the same logical work: [`v03`] for this
//!   crate (compat, zero-copy type + `data.id`, zero-copy type only) and [`v02`] for eventfold
//!   0.2.0 (compat only: its counterpart of the zero-copy reducers is a compat reducer doing the
//!   same work).

#![allow(dead_code)]

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Seed of the event stream; change it (or [`GEN_VERSION`]) and the cache is rebuilt.
pub const SEED: u64 = 0x5EED_E7E7_F01D_2024;
/// Version of the generator's output, part of the cache directory name. (2: archives rotated
/// by this crate seal their frames in the index, and `sealed` holds the seals of `app.jsonl`.)
pub const GEN_VERSION: u32 = 2;
/// Timestamp of the first event; event `i` has `FIXED_TS + i`.
pub const FIXED_TS: u64 = 1_700_000_000;
/// Events per data set when `EVENTFOLD_BENCH_EVENTS` is not set.
pub const DEFAULT_EVENTS: u64 = 1_000_000;
/// Frames of the archive data set.
pub const ARCHIVE_FRAMES: u64 = 10;
/// Events appended after the snapshot in the open + refresh data set (fewer for tiny sets).
pub const REFRESH_NEW_EVENTS: u64 = 1_000;
/// Active-log sizes of the rotation workloads, in MB (10^6 bytes), at 1M events; they scale
/// with the event count so a small `EVENTFOLD_BENCH_EVENTS` gives a quick run.
pub const ROTATION_MB: [u64; 3] = [10, 50, 100];

/// View names used in the prepared directories.
pub const V02_VIEW: &str = "v02_stats";
/// View name of this crate's view in the open + refresh data set.
pub const V03_VIEW: &str = "v03_stats";
/// View name of the compat view that keeps checkpoints in the time-travel data sets.
pub const TRAVEL_VIEW: &str = "travel_stats";

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

/// Parses an event count such as `1000000`, `1_000_000` or `100k` / `1m`.
pub fn parse_count(text: &str) -> Option<u64> {
    let t = text.trim().replace('_', "").to_ascii_lowercase();
    let (digits, mult) = if let Some(d) = t.strip_suffix('m') {
        (d, 1_000_000)
    } else if let Some(d) = t.strip_suffix('k') {
        (d, 1_000)
    } else {
        (t.as_str(), 1)
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|&n| n > 0)
}

/// The event count from `EVENTFOLD_BENCH_EVENTS`, or [`DEFAULT_EVENTS`].
///
/// # Errors
///
/// Returns [`io::ErrorKind::InvalidInput`] when the variable is set but is not a positive count.
pub fn event_count_from_env() -> io::Result<u64> {
    match std::env::var("EVENTFOLD_BENCH_EVENTS") {
        Ok(text) => parse_count(&text).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("EVENTFOLD_BENCH_EVENTS={text:?} is not a positive event count"),
            )
        }),
        Err(_) => Ok(DEFAULT_EVENTS),
    }
}

/// The cache directory: `$EVENTFOLD_BENCH_DIR`, or `eventfold-bench` in the temp directory.
pub fn cache_root() -> PathBuf {
    std::env::var_os("EVENTFOLD_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("eventfold-bench"))
}

/// Active-log sizes (bytes) of the rotation workloads for `n` events: [`ROTATION_MB`] scaled by
/// `n / 1M`, at least 64 KB each.
pub fn rotation_sizes(n: u64) -> Vec<u64> {
    ROTATION_MB
        .iter()
        .map(|mb| (mb * n).max(64 * 1024))
        .collect()
}

/// A short label for a byte size: `10MB`, `2.5MB`, `640KB`.
pub fn size_label(bytes: u64) -> String {
    if bytes >= 1_000_000 {
        let mb = bytes as f64 / 1e6;
        if bytes.is_multiple_of(1_000_000) {
            format!("{mb:.0}MB")
        } else {
            format!("{mb:.1}MB")
        }
    } else {
        format!("{}KB", bytes / 1000)
    }
}

// ---------------------------------------------------------------------------------------------
// Event stream
// ---------------------------------------------------------------------------------------------

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and good enough for benchmark data.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator started at `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`; the modulo bias is irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// `true` with probability `percent / 100`.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A random element of `items`.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// Words of todo texts: ASCII, accented, CJK, Cyrillic, Greek, emoji, and words that need
/// escaping in JSON (quotes, backslashes, newlines, tabs).
const WORDS: &[&str] = &[
    "buy",
    "milk",
    "fix",
    "the",
    "bike",
    "call",
    "mom",
    "report",
    "taxes",
    "garage",
    "café",
    "naïve",
    "résumé",
    "Ünïcödé",
    "日本語",
    "メモ",
    "привет",
    "Ελληνικά",
    "🚀",
    "✓",
    "\"urgent\"",
    "C:\\temp\\notes",
    "line\nbreak",
    "tab\there",
    "a/b",
];

const TAGS: &[&str] = &["home", "work", "später", "📌", "errands", "q\"3"];

const NAMES: &[&str] = &[
    "Ann",
    "Bob",
    "Zoë",
    "José",
    "李雷",
    "O'Brien",
    "Anne \"Nan\" Lee",
    "back\\slash",
];

/// An endless, deterministic stream of todo-app events.
///
/// Mix: 40% `todo_added` {id, text, tags}, 22% `todo_completed` {id}, 30% `todo_deleted` {id}
/// (of a todo still alive), 8% `user_renamed` {user, from, to}. About 30% carry an `id`, 40% an
/// `actor`, 10% a `meta` object. Event `i` has timestamp `FIXED_TS + i`.
#[derive(Debug, Clone)]
pub struct Generator {
    rng: SplitMix64,
    seq: u64,
    next_todo: u64,
    live: Vec<u64>,
}

impl Default for Generator {
    fn default() -> Self {
        Self::new()
    }
}

impl Generator {
    /// The stream seeded with [`SEED`].
    pub fn new() -> Self {
        Generator {
            rng: SplitMix64::new(SEED),
            seq: 0,
            next_todo: 1,
            live: Vec::new(),
        }
    }

    fn text(&mut self) -> String {
        let words = 2 + self.rng.below(4);
        let mut text = String::new();
        for i in 0..words {
            if i > 0 {
                text.push(' ');
            }
            text.push_str(self.rng.pick(WORDS));
        }
        text
    }

    fn data(&mut self) -> (&'static str, Value) {
        let roll = self.rng.below(100);
        if roll < 40 || self.live.is_empty() {
            let id = self.next_todo;
            self.next_todo += 1;
            self.live.push(id);
            let tags: Vec<&str> = (0..self.rng.below(3))
                .map(|_| self.rng.pick(TAGS))
                .collect();
            (
                "todo_added",
                json!({"id": id, "text": self.text(), "tags": tags}),
            )
        } else if roll < 62 {
            let id = self.rng.pick(&self.live);
            ("todo_completed", json!({"id": id}))
        } else if roll < 92 {
            let at = self.rng.below(self.live.len() as u64) as usize;
            let id = self.live.swap_remove(at);
            ("todo_deleted", json!({"id": id}))
        } else {
            let user = format!("u{:03}", self.rng.below(500));
            let from = self.rng.pick(NAMES);
            let to = self.rng.pick(NAMES);
            (
                "user_renamed",
                json!({"user": user, "from": from, "to": to}),
            )
        }
    }
}

impl Iterator for Generator {
    type Item = eventfold::Event;

    fn next(&mut self) -> Option<eventfold::Event> {
        let (event_type, data) = self.data();
        let mut event = eventfold::Event {
            event_type: event_type.to_string(),
            data,
            ts: FIXED_TS + self.seq,
            id: None,
            actor: None,
            meta: None,
        };
        if self.rng.percent(30) {
            event.id = Some(format!("evt-{:08}", self.seq));
        }
        if self.rng.percent(40) {
            event.actor = Some(format!("user_{:03}", self.rng.below(500)));
        }
        if self.rng.percent(10) {
            let corr = self.rng.next_u64() as u32;
            event.meta = Some(json!({"corr": format!("c-{corr:08x}"), "v": 2}));
        }
        self.seq += 1;
        Some(event)
    }
}

/// The same event as an eventfold 0.2.0 [`eventfold_v02::Event`].
pub fn to_v02(event: &eventfold::Event) -> eventfold_v02::Event {
    eventfold_v02::Event {
        event_type: event.event_type.clone(),
        data: event.data.clone(),
        ts: event.ts,
        id: event.id.clone(),
        actor: event.actor.clone(),
        meta: event.meta.clone(),
    }
}

/// Writes events of `events` as JSON lines to `out` until `stop(count, bytes)` says so;
/// returns `(events, bytes)` written.
fn write_lines<W: Write>(
    out: &mut W,
    events: &mut Generator,
    mut stop: impl FnMut(u64, u64) -> bool,
) -> io::Result<(u64, u64)> {
    let mut line = Vec::with_capacity(512);
    let (mut count, mut bytes) = (0u64, 0u64);
    while !stop(count, bytes) {
        let Some(event) = events.next() else { break };
        line.clear();
        serde_json::to_writer(&mut line, &event).map_err(io::Error::other)?;
        line.push(b'\n');
        out.write_all(&line)?;
        count += 1;
        bytes += line.len() as u64;
    }
    Ok((count, bytes))
}

/// Appends the next `count` events of `events` to `path` (created if missing); returns the
/// bytes written.
pub fn append_events(path: &Path, events: &mut Generator, count: u64) -> io::Result<u64> {
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let (_, bytes) = write_lines(&mut out, events, |n, _| n >= count)?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(bytes)
}

/// Writes events to a new `path` until it holds at least `target` bytes; returns the number of
/// events written.
pub fn write_events_to_size(path: &Path, events: &mut Generator, target: u64) -> io::Result<u64> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let (count, _) = write_lines(&mut out, events, |_, b| b >= target)?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(count)
}

// ---------------------------------------------------------------------------------------------
// Reducers
// ---------------------------------------------------------------------------------------------

/// Events counted by type.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// `todo_added` events.
    pub added: u64,
    /// `todo_completed` events.
    pub completed: u64,
    /// `todo_deleted` events.
    pub deleted: u64,
    /// `user_renamed` events.
    pub renamed: u64,
    /// Any other type.
    pub other: u64,
}

impl Tally {
    /// The tally with one more event of `event_type`.
    pub fn count(mut self, event_type: &str) -> Self {
        match event_type {
            "todo_added" => self.added += 1,
            "todo_completed" => self.completed += 1,
            "todo_deleted" => self.deleted += 1,
            "user_renamed" => self.renamed += 1,
            _ => self.other += 1,
        }
        self
    }

    /// Total events counted.
    pub fn total(&self) -> u64 {
        self.added + self.completed + self.deleted + self.renamed + self.other
    }
}

/// Counts by type plus the ids of the todos added and not deleted.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TodoStats {
    /// Events by type.
    pub tally: Tally,
    /// Ids of live todos.
    pub live: BTreeSet<u64>,
}

impl TodoStats {
    /// The state after one event of `event_type`; `id` (the payload's `id`) is only asked for
    /// the types that need it.
    pub fn apply(mut self, event_type: &str, id: impl FnOnce() -> Option<u64>) -> Self {
        match event_type {
            "todo_added" => {
                if let Some(id) = id() {
                    self.live.insert(id);
                }
            }
            "todo_deleted" => {
                if let Some(id) = id() {
                    self.live.remove(&id);
                }
            }
            _ => {}
        }
        self.tally = std::mem::take(&mut self.tally).count(event_type);
        self
    }

    /// A one-line summary that two equal states share, for cross-checking crates.
    pub fn digest(&self) -> String {
        let sum: u64 = self.live.iter().fold(0u64, |a, &b| a.wrapping_add(b));
        format!("{:?} live={} idsum={sum}", self.tally, self.live.len())
    }
}

/// Reducers for this crate (eventfold 0.3).
pub mod v03 {
    use super::{Tally, TodoStats};
    use eventfold::{Event, EventRef};
    use serde::Deserialize;
    use serde_json::Value;

    /// Just the `id` of a todo payload; the other fields are skipped, not built.
    #[derive(Deserialize)]
    struct TodoId {
        id: Option<u64>,
    }

    /// (a) Compat reducer over owned events: counts by type and tracks live todo ids.
    pub fn compat(state: TodoStats, event: &Event) -> TodoStats {
        state.apply(&event.event_type, || {
            event.data.get("id").and_then(Value::as_u64)
        })
    }

    /// (b) Zero-copy reducer doing the work of [`compat`], reading the type and `data.id`.
    pub fn type_id(state: TodoStats, event: &EventRef<'_>) -> TodoStats {
        state.apply(event.event_type(), || {
            event.data_as::<TodoId>().ok().and_then(|d| d.id)
        })
    }

    /// (b') [`type_id`] reading `data.id` with the field accessor instead of `data_as`.
    pub fn type_id_field(state: TodoStats, event: &EventRef<'_>) -> TodoStats {
        state.apply(event.event_type(), || event.data_u64("id"))
    }

    /// (c) Zero-copy reducer reading only the type.
    pub fn type_only(state: Tally, event: &EventRef<'_>) -> Tally {
        state.count(event.event_type())
    }

    /// Compat reducer counting by type (the owned-event form of [`type_only`]).
    pub fn compat_type_only(state: Tally, event: &Event) -> Tally {
        state.count(&event.event_type)
    }
}

/// Reducers for eventfold 0.2.0, which has only owned events.
pub mod v02 {
    use super::{Tally, TodoStats};
    use eventfold_v02::Event;
    use serde_json::Value;

    /// Compat reducer: counts by type and tracks live todo ids (the counterpart of
    /// [`super::v03::compat`] and [`super::v03::type_id`]).
    pub fn compat(state: TodoStats, event: &Event) -> TodoStats {
        state.apply(&event.event_type, || {
            event.data.get("id").and_then(Value::as_u64)
        })
    }

    /// Compat reducer counting by type (the counterpart of [`super::v03::type_only`]).
    pub fn type_only(state: Tally, event: &Event) -> Tally {
        state.count(&event.event_type)
    }
}

// ---------------------------------------------------------------------------------------------
// Prepared directories
// ---------------------------------------------------------------------------------------------

/// The open + refresh data set: a log of `n` events whose views' snapshots stop `new_events`
/// before its end.
#[derive(Debug, Clone)]
pub struct RefreshSet {
    /// The log directory.
    pub dir: PathBuf,
    /// Events past the snapshots.
    pub new_events: u64,
    /// Pristine snapshot of eventfold 0.2.0's view ([`V02_VIEW`]), to restore before each run.
    pub v02_snapshot: PathBuf,
    /// Pristine snapshot of this crate's view ([`V03_VIEW`]).
    pub v03_snapshot: PathBuf,
}

impl RefreshSet {
    /// Puts both pristine snapshots back, so the views again lag `new_events` behind.
    ///
    /// # Errors
    ///
    /// Returns an error if a copy fails.
    pub fn restore(&self) -> io::Result<()> {
        let views = self.dir.join("views");
        fs::copy(
            &self.v02_snapshot,
            views.join(format!("{V02_VIEW}.snapshot.json")),
        )?;
        fs::copy(
            &self.v03_snapshot,
            views.join(format!("{V03_VIEW}.snapshot.json")),
        )?;
        Ok(())
    }
}

/// A rotation data set: an active log of about `bytes` bytes.
#[derive(Debug, Clone)]
pub struct RotationSet {
    /// The log directory (never rotated itself: copy it with [`RotationSet::copy_to`]).
    pub dir: PathBuf,
    /// Target size of `app.jsonl`; the file ends at the first line boundary past it.
    pub bytes: u64,
    /// Events in `app.jsonl`.
    pub events: u64,
}

impl RotationSet {
    /// Replaces `scratch` with a fresh copy of this log directory.
    ///
    /// # Errors
    ///
    /// Returns an error if removing or copying fails.
    pub fn copy_to(&self, scratch: &Path) -> io::Result<()> {
        fresh_dir(scratch)?;
        fs::create_dir_all(scratch.join("views"))?;
        fs::copy(self.dir.join("app.jsonl"), scratch.join("app.jsonl"))?;
        Ok(())
    }
}

/// A time-travel data set: a log directory whose [`TRAVEL_VIEW`] (a compat view of
/// [`TodoStats`]) keeps checkpoints and has folded the whole history.
#[derive(Debug, Clone)]
pub struct TravelSet {
    /// The log directory.
    pub dir: PathBuf,
    /// The checkpoints the view keeps.
    pub checkpoints: eventfold::Checkpoints,
}

impl TravelSet {
    /// Opens the log with [`TRAVEL_VIEW`] registered as it was when the data set was built.
    ///
    /// # Errors
    ///
    /// As [`eventfold::EventLogBuilder::open`].
    pub fn open(&self) -> io::Result<eventfold::EventLog> {
        eventfold::EventLog::builder(&self.dir)
            .view_with::<TodoStats>(
                TRAVEL_VIEW,
                v03::compat,
                eventfold::ViewConfig::new().checkpoints(self.checkpoints),
            )
            .open()
    }

    /// The files in the view's checkpoint directory.
    ///
    /// # Errors
    ///
    /// Returns an error if the directory cannot be listed.
    pub fn checkpoint_files(&self) -> io::Result<usize> {
        let dir = self
            .dir
            .join("views")
            .join(format!("{TRAVEL_VIEW}.checkpoints"));
        Ok(fs::read_dir(dir)?.count())
    }
}

/// The event the time-travel workloads ask for, `At::Event(travel_event(n))`: the one after
/// nine tenths of the events, where [`Datasets::travel_active`] has a checkpoint.
pub fn travel_event(n: u64) -> u64 {
    (n / 10 * 9).min(n.saturating_sub(1))
}

/// The time the time-travel workloads ask for in the archive, `At::Time(travel_time(n))`: the
/// `ts` of the event halfway through the 8th of the [`ARCHIVE_FRAMES`] rotations of
/// [`Datasets::travel_archive`].
pub fn travel_time(n: u64) -> u64 {
    let per_rotation = n.div_ceil(ARCHIVE_FRAMES);
    FIXED_TS + (7 * per_rotation + per_rotation / 2).min(n.saturating_sub(1))
}

/// Where eventfold 0.2.0's fold of `read_full` stops.
#[derive(Debug, Clone, Copy)]
pub enum Until {
    /// After this many events.
    Events(u64),
    /// Before the first event stamped after this time.
    Time(u64),
}

/// eventfold 0.2.0's only way to the state at an earlier point: `read_full` folded by the
/// compat reducer until `until`.
///
/// # Errors
///
/// Returns an error if the history cannot be read.
pub fn v02_state_until(dir: &Path, until: Until) -> io::Result<TodoStats> {
    let reader = eventfold_v02::EventReader::new(dir);
    let mut state = TodoStats::default();
    for (i, item) in reader.read_full()?.enumerate() {
        let (event, _hash) = item?;
        match until {
            Until::Events(n) if i as u64 >= n => break,
            Until::Time(ts) if event.ts > ts => break,
            _ => {}
        }
        state = v02::compat(state, &event);
    }
    Ok(state)
}

/// Makes `to` a hard link to `from`, or a copy where links are not possible. For files that
/// the workloads only read: the link shares the bytes, and a 1 GB log is not copied.
pub fn link_or_copy(from: &Path, to: &Path) -> io::Result<()> {
    if fs::hard_link(from, to).is_err() {
        fs::copy(from, to)?;
    }
    Ok(())
}

/// The prepared directories for one event count, built on first use and cached on disk.
#[derive(Debug, Clone)]
pub struct Datasets {
    /// Events per data set.
    pub n: u64,
    root: PathBuf,
    scratch: PathBuf,
}

/// Removes `dir` if it exists and creates it empty.
pub fn fresh_dir(dir: &Path) -> io::Result<()> {
    match fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    fs::create_dir_all(dir)
}

/// Builds `dir` with `build` unless it holds a `READY` marker; the marker is written last, so an
/// interrupted build is redone.
fn cached<T>(
    dir: &Path,
    build: impl FnOnce(&Path) -> io::Result<T>,
    load: impl FnOnce(&Path) -> io::Result<T>,
) -> io::Result<T> {
    let marker = dir.join("READY");
    if marker.exists() {
        return load(dir);
    }
    fresh_dir(dir)?;
    let value = build(dir)?;
    fs::write(&marker, b"ok\n")?;
    Ok(value)
}

fn n_bytes(path: &Path) -> io::Result<u64> {
    Ok(fs::metadata(path)?.len())
}

fn read_u64(path: &Path) -> io::Result<u64> {
    let text = fs::read_to_string(path)?;
    text.trim().parse().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} does not hold a number; delete the cache",
                path.display()
            ),
        )
    })
}

impl Datasets {
    /// The data sets of `n` events under [`cache_root`], with a scratch directory private to
    /// this process.
    ///
    /// # Errors
    ///
    /// Returns an error if the directories cannot be created.
    pub fn new(n: u64) -> io::Result<Self> {
        let root = cache_root().join(format!("gen{GEN_VERSION}-n{n}"));
        let scratch = cache_root().join(format!("scratch-{}", std::process::id()));
        fs::create_dir_all(&root)?;
        fresh_dir(&scratch)?;
        Ok(Datasets { n, root, scratch })
    }

    /// A path in this process's scratch directory (removed by [`Datasets::cleanup`]).
    pub fn scratch(&self, name: &str) -> PathBuf {
        self.scratch.join(name)
    }

    /// Empties the scratch directory, so that what one workload copied there is not kept for
    /// the next.
    ///
    /// # Errors
    ///
    /// Returns an error if the directory cannot be removed or created again.
    pub fn clear_scratch(&self) -> io::Result<()> {
        fresh_dir(&self.scratch)
    }

    /// Removes the scratch directory.
    pub fn cleanup(&self) {
        let _ = fs::remove_dir_all(&self.scratch);
    }

    /// `n` events in `app.jsonl`, no archive. Rebuilds write their snapshots in its `views/`.
    ///
    /// # Errors
    ///
    /// Returns an error if the directory cannot be built.
    pub fn active(&self) -> io::Result<PathBuf> {
        let n = self.n;
        cached(
            &self.root.join("active"),
            |dir| {
                fs::create_dir_all(dir.join("views"))?;
                append_events(&dir.join("app.jsonl"), &mut Generator::new(), n)?;
                Ok(dir.to_path_buf())
            },
            |dir| Ok(dir.to_path_buf()),
        )
    }

    /// The `app.jsonl` of [`Datasets::active`] (a hard link, or a copy), sealed the way a log
    /// this crate wrote is: `app.seals.jsonl` checksums its blocks, written by a validating
    /// rebuild through a reader of the log's writer.
    ///
    /// # Errors
    ///
    /// Returns an error if the directory cannot be built, or the rebuild fails.
    pub fn sealed(&self) -> io::Result<PathBuf> {
        let active = self.active()?;
        cached(
            &self.root.join("sealed"),
            |dir| {
                fs::create_dir_all(dir.join("views"))?;
                let log = dir.join("app.jsonl");
                if fs::hard_link(active.join("app.jsonl"), &log).is_err() {
                    fs::copy(active.join("app.jsonl"), &log)?;
                }
                let writer = eventfold::EventWriter::open(dir)?;
                let mut view = eventfold::View::new_ref("seal", v03::type_only, &dir.join("views"));
                view.rebuild(&writer.reader())?;
                drop(writer);
                fs::remove_dir_all(dir.join("views"))?;
                fs::create_dir_all(dir.join("views"))?;
                let seals = fs::read_to_string(dir.join("app.seals.jsonl"))?;
                if seals.lines().count() < 2 && n_bytes(&log)? > 1 << 20 {
                    return Err(io::Error::other("the rebuild sealed nothing"));
                }
                Ok(dir.to_path_buf())
            },
            |dir| Ok(dir.to_path_buf()),
        )
    }

    /// The same `n` events rotated into a [`ARCHIVE_FRAMES`]-frame archive (by eventfold
    /// 0.2.0, so the archive is in the format both crates must read); `app.jsonl` is empty.
    ///
    /// # Errors
    ///
    /// Returns an error if the directory cannot be built.
    pub fn archive(&self) -> io::Result<PathBuf> {
        let n = self.n;
        cached(
            &self.root.join("archive"),
            |dir| {
                let mut events = Generator::new();
                let per_frame = n.div_ceil(ARCHIVE_FRAMES);
                let mut left = n;
                while left > 0 {
                    let count = per_frame.min(left);
                    append_events(&dir.join("app.jsonl"), &mut events, count)?;
                    let mut log = eventfold_v02::EventLog::open(dir)?;
                    log.rotate()?;
                    left -= count;
                }
                Ok(dir.to_path_buf())
            },
            |dir| Ok(dir.to_path_buf()),
        )
    }

    /// `n` events in `app.jsonl`, with a snapshot for each crate's compat view taken
    /// [`REFRESH_NEW_EVENTS`] events before the end.
    ///
    /// # Errors
    ///
    /// Returns an error if the directory cannot be built.
    pub fn refresh(&self) -> io::Result<RefreshSet> {
        let n = self.n;
        let new_events = REFRESH_NEW_EVENTS.min(n / 2);
        let set = |dir: &Path| RefreshSet {
            dir: dir.join("log"),
            new_events,
            v02_snapshot: dir.join("pristine").join("v02.snapshot.json"),
            v03_snapshot: dir.join("pristine").join("v03.snapshot.json"),
        };
        cached(
            &self.root.join("refresh"),
            |dir| {
                let out = set(dir);
                let log_path = out.dir.join("app.jsonl");
                let mut events = Generator::new();
                fs::create_dir_all(out.dir.join("views"))?;
                append_events(&log_path, &mut events, n - new_events)?;
                {
                    let mut log = eventfold_v02::EventLog::builder(&out.dir)
                        .view::<TodoStats>(V02_VIEW, v02::compat)
                        .open()?;
                    log.refresh_all()?;
                }
                {
                    let mut log = eventfold::EventLog::builder(&out.dir)
                        .view::<TodoStats>(V03_VIEW, v03::compat)
                        .open()?;
                    log.refresh_all()?;
                }
                append_events(&log_path, &mut events, new_events)?;
                fs::create_dir_all(dir.join("pristine"))?;
                let views = out.dir.join("views");
                fs::copy(
                    views.join(format!("{V02_VIEW}.snapshot.json")),
                    &out.v02_snapshot,
                )?;
                fs::copy(
                    views.join(format!("{V03_VIEW}.snapshot.json")),
                    &out.v03_snapshot,
                )?;
                Ok(out)
            },
            |dir| Ok(set(dir)),
        )
    }

    /// An active log of about `bytes` bytes: the first events of the same stream.
    ///
    /// # Errors
    ///
    /// Returns an error if the directory cannot be built.
    pub fn rotation(&self, bytes: u64) -> io::Result<RotationSet> {
        cached(
            &cache_root().join(format!("gen{GEN_VERSION}-rotate-{bytes}")),
            |dir| {
                let events =
                    write_events_to_size(&dir.join("app.jsonl"), &mut Generator::new(), bytes)?;
                fs::write(dir.join("EVENTS"), format!("{events}\n"))?;
                Ok(RotationSet {
                    dir: dir.to_path_buf(),
                    bytes,
                    events,
                })
            },
            |dir| {
                Ok(RotationSet {
                    dir: dir.to_path_buf(),
                    bytes,
                    events: read_u64(&dir.join("EVENTS"))?,
                })
            },
        )
    }
    /// The events of [`Datasets::active`] (`app.jsonl` shared as a hard link), with a compat
    /// view that keeps a checkpoint every tenth of the events ([`TRAVEL_VIEW`]), refreshed once
    /// so that the checkpoints exist.
    ///
    /// # Errors
    ///
    /// Returns an error if the directory cannot be built.
    pub fn travel_active(&self) -> io::Result<TravelSet> {
        let set = |dir: &Path| TravelSet {
            dir: dir.to_path_buf(),
            checkpoints: eventfold::Checkpoints::every((self.n / 10).max(1)),
        };
        let active = self.active()?;
        cached(
            &self.root.join("travel-active"),
            |dir| {
                link_or_copy(&active.join("app.jsonl"), &dir.join("app.jsonl"))?;
                let set = set(dir);
                set.open()?.refresh_all()?;
                Ok(set)
            },
            |dir| Ok(set(dir)),
        )
    }

    /// The same `n` events rotated by this crate in [`ARCHIVE_FRAMES`] rotations of equal
    /// size, with [`TRAVEL_VIEW`] registered as in [`Datasets::travel_active`] (a checkpoint
    /// every tenth of the events, and at each rotation): the archive has its index
    /// (`archive.index.jsonl`), and the view a checkpoint at the end of each rotation. Each
    /// rotation is cut into frames of at most 4 MiB of content; `app.jsonl` is empty.
    ///
    /// # Errors
    ///
    /// Returns an error if the directory cannot be built, or if the rotations left no index.
    pub fn travel_archive(&self) -> io::Result<TravelSet> {
        let n = self.n;
        let set = |dir: &Path| TravelSet {
            dir: dir.to_path_buf(),
            checkpoints: eventfold::Checkpoints::every((n / 10).max(1)),
        };
        cached(
            &self.root.join("travel-archive"),
            |dir| {
                let set = set(dir);
                let mut events = Generator::new();
                let per_rotation = n.div_ceil(ARCHIVE_FRAMES);
                let mut left = n;
                while left > 0 {
                    let count = per_rotation.min(left);
                    append_events(&dir.join("app.jsonl"), &mut events, count)?;
                    set.open()?.rotate()?;
                    left -= count;
                }
                if !dir.join("archive.index.jsonl").exists() {
                    return Err(io::Error::other(format!(
                        "the rotations in {} left no archive index",
                        dir.display()
                    )));
                }
                Ok(set)
            },
            |dir| Ok(set(dir)),
        )
    }

    /// The same `n` events in a SQLite database, `events.db`: one table
    /// `events(seq INTEGER PRIMARY KEY, type TEXT, ts INTEGER, data TEXT)`, `seq` the event's
    /// index and `data` its payload as JSON text, written in one transaction with
    /// `journal_mode=WAL` and `synchronous=FULL`, then checkpointed so that the database file
    /// holds every row. Returns the path of the database.
    ///
    /// # Errors
    ///
    /// Returns an error if the database cannot be built.
    pub fn sqlite(&self) -> io::Result<PathBuf> {
        let n = self.n;
        cached(
            &self.root.join("sqlite"),
            |dir| {
                let path = dir.join("events.db");
                write_sqlite(&path, Generator::new().take(n as usize))
                    .map_err(|e| io::Error::other(format!("{}: {e}", path.display())))?;
                Ok(path)
            },
            |dir| Ok(dir.join("events.db")),
        )
    }
}

/// Writes `events` into a new SQLite database at `path` (see [`Datasets::sqlite`]).
fn write_sqlite(
    path: &Path,
    events: impl Iterator<Item = eventfold::Event>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut db = rusqlite::Connection::open(path)?;
    let mode: String = db.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(format!("SQLite kept journal_mode={mode} instead of WAL").into());
    }
    db.pragma_update(None, "synchronous", "FULL")?;
    db.execute(
        "CREATE TABLE events(seq INTEGER PRIMARY KEY, type TEXT, ts INTEGER, data TEXT)",
        (),
    )?;
    let tx = db.transaction()?;
    {
        let mut insert =
            tx.prepare("INSERT INTO events(seq, type, ts, data) VALUES (?1, ?2, ?3, ?4)")?;
        for (seq, event) in events.enumerate() {
            let data = serde_json::to_string(&event.data)?;
            insert.execute((seq as i64, &event.event_type, event.ts as i64, &data))?;
        }
    }
    tx.commit()?;
    db.query_row("PRAGMA wal_checkpoint(TRUNCATE)", (), |_| Ok(()))?;
    Ok(())
}
