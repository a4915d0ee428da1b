//! A real `nats-server` with JetStream for the tests (and the bench example), on a free port,
//! stopped when dropped, also when a test panics.

#![allow(dead_code)] // each user takes its own part

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Once, mpsc};
use std::time::Duration;

/// A `nats-server -js` of the test's own, killed by its PID when dropped.
pub struct NatsServer {
    child: Child,
    /// `nats://127.0.0.1:PORT`.
    pub url: String,
    _store: tempfile::TempDir,
}

impl NatsServer {
    /// Installs `nats-server` if missing (`scripts/ensure-nats-server.sh`), starts it with
    /// JetStream and file storage in a fresh directory, and waits until it is ready.
    pub fn start() -> NatsServer {
        ensure_installed();
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("cannot find a free port")
            .port();
        let store = tempfile::tempdir().expect("cannot create a directory for JetStream");
        let mut child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(store.path())
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
        let server = NatsServer {
            child,
            url: format!("nats://127.0.0.1:{port}"),
            _store: store,
        };
        match ready.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(())) => server,
            Ok(Err(output)) => panic!("nats-server exited before it was ready:\n{output}"),
            Err(_) => panic!("nats-server was not ready within 60 s"),
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ensure_installed() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/ensure-nats-server.sh");
        let status = Command::new("bash")
            .arg(&script)
            .status()
            .expect("cannot run scripts/ensure-nats-server.sh");
        assert!(
            status.success(),
            "{} could not install nats-server",
            script.display()
        );
    });
}
