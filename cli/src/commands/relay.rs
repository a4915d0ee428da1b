//! `eventfold relay`: publishes the log to a NATS JetStream stream with `eventfold_relay::run`
//! until Ctrl-C or SIGTERM (or, with `--until-caught-up`, until the history is published),
//! then prints what it did.
//!
//! The one command that does not only look: it writes its resume file, outside the log
//! directory, and publishes to the server. It still never writes into the directory.

use crate::args::RelayArgs;
use crate::out::{self, Out};
use eventfold_relay::{Config, Stats};
use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

pub fn run(dir: &Path, args: &RelayArgs, out: &mut Out) -> io::Result<ExitCode> {
    let config = config(dir, args);
    out.note(&format!(
        "relaying {} to the stream {} on {} (subject {}, resume file {})",
        config.data_dir.display(),
        config.stream,
        config.server,
        config.subject,
        config.resume_file.display()
    ));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let stats = runtime
        .block_on(async { eventfold_relay::run(&config, shutdown()).await })
        .map_err(io::Error::other)?;
    if out.json {
        let value = serde_json::to_value(&stats).map_err(io::Error::other)?;
        out::json_line(&mut out.stdout, &value)?;
    } else {
        writeln!(out.stdout, "{}", summary(&stats))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn config(dir: &Path, args: &RelayArgs) -> Config {
    let mut config = Config::new(dir, &args.server, &args.stream);
    if let Some(subject) = &args.subject {
        config.subject.clone_from(subject);
    }
    if let Some(resume) = &args.resume_file {
        config.resume_file.clone_from(resume);
    }
    config.max_in_flight = usize::try_from(args.max_in_flight).unwrap_or(usize::MAX);
    config.duplicate_window = Duration::from_secs(args.duplicate_window);
    config.until_caught_up = args.until_caught_up;
    config
}

/// `published 300 events (0 duplicates dropped); last acknowledged: event 299 at position 23100`.
fn summary(stats: &Stats) -> String {
    let last = match &stats.last {
        Some(point) => format!(
            "event {} at position {}, stream sequence {}",
            point.index, point.position, point.sequence
        ),
        None => "none".to_string(),
    };
    format!(
        "published {} events ({} duplicates dropped, {} resyncs); last acknowledged: {last}",
        stats.published, stats.duplicates, stats.resyncs
    )
}

/// Resolves on Ctrl-C (the only stop request a console program gets without Unix signals).
#[cfg(not(unix))]
async fn shutdown() {
    let _ = tokio::signal::ctrl_c().await;
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
#[cfg(unix)]
async fn shutdown() {
    let Ok(mut terminate) =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    else {
        // Without a SIGTERM handler, Ctrl-C still stops it cleanly.
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;

    fn parse(list: &[&str]) -> Result<Config, clap::Error> {
        let cli = Cli::try_parse_from(list)?;
        match cli.command {
            Command::Relay(args) => Ok(config(&cli.global.dir, &args)),
            other => panic!("not relay: {other:?}"),
        }
    }

    #[test]
    fn flags_override_the_defaults() {
        let config = parse(&["eventfold", "-C", "d", "relay", "--stream", "S"]).unwrap();
        assert_eq!(config, Config::new("d", "nats://127.0.0.1:4222", "S"));
        let config = parse(&[
            "eventfold",
            "relay",
            "-C",
            "d",
            "--stream",
            "S",
            "--max-in-flight",
            "8",
            "--until-caught-up",
            "--resume-file",
            "/tmp/r.json",
            "--subject",
            "x.y",
            "--duplicate-window",
            "30",
        ])
        .unwrap();
        assert_eq!(config.max_in_flight, 8);
        assert!(config.until_caught_up);
        assert_eq!(config.resume_file, Path::new("/tmp/r.json"));
        assert_eq!(config.subject, "x.y");
        assert_eq!(config.duplicate_window, Duration::from_secs(30));
    }

    #[test]
    fn bad_arguments_are_refused() {
        use clap::error::ErrorKind;
        let kind = |list: &[&str]| parse(list).unwrap_err().kind();
        assert_eq!(
            kind(&["eventfold", "relay"]),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(
            kind(&[
                "eventfold",
                "relay",
                "--stream",
                "S",
                "--max-in-flight",
                "0"
            ]),
            ErrorKind::ValueValidation
        );
        assert_eq!(
            kind(&[
                "eventfold",
                "relay",
                "--stream",
                "S",
                "--max-in-flight",
                "x"
            ]),
            ErrorKind::ValueValidation
        );
        assert_eq!(
            kind(&["eventfold", "relay", "--stream", "S", "--bogus"]),
            ErrorKind::UnknownArgument
        );
    }
}
