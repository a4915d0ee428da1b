//! Scans: the history, or the part of it from a position on, read on the parallel engine with
//! borrowed events, each handed over with where it lies.
//!
//! A scan reads what views replay through: the archive a window at a time (the next window
//! decompressed while this one is read), then the committed part of `app.jsonl` mapped a
//! segment at a time, lines parsed on several threads and handed to the caller strictly in
//! order, on the calling thread. Events are [`EventRef`]s borrowing the buffer being read, so
//! a scan that looks at the type and the timestamp copies nothing. A lenient scan goes on past
//! malformed lines and damaged archive frames, reporting each: what `verify` and `salvage`
//! are built on.

use crate::error::{Context, Error};
use crate::format::event::EventRef;
use crate::format::fold::{self, Block, LineFold, Trust, Until};
use crate::format::lines;
use crate::format::parse::ParseError;
use crate::replay::reader::{self, ArchiveStart, Entry, EventReader};
use crate::replay::walk::{self, NextSegment, NextWindow, ReadSegments, ReadWindows};
use crate::store::archive::{Window, Windows};
use crate::store::mmap::Region;
use crate::store::position::Position;
use crate::store::seals;
use std::fs::File;
use std::io;
use std::ops::ControlFlow;

/// The two files that hold the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HistoryFile {
    /// `archive.jsonl.zst`: the closed history, in zstd frames.
    Archive,
    /// `app.jsonl`: the active log.
    Active,
}

impl HistoryFile {
    /// The file's name in the directory.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::HistoryFile;
    /// assert_eq!(HistoryFile::Active.name(), "app.jsonl");
    /// assert_eq!(HistoryFile::Archive.name(), "archive.jsonl.zst");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            HistoryFile::Archive => "archive.jsonl.zst",
            HistoryFile::Active => "app.jsonl",
        }
    }
}

/// Where a line lies on disk.
///
/// For the active log, `offset` and `line` are the byte offset and the one-based line number
/// in `app.jsonl`. For the archive they are counted in the decompressed stream (what
/// `zstd -d archive.jsonl.zst --stdout` prints), as in [`Error::Malformed`], and `frame` is
/// the offset in `archive.jsonl.zst` of the zstd frame that holds the line.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{Event, EventLog, HistoryFile, Position};
/// use std::ops::ControlFlow;
/// let mut log = EventLog::open(dir.path())?;
/// log.append(&Event::new("a", serde_json::json!({})))?;
/// log.rotate()?;
/// log.append(&Event::new("b", serde_json::json!({})))?;
/// let mut places = Vec::new();
/// log.reader().scan(Position::START, |e| {
///     places.push((e.location.file, e.location.frame, e.location.offset, e.location.line));
///     ControlFlow::Continue(())
/// })?;
/// assert_eq!(places, [(HistoryFile::Archive, Some(0), 0, 1), (HistoryFile::Active, None, 0, 1)]);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Location {
    /// The file that holds the line.
    pub file: HistoryFile,
    /// For the archive, the offset of the frame in `archive.jsonl.zst`.
    pub frame: Option<u64>,
    /// Byte offset of the line's first byte (in the decompressed stream for the archive).
    pub offset: u64,
    /// One-based line number.
    pub line: u64,
}

/// An event met by a scan, borrowed from the buffer being read, with where it stands.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{Event, EventLog, Position};
/// use std::ops::ControlFlow;
/// let mut log = EventLog::open(dir.path())?;
/// let written = log.append(&Event::new("a", serde_json::json!({})))?;
/// let mut seen = None;
/// log.reader().scan(Position::START, |e| {
///     seen = Some((e.event.event_type().to_string(), e.position, e.end, e.index));
///     ControlFlow::Continue(())
/// })?;
/// assert_eq!(seen, Some(("a".to_string(), Position::START, Position::new(written.end_offset), 0)));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ScannedEvent<'a> {
    /// The event, borrowing its line.
    pub event: &'a EventRef<'a>,
    /// Where its line starts in the history.
    pub position: Position,
    /// Just past its line's newline: where the next line starts.
    pub end: Position,
    /// How many events come before it in the history.
    pub index: u64,
    /// Where its line lies on disk.
    pub location: Location,
}

