//! Following: the history from a position, then each event as it is appended, read on the
//! scan engine, across rotations.
//!
//! [`Follow`] also carries what every follower shares: the position from which events are
//! still to be handed over, moved only forward and kept across rotations, and the directory
//! watch it sleeps on. The subscriptions' cursor (`subscribe/cursor.rs`) holds a `Follow` and
//! reads from its position with owned events instead of the scan.

use crate::replay::reader::{EventReader, HistoryEvents};
use crate::replay::scan::{ScanEnd, ScannedEvent};
use crate::store::position::Position;
use crate::store::watch::Watch;
use std::io;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

/// A reader that follows the history as it grows: each [`scan_new`](Follow::scan_new) hands
/// over, borrowed and in order, the events appended since the last one, and
/// [`wait`](Follow::wait) sleeps until there may be more.
///
/// It goes by [`Position`], which a rotation does not change, so events moved into the
/// archive between two scans are neither missed nor handed over twice. Like every reader, it
/// writes nothing and takes no lock. For owned events and a blocking iterator, see
/// [`Subscription`](crate::Subscription).
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{Event, EventLog, Position};
/// use std::ops::ControlFlow;
/// use std::time::Duration;
/// let mut log = EventLog::open(dir.path())?;
/// log.append(&Event::new("a", serde_json::json!({})))?;
///
/// let mut follow = log.reader().read_only().follow(Position::START);
/// let mut seen = Vec::new();
/// let mut keep = |e: &eventfold::ScannedEvent<'_>| {
///     seen.push(e.event.event_type().to_string());
///     ControlFlow::Continue(())
/// };
/// follow.scan_new(&mut keep)?;
/// log.rotate()?; // moves "a" into the archive: it is not handed over again
/// log.append(&Event::new("b", serde_json::json!({})))?;
/// assert!(follow.wait(Duration::from_secs(10))?);
/// follow.scan_new(&mut keep)?;
/// assert_eq!(seen, ["a", "b"]);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Follow {
    reader: EventReader,
    next: Position,
    watch: Option<Watch>,
}

impl std::fmt::Debug for Follow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follow")
            .field("reader", &self.reader)
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl EventReader {
    /// Starts following the history from `from` (see [`Follow`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::{EventReader, Position};
    /// let follow = EventReader::new("data").follow(Position::new(10));
    /// assert_eq!(follow.next_position(), Position::new(10));
    /// ```
    pub fn follow(&self, from: Position) -> Follow {
        Follow::new(self.clone(), from)
    }
}

// What a subscription's cursor uses of its `Follow`.
impl Follow {
    pub(crate) fn new(reader: EventReader, from: Position) -> Self {
        Follow {
            reader,
            next: from,
            watch: None,
        }
    }

    pub(crate) fn reader(&self) -> &EventReader {
        &self.reader
    }

    /// Moves the next position to `end`, the end of what has been handed over, if it lies
    /// further on; it never moves back.
    pub(crate) fn passed(&mut self, end: Position) {
        self.next = self.next.max(end);
    }

    /// The history from the next position, owned events one at a time (see
    /// [`EventReader::read_history`]); the next position moves only by
    /// [`passed`](Self::passed).
    pub(crate) fn read_history(&self) -> io::Result<HistoryEvents> {
        self.reader.read_history(self.next)
    }

    /// What a follower does after a look found nothing new: sets the directory's watch up if
    /// it is not yet, and returns at once to look again (an append in between has sent its
    /// notification); otherwise sleeps on it until a notification comes, a second passes, or
    /// `deadline` passes. Returns `false`, without sleeping, once the deadline has passed.
    pub(crate) fn sleep(&mut self, deadline: Option<Instant>) -> io::Result<bool> {
        match &self.watch {
            Some(watch) => watch.sleep(deadline),
            None => {
                self.watch = Some(Watch::new(self.reader.dir())?);
                Ok(true)
            }
        }
    }

    /// Lets go of the watch.
    pub(crate) fn unwatch(&mut self) {
        self.watch = None;
    }
}

impl Follow {
    /// Where the next scan starts: just past the last complete line read so far.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog, Position};
    /// let mut log = EventLog::open(dir.path())?;
    /// let written = log.append(&Event::new("a", serde_json::json!({})))?;
    /// let mut follow = log.reader().follow(Position::START);
    /// follow.scan_new(|_| std::ops::ControlFlow::Continue(()))?;
    /// assert_eq!(follow.next_position(), Position::new(written.end_offset));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn next_position(&self) -> Position {
        self.next
    }

    /// Hands `visit` every event from the next position to the end of the history as it is
    /// now (see [`EventReader::scan`]), and moves the next position past them. When `visit`
    /// stops the scan, the next one starts after the last event it was handed.
    ///
    /// # Errors
    ///
    /// As [`EventReader::scan`]. After a malformed line the next position stays before it,
    /// so every later call fails the same way until the line is repaired.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog, Position};
    /// use std::ops::ControlFlow;
    /// let mut log = EventLog::open(dir.path())?;
    /// let mut follow = log.reader().follow(Position::START);
    /// assert_eq!(follow.scan_new(|_| ControlFlow::Continue(()))?.events, 0);
    /// log.append(&Event::new("a", serde_json::json!({})))?;
    /// assert_eq!(follow.scan_new(|_| ControlFlow::Continue(()))?.events, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn scan_new<F>(&mut self, mut visit: F) -> io::Result<ScanEnd>
    where
        F: FnMut(&ScannedEvent<'_>) -> ControlFlow<()>,
    {
        let mut last_end = None;
        let result = self.reader.scan(self.next, |event| {
            last_end = Some(event.end);
            visit(event)
        });
        match result {
            Ok(end) => {
                self.passed(end.end);
                Ok(end)
            }
            Err(e) => {
                if let Some(end) = last_end {
                    self.passed(end);
                }
                Err(e)
            }
        }
    }

    /// Waits until the history holds bytes past the next position, or `timeout` passes;
    /// returns whether it does. Sleeps on the operating system's file notifications for the
    /// directory, looking again at least once a second.
    ///
    /// # Errors
    ///
    /// Returns an error if the file watcher cannot be set up, or the end of the history
    /// cannot be found (as [`EventReader::history_end`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{EventLog, Position};
    /// use std::time::Duration;
    /// let log = EventLog::open(dir.path())?;
    /// let mut follow = log.reader().follow(Position::START);
    /// assert!(!follow.wait(Duration::from_millis(20))?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait(&mut self, timeout: Duration) -> io::Result<bool> {
        let deadline = Instant::now() + timeout;
        let watch = match &self.watch {
            Some(watch) => watch,
            None => self.watch.insert(Watch::new(self.reader.dir())?),
        };
        let (reader, next) = (&self.reader, self.next);
        let grown = watch.wait_for(Some(deadline), || {
            Ok((reader.history_end()? > next).then_some(()))
        })?;
        Ok(grown.is_some())
    }
}
