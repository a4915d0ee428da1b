//! Snapshot integrity: a snapshot is trusted only while the line before its offset still
//! hashes to the stored value. Otherwise the view replays from scratch, and the result must
//! equal `fold_model` over whatever the files now contain.
//!
//! The "marker" technique: a snapshot is rewritten with a state no replay could produce
//! (keeping its offset and hash). If the marker survives a refresh, the snapshot was
//! trusted; if the state equals the model, it was rebuilt.

mod common;

use std::fs;
use std::path::Path;

use common::{
    TodoState, append_all, counter_reducer, fold_model, numbered_event, numbered_events,
    parse_jsonl_file, read_all, snapshot_path, sum_reducer, test_dir, todo_added, todo_completed,
    todo_reducer, trace_reducer,
};
use eventfold::{Event, EventLog, Snapshot, View, line_hash, snapshot};

const MARKER: i64 = -1_000_000;

fn line_of(event: &Event) -> String {
    format!("{}\n", serde_json::to_string(event).unwrap())
}

/// Refresh a new `sum` view (so any snapshot on disk is loaded and checked).
fn refreshed_sum(log: &EventLog) -> i64 {
    *View::new("sum", sum_reducer, log.views_dir())
        .refresh(&log.reader())
        .unwrap()
}

fn sum_snapshot(log: &EventLog) -> Snapshot<i64> {
    snapshot::load(&snapshot_path(log.views_dir(), "sum"))
        .unwrap()
        .unwrap()
}

fn plant_sum_marker(log: &EventLog) {
    let old = sum_snapshot(log);
    let marked = Snapshot::new(MARKER, old.offset, old.hash);
    snapshot::save(&snapshot_path(log.views_dir(), "sum"), &marked).unwrap();
}

fn write_active_log(dir: &Path, events: &[Event]) {
    fs::write(
        dir.join("app.jsonl"),
        events.iter().map(line_of).collect::<String>(),
    )
    .unwrap();
}

#[test]
fn a_snapshot_whose_hash_matches_is_trusted() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    append_all(&mut log, &numbered_events(1, 4));
    refreshed_sum(&log);
    plant_sum_marker(&log);

    assert_eq!(
        refreshed_sum(&log),
        MARKER,
        "a valid snapshot is used as is"
    );
    append_all(&mut log, &numbered_events(50, 2));
    assert_eq!(refreshed_sum(&log), MARKER + 50 + 51);
}

#[test]
fn snapshot_hash_and_offset_describe_the_last_folded_line() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let results = append_all(&mut log, &numbered_events(0, 3));
    refreshed_sum(&log);
    let snap = sum_snapshot(&log);
    let last = results.last().unwrap();
    assert_eq!(snap.offset, last.end_offset);
    assert_eq!(snap.hash, last.line_hash);
    assert_eq!(
        log.read_line_hash_before(snap.offset).unwrap(),
        Some(snap.hash)
    );
}

#[test]
fn a_snapshot_with_a_wrong_hash_is_rebuilt() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let events = numbered_events(1, 5);
    append_all(&mut log, &events);
    refreshed_sum(&log);
    let old = sum_snapshot(&log);
    let forged = Snapshot::new(MARKER, old.offset, "0123456789abcdef".to_string());
    snapshot::save(&snapshot_path(log.views_dir(), "sum"), &forged).unwrap();

    assert_eq!(refreshed_sum(&log), fold_model(&events, sum_reducer));
    assert_eq!(
        sum_snapshot(&log).hash,
        old.hash,
        "the rebuild saved a correct snapshot"
    );
}

#[test]
fn editing_the_last_folded_line_is_detected() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    append_all(&mut log, &[todo_added("milk"), todo_added("bread")]);
    let mut view = View::new("todos", todo_reducer, log.views_dir());
    assert_eq!(view.refresh(&log.reader()).unwrap().items[1].text, "bread");

    // Same length, different bytes: only the hash can notice.
    let text = fs::read_to_string(log.log_path()).unwrap();
    let edited = text.replace("bread", "jelly");
    assert_eq!(edited.len(), text.len());
    fs::write(log.log_path(), &edited).unwrap();

    let mut reopened = View::new("todos", todo_reducer, log.views_dir());
    let state = reopened.refresh(&log.reader()).unwrap();
    assert_eq!(
        state,
        &fold_model(&parse_jsonl_file(log.log_path()), todo_reducer)
    );
    assert_eq!(state.items[1].text, "jelly");
}

