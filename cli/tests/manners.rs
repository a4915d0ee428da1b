//! Command-line manners: the directory from the environment, colors only when wanted, one JSON
//! object per line with --json, nothing but data on stdout.

mod common;

use assert_cmd::Command;
use common::healthy;

fn eventfold() -> Command {
    let mut command = Command::cargo_bin("eventfold").unwrap();
    command
        .env_remove("EVENTFOLD_DIR")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE");
    command
}

#[test]
fn the_directory_comes_from_the_environment_when_not_given() {
    let dir = tempfile::tempdir().unwrap();
    healthy(dir.path());
    let out = eventfold()
        .env("EVENTFOLD_DIR", dir.path())
        .args(["log", "-n", "1", "--format", "{id}"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "e0\n");
    let missing = eventfold()
        .args(["-C", "/nonexistent/eventfold", "info"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8(missing.stderr)
            .unwrap()
            .starts_with("error: ")
    );
}

#[test]
fn colors_only_when_asked_or_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    healthy(dir.path());
    let args = ["log", "--format", "pretty", "-n", "1"];
    let always = eventfold()
        .arg("-C")
        .arg(dir.path())
        .args(args)
        .arg("--color=always")
        .output()
        .unwrap();
    assert!(String::from_utf8(always.stdout).unwrap().contains("\x1b["));
    // Not a terminal: no colors, and NO_COLOR wins over nothing else asked.
    let auto = eventfold()
        .arg("-C")
        .arg(dir.path())
        .args(args)
        .output()
        .unwrap();
    assert!(!String::from_utf8(auto.stdout).unwrap().contains('\x1b'));
    let never = eventfold()
        .arg("-C")
        .arg(dir.path())
        .args(args)
        .args(["--color", "never"])
        .env("CLICOLOR_FORCE", "1")
        .output()
        .unwrap();
    assert!(!String::from_utf8(never.stdout).unwrap().contains('\x1b'));
    let no_color = eventfold()
        .arg("-C")
        .arg(dir.path())
        .args(args)
        .env("NO_COLOR", "1")
        .env("CLICOLOR_FORCE", "1")
        .output()
        .unwrap();
    assert!(!String::from_utf8(no_color.stdout).unwrap().contains('\x1b'));
}

#[test]
fn json_is_one_object_per_line_and_stderr_stays_quiet() {
    let dir = tempfile::tempdir().unwrap();
    healthy(dir.path());
    for args in [
        &["info"][..],
        &["stats"],
        &["verify"],
        &["views"],
        &["log"],
        &["view", "count"],
    ] {
        let out = eventfold()
            .arg("-C")
            .arg(dir.path())
            .arg("--json")
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(
            out.stderr.is_empty(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(!stdout.is_empty(), "{args:?}");
        for line in stdout.lines() {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(value.is_object(), "{args:?}: {line}");
        }
    }
}

#[test]
fn quiet_verify_says_nothing_and_exits_with_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    drop(healthy(dir.path()));
    std::fs::write(dir.path().join("views").join("count.snapshot.json"), "{").unwrap();
    let out = eventfold()
        .arg("-C")
        .arg(dir.path())
        .args(["-q", "verify"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
}

/// Runs eventfold on `dir` with `args`: exit code, stdout, stderr.
fn run_in(dir: &std::path::Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = eventfold().arg("-C").arg(dir).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn a_limit_of_zero_prints_no_event() {
    let dir = tempfile::tempdir().unwrap();
    healthy(dir.path());
    assert_eq!(
        run_in(dir.path(), &["log", "-n", "0"]),
        (Some(0), "".into(), "".into())
    );
    let (code, one, _) = run_in(dir.path(), &["log", "-n", "1", "--format", "{id}"]);
    assert_eq!((code, one.as_str()), (Some(0), "e0\n"));
    // A bad template is still a usage error with a limit of zero.
    assert_eq!(
        run_in(dir.path(), &["log", "-n", "0", "--format", "{nope}"]).0,
        Some(2)
    );
}

#[test]
fn json_and_a_format_that_is_not_json_are_refused_together() {
    let dir = tempfile::tempdir().unwrap();
    healthy(dir.path());
    for format in ["pretty", "{id}"] {
        let (code, stdout, stderr) = run_in(dir.path(), &["--json", "log", "--format", format]);
        assert_eq!(code, Some(2), "{format}");
        assert!(stdout.is_empty(), "{format}: {stdout}");
        assert!(
            stderr.contains("conflicts with --json"),
            "{format}: {stderr}"
        );
    }
    let (code, stdout, _) = run_in(
        dir.path(),
        &["--json", "log", "-n", "1", "--format", "jsonl"],
    );
    assert_eq!(code, Some(0));
    assert!(stdout.starts_with("{\"type\":"), "{stdout}");
}

#[test]
fn an_unclosed_brace_in_a_template_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    healthy(dir.path());
    for template in ["{", "{id", "x {type} {ts"] {
        let (code, stdout, stderr) = run_in(dir.path(), &["log", "--format", template]);
        assert_eq!(code, Some(2), "{template}");
        assert!(stdout.is_empty(), "{template}: {stdout}");
        assert!(stderr.contains("is not closed"), "{template}: {stderr}");
        assert!(!stderr.contains("unknown field"), "{template}: {stderr}");
    }
}

#[test]
fn stats_of_an_empty_log_has_no_time() {
    let dir = tempfile::tempdir().unwrap();
    drop(eventfold::EventLog::open(dir.path()).unwrap());
    let (code, stdout, _) = run_in(dir.path(), &["--json", "stats"]);
    assert_eq!(code, Some(0));
    let total: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(total["count"], 0);
    assert_eq!(total["total"], true);
    assert!(
        total["first_ts"].is_null() && total["last_ts"].is_null(),
        "{total}"
    );
}

/// A directory that is not a log says why: missing, a plain file, the log file itself, or
/// without `app.jsonl`.
#[test]
fn a_directory_that_holds_no_log_says_why() {
    let dir = tempfile::tempdir().unwrap();
    healthy(dir.path());
    let missing = dir.path().join("missing");
    let plain = dir.path().join("plain.txt");
    std::fs::write(&plain, "x").unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let log_file = dir.path().join("app.jsonl");
    for (path, expected) in [
        (&missing, format!("{} does not exist", missing.display())),
        (
            &plain,
            format!("{} is a file, not a directory", plain.display()),
        ),
        (
            &log_file,
            format!(
                "{} is the log file itself; give its directory: -C {}",
                log_file.display(),
                dir.path().display()
            ),
        ),
        (
            &empty,
            format!("{} holds no eventfold log (no app.jsonl)", empty.display()),
        ),
    ] {
        let (code, stdout, stderr) = run_in(path, &["info"]);
        assert_eq!(code, Some(1), "{stderr}");
        assert!(stdout.is_empty(), "{stdout}");
        assert!(stderr.contains(&expected), "{expected:?} not in {stderr:?}");
    }
}

/// A `--type` pattern holding a character that other globs give a meaning (`[`, `{`, `\`)
/// would match only itself here: a usage error, not a scan that silently finds nothing.
#[test]
fn a_type_pattern_with_a_bracket_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    drop(common::healthy(dir.path()));
    for command in ["log", "stats", "export"] {
        let (code, stdout, stderr) = run_in(dir.path(), &[command, "--type", "["]);
        assert_eq!(code, Some(2), "{command}: {stderr}");
        assert_eq!(stdout, "", "{command}");
        assert!(stderr.contains("--type \"[\""), "{command}: {stderr}");
    }
}
