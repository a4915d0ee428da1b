//! Fault injection and crash images for the write path (tests only).
//!
//! [`FaultFs`] wraps the real file system behind [`Fs`]: it counts operations, can fail the Nth
//! one (with EIO, ENOSPC or a short write), and keeps a model of what had been made durable
//! (file contents as of their last sync, directory entries as of their directory's last sync),
//! from which it builds the directory a power cut before each operation would leave.
//!
//! In its Windows mode ([`FaultFs::with_windows_rules`]) it also refuses what Windows refuses:
//! truncating, removing or renaming over a file that a reader has mapped (the rules are kept
//! in `store::platform::rules`, which also refuses reads of a range another handle locked).

use crate::store::fsutil::{Fs, OsFs};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

thread_local! {
    static INSTALLED: RefCell<Option<Arc<dyn Fs>>> = const { RefCell::new(None) };
}

/// The file system a test installed for this thread, if any.
pub(crate) fn installed() -> Option<Arc<dyn Fs>> {
    INSTALLED.with(|fs| fs.borrow().clone())
}

/// Installs `fs` for this thread until the guard is dropped. (A view's background rebuild
/// installs its caller's, so that its files are part of the model.)
pub(crate) fn install(fs: Arc<dyn Fs>) -> Installed {
    INSTALLED.with(|slot| *slot.borrow_mut() = Some(fs));
    Installed
}

pub(crate) struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        INSTALLED.with(|slot| *slot.borrow_mut() = None);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    Eio,
    NoSpace,
    /// A write stores half its bytes, then fails; other operations fail with EIO.
    ShortWrite,
}

impl Failure {
    fn error(self) -> io::Error {
        match self {
            // The OS's own codes, so that messages and kinds are those a user would see:
            // EIO and ENOSPC on Unix; on Windows ERROR_CRC (a device's data error; its
            // "access denied", code 5 there, would read as a file in use) and
            // ERROR_DISK_FULL.
            Failure::Eio | Failure::ShortWrite => {
                io::Error::from_raw_os_error(if cfg!(windows) { 23 } else { 5 })
            }
            Failure::NoSpace => io::Error::from_raw_os_error(if cfg!(windows) { 112 } else { 28 }),
        }
    }
}

/// A file's bytes now and as of its last sync.
#[derive(Debug, Clone, Default)]
struct Object {
    current: Vec<u8>,
    durable: Option<Vec<u8>>,
}

/// What is on disk, and what a power cut would leave of it.
#[derive(Debug, Default)]
struct Model {
    objects: Vec<Object>,
    names: HashMap<PathBuf, usize>,
    durable_names: HashMap<PathBuf, usize>,
}

impl Model {
    fn new_object(&mut self, path: &Path) -> usize {
        self.objects.push(Object::default());
        let id = self.objects.len() - 1;
        self.names.insert(path.to_path_buf(), id);
        id
    }

    fn reread(&mut self, path: &Path) {
        let id = match self.names.get(path) {
            Some(&id) => id,
            None => self.new_object(path),
        };
        self.objects[id].current = std::fs::read(path).unwrap_or_default();
    }

    /// The files a power cut now would leave: durable names with durable contents.
    fn image(&self) -> Image {
        let mut files: Vec<_> = self
            .durable_names
            .iter()
            .map(|(path, &id)| {
                (
                    path.clone(),
                    self.objects[id].durable.clone().unwrap_or_default(),
                )
            })
            .collect();
        files.sort();
        files
    }
}

/// The files of a directory image, by path.
type Image = Vec<(PathBuf, Vec<u8>)>;

struct State {
    ops: u64,
    fail_at: Option<(u64, Failure)>,
    failed: bool,
    model: Model,
    /// Power-cut images taken before each operation, with the caller's note at that time.
    images: Option<Vec<(u64, Image)>>,
    note: u64,
}

/// A file system that counts, fails and records.
struct FaultFs {
    state: Mutex<State>,
    /// Refuse what Windows refuses on mapped files (simulated on Unix; Windows enforces it).
    #[cfg(unix)]
    windows_rules: bool,
}

