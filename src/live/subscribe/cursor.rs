//! The catch-up logic both subscriptions share: what to yield next, and when there is nothing
//! to yield until the history grows. It never waits; the blocking [`Subscription`] and the
//! async stream each wait in their own way and then ask again.
//!
//! [`Subscription`]: super::Subscription

use super::{Since, SubscriptionItem};
use crate::replay::reader::{EventReader, HistoryEvents};
use crate::store::position::Position;
use std::io;
use std::path::Path;

/// Where a cursor stands in the history, and the read under way.
pub(crate) struct Cursor {
    reader: EventReader,
    /// Events at positions from here on are still to be yielded.
    next: Position,
    /// The read under way.
    current: Option<HistoryEvents>,
    phase: Phase,
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
        let next = match since {
            Since::Start => Position::START,
            Since::After(position) => Position::new(position.offset().saturating_add(1)),
            Since::Now => history_end(&reader)?,
        };
        Ok(Cursor {
            reader,
            next,
            current: None,
            phase: Phase::CatchingUp { begun: false },
        })
    }

    /// Stops the cursor for good: it yields [`Advance::Ended`] from now on.
    pub(crate) fn fail(&mut self) {
        self.phase = Phase::Failed;
        self.current = None;
    }

    /// The position from which events are still to be yielded.
    pub(crate) fn next_position(&self) -> Position {
        self.next
    }

    /// The directory to watch for appends and rotations.
    pub(crate) fn dir(&self) -> &Path {
        self.reader.dir()
    }

    pub(crate) fn reader(&self) -> &EventReader {
        &self.reader
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
                        self.next = event.end;
                        return Ok(Advance::Item(SubscriptionItem::Event(event)));
                    }
                    Some(Err(e)) => return Err(e),
                    None => {
                        // Lines that hold no event (empty ones, or the rest of a line the
                        // start position fell into) are behind us too.
                        self.next = self.next.max(read.scanned_to());
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
                    return Ok(Advance::Item(SubscriptionItem::CaughtUp(self.next)));
                }
                Phase::Live => {
                    if history_end(&self.reader)? <= self.next {
                        return Ok(Advance::Wait);
                    }
                }
                Phase::Failed => return Ok(Advance::Ended),
            }
            self.current = match self.reader.read_history(self.next) {
                Ok(read) => Some(read),
                Err(e) if no_log_yet(&self.reader, &e) => None,
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
