//! `refresh_all` folds its views in one pass over the history: the result must be what folding
//! each view alone gives, whatever mix of reducers, starting places and rotations; and a
//! malformed line or a panicking reducer leaves on disk what refreshing one by one leaves.

mod common;

use common::{counter_reducer, fold_model, histogram_reducer, test_dir, trace_reducer};
use eventfold::{Checkpoints, Event, EventLog, EventRef, View, ViewConfig};
use proptest::prelude::*;
use serde_json::json;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

fn types_ref(mut seen: BTreeMap<String, u64>, event: &EventRef<'_>) -> BTreeMap<String, u64> {
    *seen.entry(event.event_type().to_string()).or_default() += 1;
    seen
}

fn ids_ref(mut ids: Vec<u64>, event: &EventRef<'_>) -> Vec<u64> {
    #[derive(serde::Deserialize)]
    struct N {
        n: u64,
    }
    ids.push(event.data_as::<N>().map_or(u64::MAX, |d| d.n));
    ids
}

fn ids(mut ids: Vec<u64>, event: &Event) -> Vec<u64> {
    ids.push(event.data["n"].as_u64().unwrap_or(u64::MAX));
    ids
}

fn event(n: u64) -> Event {
    let mut event = Event::new(["a", "b", "c"][n as usize % 3], json!({ "n": n }));
    event.ts = 1_000 + n;
    event
}

/// Four views: two over owned events, two over borrowed ones; `with` chooses which are
/// registered (by index), so views can join a log that already has others.
fn open(dir: &Path, with: &[usize]) -> EventLog {
    let mut builder = EventLog::builder(dir);
    for &i in with {
        builder = match i {
            0 => builder.view::<u64>("count", counter_reducer),
            1 => builder.view::<Vec<String>>("trace", trace_reducer),
            2 => builder.view_ref::<BTreeMap<String, u64>>("types", types_ref),
            3 => builder.view_ref::<Vec<u64>>("ids_ref", ids_ref),
            4 => builder.view::<Vec<u64>>("ids", ids),
            // With checkpoints: folds alone.
            5 => builder.view_with::<BTreeMap<String, u64>>(
                "histogram",
                histogram_reducer,
                ViewConfig::new().checkpoints(Checkpoints::every(3)),
            ),
            _ => unreachable!(),
        };
    }
    builder.open().unwrap()
}

fn check(log: &EventLog, with: &[usize], events: &[Event]) {
    let n: Vec<u64> = events
        .iter()
        .map(|e| e.data["n"].as_u64().unwrap())
        .collect();
    for &i in with {
        match i {
            0 => assert_eq!(*log.view::<u64>("count").unwrap(), events.len() as u64),
            1 => assert_eq!(
                log.view::<Vec<String>>("trace").unwrap(),
                &fold_model(events, trace_reducer)
            ),
            2 => {
                let mut expected = BTreeMap::new();
                for e in events {
                    *expected.entry(e.event_type.clone()).or_insert(0) += 1;
                }
                assert_eq!(
                    log.view::<BTreeMap<String, u64>>("types").unwrap(),
                    &expected
                );
            }
            3 => assert_eq!(log.view::<Vec<u64>>("ids_ref").unwrap(), &n),
            4 => assert_eq!(log.view::<Vec<u64>>("ids").unwrap(), &n),
            5 => assert_eq!(
                log.view::<BTreeMap<String, u64>>("histogram").unwrap(),
                &fold_model(events, histogram_reducer)
            ),
            _ => unreachable!(),
        }
    }
}

#[derive(Debug, Clone)]
enum Step {
    Append(usize),
    RefreshAll,
    Rotate,
    /// Reopen with these views (a view new to the log replays the whole history while the
    /// others go on from their snapshots).
    Reopen(Vec<usize>),
    /// Lose one view's snapshot.
    DropSnapshot(usize),
}

