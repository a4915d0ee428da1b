//! Statistics over the history: count, bytes and first and last `ts` per event type, actor,
//! hour or day.

use crate::replay::scan::ScannedEvent;
use std::collections::HashMap;

/// What [`Stats`] groups events by.
///
/// # Examples
///
/// ```
/// use eventfold::GroupBy;
/// assert_eq!("actor".parse::<GroupBy>(), Ok(GroupBy::Actor));
/// assert_eq!(GroupBy::Day.to_string(), "day");
/// assert!("week".parse::<GroupBy>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum GroupBy {
    /// The event type.
    #[default]
    Type,
    /// The actor; events without one are grouped under `""`.
    Actor,
    /// The hour of `ts`, in UTC, as `2026-01-31T13`.
    Hour,
    /// The day of `ts`, in UTC, as `2026-01-31`.
    Day,
}

impl std::fmt::Display for GroupBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            GroupBy::Type => "type",
            GroupBy::Actor => "actor",
            GroupBy::Hour => "hour",
            GroupBy::Day => "day",
        })
    }
}

impl std::str::FromStr for GroupBy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "type" => Ok(GroupBy::Type),
            "actor" => Ok(GroupBy::Actor),
            "hour" => Ok(GroupBy::Hour),
            "day" => Ok(GroupBy::Day),
            _ => Err(format!(
                "cannot group by {s:?}: expected type, actor, hour or day"
            )),
        }
    }
}

/// The figures of one group of events.
///
/// # Examples
///
/// ```
/// use eventfold::Group;
/// let group = Group { key: "a".into(), count: 2, bytes: 60, first_ts: 5, last_ts: 9 };
/// assert_eq!(group.count, 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Group {
    /// The type, actor, hour or day.
    pub key: String,
    /// Events in the group.
    pub count: u64,
    /// Bytes of their lines, newlines included.
    pub bytes: u64,
    /// `ts` of the group's first and last events, in history order.
    pub first_ts: u64,
    /// See `first_ts`.
    pub last_ts: u64,
}

/// Counts, bytes and first and last `ts` per group, gathered from a scan.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{Event, EventLog, GroupBy, Stats};
/// let mut log = EventLog::open(dir.path())?;
/// for kind in ["open", "close", "open"] {
///     log.append(&Event::new(kind, serde_json::json!({})))?;
/// }
/// let mut stats = Stats::new(GroupBy::Type);
/// log.reader().scan(eventfold::Position::START, |e| stats.add(e))?;
/// let groups = stats.groups();
/// assert_eq!((groups[0].key.as_str(), groups[0].count), ("close", 1));
/// assert_eq!((groups[1].key.as_str(), groups[1].count), ("open", 2));
/// assert_eq!(stats.total().count, 3);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Stats {
    by: GroupBy,
    named: HashMap<Box<str>, Group, FastHash>,
    /// Hour or day groups, by the first second of the bucket.
    timed: HashMap<u64, Group, FastHash>,
    total: Group,
}

impl Stats {
    /// Empty statistics grouped by `by`.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::{GroupBy, Stats};
    /// assert!(Stats::new(GroupBy::Hour).groups().is_empty());
    /// ```
    pub fn new(by: GroupBy) -> Self {
        Stats {
            by,
            named: HashMap::default(),
            timed: HashMap::default(),
            total: Group {
                key: "total".to_string(),
                ..Group::default()
            },
        }
    }

