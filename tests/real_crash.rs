//! Real crashes: a child process appends to a log and is killed with `SIGKILL` at random
//! moments, many times over, on the same directory.
//!
//! The child is this test binary run again (`EVENTFOLD_CRASH_CHILD=<dir>`, the same test
//! selected with `--exact`). It opens the log with views and a small `max_log_size`, so that
//! rotations happen all the time, then appends deterministic events (event `n` carries
//! `data.seq == n`) one by one and in batches, refreshing the views now and then. After each
//! append returns it prints the last acknowledged sequence number on stdout. The parent reads
//! those lines, kills the child 1 to 50 ms after it started appending (or, in some rounds,
//! after it was spawned, so that the kill can land in the open and its recovery), and checks
//! the directory it left:
//!
//! - `read_full` yields events `0, 1, 2, ...` exactly as they were written: every acknowledged
//!   event is present once and in order, and nothing else is there except at most the one
//!   append (or batch) that was in flight when the kill came;
//! - every view, loaded from the snapshots the crash left, equals the plain fold of that
//!   history; so does a fresh full replay;
//! - in every other round the parent opens the log as a writer (running recovery) and checks
//!   the history did not change and the registered views still equal the fold; in the others
//!   the next child runs recovery itself, and may be killed while it does;
//! - the seals of `app.jsonl` a kill left (`app.seals.jsonl`) describe its bytes as they are,
//!   and a writer that opens the log seals its short unsealed tail.
//!
//! `SIGKILL` stops the process but not the kernel: bytes written before the kill reach the
//! file even without `fsync`. This test covers process crashes; power cuts are covered by the
//! crash images of `crash_safety.rs`. Set `EVENTFOLD_CRASH_SEED` to replay a run.

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{FIXED_TS, fold_model, test_dir};
use eventfold::{Event, EventLog, EventReader, EventRef, View};
use serde::{Deserialize, Serialize};
use serde_json::json;

const CHILD_ENV: &str = "EVENTFOLD_CRASH_CHILD";
const CHILD_SEED_ENV: &str = "EVENTFOLD_CRASH_CHILD_SEED";
const SEED_ENV: &str = "EVENTFOLD_CRASH_SEED";
/// The name of the test below, which the child runs.
const TEST_NAME: &str = "sigkill_at_random_moments_loses_no_acknowledged_event";
/// Small enough that a child rotates every twenty or so events.
const MAX_LOG_SIZE: u64 = 2048;
/// The largest batch the child appends: at most this many events may be on disk beyond the
/// last acknowledged one.
const MAX_BATCH: u64 = 6;
const KILLS: usize = 40;
/// Rounds stop early once this much time has gone by.
const TIME_BUDGET: Duration = Duration::from_secs(20);
/// A child that is never killed stops by itself after this long.
const CHILD_LIFETIME: Duration = Duration::from_secs(60);

/// splitmix64: a tiny deterministic PRNG, so a failing run can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Event number `seq`: its content depends only on `seq`, so the parent can check every
/// field of every event it reads back. Lengths vary so rotations fall at different places.
fn event(seq: u64) -> Event {
    let h = mix(seq);
    let pad = format!("{h:016x}").repeat((h % 6) as usize);
    Event {
        event_type: if seq.is_multiple_of(4) { "big" } else { "tick" }.to_string(),
        data: json!({ "seq": seq, "pad": pad }),
        ts: FIXED_TS + seq,
        id: seq.is_multiple_of(3).then(|| format!("e{seq}")),
        actor: seq.is_multiple_of(7).then(|| "ann".to_string()),
        meta: seq.is_multiple_of(5).then(|| json!({ "k": seq % 11 })),
    }
}

fn seq_of(event: &Event) -> Option<u64> {
    event.data.get("seq")?.as_u64()
}

fn count(n: u64, _event: &Event) -> u64 {
    n + 1
}

fn seq_sum(sum: u64, event: &Event) -> u64 {
    sum.wrapping_add(seq_of(event).unwrap_or(u64::MAX))
}

