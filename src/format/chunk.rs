//! The index of a chunk of lines: what the parser would otherwise find one line at a time.
//!
//! Lines are about 100 bytes, too short for SIMD one at a time; a chunk of them (128 or
//! 256 KiB) is not. One pass over a chunk checks that it is UTF-8 (simdutf8), and marks, one
//! bit per byte, its newlines and the bytes that end a run of plain string bytes: quotes,
//! backslashes and control characters ([`crate::format::simd`] classifies the bytes with AVX2,
//! SSE4.2 or NEON). The lines are then read off the newline bits, and the parser finds the end
//! of each string run with one look-up in the stop bits ([`Stops`]) instead of scanning it, and
//! no longer checks string bytes as UTF-8 one run at a time.
//!
//! The stop bits say where the next quote, backslash or control character is, which is
//! exactly what the scalar scan looks for, inside a string or not: so a line parses the same
//! with the index as without, whatever the lines before it hold, and errors name the same
//! byte. Chunks that are not UTF-8 (the parser then finds the faulty line), and every chunk
//! on a CPU without those instruction sets or under `EVENTFOLD_PARSER=scalar`, are parsed
//! without an index.

use crate::format::lines::{Line, Lines};
use crate::format::simd::{self, Isa};
use crate::format::trusted;
use std::cell::Cell;

thread_local! {
    /// The bits of the last chunk indexed on this thread (stops and newlines), kept to be
    /// reused.
    static SCRATCH: Cell<(Vec<u64>, Vec<u64>)> = const { Cell::new((Vec::new(), Vec::new())) };
}

/// The index of a chunk of complete lines that is UTF-8 as a whole.
pub(crate) struct Index<'b> {
    chunk: &'b [u8],
    /// Bit `i % 64` of word `i / 64` is set when byte `i` of the chunk is a quote, a backslash
    /// or a control character.
    stops: Vec<u64>,
    /// The same for newlines.
    newlines: Vec<u64>,
}

impl<'b> Index<'b> {
    /// Indexes `chunk` with the fastest implementation the CPU has. `None` when it has none
    /// (or `EVENTFOLD_PARSER=scalar` is set) or when the chunk is not UTF-8: its lines are
    /// then parsed without an index.
    pub(crate) fn new(chunk: &'b [u8]) -> Option<Self> {
        Self::with(simd::detected()?, chunk)
    }

    /// [`Index::new`] with a given implementation.
    pub(crate) fn with(isa: Isa, chunk: &'b [u8]) -> Option<Self> {
        simdutf8::basic::from_utf8(chunk).ok()?;
        Some(Self::classified(isa, chunk))
    }

    /// Indexes `text`, a chunk of complete lines found to be UTF-8 before (a sealed chunk's
    /// text), with the fastest implementation the CPU has; `None` as for [`Index::new`].
    pub(crate) fn of_text(text: &'b str) -> Option<Self> {
        Some(Self::classified(simd::detected()?, text.as_bytes()))
    }

    /// The index of `chunk`, which is UTF-8.
    fn classified(isa: Isa, chunk: &'b [u8]) -> Self {
        let (mut stops, mut newlines) = SCRATCH.take();
        // Every word is written below: only new ones need a value first.
        let words = chunk.len().div_ceil(64);
        stops.resize(words, 0);
        newlines.resize(words, 0);
        let mut out = stops.iter_mut().zip(newlines.iter_mut());
        simd::for_each_block(
            isa,
            chunk,
            #[inline(always)]
            |masks| {
                if let Some((stop, newline)) = out.next() {
                    *stop = masks.stops;
                    *newline = masks.newline;
                }
            },
        );
        Index {
            chunk,
            stops,
            newlines,
        }
    }

    /// The stops of `line`, a line of the indexed chunk (`None` for a line of another buffer).
    #[inline(always)]
    pub(crate) fn stops(&self, line: Line<'b>) -> Option<Stops<'_>> {
        let bytes = self.chunk.get(line.start..line.start + line.bytes.len())?;
        std::ptr::eq(bytes, line.bytes).then_some(Stops {
            bits: &self.stops,
            start: line.start,
            line: bytes,
        })
    }
}

/// The string stops of a line (its quotes, backslashes and control characters, one bit per
/// byte), found for its whole chunk at once. Only [`Index::stops`] makes one, so the line
/// is part of a chunk that was checked to be UTF-8 as a whole: the parser relies on that.
#[derive(Clone, Copy)]
pub(crate) struct Stops<'a> {
    /// The chunk's stop bits: bit `i % 64` of word `i / 64` stands for byte `i`.
    bits: &'a [u64],
    /// Where the line starts in the chunk.
    start: usize,
    /// The line.
    line: &'a [u8],
}

