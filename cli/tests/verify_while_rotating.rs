//! `eventfold verify` run again and again while a writer appends, refreshes its views and
//! rotates: every run exits 0 with no finding, as the directory never holds any damage.

mod common;

use common::{T0, event, open, run};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[test]
fn verify_finds_nothing_while_a_writer_appends_and_rotates() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    let stop = Arc::new(AtomicBool::new(false));
    let rotations = Arc::new(AtomicU64::new(0));
    let writer = {
        let (dir, stop, rotations) = (dir.path().to_path_buf(), stop.clone(), rotations.clone());
        std::thread::spawn(move || {
            let mut log = open(&dir);
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..10 {
                    let kind = ["tick", "tock"][(n % 2) as usize];
                    log.append(&event(kind, n, T0 + n, &format!("e{n}"), None))
                        .unwrap();
                    n += 1;
                }
                log.refresh_all().unwrap();
                if n.is_multiple_of(50) {
                    log.rotate().unwrap();
                    rotations.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };

    let started = Instant::now();
    let mut runs = 0;
    let mut reported = Vec::new();
    while (runs < 40 || rotations.load(Ordering::Relaxed) < 20)
        && started.elapsed() < Duration::from_secs(6)
    {
        let args: &[&str] = if runs % 2 == 0 {
            &["verify"]
        } else {
            &["verify", "--quick"]
        };
        let out = run(dir.path(), args);
        if out.code != 0 || !out.stdout.starts_with("ok: 0 errors, 0 warnings") {
            reported.push(format!(
                "{args:?} exit {}:\n{}{}",
                out.code, out.stdout, out.stderr
            ));
        }
        runs += 1;
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let rotations = rotations.load(Ordering::Relaxed);
    assert!(
        rotations >= 20,
        "only {rotations} rotations in {runs} runs: the race was not exercised"
    );
    assert!(
        reported.is_empty(),
        "{} of {runs} runs ({rotations} rotations):\n{}",
        reported.len(),
        reported.join("\n")
    );
}