/// What a lenient scan found that it could not read, and went past.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{Damage, EventReader, Position};
/// use std::ops::ControlFlow;
/// std::fs::write(dir.path().join("app.jsonl"), "{\"type\":\"a\",\"data\":{},\"ts\":1}\noops\n")?;
/// let mut found = Vec::new();
/// EventReader::new(dir.path()).scan_lenient(
///     Position::START,
///     |_event| ControlFlow::Continue(()),
///     |damage| {
///         if let Damage::Malformed { location, bytes, .. } = damage {
///             found.push((location.line, bytes.to_vec()));
///         }
///         ControlFlow::Continue(())
///     },
/// )?;
/// assert_eq!(found, [(2, b"oops".to_vec())]);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Damage<'a> {
    /// A line that is not a valid event; the scan goes on at the next line.
    Malformed {
        /// The line, without its newline.
        bytes: &'a [u8],
        /// Where it starts in the history.
        position: Position,
        /// Just past its newline.
        end: Position,
        /// Where it lies on disk.
        location: Location,
        /// What the parser objected to.
        reason: String,
    },
    /// An archive frame that could not be decompressed. The complete lines it yielded before
    /// the damage were handed out (for a frame whose checksum does not match, which is found
    /// at its end, that is every line of it, unchecked). When `skipped` is true, the scan went
    /// on at the next frame;
    /// otherwise nothing of the archive could be read past it (it ends inside a frame, or
    /// holds no frame where one should start), and the scan went on with the active log.
    /// Positions after a damaged frame are counted from what could be read, and are not
    /// those of the undamaged history.
    Frame {
        /// The offset of the frame in `archive.jsonl.zst`.
        frame: u64,
        /// Where the archive's content stood when the damage was met.
        position: Position,
        /// Whether the scan went on at the next frame.
        skipped: bool,
        /// The error, which names the file and the frame.
        error: io::Error,
    },
    /// An archive frame whose content does not end with a newline: its last bytes are part
    /// of a line that was never finished (a frame eventfold 0.2.0 wrote from a torn active
    /// log). They are not an event, and readers leave them out.
    UnfinishedLine {
        /// The offset of the frame in `archive.jsonl.zst`.
        frame: u64,
        /// Where the unfinished bytes start in the history.
        position: Position,
        /// How many bytes they are.
        len: u64,
    },
}

/// Where a scan ended.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{Event, EventLog, Position};
/// use std::ops::ControlFlow;
/// let mut log = EventLog::open(dir.path())?;
/// for n in 0..3 {
///     log.append(&Event::new("tick", serde_json::json!({ "n": n })))?;
/// }
/// let mut n = 0;
/// let end = log.reader().scan(Position::START, |_| {
///     n += 1;
///     if n == 2 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
/// })?;
/// assert!(end.stopped);
/// assert_eq!(end.events, 2);
/// let rest = log.reader().scan(end.end, |_| ControlFlow::Continue(()))?;
/// assert_eq!((rest.events, rest.stopped), (1, false));
/// assert_eq!(rest.end, log.reader().history_end()?);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScanEnd {
    /// Where to go on from: just past the last event handed over when the visitor stopped
    /// the scan, otherwise just past the last complete line of the history as it was when
    /// the scan began.
    pub end: Position,
    /// How many events were handed to the visitor.
    pub events: u64,
    /// Whether the visitor stopped the scan.
    pub stopped: bool,
}

type Visit<'v> = dyn FnMut(&ScannedEvent<'_>) -> ControlFlow<()> + 'v;
type OnDamage<'v> = dyn FnMut(Damage<'_>) -> ControlFlow<()> + 'v;

