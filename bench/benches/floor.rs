//! The floor of a replay: what each stage of reading the bench's `app.jsonl` costs on one
//! thread, from counting its newlines to building every event with serde_json, and where
//! eventfold's rebuilds stand among them.
//!
//! ```text
//! cargo bench -p eventfold-bench --bench floor
//! EVENTFOLD_BENCH_EVENTS=100000 cargo bench -p eventfold-bench --bench floor  # quick run
//! ```
//!
//! Every stage runs on the calling thread over the same bytes (the file read into memory once,
//! except for eventfold's rebuilds, which read the log directory as a user would) and is timed
//! as the CPU time of that thread, so that other programs on the machine change the figures
//! little. Each round runs every stage once, in table order; the table holds the median of 5
//! rounds and their range, in ns per event. A first, untimed round checks every stage's result
//! against serde_json's: a stage that reads the file wrongly stops the bench instead of reporting
//! a fast figure.
//!
//! eventfold's rows are the public API: [`eventfold::View::new_ref`] + `rebuild`, with a reducer
//! that reads `event_type()` (type only) or also `data.id` (by `data_u64` or `data_as`), inside a
//! rayon pool of one thread, which makes the fold sequential on that thread. They read the log
//! twice: with the seals its writer leaves (`app.seals.jsonl`), where sealed blocks are checked by
//! their hash and read trusted, and the same bytes without seals, where every line is validated.
//! The sealed rebuilds in the default pool follow, for reference, with their wall time and the
//! CPU time of the process.
//!
//! The known-shape locator and the depth-aware walker (`floor/locate.rs`) read lines the way a
//! replay could if the log were validated once and trusted afterwards; they are targets, not
//! eventfold's parser.

mod data;
#[path = "floor/locate.rs"]
mod locate;

use data::{Datasets, Tally, TodoStats, v03};
use memchr::memchr;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

/// Timed rounds; the table reports their median.
const ROUNDS: usize = 5;
/// The block the checked locator verifies with xxh3 before reading its lines.
const BLOCK: usize = 256 * 1024;

// ---------------------------------------------------------------------------------------------
// Clocks
// ---------------------------------------------------------------------------------------------

