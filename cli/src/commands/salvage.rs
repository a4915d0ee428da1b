//! `eventfold salvage DEST`: every readable event into a new directory, each line left out
//! reported.

use crate::args::SalvageArgs;
use crate::out::{self, BOLD, Out, WARN};
use eventfold::{Lost, LostKind, salvage_with_progress};
use serde_json::json;
use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

pub fn run(dir: &Path, args: &SalvageArgs, out: &mut Out) -> io::Result<ExitCode> {
    let reader = eventfold::EventReader::new(dir).read_only();
    let mut progress = out.progress("salvage", || reader.history_end().map(|p| p.offset()));
    let report = salvage_with_progress(dir, &args.dest, |p| progress.at(p.offset()));
    progress.finish();
    let report = report?;
    for lost in &report.lost {
        if out.json {
            out::json_line(&mut out.stdout, &lost_json(lost))?;
        } else {
            writeln!(out.stdout, "{WARN}left out{WARN:#} {}", lost_text(lost))?;
        }
    }
    if out.json {
        let summary = json!({
            "record": "summary",
            "dest": args.dest,
            "events": report.events,
            "archived_events": report.archived_events,
            "lost_events": report.lost_events,
            "lost_unknown_bytes": report.lost_unknown_bytes,
            "problems": report.lost.len(),
        });
        out::json_line(&mut out.stdout, &summary)?;
    } else {
        let mut left_out = format!("left out {} events", report.lost_events);
        if report.lost_unknown_bytes > 0 {
            left_out.push_str(&format!(
                " and an unknown number in {} compressed bytes",
                report.lost_unknown_bytes
            ));
        }
        if !report.lost.is_empty() {
            let n = report.lost.len();
            let problems = if n == 1 { "problem" } else { "problems" };
            left_out.push_str(&format!(" ({n} {problems} above)"));
        }
        writeln!(
            out.stdout,
            "{BOLD}wrote {} events to {} ({} of them archived); {left_out}{BOLD:#}",
            report.events,
            args.dest.display(),
            report.archived_events,
        )?;
    }
    // The copy is healthy either way, but something was found wrong: exit 1, as verify does.
    Ok(if report.lost.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn where_text(lost: &Lost) -> String {
    // A damaged frame's offset is the frame's, in the compressed file.
    let decompressed = !matches!(lost.kind, LostKind::DamagedFrame { .. });
    let place = out::place(
        lost.file.name(),
        lost.frame,
        Some(lost.offset),
        decompressed,
        lost.line,
    );
    format!("{place} position {}", lost.position)
}

/// What a damaged frame cost, in events.
fn frame_loss(events: Option<u64>, compressed_bytes: u64, to_archive_end: bool) -> String {
    let counted = if to_archive_end {
        "as the archive index counts them from this frame to the end of the archive"
    } else {
        "as the archive index counts them"
    };
    match events {
        Some(n) => format!("{n} events lost ({counted})"),
        None => format!(
            "an unknown number of events lost in {compressed_bytes} compressed bytes (the \
             archive index does not describe this frame)"
        ),
    }
}

fn lost_text(lost: &Lost) -> String {
    let what = match &lost.kind {
        LostKind::Malformed { bytes, reason } => {
            let shown: String = String::from_utf8_lossy(bytes).chars().take(80).collect();
            format!("malformed line ({reason}): {shown}")
        }
        LostKind::DamagedFrame {
            reason,
            to_archive_end,
            checksum_failed,
            kept,
            events,
            compressed_bytes,
            ..
        } => {
            let loss = frame_loss(*events, *compressed_bytes, *to_archive_end);
            if *checksum_failed {
                format!(
                    "checksum failed ({reason}): kept the {kept} events read from the frame, \
                     which its checksum cannot vouch for; {loss}"
                )
            } else {
                format!(
                    "damaged frame ({reason}): kept the {kept} events read before the damage; \
                     {loss}"
                )
            }
        }
        LostKind::UnfinishedLine { len } => {
            format!("unfinished line of {len} bytes at a frame end")
        }
        LostKind::TornTail { len } => format!("torn tail of {len} bytes"),
        _ => "unreadable bytes".to_string(),
    };
    format!("{}: {what}", where_text(lost))
}

fn lost_json(lost: &Lost) -> serde_json::Value {
    let mut record = json!({
        "record": "lost",
        "file": lost.file.name(),
        "frame": lost.frame,
        "offset": lost.offset,
        "line": lost.line,
        "position": lost.position,
    });
    match &lost.kind {
        LostKind::Malformed { bytes, reason } => {
            record["kind"] = json!("malformed");
            record["reason"] = json!(reason);
            record["bytes"] = json!(String::from_utf8_lossy(bytes));
        }
        LostKind::DamagedFrame {
            reason,
            to_archive_end,
            checksum_failed,
            kept,
            events,
            compressed_bytes,
            ..
        } => {
            record["kind"] = json!("damaged-frame");
            record["reason"] = json!(reason);
            record["checksum_failed"] = json!(checksum_failed);
            record["to_archive_end"] = json!(to_archive_end);
            record["kept"] = json!(kept);
            record["events"] = json!(events);
            record["compressed_bytes"] = json!(compressed_bytes);
        }
        LostKind::UnfinishedLine { len } => {
            record["kind"] = json!("unfinished-line");
            record["len"] = json!(len);
        }
        LostKind::TornTail { len } => {
            record["kind"] = json!("torn-tail");
            record["len"] = json!(len);
        }
        _ => record["kind"] = json!("unreadable"),
    }
    record
}
