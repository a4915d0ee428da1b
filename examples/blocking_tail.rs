//! Tailing a live log without polling: `wait_for_events` with a timeout, then `read_from`.
//!
//! ```text
//! cargo run --example blocking_tail              # uses ./data-blocking_tail (emptied first)
//! cargo run --example blocking_tail -- DIR       # uses DIR, which must be empty or absent
//! ```
//!
//! The same setup as `poll_tail`: a writer thread owns the `EventLog` and appends events; the
//! main thread follows with an `EventReader`. Instead of sleeping and checking the file size in
//! a loop, the reader calls `wait_for_events(offset, timeout)`, which sleeps on the operating
//! system's file notifications (inotify on Linux) and returns:
//!
//! - `WaitResult::NewData(size)` as soon as `app.jsonl` is larger than `offset` (at once if it
//!   already is), or
//! - `WaitResult::Timeout` when `timeout` passes first, so the caller gets control back to
//!   check whether it should stop, print a heartbeat, and so on.
//!
//! The timeout is the tail's only clock: there is no busy loop and no polling interval to tune.

use eventfold::{Event, EventLog, WaitResult};
use serde_json::json;
use std::error::Error;
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

/// How many events the writer appends; the tail stops once it has seen them all.
const EVENTS: u64 = 8;
/// The writer appends in bursts of this many events...
const BURST: u64 = 4;
/// ...with this pause before each burst.
const PAUSE: Duration = Duration::from_millis(150);
/// How long one wait may block. Long enough that a healthy writer never hits it here.
const WAIT: Duration = Duration::from_secs(5);
/// The last, deliberately short wait, once the writer has finished.
const LAST_WAIT: Duration = Duration::from_millis(200);

fn main() -> Result<(), Box<dyn Error>> {
    let dir = data_dir("./data-blocking_tail")?;

    // Open the log first so that `app.jsonl` exists, then give the log to the writer thread.
    let mut log = EventLog::open(&dir)?;
    let reader = log.reader();
    let writer = thread::spawn(move || -> std::io::Result<()> {
        let events: Vec<Event> = (0..EVENTS)
            .map(|n| Event::new("job_finished", json!({ "job": n, "ms": 100 + 15 * n })))
            .collect();
        for burst in events.chunks(BURST as usize) {
            thread::sleep(PAUSE);
            // One write and one fsync for the whole burst, so the reader normally wakes up once
            // per burst. (Had it woken in the middle of the write, `read_from` would yield only
            // the complete lines, and the rest on the next wake-up.)
            log.append_batch(burst)?;
        }
        Ok(())
    });

    let mut offset = 0;
    let mut seen = 0;
    let mut total_ms = 0;
    while seen < EVENTS {
        match reader.wait_for_events(offset, WAIT)? {
            WaitResult::NewData(size) => {
                println!("woke up: app.jsonl is now {size} bytes");
                for item in reader.read_from(offset)? {
                    let (event, next_offset, _line_hash) = item?;
                    println!(
                        "  {} job={} ms={}",
                        event.event_type, event.data["job"], event.data["ms"]
                    );
                    total_ms += event.data["ms"].as_u64().unwrap_or(0);
                    offset = next_offset;
                    seen += 1;
                }
            }
            WaitResult::Timeout => {
                return Err(format!("no new event within {WAIT:?}; is the writer alive?").into());
            }
        }
    }
    writer.join().map_err(|_| "the writer thread panicked")??;
    println!("tailed {seen} events, {total_ms} ms of work in total");

    // Nobody writes any more, so this wait ends by its timeout.
    match reader.wait_for_events(offset, LAST_WAIT)? {
        WaitResult::Timeout => println!("writer done: nothing new within {LAST_WAIT:?}"),
        WaitResult::NewData(size) => println!("unexpected: the log grew to {size} bytes"),
    }
    Ok(())
}

/// The log directory: the first argument, or `default`. The example wants to start from an
/// empty log so that it prints the same thing every time: the default directory is removed
/// first, and a directory given on the command line must be empty or not exist yet.
fn data_dir(default: &str) -> Result<PathBuf, Box<dyn Error>> {
    match std::env::args_os().nth(1) {
        Some(arg) => {
            let dir = PathBuf::from(arg);
            if dir.exists() && dir.read_dir()?.next().is_some() {
                return Err(format!("{} is not empty; name a new directory", dir.display()).into());
            }
            Ok(dir)
        }
        None => {
            let dir = PathBuf::from(default);
            if dir.exists() {
                std::fs::remove_dir_all(&dir)?;
            }
            Ok(dir)
        }
    }
}

// Expected output (how the events group under "woke up" lines can vary with timing):
//
// woke up: app.jsonl is now 264 bytes
//   job_finished job=0 ms=100
//   job_finished job=1 ms=115
//   job_finished job=2 ms=130
//   job_finished job=3 ms=145
// woke up: app.jsonl is now 528 bytes
//   job_finished job=4 ms=160
//   job_finished job=5 ms=175
//   job_finished job=6 ms=190
//   job_finished job=7 ms=205
// tailed 8 events, 1220 ms of work in total
// writer done: nothing new within 200ms
