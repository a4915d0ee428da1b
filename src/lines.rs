//! Line framing over byte slices.
//!
//! The memory-mapped active log, a decompressed archive frame and test buffers all go through
//! these functions: one framing path, no `File` in sight.

use memchr::{memchr, memchr_iter, memrchr};

/// Length of the committed prefix of `buf`: everything up to and including its last newline.
/// Bytes after the last newline belong to a line whose append has not completed.
pub(crate) fn committed_len(buf: &[u8]) -> usize {
    memrchr(b'\n', buf).map_or(0, |i| i + 1)
}

/// Number of newlines in `buf`.
pub(crate) fn count(buf: &[u8]) -> u64 {
    memchr_iter(b'\n', buf).count() as u64
}

/// One-based number of the line that starts at `offset`, counting from the start of `buf`.
pub(crate) fn line_number(buf: &[u8], offset: usize) -> u64 {
    count(&buf[..offset.min(buf.len())]) + 1
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
