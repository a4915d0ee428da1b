//! The workloads that compare eventfold 0.2.0 with this crate: rebuilds, open + refresh, a
//! loaded view, appends, rotations and `refresh_all` of several views.

use crate::data::{self, Generator, Tally, TodoStats, V02_VIEW, V03_VIEW, v02, v03};
use crate::{BoxError, Data, Outcome, Run, Workload};
use eventfold::{SnapshotPolicy, ViewConfig};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const APPEND_EVENTS: usize = 100;
/// Refreshes per round of the loaded-view workload; the row reports the time of one.
const LOADED_REFRESHES: u32 = 50;

pub const NOTE_REF: &str = "* 0.2.0 has no zero-copy reducers: its side of these rows runs a \
                            compat reducer doing the same work";
pub const NOTE_POLICY: &str = "† 0.3.0 with SnapshotPolicy::every_events(1_000_000); 0.2.0 \
                               saves as always (it has no policy)";
pub const NOTE_REFRESH_ALL: &str = "* four views registered on one log, refreshed from no \
                                    snapshot by one refresh_all (snapshots written): 0.3.0 two \
                                    compat and two EventRef reducers, 0.2.0 four compat reducers \
                                    doing the same work";

pub fn note_loaded() -> String {
    format!(
        "‡ time of one refresh, the mean of {LOADED_REFRESHES} per round; 0.2.0 saves its \
         snapshot at each, 0.3.0 with every_events(1000) at one in a thousand (not in the rounds)"
    )
}

// ---------------------------------------------------------------------------------------------
// Rebuilds
// ---------------------------------------------------------------------------------------------

/// A fresh 0.2.0 view over `dir`, rebuilt; times the rebuild only.
pub fn rebuild_v02<S>(
    dir: &Path,
    name: &str,
    reducer: eventfold_v02::ReduceFn<S>,
    digest: fn(&S) -> String,
) -> Outcome
where
    S: Serialize + DeserializeOwned + Default + Clone,
{
    let start = Instant::now();
    let reader = eventfold_v02::EventReader::new(dir);
    let mut view = eventfold_v02::View::new(name, reducer, &dir.join("views"));
    view.rebuild(&reader)?;
    let elapsed = start.elapsed();
    Ok((elapsed, Some(digest(view.state()))))
}

/// A fresh view of this crate (compat reducer) over `dir`, rebuilt.
pub fn rebuild_v03<S>(
    dir: &Path,
    name: &str,
    reducer: eventfold::ReduceFn<S>,
    digest: fn(&S) -> String,
) -> Outcome
where
    S: Serialize + DeserializeOwned + Default + Clone,
{
    timed_rebuild_v03(
        dir,
        |views| eventfold::View::new(name, reducer, views),
        digest,
    )
}

/// A fresh view of this crate (zero-copy reducer) over `dir`, rebuilt.
pub fn rebuild_v03_ref<S>(
    dir: &Path,
    name: &str,
    reducer: eventfold::ReduceRefFn<S>,
    digest: fn(&S) -> String,
) -> Outcome
where
    S: Serialize + DeserializeOwned + Default + Clone,
{
    timed_rebuild_v03(
        dir,
        |views| eventfold::View::new_ref(name, reducer, views),
        digest,
    )
}

/// The view that `view` makes in the views directory of `dir`, rebuilt; the time covers the
/// reader, the view and the rebuild, as [`rebuild_v02`]'s does.
fn timed_rebuild_v03<S>(
    dir: &Path,
    view: impl FnOnce(&Path) -> eventfold::View<S>,
    digest: fn(&S) -> String,
) -> Outcome
where
    S: Serialize + DeserializeOwned + Default + Clone,
{
    let start = Instant::now();
    let reader = eventfold::EventReader::new(dir);
    let mut view = view(&dir.join("views"));
    view.rebuild(&reader)?;
    let elapsed = start.elapsed();
    Ok((elapsed, Some(digest(view.state()))))
}

/// Which upcasters of the `upcast` section a child process applies.
#[derive(Debug, Clone, Copy)]
pub enum Upcasting {
    /// [`bench_upcasters`]: owned events and `serde_json::Value`s.
    Values,
    /// [`bench_reshapers`]: the same change, written as text.
    Text,
    /// [`bench_renames`].
    Renames,
}

