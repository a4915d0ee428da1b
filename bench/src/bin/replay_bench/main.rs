//! Replay benchmark in one command: eventfold 0.2.0 against this crate, same data, same machine.
//!
//! ```text
//! cargo run --release -p eventfold-bench                 # 1M events, every section
//! cargo run --release -p eventfold-bench -- 100000       # or EVENTFOLD_BENCH_EVENTS=100000
//! cargo run --release -p eventfold-bench -- --only time_travel,sqlite
//! cargo run --release -p eventfold-bench -- 1m 10m --only rebuild,threads,rss
//! ```
//!
//! It builds the data sets of `bench/benches/data/mod.rs` that the chosen sections need (cached under
//! `$EVENTFOLD_BENCH_DIR`, by default `eventfold-bench` in the temp directory), then runs every
//! workload for both sides alternately (0.2.0, or SQLite, then 0.3.0), five rounds, and prints
//! the median of each with events per second and the ratio of the medians (above 1: this crate
//! is faster). The states both sides fold are compared every round; a mismatch stops the run
//! with an error.
//!
//! Sections, in the order they run (`--only a,b` runs some of them):
//!
//! - `rebuild`: fresh views rebuilt from `app.jsonl` and from a 10-frame archive written by
//!   0.2.0.
//! - `refresh`: open and refresh a view whose snapshot lags behind the log; a loaded view
//!   refreshed after each single append.
//! - `append`: 100 appends, one by one and as a batch.
//! - `rotation`: rotation of active logs of 10, 50 and 100 MB (scaled with the event count).
//! - `refresh_all`: `refresh_all` of four views (two compat, two `EventRef`) with no snapshot.
//! - `upcast`: this crate's type + `data.id` `EventRef` rebuild without upcasters, and with
//!   upcasters that touch about 10% of the events: reshaping them (with owned events and
//!   `serde_json::Value`s, then the same written as text with `Upcaster::reshape`), and only
//!   renaming them (0.2.0 is not involved).
//! - `time_travel`: `state_at` an event of a log whose view keeps checkpoints, and at a time
//!   inside an archive written by this crate, against 0.2.0 folding `read_full` up to the same
//!   point, and beside this crate's full rebuild.
//! - `sqlite`: SQLite (rusqlite, bundled) reading the same events from a table, against this
//!   crate's rebuilds; 0.2.0 is not involved.
//! - `threads`: this crate's rebuilds on one thread and on two, each in a child process, and the
//!   scaling efficiency T1 / (2 · T2).
//! - `rss`: the peak memory of one rebuild per crate, each in a child process.
//! - `bluegreen`: this crate only: a background rebuild (`start_rebuild`) while the log takes
//!   1,000 appends a second, against the stop-the-world rebuild; the serving view's refresh
//!   latency (median, p99) during it, against the same loop without a rebuild.
//!
//! Given several event counts, it runs the chosen sections at each, then puts the rebuild time
//! per event, the peak memory and the thread scaling of every count side by side (with one
//! count, the same table has one column, to compare with another run).
//!
//! The child processes are this example run again with hidden arguments:
//! `--rss-child <v02|v03> <compat|type_id|type_id_u64|type_id_upcast|type_id_reshape|type_id_rename|type_only|none> <dir>` does one rebuild (or nothing)
//! and prints its `VmHWM`, its sampled peak `RssAnon`, the elapsed time and the state's digest;
//! `--timed-child` takes the same arguments and does not sample memory. Pages of a
//! memory-mapped log count as resident once touched, so `VmHWM` includes them.

#[path = "../../../benches/data/mod.rs"]
mod data;

mod bluegreen;
mod child;
mod sqlite;
mod travel;
mod workloads;

use data::Datasets;
use std::cell::OnceCell;
use std::error::Error;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

type BoxError = Box<dyn Error>;
/// One timed run: its duration and, where the workload folds a state, a digest of that state
/// for comparing the two sides.
type Outcome = Result<(Duration, Option<String>), BoxError>;
type Run<'a> = Box<dyn FnMut() -> Outcome + 'a>;

