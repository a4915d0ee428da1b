//! The relay library against a real `nats-server` with JetStream: following a log live and
//! stopping cleanly, a consumer's fold equal to the local view, refusals of a stream that is
//! not this log's, and the server behaviour exactly-once rests on. The relay killed with
//! SIGKILL while it runs is tested as a process, `eventfold relay`, in the CLI's tests.

use eventfold::{Event, EventLog, Upcaster, Upcasters};
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

/// Upcasters of the shapes the relay tests publish: `todo_created {title}` became
/// `todo_added {text}`, `ping` is dropped, an `order_placed` with `lines` is split into an
/// `order_opened` and a `line_added` per line, and `broken` cannot be upcast.
fn upcasters() -> Upcasters {
    Upcasters::new()
        .with(Upcaster::map("todo_created", |mut event| {
            event.event_type = "todo_added".into();
            event.data = serde_json::json!({ "text": event.data["title"] });
            event
        }))
        .with(Upcaster::drop("ping"))
        .with(Upcaster::new("order_placed", |event: Event| {
            let lines = event.data["lines"].as_array().ok_or("no lines")?.clone();
            let mut parts = vec![Event {
                event_type: "order_opened".into(),
                data: serde_json::json!({ "order": event.data["order"] }),
                ..event.clone()
            }];
            parts.extend(lines.into_iter().map(|line| Event {
                event_type: "line_added".into(),
                data: line,
                ..event.clone()
            }));
            Ok::<_, &str>(parts)
        }))
        .with(Upcaster::new("broken", |_| {
            Err::<Vec<Event>, _>("the broken event cannot be read")
        }))
}

fn order(n: u64) -> Event {
    Event::new(
        "order_placed",
        serde_json::json!({ "order": n, "lines": [{ "sku": "a" }, { "sku": "b" }] }),
    )
}

/// A configuration relaying `data` to `stream` until caught up, keeping its resume file in
/// `outside`.
fn caught_up(data: &Path, outside: &Path, url: &str, stream: &str) -> Config {
    let mut config = Config::new(data, url, stream);
    config.resume_file = outside.join(format!("{stream}.json"));
    config.until_caught_up = true;
    config
}

/// Each message of `stream` as (its `Nats-Msg-Id`, its type, its part and parts).
fn messages(url: &str, stream: &str) -> Vec<(String, String, u64, u64)> {
    let ids = runtime().block_on(async {
        let client = async_nats::connect(url).await.unwrap();
        let js = async_nats::jetstream::new(client);
        let stream = js.get_stream(stream).await.unwrap();
        let last = stream.get_info().await.unwrap().state.last_sequence;
        let mut ids = Vec::new();
        for sequence in 1..=last {
            let message = stream.get_raw_message(sequence).await.unwrap();
            let id = message.headers.get("Nats-Msg-Id").unwrap().to_string();
            ids.push(id);
        }
        ids
    });
    let relayed = read_back(url, stream);
    assert_eq!(ids.len(), relayed.len());
    ids.into_iter()
        .zip(relayed)
        .map(|(id, r)| (id, r.event.event_type, r.part, r.parts))
        .collect()
}

/// By default the relay publishes events as stored; given upcasters, it publishes them
/// renamed and reshaped, under the same message ids and headers.
#[test]
fn publishes_stored_events_unless_given_upcasters() {
    let Some(nats) = NatsServer::start_or_skip("publishes_stored_events_unless_given_upcasters")
    else {
        return;
    };
    let runtime = runtime();
    let data = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let mut log = EventLog::open(data.path()).unwrap();
    log.append(&Event::new(
        "todo_created",
        serde_json::json!({ "title": "milk" }),
    ))
    .unwrap();
    log.append(&event(1)).unwrap();
    let history = local_history(data.path());

    let stored = caught_up(data.path(), outside.path(), &nats.url, "STORED");
    let upcast = caught_up(data.path(), outside.path(), &nats.url, "UPCAST").upcasting(upcasters());
    for config in [&stored, &upcast] {
        let stats = runtime
            .block_on(eventfold_relay::run(config, std::future::pending()))
            .unwrap();
        assert_eq!((stats.published, stats.dropped), (2, 0));
    }

    let stored = read_back(&nats.url, "STORED");
    assert_eq!(stored[0].event, history[0].event);
    let upcast = read_back(&nats.url, "UPCAST");
    assert_eq!(upcast[0].event.event_type, "todo_added");
    assert_eq!(upcast[0].event.data, serde_json::json!({ "text": "milk" }));
    assert_eq!(upcast[0].event.ts, history[0].event.ts);
    assert_eq!(upcast[1].event, history[1].event, "no upcaster matches it");
    for relayed in [&stored, &upcast] {
        let places: Vec<_> = relayed
            .iter()
            .map(|r| (r.position, r.index, r.part, r.parts))
            .collect();
        assert_eq!(
            places,
            [
                (history[0].position, 0, 0, 1),
                (history[1].position, 1, 0, 1)
            ]
        );
    }
    let ids: Vec<_> = messages(&nats.url, "UPCAST")
        .into_iter()
        .map(|m| m.0)
        .collect();
    assert_eq!(
        ids,
        history
            .iter()
            .map(|h| h.position.to_string())
            .collect::<Vec<_>>()
    );
}

