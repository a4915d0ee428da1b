//! The archive: `archive.jsonl.zst`, zstd frames appended by rotations and never rewritten.
//!
//! A rotation writes the active log as a run of independent frames of at most
//! [`FRAME_CONTENT`] bytes of content each (cut at line ends), so that history can be
//! decompressed a frame at a time, in parallel, and entered at any frame. New frames record
//! their content size and a checksum, so a reader knows each frame's decompressed size before
//! decompressing it; frames written by eventfold 0.2.0 (one per rotation, streamed, without a
//! content size) are still read.

use crate::error::{Context, Error, FileError, file_error};
use crate::format::fold;
#[cfg_attr(test, allow(unused_imports))]
use crate::store::fsutil::Fs;
use std::fs::File;
use std::io::{self, BufRead, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::PoisonError;

/// zstd level for new frames (the level eventfold 0.2.0 uses).
const LEVEL: i32 = 3;
/// How much compressed input is read at a time while looking for frame boundaries.
const READ_CHUNK: usize = 1 << 20;

/// The most content one frame written by a rotation holds, unless a single line is longer.
///
/// Measured on the bench data (10 MB of events at level 3): one frame compressed 6.46:1,
/// frames of 4 MiB 6.48:1, of 1 MiB 6.51:1; bounded frames cost nothing in size.
pub(crate) const FRAME_CONTENT: usize = 4 << 20;

/// Compresses `content` into one self-describing frame.
pub(crate) fn compress_frame(content: &[u8]) -> io::Result<Vec<u8>> {
    let mut compressor = zstd::bulk::Compressor::new(LEVEL)?;
    compressor.include_checksum(true)?;
    compressor.include_contentsize(true)?;
    compressor.compress(content)
}

/// Frames ready to be appended to the archive: their bytes, one after the other.
pub(crate) struct Compressed {
    pub bytes: Vec<u8>,
    /// For each frame, the part of the content it holds and its compressed length.
    pub frames: Vec<(Range<usize>, usize)>,
}

/// Compresses `content` (whole lines) into frames of at most [`FRAME_CONTENT`] bytes each
/// (unless a line is longer), cut at line ends. The frames are compressed in parallel, on at
/// most `threads` threads, the calling one included.
pub(crate) fn compress_frames(content: &[u8], threads: usize) -> io::Result<Compressed> {
    let parts = crate::format::lines::chunks_at_most(content, FRAME_CONTENT);
    let frames = fold::map_on_threads(&parts, threads, |part| {
        compress_frame(&content[part.clone()])
    })
    .into_iter()
    .collect::<io::Result<Vec<_>>>()?;
    let mut bytes = Vec::with_capacity(frames.iter().map(Vec::len).sum());
    for frame in &frames {
        bytes.extend_from_slice(frame);
    }
    let frames = parts.into_iter().zip(frames.iter().map(Vec::len)).collect();
    Ok(Compressed { bytes, frames })
}

/// Appends a finished frame to the archive and syncs it. Returns whether the file was created.
pub(crate) fn append_frame(path: &Path, frame: &[u8]) -> io::Result<bool> {
    let fs = crate::store::fsutil::fs();
    let (mut file, created) = fs.open_append(path)?;
    fs.write_all(&mut file, path, frame)?;
    fs.sync_data(&file, path)?;
    if created {
        crate::store::fsutil::sync_parent(path)?;
    }
    Ok(created)
}

/// The compressed archive from some offset on, read through a buffer, with a count of the bytes
/// the decompressor has consumed and a copy of the last of them: where each frame ends, and its
/// tail, are known without reading a frame whole first.
struct Input {
    file: Option<io::Take<File>>,
    /// The archive's path, which read errors name.
    path: PathBuf,
    /// The length of the archive file being read, when bounded.
    limit: Option<u64>,
    buf: Box<[u8]>,
    /// The unconsumed bytes are `buf[pos..filled]`.
    pos: usize,
    filled: usize,
    /// Offset in the archive file of `buf[pos]`.
    offset: u64,
    /// The last (up to) 8 bytes consumed, oldest first, and how many of them there are.
    tail: [u8; 8],
    tail_len: usize,
}

impl Input {
    /// Opens the archive at `path` from byte `offset` on; a missing archive is empty. With
    /// `limit`, only the first `limit` bytes of the file are read (the rest is a frame still
    /// being written).
    fn open(path: &Path, offset: u64, limit: Option<u64>) -> io::Result<Self> {
        let file = match File::open(path) {
            Ok(mut file) => {
                if offset > 0 {
                    io::Seek::seek(&mut file, io::SeekFrom::Start(offset)).context("read", path)?;
                }
                let remaining = limit.map_or(u64::MAX, |limit| limit.saturating_sub(offset));
                Some(file.take(remaining))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(file_error(e, "open", path)),
        };
        Ok(Input {
            file,
            path: path.to_path_buf(),
            limit,
            buf: vec![0u8; READ_CHUNK].into_boxed_slice(),
            pos: 0,
            filled: 0,
            offset,
            tail: [0; 8],
            tail_len: 0,
        })
    }

    /// Makes at least `n` bytes available if the archive holds them; returns what is.
    fn peek(&mut self, n: usize) -> io::Result<&[u8]> {
        if self.filled - self.pos < n {
            self.buf.copy_within(self.pos..self.filled, 0);
            self.filled -= self.pos;
            self.pos = 0;
            while self.filled < n {
                let Some(file) = self.file.as_mut() else {
                    break;
                };
                match file.read(&mut self.buf[self.filled..]) {
                    Ok(0) => break,
                    Ok(read) => self.filled += read,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(file_error(e, "read", &self.path)),
                }
            }
        }
        Ok(&self.buf[self.pos..self.filled])
    }
}

impl Input {
    /// Takes the next frame whole, compressed, when a zstd frame that records its content
    /// size (at most `max_content`) starts here and all of it is within one buffer's reach.
    /// Returns its offset in the archive file, its bytes and its content size; `None` (and
    /// nothing consumed) for anything else: a frame of eventfold 0.2.0 (no content size), a
    /// skippable frame, the end of the archive, or a frame that is cut short or damaged, which
    /// the streaming decompressor then reports as it always has.
    fn take_sized_frame(&mut self, max_content: u64) -> io::Result<Option<(u64, Vec<u8>, usize)>> {
        let head = self.peek(18)?;
        if head.len() < 4 || u32::from_le_bytes([head[0], head[1], head[2], head[3]]) != 0xFD2F_B528
        {
            return Ok(None);
        }
        let content = match zstd::zstd_safe::get_frame_content_size(head) {
            Ok(Some(n)) if n <= max_content => n as usize,
            _ => return Ok(None),
        };
        let available = self.peek(self.buf.len())?;
        let size = match zstd::zstd_safe::find_frame_compressed_size(available) {
            Ok(size) if size <= available.len() => size,
            _ => return Ok(None),
        };
        let bytes = available[..size].to_vec();
        let offset = self.offset;
        self.consume(size);
        Ok(Some((offset, bytes, content)))
    }
}

impl Read for Input {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl io::BufRead for Input {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.filled {
            self.peek(1)?;
        }
        Ok(&self.buf[self.pos..self.filled])
    }

    fn consume(&mut self, n: usize) {
        let consumed = &self.buf[self.pos..self.pos + n];
        // Keep the last 8 bytes consumed.
        let keep = consumed.len().min(8);
        let old = (8 - keep).min(self.tail_len);
        self.tail.copy_within(self.tail_len - old..self.tail_len, 0);
        self.tail[old..old + keep].copy_from_slice(&consumed[consumed.len() - keep..]);
        self.tail_len = old + keep;
        self.pos += n;
        self.offset += n as u64;
    }
}

/// Reads the archive one whole compressed frame at a time, without decompressing it: for the
/// checks that walk frames without their content, and to find where a damaged frame ends.
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
    /// Opens the archive at `path` for reading from byte `offset` on, where a frame starts; a
    /// missing archive has no frames. With `limit`, only the first `limit` bytes of the file
    /// are read (the rest is a frame still being written).
    pub fn open_at(path: &Path, offset: u64, limit: Option<u64>) -> io::Result<Self> {
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Frames {
                    file: None,
                    buf: Vec::new(),
                    buf_offset: offset,
                    remaining: 0,
                    eof: true,
                });
            }
            Err(e) => return Err(file_error(e, "open", path)),
        };
        if offset > 0 {
            io::Seek::seek(&mut file, io::SeekFrom::Start(offset)).context("read", path)?;
        }
        Ok(Frames {
            file: Some(file),
            buf: Vec::new(),
            buf_offset: offset,
            remaining: limit.map_or(u64::MAX, |limit| limit.saturating_sub(offset)),
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
            let n = read_full(file, &mut self.buf[old..]).context("read", path)?;
            self.remaining -= n as u64;
            self.buf.truncate(old + n);
            if n == 0 {
                self.eof = true;
            }
        }
    }
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

