//! The relay: follow the log, publish each event in order, await acknowledgements in a bounded
//! window, and record how far the server has acknowledged.

use crate::headers::{self, Origin};
use crate::notice::{self, Connected, Notice, Report};
use crate::{Config, Error, ResumePoint};
use async_nats::jetstream::context::{
    ContextBuilder, PublishError, PublishErrorKind, RequestErrorKind,
};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::publish::PublishAck;
use async_nats::jetstream::stream::{self, LastRawMessageErrorKind, StorageType};
use async_nats::jetstream::{self, Context};
use eventfold::{Event, EventReader, HistoryEvent, Position, Since, SubscriptionItem};
use futures_util::future::{FusedFuture, FutureExt};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::future::{Future, IntoFuture};
use std::io;
use std::path::Path;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Publishing again from the stream's end after this many refusals in a row (publishes the
/// server answered with an error), with nothing acknowledged in between, gives up.
const MAX_REFUSALS: u32 = 3;

/// What a run of the relay did. `eventfold relay --json` prints it as one JSON line.
///
/// # Examples
///
/// ```
/// let stats = eventfold_relay::Stats::default();
/// assert_eq!((stats.published, stats.duplicates, stats.last), (0, 0, None));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Stats {
    /// Events the server stored: one per stored event, or with
    /// [`upcasting`](Config::upcasting) one per event the upcasters made.
    pub published: u64,
    /// Events the server already held and dropped as duplicates (their `Nats-Msg-Id` was in
    /// the duplicate window).
    pub duplicates: u64,
    /// Stored events the upcasters of [`upcasting`](Config::upcasting) dropped (turned into no
    /// event), for which nothing was published.
    pub dropped: u64,
    /// The position the run went on after: the stream's last event, or the resume file's
    /// when the stream holds none; `None` when it began at the start of the history.
    pub resumed_after: Option<Position>,
    /// The last event acknowledged, as recorded in the resume file.
    pub last: Option<ResumePoint>,
    /// How many times an acknowledgement failed and the relay went on from the stream's end.
    pub resyncs: u64,
}

