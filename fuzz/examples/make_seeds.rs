//! Writes the seed corpus of every fuzz target into `fuzz/corpus/<target>/`.
//!
//! Run from the repository root with
//! `cargo run --manifest-path fuzz/Cargo.toml --example make_seeds`. The seeds are small and
//! deterministic (fixed timestamps, no randomness), so rerunning rewrites the same files. Valid
//! seeds come from eventfold itself (real lines, frames, snapshots and rotation records, so the
//! fuzzer starts from inputs whose hashes match); invalid ones are written by hand.

use eventfold::{Event, EventLog, Snapshot};
use serde_json::json;
use std::fs;
use std::path::{Path, PathBuf};

const TS: u64 = 1_700_000_000;

fn event(kind: &str, data: serde_json::Value) -> Event {
    Event {
        event_type: kind.to_string(),
        data,
        ts: TS,
        id: None,
        actor: None,
        meta: None,
    }
}

fn events() -> Vec<Event> {
    vec![
        event("todo_added", json!({"text": "buy milk"})),
        event("todo_added", json!({"text": "caf\u{e9} \"quoted\"\n"})).with_actor("ann"),
        event("todo_completed", json!({"id": 0})).with_id("e-3"),
        event("n", json!([1, -2.5e-3, null, true, {"k": []}])).with_meta(json!({"v": 2})),
    ]
}

fn line(event: &Event) -> Vec<u8> {
    serde_json::to_vec(event).expect("an event serializes")
}

fn lines(events: &[Event]) -> Vec<u8> {
    let mut out = Vec::new();
    for event in events {
        out.extend(line(event));
        out.push(b'\n');
    }
    out
}

fn count(n: u64, _event: &Event) -> u64 {
    n + 1
}

struct Corpus {
    dir: PathBuf,
}

impl Corpus {
    fn new(root: &Path, target: &str) -> Self {
        let dir = root.join(target);
        fs::create_dir_all(&dir).expect("cannot create the corpus directory");
        Corpus { dir }
    }

    fn seed(&self, name: &str, bytes: &[u8]) {
        fs::write(self.dir.join(name), bytes).expect("cannot write a seed");
    }
}

/// A directory as the `open_recovery` target reads it (see that target's doc).
#[derive(Default)]
struct DirSeed {
    flags: u8,
    app: Vec<u8>,
    record: Vec<u8>,
    snapshot: Vec<u8>,
    archive: Vec<u8>,
}

impl DirSeed {
    fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.flags];
        for part in [&self.app, &self.record, &self.snapshot] {
            let len = u16::try_from(part.len()).expect("a seed section fits in a u16");
            out.extend(len.to_le_bytes());
            out.extend(part);
        }
        out.extend(&self.archive);
        out
    }
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    fs::read(dir.join(name)).unwrap_or_default()
}

