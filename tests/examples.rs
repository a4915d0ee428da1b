//! Builds every example once and runs them as a user would, each in its own temporary directory,
//! checking the lines of output that matter.
//!
//! The examples are built with the profile this test binary was built with (`cargo test
//! --release` runs release examples), into the same target directory, so the build reuses the
//! library and dependencies `cargo test` has just compiled. (`replay_bench` lives in the
//! `eventfold-bench` crate, with tests of its own.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use tempfile::TempDir;

/// The outcome of building the examples, shared by every test.
struct Build {
    /// `target/<profile>/examples`.
    dir: PathBuf,
    /// Whether `cargo build --examples` succeeded.
    ok: bool,
    /// Its stderr, to show when an example did not build.
    log: String,
}

fn build() -> &'static Build {
    static BUILD: OnceLock<Build> = OnceLock::new();
    BUILD.get_or_init(|| {
        // This binary is target/<profile>/deps/examples-<hash>.
        let exe = std::env::current_exe().expect("the test binary knows its own path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test binary lives in target/<profile>/deps");
        let target_dir = profile_dir
            .parent()
            .expect("the profile directory lives in the target directory");
        let profile = profile_dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("the profile directory has a UTF-8 name");

        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "build",
                "--examples",
                "--quiet",
                "--keep-going",
                "--target-dir",
            ])
            .arg(target_dir);
        match profile {
            "debug" => {}
            "release" => {
                cargo.arg("--release");
            }
            custom => {
                cargo.args(["--profile", custom]);
            }
        }
        let out = cargo.output().expect("cargo can be started");
        Build {
            dir: profile_dir.join("examples"),
            ok: out.status.success(),
            log: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
}