/// [`rebuild_v03_ref`] of the type + `data.id` view through a reader with the upcasters
/// `upcasting` names: the `upcast` section's second sides, for the child processes.
pub fn rebuild_v03_ref_upcast(dir: &Path, upcasting: Upcasting) -> Outcome {
    let upcasters = match upcasting {
        Upcasting::Values => bench_upcasters(&Arc::new(AtomicU64::new(0))),
        Upcasting::Text => bench_reshapers(&Arc::new(AtomicU64::new(0))),
        Upcasting::Renames => bench_renames(),
    };
    rebuild_upcasting(dir, "rss_v03_up", upcasters)
}

/// [`rebuild_v03_ref`] of the type + `data.id` view `name` through a reader with `upcasters`.
fn rebuild_upcasting(dir: &Path, name: &str, upcasters: eventfold::Upcasters) -> Outcome {
    let start = Instant::now();
    let reader = eventfold::EventReader::new(dir).upcasting(upcasters);
    let mut view = eventfold::View::new_ref(name, v03::type_id, &dir.join("views"));
    view.rebuild(&reader)?;
    let elapsed = start.elapsed();
    Ok((elapsed, Some(stats_digest(view.state()))))
}

pub fn stats_digest(s: &TodoStats) -> String {
    s.digest()
}

pub fn tally_digest(t: &Tally) -> String {
    format!("{t:?}")
}

/// A fresh view over `dir`, rebuilt through a reader of the log's writer, so that what the
/// rebuild validates is sealed; the seals are removed again afterwards, so that every run is a
/// first one. The time covers opening the writer too.
fn first_rebuild_sealing(
    dir: &Path,
    name: &str,
    reducer: eventfold::ReduceRefFn<Tally>,
) -> Outcome {
    let seals = dir.join("app.seals.jsonl");
    let _ = std::fs::remove_file(&seals);
    let start = Instant::now();
    let writer = eventfold::EventWriter::open(dir)?;
    let mut view = eventfold::View::new_ref(name, reducer, &dir.join("views"));
    view.rebuild(&writer.reader())?;
    let elapsed = start.elapsed();
    drop(writer);
    if !seals.exists() {
        return Err("the first rebuild sealed nothing".into());
    }
    std::fs::remove_file(&seals)?;
    Ok((elapsed, Some(tally_digest(view.state()))))
}