/// Whether `buf` starts with the magic number of a zstd frame or of a skippable frame.
pub(crate) fn has_frame_magic(buf: &[u8]) -> bool {
    let magic = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
    magic == 0xFD2F_B528 || magic & 0xFFFF_FFF0 == 0x184D_2A50
}

/// Decompressed bytes are handed out in windows of about this size. Each window's fold ends
/// with a short wait for its last chunk, so fewer windows pay less of it (measured on a
/// 10-frame, 1M-event archive, compat reducer: 2 MiB windows replayed in ~520 ms, 4 MiB in
/// ~420 ms, 8 MiB in ~417 ms); two windows are in memory at a time.
const WINDOW: usize = 4 << 20;

/// How many decompressed frames [`Windows::background`] keeps ready ahead of the window being
/// read (each at most [`WHOLE_FRAME_MAX`] bytes).
const BACKGROUND_AHEAD: usize = 2;

/// Decompresses a whole frame (its offset in the archive file, its bytes and the content size
/// it records) into `out`.
fn decompress_whole(
    (_, bytes, content): &(u64, Vec<u8>, usize),
    out: &mut Vec<u8>,
) -> io::Result<()> {
    out.clear();
    out.reserve(*content);
    let n = zstd::bulk::Decompressor::new()?.decompress_to_buffer(bytes, out)?;
    if n == *content {
        Ok(())
    } else {
        Err(io::Error::other(
            "the frame's content is not the size it records",
        ))
    }
}

/// What the threads of [`Windows::background`] hand over.
enum Decompressed {
    /// The content of the frame at `offset` of the archive file, `len` bytes long, whose last
    /// bytes are `tail`.
    Frame {
        offset: u64,
        len: u64,
        tail: u64,
        content: Vec<u8>,
        /// The checksum and the newlines of its complete lines ([`Window::counted`]).
        counted: (u64, u64),
        /// The length of its complete lines when they are UTF-8 (see [`Window::text`]).
        utf8: Option<usize>,
    },
    /// The threads stopped at `at` of the archive file, before a frame they do not decompress
    /// whole (or the end): the input from there, or why it could not be read.
    Stopped { at: u64, read: io::Result<Input> },
}

/// Whether [`Windows`] decompresses frames behind the reader ([`Windows::background`]).
enum Behind {
    /// No: frames are decompressed on the reading thread.
    Off,
    /// Yes, on this many threads, started at the next sized frame.
    Idle { threads: usize },
    /// Yes, and the threads are running.
    Running { threads: usize, running: Background },
}

impl Behind {
    /// The threads to start next, if frames are decompressed behind.
    fn threads(&self) -> Option<usize> {
        match self {
            Behind::Off => None,
            Behind::Idle { threads } | Behind::Running { threads, .. } => Some(*threads),
        }
    }

    /// Back to idle, the running threads stopped (at the next sized frame, they start again).
    fn stop(&mut self) {
        if let Some(threads) = self.threads() {
            *self = Behind::Idle { threads };
        }
    }
}

/// The threads of [`Windows::background`].
struct Background {
    /// Frames and the stop, each with its place in the order of the archive.
    done: std::sync::mpsc::Receiver<(u64, Decompressed)>,
    /// What came out of order, until its turn.
    early: std::collections::BTreeMap<u64, Decompressed>,
    /// The place of the next frame to hand out.
    next: u64,
    /// The input the threads take frames from.
    shared: std::sync::Arc<Shared>,
    /// Buffers of windows read, for the next frames: those this thread decompresses into, and
    /// those it sends the threads.
    own_spares: Vec<Vec<u8>>,
    spares: std::sync::mpsc::Sender<Vec<u8>>,
    workers: Vec<std::thread::JoinHandle<()>>,
    path: PathBuf,
    limit: Option<u64>,
}

