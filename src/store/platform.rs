//! Every call that differs between operating systems: positional reads, file identity, the
//! writer's lock, directory sync, whether a reader may map the log, and read-ahead advice.
//! Nothing else in the crate names `std::os::unix` or `std::os::windows`.
//!
//! What differs, and why (docs/architecture.md, "Platforms", says it for users):
//!
//! - **The lock.** On Unix it is `flock` on the whole of `app.jsonl`, advisory: readers ignore
//!   it. On Windows a lock taken with `LockFileEx` is mandatory: a lock over the whole file, as
//!   std's `File::try_lock` and fs2 take, makes every read of the file through another handle
//!   fail. The writer there locks one byte far past any real end of file, which no read ever
//!   touches. It still excludes a second eventfold writer, which locks the same byte, and an
//!   eventfold 0.2.0 writer, whose fs2 lock covers the whole range and so that byte too.
//! - **Maps.** Windows refuses to truncate, delete or rename over a file that any process has
//!   mapped. A reader's map of `app.jsonl` would block the writer's rotation and its repair of
//!   a torn tail, so on Windows readers copy the bytes they fold with positional reads instead
//!   (in segments of at most 32 MiB, as maps are taken elsewhere).
//! - **Directory sync.** Windows cannot open a directory as a file to flush it; NTFS journals
//!   its metadata, so a rename is made durable by the file system itself. `sync_dir` does
//!   nothing there.
//! - **Syncing a file by name.** Windows flushes only through a handle that may write.

#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::path::Path;

/// Whether readers may map files. Not on Windows: a live map there blocks the writer's
/// rotation and repair (see the module documentation).
pub(crate) const MAY_MAP: bool = cfg!(unix);

/// Whether a reader may map a range now: [`MAY_MAP`], unless a test follows the Windows policy
/// on this OS ([`rules::copy_instead_of_mapping`]).
#[inline]
pub(crate) fn may_map() -> bool {
    #[cfg(all(unix, any(test, feature = "windows-rules-for-tests")))]
    {
        MAY_MAP && !rules::copying()
    }
    #[cfg(not(all(unix, any(test, feature = "windows-rules-for-tests"))))]
    {
        MAY_MAP
    }
}

/// The byte the writer locks on Windows: far past the end of any log, so that no read touches
/// it (Windows allows locking past the end of a file), and inside the range an eventfold 0.2.0
/// writer locks (fs2 locks offset 0, length 2^64 - 1).
#[cfg(any(windows, all(unix, any(test, feature = "windows-rules-for-tests"))))]
pub(crate) const WINDOWS_LOCK_OFFSET: u64 = 1 << 62;

/// Reads `file` at `offset` into `buf`; returns how many bytes were read (0 at the end). Does
/// not move the file's cursor on Unix; on Windows it does, which no caller relies on (every
/// read of the crate's files is positional, and appends go to the end whatever the cursor).
pub(crate) fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    #[cfg(all(unix, any(test, feature = "windows-rules-for-tests")))]
    rules::check_read(file, offset, buf.len() as u64)?;
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_at(file, buf, offset)
    }
    #[cfg(windows)]
    {
        std::os::windows::fs::FileExt::seek_read(file, buf, offset)
    }
}

/// Reads `file` at `offset` into `buf` until `buf` is full or the file ends; returns how many
/// bytes were read.
pub(crate) fn read_up_to(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match read_at(file, &mut buf[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Reads exactly `buf.len()` bytes of `file` at `offset`, or fails with `UnexpectedEof`.
pub(crate) fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    if read_up_to(file, buf, offset)? < buf.len() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the file ended before the bytes asked for",
        ));
    }
    Ok(())
}

/// Which file a path or handle is: device and inode on Unix, volume serial number and file
/// index on Windows. Two ids are equal exactly when they name the same file, so a file renamed
/// over another one has a new id under the old name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FileId {
    device: u64,
    file: u64,
}

/// The id of the open file `file`.
pub(crate) fn file_id(file: &File) -> io::Result<FileId> {
    #[cfg(unix)]
    {
        Ok(id_of_metadata(&file.metadata()?))
    }
    #[cfg(windows)]
    {
        windows::file_id(file)
    }
}

/// The id of the file at `path` now.
pub(crate) fn path_id(path: &Path) -> io::Result<FileId> {
    #[cfg(unix)]
    {
        Ok(id_of_metadata(&std::fs::metadata(path)?))
    }
    #[cfg(windows)]
    {
        // The metadata of a path carries no file index on Windows (std keeps that API
        // unstable): open it, which std does sharing read, write and delete, so the short
        // open blocks nobody.
        windows::file_id(&File::open(path)?)
    }
}