/// Where the sequence should be next, and how many times it was not there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Order {
    next: u64,
    breaks: u64,
}

fn order(state: Order, event: &Event) -> Order {
    let seq = seq_of(event).unwrap_or(u64::MAX);
    Order {
        next: seq.wrapping_add(1),
        breaks: state.breaks + u64::from(seq != state.next),
    }
}

#[derive(Deserialize)]
struct Seq {
    seq: u64,
}

/// The zero-copy path: a sum of squares read through `EventRef::data_as`.
fn square_sum_ref(sum: u64, event: &EventRef<'_>) -> u64 {
    let seq = event.data_as::<Seq>().map_or(u64::MAX, |s| s.seq);
    sum.wrapping_add(seq.wrapping_mul(seq))
}

fn square_sum(sum: u64, event: &Event) -> u64 {
    let seq = seq_of(event).unwrap_or(u64::MAX);
    sum.wrapping_add(seq.wrapping_mul(seq))
}

fn open_log(dir: &Path) -> std::io::Result<EventLog> {
    EventLog::builder(dir)
        .max_log_size(MAX_LOG_SIZE)
        .view::<u64>("count", count)
        .view::<u64>("sum", seq_sum)
        .view::<Order>("order", order)
        .view_ref::<u64>("squares", square_sum_ref)
        .open()
}

/// The whole history, or why it could not be read.
fn history(dir: &Path) -> Result<Vec<Event>, String> {
    let items = EventReader::new(dir)
        .read_full()
        .map_err(|e| format!("read_full failed: {e}"))?;
    items
        .map(|item| item.map(|(event, _hash)| event))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("read_full yielded an error: {e}"))
}

#[test]
fn sigkill_at_random_moments_loses_no_acknowledged_event() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        let seed = std::env::var(CHILD_SEED_ENV)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        child(Path::new(&dir), seed);
    }
    let seed = std::env::var(SEED_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_CAFE);
    eprintln!("real_crash: seed {seed} (set {SEED_ENV} to replay)");
    let mut rng = Rng(seed);
    let tmp = test_dir();
    let dir = tmp.path().join("log");
    let scratch = test_dir();
    let started = Instant::now();
    let mut stats = Stats::default();
    // Events known to be durable: every acknowledged one, and every one a check has seen
    // (the next child builds on those).
    let mut durable = 0u64;

    for round in 0..KILLS {
        if started.elapsed() > TIME_BUDGET && round >= 8 {
            break;
        }
        let from_spawn = rng.below(4) == 0;
        let delay = Duration::from_millis(1 + rng.below(50));
        let run = run_child(&dir, scratch.path(), rng.next(), from_spawn, delay);
        let what = format!("round {round} (seed {seed}, kill {delay:?} after {})", {
            if from_spawn { "spawn" } else { "start" }
        });
        if let Some(start) = run.start {
            assert_eq!(
                start, durable,
                "{what}: the child found {start} events where the last check saw {durable}"
            );
        }
        let acked = run.last_ack.map_or(0, |seq| seq + 1).max(durable);
        stats.observe(&dir);
        stats.sealed += usize::from(check_seals(&dir, &what) > 0);
        let present = check_directory(&dir, scratch.path(), acked, round.is_multiple_of(2), &what);
        stats.rounds += 1;
        stats.acked += run.acks;
        durable = present;
    }
    assert!(stats.acked > 0, "no child ever acknowledged an append");
    assert!(
        dir.join("archive.jsonl.zst").exists(),
        "no rotation ever happened: the test did not exercise rotation"
    );
    eprintln!(
        "real_crash: {} kills in {:?}, {} appends acknowledged, {durable} events in the log; \
         after the kills: {} torn tails, {} rotation records, {} unrenamed next logs, {} \
         snapshot temporaries, seals in {}",
        stats.rounds,
        started.elapsed(),
        stats.acked,
        stats.torn_tails,
        stats.records,
        stats.next_logs,
        stats.snapshot_tmps,
        stats.sealed,
    );
}

