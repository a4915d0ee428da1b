//! The archive index: `archive.index.jsonl`, what each archive frame holds, so that history can
//! be entered at any frame without decompressing the frames before it.
//!
//! One JSON line per frame, in archive order: where the frame lies in the archive file, where
//! its content lies in the history stream (see [`Position`](crate::Position)), how many lines
//! and events it holds, its first, last and largest `ts`, and the hash of its last line. The
//! index is a cache. It is checked against the archive every time it is read (the frames must
//! follow each other from the start of the file, each must begin with a zstd frame header and
//! end with the bytes recorded for it), and only the prefix that passes is used: frames past it
//! are decompressed and described again. Rotations append the lines of the frames they write;
//! a torn last line (a crash while appending) fails the check like any other damage.

use crate::error::{Context, file_error};
use crate::format::fold::{self, LineFold};
use crate::format::lines::{self, Lines};
use crate::format::parse::ParseError;
use crate::store::archive::{FrameSpan, Windows};
use crate::store::position::Position;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// File name of the index, beside the archive.
pub(crate) const INDEX_NAME: &str = "archive.index.jsonl";

/// One frame of `archive.jsonl.zst`, as the archive index describes it: where it lies in the
/// archive file and in the history, and what it holds. Each is a line of `archive.index.jsonl`.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use eventfold::{Event, EventLog, Position};
/// let mut log = EventLog::open(dir.path())?;
/// log.append(&Event::new("a", serde_json::json!({})))?;
/// log.rotate()?;
/// let frames = log.reader().read_only().archive_frames()?;
/// assert_eq!(frames.len(), 1);
/// assert_eq!((frames[0].offset, frames[0].start, frames[0].events), (0, Position::START, 1));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ArchiveFrame {
    /// Offset of the frame in `archive.jsonl.zst`.
    pub offset: u64,
    /// Its compressed length.
    pub len: u64,
    /// The frame's last (up to) 8 compressed bytes, as 16 hex digits of a little-endian number.
    pub(crate) tail: String,
    /// Where its content starts in the history.
    pub start: Position,
    /// Its decompressed length, a torn last line included.
    pub content_len: u64,
    /// Newlines before the frame in the decompressed archive, empty lines included.
    pub first_line: u64,
    /// Newlines in the frame.
    pub lines: u64,
    /// Index of the frame's first event.
    pub first_event: u64,
    /// Events (complete, non-empty lines) in the frame, malformed ones included.
    pub events: u64,
    /// `ts` of the frame's first event (`None` without a readable one).
    pub first_ts: Option<u64>,
    /// `ts` of its last readable event.
    pub last_ts: Option<u64>,
    /// The largest `ts` in it.
    pub max_ts: Option<u64>,
    /// Line hash of its last event, `""` without one.
    pub last_line_hash: String,
    /// XXH3-64 of the frame's content as 16 hex digits, present when every line of it was
    /// found to be an event when the frame was described: a replay that decompresses the same
    /// bytes reads them trusted (see `store::seals`). Absent in indexes written before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) xxh3: Option<String>,
    /// xxh64 of the fields above, as 16 hex digits: an entry damaged or edited by hand fails it.
    pub(crate) check: String,
}

impl ArchiveFrame {
    /// Whether the frame is sealed: its entry records a checksum of its content, so a replay
    /// that decompresses the same bytes reads its lines trusted instead of validating each.
    pub fn is_sealed(&self) -> bool {
        self.xxh3.is_some()
    }

    /// The offset in the archive file just past the frame.
    pub(crate) fn end_offset(&self) -> u64 {
        self.offset + self.len
    }

    /// The position just past the frame's content.
    pub(crate) fn end(&self) -> u64 {
        self.start.offset() + self.content_len
    }

    /// The index of the first event after the frame.
    pub(crate) fn end_event(&self) -> u64 {
        self.first_event + self.events
    }

    /// The value of `check` for the other fields.
    fn checksum(&self) -> String {
        let mut fields = format!(
            "{} {} {} {} {} {} {} {} {} {:?} {:?} {:?} {}",
            self.offset,
            self.len,
            self.tail,
            self.start,
            self.content_len,
            self.first_line,
            self.lines,
            self.first_event,
            self.events,
            self.first_ts,
            self.last_ts,
            self.max_ts,
            self.last_line_hash
        );
        if let Some(xxh3) = &self.xxh3 {
            // Only then, so that the entries of indexes written before still pass.
            fields.push(' ');
            fields.push_str(xxh3);
        }
        crate::store::recovery::content_hash(fields.as_bytes())
    }

