//! Salvage of a directory with a malformed line in the middle of the archive and another in
//! the active log: a new, healthy directory whose views equal a fold of the good events.

mod common;

use common::{T0, append_raw, archive_lines, count, event, line, listing, open, run, scrub, types};
use eventfold::{Event, EventRef};
use std::collections::BTreeMap;

#[test]
fn salvage_writes_every_good_event_and_reports_each_bad_line() {
    let src = tempfile::tempdir().unwrap();
    let good: Vec<Event> = (0..6)
        .map(|n| {
            event(
                if n % 2 == 0 { "tick" } else { "tock" },
                n,
                T0 + n,
                &format!("e{n}"),
                None,
            )
        })
        .collect();
    // The archive: e0, e1, a bad line, e2, e3. The active log: e4, a bad line, e5.
    let mut archived: Vec<String> = good[..4].iter().map(line).collect();
    archived.insert(2, "{\"type\":\"tick\",oops}".to_string());
    let mut writer = archive_lines(src.path(), &archived);
    writer.append(&good[4]).unwrap();
    drop(writer);
    append_raw(src.path(), b"not json at all\n");
    let mut writer = eventfold::EventWriter::open(src.path()).unwrap();
    writer.append(&good[5]).unwrap();
    drop(writer);
    let before = listing(src.path());

    let out_dir = tempfile::tempdir().unwrap();
    let dest = out_dir.path().join("healthy");
    let out = run(src.path(), &["salvage", &dest.display().to_string()]);
    // Something was left out: exit 1, though the copy itself is healthy.
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(
        scrub(&out.stdout, out_dir.path()),
        "\
left out archive.jsonl.zst frame at compressed byte 0, decompressed byte 114 line 3 position 114: malformed line (expected a field name at column 16): {\"type\":\"tick\",oops}
left out app.jsonl byte 57 line 2 position 306: malformed line (expected `{` to open the event object at column 1): not json at all
wrote 6 events to DIR/healthy (4 of them archived); left out 2 events (2 problems above)
"
    );
    assert_eq!(listing(src.path()), before, "salvage changed its source");

    // The new directory is healthy, holds the good events in order, and its views are a
    // fold of them.
    let verify = run(&dest, &["verify"]);
    assert_eq!(verify.code, 0, "{}", verify.stdout);
    let expected: String = good.iter().map(|e| line(e) + "\n").collect();
    assert_eq!(run(&dest, &["log"]).stdout, expected);
    assert!(dest.join("archive.jsonl.zst").exists());
    let mut log = open(&dest);
    log.refresh_all().unwrap();
    assert_eq!(
        *log.view::<u64>("count").unwrap(),
        good.iter().fold(0, count)
    );
    let folded = good.iter().fold(BTreeMap::new(), |acc, e| {
        let line = line(e);
        types(acc, &EventRef::parse(line.as_bytes()).unwrap())
    });
    assert_eq!(log.view::<BTreeMap<String, u64>>("types").unwrap(), &folded);

    // A destination that is not empty is refused.
    let again = run(src.path(), &["salvage", &dest.display().to_string()]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("is not empty"), "{}", again.stderr);
    let inside = run(
        src.path(),
        &["salvage", &src.path().join("x").display().to_string()],
    );
    assert_eq!(inside.code, 1);
    assert!(
        inside.stderr.contains("must not change"),
        "{}",
        inside.stderr
    );
    assert_eq!(listing(src.path()), before);
}
