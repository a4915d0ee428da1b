//! The two line readers that set the floor of a replay in `benches/floor.rs`: what reading a
//! line would cost if the log were validated once and trusted afterwards.
//!
//! They are targets to measure against, not eventfold's parser. They read lines the way
//! eventfold's writer emits them (`serde_json::to_writer(&Event)`: compact, the envelope's keys
//! in the order `type, data, ts[, id][, actor][, meta]`, each once) and validate nothing:
//! a line is assumed to be valid JSON. Within that, a line of any other shape (whitespace, other
//! key order, an escape where the answer would need decoding) is refused with `None`, never
//! answered wrongly; the caller then reads it with a full parser.
//!
//! Included by `#[path]` from the bench and from `tests/floor_locate.rs`, which checks both
//! readers against serde_json.

#![allow(dead_code)]

use memchr::memchr2;

/// How every line of eventfold's writer starts.
const PREFIX: &[u8] = b"{\"type\":\"";
/// What follows the type's closing quote when the payload is an object.
const DATA_OBJECT: &[u8] = b",\"data\":{";

/// The type of a line, and where the rest of the line starts.
#[derive(Debug, Clone, Copy)]
pub struct Located<'a> {
    /// The event's type.
    pub event_type: &'a str,
    /// The bytes after the type's closing quote.
    rest: &'a [u8],
}

/// The type of `line` when the line starts with `{"type":"` and the type holds no escape;
/// `None` otherwise. One `memchr2` for the closing quote or a backslash.
pub fn locate(line: &[u8]) -> Option<Located<'_>> {
    let body = line.strip_prefix(PREFIX)?;
    let end = memchr2(b'"', b'\\', body)?;
    if body[end] != b'"' {
        // An escape: the type would have to be decoded.
        return None;
    }
    let event_type = utf8(&body[..end])?;
    Some(Located {
        event_type,
        rest: &body[end + 1..],
    })
}

/// `bytes` as text, `None` if they are not UTF-8. An ASCII check first: on a short type,
/// `std::str::from_utf8` alone costs more than the search that found it.
fn utf8(bytes: &[u8]) -> Option<&str> {
    if bytes.is_ascii() {
        // SAFETY: ASCII is UTF-8.
        Some(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        std::str::from_utf8(bytes).ok()
    }
}

impl<'a> Located<'a> {
    /// The payload's top-level `"id"` as serde's `Option<u64>` field reads it:
    /// `Some(Some(id))` when `data` is an object whose top-level `"id"` is an unsigned integer,
    /// `Some(None)` when that object has no top-level `"id"`, and `None` (refused) for anything
    /// else: `data` not next or not an object, whitespace, a key with an escape (it could spell
    /// `id`), an `"id"` that is not a plain integer or does not fit in a `u64`.
    ///
    /// The walk reads the keys of `data` in order and skips their values (strings by
    /// `memchr2`, nested objects and arrays by depth), so an `"id"` inside a nested value or in
    /// the envelope is never taken for the payload's. It stops at the first `"id"`: the writer
    /// serializes maps, which hold a key once.
    pub fn data_id(&self) -> Option<Option<u64>> {
        let mut p = self.rest.strip_prefix(DATA_OBJECT)?;
        if p.first() == Some(&b'}') {
            return Some(None);
        }
        loop {
            p = p.strip_prefix(b"\"")?;
            let end = memchr2(b'"', b'\\', p)?;
            if p[end] != b'"' {
                return None;
            }
            let key = &p[..end];
            p = p[end + 1..].strip_prefix(b":")?;
            if key == b"id" {
                return parse_id(p).map(Some);
            }
            p = skip_value(p)?;
            match p.first()? {
                b',' => p = &p[1..],
                b'}' => return Some(None),
                _ => return None,
            }
        }
    }
}

/// The unsigned integer at the start of `p`, followed by `,` or `}`; `None` for anything else
/// (a sign, a fraction, an exponent, a leading zero, whitespace, a string, `null`, overflow).
fn parse_id(p: &[u8]) -> Option<u64> {
    let digits = p.iter().take_while(|d| d.is_ascii_digit()).count();
    if digits == 0 || (digits > 1 && p[0] == b'0') {
        return None;
    }
    match p.get(digits)? {
        b',' | b'}' => {}
        _ => return None,
    }
    p[..digits].iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// The rest of `p` after the JSON value it starts with: at the `,` or `}` that follows it in
/// the enclosing object. `None` if the line ends first.
fn skip_value(mut p: &[u8]) -> Option<&[u8]> {
    let mut depth = 0usize;
    loop {
        match *p.first()? {
            b'"' => {
                p = skip_string(&p[1..])?;
                if depth == 0 {
                    return Some(p);
                }
            }
            b'{' | b'[' => {
                depth += 1;
                p = &p[1..];
            }
            b'}' | b']' => {
                if depth == 0 {
                    // The end of the enclosing object, after a number or a literal.
                    return Some(p);
                }
                depth -= 1;
                p = &p[1..];
                if depth == 0 {
                    return Some(p);
                }
            }
            b',' if depth == 0 => return Some(p),
            _ => p = &p[1..],
        }
    }
}

/// The rest of `p` (just after an opening quote) after the string's closing quote.
fn skip_string(mut p: &[u8]) -> Option<&[u8]> {
    loop {
        let at = memchr2(b'"', b'\\', p)?;
        if p[at] == b'"' {
            return Some(&p[at + 1..]);
        }
        // A backslash and the byte it escapes; `\uXXXX`'s hex digits hold no quote.
        p = p.get(at + 2..)?;
    }
}
