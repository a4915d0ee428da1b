//! A healthy directory with two rotations behind it: every command's exact output, and the
//! directory exactly as it was after all of them.

mod common;

use common::{T0, healthy, healthy_events, line, listing, run, scrub};

/// Each event's line, newline included, in history order.
fn lines() -> Vec<String> {
    healthy_events().iter().map(|e| line(e) + "\n").collect()
}

#[test]
fn info_reports_files_events_times_views_and_rotation() {
    let dir = tempfile::tempdir().unwrap();
    healthy(dir.path());
    let out = run(dir.path(), &["info"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        scrub(&out.stdout, dir.path()),
        "\
directory           DIR
app.jsonl           153 bytes, 2 events
archive.jsonl.zst   207 bytes, 2 frames (2 sealed), 5 events, 364 bytes decompressed
archive.index.jsonl 565 bytes
events              7
first ts            2026-01-01T00:00:00Z (1767225600)
last ts             2026-01-02T00:01:00Z (1767312060)
end position        517
rotation            none
views
  count            current    offset 153  lag 0 events (0 bytes)  version 0
  types            current    offset 153  lag 0 events (0 bytes)  version 0
"
    );
    let json = run(dir.path(), &["info", "--json"]);
    let info: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(info["events"], 7);
    assert_eq!(info["archive.jsonl.zst"]["frames"], 2);
    assert_eq!(info["first"]["ts"], T0);
    assert_eq!(info["rotation"]["state"], "none");
    assert_eq!(info["views"][1]["view"], "types");
}

#[test]
fn log_prints_the_history_in_order_with_filters_limits_and_formats() {
    let dir = tempfile::tempdir().unwrap();
    healthy(dir.path());
    let lines = lines();
    let log = |args: &[&str]| {
        let out = run(dir.path(), &[&["log"], args].concat());
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr, "", "{args:?}");
        out.stdout
    };
    let pick = |indexes: &[usize]| {
        indexes
            .iter()
            .map(|&i| lines[i].as_str())
            .collect::<String>()
    };

    assert_eq!(log(&[]), lines.concat());
    assert_eq!(run(dir.path(), &["cat"]).stdout, lines.concat());
    assert_eq!(log(&["-n", "2"]), pick(&[0, 1]));
    assert_eq!(log(&["--tail", "2"]), pick(&[5, 6]));
    assert_eq!(log(&["--tail", "0"]), "");
    assert_eq!(log(&["--type", "todo_done"]), pick(&[2, 5]));
    assert_eq!(log(&["--type", "todo_*", "--type", "no?e"]), lines.concat());
    assert_eq!(
        log(&["--type", "todo_*", "-n", "3", "--actor", "ann"]),
        pick(&[0, 2, 3])
    );
    assert_eq!(log(&["--id", "e4", "--id", "e1"]), pick(&[1, 4]));
    assert_eq!(
        log(&["--since", "2026-01-01T01:00:00Z"]),
        pick(&[3, 4, 5, 6])
    );
    assert_eq!(log(&["--until", "2026-01-02"]), pick(&[0, 1, 2, 3, 4]));
    assert_eq!(
        log(&[
            "--since",
            &(T0 + 60).to_string(),
            "--until",
            &(T0 + 121).to_string()
        ]),
        pick(&[1, 2])
    );
    // Positions: 0, 77, 154 in the first frame, 230, 307 in the second, 364, 440 active.
    assert_eq!(log(&["--position", "154..364"]), pick(&[2, 3, 4]));
    assert_eq!(log(&["--position", "155.."]), pick(&[3, 4, 5, 6]));
    assert_eq!(log(&["--position", "..77"]), pick(&[0]));
    assert_eq!(
        log(&[
            "--format",
            "{index} {position} {type} {id} {actor} {time} {file}:{frame}:{offset}:{line}"
        ]),
        "\
0 0 todo_added e0 ann 2026-01-01T00:00:00Z archive.jsonl.zst:0:0:1
1 77 todo_added e1 bob 2026-01-01T00:01:00Z archive.jsonl.zst:0:77:2
2 154 todo_done e2 ann 2026-01-01T00:02:00Z archive.jsonl.zst:0:154:3
3 230 todo_added e3 ann 2026-01-01T01:00:00Z archive.jsonl.zst:108:230:4
4 307 note e4  2026-01-01T01:01:00Z archive.jsonl.zst:108:307:5
5 364 todo_done e5 bob 2026-01-02T00:00:00Z app.jsonl::0:1
6 440 todo_added e6 ann 2026-01-02T00:01:00Z app.jsonl::76:2
"
    );
    assert_eq!(
        log(&["--format", "pretty", "--type", "note"]),
        "2026-01-01T01:01:00Z  note  id=e4  {\"n\":3}\n"
    );
    assert_eq!(
        log(&["--format", "pretty", "--envelope", "--id", "e6"]),
        "app.jsonl byte 76 line 2 position 440  2026-01-02T00:01:00Z  todo_added  id=e6  actor=ann  \
         {\"n\":4}\n"
    );
    assert_eq!(
        log(&["--envelope", "--id", "e3"]),
        format!(
            "{{\"file\":\"archive.jsonl.zst\",\"frame\":108,\"offset\":230,\"line\":4,\
             \"position\":230,\"index\":3,\"event\":{}}}\n",
            lines[3].trim_end()
        )
    );
}

