//! Rotations interrupted at the two steps that leave the files disagreeing: while appending
//! to the archive, and after it, before app.jsonl was replaced. Readers read every event once.

mod common;

use common::{T0, event, line, run, scrub};
use eventfold::EventLog;

/// A directory whose second rotation was interrupted after its frames reached the archive:
/// app.jsonl still holds what they hold. Returns every event's line.
fn interrupted(dir: &std::path::Path) -> Vec<String> {
    let events: Vec<_> = (0..5)
        .map(|n| event("tick", n, T0 + n, &format!("e{n}"), None))
        .collect();
    let mut log = EventLog::open(dir).unwrap();
    for (i, e) in events.iter().enumerate() {
        log.append(e).unwrap();
        if i == 2 {
            log.rotate().unwrap();
        }
    }
    let active = std::fs::read(dir.join("app.jsonl")).unwrap();
    log.rotate().unwrap();
    drop(log);
    std::fs::write(dir.join("app.jsonl"), active).unwrap();
    events.iter().map(line).collect()
}

fn all(lines: &[String]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[test]
fn app_jsonl_not_yet_replaced_is_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let lines = interrupted(dir.path());
    let verify = run(dir.path(), &["verify"]);
    assert_eq!(verify.code, 0, "{}", verify.stderr);
    let out: Vec<&str> = verify.stdout.lines().collect();
    assert!(
        out[0].starts_with(
            "warning[rotation] rotation.json: a rotation was interrupted after appending "
        ),
        "{}",
        out[0]
    );
    assert!(out[0].ends_with(
        "bytes to the archive: app.jsonl is a copy of what it archived, which readers do not read \
         twice; the next writer finishes the rotation"
    ));
    assert_eq!(
        out[1],
        "ok: 0 errors, 1 warnings in 5 events, 2 archive frames (285 bytes decompressed), 0 bytes \
         of app.jsonl, 0 snapshots"
    );
    assert_eq!(run(dir.path(), &["log"]).stdout, all(&lines));
    assert_eq!(run(dir.path(), &["export"]).stdout, all(&lines));
    let info = scrub(&run(dir.path(), &["info"]).stdout, dir.path());
    assert!(info.contains("app.jsonl           114 bytes, 2 events (a copy of the archive's last frame: not read)\n"), "{info}");
    assert!(info.contains("events              5\n"), "{info}");
    assert!(
        info.contains(
            "rotation            active-not-replaced (archived 114 bytes of app.jsonl into "
        ),
        "{info}"
    );
}

#[test]
fn an_archive_append_cut_short_is_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let lines = interrupted(dir.path());
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("rotation.json")).unwrap()).unwrap();
    let before = record["archive_len_before"].as_u64().unwrap();
    let frame_len = record["frame_len"].as_u64().unwrap();
    let archive = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join("archive.jsonl.zst"))
        .unwrap();
    archive.set_len(before + frame_len / 2).unwrap();

    let verify = run(dir.path(), &["verify"]);
    assert_eq!(verify.code, 0, "{}", verify.stderr);
    let out: Vec<&str> = verify.stdout.lines().collect();
    assert_eq!(
        out[0],
        format!(
            "warning[rotation] rotation.json: a rotation was interrupted while appending to the \
             archive: its last {} bytes are part of a frame of {frame_len} bytes, which readers \
             leave out and the next writer cuts off; app.jsonl still holds every event",
            frame_len / 2
        )
    );
    assert_eq!(
        out[1],
        "ok: 0 errors, 1 warnings in 5 events, 1 archive frames (171 bytes decompressed), 114 bytes \
         of app.jsonl, 0 snapshots"
    );
    assert_eq!(run(dir.path(), &["log"]).stdout, all(&lines));
    let info = run(dir.path(), &["info"]).stdout;
    assert!(
        info.contains("rotation            archive-incomplete "),
        "{info}"
    );
    // The quick check walks only the frames the record says are complete.
    assert_eq!(run(dir.path(), &["verify", "--quick"]).code, 0);
}

/// A `rotation.json` that is not a record is a finding of `verify` and shown by `info`; the
/// events are read as if it were absent, and the next append removes it.
#[test]
fn a_rotation_record_that_is_not_one_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = EventLog::open(dir.path()).unwrap();
    let first = event("tick", 0, T0, "e0", None);
    log.append(&first).unwrap();
    log.rotate().unwrap();
    drop(log);
    std::fs::write(dir.path().join("rotation.json"), "not json").unwrap();

    let verify = run(dir.path(), &["verify"]);
    assert_eq!(verify.code, 1, "{}", verify.stdout);
    assert!(
        verify.stdout.starts_with(
            "error[rotation] rotation.json: it is not a rotation record (expected ident at line 1 \
             column 2)"
        ),
        "{}",
        verify.stdout
    );
    let info = run(dir.path(), &["info"]).stdout;
    assert!(
        info.contains(
            "rotation            unreadable: rotation.json is not a rotation record (expected \
             ident at line 1 column 2)\n"
        ),
        "{info}"
    );
    let json = run(dir.path(), &["--json", "info"]).stdout;
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["rotation"]["state"], "unreadable");
    assert!(
        json["rotation"]["error"]
            .as_str()
            .unwrap()
            .contains("expected ident")
    );
    assert_eq!(run(dir.path(), &["log"]).stdout, all(&[line(&first)]));

    let mut log = EventLog::open(dir.path()).unwrap();
    log.append(&event("tick", 1, T0 + 1, "e1", None)).unwrap();
    drop(log);
    assert!(!dir.path().join("rotation.json").exists());
    assert_eq!(run(dir.path(), &["verify"]).code, 0);
}
