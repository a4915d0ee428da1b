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
    assert_eq!(call_json(&url, "/api/get_stats"), expected_json);

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
        assert_eq!(call_json(&server.url, "/api/get_stats"), expected_json);
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
