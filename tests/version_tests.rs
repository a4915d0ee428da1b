//! Versioned snapshots: a view rebuilds once when its version changes, snapshots written by
//! eventfold 0.2.0 count as version 0, and rotation keeps the version it finds.

mod common;

use std::fs;
use std::path::Path;

use common::{append_all, counter_reducer, numbered_events, snapshot_path, test_dir};
use eventfold::{Event, EventLog, EventWriter, Replay, SnapshotPolicy, View, ViewConfig};
use eventfold_v02 as v02;
use serde_json::Value;

fn open(dir: &Path, config: ViewConfig) -> EventLog {
    EventLog::builder(dir)
        .view_with::<u64>("count", counter_reducer, config)
        .open()
        .unwrap()
}

fn version_in(views: &Path, name: &str) -> Option<u64> {
    let text = fs::read_to_string(snapshot_path(views, name)).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    json.get("version").map(|v| v.as_u64().expect("a number"))
}

#[test]
fn a_new_version_rebuilds_once_then_resumes() {
    let dir = test_dir();
    let events = numbered_events(0, 5);
    {
        let mut log = open(dir.path(), ViewConfig::new());
        append_all(&mut log, &events);
        log.refresh_all().unwrap();
    }
    assert_eq!(version_in(&dir.path().join("views"), "count"), None);

    for round in 0..2 {
        let mut log = open(dir.path(), ViewConfig::new().version(2));
        let report = log.refresh_all_with_report().unwrap().remove(0);
        if round == 0 {
            let changed = Replay::VersionChanged {
                found: 0,
                expected: 2,
            };
            assert_eq!(report.replay, Some(changed), "{report}");
            assert_eq!((report.folded, report.saved), (5, true));
        } else {
            assert_eq!(
                (report.replay, report.folded, report.saved),
                (None, 0, false)
            );
        }
        assert_eq!(*log.view::<u64>("count").unwrap(), 5);
        assert_eq!(version_in(log.views_dir(), "count"), Some(2));
    }

    // Going back to version 0 rebuilds again, and writes no version field.
    let mut log = open(dir.path(), ViewConfig::new());
    let report = log.refresh_all_with_report().unwrap().remove(0);
    let back = Replay::VersionChanged {
        found: 2,
        expected: 0,
    };
    assert_eq!(report.replay, Some(back));
    assert_eq!(version_in(log.views_dir(), "count"), None);
}

#[test]
fn a_version_change_rebuilds_even_when_the_state_no_longer_parses() {
    let dir = test_dir();
    let mut writer = EventWriter::open(dir.path()).unwrap();
    writer
        .append(&Event::new("a", serde_json::json!({})))
        .unwrap();
    let mut old = View::<Vec<String>>::new("v", common::trace_reducer, writer.views_dir())
        .with_config(ViewConfig::new().version(1));
    old.refresh(&writer.reader()).unwrap();

    // The same name with another state type and version.
    let mut new = View::<u64>::new("v", counter_reducer, writer.views_dir())
        .with_config(ViewConfig::new().version(2));
    let report = new.refresh_with_report(&writer.reader()).unwrap();
    let changed = Replay::VersionChanged {
        found: 1,
        expected: 2,
    };
    assert_eq!(report.replay, Some(changed));
    assert_eq!(*new.state(), 1);

    // The same version with a state that does not parse is unreadable.
    let mut same = View::<String>::new("v", |s, _e| s, writer.views_dir())
        .with_config(ViewConfig::new().version(2));
    let report = same.refresh_with_report(&writer.reader()).unwrap();
    assert_eq!(report.replay, Some(Replay::Unreadable));
}

fn v02_count(state: u64, _event: &v02::Event) -> u64 {
    state + 1
}

