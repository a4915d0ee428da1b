//! Stable positions and the archive index: `read_history` yields every event once, in order,
//! with a position that no rotation changes, from any starting point, whatever state the
//! archive index is in (current, missing, stale, damaged, from another archive).

mod common;

use common::{decompress_archive, lines_of, numbered_events, test_dir};
use eventfold::{Event, EventLog, EventReader, HistoryEvent, Position};
use proptest::prelude::*;
use std::fs;
use std::path::Path;

const INDEX: &str = "archive.index.jsonl";

fn history(dir: &Path, from: Position) -> Vec<HistoryEvent> {
    EventReader::new(dir)
        .read_history(from)
        .expect("read_history failed")
        .collect::<Result<_, _>>()
        .expect("read_history yielded an error")
}

/// The whole history as one stream of bytes: the decompressed archive, then `app.jsonl`.
fn stream(dir: &Path) -> Vec<u8> {
    let mut bytes = decompress_archive(&dir.join("archive.jsonl.zst"));
    bytes.extend(fs::read(dir.join("app.jsonl")).unwrap());
    bytes
}

/// Checks every item against the bytes it claims to stand for, and the whole list against the
/// events appended.
fn check_against_stream(dir: &Path, items: &[HistoryEvent], appended: &[Event]) {
    let bytes = stream(dir);
    assert_eq!(items.len(), appended.len());
    for (i, (item, event)) in items.iter().zip(appended).enumerate() {
        assert_eq!(&item.event, event, "event {i}");
        assert_eq!(item.index, i as u64);
        let (start, end) = (item.position.offset() as usize, item.end.offset() as usize);
        let line = &bytes[start..end];
        assert_eq!(
            line,
            common::line_of(event).as_bytes(),
            "bytes of event {i}"
        );
        if i + 1 < items.len() {
            assert!(items[i + 1].position >= item.end);
        }
    }
}

#[test]
fn positions_do_not_move_when_the_log_rotates() {
    let dir = test_dir();
    let events = numbered_events(0, 30);
    let mut log = EventLog::open(dir.path()).unwrap();
    for event in &events[..10] {
        log.append(event).unwrap();
    }
    let before = history(dir.path(), Position::START);
    log.rotate().unwrap();
    for event in &events[10..25] {
        log.append(event).unwrap();
    }
    log.rotate().unwrap();
    for event in &events[25..] {
        log.append(event).unwrap();
    }
    let after = history(dir.path(), Position::START);
    assert_eq!(after[..10], before[..]);
    check_against_stream(dir.path(), &after, &events);
}

#[test]
fn every_starting_point_gives_the_rest_of_the_history() {
    let dir = test_dir();
    let events = numbered_events(0, 40);
    let mut log = EventLog::open(dir.path()).unwrap();
    for (i, event) in events.iter().enumerate() {
        log.append(event).unwrap();
        if i % 13 == 12 {
            log.rotate().unwrap();
        }
    }
    let all = history(dir.path(), Position::START);
    check_against_stream(dir.path(), &all, &events);
    for (i, item) in all.iter().enumerate() {
        // From an event's own position: that event on.
        assert_eq!(
            history(dir.path(), item.position),
            all[i..],
            "from event {i}"
        );
        // From inside its line: the next event on.
        let inside = Position::new(item.position.offset() + 1);
        assert_eq!(
            history(dir.path(), inside),
            all[i + 1..],
            "from inside event {i}"
        );
        // From its end: the next event on.
        assert_eq!(
            history(dir.path(), item.end),
            all[i + 1..],
            "from the end of {i}"
        );
    }
    let end = all.last().unwrap().end;
    assert!(history(dir.path(), end).is_empty());
    assert!(history(dir.path(), Position::new(end.offset() + 1000)).is_empty());
}

#[test]
fn empty_lines_take_bytes_but_no_index() {
    let dir = test_dir();
    let events = numbered_events(0, 6);
    fs::create_dir_all(dir.path()).unwrap();
    let text = lines_of(&events[..3]);
    fs::write(dir.path().join("app.jsonl"), format!("\n{text}\n\n")).unwrap();
    let mut log = EventLog::open(dir.path()).unwrap();
    log.rotate().unwrap();
    common::append_bytes(&dir.path().join("app.jsonl"), b"\n");
    for event in &events[3..] {
        log.append(event).unwrap();
    }
    let all = history(dir.path(), Position::START);
    check_against_stream(dir.path(), &all, &events);
    assert_eq!(all[0].position, Position::new(1));
    for (i, item) in all.iter().enumerate() {
        assert_eq!(history(dir.path(), item.position), all[i..]);
    }
}

