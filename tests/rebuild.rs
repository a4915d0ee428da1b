//! Blue/green rebuilds (`EventLog::start_rebuild`): the new reducer folds the history in the
//! background while the old view serves, and replaces it in one step; shadows are resumed,
//! refused or removed as documented; cancel and close.
//!
//! The reference is a plain fold over the numbers the test appended.

use eventfold::{Event, EventLog, RebuildEnd, Replay, ViewConfig};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

fn event(n: u64) -> Event {
    Event::new(
        "e",
        json!({ "n": n, "pad": "some bytes so that the log rotates" }),
    )
}

/// The old reducer: counts events.
fn count(n: u64, _e: &Event) -> u64 {
    n + 1
}

/// The new reducer, of another state type: the numbers, in order (so a lost, doubled or
/// reordered event shows).
fn numbers(mut seen: Vec<u64>, e: &Event) -> Vec<u64> {
    seen.push(e.data["n"].as_u64().unwrap_or(u64::MAX));
    seen
}

fn open(dir: &Path, max_log_size: u64) -> EventLog {
    EventLog::builder(dir)
        .max_log_size(max_log_size)
        .view::<u64>("v", count)
        .open()
        .unwrap()
}

fn v2() -> ViewConfig {
    ViewConfig::new().version(2)
}

fn append(log: &mut EventLog, range: std::ops::Range<u64>) {
    let events: Vec<Event> = range.map(event).collect();
    for chunk in events.chunks(500) {
        log.append_batch(chunk).unwrap();
    }
}

fn shadow_path(dir: &Path) -> std::path::PathBuf {
    dir.join("views").join("v.rebuild.json")
}

fn snapshot(dir: &Path) -> serde_json::Value {
    let bytes = std::fs::read(dir.join("views").join("v.snapshot.json")).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn the_old_view_serves_until_the_new_one_replaces_it_whole() {
    let dir = tempfile::tempdir().unwrap();
    // Rotates every few thousand events, during the rebuild too.
    let mut log = open(dir.path(), 400_000);
    append(&mut log, 0..30_000);
    log.refresh_all().unwrap();
    let handle = log.start_rebuild::<Vec<u64>>("v", numbers, v2()).unwrap();
    // Only the log's thread swaps, at a refresh or a poll: until then the old view serves.
    assert_eq!(*log.view::<u64>("v").unwrap(), 30_000);
    let mut appended = 30_000;
    // Appends and refreshes go on; each refresh may swap the view, and every state seen is
    // either the old fold or the new one of the same events, never a mix.
    let deadline = Instant::now() + Duration::from_secs(120);
    while handle.report().is_none() {
        assert!(Instant::now() < deadline, "the rebuild did not end");
        append(&mut log, appended..appended + 200);
        appended += 200;
        log.refresh_all().unwrap();
        let old = log.view::<u64>("v");
        let new = log.view::<Vec<u64>>("v");
        match (old, new) {
            (Ok(old), Err(_)) => assert_eq!(*old, appended),
            (Err(_), Ok(new)) => assert_eq!(*new, (0..appended).collect::<Vec<_>>()),
            (old, new) => panic!("one view at a time: {:?} {:?}", old.ok(), new.ok()),
        }
        let progress = handle.progress();
        assert!(progress.done <= progress.total, "{progress:?}");
    }
    let report = handle.report().unwrap();
    assert_eq!(report.end, RebuildEnd::Swapped);
    assert_eq!(report.version, 2);
    assert_eq!(report.resumed, 0);
    assert!(report.background + report.at_swap <= appended);
    assert!(report.background >= 30_000, "{report}");
    // The view goes on with the new reducer.
    append(&mut log, appended..appended + 10);
    appended += 10;
    log.refresh_all().unwrap();
    assert_eq!(
        *log.view::<Vec<u64>>("v").unwrap(),
        (0..appended).collect::<Vec<_>>()
    );
    assert!(
        !shadow_path(dir.path()).exists(),
        "the swap removes the shadow"
    );
    assert_eq!(snapshot(dir.path())["version"], 2);
    drop(log);

    // The program now registers the new view: it resumes from its snapshot.
    let mut log = EventLog::builder(dir.path())
        .view_with::<Vec<u64>>("v", numbers, v2())
        .open()
        .unwrap();
    let report = log.refresh_all_with_report().unwrap().remove(0);
    assert_eq!((report.replay, report.folded), (None, 0));
    assert_eq!(log.view::<Vec<u64>>("v").unwrap().len() as u64, appended);
}

#[test]
fn finish_rebuild_waits_and_swaps_with_the_events_appended_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), 0);
    append(&mut log, 0..20_000);
    log.start_rebuild::<Vec<u64>>("v", numbers, v2()).unwrap();
    append(&mut log, 20_000..20_050);
    let report = log.finish_rebuild("v").unwrap();
    assert_eq!(report.background + report.at_swap, 20_050, "{report}");
    assert_eq!(
        *log.view::<Vec<u64>>("v").unwrap(),
        (0..20_050).collect::<Vec<_>>()
    );
    let on_disk = snapshot(dir.path());
    assert_eq!(on_disk["state"].as_array().unwrap().len(), 20_050);
    assert_eq!(on_disk["offset"], log.active_log_size().unwrap());
    let err = log.finish_rebuild("v").unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn cancel_keeps_the_view_and_removes_the_shadow() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), 0);
    append(&mut log, 0..5_000);
    log.refresh_all().unwrap();
    let handle = log.start_rebuild::<Vec<u64>>("v", numbers, v2()).unwrap();
    handle.cancel();
    let err = log.finish_rebuild("v").unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::Interrupted);
    assert_eq!(handle.report().unwrap().end, RebuildEnd::Cancelled);
    assert_eq!(*log.view::<u64>("v").unwrap(), 5_000);
    assert!(!shadow_path(dir.path()).exists());
    assert!(
        snapshot(dir.path()).get("version").is_none(),
        "the old snapshot stays"
    );
    // A new rebuild can start.
    log.start_rebuild::<Vec<u64>>("v", numbers, v2()).unwrap();
    assert_eq!(log.finish_rebuild("v").unwrap().end, RebuildEnd::Swapped);
}

