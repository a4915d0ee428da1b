//! Upcasting: old events turned into their current shape as they are read.
//!
//! An [`Upcaster`] is registered for a stored event type (and, optionally, a schema version
//! read from the event's `meta`), and turns each event it matches into zero, one or several
//! events: renamed, reshaped, split or dropped. [`Upcasters`] holds them; the folds that give
//! events meaning (views, one-pass refreshes, time travel, subscriptions) hand each reducer
//! what the upcasters make of a stored event, and the log on disk never changes.
//!
//! In the fold engine, [`Upcasting`] wraps a fold: a line is parsed as the fold parses it
//! (borrowed or owned), its type looked up in the registry, and only a line that matches is
//! materialised as an owned [`Event`] and upcast, on the thread that parses it. With no
//! upcaster registered no fold is wrapped, so that path costs nothing.

use crate::format::chunk::Index;
use crate::format::event::{Event, EventRef};
use crate::format::field;
use crate::format::fold::{Borrowed, LineFold, Owned, Ready};
use crate::format::lines::Line;
use crate::format::parse::ParseError;
use crate::format::trusted;
use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

/// The error an upcaster returns: any error, boxed.
pub type UpcastError = Box<dyn std::error::Error + Send + Sync>;

/// The function of an upcaster.
type UpcastFn = dyn Fn(Event) -> Result<Vec<Event>, UpcastError> + Send + Sync;

/// The function of an upcaster of text ([`Upcaster::reshape`]).
type ReshapeFn = dyn Fn(&EventRef<'_>) -> Result<Reshaped, UpcastError> + Send + Sync;

/// What an upcaster of [`Upcaster::reshape`] makes of an event: the parts it changes, as JSON
/// text; the others (and `ts`, `id` and `actor`, always) are kept as they were.
///
/// The text of `data` and `meta` must each be one JSON value (whitespace around it is
/// allowed); the fold checks it, and an upcaster that writes anything else fails as one that
/// returns an error does.
///
/// # Examples
///
/// ```
/// use eventfold::Reshaped;
/// let reshaped = Reshaped::new()
///     .event_type("todo_added")
///     .data(format!(r#"{{"text":{}}}"#, r#""milk""#))
///     .meta(r#"{"schema":2}"#);
/// assert_eq!(reshaped.data_text(), Some(r#"{"text":"milk"}"#));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reshaped {
    event_type: Option<Cow<'static, str>>,
    data: Option<Cow<'static, str>>,
    /// `Some(None)`: the event loses its `meta`.
    meta: Option<Option<Cow<'static, str>>>,
}

impl Reshaped {
    /// The event as it was: change parts with the methods below.
    pub fn new() -> Self {
        Self::default()
    }

    /// The event's new type.
    #[must_use]
    pub fn event_type(mut self, event_type: impl Into<Cow<'static, str>>) -> Self {
        self.event_type = Some(event_type.into());
        self
    }

    /// The event's new `data`: the text of one JSON value.
    #[must_use]
    pub fn data(mut self, json: impl Into<Cow<'static, str>>) -> Self {
        self.data = Some(json.into());
        self
    }

    /// The event's new `meta`: the text of one JSON value.
    #[must_use]
    pub fn meta(mut self, json: impl Into<Cow<'static, str>>) -> Self {
        self.meta = Some(Some(json.into()));
        self
    }

    /// The event without `meta`.
    #[must_use]
    pub fn without_meta(mut self) -> Self {
        self.meta = Some(None);
        self
    }

    /// The new type, if it changes.
    pub fn type_text(&self) -> Option<&str> {
        self.event_type.as_deref()
    }

    /// The text of the new `meta` if it changes: `Some(None)` when the event loses it.
    fn meta_text(&self) -> Option<Option<&str>> {
        self.meta.as_ref().map(Option::as_deref)
    }

    /// The text of the new `data`, if it changes.
    pub fn data_text(&self) -> Option<&str> {
        self.data.as_deref()
    }

    /// The line of `stored` with these changes, in the writer's shape, once the text of `data`
    /// and `meta` is checked; or what is wrong with it.
    fn line(&self, stored: &EventRef<'_>) -> Result<String, String> {
        let check = |part: &str, text: &str| {
            crate::format::parse::one_value(text)
                .map_err(|e| format!("its `{part}` is not one JSON value: {e}"))
        };
        let data = match &self.data {
            Some(data) => {
                check("data", data)?;
                data
            }
            None => stored.data_raw(),
        };
        let meta = match &self.meta {
            Some(Some(meta)) => {
                check("meta", meta)?;
                Some(&**meta)
            }
            Some(None) => None,
            None => stored.meta_raw(),
        };
        let event_type = self.event_type.as_deref().unwrap_or(stored.event_type());
        let mut line = String::with_capacity(stored.line().len() + data.len() + 16);
        // Strings written as serde_json writes them, and text checked above: valid JSON.
        line.push_str("{\"type\":");
        push_json_string(&mut line, event_type);
        line.push_str(",\"data\":");
        line.push_str(data);
        line.push_str(",\"ts\":");
        write!(line, "{}", stored.ts()).expect("a number is written to memory");
        if let Some(id) = stored.id() {
            line.push_str(",\"id\":");
            push_json_string(&mut line, id);
        }
        if let Some(actor) = stored.actor() {
            line.push_str(",\"actor\":");
            push_json_string(&mut line, actor);
        }
        if let Some(meta) = meta {
            line.push_str(",\"meta\":");
            line.push_str(meta);
        }
        line.push('}');
        Ok(line)
    }
}

/// Appends `text` as a JSON string, escaped as serde_json escapes it.
fn push_json_string(line: &mut String, text: &str) {
    // serde_json escapes quotes, backslashes and control characters, and nothing else.
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        line.push('"');
        line.push_str(text);
        line.push('"');
    } else {
        line.push_str(&serde_json::to_string(text).expect("a string is written to memory"));
    }
}

/// Turns a stored event of one type into its current shape: zero, one or several events.
///
/// An upcaster matches the events of one stored type, and with
/// [`when_version`](Upcaster::when_version) only those whose `meta` holds a given schema
/// version. Register upcasters with
/// [`EventLogBuilder::upcaster`](crate::EventLogBuilder::upcaster), or gather them in
/// [`Upcasters`] for an [`EventReader`](crate::EventReader).
///
/// The events an upcaster returns are looked up again, so upcasters chain (`v1` to `v2`, then
/// `v2` to `v3`), but never among the upcasters already applied on the way from the stored
/// event: each upcaster is applied at most once to an event and to everything made from it.
/// So an upcaster may return an event it matches (one that keeps its type, say) and that
/// event is folded as it is; upcasters cannot loop.
///
/// # Examples
///
/// ```
/// use eventfold::{Event, Upcaster, Upcasters};
/// use serde_json::json;
///
/// // `todo_created` was renamed `todo_added`, and its `title` became `text`.
/// let upcasters = Upcasters::new()
///     .with(Upcaster::map("todo_created", |mut event| {
///         event.event_type = "todo_added".into();
///         event.data = json!({ "text": event.data["title"] });
///         event
///     }));
/// let old = Event::new("todo_created", json!({ "title": "milk" }));
/// let now = upcasters.upcast(old)?;
/// assert_eq!(now.len(), 1);
/// assert_eq!((now[0].event_type.as_str(), &now[0].data), ("todo_added", &json!({ "text": "milk" })));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Upcaster {
    event_type: Box<str>,
    /// Its place in the registration order of the [`Upcasters`] that hold it.
    slot: usize,
    /// The `meta` key and the version it must hold (`None`: the key holds no version).
    version: Option<(Box<str>, Option<u64>)>,
    /// For [`Upcaster::rename`]: the new type, and the same as a JSON string. A fold renames
    /// a line without building an owned event when nothing else would apply after it.
    rename: Option<(Arc<str>, Box<str>)>,
    /// For [`Upcaster::reshape`]: the function of text. A fold of [`EventRef`]s calls it on
    /// the stored line without building an owned event.
    reshape: Option<Arc<ReshapeFn>>,
    upcast: Arc<UpcastFn>,
}

