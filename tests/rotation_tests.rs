//! Rotation: moving the active log into the zstd archive, by hand and automatically when
//! `max_log_size` is crossed. Views must not notice, apart from their offsets resetting.

mod common;

use std::fs;
use std::io::Write;
use std::path::Path;

use common::{
    TodoState, append_all, counter_reducer, fold_model, load_snapshot, numbered_event,
    numbered_events, read_active, read_all, sum_reducer, test_dir, todo_added, todo_completed,
    todo_reducer, trace_reducer,
};
use eventfold::{Event, EventLog, View};

fn open_with_views(dir: &Path, max_log_size: u64) -> EventLog {
    EventLog::builder(dir)
        .max_log_size(max_log_size)
        .view::<u64>("count", counter_reducer)
        .view::<Vec<String>>("trace", trace_reducer)
        .open()
        .unwrap()
}

fn assert_views_match(log: &EventLog, events: &[Event]) {
    assert_eq!(
        *log.view::<u64>("count").unwrap(),
        fold_model(events, counter_reducer)
    );
    assert_eq!(
        log.view::<Vec<String>>("trace").unwrap(),
        &fold_model(events, trace_reducer)
    );
}

fn decompressed_archive(log: &EventLog) -> Vec<u8> {
    zstd::stream::decode_all(fs::File::open(log.archive_path()).unwrap()).unwrap()
}

fn line_of(event: &Event) -> String {
    format!("{}\n", serde_json::to_string(event).unwrap())
}

#[test]
fn rotate_empties_the_active_log_into_the_archive() {
    let dir = test_dir();
    let mut log = open_with_views(dir.path(), 0);
    let events = numbered_events(0, 6);
    append_all(&mut log, &events);
    let active_bytes = fs::read(log.log_path()).unwrap();

    log.rotate().unwrap();

    assert_eq!(fs::metadata(log.log_path()).unwrap().len(), 0);
    assert_eq!(log.active_log_size().unwrap(), 0);
    assert!(log.archive_path().is_file());
    assert!(fs::metadata(log.archive_path()).unwrap().len() > 0);
    assert_eq!(
        decompressed_archive(&log),
        active_bytes,
        "the archive holds the old bytes"
    );
    assert_eq!(read_all(&log.reader()), events);
}

#[test]
fn rotate_resets_every_snapshot_offset_to_zero() {
    let dir = test_dir();
    let mut log = open_with_views(dir.path(), 0);
    let events = numbered_events(0, 5);
    append_all(&mut log, &events);
    log.refresh_all().unwrap();
    assert!(load_snapshot::<u64>(&log, "count").unwrap().offset > 0);

    log.rotate().unwrap();

    let count = load_snapshot::<u64>(&log, "count").unwrap();
    let trace = load_snapshot::<Vec<String>>(&log, "trace").unwrap();
    assert_eq!((count.offset, trace.offset), (0, 0));
    assert_eq!(count.state, 5);
    assert_eq!(trace.state, fold_model(&events, trace_reducer));
}

#[test]
fn rotate_brings_views_up_to_date_before_archiving() {
    let dir = test_dir();
    let mut log = open_with_views(dir.path(), 0);
    let events = numbered_events(0, 4);
    append_all(&mut log, &events);
    // No refresh_all: rotation itself must fold the pending events first.
    log.rotate().unwrap();
    assert_views_match(&log, &events);
    assert_eq!(load_snapshot::<u64>(&log, "count").unwrap().state, 4);
}

#[test]
fn view_state_is_unchanged_by_rotation() {
    let dir = test_dir();
    let mut log = open_with_views(dir.path(), 0);
    let events = numbered_events(0, 7);
    append_all(&mut log, &events);
    log.refresh_all().unwrap();
    let before = log.view::<Vec<String>>("trace").unwrap().clone();

    log.rotate().unwrap();
    assert_eq!(log.view::<Vec<String>>("trace").unwrap(), &before);
    log.refresh_all().unwrap();
    assert_eq!(log.view::<Vec<String>>("trace").unwrap(), &before);
    assert_views_match(&log, &events);
}

