//! Errors: what each read path reports for a malformed line or a damaged archive (kind, typed
//! `eventfold::Error`, position, message), what a view keeps after such an error, the names
//! and registrations the builder refuses, the writer lock, and the thread-safety of the handles.

mod common;

use std::collections::HashMap;
use std::fs;
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};

use common::{
    TodoState, counter_reducer, fold_model, line_of, lines_of, numbered_event, numbered_events,
    read_active, test_dir, todo_added, todo_completed, todo_reducer, trace_reducer,
};
use eventfold::{Error, Event, EventLog, EventReader, EventRef, EventWriter, View};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The `Malformed` error `err` carries, after checking its kind and its message.
fn expect_malformed(err: &io::Error, path: &Path, offset: u64, line: u64, what: &str) {
    assert_eq!(err.kind(), ErrorKind::InvalidData, "{what}: kind of {err}");
    match Error::from_io(err) {
        Some(Error::Malformed {
            path: p,
            offset: o,
            line: l,
            reason,
        }) => {
            assert_eq!(p, path, "{what}: path");
            assert_eq!((*o, *l), (offset, line), "{what}: offset and line");
            assert!(!reason.is_empty(), "{what}: a reason is given");
        }
        other => panic!("{what}: expected Error::Malformed, got {other:?} ({err})"),
    }
    let message = err.to_string();
    for needle in [
        path.display().to_string(),
        format!("byte {offset}"),
        format!("line {line}"),
    ] {
        assert!(
            message.contains(&needle),
            "{what}: message {message:?} lacks {needle:?}"
        );
    }
}

fn expect_archive_error(err: &io::Error, path: &Path, frame_offset: u64, what: &str) {
    assert_eq!(err.kind(), ErrorKind::InvalidData, "{what}: kind of {err}");
    match Error::from_io(err) {
        Some(Error::Archive {
            path: p,
            frame_offset: o,
            reason,
        }) => {
            assert_eq!(p, path, "{what}: path");
            assert_eq!(*o, frame_offset, "{what}: frame offset");
            assert!(!reason.is_empty(), "{what}: a reason is given");
        }
        other => panic!("{what}: expected Error::Archive, got {other:?} ({err})"),
    }
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{what}: the message names the archive: {err}"
    );
}

/// Splits a read into the events before the first error and that error.
fn split_at_error<T>(items: impl Iterator<Item = io::Result<T>>) -> (Vec<T>, Option<io::Error>) {
    let mut good = Vec::new();
    let mut items = items;
    for item in items.by_ref() {
        match item {
            Ok(value) => good.push(value),
            Err(e) => {
                assert!(items.next().is_none(), "nothing is yielded after an error");
                return (good, Some(e));
            }
        }
    }
    (good, None)
}

fn full_history(reader: &EventReader) -> (Vec<Event>, Option<io::Error>) {
    let (good, err) = split_at_error(reader.read_full().unwrap());
    (good.into_iter().map(|(event, _)| event).collect(), err)
}

fn active_from(reader: &EventReader, offset: u64) -> (Vec<Event>, Option<io::Error>) {
    let (good, err) = split_at_error(reader.read_from(offset).unwrap());
    (good.into_iter().map(|(event, _, _)| event).collect(), err)
}

fn count_ref(state: u64, _event: &EventRef<'_>) -> u64 {
    state + 1
}

fn new_dir_with_log(content: &[u8]) -> tempfile::TempDir {
    let dir = test_dir();
    fs::create_dir(dir.path().join("views")).unwrap();
    fs::write(dir.path().join("app.jsonl"), content).unwrap();
    dir
}

/// Bad lines of several kinds, each followed by what the parser should still call malformed.
fn bad_lines() -> Vec<&'static str> {
    vec![
        r#"{"type":"broken","data":"#,
        "not json at all",
        r#"{"type":"no_ts","data":{}}"#,
        r#"{"type":"a","data":{},"ts":"yesterday"}"#,
        r#"{"type":"a","data":{},"ts":1} trailing"#,
        "[1,2,3]",
    ]
}