/// The id of the file at `path`, whose metadata `meta` was just read: taken from `meta` on
/// Unix, without looking again; on Windows the file is opened, as for [`path_id`].
pub(crate) fn path_id_of(path: &Path, meta: &std::fs::Metadata) -> io::Result<FileId> {
    #[cfg(unix)]
    {
        let _ = path;
        Ok(id_of_metadata(meta))
    }
    #[cfg(windows)]
    {
        let _ = meta;
        path_id(path)
    }
}

#[cfg(unix)]
fn id_of_metadata(meta: &std::fs::Metadata) -> FileId {
    use std::os::unix::fs::MetadataExt;
    FileId {
        device: meta.dev(),
        file: meta.ino(),
    }
}

/// Takes the writer's exclusive lock on `file` without waiting. Fails with
/// [`io::ErrorKind::WouldBlock`] when another handle holds it (in this process or another);
/// other errors are the operating system's. The lock goes when the handle is closed.
pub(crate) fn try_lock(file: &File) -> io::Result<()> {
    #[cfg(unix)]
    {
        file.try_lock().map_err(io::Error::from)?;
        // What Windows would lock, for the tests that check reads against its rules.
        #[cfg(all(unix, any(test, feature = "windows-rules-for-tests")))]
        rules::locked(file, WINDOWS_LOCK_OFFSET..WINDOWS_LOCK_OFFSET + 1);
        Ok(())
    }
    #[cfg(windows)]
    {
        windows::try_lock(file)
    }
}

/// Whether `error`, from renaming a file over another, says that the target is open: Windows
/// refuses to replace an open file where it lacks POSIX rename semantics (before Windows 10
/// 1607, on FAT and network file systems, under wine). std asks for those semantics where they
/// exist, so on NTFS a rename over a file that readers hold open succeeds as on Unix.
pub(crate) fn target_in_use(error: &io::Error) -> bool {
    cfg!(windows) && error.kind() == io::ErrorKind::PermissionDenied
}

/// Renames `from` over `to`. Where the OS refuses because `to` is open ([`target_in_use`]),
/// retries for about a second, as readers open the file only for the length of a call.
pub(crate) fn rename(from: &Path, to: &Path) -> io::Result<()> {
    let mut wait = std::time::Duration::from_millis(1);
    loop {
        match std::fs::rename(from, to) {
            Err(e) if target_in_use(&e) && wait.as_millis() <= 512 => {
                std::thread::sleep(wait);
                wait *= 2;
            }
            result => return result,
        }
    }
}

/// Makes the entries of directory `dir` durable: `fsync` of the directory on Unix; nothing on
/// Windows, which cannot open a directory as a file and journals its metadata.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(windows)]
    {
        let _ = dir;
        Ok(())
    }
}

/// Opens the existing file `path` so that its data can be synced: for reading on Unix, for
/// writing on Windows (which flushes only through a handle that may write). Never creates it.
pub(crate) fn open_to_sync(path: &Path) -> io::Result<File> {
    #[cfg(unix)]
    {
        File::open(path)
    }
    #[cfg(windows)]
    {
        std::fs::OpenOptions::new().write(true).open(path)
    }
}

/// Tells the kernel that `map` will be read from start to end. A hint only: where the OS has
/// no such advice, or refuses it, nothing but speed changes.
pub(crate) fn advise_sequential(map: &memmap2::Mmap) {
    #[cfg(unix)]
    {
        let _ = map.advise(memmap2::Advice::Sequential);
    }
    #[cfg(not(unix))]
    {
        let _ = map;
    }
}

/// Lowers the calling thread's CPU priority, for work in the background that must yield to
/// the program's own threads when they compete for a core: ten steps of `nice` more on Linux
/// (where the threads it then starts inherit it), below normal on Windows; nothing elsewhere.
/// A hint only: where it is refused, nothing but who runs first changes.
pub(crate) fn lower_thread_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: `gettid`, `getpriority` and `setpriority` take plain integers and act on the
        // calling thread alone (on Linux the nice value belongs to a thread); `errno` is the
        // calling thread's.
        unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            *libc::__errno_location() = 0;
            let nice = libc::getpriority(libc::PRIO_PROCESS, tid);
            if nice != -1 || *libc::__errno_location() == 0 {
                libc::setpriority(libc::PRIO_PROCESS, tid, (nice + 10).min(19));
            }
        }
    }
    #[cfg(windows)]
    {
        use windows_sys::Win32::System::Threading::{
            GetCurrentThread, SetThreadPriority, THREAD_PRIORITY_BELOW_NORMAL,
        };
        // SAFETY: the pseudo-handle of the calling thread is always valid.
        unsafe {
            SetThreadPriority(GetCurrentThread(), THREAD_PRIORITY_BELOW_NORMAL);
        }
    }
}

