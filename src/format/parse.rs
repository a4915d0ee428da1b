//! The line parser: finds an event's envelope without building its payload.
//!
//! A line is one JSON object. The parser reads `type`, `ts`, `id` and `actor`, and records where
//! the raw JSON of `data` and `meta` lies in the line; every other byte is validated (UTF-8,
//! JSON grammar, nesting depth) but nothing is allocated for it. It accepts exactly the lines
//! that deserializing an [`Event`](crate::Event) with serde_json from a `&str` accepts (the line
//! must be UTF-8 as a whole, as eventfold 0.2.0 required).

use crate::Event;
use crate::error::Error;
use crate::format::chunk::Stops;
use crate::format::upcast::UpcastFailure;
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;
use std::path::Path;

/// serde_json's nesting limit: a line may nest objects and arrays 127 deep, itself included.
const MAX_DEPTH: usize = 128;

/// Why a line is not an event, and the byte of the line where that was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError {
    /// Zero-based byte position in the line.
    pub at: usize,
    pub what: &'static str,
    /// Set when the line is a valid event that an upcaster failed on (see
    /// [`crate::format::upcast`]): then that, not the line's syntax, is what went wrong.
    pub upcast: Option<Box<UpcastFailure>>,
}

impl ParseError {
    /// The error of a valid line whose upcaster failed.
    pub(crate) fn upcast(failure: UpcastFailure) -> Self {
        ParseError {
            at: 0,
            what: "an upcaster failed",
            upcast: Some(Box::new(failure)),
        }
    }
}

impl ParseError {
    /// The error for the line at `offset` (line `line`) of `path`, which this stopped:
    /// [`Error::Upcast`] when an upcaster failed on it, [`Error::Malformed`] otherwise.
    pub(crate) fn at_line(self, path: &Path, offset: u64, line: u64) -> Error {
        match self.upcast {
            Some(failure) => Error::Upcast {
                path: path.to_path_buf(),
                offset,
                line,
                event_type: failure.event_type,
                reason: failure.reason,
            },
            None => Error::malformed(path, offset, line, self.to_string()),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.upcast {
            Some(failure) => failure.fmt(f),
            None => write!(f, "{} at column {}", self.what, self.at + 1),
        }
    }
}

/// The envelope of an event line, borrowing the line. `D` is what `data` and `meta` become:
/// their raw JSON text (`&str`, see [`envelope`]) or built values ([`Value`], see [`event`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Envelope<'a, D = &'a str> {
    /// The whole line.
    pub line: &'a [u8],
    pub event_type: Cow<'a, str>,
    pub ts: u64,
    pub id: Option<Cow<'a, str>>,
    pub actor: Option<Cow<'a, str>>,
    pub data: D,
    /// `None` when absent or `null`.
    pub meta: Option<D>,
}

/// How the parser reads the values of `data` and `meta`.
trait Payload<'a>: Sized {
    fn read(parser: &mut Parser<'a, '_>) -> Result<Self, ParseError>;
    fn is_null(&self) -> bool;
}

/// Raw JSON text, validated and skipped: nothing is allocated.
impl<'a> Payload<'a> for &'a str {
    #[inline]
    fn read(parser: &mut Parser<'a, '_>) -> Result<Self, ParseError> {
        parser.raw_value()
    }

    fn is_null(&self) -> bool {
        *self == "null"
    }
}

/// A serde_json value, validated and built in the same pass.
impl<'a> Payload<'a> for Value {
    #[inline]
    fn read(parser: &mut Parser<'a, '_>) -> Result<Self, ParseError> {
        parser.build()
    }

    fn is_null(&self) -> bool {
        self.is_null()
    }
}

/// Parses one line (without its newline), keeping `data` and `meta` as raw text.
pub(crate) fn envelope(line: &[u8]) -> Result<Envelope<'_>, ParseError> {
    Parser::new(line).envelope()
}

/// [`envelope`] for a line of an indexed chunk, given its stops: the same result, found faster.
/// (Stops of another line are not used.)
pub(crate) fn envelope_in<'a>(
    line: &'a [u8],
    stops: Stops<'_>,
) -> Result<Envelope<'a>, ParseError> {
    let mut parser = Parser::new(line);
    parser.stops = stops.are_of(line).then_some(stops);
    parser.envelope()
}

/// [`event`] for a line of an indexed chunk, given its stops: the same result, found faster.
/// (Stops of another line are not used.)
pub(crate) fn event_in(line: &[u8], stops: Stops<'_>) -> Result<Event, ParseError> {
    let mut parser = Parser::new(line);
    parser.stops = stops.are_of(line).then_some(stops);
    owned(parser.envelope()?)
}

/// Checks that `text` is one JSON value, with nothing but whitespace around it.
pub(crate) fn one_value(text: &str) -> Result<(), ParseError> {
    let mut parser = Parser::new(text.as_bytes());
    parser.skip_ws();
    parser.value()?;
    parser.skip_ws();
    match parser.peek() {
        None => Ok(()),
        Some(_) => parser.unexpected("expected the end of the value"),
    }
}

/// Builds the value of raw JSON text that a parse of its line accepted (as `data` or `meta`).
pub(crate) fn build_value(raw: &str) -> Value {
    Parser::new(raw.as_bytes()).build().unwrap_or(Value::Null)
}

/// Parses one line (without its newline) into an owned [`Event`], building `data` and `meta`
/// as it validates them. It accepts the lines [`envelope`] accepts, and builds the values
/// serde_json builds (the tests compare both with serde_json).
///
/// One pass over the line: serde_json straight from the line needs the line checked as UTF-8
/// first, and the envelope parser followed by serde_json on the raw payload parses the payload
/// twice; both cost more.
pub(crate) fn event(line: &[u8]) -> Result<Event, ParseError> {
    owned(Parser::new(line).envelope()?)
}

