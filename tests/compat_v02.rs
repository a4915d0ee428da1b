//! Compatibility with eventfold 0.2.0 (the dev-dependency `eventfold_v02`): the same calls
//! write the same bytes, and each crate reads the other's directories (events, archive frames,
//! snapshots) to the same events and view states.

mod common;

use std::fs;
use std::path::Path;

use common::{
    FIXED_TS, TodoState, counter_reducer, decompress_archive, fold_model, histogram_reducer,
    line_of, lines_of, numbered_events, snapshot_path, test_dir, todo_reducer, trace_reducer,
};
use eventfold::{Event, EventLog, EventReader, Snapshot, View, line_hash, snapshot};
use eventfold_v02 as v02;
use proptest::prelude::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;

// ---------------------------------------------------------------------------------------------
// Conversions and reducers for 0.2.0, written once over this crate's reducers
// ---------------------------------------------------------------------------------------------

fn to_v02(event: &Event) -> v02::Event {
    v02::Event {
        event_type: event.event_type.clone(),
        data: event.data.clone(),
        ts: event.ts,
        id: event.id.clone(),
        actor: event.actor.clone(),
        meta: event.meta.clone(),
    }
}

fn from_v02(event: &v02::Event) -> Event {
    Event {
        event_type: event.event_type.clone(),
        data: event.data.clone(),
        ts: event.ts,
        id: event.id.clone(),
        actor: event.actor.clone(),
        meta: event.meta.clone(),
    }
}

fn v02_count(state: u64, event: &v02::Event) -> u64 {
    counter_reducer(state, &from_v02(event))
}

fn v02_trace(state: Vec<String>, event: &v02::Event) -> Vec<String> {
    trace_reducer(state, &from_v02(event))
}

fn v02_todo(state: TodoState, event: &v02::Event) -> TodoState {
    todo_reducer(state, &from_v02(event))
}

fn v02_histogram(state: BTreeMap<String, u64>, event: &v02::Event) -> BTreeMap<String, u64> {
    histogram_reducer(state, &from_v02(event))
}

const VIEW_NAMES: [&str; 4] = ["count", "trace", "todos", "histogram"];

fn open_v03(dir: &Path) -> EventLog {
    EventLog::builder(dir)
        .view::<u64>("count", counter_reducer)
        .view::<Vec<String>>("trace", trace_reducer)
        .view::<TodoState>("todos", todo_reducer)
        .view::<BTreeMap<String, u64>>("histogram", histogram_reducer)
        .open()
        .expect("eventfold 0.3 could not open the log")
}

fn open_v02(dir: &Path) -> v02::EventLog {
    v02::EventLog::builder(dir)
        .view::<u64>("count", v02_count)
        .view::<Vec<String>>("trace", v02_trace)
        .view::<TodoState>("todos", v02_todo)
        .view::<BTreeMap<String, u64>>("histogram", v02_histogram)
        .open()
        .expect("eventfold 0.2 could not open the log")
}

/// The state of every view, as comparable JSON.
#[derive(Debug, PartialEq)]
struct ViewStates {
    count: u64,
    trace: Vec<String>,
    todos: TodoState,
    histogram: BTreeMap<String, u64>,
}

fn model_states(events: &[Event]) -> ViewStates {
    ViewStates {
        count: fold_model(events, counter_reducer),
        trace: fold_model(events, trace_reducer),
        todos: fold_model(events, todo_reducer),
        histogram: fold_model(events, histogram_reducer),
    }
}

fn v03_states(log: &EventLog) -> ViewStates {
    ViewStates {
        count: *log.view::<u64>("count").unwrap(),
        trace: log.view::<Vec<String>>("trace").unwrap().clone(),
        todos: log.view::<TodoState>("todos").unwrap().clone(),
        histogram: log
            .view::<BTreeMap<String, u64>>("histogram")
            .unwrap()
            .clone(),
    }
}

