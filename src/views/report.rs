//! What a refresh did: [`RefreshReport`], and why a view replayed the whole history
//! ([`Replay`]).

use std::fmt;
use std::time::Duration;

/// Why a refresh replayed the whole history (the archive, then the active log) instead of
/// reading on from the view's snapshot.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{Event, EventWriter, Replay, View};
/// let mut writer = EventWriter::open(dir.path())?;
/// writer.append(&Event::new("a", serde_json::json!({})))?;
/// let mut view = View::<u64>::new("count", |n, _e| n + 1, writer.views_dir());
/// let report = view.refresh_with_report(&writer.reader())?;
/// assert_eq!(report.replay, Some(Replay::NoSnapshot));
/// assert_eq!(Replay::NoSnapshot.to_string(), "there was no snapshot");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Replay {
    /// The view has no snapshot file yet.
    NoSnapshot,
    /// The snapshot file exists but cannot be read as a snapshot of the view's state type
    /// (damaged, cut short by a crash, or written for another type).
    Unreadable,
    /// The snapshot was written for another version of the view
    /// ([`ViewConfig::version`](crate::ViewConfig::version)).
    VersionChanged {
        /// The version in the snapshot (0 when it has none).
        found: u32,
        /// The view's version.
        expected: u32,
    },
    /// The snapshot's offset lies beyond the end of `app.jsonl`, or the line before it does
    /// not hash to the snapshot's hash: the log is not the one the snapshot was taken from.
    LogRewritten,
    /// A rotation archived events this view had not read (a view not registered on the log
    /// that rotated).
    RotationMissed,
    /// [`View::rebuild`](crate::View::rebuild) asked for it.
    Requested,
    /// An earlier replay stopped at an error in the archive, so this one starts over.
    Retry,
}

impl fmt::Display for Replay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Replay::NoSnapshot => f.write_str("there was no snapshot"),
            Replay::Unreadable => f.write_str("the snapshot could not be read"),
            Replay::VersionChanged { found, expected } => write!(
                f,
                "the snapshot has version {found} and the view version {expected}"
            ),
            Replay::LogRewritten => f.write_str("the snapshot does not match app.jsonl"),
            Replay::RotationMissed => {
                f.write_str("a rotation archived events the view had not read")
            }
            Replay::Requested => f.write_str("a rebuild was requested"),
            Replay::Retry => f.write_str("the last replay stopped at an error in the archive"),
        }
    }
}

/// What one refresh of a view did.
///
/// Returned by [`View::refresh_with_report`](crate::View::refresh_with_report),
/// [`View::rebuild_with_report`](crate::View::rebuild_with_report) and
/// [`EventLog::refresh_all_with_report`](crate::EventLog::refresh_all_with_report). Its
/// `Display` is one sentence, for logs.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{Event, EventLog};
/// fn count(n: u64, _e: &Event) -> u64 { n + 1 }
/// let mut log = EventLog::builder(dir.path()).view::<u64>("count", count).open()?;
/// log.append(&Event::new("a", serde_json::json!({})))?;
/// let reports = log.refresh_all_with_report()?;
/// assert_eq!((reports[0].view.as_str(), reports[0].folded, reports[0].saved), ("count", 1, true));
/// log.append(&Event::new("b", serde_json::json!({})))?;
/// let report = &log.refresh_all_with_report()?[0];
/// assert_eq!((report.folded, report.replay), (1, None)); // read on from the snapshot
/// // view "count": folded 1 event after its snapshot in 41.0µs; snapshot saved
/// println!("{report}");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefreshReport {
    /// The view's name.
    pub view: String,
    /// Events folded by this refresh (from the archive and the active log).
    pub folded: u64,
    /// Why the refresh replayed the whole history; `None` when it read on from the view's
    /// position.
    pub replay: Option<Replay>,
    /// Whether the refresh wrote the view's snapshot.
    pub saved: bool,
    /// How long the refresh took, loading the snapshot and saving included.
    pub elapsed: Duration,
}

impl fmt::Display for RefreshReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (count, events) = (
            self.folded,
            if self.folded == 1 { "event" } else { "events" },
        );
        let elapsed = self.elapsed;
        match self.replay {
            Some(reason) => write!(
                f,
                "view {:?}: replayed the whole history because {reason}, {count} {events} in \
                 {elapsed:.1?}",
                self.view
            )?,
            None => write!(
                f,
                "view {:?}: folded {count} {events} after its snapshot in {elapsed:.1?}",
                self.view
            )?,
        }
        f.write_str(if self.saved {
            "; snapshot saved"
        } else {
            "; snapshot not saved"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(replay: Option<Replay>, folded: u64, saved: bool) -> RefreshReport {
        RefreshReport {
            view: "todos".into(),
            folded,
            replay,
            saved,
            elapsed: Duration::from_micros(1500),
        }
    }

    #[test]
    fn reports_read_as_one_sentence() {
        assert_eq!(
            report(None, 1, true).to_string(),
            "view \"todos\": folded 1 event after its snapshot in 1.5ms; snapshot saved"
        );
        assert_eq!(
            report(Some(Replay::NoSnapshot), 3, false).to_string(),
            "view \"todos\": replayed the whole history because there was no snapshot, 3 \
             events in 1.5ms; snapshot not saved"
        );
        let changed = Replay::VersionChanged {
            found: 0,
            expected: 2,
        };
        assert_eq!(
            report(Some(changed), 0, false).to_string(),
            "view \"todos\": replayed the whole history because the snapshot has version 0 \
             and the view version 2, 0 events in 1.5ms; snapshot not saved"
        );
    }

    #[test]
    fn every_reason_says_something_different() {
        let reasons = [
            Replay::NoSnapshot,
            Replay::Unreadable,
            Replay::VersionChanged {
                found: 1,
                expected: 2,
            },
            Replay::LogRewritten,
            Replay::RotationMissed,
            Replay::Requested,
            Replay::Retry,
        ];
        let texts: std::collections::BTreeSet<String> =
            reasons.iter().map(ToString::to_string).collect();
        assert_eq!(texts.len(), reasons.len());
    }
}