/// Publishes the events of `config.data_dir` to the JetStream stream `config.stream`, in
/// order, each exactly once, until `shutdown` resolves (or, with
/// [`until_caught_up`](Config::until_caught_up), until the history is published).
///
/// It creates the stream if needed, then goes on after the stream's last event (or after the
/// resume file's, if the stream holds none) and follows the log as it grows, across rotations.
/// Each event is published with the headers `Nats-Msg-Id` (its position), `Eventfold-Position`,
/// `Eventfold-Index` and `Nats-Expected-Last-Sequence`; its payload is the event as JSON, as in
/// `app.jsonl`. These are the stored events, unless the configuration has
/// [upcasters](Config::upcasting): then what they make of each (the parts of a split event with
/// their own message ids). At most [`max_in_flight`](Config::max_in_flight) publishes await their
/// acknowledgement at once. The resume file is rewritten every
/// [`record_interval`](Config::record_interval) while acknowledgements come, and when the run
/// ends. On shutdown it stops reading the log, waits for the acknowledgements outstanding,
/// records the last, and returns.
///
/// If the connection to the server is lost, or the server stops answering (an acknowledgement
/// or a request for the stream's state times out), it pauses, drops what is outstanding, and
/// once the server answers again goes on from the stream's end: nothing is lost, and the
/// message ids and expected sequences keep anything from being stored twice or out of order.
/// The client reconnects with a delay that grows from nothing to 5 seconds, and keeps trying
/// until [`give_up_after`](Config::give_up_after) (by default for ever); a shutdown request
/// during the outage stops the run at once. If the server refuses publishes (it answers with
/// an error) three times in a row with nothing acknowledged between, it gives up.
///
/// [`run_reporting`] does the same and reports the outage as it happens.
///
/// # Errors
///
/// [`Error::Connect`] if the server cannot be reached, refuses the credentials or fails the TLS
/// handshake (at once, before anything is published or recorded); [`Error::Config`] if a
/// setting cannot work or a file of [`Config::auth`] cannot be read; [`Error::Stream`] if the
/// stream cannot be created or read, has other subjects, or ends with an event that is not
/// this log's; [`Error::StreamBehind`] if it ends before the resume file's event;
/// [`Error::Publish`] after repeated refused publishes; [`Error::Unreachable`] when the server
/// stayed unreachable for `give_up_after`; [`Error::Log`] if the log cannot be read;
/// [`Error::Upcast`] if an upcaster fails on an event; [`Error::ResumeFile`] if the resume
/// file cannot be read or written.
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> Result<(), eventfold_relay::Error> {
/// let mut config = eventfold_relay::Config::new("./data", "nats://127.0.0.1:4222", "TODOS");
/// config.until_caught_up = true; // publish what is there, then return
/// let stats = eventfold_relay::run(&config, std::future::pending()).await?;
/// println!("{} published, last {:?}", stats.published, stats.last);
/// # Ok(())
/// # }
/// ```
pub async fn run(config: &Config, shutdown: impl Future<Output = ()>) -> Result<Stats, Error> {
    run_reporting(config, shutdown, |_| {}).await
}

/// [`run`], calling `report` with each [`Notice`] as it happens: the connection lost, each
/// failed attempt to reach the server again with the delay before the next, the connection
/// back, a server that does not answer. `report` is called from the client's tasks as well as
/// the run's: keep it short (`eventfold relay` prints one line on stderr).
///
/// # Errors
///
/// As [`run`].
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> Result<(), eventfold_relay::Error> {
/// let config = eventfold_relay::Config::new("./data", "nats://127.0.0.1:4222", "TODOS");
/// let stop = async { tokio::signal::ctrl_c().await.ok(); };
/// eventfold_relay::run_reporting(&config, stop, |notice| eprintln!("{notice}")).await?;
/// # Ok(())
/// # }
/// ```
pub async fn run_reporting(
    config: &Config,
    shutdown: impl Future<Output = ()>,
    report: impl Fn(&Notice) + Send + Sync + 'static,
) -> Result<Stats, Error> {
    if config.max_in_flight == 0 {
        return Err(Error::Config("max_in_flight must be at least 1".into()));
    }
    if inside(&config.resume_file, &config.data_dir) {
        return Err(Error::Config(format!(
            "the resume file {} lies inside the log directory {}, which the relay never writes to",
            config.resume_file.display(),
            config.data_dir.display()
        )));
    }
    let report: Report = Arc::new(report);
    let options = crate::auth::options(&config.auth).await?;
    let (options, mut connected) = notice::watched(options, &config.server, report.clone());
    let client = crate::auth::connect_with(options, &config.server).await?;
    let js = ContextBuilder::new()
        .timeout(config.ack_timeout)
        // Room for acknowledgements still owed to publishes dropped by a resync.
        .max_ack_inflight(config.max_in_flight * 2)
        .build(client);
    let stream = ensure_stream(&js, config).await?;
    let recorded = ResumePoint::load(&config.resume_file)?;
    if let Some(recorded) = &recorded
        && recorded.stream != config.stream
    {
        return Err(Error::Config(format!(
            "the resume file {} belongs to the stream {}, not {}",
            config.resume_file.display(),
            recorded.stream,
            config.stream
        )));
    }

    let mut stats = Stats::default();
    let mut shutdown = pin!(shutdown.fuse());
    let mut refusals = 0;
    let mut outage = Outage::default();
    let mut first = true;
    loop {
        let known = stats.last.as_ref().or(recorded.as_ref());
        let stop = match start_point(&stream, config, known).await {
            Err(stop) => stop,
            Ok(start) => {
                if first {
                    stats.resumed_after = start.after.as_ref().map(|p| p.position);
                    // What the stream holds was acknowledged, if by an earlier run that stopped
                    // before it could record it: the resume file catches up even when nothing
                    // is left to send.
                    stats.last = start.after.clone();
                    first = false;
                }
                let published_before = stats.published + stats.duplicates;
                let session = Session {
                    js: &js,
                    config,
                    start: &start,
                    connected: &mut connected,
                    outage: &mut outage,
                };
                match publish(session, &mut stats, shutdown.as_mut()).await {
                    Ok(()) => break,
                    Err(stop) => {
                        if stats.published + stats.duplicates > published_before {
                            refusals = 0;
                        }
                        stats.resyncs += 1;
                        stop
                    }
                }
            }
        };
        let reason = match stop {
            Stop::Fatal(e) => {
                // What was acknowledged stays so; the error matters more than a failed record.
                if let Some(last) = &stats.last {
                    let _ = save(last.clone(), config).await;
                }
                return Err(e);
            }
            Stop::Unacknowledged { position, source } if !transient(&source) => {
                refusals += 1;
                if refusals >= MAX_REFUSALS {
                    return Err(Error::Publish { position, source });
                }
                continue;
            }
            Stop::Unacknowledged { source, .. } => source.to_string(),
            Stop::NoAnswer(reason) => reason,
            Stop::Disconnected => "the connection was lost".to_string(),
        };
        let since = *outage.since.get_or_insert_with(Instant::now);
        let deadline = config.give_up_after.map(|after| since + after);
        let wait = if *connected.borrow() {
            outage.attempts += 1;
            let retry_in = notice::backoff(outage.attempts);
            report(&Notice::NoAnswer {
                server: config.server.clone(),
                reason: reason.clone(),
                attempt: outage.attempts,
                retry_in,
            });
            Wait::Delay(retry_in)
        } else {
            // The client reconnects, with its own delays and notices.
            Wait::Connected
        };
        match pause(wait, &mut connected, shutdown.as_mut(), deadline).await {
            Paused::Ready => {}
            Paused::Shutdown => break,
            Paused::GaveUp => {
                if let Some(last) = &stats.last {
                    save(last.clone(), config).await?;
                }
                return Err(Error::Unreachable {
                    server: config.server.clone(),
                    after: since.elapsed(),
                    reason,
                });
            }
        }
    }
    if let Some(last) = &stats.last {
        save(last.clone(), config).await?;
    }
    Ok(stats)
}

/// Since when the server has not answered, and how many tries to go on failed since.
#[derive(Default)]
struct Outage {
    since: Option<Instant>,
    attempts: u32,
}

impl Outage {
    /// The server answered: an acknowledgement came, or there was nothing to publish.
    fn over(&mut self) {
        *self = Outage::default();
    }
}

/// What to wait for before going on after a failure.
enum Wait {
    Delay(Duration),
    Connected,
}

/// How a wait ended.
enum Paused {
    Ready,
    Shutdown,
    GaveUp,
}

/// Waits as `wait` says, unless shutdown is asked or the deadline comes first.
async fn pause<F: FusedFuture<Output = ()>>(
    wait: Wait,
    connected: &mut Connected,
    mut shutdown: Pin<&mut F>,
    deadline: Option<Instant>,
) -> Paused {
    if shutdown.is_terminated() {
        return Paused::Shutdown;
    }
    let ready = async {
        match wait {
            Wait::Delay(delay) => tokio::time::sleep(delay).await,
            Wait::Connected => until(connected, true).await,
        }
    };
    let give_up = async {
        match deadline {
            Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        biased;
        () = &mut shutdown => Paused::Shutdown,
        () = give_up => Paused::GaveUp,
        () = ready => Paused::Ready,
    }
}

/// Resolves once the connection's state is `up` (never, if the client is gone).
async fn until(connected: &mut Connected, up: bool) {
    if connected.wait_for(|state| *state == up).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Whether a failed publish says that the server did not answer (rather than that it refused).
fn transient(error: &PublishError) -> bool {
    matches!(
        error.kind(),
        PublishErrorKind::TimedOut | PublishErrorKind::BrokenPipe
    )
}

/// Where to go on from: the last event the stream holds, and the stream's last sequence.
struct Start {
    after: Option<ResumePoint>,
    last_sequence: u64,
}

/// Why a publishing session stopped before it was asked to.
enum Stop {
    /// An acknowledgement failed: go on from the stream's end.
    Unacknowledged {
        position: Position,
        source: PublishError,
    },
    /// The connection was lost: go on from the stream's end once it is back.
    Disconnected,
    /// A request for the stream's state went unanswered: ask again.
    NoAnswer(String),
    /// Anything else.
    Fatal(Error),
}

/// Gets the stream, creating it if missing, and checks that it has our subject alone.
async fn ensure_stream(js: &Context, config: &Config) -> Result<stream::Stream, Error> {
    let fail = |message: String| Error::Stream {
        stream: config.stream.clone(),
        message,
    };
    let mut stream = js
        .get_or_create_stream(stream::Config {
            name: config.stream.clone(),
            subjects: vec![config.subject.clone()],
            storage: StorageType::File,
            duplicate_window: config.duplicate_window,
            ..Default::default()
        })
        .await
        .map_err(|e| fail(format!("cannot create or find it: {e}")))?;
    let info = stream
        .info()
        .await
        .map_err(|e| fail(format!("cannot read its state: {e}")))?;
    if info.config.subjects != [config.subject.clone()] {
        return Err(fail(format!(
            "it has the subjects {:?}; the relay needs a stream of its own with the single \
             subject {:?}",
            info.config.subjects, config.subject
        )));
    }
    Ok(stream)
}

/// Reads the stream's end: its last sequence and its last event, checked against the log and
/// the resume file.
async fn start_point(
    stream: &stream::Stream,
    config: &Config,
    recorded: Option<&ResumePoint>,
) -> Result<Start, Stop> {
    let fail = |message: String| {
        Stop::Fatal(Error::Stream {
            stream: config.stream.clone(),
            message,
        })
    };
    let info = stream.get_info().await.map_err(|e| match e.kind() {
        RequestErrorKind::TimedOut | RequestErrorKind::NoResponders | RequestErrorKind::Other => {
            Stop::NoAnswer(format!("cannot read the stream's state: {e}"))
        }
        RequestErrorKind::InvalidSubject => fail(format!("cannot read its state: {e}")),
    })?;
    let last_sequence = info.state.last_sequence;
    let tail = match stream
        .get_last_raw_message_by_subject(&config.subject)
        .await
    {
        Ok(message) => {
            let origin = headers::read(Some(&message.headers)).ok_or_else(|| {
                fail(format!(
                    "its last message (sequence {}) has no {} and {} headers: it was not \
                     published by the relay",
                    message.sequence,
                    headers::POSITION,
                    headers::INDEX
                ))
            })?;
            Some(origin.acknowledged(&config.stream, message.sequence))
        }
        Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => None,
        Err(e) if e.kind() == LastRawMessageErrorKind::Other => {
            let reason = format!("cannot read the stream's last message: {e}");
            return Err(Stop::NoAnswer(reason));
        }
        Err(e) => return Err(fail(format!("cannot read its last message: {e}"))),
    };
    let behind = match (&tail, recorded) {
        (Some(tail), Some(recorded)) => {
            (tail.position, tail.part) < (recorded.position, recorded.part)
        }
        // Empty: its messages aged out (the sequence goes on), or it was recreated.
        (None, Some(recorded)) => last_sequence < recorded.sequence,
        (_, None) => false,
    };
    if let (true, Some(recorded)) = (behind, recorded) {
        return Err(Stop::Fatal(Error::StreamBehind {
            stream: config.stream.clone(),
            last_sequence,
            recorded: recorded.clone(),
        }));
    }
    let after = tail.or_else(|| recorded.cloned());
    if let Some(after) = &after {
        check_in_log(config, after).map_err(Stop::Fatal)?;
    }
    Ok(Start {
        after,
        last_sequence,
    })
}

/// Checks that the log holds the event `point` names, so that going on after it is going on
/// in this log, not another.
fn check_in_log(config: &Config, point: &ResumePoint) -> Result<(), Error> {
    let reader = EventReader::new(&config.data_dir);
    let found = reader
        .read_history(point.position)
        .map_err(Error::Log)?
        .next()
        .transpose()
        .map_err(Error::Log)?;
    match found {
        Some(event) if event.position == point.position && event.index == point.index => Ok(()),
        _ => Err(Error::Stream {
            stream: config.stream.clone(),
            message: format!(
                "its last event (position {}, index {}) is not an event of the log in {}: the \
                 stream was filled from another log, or the log was replaced",
                point.position,
                point.index,
                config.data_dir.display()
            ),
        }),
    }
}

/// An event to publish: a stored event, or one the upcasters made of it.
struct Outgoing {
    event: Event,
    origin: Origin,
}

/// A publish awaiting its acknowledgement.
struct InFlight {
    origin: Origin,
    ack: Pin<Box<dyn Future<Output = Result<PublishAck, PublishError>> + Send>>,
}

/// What one publishing session works with.
struct Session<'a> {
    js: &'a Context,
    config: &'a Config,
    start: &'a Start,
    connected: &'a mut Connected,
    outage: &'a mut Outage,
}

/// One publishing session: from `start`, until shutdown, the end of the history (with
/// `until_caught_up`), a failed acknowledgement, or a lost connection.
async fn publish<F: FusedFuture<Output = ()>>(
    session: Session<'_>,
    stats: &mut Stats,
    mut shutdown: Pin<&mut F>,
) -> Result<(), Stop> {
    let Session {
        js,
        config,
        start,
        connected,
        outage,
    } = session;
    let since = start
        .after
        .as_ref()
        .map_or(Since::Start, |p| Since::After(p.position));
    let mut events = EventReader::new(&config.data_dir)
        .subscribe(since)
        .map_err(|e| Stop::Fatal(Error::Log(e)))?
        .into_stream();
    let mut expected = start.last_sequence;
    let mut in_flight: VecDeque<InFlight> = VecDeque::with_capacity(config.max_in_flight);
    // The events of one stored event still to publish: the parts of a split event wait here
    // for room in the window. The log is read again only once they are all sent.
    let mut pending = match &start.after {
        Some(after) => rest_of_split(config, after).map_err(Stop::Fatal)?,
        None => VecDeque::new(),
    };
    let mut reading = !shutdown.is_terminated();
    // An event the upcasters failed on: the session ends with it once the events before it
    // are acknowledged.
    let mut failed = None;
    let mut recorded_at = Instant::now();
    let mut unrecorded = false;
    loop {
        while in_flight.len() < config.max_in_flight
            && let Some(next) = pending.pop_front()
        {
            let ack = send(js, config, &next, expected).await?;
            expected += 1;
            in_flight.push_back(InFlight {
                origin: next.origin,
                ack: ack.into_future(),
            });
        }
        // A split event is finished even on shutdown: its parts are published together.
        if !reading && in_flight.is_empty() && pending.is_empty() {
            return failed.map_or(Ok(()), |e| Err(Stop::Fatal(e)));
        }
        tokio::select! {
            biased;
            () = &mut shutdown, if !shutdown.is_terminated() => reading = false,
            // What is outstanding may never be answered: go on from the stream's end once the
            // connection is back.
            () = until(connected, false) => return Err(Stop::Disconnected),
            ack = front_ack(&mut in_flight) => {
                let sent = in_flight.pop_front().expect("an acknowledgement came for it");
                let ack = ack.map_err(|source| Stop::Unacknowledged {
                    position: sent.origin.position,
                    source,
                })?;
                outage.over();
                if ack.duplicate {
                    stats.duplicates += 1;
                } else {
                    stats.published += 1;
                }
                stats.last = Some(sent.origin.acknowledged(&config.stream, ack.sequence));
                unrecorded = true;
            }
            item = events.next(),
                if reading && pending.is_empty() && in_flight.len() < config.max_in_flight =>
            {
                match item {
                    Some(Ok(SubscriptionItem::Event(event))) => match outgoing(config, event) {
                        Ok(events) => {
                            pending = events;
                            if pending.is_empty() {
                                stats.dropped += 1;
                            }
                        }
                        Err(e) => {
                            failed = Some(e);
                            reading = false;
                        }
                    },
                    Some(Ok(SubscriptionItem::CaughtUp(_))) => {
                        if in_flight.is_empty() {
                            outage.over();
                        }
                        if config.until_caught_up {
                            reading = false;
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(Stop::Fatal(Error::Log(e))),
                    None => {
                        let e = io::Error::other("the log's subscription ended");
                        return Err(Stop::Fatal(Error::Log(e)));
                    }
                }
            }
        }
        if unrecorded && recorded_at.elapsed() >= config.record_interval {
            let last = stats.last.clone().expect("an event was acknowledged");
            save(last, config).await.map_err(Stop::Fatal)?;
            recorded_at = Instant::now();
            unrecorded = false;
        }
    }
}

/// The oldest publish's acknowledgement; never ready when none is outstanding.
async fn front_ack(in_flight: &mut VecDeque<InFlight>) -> Result<PublishAck, PublishError> {
    match in_flight.front_mut() {
        Some(sent) => (&mut sent.ack).await,
        None => std::future::pending().await,
    }
}

/// What to publish for a stored event: the event itself, or what the configuration's
/// upcasters make of it (nothing if they drop it).
fn outgoing(config: &Config, stored: HistoryEvent) -> Result<VecDeque<Outgoing>, Error> {
    let HistoryEvent {
        event,
        position,
        index,
        ..
    } = stored;
    let upcasters = config.upcasters();
    let events = if upcasters.is_empty() {
        vec![event]
    } else {
        upcasters
            .upcast(event)
            .map_err(|e| upcast_error(config, position, index, e))?
    };
    let parts = events.len() as u64;
    Ok((0..)
        .zip(events)
        .map(|(part, event)| Outgoing {
            event,
            origin: Origin {
                position,
                index,
                part,
                parts,
            },
        })
        .collect())
}

/// The parts of a split event still to publish after `after`, the last one the stream holds:
/// the stored event is read and upcast again (upcasting is deterministic), and the parts
/// after `after`'s are kept. None when `after` is a whole event or the last part.
fn rest_of_split(config: &Config, after: &ResumePoint) -> Result<VecDeque<Outgoing>, Error> {
    if after.part + 1 >= after.parts {
        return Ok(VecDeque::new());
    }
    let stored = EventReader::new(&config.data_dir)
        .read_history(after.position)
        .map_err(Error::Log)?
        .next()
        .transpose()
        .map_err(Error::Log)?;
    // `start_point` checked that the log holds it.
    let Some(stored) = stored.filter(|e| e.position == after.position) else {
        return Ok(VecDeque::new());
    };
    let mut rest = outgoing(config, stored)?;
    let done = usize::try_from(after.part + 1).unwrap_or(usize::MAX);
    rest.drain(..done.min(rest.len()));
    Ok(rest)
}

/// The error of an upcaster that failed on the stored event at `position`. The library names
/// the event's file, byte offset and line when an upcasting reader meets it, so the event is
/// read again that way; `fallback` (the error without the place) if that read does not fail
/// the same way.
fn upcast_error(config: &Config, position: Position, index: u64, fallback: io::Error) -> Error {
    let since = match position.offset().checked_sub(1) {
        Some(before) => Since::After(Position::new(before)),
        None => Since::Start,
    };
    let located = EventReader::new(&config.data_dir)
        .upcasting(config.upcasters().clone())
        .subscribe(since)
        .and_then(|mut subscription| subscription.next().transpose());
    let source = match located {
        Err(e)
            if matches!(
                eventfold::Error::from_io(&e),
                Some(eventfold::Error::Upcast { .. })
            ) =>
        {
            e
        }
        _ => fallback,
    };
    Error::Upcast {
        position,
        index,
        source,
    }
}

/// Publishes one event, expecting the stream's last sequence to be `expected`.
async fn send(
    js: &Context,
    config: &Config,
    outgoing: &Outgoing,
    expected: u64,
) -> Result<jetstream::context::PublishAckFuture, Stop> {
    let Outgoing { event, origin } = outgoing;
    let payload =
        serde_json::to_vec(event).map_err(|e| Stop::Fatal(Error::Log(io::Error::other(e))))?;
    let mut message = PublishMessage::build()
        .payload(payload.into())
        .message_id(origin.message_id())
        .header(headers::POSITION, origin.position.to_string().as_str())
        .header(headers::INDEX, origin.index.to_string().as_str())
        .expected_last_sequence(expected);
    if origin.parts > 1 {
        message = message
            .header(headers::PART, origin.part.to_string().as_str())
            .header(headers::PARTS, origin.parts.to_string().as_str());
    }
    js.send_publish(config.subject.clone(), message)
        .await
        .map_err(|source| Stop::Unacknowledged {
            position: origin.position,
            source,
        })
}

/// Records `last` in the resume file, on a blocking thread.
async fn save(last: ResumePoint, config: &Config) -> Result<(), Error> {
    let path = config.resume_file.clone();
    tokio::task::spawn_blocking(move || last.save(&path))
        .await
        .map_err(|e| Error::ResumeFile {
            path: config.resume_file.clone(),
            source: io::Error::other(e),
        })?
}

/// Whether `file` would be written inside `dir` (both resolved, so `./x/../data/f` counts).
fn inside(file: &Path, dir: &Path) -> bool {
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match (std::fs::canonicalize(parent), std::fs::canonicalize(dir)) {
        (Ok(parent), Ok(dir)) => parent.starts_with(dir),
        _ => false,
    }
}
