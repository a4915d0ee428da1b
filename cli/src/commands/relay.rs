//! `eventfold relay`: publishes the log to a NATS JetStream stream with `eventfold_relay::run`
//! until Ctrl-C or SIGTERM (or, with `--until-caught-up`, until the history is published),
//! then prints what it did.
//!
//! The one command that does not only look: it writes its resume file, outside the log
//! directory, and publishes to the server. It still never writes into the directory.

use crate::args::RelayArgs;
use crate::out::{self, Out};
use eventfold_relay::{Config, Notice, Stats};
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
    let notify = out.notifier();
    let report = move |notice: &Notice| {
        let warning = !matches!(notice, Notice::Reconnected { .. });
        notify(&notice.to_string(), warning);
    };
    let stats = runtime
        .block_on(async { eventfold_relay::run_reporting(&config, shutdown(), report).await })
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
    config.give_up_after = args.give_up_after;
    let auth = &args.auth;
    config.auth.credentials_file.clone_from(&auth.creds);
    config.auth.nkey_file.clone_from(&auth.nkey);
    config.auth.user.clone_from(&auth.user);
    config.auth.password.clone_from(&auth.password);
    config.auth.token.clone_from(&auth.token);
    config.auth.tls_cert.clone_from(&auth.tlscert);
    config.auth.tls_key.clone_from(&auth.tlskey);
    config.auth.tls_ca.clone_from(&auth.tlsca);
    config
}

/// A duration on the command line: seconds (`90`), or a number and a unit (`30s`, `5m`,
/// `1h 30m`).
pub fn duration(text: &str) -> Result<Duration, String> {
    if let Ok(seconds) = text.trim().parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let bad = || format!("{text:?}: give seconds (90) or a number and a unit (30s, 5m, 1h 30m)");
    let signed: jiff::SignedDuration = text.trim().parse().map_err(|_| bad())?;
    Duration::try_from(signed).map_err(|_| bad())
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
    use eventfold_relay::Secret;

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
        assert_eq!(config.give_up_after, None);
        for (given, seconds) in [("90", 90), ("30s", 30), ("5m", 300), ("1h 30m", 5400)] {
            let list = [
                "eventfold",
                "relay",
                "--stream",
                "S",
                "--give-up-after",
                given,
            ];
            let config = parse(&list).unwrap();
            assert_eq!(
                config.give_up_after,
                Some(Duration::from_secs(seconds)),
                "{given}"
            );
        }
    }

    #[test]
    fn authentication_and_tls_flags_fill_the_configs_auth() {
        let config = parse(&[
            "eventfold",
            "relay",
            "--stream",
            "S",
            "--creds",
            "relay.creds",
            "--nkey",
            "relay.nk",
            "--user",
            "relay",
            "--password",
            "pw-hunter2",
            "--token",
            "tok-s3cr3t",
            "--tlscert",
            "client.pem",
            "--tlskey",
            "client-key.pem",
            "--tlsca",
            "ca.pem",
        ])
        .unwrap();
        let auth = &config.auth;
        assert_eq!(
            auth.credentials_file.as_deref(),
            Some(Path::new("relay.creds"))
        );
        assert_eq!(auth.nkey_file.as_deref(), Some(Path::new("relay.nk")));
        assert_eq!(auth.user.as_deref(), Some("relay"));
        assert_eq!(
            auth.password.as_ref().map(Secret::expose),
            Some("pw-hunter2")
        );
        assert_eq!(auth.token.as_ref().map(Secret::expose), Some("tok-s3cr3t"));
        assert_eq!(auth.tls_cert.as_deref(), Some(Path::new("client.pem")));
        assert_eq!(auth.tls_key.as_deref(), Some(Path::new("client-key.pem")));
        assert_eq!(auth.tls_ca.as_deref(), Some(Path::new("ca.pem")));
        // Neither the parsed flags nor the configuration show a secret.
        let cli = Cli::try_parse_from([
            "eventfold",
            "relay",
            "--stream",
            "S",
            "--user",
            "relay",
            "--password",
            "pw-hunter2",
            "--token",
            "tok-s3cr3t",
        ])
        .unwrap();
        for shown in [format!("{cli:?}"), format!("{config:?}")] {
            assert!(!shown.contains("pw-hunter2"), "{shown}");
            assert!(!shown.contains("tok-s3cr3t"), "{shown}");
            assert!(shown.contains("relay"), "{shown}");
        }
    }

    #[test]
    fn half_given_credentials_are_usage_errors() {
        use clap::error::ErrorKind;
        for half in [
            &["--user", "relay"][..],
            &["--password", "pw"],
            &["--tlscert", "client.pem"],
            &["--tlskey", "client-key.pem"],
        ] {
            let mut list = vec!["eventfold", "relay", "--stream", "S"];
            list.extend_from_slice(half);
            let kind = parse(&list).unwrap_err().kind();
            assert_eq!(kind, ErrorKind::MissingRequiredArgument, "{half:?}");
        }
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
        for bad in ["soon", "-5s", "5 parsecs"] {
            let flag = format!("--give-up-after={bad}");
            let list = ["eventfold", "relay", "--stream", "S", flag.as_str()];
            assert_eq!(kind(&list), ErrorKind::ValueValidation, "{bad}");
        }
    }
}
