//! `View` lifecycle, several views over one log, and snapshot-backed recovery. Every state
//! is compared with `fold_model` over the events the test appended.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;

use common::{
    TodoState, append_all, append_n, counter_reducer, fold_model, histogram_reducer, load_snapshot,
    numbered_events, snapshot_path, sum_reducer, test_dir, todo_added, todo_completed,
    todo_reducer, todo_removed, trace_reducer,
};
use eventfold::{Event, EventLog, Snapshot, View, snapshot};

fn todo_script() -> Vec<Event> {
    vec![
        todo_added("buy milk"),
        todo_added("walk the dog"),
        todo_completed(0),
        todo_added("file taxes"),
        todo_removed(1),
        common::dummy_event("unrelated"),
        todo_completed(2),
    ]
}

fn open_with_views(dir: &std::path::Path) -> EventLog {
    EventLog::builder(dir)
        .view::<u64>("count", counter_reducer)
        .view::<TodoState>("todos", todo_reducer)
        .open()
        .unwrap()
}

/// Overwrite a view's snapshot with `state`, keeping its offset and hash, so that a later
/// refresh reveals whether it resumed from the snapshot (the marker survives) or replayed.
fn plant_marker<S: serde::Serialize + serde::de::DeserializeOwned>(
    log: &EventLog,
    name: &str,
    state: S,
) {
    let path = snapshot_path(log.views_dir(), name);
    let old: Snapshot<S> = snapshot::load(&path).unwrap().expect("view has a snapshot");
    snapshot::save(&path, &Snapshot::new(state, old.offset, old.hash)).unwrap();
}

#[test]
fn new_view_over_an_empty_log_has_default_state() {
    let dir = test_dir();
    let log = EventLog::open(dir.path()).unwrap();
    let mut view: View<TodoState> = View::new("todos", todo_reducer, log.views_dir());
    assert_eq!(view.name(), "todos");
    assert_eq!(view.state(), &TodoState::default());
    assert_eq!(view.refresh(&log.reader()).unwrap(), &TodoState::default());
    assert!(
        !snapshot_path(log.views_dir(), "todos").exists(),
        "nothing folded, nothing saved"
    );
}

#[test]
fn new_view_over_a_populated_log_folds_everything() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let events = todo_script();
    append_all(&mut log, &events);

    let mut view = View::new("todos", todo_reducer, log.views_dir());
    let state = view.refresh(&log.reader()).unwrap().clone();
    let expected = fold_model(&events, todo_reducer);
    assert_eq!(state, expected);
    assert_eq!(state.items.len(), 2);
    assert!(state.items.iter().all(|t| t.done));
    assert_eq!(view.state(), &expected);
}

#[test]
fn refresh_without_new_events_keeps_state_and_writes_nothing() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let events = append_n(&mut log, 5);
    let mut view = View::new("count", counter_reducer, log.views_dir());
    assert_eq!(*view.refresh(&log.reader()).unwrap(), 5);

    let path = snapshot_path(log.views_dir(), "count");
    fs::remove_file(&path).unwrap();
    assert_eq!(
        *view.refresh(&log.reader()).unwrap(),
        fold_model(&events, counter_reducer)
    );
    assert!(
        !path.exists(),
        "a refresh that folded nothing must not write a snapshot"
    );
}

#[test]
fn refresh_with_new_events_folds_them_and_saves_a_snapshot() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let mut events = numbered_events(0, 3);
    append_all(&mut log, &events);
    let mut view = View::new("sum", sum_reducer, log.views_dir());
    assert_eq!(*view.refresh(&log.reader()).unwrap(), 3);

    let more = numbered_events(10, 4);
    let results = append_all(&mut log, &more);
    events.extend(more);
    assert_eq!(
        *view.refresh(&log.reader()).unwrap(),
        fold_model(&events, sum_reducer)
    );

    let saved: Snapshot<i64> = load_snapshot(&log, "sum").unwrap();
    assert_eq!(saved.state, 1 + 2 + 10 + 11 + 12 + 13);
    assert_eq!(saved.offset, log.active_log_size().unwrap());
    assert_eq!(saved.hash, results.last().unwrap().line_hash);
}

#[test]
fn a_reopened_view_resumes_from_its_snapshot() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    append_all(&mut log, &numbered_events(0, 4));
    View::new("count", counter_reducer, log.views_dir())
        .refresh(&log.reader())
        .unwrap();

    plant_marker(&log, "count", 1_000u64);
    append_all(&mut log, &numbered_events(4, 3));

    let mut view = View::new("count", counter_reducer, log.views_dir());
    assert_eq!(
        *view.refresh(&log.reader()).unwrap(),
        1_003,
        "only the 3 new events folded"
    );
    assert_eq!(load_snapshot::<u64>(&log, "count").unwrap().state, 1_003);
}

