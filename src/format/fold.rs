//! The fold engine: parse lines and reduce them in order, in parallel where that pays.
//!
//! A fold has two halves. Parsing a line is independent of every other line, so large buffers
//! are cut into chunks at newlines and parsed in parallel; reducing is sequential, so parsed
//! chunks are reduced strictly in order, overlapped with the parsing of the chunks that follow.
//! Memory stays bounded: only a few chunks are parsed ahead. Small buffers take the plain
//! sequential loop, which gives the same result (the tests check that it does).
//!
//! Every thread claims the lowest chunk nobody has claimed and parses it. The calling thread
//! reduces every chunk in order (so the state never leaves it and need not be `Send`), and
//! parses chunks itself only while the next one to reduce is not ready, so parsing and reducing
//! balance whatever the reducer costs. Helpers run at most a few chunks ahead of the reducer,
//! and free what they parsed once it has been reduced: owned [`Event`]s allocate a lot, and
//! freeing memory on another thread than the one that allocated it is slow in common
//! allocators. A helper that stalls (its CPU taken by another program) does not hold the fold
//! up: the calling thread parses the chunk the helper sits on, and drops the helper's copy.

use crate::format::chunk::{self, Index};
use crate::format::event::{Event, EventRef};
use crate::format::lines::{Line, Lines};
use crate::format::parse::{self, ParseError};
use crate::format::trusted;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Buffers smaller than this are folded on the calling thread alone, for borrowed events.
/// (Measured on the bench data: at 600 KB the parallel type-only fold took 0.97 ms against
/// 1.27 ms; at 256 KiB the thread it starts costs more than it saves.)
const PARALLEL_MIN: usize = 512 << 10;
/// The same for owned events, whose helper must first warm up its allocations: the parallel
/// compat fold lost at 1.2 MB (4.5 ms against 4.4 ms), broke even at 1.5 MB and won at 2 MB
/// (6.6 ms against 7.15 ms).
const OWNED_PARALLEL_MIN: usize = 3 << 19;
/// Target size of one parse chunk for borrowed events.
const CHUNK: usize = 256 << 10;
/// Target size of one parse chunk for owned events: small enough that a helper's allocations
/// are reused chunk after chunk instead of being returned to the system and faulted in again
/// (measured: 128 KiB chunks ran in about 0.8 of the time of 256 KiB ones), and that the
/// events in flight (about 400 bytes of heap each, three chunks per thread) stay in a core's
/// cache until they are reduced and dropped. The two-thread compat rebuild of the 1M-event
/// bench log, 32 KiB against 128 KiB chunks, medians of alternating runs: 292-310 ms against
/// 297-324 ms in four comparisons, and 332 against 350 ms from its 10-frame archive; 64 KiB
/// chunks came out between the two.
const OWNED_CHUNK: usize = 32 << 10;

/// How one kind of fold parses a line and folds the result into the accumulator.
pub(crate) trait LineFold<A>: Sync {
    /// What a parsed line becomes; it may borrow the line.
    type Item<'b>: Send;

    /// Parses one line (without its newline).
    fn parse<'b>(&self, line: &'b [u8]) -> Result<Self::Item<'b>, ParseError>;

    /// Whether [`LineFold::parse_in`] reads a chunk's index (building one costs a pass over
    /// the chunk, so folds that would not read it do not get one).
    const INDEXED: bool = false;

    /// Parses a line of a chunk, with the chunk's index when one was built; the result is
    /// [`LineFold::parse`]'s.
    #[inline]
    fn parse_in<'b>(
        &self,
        index: Option<&Index<'b>>,
        line: Line<'b>,
    ) -> Result<Self::Item<'b>, ParseError> {
        let _ = index;
        self.parse(line.bytes)
    }

    /// Whether [`LineFold::parse_trusted`] reads a line faster than [`LineFold::parse_in`]
    /// does: only then are sealed blocks read trusted. (Building an owned event costs the
    /// same either way; such folds keep their own chunk size and their chunk index.)
    const TRUSTS: bool = false;

    /// Parses a line known to be a valid event (a line of a sealed block whose checksum
    /// matched): the result of [`LineFold::parse`], found without validating the line where
    /// the fold knows how.
    #[inline]
    fn parse_trusted<'b>(&self, line: &'b str) -> Result<Self::Item<'b>, ParseError> {
        self.parse(line.as_bytes())
    }

    /// [`LineFold::parse_trusted`] of a line whose type was located ahead, with its chunk's
    /// index: `type_end` is what [`trusted::locate_type`] returns for the line.
    #[inline]
    fn parse_located<'b>(
        &self,
        line: &'b str,
        type_end: Option<usize>,
    ) -> Result<Self::Item<'b>, ParseError> {
        let _ = type_end;
        self.parse_trusted(line)
    }

    /// Reduces a line known to be a valid event, whose type holds no escape and ends at
    /// `type_end`, without handing over a parsed item where the fold can (the event is built
    /// where the reducer reads it): `Err` gives the accumulator back when the fold cannot, and
    /// the line is then parsed and reduced as any other.
    #[inline(always)]
    fn reduce_located(&self, acc: A, line: &str, type_end: usize) -> Result<A, A> {
        let _ = (line, type_end);
        Err(acc)
    }

    /// [`LineFold::reduce_located`] of a line of a sealed chunk that [`LineFold::prepare`] did
    /// not make ahead.
    #[inline(always)]
    fn reduce_unprepared(&self, acc: A, line: &str, type_end: usize) -> Result<A, A> {
        self.reduce_located(acc, line, type_end)
    }

    /// Whether [`LineFold::prepare`] does any work.
    const PREPARES: bool = false;

    /// The work on a sealed chunk `text` (see [`trusted_text`]) that is worth doing on the
    /// thread that claims the chunk, when a fold runs on several: the items of the lines the
    /// fold makes ahead, in line order, up to and including the first that fails. `lines` are
    /// the chunk's lines, each with where its type ends when it could be located. The
    /// reducing thread takes these items and reads the other lines with
    /// [`LineFold::parse_unprepared`]. (Upcasting makes its upcast events here, so that a
    /// parallel fold shares that work.)
    #[inline]
    fn prepare<'b>(
        &self,
        text: &'b str,
        lines: impl Iterator<Item = (Line<'b>, Option<usize>)>,
    ) -> Vec<Ready<Self::Item<'b>>> {
        let _ = (text, lines);
        Vec::new()
    }

    /// [`LineFold::parse_located`] of a line of a sealed chunk that [`LineFold::prepare`] did
    /// not make ahead.
    #[inline]
    fn parse_unprepared<'b>(
        &self,
        line: &'b str,
        type_end: Option<usize>,
    ) -> Result<Self::Item<'b>, ParseError> {
        self.parse_located(line, type_end)
    }

    /// Folds one parsed line into the accumulator.
    fn reduce(&self, acc: A, item: &Self::Item<'_>) -> A;

    /// The `ts` of a parsed line (folds that stop at a time, or track the largest `ts`, read
    /// it).
    fn ts(&self, item: &Self::Item<'_>) -> u64;

    /// Whether parsed items own heap memory (which makes smaller chunks pay).
    const OWNS_MEMORY: bool;
}

/// A line of a sealed chunk that [`LineFold::prepare`] made ahead.
pub(crate) struct Ready<T> {
    /// Where the line starts in the chunk.
    pub at: usize,
    /// Its length, without its newline.
    pub len: usize,
    pub item: Result<T, ParseError>,
}

/// A line's envelope, parsed with its chunk's index when there is one
/// ([`parse::envelope_in`]) and on its own otherwise ([`parse::envelope`]): the same result
/// either way.
#[inline]
pub(crate) fn envelope<'b>(
    index: Option<&Index<'b>>,
    line: Line<'b>,
) -> Result<parse::Envelope<'b>, ParseError> {
    match index.and_then(|index| index.stops(line)) {
        Some(stops) => parse::envelope_in(line.bytes, stops),
        None => parse::envelope(line.bytes),
    }
}

/// A line's owned event, parsed with its chunk's index when there is one
/// ([`parse::event_in`]) and on its own otherwise ([`parse::event`]).
#[inline]
pub(crate) fn event(index: Option<&Index<'_>>, line: Line<'_>) -> Result<Event, ParseError> {
    match index.and_then(|index| index.stops(line)) {
        Some(stops) => parse::event_in(line.bytes, stops),
        None => parse::event(line.bytes),
    }
}

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

/// A reducer over owned events: each line is parsed into an [`Event`].
pub(crate) struct Owned<S>(pub ReduceFn<S>);

impl<S> LineFold<S> for Owned<S> {
    type Item<'b> = Event;
    const OWNS_MEMORY: bool = true;

    #[inline]
    fn parse(&self, line: &[u8]) -> Result<Event, ParseError> {
        crate::format::parse::event(line)
    }

    const INDEXED: bool = true;

    #[inline]
    fn parse_in<'b>(&self, index: Option<&Index<'b>>, line: Line<'b>) -> Result<Event, ParseError> {
        event(index, line)
    }

    #[inline]
    fn reduce(&self, acc: S, item: &Event) -> S {
        (self.0)(acc, item)
    }

    #[inline]
    fn ts(&self, item: &Event) -> u64 {
        item.ts
    }
}

/// A reducer over borrowed events: each line is parsed into an [`EventRef`] of the buffer.
pub(crate) struct Borrowed<S>(pub ReduceRefFn<S>);

impl<S> LineFold<S> for Borrowed<S> {
    type Item<'b> = EventRef<'b>;
    const OWNS_MEMORY: bool = false;

