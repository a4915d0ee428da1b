//! Tailing a live log by polling: `has_new_events` + `read_from`.
//!
//! ```text
//! cargo run --example poll_tail              # uses ./data-poll_tail (emptied first)
//! cargo run --example poll_tail -- DIR       # uses DIR, which must be empty or absent
//! ```
//!
//! A writer thread owns the `EventLog` (the single writer of the directory) and appends an
//! event every few milliseconds. The main thread follows it with an `EventReader`, a cheap
//! handle that holds only paths and takes no lock, so it can read beside the writer (or from
//! another process).
//!
//! The reader remembers one number: the byte offset just past the last event it consumed.
//! `has_new_events(offset)` compares it with the file's size, a single `stat`, which is cheap
//! enough to call in a loop. When there is more, `read_from(offset)` yields the complete lines
//! after it, each with the offset to continue from. A line still being written has no newline
//! yet and is not yielded; it is picked up by a later poll.
//!
//! See `blocking_tail` for the same loop without polling.

use eventfold::{Event, EventLog};
use serde_json::json;
use std::error::Error;
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

/// How many events the writer appends; the tail stops once it has seen them all.
const EVENTS: u64 = 10;
/// Pause between two appends of the writer.
const WRITE_EVERY: Duration = Duration::from_millis(20);
/// Pause between two polls of the reader when nothing is new.
const POLL_EVERY: Duration = Duration::from_millis(5);
/// Give up if the writer makes no progress for this long (it never should).
const STALL_LIMIT: Duration = Duration::from_secs(10);

fn main() -> Result<(), Box<dyn Error>> {
    let dir = data_dir("./data-poll_tail")?;

    // Open the log here, before starting either side, so that `app.jsonl` exists by the time
    // the reader first looks at it. Then hand the log to the writer thread.
    let mut log = EventLog::open(&dir)?;
    let reader = log.reader();
    let writer = thread::spawn(move || -> std::io::Result<()> {
        for n in 0..EVENTS {
            thread::sleep(WRITE_EVERY);
            log.append(&Event::new("tick", json!({ "n": n, "square": n * n })))?;
        }
        Ok(())
    });

    let mut offset = 0; // just past the last event consumed
    let mut seen = 0;
    let mut sum = 0;
    let mut idle_polls = 0u64;
    let mut last_progress = Instant::now();
    while seen < EVENTS {
        if !reader.has_new_events(offset)? {
            if last_progress.elapsed() > STALL_LIMIT {
                return Err(
                    format!("no new event for {STALL_LIMIT:?}; is the writer alive?").into(),
                );
            }
            idle_polls += 1;
            thread::sleep(POLL_EVERY);
            continue;
        }
        for item in reader.read_from(offset)? {
            let (event, next_offset, _line_hash) = item?;
            println!(
                "{} n={} square={} (bytes {offset}..{next_offset})",
                event.event_type, event.data["n"], event.data["square"]
            );
            sum += event.data["square"].as_u64().unwrap_or(0);
            offset = next_offset;
            seen += 1;
        }
        last_progress = Instant::now();
    }

    // The writer's result: a failed append in the thread is reported here.
    writer.join().map_err(|_| "the writer thread panicked")??;
    println!("tailed {seen} events up to byte {offset}; sum of squares {sum}");
    // How often the loop found nothing new depends on timing; it is printed for curiosity.
    println!("(the reader found nothing new on {idle_polls} polls)");
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

// Expected output (the last line varies from run to run):
//
// tick n=0 square=0 (bytes 0..58)
// tick n=1 square=1 (bytes 58..116)
// tick n=2 square=4 (bytes 116..174)
// tick n=3 square=9 (bytes 174..232)
// tick n=4 square=16 (bytes 232..291)
// tick n=5 square=25 (bytes 291..350)
// tick n=6 square=36 (bytes 350..409)
// tick n=7 square=49 (bytes 409..468)
// tick n=8 square=64 (bytes 468..527)
// tick n=9 square=81 (bytes 527..586)
// tailed 10 events up to byte 586; sum of squares 285
// (the reader found nothing new on 41 polls)
