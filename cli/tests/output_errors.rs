//! Where the output cannot go: `export -o` and `salvage` to a path under a plain file, `export`
//! to a full device and to a closed stdout. Each exits 1 with a message that names the path (or
//! the standard output) and what could not be done to it, never 0 with the events lost.
//! Unix only: Windows finds no path under a file (`NotFound`) rather than one that is not a
//! directory, and has no `/dev/full`.

#![cfg(unix)]

mod common;

use common::{healthy, run};
use std::path::Path;
use std::process::{Command, Stdio};

/// A healthy log, and beside it a plain file that paths are made under.
fn log_and_plain_file() -> (tempfile::TempDir, tempfile::TempDir) {
    let log = tempfile::tempdir().unwrap();
    drop(healthy(log.path()));
    let out = tempfile::tempdir().unwrap();
    std::fs::write(out.path().join("plain"), "a file, not a directory").unwrap();
    (log, out)
}

/// What the OS says of a path under a plain file.
fn not_a_directory(path: &Path) -> String {
    std::fs::File::create(path)
        .expect_err("a path under a file")
        .to_string()
}

#[test]
fn export_to_a_path_under_a_plain_file() {
    let (log, out) = log_and_plain_file();
    let dest = out.path().join("plain").join("events.jsonl");
    let run = run(log.path(), &["export", "-o", &dest.display().to_string()]);
    assert_eq!(run.code, 1, "{run:?}");
    let expected = format!(
        "cannot create {}: {}",
        dest.display(),
        not_a_directory(&dest)
    );
    assert!(run.stderr.contains(&expected), "{expected:?} in {run:?}");
}

#[test]
fn salvage_to_a_path_under_a_plain_file() {
    let (log, out) = log_and_plain_file();
    let dest = out.path().join("plain").join("copy");
    let run = run(log.path(), &["salvage", &dest.display().to_string()]);
    assert_eq!(run.code, 1, "{run:?}");
    let expected = format!(
        "cannot create the directory {}: {}",
        dest.display(),
        not_a_directory(&dest)
    );
    assert!(run.stderr.contains(&expected), "{expected:?} in {run:?}");
    assert_eq!(
        std::fs::read_dir(out.path()).unwrap().count(),
        1,
        "nothing made"
    );
}

/// `eventfold -C DIR ARGS` with its stdout as given.
fn eventfold(dir: &Path, args: &[&str], stdout: Stdio) -> std::process::Output {
    Command::new(assert_cmd::cargo::cargo_bin("eventfold"))
        .arg("-C")
        .arg(dir)
        .args(args)
        .env_remove("EVENTFOLD_DIR")
        .env("NO_COLOR", "1")
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn export_to_a_full_device() {
    let (log, _out) = log_and_plain_file();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let output = eventfold(log.path(), &["export"], Stdio::from(full));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let expected = format!(
        "cannot write to the standard output: {}",
        std::io::Error::from_raw_os_error(28)
    );
    assert!(stderr.contains(&expected), "{expected:?} in {stderr:?}");
}

/// Run with descriptor 1 closed (`>&-`), which the Rust runtime would quietly replace by
/// `/dev/null`.
#[cfg(target_os = "linux")]
#[test]
fn export_with_stdout_closed() {
    let (log, _out) = log_and_plain_file();
    let output = Command::new("sh")
        .arg("-c")
        .arg("exec \"$0\" -C \"$1\" export >&-")
        .arg(assert_cmd::cargo::cargo_bin("eventfold"))
        .arg(log.path())
        .env_remove("EVENTFOLD_DIR")
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot write to the standard output: it is closed"),
        "{stderr}"
    );
}

/// A closed stdout is told from `/dev/null`, where the events may go.
#[test]
fn export_to_dev_null_succeeds() {
    let (log, _out) = log_and_plain_file();
    let output = eventfold(log.path(), &["export"], Stdio::null());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}
