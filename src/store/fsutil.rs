//! Every file-system operation that changes what is on disk goes through [`Fs`].
//!
//! The real implementation, [`OsFs`], calls the operating system. Tests install another
//! implementation for the current thread (see `crate::store::fault`) that fails the Nth
//! operation or records what had been made durable, to check that no failure and no crash loses
//! an acknowledged event.

use crate::error::{Context, file_error};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// The operations the writer, recovery and snapshots perform on files.
pub(crate) trait Fs: Send + Sync {
    /// Opens `path` for reading and appending, creating it if needed; reports whether it was
    /// created.
    fn open_append(&self, path: &Path) -> io::Result<(File, bool)>;
    /// Creates `path`, which must not exist, for reading and appending.
    fn create_new(&self, path: &Path) -> io::Result<File>;
    /// Creates or truncates `path` for writing.
    fn create(&self, path: &Path) -> io::Result<File>;
    /// Writes all of `bytes` to `file` (at its end, for files opened to append).
    fn write_all(&self, file: &mut File, path: &Path, bytes: &[u8]) -> io::Result<()>;
    /// Makes the data of `file` durable (`fdatasync`).
    fn sync_data(&self, file: &File, path: &Path) -> io::Result<()>;
    /// Cuts or extends `file` to `len` bytes.
    fn set_len(&self, file: &File, path: &Path, len: u64) -> io::Result<()>;
    /// Renames `from` to `to`, replacing `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes `path`; reports whether it existed.
    fn remove(&self, path: &Path) -> io::Result<bool>;
    /// Makes the entries of directory `dir` durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// The operating system.
pub(crate) struct OsFs;

impl Fs for OsFs {
    fn open_append(&self, path: &Path) -> io::Result<(File, bool)> {
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

    fn create_new(&self, path: &Path) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .append(true)
            .create_new(true)
            .open(path)
    }

    fn create(&self, path: &Path) -> io::Result<File> {
        File::create(path)
    }

    fn write_all(&self, file: &mut File, _path: &Path, bytes: &[u8]) -> io::Result<()> {
        file.write_all(bytes)
    }

    fn sync_data(&self, file: &File, _path: &Path) -> io::Result<()> {
        file.sync_data()
    }

    fn set_len(&self, file: &File, path: &Path, len: u64) -> io::Result<()> {
        refuse_if_mapped(path)?;
        file.set_len(len)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        refuse_if_mapped(to)?;
        crate::store::platform::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<bool> {
        refuse_if_mapped(path)?;
        match fs::remove_file(path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        crate::store::platform::sync_dir(dir)
    }
}

/// With the `windows-rules-for-tests` feature, refuses as Windows does to truncate, remove or
/// rename over a file that a reader has mapped; otherwise does nothing.
#[inline]
fn refuse_if_mapped(path: &Path) -> io::Result<()> {
    #[cfg(all(unix, feature = "windows-rules-for-tests"))]
    if crate::store::platform::rules::is_mapped(path) {
        return Err(crate::store::platform::rules::mapped_error(path));
    }
    let _ = path;
    Ok(())
}

/// The file system in use: the operating system's, its errors naming the operation and the
/// file.
#[cfg(not(test))]
#[inline]
pub(crate) fn fs() -> Named<&'static OsFs> {
    Named(&OsFs)
}

/// The file system in use: the operating system's, unless a test installed another one for
/// this thread; its errors name the operation and the file.
#[cfg(test)]
pub(crate) fn fs() -> Named<std::sync::Arc<dyn Fs>> {
    Named(crate::store::fault::installed().unwrap_or_else(|| std::sync::Arc::new(OsFs)))
}

/// A file system whose errors say what was done to which file (`cannot sync app.jsonl: ...`),
/// with the kind the inner file system gave.
pub(crate) struct Named<F>(F);

impl<F> Fs for Named<F>
where
    F: std::ops::Deref + Send + Sync,
    F::Target: Fs,
{
    fn open_append(&self, path: &Path) -> io::Result<(File, bool)> {
        self.0.open_append(path).context("open", path)
    }

    fn create_new(&self, path: &Path) -> io::Result<File> {
        self.0.create_new(path).context("create", path)
    }

    fn create(&self, path: &Path) -> io::Result<File> {
        self.0.create(path).context("create", path)
    }

    fn write_all(&self, file: &mut File, path: &Path, bytes: &[u8]) -> io::Result<()> {
        self.0.write_all(file, path, bytes).context("write", path)
    }

    fn sync_data(&self, file: &File, path: &Path) -> io::Result<()> {
        self.0.sync_data(file, path).context("sync", path)
    }

    fn set_len(&self, file: &File, path: &Path, len: u64) -> io::Result<()> {
        self.0.set_len(file, path, len).context("truncate", path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.0.rename(from, to).rename_context(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<bool> {
        self.0.remove(path).context("remove", path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.0.sync_dir(dir).context("sync the directory", dir)
    }
}

/// Writes `bytes` to `tmp`, syncs it, renames it to `path` and syncs the directory.
pub(crate) fn write_atomic(path: &Path, tmp: &Path, bytes: &[u8]) -> io::Result<()> {
    let fs = fs();
    let mut file = fs.create(tmp)?;
    fs.write_all(&mut file, tmp, bytes)?;
    fs.sync_data(&file, tmp)?;
    drop(file);
    fs.rename(tmp, path)?;
    sync_parent(path)
}

/// Writes `bytes` to `tmp` and renames it to `path`, without syncing anything: a crash leaves
/// the old file, the new one, or (after a power cut) a new file whose bytes never reached the
/// disk. For caches whose contents are checked before use.
pub(crate) fn write_replace(path: &Path, tmp: &Path, bytes: &[u8]) -> io::Result<()> {
    let fs = fs();
    let mut file = fs.create(tmp)?;
    fs.write_all(&mut file, tmp, bytes)?;
    drop(file);
    fs.rename(tmp, path)
}

/// Writes a file whose loss or damage costs work, never data, and whose failure to be written
/// is not an error (the archive index, checkpoints): `bytes` go to `path` with `.tmp`
/// appended to its name, renamed over `path`, nothing synced. It bypasses [`Fs`]: the fault
/// tests fail operations whose failure must reach the caller, and these are ignored by design.
pub(crate) fn write_cache(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    fs::write(&tmp, bytes).context("write", Path::new(&tmp))?;
    fs::rename(&tmp, path).rename_context(Path::new(&tmp), path)
}

/// Makes the data of the existing file `path` durable; returns `false` if there is no such
/// file.
pub(crate) fn sync_existing(path: &Path) -> io::Result<bool> {
    match crate::store::platform::open_to_sync(path) {
        Ok(file) => fs().sync_data(&file, path).map(|()| true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(file_error(e, "open", path)),
    }
}

/// Syncs the directory that holds `path`, so a create, rename or remove in it is durable.
pub(crate) fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => sync_dir(dir),
        _ => sync_dir(Path::new(".")),
    }
}

pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    fs().sync_dir(dir)
}

/// Removes `path`; an absent file is not an error. Returns whether a file was removed.
pub(crate) fn remove_if_exists(path: &Path) -> io::Result<bool> {
    fs().remove(path)
}

/// Opens `path` for reading and appending, creating it if needed; reports whether it was
/// created.
pub(crate) fn open_append(path: &Path) -> io::Result<(File, bool)> {
    fs().open_append(path)
}

/// Length of `path`, or 0 when it does not exist.
pub(crate) fn len_or_zero(path: &Path) -> io::Result<u64> {
    match fs::metadata(path) {
        Ok(meta) => Ok(meta.len()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(file_error(e, "access", path)),
    }
}
