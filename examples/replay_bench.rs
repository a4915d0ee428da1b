//! Replay benchmark in one command: eventfold 0.2.0 against this crate, same data, same machine.
//!
//! ```text
//! cargo run --release --example replay_bench            # 1M events
//! cargo run --release --example replay_bench -- 100000  # or EVENTFOLD_BENCH_EVENTS=100000
//! ```
//!
//! It builds the data sets of `benches/data/mod.rs` (cached under `$EVENTFOLD_BENCH_DIR`, by
//! default `eventfold-bench` in the temp directory), then runs every workload for both crates
//! alternately, 0.2.0 then 0.3.0, five rounds, and prints the median of each with events per
//! second and the ratio 0.2.0 time / 0.3.0 time (above 1: this crate is faster). The states the
//! two crates fold are compared every round; a mismatch stops the run with an error.
//!
//! Finally it measures the peak resident set (`VmHWM`) of one rebuild per crate, each in a child
//! process: the example re-executes itself with the hidden arguments
//! `--rss-child <v02|v03> <compat|type_id|type_only|none> <dir>`, and the child prints its
//! `VmHWM` when done. Pages of a memory-mapped log count as resident once touched, so the
//! figure includes them.

#[path = "../benches/data/mod.rs"]
mod data;

use data::{Datasets, Generator, Tally, TodoStats, V02_VIEW, V03_VIEW, v02, v03};
use eventfold::{SnapshotPolicy, ViewConfig};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::error::Error;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

type BoxError = Box<dyn Error>;
/// One timed run: its duration and, where the workload folds a state, a digest of that state
/// for comparing the crates.
type Outcome = Result<(Duration, Option<String>), BoxError>;
type Run<'a> = Box<dyn FnMut() -> Outcome + 'a>;

const ROUNDS: usize = 5;
const APPEND_EVENTS: usize = 100;
const RSS_FLAG: &str = "--rss-child";

struct Workload<'a> {
    name: String,
    /// Events the workload processes, for events per second.
    events: u64,
    v02: Run<'a>,
    v03: Run<'a>,
}

struct Row {
    name: String,
    events: u64,
    v02: Duration,
    v03: Duration,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let result = if args.get(1).map(String::as_str) == Some(RSS_FLAG) {
        rss_child(&args[2..])
    } else {
        run(&args[1..])
    };
    if let Err(e) = result {
        eprintln!("replay_bench: {e}");
        std::process::exit(1);
    }
}

fn run(args: &[String]) -> Result<(), BoxError> {
    let n = match args.first() {
        Some(text) => data::parse_count(text)
            .ok_or_else(|| format!("{text:?} is not a positive event count (e.g. 100000, 1m)"))?,
        None => data::event_count_from_env()?,
    };
    let cpus = std::thread::available_parallelism().map_or(1, |c| c.get());
    println!("eventfold replay benchmark: eventfold 0.2.0 vs eventfold 0.3.0");
    println!("{n} events, {ROUNDS} rounds per workload (0.2.0 and 0.3.0 alternately), {cpus} CPUs");
    println!("data cache: {}", data::cache_root().display());

    let sets = Datasets::new(n)?;
    let result = run_with(&sets);
    sets.cleanup();
    result
}

