//! Time travel: the state as it was at any point of the history.
//!
//! ```text
//! cargo run --example time_travel              # uses ./data-time_travel (emptied first)
//! cargo run --example time_travel -- DIR       # uses DIR, which must be empty or absent
//! ```
//!
//! The state of an event-sourced app is a fold over its events, so the state after event N is
//! the fold over the first N events. `state_at` answers "what did the account look like
//! before that withdrawal?", or "at 10:05?", after the fact, with the reducer the view uses:
//! it starts from the nearest checkpoint the view kept (here every 5 events, and at each
//! rotation) instead of the first event, and enters the archive at the right frame without
//! decompressing the ones before. Nothing has to be recorded in advance but the events.

use eventfold::{At, Checkpoints, Event, EventLog, Position, ViewConfig};
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
/// Rotate after this many events, so that the history spans the archive and the active log.
const ROTATE_AFTER: usize = 12;
/// When the first event happened (2026-01-01T10:00:00Z); one event a minute after it.
const START_TS: u64 = 1_767_261_600;

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
    // A checkpoint every 5 events (and one at each rotation): time travel starts from the
    // nearest one before the point asked for.
    let config = ViewConfig::new().checkpoints(Checkpoints::every(5));
    let mut log = EventLog::builder(&dir)
        .view_with::<Account>("account", account_reducer, config)
        .open()?;

    for (n, (kind, amount)) in HISTORY.iter().enumerate() {
        let mut event = Event::new(kind, json!({ "amount": amount }));
        event.ts = START_TS + 60 * n as u64;
        log.append(&event)?;
        if n + 1 == ROTATE_AFTER {
            log.rotate()?;
        }
    }
    log.refresh_all()?;
    println!(
        "appended {} events; rotated after event {ROTATE_AFTER}, so the history spans \
         archive.jsonl.zst and app.jsonl",
        HISTORY.len()
    );

    // --- Back to event 10. ---------------------------------------------------------------------
    println!("== state_at(At::Event(9)): the state after event {STOP_AT}");
    let history: Vec<_> = log
        .reader()
        .read_history(Position::START)?
        .collect::<Result<_, _>>()?;
    let tenth = &history[STOP_AT - 1];
    println!(
        "event {STOP_AT} was: {} (index {}, position {})",
        describe(&tenth.event),
        tenth.index,
        tenth.position
    );
    let then: Account = log.state_at("account", At::Event(tenth.index))?;
    println!("state then: {}", summary(&then));
    // The same point named by its position, which no rotation changes.
    assert_eq!(
        log.state_at::<Account>("account", At::Position(tenth.position))?,
        then
    );

    // --- At a time of day. -----------------------------------------------------------------------
    let at = START_TS + 60 * 6 + 30; // 10:06:30: events 1 to 7 had happened
    let morning: Account = log.state_at("account", At::Time(at))?;
    println!("== state_at(At::Time(..)) at 10:06:30");
    println!("state at 10:06:30: {}", summary(&morning));

    // --- The present, as the registered view sees it. ----------------------------------------
    let now = log.view::<Account>("account")?;
    println!(
        "== state now (the `account` view, all {} events)",
        HISTORY.len()
    );
    println!("state now:  {}", summary(now));

    // --- Debugging: find the first event after which the balance was negative. --------------
    // A search over the past: every state is one `state_at` away.
    println!("== which event first overdrew the account?");
    let mut culprit = None;
    let mut before = Account::default();
    for item in &history {
        let after: Account = log.state_at("account", At::Event(item.index))?;
        if after.balance < 0 {
            culprit = Some((
                item.index + 1,
                describe(&item.event),
                before.balance,
                after.balance,
            ));
            break;
        }
        before = after;
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
// == state_at(At::Event(9)): the state after event 10
// event 10 was: withdrawal 80 (index 9, position 514)
// state then: balance 75 (deposits: 4, withdrawals: 5, fees: 1)
// == state_at(At::Time(..)) at 10:06:30
// state at 10:06:30: balance 175 (deposits: 3, withdrawals: 3, fees: 1)
// == state now (the `account` view, all 20 events)
// state now:  balance 210 (deposits: 8, withdrawals: 9, fees: 3)
// == which event first overdrew the account?
// event 11 (withdrawal 90) took the balance from 75 to -15
