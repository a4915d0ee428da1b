//! Refresh reports: each reason for a replay from scratch is provoked and reported, and the
//! state that follows always equals `fold_model` over the events appended.

mod common;

use std::fs;
use std::path::Path;

use common::{append_all, fold_model, numbered_events, snapshot_path, sum_reducer, test_dir};
use eventfold::{Event, EventLog, RefreshReport, Replay, Snapshot, View, snapshot};

fn sum_view(views: &Path) -> View<i64> {
    View::new("sum", sum_reducer, views)
}

/// A log with `events` appended and a `sum` snapshot after all of them.
fn log_with_snapshot(dir: &Path, events: &[Event]) -> EventLog {
    let mut log = EventLog::open(dir).unwrap();
    append_all(&mut log, events);
    sum_view(log.views_dir()).refresh(&log.reader()).unwrap();
    log
}

fn reopen_and_refresh(log: &EventLog) -> (RefreshReport, i64) {
    let mut view = sum_view(log.views_dir());
    let report = view.refresh_with_report(&log.reader()).unwrap();
    (report, *view.state())
}

#[test]
fn an_incremental_refresh_reports_the_events_it_read() {
    let dir = test_dir();
    let events = numbered_events(1, 5);
    let mut log = log_with_snapshot(dir.path(), &events[..3]);
    append_all(&mut log, &events[3..]);
    let (report, state) = reopen_and_refresh(&log);
    assert_eq!(report.view, "sum");
    assert_eq!(
        (report.replay, report.folded, report.saved),
        (None, 2, true)
    );
    assert_eq!(state, fold_model(&events, sum_reducer));
    assert!(
        report
            .to_string()
            .starts_with("view \"sum\": folded 2 events")
    );
}

#[test]
fn no_snapshot() {
    let dir = test_dir();
    let events = numbered_events(1, 3);
    let mut log = EventLog::open(dir.path()).unwrap();
    append_all(&mut log, &events);
    let (report, state) = reopen_and_refresh(&log);
    assert_eq!(
        (report.replay, report.folded),
        (Some(Replay::NoSnapshot), 3)
    );
    assert_eq!(state, fold_model(&events, sum_reducer));
}

#[test]
fn unreadable() {
    let dir = test_dir();
    let events = numbered_events(1, 3);
    let log = log_with_snapshot(dir.path(), &events);
    let path = snapshot_path(log.views_dir(), "sum");
    for damage in [&b"{\"state\": 6, \"offs"[..], b"", b"\"a string\""] {
        fs::write(&path, damage).unwrap();
        let (report, state) = reopen_and_refresh(&log);
        let what = String::from_utf8_lossy(damage);
        assert_eq!(report.replay, Some(Replay::Unreadable), "{what}");
        assert_eq!((report.folded, report.saved, state), (3, true, 6), "{what}");
    }
}

#[test]
fn log_rewritten_offset_past_the_end() {
    let dir = test_dir();
    let events = numbered_events(1, 3);
    let log = log_with_snapshot(dir.path(), &events);
    let path = snapshot_path(log.views_dir(), "sum");
    let size = log.active_log_size().unwrap();
    snapshot::save(&path, &Snapshot::new(1_000i64, size + 1, "00".repeat(8))).unwrap();
    let (report, state) = reopen_and_refresh(&log);
    assert_eq!(
        (report.replay, report.folded),
        (Some(Replay::LogRewritten), 3)
    );
    assert_eq!(state, fold_model(&events, sum_reducer));
}

#[test]
fn log_rewritten_hash_mismatch() {
    let dir = test_dir();
    let events = numbered_events(1, 3);
    let log = log_with_snapshot(dir.path(), &events);
    let path = snapshot_path(log.views_dir(), "sum");
    let old: Snapshot<i64> = snapshot::load(&path).unwrap().unwrap();
    snapshot::save(
        &path,
        &Snapshot::new(1_000i64, old.offset, "0123456789abcdef".into()),
    )
    .unwrap();
    let (report, state) = reopen_and_refresh(&log);
    assert_eq!(report.replay, Some(Replay::LogRewritten));
    assert_eq!(state, fold_model(&events, sum_reducer));
}

#[test]
fn rotation_missed() {
    let dir = test_dir();
    let events = numbered_events(1, 6);
    let mut log = EventLog::open(dir.path()).unwrap();
    append_all(&mut log, &events[..2]);
    let mut view = sum_view(log.views_dir());
    view.refresh(&log.reader()).unwrap();
    // The view does not read these before the log archives them.
    append_all(&mut log, &events[2..4]);
    log.rotate().unwrap();
    append_all(&mut log, &events[4..]);
    let report = view.refresh_with_report(&log.reader()).unwrap();
    assert_eq!(
        (report.replay, report.folded),
        (Some(Replay::RotationMissed), 6)
    );
    assert_eq!(*view.state(), fold_model(&events, sum_reducer));
}

#[test]
fn requested() {
    let dir = test_dir();
    let events = numbered_events(1, 4);
    let log = log_with_snapshot(dir.path(), &events);
    let mut view = sum_view(log.views_dir());
    view.refresh(&log.reader()).unwrap();
    let report = view.rebuild_with_report(&log.reader()).unwrap();
    assert_eq!(
        (report.replay, report.folded, report.saved),
        (Some(Replay::Requested), 4, true)
    );
    assert_eq!(*view.state(), fold_model(&events, sum_reducer));
}

#[test]
fn retry_after_an_error_in_the_archive() {
    let dir = test_dir();
    let events = numbered_events(1, 400);
    let mut log = EventLog::open(dir.path()).unwrap();
    append_all(&mut log, &events[..300]);
    log.rotate().unwrap();
    append_all(&mut log, &events[300..]);

    let archive = fs::read(log.archive_path()).unwrap();
    let mut damaged = archive.clone();
    let middle = damaged.len() / 2;
    for byte in &mut damaged[middle..middle + 16] {
        *byte ^= 0xff;
    }
    fs::write(log.archive_path(), &damaged).unwrap();
    let mut view = sum_view(log.views_dir());
    assert!(view.refresh(&log.reader()).is_err(), "the damaged frame");

    fs::write(log.archive_path(), &archive).unwrap();
    let report = view.refresh_with_report(&log.reader()).unwrap();
    assert_eq!((report.replay, report.folded), (Some(Replay::Retry), 400));
    assert_eq!(*view.state(), fold_model(&events, sum_reducer));
}

#[test]
fn version_changed() {
    let dir = test_dir();
    let events = numbered_events(1, 3);
    let log = log_with_snapshot(dir.path(), &events);
    let mut view = sum_view(log.views_dir()).with_config(eventfold::ViewConfig::new().version(4));
    let report = view.refresh_with_report(&log.reader()).unwrap();
    let changed = Replay::VersionChanged {
        found: 0,
        expected: 4,
    };
    assert_eq!((report.replay, report.folded), (Some(changed), 3));
    assert_eq!(*view.state(), fold_model(&events, sum_reducer));
}