    /// The frame's content as a sealed block: where it lies in the history and its checksum.
    pub(crate) fn sealed(&self) -> Option<crate::format::fold::Block> {
        Some(crate::format::fold::Block {
            start: self.start.offset(),
            end: self.end(),
            hash: u64::from_str_radix(self.xxh3.as_deref()?, 16).ok()?,
        })
    }

    fn span(&self) -> Option<FrameSpan> {
        Some(FrameSpan {
            offset: self.offset,
            len: self.len,
            tail: u64::from_str_radix(&self.tail, 16).ok()?,
        })
    }
}

/// The frames of the archive up to some length of the archive file, described.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ArchiveIndex {
    pub frames: Vec<ArchiveFrame>,
}

impl ArchiveIndex {
    /// The length of the archive file the index covers.
    pub fn archive_len(&self) -> u64 {
        self.frames.last().map_or(0, ArchiveFrame::end_offset)
    }

    /// The length of the archive's content: the position where the active log begins.
    pub fn content_len(&self) -> u64 {
        self.frames.last().map_or(0, ArchiveFrame::end)
    }

    /// Events in the archive.
    pub fn events(&self) -> u64 {
        self.frames.last().map_or(0, ArchiveFrame::end_event)
    }

    /// Newlines in the archive's content.
    pub fn lines(&self) -> u64 {
        self.frames.last().map_or(0, |f| f.first_line + f.lines)
    }

    /// The frame whose content holds `position`, if it lies in the archive.
    pub fn frame_at_position(&self, position: u64) -> Option<usize> {
        let i = self.frames.partition_point(|f| f.end() <= position);
        (i < self.frames.len()).then_some(i)
    }
}

/// Reads the index of the archive at `archive_path`, covering the archive's first `limit`
/// bytes: the recorded frames that pass the checks, then every frame past them, described anew
/// by decompressing it. With `persist`, an index that had to be extended is written back (the
/// caller must be allowed to write into the directory).
///
/// `known` are frames of the same archive file described earlier (by this process, checked
/// then): when they reach further than the index file's valid lines, they are kept and only the
/// frames after them are described, so that a reader that may not save the index does not
/// decompress the whole archive again each time it grows.
pub(crate) fn load_with(
    archive_path: &Path,
    limit: u64,
    persist: bool,
    known: Option<&ArchiveIndex>,
) -> io::Result<ArchiveIndex> {
    let path = index_path(archive_path);
    load_from(archive_path, limit, read_entries(&path)?, persist, known)
}

/// The archive index of the archive's first `limit` bytes described from the archive alone,
/// without reading the index file (when it cannot be read), and not saved.
pub(crate) fn describe(archive_path: &Path, limit: u64) -> io::Result<ArchiveIndex> {
    load_from(archive_path, limit, Vec::new(), false, None)
}

/// [`load_with`], from the entries `recorded` in the index file.
fn load_from(
    archive_path: &Path,
    limit: u64,
    recorded: Vec<ArchiveFrame>,
    persist: bool,
    known: Option<&ArchiveIndex>,
) -> io::Result<ArchiveIndex> {
    let path = index_path(archive_path);
    let mut index = ArchiveIndex { frames: recorded };
    let archive = match File::open(archive_path) {
        Ok(file) => Some(file),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(file_error(e, "open", archive_path)),
    };
    let valid = match &archive {
        Some(file) => {
            valid_prefix(&index.frames, Some(file), limit).context("read", archive_path)?
        }
        None => 0,
    };
    let recorded = index.frames.len();
    index.frames.truncate(valid);
    if let Some(known) = known
        && known.frames.len() > index.frames.len()
        && known.archive_len() <= limit
    {
        index.frames = known.frames.clone();
    }
    if index.archive_len() < limit {
        extend(&mut index, archive_path, limit)?;
    }
    if persist && (index.frames.len() != valid || recorded != valid) {
        save(&path, &index)?;
    }
    Ok(index)
}