pub fn rebuild(data: &Data) -> Result<Vec<Workload<'_>>, BoxError> {
    let (unsealed, archive, n) = (data.active()?, data.archive()?, data.n());
    // The log as this crate's writer leaves it: the same bytes, with their seals.
    let active = data.sealed()?;
    let ours = data.travel_archive()?.dir.as_path();
    let frames = data::ARCHIVE_FRAMES;
    Ok(vec![
        Workload::new(
            "rebuild app.jsonl, compat reducer",
            n,
            move || rebuild_v02(active, "rb_v02", v02::compat, stats_digest),
            move || rebuild_v03(active, "rb_v03", v03::compat, stats_digest),
        ),
        // The compat path with a state that does not grow with the log, so that its time per
        // event shows the engine's scaling alone (the rows above and below keep a set of ids).
        Workload::new(
            "rebuild app.jsonl, compat, counts only",
            n,
            move || rebuild_v02(active, "rb_v02_t", v02::type_only, tally_digest),
            move || rebuild_v03(active, "rb_v03_t", v03::compat_type_only, tally_digest),
        ),
        Workload::new(
            "rebuild app.jsonl, type + data.id (ref)*",
            n,
            move || rebuild_v02(active, "rb_v02", v02::compat, stats_digest),
            move || rebuild_v03_ref(active, "rb_v03", v03::type_id, stats_digest),
        ),
        Workload::new(
            "rebuild app.jsonl, type + data.id (ref, data_u64)*",
            n,
            move || rebuild_v02(active, "rb_v02", v02::compat, stats_digest),
            move || rebuild_v03_ref(active, "rb_v03", v03::type_id_field, stats_digest),
        ),
        Workload::new(
            "rebuild app.jsonl, type only (ref)*",
            n,
            move || rebuild_v02(active, "rb_v02_t", v02::type_only, tally_digest),
            move || rebuild_v03_ref(active, "rb_v03_t", v03::type_only, tally_digest),
        ),
        // The same bytes without seals (a log 0.2.0 wrote, or one copied in): read by a
        // read-only reader, which validates every line and seals nothing; then the first
        // rebuild in a process that holds the writer, which validates and seals.
        Workload::new(
            "rebuild app.jsonl not sealed, type only (ref)*",
            n,
            move || rebuild_v02(unsealed, "rb_v02_t", v02::type_only, tally_digest),
            move || rebuild_v03_ref(unsealed, "rb_v03_t", v03::type_only, tally_digest),
        ),
        Workload::new(
            "first rebuild app.jsonl not sealed, sealing, type only*",
            n,
            move || rebuild_v02(unsealed, "rb_v02_t", v02::type_only, tally_digest),
            move || first_rebuild_sealing(unsealed, "rb_v03_t", v03::type_only),
        ),
        Workload::new(
            format!("rebuild {frames}-frame archive, compat"),
            n,
            move || rebuild_v02(archive, "rb_v02", v02::compat, stats_digest),
            move || rebuild_v03(archive, "rb_v03", v03::compat, stats_digest),
        ),
        Workload::new(
            format!("rebuild {frames}-frame archive, type only (ref)*"),
            n,
            move || rebuild_v02(archive, "rb_v02_t", v02::type_only, tally_digest),
            move || rebuild_v03_ref(archive, "rb_v03_t", v03::type_only, tally_digest),
        ),
        // The same events rotated by this crate: frames of at most 4 MiB that record their
        // content size, which a replay decompresses several at a time.
        Workload::new(
            "rebuild archive by 0.3.0, compat",
            n,
            move || rebuild_v02(ours, "rb_v02", v02::compat, stats_digest),
            move || rebuild_v03(ours, "rb_v03", v03::compat, stats_digest),
        ),
        Workload::new(
            "rebuild archive by 0.3.0, type only (ref)*",
            n,
            move || rebuild_v02(ours, "rb_v02_t", v02::type_only, tally_digest),
            move || rebuild_v03_ref(ours, "rb_v03_t", v03::type_only, tally_digest),
        ),
    ])
}

// ---------------------------------------------------------------------------------------------
// Upcasting
// ---------------------------------------------------------------------------------------------

/// Upcasters that reshape about 10% of the bench log's events and leave every state the
/// reducers fold as it was (so that both sides of a row fold the same digest): every
/// `user_renamed` (8% of the events) gets its names nested, and the `todo_completed` events
/// whose `meta` says `"v": 2` (10% of that type's 22%) a `by` field. Each upcast event is
/// marked `"v": 3` so that no upcaster matches it again. `touched` counts the events they
/// are given.
pub fn bench_upcasters(touched: &Arc<AtomicU64>) -> eventfold::Upcasters {
    use eventfold::Upcaster;
    use serde_json::json;
    let renamed = {
        let touched = Arc::clone(touched);
        move |mut event: eventfold::Event| {
            touched.fetch_add(1, Ordering::Relaxed);
            let data = std::mem::take(&mut event.data);
            event.data =
                json!({ "user": data["user"], "name": { "from": data["from"], "to": data["to"] } });
            event.meta = Some(json!({ "v": 3 }));
            event
        }
    };
    let completed = {
        let touched = Arc::clone(touched);
        move |mut event: eventfold::Event| {
            touched.fetch_add(1, Ordering::Relaxed);
            event.data["by"] = serde_json::Value::Null;
            event.meta = Some(json!({ "v": 3 }));
            event
        }
    };
    eventfold::Upcasters::new()
        .with(Upcaster::map("user_renamed", renamed.clone()).when_version("v", None))
        .with(Upcaster::map("user_renamed", renamed).when_version("v", 2))
        .with(Upcaster::map("todo_completed", completed).when_version("v", 2))
}