#[test]
fn what_start_rebuild_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), 0);
    let same = log.start_rebuild::<u64>("v", count, ViewConfig::new());
    assert_eq!(same.unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
    let missing = log.start_rebuild::<u64>("w", count, v2());
    assert_eq!(missing.unwrap_err().kind(), std::io::ErrorKind::NotFound);
    log.start_rebuild::<u64>("v", count, v2()).unwrap();
    let twice = log.start_rebuild::<u64>("v", count, ViewConfig::new().version(3));
    assert_eq!(twice.unwrap_err().kind(), std::io::ErrorKind::AlreadyExists);
    log.finish_rebuild("v").unwrap();
}

/// Writes a shadow of `events` events ending at `position`, holding `state`.
fn put_shadow(dir: &Path, version: u32, position: u64, hash: &str, events: u64, state: &[u64]) {
    let shadow = json!({
        "version": version, "position": position, "hash": hash, "events": events,
        "total": events, "state": state,
    });
    std::fs::write(shadow_path(dir), serde_json::to_vec(&shadow).unwrap()).unwrap();
}

#[test]
fn a_shadow_of_the_same_version_is_resumed_from() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), 0);
    let mut ends = Vec::new();
    for n in 0..100 {
        ends.push(log.append(&event(n)).unwrap());
    }
    // A shadow after event 59, whose state is marked so that resuming from it shows.
    let at = &ends[59];
    put_shadow(dir.path(), 2, at.end_offset, &at.line_hash, 60, &[7777]);
    log.start_rebuild::<Vec<u64>>("v", numbers, v2()).unwrap();
    let report = log.finish_rebuild("v").unwrap();
    assert_eq!(
        (report.resumed, report.background + report.at_swap),
        (60, 40)
    );
    let mut expected = vec![7777];
    expected.extend(60..100);
    assert_eq!(*log.view::<Vec<u64>>("v").unwrap(), expected);
}

