//! What the relay says while it runs: the server lost and found again, the retries between them
//! and their delays, and the connection's state that the publishing loop waits on.

use async_nats::{ClientError, ConnectOptions, Event};
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Something [`run_reporting`](crate::run_reporting) reports as it happens, for the relay's
/// user to see (`eventfold relay` prints each on stderr). Its `Display` is one sentence.
///
/// # Examples
///
/// ```
/// use eventfold_relay::Notice;
/// let notice = Notice::Disconnected { server: "nats://127.0.0.1:4222".into() };
/// assert!(notice.to_string().starts_with("lost the connection to the NATS server"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Notice {
    /// The connection to the server was lost. Publishing pauses; the client reconnects.
    Disconnected {
        /// The server as configured.
        server: String,
    },
    /// An attempt to reconnect failed; the next comes after `retry_in`.
    Unreachable {
        /// The server as configured.
        server: String,
        /// What the client said.
        reason: String,
        /// How many attempts failed since the connection was lost.
        attempt: u32,
        /// The delay before the next attempt.
        retry_in: Duration,
    },
    /// The connection is back, after `down`; publishing goes on from the stream's end.
    Reconnected {
        /// The server as configured.
        server: String,
        /// How long the connection was down.
        down: Duration,
    },
    /// Connected, but the server did not answer (an acknowledgement, or the stream's state):
    /// the relay asks the stream's end again after `retry_in`.
    NoAnswer {
        /// The server as configured.
        server: String,
        /// What the client said.
        reason: String,
        /// How many tries failed in a row.
        attempt: u32,
        /// The delay before the next.
        retry_in: Duration,
    },
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::Disconnected { server } => write!(
                f,
                "lost the connection to the NATS server {server}: publishing pauses and goes \
                 on once it is back"
            ),
            Notice::Unreachable {
                server,
                reason,
                attempt,
                retry_in,
            } => write!(
                f,
                "the NATS server {server} is unreachable ({reason}); retrying in {} (attempt \
                 {attempt})",
                shown(*retry_in)
            ),
            Notice::Reconnected { server, down } => write!(
                f,
                "the NATS server {server} is back after {}: publishing goes on from the \
                 stream's end",
                shown(*down)
            ),
            Notice::NoAnswer {
                server,
                reason,
                attempt,
                retry_in,
            } => write!(
                f,
                "the NATS server {server} did not answer ({reason}); asking for the stream's \
                 end again in {} (attempt {attempt})",
                shown(*retry_in)
            ),
        }
    }
}

/// `350 ms`, `1.6 s`.
pub(crate) fn shown(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        format!("{} ms", duration.as_millis())
    } else {
        format!("{:.1} s", duration.as_secs_f64())
    }
}

/// The delay before the `attempt`th try (1-based): none before the first, then 100 ms doubling
/// up to 5 s.
pub(crate) fn backoff(attempt: u32) -> Duration {
    const MAX: Duration = Duration::from_secs(5);
    match attempt {
        0 | 1 => Duration::ZERO,
        n => Duration::from_millis(100)
            .checked_mul(1 << (n - 2).min(16))
            .map_or(MAX, |d| d.min(MAX)),
    }
}

/// The function a caller gives to hear of [`Notice`]s.
pub(crate) type Report = Arc<dyn Fn(&Notice) + Send + Sync>;

/// Whether the client is connected, as its events say: `true` from the start, `false` from a
/// disconnection until it is connected again.
pub(crate) type Connected = watch::Receiver<bool>;

/// `options` with the relay's reconnection delays, and events that report the outage and keep
/// the returned [`Connected`] up to date.
pub(crate) fn watched(
    options: ConnectOptions,
    server: &str,
    report: Report,
) -> (ConnectOptions, Connected) {
    let (state, connected) = watch::channel(true);
    let failed = Arc::new(AtomicU32::new(0));
    let down_since = Arc::new(Mutex::new(None::<Instant>));
    let server = server.to_string();
    let options = options
        .reconnect_delay_callback(|attempt| backoff(u32::try_from(attempt).unwrap_or(u32::MAX)))
        .event_callback(move |event| {
            let mut down_since = down_since.lock().unwrap_or_else(|e| e.into_inner());
            let server = server.clone();
            match event {
                Event::Disconnected => {
                    failed.store(0, Ordering::Relaxed);
                    *down_since = Some(Instant::now());
                    state.send_replace(false);
                    report(&Notice::Disconnected { server });
                }
                Event::Connected => {
                    state.send_replace(true);
                    if let Some(since) = down_since.take() {
                        let down = since.elapsed();
                        report(&Notice::Reconnected { server, down });
                    }
                }
                Event::ClientError(ClientError::Other(reason)) if down_since.is_some() => {
                    let attempt = failed.fetch_add(1, Ordering::Relaxed) + 1;
                    report(&Notice::Unreachable {
                        server,
                        reason,
                        attempt,
                        retry_in: backoff(attempt + 1),
                    });
                }
                _ => {}
            }
            std::future::ready(())
        });
    (options, connected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_starts_at_once_doubles_and_stops_at_five_seconds() {
        let delays: Vec<u64> = (1..=9).map(|n| backoff(n).as_millis() as u64).collect();
        assert_eq!(delays, [0, 100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        assert_eq!(backoff(u32::MAX), Duration::from_secs(5));
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(shown(Duration::from_millis(350)), "350 ms");
        assert_eq!(shown(Duration::from_millis(1600)), "1.6 s");
    }
}
