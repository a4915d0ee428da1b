//! When a view saves its snapshot ([`SnapshotPolicy`]), and the settings of one view
//! ([`ViewConfig`]).

use crate::views::checkpoint::Checkpoints;
use std::time::Duration;

/// When a view writes its snapshot to disk.
///
/// A snapshot is a cache: it saves a later open the work of folding the events before its
/// offset again. Writing it costs a serialization of the whole state and a file write, so a view
/// whose state is large, or that is refreshed after every append, may save less often and fold
/// a few more events on the next open instead.
///
/// Whatever the policy:
///
/// - a refresh that replayed the whole history (no snapshot, a discarded one, or
///   [`View::rebuild`](crate::View::rebuild)) saves what it folded, so a rebuild happens once
///   and not at every open, except under [`manual`](SnapshotPolicy::manual);
/// - a rotation writes the snapshot of every registered view at offset 0, durably: the old
///   offset points into a file that no longer exists;
/// - [`View::save`](crate::View::save) and [`EventLog::save_all`](crate::EventLog::save_all)
///   save on request.
///
/// Progress that is not saved is not lost, only folded again: a view that is dropped (or a
/// process that exits) with unsaved progress leaves the last snapshot on disk, and the next
/// refresh reads the events after its offset. Dropping a view never writes its snapshot, since
/// a drop cannot report an error; call [`View::save`](crate::View::save) before dropping it to
/// keep the work.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{Event, EventLog, SnapshotPolicy};
/// fn count(n: u64, _e: &Event) -> u64 { n + 1 }
/// let mut log = EventLog::builder(dir.path())
///     .snapshot_policy(SnapshotPolicy::every_events(1000).or(SnapshotPolicy::every_bytes(1 << 20)))
///     .view::<u64>("count", count)
///     .open()?;
/// log.append(&Event::new("a", serde_json::json!({})))?;
/// log.refresh_all()?; // the first refresh replays from scratch, so it saves
/// log.append(&Event::new("b", serde_json::json!({})))?;
/// log.refresh_all()?; // one event since the last save: not saved yet
/// let saved = eventfold::snapshot::load::<u64>(&log.views_dir().join("count.snapshot.json"))?;
/// assert_eq!(saved.map(|s| s.state), Some(1));
/// log.save_all()?;
/// let saved = eventfold::snapshot::load::<u64>(&log.views_dir().join("count.snapshot.json"))?;
/// assert_eq!(saved.map(|s| s.state), Some(2));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotPolicy {
    /// Save once at least this many events were folded since the last save.
    events: Option<u64>,
    /// Save once at least this many bytes of log lines were folded since the last save.
    bytes: Option<u64>,
}

impl Default for SnapshotPolicy {
    /// [`SnapshotPolicy::every_refresh`], eventfold 0.2.0's behaviour.
    fn default() -> Self {
        Self::every_refresh()
    }
}

impl SnapshotPolicy {
    /// Saves after every refresh that folded at least one event: the default, and what
    /// eventfold 0.2.0 does.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::SnapshotPolicy;
    /// assert_eq!(SnapshotPolicy::default(), SnapshotPolicy::every_refresh());
    /// assert_eq!(SnapshotPolicy::every_refresh(), SnapshotPolicy::every_events(1));
    /// ```
    pub const fn every_refresh() -> Self {
        Self::every_events(1)
    }