#[cfg(windows)]
mod windows {
    use super::FileId;
    use std::fs::File;
    use std::io;
    use std::os::windows::io::AsRawHandle;
    use windows_sys::Win32::Foundation::{ERROR_IO_PENDING, ERROR_LOCK_VIOLATION};
    use windows_sys::Win32::Storage::FileSystem::{
        BY_HANDLE_FILE_INFORMATION, GetFileInformationByHandle, LOCKFILE_EXCLUSIVE_LOCK,
        LOCKFILE_FAIL_IMMEDIATELY, LockFileEx,
    };
    use windows_sys::Win32::System::IO::OVERLAPPED;

    const LOCK_OFFSET: u64 = super::WINDOWS_LOCK_OFFSET;

    pub(super) fn file_id(file: &File) -> io::Result<FileId> {
        let mut info = BY_HANDLE_FILE_INFORMATION::default();
        // SAFETY: the handle is open for the duration of the call (borrowed from `file`), and
        // `info` is a valid, writable structure of the type the call fills.
        let ok = unsafe { GetFileInformationByHandle(file.as_raw_handle() as _, &mut info) };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(FileId {
            device: u64::from(info.dwVolumeSerialNumber),
            file: (u64::from(info.nFileIndexHigh) << 32) | u64::from(info.nFileIndexLow),
        })
    }

    pub(super) fn try_lock(file: &File) -> io::Result<()> {
        let mut overlapped = OVERLAPPED::default();
        overlapped.Anonymous.Anonymous.Offset = LOCK_OFFSET as u32;
        overlapped.Anonymous.Anonymous.OffsetHigh = (LOCK_OFFSET >> 32) as u32;
        // SAFETY: the handle is open for the duration of the call, and `overlapped` lives
        // until it returns: with LOCKFILE_FAIL_IMMEDIATELY on a handle std opened for
        // synchronous I/O, the call completes before returning (ERROR_IO_PENDING is handled
        // below as a failure all the same).
        let ok = unsafe {
            LockFileEx(
                file.as_raw_handle() as _,
                LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY,
                0,
                1,
                0,
                &mut overlapped,
            )
        };
        if ok != 0 {
            return Ok(());
        }
        let error = io::Error::last_os_error();
        match error.raw_os_error() {
            Some(code)
                if code == ERROR_LOCK_VIOLATION as i32 || code == ERROR_IO_PENDING as i32 =>
            {
                Err(io::Error::new(io::ErrorKind::WouldBlock, error))
            }
            _ => Err(error),
        }
    }
}

/// Windows' rules for mapped and locked files, kept on Unix for the tests, so that the
/// writer's rotation and repair and the readers are checked against them on Linux
/// (`store/fault.rs` enforces them in its Windows mode, and the file system layer always with
/// the `windows-rules-for-tests` feature, under which the whole test suite can run):
///
/// - a file that a reader has mapped cannot be truncated, removed or renamed over
///   (`ERROR_USER_MAPPED_FILE`); maps are registered here as they are made and dropped;
/// - a locked byte range cannot be read through another handle (`ERROR_LOCK_VIOLATION`); the
///   writer's lock registers the range Windows would lock, and positional reads check it;
/// - [`copy_instead_of_mapping`] makes readers follow the Windows policy on this OS.
#[cfg(all(unix, any(test, feature = "windows-rules-for-tests")))]
pub(crate) mod rules {
    use super::{FileId, file_id, path_id};
    use std::collections::HashMap;
    use std::fs::File;
    use std::io;
    use std::ops::Range;
    use std::path::Path;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static MAPPED: Mutex<Option<HashMap<FileId, usize>>> = Mutex::new(None);
    /// Locked ranges: the file, the handle that holds the lock, the range.
    static LOCKED: Mutex<Vec<(FileId, Holder, Range<u64>)>> = Mutex::new(Vec::new());
    static COPYING: AtomicUsize = AtomicUsize::new(0);

    /// A handle, told apart by its descriptor.
    type Holder = i64;

    fn holder(file: &File) -> Holder {
        use std::os::fd::AsRawFd;
        i64::from(file.as_raw_fd())
    }

