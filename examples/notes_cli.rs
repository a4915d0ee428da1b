//! Tagged notes on the command line: two views over one log.
//!
//! ```text
//! cargo run --example notes_cli -- add "call the bank" --tag money --tag phone
//! cargo run --example notes_cli -- list
//! cargo run --example notes_cli -- list --tag money
//! cargo run --example notes_cli -- tags
//! cargo run --example notes_cli -- --dir /tmp/notes list
//! ```
//!
//! Every `add` appends one `note_added` event to `./data/app.jsonl` (or `--dir DIR`). Two views
//! read the same events and keep different shapes of state:
//!
//! - `notes`: the notes themselves (id, text, tags), for `list`;
//! - `tags`: per-tag statistics (how many notes, first and last note using the tag), for `tags`.
//!
//! Neither view stores anything the other needs, and neither is ever written by hand: both are
//! folds over the log, cached in `views/notes.snapshot.json` and `views/tags.snapshot.json`.

use eventfold::{Event, EventLog};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::process::ExitCode;

const USAGE: &str = "\
usage: notes_cli [--dir DIR] <command>
commands:
  add <text>... [--tag TAG]...   add a note with zero or more tags
  list [--tag TAG]               list all notes, or only those tagged TAG
  tags                           tag statistics, most used first";

// ---------------------------------------------------------------------------------------------
// The `notes` view: the entities the user works with.
// ---------------------------------------------------------------------------------------------

#[derive(Default, Clone, Serialize, Deserialize)]
struct Notes {
    notes: Vec<Note>,
}

#[derive(Clone, Serialize, Deserialize)]
struct Note {
    id: u64,
    text: String,
    tags: Vec<String>,
}

fn notes_reducer(mut state: Notes, event: &Event) -> Notes {
    if event.event_type == "note_added" {
        state.notes.push(Note {
            id: state.notes.len() as u64 + 1,
            text: event.data["text"].as_str().unwrap_or_default().to_string(),
            tags: tags_of(event),
        });
    }
    state
}

// ---------------------------------------------------------------------------------------------
// The `tags` view: an aggregate keyed by tag, a different entity built from the same events.
// ---------------------------------------------------------------------------------------------

#[derive(Default, Clone, Serialize, Deserialize)]
struct TagStats {
    tags: BTreeMap<String, TagUse>,
    /// Notes added without any tag.
    untagged: u64,
    /// Every note this view has seen, to tell what share of them each tag covers.
    notes_seen: u64,
}

#[derive(Clone, Serialize, Deserialize)]
struct TagUse {
    notes: u64,
    /// Id of the first and of the latest note carrying the tag. The view derives note ids the
    /// same way as `notes_reducer` (positions), so they match what `list` prints.
    first_note: u64,
    last_note: u64,
}

fn tags_reducer(mut state: TagStats, event: &Event) -> TagStats {
    if event.event_type == "note_added" {
        state.notes_seen += 1;
        let id = state.notes_seen;
        let tags = tags_of(event);
        if tags.is_empty() {
            state.untagged += 1;
        }
        for tag in tags {
            let entry = state.tags.entry(tag).or_insert(TagUse {
                notes: 0,
                first_note: id,
                last_note: id,
            });
            entry.notes += 1;
            entry.last_note = id;
        }
    }
    state
}

/// The tags of a `note_added` event; anything that is not a list of strings counts as no tags.
fn tags_of(event: &Event) -> Vec<String> {
    let Some(tags) = event.data["tags"].as_array() else {
        return Vec::new();
    };
    tags.iter()
        .filter_map(|t| t.as_str().map(str::to_string))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Command line.
// ---------------------------------------------------------------------------------------------

enum Command {
    Add { text: String, tags: Vec<String> },
    List { tag: Option<String> },
    Tags,
}

/// Parses the arguments into a data directory and a command, or says what is wrong.
fn parse(args: Vec<String>) -> Result<(String, Command), String> {
    let mut dir = String::from("./data");
    let mut tags: Vec<String> = Vec::new();
    let mut words = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--dir" => dir = args.next().ok_or("--dir needs a directory")?,
            "--tag" => {
                let tag = args.next().ok_or("--tag needs a tag name")?;
                // Tags are case-insensitive and trimmed, so `Work` and ` work` are one tag.
                let tag = tag.trim().to_lowercase();
                if tag.is_empty() || tag.starts_with("--") {
                    return Err(format!("not a tag name: {tag:?}"));
                }
                if !tags.contains(&tag) {
                    tags.push(tag);
                }
            }
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            _ => words.push(arg),
        }
    }
    let command = match words.first().map(String::as_str) {
        Some("add") if words.len() > 1 => Command::Add {
            text: words[1..].join(" "),
            tags,
        },
        Some("add") => return Err("add needs the text of the note".into()),
        Some("list") if words.len() == 1 && tags.len() <= 1 => Command::List { tag: tags.pop() },
        Some("list") => return Err("list takes at most one --tag and no other argument".into()),
        Some("tags") if words.len() == 1 && tags.is_empty() => Command::Tags,
        Some("tags") => return Err("tags takes no argument".into()),
        Some(other) => return Err(format!("unknown command {other:?}")),
        None => return Err("no command given".into()),
    };
    Ok((dir, command))
}

