//! `eventfold views` shows a background rebuild from its shadow (`views/NAME.rebuild.json`),
//! read-only.

mod common;

use common::{healthy, run};
use serde_json::json;

#[test]
fn views_shows_a_rebuild_in_progress() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = healthy(dir.path());
    log.refresh_all().unwrap();
    // What a rebuild to version 2 saves after folding 3 of the 7 events (the third ends the
    // first rotation's frame): its position, and the hash of its line.
    let history: Vec<_> = log
        .reader()
        .read_history(eventfold::Position::new(0))
        .unwrap()
        .collect();
    let third = history[2].as_ref().unwrap();
    let line = serde_json::to_string(&third.event).unwrap();
    let shadow = json!({
        "version": 2, "position": third.end.offset(), "hash": eventfold::line_hash(line.as_bytes()),
        "events": 3, "total": 7, "state": 3,
    });
    let path = dir.path().join("views/count.rebuild.json");
    std::fs::write(&path, serde_json::to_vec(&shadow).unwrap()).unwrap();
    let orphan = json!({
        "version": 1, "position": third.end.offset(), "hash": "0000000000000000",
        "events": 3, "total": 6, "state": 3,
    });
    std::fs::write(
        dir.path().join("views/other.rebuild.json"),
        serde_json::to_vec(&orphan).unwrap(),
    )
    .unwrap();
    let before = std::fs::read(&path).unwrap();

    let views = run(dir.path(), &["views"]);
    assert_eq!(views.code, 0, "{}", views.stderr);
    let lines: Vec<&str> = views.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", views.stdout);
    assert!(
        lines[0].starts_with("count ")
            && lines[0].ends_with("rebuilding to version 2: 42% (3 of 7 events)"),
        "{}",
        lines[0]
    );
    assert!(!lines[1].contains("rebuilding"), "{}", lines[1]);
    assert!(
        lines[2].starts_with("other ")
            && lines[2].ends_with("rebuilding to version 1: 50% (3 of 6 events, not resumable)"),
        "{}",
        lines[2]
    );

    let json = run(dir.path(), &["views", "--json"]);
    let objects: Vec<serde_json::Value> = json
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objects[0]["view"], "count");
    assert_eq!(objects[0]["status"], "current");
    assert_eq!(
        (
            &objects[0]["rebuild"]["version"],
            &objects[0]["rebuild"]["events"]
        ),
        (&json!(2), &json!(3))
    );
    assert_eq!(objects[0]["rebuild"]["resumable"], true);
    assert!(objects[1].get("rebuild").is_none());
    assert_eq!(objects[2]["view"], "other");
    assert_eq!(objects[2]["rebuild"]["resumable"], false);
    assert_eq!(std::fs::read(&path).unwrap(), before, "read-only");
}
