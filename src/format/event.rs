//! Events: the owned [`Event`] that is appended, and the borrowed [`EventRef`] that zero-copy
//! reducers read.

use crate::format::field;
use crate::format::parse::{self, Envelope, ParseError};
use crate::format::trusted;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;
use std::io;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// One immutable record of the log, stored as a single JSON line in `app.jsonl`.
///
/// The line holds the fields in this order: `type`, `data`, `ts`, then `id`, `actor` and `meta`
/// only when they are set. `data` is any JSON value: the log gives it no meaning, reducers do.
///
/// # Examples
///
/// ```
/// use eventfold::Event;
/// use serde_json::json;
///
/// let event = Event::new("todo_added", json!({"text": "buy milk"})).with_actor("ann");
/// assert_eq!(event.event_type, "todo_added");
/// assert_eq!(event.actor.as_deref(), Some("ann"));
/// let line = serde_json::to_string(&event)?;
/// assert!(line.starts_with(r#"{"type":"todo_added","data":{"text":"buy milk"},"ts":"#));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// What happened, e.g. `"todo_added"`. Written as `"type"`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The payload, any JSON value; the log never inspects it.
    pub data: Value,
    /// Seconds since the Unix epoch, set by [`Event::new`].
    pub ts: u64,
    /// An identifier chosen by the caller (a UUID, a ULID...). Omitted from the line when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Who caused the event (a user, a service). Omitted from the line when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Cross-cutting metadata (correlation ids, schema versions...) kept apart from `data`.
    /// Omitted from the line when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Value>,
}

impl Event {
    /// Creates an event of type `event_type` carrying `data`, stamped with the current time.
    ///
    /// `id`, `actor` and `meta` start as `None`; set them with the `with_*` methods.
    ///
    /// # Panics
    ///
    /// Panics if the system clock reads a time before the Unix epoch.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::Event;
    /// use serde_json::json;
    ///
    /// let event = Event::new("page_view", json!({"url": "/"}));
    /// assert_eq!(event.data["url"], "/");
    /// assert!(event.ts > 1_600_000_000);
    /// assert!(event.id.is_none() && event.actor.is_none() && event.meta.is_none());
    /// ```
    pub fn new(event_type: &str, data: Value) -> Self {
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("the system clock reads a time before the Unix epoch")
            .as_secs();
        Event {
            event_type: event_type.to_string(),
            data,
            ts,
            id: None,
            actor: None,
            meta: None,
        }
    }

    /// Sets the event's identifier.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::Event;
    /// let event = Event::new("paid", serde_json::json!(12)).with_id("ord-7");
    /// assert_eq!(event.id.as_deref(), Some("ord-7"));
    /// ```
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets who caused the event.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::Event;
    /// let event = Event::new("login", serde_json::json!({})).with_actor("user_42");
    /// assert_eq!(event.actor.as_deref(), Some("user_42"));
    /// ```
    pub fn with_actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// Sets the metadata object.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::Event;
    /// use serde_json::json;
    /// let event = Event::new("login", json!({})).with_meta(json!({"session": "s1"}));
    /// assert_eq!(event.meta, Some(json!({"session": "s1"})));
    /// ```
    pub fn with_meta(mut self, meta: Value) -> Self {
        self.meta = Some(meta);
        self
    }
}

/// A borrowed view of one event line, for zero-copy reducers.
///
/// An `EventRef<'a>` borrows the bytes of its line (in the memory-mapped active log, or in the
/// decompressed archive frame being replayed). The envelope (`type`, `ts`, `id`, `actor`) is
/// read when the line is parsed; strings without escapes point into the line itself. `data`
/// and `meta` are validated as JSON when the line is read, but only turned into values when a
/// reducer calls [`data`](EventRef::data), [`data_as`](EventRef::data_as) or
/// [`meta`](EventRef::meta), so a reducer that looks only at the type never pays for the
/// payload.
///
/// # Examples
///
/// ```
/// use eventfold::EventRef;
///
/// let line = br#"{"type":"todo_added","data":{"id":7,"text":"milk"},"ts":5}"#;
/// let event = EventRef::parse(line)?;
/// assert_eq!(event.event_type(), "todo_added");
/// assert_eq!(event.ts(), 5);
///
/// #[derive(serde::Deserialize)]
/// struct Added<'a> { id: u64, text: &'a str }
/// let added: Added<'_> = event.data_as()?;
/// assert_eq!((added.id, added.text), (7, "milk"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct EventRef<'a> {
    repr: Repr<'a>,
}

