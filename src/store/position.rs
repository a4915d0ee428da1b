//! Stable positions: where an event stands in the whole history of a directory.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where an event stands in the whole history of a log directory, for the life of the directory.
///
/// A position is a byte offset in the history as one stream: the decompressed archive, frame
/// after frame, followed by `app.jsonl`. An event's position is the offset of the first byte of
/// its line in that stream. Rotation moves bytes from the active log into the archive without
/// changing their place in the stream, so a position keeps naming the same event after any
/// number of rotations, unlike an offset in `app.jsonl`. Positions grow with the history; two
/// events never share one.
///
/// Alongside its position, every event also has an *index*: how many events come before it in
/// the history (the first event has index 0).
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{Event, EventLog, Position};
/// let mut log = EventLog::open(dir.path())?;
/// let first = log.append(&Event::new("a", serde_json::json!({})))?;
/// log.append(&Event::new("b", serde_json::json!({})))?;
/// log.rotate()?; // both lines move into the archive
/// log.append(&Event::new("c", serde_json::json!({})))?;
///
/// let events: Vec<_> = log.reader().read_history(Position::START)?.collect::<Result<_, _>>()?;
/// assert_eq!(events[1].position, Position::new(first.end_offset)); // unchanged by the rotation
/// assert_eq!(events[2].index, 2);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Position(u64);

impl Position {
    /// The start of the history: the position of the first event.
    pub const START: Position = Position(0);

    /// The position at byte `offset` of the history stream.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::Position;
    /// assert_eq!(Position::new(120).offset(), 120);
    /// assert!(Position::new(1) > Position::START);
    /// ```
    pub const fn new(offset: u64) -> Self {
        Position(offset)
    }

    /// The byte offset in the history stream.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::Position;
    /// assert_eq!(Position::START.offset(), 0);
    /// ```
    pub const fn offset(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<Position> for u64 {
    fn from(position: Position) -> u64 {
        position.0
    }
}

/// An event read from the history, with where it stands.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{Event, EventLog, Position};
/// let mut log = EventLog::open(dir.path())?;
/// let written = log.append(&Event::new("a", serde_json::json!({"n": 1})))?;
/// let first = log.reader().read_history(Position::START)?.next().expect("one event")?;
/// assert_eq!(first.event.event_type, "a");
/// assert_eq!((first.position, first.index), (Position::START, 0));
/// assert_eq!(first.end, Position::new(written.end_offset));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HistoryEvent {
    /// The event.
    pub event: crate::Event,
    /// Where its line starts in the history.
    pub position: Position,
    /// Just past its line's newline: where the next line starts.
    pub end: Position,
    /// How many events come before it in the history.
    pub index: u64,
    /// Which of the events made of its stored line it is, counted from 0: always 0 for an
    /// event as stored. A subscription of a reader with upcasters
    /// ([`EventReader::upcasting`](crate::EventReader::upcasting)) yields what they make of
    /// each stored event, and the parts of a split share the stored line's `position`, `end`
    /// and `index`; resume inside a split with
    /// [`Since::AfterPart`](crate::Since::AfterPart).
    pub part: u64,
    /// How many events were made of its stored line: 1 for an event as stored. `part + 1 ==
    /// parts` on the last of them, after which [`Since::After`](crate::Since::After) of
    /// `position` resumes.
    pub parts: u64,
}
