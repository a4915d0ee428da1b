//! Recovery: what a writer repairs when it opens, and the record that makes rotation safe to
//! interrupt.
//!
//! A rotation appends the active log to the archive as a frame and then replaces the active log
//! with an empty file. Before it appends the frame it writes `rotation.json`, which records the
//! archive's length before the frame, the frame's length, and the length and xxh64 of the
//! content being archived. The record stays until the first append after the rotation. While it
//! stands, an active log that still holds exactly the archived content is known to be a copy of
//! the archive's last frame, not new events: readers skip it, and the next writer to open
//! finishes the rotation. Once an append retires the record, identical events appended later
//! are new events and are kept.

use crate::error::{Context, file_error};
use crate::store::fsutil;
#[cfg_attr(test, allow(unused_imports))]
use crate::store::fsutil::Fs;
use crate::store::mmap;
use crate::store::platform;
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// File name of the rotation record, beside `app.jsonl`.
pub(crate) const RECORD_NAME: &str = "rotation.json";
/// File name of the empty active log being prepared by a rotation.
pub(crate) const NEXT_LOG_NAME: &str = "app.jsonl.next";

/// What `rotation.json` says, the record each rotation writes before it appends to the
/// archive (see `docs/format.md`).
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{Event, EventLog, RotationState};
/// let mut log = EventLog::open(dir.path())?;
/// log.append(&Event::new("a", serde_json::json!({})))?;
/// log.rotate()?;
/// let RotationState::Finished(record) = log.reader().rotation_state()? else { panic!() };
/// assert_eq!(record.archive_len_before, 0);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RotationRecord {
    /// Length of `archive.jsonl.zst` before the rotation appended its frames.
    pub archive_len_before: u64,
    /// Length of those frames together.
    pub frame_len: u64,
    /// Length of the archived active log.
    pub active_len: u64,
    /// xxh64 of the archived active log, 16 hex digits.
    pub active_hash: String,
    /// `line_hash` of its last line: the hash a snapshot that read all of it carries.
    pub last_line_hash: String,
}

impl RotationRecord {
    /// The archive's length once the rotation's frames are appended.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog, RotationState};
    /// let mut log = EventLog::open(dir.path())?;
    /// log.append(&Event::new("a", serde_json::json!({})))?;
    /// log.rotate()?;
    /// let RotationState::Finished(record) = log.reader().rotation_state()? else { panic!() };
    /// assert_eq!(record.archive_len_after(), std::fs::metadata(log.archive_path())?.len());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn archive_len_after(&self) -> u64 {
        self.archive_len_before.saturating_add(self.frame_len)
    }
}

pub(crate) fn record_path(dir: &Path) -> PathBuf {
    dir.join(RECORD_NAME)
}

/// Reads the rotation record; an unreadable record counts as absent.
pub(crate) fn read_record(dir: &Path) -> io::Result<Option<RotationRecord>> {
    Ok(read_record_or_error(dir)?.and_then(Result::ok))
}

/// Reads the rotation record, telling a file that holds no record (`Some(Err(..))`) from no
/// file (`None`).
pub(crate) fn read_record_or_error(
    dir: &Path,
) -> io::Result<Option<Result<RotationRecord, serde_json::Error>>> {
    let path = record_path(dir);
    match fs::read(&path) {
        Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(file_error(e, "read", &path)),
    }
}

pub(crate) fn write_record(dir: &Path, record: &RotationRecord) -> io::Result<()> {
    let json = serde_json::to_vec(record).map_err(io::Error::other)?;
    let path = record_path(dir);
    fsutil::write_atomic(&path, &dir.join("rotation.json.tmp"), &json)
}

/// Removes the rotation record (durably) if it exists.
pub(crate) fn clear_record(dir: &Path) -> io::Result<()> {
    if fsutil::remove_if_exists(&record_path(dir))? {
        fsutil::sync_dir(dir)?;
    }
    Ok(())
}

pub(crate) fn content_hash(bytes: &[u8]) -> String {
    format!("{:016x}", xxhash_rust::xxh64::xxh64(bytes, 0))
}

/// Whether the open active log `file`, at `path`, holds exactly what `record` says was
/// archived.
fn file_matches(file: &File, path: &Path, record: &RotationRecord) -> io::Result<bool> {
    let len = file.metadata().context("read", path)?.len();
    if len != record.active_len || len == 0 {
        return Ok(false);
    }
    let bytes = mmap::read_range(file, 0, len).context("read", path)?;
    Ok(content_hash(&bytes) == record.active_hash)
}

/// Whether the active log at `log_path` holds exactly what `record` says was archived.
pub(crate) fn active_matches(log_path: &Path, record: &RotationRecord) -> io::Result<bool> {
    match File::open(log_path) {
        Ok(file) => file_matches(&file, log_path, record),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(file_error(e, "open", log_path)),
    }
}

/// The whole history as of one moment: the archive up to `archive_limit`, then the active log
/// (already open, so a rotation that replaces it later does not matter) up to its committed
/// end.
pub(crate) struct History {
    pub archive_limit: u64,
    /// The active log and its committed end, or `None` when it is a leftover copy of the
    /// archive's last frame (a rotation stopped between appending the frame and replacing it).
    pub active: Option<(File, u64)>,
}

