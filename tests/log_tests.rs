//! `EventLog` writing and reading: appends, offsets, hashes, `read_from`, `read_full`,
//! reopening, conditional appends and the small accessors.

mod common;

use std::fs;
use std::time::Duration;

use common::{
    append_all, append_n, assert_events_eq, dummy_event, numbered_event, numbered_events,
    parse_jsonl_file, read_active, read_all, test_dir,
};
use eventfold::{
    AppendResult, ConditionalAppendError, Event, EventLog, EventReader, EventWriter, LockMode,
    WaitResult, line_hash,
};
use serde_json::json;

/// `(event, next_offset, hash)` triples of `read_from(offset)`.
fn triples_from(log: &EventLog, offset: u64) -> Vec<(Event, u64, String)> {
    log.read_from(offset)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

fn events_from(log: &EventLog, offset: u64) -> Vec<Event> {
    triples_from(log, offset)
        .into_iter()
        .map(|(e, _, _)| e)
        .collect()
}

#[test]
fn one_appended_event_reads_back_identically() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let event = dummy_event("only_one").with_id("x-1");
    let appended = log.append(&event).unwrap();

    let read = triples_from(&log, 0);
    assert_eq!(read.len(), 1);
    let (back, next, hash) = &read[0];
    assert_eq!(back, &event);
    assert_eq!(*next, appended.end_offset);
    assert_eq!(hash, &appended.line_hash);
}

#[test]
fn many_events_read_back_in_append_order() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let types = ["created", "renamed", "moved", "renamed", "deleted"];
    let events: Vec<Event> = types.iter().map(|t| dummy_event(t)).collect();
    append_all(&mut log, &events);

    let back = events_from(&log, 0);
    assert_eq!(back, events);
    assert_events_eq(&back, &types);
}

#[test]
fn reading_an_empty_log_yields_nothing() {
    let dir = test_dir();
    let log = EventLog::open(dir.path()).unwrap();
    assert_eq!(log.read_from(0).unwrap().count(), 0);
    assert_eq!(log.read_full().unwrap().count(), 0);
    assert_eq!(log.active_log_size().unwrap(), 0);
}

#[test]
fn reading_from_zero_returns_the_whole_active_log() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let events = append_n(&mut log, 12);
    assert_eq!(events_from(&log, 0), events);
    assert_eq!(read_active(&log.reader()), events);
}

#[test]
fn reading_from_an_end_offset_skips_everything_before_it() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let events = numbered_events(0, 8);
    let results = append_all(&mut log, &events);

    for (k, result) in results.iter().enumerate() {
        assert_eq!(
            events_from(&log, result.end_offset),
            events[k + 1..],
            "after event {k}"
        );
    }
    let end = results.last().unwrap().end_offset;
    assert_eq!(log.read_from(end).unwrap().count(), 0);
}

#[test]
fn append_results_tile_the_file_without_gaps() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let events = vec![
        dummy_event("short"),
        dummy_event("a_rather_longer_event_type_name"),
        Event {
            data: json!({"text": "ünïcödé ✓"}),
            ..dummy_event("wide")
        },
        dummy_event("x"),
    ];
    let results = append_all(&mut log, &events);

    let mut expected_start = 0;
    for (event, result) in events.iter().zip(&results) {
        let line = serde_json::to_string(event).unwrap();
        assert_eq!(result.start_offset, expected_start);
        assert_eq!(
            result.end_offset,
            result.start_offset + line.len() as u64 + 1
        );
        assert_eq!(result.line_hash, line_hash(line.as_bytes()));
        expected_start = result.end_offset;
    }
    assert_eq!(log.active_log_size().unwrap(), expected_start);
}

#[test]
fn bytes_between_append_offsets_are_the_serialized_line() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let events = vec![
        dummy_event("first").with_actor("amy"),
        dummy_event("second").with_meta(json!({"m": [1, 2]})),
    ];
    let results = append_all(&mut log, &events);
    let bytes = fs::read(log.log_path()).unwrap();

    for (event, result) in events.iter().zip(&results) {
        let slice = &bytes[result.start_offset as usize..result.end_offset as usize];
        let expected = format!("{}\n", serde_json::to_string(event).unwrap());
        assert_eq!(slice, expected.as_bytes());
    }
    assert_eq!(bytes.len() as u64, results[1].end_offset);
}

