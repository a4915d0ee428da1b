//! The structural index of a chunk of lines, and the walk over it that reads a line's
//! envelope.
//!
//! Lines are about 100 bytes, too short for SIMD one at a time; a chunk of them is not. One
//! pass over a chunk checks that it is UTF-8 (simdutf8) and marks, one bit per byte, where
//! every *token* starts: the characters `{}[]:,` outside strings, every quote that opens or
//! closes a string, the first byte of every number or literal, and inside strings every
//! backslash that starts an escape and every control character. Classifying the bytes is the
//! only step that depends on the instruction set ([`crate::simd`]); the rest is plain bit
//! arithmetic on 64-bit words, carried from one block of 64 bytes to the next.
//!
//! The walk then reads a line token by token: a string is its two quotes, so the bytes inside
//! are never looked at; a number or literal is checked by the scalar parser's own code; the
//! grammar (nesting, commas, colons, keys) is checked as the tokens come. It handles the lines
//! eventfold writes; at anything else (an escape in the envelope's strings, a `\u` escape, a
//! control character in a string, deep nesting, a repeated or missing field, any grammar
//! error) it gives up, and the scalar parser reads the line instead and returns its result,
//! success or error. So the walk never decides an error, and errors name the same byte as
//! they always did.
//!
//! The index is exact for a line when every earlier line of the chunk was accepted: quotes
//! are paired across the whole chunk, and a line that is valid JSON leaves no string open.
//! The folds stop at the first line they refuse, so that always holds for them.

use crate::lines::Line;
use crate::parse::{self, Envelope, ParseError};
use crate::simd::{self, Isa, Masks};
use std::borrow::Cow;
use std::cell::Cell;

thread_local! {
    /// The token bits of the last chunk indexed on this thread, kept to be reused.
    static SCRATCH: Cell<Vec<u64>> = const { Cell::new(Vec::new()) };
}

/// The structural index of a chunk of complete lines that is UTF-8 as a whole.
pub(crate) struct Index<'b> {
    text: &'b str,
    /// Bit `i % 64` of word `i / 64` is set when a token starts at byte `i` of the chunk.
    tokens: Vec<u64>,
}

impl<'b> Index<'b> {
    /// Indexes `chunk` (complete lines, starting at the start of a line) with the fastest
    /// implementation the CPU has. `None` when it has none (the scalar parser then reads every
    /// line) or when the chunk is not UTF-8 (the scalar parser finds the faulty line).
    pub(crate) fn new(chunk: &'b [u8]) -> Option<Self> {
        Self::with(simd::detected()?, chunk)
    }

    /// [`Index::new`] with a given implementation.
    pub(crate) fn with(isa: Isa, chunk: &'b [u8]) -> Option<Self> {
        let text = simdutf8::basic::from_utf8(chunk).ok()?;
        let mut tokens = SCRATCH.take();
        tokens.clear();
        tokens.reserve(chunk.len().div_ceil(64));
        let mut carry = Carry::default();
        simd::for_each_block(isa, chunk, |masks| tokens.push(carry.tokens(masks)));
        Some(Index { text, tokens })
    }

