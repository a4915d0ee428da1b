//! `eventfold views` and `eventfold view NAME`: snapshots and how they stand.

use crate::args::ViewArgs;
use crate::out::{self, BAD, GOOD, Out, WARN};
use eventfold::{EventReader, RebuildInfo, SnapshotInfo, SnapshotStatus};
use serde_json::{Value, json};
use std::io::{self, Write};
use std::process::ExitCode;

/// A snapshot as `views --json` and `info --json` print it.
pub fn snapshot_json(s: &SnapshotInfo) -> Value {
    let mut value = json!({
        "view": s.name,
        "file_len": s.file_len,
        "offset": s.offset,
        "hash": s.hash,
        "version": s.version,
        "status": s.status.label(),
        "valid": s.status.is_valid(),
        "lag_events": s.lag_events,
        "lag_bytes": s.lag_bytes,
    });
    if let eventfold::SnapshotStatus::Unreadable { reason } = &s.status {
        value["reason"] = json!(reason);
    }
    value
}

pub fn list(reader: &EventReader, out: &mut Out) -> io::Result<ExitCode> {
    let snapshots = reader.snapshots()?;
    let rebuilds = reader.rebuilds()?;
    let width = name_width(&snapshots);
    for snapshot in &snapshots {
        let rebuild = rebuilds.iter().find(|r| r.name == snapshot.name);
        if out.json {
            let mut value = snapshot_json(snapshot);
            if let Some(rebuild) = rebuild {
                value["rebuild"] = rebuild_json(rebuild);
            }
            out::json_line(&mut out.stdout, &value)?;
        } else {
            let rebuild = rebuild.map(rebuild_text).unwrap_or_default();
            writeln!(out.stdout, "{}{rebuild}", line(snapshot, width))?;
        }
    }
    // Rebuilds of views that have no snapshot.
    for rebuild in &rebuilds {
        if snapshots.iter().any(|s| s.name == rebuild.name) {
            continue;
        }
        if out.json {
            let value = json!({ "view": rebuild.name, "rebuild": rebuild_json(rebuild) });
            out::json_line(&mut out.stdout, &value)?;
        } else {
            let name = out::pad(&rebuild.name, width);
            writeln!(out.stdout, "{name} no snapshot{}", rebuild_text(rebuild))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A rebuild's shadow as `views --json` prints it, in its view's object.
fn rebuild_json(r: &RebuildInfo) -> Value {
    json!({
        "version": r.version,
        "events": r.events,
        "total": r.total,
        "position": r.position,
        "resumable": r.resumable,
        "file_len": r.file_len,
    })
}

/// `  rebuilding to version 2: 60% (600 of 1000 events)`, after the view's line.
fn rebuild_text(r: &RebuildInfo) -> String {
    let Some(version) = r.version else {
        return format!("  {WARN}rebuild: unreadable shadow{WARN:#}");
    };
    let percent = match r.total {
        0 => 100,
        total => r.events * 100 / total,
    };
    let stale = if r.resumable { "" } else { ", not resumable" };
    format!(
        "  {WARN}rebuilding{WARN:#} to version {version}: {percent}% ({} of {} events{stale})",
        r.events, r.total
    )
}

pub fn one(reader: &EventReader, args: &ViewArgs, out: &mut Out) -> io::Result<ExitCode> {
    if args.state {
        let Some(state) = reader.snapshot_state(&args.name)? else {
            return Err(not_found(&args.name));
        };
        if out.stdout_tty && !out.json {
            serde_json::to_writer_pretty(&mut out.stdout, &state)?;
            writeln!(out.stdout)?;
        } else {
            out::json_line(&mut out.stdout, &state)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    // Checked first, so that a bad name is refused rather than not found.
    reader.snapshot_state(&args.name).map(|_| ())?;
    let Some(snapshot) = reader
        .snapshots()?
        .into_iter()
        .find(|s| s.name == args.name)
    else {
        return Err(not_found(&args.name));
    };
    if out.json {
        out::json_line(&mut out.stdout, &snapshot_json(&snapshot))?;
    } else {
        writeln!(out.stdout, "{}", line(&snapshot, name_width(&[])))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn not_found(name: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("the view {name:?} has no snapshot (views/{name}.snapshot.json)"),
    )
}

/// The terminal columns the names of `snapshots` take in a list: the widest name's, at least 16.
pub fn name_width(snapshots: &[SnapshotInfo]) -> usize {
    snapshots
        .iter()
        .map(|s| out::width(&s.name))
        .chain([16])
        .max()
        .unwrap_or(16)
}

/// `count  current  offset 120  lag 0 events (0 bytes)  version 0`, the name padded to `width`
/// terminal columns.
pub fn line(s: &SnapshotInfo, width: usize) -> String {
    let status = match &s.status {
        SnapshotStatus::Current => format!("{GOOD}{:<10}{GOOD:#}", "current"),
        SnapshotStatus::Behind => format!("{WARN}{:<10}{WARN:#}", "behind"),
        other => format!("{BAD}{:<10}{BAD:#}", other.label()),
    };
    let lag = match (s.lag_events, s.lag_bytes) {
        (Some(events), Some(bytes)) => format!("lag {events} events ({bytes} bytes)"),
        _ => "replays the whole history".to_string(),
    };
    format!(
        "{} {status} offset {}  {lag}  version {}",
        out::pad(&s.name, width),
        s.offset,
        s.version
    )
}
