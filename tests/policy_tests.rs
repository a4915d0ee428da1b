//! Snapshot policies: when a view saves, explicit saves, what a drop leaves, and rotation's
//! saves. The snapshot file on disk is read back after each step, and every state is compared
//! with `fold_model` over the events the test appended.

mod common;

use std::path::Path;

use common::{
    append_all, counter_reducer, fold_model, numbered_events, snapshot_path, sum_reducer, test_dir,
    trace_reducer,
};
use eventfold::{
    Event, EventLog, EventReader, EventRef, RefreshReport, Snapshot, SnapshotPolicy, View,
    ViewConfig, snapshot,
};

fn saved<S: serde::de::DeserializeOwned>(views: &Path, name: &str) -> Option<Snapshot<S>> {
    snapshot::load(&snapshot_path(views, name)).unwrap()
}

fn sum_view(views: &Path, policy: SnapshotPolicy) -> View<i64> {
    View::new("sum", sum_reducer, views).with_config(ViewConfig::new().policy(policy))
}

fn refresh(view: &mut View<i64>, reader: &EventReader) -> RefreshReport {
    view.refresh_with_report(reader).unwrap()
}

#[test]
fn every_refresh_saves_whenever_an_event_was_folded() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let mut view = sum_view(log.views_dir(), SnapshotPolicy::every_refresh());
    let mut events = Vec::new();
    for round in 0..3 {
        let more = numbered_events(round * 10, 2);
        let results = append_all(&mut log, &more);
        events.extend(more);
        let report = refresh(&mut view, &log.reader());
        assert!(report.saved, "round {round}");
        let snap = saved::<i64>(log.views_dir(), "sum").unwrap();
        assert_eq!(
            snap.state,
            fold_model(&events, sum_reducer),
            "round {round}"
        );
        assert_eq!(snap.hash, results[1].line_hash, "round {round}");
    }
    let report = refresh(&mut view, &log.reader());
    assert_eq!((report.folded, report.saved), (0, false));
}

#[test]
fn every_events_saves_once_enough_events_were_folded_and_starts_counting_again() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    append_all(&mut log, &numbered_events(0, 1));
    let mut view = sum_view(log.views_dir(), SnapshotPolicy::every_events(5));
    assert!(
        refresh(&mut view, &log.reader()).saved,
        "a first replay saves"
    );

    // 3 + 1 events: below the threshold, the snapshot stays at the first event.
    for (first, count) in [(1, 3), (4, 1)] {
        append_all(&mut log, &numbered_events(first, count));
        let report = refresh(&mut view, &log.reader());
        assert_eq!((report.folded, report.saved), (count as u64, false));
        assert_eq!(saved::<i64>(log.views_dir(), "sum").unwrap().state, 0);
    }
    // The fifth event since the save.
    append_all(&mut log, &numbered_events(5, 1));
    assert!(refresh(&mut view, &log.reader()).saved);
    assert_eq!(saved::<i64>(log.views_dir(), "sum").unwrap().state, 15);

    // The count started again at the save: four more do not save, a fifth does.
    append_all(&mut log, &numbered_events(6, 4));
    assert!(!refresh(&mut view, &log.reader()).saved);
    append_all(&mut log, &numbered_events(10, 1));
    assert!(refresh(&mut view, &log.reader()).saved);
    assert_eq!(
        saved::<i64>(log.views_dir(), "sum").unwrap().state,
        (0..=10).sum::<i64>()
    );
}

#[test]
fn every_bytes_counts_the_bytes_of_folded_lines() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    append_all(&mut log, &numbered_events(0, 1));
    let line_len = log.active_log_size().unwrap();
    // Three lines of the same length as the first (single-digit numbers), newlines included.
    let mut view = sum_view(log.views_dir(), SnapshotPolicy::every_bytes(3 * line_len));
    assert!(refresh(&mut view, &log.reader()).saved);
    append_all(&mut log, &numbered_events(1, 2));
    assert!(!refresh(&mut view, &log.reader()).saved, "two lines");
    append_all(&mut log, &numbered_events(3, 1));
    assert!(refresh(&mut view, &log.reader()).saved, "three lines");
    assert_eq!(saved::<i64>(log.views_dir(), "sum").unwrap().state, 6);
}

#[test]
fn or_saves_at_whichever_threshold_comes_first() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    append_all(&mut log, &numbered_events(0, 1));
    let line_len = log.active_log_size().unwrap();
    let policy = SnapshotPolicy::every_events(4).or(SnapshotPolicy::every_bytes(2 * line_len));
    let mut view = sum_view(log.views_dir(), policy);
    refresh(&mut view, &log.reader());
    append_all(&mut log, &numbered_events(1, 1));
    assert!(!refresh(&mut view, &log.reader()).saved);
    append_all(&mut log, &numbered_events(2, 1));
    assert!(
        refresh(&mut view, &log.reader()).saved,
        "the byte threshold came first"
    );
}