    #[inline]
    fn parse<'b>(&self, line: &'b [u8]) -> Result<EventRef<'b>, ParseError> {
        EventRef::parse_line(line)
    }

    const INDEXED: bool = true;

    #[inline]
    fn parse_in<'b>(
        &self,
        index: Option<&Index<'b>>,
        line: Line<'b>,
    ) -> Result<EventRef<'b>, ParseError> {
        envelope(index, line).map(EventRef::from_envelope)
    }

    const TRUSTS: bool = true;

    #[inline]
    fn parse_trusted<'b>(&self, line: &'b str) -> Result<EventRef<'b>, ParseError> {
        EventRef::parse_trusted(line)
    }

    #[inline]
    fn parse_located<'b>(
        &self,
        line: &'b str,
        type_end: Option<usize>,
    ) -> Result<EventRef<'b>, ParseError> {
        EventRef::parse_located(line, type_end)
    }

    #[inline(always)]
    fn reduce_located(&self, acc: S, line: &str, type_end: usize) -> Result<S, S> {
        match EventRef::located(line, type_end) {
            Some(event) => Ok((self.0)(acc, &event)),
            None => Err(acc),
        }
    }

    #[inline]
    fn reduce(&self, acc: S, item: &EventRef<'_>) -> S {
        (self.0)(acc, item)
    }

    #[inline]
    fn ts(&self, item: &EventRef<'_>) -> u64 {
        item.ts()
    }
}

/// Where a fold stops before the end of its buffer (it always stops at a bad line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Fold every line.
    Never,
    /// Stop once this many events were folded (zero folds nothing).
    After(u64),
    /// Stop before the first event whose `ts` is above this.
    TsAbove(u64),
}

/// What a fold does besides folding: where it stops, and whether it keeps the largest `ts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Until {
    pub stop: Stop,
    pub track_ts: bool,
}

impl Until {
    /// Fold everything, track nothing.
    pub const END: Until = Until {
        stop: Stop::Never,
        track_ts: false,
    };
}

/// A stretch of a buffer's file that was validated before: `start..end` (file offsets) whose
/// bytes hashed to `hash` ([`trusted::block_hash`]). Only a stretch that lies whole in the
/// buffer, starts and ends at line boundaries and still hashes to `hash` is read trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Block {
    pub start: u64,
    pub end: u64,
    pub hash: u64,
}

/// What a fold may trust in its buffer, and what it hashes to be sealed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Trust<'s> {
    /// Offset of the buffer's first byte in its file.
    pub base: u64,
    /// Blocks validated before, in file order.
    pub blocks: &'s [Block],
    /// From this file offset on (a line start), the chunks the fold validates are hashed and
    /// reported in [`BufFold::validated`].
    pub hash_from: Option<u64>,
    /// Whether the caller found the whole buffer to match a seal (a sealed archive frame, whose
    /// one checksum covers several parse chunks): every chunk is then read trusted.
    pub checked: bool,
    /// With `checked`, the whole buffer as text when the caller already knows it to be UTF-8
    /// (an archive frame that the thread which decompressed it checked): the fold then does
    /// not check it again. Ignored unless it is the buffer itself.
    pub text: Option<&'s str>,
}

impl<'s> Trust<'s> {
    /// Nothing trusted, nothing hashed.
    pub const NONE: Trust<'static> = Trust {
        base: 0,
        blocks: &[],
        hash_from: None,
        checked: false,
        text: None,
    };

    /// The same trust for the buffer that starts `offset` bytes into this one.
    pub fn skip(self, offset: usize) -> Trust<'s> {
        Trust {
            base: self.base + offset as u64,
            text: self.text.and_then(|text| text.get(offset..)),
            ..self
        }
    }
}

/// One parse chunk of a buffer: whole lines, read trusted when its bytes hash to `seal`, and
/// hashed once validated when `hash` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Chunk<'b> {
    range: std::ops::Range<usize>,
    seal: Seal<'b>,
    hash: bool,
}

/// What a chunk's bytes are known to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seal<'b> {
    /// Nothing: they are validated.
    None,
    /// Valid events if they hash to this.
    Hash(u64),
    /// Valid events: the caller checked them against their seal; with their text when the
    /// caller knew them to be UTF-8 ([`Trust::text`]).
    Checked(Option<&'b str>),
}

/// Cuts `buf` into parse chunks: each block of `trust` that lies whole in the buffer at line
/// boundaries is a chunk of its own, and what lies between them is cut into chunks of about
/// `size` bytes (with a cut at `trust.hash_from`, where the hashed chunks start).
fn plan<'b>(buf: &'b [u8], size: usize, trust: Trust<'b>, trusts: bool) -> Vec<Chunk<'b>> {
    // The caller's text of the buffer, if it is the buffer itself.
    let text = trust.text.filter(|text| std::ptr::eq(text.as_bytes(), buf));
    let mut chunks = Vec::with_capacity(buf.len() / size.max(1) + 1);
    let end = trust.base + buf.len() as u64;
    let at_line_start = |at: usize| at == 0 || buf.get(at - 1) == Some(&b'\n');
    let hash_from = trust.hash_from.and_then(|from| {
        let at = usize::try_from(from.checked_sub(trust.base)?).ok()?;
        (at <= buf.len() && at_line_start(at)).then_some(at)
    });
    let gap = |chunks: &mut Vec<Chunk<'b>>, range: std::ops::Range<usize>| {
        let mut push = |range: std::ops::Range<usize>, hash: bool| {
            for sub in chunk_ranges(&buf[range.clone()], size) {
                let range = range.start + sub.start..range.start + sub.end;
                chunks.push(Chunk {
                    range: range.clone(),
                    seal: if trusts && trust.checked {
                        Seal::Checked(text.and_then(|text| text.get(range)))
                    } else {
                        Seal::None
                    },
                    hash,
                });
            }
        };
        match hash_from {
            Some(cut) if cut <= range.start => push(range, true),
            Some(cut) if cut < range.end => {
                push(range.start..cut, false);
                push(cut..range.end, true);
            }
            _ => push(range, false),
        }
    };
    let mut at = 0;
    let blocks = if trusts { trust.blocks } else { &[] };
    let first = blocks.partition_point(|b| b.start < trust.base);
    for block in &blocks[first..] {
        if block.end > end {
            break;
        }
        let start = (block.start - trust.base) as usize;
        let stop = (block.end - trust.base) as usize;
        if start < at || stop <= start || !at_line_start(start) || !at_line_start(stop) {
            continue;
        }
        gap(&mut chunks, at..start);
        chunks.push(Chunk {
            range: start..stop,
            seal: Seal::Hash(block.hash),
            hash: false,
        });
        at = stop;
    }
    gap(&mut chunks, at..buf.len());
    chunks
}

/// How the lines of a chunk were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    /// Trusted: its bytes hashed to its seal.
    Trusted,
    /// Validated line by line; `complete` when every line was read and accepted.
    Validated { complete: bool },
}

/// The bytes of a chunk as text when they hash to `seal` (a block validated before) and are
/// UTF-8; `None` otherwise.
#[inline]
fn trusted_text<'b>(bytes: &'b [u8], seal: Seal<'b>) -> Option<&'b str> {
    match seal {
        Seal::None => return None,
        Seal::Hash(hash) if trusted::block_hash(bytes) != hash => return None,
        Seal::Checked(Some(text)) if text.len() == bytes.len() => return Some(text),
        Seal::Hash(_) | Seal::Checked(_) => {}
    }
    simdutf8::basic::from_utf8(bytes).ok()
}

/// Parses the lines of `bytes` (a chunk: whole lines) in order and hands each to `each` until
/// it breaks: trusted when the chunk's bytes hash to `seal`, validated otherwise. `before`
/// runs before each line is parsed.
#[inline]
fn for_each_line<'b, A, F: LineFold<A>>(
    fold: &F,
    bytes: &'b [u8],
    seal: Seal<'b>,
    mut before: impl FnMut(),
    mut each: impl FnMut(Line<'b>, Result<F::Item<'b>, ParseError>) -> ControlFlow<()>,
) -> Read {
    if let Some(text) = trusted_text(bytes, seal) {
        for line in Lines::new(bytes) {
            before();
            let item = match text.get(line.start..line.start + line.bytes.len()) {
                Some(line) => fold.parse_trusted(line),
                None => fold.parse(line.bytes),
            };
            if each(line, item).is_break() {
                break;
            }
        }
        return Read::Trusted;
    }
    let index = if F::INDEXED { Index::new(bytes) } else { None };
    for line in chunk::lines(bytes, index.as_ref()) {
        before();
        if each(line, fold.parse_in(index.as_ref(), line)).is_break() {
            return Read::Validated { complete: false };
        }
    }
    Read::Validated { complete: true }
}

/// The largest `ts` among the events a state has folded, as far as it is known. A fold learns it
/// only when asked to (see [`Until::track_ts`]): a stretch folded without looking at its `ts`
/// leaves it unknown for good, whatever is folded after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MaxTs {
    /// Some events were folded without their `ts` being looked at.
    Unknown,
    /// The largest `ts` folded (`None`: no event was folded).
    Known(Option<u64>),
}

impl Default for MaxTs {
    fn default() -> Self {
        MaxTs::EMPTY
    }
}

impl MaxTs {
    /// No event folded yet.
    pub const EMPTY: MaxTs = MaxTs::Known(None);

    /// What a fold of `events` events knows: `max` if it tracked `ts`.
    pub fn of_fold(events: u64, tracked: bool, max: Option<u64>) -> MaxTs {
        match (events, tracked) {
            (0, _) => MaxTs::EMPTY,
            (_, true) => MaxTs::Known(max),
            (_, false) => MaxTs::Unknown,
        }
    }

    /// The events of `self`, then those of `later`.
    pub fn then(self, later: MaxTs) -> MaxTs {
        match (self, later) {
            (MaxTs::Known(a), MaxTs::Known(b)) => MaxTs::Known(a.max(b)),
            _ => MaxTs::Unknown,
        }
    }

    /// What a checkpoint or a snapshot of `events` events recorded: there, `None` means unknown
    /// unless no event was folded.
    pub fn from_record(events: u64, max_ts: Option<u64>) -> MaxTs {
        match (events, max_ts) {
            (0, _) => MaxTs::EMPTY,
            (_, Some(max)) => MaxTs::Known(Some(max)),
            (_, None) => MaxTs::Unknown,
        }
    }

    /// What a checkpoint or a snapshot records (see [`from_record`](MaxTs::from_record)).
    pub fn record(self) -> Option<u64> {
        match self {
            MaxTs::Known(max) => max,
            MaxTs::Unknown => None,
        }
    }