/// The input the threads of [`Windows::background`] take frames from, one at a time, and the
/// place of the next frame; `None` once one of them stopped.
type Shared = std::sync::Mutex<Option<(Input, u64)>>;

impl Background {
    /// Starts `workers` threads decompressing the sized frames of the input in `input`, or as
    /// many as the system allows, and hands them the input; `None`, the input left in place,
    /// when there is none or the system allows no thread.
    fn start(
        input: &mut Option<Input>,
        path: &Path,
        limit: Option<u64>,
        workers: usize,
    ) -> Option<Self> {
        use std::sync::{Arc, Mutex, mpsc};
        let given = input.take()?;
        let (done_tx, done) = mpsc::sync_channel(BACKGROUND_AHEAD - 1);
        let (spares, spares_rx) = mpsc::channel::<Vec<u8>>();
        let spares_rx = Arc::new(Mutex::new(spares_rx));
        let shared: Arc<Shared> = Arc::new(Mutex::new(Some((given, 0))));
        let mut started = Vec::with_capacity(workers);
        for _ in 0..workers.max(1) {
            let (path, done_tx) = (path.to_path_buf(), done_tx.clone());
            let (shared, spares_rx) = (Arc::clone(&shared), Arc::clone(&spares_rx));
            let worker = fold::spawn("eventfold-unzstd", move || {
                decompress_behind(&shared, &spares_rx, &done_tx, (&path, limit));
            });
            match worker {
                Some(worker) => started.push(worker),
                // Refused (a limit on threads, say): the read goes on with those running.
                None => break,
            }
        }
        if started.is_empty() {
            // No thread took the input: it is still there, at its start.
            let taken = shared.lock().unwrap_or_else(PoisonError::into_inner).take();
            *input = taken.map(|(given, _)| given);
            return None;
        }
        Some(Background {
            done,
            early: std::collections::BTreeMap::new(),
            next: 0,
            shared,
            own_spares: Vec::new(),
            spares,
            workers: started,
            path: path.to_path_buf(),
            limit,
        })
    }

    /// The next frame, in the archive's order, or the stop; `None` if the threads ended without
    /// saying (a panic).
    ///
    /// When the next frame is not ready, this thread decompresses the one after the frames the
    /// threads took rather than wait: a reader that takes a frame's lines in less time than
    /// zstd takes to decompress it would wait for every frame otherwise, and more threads than
    /// CPUs would take turns with the reader.
    fn next(&mut self) -> Option<Decompressed> {
        use std::sync::mpsc::TryRecvError;
        loop {
            if let Some(got) = self.early.remove(&self.next) {
                self.next += 1;
                return Some(got);
            }
            match self.done.try_recv() {
                Ok((place, got)) => {
                    self.early.insert(place, got);
                    continue;
                }
                Err(TryRecvError::Disconnected) => return None,
                Err(TryRecvError::Empty) => {}
            }
            let own = &mut self.own_spares;
            if let Some((place, got)) =
                take_frame(&self.shared, || own.pop(), (&self.path, self.limit))
            {
                self.early.insert(place, got);
                continue;
            }
            let (place, got) = self.done.recv().ok()?;
            self.early.insert(place, got);
        }
    }

    /// Takes back the buffer of a window read.
    fn give(&mut self, buf: Vec<u8>) {
        if self.own_spares.is_empty() {
            self.own_spares.push(buf);
        } else {
            let _ = self.spares.send(buf);
        }
    }
}

/// The loop of a thread of [`Windows::background`]: decompresses the frames of `shared` and
/// sends each with its place, until it sends the stop or the reader is gone.
fn decompress_behind(
    shared: &Shared,
    spares: &std::sync::Mutex<std::sync::mpsc::Receiver<Vec<u8>>>,
    done: &std::sync::mpsc::SyncSender<(u64, Decompressed)>,
    (path, limit): (&Path, Option<u64>),
) {
    loop {
        let spare = || {
            let spares = spares.lock().ok()?;
            spares.try_recv().ok()
        };
        let Some((place, got)) = take_frame(shared, spare, (path, limit)) else {
            return;
        };
        let stop = matches!(got, Decompressed::Stopped { .. });
        if done.send((place, got)).is_err() || stop {
            return;
        }
    }
}

/// Takes the next frame of `shared` and decompresses it (into `spare`'s buffer, if it gives
/// one), with its place; at a frame not to be decompressed whole, or one that fails to
/// decompress, stops the input for every thread and says where. `None` once stopped.
fn take_frame(
    shared: &Shared,
    spare: impl FnOnce() -> Option<Vec<u8>>,
    (path, limit): (&Path, Option<u64>),
) -> Option<(u64, Decompressed)> {
    let (place, frame) = {
        let mut guard = shared.lock().unwrap_or_else(PoisonError::into_inner);
        let (input, next) = guard.as_mut()?;
        let (place, at) = (*next, input.offset);
        match input.take_sized_frame(WHOLE_FRAME_MAX as u64) {
            Ok(Some(frame)) => {
                *next += 1;
                (place, frame)
            }
            Ok(None) => {
                let (input, _) = guard.take()?;
                return Some((
                    place,
                    Decompressed::Stopped {
                        at,
                        read: Ok(input),
                    },
                ));
            }
            Err(e) => {
                *guard = None;
                return Some((place, Decompressed::Stopped { at, read: Err(e) }));
            }
        }
    };
    let mut content = spare().unwrap_or_default();
    if decompress_whole(&frame, &mut content).is_err() {
        // Read this frame again as a stream, which names what is wrong with it; the frames
        // taken after it are dropped unread.
        *shared.lock().unwrap_or_else(PoisonError::into_inner) = None;
        let read = Input::open(path, frame.0, limit);
        return Some((place, Decompressed::Stopped { at: frame.0, read }));
    }
    let (offset, bytes, _) = frame;
    let lines = &content[..crate::format::lines::committed_len(&content)];
    let counted = (
        crate::format::trusted::block_hash(lines),
        crate::format::lines::count(lines),
    );
    // Checked here, on the thread that decompressed the frame, rather than by the fold on the
    // reading thread, which has the lines to read: that thread sets the pace of a replay of
    // sealed frames.
    let utf8 = simdutf8::basic::from_utf8(lines)
        .is_ok()
        .then_some(lines.len());
    let frame = Decompressed::Frame {
        offset,
        len: bytes.len() as u64,
        tail: tail_of(&bytes),
        content,
        counted,
        utf8,
    };
    Some((place, frame))
}