#[test]
fn state_is_the_in_memory_value_until_the_next_refresh() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    append_n(&mut log, 2);
    let mut view = View::new("count", counter_reducer, log.views_dir());
    assert_eq!(*view.state(), 0, "state before any refresh is the default");
    view.refresh(&log.reader()).unwrap();

    append_n(&mut log, 5);
    snapshot::delete(&snapshot_path(log.views_dir(), "count")).unwrap();
    assert_eq!(*view.state(), 2, "state() does not look at the disk");
    assert_eq!(*view.refresh(&log.reader()).unwrap(), 7);
    assert_eq!(*view.state(), 7);
}

#[test]
fn rebuild_replays_everything_and_matches_a_fresh_view() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let events = todo_script();
    append_all(&mut log, &events);
    let mut view = View::new("todos", todo_reducer, log.views_dir());
    view.refresh(&log.reader()).unwrap();

    let bogus = TodoState {
        next_id: 999,
        ..TodoState::default()
    };
    plant_marker(&log, "todos", bogus.clone());
    let mut reloaded = View::new("todos", todo_reducer, log.views_dir());
    assert_eq!(
        reloaded.refresh(&log.reader()).unwrap(),
        &bogus,
        "marker is picked up"
    );

    let rebuilt = reloaded.rebuild(&log.reader()).unwrap().clone();
    let mut fresh = View::new("other_name", todo_reducer, log.views_dir());
    assert_eq!(rebuilt, fold_model(&events, todo_reducer));
    assert_eq!(&rebuilt, fresh.refresh(&log.reader()).unwrap());
    assert_eq!(
        load_snapshot::<TodoState>(&log, "todos").unwrap().state,
        rebuilt
    );
}

#[test]
fn rebuild_on_an_empty_log_resets_to_default() {
    let dir = test_dir();
    let log = EventLog::open(dir.path()).unwrap();
    let path = snapshot_path(log.views_dir(), "count");
    snapshot::save(&path, &Snapshot::new(55u64, 0, String::new())).unwrap();
    let mut view = View::new("count", counter_reducer, log.views_dir());
    assert_eq!(*view.refresh(&log.reader()).unwrap(), 55);
    assert_eq!(*view.rebuild(&log.reader()).unwrap(), 0);
    assert!(
        !path.exists(),
        "rebuild deleted the snapshot and had nothing to save"
    );
}

#[test]
fn repeated_refreshes_are_idempotent() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let events = todo_script();
    append_all(&mut log, &events);
    let mut view = View::new("todos", todo_reducer, log.views_dir());
    let first = view.refresh(&log.reader()).unwrap().clone();
    let path = snapshot_path(log.views_dir(), "todos");
    let bytes = fs::read(&path).unwrap();
    let modified = fs::metadata(&path).unwrap().modified().unwrap();

    for _ in 0..3 {
        assert_eq!(view.refresh(&log.reader()).unwrap(), &first);
    }
    assert_eq!(fs::read(&path).unwrap(), bytes);
    assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), modified);
    assert_eq!(first, fold_model(&events, todo_reducer));
}

#[test]
fn two_reducers_over_one_log_give_their_own_states() {
    let dir = test_dir();
    let mut log = open_with_views(dir.path());
    let events = todo_script();
    append_all(&mut log, &events);
    log.refresh_all().unwrap();

    assert_eq!(*log.view::<u64>("count").unwrap(), events.len() as u64);
    assert_eq!(
        log.view::<TodoState>("todos").unwrap(),
        &fold_model(&events, todo_reducer)
    );
}

#[test]
fn each_view_keeps_its_own_snapshot_file() {
    let dir = test_dir();
    let mut log = open_with_views(dir.path());
    let events = todo_script();
    append_all(&mut log, &events);
    log.refresh_all().unwrap();

    let count: Snapshot<u64> = load_snapshot(&log, "count").unwrap();
    let todos: Snapshot<TodoState> = load_snapshot(&log, "todos").unwrap();
    assert_eq!(count.state, events.len() as u64);
    assert_eq!(todos.state, fold_model(&events, todo_reducer));
    assert_eq!(count.offset, todos.offset);

    snapshot::delete(&snapshot_path(log.views_dir(), "count")).unwrap();
    assert!(load_snapshot::<TodoState>(&log, "todos").is_some());
}