/// A dropped event is not published; the relay goes on past it, and a restart after a run
/// that ended on dropped events neither publishes them nor anything twice, nor loses what
/// follows.
#[test]
fn drops_what_the_upcasters_drop_and_resumes_past_it() {
    let Some(nats) = NatsServer::start_or_skip("drops_what_the_upcasters_drop_and_resumes_past_it")
    else {
        return;
    };
    let runtime = runtime();
    let data = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let ping = || Event::new("ping", serde_json::json!({}));
    let mut log = EventLog::open(data.path()).unwrap();
    log.append_batch(&[ping(), event(0), ping(), event(1), ping(), ping()])
        .unwrap();
    let config = caught_up(data.path(), outside.path(), &nats.url, "DROPS").upcasting(upcasters());
    let run = || {
        runtime
            .block_on(eventfold_relay::run(&config, std::future::pending()))
            .unwrap()
    };

    let stats = run();
    assert_eq!(
        (stats.published, stats.duplicates, stats.dropped),
        (2, 0, 4)
    );
    // Started again: the two pings after the last event published are upcast again, and
    // dropped again.
    let stats = run();
    assert_eq!(
        (stats.published, stats.duplicates, stats.dropped),
        (0, 0, 2)
    );

    log.append_batch(&[event(2), ping()]).unwrap();
    let stats = run();
    assert_eq!(
        (stats.published, stats.duplicates, stats.dropped),
        (1, 0, 3)
    );

    let history = local_history(data.path());
    let kept: Vec<_> = history
        .iter()
        .filter(|h| h.event.event_type != "ping")
        .map(|h| (h.position, h.index))
        .collect();
    let relayed: Vec<_> = read_back(&nats.url, "DROPS")
        .iter()
        .map(|r| (r.position, r.index))
        .collect();
    assert_eq!(relayed, kept);
    let recorded = ResumePoint::load(&config.resume_file).unwrap().unwrap();
    assert_eq!((recorded.position, recorded.sequence), (kept[2].0, 3));
}