impl fmt::Debug for Upcaster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upcaster")
            .field("event_type", &self.event_type)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Upcaster {
    /// An upcaster for the stored events of type `event_type`: `upcast` returns the events
    /// that replace one (none to drop it, several to split it), or an error.
    ///
    /// An error, or a panic, stops the fold at the event: the refresh returns
    /// [`Error::Upcast`](crate::Error::Upcast), which names the file, byte offset and line of
    /// the event.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::{Event, Upcaster, Upcasters};
    /// use serde_json::json;
    ///
    /// // One `order_placed` with its lines became one `order_opened` and a `line_added` each.
    /// let split = Upcaster::new("order_placed", |event: Event| {
    ///     let lines = event.data["lines"].as_array().ok_or("`lines` is not an array")?;
    ///     let mut events = vec![Event { event_type: "order_opened".into(), data: json!({}), ..event.clone() }];
    ///     for line in lines {
    ///         events.push(Event { event_type: "line_added".into(), data: line.clone(), ..event.clone() });
    ///     }
    ///     Ok::<_, &str>(events)
    /// });
    /// let upcasters = Upcasters::new().with(split);
    /// let events = upcasters.upcast(Event::new("order_placed", json!({ "lines": [1, 2] })))?;
    /// assert_eq!(events.len(), 3);
    /// assert!(upcasters.upcast(Event::new("order_placed", json!({}))).is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new<E: Into<UpcastError>>(
        event_type: &str,
        upcast: impl Fn(Event) -> Result<Vec<Event>, E> + Send + Sync + 'static,
    ) -> Self {
        Upcaster {
            event_type: event_type.into(),
            slot: 0,
            version: None,
            rename: None,
            reshape: None,
            upcast: Arc::new(move |event| upcast(event).map_err(Into::into)),
        }
    }

    /// An upcaster for the stored events of type `event_type` that reads the event as a
    /// borrowed [`EventRef`] and writes the parts it changes as JSON text ([`Reshaped`]):
    /// the fast way to reshape many events. Folds of [`EventRef`] reducers apply it without
    /// building an owned event or a [`serde_json::Value`]; elsewhere the event is written as a
    /// line first, and read back from the new line.
    ///
    /// An error, or a panic, or text that is not one JSON value, stops the fold at the event
    /// as for [`Upcaster::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::{Event, Reshaped, Upcaster, Upcasters};
    /// use serde_json::json;
    ///
    /// // `user_renamed` held `from` and `to`; now they sit under `name`, and `v` is 3.
    /// let nest = Upcaster::reshape("user_renamed", |event| {
    ///     let field = |key| event.data_field(key).unwrap_or("null");
    ///     let data = format!(
    ///         r#"{{"user":{},"name":{{"from":{},"to":{}}}}}"#,
    ///         field("user"), field("from"), field("to"),
    ///     );
    ///     Ok::<_, &str>(Reshaped::new().data(data).meta(r#"{"v":3}"#))
    /// });
    /// let old = Event::new("user_renamed", json!({ "user": 7, "from": "a", "to": "b" }));
    /// let now = Upcasters::new().with(nest).upcast(old)?;
    /// assert_eq!(now[0].data, json!({ "user": 7, "name": { "from": "a", "to": "b" } }));
    /// assert_eq!(now[0].meta, Some(json!({ "v": 3 })));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn reshape<E: Into<UpcastError>>(
        event_type: &str,
        reshape: impl Fn(&EventRef<'_>) -> Result<Reshaped, E> + Send + Sync + 'static,
    ) -> Self {
        let reshape: Arc<ReshapeFn> = Arc::new(move |event| reshape(event).map_err(Into::into));
        let on_owned = Arc::clone(&reshape);
        let mut upcaster = Self::new(event_type, move |event: Event| {
            let bad = |reason: String| BadOutput(reason);
            let line = serde_json::to_string(&event)?;
            let stored = EventRef::parse_trusted(&line).map_err(|e| bad(e.to_string()))?;
            let line = on_owned(&stored)?.line(&stored).map_err(bad)?;
            let event = crate::format::parse::event(line.as_bytes());
            let event = event.map_err(|e| bad(format!("its output does not read back: {e}")))?;
            Ok::<_, UpcastError>(vec![event])
        });
        upcaster.reshape = Some(reshape);
        upcaster
    }

    /// An upcaster that turns each event of type `event_type` into exactly one event.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::{Event, Upcaster, Upcasters};
    /// // `paid` in euros became `payment_made` in cents. (An upcaster that keeps the type
    /// // must not match its own output: see `when_version`.)
    /// let cents = Upcaster::map("paid", |mut event| {
    ///     event.event_type = "payment_made".into();
    ///     event.data = serde_json::json!({ "cents": event.data["euros"].as_u64().unwrap_or(0) * 100 });
    ///     event
    /// });
    /// let events = Upcasters::new().with(cents).upcast(Event::new("paid", serde_json::json!({ "euros": 3 })))?;
    /// assert_eq!((events[0].event_type.as_str(), &events[0].data["cents"]), ("payment_made", &300.into()));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn map(event_type: &str, map: impl Fn(Event) -> Event + Send + Sync + 'static) -> Self {
        Self::new(event_type, move |event| {
            Ok::<_, UpcastError>(vec![map(event)])
        })
    }

    /// An upcaster that renames the type `from` to `to` and changes nothing else.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::{Event, Upcaster, Upcasters};
    /// let upcasters = Upcasters::new().with(Upcaster::rename("todo_created", "todo_added"));
    /// let events = upcasters.upcast(Event::new("todo_created", serde_json::json!(1)))?;
    /// assert_eq!(events[0].event_type, "todo_added");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn rename(from: &str, to: &str) -> Self {
        let to: Arc<str> = to.into();
        let json = serde_json::to_string(&*to)
            .unwrap_or_default()
            .into_boxed_str();
        let new_type = Arc::clone(&to);
        let mut upcaster = Self::map(from, move |mut event| {
            event.event_type = new_type.to_string();
            event
        });
        upcaster.rename = Some((to, json));
        upcaster
    }

    /// An upcaster that drops every event of type `event_type`.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::{Event, Upcaster, Upcasters};
    /// let upcasters = Upcasters::new().with(Upcaster::drop("debug_ping"));
    /// assert!(upcasters.upcast(Event::new("debug_ping", serde_json::json!(null)))?.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn drop(event_type: &str) -> Self {
        Self::new(event_type, |_| Ok::<_, UpcastError>(Vec::new()))
    }

    /// This upcaster, matching only the events whose `meta` holds `version` under `key`: a
    /// non-negative integer, as in `{"meta":{"schema":2}}`. `None` matches the events whose
    /// `meta` holds no such integer under `key` (or has no `meta`): those written before the
    /// version was recorded.
    ///
    /// Upcasters of the same type are tried in the order they were registered; the first that
    /// matches is applied.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::{Event, Upcaster, Upcasters};
    /// use serde_json::json;
    /// // Version 1 (and the events before versions were recorded) stored `name`; 2 stores `title`.
    /// let to_v2 = |mut event: Event| {
    ///     event.data = json!({ "title": event.data["name"] });
    ///     event.meta = Some(json!({ "schema": 2 }));
    ///     event
    /// };
    /// let upcasters = Upcasters::new()
    ///     .with(Upcaster::map("renamed", to_v2).when_version("schema", 1))
    ///     .with(Upcaster::map("renamed", to_v2).when_version("schema", None));
    /// let v1 = Event::new("renamed", json!({ "name": "a" })).with_meta(json!({ "schema": 1 }));
    /// let v2 = Event::new("renamed", json!({ "title": "b" })).with_meta(json!({ "schema": 2 }));
    /// assert_eq!(upcasters.upcast(v1)?[0].data, json!({ "title": "a" }));
    /// assert_eq!(upcasters.upcast(v2)?[0].data, json!({ "title": "b" })); // already current
    /// assert_eq!(upcasters.upcast(Event::new("renamed", json!({ "name": "c" })))?[0].data, json!({ "title": "c" }));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[must_use]
    pub fn when_version(mut self, key: &str, version: impl Into<Option<u64>>) -> Self {
        self.version = Some((key.into(), version.into()));
        self
    }

    /// The stored event type this upcaster matches.
    pub fn event_type(&self) -> &str {
        &self.event_type
    }

    /// Whether this upcaster matches an event of its type whose `meta` reads `version` under
    /// a key.
    fn matches(&self, version: &mut impl FnMut(&str) -> Option<u64>) -> bool {
        match &self.version {
            None => true,
            Some((key, want)) => version(key) == *want,
        }
    }

    /// Applies the upcaster, catching a panic.
    fn call(&self, event: Event) -> Result<Vec<Event>, String> {
        caught(|| (self.upcast)(event))
    }

    /// Applies the upcaster of text to `stored`, catching a panic: the new line, and what the
    /// upcaster changed; `None` when this is not an upcaster of text.
    fn call_reshape(&self, stored: &EventRef<'_>) -> Option<Result<(String, Reshaped), String>> {
        let reshape = self.reshape.as_ref()?;
        let reshaped = caught(|| reshape(stored));
        Some(reshaped.and_then(|reshaped| Ok((reshaped.line(stored)?, reshaped))))
    }
}

