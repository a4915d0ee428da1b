//! `verify` run again and again while a writer appends, refreshes its views and rotates: what
//! it reads of a directory changing under it must never be reported as damage.

use eventfold::{Event, EventLog, VerifyOptions, verify};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn count(n: u64, _event: &Event) -> u64 {
    n + 1
}

fn by_type(mut seen: Vec<String>, event: &Event) -> Vec<String> {
    if !seen.contains(&event.event_type) {
        seen.push(event.event_type.clone());
    }
    seen
}

/// Appends, refreshes and rotates until `stop`; counts the rotations.
fn write(dir: &std::path::Path, stop: &AtomicBool, rotations: &AtomicU64) {
    let mut log = EventLog::builder(dir)
        .view::<u64>("count", count)
        .view::<Vec<String>>("by_type", by_type)
        .open()
        .unwrap();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..20 {
            let kind = ["opened", "moved", "closed"][(n % 3) as usize];
            log.append(&Event::new(kind, serde_json::json!({ "n": n })))
                .unwrap();
            n += 1;
        }
        log.refresh_all().unwrap();
        if n.is_multiple_of(100) {
            log.rotate().unwrap();
            rotations.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[test]
fn verify_reports_nothing_while_a_writer_appends_and_rotates() {
    let dir = tempfile::tempdir().unwrap();
    drop(EventLog::open(dir.path()).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let rotations = Arc::new(AtomicU64::new(0));
    let writer = {
        let (dir, stop, rotations) = (dir.path().to_path_buf(), stop.clone(), rotations.clone());
        std::thread::spawn(move || write(&dir, &stop, &rotations))
    };

    let started = Instant::now();
    let mut runs = 0;
    let mut reported = Vec::new();
    while (runs < 150 || rotations.load(Ordering::Relaxed) < 50)
        // A bound for a stuck writer only: under wine, where each file operation is a round
        // trip to its server, the 50 rotations take about a minute.
        && started.elapsed() < Duration::from_secs(120)
    {
        for quick in [false, true] {
            let options = VerifyOptions::new().quick(quick);
            match verify(dir.path(), &options) {
                Ok(report) => {
                    reported.extend(report.findings.iter().map(|f| format!("{runs}: {f}")))
                }
                Err(e) => reported.push(format!("{runs}: error: {e}")),
            }
            runs += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let rotations = rotations.load(Ordering::Relaxed);
    assert!(
        rotations >= 50,
        "only {rotations} rotations in {runs} runs: the race was not exercised"
    );
    assert!(
        reported.is_empty(),
        "{} of {runs} runs ({rotations} rotations) reported:\n{}",
        reported.len(),
        reported.join("\n")
    );
}
