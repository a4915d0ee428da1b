//! Concurrent readers: an `EventReader` in another process and one in another thread read in
//! a loop while the writer appends and rotates often.
//!
//! The reader process is this test binary run again (`EVENTFOLD_READER_CHILD=<dir>`, the same
//! test selected with `--exact`). Events carry their sequence number in `data.seq`, and event
//! `n` has content that depends only on `n`, so a reader can check every event it gets. The
//! active log is rotated at 1.5 MiB, so readers read it both mapped (past 1 MiB) and copied,
//! and the archive grows to several frames.
//!
//! What is checked: no reader crashes (a `SIGBUS` from a shrunken map would kill the reader
//! process, whose exit status is checked), even while a reopening writer cuts a torn tail in
//! place; no read fails; every event read is intact (equal to the event of its number, with
//! the right line hash); `read_from(0)` yields consecutive numbers; `read_full`, full replays
//! and views kept by a reader are consistent prefixes of the history (`0, 1, 2, ...`, nothing
//! twice, nothing missing) that never go backwards; and a second writer is refused with
//! `ErrorKind::AlreadyExists`, even while the first one rotates.
//!
//! The races that broke these (a history read twice or with a hole, a view counting an
//! archived copy twice, a second writer winning the lock of a replaced file) each have a
//! deterministic test below besides the statistical ones.

mod common;

use std::fs;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{
    FIXED_TS, append_all, counter_reducer, numbered_events, read_all, test_dir, trace_reducer,
};
use eventfold::{Event, EventLog, EventReader, EventRef, EventWriter, View, line_hash};
use serde::{Deserialize, Serialize};
use serde_json::json;

const CHILD_ENV: &str = "EVENTFOLD_READER_CHILD";
const CHILD_WRITER_ENV: &str = "EVENTFOLD_READER_TRIES_WRITERS";
const CHILD_STOP_ENV: &str = "EVENTFOLD_READER_STOP";
/// Past the 1 MiB threshold above which readers map the active log instead of copying it.
const MAX_LOG_SIZE: u64 = 3 << 19;
/// How long the writer writes in each scenario, at least.
const WRITE_TIME: Duration = Duration::from_secs(4);
/// On a slow machine the writer goes on past `WRITE_TIME`, up to this long, until it has
/// rotated `MIN_ROTATIONS` times and the reader thread has read `MIN_LOOPS` times.
const MAX_WRITE_TIME: Duration = Duration::from_secs(30);
const MIN_ROTATIONS: u64 = 3;
const MIN_LOOPS: u64 = 3;
/// A reader process that is never told to stop gives up after this long.
const CHILD_LIFETIME: Duration = Duration::from_secs(60);

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Event number `seq`, a few KiB of poorly compressible padding on average.
fn event(seq: u64) -> Event {
    let h = mix(seq);
    let pad: String = (0..h % 400)
        .map(|i| format!("{:016x}", mix(h ^ i)))
        .collect();
    Event {
        event_type: "tick".to_string(),
        data: json!({ "seq": seq, "pad": pad }),
        ts: FIXED_TS + seq,
        id: seq.is_multiple_of(3).then(|| format!("e{seq}")),
        actor: None,
        meta: None,
    }
}

