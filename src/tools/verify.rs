//! Verification: every check that can be made of a directory without changing it, each
//! finding naming the file, frame, byte offset and line it concerns.

use crate::error::{Context, Error, file_error};
use crate::replay::reader::EventReader;
use crate::replay::scan::{Damage, HistoryFile, Location, ScanEnd, ScannedEvent};
use crate::store::platform;
use crate::store::position::Position;
use crate::tools::inspect::{RotationState, SnapshotStatus};
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How serious a finding is.
///
/// # Examples
///
/// ```
/// use eventfold::Severity;
/// assert!(Severity::Error > Severity::Warning);
/// assert_eq!(Severity::Warning.to_string(), "warning");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Normal in some states of a live directory, or harmless, but worth knowing.
    Warning,
    /// Something readers stop at, or that does not agree with the rest of the directory.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// What a check looks at.
///
/// # Examples
///
/// ```
/// use eventfold::Check;
/// assert_eq!(Check::DuplicateId.name(), "duplicate-id");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Check {
    /// Every line is a valid event.
    Line,
    /// `app.jsonl` ends with a complete line (a warning: normal while an append is written).
    TornTail,
    /// Every archive frame decompresses, with the content size and checksum it records, and
    /// ends on a line boundary.
    Frame,
    /// `rotation.json` agrees with the files.
    Rotation,
    /// Each snapshot's offset and hash still match the log.
    Snapshot,
    /// `ts` never goes backwards (a warning).
    TsOrder,
    /// No two events share an `id` (a warning).
    DuplicateId,
    /// No file is left over from an interrupted step (a warning).
    Leftover,
}

impl Check {
    /// The check's name, as `eventfold verify` prints it.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventfold::Check;
    /// assert_eq!(Check::TornTail.name(), "torn-tail");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Check::Line => "line",
            Check::TornTail => "torn-tail",
            Check::Frame => "frame",
            Check::Rotation => "rotation",
            Check::Snapshot => "snapshot",
            Check::TsOrder => "ts-order",
            Check::DuplicateId => "duplicate-id",
            Check::Leftover => "leftover",
        }
    }
}

/// One thing a check found.
///
/// `file` is relative to the directory. For a line of the archive, `offset` and `line` are
/// counted in the decompressed stream, and `frame` is the frame's offset in
/// `archive.jsonl.zst`; for a frame, `offset` is the frame's offset in the file.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{verify, Check, Severity, VerifyOptions};
/// std::fs::write(dir.path().join("app.jsonl"), "{\"type\":\"a\",\"data\":{},\"ts\":1}\n{\"type\"")?;
/// let report = verify(dir.path(), &VerifyOptions::new())?;
/// let finding = &report.findings[0];
/// assert_eq!((finding.severity, finding.check), (Severity::Warning, Check::TornTail));
/// assert_eq!((finding.offset, finding.line), (Some(30), Some(2)));
/// assert_eq!(finding.file, std::path::Path::new("app.jsonl"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finding {
    /// How serious it is.
    pub severity: Severity,
    /// The check that found it.
    pub check: Check,
    /// The file it concerns, relative to the directory.
    pub file: PathBuf,
    /// The archive frame (its offset in `archive.jsonl.zst`), for the archive.
    pub frame: Option<u64>,
    /// The byte offset in the file (in the decompressed stream for archived lines).
    pub offset: Option<u64>,
    /// The one-based line number, for a line.
    pub line: Option<u64>,
    /// The position in the history, for a line.
    pub position: Option<Position>,
    /// What is wrong, and what it means.
    pub message: String,
}

impl fmt::Display for Finding {
    /// `error[line] archive.jsonl.zst frame 0 byte 120 line 3: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}[{}] {}",
            self.severity,
            self.check.name(),
            self.file.display()
        )?;
        if let Some(frame) = self.frame {
            write!(f, " frame {frame}")?;
        }
        if let Some(offset) = self.offset {
            write!(f, " byte {offset}")?;
        }
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// What [`verify`] does.
///
/// # Examples
///
/// ```
/// use eventfold::VerifyOptions;
/// let options = VerifyOptions::new().quick(true);
/// assert!(options.is_quick());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyOptions {
    quick: bool,
}

impl VerifyOptions {
    /// Every check.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!eventfold::VerifyOptions::new().is_quick());
    /// ```
    pub fn new() -> Self {
        VerifyOptions::default()
    }

