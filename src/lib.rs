//! # eventfold
//!
//! Your application state is a fold over an event log.
//!
//! eventfold is an embedded, append-only event log. Three concepts:
//!
//! - **Events** ([`Event`]) are JSON records appended, one per line, to `app.jsonl`, and synced
//!   to disk before [`EventLog::append`] returns.
//! - **Reducers** ([`ReduceFn`], or the zero-copy [`ReduceRefFn`]) are pure functions
//!   `fn(State, &Event) -> State` that give events meaning.
//! - **Views** ([`View`]) fold the log through a reducer and cache the result as a snapshot
//!   (`views/NAME.snapshot.json`), so each refresh reads only the events appended since. A
//!   [`SnapshotPolicy`] says when the snapshot is written, a version in [`ViewConfig`] rebuilds
//!   the view once when its reducer changes, and a [`RefreshReport`] says what a refresh did.
//!
//! Closed history is rotated into `archive.jsonl.zst`, in zstd frames. A new view,
//! or a rebuilt one, replays the archive and then the active log.
//!
//! This crate is a drop-in replacement for eventfold 0.2.0 (same API, same files on disk) with
//! a faster read engine: the active log is memory-mapped and split with memchr, events are
//! parsed from borrowed bytes, and [`EventRef`] reducers decode only the fields they read.
//!
//! ```
//! # let dir = tempfile::tempdir()?;
//! use eventfold::{Event, EventLog};
//! use serde::{Deserialize, Serialize};
//! use serde_json::json;
//!
//! #[derive(Default, Clone, Serialize, Deserialize)]
//! struct Todos { items: Vec<String> }
//!
//! fn todos(mut state: Todos, event: &Event) -> Todos {
//!     if event.event_type == "todo_added" {
//!         state.items.push(event.data["text"].as_str().unwrap_or_default().to_string());
//!     }
//!     state
//! }
//!
//! let mut log = EventLog::builder(dir.path()).view::<Todos>("todos", todos).open()?;
//! log.append(&Event::new("todo_added", json!({"text": "buy milk"})))?;
//! log.refresh_all()?;
//! assert_eq!(log.view::<Todos>("todos")?.items, ["buy milk"]);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! See `docs/guide.md` for the concepts at length and `docs/format.md` for the bytes on disk.

#![deny(unsafe_code)]
#![deny(missing_docs)]

mod archive;
mod checkpoint;
mod chunk;
mod counted;
mod error;
mod event;
#[cfg(test)]
mod fault;
mod filter;
mod fold;
mod follow;
mod fsutil;
mod index;
mod inspect;
mod lines;
mod log;
mod mmap;
mod parse;
mod pass;
mod policy;
mod position;
mod reader;
mod recovery;
mod report;
mod salvage;
mod scan;
mod simd;
pub mod snapshot;
mod stats;
mod subscribe;
mod travel;
mod verify;
mod view;
mod watch;
mod writer;

pub use checkpoint::Checkpoints;
pub use error::Error;
pub use event::{Event, EventRef};
pub use filter::Filter;
pub use follow::Follow;
pub use inspect::{
    ArchiveFrame, DirInfo, RotationRecord, RotationState, SnapshotInfo, SnapshotStatus,
};
pub use log::{EventLog, EventLogBuilder, WaitResult};
pub use policy::{SnapshotPolicy, ViewConfig};
pub use position::{HistoryEvent, Position};
pub use reader::{EventReader, HistoryEvents, line_hash};
pub use report::{RefreshReport, Replay};
pub use salvage::{Lost, LostKind, SalvageReport, salvage, salvage_with_progress};
pub use scan::{Damage, HistoryFile, Location, ScanEnd, ScannedEvent};
pub use snapshot::Snapshot;
pub use stats::{Group, GroupBy, Stats};
#[cfg(feature = "tokio")]
pub use subscribe::SubscriptionStream;
pub use subscribe::{Since, Subscription, SubscriptionItem};
pub use travel::At;
pub use verify::{
    Check, Finding, Severity, VerifyOptions, VerifyReport, verify, verify_with_progress,
};
pub use view::{ReduceFn, ReduceRefFn, View, ViewOps};
pub use writer::{AppendConflict, AppendResult, ConditionalAppendError, EventWriter, LockMode};

/// Entry points for the fuzz targets, compiled only under `--cfg fuzzing` (which cargo-fuzz
/// sets): not part of the API.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    /// Checks the SIMD chunk index against its references on `buf`, a chunk of lines: every
    /// implementation's byte classes against the portable ones, its lines against memchr's,
    /// and the parse of every line with the index against the scalar parse (the same events,
    /// the same errors at the same bytes). Panics on any difference.
    pub fn check_simd_against_scalar(buf: &[u8]) {
        crate::chunk::check::all(buf);
    }
}

/// The README's examples, compiled and run as doctests so they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// The guide's examples, compiled and run as doctests so they stay true.
#[doc = include_str!("../docs/guide.md")]
#[cfg(doctest)]
pub struct GuideDoctests;
