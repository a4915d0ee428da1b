//! Validate once, trust by checksum: the writer seals the blocks of `app.jsonl` it appends in
//! `app.seals.jsonl`, a validating replay in the writer's process seals what it validated, and
//! a replay reads a block whose checksum matches without validating it again.
//!
//! Whatever the seals say (right, stale, truncated, foreign, over bytes changed since), a
//! replay gives exactly what a replay without them gives, the same events or the same error.

mod common;

use eventfold::{Event, EventLog, EventReader, EventRef, EventWriter, Position, View};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::fs;
use std::ops::ControlFlow;
use std::path::Path;

const SEALS: &str = "app.seals.jsonl";

/// The seals of `dir`, as `(end, hash)`, in order.
fn seals(dir: &Path) -> Vec<(u64, u64)> {
    let text = fs::read_to_string(dir.join(SEALS)).unwrap_or_default();
    text.lines()
        .map(|line| {
            let record: Value = serde_json::from_str(line).expect("a seal is a JSON line");
            let end = record["end"].as_u64().expect("end");
            let hash = u64::from_str_radix(record["xxh3"].as_str().expect("xxh3"), 16).unwrap();
            (end, hash)
        })
        .collect()
}

/// Every seal of `dir` describes the bytes of `app.jsonl` there: blocks that follow each other
/// from offset 0, end at newlines, and hash to the recorded checksum. Returns where they end.
fn check_seals(dir: &Path) -> u64 {
    let log = fs::read(dir.join("app.jsonl")).unwrap();
    let mut start = 0;
    for (end, hash) in seals(dir) {
        let block = &log[start as usize..end as usize];
        assert_eq!(block.last(), Some(&b'\n'), "a block ends at a newline");
        assert_eq!(
            xxhash_rust::xxh3::xxh3_64(block),
            hash,
            "block {start}..{end}"
        );
        start = end;
    }
    start
}

/// An event of about `size` bytes.
fn event(n: u64, size: usize) -> Event {
    Event::new(
        "tick",
        json!({ "id": n, "pad": "x".repeat(size.saturating_sub(60)) }),
    )
}

fn count(n: u64, _: &EventRef<'_>) -> u64 {
    n + 1
}

#[test]
fn the_writer_seals_what_it_appends_and_a_rotation_starts_over() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = EventLog::builder(dir.path()).open().unwrap();
    let batch: Vec<Event> = (0..100).map(|n| event(n, 1000)).collect();
    for _ in 0..7 {
        log.append_batch(&batch).unwrap();
    }
    let len = fs::metadata(dir.path().join("app.jsonl")).unwrap().len();
    let sealed = check_seals(dir.path());
    assert_eq!(
        seals(dir.path()).len(),
        2,
        "700 KB hold two blocks of 256 KiB"
    );
    assert!(
        len - sealed < 256 << 10,
        "only the block being filled is unsealed"
    );
    log.rotate().unwrap();
    assert_eq!(seals(dir.path()), [], "the seals describe the old file");
    for _ in 0..3 {
        log.append_batch(&batch).unwrap();
    }
    assert_eq!(seals(dir.path()).len(), 1);
    check_seals(dir.path());
}