#[test]
fn manual_saves_only_when_asked() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let events = numbered_events(1, 4);
    append_all(&mut log, &events[..2]);
    let mut view = sum_view(log.views_dir(), SnapshotPolicy::manual());
    let report = refresh(&mut view, &log.reader());
    assert_eq!((report.folded, report.saved), (2, false));
    assert!(
        saved::<i64>(log.views_dir(), "sum").is_none(),
        "not even a replay from scratch saves"
    );

    append_all(&mut log, &events[2..]);
    refresh(&mut view, &log.reader());
    assert!(view.save().unwrap(), "unsaved progress is written");
    let snap = saved::<i64>(log.views_dir(), "sum").unwrap();
    assert_eq!(snap.state, fold_model(&events, sum_reducer));
    assert_eq!(snap.offset, log.active_log_size().unwrap());
    assert!(!view.save().unwrap(), "nothing new since the save");
}

#[test]
fn save_writes_nothing_for_a_view_with_nothing_folded() {
    let dir = test_dir();
    let log = EventLog::open(dir.path()).unwrap();
    let mut view = sum_view(log.views_dir(), SnapshotPolicy::manual());
    assert!(!view.save().unwrap(), "never refreshed");
    refresh(&mut view, &log.reader());
    assert!(!view.save().unwrap(), "an empty log folds nothing");
    assert!(!snapshot_path(log.views_dir(), "sum").exists());
}

#[test]
fn a_dropped_view_refolds_exactly_its_unsaved_events() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let events = numbered_events(1, 10);
    append_all(&mut log, &events[..4]);
    let policy = SnapshotPolicy::every_events(1_000);
    {
        let mut view = sum_view(log.views_dir(), policy);
        assert!(refresh(&mut view, &log.reader()).saved, "the first replay");
        append_all(&mut log, &events[4..]);
        let report = refresh(&mut view, &log.reader());
        assert_eq!((report.folded, report.saved), (6, false));
        assert_eq!(*view.state(), fold_model(&events, sum_reducer));
    } // dropped with 6 unsaved events: nothing is written
    assert_eq!(
        saved::<i64>(log.views_dir(), "sum").unwrap().state,
        fold_model(&events[..4], sum_reducer)
    );

    let mut reopened = sum_view(log.views_dir(), policy);
    let report = refresh(&mut reopened, &log.reader());
    assert_eq!(report.replay, None, "the snapshot is used");
    assert_eq!(report.folded, 6, "only the unsaved events are folded again");
    assert_eq!(*reopened.state(), fold_model(&events, sum_reducer));
}

#[test]
fn a_log_saves_every_view_on_request_and_nothing_on_drop() {
    let dir = test_dir();
    let events = numbered_events(1, 6);
    let open = |policy| {
        EventLog::builder(dir.path())
            .snapshot_policy(policy)
            .view::<u64>("count", counter_reducer)
            .view::<Vec<String>>("trace", trace_reducer)
            .open()
            .unwrap()
    };
    {
        let mut log = open(SnapshotPolicy::manual());
        append_all(&mut log, &events[..3]);
        log.refresh_all().unwrap();
        log.save_all().unwrap();
        append_all(&mut log, &events[3..]);
        log.refresh_all().unwrap();
    } // dropped with 3 unsaved events per view
    let views = dir.path().join("views");
    assert_eq!(saved::<u64>(&views, "count").unwrap().state, 3);
    assert_eq!(
        saved::<Vec<String>>(&views, "trace").unwrap().state.len(),
        3
    );

    let mut log = open(SnapshotPolicy::every_refresh());
    let reports = log.refresh_all_with_report().unwrap();
    for report in &reports {
        assert_eq!((report.replay, report.folded), (None, 3), "{report}");
    }
    assert_eq!(*log.view::<u64>("count").unwrap(), 6);
    assert_eq!(
        log.view::<Vec<String>>("trace").unwrap(),
        &fold_model(&events, trace_reducer)
    );
}

