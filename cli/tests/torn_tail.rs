//! A torn last line, as a crash in the middle of an append leaves (or an append being
//! written): a warning, never read.

mod common;

use common::{append_raw, healthy, healthy_events, line, run};

#[test]
fn a_torn_tail_is_a_warning_and_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    drop(healthy(dir.path()));
    append_raw(dir.path(), br#"{"type":"todo_added","da"#);

    let out = run(dir.path(), &["verify"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "warning[torn-tail] app.jsonl byte 153 line 3: the last 24 bytes are not a complete line: \
         an append in progress, or one torn by a crash; readers leave them out, and the next \
         writer cuts them off\n\
         ok: 0 errors, 1 warnings in 7 events, 2 archive frames (364 bytes decompressed), 153 \
         bytes of app.jsonl, 2 snapshots\n"
    );
    let json = run(dir.path(), &["verify", "--json"]);
    assert_eq!(json.code, 0);
    let first = json.stdout.lines().next().unwrap();
    assert_eq!(
        first,
        "{\"check\":\"torn-tail\",\"file\":\"app.jsonl\",\"frame\":null,\"line\":3,\"message\":\
         \"the last 24 bytes are not a complete line: an append in progress, or one torn by a \
         crash; readers leave them out, and the next writer cuts them off\",\"offset\":153,\
         \"position\":null,\"record\":\"finding\",\"severity\":\"warning\"}"
    );

    let all: String = healthy_events().iter().map(|e| line(e) + "\n").collect();
    assert_eq!(run(dir.path(), &["log"]).stdout, all);
    assert_eq!(run(dir.path(), &["export"]).stdout, all);
    let info = run(dir.path(), &["info"]).stdout;
    assert!(
        info.contains("app.jsonl           177 bytes, 2 events, torn tail of 24 bytes\n"),
        "{info}"
    );
    assert!(info.contains("end position        517\n"), "{info}");
}
