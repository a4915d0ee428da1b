//! Salvage: the way out when a log holds a line that cannot be read. Every event that can be
//! read is written, in order, to a new directory, and every line left out is reported with
//! where it was. The source directory is only read.

use crate::error::{Context, file_error};
use crate::format::event::Event;
use crate::replay::reader::EventReader;
use crate::replay::scan::{Damage, HistoryFile, Location};
use crate::store::index::ArchiveFrame;
use crate::store::position::Position;
use crate::store::writer::EventWriter;
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

/// Events are appended to the new directory in batches of this many, one fsync each.
const BATCH: usize = 4096;
/// While archived events are copied, the new directory is rotated whenever its active log
/// reaches this size, so that they land in its archive without being held in memory whole.
const ROTATE_AT: u64 = 64 << 20;

/// Something [`salvage`] left out.
///
/// # Examples
///
/// ```
/// use eventfold::{LostKind, Position};
/// let kind = LostKind::Malformed { bytes: b"oops".to_vec(), reason: "expected value".into() };
/// assert!(matches!(kind, LostKind::Malformed { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LostKind {
    /// A line that is not a valid event.
    Malformed {
        /// The line, without its newline.
        bytes: Vec<u8>,
        /// What the parser objected to.
        reason: String,
    },
    /// An archive frame, or the rest of one, that could not be decompressed, or whose content
    /// does not match its checksum. When the archive could not be read past it (it ends
    /// inside the frame, or holds no frame where one should start), everything after it in
    /// the archive is part of what was lost.
    DamagedFrame {
        /// What the decompressor reported.
        reason: String,
        /// Whether nothing of the archive past the frame could be read: what was lost runs to
        /// the end of the archive.
        to_archive_end: bool,
        /// Whether the frame was read to its end and its content did not match its checksum:
        /// the events kept from it are not vouched for by the checksum.
        checksum_failed: bool,
        /// Events read from it before the damage (every one, when only the checksum failed),
        /// which were kept.
        kept: u64,
        /// Events lost: those the archive index counts in the frame (or from the frame to
        /// the end of the archive, when nothing past it could be read), less those kept and
        /// the malformed lines reported apart. `None` when the index does not describe the
        /// frame: then the loss is known only as `compressed_bytes`.
        events: Option<u64>,
        /// Compressed bytes of `archive.jsonl.zst` that hold what was lost: from the frame's
        /// start to its end, or to the end of the archive.
        compressed_bytes: u64,
    },
    /// The unfinished line at the end of an archive frame.
    UnfinishedLine {
        /// Its length.
        len: u64,
    },
    /// Bytes after the last newline of `app.jsonl`: an append in progress, or torn by a crash.
    TornTail {
        /// Their length.
        len: u64,
    },
}

/// One thing [`salvage`] left out, and where it was.
///
/// # Examples
///
/// ```
/// # let src = tempfile::tempdir()?;
/// # let dest = tempfile::tempdir()?;
/// use eventfold::{salvage, HistoryFile, LostKind};
/// std::fs::write(src.path().join("app.jsonl"), "oops\n{\"type\":\"a\",\"data\":{},\"ts\":1}\n")?;
/// let report = salvage(src.path(), dest.path().join("new"))?;
/// let lost = &report.lost[0];
/// assert_eq!((lost.file, lost.offset, lost.line), (HistoryFile::Active, 0, Some(1)));
/// assert!(matches!(&lost.kind, LostKind::Malformed { bytes, .. } if bytes == b"oops"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Lost {
    /// What it was.
    pub kind: LostKind,
    /// The file it was in.
    pub file: HistoryFile,
    /// The archive frame (offset in `archive.jsonl.zst`), for the archive.
    pub frame: Option<u64>,
    /// Byte offset (in the decompressed stream for the archive; the frame's offset in the
    /// file for a damaged frame).
    pub offset: u64,
    /// One-based line number, for a line.
    pub line: Option<u64>,
    /// Where it stood in the history.
    pub position: Position,
}

