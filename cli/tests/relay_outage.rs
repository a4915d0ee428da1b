//! `eventfold relay` through a NATS outage: the server is killed while the relay follows the
//! log, events are appended meanwhile, and the server comes back on the same port with the same
//! store. The relay says on stderr that the server is gone and when it retries, keeps running,
//! and once the server is back publishes what was appended: the stream holds every event once,
//! in the log's order.

#![cfg(all(feature = "relay", unix))]

use eventfold::{Event, EventLog};
use eventfold_relay::{ResumePoint, Stats};
use eventfold_relay_testkit::{NatsServer, local_history, read_back};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const STREAM: &str = "OUTAGE";

fn append(log: &mut EventLog, from: u64, to: u64) {
    let events: Vec<Event> = (from..to)
        .map(|n| Event::new("step", serde_json::json!({ "n": n })))
        .collect();
    log.append_batch(&events).unwrap();
}

/// How many events the stream holds; 0 before the relay created it.
fn held(server: &str) -> usize {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let read = eventfold_relay::fold_stream(server, STREAM, 0, |n, _| n + 1);
    match runtime.block_on(read) {
        Ok(n) => n,
        Err(eventfold_relay::Error::Stream { message, .. }) if message.contains("not found") => 0,
        Err(e) => panic!("cannot read the stream: {e}"),
    }
}

/// Waits until the stream holds `events` events (the resume file is rewritten only as
/// acknowledgements come, so it may lag behind the last of a burst).
fn relayed(server: &str, events: usize, within: Duration, relay: &mut Child) {
    let start = Instant::now();
    loop {
        let held = held(server);
        if held >= events {
            assert_eq!(held, events, "more events in the stream than in the log");
            return;
        }
        if let Some(status) = relay.try_wait().unwrap() {
            panic!("the relay exited ({status}) with {held} events in the stream");
        }
        assert!(
            start.elapsed() < within,
            "the stream holds {held} events, not {events}, after {within:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The next line of stderr that holds `needle`, within `within`; the lines before it go to
/// `seen`.
fn line_with(
    lines: &mpsc::Receiver<String>,
    needle: &str,
    within: Duration,
    seen: &mut Vec<String>,
) -> String {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return line,
            Ok(line) => seen.push(line),
            Err(_) => panic!("no line with {needle:?} on stderr within {within:?}; saw {seen:#?}"),
        }
    }
}

#[test]
fn through_a_server_outage_the_relay_reports_it_waits_and_loses_nothing() {
    let Some(mut nats) = NatsServer::start_or_skip(
        "through_a_server_outage_the_relay_reports_it_waits_and_loses_nothing",
    ) else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let resume = outside.path().join("relay.json");
    let mut log = EventLog::open(data.path()).unwrap();
    append(&mut log, 0, 200);

    let mut relay = Command::new(env!("CARGO_BIN_EXE_eventfold"))
        .arg("-C")
        .arg(data.path())
        .args(["--json", "--color", "never", "relay", "--stream", STREAM])
        .args(["--server", &nats.url])
        .arg("--resume-file")
        .arg(&resume)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start eventfold relay");
    let stderr = relay.stderr.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    relayed(&nats.url, 200, Duration::from_secs(15), &mut relay);

    // The outage: the server dies; the writer goes on.
    nats.kill();
    let killed = Instant::now();
    append(&mut log, 200, 500);
    let lost = line_with(
        &lines,
        "lost the connection",
        Duration::from_secs(5),
        &mut seen,
    );
    assert!(lost.contains(&nats.url), "{lost}");
    let retry = line_with(&lines, "is unreachable", Duration::from_secs(5), &mut seen);
    assert!(
        retry.contains(&nats.url) && retry.contains("retrying in"),
        "{retry}"
    );
    println!("{:?} after the kill: {lost}\n{retry}", killed.elapsed());
    // Still running, and still saying so, with growing delays.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(relay.try_wait().unwrap().is_none(), "the relay exited");
    let later = line_with(&lines, "is unreachable", Duration::from_secs(2), &mut seen);
    let delay = |line: &str| {
        let after = line.split("retrying in ").nth(1).unwrap_or_default();
        let (number, unit) = after.split_once(' ').unwrap_or_default();
        let number: f64 = number
            .parse()
            .unwrap_or_else(|_| panic!("a delay in {line}"));
        if unit.starts_with("ms") {
            number / 1000.0
        } else {
            number
        }
    };
    assert!(delay(&later) > delay(&retry), "{retry}\n{later}");

    // The server comes back with its store: the relay goes on and publishes what was appended
    // meanwhile, then what is appended after.
    nats.restart();
    let back = line_with(&lines, "is back", Duration::from_secs(10), &mut seen);
    println!("{back}");
    relayed(&nats.url, 500, Duration::from_secs(15), &mut relay);
    append(&mut log, 500, 600);
    relayed(&nats.url, 600, Duration::from_secs(15), &mut relay);

    let stopped = Command::new("kill")
        .args(["-TERM", &relay.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let status = relay.wait().unwrap();
    assert!(
        status.success(),
        "the relay failed: {status}; stderr: {seen:#?}"
    );
    let mut stdout = String::new();
    relay
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let stats: Stats =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(stats.last.map(|p| p.index), Some(599));
    let recorded = ResumePoint::load(&resume).unwrap().map(|p| p.index);
    assert_eq!(
        recorded,
        Some(599),
        "the resume file records the last event"
    );

    // The stream: every event once, in the log's order.
    let history = local_history(data.path());
    let relayed = read_back(&nats.url, STREAM);
    let positions =
        |events: &mut dyn Iterator<Item = eventfold::Position>| events.collect::<Vec<_>>();
    assert_eq!(
        positions(&mut relayed.iter().map(|e| e.position)),
        positions(&mut history.iter().map(|e| e.position)),
        "every event exactly once, in order"
    );
    assert_eq!(relayed.len(), 600);
    for (got, want) in relayed.iter().zip(&history) {
        assert_eq!(got.event.data, want.event.data);
    }
}

#[test]
fn with_give_up_after_the_relay_exits_once_the_server_stays_away_that_long() {
    let Some(mut nats) = NatsServer::start_or_skip(
        "with_give_up_after_the_relay_exits_once_the_server_stays_away_that_long",
    ) else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let resume = outside.path().join("relay.json");
    let mut log = EventLog::open(data.path()).unwrap();
    append(&mut log, 0, 50);
    let mut relay = Command::new(env!("CARGO_BIN_EXE_eventfold"))
        .arg("-C")
        .arg(data.path())
        .args(["--color", "never", "relay", "--stream", STREAM])
        .args(["--server", &nats.url, "--give-up-after", "1s"])
        .arg("--resume-file")
        .arg(&resume)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start eventfold relay");
    relayed(&nats.url, 50, Duration::from_secs(15), &mut relay);
    nats.kill();
    let killed = Instant::now();
    let status = loop {
        if let Some(status) = relay.try_wait().unwrap() {
            break status;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(10),
            "the relay did not give up"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        killed.elapsed() >= Duration::from_secs(1),
        "it gave up too early"
    );
    assert_eq!(status.code(), Some(1));
    let mut stderr = String::new();
    relay
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.contains("lost the connection"), "{stderr}");
    assert!(stderr.contains("gave up after the NATS server"), "{stderr}");
    let recorded = ResumePoint::load(&resume).unwrap().map(|p| p.index);
    assert_eq!(
        recorded,
        Some(49),
        "the last acknowledged event is recorded"
    );
}
