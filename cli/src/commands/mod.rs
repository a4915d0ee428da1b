//! One module per command: each parses its flags into a library call and formats the result.

mod info;
mod log;
#[cfg(feature = "relay")]
mod relay;
#[cfg(feature = "relay")]
pub use relay::duration as relay_duration;
mod salvage;
mod stats;
mod verify;
mod views;

use crate::args::{Cli, Command, FilterArgs};
use crate::out::Out;
use eventfold::{EventReader, Filter, Position};
use std::io;
use std::path::Path;
use std::process::ExitCode;

/// Exit code of a usage error, as clap uses for its own.
pub const USAGE: u8 = 2;

pub fn run(cli: &Cli, out: &mut Out) -> io::Result<ExitCode> {
    let dir = &cli.global.dir;
    // Every command reads through a reader that never writes into the directory.
    let reader = EventReader::new(dir).read_only();
    if !reader.log_path().is_file() {
        return Err(no_log(dir, reader.log_path()));
    }
    match &cli.command {
        Command::Info => info::run(&reader, out),
        Command::Log(args) => log::log(&reader, args, out),
        Command::Stats(args) => stats::run(&reader, args, out),
        Command::Verify(args) => verify::run(dir, args, out),
        Command::Views => views::list(&reader, out),
        Command::View(args) => views::one(&reader, args, out),
        Command::Export(args) => log::export(&reader, args, out),
        Command::Salvage(args) => salvage::run(dir, args, out),
        #[cfg(feature = "relay")]
        Command::Relay(args) => relay::run(dir, args, out),
    }
}

/// Why `dir` is not a log directory: missing, not a directory (the log file itself, perhaps),
/// unreadable, or without `app.jsonl`.
fn no_log(dir: &Path, log_path: &Path) -> io::Error {
    const HINT: &str = "give the directory with -C DIR or EVENTFOLD_DIR";
    let shown = dir.display();
    let (kind, message) = match std::fs::metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => (
            io::ErrorKind::NotFound,
            format!("{shown} does not exist; {HINT}"),
        ),
        Err(e) => (e.kind(), format!("cannot read {shown}: {e}")),
        Ok(meta) if !meta.is_dir() && dir.file_name() == Some("app.jsonl".as_ref()) => {
            let parent = match dir.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            (
                io::ErrorKind::InvalidInput,
                format!(
                    "{shown} is the log file itself; give its directory: -C {}",
                    parent.display()
                ),
            )
        }
        Ok(meta) if !meta.is_dir() => (
            io::ErrorKind::InvalidInput,
            format!("{shown} is a file, not a directory; {HINT}"),
        ),
        Ok(_) => match (std::fs::read_dir(dir), std::fs::metadata(log_path)) {
            (Err(e), _) => (e.kind(), format!("cannot read the directory {shown}: {e}")),
            (_, Ok(meta)) if !meta.is_file() => (
                io::ErrorKind::InvalidInput,
                format!("{} is not a file", log_path.display()),
            ),
            (_, Err(e)) if e.kind() != io::ErrorKind::NotFound => {
                (e.kind(), format!("cannot open {}: {e}", log_path.display()))
            }
            _ => (
                io::ErrorKind::NotFound,
                format!("{shown} holds no eventfold log (no app.jsonl); {HINT}"),
            ),
        },
    };
    io::Error::new(kind, message)
}

/// A usage error found after clap's parsing: reported as clap reports its own, exit code 2.
pub fn usage(out: &mut Out, message: &str) -> io::Result<ExitCode> {
    out.error(&io::Error::new(
        io::ErrorKind::InvalidInput,
        message.to_string(),
    ));
    Ok(ExitCode::from(USAGE))
}

/// The library filter the flags describe, or the message of a usage error.
pub fn filter(args: &FilterArgs) -> Result<Filter, String> {
    let mut filter = Filter::new();
    for pattern in &args.types {
        // Other globs give these characters a meaning; here they would match only
        // themselves, so a pattern that holds one almost surely matches nothing meant.
        if let Some(c) = pattern.chars().find(|c| "[]{}\\".contains(*c)) {
            return Err(format!(
                "--type {pattern:?}: {c:?} is not part of a pattern here: a pattern takes * \
                 (any run of characters) and ? (one character), anything else literally; \
                 write ? where a type holds {c:?}"
            ));
        }
        filter = filter.event_type(pattern);
    }
    for id in &args.ids {
        filter = filter.id(id);
    }
    for actor in &args.actors {
        filter = filter.actor(actor);
    }
    let now = jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::UTC);
    if let Some(since) = &args.since {
        filter = filter.since(crate::time::parse(since, &now).map_err(|e| format!("--since {e}"))?);
    }
    if let Some(until) = &args.until {
        filter = filter.until(crate::time::parse(until, &now).map_err(|e| format!("--until {e}"))?);
    }
    if let Some(range) = &args.position {
        let (from, to) = positions(range)?;
        filter = filter.positions(from, to);
    }
    Ok(filter)
}

/// `A..B`, `A..` or `..B`.
fn positions(range: &str) -> Result<(Position, Option<Position>), String> {
    let bad = || format!("--position {range:?}: expected A..B, A.. or ..B with byte positions");
    let (a, b) = range.split_once("..").ok_or_else(bad)?;
    let number = |s: &str| s.trim().parse::<u64>().map_err(|_| bad());
    let from = if a.trim().is_empty() { 0 } else { number(a)? };
    let to = if b.trim().is_empty() {
        None
    } else {
        Some(Position::new(number(b)?))
    };
    Ok((Position::new(from), to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_ranges() {
        assert_eq!(
            positions("10..20"),
            Ok((Position::new(10), Some(Position::new(20))))
        );
        assert_eq!(positions("10.."), Ok((Position::new(10), None)));
        assert_eq!(
            positions("..20"),
            Ok((Position::START, Some(Position::new(20))))
        );
        assert!(positions("10-20").is_err());
        assert!(positions("a..b").is_err());
    }

    #[test]
    fn type_patterns_refuse_what_other_globs_give_a_meaning() {
        for pattern in ["[", "order_[ab]", "{a,b}", "a\\*"] {
            let args = FilterArgs {
                types: vec![pattern.to_string()],
                ..FilterArgs::default()
            };
            assert!(filter(&args).is_err(), "{pattern}");
        }
        let args = FilterArgs {
            types: vec!["order_?".to_string(), "todo_*".to_string()],
            ..FilterArgs::default()
        };
        assert!(filter(&args).is_ok());
    }
}
