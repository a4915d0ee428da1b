//! Fixtures for the command's integration tests: directories written by the library, a way to
//! run the binary, and a record of a directory's files to prove a command changed nothing.

#![allow(dead_code)]

use assert_cmd::Command;
use eventfold::{Event, EventLog, EventRef};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// 2026-01-01T00:00:00Z.
pub const T0: u64 = 1_767_225_600;

/// An event with a fixed timestamp, so that lines and positions are the same on every run.
pub fn event(kind: &str, n: u64, ts: u64, id: &str, actor: Option<&str>) -> Event {
    Event {
        event_type: kind.to_string(),
        data: json!({ "n": n }),
        ts,
        id: Some(id.to_string()),
        actor: actor.map(str::to_string),
        meta: None,
    }
}

/// Counts events.
pub fn count(n: u64, _event: &Event) -> u64 {
    n + 1
}

/// Counts events per type.
pub fn types(mut counts: BTreeMap<String, u64>, event: &EventRef<'_>) -> BTreeMap<String, u64> {
    *counts.entry(event.event_type().to_string()).or_default() += 1;
    counts
}

/// Opens `dir` with the two views the fixtures use.
pub fn open(dir: &Path) -> EventLog {
    EventLog::builder(dir)
        .view::<u64>("count", count)
        .view_ref::<BTreeMap<String, u64>>("types", types)
        .open()
        .expect("open the fixture log")
}

/// The seven events of the healthy fixture, in order: three archived by a first rotation,
/// two by a second, two in the active log.
pub fn healthy_events() -> Vec<Event> {
    vec![
        event("todo_added", 0, T0, "e0", Some("ann")),
        event("todo_added", 1, T0 + 60, "e1", Some("bob")),
        event("todo_done", 0, T0 + 120, "e2", Some("ann")),
        event("todo_added", 2, T0 + 3600, "e3", Some("ann")),
        event("note", 3, T0 + 3660, "e4", None),
        event("todo_done", 1, T0 + 86_400, "e5", Some("bob")),
        event("todo_added", 4, T0 + 86_460, "e6", Some("ann")),
    ]
}

/// A healthy directory with two rotations behind it and both views refreshed.
pub fn healthy(dir: &Path) -> EventLog {
    let events = healthy_events();
    let mut log = open(dir);
    for (i, event) in events.iter().enumerate() {
        log.append(event).unwrap();
        if i == 2 || i == 4 {
            log.rotate().unwrap();
        }
    }
    log.refresh_all().unwrap();
    log
}

/// The line of `event` as eventfold writes it.
pub fn line(event: &Event) -> String {
    serde_json::to_string(event).unwrap()
}

/// What running the command gave.
#[derive(Debug)]
pub struct Run {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

/// Runs `eventfold -C dir ARGS...` without colors.
pub fn run(dir: &Path, args: &[&str]) -> Run {
    let output = Command::cargo_bin("eventfold")
        .unwrap()
        .arg("-C")
        .arg(dir)
        .args(args)
        .env_remove("EVENTFOLD_DIR")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    Run {
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
        code: output.status.code().unwrap_or(-1),
    }
}

/// Every file and directory under `dir`, with its length and modification time.
pub fn listing(dir: &Path) -> BTreeMap<PathBuf, (u64, SystemTime)> {
    let mut found = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            let path = entry.path();
            if meta.is_dir() {
                stack.push(path.clone());
            }
            found.insert(path, (meta.len(), meta.modified().unwrap()));
        }
    }
    found
}

/// `text` with the directory's path replaced by `DIR`.
pub fn scrub(text: &str, dir: &Path) -> String {
    text.replace(&dir.display().to_string(), "DIR")
}

/// Writes `lines` (each without its newline) as the active log of a new directory, opens a
/// writer on it and rotates, so that they become the archive's first frame; returns the
/// writer.
pub fn archive_lines(dir: &Path, lines: &[String]) -> eventfold::EventWriter {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.join("app.jsonl"), text).unwrap();
    let mut writer = eventfold::EventWriter::open(dir).unwrap();
    let reader = writer.reader();
    writer
        .rotate(&reader, &mut std::collections::HashMap::new())
        .unwrap();
    writer
}

/// Appends raw bytes to the active log, as a program other than eventfold might.
pub fn append_raw(dir: &Path, bytes: &[u8]) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("app.jsonl"))
        .unwrap();
    file.write_all(bytes).unwrap();
}
