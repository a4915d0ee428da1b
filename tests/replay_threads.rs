//! The replay thread knob: `EventReader::replay_threads` and `EventLogBuilder::replay_threads`
//! bound the threads of every replay, give the same states whatever the number, and a replay
//! inside an embedder's rayon pool never waits for that pool's workers.
//!
//! One test in this file, so that the threads it counts are its own. It counts them in
//! `/proc/self/task`, so it runs on Linux only.

#![cfg(target_os = "linux")]

use eventfold::{Event, EventLog, EventReader, EventRef, View};
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

/// The most threads the process had while a reducer ran.
static MOST_THREADS: AtomicUsize = AtomicUsize::new(0);

fn threads_now() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |tasks| tasks.count())
}

fn trace(mut state: Vec<u64>, event: &Event) -> Vec<u64> {
    if state.len().is_multiple_of(1000) {
        MOST_THREADS.fetch_max(threads_now(), Ordering::Relaxed);
    }
    state.push(event.ts);
    state
}

fn trace_ref(mut state: Vec<u64>, event: &EventRef<'_>) -> Vec<u64> {
    if state.len().is_multiple_of(1000) {
        MOST_THREADS.fetch_max(threads_now(), Ordering::Relaxed);
    }
    state.push(event.ts());
    state
}

#[test]
fn replays_keep_to_their_threads_and_agree_whatever_their_number() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = EventLog::builder(dir.path()).open().unwrap();
    let batch = |from: u64| -> Vec<Event> {
        (from..from + 1000)
            .map(|n| {
                let mut event = Event::new("t", json!({ "n": n, "pad": "x".repeat(200) }));
                event.ts = n;
                event
            })
            .collect()
    };
    // An archive frame and an active log, each of a few MB: parallel folds on both.
    for k in 0..12 {
        log.append_batch(&batch(k * 1000)).unwrap();
    }
    log.rotate().unwrap();
    for k in 12..24 {
        log.append_batch(&batch(k * 1000)).unwrap();
    }
    drop(log);
    let expected: Vec<u64> = (0..24_000).collect();

    let views = tempfile::tempdir().unwrap();
    let mut most = Vec::new();
    for threads in [1, 2, 4] {
        let reader = EventReader::new(dir.path())
            .read_only()
            .replay_threads(threads);
        assert_eq!(reader.threads(), threads);
        let base = threads_now();
        MOST_THREADS.store(0, Ordering::Relaxed);
        let mut owned = View::new("owned", trace, views.path());
        assert_eq!(
            *owned.rebuild(&reader).unwrap(),
            expected,
            "{threads} threads"
        );
        let mut borrowed = View::new_ref("borrowed", trace_ref, views.path());
        assert_eq!(
            *borrowed.rebuild(&reader).unwrap(),
            expected,
            "{threads} threads"
        );
        let extra = MOST_THREADS.load(Ordering::Relaxed).saturating_sub(base);
        assert!(
            extra < threads,
            "{threads} threads: {extra} more than the caller"
        );
        most.push(extra);
    }
    assert_eq!(most[0], 0, "one thread is the calling one alone");
    assert!(most[2] >= 1, "four threads start helpers");

    // The log's own replays keep to its setting.
    let mut log = EventLog::builder(dir.path())
        .replay_threads(1)
        .view::<Vec<u64>>("owned", trace)
        .open()
        .unwrap();
    assert_eq!(log.reader().threads(), 1);
    let base = threads_now();
    MOST_THREADS.store(0, Ordering::Relaxed);
    log.refresh_all().unwrap();
    assert_eq!(*log.view::<Vec<u64>>("owned").unwrap(), expected);
    assert_eq!(MOST_THREADS.load(Ordering::Relaxed), base);
    drop(log);

    // Inside an embedder's pool of two whose other worker is busy until the replay is done,
    // the replay takes the pool's size and finishes: it never waits for a pool worker.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let busy = Arc::new(AtomicBool::new(true));
    let (done_tx, done) = mpsc::channel();
    let dir_path = dir.path().to_path_buf();
    let views_path = views.path().to_path_buf();
    let (started_tx, started) = mpsc::channel();
    {
        let busy = Arc::clone(&busy);
        pool.spawn(move || {
            started_tx.send(()).unwrap();
            while busy.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(1));
            }
        });
    }
    started.recv().unwrap();
    {
        let busy = Arc::clone(&busy);
        pool.spawn(move || {
            let reader = EventReader::new(&dir_path).read_only();
            let threads = reader.threads();
            let mut view = View::new("owned", trace, &views_path);
            let state = view.rebuild(&reader).map(|s| s.len());
            busy.store(false, Ordering::Relaxed);
            done_tx
                .send((threads, state.map_err(|e| e.to_string())))
                .unwrap();
        });
    }
    let (threads, state) = done
        .recv_timeout(Duration::from_secs(120))
        .expect("the replay inside the busy pool finished");
    assert_eq!(threads, 2, "the pool's size");
    assert_eq!(state, Ok(24_000));
}