/// `inspect` (what `eventfold info` shows) says how much of `app.jsonl` is sealed, counting
/// only seals that still match the bytes, and which archive frames are.
#[test]
fn inspect_reports_the_sealed_part_that_still_matches() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = EventLog::builder(dir.path()).open().unwrap();
    let batch: Vec<Event> = (0..100).map(|n| event(n, 1000)).collect();
    for _ in 0..7 {
        log.append_batch(&batch).unwrap();
    }
    let sealed = check_seals(dir.path());
    assert!(sealed > 0);
    let info = log.reader().read_only().inspect().unwrap();
    assert_eq!(info.active_sealed, sealed);
    assert!(info.active_sealed < info.active_committed);

    // A byte changed in the second block: only the first still counts.
    let first_end = seals(dir.path())[0].0;
    let path = dir.path().join("app.jsonl");
    let mut bytes = fs::read(&path).unwrap();
    let at = first_end as usize + 100;
    bytes[at] = if bytes[at] == b'x' { b'y' } else { b'x' };
    fs::write(&path, &bytes).unwrap();
    let info = EventReader::new(dir.path()).read_only().inspect().unwrap();
    assert_eq!(info.active_sealed, first_end);
    drop(log);

    // A rotation seals its frames (the changed byte is still a valid event).
    let mut log = EventLog::builder(dir.path()).open().unwrap();
    log.rotate().unwrap();
    let info = log.reader().read_only().inspect().unwrap();
    assert_eq!(info.active_sealed, 0, "the new app.jsonl is empty");
    assert!(!info.archive_frames.is_empty());
    assert!(info.archive_frames.iter().all(|f| f.is_sealed()));
}

#[test]
fn a_log_0_2_0_wrote_is_sealed_by_its_first_rebuild_in_the_writer_s_process() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut old = eventfold_v02::EventLog::builder(dir.path()).open().unwrap();
        for n in 0..800 {
            let e = event(n, 1000);
            old.append(&eventfold_v02::Event::new(&e.event_type, e.data))
                .unwrap();
        }
    }
    let len = fs::metadata(dir.path().join("app.jsonl")).unwrap().len();
    // Readers that hold no writer never write the seals.
    let views = tempfile::tempdir().unwrap();
    for reader in [
        EventReader::new(dir.path()),
        EventReader::new(dir.path()).read_only(),
    ] {
        let mut view = View::new_ref("count", count, views.path());
        assert_eq!(*view.rebuild(&reader).unwrap(), 800);
        assert!(!dir.path().join(SEALS).exists());
    }
    // The first rebuild through the writer's reader validates and seals all of it.
    let writer = EventWriter::open(dir.path()).unwrap();
    let mut view = View::new_ref("count", count, views.path());
    assert_eq!(*view.rebuild(&writer.reader()).unwrap(), 800);
    assert_eq!(check_seals(dir.path()), len);
    drop(writer);
    // From there on the writer seals its own appends.
    let mut log = EventLog::builder(dir.path()).open().unwrap();
    let batch: Vec<Event> = (0..100).map(|n| event(n, 1000)).collect();
    for _ in 0..4 {
        log.append_batch(&batch).unwrap();
    }
    assert!(check_seals(dir.path()) > len + (256 << 10));
}

#[test]
fn a_lost_or_torn_seal_file_costs_speed_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = EventLog::builder(dir.path()).open().unwrap();
    let batch: Vec<Event> = (0..100).map(|n| event(n, 1000)).collect();
    for _ in 0..6 {
        log.append_batch(&batch).unwrap();
    }
    drop(log);
    let views = tempfile::tempdir().unwrap();
    let reader = EventReader::new(dir.path()).read_only();
    let text = fs::read_to_string(dir.path().join(SEALS)).unwrap();
    let damages = [
        String::new(),
        text[..text.len() - 7].to_string(),
        "}\n".repeat(3),
    ];
    for (appended, damaged) in (600..).zip(damages) {
        fs::write(dir.path().join(SEALS), &damaged).unwrap();
        let mut view = View::new_ref("count", count, views.path());
        assert_eq!(*view.rebuild(&reader).unwrap(), appended);
        // A writer opened over it keeps what still describes the file, and seals on.
        let mut log = EventLog::builder(dir.path()).open().unwrap();
        log.append_batch(&batch[..1]).unwrap();
        check_seals(dir.path());
        drop(log);
    }
}

