//! Views: state derived from the log by a reducer, cached in a snapshot file.

use crate::error::check_view_name;
use crate::event::{Event, EventRef};
use crate::fold::{self, LineFold};
use crate::fsutil;
use crate::reader::{EventReader, Folded};
use crate::recovery;
use crate::snapshot;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::any::Any;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// A reducer over owned events: takes the state and one event, returns the next state.
///
/// Reducers must be pure (no I/O, no clock, no randomness) so that replaying the log always gives
/// the same state, and should ignore event types they do not know (`_ => {}`), so that old
/// reducers keep working when new event types appear.
///
/// # Examples
///
/// ```
/// use eventfold::{Event, ReduceFn};
/// fn count(state: u64, _event: &Event) -> u64 {
///     state + 1
/// }
/// let reducer: ReduceFn<u64> = count;
/// assert_eq!(reducer(1, &Event::new("x", serde_json::json!(null))), 2);
/// ```
pub type ReduceFn<S> = fn(S, &Event) -> S;

/// A reducer over borrowed events ([`EventRef`]): the zero-copy counterpart of [`ReduceFn`].
///
/// The event borrows the log's bytes; only what the reducer asks for is decoded. Register it
/// with [`EventLogBuilder::view_ref`](crate::EventLogBuilder::view_ref).
///
/// # Examples
///
/// ```
/// use eventfold::{EventRef, ReduceRefFn};
/// fn count_clicks(state: u64, event: &EventRef<'_>) -> u64 {
///     if event.event_type() == "click" { state + 1 } else { state }
/// }
/// let reducer: ReduceRefFn<u64> = count_clicks;
/// let line = br#"{"type":"click","data":{},"ts":1}"#;
/// assert_eq!(reducer(0, &EventRef::parse(line)?), 1);
/// # Ok::<(), std::io::Error>(())
/// ```
pub type ReduceRefFn<S> = for<'a, 'b> fn(S, &'b EventRef<'a>) -> S;

mod sealed {
    pub trait Sealed {}
}

/// The operations a log performs on every registered view, whatever its state type.
///
/// Sealed: only [`View`] implements it.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{Event, EventWriter, View, ViewOps};
/// use std::collections::HashMap;
/// fn count(n: u64, _e: &Event) -> u64 { n + 1 }
/// let mut writer = EventWriter::open(dir.path())?;
/// writer.append(&Event::new("a", serde_json::json!({})))?;
///
/// let mut views: HashMap<String, Box<dyn ViewOps>> = HashMap::new();
/// views.insert("count".into(), Box::new(View::<u64>::new("count", count, writer.views_dir())));
/// let reader = writer.reader();
/// writer.rotate(&reader, &mut views)?; // refreshes every view first
/// let view = &views["count"];
/// assert_eq!(view.view_name(), "count");
/// assert_eq!(view.as_any().downcast_ref::<View<u64>>().map(View::state), Some(&1));
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait ViewOps: sealed::Sealed + Send {
    /// Refreshes the view (see [`View::refresh`]).
    ///
    /// # Errors
    ///
    /// As [`View::refresh`].
    fn refresh_boxed(&mut self, reader: &EventReader) -> io::Result<()>;
    /// Sets the view's offset to 0 and its hash to empty and saves its snapshot: what rotation
    /// does once the active log has been archived.
    ///
    /// # Errors
    ///
    /// Returns an error if the snapshot cannot be saved.
    fn reset_offset(&mut self) -> io::Result<()>;
    /// The view's name.
    fn view_name(&self) -> &str;
    /// The view as `Any`, to recover its concrete `View<S>`.
    fn as_any(&self) -> &dyn Any;
    /// The view as mutable `Any`.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

#[derive(Clone, Copy)]
enum Reducer<S> {
    Owned(ReduceFn<S>),
    Borrowed(ReduceRefFn<S>),
}

/// A named state derived from the log by a reducer, kept up to date incrementally.
///
/// The view holds its state in memory and caches it on disk at `views/NAME.snapshot.json` with
/// the offset in `app.jsonl` it has read up to. [`refresh`](View::refresh) reads only the events
/// past that offset; with no usable snapshot it replays the whole history.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{Event, EventWriter, View};
/// let mut writer = EventWriter::open(dir.path())?;
/// writer.append(&Event::new("a", serde_json::json!({})))?;
/// let mut view: View<u64> = View::new("count", |n, _e| n + 1, writer.views_dir());
/// assert_eq!(*view.refresh(&writer.reader())?, 1);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct View<S> {
    name: String,
    reducer: Reducer<S>,
    snapshot_path: PathBuf,
    state: S,
    offset: u64,
    hash: String,
    loaded: bool,
    needs_full_replay: bool,
    /// The archive's length and the active log's inode when the state was last brought up to
    /// date, to notice a rotation since (for views not reset by it, such as standalone ones).
    generation: Option<(u64, u64)>,
}

impl<S: fmt::Debug> fmt::Debug for View<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("View")
            .field("name", &self.name)
            .field("snapshot_path", &self.snapshot_path)
            .field("state", &self.state)
            .field("offset", &self.offset)
            .finish()
    }
}