const ROUNDS: usize = 5;

/// The parts of the benchmark, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Rebuild,
    Refresh,
    Append,
    Rotation,
    RefreshAll,
    Upcast,
    TimeTravel,
    Sqlite,
    Threads,
    Rss,
    BlueGreen,
}

impl Section {
    const ALL: [Section; 11] = [
        Section::Rebuild,
        Section::Refresh,
        Section::Append,
        Section::Rotation,
        Section::RefreshAll,
        Section::Upcast,
        Section::TimeTravel,
        Section::Sqlite,
        Section::Threads,
        Section::Rss,
        Section::BlueGreen,
    ];

    fn name(self) -> &'static str {
        match self {
            Section::Rebuild => "rebuild",
            Section::Refresh => "refresh",
            Section::Append => "append",
            Section::Rotation => "rotation",
            Section::RefreshAll => "refresh_all",
            Section::Upcast => "upcast",
            Section::TimeTravel => "time_travel",
            Section::Sqlite => "sqlite",
            Section::Threads => "threads",
            Section::Rss => "rss",
            Section::BlueGreen => "bluegreen",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Section::Rebuild => "fresh views rebuilt, 0.2.0 vs 0.3.0",
            Section::Refresh => "open + refresh, and a loaded view refreshed, 0.2.0 vs 0.3.0",
            Section::Append => "appends, 0.2.0 vs 0.3.0",
            Section::Rotation => "rotations, 0.2.0 vs 0.3.0",
            Section::RefreshAll => "refresh_all of four views with no snapshot, 0.2.0 vs 0.3.0",
            Section::Upcast => "0.3.0 rebuilds without and with upcasters",
            Section::TimeTravel => "time travel, 0.2.0 (read_full folded to the point) vs 0.3.0",
            Section::Sqlite => "SQLite vs 0.3.0, the same events",
            Section::Threads => "0.3.0 rebuilds on one thread and on two, in child processes",
            Section::Rss => "peak memory of one rebuild, each in its own child process",
            Section::BlueGreen => "0.3.0: a background rebuild while appending, vs stop-the-world",
        }
    }
}

/// What the command line asks for.
struct Options {
    counts: Vec<u64>,
    sections: Vec<Section>,
}

const USAGE: &str = "usage: replay_bench [COUNT...] [--only SECTION[,SECTION...]]
  COUNT    events per data set, e.g. 100000, 100k, 1m (default: $EVENTFOLD_BENCH_EVENTS or 1m);
           with several, every section runs at each and a last table compares them
  --only   run only these sections: rebuild, refresh, append, rotation, refresh_all, upcast,
           time_travel, sqlite, threads, rss, bluegreen";

/// A command line that cannot be run: exit code 2, with the usage.
#[derive(Debug)]
struct Usage(String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\n{USAGE}", self.0)
    }
}

impl Error for Usage {}

impl Options {
    fn parse(args: &[String]) -> Result<Self, Usage> {
        let mut counts = Vec::new();
        let mut only: Option<Vec<Section>> = None;
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let list = match arg.as_str() {
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                "--only" => Some(
                    args.next()
                        .ok_or_else(|| Usage("--only needs a list of sections".into()))?
                        .as_str(),
                ),
                other => other.strip_prefix("--only="),
            };
            match list {
                Some(list) => {
                    let chosen = only.get_or_insert_with(Vec::new);
                    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        let section = Section::ALL
                            .into_iter()
                            .find(|s| s.name() == name)
                            .ok_or_else(|| Usage(format!("no section is called {name:?}")))?;
                        chosen.push(section);
                    }
                }
                None => counts.push(data::parse_count(arg).ok_or_else(|| {
                    Usage(format!(
                        "{arg:?} is not a positive event count (e.g. 100000, 1m)"
                    ))
                })?),
            }
        }
        if counts.is_empty() {
            counts.push(data::event_count_from_env().map_err(|e| Usage(e.to_string()))?);
        }
        let sections = match only {
            Some(chosen) => Section::ALL
                .into_iter()
                .filter(|s| chosen.contains(s))
                .collect(),
            None => Section::ALL.to_vec(),
        };
        Ok(Options { counts, sections })
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some(flag @ (child::RSS_FLAG | child::TIMED_FLAG)) => child::main(flag, &args[2..]),
        _ => run(&args[1..]),
    };
    if let Err(e) = result {
        eprintln!("replay_bench: {e}");
        std::process::exit(if e.is::<Usage>() { 2 } else { 1 });
    }
}

