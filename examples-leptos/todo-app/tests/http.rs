//! The whole flow over plain HTTP, as a browser without JavaScript sends it: form posts to the
//! server-function endpoints, then the page they redirect to. Runs without a browser.

mod common;

use common::{Server, call_json, get, post_form, rows, stats};
use serde_json::json;

/// Small enough that the flow below rotates the log into `archive.jsonl.zst` at least once.
const MAX_LOG_SIZE: u64 = 600;

#[test]
fn add_toggle_delete_and_restart_over_http() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), MAX_LOG_SIZE);
    let url = server.url.clone();

    let page = get(&url, "/");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Nothing to do"), "an empty list says so");
    assert_eq!(stats(&page.body), ["0", "0", "0", "0", "0%"]);

    for text in [
        "Buy milk",
        "Write the docs",
        "<script>alert('x')</script> & co",
    ] {
        let r = post_form(&url, "/api/add_todo", &[("text", text)]);
        assert_eq!(
            (r.status, r.location.as_deref()),
            (302, Some("/")),
            "adding {text:?}"
        );
    }
    let page = get(&url, "/").body;
    let added = rows(&page);
    let texts: Vec<_> = added.iter().map(|r| r.html_text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "Buy milk",
            "Write the docs",
            "&lt;script&gt;alert('x')&lt;/script&gt; &amp; co"
        ]
    );
    assert!(!page.contains("<script>alert"), "todo text must be escaped");
    for row in &added {
        assert!(is_uuid_v4(&row.id), "{:?} is not a UUID v4", row.id);
    }

    let r = post_form(&url, "/api/toggle_todo", &[("id", &added[0].id)]);
    assert_eq!((r.status, r.location.as_deref()), (302, Some("/")));
    let r = post_form(&url, "/api/delete_todo", &[("id", &added[2].id)]);
    assert_eq!((r.status, r.location.as_deref()), (302, Some("/")));

    let page = get(&url, "/").body;
    let expected_rows = vec![
        common::Row {
            done: true,
            ..added[0].clone()
        },
        added[1].clone(),
    ];
    assert_eq!(rows(&page), expected_rows);
    let expected_stats = ["3", "1", "1", "1", "50%"];
    assert_eq!(stats(&page), expected_stats);
    let expected_json = json!({
        "created": 3, "completed": 1, "open": 1, "deleted": 1, "completion_percent": 50
    });
    assert_eq!(call_json(&url, "/api/get_stats", ""), expected_json);

    server.stop();
    for file in [
        "app.jsonl",
        "archive.jsonl.zst",
        "views/todos.snapshot.json",
        "views/stats.snapshot.json",
    ] {
        assert!(
            data.path().join(file).is_file(),
            "{file} should exist in the data directory"
        );
    }

    // Restart from the snapshots, then again with them deleted: the views are rebuilt from the
    // archive and the log.
    for how in ["from the snapshots", "from the archive and the log"] {
        let server = Server::start(data.path(), MAX_LOG_SIZE);
        let page = get(&server.url, "/").body;
        assert_eq!(rows(&page), expected_rows, "the list after a restart {how}");
        assert_eq!(
            stats(&page),
            expected_stats,
            "the stats after a restart {how}"
        );
        assert_eq!(call_json(&server.url, "/api/get_stats", ""), expected_json);
        server.stop();
        std::fs::remove_dir_all(data.path().join("views")).unwrap();
    }
}