#[test]
fn refreshing_one_view_leaves_another_untouched() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    append_all(&mut log, &todo_script());
    let mut count = View::new("count", counter_reducer, log.views_dir());
    let todos: View<TodoState> = View::new("todos", todo_reducer, log.views_dir());

    count.refresh(&log.reader()).unwrap();
    assert_eq!(*count.state(), 7);
    assert_eq!(todos.state(), &TodoState::default());
    assert!(!snapshot_path(log.views_dir(), "todos").exists());
    assert!(snapshot_path(log.views_dir(), "count").exists());
}

#[test]
fn more_events_then_refresh_all_updates_every_view() {
    let dir = test_dir();
    let mut log = EventLog::builder(dir.path())
        .view::<u64>("count", counter_reducer)
        .view::<BTreeMap<String, u64>>("hist", histogram_reducer)
        .view::<Vec<String>>("trace", trace_reducer)
        .open()
        .unwrap();
    let mut events = Vec::new();
    for round in 0..4u64 {
        let batch = numbered_events(round * 10, 3 + round as usize);
        append_all(&mut log, &batch);
        append_all(&mut log, &[todo_added(&format!("round {round}"))]);
        events.extend(batch);
        events.push(todo_added(&format!("round {round}")));
        log.refresh_all().unwrap();

        assert_eq!(
            *log.view::<u64>("count").unwrap(),
            fold_model(&events, counter_reducer)
        );
        let hist = log.view::<BTreeMap<String, u64>>("hist").unwrap();
        assert_eq!(hist, &fold_model(&events, histogram_reducer));
        assert_eq!(
            log.view::<Vec<String>>("trace").unwrap(),
            &fold_model(&events, trace_reducer)
        );
    }
}

#[test]
fn view_registered_later_replays_the_whole_history() {
    let dir = test_dir();
    let events = todo_script();
    {
        let mut log = EventLog::builder(dir.path())
            .view::<u64>("count", counter_reducer)
            .open()
            .unwrap();
        append_all(&mut log, &events);
        log.refresh_all().unwrap();
    }

    let mut log = open_with_views(dir.path());
    log.refresh_all().unwrap();
    assert_eq!(
        log.view::<TodoState>("todos").unwrap(),
        &fold_model(&events, todo_reducer)
    );
    assert_eq!(*log.view::<u64>("count").unwrap(), events.len() as u64);
}

#[test]
fn asking_for_an_unknown_view_or_the_wrong_type_fails() {
    let dir = test_dir();
    let log = open_with_views(dir.path());
    let missing = log.view::<u64>("nope").unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound);
    let mistyped = log.view::<String>("count").unwrap_err();
    assert_eq!(mistyped.kind(), ErrorKind::InvalidInput);
    assert!(log.view::<u64>("count").is_ok());
}

#[test]
fn state_survives_dropping_and_reopening_the_log() {
    let dir = test_dir();
    let mut events = todo_script();
    {
        let mut log = open_with_views(dir.path());
        append_all(&mut log, &events);
        log.refresh_all().unwrap();
        // Dropped here without any explicit close or flush.
    }
    let mut log = open_with_views(dir.path());
    log.refresh_all().unwrap();
    assert_eq!(
        log.view::<TodoState>("todos").unwrap(),
        &fold_model(&events, todo_reducer)
    );

    let later = vec![todo_added("after restart"), todo_completed(3)];
    append_all(&mut log, &later);
    events.extend(later);
    log.refresh_all().unwrap();
    let todos = log.view::<TodoState>("todos").unwrap();
    assert_eq!(todos, &fold_model(&events, todo_reducer));
    assert!(
        todos
            .items
            .iter()
            .any(|t| t.text == "after restart" && t.done)
    );
    assert_eq!(*log.view::<u64>("count").unwrap(), events.len() as u64);
}

#[test]
fn events_appended_while_closed_are_picked_up() {
    let dir = test_dir();
    let first = numbered_events(0, 3);
    {
        let mut log = open_with_views(dir.path());
        append_all(&mut log, &first);
        log.refresh_all().unwrap();
    }
    let second = numbered_events(3, 4);
    {
        let mut bare = EventLog::open(dir.path()).unwrap();
        append_all(&mut bare, &second);
    }
    let all: Vec<Event> = first.into_iter().chain(second).collect();
    let mut log = open_with_views(dir.path());
    log.refresh_all().unwrap();
    assert_eq!(
        *log.view::<u64>("count").unwrap(),
        fold_model(&all, counter_reducer)
    );
    assert_eq!(load_snapshot::<u64>(&log, "count").unwrap().state, 7);
}