#[test]
fn truncating_the_log_below_the_snapshot_offset_is_detected() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let events = numbered_events(1, 6);
    let results = append_all(&mut log, &events);
    refreshed_sum(&log);
    plant_sum_marker(&log);

    // Cut the log back to its first three events.
    let keep = results[2].end_offset;
    fs::OpenOptions::new()
        .write(true)
        .open(log.log_path())
        .unwrap()
        .set_len(keep)
        .unwrap();

    assert_eq!(refreshed_sum(&log), fold_model(&events[..3], sum_reducer));
    let snap = sum_snapshot(&log);
    assert_eq!(snap.offset, keep);
    assert_eq!(snap.hash, results[2].line_hash);
}

#[test]
fn an_emptied_log_with_a_nonzero_offset_is_detected() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    append_all(&mut log, &numbered_events(1, 3));
    refreshed_sum(&log);
    plant_sum_marker(&log);
    fs::write(log.log_path(), b"").unwrap();

    let mut view = View::new("sum", sum_reducer, log.views_dir());
    assert_eq!(*view.refresh(&log.reader()).unwrap(), 0);

    append_all(&mut log, &numbered_events(7, 1));
    assert_eq!(*view.refresh(&log.reader()).unwrap(), 7);
}

#[test]
fn an_emptied_log_with_an_archive_rebuilds_from_the_archive() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let archived = numbered_events(1, 4);
    append_all(&mut log, &archived);
    log.rotate().unwrap();
    append_all(&mut log, &numbered_events(10, 2));
    refreshed_sum(&log);
    plant_sum_marker(&log);
    fs::write(log.log_path(), b"").unwrap();

    assert_eq!(refreshed_sum(&log), fold_model(&archived, sum_reducer));
}

#[test]
fn a_line_inserted_before_the_offset_is_detected() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let events = vec![
        todo_added("one"),
        todo_added("two"),
        todo_added("three"),
        todo_completed(1),
    ];
    append_all(&mut log, &events);
    View::new("todos", todo_reducer, log.views_dir())
        .refresh(&log.reader())
        .unwrap();
    drop(log);

    let mut edited = events.clone();
    edited.insert(2, todo_added("smuggled in"));
    write_active_log(dir.path(), &edited);

    let log = EventLog::open(dir.path()).unwrap();
    let mut view = View::new("todos", todo_reducer, log.views_dir());
    let state = view.refresh(&log.reader()).unwrap();
    assert_eq!(state, &fold_model(&edited, todo_reducer));
    assert!(state.items.iter().any(|t| t.text == "smuggled in"));
    assert_eq!(state.items.len(), 4);
}

#[test]
fn registered_views_recover_from_an_edited_log_on_reopen() {
    let dir = test_dir();
    let events: Vec<Event> = (0..8)
        .map(|n| numbered_event(&format!("k{}", n % 3), n))
        .collect();
    {
        let mut log = EventLog::builder(dir.path())
            .view::<Vec<String>>("trace", trace_reducer)
            .open()
            .unwrap();
        append_all(&mut log, &events);
        log.refresh_all().unwrap();
    }
    let mut edited = events.clone();
    edited.insert(5, numbered_event("inserted", 99));
    edited.remove(1);
    write_active_log(dir.path(), &edited);

    let mut log = EventLog::builder(dir.path())
        .view::<Vec<String>>("trace", trace_reducer)
        .open()
        .unwrap();
    log.refresh_all().unwrap();
    assert_eq!(
        log.view::<Vec<String>>("trace").unwrap(),
        &fold_model(&edited, trace_reducer)
    );
}

#[test]
fn a_snapshot_from_before_an_unseen_rotation_is_handled() {
    // The view is not registered with the log, so rotation cannot reset its offset; its
    // snapshot then points into bytes that now belong to the archive. The new active log is
    // shorter than the offset, or the offset falls inside a line, or it falls exactly on a
    // line boundary of different content.
    let later_cases: [Vec<Event>; 4] = [
        numbered_events(100, 1),
        numbered_events(100, 3),
        numbered_events(100, 12),
        (1..=6).map(|n| numbered_event("tock", n)).collect(),
    ];
    for later in later_cases {
        let dir = test_dir();
        let mut log = EventLog::open(dir.path()).unwrap();
        let mut events = numbered_events(1, 5);
        append_all(&mut log, &events);
        let mut stale = View::new("sum", sum_reducer, log.views_dir());
        stale.refresh(&log.reader()).unwrap();
        let stale_offset = sum_snapshot(&log).offset;

        log.rotate().unwrap();
        append_all(&mut log, &later);
        events.extend(later.iter().cloned());
        assert_ne!(log.active_log_size().unwrap(), stale_offset);

        let expected = fold_model(&events, sum_reducer);
        assert_eq!(
            refreshed_sum(&log),
            expected,
            "{} later events",
            later.len()
        );
    }
}