impl EventReader {
    /// Reads the history from `from` on, handing each event to `visit` in order, borrowed
    /// from the buffer being read, with its position, index and place on disk.
    ///
    /// This is the fast way through a large history: the engine views replay through, lines
    /// parsed on several threads (for buffers of 512 KiB or more) and handed over strictly in
    /// order on the calling thread, the archive decompressed one window ahead. `visit` returns
    /// [`ControlFlow::Break`] to stop. As with [`read_history`](Self::read_history), the
    /// history is the one in the directory when the scan begins, a position inside a line
    /// starts at the next line, and a rotation during the scan changes nothing it reads.
    /// Pass the returned [`ScanEnd::end`] to a later scan to read only what was appended
    /// since.
    ///
    /// # Errors
    ///
    /// Returns an error if a file cannot be read, [`Error::Malformed`] for the first line
    /// that is not an event (every event before it was handed over), and [`Error::Archive`]
    /// for a damaged frame.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventLog, Position};
    /// use std::collections::BTreeMap;
    /// use std::ops::ControlFlow;
    /// let mut log = EventLog::open(dir.path())?;
    /// for kind in ["open", "close", "open"] {
    ///     log.append(&Event::new(kind, serde_json::json!({})))?;
    /// }
    /// let mut counts = BTreeMap::new();
    /// log.reader().scan(Position::START, |e| {
    ///     *counts.entry(e.event.event_type().to_string()).or_insert(0) += 1;
    ///     ControlFlow::Continue(())
    /// })?;
    /// assert_eq!(counts, BTreeMap::from([("close".into(), 1), ("open".into(), 2)]));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn scan<F>(&self, from: Position, mut visit: F) -> io::Result<ScanEnd>
    where
        F: FnMut(&ScannedEvent<'_>) -> ControlFlow<()>,
    {
        Scan::new(self, &mut visit, None).run(from.offset())
    }

    /// [`scan`](Self::scan), going on past what cannot be read: each malformed line, damaged
    /// archive frame and unfinished line at the end of a frame is handed to `damage` (which
    /// may stop the scan too), and the scan goes on after it.
    ///
    /// # Errors
    ///
    /// Returns an error if a file cannot be opened or read.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{EventReader, Position};
    /// use std::ops::ControlFlow;
    /// let good = "{\"type\":\"a\",\"data\":{},\"ts\":1}\n";
    /// std::fs::write(dir.path().join("app.jsonl"), format!("{good}bad\n{good}"))?;
    /// let (mut events, mut damaged) = (0, 0);
    /// let end = EventReader::new(dir.path()).scan_lenient(
    ///     Position::START,
    ///     |_| { events += 1; ControlFlow::Continue(()) },
    ///     |_| { damaged += 1; ControlFlow::Continue(()) },
    /// )?;
    /// assert_eq!((events, damaged), (2, 1));
    /// assert_eq!(end.end.offset(), 2 * good.len() as u64 + 4);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn scan_lenient<F, D>(
        &self,
        from: Position,
        mut visit: F,
        mut damage: D,
    ) -> io::Result<ScanEnd>
    where
        F: FnMut(&ScannedEvent<'_>) -> ControlFlow<()>,
        D: FnMut(Damage<'_>) -> ControlFlow<()>,
    {
        Scan::new(self, &mut visit, Some(&mut damage)).run(from.offset())
    }
}

impl EventReader {
    /// A lenient scan of the committed part of the active log alone, its first byte taken to
    /// stand at `base` in the history and its first event to have index `first_index`.
    /// Nothing is read when the active log is a copy of the archive's last frame.
    pub(crate) fn scan_active_lenient(
        &self,
        base: u64,
        first_index: u64,
        visit: &mut Visit<'_>,
        damage: &mut OnDamage<'_>,
    ) -> io::Result<ScanEnd> {
        let history = self.history()?;
        let mut scan = Scan::new(self, visit, Some(damage));
        scan.cursor().index = first_index;
        let mut end = 0;
        if let Some((file, committed)) = history.active {
            end = committed;
            scan.scan_active(&file, base, 0, committed)?;
        }
        Ok(scan.end(base + end))
    }
}

/// One scan under way.
struct Scan<'r, 'v> {
    reader: &'r EventReader,
    damage: Option<&'v mut OnDamage<'v>>,
    cursor: Option<Cursor<'v>>,
    /// The sealed blocks of the active log, read trusted by a strict scan (a lenient one is a
    /// check of every line: it trusts nothing).
    trusted: Vec<Block>,
}

/// What the reducing side of the engine carries from event to event: the visitor and the
/// counters. It never leaves the calling thread.
struct Cursor<'v> {
    visit: &'v mut Visit<'v>,
    /// Index of the next event.
    index: u64,
    /// Events handed over.
    events: u64,
    stopped: bool,
    /// Just past the last event handed over.
    last_end: u64,
    /// In the buffer being read: just past the previous line, and its line number (at the
    /// buffer's start: 0 and the newlines before the buffer).
    prev_end: usize,
    prev_line: u64,
}

/// How the engine reads one buffer: each line parsed into an [`EventRef`], with its offset in
/// the buffer found from its address.
struct ScanFold {
    /// Address of the buffer's first byte.
    base: usize,
    /// Position, file offset, file and frame of the buffer's first byte.
    position: u64,
    offset: u64,
    file: crate::HistoryFile,
    frame: Option<u64>,
}

impl ScanFold {
    fn new(buf: &[u8], position: u64, offset: u64, file: HistoryFile, frame: Option<u64>) -> Self {
        ScanFold {
            base: buf.as_ptr() as usize,
            position,
            offset,
            file,
            frame,
        }
    }

