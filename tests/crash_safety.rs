//! Crash safety: a directory is put, file by file, in the state a crash would leave it in,
//! then reopened. Whatever the crash point, every event must be read exactly once and every
//! view must equal the reference fold (`fold_model`) of the events that were acknowledged.
//!
//! Rotation states are built from a real rotation: the directory is captured just before
//! `rotate()` and just after it, and a crash state is assembled from pieces of the two images
//! (the rotation record, the whole or part of the new archive frame, the old or new active
//! log, the old or new snapshots).

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use common::{
    append_bytes, counter_reducer, decompress_archive, dummy_event, fold_model, line_of, lines_of,
    load_snapshot, numbered_event, numbered_events, parse_jsonl_file, read_active, read_all,
    snapshot_path, sum_reducer, test_dir, todo_added, todo_completed, trace_reducer,
};
use eventfold::{Event, EventLog, EventReader, EventWriter, Snapshot, View, line_hash, snapshot};
use serde_json::{Value, json};
use tempfile::TempDir;

const LOG: &str = "app.jsonl";
const ARCHIVE: &str = "archive.jsonl.zst";
const RECORD: &str = "rotation.json";
const NEXT: &str = "app.jsonl.next";

fn open_log(dir: &Path) -> EventLog {
    EventLog::builder(dir)
        .view::<u64>("count", counter_reducer)
        .view::<i64>("sum", sum_reducer)
        .view::<Vec<String>>("trace", trace_reducer)
        .open()
        .expect("opening the log failed")
}

/// A fresh view (its snapshot kept outside the log directory) replaying the whole history.
fn replayed_trace(reader: &EventReader) -> Vec<String> {
    let scratch = test_dir();
    View::new("replay", trace_reducer, scratch.path())
        .refresh(reader)
        .expect("a full replay failed")
        .clone()
}

/// Refreshes the registered views and checks them, `read_full` and a full replay against the
/// reference fold of `events`.
fn assert_consistent(log: &mut EventLog, events: &[Event], what: &str) {
    log.refresh_all()
        .unwrap_or_else(|e| panic!("{what}: refresh_all failed: {e}"));
    assert_eq!(
        *log.view::<u64>("count").unwrap(),
        fold_model(events, counter_reducer),
        "{what}: count view"
    );
    assert_eq!(
        *log.view::<i64>("sum").unwrap(),
        fold_model(events, sum_reducer),
        "{what}: sum view"
    );
    assert_eq!(
        log.view::<Vec<String>>("trace").unwrap(),
        &fold_model(events, trace_reducer),
        "{what}: trace view"
    );
    assert_eq!(read_all(&log.reader()), events, "{what}: read_full");
    assert_eq!(
        replayed_trace(&log.reader()),
        fold_model(events, trace_reducer),
        "{what}: full replay"
    );
}

/// Reopens the log and checks it, then appends two more events, reopens and checks again, and
/// finally rotates and checks once more: a repaired directory must keep working.
fn assert_survives_reopen_append_rotate(dir: &Path, events: &[Event], what: &str) {
    let mut all = events.to_vec();
    {
        let mut log = open_log(dir);
        assert_consistent(&mut log, &all, what);
        let more = [numbered_event("later", 900), numbered_event("later", 901)];
        log.append_batch(&more).unwrap();
        all.extend(more);
    }
    let mut log = open_log(dir);
    assert_consistent(&mut log, &all, &format!("{what}, after reopen + append"));
    log.rotate().unwrap();
    assert_consistent(&mut log, &all, &format!("{what}, after another rotation"));
    drop(log);
    let mut log = open_log(dir);
    assert_consistent(&mut log, &all, &format!("{what}, after the final reopen"));
}

fn file_len(path: &Path) -> u64 {
    fs::metadata(path).unwrap().len()
}

// ---------------------------------------------------------------------------------------------
// Torn last line
// ---------------------------------------------------------------------------------------------