/// CPU time consumed so far by `clock` (a thread or process CPU clock).
#[cfg(unix)]
fn cpu_clock(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// CPU time of the calling thread.
#[cfg(unix)]
fn thread_cpu() -> Duration {
    cpu_clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time of the whole process, all threads.
#[cfg(unix)]
fn process_cpu() -> Duration {
    cpu_clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// Without a CPU clock, wall time since the first call (the bench says so when it starts).
#[cfg(not(unix))]
fn thread_cpu() -> Duration {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

#[cfg(not(unix))]
fn process_cpu() -> Duration {
    thread_cpu()
}

/// One timed run: CPU time (of the thread, or of the process) and wall time.
#[derive(Debug, Clone, Copy)]
struct Times {
    cpu: Duration,
    wall: Duration,
}

/// Runs `f` and times it with `clock`.
fn measure<T>(clock: fn() -> Duration, f: impl FnOnce() -> T) -> (T, Times) {
    let (cpu0, wall0) = (clock(), Instant::now());
    let out = f();
    let times = Times {
        cpu: clock() - cpu0,
        wall: wall0.elapsed(),
    };
    (out, times)
}

// ---------------------------------------------------------------------------------------------
// Stages
// ---------------------------------------------------------------------------------------------

/// Calls `f` with each line of `buf` (without its newline), one `memchr` per line.
fn for_each_line<'a>(buf: &'a [u8], mut f: impl FnMut(&'a [u8])) {
    let mut start = 0;
    while let Some(at) = memchr(b'\n', &buf[start..]) {
        f(&buf[start..start + at]);
        start += at + 1;
    }
    assert_eq!(start, buf.len(), "the log does not end with a newline");
}

/// The owned event of `line`, by serde_json: the fallback for a line the locator refuses.
fn serde_event(line: &[u8]) -> eventfold::Event {
    serde_json::from_slice(line).expect("a line of the bench log is not an event")
}

/// What the fast readers answered, and how many lines they handed to serde_json instead.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Read<S> {
    state: S,
    refused: u64,
}

/// Counts events by type, the type found by [`locate::locate`].
fn located_tally(buf: &[u8]) -> Read<Tally> {
    let mut read = Read::<Tally>::default();
    for_each_line(buf, |line| tally_line(&mut read, line));
    read
}

fn tally_line(read: &mut Read<Tally>, line: &[u8]) {
    let state = std::mem::take(&mut read.state);
    read.state = match locate::locate(line) {
        Some(located) => state.count(located.event_type),
        None => {
            read.refused += 1;
            state.count(&serde_event(line).event_type)
        }
    };
}

/// [`located_tally`], each block of [`BLOCK`] bytes first hashed with xxh3 and compared with
/// its stored hash; a line is read once every block it touches has been checked.
fn checked_tally(buf: &[u8], hashes: &[u64]) -> Read<Tally> {
    let mut read = Read::<Tally>::default();
    let mut pos = 0;
    for (block, (bytes, &want)) in buf.chunks(BLOCK).zip(hashes).enumerate() {
        assert_eq!(
            xxhash_rust::xxh3::xxh3_64(bytes),
            want,
            "block {block} does not match its stored hash"
        );
        let checked = block * BLOCK + bytes.len();
        while let Some(at) = memchr(b'\n', &buf[pos..checked]) {
            tally_line(&mut read, &buf[pos..pos + at]);
            pos += at + 1;
        }
    }
    assert_eq!(pos, buf.len(), "the log does not end with a newline");
    read
}

/// Counts events by type, the type found by sonic-rs's `get`.
fn sonic_tally(buf: &[u8]) -> Tally {
    use sonic_rs::JsonValueTrait;
    let mut tally = Tally::default();
    for_each_line(buf, |line| {
        let value = sonic_rs::get(line, ["type"]).expect("sonic-rs found no type");
        tally = std::mem::take(&mut tally).count(value.as_str().expect("a type is a string"));
    });
    tally
}

/// Counts events by type, each line copied into a scratch buffer and parsed by simd-json into
/// a tape.
fn simd_tape_tally(buf: &[u8]) -> Tally {
    use simd_json::prelude::*;
    let mut tally = Tally::default();
    let mut scratch = Vec::with_capacity(4096);
    let mut buffers = simd_json::Buffers::default();
    for_each_line(buf, |line| {
        scratch.clear();
        scratch.extend_from_slice(line);
        let tape = simd_json::to_tape_with_buffers(&mut scratch, &mut buffers)
            .expect("simd-json refused a line");
        let value = tape.as_value();
        let event_type = value.get("type").expect("a line has a type");
        let event_type = event_type.as_str().expect("a type is a string");
        tally = std::mem::take(&mut tally).count(event_type);
    });
    tally
}

/// The ids the type + id reducer asks for (those of `todo_added` and `todo_deleted`), counted
/// and summed instead of kept in a set, and the events counted by type.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct IdSum {
    tally: Tally,
    ids: u64,
    sum: u64,
}

impl IdSum {
    fn add(&mut self, event_type: &str, id: impl FnOnce() -> Option<u64>) {
        if matches!(event_type, "todo_added" | "todo_deleted")
            && let Some(id) = id()
        {
            self.ids += 1;
            self.sum = self.sum.wrapping_add(id);
        }
        self.tally = std::mem::take(&mut self.tally).count(event_type);
    }
}

/// The payload's `id` of an owned event, as the compat reducer reads it.
fn serde_id(event: &eventfold::Event) -> Option<u64> {
    event.data.get("id").and_then(|id| id.as_u64())
}

/// [`IdSum`] by [`locate::locate`] and [`locate::Located::data_id`]: the walk without the set.
fn walked_sum(buf: &[u8]) -> Read<IdSum> {
    let mut read = Read::<IdSum>::default();
    let mut refused = 0;
    for_each_line(buf, |line| match locate::locate(line) {
        Some(located) => read.state.add(located.event_type, || {
            located.data_id().unwrap_or_else(|| {
                refused += 1;
                serde_id(&serde_event(line))
            })
        }),
        None => {
            refused += 1;
            let event = serde_event(line);
            read.state.add(&event.event_type, || serde_id(&event));
        }
    });
    read.refused = refused;
    read
}

/// [`IdSum`] by serde_json, the reference of [`walked_sum`].
fn serde_sum(buf: &[u8]) -> IdSum {
    let mut sum = IdSum::default();
    for_each_line(buf, |line| {
        let event = serde_event(line);
        sum.add(&event.event_type, || serde_id(&event));
    });
    sum
}

/// The bench's type + id reducer ([`TodoStats`]), the type found by [`locate::locate`] and
/// `data.id` by [`locate::Located::data_id`], the latter only for the types that need it.
fn walked_stats(buf: &[u8]) -> Read<TodoStats> {
    let mut read = Read::<TodoStats>::default();
    let mut refused = 0;
    for_each_line(buf, |line| {
        let state = std::mem::take(&mut read.state);
        read.state = match locate::locate(line) {
            Some(located) => state.apply(located.event_type, || match located.data_id() {
                Some(id) => id,
                None => {
                    refused += 1;
                    serde_id(&serde_event(line))
                }
            }),
            None => {
                refused += 1;
                v03::compat(state, &serde_event(line))
            }
        };
    });
    read.refused = refused;
    read
}

/// The bench's compat reducer over owned events built by serde_json.
fn serde_stats(buf: &[u8]) -> TodoStats {
    let mut stats = TodoStats::default();
    for_each_line(buf, |line| {
        stats = v03::compat(std::mem::take(&mut stats), &serde_event(line));
    });
    stats
}

/// A fresh view of `dir` with a zero-copy reducer, rebuilt; returned so that it is checked and
/// dropped outside the timing.
fn rebuild<S>(dir: &Path, name: &str, reducer: eventfold::ReduceRefFn<S>) -> eventfold::View<S>
where
    S: serde::Serialize + serde::de::DeserializeOwned + Default + Clone,
{
    let reader = eventfold::EventReader::new(dir);
    let mut view = eventfold::View::new_ref(name, reducer, &dir.join("views"));
    view.rebuild(&reader).expect("rebuild failed");
    view
}

// ---------------------------------------------------------------------------------------------
// The bench
// ---------------------------------------------------------------------------------------------

/// What a stage's result is checked against.
struct Expected {
    lines: u64,
    hash: u64,
    sum: IdSum,
    stats: TodoStats,
}

/// Fails loudly when a stage read the file wrongly.
fn check<T: PartialEq + std::fmt::Debug>(stage: &str, got: &T, want: &T) {
    assert!(
        got == want,
        "{stage} disagrees with serde_json:\n  got  {got:?}\n  want {want:?}"
    );
}

/// Fails when a fast reader handed lines of the bench data to serde_json.
fn check_read<S: PartialEq + std::fmt::Debug>(stage: &str, got: &Read<S>, want: &S) {
    check(stage, &got.state, want);
    assert_eq!(got.refused, 0, "{stage} refused lines of the bench data");
}

/// The stages measured on the calling thread, in table order.
const STAGES: [&str; 14] = [
    "memchr newline count over the file",
    "xxh3-64 over the file",
    "type by the known-shape locator (one memchr + memchr2 per line)",
    "the same + an xxh3 check per 256 KiB block",
    "eventfold `EventRef` type-only rebuild, sealed log (trusted; pool of 1 thread)",
    "sonic-rs `get(line, [\"type\"])`",
    "eventfold `EventRef` type-only rebuild, no seals (validating; pool of 1 thread)",
    "simd-json tape per line (line copied first)",
    "type + `data.id` by the depth-aware walk, ids summed (no set)",
    "type + `data.id` by the depth-aware walk, into the BTreeSet",
    "eventfold type + id rebuild with `data_u64`, sealed log (pool of 1 thread)",
    "eventfold type + id rebuild with `data_as`, sealed log (pool of 1 thread)",
    "eventfold type + id rebuild with `data_as`, no seals (pool of 1 thread)",
    "serde_json into the compat `Event`, compat reducer",
];

/// The two copies of the bench log the rebuild stages read: the same bytes without seals and
/// with the seals this crate's writer leaves (see `data::Datasets::sealed`).
struct Dirs<'a> {
    plain: &'a Path,
    sealed: &'a Path,
}

/// Runs stage `stage` once, times it on the calling thread and checks its result.
fn run_stage(
    stage: usize,
    buf: &[u8],
    dirs: &Dirs<'_>,
    hashes: &[u64],
    pool: &rayon::ThreadPool,
    want: &Expected,
) -> Duration {
    let name = STAGES[stage];
    let type_only = |dir: &Path| {
        pool.install(|| {
            let (view, t) = measure(thread_cpu, || {
                rebuild::<Tally>(dir, "floor_type_only", v03::type_only)
            });
            check(name, view.state(), &want.stats.tally);
            t.cpu
        })
    };
    let type_id = |dir: &Path, reducer: eventfold::ReduceRefFn<TodoStats>| {
        pool.install(|| {
            let (view, t) = measure(thread_cpu, || {
                rebuild::<TodoStats>(dir, "floor_type_id", reducer)
            });
            check(name, view.state(), &want.stats);
            t.cpu
        })
    };
    match stage {
        0 => {
            let (lines, t) = measure(thread_cpu, || memchr::memchr_iter(b'\n', buf).count());
            check(name, &(lines as u64), &want.lines);
            t.cpu
        }
        1 => {
            let (hash, t) = measure(thread_cpu, || xxhash_rust::xxh3::xxh3_64(black_box(buf)));
            check(name, &hash, &want.hash);
            t.cpu
        }
        2 => {
            let (read, t) = measure(thread_cpu, || located_tally(buf));
            check_read(name, &read, &want.stats.tally);
            t.cpu
        }
        3 => {
            let (read, t) = measure(thread_cpu, || checked_tally(buf, hashes));
            check_read(name, &read, &want.stats.tally);
            t.cpu
        }
        4 => type_only(dirs.sealed),
        5 => {
            let (tally, t) = measure(thread_cpu, || sonic_tally(buf));
            check(name, &tally, &want.stats.tally);
            t.cpu
        }
        6 => type_only(dirs.plain),
        7 => {
            let (tally, t) = measure(thread_cpu, || simd_tape_tally(buf));
            check(name, &tally, &want.stats.tally);
            t.cpu
        }
        8 => {
            let (read, t) = measure(thread_cpu, || walked_sum(buf));
            check_read(name, &read, &want.sum);
            t.cpu
        }
        9 => {
            let (read, t) = measure(thread_cpu, || walked_stats(buf));
            check_read(name, &read, &want.stats);
            t.cpu
        }
        10 => type_id(dirs.sealed, v03::type_id_field),
        11 => type_id(dirs.sealed, v03::type_id),
        12 => type_id(dirs.plain, v03::type_id),
        13 => {
            let (stats, t) = measure(thread_cpu, || serde_stats(buf));
            check(name, &stats, &want.stats);
            t.cpu
        }
        _ => unreachable!("no stage {stage}"),
    }
}

/// The rebuilds in rayon's default pool, timed as wall time and the CPU time of the process.
fn run_default_pool(dir: &Path, want: &Expected) -> [Times; 2] {
    let (view, type_only) = measure(process_cpu, || {
        rebuild::<Tally>(dir, "floor_type_only", v03::type_only)
    });
    check(
        "type-only rebuild, default pool",
        view.state(),
        &want.stats.tally,
    );
    drop(view);
    let (view, type_id) = measure(process_cpu, || {
        rebuild::<TodoStats>(dir, "floor_type_id", v03::type_id)
    });
    check("type + id rebuild, default pool", view.state(), &want.stats);
    [type_only, type_id]
}

/// Median, minimum and maximum of `samples` in ns per event.
fn per_event(samples: &[Duration], n: u64) -> (f64, f64, f64) {
    let mut ns: Vec<f64> = samples
        .iter()
        .map(|d| d.as_nanos() as f64 / n as f64)
        .collect();
    ns.sort_by(f64::total_cmp);
    (ns[ns.len() / 2], ns[0], ns[ns.len() - 1])
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` passes `--bench`; there are no options to read.
    let n = data::event_count_from_env()?;
    let sets = Datasets::new(n)?;
    let dir = sets.active()?;
    let sealed = sets.sealed()?;
    let dirs = Dirs {
        plain: &dir,
        sealed: &sealed,
    };
    let buf = std::fs::read(dir.join("app.jsonl"))?;
    let hashes: Vec<u64> = buf.chunks(BLOCK).map(xxhash_rust::xxh3::xxh3_64).collect();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;

    println!(
        "floor: {n} events, {} bytes ({:.1} bytes per line), {} CPUs, rayon default pool of {} threads",
        buf.len(),
        buf.len() as f64 / n as f64,
        std::thread::available_parallelism().map_or(0, |p| p.get()),
        rayon::current_num_threads(),
    );
    if cfg!(not(unix)) {
        println!("no thread CPU clock on this platform: the figures are wall time");
    }

    // The reference, then one untimed round that checks every stage.
    let want = Expected {
        lines: n,
        hash: xxhash_rust::xxh3::xxh3_64(&buf),
        sum: serde_sum(&buf),
        stats: serde_stats(&buf),
    };
    check("serde_json's event count", &want.stats.tally.total(), &n);
    for stage in 0..STAGES.len() {
        run_stage(stage, &buf, &dirs, &hashes, &pool, &want);
    }
    run_default_pool(&sealed, &want);
    println!(
        "every stage agrees with serde_json: {}",
        want.stats.digest()
    );

    let mut cpu = vec![Vec::with_capacity(ROUNDS); STAGES.len()];
    let mut default_pool = [Vec::new(), Vec::new()];
    let started = Instant::now();
    for _ in 0..ROUNDS {
        for (stage, samples) in cpu.iter_mut().enumerate() {
            samples.push(run_stage(stage, &buf, &dirs, &hashes, &pool, &want));
        }
        for (samples, t) in default_pool
            .iter_mut()
            .zip(run_default_pool(&sealed, &want))
        {
            samples.push(t);
        }
    }
    println!(
        "{ROUNDS} rounds in {:.1} s of wall time\n",
        started.elapsed().as_secs_f64()
    );

    println!("One thread, CPU time of the thread, ns per event, median of {ROUNDS} (min-max):\n");
    println!("| stage | ns/event | min-max |");
    println!("|---|---:|---:|");
    for (name, samples) in STAGES.iter().zip(&cpu) {
        let (median, min, max) = per_event(samples, n);
        println!("| {name} | {median:.1} | {min:.1}-{max:.1} |");
    }

    println!(
        "\nThe rebuilds in rayon's default pool, ns per event, median of {ROUNDS} (min-max):\n"
    );
    println!("| rebuild | wall | CPU of the process |");
    println!("|---|---:|---:|");
    for (name, samples) in ["type only, sealed log", "type + id (`data_as`), sealed log"]
        .iter()
        .zip(&default_pool)
    {
        let wall: Vec<Duration> = samples.iter().map(|t| t.wall).collect();
        let cpu: Vec<Duration> = samples.iter().map(|t| t.cpu).collect();
        let (w, wmin, wmax) = per_event(&wall, n);
        let (c, cmin, cmax) = per_event(&cpu, n);
        println!("| {name} | {w:.1} ({wmin:.1}-{wmax:.1}) | {c:.1} ({cmin:.1}-{cmax:.1}) |");
    }
    sets.cleanup();
    Ok(())
}
