//! `eventfold stats`: count, bytes, first and last `ts` per group.

use crate::args::{By, StatsArgs};
use crate::out::{self, BOLD, DIM, Out};
use crate::time;
use eventfold::{EventReader, Group, GroupBy, Stats};
use serde_json::json;
use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Instant;

pub fn run(reader: &EventReader, args: &StatsArgs, out: &mut Out) -> io::Result<ExitCode> {
    let filter = match super::filter(&args.filter) {
        Ok(filter) => filter,
        Err(message) => return super::usage(out, &message),
    };
    let by = match args.by {
        By::Type => GroupBy::Type,
        By::Actor => GroupBy::Actor,
        By::Hour => GroupBy::Hour,
        By::Day => GroupBy::Day,
    };
    let started = Instant::now();
    let mut progress = out.progress("stats", || reader.history_end().map(|p| p.offset()));
    let mut stats = Stats::new(by);
    let scanned = reader.scan_filtered(&filter, |e| {
        progress.at(e.end.offset());
        stats.add(e)
    });
    progress.finish();
    let end = scanned?;
    let groups = stats.groups();
    if out.json {
        for group in groups.iter().chain([stats.total()]) {
            let mut record = json!({
                "count": group.count,
                "bytes": group.bytes,
                // A group without events (the total of an empty history) has no time.
                "first_ts": (group.count > 0).then_some(group.first_ts),
                "last_ts": (group.count > 0).then_some(group.last_ts),
            });
            if std::ptr::eq(group, stats.total()) {
                record["total"] = json!(true);
            } else {
                record[by.to_string()] = json!(group.key);
            }
            out::json_line(&mut out.stdout, &record)?;
        }
    } else {
        table(&groups, stats.total(), by, out)?;
    }
    if out.verbose > 0 {
        out.note(&format!(
            "read the history up to position {} in {:.0?}",
            end.end,
            started.elapsed()
        ));
    }
    Ok(ExitCode::SUCCESS)
}

fn table(groups: &[Group], total: &Group, by: GroupBy, out: &mut Out) -> io::Result<()> {
    let width = groups
        .iter()
        .map(|g| out::width(&g.key))
        .chain([by.to_string().len(), 5])
        .max()
        .unwrap_or(5);
    let w = &mut out.stdout;
    writeln!(
        w,
        "{BOLD}{}  {:>10}  {:>12}  {:<20}  last{BOLD:#}",
        out::pad(&by.to_string(), width),
        "count",
        "bytes",
        "first",
    )?;
    let row = |w: &mut dyn Write, key: &str, g: &Group| {
        let key = if key.is_empty() { "-" } else { key };
        writeln!(
            w,
            "{}  {:>10}  {:>12}  {:<20}  {}",
            out::pad(key, width),
            g.count,
            g.bytes,
            time::format(g.first_ts),
            time::format(g.last_ts)
        )
    };
    for group in groups {
        row(w, &group.key, group)?;
    }
    if total.count > 0 {
        write!(w, "{DIM}")?;
        row(w, "total", total)?;
        write!(w, "{DIM:#}")?;
    }
    Ok(())
}
