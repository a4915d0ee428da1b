//! The archive reader: arbitrary bytes as `archive.jsonl.zst` beside an empty `app.jsonl`.
//!
//! Reading the whole history and rebuilding a view must never panic and must not allocate
//! without bound; damage is an error. When both succeed they must agree on the event count.

#![no_main]

use eventfold::{Event, EventReader, View};
use libfuzzer_sys::fuzz_target;

fn count(n: u64, _event: &Event) -> u64 {
    n + 1
}

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

fuzz_target!(|archive: &[u8]| {
    let tmp = scratch_dir();
    let dir = tmp.path();
    std::fs::create_dir(dir.join("views")).expect("cannot create views/");
    std::fs::write(dir.join("app.jsonl"), b"").expect("cannot create app.jsonl");
    std::fs::write(dir.join("archive.jsonl.zst"), archive).expect("cannot write the archive");
    let reader = EventReader::new(dir);

    let mut read = Some(0u64);
    match reader.read_full() {
        Ok(events) => {
            for item in events {
                match item {
                    Ok(_) => *read.as_mut().expect("an item after an error") += 1,
                    Err(_) => read = None,
                }
            }
        }
        Err(_) => read = None,
    }

    let mut view: View<u64> = View::new("x", count, &dir.join("views"));
    let rebuilt = view.rebuild(&reader).copied();
    match (read, &rebuilt) {
        (Some(read), Ok(rebuilt)) => {
            assert_eq!(read, *rebuilt, "read_full and a view rebuild disagree")
        }
        (None, Err(_)) => {}
        (read, rebuilt) => panic!("read_full read {read:?} events, the rebuild gave {rebuilt:?}"),
    }
});
