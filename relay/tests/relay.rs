//! The relay library against a real `nats-server` with JetStream: following a log live and
//! stopping cleanly, a consumer's fold equal to the local view, refusals of a stream that is
//! not this log's, and the server behaviour exactly-once rests on. The relay killed with
//! SIGKILL while it runs is tested as a process, `eventfold relay`, in the CLI's tests.

use eventfold::{Event, EventLog};
use eventfold_relay::{Config, ResumePoint};
use eventfold_relay_testkit::{NatsServer, local_history, read_back};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn event(n: u64) -> Event {
    let kind = ["opened", "moved", "closed"][(n % 3) as usize];
    Event::new(
        kind,
        serde_json::json!({ "n": n, "note": format!("event {n}") }),
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The relay follows the log live and stops cleanly on shutdown, recording where it stands;
/// the consume example folds the stream to the local state.
#[test]
fn follows_the_log_live_and_records_on_shutdown() {
    let Some(nats) = NatsServer::start_or_skip("follows_the_log_live_and_records_on_shutdown")
    else {
        return;
    };
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
    let Some(nats) = NatsServer::start_or_skip("refuses_a_stream_that_is_not_this_logs") else {
        return;
    };
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
    let Some(nats) =
        NatsServer::start_or_skip("the_server_drops_a_resent_id_before_checking_the_sequence")
    else {
        return;
    };
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

/// A resume file inside the log directory is refused before anything is written or any server
/// is reached: the relay never writes into the directory it reads.
#[test]
fn refuses_a_resume_file_inside_the_log_directory() {
    let data = tempfile::tempdir().unwrap();
    EventLog::open(data.path())
        .unwrap()
        .append(&event(0))
        .unwrap();
    let before: Vec<_> = std::fs::read_dir(data.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    // No server listens on port 1: the refusal must come first.
    let mut config = Config::new(data.path(), "nats://127.0.0.1:1", "INSIDE");
    for resume in [
        data.path().join("relay.json"),
        data.path().join("views").join("relay.json"),
    ] {
        config.resume_file = resume;
        let error = runtime()
            .block_on(eventfold_relay::run(&config, std::future::pending()))
            .unwrap_err();
        let text = error.to_string();
        assert!(text.contains("lies inside the log directory"), "{text}");
        assert!(!config.resume_file.exists());
    }
    let after: Vec<_> = std::fs::read_dir(data.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before, after);
}
