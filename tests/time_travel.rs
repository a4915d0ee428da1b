//! Time travel: `state_at` of any point equals a plain fold of the events up to that point,
//! with or without checkpoints, across rotations, whatever state the archive index and the
//! checkpoint files are in.

mod common;

use common::{fold_model, test_dir, trace_reducer};
use eventfold::{
    At, Checkpoints, Event, EventLog, EventReader, HistoryEvent, Position, ViewConfig,
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
    #![proptest_config(ProptestConfig::with_cases(40))]

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