    /// Whether every event folded is known to be stamped at or before `ts`.
    pub fn at_or_before(self, ts: u64) -> bool {
        match self {
            MaxTs::Known(max) => max.is_none_or(|max| max <= ts),
            MaxTs::Unknown => false,
        }
    }
}

/// The outcome of folding one buffer.
pub(crate) struct BufFold<A> {
    pub acc: A,
    /// Offset just past the last line folded, and that line, if any was.
    pub last: Option<(usize, std::ops::Range<usize>)>,
    /// Start and reason of the line that stopped the fold.
    pub bad: Option<(usize, ParseError)>,
    /// Events folded.
    pub events: u64,
    /// Whether the fold ended at its [`Stop`] rather than at the end of the buffer or a bad line.
    pub stopped: bool,
    /// The largest `ts` folded, when asked for.
    pub max_ts: Option<u64>,
    /// The chunks validated from [`Trust::hash_from`] on, in order, with their hashes.
    pub validated: Vec<Block>,
}

impl<A> BufFold<Option<A>> {
    /// The fold with its accumulator back in place.
    fn unwrap(self) -> BufFold<A> {
        BufFold {
            acc: self.acc.expect("the accumulator is back"),
            last: self.last,
            bad: self.bad,
            events: self.events,
            stopped: self.stopped,
            max_ts: self.max_ts,
            validated: self.validated,
        }
    }
}

impl<A> BufFold<A> {
    fn start(acc: A) -> Self {
        BufFold {
            acc,
            last: None,
            bad: None,
            events: 0,
            stopped: false,
            max_ts: None,
            validated: Vec::new(),
        }
    }
}

/// How many of `items`, folded after `events` others, a fold with `until` takes.
fn take<A, F: LineFold<A>>(fold: &F, items: &[F::Item<'_>], events: u64, until: Until) -> usize {
    match until.stop {
        Stop::Never => items.len(),
        Stop::After(n) => items.len().min(n.saturating_sub(events) as usize),
        Stop::TsAbove(ts) => items
            .iter()
            .position(|item| fold.ts(item) > ts)
            .unwrap_or(items.len()),
    }
}

/// Whether a fold with `until` that folded `events` events has reached its stop.
fn reached(until: Until, events: u64) -> bool {
    matches!(until.stop, Stop::After(n) if events >= n)
}

/// Folds the complete lines of `buf`, choosing the sequential or the parallel path, and runs
/// `side` meanwhile: the work that prepares the next buffer (mapping it, decompressing it) or
/// releases the last one.
///
/// The parallel path uses as many threads as [`default_threads`], the calling thread
/// included; with one, or for a small buffer, the fold is sequential.
///
/// On the parallel path a helper runs `side` first and then joins the parsing, whose chunks
/// are claimed dynamically, so the side job costs the fold about half its time instead of all
/// of it. On the sequential path `side` runs first, on the calling thread, so that what it
/// releases is gone before this buffer is read.
pub(crate) fn fold_buf<A, F, T>(
    buf: &[u8],
    acc: A,
    fold: &F,
    side: impl FnOnce() -> T + Send,
) -> (BufFold<A>, T)
where
    F: LineFold<A>,
    T: Send,
{
    fold_buf_until(
        buf,
        acc,
        fold,
        (Until::END, default_threads()),
        Trust::NONE,
        side,
    )
}

/// How many threads a replay uses unless told otherwise: inside a rayon pool (an embedder's
/// `install`, or a worker of the global pool), as many as that pool has; elsewhere as many
/// as rayon's global pool would have, `RAYON_NUM_THREADS` if set, else the CPUs this process
/// may use. The fold's helpers are threads of its own, never the pool's workers, so a fold
/// run from a pool whose other workers are all busy does not wait for them.
///
/// Outside a pool, the global pool is not asked: asking starts it, and when the system
/// refuses its threads (a limit on processes, say) rayon panics, there and at every later
/// ask, where a fold can go on with the threads it gets.
pub(crate) fn default_threads() -> usize {
    if rayon::current_thread_index().is_some() {
        return rayon::current_num_threads();
    }
    threads_outside_pools()
}

/// [`default_threads`] outside a rayon pool, read once per process.
fn threads_outside_pools() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| {
        let set = std::env::var("RAYON_NUM_THREADS")
            .ok()
            .and_then(|n| n.trim().parse::<usize>().ok())
            .filter(|&n| n > 0);
        set.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
    })
}

/// `job` applied to each of `items`, on at most `threads` threads (the calling one
/// included), each taking the next item not yet taken; the results in the items' order. A
/// thread the system refuses to start is done without: the calling thread does its share.
pub(crate) fn map_on_threads<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    job: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let at = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(at) else {
                return done;
            };
            done.push((at, job(item)));
        }
    };
    let helpers = threads.min(items.len()).saturating_sub(1);
    let mut done = std::thread::scope(|scope| {
        let started: Vec<_> = (0..helpers)
            .map_while(|_| spawn_scoped(scope, work))
            .collect();
        let mut done = work();
        for helper in started {
            match helper.join() {
                Ok(theirs) => done.extend(theirs),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        done
    });
    done.sort_unstable_by_key(|(at, _)| *at);
    done.into_iter().map(|(_, result)| result).collect()
}

/// [`fold_buf`], stopping where `until` says, on at most `threads` threads (the calling one
/// included), reading the blocks `trust` names trusted.
pub(crate) fn fold_buf_until<A, F, T>(
    buf: &[u8],
    acc: A,
    fold: &F,
    (until, threads): (Until, usize),
    trust: Trust<'_>,
    side: impl FnOnce() -> T + Send,
) -> (BufFold<A>, T)
where
    F: LineFold<A>,
    T: Send,
{
    let min = if F::OWNS_MEMORY {
        OWNED_PARALLEL_MIN
    } else {
        PARALLEL_MIN
    };
    if buf.len() < min || threads < 2 {
        let side = side();
        (fold_sequential(buf, acc, fold, until, trust), side)
    } else {
        let chunk = if F::OWNS_MEMORY { OWNED_CHUNK } else { CHUNK };
        fold_threads(buf, acc, fold, until, trust, chunk, threads - 1, side)
    }
}

/// The reference path: one line after another on the calling thread, a chunk at a time.
pub(crate) fn fold_sequential<A, F: LineFold<A>>(
    buf: &[u8],
    acc: A,
    fold: &F,
    until: Until,
    trust: Trust<'_>,
) -> BufFold<A> {
    // The accumulator is out only while a line is reduced.
    let mut done = BufFold::start(Some(acc));
    if reached(until, 0) {
        done.stopped = true;
        return done.unwrap();
    }
    let window = if F::INDEXED { CHUNK } else { buf.len().max(1) };
    for chunk in plan(buf, window, trust, F::TRUSTS) {
        let base = chunk.range.start;
        let bytes = &buf[chunk.range.clone()];
        if let Some(text) = trusted_text(bytes, chunk.seal) {
            // On one thread there is nothing to share: each line is located and parsed once, as
            // it is folded (the chunk's bytes classified at once: each line's end and its type's
            // end are then looked up, not scanned for).
            let index = Index::of_text(text);
            let lines = chunk::located_lines(text.as_bytes(), index.as_ref());
            step_trusted(&mut done, fold, until, base, text, lines, None);
            if done.bad.is_some() || done.stopped {
                return done.unwrap();
            }
            continue;
        }
        let read = for_each_line(
            fold,
            bytes,
            chunk.seal,
            || (),
            #[inline(always)]
            |line, item| step(&mut done, fold, until, base, line, item),
        );
        if done.bad.is_some() || done.stopped {
            return done.unwrap();
        }
        if chunk.hash && read == (Read::Validated { complete: true }) {
            done.validated.push(Block {
                start: trust.base + chunk.range.start as u64,
                end: trust.base + chunk.range.end as u64,
                hash: trusted::block_hash(bytes),
            });
        }
    }
    done.unwrap()
}

/// Folds one parsed line (`line` of the chunk at `base`) into `done`, or records why the fold
/// stops there: the per-line step of the sequential fold, and of the parallel one over chunks
/// it reads on the reducing thread.
#[inline(always)]
fn step<'b, A, F: LineFold<A>>(
    done: &mut BufFold<Option<A>>,
    fold: &F,
    until: Until,
    base: usize,
    line: Line<'b>,
    item: Result<F::Item<'b>, ParseError>,
) -> ControlFlow<()> {
    let start = base + line.start;
    match item {
        Ok(item) => {
            if let Stop::TsAbove(ts) = until.stop
                && fold.ts(&item) > ts
            {
                done.stopped = true;
                return ControlFlow::Break(());
            }
            if until.track_ts {
                let ts = fold.ts(&item);
                done.max_ts = Some(done.max_ts.map_or(ts, |max| max.max(ts)));
            }
            let acc = done.acc.take().expect("the accumulator is back");
            done.acc = Some(fold.reduce(acc, &item));
            done.events += 1;
        }
        Err(reason) => {
            done.bad = Some((start, reason));
            return ControlFlow::Break(());
        }
    }
    done.last = Some((base + line.end(), start..start + line.bytes.len()));
    if reached(until, done.events) {
        done.stopped = true;
        return ControlFlow::Break(());
    }
    ControlFlow::Continue(())
}

