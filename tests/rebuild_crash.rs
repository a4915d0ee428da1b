//! Real crashes during a background rebuild: a child process appends, refreshes and rebuilds a
//! view in the background (`EventLog::start_rebuild`), and is killed with `SIGKILL` at random
//! moments, round after round, on the same directory.
//!
//! The child is this test binary run again (`EVENTFOLD_REBUILD_CHILD=<dir>`, this test
//! selected with `--exact`). It opens the log with the view `v` of version `OLD` (the reducer
//! of that version), starts the rebuild to version `TARGET` (another reducer) with its shadow
//! saved at every pause, then appends a few numbered events at a time (event `n` carries
//! `data.seq == n`) and refreshes, printing the rebuild's progress after each refresh. The
//! parent kills it once the progress passes a random fraction (or a few milliseconds after a
//! swap, or after its spawn), so that kills land before, during and after shadow saves, at the
//! swap and after it. Then it checks what the kill left:
//!
//! - the history is events `0, 1, 2, ...`;
//! - the view's snapshot has the old version or the target one, and a view of that version
//!   loaded from it equals the plain fold of the history with that version's reducer: the old
//!   view serves, whole, until the swap has replaced it;
//! - a shadow of the target version, when there is one, holds exactly the target reducer's
//!   fold of the events before its position, and is resumable;
//! - in some rounds the parent resumes the rebuild itself (`start_rebuild` with the same
//!   version, then `finish_rebuild`): it resumes from that shadow and ends with the target
//!   reducer's fold of the whole history; in others it registers the target version, and
//!   opening the log takes the shadow or removes it; in the rest the next child resumes it.
//!
//! Once the view has the target version, the next rounds rebuild it to a further one. Set
//! `EVENTFOLD_REBUILD_CRASH_SEED` to replay a run. Power cuts during a rebuild are covered by
//! the crash images of the library's fault-injection tests.
#![cfg(unix)]

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use eventfold::{Event, EventLog, EventReader, EventWriter, SnapshotPolicy, View, ViewConfig};
use serde::{Deserialize, Serialize};
use serde_json::json;

const CHILD_ENV: &str = "EVENTFOLD_REBUILD_CHILD";
const CHILD_ARGS_ENV: &str = "EVENTFOLD_REBUILD_CHILD_ARGS";
const SEED_ENV: &str = "EVENTFOLD_REBUILD_CRASH_SEED";
/// The name of the test below, which the child runs.
const TEST_NAME: &str = "sigkill_during_a_background_rebuild_leaves_the_old_view_serving";
/// Events in the log before the first child: enough for several pauses (every 8,192 events)
/// of the background fold.
const INITIAL: u64 = 40_000;
/// Small enough that the log rotates every few thousand events, during the rebuilds too.
const MAX_LOG_SIZE: u64 = 256 * 1024;
const ROUNDS: usize = 16;
/// Rounds stop early once this much time has gone by (after `MIN_ROUNDS`).
const TIME_BUDGET: Duration = Duration::from_secs(12);
const MIN_ROUNDS: usize = 8;
/// A child that is never killed stops by itself after this long.
const CHILD_LIFETIME: Duration = Duration::from_secs(60);

/// splitmix64: a tiny deterministic PRNG, so a failing run can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn event(seq: u64) -> Event {
    let pad = "x".repeat((seq % 7) as usize * 5);
    Event::new("e", json!({ "seq": seq, "pad": pad }))
}

/// The state of every version: the events seen, where the sequence should be next and how
/// many times it was not there (so a lost, doubled or reordered event shows), and a sum whose
/// weights depend on the version's reducer.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Digest {
    events: u64,
    next: u64,
    breaks: u64,
    sum: u64,
}

fn step(d: Digest, e: &Event, weight: fn(u64) -> u64) -> Digest {
    let seq = e.data["seq"].as_u64().unwrap_or(u64::MAX);
    Digest {
        events: d.events + 1,
        next: seq.wrapping_add(1),
        breaks: d.breaks + u64::from(seq != d.next),
        sum: d.sum.wrapping_add(weight(seq)),
    }
}

fn plain(d: Digest, e: &Event) -> Digest {
    step(d, e, |s| s)
}

fn squares(d: Digest, e: &Event) -> Digest {
    step(d, e, |s| s.wrapping_mul(s))
}

