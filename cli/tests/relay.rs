//! `eventfold relay` as a process, against a real `nats-server` with JetStream: 100k events
//! appended and rotated while the relay is SIGKILLed at random moments and restarted; the
//! stream then holds each event exactly once, in order, and a fold of it equals the local view.

#![cfg(feature = "relay")]

use eventfold::{Event, EventLog};
use eventfold_relay::{ResumePoint, Stats};
use eventfold_relay_testkit::{NatsServer, local_history, read_back};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// An order-sensitive state: counts by type and a running digest of every event in turn, so
/// that a missing, repeated or swapped event changes it.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Tally {
    events: u64,
    by_type: BTreeMap<String, u64>,
    digest: u64,
}

fn tally(mut state: Tally, event: &Event) -> Tally {
    state.events += 1;
    *state.by_type.entry(event.event_type.clone()).or_default() += 1;
    let n = event.data["n"].as_u64().unwrap_or(u64::MAX);
    state.digest = state
        .digest
        .wrapping_mul(1_000_003)
        .wrapping_add(n ^ event.ts);
    state
}

fn event(n: u64) -> Event {
    let kind = ["opened", "moved", "closed"][(n % 3) as usize];
    Event::new(
        kind,
        serde_json::json!({ "n": n, "note": format!("event {n}") }),
    )
}

/// A small deterministic generator for the kill moments (xorshift).
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn relay(dir: &Path, server: &str, stream: &str, resume: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_eventfold"));
    command
        .arg("-C")
        .arg(dir)
        .args(["--json", "relay", "--server", server, "--stream", stream])
        .arg("--resume-file")
        .arg(resume)
        .stdin(Stdio::null());
    command
}

/// Runs `eventfold relay --until-caught-up` and returns its stats.
fn relay_until_caught_up(dir: &Path, server: &str, stream: &str, resume: &Path) -> Stats {
    let output = relay(dir, server, stream, resume)
        .arg("--until-caught-up")
        .stderr(Stdio::inherit())
        .output()
        .expect("cannot run eventfold relay");
    assert!(
        output.status.success(),
        "the relay failed: {}",
        output.status
    );
    let line = String::from_utf8(output.stdout).unwrap();
    serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{e}: {line}"))
}

#[test]
fn sigkilled_at_random_moments_the_relay_publishes_every_event_exactly_once() {
    const EVENTS: u64 = 100_000;
    const KILLS: usize = 10;
    const STREAM: &str = "CRASHES";
    let Some(nats) = NatsServer::start_or_skip(
        "sigkilled_at_random_moments_the_relay_publishes_every_event_exactly_once",
    ) else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let resume = outside.path().join("relay.json");

    // The writer appends while the relay is started and killed: batches of 250 with short
    // pauses, rotating into the archive every 2 MB or so.
    let mut log = EventLog::builder(data.path())
        .max_log_size(2_000_000)
        .view::<Tally>("tally", tally)
        .open()
        .unwrap();
    let writer = std::thread::spawn(move || {
        for batch in 0..EVENTS / 250 {
            let events: Vec<Event> = (batch * 250..(batch + 1) * 250).map(event).collect();
            log.append_batch(&events).unwrap();
            std::thread::sleep(Duration::from_millis(4));
        }
        log
    });

    let seed = std::env::var("RELAY_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_1234_u64);
    println!("kill moments from seed {seed} (set RELAY_KILL_SEED to repeat another)");
    let mut rng = Rng(seed);
    let mut progress = Vec::new();
    for _ in 0..KILLS {
        let mut child = relay(data.path(), &nats.url, STREAM, &resume)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start eventfold relay");
        std::thread::sleep(Duration::from_millis(20 + rng.below(400)));
        child.kill().expect("SIGKILL"); // Child::kill sends SIGKILL
        child.wait().unwrap();
        progress.push(ResumePoint::load(&resume).unwrap().map(|p| p.index));
    }
    println!("resume file after each kill (index of the last acknowledged event): {progress:?}");
    let mut log = writer.join().unwrap();
    assert!(log.archive_path().exists(), "the log rotated meanwhile");

    let stats = relay_until_caught_up(data.path(), &nats.url, STREAM, &resume);
    println!("final run: {stats:?}");
    let history = local_history(data.path());
    assert_eq!(history.len() as u64, EVENTS);
    let last = history.last().unwrap();
    let recorded = ResumePoint::load(&resume).unwrap().unwrap();
    assert_eq!(
        (recorded.position, recorded.index),
        (last.position, last.index)
    );
    assert_eq!(stats.last, Some(recorded.clone()));

    // The stream, read back: each event once, in the log's order, nothing missing.
    let relayed = read_back(&nats.url, STREAM);
    assert_eq!(relayed.len() as u64, EVENTS, "every event exactly once");
    for (i, (got, want)) in relayed.iter().zip(&history).enumerate() {
        assert_eq!(got.sequence, i as u64 + 1, "stream sequences have no gap");
        assert_eq!(got.position, want.position, "message {i}");
        assert_eq!(got.index, want.index, "message {i}");
        assert_eq!(got.event, want.event, "message {i}");
    }
    assert!(
        relayed.windows(2).all(|w| w[0].position < w[1].position),
        "positions strictly increase"
    );
    assert_eq!(recorded.sequence, EVENTS);

    // A consumer folding the stream with the view's reducer reaches the view's state.
    let folded = relayed
        .iter()
        .fold(Tally::default(), |s, r| tally(s, &r.event));
    log.refresh_all().unwrap();
    let view: &Tally = log.view("tally").unwrap();
    assert_eq!(&folded, view);
    assert_eq!(folded.events, EVENTS);

    // Run again with nothing new: it publishes nothing, and says so in text too.
    let again = relay_until_caught_up(data.path(), &nats.url, STREAM, &resume);
    assert_eq!((again.published, again.duplicates), (0, 0));
    assert_eq!(read_back(&nats.url, STREAM).len() as u64, EVENTS);
    let text = Command::new(env!("CARGO_BIN_EXE_eventfold"))
        .arg("-C")
        .arg(data.path())
        .args([
            "relay",
            "--until-caught-up",
            "--server",
            &nats.url,
            "--stream",
            STREAM,
        ])
        .arg("--resume-file")
        .arg(&resume)
        .output()
        .unwrap();
    assert!(text.status.success());
    let stdout = String::from_utf8(text.stdout).unwrap();
    assert!(
        stdout.starts_with("published 0 events (0 duplicates dropped, 0 resyncs); last acknowledged: event 99999 at position"),
        "{stdout}"
    );
}
