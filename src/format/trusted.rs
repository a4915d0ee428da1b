//! Reading a line known to be a valid event: its envelope located without validating it.
//!
//! Lines of a sealed block (see `store::seals`) were validated when they were written or by an
//! earlier replay, and their bytes have not changed since (their checksum says so). Such a line
//! need not be proved again; only its parts must be found. [`envelope`] finds them for lines
//! in the shape this crate's writer (and eventfold 0.2.0's) gives them, `serde_json::to_writer`
//! of an [`Event`](crate::Event): compact, the envelope's keys in the order
//! `type, data, ts[, id][, actor][, meta]`, each once. A line of any other shape (whitespace,
//! another key order, an escape in a string that would have to be decoded, `null` for an
//! optional field) is refused with `None`, never read wrongly; the caller parses it in full.
//!
//! What "valid" buys is only correctness, never memory safety: the line is `&str`, so every
//! slice taken at an ASCII delimiter is UTF-8, and every access is checked, so bytes that are
//! not a valid event at all (a checksum file forged to match them) give `None` or some
//! envelope, never a panic.

use crate::format::chunk::Stops;
use crate::format::parse::Envelope;
use memchr::memchr2;
use std::borrow::Cow;

/// The checksum of a sealed block's bytes: XXH3-64, which hashes at memory speed.
#[inline]
pub(crate) fn block_hash(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

/// How every line of the writer starts.
pub(crate) const PREFIX: &str = "{\"type\":\"";
/// What follows the type's closing quote.
pub(crate) const DATA: &[u8; 8] = b",\"data\":";
/// What follows `data`'s value.
const TS: &[u8; 6] = b",\"ts\":";

/// The envelope of `line`, a valid event in the writer's shape; `None` for a line of any other
/// shape. `data` and `meta` are their raw JSON text, as [`crate::format::parse::envelope`]
/// gives them, and so is every other part.
#[inline]
pub(crate) fn envelope(line: &str) -> Option<Envelope<'_>> {
    let b = line.as_bytes();
    let type_end = locate_type(line)?;
    let event_type = line.get(PREFIX.len()..type_end)?;
    let data_start = type_end + 1 + DATA.len();
    if !starts(b.get(type_end + 1..)?, DATA) {
        return None;
    }
    let data_end = data_start + skip_value(b.get(data_start..)?)?;
    let data = line.get(data_start..data_end)?;
    let ts_start = data_end + TS.len();
    if !starts(b.get(data_end..)?, TS) {
        return None;
    }
    let (ts, digits) = plain_u64(b.get(ts_start..)?)?;
    let mut at = ts_start + digits;
    let id = member(line, &mut at, b",\"id\":\"")?;
    let actor = member(line, &mut at, b",\"actor\":\"")?;
    let mut meta = None;
    if starts(b.get(at..)?, b",\"meta\":") {
        let start = at + b",\"meta\":".len();
        let end = start + skip_value(b.get(start..)?)?;
        let raw = line.get(start..end)?;
        if raw == "null" {
            // serde reads a `null` meta as `None`: the parser's business.
            return None;
        }
        meta = Some(raw);
        at = end;
    }
    if at + 1 != b.len() || b[at] != b'}' {
        return None;
    }
    Some(Envelope {
        line: b,
        event_type: Cow::Borrowed(event_type),
        ts,
        id: id.map(Cow::Borrowed),
        actor: actor.map(Cow::Borrowed),
        data,
        meta,
    })
}

/// Where the closing quote of the type of `line` is, when the line starts in the writer's
/// shape and the type holds no escape.
#[inline]
pub(crate) fn locate_type(line: &str) -> Option<usize> {
    locate_type_in(line.as_bytes())
}

/// [`locate_type`] of a line's bytes.
#[inline]
pub(crate) fn locate_type_in(b: &[u8]) -> Option<usize> {
    if !starts(b, b"{\"type\":\"") {
        return None;
    }
    Some(PREFIX.len() + plain_string(&b[PREFIX.len()..])?)
}

