//! Scans checked against the reference reader: from every kind of starting position, over an
//! archive of several frames and an active log large enough for the parallel path, with empty
//! lines between events, every event comes with the position, end, index, file, offset and line
//! number that `read_history` and the bytes themselves give. Filters, following and lenient
//! scans are checked against plain loops over the same events.

mod common;

use eventfold::{Damage, EventLog, EventReader, Filter, HistoryFile, Position};
use std::io::Write;
use std::ops::ControlFlow;
use std::path::Path;

/// What a scan reports about one event, in a form that compares.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    position: u64,
    end: u64,
    index: u64,
    event_type: String,
    ts: u64,
    file: HistoryFile,
    offset: u64,
    line: u64,
}

fn scan_all(reader: &EventReader, from: Position) -> Vec<Seen> {
    let mut seen = Vec::new();
    reader
        .scan(from, |e| {
            seen.push(Seen {
                position: e.position.offset(),
                end: e.end.offset(),
                index: e.index,
                event_type: e.event.event_type().to_string(),
                ts: e.event.ts(),
                file: e.location.file,
                offset: e.location.offset,
                line: e.location.line,
            });
            ControlFlow::Continue(())
        })
        .unwrap();
    seen
}

/// The history as one byte stream: the decompressed archive, then the active log.
fn stream(dir: &Path) -> (Vec<u8>, usize) {
    let mut archive = Vec::new();
    if let Ok(file) = std::fs::File::open(dir.join("archive.jsonl.zst")) {
        let mut decoder = zstd::stream::read::Decoder::new(file).unwrap();
        std::io::copy(&mut decoder, &mut archive).unwrap();
    }
    let split = archive.len();
    archive.extend(std::fs::read(dir.join("app.jsonl")).unwrap());
    (archive, split)
}

/// A log of about 1.3 MB: rotations every 250 KB, so several frames, and an active log over
/// the parallel threshold; some events are separated by empty lines.
fn build(dir: &Path) -> EventLog {
    let mut log = EventLog::builder(dir).max_log_size(250_000).open().unwrap();
    let raw = dir.join("app.jsonl");
    for first in (0..14_000u64).step_by(100) {
        let kind = |n: u64| ["alpha", "beta", "gamma_long_type_name"][(n % 3) as usize];
        let batch: Vec<_> = (first..first + 100)
            .map(|n| common::numbered_event(kind(n), n))
            .collect();
        log.append_batch(&batch).unwrap();
        if first % 1000 == 900 {
            // An empty line, as another program appending whole lines might leave.
            std::fs::OpenOptions::new()
                .append(true)
                .open(&raw)
                .unwrap()
                .write_all(b"\n")
                .unwrap();
        }
    }
    // Stop rotating, and grow the active log past the parallel threshold.
    drop(log);
    let mut log = EventLog::open(dir).unwrap();
    let batch: Vec<_> = (14_000..26_000u64)
        .map(|n| common::numbered_event("delta", n))
        .collect();
    log.append_batch(&batch).unwrap();
    log
}

#[test]
fn scans_agree_with_read_history_and_the_bytes() {
    let dir = common::test_dir();
    let log = build(dir.path());
    let reader = log.reader().read_only();
    assert!(reader.archive_frames().unwrap().len() >= 3);
    assert!(std::fs::metadata(log.log_path()).unwrap().len() > 600_000);
    let (bytes, split) = stream(dir.path());

    // Newlines before each byte of the stream, so that a line number is one subtraction.
    let newlines_before: Vec<u64> = std::iter::once(0)
        .chain(bytes.iter().scan(0u64, |count, &b| {
            *count += u64::from(b == b'\n');
            Some(*count)
        }))
        .collect();
    let all = scan_all(&reader, Position::START);
    assert_eq!(all.len(), 26_000);
    let reference: Vec<_> = reader
        .read_history(Position::START)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for (seen, expected) in all.iter().zip(&reference) {
        assert_eq!(seen.position, expected.position.offset());
        assert_eq!(seen.end, expected.end.offset());
        assert_eq!(seen.index, expected.index);
        assert_eq!(seen.event_type, expected.event.event_type);
        assert_eq!(seen.ts, expected.event.ts);
        let at = seen.position as usize;
        assert_eq!(bytes[seen.end as usize - 1], b'\n');
        // File, offset and line come from the bytes.
        let (file, base) = if at < split {
            (HistoryFile::Archive, 0)
        } else {
            (HistoryFile::Active, split)
        };
        assert_eq!(
            (seen.file, seen.offset),
            (file, (at - base) as u64),
            "{seen:?}"
        );
        let line = newlines_before[at] - newlines_before[base] + 1;
        assert_eq!(seen.line, line, "{seen:?}");
    }

    // From any position: the events that read_history gives from there.
    let frames = reader.archive_frames().unwrap();
    let mut starts = vec![
        1,
        57,
        split as u64,
        split as u64 + 1,
        bytes.len() as u64,
        bytes.len() as u64 + 99,
    ];
    for frame in &frames {
        starts.extend([
            frame.start.offset(),
            frame.start.offset() + 3,
            frame.start.offset() + frame.content_len - 1,
        ]);
    }
    starts.extend(all.iter().step_by(997).map(|s| s.position));
    for from in starts {
        let from = Position::new(from);
        let expected: Vec<u64> = reader
            .read_history(from)
            .unwrap()
            .map(|e| e.unwrap().index)
            .collect();
        let seen = scan_all(&reader, from);
        assert_eq!(
            seen.iter().map(|s| s.index).collect::<Vec<_>>(),
            expected,
            "from {from}"
        );
        assert_eq!(seen, all[all.len() - seen.len()..], "from {from}");
    }
    drop(log);
}