impl<S> View<S>
where
    S: Serialize + DeserializeOwned + Default + Clone,
{
    /// Creates a view named `name` over owned events, with its snapshot in `views_dir`.
    ///
    /// Nothing is read until the first [`refresh`](View::refresh); the state starts as
    /// `S::default()`.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{EventWriter, View};
    /// let writer = EventWriter::open(dir.path())?;
    /// let view: View<u64> = View::new("count", |n, _e| n + 1, writer.views_dir());
    /// assert_eq!((view.name(), *view.state()), ("count", 0));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(name: &str, reducer: ReduceFn<S>, views_dir: &Path) -> Self {
        Self::with_reducer(name, Reducer::Owned(reducer), views_dir)
    }

    /// Creates a view named `name` whose reducer reads borrowed [`EventRef`]s.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventRef, EventWriter, View};
    /// let mut writer = EventWriter::open(dir.path())?;
    /// writer.append(&Event::new("a", serde_json::json!({})))?;
    /// fn count(n: u64, _e: &EventRef<'_>) -> u64 { n + 1 }
    /// let mut view: View<u64> = View::new_ref("count", count, writer.views_dir());
    /// assert_eq!(*view.refresh(&writer.reader())?, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new_ref(name: &str, reducer: ReduceRefFn<S>, views_dir: &Path) -> Self {
        Self::with_reducer(name, Reducer::Borrowed(reducer), views_dir)
    }

    fn with_reducer(name: &str, reducer: Reducer<S>, views_dir: &Path) -> Self {
        View {
            name: name.to_string(),
            reducer,
            snapshot_path: views_dir.join(format!("{name}.snapshot.json")),
            state: S::default(),
            offset: 0,
            hash: String::new(),
            loaded: false,
            needs_full_replay: false,
            generation: None,
        }
    }

    /// Brings the view up to date with the log and returns its state.
    ///
    /// The first call loads the snapshot and checks it: its offset must lie within
    /// `app.jsonl` and the line before it must hash to the stored hash; otherwise the snapshot
    /// is discarded. With no usable snapshot, the whole history (archive, then active log) is
    /// replayed; with one, only the events after its offset are read. If any event was folded,
    /// the snapshot is saved (atomically); if none was, nothing is written.
    ///
    /// # Errors
    ///
    /// Returns an error if the view's name is not a valid file name, if a file cannot be read,
    /// if a line is malformed ([`Error::Malformed`](crate::Error::Malformed), naming file, byte offset and line), or if
    /// the snapshot cannot be saved. After an error in the active log the view keeps the events
    /// folded before the bad line, with its offset just past the last of them.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventWriter, View};
    /// let mut writer = EventWriter::open(dir.path())?;
    /// let mut view: View<u64> = View::new("count", |n, _e| n + 1, writer.views_dir());
    /// writer.append(&Event::new("a", serde_json::json!({})))?;
    /// assert_eq!(*view.refresh(&writer.reader())?, 1);
    /// writer.append(&Event::new("b", serde_json::json!({})))?;
    /// assert_eq!(*view.refresh(&writer.reader())?, 2); // reads only the new event
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn refresh(&mut self, reader: &EventReader) -> io::Result<&S> {
        check_view_name(&self.name)?;
        let generation = (
            fsutil::len_or_zero(reader.archive_path())?,
            std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(reader.log_path())?),
        );
        if !self.loaded {
            self.load(reader)?;
        } else if !self.needs_full_replay {
            self.follow_rotation(reader, generation)?;
        }
        self.generation = Some(generation);
        let full = std::mem::take(&mut self.needs_full_replay);
        let state = std::mem::take(&mut self.state);
        let folded = match self.reducer {
            Reducer::Owned(reduce) => self.fold(reader, full, state, &fold::Owned(reduce)),
            Reducer::Borrowed(reduce) => self.fold(reader, full, state, &fold::Borrowed(reduce)),
        };
        let Folded {
            acc,
            tail,
            error,
            failed_in_archive,
            any,
            ..
        } = folded;
        self.state = acc;
        if let Some(error) = error {
            if failed_in_archive {
                // A partial archive replay has no place in the active log: start over next time.
                self.state = S::default();
                self.offset = 0;
                self.hash.clear();
                self.needs_full_replay = true;
            } else if let Some(tail) = tail {
                self.offset = tail.end;
                self.hash = tail.hash;
            } else if full {
                // The whole archive was folded; the active log failed before its first event.
                self.offset = 0;
                self.hash.clear();
            }
            return Err(error);
        }
        match tail {
            Some(tail) => {
                self.offset = tail.end;
                self.hash = tail.hash;
                self.save()?;
            }
            // A replay that found events only in the archive still has work to keep.
            None if full && any => {
                self.offset = 0;
                self.hash.clear();
                self.save()?;
            }
            None => {}
        }
        Ok(&self.state)
    }

    fn fold<F: LineFold<S>>(
        &self,
        reader: &EventReader,
        full: bool,
        state: S,
        fold: &F,
    ) -> Folded<S> {
        if full {
            reader.fold_full(state, fold)
        } else {
            reader.fold_active(self.offset, state, fold)
        }
    }

    /// Notices a rotation since the last refresh. If it archived exactly what this view had
    /// read, the view goes on at offset 0 of the new active log (or stays where it is while the
    /// active log is still the archived copy, the rotation half done); otherwise the view missed
    /// archived events (or cannot tell) and replays the whole history.
    fn follow_rotation(&mut self, reader: &EventReader, now: (u64, u64)) -> io::Result<()> {
        let Some(seen) = self.generation else {
            return Ok(());
        };
        if seen == now {
            return Ok(());
        }
        let record = recovery::read_record(reader.dir())?;
        let caught_up = record.is_some_and(|r| {
            (seen.0 == r.archive_len_before || seen.0 == r.archive_len_after())
                && now.0 == r.archive_len_after()
                && r.active_len == self.offset
                && r.last_line_hash == self.hash
        });
        if caught_up {
            if reader.history()?.active.is_some() {
                self.offset = 0;
                self.hash.clear();
            }
        } else {
            self.state = S::default();
            self.offset = 0;
            self.hash.clear();
            self.needs_full_replay = true;
        }
        Ok(())
    }

    /// Loads the snapshot and decides whether it can be trusted.
    fn load(&mut self, reader: &EventReader) -> io::Result<()> {
        self.loaded = true;
        match snapshot::load::<S>(&self.snapshot_path)? {
            Some(snap) => {
                self.state = snap.state;
                self.offset = snap.offset;
                self.hash = snap.hash;
            }
            None => {
                self.needs_full_replay = true;
                return Ok(());
            }
        }
        if self.offset > 0 {
            let size = reader.active_log_size()?;
            let valid = self.offset <= size
                && reader
                    .read_line_hash_before(self.offset)?
                    .is_some_and(|h| h == self.hash);
            if !valid {
                self.state = S::default();
                self.offset = 0;
                self.hash.clear();
                self.needs_full_replay = true;
            }
        }
        Ok(())
    }

    fn save(&self) -> io::Result<()> {
        snapshot::save_parts(&self.snapshot_path, &self.state, self.offset, &self.hash)
    }

    /// Discards the snapshot and the state and replays the whole history.
    ///
    /// Use it after changing the reducer: the log is the truth, the snapshot only a cache.
    ///
    /// # Errors
    ///
    /// As [`View::refresh`], plus failure to delete the snapshot file.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventWriter, View};
    /// let mut writer = EventWriter::open(dir.path())?;
    /// writer.append(&Event::new("a", serde_json::json!({})))?;
    /// let mut view: View<u64> = View::new("count", |n, _e| n + 1, writer.views_dir());
    /// view.refresh(&writer.reader())?;
    /// assert_eq!(*view.rebuild(&writer.reader())?, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn rebuild(&mut self, reader: &EventReader) -> io::Result<&S> {
        check_view_name(&self.name)?;
        snapshot::delete(&self.snapshot_path)?;
        self.state = S::default();
        self.offset = 0;
        self.hash.clear();
        self.loaded = true;
        self.needs_full_replay = true;
        self.refresh(reader)
    }
}

