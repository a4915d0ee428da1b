//! Time travel: rebuild the state as it was at any point of the history.
//!
//! ```text
//! cargo run --example time_travel              # uses ./data-time_travel (emptied first)
//! cargo run --example time_travel -- DIR       # uses DIR, which must be empty or absent
//! ```
//!
//! The state of an event-sourced app is a fold over its events, so the state after event N is
//! the fold over the first N events. Nothing has to be recorded in advance: replay the history
//! with `read_full()`, feed the events to the same reducer the view uses, and stop where you
//! like. This is how you answer "what did the account look like before that withdrawal?" or
//! "which event first broke the invariant?" after the fact.

use eventfold::{Event, EventLog};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::error::Error;
use std::path::PathBuf;

/// The 20 events of the example: (type, amount).
const HISTORY: [(&str, i64); 20] = [
    ("deposit", 100),
    ("deposit", 50),
    ("withdrawal", 30),
    ("withdrawal", 20),
    ("deposit", 200),
    ("withdrawal", 120),
    ("fee", 5),
    ("withdrawal", 60),
    ("deposit", 40),
    ("withdrawal", 80),
    ("withdrawal", 90),
    ("fee", 5),
    ("deposit", 300),
    ("withdrawal", 45),
    ("deposit", 25),
    ("fee", 5),
    ("withdrawal", 100),
    ("deposit", 60),
    ("withdrawal", 15),
    ("deposit", 10),
];
/// Where to stop the replay (1-based: the state after this many events).
const STOP_AT: usize = 10;
/// Rotate after this many events, so that the replay crosses from the archive to the active log.
const ROTATE_AFTER: usize = 12;

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct Account {
    balance: i64,
    deposits: u64,
    withdrawals: u64,
    fees: u64,
}

/// The one reducer: used by the registered view and by the manual replays alike.
fn account_reducer(mut account: Account, event: &Event) -> Account {
    let amount = event.data["amount"].as_i64().unwrap_or(0);
    match event.event_type.as_str() {
        "deposit" => {
            account.balance += amount;
            account.deposits += 1;
        }
        "withdrawal" => {
            account.balance -= amount;
            account.withdrawals += 1;
        }
        "fee" => {
            account.balance -= amount;
            account.fees += 1;
        }
        _ => {}
    }
    account
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = data_dir("./data-time_travel")?;
    let mut log = EventLog::builder(&dir)
        .view::<Account>("account", account_reducer)
        .open()?;

    for (n, (kind, amount)) in HISTORY.iter().enumerate() {
        log.append(&Event::new(kind, json!({ "amount": amount })))?;
        if n + 1 == ROTATE_AFTER {
            log.rotate()?;
        }
    }
    println!(
        "appended {} events; rotated after event {ROTATE_AFTER}, so the history spans \
         archive.jsonl.zst and app.jsonl",
        HISTORY.len()
    );

    // --- Back to event 10: replay from the beginning and stop there. -------------------------
    println!("== replaying with read_full(), stopping at event {STOP_AT}");
    let mut then = Account::default();
    for (n, item) in log.read_full()?.enumerate() {
        let (event, _line_hash) = item?;
        then = account_reducer(then, &event);
        if n + 1 == STOP_AT {
            println!("event {STOP_AT} was: {}", describe(&event));
            break; // the rest of the history is never read
        }
    }
    println!("state then: {}", summary(&then));

    // --- The present, as the registered view sees it. ----------------------------------------
    log.refresh_all()?;
    let now = log.view::<Account>("account")?;
    println!(
        "== state now (the `account` view, all {} events)",
        HISTORY.len()
    );
    println!("state now:  {}", summary(now));

    // --- Debugging: find the first event after which the balance was negative. --------------
    println!("== which event first overdrew the account?");
    let mut account = Account::default();
    let mut culprit = None;
    for (n, item) in log.read_full()?.enumerate() {
        let (event, _line_hash) = item?;
        let before = account.balance;
        account = account_reducer(account, &event);
        if account.balance < 0 {
            culprit = Some((n + 1, describe(&event), before, account.balance));
            break;
        }
    }
    match culprit {
        Some((n, what, before, after)) => {
            println!("event {n} ({what}) took the balance from {before} to {after}")
        }
        None => println!("the balance never went below zero"),
    }
    Ok(())
}

fn describe(event: &Event) -> String {
    format!("{} {}", event.event_type, event.data["amount"])
}

fn summary(a: &Account) -> String {
    format!(
        "balance {} (deposits: {}, withdrawals: {}, fees: {})",
        a.balance, a.deposits, a.withdrawals, a.fees
    )
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
// appended 20 events; rotated after event 12, so the history spans archive.jsonl.zst and app.jsonl
// == replaying with read_full(), stopping at event 10
// event 10 was: withdrawal 80
// state then: balance 75 (deposits: 4, withdrawals: 5, fees: 1)
// == state now (the `account` view, all 20 events)
// state now:  balance 210 (deposits: 8, withdrawals: 9, fees: 3)
// == which event first overdrew the account?
// event 11 (withdrawal 90) took the balance from 75 to -15
