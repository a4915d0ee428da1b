//! What the relay reads, where it publishes, and where it keeps its place.

use crate::Auth;
use eventfold::Upcasters;
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Everything [`run`](crate::run) needs: the log directory, the NATS server, the stream.
///
/// [`Config::new`] fills in the rest with defaults; every field is public to change, and
/// [`Config::upcasting`] makes the relay publish events in their current shape.
///
/// # Examples
///
/// ```
/// use eventfold_relay::Config;
/// use std::path::Path;
/// let config = Config::new("/srv/todos/data", "nats://127.0.0.1:4222", "TODOS");
/// assert_eq!(config.subject, "eventfold.TODOS");
/// assert_eq!(config.resume_file, Path::new("/srv/todos/data.relay-TODOS.json"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The eventfold log directory (the one holding `app.jsonl`). The relay only reads it; the
    /// writer may be running.
    pub data_dir: PathBuf,
    /// The NATS server, such as `nats://127.0.0.1:4222` (`tls://` to require TLS).
    pub server: String,
    /// Credentials and TLS for the server. Default: none (a bare connection).
    pub auth: Auth,
    /// The JetStream stream. The relay creates it (file storage, [`subject`](Self::subject) as
    /// its only subject) when it does not exist; an existing stream must have exactly that one
    /// subject, since the relay checks the stream's sequence before each publish.
    pub stream: String,
    /// The subject every event is published on. Default `eventfold.STREAM`.
    pub subject: String,
    /// Where the relay records the position of the last event the server acknowledged. Default:
    /// beside the data directory, `DATA.relay-STREAM.json` (see [`Config::default_resume_file`]).
    pub resume_file: PathBuf,
    /// The most publishes awaiting their acknowledgement at once. Default 1024.
    pub max_in_flight: usize,
    /// The duplicate window of a stream the relay creates: how long the server remembers a
    /// message id to drop a re-send. Default two minutes (the server's own default).
    pub duplicate_window: Duration,
    /// How long to wait for an acknowledgement before publishing again from the stream's end.
    /// Default 10 seconds.
    pub ack_timeout: Duration,
    /// How often the resume file is rewritten while events are acknowledged. Default 200 ms.
    pub record_interval: Duration,
    /// Stop once the history present at the start is published and acknowledged, instead of
    /// following the log. Default `false`.
    pub until_caught_up: bool,
    /// How long the server may stay unreachable (the connection lost, or requests and
    /// acknowledgements unanswered) before the run fails with
    /// [`Error::Unreachable`](crate::Error::Unreachable). Default `None`: keep trying for ever,
    /// as a relay under a supervisor should.
    pub give_up_after: Option<Duration>,
    /// What the relay publishes: stored events when empty (the default), or what these
    /// upcasters make of them. Set with [`Config::upcasting`].
    upcasters: Shared,
}

/// The upcasters of a configuration. Two configurations are equal when neither has any, or
/// when they hold the same upcasters (one is a clone of the other): upcasters are functions,
/// and functions cannot be compared.
#[derive(Clone, Default)]
struct Shared(Arc<Upcasters>);

impl PartialEq for Shared {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || (self.0.is_empty() && other.0.is_empty())
    }
}

impl Eq for Shared {}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Config {
    /// A configuration with the defaults of every other field.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut config = eventfold_relay::Config::new("data", "nats://127.0.0.1:4222", "EVENTS");
    /// config.max_in_flight = 256;
    /// assert_eq!(config.stream, "EVENTS");
    /// ```
    pub fn new(
        data_dir: impl Into<PathBuf>,
        server: impl Into<String>,
        stream: impl Into<String>,
    ) -> Config {
        let data_dir = data_dir.into();
        let stream = stream.into();
        Config {
            resume_file: Config::default_resume_file(&data_dir, &stream),
            subject: format!("eventfold.{stream}"),
            data_dir,
            server: server.into(),
            auth: Auth::default(),
            stream,
            max_in_flight: 1024,
            duplicate_window: Duration::from_secs(120),
            ack_timeout: Duration::from_secs(10),
            record_interval: Duration::from_millis(200),
            until_caught_up: false,
            give_up_after: None,
            upcasters: Shared::default(),
        }
    }