#[derive(Clone)]
enum Repr<'a> {
    /// The envelope as the parser returns it (the line included), so that turning one into
    /// the other moves nothing.
    Parsed(Envelope<'a>),
    /// A line known to be a valid event (see [`crate::format::trusted`]) that starts in the
    /// writer's shape: only its type has been found, the rest is found when first asked for.
    Located(Located<'a>),
}

#[derive(Clone)]
struct Located<'a> {
    /// The line. Its strings may hold escapes: parts found later borrow the line where they
    /// hold none, and `id` and `actor` are decoded into `decoded` where they do.
    line: &'a str,
    /// Where the type's closing quote is (the type holds no escape).
    type_end: usize,
    /// `id` and `actor` decoded, once one of them was asked for and one holds an escape. It
    /// owns its text, so the event stays covariant in its lifetime.
    decoded: OnceLock<Box<Decoded>>,
}

/// The envelope's `id` and `actor` of a located line, decoded.
#[derive(Clone)]
struct Decoded {
    id: Option<String>,
    actor: Option<String>,
}

impl<'a> Located<'a> {
    /// The text from the start of `data`'s value to the end of the line.
    #[inline]
    fn data_on(&self) -> &'a str {
        &self.line[self.type_end + 1 + trusted::DATA.len()..]
    }

    /// The envelope, found now (every time: keeping it would make `EventRef` invariant in its
    /// lifetime, or larger than it is).
    #[inline]
    fn env(&self) -> Envelope<'a> {
        let line = self.line;
        trusted::envelope(line)
            .or_else(|| parse::envelope(line.as_bytes()).ok())
            .unwrap_or_else(|| Envelope {
                // Only bytes whose seals were forged to match them can get here: what cannot
                // be read of them is left empty.
                line: line.as_bytes(),
                event_type: Cow::Borrowed(&line[trusted::PREFIX.len()..self.type_end]),
                ts: 0,
                id: None,
                actor: None,
                data: "null",
                meta: None,
            })
    }

    /// `id` and `actor`: borrowed from the line when neither holds an escape (always, for the
    /// writer's lines in its shape), decoded once and kept otherwise.
    fn id_actor(&self) -> (Option<&str>, Option<&str>) {
        if let Some(decoded) = self.decoded.get() {
            return (decoded.id.as_deref(), decoded.actor.as_deref());
        }
        let env = self.env();
        match (env.id, env.actor) {
            (id @ (None | Some(Cow::Borrowed(_))), actor @ (None | Some(Cow::Borrowed(_)))) => {
                (id.map(borrowed), actor.map(borrowed))
            }
            (id, actor) => {
                let decoded = self.decoded.get_or_init(|| {
                    Box::new(Decoded {
                        id: id.map(Cow::into_owned),
                        actor: actor.map(Cow::into_owned),
                    })
                });
                (decoded.id.as_deref(), decoded.actor.as_deref())
            }
        }
    }
}

/// A string of the line that holds no escape, which the parser borrows.
#[inline]
fn borrowed<'a>(text: Cow<'a, str>) -> &'a str {
    match text {
        Cow::Borrowed(text) => text,
        // Only called for borrowed text: not reached.
        Cow::Owned(_) => "",
    }
}

impl fmt::Debug for EventRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventRef")
            .field("env", &*self.env())
            .finish()
    }
}

impl<'a> EventRef<'a> {
    /// Parses one line (without its newline) into a borrowed event.
    ///
    /// The whole line is validated: a line that [`Event`] would not accept is refused here too.
    ///
    /// # Errors
    ///
    /// Returns an [`io::ErrorKind::InvalidData`] error naming the column that failed when the
    /// line is not valid JSON or lacks `type`, `data` or `ts`. (When eventfold reads the log
    /// itself, the error also names the file, byte offset and line number.)
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::EventRef;
    /// assert!(EventRef::parse(br#"{"type":"a","data":null,"ts":1}"#).is_ok());
    /// assert!(EventRef::parse(br#"{"type":"a","ts":1}"#).is_err());
    /// ```
    pub fn parse(line: &'a [u8]) -> io::Result<Self> {
        Self::parse_line(line)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
    }