#[test]
fn each_next_offset_resumes_at_the_following_event() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let events = numbered_events(100, 10);
    append_all(&mut log, &events);

    let all = triples_from(&log, 0);
    assert_eq!(all.len(), events.len());
    for (i, (_, next, _)) in all.iter().enumerate() {
        let tail = triples_from(&log, *next);
        assert_eq!(tail.len(), events.len() - i - 1);
        assert_eq!(tail, all[i + 1..]);
    }
}

#[test]
fn offsets_and_hashes_agree_between_append_and_read() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let results = append_all(&mut log, &numbered_events(0, 6));
    let read = triples_from(&log, 0);
    for (result, (_, next, hash)) in results.iter().zip(&read) {
        assert_eq!(*next, result.end_offset);
        assert_eq!(hash, &result.line_hash);
    }
}

#[test]
fn awkward_characters_survive_the_log() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let events = vec![
        Event {
            data: json!({"s": "naïve café – 東京 🚀"}),
            ..dummy_event("unicode")
        },
        Event {
            data: json!({"s": "one\ntwo\r\nthree"}),
            ..dummy_event("newlines")
        },
        Event {
            data: json!({"s": "\"quoted\" and \\escaped\\"}),
            ..dummy_event("quotes")
        },
        Event {
            data: json!({"s": "\u{2028}\u{0007}\t"}),
            ..dummy_event("controls")
        },
        dummy_event("type\nwith newline")
            .with_actor("o\"brien")
            .with_id("id\\1"),
    ];
    append_all(&mut log, &events);

    assert_eq!(events_from(&log, 0), events);
    assert_eq!(read_all(&log.reader()), events);
    let raw = fs::read_to_string(log.log_path()).unwrap();
    assert_eq!(
        raw.matches('\n').count(),
        events.len(),
        "one physical line per event"
    );
}

#[test]
fn explicit_null_meta_reads_back_as_absent() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    log.append(&dummy_event("n").with_meta(json!(null)))
        .unwrap();
    let back = events_from(&log, 0);
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].meta, None);
}

#[test]
fn line_hash_is_deterministic_hex_xxh64() {
    let line = br#"{"type":"a","data":{},"ts":1}"#;
    let hash = line_hash(line);
    assert_eq!(hash, line_hash(line));
    assert_eq!(hash.len(), 16);
    assert!(
        hash.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert_ne!(hash, line_hash(br#"{"type":"b","data":{},"ts":1}"#));
    // Published xxh64 test vectors (seed 0), zero-padded lowercase hex.
    assert_eq!(line_hash(b""), "ef46db3751d8e999");
    assert_eq!(line_hash(b"abc"), "44bc2cf5ad770999");
}

#[test]
fn equal_events_produce_equal_line_hashes() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let first = log.append(&dummy_event("same")).unwrap();
    let second = log.append(&dummy_event("same")).unwrap();
    let third = log.append(&dummy_event("different")).unwrap();
    assert_eq!(first.line_hash, second.line_hash);
    assert_ne!(first.line_hash, third.line_hash);
    assert_ne!(first.start_offset, second.start_offset);
}

#[test]
fn reopening_keeps_old_events_and_appends_after_them() {
    let dir = test_dir();
    let before = numbered_events(0, 4);
    let end_of_first_session;
    {
        let mut log = EventLog::open(dir.path()).unwrap();
        end_of_first_session = append_all(&mut log, &before).last().unwrap().end_offset;
    }

    let mut log = EventLog::open(dir.path()).unwrap();
    assert_eq!(events_from(&log, 0), before);
    let after = numbered_events(4, 3);
    let results = append_all(&mut log, &after);
    assert_eq!(results[0].start_offset, end_of_first_session);

    let everything: Vec<Event> = before.iter().chain(&after).cloned().collect();
    assert_eq!(events_from(&log, 0), everything);
    assert_eq!(parse_jsonl_file(log.log_path()), everything);
    assert_eq!(events_from(&log, end_of_first_session), after);
}

#[test]
fn read_full_without_archive_is_the_active_log() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let events = append_n(&mut log, 7);
    assert!(!log.archive_path().exists());
    assert_eq!(read_all(&log.reader()), events);
}

#[test]
fn read_full_chains_archive_before_active_log() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let archived = numbered_events(0, 5);
    append_all(&mut log, &archived);
    log.rotate().unwrap();
    let active = numbered_events(5, 3);
    append_all(&mut log, &active);

    assert!(log.archive_path().exists());
    assert_eq!(events_from(&log, 0), active);
    let expected: Vec<Event> = archived.iter().chain(&active).cloned().collect();
    let full: Vec<(Event, String)> = log.read_full().unwrap().collect::<Result<_, _>>().unwrap();
    let full_events: Vec<Event> = full.iter().map(|(e, _)| e.clone()).collect();
    assert_eq!(full_events, expected);
    for (event, hash) in &full {
        assert_eq!(
            hash,
            &line_hash(serde_json::to_string(event).unwrap().as_bytes())
        );
    }
}