    /// With `quick`, the archive is not decompressed: its frames are walked (each must start
    /// with a zstd frame header and end where the next starts), but their content, sizes and
    /// checksums are not checked, and `ts` order and ids are checked within the active log
    /// only.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(eventfold::VerifyOptions::new().quick(true).is_quick());
    /// ```
    #[must_use]
    pub fn quick(mut self, quick: bool) -> Self {
        self.quick = quick;
        self
    }

    /// Whether the archive is left compressed.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!eventfold::VerifyOptions::default().is_quick());
    /// ```
    pub fn is_quick(&self) -> bool {
        self.quick
    }
}

/// What [`verify`] found, and how much it read.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{verify, Event, EventLog, VerifyOptions};
/// let mut log = EventLog::open(dir.path())?;
/// log.append(&Event::new("a", serde_json::json!({})))?;
/// log.rotate()?;
/// log.append(&Event::new("b", serde_json::json!({})))?;
/// let report = verify(dir.path(), &VerifyOptions::new())?;
/// assert!(report.is_clean());
/// assert_eq!((report.events, report.archive_frames), (2, 1));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Every finding, in the order the checks ran: leftover files, `rotation.json`, the
    /// history from its start, the torn tail, then the snapshots.
    pub findings: Vec<Finding>,
    /// Lines read that hold an event (valid or not).
    pub events: u64,
    /// Archive frames walked (without `quick`: the frames that hold an event or are damaged).
    pub archive_frames: u64,
    /// Bytes of `archive.jsonl.zst` read.
    pub archive_bytes: u64,
    /// Decompressed bytes of the archive checked (0 with `quick`).
    pub archive_content_bytes: u64,
    /// Committed bytes of `app.jsonl` checked.
    pub active_bytes: u64,
    /// Snapshots checked.
    pub snapshots: u64,
    /// Whether the archive was left compressed.
    pub quick: bool,
}

impl VerifyReport {
    /// How many findings are errors.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(eventfold::VerifyReport::default().errors(), 0);
    /// ```
    pub fn errors(&self) -> usize {
        self.count(Severity::Error)
    }

    /// How many findings are warnings.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(eventfold::VerifyReport::default().warnings(), 0);
    /// ```
    pub fn warnings(&self) -> usize {
        self.count(Severity::Warning)
    }

    /// Whether no finding is an error.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(eventfold::VerifyReport::default().is_clean());
    /// ```
    pub fn is_clean(&self) -> bool {
        self.errors() == 0
    }

    fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }
}

/// Checks the directory `dir` without changing anything in it: every line parses; the active
/// log ends with a complete line (a torn tail is a warning, as it is normal while an append
/// is written); every archive frame decompresses with the content size and checksum it
/// records, and ends on a line boundary; `rotation.json` agrees with the files; each
/// snapshot's offset and hash still match the log; `ts` never goes backwards and no two
/// events share an `id` (both warnings); no file is left over from an interrupted step.
///
/// The history is read on the scan engine, lines parsed in parallel, going on past every
/// damaged line and frame so that one pass finds them all.
///
/// A writer may be at work while the directory is read, and passes through states that look
/// like findings (a rotation half done, a snapshot not yet reset to the new active log, a file
/// being written beside its final name). So when a read finds anything, `verify` waits a
/// moment (100 ms) and looks again: if a rotation happened since the read began, or a file a
/// finding concerns has changed, it reads the directory again, up to 8 times.
///
/// # Errors
///
/// Returns an error when a file cannot be read (`app.jsonl` missing included), and when the
/// directory kept changing under each of the 8 reads (what they found may be states a writer
/// passed through); what is wrong with the data is in the report.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{verify, Check, Severity, VerifyOptions};
/// let good = "{\"type\":\"a\",\"data\":{},\"ts\":1}\n";
/// std::fs::write(dir.path().join("app.jsonl"), format!("{good}{{oops\n{good}"))?;
/// let report = verify(dir.path(), &VerifyOptions::new())?;
/// assert_eq!(report.errors(), 1);
/// let finding = &report.findings[0];
/// assert_eq!((finding.check, finding.offset, finding.line), (Check::Line, Some(30), Some(2)));
/// assert!(finding.to_string().starts_with("error[line] app.jsonl byte 30 line 2: "));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn verify(dir: impl AsRef<Path>, options: &VerifyOptions) -> io::Result<VerifyReport> {
    verify_with_progress(dir, options, |_| {})
}