#[test]
fn usage_errors_exit_with_2() {
    let dir = tempfile::tempdir().unwrap();
    healthy(dir.path());
    for args in [
        &["log", "--since", "last tuesday"][..],
        &["log", "--position", "1-2"],
        &["log", "--format", "{nope}"],
        &["stats", "--by", "week"],
        &["frobnicate"],
        &["log", "-n", "1", "--tail", "1"],
    ] {
        let out = run(dir.path(), args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert_eq!(out.stdout, "", "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
    let outside = run(
        dir.path(),
        &[
            "export",
            "-o",
            &dir.path().join("x.jsonl").display().to_string(),
        ],
    );
    assert_eq!(outside.code, 2);
    assert!(
        outside.stderr.contains("inside the log directory"),
        "{}",
        outside.stderr
    );
}

#[test]
fn stats_counts_bytes_and_times_per_group() {
    let dir = tempfile::tempdir().unwrap();
    healthy(dir.path());
    let out = run(dir.path(), &["stats"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "\
type             count         bytes  first                 last
note                 1            57  2026-01-01T01:01:00Z  2026-01-01T01:01:00Z
todo_added           4           308  2026-01-01T00:00:00Z  2026-01-02T00:01:00Z
todo_done            2           152  2026-01-01T00:02:00Z  2026-01-02T00:00:00Z
total                7           517  2026-01-01T00:00:00Z  2026-01-02T00:01:00Z
"
    );
    let out = run(dir.path(), &["stats", "--by", "actor", "--type", "todo_*"]);
    assert_eq!(
        out.stdout,
        "\
actor       count         bytes  first                 last
ann             4           307  2026-01-01T00:00:00Z  2026-01-02T00:01:00Z
bob             2           153  2026-01-01T00:01:00Z  2026-01-02T00:00:00Z
total           6           460  2026-01-01T00:00:00Z  2026-01-02T00:01:00Z
"
    );
    let out = run(dir.path(), &["stats", "--by", "hour", "--json"]);
    assert_eq!(
        out.stdout,
        "\
{\"bytes\":230,\"count\":3,\"first_ts\":1767225600,\"hour\":\"2026-01-01T00\",\"last_ts\":1767225720}
{\"bytes\":134,\"count\":2,\"first_ts\":1767229200,\"hour\":\"2026-01-01T01\",\"last_ts\":1767229260}
{\"bytes\":153,\"count\":2,\"first_ts\":1767312000,\"hour\":\"2026-01-02T00\",\"last_ts\":1767312060}
{\"bytes\":517,\"count\":7,\"first_ts\":1767225600,\"last_ts\":1767312060,\"total\":true}
"
    );
    let days = run(
        dir.path(),
        &["stats", "--by", "day", "--since", "2026-01-02"],
    );
    assert!(
        days.stdout
            .contains("\n2026-01-02           2           153  "),
        "{}",
        days.stdout
    );
}

#[test]
fn verify_views_and_view_state_on_a_healthy_directory() {
    let dir = tempfile::tempdir().unwrap();
    healthy(dir.path());
    let out = run(dir.path(), &["verify"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "ok: 0 errors, 0 warnings in 7 events, 2 archive frames (364 bytes decompressed), 153 \
         bytes of app.jsonl, 2 snapshots\n"
    );
    let quick = run(dir.path(), &["verify", "--quick", "--json"]);
    assert_eq!(quick.code, 0);
    assert_eq!(
        quick.stdout,
        "{\"active_bytes\":153,\"archive_bytes\":207,\"archive_content_bytes\":0,\
         \"archive_frames\":2,\"clean\":true,\"errors\":0,\"events\":2,\"quick\":true,\
         \"record\":\"summary\",\"snapshots\":2,\"warnings\":0}\n"
    );
    assert_eq!(run(dir.path(), &["verify", "-q"]).stdout, "");

    let views = run(dir.path(), &["views"]);
    assert_eq!(
        views.stdout,
        "\
count            current    offset 153  lag 0 events (0 bytes)  version 0
types            current    offset 153  lag 0 events (0 bytes)  version 0
"
    );
    let state = run(dir.path(), &["view", "types", "--state"]);
    assert_eq!(
        state.stdout,
        "{\"note\":1,\"todo_added\":4,\"todo_done\":2}\n"
    );
    assert_eq!(run(dir.path(), &["view", "count", "--state"]).stdout, "7\n");
    let missing = run(dir.path(), &["view", "nope", "--state"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("views/nope.snapshot.json"),
        "{}",
        missing.stderr
    );
    assert_eq!(run(dir.path(), &["view", "../x", "--state"]).code, 1);
}

#[test]
fn export_is_the_history_a_replay_folds() {
    let dir = tempfile::tempdir().unwrap();
    healthy(dir.path());
    let lines = lines();
    let out = run(dir.path(), &["export"]);
    assert_eq!(out.stdout, lines.concat());
    let with = run(dir.path(), &["export", "--with-position", "--type", "note"]);
    assert_eq!(
        with.stdout,
        "{\"position\":307,\"type\":\"note\",\"data\":{\"n\":3},\"ts\":1767229260,\"id\":\"e4\"}\n"
    );
    let out_dir = tempfile::tempdir().unwrap();
    let file = out_dir.path().join("history.jsonl");
    let to_file = run(dir.path(), &["export", "-o", &file.display().to_string()]);
    assert_eq!((to_file.code, to_file.stdout.as_str()), (0, ""));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), lines.concat());
}

/// Every command leaves every file as it found it: no file created, none changed, not even
/// the archive index after it was deleted (a reader that may write would save it again).
#[test]
fn no_command_writes_into_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    drop(healthy(dir.path()));
    std::fs::remove_file(dir.path().join("archive.index.jsonl")).unwrap();
    let before = listing(dir.path());
    let out_dir = tempfile::tempdir().unwrap();
    let export = out_dir.path().join("e.jsonl").display().to_string();
    let salvaged = out_dir.path().join("s").display().to_string();
    let commands: [&[&str]; 14] = [
        &["info"],
        &["info", "--json", "-v"],
        &["log"],
        &["log", "--position", "230.."],
        &["log", "--tail", "3", "--envelope"],
        &["stats", "--by", "day"],
        &["verify"],
        &["verify", "--quick"],
        &["views"],
        &["view", "count"],
        &["view", "types", "--state"],
        &["export", "--with-position"],
        &["export", "-o", &export],
        &["salvage", &salvaged],
    ];
    for args in commands {
        let out = run(dir.path(), args);
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        assert_eq!(
            listing(dir.path()),
            before,
            "{args:?} changed the directory"
        );
    }
}