#[test]
fn read_full_with_archive_and_empty_active_log() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let archived = append_n(&mut log, 4);
    log.rotate().unwrap();

    assert_eq!(log.active_log_size().unwrap(), 0);
    assert_eq!(log.read_from(0).unwrap().count(), 0);
    assert_eq!(read_all(&log.reader()), archived);
}

#[test]
fn read_full_with_nothing_anywhere_is_empty() {
    let dir = test_dir();
    let log = EventLog::open(dir.path()).unwrap();
    assert!(!log.archive_path().exists());
    assert!(read_all(&log.reader()).is_empty());
}

#[test]
fn blank_lines_are_skipped_by_both_read_paths() {
    let dir = test_dir();
    let (a, b) = (numbered_event("a", 1), numbered_event("b", 2));
    let text = format!(
        "{}\n\n{}\n\n",
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
    fs::write(dir.path().join("app.jsonl"), &text).unwrap();

    let log = EventLog::open(dir.path()).unwrap();
    let triples = triples_from(&log, 0);
    assert_eq!(
        triples.iter().map(|t| t.0.clone()).collect::<Vec<_>>(),
        [a.clone(), b.clone()]
    );
    let first_len = serde_json::to_string(&a).unwrap().len() as u64 + 1;
    assert_eq!(triples[0].1, first_len);
    assert_eq!(events_from(&log, triples[0].1), std::slice::from_ref(&b));
    assert_eq!(read_all(&log.reader()), [a, b]);
}

#[test]
fn open_creates_the_directory_layout() {
    let dir = test_dir();
    let root = dir.path().join("nested").join("deeper");
    let log = EventLog::open(&root).unwrap();

    assert_eq!(log.dir(), root.as_path());
    assert_eq!(log.log_path(), root.join("app.jsonl"));
    assert_eq!(log.archive_path(), root.join("archive.jsonl.zst"));
    assert_eq!(log.views_dir(), root.join("views"));
    assert!(log.log_path().is_file());
    assert!(log.views_dir().is_dir());
    assert!(
        !log.archive_path().exists(),
        "no archive before the first rotation"
    );

    let writer = log.writer();
    assert_eq!(writer.log_path(), log.log_path());
    assert_eq!(writer.views_dir(), log.views_dir());
    assert_eq!(log.reader().log_path(), log.log_path());
    assert_eq!(log.reader().archive_path(), log.archive_path());
}

#[test]
fn size_and_new_event_checks_follow_appends() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    assert!(!log.has_new_events(0).unwrap());

    let first = log.append(&dummy_event("one")).unwrap();
    assert_eq!(log.active_log_size().unwrap(), first.end_offset);
    assert!(log.has_new_events(0).unwrap());
    assert!(!log.has_new_events(first.end_offset).unwrap());

    let second = log.append(&dummy_event("two")).unwrap();
    assert!(log.has_new_events(first.end_offset).unwrap());
    assert!(!log.has_new_events(second.end_offset).unwrap());
    assert_eq!(log.active_log_size().unwrap(), second.end_offset);
    assert_eq!(log.writer().active_log_size().unwrap(), second.end_offset);
}

#[test]
fn hash_of_the_line_before_an_offset() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let results = append_all(&mut log, &numbered_events(0, 5));

    assert_eq!(log.read_line_hash_before(0).unwrap(), None);
    for result in &results {
        assert_eq!(
            log.read_line_hash_before(result.end_offset)
                .unwrap()
                .as_deref(),
            Some(result.line_hash.as_str())
        );
    }
    let via_reader = log
        .reader()
        .read_line_hash_before(results[2].end_offset)
        .unwrap();
    assert_eq!(via_reader, Some(results[2].line_hash.clone()));
}

