//! The fast paths give the answers of the plain ones: parallel folds of large logs and archives
//! equal the sequential reference fold, and `append_batch` writes what single appends write.

mod common;

use common::{append_bytes, fold_model, lines_of, test_dir};
use eventfold::{Event, EventLog, EventReader, EventRef, View};
use serde_json::json;

/// Records every event's `n` in order: any loss, duplicate or reordering shows.
fn order(mut state: Vec<u64>, event: &Event) -> Vec<u64> {
    state.push(event.data["n"].as_u64().unwrap_or(u64::MAX));
    state
}

fn order_ref(mut state: Vec<u64>, event: &EventRef<'_>) -> Vec<u64> {
    #[derive(serde::Deserialize)]
    struct N {
        n: u64,
    }
    state.push(event.data_as::<N>().map_or(u64::MAX, |d| d.n));
    state
}

/// `count` events of ~130 bytes with unicode, escapes and optional fields.
fn events(first: u64, count: u64) -> Vec<Event> {
    (first..first + count)
        .map(|n| {
            let mut event = Event::new(
                if n % 3 == 0 { "added" } else { "changed" },
                json!({"n": n, "text": format!("line {n}: ünïcödé \"quoted\" \\ back\nslash")}),
            );
            event.ts = 1_700_000_000 + n;
            if n % 5 == 0 {
                event = event.with_actor("ann");
            }
            if n % 7 == 0 {
                event = event.with_meta(json!({"k": n}));
            }
            event
        })
        .collect()
}

fn replay(dir: &std::path::Path) -> (Vec<u64>, Vec<u64>) {
    let reader = EventReader::new(dir);
    let views = dir.join("views");
    let mut owned: View<Vec<u64>> = View::new("owned", order, &views);
    let mut borrowed: View<Vec<u64>> = View::new_ref("borrowed", order_ref, &views);
    let owned = owned.rebuild(&reader).unwrap().clone();
    let borrowed = borrowed.rebuild(&reader).unwrap().clone();
    (owned, borrowed)
}

#[test]
fn a_large_active_log_folds_in_parallel_to_the_sequential_result() {
    let dir = test_dir();
    // Well past the size where folds go parallel, and past one mapped segment's chunking.
    let all = events(0, 60_000);
    std::fs::create_dir_all(dir.path().join("views")).unwrap();
    std::fs::write(dir.path().join("app.jsonl"), b"").unwrap();
    append_bytes(&dir.path().join("app.jsonl"), lines_of(&all).as_bytes());
    assert!(
        std::fs::metadata(dir.path().join("app.jsonl"))
            .unwrap()
            .len()
            > 6 << 20
    );

    let expected = fold_model(&all, order);
    let (owned, borrowed) = replay(dir.path());
    assert_eq!(owned, expected);
    assert_eq!(borrowed, expected);

    // Incremental refresh from an offset in the middle takes the same path.
    let mut log = EventLog::builder(dir.path())
        .view::<Vec<u64>>("order", order)
        .open()
        .unwrap();
    log.refresh_all().unwrap();
    let more = events(60_000, 30_000);
    log.append_batch(&more).unwrap();
    log.refresh_all().unwrap();
    let all = [all, more].concat();
    assert_eq!(
        log.view::<Vec<u64>>("order").unwrap(),
        &fold_model(&all, order)
    );
}

