//! Reading the committed bytes of a file: memory-mapped when large, read when small.
//!
//! This is the only module that may use `unsafe`: the single call to [`memmap2::Mmap::map`].

#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::ops::Deref;
use std::os::unix::fs::FileExt;

/// Ranges smaller than this are read into memory: a map costs more than a copy for them.
const MAP_THRESHOLD: u64 = 1 << 20;
/// How far back one read looks for the last newline.
const TAIL_CHUNK: u64 = 4096;

/// Bytes of a file, either mapped or copied.
pub(crate) enum Region {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl Deref for Region {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Region::Mapped(map) => map,
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
pub(crate) fn committed_end(file: &File, from: u64, len: u64) -> io::Result<u64> {
    let mut end = len;
    let mut chunk = vec![0u8; TAIL_CHUNK as usize];
    while end > from {
        let start = end.saturating_sub(TAIL_CHUNK).max(from);
        let buf = &mut chunk[..(end - start) as usize];
        file.read_exact_at(buf, start)?;
        if let Some(i) = memchr::memrchr(b'\n', buf) {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(from)
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
    if size >= MAP_THRESHOLD
        && let Ok(size) = usize::try_from(size)
    {
        {
            let mut options = memmap2::MmapOptions::new();
            options.offset(from).len(size).populate();
            // SAFETY: the map covers `from..end`, bytes that end at a newline that was already
            // in the file. eventfold never shrinks a file below such a newline: a writer only
            // cuts a torn tail after the last newline when it opens, and rotation replaces the
            // active log by renaming a new file over it, so the old file a map may cover keeps
            // its length. Lines are never rewritten in place, so the mapped bytes do not change
            // while the map lives. (Another program truncating `app.jsonl` in place breaks this
            // promise; that is documented as unsupported.)
            if let Ok(map) = unsafe { options.map(file) } {
                advise_sequential(&map);
                return Ok(Region::Mapped(map));
            }
        }
    }
    let mut buf = vec![0u8; size as usize];
    file.read_exact_at(&mut buf, from)?;
    Ok(Region::Read(buf))
}

fn advise_sequential(map: &memmap2::Mmap) {
    // A hint only: a failure changes nothing but speed.
    let _ = map.advise(memmap2::Advice::Sequential);
}
