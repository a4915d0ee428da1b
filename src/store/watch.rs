//! File notifications for a log directory: how readers wait for the history to grow without
//! polling it.

use crate::error::file_error;
use std::io;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The longest sleep between two looks at the history, should a notification go missing.
pub(crate) const RECHECK: Duration = Duration::from_secs(1);

/// Watches `dir` for appends, creations and renames (a rotation renames a fresh `app.jsonl`
/// into place), calling `signal` for each.
pub(crate) fn watch(
    dir: &Path,
    signal: impl Fn() + Send + 'static,
) -> io::Result<notify::RecommendedWatcher> {
    use notify::{EventKind, RecursiveMode, Watcher};
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(event) = res
            && matches!(event.kind, EventKind::Modify(_) | EventKind::Create(_))
        {
            signal();
        }
    })
    .map_err(io::Error::other)?;
    watcher
        .watch(dir, RecursiveMode::NonRecursive)
        .map_err(|e| match e.kind {
            notify::ErrorKind::Io(e) => file_error(e, "watch", dir),
            _ => file_error(io::Error::other(e), "watch", dir),
        })?;
    Ok(watcher)
}

/// A watch of a log directory for a blocking reader.
///
/// Set it up, then look at the history, then [`sleep`](Watch::sleep) and look again: an
/// append that lands between the look and the sleep has already sent its notification.
pub(crate) struct Watch {
    _watcher: notify::RecommendedWatcher,
    events: mpsc::Receiver<()>,
}

impl Watch {
    pub(crate) fn new(dir: &Path) -> io::Result<Self> {
        let (tx, events) = mpsc::channel();
        let watcher = watch(dir, move || {
            let _ = tx.send(());
        })?;
        Ok(Watch {
            _watcher: watcher,
            events,
        })
    }

    /// Sleeps until a notification comes, [`RECHECK`] passes, or `deadline` (if any) passes;
    /// returns `false` when the deadline had already passed, without sleeping.
    pub(crate) fn sleep(&self, deadline: Option<Instant>) -> io::Result<bool> {
        let mut wait = RECHECK;
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            wait = wait.min(left);
        }
        match self.events.recv_timeout(wait) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(io::Error::other("the file watcher stopped unexpectedly"));
            }
        }
        // Drain what else came: one look covers them all.
        while self.events.try_recv().is_ok() {}
        Ok(true)
    }

    /// Looks with `look` until it finds something, sleeping on this watch between looks, or
    /// until `deadline` passes (`None`). Set the watch up before the first look, so that a
    /// change in between sends its notification instead of being missed.
    pub(crate) fn wait_for<T>(
        &self,
        deadline: Option<Instant>,
        mut look: impl FnMut() -> io::Result<Option<T>>,
    ) -> io::Result<Option<T>> {
        loop {
            if let Some(found) = look()? {
                return Ok(Some(found));
            }
            if !self.sleep(deadline)? {
                return Ok(None);
            }
        }
    }
}
