//! A consumer on another machine: folds a relayed JetStream stream with the same reducer as a
//! local view, and, given the log directory too, checks that both reach the same state.
//!
//! ```text
//! cargo run --release -p eventfold-relay --example consume -- \
//!     --server nats://127.0.0.1:4222 --stream TODOS [--data ./data]
//! ```
//!
//! A secured server takes the relay's options: `--creds FILE`, `--nkey FILE`, `--user USER`
//! with `--password` (or `EVENTFOLD_NATS_PASSWORD`), `--token` (or `EVENTFOLD_NATS_TOKEN`),
//! `--tlscert FILE --tlskey FILE`, `--tlsca FILE`.
//!
//! The reducer, `tally`, counts events by type and keeps a running digest of every event in
//! turn, so a missing, repeated or reordered event shows. With `--data`, the same reducer runs
//! as an eventfold view over the log's events up to the last one the stream holds (the relay
//! may be a little behind a log that is still growing); the example prints both states and
//! exits with 1 if they differ.

use eventfold::{Event, EventReader, Position, View};
use eventfold_relay::{Auth, Secret};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::process::ExitCode;

/// The state both sides fold.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Tally {
    events: u64,
    by_type: BTreeMap<String, u64>,
    digest: u64,
}

/// The reducer, the same on both sides.
fn tally(mut state: Tally, event: &Event) -> Tally {
    state.events += 1;
    *state.by_type.entry(event.event_type.clone()).or_default() += 1;
    let line = serde_json::to_string(event).unwrap_or_default();
    state.digest = line
        .bytes()
        .fold(state.digest ^ 0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    state
}

#[tokio::main]
async fn main() -> ExitCode {
    const USAGE: &str = "usage: consume --stream NAME [--server URL] [--data DIR] [--creds FILE] \
                         [--nkey FILE] [--user USER] [--password PASSWORD] [--token TOKEN] \
                         [--tlscert FILE --tlskey FILE] [--tlsca FILE]";
    let mut args = std::env::args().skip(1);
    let (mut server, mut stream, mut data) = ("nats://127.0.0.1:4222".to_string(), None, None);
    // The relay's options and variables: a password or token in the environment stays out of
    // the process list.
    let mut auth = Auth::default();
    let secret = |name: &str| std::env::var(name).ok().map(Secret::from);
    auth.password = secret("EVENTFOLD_NATS_PASSWORD");
    auth.token = secret("EVENTFOLD_NATS_TOKEN");
    while let Some(flag) = args.next() {
        let value = args.next();
        match (flag.as_str(), value) {
            ("--server", Some(v)) => server = v,
            ("--stream", Some(v)) => stream = Some(v),
            ("--data", Some(v)) => data = Some(v),
            ("--creds", Some(v)) => auth.credentials_file = Some(v.into()),
            ("--nkey", Some(v)) => auth.nkey_file = Some(v.into()),
            ("--user", Some(v)) => auth.user = Some(v),
            ("--password", Some(v)) => auth.password = Some(v.into()),
            ("--token", Some(v)) => auth.token = Some(v.into()),
            ("--tlscert", Some(v)) => auth.tls_cert = Some(v.into()),
            ("--tlskey", Some(v)) => auth.tls_key = Some(v.into()),
            ("--tlsca", Some(v)) => auth.tls_ca = Some(v.into()),
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(stream) = stream else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };

    // The remote side: the stream, folded in stream order.
    let mut last = None;
    let folded = eventfold_relay::fold_stream_with_auth(
        &server,
        &auth,
        &stream,
        Tally::default(),
        |s, e| {
            last = Some(e.position);
            tally(s, &e.event)
        },
    )
    .await;
    let remote = match folded {
        Ok(state) => state,
        Err(e) => {
            eprintln!("consume: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("stream {stream}: {} events", remote.events);
    println!("  folded: {}", serde_json::to_string(&remote).unwrap());
    let Some(data) = data else {
        return ExitCode::SUCCESS;
    };

    // The local side: a view with the same reducer over the log, up to the same event.
    let local = match local_view(&data, last) {
        Ok(state) => state,
        Err(e) => {
            eprintln!("consume: cannot fold the log in {data}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("log {data}: {} events", local.events);
    println!("  folded: {}", serde_json::to_string(&local).unwrap());
    if local == remote {
        println!("the same state as the local view");
        ExitCode::SUCCESS
    } else {
        println!("the states DIFFER");
        ExitCode::FAILURE
    }
}

/// The `tally` view of the log in `data` as of the event at `last` (all of it if `None`
/// and the stream is empty: nothing).
fn local_view(data: &str, last: Option<Position>) -> std::io::Result<Tally> {
    let reader = EventReader::new(data);
    let Some(last) = last else {
        return Ok(Tally::default());
    };
    // A view folds to the end of the log; when the log has grown past the stream, fold the
    // same prefix with the same reducer instead.
    let end = reader
        .read_history(last)?
        .nth(1)
        .transpose()?
        .map(|next| next.position);
    match end {
        None => {
            let views = tempfile::tempdir()?;
            let mut view = View::new("tally", tally, views.path());
            Ok(view.refresh(&reader)?.clone())
        }
        Some(_) => reader
            .read_history(Position::START)?
            .take_while(|e| e.as_ref().map_or(true, |e| e.position <= last))
            .try_fold(Tally::default(), |state, e| Ok(tally(state, &e?.event))),
    }
}