#[test]
fn a_rotation_writes_the_index_and_the_reader_uses_it() {
    let dir = test_dir();
    let events = numbered_events(0, 20);
    let mut log = EventLog::open(dir.path()).unwrap();
    for event in &events[..10] {
        log.append(event).unwrap();
    }
    log.rotate().unwrap();
    for event in &events[10..] {
        log.append(event).unwrap();
    }
    log.rotate().unwrap();
    let index = fs::read_to_string(dir.path().join(INDEX)).unwrap();
    let entries: Vec<serde_json::Value> = index
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["events"], 10);
    assert_eq!(entries[1]["first_event"], 10);
    assert_eq!(entries[1]["first_ts"], events[10].ts);
    assert_eq!(entries[1]["last_ts"], events[19].ts);
    let archive_len = fs::metadata(dir.path().join("archive.jsonl.zst"))
        .unwrap()
        .len();
    assert_eq!(
        entries[1]["offset"].as_u64().unwrap() + entries[1]["len"].as_u64().unwrap(),
        archive_len
    );
    assert_eq!(
        entries[1]["last_line_hash"],
        eventfold::line_hash(serde_json::to_string(&events[19]).unwrap().as_bytes())
    );
    // Reading from the middle does not rewrite a current index.
    let modified = fs::metadata(dir.path().join(INDEX))
        .unwrap()
        .modified()
        .unwrap();
    let from_middle = history(dir.path(), Position::new(1));
    assert_eq!(from_middle.len(), 19);
    assert_eq!(
        fs::metadata(dir.path().join(INDEX))
            .unwrap()
            .modified()
            .unwrap(),
        modified
    );
}

/// Builds a directory with three rotations and a few active events; returns the events.
fn rotated_dir(dir: &Path) -> Vec<Event> {
    let events = numbered_events(0, 35);
    let mut log = EventLog::open(dir).unwrap();
    for (i, event) in events.iter().enumerate() {
        log.append(event).unwrap();
        if i % 10 == 9 {
            log.rotate().unwrap();
        }
    }
    events
}

fn check_all_starts(dir: &Path, events: &[Event]) {
    let all = history(dir, Position::START);
    check_against_stream(dir, &all, events);
    for (i, item) in all.iter().enumerate() {
        assert_eq!(history(dir, item.position), all[i..], "from event {i}");
    }
}

#[test]
fn a_missing_index_is_rebuilt() {
    let dir = test_dir();
    let events = rotated_dir(dir.path());
    let recorded = fs::read(dir.path().join(INDEX)).unwrap();
    fs::remove_file(dir.path().join(INDEX)).unwrap();
    check_all_starts(dir.path(), &events);
    // Rebuilt the same as the rotations wrote it.
    assert_eq!(fs::read(dir.path().join(INDEX)).unwrap(), recorded);
}

#[test]
fn a_damaged_or_foreign_index_is_not_trusted() {
    let dir = test_dir();
    let events = rotated_dir(dir.path());
    let recorded = fs::read_to_string(dir.path().join(INDEX)).unwrap();
    let other = test_dir();
    let mut log = EventLog::open(other.path()).unwrap();
    for event in numbered_events(100, 25) {
        log.append(&event).unwrap();
        log.rotate().unwrap();
    }
    let foreign = fs::read_to_string(other.path().join(INDEX)).unwrap();

    let lines: Vec<&str> = recorded.lines().collect();
    let damaged = [
        // Cut in the middle of a line, as a crash while appending leaves it.
        recorded[..recorded.len() - 20].to_string(),
        // A frame's recorded tail differs from the archive's.
        recorded.replacen("\"tail\":\"", "\"tail\":\"1", 1),
        // Event counts that do not add up.
        recorded.replacen("\"events\":10", "\"events\":9", 1),
        // Content lengths shifted (positions would be wrong).
        lines[0].replacen("\"content_len\":", "\"content_len\":1", 1) + "\n",
        // Frames in the wrong order.
        format!("{}\n{}\n{}\n", lines[1], lines[0], lines[2]),
        // Another directory's index.
        foreign,
        "not json\n".to_string(),
        String::new(),
    ];
    for (case, text) in damaged.iter().enumerate() {
        fs::write(dir.path().join(INDEX), text).unwrap();
        check_all_starts(dir.path(), &events);
        assert_eq!(
            fs::read_to_string(dir.path().join(INDEX)).unwrap(),
            recorded,
            "case {case}: the index was not rewritten as the archive describes it"
        );
    }
}