#[test]
fn interleaved_appends_and_refreshes_match_full_replay() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let mut view = View::new("trace", trace_reducer, log.views_dir());
    let mut events = Vec::new();
    for batch in 0..6u64 {
        let new = numbered_events(batch * 100, batch as usize);
        append_all(&mut log, &new);
        events.extend(new);
        assert_eq!(
            view.refresh(&log.reader()).unwrap(),
            &fold_model(&events, trace_reducer)
        );
    }
    let mut replay = View::new("replay", trace_reducer, log.views_dir());
    assert_eq!(replay.refresh(&log.reader()).unwrap(), view.state());
}

#[test]
fn deleting_the_snapshot_by_hand_forces_a_correct_replay() {
    let dir = test_dir();
    let events = todo_script();
    {
        let mut log = open_with_views(dir.path());
        append_all(&mut log, &events);
        log.refresh_all().unwrap();
    }
    fs::remove_file(dir.path().join("views").join("todos.snapshot.json")).unwrap();

    let mut log = open_with_views(dir.path());
    log.refresh_all().unwrap();
    assert_eq!(
        log.view::<TodoState>("todos").unwrap(),
        &fold_model(&events, todo_reducer)
    );
    assert!(
        load_snapshot::<TodoState>(&log, "todos").is_some(),
        "the replay saved again"
    );
}

#[test]
fn truncated_or_garbled_snapshot_is_replaced_by_a_replay() {
    let garble: [fn(Vec<u8>) -> Vec<u8>; 4] = [
        |bytes| bytes[..bytes.len() / 3].to_vec(),
        |_| Vec::new(),
        |bytes| {
            bytes
                .iter()
                .map(|b| if b.is_ascii_digit() { b'x' } else { *b })
                .collect()
        },
        |_| b"{\"state\": \"oops\", \"offset\": [], \"hash\": 3}".to_vec(),
    ];
    for (case, mangle) in garble.into_iter().enumerate() {
        let dir = test_dir();
        let events = todo_script();
        {
            let mut log = open_with_views(dir.path());
            append_all(&mut log, &events);
            log.refresh_all().unwrap();
        }
        let path = dir.path().join("views").join("todos.snapshot.json");
        fs::write(&path, mangle(fs::read(&path).unwrap())).unwrap();

        let mut log = open_with_views(dir.path());
        log.refresh_all().unwrap();
        let expected = fold_model(&events, todo_reducer);
        assert_eq!(
            log.view::<TodoState>("todos").unwrap(),
            &expected,
            "case {case}"
        );
        assert_eq!(
            load_snapshot::<TodoState>(&log, "todos").unwrap().state,
            expected
        );
    }
}

#[test]
fn snapshot_offset_past_the_end_forces_a_correct_replay() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let events = numbered_events(0, 5);
    append_all(&mut log, &events);
    let path = snapshot_path(log.views_dir(), "sum");
    let size = log.active_log_size().unwrap();
    snapshot::save(
        &path,
        &Snapshot::new(-1_000i64, size + 500, "whatever".into()),
    )
    .unwrap();

    let mut view = View::new("sum", sum_reducer, log.views_dir());
    assert_eq!(
        *view.refresh(&log.reader()).unwrap(),
        fold_model(&events, sum_reducer)
    );
    let saved: Snapshot<i64> = snapshot::load(&path).unwrap().unwrap();
    assert_eq!(saved.offset, size);
}

/// A view kept outside the log (not reset by rotations) follows them: it goes on from the new
/// active log when the rotation archived exactly what it had read, and replays the history when
/// the rotation archived events it had not seen.
#[test]
fn a_standalone_view_follows_rotations_it_did_not_take_part_in() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let mut view: View<u64> = View::new("standalone", counter_reducer, log.views_dir());
    let reader = log.reader();
    append_n(&mut log, 10);
    assert_eq!(*view.refresh(&reader).unwrap(), 10);

    // The rotation archived exactly what the view had read: it continues incrementally.
    log.rotate().unwrap();
    append_n(&mut log, 3);
    assert_eq!(*view.refresh(&reader).unwrap(), 13);

    // Events the view never saw are archived by the next rotation: it replays.
    append_n(&mut log, 4);
    log.rotate().unwrap();
    append_n(&mut log, 2);
    assert_eq!(*view.refresh(&reader).unwrap(), 19);
    assert_eq!(*view.refresh(&reader).unwrap(), 19);
}