fn run_with(sets: &Datasets) -> Result<(), BoxError> {
    let started = Instant::now();
    let active = sets.active()?;
    let archive = sets.archive()?;
    let refresh = sets.refresh()?;
    let rotations = data::rotation_sizes(sets.n)
        .into_iter()
        .map(|bytes| sets.rotation(bytes))
        .collect::<Result<Vec<_>, _>>()?;
    let log_bytes = std::fs::metadata(active.join("app.jsonl"))?.len();
    let archive_bytes = std::fs::metadata(archive.join("archive.jsonl.zst"))?.len();
    println!(
        "data ready in {:.1?}: app.jsonl {:.1} MB ({:.1} bytes/event), archive {:.1} MB in {} frames",
        started.elapsed(),
        log_bytes as f64 / 1e6,
        log_bytes as f64 / sets.n as f64,
        archive_bytes as f64 / 1e6,
        data::ARCHIVE_FRAMES,
    );
    println!();

    let mut workloads = rebuild_workloads(&active, &archive, sets.n);
    workloads.extend(refresh_workloads(&refresh));
    workloads.extend(loaded_view_workloads(sets, &refresh)?);
    workloads.extend(append_workloads(sets)?);
    workloads.extend(rotation_workloads(sets, &rotations));

    let mut rows = Vec::new();
    for mut workload in workloads {
        let row = measure(&mut workload)?;
        println!(
            "  {:<44} 0.2.0 {:>10}   0.3.0 {:>10}   x{:.2}",
            row.name,
            fmt_duration(row.v02),
            fmt_duration(row.v03),
            ratio(&row)
        );
        rows.push(row);
    }
    println!();
    print_table(&rows);

    println!();
    rss_section(sets.n, &active, &archive, log_bytes)?;
    Ok(())
}

/// Runs a workload `ROUNDS` times for each crate, alternately, and keeps the medians.
fn measure(w: &mut Workload<'_>) -> Result<Row, BoxError> {
    let mut a = Vec::with_capacity(ROUNDS);
    let mut b = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        let (ta, da) = (w.v02)().map_err(|e| format!("{}: eventfold 0.2.0 failed: {e}", w.name))?;
        let (tb, db) = (w.v03)().map_err(|e| format!("{}: eventfold 0.3.0 failed: {e}", w.name))?;
        if da != db {
            return Err(format!(
                "{}: the crates disagree in round {round}:\n  0.2.0: {da:?}\n  0.3.0: {db:?}",
                w.name
            )
            .into());
        }
        a.push(ta);
        b.push(tb);
    }
    Ok(Row {
        name: w.name.clone(),
        events: w.events,
        v02: median(a),
        v03: median(b),
    })
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

// ---------------------------------------------------------------------------------------------
// Workloads
// ---------------------------------------------------------------------------------------------