// ---------------------------------------------------------------------------------------------
// A malformed line in the active log
// ---------------------------------------------------------------------------------------------

/// `before` events, a blank line, the bad line, then `after` events: the bad line is line
/// `before.len() + 2` and starts at the returned offset.
fn log_with_bad_line(before: &[Event], bad: &str, after: &[Event]) -> (Vec<u8>, u64, u64) {
    let mut content = lines_of(before).into_bytes();
    content.push(b'\n');
    let offset = content.len() as u64;
    content.extend_from_slice(bad.as_bytes());
    content.push(b'\n');
    content.extend_from_slice(lines_of(after).as_bytes());
    (content, offset, before.len() as u64 + 2)
}

#[test]
fn a_malformed_line_is_reported_with_its_position_by_every_read() {
    for bad in bad_lines() {
        let what = format!("bad line {bad:?}");
        let before = vec![todo_added("one"), todo_added("twö"), todo_completed(0)];
        let after = numbered_events(0, 2);
        let (content, offset, line) = log_with_bad_line(&before, bad, &after);
        let dir = new_dir_with_log(&content);
        let reader = EventReader::new(dir.path());
        let log_path = dir.path().join("app.jsonl");

        let (good, err) = active_from(&reader, 0);
        assert_eq!(good, before, "{what}: read_from(0) before the bad line");
        expect_malformed(
            &err.unwrap(),
            &log_path,
            offset,
            line,
            &format!("{what}, read_from"),
        );

        // From every line boundary before the bad line: the same absolute position.
        let mut start = 0;
        for (i, event) in before.iter().enumerate() {
            start += line_of(event).len() as u64;
            let (good, err) = active_from(&reader, start);
            assert_eq!(good, before[i + 1..], "{what}: read_from({start})");
            expect_malformed(
                &err.unwrap(),
                &log_path,
                offset,
                line,
                &format!("{what}, read_from({start})"),
            );
        }
        let (good, err) = active_from(&reader, offset);
        assert!(good.is_empty());
        expect_malformed(
            &err.unwrap(),
            &log_path,
            offset,
            line,
            "read_from(bad line)",
        );

        // Past the bad line, the rest reads fine.
        let past = offset + bad.len() as u64 + 1;
        let (good, err) = active_from(&reader, past);
        assert_eq!(good, after, "{what}: read_from past the bad line");
        assert!(err.is_none());

        let (good, err) = full_history(&reader);
        assert_eq!(good, before, "{what}: read_full before the bad line");
        expect_malformed(
            &err.unwrap(),
            &log_path,
            offset,
            line,
            &format!("{what}, read_full"),
        );
    }
}

