//! Catch-up subscriptions: the history from a position, then every event as it is appended.

mod cursor;
#[cfg(feature = "tokio")]
mod stream;

use crate::replay::reader::EventReader;
use crate::store::position::{HistoryEvent, Position};
use cursor::{Advance, Cursor};
use std::io;
use std::time::{Duration, Instant};

#[cfg(feature = "tokio")]
pub use stream::SubscriptionStream;

/// Where a [`Subscription`] starts.
///
/// # Examples
///
/// ```
/// use eventfold::{Position, Since};
/// let resume = Since::After(Position::new(1234)); // the position of the last event handled
/// assert_ne!(resume, Since::Start);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// From the first event of the history.
    Start,
    /// From the first event after the one at this position (exclusive): pass the position of
    /// the last event you handled to go on from there, across any rotations since.
    ///
    /// With upcasters that split a stored event, this skips every part of the split: after
    /// handling a part that is not the last ([`HistoryEvent::parts`]), resume with
    /// [`AfterPart`](Since::AfterPart).
    After(Position),
    /// From the event after part `part` (counted from 0) of the events made of the stored
    /// line at this position: the rest of a split, then the events after it. Pass the
    /// [`position`](HistoryEvent::position) and [`part`](HistoryEvent::part) of the last
    /// event you handled; for an event as stored (part 0 of 1) it is the same as
    /// [`After`](Since::After). Upcasting is deterministic, so the same upcasters split the
    /// line the same way again.
    AfterPart(Position, u64),
    /// Only events appended from now on.
    Now,
}

/// What a [`Subscription`] yields.
///
/// # Examples
///
/// ```
/// use eventfold::{Position, SubscriptionItem};
/// let item = SubscriptionItem::CaughtUp(Position::new(99));
/// assert!(matches!(item, SubscriptionItem::CaughtUp(_)));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SubscriptionItem {
    /// The next event of the history.
    Event(HistoryEvent),
    /// Every event the history held when the subscription started has been yielded (yielded
    /// once, also when there was none); what follows is appended later. The position is where
    /// the next event will start.
    CaughtUp(Position),
}

/// A catch-up subscription: the history from a chosen point, then every event as it is
/// appended, in order, each exactly once, until it is dropped.
///
/// It reads the directory like any reader (another process may be the writer), follows the log
/// across rotations (positions do not change when events move into the archive), and waits for
/// new events with the operating system's file notifications, checking again at least once a
/// second. It is an iterator that blocks; [`next_timeout`](Subscription::next_timeout) waits
/// at most a given time.
///
/// The directory must exist; the log need not: until a writer creates `app.jsonl`, the history
/// is empty.
///
/// After an error (a malformed line, a damaged archive frame) it yields nothing more: subscribe
/// again from the position of the last event handled to retry.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{Event, EventLog, Since, SubscriptionItem};
/// use std::time::Duration;
/// let mut log = EventLog::open(dir.path())?;
/// log.append(&Event::new("before", serde_json::json!({})))?;
///
/// let mut subscription = log.reader().subscribe(Since::Start)?;
/// let Some(SubscriptionItem::Event(first)) = subscription.next().transpose()? else { panic!() };
/// assert_eq!(first.event.event_type, "before");
/// assert!(matches!(subscription.next().transpose()?, Some(SubscriptionItem::CaughtUp(_))));
///
/// log.rotate()?; // moves nothing the subscription has not seen, repeats nothing
/// log.append(&Event::new("after", serde_json::json!({})))?;
/// match subscription.next_timeout(Duration::from_secs(10))? {
///     Some(SubscriptionItem::Event(next)) => assert_eq!((next.event.event_type.as_str(), next.index), ("after", 1)),
///     other => panic!("expected the new event, got {other:?}"),
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Subscription {
    /// Its watch of the directory is the cursor's, set up at the first wait.
    cursor: Cursor,
}