fn run(args: &[String]) -> Result<(), BoxError> {
    let options = Options::parse(args)?;
    let cpus = std::thread::available_parallelism().map_or(1, |c| c.get());
    let counts: Vec<String> = options.counts.iter().map(u64::to_string).collect();
    let sections: Vec<&str> = options.sections.iter().map(|s| s.name()).collect();
    println!("eventfold replay benchmark: eventfold 0.2.0 vs eventfold 0.3.0");
    println!(
        "{} events, {ROUNDS} rounds per workload (the two sides alternately), {cpus} CPUs",
        counts.join(" and ")
    );
    println!("sections: {}", sections.join(", "));
    println!("data cache: {}", data::cache_root().display());

    let mut results = Vec::new();
    for &n in &options.counts {
        if options.counts.len() > 1 {
            println!();
            println!("=== {n} events ===");
        }
        let data = Data::new(Datasets::new(n)?);
        let result = run_count(&data, &options.sections);
        data.sets.cleanup();
        results.push(result?);
    }
    let scale_sections = [Section::Rebuild, Section::Threads, Section::Rss];
    if options.sections.iter().any(|s| scale_sections.contains(s)) {
        println!();
        print_scale(&results);
    }
    Ok(())
}

/// What one event count measured, for the table that compares the counts.
struct CountResults {
    n: u64,
    rebuild: Vec<Row>,
    threads: Vec<child::ThreadRow>,
    rss: Vec<child::RssRow>,
}

fn run_count(data: &Data, sections: &[Section]) -> Result<CountResults, BoxError> {
    let mut results = CountResults {
        n: data.n(),
        rebuild: Vec::new(),
        threads: Vec::new(),
        rss: Vec::new(),
    };
    let v02_v03 = Sides::new("0.2.0", "0.3.0");
    for &section in sections {
        println!();
        println!("== {}: {}", section.name(), section.title());
        match section {
            Section::Rebuild => {
                let rows = run_rows(workloads::rebuild(data)?, &v02_v03)?;
                print_table(&rows, &v02_v03);
                println!("{}", workloads::NOTE_REF);
                results.rebuild = rows;
            }
            Section::Refresh => {
                let rows = run_rows(workloads::refresh(data)?, &v02_v03)?;
                print_table(&rows, &v02_v03);
                println!("{}", workloads::NOTE_REF);
                println!("{}", workloads::NOTE_POLICY);
                println!("{}", workloads::note_loaded());
            }
            Section::Append => {
                let rows = run_rows(workloads::append(data)?, &v02_v03)?;
                print_table(&rows, &v02_v03);
            }
            Section::Rotation => {
                let rows = run_rows(workloads::rotation(data)?, &v02_v03)?;
                print_table(&rows, &v02_v03);
            }
            Section::RefreshAll => {
                let rows = run_rows(workloads::refresh_all(data)?, &v02_v03)?;
                print_table(&rows, &v02_v03);
                println!("{}", workloads::NOTE_REFRESH_ALL);
            }
            Section::Upcast => {
                let sides = Sides::new("no upcaster", "upcasters");
                let (workloads, touched) = workloads::upcast(data)?;
                let rows = run_rows(workloads, &sides)?;
                print_table(&rows, &sides);
                println!("{}", workloads::note_upcast(&touched, data.n()));
            }
            Section::TimeTravel => {
                let rows = run_rows(travel::workloads(data)?, &v02_v03)?;
                travel::print_table(&rows);
            }
            Section::Sqlite => {
                let sides = Sides::new("SQLite", &format!("0.3.0 ({} threads)", fold_threads()));
                let rows = run_rows(sqlite::workloads(data)?, &sides)?;
                print_table(&rows, &sides);
                sqlite::print_notes();
            }
            Section::Threads => results.threads = child::threads(data)?,
            Section::Rss => results.rss = child::rss(data)?,
            Section::BlueGreen => bluegreen::run(data)?,
        }
        data.sets.clear_scratch()?;
    }
    Ok(results)
}

