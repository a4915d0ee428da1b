//! A todo list on the command line, and the smallest complete eventfold app.
//!
//! ```text
//! cargo run --example todo_cli -- add buy milk
//! cargo run --example todo_cli -- done 1
//! cargo run --example todo_cli -- list
//! cargo run --example todo_cli -- --dir /tmp/todos list
//! ```
//!
//! Each run appends at most one event to `./data/app.jsonl` (or `--dir DIR`) and prints the
//! state folded from every event so far, so the list survives between runs.

use eventfold::{Event, EventLog};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::process::ExitCode;

const USAGE: &str = "usage: todo_cli [--dir DIR] (add <text>... | done <id> | list)";

/// The state: what `list` shows. It is derived from the events, never edited directly (the
/// snapshot in `views/` is only a cache of it).
#[derive(Default, Clone, Serialize, Deserialize)]
struct Todos {
    items: Vec<Todo>,
}

#[derive(Clone, Serialize, Deserialize)]
struct Todo {
    id: u64,
    text: String,
    done: bool,
}

/// The reducer gives events their meaning. Ids are positions (1, 2, ...), so they are
/// deterministic. Unknown types and malformed payloads are ignored.
fn reduce(mut todos: Todos, event: &Event) -> Todos {
    match event.event_type.as_str() {
        "todo_added" => {
            let text = event.data["text"].as_str().unwrap_or_default().to_string();
            let id = todos.items.len() as u64 + 1;
            todos.items.push(Todo {
                id,
                text,
                done: false,
            });
        }
        "todo_done" => {
            let id = event.data["id"].as_u64();
            if let Some(todo) = todos.items.iter_mut().find(|t| Some(t.id) == id) {
                todo.done = true;
            }
        }
        _ => {}
    }
    todos
}

enum Command {
    Add(String),
    Done(u64),
    List,
}

/// Reads `[--dir DIR] COMMAND ARGS...`, or says what is wrong with it.
fn parse(mut args: Vec<String>) -> Result<(String, Command), String> {
    let mut dir = String::from("./data");
    if let Some(i) = args.iter().position(|a| a == "--dir") {
        if i + 1 == args.len() {
            return Err("--dir needs a directory".into());
        }
        dir = args.remove(i + 1);
        args.remove(i);
    }
    let command = match args.first().map(String::as_str) {
        Some("add") if args.len() > 1 => Command::Add(args[1..].join(" ")),
        Some("done") if args.len() == 2 => match args[1].parse() {
            Ok(id) => Command::Done(id),
            Err(_) => return Err(format!("not a todo id: {:?}", args[1])),
        },
        Some("list") if args.len() == 1 => Command::List,
        Some(cmd @ ("add" | "done" | "list")) => return Err(format!("wrong arguments for {cmd}")),
        Some(other) => return Err(format!("unknown command {other:?}")),
        None => return Err("no command given".into()),
    };
    Ok((dir, command))
}

fn main() -> ExitCode {
    let (dir, command) = match parse(std::env::args().skip(1).collect()) {
        Ok(parsed) => parsed,
        Err(problem) => {
            // Bad arguments: say why, show the usage, exit with code 2.
            eprintln!("todo_cli: {problem}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&dir, command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("todo_cli: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(dir: &str, command: Command) -> std::io::Result<ExitCode> {
    // Opening registers the view; refresh_all folds what earlier runs appended (from the
    // view's snapshot on, so a long history is not re-read every time).
    let mut log = EventLog::builder(dir)
        .view::<Todos>("todos", reduce)
        .open()?;
    log.refresh_all()?;
    let event = match command {
        Command::Add(text) => Some(Event::new("todo_added", json!({ "text": text }))),
        Command::Done(id) => {
            // Check a command against the current state before recording it as a fact.
            if !log.view::<Todos>("todos")?.items.iter().any(|t| t.id == id) {
                eprintln!("todo_cli: there is no todo #{id}");
                return Ok(ExitCode::FAILURE);
            }
            Some(Event::new("todo_done", json!({ "id": id })))
        }
        Command::List => None,
    };
    if let Some(event) = event {
        log.append(&event)?; // synced to disk when it returns
        log.refresh_all()?; // folds just that one event
    }
    let todos = log.view::<Todos>("todos")?;
    for todo in &todos.items {
        let mark = if todo.done { 'x' } else { ' ' };
        println!("[{mark}] #{} {}", todo.id, todo.text);
    }
    let open = todos.items.iter().filter(|t| !t.done).count();
    println!("{open} open, {} done", todos.items.len() - open);
    Ok(ExitCode::SUCCESS)
}
// Expected output of a fresh `./data`:
//
// $ cargo run --example todo_cli -- add buy milk
// [ ] #1 buy milk
// 1 open, 0 done
// $ cargo run --example todo_cli -- add call the plumber
// [ ] #1 buy milk
// [ ] #2 call the plumber
// 2 open, 0 done
// $ cargo run --example todo_cli -- done 1
// [x] #1 buy milk
// [ ] #2 call the plumber
// 1 open, 1 done
// $ cargo run --example todo_cli -- done two          (exit code 2, on stderr)
// todo_cli: not a todo id: "two"
// usage: todo_cli [--dir DIR] (add <text>... | done <id> | list)