/// A fresh 0.2.0 view over `dir`, rebuilt; times the rebuild only.
fn rebuild_v02<S>(
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
fn rebuild_v03<S>(
    dir: &Path,
    name: &str,
    reducer: eventfold::ReduceFn<S>,
    digest: fn(&S) -> String,
) -> Outcome
where
    S: Serialize + DeserializeOwned + Default + Clone,
{
    let start = Instant::now();
    let reader = eventfold::EventReader::new(dir);
    let mut view = eventfold::View::new(name, reducer, &dir.join("views"));
    view.rebuild(&reader)?;
    let elapsed = start.elapsed();
    Ok((elapsed, Some(digest(view.state()))))
}

/// A fresh view of this crate (zero-copy reducer) over `dir`, rebuilt.
fn rebuild_v03_ref<S>(
    dir: &Path,
    name: &str,
    reducer: eventfold::ReduceRefFn<S>,
    digest: fn(&S) -> String,
) -> Outcome
where
    S: Serialize + DeserializeOwned + Default + Clone,
{
    let start = Instant::now();
    let reader = eventfold::EventReader::new(dir);
    let mut view = eventfold::View::new_ref(name, reducer, &dir.join("views"));
    view.rebuild(&reader)?;
    let elapsed = start.elapsed();
    Ok((elapsed, Some(digest(view.state()))))
}

fn stats_digest(s: &TodoStats) -> String {
    s.digest()
}

fn tally_digest(t: &Tally) -> String {
    format!("{t:?}")
}

fn rebuild_workloads<'a>(active: &'a Path, archive: &'a Path, n: u64) -> Vec<Workload<'a>> {
    vec![
        Workload {
            name: "rebuild app.jsonl, compat reducer".into(),
            events: n,
            v02: Box::new(move || rebuild_v02(active, "rb_v02", v02::compat, stats_digest)),
            v03: Box::new(move || rebuild_v03(active, "rb_v03", v03::compat, stats_digest)),
        },
        Workload {
            name: "rebuild app.jsonl, type + data.id (ref)*".into(),
            events: n,
            v02: Box::new(move || rebuild_v02(active, "rb_v02", v02::compat, stats_digest)),
            v03: Box::new(move || rebuild_v03_ref(active, "rb_v03", v03::type_id, stats_digest)),
        },
        Workload {
            name: "rebuild app.jsonl, type only (ref)*".into(),
            events: n,
            v02: Box::new(move || rebuild_v02(active, "rb_v02_t", v02::type_only, tally_digest)),
            v03: Box::new(move || {
                rebuild_v03_ref(active, "rb_v03_t", v03::type_only, tally_digest)
            }),
        },
        Workload {
            name: format!("rebuild {}-frame archive, compat", data::ARCHIVE_FRAMES),
            events: n,
            v02: Box::new(move || rebuild_v02(archive, "rb_v02", v02::compat, stats_digest)),
            v03: Box::new(move || rebuild_v03(archive, "rb_v03", v03::compat, stats_digest)),
        },
    ]
}

fn refresh_workloads(set: &data::RefreshSet) -> Vec<Workload<'_>> {
    let v02_run = move || -> Outcome {
        set.restore()?;
        let start = Instant::now();
        let mut log = eventfold_v02::EventLog::builder(&set.dir)
            .view::<TodoStats>(V02_VIEW, v02::compat)
            .open()?;
        log.refresh_all()?;
        let elapsed = start.elapsed();
        Ok((elapsed, Some(log.view::<TodoStats>(V02_VIEW)?.digest())))
    };
    vec![
        Workload {
            name: format!("open + refresh {} new, compat", set.new_events),
            events: set.new_events,
            v02: Box::new(v02_run),
            v03: Box::new(move || {
                set.restore()?;
                let start = Instant::now();
                let mut log = eventfold::EventLog::builder(&set.dir)
                    .view::<TodoStats>(V03_VIEW, v03::compat)
                    .open()?;
                log.refresh_all()?;
                let elapsed = start.elapsed();
                Ok((elapsed, Some(log.view::<TodoStats>(V03_VIEW)?.digest())))
            }),
        },
        Workload {
            name: format!(
                "open + refresh {} new, policy that does not save†",
                set.new_events
            ),
            events: set.new_events,
            v02: Box::new(v02_run),
            v03: Box::new(move || {
                set.restore()?;
                let start = Instant::now();
                let mut log = eventfold::EventLog::builder(&set.dir)
                    .snapshot_policy(SnapshotPolicy::every_events(1_000_000))
                    .view::<TodoStats>(V03_VIEW, v03::compat)
                    .open()?;
                log.refresh_all()?;
                let elapsed = start.elapsed();
                Ok((elapsed, Some(log.view::<TodoStats>(V03_VIEW)?.digest())))
            }),
        },
        Workload {
            name: format!("open + refresh {} new, type + id (ref)*", set.new_events),
            events: set.new_events,
            v02: Box::new(v02_run),
            v03: Box::new(move || {
                set.restore()?;
                let start = Instant::now();
                let mut log = eventfold::EventLog::builder(&set.dir)
                    .view_ref::<TodoStats>(V03_VIEW, v03::type_id)
                    .open()?;
                log.refresh_all()?;
                let elapsed = start.elapsed();
                Ok((elapsed, Some(log.view::<TodoStats>(V03_VIEW)?.digest())))
            }),
        },
    ]
}

/// Refreshes per round of the loaded-view workload; the row reports the time of one.
const LOADED_REFRESHES: u32 = 50;

