//! Replay benchmarks: eventfold 0.2.0 and this crate side by side on the same data.
//!
//! ```text
//! cargo bench -p eventfold-bench --bench replay                                # 1M events
//! EVENTFOLD_BENCH_EVENTS=100000 cargo bench -p eventfold-bench --bench replay  # quick run
//! ```
//!
//! Groups (each holds `eventfold-0.2.0` and `eventfold-0.3.0`):
//!
//! - `rebuild_active/{compat,type_id,type_only}`: a fresh view rebuilt from `app.jsonl`. This
//!   crate runs (a) its compat reducer, (b) a zero-copy reducer reading the type and `data.id`,
//!   (c) a zero-copy reducer reading only the type; 0.2.0 runs compat reducers doing the same
//!   work.
//! - `rebuild_archive/compat`: the same events, rotated into a 10-frame archive.
//! - `open_refresh_new/{compat,type_id}`: open the log and `refresh_all` a view whose snapshot
//!   lags 1000 events behind the end of a log of N events (snapshot load and save included).
//! - `time_travel/{event,time_in_archive}`: the state of a compat view at event 0.9 N of
//!   `app.jsonl`, where the view keeps a checkpoint every N / 10 events, and at a time inside the
//!   8th of 10 rotations of an archive written by this crate (index and checkpoints present):
//!   this crate's `EventLog::state_at` against 0.2.0 folding `read_full` up to the same point.
//!
//! The data comes from `benches/data/mod.rs` and is cached on disk (see there).

mod data;

use criterion::{BatchSize, Criterion, Throughput, criterion_group};
use data::{Datasets, TRAVEL_VIEW, Tally, TodoStats, Until, V02_VIEW, V03_VIEW, v02, v03};
use eventfold::At;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

const V02: &str = "eventfold-0.2.0";
const V03: &str = "eventfold-0.3.0";

fn datasets() -> &'static Datasets {
    static SETS: OnceLock<Datasets> = OnceLock::new();
    SETS.get_or_init(|| {
        let n = data::event_count_from_env().expect("invalid EVENTFOLD_BENCH_EVENTS");
        Datasets::new(n).expect("could not create the benchmark cache directory")
    })
}

/// A fresh 0.2.0 view over `dir`, rebuilt; returned so that it is dropped outside the timing.
fn rebuild_v02<S>(
    dir: &Path,
    name: &str,
    reducer: eventfold_v02::ReduceFn<S>,
) -> eventfold_v02::View<S>
where
    S: serde::Serialize + serde::de::DeserializeOwned + Default + Clone,
{
    let reader = eventfold_v02::EventReader::new(dir);
    let mut view = eventfold_v02::View::new(name, reducer, &dir.join("views"));
    view.rebuild(&reader).expect("0.2.0 rebuild failed");
    view
}

/// A fresh view of this crate over `dir` with a compat reducer, rebuilt.
fn rebuild_v03<S>(dir: &Path, name: &str, reducer: eventfold::ReduceFn<S>) -> eventfold::View<S>
where
    S: serde::Serialize + serde::de::DeserializeOwned + Default + Clone,
{
    let reader = eventfold::EventReader::new(dir);
    let mut view = eventfold::View::new(name, reducer, &dir.join("views"));
    view.rebuild(&reader).expect("0.3.0 rebuild failed");
    view
}

/// A fresh view of this crate over `dir` with a zero-copy reducer, rebuilt.
fn rebuild_v03_ref<S>(
    dir: &Path,
    name: &str,
    reducer: eventfold::ReduceRefFn<S>,
) -> eventfold::View<S>
where
    S: serde::Serialize + serde::de::DeserializeOwned + Default + Clone,
{
    let reader = eventfold::EventReader::new(dir);
    let mut view = eventfold::View::new_ref(name, reducer, &dir.join("views"));
    view.rebuild(&reader).expect("0.3.0 rebuild failed");
    view
}

fn rebuild_active(c: &mut Criterion) {
    let sets = datasets();
    let dir = sets
        .active()
        .expect("could not build the active-log data set");
    let dir = dir.as_path();

    let mut group = c.benchmark_group("rebuild_active");
    group.throughput(Throughput::Elements(sets.n));
    group.bench_function(format!("compat/{V02}"), |b| {
        b.iter_with_large_drop(|| rebuild_v02::<TodoStats>(dir, "rb_v02", v02::compat))
    });
    group.bench_function(format!("compat/{V03}"), |b| {
        b.iter_with_large_drop(|| rebuild_v03::<TodoStats>(dir, "rb_v03", v03::compat))
    });
    group.bench_function(format!("type_id/{V02}"), |b| {
        b.iter_with_large_drop(|| rebuild_v02::<TodoStats>(dir, "rb_v02", v02::compat))
    });
    group.bench_function(format!("type_id/{V03}"), |b| {
        b.iter_with_large_drop(|| rebuild_v03_ref::<TodoStats>(dir, "rb_v03", v03::type_id))
    });
    group.bench_function(format!("type_only/{V02}"), |b| {
        b.iter_with_large_drop(|| rebuild_v02::<Tally>(dir, "rb_v02_tally", v02::type_only))
    });
    group.bench_function(format!("type_only/{V03}"), |b| {
        b.iter_with_large_drop(|| rebuild_v03_ref::<Tally>(dir, "rb_v03_tally", v03::type_only))
    });
    group.finish();
}

