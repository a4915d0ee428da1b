//! A directory being appended to and rotated while `log -f` follows it and `stats` reads it:
//! every event printed exactly once, in order, and every count a count of a prefix.

mod common;

use assert_cmd::cargo::CommandCargoExt;
use common::{T0, event};
use eventfold::EventLog;
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

const EVENTS: u64 = 1500;

#[test]
fn follow_and_stats_while_the_log_is_appended_to_and_rotated() {
    let dir = tempfile::tempdir().unwrap();
    // Rotates about every 25 events.
    let mut log = EventLog::builder(dir.path())
        .max_log_size(2_000)
        .open()
        .unwrap();
    log.append(&event("tick", 0, T0, "e0", None)).unwrap();

    let mut follower = Command::cargo_bin("eventfold")
        .unwrap()
        .arg("-C")
        .arg(dir.path())
        .args(["log", "-f", "--format", "{index} {id}"])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = follower.stdout.take().unwrap();
    let (lines_tx, lines_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if lines_tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });

    // The writer goes on until it has written EVENTS events and at least three statistics
    // were taken while it wrote.
    let stats_taken = Arc::new(AtomicUsize::new(0));
    let taken = stats_taken.clone();
    let writer = std::thread::spawn(move || {
        let mut n = 1;
        while n < EVENTS || taken.load(Ordering::SeqCst) < 3 {
            // Single appends and batches, so rotations fall inside batches too.
            if n % 100 < 50 {
                log.append(&event("tick", n, T0 + n, &format!("e{n}"), None))
                    .unwrap();
                n += 1;
            } else {
                let batch: Vec<_> = (n..n + 7)
                    .map(|k| event("tock", k, T0 + k, &format!("e{k}"), None))
                    .collect();
                log.append_batch(&batch).unwrap();
                n += batch.len() as u64;
            }
        }
        (log, n)
    });

    // Statistics taken while the writer runs: each is the count of a prefix of the history.
    let mut counts = Vec::new();
    while !writer.is_finished() {
        let out = common::run(dir.path(), &["stats", "--json"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let total: serde_json::Value =
            serde_json::from_str(out.stdout.lines().last().unwrap()).unwrap();
        let count = total["count"].as_u64().unwrap();
        let last = total["last_ts"].as_u64().unwrap();
        assert_eq!(
            last,
            T0 + count - 1,
            "a count of {count} must end at the event before it"
        );
        counts.push(count);
        stats_taken.fetch_add(1, Ordering::SeqCst);
    }
    let (log, written) = writer.join().unwrap();
    assert!(counts.len() >= 3, "{counts:?}");
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
    let after = common::run(dir.path(), &["stats", "--json"]);
    assert!(after.stdout.ends_with(&format!(
        "{{\"bytes\":{},\"count\":{written},\"first_ts\":{T0},\"last_ts\":{},\"total\":true}}\n",
        log.reader().history_end().unwrap(),
        T0 + written - 1
    )));
    assert!(
        std::fs::metadata(dir.path().join("archive.jsonl.zst"))
            .unwrap()
            .len()
            > 0
    );

    // The follower printed every event once, in order, across the rotations.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut printed = Vec::new();
    while (printed.len() as u64) < written {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines_rx.recv_timeout(left) {
            Ok(line) => printed.push(line),
            Err(_) => break,
        }
    }
    follower.kill().unwrap();
    let status = follower.wait().unwrap();
    let expected: Vec<String> = (0..written).map(|n| format!("{n} e{n}")).collect();
    assert_eq!(
        printed.len(),
        expected.len(),
        "stopped at {:?}",
        printed.last()
    );
    assert_eq!(printed, expected);
    // Nothing more after the last event: no duplicate waiting in the pipe.
    assert!(lines_rx.recv_timeout(Duration::from_millis(200)).is_err());
    assert!(!status.success(), "the follower runs until it is stopped");
}
