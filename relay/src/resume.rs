//! The resume file: the last event the server acknowledged, replaced atomically.

use crate::Error;
use eventfold::Position;
use serde::{Deserialize, Serialize};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// Where a relay stands: the last event of the log that the server acknowledged, as recorded
/// in its resume file.
///
/// The file holds one JSON object, such as
/// `{"stream":"TODOS","position":5120,"index":51,"sequence":52}`, and is replaced atomically
/// (written beside, synced, renamed over, directory synced), so a crash leaves the old record
/// or the new one, never a mix. When the last message acknowledged is a part of a stored event
/// that the relay's upcasters split (see [`Config::upcasting`](crate::Config::upcasting)), it
/// also says which: `"part":1,"parts":3`.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::Position;
/// use eventfold_relay::ResumePoint;
/// let path = dir.path().join("data.relay-TODOS.json");
/// assert_eq!(ResumePoint::load(&path)?, None); // never relayed
///
/// let point = ResumePoint {
///     stream: "TODOS".into(),
///     position: Position::new(5120),
///     index: 51,
///     sequence: 52,
///     part: 0,
///     parts: 1,
/// };
/// point.save(&path)?;
/// assert_eq!(ResumePoint::load(&path)?, Some(point));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumePoint {
    /// The JetStream stream the events went to.
    pub stream: String,
    /// The position of the last acknowledged event in the log's history.
    pub position: Position,
    /// Its index: how many events come before it.
    pub index: u64,
    /// Its sequence number in the stream.
    pub sequence: u64,
    /// Which of the events the relay's upcasters made of the stored event was published
    /// last, from 0; 0 for a whole event.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub part: u64,
    /// How many events the relay's upcasters made of the stored event; 1 for a whole event.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub parts: u64,
}

fn is_zero(part: &u64) -> bool {
    *part == 0
}

fn one() -> u64 {
    1
}

fn is_one(parts: &u64) -> bool {
    *parts == 1
}

impl ResumePoint {
    /// Reads the resume file at `path`; `None` if there is none.
    ///
    /// # Errors
    ///
    /// [`Error::ResumeFile`] if it cannot be read or does not hold a resume point.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("bad.json");
    /// std::fs::write(&path, "not json")?;
    /// assert!(eventfold_relay::ResumePoint::load(&path).is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn load(path: &Path) -> Result<Option<ResumePoint>, Error> {
        let fail = |source| Error::ResumeFile {
            path: path.to_path_buf(),
            source,
        };
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(fail(e)),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| fail(io::Error::new(io::ErrorKind::InvalidData, e)))
    }

    /// Replaces the resume file at `path` with this point, atomically and durably.
    ///
    /// # Errors
    ///
    /// [`Error::ResumeFile`] if a write, sync or rename fails.
    ///
    /// # Examples
    ///
    /// See [`ResumePoint`].
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        self.write(path).map_err(|source| Error::ResumeFile {
            path: path.to_path_buf(),
            source,
        })
    }

    fn write(&self, path: &Path) -> io::Result<()> {
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
        let tmp = path.with_file_name(format!(".{}.tmp", name.to_string_lossy()));
        let mut file = File::create(&tmp)?;
        file.write_all(&serde_json::to_vec(self).map_err(io::Error::other)?)?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        sync_dir(path)
    }
}

/// Makes the rename of `path` durable by syncing its directory. Windows cannot open a directory
/// as a file, and NTFS journals the rename itself: nothing to do there.
fn sync_dir(path: &Path) -> io::Result<()> {
    if cfg!(windows) {
        return Ok(());
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(parent)?.sync_all()
}