/// The frames the index file records, up to `limit`, as far as they pass the check against
/// the archive: nothing is described, nothing saved.
pub(crate) fn recorded(archive_path: &Path, limit: u64) -> io::Result<ArchiveIndex> {
    let mut index = ArchiveIndex {
        frames: read_entries(&index_path(archive_path))?,
    };
    let valid = match File::open(archive_path) {
        Ok(file) => {
            valid_prefix(&index.frames, Some(&file), limit).context("read", archive_path)?
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
        Err(e) => return Err(file_error(e, "open", archive_path)),
    };
    index.frames.truncate(valid);
    Ok(index)
}

/// The entries the index file records, as far as each follows the one before and passes its
/// own check, whether or not the archive still holds their frames: what the index knew of an
/// archive that is now damaged. Nothing is checked against the archive.
pub(crate) fn recorded_unchecked(archive_path: &Path) -> Vec<ArchiveFrame> {
    let mut entries = read_entries(&index_path(archive_path)).unwrap_or_default();
    let valid = valid_prefix(&entries, None, u64::MAX).unwrap_or(0);
    entries.truncate(valid);
    entries
}

/// Describes the frames of the archive from `index.archive_len()` up to `limit`.
fn extend(index: &mut ArchiveIndex, archive_path: &Path, limit: u64) -> io::Result<()> {
    let (mut first_line, mut first_event) = (index.lines(), index.events());
    let mut windows = Windows::open_at(
        archive_path,
        index.archive_len(),
        index.content_len(),
        Some(limit),
    )?;
    let mut frame = Stats::default();
    let mut spare = Vec::new();
    while let Some(window) = windows.next_window(std::mem::take(&mut spare))? {
        frame.add(window.bytes());
        if let (Some(end), Some(span)) = (window.frame_end, window.frame) {
            let stats = std::mem::take(&mut frame);
            let entry = stats.entry(span, window.frame_start, end, first_line, first_event);
            first_line += entry.lines;
            first_event += entry.events;
            index.frames.push(entry);
        }
        spare = window.into_buffer();
    }
    Ok(())
}

/// Records the frames a rotation just appended at `archive_len_before` of the archive, holding
/// `content`, in the index file, if that file describes the archive exactly up to there (as far
/// as its own lines tell: reading the index checks them against the archive). Creates the file
/// when the rotation started the archive. Otherwise leaves it: the frames are described when
/// the index is next read.
pub(crate) fn record_rotation(
    archive_path: &Path,
    archive_len_before: u64,
    content: &[u8],
    compressed: &crate::store::archive::Compressed,
    appended: Option<&Appended>,
) -> io::Result<()> {
    let path = index_path(archive_path);
    let recorded = ArchiveIndex {
        frames: read_entries(&path)?,
    };
    if recorded.archive_len() != archive_len_before {
        return Ok(());
    }
    let mut bytes = Vec::new();
    for entry in entries_for(&recorded, content, compressed, appended) {
        serde_json::to_writer(&mut bytes, &entry).map_err(io::Error::other)?;
        bytes.push(b'\n');
    }
    if recorded.frames.is_empty() {
        return crate::store::fsutil::write_cache(&path, &bytes);
    }
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .context("open", &path)?;
    file.write_all(&bytes).context("write", &path)
}

/// The entries of frames appended after those of `index`, holding `content` as cut in
/// `compressed`.
fn entries_for(
    index: &ArchiveIndex,
    content: &[u8],
    compressed: &crate::store::archive::Compressed,
    appended: Option<&Appended>,
) -> Vec<ArchiveFrame> {
    let mut offset = index.archive_len();
    let mut start = index.content_len();
    let (mut first_line, mut first_event) = (index.lines(), index.events());
    let mut entries = Vec::with_capacity(compressed.frames.len());
    // What the writer gathered as it appended, when it covers these very frames; otherwise
    // the content is parsed again.
    let gathered = appended
        .and_then(|a| a.parts(content.len() as u64))
        .filter(|parts| {
            parts.len() == compressed.frames.len()
                && parts
                    .iter()
                    .zip(&compressed.frames)
                    .all(|(p, (f, _))| p.range == *f)
        });
    for (i, (part, len)) in compressed.frames.iter().enumerate() {
        let stats = match &gathered {
            Some(parts) => {
                let bytes = &content[part.clone()];
                let last_line_hash = bytes.strip_suffix(b"\n").map(|body| {
                    let start = memchr::memrchr(b'\n', body).map_or(0, |i| i + 1);
                    crate::line_hash(&body[start..])
                });
                let mut hasher = xxhash_rust::xxh3::Xxh3::new();
                hasher.update(bytes);
                Stats {
                    lines: parts[i].lines,
                    ts: parts[i].ts,
                    last_line_hash,
                    hashed: (hasher, bytes.len() as u64),
                }
            }
            None => {
                let mut stats = Stats::default();
                stats.add(&content[part.clone()]);
                stats
            }
        };
        let at = (offset - index.archive_len()) as usize;
        let span = FrameSpan {
            offset,
            len: *len as u64,
            tail: crate::store::archive::tail_of(&compressed.bytes[at..at + len]),
        };
        let end = start + part.len() as u64;
        let entry = stats.entry(span, start, end, first_line, first_event);
        first_line += entry.lines;
        first_event += entry.events;
        offset += *len as u64;
        start = end;
        entries.push(entry);
    }
    entries
}

fn index_path(archive_path: &Path) -> PathBuf {
    archive_path.with_file_name(INDEX_NAME)
}

/// Why the index file beside the archive cannot be read (`None`: it can, or it is absent).
pub(crate) fn read_error(archive_path: &Path) -> Option<io::Error> {
    read_entries(&index_path(archive_path)).err()
}

/// The entries recorded in the index file, up to the first line that is not one.
fn read_entries(path: &Path) -> io::Result<Vec<ArchiveFrame>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(file_error(e, "read", path)),
    };
    Ok(Lines::new(&bytes)
        .map_while(|line| serde_json::from_slice(line.bytes).ok())
        .collect())
}