impl<S> View<S> {
    /// Returns the state in memory, without any I/O.
    ///
    /// Before the first [`refresh`](View::refresh) this is `S::default()`.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventWriter, View};
    /// let mut writer = EventWriter::open(dir.path())?;
    /// writer.append(&Event::new("a", serde_json::json!({})))?;
    /// let mut view: View<u64> = View::new("count", |n, _e| n + 1, writer.views_dir());
    /// assert_eq!(*view.state(), 0); // nothing read yet
    /// view.refresh(&writer.reader())?;
    /// assert_eq!(*view.state(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn state(&self) -> &S {
        &self.state
    }

    /// Returns the view's name.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventWriter, View};
    /// let mut writer = EventWriter::open(dir.path())?;
    /// writer.append(&Event::new("a", serde_json::json!({})))?;
    /// let mut view: View<u64> = View::new("count", |n, _e| n + 1, writer.views_dir());
    /// assert_eq!(view.name(), "count");
    /// view.refresh(&writer.reader())?;
    /// assert!(writer.views_dir().join("count.snapshot.json").exists()); // named after the view
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl<S> sealed::Sealed for View<S> {}

impl<S> ViewOps for View<S>
where
    S: Serialize + DeserializeOwned + Default + Clone + Send + 'static,
{
    fn refresh_boxed(&mut self, reader: &EventReader) -> io::Result<()> {
        self.refresh(reader).map(|_| ())
    }

    fn reset_offset(&mut self) -> io::Result<()> {
        check_view_name(&self.name)?;
        self.offset = 0;
        self.hash.clear();
        // The rotation that reset this view is accounted for; the next refresh starts afresh.
        self.generation = None;
        self.save()
    }

    fn view_name(&self) -> &str {
        &self.name
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
