//! Ctrl-C while a progress bar is drawn: the command clears the bar from the terminal and exits
//! 130, instead of leaving a half-drawn bar above the prompt.
//!
//! A bar appears only after half a second, which a fast build of a scanning command may not
//! reach (`stats` on 300,000 events does not in a release build). So the test runs `export`,
//! which writes every event to stdout, with its stderr on a pseudo-terminal of the test's own
//! (bars are drawn only on a terminal) and its stdout on a pipe that the test reads slowly, a
//! few kilobytes at a time: the command cannot go faster than the test reads, so it is still
//! running, bar drawn, when the test sends SIGINT to its process group as a terminal does for
//! Ctrl-C. How fast the machine is, or how busy, changes only how long the bar takes to appear.

#![cfg(target_os = "linux")]

use eventfold::{Event, EventLog};
use nix::pty::{Winsize, openpty};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::io::{ErrorKind, Read};
use std::os::fd::OwnedFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_eventfold");

/// The slow reading of stdout: this many bytes, then a pause (at most 400 kB a second).
const SLOW_CHUNK: usize = 4096;
const SLOW_PAUSE: Duration = Duration::from_millis(10);

/// How long the test waits for the bar, then for the command to end, before it fails.
const PATIENCE: Duration = Duration::from_secs(60);

/// What every drawing of the bar holds (the template's `eta`).
const BAR: &str = " eta ";

/// What the terminal receives to clear the line of a bar: back to its start, erase the line.
const CLEAR_LINE: &str = "\r\x1b[2K";

/// A log of `events` small events (about 50 bytes each), and its whole export as `eventfold
/// export` writes it when no terminal is involved.
fn log(dir: &Path, events: u64) -> Vec<u8> {
    let mut log = EventLog::open(dir).unwrap();
    for batch in 0..events / 10_000 {
        let events: Vec<Event> = (0..10_000)
            .map(|n| Event::new("tick", serde_json::json!({ "n": batch * 10_000 + n })))
            .collect();
        log.append_batch(&events).unwrap();
    }
    drop(log);
    let export = Command::new(BIN)
        .arg("-C")
        .arg(dir)
        .arg("export")
        .output()
        .unwrap();
    assert!(export.status.success(), "{export:?}");
    export.stdout
}

/// What a [`run`] of `export` left.
struct Run {
    status: ExitStatus,
    /// Everything written on the terminal.
    screen: String,
    stdout: Vec<u8>,
}

/// Runs `export` on `dir`, stderr on a terminal, stdout read slowly until the bar is on the
/// terminal; then sends SIGINT if `interrupt`, or reads the rest at full speed.
fn run(dir: &Path, interrupt: bool) -> Run {
    let size = Winsize {
        ws_row: 24,
        ws_col: 120,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = openpty(&size, None).unwrap();
    // Copies that the command does not inherit (openpty's own descriptors lack close-on-exec),
    // so that reading the terminal ends when the command does. (The other test's command, if
    // started in between, inherits the originals: reading then ends when that one does.)
    let master = pty.master.try_clone().unwrap();
    let slave = pty.slave.try_clone().unwrap();
    drop(pty);

    let mut command = Command::new(BIN);
    command
        .arg("-C")
        .arg(dir)
        .arg("export")
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(slave))
        // A process group of its own, as a shell's job; SIGINT goes to the group.
        .process_group(0);
    let mut child = command.spawn().expect("cannot start eventfold");
    // The command now holds the only copy of the terminal's slave side.
    drop(command);

    let screen = Arc::new(Mutex::new(Vec::new()));
    let terminal = read_terminal(master, Arc::clone(&screen));
    let fast = Arc::new(AtomicBool::new(false));
    let stdout = read_stdout(child.stdout.take().unwrap(), Arc::clone(&fast));

    let start = Instant::now();
    while !String::from_utf8_lossy(&screen.lock().unwrap()).contains(BAR) {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "export ended ({status}) before its bar was seen: {:?}",
                String::from_utf8_lossy(&screen.lock().unwrap())
            );
        }
        if start.elapsed() > PATIENCE {
            let _ = child.kill();
            panic!("no progress bar within {PATIENCE:?}");
        }
        thread::sleep(Duration::from_millis(10));
    }
    if interrupt {
        // What the terminal does on Ctrl-C. Stdout is still read slowly, so the command
        // cannot finish the export meanwhile: what it has left takes 20 s or more at that pace.
        killpg(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    } else {
        fast.store(true, Ordering::SeqCst);
    }
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > PATIENCE {
            let _ = child.kill();
            panic!("export still running {PATIENCE:?} after the bar appeared");
        }
        thread::sleep(Duration::from_millis(10));
    };
    // The rest, which the command wrote before it ended.
    fast.store(true, Ordering::SeqCst);
    let stdout = stdout.join().unwrap();
    terminal.join().unwrap();
    let screen = String::from_utf8_lossy(&screen.lock().unwrap()).into_owned();
    Run {
        status,
        screen,
        stdout,
    }
}