#[inline(always)]
fn owned(env: Envelope<'_, Value>) -> Result<Event, ParseError> {
    Ok(Event {
        event_type: env.event_type.into_owned(),
        data: env.data,
        ts: env.ts,
        id: env.id.map(Cow::into_owned),
        actor: env.actor.map(Cow::into_owned),
        meta: env.meta,
    })
}

/// The text of a slice of the line the parser has accepted, from one token boundary to another.
///
/// Bytes outside strings must be ASCII JSON syntax, so only string contents can hold other
/// bytes, and [`scan_string`] checks every run of those to be UTF-8 as it meets it (or, for a
/// line parsed with its chunk's [`Stops`], which only the index of a chunk checked to be UTF-8
/// as a whole hands out, the whole line is UTF-8 already): such a slice is UTF-8 as a whole,
/// and checking it again (which cost 15% of a borrowed fold) would only repeat that work.
/// Debug builds (and so the fuzz targets) do check it again.
#[allow(unsafe_code)]
#[inline(always)]
fn accepted_text(bytes: &[u8]) -> &str {
    debug_assert!(
        std::str::from_utf8(bytes).is_ok(),
        "the parser accepted bytes that are not UTF-8"
    );
    // SAFETY: the bytes are UTF-8, as argued above; `debug_assert!` re-checks the argument.
    unsafe { std::str::from_utf8_unchecked(bytes) }
}

struct Parser<'a, 's> {
    b: &'a [u8],
    i: usize,
    depth: usize,
    /// Where the string stops of the line are, when its chunk has been indexed.
    stops: Option<Stops<'s>>,
}

