//! The relay: follow the log, publish each event in order, await acknowledgements in a bounded
//! window, and record how far the server has acknowledged.

use crate::{Config, Error, ResumePoint, headers};
use async_nats::jetstream::context::{ContextBuilder, PublishError};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::publish::PublishAck;
use async_nats::jetstream::stream::{self, LastRawMessageErrorKind, StorageType};
use async_nats::jetstream::{self, Context};
use eventfold::{EventReader, HistoryEvent, Position, Since, SubscriptionItem};
use futures_util::future::{FusedFuture, FutureExt};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::future::{Future, IntoFuture};
use std::path::Path;
use std::pin::{Pin, pin};
use std::time::Instant;

/// Publishing again from the stream's end after this many failures in a row, with nothing
/// acknowledged in between, gives up.
const MAX_FAILURES: u32 = 3;

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
    /// Events the server stored.
    pub published: u64,
    /// Events the server already held and dropped as duplicates (their `Nats-Msg-Id` was in
    /// the duplicate window).
    pub duplicates: u64,
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
/// `app.jsonl`. At most [`max_in_flight`](Config::max_in_flight) publishes await their
/// acknowledgement at once. The resume file is rewritten every
/// [`record_interval`](Config::record_interval) while acknowledgements come, and when the run
/// ends. On shutdown it stops reading the log, waits for the acknowledgements outstanding,
/// records the last, and returns.
///
/// If acknowledgements fail (a timeout, a lost connection, a publish refused because another
/// was lost before it), it drops what is outstanding and goes on from the stream's end; after
/// three failures in a row with nothing acknowledged between, it gives up.
///
/// # Errors
///
/// [`Error::Connect`] if the server cannot be reached, refuses the credentials or fails the TLS
/// handshake (at once, before anything is published or recorded); [`Error::Config`] if a
/// setting cannot work or a file of [`Config::auth`] cannot be read; [`Error::Stream`] if the
/// stream cannot be created or read, has other subjects, or ends with an event that is not
/// this log's; [`Error::StreamBehind`] if it ends before the resume file's event;
/// [`Error::Publish`] after repeated failed acknowledgements; [`Error::Log`] if the log cannot
/// be read; [`Error::ResumeFile`] if the resume file cannot be read or written.
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
    let client = crate::auth::connect(&config.server, &config.auth).await?;
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
    let mut failures = 0;
    let mut first = true;
    loop {
        let start = start_point(&stream, config, stats.last.as_ref().or(recorded.as_ref())).await?;
        if first {
            stats.resumed_after = start.after.as_ref().map(|p| p.position);
            // What the stream holds was acknowledged, if by an earlier run that stopped before
            // it could record it: the resume file catches up even when nothing is left to send.
            stats.last = start.after.clone();
            first = false;
        }
        let published_before = stats.published + stats.duplicates;
        match publish(&js, config, &start, &mut stats, shutdown.as_mut()).await {
            Ok(()) => break,
            Err(Stop::Fatal(e)) => return Err(e),
            Err(Stop::Unacknowledged { position, source }) => {
                if stats.published + stats.duplicates > published_before {
                    failures = 0;
                }
                failures += 1;
                if failures >= MAX_FAILURES {
                    return Err(Error::Publish { position, source });
                }
                stats.resyncs += 1;
            }
        }
    }
    if let Some(last) = &stats.last {
        save(last.clone(), config).await?;
    }
    Ok(stats)
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
) -> Result<Start, Error> {
    let fail = |message: String| Error::Stream {
        stream: config.stream.clone(),
        message,
    };
    let info = stream
        .get_info()
        .await
        .map_err(|e| fail(format!("cannot read its state: {e}")))?;
    let last_sequence = info.state.last_sequence;
    let tail = match stream
        .get_last_raw_message_by_subject(&config.subject)
        .await
    {
        Ok(message) => {
            let (position, index) = headers::read(Some(&message.headers)).ok_or_else(|| {
                fail(format!(
                    "its last message (sequence {}) has no {} and {} headers: it was not \
                     published by the relay",
                    message.sequence,
                    headers::POSITION,
                    headers::INDEX
                ))
            })?;
            Some(ResumePoint {
                stream: config.stream.clone(),
                position,
                index,
                sequence: message.sequence,
            })
        }
        Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => None,
        Err(e) => return Err(fail(format!("cannot read its last message: {e}"))),
    };
    let behind = match (&tail, recorded) {
        (Some(tail), Some(recorded)) => tail.position < recorded.position,
        // Empty: its messages aged out (the sequence goes on), or it was recreated.
        (None, Some(recorded)) => last_sequence < recorded.sequence,
        (_, None) => false,
    };
    if let (true, Some(recorded)) = (behind, recorded) {
        return Err(Error::StreamBehind {
            stream: config.stream.clone(),
            last_sequence,
            recorded: recorded.clone(),
        });
    }
    let after = tail.or_else(|| recorded.cloned());
    if let Some(after) = &after {
        check_in_log(config, after)?;
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

/// A publish awaiting its acknowledgement.
struct InFlight {
    position: Position,
    index: u64,
    ack: Pin<Box<dyn Future<Output = Result<PublishAck, PublishError>> + Send>>,
}

/// One publishing session: from `start`, until shutdown, the end of the history (with
/// `until_caught_up`), or a failed acknowledgement.
async fn publish<F: FusedFuture<Output = ()>>(
    js: &Context,
    config: &Config,
    start: &Start,
    stats: &mut Stats,
    mut shutdown: Pin<&mut F>,
) -> Result<(), Stop> {
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
    let mut reading = !shutdown.is_terminated();
    let mut recorded_at = Instant::now();
    let mut unrecorded = false;
    loop {
        if !reading && in_flight.is_empty() {
            return Ok(());
        }
        tokio::select! {
            biased;
            () = &mut shutdown, if !shutdown.is_terminated() => reading = false,
            ack = front_ack(&mut in_flight) => {
                let sent = in_flight.pop_front().expect("an acknowledgement came for it");
                let ack = ack.map_err(|source| Stop::Unacknowledged {
                    position: sent.position,
                    source,
                })?;
                if ack.duplicate {
                    stats.duplicates += 1;
                } else {
                    stats.published += 1;
                }
                stats.last = Some(ResumePoint {
                    stream: config.stream.clone(),
                    position: sent.position,
                    index: sent.index,
                    sequence: ack.sequence,
                });
                unrecorded = true;
            }
            item = events.next(), if reading && in_flight.len() < config.max_in_flight => {
                match item {
                    Some(Ok(SubscriptionItem::Event(event))) => {
                        let ack = send(js, config, &event, expected).await?;
                        expected += 1;
                        in_flight.push_back(InFlight {
                            position: event.position,
                            index: event.index,
                            ack: ack.into_future(),
                        });
                    }
                    Some(Ok(SubscriptionItem::CaughtUp(_))) => {
                        if config.until_caught_up {
                            reading = false;
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(Stop::Fatal(Error::Log(e))),
                    None => {
                        let e = std::io::Error::other("the log's subscription ended");
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

/// Publishes one event, expecting the stream's last sequence to be `expected`.
async fn send(
    js: &Context,
    config: &Config,
    event: &HistoryEvent,
    expected: u64,
) -> Result<jetstream::context::PublishAckFuture, Stop> {
    let payload = serde_json::to_vec(&event.event)
        .map_err(|e| Stop::Fatal(Error::Log(std::io::Error::other(e))))?;
    let message = PublishMessage::build()
        .payload(payload.into())
        .message_id(event.position.to_string())
        .header(headers::POSITION, event.position.to_string().as_str())
        .header(headers::INDEX, event.index.to_string().as_str())
        .expected_last_sequence(expected);
    js.send_publish(config.subject.clone(), message)
        .await
        .map_err(|source| Stop::Unacknowledged {
            position: event.position,
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
            source: std::io::Error::other(e),
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
