//! What the tests of a secured server share: a log, the relay run to the end of it, and the
//! scenario every credential is put through.

use eventfold::{Event, EventLog};
use eventfold_relay::{Auth, Config, ResumePoint};
use eventfold_relay_testkit::read_back_with_auth;
use std::time::{Duration, Instant};

/// How long a refusal may take: "at once" means well before the client would have given up
/// connecting (5 s), and far from retrying forever.
const AT_ONCE: Duration = Duration::from_secs(4);

pub fn event(n: u64) -> Event {
    let kind = ["opened", "moved", "closed"][(n % 3) as usize];
    Event::new(kind, serde_json::json!({ "n": n }))
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A credential the server must refuse, what the error must say, and the secrets it must not.
pub struct Wrong<'a> {
    pub what: &'a str,
    pub auth: Auth,
    pub says: &'a str,
}

/// Relays a log of 40 events, then 40 more, to `server` with `right`; before each, every
/// `wrong` credential is refused at once with an error that names the server and says `says`,
/// leaves the resume file as it was and the stream as it was, and so does a consumer's read
/// with it. None of `secrets` appears in any error.
pub fn relay_with_right_and_wrong(server: &str, right: &Auth, wrong: &[Wrong], secrets: &[&str]) {
    let runtime = runtime();
    let data = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let mut log = EventLog::open(data.path()).unwrap();
    let mut config = Config::new(data.path(), server, "SECURED");
    config.resume_file = outside.path().join("relay.json");
    config.until_caught_up = true;

    for round in 0..2u64 {
        log.append_batch(
            &(round * 40..(round + 1) * 40)
                .map(event)
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let recorded = ResumePoint::load(&config.resume_file).unwrap();
        let acknowledged = (round > 0).then(|| round * 40 - 1);
        assert_eq!(recorded.as_ref().map(|p| p.index), acknowledged);
        for wrong in wrong {
            let mut config = config.clone();
            config.auth = wrong.auth.clone();
            let started = Instant::now();
            let result = runtime.block_on(async {
                tokio::time::timeout(
                    AT_ONCE,
                    eventfold_relay::run(&config, std::future::pending()),
                )
                .await
            });
            let error = match result {
                Err(_) => panic!("{}: still trying after {AT_ONCE:?}", wrong.what),
                Ok(Ok(stats)) => panic!("{}: the server took it: {stats:?}", wrong.what),
                Ok(Err(error)) => error.to_string(),
            };
            check_refusal(wrong, server, &error, secrets);
            assert!(started.elapsed() < AT_ONCE);
            assert_eq!(
                ResumePoint::load(&config.resume_file).unwrap(),
                recorded,
                "{}: the resume file moved",
                wrong.what
            );

            // A consumer with the same credential is refused the same way.
            let read = runtime.block_on(async {
                tokio::time::timeout(
                    AT_ONCE,
                    eventfold_relay::fold_stream_with_auth(
                        server,
                        &wrong.auth,
                        "SECURED",
                        0u64,
                        |n, _| n + 1,
                    ),
                )
                .await
            });
            match read {
                Err(_) => panic!("{}: the consumer still tries after {AT_ONCE:?}", wrong.what),
                Ok(Ok(n)) => panic!("{}: the consumer read {n} events", wrong.what),
                Ok(Err(error)) => check_refusal(wrong, server, &error.to_string(), secrets),
            }
        }
        if round > 0 {
            let held = read_back_with_auth(server, right, "SECURED").len();
            assert_eq!(held, 40, "the refused runs published nothing");
        }

        config.auth = right.clone();
        let stats = runtime
            .block_on(eventfold_relay::run(&config, std::future::pending()))
            .unwrap_or_else(|e| panic!("the right credentials were refused: {e}"));
        assert_eq!((stats.published, stats.duplicates), (40, 0));
        let relayed = read_back_with_auth(server, right, "SECURED");
        assert_eq!(
            relayed.len() as u64,
            (round + 1) * 40,
            "every event relayed"
        );
        assert!(relayed.iter().enumerate().all(|(i, r)| r.index == i as u64));
        let recorded = ResumePoint::load(&config.resume_file).unwrap().unwrap();
        assert_eq!(recorded.index, (round + 1) * 40 - 1);
    }
    check_config_debug(&config, secrets);
}

fn check_refusal(wrong: &Wrong, server: &str, error: &str, secrets: &[&str]) {
    println!("{}: {error}", wrong.what);
    assert!(error.contains(server), "{}: {error}", wrong.what);
    assert!(error.contains(wrong.says), "{}: {error}", wrong.what);
    for secret in secrets {
        assert!(
            !error.contains(secret),
            "{}: a secret in {error}",
            wrong.what
        );
    }
}

fn check_config_debug(config: &Config, secrets: &[&str]) {
    let shown = format!("{config:?}");
    for secret in secrets {
        assert!(!shown.contains(secret), "a secret in {shown}");
    }
}
