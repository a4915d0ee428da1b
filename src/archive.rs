//! The archive: `archive.jsonl.zst`, one zstd frame per rotation, appended and never rewritten.
//!
//! New frames record their content size and a checksum, so a reader knows each frame's
//! decompressed size before decompressing it; frames written by eventfold 0.2.0 (streamed,
//! without a content size) are still read.

use crate::error::Error;
#[cfg_attr(test, allow(unused_imports))]
use crate::fsutil::Fs;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// zstd level for new frames (the level eventfold 0.2.0 uses).
const LEVEL: i32 = 3;
/// How much compressed input is read at a time while looking for frame boundaries.
const READ_CHUNK: usize = 1 << 20;

/// Compresses `content` into one self-describing frame.
pub(crate) fn compress_frame(content: &[u8]) -> io::Result<Vec<u8>> {
    let mut compressor = zstd::bulk::Compressor::new(LEVEL)?;
    compressor.include_checksum(true)?;
    compressor.include_contentsize(true)?;
    compressor.compress(content)
}

/// Appends a finished frame to the archive and syncs it. Returns whether the file was created.
pub(crate) fn append_frame(path: &Path, frame: &[u8]) -> io::Result<bool> {
    let fs = crate::fsutil::fs();
    let (mut file, created) = fs.open_append(path)?;
    fs.write_all(&mut file, path, frame)?;
    fs.sync_data(&file, path)?;
    if created {
        crate::fsutil::sync_parent(path)?;
    }
    Ok(created)
}

/// Reads the archive one compressed frame at a time, holding at most one frame in memory.
pub(crate) struct Frames {
    file: Option<File>,
    /// Compressed bytes read but not yet handed out.
    buf: Vec<u8>,
    /// Offset in the file of `buf[0]`.
    buf_offset: u64,
    /// Bytes of the file not yet read that belong to the archive being read.
    remaining: u64,
    eof: bool,
}

/// One compressed frame and where it starts in the archive file.
#[derive(Debug)]
pub(crate) struct Frame {
    pub offset: u64,
    pub bytes: Vec<u8>,
}