fn seq_of(event: &Event) -> Option<u64> {
    event.data.get("seq")?.as_u64()
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

fn order_ref(state: Order, event: &EventRef<'_>) -> Order {
    let seq = event.data_as::<Seq>().map_or(u64::MAX, |s| s.seq);
    Order {
        next: seq.wrapping_add(1),
        breaks: state.breaks + u64::from(seq != state.next),
    }
}

/// Tries to open a second writer (bare, and through `EventLog`): both must be refused with
/// `ErrorKind::AlreadyExists`.
fn check_second_writer_refused(dir: &Path) -> Result<(), String> {
    match EventWriter::open(dir) {
        Ok(_) => return Err("a second writer opened the log".to_string()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("a second writer failed the wrong way: {e}")),
    }
    match EventLog::open(dir) {
        Ok(_) => Err("a second EventLog opened the log".to_string()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(format!("a second EventLog failed the wrong way: {e}")),
    }
}

/// What one reader did.
#[derive(Debug, Default)]
struct ReadStats {
    loops: u64,
    most_events: u64,
    refusals: u64,
}

/// Checks that an event read is intact: equal to the event of its number, with its hash.
fn check_event(event_read: &Event, hash: &str, what: &str) -> Result<u64, String> {
    let seq = seq_of(event_read).ok_or_else(|| format!("{what}: an event without a seq"))?;
    if *event_read != event(seq) {
        return Err(format!("{what}: event {seq} is not intact: {event_read:?}"));
    }
    let line = serde_json::to_string(event_read).map_err(|e| e.to_string())?;
    if hash != line_hash(line.as_bytes()) {
        return Err(format!(
            "{what}: event {seq} comes with the wrong line hash"
        ));
    }
    Ok(seq)
}

/// Reads in a loop until `stop` says so; any failure ends the loop with its description.
fn read_loop(
    dir: &Path,
    views: &Path,
    second_writer: bool,
    stop: &dyn Fn() -> bool,
) -> Result<ReadStats, String> {
    let reader = EventReader::new(dir);
    let mut stats = ReadStats::default();
    let mut last_full = 0u64;
    let mut follower = View::new("follower", order, views);
    let mut follower_ref = View::new_ref("follower-ref", order_ref, views);
    let mut last_followed = 0u64;
    while !stop() {
        stats.loops += 1;
        let round = stats.loops;

        // The active log alone: one map (or copy) of its committed part.
        let mut previous: Option<(u64, u64)> = None;
        let items = reader
            .read_from(0)
            .map_err(|e| format!("read_from(0) failed: {e}"))?;
        for item in items {
            let (event_read, end, hash) =
                item.map_err(|e| format!("read_from(0) yielded an error: {e}"))?;
            let seq = check_event(&event_read, &hash, "read_from(0)")?;
            if let Some((before, before_end)) = previous
                && (seq != before + 1 || end <= before_end)
            {
                return Err(format!(
                    "read_from(0): event {seq} (ending at {end}) follows event {before} \
                     (ending at {before_end})"
                ));
            }
            previous = Some((seq, end));
        }

        // The whole history.
        let items = reader
            .read_full()
            .map_err(|e| format!("read_full failed: {e}"))?;
        let mut count = 0u64;
        for item in items {
            let (event_read, hash) =
                item.map_err(|e| format!("read_full yielded an error: {e}"))?;
            let seq = check_event(&event_read, &hash, "read_full")?;
            if seq != count {
                return Err(format!(
                    "read_full: event {seq} at position {count}: not a consistent prefix"
                ));
            }
            count += 1;
        }
        // Views kept from one read to the next, refreshed each time.
        {
            for (kind, view) in [("owned", &mut follower), ("zero-copy", &mut follower_ref)] {
                let state = *view
                    .refresh(&reader)
                    .map_err(|e| format!("refreshing the {kind} follower failed: {e}"))?;
                if state.breaks != 0 || state.next < last_followed {
                    return Err(format!(
                        "{kind} follower: {state:?} is not a consistent prefix (it had \
                         reached {last_followed})"
                    ));
                }
                last_followed = state.next;
            }
        }
        if count < last_full {
            return Err(format!(
                "read_full: {count} events after an earlier read saw {last_full}"
            ));
        }
        last_full = last_full.max(count);
        stats.most_events = stats.most_events.max(count);

        // Full replays through both reducer kinds, each under a fresh view name.
        if round.is_multiple_of(3) {
            let rebuilt = *View::new(&format!("order-{round}"), order, views)
                .rebuild(&reader)
                .map_err(|e| format!("rebuilding a view failed: {e}"))?;
            let rebuilt_ref = *View::new_ref(&format!("order-ref-{round}"), order_ref, views)
                .rebuild(&reader)
                .map_err(|e| format!("rebuilding a zero-copy view failed: {e}"))?;
            for (kind, state) in [("owned", rebuilt), ("zero-copy", rebuilt_ref)] {
                if state.breaks != 0 || state.next < last_full {
                    return Err(format!(
                        "{kind} rebuild: {state:?} is not a consistent prefix (read_full saw \
                         {last_full} events)"
                    ));
                }
            }
        }

        if second_writer {
            check_second_writer_refused(dir)?;
            stats.refusals += 1;
        }
    }
    Ok(stats)
}

/// The reader process: reads until the stop file appears, then reports and exits 0, or exits
/// 1 on the first failed check.
fn reader_child(dir: &Path) -> ! {
    let second_writer = std::env::var(CHILD_WRITER_ENV).is_ok_and(|v| v == "1");
    let stop_file = PathBuf::from(std::env::var_os(CHILD_STOP_ENV).expect("no stop file"));
    let views = tempfile::tempdir().expect("cannot create the child's views directory");
    let say = |line: String| {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(line.as_bytes()).and_then(|()| out.flush());
    };
    // The writer holds the log and is not rotating yet (it waits for this child's first
    // line): a second writer must be refused.
    if let Err(failure) = check_second_writer_refused(dir) {
        say(format!("\n@@failed: {failure}\n"));
        std::process::exit(1);
    }
    say("\n@@ready\n".to_string());
    let started = Instant::now();
    let stop = || stop_file.exists() || started.elapsed() > CHILD_LIFETIME;
    match read_loop(dir, views.path(), second_writer, &stop) {
        Ok(stats) => {
            say(format!(
                "@@stats loops={} events={} refusals={}\n",
                stats.loops, stats.most_events, stats.refusals
            ));
            std::process::exit(0);
        }
        Err(failure) => {
            say(format!("@@failed: {failure}\n"));
            std::process::exit(1);
        }
    }
}

/// Kills the child when dropped, so a failing test leaves no process behind.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The writer side of a scenario: starts a reader process and a reader thread, appends and
/// rotates for `WRITE_TIME` (reopening over a torn tail every `reopen_every` batches, if set),
/// then stops the readers and checks how they ended. The readers try a second writer each
/// time they read, unless the writer reopens (and so lets go of its lock now and then).
fn run_scenario(test_name: &str, reopen_every: Option<u64>) {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        reader_child(Path::new(&dir));
    }
    let second_writer = reopen_every.is_none();
    let tmp = test_dir();
    let dir = tmp.path().join("log");
    let stop_file = tmp.path().join("stop");
    let open = |dir: &Path| {
        EventLog::builder(dir)
            .max_log_size(MAX_LOG_SIZE)
            .view::<Order>("order", order)
            .view_ref::<Order>("order-ref", order_ref)
            .open()
    };
    // Another test of this binary may be starting its reader process: until that child calls
    // `exec`, it holds copies of every file this process has open, the writer's locked
    // `app.jsonl` among them, so the lock outlives the writer that let it go for a moment. A
    // writer reopening then is refused; it tries again until the child lets go.
    let reopen = |dir: &Path| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match open(dir) {
                Ok(log) => return log,
                Err(e) if e.kind() == ErrorKind::AlreadyExists && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) => panic!("the writer cannot reopen the log: {e}"),
            }
        }
    };
    let mut log = open(&dir).expect("the writer cannot open the log");
    let mut next = 0u64;
    let batch: Vec<Event> = (0..20).map(event).collect();
    log.append_batch(&batch).expect("append failed");
    next += 20;

    let spawned = Command::new(std::env::current_exe().expect("no current executable"))
        .args([
            test_name,
            "--exact",
            "--nocapture",
            "--include-ignored",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &dir)
        .env(CHILD_WRITER_ENV, if second_writer { "1" } else { "0" })
        .env(CHILD_STOP_ENV, &stop_file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start the reader process");
    let mut child = Reaped(spawned);
    let stdout = child.0.stdout.take().expect("stdout is piped");
    let mut stderr = child.0.stderr.take().expect("stderr is piped");
    let (lines_tx, lines_rx) = mpsc::channel();
    let collector = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(at) = line.find("@@") {
                let _ = lines_tx.send(line[at + 2..].to_string());
            }
        }
    });
    let stderr_collector = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    match lines_rx.recv_timeout(Duration::from_secs(30)) {
        Ok(line) if line == "ready" => {}
        other => panic!("the reader process did not start: {other:?}"),
    }

    let stop = AtomicBool::new(false);
    let thread_loops = AtomicU64::new(0);
    let thread_views = test_dir();
    let (thread_result, rotations, log) = std::thread::scope(|scope| {
        // The scope joins the reader thread even when the writer below panics: without this,
        // that reader would read until killed.
        let _stop = StopOnDrop(&stop);
        let reader_thread = scope.spawn(|| {
            read_loop(&dir, thread_views.path(), second_writer, &|| {
                thread_loops.fetch_add(1, Ordering::Relaxed);
                stop.load(Ordering::Relaxed)
            })
        });
        let mut rotations = 0u64;
        let mut last_size = log.active_log_size().expect("no active log");
        let started = Instant::now();
        let mut batches = 0u64;
        let enough = |rotations: u64| {
            let elapsed = started.elapsed();
            elapsed > MAX_WRITE_TIME
                || reader_thread.is_finished()
                || elapsed > WRITE_TIME
                    && rotations >= MIN_ROTATIONS
                    && thread_loops.load(Ordering::Relaxed) > MIN_LOOPS
        };
        while !enough(rotations) {
            batches += 1;
            let n = 1 + mix(next) % 8;
            let batch: Vec<Event> = (next..next + n).map(event).collect();
            if n == 1 {
                log.append(&batch[0]).expect("append failed");
            } else {
                log.append_batch(&batch).expect("append_batch failed");
            }
            next += n;
            if batches.is_multiple_of(8) {
                log.refresh_all().expect("refresh_all failed");
            }
            if let Some(every) = reopen_every
                && batches.is_multiple_of(every)
            {
                // A crash mid-append, as the next writer finds it: it cuts the torn tail in
                // place while the readers have the committed part mapped.
                drop(log);
                let mut file = fs::OpenOptions::new()
                    .append(true)
                    .open(dir.join("app.jsonl"))
                    .expect("cannot open the active log");
                file.write_all(br#"{"type":"tick","data":{"seq":"#)
                    .expect("cannot write a torn line");
                drop(file);
                log = reopen(&dir);
            }
            let size = log.active_log_size().expect("no active log");
            rotations += u64::from(size < last_size);
            last_size = size;
        }
        stop.store(true, Ordering::Relaxed);
        (reader_thread.join(), rotations, log)
    });
    fs::write(&stop_file, b"").expect("cannot write the stop file");

    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child
            .0
            .try_wait()
            .expect("cannot wait for the reader process")
        {
            break status;
        }
        assert!(Instant::now() < deadline, "the reader process did not stop");
        std::thread::sleep(Duration::from_millis(10));
    };
    collector.join().expect("the stdout reader panicked");
    let child_stderr = stderr_collector.join().expect("the stderr reader panicked");
    let lines: Vec<String> = lines_rx.try_iter().collect();

    let thread_stats = match thread_result {
        Ok(Ok(stats)) => stats,
        Ok(Err(failure)) => panic!("the reader thread failed: {failure}"),
        Err(_) => panic!("the reader thread panicked"),
    };
    assert!(
        status.success(),
        "the reader process ended with {status} (a signal means it crashed): {lines:?}\n\
         {child_stderr}"
    );
    let child_stats = lines
        .iter()
        .find_map(|line| line.strip_prefix("stats "))
        .unwrap_or_else(|| panic!("the reader process gave no stats: {lines:?}"));
    eprintln!(
        "{test_name}: {next} events, {rotations} rotations; thread: {thread_stats:?}; \
         process: {child_stats}"
    );
    let child_loops: u64 = child_stats
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("loops="))
        .and_then(|n| n.parse().ok())
        .expect("the reader process reports its loops");
    assert!(child_loops >= 1, "the reader process never read");
    assert!(
        rotations >= MIN_ROTATIONS,
        "only {rotations} rotations: nothing was tested"
    );
    assert!(
        thread_stats.loops >= MIN_LOOPS,
        "the reader thread barely read"
    );
    // In this process too, while the writer still holds the log.
    check_second_writer_refused(&dir).unwrap_or_else(|failure| panic!("{failure}"));
    drop(log);

    // The history is whole once the writer is done.
    let history = read_all(&EventReader::new(&dir));
    assert_eq!(history.len() as u64, next, "events were lost");
    assert!(
        history
            .iter()
            .enumerate()
            .all(|(i, e)| seq_of(e) == Some(i as u64))
    );
}