#[test]
fn events_after_rotation_are_folded_on_top() {
    let dir = test_dir();
    let mut log = open_with_views(dir.path(), 0);
    let mut events = numbered_events(0, 3);
    append_all(&mut log, &events);
    log.rotate().unwrap();

    let later = numbered_events(3, 4);
    let results = append_all(&mut log, &later);
    assert_eq!(
        results[0].start_offset, 0,
        "the fresh active log starts at zero"
    );
    events.extend(later.iter().cloned());
    log.refresh_all().unwrap();

    assert_views_match(&log, &events);
    assert_eq!(read_active(&log.reader()), later);
    let snap = load_snapshot::<u64>(&log, "count").unwrap();
    assert_eq!(snap.offset, results.last().unwrap().end_offset);
}

#[test]
fn several_rotations_accumulate_in_the_archive() {
    let dir = test_dir();
    let mut log = open_with_views(dir.path(), 0);
    let mut events = Vec::new();
    let mut expected_archive = Vec::new();
    for round in 0..4u64 {
        let batch = numbered_events(round * 10, 2 + round as usize);
        append_all(&mut log, &batch);
        expected_archive.extend(fs::read(log.log_path()).unwrap());
        events.extend(batch);
        log.rotate().unwrap();
        assert_eq!(read_all(&log.reader()), events, "after rotation {round}");
    }
    assert_eq!(decompressed_archive(&log), expected_archive);
    assert_views_match(&log, &events);
}

#[test]
fn read_full_keeps_order_across_rotations_and_active_log() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let events: Vec<Event> = (0..20)
        .map(|n| numbered_event(&format!("e{n}"), n))
        .collect();
    for (i, event) in events.iter().enumerate() {
        log.append(event).unwrap();
        if i % 6 == 5 {
            log.rotate().unwrap();
        }
    }
    let expected_types: Vec<String> = (0..20).map(|n| format!("e{n}")).collect();
    let expected_types: Vec<&str> = expected_types.iter().map(String::as_str).collect();
    let all = read_all(&log.reader());
    common::assert_events_eq(&all, &expected_types);
    assert_eq!(all, events);
    assert_eq!(read_active(&log.reader()), events[18..]);
}

#[test]
fn view_added_after_rotation_replays_archive_and_active_log() {
    let dir = test_dir();
    let mut events = vec![todo_added("a"), todo_added("b"), todo_completed(0)];
    {
        let mut log = open_with_views(dir.path(), 0);
        append_all(&mut log, &events);
        log.rotate().unwrap();
        let later = vec![todo_added("c"), todo_completed(2)];
        append_all(&mut log, &later);
        events.extend(later);
        log.refresh_all().unwrap();
    }

    let mut log = EventLog::builder(dir.path())
        .view::<u64>("count", counter_reducer)
        .view::<TodoState>("todos", todo_reducer)
        .open()
        .unwrap();
    log.refresh_all().unwrap();
    let todos = log.view::<TodoState>("todos").unwrap();
    assert_eq!(todos, &fold_model(&events, todo_reducer));
    assert_eq!(todos.items.iter().filter(|t| t.done).count(), 2);

    let mut standalone = View::new("solo", todo_reducer, log.views_dir());
    assert_eq!(standalone.refresh(&log.reader()).unwrap(), todos);
}

#[test]
fn rebuild_after_rotation_includes_the_archive() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let mut events = numbered_events(1, 5);
    append_all(&mut log, &events);
    log.rotate().unwrap();
    let later = numbered_events(20, 2);
    append_all(&mut log, &later);
    events.extend(later);

    let mut view = View::new("sum", sum_reducer, log.views_dir());
    let incremental = *view.refresh(&log.reader()).unwrap();
    let rebuilt = *view.rebuild(&log.reader()).unwrap();
    assert_eq!(incremental, fold_model(&events, sum_reducer));
    assert_eq!(rebuilt, incremental);
}

#[test]
fn rotating_an_empty_active_log_changes_nothing() {
    let dir = test_dir();
    let mut log = open_with_views(dir.path(), 0);
    log.rotate().unwrap();
    assert!(read_all(&log.reader()).is_empty());
    assert_eq!(log.active_log_size().unwrap(), 0);
    assert_views_match(&log, &[]);

    let events = numbered_events(0, 3);
    append_all(&mut log, &events);
    log.rotate().unwrap();
    log.rotate().unwrap();
    assert_eq!(
        read_all(&log.reader()),
        events,
        "a second rotation adds no events"
    );
    assert_views_match(&log, &events);
}