/// A view already loaded from the refresh data set's snapshot, refreshed after each single
/// append: 0.2.0 saves its snapshot every time, this crate with `every_events(1000)` once per
/// thousand events (not within the rounds measured). Each crate works on its own copy of the
/// log; the appends are not timed.
fn loaded_view_workloads(
    sets: &Datasets,
    set: &data::RefreshSet,
) -> Result<Vec<Workload<'static>>, BoxError> {
    let copy = |name: &str| -> Result<PathBuf, BoxError> {
        let dir = sets.scratch(name);
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
        .take(ROUNDS * LOADED_REFRESHES as usize)
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
    Ok(vec![Workload {
        name: "loaded view, refresh after one append‡".into(),
        events: 1,
        v02: Box::new(move || {
            let mut total = Duration::ZERO;
            for event in next_v02.by_ref().take(LOADED_REFRESHES as usize) {
                log_v02.append(&event)?;
                let start = Instant::now();
                log_v02.refresh_all()?;
                total += start.elapsed();
            }
            let digest = log_v02.view::<TodoStats>(V02_VIEW)?.digest();
            Ok((total / LOADED_REFRESHES, Some(digest)))
        }),
        v03: Box::new(move || {
            let mut total = Duration::ZERO;
            for event in next_v03.by_ref().take(LOADED_REFRESHES as usize) {
                log_v03.append(&event)?;
                let start = Instant::now();
                log_v03.refresh_all()?;
                total += start.elapsed();
            }
            let digest = log_v03.view::<TodoStats>(V03_VIEW)?.digest();
            Ok((total / LOADED_REFRESHES, Some(digest)))
        }),
    }])
}

fn append_workloads(sets: &Datasets) -> Result<Vec<Workload<'static>>, BoxError> {
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
    let mut log_single = eventfold::EventLog::open(sets.scratch("append-v03-single"))?;
    let single = events.clone();
    let mut log_batch = eventfold::EventLog::open(sets.scratch("append-v03-batch"))?;
    let batch = events;
    Ok(vec![
        Workload {
            name: format!("append {APPEND_EVENTS}, one by one (synced each)"),
            events: APPEND_EVENTS as u64,
            v02: v02_single(sets.scratch("append-v02-a"))?,
            v03: Box::new(move || {
                let start = Instant::now();
                for event in &single {
                    log_single.append(event)?;
                }
                Ok((start.elapsed(), None))
            }),
        },
        Workload {
            name: format!("append {APPEND_EVENTS}: 0.2.0 one by one, 0.3.0 batch"),
            events: APPEND_EVENTS as u64,
            v02: v02_single(sets.scratch("append-v02-b"))?,
            v03: Box::new(move || {
                let start = Instant::now();
                log_batch.append_batch(&batch)?;
                Ok((start.elapsed(), None))
            }),
        },
    ])
}

fn rotation_workloads<'a>(
    sets: &Datasets,
    rotations: &'a [data::RotationSet],
) -> Vec<Workload<'a>> {
    rotations
        .iter()
        .map(|set| {
            let scratch_a = sets.scratch("rotate-v02");
            let scratch_b = sets.scratch("rotate-v03");
            Workload {
                name: format!(
                    "rotate {} active log (no views)",
                    data::size_label(set.bytes)
                ),
                events: set.events,
                v02: Box::new(move || {
                    set.copy_to(&scratch_a)?;
                    let mut log = eventfold_v02::EventLog::open(&scratch_a)?;
                    let start = Instant::now();
                    log.rotate()?;
                    let elapsed = start.elapsed();
                    check_rotated(log.active_log_size()?, log.archive_path())?;
                    Ok((elapsed, None))
                }),
                v03: Box::new(move || {
                    set.copy_to(&scratch_b)?;
                    let mut log = eventfold::EventLog::open(&scratch_b)?;
                    let start = Instant::now();
                    log.rotate()?;
                    let elapsed = start.elapsed();
                    check_rotated(log.active_log_size()?, log.archive_path())?;
                    Ok((elapsed, None))
                }),
            }
        })
        .collect()
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
// Peak RSS, measured in child processes
// ---------------------------------------------------------------------------------------------

