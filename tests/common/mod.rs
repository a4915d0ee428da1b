//! Shared fixtures for the integration tests.
//!
//! Besides small constructors, this module holds the reference model every read path is
//! checked against: a plain `Vec<Event>` folded with `Iterator::fold`. No file, offset or
//! snapshot is involved in the model, so any disagreement points at the log machinery.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use eventfold::{AppendResult, Event, EventLog, EventReader, Snapshot, snapshot};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tempfile::TempDir;

/// Timestamp given to every fixture event, so serialized lines are reproducible.
pub const FIXED_TS: u64 = 1_700_000_000;

/// A fresh, empty directory that is removed when the returned guard is dropped.
pub fn test_dir() -> TempDir {
    tempfile::tempdir().expect("could not create a temporary directory")
}

/// An event of the given type with a tiny payload and the fixed timestamp.
pub fn dummy_event(event_type: &str) -> Event {
    Event {
        event_type: event_type.to_string(),
        data: json!({"k": "v"}),
        ts: FIXED_TS,
        id: None,
        actor: None,
        meta: None,
    }
}

/// An event whose payload carries `n`, so that every `n` gives a distinct line (and hash).
pub fn numbered_event(event_type: &str, n: u64) -> Event {
    Event {
        event_type: event_type.to_string(),
        data: json!({"n": n}),
        ts: FIXED_TS + n,
        id: None,
        actor: None,
        meta: None,
    }
}

/// `count` distinct events numbered from `first`, all of type `"tick"`.
pub fn numbered_events(first: u64, count: usize) -> Vec<Event> {
    (first..first + count as u64)
        .map(|n| numbered_event("tick", n))
        .collect()
}

/// Counts events, ignoring their content.
pub fn counter_reducer(state: u64, _event: &Event) -> u64 {
    state + 1
}

/// Adds up `data.n` of every event that has one.
pub fn sum_reducer(state: i64, event: &Event) -> i64 {
    state + event.data.get("n").and_then(Value::as_i64).unwrap_or(0)
}

/// Records every event as `type|data` in arrival order: equal traces mean the same events
/// were folded in the same order.
pub fn trace_reducer(mut state: Vec<String>, event: &Event) -> Vec<String> {
    state.push(format!("{}|{}", event.event_type, event.data));
    state
}

/// Counts events per type.
pub fn histogram_reducer(mut state: BTreeMap<String, u64>, event: &Event) -> BTreeMap<String, u64> {
    *state.entry(event.event_type.clone()).or_default() += 1;
    state
}

/// One entry of the todo list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Todo {
    pub id: u64,
    pub text: String,
    pub done: bool,
}

/// State of the todo example: the open and finished items plus the next id to hand out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TodoState {
    pub items: Vec<Todo>,
    pub next_id: u64,
}

/// Todo reducer: `todo_added {text}`, `todo_completed {id}`, `todo_removed {id}`; every
/// other event type is ignored.
pub fn todo_reducer(mut state: TodoState, event: &Event) -> TodoState {
    let id_in_data = || event.data.get("id").and_then(Value::as_u64);
    match event.event_type.as_str() {
        "todo_added" => {
            let text = event
                .data
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or_default();
            state.items.push(Todo {
                id: state.next_id,
                text: text.to_string(),
                done: false,
            });
            state.next_id += 1;
        }
        "todo_completed" => {
            if let Some(item) = state
                .items
                .iter_mut()
                .find(|item| Some(item.id) == id_in_data())
            {
                item.done = true;
            }
        }
        "todo_removed" => {
            let id = id_in_data();
            state.items.retain(|item| Some(item.id) != id);
        }
        _ => {}
    }
    state
}

pub fn todo_added(text: &str) -> Event {
    Event {
        data: json!({ "text": text }),
        ..dummy_event("todo_added")
    }
}

pub fn todo_completed(id: u64) -> Event {
    Event {
        data: json!({ "id": id }),
        ..dummy_event("todo_completed")
    }
}

