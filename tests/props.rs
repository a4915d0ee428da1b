//! Property tests: random event sequences interleaved with refreshes, rotations and reopens
//! must always agree with the in-memory reference fold.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use common::{
    TodoState, counter_reducer, fold_model, histogram_reducer, read_active, read_all, sum_reducer,
    test_dir, todo_reducer, trace_reducer,
};
use eventfold::{Event, EventLog, View};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::json;

/// Something that can happen to a log during a property run.
#[derive(Debug, Clone)]
enum Step {
    Append(Event),
    RefreshAll,
    Rotate,
    Reopen,
}

fn arb_text() -> impl Strategy<Value = String> {
    let pieces = vec!["a", "zz", " ", "é", "✓", "🦀", "\n", "\"", "\\", "\t", "{}"];
    prop::collection::vec(prop::sample::select(pieces), 0..6).prop_map(|parts| parts.concat())
}

fn arb_event() -> impl Strategy<Value = Event> {
    let types = vec![
        "todo_added",
        "todo_completed",
        "todo_removed",
        "tick",
        "note",
    ];
    (
        prop::sample::select(types),
        0u64..6,
        arb_text(),
        any::<u32>(),
        prop::option::of("[a-z]{1,5}"),
    )
        .prop_map(|(event_type, n, text, ts, actor)| Event {
            event_type: event_type.to_string(),
            data: json!({"id": n, "n": n, "text": text}),
            ts: u64::from(ts),
            id: None,
            actor,
            meta: None,
        })
}

fn arb_events(max: usize) -> impl Strategy<Value = Vec<Event>> {
    prop::collection::vec(arb_event(), 0..max)
}

fn arb_steps(with_rotation: bool) -> impl Strategy<Value = Vec<Step>> {
    let rotate_weight = if with_rotation { 2 } else { 0 };
    let step = prop_oneof![
        8 => arb_event().prop_map(Step::Append),
        3 => Just(Step::RefreshAll),
        rotate_weight => Just(Step::Rotate),
        1 => Just(Step::Reopen),
    ];
    prop::collection::vec(step, 0..32)
}

fn open_log(dir: &Path, max_log_size: u64) -> EventLog {
    EventLog::builder(dir)
        .max_log_size(max_log_size)
        .view::<u64>("count", counter_reducer)
        .view::<i64>("sum", sum_reducer)
        .view::<TodoState>("todos", todo_reducer)
        .view::<Vec<String>>("trace", trace_reducer)
        .open()
        .unwrap()
}

/// Run `steps` against a log in `dir`, returning the open log and every appended event.
fn run_steps(dir: &Path, steps: &[Step]) -> (EventLog, Vec<Event>) {
    let mut log = open_log(dir, 0);
    let mut appended = Vec::new();
    for step in steps {
        match step {
            Step::Append(event) => {
                log.append(event).unwrap();
                appended.push(event.clone());
            }
            Step::RefreshAll => log.refresh_all().unwrap(),
            Step::Rotate => log.rotate().unwrap(),
            Step::Reopen => {
                drop(log);
                log = open_log(dir, 0);
            }
        }
    }
    (log, appended)
}

/// Every registered view equals the reference fold of `events`.
fn check_registered_views(log: &EventLog, events: &[Event]) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        *log.view::<u64>("count").unwrap(),
        fold_model(events, counter_reducer)
    );
    prop_assert_eq!(
        *log.view::<i64>("sum").unwrap(),
        fold_model(events, sum_reducer)
    );
    prop_assert_eq!(
        log.view::<TodoState>("todos").unwrap(),
        &fold_model(events, todo_reducer)
    );
    prop_assert_eq!(
        log.view::<Vec<String>>("trace").unwrap(),
        &fold_model(events, trace_reducer)
    );
    Ok(())
}

/// A brand-new, unregistered view replays the whole history of `log`.
fn full_replay<S>(log: &EventLog, name: &str, reducer: fn(S, &Event) -> S) -> S
where
    S: serde::Serialize + serde::de::DeserializeOwned + Default + Clone,
{
    View::new(name, reducer, log.views_dir())
        .refresh(&log.reader())
        .unwrap()
        .clone()
}

