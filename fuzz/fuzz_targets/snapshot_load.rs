//! The snapshot loader: arbitrary bytes as `views/NAME.snapshot.json`.
//!
//! `snapshot::load` must never panic: a file that is not a snapshot of the requested state type
//! is a cache miss (`Ok(None)`), and exactly the files serde_json reads as a `Snapshot` load.

#![no_main]

use eventfold::{Snapshot, snapshot};
use libfuzzer_sys::fuzz_target;

/// A scratch directory, on tmpfs when there is one: recovery and snapshots sync files, and
/// syncs on a disk would dominate the run.
fn scratch_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = tempfile::tempdir_in(shm)
    {
        return dir;
    }
    tempfile::tempdir().expect("cannot create a scratch directory")
}

fuzz_target!(|bytes: &[u8]| {
    let dir = scratch_dir();
    let path = &dir.path().join("x.snapshot.json");
    std::fs::write(path, bytes).expect("cannot write the snapshot file");

    let loaded = snapshot::load::<serde_json::Value>(path).expect("load failed with an I/O error");
    let expected = serde_json::from_slice::<Snapshot<serde_json::Value>>(bytes).ok();
    assert_eq!(loaded, expected, "load disagrees with serde_json");

    let counter = snapshot::load::<u64>(path).expect("load failed with an I/O error");
    if let Some(snap) = counter {
        assert!(
            loaded.is_some(),
            "a u64 snapshot that is not a JSON snapshot: {snap:?}"
        );
    }
});