/// Reads the lines of `text`, a chunk at `base` whose bytes the thread that claimed it found
/// sealed (see [`trusted_text`]), trusted, and folds them into `done` until one stops the fold:
/// `lines` are its lines with where their types end ([`chunk::located_lines`]), and `prepared`
/// the lines that thread made ahead ([`LineFold::prepare`]), if it did.
#[inline]
fn step_trusted<'b, A, F: LineFold<A>>(
    done: &mut BufFold<Option<A>>,
    fold: &F,
    until: Until,
    base: usize,
    text: &'b str,
    lines: impl Iterator<Item = (Line<'b>, Option<usize>)>,
    prepared: Option<Prepared<'_, F::Item<'b>>>,
) {
    let line_text = |line: Line<'b>| text.get(line.start..line.start + line.bytes.len());
    match prepared.filter(|_| F::PREPARES) {
        Some(Prepared {
            lines: prepared,
            spent,
        }) => {
            let mut prepared = prepared.into_iter().peekable();
            // Where the next prepared line starts: the others are reduced as they are located.
            let next_at = |prepared: &mut std::iter::Peekable<_>| {
                prepared
                    .peek()
                    .map_or(usize::MAX, |ready: &Ready<_>| ready.at)
            };
            let next = std::cell::Cell::new(next_at(&mut prepared));
            fold_trusted(
                done,
                fold,
                until,
                base,
                lines,
                #[inline(always)]
                |acc, line: Line<'b>, type_end| match line_text(line) {
                    Some(text) if line.start != next.get() => {
                        fold.reduce_unprepared(acc, text, type_end)
                    }
                    _ => Err(acc),
                },
                #[inline(always)]
                |line, type_end| match prepared.next_if(|ready| ready.at == line.start) {
                    Some(ready) => {
                        next.set(next_at(&mut prepared));
                        ready.item
                    }
                    None => match line_text(line) {
                        Some(text) => fold.parse_unprepared(text, type_end),
                        None => fold.parse(line.bytes),
                    },
                },
                |item| spent.push(item),
            );
        }
        None => fold_trusted(
            done,
            fold,
            until,
            base,
            lines,
            #[inline(always)]
            |acc, line, type_end| match line_text(line) {
                Some(text) => fold.reduce_located(acc, text, type_end),
                None => Err(acc),
            },
            #[inline(always)]
            |line, type_end| match line_text(line) {
                Some(text) => fold.parse_located(text, type_end),
                None => fold.parse(line.bytes),
            },
            drop,
        ),
    }
}

/// The lines of a sealed chunk that [`LineFold::prepare`] made ahead, for [`step_trusted`],
/// and where the items made of them go once reduced: back to the thread that made them, with
/// the chunk, to be freed there (a free of memory another thread allocated takes glibc's
/// slower path).
struct Prepared<'s, T> {
    lines: Vec<Ready<T>>,
    spent: &'s mut Vec<T>,
}

/// [`step_trusted`]'s loop over `lines`: each reduced by `located` (given the line and where
/// its type ends) when the type ends plainly and nothing stops the fold between lines, and
/// parsed by `item` otherwise (or when `located` gives the accumulator back); an item reduced
/// in the whole-rebuild loop is handed to `retire`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn fold_trusted<'b, A, F: LineFold<A>>(
    done: &mut BufFold<Option<A>>,
    fold: &F,
    until: Until,
    base: usize,
    lines: impl Iterator<Item = (Line<'b>, Option<usize>)>,
    mut located: impl FnMut(A, Line<'b>, usize) -> Result<A, A>,
    mut item: impl FnMut(Line<'b>, Option<usize>) -> Result<F::Item<'b>, ParseError>,
    mut retire: impl FnMut(F::Item<'b>),
) {
    if until.stop == Stop::Never && !until.track_ts {
        // Nothing to look at between lines (the whole rebuild's case): the accumulator stays
        // out, and where the fold got to is written once, after the last line.
        let mut acc = done.acc.take().expect("the accumulator is back");
        let (mut events, mut last) = (0, None);
        for (line, type_end) in lines {
            if let Some(type_end) = type_end {
                match located(acc, line, type_end) {
                    Ok(reduced) => {
                        acc = reduced;
                        events += 1;
                        last = Some(line);
                        continue;
                    }
                    Err(back) => acc = back,
                }
            }
            // Read in place: moving the parsed line out of its `Result` copies it.
            let parsed = item(line, type_end);
            match &parsed {
                Ok(item) => acc = fold.reduce(acc, item),
                Err(_) => {
                    done.bad = parsed.err().map(|reason| (base + line.start, reason));
                    break;
                }
            }
            if let Ok(item) = parsed {
                retire(item);
            }
            events += 1;
            last = Some(line);
        }
        done.acc = Some(acc);
        done.events += events;
        if let Some(line) = last {
            let start = base + line.start;
            done.last = Some((base + line.end(), start..start + line.bytes.len()));
        }
        return;
    }
    for (line, type_end) in lines {
        if step(done, fold, until, base, line, item(line, type_end)).is_break() {
            return;
        }
    }
}

/// One parsed chunk.
struct Parsed<'b, T> {
    items: Vec<T>,
    /// The chunk as text when its bytes hash to its seal: its lines are then parsed on the
    /// reducing thread as it folds them (finding a line's type costs less than handing an
    /// item over), from `located`, and `items` is empty.
    text: Option<&'b str>,
    /// With `text`, its lines and where their types end, located by the thread that claimed
    /// the chunk: 12 bytes a line, where the reducing thread would spend 20-25 ns a line
    /// finding them.
    located: Vec<Located>,
    /// With `text`, the lines the fold made ahead ([`LineFold::prepare`]).
    prepared: Vec<Ready<T>>,
    /// Those lines once reduced, handed back with the chunk to be freed by the thread that
    /// made them.
    spent: Vec<T>,
    last: Option<(usize, std::ops::Range<usize>)>,
    bad: Option<(usize, ParseError)>,
    /// The chunk's hash, when it was to be hashed and every line was validated.
    hash: Option<u64>,
}

/// A line of a sealed chunk and where its type ends, as [`chunk::located_lines`] finds them.
#[derive(Clone, Copy)]
struct Located {
    start: u32,
    len: u32,
    /// Where the line's type ends, or [`Located::NO_TYPE_END`] where it could not be located.
    type_end: u32,
}

impl Located {
    const NO_TYPE_END: u32 = u32::MAX;

    /// Locates the lines of `text`, a sealed chunk (smaller than 4 GiB), into `out`.
    fn all(text: &str, out: &mut Vec<Located>) {
        let index = Index::of_text(text);
        out.extend(chunk::located_lines(text.as_bytes(), index.as_ref()).map(
            |(line, type_end)| Located {
                start: line.start as u32,
                len: line.bytes.len() as u32,
                type_end: type_end.map_or(Self::NO_TYPE_END, |end| end as u32),
            },
        ));
    }

    /// The line in `text`, the chunk it was located in, and where its type ends.
    #[inline(always)]
    fn line(self, text: &str) -> (Line<'_>, Option<usize>) {
        let start = self.start as usize;
        let line = Line {
            start,
            bytes: &text.as_bytes()[start..start + self.len as usize],
        };
        let type_end = (self.type_end != Self::NO_TYPE_END).then_some(self.type_end as usize);
        (line, type_end)
    }
}

/// The items of chunks already reduced, handed back to the thread that parsed them, and a
/// vector to parse the next chunk into.
///
/// Owned retired items are dropped one before each new item is parsed, not all at once: what
/// one event frees, the next one allocates again, much as in the sequential fold, where each
/// event is dropped once reduced. Thousands of events freed in one go, then as many allocated,
/// overflow the allocator's per-thread caches (glibc's keeps 7 blocks of a size): a compat
/// fold on two threads spent two thirds of its extra CPU time in glibc's slower paths.
struct Recycler<T> {
    retired: Vec<T>,
    /// Empty; its capacity is reused (a fresh vector per chunk would be a large allocation,
    /// mapped and faulted in every time).
    spare: Vec<T>,
    /// The same for the located lines of sealed chunks.
    spare_located: Vec<Located>,
    /// Whether items are retired to be dropped one by one; when they free next to nothing
    /// (borrowed items), they are dropped at once and their vector is the next spare, which
    /// keeps one vector in the cache instead of two.
    gradual: bool,
}

impl<T> Recycler<T> {
    fn new(gradual: bool) -> Self {
        Recycler {
            retired: Vec::new(),
            spare: Vec::new(),
            spare_located: Vec::new(),
            gradual,
        }
    }

    /// Takes back a reduced chunk.
    fn give_back(&mut self, parsed: Parsed<'_, T>) {
        let mut located = parsed.located;
        if located.capacity() > self.spare_located.capacity() {
            located.clear();
            self.spare_located = located;
        }
        self.give(parsed.items);
    }

    /// Takes back the items of a reduced chunk.
    fn give(&mut self, mut items: Vec<T>) {
        if !self.gradual {
            items.clear();
        } else if self.retired.is_empty() {
            std::mem::swap(&mut self.retired, &mut items);
        } else {
            self.retired.append(&mut items);
        }
        // `items` is empty now: keep the larger of the two empty vectors.
        if items.capacity() > self.spare.capacity() {
            self.spare = items;
        }
    }
}

/// Parses the lines of a chunk of `buf` into the recycler's spare vector, dropping one of its
/// retired items before each line.
fn parse_chunk<'b, A, F: LineFold<A>>(
    buf: &'b [u8],
    chunk: &Chunk<'b>,
    fold: &F,
    recycler: &mut Recycler<F::Item<'b>>,
) -> Parsed<'b, F::Item<'b>> {
    let base = chunk.range.start;
    let mut items = std::mem::take(&mut recycler.spare);
    items.clear();
    let mut parsed = Parsed {
        items,
        text: None,
        located: Vec::new(),
        prepared: Vec::new(),
        spent: Vec::new(),
        last: None,
        bad: None,
        hash: None,
    };
    let bytes = &buf[chunk.range.clone()];
    if let Some(text) = trusted_text(bytes, chunk.seal) {
        parsed.text = Some(text);
        parsed.located = std::mem::take(&mut recycler.spare_located);
        Located::all(text, &mut parsed.located);
        if F::PREPARES {
            let lines = parsed.located.iter().map(|at| at.line(text));
            parsed.prepared = fold.prepare(text, lines);
        }
        return parsed;
    }
    let retired = &mut recycler.retired;
    let before = || drop(retired.pop());
    let read = for_each_line(
        fold,
        bytes,
        chunk.seal,
        before,
        #[inline(always)]
        |line, item| {
            let start = base + line.start;
            match item {
                Ok(item) => parsed.items.push(item),
                Err(reason) => {
                    parsed.bad = Some((start, reason));
                    return ControlFlow::Break(());
                }
            }
            parsed.last = Some((base + line.end(), start..start + line.bytes.len()));
            ControlFlow::Continue(())
        },
    );
    if chunk.hash && read == (Read::Validated { complete: true }) {
        parsed.hash = Some(trusted::block_hash(bytes));
    }
    parsed
}

/// Cuts `buf` into ranges of about `chunk` bytes, each ending just after a newline (the last
/// range ends at `buf.len()`).
fn chunk_ranges(buf: &[u8], chunk: usize) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::with_capacity(buf.len() / chunk + 1);
    let mut start = 0;
    while start < buf.len() {
        let target = (start + chunk).min(buf.len());
        let end = match memchr::memchr(b'\n', &buf[target..]) {
            Some(i) => target + i + 1,
            None => buf.len(),
        };
        ranges.push(start..end);
        start = end;
    }
    ranges
}

