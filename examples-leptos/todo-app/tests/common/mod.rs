//! Shared by the integration tests: the server process, a tiny HTTP client, and readers for the
//! rendered page.

#![allow(dead_code)] // each test file uses its own part of this module

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The todo-app binary, serving on a port of its own choosing, killed when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`, as the server printed it.
    pub url: String,
    output: mpsc::Receiver<String>,
}

impl Server {
    /// Starts the server on `data_dir` (and an OS-chosen port) and waits until it listens.
    pub fn start(data_dir: &Path, max_log_size: u64) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_todo-app"))
            .args(["--addr", "127.0.0.1:0", "--data"])
            .arg(data_dir)
            .args(["--max-log-size", &max_log_size.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start the todo-app binary");
        let stdout = child.stdout.take().unwrap();
        let (tx, output) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                println!("[server] {line}");
                let _ = tx.send(line);
            }
        });
        let mut server = Server {
            child,
            url: String::new(),
            output,
        };
        server.url = server
            .wait_for_line("listening on ", Duration::from_secs(30))
            .trim_start_matches("listening on ")
            .to_string();
        server
    }

    /// Waits for a line of the server's stdout that starts with `prefix`; panics after
    /// `timeout` or if the server exits first.
    pub fn wait_for_line(&mut self, prefix: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(_) => {}
                Err(e) => panic!("the server printed no {prefix:?} line: {e:?}"),
            }
        }
    }

    /// Stops the server as Ctrl-C would, and checks that it shuts down cleanly.
    pub fn stop(mut self) {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("cannot run kill");
        assert!(status.success(), "kill -INT failed");
        self.wait_for_line("stopped", Duration::from_secs(15));
        let deadline = Instant::now() + Duration::from_secs(15);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not exit after Ctrl-C"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(
            status.success(),
            "the server exited with {status} after Ctrl-C"
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// An HTTP response, as far as these tests care.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

/// `GET base + path`.
pub fn get(base: &str, path: &str) -> Response {
    request(base, "GET", path, &[], "")
}

/// Posts a url-encoded form the way a browser without JavaScript does: it accepts text/html
/// and names the page it came from.
pub fn post_form(base: &str, path: &str, fields: &[(&str, &str)]) -> Response {
    let body = fields
        .iter()
        .map(|(k, v)| format!("{}={}", url_encode(k), url_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let referer = format!("{base}/");
    let headers = [
        ("Accept", "text/html,application/xhtml+xml"),
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Referer", referer.as_str()),
    ];
    request(base, "POST", path, &headers, &body)
}

/// Calls a server function the way the Leptos client does, with its arguments url-encoded in
/// `body`, and returns its JSON result.
pub fn call_json(base: &str, path: &str, body: &str) -> serde_json::Value {
    let headers = [("Content-Type", "application/x-www-form-urlencoded")];
    let response = request(base, "POST", path, &headers, body);
    assert_eq!(response.status, 200, "{path}: {}", response.body);
    serde_json::from_str(&response.body).expect("a server function returns JSON")
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`, so the body ends at EOF).
fn request(base: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Response {
    let host = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).expect("cannot connect to the server");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8(raw).expect("the response is UTF-8");
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .expect("a complete HTTP response");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let location = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("location: ")
                .or_else(|| l.strip_prefix("Location: "))
        })
        .map(str::to_string);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Response {
        status,
        location,
        body,
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").expect("a chunk size line");
        let size = usize::from_str_radix(size.trim(), 16).expect("a hex chunk size");
        if size == 0 {
            return out;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One todo as the rendered page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub id: String,
    /// The text exactly as in the HTML source (so still escaped).
    pub html_text: String,
    pub done: bool,
}

/// The rows of the list in a rendered page, in order.
pub fn rows(page: &str) -> Vec<Row> {
    page.split("<li ")
        .skip(1)
        .map(|li| {
            let tag = &li[..li.find('>').unwrap()];
            let classes = between(tag, "class=\"", "\"");
            assert!(
                classes.split(' ').any(|c| c == "todo"),
                "a list item without class todo"
            );
            Row {
                id: between(tag, "data-id=\"", "\""),
                html_text: between(li, "<span class=\"text\">", "</span>"),
                done: classes.split(' ').any(|c| c == "done"),
            }
        })
        .collect()
}

/// The numbers of the stats panel in a rendered page: created, completed, open, deleted and
/// the completion rate.
pub fn stats(page: &str) -> [String; 5] {
    let stat = |name: &str| {
        let from = page
            .find(&format!("data-stat=\"{name}\""))
            .unwrap_or_else(|| panic!("no {name} stat in the page"));
        let rest = &page[from..];
        if name == "completion" {
            between(rest, "<strong>", "</strong>")
        } else {
            between(rest, "<dd>", "</dd>")
        }
    };
    ["created", "completed", "open", "deleted", "completion"].map(stat)
}

/// The text between the first `start` and the next `end`; Leptos's hydration markers
/// (`<!-- -->`) are dropped.
fn between(s: &str, start: &str, end: &str) -> String {
    let from = s
        .find(start)
        .unwrap_or_else(|| panic!("no {start:?} in {s:.200}"))
        + start.len();
    let to = s[from..].find(end).unwrap() + from;
    s[from..to].replace("<!-- -->", "").replace("<!>", "")
}
