//! Filters over the history: which events a scan hands over, by type, time, id, actor and
//! position.

use crate::format::event::EventRef;
use crate::replay::reader::EventReader;
use crate::replay::scan::{ScanEnd, ScannedEvent};
use crate::store::position::Position;
use std::io;
use std::ops::ControlFlow;

/// Which events of the history to keep: every condition set must hold.
///
/// Types are matched with glob patterns (`*` for any run of characters, `?` for one
/// character, anything else literally); several types, ids or actors mean any of them. Times
/// are `ts` values, seconds since the Unix epoch: `since` is inclusive and `until` exclusive.
/// Positions are a half-open range `[from, to)` of event positions.
///
/// # Examples
///
/// ```
/// use eventfold::{EventRef, Filter, Position};
/// let filter = Filter::new().event_type("todo_*").since(100).actor("ann");
/// let line = br#"{"type":"todo_added","data":{},"ts":150,"actor":"ann"}"#;
/// assert!(filter.matches(&EventRef::parse(line)?, Position::START));
/// let other = br#"{"type":"todo_added","data":{},"ts":150,"actor":"bob"}"#;
/// assert!(!filter.matches(&EventRef::parse(other)?, Position::START));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    types: Vec<Glob>,
    ids: Vec<String>,
    actors: Vec<String>,
    since: Option<u64>,
    until: Option<u64>,
    from: Position,
    to: Option<Position>,
}

impl Filter {
    /// A filter that keeps every event.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::{EventRef, Filter, Position};
    /// let any = EventRef::parse(br#"{"type":"x","data":null,"ts":0}"#)?;
    /// assert!(Filter::new().matches(&any, Position::new(42)));
    /// assert!(Filter::new().is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new() -> Self {
        Filter::default()
    }

    /// Whether the filter keeps every event.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::Filter;
    /// assert!(!Filter::new().until(5).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        *self == Filter::default()
    }

    /// Also keeps events whose type matches the glob `pattern`.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::{EventRef, Filter, Position};
    /// let filter = Filter::new().event_type("order_?").event_type("paid");
    /// let paid = EventRef::parse(br#"{"type":"paid","data":null,"ts":0}"#)?;
    /// let order = EventRef::parse(br#"{"type":"order_1","data":null,"ts":0}"#)?;
    /// let orders = EventRef::parse(br#"{"type":"order_12","data":null,"ts":0}"#)?;
    /// assert!(filter.matches(&paid, Position::START) && filter.matches(&order, Position::START));
    /// assert!(!filter.matches(&orders, Position::START));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[must_use]
    pub fn event_type(mut self, pattern: &str) -> Self {
        self.types.push(Glob::new(pattern));
        self
    }

    /// Also keeps events whose `id` is `id`.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::{EventRef, Filter, Position};
    /// let event = EventRef::parse(br#"{"type":"a","data":null,"ts":0,"id":"e-7"}"#)?;
    /// assert!(Filter::new().id("e-7").matches(&event, Position::START));
    /// assert!(!Filter::new().id("e-8").matches(&event, Position::START));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[must_use]
    pub fn id(mut self, id: &str) -> Self {
        self.ids.push(id.to_string());
        self
    }

    /// Also keeps events whose `actor` is `actor`.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::{EventRef, Filter, Position};
    /// let event = EventRef::parse(br#"{"type":"a","data":null,"ts":0}"#)?;
    /// assert!(!Filter::new().actor("ann").matches(&event, Position::START)); // no actor
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[must_use]
    pub fn actor(mut self, actor: &str) -> Self {
        self.actors.push(actor.to_string());
        self
    }

    /// Keeps only events with `ts >= since`.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::{EventRef, Filter, Position};
    /// let event = EventRef::parse(br#"{"type":"a","data":null,"ts":10}"#)?;
    /// assert!(Filter::new().since(10).matches(&event, Position::START));
    /// assert!(!Filter::new().since(11).matches(&event, Position::START));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[must_use]
    pub fn since(mut self, since: u64) -> Self {
        self.since = Some(since);
        self
    }

    /// Keeps only events with `ts < until`.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::{EventRef, Filter, Position};
    /// let event = EventRef::parse(br#"{"type":"a","data":null,"ts":10}"#)?;
    /// assert!(Filter::new().until(11).matches(&event, Position::START));
    /// assert!(!Filter::new().until(10).matches(&event, Position::START));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[must_use]
    pub fn until(mut self, until: u64) -> Self {
        self.until = Some(until);
        self
    }

    /// Keeps only events whose position lies in `from..to` (`to` excluded; `None` for no end).
    ///
    /// A scan through [`EventReader::scan_filtered`] starts at `from` and stops at `to`,
    /// without reading what lies outside.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::{EventRef, Filter, Position};
    /// let event = EventRef::parse(br#"{"type":"a","data":null,"ts":0}"#)?;
    /// let filter = Filter::new().positions(Position::new(10), Some(Position::new(20)));
    /// assert!(filter.matches(&event, Position::new(10)));
    /// assert!(!filter.matches(&event, Position::new(20)));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[must_use]
    pub fn positions(mut self, from: Position, to: Option<Position>) -> Self {
        self.from = from;
        self.to = to;
        self
    }

    /// Where a scan for this filter begins.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::{Filter, Position};
    /// assert_eq!(Filter::new().start(), Position::START);
    /// assert_eq!(Filter::new().positions(Position::new(7), None).start(), Position::new(7));
    /// ```
    pub fn start(&self) -> Position {
        self.from
    }

    /// Where a scan for this filter may stop: no event at or past it is kept.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::{Filter, Position};
    /// assert_eq!(Filter::new().stop(), None);
    /// ```
    pub fn stop(&self) -> Option<Position> {
        self.to
    }

    /// Whether the event at `position` is kept.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::{EventRef, Filter, Position};
    /// let event = EventRef::parse(br#"{"type":"user.login","data":null,"ts":0}"#)?;
    /// assert!(Filter::new().event_type("user.*").matches(&event, Position::START));
    /// assert!(!Filter::new().event_type("user").matches(&event, Position::START));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn matches(&self, event: &EventRef<'_>, position: Position) -> bool {
        if position < self.from || self.to.is_some_and(|to| position >= to) {
            return false;
        }
        let ts = event.ts();
        if self.since.is_some_and(|since| ts < since) || self.until.is_some_and(|until| ts >= until)
        {
            return false;
        }
        if !self.types.is_empty() {
            let event_type = event.event_type();
            if !self.types.iter().any(|glob| glob.matches(event_type)) {
                return false;
            }
        }
        if !self.ids.is_empty()
            && !event
                .id()
                .is_some_and(|id| self.ids.iter().any(|x| x == id))
        {
            return false;
        }
        if !self.actors.is_empty()
            && !event
                .actor()
                .is_some_and(|actor| self.actors.iter().any(|x| x == actor))
        {
            return false;
        }
        true
    }
}