/// [`verify`], calling `progress` with the position reached as the history is read (for each
/// event, so keep it cheap; a read made again because the directory changed starts over
/// from the beginning).
///
/// # Errors
///
/// As [`verify`].
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{verify_with_progress, Event, EventLog, VerifyOptions};
/// let mut log = EventLog::open(dir.path())?;
/// log.append(&Event::new("a", serde_json::json!({})))?;
/// let mut reached = None;
/// verify_with_progress(dir.path(), &VerifyOptions::new(), |p| reached = Some(p))?;
/// assert_eq!(reached, Some(log.reader().history_end()?));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn verify_with_progress(
    dir: impl AsRef<Path>,
    options: &VerifyOptions,
    mut progress: impl FnMut(Position),
) -> io::Result<VerifyReport> {
    let dir = dir.as_ref();
    let reader = EventReader::new(dir).read_only();
    // Fails early, with the operating system's word, when there is no log to verify.
    std::fs::metadata(reader.log_path()).context("access", reader.log_path())?;
    for _ in 0..ATTEMPTS {
        let before = Seen::look(&reader)?;
        let report = verify_once(&reader, options, &mut progress)?;
        if report.findings.is_empty() {
            return Ok(report);
        }
        // A writer at work passes through states that look like findings (a rotation half
        // done, a snapshot not yet reset, a file being written), and one that rotated while
        // the directory was read leaves a mix of two states. Findings are kept only if what
        // they concern is still as it was before the read, a moment later.
        std::thread::sleep(SETTLE);
        if before.same_for(&Seen::look(&reader)?, &report.findings) {
            return Ok(report);
        }
    }
    Err(io::Error::other(format!(
        "{} kept changing while it was verified: each of the {ATTEMPTS} times it was read, a \
         writer rotated it or rewrote a file that looked wrong, so what was found may be states \
         it passed through rather than damage; verify it again when it is quieter",
        dir.display()
    )))
}

/// How many times [`verify`] reads a directory that changes under it before giving up.
const ATTEMPTS: u32 = 8;
/// How long [`verify`] waits before it looks again at what its findings concern: longer than
/// a writer takes from one step of a rotation to the next.
const SETTLE: Duration = Duration::from_millis(100);

/// One file as [`Seen`] notes it: which file it is, its length and its modification time,
/// which differ once it is replaced (by a rename) or written.
type FileId = (platform::FileId, u64, Option<std::time::SystemTime>);

fn file_id(path: &Path) -> io::Result<Option<FileId>> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(file_error(e, "access", path)),
    };
    if !meta.is_file() {
        // Nothing a finding concerns is a directory (and Windows cannot open one as a file).
        return Ok(None);
    }
    match platform::path_id_of(path, &meta) {
        Ok(id) => Ok(Some((id, meta.len(), meta.modified().ok()))),
        // Removed before Windows opened it for its id: as good as not there.
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(file_error(e, "access", path)),
    }
}

/// What a writer changes as it rotates, appends and saves snapshots, noted before a read and
/// again after it, to tell whether the findings of the read describe the directory or a
/// moment of a writer's work.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    /// Length of the archive, which a rotation grows.
    archive_len: u64,
    /// Which file `app.jsonl` is, which a rotation replaces.
    active: Option<platform::FileId>,
    /// Length of `app.jsonl`, which an append grows.
    active_len: u64,
    /// `rotation.json`, which a rotation writes and the next append removes.
    record: Option<FileId>,
    /// The files leftovers and snapshots are found in, relative to the directory.
    files: std::collections::BTreeMap<PathBuf, FileId>,
}