impl FaultFs {
    fn new(fail_at: Option<(u64, Failure)>, record_images: bool) -> Arc<Self> {
        Arc::new(FaultFs {
            state: Mutex::new(State {
                ops: 0,
                fail_at,
                failed: false,
                model: Model::default(),
                images: record_images.then(Vec::new),
                note: 0,
            }),
            #[cfg(unix)]
            windows_rules: false,
        })
    }

    /// A file system that fails nothing and refuses what Windows refuses: truncating,
    /// removing or renaming over a file that a reader has mapped.
    #[cfg(unix)]
    fn with_windows_rules() -> Arc<Self> {
        let mut fs = Arc::into_inner(FaultFs::new(None, false)).expect("just made");
        fs.windows_rules = true;
        Arc::new(fs)
    }

    /// Fails as Windows would if `path` is mapped by a reader, in the Windows mode.
    fn refuse_if_mapped(&self, path: &Path) -> io::Result<()> {
        #[cfg(unix)]
        if self.windows_rules && crate::store::platform::rules::is_mapped(path) {
            return Err(crate::store::platform::rules::mapped_error(path));
        }
        let _ = path;
        Ok(())
    }

    /// Counts an operation; returns the failure to inject, if this is the one.
    fn step(&self) -> Option<Failure> {
        let mut guard = self.state.lock().unwrap();
        let state = &mut *guard;
        if let Some(images) = state.images.as_mut() {
            images.push((state.note, state.model.image()));
        }
        let op = state.ops;
        state.ops += 1;
        match state.fail_at {
            Some((at, failure)) if at == op => {
                state.failed = true;
                Some(failure)
            }
            _ => None,
        }
    }

    fn with_model(&self, f: impl FnOnce(&mut Model)) {
        f(&mut self.state.lock().unwrap().model);
    }
}

impl Fs for FaultFs {
    fn open_append(&self, path: &Path) -> io::Result<(File, bool)> {
        if let Some(failure) = self.step() {
            return Err(failure.error());
        }
        let (file, created) = OsFs.open_append(path)?;
        self.with_model(|m| {
            if created || !m.names.contains_key(path) {
                m.new_object(path);
            }
        });
        Ok((file, created))
    }

    fn create_new(&self, path: &Path) -> io::Result<File> {
        if let Some(failure) = self.step() {
            return Err(failure.error());
        }
        let file = OsFs.create_new(path)?;
        self.with_model(|m| {
            m.new_object(path);
        });
        Ok(file)
    }

    fn create(&self, path: &Path) -> io::Result<File> {
        if let Some(failure) = self.step() {
            return Err(failure.error());
        }
        let file = OsFs.create(path)?;
        self.with_model(|m| m.reread(path));
        Ok(file)
    }

    fn write_all(&self, file: &mut File, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let result = match self.step() {
            Some(Failure::ShortWrite) => OsFs
                .write_all(file, path, &bytes[..bytes.len() / 2])
                .and(Err(Failure::ShortWrite.error())),
            Some(failure) => Err(failure.error()),
            None => OsFs.write_all(file, path, bytes),
        };
        self.with_model(|m| m.reread(path));
        result
    }

    fn sync_data(&self, file: &File, path: &Path) -> io::Result<()> {
        if let Some(failure) = self.step() {
            return Err(failure.error());
        }
        // Durability is what the model tracks; the real fsync would only slow the tests down.
        let _ = file;
        self.with_model(|m| {
            m.reread(path);
            let id = m.names[path];
            m.objects[id].durable = Some(m.objects[id].current.clone());
        });
        Ok(())
    }

