//! Line framing over byte slices, and [`line_hash`], the hash that identifies a line.
//!
//! The memory-mapped active log, a decompressed archive frame and test buffers all go through
//! these functions: one framing path, no `File` in sight.

use memchr::{memchr, memchr_iter, memrchr};

/// Compute xxh64 (seed 0) of a line's bytes, without its newline, as 16 lowercase hex digits.
///
/// This is the hash snapshots store for the last line they consumed, and the hash
/// [`AppendResult::line_hash`](crate::AppendResult::line_hash) reports.
///
/// # Examples
///
/// ```
/// use eventfold::line_hash;
/// let hash = line_hash(br#"{"type":"a","data":{},"ts":1}"#);
/// assert_eq!(hash.len(), 16);
/// assert!(hash.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
/// ```
pub fn line_hash(line: &[u8]) -> String {
    format!("{:016x}", xxhash_rust::xxh64::xxh64(line, 0))
}

/// Length of the committed prefix of `buf`: everything up to and including its last newline.
/// Bytes after the last newline belong to a line whose append has not completed.
pub(crate) fn committed_len(buf: &[u8]) -> usize {
    memrchr(b'\n', buf).map_or(0, |i| i + 1)
}

/// Number of newlines in `buf`.
pub(crate) fn count(buf: &[u8]) -> u64 {
    memchr_iter(b'\n', buf).count() as u64
}

/// Number of events (complete, non-empty lines) in `buf`, which starts at the start of a line.
pub(crate) fn count_events(buf: &[u8]) -> u64 {
    count_events_after(buf, true)
}

/// Number of non-empty lines that end in `buf`; `at_line_start` tells whether `buf` starts at
/// the start of a line (if not, the line it starts inside is not empty).
pub(crate) fn count_events_after(buf: &[u8], at_line_start: bool) -> u64 {
    let mut previous_newline = at_line_start;
    let mut prev_end = 0;
    let mut events = 0;
    for i in memchr_iter(b'\n', buf) {
        // The line ending here is empty when it starts here: right after the last newline.
        let empty = if i == prev_end {
            previous_newline
        } else {
            false
        };
        events += u64::from(!empty);
        previous_newline = true;
        prev_end = i + 1;
    }
    events
}

/// One-based number of the line that starts at `offset`, counting from the start of `buf`.
pub(crate) fn line_number(buf: &[u8], offset: usize) -> u64 {
    count(&buf[..offset.min(buf.len())]) + 1
}

/// Cuts `buf` (complete lines) into consecutive ranges of at most `size` bytes, each ending just
/// after a newline; a line longer than `size` gets a range of its own. The last range ends at
/// `buf.len()`.
pub(crate) fn chunks_at_most(buf: &[u8], size: usize) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::with_capacity(buf.len() / size.max(1) + 1);
    let mut start = 0;
    while start < buf.len() {
        let target = start.saturating_add(size).min(buf.len());
        let end = if target == buf.len() {
            target
        } else {
            match memrchr(b'\n', &buf[start..target]) {
                Some(i) => start + i + 1,
                None => memchr(b'\n', &buf[target..]).map_or(buf.len(), |i| target + i + 1),
            }
        };
        ranges.push(start..end);
        start = end;
    }
    ranges
}

/// A complete line of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Line<'a> {
    /// Offset of the line's first byte within the buffer.
    pub start: usize,
    /// The line without its newline.
    pub bytes: &'a [u8],
}

impl Line<'_> {
    /// Offset just past this line's newline.
    pub fn end(&self) -> usize {
        self.start + self.bytes.len() + 1
    }
}

/// Iterates over the complete, non-empty lines of `buf` from `pos` on. A trailing line without
/// a newline is not yielded; empty lines are skipped.
#[derive(Debug, Clone)]
pub(crate) struct Lines<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Lines<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Lines { buf, pos: 0 }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = Line<'a>;

    #[inline]
    fn next(&mut self) -> Option<Line<'a>> {
        loop {
            let rest = &self.buf[self.pos..];
            let nl = memchr(b'\n', rest)?;
            let line = Line {
                start: self.pos,
                bytes: &rest[..nl],
            };
            self.pos += nl + 1;
            if nl > 0 {
                return Some(line);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The obvious implementation, to check the fast one against.
    fn naive_lines(buf: &[u8]) -> Vec<(usize, Vec<u8>)> {
        let mut out = Vec::new();
        let mut start = 0;
        for (i, &b) in buf.iter().enumerate() {
            if b == b'\n' {
                if i > start {
                    out.push((start, buf[start..i].to_vec()));
                }
                start = i + 1;
            }
        }
        out
    }

    #[test]
    fn matches_naive_framing() {
        let cases: [&[u8]; 7] = [
            b"",
            b"\n",
            b"a",
            b"a\n",
            b"a\n\nbc\n",
            b"\n\nx\ny",
            b"{\"k\":\"v\"}\n{}\n\n",
        ];
        for case in cases {
            let fast: Vec<_> = Lines::new(case)
                .map(|l| (l.start, l.bytes.to_vec()))
                .collect();
            assert_eq!(fast, naive_lines(case), "framing of {case:?}");
        }
    }

    #[test]
    fn chunks_are_bounded_and_end_at_newlines() {
        let buf = b"aaa\nbb\n\ncccccccc\nd\n";
        for size in [1, 3, 4, 5, 9, 100] {
            let ranges = chunks_at_most(buf, size);
            assert_eq!(ranges.first().map(|r| r.start), Some(0));
            assert_eq!(ranges.last().map(|r| r.end), Some(buf.len()));
            for pair in ranges.windows(2) {
                assert_eq!(pair[0].end, pair[1].start);
            }
            for range in &ranges {
                assert_eq!(buf[range.end - 1], b'\n');
                // Longer than `size` only when it is a single line.
                if range.len() > size {
                    assert_eq!(count(&buf[range.clone()]), 1, "{range:?} at {size}");
                }
            }
        }
        assert!(chunks_at_most(b"", 4).is_empty());
    }

    #[test]
    fn events_are_the_non_empty_lines() {
        let buf = b"\na\n\n\nbc\nd\n\n";
        assert_eq!(count_events(buf), naive_lines(buf).len() as u64);
        // Split anywhere, the halves count the same lines.
        for cut in 0..=buf.len() {
            let (head, tail) = buf.split_at(cut);
            let at_line_start = cut == 0 || head[cut - 1] == b'\n';
            assert_eq!(
                count_events(head) + count_events_after(tail, at_line_start),
                3,
                "cut at {cut}"
            );
        }
        assert_eq!(count_events(b""), 0);
        assert_eq!(count_events_after(b"\n", false), 1);
    }

    #[test]
    fn committed_prefix_ends_at_last_newline() {
        assert_eq!(committed_len(b""), 0);
        assert_eq!(committed_len(b"partial"), 0);
        assert_eq!(committed_len(b"a\nb"), 2);
        assert_eq!(committed_len(b"a\nb\n"), 4);
    }

    #[test]
    fn line_numbers_count_newlines_before() {
        let buf = b"a\nb\n\nc\n";
        assert_eq!(line_number(buf, 0), 1);
        assert_eq!(line_number(buf, 2), 2);
        assert_eq!(line_number(buf, 5), 4);
    }
}