fn v02_states(log: &v02::EventLog) -> ViewStates {
    ViewStates {
        count: *log.view::<u64>("count").unwrap(),
        trace: log.view::<Vec<String>>("trace").unwrap().clone(),
        todos: log.view::<TodoState>("todos").unwrap().clone(),
        histogram: log
            .view::<BTreeMap<String, u64>>("histogram")
            .unwrap()
            .clone(),
    }
}

/// Views of this crate built from scratch (no snapshot) over `dir`.
fn v03_rebuilt(dir: &Path) -> ViewStates {
    let reader = EventReader::new(dir);
    let views = dir.join("views");
    ViewStates {
        count: *View::new("count", counter_reducer, &views)
            .rebuild(&reader)
            .unwrap(),
        trace: View::new("trace", trace_reducer, &views)
            .rebuild(&reader)
            .unwrap()
            .clone(),
        todos: View::new("todos", todo_reducer, &views)
            .rebuild(&reader)
            .unwrap()
            .clone(),
        histogram: View::new("histogram", histogram_reducer, &views)
            .rebuild(&reader)
            .unwrap()
            .clone(),
    }
}

fn v02_rebuilt(dir: &Path) -> ViewStates {
    let reader = v02::EventReader::new(dir);
    let views = dir.join("views");
    ViewStates {
        count: *v02::View::new("count", v02_count, &views)
            .rebuild(&reader)
            .unwrap(),
        trace: v02::View::new("trace", v02_trace, &views)
            .rebuild(&reader)
            .unwrap()
            .clone(),
        todos: v02::View::new("todos", v02_todo, &views)
            .rebuild(&reader)
            .unwrap()
            .clone(),
        histogram: v02::View::new("histogram", v02_histogram, &views)
            .rebuild(&reader)
            .unwrap()
            .clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

fn event(event_type: &str, data: Value) -> Event {
    Event {
        event_type: event_type.to_string(),
        data,
        ts: FIXED_TS,
        id: None,
        actor: None,
        meta: None,
    }
}

/// Events that exercise the line format: metadata present and absent, unicode, every kind of
/// escape, nested and extreme values.
fn varied_events() -> Vec<Event> {
    vec![
        event("todo_added", json!({"text": "buy milk"})),
        event("todo_added", json!({"text": "call mum"}))
            .with_id("evt-0002")
            .with_actor("ann"),
        event("todo_completed", json!({"id": 0}))
            .with_meta(json!({"correlation": "c-1", "schema": 2, "tags": ["a", "b"]})),
        event("todo_added", json!({"text": "日本語のテキスト 🎉 ünïcödé"}))
            .with_id("ïd-ü")
            .with_actor("βob")
            .with_meta(json!({"nested": {"deeper": [null, true, 1.5]}})),
        event(
            "escapes",
            json!({
                "quote": "say \"hi\"",
                "backslash": "C:\\path\\to",
                "controls": "nl\n cr\r tab\t nul\u{0} bell\u{7} esc\u{1b} del\u{7f}",
                "separators": "ls\u{2028} ps\u{2029}",
                "slash": "a/b </script>",
                "emoji": "👩‍👩‍👧‍👦",
            }),
        ),
        event(
            "nested",
            json!({
                "a": {"b": {"c": [1, [2, [3, [4, {"d": "deep"}]]]]}},
                "empty_object": {},
                "empty_array": [],
                "big": u64::MAX,
                "small": i64::MIN,
                "float": 0.1,
                "tiny": 1e-300,
                "huge": 1.7976931348623157e308,
                "negative_zero": -0.0,
            }),
        ),
        event("scalar_null", Value::Null),
        event("scalar_number", json!(42)),
        event("scalar_string", json!("just a string")),
        event("scalar_array", json!([1, "two", {"three": 3}])),
        event("", json!({})),
        event("type with spaces and \"quotes\"", json!(true)),
        Event {
            ts: 0,
            ..event("epoch", json!({}))
        },
        Event {
            ts: u64::MAX,
            ..event("far_future", json!({}))
        },
        event("todo_removed", json!({"id": 1})).with_id(""),
        event("meta_scalar", json!(1)).with_meta(json!("scalar meta")),
    ]
}

fn file_bytes(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn assert_same_snapshots(a: &Path, b: &Path, what: &str) {
    for name in VIEW_NAMES {
        let left = file_bytes(&snapshot_path(&a.join("views"), name));
        let right = file_bytes(&snapshot_path(&b.join("views"), name));
        assert_eq!(
            String::from_utf8(left).unwrap(),
            String::from_utf8(right).unwrap(),
            "{what}: snapshot of {name}"
        );
    }
}

fn v03_full(dir: &Path) -> Vec<(Event, String)> {
    EventReader::new(dir)
        .read_full()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn v02_full(dir: &Path) -> Vec<(Event, String)> {
    v02::EventReader::new(dir)
        .read_full()
        .unwrap()
        .map(|item| item.map(|(event, hash)| (from_v02(&event), hash)))
        .collect::<Result<_, _>>()
        .unwrap()
}

fn v03_from(dir: &Path, offset: u64) -> Vec<(Event, u64, String)> {
    EventReader::new(dir)
        .read_from(offset)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn v02_from(dir: &Path, offset: u64) -> Vec<(Event, u64, String)> {
    v02::EventReader::new(dir)
        .read_from(offset)
        .unwrap()
        .map(|item| item.map(|(event, next, hash)| (from_v02(&event), next, hash)))
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Every line start of the active log, to read from each.
fn line_starts(dir: &Path) -> Vec<u64> {
    let bytes = file_bytes(&dir.join("app.jsonl"));
    std::iter::once(0)
        .chain(
            bytes
                .iter()
                .enumerate()
                .filter(|&(_, &b)| b == b'\n')
                .map(|(i, _)| i as u64 + 1),
        )
        .collect()
}

/// Both crates read `dir` to the same events (with the same hashes and offsets).
fn assert_both_read(dir: &Path, events: &[Event], what: &str) {
    let full = v03_full(dir);
    assert_eq!(full, v02_full(dir), "{what}: read_full");
    let plain: Vec<Event> = full.into_iter().map(|(event, _)| event).collect();
    assert_eq!(plain, events, "{what}: read_full against the model");
    for offset in line_starts(dir) {
        assert_eq!(
            v03_from(dir, offset),
            v02_from(dir, offset),
            "{what}: read_from({offset})"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Same calls, same bytes
// ---------------------------------------------------------------------------------------------

#[test]
fn the_same_appends_write_the_same_bytes() {
    let ours = test_dir();
    let theirs = test_dir();
    let events = varied_events();
    let (first, second) = events.split_at(events.len() / 2);
    let mut archived = Vec::new();

    let mut new = open_v03(ours.path());
    let mut old = open_v02(theirs.path());
    for (round, part) in [first, second, first].into_iter().enumerate() {
        let what = format!("round {round}");
        for event in part {
            let a = new.append(event).unwrap();
            let b = old.append(&to_v02(event)).unwrap();
            assert_eq!(
                (a.start_offset, a.end_offset, &a.line_hash),
                (b.start_offset, b.end_offset, &b.line_hash),
                "{what}: append result of {event:?}"
            );
            assert_eq!(a.line_hash, line_hash(line_of(event).trim_end().as_bytes()));
        }
        let log_a = file_bytes(new.log_path());
        assert_eq!(
            String::from_utf8(log_a.clone()).unwrap(),
            String::from_utf8(file_bytes(old.log_path())).unwrap(),
            "{what}: app.jsonl"
        );
        assert_eq!(
            log_a,
            lines_of(part).as_bytes(),
            "{what}: one line per event"
        );

        new.refresh_all().unwrap();
        old.refresh_all().unwrap();
        assert_same_snapshots(ours.path(), theirs.path(), &format!("{what}, refreshed"));
        assert_eq!(v03_states(&new), v02_states(&old), "{what}");

        new.rotate().unwrap();
        old.rotate().unwrap();
        archived.extend_from_slice(part);
        assert_eq!(file_bytes(new.log_path()), b"");
        assert_eq!(file_bytes(old.log_path()), b"");
        let ours_archive = decompress_archive(new.archive_path());
        assert_eq!(
            String::from_utf8(ours_archive.clone()).unwrap(),
            String::from_utf8(decompress_archive(old.archive_path())).unwrap(),
            "{what}: decompressed archive"
        );
        assert_eq!(ours_archive, lines_of(&archived).as_bytes());
        assert_same_snapshots(ours.path(), theirs.path(), &format!("{what}, rotated"));
    }
    assert_eq!(v03_states(&new), model_states(&archived));
    assert_eq!(v02_states(&old), model_states(&archived));
    assert_eq!(v03_full(ours.path()), v02_full(theirs.path()));
}

#[test]
fn snapshot_save_writes_the_same_bytes() {
    let dir = test_dir();
    let events = varied_events();
    let states: Vec<(&str, Value)> = vec![
        ("count", json!(fold_model(&events, counter_reducer))),
        ("trace", json!(fold_model(&events, trace_reducer))),
        ("todos", json!(fold_model(&events, todo_reducer))),
        ("histogram", json!(fold_model(&events, histogram_reducer))),
        (
            "unicode",
            json!({"ключ": "значение 🎉", "esc": "\"\\\n\u{1}"}),
        ),
    ];
    for (i, (name, state)) in states.into_iter().enumerate() {
        for (offset, hash) in [(0, String::new()), (1234, line_hash(name.as_bytes()))] {
            let ours = dir.path().join(format!("{i}-{offset}-ours.snapshot.json"));
            let theirs = dir
                .path()
                .join(format!("{i}-{offset}-theirs.snapshot.json"));
            snapshot::save(&ours, &Snapshot::new(state.clone(), offset, hash.clone())).unwrap();
            v02::snapshot::save(
                &theirs,
                &v02::Snapshot::new(state.clone(), offset, hash.clone()),
            )
            .unwrap();
            assert_eq!(
                String::from_utf8(file_bytes(&ours)).unwrap(),
                String::from_utf8(file_bytes(&theirs)).unwrap(),
                "snapshot {name} at {offset}"
            );
            let loaded: Snapshot<Value> = snapshot::load(&theirs).unwrap().unwrap();
            assert_eq!(
                (loaded.state, loaded.offset, loaded.hash),
                (state.clone(), offset, hash)
            );
        }
    }
}

#[test]
fn line_hash_agrees_on_fixed_inputs() {
    let mut inputs: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"a".to_vec(),
        b"hello world".to_vec(),
        br#"{"type":"a","data":{},"ts":1}"#.to_vec(),
        "ünïcödé 🎉".as_bytes().to_vec(),
        vec![0; 1000],
        vec![0xff; 33],
        (0..=255u8).collect(),
    ];
    inputs.extend(
        varied_events()
            .iter()
            .map(|e| serde_json::to_vec(e).unwrap()),
    );
    // Lengths around the internal block sizes of xxh64 (32-byte stripes, 8/4/1-byte tails).
    inputs.extend((0..80).map(|len| (0..len).map(|i| (i * 37 % 251) as u8).collect()));
    for input in inputs {
        let ours = line_hash(&input);
        assert_eq!(ours, v02::line_hash(&input), "line_hash of {input:?}");
        assert_eq!(ours.len(), 16);
        assert!(ours.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(common::proptest_cases(200)))]

    #[test]
    fn line_hash_agrees_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        prop_assert_eq!(line_hash(&bytes), v02::line_hash(&bytes));
    }

    #[test]
    fn line_hash_agrees_on_any_text(text in "\\PC{0,120}") {
        prop_assert_eq!(line_hash(text.as_bytes()), v02::line_hash(text.as_bytes()));
    }
}

// ---------------------------------------------------------------------------------------------
// Reading each other's directories
// ---------------------------------------------------------------------------------------------

/// Writes `events` in four parts with two rotations in between, refreshing the views after the
/// last part: a directory with an archive of two frames, an active log and snapshots.
fn write_with_v02(dir: &Path, events: &[Event]) -> ViewStates {
    let mut log = open_v02(dir);
    let quarter = events.len() / 4;
    for (i, event) in events.iter().enumerate() {
        log.append(&to_v02(event)).unwrap();
        if i + 1 == quarter || i + 1 == 2 * quarter {
            log.rotate().unwrap();
        }
        if i + 1 == 3 * quarter {
            log.refresh_all().unwrap();
        }
    }
    log.refresh_all().unwrap();
    v02_states(&log)
}

fn write_with_v03(dir: &Path, events: &[Event]) -> ViewStates {
    let mut log = open_v03(dir);
    let quarter = events.len() / 4;
    for (i, event) in events.iter().enumerate() {
        log.append(event).unwrap();
        if i + 1 == quarter || i + 1 == 2 * quarter {
            log.rotate().unwrap();
        }
        if i + 1 == 3 * quarter {
            log.refresh_all().unwrap();
        }
    }
    log.refresh_all().unwrap();
    v03_states(&log)
}

fn many_events() -> Vec<Event> {
    let mut events = varied_events();
    events.extend(numbered_events(0, 8));
    events.extend(varied_events());
    events
}

const MARKER: u64 = 7_777_777;

/// Replaces the state of the `count` snapshot with a marker, keeping its position: if a
/// refresh returns the marker, the snapshot was trusted.
fn plant_count_marker(dir: &Path) -> Snapshot<u64> {
    let path = snapshot_path(&dir.join("views"), "count");
    let old: Snapshot<u64> = snapshot::load(&path).unwrap().unwrap();
    snapshot::save(&path, &Snapshot::new(MARKER, old.offset, old.hash.clone())).unwrap();
    old
}

#[test]
fn a_directory_written_by_v02_is_read_by_this_crate() {
    let dir = test_dir();
    let mut events = many_events();
    let theirs = write_with_v02(dir.path(), &events);
    assert_eq!(theirs, model_states(&events));
    assert_both_read(dir.path(), &events, "written by 0.2");

    // Views with the snapshots 0.2 left, then rebuilt from the files.
    let snapshots_before: Vec<Vec<u8>> = VIEW_NAMES
        .iter()
        .map(|name| file_bytes(&snapshot_path(&dir.path().join("views"), name)))
        .collect();
    {
        let mut log = open_v03(dir.path());
        log.refresh_all().unwrap();
        assert_eq!(v03_states(&log), theirs, "views from 0.2 snapshots");
    }
    let snapshots_after: Vec<Vec<u8>> = VIEW_NAMES
        .iter()
        .map(|name| file_bytes(&snapshot_path(&dir.path().join("views"), name)))
        .collect();
    assert_eq!(
        snapshots_after, snapshots_before,
        "up-to-date 0.2 snapshots are trusted as they are"
    );
    assert_eq!(v03_rebuilt(dir.path()), theirs, "rebuilt by 0.3");

    // The snapshot is really used: a marker state survives the refresh.
    let old = plant_count_marker(dir.path());
    {
        let mut count = View::new("count", counter_reducer, &dir.path().join("views"));
        assert_eq!(
            *count.refresh(&EventReader::new(dir.path())).unwrap(),
            MARKER
        );
    }
    snapshot::save(&snapshot_path(&dir.path().join("views"), "count"), &old).unwrap();

    // This crate carries on appending and rotating in the directory 0.2 wrote.
    {
        let mut log = open_v03(dir.path());
        let more = numbered_events(100, 3);
        for event in &more {
            log.append(event).unwrap();
        }
        events.extend(more);
        log.refresh_all().unwrap();
        assert_eq!(v03_states(&log), model_states(&events), "after appending");
        log.rotate().unwrap();
        assert_eq!(v03_states(&log), model_states(&events), "after rotating");
    }
    assert_both_read(dir.path(), &events, "0.2 directory continued by 0.3");
    assert_eq!(v02_rebuilt(dir.path()), model_states(&events));
}

#[test]
fn a_directory_written_by_this_crate_is_read_by_v02() {
    let dir = test_dir();
    let mut events = many_events();
    let ours = write_with_v03(dir.path(), &events);
    assert_eq!(ours, model_states(&events));
    assert_both_read(dir.path(), &events, "written by 0.3");

    {
        let mut log = open_v02(dir.path());
        log.refresh_all().unwrap();
        assert_eq!(v02_states(&log), ours, "0.2 views from 0.3 snapshots");
    }
    assert_eq!(v02_rebuilt(dir.path()), ours, "rebuilt by 0.2");

    // 0.2 trusts the snapshots this crate wrote.
    let old = plant_count_marker(dir.path());
    {
        let mut count = v02::View::new("count", v02_count, &dir.path().join("views"));
        assert_eq!(
            *count.refresh(&v02::EventReader::new(dir.path())).unwrap(),
            MARKER
        );
    }
    snapshot::save(&snapshot_path(&dir.path().join("views"), "count"), &old).unwrap();

    // 0.2 carries on in the directory (including right after a rotation of this crate, with its
    // rotation record still in place), then this crate reads it all back.
    {
        let mut log = open_v03(dir.path());
        log.rotate().unwrap();
    }
    assert!(dir.path().join("rotation.json").exists());
    {
        let mut log = open_v02(dir.path());
        let more = numbered_events(200, 3);
        for event in &more {
            log.append(&to_v02(event)).unwrap();
        }
        events.extend(more);
        log.refresh_all().unwrap();
        assert_eq!(v02_states(&log), model_states(&events));
    }
    assert_both_read(dir.path(), &events, "0.3 directory continued by 0.2");
    let mut log = open_v03(dir.path());
    log.refresh_all().unwrap();
    assert_eq!(v03_states(&log), model_states(&events));
    drop(log);
    assert_both_read(dir.path(), &events, "after 0.3 reopened it");
}

/// Files neither crate wrote but both accept: blank lines, a torn tail, unknown fields, an
/// explicit `null` meta, whitespace inside the JSON.
#[test]
fn hand_written_logs_read_the_same() {
    let line = |s: &str| format!("{s}\n");
    let cases: Vec<(&str, String)> = vec![
        (
            "blank lines",
            format!(
                "\n\n{}\n\n{}",
                line(r#"{"type":"a","data":1,"ts":1}"#),
                line(r#"{"type":"b","data":2,"ts":2}"#)
            ),
        ),
        (
            "torn tail",
            format!(
                "{}{}",
                line(r#"{"type":"a","data":1,"ts":1}"#),
                r#"{"type":"b","da"#
            ),
        ),
        (
            "unknown fields",
            line(r#"{"type":"a","extra":[1,2],"data":{"x":1},"ts":5,"v":2}"#),
        ),
        (
            "null meta, null id",
            line(r#"{"type":"a","data":null,"ts":5,"meta":null,"id":null}"#),
        ),
        (
            "field order",
            line(r#"{"ts":9,"actor":"z","data":{"k":[]},"type":"reordered"}"#),
        ),
        (
            "whitespace",
            line("  { \"type\" : \"a\" ,\t\"data\" : { } , \"ts\" : 3 }  "),
        ),
        (
            "escaped type",
            line(r#"{"type":"\u00e9v\u00e9nement\n","data":"\ud83c\udf89","ts":1}"#),
        ),
    ];
    for (what, content) in cases {
        let dir = test_dir();
        fs::create_dir(dir.path().join("views")).unwrap();
        fs::write(dir.path().join("app.jsonl"), &content).unwrap();
        let ours = v03_full(dir.path());
        assert!(!ours.is_empty(), "{what}: nothing read");
        assert_eq!(ours, v02_full(dir.path()), "{what}: read_full");
        assert_eq!(
            v03_from(dir.path(), 0),
            v02_from(dir.path(), 0),
            "{what}: read_from"
        );
        let events: Vec<Event> = ours.into_iter().map(|(event, _)| event).collect();
        assert_eq!(
            v03_rebuilt(dir.path()),
            model_states(&events),
            "{what}: views"
        );
        assert_eq!(
            v02_rebuilt(dir.path()),
            model_states(&events),
            "{what}: 0.2 views"
        );
    }
}