fn arb_views() -> impl Strategy<Value = Vec<usize>> {
    prop::sample::subsequence(vec![0, 1, 2, 3, 4, 5], 1..=6)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(common::proptest_cases(48)))]

    /// Whatever happened before, `refresh_all` leaves every view with the fold of the whole
    /// history, as folding it alone would.
    #[test]
    fn one_pass_equals_folding_each_view_alone(
        first in arb_views(),
        steps in prop::collection::vec(prop_oneof![
            4 => (1usize..40).prop_map(Step::Append),
            3 => Just(Step::RefreshAll),
            1 => Just(Step::Rotate),
            2 => arb_views().prop_map(Step::Reopen),
            1 => (0usize..6).prop_map(Step::DropSnapshot),
        ], 1..16),
    ) {
        let dir = test_dir();
        let mut with = first;
        let mut log = open(dir.path(), &with);
        let mut events = Vec::new();
        for step in steps {
            match step {
                Step::Append(k) => {
                    let batch: Vec<Event> = (0..k as u64).map(|i| event(events.len() as u64 + i)).collect();
                    log.append_batch(&batch).unwrap();
                    events.extend(batch);
                }
                Step::RefreshAll => {
                    log.refresh_all().unwrap();
                    check(&log, &with, &events);
                }
                Step::Rotate => log.rotate().unwrap(),
                Step::Reopen(views) => {
                    drop(log);
                    with = views;
                    log = open(dir.path(), &with);
                }
                Step::DropSnapshot(i) => {
                    let name = ["count", "trace", "types", "ids_ref", "ids", "histogram"][i];
                    let _ = fs::remove_file(dir.path().join("views").join(format!("{name}.snapshot.json")));
                }
            }
        }
        let reports = log.refresh_all_with_report().unwrap();
        prop_assert_eq!(reports.len(), with.len());
        check(&log, &with, &events);
        // And a fresh view, folding alone, agrees.
        let mut alone: View<Vec<String>> = View::new("alone", trace_reducer, log.views_dir());
        prop_assert_eq!(alone.refresh(&log.reader()).unwrap(), &fold_model(&events, trace_reducer));
    }
}

/// The snapshot files of a directory, by name.
fn snapshots(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir.join("views"))
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            name.ends_with(".snapshot.json")
                .then(|| (name, fs::read(e.path()).unwrap()))
        })
        .collect()
}

#[test]
fn a_malformed_line_fails_the_refresh_and_saves_nothing() {
    for (with, views_behind) in [(vec![0, 1, 2, 3], false), (vec![0, 1, 2, 3], true)] {
        let dir = test_dir();
        let mut log = open(dir.path(), &with);
        let good: Vec<Event> = (0..20).map(event).collect();
        log.append_batch(&good[..10]).unwrap();
        log.refresh_all().unwrap();
        if views_behind {
            // One view starts from the beginning, the others from their snapshots.
            fs::remove_file(dir.path().join("views").join("trace.snapshot.json")).unwrap();
        }
        drop(log);
        let mut log = open(dir.path(), &with);
        log.append_batch(&good[10..15]).unwrap();
        common::append_bytes(&dir.path().join("app.jsonl"), b"{\"type\":\"broken\"\n");
        log.append_batch(&good[15..]).unwrap();
        let before = snapshots(dir.path());

        let err = log.refresh_all().unwrap_err();
        match eventfold::Error::from_io(&err) {
            Some(eventfold::Error::Malformed { line, .. }) => assert_eq!(*line, 16),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(snapshots(dir.path()), before, "nothing was saved");
        // The same error again, until the line is dealt with.
        assert!(log.refresh_all().is_err());
        assert_eq!(snapshots(dir.path()), before);
    }
}

static PANIC: AtomicBool = AtomicBool::new(false);

fn touchy(n: u64, event: &Event) -> u64 {
    if PANIC.load(Ordering::SeqCst) && event.event_type == "boom" {
        panic!("the reducer refuses this event");
    }
    n + 1
}

#[test]
fn a_panicking_reducer_saves_nothing_and_the_next_refresh_starts_from_the_snapshots() {
    let dir = test_dir();
    let open = |dir: &Path| {
        EventLog::builder(dir)
            .view::<u64>("count", counter_reducer)
            .view::<u64>("touchy", touchy)
            .view_ref::<BTreeMap<String, u64>>("types", types_ref)
            .open()
            .unwrap()
    };
    let mut log = open(dir.path());
    let good: Vec<Event> = (0..10).map(event).collect();
    log.append_batch(&good).unwrap();
    log.refresh_all().unwrap();
    let mut boom = event(10);
    boom.event_type = "boom".into();
    log.append(&boom).unwrap();
    log.append(&event(11)).unwrap();
    let before = snapshots(dir.path());

    PANIC.store(true, Ordering::SeqCst);
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| log.refresh_all()));
    assert!(panicked.is_err(), "the reducer's panic reaches the caller");
    assert_eq!(snapshots(dir.path()), before, "nothing was saved");

    // Once the reducer accepts the event, the views reload their snapshots and fold on from
    // there: nothing is folded twice, nothing lost.
    PANIC.store(false, Ordering::SeqCst);
    log.refresh_all().unwrap();
    assert_eq!(*log.view::<u64>("count").unwrap(), 12);
    assert_eq!(*log.view::<u64>("touchy").unwrap(), 12);
    assert_eq!(
        log.view::<BTreeMap<String, u64>>("types")
            .unwrap()
            .values()
            .sum::<u64>(),
        12
    );
}
