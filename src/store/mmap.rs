//! Reading the committed bytes of a file: memory-mapped when large, read when small.
//!
//! This is the only module that may use `unsafe`: the single call to [`memmap2::Mmap::map`].

#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::ops::Deref;
use std::path::Path;

use crate::error::Context;
use crate::store::platform;

/// Ranges smaller than this are read into memory: a map costs more than a copy for them.
const MAP_THRESHOLD: u64 = 1 << 20;
/// How far back one read looks for the last newline.
const TAIL_CHUNK: u64 = 4096;

/// Bytes of a file, either mapped or copied.
pub(crate) enum Region {
    Mapped(
        memmap2::Mmap,
        /// The map as Windows' rules see it, for the tests that enforce them: held for its
        /// registration, which it undoes when dropped.
        #[cfg(all(unix, any(test, feature = "windows-rules-for-tests")))]
        #[allow(dead_code)]
        platform::rules::Mapped,
    ),
    Read(Vec<u8>),
}

impl Deref for Region {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Region::Mapped(map, ..) => map,
            Region::Read(buf) => buf,
        }
    }
}

impl Region {
    pub fn empty() -> Self {
        Region::Read(Vec::new())
    }
}

/// Offset just past the last newline in `file[from..len]`, or `from` when there is none.
///
/// `len` may be stale: a writer that opens the log cuts a torn last line in place, so the file
/// can be shorter now than when its length was read. The bytes cut held no newline, so only
/// the bytes still there are searched.
pub(crate) fn committed_end(file: &File, from: u64, len: u64) -> io::Result<u64> {
    let mut end = len;
    let mut chunk = vec![0u8; TAIL_CHUNK as usize];
    while end > from {
        let start = end.saturating_sub(TAIL_CHUNK).max(from);
        let buf = &mut chunk[..(end - start) as usize];
        let n = platform::read_up_to(file, buf, start)?;
        if let Some(i) = memchr::memrchr(b'\n', &buf[..n]) {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(from)
}

/// How many newlines the first `len` bytes of `file` hold: the line number of a line that
/// starts at `len` is one more. (Read in pieces of at most 1 MiB.)
pub(crate) fn newlines_before(file: &File, len: u64) -> io::Result<u64> {
    let mut buf = vec![0u8; (len as usize).min(1 << 20)];
    let (mut pos, mut count) = (0, 0);
    while pos < len {
        let n = ((len - pos) as usize).min(buf.len());
        let read = platform::read_up_to(file, &mut buf[..n], pos)?;
        if read < n {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file ended before the offset whose line is counted",
            ));
        }
        count += crate::format::lines::count(&buf[..n]);
        pos += n as u64;
    }
    Ok(count)
}

/// The hash of the line of the log at `log_path` that ends just before `offset` (whose newline
/// is at `offset - 1`), or `None` when `offset` is 0 or past the end of the file. The reader's
/// `read_line_hash_before`, which views check their snapshots with, and the writer's
/// `append_if` both ask here.
pub(crate) fn line_hash_before(log_path: &Path, offset: u64) -> io::Result<Option<String>> {
    if offset == 0 {
        return Ok(None);
    }
    let file = File::open(log_path).context("open", log_path)?;
    hash_before(&file, offset).context("read", log_path)
}

/// [`line_hash_before`] in the open `file`.
fn hash_before(file: &File, offset: u64) -> io::Result<Option<String>> {
    if offset > file.metadata()?.len() {
        return Ok(None);
    }
    // The line is everything between the previous newline and the byte at offset - 1.
    let line_end = offset - 1;
    let start = if line_end == 0 {
        0
    } else {
        committed_end(file, 0, line_end)?
    };
    // Streamed through reads, not mapped: `offset` often comes from a snapshot and may lie
    // in a torn tail that a writer opening the log cuts at this moment. A map over bytes
    // that vanish faults the process; a read just comes back short.
    let mut hasher = xxhash_rust::xxh64::Xxh64::new(0);
    let mut buf = vec![0u8; (line_end - start).min(64 << 10) as usize];
    let mut pos = start;
    while pos < line_end {
        let want = buf.len().min((line_end - pos) as usize);
        let n = platform::read_up_to(file, &mut buf[..want], pos)?;
        hasher.update(&buf[..n]);
        if n < want {
            // Cut below `offset` since its length was read: no line ends there any more.
            return Ok(None);
        }
        pos += n as u64;
    }
    Ok(Some(format!("{:016x}", hasher.digest())))
}

/// Offset just past the first newline at or after `from` (and before `end`), or `end`.
pub(crate) fn next_line_end(file: &File, from: u64, end: u64) -> io::Result<u64> {
    let mut pos = from;
    let mut chunk = vec![0u8; 64 << 10];
    while pos < end {
        let n = (end - pos).min(chunk.len() as u64) as usize;
        let buf = &mut chunk[..n];
        platform::read_exact_at(file, buf, pos)?;
        if let Some(i) = memchr::memchr(b'\n', buf) {
            return Ok(pos + i as u64 + 1);
        }
        pos += n as u64;
    }
    Ok(end)
}

/// Splits the committed range `from..end` into consecutive ranges of about `segment` bytes,
/// each ending just after a newline, so each can be mapped, read and released in turn.
pub(crate) fn segments(
    file: &File,
    from: u64,
    end: u64,
    segment: u64,
) -> impl Iterator<Item = io::Result<(u64, u64)>> + '_ {
    let mut pos = from;
    std::iter::from_fn(move || {
        if pos >= end {
            return None;
        }
        Some(segment_end(file, pos, end, segment).map(|seg_end| {
            let range = (pos, seg_end);
            pos = seg_end;
            range
        }))
    })
}