/// The threads this crate's folds parse on: rayon's pool size, `RAYON_NUM_THREADS` or the
/// CPUs.
fn fold_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |c| c.get()))
}

// ---------------------------------------------------------------------------------------------
// Data sets
// ---------------------------------------------------------------------------------------------

/// The data sets of one event count, each built (or found in the cache) when a section first
/// needs it, with a line saying what it holds.
struct Data {
    sets: Datasets,
    active: OnceCell<PathBuf>,
    sealed: OnceCell<PathBuf>,
    archive: OnceCell<PathBuf>,
    travel_active: OnceCell<data::TravelSet>,
    travel_archive: OnceCell<data::TravelSet>,
    sqlite: OnceCell<PathBuf>,
}

/// The value of `cell`, made by `make` the first time.
fn once<T>(cell: &OnceCell<T>, make: impl FnOnce() -> Result<T, BoxError>) -> Result<&T, BoxError> {
    if let Some(value) = cell.get() {
        return Ok(value);
    }
    let value = make()?;
    Ok(cell.get_or_init(|| value))
}

impl Data {
    fn new(sets: Datasets) -> Self {
        Data {
            sets,
            active: OnceCell::new(),
            sealed: OnceCell::new(),
            archive: OnceCell::new(),
            travel_active: OnceCell::new(),
            travel_archive: OnceCell::new(),
            sqlite: OnceCell::new(),
        }
    }

    fn n(&self) -> u64 {
        self.sets.n
    }

    /// `n` events in `app.jsonl`.
    fn active(&self) -> Result<&Path, BoxError> {
        once(&self.active, || {
            let started = Instant::now();
            let dir = self.sets.active()?;
            let bytes = std::fs::metadata(dir.join("app.jsonl"))?.len();
            println!(
                "data: app.jsonl {:.1} MB ({:.1} bytes/event), ready in {:.1?}",
                bytes as f64 / 1e6,
                bytes as f64 / self.n() as f64,
                started.elapsed()
            );
            Ok(dir)
        })
        .map(PathBuf::as_path)
    }

    /// The same `app.jsonl`, sealed as a log this crate wrote is (`app.seals.jsonl`).
    fn sealed(&self) -> Result<&Path, BoxError> {
        once(&self.sealed, || {
            self.active()?;
            let started = Instant::now();
            let dir = self.sets.sealed()?;
            let seals = std::fs::read_to_string(dir.join("app.seals.jsonl"))?;
            println!(
                "data: the same app.jsonl with {} sealed blocks in app.seals.jsonl, ready in {:.1?}",
                seals.lines().count(),
                started.elapsed()
            );
            Ok(dir)
        })
        .map(PathBuf::as_path)
    }

    /// The same events in a 10-frame archive written by 0.2.0.
    fn archive(&self) -> Result<&Path, BoxError> {
        once(&self.archive, || {
            let started = Instant::now();
            let dir = self.sets.archive()?;
            let bytes = std::fs::metadata(dir.join("archive.jsonl.zst"))?.len();
            println!(
                "data: archive.jsonl.zst {:.1} MB in {} frames (written by 0.2.0), ready in {:.1?}",
                bytes as f64 / 1e6,
                data::ARCHIVE_FRAMES,
                started.elapsed()
            );
            Ok(dir)
        })
        .map(PathBuf::as_path)
    }