    /// Parses `line`, a line of the indexed chunk, as [`parse::envelope`] does: with the same
    /// result, provided every earlier line of the chunk was accepted.
    #[inline]
    pub(crate) fn envelope(&self, line: Line<'b>) -> Result<Envelope<'b>, ParseError> {
        match self.walk(line) {
            Some(env) => Ok(env),
            None => parse::envelope(line.bytes),
        }
    }

    /// The walk over `line`; `None` where it gives the line up.
    #[inline(always)]
    fn walk(&self, line: Line<'b>) -> Option<Envelope<'b>> {
        let end = line.start + line.bytes.len();
        let text = self.text.is_char_boundary(end).then(|| &self.text[..end])?;
        let b = text.as_bytes();
        // A line of another buffer is given up.
        if !std::ptr::eq(b.get(line.start..)?, line.bytes) {
            return None;
        }
        Walk {
            b,
            text,
            start: line.start,
            tokens: Tokens::new(&self.tokens, line.start, end),
        }
        .envelope()
    }
}

impl Drop for Index<'_> {
    fn drop(&mut self) {
        SCRATCH.set(std::mem::take(&mut self.tokens));
    }
}

/// What one block of 64 bytes passes to the next.
#[derive(Debug, Default, Clone, Copy)]
struct Carry {
    /// All ones when the block ended inside a string.
    in_string: u64,
    /// 1 when the last byte of the block is a backslash that starts an escape.
    escape: u64,
    /// 1 when the last byte of the block belongs to a number or literal.
    scalar: u64,
}

impl Carry {
    /// The token bits of one block.
    #[inline(always)]
    fn tokens(&mut self, m: Masks) -> u64 {
        let escaped = self.escaped(m.backslash);
        let quote = m.quote & !escaped;
        // Inside a string: from an opening quote (included) to its closing quote (excluded).
        let in_string = prefix_xor(quote) ^ self.in_string;
        self.in_string = ((in_string as i64) >> 63) as u64;
        let outside = !in_string;
        // Bytes of numbers and literals, and of anything else that is not JSON.
        let scalar = outside & !(m.op | m.ws | quote);
        let scalar_starts = scalar & !(scalar << 1 | self.scalar);
        self.scalar = scalar >> 63;
        let escapes = m.backslash & !escaped;
        (m.op & outside) | quote | scalar_starts | (in_string & (m.ctrl | escapes))
    }

    /// The bytes that a backslash escapes: the one after each backslash that is not itself
    /// escaped. Backslashes are rare, so this visits them one by one.
    #[inline(always)]
    fn escaped(&mut self, backslash: u64) -> u64 {
        let mut escaped = self.escape;
        let mut starts = backslash & !escaped;
        self.escape = 0;
        while starts != 0 {
            let i = starts.trailing_zeros();
            if i == 63 {
                self.escape = 1;
                break;
            }
            let next = 2u64 << i;
            escaped |= next;
            starts &= !(1u64 << i | next);
        }
        escaped
    }
}

/// Bit `i` of the result is the parity of bits `0..=i` of `x`.
#[inline(always)]
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// The token positions of one line, in order.
struct Tokens<'i> {
    /// The words of the token bits that hold the line.
    bits: &'i [u64],
    /// The index in `bits` of the word being read, and its bits not yet returned.
    at: usize,
    word: u64,
    /// The position of the first bit of `bits`.
    base: usize,
}

impl<'i> Tokens<'i> {
    /// The tokens of `start..end` (bits past `end` are returned too: the caller stops there).
    fn new(bits: &'i [u64], start: usize, end: usize) -> Self {
        let first = start / 64;
        let bits = bits.get(first..end.div_ceil(64)).unwrap_or_default();
        let word = bits.first().map_or(0, |w| w & (!0u64 << (start % 64)));
        Tokens {
            bits,
            at: 0,
            word,
            base: first * 64,
        }
    }

    /// The next token, if any.
    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        while self.word == 0 {
            self.at += 1;
            self.word = *self.bits.get(self.at)?;
        }
        let p = self.base + self.at * 64 + self.word.trailing_zeros() as usize;
        self.word &= self.word - 1;
        Some(p)
    }
}

/// The envelope's fields, as bits of a set (`OTHER`, any other name, is not tracked).
const TYPE: u8 = 1;
const DATA: u8 = 2;
const TS: u8 = 4;
const ID: u8 = 8;
const ACTOR: u8 = 16;
const META: u8 = 32;
const OTHER: u8 = 0;

/// Containers nested deeper than this in one value send the line to the scalar parser (which
/// allows 127 levels in all, the event object included, for `data` and `meta`).
const MAX_NESTING: u32 = 64;

/// The walk over one line. Positions are offsets in the chunk. Every method returns `None`
/// where the walk gives the line up to the scalar parser.
struct Walk<'b, 'i> {
    /// The chunk up to the end of the line, as bytes and as text.
    b: &'b [u8],
    text: &'b str,
    /// Where the line starts: it is `b[start..]`.
    start: usize,
    tokens: Tokens<'i>,
}