/// A real rotation: the directory just before it and just after it.
fn rotation_images() -> (DirSeed, DirSeed) {
    let tmp = tempfile::tempdir().expect("cannot create a scratch directory");
    let dir = tmp.path();
    let mut log = EventLog::builder(dir)
        .view::<u64>("x", count)
        .open()
        .expect("cannot open a log");
    log.append_batch(&events()[..2]).expect("append failed");
    log.rotate().expect("rotation failed");
    log.append_batch(&events()[2..]).expect("append failed");
    log.refresh_all().expect("refresh failed");
    let before = DirSeed {
        flags: 1 | 2 | 8,
        app: read(dir, "app.jsonl"),
        record: Vec::new(),
        snapshot: read(dir, "views/x.snapshot.json"),
        archive: read(dir, "archive.jsonl.zst"),
    };
    log.rotate().expect("rotation failed");
    let after = DirSeed {
        flags: 1 | 2 | 4 | 8,
        app: read(dir, "app.jsonl"),
        record: read(dir, "rotation.json"),
        snapshot: read(dir, "views/x.snapshot.json"),
        archive: read(dir, "archive.jsonl.zst"),
    };
    (before, after)
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let all = events();

    let parse = Corpus::new(&root, "parse_line");
    for (i, event) in all.iter().enumerate() {
        parse.seed(&format!("valid-{i}"), &line(event));
    }
    parse.seed(
        "valid-reordered",
        br#" {"ts":1,"data":{},"x":[1,{"y":null}],"type":"a","id":null} "#,
    );
    parse.seed(
        "valid-escapes",
        br#"{"type":"\u00e9\ud83d\ude00\t","data":"\\/\"","ts":0}"#,
    );
    // The fuzzer's first find: serde_json alone reads an event from an array of its fields;
    // every read path refuses it.
    parse.seed("invalid-array-form", br#"["a",{"k":1},5]"#);
    // Found by tests/bad_input.rs: an unknown field may nest deeper than 127 levels.
    parse.seed(
        "valid-deep-unknown",
        format!(
            r#"{{"type":"a","data":1,"ts":1,"x":{}{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        )
        .as_bytes(),
    );
    parse.seed("invalid-missing-ts", br#"{"type":"a","data":1}"#);
    parse.seed(
        "invalid-duplicate",
        br#"{"type":"a","data":1,"ts":1,"type":"b"}"#,
    );
    parse.seed("invalid-ts-float", br#"{"type":"a","data":1,"ts":1.0}"#);
    parse.seed(
        "invalid-big-number",
        br#"{"type":"a","data":[1e400],"ts":1}"#,
    );
    parse.seed(
        "invalid-lone-surrogate",
        br#"{"type":"a","data":"\ud800","ts":1}"#,
    );
    parse.seed(
        "invalid-utf8",
        b"{\"type\":\"a\",\"data\":\"\xff\",\"ts\":1}",
    );
    parse.seed(
        "invalid-control",
        b"{\"type\":\"a\x01\",\"data\":1,\"ts\":1}",
    );
    parse.seed(
        "invalid-deep",
        format!(r#"{{"type":"a","data":{},"ts":1}}"#, "[".repeat(200)).as_bytes(),
    );

    let snap = Corpus::new(&root, "snapshot_load");
    let saved = tempfile::tempdir().expect("cannot create a scratch directory");
    let path = saved.path().join("x.snapshot.json");
    eventfold::snapshot::save(&path, &Snapshot::new(7u64, 120, "00ff00ff00ff00ff".into()))
        .expect("cannot save a snapshot");
    snap.seed(
        "valid-u64",
        &fs::read(&path).expect("cannot read the snapshot back"),
    );
    eventfold::snapshot::save(
        &path,
        &Snapshot::new(json!({"items": ["a"], "n": 2.5}), 0, String::new()),
    )
    .expect("cannot save a snapshot");
    snap.seed(
        "valid-object",
        &fs::read(&path).expect("cannot read the snapshot back"),
    );
    snap.seed(
        "valid-compact",
        br#"{"state":null,"offset":0,"hash":"","extra":1}"#,
    );
    snap.seed("invalid-missing-hash", br#"{"state":1,"offset":0}"#);
    snap.seed(
        "invalid-negative-offset",
        br#"{"state":1,"offset":-1,"hash":""}"#,
    );
    snap.seed("invalid-truncated", br#"{"state":{"a":[1,2"#);
    snap.seed("invalid-array", b"[1,2,3]");
    snap.seed("invalid-nul", b"\0\0\0\0");

    let arch = Corpus::new(&root, "archive_read");
    let frame = |content: &[u8]| zstd::bulk::compress(content, 3).expect("compression failed");
    let mut sized = zstd::bulk::Compressor::new(3).expect("no compressor");
    sized.include_checksum(true).expect("checksum flag");
    sized.include_contentsize(true).expect("content size flag");
    let one = sized
        .compress(&lines(&all[..2]))
        .expect("compression failed");
    let two = sized
        .compress(&lines(&all[2..]))
        .expect("compression failed");
    arch.seed("valid-one-frame", &one);
    arch.seed("valid-two-frames", &[one.clone(), two.clone()].concat());
    let mut streamed = zstd::stream::write::Encoder::new(Vec::new(), 3).expect("no encoder");
    std::io::Write::write_all(&mut streamed, &lines(&all)).expect("compression failed");
    arch.seed(
        "valid-streamed",
        &streamed.finish().expect("compression failed"),
    );
    let skippable = [
        &0x184D_2A50u32.to_le_bytes()[..],
        &4u32.to_le_bytes(),
        b"skip",
    ]
    .concat();
    arch.seed("valid-skippable", &[skippable, one.clone()].concat());
    arch.seed(
        "valid-torn-last-line",
        &frame(b"{\"type\":\"a\",\"data\":1,\"ts\":1}\n{\"ty"),
    );
    arch.seed("invalid-truncated", &two[..two.len() / 2]);
    arch.seed("invalid-bad-magic", b"not a zstd frame");
    arch.seed(
        "invalid-malformed-line",
        &frame(b"{\"type\":\"a\",\"data\":1,\"ts\":1}\nnot json\n"),
    );

    let open = Corpus::new(&root, "open_recovery");
    let (before, after) = rotation_images();
    open.seed("valid-before-rotation", &before.encode());
    open.seed("valid-after-rotation", &after.encode());
    // A crash after the frame was appended but before the active log was replaced.
    let unfinished = DirSeed {
        flags: 1 | 2 | 4 | 8,
        app: before.app.clone(),
        record: after.record.clone(),
        snapshot: before.snapshot.clone(),
        archive: after.archive.clone(),
    };
    open.seed("valid-frame-not-replaced", &unfinished.encode());
    // A crash in the middle of the frame.
    let torn = DirSeed {
        archive: after.archive[..(before.archive.len() + after.archive.len()) / 2].to_vec(),
        ..unfinished
    };
    open.seed("valid-torn-frame", &torn.encode());
    let torn_tail = DirSeed {
        flags: 1 | 16 | 32,
        app: [lines(&all), b"{\"type\":\"torn".to_vec()].concat(),
        ..DirSeed::default()
    };
    open.seed("valid-torn-tail-rotate-on-open", &torn_tail.encode());
    let malformed = DirSeed {
        flags: 1,
        app: b"{\"type\":\"a\",\"data\":1,\"ts\":1}\nnot json\n".to_vec(),
        ..DirSeed::default()
    };
    open.seed("invalid-malformed-line", &malformed.encode());
    open.seed("empty-dir", &[0]);
}