#[test]
fn a_view_keeps_the_events_before_a_malformed_line() {
    let before = vec![todo_added("one"), todo_added("two"), todo_completed(1)];
    let after = vec![todo_added("three")];
    let bad = r#"{"type":"todo_added","data":{"text":"x"},"ts":1"#;
    let (content, offset, line) = log_with_bad_line(&before, bad, &after);
    let dir = new_dir_with_log(&content);
    let reader = EventReader::new(dir.path());
    let log_path = dir.path().join("app.jsonl");
    let views = dir.path().join("views");

    let mut todos = View::new("todos", todo_reducer, &views);
    let err = todos.refresh(&reader).unwrap_err();
    expect_malformed(&err, &log_path, offset, line, "View::refresh");
    assert_eq!(todos.state(), &fold_model(&before, todo_reducer));
    // Refreshing again meets the same line again, without panicking or folding twice.
    let err = todos.refresh(&reader).unwrap_err();
    expect_malformed(&err, &log_path, offset, line, "second View::refresh");
    assert_eq!(todos.state(), &fold_model(&before, todo_reducer));

    let mut count = View::new_ref("count", count_ref, &views);
    let err = count.refresh(&reader).unwrap_err();
    expect_malformed(&err, &log_path, offset, line, "view_ref refresh");
    assert_eq!(*count.state(), before.len() as u64);

    {
        let mut log = EventLog::builder(dir.path())
            .view::<TodoState>("registered", todo_reducer)
            .view::<Vec<String>>("trace", trace_reducer)
            .open()
            .unwrap();
        let err = log.refresh_all().unwrap_err();
        expect_malformed(&err, &log_path, offset, line, "refresh_all");
        assert_eq!(
            log.view::<TodoState>("registered").unwrap(),
            &fold_model(&before, todo_reducer)
        );
        assert!(log.refresh_all().is_err());
    }

    // Once the line is repaired, the views carry on from where they stopped.
    let fixed = todo_added("fixed");
    let mut repaired = lines_of(&before);
    repaired.push('\n');
    repaired.push_str(&line_of(&fixed));
    repaired.push_str(&lines_of(&after));
    fs::write(&log_path, repaired).unwrap();
    let all: Vec<Event> = before
        .iter()
        .chain([&fixed])
        .chain(&after)
        .cloned()
        .collect();
    assert_eq!(
        todos.refresh(&reader).unwrap(),
        &fold_model(&all, todo_reducer)
    );
    assert_eq!(*count.refresh(&reader).unwrap(), all.len() as u64);
    let mut log = EventLog::builder(dir.path())
        .view::<TodoState>("registered", todo_reducer)
        .open()
        .unwrap();
    log.refresh_all().unwrap();
    assert_eq!(
        log.view::<TodoState>("registered").unwrap(),
        &fold_model(&all, todo_reducer)
    );
}

/// A bad line in the middle of the active log of a directory with an archive: a view replaying
/// the whole history keeps the archive and the good active lines.
#[test]
fn a_replaying_view_keeps_the_archive_and_the_lines_before_a_malformed_one() {
    let dir = test_dir();
    let archived = numbered_events(0, 3);
    let active = numbered_events(3, 2);
    {
        let mut log = EventLog::open(dir.path()).unwrap();
        log.append_batch(&archived).unwrap();
        log.rotate().unwrap();
        log.append_batch(&active).unwrap();
    }
    let log_path = dir.path().join("app.jsonl");
    common::append_bytes(&log_path, b"{oops}\n");
    let offset = lines_of(&active).len() as u64;
    let reader = EventReader::new(dir.path());
    let prefix: Vec<Event> = archived.iter().chain(&active).cloned().collect();

    let (good, err) = full_history(&reader);
    assert_eq!(good, prefix);
    expect_malformed(
        &err.unwrap(),
        &log_path,
        offset,
        3,
        "read_full after an archive",
    );

    let mut trace = View::new("trace", trace_reducer, &dir.path().join("views"));
    let err = trace.refresh(&reader).unwrap_err();
    expect_malformed(&err, &log_path, offset, 3, "replaying view");
    assert_eq!(trace.state(), &fold_model(&prefix, trace_reducer));
}

/// The same, with the bad line first in the active log: every event before it is in the
/// archive. View::refresh documents that "after an error in the active log the view keeps the
/// events folded before the bad line"; here it drops them and falls back to the default state.
#[test]
fn a_replaying_view_keeps_the_archive_when_the_first_active_line_is_malformed() {
    let dir = test_dir();
    let archived = numbered_events(0, 3);
    {
        let mut log = EventLog::open(dir.path()).unwrap();
        log.append_batch(&archived).unwrap();
        log.rotate().unwrap();
    }
    let log_path = dir.path().join("app.jsonl");
    fs::write(&log_path, "{oops}\n").unwrap();
    let reader = EventReader::new(dir.path());
    let mut trace = View::new("trace", trace_reducer, &dir.path().join("views"));
    let err = trace.refresh(&reader).unwrap_err();
    expect_malformed(&err, &log_path, 0, 1, "first active line");
    assert_eq!(trace.state(), &fold_model(&archived, trace_reducer));
}