/// [`locate_type_in`], with the stops of the line's chunk: the type's end is the first stop
/// after the prefix, found with a look-up instead of a scan.
#[inline(always)]
pub(crate) fn locate_type_with(b: &[u8], stops: Stops<'_>) -> Option<usize> {
    if !starts(b, b"{\"type\":\"") {
        return None;
    }
    let end = stops.next(PREFIX.len(), b.len());
    match b.get(end) {
        Some(b'"') => Some(end),
        Some(b'\\') | None => None,
        // A control character, which no valid line holds in a string: found as the scan finds
        // it, so that both give the same answer for any bytes.
        Some(_) => locate_type_in(b),
    }
}

/// The optional string member `key` (its opening quote included) at `*at`: `Some(None)` when
/// the line goes on with something else, `Some(Some(text))` (and `*at` moved past it) when the
/// string holds no escape, `None` when it does.
#[inline]
fn member<'a, const N: usize>(
    line: &'a str,
    at: &mut usize,
    key: &[u8; N],
) -> Option<Option<&'a str>> {
    let b = line.as_bytes();
    if !starts(b.get(*at..)?, key) {
        return Some(None);
    }
    let start = *at + key.len();
    let end = start + plain_string(b.get(start..)?)?;
    *at = end + 1;
    Some(Some(line.get(start..end)?))
}

/// The length of the string whose opening quote precedes `b`, when it holds no escape. A plain
/// loop: the envelope's strings are short, where a `memchr2` call costs more than the bytes it
/// would skip.
#[inline]
fn plain_string(b: &[u8]) -> Option<usize> {
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'"' => return Some(i),
            b'\\' => return None,
            _ => {}
        }
    }
    None
}

/// Whether `b` starts with `prefix`, compared inline (a constant's length is known).
#[inline(always)]
fn starts<const N: usize>(b: &[u8], prefix: &[u8; N]) -> bool {
    b.first_chunk::<N>() == Some(prefix)
}

/// Whether `data` follows the type that ends at `type_end` (see [`locate_type`]), as in the
/// writer's shape.
#[inline]
pub(crate) fn data_follows(line: &str, type_end: usize) -> bool {
    line.as_bytes()
        .get(type_end + 1..)
        .is_some_and(|rest| starts(rest, DATA))
}

/// A `u64` written as plain digits at the start of `b` (no sign, fraction or exponent, no
/// leading zero), and how many digits it took.
#[inline]
fn plain_u64(b: &[u8]) -> Option<(u64, usize)> {
    let mut n = 0u64;
    let mut digits = 0;
    while let Some(&d) = b.get(digits) {
        let d = d.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(d))?;
        digits += 1;
    }
    if digits == 0 || (digits > 1 && b[0] == b'0') {
        return None;
    }
    if matches!(b.get(digits), Some(b'.' | b'e' | b'E')) {
        return None;
    }
    Some((n, digits))
}