    /// Saves once at least `n` events were folded since the last save (`0` counts as `1`,
    /// which is [`every_refresh`](SnapshotPolicy::every_refresh)).
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventWriter, SnapshotPolicy, View, ViewConfig};
    /// let mut writer = EventWriter::open(dir.path())?;
    /// let config = ViewConfig::new().policy(SnapshotPolicy::every_events(2));
    /// let mut view = View::<u64>::new("count", |n, _e| n + 1, writer.views_dir()).with_config(config);
    /// let event = Event::new("tick", serde_json::json!({}));
    /// writer.append(&event)?;
    /// assert!(view.refresh_with_report(&writer.reader())?.saved); // a first replay saves
    /// writer.append(&event)?;
    /// assert!(!view.refresh_with_report(&writer.reader())?.saved); // 1 event since the save
    /// writer.append(&event)?;
    /// assert!(view.refresh_with_report(&writer.reader())?.saved); // 2 events
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub const fn every_events(n: u64) -> Self {
        SnapshotPolicy {
            events: Some(n),
            bytes: None,
        }
        .normalized()
    }

    /// Saves once at least `b` bytes of log lines (newlines included) were folded since the
    /// last save (`0` and `1` save after every refresh that folded an event, as
    /// [`every_refresh`](SnapshotPolicy::every_refresh)).
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::SnapshotPolicy;
    /// let policy = SnapshotPolicy::every_bytes(4 << 20); // about every 4 MiB of events
    /// assert_ne!(policy, SnapshotPolicy::every_refresh());
    /// ```
    pub const fn every_bytes(b: u64) -> Self {
        SnapshotPolicy {
            events: None,
            bytes: Some(b),
        }
        .normalized()
    }

    /// Saves only when asked ([`View::save`](crate::View::save),
    /// [`EventLog::save_all`](crate::EventLog::save_all)), and at rotation, which must.
    ///
    /// Even a replay from scratch is not saved: until the program saves, every open replays
    /// the whole history again.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::SnapshotPolicy;
    /// let policy = SnapshotPolicy::manual();
    /// assert_eq!(policy.or(SnapshotPolicy::every_events(10)), SnapshotPolicy::every_events(10));
    /// ```
    pub const fn manual() -> Self {
        SnapshotPolicy {
            events: None,
            bytes: None,
        }
    }

    /// Saves when either policy would.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::SnapshotPolicy;
    /// let policy = SnapshotPolicy::every_events(1000).or(SnapshotPolicy::every_bytes(1 << 20));
    /// assert_eq!(SnapshotPolicy::manual().or(policy), policy);
    /// assert_eq!(policy.or(SnapshotPolicy::every_refresh()), SnapshotPolicy::every_refresh());
    /// ```
    #[must_use]
    pub const fn or(self, other: SnapshotPolicy) -> Self {
        SnapshotPolicy {
            events: min_some(self.events, other.events),
            bytes: min_some(self.bytes, other.bytes),
        }
        .normalized()
    }

    /// One value per behaviour: a policy that saves after every refresh that folded an event
    /// is [`every_refresh`](SnapshotPolicy::every_refresh), whatever else it says.
    const fn normalized(self) -> Self {
        let every_event = matches!(self.events, Some(0 | 1)) || matches!(self.bytes, Some(0 | 1));
        if every_event {
            SnapshotPolicy {
                events: Some(1),
                bytes: None,
            }
        } else {
            self
        }
    }

    /// Whether only explicit saves (and rotation) write the snapshot.
    pub(crate) fn is_manual(&self) -> bool {
        self.events.is_none() && self.bytes.is_none()
    }

    /// Whether a view that folded `events` events in `bytes` bytes since its last save should
    /// save now.
    pub(crate) fn is_due(&self, events: u64, bytes: u64) -> bool {
        self.events.is_some_and(|n| events >= n) || self.bytes.is_some_and(|b| bytes >= b)
    }
}

const fn min_some(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if a < b { a } else { b }),
        (Some(x), None) | (None, Some(x)) => Some(x),
        (None, None) => None,
    }
}

/// The settings of one view: its [`SnapshotPolicy`] and the version of its state.
///
/// Pass it to [`View::with_config`](crate::View::with_config),
/// [`EventLogBuilder::view_with`](crate::EventLogBuilder::view_with) or
/// [`EventLogBuilder::view_ref_with`](crate::EventLogBuilder::view_ref_with). The default sets
/// no policy (the view takes the log's, see
/// [`EventLogBuilder::snapshot_policy`](crate::EventLogBuilder::snapshot_policy), or
/// [`SnapshotPolicy::every_refresh`]) and version 0.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{Event, EventLog, SnapshotPolicy, ViewConfig};
/// fn count(n: u64, _e: &Event) -> u64 { n + 1 }
/// let config = ViewConfig::new().policy(SnapshotPolicy::every_events(100)).version(2);
/// let mut log = EventLog::builder(dir.path()).view_with::<u64>("count", count, config).open()?;
/// log.append(&Event::new("a", serde_json::json!({})))?;
/// log.refresh_all()?;
/// let snapshot = std::fs::read_to_string(log.views_dir().join("count.snapshot.json"))?;
/// assert!(snapshot.contains("\"version\": 2"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct ViewConfig {
    policy: Option<SnapshotPolicy>,
    version: u32,
    checkpoints: Option<Checkpoints>,
    rebuild: RebuildSettings,
}