// ---------------------------------------------------------------------------------------------
// A malformed line in the archive
// ---------------------------------------------------------------------------------------------

#[test]
fn a_malformed_archived_line_is_reported_at_its_decompressed_offset() {
    let dir = test_dir();
    fs::create_dir(dir.path().join("views")).unwrap();
    let first = numbered_events(0, 3);
    let second_good = vec![todo_added("a"), todo_added("b")];
    let active = numbered_events(10, 2);
    let frame1_content = lines_of(&first);
    let bad = r#"{"type":"todo_added","data":{"text":"c"}}"#;
    let frame2_content = format!(
        "{}\n{}\n{}",
        lines_of(&second_good),
        bad,
        line_of(&todo_completed(0))
    );
    // One frame with a declared content size (as this crate writes), one streamed (as 0.2.0).
    let mut archive = zstd::bulk::compress(frame1_content.as_bytes(), 3).unwrap();
    archive.extend(zstd::stream::encode_all(frame2_content.as_bytes(), 3).unwrap());
    let archive_path = dir.path().join("archive.jsonl.zst");
    fs::write(&archive_path, &archive).unwrap();
    fs::write(dir.path().join("app.jsonl"), lines_of(&active)).unwrap();

    // Byte and line in the decompressed stream: all of frame 1, then the second frame's good
    // lines and a blank line.
    let offset = (frame1_content.len() + lines_of(&second_good).len() + 1) as u64;
    let line = (first.len() + second_good.len() + 2) as u64;
    let prefix: Vec<Event> = first.iter().chain(&second_good).cloned().collect();
    let reader = EventReader::new(dir.path());

    let (good, err) = full_history(&reader);
    assert_eq!(good, prefix);
    let err = err.expect("the bad archived line is an error");
    expect_malformed(&err, &archive_path, offset, line, "read_full");
    assert!(
        err.to_string()
            .contains(&format!("decompressed byte {offset}"))
    );

    let views = dir.path().join("views");
    let mut trace = View::new("trace", trace_reducer, &views);
    let err = trace.rebuild(&reader).unwrap_err();
    expect_malformed(&err, &archive_path, offset, line, "rebuild");
    let err = trace.refresh(&reader).unwrap_err();
    expect_malformed(
        &err,
        &archive_path,
        offset,
        line,
        "refresh after the failed rebuild",
    );
    let mut count = View::new_ref("count", count_ref, &views);
    let err = count.refresh(&reader).unwrap_err();
    expect_malformed(&err, &archive_path, offset, line, "view_ref");

    // The active log alone is still readable.
    assert_eq!(read_active(&reader), active);

    // Once the archive is repaired, the views replay everything.
    let fixed = format!(
        "{}{}{}",
        lines_of(&second_good),
        line_of(&todo_added("c")),
        line_of(&todo_completed(0))
    );
    let mut archive = zstd::bulk::compress(frame1_content.as_bytes(), 3).unwrap();
    archive.extend(zstd::stream::encode_all(fixed.as_bytes(), 3).unwrap());
    fs::write(&archive_path, &archive).unwrap();
    let mut all = prefix.clone();
    all.push(todo_added("c"));
    all.push(todo_completed(0));
    all.extend(active.clone());
    assert_eq!(
        trace.refresh(&reader).unwrap(),
        &fold_model(&all, trace_reducer)
    );
    assert_eq!(*count.refresh(&reader).unwrap(), all.len() as u64);
}

// ---------------------------------------------------------------------------------------------
// A damaged archive
// ---------------------------------------------------------------------------------------------

/// A frame as this crate writes it: content size and checksum included.
fn checked_frame(content: &[u8]) -> Vec<u8> {
    let mut compressor = zstd::bulk::Compressor::new(3).unwrap();
    compressor.include_checksum(true).unwrap();
    compressor.include_contentsize(true).unwrap();
    compressor.compress(content).unwrap()
}