/// What is wrong with what an upcaster of text returned, found on the way from an owned
/// event: said as the fold of a borrowed line says it.
#[derive(Debug)]
struct BadOutput(String);

impl fmt::Display for BadOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadOutput {}

/// What an upcaster's function returned, or why it failed: an error, or a panic.
fn caught<T>(call: impl FnOnce() -> Result<T, UpcastError>) -> Result<T, String> {
    match catch_unwind(AssertUnwindSafe(call)) {
        Ok(Ok(made)) => Ok(made),
        Ok(Err(e)) => match e.downcast_ref::<BadOutput>() {
            Some(BadOutput(reason)) => Err(reason.clone()),
            None => Err(format!("it returned an error: {e}")),
        },
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("a panic without a message");
            Err(format!("it panicked: {message}"))
        }
    }
}

/// The upcasters of a log: what every fold of its events applies to them.
///
/// Cheap to clone (the upcasters are shared). An empty registry changes nothing and costs
/// nothing: no fold looks at it.
///
/// Which paths upcast: the folds that give events meaning, that is views (owned and
/// [`EventRef`] reducers alike), [`EventLog::refresh_all`](crate::EventLog::refresh_all)'s
/// shared pass, [`state_at`](crate::EventLog::state_at) and subscriptions of a reader that
/// carries the upcasters ([`EventReader::upcasting`](crate::EventReader::upcasting)). The raw
/// paths hand over events as they are stored: `read_from`, `read_full`, `read_history`,
/// scans, `follow`, the `eventfold` command (`log`, `export`, `relay`) and the relay library
/// unless it is given upcasters (`eventfold_relay::Config::upcasting`). Pass their
/// events through [`upcast`](Upcasters::upcast) for the current shape.
///
/// An upcast event keeps the place of the line it came from: its offset, line hash and
/// position are the stored line's, shared by all the events a split makes, and time travel
/// by time reads the stored `ts`. A view counts stored events (its
/// [`RefreshReport`](crate::RefreshReport), its snapshot policy, `At::Event`), not the
/// events the upcasters make.
///
/// Changing the upcasters changes what views fold: raise the views' version
/// ([`ViewConfig::version`](crate::ViewConfig::version)) so that their snapshots are rebuilt.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{Event, EventLog, EventRef, Upcaster};
/// use serde_json::json;
///
/// fn texts(mut texts: Vec<String>, event: &EventRef<'_>) -> Vec<String> {
///     if event.event_type() == "todo_added" {
///         texts.extend(event.data_str("text").map(String::from));
///     }
///     texts
/// }
/// // An old version of the program wrote `todo_created` with a `title`.
/// let mut log = EventLog::open(dir.path())?;
/// log.append(&Event::new("todo_created", json!({ "title": "milk" })))?;
/// log.append(&Event::new("todo_added", json!({ "text": "bread" })))?;
/// drop(log);
///
/// let mut log = EventLog::builder(dir.path())
///     .upcaster(Upcaster::map("todo_created", |mut event| {
///         event.event_type = "todo_added".into();
///         event.data = json!({ "text": event.data["title"] });
///         event
///     }))
///     .view_ref::<Vec<String>>("texts", texts)
///     .open()?;
/// log.refresh_all()?;
/// assert_eq!(*log.view::<Vec<String>>("texts")?, ["milk", "bread"]);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct Upcasters {
    /// The upcasters of each stored type, in the order they were registered.
    by_type: Arc<Vec<(Box<str>, Vec<Upcaster>)>>,
    /// Bit `n % 64` is set when some type registered is `n` bytes long: most lines of a log
    /// are told apart by their type's length alone.
    lengths: u64,
    /// How many upcasters are registered.
    count: usize,
}