impl EventReader {
    /// [`scan`](Self::scan), handing over only the events `filter` keeps: it starts at the
    /// filter's first position and stops at its last one, and leaves out the other events.
    ///
    /// # Errors
    ///
    /// As [`scan`](Self::scan).
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog, Filter};
    /// use std::ops::ControlFlow;
    /// let mut log = EventLog::open(dir.path())?;
    /// log.append(&Event::new("todo_added", serde_json::json!({})).with_actor("ann"))?;
    /// log.append(&Event::new("todo_added", serde_json::json!({})).with_actor("bob"))?;
    /// log.append(&Event::new("note", serde_json::json!({})).with_actor("ann"))?;
    /// let filter = Filter::new().event_type("todo_*").actor("ann");
    /// let mut kept = Vec::new();
    /// log.reader().scan_filtered(&filter, |e| {
    ///     kept.push(e.index);
    ///     ControlFlow::Continue(())
    /// })?;
    /// assert_eq!(kept, [0]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn scan_filtered<F>(&self, filter: &Filter, mut visit: F) -> io::Result<ScanEnd>
    where
        F: FnMut(&ScannedEvent<'_>) -> ControlFlow<()>,
    {
        let mut kept = 0;
        let mut reached_stop = None;
        let mut end = self.scan(filter.start(), |event| {
            if filter.to.is_some_and(|to| event.position >= to) {
                reached_stop = Some(event.position);
                return ControlFlow::Break(());
            }
            if filter.matches(event.event, event.position) {
                kept += 1;
                return visit(event);
            }
            ControlFlow::Continue(())
        })?;
        end.events = kept;
        if let Some(position) = reached_stop {
            // The scan read the first event past the range, but it was not handed over.
            end.end = position;
        }
        Ok(end)
    }
}

/// A compiled glob pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Glob {
    Exact(String),
    Pattern(Vec<char>),
}

impl Glob {
    fn new(pattern: &str) -> Self {
        if pattern.contains(['*', '?']) {
            Glob::Pattern(pattern.chars().collect())
        } else {
            Glob::Exact(pattern.to_string())
        }
    }

    fn matches(&self, text: &str) -> bool {
        match self {
            Glob::Exact(exact) => exact == text,
            Glob::Pattern(pattern) => {
                let text: Vec<char> = text.chars().collect();
                glob_match(pattern, &text)
            }
        }
    }
}

/// Matches `text` against `pattern` (`*` and `?`), backtracking only to the last `*`.
fn glob_match(pattern: &[char], text: &[char]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The obvious recursive matcher, to check the fast one against.
    fn naive(pattern: &[char], text: &[char]) -> bool {
        match pattern.split_first() {
            None => text.is_empty(),
            Some(('*', rest)) => (0..=text.len()).any(|i| naive(rest, &text[i..])),
            Some((&c, rest)) => {
                !text.is_empty() && (c == '?' || c == text[0]) && naive(rest, &text[1..])
            }
        }
    }

    #[test]
    fn glob_agrees_with_the_naive_matcher() {
        let patterns = [
            "", "*", "a*", "*a", "a?c", "*b*", "a**c", "?", "é*", "*_added",
        ];
        let texts = [
            "",
            "a",
            "abc",
            "ac",
            "bab",
            "aXc",
            "abcabc",
            "é",
            "todo_added",
            "ééa",
        ];
        for pattern in patterns {
            let p: Vec<char> = pattern.chars().collect();
            for text in texts {
                let t: Vec<char> = text.chars().collect();
                assert_eq!(glob_match(&p, &t), naive(&p, &t), "{pattern:?} on {text:?}");
            }
        }
    }
}
