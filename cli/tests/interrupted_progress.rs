//! Ctrl-C while a progress bar is drawn: the command clears the bar from the terminal and exits
//! 130, instead of leaving a half-drawn bar above the prompt. The command runs on a terminal of
//! its own (`script` gives it a pseudo-terminal, as bars are drawn only on one), and the test
//! types Ctrl-C into it, so the terminal sends SIGINT as it does for a person.

#![cfg(target_os = "linux")]

use eventfold::{Event, EventLog};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What indicatif writes to clear the line of a bar (`\r`, then erase the line).
const CLEAR_LINE: &str = "\r\x1b[2K";

#[test]
fn ctrl_c_clears_the_progress_bar_and_exits_130() {
    if !eventfold_relay_testkit::needs(
        "ctrl_c_clears_the_progress_bar_and_exits_130",
        "script (util-linux)",
        Path::new("/usr/bin/script").is_file(),
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut log = EventLog::open(dir.path()).unwrap();
    for batch in 0..60 {
        let events: Vec<Event> = (0..5000)
            .map(|n| {
                Event::new(
                    "tick",
                    serde_json::json!({ "n": batch * 5000 + n, "pad": "x".repeat(40) }),
                )
            })
            .collect();
        log.append_batch(&events).unwrap();
    }
    drop(log);

    // `stats` scans the whole history with a bar; on a terminal it appears after half a second.
    let command = format!(
        "exec {} -C {} --color never stats",
        env!("CARGO_BIN_EXE_eventfold"),
        dir.path().display()
    );
    let mut script = Command::new("script")
        .args(["--quiet", "--return", "--command", &command, "/dev/null"])
        .env("TERM", "xterm")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("cannot start script");
    let mut terminal = script.stdout.take().unwrap();
    let (tx, chunks) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0; 4096];
        while let Ok(n) = terminal.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });

    let mut screen = String::new();
    let start = Instant::now();
    while !screen.contains(" eta ") {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no progress bar within 20 s: {screen:?}"
        );
        if let Ok(chunk) = chunks.recv_timeout(Duration::from_millis(100)) {
            screen.push_str(&String::from_utf8_lossy(&chunk));
        }
        assert!(
            script.try_wait().unwrap().is_none(),
            "stats ended before its bar was seen: {screen:?}"
        );
    }
    // Ctrl-C, typed on the terminal.
    script.stdin.as_mut().unwrap().write_all(b"\x03").unwrap();
    let status = script.wait().unwrap();
    while let Ok(chunk) = chunks.recv_timeout(Duration::from_millis(500)) {
        screen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert_eq!(status.code(), Some(130), "{screen:?}");
    let last_bar = screen.rfind(" eta ").unwrap();
    let after = &screen[last_bar..];
    assert!(
        after.contains(CLEAR_LINE),
        "the last bar drawn is not cleared: {:?}",
        &screen[screen.len().saturating_sub(400)..]
    );
    // Nothing of a bar after the clearing: only the terminal's echo of ^C, if anything.
    let rest = &after[after.rfind(CLEAR_LINE).unwrap() + CLEAR_LINE.len()..];
    assert!(
        !rest.contains("stats") && !rest.contains(" eta "),
        "a bar after the clearing: {rest:?}"
    );
}