#[test]
fn snapshot_at_offset_zero_needs_no_hash() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let events = numbered_events(1, 3);
    append_all(&mut log, &events);
    let path = snapshot_path(log.views_dir(), "sum");
    snapshot::save(&path, &Snapshot::new(MARKER, 0, String::new())).unwrap();

    assert_eq!(
        refreshed_sum(&log),
        MARKER + fold_model(&events, sum_reducer)
    );
}

#[test]
fn no_rebuild_happens_while_nothing_is_tampered_with() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let mut total = 0;
    append_all(&mut log, &numbered_events(0, 1));
    refreshed_sum(&log);
    plant_sum_marker(&log);
    for round in 1..8u64 {
        let batch = numbered_events(round * 10, round as usize);
        total += fold_model(&batch, sum_reducer);
        append_all(&mut log, &batch);
        drop(log);
        log = EventLog::open(dir.path()).unwrap();
        assert_eq!(refreshed_sum(&log), MARKER + total, "round {round}");
    }
}

#[test]
fn repeated_identical_lines_do_not_trigger_a_rebuild() {
    // Writing the file anew with one more identical line leaves exactly the bytes a normal
    // append would, so the snapshot must still be trusted.
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let same = numbered_event("same", 5);
    append_all(&mut log, &[same.clone(), same.clone()]);
    refreshed_sum(&log);
    plant_sum_marker(&log);
    write_active_log(dir.path(), &[same.clone(), same.clone(), same]);
    assert_eq!(
        refreshed_sum(&log),
        MARKER + 5,
        "snapshot still trusted; one new event folded"
    );
}

#[test]
fn read_line_hash_before_matches_every_line_boundary() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    // Short lines, and lines longer than the 64 KiB chunks the hash is streamed in and than
    // the 1 MiB from which reads map the file.
    let pads = (0..10).map(|n| n * 37).chain([70_000, 1_500_000, 5]);
    let events: Vec<Event> = pads
        .enumerate()
        .map(|(n, pad)| Event {
            data: serde_json::json!({"pad": "x".repeat(pad), "n": n}),
            ..numbered_event("pad", n as u64)
        })
        .collect();
    append_all(&mut log, &events);

    let mut offset = 0;
    for event in &events {
        let line = serde_json::to_string(event).unwrap();
        offset += line.len() as u64 + 1;
        assert_eq!(
            log.read_line_hash_before(offset).unwrap(),
            Some(line_hash(line.as_bytes()))
        );
    }
    assert_eq!(read_all(&log.reader()), events);
}

#[test]
fn rebuilt_state_after_integrity_failure_matches_a_fresh_replay() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let events = vec![todo_added("x"), todo_added("y"), todo_completed(0)];
    append_all(&mut log, &events);
    let mut first = View::new("todos", todo_reducer, log.views_dir());
    first.refresh(&log.reader()).unwrap();

    let path = snapshot_path(log.views_dir(), "todos");
    let old: Snapshot<TodoState> = snapshot::load(&path).unwrap().unwrap();
    let junk = TodoState {
        next_id: 77,
        ..TodoState::default()
    };
    snapshot::save(
        &path,
        &Snapshot::new(junk, old.offset, "ffffffffffffffff".into()),
    )
    .unwrap();

    let mut checked = View::new("todos", todo_reducer, log.views_dir());
    let mut fresh = View::new("fresh", todo_reducer, log.views_dir());
    assert_eq!(
        checked.refresh(&log.reader()).unwrap(),
        fresh.refresh(&log.reader()).unwrap()
    );
    assert_eq!(checked.state(), &fold_model(&events, todo_reducer));
    assert_eq!(
        *View::new("n", counter_reducer, log.views_dir())
            .refresh(&log.reader())
            .unwrap(),
        3
    );
}
