//! The headers the relay puts on each message, and reading them back.

use async_nats::HeaderMap;
use eventfold::Position;

/// The event's position in the log's history: its stable identity.
pub(crate) const POSITION: &str = "Eventfold-Position";
/// How many events come before it in the history.
pub(crate) const INDEX: &str = "Eventfold-Index";

/// The position and index a relayed message carries, if it carries both.
pub(crate) fn read(headers: Option<&HeaderMap>) -> Option<(Position, u64)> {
    let headers = headers?;
    let number = |name: &str| headers.get(name)?.as_str().parse::<u64>().ok();
    Some((Position::new(number(POSITION)?), number(INDEX)?))
}
