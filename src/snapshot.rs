//! Snapshot files: the cached state of a view and how far into `app.jsonl` it has read.
//!
//! A snapshot lives at `views/NAME.snapshot.json` as pretty-printed JSON:
//!
//! ```text
//! {
//!   "state": { ... },
//!   "offset": 1284,
//!   "hash": "a3f2e1b09c4d5e6f"
//! }
//! ```
//!
//! `offset` is the byte position in `app.jsonl` just past the last event the state includes;
//! `hash` is [`line_hash`](crate::line_hash) of that event's line, checked before the snapshot
//! is trusted. After a rotation the offset is `0` and the hash empty: the state includes the
//! whole archive. Snapshots are caches: deleting one only costs a replay.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fs;
use std::io;
use std::path::Path;

/// A view's state together with the position in the active log it reflects.
///
/// # Examples
///
/// ```
/// use eventfold::Snapshot;
/// let snap = Snapshot::new(vec!["milk"], 120, "00ff00ff00ff00ff".to_string());
/// assert_eq!(snap.offset, 120);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot<S> {
    /// The view's state after folding every event up to `offset`.
    pub state: S,
    /// Byte offset in `app.jsonl` just past the last event folded into `state`.
    pub offset: u64,
    /// xxh64 of the last folded line, as 16 lowercase hex digits; empty when `offset` is 0.
    pub hash: String,
}

impl<S> Snapshot<S> {
    /// Bundles a state with its log position.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::Snapshot;
    /// let snap = Snapshot::new(3u64, 0, String::new());
    /// assert_eq!(snap.state, 3);
    /// ```
    pub fn new(state: S, offset: u64, hash: String) -> Self {
        Snapshot {
            state,
            offset,
            hash,
        }
    }
}

/// The same fields as [`Snapshot`], borrowed, so saving never clones the state.
#[derive(Serialize)]
struct SnapshotRef<'a, S> {
    state: &'a S,
    offset: u64,
    hash: &'a str,
}

/// Writes `snapshot` to `path` atomically.
///
/// The JSON goes to `path` with `.tmp` appended to its extension, is synced to disk, and is then
/// renamed over `path`; the directory is synced after the rename. A crash leaves either the old
/// snapshot or the new one, never a mix.
///
/// # Errors
///
/// Returns an error if the state cannot be serialized, or if writing, syncing or renaming fails.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{snapshot, Snapshot};
/// let path = dir.path().join("count.snapshot.json");
/// snapshot::save(&path, &Snapshot::new(5u64, 0, String::new()))?;
/// assert!(path.exists());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn save<S: Serialize>(path: &Path, snapshot: &Snapshot<S>) -> io::Result<()> {
    save_parts(path, &snapshot.state, snapshot.offset, &snapshot.hash)
}

pub(crate) fn save_parts<S: Serialize>(
    path: &Path,
    state: &S,
    offset: u64,
    hash: &str,
) -> io::Result<()> {
    let json = serde_json::to_vec_pretty(&SnapshotRef {
        state,
        offset,
        hash,
    })
    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    crate::fsutil::write_atomic(path, &tmp_path(path), &json)
}

/// Reads the snapshot at `path`.
///
/// Returns `Ok(None)` when the file does not exist, and also when it cannot be parsed as a
/// snapshot of `S`: a damaged or outdated snapshot is a cache miss, and the view is rebuilt
/// from the log.
///
/// # Errors
///
/// Returns an error for I/O failures other than the file being absent.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{snapshot, Snapshot};
/// let path = dir.path().join("count.snapshot.json");
/// assert!(snapshot::load::<u64>(&path)?.is_none());
/// snapshot::save(&path, &Snapshot::new(5u64, 10, "00000000000000aa".into()))?;
/// let loaded = snapshot::load::<u64>(&path)?.expect("just saved");
/// assert_eq!((loaded.state, loaded.offset), (5, 10));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn load<S: DeserializeOwned>(path: &Path) -> io::Result<Option<Snapshot<S>>> {
    let file = match fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if file.metadata()?.len() > READ_WHOLE_MAX {
        // Parsed as a stream: a damaged file of any size is refused at its first bad byte
        // instead of being read into memory first.
        let reader = io::BufReader::with_capacity(1 << 20, file);
        return Ok(serde_json::from_reader(reader).ok());
    }
    let mut bytes = Vec::new();
    io::Read::read_to_end(&mut &file, &mut bytes)?;
    Ok(serde_json::from_slice(&bytes).ok())
}

/// Snapshots up to this size are read whole and parsed from memory (the fastest way).
const READ_WHOLE_MAX: u64 = 64 << 20;

/// Removes the snapshot at `path` and any leftover temporary file beside it.
///
/// Succeeds when neither exists.
///
/// # Errors
///
/// Returns an error for I/O failures other than a file being absent.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{snapshot, Snapshot};
/// let path = dir.path().join("count.snapshot.json");
/// snapshot::save(&path, &Snapshot::new(1u64, 0, String::new()))?;
/// snapshot::delete(&path)?;
/// snapshot::delete(&path)?; // idempotent
/// assert!(!path.exists());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn delete(path: &Path) -> io::Result<()> {
    crate::fsutil::remove_if_exists(path)?;
    crate::fsutil::remove_if_exists(&tmp_path(path))?;
    Ok(())
}

/// Where a snapshot is written before it is renamed into place (`NAME.snapshot.json.tmp`).
fn tmp_path(path: &Path) -> std::path::PathBuf {
    path.with_extension("json.tmp")
}

/// Rewrites every snapshot in `views_dir` that a rotation left pointing into the old active
/// log, except those of `skip` (views the caller resets itself). For a rotation whose views
/// have not been reset yet.
///
/// A snapshot that had read exactly the archived log (`offset == archived_len` and the same
/// last-line hash) now includes the whole archive: its offset becomes 0. Any other snapshot can
/// no longer be placed and is deleted, so that view is rebuilt; that includes one at offset 0,
/// which had read none of the archived log. Both are durable before this returns: once the
/// next append retires the rotation record, nothing could tell a stale offset from one into the
/// new log.
pub(crate) fn retire_after_rotation(
    views_dir: &Path,
    archived_len: u64,
    archived_last_hash: &str,
    skip: &[&str],
) -> io::Result<()> {
    retire(views_dir, archived_len, archived_last_hash, skip, false)
}

/// [`retire_after_rotation`] for a rotation that may have reset some snapshots already: those
/// at offset 0 are left alone, since a reset one cannot be told from one that had read nothing.
pub(crate) fn retire_after_reset(
    views_dir: &Path,
    archived_len: u64,
    archived_last_hash: &str,
) -> io::Result<()> {
    retire(views_dir, archived_len, archived_last_hash, &[], true)
}

fn retire(
    views_dir: &Path,
    archived_len: u64,
    archived_last_hash: &str,
    skip: &[&str],
    keep_at_zero: bool,
) -> io::Result<()> {
    let entries = match fs::read_dir(views_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut deleted = false;
    for entry in entries {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(view) = name.strip_suffix(".snapshot.json") else {
            continue;
        };
        if skip.contains(&view) {
            continue;
        }
        let Some(snap) = load::<serde_json::Value>(&path)? else {
            continue;
        };
        if snap.offset == 0 && keep_at_zero {
            continue;
        }
        if snap.offset == archived_len && snap.hash == archived_last_hash {
            save_parts(&path, &snap.state, 0, "")?;
        } else {
            delete(&path)?;
            deleted = true;
        }
    }
    if deleted {
        crate::fsutil::sync_dir(views_dir)?;
    }
    Ok(())
}