fn err<T>(at: usize, what: &'static str) -> Result<T, ParseError> {
    Err(ParseError {
        at,
        what,
        upcast: None,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Type,
    Data,
    Ts,
    Id,
    Actor,
    Meta,
    Other,
}

impl Field {
    fn named(key: &[u8]) -> Field {
        match key {
            b"type" => Field::Type,
            b"data" => Field::Data,
            b"ts" => Field::Ts,
            b"id" => Field::Id,
            b"actor" => Field::Actor,
            b"meta" => Field::Meta,
            _ => Field::Other,
        }
    }

    /// The error for this field appearing twice (fields other than the six are not checked).
    fn duplicate(self) -> &'static str {
        match self {
            Field::Type => "duplicate field `type`",
            Field::Data => "duplicate field `data`",
            Field::Ts => "duplicate field `ts`",
            Field::Id => "duplicate field `id`",
            Field::Actor => "duplicate field `actor`",
            Field::Meta => "duplicate field `meta`",
            Field::Other => "duplicate field",
        }
    }
}

impl<'a, 's> Parser<'a, 's> {
    fn new(b: &'a [u8]) -> Self {
        Parser {
            b,
            i: 0,
            depth: 0,
            stops: None,
        }
    }

    /// A known field name written plainly, as eventfold writes it (`"type":`, no escapes, no
    /// space before the colon), consumed with its colon; `None` leaves the general path to
    /// read the name.
    #[inline]
    fn plain_field(&mut self) -> Option<Field> {
        const PLAIN: [(&[u8], Field); 6] = [
            (b"\"type\":", Field::Type),
            (b"\"data\":", Field::Data),
            (b"\"ts\":", Field::Ts),
            (b"\"id\":", Field::Id),
            (b"\"actor\":", Field::Actor),
            (b"\"meta\":", Field::Meta),
        ];
        let rest = &self.b[self.i..];
        let (text, field) = PLAIN.iter().find(|(text, _)| rest.starts_with(text))?;
        self.i += text.len();
        Some(*field)
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    #[inline]
    fn expect(&mut self, byte: u8, what: &'static str) -> Result<(), ParseError> {
        self.skip_ws();
        if self.peek() == Some(byte) {
            self.i += 1;
            Ok(())
        } else {
            self.unexpected(what)
        }
    }

    fn unexpected<T>(&self, expected: &'static str) -> Result<T, ParseError> {
        match self.peek() {
            None => err(self.i, "the line ends too early"),
            Some(_) => err(self.i, expected),
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth >= MAX_DEPTH {
            return err(self.i, "nesting is deeper than 127 levels");
        }
        Ok(())
    }

    fn envelope<D: Payload<'a>>(mut self) -> Result<Envelope<'a, D>, ParseError> {
        let mut event_type = None;
        let mut ts = None;
        let mut id = None;
        let mut actor = None;
        let mut data = None;
        let mut meta = None;
        let mut seen_id = false;
        let mut seen_actor = false;
        let mut seen_meta = false;

        self.skip_ws();
        if self.peek() != Some(b'{') {
            return self.unexpected("expected `{` to open the event object");
        }
        self.enter()?;
        self.i += 1;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
        } else {
            loop {
                self.skip_ws();
                if self.peek() != Some(b'"') {
                    return self.unexpected("expected a field name");
                }
                let key_at = self.i;
                let field = match self.plain_field() {
                    Some(field) => field,
                    None => {
                        let field = Field::named(&self.key()?);
                        self.expect(b':', "expected `:` after a field name")?;
                        field
                    }
                };
                self.skip_ws();
                let duplicate = match field {
                    Field::Type => event_type
                        .replace(self.string_value("`type` must be a string")?)
                        .is_some(),
                    Field::Data => data.replace(D::read(&mut self)?).is_some(),
                    Field::Ts => ts.replace(self.timestamp()?).is_some(),
                    Field::Id => {
                        id = self.optional_string("`id` must be a string")?;
                        std::mem::replace(&mut seen_id, true)
                    }
                    Field::Actor => {
                        actor = self.optional_string("`actor` must be a string")?;
                        std::mem::replace(&mut seen_actor, true)
                    }
                    Field::Meta => {
                        let value = D::read(&mut self)?;
                        meta = (!value.is_null()).then_some(value);
                        std::mem::replace(&mut seen_meta, true)
                    }
                    Field::Other => {
                        self.skip_unknown()?;
                        false
                    }
                };
                if duplicate {
                    return Err(ParseError {
                        at: key_at,
                        what: field.duplicate(),
                        upcast: None,
                    });
                }
                self.skip_ws();
                match self.peek() {
                    Some(b',') => self.i += 1,
                    Some(b'}') => {
                        self.i += 1;
                        break;
                    }
                    _ => return self.unexpected("expected `,` or `}` after a field"),
                }
            }
        }
        self.depth -= 1;
        self.skip_ws();
        if self.i != self.b.len() {
            return err(self.i, "unexpected bytes after the event object");
        }
        let end = self.i;
        Ok(Envelope {
            line: self.b,
            event_type: event_type.ok_or(ParseError {
                at: end,
                what: "missing field `type`",
                upcast: None,
            })?,
            data: data.ok_or(ParseError {
                at: end,
                what: "missing field `data`",
                upcast: None,
            })?,
            ts: ts.ok_or(ParseError {
                at: end,
                what: "missing field `ts`",
                upcast: None,
            })?,
            id,
            actor,
            meta,
        })
    }

    /// A string field's value; `not_a_string` is the error for any other value.
    fn string_value(&mut self, not_a_string: &'static str) -> Result<Cow<'a, str>, ParseError> {
        if self.peek() != Some(b'"') {
            self.value()?;
            return Err(ParseError {
                at: self.i,
                what: not_a_string,
                upcast: None,
            });
        }
        self.string()
    }

    fn optional_string(
        &mut self,
        not_a_string: &'static str,
    ) -> Result<Option<Cow<'a, str>>, ParseError> {
        if self.b[self.i..].starts_with(b"null") {
            self.i += 4;
            return Ok(None);
        }
        self.string_value(not_a_string).map(Some)
    }

    fn timestamp(&mut self) -> Result<u64, ParseError> {
        let start = self.i;
        let rest = &self.b[start..];
        if let Some((n, digits)) = plain_u64(rest)
            && (digits == 1 || rest[0] != b'0')
            && !matches!(rest.get(digits), Some(b'.' | b'e' | b'E'))
        {
            self.i += digits;
            return Ok(n);
        }
        let mut n: u64 = 0;
        let mut digits = 0;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            n = match n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d - b'0')))
            {
                Some(n) => n,
                None => return err(start, "`ts` does not fit in an unsigned 64-bit integer"),
            };
            digits += 1;
            self.i += 1;
        }
        let leading_zero = digits > 1 && self.b[start] == b'0';
        if digits == 0 || leading_zero || matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            self.i = start;
            self.value()?;
            return err(
                start,
                "`ts` must be an unsigned integer (seconds since the epoch)",
            );
        }
        Ok(n)
    }

    /// Skips one value and returns its raw text.
    fn raw_value(&mut self) -> Result<&'a str, ParseError> {
        let start = self.i;
        self.value()?;
        Ok(accepted_text(&self.b[start..self.i]))
    }

    /// Validates and skips one JSON value starting at the current byte.
    fn value(&mut self) -> Result<(), ParseError> {
        match self.peek() {
            Some(b'"') => self.skip_string(),
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => self.unexpected("expected a JSON value"),
        }
    }

    /// Validates one JSON value starting at the current byte and builds it, as serde_json
    /// would build it; the grammar, checks and errors are those of [`Parser::value`].
    fn build(&mut self) -> Result<Value, ParseError> {
        match self.peek() {
            Some(b'"') => Ok(Value::String(self.string()?.into_owned())),
            Some(b'{') => self.build_object(),
            Some(b'[') => self.build_array(),
            Some(b't') => self.literal(b"true").map(|()| Value::Bool(true)),
            Some(b'f') => self.literal(b"false").map(|()| Value::Bool(false)),
            Some(b'n') => self.literal(b"null").map(|()| Value::Null),
            Some(b'-' | b'0'..=b'9') => self.build_number(),
            _ => self.unexpected("expected a JSON value"),
        }
    }

    fn build_object(&mut self) -> Result<Value, ParseError> {
        let mut map = serde_json::Map::new();
        self.object_with(
            |p| p.string().map(Cow::into_owned),
            |p, key| {
                // A repeated key keeps its last value, as in serde_json.
                map.insert(key, p.build()?);
                Ok(())
            },
        )?;
        Ok(Value::Object(map))
    }

    fn build_array(&mut self) -> Result<Value, ParseError> {
        let mut items = Vec::new();
        self.array_with(|p| {
            items.push(p.build()?);
            Ok(())
        })?;
        Ok(Value::Array(items))
    }

    /// A plain unsigned integer of up to 19 digits (it fits a u64) is built here; every other
    /// number is handed to serde_json, so that signs, fractions, exponents and out-of-range
    /// integers become exactly the numbers serde_json makes of them.
    fn build_number(&mut self) -> Result<Value, ParseError> {
        let start = self.i;
        self.number()?;
        let token = &self.b[start..self.i];
        if token.len() <= 19 && token.iter().all(u8::is_ascii_digit) {
            let n = token
                .iter()
                .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
            return Ok(Value::Number(n.into()));
        }
        // The token was validated as a JSON number in f64's range, which serde_json accepts.
        Ok(serde_json::from_str(accepted_text(token)).unwrap_or(Value::Null))
    }

    /// Validates and skips the value of an unknown field, by the rules serde_json skips it with
    /// (`IgnoredAny`, as 0.2.0's `Event` did): the grammar, but no nesting limit, numbers of any
    /// size (`1e400` passes), and `\u` escapes that need not make a character (a lone surrogate
    /// passes). It keeps its own stack instead of recursing, so no nesting can overflow the
    /// call stack.
    fn skip_unknown(&mut self) -> Result<(), ParseError> {
        let mut open: Vec<u8> = Vec::new();
        loop {
            // A value starts here.
            self.skip_ws();
            match self.peek() {
                Some(c @ (b'{' | b'[')) => {
                    self.i += 1;
                    self.skip_ws();
                    let close = if c == b'{' { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.i += 1;
                    } else {
                        open.push(c);
                        if c == b'{' {
                            self.key_and_colon()?;
                        }
                        continue;
                    }
                }
                Some(b'"') => self.skip_string_with(Self::ignore_escape)?,
                Some(b'-' | b'0'..=b'9') => self.number_token().map(drop)?,
                _ => self.value()?,
            }
            // After a value: close what ends here, then expect the next item.
            loop {
                let Some(&c) = open.last() else { return Ok(()) };
                self.skip_ws();
                match (c, self.peek()) {
                    (_, Some(b',')) => {
                        self.i += 1;
                        if c == b'{' {
                            self.skip_ws();
                            self.key_and_colon()?;
                        }
                        break;
                    }
                    (b'{', Some(b'}')) | (b'[', Some(b']')) => {
                        self.i += 1;
                        open.pop();
                    }
                    (b'{', _) => return self.unexpected("expected `,` or `}` in an object"),
                    _ => return self.unexpected("expected `,` or `]` in an array"),
                }
            }
        }
    }

    /// A key string and its colon, inside the value of an unknown field.
    fn key_and_colon(&mut self) -> Result<(), ParseError> {
        if self.peek() != Some(b'"') {
            return self.unexpected("expected a key string");
        }
        self.skip_string_with(Self::ignore_escape)?;
        self.expect(b':', "expected `:` after a key")
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<(), ParseError> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            err(self.i, "invalid literal")
        }
    }

    fn object(&mut self) -> Result<(), ParseError> {
        self.object_with(Self::skip_string, |p, ()| p.value())
    }

    fn array(&mut self) -> Result<(), ParseError> {
        self.array_with(Self::value)
    }

    /// The grammar of an object, whose `{` is the current byte, shared by the skipping and the
    /// building walks: `key` reads each key (its quote is the current byte) and `value` each
    /// value, given its key.
    #[inline(always)]
    fn object_with<K>(
        &mut self,
        mut key: impl FnMut(&mut Self) -> Result<K, ParseError>,
        mut value: impl FnMut(&mut Self, K) -> Result<(), ParseError>,
    ) -> Result<(), ParseError> {
        self.enter()?;
        self.i += 1;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return self.unexpected("expected a key string");
            }
            let k = key(self)?;
            self.expect(b':', "expected `:` after a key")?;
            self.skip_ws();
            value(self, k)?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return self.unexpected("expected `,` or `}` in an object"),
            }
        }
    }

    /// The grammar of an array, whose `[` is the current byte, shared like
    /// [`Parser::object_with`]: `element` reads each element.
    #[inline(always)]
    fn array_with(
        &mut self,
        mut element: impl FnMut(&mut Self) -> Result<(), ParseError>,
    ) -> Result<(), ParseError> {
        self.enter()?;
        self.i += 1;
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            self.skip_ws();
            element(self)?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return self.unexpected("expected `,` or `]` in an array"),
            }
        }
    }

    fn number(&mut self) -> Result<(), ParseError> {
        let start = self.i;
        let exponent = self.number_token()?;
        // Only long or exponent numbers can exceed f64's range; serde_json refuses those, so
        // the line is refused here too (0.2.0 refused it as well).
        let token = &self.b[start..self.i];
        if token.len() > 17 || exponent {
            let value: f64 = std::str::from_utf8(token)
                .ok()
                .and_then(|t| t.parse().ok())
                .unwrap_or(f64::INFINITY);
            if !value.is_finite() {
                return err(start, "number out of range");
            }
        }
        Ok(())
    }

    /// Validates and skips the grammar of a number, of any size; returns whether it has an
    /// exponent.
    fn number_token(&mut self) -> Result<bool, ParseError> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return err(start, "invalid number"),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return err(self.i, "invalid number: expected a digit after `.`");
            }
            self.digits();
        }
        let mut exponent = false;
        if let Some(b'e' | b'E') = self.peek() {
            exponent = true;
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return err(self.i, "invalid number: expected a digit in the exponent");
            }
            self.digits();
        }
        Ok(exponent)
    }

    #[inline]
    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
    }

    /// Finds the end of a run of plain string bytes from `start`, as [`scan_string`] does;
    /// with the chunk's stops, in one look-up and without checking UTF-8 again.
    #[inline(always)]
    fn scan(&self, start: usize) -> Result<usize, ParseError> {
        let Some(stops) = &self.stops else {
            return scan_string(self.b, start);
        };
        let i = stops.next(start, self.b.len());
        match self.b.get(i) {
            Some(b'"' | b'\\') => Ok(i),
            Some(_) => err(i, "control character in a string"),
            None => err(self.b.len(), "unterminated string"),
        }
    }

    /// Validates and skips a string; the current byte is its opening quote.
    #[inline]
    fn skip_string(&mut self) -> Result<(), ParseError> {
        self.skip_string_with(|p| p.escape(&mut None))
    }

    /// [`Parser::skip_string`], validating each escape with `escape` (its backslash is the
    /// current byte).
    #[inline(always)]
    fn skip_string_with(
        &mut self,
        mut escape: impl FnMut(&mut Self) -> Result<(), ParseError>,
    ) -> Result<(), ParseError> {
        self.i += 1;
        loop {
            let start = self.i;
            self.i = self.scan(start)?;
            if self.b[self.i] == b'"' {
                self.i += 1;
                return Ok(());
            }
            escape(self)?;
        }
    }

    /// Reads a field name as bytes (borrowed unless it holds escapes).
    #[inline]
    fn key(&mut self) -> Result<Cow<'a, [u8]>, ParseError> {
        let start = self.i + 1;
        let end = self.scan(start)?;
        if self.b[end] == b'"' {
            self.i = end + 1;
            return Ok(Cow::Borrowed(&self.b[start..end]));
        }
        Ok(Cow::Owned(self.string()?.into_owned().into_bytes()))
    }

    /// Reads a string, borrowing it when it holds no escapes; the current byte is its quote.
    #[inline]
    fn string(&mut self) -> Result<Cow<'a, str>, ParseError> {
        self.i += 1;
        let start = self.i;
        self.i = self.scan(start)?;
        let first = accepted_text(&self.b[start..self.i]);
        if self.b[self.i] == b'"' {
            self.i += 1;
            return Ok(Cow::Borrowed(first));
        }
        // Escapes: build the unescaped string.
        let mut out = Some(String::from(first));
        loop {
            self.escape(&mut out)?;
            let seg_start = self.i;
            self.i = self.scan(seg_start)?;
            if let Some(out) = out.as_mut() {
                out.push_str(accepted_text(&self.b[seg_start..self.i]));
            }
            if self.b[self.i] == b'"' {
                self.i += 1;
                return Ok(Cow::Owned(out.unwrap_or_default()));
            }
        }
    }

    /// Validates one escape (the current byte is its backslash), appending its character to
    /// `out` when given.
    fn escape(&mut self, out: &mut Option<String>) -> Result<(), ParseError> {
        let at = self.i;
        let Some(&kind) = self.b.get(at + 1) else {
            return err(at, "unterminated string");
        };
        self.i += 2;
        let c = match kind {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let first = self.hex4(at)?;
                match first {
                    0xD800..=0xDBFF => {
                        if self.b.get(self.i) != Some(&b'\\')
                            || self.b.get(self.i + 1) != Some(&b'u')
                        {
                            return err(at, "lone leading surrogate in a \\u escape");
                        }
                        self.i += 2;
                        let second = self.hex4(at)?;
                        if !(0xDC00..=0xDFFF).contains(&second) {
                            return err(at, "invalid surrogate pair in a \\u escape");
                        }
                        let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                        char::from_u32(code).expect("a surrogate pair decodes to a scalar value")
                    }
                    0xDC00..=0xDFFF => return err(at, "lone trailing surrogate in a \\u escape"),
                    _ => char::from_u32(first).expect("a non-surrogate code point is a char"),
                }
            }
            _ => return err(at, "invalid escape"),
        };
        if let Some(out) = out.as_mut() {
            out.push(c);
        }
        Ok(())
    }

    /// Validates one escape of a string being ignored, as serde_json does: a `\u` escape
    /// needs four hex digits, not a character; any other is checked as [`Parser::escape`]
    /// checks it (the current byte is its backslash).
    fn ignore_escape(&mut self) -> Result<(), ParseError> {
        let at = self.i;
        if self.b.get(at + 1) != Some(&b'u') {
            return self.escape(&mut None);
        }
        self.i += 2;
        self.hex4(at).map(drop)
    }

    fn hex4(&mut self, at: usize) -> Result<u32, ParseError> {
        let Some(digits) = self.b.get(self.i..self.i + 4) else {
            return err(at, "a \\u escape needs four hex digits");
        };
        let mut n = 0u32;
        for &d in digits {
            let v = match d {
                b'0'..=b'9' => d - b'0',
                b'a'..=b'f' => d - b'a' + 10,
                b'A'..=b'F' => d - b'A' + 10,
                _ => return err(at, "a \\u escape needs four hex digits"),
            };
            n = n * 16 + u32::from(v);
        }
        self.i += 4;
        Ok(n)
    }
}

