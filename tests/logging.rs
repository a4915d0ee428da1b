//! What views log through the `log` crate. A logger that keeps every record is installed once
//! for this test binary (a logger can be set only once per process), so this file holds a
//! single test, and it looks only at records that name its own views.

mod common;

use std::sync::Mutex;

use common::{append_all, counter_reducer, numbered_events, test_dir};
use eventfold::{EventLog, ViewConfig};
use log::{Level, LevelFilter, Log, Metadata, Record};

struct Keep(Mutex<Vec<(Level, String)>>);

impl Log for Keep {
    fn enabled(&self, _metadata: &Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &Record<'_>) {
        let message = record.args().to_string();
        self.0.lock().unwrap().push((record.level(), message));
    }

    fn flush(&self) {}
}

static LOGGER: Keep = Keep(Mutex::new(Vec::new()));

/// Takes the records logged so far that mention `view`.
fn records_about(view: &str) -> Vec<(Level, String)> {
    let mut all = LOGGER.0.lock().unwrap();
    let quoted = format!("'{view}'");
    let (mine, rest) = all.drain(..).partition(|(_, m)| m.contains(&quoted));
    *all = rest;
    mine
}

fn open(dir: &std::path::Path, version: u32) -> EventLog {
    EventLog::builder(dir)
        .view_with::<u64>(
            "logged",
            counter_reducer,
            ViewConfig::new().version(version),
        )
        .open()
        .unwrap()
}

#[test]
fn discarded_snapshots_warn_and_replays_are_reported() {
    log::set_logger(&LOGGER).unwrap();
    log::set_max_level(LevelFilter::Trace);
    let dir = test_dir();

    // A first replay: there is no snapshot to discard, so no warning; the replay is reported.
    {
        let mut log = open(dir.path(), 0);
        append_all(&mut log, &numbered_events(0, 3));
        log.refresh_all().unwrap();
    }
    let records = records_about("logged");
    assert!(
        records.iter().all(|(level, _)| *level != Level::Warn),
        "{records:?}"
    );
    let info: Vec<&String> = records
        .iter()
        .filter(|(level, _)| *level == Level::Info)
        .map(|(_, m)| m)
        .collect();
    assert_eq!(info.len(), 1, "{records:?}");
    assert!(info[0].contains("3 events"), "{}", info[0]);
    assert!(
        records
            .iter()
            .any(|(level, m)| *level == Level::Debug && m.contains("saved")),
        "the save is logged at debug level: {records:?}"
    );

    // A new version: the snapshot is discarded with a warning naming both versions.
    {
        let mut log = open(dir.path(), 5);
        log.refresh_all().unwrap();
    }
    let records = records_about("logged");
    let warnings: Vec<&String> = records
        .iter()
        .filter(|(level, _)| *level == Level::Warn)
        .map(|(_, m)| m)
        .collect();
    assert_eq!(warnings.len(), 1, "{records:?}");
    assert!(
        warnings[0].contains("version 0") && warnings[0].contains("version 5"),
        "{}",
        warnings[0]
    );
    assert!(warnings[0].contains("rebuilding"), "{}", warnings[0]);
    let info: Vec<&String> = records
        .iter()
        .filter(|(level, _)| *level == Level::Info)
        .map(|(_, m)| m)
        .collect();
    assert_eq!(info.len(), 1, "{records:?}");
    assert!(
        info[0].contains("version") && info[0].contains("3 events"),
        "{}",
        info[0]
    );

    // Resuming from the new snapshot logs neither.
    {
        let mut log = open(dir.path(), 5);
        log.refresh_all().unwrap();
    }
    let records = records_about("logged");
    assert!(
        records
            .iter()
            .all(|(level, _)| *level != Level::Warn && *level != Level::Info),
        "{records:?}"
    );
}
