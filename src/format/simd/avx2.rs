//! Byte classification with AVX2: two 32-byte vectors per block.

use super::{Masks, padded_tail};
use std::arch::x86_64::*;

/// The classes of 32 bytes, as comparison results (a byte of ones where the class holds), in
/// the order of the fields of [`Masks`].
#[target_feature(enable = "avx2")]
#[inline]
fn classes(v: __m256i) -> [__m256i; 2] {
    let eq = |c: u8| _mm256_cmpeq_epi8(v, _mm256_set1_epi8(c as i8));
    // Unsigned: a byte is below 0x20 when the smaller of it and 0x1F is itself.
    let ctrl = _mm256_cmpeq_epi8(_mm256_min_epu8(v, _mm256_set1_epi8(0x1F)), v);
    let stops = _mm256_or_si256(_mm256_or_si256(eq(b'"'), eq(b'\\')), ctrl);
    [stops, eq(b'\n')]
}

/// Classifies one block of 64 bytes.
#[target_feature(enable = "avx2")]
#[inline]
fn classify(block: &[u8; 64]) -> Masks {
    // SAFETY: both loads read 32 bytes inside the 64-byte array (`loadu` needs no alignment).
    let (lo, hi) = unsafe {
        (
            _mm256_loadu_si256(block.as_ptr().cast::<__m256i>()),
            _mm256_loadu_si256(block.as_ptr().add(32).cast::<__m256i>()),
        )
    };
    let (lo, hi) = (classes(lo), classes(hi));
    // The top bit of each byte of a comparison result, one bit per byte.
    let bits = |i: usize| {
        let low = _mm256_movemask_epi8(lo[i]) as u32;
        let high = _mm256_movemask_epi8(hi[i]) as u32;
        u64::from(low) | u64::from(high) << 32
    };
    Masks {
        stops: bits(0),
        newline: bits(1),
    }
}

/// [`super::for_each_block`] with AVX2.
///
/// # Safety
///
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn for_each_block(chunk: &[u8], mut f: impl FnMut(Masks)) {
    let mut blocks = chunk.chunks_exact(64);
    for block in &mut blocks {
        f(classify(block.try_into().expect("a 64-byte block")));
    }
    if !blocks.remainder().is_empty() {
        f(classify(&padded_tail(blocks.remainder())));
    }
}