    fn location(&self, at: usize, line: u64) -> Location {
        Location {
            file: self.file,
            frame: self.frame,
            offset: self.offset + at as u64,
            line,
        }
    }
}

impl<'v> LineFold<Cursor<'v>> for ScanFold {
    type Item<'b> = (EventRef<'b>, usize);
    const OWNS_MEMORY: bool = false;

    #[inline]
    fn parse<'b>(&self, line: &'b [u8]) -> Result<(EventRef<'b>, usize), ParseError> {
        let at = line.as_ptr() as usize - self.base;
        EventRef::parse_line(line).map(|event| (event, at))
    }

    const TRUSTS: bool = true;

    #[inline]
    fn parse_trusted<'b>(&self, line: &'b str) -> Result<(EventRef<'b>, usize), ParseError> {
        let at = line.as_ptr() as usize - self.base;
        EventRef::parse_trusted(line).map(|event| (event, at))
    }

    #[inline]
    fn parse_located<'b>(
        &self,
        line: &'b str,
        type_end: Option<usize>,
    ) -> Result<(EventRef<'b>, usize), ParseError> {
        let at = line.as_ptr() as usize - self.base;
        EventRef::parse_located(line, type_end).map(|event| (event, at))
    }

    #[inline]
    fn reduce(&self, mut cursor: Cursor<'v>, item: &(EventRef<'_>, usize)) -> Cursor<'v> {
        if cursor.stopped {
            return cursor;
        }
        let (event, at) = item;
        // Only empty lines lie between two events of a buffer: one newline each.
        let line = cursor.prev_line + 1 + (at - cursor.prev_end) as u64;
        let end = at + event.line().len() + 1;
        cursor.prev_line = line;
        cursor.prev_end = end;
        let scanned = ScannedEvent {
            event,
            position: Position::new(self.position + *at as u64),
            end: Position::new(self.position + end as u64),
            index: cursor.index,
            location: self.location(*at, line),
        };
        cursor.index += 1;
        cursor.events += 1;
        cursor.last_end = self.position + end as u64;
        if (cursor.visit)(&scanned).is_break() {
            cursor.stopped = true;
        }
        cursor
    }

    #[inline]
    fn ts(&self, item: &(EventRef<'_>, usize)) -> u64 {
        item.0.ts()
    }
}

/// Where a buffer's lines are: what [`Scan::read_buf`] needs besides the bytes.
#[derive(Clone, Copy)]
struct Place {
    position: u64,
    offset: u64,
    file: HistoryFile,
    frame: Option<u64>,
    /// Newlines before the buffer in its file's stream.
    lines_before: u64,
}

impl<'r, 'v> Scan<'r, 'v> {
    fn new(
        reader: &'r EventReader,
        visit: &'v mut Visit<'v>,
        damage: Option<&'v mut OnDamage<'v>>,
    ) -> Self {
        let cursor = Cursor {
            visit,
            index: 0,
            events: 0,
            stopped: false,
            last_end: 0,
            prev_end: 0,
            prev_line: 0,
        };
        Scan {
            reader,
            damage,
            cursor: Some(cursor),
            trusted: Vec::new(),
        }
    }

