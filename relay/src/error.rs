//! What can stop the relay, or a read of its stream, each with what to do about it.

use crate::ResumePoint;
use async_nats::ConnectErrorKind;
use eventfold::Position;
use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why [`run`](crate::run) or [`fold_stream`](crate::fold_stream) stopped.
///
/// # Examples
///
/// ```
/// use eventfold_relay::Error;
/// let e = Error::Config("max_in_flight must be at least 1".into());
/// assert_eq!(e.to_string(), "bad relay configuration: max_in_flight must be at least 1");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A setting that cannot work.
    Config(String),
    /// The NATS server could not be reached, refused the credentials, or failed the TLS
    /// handshake ([`source`](async_nats::ConnectError::kind) says which). The client tries
    /// once: nothing was published.
    Connect {
        /// The server as configured.
        server: String,
        /// What the client said.
        source: async_nats::ConnectError,
    },
    /// The JetStream stream could not be created, inspected or read, or is not one the relay
    /// can publish to.
    Stream {
        /// The stream's name.
        stream: String,
        /// What went wrong, as a sentence.
        message: String,
    },
    /// The stream ends before the event the resume file records as acknowledged: it was
    /// purged or recreated since. Publishing would leave a gap, so the relay stops.
    StreamBehind {
        /// The stream's name.
        stream: String,
        /// The stream's last sequence.
        last_sequence: u64,
        /// What the resume file records.
        recorded: ResumePoint,
    },
    /// The server refused publishes, again and again, with nothing acknowledged between.
    Publish {
        /// The position of the event that was not acknowledged.
        position: Position,
        /// What the client said.
        source: async_nats::jetstream::context::PublishError,
    },
    /// The server stayed unreachable for [`Config::give_up_after`](crate::Config::give_up_after).
    Unreachable {
        /// The server as configured.
        server: String,
        /// How long it was unreachable.
        after: std::time::Duration,
        /// What went wrong last.
        reason: String,
    },
    /// The log could not be read (a malformed line, a damaged archive frame, a missing
    /// directory).
    Log(io::Error),
    /// An upcaster of [`Config::upcasting`](crate::Config::upcasting) returned an error or
    /// panicked on an event of the log. The relay published the events before it and nothing
    /// after; it stops at the same event every time it starts, until the upcaster is fixed.
    Upcast {
        /// The event's position in the log's history.
        position: Position,
        /// How many events come before it.
        index: u64,
        /// What failed. It carries an [`eventfold::Error::Upcast`] (recover it with
        /// [`eventfold::Error::from_io`]) that names the file, byte offset and line of the
        /// event, the upcaster's event type and its error.
        source: io::Error,
    },
    /// The resume file could not be read or written.
    ResumeFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(why) => write!(f, "bad relay configuration: {why}"),
            Error::Connect { server, source } => match source.kind() {
                ConnectErrorKind::AuthorizationViolation | ConnectErrorKind::Authentication => {
                    write!(
                        f,
                        "authorization failed at the NATS server {server}: {source}; check the \
                         credentials (credentials file, nkey, user and password, or token)"
                    )
                }
                _ if tls_failed(source) => write!(
                    f,
                    "TLS handshake with the NATS server {server} failed: {source}; check the \
                     CA that signed its certificate, and the client certificate if it asks \
                     for one"
                ),
                _ => write!(f, "cannot connect to the NATS server {server}: {source}"),
            },
            Error::Stream { stream, message } => {
                write!(f, "JetStream stream {stream}: {message}")
            }
            Error::StreamBehind {
                stream,
                last_sequence,
                recorded,
            } => write!(
                f,
                "the stream {stream} ends at sequence {last_sequence}, before the event at \
                 position {} (sequence {}) that the resume file records as acknowledged: it was \
                 purged or recreated; delete the resume file to publish again from the \
                 stream's end",
                recorded.position, recorded.sequence
            ),
            Error::Publish { position, source } => write!(
                f,
                "the event at position {position} was not acknowledged by the server: {source}"
            ),
            Error::Unreachable {
                server,
                after,
                reason,
            } => write!(
                f,
                "gave up after the NATS server {server} was unreachable for {} ({reason})",
                crate::notice::shown(*after)
            ),
            Error::Log(e) => write!(f, "cannot read the event log: {e}"),
            Error::Upcast {
                position,
                index,
                source,
            } => write!(
                f,
                "cannot publish the event at position {position} (index {index}): {source}; \
                 nothing after it was published"
            ),
            Error::ResumeFile { path, source } => {
                write!(f, "resume file {}: {source}", path.display())
            }
        }
    }
}

/// Whether a connection failed in its TLS handshake: the client says so for its own TLS setup,
/// but a certificate refused by either side reaches it as an I/O error wrapping the TLS
/// library's.
fn tls_failed(error: &async_nats::ConnectError) -> bool {
    use async_nats::rustls;
    if error.kind() == ConnectErrorKind::Tls {
        return true;
    }
    let mut next = std::error::Error::source(error);
    while let Some(cause) = next {
        let wrapped = cause
            .downcast_ref::<io::Error>()
            .and_then(io::Error::get_ref)
            .is_some_and(|inner| inner.is::<rustls::Error>());
        if wrapped || cause.is::<rustls::Error>() {
            return true;
        }
        next = cause.source();
    }
    false
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Connect { source, .. } => Some(source),
            Error::Publish { source, .. } => Some(source),
            Error::Log(source)
            | Error::Upcast { source, .. }
            | Error::ResumeFile { source, .. } => Some(source),
            Error::Config(_)
            | Error::Stream { .. }
            | Error::StreamBehind { .. }
            | Error::Unreachable { .. } => None,
        }
    }
}