#[test]
fn bad_requests_are_refused_with_a_visible_message() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), 0);
    let url = server.url.clone();

    let too_long = "x".repeat(501);
    let cases = [
        ("/api/add_todo", ("text", ""), "empty", "cannot be empty"),
        (
            "/api/add_todo",
            ("text", " \t\n "),
            "empty",
            "cannot be empty",
        ),
        (
            "/api/add_todo",
            ("text", too_long.as_str()),
            "too-long",
            "500 characters",
        ),
        (
            "/api/toggle_todo",
            ("id", "no-such-id"),
            "not-found",
            "no longer exists",
        ),
        (
            "/api/delete_todo",
            ("id", "no-such-id"),
            "not-found",
            "no longer exists",
        ),
    ];
    for (path, field, code, message) in cases {
        let r = post_form(&url, path, &[field]);
        let location = format!("/?error={code}");
        assert_eq!(
            (r.status, r.location.as_deref()),
            (302, Some(location.as_str())),
            "{path}"
        );
        let page = get(&url, &location).body;
        assert!(
            page.contains("class=\"problem\""),
            "{path}: no message shown"
        );
        assert!(
            page.contains(message),
            "{path}: the message should say {message:?}"
        );
    }

    // Exactly 500 characters is accepted, and the next success clears the message.
    let r = post_form(&url, "/api/add_todo", &[("text", &"é".repeat(500))]);
    assert_eq!((r.status, r.location.as_deref()), (302, Some("/")));
    let page = get(&url, "/").body;
    assert!(!page.contains("class=\"problem\""));
    assert_eq!(rows(&page).len(), 1);
    assert_eq!(
        stats(&page),
        ["1", "0", "1", "0", "0%"],
        "refusals record no event"
    );
    server.stop();
}

#[test]
fn a_second_server_on_the_same_data_is_refused() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), 0);
    let second = std::process::Command::new(env!("CARGO_BIN_EXE_todo-app"))
        .args(["--addr", "127.0.0.1:0", "--data"])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(
        !second.status.success(),
        "two processes must not share one log"
    );
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("another writer holds the lock"),
        "stderr: {stderr}"
    );
    server.stop();
}

fn is_uuid_v4(s: &str) -> bool {
    let groups: Vec<_> = s.split('-').map(str::len).collect();
    groups == [8, 4, 4, 4, 12]
        && s.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
        && s.as_bytes()[14] == b'4'
}

/// `GET /events` is a server-sent event stream that announces every change to the log, here
/// one made by a form post on another connection; it ends when the server stops.
#[test]
fn events_announce_every_change() {
    use std::io::{Read, Write};
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), MAX_LOG_SIZE);
    let host = server.url.trim_start_matches("http://").to_string();
    let mut events = std::net::TcpStream::connect(&host).unwrap();
    events
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    write!(
        events,
        "GET /events HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();

    // Reads until `needle` has come, returning all that came so far.
    let mut received = Vec::new();
    let mut read_until = |needle: &str| -> String {
        let mut buf = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&received).into_owned();
            if text.contains(needle) {
                return text;
            }
            let n = events.read(&mut buf).expect("the event stream stalled");
            assert!(n > 0, "the event stream ended early: {text}");
            received.extend_from_slice(&buf[..n]);
        }
    };
    let head = read_until("\r\n\r\n").to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-type: text/event-stream"), "{head}");

    let r = post_form(
        &server.url,
        "/api/add_todo",
        &[("text", "Heard by every page")],
    );
    assert_eq!(r.status, 302);
    let end = std::fs::metadata(data.path().join("app.jsonl"))
        .unwrap()
        .len();
    let text = read_until(&format!("data: {end}\n"));
    assert!(text.contains("event: change\n"), "{text}");
    server.stop();
}