/// Seals are believed where the bytes match them: a block is not validated again. (Only a
/// forged seal can cover a line that is not an event; this shows that replays, through a view
/// of their own and through a log's views, read sealed blocks trusted.)
#[test]
fn a_replay_believes_the_seals_that_match() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("views")).unwrap();
    let mut log = Vec::new();
    for n in 0..3000 {
        let ts = if n == 1500 {
            "-1".to_string()
        } else {
            n.to_string()
        };
        log.extend_from_slice(format!(r#"{{"type":"t","data":{{"n":{n}}},"ts":{ts}}}"#).as_bytes());
        log.push(b'\n');
    }
    fs::write(dir.path().join("app.jsonl"), &log).unwrap();
    let reader = EventReader::new(dir.path()).read_only();
    let views = tempfile::tempdir().unwrap();
    let error = View::new_ref("count", count, views.path())
        .rebuild(&reader)
        .unwrap_err();
    assert!(error.to_string().contains("line 1501"), "{error}");
    fs::write(dir.path().join(SEALS), seal_records(&log, 100)).unwrap();
    let mut view = View::new_ref("count", count, views.path());
    assert_eq!(*view.rebuild(&reader).unwrap(), 3000);
    let mut log = EventLog::builder(dir.path())
        .view_ref::<u64>("count", count)
        .open()
        .unwrap();
    log.refresh_all().unwrap();
    assert_eq!(*log.view::<u64>("count").unwrap(), 3000);
    drop(log);
    // A strict scan (what `export` and `stats` read through) believes them too; a lenient
    // one, which `verify` is, checks every line whatever the seals say.
    let mut events = 0;
    reader
        .scan(Position::START, |_| {
            events += 1;
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(events, 3000);
    let mut damaged = 0;
    reader
        .scan_lenient(
            Position::START,
            |_| ControlFlow::Continue(()),
            |_| {
                damaged += 1;
                ControlFlow::Continue(())
            },
        )
        .unwrap();
    assert_eq!(damaged, 1);
}

/// The frames the archive index seals: `(offset, len, xxh3)` of each entry with a seal, each
/// checked against the frame's decompressed content. Returns how many entries there are.
fn check_sealed_frames(dir: &Path) -> (usize, usize) {
    let index = fs::read_to_string(dir.join("archive.index.jsonl")).unwrap();
    let archive = fs::read(dir.join("archive.jsonl.zst")).unwrap();
    let (mut frames, mut sealed) = (0, 0);
    for line in index.lines() {
        let entry: Value = serde_json::from_str(line).unwrap();
        frames += 1;
        let Some(hash) = entry["xxh3"].as_str() else {
            continue;
        };
        let (offset, len) = (
            entry["offset"].as_u64().unwrap(),
            entry["len"].as_u64().unwrap(),
        );
        let content = zstd::decode_all(&archive[offset as usize..(offset + len) as usize]).unwrap();
        assert_eq!(content.len() as u64, entry["content_len"].as_u64().unwrap());
        let expected = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&content));
        assert_eq!(hash, expected, "frame at {offset}");
        sealed += 1;
    }
    (frames, sealed)
}

#[test]
fn rotations_and_descriptions_seal_the_archive_frames_they_check() {
    // Frames this crate's rotations write are sealed in the index as they are recorded.
    let dir = tempfile::tempdir().unwrap();
    let mut log = EventLog::builder(dir.path()).open().unwrap();
    let batch: Vec<Event> = (0..100).map(|n| event(n, 1000)).collect();
    for _ in 0..3 {
        for _ in 0..60 {
            log.append_batch(&batch).unwrap();
        }
        log.rotate().unwrap();
    }
    drop(log);
    let (frames, sealed) = check_sealed_frames(dir.path());
    assert!(frames > 3, "frames of at most 4 MiB: {frames}");
    assert_eq!(sealed, frames);
    let views = tempfile::tempdir().unwrap();
    let reader = EventReader::new(dir.path()).read_only();
    let mut view = View::new_ref("count", count, views.path());
    assert_eq!(*view.rebuild(&reader).unwrap(), 18_000);
    // Read trusted, the sealed frames give what they give validated (without the index).
    let sealed = replay(dir.path());
    fs::rename(
        dir.path().join("archive.index.jsonl"),
        dir.path().join("index.aside"),
    )
    .unwrap();
    assert_eq!(sealed, replay(dir.path()));
    assert_eq!(
        sealed.0.map(|lines| lines.len()),
        Ok(2 * 18_000),
        "two lines per event"
    );

    // An archive 0.2.0 wrote has no index; the reader that describes its frames seals those
    // whose every line is an event.
    let dir = tempfile::tempdir().unwrap();
    {
        let mut old = eventfold_v02::EventLog::builder(dir.path()).open().unwrap();
        for n in 0..500 {
            let e = event(n, 300);
            old.append(&eventfold_v02::Event::new(&e.event_type, e.data))
                .unwrap();
        }
        old.rotate().unwrap();
        fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("app.jsonl"))
            .unwrap();
    }
    assert!(!dir.path().join("archive.index.jsonl").exists());
    let frames = EventReader::new(dir.path()).archive_frames().unwrap();
    assert_eq!(frames.len(), 1);
    assert_eq!(check_sealed_frames(dir.path()), (1, 1));
}

