//! Blue/green view rebuilds on an [`EventLog`]: [`EventLog::start_rebuild`] and the handle it
//! returns, the swap on the log's thread, and the report. The fold itself, the shadow file
//! and the hand-over are in `crate::views::rebuild`.

use super::EventLog;
use crate::error::check_view_name;
use crate::format::fold::{ReduceFn, ReduceRefFn};
use crate::replay::reader::EventReader;
use crate::store::platform;
use crate::views::policy::ViewConfig;
use crate::views::rebuild::{self, Caught, Ended, Progress, Reducer, Spec, stop};
use crate::views::view::ViewOps;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How far a background rebuild has come: events folded into the new state, out of the
/// events the history held when last counted (it grows while the log is appended to).
///
/// # Examples
///
/// ```
/// use eventfold::RebuildProgress;
/// let progress = RebuildProgress { done: 250, total: 1000 };
/// assert_eq!(progress.fraction(), 0.25);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebuildProgress {
    /// Events folded into the new state, from the first of the history.
    pub done: u64,
    /// The events of the history, as last counted.
    pub total: u64,
}

impl RebuildProgress {
    /// `done / total`, between 0 and 1 (1 for an empty history).
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::RebuildProgress;
    /// assert_eq!(RebuildProgress { done: 0, total: 0 }.fraction(), 1.0);
    /// ```
    pub fn fraction(&self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            (self.done as f64 / self.total as f64).min(1.0)
        }
    }
}

/// How a background rebuild ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RebuildEnd {
    /// The new state replaced the view.
    Swapped,
    /// [`RebuildHandle::cancel`] stopped it; the view is unchanged and the shadow removed.
    Cancelled,
    /// The fold or the swap failed (a malformed line, a damaged archive, a file that could
    /// not be written, a reducer that panicked); the view is unchanged. The shadow, if one
    /// was saved, is kept for the next rebuild to resume from.
    Failed {
        /// The error, as a sentence.
        error: String,
    },
}

/// What a background rebuild did: returned by [`EventLog::finish_rebuild`] and
/// [`EventLog::poll_rebuilds`], and kept by its [`RebuildHandle`].
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{Event, EventLog, RebuildEnd, ViewConfig};
/// fn count(n: u64, _e: &Event) -> u64 { n + 1 }
/// fn pings(n: u64, e: &Event) -> u64 { n + u64::from(e.event_type == "ping") }
/// let mut log = EventLog::builder(dir.path()).view::<u64>("count", count).open()?;
/// log.append(&Event::new("ping", serde_json::json!({})))?;
/// log.append(&Event::new("pong", serde_json::json!({})))?;
/// log.start_rebuild::<u64>("count", pings, ViewConfig::new().version(2))?;
/// let report = log.finish_rebuild("count")?;
/// assert_eq!(report.end, RebuildEnd::Swapped);
/// assert_eq!(report.resumed + report.background + report.at_swap, 2);
/// println!("{report}");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RebuildReport {
    /// The view's name.
    pub view: String,
    /// The version the rebuild gave the view.
    pub version: u32,
    /// How it ended.
    pub end: RebuildEnd,
    /// Events the shadow it resumed from held (0 when it started from the first event).
    pub resumed: u64,
    /// Events the background thread folded.
    pub background: u64,
    /// Events the log's thread folded at the swap (those appended since the background fold
    /// last looked).
    pub at_swap: u64,
    /// From the start of the rebuild to its end.
    pub elapsed: Duration,
}

impl fmt::Display for RebuildReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let folded = self.background + self.at_swap;
        match &self.end {
            RebuildEnd::Swapped => write!(
                f,
                "view {:?}: rebuilt as version {} and swapped in after {:.1?} ({} events folded \
                 in the background, {} at the swap, {} resumed from its shadow)",
                self.view, self.version, self.elapsed, self.background, self.at_swap, self.resumed
            ),
            RebuildEnd::Cancelled => write!(
                f,
                "view {:?}: rebuild to version {} cancelled after {folded} events",
                self.view, self.version
            ),
            RebuildEnd::Failed { error } => write!(
                f,
                "view {:?}: rebuild to version {} failed after {folded} events: {error}",
                self.view, self.version
            ),
        }
    }
}

/// What a rebuild's handle and the log share.
#[derive(Debug, Default)]
struct Shared {
    progress: Progress,
    report: Mutex<Option<RebuildReport>>,
}