#[test]
fn a_damaged_archive_is_an_archive_error_not_a_panic() {
    let archived = numbered_events(0, 40);
    let content = lines_of(&archived);
    let frame = checked_frame(content.as_bytes());
    let streamed = zstd::stream::encode_all(content.as_bytes(), 3).unwrap();
    let flipped = {
        let mut f = frame.clone();
        let mid = f.len() / 2;
        f[mid] ^= 0x5a;
        f
    };
    let first_len = frame.len() as u64;
    // (what, archive bytes, offset of the failing frame, events read before it)
    let cases: Vec<(&str, Vec<u8>, u64, usize)> = vec![
        (
            "garbage",
            b"this is not a zstd archive at all".to_vec(),
            0,
            0,
        ),
        ("three bytes", vec![0x28, 0xb5, 0x2f], 0, 0),
        ("truncated frame", frame[..frame.len() / 2].to_vec(), 0, 0),
        (
            "truncated streamed frame",
            streamed[..streamed.len() - 3].to_vec(),
            0,
            0,
        ),
        ("corrupted byte", flipped.clone(), 0, 0),
        (
            "frame then garbage",
            [&frame[..], b"garbage!"].concat(),
            first_len,
            40,
        ),
        (
            "frame then truncated frame",
            [&frame[..], &frame[..9]].concat(),
            first_len,
            40,
        ),
        (
            "frame then corrupted frame",
            [&frame[..], &flipped[..]].concat(),
            first_len,
            40,
        ),
    ];
    for (what, bytes, frame_offset, good_count) in cases {
        let dir = test_dir();
        let active = numbered_events(100, 2);
        {
            let mut log = EventLog::open(dir.path()).unwrap();
            log.append_batch(&active).unwrap();
        }
        let archive_path = dir.path().join("archive.jsonl.zst");
        fs::write(&archive_path, &bytes).unwrap();
        let reader = EventReader::new(dir.path());

        let (good, err) = full_history(&reader);
        assert_eq!(
            good,
            archived[..good_count],
            "{what}: events before the damage"
        );
        let err = err.unwrap_or_else(|| panic!("{what}: read_full found no error"));
        expect_archive_error(
            &err,
            &archive_path,
            frame_offset,
            &format!("{what}, read_full"),
        );

        let views = dir.path().join("views");
        let mut trace = View::new("trace", trace_reducer, &views);
        let err = trace.rebuild(&reader).unwrap_err();
        expect_archive_error(
            &err,
            &archive_path,
            frame_offset,
            &format!("{what}, rebuild"),
        );
        let err = trace.refresh(&reader).unwrap_err();
        expect_archive_error(
            &err,
            &archive_path,
            frame_offset,
            &format!("{what}, refresh"),
        );
        assert!(
            View::new_ref("count", count_ref, &views)
                .refresh(&reader)
                .is_err()
        );

        // The writer opens (it never reads the archive) and the active log is untouched.
        let mut log = EventLog::builder(dir.path())
            .view::<u64>("count", counter_reducer)
            .open()
            .unwrap();
        assert_eq!(read_active(&log.reader()), active, "{what}");
        let err = log.refresh_all().unwrap_err();
        expect_archive_error(
            &err,
            &archive_path,
            frame_offset,
            &format!("{what}, refresh_all"),
        );
        log.append(&numbered_event("tick", 500)).unwrap();
    }
}

#[test]
fn an_empty_archive_file_holds_no_events() {
    let dir = test_dir();
    let active = numbered_events(0, 2);
    {
        let mut log = EventLog::open(dir.path()).unwrap();
        log.append_batch(&active).unwrap();
    }
    fs::write(dir.path().join("archive.jsonl.zst"), b"").unwrap();
    let (good, err) = full_history(&EventReader::new(dir.path()));
    assert!(err.is_none(), "{err:?}");
    assert_eq!(good, active);
}

// ---------------------------------------------------------------------------------------------
// View names
// ---------------------------------------------------------------------------------------------

