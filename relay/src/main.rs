//! `eventfold-relay`: publishes an eventfold log to a NATS JetStream stream until Ctrl-C or
//! SIGTERM (or, with `--until-caught-up`, until the history is published), then prints what it
//! did as one JSON line on stdout.

use eventfold_relay::Config;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "\
usage: eventfold-relay --data DIR --stream NAME [--server URL] [--subject SUBJECT]
                       [--resume-file PATH] [--max-in-flight N] [--duplicate-window SECONDS]
                       [--until-caught-up]

  --data              the eventfold log directory (read only)
  --stream            the JetStream stream, created if missing
  --server            the NATS server (default nats://127.0.0.1:4222)
  --subject           the subject of every event (default eventfold.STREAM)
  --resume-file       where the last acknowledged position is kept
                      (default DATA.relay-STREAM.json, beside the data directory)
  --max-in-flight     publishes awaiting their acknowledgement at most (default 1024)
  --duplicate-window  the duplicate window of a stream it creates (default 120)
  --until-caught-up   publish the history present at the start, then exit

exit codes: 0 done, 1 failed, 2 usage";

fn parse(args: impl IntoIterator<Item = String>) -> Result<Config, String> {
    let mut args = args.into_iter();
    let (mut data, mut stream, mut server) = (None, None, "nats://127.0.0.1:4222".to_string());
    let (mut subject, mut resume, mut in_flight, mut window, mut once) =
        (None, None, None, None, false);
    while let Some(flag) = args.next() {
        if flag == "--until-caught-up" {
            once = true;
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--data" => data = Some(value),
            "--stream" => stream = Some(value),
            "--server" => server = value,
            "--subject" => subject = Some(value),
            "--resume-file" => resume = Some(value),
            "--max-in-flight" => {
                in_flight = Some(value.parse().map_err(|e| format!("--max-in-flight: {e}"))?)
            }
            "--duplicate-window" => {
                let seconds = value
                    .parse()
                    .map_err(|e| format!("--duplicate-window: {e}"))?;
                window = Some(Duration::from_secs(seconds));
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let data = data.ok_or("--data is required")?;
    let stream = stream.ok_or("--stream is required")?;
    let mut config = Config::new(data, server, stream);
    if let Some(subject) = subject {
        config.subject = subject;
    }
    if let Some(resume) = resume {
        config.resume_file = resume.into();
    }
    if let Some(n) = in_flight {
        config.max_in_flight = n;
    }
    if let Some(window) = window {
        config.duplicate_window = window;
    }
    config.until_caught_up = once;
    Ok(config)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let config = match parse(args) {
        Ok(config) => config,
        Err(why) => {
            eprintln!("eventfold-relay: {why}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    eprintln!(
        "relaying {} to the stream {} on {} (subject {}, resume file {})",
        config.data_dir.display(),
        config.stream,
        config.server,
        config.subject,
        config.resume_file.display()
    );
    match eventfold_relay::run(&config, shutdown()).await {
        Ok(stats) => {
            println!(
                "{}",
                serde_json::to_string(&stats).expect("the stats serialize")
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("eventfold-relay: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
async fn shutdown() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("cannot listen for SIGTERM");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn flags_override_the_defaults() {
        let config = parse(args(&["--data", "d", "--stream", "S"])).unwrap();
        assert_eq!(config, Config::new("d", "nats://127.0.0.1:4222", "S"));
        let config = parse(args(&[
            "--data",
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
        ]))
        .unwrap();
        assert_eq!(config.max_in_flight, 8);
        assert!(config.until_caught_up);
        assert_eq!(config.resume_file, std::path::Path::new("/tmp/r.json"));
        assert_eq!(config.subject, "x.y");
    }

    #[test]
    fn bad_arguments_are_explained() {
        assert_eq!(
            parse(args(&["--data", "d"])).unwrap_err(),
            "--stream is required"
        );
        assert!(
            parse(args(&["--data"]))
                .unwrap_err()
                .contains("needs a value")
        );
        assert!(
            parse(args(&["--bogus", "1"]))
                .unwrap_err()
                .contains("unknown argument")
        );
        assert!(
            parse(args(&[
                "--data",
                "d",
                "--stream",
                "S",
                "--max-in-flight",
                "x"
            ]))
            .unwrap_err()
            .starts_with("--max-in-flight")
        );
    }
}
