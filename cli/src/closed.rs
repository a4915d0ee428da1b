//! Whether the standard output was closed when the command started (`eventfold export >&-`).
//!
//! Before `main` runs, the Rust runtime puts `/dev/null` in place of a closed standard stream,
//! so the events written would vanish and the command would exit 0 for output that nobody got.
//! A constructor, which the loader runs before the runtime starts, looks first. It looks in
//! `/proc/self/fd` without opening anything (opening a file would take the closed descriptor),
//! and concludes nothing when `/proc` is not mounted. Linux only: elsewhere a closed standard
//! output goes unnoticed, as before.

use std::sync::atomic::{AtomicBool, Ordering};

static CLOSED: AtomicBool = AtomicBool::new(false);

/// Whether descriptor 1 was closed when the process started.
pub fn stdout_was_closed() -> bool {
    CLOSED.load(Ordering::Relaxed)
}

#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static LOOK: extern "C" fn() = look;

#[cfg(target_os = "linux")]
extern "C" fn look() {
    let fds = std::path::Path::new("/proc/self/fd");
    if fds.is_dir() && std::fs::symlink_metadata(fds.join("1")).is_err() {
        CLOSED.store(true, Ordering::Relaxed);
    }
}
