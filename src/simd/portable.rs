//! Byte classification in plain Rust, one byte at a time: the reference for the SIMD versions.

use super::{Masks, padded_tail};

const QUOTE: u8 = 1;
const BACKSLASH: u8 = 2;
const OP: u8 = 4;
const WS: u8 = 8;
const CTRL: u8 = 16;

/// The classes of every byte value.
const CLASSES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = CTRL;
        i += 1;
    }
    table[b'"' as usize] = QUOTE;
    table[b'\\' as usize] = BACKSLASH;
    let ops = *b"{}[]:,";
    let mut k = 0;
    while k < ops.len() {
        table[ops[k] as usize] = OP;
        k += 1;
    }
    table[b' ' as usize] = WS;
    table[b'\t' as usize] = WS | CTRL;
    table[b'\n' as usize] = WS | CTRL;
    table[b'\r' as usize] = WS | CTRL;
    table
};

/// Classifies one block of 64 bytes.
pub(crate) fn classify(block: &[u8; 64]) -> Masks {
    let mut m = Masks::default();
    for (i, &byte) in block.iter().enumerate() {
        let class = CLASSES[usize::from(byte)];
        let bit = 1u64 << i;
        let set = |mask: &mut u64, flag: u8| {
            if class & flag != 0 {
                *mask |= bit;
            }
        };
        set(&mut m.quote, QUOTE);
        set(&mut m.backslash, BACKSLASH);
        set(&mut m.op, OP);
        set(&mut m.ws, WS);
        set(&mut m.ctrl, CTRL);
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