impl Drop for Background {
    fn drop(&mut self) {
        // The threads stop at their next hand-over, which no longer finds a receiver.
        let (_, orphan) = std::sync::mpsc::sync_channel(0);
        drop(std::mem::replace(&mut self.done, orphan));
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

/// The most a read asks of the decompressor when the lines before damage are kept: less than
/// a block (up to 128 KiB), so that zstd yields each block as it is decompressed.
const DAMAGED_STEP: usize = 4 << 10;

/// Frames of at most this much content may be decompressed whole, several at once (see
/// [`Windows::parallel`]); larger ones are streamed.
const WHOLE_FRAME_MAX: usize = 2 * FRAME_CONTENT;

/// The decompressed archive, handed out in windows of whole lines.
///
/// Frames are decompressed as streams, straight from the file, so memory holds the windows in
/// use and the decompressor's state, never a whole frame, compressed or not: a large `max_log_size` does not make replay use more
/// memory. A window never spans two frames, and the last window of every frame says so (it may
/// be empty, for a frame without a complete line). A line cut short at the end of a frame
/// (possible only in frames written by 0.2.0 from a torn active log) is dropped.
pub(crate) struct Windows {
    /// The compressed input, while no frame is being decompressed.
    input: Option<Input>,
    path: PathBuf,
    /// The length of the archive file to read, when bounded.
    limit: Option<u64>,
    /// The frame being decompressed, and where it starts in the archive file.
    decoder: Option<(u64, Decoder)>,
    /// With [`Windows::keep_before_damage`], the decompressor leaves the checksum of the frame
    /// being decompressed to this hash of its content.
    content_hash: Option<xxhash_rust::xxh64::Xxh64>,
    /// Bytes of an unfinished line, carried into the next window.
    carry: Vec<u8>,
    /// Offset in the decompressed stream of the next window's first byte.
    offset: u64,
    /// Where in the decompressed stream the frame being decompressed starts.
    frame_start: u64,
    /// How many frames to decompress at once, each on a thread of its own (1: one at a time,
    /// as a stream).
    parallel: usize,
    /// Frames decompressed ahead, one window each, in order.
    ahead: std::collections::VecDeque<Window>,
    /// Whether frames are decompressed ahead by threads of their own (see
    /// [`Windows::background`]), and those threads while they run.
    background: Behind,
    /// Buffers handed back, for the next frames decompressed ahead.
    spares: Vec<Vec<u8>>,
    /// Whether the complete lines a damaged frame yielded before its damage are handed out
    /// (see [`Windows::keep_before_damage`]).
    keep_before_damage: bool,
    /// The damage met after the window just handed out, returned by the next call.
    pending: Option<io::Error>,
    /// The frame whose checksum failed once it was read to its end: already skipped.
    pending_skipped: Option<u64>,
}

type Decoder = zstd::stream::zio::Reader<Input, zstd::stream::raw::Decoder<'static>>;

/// What zstd says of a frame whose content does not match its checksum.
pub(crate) const CHECKSUM_MISMATCH: &str = "Restored data doesn't match checksum";

/// Whether the frame header at the start of `head` announces a content checksum.
fn has_checksum(head: &[u8]) -> bool {
    head.get(4)
        .is_some_and(|descriptor| descriptor & 0b100 != 0)
}

/// Where a frame lies in the archive file, and the last bytes of its compressed form (which
/// end with the content checksum in frames that carry one): what the archive index records to
/// recognise the frame again without decompressing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameSpan {
    /// Offset of the frame in the archive file.
    pub offset: u64,
    /// Its compressed length.
    pub len: u64,
    /// Its last (up to) 8 compressed bytes, as a little-endian number.
    pub tail: u64,
}

/// The last (up to) 8 bytes of `bytes` as a little-endian number.
pub(crate) fn tail_of(bytes: &[u8]) -> u64 {
    let mut tail = [0u8; 8];
    let n = bytes.len().min(8);
    tail[..n].copy_from_slice(&bytes[bytes.len() - n..]);
    u64::from_le_bytes(tail)
}

/// Whole lines of the decompressed archive.
pub(crate) struct Window {
    /// Offset of `bytes()[0]` in the decompressed stream.
    pub offset: u64,
    /// Offset in the archive file of the frame the window's bytes come from.
    pub frame_offset: u64,
    /// When this is the frame's last window, the whole frame's place in the archive file.
    pub frame: Option<FrameSpan>,
    /// Where the frame starts in the decompressed stream.
    pub frame_start: u64,
    /// When this is the frame's last window, where the frame ends in the decompressed stream
    /// (past any torn line it ended with).
    pub frame_end: Option<u64>,
    /// The buffer; only its first `len` bytes belong to the window. The rest was written by
    /// earlier windows and is kept, so that a reused buffer is not zeroed again.
    buf: Vec<u8>,
    len: usize,
    /// The checksum of the window's bytes ([`crate::format::trusted::block_hash`]) and their
    /// newlines, when the thread that decompressed them counted them (see
    /// [`Windows::background`]): while its bytes were still in that CPU's cache.
    pub counted: Option<(u64, u64)>,
    /// Whether the thread that decompressed the window found its bytes to be UTF-8 (see
    /// [`Window::text`]). Set only where `buf[..len]` was checked, and neither changes after.
    utf8: bool,
}

impl Window {
    /// Complete lines, each ending in a newline.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The window's bytes as text, when the thread that decompressed them found them to be
    /// UTF-8 (frames decompressed behind the reader, [`Windows::background`]); `None` otherwise.
    pub fn text(&self) -> Option<&str> {
        if !self.utf8 {
            return None;
        }
        #[allow(unsafe_code)]
        // SAFETY: `utf8` is set only by `frame_window`, for a buffer whose first `len` bytes
        // `take_frame` checked to be UTF-8 (it passes the length it checked, which must be
        // `len`); `buf` and `len` are private to this module, and nothing writes them once the
        // window is made (it is consumed to reuse its buffer).
        Some(unsafe { std::str::from_utf8_unchecked(self.bytes()) })
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
    /// Opens the archive at `path`; with `limit`, only the first `limit` bytes of the file are
    /// read (the rest is a frame still being written). A missing archive is empty.
    #[cfg(test)]
    pub fn open(path: &Path, limit: Option<u64>) -> io::Result<Self> {
        Self::open_at(path, 0, 0, limit)
    }

    /// Opens the archive at `path` for reading from the frame at byte `frame_offset` of the
    /// file on, whose content starts at `stream_offset` of the decompressed stream.
    pub fn open_at(
        path: &Path,
        frame_offset: u64,
        stream_offset: u64,
        limit: Option<u64>,
    ) -> io::Result<Self> {
        Ok(Windows {
            input: Some(Input::open(path, frame_offset, limit)?),
            path: path.to_path_buf(),
            limit,
            decoder: None,
            content_hash: None,
            carry: Vec::new(),
            offset: stream_offset,
            frame_start: stream_offset,
            parallel: 1,
            ahead: std::collections::VecDeque::new(),
            background: Behind::Off,
            spares: Vec::new(),
            keep_before_damage: false,
            pending: None,
            pending_skipped: None,
        })
    }

    /// Hands out the complete lines a frame yielded before the decompressor failed (damaged
    /// content, the archive ending inside the frame, or a checksum that does not match, which
    /// is found only once the whole content was yielded) as a window of their own, and
    /// returns the failure on the next call. Such lines are not checked by the frame's
    /// checksum: for lenient readers, which go past damage and report it.
    pub fn keep_before_damage(mut self) -> Self {
        self.keep_before_damage = true;
        self
    }

    /// Decompresses up to `frames` frames at once, on as many threads, when they record their
    /// content size (frames written by rotations of this version do): each becomes one window,
    /// handed out in order. Memory holds at most that many frames, compressed and not. Frames
    /// of eventfold 0.2.0, very large frames, and damaged ones are still decompressed as
    /// streams, one at a time, with the same windows and the same errors.
    pub fn parallel(mut self, frames: usize) -> Self {
        self.parallel = frames.max(1);
        self
    }

    /// Decompresses the frames that record their content size (see [`Windows::parallel`])
    /// on `threads` threads of their own, which keep frames ready ahead of the window being
    /// read (up to [`BACKGROUND_AHEAD`] handed over, and one in each thread's hands); the
    /// calling thread decompresses the next frame too when none is ready. For readers that
    /// take a frame's lines in less time than its decompression, which then bounds the read.
    /// Frames of eventfold 0.2.0, very large frames, and damaged ones are decompressed as
    /// streams on the calling thread, with the same windows and the same errors.
    pub fn background(mut self, threads: usize) -> Self {
        self.background = Behind::Idle {
            threads: threads.max(1),
        };
        self
    }

    /// The next window from the background threads (started here, if they have not been), or
    /// `None` once they have stopped before a frame they do not decompress: the input is
    /// back, there, for the streaming decompressor.
    fn next_from_background(&mut self, buf: Vec<u8>) -> io::Result<Option<Window>> {
        if let Behind::Idle { threads } = self.background {
            match Background::start(&mut self.input, &self.path, self.limit, threads) {
                Some(running) => self.background = Behind::Running { threads, running },
                None => {
                    // No input left, or no thread could be started: the frames are read on
                    // this thread.
                    self.background = Behind::Off;
                    return Ok(None);
                }
            }
        }
        let Behind::Running { running, .. } = &mut self.background else {
            return Ok(None);
        };
        if buf.capacity() > 0 {
            running.give(buf);
        }
        match running.next() {
            Some(Decompressed::Frame {
                offset,
                len,
                tail,
                content,
                counted,
                utf8,
            }) => Ok(Some(self.frame_window(
                (offset, len, tail),
                content,
                Some((counted, utf8)),
            ))),
            Some(Decompressed::Stopped { at, read }) => match read {
                Ok(input) => {
                    // The frame there is streamed; the threads start again after it.
                    self.background.stop();
                    self.input = Some(input);
                    Ok(None)
                }
                Err(e) => {
                    // Reading the input failed; a later call reads it again from there, as
                    // a stream.
                    self.background = Behind::Off;
                    self.input = Input::open(&self.path, at, self.limit).ok();
                    Err(e)
                }
            },
            None => {
                self.background = Behind::Off;
                Err(io::Error::other(format!(
                    "{}: the thread that decompresses the archive stopped",
                    self.path.display()
                )))
            }
        }
    }

    /// The window of a frame decompressed whole: `content`, the frame at `offset` of the
    /// archive file, `len` bytes long, whose last bytes are `tail`; with what the thread that
    /// decompressed it counted, and how many of its first bytes it found to be UTF-8.
    fn frame_window(
        &mut self,
        (offset, len, tail): (u64, u64, u64),
        content: Vec<u8>,
        counted: Option<((u64, u64), Option<usize>)>,
    ) -> Window {
        let lines = crate::format::lines::committed_len(&content);
        let (counted, utf8) = match counted {
            Some((counted, utf8)) => (Some(counted), utf8 == Some(lines)),
            None => (None, false),
        };
        let start = self.offset;
        self.offset += content.len() as u64;
        self.frame_start = self.offset;
        Window {
            offset: start,
            frame_offset: offset,
            frame: Some(FrameSpan { offset, len, tail }),
            frame_start: start,
            frame_end: Some(self.offset),
            buf: content,
            len: lines,
            counted,
            utf8,
        }
    }

    /// Decompresses the next frames at once, when the next one can be; returns whether any
    /// was queued. A frame that fails to decompress ends the run: the input goes back to its
    /// start, where the streaming decompressor reports it.
    fn decompress_ahead(&mut self) -> io::Result<bool> {
        let Some(input) = self.input.as_mut() else {
            return Ok(false);
        };
        let mut frames = Vec::with_capacity(self.parallel);
        while frames.len() < self.parallel {
            match input.take_sized_frame(WHOLE_FRAME_MAX as u64)? {
                Some(frame) => frames.push(frame),
                None => break,
            }
        }
        if frames.is_empty() {
            return Ok(false);
        }
        let mut outputs: Vec<Vec<u8>> = frames
            .iter()
            .map(|_| self.spares.pop().unwrap_or_default())
            .collect();
        // `None` for a frame no thread could be started for (the system refused one).
        let results: Vec<Option<io::Result<()>>> = std::thread::scope(|scope| {
            let mut outs = outputs.iter_mut();
            let first = outs.next().expect("at least one frame");
            let others: Vec<_> = frames[1..]
                .iter()
                .zip(outs)
                .map(|(frame, out)| fold::spawn_scoped(scope, move || decompress_whole(frame, out)))
                .collect();
            let mut results = vec![Some(decompress_whole(&frames[0], first))];
            for started in others {
                results.push(started.map(|handle| match handle.join() {
                    Ok(result) => result,
                    Err(panic) => std::panic::resume_unwind(panic),
                }));
            }
            results
        });
        // The frames that had no thread are decompressed here.
        let results: Vec<io::Result<()>> = results
            .into_iter()
            .zip(frames.iter().zip(outputs.iter_mut()))
            .map(|(result, (frame, out))| result.unwrap_or_else(|| decompress_whole(frame, out)))
            .collect();
        for (((offset, bytes, _), result), content) in frames.iter().zip(results).zip(outputs) {
            if result.is_err() {
                // Read this frame again as a stream, which names what is wrong with it.
                self.input = Some(Input::open(&self.path, *offset, self.limit)?);
                break;
            }
            let span = (*offset, bytes.len() as u64, tail_of(bytes));
            let window = self.frame_window(span, content, None);
            self.ahead.push_back(window);
        }
        Ok(!self.ahead.is_empty())
    }

    /// The next window of whole lines, reusing `buf` (a previous window's buffer, or a new
    /// one); `Ok(None)` at the end.
    pub fn next_window(&mut self, buf: Vec<u8>) -> io::Result<Option<Window>> {
        if let Some(damage) = self.pending.take() {
            return Err(damage);
        }
        if self.background.threads().is_some() && self.decoder.is_none() && self.carry.is_empty() {
            if let Some(window) = self.next_from_background(buf)? {
                return Ok(Some(window));
            }
            return self.next_streamed(Vec::new());
        }
        if self.parallel > 1 && self.decoder.is_none() && self.carry.is_empty() {
            // Between frames: hand out the frames decompressed ahead, or decompress the next.
            if self.ahead.is_empty() && !self.decompress_ahead()? {
                return self.next_streamed(buf);
            }
            if buf.capacity() > 0 && self.spares.len() < self.parallel {
                self.spares.push(buf);
            }
            return Ok(self.ahead.pop_front());
        }
        self.next_streamed(buf)
    }

    /// The next window, decompressed as a stream.
    fn next_streamed(&mut self, mut buf: Vec<u8>) -> io::Result<Option<Window>> {
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
                let Some(mut input) = self.input.take() else {
                    return Ok(None);
                };
                let offset = input.offset;
                let head = input.peek(4)?;
                if head.is_empty() {
                    // A partial line can only be left here by a frame that ended without its
                    // newline, which is dropped below; nothing remains.
                    return Ok(None);
                }
                if head.len() < 4 || !has_frame_magic(head) {
                    let reason = if head.len() < 4 {
                        format!(
                            "the archive ends inside a frame ({} bytes left over)",
                            head.len()
                        )
                    } else {
                        "no zstd frame starts here (bad magic number)".to_string()
                    };
                    return Err(self.fail(offset, io::Error::other(reason)));
                }
                input.tail_len = 0;
                // The checksum is checked here, after the content is handed out, when the
                // lines before damage are wanted: zstd's own check yields nothing of a frame
                // whose checksum fails.
                let own_check = self.keep_before_damage && has_checksum(input.peek(5)?);
                let mut raw =
                    zstd::stream::raw::Decoder::new().map_err(|e| self.fail(offset, e))?;
                if own_check {
                    raw.set_parameter(zstd::zstd_safe::DParameter::ForceIgnoreChecksum(true))
                        .map_err(|e| self.fail(offset, e))?;
                }
                self.content_hash = own_check.then(|| xxhash_rust::xxh64::Xxh64::new(0));
                let mut decoder = zstd::stream::zio::Reader::new(input, raw);
                decoder.set_single_frame();
                self.decoder = Some((offset, decoder));
                self.frame_start = self.offset;
            }
            let (frame_offset, decoder) = self.decoder.as_mut().expect("set above");
            let frame_offset = *frame_offset;
            let before = len;
            // Small reads keep zstd streaming block by block: given room for the whole content
            // at once, it decompresses a frame in one pass and yields nothing of it on damage.
            let step = if self.keep_before_damage {
                DAMAGED_STEP
            } else {
                usize::MAX
            };
            let filled = fill(decoder, &mut buf, &mut len, WINDOW, step);
            if let Some(hash) = &mut self.content_hash {
                hash.update(&buf[before..len]);
            }
            let frame_done = match filled {
                Ok(done) => done,
                Err(e) => {
                    let damage = self.fail(frame_offset, e);
                    let complete = crate::format::lines::committed_len(&buf[..len]);
                    if !self.keep_before_damage || complete == 0 {
                        return Err(damage);
                    }
                    // The lines before the damage; the damage comes next. The decoder stays,
                    // so that `skip_frame` can find the frame's end.
                    self.pending = Some(damage);
                    let window = Window {
                        offset: self.offset,
                        frame_offset,
                        frame: None,
                        frame_start: self.frame_start,
                        frame_end: None,
                        buf,
                        len: complete,
                        counted: None,
                        utf8: false,
                    };
                    self.offset += complete as u64;
                    return Ok(Some(window));
                }
            };
            let complete = crate::format::lines::committed_len(&buf[..len]);
            if !frame_done && complete == 0 {
                // One line longer than a window: keep reading until it ends.
                continue;
            }
            let mut window = Window {
                offset: self.offset,
                frame_offset,
                frame: None,
                frame_start: self.frame_start,
                frame_end: None,
                buf,
                len: complete,
                counted: None,
                utf8: false,
            };
            if frame_done {
                let (_, decoder) = self.decoder.take().expect("set above");
                let input = decoder.into_inner();
                let tail = &input.tail[..input.tail_len];
                if let Some(hash) = self.content_hash.take()
                    && tail.len() >= 4
                    && (hash.digest() as u32).to_le_bytes() != tail[tail.len() - 4..]
                {
                    // The content was handed out: the damage comes next, the frame already
                    // skipped.
                    let reason = io::Error::other(CHECKSUM_MISMATCH);
                    self.pending = Some(self.fail(frame_offset, reason));
                    self.pending_skipped = Some(frame_offset);
                }
                window.frame = Some(FrameSpan {
                    offset: frame_offset,
                    len: input.offset - frame_offset,
                    tail: tail_of(tail),
                });
                self.input = Some(input);
                // Bytes after the frame's last newline belong to a line the frame never
                // finished: they are dropped, but keep their place in the stream.
                self.offset += len as u64;
                window.frame_end = Some(self.offset);
            } else {
                self.carry.extend_from_slice(&window.buf[complete..len]);
                self.offset += complete as u64;
            }
            return Ok(Some(window));
        }
    }