    pub(crate) fn parse_line(line: &'a [u8]) -> Result<Self, ParseError> {
        parse::envelope(line).map(Self::from_envelope)
    }

    /// [`EventRef::parse_line`] of a line known to be a valid event (see
    /// [`crate::format::trusted`]): located without validation when it is in the writer's
    /// shape, parsed in full otherwise.
    #[inline]
    pub(crate) fn parse_trusted(line: &'a str) -> Result<Self, ParseError> {
        Self::parse_located(line, trusted::locate_type(line))
    }

    /// [`EventRef::parse_trusted`] of a line whose type was located ahead: `type_end` is what
    /// [`trusted::locate_type`] returns for it.
    #[inline]
    pub(crate) fn parse_located(
        line: &'a str,
        type_end: Option<usize>,
    ) -> Result<Self, ParseError> {
        debug_assert_eq!(type_end, trusted::locate_type(line));
        // Only the type is found now: a line whose type holds no escape, followed by `data`, is
        // located whatever `data` holds. Escapes elsewhere are decoded when that part is read.
        if let Some(type_end) = type_end
            && let Some(event) = Self::located(line, type_end)
        {
            return Ok(event);
        }
        // Any other start is not the writer's shape: `trusted::envelope` would refuse it too.
        Self::parse_line(line.as_bytes())
    }

    /// The located event of a line known to be a valid event, whose type holds no escape and
    /// ends at `type_end` (see [`trusted::locate_type`]): `None` when `data` does not follow
    /// the type, as in the writer's shape.
    #[inline(always)]
    pub(crate) fn located(line: &'a str, type_end: usize) -> Option<Self> {
        trusted::data_follows(line, type_end).then(|| EventRef {
            repr: Repr::Located(Located {
                line,
                type_end,
                decoded: OnceLock::new(),
            }),
        })
    }

    /// The envelope: the parsed one, or one found now.
    #[inline]
    fn env(&self) -> Cow<'_, Envelope<'a>> {
        match &self.repr {
            Repr::Parsed(env) => Cow::Borrowed(env),
            Repr::Located(located) => Cow::Owned(located.env()),
        }
    }

    /// This event with its envelope found, so that reading its parts again costs nothing
    /// (a located line's envelope is otherwise found anew each time a part of it is asked for).
    #[inline]
    pub(crate) fn settled(self) -> Self {
        match self.repr {
            Repr::Parsed(_) => self,
            Repr::Located(located) => Self::from_envelope(located.env()),
        }
    }