/// Each part of a split event is a message of its own with an id of its own; a relay stopped
/// between two parts goes on with the next part of the same event, and publishes none twice.
#[test]
fn publishes_each_part_of_a_split_event_once_across_a_stop_between_parts() {
    use async_nats::jetstream::stream::{self, DiscardPolicy};
    let Some(nats) = NatsServer::start_or_skip(
        "publishes_each_part_of_a_split_event_once_across_a_stop_between_parts",
    ) else {
        return;
    };
    let runtime = runtime();
    let data = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let mut log = EventLog::open(data.path()).unwrap();
    log.append_batch(&[event(0), order(1), event(2)]).unwrap();
    let config = caught_up(data.path(), outside.path(), &nats.url, "SPLIT").upcasting(upcasters());

    // A stream that takes three messages and refuses more: the relay stops after the second
    // part of the order, as one killed there would.
    let limited = stream::Config {
        name: "SPLIT".into(),
        subjects: vec![config.subject.clone()],
        max_messages: 3,
        discard: DiscardPolicy::New,
        ..Default::default()
    };
    let js = runtime.block_on(async {
        let js = async_nats::jetstream::new(async_nats::connect(&nats.url).await.unwrap());
        js.create_stream(limited.clone()).await.unwrap();
        js
    });
    let err = runtime
        .block_on(eventfold_relay::run(&config, std::future::pending()))
        .unwrap_err();
    assert!(
        matches!(err, eventfold_relay::Error::Publish { .. }),
        "{err}"
    );
    let history = local_history(data.path());
    let (p0, p1, p2) = (
        history[0].position,
        history[1].position,
        history[2].position,
    );
    let held: Vec<_> = messages(&nats.url, "SPLIT")
        .into_iter()
        .map(|m| m.0)
        .collect();
    assert_eq!(held, [p0.to_string(), p1.to_string(), format!("{p1}/1")]);

    // The limit lifted, the relay goes on with the third part of the same order.
    runtime.block_on(async {
        js.update_stream(stream::Config {
            max_messages: -1,
            ..limited
        })
        .await
        .unwrap();
    });
    let stats = runtime
        .block_on(eventfold_relay::run(&config, std::future::pending()))
        .unwrap();
    assert_eq!(stats.resumed_after, Some(p1));
    assert_eq!((stats.published, stats.duplicates), (2, 0));

    // And on, after more is appended, ending on a split event.
    log.append(&order(3)).unwrap();
    let stats = runtime
        .block_on(eventfold_relay::run(&config, std::future::pending()))
        .unwrap();
    assert_eq!((stats.published, stats.duplicates), (3, 0));
    let p3 = local_history(data.path())[3].position;
    let recorded = ResumePoint::load(&config.resume_file).unwrap().unwrap();
    assert_eq!(
        (recorded.position, recorded.part, recorded.parts),
        (p3, 2, 3)
    );

    let expected = [
        (p0.to_string(), "opened", 0, 1),
        (p1.to_string(), "order_opened", 0, 3),
        (format!("{p1}/1"), "line_added", 1, 3),
        (format!("{p1}/2"), "line_added", 2, 3),
        (p2.to_string(), "closed", 0, 1),
        (p3.to_string(), "order_opened", 0, 3),
        (format!("{p3}/1"), "line_added", 1, 3),
        (format!("{p3}/2"), "line_added", 2, 3),
    ];
    let held = messages(&nats.url, "SPLIT");
    let held: Vec<_> = held
        .iter()
        .map(|(id, t, part, parts)| (id.clone(), t.as_str(), *part, *parts))
        .collect();
    assert_eq!(held, expected);
    let lines: Vec<_> = read_back(&nats.url, "SPLIT")
        .into_iter()
        .filter(|r| r.event.event_type == "line_added")
        .map(|r| r.event.data["sku"].clone())
        .collect();
    assert_eq!(lines, ["a", "b", "a", "b"]);
}

/// An upcaster that fails stops the relay with an error that names the event, after
/// publishing the events before it and nothing after.
#[test]
fn stops_at_an_event_its_upcasters_cannot_upcast() {
    let Some(nats) = NatsServer::start_or_skip("stops_at_an_event_its_upcasters_cannot_upcast")
    else {
        return;
    };
    let runtime = runtime();
    let data = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let mut log = EventLog::open(data.path()).unwrap();
    log.append_batch(&[
        event(0),
        Event::new("broken", serde_json::json!({})),
        event(2),
    ])
    .unwrap();
    let config = caught_up(data.path(), outside.path(), &nats.url, "BROKEN").upcasting(upcasters());
    let broken = local_history(data.path())[1].clone();

    for _ in 0..2 {
        let err = runtime
            .block_on(eventfold_relay::run(&config, std::future::pending()))
            .unwrap_err();
        let eventfold_relay::Error::Upcast {
            position,
            index,
            source,
        } = &err
        else {
            panic!("not an upcast error: {err}");
        };
        assert_eq!((*position, *index), (broken.position, 1));
        match eventfold::Error::from_io(source) {
            Some(eventfold::Error::Upcast {
                path,
                offset,
                line,
                event_type,
                ..
            }) => {
                assert_eq!(path, &data.path().join("app.jsonl"));
                assert_eq!((*offset, *line), (broken.position.offset(), 2));
                assert_eq!(event_type, "broken");
            }
            other => panic!("the event's place is not named: {other:?}"),
        }
        let text = err.to_string();
        let place = format!(
            "cannot publish the event at position {} (index 1): the upcaster of event type \
             \"broken\" failed on the event in {} at byte {} (line 2)",
            broken.position,
            data.path().join("app.jsonl").display(),
            broken.position.offset()
        );
        assert!(text.starts_with(&place), "{text}");
        assert!(text.contains("the broken event cannot be read"), "{text}");
        let relayed = read_back(&nats.url, "BROKEN");
        assert_eq!(relayed.len(), 1, "the event before it, and nothing after");
        let recorded = ResumePoint::load(&config.resume_file).unwrap().unwrap();
        assert_eq!((recorded.index, recorded.sequence), (0, 1));
    }
}