/// [`bench_upcasters`], written with [`eventfold::Upcaster::reshape`]: the same events get
/// the same `data` and `meta`, written as JSON text from the borrowed event's raw fields.
pub fn bench_reshapers(touched: &Arc<AtomicU64>) -> eventfold::Upcasters {
    use eventfold::{Reshaped, Upcaster};
    let renamed = {
        let touched = Arc::clone(touched);
        move |event: &eventfold::EventRef<'_>| {
            touched.fetch_add(1, Ordering::Relaxed);
            let field = |key| event.data_field(key).unwrap_or("null");
            let data = format!(
                r#"{{"user":{},"name":{{"from":{},"to":{}}}}}"#,
                field("user"),
                field("from"),
                field("to")
            );
            Ok::<_, &str>(Reshaped::new().data(data).meta(r#"{"v":3}"#))
        }
    };
    let completed = {
        let touched = Arc::clone(touched);
        move |event: &eventfold::EventRef<'_>| {
            touched.fetch_add(1, Ordering::Relaxed);
            // `data` is an object: `by` goes in as its last key.
            let data = event.data_raw();
            let open = data.strip_suffix('}').ok_or("`data` is not an object")?;
            let data = match open.trim_end() == "{" {
                true => r#"{"by":null}"#.to_string(),
                false => format!(r#"{open},"by":null}}"#),
            };
            Ok::<_, &str>(Reshaped::new().data(data).meta(r#"{"v":3}"#))
        }
    };
    eventfold::Upcasters::new()
        .with(Upcaster::reshape("user_renamed", renamed.clone()).when_version("v", None))
        .with(Upcaster::reshape("user_renamed", renamed).when_version("v", 2))
        .with(Upcaster::reshape("todo_completed", completed).when_version("v", 2))
}

/// The (type, version) pairs of [`bench_upcasters`], each renamed to itself: what a rename
/// costs (done in place, without an owned event) on the same events, with every state left
/// as it was.
pub fn bench_renames() -> eventfold::Upcasters {
    use eventfold::Upcaster;
    eventfold::Upcasters::new()
        .with(Upcaster::rename("user_renamed", "user_renamed").when_version("v", None))
        .with(Upcaster::rename("user_renamed", "user_renamed").when_version("v", 2))
        .with(Upcaster::rename("todo_completed", "todo_completed").when_version("v", 2))
}

/// The type + `data.id` rebuild of the `rebuild` section, without upcasters and with
/// [`bench_upcasters`], on the sealed log (the fastest path, where a lookup costs the most
/// relatively). Returns the workloads and the count of events the upcasters were given.
pub fn upcast(data: &Data) -> Result<(Vec<Workload<'_>>, Arc<AtomicU64>), BoxError> {
    let (active, n) = (data.sealed()?, data.n());
    let touched = Arc::new(AtomicU64::new(0));
    let upcasters = bench_upcasters(&touched);
    let with = move || rebuild_upcasting(active, "rb_v03", upcasters.clone());
    // The same events as `upcasters`, counted apart (the note reports those).
    let reshapers = bench_reshapers(&Arc::new(AtomicU64::new(0)));
    let text = move || rebuild_upcasting(active, "rb_v03", reshapers.clone());
    let renames = move || rebuild_upcasting(active, "rb_v03", bench_renames());
    let workloads = vec![
        Workload::new(
            "rebuild app.jsonl, type + data.id (ref)",
            n,
            move || rebuild_v03_ref(active, "rb_v03", v03::type_id, stats_digest),
            with,
        ),
        Workload::new(
            "the same, the upcasters written as text (reshape)",
            n,
            move || rebuild_v03_ref(active, "rb_v03", v03::type_id, stats_digest),
            text,
        ),
        Workload::new(
            "the same, upcasters that only rename",
            n,
            move || rebuild_v03_ref(active, "rb_v03", v03::type_id, stats_digest),
            renames,
        ),
    ];
    Ok((workloads, touched))
}

/// What share of the events the upcasters were given, per rebuild.
pub fn note_upcast(touched: &AtomicU64, n: u64) -> String {
    let per_rebuild = touched.load(Ordering::Relaxed) as f64 / crate::ROUNDS as f64;
    format!(
        "upcasters registered on three (type, version) pairs; they were given {:.1}% of the \
         events",
        100.0 * per_rebuild / n.max(1) as f64
    )
}

// ---------------------------------------------------------------------------------------------
// Open + refresh, and a loaded view
// ---------------------------------------------------------------------------------------------

pub fn refresh(data: &Data) -> Result<Vec<Workload<'static>>, BoxError> {
    let set = data.sets.refresh()?;
    let mut workloads = open_refresh(set.clone());
    workloads.extend(loaded_view(data, &set)?);
    Ok(workloads)
}

fn open_refresh(set: data::RefreshSet) -> Vec<Workload<'static>> {
    let v02_run = |set: data::RefreshSet| {
        move || -> Outcome {
            set.restore()?;
            let start = Instant::now();
            let mut log = eventfold_v02::EventLog::builder(&set.dir)
                .view::<TodoStats>(V02_VIEW, v02::compat)
                .open()?;
            log.refresh_all()?;
            let elapsed = start.elapsed();
            Ok((elapsed, Some(log.view::<TodoStats>(V02_VIEW)?.digest())))
        }
    };
    let new = set.new_events;
    let (a, b) = (set.clone(), set.clone());
    vec![
        Workload::new(
            format!("open + refresh {new} new, compat"),
            new,
            v02_run(set.clone()),
            move || {
                a.restore()?;
                let start = Instant::now();
                let mut log = eventfold::EventLog::builder(&a.dir)
                    .view::<TodoStats>(V03_VIEW, v03::compat)
                    .open()?;
                log.refresh_all()?;
                let elapsed = start.elapsed();
                Ok((elapsed, Some(log.view::<TodoStats>(V03_VIEW)?.digest())))
            },
        ),
        Workload::new(
            format!("open + refresh {new} new, policy that does not save†"),
            new,
            v02_run(set.clone()),
            move || {
                b.restore()?;
                let start = Instant::now();
                let mut log = eventfold::EventLog::builder(&b.dir)
                    .snapshot_policy(SnapshotPolicy::every_events(1_000_000))
                    .view::<TodoStats>(V03_VIEW, v03::compat)
                    .open()?;
                log.refresh_all()?;
                let elapsed = start.elapsed();
                Ok((elapsed, Some(log.view::<TodoStats>(V03_VIEW)?.digest())))
            },
        ),
        Workload::new(
            format!("open + refresh {new} new, type + id (ref)*"),
            new,
            v02_run(set.clone()),
            move || {
                set.restore()?;
                let start = Instant::now();
                let mut log = eventfold::EventLog::builder(&set.dir)
                    .view_ref::<TodoStats>(V03_VIEW, v03::type_id)
                    .open()?;
                log.refresh_all()?;
                let elapsed = start.elapsed();
                Ok((elapsed, Some(log.view::<TodoStats>(V03_VIEW)?.digest())))
            },
        ),
    ]
}

/// A view already loaded from the refresh data set's snapshot, refreshed after each single
/// append: 0.2.0 saves its snapshot every time, this crate with `every_events(1000)` once per
/// thousand events (not within the rounds measured). Each crate works on its own copy of the
/// log; the appends are not timed.
fn loaded_view(data: &Data, set: &data::RefreshSet) -> Result<Vec<Workload<'static>>, BoxError> {
    let copy = |name: &str| -> Result<PathBuf, BoxError> {
        let dir = data.sets.scratch(name);
        data::fresh_dir(&dir)?;
        std::fs::create_dir_all(dir.join("views"))?;
        std::fs::copy(set.dir.join("app.jsonl"), dir.join("app.jsonl"))?;
        for (pristine, view) in [(&set.v02_snapshot, V02_VIEW), (&set.v03_snapshot, V03_VIEW)] {
            let target = dir.join("views").join(format!("{view}.snapshot.json"));
            std::fs::copy(pristine, target)?;
        }
        Ok(dir)
    };
    let events: Vec<eventfold::Event> = Generator::new()
        .take(crate::ROUNDS * LOADED_REFRESHES as usize)
        .collect();
    let events_v02: Vec<eventfold_v02::Event> = events.iter().map(data::to_v02).collect();

    let mut log_v02 = eventfold_v02::EventLog::builder(copy("loaded-v02")?)
        .view::<TodoStats>(V02_VIEW, v02::compat)
        .open()?;
    log_v02.refresh_all()?;
    let mut log_v03 = eventfold::EventLog::builder(copy("loaded-v03")?)
        .view_with::<TodoStats>(
            V03_VIEW,
            v03::compat,
            ViewConfig::new().policy(SnapshotPolicy::every_events(1000)),
        )
        .open()?;
    log_v03.refresh_all()?;
    let (mut next_v02, mut next_v03) = (events_v02.into_iter(), events.into_iter());
    Ok(vec![Workload::new(
        "loaded view, refresh after one append‡",
        1,
        move || {
            let mut total = Duration::ZERO;
            for event in next_v02.by_ref().take(LOADED_REFRESHES as usize) {
                log_v02.append(&event)?;
                let start = Instant::now();
                log_v02.refresh_all()?;
                total += start.elapsed();
            }
            let digest = log_v02.view::<TodoStats>(V02_VIEW)?.digest();
            Ok((total / LOADED_REFRESHES, Some(digest)))
        },
        move || {
            let mut total = Duration::ZERO;
            for event in next_v03.by_ref().take(LOADED_REFRESHES as usize) {
                log_v03.append(&event)?;
                let start = Instant::now();
                log_v03.refresh_all()?;
                total += start.elapsed();
            }
            let digest = log_v03.view::<TodoStats>(V03_VIEW)?.digest();
            Ok((total / LOADED_REFRESHES, Some(digest)))
        },
    )])
}

