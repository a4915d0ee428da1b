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

// The modules are layers, listed from the bottom up: each imports only from the layers listed
// before it (docs/architecture.md describes them; scripts/layer-check.py checks the imports).

// The error type every layer returns.
mod error;
// 1. The bytes of event lines: framing, parsing, and the fold engine.
mod format;
// 2. The files on disk, the views' snapshots included.
mod store;
// 3. Reading and folding the history.
mod replay;
// 4. Views and their files.
mod views;
// 5. Following the log as it grows.
mod live;
// 6. Inspection, verification and salvage.
mod tools;
// 7. The facade: a writer, a reader and views over one directory.
mod log;

pub use error::{Error, FileError};
pub use format::event::{Event, EventRef};
pub use format::fold::{ReduceFn, ReduceRefFn};
pub use format::lines::line_hash;
pub use format::upcast::{Reshaped, UpcastError, Upcaster, Upcasters};
pub use live::follow::Follow;
#[cfg(feature = "tokio")]
pub use live::subscribe::SubscriptionStream;
pub use live::subscribe::{Since, Subscription, SubscriptionItem};
pub use log::rebuild::{RebuildEnd, RebuildHandle, RebuildProgress, RebuildReport};
pub use log::{EventLog, EventLogBuilder};
pub use replay::filter::Filter;
pub use replay::reader::{EventReader, HistoryEvents, WaitResult};
pub use replay::scan::{Damage, HistoryFile, Location, ScanEnd, ScannedEvent};
pub use store::position::{HistoryEvent, Position};
pub use store::snapshot;
pub use store::snapshot::Snapshot;
pub use store::writer::{
    AppendConflict, AppendResult, ConditionalAppendError, EventWriter, LockMode,
};
pub use tools::inspect::{
    ArchiveFrame, DirInfo, RotationRecord, RotationState, SnapshotInfo, SnapshotStatus,
};
pub use tools::salvage::{Lost, LostKind, SalvageReport, salvage, salvage_with_progress};
pub use tools::stats::{Group, GroupBy, Stats};
pub use tools::verify::{
    Check, Finding, Severity, VerifyOptions, VerifyReport, verify, verify_with_progress,
};
pub use views::checkpoint::Checkpoints;
pub use views::policy::{SnapshotPolicy, ViewConfig};
pub use views::rebuild::RebuildInfo;
pub use views::report::{RefreshReport, Replay};
pub use views::travel::At;
pub use views::view::{View, ViewOps};

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
        crate::format::chunk::check::all(buf);
    }

    /// Checks the trusted read of sealed lines against the full parser on `buf`, lines of
    /// `app.jsonl`: every accessor of a line the parser accepts answers the same, a sealed
    /// block of such lines folds the same, and no bytes make either panic.
    pub fn check_trusted_against_parser(buf: &[u8]) {
        crate::format::trusted::check(buf);
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
