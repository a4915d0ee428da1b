//! The catch-up logic both subscriptions share: what to yield next, and when there is nothing
//! to yield until the history grows. It never waits; the blocking [`Subscription`] sleeps on
//! the watch of the cursor's [`Follow`], the async stream in its own way, and both then ask
//! again.
//!
//! [`Subscription`]: super::Subscription

use super::{Since, SubscriptionItem};
use crate::live::follow::Follow;
use crate::replay::reader::{EventReader, HistoryEvents};
use crate::store::position::Position;
use std::io;

/// Where a cursor stands in the history, and the read under way.
pub(crate) struct Cursor {
    /// Where events are still to be yielded from (moved past each one yielded), and the
    /// blocking subscription's watch.
    follow: Follow,
    /// The read under way.
    current: Option<HistoryEvents>,
    phase: Phase,
    /// For [`Since::AfterPart`]: the stored line the cursor starts at, and the last part of
    /// what was made of it that is not yielded again.
    skip: Option<(Position, u64)>,
}

/// Where a subscription stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading the history as it was at the start (the read not begun yet, or under way).
    CatchingUp { begun: bool },
    /// Caught up: waiting for new events, or reading them.
    Live,
    /// Stopped by an error.
    Failed,
}

/// What [`Cursor::advance`] found.
#[derive(Debug)]
pub(crate) enum Advance {
    /// The next item.
    Item(SubscriptionItem),
    /// Nothing to yield until the history grows: wait for a file notification, then ask again.
    Wait,
    /// Stopped by an earlier error: nothing more will come.
    Ended,
}

impl Cursor {
    pub(crate) fn new(reader: EventReader, since: Since) -> io::Result<Self> {
        let (next, skip) = match since {
            Since::Start => (Position::START, None),
            Since::After(position) => (Position::new(position.offset().saturating_add(1)), None),
            Since::AfterPart(position, part) => (position, Some((position, part))),
            Since::Now => (history_end(&reader)?, None),
        };
        Ok(Cursor {
            follow: Follow::new(reader, next),
            current: None,
            phase: Phase::CatchingUp { begun: false },
            skip,
        })
    }

    /// Stops the cursor for good: it yields [`Advance::Ended`] from now on, and its watch is
    /// let go.
    pub(crate) fn fail(&mut self) {
        self.phase = Phase::Failed;
        self.current = None;
        self.follow.unwatch();
    }

    /// The position from which events are still to be yielded.
    pub(crate) fn next_position(&self) -> Position {
        self.follow.next_position()
    }

    /// The directory to watch for appends and rotations (what the async stream watches).
    #[cfg(feature = "tokio")]
    pub(crate) fn dir(&self) -> &std::path::Path {
        self.follow.reader().dir()
    }

    pub(crate) fn reader(&self) -> &EventReader {
        self.follow.reader()
    }

    /// The follow the cursor reads from, whose watch the blocking subscription sleeps on.
    pub(crate) fn follow_mut(&mut self) -> &mut Follow {
        &mut self.follow
    }

    /// The next item, or [`Advance::Wait`] when the history holds nothing past the next
    /// position. After an error, the cursor yields [`Advance::Ended`] for good.
    ///
    /// A caller that waits must set up its file watch before the call that returned `Wait`
    /// (or call again once it is set up), so that an append in between is not missed.
    pub(crate) fn advance(&mut self) -> io::Result<Advance> {
        let result = self.step();
        if result.is_err() {
            self.fail();
        }
        result
    }

    fn step(&mut self) -> io::Result<Advance> {
        loop {
            if let Some(read) = self.current.as_mut() {
                match read.next() {
                    Some(Ok(event)) => {
                        self.follow.passed(event.end);
                        if let Some((position, part)) = self.skip {
                            if event.position == position && event.part <= part {
                                continue;
                            }
                            self.skip = None;
                        }
                        return Ok(Advance::Item(SubscriptionItem::Event(event)));
                    }
                    Some(Err(e)) => return Err(e),
                    None => {
                        // Lines that hold no event (empty ones, or the rest of a line the
                        // start position fell into) are behind us too.
                        self.follow.passed(read.scanned_to());
                        self.current = None;
                    }
                }
            }
            match self.phase {
                Phase::CatchingUp { begun: false } => {
                    self.phase = Phase::CatchingUp { begun: true };
                }
                Phase::CatchingUp { begun: true } => {
                    self.phase = Phase::Live;
                    let next = self.follow.next_position();
                    return Ok(Advance::Item(SubscriptionItem::CaughtUp(next)));
                }
                Phase::Live => {
                    if history_end(self.follow.reader())? <= self.follow.next_position() {
                        return Ok(Advance::Wait);
                    }
                }
                Phase::Failed => return Ok(Advance::Ended),
            }
            self.current = match self.follow.read_history() {
                Ok(read) => Some(read.upcasting(self.follow.reader().upcasters())),
                Err(e) if no_log_yet(self.follow.reader(), &e) => None,
                Err(e) => return Err(e),
            };
        }
    }
}

/// The end of the history: the position the next event appended will have.
fn history_end(reader: &EventReader) -> io::Result<Position> {
    match reader.history_end() {
        Err(e) if no_log_yet(reader, &e) => Ok(Position::START),
        end => end,
    }
}

/// Whether `e` only says that no writer has created the log yet: an empty history. (Rotation
/// renames a new `app.jsonl` over the old one, so once created it never goes missing.)
fn no_log_yet(reader: &EventReader, e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound && !reader.log_path().exists()
}