    /// Whether this event surely has no `meta` (or a `null` one), found without locating it
    /// when it can be: a located line in which no `"meta"` occurs and no escape (which could
    /// spell the key otherwise) has none. `false` says nothing.
    #[inline]
    pub(crate) fn surely_without_meta(&self) -> bool {
        match &self.repr {
            Repr::Parsed(env) => env.meta.is_none(),
            Repr::Located(located) => {
                static META: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
                    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\"meta\""));
                let line = located.line.as_bytes();
                memchr::memchr(b'\\', line).is_none() && META.find(line).is_none()
            }
        }
    }

    /// The line of this event with its type replaced by `to_json` (a JSON string, quotes
    /// included) and nothing else changed, when the line starts with its type in the writer's
    /// shape (`{"type":"...` without escapes); `None` otherwise.
    pub(crate) fn line_with_type(&self, to_json: &str) -> Option<String> {
        let (line, type_end) = match &self.repr {
            Repr::Located(located) => (located.line, located.type_end),
            Repr::Parsed(env) => {
                let line = std::str::from_utf8(env.line).ok()?;
                let Cow::Borrowed(event_type) = env.event_type else {
                    return None;
                };
                let after_prefix = line.strip_prefix(trusted::PREFIX)?;
                if !std::ptr::eq(event_type.as_ptr(), after_prefix.as_ptr()) {
                    return None;
                }
                (line, trusted::PREFIX.len() + event_type.len())
            }
        };
        // The type's closing quote is at `type_end`; what follows is kept as it is.
        let rest = line.get(type_end + 1..)?;
        let mut out = String::with_capacity(line.len() + to_json.len());
        out.push_str(&trusted::PREFIX[..trusted::PREFIX.len() - 1]);
        out.push_str(to_json);
        out.push_str(rest);
        Some(out)
    }

    /// A borrowed event of an envelope that a parse of its line returned.
    pub(crate) fn from_envelope(env: Envelope<'a>) -> Self {
        EventRef {
            repr: Repr::Parsed(env),
        }
    }

    /// The event type (`"type"` on disk).
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::EventRef;
    /// let event = EventRef::parse(br#"{"type":"caf\u00e9_opened","data":{},"ts":1}"#)?;
    /// assert_eq!(event.event_type(), "café_opened"); // escapes are decoded
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[inline]
    pub fn event_type(&self) -> &str {
        match &self.repr {
            Repr::Parsed(env) => &env.event_type,
            Repr::Located(located) => &located.line[trusted::PREFIX.len()..located.type_end],
        }
    }

    /// The timestamp, seconds since the Unix epoch.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::EventRef;
    /// let event = EventRef::parse(br#"{"type":"a","data":null,"ts":1700000000}"#)?;
    /// assert_eq!(event.ts(), 1_700_000_000);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn ts(&self) -> u64 {
        self.env().ts
    }

    /// The event's identifier, if it has one.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::EventRef;
    /// let with_id = EventRef::parse(br#"{"type":"a","data":null,"ts":1,"id":"ord-7"}"#)?;
    /// assert_eq!(with_id.id(), Some("ord-7"));
    /// let without = EventRef::parse(br#"{"type":"a","data":null,"ts":1}"#)?;
    /// assert_eq!(without.id(), None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn id(&self) -> Option<&str> {
        match &self.repr {
            Repr::Parsed(env) => env.id.as_deref(),
            Repr::Located(located) => located.id_actor().0,
        }
    }

    /// The actor that caused the event, if recorded.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::EventRef;
    /// let event = EventRef::parse(br#"{"type":"login","data":{},"ts":1,"actor":"user_42"}"#)?;
    /// assert_eq!(event.actor(), Some("user_42"));
    /// assert_eq!(EventRef::parse(br#"{"type":"tick","data":{},"ts":1}"#)?.actor(), None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn actor(&self) -> Option<&str> {
        match &self.repr {
            Repr::Parsed(env) => env.actor.as_deref(),
            Repr::Located(located) => located.id_actor().1,
        }
    }

    /// The raw bytes of the whole line, without its newline.
    ///
    /// A reducer given an event that an [`Upcaster`](crate::Upcaster) made gets a line of
    /// that event, not the stored one: its JSON is the upcast event's, and its bytes may
    /// differ from the stored line's beyond what the upcaster changed (an escape written out,
    /// say). The raw reading paths ([`EventReader::read_from`](crate::EventReader::read_from),
    /// scans, the CLI) give the stored lines.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::EventRef;
    /// let line = br#"{"type":"a","data":{"n":1},"ts":1}"#;
    /// let event = EventRef::parse(line)?;
    /// assert_eq!(event.line(), line);
    /// assert!(std::ptr::eq(event.line(), &line[..])); // borrowed, not copied
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn line(&self) -> &'a [u8] {
        match &self.repr {
            Repr::Parsed(env) => env.line,
            Repr::Located(located) => located.line.as_bytes(),
        }
    }

    /// The JSON text of `data`, exactly as it stands in the line.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::EventRef;
    /// let event = EventRef::parse(br#"{"type":"a","data":{"n": [1, 2]},"ts":1}"#)?;
    /// assert_eq!(event.data_raw(), r#"{"n": [1, 2]}"#);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn data_raw(&self) -> &'a str {
        self.env().data
    }

    /// The JSON text of `meta`, if present and not `null`.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::EventRef;
    /// let event = EventRef::parse(br#"{"type":"a","data":1,"ts":1,"meta":{"trace":"t9"}}"#)?;
    /// assert_eq!(event.meta_raw(), Some(r#"{"trace":"t9"}"#));
    /// let null_meta = EventRef::parse(br#"{"type":"a","data":1,"ts":1,"meta":null}"#)?;
    /// assert_eq!(null_meta.meta_raw(), None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn meta_raw(&self) -> Option<&'a str> {
        self.env().meta
    }

    /// `data` as a simd-json value whose strings borrow the line where they hold no escapes.
    ///
    /// The payload was validated when the line was read, so this cannot fail.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::EventRef;
    /// use simd_json::prelude::*;
    /// let event = EventRef::parse(br#"{"type":"a","data":{"n":3},"ts":1}"#)?;
    /// assert_eq!(event.data().get("n").and_then(|n| n.as_u64()), Some(3));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn data(&self) -> simd_json::BorrowedValue<'a> {
        raw_to_value(self.env().data)
    }

    /// `meta` as a simd-json value, if present.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::EventRef;
    /// use simd_json::prelude::*;
    /// let event = EventRef::parse(br#"{"type":"a","data":1,"ts":1,"meta":{"schema":2}}"#)?;
    /// let meta = event.meta();
    /// assert_eq!(meta.as_ref().and_then(|m| m.get("schema")).and_then(|v| v.as_u64()), Some(2));
    /// assert!(EventRef::parse(br#"{"type":"a","data":1,"ts":1}"#)?.meta().is_none());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn meta(&self) -> Option<simd_json::BorrowedValue<'a>> {
        self.env().meta.map(raw_to_value)
    }

    /// Deserializes just `data` into `T`, which may borrow `&'a str` fields from the line.
    ///
    /// Borrowed `&str` fields work for strings without escapes; use `Cow<'a, str>` for strings
    /// that may hold escapes.
    ///
    /// # Errors
    ///
    /// Returns [`io::ErrorKind::InvalidData`] when `data` does not have the shape of `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::EventRef;
    /// let event = EventRef::parse(br#"{"type":"a","data":[1,2,3],"ts":1}"#)?;
    /// let numbers: Vec<u8> = event.data_as()?;
    /// assert_eq!(numbers, [1, 2, 3]);
    /// assert!(event.data_as::<String>().is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn data_as<T: Deserialize<'a>>(&self) -> io::Result<T> {
        let read = match &self.repr {
            Repr::Parsed(env) => serde_json::from_str(env.data),
            // `data`'s value read from its first byte: the deserializer stops where the value
            // ends, so the rest of the line is neither located nor read.
            // (From the value's first byte: whitespace before it would shift the columns that
            // errors name.)
            Repr::Located(located) => {
                let data = located
                    .data_on()
                    .trim_start_matches([' ', '\t', '\n', '\r']);
                T::deserialize(&mut serde_json::Deserializer::from_str(data))
            }
        };
        read.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// The JSON text of the member `key` of `data`, when `data` is an object that has one.
    ///
    /// Only `data`'s own members are looked at: a key of the same name inside a nested value,
    /// or the envelope's `id`, is never taken for it. The walk stops at the first member named
    /// `key`: should `data` repeat a key (JSON advises against it, and serde_json never writes
    /// one from a map), this is the first member, where a `serde_json::Value` keeps the last.
    /// Nothing is built or allocated (unless the line writes the key with escapes); the text
    /// was validated when the line was read.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::EventRef;
    /// let line = br#"{"type":"a","data":{"tags":{"id":1},"id":7},"ts":1,"id":"e1"}"#;
    /// let event = EventRef::parse(line)?;
    /// assert_eq!(event.data_field("tags"), Some(r#"{"id":1}"#));
    /// assert_eq!(event.data_field("id"), Some("7"));
    /// assert_eq!(event.data_field("nope"), None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn data_field(&self, key: &str) -> Option<&'a str> {
        match &self.repr {
            Repr::Parsed(env) => field::get(env.data, key),
            // The walk stops at the end of `data`'s object: what follows it is not read.
            Repr::Located(located) => field::get(located.data_on(), key),
        }
    }

    /// The member `key` of `data` as a `u64`, when it is a number that is one (as
    /// `serde_json::Value::as_u64` reads it). See [`data_field`](Self::data_field) for which
    /// member counts.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::EventRef;
    /// let event = EventRef::parse(br#"{"type":"a","data":{"id":7,"x":-1},"ts":1}"#)?;
    /// assert_eq!(event.data_u64("id"), Some(7));
    /// assert_eq!(event.data_u64("x"), None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn data_u64(&self, key: &str) -> Option<u64> {
        self.data_field(key).and_then(field::as_u64)
    }

    /// The member `key` of `data` as an `i64` (as `serde_json::Value::as_i64` reads it).
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::EventRef;
    /// let event = EventRef::parse(br#"{"type":"a","data":{"x":-1},"ts":1}"#)?;
    /// assert_eq!(event.data_i64("x"), Some(-1));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn data_i64(&self, key: &str) -> Option<i64> {
        self.data_field(key).and_then(field::as_i64)
    }

    /// The member `key` of `data` as an `f64`, when it is a number (as
    /// `serde_json::Value::as_f64` reads it).
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::EventRef;
    /// let event = EventRef::parse(br#"{"type":"a","data":{"price":2.5},"ts":1}"#)?;
    /// assert_eq!(event.data_f64("price"), Some(2.5));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn data_f64(&self, key: &str) -> Option<f64> {
        self.data_field(key).and_then(field::as_f64)
    }

    /// The member `key` of `data` as a `bool`, when it is one.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::EventRef;
    /// let event = EventRef::parse(br#"{"type":"a","data":{"done":true},"ts":1}"#)?;
    /// assert_eq!(event.data_bool("done"), Some(true));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn data_bool(&self, key: &str) -> Option<bool> {
        self.data_field(key).and_then(field::as_bool)
    }

    /// The member `key` of `data` as a string, when it is one: borrowed from the line unless it
    /// holds escapes.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::EventRef;
    /// let event = EventRef::parse(br#"{"type":"a","data":{"title":"milk","n":1},"ts":1}"#)?;
    /// assert_eq!(event.data_str("title").as_deref(), Some("milk"));
    /// assert_eq!(event.data_str("n"), None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn data_str(&self, key: &str) -> Option<Cow<'a, str>> {
        self.data_field(key).and_then(field::string)
    }

    /// Builds the owned [`Event`] this line holds.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::EventRef;
    /// let event = EventRef::parse(br#"{"type":"a","data":{"x":1},"ts":9,"id":"e1"}"#)?;
    /// let owned = event.to_event();
    /// assert_eq!(owned.event_type, "a");
    /// assert_eq!(owned.id.as_deref(), Some("e1"));
    /// assert_eq!(owned.data["x"], 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn to_event(&self) -> Event {
        let env = self.env();
        Event {
            event_type: env.event_type.clone().into_owned(),
            data: raw_to_json(env.data),
            ts: env.ts,
            id: env.id.clone().map(Cow::into_owned),
            actor: env.actor.clone().map(Cow::into_owned),
            meta: env.meta.map(raw_to_json),
        }
    }
}

