//! Tables whose first column holds characters a terminal draws two columns wide (CJK, emoji):
//! `stats` by type, `views` and the views of `info` keep their columns lined up, measured in
//! terminal columns.

mod common;

use assert_cmd::Command;
use eventfold::{Event, EventLog};
use std::path::Path;
use unicode_width::UnicodeWidthStr;

const TYPES: [&str; 4] = ["注文を作成", "🎉", "todo_added", "配送済み🚚"];
const VIEWS: [&str; 3] = ["件数", "🎉_count", "count"];

fn fixture(dir: &Path) {
    let mut builder = EventLog::builder(dir);
    for name in VIEWS {
        builder = builder.view::<u64>(name, common::count);
    }
    let mut log: EventLog = builder.open().unwrap();
    for (n, kind) in TYPES.iter().cycle().take(10).enumerate() {
        log.append(&Event::new(kind, serde_json::json!({ "n": n })))
            .unwrap();
    }
    log.refresh_all().unwrap();
    log.save_all().unwrap();
}

fn run(dir: &Path, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_eventfold"))
        .arg("-C")
        .arg(dir)
        .args(["--color", "never"])
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// The terminal columns of `line` up to the end of its `n`th field (fields are separated by
/// spaces; the first holds none here).
fn columns_to_end_of_field(line: &str, n: usize) -> usize {
    let mut fields = 0;
    let mut in_field = false;
    for (i, c) in line.char_indices() {
        match (c == ' ', in_field) {
            (true, true) => {
                in_field = false;
                if fields == n {
                    return line[..i].width();
                }
            }
            (false, false) => {
                in_field = true;
                fields += 1;
            }
            _ => {}
        }
    }
    line.width()
}

/// The terminal columns of `line` up to the start of its `n`th field.
fn columns_to_field(line: &str, n: usize) -> usize {
    let end_of_previous = columns_to_end_of_field(line, n - 1);
    let spaces = line
        .chars()
        .scan(0, |columns, c| {
            *columns += c.to_string().width();
            Some((*columns, c))
        })
        .skip_while(|(columns, _)| *columns <= end_of_previous)
        .take_while(|(_, c)| *c == ' ')
        .count();
    end_of_previous + spaces
}

fn all_equal(what: &str, lines: &[&str], columns: impl Fn(&str) -> usize) {
    let measured: Vec<usize> = lines.iter().map(|l| columns(l)).collect();
    assert!(
        measured.windows(2).all(|w| w[0] == w[1]),
        "{what}: columns {measured:?} in\n{}",
        lines.join("\n")
    );
}

#[test]
fn stats_by_type_lines_up_wide_types() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let table = run(dir.path(), &["stats", "--by", "type"]);
    let lines: Vec<&str> = table.lines().collect();
    // The header, four types and the total.
    assert_eq!(lines.len(), 6, "{table}");
    for kind in TYPES {
        assert!(table.contains(kind), "{kind} in {table}");
    }
    // count and bytes are right-aligned: their ends line up; first starts in one column.
    all_equal("end of count", &lines, |l| columns_to_end_of_field(l, 2));
    all_equal("end of bytes", &lines, |l| columns_to_end_of_field(l, 3));
    all_equal("start of first", &lines, |l| columns_to_field(l, 4));
}

#[test]
fn views_and_info_line_up_wide_view_names() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let views = run(dir.path(), &["views"]);
    let lines: Vec<&str> = views.lines().collect();
    assert_eq!(lines.len(), VIEWS.len(), "{views}");
    all_equal("views: start of status", &lines, |l| columns_to_field(l, 2));
    all_equal("views: start of offset", &lines, |l| columns_to_field(l, 3));

    let info = run(dir.path(), &["info"]);
    let listed: Vec<&str> = info
        .lines()
        .skip_while(|l| *l != "views")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .collect();
    assert_eq!(listed.len(), VIEWS.len(), "{info}");
    all_equal("info: start of status", &listed, |l| columns_to_field(l, 2));
}
