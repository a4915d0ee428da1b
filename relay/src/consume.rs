//! Reading a relayed stream back: every event with its position, folded in stream order.

use crate::{Auth, Error, auth, headers};
use async_nats::jetstream::{self, consumer};
use eventfold::{Event, Position};
use futures_util::StreamExt;

/// An event read back from a relayed stream.
///
/// # Examples
///
/// ```
/// use eventfold::{Event, Position};
/// use eventfold_relay::RelayedEvent;
/// let relayed = RelayedEvent {
///     event: Event::new("todo_added", serde_json::json!({"text": "milk"})),
///     position: Position::new(0),
///     index: 0,
///     sequence: 1,
///     part: 0,
///     parts: 1,
/// };
/// assert_eq!(relayed.event.event_type, "todo_added");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RelayedEvent {
    /// The event as the relay published it: as appended to the log, or, for a relay given
    /// upcasters ([`Config::upcasting`](crate::Config::upcasting)), as they made it.
    pub event: Event,
    /// Its position in the log's history (`Eventfold-Position`, also its `Nats-Msg-Id`): the
    /// stored event's, shared by all the parts of a split one.
    pub position: Position,
    /// How many events come before it in the log (`Eventfold-Index`), counting stored events.
    pub index: u64,
    /// Its sequence number in the stream.
    pub sequence: u64,
    /// Which of the events the relay's upcasters made of the stored event this is, from 0
    /// (`Eventfold-Part`); 0 for a whole event.
    pub part: u64,
    /// How many events the relay's upcasters made of the stored event (`Eventfold-Parts`); 1
    /// for a whole event.
    pub parts: u64,
}

/// Reads the JetStream stream `stream` on `server` from its first message to the last one it
/// holds when called, folding each event into `state` with `f`, in stream order (the log's
/// order); returns the final state.
///
/// This is how another process folds a relayed log: pass a closure that applies the same
/// reducer as the local view, `|state, relayed| reducer(state, &relayed.event)`, and the
/// result is the state the view would have. It reads through an ordered consumer, which the
/// server removes when the read ends; the stream is not changed.
///
/// It folds the events as the relay published them: as stored, unless the relay was given
/// upcasters ([`Config::upcasting`](crate::Config::upcasting)), and then as they made them.
/// To fold a stream of stored events in their current shape, as a view with upcasters does,
/// pass each event through [`Upcasters::upcast`](eventfold::Upcasters::upcast) in `f` and
/// reduce what it returns.
///
/// # Errors
///
/// [`Error::Connect`] if the server cannot be reached; [`Error::Stream`] if the stream cannot
/// be read or holds a message that is not a relayed event.
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> Result<(), eventfold_relay::Error> {
/// let count = eventfold_relay::fold_stream("nats://127.0.0.1:4222", "TODOS", 0u64, |n, _| n + 1).await?;
/// println!("the stream holds {count} events");
/// # Ok(())
/// # }
/// ```
pub async fn fold_stream<S>(
    server: &str,
    stream: &str,
    state: S,
    f: impl FnMut(S, RelayedEvent) -> S,
) -> Result<S, Error> {
    fold_stream_with_auth(server, &Auth::default(), stream, state, f).await
}

/// [`fold_stream`] from a secured server: with credentials, TLS, or both (see [`Auth`]).
///
/// # Errors
///
/// [`Error::Connect`] if the server cannot be reached, refuses the credentials or fails the TLS
/// handshake (at once, not retried); [`Error::Config`] if a file of `auth` cannot be read or a
/// credential is half given; [`Error::Stream`] as for [`fold_stream`].
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> Result<(), eventfold_relay::Error> {
/// use eventfold_relay::{Auth, Secret};
/// let mut auth = Auth::default();
/// auth.token = Some(Secret::new(std::env::var("EVENTFOLD_NATS_TOKEN").unwrap_or_default()));
/// auth.tls_ca = Some("/etc/nats/ca.pem".into());
/// let server = "tls://nats.internal:4222";
/// let count = eventfold_relay::fold_stream_with_auth(server, &auth, "TODOS", 0u64, |n, _| n + 1)
///     .await?;
/// println!("the stream holds {count} events");
/// # Ok(())
/// # }
/// ```
pub async fn fold_stream_with_auth<S>(
    server: &str,
    auth: &Auth,
    stream: &str,
    mut state: S,
    mut f: impl FnMut(S, RelayedEvent) -> S,
) -> Result<S, Error> {
    let fail = |message: String| Error::Stream {
        stream: stream.to_string(),
        message,
    };
    let client = auth::connect(server, auth).await?;
    let js = jetstream::new(client);
    let mut handle = js
        .get_stream(stream)
        .await
        .map_err(|e| fail(format!("cannot find it: {e}")))?;
    let info = handle
        .info()
        .await
        .map_err(|e| fail(format!("cannot read its state: {e}")))?;
    let (last, messages) = (info.state.last_sequence, info.state.messages);
    if messages == 0 {
        return Ok(state);
    }
    let reader = handle
        .create_consumer(consumer::pull::OrderedConfig {
            deliver_policy: consumer::DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .map_err(|e| fail(format!("cannot create a consumer: {e}")))?;
    let mut messages = reader
        .messages()
        .await
        .map_err(|e| fail(format!("cannot read its messages: {e}")))?;
    while let Some(message) = messages.next().await {
        let message = message.map_err(|e| fail(format!("cannot read its messages: {e}")))?;
        let sequence = message
            .info()
            .map_err(|e| fail(format!("a message without its stream sequence: {e}")))?
            .stream_sequence;
        let origin = headers::read(message.headers.as_ref()).ok_or_else(|| {
            fail(format!(
                "the message at sequence {sequence} has no {} and {} headers: it was not \
                 published by the relay",
                headers::POSITION,
                headers::INDEX
            ))
        })?;
        let event: Event = serde_json::from_slice(&message.payload).map_err(|e| {
            fail(format!(
                "the message at sequence {sequence} does not hold an event: {e}"
            ))
        })?;
        state = f(
            state,
            RelayedEvent {
                event,
                position: origin.position,
                index: origin.index,
                sequence,
                part: origin.part,
                parts: origin.parts,
            },
        );
        if sequence >= last {
            break;
        }
    }
    Ok(state)
}