/// A directory whose `count` snapshot was written by eventfold 0.2.0 after `events`.
fn written_by_v02(dir: &Path, events: usize) {
    let mut log = v02::EventLog::builder(dir)
        .view::<u64>("count", v02_count)
        .open()
        .unwrap();
    for n in 0..events {
        let event = v02::Event::new("tick", serde_json::json!({ "n": n }));
        log.append(&event).unwrap();
    }
    log.refresh_all().unwrap();
}

#[test]
fn a_snapshot_written_by_0_2_0_is_version_0() {
    let dir = test_dir();
    written_by_v02(dir.path(), 4);
    let snapshot = snapshot_path(&dir.path().join("views"), "count");
    let original = fs::read(&snapshot).unwrap();

    // Trusted by a view without a version: nothing is folded again, nothing rewritten.
    let mut log = open(dir.path(), ViewConfig::new());
    let report = log.refresh_all_with_report().unwrap().remove(0);
    assert_eq!(
        (report.replay, report.folded, report.saved),
        (None, 0, false)
    );
    assert_eq!(*log.view::<u64>("count").unwrap(), 4);
    assert_eq!(fs::read(&snapshot).unwrap(), original);
    drop(log);

    // Discarded by a view with one, which rebuilds and saves with its version.
    let mut log = open(dir.path(), ViewConfig::new().version(1));
    let report = log.refresh_all_with_report().unwrap().remove(0);
    let changed = Replay::VersionChanged {
        found: 0,
        expected: 1,
    };
    assert_eq!(
        (report.replay, report.folded, report.saved),
        (Some(changed), 4, true)
    );
    assert_eq!(version_in(log.views_dir(), "count"), Some(1));
    drop(log);

    // eventfold 0.2.0 ignores the field and reads the rest.
    let loaded: v02::Snapshot<u64> = v02::snapshot::load(&snapshot).unwrap().unwrap();
    assert_eq!(loaded.state, 4);
}

#[test]
fn a_manual_view_does_not_save_its_rebuild_so_it_rebuilds_again() {
    let dir = test_dir();
    written_by_v02(dir.path(), 2);
    let config = ViewConfig::new()
        .version(1)
        .policy(SnapshotPolicy::manual());
    for _ in 0..2 {
        let mut log = open(dir.path(), config.clone());
        let report = log.refresh_all_with_report().unwrap().remove(0);
        assert!(matches!(report.replay, Some(Replay::VersionChanged { .. })));
        assert!(!report.saved);
    }
    let mut log = open(dir.path(), config.clone());
    log.refresh_all().unwrap();
    log.save_all().unwrap();
    drop(log);
    let mut log = open(dir.path(), config);
    let report = log.refresh_all_with_report().unwrap().remove(0);
    assert_eq!((report.replay, report.folded), (None, 0));
}

#[test]
fn rotation_keeps_the_version_of_snapshots_it_resets() {
    let dir = test_dir();
    let mut log = open(dir.path(), ViewConfig::new().version(7));
    append_all(&mut log, &numbered_events(0, 3));
    // A view that is not registered, with its own version, that has read the whole log.
    let solo_config = ViewConfig::new().version(9);
    View::new("solo", counter_reducer, log.views_dir())
        .with_config(solo_config.clone())
        .refresh(&log.reader())
        .unwrap();
    log.rotate().unwrap();

    for (name, version) in [("count", 7), ("solo", 9)] {
        assert_eq!(
            version_in(log.views_dir(), name),
            Some(version),
            "{name} keeps its version"
        );
        let snap: eventfold::Snapshot<u64> =
            eventfold::snapshot::load(&snapshot_path(log.views_dir(), name))
                .unwrap()
                .unwrap();
        assert_eq!((snap.state, snap.offset), (3, 0), "{name}");
    }
    let mut solo = View::new("solo", counter_reducer, log.views_dir()).with_config(solo_config);
    let report = solo.refresh_with_report(&log.reader()).unwrap();
    assert_eq!((report.replay, report.folded, *solo.state()), (None, 0, 3));
}