    /// After [`next_window`](Self::next_window) failed inside a frame (damaged content, a bad
    /// checksum): leaves the rest of that frame unread, so that the next window comes from the
    /// frame after it. Returns the frame's offset in the archive file, or `None` when the
    /// failure was not inside a frame (the archive ends inside one, or holds no frame where
    /// one should start), where nothing can be read past it. The stream offsets of the windows
    /// that follow go on from the last byte handed out.
    pub fn skip_frame(&mut self) -> Option<u64> {
        if let Some(offset) = self.pending_skipped.take() {
            // Read to its end, and found wrong only then.
            return Some(offset);
        }
        let (offset, decoder) = self.decoder.take()?;
        self.carry.clear();
        self.content_hash = None;
        // The decompressor stopped somewhere inside the frame: its end is found from its block
        // headers, read whole from the file.
        let input = decoder.into_inner();
        let limit = input.limit;
        let mut frames = Frames::open_at(&self.path, offset, limit).ok()?;
        let frame = frames.next_frame(&self.path).ok()??;
        let end = frame.offset + frame.bytes.len() as u64;
        self.input = Some(Input::open(&self.path, end, limit).ok()?);
        Some(offset)
    }

    fn fail(&self, frame_offset: u64, e: io::Error) -> io::Error {
        if FileError::from_io(&e).is_some() {
            // The file could not be read: nothing is known about the frame.
            return e;
        }
        let reason = if e.kind() == io::ErrorKind::UnexpectedEof {
            let len = crate::store::fsutil::len_or_zero(&self.path).unwrap_or(0);
            let len = self.limit.map_or(len, |limit| len.min(limit));
            format!(
                "the archive ends inside a frame ({} bytes left over)",
                len.saturating_sub(frame_offset)
            )
        } else {
            e.to_string()
        };
        Error::Archive {
            path: self.path.clone(),
            frame_offset,
            reason,
        }
        .into()
    }
}

