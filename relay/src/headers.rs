//! The headers the relay puts on each message, and reading them back.

use crate::ResumePoint;
use async_nats::HeaderMap;
use eventfold::Position;

/// The event's position in the log's history: its stable identity.
pub(crate) const POSITION: &str = "Eventfold-Position";
/// How many events come before it in the history.
pub(crate) const INDEX: &str = "Eventfold-Index";
/// Which of the events that the relay's upcasters made of one stored event this is, from 0.
/// Only on the messages of a stored event split in several.
pub(crate) const PART: &str = "Eventfold-Part";
/// How many events the relay's upcasters made of the stored event. Only with [`PART`].
pub(crate) const PARTS: &str = "Eventfold-Parts";

/// Where a relayed message comes from: the stored event, and which part of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Origin {
    pub position: Position,
    pub index: u64,
    /// 0 for a whole event.
    pub part: u64,
    /// 1 for a whole event.
    pub parts: u64,
}

impl Origin {
    /// The message id: the position for a whole event and for the first part of a split one,
    /// `POSITION/PART` for the later parts.
    pub(crate) fn message_id(&self) -> String {
        match self.part {
            0 => self.position.to_string(),
            part => format!("{}/{part}", self.position),
        }
    }

    /// The resume point of this message, acknowledged with the stream sequence `sequence`.
    pub(crate) fn acknowledged(&self, stream: &str, sequence: u64) -> ResumePoint {
        ResumePoint {
            stream: stream.to_string(),
            position: self.position,
            index: self.index,
            sequence,
            part: self.part,
            parts: self.parts,
        }
    }
}

/// Where a relayed message comes from, if it carries the position and the index (and, for a
/// part of a split event, a part number below the number of parts).
pub(crate) fn read(headers: Option<&HeaderMap>) -> Option<Origin> {
    let headers = headers?;
    let number = |name: &str| headers.get(name)?.as_str().parse::<u64>().ok();
    let (part, parts) = match (headers.get(PART), headers.get(PARTS)) {
        (None, None) => (0, 1),
        _ => (number(PART)?, number(PARTS)?),
    };
    (part < parts).then_some(Origin {
        position: Position::new(number(POSITION)?),
        index: number(INDEX)?,
        part,
        parts,
    })
}