#[test]
fn rotation_without_registered_views() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let events = numbered_events(0, 4);
    append_all(&mut log, &events);
    log.rotate().unwrap();
    assert_eq!(log.active_log_size().unwrap(), 0);
    assert_eq!(read_all(&log.reader()), events);
    assert!(
        fs::read_dir(log.views_dir()).unwrap().next().is_none(),
        "no snapshots appear"
    );
}

#[test]
fn archive_made_of_hand_written_zstd_frames_is_readable() {
    let dir = test_dir();
    let early = numbered_events(0, 3);
    let late = numbered_events(3, 2);
    let archive = dir.path().join("archive.jsonl.zst");
    for chunk in [&early, &late] {
        let text: String = chunk.iter().map(line_of).collect();
        let frame = zstd::stream::encode_all(text.as_bytes(), 3).unwrap();
        fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&archive)
            .unwrap()
            .write_all(&frame)
            .unwrap();
    }
    let active = numbered_events(5, 2);
    fs::write(
        dir.path().join("app.jsonl"),
        active.iter().map(line_of).collect::<String>(),
    )
    .unwrap();

    let mut log = open_with_views(dir.path(), 0);
    let all: Vec<Event> = early.iter().chain(&late).chain(&active).cloned().collect();
    assert_eq!(read_all(&log.reader()), all);
    log.refresh_all().unwrap();
    assert_views_match(&log, &all);
}

#[test]
fn crossing_max_log_size_rotates_automatically() {
    let dir = test_dir();
    let threshold = 300;
    let mut log = open_with_views(dir.path(), threshold);
    let mut events = Vec::new();
    let mut n = 0;
    while !log.archive_path().exists() {
        let event = numbered_event("grow", n);
        let size_before = log.active_log_size().unwrap();
        let result = log.append(&event).unwrap();
        events.push(event);
        n += 1;
        if log.archive_path().exists() {
            assert!(
                result.end_offset >= threshold,
                "rotated at {} bytes",
                result.end_offset
            );
            assert_eq!(result.start_offset, size_before);
        } else {
            assert!(result.end_offset < threshold);
        }
        assert!(n < 100, "no rotation after {n} appends");
    }
    assert_eq!(log.active_log_size().unwrap(), 0);
    assert_eq!(
        read_all(&log.reader()),
        events,
        "the crossing event is in the archive"
    );
}

#[test]
fn views_are_consistent_after_auto_rotation() {
    let dir = test_dir();
    let mut log = open_with_views(dir.path(), 250);
    let events = numbered_events(0, 12);
    append_all(&mut log, &events);
    assert!(log.archive_path().exists());

    log.refresh_all().unwrap();
    assert_views_match(&log, &events);
    let snap = load_snapshot::<u64>(&log, "count").unwrap();
    assert_eq!(snap.state, 12);
    assert_eq!(snap.offset, log.active_log_size().unwrap());
}

#[test]
fn appends_after_auto_rotation_go_to_a_fresh_active_log() {
    let dir = test_dir();
    let first = numbered_event("first", 0);
    let threshold = line_of(&first).len() as u64;
    let mut log = open_with_views(dir.path(), threshold);

    log.append(&first).unwrap();
    assert_eq!(log.active_log_size().unwrap(), 0);

    let small = Event {
        data: serde_json::json!(null),
        ..numbered_event("s", 1)
    };
    assert!((line_of(&small).len() as u64) < threshold);
    let result = log.append(&small).unwrap();
    assert_eq!(result.start_offset, 0);
    assert_eq!(read_active(&log.reader()), std::slice::from_ref(&small));
    assert_eq!(read_all(&log.reader()), [first.clone(), small.clone()]);
    log.refresh_all().unwrap();
    assert_views_match(&log, &[first, small]);
}

#[test]
fn threshold_is_reached_when_the_size_equals_it() {
    let event = numbered_event("edge", 7);
    let len = line_of(&event).len() as u64;

    let at = test_dir();
    let mut log = open_with_views(at.path(), len);
    log.append(&event).unwrap();
    assert!(log.archive_path().exists(), "size == max_log_size rotates");
    assert_eq!(log.active_log_size().unwrap(), 0);

    let above = test_dir();
    let mut log = open_with_views(above.path(), len + 1);
    log.append(&event).unwrap();
    assert!(
        !log.archive_path().exists(),
        "size < max_log_size does not rotate"
    );
    assert_eq!(log.active_log_size().unwrap(), len);
}