impl Seen {
    fn look(reader: &EventReader) -> io::Result<Seen> {
        let dir = reader.dir();
        let active = file_id(reader.log_path())?;
        let mut files = std::collections::BTreeMap::new();
        for name in [crate::store::recovery::NEXT_LOG_NAME, "rotation.json.tmp"] {
            if let Some(id) = file_id(&dir.join(name))? {
                files.insert(PathBuf::from(name), id);
            }
        }
        let views = dir.join("views");
        match std::fs::read_dir(&views) {
            Ok(entries) => {
                for entry in entries {
                    let entry = entry.context("list the directory", &views)?;
                    let name = Path::new("views").join(entry.file_name());
                    if let Some(id) = file_id(&dir.join(&name))? {
                        files.insert(name, id);
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(file_error(e, "list the directory", &views)),
        }
        Ok(Seen {
            archive_len: crate::store::fsutil::len_or_zero(reader.archive_path())?,
            active: active.map(|(id, ..)| id),
            active_len: active.map_or(0, |(_, len, _)| len),
            record: file_id(&crate::store::recovery::record_path(dir))?,
            files,
        })
    }

    /// Whether `findings`, read after `self` was noted, still describe the directory as
    /// `later` notes it: no rotation in between, and nothing a finding concerns changed.
    fn same_for(&self, later: &Seen, findings: &[Finding]) -> bool {
        if (self.archive_len, self.active, self.record)
            != (later.archive_len, later.active, later.record)
        {
            return false;
        }
        findings.iter().all(|finding| match finding.check {
            Check::TornTail => self.active_len == later.active_len,
            // The file was there before the read and is the same file, unchanged, after it:
            // one that neither look found came and went during the read (a snapshot's .tmp
            // while it was saved, say).
            Check::Leftover | Check::Snapshot => {
                let (before, after) = (
                    self.files.get(&finding.file),
                    later.files.get(&finding.file),
                );
                before.is_some() && before == after
            }
            _ => true,
        })
    }
}

/// One read of the directory: every check, on what it holds as it is read.
fn verify_once(
    reader: &EventReader,
    options: &VerifyOptions,
    progress: &mut dyn FnMut(Position),
) -> io::Result<VerifyReport> {
    let mut report = VerifyReport {
        quick: options.quick,
        ..VerifyReport::default()
    };
    leftovers(reader, &mut report)?;
    let rotation = rotation(reader, &mut report)?;
    if options.quick {
        quick_history(reader, &mut report, progress)?;
    } else {
        full_history(reader, &mut report, progress, rotation.as_deref())?;
    }
    torn_tail(reader, &mut report)?;
    snapshots(reader, &mut report)?;
    Ok(report)
}

fn finding(severity: Severity, check: Check, file: impl Into<PathBuf>, message: String) -> Finding {
    Finding {
        severity,
        check,
        file: file.into(),
        frame: None,
        offset: None,
        line: None,
        position: None,
        message,
    }
}

/// A finding about the line at `location`, which starts at `position` in the history.
fn line_finding(
    severity: Severity,
    check: Check,
    location: &Location,
    position: Position,
    message: String,
) -> Finding {
    Finding {
        frame: location.frame,
        offset: Some(location.offset),
        line: Some(location.line),
        position: Some(position),
        ..finding(severity, check, location.file.name(), message)
    }
}

/// A finding about the archive frame at `frame` that cannot be decompressed.
fn frame_finding(frame: u64, message: String) -> Finding {
    Finding {
        frame: Some(frame),
        offset: Some(frame),
        ..finding(
            Severity::Error,
            Check::Frame,
            HistoryFile::Archive.name(),
            message,
        )
    }
}

fn leftovers(reader: &EventReader, report: &mut VerifyReport) -> io::Result<()> {
    let dir = reader.dir();
    let mut found = Vec::new();
    for name in [crate::store::recovery::NEXT_LOG_NAME, "rotation.json.tmp"] {
        if dir.join(name).exists() {
            found.push(PathBuf::from(name));
        }
    }
    let views = dir.join("views");
    if let Ok(entries) = std::fs::read_dir(&views) {
        for entry in entries {
            let name = entry.context("list the directory", &views)?.file_name();
            if Path::new(&name).extension().is_some_and(|ext| ext == "tmp") {
                found.push(Path::new("views").join(name));
            }
        }
    }
    found.sort();
    for file in found {
        let message = "left over from a step that was interrupted; the next writer removes it \
                       (a snapshot's .tmp is ignored)"
            .to_string();
        report
            .findings
            .push(finding(Severity::Warning, Check::Leftover, file, message));
    }
    Ok(())
}

/// Checks `rotation.json`; returns the last line hash a complete record says the archive
/// ends with.
fn rotation(reader: &EventReader, report: &mut VerifyReport) -> io::Result<Option<String>> {
    let file = "rotation.json";
    let (severity, message, expect_hash) = match reader.rotation_state()? {
        RotationState::None => return Ok(None),
        RotationState::Finished(record) => return Ok(Some(record.last_line_hash)),
        RotationState::Unreadable { error } => (
            Severity::Error,
            format!(
                "it is not a rotation record ({error}): readers and writers ignore it, and an \
                 interrupted rotation it recorded would not be finished; the next append removes it"
            ),
            None,
        ),
        RotationState::ActiveNotReplaced(record) => (
            Severity::Warning,
            format!(
                "a rotation was interrupted after appending {} bytes to the archive: app.jsonl \
                 is a copy of what it archived, which readers do not read twice; the next \
                 writer finishes the rotation",
                record.frame_len
            ),
            Some(record.last_line_hash),
        ),
        RotationState::ArchiveIncomplete {
            record,
            archive_len,
        } if archive_len >= record.archive_len_before => (
            Severity::Warning,
            format!(
                "a rotation was interrupted while appending to the archive: its last {} bytes \
                 are part of a frame of {} bytes, which readers leave out and the next writer \
                 cuts off; app.jsonl still holds every event",
                archive_len - record.archive_len_before,
                record.frame_len
            ),
            None,
        ),
        RotationState::ArchiveIncomplete {
            record,
            archive_len,
        } => (
            Severity::Error,
            format!(
                "the archive is {archive_len} bytes, shorter than the {} bytes it had before the \
                 rotation this records: archived history is missing",
                record.archive_len_before
            ),
            None,
        ),
        RotationState::Outdated {
            record,
            archive_len,
            active_len,
        } => (
            Severity::Warning,
            format!(
                "it no longer describes the files (archive {archive_len} bytes, expected {}; \
                 app.jsonl {active_len} bytes): something other than an eventfold writer changed \
                 them since; the next writer removes it",
                record.archive_len_after()
            ),
            None,
        ),
    };
    report
        .findings
        .push(finding(severity, Check::Rotation, file, message));
    Ok(expect_hash)
}

/// What the history pass gathers as it goes.
struct Pass<'r> {
    report: &'r mut VerifyReport,
    last_ts: Option<(u64, Position)>,
    ids: HashMap<Box<str>, Position>,
    last_archive_hash: Option<String>,
    /// Archive frames met, and where the last archived line ends.
    frames: std::collections::BTreeSet<u64>,
    archive_end: u64,
}

impl<'r> Pass<'r> {
    /// Runs `scan` with one pass, which has seen nothing yet, as its visitor and its damage
    /// handler, adding what it finds to `report`; `progress` follows the scan. Returns the
    /// pass and where the scan ended.
    fn run(
        report: &'r mut VerifyReport,
        progress: &mut dyn FnMut(Position),
        scan: impl FnOnce(
            &mut dyn FnMut(&ScannedEvent<'_>) -> ControlFlow<()>,
            &mut dyn FnMut(Damage<'_>) -> ControlFlow<()>,
        ) -> io::Result<ScanEnd>,
    ) -> io::Result<(Self, ScanEnd)> {
        let pass = std::cell::RefCell::new(Pass {
            report,
            last_ts: None,
            ids: HashMap::new(),
            last_archive_hash: None,
            frames: Default::default(),
            archive_end: 0,
        });
        let end = scan(
            &mut |event| {
                pass.borrow_mut().event(event);
                progress(event.end);
                ControlFlow::Continue(())
            },
            &mut |damage| {
                pass.borrow_mut().damage(damage);
                ControlFlow::Continue(())
            },
        )?;
        progress(end.end);
        Ok((pass.into_inner(), end))
    }

    fn event(&mut self, event: &ScannedEvent<'_>) {
        self.report.events += 1;
        let ts = event.event.ts();
        if let Some((previous, at)) = self.last_ts
            && ts < previous
        {
            let message = format!(
                "ts {ts} is earlier than the {previous} of the event before it (position {at})"
            );
            self.report.findings.push(line_finding(
                Severity::Warning,
                Check::TsOrder,
                &event.location,
                event.position,
                message,
            ));
        }
        self.last_ts = Some((ts, event.position));
        if let Some(id) = event.event.id() {
            if let Some(first) = self.ids.get(id) {
                let message =
                    format!("id {id:?} was already used by the event at position {first}");
                self.report.findings.push(line_finding(
                    Severity::Warning,
                    Check::DuplicateId,
                    &event.location,
                    event.position,
                    message,
                ));
            } else {
                self.ids.insert(id.into(), event.position);
            }
        }
        if event.location.file == HistoryFile::Archive {
            self.last_archive_hash = Some(crate::line_hash(event.event.line()));
            self.frames.extend(event.location.frame);
            self.archive_end = event.end.offset();
        }
    }

    fn damage(&mut self, damage: Damage<'_>) {
        let found = match damage {
            Damage::Malformed {
                position,
                location,
                reason,
                ..
            } => {
                self.report.events += 1;
                let message = format!("not a valid event: {reason}");
                line_finding(Severity::Error, Check::Line, &location, position, message)
            }
            Damage::Frame {
                frame,
                skipped,
                error,
                ..
            } => {
                self.frames.insert(frame);
                let reason = match Error::from_io(&error) {
                    Some(Error::Archive { reason, .. }) => reason.clone(),
                    _ => error.to_string(),
                };
                let rest = if skipped && reason == crate::store::archive::CHECKSUM_MISMATCH {
                    "its content was read whole, but the checksum cannot vouch for its events; \
                     reading went on at the next frame"
                } else if skipped {
                    "the rest of this frame cannot be read; reading went on at the next frame"
                } else {
                    "nothing after it in the archive can be read"
                };
                frame_finding(frame, format!("cannot decompress: {reason}; {rest}"))
            }
            Damage::UnfinishedLine {
                frame,
                position,
                len,
            } => {
                let mut found = finding(
                    Severity::Error,
                    Check::Frame,
                    HistoryFile::Archive.name(),
                    format!(
                        "the frame does not end on a line boundary: its last {len} bytes are an \
                         unfinished line, which readers leave out"
                    ),
                );
                found.frame = Some(frame);
                found.offset = Some(position.offset());
                found.position = Some(position);
                found
            }
        };
        self.report.findings.push(found);
    }
}

fn full_history(
    reader: &EventReader,
    report: &mut VerifyReport,
    progress: &mut dyn FnMut(Position),
    rotation_hash: Option<&str>,
) -> io::Result<()> {
    let (pass, _) = Pass::run(report, progress, |visit, damage| {
        reader.scan_lenient(Position::START, visit, damage)
    })?;
    // The archive's figures are those the scan met, so that the frames are not decompressed
    // a second time to be described (and a damaged archive is counted as far as it reads).
    pass.report.archive_frames = pass.frames.len() as u64;
    let history = reader.history()?;
    pass.report.archive_bytes = history.archive_limit;
    let active_end = history.active.map_or(0, |(_, end)| end);
    let content = pass.archive_end;
    pass.report.archive_content_bytes = content;
    pass.report.active_bytes = active_end;
    if let (Some(expected), Some(found)) = (rotation_hash, pass.last_archive_hash.as_deref())
        && expected != found
    {
        let message = format!(
            "it records {expected} as the hash of the last archived line, but the archive's last \
             line hashes to {found}"
        );
        pass.report.findings.insert(
            0,
            finding(Severity::Error, Check::Rotation, "rotation.json", message),
        );
    }
    Ok(())
}

fn quick_history(
    reader: &EventReader,
    report: &mut VerifyReport,
    progress: &mut dyn FnMut(Position),
) -> io::Result<()> {
    let path = reader.archive_path();
    let limit = reader.history()?.archive_limit;
    let mut frames = crate::store::archive::Frames::open_at(path, 0, Some(limit))?;
    // The archive's content length, while every frame records its own.
    let mut content = Some(0u64);
    loop {
        match frames.next_frame(path) {
            Ok(Some(frame)) => {
                report.archive_frames += 1;
                report.archive_bytes = frame.offset + frame.bytes.len() as u64;
                content = match zstd::zstd_safe::get_frame_content_size(&frame.bytes) {
                    Ok(Some(size)) => content.map(|c| c + size),
                    _ => None,
                };
            }
            Ok(None) => break,
            Err(e) => {
                let (frame, reason) = match Error::from_io(&e) {
                    Some(Error::Archive {
                        frame_offset,
                        reason,
                        ..
                    }) => (*frame_offset, reason.clone()),
                    _ => return Err(e),
                };
                report.findings.push(frame_finding(
                    frame,
                    format!("{reason}; nothing after it in the archive can be read"),
                ));
                content = None;
                break;
            }
        }
    }
    let base = content.unwrap_or(0);
    let (pass, end) = Pass::run(report, progress, |visit, damage| {
        reader.scan_active_lenient(base, 0, visit, damage)
    })?;
    pass.report.active_bytes = end.end.offset() - base;
    if content.is_none() {
        // Without every frame's size, positions in the active log are not known.
        for found in &mut pass.report.findings {
            if found.file == Path::new(HistoryFile::Active.name()) {
                found.position = None;
            }
        }
    }
    Ok(())
}

fn torn_tail(reader: &EventReader, report: &mut VerifyReport) -> io::Result<()> {
    let path = reader.log_path();
    let file = std::fs::File::open(path).context("open", path)?;
    let len = file.metadata().context("read", path)?.len();
    let committed = crate::store::mmap::committed_end(&file, 0, len).context("read", path)?;
    if committed < len {
        let lines = crate::store::mmap::newlines_before(&file, committed).context("read", path)?;
        let mut found = finding(
            Severity::Warning,
            Check::TornTail,
            HistoryFile::Active.name(),
            format!(
                "the last {} bytes are not a complete line: an append in progress, or one torn \
                 by a crash; readers leave them out, and the next writer cuts them off",
                len - committed
            ),
        );
        found.offset = Some(committed);
        found.line = Some(lines + 1);
        report.findings.push(found);
    }
    Ok(())
}

fn snapshots(reader: &EventReader, report: &mut VerifyReport) -> io::Result<()> {
    for snapshot in reader.snapshots()? {
        report.snapshots += 1;
        let file = Path::new("views").join(snapshot.path.file_name().unwrap_or_default());
        let message = match &snapshot.status {
            SnapshotStatus::Stale { active_len } => format!(
                "its offset {} lies past the end of app.jsonl ({active_len} bytes): it was taken \
                 of a log since replaced or cut; the view replays the whole history at its next \
                 refresh",
                snapshot.offset
            ),
            SnapshotStatus::Mismatch { found } => format!(
                "the line ending at its offset {} {}, not {}: a snapshot of another log, or of \
                 one rewritten since; the view replays the whole history at its next refresh",
                snapshot.offset,
                match found {
                    Some(hash) => format!("hashes to {hash}"),
                    None => "does not end there".to_string(),
                },
                snapshot.hash
            ),
            SnapshotStatus::Unreadable { reason } => {
                format!("not a snapshot ({reason}); the view replays the whole history")
            }
            _ => continue,
        };
        report
            .findings
            .push(finding(Severity::Error, Check::Snapshot, file, message));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A [`Seen`] of the files `files` (name and length), all with the id `id`.
    fn seen(id: platform::FileId, files: &[(&str, u64)]) -> Seen {
        Seen {
            archive_len: 0,
            active: None,
            active_len: 0,
            record: None,
            files: files
                .iter()
                .map(|(name, len)| (PathBuf::from(name), (id, *len, None)))
                .collect(),
        }
    }

    /// A leftover or a snapshot found by a read stands only if its file was there, the same,
    /// before and after the read: a file that neither look found came and went during it.
    #[test]
    fn a_finding_stands_only_for_a_file_both_looks_found_unchanged() {
        let tmp = "views/v.snapshot.json.tmp";
        let found = |check| vec![finding(Severity::Warning, check, tmp, String::new())];
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), b"x").unwrap();
        let id = platform::path_id(&dir.path().join("f")).unwrap();
        let seen = |files: &[(&str, u64)]| seen(id, files);
        for check in [Check::Leftover, Check::Snapshot] {
            let (none, one, grown) = (seen(&[]), seen(&[(tmp, 1)]), seen(&[(tmp, 2)]));
            assert!(!none.same_for(&none, &found(check)), "came and went");
            assert!(!none.same_for(&one, &found(check)), "appeared");
            assert!(!one.same_for(&none, &found(check)), "went");
            assert!(!one.same_for(&grown, &found(check)), "written");
            assert!(one.same_for(&seen(&[(tmp, 1)]), &found(check)), "stayed");
        }
    }
}
