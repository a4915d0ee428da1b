//! One log, two views: the same todo events read by two reducers that want different things.
//!
//! ```text
//! cargo run --example multi_view              # uses ./data-multi_view (emptied first)
//! cargo run --example multi_view -- DIR       # uses DIR, which must be empty or absent
//! ```
//!
//! - `todos` keeps the current list: which items exist and which are done.
//! - `stats` keeps counters only: how many todos were ever added and completed, and the
//!   completion rate. It never looks at the text of a todo, and it still counts a todo that was
//!   later deleted: history is not the same thing as current state.
//!
//! Each view has its own snapshot file and its own position in the log; `refresh_all` brings
//! both up to date from one append-only file.

use eventfold::{Event, EventLog, snapshot};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::error::Error;
use std::path::PathBuf;

// ---------------------------------------------------------------------------------------------
// View 1: the current todo list.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Todos {
    items: Vec<Todo>,
    next_id: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Todo {
    id: u64,
    text: String,
    done: bool,
}

fn todos_reducer(mut state: Todos, event: &Event) -> Todos {
    let id = event.data["id"].as_u64();
    match event.event_type.as_str() {
        "todo_added" => {
            state.next_id += 1;
            state.items.push(Todo {
                id: state.next_id,
                text: event.data["text"].as_str().unwrap_or_default().to_string(),
                done: false,
            });
        }
        "todo_completed" => {
            if let Some(todo) = state.items.iter_mut().find(|t| Some(t.id) == id) {
                todo.done = true;
            }
        }
        "todo_deleted" => state.items.retain(|t| Some(t.id) != id),
        _ => {}
    }
    state
}

// ---------------------------------------------------------------------------------------------
// View 2: statistics. Only two event types matter to it; everything else falls through.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Stats {
    total_added: u64,
    total_completed: u64,
}

impl Stats {
    /// Completed todos as a percentage of all todos ever added.
    fn completion_rate(&self) -> f64 {
        if self.total_added == 0 {
            0.0
        } else {
            100.0 * self.total_completed as f64 / self.total_added as f64
        }
    }
}

fn stats_reducer(mut state: Stats, event: &Event) -> Stats {
    match event.event_type.as_str() {
        "todo_added" => state.total_added += 1,
        "todo_completed" => state.total_completed += 1,
        _ => {} // deletions do not change history
    }
    state
}

// ---------------------------------------------------------------------------------------------
// The program.
// ---------------------------------------------------------------------------------------------

fn main() -> Result<(), Box<dyn Error>> {
    let dir = data_dir("./data-multi_view")?;
    let mut log = EventLog::builder(&dir)
        .view::<Todos>("todos", todos_reducer)
        .view::<Stats>("stats", stats_reducer)
        .open()?;

    // Monday: five todos, three of them done. Ids are assigned by the todos reducer (1, 2, ...).
    println!("== after the first batch");
    for text in [
        "buy milk",
        "fix the bike",
        "write report",
        "call mom",
        "pay rent",
    ] {
        log.append(&Event::new("todo_added", json!({ "text": text })))?;
    }
    for id in [1, 3, 4] {
        log.append(&Event::new("todo_completed", json!({ "id": id })))?;
    }
    log.refresh_all()?;
    print_views(&log)?;

    // Tuesday: one todo is dropped, three are added, two completed. The refresh reads only these
    // six events: each view continues from the offset stored in its snapshot.
    println!("== after the second batch");
    log.append(&Event::new("todo_deleted", json!({ "id": 2 })))?;
    for text in ["book dentist", "clean garage", "renew passport"] {
        log.append(&Event::new("todo_added", json!({ "text": text })))?;
    }
    for id in [5, 6] {
        log.append(&Event::new("todo_completed", json!({ "id": id })))?;
    }
    log.refresh_all()?;
    print_views(&log)?;

    // Each view has its own snapshot: a file holding its state and how far it has read.
    println!("== snapshots in {}", log.views_dir().display());
    for name in ["todos", "stats"] {
        let path = log.views_dir().join(format!("{name}.snapshot.json"));
        let snap = snapshot::load::<serde_json::Value>(&path)?
            .ok_or_else(|| format!("{} is missing", path.display()))?;
        let size = std::fs::metadata(&path)?.len();
        println!(
            "{name}.snapshot.json: read up to byte {} of app.jsonl, {size} bytes on disk",
            snap.offset
        );
    }
    println!("app.jsonl: {} bytes", log.active_log_size()?);
    Ok(())
}

fn print_views(log: &EventLog) -> Result<(), Box<dyn Error>> {
    let todos = log.view::<Todos>("todos")?;
    for todo in &todos.items {
        let mark = if todo.done { 'x' } else { ' ' };
        println!("  [{mark}] #{} {}", todo.id, todo.text);
    }
    let stats = log.view::<Stats>("stats")?;
    println!(
        "  stats: {} added, {} completed, completion rate {:.1}%",
        stats.total_added,
        stats.total_completed,
        stats.completion_rate()
    );
    Ok(())
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

// Expected output (byte counts depend on the timestamps' width and may differ slightly):
//
// == after the first batch
//   [x] #1 buy milk
//   [ ] #2 fix the bike
//   [x] #3 write report
//   [x] #4 call mom
//   [ ] #5 pay rent
//   stats: 5 added, 3 completed, completion rate 60.0%
// == after the second batch
//   [x] #1 buy milk
//   [x] #3 write report
//   [x] #4 call mom
//   [x] #5 pay rent
//   [x] #6 book dentist
//   [ ] #7 clean garage
//   [ ] #8 renew passport
//   stats: 8 added, 5 completed, completion rate 62.5%
// == snapshots in ./data-multi_view/views
// todos.snapshot.json: read up to byte 888 of app.jsonl, 706 bytes on disk
// stats.snapshot.json: read up to byte 888 of app.jsonl, 114 bytes on disk
// app.jsonl: 888 bytes