/// Each version has its reducer: a rebuild to the next version changes the fold.
fn reducer_for(version: u32) -> fn(Digest, &Event) -> Digest {
    if version.is_multiple_of(2) {
        plain
    } else {
        squares
    }
}

fn fold(events: &[Event], version: u32) -> Digest {
    events.iter().fold(Digest::default(), reducer_for(version))
}

fn open(dir: &Path, version: u32) -> std::io::Result<EventLog> {
    EventLog::builder(dir)
        .max_log_size(MAX_LOG_SIZE)
        .view_with::<Digest>(
            "v",
            reducer_for(version),
            ViewConfig::new().version(version),
        )
        .open()
}

/// The rebuild to `target`, its shadow saved at every pause of the fold so that kills find one.
fn rebuild_config(target: u32) -> ViewConfig {
    ViewConfig::new()
        .version(target)
        .rebuild_save_every(Duration::ZERO)
}

/// Prints a line for the parent (libtest's own lines are told apart by the prefix).
fn say(line: &str) {
    println!("@@{line}");
}

fn child(dir: &Path, old: u32, target: u32, seed: u64) -> ! {
    let result = (|| -> std::io::Result<()> {
        let mut rng = Rng(seed);
        let mut log = open(dir, old)?;
        let handle =
            log.start_rebuild::<Digest>("v", reducer_for(target), rebuild_config(target))?;
        log.refresh_all()?;
        let mut next = log.view::<Digest>("v")?.events;
        say("start");
        let started = Instant::now();
        while started.elapsed() < CHILD_LIFETIME {
            let batch: Vec<Event> = (next..next + 1 + rng.below(3)).map(event).collect();
            log.append_batch(&batch)?;
            next += batch.len() as u64;
            log.refresh_all()?;
            let progress = handle.progress();
            let swapped = handle.report().is_some();
            say(&format!(
                "p {} {} {}",
                progress.done,
                progress.total,
                u8::from(swapped)
            ));
        }
        Ok(())
    })();
    match result {
        Ok(()) => say("lived too long"),
        Err(e) => say(&format!("error {e}")),
    }
    std::process::exit(0)
}

#[derive(Default, Debug)]
struct Stats {
    rounds: usize,
    /// Kills after which a shadow of the target version was there.
    shadows: usize,
    /// Kills after which the view had been swapped.
    swaps: usize,
    /// Rebuilds the parent resumed from a shadow, and the events they took from it.
    resumed: usize,
    resumed_events: u64,
    /// Opens with the target version that found a shadow of it.
    registered_with_shadow: usize,
}

