//! `eventfold info`: what the directory holds.

use super::views;
use crate::out::{self, BOLD, DIM, Out, WARN};
use crate::time;
use eventfold::{DirInfo, EventReader, RotationState};
use serde_json::{Value, json};
use std::io::{self, Write};
use std::process::ExitCode;

pub fn run(reader: &EventReader, out: &mut Out) -> io::Result<ExitCode> {
    let info = reader.inspect()?;
    if out.json {
        out::json_line(&mut out.stdout, &to_json(&info))?;
    } else {
        text(&info, out)?;
    }
    // What could not be read was shown as such; the exit code says so too.
    Ok(
        if info.archive_error.is_some() || info.index_error.is_some() {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        },
    )
}

fn ts_json(ts: Option<u64>) -> Value {
    ts.map_or(
        Value::Null,
        |ts| json!({ "ts": ts, "time": time::format(ts) }),
    )
}

fn rotation_json(state: &RotationState) -> Value {
    let (label, record) = rotation_parts(state);
    let error = match state {
        RotationState::Unreadable { error } => Some(error),
        _ => None,
    };
    json!({
        "error": error,
        "state": label,
        "record": record.map(|r| json!({
            "archive_len_before": r.archive_len_before,
            "frame_len": r.frame_len,
            "active_len": r.active_len,
            "active_hash": r.active_hash,
            "last_line_hash": r.last_line_hash,
        })),
    })
}

fn rotation_parts(state: &RotationState) -> (&'static str, Option<&eventfold::RotationRecord>) {
    match state {
        RotationState::Finished(r) => ("finished", Some(r)),
        RotationState::ArchiveIncomplete { record, .. } => ("archive-incomplete", Some(record)),
        RotationState::ActiveNotReplaced(r) => ("active-not-replaced", Some(r)),
        RotationState::Outdated { record, .. } => ("outdated", Some(record)),
        RotationState::Unreadable { .. } => ("unreadable", None),
        _ => ("none", None),
    }
}

/// The archive's part: its frames, content and events, or `null` for each when it cannot be
/// described, and why in `error`.
fn archive_json(info: &DirInfo) -> Value {
    let (frames, sealed, content, events) = match &info.archive_error {
        Some(_) => (None, None, None, None),
        None => {
            let (content, events) = archive_totals(info);
            let sealed = info.archive_frames.iter().filter(|f| f.is_sealed()).count();
            (
                Some(info.archive_frames.len()),
                Some(sealed),
                Some(content),
                Some(events),
            )
        }
    };
    json!({
        "len": info.archive_len,
        "frames": frames,
        "sealed_frames": sealed,
        "content_len": content,
        "events": events,
        "error": info.archive_error,
    })
}

/// The archive's decompressed length and its events, from its last frame.
fn archive_totals(info: &DirInfo) -> (u64, u64) {
    info.archive_frames.last().map_or((0, 0), |f| {
        (f.start.offset() + f.content_len, f.first_event + f.events)
    })
}

fn to_json(info: &DirInfo) -> Value {
    json!({
        "dir": info.dir,
        "app.jsonl": {
            "len": info.active_len,
            "committed": info.active_committed,
            "torn_tail": info.active_len - info.active_committed,
            "events": info.active_events,
            "sealed": info.active_sealed,
            "copy_of_archive": info.active_is_copy,
        },
        "archive.jsonl.zst": archive_json(info),
        "archive.index.jsonl": { "len": info.index_len, "error": info.index_error },
        "events": info.events,
        "first": ts_json(info.first_ts),
        "last": ts_json(info.last_ts),
        "end_position": info.end,
        "rotation": rotation_json(&info.rotation),
        "views": info.snapshots.iter().map(views::snapshot_json).collect::<Vec<_>>(),
        "leftovers": info.leftovers,
    })
}

