//! `eventfold export` piped into DuckDB's `read_json` gives the counts a view folds. DuckDB
//! comes from PyPI, installed into `target/` by `scripts/test-services.sh` (which
//! `scripts/test.sh` runs); without it the test says so and does not run, unless
//! `EVENTFOLD_TEST_SERVICES=required`, where it fails.

mod common;

use assert_cmd::cargo::CommandCargoExt;
use common::{T0, event, open};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

#[test]
fn export_into_duckdb_counts_what_a_view_counts() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/duckdb-env.sh");
    let env = Command::new("bash")
        .arg(script)
        .arg("--check")
        .output()
        .unwrap();
    let test = "export_into_duckdb_counts_what_a_view_counts";
    if !eventfold_relay_testkit::needs(test, "DuckDB", env.status.success()) {
        return;
    }
    let python = String::from_utf8(env.stdout).unwrap().trim().to_string();

    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path());
    let kinds = [
        "todo_added",
        "todo_done",
        "note",
        "todo_added",
        "user_renamed",
    ];
    for n in 0..3000u64 {
        let actor = (n % 4 == 0).then_some("ann");
        log.append(&event(
            kinds[(n % 5) as usize],
            n,
            T0 + n,
            &format!("e{n}"),
            actor,
        ))
        .unwrap();
        if n % 700 == 699 {
            log.rotate().unwrap();
        }
    }
    log.refresh_all().unwrap();
    let view = log.view::<BTreeMap<String, u64>>("types").unwrap().clone();

    let mut export = Command::cargo_bin("eventfold")
        .unwrap()
        .arg("-C")
        .arg(dir.path())
        .args(["export", "--with-position"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let sql = "select type, count(*), min(position), max(position) from read_json('/dev/stdin', \
               format = 'newline_delimited', columns = {position: 'UBIGINT', type: 'VARCHAR', \
               ts: 'UBIGINT', data: 'JSON'}) group by type order by type";
    let program = format!(
        "import duckdb, json\nprint(json.dumps([list(r) for r in duckdb.sql(\"{sql}\").fetchall()]))"
    );
    let query = Command::new(&python)
        .args(["-c", &program])
        .stdin(export.stdout.take().unwrap())
        .output()
        .unwrap();
    assert!(export.wait().unwrap().success());
    assert!(
        query.status.success(),
        "{}",
        String::from_utf8_lossy(&query.stderr)
    );
    let rows: Vec<(String, u64, u64, u64)> = serde_json::from_slice(&query.stdout).unwrap();
    let counts: BTreeMap<String, u64> = rows.iter().map(|r| (r.0.clone(), r.1)).collect();
    assert_eq!(counts, view);
    assert_eq!(rows.iter().map(|r| r.1).sum::<u64>(), 3000);
    assert_eq!(
        rows.iter().map(|r| r.2).min(),
        Some(0),
        "positions start at the first event"
    );
}