pub fn todo_removed(id: u64) -> Event {
    Event {
        data: json!({ "id": id }),
        ..dummy_event("todo_removed")
    }
}

/// The reference model: fold `events` from `S::default()` with `f`, in memory.
pub fn fold_model<S: Default>(events: &[Event], f: fn(S, &Event) -> S) -> S {
    events.iter().fold(S::default(), f)
}

/// Append `n` distinct events (numbered `0..n`, type `"tick"`) and return them.
pub fn append_n(log: &mut EventLog, n: usize) -> Vec<Event> {
    let events = numbered_events(0, n);
    append_all(log, &events);
    events
}

/// Append every event in order and return the append results.
pub fn append_all(log: &mut EventLog, events: &[Event]) -> Vec<AppendResult> {
    events
        .iter()
        .map(|e| log.append(e).expect("append failed"))
        .collect()
}

/// Assert that `events` has exactly the given types, in order.
pub fn assert_events_eq(events: &[Event], expected_types: &[&str]) {
    let actual: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        actual, expected_types,
        "event types differ from the expected sequence"
    );
}

/// Every event of the active log, via `read_from(0)`.
pub fn read_active(reader: &EventReader) -> Vec<Event> {
    reader
        .read_from(0)
        .expect("read_from(0) failed")
        .map(|item| item.expect("read_from yielded an error").0)
        .collect()
}

/// Every event of archive + active log, via `read_full()`.
pub fn read_all(reader: &EventReader) -> Vec<Event> {
    reader
        .read_full()
        .expect("read_full failed")
        .map(|item| item.expect("read_full yielded an error").0)
        .collect()
}

/// Parse a JSONL file with nothing but `serde_json`, as an independent view of the bytes on
/// disk. Blank lines are skipped.
pub fn parse_jsonl_file(path: &Path) -> Vec<Event> {
    let text = fs::read_to_string(path).expect("could not read the log file");
    text.split('\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_str(line).expect("log line is not an event"))
        .collect()
}

/// Where the view called `name` keeps its snapshot.
pub fn snapshot_path(views_dir: &Path, name: &str) -> PathBuf {
    views_dir.join(format!("{name}.snapshot.json"))
}

/// Load the snapshot of view `name` of `log`, if there is a readable one.
pub fn load_snapshot<S: DeserializeOwned>(log: &EventLog, name: &str) -> Option<Snapshot<S>> {
    snapshot::load(&snapshot_path(log.views_dir(), name)).expect("snapshot load failed")
}

/// The line `event` is stored as, newline included.
pub fn line_of(event: &Event) -> String {
    format!(
        "{}\n",
        serde_json::to_string(event).expect("event serializes")
    )
}

/// The active log `events` make when appended to an empty log.
pub fn lines_of(events: &[Event]) -> String {
    events.iter().map(line_of).collect()
}

/// Append raw bytes to a file, as a crash or another program would leave them.
pub fn append_bytes(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    let mut file = fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("could not open the file to append to");
    file.write_all(bytes).expect("could not append");
}

/// The whole archive decompressed with nothing but the `zstd` crate (every frame, in order);
/// empty when there is no archive.
pub fn decompress_archive(path: &Path) -> Vec<u8> {
    match fs::File::open(path) {
        Ok(file) => zstd::stream::decode_all(file).expect("the archive does not decompress"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("could not open the archive: {e}"),
    }
}

/// The number of cases of a property test: `default`, or fewer when the environment variable
/// `EVENTFOLD_PROPTEST_CASES` caps it. scripts/windows-wine.sh caps them, since every file
/// operation under wine is a round trip to its server; everywhere else the full count runs.
pub fn proptest_cases(default: u32) -> u32 {
    std::env::var("EVENTFOLD_PROPTEST_CASES")
        .ok()
        .and_then(|cap| cap.parse::<u32>().ok())
        .map_or(default, |cap| default.min(cap))
}