/// What the parent saw of one child.
struct Run {
    /// How many events the child found when it opened the log.
    start: Option<u64>,
    /// The last sequence number the child acknowledged.
    last_ack: Option<u64>,
    /// How many appends it acknowledged.
    acks: u64,
}

/// Kills the child when dropped, so a failing parent leaves no process behind.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a child on `dir`, kills it after `delay` (counted from its spawn or from its first
/// line), and returns what it acknowledged.
fn run_child(dir: &Path, scratch: &Path, seed: u64, from_spawn: bool, delay: Duration) -> Run {
    let stderr_path = scratch.join("child.stderr");
    let stderr = fs::File::create(&stderr_path).expect("cannot create the child's stderr file");
    let spawned = Command::new(std::env::current_exe().expect("no current executable"))
        .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .env(CHILD_SEED_ENV, seed.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("cannot start the child");
    let mut child = Killed(spawned);
    let stdout = child.0.stdout.take().expect("the child's stdout is piped");
    let (lines_tx, lines_rx) = mpsc::channel();
    let collector = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // libtest prints its own lines around ours: keep only ours.
            if let Some(at) = line.find("@@") {
                let _ = lines_tx.send(line[at + 2..].to_string());
            }
        }
    });

    let spawned_at = Instant::now();
    let mut start = None;
    let mut last_ack = None;
    let mut acks = 0;
    let mut take = |line: String| {
        if let Some(n) = line.strip_prefix("start ") {
            start = n.parse().ok();
        } else if let Some(n) = line.strip_prefix("ack ") {
            last_ack = Some(n.parse::<u64>().expect("a sequence number"));
            acks += 1;
        } else {
            panic!("the child failed: {line}");
        }
    };
    let kill_at = if from_spawn {
        spawned_at + delay
    } else {
        match lines_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(line) => take(line),
            Err(_) => panic!(
                "the child did not start: {}",
                fs::read_to_string(&stderr_path).unwrap_or_default()
            ),
        }
        Instant::now() + delay
    };
    std::thread::sleep(kill_at.saturating_duration_since(Instant::now()));
    child.0.kill().expect("cannot kill the child");
    let status = child.0.wait().expect("cannot wait for the child");
    collector.join().expect("the stdout reader panicked");
    for line in lines_rx.try_iter() {
        take(line);
    }
    assert!(
        killed_by_the_parent(status),
        "the child ended by itself ({status}) instead of being killed: {}",
        fs::read_to_string(&stderr_path).unwrap_or_default()
    );
    Run {
        start,
        last_ack,
        acks,
    }
}

/// Checks the directory a kill left. `acked` events must be there; returns how many are.
/// The seals a kill left describe the bytes of `app.jsonl` as they are: a seal is written
/// only after the bytes it covers were synced, and a rotation empties the seals before it
/// replaces the log. A torn last record is allowed (it is not read). Returns how many seals
/// there are.
fn check_seals(dir: &Path, what: &str) -> usize {
    let Ok(text) = fs::read(dir.join("app.seals.jsonl")) else {
        return 0;
    };
    let log = fs::read(dir.join("app.jsonl")).unwrap_or_default();
    let mut start = 0usize;
    let mut seals = 0;
    for line in text.split_inclusive(|&b| b == b'\n') {
        let Some(record) = line
            .strip_suffix(b"\n")
            .and_then(|line| serde_json::from_slice::<serde_json::Value>(line).ok())
        else {
            break;
        };
        let end = record["end"].as_u64().expect("end") as usize;
        assert!(
            end <= log.len(),
            "{what}: a seal ends at {end}, past the end of app.jsonl ({} bytes)",
            log.len()
        );
        let hash = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&log[start..end]));
        assert_eq!(
            record["xxh3"].as_str(),
            Some(hash.as_str()),
            "{what}: the seal of {start}..{end} does not describe app.jsonl"
        );
        start = end;
        seals += 1;
    }
    seals
}