impl fmt::Debug for Upcasters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Upcasters {
    /// No upcaster.
    pub fn new() -> Self {
        Self::default()
    }

    /// These upcasters and `upcaster`, tried after those of its type registered before.
    #[must_use]
    pub fn with(mut self, upcaster: Upcaster) -> Self {
        self.add(upcaster);
        self
    }

    /// Adds `upcaster`, tried after those of its type registered before.
    pub fn add(&mut self, mut upcaster: Upcaster) {
        self.lengths |= 1 << (upcaster.event_type.len() % 64);
        upcaster.slot = self.count;
        self.count += 1;
        let by_type = Arc::make_mut(&mut self.by_type);
        match by_type
            .iter_mut()
            .find(|(event_type, _)| *event_type == upcaster.event_type)
        {
            Some((_, upcasters)) => upcasters.push(upcaster),
            None => by_type.push((upcaster.event_type.clone(), vec![upcaster])),
        }
    }

    /// The upcasters, by stored type in the order each type was first registered, and in
    /// registration order within a type.
    pub fn iter(&self) -> impl Iterator<Item = &Upcaster> {
        self.by_type.iter().flat_map(|(_, upcasters)| upcasters)
    }

    /// Whether no upcaster is registered.
    pub fn is_empty(&self) -> bool {
        self.by_type.is_empty()
    }

    /// What the upcasters make of one stored event: the event itself (in a vector of one)
    /// when none matches it.
    ///
    /// This is what the folds apply to every event; use it on the events of the raw reading
    /// paths (`read_from`, scans, `follow`), which hand over events as they are stored.
    ///
    /// # Errors
    ///
    /// An [`io::ErrorKind::InvalidData`] error when an upcaster returns an error or panics.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::{Event, Upcaster, Upcasters};
    /// let upcasters = Upcasters::new()
    ///     .with(Upcaster::rename("a", "b"))
    ///     .with(Upcaster::rename("b", "c"));
    /// assert_eq!(upcasters.upcast(Event::new("a", serde_json::json!(0)))?[0].event_type, "c");
    /// assert_eq!(upcasters.upcast(Event::new("x", serde_json::json!(0)))?[0].event_type, "x");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn upcast(&self, event: Event) -> io::Result<Vec<Event>> {
        self.apply(event)
            .map_err(|failure| io::Error::new(io::ErrorKind::InvalidData, failure.to_string()))
    }

    /// The upcasters registered for the stored type `event_type`, if any: a check of the
    /// type's length first, which tells most types apart without comparing them.
    #[inline]
    fn of_type(&self, event_type: &str) -> Option<&[Upcaster]> {
        if self.lengths & (1 << (event_type.len() % 64)) == 0 {
            return None;
        }
        let (_, upcasters) = self
            .by_type
            .iter()
            .find(|(t, _)| same_text(t.as_bytes(), event_type.as_bytes()))?;
        Some(upcasters)
    }

    /// The upcaster to apply to `event`, if one matches that is not in `applied` (the slots
    /// of the upcasters that made it).
    fn find_event(&self, event: &Event, applied: &[usize]) -> Option<&Upcaster> {
        let mut version = |key: &str| meta_u64(event, key);
        self.of_type(&event.event_type)?
            .iter()
            .find(|u| !applied.contains(&u.slot) && u.matches(&mut version))
    }

    /// What the upcasters make of `event`.
    pub(crate) fn apply(&self, event: Event) -> Result<Vec<Event>, UpcastFailure> {
        let mut out = Vec::new();
        self.step(event, &mut Vec::new(), &mut out)?;
        Ok(out)
    }

    /// What the upcasters make of `event`, which the upcaster in `slot` made: the rest of a
    /// chain.
    fn apply_after(&self, event: Event, slot: usize) -> Result<Vec<Event>, UpcastFailure> {
        let mut out = Vec::new();
        self.step(event, &mut vec![slot], &mut out)?;
        Ok(out)
    }

    /// Upcasts `event`, made by the upcasters in `applied` (none for a stored event), into
    /// `out`. Each upcaster is applied at most once along a chain, so chains end: at most as
    /// many steps deep as there are upcasters.
    fn step(
        &self,
        event: Event,
        applied: &mut Vec<usize>,
        out: &mut Vec<Event>,
    ) -> Result<(), UpcastFailure> {
        let Some(upcaster) = self.find_event(&event, applied) else {
            out.push(event);
            return Ok(());
        };
        // The upcaster matched, so its type is the event's: the event is not kept for the
        // error.
        let events = upcaster.call(event).map_err(|reason| UpcastFailure {
            event_type: upcaster.event_type.to_string(),
            reason,
        })?;
        applied.push(upcaster.slot);
        for event in events {
            self.step(event, applied, out)?;
        }
        applied.pop();
        Ok(())
    }
}

/// Whether `a` and `b` hold the same bytes: compared inline, by two overlapping words, when
/// they are 8 to 16 bytes long (the length of most event types), instead of by a call.
#[inline(always)]
fn same_text(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if (8..=16).contains(&n) {
        let word = |s: &[u8], at: usize| {
            u64::from_ne_bytes(s[at..at + 8].try_into().expect("eight bytes"))
        };
        return word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8);
    }
    a == b
}

/// The integer under `key` in an owned event's `meta`.
fn meta_u64(event: &Event, key: &str) -> Option<u64> {
    event.meta.as_ref()?.get(key)?.as_u64()
}

/// The integer under `key` in a borrowed event's `meta`.
fn meta_u64_ref(event: &EventRef<'_>, key: &str) -> Option<u64> {
    field::get(event.meta_raw()?, key).and_then(field::as_u64)
}

/// An upcaster's failure on a valid event: what [`crate::Error::Upcast`] reports, once the
/// fold knows where the event lies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UpcastFailure {
    /// The type of the event the failing upcaster was given.
    pub event_type: String,
    pub reason: String,
}

impl fmt::Display for UpcastFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the upcaster of event type {:?} failed: {}",
            self.event_type, self.reason
        )
    }
}

/// The line of an upcast event, as the writer would write it, for reducers of [`EventRef`]s.
pub(crate) fn line_of(event: &Event) -> Result<String, String> {
    let line = serde_json::to_string(event)
        .map_err(|e| format!("its output cannot be written as JSON: {e}"))?;
    // What serde_json writes from an `Event` is always an event line; checked all the same,
    // so that the reduce step can rely on it.
    EventRef::parse_trusted(&line).map_err(|e| format!("its output does not read back: {e}"))?;
    Ok(line)
}

/// A borrowed event of a line [`line_of`] returned.
#[inline]
pub(crate) fn event_ref_of(line: &str) -> Option<EventRef<'_>> {
    EventRef::parse_trusted(line).ok()
}

/// A fold whose items can be upcast: it says the type of what it parsed, and folds the owned
/// events an upcaster makes of it.
pub(crate) trait Upcastable<A>: LineFold<A> {
    /// What an upcast event becomes before it is reduced (built on the parsing thread).
    type Out: Send;

