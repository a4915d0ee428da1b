//! Times on the command line, and times in the output.

use jiff::{Span, Timestamp, Zoned, civil::Date, tz::TimeZone};

/// Seconds since the epoch from RFC 3339 (`2026-01-31T12:00:00Z`), a date (`2026-01-31`,
/// midnight UTC), a number of seconds, or a time ago (`2h`, `30m`, `7d`, `1 week`).
pub fn parse(text: &str, now: &Zoned) -> Result<u64, String> {
    let text = text.trim();
    let seconds = if let Ok(seconds) = text.parse::<u64>() {
        return Ok(seconds);
    } else if let Ok(ts) = text.parse::<Timestamp>() {
        ts.as_second()
    } else if let Ok(date) = text.parse::<Date>() {
        date.to_zoned(TimeZone::UTC)
            .map_err(|e| format!("{text:?}: {e}"))?
            .timestamp()
            .as_second()
    } else if let Ok(ago) = text.parse::<Span>() {
        now.checked_sub(ago.abs())
            .map_err(|e| format!("{text:?}: {e}"))?
            .timestamp()
            .as_second()
    } else {
        return Err(format!(
            "cannot read {text:?} as a time: give RFC 3339 (2026-01-31T12:00:00Z), a date \
             (2026-01-31), seconds since the epoch, or a time ago (2h, 30m, 7d)"
        ));
    };
    u64::try_from(seconds).map_err(|_| format!("{text:?} is before 1970"))
}

/// `ts` as RFC 3339 in UTC, or the number itself when it is out of range.
pub fn format(ts: u64) -> String {
    i64::try_from(ts)
        .ok()
        .and_then(|s| Timestamp::from_second(s).ok())
        .map_or_else(|| ts.to_string(), |t| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_form() {
        let now: Zoned = "2026-01-31T12:00:00Z[UTC]".parse().unwrap();
        let noon = 1_769_860_800;
        assert_eq!(parse("2026-01-31T12:00:00Z", &now), Ok(noon));
        assert_eq!(parse("2026-01-31T13:00:00+01:00", &now), Ok(noon));
        assert_eq!(parse("2026-01-31", &now), Ok(noon - 12 * 3600));
        assert_eq!(parse("1769860800", &now), Ok(noon));
        assert_eq!(parse("2h", &now), Ok(noon - 2 * 3600));
        assert_eq!(parse("7d", &now), Ok(noon - 7 * 86_400));
        assert_eq!(parse("1 week", &now), Ok(noon - 7 * 86_400));
        assert!(parse("yesterday-ish", &now).is_err());
        assert_eq!(format(noon), "2026-01-31T12:00:00Z");
    }
}
