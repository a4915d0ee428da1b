//! `eventfold relay` as a process against a real `nats-server` that demands credentials or
//! serves TLS: the flags and their environment variables carry them; the right ones relay
//! every event, wrong or missing ones end the relay at once with exit code 1 and a message
//! naming the server, no secret printed, and no resume file written.

#![cfg(feature = "relay")]

use eventfold::{Event, EventLog};
use eventfold_relay::{Auth, Secret, Stats};
use eventfold_relay_testkit::{NatsServer, Pki, read_back_with_auth};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long a refusal may take: well before the client would give up connecting (5 s).
const AT_ONCE: Duration = Duration::from_secs(4);

fn log(dir: &Path, events: u64) {
    let mut log = EventLog::open(dir).unwrap();
    let events: Vec<Event> = (0..events)
        .map(|n| Event::new("ticked", serde_json::json!({ "n": n })))
        .collect();
    log.append_batch(&events).unwrap();
}

/// `eventfold --json relay --until-caught-up` on `dir` to the stream `S`, with `flags` and
/// `env`, the environment otherwise cleared of the relay's variables.
fn relay(dir: &Path, server: &str, resume: &Path, flags: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_eventfold"));
    command
        .arg("-C")
        .arg(dir)
        .args(["--json", "relay", "--until-caught-up", "--stream", "S"])
        .args(["--server", server, "--resume-file"])
        .arg(resume)
        .args(flags)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for name in [
        "PASSWORD", "TOKEN", "USER", "CREDS", "NKEY", "TLSCERT", "TLSKEY", "TLSCA",
    ] {
        command.env_remove(format!("EVENTFOLD_NATS_{name}"));
    }
    command.envs(env.iter().copied());
    let started = Instant::now();
    let mut child = command.spawn().expect("cannot run eventfold relay");
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("eventfold relay {flags:?} still runs after 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Checks that a run was refused at once, saying `says` and naming the server, with none of
/// `secrets` on its stdout or stderr, and that no resume file was written.
fn refused(
    run: impl FnOnce() -> Output,
    server: &str,
    resume: &Path,
    says: &str,
    secrets: &[&str],
) {
    let started = Instant::now();
    let output = run();
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stderr}");
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(elapsed < AT_ONCE, "took {elapsed:?}: {stderr}");
    assert!(stderr.contains(says), "{stderr}");
    assert!(stderr.contains(server), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    for secret in secrets {
        assert!(!stderr.contains(secret), "a secret in {stderr}");
    }
    assert!(!resume.exists(), "a refused run wrote the resume file");
}

fn relayed(output: &Output, events: u64) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let stats: Stats = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!((stats.published, stats.duplicates), (events, 0));
    assert_eq!(stats.last.map(|p| p.index), Some(events - 1));
}

#[test]
fn user_and_password_from_flags_or_environment() {
    let config = r#"authorization { user: relay, password: "pw-right-4411" }"#;
    let Some(nats) = NatsServer::start_with_config_or_skip(
        "user_and_password_from_flags_or_environment",
        config,
    ) else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let resume = outside.path().join("relay.json");
    log(data.path(), 25);
    let url = nats.url.as_str();
    let secrets = ["pw-right-4411", "pw-wrong-9923"];
    let says = "authorization failed at the NATS server";
    let run = |flags: &[&str], env: &[(&str, &str)]| relay(data.path(), url, &resume, flags, env);

    let wrong = ["--user", "relay", "--password", "pw-wrong-9923"];
    refused(|| run(&wrong, &[]), url, &resume, says, &secrets);
    let wrong_env = [("EVENTFOLD_NATS_PASSWORD", "pw-wrong-9923")];
    refused(
        || run(&["--user", "relay"], &wrong_env),
        url,
        &resume,
        says,
        &secrets,
    );
    refused(|| run(&[], &[]), url, &resume, says, &secrets);

    // The help shows the variable's name, never its value.
    let help = Command::new(env!("CARGO_BIN_EXE_eventfold"))
        .args(["relay", "--help"])
        .env("EVENTFOLD_NATS_PASSWORD", "pw-right-4411")
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(help.contains("EVENTFOLD_NATS_PASSWORD"), "{help}");
    assert!(!help.contains("pw-right-4411"), "{help}");

    let right_env = [
        ("EVENTFOLD_NATS_USER", "relay"),
        ("EVENTFOLD_NATS_PASSWORD", "pw-right-4411"),
    ];
    relayed(&run(&[], &right_env), 25);
    let mut auth = Auth::default();
    auth.user = Some("relay".into());
    auth.password = Some(Secret::new("pw-right-4411"));
    assert_eq!(read_back_with_auth(url, &auth, "S").len(), 25);
}

#[test]
fn a_token_from_the_flag_or_the_environment() {
    let config = r#"authorization { token: "tok-right-5150" }"#;
    let Some(nats) =
        NatsServer::start_with_config_or_skip("a_token_from_the_flag_or_the_environment", config)
    else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let resume = outside.path().join("relay.json");
    log(data.path(), 25);
    let url = nats.url.as_str();
    let secrets = ["tok-right-5150", "tok-wrong-8080"];
    let says = "authorization failed at the NATS server";
    let run = |flags: &[&str], env: &[(&str, &str)]| relay(data.path(), url, &resume, flags, env);

    let wrong_env = [("EVENTFOLD_NATS_TOKEN", "tok-wrong-8080")];
    refused(|| run(&[], &wrong_env), url, &resume, says, &secrets);
    refused(
        || run(&["--token", "tok-wrong-8080"], &[]),
        url,
        &resume,
        says,
        &secrets,
    );

    relayed(&run(&["--token", "tok-right-5150"], &[]), 25);
    let mut auth = Auth::default();
    auth.token = Some(Secret::new("tok-right-5150"));
    assert_eq!(read_back_with_auth(url, &auth, "S").len(), 25);
}

#[test]
fn tls_with_a_client_certificate() {
    let pki = Pki::new();
    let Some(nats) = NatsServer::start_with_config_or_skip(
        "tls_with_a_client_certificate",
        &pki.server_config(true),
    ) else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let resume = outside.path().join("relay.json");
    log(data.path(), 25);
    let url = nats.url.as_str();
    let says = "TLS handshake with the NATS server";
    let run = |flags: &[&str], env: &[(&str, &str)]| relay(data.path(), url, &resume, flags, env);
    let path = |p: &Path| p.to_str().unwrap().to_string();
    let (ca, cert, key) = (path(&pki.ca), path(&pki.client_cert), path(&pki.client_key));

    refused(|| run(&[], &[]), url, &resume, says, &[]);
    refused(|| run(&["--tlsca", &ca], &[]), url, &resume, says, &[]);
    let (stranger_cert, stranger_key) = (path(&pki.stranger_cert), path(&pki.stranger_key));
    let stranger = [
        "--tlsca",
        &ca,
        "--tlscert",
        &stranger_cert,
        "--tlskey",
        &stranger_key,
    ];
    refused(|| run(&stranger, &[]), url, &resume, says, &[]);

    let env = [("EVENTFOLD_NATS_TLSCA", ca.as_str())];
    relayed(&run(&["--tlscert", &cert, "--tlskey", &key], &env), 25);
    let mut auth = Auth::default();
    auth.tls_ca = Some(pki.ca.clone());
    auth.tls_cert = Some(pki.client_cert.clone());
    auth.tls_key = Some(pki.client_key.clone());
    assert_eq!(read_back_with_auth(url, &auth, "S").len(), 25);
}