/// The child side: one rebuild (or nothing), then `VmHWM`, the sampled peak of `RssAnon`, and
/// the state's digest on stdout.
fn rss_child(args: &[String]) -> Result<(), BoxError> {
    let [krate, workload, dir] = args else {
        return Err(
            format!("usage: {RSS_FLAG} <v02|v03> <compat|type_id|type_only|none> <dir>").into(),
        );
    };
    let dir = Path::new(dir);
    let sampler = AnonSampler::start();
    let outcome = match (krate.as_str(), workload.as_str()) {
        (_, "none") => None,
        ("v02", "compat" | "type_id") => {
            Some(rebuild_v02(dir, "rss_v02", v02::compat, stats_digest)?)
        }
        ("v02", "type_only") => Some(rebuild_v02(dir, "rss_v02_t", v02::type_only, tally_digest)?),
        ("v03", "compat") => Some(rebuild_v03(dir, "rss_v03", v03::compat, stats_digest)?),
        ("v03", "type_id") => Some(rebuild_v03_ref(dir, "rss_v03", v03::type_id, stats_digest)?),
        ("v03", "type_only") => Some(rebuild_v03_ref(
            dir,
            "rss_v03_t",
            v03::type_only,
            tally_digest,
        )?),
        _ => return Err(format!("unknown crate or workload: {krate} {workload}").into()),
    };
    let peak_anon = sampler.stop();
    match status_kb("VmHWM:") {
        Some(kb) => println!("VmHWM_KB {kb}"),
        None => println!("VmHWM_KB unavailable"),
    }
    if let Some(kb) = peak_anon {
        println!("PEAK_ANON_KB {kb}");
    }
    if let Some((elapsed, digest)) = outcome {
        println!("ELAPSED_MS {}", elapsed.as_millis());
        println!("DIGEST {}", digest.unwrap_or_default());
    }
    Ok(())
}

/// A field of `/proc/self/status` in kB, e.g. `VmHWM:` (peak resident set) or `RssAnon:`
/// (Linux only).
fn status_kb(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Samples `RssAnon` (heap and other anonymous memory, without mapped file pages) every
/// millisecond on a thread, keeping the maximum: the kernel keeps no peak of it.
struct AnonSampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: std::thread::JoinHandle<Option<u64>>,
}

impl AnonSampler {
    fn start() -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut peak = status_kb("RssAnon:");
            while !flag.load(Ordering::Relaxed) {
                peak = peak.max(status_kb("RssAnon:"));
                std::thread::sleep(Duration::from_millis(1));
            }
            peak.max(status_kb("RssAnon:"))
        });
        AnonSampler { stop, handle }
    }

    fn stop(self) -> Option<u64> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.handle.join().ok().flatten()
    }
}

struct ChildReport {
    hwm_kb: Option<u64>,
    anon_kb: Option<u64>,
    digest: Option<String>,
}

