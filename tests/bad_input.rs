//! Bad input, bounded: every kind of damaged or hostile file content gets a clear error (or a
//! documented recovery) and never a panic, a stack overflow or an allocation out of proportion
//! to the input.
//!
//! A gigantic line (64 MiB), nesting 100 000 levels deep, invalid UTF-8, NUL bytes, snapshots
//! of the wrong shape or a gigabyte of garbage, and an archive cut short in the middle of a
//! frame. Memory is measured with a counting allocator that keeps a per-thread tally, so a
//! test can tell how much one call allocated on its own thread.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fs;
use std::io::{self, Write};
use std::path::Path;

use common::{append_all, counter_reducer, lines_of, numbered_event, numbered_events, test_dir};
use eventfold::{Error, Event, EventLog, EventReader, EventRef, EventWriter, View, snapshot};
use serde_json::json;

// ---------------------------------------------------------------------------------------------
// A counting allocator: live bytes and their peak, per thread.

struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn track(grow: usize, shrink: usize) {
    // `try_with`: nothing is counted while a thread's locals are being torn down.
    let _ = LIVE.try_with(|live| {
        let now = (live.get() + grow).saturating_sub(shrink);
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call is forwarded unchanged to the system allocator; the bookkeeping touches
// only const-initialized thread-locals of plain integers, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            track(layout.size(), 0);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            track(layout.size(), 0);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with this layout (every allocation is).
        unsafe { System.dealloc(ptr, layout) };
        track(0, layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`; the caller guarantees `new_size` is valid for the layout.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            track(new_size, layout.size());
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns its result with the most bytes it had allocated at once on this
/// thread (beyond what was live when it started).
fn peak_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(base));
    let out = f();
    (out, PEAK.with(Cell::get) - base)
}

const MIB: usize = 1 << 20;

// ---------------------------------------------------------------------------------------------
// Helpers.

/// The eventfold error inside `err`, which must carry one.
fn inner(err: &io::Error) -> &Error {
    Error::from_io(err).unwrap_or_else(|| panic!("no eventfold error inside {err:?}"))
}

/// The offset and line number of a malformed-line error.
fn malformed_at(err: &io::Error) -> (u64, u64) {
    match inner(err) {
        Error::Malformed { offset, line, .. } => (*offset, *line),
        other => panic!("expected a malformed-line error, got {other:?}"),
    }
}

/// Reads the whole history: the events before the first error, and that error.
fn read_until_error(reader: &EventReader) -> (Vec<Event>, Option<io::Error>) {
    let mut events = Vec::new();
    for item in reader.read_full().expect("read_full could not start") {
        match item {
            Ok((event, _hash)) => events.push(event),
            Err(e) => return (events, Some(e)),
        }
    }
    (events, None)
}

/// Reads the active log from 0: the events before the first error, and that error.
fn read_active_until_error(reader: &EventReader) -> (Vec<Event>, Option<io::Error>) {
    let mut events = Vec::new();
    for item in reader.read_from(0).expect("read_from could not start") {
        match item {
            Ok((event, _, _)) => events.push(event),
            Err(e) => return (events, Some(e)),
        }
    }
    (events, None)
}

fn count_ref(n: u64, _event: &EventRef<'_>) -> u64 {
    n + 1
}

/// Writes `app.jsonl` in a fresh directory with `bytes`, and the `views/` directory.
fn dir_with_log(bytes: &[u8]) -> tempfile::TempDir {
    let dir = test_dir();
    fs::create_dir(dir.path().join("views")).unwrap();
    fs::write(dir.path().join("app.jsonl"), bytes).unwrap();
    dir
}

/// Checks that a log whose line number `bad_line` (1-based) starting at byte `bad_offset` is
/// malformed is refused the same way by every read path, each keeping what came before it.
fn assert_refused_everywhere(dir: &Path, good_before: usize, bad_offset: u64, bad_line: u64) {
    let reader = EventReader::new(dir);
    let (events, err) = read_until_error(&reader);
    assert_eq!(
        events.len(),
        good_before,
        "read_full: events before the bad line"
    );
    let err = err.expect("read_full: no error for the bad line");
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert_eq!(
        malformed_at(&err),
        (bad_offset, bad_line),
        "read_full: {err}"
    );
    assert!(err.to_string().contains("app.jsonl"), "{err}");

    let (events, err) = read_active_until_error(&reader);
    assert_eq!(
        events.len(),
        good_before,
        "read_from: events before the bad line"
    );
    let err = err.expect("read_from: no error for the bad line");
    assert_eq!(
        malformed_at(&err),
        (bad_offset, bad_line),
        "read_from: {err}"
    );

    let views = test_dir();
    let mut owned = View::new("count", counter_reducer, views.path());
    let err = owned.refresh(&reader).expect_err("owned view: no error");
    assert_eq!(
        malformed_at(&err),
        (bad_offset, bad_line),
        "owned view: {err}"
    );
    assert_eq!(
        *owned.state(),
        good_before as u64,
        "owned view keeps the good prefix"
    );
    let mut borrowed = View::new_ref("count-ref", count_ref, views.path());
    let err = borrowed
        .refresh(&reader)
        .expect_err("zero-copy view: no error");
    assert_eq!(
        malformed_at(&err),
        (bad_offset, bad_line),
        "zero-copy view: {err}"
    );
    assert_eq!(*borrowed.state(), good_before as u64);
}

/// The line `{"type":"big","data":"<len bytes of x>","ts":1}` with `tail` in place of the
/// closing `","ts":1}` when given.
fn big_line(len: usize, tail: Option<&[u8]>) -> Vec<u8> {
    let mut line = Vec::with_capacity(len + 64);
    line.extend_from_slice(br#"{"type":"big","data":""#);
    line.resize(line.len() + len, b'x');
    line.extend_from_slice(tail.unwrap_or(br#"","ts":1}"#));
    line
}

// ---------------------------------------------------------------------------------------------
// A gigantic line.

#[test]
fn a_64_mib_line_is_appended_and_read_by_every_path() {
    let tmp = test_dir();
    let len = 64 * MIB;
    let big = Event::new("big", json!("x".repeat(len)));
    let mut log = EventLog::builder(tmp.path())
        .view::<u64>("count", counter_reducer)
        .view_ref::<u64>("count-ref", count_ref)
        .open()
        .unwrap();
    log.append(&numbered_event("tick", 0)).unwrap();
    log.append(&big).unwrap();
    log.append(&numbered_event("tick", 1)).unwrap();
    drop(big);

    let reader = log.reader();
    let (events, err) = read_until_error(&reader);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(events.len(), 3);
    assert_eq!(events[1].data.as_str().map(str::len), Some(len));
    drop(events);
    let (events, err) = read_active_until_error(&reader);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(events.len(), 3);
    drop(events);
    log.refresh_all().unwrap();
    assert_eq!(*log.view::<u64>("count").unwrap(), 3);
    assert_eq!(*log.view::<u64>("count-ref").unwrap(), 3);

    // A rotation puts the line in the archive; it is read back from there too.
    log.rotate().unwrap();
    let (events, err) = read_until_error(&reader);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(events.len(), 3);
    assert_eq!(events[1].data.as_str().map(str::len), Some(len));
    drop(events);
    let views = test_dir();
    let rebuilt = *View::new_ref("fresh", count_ref, views.path())
        .rebuild(&reader)
        .unwrap();
    assert_eq!(rebuilt, 3);
}

#[test]
fn a_64_mib_malformed_line_is_an_error_naming_its_offset() {
    let first = lines_of(&numbered_events(0, 1)).into_bytes();
    let after = lines_of(&numbered_events(1, 1)).into_bytes();
    // The string never closes; a bad escape at its very end; a raw control character.
    let cases: [(&str, &[u8]); 3] = [
        ("unterminated", b""),
        ("bad escape", br#"\q","ts":1}"#),
        ("control character", b"\x01\",\"ts\":1}"),
    ];
    for (what, tail) in cases {
        let line = big_line(64 * MIB, Some(tail));
        assert!(EventRef::parse(&line).is_err(), "{what}: EventRef::parse");
        let mut log = first.clone();
        log.extend_from_slice(&line);
        drop(line);
        log.push(b'\n');
        log.extend_from_slice(&after);
        let dir = dir_with_log(&log);
        drop(log);
        assert_refused_everywhere(dir.path(), 1, first.len() as u64, 2);
    }
}

#[test]
fn a_64_mib_torn_tail_is_not_read_and_is_cut_by_the_next_writer() {
    let mut log = lines_of(&numbered_events(0, 2)).into_bytes();
    let committed = log.len() as u64;
    log.extend_from_slice(&big_line(64 * MIB, None)); // no newline: an append cut short
    let dir = dir_with_log(&log);
    drop(log);
    let reader = EventReader::new(dir.path());
    let (events, err) = read_until_error(&reader);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(events, numbered_events(0, 2));

    let mut writer = EventWriter::open(dir.path()).unwrap();
    assert_eq!(writer.active_log_size().unwrap(), committed);
    writer.append(&numbered_event("tick", 2)).unwrap();
    let (events, err) = read_until_error(&reader);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(events, numbered_events(0, 3));
}

// ---------------------------------------------------------------------------------------------
// Deep nesting.

/// Runs `f` on a thread with a small stack: recursion that depended on the input would
/// overflow it.
fn on_small_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(512 << 10)
            .spawn_scoped(scope, f)
            .expect("cannot start a thread")
            .join()
            .expect("the thread panicked")
    })
}

#[test]
fn nesting_100_000_deep_is_refused_without_deep_recursion() {
    let depth = 100_000;
    let closed = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let unclosed = "[".repeat(depth);
    let object = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
    let first = lines_of(&numbered_events(0, 1));
    for (what, value) in [
        ("closed arrays", &closed),
        ("unclosed arrays", &unclosed),
        ("objects", &object),
    ] {
        // (An unknown field may nest deeper: see the test below.)
        for line in [
            format!(r#"{{"type":"a","data":{value},"ts":1}}"#),
            format!(r#"{{"type":"a","data":1,"ts":1,"meta":{value}}}"#),
        ] {
            on_small_stack(|| {
                let err = EventRef::parse(line.as_bytes()).expect_err(what);
                assert_eq!(err.kind(), io::ErrorKind::InvalidData);
                assert!(
                    serde_json::from_str::<Event>(&line).is_err(),
                    "{what}: serde_json"
                );
                let dir = dir_with_log(format!("{first}{line}\n").as_bytes());
                assert_refused_everywhere(dir.path(), 1, first.len() as u64, 2);
            });
        }
    }
}

#[test]
fn nesting_100_000_deep_in_a_snapshot_is_a_cache_miss() {
    let tmp = test_dir();
    let mut log = EventLog::open(tmp.path()).unwrap();
    append_all(&mut log, &numbered_events(0, 3));
    let path = log.views_dir().join("count.snapshot.json");
    let deep = format!(
        r#"{{"state":{}{},"offset":0,"hash":""}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    fs::write(&path, deep).unwrap();
    let (views, reader) = (log.views_dir(), log.reader());
    on_small_stack(|| {
        assert!(
            snapshot::load::<serde_json::Value>(&path)
                .unwrap()
                .is_none()
        );
        let mut view = View::new("count", counter_reducer, views);
        assert_eq!(*view.refresh(&reader).unwrap(), 3);
    });
}

// ---------------------------------------------------------------------------------------------
// Invalid UTF-8 and NUL bytes.

#[test]
fn invalid_utf8_is_an_error_naming_the_line() {
    let first = lines_of(&numbered_events(0, 2)).into_bytes();
    let cases: [&[u8]; 7] = [
        b"{\"type\":\"a\",\"data\":\"\xff\xfe\",\"ts\":1}",
        b"{\"type\":\"\xc3\",\"data\":1,\"ts\":1}",
        b"{\"type\":\"a\",\"data\":{\"\xe2\x82\":1},\"ts\":1}",
        b"{\"type\":\"a\",\"data\":\"\xc0\xaf\",\"ts\":1}",
        b"{\"type\":\"a\",\"data\":\"\xed\xa0\x80\",\"ts\":1}",
        b"{\"type\":\"a\",\"data\":1,\"ts\":1,\"x\":\"\xf4\x90\x80\x80\"}",
        b"{\"type\":\"a\",\"data\":1,\"ts\":1}\xff",
    ];
    for line in cases {
        assert!(EventRef::parse(line).is_err(), "EventRef::parse({line:?})");
        let mut log = first.clone();
        log.extend_from_slice(line);
        log.push(b'\n');
        log.extend_from_slice(lines_of(&numbered_events(2, 1)).as_bytes());
        let dir = dir_with_log(&log);
        assert_refused_everywhere(dir.path(), 2, first.len() as u64, 3);
    }
}

#[test]
fn raw_nul_bytes_are_refused_and_escaped_ones_are_kept() {
    let first = lines_of(&numbered_events(0, 1)).into_bytes();
    let cases: [&[u8]; 4] = [
        b"{\"type\":\"a\0\",\"data\":1,\"ts\":1}",
        b"{\"type\":\"a\",\"data\":1,\0\"ts\":1}",
        b"{\"type\":\"a\",\"data\":1,\"ts\":1}\0",
        // A block of NULs, as some file systems leave after a power cut, then a newline.
        &[0; 4096],
    ];
    for line in cases {
        assert!(EventRef::parse(line).is_err(), "EventRef::parse({line:?})");
        let mut log = first.clone();
        log.extend_from_slice(line);
        log.push(b'\n');
        let dir = dir_with_log(&log);
        assert_refused_everywhere(dir.path(), 1, first.len() as u64, 2);
    }

    // `\u0000` is a NUL character in a string: valid JSON, kept as it is.
    let line = br#"{"type":"a\u0000b","data":"\u0000","ts":1}"#;
    let event = EventRef::parse(line).unwrap();
    assert_eq!(event.event_type(), "a\0b");
    assert_eq!(event.to_event().data, json!("\0"));
    let tmp = test_dir();
    let mut log = EventLog::open(tmp.path()).unwrap();
    log.append(&event.to_event()).unwrap();
    let (events, err) = read_until_error(&log.reader());
    assert!(err.is_none(), "{err:?}");
    assert_eq!(events, [event.to_event()]);
}

#[test]
fn a_tail_of_nul_bytes_without_a_newline_is_cut_by_the_next_writer() {
    let mut log = lines_of(&numbered_events(0, 2)).into_bytes();
    let committed = log.len() as u64;
    log.extend_from_slice(&[0; 8192]);
    let dir = dir_with_log(&log);
    let (events, err) = read_until_error(&EventReader::new(dir.path()));
    assert!(err.is_none(), "{err:?}");
    assert_eq!(events.len(), 2);
    let writer = EventWriter::open(dir.path()).unwrap();
    assert_eq!(writer.active_log_size().unwrap(), committed);
}

// ---------------------------------------------------------------------------------------------
// Event lines in array form.

/// Checks that every read path takes `line` the same way, all reading it or all refusing it,
/// and returns whether they read it.
fn read_alike(line: &[u8]) -> bool {
    let dir = dir_with_log(&[line, b"\n"].concat());
    let reader = EventReader::new(dir.path());
    let (events, err) = read_until_error(&reader);
    let views = test_dir();
    let owned = View::new("count", counter_reducer, views.path())
        .refresh(&reader)
        .copied()
        .ok();
    let borrowed = View::new_ref("count-ref", count_ref, views.path())
        .refresh(&reader)
        .copied()
        .ok();
    let parsed = EventRef::parse(line).is_ok();
    assert_eq!(
        [err.is_none(), owned.is_some(), borrowed.is_some()],
        [parsed; 3],
        "read_full read {} events (error: {err:?}), the owned view gave {owned:?}, the \
         zero-copy view gave {borrowed:?}, EventRef::parse accepted: {parsed}",
        events.len()
    );
    parsed
}

/// serde_json alone would read an event from a JSON array of its fields in order; every read
/// path refuses such a line (the parse_line fuzz target found the two parsers disagreeing).
#[test]
fn an_event_line_in_array_form_is_refused_by_every_path() {
    assert!(!read_alike(br#"["a",{"k":1},5]"#));
    assert!(!read_alike(br#" ["a",{"k":1},5,"id","actor",null] "#));
}

/// An unknown field is skipped whatever its depth, without recursion, by every read path (as
/// serde_json skips it); only `data` and `meta` are held to 127 levels.
#[test]
fn deep_nesting_in_an_unknown_field_is_skipped_by_every_path() {
    for depth in [127, 128, 100_000] {
        let value = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let line = format!(r#"{{"type":"a","data":1,"ts":1,"unknown":{value}}}"#);
        assert!(
            on_small_stack(|| read_alike(line.as_bytes())),
            "depth {depth}"
        );
        let unclosed = format!(
            r#"{{"type":"a","data":1,"ts":1,"unknown":{}"#,
            "[".repeat(depth)
        );
        assert!(
            !on_small_stack(|| read_alike(unclosed.as_bytes())),
            "depth {depth}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Snapshots of the wrong shape, and a gigabyte of garbage.

#[test]
fn a_snapshot_of_the_wrong_shape_is_a_cache_miss() {
    let tmp = test_dir();
    let mut log = EventLog::open(tmp.path()).unwrap();
    let results = append_all(&mut log, &numbered_events(0, 4));
    let reader = log.reader();
    let path = log.views_dir().join("count.snapshot.json");
    let mid = &results[1];
    // Unparseable as a snapshot of a u64 state: `load` gives `None`.
    let unparseable = [
        String::new(),
        "null".to_string(),
        "[]".to_string(),
        "[7, 0, \"\"]garbage".to_string(),
        r#"{"state":"seven","offset":0,"hash":""}"#.to_string(),
        r#"{"state":-7,"offset":0,"hash":""}"#.to_string(),
        r#"{"state":7,"offset":-1,"hash":""}"#.to_string(),
        r#"{"state":7,"offset":"0","hash":""}"#.to_string(),
        r#"{"state":7,"offset":0,"hash":0}"#.to_string(),
        r#"{"state":7,"offset":0}"#.to_string(),
        r#"{"state":7,"offset":0,"hash":"","state":8}"#.to_string(),
        r#"{"state":7,"offset":0,"hash":""#.to_string(),
        format!(r#"{{"state":7,"offset":{}0,"hash":""}}"#, u64::MAX),
    ];
    // Parseable but not placeable in the log: the view does not trust them.
    let untrusted = [
        format!(
            r#"{{"state":7,"offset":{},"hash":"0000000000000000"}}"#,
            mid.end_offset
        ),
        format!(
            r#"{{"state":7,"offset":{},"hash":"{}"}}"#,
            mid.end_offset - 1,
            mid.line_hash
        ),
        format!(
            r#"{{"state":7,"offset":{},"hash":"{}"}}"#,
            u64::MAX,
            mid.line_hash
        ),
        format!(
            r#"{{"state":7,"offset":{},"hash":""}}"#,
            mid.end_offset + 1_000_000
        ),
    ];
    for (text, loads) in unparseable
        .iter()
        .map(|t| (t, false))
        .chain(untrusted.iter().map(|t| (t, true)))
    {
        fs::write(&path, text).unwrap();
        assert_eq!(
            snapshot::load::<u64>(&path).unwrap().is_some(),
            loads,
            "load of {text:?}"
        );
        let mut view = View::new("count", counter_reducer, log.views_dir());
        assert_eq!(*view.refresh(&reader).unwrap(), 4, "snapshot {text:?}");
        // The refresh replaced the bad snapshot with a good one.
        let saved = snapshot::load::<u64>(&path)
            .unwrap()
            .expect("a snapshot was saved");
        assert_eq!((saved.state, saved.offset), (4, results[3].end_offset));
    }
}

/// A sparse file of 1 GiB that starts like garbage (nothing but a few bytes is written).
fn gigabyte_of_garbage(path: &Path) {
    let mut file = fs::File::create(path).unwrap();
    file.write_all(b"\x89garbage{\"state\":").unwrap();
    file.set_len(1 << 30).unwrap();
}

/// A 1 GiB snapshot of garbage is a cache miss like any other: the view replays the log and
/// saves a good snapshot over it.
#[test]
fn a_gigabyte_garbage_snapshot_is_a_cache_miss() {
    let tmp = test_dir();
    let mut log = EventLog::open(tmp.path()).unwrap();
    let results = append_all(&mut log, &numbered_events(0, 3));
    let path = log.views_dir().join("count.snapshot.json");
    gigabyte_of_garbage(&path);
    assert!(snapshot::load::<u64>(&path).unwrap().is_none());
    let mut view = View::new("count", counter_reducer, log.views_dir());
    assert_eq!(*view.refresh(&log.reader()).unwrap(), 3);
    let saved = snapshot::load::<u64>(&path)
        .unwrap()
        .expect("a snapshot was saved");
    assert_eq!((saved.state, saved.offset), (3, results[2].end_offset));
    assert!(fs::metadata(&path).unwrap().len() < 1024);
}

/// Loading that snapshot does not read it into memory first (it used to: 1 GiB allocated).
#[test]
fn loading_a_gigabyte_garbage_snapshot_allocates_little() {
    let tmp = test_dir();
    let path = tmp.path().join("count.snapshot.json");
    gigabyte_of_garbage(&path);
    let (loaded, peak) = peak_allocation(|| snapshot::load::<u64>(&path));
    assert!(loaded.unwrap().is_none());
    assert!(
        peak < 64 * MIB,
        "loading a garbage snapshot allocated {} MiB",
        peak / MIB
    );
}

// ---------------------------------------------------------------------------------------------
// An archive cut short.

/// A log with three rotations (three frames of three events each) and three more events in
/// the active log. Returns the frame boundaries in the archive file.
fn rotated_log(dir: &Path) -> Vec<u64> {
    let mut log = EventLog::open(dir).unwrap();
    let mut ends = Vec::new();
    for frame in 0..3 {
        append_all(&mut log, &numbered_events(frame * 3, 3));
        log.rotate().unwrap();
        ends.push(fs::metadata(log.archive_path()).unwrap().len());
    }
    append_all(&mut log, &numbered_events(9, 3));
    ends
}

fn archive_error_offset(err: &io::Error) -> u64 {
    match inner(err) {
        Error::Archive { frame_offset, .. } => *frame_offset,
        other => panic!("expected an archive error, got {other:?}"),
    }
}

#[test]
fn an_archive_cut_mid_frame_is_an_error_naming_the_frame() {
    let probe = test_dir();
    let ends = rotated_log(probe.path());
    let frame_start = ends[1];
    let frame_len = ends[2] - ends[1];
    // Inside the frame header, in its middle, one byte short of its end.
    for cut in [frame_start + 3, frame_start + frame_len / 2, ends[2] - 1] {
        let tmp = test_dir();
        let dir = tmp.path();
        rotated_log(dir);
        let archive = dir.join("archive.jsonl.zst");
        fs::OpenOptions::new()
            .write(true)
            .open(&archive)
            .unwrap()
            .set_len(cut)
            .unwrap();
        let reader = EventReader::new(dir);

        let (events, err) = read_until_error(&reader);
        assert_eq!(
            events,
            numbered_events(0, 6),
            "cut at {cut}: the two whole frames"
        );
        let err = err.unwrap_or_else(|| panic!("cut at {cut}: no error"));
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(
            archive_error_offset(&err),
            frame_start,
            "cut at {cut}: {err}"
        );
        assert!(err.to_string().contains("archive.jsonl.zst"), "{err}");

        // A full replay fails the same way and leaves no snapshot behind.
        let views = test_dir();
        let mut view = View::new("count", counter_reducer, views.path());
        let err = view
            .rebuild(&reader)
            .expect_err("the rebuild read a cut archive");
        assert_eq!(archive_error_offset(&err), frame_start);
        assert!(!views.path().join("count.snapshot.json").exists());

        // No rotation record explains the cut, so opening does not repair it: the writer
        // opens, appends go on, and reading the history keeps failing the same clear way.
        let mut log = EventLog::builder(dir)
            .view::<u64>("count", counter_reducer)
            .open()
            .unwrap();
        log.append(&numbered_event("tick", 12)).unwrap();
        let err = log
            .refresh_all()
            .expect_err("refresh_all read a cut archive");
        assert_eq!(archive_error_offset(&err), frame_start);
        let (events, _) = read_active_until_error(&reader);
        assert_eq!(events.len(), 4, "the active log still reads");
    }
}

#[test]
fn garbage_after_the_last_frame_is_an_error_naming_its_offset() {
    let tmp = test_dir();
    let ends = rotated_log(tmp.path());
    let archive = tmp.path().join("archive.jsonl.zst");
    common::append_bytes(&archive, b"this is not a zstd frame");
    let (events, err) = read_until_error(&EventReader::new(tmp.path()));
    assert_eq!(events, numbered_events(0, 9));
    let err = err.expect("no error for the garbage");
    assert_eq!(archive_error_offset(&err), ends[2], "{err}");
}

#[test]
fn a_frame_declaring_a_huge_size_is_an_error_without_a_huge_allocation() {
    let tmp = test_dir();
    let dir = tmp.path();
    fs::create_dir(dir.join("views")).unwrap();
    fs::write(dir.join("app.jsonl"), b"").unwrap();
    // A frame whose header declares 2^40 bytes of content (an 8-byte content size field)
    // and whose data is one raw block of a single line.
    let content = lines_of(&numbered_events(0, 1)).into_bytes();
    let mut frame = Vec::new();
    frame.extend_from_slice(&0xFD2F_B528u32.to_le_bytes());
    frame.push(0b1110_0000); // content size: 8 bytes; single segment; no checksum
    frame.extend_from_slice(&(1u64 << 40).to_le_bytes());
    let block_header = 1 | ((content.len() as u32) << 3); // last block, raw
    frame.extend_from_slice(&block_header.to_le_bytes()[..3]);
    frame.extend_from_slice(&content);
    fs::write(dir.join("archive.jsonl.zst"), &frame).unwrap();

    let reader = EventReader::new(dir);
    let ((events, err), peak) = peak_allocation(|| read_until_error(&reader));
    assert!(peak < 64 * MIB, "reading allocated {} MiB", peak / MIB);
    // Either the frame is refused for lying about its size, or its one line is read; never
    // 1 TiB of memory.
    if let Some(err) = err {
        assert_eq!(archive_error_offset(&err), 0, "{err}");
        assert!(events.is_empty());
    } else {
        assert_eq!(events, numbered_events(0, 1));
    }
    let views = test_dir();
    let (rebuilt, peak) = peak_allocation(|| {
        View::new("count", counter_reducer, views.path())
            .rebuild(&reader)
            .copied()
    });
    assert!(peak < 64 * MIB, "the rebuild allocated {} MiB", peak / MIB);
    assert!(rebuilt.is_err() || rebuilt.unwrap() == 1);
}
