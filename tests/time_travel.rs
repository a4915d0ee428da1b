//! Time travel: `state_at` of any point equals a plain fold of the events up to that point,
//! with or without checkpoints, across rotations, whatever state the archive index and the
//! checkpoint files are in.

mod common;

use common::{fold_model, test_dir, trace_reducer};
use eventfold::{
    At, Checkpoints, Event, EventLog, EventReader, HistoryEvent, Position, SnapshotPolicy,
    ViewConfig,
};
use proptest::prelude::*;
use serde_json::json;
use std::fs;
use std::path::Path;

const VIEW: &str = "trace";

fn event(n: u64, ts: u64) -> Event {
    let mut event = Event::new(
        if n.is_multiple_of(3) { "a" } else { "b" },
        json!({ "n": n }),
    );
    event.ts = ts;
    event
}

fn open(dir: &Path, checkpoints: Option<Checkpoints>, max_log_size: u64) -> EventLog {
    let mut config = ViewConfig::new();
    if let Some(checkpoints) = checkpoints {
        config = config.checkpoints(checkpoints);
    }
    EventLog::builder(dir)
        .max_log_size(max_log_size)
        .view_with::<Vec<String>>(VIEW, trace_reducer, config)
        .open()
        .unwrap()
}

fn history(dir: &Path) -> Vec<HistoryEvent> {
    EventReader::new(dir)
        .read_history(Position::START)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The events `at` names, by its definition, from the full list.
fn prefix(all: &[HistoryEvent], at: At) -> Vec<Event> {
    let take = match at {
        At::Event(i) => all.len().min((i as usize).saturating_add(1)),
        At::Position(p) => all.iter().take_while(|e| e.position <= p).count(),
        At::Time(t) => all.iter().take_while(|e| e.event.ts <= t).count(),
    };
    all[..take].iter().map(|e| e.event.clone()).collect()
}

fn check(log: &EventLog, all: &[HistoryEvent], at: At) {
    let expected = fold_model(&prefix(all, at), trace_reducer);
    let got: Vec<String> = log.state_at(VIEW, at).unwrap();
    assert_eq!(got, expected, "{at:?}");
}

/// Every kind of point, at every event, inside lines, past the end.
fn points(all: &[HistoryEvent]) -> Vec<At> {
    let mut points = vec![At::Event(u64::MAX), At::Time(0), At::Time(u64::MAX)];
    for (i, e) in all.iter().enumerate() {
        points.push(At::Event(i as u64));
        points.push(At::Position(e.position));
        points.push(At::Position(Position::new(e.position.offset() + 3)));
        points.push(At::Time(e.event.ts));
        points.push(At::Time(e.event.ts.saturating_sub(1)));
    }
    points
}

#[test]
fn state_at_every_point_equals_the_fold_of_its_prefix() {
    for checkpoints in [
        None,
        Some(Checkpoints::every(4)),
        Some(Checkpoints::every(7).keep_last(2)),
    ] {
        let dir = test_dir();
        let mut log = open(dir.path(), checkpoints, 700);
        // Timestamps that go up and down.
        for n in 0..45 {
            log.append(&event(n, 1000 + (n * 37) % 50)).unwrap();
            if n % 10 == 9 {
                log.refresh_all().unwrap();
            }
        }
        log.refresh_all().unwrap();
        let all = history(dir.path());
        assert_eq!(all.len(), 45);
        assert!(log.archive_path().exists(), "the log rotated");
        for at in points(&all) {
            check(&log, &all, at);
        }
    }
}

#[test]
fn checkpoints_are_written_at_intervals_and_rotations_and_pruned() {
    let dir = test_dir();
    let mut log = open(dir.path(), Some(Checkpoints::every(10).keep_last(3)), 0);
    for n in 0..25 {
        log.append(&event(n, 1000 + n)).unwrap();
    }
    log.refresh_all().unwrap();
    let names = |dir: &Path| {
        let mut names: Vec<String> = fs::read_dir(dir.join("views").join("trace.checkpoints"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        names(dir.path()),
        ["00000000000000000010.json", "00000000000000000020.json"]
    );
    for n in 25..28 {
        log.append(&event(n, 1000 + n)).unwrap();
    }
    log.rotate().unwrap();
    // The rotation leaves one at 28 events; three are kept.
    assert_eq!(
        names(dir.path()),
        [
            "00000000000000000010.json",
            "00000000000000000020.json",
            "00000000000000000028.json"
        ]
    );
    for n in 28..31 {
        log.append(&event(n, 1000 + n)).unwrap();
    }
    log.refresh_all().unwrap();
    assert_eq!(
        names(dir.path()),
        [
            "00000000000000000020.json",
            "00000000000000000028.json",
            "00000000000000000030.json"
        ]
    );
    let all = history(dir.path());
    for at in points(&all) {
        check(&log, &all, at);
    }
}

#[test]
fn damaged_stale_or_foreign_checkpoints_are_not_used() {
    let dir = test_dir();
    let mut log = open(dir.path(), Some(Checkpoints::every(5)), 0);
    for n in 0..20 {
        log.append(&event(n, 1000 + n)).unwrap();
    }
    log.refresh_all().unwrap();
    let checkpoints = dir.path().join("views").join("trace.checkpoints");
    let file = |events: u64| checkpoints.join(format!("{events:020}.json"));
    // A crash while one was written: cut short.
    let text = fs::read(file(10)).unwrap();
    fs::write(file(10), &text[..text.len() / 2]).unwrap();
    // A state that does not belong to this log: the recorded hash no longer matches.
    let text = fs::read_to_string(file(15)).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["state"] = json!(["forged"]);
    value["mark"]["hash"] = json!("0000000000000000");
    fs::write(file(15), value.to_string()).unwrap();
    // Another version's checkpoint.
    let text = fs::read_to_string(file(5)).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["state"] = json!(["other version"]);
    value["mark"]["version"] = json!(7);
    fs::write(file(5), value.to_string()).unwrap();
    // A stray temporary file.
    fs::write(checkpoints.join("00000000000000000012.json.tmp"), "{").unwrap();
    let all = history(dir.path());
    for at in points(&all) {
        check(&log, &all, at);
    }
}

#[test]
fn a_crash_after_writing_a_checkpoint_loses_nothing() {
    let dir = test_dir();
    {
        let mut log = open(dir.path(), Some(Checkpoints::every(5)), 0);
        for n in 0..12 {
            log.append(&event(n, 1000 + n)).unwrap();
        }
        // The fold writes checkpoints at 5 and 10, then the snapshot; as if the process died
        // right after the checkpoints, the snapshot is put back as it was before.
        log.refresh_all().unwrap();
    }
    fs::remove_file(dir.path().join("views").join("trace.snapshot.json")).unwrap();
    let mut log = open(dir.path(), Some(Checkpoints::every(5)), 0);
    for n in 12..17 {
        log.append(&event(n, 1000 + n)).unwrap();
    }
    let all = history(dir.path());
    for at in points(&all) {
        check(&log, &all, at);
    }
    log.refresh_all().unwrap();
    assert_eq!(
        log.view::<Vec<String>>(VIEW).unwrap(),
        &fold_model(
            &all.iter().map(|e| e.event.clone()).collect::<Vec<_>>(),
            trace_reducer
        )
    );
}

#[test]
fn a_view_without_checkpoints_still_travels() {
    let dir = test_dir();
    let mut log = open(dir.path(), None, 400);
    for n in 0..30 {
        log.append(&event(n, 1000 + n)).unwrap();
    }
    assert!(!dir.path().join("views").join("trace.checkpoints").exists());
    let all = history(dir.path());
    for at in points(&all) {
        check(&log, &all, at);
    }
}

#[derive(Debug, Clone)]
enum Step {
    Append(Vec<u64>),
    Refresh,
    Rotate,
    DropIndex,
    BreakIndex,
}

fn arb_steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::collection::vec(0u64..40, 1..5).prop_map(Step::Append),
            2 => Just(Step::Refresh),
            1 => Just(Step::Rotate),
            1 => Just(Step::DropIndex),
            1 => Just(Step::BreakIndex),
        ],
        1..25,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(common::proptest_cases(40)))]

    /// Any history (timestamps in any order, rotations anywhere, the archive index present,
    /// missing or stale, checkpoints on or off): `state_at` of any point is the fold of the
    /// events up to it.
    #[test]
    fn state_at_any_point_is_the_fold_of_its_prefix(
        steps in arb_steps(),
        interval in prop::option::of(1u64..8),
        keep in prop::option::of(1usize..4),
        picks in prop::collection::vec(any::<u32>(), 6),
    ) {
        let dir = test_dir();
        let checkpoints = interval.map(|n| {
            let c = Checkpoints::every(n);
            match keep { Some(k) => c.keep_last(k), None => c }
        });
        let mut log = open(dir.path(), checkpoints, 0);
        let mut n = 0;
        let index = dir.path().join("archive.index.jsonl");
        for step in steps {
            match step {
                Step::Append(ts) => {
                    for ts in ts {
                        log.append(&event(n, ts)).unwrap();
                        n += 1;
                    }
                }
                Step::Refresh => log.refresh_all().unwrap(),
                Step::Rotate => log.rotate().unwrap(),
                Step::DropIndex => { let _ = fs::remove_file(&index); }
                Step::BreakIndex => {
                    if let Ok(text) = fs::read_to_string(&index) {
                        fs::write(&index, text.replacen("\"events\":", "\"events\":1", 1)).unwrap();
                    }
                }
            }
        }
        let all = history(dir.path());
        let points = points(&all);
        for pick in picks {
            let at = points[pick as usize % points.len()];
            let expected = fold_model(&prefix(&all, at), trace_reducer);
            let got: Vec<String> = log.state_at(VIEW, at).unwrap();
            prop_assert_eq!(got, expected, "{:?}", at);
        }
    }
}

