//! Upcasting: old events read in their current shape, without touching the log.
//!
//! ```text
//! cargo run --example upcasting              # uses ./data-upcasting (emptied first)
//! cargo run --example upcasting -- DIR       # uses DIR, which must be empty or absent
//! ```
//!
//! Version 1 of a todo app wrote `todo_created` with a `title`, `todos_imported` for a batch,
//! and `todo_noted` with a `note`; version 2 writes one `todo_added` with a `text` per todo.
//! Upcasters registered on the builder rename, reshape and split the old events as they are
//! read, so the version 2 reducer handles one shape only. The files keep the old events as
//! they were written.
//!
//! The `todo_noted` upcaster is one of text (`Upcaster::reshape`): it reads the raw fields of
//! the borrowed event and writes the new `data` as JSON text, without an owned event, which
//! is the fast way when many events need reshaping.

use eventfold::{Event, EventLog, EventRef, Reshaped, Upcaster};
use serde_json::json;
use std::error::Error;
use std::path::PathBuf;

/// The version 2 reducer: knows `todo_added` only.
fn texts(mut texts: Vec<String>, event: &EventRef<'_>) -> Vec<String> {
    if event.event_type() == "todo_added" {
        texts.extend(event.data_str("text").map(String::from));
    }
    texts
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = data_dir("data-upcasting")?;

    // Version 1 writes its events, and a rotation moves them into the archive.
    let mut v1 = EventLog::open(&dir)?;
    v1.append(&Event::new("todo_created", json!({ "title": "buy milk" })))?;
    v1.append(&Event::new(
        "todos_imported",
        json!({ "titles": ["call mum", "pay rent"] }),
    ))?;
    v1.append(&Event::new(
        "todo_noted",
        json!({ "note": "fix the \"door\"" }),
    ))?;
    v1.rotate()?;
    drop(v1);

    // Version 2 registers upcasters for the old shapes.
    let mut log = EventLog::builder(&dir)
        .upcaster(Upcaster::map("todo_created", |mut event| {
            event.event_type = "todo_added".into();
            event.data = json!({ "text": event.data["title"] });
            event
        }))
        .upcaster(Upcaster::new("todos_imported", |event: Event| {
            let titles = event.data["titles"]
                .as_array()
                .ok_or("`titles` is not a list")?;
            let added = |title: &serde_json::Value| Event {
                event_type: "todo_added".into(),
                data: json!({ "text": title }),
                ..event.clone()
            };
            Ok::<_, &str>(titles.iter().map(added).collect())
        }))
        .upcaster(Upcaster::reshape("todo_noted", |event| {
            // The note's raw JSON text (a string, quotes and escapes included) becomes the text.
            let note = event.data_field("note").ok_or("no `note`")?;
            let data = format!(r#"{{"text":{note}}}"#);
            Ok::<_, &str>(Reshaped::new().event_type("todo_added").data(data))
        }))
        .view_ref::<Vec<String>>("texts", texts)
        .open()?;
    log.append(&Event::new("todo_added", json!({ "text": "water plants" })))?;
    log.refresh_all()?;

    println!("todos, as version 2 sees them:");
    for text in log.view::<Vec<String>>("texts")? {
        println!("  {text}");
    }
    println!("stored events (the files are unchanged):");
    for event in log.read_full()? {
        let (event, _) = event?;
        println!("  {} {}", event.event_type, event.data);
    }
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

// Expected output:
//
// todos, as version 2 sees them:
//   buy milk
//   call mum
//   pay rent
//   fix the "door"
//   water plants
// stored events (the files are unchanged):
//   todo_created {"title":"buy milk"}
//   todos_imported {"titles":["call mum","pay rent"]}
//   todo_noted {"note":"fix the \"door\""}
//   todo_added {"text":"water plants"}