// ---------------------------------------------------------------------------------------------
// The differential property
// ---------------------------------------------------------------------------------------------

/// One line of a generated log.
#[derive(Debug, Clone)]
enum Line {
    /// Written as the writer writes it.
    Written(Event),
    /// The same event, by hand: a space after every comma, a tab before every value (where a
    /// string holds `":`, its text changes too: another event, as valid), or its keys in
    /// another order.
    Spaced(Event),
    SpacedValues(Event),
    Reordered(Event),
    /// Not an event.
    Bad,
}

impl Line {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Line::Written(event) => serde_json::to_vec(event).unwrap(),
            Line::Spaced(event) => serde_json::to_string(event)
                .unwrap()
                .replace(",\"", ", \"")
                .into_bytes(),
            Line::SpacedValues(event) => serde_json::to_string(event)
                .unwrap()
                .replace("\":", "\":\t")
                .into_bytes(),
            Line::Reordered(event) => {
                let mut text = format!(
                    "{{\"ts\":{},\"data\":{},\"type\":{}",
                    event.ts,
                    event.data,
                    Value::from(event.event_type.clone())
                );
                if let Some(id) = &event.id {
                    text += &format!(",\"id\":{}", Value::from(id.clone()));
                }
                text += ",\"meta\":null}";
                text.into_bytes()
            }
            Line::Bad => b"{\"type\":\"a\",\"data\":{},\"ts\":-1}".to_vec(),
        }
    }
}

fn text() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "a",
        "id",
        "\"id\":",
        "q\"uote",
        "back\\slash",
        "tab\there",
        "日本語",
        "📌",
        "\u{1}",
        "",
        "}",
        "],[",
    ])
    .prop_map(str::to_string)
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            prop::collection::vec((prop_oneof![text(), Just("id".to_string())], inner), 0..4)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

fn an_event() -> impl Strategy<Value = Event> {
    (
        prop_oneof![Just("t".to_string()), text()],
        value(),
        any::<u64>(),
        prop::option::of(text()),
        prop::option::of(text()),
        prop::option::of(value()),
    )
        .prop_map(|(event_type, data, ts, id, actor, meta)| Event {
            event_type,
            data,
            ts,
            id,
            actor,
            meta,
        })
}

fn a_line() -> impl Strategy<Value = Line> {
    prop_oneof![
        12 => an_event().prop_map(Line::Written),
        1 => an_event().prop_map(Line::Spaced),
        1 => an_event().prop_map(Line::SpacedValues),
        1 => an_event().prop_map(Line::Reordered),
    ]
}

/// What the seals file holds in a case.
#[derive(Debug, Clone)]
enum Seals {
    None,
    /// Right, over blocks of these many lines.
    Right(usize),
    /// Right, then a byte of `app.jsonl` flipped inside a sealed block.
    Flipped(usize, usize),
    /// Right, cut in the middle of a record.
    Torn(usize, usize),
    /// Describing another log.
    Foreign(usize),
}