#[test]
fn append_result_of_a_rotating_append_describes_the_written_line() {
    let dir = test_dir();
    let mut log = open_with_views(dir.path(), 1);
    let events = numbered_events(0, 5);
    for event in &events {
        let result = log.append(event).unwrap();
        assert_eq!(result.start_offset, 0);
        assert_eq!(result.end_offset, line_of(event).len() as u64);
        assert_eq!(
            result.line_hash,
            eventfold::line_hash(line_of(event).trim_end().as_bytes())
        );
        assert_eq!(log.active_log_size().unwrap(), 0);
    }
    assert_eq!(read_all(&log.reader()), events);
    assert_views_match(&log, &events);
}

#[test]
fn max_log_size_zero_never_rotates() {
    let dir = test_dir();
    let mut log = open_with_views(dir.path(), 0);
    let events = numbered_events(0, 150);
    append_all(&mut log, &events);
    assert!(!log.archive_path().exists());
    assert!(log.active_log_size().unwrap() > 4_000);
    assert_eq!(read_active(&log.reader()), events);
    log.refresh_all().unwrap();
    assert_views_match(&log, &events);
}

#[test]
fn a_hundred_events_with_a_small_threshold_match_sequential_replay() {
    let dir = test_dir();
    let threshold = 400;
    let mut log = open_with_views(dir.path(), threshold);
    let events: Vec<Event> = (0..100u64)
        .map(|n| {
            if n % 3 == 0 {
                todo_added(&format!("task {n}"))
            } else {
                numbered_event("t", n)
            }
        })
        .collect();
    let mut rotations = 0;
    for (i, event) in events.iter().enumerate() {
        let before = log.active_log_size().unwrap();
        log.append(event).unwrap();
        if log.active_log_size().unwrap() < before {
            rotations += 1;
        }
        if i % 17 == 0 {
            log.refresh_all().unwrap();
            assert_views_match(&log, &events[..=i]);
        }
    }
    assert!(rotations >= 3, "only {rotations} rotations happened");
    assert!(log.active_log_size().unwrap() < threshold);
    log.refresh_all().unwrap();
    assert_views_match(&log, &events);
    assert_eq!(read_all(&log.reader()), events);

    let mut late = View::new("todos", todo_reducer, log.views_dir());
    assert_eq!(
        late.refresh(&log.reader()).unwrap(),
        &fold_model(&events, todo_reducer)
    );
}

#[test]
fn open_rotates_a_log_that_is_already_too_big() {
    let dir = test_dir();
    let events = numbered_events(0, 10);
    {
        let mut log = open_with_views(dir.path(), 0);
        append_all(&mut log, &events);
    }
    let size = fs::metadata(dir.path().join("app.jsonl")).unwrap().len();

    let log = open_with_views(dir.path(), size);
    assert_eq!(log.active_log_size().unwrap(), 0);
    assert!(log.archive_path().exists());
    assert_eq!(read_all(&log.reader()), events);
    assert_views_match(&log, &events);
    assert_eq!(load_snapshot::<u64>(&log, "count").unwrap().offset, 0);
}

#[test]
fn open_leaves_a_log_below_the_threshold_alone() {
    let dir = test_dir();
    let events = numbered_events(0, 3);
    {
        let mut log = open_with_views(dir.path(), 0);
        append_all(&mut log, &events);
    }
    let size = fs::metadata(dir.path().join("app.jsonl")).unwrap().len();
    let log = open_with_views(dir.path(), size + 1);
    assert_eq!(log.active_log_size().unwrap(), size);
    assert!(!log.archive_path().exists());
    assert_eq!(read_active(&log.reader()), events);
}

/// A view that is not registered and whose snapshot a rotation moved to offset 0 has read none
/// of the next active log: the next rotation must not leave it at offset 0, where it would
/// claim the events that rotation archives.
#[test]
fn a_snapshot_left_at_offset_zero_by_an_earlier_rotation_is_retired_by_the_next() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let events = numbered_events(0, 4);
    append_all(&mut log, &events[..2]);
    View::new("solo", counter_reducer, log.views_dir())
        .refresh(&log.reader())
        .unwrap();
    log.rotate().unwrap();
    let reset = load_snapshot::<u64>(&log, "solo").expect("reset, not deleted");
    assert_eq!((reset.state, reset.offset), (2, 0));

    append_all(&mut log, &events[2..]);
    log.rotate().unwrap();
    let mut solo = View::new("solo", counter_reducer, log.views_dir());
    assert_eq!(*solo.refresh(&log.reader()).unwrap(), 4);
}

