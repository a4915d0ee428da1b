//! The fold engine: parse lines and reduce them in order, in parallel where that pays.
//!
//! A fold has two halves. Parsing a line is independent of every other line, so large buffers
//! are cut into chunks at newlines and parsed on rayon's workers; reducing is sequential, so the
//! parsed chunks are reduced strictly in order on the calling thread, overlapped with the
//! parsing of the chunks that follow. Memory stays bounded: at most two windows of chunks are
//! parsed ahead. Small buffers take the plain sequential loop, which gives the same result.

use crate::event::{Event, EventRef};
use crate::lines::Lines;

/// Buffers smaller than this are folded on the calling thread alone.
const PARALLEL_MIN: usize = 2 << 20;
/// Target size of one parse chunk.
const CHUNK: usize = 256 << 10;

/// How one kind of fold parses a line and folds the result into the accumulator.
pub(crate) trait LineFold<A>: Sync {
    /// What a parsed line becomes; it may borrow the line.
    type Item<'b>: Send;

    /// Parses one line (without its newline).
    fn parse<'b>(&self, line: &'b [u8]) -> Result<Self::Item<'b>, String>;

    /// Folds one parsed line into the accumulator.
    fn reduce(&self, acc: A, item: Self::Item<'_>) -> A;
}

/// A reducer over owned events: each line is parsed into an [`Event`].
pub(crate) struct Owned<S>(pub crate::ReduceFn<S>);

impl<S> LineFold<S> for Owned<S> {
    type Item<'b> = Event;

    #[inline]
    fn parse(&self, line: &[u8]) -> Result<Event, String> {
        EventRef::parse_line(line)
            .map(|e| e.to_event())
            .map_err(|e| e.to_string())
    }

    #[inline]
    fn reduce(&self, acc: S, item: Event) -> S {
        (self.0)(acc, &item)
    }
}

/// A reducer over borrowed events: each line is parsed into an [`EventRef`] of the buffer.
pub(crate) struct Borrowed<S>(pub crate::ReduceRefFn<S>);

impl<S> LineFold<S> for Borrowed<S> {
    type Item<'b> = EventRef<'b>;

    #[inline]
    fn parse<'b>(&self, line: &'b [u8]) -> Result<EventRef<'b>, String> {
        EventRef::parse_line(line).map_err(|e| e.to_string())
    }

    #[inline]
    fn reduce(&self, acc: S, item: EventRef<'_>) -> S {
        (self.0)(acc, &item)
    }
}

/// The outcome of folding one buffer.
pub(crate) struct BufFold<A> {
    pub acc: A,
    /// Offset just past the last line folded, and that line, if any was.
    pub last: Option<(usize, std::ops::Range<usize>)>,
    /// Start and reason of the line that stopped the fold.
    pub bad: Option<(usize, String)>,
}

/// Folds the complete lines of `buf`, choosing the sequential or the parallel path.
pub(crate) fn fold_buf<A, F: LineFold<A>>(buf: &[u8], acc: A, fold: &F) -> BufFold<A> {
    if buf.len() >= PARALLEL_MIN && rayon::current_num_threads() > 1 {
        fold_parallel(buf, acc, fold, CHUNK)
    } else {
        fold_sequential(buf, acc, fold)
    }
}

/// The reference path: one line after another on the calling thread.
pub(crate) fn fold_sequential<A, F: LineFold<A>>(buf: &[u8], mut acc: A, fold: &F) -> BufFold<A> {
    let mut last = None;
    for line in Lines::new(buf) {
        match fold.parse(line.bytes) {
            Ok(item) => acc = fold.reduce(acc, item),
            Err(reason) => {
                return BufFold {
                    acc,
                    last,
                    bad: Some((line.start, reason)),
                };
            }
        }
        last = Some((line.end(), line.start..line.start + line.bytes.len()));
    }
    BufFold {
        acc,
        last,
        bad: None,
    }
}

/// One parsed chunk.
struct Parsed<T> {
    items: Vec<T>,
    last: Option<(usize, std::ops::Range<usize>)>,
    bad: Option<(usize, String)>,
}