fn check_directory(dir: &Path, scratch: &Path, acked: u64, reopen: bool, what: &str) -> u64 {
    // The history as any reader sees it, before anything is repaired.
    let events = history(dir).unwrap_or_else(|e| panic!("{what}: {e}"));
    for (i, event_read) in events.iter().enumerate() {
        assert_eq!(
            event_read,
            &event(i as u64),
            "{what}: event {i} of the history is not event {i} (duplicated, missing or torn)"
        );
    }
    let present = events.len() as u64;
    assert!(
        present >= acked,
        "{what}: {acked} events were acknowledged, only {present} are in the log"
    );
    assert!(
        present <= acked + MAX_BATCH,
        "{what}: {present} events in the log, but only {acked} were acknowledged and at most \
         one batch ({MAX_BATCH}) can have been in flight"
    );

    // The views as the crash left their snapshots, read without repairing anything: load
    // copies of the snapshots and bring them up to date.
    let copies = scratch.join("views-copy");
    let _ = fs::remove_dir_all(&copies);
    fs::create_dir_all(&copies).expect("cannot create the snapshot copy directory");
    for entry in fs::read_dir(dir.join("views")).expect("no views directory") {
        let path = entry.expect("cannot list views/").path();
        if path.to_string_lossy().ends_with(".snapshot.json") {
            fs::copy(&path, copies.join(path.file_name().expect("a file name")))
                .expect("cannot copy a snapshot");
        }
    }
    let reader = EventReader::new(dir);
    check_views_from(
        &copies,
        &reader,
        &events,
        &format!("{what}, snapshots as left"),
    );

    // A fresh replay, with no snapshot at all.
    let fresh = scratch.join("views-fresh");
    let _ = fs::remove_dir_all(&fresh);
    fs::create_dir_all(&fresh).expect("cannot create the fresh view directory");
    check_views_from(&fresh, &reader, &events, &format!("{what}, fresh replay"));

    if reopen {
        let mut log = open_log(dir).unwrap_or_else(|e| panic!("{what}: reopening failed: {e}"));
        let repaired = history(dir).unwrap_or_else(|e| panic!("{what}, after recovery: {e}"));
        assert_eq!(repaired, events, "{what}: recovery changed the history");
        // A writer that opens a log whose unsealed tail is short validates and seals it.
        let active = fs::metadata(dir.join("app.jsonl")).map_or(0, |m| m.len());
        assert!(
            active == 0 || check_seals(dir, what) > 0,
            "{what}: the writer opened {active} unsealed bytes and sealed none"
        );
        log.refresh_all()
            .unwrap_or_else(|e| panic!("{what}: refresh_all after reopening failed: {e}"));
        let expect = |name: &str, got: u64, want: u64| {
            assert_eq!(got, want, "{what}: registered view {name} after reopening");
        };
        expect(
            "count",
            *log.view::<u64>("count").unwrap(),
            fold_model(&events, count),
        );
        expect(
            "sum",
            *log.view::<u64>("sum").unwrap(),
            fold_model(&events, seq_sum),
        );
        expect(
            "squares",
            *log.view::<u64>("squares").unwrap(),
            fold_model(&events, square_sum),
        );
        assert_eq!(
            *log.view::<Order>("order").unwrap(),
            fold_model(&events, order),
            "{what}: registered view order after reopening"
        );
    }
    present
}