fn remove_all_snapshots(views_dir: &Path) {
    for entry in fs::read_dir(views_dir).unwrap() {
        fs::remove_file(entry.unwrap().path()).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(common::proptest_cases(24)))]

    /// Refreshing at arbitrary points (and reopening in between) gives the same state as
    /// one full replay of the log.
    #[test]
    fn incremental_refreshes_equal_full_replay(steps in arb_steps(false)) {
        let dir = test_dir();
        let (mut log, events) = run_steps(dir.path(), &steps);
        log.refresh_all().unwrap();
        check_registered_views(&log, &events)?;
        prop_assert_eq!(full_replay(&log, "replay_trace", trace_reducer), fold_model(&events, trace_reducer));
        prop_assert_eq!(full_replay(&log, "replay_todos", todo_reducer), fold_model(&events, todo_reducer));
    }

    /// Rotating anywhere in the sequence leaves every view where a rotation-free replay
    /// would be.
    #[test]
    fn rotations_do_not_change_view_state(
        events in arb_events(30),
        rotate_after in prop::collection::vec(any::<bool>(), 30),
        refresh_after in prop::collection::vec(any::<bool>(), 30),
    ) {
        let dir = test_dir();
        let mut log = open_log(dir.path(), 0);
        for (i, event) in events.iter().enumerate() {
            log.append(event).unwrap();
            if refresh_after[i] {
                log.refresh_all().unwrap();
            }
            if rotate_after[i] {
                log.rotate().unwrap();
            }
        }
        log.refresh_all().unwrap();
        check_registered_views(&log, &events)?;
        prop_assert_eq!(full_replay(&log, "late_count", counter_reducer), events.len() as u64);
        prop_assert_eq!(full_replay(&log, "late_sum", sum_reducer), fold_model(&events, sum_reducer));
    }

    /// Throwing every snapshot away and replaying gives back exactly the incrementally
    /// maintained states.
    #[test]
    fn rebuilding_from_scratch_equals_incremental_state(steps in arb_steps(true)) {
        let dir = test_dir();
        let (mut log, events) = run_steps(dir.path(), &steps);
        log.refresh_all().unwrap();
        let count = *log.view::<u64>("count").unwrap();
        let sum = *log.view::<i64>("sum").unwrap();
        let todos = log.view::<TodoState>("todos").unwrap().clone();
        let trace = log.view::<Vec<String>>("trace").unwrap().clone();
        drop(log);

        remove_all_snapshots(&dir.path().join("views"));
        let mut log = open_log(dir.path(), 0);
        log.refresh_all().unwrap();
        prop_assert_eq!(*log.view::<u64>("count").unwrap(), count);
        prop_assert_eq!(*log.view::<i64>("sum").unwrap(), sum);
        prop_assert_eq!(log.view::<TodoState>("todos").unwrap(), &todos);
        prop_assert_eq!(log.view::<Vec<String>>("trace").unwrap(), &trace);

        let mut standalone = View::new("trace", trace_reducer, log.views_dir());
        prop_assert_eq!(standalone.rebuild(&log.reader()).unwrap(), &trace);
        prop_assert_eq!(trace, fold_model(&events, trace_reducer));
    }

    /// `read_full` returns every appended event, unchanged and in append order, however the
    /// history is split between archive frames and the active log.
    #[test]
    fn read_full_preserves_append_order(steps in arb_steps(true)) {
        let dir = test_dir();
        let (log, events) = run_steps(dir.path(), &steps);
        prop_assert_eq!(read_all(&log.reader()), events.clone());

        let since_last_rotation = match steps.iter().rposition(|s| matches!(s, Step::Rotate)) {
            Some(at) => steps[at..]
                .iter()
                .filter_map(|s| match s { Step::Append(e) => Some(e.clone()), _ => None })
                .collect(),
            None => events,
        };
        prop_assert_eq!(read_active(&log.reader()), since_last_rotation);
    }

    /// After every `refresh_all`, each registered view equals a fresh fold with its own
    /// reducer over the events so far.
    #[test]
    fn every_view_agrees_with_its_reducer_after_refresh_all(steps in arb_steps(true)) {
        let dir = test_dir();
        let mut log = open_log(dir.path(), 0);
        let mut events = Vec::new();
        for step in &steps {
            match step {
                Step::Append(event) => {
                    log.append(event).unwrap();
                    events.push(event.clone());
                }
                Step::RefreshAll => {
                    log.refresh_all().unwrap();
                    check_registered_views(&log, &events)?;
                }
                Step::Rotate => {
                    log.rotate().unwrap();
                    check_registered_views(&log, &events)?;
                }
                Step::Reopen => {
                    drop(log);
                    log = open_log(dir.path(), 0);
                }
            }
        }
        log.refresh_all().unwrap();
        check_registered_views(&log, &events)?;
        let histogram: BTreeMap<String, u64> = full_replay(&log, "hist", histogram_reducer);
        prop_assert_eq!(histogram, fold_model(&events, histogram_reducer));
    }

    /// Automatic rotation at any threshold is invisible to views and to `read_full`.
    #[test]
    fn auto_rotation_at_any_threshold_is_invisible(
        events in arb_events(30),
        max_log_size in 1u64..700,
    ) {
        let dir = test_dir();
        let mut log = open_log(dir.path(), max_log_size);
        for (i, event) in events.iter().enumerate() {
            log.append(event).unwrap();
            prop_assert!(log.active_log_size().unwrap() < max_log_size);
            if i % 7 == 3 {
                log.refresh_all().unwrap();
                check_registered_views(&log, &events[..=i])?;
            }
        }
        log.refresh_all().unwrap();
        check_registered_views(&log, &events)?;
        prop_assert_eq!(read_all(&log.reader()), events);
    }

    /// Resuming `read_from` at any reported offset yields exactly the events after it.
    #[test]
    fn every_reported_offset_resumes_at_the_next_event(events in arb_events(20)) {
        let dir = test_dir();
        let mut log = EventLog::open(dir.path()).unwrap();
        let results: Vec<_> = events.iter().map(|e| log.append(e).unwrap()).collect();
        let read: Vec<(Event, u64, String)> =
            log.read_from(0).unwrap().collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(read.len(), events.len());
        for (i, (event, next, hash)) in read.iter().enumerate() {
            prop_assert_eq!(event, &events[i]);
            prop_assert_eq!(*next, results[i].end_offset);
            prop_assert_eq!(hash, &results[i].line_hash);
            let tail: Vec<Event> = log
                .read_from(*next)
                .unwrap()
                .map(|item| item.unwrap().0)
                .collect();
            prop_assert_eq!(&tail[..], &events[i + 1..]);
        }
    }
}