// ---------------------------------------------------------------------------------------------
// Appends and rotations
// ---------------------------------------------------------------------------------------------

pub fn append(data: &Data) -> Result<Vec<Workload<'static>>, BoxError> {
    let events: Vec<eventfold::Event> = Generator::new().take(APPEND_EVENTS).collect();
    let events_v02: Vec<eventfold_v02::Event> = events.iter().map(data::to_v02).collect();

    let v02_single = |dir: PathBuf| -> Result<Run<'static>, BoxError> {
        let mut log = eventfold_v02::EventLog::open(dir)?;
        let events = events_v02.clone();
        Ok(Box::new(move || {
            let start = Instant::now();
            for event in &events {
                log.append(event)?;
            }
            Ok((start.elapsed(), None))
        }))
    };
    let mut log_single = eventfold::EventLog::open(data.sets.scratch("append-v03-single"))?;
    let single = events.clone();
    let mut log_batch = eventfold::EventLog::open(data.sets.scratch("append-v03-batch"))?;
    let batch = events;
    Ok(vec![
        Workload {
            name: format!("append {APPEND_EVENTS}, one by one (synced each)"),
            events: APPEND_EVENTS as u64,
            base: v02_single(data.sets.scratch("append-v02-a"))?,
            v03: Box::new(move || {
                let start = Instant::now();
                for event in &single {
                    log_single.append(event)?;
                }
                Ok((start.elapsed(), None))
            }),
            rebuild: None,
        },
        Workload {
            name: format!("append {APPEND_EVENTS}: 0.2.0 one by one, 0.3.0 batch"),
            events: APPEND_EVENTS as u64,
            base: v02_single(data.sets.scratch("append-v02-b"))?,
            v03: Box::new(move || {
                let start = Instant::now();
                log_batch.append_batch(&batch)?;
                Ok((start.elapsed(), None))
            }),
            rebuild: None,
        },
    ])
}