fn seals_case() -> impl Strategy<Value = Seals> {
    prop_oneof![
        Just(Seals::None),
        (1usize..200).prop_map(Seals::Right),
        ((1usize..200), any::<usize>()).prop_map(|(n, at)| Seals::Flipped(n, at)),
        ((1usize..200), any::<usize>()).prop_map(|(n, at)| Seals::Torn(n, at)),
        (1usize..200).prop_map(Seals::Foreign),
    ]
}

/// Seal records over `log` in blocks of `per` lines.
fn seal_records(log: &[u8], per: usize) -> String {
    let mut text = String::new();
    let mut start = 0;
    let ends: Vec<usize> = log
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b == b'\n')
        .map(|(i, _)| i + 1)
        .collect();
    for &end in ends.iter().skip(per - 1).step_by(per) {
        let hash = xxhash_rust::xxh3::xxh3_64(&log[start..end]);
        text += &format!("{{\"end\":{end},\"xxh3\":\"{hash:016x}\"}}\n");
        start = end;
    }
    text
}

/// Everything a borrowed event answers, one string per event.
fn trace(mut state: Vec<String>, e: &EventRef<'_>) -> Vec<String> {
    state.push(format!(
        "{}|{}|{:?}|{:?}|{}|{:?}|{:?}|{:?}|{:?}",
        e.event_type(),
        e.ts(),
        e.id(),
        e.actor(),
        e.data_raw(),
        e.meta_raw(),
        e.data_field("id"),
        e.data_str("id"),
        e.to_event(),
    ));
    // What a serde reducer reads of `data`, and the error when the type does not fit.
    state.push(format!(
        "{:?}|{:?}",
        e.data_as::<Value>().map_err(|e| e.to_string()),
        e.data_as::<std::collections::BTreeMap<String, u64>>()
            .map_err(|e| e.to_string()),
    ));
    state
}

/// The same for owned events.
fn trace_owned(mut state: Vec<String>, e: &Event) -> Vec<String> {
    state.push(format!("{e:?}"));
    state
}

/// What rebuilding both views over `dir` gives: their states, or the errors.
fn replay(dir: &Path) -> (Result<Vec<String>, String>, Result<Vec<String>, String>) {
    let views = tempfile::tempdir().unwrap();
    let reader = EventReader::new(dir).read_only();
    let mut borrowed = View::new_ref("trace", trace, views.path());
    let mut owned = View::new("owned", trace_owned, views.path());
    (
        borrowed
            .rebuild(&reader)
            .cloned()
            .map_err(|e| e.to_string()),
        owned.rebuild(&reader).cloned().map_err(|e| e.to_string()),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(common::proptest_cases(48)))]

    /// With any seals, a replay gives what it gives without them. (Seals describe bytes that
    /// were events when they were sealed: a bad line can only follow them, or be made by a
    /// change to sealed bytes.)
    #[test]
    fn seals_never_change_what_a_replay_gives(
        lines in prop::collection::vec(a_line(), 1..40),
        tail in prop::collection::vec(a_line(), 0..5),
        bad_in_tail in any::<bool>(),
        case in seals_case(),
    ) {
        // Lines enough that the replay reads the seals (at least 64 KiB).
        let mut log = Vec::new();
        while log.len() < 80 << 10 {
            for line in &lines {
                log.extend_from_slice(&line.bytes());
                log.push(b'\n');
            }
        }
        let sealed = log.len();
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("views")).unwrap();
        let seals_path = dir.path().join(SEALS);
        match case {
            Seals::None => {}
            Seals::Right(per) => fs::write(&seals_path, seal_records(&log, per)).unwrap(),
            Seals::Flipped(per, at) => {
                fs::write(&seals_path, seal_records(&log, per)).unwrap();
                let at = at % sealed;
                log[at] ^= 0x20;
            }
            Seals::Torn(per, at) => {
                let text = seal_records(&log, per);
                let cut = at % (text.len() + 1);
                fs::write(&seals_path, &text.as_bytes()[..cut]).unwrap();
            }
            Seals::Foreign(per) => {
                let mut other = log.clone();
                other.rotate_left(log.len() / 3);
                fs::write(&seals_path, seal_records(&other, per)).unwrap();
            }
        }
        // What follows the seals: lines appended since, a bad one among them.
        let mut tail = tail;
        if bad_in_tail {
            tail.insert(tail.len() / 2, Line::Bad);
        }
        for line in &tail {
            log.extend_from_slice(&line.bytes());
            log.push(b'\n');
        }
        fs::write(dir.path().join("app.jsonl"), &log).unwrap();
        let with_seals = replay(dir.path());
        let _ = fs::remove_file(&seals_path);
        let without = replay(dir.path());
        prop_assert_eq!(with_seals, without);
    }
}