fn spawn_rss_child(krate: &str, workload: &str, dir: &Path) -> Result<ChildReport, BoxError> {
    let exe = std::env::current_exe()?;
    let output = Command::new(exe)
        .arg(RSS_FLAG)
        .arg(krate)
        .arg(workload)
        .arg(dir)
        .output()?;
    if !output.status.success() {
        return Err(format!(
            "the RSS child ({krate} {workload}) failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )
        .into());
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let field = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
    };
    Ok(ChildReport {
        hwm_kb: field("VmHWM_KB ").and_then(|v| v.parse().ok()),
        anon_kb: field("PEAK_ANON_KB ").and_then(|v| v.parse().ok()),
        digest: field("DIGEST "),
    })
}

fn rss_section(n: u64, active: &Path, archive: &Path, log_bytes: u64) -> Result<(), BoxError> {
    println!("Peak memory of one {n}-event rebuild, each in its own child process");
    let cases: [(&str, &str, &str, &Path); 4] = [
        ("process baseline (no work)", "none", "none", active),
        ("rebuild app.jsonl, compat", "compat", "compat", active),
        (
            "rebuild app.jsonl, type + data.id*",
            "compat",
            "type_id",
            active,
        ),
        ("rebuild archive, compat", "compat", "compat", archive),
    ];
    let width = cases.iter().map(|c| c.0.len()).max().unwrap_or(0);
    println!(
        "  {:<width$}  {:>11}  {:>11}  {:>7}  {:>11}  {:>11}",
        "workload", "VmHWM 0.2.0", "VmHWM 0.3.0", "ratio", "anon 0.2.0", "anon 0.3.0"
    );
    for (name, w02, w03, dir) in cases {
        let a = spawn_rss_child("v02", w02, dir)?;
        let b = spawn_rss_child("v03", w03, dir)?;
        if a.digest != b.digest {
            return Err(format!(
                "{name}: the crates disagree:\n  0.2.0: {:?}\n  0.3.0: {:?}",
                a.digest, b.digest
            )
            .into());
        }
        let ratio = match (a.hwm_kb, b.hwm_kb) {
            (Some(x), Some(y)) if y > 0 => format!("x{:.2}", x as f64 / y as f64),
            _ => "n/a".into(),
        };
        println!(
            "  {:<width$}  {:>11}  {:>11}  {:>7}  {:>11}  {:>11}",
            name,
            fmt_kb(a.hwm_kb),
            fmt_kb(b.hwm_kb),
            ratio,
            fmt_kb(a.anon_kb),
            fmt_kb(b.anon_kb),
        );
    }
    println!("  VmHWM: peak resident set, read from /proc/self/status at the end of the child.");
    println!(
        "  ratio = 0.2.0 VmHWM / 0.3.0 VmHWM. 0.3.0 memory-maps app.jsonl ({:.1} MB): the mapped",
        log_bytes as f64 / 1e6
    );
    println!("  pages it reads count as resident (clean page cache, shared and reclaimable).");
    println!("  anon: peak RssAnon (heap etc., no file pages), sampled every millisecond.");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

fn ratio(row: &Row) -> f64 {
    row.v02.as_secs_f64() / row.v03.as_secs_f64().max(1e-12)
}

fn print_table(rows: &[Row]) {
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(8).max(8);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<width$}  {:>12}  {:>12}  {:>13}  {:>13}  {:>7}",
        "workload", "0.2.0 median", "0.3.0 median", "0.2.0 ev/s", "0.3.0 ev/s", "ratio"
    );
    let _ = writeln!(
        out,
        "{}",
        "-".repeat(width + 2 + 12 + 2 + 12 + 2 + 13 + 2 + 13 + 2 + 7)
    );
    for row in rows {
        let _ = writeln!(
            out,
            "{:<width$}  {:>12}  {:>12}  {:>13}  {:>13}  {:>7}",
            row.name,
            fmt_duration(row.v02),
            fmt_duration(row.v03),
            fmt_rate(row.events, row.v02),
            fmt_rate(row.events, row.v03),
            format!("x{:.2}", ratio(row)),
        );
    }
    print!("{out}");
    println!("ratio = 0.2.0 median time / 0.3.0 median time (above 1: 0.3.0 is faster)");
    println!(
        "* 0.2.0 has no zero-copy reducers: its side of these rows runs a compat reducer doing the \
         same work"
    );
    println!(
        "† 0.3.0 with SnapshotPolicy::every_events(1_000_000); 0.2.0 saves as always (it has no \
         policy)"
    );
    println!(
        "‡ time of one refresh, the mean of {LOADED_REFRESHES} per round; 0.2.0 saves its \
         snapshot at each, 0.3.0 with every_events(1000) at one in a thousand (not in the rounds)"
    );
}

fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.1} µs", s * 1e6)
    }
}

fn fmt_rate(events: u64, d: Duration) -> String {
    let rate = events as f64 / d.as_secs_f64().max(1e-12);
    if rate >= 1e6 {
        format!("{:.2} M/s", rate / 1e6)
    } else if rate >= 1e3 {
        format!("{:.1} k/s", rate / 1e3)
    } else {
        format!("{rate:.0} /s")
    }
}

fn fmt_kb(kb: Option<u64>) -> String {
    match kb {
        Some(kb) if kb >= 10 * 1024 => format!("{:.1} MB", kb as f64 / 1024.0),
        Some(kb) => format!("{kb} kB"),
        None => "n/a".into(),
    }
}