    fn set_len(&self, file: &File, path: &Path, len: u64) -> io::Result<()> {
        if let Some(failure) = self.step() {
            return Err(failure.error());
        }
        self.refuse_if_mapped(path)?;
        OsFs.set_len(file, path, len)?;
        self.with_model(|m| m.reread(path));
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        if let Some(failure) = self.step() {
            return Err(failure.error());
        }
        self.refuse_if_mapped(to)?;
        OsFs.rename(from, to)?;
        self.with_model(|m| {
            if let Some(id) = m.names.remove(from) {
                m.names.insert(to.to_path_buf(), id);
            }
        });
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<bool> {
        if let Some(failure) = self.step() {
            return Err(failure.error());
        }
        self.refuse_if_mapped(path)?;
        let removed = OsFs.remove(path)?;
        self.with_model(|m| {
            m.names.remove(path);
        });
        Ok(removed)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        if let Some(failure) = self.step() {
            return Err(failure.error());
        }
        self.with_model(|m| {
            let in_dir = |p: &PathBuf| p.parent() == Some(dir);
            m.durable_names.retain(|p, _| !in_dir(p));
            let entries: Vec<_> = m
                .names
                .iter()
                .filter(|(p, _)| in_dir(p))
                .map(|(p, &id)| (p.clone(), id))
                .collect();
            m.durable_names.extend(entries);
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Error, Event, EventLog, EventReader, View};
    use serde_json::json;

    fn count(n: u64, _event: &Event) -> u64 {
        n + 1
    }

    /// Sums `data.n` in order, so a lost, duplicated or reordered event changes it.
    fn ordered(state: Vec<u64>, event: &Event) -> Vec<u64> {
        let mut state = state;
        state.push(event.data["n"].as_u64().unwrap_or(u64::MAX));
        state
    }

    fn event(n: u64) -> Event {
        let mut event = Event::new("e", json!({"n": n, "text": "payload ✓ \"quoted\""}));
        event.ts = 1_700_000_000 + n;
        event
    }

    fn open(dir: &Path) -> io::Result<EventLog> {
        EventLog::builder(dir)
            .max_log_size(600)
            .view::<u64>("count", count)
            .view::<Vec<u64>>("ordered", ordered)
            .open()
    }

    /// The workload: every kind of write, with rotations (manual and automatic) and refreshes.
    /// Records in `acked` the events whose append returned `Ok`; stops at the first error.
    fn workload(dir: &Path, acked: &mut Vec<u64>, note: &dyn Fn(u64)) -> io::Result<()> {
        let mut log = open(dir)?;
        let mut n = 0u64;
        let ack = |acked: &mut Vec<u64>, upto: u64| {
            acked.extend(acked.last().map_or(0, |l| l + 1)..upto);
            note(acked.len() as u64);
        };
        for round in 0..3 {
            for _ in 0..3 {
                log.append(&event(n))?;
                n += 1;
                ack(acked, n);
            }
            let batch: Vec<Event> = (n..n + 3).map(event).collect();
            log.append_batch(&batch)?;
            n += 3;
            ack(acked, n);
            let offset = log.active_log_size()?;
            let hash = log.read_line_hash_before(offset)?.unwrap_or_default();
            log.append_if(&event(n), offset, &hash)
                .map_err(|e| match e {
                    crate::ConditionalAppendError::Io(e) => e,
                    other => io::Error::other(other.to_string()),
                })?;
            n += 1;
            ack(acked, n);
            log.refresh_all()?;
            if round == 1 {
                log.rotate()?;
            }
        }
        Ok(())
    }

    /// Checks a directory after a failure or a crash: every acknowledged event is there once,
    /// in order; anything after them is the tail of the sequence; views equal the fold.
    fn check_recovered(dir: &Path, acked: &[u64], context: &str) {
        let mut log = open(dir).unwrap_or_else(|e| panic!("{context}: reopening failed: {e}"));
        let events: Vec<u64> = log
            .read_full()
            .unwrap()
            .map(|r| r.map(|(e, _)| e.data["n"].as_u64().unwrap()))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{context}: reading failed: {e}"));
        let expected: Vec<u64> = (0..events.len() as u64).collect();
        assert_eq!(
            events, expected,
            "{context}: events out of order, duplicated or missing"
        );
        assert!(
            events.len() >= acked.len(),
            "{context}: {} acknowledged events, {} found",
            acked.len(),
            events.len()
        );
        log.refresh_all()
            .unwrap_or_else(|e| panic!("{context}: refresh failed: {e}"));
        assert_eq!(
            *log.view::<u64>("count").unwrap(),
            events.len() as u64,
            "{context}"
        );
        assert_eq!(
            log.view::<Vec<u64>>("ordered").unwrap(),
            &events,
            "{context}"
        );
        // A view built from nothing agrees too.
        let mut fresh: View<Vec<u64>> = View::new("fresh", ordered, log.views_dir());
        assert_eq!(
            fresh.rebuild(&EventReader::new(dir)).unwrap(),
            &events,
            "{context}"
        );
    }

    fn total_ops() -> u64 {
        let dir = tempfile::tempdir().unwrap();
        let fs = FaultFs::new(None, false);
        let _guard = install(fs.clone());
        workload(dir.path(), &mut Vec::new(), &|_| {}).unwrap();
        fs.state.lock().unwrap().ops
    }

    #[test]
    fn every_failed_operation_is_an_error_and_loses_nothing_acknowledged() {
        let total = total_ops();
        assert!(
            total > 50,
            "the workload exercises the write path ({total} operations)"
        );
        let cases: Vec<(Failure, u64)> = [Failure::Eio, Failure::NoSpace, Failure::ShortWrite]
            .into_iter()
            .flat_map(|failure| (0..total).map(move |at| (failure, at)))
            .collect();
        // Each case has its own directory and its own file system (installed per thread), so
        // they run on a few threads: mostly waiting on syncs, they take a third of the time.
        let next = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    while let Some(&(failure, at)) =
                        cases.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                    {
                        let dir = tempfile::tempdir().unwrap();
                        let mut acked = Vec::new();
                        let fs = FaultFs::new(Some((at, failure)), false);
                        let outcome = {
                            let _guard = install(fs.clone());
                            workload(dir.path(), &mut acked, &|_| {})
                        };
                        let context = format!("{failure:?} at operation {at} of {total}");
                        assert!(outcome.is_err(), "{context}: the failure was not reported");
                        assert!(fs.state.lock().unwrap().failed, "{context}");
                        check_recovered(dir.path(), &acked, &context);
                    }
                });
            }
        });
    }

    #[test]
    fn a_failed_sync_stops_the_writer_until_it_is_reopened() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path()).unwrap();
        log.append(&event(0)).unwrap();
        // Fail the next operation, the append's write... then its sync.
        for failure_op in [0, 1] {
            let fs = FaultFs::new(Some((failure_op, Failure::Eio)), false);
            let _guard = install(fs);
            assert!(log.append(&event(1)).is_err());
            let refused = log.append(&event(1)).unwrap_err();
            assert!(
                matches!(Error::from_io(&refused), Some(Error::Poisoned { .. })),
                "unexpected error {refused}"
            );
        }
        drop(log);
        let mut log = open(dir.path()).unwrap();
        log.append(&event(1)).unwrap();
        let acked = [0, 1];
        drop(log);
        check_recovered(dir.path(), &acked, "after reopening");
    }

    /// The durable state of `views/NAME.snapshot.json` in the model, parsed.
    fn durable_snapshot(fs: &FaultFs, dir: &Path, name: &str) -> Option<serde_json::Value> {
        let path = dir.join("views").join(format!("{name}.snapshot.json"));
        let image = fs.state.lock().unwrap().model.image();
        let (_, bytes) = image.into_iter().find(|(p, _)| *p == path)?;
        Some(serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
    }

    #[test]
    fn refreshes_save_without_syncs_and_rebuilds_and_rotations_durably() {
        let dir = tempfile::tempdir().unwrap();
        let fs = FaultFs::new(None, false);
        let _guard = install(fs.clone());
        let mut log = EventLog::builder(dir.path())
            .view::<u64>("count", count)
            .open()
            .unwrap();
        for n in 0..3 {
            log.append(&event(n)).unwrap();
        }
        log.refresh_all().unwrap();
        let on_disk = std::fs::read(dir.path().join("views/count.snapshot.json")).unwrap();
        assert!(!on_disk.is_empty(), "the refresh saved");
        assert_eq!(
            durable_snapshot(&fs, dir.path(), "count"),
            None,
            "a refresh does not sync its snapshot"
        );

        let mut view: View<u64> = View::new("count", count, log.views_dir());
        view.rebuild(&log.reader()).unwrap();
        let durable = durable_snapshot(&fs, dir.path(), "count").expect("a rebuild syncs");
        assert_eq!(durable["state"], 3);

        log.append(&event(3)).unwrap();
        log.rotate().unwrap();
        let durable = durable_snapshot(&fs, dir.path(), "count").expect("a rotation syncs");
        assert_eq!(
            (&durable["state"], &durable["offset"]),
            (&json!(4), &json!(0))
        );
    }

    #[test]
    fn a_power_cut_before_any_operation_leaves_a_recoverable_directory() {
        let dir = tempfile::tempdir().unwrap();
        let fs = FaultFs::new(None, true);
        let mut acked = Vec::new();
        {
            let _guard = install(fs.clone());
            let fs_note = fs.clone();
            workload(dir.path(), &mut acked, &move |n| {
                fs_note.state.lock().unwrap().note = n
            })
            .unwrap();
        }
        let images = fs.state.lock().unwrap().images.take().unwrap();
        assert!(images.len() > 50);
        for (step, (acked_then, files)) in images.iter().enumerate() {
            let image = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(image.path().join("views")).unwrap();
            for (path, bytes) in files {
                let relative = path.strip_prefix(dir.path()).unwrap();
                std::fs::write(image.path().join(relative), bytes).unwrap();
            }
            let acked: Vec<u64> = (0..*acked_then).collect();
            check_recovered(
                image.path(),
                &acked,
                &format!("power cut before operation {step}"),
            );
        }
    }

    /// Writes a power-cut image (`files`, taken in `dir`) into a new directory.
    fn materialize(dir: &Path, files: &Image) -> tempfile::TempDir {
        let image = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(image.path().join("views")).unwrap();
        for (path, bytes) in files {
            let relative = path.strip_prefix(dir).unwrap();
            std::fs::write(image.path().join(relative), bytes).unwrap();
        }
        image
    }

    /// A background rebuild, with appends and rotations while it folds, then the swap: a power
    /// cut before any operation (of the log's thread or the rebuild's) leaves a directory where
    /// the old view still serves, a rebuild to the new version ends right (resuming from the
    /// shadow or not), and the program registering the new version gets the new fold.
    #[test]
    fn a_power_cut_during_a_background_rebuild_leaves_the_old_view_serving() {
        use crate::ViewConfig;
        let v2 = || ViewConfig::new().version(2);
        let open_v1 = |dir: &Path| {
            EventLog::builder(dir)
                .max_log_size(600)
                .view::<u64>("count", count)
                .open()
        };
        let dir = tempfile::tempdir().unwrap();
        let fs = FaultFs::new(None, true);
        {
            let _guard = install(fs.clone());
            let mut log = open_v1(dir.path()).unwrap();
            for n in 0..30 {
                log.append(&event(n)).unwrap();
            }
            log.refresh_all().unwrap();
            log.start_rebuild::<Vec<u64>>("count", ordered, v2())
                .unwrap();
            for n in 30..40 {
                log.append(&event(n)).unwrap();
            }
            log.finish_rebuild("count").unwrap();
            for n in 40..45 {
                log.append(&event(n)).unwrap();
            }
            log.refresh_all().unwrap();
        }
        let images = fs.state.lock().unwrap().images.take().unwrap();
        assert!(images.len() > 50, "{} images", images.len());
        let mut swapped = 0;
        for (step, (_, files)) in images.iter().enumerate() {
            let context = format!("power cut before operation {step}");
            // Whether the swap's snapshot (version 2) is durable in this image.
            swapped += usize::from(files.iter().any(|(p, b)| {
                p.ends_with("views/count.snapshot.json")
                    && serde_json::from_slice::<serde_json::Value>(b)
                        .is_ok_and(|v| v["version"] == 2)
            }));
            let read = |dir: &Path| -> Vec<u64> {
                EventReader::new(dir)
                    .read_full()
                    .unwrap()
                    .map(|r| r.unwrap().0.data["n"].as_u64().unwrap())
                    .collect()
            };
            // The old program: its view is the old fold.
            let image = materialize(dir.path(), files);
            let mut log = open_v1(image.path()).unwrap();
            let events = read(image.path());
            assert_eq!(
                events,
                (0..events.len() as u64).collect::<Vec<_>>(),
                "{context}"
            );
            log.refresh_all().unwrap();
            assert_eq!(
                *log.view::<u64>("count").unwrap(),
                events.len() as u64,
                "{context}"
            );
            // ... which rebuilds again, from what the cut left.
            log.start_rebuild::<Vec<u64>>("count", ordered, v2())
                .unwrap();
            log.finish_rebuild("count")
                .unwrap_or_else(|e| panic!("{context}: {e}"));
            assert_eq!(log.view::<Vec<u64>>("count").unwrap(), &events, "{context}");
            drop(log);
            // The new program, on the same image as the cut left it.
            let image = materialize(dir.path(), files);
            let mut log = EventLog::builder(image.path())
                .view_with::<Vec<u64>>("count", ordered, v2())
                .open()
                .unwrap();
            log.refresh_all().unwrap();
            assert_eq!(log.view::<Vec<u64>>("count").unwrap(), &events, "{context}");
        }
        // The cuts fall before the swap and after it.
        assert!(
            0 < swapped && swapped < images.len(),
            "{swapped} of {}",
            images.len()
        );
    }

    /// Windows' rules, simulated where the OS does not enforce them (on Windows it does).
    #[cfg(unix)]
    mod windows_rules {
        use super::*;
        use std::io::Write;

        /// The tests of Windows' rules change process-wide state (whether readers map): one at a
        /// time.
        static WINDOWS_RULES: Mutex<()> = Mutex::new(());

        /// A log whose active file is past the size above which readers map it; returns its
        /// events' `n`.
        fn log_past_the_map_threshold(dir: &Path) -> (EventLog, Vec<u64>) {
            let mut log = EventLog::open(dir).unwrap();
            let pad = "x".repeat(1000);
            let events: Vec<Event> = (0..1200)
                .map(|n| Event::new("e", json!({ "n": n, "pad": pad })))
                .collect();
            log.append_batch(&events).unwrap();
            (log, (0..1200).collect())
        }

        fn read_ns(dir: &Path) -> Vec<u64> {
            EventReader::new(dir)
                .read_full()
                .unwrap()
                .map(|item| item.unwrap().0.data["n"].as_u64().unwrap())
                .collect()
        }

        /// The rules bite: with readers mapping (the Unix policy), a reader's map of `app.jsonl`
        /// makes the rotation's rename over it and the cut of a torn tail fail, as they would on
        /// Windows; a lock over the whole file (what std and fs2 take) makes reads through another
        /// handle fail. The next test shows that the Windows policy avoids all three.
        #[test]
        // Needs readers that map: the feature makes every reader copy.
        #[cfg(not(feature = "windows-rules-for-tests"))]
        fn windows_rules_refuse_what_windows_refuses() {
            use crate::store::{mmap, platform};
            let _serial = WINDOWS_RULES.lock().unwrap_or_else(|e| e.into_inner());
            let dir = tempfile::tempdir().unwrap();
            let log_path = dir.path().join("app.jsonl");
            let (mut log, _) = log_past_the_map_threshold(dir.path());
            let reader_file = File::open(&log_path).unwrap();
            let region = mmap::committed(&reader_file, 0).unwrap();
            assert!(
                matches!(region, mmap::Region::Mapped(..)),
                "the reader maps"
            );

            {
                let _fs = install(FaultFs::with_windows_rules());
                let err = log.rotate().unwrap_err();
                assert!(err.to_string().contains("ERROR_USER_MAPPED_FILE"), "{err}");
            }
            drop(log);

            // A torn tail under a live map: the writer that opens cannot cut it.
            std::fs::OpenOptions::new()
                .append(true)
                .open(&log_path)
                .unwrap()
                .write_all(b"{\"type\":\"torn")
                .unwrap();
            let region = mmap::committed(&File::open(&log_path).unwrap(), 0).unwrap();
            assert!(matches!(region, mmap::Region::Mapped(..)));
            {
                let _fs = install(FaultFs::with_windows_rules());
                let err = EventLog::open(dir.path()).map(drop).unwrap_err();
                assert!(err.to_string().contains("ERROR_USER_MAPPED_FILE"), "{err}");
            }
            drop(region);

            // A whole-file lock, as Windows' `LockFileEx` over every byte: reads through another
            // handle fail. Through the holder's own handle they do not.
            let holder = File::open(&log_path).unwrap();
            platform::rules::locked(&holder, 0..u64::MAX);
            let mut byte = [0u8; 1];
            let err = platform::read_at(&reader_file, &mut byte, 0).unwrap_err();
            assert!(err.to_string().contains("ERROR_LOCK_VIOLATION"), "{err}");
            platform::read_at(&holder, &mut byte, 0).unwrap();
            drop(holder);
            // Its handle closed, the lock is gone.
            platform::read_at(&reader_file, &mut byte, 0).unwrap();
        }

        /// The Windows policy under Windows' rules: readers copy instead of mapping, so readers
        /// that hold what they read of `app.jsonl` (a region, a `read_full` under way) block
        /// neither the rotation's rename nor the cut of a torn tail, and the writer's lock (one
        /// byte far past the end) blocks no read. Nothing is lost or read twice.
        #[test]
        fn the_windows_policy_rotates_repairs_and_reads_under_windows_rules() {
            use crate::store::{mmap, platform};
            let _serial = WINDOWS_RULES.lock().unwrap_or_else(|e| e.into_inner());
            let _copying = platform::rules::copy_instead_of_mapping();
            let dir = tempfile::tempdir().unwrap();
            let log_path = dir.path().join("app.jsonl");
            let (mut log, mut expected) = log_past_the_map_threshold(dir.path());

            // Readers read while the writer holds its lock.
            assert_eq!(read_ns(dir.path()), expected);
            let held = mmap::committed(&File::open(&log_path).unwrap(), 0).unwrap();
            assert!(matches!(held, mmap::Region::Read(..)), "the reader copies");
            let mut history = log.reader().read_full().unwrap();
            let first = history.next().unwrap().unwrap().0;
            {
                let _fs = install(FaultFs::with_windows_rules());
                log.rotate().unwrap();
                log.append(&Event::new("e", json!({ "n": 1200 }))).unwrap();
            }
            expected.push(1200);
            let mut read = vec![first.data["n"].as_u64().unwrap()];
            read.extend(history.map(|item| item.unwrap().0.data["n"].as_u64().unwrap()));
            assert_eq!(
                read,
                expected[..1200],
                "a history begun before the rotation"
            );
            assert_eq!(read_ns(dir.path()), expected);
            drop(log);

            // A torn tail, cut by the writer that opens while a reader holds a copy of the file.
            std::fs::OpenOptions::new()
                .append(true)
                .open(&log_path)
                .unwrap()
                .write_all(b"{\"type\":\"torn")
                .unwrap();
            let held = mmap::committed(&File::open(&log_path).unwrap(), 0).unwrap();
            {
                let _fs = install(FaultFs::with_windows_rules());
                let log = EventLog::open(dir.path()).unwrap();
                assert_eq!(log.reader().read_full().unwrap().count(), expected.len());
            }
            drop(held);
            assert_eq!(read_ns(dir.path()), expected);
        }
    }
}
