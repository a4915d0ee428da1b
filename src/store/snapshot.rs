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
//! whole archive. A view with a [version](crate::ViewConfig::version) other than 0 adds a
//! `"version"` field after `hash`. Snapshots are caches: deleting one only costs a replay.

use crate::error::{Context, file_error};
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

/// The fields of a snapshot file, borrowed, so saving never clones the state. `version` is
/// written only when it is not 0, and `events` and `max_ts` only for views that keep
/// checkpoints, so that the snapshots of other views keep eventfold 0.2.0's bytes.
#[derive(Serialize)]
pub(crate) struct SnapshotRef<'a, S> {
    pub state: &'a S,
    pub offset: u64,
    pub hash: &'a str,
    #[serde(skip_serializing_if = "is_zero")]
    pub version: u32,
    /// Events folded into the state, from the first of the history.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<u64>,
    /// The largest `ts` folded into the state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_ts: Option<u64>,
}

fn is_zero(version: &u32) -> bool {
    *version == 0
}

/// A snapshot file as read: [`Snapshot`]'s fields and the version (0 when absent).
#[derive(Deserialize)]
pub(crate) struct Stored<S> {
    pub state: S,
    pub offset: u64,
    pub hash: String,
    #[serde(default)]
    pub version: u32,
    #[serde(default)]
    pub events: Option<u64>,
    #[serde(default)]
    pub max_ts: Option<u64>,
}

/// Only the version of a snapshot file, read when its state could not be.
#[derive(Deserialize)]
struct VersionOnly {
    #[serde(default)]
    version: u32,
}

/// What [`read`] found at a snapshot's path.
pub(crate) enum Read<S> {
    /// No file.
    Absent,
    /// A file that is not a snapshot of `S`; `version` is its version field, if the file is a
    /// JSON object whose version could be read.
    Unreadable {
        error: serde_json::Error,
        version: Option<u32>,
    },
    /// A snapshot, and the size of its file.
    Found { snapshot: Stored<S>, len: u64 },
}

/// How a snapshot is written (see `docs/format.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    /// Written to a temporary file and renamed into place, unsynced: a crash leaves the old
    /// snapshot, the new one, or a file that does not parse (a cache miss). Enough for the
    /// saves of refreshes, which the offset and hash check guards.
    Cache,
    /// Also synced before the rename, and the directory synced after it: for rotation and
    /// recovery, whose snapshots must not revert to an offset into the archived log.
    Durable,
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
    let fields = SnapshotRef {
        state: &snapshot.state,
        offset: snapshot.offset,
        hash: &snapshot.hash,
        version: 0,
        events: None,
        max_ts: None,
    };
    write(path, &fields, 0, Durability::Durable).map(|_| ())
}

/// Writes the snapshot `fields`; returns the size of the file written. `capacity` is the
/// expected size (that of the last snapshot), so the buffer is allocated once.
pub(crate) fn write<S: Serialize>(
    path: &Path,
    fields: &SnapshotRef<'_, S>,
    capacity: usize,
    durability: Durability,
) -> io::Result<usize> {
    // Room for a state that grew a little since the last save, without a reallocation.
    let mut json = Vec::with_capacity(capacity + capacity / 16 + 128);
    serde_json::to_writer_pretty(&mut json, fields)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let tmp = tmp_path(path);
    match durability {
        Durability::Cache => crate::store::fsutil::write_replace(path, &tmp, &json)?,
        Durability::Durable => crate::store::fsutil::write_atomic(path, &tmp, &json)?,
    }
    Ok(json.len())
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
    Ok(match read::<S>(path)? {
        Read::Found { snapshot, .. } => Some(Snapshot::new(
            snapshot.state,
            snapshot.offset,
            snapshot.hash,
        )),
        Read::Absent | Read::Unreadable { .. } => None,
    })
}