static FOLDED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Counts the events it folds, in a counter the test reads.
fn counting(n: u64, _event: &Event) -> u64 {
    FOLDED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    n + 1
}

/// How many events `state_at` folded to answer.
fn folded_for(log: &EventLog, at: At) -> (u64, u64) {
    FOLDED.store(0, std::sync::atomic::Ordering::SeqCst);
    let state = log.state_at::<u64>("count", at).unwrap();
    (state, FOLDED.load(std::sync::atomic::Ordering::SeqCst))
}

/// Checkpoints are used: `state_at` folds only the events past the nearest one, and does not
/// touch the archive frames before it (a damaged frame there goes unnoticed), while a fold
/// from the start would.
#[test]
fn state_at_starts_from_the_nearest_checkpoint_and_skips_earlier_frames() {
    let dir = test_dir();
    let config = ViewConfig::new().checkpoints(Checkpoints::every(10));
    let mut log = EventLog::builder(dir.path())
        .view_with::<u64>("count", counting, config)
        .open()
        .unwrap();
    for n in 0..100 {
        log.append(&event(n, 1000 + n)).unwrap();
        if n % 25 == 24 {
            log.rotate().unwrap(); // rotations after 25, 50, 75 and 100 events
        }
    }
    assert_eq!(folded_for(&log, At::Event(94)), (95, 5)); // from the checkpoint at 90
    assert_eq!(folded_for(&log, At::Time(1000 + 62)), (63, 3)); // from 60
    assert_eq!(folded_for(&log, At::Event(9)), (10, 0)); // the checkpoint at 10 itself
    assert_eq!(folded_for(&log, At::Event(3)), (4, 4)); // before any checkpoint

    // Damage the first frame's content (its header and last bytes stay, so the archive index
    // still describes it): points past the checkpoints that follow it never read it.
    let archive = dir.path().join("archive.jsonl.zst");
    let mut bytes = fs::read(&archive).unwrap();
    let first_len = fs::read_to_string(dir.path().join("archive.index.jsonl"))
        .unwrap()
        .lines()
        .next()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["len"]
                .as_u64()
                .unwrap()
        })
        .unwrap() as usize;
    for b in &mut bytes[first_len / 3..first_len / 2] {
        *b ^= 0x55;
    }
    fs::write(&archive, &bytes).unwrap();
    assert_eq!(folded_for(&log, At::Event(94)), (95, 5));
    assert!(
        log.state_at::<u64>("count", At::Event(3)).is_err(),
        "the damage is real"
    );
}