#[test]
fn readers_in_another_process_and_a_thread_see_consistent_prefixes_while_the_writer_rotates() {
    run_scenario(
        "readers_in_another_process_and_a_thread_see_consistent_prefixes_while_the_writer_rotates",
        None,
    );
}

#[test]
fn a_writer_reopening_over_a_torn_tail_does_not_disturb_live_readers() {
    run_scenario(
        "a_writer_reopening_over_a_torn_tail_does_not_disturb_live_readers",
        Some(10),
    );
}

/// The value of `data.n` of each event of `events` (the fixtures of `common`).
fn numbers(events: impl IntoIterator<Item = Event>) -> Vec<u64> {
    events
        .into_iter()
        .map(|e| e.data["n"].as_u64().expect("a numbered event"))
        .collect()
}

/// `read_full` called before a rotation and iterated after it reads each event once.
#[test]
fn read_full_started_before_a_rotation_yields_each_event_once() {
    let tmp = test_dir();
    let mut log = EventLog::open(tmp.path()).unwrap();
    append_all(&mut log, &numbered_events(0, 3));
    log.rotate().unwrap();
    append_all(&mut log, &numbered_events(3, 3));

    let history = log.reader().read_full().unwrap();
    // The writer (here, or in another process) rotates while the reader iterates.
    log.rotate().unwrap();
    let read: Vec<Event> = history.map(|item| item.unwrap().0).collect();

    // A history that read the archive lazily and had mapped the active log when called gave
    // [0, 1, 2, 3, 4, 5, 3, 4, 5].
    assert_eq!(numbers(read), [0, 1, 2, 3, 4, 5]);
}