impl<'b> Walk<'b, '_> {
    /// The next token of the line, if any.
    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        let p = self.tokens.next()?;
        (p < self.b.len()).then_some(p)
    }

    /// `text[from..to]`, if both ends are character boundaries (as they are at ASCII bytes).
    #[inline(always)]
    fn text(&self, from: usize, to: usize) -> Option<&'b str> {
        let t = self.text;
        (from <= to && t.is_char_boundary(from) && t.is_char_boundary(to)).then(|| &t[from..to])
    }

    /// The next token, if it is the byte `c`.
    #[inline(always)]
    fn next_is(&mut self, c: u8) -> Option<usize> {
        let p = self.next()?;
        (self.b[p] == c).then_some(p)
    }

    #[inline(always)]
    fn envelope(mut self) -> Option<Envelope<'b>> {
        let b = self.b;
        let mut event_type = None;
        let mut ts = None;
        let mut data = None;
        let mut id = None;
        let mut actor = None;
        let mut meta = None;
        let mut seen = 0u8;
        self.next_is(b'{')?;
        loop {
            let key = self.next_is(b'"')?;
            let close = self.next_is(b'"')?;
            self.next_is(b':')?;
            let field = match &b[key + 1..close] {
                b"type" => TYPE,
                b"data" => DATA,
                b"ts" => TS,
                b"id" => ID,
                b"actor" => ACTOR,
                b"meta" => META,
                _ => OTHER,
            };
            let v = self.next()?;
            match field {
                TYPE => event_type = Some(self.plain_string(v)?),
                DATA => data = Some(self.raw(v)?),
                TS => ts = Some(self.timestamp(v)?),
                ID => id = self.optional_string(v)?,
                ACTOR => actor = self.optional_string(v)?,
                META => meta = Some(self.raw(v)?).filter(|raw| *raw != "null"),
                _ => {
                    self.value(v)?;
                }
            }
            if seen & field != 0 {
                return None;
            }
            seen |= field;
            let p = self.next()?;
            match b[p] {
                b',' => {}
                b'}' => break,
                _ => return None,
            }
        }
        if self.next().is_some() {
            return None;
        }
        Some(Envelope {
            line: &b[self.start..],
            event_type: Cow::Borrowed(event_type?),
            ts: ts?,
            id,
            actor,
            data: data?,
            meta,
        })
    }

    fn line(&self) -> &'b [u8] {
        &self.b[self.start..]
    }

    /// A string without escapes whose opening quote is at `v`, borrowed.
    #[inline(always)]
    fn plain_string(&mut self, v: usize) -> Option<&'b str> {
        if self.b[v] != b'"' {
            return None;
        }
        let close = self.next_is(b'"')?;
        self.text(v + 1, close)
    }

    /// `null`, or a string without escapes.
    #[inline(always)]
    fn optional_string(&mut self, v: usize) -> Option<Option<Cow<'b, str>>> {
        if self.b[v] == b'n' {
            if !self.b[v..].starts_with(b"null") {
                return None;
            }
            self.atom_ends(v + 4)?;
            return Some(None);
        }
        self.plain_string(v).map(|s| Some(Cow::Borrowed(s)))
    }

    /// The raw text of the value that starts at `v`.
    #[inline(always)]
    fn raw(&mut self, v: usize) -> Option<&'b str> {
        let end = self.value(v)?;
        self.text(v, end)
    }

    /// Checks that a number or literal ending at `end` is followed by whitespace, a
    /// structural character, a quote or the end of the line: otherwise more bytes follow it,
    /// which the scalar parser refuses.
    #[inline(always)]
    fn atom_ends(&self, end: usize) -> Option<()> {
        match self.b.get(end) {
            None => Some(()),
            Some(b' ' | b'\t' | b'\r' | b'"' | b',' | b':' | b'{' | b'}' | b'[' | b']') => Some(()),
            _ => None,
        }
    }

    /// The digits from `v` on (at most `max` of them): their value, and where they end.
    #[inline(always)]
    fn digits(&self, v: usize, max: usize) -> (u64, usize) {
        let line = &self.b[v..self.b.len().min(v + max)];
        let count = line.iter().take_while(|d| d.is_ascii_digit()).count();
        let n = line[..count]
            .iter()
            .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
        (n, v + count)
    }

    /// The value of `ts`, starting at `v`.
    #[inline(always)]
    fn timestamp(&self, v: usize) -> Option<u64> {
        // Up to 19 digits always fit in a u64; the scalar parser reads anything else.
        let (n, end) = self.digits(v, 19);
        let plain = match end - v {
            0 => false,
            1 => true,
            _ => self.b[v] != b'0',
        };
        if plain && self.atom_ends(end).is_some() {
            return Some(n);
        }
        let (n, end) = parse::timestamp_at(self.line(), v - self.start)?;
        self.atom_ends(self.start + end)?;
        Some(n)
    }

    /// A number or literal starting at `v`; returns its end.
    #[inline(always)]
    fn atom(&self, v: usize) -> Option<usize> {
        // An unsigned integer of up to 17 digits needs no range check: it is taken here, and
        // everything else is checked by the scalar parser.
        let (_, end) = self.digits(v, 18);
        let plain = match end - v {
            0 | 18 => false,
            1 => true,
            _ => self.b[v] != b'0',
        };
        if plain && self.atom_ends(end).is_some() {
            return Some(end);
        }
        let end = self.start + parse::atom_end(self.line(), v - self.start)?;
        self.atom_ends(end)?;
        Some(end)
    }

    /// The rest of a string whose opening quote has been read: its escapes are checked (a
    /// `\u` escape gives the line up, to keep this short), and the closing quote returned.
    #[inline(always)]
    fn string_rest(&mut self) -> Option<usize> {
        loop {
            let p = self.next()?;
            match self.b[p] {
                b'"' => return Some(p),
                b'\\' => match self.b.get(p + 1) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {}
                    _ => return None,
                },
                // A control character.
                _ => return None,
            }
        }
    }

    /// An object key (its quote is at `p`) and its colon; returns the token after the colon.
    #[inline(always)]
    fn key(&mut self, p: usize) -> Option<usize> {
        if self.b[p] != b'"' {
            return None;
        }
        self.string_rest()?;
        self.next_is(b':')?;
        self.next()
    }

    /// Validates the value that starts with the token at `v`; returns where it ends.
    #[inline(always)]
    fn value(&mut self, v: usize) -> Option<usize> {
        let b = self.b;
        // Bit `k` is set when the container at depth `k + 1` (counted from the innermost) is
        // an object.
        let mut objects = 0u64;
        let mut depth = 0u32;
        let mut p = v;
        loop {
            // A value starts at `p`.
            let mut end = match b[p] {
                open @ (b'{' | b'[') => {
                    if depth == MAX_NESTING {
                        return None;
                    }
                    let is_object = open == b'{';
                    objects = objects << 1 | u64::from(is_object);
                    depth += 1;
                    p = self.next()?;
                    // `}` and `]` follow `{` and `[` two places on.
                    if b[p] != open + 2 {
                        if is_object {
                            p = self.key(p)?;
                        }
                        continue;
                    }
                    objects >>= 1;
                    depth -= 1;
                    p + 1
                }
                b'"' => self.string_rest()? + 1,
                _ => self.atom(p)?,
            };
            // A value ended at `end`: close what ends here, then find the next value.
            loop {
                if depth == 0 {
                    return Some(end);
                }
                let t = self.next()?;
                let in_object = objects & 1 == 1;
                match (b[t], in_object) {
                    (b',', _) => {
                        p = self.next()?;
                        if in_object {
                            p = self.key(p)?;
                        }
                        break;
                    }
                    (b'}', true) | (b']', false) => {
                        objects >>= 1;
                        depth -= 1;
                        end = t + 1;
                    }
                    _ => return None,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lines::Lines;

    /// The token bits of `chunk`, worked out one byte at a time from the definition.
    fn naive_tokens(chunk: &[u8]) -> Vec<u64> {
        let mut bits = vec![0u64; chunk.len().div_ceil(64)];
        let (mut in_string, mut escaped, mut prev_scalar) = (false, false, false);
        for (i, &c) in chunk.iter().enumerate() {
            let was_escaped = std::mem::take(&mut escaped);
            let token = if in_string {
                prev_scalar = false;
                match c {
                    b'"' if !was_escaped => {
                        in_string = false;
                        true
                    }
                    b'\\' if !was_escaped => {
                        escaped = true;
                        true
                    }
                    _ => c < 0x20,
                }
            } else {
                let scalar = !b"{}[]:, \t\n\r\"".contains(&c) || (c == b'"' && was_escaped);
                if c == b'\\' && !was_escaped {
                    escaped = true;
                }
                let token = match c {
                    b'"' if !was_escaped => {
                        in_string = true;
                        true
                    }
                    b'{' | b'}' | b'[' | b']' | b':' | b',' => true,
                    _ => scalar && !prev_scalar,
                };
                prev_scalar = scalar && !in_string;
                token
            };
            if token {
                bits[i / 64] |= 1 << (i % 64);
            }
        }
        bits
    }

    fn index_bits(isa: Isa, chunk: &[u8]) -> Vec<u64> {
        let mut bits = Vec::new();
        let mut carry = Carry::default();
        simd::for_each_block(isa, chunk, |m| bits.push(carry.tokens(m)));
        bits
    }

    /// Runs the walk over every line of `buf` with every implementation, and checks that each
    /// line up to the first one refused gets exactly the scalar parser's result.
    pub(crate) fn check_against_scalar(buf: &[u8]) {
        for isa in simd::available() {
            let index = Index::with(isa, buf);
            for line in Lines::new(buf) {
                let expected = parse::envelope(line.bytes);
                if let Some(index) = &index {
                    assert_eq!(
                        index.envelope(line),
                        expected,
                        "{isa:?} on line {:?} of {:?}",
                        String::from_utf8_lossy(line.bytes),
                        String::from_utf8_lossy(buf)
                    );
                }
                if expected.is_err() {
                    break;
                }
            }
        }
    }

    #[test]
    fn token_bits_match_the_definition() {
        let cases: &[&[u8]] = &[
            br#"{"type":"a","data":{"k":[1,-2.5e3,true,null]},"ts":17}"#,
            br#"{"a\"b\\":"c\\\"d\\\\" , "e": "\n\t\u00e9" }"#,
            b"  {\"x\":\x01\"y\x02\"}  \r\n\n{}x\\y\"z\\",
            br#"tru e,1x"s"2,"#,
        ];
        for case in cases {
            for pad in 0..70 {
                // Shift the case across block boundaries.
                let mut chunk = vec![b' '; pad];
                chunk.extend_from_slice(case);
                chunk.extend_from_slice(case);
                let expected = naive_tokens(&chunk);
                for isa in simd::available() {
                    assert_eq!(index_bits(isa, &chunk), expected, "{isa:?}, {chunk:?}");
                }
            }
        }
    }

    #[test]
    fn escapes_across_blocks() {
        // Runs of backslashes of every length ending at every position around a block edge.
        for run in 1..6 {
            for at in 55..70 {
                let mut chunk = vec![b'"'; 1];
                chunk.resize(at, b'a');
                chunk.extend(std::iter::repeat_n(b'\\', run));
                chunk.extend_from_slice(b"\"x\" y");
                assert_eq!(
                    index_bits(Isa::Portable, &chunk),
                    naive_tokens(&chunk),
                    "{run} backslashes at {at}"
                );
            }
        }
    }

    #[test]
    fn walk_agrees_with_the_scalar_parser_on_handpicked_lines() {
        let lines: &[&[u8]] = &[
            br#"{"type":"a","data":{},"ts":1}"#,
            br#" { "ts" : 5 , "data" : [1, 2.5e3, -0, true, false, null, "x"], "type" : "b" } "#,
            br#"{"type":"a\"b","data":"\n","ts":0,"id":"i","actor":null}"#,
            br#"{"type":"a","data":{"k":{"k":[{}]}},"ts":18446744073709551615,"meta":{"m":1}}"#,
            br#"{"type":"a","data":1,"ts":18446744073709551616}"#,
            br#"{"type":"a","data":1,"ts":1.0}"#,
            br#"{"type":"a","data":1,"ts":01}"#,
            br#"{"type":"a","data":1}"#,
            br#"{"type":"a","data":1,"ts":1,"type":"b"}"#,
            br#"{"type":1,"data":1,"ts":1}"#,
            br#"{"type":"a","data":01,"ts":1}"#,
            br#"{"type":"a","data":"\x","ts":1}"#,
            br#"{"type":"a","data":"\ud83d\ude00","ts":1}"#,
            br#"{"type":"a","data":tru,"ts":1}"#,
            br#"{"type":"a","data":truex,"ts":1}"#,
            br#"{"type":"a","data":1,"ts":1,}"#,
            br#"{"type":"a","data":1,"ts":1} x"#,
            br#"{"type":"a","data":1,"ts":1}""#,
            br#"{"type":"a","data":[1,],"ts":1}"#,
            br#"{"type":"a","data":{"k":1,},"ts":1}"#,
            br#"{"type":"a","data":{"k" 1},"ts":1}"#,
            br#"{"type":"a","data":{"k":1 "j":2},"ts":1}"#,
            br#"{"type":"a","data":[1}],"ts":1}"#,
            br#"{"type":"a","data":[1},"ts":1}"#,
            br#"{"type":"a","data":{"k":[]],"ts":1}"#,
            br#"{"type":"a","data":[{}}],"ts":1}"#,
            br#"{"type":"a","data":1,"ts":1,"meta":null,"extra":{"deep":[1]}}"#,
            br#"{"type":"a","data":1,"ts":1,"id":5}"#,
            br#"{"type":"a","data":1,"ts":1,"id":nullx}"#,
            br#"{"type":"a","data":1,"ts":1,"id":null,"id":"b"}"#,
            br#"{"type":"a","data":[1e400],"ts":1}"#,
            br#"{"type":"a","data":[123456789012345678901234567890],"ts":1}"#,
            br#"{"t\u0079pe":"a","data":1,"ts":1}"#,
            br#"{"type":"a","data":1,"ts":1,"meta":{},"meta":null}"#,
            br#"{"type":"a","data":1,"ts":1,"x\"":{"\\":"\/"}}"#,
            br#"["a",{"k":1},5]"#,
            br#"{}"#,
            br#"{"type""#,
            b"{\"type\":\"a\",\"data\":1,\"ts\":1,\"x\":\"\xff\"}",
            b"{\"type\":\"a\x01\",\"data\":1,\"ts\":1}",
            b"{\"type\":\"a\",\"data\":\"\x7f\",\"ts\":1}",
            b"\x0b{\"type\":\"a\",\"data\":1,\"ts\":1}",
            b"{\"type\":\"a\",\"data\":1,\"ts\":1}\x00",
            br#"{"type":"a","data":"unterminated"#,
            br#"{"type":"a","data":"a\"#,
        ];
        for line in lines {
            check_against_scalar(&[line, &b"\n"[..]].concat());
            // After a good line, and shifted across a block edge.
            let good = br#"{"type":"t","data":{"s":"x\"y"},"ts":9}"#;
            for pad in [0, 13, 40] {
                let mut buf = good.to_vec();
                buf.extend(std::iter::repeat_n(b' ', pad));
                buf.push(b'\n');
                buf.extend_from_slice(line);
                buf.extend_from_slice(b"\n");
                buf.extend_from_slice(good);
                buf.extend_from_slice(b"\n");
                check_against_scalar(&buf);
            }
        }
    }

    #[test]
    fn nesting_within_and_beyond_the_walk() {
        for depth in [1, 63, 64, 65, 126, 127, 200] {
            let data = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            check_against_scalar(
                format!("{{\"type\":\"a\",\"data\":{data},\"ts\":1}}\n").as_bytes(),
            );
            let deep = format!("{}1{}", r#"{"k":["#.repeat(depth), "]}".repeat(depth));
            check_against_scalar(
                format!("{{\"type\":\"a\",\"data\":1,\"ts\":1,\"x\":{deep}}}\n").as_bytes(),
            );
        }
    }

    /// The walk takes the lines eventfold writes without giving them up, and a line of another
    /// chunk goes to the scalar parser.
    #[test]
    fn the_walk_reads_written_lines_itself() {
        let event = crate::Event::new("todo_added", serde_json::json!({"id": 7, "t": "a\"\n日本"}))
            .with_id("e1")
            .with_actor("ann")
            .with_meta(serde_json::json!({"trace": [1, 2.5, null, true]}));
        let mut buf = serde_json::to_vec(&event).unwrap();
        buf.push(b'\n');
        for isa in simd::available() {
            let index = Index::with(isa, &buf).expect("UTF-8");
            let line = Lines::new(&buf).next().unwrap();
            assert_eq!(index.walk(line), Some(parse::envelope(line.bytes).unwrap()));
            let copy = buf.clone();
            let other = Lines::new(&copy).next().unwrap();
            assert_eq!(index.walk(other), None);
            assert_eq!(index.envelope(other), parse::envelope(other.bytes));
        }
    }

    /// Bytes that matter to JSON's grammar, and a few that do not belong in it.
    const INTERESTING: &[u8] = b"{}[]:,\"\\ \t\r\x01\x7f\xc3\xff0123456789-+.eEtrufalsn/bu";

    fn mutation() -> impl proptest::strategy::Strategy<Value = (usize, u8)> {
        use proptest::prelude::*;
        let byte = prop_oneof![
            any::<u8>(),
            proptest::sample::select(INTERESTING),
            proptest::sample::select(INTERESTING),
        ];
        (0usize..200, byte)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(5000))]
        /// Lines mutated at a few bytes and perhaps cut short, between good lines: every line
        /// up to the first refused one reads the same through the index as through the scalar
        /// parser.
        #[test]
        fn walk_agrees_with_the_scalar_parser_on_mutated_lines(
            which in 0usize..4,
            mutations in proptest::collection::vec(mutation(), 1..4),
            cut in 0usize..400,
            pad in 0usize..64,
        ) {
            let bases: [&[u8]; 4] = [
                r#"{"type":"todo_added","data":{"id":1,"tags":["x"],"text":"tab\there \"q\" \\ é"},"ts":1700000000,"id":"evt-1","actor":"u1"}"#.as_bytes(),
                br#"{"type":"n","data":[123456,-98,0.25,7e10,{"k":"v\n"}],"ts":5,"meta":{"z":[true,false,null]}}"#,
                br#"{ "data" : { "a" : [ ] , "b" : { } } , "ts" : 0 , "type" : "" , "x" : "\/" }"#,
                r#"{"type":"user_renamed","data":{"from":"Zoë","to":"back\\slash"},"ts":17,"meta":null}"#.as_bytes(),
            ];
            let mut line = bases[which].to_vec();
            for (pos, byte) in mutations {
                let pos = pos % line.len();
                line[pos] = byte;
            }
            line.truncate(cut.max(1));
            let good = bases[(which + 1) % 4];
            let mut buf = good.to_vec();
            buf.extend(std::iter::repeat_n(b' ', pad));
            buf.push(b'\n');
            buf.extend_from_slice(&line);
            buf.push(b'\n');
            buf.extend_from_slice(good);
            buf.push(b'\n');
            check_against_scalar(&buf);
        }
    }
}