/// Reads the terminal's side of the command's stderr into `screen` until the command has
/// closed it (Linux then reports an error).
fn read_terminal(master: OwnedFd, screen: Arc<Mutex<Vec<u8>>>) -> JoinHandle<()> {
    let mut master = std::fs::File::from(master);
    thread::spawn(move || {
        let mut buf = [0; 4096];
        loop {
            match master.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => screen.lock().unwrap().extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    })
}

/// Reads the command's stdout to its end: [`SLOW_CHUNK`] bytes every [`SLOW_PAUSE`], or as
/// fast as it comes once `fast` is set.
fn read_stdout(
    mut stdout: impl Read + Send + 'static,
    fast: Arc<AtomicBool>,
) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = vec![0; 1 << 16];
        loop {
            let len = if fast.load(Ordering::SeqCst) {
                buf.len()
            } else {
                thread::sleep(SLOW_PAUSE);
                SLOW_CHUNK
            };
            match stdout.read(&mut buf[..len]) {
                Ok(0) => return got,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => panic!("cannot read export's stdout: {e}"),
            }
        }
    })
}

/// Asserts that the last drawing of the bar on `screen` was cleared (its line erased) and that
/// nothing was written after the clearing: the terminal's last line is empty.
fn assert_bar_cleared(screen: &str) {
    let tail = &screen[screen.len().saturating_sub(400)..];
    let last_bar = screen.rfind(BAR).expect("no bar drawn");
    let after = &screen[last_bar..];
    let Some(clear) = after.rfind(CLEAR_LINE) else {
        panic!("the last bar drawn was not cleared: {tail:?}");
    };
    let rest = &after[clear + CLEAR_LINE.len()..];
    assert!(
        rest.is_empty(),
        "{rest:?} after the bar's clearing: {tail:?}"
    );
}

#[test]
fn ctrl_c_clears_the_progress_bar_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let export = log(dir.path(), 200_000);
    let run = run(dir.path(), true);
    assert_eq!(
        (run.status.code(), run.status.signal()),
        (Some(130), None),
        "{}: {:?}",
        run.status,
        run.screen
    );
    assert_bar_cleared(&run.screen);
    // What was exported until Ctrl-C: the start of the export, not all of it.
    assert!(
        !run.stdout.is_empty() && run.stdout.len() < export.len(),
        "{} bytes of {} on stdout",
        run.stdout.len(),
        export.len()
    );
    assert!(
        export.starts_with(&run.stdout),
        "stdout ({} bytes) is not the start of the export",
        run.stdout.len()
    );
}

#[test]
fn an_export_not_interrupted_clears_its_bar_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let export = log(dir.path(), 50_000);
    let run = run(dir.path(), false);
    assert!(run.status.success(), "{}: {:?}", run.status, run.screen);
    assert_bar_cleared(&run.screen);
    assert!(
        run.stdout == export,
        "stdout ({} bytes) is not the export ({} bytes)",
        run.stdout.len(),
        export.len()
    );
}
