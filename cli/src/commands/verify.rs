//! `eventfold verify`: every check the library makes; exit 1 when one finds an error.

use crate::args::VerifyArgs;
use crate::out::{self, BAD, BOLD, GOOD, Out, WARN};
use eventfold::{Finding, Severity, VerifyOptions, verify_with_progress};
use serde_json::json;
use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

pub fn run(dir: &Path, args: &VerifyArgs, out: &mut Out) -> io::Result<ExitCode> {
    let options = VerifyOptions::new().quick(args.quick);
    let reader = eventfold::EventReader::new(dir).read_only();
    let started = Instant::now();
    let mut progress = out.progress("verify", || reader.history_end().map(|p| p.offset()));
    let report = verify_with_progress(dir, &options, |p| progress.at(p.offset()));
    progress.finish();
    let report = report?;
    let elapsed = started.elapsed();
    if out.json {
        for finding in &report.findings {
            out::json_line(&mut out.stdout, &finding_json(finding))?;
        }
        let summary = json!({
            "record": "summary",
            "clean": report.is_clean(),
            "errors": report.errors(),
            "warnings": report.warnings(),
            "events": report.events,
            "archive_frames": report.archive_frames,
            "archive_bytes": report.archive_bytes,
            "archive_content_bytes": report.archive_content_bytes,
            "active_bytes": report.active_bytes,
            "snapshots": report.snapshots,
            "quick": report.quick,
        });
        out::json_line(&mut out.stdout, &summary)?;
    } else if !out.quiet {
        for finding in &report.findings {
            let style = match finding.severity {
                Severity::Error => BAD,
                Severity::Warning => WARN,
            };
            writeln!(
                out.stdout,
                "{style}{}[{}]{style:#} {}: {}",
                finding.severity,
                finding.check.name(),
                finding_place(finding),
                finding.message
            )?;
        }
        let (style, verdict) = if report.is_clean() {
            (GOOD, "ok")
        } else {
            (BAD, "failed")
        };
        writeln!(
            out.stdout,
            "{style}{verdict}{style:#}: {BOLD}{} errors, {} warnings{BOLD:#} in {} events, {} archive \
             frames ({} bytes decompressed{}), {} bytes of app.jsonl, {} snapshots",
            report.errors(),
            report.warnings(),
            report.events,
            report.archive_frames,
            report.archive_content_bytes,
            if report.quick {
                ", content not checked"
            } else {
                ""
            },
            report.active_bytes,
            report.snapshots,
        )?;
    }
    if out.verbose > 0 {
        let bytes = report.archive_content_bytes + report.active_bytes;
        out.note(&format!(
            "checked {bytes} bytes in {elapsed:.0?} ({:.0} MB/s)",
            bytes as f64 / 1e6 / elapsed.as_secs_f64().max(1e-9)
        ));
    }
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Where a finding lies. An archive finding without a history position is about a frame, and
/// its offset is the frame's, in the compressed file.
fn finding_place(f: &Finding) -> String {
    let file = f.file.display().to_string();
    let decompressed = f.position.is_some();
    out::place(&file, f.frame, f.offset, decompressed, f.line)
}

fn finding_json(f: &Finding) -> serde_json::Value {
    json!({
        "record": "finding",
        "severity": f.severity.to_string(),
        "check": f.check.name(),
        "file": f.file,
        "frame": f.frame,
        "offset": f.offset,
        "line": f.line,
        "position": f.position,
        "message": f.message,
    })
}
