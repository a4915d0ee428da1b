//! Byte classification in plain Rust, one byte at a time: the reference for the SIMD versions.

use super::{Masks, padded_tail};

/// Classifies one block of 64 bytes.
pub(crate) fn classify(block: &[u8; 64]) -> Masks {
    let mut m = Masks::default();
    for (i, &byte) in block.iter().enumerate() {
        if byte == b'"' || byte == b'\\' || byte < 0x20 {
            m.stops |= 1 << i;
        }
        if byte == b'\n' {
            m.newline |= 1 << i;
        }
    }
    m
}

/// [`super::for_each_block`] in plain Rust.
pub(crate) fn for_each_block(chunk: &[u8], mut f: impl FnMut(Masks)) {
    let mut blocks = chunk.chunks_exact(64);
    for block in &mut blocks {
        f(classify(block.try_into().expect("a 64-byte block")));
    }
    if !blocks.remainder().is_empty() {
        f(classify(&padded_tail(blocks.remainder())));
    }
}
