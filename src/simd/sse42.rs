//! Byte classification with SSE4.2: four 16-byte vectors per block.

use super::{Masks, padded_tail};
use std::arch::x86_64::*;

#[target_feature(enable = "sse4.2")]
#[inline]
fn eq(v: __m128i, c: u8) -> __m128i {
    _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8))
}

#[target_feature(enable = "sse4.2")]
#[inline]
fn or(a: __m128i, b: __m128i) -> __m128i {
    _mm_or_si128(a, b)
}

/// The classes of 16 bytes, as comparison results (a byte of ones where the class holds), in
/// the order of the fields of [`Masks`].
#[target_feature(enable = "sse4.2")]
#[inline]
fn classes(v: __m128i) -> [__m128i; 5] {
    // `[` and `]` differ from `{` and `}` in bit 5 alone, and no other byte becomes `{` or `}`
    // when that bit is set.
    let folded = or(v, _mm_set1_epi8(0x20));
    let op = or(
        or(eq(folded, b'{'), eq(folded, b'}')),
        or(eq(v, b':'), eq(v, b',')),
    );
    let ws = or(
        or(eq(v, b' '), eq(v, b'\t')),
        or(eq(v, b'\n'), eq(v, b'\r')),
    );
    // Unsigned: a byte is below 0x20 when the smaller of it and 0x1F is itself.
    let ctrl = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1F)), v);
    [eq(v, b'"'), eq(v, b'\\'), op, ws, ctrl]
}

/// Classifies one block of 64 bytes.
#[target_feature(enable = "sse4.2")]
#[inline]
fn classify(block: &[u8; 64]) -> Masks {
    let mut parts = [[_mm_setzero_si128(); 5]; 4];
    for (k, part) in parts.iter_mut().enumerate() {
        // SAFETY: the load reads 16 bytes inside the 64-byte array, at 16 * k for k < 4
        // (`loadu` needs no alignment).
        let v = unsafe { _mm_loadu_si128(block.as_ptr().add(16 * k).cast::<__m128i>()) };
        *part = classes(v);
    }
    // The top bit of each byte of a comparison result, one bit per byte.
    let bits = |i: usize| {
        parts.iter().enumerate().fold(0u64, |mask, (k, part)| {
            mask | u64::from(_mm_movemask_epi8(part[i]) as u16) << (16 * k)
        })
    };
    Masks {
        quote: bits(0),
        backslash: bits(1),
        op: bits(2),
        ws: bits(3),
        ctrl: bits(4),
    }
}

/// [`super::for_each_block`] with SSE4.2.
///
/// # Safety
///
/// The CPU must have SSE4.2.
#[target_feature(enable = "sse4.2")]
pub(super) unsafe fn for_each_block(chunk: &[u8], mut f: impl FnMut(Masks)) {
    let mut blocks = chunk.chunks_exact(64);
    for block in &mut blocks {
        f(classify(block.try_into().expect("a 64-byte block")));
    }
    if !blocks.remainder().is_empty() {
        f(classify(&padded_tail(blocks.remainder())));
    }
}