/// Takes a consistent view of the history, even while a writer rotates: the active log is
/// opened between two readings of the archive's length, and taken again if the archive grew in
/// between (a rotation appended a frame holding the log just opened). A frame still being
/// appended, as the rotation record shows, is left out.
pub(crate) fn history(dir: &Path, log_path: &Path, archive_path: &Path) -> io::Result<History> {
    for _ in 0..1000 {
        let before = fsutil::len_or_zero(archive_path)?;
        let record = read_record(dir)?;
        let file = File::open(log_path).context("open", log_path)?;
        if fsutil::len_or_zero(archive_path)? != before {
            continue;
        }
        let mut archive_limit = before;
        let mut copy = false;
        if let Some(record) = record {
            if before >= record.archive_len_before && before < record.archive_len_after() {
                archive_limit = record.archive_len_before;
            } else if before == record.archive_len_after() {
                copy = file_matches(&file, log_path, &record)?;
            }
        }
        let active = if copy {
            None
        } else {
            let len = file.metadata().context("read", log_path)?.len();
            let end = mmap::committed_end(&file, 0, len).context("read", log_path)?;
            Some((file, end))
        };
        return Ok(History {
            archive_limit,
            active,
        });
    }
    Err(io::Error::other(format!(
        "{} kept growing while its history was being opened",
        archive_path.display()
    )))
}

/// Creates an empty active log beside `log_path`, renames it over `log_path`, and makes it the
/// writer's handle `active`.
///
/// The old file keeps its length, so maps of it held by readers stay valid. With `lock`, the new
/// file is locked before it becomes visible, so no other writer can slip in. The old handle is
/// held until the rename is done, so its lock keeps excluding a writer that locks `app.jsonl`
/// by name (as eventfold 0.2.0 does), except where the OS refuses to rename over an open file
/// ([`platform::target_in_use`]): then the old handle is closed and the rename retried.
pub(crate) fn replace_active(log_path: &Path, lock: bool, active: &mut File) -> io::Result<()> {
    let next = log_path.with_file_name(NEXT_LOG_NAME);
    fsutil::remove_if_exists(&next)?;
    // This handle becomes the writer's: it appends, and it carries the lock.
    let fs = fsutil::fs();
    let file = fs.create_new(&next)?;
    if lock {
        platform::try_lock(&file).map_err(|e| {
            io::Error::other(format!(
                "cannot lock the new active log {}: {e}",
                next.display()
            ))
        })?;
    }
    fs.sync_data(&file, &next)?;
    match fs.rename(&next, log_path) {
        Ok(()) => *active = file,
        Err(e) if platform::target_in_use(&e) => {
            // The old handle goes first; readers' handles are retried past by the rename.
            *active = file;
            fs.rename(&next, log_path)?;
        }
        Err(e) => return Err(e),
    }
    fsutil::sync_parent(log_path)
}

/// What opening a writer repaired.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Repairs {
    /// Bytes of a torn last line cut from `app.jsonl`.
    pub torn_tail: u64,
    /// Bytes of a torn frame cut from the archive.
    pub torn_frame: u64,
    /// A rotation that had archived the active log was finished.
    pub finished_rotation: bool,
}

/// Brings the directory to a consistent state before a writer appends. Must run under the
/// writer's lock. Returns the active log handle to use (replaced if a rotation was finished).
pub(crate) fn recover(
    dir: &Path,
    log_path: &Path,
    archive_path: &Path,
    views_dir: &Path,
    mut file: File,
    lock: bool,
) -> io::Result<(File, Repairs)> {
    let mut repairs = Repairs::default();
    // An empty log prepared by a rotation that never renamed it holds nothing.
    fsutil::remove_if_exists(&log_path.with_file_name(NEXT_LOG_NAME))?;
    fsutil::remove_if_exists(&dir.join("rotation.json.tmp"))?;

    if let Some(record) = read_record(dir)? {
        let archive_len = fsutil::len_or_zero(archive_path)?;
        if archive_len < record.archive_len_after() {
            // The frame never fully reached the archive: cut what did and forget the rotation;
            // the active log still holds every event.
            if archive_len > record.archive_len_before {
                let fs = fsutil::fs();
                let archive = OpenOptions::new()
                    .write(true)
                    .open(archive_path)
                    .context("open", archive_path)?;
                fs.set_len(&archive, archive_path, record.archive_len_before)?;
                fs.sync_data(&archive, archive_path)?;
                repairs.torn_frame = archive_len - record.archive_len_before;
            }
            clear_record(dir)?;
        } else if archive_len == record.archive_len_after() && active_matches(log_path, &record)? {
            // The frame is complete but the active log was not replaced: finish the rotation.
            // No snapshot has been reset yet, so one at offset 0 had read none of the archived
            // log. They are retired before the log is replaced: a crash in between finds the
            // same state again (costing the reset snapshots a rebuild), never an empty log
            // beside snapshots that cannot be told apart.
            crate::store::snapshot::retire_after_rotation(
                views_dir,
                record.active_len,
                &record.last_line_hash,
                &[],
            )?;
            replace_active(log_path, lock, &mut file)?;
            repairs.finished_rotation = true;
        } else if archive_len == record.archive_len_after()
            && file.metadata().context("read", log_path)?.len() == 0
        {
            // The active log was replaced; the crash may have come before the snapshots were
            // reset. Snapshots already reset are left alone.
            crate::store::snapshot::retire_after_reset(
                views_dir,
                record.active_len,
                &record.last_line_hash,
            )?;
        } else {
            // Something else wrote since (another rotation, or events appended by a program
            // that does not know the record): the record no longer describes the files.
            clear_record(dir)?;
        }
    }

    let len = file.metadata().context("read", log_path)?.len();
    let committed = mmap::committed_end(&file, 0, len).context("read", log_path)?;
    if committed < len {
        // A torn last line: the append that wrote it never returned. Cut it so the next append
        // starts on a line of its own.
        let fs = fsutil::fs();
        fs.set_len(&file, log_path, committed)?;
        fs.sync_data(&file, log_path)?;
        repairs.torn_tail = len - committed;
    }
    Ok((file, repairs))
}