fn count(n: u64, _event: &Event) -> u64 {
    n + 1
}

fn count_ref(n: u64, _event: &eventfold::EventRef<'_>) -> u64 {
    n + 1
}

/// Opens `dir` with the counting view "c", owned or borrowed, with checkpoints or without.
fn open_counter(dir: &Path, borrowed: bool, checkpoints: Option<Checkpoints>) -> EventLog {
    let config = match checkpoints {
        Some(checkpoints) => ViewConfig::new().checkpoints(checkpoints),
        None => ViewConfig::new(),
    };
    let builder = EventLog::builder(dir);
    let builder = match borrowed {
        true => builder.view_ref_with::<u64>("c", count_ref, config),
        false => builder.view_with::<u64>("c", count, config),
    };
    builder.open().unwrap()
}

/// Every lookup of the counting view "c" gives the number of events it selects.
fn check_counts(log: &EventLog, context: &str) {
    let all = history(log.dir());
    for at in points(&all) {
        let expected = prefix(&all, at).len() as u64;
        let got: u64 = log.state_at("c", at).unwrap();
        assert_eq!(got, expected, "{context}: {at:?}");
    }
}

/// Checkpoints turned on for a view whose snapshot was saved without them: the view starts
/// tracking where its state stands from that snapshot, and every lookup stays right, in memory
/// and once a rotation has written a checkpoint to disk.
#[test]
fn turning_checkpoints_on_for_an_existing_view_keeps_lookups_right() {
    const T: u64 = 1_700_000_000;
    for borrowed in [false, true] {
        for checkpoints in [Checkpoints::at_each_rotation(), Checkpoints::every(100)] {
            let context = format!("borrowed {borrowed}, {checkpoints:?}");
            let dir = test_dir();
            let mut log = open_counter(dir.path(), borrowed, None);
            log.append(&event(0, T + 10)).unwrap();
            log.refresh_all().unwrap();
            drop(log);

            let mut log = open_counter(dir.path(), borrowed, Some(checkpoints));
            log.append(&event(1, T + 20)).unwrap();
            log.refresh_all().unwrap();
            assert_eq!(
                log.state_at::<u64>("c", At::Time(T + 10)).unwrap(),
                1,
                "{context}"
            );
            check_counts(&log, &context);

            log.append(&event(2, T + 30)).unwrap();
            log.rotate().unwrap();
            drop(log);
            let log = open_counter(dir.path(), borrowed, Some(checkpoints));
            assert_eq!(
                log.state_at::<u64>("c", At::Time(T + 10)).unwrap(),
                1,
                "{context}"
            );
            assert_eq!(
                log.state_at::<u64>("c", At::Time(T + 20)).unwrap(),
                2,
                "{context}"
            );
            check_counts(&log, &context);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Configurations that change between openings of the log
// ---------------------------------------------------------------------------------------------

/// Records every event with the reducer's version: states of different versions never match.
fn trace_owned<const V: u32>(mut state: Vec<String>, e: &Event) -> Vec<String> {
    state.push(format!("v{V}|{}|{}|{}", e.event_type, e.data, e.ts));
    state
}

/// The same trace, from borrowed events.
fn trace_borrowed<const V: u32>(
    mut state: Vec<String>,
    e: &eventfold::EventRef<'_>,
) -> Vec<String> {
    state.push(format!(
        "v{V}|{}|{}|{}",
        e.event_type(),
        e.data_raw(),
        e.ts()
    ));
    state
}

/// The trace of version 0, for eventfold 0.2.0's views.
fn trace_v02(state: Vec<String>, e: &eventfold_v02::Event) -> Vec<String> {
    let mut event = Event::new(&e.event_type, e.data.clone());
    event.ts = e.ts;
    trace_owned::<0>(state, &event)
}

/// What the trace of version `version` holds after `events`.
fn trace_model(version: u32, events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| format!("v{version}|{}|{}|{}", e.event_type, e.data, e.ts))
        .collect()
}

/// One view's settings for one opening of the log.
#[derive(Debug, Clone, Copy)]
struct Setup {
    checkpoints: Option<Checkpoints>,
    policy: SnapshotPolicy,
    version: u32,
}

impl Setup {
    fn config(&self) -> ViewConfig {
        let config = ViewConfig::new().policy(self.policy).version(self.version);
        match self.checkpoints {
            Some(checkpoints) => config.checkpoints(checkpoints),
            None => config,
        }
    }
}

fn arb_setup() -> impl Strategy<Value = Setup> {
    let checkpoints = prop_oneof![
        Just(None),
        (1u64..6).prop_map(|n| Some(Checkpoints::every(n))),
        Just(Some(Checkpoints::at_each_rotation())),
        (1u64..6).prop_map(|n| Some(Checkpoints::every(n).with_rotations(false))),
        (1u64..6, 1usize..3).prop_map(|(n, k)| Some(Checkpoints::every(n).keep_last(k))),
        (1usize..3).prop_map(|k| Some(Checkpoints::at_each_rotation().keep_last(k))),
    ];
    let policy = prop_oneof![
        Just(SnapshotPolicy::every_refresh()),
        Just(SnapshotPolicy::every_events(3)),
        Just(SnapshotPolicy::manual()),
    ];
    (checkpoints, policy, 0u32..3).prop_map(|(checkpoints, policy, version)| Setup {
        checkpoints,
        policy,
        version,
    })
}

const OWNED: &str = "owned";
const BORROWED: &str = "borrowed";

fn open_setups(dir: &Path, owned: Setup, borrowed: Setup) -> EventLog {
    let owned_reduce: eventfold::ReduceFn<Vec<String>> = match owned.version {
        0 => trace_owned::<0>,
        1 => trace_owned::<1>,
        _ => trace_owned::<2>,
    };
    let borrowed_reduce: eventfold::ReduceRefFn<Vec<String>> = match borrowed.version {
        0 => trace_borrowed::<0>,
        1 => trace_borrowed::<1>,
        _ => trace_borrowed::<2>,
    };
    EventLog::builder(dir)
        .view_with::<Vec<String>>(OWNED, owned_reduce, owned.config())
        .view_ref_with::<Vec<String>>(BORROWED, borrowed_reduce, borrowed.config())
        .open()
        .unwrap()
}

#[derive(Debug, Clone)]
enum Life {
    Append(Vec<u64>),
    Refresh,
    Rotate,
    Save,
    /// Drops the log (saving first, or not) and opens it again with these settings.
    Reopen {
        owned: Setup,
        borrowed: Setup,
        save: bool,
    },
}

fn arb_life() -> impl Strategy<Value = Vec<Life>> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::collection::vec(0u64..40, 1..4).prop_map(Life::Append),
            2 => Just(Life::Refresh),
            1 => Just(Life::Rotate),
            1 => Just(Life::Save),
            2 => (arb_setup(), arb_setup(), any::<bool>())
                .prop_map(|(owned, borrowed, save)| Life::Reopen { owned, borrowed, save }),
        ],
        1..20,
    )
}