    fn cursor(&mut self) -> &mut Cursor<'v> {
        self.cursor
            .as_mut()
            .expect("the cursor is back between buffers")
    }

    fn stopped(&self) -> bool {
        self.cursor.as_ref().is_some_and(|c| c.stopped)
    }

    /// Hands `damage` to the caller's handler; `false` when it asks to stop.
    fn report(&mut self, damage: Damage<'_>) -> bool {
        let go_on = self
            .damage
            .as_mut()
            .is_some_and(|handler| handler(damage).is_continue());
        if !go_on {
            self.cursor().stopped = true;
        }
        go_on
    }

    fn run(mut self, from: u64) -> io::Result<ScanEnd> {
        let reader = self.reader;
        let history = reader.history()?;
        let limit = history.archive_limit;
        let mut archive_start = None;
        let mut active_base = 0;
        let mut active_from = 0;
        match reader.entry(from, limit)? {
            Entry::Archive(start) => archive_start = Some(start),
            Entry::Active {
                base, from, events, ..
            } => {
                active_base = base;
                active_from = from;
                self.cursor().index = events;
            }
        }
        if let Some(start) = archive_start {
            active_base = self.scan_archive(limit, start)?;
            if self.stopped() {
                return Ok(self.end(active_base));
            }
        }
        let mut active_end = active_from;
        if let Some((file, end)) = history.active {
            active_end = end.max(active_from);
            self.scan_active(&file, active_base, active_from, end)?;
        }
        Ok(self.end(active_base + active_end))
    }

    fn end(self, history_end: u64) -> ScanEnd {
        let cursor = self.cursor.expect("the cursor is back after the scan");
        ScanEnd {
            end: Position::new(if cursor.stopped {
                cursor.last_end
            } else {
                history_end
            }),
            events: cursor.events,
            stopped: cursor.stopped,
        }
    }

    /// Reads the archive up to `limit` from `start`. Returns where the archive's content ends
    /// (where the active log begins).
    fn scan_archive(&mut self, limit: u64, start: ArchiveStart) -> io::Result<u64> {
        let path = self.reader.archive_path().to_path_buf();
        let mut windows =
            Windows::open_at(&path, start.frame_offset, start.frame_start, Some(limit))?;
        if self.damage.is_some() {
            // A lenient scan reads a damaged frame up to its damage.
            windows = windows.keep_before_damage();
        }
        self.cursor().index = start.events_before;
        let mut read = ScanWindows {
            scan: self,
            from: start.skip_to,
        };
        walk::archive(
            &mut windows,
            start.frame_start,
            start.lines_before,
            &mut read,
        )
    }

    /// Handles an error of the archive: an error in a strict scan; otherwise reported, and
    /// returns whether reading can go on at the next frame.
    fn damaged_frame(
        &mut self,
        windows: &mut Windows,
        error: io::Error,
        content_end: u64,
    ) -> io::Result<bool> {
        let frame = match Error::from_io(&error) {
            Some(Error::Archive { frame_offset, .. }) if self.damage.is_some() => *frame_offset,
            _ => return Err(error),
        };
        let skipped = windows.skip_frame().is_some();
        let damage = Damage::Frame {
            frame,
            position: Position::new(content_end),
            skipped,
            error,
        };
        let go_on = self.report(damage);
        Ok(go_on && skipped)
    }

    /// Reads `from..end` of the open active log `file`, whose first byte stands at
    /// `base` in the history.
    fn scan_active(&mut self, file: &File, base: u64, from: u64, end: u64) -> io::Result<()> {
        if from >= end {
            return Ok(());
        }
        let reader = self.reader;
        let path = reader.log_path();
        let (from, events_before) =
            reader::line_start_and_events_before(file, from, end).context("read", path)?;
        if from > 0 {
            self.cursor().index += events_before;
        }
        let lines_before = crate::store::mmap::newlines_before(file, from).context("read", path)?;
        if self.damage.is_none() && end - from >= seals::WORTH_READING {
            self.trusted = seals::blocks(self.reader.dir());
        }
        let mut read = ScanSegments {
            scan: self,
            base,
            lines_before,
        };
        walk::active(file, path, (from, end), &mut read)
    }

    /// Reads the complete lines of `buf` with the engine, running `side` alongside; in a
    /// lenient scan, goes on past each malformed line. Returns the side job's result.
    fn read_buf<T: Send>(
        &mut self,
        buf: &[u8],
        place: Place,
        side: impl FnOnce() -> T + Send,
    ) -> io::Result<Option<T>> {
        let mut side = Some(side);
        let mut side_result = None;
        let mut pos = 0;
        let mut lines_before = place.lines_before;
        loop {
            let part = &buf[pos..];
            let fold = ScanFold::new(
                part,
                place.position + pos as u64,
                place.offset + pos as u64,
                place.file,
                place.frame,
            );
            let mut cursor = self
                .cursor
                .take()
                .expect("the cursor is back between buffers");
            cursor.prev_end = 0;
            cursor.prev_line = lines_before;
            let job = side.take();
            let trust = match place.file {
                HistoryFile::Active => Trust {
                    base: place.offset + pos as u64,
                    blocks: &self.trusted,
                    hash_from: None,
                    checked: false,
                    text: None,
                },
                HistoryFile::Archive => Trust::NONE,
            };
            let until = (Until::END, self.reader.threads());
            let (done, result) =
                fold::fold_buf_until(part, cursor, &fold, until, trust, move || job.map(|j| j()));
            side_result = side_result.or(result);
            let cursor = done.acc;
            let (prev_end, prev_line, stopped) =
                (cursor.prev_end, cursor.prev_line, cursor.stopped);
            self.cursor = Some(cursor);
            let Some((at, reason)) = done.bad else {
                return Ok(side_result);
            };
            if stopped {
                return Ok(side_result);
            }
            let line = prev_line + 1 + (at - prev_end) as u64;
            let line_end = memchr::memchr(b'\n', &part[at..]).map_or(part.len(), |i| at + i);
            let location = fold.location(at, line);
            if self.damage.is_none() {
                let path = match place.file {
                    HistoryFile::Archive => self.reader.archive_path(),
                    HistoryFile::Active => self.reader.log_path(),
                };
                return Err(reason.at_line(path, location.offset, line).into());
            }
            let damage = Damage::Malformed {
                bytes: &part[at..line_end],
                position: Position::new(fold.position + at as u64),
                end: Position::new(fold.position + line_end as u64 + 1),
                location,
                reason: reason.to_string(),
            };
            self.cursor().index += 1;
            if !self.report(damage) {
                return Ok(side_result);
            }
            pos += (line_end + 1).min(part.len());
            lines_before = line;
        }
    }
}

