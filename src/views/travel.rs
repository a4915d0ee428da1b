//! Time travel: the state of a view as it was at an earlier point of the history.

use crate::format::fold::{LineFold, MaxTs, Stop, Until};
use crate::replay::reader::{EventReader, Pauses, Place};
use crate::store::position::Position;
use crate::views::checkpoint::{self, Mark};
use serde::de::DeserializeOwned;
use std::io;
use std::path::Path;

/// A point of the history, for [`View::state_at`](crate::View::state_at): the state asked for
/// has folded every event up to and including it.
///
/// # Examples
///
/// ```
/// use eventfold::{At, Position};
/// let points = [At::Event(41), At::Position(Position::new(5120)), At::Time(1_767_225_600)];
/// assert_eq!(points[0], At::Event(41));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// Up to and including the event with this index (the first event has index 0).
    Event(u64),
    /// Up to and including the event whose line starts at or before this position (an event
    /// that starts exactly there is included).
    Position(Position),
    /// Up to and including the last event of the longest run of events, from the first, whose
    /// `ts` are all at or before this time (seconds since the Unix epoch). Timestamps need not
    /// grow: the fold stops before the first event stamped later than this time, even if events
    /// after it are stamped earlier again. With timestamps that only grow, this is every event
    /// stamped at or before the time.
    Time(u64),
}

/// A state that time travel may start from: a checkpoint or the view's own state.
pub(crate) struct Start<S> {
    pub mark: Mark,
    pub state: S,
}

/// What the fold is asked to reach, once the point is resolved against the history.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// This many events folded (`None`: all of them).
    Events(Option<u64>),
    /// Before the first event stamped after this time.
    Time(u64),
}

impl Target {
    /// Whether a state of `mark` lies within the target, so that folding on from it reaches it.
    fn admits(&self, mark: &Mark) -> bool {
        match *self {
            Target::Events(None) => true,
            Target::Events(Some(n)) => mark.events <= n,
            Target::Time(ts) => mark.max_ts().at_or_before(ts),
        }
    }
}

/// Pauses the fold at the target, and ends it there.
struct ToTarget {
    target: Target,
    /// Events folded before this fold began.
    from: u64,
}

impl<A> Pauses<A> for ToTarget {
    fn until(&self, folded: u64) -> Until {
        let stop = match self.target {
            Target::Events(None) => Stop::Never,
            Target::Events(Some(n)) => Stop::After(n.saturating_sub(self.from + folded)),
            Target::Time(ts) => Stop::TsAbove(ts),
        };
        Until {
            stop,
            track_ts: false,
        }
    }

    fn pause(&mut self, _: &A, _: u64, _: Place, _: Option<&[u8]>, _: MaxTs) -> bool {
        false
    }
}

/// The state folded by `fold` up to `at`, starting from the best place available: the newest
/// checkpoint in `checkpoints` (a view's checkpoint directory, if it keeps checkpoints) or the
/// state `live` (the view's own) that lies within the point and passes the checks (the view's
/// `version`, and the hash of the line before it), or else the start of the history.
pub(crate) fn state_at<S, F>(
    reader: &EventReader,
    fold: &F,
    checkpoints: Option<&Path>,
    version: u32,
    at: At,
    live: Option<Start<&S>>,
) -> io::Result<S>
where
    S: DeserializeOwned + Default + Clone,
    F: LineFold<S>,
{
    let target = match at {
        At::Event(index) => Target::Events(Some(index.saturating_add(1))),
        At::Time(ts) => Target::Time(ts),
        At::Position(position) => {
            // Events with a position up to `position`: as many as the index of the first event
            // after it.
            let after = Position::new(position.offset().saturating_add(1));
            match reader.read_history(after)?.next() {
                Some(first) => Target::Events(Some(first?.index)),
                None => Target::Events(None),
            }
        }
    };
    let start = best_start(reader, checkpoints, version, target, live)?;
    let (from, position, state) = match start {
        Some(start) => (start.mark.events, start.mark.position, start.state),
        None => (0, 0, S::default()),
    };
    let mut pauses = ToTarget { target, from };
    let folded = reader.fold_from(position, None, state, fold, &mut pauses);
    match folded.error {
        Some(error) => Err(error),
        None => Ok(folded.acc),
    }
}

/// The newest start within `target` that passes the checks.
fn best_start<S>(
    reader: &EventReader,
    checkpoints: Option<&Path>,
    version: u32,
    target: Target,
    live: Option<Start<&S>>,
) -> io::Result<Option<Start<S>>>
where
    S: DeserializeOwned + Clone,
{
    let live = live.filter(|live| live.mark.version == version && target.admits(&live.mark));
    let mut listed = match checkpoints {
        Some(dir) => checkpoint::list(dir)?,
        None => Vec::new(),
    };
    // Newest first; the live state competes by its event count.
    while let Some(&events) = listed.last() {
        if live.as_ref().is_some_and(|live| live.mark.events >= events) {
            break;
        }
        listed.pop();
        let dir = checkpoints.expect("listed from it");
        let Some(mark) = checkpoint::read_mark(dir, events)? else {
            continue;
        };
        if mark.version != version || !target.admits(&mark) || !passes(reader, &mark)? {
            continue;
        }
        if let Some((mark, state)) = checkpoint::read::<S>(dir, events)? {
            return Ok(Some(Start { mark, state }));
        }
    }
    match live {
        Some(live) if passes(reader, &live.mark)? => Ok(Some(Start {
            mark: live.mark,
            state: live.state.clone(),
        })),
        _ => Ok(None),
    }
}

/// Whether the history still holds, just before the mark's position, the line it recorded.
fn passes(reader: &EventReader, mark: &Mark) -> io::Result<bool> {
    if mark.events == 0 {
        return Ok(mark.position == 0);
    }
    Ok(reader.hash_before(mark.position)?.as_deref() == Some(mark.hash.as_str()))
}