/// The path of the built example `name`; fails the test if it did not build.
fn example(name: &str) -> PathBuf {
    let build = build();
    // With --keep-going the other examples are still built; only a failed one must not run,
    // since an older binary of it may still be on disk.
    let failed = !build.ok
        && (build.log.contains(&format!("(example \"{name}\")"))
            || !build.log.contains("(example \""));
    assert!(!failed, "example {name} did not build:\n{}", build.log);
    let path = build
        .dir
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

/// Runs example `name` with `args`, in `cwd`.
fn run(name: &str, args: &[&str], cwd: &Path) -> Output {
    Command::new(example(name))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|e| panic!("cannot run example {name}: {e}"))
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `name` and returns its stdout, failing the test unless it exits with code 0.
fn run_ok(name: &str, args: &[&str], cwd: &Path) -> String {
    let out = run(name, args, cwd);
    assert!(
        out.status.success(),
        "{name} {args:?} exited with {}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

/// Asserts that `text` has a line equal to `line` (after trimming trailing spaces).
#[track_caller]
fn assert_line(text: &str, line: &str) {
    assert!(
        text.lines().any(|l| l.trim_end() == line),
        "expected the line {line:?} in:\n{text}"
    );
}

/// Asserts that running `name` with `args` is refused as a usage error: exit code 2, a usage
/// message on stderr, nothing on stdout, no panic.
#[track_caller]
fn assert_usage_error(name: &str, args: &[&str], cwd: &Path) {
    let out = run(name, args, cwd);
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{name} {args:?}: stderr:\n{err}"
    );
    assert!(
        err.contains(&format!("usage: {name}")),
        "{name} {args:?}: stderr:\n{err}"
    );
    assert!(
        !err.contains("panicked"),
        "{name} {args:?} panicked:\n{err}"
    );
    assert_eq!(stdout(&out), "", "{name} {args:?} printed to stdout");
}

fn tmp() -> TempDir {
    tempfile::tempdir().expect("a temporary directory can be created")
}

/// A data directory argument inside `tmp` that does not exist yet.
fn data_arg(tmp: &TempDir) -> String {
    tmp.path().join("data").to_string_lossy().into_owned()
}

// --- todo_cli ----------------------------------------------------------------------------------

#[test]
fn todo_cli_state_persists_across_runs() {
    let tmp = tmp();
    let cwd = tmp.path();
    let first = run_ok("todo_cli", &["add", "buy", "milk"], cwd);
    assert_line(&first, "[ ] #1 buy milk");
    assert_line(&first, "1 open, 0 done");
    assert!(
        cwd.join("data/app.jsonl").is_file(),
        "the default directory is ./data"
    );

    run_ok("todo_cli", &["add", "call the plumber"], cwd);
    let done = run_ok("todo_cli", &["done", "1"], cwd);
    assert_line(&done, "[x] #1 buy milk");

    // A later run, with no new event, sees everything the earlier runs appended.
    let list = run_ok("todo_cli", &["list"], cwd);
    assert_eq!(
        list,
        "[x] #1 buy milk\n[ ] #2 call the plumber\n1 open, 1 done\n"
    );
}

#[test]
fn todo_cli_dir_option_selects_another_log() {
    let tmp = tmp();
    let cwd = tmp.path();
    run_ok("todo_cli", &["add", "in the default log"], cwd);
    let other = run_ok(
        "todo_cli",
        &["--dir", "elsewhere", "add", "somewhere else"],
        cwd,
    );
    assert_line(&other, "[ ] #1 somewhere else");
    assert!(cwd.join("elsewhere/app.jsonl").is_file());
    let default = run_ok("todo_cli", &["list"], cwd);
    assert_line(&default, "[ ] #1 in the default log");
    assert!(!default.contains("somewhere else"));
    let again = run_ok("todo_cli", &["list", "--dir", "elsewhere"], cwd);
    assert_line(&again, "[ ] #1 somewhere else");
}

#[test]
fn todo_cli_rejects_bad_arguments_with_usage_and_code_2() {
    let tmp = tmp();
    let cwd = tmp.path();
    for args in [
        &[][..],
        &["frobnicate"],
        &["add"],
        &["done"],
        &["done", "two"],
        &["done", "-1"],
        &["done", "1", "2"],
        &["list", "extra"],
        &["--dir"],
        &["list", "--dir"],
    ] {
        assert_usage_error("todo_cli", args, cwd);
    }
    assert!(
        !cwd.join("data").exists(),
        "a refused command must not open the log"
    );
}

#[test]
fn todo_cli_refuses_to_complete_an_unknown_todo() {
    let tmp = tmp();
    let cwd = tmp.path();
    run_ok("todo_cli", &["add", "only one"], cwd);
    let out = run("todo_cli", &["done", "9"], cwd);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no todo #9"), "{}", stderr(&out));
    let log = std::fs::read_to_string(cwd.join("data/app.jsonl")).expect("the log exists");
    assert_eq!(
        log.lines().count(),
        1,
        "nothing is appended for an unknown id"
    );
}

// --- notes_cli ---------------------------------------------------------------------------------

#[test]
fn notes_cli_filters_by_tag_and_counts_tags() {
    let tmp = tmp();
    let cwd = tmp.path();
    let added = run_ok(
        "notes_cli",
        &[
            "add", "call", "the", "bank", "--tag", "money", "--tag", "phone",
        ],
        cwd,
    );
    assert_line(&added, "added note #1");
    assert_line(&added, "  1. call the bank  #money #phone");
    // Tags are case-insensitive: `Money` is `money`.
    run_ok("notes_cli", &["add", "pay rent", "--tag", "Money"], cwd);
    run_ok("notes_cli", &["add", "water the plants"], cwd);
    run_ok(
        "notes_cli",
        &["--dir", "data", "add", "renew passport", "--tag", "travel"],
        cwd,
    );

    let money = run_ok("notes_cli", &["list", "--tag", "money"], cwd);
    assert_eq!(
        money,
        "  1. call the bank  #money #phone\n  2. pay rent  #money\n2 of 4 notes tagged money\n"
    );
    let none = run_ok("notes_cli", &["list", "--tag", "nope"], cwd);
    assert_line(&none, "0 of 4 notes tagged nope");
    let all = run_ok("notes_cli", &["list"], cwd);
    assert_line(&all, "  3. water the plants");
    assert_line(&all, "4 notes");

    let tags = run_ok("notes_cli", &["tags"], cwd);
    let lines: Vec<&str> = tags.lines().collect();
    assert_eq!(lines.len(), 4, "three tags and a summary:\n{tags}");
    // Most used first, ties alphabetically.
    assert!(
        lines[0].starts_with("money") && lines[0].contains(" 2 notes (50%)"),
        "{tags}"
    );
    assert!(lines[0].contains("first #1, latest #2"), "{tags}");
    assert!(
        lines[1].starts_with("phone") && lines[1].contains(" 1 note (25%)"),
        "{tags}"
    );
    assert!(
        lines[2].starts_with("travel") && lines[2].contains("first #4"),
        "{tags}"
    );
    assert_eq!(lines[3], "3 tags over 4 notes, 1 untagged");
}

#[test]
fn notes_cli_rejects_bad_arguments_with_usage_and_code_2() {
    let tmp = tmp();
    let cwd = tmp.path();
    for args in [
        &[][..],
        &["search", "x"],
        &["add"],
        &["add", "--tag", "work"],
        &["add", "text", "--tag"],
        &["add", "text", "--tag", ""],
        &["list", "--tag"],
        &["list", "--tag", "a", "--tag", "b"],
        &["list", "extra"],
        &["list", "--color"],
        &["tags", "extra"],
        &["tags", "--tag", "a"],
        &["--dir"],
    ] {
        assert_usage_error("notes_cli", args, cwd);
    }
    assert!(
        !cwd.join("data").exists(),
        "a refused command must not open the log"
    );
}

// --- the other examples --------------------------------------------------------------------------

#[test]
fn multi_view_keeps_two_views_over_one_log() {
    let tmp = tmp();
    let out = run_ok("multi_view", &[&data_arg(&tmp)], tmp.path());
    assert_line(&out, "  stats: 5 added, 3 completed, completion rate 60.0%");
    assert_line(&out, "  stats: 8 added, 5 completed, completion rate 62.5%");
    assert_line(&out, "  [x] #6 book dentist");
    let second_batch = out
        .split("== after the second batch")
        .nth(1)
        .expect("two batches");
    assert!(
        !second_batch.contains("#2 fix the bike"),
        "todo #2 was deleted:\n{out}"
    );
    for view in ["todos", "stats"] {
        let snapshot = tmp.path().join(format!("data/views/{view}.snapshot.json"));
        assert!(snapshot.is_file(), "{} is missing", snapshot.display());
    }
}

#[test]
fn rebuild_replays_history_through_the_new_reducer() {
    let tmp = tmp();
    let out = run_ok("rebuild", &[&data_arg(&tmp)], tmp.path());
    let (v1, v2) = out
        .split_once("v2 state after rebuild():")
        .expect("both phases ran");
    assert_line(v1, "  #2 file taxes");
    assert!(
        !v1.contains("priority"),
        "the v1 state has no priority:\n{v1}"
    );
    assert_line(v2, "  #1 buy milk [normal]");
    assert_line(v2, "  #2 file taxes [high]");
    assert_line(v2, "  #3 water plants [normal]");
    assert_line(v2, "  #4 renew passport [low]");
    assert_line(
        v2,
        r#"v2 snapshot, first item: {"id":1,"priority":"normal","text":"buy milk"}"#,
    );
}

#[test]
fn rotation_archives_and_keeps_state_continuous() {
    let tmp = tmp();
    let out = run_ok("rotation", &[&data_arg(&tmp)], tmp.path());
    let rotations: u32 = out
        .lines()
        .find_map(|l| l.strip_suffix(" automatic rotations"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no rotation count in:\n{out}"));
    assert!(rotations >= 2, "expected several rotations:\n{out}");
    let listing = out
        .split("== ")
        .find(|section| section.contains("after the automatic rotations"))
        .expect("the directory is listed");
    assert!(listing.contains("archive.jsonl.zst"), "{listing}");
    assert_line(
        &out,
        "readings view: 60 readings, sum 534, next seq 60, 0 out of order",
    );
    assert_line(&out, "read_full(): 60 events (archive, then app.jsonl)");
    assert_line(
        &out,
        "new view: 65 readings, sum 576, next seq 65, 0 out of order",
    );
    assert_line(
        &out,
        "same state, sum 576 as expected: no event lost or repeated",
    );

    let data = tmp.path().join("data");
    let archive = std::fs::metadata(data.join("archive.jsonl.zst")).expect("archive exists");
    assert!(archive.len() > 0);
    let active = std::fs::metadata(data.join("app.jsonl")).expect("active log exists");
    assert_eq!(
        active.len(),
        0,
        "the manual rotate() emptied the active log"
    );
}

#[test]
fn time_travel_shows_the_past_and_the_present() {
    let tmp = tmp();
    let out = run_ok("time_travel", &[&data_arg(&tmp)], tmp.path());
    assert_line(&out, "event 10 was: withdrawal 80 (index 9, position 514)");
    assert_line(
        &out,
        "state then: balance 75 (deposits: 4, withdrawals: 5, fees: 1)",
    );
    assert_line(
        &out,
        "state at 10:06:30: balance 175 (deposits: 3, withdrawals: 3, fees: 1)",
    );
    assert_line(
        &out,
        "state now:  balance 210 (deposits: 8, withdrawals: 9, fees: 3)",
    );
    assert_line(
        &out,
        "event 11 (withdrawal 90) took the balance from 75 to -15",
    );
    // The view kept checkpoints: every 5 events and at the rotation after event 12.
    let checkpoints = tmp.path().join("data/views/account.checkpoints");
    let mut names: Vec<String> = std::fs::read_dir(&checkpoints)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let expected: Vec<String> = [5, 10, 12, 15, 20]
        .iter()
        .map(|n| format!("{n:020}.json"))
        .collect();
    assert_eq!(names, expected);
}

#[test]
fn upcasting_shows_old_events_in_their_current_shape() {
    let tmp = tmp();
    let out = run_ok("upcasting", &[&data_arg(&tmp)], tmp.path());
    let texts = [
        "  buy milk",
        "  call mum",
        "  pay rent",
        r#"  fix the "door""#,
        "  water plants",
    ];
    for line in texts {
        assert_line(&out, line);
    }
    assert_line(&out, r#"  todo_noted {"note":"fix the \"door\""}"#);
    assert_line(&out, r#"  todo_created {"title":"buy milk"}"#);
    assert_line(
        &out,
        r#"  todos_imported {"titles":["call mum","pay rent"]}"#,
    );
    assert!(tmp.path().join("data/archive.jsonl.zst").is_file());
}

#[test]
fn examples_default_to_a_fresh_directory_and_refuse_a_used_one() {
    let tmp = tmp();
    let cwd = tmp.path();
    // No argument: ./data-time_travel, emptied on every run, so two runs print the same thing.
    let first = run_ok("time_travel", &[], cwd);
    assert!(cwd.join("data-time_travel/archive.jsonl.zst").is_file());
    let second = run_ok("time_travel", &[], cwd);
    assert_eq!(first, second);

    // A directory named on the command line is never wiped: a non-empty one is refused.
    let out = run("time_travel", &["data-time_travel"], cwd);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not empty"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"));
    assert!(cwd.join("data-time_travel/archive.jsonl.zst").is_file());
}

#[test]
fn poll_tail_sees_every_event_in_order() {
    let tmp = tmp();
    let out = run_ok("poll_tail", &[&data_arg(&tmp)], tmp.path());
    let ticks: Vec<&str> = out.lines().filter(|l| l.starts_with("tick ")).collect();
    assert_eq!(ticks.len(), 10, "{out}");
    for (n, line) in ticks.iter().enumerate() {
        let expected = format!("tick n={n} square={} ", n * n);
        assert!(
            line.starts_with(&expected),
            "{line:?} should start with {expected:?}"
        );
    }
    assert!(out.contains("tailed 10 events up to byte "), "{out}");
    assert!(out.contains("sum of squares 285"), "{out}");
}

#[test]
fn blocking_tail_wakes_for_events_and_times_out_at_the_end() {
    let tmp = tmp();
    let out = run_ok("blocking_tail", &[&data_arg(&tmp)], tmp.path());
    let jobs: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("  job_finished"))
        .collect();
    let expected: Vec<String> = (0..8)
        .map(|n| format!("  job_finished job={n} ms={}", 100 + 15 * n))
        .collect();
    assert_eq!(jobs, expected, "{out}");
    assert!(out.contains("woke up: app.jsonl is now "), "{out}");
    assert_line(&out, "tailed 8 events, 1220 ms of work in total");
    assert_line(&out, "writer done: nothing new within 200ms");
}

#[test]
fn zero_copy_view_matches_the_owned_view() {
    let tmp = tmp();
    let out = run_ok("zero_copy", &[&data_arg(&tmp)], tmp.path());
    assert!(out.starts_with("appended 20000 events"), "{out}");
    for (path, count) in [
        ("/", 4572),
        ("/blog", 2285),
        ("/docs", 4572),
        ("/login", 2286),
        ("/pricing", 2285),
    ] {
        assert_line(&out, &format!("  {path:<10} {count}"));
    }
    assert_line(&out, "  total      16000");
    assert_line(&out, "the owned view holds the same state: true");
    assert!(out.contains("full replay, zero-copy reducer: "), "{out}");
}

#[test]
fn quickstart_runs_in_a_fresh_directory() {
    let tmp = tmp();
    let out = run_ok("quickstart", &[], tmp.path());
    assert!(!out.is_empty());
    assert!(
        tmp.path().join("data/app.jsonl").is_file(),
        "quickstart uses ./data"
    );
}

#[test]
fn subscribe_latency_delivers_every_event_to_both_subscribers() {
    let tmp = tmp();
    // A few appends: the figures are not checked, only that both kinds deliver every event
    // in order (the example asserts it) and report.
    let out = run_ok("subscribe_latency", &["30"], tmp.path());
    for subscriber in ["blocking Subscription", "async SubscriptionStream"] {
        let line = out.lines().find(|l| l.starts_with(subscriber));
        assert!(
            line.is_some_and(|l| l.contains("median") && l.contains("p99")),
            "{out}"
        );
    }
}
