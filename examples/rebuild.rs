//! Changing a reducer, then rebuilding its view from the log.
//!
//! ```text
//! cargo run --example rebuild              # uses ./data-rebuild (emptied first)
//! cargo run --example rebuild -- DIR       # uses DIR, which must be empty or absent
//! ```
//!
//! Version 1 of the app keeps todos as plain text. Meanwhile a newer client has started to
//! append `todo_prioritized` events, which v1 ignores (as every reducer should ignore types it
//! does not know). Version 2 adds a `priority` field to each todo, `"normal"` unless an event
//! says otherwise.
//!
//! The v1 snapshot on disk knows nothing of priorities, so v2 cannot continue from it: the
//! events it ignored are behind its offset. `View::rebuild` deletes the snapshot and replays the
//! whole history through the new reducer. The log itself is never migrated or rewritten; it is
//! the truth, and snapshots are caches of what one reducer made of it.

use eventfold::{Event, EventLog, View};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::error::Error;
use std::path::PathBuf;

// ---------------------------------------------------------------------------------------------
// Version 1: text only.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct TodosV1 {
    items: Vec<TodoV1>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct TodoV1 {
    id: u64,
    text: String,
}

fn todos_v1(mut state: TodosV1, event: &Event) -> TodosV1 {
    if event.event_type == "todo_added" {
        state.items.push(TodoV1 {
            id: state.items.len() as u64 + 1,
            text: event.data["text"].as_str().unwrap_or_default().to_string(),
        });
    }
    state // `todo_prioritized` and any other type: ignored
}

// ---------------------------------------------------------------------------------------------
// Version 2: text and priority.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct TodosV2 {
    items: Vec<TodoV2>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct TodoV2 {
    id: u64,
    text: String,
    priority: String,
}

fn todos_v2(mut state: TodosV2, event: &Event) -> TodosV2 {
    match event.event_type.as_str() {
        "todo_added" => state.items.push(TodoV2 {
            id: state.items.len() as u64 + 1,
            text: event.data["text"].as_str().unwrap_or_default().to_string(),
            // Events written before priorities existed have none: they get the default.
            priority: event.data["priority"]
                .as_str()
                .unwrap_or("normal")
                .to_string(),
        }),
        "todo_prioritized" => {
            let id = event.data["id"].as_u64();
            if let (Some(todo), Some(priority)) = (
                state.items.iter_mut().find(|t| Some(t.id) == id),
                event.data["priority"].as_str(),
            ) {
                todo.priority = priority.to_string();
            }
        }
        _ => {}
    }
    state
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = data_dir("./data-rebuild")?;

    // --- The v1 app: appends events and keeps its `todos` view up to date. ------------------
    {
        let mut log = EventLog::builder(&dir)
            .view::<TodosV1>("todos", todos_v1)
            .open()?;
        log.append(&Event::new("todo_added", json!({ "text": "buy milk" })))?;
        log.append(&Event::new("todo_added", json!({ "text": "file taxes" })))?;
        // Written by a newer client; the v1 reducer does not know this type and skips it.
        log.append(&Event::new(
            "todo_prioritized",
            json!({ "id": 2, "priority": "high" }),
        ))?;
        log.append(&Event::new("todo_added", json!({ "text": "water plants" })))?;
        log.refresh_all()?; // saves views/todos.snapshot.json in the v1 shape

        println!("v1 state (text only):");
        for todo in &log.view::<TodosV1>("todos")?.items {
            println!("  #{} {}", todo.id, todo.text);
        }
        println!("v1 snapshot, first item: {}", snapshot_items(&log)?);
    } // the log is closed here, releasing its lock: the v1 app has exited

    // --- The v2 app: same directory, same view name, new reducer and state type. ------------
    // A standalone `View` is used here because `rebuild` is a method of the view itself. It
    // points at the same snapshot file as the registered view did.
    let log = EventLog::open(&dir)?;
    let mut todos = View::<TodosV2>::new("todos", todos_v2, log.views_dir());
    // Delete the v1 snapshot and replay everything (archive, if any, then app.jsonl).
    todos.rebuild(&log.reader())?;
    println!("v2 state after rebuild():");
    print_v2(todos.state());
    println!("v2 snapshot, first item: {}", snapshot_items(&log)?);
    drop(todos);
    drop(log);

    // --- From now on the v2 view is registered as usual and continues from its snapshot. ----
    let mut log = EventLog::builder(&dir)
        .view::<TodosV2>("todos", todos_v2)
        .open()?;
    log.append(&Event::new(
        "todo_added",
        json!({ "text": "renew passport", "priority": "low" }),
    ))?;
    log.refresh_all()?; // folds only the event just appended
    println!("v2 state after one more event:");
    print_v2(log.view::<TodosV2>("todos")?);
    Ok(())
}

fn print_v2(state: &TodosV2) {
    for todo in &state.items {
        println!("  #{} {} [{}]", todo.id, todo.text, todo.priority);
    }
}

/// The first todo of the snapshot file, as compact JSON: the state shape that is on disk.
fn snapshot_items(log: &EventLog) -> Result<String, Box<dyn Error>> {
    let path = log.views_dir().join("todos.snapshot.json");
    let snapshot: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)?;
    Ok(serde_json::to_string(&snapshot["state"]["items"][0])?)
}

/// The log directory: the first argument, or `default`. The example wants to start from an
/// empty log so that it prints the same thing every time: the default directory is removed
/// first, and a directory given on the command line must be empty or not exist yet.
fn data_dir(default: &str) -> Result<PathBuf, Box<dyn Error>> {
    match std::env::args_os().nth(1) {
        Some(arg) => {
            let dir = PathBuf::from(arg);
            if dir.exists() && dir.read_dir()?.next().is_some() {
                return Err(format!("{} is not empty; name a new directory", dir.display()).into());
            }
            Ok(dir)
        }
        None => {
            let dir = PathBuf::from(default);
            if dir.exists() {
                std::fs::remove_dir_all(&dir)?;
            }
            Ok(dir)
        }
    }
}

// Expected output:
//
// v1 state (text only):
//   #1 buy milk
//   #2 file taxes
//   #3 water plants
// v1 snapshot, first item: {"id":1,"text":"buy milk"}
// v2 state after rebuild():
//   #1 buy milk [normal]
//   #2 file taxes [high]
//   #3 water plants [normal]
// v2 snapshot, first item: {"id":1,"priority":"normal","text":"buy milk"}
// v2 state after one more event:
//   #1 buy milk [normal]
//   #2 file taxes [high]
//   #3 water plants [normal]
//   #4 renew passport [low]