/// The shortest wait for a helper's chunk before the reducing thread parses it itself.
const MIN_PATIENCE: Duration = Duration::from_micros(100);

/// How many chunks past the one being reduced may be claimed for parsing, per thread.
const LOOKAHEAD_PER_THREAD: usize = 3;

/// What the threads of one parallel fold share.
struct Shared {
    /// The next chunk nobody has claimed yet.
    next: AtomicUsize,
    /// Chunks below this may be claimed; raised as chunks are reduced.
    limit: Mutex<usize>,
    /// Signalled when `limit` rises or the fold stops.
    raised: Condvar,
    /// Set when no more chunks should be claimed: a bad line was found, or the fold ended.
    stop: AtomicBool,
}

impl Shared {
    /// Claims the next chunk, waiting while it lies beyond the look-ahead limit. `None` once
    /// every chunk is claimed or the fold stopped.
    fn claim(&self, count: usize) -> Option<usize> {
        if self.stop.load(Ordering::Relaxed) {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        if i >= count {
            return None;
        }
        let mut limit = self.limit.lock().unwrap_or_else(PoisonError::into_inner);
        while i >= *limit && !self.stop.load(Ordering::Relaxed) {
            limit = self
                .raised
                .wait(limit)
                .unwrap_or_else(PoisonError::into_inner);
        }
        // A claimed chunk is parsed even after a stop: the reducer may still be waiting for it.
        Some(i)
    }

    /// Claims the next chunk if it lies within the limit, without waiting.
    fn try_claim(&self, count: usize, limit: usize) -> Option<usize> {
        let mut i = self.next.load(Ordering::Relaxed);
        loop {
            if i >= count || i >= limit || self.stop.load(Ordering::Relaxed) {
                return None;
            }
            match self
                .next
                .compare_exchange_weak(i, i + 1, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Some(i),
                Err(now) => i = now,
            }
        }
    }

    fn raise(&self, to: usize) {
        *self.limit.lock().unwrap_or_else(PoisonError::into_inner) = to;
        self.raised.notify_all();
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        let _guard = self.limit.lock().unwrap_or_else(PoisonError::into_inner);
        self.raised.notify_all();
    }
}

/// Stops the helpers when the reducing thread leaves the fold, returning or unwinding (a
/// panicking reducer must not leave helpers waiting for a limit that never rises).
struct StopOnDrop<'s>(&'s Shared);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// Starts a helper thread of a fold (a parser, a decompressor) in `scope`; `None` when the
/// system refuses one (a limit on threads, say): the fold then goes on with fewer threads,
/// doing their share itself, rather than fail.
pub(crate) fn spawn_scoped<'scope, T: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    job: impl FnOnce() -> T + Send + 'scope,
) -> Option<std::thread::ScopedJoinHandle<'scope, T>> {
    if refused() {
        return None;
    }
    std::thread::Builder::new().spawn_scoped(scope, job).ok()
}

/// Starts a helper thread named `name` that outlives the call; `None` when the system refuses
/// one, as for [`spawn_scoped`].
pub(crate) fn spawn<T: Send + 'static>(
    name: &str,
    job: impl FnOnce() -> T + Send + 'static,
) -> Option<std::thread::JoinHandle<T>> {
    if refused() {
        return None;
    }
    std::thread::Builder::new()
        .name(name.into())
        .spawn(job)
        .ok()
}