/// Refreshes each of the child's views with its snapshot taken from `views_dir` and checks it
/// against the fold of `events`.
fn check_views_from(views_dir: &Path, reader: &EventReader, events: &[Event], what: &str) {
    let refreshed = |name: &str, reducer: fn(u64, &Event) -> u64| -> u64 {
        *View::new(name, reducer, views_dir)
            .refresh(reader)
            .unwrap_or_else(|e| panic!("{what}: refreshing view {name} failed: {e}"))
    };
    assert_eq!(
        refreshed("count", count),
        fold_model(events, count),
        "{what}: view count"
    );
    assert_eq!(
        refreshed("sum", seq_sum),
        fold_model(events, seq_sum),
        "{what}: view sum"
    );
    let squares = *View::new_ref("squares", square_sum_ref, views_dir)
        .refresh(reader)
        .unwrap_or_else(|e| panic!("{what}: refreshing view squares failed: {e}"));
    assert_eq!(
        squares,
        fold_model(events, square_sum),
        "{what}: view squares"
    );
    let ordered = *View::new("order", order, views_dir)
        .refresh(reader)
        .unwrap_or_else(|e| panic!("{what}: refreshing view order failed: {e}"));
    assert_eq!(ordered, fold_model(events, order), "{what}: view order");
    assert_eq!(ordered.breaks, 0, "{what}: the history is out of order");
}

/// What the kills left behind, for the summary line.
#[derive(Default)]
struct Stats {
    rounds: usize,
    acked: u64,
    torn_tails: usize,
    records: usize,
    next_logs: usize,
    snapshot_tmps: usize,
    /// Kills after which `app.seals.jsonl` held seals.
    sealed: usize,
}

impl Stats {
    fn observe(&mut self, dir: &Path) {
        let log = fs::read(dir.join("app.jsonl")).unwrap_or_default();
        self.torn_tails += usize::from(log.last().is_some_and(|&b| b != b'\n'));
        self.records += usize::from(dir.join("rotation.json").exists());
        self.next_logs += usize::from(dir.join("app.jsonl.next").exists());
        self.snapshot_tmps += fs::read_dir(dir.join("views"))
            .map(|entries| {
                entries
                    .filter(|e| {
                        e.as_ref()
                            .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
                    })
                    .count()
            })
            .unwrap_or(0);
    }
}

/// The child: appends until it is killed, acknowledging each append on stdout.
fn child(dir: &Path, seed: u64) -> ! {
    let fail = |what: String| -> ! {
        println!("@@failed: {what}");
        std::process::exit(3);
    };
    let mut log = open_log(dir).unwrap_or_else(|e| fail(format!("open: {e}")));
    let mut next = history(dir).unwrap_or_else(|e| fail(e)).len() as u64;
    let out = std::io::stdout();
    let say = |line: String| {
        let mut out = out.lock();
        // Written and flushed before the next append starts: the parent may rely on it.
        out.write_all(line.as_bytes())
            .and_then(|()| out.flush())
            .unwrap_or_else(|e| fail(format!("stdout: {e}")));
    };
    say(format!("\n@@start {next}\n"));
    let mut rng = Rng(seed ^ next);
    let started = Instant::now();
    while started.elapsed() < CHILD_LIFETIME {
        match rng.below(10) {
            0..=4 => {
                log.append(&event(next))
                    .unwrap_or_else(|e| fail(format!("append {next}: {e}")));
                next += 1;
            }
            5..=7 => {
                let n = 2 + rng.below(MAX_BATCH - 1);
                let batch: Vec<Event> = (next..next + n).map(event).collect();
                log.append_batch(&batch)
                    .unwrap_or_else(|e| fail(format!("append_batch at {next}: {e}")));
                next += n;
            }
            _ => {
                log.refresh_all()
                    .unwrap_or_else(|e| fail(format!("refresh_all: {e}")));
                continue;
            }
        }
        say(format!("@@ack {}\n", next - 1));
    }
    std::process::exit(0);
}

/// Whether `status` is that of a child the parent killed: by `SIGKILL` on Unix; on Windows
/// `Child::kill` terminates the process with exit code 1, a code the child never exits with
/// by itself (it appends until killed, and a panic exits with 101).
fn killed_by_the_parent(status: ExitStatus) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        status.signal() == Some(9)
    }
    #[cfg(not(unix))]
    {
        status.code() == Some(1)
    }
}
