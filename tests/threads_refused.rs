//! A process that may start no thread (a limit on processes, as in a container near its
//! limit) still rebuilds, rotates and reads its archive, on the calling thread: replays use
//! the threads they get, and never start rayon's global pool, whose start panics when the
//! system refuses its threads. eventfold 0.2.0, single-threaded, works there too.
//!
//! The test runs itself again in a child process limited by `RLIMIT_NPROC` (as user `nobody`
//! when it runs as root, for whom the limit does not count). Linux only: the limit and the
//! user switch are Linux's.

#![cfg(target_os = "linux")]

use eventfold::{At, Event, EventLog, EventReader, EventRef, View, ViewConfig};
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

/// Set in the child: the directory it works in.
const CHILD_DIR: &str = "EVENTFOLD_TEST_NO_THREADS_DIR";
const TEST: &str = "a_process_that_may_start_no_thread_rebuilds_rotates_and_reads_its_archive";
/// Enough for two archive frames (4 MiB each at most) and a parallel fold of the active log.
const EVENTS: u64 = 24_000;

fn count(n: u64, _: &Event) -> u64 {
    n + 1
}

fn sum_ref(sum: u64, event: &EventRef<'_>) -> u64 {
    sum + event.data_u64("n").expect("every event has an n")
}

fn event(n: u64) -> Event {
    let mut event = Event::new("t", json!({ "n": n, "pad": "x".repeat(200) }));
    event.ts = n;
    event
}

#[test]
fn a_process_that_may_start_no_thread_rebuilds_rotates_and_reads_its_archive() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        in_the_child(Path::new(&dir));
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("log");
    std::fs::create_dir(&dir).unwrap();
    // The child may run as another user: it needs the directory, and a copy of this test
    // binary it can reach (the build directory may sit under a home it cannot enter).
    let exe = work.path().join("threads_refused");
    std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    for (path, mode) in [(work.path(), 0o755), (dir.as_path(), 0o777), (&exe, 0o755)] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let mut child = Command::new(&exe);
    child
        .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR, &dir);
    // SAFETY: `geteuid` reads the caller's id.
    if unsafe { libc::geteuid() } == 0 {
        child.uid(65534).gid(65534);
    }
    // SAFETY: runs in the child between fork and exec, and calls only `setrlimit`, which is
    // async-signal-safe.
    unsafe {
        child.pre_exec(|| {
            let one = libc::rlimit {
                rlim_cur: 1,
                rlim_max: 1,
            };
            if libc::setrlimit(libc::RLIMIT_NPROC, &one) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let out = child.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the child failed:\n{text}");
    // The child ran the test, not nothing: libtest names it on success.
    assert!(text.contains("1 passed"), "the child ran no test:\n{text}");
}

fn in_the_child(dir: &Path) {
    // The limit holds: no thread starts here (else this test would prove nothing).
    let refused = std::thread::Builder::new().spawn(|| ()).map(|h| h.join());
    assert!(refused.is_err(), "a thread started despite RLIMIT_NPROC");

    let expected_sum = |events: u64| events * (events - 1) / 2;
    let mut log = EventLog::builder(dir)
        .view::<u64>("count", count)
        .view_ref::<u64>("sum", sum_ref)
        .open()
        .unwrap();
    let events: Vec<Event> = (0..EVENTS).map(event).collect();
    for batch in events.chunks(1000) {
        log.append_batch(batch).unwrap();
    }
    // Compresses two frames or more: a parallel path.
    log.rotate().unwrap();
    let frames = log.reader().archive_frames().unwrap().len();
    assert!(frames >= 2, "{frames} frames");
    let more: Vec<Event> = (EVENTS..2 * EVENTS).map(event).collect();
    for batch in more.chunks(1000) {
        log.append_batch(batch).unwrap();
    }
    log.refresh_all().unwrap();
    assert_eq!(*log.view::<u64>("count").unwrap(), 2 * EVENTS);
    assert_eq!(*log.view::<u64>("sum").unwrap(), expected_sum(2 * EVENTS));
    assert_eq!(
        log.state_at::<u64>("count", At::Event(EVENTS)).unwrap(),
        EVENTS + 1
    );
    // A blue/green rebuild needs a thread of its own: refused, it is an error, not a panic.
    let started = log.start_rebuild::<u64>("count", count, ViewConfig::new().version(2));
    assert!(started.is_err(), "a rebuild started without a thread");
    drop(log);

    // Fresh views over the archive and the active log, on a new reader: whole replays.
    let reader = EventReader::new(dir);
    assert!(reader.threads() >= 1);
    let views = dir.join("fresh");
    std::fs::create_dir(&views).unwrap();
    let mut counted = View::new("count", count, &views);
    assert_eq!(*counted.rebuild(&reader).unwrap(), 2 * EVENTS);
    let mut summed = View::new_ref("sum", sum_ref, &views);
    assert_eq!(*summed.rebuild(&reader).unwrap(), expected_sum(2 * EVENTS));
}
