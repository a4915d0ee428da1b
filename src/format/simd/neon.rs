//! Byte classification with NEON: four 16-byte vectors per block.

use super::{Masks, padded_tail};
use std::arch::aarch64::*;

/// The classes of 16 bytes, as comparison results (a byte of ones where the class holds), in
/// the order of the fields of [`Masks`].
#[target_feature(enable = "neon")]
#[inline]
fn classes(v: uint8x16_t) -> [uint8x16_t; 2] {
    let eq = |c: u8| vceqq_u8(v, vdupq_n_u8(c));
    let ctrl = vcltq_u8(v, vdupq_n_u8(0x20));
    let stops = vorrq_u8(vorrq_u8(eq(b'"'), eq(b'\\')), ctrl);
    [stops, eq(b'\n')]
}

/// One bit per byte of four comparison results (64 bytes): each byte keeps the bit of its
/// position within its group of eight, and three rounds of pairwise additions gather the
/// groups into the bytes of one 64-bit word.
#[target_feature(enable = "neon")]
#[inline]
fn to_bits(parts: [uint8x16_t; 4]) -> u64 {
    const WEIGHTS: [u8; 16] = [1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128];
    // SAFETY: the load reads the 16 bytes of `WEIGHTS`.
    let weights = unsafe { vld1q_u8(WEIGHTS.as_ptr()) };
    let [a, b, c, d] = parts.map(|p| vandq_u8(p, weights));
    let ab = vpaddq_u8(a, b);
    let cd = vpaddq_u8(c, d);
    let abcd = vpaddq_u8(ab, cd);
    let once = vpaddq_u8(abcd, abcd);
    vgetq_lane_u64::<0>(vreinterpretq_u64_u8(once))
}

/// Classifies one block of 64 bytes.
#[target_feature(enable = "neon")]
#[inline]
fn classify(block: &[u8; 64]) -> Masks {
    let mut parts = [[vdupq_n_u8(0); 2]; 4];
    for (k, part) in parts.iter_mut().enumerate() {
        // SAFETY: the load reads 16 bytes inside the 64-byte array, at 16 * k for k < 4.
        let v = unsafe { vld1q_u8(block.as_ptr().add(16 * k)) };
        *part = classes(v);
    }
    let bits = |i: usize| to_bits([parts[0][i], parts[1][i], parts[2][i], parts[3][i]]);
    Masks {
        stops: bits(0),
        newline: bits(1),
    }
}

/// [`super::for_each_block`] with NEON.
///
/// # Safety
///
/// The CPU must have NEON.
#[target_feature(enable = "neon")]
pub(super) unsafe fn for_each_block(chunk: &[u8], mut f: impl FnMut(Masks)) {
    let mut blocks = chunk.chunks_exact(64);
    for block in &mut blocks {
        f(classify(block.try_into().expect("a 64-byte block")));
    }
    if !blocks.remainder().is_empty() {
        f(classify(&padded_tail(blocks.remainder())));
    }
}