    /// The stored type of a parsed line.
    fn event_type<'i>(item: &'i Self::Item<'_>) -> &'i str;

    /// The integer under `key` in the `meta` of a parsed line.
    fn meta_u64(item: &Self::Item<'_>, key: &str) -> Option<u64>;

    /// The owned event of a parsed line.
    fn into_event(item: Self::Item<'_>) -> Event;

    /// Whether the parsed line surely has no `meta`, found cheaply; `false` says nothing.
    #[inline]
    fn without_meta(item: &Self::Item<'_>) -> bool {
        let _ = item;
        false
    }

    /// The parsed line, ready to have several of its parts read (its `meta`, then all of it).
    #[inline]
    fn settle<'b>(item: Self::Item<'b>) -> Self::Item<'b> {
        item
    }

    /// Prepares an upcast event for [`reduce_upcast`](Self::reduce_upcast).
    fn out(&self, event: Event) -> Result<Self::Out, String>;

    /// The parsed line renamed to `to` (`to_json` is the same as a JSON string), prepared as
    /// [`out`](Self::out) would prepare it, when the fold can do that without an owned event.
    fn renamed(&self, item: &Self::Item<'_>, to: &str, to_json: &str) -> Option<Self::Out> {
        let _ = (item, to, to_json);
        None
    }

    /// The parsed line as a borrowed event, for upcasters of text ([`Upcaster::reshape`])
    /// applied without an owned event; `None` where the fold parses into owned events.
    fn event_ref<'i, 'b>(item: &'i Self::Item<'b>) -> Option<&'i EventRef<'b>> {
        let _ = item;
        None
    }

    /// The line an upcaster of text made (see [`Upcastable::event_ref`]), prepared as
    /// [`out`](Self::out) would prepare its event.
    fn out_line(&self, line: String) -> Result<Self::Out, String>;

    /// Folds the events one stored line of `len` bytes (its newline included) was upcast to.
    fn reduce_upcast(&self, acc: A, events: &[Self::Out], len: u64) -> A;
}

impl<S> Upcastable<S> for Owned<S> {
    type Out = Event;

    #[inline]
    fn event_type(item: &Event) -> &str {
        &item.event_type
    }

    fn meta_u64(item: &Event, key: &str) -> Option<u64> {
        meta_u64(item, key)
    }

    fn into_event(item: Event) -> Event {
        item
    }

    fn out(&self, event: Event) -> Result<Event, String> {
        Ok(event)
    }

    fn out_line(&self, line: String) -> Result<Event, String> {
        crate::format::parse::event(line.as_bytes()).map_err(|e| e.to_string())
    }

    fn reduce_upcast(&self, mut acc: S, events: &[Event], _len: u64) -> S {
        for event in events {
            acc = (self.0)(acc, event);
        }
        acc
    }
}

impl<S> Upcastable<S> for Borrowed<S> {
    type Out = String;

    #[inline]
    fn event_type<'i>(item: &'i EventRef<'_>) -> &'i str {
        item.event_type()
    }

    fn meta_u64(item: &EventRef<'_>, key: &str) -> Option<u64> {
        meta_u64_ref(item, key)
    }

    fn into_event(item: EventRef<'_>) -> Event {
        item.to_event()
    }

    #[inline]
    fn without_meta(item: &EventRef<'_>) -> bool {
        item.surely_without_meta()
    }

    #[inline]
    #[allow(clippy::extra_unused_lifetimes)]
    fn settle<'b>(item: EventRef<'b>) -> EventRef<'b>
    where
        // Early-bound, as the trait's lifetime (seen only through `Self::Item`) is.
        'b: 'b,
    {
        item.settled()
    }

    fn renamed(&self, item: &EventRef<'_>, _: &str, to_json: &str) -> Option<String> {
        item.line_with_type(to_json)
    }

    #[inline]
    #[allow(clippy::extra_unused_lifetimes)]
    fn event_ref<'i, 'b>(item: &'i EventRef<'b>) -> Option<&'i EventRef<'b>>
    where
        // Early-bound, as the trait's lifetime (seen only through `Self::Item`) is.
        'b: 'b,
    {
        Some(item)
    }

    // The line was built from checked parts (see `Reshaped::line`).
    fn out_line(&self, line: String) -> Result<String, String> {
        Ok(line)
    }

    fn out(&self, event: Event) -> Result<String, String> {
        line_of(&event).map_err(|reason| {
            format!(
                "it returned an event of type {:?}: {reason}",
                event.event_type
            )
        })
    }

    fn reduce_upcast(&self, mut acc: S, lines: &[String], _len: u64) -> S {
        for line in lines {
            if let Some(event) = event_ref_of(line) {
                acc = (self.0)(acc, &event);
            }
        }
        acc
    }
}

/// A parsed line, as stored or upcast.
pub(crate) enum Upcasted<I, O> {
    /// No upcaster matched: the line as the inner fold parsed it.
    Stored(I),
    /// What the upcasters made of the line, with the line's `ts` and length (its newline
    /// included).
    Upcast { ts: u64, len: u64, events: Made<O> },
}

/// The events one stored line was upcast to: most often one, kept without a vector.
pub(crate) enum Made<O> {
    One(O),
    Many(Vec<O>),
}

impl<O> Made<O> {
    fn from_vec(events: Vec<O>) -> Self {
        match <[O; 1]>::try_from(events) {
            Ok([one]) => Made::One(one),
            Err(events) => Made::Many(events),
        }
    }

    fn as_slice(&self) -> &[O] {
        match self {
            Made::One(one) => std::slice::from_ref(one),
            Made::Many(events) => events,
        }
    }
}

impl<F> Upcasting<'_, F> {
    /// A line that a rename applies to, renamed without an owned event, when the rename is
    /// the whole chain: no other upcaster of the new type matches the line's version.
    #[inline]
    fn rename<A>(&self, item: &F::Item<'_>, upcaster: &Upcaster) -> Option<F::Out>
    where
        F: Upcastable<A>,
    {
        let mut version = |key: &str| F::meta_u64(item, key);
        let (to, to_json) = upcaster.rename.as_ref()?;
        // The renamed event keeps the stored `meta`, so it matches the same versions.
        let alone = self.upcasters.of_type(to).is_none_or(|next| {
            next.iter()
                .all(|u| u.slot == upcaster.slot || !u.matches(&mut version))
        });
        if !alone {
            return None;
        }
        self.fold.renamed(item, to, to_json)
    }
}

