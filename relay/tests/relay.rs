//! The relay against a real `nats-server` with JetStream: 100k events in order while the relay
//! is SIGKILLed at random moments, each event exactly once in the stream, a consumer's fold
//! equal to the local view; refusals of a stream that is not this log's.

mod common;

use common::NatsServer;
use eventfold::{Event, EventLog, Position};
use eventfold_relay::{Config, RelayedEvent, ResumePoint, Stats};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

fn relay_command(config: &Config) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_eventfold-relay"));
    command
        .args([
            "--server",
            &config.server,
            "--stream",
            &config.stream,
            "--data",
        ])
        .arg(&config.data_dir)
        .arg("--resume-file")
        .arg(&config.resume_file)
        .stdin(Stdio::null());
    command
}

/// Runs the relay binary with `--until-caught-up` and returns its stats.
fn relay_until_caught_up(config: &Config) -> Stats {
    let output = relay_command(config)
        .arg("--until-caught-up")
        .stderr(Stdio::inherit())
        .output()
        .expect("cannot run eventfold-relay");
    assert!(
        output.status.success(),
        "the relay failed: {}",
        output.status
    );
    let line = String::from_utf8(output.stdout).unwrap();
    parse_stats(line.trim())
}

fn parse_stats(line: &str) -> Stats {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

/// Reads the whole stream back: every relayed event, in stream order.
fn read_back(server: &str, stream: &str) -> Vec<RelayedEvent> {
    runtime()
        .block_on(eventfold_relay::fold_stream(
            server,
            stream,
            Vec::new(),
            |mut all, e| {
                all.push(e);
                all
            },
        ))
        .expect("cannot read the stream back")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn local_history(dir: &Path) -> Vec<eventfold::HistoryEvent> {
    eventfold::EventReader::new(dir)
        .read_history(Position::START)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn sigkilled_at_random_moments_the_relay_publishes_every_event_exactly_once() {
    const EVENTS: u64 = 100_000;
    const KILLS: usize = 10;
    let nats = NatsServer::start();
    let data = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let mut config = Config::new(data.path(), &nats.url, "CRASHES");
    config.resume_file = outside.path().join("relay.json");

    // The writer appends while the relay is started and killed: batches of 250 with short
    // pauses, rotating into the archive every 2 MB or so.
    let dir = data.path().to_path_buf();
    let writer = std::thread::spawn(move || {
        let mut log = EventLog::builder(&dir)
            .max_log_size(2_000_000)
            .view::<Tally>("tally", tally)
            .open()
            .unwrap();
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
        let mut child = relay_command(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start eventfold-relay");
        std::thread::sleep(Duration::from_millis(20 + rng.below(400)));
        child.kill().expect("SIGKILL"); // Child::kill sends SIGKILL
        child.wait().unwrap();
        progress.push(
            ResumePoint::load(&config.resume_file)
                .unwrap()
                .map(|p| p.index),
        );
    }
    println!("resume file after each kill (index of the last acknowledged event): {progress:?}");
    let mut log = writer.join().unwrap();
    assert!(log.archive_path().exists(), "the log rotated meanwhile");

    let stats = relay_until_caught_up(&config);
    println!("final run: {stats:?}");
    let history = local_history(data.path());
    assert_eq!(history.len() as u64, EVENTS);
    let last = history.last().unwrap();
    let recorded = ResumePoint::load(&config.resume_file).unwrap().unwrap();
    assert_eq!(
        (recorded.position, recorded.index),
        (last.position, last.index)
    );
    assert_eq!(stats.last, Some(recorded.clone()));

    // The stream, read back: each event once, in the log's order, nothing missing.
    let relayed = read_back(&nats.url, &config.stream);
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

    // Run again with nothing new: it publishes nothing.
    let again = relay_until_caught_up(&config);
    assert_eq!((again.published, again.duplicates), (0, 0));
    assert_eq!(read_back(&nats.url, &config.stream).len() as u64, EVENTS);
}

/// The relay follows the log live and stops cleanly on shutdown, recording where it stands;
/// the consume example folds the stream to the local state.
#[test]
fn follows_the_log_live_and_records_on_shutdown() {
    let nats = NatsServer::start();
    let data = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let mut config = Config::new(data.path(), &nats.url, "LIVE");
    config.resume_file = outside.path().join("live.json");
    let mut log = EventLog::open(data.path()).unwrap();
    log.append_batch(&(0..100).map(event).collect::<Vec<_>>())
        .unwrap();

    let runtime = runtime();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let relay = runtime.spawn({
        let config = config.clone();
        async move {
            eventfold_relay::run(&config, async {
                let _ = stopped.await;
            })
            .await
        }
    });
    for n in 100..300 {
        log.append(&event(n)).unwrap();
    }
    // Wait (generously) until the stream holds all 300, then stop the relay.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let count = read_back(&nats.url, &config.stream).len();
        if count == 300 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {count} of 300 events relayed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.send(()).unwrap();
    let stats = runtime.block_on(relay).unwrap().expect("the relay failed");
    assert_eq!(
        (stats.published, stats.duplicates, stats.resumed_after),
        (300, 0, None)
    );
    let last = local_history(data.path()).pop().unwrap();
    let recorded = ResumePoint::load(&config.resume_file).unwrap().unwrap();
    assert_eq!(
        (recorded.position, recorded.index, recorded.sequence),
        (last.position, 299, 300)
    );

    // The consumer example reaches the same state as the local log, and says so.
    let output = Command::new(example("consume"))
        .args(["--server", &nats.url, "--stream", "LIVE", "--data"])
        .arg(data.path())
        .output()
        .expect("cannot run the consume example");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "consume failed: {stdout}");
    assert!(stdout.contains("300 events"), "{stdout}");
    assert!(
        stdout.contains("the same state as the local view"),
        "{stdout}"
    );
}

/// A stream whose last event is not an event of this log is refused, and so is a stream that
/// ends before the resume file's event.
#[test]
fn refuses_a_stream_that_is_not_this_logs() {
    let nats = NatsServer::start();
    let runtime = runtime();
    let outside = tempfile::tempdir().unwrap();
    let first = tempfile::tempdir().unwrap();
    let mut log = EventLog::open(first.path()).unwrap();
    log.append_batch(&(0..10).map(event).collect::<Vec<_>>())
        .unwrap();
    let mut config = Config::new(first.path(), &nats.url, "SHARED");
    config.resume_file = outside.path().join("first.json");
    config.until_caught_up = true;
    let stats = runtime
        .block_on(eventfold_relay::run(&config, std::future::pending()))
        .unwrap();
    assert_eq!(stats.published, 10);

    // Another log, shorter, into the same stream.
    let second = tempfile::tempdir().unwrap();
    EventLog::open(second.path())
        .unwrap()
        .append(&event(0))
        .unwrap();
    let mut other = Config::new(second.path(), &nats.url, "SHARED");
    other.resume_file = outside.path().join("second.json");
    other.until_caught_up = true;
    let err = runtime
        .block_on(eventfold_relay::run(&other, std::future::pending()))
        .unwrap_err();
    assert!(err.to_string().contains("not an event of the log"), "{err}");

    // The stream purged: the resume file says more was acknowledged than it holds.
    runtime.block_on(async {
        let client = async_nats::connect(&nats.url).await.unwrap();
        let js = async_nats::jetstream::new(client);
        js.delete_stream("SHARED").await.unwrap();
    });
    let err = runtime
        .block_on(eventfold_relay::run(&config, std::future::pending()))
        .unwrap_err();
    assert!(
        matches!(err, eventfold_relay::Error::StreamBehind { .. }),
        "{err}"
    );
    assert_eq!(read_back(&nats.url, "SHARED").len(), 0, "nothing published");
}

/// What exactly-once rests on, pinned against this server: a re-sent message id is dropped as
/// a duplicate before the expected-sequence check, so a relay that restarts and re-sends an
/// event the server already holds gets a duplicate acknowledgement, not a refusal.
#[test]
fn the_server_drops_a_resent_id_before_checking_the_sequence() {
    use async_nats::jetstream::{self, message::PublishMessage, stream};
    let nats = NatsServer::start();
    runtime().block_on(async {
        let client = async_nats::connect(&nats.url).await.unwrap();
        let js = jetstream::new(client);
        js.create_stream(stream::Config {
            name: "PIN".into(),
            subjects: vec!["pin".into()],
            ..Default::default()
        })
        .await
        .unwrap();
        let publish = |id: &str, expected: u64| {
            PublishMessage::build()
                .payload("x".into())
                .message_id(id)
                .expected_last_sequence(expected)
        };
        let first = js
            .send_publish("pin", publish("0", 0))
            .await
            .unwrap()
            .await
            .unwrap();
        let second = js
            .send_publish("pin", publish("77", 1))
            .await
            .unwrap()
            .await
            .unwrap();
        assert_eq!((first.sequence, second.sequence), (1, 2));
        // Re-sent, expecting the sequence it was first published after: now wrong.
        let again = js
            .send_publish("pin", publish("0", 0))
            .await
            .unwrap()
            .await
            .unwrap();
        assert!(again.duplicate);
        // A new id with a wrong expected sequence is refused.
        let refused = js
            .send_publish("pin", publish("150", 1))
            .await
            .unwrap()
            .await;
        assert!(refused.is_err(), "{refused:?}");
    });
}

/// The path of an example binary of this package, built by `cargo test` beside the tests.
fn example(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let path = profile_dir.join("examples").join(name);
    if !path.exists() {
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "--quiet", "--example", name]);
        if profile_dir.ends_with("release") {
            cargo.arg("--release");
        }
        assert!(
            cargo.status().unwrap().success(),
            "cannot build the {name} example"
        );
    }
    path
}