    /// `app.jsonl` with a view that keeps a checkpoint every tenth of the events.
    fn travel_active(&self) -> Result<&data::TravelSet, BoxError> {
        once(&self.travel_active, || {
            self.active()?;
            let started = Instant::now();
            let set = self.sets.travel_active()?;
            println!(
                "data: app.jsonl with view {} keeping a checkpoint every {} events ({} files), \
                 ready in {:.1?}",
                data::TRAVEL_VIEW,
                set.checkpoints.interval().unwrap_or(0),
                set.checkpoint_files()?,
                started.elapsed()
            );
            Ok(set)
        })
    }

    /// An archive of 10 rotations written by this crate, with its index and a checkpoint at
    /// each rotation.
    fn travel_archive(&self) -> Result<&data::TravelSet, BoxError> {
        once(&self.travel_archive, || {
            let started = Instant::now();
            let set = self.sets.travel_archive()?;
            let bytes = std::fs::metadata(set.dir.join("archive.jsonl.zst"))?.len();
            let index = std::fs::read_to_string(set.dir.join("archive.index.jsonl"))?;
            println!(
                "data: archive.jsonl.zst {:.1} MB from {} rotations by 0.3.0, {} frames in \
                 archive.index.jsonl, view {} keeping a checkpoint every {} events and at each \
                 rotation ({} files), ready in {:.1?}",
                bytes as f64 / 1e6,
                data::ARCHIVE_FRAMES,
                index.lines().count(),
                data::TRAVEL_VIEW,
                set.checkpoints.interval().unwrap_or(0),
                set.checkpoint_files()?,
                started.elapsed()
            );
            Ok(set)
        })
    }

    /// The same events as rows of a SQLite table.
    fn sqlite(&self) -> Result<&Path, BoxError> {
        once(&self.sqlite, || {
            let started = Instant::now();
            let path = self.sets.sqlite()?;
            let bytes = std::fs::metadata(&path)?.len();
            println!(
                "data: events.db {:.1} MB (SQLite, table events), ready in {:.1?}",
                bytes as f64 / 1e6,
                started.elapsed()
            );
            Ok(path)
        })
        .map(PathBuf::as_path)
    }
}

// ---------------------------------------------------------------------------------------------
// Measuring
// ---------------------------------------------------------------------------------------------

/// The names of the two sides a table compares.
struct Sides {
    base: String,
    v03: String,
}

impl Sides {
    fn new(base: &str, v03: &str) -> Self {
        Sides {
            base: base.into(),
            v03: v03.into(),
        }
    }
}

/// A workload run for both sides: `base` (eventfold 0.2.0, or SQLite) and `v03` (this crate).
struct Workload<'a> {
    name: String,
    /// Events the workload processes, for events per second.
    events: u64,
    base: Run<'a>,
    v03: Run<'a>,
    /// A third run timed in the same rounds (this crate's full rebuild, beside the time travel
    /// rows), with the digest its state must have.
    rebuild: Option<(Run<'a>, String)>,
}

impl<'a> Workload<'a> {
    fn new(
        name: impl Into<String>,
        events: u64,
        base: impl FnMut() -> Outcome + 'a,
        v03: impl FnMut() -> Outcome + 'a,
    ) -> Self {
        Workload {
            name: name.into(),
            events,
            base: Box::new(base),
            v03: Box::new(v03),
            rebuild: None,
        }
    }
}

struct Row {
    name: String,
    events: u64,
    base: Duration,
    v03: Duration,
    /// The median of the workload's third run, if it has one.
    rebuild: Option<Duration>,
}