impl<F> Upcasting<'_, F> {
    /// What an upcaster of text makes of a borrowed line it matches, applied without an owned
    /// event; `None` when the upcaster that matches is not one of text, or the fold parses
    /// into owned events. When the new event is matched by another upcaster of the chain, it
    /// goes on through them as an owned event.
    fn reshape<A>(
        &self,
        item: &F::Item<'_>,
        upcaster: &Upcaster,
    ) -> Option<Result<Made<F::Out>, String>>
    where
        F: Upcastable<A>,
    {
        let stored = F::event_ref(item)?;
        let (line, reshaped) = match upcaster.call_reshape(stored)? {
            Ok(made) => made,
            Err(reason) => return Some(Err(reason)),
        };
        // Most often no other upcaster of the type it now has matches its version: found from
        // the parts the upcaster returned, without reading the new line.
        let new_type = reshaped.type_text().unwrap_or(stored.event_type());
        let mut version = |key: &str| match reshaped.meta_text() {
            None => meta_u64_ref(stored, key),
            Some(None) => None,
            Some(Some(meta)) => field::get(meta, key).and_then(field::as_u64),
        };
        let chained = self.upcasters.of_type(new_type).is_some_and(|next| {
            next.iter()
                .any(|u| u.slot != upcaster.slot && u.matches(&mut version))
        });
        if !chained {
            return Some(self.fold.out_line(line).map(Made::One));
        }
        let made = match EventRef::parse_trusted(&line) {
            Ok(made) => made,
            Err(e) => return Some(Err(format!("its output does not read back: {e}"))),
        };
        let event = made.to_event();
        let events = match self.upcasters.apply_after(event, upcaster.slot) {
            Ok(events) => events,
            Err(failure) => return Some(Err(failure.to_string())),
        };
        let events = events
            .into_iter()
            .map(|event| self.fold.out(event))
            .collect::<Result<Vec<_>, String>>();
        Some(events.map(Made::from_vec))
    }
}

/// `F`, with `upcasters` applied to every line before it is reduced.
pub(crate) struct Upcasting<'u, F> {
    pub fold: F,
    pub upcasters: &'u Upcasters,
}

impl<'u, F> Upcasting<'u, F> {
    /// `fold`, with `upcasters` applied.
    pub fn new(fold: F, upcasters: &'u Upcasters) -> Self {
        Upcasting { fold, upcasters }
    }

    /// Whether an upcaster is registered for the type of `line`, a line in the writer's shape
    /// whose type ends at `type_end` (see [`trusted::locate_type`]).
    #[inline(always)]
    fn upcasts_type(&self, line: &str, type_end: usize) -> bool {
        self.upcasters
            .of_type(&line[trusted::PREFIX.len()..type_end])
            .is_some()
    }

    /// The parsed line, upcast if an upcaster matches it.
    #[inline]
    fn check<'b, A>(
        &self,
        item: F::Item<'b>,
        len: usize,
    ) -> Result<Upcasted<F::Item<'b>, F::Out>, ParseError>
    where
        F: Upcastable<A>,
    {
        let Some(upcasters) = self.upcasters.of_type(F::event_type(&item)) else {
            return Ok(Upcasted::Stored(item));
        };
        // A line without `meta` holds no version; otherwise the envelope is found once, for
        // the version, the `ts` and the owned event alike.
        let (item, upcaster) = if F::without_meta(&item) {
            let Some(upcaster) = upcasters.iter().find(|u| u.matches(&mut |_| None)) else {
                return Ok(Upcasted::Stored(item));
            };
            (F::settle(item), upcaster)
        } else {
            let item = F::settle(item);
            let mut version = |key: &str| F::meta_u64(&item, key);
            let Some(upcaster) = upcasters.iter().find(|u| u.matches(&mut version)) else {
                return Ok(Upcasted::Stored(item));
            };
            (item, upcaster)
        };
        let ts = self.fold.ts(&item);
        if let Some(out) = self.rename(&item, upcaster) {
            return Ok(Upcasted::Upcast {
                ts,
                len: len as u64 + 1,
                events: Made::One(out),
            });
        }
        let stored_type = || upcasters[0].event_type.to_string();
        let failed = |reason| {
            ParseError::upcast(UpcastFailure {
                event_type: stored_type(),
                reason,
            })
        };
        if let Some(reshaped) = self.reshape(&item, upcaster) {
            let events = reshaped.map_err(failed)?;
            return Ok(Upcasted::Upcast {
                ts,
                len: len as u64 + 1,
                events,
            });
        }
        let event = F::into_event(item);
        let events = self.upcasters.apply(event).map_err(ParseError::upcast)?;
        let events = events
            .into_iter()
            .map(|event| self.fold.out(event))
            .collect::<Result<Vec<_>, String>>()
            .map_err(failed)?;
        Ok(Upcasted::Upcast {
            ts,
            len: len as u64 + 1,
            events: Made::from_vec(events),
        })
    }
}