// The raw values were validated when the line was parsed, so building values from them cannot
// fail; the fallbacks below are never taken for text that passed.
fn raw_to_value(raw: &str) -> simd_json::BorrowedValue<'_> {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_str(raw);
    BorrowedSeed
        .deserialize(&mut de)
        .unwrap_or(simd_json::BorrowedValue::Static(StaticNode::Null))
}

fn raw_to_json(raw: &str) -> Value {
    parse::build_value(raw)
}

use simd_json::StaticNode;
use simd_json::borrowed::{Object, Value as Borrowed};

/// Builds a simd-json [`Borrowed`] value from a serde deserializer, borrowing strings and keys
/// from the input where they hold no escapes and owning them where they do. (simd-json's own
/// `Deserialize` impl cannot take an escaped key from serde_json.)
struct BorrowedSeed;

impl<'de> serde::de::DeserializeSeed<'de> for BorrowedSeed {
    type Value = Borrowed<'de>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Borrowed<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for BorrowedSeed {
    type Value = Borrowed<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Borrowed<'de>, E> {
        Ok(Borrowed::Static(StaticNode::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Borrowed<'de>, E> {
        Ok(Borrowed::Static(StaticNode::I64(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Borrowed<'de>, E> {
        Ok(Borrowed::Static(StaticNode::U64(v)))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Borrowed<'de>, E> {
        Ok(Borrowed::Static(StaticNode::from(v)))
    }

    fn visit_unit<E>(self) -> Result<Borrowed<'de>, E> {
        Ok(Borrowed::Static(StaticNode::Null))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Borrowed<'de>, E> {
        Ok(Borrowed::String(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Borrowed<'de>, E> {
        Ok(Borrowed::String(Cow::Owned(v.to_string())))
    }

    fn visit_string<E>(self, v: String) -> Result<Borrowed<'de>, E> {
        Ok(Borrowed::String(Cow::Owned(v)))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> Result<Borrowed<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(BorrowedSeed)? {
            items.push(item);
        }
        Ok(Borrowed::Array(Box::new(items)))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> Result<Borrowed<'de>, A::Error> {
        let mut object =
            Object::with_capacity_and_hasher(map.size_hint().unwrap_or(0), Default::default());
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let value = map.next_value_seed(BorrowedSeed)?;
            object.insert(key, value);
        }
        Ok(Borrowed::Object(Box::new(object)))
    }
}

/// A key borrowed from the input when it holds no escapes.
struct KeySeed;

impl<'de> serde::de::DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use simd_json::prelude::*;

    #[test]
    fn data_borrows_plain_keys_and_strings_and_owns_escaped_ones() {
        let line = br#"{"type":"a","data":{"plain":"text","esc\"aped":"x\ny","n":[1,-2,2.5,null,true]},"ts":1}"#;
        let event = EventRef::parse(line).unwrap();
        let data = event.data();
        let object = data.as_object().expect("an object");
        let (plain_key, plain) = object.iter().find(|(k, _)| k.as_ref() == "plain").unwrap();
        assert!(matches!(plain_key, Cow::Borrowed(_)));
        assert!(matches!(plain, Borrowed::String(Cow::Borrowed("text"))));
        assert_eq!(data.get("esc\"aped").and_then(|v| v.as_str()), Some("x\ny"));
        let n = data.get("n").and_then(|v| v.as_array()).unwrap();
        assert_eq!(n[0].as_u64(), Some(1));
        assert_eq!(n[1].as_i64(), Some(-2));
        assert_eq!(n[2].as_f64(), Some(2.5));
        assert!(n[3].is_null());
        assert_eq!(n[4].as_bool(), Some(true));
        // The same payload through serde_json agrees.
        assert_eq!(event.to_event().data["esc\"aped"], "x\ny");
    }

    /// Lines with escapes outside their type are located like any other; each part reads as
    /// the parser reads it, `id` and `actor` decoded where they hold escapes.
    #[test]
    fn trusted_lines_with_escapes_are_located_and_read_as_parsed() {
        let lines: [&str; 6] = [
            r#"{"type":"a","data":{"t":"tab\there \"q\""},"ts":3,"id":"e1","actor":"u"}"#,
            r#"{"type":"a","data":"x\\","ts":4,"id":"e\"7","actor":"A\u00e9"}"#,
            r#"{"type":"a","data":{"id":"\\"},"ts":5,"id":"plain","meta":{"k":"v\n"}}"#,
            // Another key order: read by the parser, `id` decoded.
            r#"{"type":"a","data":{"k":"\\"},"id":"x\/y","ts":6}"#,
            r#"{"type":"a","data":[],"ts":7,"actor":"\t"}"#,
            r#"{"type":"a","data":{},"ts":8}"#,
        ];
        for line in lines {
            let trusted = EventRef::parse_trusted(line).unwrap();
            assert!(
                matches!(trusted.repr, Repr::Located(_)),
                "{line} was not located"
            );
            let full = EventRef::parse_line(line.as_bytes()).unwrap();
            assert_eq!(trusted.event_type(), full.event_type(), "{line}");
            assert_eq!(trusted.ts(), full.ts(), "{line}");
            for _ in 0..2 {
                assert_eq!(trusted.id(), full.id(), "{line}");
                assert_eq!(trusted.actor(), full.actor(), "{line}");
            }
            assert_eq!(trusted.data_raw(), full.data_raw(), "{line}");
            assert_eq!(trusted.meta_raw(), full.meta_raw(), "{line}");
            assert_eq!(trusted.to_event(), full.to_event(), "{line}");
            assert_eq!(trusted.clone().id(), full.id(), "{line}");
        }
        let decoded = EventRef::parse_trusted(lines[1]).unwrap();
        assert_eq!(decoded.id(), Some("e\"7"));
        assert_eq!(decoded.actor(), Some("Aé"));
    }
}
