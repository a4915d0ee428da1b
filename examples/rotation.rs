//! Log rotation: closed history moves into `archive.jsonl.zst`, and nothing is lost.
//!
//! ```text
//! cargo run --example rotation              # uses ./data-rotation (emptied first)
//! cargo run --example rotation -- DIR       # uses DIR, which must be empty or absent
//! ```
//!
//! The log is opened with a tiny `max_log_size` (1 KiB) so that rotation happens every dozen
//! events or so. A rotation:
//!
//! 1. refreshes every registered view, so each snapshot covers the whole active log;
//! 2. compresses `app.jsonl` into one zstd frame and appends it to `archive.jsonl.zst`;
//! 3. starts a new, empty `app.jsonl`, and resets the snapshots' offsets to 0.
//!
//! An append that takes the active log to the limit rotates before it returns. Real apps use a
//! limit of megabytes; `max_log_size(0)` (the default) turns auto-rotation off and leaves
//! `rotate()` to you, which is also shown at the end.

use eventfold::{Event, EventLog, View};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::error::Error;
use std::path::{Path, PathBuf};

/// Rotate once `app.jsonl` reaches this many bytes. Each event line here is ~65 bytes.
const MAX_LOG_SIZE: u64 = 1024;
/// Events appended with auto-rotation on.
const FIRST_BATCH: u64 = 60;
/// Events appended before the manual rotation.
const SECOND_BATCH: u64 = 5;

/// A running summary of sensor readings. `next_seq` lets the example check that every event
/// arrives exactly once and in order, across every rotation.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct Readings {
    count: u64,
    sum: u64,
    next_seq: u64,
    out_of_order: u64,
}

fn readings_reducer(mut state: Readings, event: &Event) -> Readings {
    if event.event_type == "reading" {
        let seq = event.data["seq"].as_u64();
        if seq != Some(state.next_seq) {
            state.out_of_order += 1;
        }
        state.next_seq = seq.map_or(state.next_seq, |s| s + 1);
        state.count += 1;
        state.sum += event.data["value"].as_u64().unwrap_or(0);
    }
    state
}

/// The value of reading number `seq`: deterministic, so the expected sum can be computed.
fn value_of(seq: u64) -> u64 {
    seq * 7 % 19
}

fn reading(seq: u64) -> Event {
    Event::new("reading", json!({ "seq": seq, "value": value_of(seq) }))
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = data_dir("./data-rotation")?;
    let mut log = EventLog::builder(&dir)
        .max_log_size(MAX_LOG_SIZE)
        .view::<Readings>("readings", readings_reducer)
        .open()?;

    // --- Auto-rotation. -----------------------------------------------------------------------
    println!("== appending {FIRST_BATCH} events with max_log_size({MAX_LOG_SIZE})");
    let mut rotations = 0;
    for seq in 0..FIRST_BATCH {
        let written = log.append(&reading(seq))?;
        // `written` describes the line as it was written. If the active log is empty now, this
        // append reached the limit and rotated before returning.
        if log.active_log_size()? == 0 {
            rotations += 1;
            println!(
                "event {seq:>2}: app.jsonl reached {} bytes -> rotation {rotations}",
                written.end_offset
            );
        }
    }
    println!("{rotations} automatic rotations");

    println!("== {} after the automatic rotations", dir.display());
    list_dir(&dir)?;

    // --- State is continuous: the view and a full replay both see every event once. ---------
    log.refresh_all()?;
    print_readings("readings view", log.view::<Readings>("readings")?);
    let replayed = log.read_full()?.count();
    println!("read_full(): {replayed} events (archive, then app.jsonl)");

    // --- Manual rotation. ------------------------------------------------------------------
    for seq in FIRST_BATCH..FIRST_BATCH + SECOND_BATCH {
        log.append(&reading(seq))?;
    }
    let archive_before = std::fs::metadata(log.archive_path())?.len();
    let active_before = log.active_log_size()?;
    log.rotate()?;
    println!("== manual rotate()");
    println!(
        "app.jsonl: {active_before} -> {} bytes; archive.jsonl.zst: {archive_before} -> {} bytes",
        log.active_log_size()?,
        std::fs::metadata(log.archive_path())?.len()
    );
    // rotate() refreshed the view before archiving, so it already includes the new events.
    let current = log.view::<Readings>("readings")?.clone();
    print_readings("readings view", &current);

    // A view created now has no snapshot: its first refresh replays the archive (every frame,
    // one after the other) and then the active log, and must reach the same state.
    let mut fresh = View::new("readings_from_scratch", readings_reducer, log.views_dir());
    let rebuilt = fresh.refresh(&log.reader())?;
    print_readings("new view", rebuilt);
    let expected_sum: u64 = (0..FIRST_BATCH + SECOND_BATCH).map(value_of).sum();
    if *rebuilt != current || current.sum != expected_sum || current.out_of_order != 0 {
        return Err("the state is not continuous across rotations".into());
    }
    println!("same state, sum {expected_sum} as expected: no event lost or repeated");

    // rotation.json records what the last rotation archived, so that a crash in the middle of
    // a rotation can be repaired when the log is next opened; the next append removes it.
    println!("== {} at the end", dir.display());
    list_dir(&dir)?;
    Ok(())
}

fn print_readings(label: &str, r: &Readings) {
    println!(
        "{label}: {} readings, sum {}, next seq {}, {} out of order",
        r.count, r.sum, r.next_seq, r.out_of_order
    );
}

/// Prints the directory's entries, sorted, with file sizes.
fn list_dir(dir: &Path) -> Result<(), Box<dyn Error>> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let meta = entry.metadata()?;
        if meta.is_dir() {
            println!("  {name}/");
        } else {
            println!("  {name:<20} {:>6} bytes", meta.len());
        }
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

// Expected output (sizes depend on the timestamps and the zstd version and may differ a little):
//
// == appending 60 events with max_log_size(1024)
// event 16: app.jsonl reached 1069 bytes -> rotation 1
// event 33: app.jsonl reached 1078 bytes -> rotation 2
// event 50: app.jsonl reached 1079 bytes -> rotation 3
// 3 automatic rotations
// == ./data-rotation after the automatic rotations
//   app.jsonl               572 bytes
//   archive.jsonl.zst       512 bytes
//   views/
// readings view: 60 readings, sum 534, next seq 60, 0 out of order
// read_full(): 60 events (archive, then app.jsonl)
// == manual rotate()
// app.jsonl: 889 -> 0 bytes; archive.jsonl.zst: 512 -> 674 bytes
// readings view: 65 readings, sum 576, next seq 65, 0 out of order
// new view: 65 readings, sum 576, next seq 65, 0 out of order
// same state, sum 576 as expected: no event lost or repeated
// == ./data-rotation at the end
//   app.jsonl                 0 bytes
//   archive.jsonl.zst       674 bytes
//   rotation.json           128 bytes
//   views/