fn main() -> ExitCode {
    let (dir, command) = match parse(std::env::args().skip(1).collect()) {
        Ok(parsed) => parsed,
        Err(problem) => {
            eprintln!("notes_cli: {problem}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&dir, command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("notes_cli: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(dir: &str, command: Command) -> std::io::Result<()> {
    let mut log = EventLog::builder(dir)
        .view::<Notes>("notes", notes_reducer)
        .view::<TagStats>("tags", tags_reducer)
        .open()?;

    if let Command::Add { text, tags } = &command {
        log.append(&Event::new(
            "note_added",
            json!({ "text": text, "tags": tags }),
        ))?;
    }
    // One call brings both views up to date; each reads only what its snapshot has not seen.
    log.refresh_all()?;

    match command {
        Command::Add { .. } => {
            let notes = log.view::<Notes>("notes")?;
            if let Some(note) = notes.notes.last() {
                println!("added note #{}", note.id);
                print_note(note);
            }
        }
        Command::List { tag } => {
            let notes = log.view::<Notes>("notes")?;
            let shown: Vec<&Note> = notes
                .notes
                .iter()
                .filter(|n| tag.as_ref().is_none_or(|t| n.tags.contains(t)))
                .collect();
            for note in &shown {
                print_note(note);
            }
            match tag {
                Some(tag) => println!(
                    "{} of {} notes tagged {tag}",
                    shown.len(),
                    notes.notes.len()
                ),
                None => println!("{} notes", shown.len()),
            }
        }
        Command::Tags => {
            let stats = log.view::<TagStats>("tags")?;
            let mut tags: Vec<(&String, &TagUse)> = stats.tags.iter().collect();
            // Most used first; ties in alphabetical order (the map is already sorted by name,
            // and the sort is stable).
            tags.sort_by_key(|(_, used)| std::cmp::Reverse(used.notes));
            for (name, used) in &tags {
                let share = 100.0 * used.notes as f64 / stats.notes_seen as f64;
                println!(
                    "{name:<12} {:>3} {} ({share:.0}%)  first #{}, latest #{}",
                    used.notes,
                    plural(used.notes, "note"),
                    used.first_note,
                    used.last_note
                );
            }
            println!(
                "{} tags over {} notes, {} untagged",
                tags.len(),
                stats.notes_seen,
                stats.untagged
            );
        }
    }
    Ok(())
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        word.to_string()
    } else {
        format!("{word}s")
    }
}

fn print_note(note: &Note) {
    let mut line = format!("{:>3}. {}", note.id, note.text);
    for (i, tag) in note.tags.iter().enumerate() {
        line.push_str(if i == 0 { "  #" } else { " #" });
        line.push_str(tag);
    }
    println!("{line}");
}

// Expected output, starting from an empty `./data`:
//
// $ cargo run --example notes_cli -- add call the bank --tag money --tag phone
// added note #1
//   1. call the bank  #money #phone
// $ cargo run --example notes_cli -- add pay rent --tag money
// added note #2
//   2. pay rent  #money
// $ cargo run --example notes_cli -- add water the plants
// added note #3
//   3. water the plants
// $ cargo run --example notes_cli -- list --tag money
//   1. call the bank  #money #phone
//   2. pay rent  #money
// 2 of 3 notes tagged money
// $ cargo run --example notes_cli -- tags
// money          2 notes (67%)  first #1, latest #2
// phone          1 note (33%)  first #1, latest #1
// 2 tags over 3 notes, 1 untagged
// $ cargo run --example notes_cli -- list --tag          (exit code 2, on stderr)
// notes_cli: --tag needs a tag name
// usage: notes_cli [--dir DIR] <command>
// ...