/// How a background rebuild to a [`ViewConfig`] runs (see
/// [`EventLog::start_rebuild`](crate::EventLog::start_rebuild)); it leaves the view itself
/// unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RebuildSettings {
    /// Threads of the background fold, its own included.
    pub threads: usize,
    /// How often, at most, the background fold saves its shadow.
    pub save_every: Duration,
}

impl Default for RebuildSettings {
    fn default() -> Self {
        RebuildSettings {
            threads: 1,
            save_every: Duration::from_secs(2),
        }
    }
}

impl ViewConfig {
    /// The default settings: no policy of its own, version 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::ViewConfig;
    /// let config = ViewConfig::new();
    /// # let _ = config;
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets when the view saves its snapshot.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::{SnapshotPolicy, ViewConfig};
    /// let config = ViewConfig::new().policy(SnapshotPolicy::manual());
    /// # let _ = config;
    /// ```
    #[must_use]
    pub fn policy(mut self, policy: SnapshotPolicy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Sets the version of the view's state: raise it whenever the reducer or the state type
    /// changes meaning, and the view is rebuilt from the whole history, once.
    ///
    /// A view with a version other than 0 writes it in its snapshot (`"version": v`); version
    /// 0 writes no field, so its snapshots are exactly those of eventfold 0.2.0. A snapshot
    /// whose version differs from the view's (a snapshot without the field has version 0) is
    /// discarded, the view replays the whole history, and that replay saves a snapshot with the
    /// new version (under every policy except [`SnapshotPolicy::manual`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventWriter, Replay, View, ViewConfig};
    /// let mut writer = EventWriter::open(dir.path())?;
    /// writer.append(&Event::new("a", serde_json::json!({})))?;
    /// let mut v1 = View::<u64>::new("count", |n, _e| n + 1, writer.views_dir());
    /// v1.refresh(&writer.reader())?; // saves a snapshot without a version
    ///
    /// let config = ViewConfig::new().version(2);
    /// let mut v2 = View::<u64>::new("count", |n, _e| n + 1, writer.views_dir()).with_config(config);
    /// let report = v2.refresh_with_report(&writer.reader())?;
    /// assert_eq!(report.replay, Some(Replay::VersionChanged { found: 0, expected: 2 }));
    /// assert!(report.saved);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[must_use]
    pub fn version(mut self, version: u32) -> Self {
        self.version = version;
        self
    }

    /// The policy in effect: this config's, else `default`, else every refresh.
    /// Keeps checkpoints of the view's past states, which
    /// [`View::state_at`](crate::View::state_at) starts from (see [`Checkpoints`]). None by
    /// default.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{At, Checkpoints, Event, EventLog, ViewConfig};
    /// fn count(n: u64, _e: &Event) -> u64 { n + 1 }
    /// let config = ViewConfig::new().checkpoints(Checkpoints::every(2));
    /// let mut log = EventLog::builder(dir.path()).view_with::<u64>("count", count, config).open()?;
    /// for _ in 0..5 {
    ///     log.append(&Event::new("tick", serde_json::json!({})))?;
    /// }
    /// log.refresh_all()?; // leaves checkpoints after 2 and 4 events
    /// assert_eq!(log.state_at::<u64>("count", At::Event(2))?, 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[must_use]
    pub fn checkpoints(mut self, checkpoints: Checkpoints) -> Self {
        self.checkpoints = Some(checkpoints);
        self
    }

    /// Sets how many threads a background rebuild to this config folds on (see
    /// [`EventLog::start_rebuild`](crate::EventLog::start_rebuild)), its own included: 1 by
    /// default, so that the program's own refreshes keep the other cores. More threads end
    /// the rebuild sooner and leave less to the program's thread; `0` uses as many as the
    /// log's replays do (see [`EventReader::replay_threads`](crate::EventReader::replay_threads)).
    /// The view's own refreshes are not affected.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog, ViewConfig};
    /// fn count(n: u64, _e: &Event) -> u64 { n + 1 }
    /// let mut log = EventLog::builder(dir.path()).view::<u64>("count", count).open()?;
    /// log.append(&Event::new("a", serde_json::json!({})))?;
    /// let config = ViewConfig::new().version(2).rebuild_threads(2);
    /// log.start_rebuild::<u64>("count", count, config)?;
    /// log.finish_rebuild("count")?;
    /// assert_eq!(*log.view::<u64>("count")?, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[must_use]
    pub fn rebuild_threads(mut self, threads: usize) -> Self {
        self.rebuild.threads = threads;
        self
    }

    /// Sets how often, at most, a background rebuild to this config saves its progress in its
    /// shadow (`views/NAME.rebuild.json`, see
    /// [`EventLog::start_rebuild`](crate::EventLog::start_rebuild)): every 2 seconds by
    /// default. A save writes the whole new state, so a large state is better saved less
    /// often; a crash loses the work since the last save (the next rebuild resumes from it).
    /// The fold looks at the clock every few thousand events, so it saves no more often than
    /// that, whatever the setting; it also saves once it has caught up.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::ViewConfig;
    /// let config = ViewConfig::new().version(2).rebuild_save_every(std::time::Duration::from_secs(30));
    /// # let _ = config;
    /// ```
    #[must_use]
    pub fn rebuild_save_every(mut self, every: Duration) -> Self {
        self.rebuild.save_every = every;
        self
    }

    pub(crate) fn rebuild_settings(&self) -> RebuildSettings {
        self.rebuild
    }

    pub(crate) fn checkpoint_settings(&self) -> Option<Checkpoints> {
        self.checkpoints
    }

    pub(crate) fn effective_policy(&self) -> SnapshotPolicy {
        self.policy.unwrap_or_default()
    }

    /// Gives the config `default` as its policy if it sets none.
    pub(crate) fn or_policy(mut self, default: Option<SnapshotPolicy>) -> Self {
        self.policy = self.policy.or(default);
        self
    }

    pub(crate) fn state_version(&self) -> u32 {
        self.version
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_policy_is_due_when_it_says() {
        let every = SnapshotPolicy::every_refresh();
        assert!(every.is_due(1, 1) && !every.is_manual());
        let events = SnapshotPolicy::every_events(3);
        assert!(!events.is_due(2, u64::MAX) && events.is_due(3, 0));
        let bytes = SnapshotPolicy::every_bytes(100);
        assert!(!bytes.is_due(u64::MAX, 99) && bytes.is_due(1, 100));
        let manual = SnapshotPolicy::manual();
        assert!(manual.is_manual() && !manual.is_due(u64::MAX, u64::MAX));
    }

    #[test]
    fn or_saves_when_either_would() {
        let both = SnapshotPolicy::every_events(3).or(SnapshotPolicy::every_bytes(100));
        assert!(!both.is_due(2, 99));
        assert!(both.is_due(3, 0) && both.is_due(0, 100));
        assert_eq!(
            SnapshotPolicy::every_events(3).or(SnapshotPolicy::every_events(5)),
            SnapshotPolicy::every_events(3)
        );
        assert_eq!(SnapshotPolicy::manual().or(both), both);
        assert_eq!(both.or(SnapshotPolicy::manual()), both);
        assert_eq!(
            both.or(SnapshotPolicy::every_refresh()),
            SnapshotPolicy::every_refresh()
        );
    }

    #[test]
    fn thresholds_of_one_event_or_byte_are_every_refresh() {
        for policy in [
            SnapshotPolicy::every_events(0),
            SnapshotPolicy::every_events(1),
            SnapshotPolicy::every_bytes(0),
            SnapshotPolicy::every_bytes(1),
            SnapshotPolicy::default(),
        ] {
            assert_eq!(policy, SnapshotPolicy::every_refresh());
        }
        assert_ne!(
            SnapshotPolicy::every_bytes(2),
            SnapshotPolicy::every_refresh()
        );
    }

    #[test]
    fn a_config_policy_wins_over_the_log_default() {
        let default = Some(SnapshotPolicy::manual());
        let own = ViewConfig::new().policy(SnapshotPolicy::every_events(7));
        assert_eq!(
            own.or_policy(default).effective_policy(),
            SnapshotPolicy::every_events(7)
        );
        let none = ViewConfig::new();
        assert_eq!(
            none.clone().or_policy(default).effective_policy(),
            SnapshotPolicy::manual()
        );
        assert_eq!(
            none.or_policy(None).effective_policy(),
            SnapshotPolicy::every_refresh()
        );
    }
}
