//! # eventfold-relay-testkit
//!
//! What the tests of the relay (`relay/`) and of `eventfold relay` (`cli/`) share, and the
//! relay's bench example too: a real `nats-server` with JetStream on a free port of its own,
//! stopped when dropped ([`NatsServer`]), also with a configuration of the test's own (TLS,
//! authorization), the certificates and nkeys such a server needs ([`Pki`], [`NkeyUser`]), a
//! relayed stream read back whole ([`read_back`]), and the log's history to compare it with
//! ([`local_history`]).
//!
//! The servers and tools the tests need from outside Rust are installed by
//! `scripts/test-services.sh` (the README's test command, `bash scripts/test.sh`, runs it
//! first); nothing here installs anything. Without them a test that needs one says so and
//! passes without running, unless `EVENTFOLD_TEST_SERVICES=required` (set by `scripts/test.sh`
//! and so by CI), where it fails instead ([`needs`]).
//!
//! ```
//! if let Some(nats) = eventfold_relay_testkit::NatsServer::start_or_skip("doc") {
//!     assert!(nats.url.starts_with("nats://127.0.0.1:"));
//! }
//! ```

#![deny(unsafe_code)]
#![deny(missing_docs)]

mod pki;

pub use pki::{NkeyUser, Pki};

use eventfold_relay::{Auth, RelayedEvent};
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A `nats-server -js` of the caller's own, killed by its PID when dropped, also when a test
/// panics.
///
/// # Examples
///
/// ```
/// use eventfold_relay_testkit::NatsServer;
/// if let (Some(a), Some(b)) = (NatsServer::start_or_skip("a"), NatsServer::start_or_skip("b")) {
///     assert_ne!(a.url, b.url); // each on a port of its own
/// }
/// ```
pub struct NatsServer {
    child: Child,
    /// `nats://127.0.0.1:PORT`.
    pub url: String,
    /// The arguments it was started with, to start it again.
    args: Vec<OsString>,
    _store: tempfile::TempDir,
}

impl NatsServer {
    /// Starts `nats-server` on 127.0.0.1 and a free port with JetStream and file storage in a
    /// fresh temporary directory, and waits until it is ready; `None` (after saying so) when
    /// `nats-server` is not installed and the services are not required (see [`needs`]).
    ///
    /// # Panics
    ///
    /// If `nats-server` is missing while required, cannot be started, or is not ready within
    /// 60 seconds.
    ///
    /// # Examples
    ///
    /// See [`NatsServer`].
    pub fn start_or_skip(test: &str) -> Option<NatsServer> {
        needs(test, "nats-server", on_path("nats-server")).then(Self::start)
    }

    /// [`start_or_skip`](Self::start_or_skip), for a program that cannot do without the
    /// server.
    ///
    /// # Panics
    ///
    /// If `nats-server` is not installed, cannot be started, or is not ready within 60 seconds.
    ///
    /// # Examples
    ///
    /// See [`NatsServer`].
    pub fn start() -> NatsServer {
        let port = free_port();
        let store = tempfile::tempdir().expect("cannot create a directory for JetStream");
        let mut args: Vec<OsString> = ["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"]
            .map(OsString::from)
            .into();
        args.push(store.path().into());
        Self::spawn(args, format!("nats://127.0.0.1:{port}"), store)
    }

    /// [`start_or_skip`](Self::start_or_skip) with a configuration file that the caller
    /// completes: the server listens on 127.0.0.1 and a free port, with JetStream storing its
    /// files in a fresh temporary directory, and `extra` (such as a `tls { … }` or an
    /// `authorization { … }` block) follows in the same file, which lies in that directory.
    ///
    /// # Panics
    ///
    /// As [`start_or_skip`](Self::start_or_skip), and if the file cannot be written.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold_relay_testkit::NatsServer;
    /// let config = r#"authorization { token: "t0k3n" }"#;
    /// if let Some(nats) = NatsServer::start_with_config_or_skip("doc", config) {
    ///     assert!(nats.url.starts_with("nats://127.0.0.1:"));
    /// }
    /// ```
    pub fn start_with_config_or_skip(test: &str, extra: &str) -> Option<NatsServer> {
        needs(test, "nats-server", on_path("nats-server")).then(|| Self::start_with_config(extra))
    }

    /// [`start_with_config_or_skip`](Self::start_with_config_or_skip), for a program that
    /// cannot do without the server.
    ///
    /// # Panics
    ///
    /// If `nats-server` is not installed, the file cannot be written, or the server cannot be
    /// started or is not ready within 60 seconds.
    pub fn start_with_config(extra: &str) -> NatsServer {
        let port = free_port();
        let store = tempfile::tempdir().expect("cannot create a directory for JetStream");
        let jetstream = store.path().join("jetstream");
        let text = format!(
            "listen: \"127.0.0.1:{port}\"\njetstream {{\n  store_dir: {}\n}}\n{extra}\n",
            config_path(&jetstream)
        );
        let file = store.path().join("nats-server.conf");
        std::fs::write(&file, text).expect("cannot write the nats-server configuration");
        let args = vec![OsString::from("-c"), file.into()];
        Self::spawn(args, format!("nats://127.0.0.1:{port}"), store)
    }

    /// Kills the server by its PID (`SIGKILL`: an outage, not a shutdown) and waits until it
    /// is gone; its port and its store directory stay for [`restart`](Self::restart).
    ///
    /// # Examples
    ///
    /// ```
    /// if let Some(mut nats) = eventfold_relay_testkit::NatsServer::start_or_skip("doc") {
    ///     nats.kill();
    ///     nats.restart(); // the same port, the same streams
    /// }
    /// ```
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again, after [`kill`](Self::kill), on the same port with the same
    /// store directory (so with the streams it had), and waits until it is ready.
    ///
    /// # Panics
    ///
    /// As [`start`](Self::start).
    pub fn restart(&mut self) {
        self.kill();
        self.child = Self::ready(Self::command(&self.args));
    }