/// What [`salvage`] wrote, and what it left out.
///
/// # Examples
///
/// ```
/// let report = eventfold::SalvageReport::default();
/// assert_eq!((report.events, report.lost.len()), (0, 0));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SalvageReport {
    /// Events written to the new directory.
    pub events: u64,
    /// Of those, events that were in the archive (the new directory holds them in its
    /// archive too).
    pub archived_events: u64,
    /// Everything left out, in history order (a torn tail last).
    pub lost: Vec<Lost>,
    /// Events left out, as far as they can be counted: each malformed line, and the events of
    /// damaged frames that the archive index counts (see [`LostKind::DamagedFrame`]). An
    /// unfinished line or a torn tail is not an event.
    pub lost_events: u64,
    /// Compressed bytes of damaged archive frames that the index does not describe: they
    /// held an unknown number of events.
    pub lost_unknown_bytes: u64,
}

/// Writes every event of the directory `src` that can be read, in order, to the new
/// directory `dest`, and reports each line it left out, with where it was.
///
/// This is the way out when a log holds a malformed line, which stops every refresh of its
/// views. Events from the archive are written to `dest`'s archive (by rotations of `dest`),
/// the others to its active log; each is written as eventfold writes events, so a line that
/// was not in that form (other field order, spaces) is written in it. Snapshots are not
/// copied: views opened on `dest` replay its history, which is the history of `src` without
/// the lines left out. `src` is read as any reader reads it (without a lock, while a writer
/// may be appending) and nothing in it is changed.
///
/// The new directory is built beside `dest`, as `.<name>.salvage-tmp` (for `dest` named
/// `<name>`), and renamed to `dest` once complete (replacing `dest` if it is an empty
/// directory). A salvage that fails removes it, and leaves `dest` as it found it: absent, or
/// the empty directory it was. One that is killed leaves it behind, and the next salvage to the
/// same destination refuses to start until it is removed.
///
/// # Errors
///
/// Returns an [`io::ErrorKind::AlreadyExists`] error if `dest` exists and is not an empty
/// directory, or if `.<name>.salvage-tmp` exists beside it; [`io::ErrorKind::InvalidInput`]
/// if `dest` lies inside `src`; and I/O errors of reading `src` or writing the new directory.
///
/// # Examples
///
/// ```
/// # let src = tempfile::tempdir()?;
/// # let out = tempfile::tempdir()?;
/// use eventfold::{salvage, Event, EventLog};
/// let good = "{\"type\":\"a\",\"data\":{},\"ts\":1}\n";
/// std::fs::write(src.path().join("app.jsonl"), format!("{good}{{broken\n{good}"))?;
/// assert!(EventLog::open(src.path())?.read_full()?.any(|e| e.is_err()));
///
/// let dest = out.path().join("healthy");
/// let report = salvage(src.path(), &dest)?;
/// assert_eq!((report.events, report.lost.len()), (2, 1));
/// let healthy = EventLog::open(&dest)?;
/// assert_eq!(healthy.read_full()?.collect::<Result<Vec<_>, _>>()?.len(), 2);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn salvage(src: impl AsRef<Path>, dest: impl AsRef<Path>) -> io::Result<SalvageReport> {
    salvage_with_progress(src, dest, |_| {})
}