#[test]
fn a_view_config_overrides_the_log_policy() {
    let dir = test_dir();
    fn clicks(n: u64, e: &EventRef<'_>) -> u64 {
        n + u64::from(e.event_type() == "tick")
    }
    let every = ViewConfig::new().policy(SnapshotPolicy::every_refresh());
    let mut log = EventLog::builder(dir.path())
        .snapshot_policy(SnapshotPolicy::manual())
        .view::<u64>("count", counter_reducer)
        .view_with::<i64>("sum", sum_reducer, every.clone())
        .view_ref_with::<u64>("clicks", clicks, every)
        .open()
        .unwrap();
    append_all(&mut log, &numbered_events(1, 2));
    let reports = log.refresh_all_with_report().unwrap();
    let saved: Vec<(&str, bool)> = reports.iter().map(|r| (r.view.as_str(), r.saved)).collect();
    assert_eq!(saved, [("count", false), ("sum", true), ("clicks", true)]);
    assert!(!snapshot_path(log.views_dir(), "count").exists());
}

#[test]
fn rotation_writes_every_snapshot_whatever_the_policy() {
    let dir = test_dir();
    let events = numbered_events(1, 5);
    let mut log = EventLog::builder(dir.path())
        .snapshot_policy(SnapshotPolicy::manual())
        .view::<i64>("sum", sum_reducer)
        .open()
        .unwrap();
    append_all(&mut log, &events[..2]);
    log.refresh_all().unwrap();
    append_all(&mut log, &events[2..]);
    assert!(!snapshot_path(log.views_dir(), "sum").exists());
    log.rotate().unwrap();
    let snap = saved::<i64>(log.views_dir(), "sum").expect("rotation saved the view");
    assert_eq!(
        (snap.state, snap.offset, snap.hash.as_str()),
        (fold_model(&events, sum_reducer), 0, "")
    );
    drop(log);

    // Reopened, the view starts from the rotated snapshot and replays nothing.
    let mut log = EventLog::builder(dir.path())
        .view::<i64>("sum", sum_reducer)
        .open()
        .unwrap();
    let report = &log.refresh_all_with_report().unwrap()[0];
    assert_eq!((report.replay, report.folded), (None, 0));
    assert_eq!(
        *log.view::<i64>("sum").unwrap(),
        fold_model(&events, sum_reducer)
    );
}

#[test]
fn auto_rotation_saves_views_under_a_policy_that_does_not() {
    let dir = test_dir();
    let events = numbered_events(1, 30);
    let mut log = EventLog::builder(dir.path())
        .max_log_size(400)
        .snapshot_policy(SnapshotPolicy::every_events(1_000_000))
        .view::<u64>("count", counter_reducer)
        .open()
        .unwrap();
    for event in &events {
        log.append(event).unwrap();
    }
    assert!(log.archive_path().exists(), "the log rotated");
    let snap = saved::<u64>(log.views_dir(), "count").expect("rotation saved the view");
    drop(log);
    // Whatever the last rotation saved, reopening folds the rest and agrees with the model.
    let mut log = EventLog::builder(dir.path())
        .view::<u64>("count", counter_reducer)
        .open()
        .unwrap();
    let report = &log.refresh_all_with_report().unwrap()[0];
    assert_eq!(report.replay, None);
    assert_eq!(snap.state + report.folded, events.len() as u64);
    assert_eq!(*log.view::<u64>("count").unwrap(), events.len() as u64);
}

#[test]
fn a_manual_view_replays_at_every_open_until_it_saves() {
    let dir = test_dir();
    let mut writer = eventfold::EventWriter::open(dir.path()).unwrap();
    for event in numbered_events(1, 3) {
        writer.append(&event).unwrap();
    }
    let open = || sum_view(writer.views_dir(), SnapshotPolicy::manual());
    for _ in 0..2 {
        let report = refresh(&mut open(), &writer.reader());
        assert_eq!(report.replay, Some(eventfold::Replay::NoSnapshot));
    }
    let mut view = open();
    refresh(&mut view, &writer.reader());
    view.save().unwrap();
    let report = refresh(&mut open(), &writer.reader());
    assert_eq!((report.replay, report.folded), (None, 0));
}

#[test]
fn a_default_view_keeps_0_2_0_bytes() {
    let dir = test_dir();
    let mut log = EventLog::builder(dir.path())
        .view::<u64>("count", counter_reducer)
        .open()
        .unwrap();
    let results = append_all(&mut log, &[Event::new("a", serde_json::json!({}))]);
    log.refresh_all().unwrap();
    let text = std::fs::read_to_string(snapshot_path(log.views_dir(), "count")).unwrap();
    let expected = format!(
        "{{\n  \"state\": 1,\n  \"offset\": {},\n  \"hash\": \"{}\"\n}}",
        results[0].end_offset, results[0].line_hash
    );
    assert_eq!(text, expected);
}