/// 0.2.0 rotating a fresh copy of `set`, timed from the call.
fn rotate_copy_v02(set: &data::RotationSet, scratch: &Path) -> Outcome {
    set.copy_to(scratch)?;
    let mut log = eventfold_v02::EventLog::open(scratch)?;
    let start = Instant::now();
    log.rotate()?;
    let elapsed = start.elapsed();
    check_rotated(log.active_log_size()?, log.archive_path())?;
    Ok((elapsed, None))
}

/// This crate rotating `log`, timed from the call.
fn rotate_v03(mut log: eventfold::EventLog) -> Outcome {
    let start = Instant::now();
    log.rotate()?;
    let elapsed = start.elapsed();
    check_rotated(log.active_log_size()?, log.archive_path())?;
    Ok((elapsed, None))
}

pub fn rotation(data: &Data) -> Result<Vec<Workload<'static>>, BoxError> {
    let sets = data::rotation_sizes(data.n())
        .into_iter()
        .map(|bytes| data.sets.rotation(bytes))
        .collect::<Result<Vec<_>, _>>()?;
    let smallest = sets.first().cloned();
    let mut workloads: Vec<Workload<'static>> = sets
        .into_iter()
        .map(|set| {
            let scratch_a = data.sets.scratch("rotate-v02");
            let scratch_b = data.sets.scratch("rotate-v03");
            let (set_a, set_b) = (set.clone(), set.clone());
            Workload::new(
                format!(
                    "rotate {} active log (no views)",
                    data::size_label(set.bytes)
                ),
                set.events,
                move || rotate_copy_v02(&set_a, &scratch_a),
                move || {
                    set_b.copy_to(&scratch_b)?;
                    rotate_v03(eventfold::EventLog::open(&scratch_b)?)
                },
            )
        })
        .collect();
    // The usual case in an application: the writer rotating a log it appended itself, which
    // has followed what each frame will hold and need not parse the log again to describe the
    // frames in the archive index. 0.2.0 does the same work either way (it keeps no index),
    // so its side rotates a copy of the same file.
    if let Some(set) = smallest {
        let events: Vec<eventfold::Event> = std::fs::read_to_string(set.dir.join("app.jsonl"))?
            .lines()
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()?;
        let scratch_a = data.sets.scratch("rotate-appended-v02");
        let scratch_b = data.sets.scratch("rotate-appended-v03");
        let set_a = set.clone();
        workloads.push(Workload::new(
            format!(
                "rotate {} active log appended by the writer",
                data::size_label(set.bytes)
            ),
            set.events,
            move || rotate_copy_v02(&set_a, &scratch_a),
            move || {
                data::fresh_dir(&scratch_b)?;
                let mut log = eventfold::EventLog::open(&scratch_b)?;
                for batch in events.chunks(10_000) {
                    log.append_batch(batch)?;
                }
                rotate_v03(log)
            },
        ));
    }
    Ok(workloads)
}

