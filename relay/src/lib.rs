//! # eventfold-relay
//!
//! Hands the events of an eventfold log to NATS JetStream, as they are appended, in order,
//! each exactly once, so that other processes and machines can follow them.
//!
//! eventfold is one writer in one process. When other services need the events as they happen,
//! or several of them need to fold the same stream, the relay publishes every event of a log
//! directory to a JetStream stream ([`run`]), and consumers read the stream back and fold it
//! ([`fold_stream`]) with the same reducers as local views.
//!
//! - **Order**: events are published in the order of the log; each publish says which stream
//!   sequence it expects to follow (`Nats-Expected-Last-Sequence`), so a publish lost on the way
//!   can never be overtaken by a later one.
//! - **Exactly once**: every message carries `Nats-Msg-Id` set to the event's stable
//!   [`Position`](eventfold::Position), and the server drops a re-sent id within the stream's
//!   duplicate window. On start the relay reads the stream's last message and goes on after it,
//!   so a crash at any moment (even `SIGKILL`) loses nothing and repeats nothing.
//! - **Resume file**: the position of the last acknowledged event is also kept in a small file of
//!   the relay's own ([`Config::resume_file`], by default beside the data directory, never in
//!   it), replaced atomically, so the relay knows where it stands even when the stream has
//!   discarded its messages by age.
//! - **Stored or upcast events**: by default the relay publishes each event as it is stored,
//!   as `eventfold export` prints it. Given the log's upcasters ([`Config::upcasting`]), it
//!   publishes what they make of each stored event instead, as views fold it: a dropped event
//!   is not published, and each part of a split one is a message of its own, with the
//!   `Nats-Msg-Id` `POSITION` for part 0 and `POSITION/k` for part `k`, and the headers
//!   `Eventfold-Part` and `Eventfold-Parts`. Resuming goes on with the next part, so every
//!   part is published once. [`fold_stream`] folds what the relay published.
//!
//! ```no_run
//! # async fn demo() -> Result<(), eventfold_relay::Error> {
//! use eventfold_relay::Config;
//! let config = Config::new("./data", "nats://127.0.0.1:4222", "TODOS");
//! let stats = eventfold_relay::run(&config, async {
//!     tokio::signal::ctrl_c().await.ok();
//! })
//! .await?;
//! eprintln!("published {} events", stats.published);
//! # Ok(())
//! # }
//! ```
//!
//! See `docs/scale-out.md` in the eventfold repository for how to run and consume it.

#![deny(unsafe_code)]
#![deny(missing_docs)]

mod auth;
mod config;
mod consume;
mod error;
mod headers;
mod notice;
mod relay;
mod resume;

pub use auth::{Auth, Secret};
pub use config::Config;
pub use consume::{RelayedEvent, fold_stream, fold_stream_with_auth};
pub use error::Error;
pub use notice::Notice;
pub use relay::{Stats, run, run_reporting};
pub use resume::ResumePoint;