const INVALID_NAMES: [&str; 6] = ["", "a/b", "..", "a\\b", "../escape", "/abs"];

#[test]
fn invalid_view_names_are_refused_by_open() {
    let dir = test_dir();
    for name in INVALID_NAMES {
        for by_ref in [false, true] {
            let builder = EventLog::builder(dir.path()).view::<u64>("fine", counter_reducer);
            let builder = if by_ref {
                builder.view_ref::<u64>(name, count_ref)
            } else {
                builder.view::<u64>(name, counter_reducer)
            };
            let err = builder.open().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{name:?}: {err}");
            match Error::from_io(&err) {
                Some(Error::InvalidViewName { name: refused, .. }) => {
                    assert_eq!(refused, name)
                }
                other => panic!("{name:?}: expected InvalidViewName, got {other:?}"),
            }
            assert!(err.to_string().contains(&format!("{name:?}")), "{err}");
        }
    }
    // Nothing was left behind: no lock, no file outside `views/`.
    let mut log = EventLog::builder(dir.path())
        .view::<u64>("fine", counter_reducer)
        .open()
        .expect("a refused open holds no lock");
    log.append(&numbered_event("tick", 1)).unwrap();
    log.refresh_all().unwrap();
    assert!(!dir.path().join("a").exists());
    assert!(!dir.path().join("escape.snapshot.json").exists());
    let mut names: Vec<String> = fs::read_dir(dir.path().join("views"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["fine.snapshot.json"]);
}

#[test]
fn a_standalone_view_with_an_invalid_name_refuses_to_refresh() {
    let dir = test_dir();
    let writer = EventWriter::open(dir.path()).unwrap();
    for name in INVALID_NAMES {
        let mut view: View<u64> = View::new(name, counter_reducer, writer.views_dir());
        let err = view.refresh(&writer.reader()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{name:?}");
        assert!(matches!(
            Error::from_io(&err),
            Some(Error::InvalidViewName { .. })
        ));
        let err = view.rebuild(&writer.reader()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{name:?}");
    }
}

#[test]
fn unusual_but_valid_view_names_are_accepted() {
    let dir = test_dir();
    let names = ["with space", "ünïcödé", "a.b", "-", "UPPER_lower-123", "🎉"];
    let mut builder = EventLog::builder(dir.path());
    for name in names {
        builder = builder.view::<u64>(name, counter_reducer);
    }
    let mut log = builder.open().unwrap();
    log.append(&numbered_event("tick", 1)).unwrap();
    log.refresh_all().unwrap();
    for name in names {
        assert_eq!(*log.view::<u64>(name).unwrap(), 1, "{name:?}");
        assert!(
            common::snapshot_path(log.views_dir(), name).is_file(),
            "{name:?}"
        );
    }
}

#[test]
fn duplicate_view_names_are_refused() {
    let dir = test_dir();
    let builders = [
        EventLog::builder(dir.path())
            .view::<u64>("dup", counter_reducer)
            .view::<u64>("dup", counter_reducer),
        EventLog::builder(dir.path())
            .view::<u64>("dup", counter_reducer)
            .view::<u64>("other", counter_reducer)
            .view_ref::<u64>("dup", count_ref),
        EventLog::builder(dir.path())
            .view_ref::<u64>("dup", count_ref)
            .view::<Vec<String>>("dup", trace_reducer),
    ];
    for builder in builders {
        let err = builder.open().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        match Error::from_io(&err) {
            Some(Error::DuplicateView { name }) => assert_eq!(name, "dup"),
            other => panic!("expected DuplicateView, got {other:?}"),
        }
        assert!(err.to_string().contains("\"dup\""), "{err}");
    }
    EventLog::builder(dir.path())
        .view::<u64>("dup", counter_reducer)
        .open()
        .expect("a refused open holds no lock");
}

// ---------------------------------------------------------------------------------------------
// Threads
// ---------------------------------------------------------------------------------------------

#[test]
fn handles_are_send_and_the_reader_is_sync_and_clone() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    fn clone<T: Clone>() {}
    fn error_payload<T: std::error::Error + Send + Sync + 'static>() {}
    send::<EventLog>();
    send::<EventWriter>();
    send::<EventReader>();
    sync::<EventReader>();
    clone::<EventReader>();
    error_payload::<Error>();

    // And at run time: the log moves to another thread, readers are shared by reference.
    let dir = test_dir();
    let log = EventLog::builder(dir.path())
        .view::<u64>("count", counter_reducer)
        .open()
        .unwrap();
    let log = std::thread::spawn(move || {
        let mut log = log;
        log.append_batch(&numbered_events(0, 5)).unwrap();
        log.refresh_all().unwrap();
        log
    })
    .join()
    .unwrap();
    assert_eq!(*log.view::<u64>("count").unwrap(), 5);
    let reader = log.reader();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..3)
            .map(|_| scope.spawn(|| read_active(&reader).len()))
            .collect();
        for handle in handles {
            assert_eq!(handle.join().unwrap(), 5);
        }
    });
}