#[test]
fn an_archive_written_by_eventfold_0_2_gets_an_index() {
    let dir = test_dir();
    let events: Vec<Event> = numbered_events(0, 30);
    {
        let mut log = eventfold_v02::EventLog::open(dir.path()).unwrap();
        for (i, event) in events.iter().enumerate() {
            let json = serde_json::to_string(event).unwrap();
            log.append(&serde_json::from_str(&json).unwrap()).unwrap();
            if i % 12 == 11 {
                log.rotate().unwrap();
            }
        }
    }
    assert!(!dir.path().join(INDEX).exists());
    check_all_starts(dir.path(), &events);
    let index = fs::read_to_string(dir.path().join(INDEX)).unwrap();
    assert_eq!(index.lines().count(), 2);
    // A rotation by this crate extends the rebuilt index.
    let mut log = EventLog::open(dir.path()).unwrap();
    log.rotate().unwrap();
    let index = fs::read_to_string(dir.path().join(INDEX)).unwrap();
    assert_eq!(index.lines().count(), 3);
    check_all_starts(dir.path(), &events);
}

#[test]
fn a_large_rotation_is_written_as_several_frames() {
    let dir = test_dir();
    // About 9 MB: at most 4 MiB of content per frame makes three frames.
    let events: Vec<Event> = (0..60_000u64)
        .map(|n| {
            let mut event = common::numbered_event("tick", n);
            event.data = serde_json::json!({ "n": n, "pad": "x".repeat(120) });
            event
        })
        .collect();
    let mut log = EventLog::open(dir.path()).unwrap();
    log.append_batch(&events).unwrap();
    let active = fs::read(dir.path().join("app.jsonl")).unwrap();
    log.rotate().unwrap();
    // Standard concatenated zstd: decompresses to exactly the archived log.
    assert_eq!(
        decompress_archive(&dir.path().join("archive.jsonl.zst")),
        active
    );
    let index = fs::read_to_string(dir.path().join(INDEX)).unwrap();
    let entries: Vec<serde_json::Value> = index
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(entries.len(), 3);
    for entry in &entries {
        assert!(entry["content_len"].as_u64().unwrap() <= 4 << 20);
    }
    let total: u64 = entries.iter().map(|e| e["events"].as_u64().unwrap()).sum();
    assert_eq!(total, events.len() as u64);
    // Entering the history in the last frame does not need the frames before it.
    let last_start = entries[2]["start"].as_u64().unwrap();
    let first_event = entries[2]["first_event"].as_u64().unwrap();
    let rest = history(dir.path(), Position::new(last_start));
    assert_eq!(rest.len() as u64, events.len() as u64 - first_event);
    assert_eq!(rest[0].index, first_event);
    assert_eq!(rest[0].event, events[first_event as usize]);
    // The views agree with a fold over the events.
    let mut view: eventfold::View<u64> =
        eventfold::View::new("count", common::counter_reducer, &dir.path().join("views"));
    assert_eq!(
        *view.refresh(&EventReader::new(dir.path())).unwrap(),
        events.len() as u64
    );
}

#[derive(Debug, Clone)]
enum Step {
    Append(usize),
    Rotate,
    DropIndex,
}

fn arb_steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        prop_oneof![
            4 => (1usize..6).prop_map(Step::Append),
            1 => Just(Step::Rotate),
            1 => Just(Step::DropIndex),
        ],
        1..25,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(common::proptest_cases(48)))]

    /// Any interleaving of appends, rotations and lost indexes: reading from any event's
    /// position gives the rest of the history, with the same positions and indexes.
    #[test]
    fn reading_from_any_position_gives_the_rest(steps in arb_steps(), picks in prop::collection::vec(any::<u16>(), 4)) {
        let dir = test_dir();
        let mut log = EventLog::open(dir.path()).unwrap();
        let mut appended = Vec::new();
        for step in steps {
            match step {
                Step::Append(n) => {
                    let events = numbered_events(appended.len() as u64, n);
                    log.append_batch(&events).unwrap();
                    appended.extend(events);
                }
                Step::Rotate => log.rotate().unwrap(),
                Step::DropIndex => {
                    let _ = fs::remove_file(dir.path().join(INDEX));
                }
            }
        }
        let all = history(dir.path(), Position::START);
        check_against_stream(dir.path(), &all, &appended);
        for pick in picks {
            if all.is_empty() {
                break;
            }
            let i = pick as usize % all.len();
            prop_assert_eq!(&history(dir.path(), all[i].position), &all[i..].to_vec());
            prop_assert_eq!(&history(dir.path(), all[i].end), &all[i + 1..].to_vec());
        }
    }
}