/// Where the segment starting at `pos` ends: just after the last newline within `segment`
/// bytes, or after the line that crosses that point when it is longer than a segment.
pub(crate) fn segment_end(file: &File, pos: u64, end: u64, segment: u64) -> io::Result<u64> {
    let target = pos.saturating_add(segment).min(end);
    if target == end {
        return Ok(end);
    }
    let e = committed_end(file, pos, target)?;
    if e > pos {
        Ok(e)
    } else {
        next_line_end(file, target, end)
    }
}

/// The committed bytes of `file` from `from` on: up to and including the last newline present
/// when this is called. Bytes of a line still being appended are never included, and so never
/// mapped.
pub(crate) fn committed(file: &File, from: u64) -> io::Result<Region> {
    let len = file.metadata()?.len();
    if len <= from {
        return Ok(Region::empty());
    }
    let end = committed_end(file, from, len)?;
    read_range(file, from, end)
}

/// The bytes `from..end` of `file`, which the caller knows to be committed.
pub(crate) fn read_range(file: &File, from: u64, end: u64) -> io::Result<Region> {
    let size = end.saturating_sub(from);
    if size == 0 {
        return Ok(Region::empty());
    }
    if platform::may_map()
        && size >= MAP_THRESHOLD
        && let Ok(size) = usize::try_from(size)
    {
        {
            // Not populated: the next segment is mapped while the current one is folded, and
            // populating it up front kept both resident (a 1M-event rebuild peaked at 71 MB
            // instead of 45 MB) and was no faster than faulting pages in as they are read.
            let mut options = memmap2::MmapOptions::new();
            options.offset(from).len(size);
            // SAFETY: the map covers `from..end`, bytes that end at a newline that was already
            // in the file. eventfold never shrinks a file below such a newline: a writer only
            // cuts a torn tail after the last newline when it opens, and rotation replaces the
            // active log by renaming a new file over it, so the old file a map may cover keeps
            // its length. Lines are never rewritten in place, so the mapped bytes do not change
            // while the map lives. (Another program truncating `app.jsonl` in place breaks this
            // promise; that is documented as unsupported.)
            if let Ok(map) = unsafe { options.map(file) } {
                platform::advise_sequential(&map);
                return Ok(Region::Mapped(
                    map,
                    #[cfg(all(unix, any(test, feature = "windows-rules-for-tests")))]
                    platform::rules::Mapped::of(file),
                ));
            }
        }
    }
    let mut buf = vec![0u8; size as usize];
    platform::read_exact_at(file, &mut buf, from)?;
    Ok(Region::Read(buf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, SeekFrom, Write};

    /// Writes `bytes` at `pos` of `file` (positional writes are not portable: a seek, then a
    /// write).
    fn write_at(mut file: &File, bytes: &[u8], pos: u64) {
        file.seek(SeekFrom::Start(pos)).unwrap();
        file.write_all(bytes).unwrap();
    }

    /// A reader reads the length of the active log while it ends in a torn line; a writer
    /// opening the log then cuts that line (and may append again) before the reader looks for
    /// the last newline.
    #[test]
    fn a_length_read_before_a_torn_tail_was_cut_gives_the_committed_end() {
        let file = tempfile::tempfile().unwrap();
        let committed = format!("{}\n", "x".repeat(100)).repeat(3);
        let cut = committed.len() as u64;
        write_at(&file, committed.as_bytes(), 0);
        // Torn lines shorter and longer than one chunk, so the cut lies within the first chunk
        // searched or before it.
        for torn in [30, TAIL_CHUNK as usize + 500] {
            write_at(&file, &vec![b'{'; torn], cut);
            let stale_len = file.metadata().unwrap().len();
            file.set_len(cut).unwrap();
            assert_eq!(committed_end(&file, 0, stale_len).unwrap(), cut);
            assert_eq!(committed_end(&file, 150, stale_len).unwrap(), cut);
            // A line appended since the cut, ending before the stale length, is found.
            write_at(&file, b"{}\n", cut);
            assert_eq!(committed_end(&file, 0, stale_len).unwrap(), cut + 3);
            file.set_len(cut).unwrap();
        }
    }

    #[test]
    fn segments_cover_the_range_and_end_at_newlines() {
        let mut file = tempfile::tempfile().unwrap();
        let mut content = Vec::new();
        for i in 0..200 {
            content.extend_from_slice(&vec![b'x'; i % 37]);
            content.push(b'\n');
        }
        content.extend_from_slice(b"torn");
        file.write_all(&content).unwrap();
        let end = committed_end(&file, 0, content.len() as u64).unwrap();
        assert_eq!(end as usize, content.len() - 4);
        for segment in [1, 7, 64, 1000, 1 << 20] {
            for from in [0u64, 38] {
                let ranges: Vec<_> = segments(&file, from, end, segment)
                    .collect::<io::Result<_>>()
                    .unwrap();
                assert_eq!(ranges.first().map(|r| r.0), Some(from));
                assert_eq!(ranges.last().map(|r| r.1), Some(end));
                for pair in ranges.windows(2) {
                    assert_eq!(pair[0].1, pair[1].0);
                }
                for &(start, stop) in &ranges {
                    assert!(stop > start);
                    assert_eq!(content[stop as usize - 1], b'\n');
                    let region = read_range(&file, start, stop).unwrap();
                    assert_eq!(&region[..], &content[start as usize..stop as usize]);
                }
            }
        }
    }
}