#[test]
fn sigkill_during_a_background_rebuild_leaves_the_old_view_serving() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        let args = std::env::var(CHILD_ARGS_ENV).unwrap_or_default();
        let args: Vec<u64> = args.split(',').filter_map(|a| a.parse().ok()).collect();
        let [old, target, seed] = args[..] else {
            panic!("{CHILD_ARGS_ENV} must be OLD,TARGET,SEED");
        };
        child(Path::new(&dir), old as u32, target as u32, seed);
    }
    let seed = std::env::var(SEED_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0xB1_6E_E7);
    eprintln!("rebuild_crash: seed {seed} (set {SEED_ENV} to replay)");
    let mut rng = Rng(seed);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let (mut old, mut target) = (0u32, 1u32);
    {
        let mut log = open(&dir, old).unwrap();
        let events: Vec<Event> = (0..INITIAL).map(event).collect();
        for chunk in events.chunks(1000) {
            log.append_batch(chunk).unwrap();
        }
        log.refresh_all().unwrap();
    }
    let started = Instant::now();
    let mut stats = Stats::default();
    for round in 0..ROUNDS {
        if started.elapsed() > TIME_BUDGET && round >= MIN_ROUNDS {
            break;
        }
        let what = format!("round {round} (seed {seed}, version {old} to {target})");
        let kill = match rng.below(8) {
            0 => Kill::AfterSpawn(Duration::from_millis(rng.below(40))),
            _ => Kill::AtProgress(rng.below(1200) as f64 / 1000.0),
        };
        run_child(&dir, tmp.path(), (old, target, rng.next()), kill, &what);
        stats.rounds += 1;
        let what = format!("{what}, killed {kill:?}");

        // Recovery, as the next open does, before the files are looked at.
        drop(EventWriter::open(&dir).unwrap());
        let history = history(&dir);
        for (i, e) in history.iter().enumerate() {
            assert_eq!(
                e.data["seq"], i as u64,
                "{what}: the history is out of order"
            );
        }
        let serving = check_view(&dir, &history, (old, target), &what);
        let shadow = check_shadow(&dir, &history, (old, target), &what);
        if serving == target {
            stats.swaps += 1;
            (old, target) = (target, target + 1);
            continue;
        }
        let Some(shadow_events) = shadow else {
            continue;
        };
        stats.shadows += 1;
        match round % 3 {
            // The parent resumes the rebuild.
            1 => {
                let mut log = open(&dir, old).unwrap();
                let handle = log
                    .start_rebuild::<Digest>("v", reducer_for(target), rebuild_config(target))
                    .unwrap();
                let report = log.finish_rebuild("v").unwrap();
                assert_eq!(report.resumed, shadow_events, "{what}: {report}");
                assert_eq!(
                    report.resumed + report.background + report.at_swap,
                    history.len() as u64,
                    "{what}: {report}"
                );
                assert!(handle.is_caught_up());
                assert_eq!(
                    *log.view::<Digest>("v").unwrap(),
                    fold(&history, target),
                    "{what}: the resumed rebuild"
                );
                drop(log);
                assert!(
                    !shadow_path(&dir).exists(),
                    "{what}: the swap left the shadow"
                );
                stats.resumed += 1;
                stats.resumed_events += shadow_events;
                (old, target) = (target, target + 1);
            }
            // The program registers the target version: opening takes the shadow as the
            // snapshot, or removes it.
            2 => {
                let mut log = open(&dir, target).unwrap();
                assert!(
                    !shadow_path(&dir).exists(),
                    "{what}: opening with version {target} left its shadow"
                );
                log.refresh_all().unwrap();
                assert_eq!(
                    *log.view::<Digest>("v").unwrap(),
                    fold(&history, target),
                    "{what}: the view registered with the target version"
                );
                stats.registered_with_shadow += 1;
                (old, target) = (target, target + 1);
            }
            // The next child resumes it.
            _ => {}
        }
    }
    eprintln!(
        "rebuild_crash: {stats:?} in {:?}, {} events",
        started.elapsed(),
        history(&dir).len()
    );
    assert!(
        stats.shadows > 0,
        "no kill found a shadow: the test did not exercise resuming"
    );
    assert!(
        stats.resumed > 0 && stats.resumed_events > 0,
        "the parent never resumed from a shadow: {stats:?}"
    );
    assert!(
        dir.join("archive.jsonl.zst").exists(),
        "no rotation ever happened"
    );
}

fn shadow_path(dir: &Path) -> std::path::PathBuf {
    dir.join("views").join("v.rebuild.json")
}

/// The whole history.
fn history(dir: &Path) -> Vec<Event> {
    EventReader::new(dir)
        .read_full()
        .expect("read_full failed")
        .map(|item| item.map(|(event, _hash)| event))
        .collect::<Result<_, _>>()
        .expect("read_full yielded an error")
}

/// The view's snapshot has the old version or the target one, and the view of that version
/// loaded from it folds to the plain fold of the history. Returns the version.
fn check_view(dir: &Path, history: &[Event], (old, target): (u32, u32), what: &str) -> u32 {
    let views = dir.join("views");
    let text = fs::read(views.join("v.snapshot.json"))
        .unwrap_or_else(|e| panic!("{what}: the view's snapshot is gone: {e}"));
    let snapshot: serde_json::Value = serde_json::from_slice(&text)
        .unwrap_or_else(|e| panic!("{what}: the view's snapshot does not parse: {e}"));
    let version = snapshot["version"].as_u64().unwrap_or(0) as u32;
    assert!(
        version == old || version == target,
        "{what}: the snapshot has version {version}"
    );
    // Loaded read-only, and never saved: the check changes nothing on disk.
    let config = ViewConfig::new()
        .version(version)
        .policy(SnapshotPolicy::manual());
    let mut view = View::new("v", reducer_for(version), &views).with_config(config);
    let reader = EventReader::new(dir).read_only();
    let state = view.refresh(&reader).unwrap().clone();
    assert_eq!(
        state,
        fold(history, version),
        "{what}: the view of version {version} serves a wrong state"
    );
    version
}