/// The ways an append can be torn: the bytes of its line that reached the disk.
fn torn_tails() -> Vec<(&'static str, Vec<u8>)> {
    let line = serde_json::to_vec(&numbered_event("torn", 77)).unwrap();
    let accented = serde_json::to_vec(&Event {
        data: json!({"text": "crème brûlée"}),
        ..dummy_event("torn")
    })
    .unwrap();
    let in_char = accented
        .windows(2)
        .position(|w| w == "è".as_bytes())
        .expect("the line holds the accented character")
        + 1;
    vec![
        ("one byte", line[..1].to_vec()),
        ("half a line", line[..line.len() / 2].to_vec()),
        ("a line missing only its newline", line.clone()),
        (
            "a cut inside a multi-byte character",
            accented[..in_char].to_vec(),
        ),
        ("a line followed by a torn one", {
            // Not torn itself: the first line is complete, only the second is torn.
            let mut both = line.clone();
            both.push(b'\n');
            both.extend_from_slice(&line[..10]);
            both
        }),
    ]
}

#[test]
fn torn_last_line_is_cut_when_the_writer_opens() {
    for (what, torn) in torn_tails() {
        let dir = test_dir();
        let log_path = dir.path().join(LOG);
        let mut events = numbered_events(0, 5);
        {
            let mut log = open_log(dir.path());
            log.append_batch(&events).unwrap();
            log.refresh_all().unwrap();
        }
        append_bytes(&log_path, &torn);
        let complete_tail = torn.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        if complete_tail > 0 {
            events.push(serde_json::from_slice(&torn[..complete_tail - 1]).unwrap());
        }
        let committed = lines_of(&events).len() as u64;

        // Before any repair, readers already ignore the torn bytes.
        let reader = EventReader::new(dir.path());
        assert_eq!(
            read_active(&reader),
            events,
            "{what}: read_from before repair"
        );
        assert_eq!(read_all(&reader), events, "{what}: read_full before repair");
        assert_eq!(
            file_len(&log_path),
            lines_of(&events).len() as u64 + (torn.len() - complete_tail) as u64,
            "{what}: readers must not cut the file"
        );

        let mut log = open_log(dir.path());
        assert_eq!(
            file_len(&log_path),
            committed,
            "{what}: the file is cut back to its last newline"
        );
        assert_eq!(read_active(&log.reader()), events, "{what}: read_from(0)");

        let next = numbered_event("tick", 5);
        let result = log.append(&next).unwrap();
        assert_eq!(
            result.start_offset, committed,
            "{what}: the next append starts on a line of its own"
        );
        events.push(next);
        assert_eq!(
            fs::read_to_string(&log_path).unwrap(),
            lines_of(&events),
            "{what}: the file holds exactly the complete lines"
        );
        assert_eq!(
            parse_jsonl_file(&log_path),
            events,
            "{what}: still valid JSONL"
        );
        assert_consistent(&mut log, &events, what);
        drop(log);
        assert_survives_reopen_append_rotate(dir.path(), &events, what);
    }
}