fn parse_chunk<'b, A, F: LineFold<A>>(
    buf: &'b [u8],
    range: std::ops::Range<usize>,
    fold: &F,
) -> Parsed<F::Item<'b>> {
    let base = range.start;
    let mut parsed = Parsed {
        items: Vec::with_capacity(range.len() / 64),
        last: None,
        bad: None,
    };
    for line in Lines::new(&buf[range]) {
        let start = base + line.start;
        match fold.parse(line.bytes) {
            Ok(item) => parsed.items.push(item),
            Err(reason) => {
                parsed.bad = Some((start, reason));
                break;
            }
        }
        parsed.last = Some((base + line.end(), start..start + line.bytes.len()));
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

/// The parallel path: chunks parsed on rayon workers, reduced in order here.
pub(crate) fn fold_parallel<A, F: LineFold<A>>(
    buf: &[u8],
    mut acc: A,
    fold: &F,
    chunk: usize,
) -> BufFold<A> {
    let ranges = chunk_ranges(buf, chunk);
    let window = 2 * rayon::current_num_threads().max(1);
    let mut windows = ranges.chunks(window);
    let mut last = None;

    let parse_window = |ranges: &[std::ops::Range<usize>]| -> Vec<Parsed<F::Item<'_>>> {
        use rayon::prelude::*;
        ranges
            .par_iter()
            .map(|r| parse_chunk(buf, r.clone(), fold))
            .collect()
    };

    let mut current = windows.next().map(parse_window).unwrap_or_default();
    loop {
        let next_ranges = windows.next();
        let mut next = None;
        let (reduced, stop) = rayon::in_place_scope(|scope| {
            if let Some(ranges) = next_ranges {
                let slot = &mut next;
                scope.spawn(move |_| *slot = Some(parse_window(ranges)));
            }
            // Reduce the parsed window on this thread while the next one is parsed.
            let mut acc = acc;
            for parsed in current.drain(..) {
                for item in parsed.items {
                    acc = fold.reduce(acc, item);
                }
                if parsed.last.is_some() {
                    last = parsed.last;
                }
                if parsed.bad.is_some() {
                    return (acc, parsed.bad);
                }
            }
            (acc, None)
        });
        acc = reduced;
        if stop.is_some() {
            return BufFold {
                acc,
                last,
                bad: stop,
            };
        }
        match next {
            Some(parsed) => current = parsed,
            None => {
                return BufFold {
                    acc,
                    last,
                    bad: None,
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sums the `ts` of every event and records the order, so order matters to the result.
    struct Trace;

    impl LineFold<Vec<u64>> for Trace {
        type Item<'b> = EventRef<'b>;
        fn parse<'b>(&self, line: &'b [u8]) -> Result<EventRef<'b>, String> {
            EventRef::parse_line(line).map_err(|e| e.to_string())
        }
        fn reduce(&self, mut acc: Vec<u64>, item: EventRef<'_>) -> Vec<u64> {
            acc.push(item.ts());
            acc
        }
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

    #[test]
    fn parallel_equals_sequential() {
        for n in [0, 1, 5, 100, 3000] {
            let buf = log(n, None);
            let seq = fold_sequential(&buf, Vec::new(), &Trace);
            assert_eq!(seq.acc.len() as u64, n);
            for chunk in [1, 10, 64, 1000, 1 << 20] {
                same(&seq, &fold_parallel(&buf, Vec::new(), &Trace, chunk));
            }
        }
    }

    #[test]
    fn parallel_stops_at_the_same_bad_line() {
        for bad in [0, 1, 999, 2999] {
            let buf = log(3000, Some(bad));
            let seq = fold_sequential(&buf, Vec::new(), &Trace);
            assert_eq!(seq.acc.len() as u64, bad);
            assert!(seq.bad.is_some());
            for chunk in [1, 50, 4096] {
                same(&seq, &fold_parallel(&buf, Vec::new(), &Trace, chunk));
            }
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