impl Stops<'_> {
    /// Whether these are the stops of `line` (the very bytes, not a copy).
    #[inline(always)]
    pub(crate) fn are_of(&self, line: &[u8]) -> bool {
        std::ptr::eq(self.line, line)
    }

    /// The first stop at or after `at` (a position in the line), or the end of the line, `len`
    /// (the length of the line, which the caller has at hand).
    #[inline(always)]
    pub(crate) fn next(&self, at: usize, len: usize) -> usize {
        debug_assert_eq!(len, self.line.len());
        let mut pos = self.start + at;
        let end = self.start + len;
        let mut word = match self.bits.get(pos / 64) {
            Some(w) => w >> (pos % 64),
            None => return len,
        };
        loop {
            if word != 0 {
                return (pos + word.trailing_zeros() as usize - self.start).min(len);
            }
            pos = (pos / 64 + 1) * 64;
            if pos >= end {
                return len;
            }
            word = match self.bits.get(pos / 64) {
                Some(&w) => w,
                None => return len,
            };
        }
    }
}

/// Index buffers are kept for the next chunk up to this many words each (the bits of 2 MiB):
/// the chunk of a huge line does not hold its memory for the life of the thread.
const SCRATCH_MAX_WORDS: usize = 1 << 15;

impl Drop for Index<'_> {
    fn drop(&mut self) {
        if self.stops.capacity().max(self.newlines.capacity()) <= SCRATCH_MAX_WORDS {
            SCRATCH.set((
                std::mem::take(&mut self.stops),
                std::mem::take(&mut self.newlines),
            ));
        }
    }
}

/// The complete, non-empty lines of `chunk`, as [`Lines`] finds them: read off the newline
/// bits of `index` when it is the index of `chunk`.
pub(crate) fn lines<'b, 'i>(chunk: &'b [u8], index: Option<&'i Index<'b>>) -> ChunkLines<'b, 'i> {
    match index {
        Some(index) if std::ptr::eq(index.chunk, chunk) => ChunkLines::Indexed {
            chunk: index.chunk,
            bits: &index.newlines,
            at: 0,
            word: index.newlines.first().copied().unwrap_or(0),
            pos: 0,
        },
        _ => ChunkLines::Scan(Lines::new(chunk)),
    }
}

/// The complete, non-empty lines of `chunk` (a sealed chunk), each with where its type ends
/// as [`trusted::locate_type_in`] finds it: both read off the bits of `index` when it is the
/// index of `chunk`, and found line by line otherwise.
pub(crate) fn located_lines<'b, 'i>(
    chunk: &'b [u8],
    index: Option<&'i Index<'b>>,
) -> LocatedLines<'b, 'i> {
    LocatedLines {
        lines: lines(chunk, index),
        index,
    }
}

/// The iterator of [`located_lines`].
pub(crate) struct LocatedLines<'b, 'i> {
    lines: ChunkLines<'b, 'i>,
    index: Option<&'i Index<'b>>,
}

impl<'b> Iterator for LocatedLines<'b, '_> {
    type Item = (Line<'b>, Option<usize>);

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        let line = self.lines.next()?;
        let type_end = match self.index.and_then(|index| index.stops(line)) {
            Some(stops) => trusted::locate_type_with(line.bytes, stops),
            None => trusted::locate_type_in(line.bytes),
        };
        Some((line, type_end))
    }
}

/// The iterator of [`lines`].
pub(crate) enum ChunkLines<'b, 'i> {
    Scan(Lines<'b>),
    Indexed {
        chunk: &'b [u8],
        bits: &'i [u64],
        /// The word being read and its bits not yet returned.
        at: usize,
        word: u64,
        /// Where the next line starts.
        pos: usize,
    },
}

impl<'b> Iterator for ChunkLines<'b, '_> {
    type Item = Line<'b>;