#[test]
fn a_log_holding_only_a_torn_line_is_emptied() {
    let dir = test_dir();
    let log_path = dir.path().join(LOG);
    fs::write(&log_path, r#"{"type":"tick","data":{"n":1},"ts"#).unwrap();
    assert!(read_all(&EventReader::new(dir.path())).is_empty());

    let mut log = open_log(dir.path());
    assert_eq!(file_len(&log_path), 0);
    let first = numbered_event("tick", 1);
    assert_eq!(log.append(&first).unwrap().start_offset, 0);
    assert_consistent(&mut log, &[first], "only a torn line");
}

#[test]
fn a_torn_tail_after_a_rotation_keeps_the_archive_and_the_snapshots() {
    let dir = test_dir();
    let log_path = dir.path().join(LOG);
    let mut events = numbered_events(0, 4);
    {
        let mut log = open_log(dir.path());
        log.append_batch(&events[..2]).unwrap();
        log.rotate().unwrap();
        log.append_batch(&events[2..]).unwrap();
        log.refresh_all().unwrap();
    }
    let snapshot_before = fs::read(snapshot_path(&dir.path().join("views"), "trace")).unwrap();
    append_bytes(&log_path, br#"{"type":"tick","da"#);

    let mut log = open_log(dir.path());
    assert_eq!(file_len(&log_path), lines_of(&events[2..]).len() as u64);
    assert_eq!(
        fs::read(snapshot_path(log.views_dir(), "trace")).unwrap(),
        snapshot_before,
        "cutting a torn tail does not touch snapshots"
    );
    let next = numbered_event("tick", 4);
    log.append(&next).unwrap();
    events.push(next);
    assert_consistent(&mut log, &events, "torn tail after rotation");
}

// ---------------------------------------------------------------------------------------------
// Crash while a snapshot is written
// ---------------------------------------------------------------------------------------------

#[test]
fn a_stray_snapshot_temporary_file_is_ignored() {
    const MARKER: u64 = 999_999;
    for with_older_snapshot in [false, true] {
        for torn_tmp in [false, true] {
            let what = format!("older snapshot: {with_older_snapshot}, torn tmp: {torn_tmp}");
            let dir = test_dir();
            let views = dir.path().join("views");
            let events = numbered_events(0, 6);
            {
                let mut log = open_log(dir.path());
                log.append_batch(&events[..3]).unwrap();
                if with_older_snapshot {
                    log.refresh_all().unwrap();
                }
                log.append_batch(&events[3..]).unwrap();
            }
            // The refresh after the second batch died while writing its temporary files.
            let end = lines_of(&events).len() as u64;
            let last_hash = line_hash(line_of(&events[5]).trim_end().as_bytes());
            for name in ["count", "sum", "trace"] {
                let tmp = views.join(format!("{name}.snapshot.json.tmp"));
                let content = if torn_tmp {
                    b"{\n  \"state\": 99".to_vec()
                } else {
                    // Complete and well-formed, and pointing at the real end of the log, but
                    // never renamed into place: it must not be mistaken for the snapshot.
                    serde_json::to_vec_pretty(&Snapshot::new(MARKER, end, last_hash.clone()))
                        .unwrap()
                };
                fs::write(tmp, content).unwrap();
            }
            let reader = EventReader::new(dir.path());
            let mut count = View::new("count", counter_reducer, &views);
            assert_eq!(
                *count.refresh(&reader).unwrap(),
                6,
                "{what}: a standalone view"
            );
            drop(count);

            let mut log = open_log(dir.path());
            assert_consistent(&mut log, &events, &what);
            let saved = load_snapshot::<u64>(&log, "count").expect("a snapshot was saved");
            assert_eq!((saved.state, saved.offset), (6, end), "{what}");
            drop(log);
            assert_survives_reopen_append_rotate(dir.path(), &events, &what);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Crash during rotation
// ---------------------------------------------------------------------------------------------

/// Every file of a log directory, by path relative to it.
type Image = BTreeMap<PathBuf, Vec<u8>>;

fn capture(dir: &Path) -> Image {
    let mut image = Image::new();
    for sub in [Path::new(""), Path::new("views")] {
        let Ok(entries) = fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for entry in entries {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                let rel = sub.join(entry.file_name());
                image.insert(rel, fs::read(entry.path()).unwrap());
            }
        }
    }
    image
}

fn restore(image: &Image) -> TempDir {
    let dir = test_dir();
    fs::create_dir_all(dir.path().join("views")).unwrap();
    for (rel, bytes) in image {
        fs::write(dir.path().join(rel), bytes).unwrap();
    }
    dir
}

fn get<'i>(image: &'i Image, rel: &str) -> &'i [u8] {
    image
        .get(Path::new(rel))
        .unwrap_or_else(|| panic!("{rel} is missing from the image"))
}

fn snapshots_of(image: &Image) -> Image {
    image
        .iter()
        .filter(|(rel, _)| rel.starts_with("views"))
        .map(|(rel, bytes)| (rel.clone(), bytes.clone()))
        .collect()
}

/// A rotation observed from both sides.
struct Rotation {
    /// The directory just before `rotate()`: an archive from an earlier rotation, an active log,
    /// snapshots of the registered views at its end, and one snapshot (`partial`) half-way.
    before: Image,
    /// The directory just after `rotate()` returned.
    after: Image,
    /// Every event, in order: the earlier archive's, then the active log's.
    events: Vec<Event>,
    /// How many of `events` the earlier archive holds.
    archived: usize,
}

impl Rotation {
    fn record(&self) -> Vec<u8> {
        get(&self.after, RECORD).to_vec()
    }

    fn frame(&self) -> Vec<u8> {
        get(&self.after, ARCHIVE)[get(&self.before, ARCHIVE).len()..].to_vec()
    }
}

fn observe_rotation() -> Rotation {
    let dir = test_dir();
    let events = vec![
        numbered_event("tick", 1),
        todo_added("milk"),
        numbered_event("tick", 2),
        todo_added("bread \"fresh\" / 🍞"),
        todo_completed(0),
        numbered_event("tick", 3),
        numbered_event("tick", 4),
        dummy_event("other"),
    ];
    let archived = 3;
    {
        let mut log = open_log(dir.path());
        log.append_batch(&events[..archived]).unwrap();
        log.rotate().unwrap();
        log.append_batch(&events[archived..archived + 2]).unwrap();
        // A view that is not registered and has read only part of the active log.
        View::new("partial", trace_reducer, log.views_dir())
            .refresh(&log.reader())
            .unwrap();
        log.append_batch(&events[archived + 2..]).unwrap();
        log.refresh_all().unwrap();
    }
    let before = capture(dir.path());
    open_log(dir.path()).rotate().unwrap();
    let after = capture(dir.path());
    Rotation {
        before,
        after,
        events,
        archived,
    }
}

#[test]
fn a_rotation_record_describes_what_was_archived() {
    let rot = observe_rotation();
    assert!(
        !rot.before.contains_key(Path::new(RECORD)),
        "the first append retires the previous rotation's record"
    );
    let active = get(&rot.before, LOG);
    let archive_before = get(&rot.before, ARCHIVE);
    let archive_after = get(&rot.after, ARCHIVE);
    assert!(
        archive_after.starts_with(archive_before),
        "the archive is append-only"
    );
    assert_eq!(
        zstd::stream::decode_all(&rot.frame()[..]).unwrap(),
        active,
        "the new frame holds the old active log"
    );
    assert!(get(&rot.after, LOG).is_empty());

    let record: Value = serde_json::from_slice(&rot.record()).unwrap();
    let last_line = active[..active.len() - 1]
        .rsplit(|&b| b == b'\n')
        .next()
        .unwrap();
    assert_eq!(record["archive_len_before"], archive_before.len() as u64);
    assert_eq!(record["frame_len"], rot.frame().len() as u64);
    assert_eq!(record["active_len"], active.len() as u64);
    assert_eq!(
        record["active_hash"],
        format!("{:016x}", xxhash_rust::xxh64::xxh64(active, 0))
    );
    assert_eq!(record["last_line_hash"], line_hash(last_line));
    assert_eq!(
        lines_of(&rot.events[rot.archived..]).as_bytes(),
        active,
        "the active log held the events after the first rotation"
    );
}

/// (a) The record was written, but not a byte of the frame.
#[test]
fn crash_after_the_record_before_the_frame() {
    let rot = observe_rotation();
    let mut image = rot.before.clone();
    image.insert(RECORD.into(), rot.record());
    let dir = restore(&image);
    assert_eq!(read_all(&EventReader::new(dir.path())), rot.events);

    let mut log = open_log(dir.path());
    assert!(
        !dir.path().join(RECORD).exists(),
        "the stale record is dropped"
    );
    assert_eq!(
        fs::read(log.archive_path()).unwrap(),
        get(&rot.before, ARCHIVE)
    );
    assert_eq!(fs::read(log.log_path()).unwrap(), get(&rot.before, LOG));
    assert_consistent(&mut log, &rot.events, "(a)");
    drop(log);
    assert_survives_reopen_append_rotate(dir.path(), &rot.events, "(a)");
}

/// A crash while the record itself was being written leaves only its temporary file.
#[test]
fn crash_while_writing_the_record() {
    let rot = observe_rotation();
    let mut image = rot.before.clone();
    let record = rot.record();
    image.insert(
        "rotation.json.tmp".into(),
        record[..record.len() / 2].to_vec(),
    );
    let dir = restore(&image);
    assert_eq!(read_all(&EventReader::new(dir.path())), rot.events);

    let mut log = open_log(dir.path());
    assert!(!dir.path().join("rotation.json.tmp").exists());
    assert_consistent(&mut log, &rot.events, "record tmp");
    drop(log);
    assert_survives_reopen_append_rotate(dir.path(), &rot.events, "record tmp");
}

/// (b) The record was written and the frame reached the archive only in part.
#[test]
fn crash_in_the_middle_of_the_frame() {
    let rot = observe_rotation();
    let frame = rot.frame();
    for cut in [1, 4, frame.len() / 2, frame.len() - 1] {
        let what = format!("(b) frame cut at {cut} of {}", frame.len());
        let mut image = rot.before.clone();
        image.insert(RECORD.into(), rot.record());
        let mut archive = get(&rot.before, ARCHIVE).to_vec();
        archive.extend_from_slice(&frame[..cut]);
        image.insert(ARCHIVE.into(), archive);
        let dir = restore(&image);

        let mut log = open_log(dir.path());
        assert_eq!(
            fs::read(log.archive_path()).unwrap(),
            get(&rot.before, ARCHIVE),
            "{what}: the archive is cut back to before the frame"
        );
        assert_eq!(
            fs::read(log.log_path()).unwrap(),
            get(&rot.before, LOG),
            "{what}: the active log still holds its events"
        );
        assert!(
            !dir.path().join(RECORD).exists(),
            "{what}: the record is dropped"
        );
        assert_eq!(
            decompress_archive(log.archive_path()),
            lines_of(&rot.events[..rot.archived]).as_bytes(),
            "{what}"
        );
        assert_consistent(&mut log, &rot.events, &what);
        drop(log);
        assert_survives_reopen_append_rotate(dir.path(), &rot.events, &what);
    }
}

/// (b) seen by a reader before any writer repairs it, which is also what a reader in another
/// process sees while a live rotation is still writing its frame. The record says where the
/// unfinished frame starts, and the active log still holds every event, as in (c) where the
/// reader does use the record; here `read_full` fails on the partial frame instead.
#[test]
fn a_reader_before_repair_ignores_an_unfinished_frame() {
    let rot = observe_rotation();
    let frame = rot.frame();
    let mut image = rot.before.clone();
    image.insert(RECORD.into(), rot.record());
    let mut archive = get(&rot.before, ARCHIVE).to_vec();
    archive.extend_from_slice(&frame[..frame.len() / 2]);
    image.insert(ARCHIVE.into(), archive);
    let dir = restore(&image);
    let reader = EventReader::new(dir.path());
    let history: Result<Vec<_>, _> = reader.read_full().unwrap().collect();
    let history = history.expect("read_full fails on the unfinished frame");
    let events: Vec<Event> = history.into_iter().map(|(event, _)| event).collect();
    assert_eq!(events, rot.events);
}

/// (c) The frame is complete, but the active log was not replaced: it is a copy of the last
/// frame. Snapshots still point at its end (the `partial` one half-way).
fn frame_complete_image(rot: &Rotation, stray_next: bool) -> Image {
    let mut image = rot.before.clone();
    image.insert(RECORD.into(), rot.record());
    image.insert(ARCHIVE.into(), get(&rot.after, ARCHIVE).to_vec());
    if stray_next {
        image.insert(NEXT.into(), Vec::new());
    }
    image
}

#[test]
fn crash_after_the_frame_is_not_read_twice_by_a_reader() {
    let rot = observe_rotation();
    for stray_next in [false, true] {
        let what = format!("(c) reader only, stray next: {stray_next}");
        let dir = restore(&frame_complete_image(&rot, stray_next));
        let reader = EventReader::new(dir.path());
        assert_eq!(read_all(&reader), rot.events, "{what}: read_full");
        assert_eq!(
            replayed_trace(&reader),
            fold_model(&rot.events, trace_reducer),
            "{what}: a view without a snapshot"
        );
        // Views whose snapshots consumed the whole active log, or part of it.
        let views = dir.path().join("views");
        let mut count = View::new("count", counter_reducer, &views);
        assert_eq!(
            *count.refresh(&reader).unwrap(),
            rot.events.len() as u64,
            "{what}"
        );
        let mut trace = View::new("trace", trace_reducer, &views);
        assert_eq!(
            trace.refresh(&reader).unwrap(),
            &fold_model(&rot.events, trace_reducer),
            "{what}"
        );
        let mut partial = View::new("partial", trace_reducer, &views);
        assert_eq!(
            partial.refresh(&reader).unwrap(),
            &fold_model(&rot.events, trace_reducer),
            "{what}: a snapshot half-way into the active log"
        );
        assert_eq!(
            fs::read(dir.path().join(LOG)).unwrap(),
            get(&rot.before, LOG),
            "{what}: readers change nothing"
        );
    }
}

#[test]
fn crash_after_the_frame_is_finished_by_the_next_writer() {
    let rot = observe_rotation();
    for stray_next in [false, true] {
        let what = format!("(c) writer reopens, stray next: {stray_next}");
        let dir = restore(&frame_complete_image(&rot, stray_next));
        let mut log = open_log(dir.path());
        assert_eq!(
            file_len(log.log_path()),
            0,
            "{what}: the rotation is finished"
        );
        assert!(!dir.path().join(NEXT).exists(), "{what}");
        assert_eq!(
            fs::read(log.archive_path()).unwrap(),
            get(&rot.after, ARCHIVE),
            "{what}: the archive is kept as it is"
        );
        // The registered views had read the whole archived log: their snapshots are moved to
        // offset 0, state unchanged. The half-way snapshot can no longer be placed.
        for name in ["count", "sum", "trace"] {
            let snap = snapshot::load::<Value>(&snapshot_path(log.views_dir(), name))
                .unwrap()
                .unwrap_or_else(|| panic!("{what}: the {name} snapshot was dropped"));
            assert_eq!((snap.offset, snap.hash.as_str()), (0, ""), "{what}: {name}");
        }
        assert_eq!(
            load_snapshot::<u64>(&log, "count").unwrap().state,
            rot.events.len() as u64
        );
        let mut partial = View::new("partial", trace_reducer, log.views_dir());
        assert_eq!(
            partial.refresh(&log.reader()).unwrap(),
            &fold_model(&rot.events, trace_reducer),
            "{what}: the half-way view"
        );
        assert_eq!(
            decompress_archive(log.archive_path()),
            lines_of(&rot.events).as_bytes(),
            "{what}"
        );
        assert_consistent(&mut log, &rot.events, &what);
        drop(log);
        assert_survives_reopen_append_rotate(dir.path(), &rot.events, &what);
    }
}

/// (c) again, but the views are checked straight after the writer repaired the directory,
/// without a fresh refresh of the archive: each registered view must load its retired
/// snapshot and fold nothing twice.
#[test]
fn crash_after_the_frame_then_appends_count_each_event_once() {
    let rot = observe_rotation();
    let dir = restore(&frame_complete_image(&rot, false));
    let mut events = rot.events.clone();
    let mut log = open_log(dir.path());
    // The same events again, with the same timestamps: new events, to be kept.
    let again = rot.events[rot.archived..].to_vec();
    log.append_batch(&again).unwrap();
    events.extend(again);
    assert_consistent(&mut log, &events, "(c) then identical appends");
    drop(log);
    assert_survives_reopen_append_rotate(dir.path(), &events, "(c) then identical appends");
}

/// (d) The active log was replaced, but the snapshots were not reset: they still point at the
/// end of the archived log.
fn snapshots_not_reset_image(rot: &Rotation) -> Image {
    let mut image: Image = rot
        .after
        .iter()
        .filter(|(rel, _)| !rel.starts_with("views"))
        .map(|(rel, bytes)| (rel.clone(), bytes.clone()))
        .collect();
    image.extend(snapshots_of(&rot.before));
    assert!(get(&image, LOG).is_empty());
    image
}

#[test]
fn crash_before_the_snapshots_are_reset() {
    let rot = observe_rotation();
    let dir = restore(&snapshots_not_reset_image(&rot));
    let reader = EventReader::new(dir.path());
    assert_eq!(read_all(&reader), rot.events, "(d) reader only");
    let mut trace = View::new("trace", trace_reducer, &dir.path().join("views"));
    assert_eq!(
        trace.refresh(&reader).unwrap(),
        &fold_model(&rot.events, trace_reducer),
        "(d) reader only"
    );
    drop(trace);

    let mut log = open_log(dir.path());
    assert_eq!(file_len(log.log_path()), 0);
    assert_consistent(&mut log, &rot.events, "(d)");
    drop(log);
    assert_survives_reopen_append_rotate(dir.path(), &rot.events, "(d)");
}

/// (d), then the events of the archived log are appended again, byte for byte, before any view
/// is refreshed. The stale snapshots point at the end of the archived log and the line before
/// that offset now hashes the same again, so they must have been retired when the writer
/// repaired the directory; otherwise the views skip the new events.
#[test]
fn crash_before_the_snapshots_are_reset_then_identical_appends() {
    let rot = observe_rotation();
    let dir = restore(&snapshots_not_reset_image(&rot));
    let mut events = rot.events.clone();
    let mut log = open_log(dir.path());
    let again = rot.events[rot.archived..].to_vec();
    log.append_batch(&again).unwrap();
    events.extend(again);
    assert_eq!(fs::read(log.log_path()).unwrap(), get(&rot.before, LOG));
    assert_consistent(&mut log, &events, "(d) then identical appends");
}

/// A frame made by hand with the `zstd` crate's streaming encoder (no content size, like the
/// frames of eventfold 0.2.0) and a record computed by hand: the repair relies only on the
/// documented record fields.
#[test]
fn crash_after_a_hand_made_frame_and_record() {
    let dir = test_dir();
    let events = vec![
        numbered_event("tick", 1),
        todo_added("tea"),
        numbered_event("tick", 2),
    ];
    {
        let mut log = open_log(dir.path());
        log.append_batch(&events).unwrap();
        log.refresh_all().unwrap();
    }
    let active = fs::read(dir.path().join(LOG)).unwrap();
    let frame = zstd::stream::encode_all(&active[..], 3).unwrap();
    let last_line = line_of(&events[2]);
    let record = json!({
        "archive_len_before": 0,
        "frame_len": frame.len(),
        "active_len": active.len(),
        "active_hash": format!("{:016x}", xxhash_rust::xxh64::xxh64(&active, 0)),
        "last_line_hash": line_hash(last_line.trim_end().as_bytes()),
    });
    fs::write(
        dir.path().join(RECORD),
        serde_json::to_vec(&record).unwrap(),
    )
    .unwrap();
    fs::write(dir.path().join(ARCHIVE), &frame).unwrap();

    assert_eq!(
        read_all(&EventReader::new(dir.path())),
        events,
        "reader only"
    );
    let mut log = open_log(dir.path());
    assert_eq!(file_len(log.log_path()), 0, "the rotation is finished");
    assert_eq!(load_snapshot::<u64>(&log, "count").unwrap().offset, 0);
    assert_consistent(&mut log, &events, "hand-made (c)");
    drop(log);
    assert_survives_reopen_append_rotate(dir.path(), &events, "hand-made (c)");
}

#[test]
fn an_unreadable_rotation_record_counts_as_absent() {
    let rot = observe_rotation();
    for garbage in [&b""[..], b"{\"archive_len_before\":", b"not json at all"] {
        let what = format!("record {:?}", String::from_utf8_lossy(garbage));
        let mut image = rot.before.clone();
        image.insert(RECORD.into(), garbage.to_vec());
        let dir = restore(&image);
        assert_eq!(
            read_all(&EventReader::new(dir.path())),
            rot.events,
            "{what}"
        );
        let mut log = open_log(dir.path());
        assert_eq!(
            fs::read(log.log_path()).unwrap(),
            get(&rot.before, LOG),
            "{what}"
        );
        assert_consistent(&mut log, &rot.events, &what);
    }
}

// ---------------------------------------------------------------------------------------------
// Identical events after a completed rotation
// ---------------------------------------------------------------------------------------------

fn fixed_batch() -> Vec<Event> {
    vec![
        dummy_event("same"),
        todo_added("same text"),
        numbered_event("tick", 3),
    ]
}

#[test]
fn identical_events_after_a_completed_rotation_are_kept() {
    let dir = test_dir();
    let batch = fixed_batch();
    let mut events = Vec::new();
    {
        let mut log = open_log(dir.path());
        log.append_batch(&batch).unwrap();
        events.extend(batch.clone());
        log.rotate().unwrap();
        log.append_batch(&batch).unwrap();
        events.extend(batch.clone());
        assert_eq!(
            fs::read(log.log_path()).unwrap(),
            lines_of(&batch).as_bytes()
        );
        assert_consistent(&mut log, &events, "same session");
    }
    assert_eq!(
        read_all(&EventReader::new(dir.path())),
        events,
        "reader only"
    );
    let mut log = open_log(dir.path());
    assert_eq!(
        fs::read(log.log_path()).unwrap(),
        lines_of(&batch).as_bytes(),
        "reopening keeps the second copy"
    );
    assert_consistent(&mut log, &events, "after reopen");
    drop(log);
    assert_survives_reopen_append_rotate(dir.path(), &events, "identical after rotation");
}

#[test]
fn identical_events_appended_by_a_later_session_are_kept() {
    let dir = test_dir();
    let batch = fixed_batch();
    {
        let mut log = open_log(dir.path());
        log.append_batch(&batch).unwrap();
        log.rotate().unwrap();
    }
    // The record stands while nothing has been appended since the rotation.
    assert!(dir.path().join(RECORD).exists());
    {
        let mut writer = EventWriter::open(dir.path()).unwrap();
        for event in &batch {
            writer.append(event).unwrap();
        }
    }
    let events = [batch.clone(), batch.clone()].concat();
    assert_eq!(
        read_all(&EventReader::new(dir.path())),
        events,
        "reader only"
    );
    let mut log = open_log(dir.path());
    assert_eq!(file_len(log.log_path()), lines_of(&batch).len() as u64);
    assert_consistent(&mut log, &events, "later session");
    drop(log);
    assert_survives_reopen_append_rotate(dir.path(), &events, "later session");
}

#[test]
fn identical_events_across_many_rotations_are_all_kept() {
    let dir = test_dir();
    let batch = fixed_batch();
    let mut events = Vec::new();
    for round in 0..4 {
        let mut log = open_log(dir.path());
        log.append_batch(&batch).unwrap();
        events.extend(batch.clone());
        if round % 2 == 0 {
            log.rotate().unwrap();
        }
        assert_consistent(&mut log, &events, &format!("round {round}"));
    }
    // Rounds 0, 1 and 2 were archived by the rotations of rounds 0 and 2.
    assert_eq!(
        String::from_utf8(decompress_archive(&dir.path().join(ARCHIVE))).unwrap(),
        lines_of(&events[..3 * batch.len()])
    );
}

// ---------------------------------------------------------------------------------------------
// Leftover files
// ---------------------------------------------------------------------------------------------

#[test]
fn a_stray_next_log_is_removed_and_changes_nothing() {
    let dir = test_dir();
    let events = numbered_events(0, 4);
    {
        let mut log = open_log(dir.path());
        log.append_batch(&events[..2]).unwrap();
        log.rotate().unwrap();
        log.append_batch(&events[2..]).unwrap();
        log.refresh_all().unwrap();
    }
    for content in [
        String::new(),
        line_of(&numbered_event("ghost", 7)),
        "garbage".into(),
    ] {
        let next = dir.path().join(NEXT);
        fs::write(&next, &content).unwrap();
        let active = fs::read(dir.path().join(LOG)).unwrap();
        assert_eq!(read_all(&EventReader::new(dir.path())), events);

        let mut log = open_log(dir.path());
        assert!(
            !next.exists(),
            "app.jsonl.next holding {content:?} is removed"
        );
        assert_eq!(fs::read(log.log_path()).unwrap(), active);
        assert_consistent(&mut log, &events, &format!("stray next {content:?}"));
    }
}