/// A scan's reading of the archive's windows: the lines before `from` left out, damaged
/// frames and unfinished lines reported in a lenient scan.
struct ScanWindows<'s, 'r, 'v> {
    scan: &'s mut Scan<'r, 'v>,
    from: u64,
}

impl ReadWindows for ScanWindows<'_, '_, '_> {
    fn window(
        &mut self,
        window: &Window,
        lines_before: u64,
        side: impl FnOnce() -> NextWindow + Send,
    ) -> io::Result<Option<NextWindow>> {
        let bytes = window.bytes();
        // The first line that starts at or after `from`.
        let mut cut = 0;
        if self.from > window.offset {
            let skip = ((self.from - window.offset) as usize).min(bytes.len());
            cut = if skip == 0 || bytes[skip - 1] == b'\n' {
                skip
            } else {
                memchr::memchr(b'\n', &bytes[skip..]).map_or(bytes.len(), |i| skip + i + 1)
            };
            self.scan.cursor().index += lines::count_events(&bytes[..cut]);
        }
        let place = Place {
            position: window.offset + cut as u64,
            offset: window.offset + cut as u64,
            file: HistoryFile::Archive,
            frame: Some(window.frame_offset),
            lines_before: lines_before + lines::count(&bytes[..cut]),
        };
        self.scan.read_buf(&bytes[cut..], place, side)
    }

    fn frame_end(&mut self, window: &Window, end: u64) -> bool {
        let complete = window.offset + window.bytes().len() as u64;
        if end > complete && self.scan.damage.is_some() {
            let damage = Damage::UnfinishedLine {
                frame: window.frame_offset,
                position: Position::new(complete),
                len: end - complete,
            };
            return self.scan.report(damage);
        }
        true
    }

    fn damaged(
        &mut self,
        windows: &mut Windows,
        error: io::Error,
        content_end: u64,
    ) -> io::Result<bool> {
        self.scan.damaged_frame(windows, error, content_end)
    }

    fn stopped(&self) -> bool {
        self.scan.stopped()
    }
}

/// A scan's reading of the active log's segments, whose first byte stands at `base` in the
/// history.
struct ScanSegments<'s, 'r, 'v> {
    scan: &'s mut Scan<'r, 'v>,
    base: u64,
    /// Newlines before the next segment.
    lines_before: u64,
}

impl ReadSegments for ScanSegments<'_, '_, '_> {
    fn segment(
        &mut self,
        start: u64,
        region: &Region,
        side: impl FnOnce() -> NextSegment + Send,
    ) -> io::Result<Option<NextSegment>> {
        let place = Place {
            position: self.base + start,
            offset: start,
            file: HistoryFile::Active,
            frame: None,
            lines_before: self.lines_before,
        };
        let next = self.scan.read_buf(region, place, side)?;
        if !self.scan.stopped() {
            self.lines_before += lines::count(region);
        }
        Ok(next)
    }

    fn stopped(&self) -> bool {
        self.scan.stopped()
    }
}