/// The value of the run of 1 to 19 ASCII digits that starts `b`, and its length; `None` when
/// `b` does not start with a digit or the run is longer (19 digits always fit in a u64).
#[inline]
fn plain_u64(b: &[u8]) -> Option<(u64, usize)> {
    let mut n = 0u64;
    let mut len = 0;
    // Eight digits at a time, twice at most.
    while len < 16 {
        let Some(eight) = b.get(len..len + 8) else {
            break;
        };
        let x = u64::from_le_bytes(eight.try_into().expect("eight bytes"));
        // A byte is a digit when its high half is 3 and its low half at most 9.
        let digits = x & (ONES * 0xF0) == ONES * 0x30
            && x.wrapping_add(ONES * 0x06) & (ONES * 0xF0) == ONES * 0x30;
        if !digits {
            break;
        }
        // The first digit is the lowest byte: combine neighbours into 2, 4, then 8 digits.
        let v = x - ONES * 0x30;
        let v = (v * 10 + (v >> 8)) & 0x00FF_00FF_00FF_00FF;
        let v = (v * 100 + (v >> 16)) & 0x0000_FFFF_0000_FFFF;
        let v = (v * 10_000 + (v >> 32)) & 0xFFFF_FFFF;
        n = n * 100_000_000 + v;
        len += 8;
    }
    while let Some(&d @ b'0'..=b'9') = b.get(len) {
        if len == 19 {
            return None;
        }
        n = n * 10 + u64::from(d - b'0');
        len += 1;
    }
    (len > 0).then_some((n, len))
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Marks (high bit of each byte) the bytes of `x` equal to `c`; exact for the lowest match.
#[inline(always)]
fn bytes_eq(x: u64, c: u8) -> u64 {
    let y = x ^ (ONES * u64::from(c));
    y.wrapping_sub(ONES) & !y & HIGHS
}

/// Finds the end of a run of plain string bytes from `start`: the next `"` or `\`. Control
/// characters are refused and non-ASCII runs are checked to be UTF-8 on the way.
#[inline]
fn scan_string(b: &[u8], start: usize) -> Result<usize, ParseError> {
    let mut i = start;
    let mut high = false;
    // Eight bytes at a time: stop at a quote, a backslash or a control character.
    while let Some(chunk) = b.get(i..i + 8) {
        let x = u64::from_le_bytes(chunk.try_into().expect("an 8-byte chunk"));
        let stop =
            bytes_eq(x, b'"') | bytes_eq(x, b'\\') | (x.wrapping_sub(ONES * 0x20) & !x & HIGHS);
        high |= x & HIGHS != 0;
        if stop != 0 {
            i += (stop.trailing_zeros() / 8) as usize;
            break;
        }
        i += 8;
    }
    loop {
        match b.get(i) {
            None => return err(b.len(), "unterminated string"),
            Some(b'"' | b'\\') => break,
            Some(&c) if c < 0x20 => return err(i, "control character in a string"),
            Some(&c) => {
                high |= c >= 0x80;
                i += 1;
            }
        }
    }
    if high && let Err(at) = check_utf8(&b[start..i]) {
        return err(start + at, "invalid UTF-8 in a string");
    }
    Ok(i)
}

/// Checks that a run of string bytes is UTF-8, returning where the first bad sequence starts.
///
/// Runs are short (a string between escapes), so a plain loop inlined here beats a call to
/// `str::from_utf8`, whose setup is paid per call. The ranges are those of the UTF-8 standard
/// (RFC 3629): no overlong forms, no surrogates, nothing past U+10FFFF.
#[inline]
fn check_utf8(run: &[u8]) -> Result<(), usize> {
    let mut i = 0;
    while i < run.len() {
        let lead = run[i];
        if lead < 0x80 {
            i += 1;
            continue;
        }
        let (len, second) = match lead {
            0xC2..=0xDF => (2, 0x80..=0xBF),
            0xE0 => (3, 0xA0..=0xBF),
            0xE1..=0xEC | 0xEE..=0xEF => (3, 0x80..=0xBF),
            0xED => (3, 0x80..=0x9F),
            0xF0 => (4, 0x90..=0xBF),
            0xF1..=0xF3 => (4, 0x80..=0xBF),
            0xF4 => (4, 0x80..=0x8F),
            _ => return Err(i),
        };
        match run.get(i + 1..i + len) {
            Some([b1, rest @ ..])
                if second.contains(b1) && rest.iter().all(|&b| b & 0xC0 == 0x80) => {}
            _ => return Err(i),
        }
        i += len;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::value::RawValue;

    /// The reference: what serde_json's derived deserializer accepts and finds.
    #[derive(Deserialize)]
    struct Reference<'a> {
        #[serde(rename = "type")]
        event_type: String,
        #[serde(borrow)]
        data: &'a RawValue,
        ts: u64,
        #[serde(default)]
        id: Option<String>,
        #[serde(default)]
        actor: Option<String>,
        #[serde(default, borrow)]
        meta: Option<&'a RawValue>,
    }

    fn check_against_serde(line: &[u8]) {
        let ours = envelope(line);
        // An event is a JSON object (serde would also read an array of the fields).
        let accepted = std::str::from_utf8(line).is_ok_and(|text| {
            text.trim_start().starts_with('{') && serde_json::from_str::<crate::Event>(text).is_ok()
        });
        let reference = serde_json::from_slice::<Reference<'_>>(line);
        // The owned parse accepts the same lines and builds what serde_json builds.
        let owned = event(line);
        assert_eq!(
            owned.is_ok(),
            accepted,
            "owned parse of {line:?}: {owned:?}"
        );
        if let Ok(owned) = owned {
            let text = std::str::from_utf8(line).expect("accepted lines are UTF-8");
            let expected: crate::Event = serde_json::from_str(text).expect("accepted");
            assert_eq!(
                owned,
                expected,
                "owned event of {:?}",
                String::from_utf8_lossy(line)
            );
        }
        match (ours, accepted) {
            (Ok(ours), true) => {
                let reference = reference.expect("an accepted event has an envelope");
                assert_eq!(ours.event_type, reference.event_type, "type of {line:?}");
                assert_eq!(ours.ts, reference.ts);
                assert_eq!(ours.id.as_deref(), reference.id.as_deref());
                assert_eq!(ours.actor.as_deref(), reference.actor.as_deref());
                assert_eq!(ours.data, reference.data.get());
                assert_eq!(ours.meta, reference.meta.map(|m| m.get()));
            }
            (Err(_), false) => {}
            (ours, _) => panic!(
                "disagreement on {:?}: ours {:?}, serde_json accepts: {accepted}",
                String::from_utf8_lossy(line),
                ours.map(|_| ()),
            ),
        }
    }

    /// The inline UTF-8 check finds exactly what the standard library finds, at the same byte:
    /// every sequence of one or two bytes, and every sequence of three or four bytes built from
    /// the values at the edges of the UTF-8 ranges.
    #[test]
    fn utf8_check_agrees_with_the_standard_library() {
        let same = |run: &[u8]| {
            let expected = std::str::from_utf8(run)
                .map(|_| ())
                .map_err(|e| e.valid_up_to());
            assert_eq!(check_utf8(run), expected, "{run:02x?}");
        };
        for a in 0..=255u8 {
            same(&[a]);
            for b in 0..=255u8 {
                same(&[a, b]);
            }
        }
        let edges = [
            0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0,
            0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF,
        ];
        for &a in &edges {
            for &b in &edges {
                for &c in &edges {
                    same(&[a, b, c]);
                    for &d in &edges {
                        same(&[a, b, c, d]);
                        same(&[b'x', a, b, c, d]);
                    }
                }
            }
        }
    }

    /// The digit run reader finds what reading one digit at a time finds.
    #[test]
    fn plain_u64_reads_digit_runs() {
        let naive = |b: &[u8]| {
            let len = b.iter().take_while(|d| d.is_ascii_digit()).count();
            let n = b[..len].iter().try_fold(0u64, |n, &d| {
                n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
            });
            (1..=19).contains(&len).then(|| (n.expect("fits"), len))
        };
        let digits = b"01234567899876543210";
        for len in 0..=digits.len() {
            for after in [&b""[..], b"/", b":", b"x", b".5", b"\xb9", b"\x39"] {
                for start in [0, 3, 10] {
                    let mut b = digits[start.min(len)..len].to_vec();
                    b.extend_from_slice(after);
                    b.extend_from_slice(b"1234567890");
                    let end = b.len() - 10;
                    for cut in [end, b.len()] {
                        assert_eq!(plain_u64(&b[..cut]), naive(&b[..cut]), "{:?}", &b[..cut]);
                    }
                }
            }
        }
        assert_eq!(
            plain_u64(b"9999999999999999999"),
            Some((9_999_999_999_999_999_999, 19))
        );
        assert_eq!(plain_u64(b"18446744073709551615"), None);
    }

    #[test]
    fn agrees_with_serde_json_on_handpicked_lines() {
        let lines: &[&[u8]] = &[
            br#"{"type":"a","data":{},"ts":1}"#,
            br#" { "ts" : 5 , "data" : [1, 2.5e3, -0, true, false, null, "x"], "type" : "b" } "#,
            br#"{"type":"a\"b\\c\u00e9\ud83d\ude00","data":"\n","ts":0,"id":"i","actor":null}"#,
            br#"{"type":"a","data":{"k":{"k":[{}]}},"ts":18446744073709551615,"meta":{"m":1}}"#,
            br#"{"type":"a","data":1,"ts":18446744073709551616}"#,
            br#"{"type":"a","data":1,"ts":1.0}"#,
            br#"{"type":"a","data":1,"ts":-1}"#,
            br#"{"type":"a","data":1,"ts":01}"#,
            br#"{"type":"a","data":1}"#,
            br#"{"data":1,"ts":1}"#,
            br#"{"type":"a","ts":1}"#,
            br#"{"type":"a","data":1,"ts":1,"type":"b"}"#,
            br#"{"type":1,"data":1,"ts":1}"#,
            br#"{"type":"a","data":01,"ts":1}"#,
            br#"{"type":"a","data":1.,"ts":1}"#,
            br#"{"type":"a","data":"\x","ts":1}"#,
            br#"{"type":"a","data":"\ud800","ts":1}"#,
            br#"{"type":"a","data":"\udc00","ts":1}"#,
            br#"{"type":"a","data":tru,"ts":1}"#,
            br#"{"type":"a","data":1,"ts":1,}"#,
            br#"{"type":"a","data":1,"ts":1} x"#,
            br#"{"type":"a","data":[1,],"ts":1}"#,
            br#"{"type":"a","data":{"k":1,},"ts":1}"#,
            br#"{"type":"a","data":1,"ts":1,"meta":null,"extra":{"deep":[1]}}"#,
            br#"{"type":"a","data":1,"ts":1,"id":5}"#,
            br#"{"type":"a","data":[1e400],"ts":1}"#,
            // The values of unknown fields are skipped as serde_json skips them: numbers of
            // any size, \u escapes that are not characters; `data` and `meta` are not.
            br#"{"type":"a","data":1,"ts":1,"x":1e400}"#,
            br#"{"type":"a","data":1,"ts":1,"x":-10000000e000000000302}"#,
            br#"{"type":"a","data":1,"ts":1,"x":"\ud800"}"#,
            br#"{"type":"a","data":1,"ts":1,"x":{"\udc00":[1e999,"\ud800x",123456789012345678901234]}}"#,
            br#"{"type":"a","data":1,"ts":1,"x":"\u12"}"#,
            br#"{"type":"a","data":1,"ts":1,"x":"\q"}"#,
            br#"{"type":"a","data":1,"ts":1,"x":1e}"#,
            br#"{"type":"a","data":1,"ts":1,"x":01}"#,
            br#"{"type":"a","data":1,"ts":1,"meta":1e400}"#,
            br#"{"type":"a","data":{"\ud800":1},"ts":1}"#,
            br#"{"type":"a","data":1,"ts":1,"\ud800":1}"#,
            br#"["a",{"k":1},5]"#,
            br#"{"type":"a","data":[1.7976931348623157e308, -1e308, 1e-400],"ts":1}"#,
            br#"{"type":"a","data":[123456789012345678901234567890],"ts":1}"#,
            // Every kind of number, repeated and escaped keys, in built payloads.
            br#"{"type":"a","data":[0,-0,7,-7,0.5,-0.0,1e3,1E-3,2.5e+2,18446744073709551615],"ts":1}"#,
            br#"{"type":"a","data":[18446744073709551616,-9223372036854775808,-9223372036854775809],"ts":1}"#,
            br#"{"type":"a","data":[1234567890123456789,12345678901234567890,99999999999999999999],"ts":1}"#,
            br#"{"type":"a","data":[0.1,0.30000000000000004,2.2250738585072014e-308,5e-324,123.456e-7],"ts":1}"#,
            br#"{"type":"a","data":{"k":1,"k":{"k":2},"\u006b":3,"":[],"x":{}},"ts":1,"meta":{"m":[true,false,null]}}"#,
            br#"{"type":"a","data":" \u00e9\ud83d\ude00 \\ \/ \b\f\n\r\t","ts":1,"meta":"s"}"#,
            // Field names off the plain path: escaped, spaced, near misses, repeated.
            br#"{"t\u0079pe":"a","d\u0061ta":1,"ts" :1}"#,
            br#"{"type":"a","data":1,"ts":1,"t\u0079pe":"b"}"#,
            br#"{"types":"a","type":"a","datas":1,"data":1,"tss":2,"ts":1,"ids":3}"#,
            br#"{"type":"a","data":1,"ts":1,"id":"x","actor":"y","meta":{},"id":"z"}"#,
            br#"{"type":"a","data":1,"ts":1,"meta":{},"meta":null}"#,
            br#"{"type""#,
            br#"{"type":"#,
            b"{\"type\":\"a\",\"data\":1,\"ts\":1,\"x\":\"\xff\"}",
            b"{\"type\":\"a\x01\",\"data\":1,\"ts\":1}",
            b"{\"type\":\"a\",\"data\":\"\xff\",\"ts\":1}",
            b"",
            b"[]",
            b"{",
            br#"{"type":"a","data":"unterminated"#,
        ];
        for line in lines {
            check_against_serde(line);
        }
    }

    #[test]
    fn nesting_limit_matches_serde_json() {
        for depth in [120, 125, 126, 127, 128, 129, 200] {
            let data = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            check_against_serde(format!(r#"{{"type":"a","data":{data},"ts":1}}"#).as_bytes());
            // serde_json skips unknown fields with no nesting limit.
            let deep = format!("{}{}", r#"{"k":["#.repeat(depth), "]}".repeat(depth));
            check_against_serde(format!(r#"{{"type":"a","data":1,"ts":1,"x":{deep}}}"#).as_bytes());
        }
        let huge = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let line = format!(r#"{{"type":"a","data":1,"ts":1,"x":{huge}}}"#);
        assert!(envelope(line.as_bytes()).is_ok());
        let unclosed = format!(
            r#"{{"type":"a","data":1,"ts":1,"x":{}}}"#,
            "[".repeat(100_000)
        );
        assert!(envelope(unclosed.as_bytes()).is_err());
    }

    #[test]
    fn errors_name_a_column() {
        let e = envelope(br#"{"type":"a","data":[1,,2],"ts":1}"#).unwrap_err();
        assert_eq!(e.at, 22);
        assert!(e.to_string().ends_with("at column 23"), "{e}");
    }

    /// A bad string is reported at its first fault; an unterminated string or a control
    /// character is reported before invalid UTF-8 earlier in the same run.
    #[test]
    fn string_errors_name_their_byte() {
        let cases: [(&[u8], usize, &str); 5] = [
            (
                b"{\"type\":\"a\x01b\",\"data\":1,\"ts\":1}",
                10,
                "control character",
            ),
            (
                b"{\"type\":\"a\xffb\",\"data\":1,\"ts\":1}",
                10,
                "invalid UTF-8",
            ),
            (
                b"{\"type\":\"a\xffb\x01\",\"data\":1,\"ts\":1}",
                12,
                "control character",
            ),
            (b"{\"type\":\"abc", 12, "unterminated string"),
            (
                b"{\"type\":\"\xe6\x97\xa5\xe6\x97",
                14,
                "unterminated string",
            ),
        ];
        for (line, at, what) in cases {
            let e = envelope(line).unwrap_err();
            assert_eq!((e.at, e.what.contains(what)), (at, true), "{line:?}: {e}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        #[test]
        fn agrees_with_serde_json_on_mutated_lines(
            pos in 0usize..80,
            byte in proptest::prelude::any::<u8>(),
            cut in 0usize..90,
        ) {
            let bases: [&[u8]; 2] = [
                br#"{"type":"t\u00e9","data":{"a":[1,-2.5e-3,"s\"q"],"b":null},"ts":17,"id":"x"}"#,
                br#"{"type":"n","data":[123456,-98,0.25,7e10,{"k":"v\n"}],"ts":5,"meta":{"z":1}}"#,
            ];
            let base = bases[pos % 2];
            let mut line = base.to_vec();
            let pos = pos % line.len();
            line[pos] = byte;
            check_against_serde(&line);
            line.truncate(cut.min(line.len()));
            check_against_serde(&line);
        }
    }
}