/// The log a rotating reducer rotates; see the test below.
static ROTATE_ME: Mutex<Option<EventLog>> = Mutex::new(None);

/// Counts events; on event 2 (the last archived one) it lets any read-ahead of the archive
/// finish, then rotates the log. Reducers must be pure: this one only places a writer's
/// rotation, which another process could make at that very moment, at a precise point of a
/// replay.
fn count_then_rotate(n: u64, event: &Event) -> u64 {
    if event.data["n"] == 2 {
        std::thread::sleep(Duration::from_millis(50));
        if let Some(log) = ROTATE_ME.lock().unwrap().as_mut() {
            log.rotate().unwrap();
        }
    }
    n + 1
}

/// A full replay during which the writer rotates counts every event once, and the snapshot
/// it saves is right.
#[test]
fn a_rebuild_racing_a_rotation_counts_every_event() {
    let tmp = test_dir();
    let mut log = EventLog::open(tmp.path()).unwrap();
    append_all(&mut log, &numbered_events(0, 3));
    log.rotate().unwrap();
    append_all(&mut log, &numbered_events(3, 3));
    let reader = log.reader();
    *ROTATE_ME.lock().unwrap() = Some(log);

    let views = test_dir();
    let rebuilt = *View::new("count", count_then_rotate, views.path())
        .rebuild(&reader)
        .unwrap();
    let history = read_all(&reader);
    ROTATE_ME.lock().unwrap().take();
    assert_eq!(history.len(), 6);
    // A replay that ran before the rotation counts 6; so does one that ran after. One that
    // folded the archive, then opened the active log the rotation had replaced, counted 3.
    assert_eq!(
        rebuilt, 6,
        "the rebuild lost the events the rotation archived"
    );
    // The snapshot it saved says "the whole archive, offset 0", so the loss outlives it.
    let reloaded = *View::new("count", counter_reducer, views.path())
        .refresh(&reader)
        .unwrap();
    assert_eq!(reloaded, 6, "the saved snapshot keeps the loss");
}

