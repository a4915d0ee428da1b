//! `snapshot::{save, load, delete}` and the `Snapshot` type, used directly.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use common::{TodoState, numbered_events, test_dir, todo_added, todo_completed, todo_reducer};
use eventfold::{Snapshot, snapshot};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

fn path_in(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.snapshot.json"))
}

/// The name eventfold 0.2.0 gives the temporary file of an atomic save.
fn tmp_beside(path: &Path) -> PathBuf {
    path.with_extension("json.tmp")
}

fn save_then_load<S>(snap: &Snapshot<S>) -> Snapshot<S>
where
    S: Serialize + DeserializeOwned,
{
    let dir = test_dir();
    let path = path_in(dir.path(), "roundtrip");
    snapshot::save(&path, snap).unwrap();
    snapshot::load(&path)
        .unwrap()
        .expect("a saved snapshot must load")
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Nothing {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Shape {
    Dot,
    Circle { radius: f64 },
    Polygon(Vec<(i32, i32)>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Inner {
    label: String,
    shape: Shape,
    maybe: Option<Box<Inner>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Outer {
    by_key: BTreeMap<String, Inner>,
    counts: HashMap<u32, u64>,
    flags: (bool, bool),
    raw: Value,
}

#[test]
fn saved_state_loads_back_unchanged() {
    let snap = Snapshot::new(12_345u64, 678, "0123456789abcdef".to_string());
    let loaded = save_then_load(&snap);
    assert_eq!(loaded, snap);
    assert_eq!(loaded.state, 12_345);
    assert_eq!(loaded.offset, 678);
    assert_eq!(loaded.hash, "0123456789abcdef");
}

#[test]
fn todo_state_built_by_the_reducer_round_trips() {
    let events = vec![todo_added("milk"), todo_added("eggs"), todo_completed(0)];
    let state = common::fold_model::<TodoState>(&events, todo_reducer);
    assert_eq!(state.items.len(), 2);
    let loaded = save_then_load(&Snapshot::new(state.clone(), 99, "h".into()));
    assert_eq!(loaded.state, state);
}

#[test]
fn loading_a_missing_file_gives_none() {
    let dir = test_dir();
    let loaded: Option<Snapshot<u64>> =
        snapshot::load(&path_in(dir.path(), "never_saved")).unwrap();
    assert!(loaded.is_none());
}

#[test]
fn save_replaces_an_earlier_snapshot() {
    let dir = test_dir();
    let path = path_in(dir.path(), "v");
    snapshot::save(
        &path,
        &Snapshot::new(vec!["a".to_string()], 10, "first".into()),
    )
    .unwrap();
    snapshot::save(
        &path,
        &Snapshot::new(vec!["b".to_string(), "c".into()], 20, "second".into()),
    )
    .unwrap();
    let loaded: Snapshot<Vec<String>> = snapshot::load(&path).unwrap().unwrap();
    assert_eq!(loaded.state, ["b", "c"]);
    assert_eq!((loaded.offset, loaded.hash.as_str()), (20, "second"));
}

#[test]
fn a_finished_save_leaves_no_temporary_file() {
    let dir = test_dir();
    let path = path_in(dir.path(), "clean");
    for round in 0..3u64 {
        snapshot::save(
            &path,
            &Snapshot::new(round, round * 10, format!("h{round}")),
        )
        .unwrap();
        assert_eq!(
            file_names(dir.path()),
            ["clean.snapshot.json"],
            "after save {round}"
        );
    }
}

#[test]
fn leftover_temporary_file_from_a_crash_is_ignored_by_load() {
    let dir = test_dir();
    let path = path_in(dir.path(), "crashy");
    let good = Snapshot::new(41u64, 300, "goodhash".to_string());
    snapshot::save(&path, &good).unwrap();

    // A save that died before its rename leaves a half-written temporary file behind.
    fs::write(tmp_beside(&path), br#"{"state": 99, "offset": 9"#).unwrap();

    let loaded: Snapshot<u64> = snapshot::load(&path).unwrap().unwrap();
    assert_eq!(loaded, good);
}

#[test]
fn leftover_temporary_file_does_not_block_the_next_save() {
    let dir = test_dir();
    let path = path_in(dir.path(), "retry");
    fs::write(tmp_beside(&path), b"garbage from an earlier crash").unwrap();

    let fresh = Snapshot::new("new".to_string(), 5, "abc".to_string());
    snapshot::save(&path, &fresh).unwrap();
    assert_eq!(snapshot::load::<String>(&path).unwrap(), Some(fresh));
    assert!(!tmp_beside(&path).exists());
}

#[test]
fn a_lone_temporary_file_is_not_a_snapshot() {
    let dir = test_dir();
    let path = path_in(dir.path(), "half");
    let complete = serde_json::to_string(&Snapshot::new(5u64, 1, "h".to_string())).unwrap();
    fs::write(tmp_beside(&path), complete).unwrap();
    assert_eq!(snapshot::load::<u64>(&path).unwrap(), None);
}

#[test]
fn delete_removes_the_snapshot_so_load_gives_none() {
    let dir = test_dir();
    let path = path_in(dir.path(), "doomed");
    snapshot::save(&path, &Snapshot::new(1u8, 2, "3".into())).unwrap();
    assert!(path.exists());

    snapshot::delete(&path).unwrap();
    assert!(!path.exists());
    assert_eq!(snapshot::load::<u8>(&path).unwrap(), None);
}

#[test]
fn delete_also_clears_a_leftover_temporary_file() {
    let dir = test_dir();
    let path = path_in(dir.path(), "both");
    snapshot::save(&path, &Snapshot::new(0u8, 0, String::new())).unwrap();
    fs::write(tmp_beside(&path), b"partial").unwrap();

    snapshot::delete(&path).unwrap();
    assert!(
        file_names(dir.path()).is_empty(),
        "left behind: {:?}",
        file_names(dir.path())
    );
}

#[test]
fn deleting_twice_or_deleting_nothing_is_fine() {
    let dir = test_dir();
    let path = path_in(dir.path(), "ghost");
    snapshot::delete(&path).unwrap();
    snapshot::save(&path, &Snapshot::new(1u8, 0, String::new())).unwrap();
    snapshot::delete(&path).unwrap();
    snapshot::delete(&path).unwrap();
    assert!(!path.exists());
}

#[test]
fn empty_struct_state_round_trips() {
    let snap = Snapshot::new(Nothing {}, 0, String::new());
    assert_eq!(save_then_load(&snap), snap);
}

#[test]
fn unit_and_string_and_option_states_round_trip() {
    assert_eq!(save_then_load(&Snapshot::new((), 3, "u".into())).offset, 3);
    let text = Snapshot::new(
        "multi\nline \"quoted\" ünïcode 🦀".to_string(),
        4,
        "s".into(),
    );
    assert_eq!(save_then_load(&text), text);
    let none: Snapshot<Option<u32>> = Snapshot::new(None, 5, "o".into());
    assert_eq!(save_then_load(&none), none);
    let some = Snapshot::new(Some(-7i64), 6, "o".into());
    assert_eq!(save_then_load(&some), some);
}

#[test]
fn nested_struct_state_round_trips() {
    let leaf = Inner {
        label: "leaf".into(),
        shape: Shape::Dot,
        maybe: None,
    };
    let middle = Inner {
        label: "mid".into(),
        shape: Shape::Circle { radius: 2.5 },
        maybe: Some(Box::new(leaf.clone())),
    };
    let top = Inner {
        label: "top".into(),
        shape: Shape::Polygon(vec![(0, 0), (3, -4), (i32::MAX, i32::MIN)]),
        maybe: Some(Box::new(middle)),
    };
    let state = Outer {
        by_key: BTreeMap::from([("t".to_string(), top), ("l".to_string(), leaf)]),
        counts: HashMap::from([(1, 10), (2, u64::MAX)]),
        flags: (true, false),
        raw: json!({"any": ["json", 1, null, {"deep": true}]}),
    };
    let snap = Snapshot::new(state, 1_024, "nested".into());
    assert_eq!(save_then_load(&snap), snap);
}

#[test]
fn large_state_round_trips() {
    let state: Vec<(u64, String)> = (0..20_000)
        .map(|i| (i, format!("item number {i}")))
        .collect();
    let snap = Snapshot::new(state, 7_777_777, "big".into());
    let loaded = save_then_load(&snap);
    assert_eq!(loaded.state.len(), 20_000);
    assert_eq!(
        loaded.state[19_999],
        (19_999, "item number 19999".to_string())
    );
    assert_eq!(loaded, snap);
}

#[test]
fn offset_zero_with_empty_hash_round_trips() {
    let snap = Snapshot::new(vec![1u32, 2, 3], 0, String::new());
    let loaded = save_then_load(&snap);
    assert_eq!(loaded.offset, 0);
    assert!(loaded.hash.is_empty());
    assert_eq!(loaded.state, [1, 2, 3]);
}

#[test]
fn very_large_offsets_round_trip() {
    for offset in [u64::from(u32::MAX) + 1, 1 << 53, (1 << 53) + 1, u64::MAX] {
        let loaded = save_then_load(&Snapshot::new(0u8, offset, "h".into()));
        assert_eq!(loaded.offset, offset);
    }
}

#[test]
fn snapshot_file_is_a_json_object_with_state_offset_and_hash() {
    let dir = test_dir();
    let path = path_in(dir.path(), "inspect");
    let events = numbered_events(0, 2);
    let state = common::fold_model::<u64>(&events, common::counter_reducer);
    snapshot::save(&path, &Snapshot::new(state, 321, "feedc0de".into())).unwrap();

    let value: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(value["state"], json!(2));
    assert_eq!(value["offset"], json!(321));
    assert_eq!(value["hash"], json!("feedc0de"));
    assert_eq!(value.as_object().unwrap().len(), 3);
}

#[test]
fn hand_written_snapshot_json_loads() {
    let dir = test_dir();
    let path = path_in(dir.path(), "manual");
    fs::write(
        &path,
        r#"{"state":{"items":[],"next_id":4},"offset":88,"hash":"ab"}"#,
    )
    .unwrap();
    let loaded: Snapshot<TodoState> = snapshot::load(&path).unwrap().unwrap();
    assert_eq!(loaded.state.next_id, 4);
    assert!(loaded.state.items.is_empty());
    assert_eq!((loaded.offset, loaded.hash.as_str()), (88, "ab"));
}

#[test]
fn unreadable_snapshot_contents_load_as_none() {
    let dir = test_dir();
    let path = path_in(dir.path(), "broken");
    let good = serde_json::to_string(&Snapshot::new(10u64, 50, "h".to_string())).unwrap();
    let cases: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"   ".to_vec(),
        good.as_bytes()[..good.len() / 2].to_vec(),
        b"\x00\x01 not json {{{".to_vec(),
        br#"{"state":10,"offset":50}"#.to_vec(),
        br#"{"state":10,"hash":"h"}"#.to_vec(),
        br#"{"state":10,"offset":-1,"hash":"h"}"#.to_vec(),
    ];
    for bytes in cases {
        fs::write(&path, &bytes).unwrap();
        let loaded: Option<Snapshot<u64>> = snapshot::load(&path).unwrap();
        assert!(
            loaded.is_none(),
            "{:?} loaded as {loaded:?}",
            String::from_utf8_lossy(&bytes)
        );
    }
}

#[test]
fn snapshot_of_another_state_type_loads_as_none() {
    let dir = test_dir();
    let path = path_in(dir.path(), "retyped");
    snapshot::save(
        &path,
        &Snapshot::new("not a number".to_string(), 1, "h".into()),
    )
    .unwrap();
    assert!(snapshot::load::<u64>(&path).unwrap().is_none());
    assert!(snapshot::load::<String>(&path).unwrap().is_some());
}

#[test]
fn saving_into_a_missing_directory_fails() {
    let dir = test_dir();
    let path = dir
        .path()
        .join("no")
        .join("such")
        .join("dir")
        .join("x.snapshot.json");
    assert!(snapshot::save(&path, &Snapshot::new(1u8, 0, String::new())).is_err());
    assert!(!path.exists());
}

#[test]
fn new_sets_the_three_fields() {
    let snap = Snapshot::new([1u8, 2], 64, "cafe".to_string());
    assert_eq!(snap.state, [1, 2]);
    assert_eq!(snap.offset, 64);
    assert_eq!(snap.hash, "cafe");
    let copy = snap.clone();
    assert_eq!(copy, snap);
    assert_ne!(Snapshot::new([1u8, 2], 65, "cafe".to_string()), snap);
}