#[test]
fn filtered_scans_and_following_agree_with_plain_loops() {
    let dir = common::test_dir();
    let mut log = build(dir.path());
    let reader = log.reader().read_only();
    let all = scan_all(&reader, Position::START);
    let from = all[5_000].position;
    let to = all[24_000].position;
    let filter = Filter::new()
        .event_type("gam*")
        .event_type("delta")
        .since(common::FIXED_TS + 3_000)
        .until(common::FIXED_TS + 25_000)
        .positions(Position::new(from), Some(Position::new(to)));
    let mut kept = Vec::new();
    let end = reader
        .scan_filtered(&filter, |e| {
            kept.push(e.index);
            ControlFlow::Continue(())
        })
        .unwrap();
    // It stopped at the end of the range, before the event there, which it did not hand over.
    assert_eq!((end.end, end.stopped), (Position::new(to), true));
    assert_eq!(end.events, kept.len() as u64);
    let expected: Vec<u64> = all
        .iter()
        .filter(|s| s.position >= from && s.position < to)
        .filter(|s| s.event_type.starts_with("gam") || s.event_type == "delta")
        .filter(|s| s.ts >= common::FIXED_TS + 3_000 && s.ts < common::FIXED_TS + 25_000)
        .map(|s| s.index)
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(kept, expected);

    // A follower started in the middle sees the rest once, then what is appended after a
    // rotation, once; without the archive index, which a read-only reader describes and keeps
    // in memory only.
    std::fs::remove_file(dir.path().join("archive.index.jsonl")).unwrap();
    let mut follow = reader.follow(Position::new(all[25_990].position));
    let mut seen = Vec::new();
    follow
        .scan_new(|e| {
            seen.push(e.index);
            ControlFlow::Continue(())
        })
        .unwrap();
    log.rotate().unwrap();
    log.append(&common::numbered_event("late", 99)).unwrap();
    assert!(follow.wait(std::time::Duration::from_secs(30)).unwrap());
    follow
        .scan_new(|e| {
            seen.push(e.index);
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(seen, (25_990..=26_000).collect::<Vec<_>>());
    assert_eq!(follow.next_position(), reader.history_end().unwrap());
    assert!(!dir.path().join("archive.index.jsonl").exists());
    // The frames described in memory, extended after the rotation, are the archive's frames.
    let fresh = EventReader::new(dir.path())
        .read_only()
        .archive_frames()
        .unwrap();
    assert_eq!(reader.archive_frames().unwrap(), fresh);
}

#[test]
fn lenient_scans_report_each_bad_line_and_go_on() {
    let dir = common::test_dir();
    let mut log = build(dir.path());
    drop(log);
    let raw = dir.path().join("app.jsonl");
    let before = std::fs::metadata(&raw).unwrap().len();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&raw)
        .unwrap()
        .write_all(b"{bad\n")
        .unwrap();
    log = EventLog::open(dir.path()).unwrap();
    log.append(&common::numbered_event("after", 1)).unwrap();
    let reader = log.reader().read_only();

    // Strict: stops at the bad line with its place.
    let mut count = 0;
    let err = reader
        .scan(Position::START, |_| {
            count += 1;
            ControlFlow::Continue(())
        })
        .unwrap_err();
    assert_eq!(count, 26_000);
    match eventfold::Error::from_io(&err) {
        Some(eventfold::Error::Malformed { offset, .. }) => assert_eq!(*offset, before),
        other => panic!("{other:?}"),
    }
    // Lenient: reports it and goes on; indexes count it as the line it is.
    let mut damaged = Vec::new();
    let mut last = None;
    reader
        .scan_lenient(
            Position::START,
            |e| {
                last = Some((e.index, e.event.event_type().to_string()));
                ControlFlow::Continue(())
            },
            |damage| {
                if let Damage::Malformed {
                    bytes, location, ..
                } = damage
                {
                    damaged.push((bytes.to_vec(), location.offset));
                }
                ControlFlow::Continue(())
            },
        )
        .unwrap();
    assert_eq!(damaged, [(b"{bad".to_vec(), before)]);
    assert_eq!(last, Some((26_001, "after".to_string())));
}