/// How many of `entries`, from the first, describe the archive `file` within its first `limit`
/// bytes: each follows the one before in the file and in the history, and the file holds a
/// frame header where each starts and the recorded bytes where each ends (without `file`,
/// only the entries themselves are checked).
fn valid_prefix(entries: &[ArchiveFrame], file: Option<&File>, limit: u64) -> io::Result<usize> {
    let mut expected = ArchiveFrame {
        offset: 0,
        len: 0,
        tail: String::new(),
        start: Position::START,
        content_len: 0,
        first_line: 0,
        lines: 0,
        first_event: 0,
        events: 0,
        first_ts: None,
        last_ts: None,
        max_ts: None,
        last_line_hash: String::new(),
        xxh3: None,
        check: String::new(),
    };
    for (i, entry) in entries.iter().enumerate() {
        let follows = entry.offset == expected.end_offset()
            && entry.start.offset() == expected.end()
            && entry.first_line == expected.first_line + expected.lines
            && entry.first_event == expected.end_event()
            && entry.len > 0
            && entry.end_offset() <= limit
            && entry.check == entry.checksum();
        let matches = match file {
            Some(file) => frame_matches(file, entry)?,
            None => true,
        };
        if !follows || !matches {
            return Ok(i);
        }
        expected = entry.clone();
    }
    Ok(entries.len())
}

/// Whether `file` holds a frame header at the entry's offset, announcing the entry's content
/// length if it announces one, and the entry's tail at its end.
fn frame_matches(file: &File, entry: &ArchiveFrame) -> io::Result<bool> {
    let Some(span) = entry.span() else {
        return Ok(false);
    };
    // A frame header is at most 18 bytes.
    let mut header = [0u8; 18];
    let n = span.len.min(18) as usize;
    if n < 4 || crate::store::platform::read_up_to(file, &mut header[..n], span.offset)? < n {
        return Ok(false);
    }
    let header = &header[..n];
    if !crate::store::archive::has_frame_magic(header) {
        return Ok(false);
    }
    match zstd::zstd_safe::get_frame_content_size(header) {
        Ok(Some(size)) if size != entry.content_len => return Ok(false),
        Ok(_) => {}
        Err(_) => return Ok(false),
    }
    let n = span.len.min(8) as usize;
    let mut tail = [0u8; 8];
    if crate::store::platform::read_up_to(file, &mut tail[..n], span.offset + span.len - n as u64)?
        < n
    {
        return Ok(false);
    }
    Ok(crate::store::archive::tail_of(&tail[..n]) == span.tail)
}

fn save(path: &Path, index: &ArchiveIndex) -> io::Result<()> {
    let mut bytes = Vec::with_capacity(index.frames.len() * 256);
    for entry in &index.frames {
        serde_json::to_writer(&mut bytes, entry).map_err(io::Error::other)?;
        bytes.push(b'\n');
    }
    crate::store::fsutil::write_cache(path, &bytes)
}

/// What the frames of the next rotation will hold, gathered by the writer as it appends, so
/// that a rotation describes its frames in the index without parsing its content again.
///
/// It follows how a rotation cuts the active log ([`crate::format::lines::chunks_at_most`] with
/// [`crate::store::archive::FRAME_CONTENT`]): whole lines, as many as fit, a longer line alone. It
/// holds only while every byte of `app.jsonl` went through it: the writer starts one on an
/// empty log and drops it when the file is not where it left it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Appended {
    /// Parts the next line cannot join.
    closed: Vec<AppendedPart>,
    /// The part the next line may join.
    open: AppendedPart,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct AppendedPart {
    range: std::ops::Range<usize>,
    lines: u64,
    ts: TsStats,
}

