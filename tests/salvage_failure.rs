//! A salvage that fails leaves nothing where its destination would be: it builds the new
//! directory beside it, under a temporary name, and renames it into place only once complete.

use eventfold::{Event, EventLog, EventWriter, salvage};
use std::path::Path;

fn event(n: u64) -> Event {
    let mut event = Event::new("tick", serde_json::json!({ "n": n }));
    event.ts = 1_700_000_000 + n;
    event
}

/// A source whose archive holds three events and whose active log holds two.
fn source(dir: &Path) -> Vec<Event> {
    let events: Vec<Event> = (0..5).map(event).collect();
    let mut log = EventLog::open(dir).unwrap();
    for e in &events[..3] {
        log.append(e).unwrap();
    }
    log.rotate().unwrap();
    for e in &events[3..] {
        log.append(e).unwrap();
    }
    events
}

fn read_all(dir: &Path) -> Vec<Event> {
    EventLog::open(dir)
        .unwrap()
        .read_full()
        .unwrap()
        .map(|r| r.unwrap().0)
        .collect()
}

/// Names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The source's active log cannot be read once the destination is being written (it is a
/// directory, which even root cannot read as a file): the salvage fails, and neither the
/// destination nor its temporary sibling is left; once the source is readable again, a second
/// run into the same destination succeeds.
#[test]
fn a_failed_salvage_leaves_no_destination_and_a_second_run_works() {
    let src = tempfile::tempdir().unwrap();
    let events = source(src.path());
    let log_path = src.path().join("app.jsonl");
    let active = std::fs::read(&log_path).unwrap();
    std::fs::remove_file(&log_path).unwrap();
    std::fs::create_dir(&log_path).unwrap();

    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("healthy");
    let err = salvage(src.path(), &dest).unwrap_err();
    assert_eq!(
        names(out.path()),
        Vec::<String>::new(),
        "left behind: {err}"
    );

    std::fs::remove_dir(&log_path).unwrap();
    std::fs::write(&log_path, active).unwrap();
    let report = salvage(src.path(), &dest).unwrap();
    assert_eq!((report.events, report.archived_events), (5, 3));
    assert!(report.lost.is_empty(), "{:?}", report.lost);
    assert_eq!(names(out.path()), ["healthy"]);
    assert_eq!(read_all(&dest), events);
}

/// An empty directory as the destination is accepted, and replaced by the new one; a failed
/// salvage leaves it as it was.
#[test]
fn an_empty_destination_is_replaced_and_kept_on_failure() {
    let src = tempfile::tempdir().unwrap();
    let events = source(src.path());
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("healthy");
    std::fs::create_dir(&dest).unwrap();

    let log_path = src.path().join("app.jsonl");
    let active = std::fs::read(&log_path).unwrap();
    std::fs::remove_file(&log_path).unwrap();
    std::fs::create_dir(&log_path).unwrap();
    let err = salvage(src.path(), &dest).unwrap_err();
    assert_eq!(names(out.path()), ["healthy"], "left behind: {err}");
    assert_eq!(names(&dest), Vec::<String>::new(), "{err}");

    std::fs::remove_dir(&log_path).unwrap();
    std::fs::write(&log_path, active).unwrap();
    salvage(src.path(), &dest).unwrap();
    assert_eq!(names(out.path()), ["healthy"]);
    assert_eq!(read_all(&dest), events);
}

/// The temporary name is taken (by a file, here): the salvage refuses before writing anything,
/// names the file, and leaves it alone.
#[test]
fn a_taken_temporary_name_is_refused() {
    let src = tempfile::tempdir().unwrap();
    source(src.path());
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("healthy");
    let tmp = out.path().join(".healthy.salvage-tmp");
    std::fs::write(&tmp, "mine").unwrap();

    let err = salvage(src.path(), &dest).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists, "{err}");
    assert!(
        err.to_string().contains(&tmp.display().to_string()),
        "{err}"
    );
    assert_eq!(names(out.path()), [".healthy.salvage-tmp"]);
    assert_eq!(std::fs::read(&tmp).unwrap(), b"mine");

    std::fs::remove_file(&tmp).unwrap();
    salvage(src.path(), &dest).unwrap();
    assert_eq!(names(out.path()), ["healthy"]);
    // The writer of the new directory is gone: another can open it.
    EventWriter::open(&dest).unwrap();
}
