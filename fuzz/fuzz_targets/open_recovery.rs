//! Opening and recovery over arbitrary directory contents.
//!
//! The input describes a log directory: a flags byte saying which files exist, then
//! `app.jsonl`, `rotation.json` and `views/x.snapshot.json` (each a little-endian `u16` length
//! and that many bytes), and `archive.jsonl.zst` (the rest). Opening the log, refreshing its
//! view and reading the history must never panic; any `Err` is fine. Beyond that:
//!
//! - recovery must not change what a reader reads: when `read_full` succeeds before the writer
//!   opens, it reads the same events after the writer has repaired the directory (and after
//!   the rotation that `max_log_size` may trigger on open);
//! - with no snapshot to trust, the view equals the number of events read.

#![no_main]

use eventfold::{Event, EventLog, EventReader};
use libfuzzer_sys::fuzz_target;
use std::fs;
use std::path::Path;

const APP: u8 = 1;
const ARCHIVE: u8 = 2;
const RECORD: u8 = 4;
const SNAPSHOT: u8 = 8;
const NEXT: u8 = 16;
const ROTATE_ON_OPEN: u8 = 32;

fn count(n: u64, _event: &Event) -> u64 {
    n + 1
}

/// A scratch directory, on tmpfs when there is one: recovery and snapshots sync files, and
/// syncs on a disk would dominate the run.
fn scratch_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = tempfile::tempdir_in(shm)
    {
        return dir;
    }
    tempfile::tempdir().expect("cannot create a scratch directory")
}

/// Takes a `u16`-length-prefixed section from the front of `input`.
fn section<'a>(input: &mut &'a [u8]) -> &'a [u8] {
    let len = match *input {
        [a, b, ..] => usize::from(u16::from_le_bytes([*a, *b])),
        _ => 0,
    };
    let rest = input.get(2..).unwrap_or_default();
    let (taken, rest) = rest.split_at(len.min(rest.len()));
    *input = rest;
    taken
}

/// Every event of the history, or `None` when reading failed anywhere.
fn read_all(dir: &Path) -> Option<Vec<Event>> {
    EventReader::new(dir)
        .read_full()
        .ok()?
        .map(|item| item.ok().map(|(event, _hash)| event))
        .collect()
}

fuzz_target!(|input: &[u8]| {
    let Some((&flags, mut input)) = input.split_first() else {
        return;
    };
    let app = section(&mut input);
    let record = section(&mut input);
    let snapshot = section(&mut input);
    let archive = input;

    let tmp = scratch_dir();
    let dir = tmp.path();
    fs::create_dir(dir.join("views")).expect("cannot create views/");
    let files: [(u8, &str, &[u8]); 5] = [
        (APP, "app.jsonl", app),
        (ARCHIVE, "archive.jsonl.zst", archive),
        (RECORD, "rotation.json", record),
        (SNAPSHOT, "views/x.snapshot.json", snapshot),
        (NEXT, "app.jsonl.next", b""),
    ];
    for (flag, name, bytes) in files {
        if flags & flag != 0 {
            fs::write(dir.join(name), bytes).expect("cannot write a file");
        }
    }

    let before = read_all(dir);
    let mut builder = EventLog::builder(dir).view::<u64>("x", count);
    if flags & ROTATE_ON_OPEN != 0 {
        builder = builder.max_log_size(1);
    }
    let Ok(mut log) = builder.open() else {
        return;
    };
    let refreshed = log.refresh_all();
    let after = read_all(dir);
    if let Some(before) = &before {
        assert_eq!(
            after.as_ref(),
            Some(before),
            "recovery changed what readers read"
        );
    }
    if let (Ok(()), Some(after), 0) = (refreshed, &after, flags & SNAPSHOT) {
        let view = *log.view::<u64>("x").expect("the view is registered");
        assert_eq!(
            view,
            after.len() as u64,
            "the view differs from the history"
        );
    }
});
