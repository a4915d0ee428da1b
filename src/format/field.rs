//! The top-level fields of a JSON object's text, found without building a value: what
//! [`EventRef`](crate::EventRef)'s field accessors read.
//!
//! The text is JSON the line parser has already validated, so the walk only finds where each
//! member lies: it steps over strings (quotes and backslashes), counts brackets inside nested
//! values, and never looks inside a nested object for a key. Should it meet something that is
//! not JSON all the same, it answers `None`, never panics.

use std::borrow::Cow;

/// The text of the value of `key` among the top-level members of the object `raw`: the first
/// such member, found without reading the members after it. `None` when `raw` is not an object
/// or has no such member.
pub(crate) fn get<'a>(raw: &'a str, key: &str) -> Option<&'a str> {
    let b = raw.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    loop {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = string_end(b, i)?;
        let is_key = key_matches(&raw[i..key_end], key);
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        let start = skip_ws(b, i + 1);
        let end = value_end(b, start)?;
        if is_key {
            return Some(&raw[start..end]);
        }
        i = skip_ws(b, end);
        // After the last member comes `}`: no member named `key`.
        if b.get(i) != Some(&b',') {
            return None;
        }
        i = skip_ws(b, i + 1);
    }
}

/// Whether the JSON string `quoted` (quotes included) holds `key`.
fn key_matches(quoted: &str, key: &str) -> bool {
    let inner = &quoted[1..quoted.len() - 1];
    if inner.len() < key.len() {
        // An escape only makes the text longer than what it stands for.
        return false;
    }
    if !inner.as_bytes().contains(&b'\\') {
        return inner == key;
    }
    string(quoted).is_some_and(|s| s == key)
}

/// The string the JSON string `quoted` (quotes included) holds: borrowed when it has no
/// escapes.
pub(crate) fn string(quoted: &str) -> Option<Cow<'_, str>> {
    let inner = quoted.strip_prefix('"')?.strip_suffix('"')?;
    if memchr::memchr(b'\\', inner.as_bytes()).is_none() {
        return Some(Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(quoted).ok().map(Cow::Owned)
}

/// The number the JSON text `raw` holds, as serde_json reads it.
pub(crate) fn number(raw: &str) -> Option<serde_json::Number> {
    match raw.as_bytes().first() {
        Some(b'-' | b'0'..=b'9') => serde_json::from_str(raw).ok(),
        _ => None,
    }
}

/// `raw` as a `u64`, as `serde_json::Value::as_u64` reads it.
pub(crate) fn as_u64(raw: &str) -> Option<u64> {
    // The common case, a short run of digits, without serde_json.
    if raw.len() <= 19 && !raw.is_empty() && raw.bytes().all(|c| c.is_ascii_digit()) {
        return raw.parse().ok();
    }
    number(raw)?.as_u64()
}

/// `raw` as an `i64`, as `serde_json::Value::as_i64` reads it.
pub(crate) fn as_i64(raw: &str) -> Option<i64> {
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    if digits.len() <= 18 && !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()) {
        return raw.parse().ok();
    }
    number(raw)?.as_i64()
}

/// `raw` as an `f64`, as `serde_json::Value::as_f64` reads it.
pub(crate) fn as_f64(raw: &str) -> Option<f64> {
    number(raw)?.as_f64()
}

/// `raw` as a `bool`.
pub(crate) fn as_bool(raw: &str) -> Option<bool> {
    match raw {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// Just past the string that opens at `b[start]` (a quote). A plain loop: the strings of
/// `data` are short, where a `memchr2` call costs more than the bytes it would skip.
fn string_end(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while let Some(&c) = b.get(i) {
        match c {
            b'"' => return Some(i + 1),
            // A backslash and the byte it escapes; `\u` escapes end in plain hex digits.
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    None
}

/// Just past the value that starts at `b[start]`.
fn value_end(b: &[u8], start: usize) -> Option<usize> {
    match *b.get(start)? {
        b'"' => string_end(b, start),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = start;
            loop {
                match *b.get(i)? {
                    b'"' => {
                        i = string_end(b, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            // A number, `true`, `false` or `null`: up to the next delimiter.
            let len = b[start..]
                .iter()
                .position(|c| matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(b.len() - start);
            (len > 0).then_some(start + len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_top_level_members_only() {
        let raw = r#"{"a":{"id":1,"b":[{"id":2}]},"s":"x\"}{id","id":3,"t":true}"#;
        assert_eq!(get(raw, "id"), Some("3"));
        assert_eq!(get(raw, "a"), Some(r#"{"id":1,"b":[{"id":2}]}"#));
        assert_eq!(get(raw, "s"), Some(r#""x\"}{id""#));
        assert_eq!(get(raw, "t"), Some("true"));
        assert_eq!(get(raw, "b"), None);
        assert_eq!(get(r#"{ "id" : 7 , "x" : [ ] }"#, "id"), Some("7"));
        assert_eq!(get(r#"{"id":1,"id":2}"#, "id"), Some("1"));
        assert_eq!(get(r#"{"\u0069d":5}"#, "id"), Some("5"));
        assert_eq!(get("[1,2]", "id"), None);
        assert_eq!(get("{}", "id"), None);
        assert_eq!(get("{\"id\":", "id"), None);
        assert_eq!(get("{\"id", "id"), None);
    }

    #[test]
    fn reads_values_as_serde_json_does() {
        assert_eq!(as_u64("18446744073709551615"), Some(u64::MAX));
        assert_eq!(as_u64("18446744073709551616"), None);
        assert_eq!(as_u64("1.0"), None);
        assert_eq!(as_u64("-1"), None);
        assert_eq!(as_i64("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(as_f64("1e3"), Some(1000.0));
        assert_eq!(as_f64("\"1\""), None);
        assert_eq!(string(r#""caf\u00e9""#).as_deref(), Some("café"));
        assert!(matches!(string(r#""plain""#), Some(Cow::Borrowed("plain"))));
        assert_eq!(as_bool("true"), Some(true));
        assert_eq!(as_bool("null"), None);
    }
}
