//! Snapshots that no longer match the log: one stale (its offset past the end of app.jsonl),
//! one foreign (the line at its offset hashes to something else), one not a snapshot, and
//! views that are behind.

mod common;

use common::{T0, event, healthy, run};

#[test]
fn stale_and_foreign_snapshots_are_errors_and_lag_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = healthy(dir.path());
    log.append(&event("note", 7, T0 + 90_000, "e7", None))
        .unwrap();
    drop(log);
    let views = dir.path().join("views");
    std::fs::write(
        views.join("stale.snapshot.json"),
        "{\"state\":1,\"offset\":9000,\"hash\":\"0123456789abcdef\"}",
    )
    .unwrap();
    std::fs::write(
        views.join("foreign.snapshot.json"),
        "{\"state\":{},\"offset\":76,\"hash\":\"0123456789abcdef\",\"version\":3}",
    )
    .unwrap();
    std::fs::write(views.join("junk.snapshot.json"), "[1, 2").unwrap();

    let out = run(dir.path(), &["views"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "\
count            behind     offset 153  lag 1 events (57 bytes)  version 0
foreign          mismatch   offset 76  replays the whole history  version 3
junk             unreadable offset 0  replays the whole history  version 0
stale            stale      offset 9000  replays the whole history  version 0
types            behind     offset 153  lag 1 events (57 bytes)  version 0
"
    );
    let json = run(dir.path(), &["views", "--json"]);
    let foreign: serde_json::Value =
        serde_json::from_str(json.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(foreign["view"], "count");
    assert_eq!(foreign["lag_events"], 1);

    let verify = run(dir.path(), &["verify"]);
    assert_eq!(verify.code, 1, "{}", verify.stderr);
    let lines: Vec<&str> = verify.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", verify.stdout);
    assert!(lines[0].starts_with(
        "error[snapshot] views/foreign.snapshot.json: the line ending at its offset 76 hashes to "
    ), "{}", lines[0]);
    assert!(lines[0].ends_with(
        ", not 0123456789abcdef: a snapshot of another log, or of one rewritten since; the view \
         replays the whole history at its next refresh"
    ));
    assert!(
        lines[1].starts_with("error[snapshot] views/junk.snapshot.json: not a snapshot ("),
        "{}",
        lines[1]
    );
    assert_eq!(
        lines[2],
        "error[snapshot] views/stale.snapshot.json: its offset 9000 lies past the end of app.jsonl \
         (210 bytes): it was taken of a log since replaced or cut; the view replays the whole \
         history at its next refresh"
    );
    assert_eq!(
        lines[3],
        "failed: 3 errors, 0 warnings in 8 events, 2 archive frames (364 bytes decompressed), 210 \
         bytes of app.jsonl, 5 snapshots"
    );
    let state = run(dir.path(), &["view", "junk", "--state"]);
    assert_eq!(state.code, 1);
    assert!(
        state
            .stderr
            .contains("junk.snapshot.json is not a snapshot"),
        "{}",
        state.stderr
    );
}
