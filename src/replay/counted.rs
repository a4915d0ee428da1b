//! A fold that also counts what it folded: events, and bytes of log lines.
//!
//! Views need both, for their [`SnapshotPolicy`](crate::SnapshotPolicy) and their
//! [`RefreshReport`](crate::RefreshReport), whichever part of the history (archive or active
//! log) the events came from. The length of a line is taken when it is parsed, on whichever
//! thread parses it, and added up when it is reduced, in order.

use crate::format::chunk::Index;
use crate::format::fold::{LineFold, Ready};
use crate::format::lines::Line;
use crate::format::parse::ParseError;

/// Events and bytes of log lines (each with its newline) folded.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Count {
    pub events: u64,
    pub bytes: u64,
}

/// `F`, folding into `(A, Count)` instead of `A`.
pub(crate) struct Counted<F>(pub F);

impl<A, F: LineFold<A>> LineFold<(A, Count)> for Counted<F> {
    type Item<'b> = (F::Item<'b>, u64);
    const OWNS_MEMORY: bool = F::OWNS_MEMORY;

    #[inline]
    fn parse<'b>(&self, line: &'b [u8]) -> Result<Self::Item<'b>, ParseError> {
        Ok((self.0.parse(line)?, line.len() as u64 + 1))
    }

    const INDEXED: bool = F::INDEXED;

    #[inline]
    fn parse_in<'b>(
        &self,
        index: Option<&Index<'b>>,
        line: Line<'b>,
    ) -> Result<Self::Item<'b>, ParseError> {
        Ok((self.0.parse_in(index, line)?, line.bytes.len() as u64 + 1))
    }

    const TRUSTS: bool = F::TRUSTS;

    #[inline]
    fn parse_trusted<'b>(&self, line: &'b str) -> Result<Self::Item<'b>, ParseError> {
        Ok((self.0.parse_trusted(line)?, line.len() as u64 + 1))
    }

    #[inline]
    fn parse_located<'b>(
        &self,
        line: &'b str,
        type_end: Option<usize>,
    ) -> Result<Self::Item<'b>, ParseError> {
        Ok((self.0.parse_located(line, type_end)?, line.len() as u64 + 1))
    }

    const PREPARES: bool = F::PREPARES;

    #[inline]
    fn prepare<'b>(
        &self,
        text: &'b str,
        lines: impl Iterator<Item = (Line<'b>, Option<usize>)>,
    ) -> Vec<Ready<Self::Item<'b>>> {
        let prepared = self.0.prepare(text, lines);
        prepared
            .into_iter()
            .map(|ready| Ready {
                at: ready.at,
                len: ready.len,
                item: ready.item.map(|item| (item, ready.len as u64 + 1)),
            })
            .collect()
    }

    #[inline]
    fn parse_unprepared<'b>(
        &self,
        line: &'b str,
        type_end: Option<usize>,
    ) -> Result<Self::Item<'b>, ParseError> {
        Ok((
            self.0.parse_unprepared(line, type_end)?,
            line.len() as u64 + 1,
        ))
    }

    #[inline]
    fn reduce_located(
        &self,
        (acc, count): (A, Count),
        line: &str,
        type_end: usize,
    ) -> Result<(A, Count), (A, Count)> {
        counted(self.0.reduce_located(acc, line, type_end), count, line)
    }

    #[inline(always)]
    fn reduce_unprepared(
        &self,
        (acc, count): (A, Count),
        line: &str,
        type_end: usize,
    ) -> Result<(A, Count), (A, Count)> {
        counted(self.0.reduce_unprepared(acc, line, type_end), count, line)
    }

    #[inline]
    fn reduce(&self, (acc, count): (A, Count), (item, len): &Self::Item<'_>) -> (A, Count) {
        let count = Count {
            events: count.events + 1,
            bytes: count.bytes + len,
        };
        (self.0.reduce(acc, item), count)
    }

    #[inline]
    fn ts(&self, (item, _): &Self::Item<'_>) -> u64 {
        self.0.ts(item)
    }
}

/// `count` with one more event, the line `line` (its newline included), when the inner fold
/// reduced it in place; the accumulator handed back as it was when it did not.
#[inline(always)]
fn counted<A>(reduced: Result<A, A>, count: Count, line: &str) -> Result<(A, Count), (A, Count)> {
    match reduced {
        Ok(acc) => Ok((
            acc,
            Count {
                events: count.events + 1,
                bytes: count.bytes + line.len() as u64 + 1,
            },
        )),
        Err(acc) => Err((acc, count)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Event;
    use crate::EventRef;
    use crate::format::fold::{self, Borrowed, Owned, Trust};

    fn count(n: u64, _event: &Event) -> u64 {
        n + 1
    }

    fn count_ref(n: u64, _event: &EventRef<'_>) -> u64 {
        n + 1
    }

    #[test]
    fn counts_events_and_line_bytes_on_every_path() {
        let line = br#"{"type":"a","data":{"k":[1,2,3]},"ts":1}"#;
        let mut buf = Vec::new();
        for i in 0..40_000 {
            buf.extend_from_slice(line);
            buf.push(b'\n');
            if i % 1000 == 0 {
                buf.push(b'\n'); // an empty line is no event, and its byte is not counted
            }
        }
        let expected = Count {
            events: 40_000,
            bytes: 40_000 * (line.len() as u64 + 1),
        };
        let fold = Counted(Owned(count as crate::ReduceFn<u64>));
        let start = (0u64, Count::default());
        let sequential =
            fold::fold_sequential(&buf, start, &fold, fold::Until::END, fold::Trust::NONE);
        assert_eq!(sequential.acc, (40_000, expected));
        // Large enough for the parallel path when there are two threads.
        let (parallel, ()) = fold::fold_buf(&buf, start, &fold, || ());
        assert_eq!(parallel.acc, (40_000, expected));
        // Borrowed events, validated and trusted (a trusted line is reduced without an item).
        let fold = Counted(Borrowed(count_ref as crate::ReduceRefFn<u64>));
        let checked = Trust {
            checked: true,
            ..Trust::NONE
        };
        for trust in [Trust::NONE, checked] {
            let sequential = fold::fold_sequential(&buf, start, &fold, fold::Until::END, trust);
            assert_eq!(sequential.acc, (40_000, expected), "{trust:?}");
            let (parallel, ()) =
                fold::fold_threads(&buf, start, &fold, fold::Until::END, trust, 4096, 2, || ());
            assert_eq!(parallel.acc, (40_000, expected), "{trust:?}");
        }
    }
}