// ---------------------------------------------------------------------------------------------
// The writer lock
// ---------------------------------------------------------------------------------------------

fn expect_locked(result: io::Result<impl Sized>, what: &str) {
    let Err(err) = result else {
        panic!("{what}: a second writer was allowed");
    };
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{what}: {err}");
    assert!(err.to_string().contains("app.jsonl"), "{what}: {err}");
}

#[test]
fn a_second_writer_is_refused() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    expect_locked(EventLog::open(dir.path()), "EventLog beside EventLog");
    expect_locked(EventWriter::open(dir.path()), "EventWriter beside EventLog");
    expect_locked(
        EventLog::builder(dir.path())
            .view::<u64>("count", counter_reducer)
            .open(),
        "builder beside EventLog",
    );
    // Refused attempts change nothing for the holder.
    log.append(&numbered_event("tick", 1)).unwrap();
    drop(log);
    let _again = EventLog::open(dir.path()).expect("the lock goes with the log");
}

#[test]
fn a_second_writer_is_refused_after_a_rotation() {
    let dir = test_dir();
    let mut log = EventLog::builder(dir.path())
        .view::<u64>("count", counter_reducer)
        .open()
        .unwrap();
    log.append_batch(&numbered_events(0, 3)).unwrap();
    log.rotate().unwrap();
    expect_locked(EventLog::open(dir.path()), "after rotate");
    log.append(&numbered_event("tick", 3)).unwrap();
    expect_locked(EventWriter::open(dir.path()), "after rotate and append");
    drop(log);

    // Auto-rotation, and a bare writer's rotation.
    let mut log = EventLog::builder(dir.path())
        .max_log_size(200)
        .open()
        .unwrap();
    log.append_batch(&numbered_events(10, 5)).unwrap();
    assert_eq!(
        log.active_log_size().unwrap(),
        0,
        "the batch crossed the threshold"
    );
    expect_locked(EventLog::open(dir.path()), "after auto-rotation");
    drop(log);

    let mut writer = EventWriter::open(dir.path()).unwrap();
    writer.append(&numbered_event("tick", 20)).unwrap();
    writer
        .rotate(&writer.reader(), &mut HashMap::new())
        .unwrap();
    expect_locked(EventWriter::open(dir.path()), "after EventWriter::rotate");
    drop(writer);
    let reader = EventReader::new(dir.path());
    assert_eq!(common::read_all(&reader).len(), 3 + 1 + 5 + 1);
}

#[test]
fn the_lock_error_names_the_log_file() {
    let dir = test_dir();
    let _log = EventLog::open(dir.path()).unwrap();
    let err = EventLog::open(dir.path()).unwrap_err();
    let log_path: PathBuf = dir.path().join("app.jsonl");
    assert!(
        err.to_string().contains(&log_path.display().to_string()),
        "the message gives the full path: {err}"
    );
}