/// Measures each workload in turn, printing a line for each as it is done.
fn run_rows(workloads: Vec<Workload<'_>>, sides: &Sides) -> Result<Vec<Row>, BoxError> {
    let mut rows = Vec::with_capacity(workloads.len());
    for mut workload in workloads {
        let row = measure(&mut workload, sides)?;
        println!(
            "  {:<52} {} {:>10}   {} {:>10}   x{:.2}",
            row.name,
            sides.base,
            fmt_duration(row.base),
            sides.v03,
            fmt_duration(row.v03),
            ratio(row.base, row.v03)
        );
        rows.push(row);
    }
    Ok(rows)
}

/// Runs a workload `ROUNDS` times for each side, alternately, and keeps the medians.
fn measure(w: &mut Workload<'_>, sides: &Sides) -> Result<Row, BoxError> {
    let mut a = Vec::with_capacity(ROUNDS);
    let mut b = Vec::with_capacity(ROUNDS);
    let mut c = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        let (ta, da) = (w.base)().map_err(|e| format!("{}: {} failed: {e}", w.name, sides.base))?;
        if let Some((run, expected)) = w.rebuild.as_mut() {
            let (tc, dc) = run().map_err(|e| format!("{}: the rebuild failed: {e}", w.name))?;
            if dc.as_deref() != Some(expected.as_str()) {
                return Err(format!(
                    "{}: the rebuild folded another state in round {round}:\n  expected: \
                     {expected:?}\n  folded:   {dc:?}",
                    w.name
                )
                .into());
            }
            c.push(tc);
        }
        let (tb, db) = (w.v03)().map_err(|e| format!("{}: {} failed: {e}", w.name, sides.v03))?;
        if da != db {
            return Err(format!(
                "{}: the two sides disagree in round {round}:\n  {}: {da:?}\n  {}: {db:?}",
                w.name, sides.base, sides.v03
            )
            .into());
        }
        a.push(ta);
        b.push(tb);
    }
    Ok(Row {
        name: w.name.clone(),
        events: w.events,
        base: median(a),
        v03: median(b),
        rebuild: (!c.is_empty()).then(|| median(c)),
    })
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

/// `a / b`: above 1 when `b` took less time.
fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-12)
}

fn print_table(rows: &[Row], sides: &Sides) {
    let width = rows
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(8)
        .max(8);
    let time_width = sides.base.len().max(sides.v03.len()) + " median".len();
    let rate_width = time_width.max(13);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<width$}  {:>time_width$}  {:>time_width$}  {:>rate_width$}  {:>rate_width$}  {:>7}",
        "workload",
        format!("{} median", sides.base),
        format!("{} median", sides.v03),
        format!("{} ev/s", sides.base),
        format!("{} ev/s", sides.v03),
        "ratio"
    );
    let _ = writeln!(
        out,
        "{}",
        "-".repeat(width + 2 * time_width + 2 * rate_width + 7 + 10)
    );
    for row in rows {
        let _ = writeln!(
            out,
            "{:<width$}  {:>time_width$}  {:>time_width$}  {:>rate_width$}  {:>rate_width$}  {:>7}",
            row.name,
            fmt_duration(row.base),
            fmt_duration(row.v03),
            fmt_rate(row.events, row.base),
            fmt_rate(row.events, row.v03),
            format!("x{:.2}", ratio(row.base, row.v03)),
        );
    }
    print!("{out}");
    println!(
        "ratio = {} median time / {} median time (above 1: {} is faster)",
        sides.base, sides.v03, sides.v03
    );
}