#[test]
fn conditional_append_succeeds_when_expectations_hold() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let first = log.append_if(&dummy_event("a"), 0, "").unwrap();
    assert_eq!(first.start_offset, 0);
    let second = log
        .append_if(&dummy_event("b"), first.end_offset, &first.line_hash)
        .unwrap();
    assert_eq!(second.start_offset, first.end_offset);
    assert_events_eq(&events_from(&log, 0), &["a", "b"]);
}

#[test]
fn conditional_append_with_a_stale_offset_writes_nothing() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let first = log.append(&dummy_event("a")).unwrap();
    let size_before = log.active_log_size().unwrap();

    match log.append_if(&dummy_event("late"), 0, "") {
        Err(ConditionalAppendError::Conflict(conflict)) => {
            assert_eq!(conflict.expected_offset, 0);
            assert_eq!(conflict.actual_offset, first.end_offset);
            assert_eq!(conflict.actual_hash, None);
        }
        other => panic!("expected an offset conflict, got {other:?}"),
    }
    assert_eq!(log.active_log_size().unwrap(), size_before);
    assert_events_eq(&events_from(&log, 0), &["a"]);
}

#[test]
fn conditional_append_with_a_wrong_hash_writes_nothing() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let first = log.append(&dummy_event("a")).unwrap();

    match log.append_if(&dummy_event("b"), first.end_offset, "0000000000000000") {
        Err(ConditionalAppendError::Conflict(conflict)) => {
            assert_eq!(conflict.expected_offset, first.end_offset);
            assert_eq!(conflict.actual_offset, first.end_offset);
            assert_eq!(conflict.expected_hash, "0000000000000000");
            assert_eq!(
                conflict.actual_hash.as_deref(),
                Some(first.line_hash.as_str())
            );
        }
        other => panic!("expected a hash conflict, got {other:?}"),
    }
    assert_eq!(log.active_log_size().unwrap(), first.end_offset);
}

#[test]
fn a_second_locking_writer_is_refused_until_the_first_closes() {
    let dir = test_dir();
    let first = EventLog::open(dir.path()).unwrap();
    assert!(
        EventLog::open(dir.path()).is_err(),
        "two locking writers on one log"
    );
    assert!(EventWriter::open(dir.path()).is_err());

    let unlocked = EventLog::builder(dir.path())
        .lock_mode(LockMode::None)
        .open();
    assert!(unlocked.is_ok(), "LockMode::None must not take the lock");
    drop(unlocked);

    drop(first);
    assert!(EventLog::open(dir.path()).is_ok());
}

#[test]
fn standalone_writer_and_reader_share_the_files() {
    let dir = test_dir();
    let mut writer = EventWriter::open(dir.path()).unwrap();
    let events = numbered_events(0, 3);
    let mut last = None::<AppendResult>;
    for event in &events {
        last = Some(writer.append(event).unwrap());
    }

    let reader = EventReader::new(dir.path());
    assert_eq!(read_active(&reader), events);
    assert_eq!(read_all(&reader), events);
    assert_eq!(reader.active_log_size().unwrap(), last.unwrap().end_offset);
    assert_eq!(read_active(&writer.reader()), events);
}

#[test]
fn appends_through_the_inner_writer_are_visible_to_the_log() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    log.append(&dummy_event("outer")).unwrap();
    log.writer_mut().append(&dummy_event("inner")).unwrap();
    assert_events_eq(&events_from(&log, 0), &["outer", "inner"]);
}

#[test]
fn waiting_returns_at_once_when_data_is_already_there() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let result = log.append(&dummy_event("ready")).unwrap();
    assert_eq!(
        log.wait_for_events(0, Duration::from_secs(5)).unwrap(),
        WaitResult::NewData(result.end_offset)
    );
}

#[test]
fn waiting_without_new_data_times_out() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let result = log.append(&dummy_event("old")).unwrap();
    let outcome = log
        .wait_for_events(result.end_offset, Duration::from_millis(50))
        .unwrap();
    assert_eq!(outcome, WaitResult::Timeout);
}
