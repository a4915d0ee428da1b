//! Errors of the operating system name the file and the operation: opening and reading a log
//! whose `app.jsonl`, archive, archive index, rotation record, snapshot or `views/` cannot be
//! opened or read, and writing to a full device. Each error keeps the kind the OS gave.
//!
//! The tests may run as root, for whom permissions do not make a file unreadable, so failures
//! are made in ways that stop root too: a directory where a file should be (opening it to write
//! fails, and so does reading it), a plain file where a directory should be, and `/dev/full`.
//! Those are Unix's answers (Windows refuses to open a directory at all, and finds no path
//! under a file), so the tests run on Unix.

#![cfg(unix)]

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use eventfold::{Event, EventLog, EventReader, FileError, Position, View};
use serde_json::json;

fn count(n: u64, _event: &Event) -> u64 {
    n + 1
}

fn event(n: u64) -> Event {
    let mut event = Event::new("e", json!({ "n": n }));
    event.ts = 1_700_000_000 + n;
    event
}

/// A log with two events in the archive (and its index) and one in `app.jsonl`.
fn rotated_log() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut log = EventLog::open(dir.path()).unwrap();
    log.append(&event(0)).unwrap();
    log.append(&event(1)).unwrap();
    log.rotate().unwrap();
    log.append(&event(2)).unwrap();
    drop(log);
    dir
}

/// Replaces the file at `path` (if any) with an empty directory.
fn make_directory(path: &Path) {
    let _ = fs::remove_file(path);
    fs::create_dir(path).unwrap();
}

/// The first error of a read: of the call, or of the events it yields.
fn first_error<T, E>(read: io::Result<impl Iterator<Item = Result<T, E>>>) -> E
where
    E: From<io::Error>,
{
    match read {
        Err(e) => E::from(e),
        Ok(mut events) => match events.find_map(Result::err) {
            Some(e) => e,
            None => panic!("the read succeeded"),
        },
    }
}

/// Checks that `err` says `cannot OP PATH: ` followed by the OS's own message, with one of
/// the operations `ops`, and has the OS's kind.
fn expect(err: &io::Error, ops: &[&str], path: &Path, os: &io::Error, what: &str) {
    let message = err.to_string();
    assert_eq!(err.kind(), os.kind(), "{what}: kind of {message:?}");
    let named = ops
        .iter()
        .any(|op| message.starts_with(&format!("cannot {op} {}: ", path.display())));
    assert!(
        named,
        "{what}: {message:?} names neither the operation ({ops:?}) nor {}",
        path.display()
    );
    assert!(
        message.ends_with(&os.to_string()),
        "{what}: {message:?} ends with the OS's message {os}"
    );
}

/// What the OS says when a file that is a directory is read.
fn read_directory_error(path: &Path) -> io::Error {
    fs::read(path).expect_err("reading a directory fails")
}

#[test]
fn an_active_log_that_is_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("app.jsonl");
    make_directory(&log_path);
    let os = read_directory_error(&log_path);

    let reader = EventReader::new(dir.path());
    let err = first_error(reader.read_full());
    expect(&err, &["open", "read"], &log_path, &os, "read_full");
    let err = first_error(reader.read_from(0));
    expect(&err, &["open", "read"], &log_path, &os, "read_from");
    let err = reader.history_end().unwrap_err();
    expect(&err, &["open", "read"], &log_path, &os, "history_end");

    // The writer opens it to append, which fails at once; the kind is the OS's.
    let Err(err) = EventLog::open(dir.path()) else {
        panic!("a directory cannot be appended to")
    };
    let os = fs::OpenOptions::new()
        .append(true)
        .open(&log_path)
        .expect_err("a directory cannot be opened to append");
    expect(&err, &["open"], &log_path, &os, "EventLog::open");
    // The OS's error is the source, and the path can be read back.
    let source = std::error::Error::source(&err).expect("a source");
    assert_eq!(source.to_string(), os.to_string());
    let inner = FileError::from_io(&err).expect("a FileError inside");
    assert_eq!(
        (inner.operation(), inner.path()),
        ("open", log_path.as_path())
    );
}