/// A background rebuild started by [`EventLog::start_rebuild`]: its progress, a way to cancel
/// it, and its report once it has ended. Cloning it gives another handle to the same rebuild,
/// which can be sent to another thread (to show progress, or to cancel).
///
/// The handle does not own the rebuild: dropping it changes nothing. The log swaps the view
/// (at [`EventLog::refresh_all`], [`EventLog::poll_rebuilds`] or
/// [`EventLog::finish_rebuild`]), and closing the log stops the rebuild, saving its shadow.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{Event, EventLog, ViewConfig};
/// fn count(n: u64, _e: &Event) -> u64 { n + 1 }
/// let mut log = EventLog::builder(dir.path()).view::<u64>("count", count).open()?;
/// log.append(&Event::new("a", serde_json::json!({})))?;
/// let handle = log.start_rebuild::<u64>("count", count, ViewConfig::new().version(1))?;
/// let watcher = handle.clone();
/// std::thread::spawn(move || println!("{:?}", watcher.progress())).join().unwrap();
/// log.finish_rebuild("count")?;
/// assert!(handle.report().is_some());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct RebuildHandle {
    view: String,
    shared: Arc<Shared>,
}

impl RebuildHandle {
    /// The name of the view being rebuilt.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog, ViewConfig};
    /// fn count(n: u64, _e: &Event) -> u64 { n + 1 }
    /// let mut log = EventLog::builder(dir.path()).view::<u64>("count", count).open()?;
    /// let handle = log.start_rebuild::<u64>("count", count, ViewConfig::new().version(1))?;
    /// assert_eq!(handle.view_name(), "count");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn view_name(&self) -> &str {
        &self.view
    }

    /// Events folded so far into the new state, out of the history's events.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog, ViewConfig};
    /// fn count(n: u64, _e: &Event) -> u64 { n + 1 }
    /// let mut log = EventLog::builder(dir.path()).view::<u64>("count", count).open()?;
    /// log.append(&Event::new("a", serde_json::json!({})))?;
    /// let handle = log.start_rebuild::<u64>("count", count, ViewConfig::new().version(1))?;
    /// log.finish_rebuild("count")?;
    /// assert_eq!(handle.progress().done, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn progress(&self) -> RebuildProgress {
        let progress = &self.shared.progress;
        let done = progress.done.load(Ordering::Relaxed);
        RebuildProgress {
            done,
            total: progress.total.load(Ordering::Relaxed).max(done),
        }
    }

    /// Whether the background fold has reached the end of the history and waits for the log
    /// to swap the view (or has ended).
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog, ViewConfig};
    /// fn count(n: u64, _e: &Event) -> u64 { n + 1 }
    /// let mut log = EventLog::builder(dir.path()).view::<u64>("count", count).open()?;
    /// let handle = log.start_rebuild::<u64>("count", count, ViewConfig::new().version(1))?;
    /// log.finish_rebuild("count")?;
    /// assert!(handle.is_caught_up());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_caught_up(&self) -> bool {
        self.shared.progress.caught_up.load(Ordering::Acquire) || self.report().is_some()
    }

    /// Asks the rebuild to stop. The background fold stops at its next pause (every 8,192
    /// events) and removes its shadow; the view is never swapped. The log ends the rebuild at
    /// its next [`poll_rebuilds`](EventLog::poll_rebuilds) or
    /// [`refresh_all`](EventLog::refresh_all), and
    /// [`finish_rebuild`](EventLog::finish_rebuild) returns an
    /// [`io::ErrorKind::Interrupted`] error. Does nothing once the rebuild has ended.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog, RebuildEnd, ViewConfig};
    /// fn count(n: u64, _e: &Event) -> u64 { n + 1 }
    /// let mut log = EventLog::builder(dir.path()).view::<u64>("count", count).open()?;
    /// let handle = log.start_rebuild::<u64>("count", count, ViewConfig::new().version(1))?;
    /// handle.cancel();
    /// assert!(log.finish_rebuild("count").is_err());
    /// assert_eq!(handle.report().map(|r| r.end), Some(RebuildEnd::Cancelled));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn cancel(&self) {
        let _ = self.shared.progress.stop.compare_exchange(
            stop::NONE,
            stop::CANCEL,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// The rebuild's report, once it has ended (swapped, cancelled or failed).
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog, ViewConfig};
    /// fn count(n: u64, _e: &Event) -> u64 { n + 1 }
    /// let mut log = EventLog::builder(dir.path()).view::<u64>("count", count).open()?;
    /// let handle = log.start_rebuild::<u64>("count", count, ViewConfig::new().version(1))?;
    /// log.finish_rebuild("count")?;
    /// assert_eq!(handle.report().map(|r| r.version), Some(1));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn report(&self) -> Option<RebuildReport> {
        self.shared
            .report
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A rebuild under way, whatever its state type.
trait Pending: Send {
    fn name(&self) -> &str;
    fn shared(&self) -> &Arc<Shared>;
    /// Whether the background thread has ended (so that [`Pending::finish`] does not wait).
    fn is_done(&self) -> bool;
    /// Waits for the background thread, then folds the last events and builds the new view.
    fn finish(self: Box<Self>, reader: &EventReader) -> Finished;
    /// Asks the background thread to stop and save its shadow, and waits for it.
    fn close(&mut self);
}

