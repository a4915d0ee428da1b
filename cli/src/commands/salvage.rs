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
            "lost": report.lost.len(),
        });
        out::json_line(&mut out.stdout, &summary)?;
    } else {
        writeln!(
            out.stdout,
            "{BOLD}wrote {} events to {} ({} of them archived); left out {}{BOLD:#}",
            report.events,
            args.dest.display(),
            report.archived_events,
            report.lost.len()
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
    let mut text = lost.file.name().to_string();
    if let Some(frame) = lost.frame {
        text.push_str(&format!(" frame {frame}"));
    }
    text.push_str(&format!(" byte {}", lost.offset));
    if let Some(line) = lost.line {
        text.push_str(&format!(" line {line}"));
    }
    text.push_str(&format!(" position {}", lost.position));
    text
}

fn lost_text(lost: &Lost) -> String {
    let what = match &lost.kind {
        LostKind::Malformed { bytes, reason } => {
            let shown: String = String::from_utf8_lossy(bytes).chars().take(80).collect();
            format!("malformed line ({reason}): {shown}")
        }
        LostKind::DamagedFrame { reason } => format!("damaged frame: {reason}"),
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
        LostKind::DamagedFrame { reason } => {
            record["kind"] = json!("damaged-frame");
            record["reason"] = json!(reason);
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