impl<A, F: Upcastable<A>> LineFold<A> for Upcasting<'_, F> {
    type Item<'b> = Upcasted<F::Item<'b>, F::Out>;
    const OWNS_MEMORY: bool = F::OWNS_MEMORY;

    #[inline]
    fn parse<'b>(&self, line: &'b [u8]) -> Result<Self::Item<'b>, ParseError> {
        self.check(self.fold.parse(line)?, line.len())
    }

    const INDEXED: bool = F::INDEXED;

    #[inline]
    fn parse_in<'b>(
        &self,
        index: Option<&Index<'b>>,
        line: Line<'b>,
    ) -> Result<Self::Item<'b>, ParseError> {
        self.check(self.fold.parse_in(index, line)?, line.bytes.len())
    }

    const TRUSTS: bool = F::TRUSTS;

    #[inline]
    fn parse_trusted<'b>(&self, line: &'b str) -> Result<Self::Item<'b>, ParseError> {
        self.check(self.fold.parse_trusted(line)?, line.len())
    }

    #[inline]
    fn parse_located<'b>(
        &self,
        line: &'b str,
        type_end: Option<usize>,
    ) -> Result<Self::Item<'b>, ParseError> {
        self.check(self.fold.parse_located(line, type_end)?, line.len())
    }

    // A line the thread that claimed its chunk did not prepare is not upcast.
    #[inline(always)]
    fn reduce_unprepared(&self, acc: A, line: &str, type_end: usize) -> Result<A, A> {
        self.fold.reduce_located(acc, line, type_end)
    }

    #[inline(always)]
    fn reduce_located(&self, acc: A, line: &str, type_end: usize) -> Result<A, A> {
        match self.upcasts_type(line, type_end) {
            false => self.fold.reduce_located(acc, line, type_end),
            true => Err(acc),
        }
    }

    // In a parallel fold, the thread that claims a sealed chunk finds the lines an upcaster
    // matches and upcasts them; the reducing thread only locates the others, as it would
    // with no upcaster.
    const PREPARES: bool = F::TRUSTS;

    fn prepare<'b>(
        &self,
        text: &'b str,
        lines: impl Iterator<Item = (Line<'b>, Option<usize>)>,
    ) -> Vec<Ready<Self::Item<'b>>> {
        let mut prepared = Vec::new();
        for (line, type_end) in lines {
            let (at, len) = (line.start, line.bytes.len());
            // A line that is not text on its own is left to the reducing thread's `parse`.
            let Some(line) = text.get(at..at + len) else {
                continue;
            };
            // Most lines are of a type no upcaster is registered for: told apart by the type
            // alone, located with the line. (A sealed line is a valid event, so the type found
            // there is the one a parse would find.)
            if let Some(end) = type_end
                && !self.upcasts_type(line, end)
            {
                continue;
            }
            let item = self
                .fold
                .parse_located(line, type_end)
                .and_then(|item| self.check(item, len));
            let failed = item.is_err();
            if !matches!(item, Ok(Upcasted::Stored(_))) {
                prepared.push(Ready { at, len, item });
            }
            if failed {
                break;
            }
        }
        prepared
    }

    #[inline]
    fn parse_unprepared<'b>(
        &self,
        line: &'b str,
        type_end: Option<usize>,
    ) -> Result<Self::Item<'b>, ParseError> {
        self.fold
            .parse_located(line, type_end)
            .map(Upcasted::Stored)
    }

    #[inline]
    fn reduce(&self, acc: A, item: &Self::Item<'_>) -> A {
        match item {
            Upcasted::Stored(item) => self.fold.reduce(acc, item),
            Upcasted::Upcast { len, events, .. } => {
                self.fold.reduce_upcast(acc, events.as_slice(), *len)
            }
        }
    }

    #[inline]
    fn ts(&self, item: &Self::Item<'_>) -> u64 {
        match item {
            Upcasted::Stored(item) => self.fold.ts(item),
            Upcasted::Upcast { ts, .. } => *ts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::fold::{Trust, Until, fold_sequential, fold_threads};
    use serde_json::json;

    fn trace(mut state: Vec<String>, event: &EventRef<'_>) -> Vec<String> {
        state.push(format!(
            "{} {} {}",
            event.event_type(),
            event.data_raw(),
            event.ts()
        ));
        state
    }

    /// A log in the writer's shape: most lines untouched, every seventh an `old` one (every
    /// third of those with `"meta":{"v":2}`), and the line `fail_at` one the upcaster refuses.
    fn log(n: u64, fail_at: Option<u64>) -> Vec<u8> {
        let mut out = String::new();
        for i in 0..n {
            let line = match (i % 7, i % 3) {
                _ if Some(i) == fail_at => {
                    format!(r#"{{"type":"old","data":{{"n":{i},"fail":true}},"ts":{i}}}"#)
                }
                (0, 0) => format!(
                    r#"{{"type":"old","data":{{"n":{i},"s":"\u00e9\""}},"ts":{i},"id":"e\"{i}","meta":{{"v":2}}}}"#
                ),
                (0, _) => format!(r#"{{"type":"old","data":{{"n":{i}}},"ts":{i}}}"#),
                (1, _) => format!(r#"{{"type":"gone","data":null,"ts":{i}}}"#),
                _ => format!(r#"{{"type":"kept","data":{{"n":{i},"s":"a\"b"}},"ts":{i}}}"#),
            };
            out.push_str(&line);
            out.push('\n');
        }
        out.into_bytes()
    }

    fn upcasters() -> Upcasters {
        upcasters_renaming(Upcaster::rename("old", "renamed"))
    }

    fn upcasters_renaming(rename: Upcaster) -> Upcasters {
        Upcasters::new()
            .with(
                Upcaster::new("old", |mut event: Event| {
                    if event.data["fail"] == true {
                        return Err("refused");
                    }
                    event.event_type = "new".into();
                    event.data = json!({ "m": event.data["n"] });
                    Ok(vec![event.clone(), event])
                })
                .when_version("v", None),
            )
            .with(rename.when_version("v", 2))
            .with(Upcaster::drop("gone"))
    }

    /// The lines that a helper thread prepares in a parallel fold fold as the sequential fold
    /// upcasts them, and a failure stops both at the same line with the same error.
    #[test]
    fn a_parallel_fold_of_sealed_chunks_upcasts_as_the_sequential_one() {
        let upcasters = upcasters();
        let fold = Upcasting::new(Borrowed(trace), &upcasters);
        for fail_at in [None, Some(2100)] {
            let buf = log(3000, fail_at);
            let seq = fold_sequential(&buf, Vec::new(), &fold, Until::END, Trust::NONE);
            let trust = Trust {
                checked: true,
                ..Trust::NONE
            };
            for chunk in [400, 4096] {
                let (par, ()) =
                    fold_threads(&buf, Vec::new(), &fold, Until::END, trust, chunk, 2, || ());
                assert_eq!(par.acc, seq.acc, "{fail_at:?} {chunk}");
                assert_eq!(par.bad, seq.bad, "{fail_at:?} {chunk}");
                assert_eq!(par.events, seq.events);
            }
            assert_eq!(seq.bad.is_some(), fail_at.is_some());
            let lines = fail_at.unwrap_or(3000);
            let gone = (0..lines).filter(|i| i % 7 == 1).count();
            let split = (0..lines).filter(|i| i % 7 == 0 && i % 3 != 0).count();
            assert_eq!(seq.acc.len() as u64, lines - gone as u64 + split as u64);
            assert!(seq.acc.iter().any(|l| l.starts_with("renamed {\"n\":")));
            assert!(seq.acc.iter().any(|l| l.starts_with("new {\"m\":")));
            assert!(
                !seq.acc
                    .iter()
                    .any(|l| l.starts_with("old ") || l.starts_with("gone "))
            );
        }
    }

    /// A line whose type is spelled with an escape is upcast like one spelled plainly, when a
    /// helper thread prepares a sealed chunk too (most lines are passed over by their type
    /// alone, which only a plain spelling gives).
    #[test]
    fn a_type_spelled_with_an_escape_is_upcast_on_every_path() {
        let upcasters = Upcasters::new().with(Upcaster::rename("old", "renamed"));
        let fold = Upcasting::new(Borrowed(trace), &upcasters);
        let mut buf = String::new();
        for i in 0..600 {
            let line = match i % 3 {
                0 => format!(r#"{{"type":"o\u006cd","data":{{"n":{i}}},"ts":{i}}}"#),
                1 => format!(r#"{{"type":"old","data":{{"n":{i}}},"ts":{i}}}"#),
                _ => format!(r#"{{"type":"kept","data":{{"n":{i}}},"ts":{i}}}"#),
            };
            buf.push_str(&line);
            buf.push('\n');
        }
        let folded = on_every_path(buf.as_bytes(), &fold, [300, 4096]);
        assert_eq!(
            folded.iter().filter(|l| l.starts_with("renamed ")).count(),
            400
        );
        assert_eq!(
            folded.iter().filter(|l| l.starts_with("kept ")).count(),
            200
        );
    }

    /// What `fold` makes of `buf` on one thread, validated, once the same came out of the
    /// trusted path and of two threads with chunks of each size in `chunks`.
    fn on_every_path<F: LineFold<Vec<String>>>(
        buf: &[u8],
        fold: &F,
        chunks: [usize; 2],
    ) -> Vec<String> {
        let seq = fold_sequential(buf, Vec::new(), fold, Until::END, Trust::NONE);
        assert!(seq.bad.is_none(), "{:?}", seq.bad);
        let checked = Trust {
            checked: true,
            ..Trust::NONE
        };
        let trusted = fold_sequential(buf, Vec::new(), fold, Until::END, checked);
        assert_eq!(trusted.acc, seq.acc);
        for chunk in chunks {
            let (par, ()) =
                fold_threads(buf, Vec::new(), fold, Until::END, checked, chunk, 2, || ());
            assert_eq!(par.acc, seq.acc, "{chunk}");
        }
        seq.acc
    }

    /// Whether the event an upcaster of text makes goes on through another upcaster is found
    /// from its parts (the `meta` it writes, keeps or drops) without reading its line: it
    /// folds as the same events upcast through owned events do, line for line, on every
    /// path. The ids and actors need escapes, which the new line writes as serde_json does.
    #[test]
    fn an_upcaster_of_text_chains_by_the_version_it_leaves() {
        let by = |by: &'static str| {
            move |mut event: Event| {
                event.data = json!({ "by": by });
                event
            }
        };
        let upcasters = Upcasters::new()
            .with(Upcaster::reshape("set", |_: &EventRef<'_>| {
                Ok::<_, &str>(Reshaped::new().event_type("b").meta(r#" {"schema":2} "#))
            }))
            .with(Upcaster::reshape("keep", |_: &EventRef<'_>| {
                Ok::<_, &str>(Reshaped::new().event_type("b"))
            }))
            .with(Upcaster::reshape("strip", |_: &EventRef<'_>| {
                Ok::<_, &str>(Reshaped::new().event_type("b").without_meta())
            }))
            .with(Upcaster::map("b", by("v2")).when_version("schema", 2))
            .with(Upcaster::map("b", by("none")).when_version("schema", None));
        let mut buf = String::new();
        let mut stored = Vec::new();
        for i in 0..900u64 {
            let event_type = ["set", "keep", "strip"][(i % 3) as usize];
            let mut event = Event::new(event_type, json!({ "n": i }));
            event.ts = i;
            event.meta = match i % 4 {
                0 => None,
                1 => Some(json!({ "schema": 1 })),
                2 => Some(json!({ "schema": 2 })),
                _ => Some(json!({ "x": { "schema": 2 }, "schema": 3 })),
            };
            event.id = (i % 5 == 0).then(|| format!("e\"{i}\u{1}\u{7f}"));
            event.actor = (i % 2 == 0).then(|| "ü\t/".to_string());
            buf.push_str(&serde_json::to_string(&event).unwrap());
            buf.push('\n');
            stored.push(event);
        }
        fn line(mut state: Vec<String>, event: &EventRef<'_>) -> Vec<String> {
            state.push(String::from_utf8_lossy(event.line()).into_owned());
            state
        }
        let expected: Vec<String> = stored
            .iter()
            .flat_map(|event| upcasters.upcast(event.clone()).unwrap())
            .map(|event| serde_json::to_string(&event).unwrap())
            .collect();
        // The chain was taken as the versions say.
        let of = |i: usize| &expected[i];
        assert!(of(0).contains(r#""data":{"by":"v2"}"#), "{}", of(0)); // set
        assert!(of(1).contains(r#""data":{"n":1}"#), "{}", of(1)); // keep, schema 1
        assert!(of(4).contains(r#""data":{"by":"none"}"#), "{}", of(4)); // keep, no meta
        assert!(of(10).contains(r#""data":{"by":"v2"}"#), "{}", of(10)); // keep, schema 2
        assert!(of(7).contains(r#""data":{"n":7}"#), "{}", of(7)); // keep, schema 3
        assert!(of(2).contains(r#""data":{"by":"none"}"#), "{}", of(2)); // strip
        let fold = Upcasting::new(Borrowed(line), &upcasters);
        assert_eq!(on_every_path(buf.as_bytes(), &fold, [500, 4096]), expected);
    }

    /// A rename that is the whole chain renames the stored line in place (no owned event):
    /// what reducers see is what the same rename written as a `map` makes of the line, escapes
    /// and all.
    #[test]
    fn a_rename_in_place_folds_as_a_rename_through_an_owned_event() {
        let in_place = upcasters();
        let by_map = upcasters_renaming(Upcaster::map("old", |mut event| {
            event.event_type = "renamed".into();
            event
        }));
        fn full(mut state: Vec<String>, event: &EventRef<'_>) -> Vec<String> {
            let data: serde_json::Value = serde_json::from_str(event.data_raw()).unwrap();
            state.push(format!(
                "{} {data} {} {:?} {:?} {:?}",
                event.event_type(),
                event.ts(),
                event.id(),
                event.actor(),
                event.meta_raw()
            ));
            state
        }
        let buf = log(700, None);
        let fold = |upcasters| {
            let fold = Upcasting::new(Borrowed(full), upcasters);
            fold_sequential(&buf, Vec::new(), &fold, Until::END, Trust::NONE).acc
        };
        let (a, b) = (fold(&in_place), fold(&by_map));
        assert_eq!(a, b);
        // In place, the stored text of `data` is kept (`\u00e9`, which serde_json would write
        // as `é`): the line was not rebuilt from an owned event.
        let raw = fold_sequential(
            &buf,
            Vec::new(),
            &Upcasting::new(Borrowed(trace), &in_place),
            Until::END,
            Trust::NONE,
        );
        let kept = raw.acc.iter().filter(|l| l.starts_with("renamed "));
        assert!(kept.clone().count() == 34 && kept.clone().all(|l| l.contains(r"\u00e9")));
        let renamed: Vec<&String> = a.iter().filter(|l| l.starts_with("renamed ")).collect();
        assert_eq!(renamed.len(), 34);
        assert!(
            renamed[0].contains(r#"Some("e\"0")"#) && renamed[0].contains(r#""s":"é\"""#),
            "{}",
            renamed[0]
        );
    }

    /// The version is read from the envelope's `meta` however it is spelled, and never from
    /// a `meta` inside `data`, trusted or not.
    #[test]
    fn a_version_is_read_from_the_envelope_however_meta_is_spelled() {
        let upcasters = Upcasters::new()
            .with(Upcaster::rename("x", "none").when_version("v", None))
            .with(Upcaster::rename("x", "two").when_version("v", 2));
        let buf = concat!(
            r#"{"type":"x","data":{"meta":{"v":2}},"ts":1}"#,
            "\n",
            r#"{"type":"x","data":{},"ts":2,"\u006deta":{"v":2}}"#,
            "\n",
            r#"{"type":"x","data":{},"ts":3,"meta":{"v":2}}"#,
            "\n",
            r#"{"type":"x","data":{"s":"\""},"ts":4}"#,
            "\n",
        );
        let fold = Upcasting::new(Borrowed(trace), &upcasters);
        let checked = Trust {
            checked: true,
            ..Trust::NONE
        };
        for trust in [Trust::NONE, checked] {
            let done = fold_sequential(buf.as_bytes(), Vec::new(), &fold, Until::END, trust);
            assert!(done.bad.is_none(), "{:?}", done.bad);
            let types: Vec<&str> = done
                .acc
                .iter()
                .map(|l| &l[..l.find(' ').unwrap_or(0)])
                .collect();
            assert_eq!(types, ["none", "two", "two", "none"], "{}", trust.checked);
        }
    }
}
