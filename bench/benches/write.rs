//! Write-path benchmarks: eventfold 0.2.0 and this crate side by side on the same data.
//!
//! ```text
//! cargo bench -p eventfold-bench --bench write                                # rotations of 10, 50, 100 MB
//! EVENTFOLD_BENCH_EVENTS=100000 cargo bench -p eventfold-bench --bench write  # rotations of 1, 5, 10 MB
//! ```
//!
//! Groups:
//!
//! - `append_100`: 100 events appended one by one (each synced, in both crates), and, for this
//!   crate, the same 100 events as one `append_batch` (one write, one sync). 0.2.0 has no batch
//!   append. The logs live in a scratch directory on the cache's file system, so the syncs are
//!   real; they grow by 100 events per iteration.
//! - `rotate/SIZE`: `rotate()` of a log with no views whose active log holds SIZE bytes
//!   (10/50/100 MB at 1M events, scaled with `EVENTFOLD_BENCH_EVENTS`). Each iteration rotates a
//!   fresh copy, made and opened outside the timing.

mod data;

use criterion::{BatchSize, Criterion, Throughput, criterion_group};
use data::{Datasets, Generator};
use std::sync::OnceLock;
use std::time::Duration;

const V02: &str = "eventfold-0.2.0";
const V03: &str = "eventfold-0.3.0";
const APPEND_EVENTS: usize = 100;

fn datasets() -> &'static Datasets {
    static SETS: OnceLock<Datasets> = OnceLock::new();
    SETS.get_or_init(|| {
        let n = data::event_count_from_env().expect("invalid EVENTFOLD_BENCH_EVENTS");
        Datasets::new(n).expect("could not create the benchmark cache directory")
    })
}

fn append(c: &mut Criterion) {
    let sets = datasets();
    let events: Vec<eventfold::Event> = Generator::new().take(APPEND_EVENTS).collect();
    let events_v02: Vec<eventfold_v02::Event> = events.iter().map(data::to_v02).collect();

    let mut group = c.benchmark_group(format!("append_{APPEND_EVENTS}"));
    group.throughput(Throughput::Elements(APPEND_EVENTS as u64));

    let dir = sets.scratch("append-v02");
    let mut log = eventfold_v02::EventLog::open(&dir).expect("0.2.0 open failed");
    group.bench_function(format!("single/{V02}"), |b| {
        b.iter(|| {
            for event in &events_v02 {
                log.append(event).expect("0.2.0 append failed");
            }
        })
    });
    drop(log);

    let dir = sets.scratch("append-v03-single");
    let mut log = eventfold::EventLog::open(&dir).expect("0.3.0 open failed");
    group.bench_function(format!("single/{V03}"), |b| {
        b.iter(|| {
            for event in &events {
                log.append(event).expect("0.3.0 append failed");
            }
        })
    });
    drop(log);

    let dir = sets.scratch("append-v03-batch");
    let mut log = eventfold::EventLog::open(&dir).expect("0.3.0 open failed");
    group.bench_function(format!("batch/{V03}"), |b| {
        b.iter(|| {
            log.append_batch(&events)
                .expect("0.3.0 append_batch failed")
        })
    });
    drop(log);
    group.finish();
}

fn rotate(c: &mut Criterion) {
    let sets = datasets();
    let mut group = c.benchmark_group("rotate");
    for bytes in data::rotation_sizes(sets.n) {
        let set = sets
            .rotation(bytes)
            .expect("could not build a rotation data set");
        let label = data::size_label(bytes);
        let scratch = sets.scratch("rotate");
        group.throughput(Throughput::Elements(set.events));
        group.bench_function(format!("{label}/{V02}"), |b| {
            b.iter_batched(
                || {
                    set.copy_to(&scratch).expect("could not copy the log");
                    eventfold_v02::EventLog::open(&scratch).expect("0.2.0 open failed")
                },
                |mut log| {
                    log.rotate().expect("0.2.0 rotate failed");
                    log
                },
                BatchSize::PerIteration,
            )
        });
        group.bench_function(format!("{label}/{V03}"), |b| {
            b.iter_batched(
                || {
                    set.copy_to(&scratch).expect("could not copy the log");
                    eventfold::EventLog::open(&scratch).expect("0.3.0 open failed")
                },
                |mut log| {
                    log.rotate().expect("0.3.0 rotate failed");
                    log
                },
                BatchSize::PerIteration,
            )
        });
    }
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
    targets = append, rotate
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    datasets().cleanup();
}
