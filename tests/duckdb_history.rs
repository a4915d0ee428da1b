//! DuckDB over the history: the SQL recipes of `docs/scale-out.md`, run by DuckDB straight on
//! `archive.jsonl.zst` and `app.jsonl` of a directory with rotations behind it and a torn last
//! line, give what views folded by eventfold give. DuckDB comes from PyPI, installed into
//! `target/` by `scripts/test-services.sh` (which `scripts/test.sh` runs); without it the test
//! says so and does not run, unless `EVENTFOLD_TEST_SERVICES=required`, where it fails.

use eventfold::{Event, EventLog, EventRef};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

const T0: u64 = 1_767_225_600;

fn types(mut counts: BTreeMap<String, u64>, event: &EventRef<'_>) -> BTreeMap<String, u64> {
    *counts.entry(event.event_type().to_string()).or_default() += 1;
    counts
}

fn days(mut counts: BTreeMap<u64, u64>, event: &EventRef<'_>) -> BTreeMap<u64, u64> {
    *counts.entry(event.ts() - event.ts() % 86_400).or_default() += 1;
    counts
}

/// Each todo's last event type and its `ts`.
fn last(mut state: BTreeMap<u64, (String, u64)>, event: &Event) -> BTreeMap<u64, (String, u64)> {
    if let Some(id) = event.data["id"].as_u64() {
        state.insert(id, (event.event_type.clone(), event.ts));
    }
    state
}

/// The python interpreter with DuckDB, if `scripts/duckdb-env.sh --check` finds it; when it
/// does not, fails where the services are required and says which test did not run elsewhere.
fn duckdb_python(test: &str) -> Option<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/duckdb-env.sh");
    let out = Command::new("bash")
        .arg(script)
        .arg("--check")
        .output()
        .expect("run scripts/duckdb-env.sh");
    if out.status.success() {
        return Some(String::from_utf8(out.stdout).unwrap().trim().to_string());
    }
    let how = "bash scripts/test-services.sh installs it (bash scripts/test.sh runs every test)";
    let required = std::env::var("EVENTFOLD_TEST_SERVICES").is_ok_and(|v| v == "required");
    assert!(!required, "{test}: DuckDB is not installed; {how}");
    // Straight to stderr: the test harness captures only what the print macros write.
    let _ = writeln!(
        std::io::stderr(),
        "NOT RUN {test}: DuckDB is not installed; {how}"
    );
    None
}

/// The `-- recipe: NAME` SQL blocks of docs/scale-out.md, with `data/` made `dir`.
fn recipes(dir: &Path) -> BTreeMap<String, String> {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/scale-out.md"))
            .unwrap();
    let mut found = BTreeMap::new();
    for block in doc.split("```sql\n").skip(1) {
        let sql = block.split("```").next().unwrap();
        let name = sql
            .lines()
            .next()
            .unwrap()
            .strip_prefix("-- recipe: ")
            .expect("a named recipe");
        found.insert(
            name.to_string(),
            sql.replace("'data/", &format!("'{}/", dir.display())),
        );
    }
    found
}

/// Runs `setup`, then each query, in one DuckDB connection; returns each query's rows.
fn duckdb(
    python: &str,
    setup: &str,
    queries: &BTreeMap<String, String>,
) -> BTreeMap<String, Value> {
    let program = r#"
import duckdb, json, sys
job = json.load(sys.stdin)
con = duckdb.connect()
con.execute(job["setup"])
out = {name: [list(row) for row in con.execute(sql).fetchall()] for name, sql in job["queries"].items()}
print(json.dumps(out, default=str))
"#;
    let mut child = Command::new(python)
        .args(["-c", program])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let job = json!({ "setup": setup, "queries": queries });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(job.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn duckdb_recipes_agree_with_views() {
    let Some(python) = duckdb_python("duckdb_recipes_agree_with_views") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut log = EventLog::builder(dir.path())
        .max_log_size(4_000)
        .view_ref::<BTreeMap<String, u64>>("types", types)
        .view_ref::<BTreeMap<u64, u64>>("days", days)
        .view::<BTreeMap<u64, (String, u64)>>("last", last)
        .open()
        .unwrap();
    for k in 0..600u64 {
        let todo = k % 37;
        let (kind, data) = match k % 5 {
            0 | 1 => (
                "todo_added",
                json!({ "id": todo, "text": format!("todo {k} \"quoted\" ☕") }),
            ),
            2 => ("todo_done", json!({ "id": todo })),
            3 => ("todo_renamed", json!({ "id": todo, "text": ["a", "list"] })),
            _ => ("tick", json!(k)),
        };
        let mut event = Event::new(kind, data).with_id(format!("e{k}"));
        event.ts = T0 + k * 1_000;
        if k % 3 == 0 {
            event = event.with_actor("ann").with_meta(json!({ "k": k }));
        }
        log.append(&event).unwrap();
    }
    log.refresh_all().unwrap();
    assert!(
        std::fs::metadata(log.archive_path()).unwrap().len() > 0,
        "rotations happened"
    );
    let mut torn = std::fs::OpenOptions::new()
        .append(true)
        .open(log.log_path())
        .unwrap();
    torn.write_all(br#"{"type":"todo_added","data":{"id":"#)
        .unwrap();

    let mut queries = recipes(dir.path());
    let setup = queries.remove("history").expect("the history recipe");
    let results = duckdb(&python, &setup, &queries);

    let counts: BTreeMap<String, u64> = results["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row[0].as_str().unwrap().to_string(),
                row[1].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(&counts, log.view::<BTreeMap<String, u64>>("types").unwrap());

    let buckets: Vec<u64> = results["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row[1].as_u64().unwrap())
        .collect();
    let by_day: Vec<u64> = log
        .view::<BTreeMap<u64, u64>>("days")
        .unwrap()
        .values()
        .copied()
        .collect();
    assert_eq!(buckets, by_day);
    let first_day = results["buckets"][0][0].as_str().unwrap();
    assert!(first_day.starts_with("2026-01-01 00:00:00"), "{first_day}");

    let last_state: BTreeMap<u64, (String, u64)> = results["last-state"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let todo = row[0].as_u64().unwrap();
            (
                todo,
                (
                    row[1].as_str().unwrap().to_string(),
                    row[2].as_u64().unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(
        &last_state,
        log.view::<BTreeMap<u64, (String, u64)>>("last").unwrap()
    );
}