/// [`salvage`], calling `progress` with the position reached as the history is read.
///
/// # Errors
///
/// As [`salvage`].
///
/// # Examples
///
/// ```
/// # let src = tempfile::tempdir()?;
/// # let out = tempfile::tempdir()?;
/// use eventfold::{salvage_with_progress, Event, EventLog};
/// EventLog::open(src.path())?.append(&Event::new("a", serde_json::json!({})))?;
/// let mut calls = 0;
/// salvage_with_progress(src.path(), out.path().join("copy"), |_| calls += 1)?;
/// assert!(calls > 0);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn salvage_with_progress(
    src: impl AsRef<Path>,
    dest: impl AsRef<Path>,
    mut progress: impl FnMut(Position),
) -> io::Result<SalvageReport> {
    let (src, dest) = (src.as_ref(), dest.as_ref());
    check_dest(src, dest)?;
    let reader = EventReader::new(src).read_only();
    // Fails before creating anything when there is no log to salvage.
    std::fs::metadata(reader.log_path()).context("access", reader.log_path())?;
    let building = Building::create(dest)?;
    let report = copy_into(&reader, &building.tmp, &mut progress)?;
    building.finish()?;
    Ok(report)
}

/// Copies every event `reader` can read into a new log in `dir`.
fn copy_into(
    reader: &EventReader,
    dir: &Path,
    progress: &mut impl FnMut(Position),
) -> io::Result<SalvageReport> {
    let mut writer = EventWriter::open(dir)?;
    let mut copy = Copy {
        writer: &mut writer,
        batch: Vec::with_capacity(BATCH),
        in_archive: true,
        report: SalvageReport::default(),
        error: None,
        archive: reader.archive_path(),
        index: None,
        kept: BTreeMap::new(),
        malformed: BTreeMap::new(),
    };
    let copy_cell = std::cell::RefCell::new(&mut copy);
    let end = reader.scan_lenient(
        Position::START,
        |event| {
            let mut copy = copy_cell.borrow_mut();
            progress(event.end);
            let archived = event.location.file == HistoryFile::Archive;
            if let Some(frame) = event.location.frame {
                *copy.kept.entry(frame).or_default() += 1;
            }
            copy.add(event.event.to_event(), archived)
        },
        |damage| {
            copy_cell.borrow_mut().lost(damage);
            ControlFlow::Continue(())
        },
    );
    let copy = copy_cell.into_inner();
    let end = end?;
    if let Some(e) = copy.error.take() {
        return Err(e);
    }
    copy.finish()?;
    progress(end.end);
    let mut report = std::mem::take(&mut copy.report);
    // The torn tail, as the scan leaves it out silently.
    let path = reader.log_path();
    let file = std::fs::File::open(path).context("open", path)?;
    let len = file.metadata().context("read", path)?.len();
    let committed = crate::store::mmap::committed_end(&file, 0, len).context("read", path)?;
    if committed < len {
        report.lost.push(Lost {
            kind: LostKind::TornTail {
                len: len - committed,
            },
            file: HistoryFile::Active,
            frame: None,
            offset: committed,
            line: None,
            position: end.end,
        });
    }
    Ok(report)
}

/// The new directory while it is written: `.<name>.salvage-tmp` beside the destination,
/// renamed to it once complete, and removed if salvage fails (or panics) before that.
struct Building<'d> {
    dest: &'d Path,
    tmp: PathBuf,
    done: bool,
}

impl<'d> Building<'d> {
    /// Creates the temporary directory, which must not exist yet.
    fn create(dest: &'d Path) -> io::Result<Self> {
        let tmp = tmp_path(dest)?;
        if let Err(e) = std::fs::create_dir(&tmp) {
            return Err(if e.kind() == io::ErrorKind::AlreadyExists {
                io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!(
                        "{} already exists: salvage builds {} there; it is left by a salvage \
                         that was interrupted (remove it), or one is running",
                        tmp.display(),
                        dest.display()
                    ),
                )
            } else {
                file_error(e, "create the directory", &tmp)
            });
        }
        let building = Building {
            dest,
            tmp,
            done: false,
        };
        // An empty directory given as the destination is replaced: the new one takes its
        // permissions.
        if let Ok(meta) = std::fs::metadata(dest) {
            std::fs::set_permissions(&building.tmp, meta.permissions())
                .context("set the permissions of", &building.tmp)?;
        }
        Ok(building)
    }

    /// Renames the complete directory to the destination (replacing it if it is an empty
    /// directory: in one step on Unix, after removing it on Windows), durably.
    fn finish(mut self) -> io::Result<()> {
        crate::store::fsutil::sync_dir(&self.tmp)?;
        let mut renamed = std::fs::rename(&self.tmp, self.dest);
        if renamed.is_err() && cfg!(windows) && std::fs::remove_dir(self.dest).is_ok() {
            // Windows does not rename a directory over another one, even an empty one: the
            // empty destination goes first (`remove_dir` removes only an empty one).
            renamed = std::fs::rename(&self.tmp, self.dest);
        }
        renamed.rename_context(&self.tmp, self.dest)?;
        self.done = true;
        crate::store::fsutil::sync_parent(self.dest)
    }
}