impl Appended {
    /// Adds one appended line, without its newline.
    pub(crate) fn add_line(&mut self, line: &[u8]) {
        let len = line.len() + 1;
        let part = &mut self.open;
        if !part.range.is_empty() && part.range.len() + len > crate::store::archive::FRAME_CONTENT {
            let end = part.range.end;
            let closed = std::mem::take(part);
            self.closed.push(closed);
            self.open.range = end..end;
        }
        let part = &mut self.open;
        part.range.end += len;
        part.lines += 1;
        // As the index's own scan reads it: a line that does not parse has no `ts`.
        let ts = crate::format::parse::envelope(line).ok().map(|env| env.ts);
        part.ts = TsFold.reduce(std::mem::take(&mut part.ts), &ts);
    }

    /// The bytes of `app.jsonl` it covers.
    pub(crate) fn len(&self) -> u64 {
        self.open.range.end as u64
    }

    /// The parts, when they cover exactly `len` bytes.
    fn parts(&self, len: u64) -> Option<Vec<&AppendedPart>> {
        (self.len() == len).then(|| {
            let open = (!self.open.range.is_empty()).then_some(&self.open);
            self.closed.iter().chain(open).collect()
        })
    }
}

/// What a frame's content holds, gathered window by window.
#[derive(Default)]
struct Stats {
    lines: u64,
    ts: TsStats,
    last_line_hash: Option<String>,
    /// The content hashed so far, and how many bytes of it.
    hashed: (xxhash_rust::xxh3::Xxh3, u64),
}

impl Stats {
    /// Adds the complete lines of `buf`.
    fn add(&mut self, buf: &[u8]) {
        self.hashed.0.update(buf);
        self.hashed.1 += buf.len() as u64;
        self.lines += lines::count(buf);
        let (done, ()) = fold::fold_buf(buf, std::mem::take(&mut self.ts), &TsFold, || ());
        self.ts = done.acc;
        if let Some((_, line)) = done.last {
            self.last_line_hash = Some(crate::line_hash(&buf[line]));
        }
    }

    fn entry(
        self,
        span: FrameSpan,
        start: u64,
        end: u64,
        first_line: u64,
        first_event: u64,
    ) -> ArchiveFrame {
        let mut entry = ArchiveFrame {
            offset: span.offset,
            len: span.len,
            tail: format!("{:016x}", span.tail),
            start: Position::new(start),
            content_len: end - start,
            first_line,
            lines: self.lines,
            first_event,
            events: self.ts.events,
            first_ts: self.ts.first,
            last_ts: self.ts.last,
            max_ts: self.ts.max,
            last_line_hash: self.last_line_hash.unwrap_or_default(),
            // Sealed when every line was an event and nothing (a torn last line) was left out.
            xxh3: (self.ts.malformed == 0 && self.hashed.1 == end - start)
                .then(|| format!("{:016x}", self.hashed.0.digest())),
            check: String::new(),
        };
        entry.check = entry.checksum();
        entry
    }
}

/// Event count and `ts` range of the lines folded.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct TsStats {
    pub events: u64,
    /// Lines that are not events.
    pub malformed: u64,
    pub first: Option<u64>,
    pub last: Option<u64>,
    pub max: Option<u64>,
}

/// Reads each line's `ts`; a line that does not parse still counts as an event, without one.
pub(crate) struct TsFold;

impl LineFold<TsStats> for TsFold {
    type Item<'b> = Option<u64>;
    const OWNS_MEMORY: bool = false;

    #[inline]
    fn parse(&self, line: &[u8]) -> Result<Option<u64>, ParseError> {
        Ok(crate::format::parse::envelope(line).ok().map(|env| env.ts))
    }

    const INDEXED: bool = true;

    #[inline]
    fn parse_in<'b>(
        &self,
        index: Option<&crate::format::chunk::Index<'b>>,
        line: lines::Line<'b>,
    ) -> Result<Option<u64>, ParseError> {
        Ok(crate::format::fold::envelope(index, line)
            .ok()
            .map(|env| env.ts))
    }

    #[inline]
    fn reduce(&self, mut acc: TsStats, ts: &Option<u64>) -> TsStats {
        acc.events += 1;
        if ts.is_none() {
            acc.malformed += 1;
        }
        if let Some(ts) = *ts {
            acc.first.get_or_insert(ts);
            acc.last = Some(ts);
            acc.max = Some(acc.max.map_or(ts, |max| max.max(ts)));
        }
        acc
    }

    fn ts(&self, ts: &Option<u64>) -> u64 {
        ts.unwrap_or(0)
    }
}