/// A rebuild that has ended: the view to swap in when it succeeded, its report, and the error
/// when it did not.
struct Finished {
    view: Option<Box<dyn ViewOps>>,
    report: RebuildReport,
    error: Option<io::Error>,
}

struct Job<S> {
    spec: Spec<S>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<Result<Caught<S>, Ended>>>,
    started: Instant,
}

impl<S> Pending for Job<S>
where
    S: Serialize + DeserializeOwned + Default + Clone + Send + 'static,
{
    fn name(&self) -> &str {
        &self.spec.name
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    fn is_done(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    fn finish(mut self: Box<Self>, reader: &EventReader) -> Finished {
        let joined = match self.thread.take() {
            Some(thread) => thread.join().unwrap_or_else(|panic| {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Err(Ended::Failed(io::Error::other(format!(
                    "the rebuild's background thread panicked: {what}"
                ))))
            }),
            None => Err(Ended::Stopped),
        };
        let progress = &self.shared.progress;
        let cancelled = progress.stop.load(Ordering::Relaxed) == stop::CANCEL;
        let mut report = RebuildReport {
            view: self.spec.name.clone(),
            version: self.spec.config.state_version(),
            end: RebuildEnd::Swapped,
            resumed: 0,
            background: 0,
            at_swap: 0,
            elapsed: Duration::ZERO,
        };
        let shadow = self.spec.shadow();
        let outcome = match joined {
            Ok(caught) => {
                report.resumed = caught.resumed;
                report.background = caught.events - caught.resumed;
                if cancelled {
                    Err(Ended::Stopped)
                } else {
                    rebuild::finish(reader, self.spec, caught).map_err(Ended::Failed)
                }
            }
            Err(ended) => {
                report.background = progress.done.load(Ordering::Relaxed);
                Err(ended)
            }
        };
        let (view, error) = match outcome {
            Ok((view, at_swap)) => {
                report.at_swap = at_swap;
                // The view's snapshot holds the new state now: the shadow is done with.
                if let Err(e) = rebuild::remove_shadow(&shadow) {
                    ::log::warn!(
                        target: "eventfold::rebuild",
                        "eventfold: could not remove {}: {e}",
                        shadow.display()
                    );
                }
                (Some(view), None)
            }
            Err(Ended::Stopped) => {
                report.end = RebuildEnd::Cancelled;
                let _ = rebuild::remove_shadow(&shadow);
                let error = io::Error::new(
                    io::ErrorKind::Interrupted,
                    format!("the rebuild of view {:?} was cancelled", report.view),
                );
                (None, Some(error))
            }
            Err(Ended::Failed(error)) => {
                report.end = RebuildEnd::Failed {
                    error: error.to_string(),
                };
                (None, Some(error))
            }
        };
        report.elapsed = self.started.elapsed();
        progress.caught_up.store(true, Ordering::Release);
        Finished {
            view,
            report,
            error,
        }
    }

    fn close(&mut self) {
        let _ = self.shared.progress.stop.compare_exchange(
            stop::NONE,
            stop::CLOSE,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The rebuilds of a log. Closing the log (dropping it) stops them; each saves its shadow.
#[derive(Default)]
pub(super) struct Rebuilds(Vec<Box<dyn Pending>>);

impl Rebuilds {
    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Drop for Rebuilds {
    fn drop(&mut self) {
        for job in &mut self.0 {
            job.close();
        }
    }
}

impl fmt::Debug for Rebuilds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|j| j.name()))
            .finish()
    }
}

impl EventLog {
    /// Starts rebuilding the registered view `name` in the background, with a new reducer
    /// over owned events and the [`ViewConfig`] `config`, whose version must differ from the
    /// view's: a blue/green rebuild.
    ///
    /// A thread folds the whole history (archive, then `app.jsonl`) into the new state while
    /// the view keeps serving: [`view`](EventLog::view), [`refresh_all`](EventLog::refresh_all),
    /// appends and rotations go on as before. Now and then, and when it has caught up, the
    /// thread saves its progress in `views/NAME.rebuild.json` (the shadow). Once it has reached
    /// the end of the history, the log's thread folds the events appended since, saves the new
    /// state as `views/NAME.snapshot.json` (synced, then renamed over the old one) and puts
    /// the new view in the old one's place, in one step: this happens at the next
    /// [`refresh_all`](EventLog::refresh_all) or [`poll_rebuilds`](EventLog::poll_rebuilds),
    /// or at [`finish_rebuild`](EventLog::finish_rebuild), which waits for it. Until then
    /// `view::<Old>(name)` gives the old state; after it, `view::<S>(name)` gives the new one;
    /// never a mix. The state type may change.
    ///
    /// The thread runs at a lower priority than the one that starts it (ten steps of `nice`
    /// on Linux, where the helper threads it starts inherit that; below normal on Windows),
    /// so that the program's refreshes and appends go first when they compete for a core.
    /// [`ViewConfig::rebuild_threads`] sets how many threads it folds on.
    ///
    /// **Across restarts.** Call it right after opening the log, before the first refresh, at
    /// every start until the program registers the view with the new version: a shadow of
    /// this version that a crash or a close left is resumed from (if the line before its
    /// position is still in the history), and if an earlier run already swapped the view (its
    /// snapshot has this version), the new view takes the old one's place at once, folding
    /// nothing. A shadow of another version is removed. When the program registers the view
    /// with the new version, opening the log takes a shadow of that version as the view's
    /// snapshot (if it lies in the active log; else the view replays the history) and
    /// removes it.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::NotFound`] if no view `name` is registered;
    /// [`io::ErrorKind::AlreadyExists`] if a rebuild of it is under way;
    /// [`io::ErrorKind::InvalidInput`] if `config`'s version is the view's (the version is how
    /// the old state and the new one are told apart on disk, so a rebuild needs a new one);
    /// an I/O error reading the view's snapshot or removing a shadow of another version, or
    /// starting the thread. Errors of the fold itself are reported when it ends.
    ///
    /// # Example
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog, ViewConfig};
    /// fn count(n: u64, _e: &Event) -> u64 { n + 1 }
    /// fn types(mut seen: Vec<String>, e: &Event) -> Vec<String> {
    ///     seen.push(e.event_type.clone());
    ///     seen
    /// }
    /// let mut log = EventLog::builder(dir.path()).view::<u64>("stats", count).open()?;
    /// log.append(&Event::new("a", serde_json::json!({})))?;
    /// log.refresh_all()?;
    ///
    /// let handle = log.start_rebuild::<Vec<String>>("stats", types, ViewConfig::new().version(2))?;
    /// log.append(&Event::new("b", serde_json::json!({})))?; // appends go on meanwhile
    /// log.finish_rebuild("stats")?; // waits, then swaps
    /// assert_eq!(*log.view::<Vec<String>>("stats")?, ["a", "b"]);
    /// assert!(log.view::<u64>("stats").is_err()); // the old state is gone
    /// assert!(handle.report().is_some());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn start_rebuild<S>(
        &mut self,
        name: &str,
        reducer: ReduceFn<S>,
        config: ViewConfig,
    ) -> io::Result<RebuildHandle>
    where
        S: Serialize + DeserializeOwned + Default + Clone + Send + 'static,
    {
        self.start(name, Reducer::Owned(reducer), config)
    }

    /// Starts a background rebuild like [`start_rebuild`](EventLog::start_rebuild), with a
    /// zero-copy reducer over borrowed [`EventRef`](crate::EventRef)s.
    ///
    /// # Errors
    ///
    /// As [`EventLog::start_rebuild`].
    ///
    /// # Example
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog, EventRef, ViewConfig};
    /// fn count(n: u64, _e: &Event) -> u64 { n + 1 }
    /// fn clicks(n: u64, e: &EventRef<'_>) -> u64 { n + u64::from(e.event_type() == "click") }
    /// let mut log = EventLog::builder(dir.path()).view::<u64>("n", count).open()?;
    /// log.append(&Event::new("click", serde_json::json!({})))?;
    /// log.append(&Event::new("scroll", serde_json::json!({})))?;
    /// log.start_rebuild_ref::<u64>("n", clicks, ViewConfig::new().version(1))?;
    /// log.finish_rebuild("n")?;
    /// assert_eq!(*log.view::<u64>("n")?, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn start_rebuild_ref<S>(
        &mut self,
        name: &str,
        reducer: ReduceRefFn<S>,
        config: ViewConfig,
    ) -> io::Result<RebuildHandle>
    where
        S: Serialize + DeserializeOwned + Default + Clone + Send + 'static,
    {
        self.start(name, Reducer::Borrowed(reducer), config)
    }

    fn start<S>(
        &mut self,
        name: &str,
        reducer: Reducer<S>,
        config: ViewConfig,
    ) -> io::Result<RebuildHandle>
    where
        S: Serialize + DeserializeOwned + Default + Clone + Send + 'static,
    {
        check_view_name(name)?;
        let index = self.view_index(name)?;
        if self.rebuilds.0.iter().any(|job| job.name() == name) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("a rebuild of view {name:?} is under way: finish or cancel it first"),
            ));
        }
        let version = config.state_version();
        if self.views[index].state_version() == version {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "view {name:?} already has version {version}: a background rebuild needs a \
                     version of its own, to tell its state from the old one on disk"
                ),
            ));
        }
        let spec = Spec {
            name: name.to_string(),
            reducer,
            config: config.or_policy(self.snapshot_policy),
            views_dir: self.views_dir().to_path_buf(),
        };
        let shared = Arc::new(Shared::default());
        let handle = RebuildHandle {
            view: name.to_string(),
            shared: shared.clone(),
        };
        let shadow = spec.shadow();
        let live = spec.views_dir.join(format!("{name}.snapshot.json"));
        if rebuild::file_version(&live)? == Some(version) {
            // An earlier run swapped the view: its snapshot is the new view's.
            rebuild::remove_shadow(&shadow)?;
            let report = RebuildReport {
                view: name.to_string(),
                version,
                end: RebuildEnd::Swapped,
                resumed: 0,
                background: 0,
                at_swap: 0,
                elapsed: Duration::ZERO,
            };
            self.views[index] = rebuild::registered(spec);
            shared.progress.caught_up.store(true, Ordering::Release);
            *shared.report.lock().unwrap_or_else(PoisonError::into_inner) = Some(report);
            return Ok(handle);
        }
        if rebuild::file_version(&shadow)?.is_some_and(|v| v != version) {
            rebuild::remove_shadow(&shadow)?;
        }
        let thread_spec = Spec {
            name: spec.name.clone(),
            reducer,
            config: spec.config.clone(),
            views_dir: spec.views_dir.clone(),
        };
        let reader = self.reader.clone();
        let thread_shared = shared.clone();
        // The fault-injection tests model every file operation, the thread's included.
        #[cfg(test)]
        let fs = crate::store::fault::installed();
        let thread = std::thread::Builder::new()
            .name(format!("eventfold-rebuild-{name}"))
            .spawn(move || {
                // The fold yields to the program's threads (its refreshes, its appends) when
                // they compete for a core; the helpers it starts inherit that on Linux.
                platform::lower_thread_priority();
                #[cfg(test)]
                let _fs = fs.map(crate::store::fault::install);
                let progress = &thread_shared.progress;
                let result = rebuild::background(&reader, &thread_spec, progress);
                if matches!(result, Err(Ended::Stopped))
                    && progress.stop.load(Ordering::Relaxed) == stop::CANCEL
                {
                    let _ = rebuild::remove_shadow(&thread_spec.shadow());
                }
                result
            })
            .map_err(|e| {
                let why = format!("cannot start a thread for the rebuild of view {name:?}: {e}");
                io::Error::new(e.kind(), why)
            })?;
        self.rebuilds.0.push(Box::new(Job {
            spec,
            shared,
            thread: Some(thread),
            started: Instant::now(),
        }));
        Ok(handle)
    }

    /// Ends the background rebuilds that are ready, without waiting for the others: swaps in
    /// each view whose background fold has caught up (folding the events appended since),
    /// and drops those that were cancelled or failed. Returns their reports.
    ///
    /// [`refresh_all`](EventLog::refresh_all) calls it first, so a program that refreshes
    /// need not. A failure is reported, never returned: the old view goes on serving.
    ///
    /// # Example
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog, ViewConfig};
    /// fn count(n: u64, _e: &Event) -> u64 { n + 1 }
    /// let mut log = EventLog::builder(dir.path()).view::<u64>("count", count).open()?;
    /// log.append(&Event::new("a", serde_json::json!({})))?;
    /// let handle = log.start_rebuild::<u64>("count", count, ViewConfig::new().version(1))?;
    /// while handle.report().is_none() {
    ///     log.poll_rebuilds(); // the program's loop does its work meanwhile
    ///     std::thread::sleep(std::time::Duration::from_millis(1));
    /// }
    /// assert_eq!(*log.view::<u64>("count")?, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll_rebuilds(&mut self) -> Vec<RebuildReport> {
        let mut reports = Vec::new();
        let mut i = 0;
        while i < self.rebuilds.0.len() {
            if self.rebuilds.0[i].is_done() {
                let job = self.rebuilds.0.remove(i);
                let finished = self.end_rebuild(job);
                if let Some(error) = &finished.error {
                    ::log::warn!(target: "eventfold::rebuild", "eventfold: {error}");
                }
                reports.push(finished.report);
            } else {
                i += 1;
            }
        }
        reports
    }

    /// Waits for the background rebuild of view `name` to catch up, then swaps the view in
    /// (see [`start_rebuild`](EventLog::start_rebuild)) and returns the report.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::NotFound`] if no rebuild of `name` is under way (one that ended at a
    /// [`poll_rebuilds`](EventLog::poll_rebuilds) or a refresh is no longer: its handle has
    /// the report); [`io::ErrorKind::Interrupted`] if it was cancelled; the error that ended
    /// the fold or the swap (the view is then unchanged).
    ///
    /// # Example
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog, ViewConfig};
    /// fn count(n: u64, _e: &Event) -> u64 { n + 1 }
    /// fn double(n: u64, _e: &Event) -> u64 { n + 2 }
    /// let mut log = EventLog::builder(dir.path()).view::<u64>("n", count).open()?;
    /// log.append(&Event::new("a", serde_json::json!({})))?;
    /// log.start_rebuild::<u64>("n", double, ViewConfig::new().version(7))?;
    /// let report = log.finish_rebuild("n")?;
    /// assert_eq!((report.version, *log.view::<u64>("n")?), (7, 2));
    /// assert!(log.finish_rebuild("n").is_err()); // it has ended
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn finish_rebuild(&mut self, name: &str) -> io::Result<RebuildReport> {
        let Some(i) = self.rebuilds.0.iter().position(|job| job.name() == name) else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no rebuild of view {name:?} is under way"),
            ));
        };
        let job = self.rebuilds.0.remove(i);
        let finished = self.end_rebuild(job);
        match finished.error {
            Some(error) => Err(error),
            None => Ok(finished.report),
        }
    }

    /// Ends a rebuild: waits for its thread, swaps the view in if it succeeded, and records
    /// the report in its handle.
    fn end_rebuild(&mut self, job: Box<dyn Pending>) -> Finished {
        let shared = job.shared().clone();
        let name = job.name().to_string();
        let mut finished = job.finish(&self.reader);
        if let Some(view) = finished.view.take() {
            match self.views.iter().position(|v| v.view_name() == name) {
                Some(i) => self.views[i] = view,
                None => {
                    finished.error = Some(io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("view {name:?} is no longer registered"),
                    ));
                }
            }
        }
        ::log::info!(target: "eventfold::rebuild", "eventfold: {}", finished.report);
        *shared.report.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(finished.report.clone());
        finished
    }

    /// The index of the registered view `name`.
    fn view_index(&self, name: &str) -> io::Result<usize> {
        self.views
            .iter()
            .position(|v| v.view_name() == name)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("no view named {name:?} is registered"),
                )
            })
    }
}