/// A view refreshed by a reader, not registered with the writer, across a rotation (this
/// skipped events 3, 4 and 5 before views noticed rotations they were not reset by).
#[test]
fn a_view_refreshed_by_a_reader_across_a_rotation_counts_every_event() {
    let tmp = test_dir();
    let mut log = EventLog::open(tmp.path()).unwrap();
    append_all(&mut log, &numbered_events(0, 3));
    let views = test_dir();
    let reader = EventReader::new(tmp.path());
    // A view outside the writer's registry: in a reader process, or in this one.
    let mut view = View::new("trace", trace_reducer, views.path());
    assert_eq!(view.refresh(&reader).unwrap().len(), 3);

    log.rotate().unwrap();
    append_all(&mut log, &numbered_events(3, 6));
    let truth = read_all(&reader);
    assert_eq!(truth.len(), 9);
    let expected: Vec<String> = truth
        .iter()
        .map(|e| format!("{}|{}", e.event_type, e.data))
        .collect();

    // The lines here have equal lengths, so the old offset falls on a line start of the new
    // active log: a view that kept it would skip events 3, 4 and 5 without an error.
    let refreshed = view.refresh(&reader).unwrap().clone();
    assert_eq!(refreshed, expected, "the reader's view after the rotation");
    let reloaded = View::new("trace", trace_reducer, views.path())
        .refresh(&reader)
        .unwrap()
        .clone();
    assert_eq!(reloaded, expected, "the snapshot that view saved");
}