    /// Adds one event; returns [`ControlFlow::Continue`](std::ops::ControlFlow), so that it
    /// can be a scan's visitor.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog, GroupBy, Position, Stats};
    /// let mut log = EventLog::open(dir.path())?;
    /// log.append(&Event::new("a", serde_json::json!({})).with_actor("ann"))?;
    /// let mut stats = Stats::new(GroupBy::Actor);
    /// log.reader().scan(Position::START, |e| stats.add(e))?;
    /// assert_eq!(stats.groups()[0].key, "ann");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn add(&mut self, event: &ScannedEvent<'_>) -> std::ops::ControlFlow<()> {
        let ts = event.event.ts();
        let bytes = event.end.offset() - event.position.offset();
        add_to(&mut self.total, ts, bytes);
        match self.by {
            GroupBy::Type => self.add_named(event.event.event_type(), ts, bytes),
            GroupBy::Actor => self.add_named(event.event.actor().unwrap_or(""), ts, bytes),
            GroupBy::Hour => add_to(self.timed.entry(ts - ts % 3600).or_default(), ts, bytes),
            GroupBy::Day => add_to(self.timed.entry(ts - ts % 86_400).or_default(), ts, bytes),
        }
        std::ops::ControlFlow::Continue(())
    }

    /// Adds to the group `key`, looked up by `&str` so that a known key costs no allocation.
    fn add_named(&mut self, key: &str, ts: u64, bytes: u64) {
        if let Some(group) = self.named.get_mut(key) {
            return add_to(group, ts, bytes);
        }
        let mut group = Group {
            key: key.to_string(),
            ..Group::default()
        };
        add_to(&mut group, ts, bytes);
        self.named.insert(key.into(), group);
    }

    /// What it groups by.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::{GroupBy, Stats};
    /// assert_eq!(Stats::new(GroupBy::Day).by(), GroupBy::Day);
    /// ```
    pub fn by(&self) -> GroupBy {
        self.by
    }

    /// The groups, sorted by key (so hours and days are in time order).
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog, GroupBy, Position, Stats};
    /// let mut log = EventLog::open(dir.path())?;
    /// let mut event = Event::new("a", serde_json::json!({}));
    /// event.ts = 1_767_225_600 + 3600 + 5; // 2026-01-01T01:00:05Z
    /// log.append(&event)?;
    /// let mut stats = Stats::new(GroupBy::Hour);
    /// log.reader().scan(Position::START, |e| stats.add(e))?;
    /// assert_eq!(stats.groups()[0].key, "2026-01-01T01");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn groups(&self) -> Vec<Group> {
        let mut groups: Vec<Group> = match self.by {
            GroupBy::Type | GroupBy::Actor => self.named.values().cloned().collect(),
            GroupBy::Hour | GroupBy::Day => self
                .timed
                .iter()
                .map(|(start, group)| Group {
                    key: bucket_name(*start, self.by),
                    ..group.clone()
                })
                .collect(),
        };
        groups.sort_by(|a, b| a.key.cmp(&b.key));
        groups
    }

    /// Every event added, as one group keyed `total`.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::{GroupBy, Stats};
    /// assert_eq!(Stats::new(GroupBy::Type).total().count, 0);
    /// ```
    pub fn total(&self) -> &Group {
        &self.total
    }
}

/// A hasher for the short keys of groups, looked up once per event: FxHash's multiply and
/// rotate, several times faster than the default SipHash on a type name. Keys come from the
/// log, not from an adversary choosing collisions against a live service.
#[derive(Debug, Clone, Copy, Default)]
struct FastHash;

impl std::hash::BuildHasher for FastHash {
    type Hasher = FxHasher;

    fn build_hasher(&self) -> FxHasher {
        FxHasher(0)
    }
}

struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
            self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
        }
        for &byte in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(byte)).wrapping_mul(K);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.write(&n.to_le_bytes());
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

fn add_to(group: &mut Group, ts: u64, bytes: u64) {
    if group.count == 0 {
        group.first_ts = ts;
    }
    group.count += 1;
    group.bytes += bytes;
    group.last_ts = ts;
}

/// `2026-01-31T13` for an hour, `2026-01-31` for a day, in UTC.
fn bucket_name(start: u64, by: GroupBy) -> String {
    let (year, month, day) = civil_from_days((start / 86_400) as i64);
    match by {
        GroupBy::Hour => format!("{year:04}-{month:02}-{day:02}T{:02}", start % 86_400 / 3600),
        _ => format!("{year:04}-{month:02}-{day:02}"),
    }
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_match_known_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(59), (1970, 3, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_454), (2026, 1, 1));
        assert_eq!(
            bucket_name(1_700_000_000 - 1_700_000_000 % 3600, GroupBy::Hour),
            "2023-11-14T22"
        );
        // Every day of four centuries follows the one before.
        let mut previous = civil_from_days(-1);
        for day in 0..146_097 {
            let date = civil_from_days(day);
            let next_day = (previous.0, previous.1, previous.2 + 1);
            let next_month = (previous.0, previous.1 + 1, 1);
            let next_year = (previous.0 + 1, 1, 1);
            assert!(
                date == next_day || date == next_month || date == next_year,
                "{date:?}"
            );
            previous = date;
        }
    }
}