impl Frames {
    /// Opens the archive at `path`; a missing archive has no frames. With `limit`, only the
    /// first `limit` bytes are read (the rest is a frame still being written).
    pub fn open(path: &Path, limit: Option<u64>) -> io::Result<Self> {
        let file = match File::open(path) {
            Ok(file) => Some(file),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        Ok(Frames {
            file,
            buf: Vec::new(),
            buf_offset: 0,
            remaining: limit.unwrap_or(u64::MAX),
            eof: false,
        })
    }

    /// The next frame, `Ok(None)` at the end of the archive, or an error for a frame cut short.
    pub fn next_frame(&mut self, path: &Path) -> io::Result<Option<Frame>> {
        let Some(file) = self.file.as_mut() else {
            return Ok(None);
        };
        loop {
            if !self.buf.is_empty() {
                if self.buf.len() >= 4 && !has_frame_magic(&self.buf) {
                    return Err(Error::Archive {
                        path: path.to_path_buf(),
                        frame_offset: self.buf_offset,
                        reason: "no zstd frame starts here (bad magic number)".to_string(),
                    }
                    .into());
                }
                match zstd::zstd_safe::find_frame_compressed_size(&self.buf) {
                    Ok(size) if size <= self.buf.len() => {
                        let rest = self.buf.split_off(size);
                        let bytes = std::mem::replace(&mut self.buf, rest);
                        let offset = self.buf_offset;
                        self.buf_offset += size as u64;
                        return Ok(Some(Frame { offset, bytes }));
                    }
                    // Not enough bytes yet to know the frame's size, or to hold all of it.
                    _ if !self.eof => {}
                    Ok(_) | Err(_) => {
                        return Err(Error::Archive {
                            path: path.to_path_buf(),
                            frame_offset: self.buf_offset,
                            reason: format!(
                                "the archive ends inside a frame ({} bytes left over)",
                                self.buf.len()
                            ),
                        }
                        .into());
                    }
                }
            } else if self.eof {
                return Ok(None);
            }
            let old = self.buf.len();
            let want = self.remaining.min(READ_CHUNK as u64) as usize;
            self.buf.resize(old + want, 0);
            let n = read_full(file, &mut self.buf[old..])?;
            self.remaining -= n as u64;
            self.buf.truncate(old + n);
            if n == 0 {
                self.eof = true;
            }
        }
    }
}

/// Whether `buf` starts with the magic number of a zstd frame or of a skippable frame.
fn has_frame_magic(buf: &[u8]) -> bool {
    let magic = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
    magic == 0xFD2F_B528 || magic & 0xFFFF_FFF0 == 0x184D_2A50
}

fn read_full(file: &mut File, mut buf: &mut [u8]) -> io::Result<usize> {
    let mut total = 0;
    while !buf.is_empty() {
        match file.read(buf) {
            Ok(0) => break,
            Ok(n) => {
                total += n;
                buf = &mut buf[n..];
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(total)
}

/// Decompressed bytes are handed out in windows of about this size. Each window's fold ends
/// with a short wait for its last chunk, so fewer windows pay less of it (measured on a
/// 10-frame, 1M-event archive, compat reducer: 2 MiB windows replayed in ~520 ms, 4 MiB in
/// ~420 ms, 8 MiB in ~417 ms); two windows are in memory at a time.
const WINDOW: usize = 4 << 20;

/// The decompressed archive, handed out in windows of whole lines.
///
/// Frames are decompressed as streams, so memory holds one compressed frame and the windows in
/// use, never a whole decompressed frame: a large `max_log_size` does not make replay use more
/// memory. A line cut short at the end of a frame (possible only in frames written by 0.2.0
/// from a torn active log) is dropped.
pub(crate) struct Windows {
    frames: Frames,
    path: PathBuf,
    /// The frame being decompressed, and where it starts in the archive file.
    decoder: Option<(u64, Decoder)>,
    /// Bytes of an unfinished line, carried into the next window.
    carry: Vec<u8>,
    /// Offset in the decompressed stream of the next window's first byte.
    offset: u64,
}

type Decoder = zstd::stream::read::Decoder<'static, io::BufReader<io::Cursor<Vec<u8>>>>;

/// Whole lines of the decompressed archive.
pub(crate) struct Window {
    /// Offset of `bytes()[0]` in the decompressed stream.
    pub offset: u64,
    /// The buffer; only its first `len` bytes belong to the window. The rest was written by
    /// earlier windows and is kept, so that a reused buffer is not zeroed again.
    buf: Vec<u8>,
    len: usize,
}

impl Window {
    /// Complete lines, each ending in a newline.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The buffer, for [`Windows::next_window`] to reuse.
    pub fn into_buffer(self) -> Vec<u8> {
        self.buf
    }

    /// The window's bytes as a vector of their own length.
    pub fn into_bytes(mut self) -> Vec<u8> {
        self.buf.truncate(self.len);
        self.buf
    }
}

impl Windows {
    /// Opens the archive at `path` (see [`Frames::open`] for `limit`).
    pub fn open(path: &Path, limit: Option<u64>) -> io::Result<Self> {
        Ok(Windows {
            frames: Frames::open(path, limit)?,
            path: path.to_path_buf(),
            decoder: None,
            carry: Vec::new(),
            offset: 0,
        })
    }

    /// The next window of whole lines, reusing `buf` (a previous window's buffer, or a new
    /// one); `Ok(None)` at the end.
    pub fn next_window(&mut self, mut buf: Vec<u8>) -> io::Result<Option<Window>> {
        // The window's bytes are `buf[..len]`; what lies beyond was written before and is
        // overwritten, never zeroed again.
        let mut len = self.carry.len();
        if buf.len() < len {
            buf.resize(len, 0);
        }
        buf[..len].copy_from_slice(&self.carry);
        self.carry.clear();
        loop {
            if self.decoder.is_none() {
                let Some(frame) = self.frames.next_frame(&self.path)? else {
                    // A partial line can only be left here by a frame that ended without its
                    // newline, which is dropped below; nothing remains.
                    return Ok(None);
                };
                let decoder = zstd::stream::read::Decoder::new(io::Cursor::new(frame.bytes))
                    .map_err(|e| self.fail(frame.offset, e))?
                    .single_frame();
                self.decoder = Some((frame.offset, decoder));
            }
            let (frame_offset, decoder) = self.decoder.as_mut().expect("set above");
            let frame_offset = *frame_offset;
            let frame_done;
            (frame_done, len) =
                fill(decoder, &mut buf, len, WINDOW).map_err(|e| self.fail(frame_offset, e))?;
            let complete = crate::lines::committed_len(&buf[..len]);
            if frame_done {
                self.decoder = None;
                // Bytes after the frame's last newline: a line the frame never finished.
                let torn = len - complete;
                if complete == 0 {
                    self.offset += torn as u64;
                    len = 0;
                    continue;
                }
                let window = Window {
                    offset: self.offset,
                    buf,
                    len: complete,
                };
                self.offset += (complete + torn) as u64;
                return Ok(Some(window));
            }
            if complete == 0 {
                // One line longer than a window: keep reading until it ends.
                continue;
            }
            self.carry.extend_from_slice(&buf[complete..len]);
            let window = Window {
                offset: self.offset,
                buf,
                len: complete,
            };
            self.offset += complete as u64;
            return Ok(Some(window));
        }
    }

    fn fail(&self, frame_offset: u64, e: io::Error) -> io::Error {
        Error::Archive {
            path: self.path.clone(),
            frame_offset,
            reason: e.to_string(),
        }
        .into()
    }
}

/// Decompresses up to `want` bytes into `buf` from `filled` on. `buf` grows only when it is
/// full, doubling from 64 KiB (new bytes are zeroed once, when first allocated), so a small
/// frame does not pay for a whole window. Returns whether the frame ended, and where the
/// decompressed bytes now end.
fn fill(
    decoder: &mut Decoder,
    buf: &mut Vec<u8>,
    mut filled: usize,
    want: usize,
) -> io::Result<(bool, usize)> {
    let target = filled + want;
    loop {
        if filled == target {
            return Ok((false, filled));
        }
        if filled == buf.len() {
            let grown = (buf.len() * 2).clamp(64 << 10, target);
            buf.resize(grown, 0);
        }
        let end = buf.len().min(target);
        match decoder.read(&mut buf[filled..end]) {
            Ok(0) => return Ok((true, filled)),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn frames_round_trip_and_split_at_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("archive.jsonl.zst");
        let mut contents: Vec<Vec<u8>> = (0..3)
            .map(|i| format!("line {i}\n").repeat(1000 * (i + 1)).into_bytes())
            .collect();
        // Frames larger than a window, with lines cut across windows and a line longer than
        // a window, so that reused buffers hold stale bytes past each window.
        contents.push(
            (0..3 * WINDOW / 7)
                .flat_map(|i| format!("w{:05}\n", i % 99_999).into_bytes())
                .collect(),
        );
        contents.push([vec![b'x'; WINDOW + 12_345], b"\nshort\n".to_vec()].concat());
        for content in &contents {
            append_frame(&path, &compress_frame(content).unwrap()).unwrap();
        }
        // A frame streamed the way eventfold 0.2.0 writes it: no content size.
        let mut streamed = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        streamed.write_all(b"old\n").unwrap();
        append_frame(&path, &streamed.finish().unwrap()).unwrap();

        let mut frames = Frames::open(&path, None).unwrap();
        let mut count = 0;
        while frames.next_frame(&path).unwrap().is_some() {
            count += 1;
        }
        assert_eq!(count, 6);

        let mut windows = Windows::open(&path, None).unwrap();
        let mut stream = Vec::new();
        let mut spare = Vec::new();
        let mut seen = 0;
        while let Some(window) = windows.next_window(spare).unwrap() {
            assert_eq!(window.offset, stream.len() as u64);
            assert_eq!(window.bytes().last(), Some(&b'\n'));
            stream.extend_from_slice(window.bytes());
            spare = window.into_buffer();
            seen += 1;
        }
        assert!(seen >= 8, "the large frames span several windows: {seen}");
        assert_eq!(stream, [contents.concat(), b"old\n".to_vec()].concat());
    }

    #[test]
    fn truncated_frame_is_an_error_naming_its_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("archive.jsonl.zst");
        let first = compress_frame(b"a\n").unwrap();
        append_frame(&path, &first).unwrap();
        let second = compress_frame(&b"b\n".repeat(500)).unwrap();
        append_frame(&path, &second[..second.len() / 2]).unwrap();

        let mut frames = Frames::open(&path, None).unwrap();
        assert!(frames.next_frame(&path).unwrap().is_some());
        let err = frames.next_frame(&path).unwrap_err();
        match Error::from_io(&err) {
            Some(Error::Archive { frame_offset, .. }) => {
                assert_eq!(*frame_offset, first.len() as u64)
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