fn rebuild_archive(c: &mut Criterion) {
    let sets = datasets();
    let dir = sets
        .archive()
        .expect("could not build the archive data set");
    let dir = dir.as_path();

    let mut group = c.benchmark_group("rebuild_archive");
    group.throughput(Throughput::Elements(sets.n));
    group.bench_function(format!("compat/{V02}"), |b| {
        b.iter_with_large_drop(|| rebuild_v02::<TodoStats>(dir, "rb_v02", v02::compat))
    });
    group.bench_function(format!("compat/{V03}"), |b| {
        b.iter_with_large_drop(|| rebuild_v03::<TodoStats>(dir, "rb_v03", v03::compat))
    });
    group.finish();
}

fn open_refresh(c: &mut Criterion) {
    let sets = datasets();
    let set = sets
        .refresh()
        .expect("could not build the refresh data set");
    let dir = set.dir.as_path();
    let restore = || {
        set.restore()
            .expect("could not restore the pristine snapshots")
    };

    let mut group = c.benchmark_group(format!("open_refresh_{}_new", set.new_events));
    group.throughput(Throughput::Elements(set.new_events));
    group.bench_function(format!("compat/{V02}"), |b| {
        b.iter_batched(
            restore,
            |()| {
                let mut log = eventfold_v02::EventLog::builder(dir)
                    .view::<TodoStats>(V02_VIEW, v02::compat)
                    .open()
                    .expect("0.2.0 open failed");
                log.refresh_all().expect("0.2.0 refresh failed");
                log
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function(format!("compat/{V03}"), |b| {
        b.iter_batched(
            restore,
            |()| {
                let mut log = eventfold::EventLog::builder(dir)
                    .view::<TodoStats>(V03_VIEW, v03::compat)
                    .open()
                    .expect("0.3.0 open failed");
                log.refresh_all().expect("0.3.0 refresh failed");
                log
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function(format!("type_id/{V02}"), |b| {
        b.iter_batched(
            restore,
            |()| {
                let mut log = eventfold_v02::EventLog::builder(dir)
                    .view::<TodoStats>(V02_VIEW, v02::compat)
                    .open()
                    .expect("0.2.0 open failed");
                log.refresh_all().expect("0.2.0 refresh failed");
                log
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function(format!("type_id/{V03}"), |b| {
        b.iter_batched(
            restore,
            |()| {
                let mut log = eventfold::EventLog::builder(dir)
                    .view_ref::<TodoStats>(V03_VIEW, v03::type_id)
                    .open()
                    .expect("0.3.0 open failed");
                log.refresh_all().expect("0.3.0 refresh failed");
                log
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn time_travel(c: &mut Criterion) {
    let sets = datasets();
    let active = sets
        .travel_active()
        .expect("could not build the time-travel data set");
    let archive = sets
        .travel_archive()
        .expect("could not build the time-travel archive data set");
    let log_active = active.open().expect("0.3.0 open failed");
    let log_archive = archive.open().expect("0.3.0 open failed");
    let event = data::travel_event(sets.n);
    let ts = data::travel_time(sets.n);

    let mut group = c.benchmark_group("time_travel");
    group.bench_function(format!("event/{V02}"), |b| {
        b.iter(|| {
            data::v02_state_until(&active.dir, Until::Events(event + 1)).expect("0.2.0 fold failed")
        })
    });
    group.bench_function(format!("event/{V03}"), |b| {
        b.iter(|| {
            log_active
                .state_at::<TodoStats>(TRAVEL_VIEW, At::Event(event))
                .expect("0.3.0 state_at failed")
        })
    });
    group.bench_function(format!("time_in_archive/{V02}"), |b| {
        b.iter(|| data::v02_state_until(&archive.dir, Until::Time(ts)).expect("0.2.0 fold failed"))
    });
    group.bench_function(format!("time_in_archive/{V03}"), |b| {
        b.iter(|| {
            log_archive
                .state_at::<TodoStats>(TRAVEL_VIEW, At::Time(ts))
                .expect("0.3.0 state_at failed")
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args()
}

criterion_group! {
    name = benches;
    config = config();
    targets = rebuild_active, rebuild_archive, open_refresh, time_travel
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    datasets().cleanup();
}