/// Decompresses up to `want` bytes into `buf` from `filled` on. `buf` grows only when it is
/// full, doubling from 64 KiB (new bytes are zeroed once, when first allocated), so a small
/// frame does not pay for a whole window. Each read asks for at most `step` bytes. Returns
/// whether the frame ended; `filled` is where the decompressed bytes now end, also after an
/// error.
fn fill(
    decoder: &mut Decoder,
    buf: &mut Vec<u8>,
    filled: &mut usize,
    want: usize,
    step: usize,
) -> io::Result<bool> {
    let target = *filled + want;
    loop {
        if *filled == target {
            return Ok(false);
        }
        if *filled == buf.len() {
            let grown = (buf.len() * 2).clamp(64 << 10, target);
            buf.resize(grown, 0);
        }
        let end = buf.len().min(target).min(filled.saturating_add(step));
        match decoder.read(&mut buf[*filled..end]) {
            Ok(0) => return Ok(true),
            Ok(n) => *filled += n,
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

        let mut windows = Windows::open(&path, None).unwrap();
        let mut stream = Vec::new();
        let mut spare = Vec::new();
        let mut seen = 0;
        let mut frames = 0;
        while let Some(window) = windows.next_window(spare).unwrap() {
            assert_eq!(window.offset, stream.len() as u64);
            if window.frame_end.is_none() {
                assert_eq!(window.bytes().last(), Some(&b'\n'));
            }
            stream.extend_from_slice(window.bytes());
            if let Some(span) = window.frame {
                // The frame's place in the file, found while it was decompressed.
                let file = std::fs::read(&path).unwrap();
                let bytes = &file[span.offset as usize..(span.offset + span.len) as usize];
                assert_eq!(
                    zstd::zstd_safe::find_frame_compressed_size(bytes),
                    Ok(bytes.len())
                );
                assert_eq!(span.tail, tail_of(bytes));
                frames += 1;
            }
            spare = window.into_buffer();
            seen += 1;
        }
        assert!(seen >= 8, "the large frames span several windows: {seen}");
        assert_eq!(frames, 6);
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

        let mut windows = Windows::open(&path, None).unwrap();
        let first_window = windows.next_window(Vec::new()).unwrap().unwrap();
        assert_eq!(first_window.bytes(), b"a\n");
        let err = loop {
            match windows.next_window(Vec::new()) {
                Ok(Some(_)) => {}
                Ok(None) => panic!("a frame cut short went unnoticed"),
                Err(e) => break e,
            }
        };
        match Error::from_io(&err) {
            Some(Error::Archive {
                frame_offset,
                reason,
                ..
            }) => {
                assert_eq!(*frame_offset, first.len() as u64);
                let left = second.len() / 2;
                assert_eq!(
                    reason,
                    &format!("the archive ends inside a frame ({left} bytes left over)")
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn garbage_between_frames_is_an_error_naming_its_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("archive.jsonl.zst");
        let first = compress_frame(b"a\n").unwrap();
        append_frame(&path, &first).unwrap();
        append_frame(&path, b"garbage!").unwrap();
        let mut windows = Windows::open(&path, None).unwrap();
        assert!(windows.next_window(Vec::new()).unwrap().is_some());
        let Err(err) = windows.next_window(Vec::new()) else {
            panic!("garbage after a frame went unnoticed");
        };
        match Error::from_io(&err) {
            Some(Error::Archive {
                frame_offset,
                reason,
                ..
            }) => {
                assert_eq!(*frame_offset, first.len() as u64);
                assert!(reason.contains("bad magic"), "{reason}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    /// A frame as the windows show it: where its content starts, its bytes, its place in the
    /// file, and where its content ends.
    type FrameRead = (u64, Vec<u8>, Option<FrameSpan>, Option<u64>);

    /// Everything a reader learns from the windows, frame by frame: where each frame's content
    /// starts and ends, its bytes, its place in the file, and the error that ends the read.
    /// The frames of the archive at `path`, read `parallel` at once, or by
    /// [`Windows::background`] for 0 (on one thread) and 100 + n (on n).
    fn read_by_frame(path: &Path, parallel: usize) -> (Vec<FrameRead>, Option<String>) {
        let mut windows = Windows::open(path, None).unwrap();
        windows = match parallel {
            0 => windows.background(1),
            n if n >= 100 => windows.background(n - 100),
            n => windows.parallel(n),
        };
        let mut frames = Vec::new();
        let mut current: Option<(u64, Vec<u8>)> = None;
        let mut spare = Vec::new();
        loop {
            match windows.next_window(spare) {
                Ok(Some(window)) => {
                    if let Some(counted) = window.counted {
                        let lines = crate::format::lines::count(window.bytes());
                        let hash = crate::format::trusted::block_hash(window.bytes());
                        assert_eq!(counted, (hash, lines), "what the thread counted");
                    }
                    // The window is text exactly when the thread that decompressed it checked
                    // it, and its bytes are UTF-8.
                    let utf8 = std::str::from_utf8(window.bytes()).ok();
                    let expected = utf8.filter(|_| window.counted.is_some());
                    assert_eq!(window.text(), expected, "parallel {parallel}");
                    let (start, bytes) = current.get_or_insert((window.frame_start, Vec::new()));
                    assert_eq!(*start, window.frame_start);
                    bytes.extend_from_slice(window.bytes());
                    if window.frame.is_some() {
                        let (start, bytes) = current.take().unwrap();
                        frames.push((start, bytes, window.frame, window.frame_end));
                    }
                    spare = window.into_buffer();
                }
                Ok(None) => return (frames, None),
                Err(e) => return (frames, Some(e.to_string())),
            }
        }
    }

    #[test]
    fn frames_decompressed_at_once_or_behind_read_as_the_stream_does() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("archive.jsonl.zst");
        let line = |i: usize| format!("{{\"type\":\"t\",\"n\":{i}}}\n");
        for f in 0..7 {
            let content: String = (0..(f * 997 + 1)).map(line).collect();
            append_frame(&path, &compress_frame(content.as_bytes()).unwrap()).unwrap();
        }
        // A frame of eventfold 0.2.0 (no content size), then a frame too large to be read
        // whole, a frame without a complete line, and an empty one.
        let mut streamed = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        streamed.write_all(b"old\nolder\n").unwrap();
        append_frame(&path, &streamed.finish().unwrap()).unwrap();
        let large: String = (0..WHOLE_FRAME_MAX / 20 + 1000).map(line).collect();
        assert!(large.len() > WHOLE_FRAME_MAX);
        append_frame(&path, &compress_frame(large.as_bytes()).unwrap()).unwrap();
        append_frame(&path, &compress_frame(b"torn").unwrap()).unwrap();
        append_frame(&path, &compress_frame(b"").unwrap()).unwrap();
        for f in 0..3 {
            let content: String = (0..(f * 3001 + 5)).map(line).collect();
            append_frame(&path, &compress_frame(content.as_bytes()).unwrap()).unwrap();
        }
        let healthy = std::fs::read(&path).unwrap();

        let (one, end) = read_by_frame(&path, 1);
        assert_eq!(end, None);
        assert_eq!(one.len(), 14);
        for parallel in [2, 3, 8, 0, 102, 103] {
            assert_eq!(
                read_by_frame(&path, parallel),
                (one.clone(), None),
                "{parallel}"
            );
        }
        // Threads the system refuses: the frames they would have taken are read on the
        // calling thread, the same.
        for refused in [1, 2, usize::MAX] {
            for parallel in [3, 8, 102, 103] {
                let _refusing = fold::refuse_threads(refused);
                assert_eq!(
                    read_by_frame(&path, parallel),
                    (one.clone(), None),
                    "{parallel}, {refused} refused"
                );
            }
        }

        // A frame damaged in the middle of a run, and then an archive that ends inside a
        // frame: the same frames before it, then the same error, whichever way it is read.
        let spans: Vec<FrameSpan> = one.iter().map(|f| f.2.unwrap()).collect();
        let mut damaged = healthy.clone();
        let third = spans[2];
        damaged[(third.offset + third.len / 2) as usize] ^= 0x5a;
        std::fs::write(&path, &damaged).unwrap();
        let (frames, end) = read_by_frame(&path, 1);
        assert_eq!(frames.len(), 2);
        assert!(end.is_some());
        for parallel in [2, 4, 0, 102, 103] {
            assert_eq!(
                read_by_frame(&path, parallel),
                (frames.clone(), end.clone())
            );
        }
        let last = spans[13];
        std::fs::write(&path, &healthy[..(last.offset + last.len - 3) as usize]).unwrap();
        let (frames, end) = read_by_frame(&path, 1);
        assert_eq!(frames.len(), 13);
        assert!(
            end.as_deref().unwrap().contains("ends inside a frame"),
            "{end:?}"
        );
        for parallel in [2, 4, 0, 102, 103] {
            assert_eq!(
                read_by_frame(&path, parallel),
                (frames.clone(), end.clone())
            );
        }
    }
}