/// Checks `state_at` of both views at `points` against the trace of the events each selects.
fn check_setups(
    log: &EventLog,
    all: &[HistoryEvent],
    setups: [Setup; 2],
    points: impl Iterator<Item = At> + Clone,
) -> Result<(), TestCaseError> {
    for (name, setup) in [OWNED, BORROWED].into_iter().zip(setups) {
        for at in points.clone() {
            let expected = trace_model(setup.version, &prefix(all, at));
            let got: Vec<String> = log.state_at(name, at).unwrap();
            prop_assert_eq!(got, expected, "{} ({:?}) at {:?}", name, setup, at);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(common::proptest_cases(48)))]

    /// Views whose checkpoints, snapshot policy and version change at random between openings
    /// of the log, starting from nothing or from a directory that eventfold 0.2.0 wrote, with
    /// appends, rotations, saves and drops without a save: after every step, every kind of
    /// lookup of either view (owned and borrowed reducers) is the fold of the events it selects.
    #[test]
    fn state_at_stays_right_while_view_settings_change(
        from_v02 in prop::collection::vec(0u64..40, 0..4),
        first in (arb_setup(), arb_setup()),
        life in arb_life(),
        seed in any::<u64>(),
    ) {
        let dir = test_dir();
        if !from_v02.is_empty() {
            let mut old = eventfold_v02::EventLog::builder(dir.path())
                .view::<Vec<String>>(OWNED, trace_v02)
                .view::<Vec<String>>(BORROWED, trace_v02)
                .open()
                .unwrap();
            for (n, ts) in from_v02.iter().enumerate() {
                let mut event = eventfold_v02::Event::new(
                    if n % 3 == 0 { "a" } else { "b" },
                    json!({ "n": n }),
                );
                event.ts = *ts;
                old.append(&event).unwrap();
            }
            old.refresh_all().unwrap();
        }
        let mut setups = [first.0, first.1];
        let mut log = open_setups(dir.path(), setups[0], setups[1]);
        let mut n = from_v02.len() as u64;
        let mut pick = seed;
        for step in life {
            match step {
                Life::Append(stamps) => {
                    for ts in stamps {
                        log.append(&event(n, ts)).unwrap();
                        n += 1;
                    }
                }
                Life::Refresh => log.refresh_all().unwrap(),
                Life::Rotate => log.rotate().unwrap(),
                Life::Save => log.save_all().unwrap(),
                Life::Reopen { owned, borrowed, save } => {
                    if save {
                        log.save_all().unwrap();
                    }
                    drop(log);
                    setups = [owned, borrowed];
                    log = open_setups(dir.path(), owned, borrowed);
                }
            }
            // A point of each kind, drawn from the history as it now is.
            let all = history(dir.path());
            let points = points(&all);
            let mut drawn = Vec::new();
            for kind in 0..3 {
                let of_kind: Vec<At> = points
                    .iter()
                    .copied()
                    .filter(|at| {
                        matches!(
                            (kind, at),
                            (0, At::Event(_)) | (1, At::Position(_)) | (2, At::Time(_))
                        )
                    })
                    .collect();
                pick = pick.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                if !of_kind.is_empty() {
                    drawn.push(of_kind[(pick >> 33) as usize % of_kind.len()]);
                }
            }
            check_setups(&log, &all, setups, drawn.into_iter())?;
        }
        let all = history(dir.path());
        check_setups(&log, &all, setups, points(&all).into_iter())?;
    }
}