impl Drop for Building<'_> {
    fn drop(&mut self) {
        if !self.done {
            // Best effort: what is left is a hidden directory that the next run names.
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

/// `.<name>.salvage-tmp` beside `dest`.
fn tmp_path(dest: &Path) -> io::Result<PathBuf> {
    let name = dest.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} does not end in a directory name", dest.display()),
        )
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(".salvage-tmp");
    Ok(dest.with_file_name(tmp_name))
}

/// Refuses a destination that holds anything, or lies inside the source.
fn check_dest(src: &Path, dest: &Path) -> io::Result<()> {
    match std::fs::read_dir(dest) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!(
                        "{} is not empty: salvage writes a new directory",
                        dest.display()
                    ),
                ));
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) if e.kind() == io::ErrorKind::NotADirectory => {
            if std::fs::metadata(dest).is_ok_and(|meta| !meta.is_dir()) {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a directory", dest.display()),
                ));
            }
            // A directory above it is a file: the destination can never be created.
            return Err(file_error(e, "create the directory", dest));
        }
        Err(e) => return Err(file_error(e, "read the directory", dest)),
    }
    let src = std::fs::canonicalize(src).context("resolve", src)?;
    // The nearest ancestor of `dest` that exists, resolved, tells where it would be created.
    let mut existing = dest;
    while !existing.exists() {
        match existing.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => existing = parent,
            _ => {
                existing = Path::new(".");
                break;
            }
        }
    }
    if std::fs::canonicalize(existing)
        .context("resolve", existing)?
        .starts_with(&src)
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} lies inside {}, which salvage must not change",
                dest.display(),
                src.display()
            ),
        ));
    }
    Ok(())
}

/// The copy under way.
struct Copy<'w> {
    /// The source's archive.
    archive: &'w Path,
    /// What the source's archive index records, read at the first damaged frame.
    index: Option<Vec<ArchiveFrame>>,
    /// Events kept, and malformed lines reported, per archive frame (by offset).
    kept: BTreeMap<u64, u64>,
    malformed: BTreeMap<u64, u64>,
    writer: &'w mut EventWriter,
    batch: Vec<Event>,
    /// Whether the events being copied are still those of the archive.
    in_archive: bool,
    report: SalvageReport,
    /// The write error that stopped the copy.
    error: Option<io::Error>,
}

