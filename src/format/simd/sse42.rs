//! Byte classification with SSE4.2: four 16-byte vectors per block.

use super::{Masks, padded_tail};
use std::arch::x86_64::*;

/// The classes of 16 bytes, as comparison results (a byte of ones where the class holds), in
/// the order of the fields of [`Masks`].
#[target_feature(enable = "sse4.2")]
#[inline]
fn classes(v: __m128i) -> [__m128i; 2] {
    let eq = |c: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8));
    // Unsigned: a byte is below 0x20 when the smaller of it and 0x1F is itself.
    let ctrl = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1F)), v);
    let stops = _mm_or_si128(_mm_or_si128(eq(b'"'), eq(b'\\')), ctrl);
    [stops, eq(b'\n')]
}

/// Classifies one block of 64 bytes.
#[target_feature(enable = "sse4.2")]
#[inline]
fn classify(block: &[u8; 64]) -> Masks {
    let mut parts = [[_mm_setzero_si128(); 2]; 4];
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
        stops: bits(0),
        newline: bits(1),
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