    /// This configuration, made to publish what `upcasters` make of each stored event instead
    /// of the event as it is stored: the events in their current shape, as the log's views
    /// fold them. By default (and with no upcaster) the relay publishes stored events.
    ///
    /// - A stored event upcast to one event is published as that event, with the same message
    ///   id and headers as a stored one.
    /// - A stored event upcast to none (dropped) is not published. The relay goes on after
    ///   the last event it published, so dropped events at the end of the log are upcast
    ///   again, and dropped again, when it starts.
    /// - A stored event split into several is published as one message per part, in order.
    ///   Part 0 has the position as its `Nats-Msg-Id`, as a whole event; part `k` after it
    ///   has `POSITION/k` (`5120/1`, `5120/2`). The parts carry the headers
    ///   `Eventfold-Part` (`k`, from 0) and `Eventfold-Parts` (how many), beside
    ///   `Eventfold-Position` and `Eventfold-Index`, which are the stored event's. A relay
    ///   that stops between two parts goes on with the next part of the same event.
    /// - An upcaster that fails stops the relay with [`Error::Upcast`](crate::Error::Upcast),
    ///   which names the event; nothing after it is published.
    ///
    /// Upcasting is deterministic, so a relay that starts again makes the same events of the
    /// same stored events. Keep the upcasters while a stream is being filled: a stream is
    /// meant to hold one shape of events, and a split event half published when the upcasters
    /// changed is finished with the parts the new ones make.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::{Upcaster, Upcasters};
    /// use eventfold_relay::Config;
    /// let upcasters = Upcasters::new().with(Upcaster::rename("todo_created", "todo_added"));
    /// let config = Config::new("data", "nats://127.0.0.1:4222", "TODOS").upcasting(upcasters);
    /// assert!(!config.upcasters().is_empty());
    /// assert!(Config::new("data", "nats://127.0.0.1:4222", "TODOS").upcasters().is_empty());
    /// ```
    #[must_use]
    pub fn upcasting(mut self, upcasters: Upcasters) -> Config {
        self.upcasters = Shared(Arc::new(upcasters));
        self
    }

    /// The upcasters the relay applies (see [`upcasting`](Self::upcasting)); empty by default.
    pub fn upcasters(&self) -> &Upcasters {
        &self.upcasters.0
    }

    /// The default resume file for a data directory and a stream: a sibling of the directory,
    /// named after it, `DATA.relay-STREAM.json`. It is outside the directory, which belongs to
    /// the log's writer. A directory without a name of its own (`.`, `..`) is made absolute
    /// first.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold_relay::Config;
    /// use std::path::Path;
    /// assert_eq!(Config::default_resume_file("data/", "S"), Path::new("data.relay-S.json"));
    /// let here = std::env::current_dir()?;
    /// let name = format!("{}.relay-S.json", here.file_name().unwrap().to_string_lossy());
    /// assert_eq!(Config::default_resume_file(".", "S"), here.with_file_name(name));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn default_resume_file(data_dir: impl AsRef<Path>, stream: &str) -> PathBuf {
        let dir = data_dir.as_ref();
        let dir = match dir.file_name() {
            Some(_) => dir.to_path_buf(),
            None => normalized(&std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())),
        };
        match dir.file_name() {
            Some(name) => {
                dir.with_file_name(format!("{}.relay-{stream}.json", name.to_string_lossy()))
            }
            // The root directory has nothing beside it.
            None => dir.join(format!("relay-{stream}.json")),
        }
    }
}

/// `path` without `.` and `..` components (lexically, as `..` of an absolute path means).
fn normalized(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}