/// Sets the flag when dropped, so that helper threads stop even if the test panics.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A rotation renames a new `app.jsonl` over the old one, then lets go of the old one's lock.
/// A second writer that opened the old file just before the rename and locks it just after
/// must still be refused (it used to win that lock, then run recovery beside the first
/// writer, removing the `app.jsonl.next` the first one was about to rename).
#[test]
fn a_second_writer_is_refused_even_while_the_first_rotates() {
    let tmp = test_dir();
    let dir = tmp.path();
    let mut log = EventLog::open(dir).unwrap();
    let stop = AtomicBool::new(false);
    let (attempts, second_in, first_failed) = std::thread::scope(|scope| {
        let _stop = StopOnDrop(&stop);
        // Busy threads, so that the second writer is now and then preempted between opening
        // `app.jsonl` and locking it, as happens on a loaded machine.
        for _ in 0..2 {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            });
        }
        // `Some(how)` when the second writer got past the lock.
        let second = scope.spawn(|| {
            let mut attempts = 0u64;
            while !stop.load(Ordering::Relaxed) {
                attempts += 1;
                match EventWriter::open(dir) {
                    Ok(_) => return (attempts, Some("it opened".to_string())),
                    Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                    // Only a writer that holds the lock gets to fail after it.
                    Err(e) => return (attempts, Some(format!("its recovery failed: {e}"))),
                }
            }
            (attempts, None)
        });
        let started = Instant::now();
        let mut first_failed = None;
        let mut n = 0;
        while started.elapsed() < Duration::from_secs(3) && !second.is_finished() {
            if let Err(e) = log.append(&event(n)).and_then(|_| log.rotate()) {
                first_failed = Some(e.to_string());
                break;
            }
            n += 1;
        }
        stop.store(true, Ordering::Relaxed);
        let (attempts, second_in) = second.join().unwrap();
        (attempts, second_in, first_failed)
    });
    if let Some(how) = second_in {
        panic!(
            "a second writer got the lock during a rotation (attempt {attempts}): {how}; the \
             first writer then {}",
            first_failed.map_or("went on".to_string(), |e| format!("failed: {e}"))
        );
    }
    assert_eq!(first_failed, None, "the first writer failed");
}

/// A view that notices a rotation while `app.jsonl` is still the archived copy (the rotation
/// appended its frame but has not yet renamed the new log into place, or crashed there) does
/// not fold that copy again.
#[test]
fn a_view_refreshed_while_a_rotation_is_half_done_counts_every_event_once() {
    let tmp = test_dir();
    let dir = tmp.path();
    let mut log = EventLog::open(dir).unwrap();
    append_all(&mut log, &numbered_events(0, 3));
    let reader = EventReader::new(dir);
    let views = test_dir();
    let mut view = View::new("trace", trace_reducer, views.path());
    assert_eq!(view.refresh(&reader).unwrap().len(), 3);

    // The directory as a rotation leaves it between appending its frame to the archive and
    // renaming the new active log into place (step 4 done, step 5 not): the record and the
    // frame are there, and `app.jsonl` still holds the archived events.
    let archived = fs::read(dir.join("app.jsonl")).unwrap();
    log.rotate().unwrap();
    drop(log);
    fs::write(dir.join("app.jsonl"), &archived).unwrap();
    assert_eq!(
        read_all(&reader).len(),
        3,
        "read_full counts each event once"
    );

    // A view that went on at offset 0 of the archived copy counted 6: events 0, 1, 2 twice.
    assert_eq!(
        view.refresh(&reader).unwrap().len(),
        3,
        "the view folded the archived copy of the active log again"
    );
}