/// The sum of the events' `data.id` and their count.
fn id_sum(state: (u64, u64), e: &EventRef<'_>) -> (u64, u64) {
    (state.0 + e.data_u64("id").unwrap_or(0), state.1 + 1)
}

/// A sealed archive of several frames is read the same on one thread and on several (where
/// its frames are decompressed ahead by threads of their own): whole, stopped inside a frame,
/// and with a frame damaged, where the error is the same.
#[test]
fn a_sealed_archive_reads_the_same_on_any_number_of_threads() {
    use eventfold::At;
    let dir = tempfile::tempdir().unwrap();
    let mut log = EventLog::builder(dir.path()).open().unwrap();
    let mut n = 0;
    // Two rotations of about 9 MB each (three frames each), and a few events after them.
    for _ in 0..2 {
        for _ in 0..90 {
            let batch: Vec<Event> = (n..n + 100).map(|n| event(n, 1000)).collect();
            log.append_batch(&batch).unwrap();
            n += 100;
        }
        log.rotate().unwrap();
    }
    let batch: Vec<Event> = (n..n + 10).map(|n| event(n, 1000)).collect();
    log.append_batch(&batch).unwrap();
    n += 10;
    drop(log);
    let (frames, sealed) = check_sealed_frames(dir.path());
    assert!(
        frames >= 6 && sealed == frames,
        "{frames} frames, {sealed} sealed"
    );
    let total = n;

    let rebuild = |threads: usize| {
        let reader = EventReader::new(dir.path())
            .replay_threads(threads)
            .read_only();
        let views = tempfile::tempdir().unwrap();
        View::new_ref("ids", id_sum, views.path())
            .rebuild(&reader)
            .copied()
            .map_err(|e| e.to_string())
    };
    let state_at = |threads: usize, at: At| {
        let log = EventLog::builder(dir.path())
            .replay_threads(threads)
            .view_ref::<(u64, u64)>("ids", id_sum)
            .open()
            .unwrap();
        log.state_at::<(u64, u64)>("ids", at)
            .map_err(|e| e.to_string())
    };
    let whole = (total * (total - 1) / 2, total);
    for threads in [1, 2, 3] {
        assert_eq!(rebuild(threads), Ok(whole), "{threads} threads");
        // Inside the first frame, inside the fourth, and in the last one.
        for k in [1_234, 13_579, 17_999] {
            assert_eq!(
                state_at(threads, At::Event(k)),
                Ok((k * (k + 1) / 2, k + 1)),
                "{threads} threads, event {k}"
            );
        }
    }

    // A byte of the third frame's compressed bytes flipped: the frames before it are read,
    // then the same error, whatever the threads.
    let index = fs::read_to_string(dir.path().join("archive.index.jsonl")).unwrap();
    let third: Value = serde_json::from_str(index.lines().nth(2).unwrap()).unwrap();
    let at = third["offset"].as_u64().unwrap() + third["len"].as_u64().unwrap() / 2;
    let path = dir.path().join("archive.jsonl.zst");
    let mut archive = fs::read(&path).unwrap();
    archive[at as usize] ^= 0x5a;
    fs::write(&path, &archive).unwrap();
    let one = rebuild(1);
    assert!(one.is_err(), "{one:?}");
    for threads in [2, 3] {
        assert_eq!(rebuild(threads), one, "{threads} threads");
    }
}