    /// Whether readers copy instead of mapping, as on Windows: always with the
    /// `windows-rules-for-tests` feature, else while a test asks for it.
    pub(crate) fn copying() -> bool {
        cfg!(feature = "windows-rules-for-tests") || COPYING.load(Ordering::SeqCst) > 0
    }

    /// Readers of this process copy instead of mapping, as on Windows, until the guard goes.
    /// (Process-wide: other tests that run meanwhile copy too, which changes nothing but their
    /// speed.)
    #[cfg(test)]
    pub(crate) fn copy_instead_of_mapping() -> Copying {
        COPYING.fetch_add(1, Ordering::SeqCst);
        Copying
    }

    #[cfg(test)]
    pub(crate) struct Copying;

    #[cfg(test)]
    impl Drop for Copying {
        fn drop(&mut self) {
            COPYING.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// A live map of a file, registered until dropped.
    #[derive(Debug)]
    pub(crate) struct Mapped(Option<FileId>);

    impl Mapped {
        pub(crate) fn of(file: &File) -> Mapped {
            let id = file_id(file).ok();
            if let Some(id) = id {
                *MAPPED
                    .lock()
                    .unwrap()
                    .get_or_insert_with(HashMap::new)
                    .entry(id)
                    .or_default() += 1;
            }
            Mapped(id)
        }
    }

    impl Drop for Mapped {
        fn drop(&mut self) {
            if let Some(id) = self.0
                && let Some(maps) = MAPPED.lock().unwrap().as_mut()
                && let Some(count) = maps.get_mut(&id)
            {
                *count -= 1;
                if *count == 0 {
                    maps.remove(&id);
                }
            }
        }
    }

    /// Whether a reader holds a map of the file at `path`.
    pub(crate) fn is_mapped(path: &Path) -> bool {
        let Ok(id) = path_id(path) else {
            return false;
        };
        MAPPED
            .lock()
            .unwrap()
            .as_ref()
            .is_some_and(|maps| maps.contains_key(&id))
    }

    /// Records that `file` holds a lock on `range` of its file. (Each handle records one lock:
    /// a lock recorded before under the same descriptor was its previous handle's, since closed.)
    pub(crate) fn locked(file: &File, range: Range<u64>) {
        if let Ok(id) = file_id(file) {
            let by = holder(file);
            let mut locks = LOCKED.lock().unwrap();
            locks.retain(|(_, holder, _)| *holder != by);
            locks.push((id, by, range));
        }
    }

    /// Fails as Windows does when `len` bytes at `offset` of `file` lie in a range another
    /// handle has locked. Locks in the way whose handle has been closed (its descriptor now
    /// names another file, or none) are forgotten.
    ///
    /// Only the holders of locks in the way are looked up, so never a writer (whose byte no
    /// read reaches): looking a descriptor up in `/proc/self/fd` holds its open file until the
    /// call returns, so a writer that its thread closed meanwhile kept its `flock` until then,
    /// and that thread, reopening the log at once, found it locked by "another writer".
    pub(crate) fn check_read(file: &File, offset: u64, len: u64) -> io::Result<()> {
        let mut locks = LOCKED.lock().unwrap();
        if locks.is_empty() {
            return Ok(());
        }
        let Ok(id) = file_id(file) else {
            return Ok(());
        };
        let me = holder(file);
        let read = offset..offset.saturating_add(len);
        let in_the_way = |(locked_id, by, range): &(FileId, Holder, Range<u64>)| {
            *locked_id == id && *by != me && range.start < read.end && read.start < range.end
        };
        locks.retain(|lock| {
            let &(locked_id, by, _) = lock;
            !in_the_way(lock) || still_holds(by, locked_id)
        });
        if locks.iter().any(in_the_way) {
            return Err(io::Error::other(
                "the process cannot access the file because another process has locked a \
                 portion of the file (ERROR_LOCK_VIOLATION, Windows rules)",
            ));
        }
        Ok(())
    }

    /// Whether the handle `holder` is still open on the file `id`: its descriptor is looked up
    /// in `/proc/self/fd` on Linux; elsewhere it is taken for closed.
    fn still_holds(holder: Holder, id: FileId) -> bool {
        #[cfg(test)]
        LOOKUPS.with(|n| n.set(n.get() + 1));
        #[cfg(target_os = "linux")]
        {
            std::fs::metadata(format!("/proc/self/fd/{holder}"))
                .map(|meta| super::id_of_metadata(&meta) == id)
                .unwrap_or(false)
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (holder, id);
            false
        }
    }

    #[cfg(test)]
    thread_local! {
        /// How many handles [`still_holds`] looked up on this thread.
        static LOOKUPS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }

    /// How many handles this thread looked up to check its reads against locks.
    #[cfg(test)]
    pub(crate) fn lookups() -> u64 {
        LOOKUPS.with(std::cell::Cell::get)
    }

    /// The error Windows gives for a truncate, removal or rename over a mapped file.
    pub(crate) fn mapped_error(path: &Path) -> io::Error {
        io::Error::other(format!(
            "{}: the requested operation cannot be performed on a file with a user-mapped \
             section open (ERROR_USER_MAPPED_FILE, Windows rules)",
            path.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn positional_reads_read_where_asked_and_stop_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"0123456789").unwrap();
        let file = File::open(&path).unwrap();
        let mut buf = [0u8; 4];
        read_exact_at(&file, &mut buf, 3).unwrap();
        assert_eq!(&buf, b"3456");
        assert_eq!(read_at(&file, &mut buf, 8).unwrap(), 2);
        assert_eq!(&buf[..2], b"89");
        assert_eq!(read_at(&file, &mut buf, 10).unwrap(), 0);
        let err = read_exact_at(&file, &mut buf, 8).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn a_file_keeps_its_id_and_a_file_renamed_over_it_has_another() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, b"a").unwrap();
        std::fs::write(&b, b"b").unwrap();
        let file = File::open(&a).unwrap();
        let id = file_id(&file).unwrap();
        assert_eq!(path_id(&a).unwrap(), id);
        assert_ne!(path_id(&b).unwrap(), id);
        drop(file);
        std::fs::rename(&b, &a).unwrap();
        assert_ne!(path_id(&a).unwrap(), id);
    }

    #[test]
    fn the_lock_excludes_a_second_handle_and_not_its_readers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.jsonl");
        let mut writer = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&path)
            .unwrap();
        writer.write_all(b"{}\n").unwrap();
        try_lock(&writer).unwrap();
        let second = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        let err = try_lock(&second).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock, "{err}");
        // Readers read through their own handles while the lock is held.
        let reader = File::open(&path).unwrap();
        let mut buf = [0u8; 3];
        read_exact_at(&reader, &mut buf, 0).unwrap();
        assert_eq!(&buf, b"{}\n");
        assert_eq!(std::fs::read(&path).unwrap(), b"{}\n");
        // Closing the holder frees the lock.
        drop(writer);
        try_lock(&second).unwrap();
    }

    /// The nice value of the calling thread, from `/proc` (field 19 of its `stat`, counted
    /// after the command name, which may hold spaces).
    #[cfg(target_os = "linux")]
    fn nice_of_this_thread() -> i64 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        after_name.split(' ').nth(16).unwrap().parse().unwrap()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_lowered_thread_runs_ten_steps_nicer_and_its_children_too() {
        let before = nice_of_this_thread();
        let (own, child) = std::thread::spawn(|| {
            lower_thread_priority();
            let child = std::thread::spawn(nice_of_this_thread).join().unwrap();
            (nice_of_this_thread(), child)
        })
        .join()
        .unwrap();
        assert_eq!(own, (before + 10).min(19));
        assert_eq!(child, own);
        // The calling thread is left as it was.
        assert_eq!(nice_of_this_thread(), before);
    }

    /// A read looks up no writer's handle: the lookup would hold the writer's open file, and
    /// so its lock, past a close on another thread (see `rules::check_read`).
    #[cfg(unix)]
    #[test]
    fn reads_look_up_only_the_holders_of_locks_in_their_way() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.jsonl");
        std::fs::write(&path, b"{}\n").unwrap();
        let writer = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        try_lock(&writer).unwrap();
        let reader = File::open(&path).unwrap();
        let mut buf = [0u8; 3];
        let before = rules::lookups();
        read_exact_at(&reader, &mut buf, 0).unwrap();
        assert_eq!(
            rules::lookups(),
            before,
            "the writer's lock is in no read's way"
        );
        // A lock over the bytes read is in the way: its handle is looked up.
        let holder = File::open(&path).unwrap();
        rules::locked(&holder, 0..u64::MAX);
        let _ = read_at(&reader, &mut buf, 0);
        assert!(rules::lookups() > before);
        // Its handle closed, the next read forgets the lock.
        drop(holder);
        read_at(&reader, &mut buf, 0).unwrap();
    }

    #[test]
    fn a_directory_can_be_synced_and_a_file_synced_by_name() {
        let dir = tempfile::tempdir().unwrap();
        sync_dir(dir.path()).unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"x").unwrap();
        open_to_sync(&path).unwrap().sync_data().unwrap();
        assert!(open_to_sync(&dir.path().join("missing")).is_err());
    }
}