#[cfg(test)]
thread_local! {
    /// How many more helper threads this thread is refused (see [`refuse_threads`]).
    static REFUSED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Whether the helper thread being started is refused, as a system out of threads would.
#[inline]
fn refused() -> bool {
    #[cfg(test)]
    {
        let left = REFUSED.get();
        if left > 0 {
            REFUSED.set(left - 1);
            return true;
        }
    }
    false
}

/// Refuses the next `count` helper threads this thread starts, as a system out of threads
/// would (`usize::MAX`: all of them), until the guard is dropped.
#[cfg(test)]
pub(crate) fn refuse_threads(count: usize) -> RefusingThreads {
    REFUSED.set(count);
    RefusingThreads
}

#[cfg(test)]
pub(crate) struct RefusingThreads;

#[cfg(test)]
impl Drop for RefusingThreads {
    fn drop(&mut self) {
        REFUSED.set(0);
    }
}

/// The parallel path. Every thread claims the lowest unclaimed chunk and parses it; the
/// calling thread reduces the chunks in order, and parses chunks itself whenever the next one
/// to reduce is not ready, so the work balances between parsing and reducing whatever the
/// reducer costs. At most a few chunks per thread are claimed ahead of the reducer, which
/// bounds memory. Chunks a helper parsed go back to it once reduced, to be freed (or reused)
/// on the thread that allocated them. The first helper to start runs `side` before it starts
/// parsing; `helpers` must be at least one. A helper the system refuses to start is done
/// without: this thread parses what no helper claims, and runs `side` itself if none started.
#[allow(clippy::too_many_arguments)]
pub(crate) fn fold_threads<A, F, T>(
    buf: &[u8],
    mut acc: A,
    fold: &F,
    until: Until,
    trust: Trust<'_>,
    chunk: usize,
    helpers: usize,
    side: impl FnOnce() -> T + Send,
) -> (BufFold<A>, T)
where
    F: LineFold<A>,
    T: Send,
{
    assert!(helpers > 0, "the parallel fold needs a helper thread");
    use std::collections::VecDeque;
    use std::sync::mpsc;

    let ranges = plan(buf, chunk, trust, F::TRUSTS);
    let count = ranges.len();
    let mut validated = Vec::new();
    let lookahead = LOOKAHEAD_PER_THREAD * (helpers + 1);
    let shared = Shared {
        next: AtomicUsize::new(0),
        limit: Mutex::new(lookahead),
        raised: Condvar::new(),
        stop: AtomicBool::new(false),
    };
    let mut last = None;
    let (mut events, mut max_ts, mut stopped) = (0u64, None, false);
    if reached(until, 0) {
        let mut done = BufFold::start(acc);
        done.stopped = true;
        return (done, side());
    }
    // The side job, until a helper takes it, and its result.
    let (side, side_result) = (Mutex::new(Some(side)), Mutex::new(None));
    std::thread::scope(|scope| {
        let (result_tx, results) = mpsc::channel::<(usize, usize, Parsed<'_, F::Item<'_>>)>();
        let mut returns = Vec::with_capacity(helpers);
        let mut started = Vec::with_capacity(helpers);
        let (side, side_result) = (&side, &side_result);
        for lane in 1..=helpers {
            let (return_tx, return_rx) = mpsc::channel::<Parsed<'_, F::Item<'_>>>();
            let (ranges, shared, result_tx) = (&ranges, &shared, result_tx.clone());
            let helper = spawn_scoped(scope, move || {
                let job = side.lock().unwrap_or_else(PoisonError::into_inner).take();
                if let Some(job) = job {
                    let result = job();
                    *side_result.lock().unwrap_or_else(PoisonError::into_inner) = Some(result);
                }
                let mut recycler = Recycler::new(F::OWNS_MEMORY);
                while let Some(i) = shared.claim(count) {
                    while let Ok(done) = return_rx.try_recv() {
                        recycler.give_back(done);
                    }
                    let parsed = parse_chunk(buf, &ranges[i], fold, &mut recycler);
                    if parsed.bad.is_some() {
                        shared.stop.store(true, Ordering::Relaxed);
                    }
                    if result_tx.send((i, lane, parsed)).is_err() {
                        break;
                    }
                }
                drop(result_tx);
                // Free what the reducer hands back until it is done.
                while let Ok(done) = return_rx.recv() {
                    drop(done);
                }
            });
            // A helper that did not start (the system refused a thread) claims nothing: this
            // thread parses its share. Its lane keeps its place, so that lanes index `returns`.
            if let Some(helper) = helper {
                started.push(helper);
            }
            returns.push(return_tx);
        }
        drop(result_tx);
        let stop = StopOnDrop(&shared);

        // `ready[k]` holds chunk `want + k` once parsed, with the lane that parsed it.
        let mut ready: VecDeque<Option<(usize, Parsed<'_, F::Item<'_>>)>> = VecDeque::new();
        let mut recycler = Recycler::new(F::OWNS_MEMORY);
        let mut want = 0;
        // How long this thread took to parse its last chunk.
        let mut pace = MIN_PATIENCE;
        let bad = 'reduce: {
            while want < count {
                let (lane, mut parsed) = match ready.front_mut().and_then(Option::take) {
                    Some(found) => found,
                    None => {
                        // Collect what the helpers finished; parse a chunk here if none is the next.
                        let patience = (pace * 2).max(MIN_PATIENCE);
                        let mut parse_here = |i: usize, recycler: &mut Recycler<_>| {
                            let started = Instant::now();
                            let parsed = parse_chunk(buf, &ranges[i], fold, recycler);
                            pace = started.elapsed();
                            (i, 0, parsed)
                        };
                        let (i, lane, parsed) = match results.try_recv() {
                            Ok(got) => got,
                            Err(_) => match shared.try_claim(count, want + lookahead) {
                                Some(i) => parse_here(i, &mut recycler),
                                // The next chunk is in a helper's hands and nothing more may be
                                // claimed. Wait twice as long as this thread takes to parse a
                                // chunk; a helper slower than that is stalled (its CPU taken by
                                // another program, say), so the chunk is parsed here too, and
                                // the helper's copy is dropped when it comes. (Waiting only as
                                // long as one chunk takes overtook helpers that were about to
                                // finish, and cost time.) With no helper left, which only a
                                // panic in one can cause, this thread goes on alone.
                                None => match results.recv_timeout(patience) {
                                    Ok(got) => got,
                                    Err(_) => parse_here(want, &mut recycler),
                                },
                            },
                        };
                        if i < want {
                            // A stalled helper's copy of a chunk parsed here since.
                            let _ = returns[lane - 1].send(parsed);
                            continue;
                        }
                        let slot = i - want;
                        if ready.len() <= slot {
                            ready.resize_with(slot + 1, || None);
                        }
                        ready[slot] = Some((lane, parsed));
                        continue;
                    }
                };
                ready.pop_front();
                want += 1;
                if let Some(hash) = parsed.hash {
                    let range = &ranges[want - 1].range;
                    validated.push(Block {
                        start: trust.base + range.start as u64,
                        end: trust.base + range.end as u64,
                        hash,
                    });
                }
                if let Some(text) = parsed.text {
                    let mut done = BufFold::start(Some(acc));
                    (done.events, done.max_ts) = (events, max_ts);
                    let base = ranges[want - 1].range.start;
                    let prepared = Prepared {
                        lines: std::mem::take(&mut parsed.prepared),
                        spent: &mut parsed.spent,
                    };
                    let lines = parsed.located.iter().map(|at| at.line(text));
                    step_trusted(&mut done, fold, until, base, text, lines, Some(prepared));
                    if done.last.is_some() {
                        last = done.last.take();
                    }
                    (events, max_ts, stopped) = (done.events, done.max_ts, done.stopped);
                    let bad = done.bad.take();
                    acc = done.unwrap().acc;
                    if lane == 0 {
                        recycler.give_back(parsed);
                    } else {
                        let _ = returns[lane - 1].send(parsed);
                    }
                    if stopped || bad.is_some() {
                        break 'reduce bad;
                    }
                    shared.raise(want + lookahead);
                    continue;
                }
                let n = take(fold, &parsed.items, events, until);
                let items = &parsed.items[..n];
                if until.track_ts {
                    max_ts = items
                        .iter()
                        .map(|item| fold.ts(item))
                        .fold(max_ts, |max, ts| {
                            Some(max.map_or(ts, |max: u64| max.max(ts)))
                        });
                }
                for item in items {
                    acc = fold.reduce(acc, item);
                }
                events += n as u64;
                if n < parsed.items.len() || reached(until, events) {
                    // Stopped inside this chunk (or at its end): the last line folded is its
                    // `n`th, if it folded any.
                    if n > 0 {
                        let range = ranges[want - 1].range.clone();
                        let base = range.start;
                        let line = crate::format::lines::Lines::new(&buf[range])
                            .nth(n - 1)
                            .expect("parsed lines");
                        let start = base + line.start;
                        last = Some((base + line.end(), start..start + line.bytes.len()));
                    }
                    stopped = true;
                    if lane > 0 {
                        let _ = returns[lane - 1].send(parsed);
                    }
                    break 'reduce None;
                }
                if parsed.last.is_some() {
                    last = parsed.last.clone();
                }
                let bad = parsed.bad.clone();
                if lane == 0 {
                    recycler.give_back(parsed);
                } else {
                    let _ = returns[lane - 1].send(parsed);
                }
                if bad.is_some() {
                    break 'reduce bad;
                }
                shared.raise(want + lookahead);
            }
            None
        };
        // Release the helpers (a waiting one wakes to the stop, the others see their return
        // channel close), then collect the side job's result.
        drop(stop);
        drop(returns);
        drop(ready);
        for helper in started {
            if let Err(panic) = helper.join() {
                std::panic::resume_unwind(panic);
            }
        }
        let side_result = match side_result
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            Some(result) => result,
            // No helper started, so the side job is still here.
            None => {
                let job = side.lock().unwrap_or_else(PoisonError::into_inner).take();
                job.expect("a side job that no helper took")()
            }
        };
        let done = BufFold {
            acc,
            last,
            bad,
            events,
            stopped,
            max_ts,
            validated,
        };
        (done, side_result)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sums the `ts` of every event and records the order, so order matters to the result.
    struct Trace;

    impl LineFold<Vec<u64>> for Trace {
        type Item<'b> = EventRef<'b>;
        const OWNS_MEMORY: bool = false;
        fn parse<'b>(&self, line: &'b [u8]) -> Result<EventRef<'b>, ParseError> {
            EventRef::parse_line(line)
        }
        fn reduce(&self, mut acc: Vec<u64>, item: &EventRef<'_>) -> Vec<u64> {
            acc.push(item.ts());
            acc
        }
        fn ts(&self, item: &EventRef<'_>) -> u64 {
            item.ts()
        }
    }

    /// Records each event's `ts` and whether it was read trusted.
    struct TrustTrace;

    impl LineFold<Vec<(u64, bool)>> for TrustTrace {
        type Item<'b> = (u64, bool);
        const OWNS_MEMORY: bool = false;
        fn parse(&self, line: &[u8]) -> Result<(u64, bool), ParseError> {
            EventRef::parse_line(line).map(|e| (e.ts(), false))
        }
        const TRUSTS: bool = true;
        fn parse_trusted(&self, line: &str) -> Result<(u64, bool), ParseError> {
            EventRef::parse_trusted(line).map(|e| (e.ts(), true))
        }
        fn reduce(&self, mut acc: Vec<(u64, bool)>, item: &(u64, bool)) -> Vec<(u64, bool)> {
            acc.push(*item);
            acc
        }
        fn ts(&self, item: &(u64, bool)) -> u64 {
            item.0
        }
    }

    /// Blocks of `per` lines each over `buf` (at file offset `base`), with their hashes.
    fn blocks_of(buf: &[u8], base: u64, per: usize) -> Vec<Block> {
        let ends: Vec<usize> = memchr::memchr_iter(b'\n', buf).map(|i| i + 1).collect();
        let mut blocks = Vec::new();
        let mut start = 0;
        for end in ends.iter().skip(per - 1).step_by(per) {
            blocks.push(Block {
                start: base + start as u64,
                end: base + *end as u64,
                hash: trusted::block_hash(&buf[start..*end]),
            });
            start = *end;
        }
        blocks
    }

    use crate::format::lines;

    #[test]
    fn matching_blocks_are_read_trusted_and_the_rest_validated_on_every_path() {
        let buf = log(400, None);
        let base = 1000;
        let mut blocks = blocks_of(&buf, base, 37);
        // A block whose bytes changed, one that does not start at a line, one past the buffer.
        blocks[2].hash ^= 1;
        blocks[5].start += 3;
        blocks.push(Block {
            start: base + buf.len() as u64,
            end: base + buf.len() as u64 + 10,
            hash: 0,
        });
        let lines_of = |block: &Block| {
            let (s, e) = ((block.start - base) as usize, (block.end - base) as usize);
            lines::count_events(&buf[s..e]) as usize
        };
        let expected: Vec<(u64, bool)> = {
            let mut trusted = vec![false; 400];
            let mut line = 0;
            for (i, block) in blocks[..blocks.len() - 1].iter().enumerate() {
                let n = if i == 5 {
                    lines_of(&Block {
                        start: block.start - 3,
                        ..*block
                    })
                } else {
                    lines_of(block)
                };
                if i != 2 && i != 5 {
                    trusted[line..line + n].iter_mut().for_each(|t| *t = true);
                }
                line += n;
            }
            (0..400).map(|i| (i, trusted[i as usize])).collect()
        };
        // Where the blocks end: what follows is validated and hashed.
        let hash_from = blocks[blocks.len() - 2].end;
        let trust = Trust {
            base,
            blocks: &blocks,
            hash_from: Some(hash_from),
            checked: false,
            text: None,
        };
        let check = |done: &BufFold<Vec<(u64, bool)>>, path: &str| {
            assert_eq!(done.acc, expected, "{path}");
            assert!(done.bad.is_none() && !done.stopped, "{path}");
            // What was validated from `hash_from` on follows on to the end, hashed right.
            assert_eq!(
                done.validated.first().map(|b| b.start),
                Some(hash_from),
                "{path}"
            );
            assert_eq!(
                done.validated.last().map(|b| b.end),
                Some(base + buf.len() as u64),
                "{path}"
            );
            for pair in done.validated.windows(2) {
                assert_eq!(pair[0].end, pair[1].start, "{path}");
            }
            for block in &done.validated {
                let (s, e) = ((block.start - base) as usize, (block.end - base) as usize);
                assert_eq!(block.hash, trusted::block_hash(&buf[s..e]), "{path}");
            }
        };
        check(
            &fold_sequential(&buf, Vec::new(), &TrustTrace, Until::END, trust),
            "sequential",
        );
        for chunk in [64, 500, 4096] {
            for helpers in [1, 3] {
                let (done, ()) = fold_threads(
                    &buf,
                    Vec::new(),
                    &TrustTrace,
                    Until::END,
                    trust,
                    chunk,
                    helpers,
                    || (),
                );
                check(&done, &format!("{helpers} helpers, chunks of {chunk}"));
            }
        }
        // Nothing trusted, nothing hashed: the reference.
        let plain = fold_sequential(&buf, Vec::new(), &TrustTrace, Until::END, Trust::NONE);
        assert!(plain.acc.iter().all(|&(_, trusted)| !trusted));
        assert!(plain.validated.is_empty());
    }

    #[test]
    fn a_buffer_the_caller_checked_is_read_trusted_in_every_chunk() {
        let buf = log(300, None);
        // The events a trusting fold reads with `trust`, the same on one thread and on two.
        let read = |trust: Trust<'_>| {
            let seq = fold_sequential(&buf, Vec::new(), &TrustTrace, Until::END, trust);
            let (par, ()) = fold_threads(
                &buf,
                Vec::new(),
                &TrustTrace,
                Until::END,
                trust,
                500,
                2,
                || (),
            );
            assert_eq!(par.acc, seq.acc);
            seq.acc
        };
        let trust = Trust {
            checked: true,
            ..Trust::NONE
        };
        let seq = read(trust);
        assert_eq!(seq.len(), 300);
        assert!(seq.iter().all(|&(_, trusted)| trusted));
        // A fold that does not trust reads them validated all the same.
        let plain = fold_sequential(&buf, Vec::new(), &Trace, Until::END, trust);
        assert_eq!(plain.acc.len(), 300);

        // With the buffer as text (known UTF-8 to the caller), the same: on one thread and
        // on several, whole and from a line inside it.
        let text = std::str::from_utf8(&buf).unwrap();
        let with_text = Trust {
            text: Some(text),
            ..trust
        };
        assert_eq!(read(with_text), seq);
        let from = buf.len() / 2;
        let from = from + buf[from..].iter().position(|&b| b == b'\n').unwrap() + 1;
        let skipped = |trust: Trust<'_>| {
            fold_sequential(
                &buf[from..],
                Vec::new(),
                &TrustTrace,
                Until::END,
                trust.skip(from),
            )
        };
        assert_eq!(skipped(with_text).acc, skipped(trust).acc);
        assert!(!skipped(with_text).acc.is_empty());

        // A text that is not the buffer itself is not read, even of the same length: the
        // events are the buffer's.
        let other = text.replace("\"ts\":1", "\"ts\":9");
        assert_eq!(other.len(), text.len());
        assert_ne!(other, text);
        let elsewhere = Trust {
            text: Some(&other),
            ..trust
        };
        assert_eq!(read(elsewhere), seq);
    }

    #[test]
    fn a_bad_line_in_a_changed_block_is_the_same_error() {
        let good = log(300, None);
        let bad = log(300, Some(250));
        let blocks = blocks_of(&good, 0, 50);
        let trust = Trust {
            base: 0,
            blocks: &blocks,
            hash_from: None,
            checked: false,
            text: None,
        };
        let trusted = fold_sequential(&bad, Vec::new(), &TrustTrace, Until::END, trust);
        let plain = fold_sequential(&bad, Vec::new(), &TrustTrace, Until::END, Trust::NONE);
        assert_eq!(trusted.bad, plain.bad);
        assert!(plain.bad.is_some());
        assert_eq!(trusted.acc.len(), 250);
        // The blocks before the one that changed are read trusted.
        let bad_at = plain.bad.as_ref().map_or(0, |(at, _)| *at as u64);
        let before = blocks.iter().take_while(|b| b.end <= bad_at).last();
        let unchanged = lines::count_events(&good[..before.map_or(0, |b| b.end) as usize]) as usize;
        assert!(unchanged > 150);
        assert!(trusted.acc[..unchanged].iter().all(|&(_, trusted)| trusted));
        assert!(!trusted.acc[unchanged..].iter().any(|&(_, trusted)| trusted));
        assert_eq!(
            trusted.acc.iter().map(|&(ts, _)| ts).collect::<Vec<_>>(),
            plain.acc.iter().map(|&(ts, _)| ts).collect::<Vec<_>>()
        );
    }

    fn log(n: u64, bad_at: Option<u64>) -> Vec<u8> {
        let mut out = Vec::new();
        for i in 0..n {
            if Some(i) == bad_at {
                out.extend_from_slice(b"{not json\n");
            } else {
                out.extend_from_slice(
                    format!("{{\"type\":\"t\",\"data\":{{}},\"ts\":{i}}}\n").as_bytes(),
                );
            }
            if i % 7 == 0 {
                out.push(b'\n');
            }
        }
        out
    }

    fn same(a: &BufFold<Vec<u64>>, b: &BufFold<Vec<u64>>) {
        assert_eq!(a.acc, b.acc);
        assert_eq!(a.last, b.last);
        assert_eq!(a.bad, b.bad);
    }

    /// The whole buffer as one chunk, validated.
    fn whole(buf: &[u8]) -> Chunk<'static> {
        Chunk {
            range: 0..buf.len(),
            seal: Seal::None,
            hash: false,
        }
    }

    #[test]
    fn parallel_equals_sequential() {
        for n in [0, 1, 5, 100, 3000] {
            let buf = log(n, None);
            let seq = fold_sequential(&buf, Vec::new(), &Trace, Until::END, Trust::NONE);
            assert_eq!(seq.acc.len() as u64, n);
            for chunk in [1, 10, 64, 1000, 1 << 20] {
                for helpers in [1, 3] {
                    same(
                        &seq,
                        &fold_threads(
                            &buf,
                            Vec::new(),
                            &Trace,
                            Until::END,
                            Trust::NONE,
                            chunk,
                            helpers,
                            || (),
                        )
                        .0,
                    );
                }
            }
        }
    }

    fn same_stop(a: &BufFold<Vec<u64>>, b: &BufFold<Vec<u64>>) {
        same(a, b);
        assert_eq!(
            (a.events, a.stopped, a.max_ts),
            (b.events, b.stopped, b.max_ts)
        );
    }

    /// Lines whose `ts` go up and down: `ts` of line `i` is `(i * 7919) % n`, with empty
    /// lines between some of them, and a bad line at `bad_at`.
    fn shuffled(n: u64, bad_at: Option<u64>) -> Vec<u8> {
        let mut out = Vec::new();
        for i in 0..n {
            if Some(i) == bad_at {
                out.extend_from_slice(b"{not json\n");
            } else {
                let ts = (i * 7919) % n;
                out.extend_from_slice(
                    format!("{{\"type\":\"t\",\"data\":{{}},\"ts\":{ts}}}\n").as_bytes(),
                );
            }
            if i % 11 == 0 {
                out.push(b'\n');
            }
        }
        out
    }

    /// Stopping after a number of events, or before a `ts`, gives the same result on every
    /// path, and the result a plain loop over the events gives.
    #[test]
    fn stops_agree_on_every_path() {
        let n = 3000;
        for bad in [None, Some(1800)] {
            let buf = shuffled(n, bad);
            let all: Vec<u64> =
                fold_sequential(&buf, Vec::new(), &Trace, Until::END, Trust::NONE).acc;
            let stops = [
                Stop::Never,
                Stop::After(0),
                Stop::After(1),
                Stop::After(1234),
                Stop::After(2999),
                Stop::After(3000),
                Stop::After(5000),
                Stop::TsAbove(0),
                Stop::TsAbove(1500),
                Stop::TsAbove(2999),
            ];
            for stop in stops {
                for track_ts in [false, true] {
                    let until = Until { stop, track_ts };
                    let seq = fold_sequential(&buf, Vec::new(), &Trace, until, Trust::NONE);
                    // The model: the prefix of the events the stop allows.
                    let take = match stop {
                        Stop::Never => all.len(),
                        Stop::After(k) => all.len().min(k as usize),
                        Stop::TsAbove(t) => all.iter().position(|&ts| ts > t).unwrap_or(all.len()),
                    };
                    assert_eq!(seq.acc, all[..take], "{stop:?}");
                    assert_eq!(seq.events, take as u64);
                    let expect_max = all[..take].iter().copied().max().filter(|_| track_ts);
                    assert_eq!(seq.max_ts, expect_max, "{stop:?}");
                    let stopped_early = match stop {
                        Stop::Never => false,
                        Stop::After(k) => k as usize <= all.len(),
                        Stop::TsAbove(_) => take < all.len(),
                    };
                    assert_eq!(seq.stopped, stopped_early, "{stop:?} {bad:?}");
                    assert_eq!(seq.bad.is_some(), bad.is_some() && !seq.stopped, "{stop:?}");
                    // `last` ends the line of the last event folded.
                    if let Some((end, line)) = &seq.last {
                        let folded = fold_sequential(
                            &buf[..*end],
                            Vec::new(),
                            &Trace,
                            Until::END,
                            Trust::NONE,
                        );
                        assert_eq!(folded.acc, seq.acc);
                        assert_eq!(buf[line.end], b'\n');
                    } else {
                        assert_eq!(take, 0);
                    }
                    for chunk in [1, 64, 1000, 1 << 20] {
                        for helpers in [1, 3] {
                            let par = fold_threads(
                                &buf,
                                Vec::new(),
                                &Trace,
                                until,
                                Trust::NONE,
                                chunk,
                                helpers,
                                || (),
                            )
                            .0;
                            same_stop(&seq, &par);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn parallel_stops_at_the_same_bad_line() {
        for bad in [0, 1, 999, 2999] {
            let buf = log(3000, Some(bad));
            let seq = fold_sequential(&buf, Vec::new(), &Trace, Until::END, Trust::NONE);
            assert_eq!(seq.acc.len() as u64, bad);
            assert!(seq.bad.is_some());
            for chunk in [1, 50, 4096] {
                for helpers in [1, 3] {
                    same(
                        &seq,
                        &fold_threads(
                            &buf,
                            Vec::new(),
                            &Trace,
                            Until::END,
                            Trust::NONE,
                            chunk,
                            helpers,
                            || (),
                        )
                        .0,
                    );
                }
            }
        }
    }

    /// The side job runs once, on either path, and its result comes back with the fold's,
    /// also when the fold stops at a bad line.
    #[test]
    fn the_side_job_runs_once_and_returns_its_result() {
        let runs = std::sync::atomic::AtomicUsize::new(0);
        for bad in [None, Some(10), Some(2999)] {
            let buf = log(3000, bad);
            let seq = fold_sequential(&buf, Vec::new(), &Trace, Until::END, Trust::NONE);
            // Helpers the system refuses to start are done without: the same result, and the
            // side job runs once all the same, on the calling thread if no helper started.
            for (helpers, refused) in [(1, 0), (3, 0), (1, 1), (3, 1), (3, 2), (3, usize::MAX)] {
                let caller = std::thread::current().id();
                let on_caller = std::sync::atomic::AtomicBool::new(false);
                let _refusing = refuse_threads(refused);
                let (done, side) = fold_threads(
                    &buf,
                    Vec::new(),
                    &Trace,
                    Until::END,
                    Trust::NONE,
                    64,
                    helpers,
                    || {
                        runs.fetch_add(1, Ordering::Relaxed);
                        on_caller.store(std::thread::current().id() == caller, Ordering::Relaxed);
                        buf.len()
                    },
                );
                same(&seq, &done);
                assert_eq!(side, buf.len());
                assert_eq!(on_caller.load(Ordering::Relaxed), refused >= helpers);
            }
            let (done, side) = fold_buf(&buf, Vec::new(), &Trace, || {
                runs.fetch_add(1, Ordering::Relaxed);
                "side"
            });
            same(&seq, &done);
            assert_eq!(side, "side");
        }
        assert_eq!(runs.load(Ordering::Relaxed), 21);
    }

    /// [`Trace`], but a helper stalls in the first line it parses (as if its CPU were taken)
    /// until the reducer has folded the last event, or 10 s have passed.
    struct StalledHelper {
        reducer: std::thread::ThreadId,
        last_ts: u64,
        helper_stalled: std::sync::atomic::AtomicBool,
        released: Mutex<bool>,
        release: Condvar,
        timed_out: std::sync::atomic::AtomicBool,
    }

    impl LineFold<Vec<u64>> for StalledHelper {
        type Item<'b> = EventRef<'b>;
        const OWNS_MEMORY: bool = false;
        fn parse<'b>(&self, line: &'b [u8]) -> Result<EventRef<'b>, ParseError> {
            let patience = std::time::Duration::from_secs(10);
            if std::thread::current().id() == self.reducer {
                // Let the helper take a chunk and stall on it before going on.
                let start = std::time::Instant::now();
                while !self.helper_stalled.load(Ordering::SeqCst) && start.elapsed() < patience {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
            } else if !self.helper_stalled.swap(true, Ordering::SeqCst) {
                let released = self.released.lock().unwrap();
                let (released, wait) = self
                    .release
                    .wait_timeout_while(released, patience, |released| !*released)
                    .unwrap();
                if wait.timed_out() && !*released {
                    self.timed_out.store(true, Ordering::SeqCst);
                }
            }
            EventRef::parse_line(line)
        }
        fn reduce(&self, acc: Vec<u64>, item: &EventRef<'_>) -> Vec<u64> {
            if item.ts() == self.last_ts {
                *self.released.lock().unwrap() = true;
                self.release.notify_all();
            }
            Trace.reduce(acc, item)
        }
        fn ts(&self, item: &EventRef<'_>) -> u64 {
            item.ts()
        }
    }

    /// A stalled helper does not hold the fold up: the reducing thread parses the chunk the
    /// helper sits on and finishes without it (the helper's late copy is dropped), with the
    /// same result. Waiting for that chunk instead would wait for the helper, which waits for
    /// the fold to end, until the helper gives up after 10 s.
    #[test]
    fn a_stalled_helper_is_overtaken_and_its_copy_dropped() {
        let n = 3000;
        let buf = log(n, None);
        let seq = fold_sequential(&buf, Vec::new(), &Trace, Until::END, Trust::NONE);
        let fold = StalledHelper {
            reducer: std::thread::current().id(),
            last_ts: n - 1,
            helper_stalled: std::sync::atomic::AtomicBool::new(false),
            released: Mutex::new(false),
            release: Condvar::new(),
            timed_out: std::sync::atomic::AtomicBool::new(false),
        };
        let (done, ()) = fold_threads(
            &buf,
            Vec::new(),
            &fold,
            Until::END,
            Trust::NONE,
            64,
            1,
            || (),
        );
        same(&seq, &done);
        assert!(
            fold.helper_stalled.load(Ordering::SeqCst),
            "the helper never parsed"
        );
        assert!(
            !fold.timed_out.load(Ordering::SeqCst),
            "the fold waited for the stalled helper"
        );
    }

    /// A reducer that panics at one event.
    struct PanicAt(u64);

    impl LineFold<u64> for PanicAt {
        type Item<'b> = EventRef<'b>;
        const OWNS_MEMORY: bool = false;
        fn parse<'b>(&self, line: &'b [u8]) -> Result<EventRef<'b>, ParseError> {
            EventRef::parse_line(line)
        }
        fn reduce(&self, acc: u64, item: &EventRef<'_>) -> u64 {
            assert_ne!(item.ts(), self.0, "the reducer refuses this event");
            acc + 1
        }
        fn ts(&self, item: &EventRef<'_>) -> u64 {
            item.ts()
        }
    }

    /// A reducer's panic reaches the caller; helpers waiting to parse ahead do not hang it.
    #[test]
    fn a_panicking_reducer_unwinds_out_of_the_parallel_fold() {
        let buf = log(3000, None);
        for at in [0, 1500, 2999] {
            for helpers in [1, 3] {
                let result = std::panic::catch_unwind(|| {
                    fold_threads(
                        &buf,
                        0,
                        &PanicAt(at),
                        Until::END,
                        Trust::NONE,
                        64,
                        helpers,
                        || (),
                    )
                    .0
                    .acc
                });
                assert!(result.is_err(), "no panic at {at} with {helpers} helpers");
            }
        }
    }

    /// An owned item that counts its drops.
    struct Counted<'c>(&'c AtomicUsize);

    impl Drop for Counted<'_> {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts events; records, each time it parses a line, how many items had been dropped.
    struct Counting<'c> {
        drops: &'c AtomicUsize,
        dropped_before: Mutex<Vec<usize>>,
    }

    impl<'c> LineFold<u64> for Counting<'c> {
        type Item<'b> = Counted<'c>;
        const OWNS_MEMORY: bool = true;
        fn parse<'b>(&self, line: &'b [u8]) -> Result<Counted<'c>, ParseError> {
            EventRef::parse_line(line)?;
            let dropped = self.drops.load(Ordering::Relaxed);
            self.dropped_before.lock().unwrap().push(dropped);
            Ok(Counted(self.drops))
        }
        fn reduce(&self, acc: u64, _: &Counted<'c>) -> u64 {
            acc + 1
        }
        fn ts(&self, _: &Counted<'c>) -> u64 {
            0
        }
    }

    /// `map_on_threads` gives each item's result in the items' order, on no more threads
    /// than it was given, and on the calling thread alone when every helper is refused.
    #[test]
    fn mapping_on_threads_keeps_the_order_and_the_bound_whatever_threads_it_gets() {
        use std::collections::HashSet;
        use std::sync::Mutex;
        let items: Vec<u64> = (0..200).collect();
        let doubled: Vec<u64> = items.iter().map(|n| n * 2).collect();
        for (threads, refused) in [(1, 0), (2, 0), (3, 1), (3, usize::MAX), (500, 0)] {
            let _refusing = refuse_threads(refused);
            let seen = Mutex::new(HashSet::new());
            let out = map_on_threads(&items, threads, |n| {
                seen.lock().unwrap().insert(std::thread::current().id());
                std::thread::yield_now();
                n * 2
            });
            assert_eq!(out, doubled, "{threads} threads, {refused} refused");
            let seen = seen.into_inner().unwrap();
            assert!(
                seen.len() <= threads.min(items.len()),
                "{} threads",
                seen.len()
            );
            if refused == usize::MAX {
                assert_eq!(seen, HashSet::from([std::thread::current().id()]));
            }
        }
        assert!(map_on_threads(&[] as &[u64], 4, |n| *n).is_empty());
    }

    /// Owned items handed back are dropped one before each line of the next chunk, the rest
    /// with the recycler; borrowed ones at once.
    #[test]
    fn retired_items_are_dropped_one_per_line_parsed() {
        let drops = AtomicUsize::new(0);
        let fold = Counting {
            drops: &drops,
            dropped_before: Mutex::new(Vec::new()),
        };
        let buf = log(5, None);
        let mut recycler = Recycler::new(true);
        let first = parse_chunk(&buf, &whole(&buf), &fold, &mut recycler);
        assert_eq!(first.items.len(), 5);
        recycler.give(first.items);
        recycler.give((0..3).map(|_| Counted(&drops)).collect());
        assert_eq!(
            drops.load(Ordering::Relaxed),
            0,
            "nothing is dropped when given back"
        );
        let second = parse_chunk(&buf, &whole(&buf), &fold, &mut recycler);
        assert_eq!(second.items.len(), 5);
        assert_eq!(
            *fold.dropped_before.lock().unwrap(),
            [0, 0, 0, 0, 0, 1, 2, 3, 4, 5],
            "one retired item dropped before each line of the second chunk"
        );
        assert_eq!(recycler.retired.len(), 3);
        drop(recycler);
        assert_eq!(drops.load(Ordering::Relaxed), 8);
        drop(second);
        assert_eq!(drops.load(Ordering::Relaxed), 13);

        let mut at_once = Recycler::new(false);
        at_once.give((0..4).map(|_| Counted(&drops)).collect());
        assert_eq!(drops.load(Ordering::Relaxed), 17);
        assert!(at_once.retired.is_empty() && at_once.spare.capacity() >= 4);
    }

    /// A parallel fold of owned items drops each exactly once, with or without a stop.
    #[test]
    fn the_parallel_fold_drops_every_owned_item_once() {
        let buf = log(20_000, None);
        let after = Until {
            stop: Stop::After(12_345),
            track_ts: false,
        };
        for until in [Until::END, after] {
            let drops = AtomicUsize::new(0);
            let fold = Counting {
                drops: &drops,
                dropped_before: Mutex::new(Vec::new()),
            };
            let (done, ()) = fold_threads(&buf, 0, &fold, until, Trust::NONE, 4096, 3, || ());
            let parsed = fold.dropped_before.lock().unwrap().len();
            assert_eq!(done.acc, if until == Until::END { 20_000 } else { 12_345 });
            assert!(parsed >= done.acc as usize);
            assert_eq!(
                drops.load(Ordering::Relaxed),
                parsed,
                "every parsed item dropped once"
            );
        }
    }

    #[test]
    fn chunks_cover_the_buffer_at_newlines() {
        let buf = log(500, None);
        for chunk in [1, 13, 200, 100_000] {
            let ranges = chunk_ranges(&buf, chunk);
            assert_eq!(ranges.first().map(|r| r.start), Some(0));
            assert_eq!(ranges.last().map(|r| r.end), Some(buf.len()));
            for pair in ranges.windows(2) {
                assert_eq!(pair[0].end, pair[1].start);
                assert_eq!(buf[pair[0].end - 1], b'\n');
            }
        }
    }
}