/// On many threads a replay decompresses several archive frames at once; what it folds, and in
/// which order, is what one thread folds, and what the history holds.
#[test]
fn many_threads_fold_a_many_frame_archive_as_one_thread_does() {
    use eventfold::EventReader;

    fn digest(mut state: (u64, u64), event: &Event) -> (u64, u64) {
        let n = event.data["n"].as_u64().unwrap();
        state.0 += 1;
        state.1 = state.1.wrapping_mul(31).wrapping_add(n);
        state
    }

    let dir = tempfile::tempdir().unwrap();
    let mut log = EventLog::builder(dir.path())
        .max_log_size(16 * 1024)
        .open()
        .unwrap();
    let events: Vec<Event> = (0..6000u64)
        .map(|n| {
            let text = "x".repeat((n % 97) as usize);
            Event::new("tick", serde_json::json!({ "n": n, "text": text }))
        })
        .collect();
    for batch in events.chunks(100) {
        log.append_batch(batch).unwrap();
    }
    drop(log);
    let frames = EventReader::new(dir.path()).archive_frames().unwrap().len();
    assert!(frames >= 20, "{frames} frames");
    let expected = events.iter().fold((0, 0), digest);

    let reader = EventReader::new(dir.path());
    for threads in [1, 2, 4, 8, 16] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let state = pool.install(|| {
            let views = dir.path().join("views");
            let mut view = View::new(&format!("v{threads}"), digest, &views);
            *view.rebuild(&reader).unwrap()
        });
        assert_eq!(state, expected, "{threads} threads");
    }
}

/// A rotation describes its frames in `archive.index.jsonl` from what the writer gathered as it
/// appended; the description must be exactly what a scan of the archive finds, whatever the
/// lines' sizes and timestamps, whether the writer followed every append or was opened over a
/// log it did not write, and for a line longer than a frame.
#[test]
fn the_index_a_rotation_records_is_what_a_scan_describes() {
    use eventfold::EventReader;

    // xorshift, so that a failure can be replayed.
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    };
    let dir = tempfile::tempdir().unwrap();
    let mut n = 0u64;
    let mut event = |size: usize, ts: u64| {
        n += 1;
        let mut e = Event::new(
            "tick",
            serde_json::json!({ "n": n, "pad": "p".repeat(size) }),
        );
        e.ts = ts;
        e
    };
    let mut expected_frames = 0;
    for session in 0..4 {
        // Sessions 1 and 3 open the log over events a previous session left in it.
        let mut log = EventLog::open(dir.path()).unwrap();
        for round in 0..3 {
            let batches = 1 + next(6);
            for _ in 0..batches {
                let events: Vec<Event> = (0..1 + next(400))
                    .map(|_| {
                        let size = match next(100) {
                            0 => 40_000 + next(200_000) as usize,
                            _ => next(300) as usize,
                        };
                        // Timestamps that go back now and then.
                        event(size, 1_700_000_000 + next(1_000_000))
                    })
                    .collect();
                log.append_batch(&events).unwrap();
            }
            if session == 2 && round == 1 {
                // One line longer than a frame's content, alone in its frame.
                log.append(&event(5 << 20, 42)).unwrap();
            }
            if (session + round) % 2 == 0 {
                log.rotate().unwrap();
                expected_frames += 1;
            }
        }
        drop(log);
    }
    let reader = EventReader::new(dir.path());
    let recorded = reader.archive_frames().unwrap();
    assert!(
        recorded.len() > expected_frames,
        "{} frames",
        recorded.len()
    );
    let index = dir.path().join("archive.index.jsonl");
    let recorded_text = fs::read_to_string(&index).unwrap();
    assert_eq!(recorded_text.lines().count(), recorded.len());
    fs::remove_file(&index).unwrap();
    let described = EventReader::new(dir.path()).archive_frames().unwrap();
    assert_eq!(recorded, described);
    assert_eq!(fs::read_to_string(&index).unwrap(), recorded_text);
}
