//! Time travel: the state of a view at an earlier event or time.
//!
//! eventfold 0.2.0 has one way to the state at an event: read the whole history with
//! `read_full` and fold it up to that event. This crate's `state_at` starts from the newest
//! checkpoint at or before the point and folds on from there, entering the archive at the frame
//! the archive index names. Each row times, in the same rounds: 0.2.0 folding `read_full` to the
//! point, this crate's full rebuild of the view (what the point would cost without checkpoints,
//! and more), and `EventLog::state_at`. The states 0.2.0 and `state_at` reach are compared every
//! round, and the rebuild's with the state 0.2.0 folds over the whole history.

use crate::data::{self, FIXED_TS, TRAVEL_VIEW, TodoStats, Until, v02, v03};
use crate::workloads::{rebuild_v02, rebuild_v03, stats_digest};
use crate::{BoxError, Data, Outcome, Row, Workload, fmt_duration, ratio};
use eventfold::At;
use std::path::Path;
use std::rc::Rc;
use std::time::Instant;

/// 0.2.0: `read_full` folded by the compat reducer up to `until`.
fn prefix_v02(dir: &Path, until: Until) -> Outcome {
    let start = Instant::now();
    let state = data::v02_state_until(dir, until)?;
    let elapsed = start.elapsed();
    Ok((elapsed, Some(state.digest())))
}

/// This crate: `state_at` of the log's checkpointed view.
fn state_at_v03(log: &eventfold::EventLog, at: At) -> Outcome {
    let start = Instant::now();
    let state = log.state_at::<TodoStats>(TRAVEL_VIEW, at)?;
    let elapsed = start.elapsed();
    Ok((elapsed, Some(state.digest())))
}

/// A row: 0.2.0's prefix fold, this crate's full rebuild of `dir`, and `state_at`.
fn row(
    name: String,
    dir: &Path,
    log: &Rc<eventfold::EventLog>,
    full_digest: &str,
    until: Until,
    at: At,
) -> Workload<'static> {
    let events = match until {
        Until::Events(n) => n,
        Until::Time(ts) => ts - FIXED_TS + 1,
    };
    let (base_dir, rebuild_dir, log) = (dir.to_path_buf(), dir.to_path_buf(), Rc::clone(log));
    let mut workload = Workload::new(
        name,
        events,
        move || prefix_v02(&base_dir, until),
        move || state_at_v03(&log, at),
    );
    workload.rebuild = Some((
        Box::new(move || rebuild_v03(&rebuild_dir, "tt_rebuild", v03::compat, stats_digest)),
        full_digest.to_string(),
    ));
    workload
}

/// The digest of the whole history's state, folded by 0.2.0 (not timed).
fn full_digest(dir: &Path) -> Result<String, BoxError> {
    let (_, digest) = rebuild_v02(dir, "tt_full_v02", v02::compat, stats_digest)?;
    digest.ok_or_else(|| "the rebuild gave no digest".into())
}

pub fn workloads(data: &Data) -> Result<Vec<Workload<'static>>, BoxError> {
    let n = data.n();
    let active = data.travel_active()?;
    let archive = data.travel_archive()?;
    let log_active = Rc::new(active.open()?);
    let log_archive = Rc::new(archive.open()?);
    let full_active = full_digest(&active.dir)?;
    let full_archive = full_digest(&archive.dir)?;

    let mut rows = Vec::new();
    // At a checkpoint: the state after nine tenths of the events is the start.
    let interval = active.checkpoints.interval().unwrap_or(n).max(1);
    let at = data::travel_event(n);
    rows.push(row(
        format!("state_at event {at} of {n}, checkpoints every {interval}"),
        &active.dir,
        &log_active,
        &full_active,
        Until::Events(at + 1),
        At::Event(at),
    ));
    // Just before that checkpoint: the farthest a point can be from the checkpoint before it.
    if at >= 2 && interval >= 2 {
        let before = at - 2;
        rows.push(row(
            format!(
                "state_at event {before}, {} past a checkpoint",
                (before + 1) % interval
            ),
            &active.dir,
            &log_active,
            &full_active,
            Until::Events(before + 1),
            At::Event(before),
        ));
    }
    // A time inside the 8th of the 10 rotations of an archive written by this crate.
    let ts = data::travel_time(n);
    let inside = ts - FIXED_TS;
    rows.push(row(
        format!(
            "state_at ts of event {inside}: rotation 8 of {} (archive)",
            data::ARCHIVE_FRAMES
        ),
        &archive.dir,
        &log_archive,
        &full_archive,
        Until::Time(ts),
        At::Time(ts),
    ));
    Ok(rows)
}

pub fn print_table(rows: &[Row]) {
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(8).max(8);
    println!(
        "{:<width$}  {:>15}  {:>13}  {:>14}  {:>9}  {:>10}",
        "workload", "0.2.0 read_full", "0.3.0 rebuild", "0.3.0 state_at", "x 0.2.0", "x rebuild"
    );
    println!(
        "{}",
        "-".repeat(width + 2 + 15 + 2 + 13 + 2 + 14 + 2 + 9 + 2 + 10)
    );
    for row in rows {
        let rebuild = row.rebuild.unwrap_or_default();
        println!(
            "{:<width$}  {:>15}  {:>13}  {:>14}  {:>9}  {:>10}",
            row.name,
            fmt_duration(row.base),
            fmt_duration(rebuild),
            fmt_duration(row.v03),
            format!("x{:.2}", ratio(row.base, row.v03)),
            format!("x{:.2}", ratio(rebuild, row.v03)),
        );
    }
    println!(
        "0.2.0 read_full: EventReader::read_full folded by the compat reducer until the point \
         (the only way 0.2.0 has)"
    );
    println!(
        "0.3.0 rebuild: a fresh compat view rebuilt over the whole history of the same directory"
    );
    println!(
        "0.3.0 state_at: EventLog::state_at::<TodoStats>(view, At::Event | At::Time) of a compat \
         view keeping checkpoints"
    );
    println!(
        "x 0.2.0 = 0.2.0 read_full / state_at; x rebuild = rebuild / state_at (targets: at least \
         x5 for the events, x3 in the archive)"
    );
}
