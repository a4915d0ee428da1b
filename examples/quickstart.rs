//! Quickstart: the whole eventfold lifecycle in one program.
//!
//! ```text
//! cargo run --release --example quickstart            # uses ./data
//! cargo run --release --example quickstart -- /tmp/x # uses /tmp/x
//! ```
//!
//! What it does, in order:
//!
//! 1. Opens the log directory with two registered views: `todos` (the list of todo items) and
//!    `stats` (counters). Both are plain reducers, `fn(State, &Event) -> State`.
//! 2. Appends a few hundred `todo_added` / `todo_completed` / `todo_deleted` events and refreshes
//!    both views. A refresh folds only the events the view has not seen yet and saves a snapshot.
//! 3. Rotates: the active log `app.jsonl` is compressed into `archive.jsonl.zst` and emptied.
//! 4. Appends a few more events and refreshes again (now reading the fresh active log).
//! 5. Rebuilds each view from the full history (archive + active log) into a separate view and
//!    checks that it equals the incrementally maintained state. A mismatch exits non-zero.
//!
//! Running it again on the same directory continues the same history: the new events pick up
//! where the last run stopped, and every check is computed from what is on disk, never from
//! hard-coded totals.

use std::error::Error;
use std::path::PathBuf;
use std::time::Instant;

use eventfold::{Event, EventLog, View};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// How many todos the first batch adds (completions and deletions are interleaved with them).
const FIRST_BATCH_ADDS: u64 = 240;
/// How many todos the batch after the rotation adds.
const SECOND_BATCH_ADDS: u64 = 20;
/// Words the deterministic todo texts are made of.
const VERBS: [&str; 6] = ["buy", "fix", "write", "call", "clean", "review"];
const NOUNS: [&str; 7] = [
    "milk", "bike", "report", "plumber", "garage", "patch", "taxes",
];

// ---------------------------------------------------------------------------------------------
// State and reducers: this is the whole data model of the app.
// ---------------------------------------------------------------------------------------------

/// Current todo list, as the `todos` view sees it.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct TodoState {
    items: Vec<TodoItem>,
    /// The id the next `todo_added` event will receive.
    next_id: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TodoItem {
    id: u64,
    text: String,
    done: bool,
}

/// Counters, as the `stats` view sees them. It never looks at todo texts or ids.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct Stats {
    added: u64,
    completed: u64,
    deleted: u64,
    /// Every event folded, including types this reducer does not know.
    events: u64,
}

/// Folds one event into the todo list. Pure: no I/O, no clock, no randomness.
///
/// Events with an unknown type or a malformed payload are ignored, so old logs and logs written
/// by other programs never make the fold fail.
fn todo_reducer(mut state: TodoState, event: &Event) -> TodoState {
    match event.event_type.as_str() {
        "todo_added" => {
            if let Some(text) = event.data["text"].as_str() {
                state.items.push(TodoItem {
                    id: state.next_id,
                    text: text.to_string(),
                    done: false,
                });
                state.next_id += 1;
            }
        }
        "todo_completed" => {
            if let Some(id) = event.data["id"].as_u64()
                && let Some(item) = state.items.iter_mut().find(|item| item.id == id)
            {
                item.done = true;
            }
        }
        "todo_deleted" => {
            if let Some(id) = event.data["id"].as_u64() {
                state.items.retain(|item| item.id != id);
            }
        }
        _ => {} // unknown event types: ignore, for forward compatibility
    }
    state
}

/// Folds one event into the counters.
fn stats_reducer(mut state: Stats, event: &Event) -> Stats {
    match event.event_type.as_str() {
        "todo_added" => state.added += 1,
        "todo_completed" => state.completed += 1,
        "todo_deleted" => state.deleted += 1,
        _ => {}
    }
    state.events += 1;
    state
}

// ---------------------------------------------------------------------------------------------
// The program.
// ---------------------------------------------------------------------------------------------

fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("./data"));

    // 1. Open the directory (created if missing) and register both views. `open` only sets
    //    things up; views are brought up to date by an explicit refresh.
    let mut log = EventLog::builder(&dir)
        .view::<TodoState>("todos", todo_reducer)
        .view::<Stats>("stats", stats_reducer)
        .open()?;

    // Catch up with whatever earlier runs left in the directory. On a fresh directory this is a
    // no-op; otherwise each view loads its snapshot and folds only what came after it.
    log.refresh_all()?;
    let stats_at_start = log.view::<Stats>("stats")?.clone();
    println!(
        "opened {}: {} events from earlier runs",
        dir.display(),
        stats_at_start.events
    );

    // 2. Append a few hundred events, then refresh both views incrementally.
    let first_batch = todo_events(log.view::<TodoState>("todos")?.next_id, FIRST_BATCH_ADDS);
    let started = Instant::now();
    for event in &first_batch {
        log.append(event)?; // durable (synced) when it returns
    }
    println!(
        "appended {} events in {:.1?}",
        first_batch.len(),
        started.elapsed()
    );
    let started = Instant::now();
    log.refresh_all()?;
    println!("refreshed both views in {:.1?}", started.elapsed());
    print_states(&log)?;

    // 3. Rotate: views are refreshed first, then app.jsonl is compressed onto the end of
    //    archive.jsonl.zst and truncated. Snapshots stay valid; their offsets restart at 0.
    let started = Instant::now();
    log.rotate()?;
    println!(
        "rotated in {:.1?}: archive {} bytes, active log {} bytes",
        started.elapsed(),
        std::fs::metadata(log.archive_path())?.len(),
        log.active_log_size()?
    );

    // 4. Append a few more events; the next refresh reads them from the new active log.
    let second_batch = todo_events(log.view::<TodoState>("todos")?.next_id, SECOND_BATCH_ADDS);
    for event in &second_batch {
        log.append(event)?;
    }
    log.refresh_all()?;
    println!(
        "appended {} more events after the rotation",
        second_batch.len()
    );
    print_states(&log)?;

    // The counters must have moved by exactly what this run appended: this proves the
    // incremental refreshes saw every event, across the rotation.
    let appended: Vec<&Event> = first_batch.iter().chain(&second_batch).collect();
    let expected = appended
        .iter()
        .fold(stats_at_start, |stats, event| stats_reducer(stats, event));
    let actual = log.view::<Stats>("stats")?;
    if *actual != expected {
        return Err(
            format!("stats view missed events: expected {expected:?}, found {actual:?}").into(),
        );
    }

    // 5. Rebuild each view from the full history and compare with the incremental state.
    let started = Instant::now();
    let todos_match = rebuild_matches(&log, "todos", todo_reducer)?;
    let stats_match = rebuild_matches(&log, "stats", stats_reducer)?;
    println!(
        "rebuilt both views from archive + active log in {:.1?}",
        started.elapsed()
    );
    for (name, matches) in [("todos", todos_match), ("stats", stats_match)] {
        let verdict = if matches { "equals" } else { "DIFFERS FROM" };
        println!("{name}: full rebuild {verdict} the incrementally maintained state");
    }
    if !(todos_match && stats_match) {
        return Err("a view rebuilt from full history differs from its incremental state".into());
    }
    Ok(())
}

/// Makes a deterministic batch of events: `adds` new todos, every third one followed by the
/// completion of the todo added just before it, every seventh by the deletion of one added five
/// steps earlier. `first_id` is the id the todos reducer will give the first new todo, so
/// completions and deletions always name todos of this batch that still exist.
fn todo_events(first_id: u64, adds: u64) -> Vec<Event> {
    let mut events = Vec::new();
    for step in 0..adds {
        let id = first_id + step;
        let verb = VERBS[(id % VERBS.len() as u64) as usize];
        let noun = NOUNS[(id % NOUNS.len() as u64) as usize];
        events.push(Event::new(
            "todo_added",
            json!({ "text": format!("{verb} the {noun} (#{id})") }),
        ));
        if step % 3 == 2 {
            events.push(Event::new("todo_completed", json!({ "id": id - 1 })));
        }
        if step % 7 == 6 {
            events.push(Event::new("todo_deleted", json!({ "id": id - 5 })));
        }
    }
    events
}

/// Prints a one-line summary of each view plus the newest few todos.
fn print_states(log: &EventLog) -> Result<(), Box<dyn Error>> {
    let todos = log.view::<TodoState>("todos")?;
    let stats = log.view::<Stats>("stats")?;
    let done = todos.items.iter().filter(|item| item.done).count();
    println!(
        "  todos: {} items ({} done, {} open)",
        todos.items.len(),
        done,
        todos.items.len() - done
    );
    for item in todos.items.iter().rev().take(3) {
        let mark = if item.done { 'x' } else { ' ' };
        println!("    [{mark}] #{} {}", item.id, item.text);
    }
    println!(
        "  stats: {} added, {} completed, {} deleted ({} events in total)",
        stats.added, stats.completed, stats.deleted, stats.events
    );
    Ok(())
}

/// Replays the whole history (archive, then active log) through `reducer` in a fresh view and
/// reports whether the result equals the registered view `name`.
///
/// The check view gets its own name (`<name>_rebuilt`), so its snapshot file never touches the
/// snapshot of the registered view. `rebuild` deletes any snapshot left by a previous run first.
fn rebuild_matches<S>(
    log: &EventLog,
    name: &str,
    reducer: fn(S, &Event) -> S,
) -> Result<bool, Box<dyn Error>>
where
    S: Serialize + DeserializeOwned + Default + Clone + PartialEq + 'static,
{
    let mut check = View::new(&format!("{name}_rebuilt"), reducer, log.views_dir());
    let rebuilt = check.rebuild(&log.reader())?;
    Ok(rebuilt == log.view::<S>(name)?)
}