/// The length of the JSON value at the start of `b`: up to the `,` or `}` that follows it in
/// the enclosing object. Strings are skipped by their quotes, objects and arrays by depth.
#[inline]
pub(crate) fn skip_value(b: &[u8]) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = 0;
    loop {
        match *b.get(i)? {
            b'"' => {
                i += 1 + skip_string(b.get(i + 1..)?)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            b'{' | b'[' => {
                depth += 1;
                i += 1;
            }
            b'}' | b']' => {
                if depth == 0 {
                    // The end of the enclosing object, after a number or a literal.
                    return Some(i);
                }
                depth -= 1;
                i += 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            b',' if depth == 0 => return Some(i),
            // Whitespace around a member's value is not part of its text: another shape.
            b' ' | b'\t' | b'\n' | b'\r' if depth == 0 => return None,
            _ => i += 1,
        }
    }
}

/// The length of the string whose opening quote precedes `b`, its closing quote included.
#[inline]
fn skip_string(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    loop {
        let at = i + memchr2(b'"', b'\\', b.get(i..)?)?;
        if b[at] == b'"' {
            return Some(at + 1);
        }
        // A backslash and the byte it escapes; `\uXXXX`'s hex digits hold no quote.
        i = at + 2;
    }
}

/// The differential check behind the `trusted_read` fuzz target and the tests: every line of
/// `buf` read as a trusted line gives, through every accessor of [`EventRef`], what the full
/// parser gives whenever the parser accepts the line; and whatever the bytes, reading them
/// trusted, and sealing and folding the whole buffer, never panics.
#[cfg(any(test, fuzzing))]
pub(crate) fn check(buf: &[u8]) {
    use crate::format::event::EventRef;
    use crate::format::fold::{Block, Trust, Until, fold_sequential};
    use crate::format::lines::{Lines, committed_len};

    fn answers(e: &EventRef<'_>) -> String {
        format!(
            "{}|{}|{:?}|{:?}|{}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
            e.event_type(),
            e.ts(),
            e.id(),
            e.actor(),
            e.data_raw(),
            e.meta_raw(),
            e.data_field("id"),
            e.data_u64("id"),
            e.data_str("id"),
            e.line(),
            e,
            e.data_as::<serde_json::Value>().map_err(|e| e.to_string()),
            e.data_as::<std::collections::BTreeMap<String, u64>>()
                .map_err(|e| e.to_string()),
        )
    }

    for line in Lines::new(buf) {
        let Ok(text) = std::str::from_utf8(line.bytes) else {
            continue;
        };
        let trusted = EventRef::parse_trusted(text);
        let full = EventRef::parse_line(line.bytes);
        match (&trusted, &full) {
            (Ok(trusted), Ok(full)) => assert_eq!(
                answers(trusted),
                answers(full),
                "a trusted read of {text:?} differs from the parser's"
            ),
            (Ok(trusted), Err(_)) => {
                // Bytes no replay would have sealed: any answer, but no panic.
                let _ = answers(trusted);
                let _ = trusted.to_event();
                let _ = trusted.data_as::<serde_json::Value>();
            }
            (Err(trusted), Ok(_)) => {
                panic!("a trusted read refuses {text:?}, which the parser accepts: {trusted}")
            }
            (Err(_), Err(_)) => {}
        }
    }

    // The whole buffer as one sealed block, folded trusted and validated.
    let buf = &buf[..committed_len(buf)];
    let blocks = [Block {
        start: 0,
        end: buf.len() as u64,
        hash: block_hash(buf),
    }];
    let trust = Trust {
        base: 0,
        blocks: &blocks,
        hash_from: None,
        checked: false,
        text: None,
    };
    struct Answers;
    impl crate::format::fold::LineFold<Vec<String>> for Answers {
        type Item<'b> = EventRef<'b>;
        const OWNS_MEMORY: bool = false;
        fn parse<'b>(
            &self,
            line: &'b [u8],
        ) -> Result<EventRef<'b>, crate::format::parse::ParseError> {
            EventRef::parse_line(line)
        }
        const TRUSTS: bool = true;
        fn parse_trusted<'b>(
            &self,
            line: &'b str,
        ) -> Result<EventRef<'b>, crate::format::parse::ParseError> {
            EventRef::parse_trusted(line)
        }
        fn reduce(&self, mut acc: Vec<String>, item: &EventRef<'_>) -> Vec<String> {
            acc.push(answers(item));
            acc
        }
        fn ts(&self, item: &EventRef<'_>) -> u64 {
            item.ts()
        }
    }
    let trusted = fold_sequential(buf, Vec::new(), &Answers, Until::END, trust);
    let validated = fold_sequential(buf, Vec::new(), &Answers, Until::END, Trust::NONE);
    if validated.bad.is_none() {
        assert_eq!(
            trusted.acc, validated.acc,
            "a sealed block of events reads differently"
        );
        assert!(trusted.bad.is_none());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::parse;

    /// Every line in the writer's shape is read as the parser reads it; every other line is
    /// refused or read the same.
    fn agrees(line: &str) -> bool {
        let full = parse::envelope(line.as_bytes()).expect("a valid event");
        match envelope(line) {
            Some(found) => {
                assert_eq!(found, full, "{line}");
                true
            }
            None => false,
        }
    }

    #[test]
    fn lines_in_the_writer_s_shape_are_located() {
        for line in [
            r#"{"type":"a","data":null,"ts":0}"#,
            r#"{"type":"","data":{},"ts":18446744073709551615}"#,
            r#"{"type":"é","data":{"id":1,"x":{"id":"}"},"y":["]",{"z":"\""}]},"ts":5,"id":"e1"}"#,
            r#"{"type":"a","data":"s,}","ts":5,"actor":"u"}"#,
            r#"{"type":"a","data":[1,2],"ts":5,"id":"i","actor":"u","meta":{"k":[1]}}"#,
            r#"{"type":"a","data":-1.5e3,"ts":5,"meta":"m"}"#,
            r#"{"type":"a","data":true,"ts":5,"meta":7}"#,
        ] {
            assert!(agrees(line), "{line} was refused");
        }
    }

    #[test]
    fn lines_in_another_shape_are_refused() {
        for line in [
            r#"{"type":"a\"b","data":null,"ts":0}"#,
            r#"{"data":null,"type":"a","ts":0}"#,
            r#"{"type":"a","ts":0,"data":null}"#,
            r#"{ "type":"a","data":null,"ts":0}"#,
            r#"{"type":"a","data":null,"ts":0 }"#,
            r#"{"type":"a","data":null,"ts":0,"id":null}"#,
            r#"{"type":"a","data":null,"ts":0,"id":"\u0041"}"#,
            r#"{"type":"a","data":null,"ts":0,"meta":null}"#,
            r#"{"type":"a","data":null,"ts":0,"actor":"u","id":"i"}"#,
            r#"{"type":"a","data":null,"ts":0,"extra":1}"#,
            "{\"type\":\"a\",\"data\":\t{\"id\":5},\"ts\":1}",
            r#"{"type":"a","data":5 ,"ts":1}"#,
            r#"{"type":"a","data":true,"ts":1,"meta":{} }"#,
        ] {
            assert!(!agrees(line), "{line} was located");
        }
    }

    #[test]
    fn the_fuzz_check_holds_for_lines_of_every_shape() {
        let mut buf = String::new();
        for line in [
            r#"{"type":"a","data":null,"ts":0}"#,
            r#"{"type":"é","data":{"id":1,"x":{"id":"}"}},"ts":5,"id":"e1","actor":"u"}"#,
            r#"{"type":"a","data":{"id":"q"x"},"ts":5,"id":"A"}"#,
            r#"{"type":"a","data":{"b":1,"id":7},"ts":5,"meta":null}"#,
            r#"{"ts":3,"data":{"id":2},"type":"b"}"#,
            r#"{"type":"a", "data":1, "ts":5}"#,
            r#"{"type":"a","data":1,"ts":-5}"#,
            r#"{"type":"a","data":,"ts":5}"#,
            "{\"type\":\"a\",\"data\":\t{\"iuser\":\"u113\"},\"ts\":1,\"actor\":\"u\"}",
            "{\"type\":\"a\",\"data\":\"\\\",\"ts\":5}",
        ] {
            check(line.as_bytes());
            buf.push_str(line);
            buf.push('\n');
        }
        check(buf.as_bytes());
    }

    #[test]
    fn bytes_that_are_no_event_give_no_panic() {
        for line in [
            "",
            "{",
            r#"{"type":""#,
            r#"{"type":"a","data":"#,
            r#"{"type":"a","data":{"#,
            r#"{"type":"a","data":"\"#,
            r#"{"type":"a","data":1,"ts":"#,
            r#"{"type":"a","data":1,"ts":99999999999999999999}"#,
            r#"{"type":"a","data":1,"ts":1,"id":"x"#,
            r#"{"type":"a","data":1,"ts":1,"meta":"#,
            r#"{"type":"a","data":]]]]],"ts":1}"#,
            r#"{"type":"a","data":null,"ts":1.0}"#,
            r#"{"type":"a","data":null,"ts":1e2}"#,
        ] {
            let _ = envelope(line);
        }
        for line in [
            r#"{"type":"a","data":1,"ts":99999999999999999999}"#,
            r#"{"type":"a","data":null,"ts":1.0}"#,
            r#"{"type":"a","data":null,"ts":-1}"#,
        ] {
            assert!(envelope(line).is_none(), "{line}");
        }
    }
}
