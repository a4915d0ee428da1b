//! Byte classification with SIMD: the one part of a chunk's index that depends on the
//! instruction set.
//!
//! [`for_each_block`] reads a chunk 64 bytes at a time and hands [`Masks`] to a callback: one
//! bit per byte for the bytes that end a run of plain string bytes (quotes, backslashes and
//! control characters), and one for newlines. [`crate::format::chunk`] builds the index from them.
//! There is one module per instruction set, chosen once at run time ([`detected`]): AVX2 or
//! SSE4.2 on x86-64, NEON on aarch64. [`portable`] is the plain version beside them: the tests
//! check every implementation the CPU runs against it on the same bytes.
//!
//! Besides the file map (`mmap`) and one conversion in the parser, this is the only module
//! that may use `unsafe`: the intrinsics that read memory take raw pointers, and a function
//! compiled for an instruction set may only be called once the CPU is known to have it.

#![allow(unsafe_code)]

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "aarch64")]
mod neon;
mod portable;
#[cfg(target_arch = "x86_64")]
mod sse42;

use std::sync::OnceLock;

/// Setting this variable to `scalar` makes every fold parse without a chunk index, as on a CPU
/// without the instruction sets below; it is read once per process.
const PARSER_VAR: &str = "EVENTFOLD_PARSER";

/// The classes of 64 consecutive bytes: bit `i` of each mask stands for byte `i`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Masks {
    /// `"`, `\` and the bytes below 0x20: where a run of plain string bytes stops.
    pub stops: u64,
    /// `\n`
    pub newline: u64,
}

/// An implementation of [`for_each_block`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Isa {
    /// Plain Rust, one byte at a time: the reference, never chosen by [`detected`].
    Portable,
    #[cfg(target_arch = "x86_64")]
    Sse42,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "aarch64")]
    Neon,
}

/// The fastest implementation this CPU runs, or `None` when it has none of them (or when
/// [`PARSER_VAR`] asks for the scalar parser): folds then parse without a chunk index.
pub(crate) fn detected() -> Option<Isa> {
    static DETECTED: OnceLock<Option<Isa>> = OnceLock::new();
    *DETECTED.get_or_init(|| {
        if std::env::var_os(PARSER_VAR).is_some_and(|v| v == "scalar") {
            return None;
        }
        available().into_iter().rfind(|&isa| isa != Isa::Portable)
    })
}

/// Every implementation this CPU runs, the portable one first and the fastest last.
pub(crate) fn available() -> Vec<Isa> {
    #[allow(unused_mut)]
    let mut found = vec![Isa::Portable];
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("sse4.2") {
            found.push(Isa::Sse42);
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            found.push(Isa::Avx2);
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            found.push(Isa::Neon);
        }
    }
    found
}

/// Classifies `chunk` 64 bytes at a time, calling `f` with the masks of each block in order;
/// the last block is padded with spaces. `isa` must come from [`available`] (or
/// [`detected`]); on a CPU without its instruction set, the portable implementation runs
/// instead. (The feature macros cache what the CPU has: asking costs a load and a test.)
#[inline]
pub(crate) fn for_each_block(isa: Isa, chunk: &[u8], f: impl FnMut(Masks)) {
    match isa {
        Isa::Portable => portable::for_each_block(chunk, f),
        #[cfg(target_arch = "x86_64")]
        Isa::Sse42 if std::arch::is_x86_feature_detected!("sse4.2") => {
            // SAFETY: the CPU has SSE4.2, checked just above.
            unsafe { sse42::for_each_block(chunk, f) }
        }
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 if std::arch::is_x86_feature_detected!("avx2") => {
            // SAFETY: the CPU has AVX2, checked just above.
            unsafe { avx2::for_each_block(chunk, f) }
        }
        #[cfg(target_arch = "aarch64")]
        Isa::Neon if std::arch::is_aarch64_feature_detected!("neon") => {
            // SAFETY: the CPU has NEON, checked just above.
            unsafe { neon::for_each_block(chunk, f) }
        }
        #[allow(unreachable_patterns)]
        _ => portable::for_each_block(chunk, f),
    }
}

/// The last, partial block of a chunk, padded with spaces (which are in no class).
#[inline]
fn padded_tail(tail: &[u8]) -> [u8; 64] {
    let mut block = [b' '; 64];
    block[..tail.len()].copy_from_slice(tail);
    block
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(isa: Isa, chunk: &[u8]) -> Vec<Masks> {
        let mut out = Vec::new();
        for_each_block(isa, chunk, |m| out.push(m));
        out
    }

    /// Every byte value at every position of a block, and chunks of every length around the
    /// block size, classify the same with every implementation this CPU runs.
    #[test]
    fn every_implementation_agrees_with_the_portable_one() {
        let isas = available();
        assert_eq!(isas[0], Isa::Portable);
        let mut chunk: Vec<u8> = (0..=255u8).cycle().take(64 * 9 + 17).collect();
        for shift in 0..3 {
            chunk.rotate_left(shift * 7);
            for len in [0, 1, 31, 32, 33, 63, 64, 65, 127, 128, 129, chunk.len()] {
                let expected = blocks(Isa::Portable, &chunk[..len]);
                assert_eq!(expected.len(), len.div_ceil(64));
                for &isa in &isas[1..] {
                    assert_eq!(blocks(isa, &chunk[..len]), expected, "{isa:?}, {len} bytes");
                }
            }
        }
    }

    /// The portable classification, spelled out on a line of JSON.
    #[test]
    fn portable_classes_of_a_line() {
        let line = b"{\"a\\\"\": [1, 2]}\t\r\n\x01\x7f\x1f\x20";
        let m = blocks(Isa::Portable, line)[0];
        let bits = |positions: &[usize]| positions.iter().fold(0u64, |m, &i| m | 1 << i);
        assert_eq!(m.stops, bits(&[1, 3, 4, 5, 15, 16, 17, 18, 20]));
        assert_eq!(m.newline, bits(&[17]));
    }

    /// NEON is part of every aarch64 CPU that Linux runs on, so there the fast path is always
    /// the NEON one, and the test above compares it with the portable classification.
    #[cfg(target_arch = "aarch64")]
    #[test]
    fn aarch64_detects_neon() {
        assert_eq!(available(), [Isa::Portable, Isa::Neon]);
        if std::env::var_os(PARSER_VAR).is_none() {
            assert_eq!(detected(), Some(Isa::Neon));
        }
    }

    #[test]
    fn the_detected_implementation_is_available() {
        if let Some(isa) = detected() {
            assert!(available().contains(&isa));
            assert_ne!(isa, Isa::Portable);
        }
    }
}