fn text(info: &DirInfo, out: &mut Out) -> io::Result<()> {
    let w = &mut out.stdout;
    let label = |w: &mut dyn Write, name: &str| write!(w, "{BOLD}{name:<20}{BOLD:#}");
    label(w, "directory")?;
    writeln!(w, "{}", info.dir.display())?;
    label(w, "app.jsonl")?;
    write!(
        w,
        "{} bytes, {} events",
        info.active_len, info.active_events
    )?;
    if info.active_sealed > 0 {
        write!(w, ", {} bytes sealed", info.active_sealed)?;
    }
    let torn = info.active_len - info.active_committed;
    if torn > 0 {
        write!(w, ", {WARN}torn tail of {torn} bytes{WARN:#}")?;
    }
    if info.active_is_copy {
        write!(
            w,
            " {WARN}(a copy of the archive's last frame: not read){WARN:#}"
        )?;
    }
    writeln!(w)?;
    label(w, "archive.jsonl.zst")?;
    if let Some(error) = &info.archive_error {
        writeln!(
            w,
            "{} bytes, {WARN}unreadable: {error}{WARN:#}",
            info.archive_len
        )?;
    } else if info.archive_len == 0 {
        writeln!(w, "none")?;
    } else {
        let (content, events) = archive_totals(info);
        let sealed = info.archive_frames.iter().filter(|f| f.is_sealed()).count();
        writeln!(
            w,
            "{} bytes, {} frames ({sealed} sealed), {events} events, {content} bytes decompressed",
            info.archive_len,
            info.archive_frames.len()
        )?;
    }
    label(w, "archive.index.jsonl")?;
    match (&info.index_error, info.index_len) {
        (Some(error), _) => writeln!(w, "{WARN}unreadable: {error}{WARN:#}")?,
        (None, Some(len)) => writeln!(w, "{len} bytes")?,
        (None, None) => writeln!(w, "none")?,
    }
    // What needs the whole archive is unknown when it cannot be read.
    let unknown = info.archive_error.is_some();
    label(w, "events")?;
    match info.events {
        Some(events) => writeln!(w, "{events}")?,
        None => writeln!(w, "{WARN}unknown (the archive cannot be read){WARN:#}")?,
    }
    for (name, ts) in [("first ts", info.first_ts), ("last ts", info.last_ts)] {
        label(w, name)?;
        match ts {
            Some(ts) => writeln!(w, "{} {DIM}({ts}){DIM:#}", time::format(ts))?,
            None if unknown => writeln!(w, "{WARN}unknown{WARN:#}")?,
            None => writeln!(w, "-")?,
        }
    }
    label(w, "end position")?;
    match info.end {
        Some(end) => writeln!(w, "{end}")?,
        None => writeln!(w, "{WARN}unknown{WARN:#}")?,
    }
    label(w, "rotation")?;
    let (state, record) = rotation_parts(&info.rotation);
    match (record, &info.rotation) {
        (None, RotationState::Unreadable { error }) => writeln!(
            w,
            "{state}: rotation.json is not a rotation record ({error})"
        )?,
        (None, _) => writeln!(w, "{state}")?,
        (Some(r), _) => writeln!(
            w,
            "{state} (archived {} bytes of app.jsonl into {} bytes at archive byte {})",
            r.active_len, r.frame_len, r.archive_len_before
        )?,
    }
    if info.snapshots.is_empty() {
        label(w, "views")?;
        writeln!(w, "none")?;
    } else {
        writeln!(w, "{BOLD}views{BOLD:#}")?;
        let width = views::name_width(&info.snapshots);
        for s in &info.snapshots {
            writeln!(w, "  {}", views::line(s, width))?;
        }
    }
    for leftover in &info.leftovers {
        label(w, "leftover")?;
        writeln!(w, "{}", leftover.display())?;
    }
    if out.verbose > 0 {
        writeln!(w, "{BOLD}frames{BOLD:#}")?;
        for f in &info.archive_frames {
            writeln!(
                w,
                "  byte {} len {}: position {} content {} events {} (from {}) ts {}..{}",
                f.offset,
                f.len,
                f.start,
                f.content_len,
                f.events,
                f.first_event,
                f.first_ts.map_or("-".into(), time::format),
                f.last_ts.map_or("-".into(), time::format),
            )?;
        }
    }
    Ok(())
}
