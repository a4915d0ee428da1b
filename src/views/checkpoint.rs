//! Checkpoints: past states of a view, kept so that [`state_at`](crate::View::state_at) starts
//! near the point asked for instead of at the first event.
//!
//! A view's checkpoints live in `views/NAME.checkpoints/`, one compact JSON file per checkpoint,
//! named after the number of events it has folded (20 digits, so names sort in history order).
//! Like snapshots they are caches: written without syncing, and used only after the same checks
//! as a snapshot (the view's version, and the hash of the line that ends where the checkpoint
//! stands).

use crate::error::{Context, file_error};
use crate::format::fold::MaxTs;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// When a view keeps checkpoints: past states that [`state_at`](crate::View::state_at) starts
/// from.
///
/// A checkpoint is the view's state after a given number of events, with its position and the
/// hash of the last line it folded. With checkpoints every `n` events, `state_at` folds at most
/// about `n` events past the nearest checkpoint instead of the whole history before the point.
/// Each checkpoint costs one serialization of the state when the fold passes it, and a file of
/// the state's size.
///
/// # Examples
///
/// ```
/// use eventfold::Checkpoints;
/// // A checkpoint every 100 000 events and at every rotation, the newest 20 kept.
/// let checkpoints = Checkpoints::every(100_000).keep_last(20);
/// assert_eq!(checkpoints.interval(), Some(100_000));
/// assert!(checkpoints.at_rotations());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoints {
    every: Option<u64>,
    at_rotation: bool,
    keep_last: Option<usize>,
}

impl Checkpoints {
    /// A checkpoint whenever the view has folded a multiple of `events` events (counted from
    /// the first event of the history), and one at every rotation. `0` means no interval
    /// (rotations only).
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::Checkpoints;
    /// assert_eq!(Checkpoints::every(1000).interval(), Some(1000));
    /// assert_eq!(Checkpoints::every(0).interval(), None);
    /// ```
    pub fn every(events: u64) -> Self {
        Checkpoints {
            every: (events > 0).then_some(events),
            at_rotation: true,
            keep_last: None,
        }
    }

    /// A checkpoint at every rotation only: the state as it was when each rotation archived
    /// the active log.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::Checkpoints;
    /// let checkpoints = Checkpoints::at_each_rotation();
    /// assert_eq!(checkpoints.interval(), None);
    /// assert!(checkpoints.at_rotations());
    /// ```
    pub fn at_each_rotation() -> Self {
        Checkpoints::every(0)
    }

    /// Whether rotations also leave a checkpoint (they do unless turned off here).
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::Checkpoints;
    /// assert!(!Checkpoints::every(10).with_rotations(false).at_rotations());
    /// ```
    pub fn with_rotations(mut self, at_rotation: bool) -> Self {
        self.at_rotation = at_rotation;
        self
    }

    /// Keeps only the newest `count` checkpoints (by events folded), whatever made them; older
    /// ones are removed when a new one is written. By default all are kept.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::Checkpoints;
    /// assert_eq!(Checkpoints::every(10).keep_last(3).kept(), Some(3));
    /// assert_eq!(Checkpoints::every(10).kept(), None);
    /// ```
    pub fn keep_last(mut self, count: usize) -> Self {
        self.keep_last = Some(count);
        self
    }

    /// The interval in events, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::Checkpoints;
    /// assert_eq!(Checkpoints::every(5).interval(), Some(5));
    /// ```
    pub fn interval(&self) -> Option<u64> {
        self.every
    }

    /// Whether rotations leave a checkpoint.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::Checkpoints;
    /// assert!(Checkpoints::every(5).at_rotations());
    /// ```
    pub fn at_rotations(&self) -> bool {
        self.at_rotation
    }

    /// How many checkpoints are kept, if bounded.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::Checkpoints;
    /// assert_eq!(Checkpoints::at_each_rotation().keep_last(2).kept(), Some(2));
    /// ```
    pub fn kept(&self) -> Option<usize> {
        self.keep_last
    }
}

/// What a checkpoint file records about the state it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Mark {
    /// Events folded into the state.
    pub events: u64,
    /// Position just past the last event folded.
    pub position: u64,
    /// `line_hash` of the last event folded.
    pub hash: String,
    /// The largest `ts` folded (`None` when unknown, or when no event was folded).
    pub max_ts: Option<u64>,
    /// The view's version.
    pub version: u32,
}

impl Mark {
    /// The largest `ts` folded, as far as the mark knows it.
    pub fn max_ts(&self) -> MaxTs {
        MaxTs::from_record(self.events, self.max_ts)
    }
}

/// A checkpoint file: its mark, then the state.
#[derive(Serialize)]
struct FileRef<'a, S> {
    mark: &'a Mark,
    state: &'a S,
}

#[derive(Deserialize)]
struct FileOwned<S> {
    mark: Mark,
    state: S,
}

/// The directory of the view `name`'s checkpoints.
pub(crate) fn dir(views_dir: &Path, name: &str) -> PathBuf {
    views_dir.join(format!("{name}.checkpoints"))
}

fn file_name(events: u64) -> String {
    format!("{events:020}.json")
}

/// Writes a checkpoint into `dir` (created if needed), then removes the oldest beyond
/// `keep_last`.
pub(crate) fn write<S: Serialize>(
    dir: &Path,
    mark: &Mark,
    state: &S,
    keep_last: Option<usize>,
) -> io::Result<()> {
    fs::create_dir_all(dir).context("create the directory", dir)?;
    let bytes = serde_json::to_vec(&FileRef { mark, state })
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    crate::store::fsutil::write_cache(&dir.join(file_name(mark.events)), &bytes)?;
    if let Some(keep) = keep_last {
        let all = list(dir)?;
        for events in &all[..all.len().saturating_sub(keep)] {
            let path = dir.join(file_name(*events));
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(file_error(e, "remove", &path)),
            }
        }
    }
    Ok(())
}

/// The events counts of the checkpoints in `dir`, in increasing order.
pub(crate) fn list(dir: &Path) -> io::Result<Vec<u64>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(file_error(e, "list the directory", dir)),
    };
    let mut all = Vec::new();
    for entry in entries {
        let name = entry.context("list the directory", dir)?.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
            continue;
        };
        if stem.len() == 20
            && let Ok(events) = stem.parse()
        {
            all.push(events);
        }
    }
    all.sort_unstable();
    Ok(all)
}

/// Reads the checkpoint of `events` events in `dir`; `None` when it is missing, unreadable, or
/// not a checkpoint of `S` with that many events.
pub(crate) fn read<S: DeserializeOwned>(dir: &Path, events: u64) -> io::Result<Option<(Mark, S)>> {
    let path = dir.join(file_name(events));
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(file_error(e, "read", &path)),
    };
    Ok(serde_json::from_slice::<FileOwned<S>>(&bytes)
        .ok()
        .filter(|file| file.mark.events == events)
        .map(|file| (file.mark, file.state)))
}

/// Reads only the mark of the checkpoint of `events` events in `dir` (the state is skipped).
pub(crate) fn read_mark(dir: &Path, events: u64) -> io::Result<Option<Mark>> {
    Ok(read::<serde::de::IgnoredAny>(dir, events)?.map(|(mark, _)| mark))
}

/// Removes every checkpoint of a view (when its history was rewritten or its version changed).
pub(crate) fn clear(dir: &Path) -> io::Result<()> {
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(file_error(e, "remove", dir)),
    }
}