fn check_rotated(active_len: u64, archive: &Path) -> Result<(), BoxError> {
    if active_len != 0 || !archive.exists() {
        return Err(format!(
            "rotation left {active_len} bytes in the active log (archive exists: {})",
            archive.exists()
        )
        .into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// refresh_all of several views
// ---------------------------------------------------------------------------------------------

/// One log with four views registered, none with a snapshot, and one `refresh_all`: the time
/// of `refresh_all` alone (the log is opened before, its `views/` emptied before that). Each
/// crate has its own directory, whose `app.jsonl` is a link to the active data set's.
pub fn refresh_all(data: &Data) -> Result<Vec<Workload<'static>>, BoxError> {
    let active = data.active()?;
    let dir_for = |name: &str| -> Result<PathBuf, BoxError> {
        let dir = data.sets.scratch(name);
        data::fresh_dir(&dir)?;
        data::link_or_copy(&active.join("app.jsonl"), &dir.join("app.jsonl"))?;
        Ok(dir)
    };
    let (dir_v02, dir_v03) = (dir_for("refresh-all-v02")?, dir_for("refresh-all-v03")?);
    Ok(vec![Workload::new(
        "refresh_all, 4 views (2 compat, 2 EventRef)*",
        data.n(),
        move || {
            data::fresh_dir(&dir_v02.join("views"))?;
            let mut log = eventfold_v02::EventLog::builder(&dir_v02)
                .view::<TodoStats>("all_stats", v02::compat)
                .view::<Tally>("all_types", v02::type_only)
                .view::<TodoStats>("all_stats_ref", v02::compat)
                .view::<Tally>("all_types_ref", v02::type_only)
                .open()?;
            let start = Instant::now();
            log.refresh_all()?;
            let elapsed = start.elapsed();
            let digest = format!(
                "{} | {:?} | {} | {:?}",
                log.view::<TodoStats>("all_stats")?.digest(),
                log.view::<Tally>("all_types")?,
                log.view::<TodoStats>("all_stats_ref")?.digest(),
                log.view::<Tally>("all_types_ref")?,
            );
            Ok((elapsed, Some(digest)))
        },
        move || {
            data::fresh_dir(&dir_v03.join("views"))?;
            let mut log = eventfold::EventLog::builder(&dir_v03)
                .view::<TodoStats>("all_stats", v03::compat)
                .view::<Tally>("all_types", v03::compat_type_only)
                .view_ref::<TodoStats>("all_stats_ref", v03::type_id)
                .view_ref::<Tally>("all_types_ref", v03::type_only)
                .open()?;
            let start = Instant::now();
            log.refresh_all()?;
            let elapsed = start.elapsed();
            let digest = format!(
                "{} | {:?} | {} | {:?}",
                log.view::<TodoStats>("all_stats")?.digest(),
                log.view::<Tally>("all_types")?,
                log.view::<TodoStats>("all_stats_ref")?.digest(),
                log.view::<Tally>("all_types_ref")?,
            );
            Ok((elapsed, Some(digest)))
        },
    )])
}