impl Copy<'_> {
    fn add(&mut self, event: Event, archived: bool) -> ControlFlow<()> {
        let step = (|| {
            if self.in_archive && !archived {
                // The archive is done: what was copied from it goes into the new archive.
                self.flush()?;
                self.rotate()?;
                self.in_archive = false;
            }
            self.batch.push(event);
            self.report.events += 1;
            self.report.archived_events += u64::from(archived);
            if self.batch.len() >= BATCH {
                self.flush()?;
                if self.in_archive && self.writer.active_log_size()? >= ROTATE_AT {
                    self.rotate()?;
                }
            }
            Ok(())
        })();
        match step {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                self.error = Some(e);
                ControlFlow::Break(())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.batch.is_empty() {
            self.writer.append_batch(&self.batch)?;
            self.batch.clear();
        }
        Ok(())
    }

    /// Writes what is left; archived events with no active event after them still go into
    /// the new archive.
    fn finish(&mut self) -> io::Result<()> {
        self.flush()?;
        if self.in_archive {
            self.rotate()?;
        }
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        if self.writer.active_log_size()? == 0 {
            return Ok(());
        }
        let reader = self.writer.reader();
        self.writer.rotate(&reader, &mut HashMap::new())
    }

    fn lost(&mut self, damage: Damage<'_>) {
        let lost = match damage {
            Damage::Malformed {
                bytes,
                position,
                location,
                reason,
                ..
            } => {
                self.report.lost_events += 1;
                if let Some(frame) = location.frame {
                    *self.malformed.entry(frame).or_default() += 1;
                }
                at(
                    LostKind::Malformed {
                        bytes: bytes.to_vec(),
                        reason,
                    },
                    &location,
                    position,
                )
            }
            Damage::Frame {
                frame,
                position,
                skipped,
                error,
            } => Lost {
                kind: self.damaged_frame(frame, skipped, &error),
                file: HistoryFile::Archive,
                frame: Some(frame),
                offset: frame,
                line: None,
                position,
            },
            Damage::UnfinishedLine {
                frame,
                position,
                len,
            } => Lost {
                kind: LostKind::UnfinishedLine { len },
                file: HistoryFile::Archive,
                frame: Some(frame),
                offset: position.offset(),
                line: None,
                position,
            },
        };
        self.report.lost.push(lost);
    }

    /// What the damaged frame at `frame` cost: counted from the index, less what was read.
    fn damaged_frame(&mut self, frame: u64, skipped: bool, error: &io::Error) -> LostKind {
        let reason = match crate::Error::from_io(error) {
            Some(crate::Error::Archive { reason, .. }) => reason.clone(),
            _ => error.to_string(),
        };
        // The frame alone, or everything from it on when nothing past it could be read.
        let last = if skipped { frame } else { u64::MAX };
        let sum = |counts: &BTreeMap<u64, u64>| counts.range(frame..=last).map(|(_, n)| n).sum();
        let (kept, malformed): (u64, u64) = (sum(&self.kept), sum(&self.malformed));
        let index = self
            .index
            .get_or_insert_with(|| crate::store::index::recorded_unchecked(self.archive));
        let described: Option<&[ArchiveFrame]> =
            index.iter().position(|e| e.offset == frame).map(|i| {
                let described = &index[i..];
                if skipped { &described[..1] } else { described }
            });
        let events = described.map(|frames| {
            let counted: u64 = frames.iter().map(|e| e.events).sum();
            counted.saturating_sub(kept + malformed)
        });
        let archive_len = crate::store::fsutil::len_or_zero(self.archive).unwrap_or(0);
        let compressed_bytes = match described {
            Some(frames) if skipped => frames[0].len,
            _ if skipped => crate::store::archive::Frames::open_at(self.archive, frame, None)
                .and_then(|mut frames| frames.next_frame(self.archive))
                .ok()
                .flatten()
                .map_or(archive_len.saturating_sub(frame), |f| f.bytes.len() as u64),
            _ => archive_len.saturating_sub(frame),
        };
        match events {
            Some(events) => self.report.lost_events += events,
            None => self.report.lost_unknown_bytes += compressed_bytes,
        }
        LostKind::DamagedFrame {
            to_archive_end: !skipped,
            checksum_failed: skipped && reason == crate::store::archive::CHECKSUM_MISMATCH,
            reason,
            kept,
            events,
            compressed_bytes,
        }
    }
}

fn at(kind: LostKind, location: &Location, position: Position) -> Lost {
    Lost {
        kind,
        file: location.file,
        frame: location.frame,
        offset: location.offset,
        line: Some(location.line),
        position,
    }
}