    #[inline(always)]
    fn next(&mut self) -> Option<Line<'b>> {
        match self {
            ChunkLines::Scan(lines) => lines.next(),
            ChunkLines::Indexed {
                chunk,
                bits,
                at,
                word,
                pos,
            } => loop {
                while *word == 0 {
                    *at += 1;
                    *word = *bits.get(*at)?;
                }
                let newline = *at * 64 + word.trailing_zeros() as usize;
                *word &= *word - 1;
                let start = std::mem::replace(pos, newline + 1);
                if newline > start {
                    return Some(Line {
                        start,
                        bytes: chunk.get(start..newline)?,
                    });
                }
            },
        }
    }
}

/// The checks that the tests and the `simd_diff` fuzz target run on the same input.
#[cfg(any(test, fuzzing))]
pub(crate) mod check {
    use super::*;
    use crate::format::parse;

    /// Checks every implementation on `buf`, a chunk of lines: its byte classes against the
    /// portable ones, its lines against memchr's, and the parse of every line with its stops
    /// against the scalar parse: the same envelope and the same owned event, or the same
    /// error at the same byte; and where each line's type ends, found with its stops as a scan
    /// finds it.
    pub(crate) fn all(buf: &[u8]) {
        let mut portable = Vec::new();
        simd::for_each_block(Isa::Portable, buf, |m| portable.push(m));
        let expected_lines: Vec<_> = Lines::new(buf).collect();
        for isa in simd::available() {
            let mut masks = Vec::new();
            simd::for_each_block(isa, buf, |m| masks.push(m));
            assert_eq!(masks, portable, "{isa:?} classes of {buf:?}");
            let index = Index::with(isa, buf);
            assert_eq!(index.is_some(), std::str::from_utf8(buf).is_ok());
            let Some(index) = index else { continue };
            let found: Vec<_> = lines(buf, Some(&index)).collect();
            assert_eq!(found, expected_lines, "{isa:?} lines of {buf:?}");
            for &line in &found {
                let stops = index.stops(line).expect("a line of the chunk");
                let text = String::from_utf8_lossy(line.bytes);
                assert_eq!(
                    parse::envelope_in(line.bytes, stops),
                    parse::envelope(line.bytes),
                    "{isa:?}, envelope of {text:?}"
                );
                assert_eq!(
                    parse::event_in(line.bytes, stops),
                    parse::event(line.bytes),
                    "{isa:?}, event of {text:?}"
                );
                assert_eq!(
                    trusted::locate_type_with(line.bytes, stops),
                    trusted::locate_type_in(line.bytes),
                    "{isa:?}, type of {text:?}"
                );
            }
            let located: Vec<_> = located_lines(buf, Some(&index)).collect();
            let scanned: Vec<_> = located_lines(buf, None).collect();
            assert_eq!(located, scanned, "{isa:?} located lines of {buf:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::parse;

    /// The lines read off the index are those memchr finds.
    #[test]
    fn indexed_lines_are_the_lines() {
        let mut buf = Vec::new();
        for i in 0..300 {
            buf.extend(std::iter::repeat_n(b'x', i % 70));
            buf.extend(std::iter::repeat_n(b'\n', 1 + i % 3));
        }
        buf.extend_from_slice(b"partial");
        for end in [0, 1, 63, 64, 65, 500, buf.len() - 7, buf.len()] {
            let chunk = &buf[..end];
            let expected: Vec<_> = Lines::new(chunk).collect();
            for isa in simd::available() {
                let index = Index::with(isa, chunk).expect("UTF-8");
                let got: Vec<_> = lines(chunk, Some(&index)).collect();
                assert_eq!(got, expected, "{isa:?}, {end} bytes");
            }
            assert_eq!(lines(chunk, None).collect::<Vec<_>>(), expected);
        }
    }

    /// A chunk that is not UTF-8 gets no index; a line of another buffer gets no stops.
    #[test]
    fn no_index_for_bad_utf8_and_no_stops_for_other_lines() {
        for isa in simd::available() {
            assert!(Index::with(isa, b"{\"type\":\"\xff\"}\n").is_none());
            let buf = b"{\"type\":\"a\",\"data\":1,\"ts\":1}\n".to_vec();
            let index = Index::with(isa, &buf).expect("UTF-8");
            let copy = buf.clone();
            let line = Lines::new(&copy).next().unwrap();
            assert!(index.stops(line).is_none());
            let own = Lines::new(&buf).next().unwrap();
            assert!(index.stops(own).is_some());
        }
    }

    #[test]
    fn parses_agree_on_handpicked_lines() {
        let lines: &[&[u8]] = &[
            br#"{"type":"a","data":{},"ts":1}"#,
            br#" { "ts" : 5 , "data" : [1, 2.5e3, -0, true, false, null, "x"], "type" : "b" } "#,
            br#"{"type":"a\"b\\c\u00e9\ud83d\ude00","data":"\n","ts":0,"id":"i","actor":null}"#,
            br#"{"type":"a","data":{"k":{"k":[{}]}},"ts":18446744073709551615,"meta":{"m":1}}"#,
            br#"{"type":"a","data":1,"ts":18446744073709551616}"#,
            br#"{"type":"a","data":"\x","ts":1}"#,
            br#"{"type":"a","data":"\ud800","ts":1}"#,
            br#"{"type":"a","data":[1},"ts":1}"#,
            br#"{"t\u0079pe":"a","d\u0061ta":1,"ts" :1}"#,
            br#"{"type":"a","data":1,"ts":1,"x\"":{"\\":"\/"},"id":"\"q\""}"#,
            br#"{"type":"a","data":"unterminated"#,
            br#"{"type":"a","data":"a\"#,
            br#"{"type":"a","data":"a\"#,
            br#"{"type":"a","data":"a\u12"#,
            br#"{"type""#,
            br#"["a",{"k":1},5]"#,
            b"{\"type\":\"a\x01\",\"data\":1,\"ts\":1}",
            b"{\"type\":\"a\",\"data\":\"\x7f\x1f\",\"ts\":1}",
            b"{\"type\":\"a\",\"data\":\"\t\",\"ts\":1}",
            b"{\"type\":\"a\",\"data\":1,\"ts\":1}\r",
            "{\"type\":\"caf\u{e9}\",\"data\":\"\u{65e5}\u{672c}\",\"ts\":1}".as_bytes(),
        ];
        for line in lines {
            // Alone, and after an unbalanced line, shifted across a block edge.
            check::all(&[line, &b"\n"[..]].concat());
            for pad in [0, 13, 40, 63] {
                let mut buf = br#"{"type":"a","data":"open"#.to_vec();
                buf.extend(std::iter::repeat_n(b' ', pad));
                buf.push(b'\n');
                buf.extend_from_slice(line);
                buf.push(b'\n');
                check::all(&buf);
            }
        }
    }

    /// Long strings, with escapes and control characters on both sides of block edges.
    #[test]
    fn parses_agree_on_long_strings() {
        for len in [0, 1, 60, 63, 64, 65, 127, 128, 129, 300] {
            for tail in ["", "\\\"", "\\\\", "\\u00e9", "\t", "\u{e9}", "\\"] {
                let text = format!("{}{tail}", "x".repeat(len));
                let line = format!(r#"{{"type":"{text}","data":["{text}"],"ts":1,"id":"{text}"}}"#);
                check::all(format!("{line}\n").as_bytes());
            }
        }
    }

    /// The folds that read the index (borrowed and owned events, sequential and parallel,
    /// over many chunks) fold what the scalar parser reads, line by line, and stop at the
    /// first bad line with its offset and the scalar parser's message.
    #[test]
    fn indexed_folds_equal_the_scalar_parse() {
        use crate::format::fold::{Borrowed, Owned, Trust, Until, fold_sequential, fold_threads};
        fn borrowed(mut acc: Vec<String>, e: &crate::EventRef<'_>) -> Vec<String> {
            acc.push(format!(
                "{} {} {:?} {}",
                e.event_type(),
                e.ts(),
                e.id(),
                e.data_raw()
            ));
            acc
        }
        fn owned(mut acc: Vec<String>, e: &crate::Event) -> Vec<String> {
            acc.push(format!("{} {} {:?} {}", e.event_type, e.ts, e.id, e.data));
            acc
        }
        let mut buf = Vec::new();
        for i in 0..6000u64 {
            let text = r#"\\\"é\t"#.repeat((i % 7) as usize);
            let line = format!(
                r#"{{"type":"t{}","data":{{"s":"{text}","n":[{i},1.5]}},"ts":{i},"id":"e{i}"}}"#,
                i % 5
            );
            buf.extend_from_slice(line.as_bytes());
            buf.extend(std::iter::repeat_n(b'\n', 1 + (i % 3 == 0) as usize));
        }
        // More than one 256 KiB window for the sequential fold.
        assert!(buf.len() > 300 << 10);
        for bad in [None, Some(0), Some(1000), Some(buf.len() - 30)] {
            let mut buf = buf.clone();
            if let Some(at) = bad {
                // A control character in a string, which the stops find.
                let quote = at + buf[at..].iter().position(|&b| b == b'"').unwrap();
                buf[quote + 1] = 0x01;
            }
            let mut expected = Vec::new();
            let mut expected_owned = Vec::new();
            let mut expected_bad = None;
            for line in Lines::new(&buf) {
                match (parse::envelope(line.bytes), parse::event(line.bytes)) {
                    (Ok(env), Ok(event)) => {
                        expected = borrowed(expected, &crate::EventRef::from_envelope(env));
                        expected_owned = owned(expected_owned, &event);
                    }
                    (Err(e), Err(_)) => {
                        expected_bad = Some((line.start, e));
                        break;
                    }
                    (env, event) => panic!("the parsers disagree: {env:?}, {event:?}"),
                }
            }
            assert_eq!(expected_bad.is_some(), bad.is_some());
            let seq = fold_sequential(
                &buf,
                Vec::new(),
                &Borrowed(borrowed),
                Until::END,
                Trust::NONE,
            );
            assert_eq!((&seq.acc, &seq.bad), (&expected, &expected_bad));
            let par = fold_threads(
                &buf,
                Vec::new(),
                &Borrowed(borrowed),
                Until::END,
                Trust::NONE,
                4096,
                2,
                || (),
            )
            .0;
            assert_eq!((&par.acc, &par.bad), (&expected, &expected_bad));
            assert_eq!(par.last, seq.last);
            let seq_owned =
                fold_sequential(&buf, Vec::new(), &Owned(owned), Until::END, Trust::NONE);
            let par_owned = fold_threads(
                &buf,
                Vec::new(),
                &Owned(owned),
                Until::END,
                Trust::NONE,
                4096,
                2,
                || (),
            )
            .0;
            assert_eq!(seq_owned.acc.len(), expected.len());
            assert_eq!(
                (&par_owned.acc, &par_owned.bad),
                (&seq_owned.acc, &expected_bad)
            );
        }
    }

    /// Bytes that matter to JSON's grammar, and a few that do not belong in it.
    const INTERESTING: &[u8] =
        b"{}[]:,\"\\ \t\r\n\x01\x1f\x7f\xc3\xa9\xff0123456789-+.eEtrufalsn/bu";

    fn mutation() -> impl proptest::strategy::Strategy<Value = (usize, u8)> {
        use proptest::prelude::*;
        let byte = prop_oneof![
            any::<u8>(),
            proptest::sample::select(INTERESTING),
            proptest::sample::select(INTERESTING),
        ];
        (0usize..400, byte)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(5000))]
        /// Lines mutated at a few bytes and perhaps cut short, among good lines: every line
        /// parses the same with its chunk's stops as without.
        #[test]
        fn parses_agree_on_mutated_lines(
            which in 0usize..4,
            mutations in proptest::collection::vec(mutation(), 1..4),
            cut in 0usize..400,
            pad in 0usize..64,
        ) {
            let bases: [&[u8]; 4] = [
                r#"{"type":"todo_added","data":{"id":1,"tags":["x"],"text":"tab\there \"q\" \\ é"},"ts":1700000000,"id":"evt-1","actor":"u1"}"#.as_bytes(),
                br#"{"type":"n","data":[123456,-98,0.25,7e10,{"k":"v\n\u00e9"}],"ts":5,"meta":{"z":[true,false,null]}}"#,
                br#"{ "data" : { "a" : [ ] , "b" : { } } , "ts" : 0 , "type" : "" , "x" : "\/" }"#,
                r#"{"type":"user_renamed","data":{"from":"Zoë","to":"back\\slash"},"ts":17,"meta":null}"#.as_bytes(),
            ];
            let mut line = bases[which].to_vec();
            for (pos, byte) in mutations {
                let pos = pos % line.len();
                line[pos] = byte;
            }
            line.truncate(cut.max(1));
            let good = bases[(which + 1) % 4];
            let mut buf = good.to_vec();
            buf.extend(std::iter::repeat_n(b' ', pad));
            buf.push(b'\n');
            buf.extend_from_slice(&line);
            buf.push(b'\n');
            buf.extend_from_slice(good);
            buf.push(b'\n');
            check::all(&buf);
        }
    }
}