/// The last table: the rebuilds per event, peak memory and thread scaling at each event count,
/// and how the largest count compares with the smallest.
fn print_scale(results: &[CountResults]) {
    println!("== scale: the same measures at each event count");
    let mut lines: Vec<(String, Vec<Option<String>>, Option<f64>)> = Vec::new();
    let first = results.first();
    let last = results.last();
    let spread = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if results.len() > 1 && a > 0.0 => Some(b / a),
        _ => None,
    };

    // Rebuild time per event, both crates.
    let names: Vec<&str> = first
        .map(|r| r.rebuild.iter().map(|row| row.name.as_str()).collect())
        .unwrap_or_default();
    for name in names {
        for (label, pick) in [
            ("0.2.0", (|row: &Row| row.base) as fn(&Row) -> Duration),
            ("0.3.0", |row: &Row| row.v03),
        ] {
            let per_event = |r: &CountResults| {
                r.rebuild
                    .iter()
                    .find(|row| row.name == name)
                    .map(|row| pick(row).as_secs_f64() * 1e9 / row.events as f64)
            };
            lines.push((
                format!("ns/event {label}, {name}"),
                results
                    .iter()
                    .map(|r| per_event(r).map(|v| format!("{v:.1}")))
                    .collect(),
                spread(first.and_then(per_event), last.and_then(per_event)),
            ));
        }
    }
    // Peak memory of this crate's rebuilds.
    let names: Vec<&str> = first
        .map(|r| r.rss.iter().map(|row| row.name.as_str()).collect())
        .unwrap_or_default();
    for name in names {
        for (label, pick) in [
            (
                "VmHWM",
                (|row: &child::RssRow| row.v03_hwm) as fn(&child::RssRow) -> Option<u64>,
            ),
            ("peak RssAnon", |row: &child::RssRow| row.v03_anon),
        ] {
            let kb = |r: &CountResults| r.rss.iter().find(|row| row.name == name).and_then(pick);
            lines.push((
                format!("{label} 0.3.0, {name}"),
                results
                    .iter()
                    .map(|r| kb(r).map(|kb| fmt_kb(Some(kb))))
                    .collect(),
                spread(
                    first.and_then(kb).map(|kb| kb as f64),
                    last.and_then(kb).map(|kb| kb as f64),
                ),
            ));
        }
    }
    // Thread scaling.
    let names: Vec<&str> = first
        .map(|r| r.threads.iter().map(|row| row.name.as_str()).collect())
        .unwrap_or_default();
    for name in names {
        let efficiency = |r: &CountResults| {
            r.threads
                .iter()
                .find(|row| row.name == name)
                .map(child::ThreadRow::efficiency)
        };
        lines.push((
            format!("T1/(2·T2), {name}"),
            results
                .iter()
                .map(|r| efficiency(r).map(|e| format!("{e:.2}")))
                .collect(),
            spread(first.and_then(efficiency), last.and_then(efficiency)),
        ));
    }

    let width = lines.iter().map(|l| l.0.chars().count()).max().unwrap_or(8);
    let mut header = format!("  {:<width$}", "measure");
    for r in results {
        let _ = write!(header, "  {:>12}", r.n);
    }
    if let (true, Some(first), Some(last)) = (results.len() > 1, first, last) {
        let _ = write!(
            header,
            "  {:>14}",
            format!("{} / {}", size_word(last.n), size_word(first.n))
        );
    }
    println!("{header}");
    for (name, cells, spread) in lines {
        let mut line = format!("  {name:<width$}");
        for cell in cells {
            let _ = write!(line, "  {:>12}", cell.unwrap_or_else(|| "-".into()));
        }
        if let Some(spread) = spread {
            let _ = write!(line, "  {:>14}", format!("x{spread:.2}"));
        }
        println!("{line}");
    }
    println!(
        "  ns/event: median rebuild time / events (linear scaling keeps it flat). VmHWM and \
         peak RssAnon: see the rss section."
    );
    println!(
        "  T1/(2·T2): the rebuild on one thread / twice the rebuild on two (1.00: two threads \
         halve the time)."
    );
}

/// `1m`, `10m`, `100k` or the number itself, for a column header.
fn size_word(n: u64) -> String {
    if n.is_multiple_of(1_000_000) {
        format!("{}m", n / 1_000_000)
    } else if n.is_multiple_of(1_000) {
        format!("{}k", n / 1_000)
    } else {
        n.to_string()
    }
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
