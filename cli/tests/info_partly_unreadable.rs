//! `info` on a directory part of which cannot be read: it shows every part it can, marks the
//! others unreadable with the reason, and exits 1.

mod common;

use common::{healthy, run, scrub};
use std::fs::OpenOptions;

/// The lines of the healthy fixture's `info` that no archive trouble changes.
const VIEWS: &str = "\
rotation            none
views
  count            current    offset 153  lag 0 events (0 bytes)  version 0
  types            current    offset 153  lag 0 events (0 bytes)  version 0
";

/// The archive index is a directory (which no one, root included, can read as a file): the
/// archive is described from the archive itself, as `verify` reads it, and only the index is
/// marked unreadable.
#[test]
fn an_unreadable_index_is_marked_and_the_archive_still_described() {
    let dir = tempfile::tempdir().unwrap();
    drop(healthy(dir.path()));
    let index = dir.path().join("archive.index.jsonl");
    std::fs::remove_file(&index).unwrap();
    std::fs::create_dir(&index).unwrap();
    assert_eq!(run(dir.path(), &["verify"]).code, 0);

    let out = run(dir.path(), &["info"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(
        scrub(&out.stdout, dir.path()),
        format!(
            "\
directory           DIR
app.jsonl           153 bytes, 2 events
archive.jsonl.zst   207 bytes, 2 frames (2 sealed), 5 events, 364 bytes decompressed
archive.index.jsonl unreadable: Is a directory (os error 21)
events              7
first ts            2026-01-01T00:00:00Z (1767225600)
last ts             2026-01-02T00:01:00Z (1767312060)
end position        517
{VIEWS}"
        )
    );

    let json = run(dir.path(), &["info", "--json"]);
    assert_eq!(json.code, 1, "{}", json.stderr);
    let info: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        info["archive.index.jsonl"]["error"],
        "Is a directory (os error 21)"
    );
    assert_eq!(info["archive.jsonl.zst"]["error"], serde_json::Value::Null);
    assert_eq!(info["archive.jsonl.zst"]["frames"], 2);
    assert_eq!(info["events"], 7);
    assert_eq!(info["end_position"], 517);
}

/// The archive's last frame is cut short: the archive is marked unreadable with the
/// decompressor's reason, what needs it (the event count, the end position) is unknown, and
/// the active log, the first `ts` (in the frame before the damage), the rotation and the views
/// are shown.
#[test]
fn an_archive_cut_short_is_marked_and_the_rest_shown() {
    let dir = tempfile::tempdir().unwrap();
    drop(healthy(dir.path()));
    let archive = dir.path().join("archive.jsonl.zst");
    let len = std::fs::metadata(&archive).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&archive)
        .unwrap()
        .set_len(len - 5)
        .unwrap();

    let out = run(dir.path(), &["info"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(
        scrub(&out.stdout, dir.path()),
        format!(
            "\
directory           DIR
app.jsonl           153 bytes, 2 events
archive.jsonl.zst   202 bytes, unreadable: cannot decompress the frame starting at byte 108: the \
archive ends inside a frame (94 bytes left over)
archive.index.jsonl 565 bytes
events              unknown (the archive cannot be read)
first ts            2026-01-01T00:00:00Z (1767225600)
last ts             2026-01-02T00:01:00Z (1767312060)
end position        unknown
{VIEWS}"
        )
    );

    let json = run(dir.path(), &["info", "--json"]);
    assert_eq!(json.code, 1, "{}", json.stderr);
    let info: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let archive = &info["archive.jsonl.zst"];
    assert_eq!(archive["len"], 202);
    assert_eq!(
        archive["error"],
        "cannot decompress the frame starting at byte 108: the archive ends inside a frame (94 \
         bytes left over)"
    );
    assert_eq!(archive["frames"], serde_json::Value::Null);
    assert_eq!(info["events"], serde_json::Value::Null);
    assert_eq!(info["end_position"], serde_json::Value::Null);
    assert_eq!(info["app.jsonl"]["events"], 2);
    assert_eq!(info["first"]["ts"], common::T0);
    assert_eq!(info["rotation"]["state"], "none");
    assert_eq!(info["views"].as_array().map(Vec::len), Some(2));
}
