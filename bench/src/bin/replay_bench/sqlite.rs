//! SQLite as a second anchor: what many users would pick instead of an event log.
//!
//! The same events as rows of one table, `events(seq INTEGER PRIMARY KEY, type TEXT,
//! ts INTEGER, data TEXT)` (see `Datasets::sqlite`), read in `seq` order through rusqlite on
//! the calling thread (SQLite runs a query on one thread), against this crate's rebuilds of the
//! same events from `app.jsonl`, on as many threads as its folds use. Each round opens the
//! database anew, as each rebuild opens the log anew; the states both fold are compared.

use crate::data::{Tally, TodoStats, v03};
use crate::workloads::{rebuild_v03, rebuild_v03_ref, stats_digest, tally_digest};
use crate::{BoxError, Data, Outcome, Workload};
use std::path::Path;
use std::time::Instant;

/// `SELECT type` in `seq` order, each type counted.
fn scan_types(db: &Path) -> Outcome {
    let start = Instant::now();
    let conn = rusqlite::Connection::open(db)?;
    let mut select = conn.prepare("SELECT type FROM events ORDER BY seq")?;
    let mut rows = select.query(())?;
    let mut tally = Tally::default();
    while let Some(row) = rows.next()? {
        tally = tally.count(row.get_ref(0)?.as_str()?);
    }
    let elapsed = start.elapsed();
    Ok((elapsed, Some(tally_digest(&tally))))
}

/// `SELECT type, ts, data` in `seq` order, each row made an owned [`eventfold::Event`] with its
/// `data` parsed by serde_json, and folded by the compat reducer.
fn replay(db: &Path) -> Outcome {
    let start = Instant::now();
    let conn = rusqlite::Connection::open(db)?;
    let mut select = conn.prepare("SELECT type, ts, data FROM events ORDER BY seq")?;
    let mut rows = select.query(())?;
    let mut state = TodoStats::default();
    while let Some(row) = rows.next()? {
        let event = eventfold::Event {
            event_type: row.get(0)?,
            ts: row.get::<_, i64>(1)? as u64,
            data: serde_json::from_str(row.get_ref(2)?.as_str()?)?,
            id: None,
            actor: None,
            meta: None,
        };
        state = v03::compat(state, &event);
    }
    let elapsed = start.elapsed();
    Ok((elapsed, Some(stats_digest(&state))))
}

pub fn workloads(data: &Data) -> Result<Vec<Workload<'_>>, BoxError> {
    let (db, active, n) = (data.sqlite()?, data.active()?, data.n());
    // The log as this crate's writer leaves it (with its seals), and the same bytes without.
    let sealed = data.sealed()?;
    Ok(vec![
        Workload::new(
            "type column in seq order / type-only rebuild, sealed (ref)",
            n,
            move || scan_types(db),
            move || rebuild_v03_ref(sealed, "rb_v03_t", v03::type_only, tally_digest),
        ),
        Workload::new(
            "type column in seq order / type-only rebuild, no seals (ref)",
            n,
            move || scan_types(db),
            move || rebuild_v03_ref(active, "rb_v03_t", v03::type_only, tally_digest),
        ),
        Workload::new(
            "every row, data by serde_json / compat rebuild",
            n,
            move || replay(db),
            move || rebuild_v03(active, "rb_v03", v03::compat, stats_digest),
        ),
    ])
}

pub fn print_notes() {
    println!(
        "SQLite (rusqlite, bundled): table events(seq INTEGER PRIMARY KEY, type TEXT, ts INTEGER, \
         data TEXT), WAL, synchronous=FULL, read in seq order on one thread"
    );
    println!(
        "  rows 1-2: SELECT type, each counted / a fresh EventRef view reading the type, rebuilt \
         from app.jsonl with the seals its writer leaves (trusted), then without (validated)"
    );
    println!(
        "  row 3: SELECT type, ts, data, data parsed by serde_json into an Event folded by the \
         compat reducer / a fresh compat view rebuilt from app.jsonl (which also builds id, \
         actor and meta)"
    );
    println!(
        "  a rebuild also writes and syncs the view's snapshot; 0.3.0 on one thread: see the threads section"
    );
}