#[test]
fn a_log_directory_under_a_plain_file() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("plain"), "not a directory").unwrap();
    let log_dir = dir.path().join("plain").join("log");
    let log_path = log_dir.join("app.jsonl");

    let os = fs::File::open(&log_path).expect_err("a path under a file");
    let err = first_error(EventReader::new(&log_dir).read_from(0));
    expect(&err, &["open"], &log_path, &os, "read_from");
    // The whole history starts with the archive's length.
    let archive = log_dir.join("archive.jsonl.zst");
    let err = first_error(EventReader::new(&log_dir).read_full());
    expect(&err, &["access"], &archive, &os, "read_full");

    let views = log_dir.join("views");
    let os = fs::create_dir_all(&views).expect_err("a path under a file");
    let Err(err) = EventLog::open(&log_dir) else {
        panic!("no log can be made under a file")
    };
    expect(
        &err,
        &["create the directory"],
        &views,
        &os,
        "EventLog::open",
    );
}

#[test]
fn an_archive_that_is_a_directory() {
    let dir = rotated_log();
    let archive = dir.path().join("archive.jsonl.zst");
    fs::remove_file(&archive).unwrap();
    make_directory(&archive);
    let os = read_directory_error(&archive);

    let reader = EventReader::new(dir.path());
    let err = first_error(reader.read_full());
    expect(&err, &["open", "read"], &archive, &os, "read_full");
    let err = reader.history_end().unwrap_err();
    expect(&err, &["open", "read"], &archive, &os, "history_end");

    let mut log = EventLog::builder(dir.path())
        .view::<u64>("count", count)
        .open()
        .unwrap();
    let err = log.refresh_all().unwrap_err();
    expect(&err, &["open", "read"], &archive, &os, "refresh_all");
}

#[test]
fn an_archive_index_that_is_a_directory() {
    let dir = rotated_log();
    let index = dir.path().join("archive.index.jsonl");
    make_directory(&index);
    let os = read_directory_error(&index);

    let reader = EventReader::new(dir.path());
    let err = reader.history_end().unwrap_err();
    expect(&err, &["read"], &index, &os, "history_end");
    // A read from a position past the start looks the position up in the index.
    let err = first_error(reader.read_history(Position::new(1)));
    expect(&err, &["read"], &index, &os, "read_history");
}

#[test]
fn a_rotation_record_that_is_a_directory() {
    let dir = rotated_log();
    let record = dir.path().join("rotation.json");
    make_directory(&record);
    let os = read_directory_error(&record);

    let err = first_error(EventReader::new(dir.path()).read_full());
    expect(&err, &["read"], &record, &os, "read_full");
    let Err(err) = EventLog::open(dir.path()) else {
        panic!("the record cannot be read")
    };
    expect(&err, &["read"], &record, &os, "EventLog::open");
}

#[test]
fn a_snapshot_that_is_a_directory() {
    let dir = rotated_log();
    let snapshot = dir.path().join("views").join("count.snapshot.json");
    make_directory(&snapshot);
    let os = read_directory_error(&snapshot);

    let mut log = EventLog::builder(dir.path())
        .view::<u64>("count", count)
        .open()
        .unwrap();
    let err = log.refresh_all().unwrap_err();
    expect(&err, &["open", "read"], &snapshot, &os, "refresh_all");

    let mut view: View<u64> = View::new("count", count, &dir.path().join("views"));
    let err = view.refresh(&EventReader::new(dir.path())).unwrap_err();
    expect(&err, &["open", "read"], &snapshot, &os, "View::refresh");

    let err = EventReader::new(dir.path()).snapshots().unwrap_err();
    expect(&err, &["read"], &snapshot, &os, "snapshots");
}

#[test]
fn a_views_directory_that_is_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let views: PathBuf = dir.path().join("views");
    fs::write(&views, "not a directory").unwrap();

    let os = fs::create_dir_all(&views).expect_err("a file is in the way");
    let Err(err) = EventLog::open(dir.path()) else {
        panic!("views/ cannot be made")
    };
    expect(
        &err,
        &["create the directory"],
        &views,
        &os,
        "EventLog::open",
    );

    fs::write(dir.path().join("app.jsonl"), "").unwrap();
    let os = fs::read_dir(&views).expect_err("a file is not a directory");
    let err = EventReader::new(dir.path()).snapshots().unwrap_err();
    expect(&err, &["list the directory"], &views, &os, "snapshots");
}

/// `app.jsonl` is `/dev/full`: the append's write fails with ENOSPC, and says where.
#[cfg(target_os = "linux")]
#[test]
fn an_append_to_a_full_device() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("app.jsonl");
    std::os::unix::fs::symlink("/dev/full", &log_path).unwrap();
    let mut log = EventLog::open(dir.path()).unwrap();
    let err = log.append(&event(0)).unwrap_err();
    let os = io::Error::from_raw_os_error(28);
    expect(&err, &["write"], &log_path, &os, "append");
    assert_eq!(err.kind(), io::ErrorKind::StorageFull);
}