#[test]
fn a_shadow_that_no_longer_matches_the_history_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), 0);
    let mut ends = Vec::new();
    for n in 0..100 {
        ends.push(log.append(&event(n)).unwrap());
    }
    put_shadow(
        dir.path(),
        2,
        ends[59].end_offset,
        &ends[58].line_hash,
        60,
        &[7777],
    );
    log.start_rebuild::<Vec<u64>>("v", numbers, v2()).unwrap();
    let report = log.finish_rebuild("v").unwrap();
    assert_eq!(report.resumed, 0);
    assert_eq!(
        *log.view::<Vec<u64>>("v").unwrap(),
        (0..100).collect::<Vec<_>>()
    );
}

#[test]
fn a_shadow_of_another_version_is_removed_when_a_rebuild_starts() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), 0);
    let r = log.append(&event(0)).unwrap();
    put_shadow(dir.path(), 3, r.end_offset, &r.line_hash, 1, &[7777]);
    let handle = log.start_rebuild::<Vec<u64>>("v", numbers, v2()).unwrap();
    handle.cancel();
    let _ = log.finish_rebuild("v");
    assert!(!shadow_path(dir.path()).exists());
}

#[test]
fn a_shadow_survives_opening_with_the_old_version_and_is_resumed_later() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), 0);
    let mut ends = Vec::new();
    for n in 0..10 {
        ends.push(log.append(&event(n)).unwrap());
    }
    drop(log);
    put_shadow(
        dir.path(),
        2,
        ends[4].end_offset,
        &ends[4].line_hash,
        5,
        &[7777],
    );
    let mut log = open(dir.path(), 0);
    assert!(
        shadow_path(dir.path()).exists(),
        "kept for a rebuild to version 2"
    );
    log.refresh_all().unwrap();
    assert_eq!(*log.view::<u64>("v").unwrap(), 10);
    log.start_rebuild::<Vec<u64>>("v", numbers, v2()).unwrap();
    assert_eq!(log.finish_rebuild("v").unwrap().resumed, 5);
    assert_eq!(*log.view::<Vec<u64>>("v").unwrap(), [7777, 5, 6, 7, 8, 9]);
}

#[test]
fn opening_with_the_new_version_takes_the_shadow_as_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), 0);
    let mut ends = Vec::new();
    for n in 0..10 {
        ends.push(log.append(&event(n)).unwrap());
    }
    log.refresh_all().unwrap();
    drop(log);
    put_shadow(
        dir.path(),
        2,
        ends[4].end_offset,
        &ends[4].line_hash,
        5,
        &[7777],
    );
    let mut log = EventLog::builder(dir.path())
        .view_with::<Vec<u64>>("v", numbers, v2())
        .open()
        .unwrap();
    assert!(!shadow_path(dir.path()).exists());
    let report = log.refresh_all_with_report().unwrap().remove(0);
    assert_eq!((report.replay, report.folded), (None, 5));
    assert_eq!(*log.view::<Vec<u64>>("v").unwrap(), [7777, 5, 6, 7, 8, 9]);
}

#[test]
fn opening_with_the_new_version_removes_a_shadow_inside_the_archive() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), 0);
    let mut ends = Vec::new();
    for n in 0..10 {
        ends.push(log.append(&event(n)).unwrap());
    }
    log.rotate().unwrap();
    log.append(&event(10)).unwrap();
    drop(log);
    // Positions of the archived events are their offsets in the old active log.
    put_shadow(
        dir.path(),
        2,
        ends[4].end_offset,
        &ends[4].line_hash,
        5,
        &[7777],
    );
    let mut log = EventLog::builder(dir.path())
        .view_with::<Vec<u64>>("v", numbers, v2())
        .open()
        .unwrap();
    assert!(!shadow_path(dir.path()).exists());
    let report = log.refresh_all_with_report().unwrap().remove(0);
    assert!(matches!(report.replay, Some(Replay::VersionChanged { .. })));
    assert_eq!(
        *log.view::<Vec<u64>>("v").unwrap(),
        (0..11).collect::<Vec<_>>()
    );
}