#[test]
fn a_malformed_line_deep_in_a_large_log_stops_every_path_at_the_same_event() {
    let dir = test_dir();
    let all = events(0, 40_000);
    std::fs::create_dir_all(dir.path().join("views")).unwrap();
    let path = dir.path().join("app.jsonl");
    std::fs::write(&path, b"").unwrap();
    append_bytes(&path, lines_of(&all[..25_000]).as_bytes());
    let bad_offset = std::fs::metadata(&path).unwrap().len();
    append_bytes(&path, b"{\"type\":\"broken\",\"data\":[1,,2],\"ts\":1}\n");
    append_bytes(&path, lines_of(&all[25_000..]).as_bytes());

    let reader = EventReader::new(dir.path());
    let views = dir.path().join("views");
    let expected = fold_model(&all[..25_000], order);
    let mut owned: View<Vec<u64>> = View::new("owned", order, &views);
    let mut borrowed: View<Vec<u64>> = View::new_ref("borrowed", order_ref, &views);
    for (err, state) in [
        (owned.refresh(&reader).unwrap_err(), owned.state().clone()),
        (
            borrowed.refresh(&reader).unwrap_err(),
            borrowed.state().clone(),
        ),
    ] {
        match eventfold::Error::from_io(&err) {
            Some(eventfold::Error::Malformed { offset, line, .. }) => {
                assert_eq!(*offset, bad_offset);
                assert_eq!(*line, 25_001);
            }
            other => panic!("unexpected error {other:?}"),
        }
        assert_eq!(state, expected, "the events before the bad line are kept");
    }
}

#[test]
fn a_large_archive_replays_in_order_across_windows_and_frames() {
    let dir = test_dir();
    let mut log = EventLog::builder(dir.path())
        .view::<Vec<u64>>("order", order)
        .open()
        .unwrap();
    let mut all = Vec::new();
    // Frames larger than a decompression window, and small ones.
    for (first, count) in [(0, 50_000), (50_000, 10), (50_010, 40_000), (90_010, 1)] {
        let batch = events(first, count);
        log.append_batch(&batch).unwrap();
        log.rotate().unwrap();
        all.extend(batch);
    }
    let tail = events(90_011, 100);
    log.append_batch(&tail).unwrap();
    all.extend(tail);
    drop(log);

    let expected = fold_model(&all, order);
    let (owned, borrowed) = replay(dir.path());
    assert_eq!(owned, expected);
    assert_eq!(borrowed, expected);
    let read: Vec<Event> = EventReader::new(dir.path())
        .read_full()
        .unwrap()
        .map(|r| r.unwrap().0)
        .collect();
    assert_eq!(read, all);
}

#[test]
fn append_batch_writes_the_bytes_and_results_of_single_appends() {
    let one_by_one = test_dir();
    let batched = test_dir();
    let batch = events(0, 250);
    let mut log = EventLog::open(one_by_one.path()).unwrap();
    let singles: Vec<_> = batch.iter().map(|e| log.append(e).unwrap()).collect();
    let mut log = EventLog::open(batched.path()).unwrap();
    assert!(log.append_batch(&[]).unwrap().is_empty());
    let together = log.append_batch(&batch).unwrap();
    assert_eq!(together, singles);
    assert_eq!(
        std::fs::read(one_by_one.path().join("app.jsonl")).unwrap(),
        std::fs::read(batched.path().join("app.jsonl")).unwrap()
    );
}

#[test]
fn append_batch_rotates_once_after_the_batch() {
    let dir = test_dir();
    let mut log = EventLog::builder(dir.path())
        .max_log_size(1_000)
        .view::<Vec<u64>>("order", order)
        .open()
        .unwrap();
    let batch = events(0, 40);
    let results = log.append_batch(&batch).unwrap();
    // The whole batch landed in one active log, which then rotated once.
    assert_eq!(results[0].start_offset, 0);
    assert!(results[39].end_offset > 1_000);
    assert_eq!(log.active_log_size().unwrap(), 0);
    assert_eq!(
        log.view::<Vec<u64>>("order").unwrap(),
        &fold_model(&batch, order)
    );
    let frames = zstd::stream::read::Decoder::new(
        std::fs::File::open(dir.path().join("archive.jsonl.zst")).unwrap(),
    )
    .map(|d| std::io::Read::bytes(d).count())
    .unwrap();
    assert_eq!(frames as u64, results[39].end_offset);
}