/// Every point of the history is a page: `/?at=N` shows the list and the stats exactly as a
/// plain fold of the log's first `N` events gives them, read-only, across rotations, whether
/// the views start from their checkpoints or, once those are deleted, from the first event.
#[test]
fn every_point_of_the_history_is_a_read_only_page() {
    use eventfold::{Event, EventReader, Position};
    use todo_app::server::CHECKPOINT_EVERY;
    use todo_app::state::{StatsState, TodoState, stats_reducer, todo_reducer};

    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), MAX_LOG_SIZE);
    let url = server.url.clone();
    // Twelve todos, every other one done, every third deleted, one done again: 25 events.
    for i in 0..12 {
        let r = post_form(&url, "/api/add_todo", &[("text", &format!("Todo {i}"))]);
        assert_eq!(r.location.as_deref(), Some("/"));
    }
    let ids: Vec<String> = rows(&get(&url, "/").body)
        .into_iter()
        .map(|r| r.id)
        .collect();
    for id in ids.iter().step_by(2) {
        post_form(&url, "/api/toggle_todo", &[("id", id)]);
    }
    for id in ids.iter().step_by(3) {
        post_form(&url, "/api/delete_todo", &[("id", id)]);
    }
    post_form(&url, "/api/toggle_todo", &[("id", &ids[4])]);

    let events: Vec<Event> = EventReader::new(data.path())
        .read_history(Position::START)
        .unwrap()
        .map(|e| e.unwrap().event)
        .collect();
    let total = events.len();
    assert_eq!(total, 12 + 6 + 4 + 1);
    assert!(
        data.path().join("archive.jsonl.zst").is_file(),
        "the history spans a rotation"
    );
    for view in ["todos", "stats", "timeline"] {
        let dir = data
            .path()
            .join("views")
            .join(format!("{view}.checkpoints"));
        let tenth = dir.join(format!("{CHECKPOINT_EVERY:020}.json"));
        assert!(tenth.is_file(), "{} should exist", tenth.display());
    }

    // The page of each point against a plain fold of the events before it.
    let check_every_point = |url: &str, how: &str| {
        for n in 0..=total {
            let page = get(url, &format!("/?at={n}"));
            assert_eq!(page.status, 200);
            let todos = events[..n].iter().fold(TodoState::default(), todo_reducer);
            let expected: Vec<common::Row> = todos
                .items
                .iter()
                .map(|t| common::Row {
                    id: t.id.clone(),
                    html_text: t.text.clone(),
                    done: t.done,
                })
                .collect();
            assert_eq!(rows(&page.body), expected, "the list at {n} ({how})");
            let s = events[..n]
                .iter()
                .fold(StatsState::default(), stats_reducer)
                .summary();
            let expected = [s.created, s.completed, s.open, s.deleted]
                .map(|v| v.to_string())
                .into_iter()
                .chain([format!("{}%", s.completion_percent)])
                .collect::<Vec<_>>();
            assert_eq!(stats(&page.body), *expected, "the stats at {n} ({how})");
            assert!(
                !page.body.contains("action=\"/api/"),
                "the page at {n} offers no action: the past is read-only"
            );
            let label = if n == 0 {
                format!("Before the first of {total} events")
            } else {
                format!("After event {n} of {total}")
            };
            assert!(page.body.contains(&label), "{label:?} at {n}");
        }
    };
    check_every_point(&url, "from the checkpoints");

    // Now is the page without `at`, where todos can be changed; an `at` that is not a number
    // is now too, and one past the end shows every event.
    for path in ["/", "/?at=soon"] {
        let page = get(&url, path).body;
        assert!(page.contains("action=\"/api/add_todo\""), "{path}");
        assert!(
            page.contains(&format!("Now, after {total} events")),
            "{path}"
        );
    }
    let beyond = get(&url, "/?at=1000").body;
    assert_eq!(rows(&beyond), rows(&get(&url, "/").body));
    assert!(beyond.contains(&format!("After event {total} of {total}")));

    // The server functions take the same point.
    let todos = call_json(&url, "/api/get_todos", "at=13");
    let texts: Vec<&str> = todos
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        (0..12).map(|i| format!("Todo {i}")).collect::<Vec<_>>()
    );
    let history = call_json(&url, "/api/get_history", "at=13");
    assert_eq!(history["events"], json!(total));
    assert_eq!(history["shown"]["events"], json!(13));
    assert_eq!(
        history["shown"]["last"]["event_type"],
        json!("todo_toggled")
    );

    // Without checkpoints (they are caches), every point is folded from the first event, to
    // the same pages.
    for view in ["todos", "stats", "timeline"] {
        let dir = data
            .path()
            .join("views")
            .join(format!("{view}.checkpoints"));
        std::fs::remove_dir_all(dir).unwrap();
    }
    check_every_point(&url, "from the first event");
    server.stop();

    // A view replayed from scratch writes its checkpoints again as it passes them.
    std::fs::remove_dir_all(data.path().join("views")).unwrap();
    let server = Server::start(data.path(), MAX_LOG_SIZE);
    for view in ["todos", "stats", "timeline"] {
        let dir = data
            .path()
            .join("views")
            .join(format!("{view}.checkpoints"));
        for n in [CHECKPOINT_EVERY, 2 * CHECKPOINT_EVERY] {
            let file = dir.join(format!("{n:020}.json"));
            assert!(file.is_file(), "{} should exist again", file.display());
        }
    }
    check_every_point(&server.url, "after a rebuild");
    server.stop();
}