#[test]
fn a_shadow_inside_the_archive_is_resumed_across_rotations() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), 0);
    let mut ends = Vec::new();
    for n in 0..10 {
        ends.push(log.append(&event(n)).unwrap());
    }
    log.rotate().unwrap();
    append(&mut log, 10..20);
    log.rotate().unwrap();
    append(&mut log, 20..25);
    put_shadow(
        dir.path(),
        2,
        ends[6].end_offset,
        &ends[6].line_hash,
        7,
        &[7777],
    );
    log.start_rebuild::<Vec<u64>>("v", numbers, v2()).unwrap();
    assert_eq!(log.finish_rebuild("v").unwrap().resumed, 7);
    let mut expected = vec![7777];
    expected.extend(7..25);
    assert_eq!(*log.view::<Vec<u64>>("v").unwrap(), expected);
}

#[test]
fn a_start_after_a_swap_takes_the_new_snapshot_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), 0);
    append(&mut log, 0..1_000);
    log.start_rebuild::<Vec<u64>>("v", numbers, v2()).unwrap();
    log.finish_rebuild("v").unwrap();
    drop(log);

    // The same program starts again: it registers the old view and asks for the rebuild.
    let mut log = open(dir.path(), 0);
    let handle = log.start_rebuild::<Vec<u64>>("v", numbers, v2()).unwrap();
    let report = handle.report().expect("ended at once");
    assert_eq!(report.end, RebuildEnd::Swapped);
    assert_eq!(report.background + report.at_swap, 0);
    let refresh = log.refresh_all_with_report().unwrap().remove(0);
    assert_eq!(refresh.replay, None, "the snapshot of version 2 is used");
    assert_eq!(log.view::<Vec<u64>>("v").unwrap().len(), 1_000);
}

#[test]
fn closing_the_log_stops_the_rebuild_and_a_later_one_ends_right() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), 2_000_000);
    append(&mut log, 0..200_000);
    log.start_rebuild::<Vec<u64>>("v", numbers, v2()).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    drop(log); // waits for the thread, which saves its shadow if it has folded anything
    let saved = std::fs::read(shadow_path(dir.path()))
        .ok()
        .map(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).unwrap());

    let mut log = open(dir.path(), 2_000_000);
    assert_eq!(
        *log.refresh_all()
            .map(|()| log.view::<u64>("v").unwrap())
            .unwrap(),
        200_000
    );
    log.start_rebuild::<Vec<u64>>("v", numbers, v2()).unwrap();
    let report = log.finish_rebuild("v").unwrap();
    if let Some(shadow) = saved {
        assert_eq!(Some(report.resumed), shadow["events"].as_u64());
    }
    assert_eq!(report.resumed + report.background + report.at_swap, 200_000);
    assert_eq!(
        *log.view::<Vec<u64>>("v").unwrap(),
        (0..200_000).collect::<Vec<_>>()
    );
}

/// The nice value of the calling thread, from `/proc` (field 19 of its `stat`, counted after
/// the command name).
#[cfg(target_os = "linux")]
fn nice_of_this_thread() -> i64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    after_name.split(' ').nth(16).unwrap().parse().unwrap()
}

/// The new reducer of the test below: the nice values of the threads that folded the events.
#[cfg(target_os = "linux")]
fn nice_values(
    mut seen: std::collections::BTreeSet<i64>,
    _e: &Event,
) -> std::collections::BTreeSet<i64> {
    seen.insert(nice_of_this_thread());
    seen
}

/// The background fold yields to the program's threads: it runs ten steps of `nice` lower
/// than the thread that started it (Linux), which keeps its own.
#[cfg(target_os = "linux")]
#[test]
fn the_background_fold_runs_at_a_lower_priority() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), 2_000_000);
    append(&mut log, 0..2_000);
    let before = nice_of_this_thread();
    log.start_rebuild::<std::collections::BTreeSet<i64>>("v", nice_values, v2())
        .unwrap();
    let report = log.finish_rebuild("v").unwrap();
    assert!(report.background > 0, "{report}");
    let seen = log.view::<std::collections::BTreeSet<i64>>("v").unwrap();
    assert!(
        seen.contains(&(before + 10).min(19)),
        "{seen:?}, started at {before}"
    );
    assert_eq!(nice_of_this_thread(), before);
}