/// A shadow, when there is one: of the old version (one a swap left, which the next open
/// removes) or of the target one, whose state is the target reducer's fold of the events
/// before its position. Returns the events of a target shadow that a rebuild resumes from.
fn check_shadow(
    dir: &Path,
    history: &[Event],
    (old, target): (u32, u32),
    what: &str,
) -> Option<u64> {
    let text = fs::read(shadow_path(dir)).ok()?;
    let shadow: serde_json::Value = serde_json::from_slice(&text).unwrap_or_else(|e| {
        panic!("{what}: the shadow does not parse (it is renamed into place): {e}")
    });
    let version = shadow["version"].as_u64().unwrap() as u32;
    if version == old {
        return None;
    }
    assert_eq!(version, target, "{what}: a shadow of version {version}");
    let events = shadow["events"].as_u64().unwrap();
    assert!(
        events > 0 && events <= history.len() as u64,
        "{what}: a shadow of {events} events"
    );
    let state: Digest = serde_json::from_value(shadow["state"].clone()).unwrap();
    assert_eq!(
        state,
        fold(&history[..events as usize], target),
        "{what}: the shadow's state is not the fold of its {events} events"
    );
    let info = EventReader::new(dir).rebuilds().unwrap();
    assert!(
        info.len() == 1 && info[0].resumable && info[0].events == events,
        "{what}: {info:?}"
    );
    Some(events)
}

#[derive(Debug, Clone, Copy)]
enum Kill {
    /// This long after the spawn: in the open, the start of the rebuild, or just after.
    AfterSpawn(Duration),
    /// Once the rebuild's progress passes this fraction (a fraction past 1: a few
    /// milliseconds after the swap).
    AtProgress(f64),
}

/// Kills the child when dropped, so a failing parent leaves no process behind.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run_child(
    dir: &Path,
    scratch: &Path,
    (old, target, seed): (u32, u32, u64),
    kill: Kill,
    what: &str,
) {
    let stderr_path = scratch.join("child.stderr");
    let stderr = fs::File::create(&stderr_path).expect("cannot create the child's stderr file");
    let spawned = Command::new(std::env::current_exe().expect("no current executable"))
        .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .env(CHILD_ARGS_ENV, format!("{old},{target},{seed}"))
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
            if let Some(at) = line.find("@@") {
                let _ = lines_tx.send(line[at + 2..].to_string());
            }
        }
    });
    let failed = |line: &str| -> ! {
        panic!(
            "{what}: the child failed: {line}; stderr: {}",
            fs::read_to_string(&stderr_path).unwrap_or_default()
        )
    };
    match kill {
        Kill::AfterSpawn(delay) => std::thread::sleep(delay),
        Kill::AtProgress(fraction) => {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let line = match lines_rx
                    .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                {
                    Ok(line) => line,
                    Err(_) => failed("no progress for 30 s"),
                };
                if line == "start" {
                    continue;
                }
                let Some(p) = line.strip_prefix("p ") else {
                    failed(&line)
                };
                let p: Vec<u64> = p.split(' ').map(|n| n.parse().unwrap()).collect();
                let (done, total, swapped) = (p[0], p[1].max(1), p[2] == 1);
                if swapped {
                    std::thread::sleep(Duration::from_millis(
                        ((fraction - 1.0).max(0.0) * 100.0) as u64,
                    ));
                    break;
                }
                if fraction < 1.0 && done as f64 / total as f64 >= fraction {
                    break;
                }
            }
        }
    }
    child.0.kill().expect("cannot kill the child");
    let status = child.0.wait().expect("cannot wait for the child");
    collector.join().expect("the stdout reader panicked");
    for line in lines_rx.try_iter() {
        if line != "start" && !line.starts_with("p ") {
            failed(&line);
        }
    }
    assert!(
        killed_by_the_parent(status),
        "{what}: the child ended by itself ({status}): {}",
        fs::read_to_string(&stderr_path).unwrap_or_default()
    );
}

fn killed_by_the_parent(status: ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal() == Some(9)
}