    /// Starts `nats-server` with `args` and waits until it says it is ready.
    fn spawn(args: Vec<OsString>, url: String, store: tempfile::TempDir) -> NatsServer {
        NatsServer {
            child: Self::ready(Self::command(&args)),
            url,
            args,
            _store: store,
        }
    }

    fn command(args: &[OsString]) -> Command {
        let mut command = Command::new("nats-server");
        command.args(args);
        command
    }

    /// Starts `command` and waits until the server says it is ready.
    fn ready(mut command: Command) -> Child {
        assert!(
            on_path("nats-server"),
            "nats-server is not installed: bash scripts/test-services.sh installs it"
        );
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start nats-server");
        let stderr = child.stderr.take().expect("piped");
        let (ready_tx, ready) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("Server is ready") {
                    let _ = ready_tx.send(Ok(()));
                }
                lines.push(line);
            }
            let _ = ready_tx.send(Err(lines.join("\n")));
        });
        match ready.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(())) => child,
            Ok(Err(output)) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("nats-server exited before it was ready:\n{output}")
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("nats-server was not ready within 60 s")
            }
        }
    }
}

/// A free port on 127.0.0.1.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("cannot find a free port")
        .port()
}

/// `path` as a quoted string of a nats-server configuration file (forward slashes, which the
/// server takes on Windows too, so that no backslash reads as an escape).
pub fn config_path(path: &Path) -> String {
    format!("{:?}", path.display().to_string().replace('\\', "/"))
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `program` is on `PATH`.
fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Whether the test `test` may run, given whether `what` (a server or tool from outside Rust)
/// is `present`. When it is missing: with `EVENTFOLD_TEST_SERVICES=required` the test fails
/// here; otherwise this says on stderr which test did not run and how to run it, and returns
/// `false`, and the test returns without checking anything.
///
/// # Panics
///
/// If `what` is missing and the services are required.
///
/// # Examples
///
/// ```
/// assert!(eventfold_relay_testkit::needs("doc", "sh", true));
/// ```
pub fn needs(test: &str, what: &str, present: bool) -> bool {
    if present {
        return true;
    }
    let how = "bash scripts/test-services.sh installs it (bash scripts/test.sh runs every test)";
    let required = std::env::var("EVENTFOLD_TEST_SERVICES").is_ok_and(|v| v == "required");
    assert!(!required, "{test}: {what} is not installed; {how}");
    // Straight to stderr: the test harness captures only what the print macros write.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "NOT RUN {test}: {what} is not installed; {how}"
    );
    false
}

/// Every event of the relayed stream `stream` on `server`, in stream order, read with
/// [`eventfold_relay::fold_stream`] on a runtime of its own (so callers need none).
///
/// # Panics
///
/// If the stream cannot be read: the server is unreachable, the stream is missing, or it holds
/// a message the relay did not publish.
///
/// # Examples
///
/// ```
/// use eventfold::{Event, EventLog};
/// use eventfold_relay::Config;
/// use eventfold_relay_testkit::{NatsServer, read_back};
/// let Some(nats) = NatsServer::start_or_skip("read_back") else { return Ok(()) };
/// let data = tempfile::tempdir()?;
/// let outside = tempfile::tempdir()?;
/// EventLog::open(data.path())?.append(&Event::new("hello", serde_json::json!({})))?;
///
/// let mut config = Config::new(data.path(), &nats.url, "DEMO");
/// config.resume_file = outside.path().join("relay.json");
/// config.until_caught_up = true;
/// let runtime = tokio::runtime::Runtime::new()?;
/// runtime.block_on(eventfold_relay::run(&config, std::future::pending()))?;
///
/// let relayed = read_back(&nats.url, "DEMO");
/// assert_eq!(relayed.len(), 1);
/// assert_eq!(relayed[0].event.event_type, "hello");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_back(server: &str, stream: &str) -> Vec<RelayedEvent> {
    read_back_with_auth(server, &Auth::default(), stream)
}

/// [`read_back`] from a secured server, with [`eventfold_relay::fold_stream_with_auth`].
///
/// # Panics
///
/// As [`read_back`], and if the server refuses `auth`.
///
/// # Examples
///
/// See the relay's `tests/tls.rs` and `tests/authorization.rs`.
pub fn read_back_with_auth(server: &str, auth: &Auth, stream: &str) -> Vec<RelayedEvent> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("cannot start a Tokio runtime");
    runtime
        .block_on(eventfold_relay::fold_stream_with_auth(
            server,
            auth,
            stream,
            Vec::new(),
            |mut all, e| {
                all.push(e);
                all
            },
        ))
        .expect("cannot read the stream back")
}

/// The log's whole history as the relay reads it, to compare the stream with.
///
/// # Panics
///
/// If the log cannot be read.
///
/// # Examples
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let mut log = eventfold::EventLog::open(dir.path())?;
/// log.append(&eventfold::Event::new("hello", serde_json::json!({})))?;
/// let history = eventfold_relay_testkit::local_history(dir.path());
/// assert_eq!((history.len(), history[0].index), (1, 0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn local_history(dir: &Path) -> Vec<eventfold::HistoryEvent> {
    eventfold::EventReader::new(dir)
        .read_history(eventfold::Position::START)
        .expect("cannot read the log's history")
        .collect::<Result<_, _>>()
        .expect("cannot read the log's history")
}
