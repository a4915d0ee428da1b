//! `replay_bench` runs as a user would run it, on 2000 events, where its figures mean nothing
//! but every row still checks that both sides fold the same state.

use std::path::Path;
use std::process::{Command, Output};

use tempfile::TempDir;

fn tmp() -> TempDir {
    tempfile::tempdir().expect("a temporary directory can be created")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `replay_bench` with `args`, its data cached in `cache`; returns its stdout, failing the
/// test unless it exits with code 0.
fn run_replay_bench(args: &[&str], cache: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_replay_bench"))
        .args(args)
        .env("EVENTFOLD_BENCH_DIR", cache)
        .output()
        .expect("replay_bench can be started");
    assert!(
        out.status.success(),
        "replay_bench {args:?} exited with {}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

#[test]
fn replay_bench_runs_every_section_on_small_data() {
    // Every workload of every section: the run stops with an error when the two sides of a row
    // fold different states, or a child process fails.
    let tmp = tmp();
    let out = run_replay_bench(&["2000"], tmp.path());
    for section in [
        "rebuild",
        "refresh",
        "append",
        "rotation",
        "refresh_all",
        "upcast",
        "time_travel",
        "sqlite",
        "threads",
        "rss",
        "bluegreen",
        "scale",
    ] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(&format!("== {section}: "))),
            "no {section} section in:\n{out}"
        );
    }
    for row in [
        "rebuild 10-frame archive, type only (ref)*",
        "refresh_all, 4 views (2 compat, 2 EventRef)*",
        "state_at event 1800 of 2000, checkpoints every 200",
        "state_at ts of event 1500: rotation 8 of 10 (archive)",
        "type column in seq order / type-only rebuild, sealed (ref)",
        "type column in seq order / type-only rebuild, no seals (ref)",
        "rebuild archive, type only (ref)",
    ] {
        assert!(
            out.lines().any(|l| l.trim_start().starts_with(row)),
            "no row {row:?} in:\n{out}"
        );
    }
}

#[test]
fn replay_bench_runs_only_the_sections_asked_for() {
    let tmp = tmp();
    let out = run_replay_bench(&["1000", "2k", "--only", "threads,rebuild"], tmp.path());
    let headers: Vec<&str> = out.lines().filter(|l| l.starts_with("== ")).collect();
    assert_eq!(
        headers
            .iter()
            .filter(|l| l.starts_with("== rebuild: "))
            .count(),
        2,
        "{out}"
    );
    assert_eq!(
        headers
            .iter()
            .filter(|l| l.starts_with("== threads: "))
            .count(),
        2,
        "{out}"
    );
    assert_eq!(
        headers.len(),
        5,
        "rebuild and threads at each count, then scale:\n{out}"
    );
    // The last table compares the two counts.
    let scale = out.split("== scale: ").nth(1).expect("a scale table");
    assert!(scale.contains("2k / 1k"), "{scale}");
    assert!(
        scale
            .lines()
            .any(|l| l.contains("ns/event 0.3.0, rebuild app.jsonl, compat reducer")),
        "{scale}"
    );

    let refused = Command::new(env!("CARGO_BIN_EXE_replay_bench"))
        .args(["--only", "rebuild,nothing"])
        .env("EVENTFOLD_BENCH_DIR", tmp.path())
        .output()
        .expect("replay_bench can be started");
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("usage: replay_bench"),
        "{}",
        stderr(&refused)
    );
}
