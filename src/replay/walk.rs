//! The walk through the history's files that the strict folds of `reader.rs` and the scans of
//! `scan.rs` share: the archive a window at a time, the next window decompressed while this
//! one is read, and the committed part of the active log mapped a segment at a time, the next
//! segment mapped (and the one before unmapped) while this one is read.
//!
//! What is done with each buffer, and with a damaged frame, is the caller's: it implements
//! [`ReadWindows`] or [`ReadSegments`]. A strict caller turns damage into an error; a lenient
//! one reports it and has the walk go on.

use crate::error::Context;
use crate::format::lines;
use crate::store::archive::{Window, Windows};
use crate::store::mmap::{self, Region};
use std::fs::File;
use std::io;
use std::path::Path;

/// How much of the active log is mapped at a time.
pub(crate) const SEGMENT: u64 = 32 << 20;

/// The next window of the archive, with the newlines it holds: what the side job of each
/// window's read returns.
pub(crate) type NextWindow = io::Result<Option<(Window, u64)>>;

/// The next segment of the active log, mapped, with its offset: what the side job of each
/// segment's read returns.
pub(crate) type NextSegment = Option<io::Result<(u64, Region)>>;

/// What a walk of the archive does with its windows.
pub(crate) trait ReadWindows {
    /// Reads `window`, which follows `lines_before` newlines of the archive, running `side`
    /// alongside, once; returns the side job's result. An error ends the walk.
    fn window(
        &mut self,
        window: &Window,
        lines_before: u64,
        side: impl FnOnce() -> NextWindow + Send,
    ) -> io::Result<Option<NextWindow>>;

    /// `window`, just read (even when its read failed), is the last of its frame, whose
    /// content ends at `end`. Returns whether to go on.
    fn frame_end(&mut self, window: &Window, end: u64) -> bool;

    /// The archive could not be read past `content_end`: `error`. Returns whether to go on at
    /// the next frame (having skipped the damaged one in `windows`), or the error that ends
    /// the walk.
    fn damaged(
        &mut self,
        windows: &mut Windows,
        error: io::Error,
        content_end: u64,
    ) -> io::Result<bool>;

    /// Whether the reader has stopped the walk.
    fn stopped(&self) -> bool;
}

/// What a walk of the active log does with its segments.
pub(crate) trait ReadSegments {
    /// Reads the segment `region`, which starts at offset `start` of the active log, running
    /// `side` alongside, once; returns the side job's result. An error ends the walk.
    fn segment(
        &mut self,
        start: u64,
        region: &Region,
        side: impl FnOnce() -> NextSegment + Send,
    ) -> io::Result<Option<NextSegment>>;

    /// Whether the reader has stopped the walk.
    fn stopped(&self) -> bool;
}

/// Walks the archive `windows`, whose first window follows `lines_before` newlines and starts
/// at `frame_start`, handing each window to `reader`. Returns where the content read ends: the
/// end of the last frame read to its end, or past the last line read of a frame that could
/// not be (`frame_start` before any is).
///
/// Each window is read while the next one is decompressed by a side job of the read (on a
/// helper thread that then joins the parsing), so decompression and parsing share the threads
/// instead of competing for them. Two buffers take turns: the next window is decompressed
/// into the spare one.
pub(crate) fn archive<R: ReadWindows>(
    windows: &mut Windows,
    frame_start: u64,
    mut lines_before: u64,
    reader: &mut R,
) -> io::Result<u64> {
    let mut content_end = frame_start;
    let mut current = next_window(windows, Vec::new(), reader, content_end)?;
    let mut spare = Vec::new();
    while let Some((window, lines)) = current {
        let next_buf = std::mem::take(&mut spare);
        let windows_ref = &mut *windows;
        let side = move || {
            windows_ref
                .next_window(next_buf)
                .map(|next| next.map(counted))
        };
        let next = reader.window(&window, lines_before, side);
        let mut go_on = true;
        if let Some(end) = window.frame_end {
            content_end = end;
            go_on = reader.frame_end(&window, end);
        } else {
            // Lines of a frame not yet read to its end: should it turn out damaged, what was
            // read of it stays read.
            content_end = content_end.max(window.offset + window.bytes().len() as u64);
        }
        let next = next?;
        if !go_on || reader.stopped() {
            return Ok(content_end);
        }
        lines_before += lines;
        spare = window.into_buffer();
        current = match next.expect("the side job runs once per buffer") {
            Ok(next) => next,
            Err(e) => {
                if !reader.damaged(windows, e, content_end)? || reader.stopped() {
                    return Ok(content_end);
                }
                next_window(windows, std::mem::take(&mut spare), reader, content_end)?
            }
        };
    }
    Ok(content_end)
}

/// A window with the newlines it holds.
fn counted(window: Window) -> (Window, u64) {
    let lines = match window.counted {
        Some((_, lines)) => lines,
        None => lines::count(window.bytes()),
    };
    (window, lines)
}

/// The next window, read on the calling thread, going past damaged frames while `reader`
/// agrees.
fn next_window<R: ReadWindows>(
    windows: &mut Windows,
    mut spare: Vec<u8>,
    reader: &mut R,
    content_end: u64,
) -> io::Result<Option<(Window, u64)>> {
    loop {
        match windows.next_window(std::mem::take(&mut spare)) {
            Ok(window) => return Ok(window.map(counted)),
            Err(e) => {
                if !reader.damaged(windows, e, content_end)? || reader.stopped() {
                    return Ok(None);
                }
            }
        }
    }
}

/// Walks `from..end` of the open active log `file` (committed bytes, ending at line ends),
/// handing each segment to `reader`.
///
/// Each segment is read while a side job of the read maps the next one and unmaps the one
/// before, so mapping (with its page faults) and unmapping leave the critical path.
pub(crate) fn active<R: ReadSegments>(
    file: &File,
    path: &Path,
    (from, end): (u64, u64),
    reader: &mut R,
) -> io::Result<()> {
    let map = |segment: Option<io::Result<(u64, u64)>>| {
        segment.map(|segment| {
            segment
                .and_then(|(start, end)| {
                    mmap::read_range(file, start, end).map(|region| (start, region))
                })
                .context("read", path)
        })
    };
    let mut segments = mmap::segments(file, from, end, SEGMENT);
    let mut current = map(segments.next());
    let mut previous: Option<Region> = None;
    while let Some(segment) = current {
        let (start, region) = segment?;
        let segments = &mut segments;
        let side = move || {
            drop(previous);
            map(segments.next())
        };
        let next = reader.segment(start, &region, side)?;
        if reader.stopped() {
            return Ok(());
        }
        previous = Some(region);
        current = next.flatten();
    }
    Ok(())
}
