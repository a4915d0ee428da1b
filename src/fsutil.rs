//! Small file-system steps shared by the writer, snapshots and recovery.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Writes `bytes` to `tmp`, syncs it, renames it to `path` and syncs the directory.
pub(crate) fn write_atomic(path: &Path, tmp: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = File::create(tmp)?;
    file.write_all(bytes)?;
    file.sync_data()?;
    drop(file);
    fs::rename(tmp, path)?;
    sync_parent(path)
}

/// Syncs the directory that holds `path`, so a create, rename or remove in it is durable.
pub(crate) fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => sync_dir(dir),
        _ => sync_dir(Path::new(".")),
    }
}

pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Removes `path`; an absent file is not an error. Returns whether a file was removed.
pub(crate) fn remove_if_exists(path: &Path) -> io::Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Opens `path` for reading and appending, creating it if needed; reports whether it was created.
pub(crate) fn open_append(path: &Path) -> io::Result<(File, bool)> {
    match OpenOptions::new().read(true).append(true).open(path) {
        Ok(file) => Ok((file, false)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let file = OpenOptions::new()
                .read(true)
                .create(true)
                .append(true)
                .open(path)?;
            Ok((file, true))
        }
        Err(e) => Err(e),
    }
}

/// Length of `path`, or 0 when it does not exist.
pub(crate) fn len_or_zero(path: &Path) -> io::Result<u64> {
    match fs::metadata(path) {
        Ok(meta) => Ok(meta.len()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e),
    }
}
