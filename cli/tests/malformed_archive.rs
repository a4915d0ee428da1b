//! A malformed line in the middle of the archive: verify names its frame, offset and line;
//! readers give every event before it and stop there, as a replay does.

mod common;

use common::{T0, archive_lines, event, line, run, scrub};

#[test]
fn a_malformed_archived_line_is_an_error_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let events: Vec<_> = (0..4)
        .map(|n| event("tick", n, T0 + n, &format!("e{n}"), None))
        .collect();
    let mut lines: Vec<String> = events.iter().map(line).collect();
    lines.insert(2, "{\"type\":\"tick\",\"data\":{\"n\":}".to_string());
    let mut writer = archive_lines(dir.path(), &lines);
    writer
        .append(&event("tock", 9, T0 + 9, "e9", None))
        .unwrap();
    drop(writer);
    // Lines of 57 bytes each for e0 and e1, so the bad line starts at 114.
    let out = run(dir.path(), &["verify"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "error[line] archive.jsonl.zst frame at compressed byte 0, decompressed byte 114 line 3: not a valid event: expected a JSON \
         value at column 28\n\
         failed: 1 errors, 0 warnings in 6 events, 1 archive frames (257 bytes decompressed), 57 \
         bytes of app.jsonl, 0 snapshots\n"
    );
    let json = run(dir.path(), &["verify", "--json"]);
    assert_eq!(json.code, 1);
    assert!(json.stdout.starts_with(
        "{\"check\":\"line\",\"file\":\"archive.jsonl.zst\",\"frame\":0,\"line\":3,\"message\":"
    ));
    assert!(
        json.stdout
            .contains("\"offset\":114,\"position\":114,\"record\":\"finding\"")
    );
    assert!(
        json.stdout
            .ends_with(",\"quick\":false,\"record\":\"summary\",\"snapshots\":0,\"warnings\":0}\n")
    );

    // Readers stop where a replay stops, with the same error.
    for command in ["log", "export"] {
        let out = run(dir.path(), &[command]);
        assert_eq!(out.code, 1, "{command}");
        assert_eq!(
            out.stdout,
            format!("{}\n{}\n", lines[0], lines[1]),
            "{command}"
        );
        assert_eq!(
            scrub(&out.stderr, dir.path()),
            "error: malformed event in DIR/archive.jsonl.zst at decompressed byte 114 (line 3): \
             expected a JSON value at column 28\n",
            "{command}"
        );
    }
    assert_eq!(run(dir.path(), &["stats"]).code, 1);
    // Entering the history past the bad line reads the rest.
    let rest = run(
        dir.path(),
        &["log", "--position", "115..", "--format", "{id}"],
    );
    assert_eq!((rest.code, rest.stdout.as_str()), (0, "e2\ne3\ne9\n"));
}