/// Reads the snapshot at `path`, telling an absent file from one that cannot be parsed as a
/// snapshot of `S` (and then reading its version alone, if it has one).
///
/// # Errors
///
/// I/O failures other than the file being absent.
pub(crate) fn read<S: DeserializeOwned>(path: &Path) -> io::Result<Read<S>> {
    let file = match fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Read::Absent),
        Err(e) => return Err(file_error(e, "open", path)),
    };
    let len = file.metadata().context("read", path)?.len();
    if len > READ_WHOLE_MAX {
        // Parsed as a stream: a damaged file of any size is refused at its first bad byte
        // instead of being read into memory first.
        let stream = |file| io::BufReader::with_capacity(1 << 20, file);
        return Ok(match serde_json::from_reader(stream(file)) {
            Ok(snapshot) => Read::Found { snapshot, len },
            Err(error) => {
                let version =
                    serde_json::from_reader(stream(fs::File::open(path).context("open", path)?))
                        .ok()
                        .map(|v: VersionOnly| v.version);
                Read::Unreadable { error, version }
            }
        });
    }
    let mut bytes = Vec::new();
    io::Read::read_to_end(&mut &file, &mut bytes).context("read", path)?;
    Ok(match serde_json::from_slice(&bytes) {
        Ok(snapshot) => Read::Found { snapshot, len },
        Err(error) => {
            let version = serde_json::from_slice(&bytes)
                .ok()
                .map(|v: VersionOnly| v.version);
            Read::Unreadable { error, version }
        }
    })
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
    crate::store::fsutil::remove_if_exists(path)?;
    crate::store::fsutil::remove_if_exists(&tmp_path(path))?;
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
/// last-line hash) now includes the whole archive: its offset becomes 0 (its version, if any,
/// is kept). Any other snapshot can no longer be placed and is deleted, so that view is
/// rebuilt; that includes one at offset 0, which had read none of the archived log. Both are
/// durable before this returns: once the next append retires the rotation record, nothing could
/// tell a stale offset from one into the new log.
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
        Err(e) => return Err(file_error(e, "list the directory", views_dir)),
    };
    let mut deleted = false;
    for entry in entries {
        let path = entry.context("list the directory", views_dir)?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(view) = name.strip_suffix(".snapshot.json") else {
            continue;
        };
        if skip.contains(&view) {
            continue;
        }
        let Read::Found { snapshot, len } = read::<serde_json::Value>(&path)? else {
            continue;
        };
        if snapshot.offset == 0 && keep_at_zero {
            continue;
        }
        if snapshot.offset == archived_len && snapshot.hash == archived_last_hash {
            let fields = SnapshotRef {
                state: &snapshot.state,
                offset: 0,
                hash: "",
                version: snapshot.version,
                events: snapshot.events,
                max_ts: snapshot.max_ts,
            };
            write(&path, &fields, len as usize, Durability::Durable)?;
        } else {
            delete(&path)?;
            deleted = true;
        }
    }
    if deleted {
        crate::store::fsutil::sync_dir(views_dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(dir: &Path, name: &str, state: u64, offset: u64, hash: &str, version: u32) {
        let fields = SnapshotRef {
            state: &state,
            offset,
            hash,
            version,
            events: None,
            max_ts: None,
        };
        write(
            &dir.join(format!("{name}.snapshot.json")),
            &fields,
            0,
            Durability::Cache,
        )
        .unwrap();
    }

    fn get(dir: &Path, name: &str) -> Option<(u64, u64, String, u32)> {
        match read::<u64>(&dir.join(format!("{name}.snapshot.json"))).unwrap() {
            Read::Found { snapshot: s, .. } => Some((s.state, s.offset, s.hash, s.version)),
            Read::Absent => None,
            Read::Unreadable { error, .. } => panic!("{name}: {error}"),
        }
    }

    /// Snapshots of four views around a rotation that archived 100 bytes ending in line `h`.
    fn views() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        put(dir.path(), "all", 5, 100, "h", 3); // had read the whole archived log
        put(dir.path(), "part", 2, 40, "g", 0); // had read part of it
        put(dir.path(), "zero", 1, 0, "", 2); // at offset 0: reset, or had read none of it
        put(dir.path(), "mine", 9, 40, "g", 0); // the caller's
        dir
    }

    #[test]
    fn a_rotation_resets_what_read_it_all_and_deletes_the_rest() {
        let dir = views();
        retire_after_rotation(dir.path(), 100, "h", &["mine"]).unwrap();
        assert_eq!(get(dir.path(), "all"), Some((5, 0, String::new(), 3)));
        assert_eq!(get(dir.path(), "part"), None);
        assert_eq!(get(dir.path(), "zero"), None, "it had read none of the log");
        assert_eq!(get(dir.path(), "mine"), Some((9, 40, "g".into(), 0)));
    }

    #[test]
    fn after_resets_offset_zero_is_left_alone() {
        let dir = views();
        retire_after_reset(dir.path(), 100, "h").unwrap();
        assert_eq!(get(dir.path(), "all"), Some((5, 0, String::new(), 3)));
        assert_eq!(get(dir.path(), "part"), None);
        assert_eq!(get(dir.path(), "zero"), Some((1, 0, String::new(), 2)));
        assert_eq!(get(dir.path(), "mine"), None, "nothing is skipped");
    }

    #[test]
    fn the_version_field_is_written_only_when_not_zero() {
        let dir = tempfile::tempdir().unwrap();
        put(dir.path(), "plain", 1, 10, "h", 0);
        put(dir.path(), "versioned", 1, 10, "h", 4);
        let plain = fs::read_to_string(dir.path().join("plain.snapshot.json")).unwrap();
        assert_eq!(
            plain,
            "{\n  \"state\": 1,\n  \"offset\": 10,\n  \"hash\": \"h\"\n}"
        );
        let versioned = fs::read_to_string(dir.path().join("versioned.snapshot.json")).unwrap();
        assert_eq!(
            versioned,
            "{\n  \"state\": 1,\n  \"offset\": 10,\n  \"hash\": \"h\",\n  \"version\": 4\n}"
        );
        // The public API reads both and ignores the version.
        let loaded: Snapshot<u64> = load(&dir.path().join("versioned.snapshot.json"))
            .unwrap()
            .unwrap();
        assert_eq!(loaded, Snapshot::new(1, 10, "h".into()));
    }

    #[test]
    fn unreadable_is_told_from_absent_and_keeps_the_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.snapshot.json");
        assert!(matches!(read::<u64>(&path).unwrap(), Read::Absent));
        fs::write(
            &path,
            "{\"state\": \"text\", \"offset\": 0, \"hash\": \"\", \"version\": 6}",
        )
        .unwrap();
        let Read::Unreadable { version, .. } = read::<u64>(&path).unwrap() else {
            panic!("a string is not a u64");
        };
        assert_eq!(version, Some(6));
        fs::write(&path, "{\"state\": 1, \"offs").unwrap();
        let Read::Unreadable { version, .. } = read::<u64>(&path).unwrap() else {
            panic!("cut short");
        };
        assert_eq!(version, None);
        assert!(
            load::<u64>(&path).unwrap().is_none(),
            "the public API: None"
        );
    }
}