// The method of the replay layer's reader that starts a subscription lives here, with what it
// returns, so that the reader does not import the live layer above it.
impl EventReader {
    /// Starts a catch-up [`Subscription`]: the history from `since`, then every event as it
    /// is appended. See [`Subscription`].
    ///
    /// # Errors
    ///
    /// With [`Since::Now`], an error if the end of the history cannot be found (as
    /// [`read_history`](Self::read_history)).
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog, Since, SubscriptionItem};
    /// let mut log = EventLog::open(dir.path())?;
    /// log.append(&Event::new("a", serde_json::json!({})))?;
    /// let mut live = log.reader().subscribe(Since::Now)?;
    /// assert!(matches!(live.next().transpose()?, Some(SubscriptionItem::CaughtUp(_))));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn subscribe(&self, since: Since) -> io::Result<Subscription> {
        Subscription::new(self.clone(), since)
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("reader", self.cursor.reader())
            .field("next", &self.cursor.next_position())
            .finish_non_exhaustive()
    }
}

impl Subscription {
    pub(crate) fn new(reader: EventReader, since: Since) -> io::Result<Self> {
        Ok(Subscription {
            cursor: Cursor::new(reader, since)?,
        })
    }

    /// The position from which events are still to be yielded.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{EventReader, Position, Since};
    /// let subscription = EventReader::new(dir.path()).subscribe(Since::After(Position::new(9)))?;
    /// assert_eq!(subscription.next_position(), Position::new(10));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn next_position(&self) -> Position {
        self.cursor.next_position()
    }

    /// The next item, waiting at most `timeout` for one; `Ok(None)` when none came in time.
    ///
    /// # Errors
    ///
    /// As [`EventReader::read_history`], and an error if the file watcher fails. After an
    /// error the subscription yields nothing more.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{EventLog, Since, SubscriptionItem};
    /// use std::time::Duration;
    /// let log = EventLog::open(dir.path())?;
    /// let mut subscription = log.reader().subscribe(Since::Start)?;
    /// let first = subscription.next_timeout(Duration::from_millis(10))?;
    /// assert!(matches!(first, Some(SubscriptionItem::CaughtUp(_)))); // an empty history
    /// assert_eq!(subscription.next_timeout(Duration::from_millis(10))?, None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn next_timeout(&mut self, timeout: Duration) -> io::Result<Option<SubscriptionItem>> {
        self.next_until(Some(Instant::now() + timeout))
    }

    /// Turns this subscription into an async [`SubscriptionStream`], which goes on from where
    /// this one stands. Requires the `tokio` feature.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{EventReader, Since};
    /// let stream = EventReader::new(dir.path()).subscribe(Since::Start)?.into_stream();
    /// # drop(stream);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(feature = "tokio")]
    pub fn into_stream(self) -> SubscriptionStream {
        SubscriptionStream::new(self.cursor)
    }

    fn next_until(&mut self, deadline: Option<Instant>) -> io::Result<Option<SubscriptionItem>> {
        loop {
            match self.cursor.advance() {
                Ok(Advance::Item(item)) => return Ok(Some(item)),
                Ok(Advance::Ended) => return Ok(None),
                Ok(Advance::Wait) => {}
                Err(e) => return Err(self.fail(e)),
            }
            // The first time, the watch is set up and the cursor asked again at once.
            match self.cursor.follow_mut().sleep(deadline) {
                Ok(true) => {}
                Ok(false) => return Ok(None),
                Err(e) => return Err(self.fail(e)),
            }
        }
    }

    /// Stops the subscription for good, passing `e` on.
    fn fail(&mut self, e: io::Error) -> io::Error {
        self.cursor.fail();
        e
    }
}

impl Iterator for Subscription {
    type Item = io::Result<SubscriptionItem>;

    /// The next item, waiting as long as it takes. `None` only after an error.
    fn next(&mut self) -> Option<Self::Item> {
        self.next_until(None).transpose()
    }
}
