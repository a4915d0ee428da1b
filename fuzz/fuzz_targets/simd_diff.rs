//! The SIMD structural index against the scalar parser: arbitrary bytes as a chunk of lines.
//!
//! Every implementation the CPU runs (AVX2, SSE4.2 or NEON, and the portable one) must
//! classify the bytes as the portable one does and mark the tokens a byte-at-a-time
//! definition marks; the lines read off its newline bits must be memchr's; and the walk over
//! each line, up to the first line refused (where a fold stops), must return exactly what the
//! scalar parser returns: the same envelope, or the same error at the same byte. Nothing may
//! panic otherwise.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|buf: &[u8]| {
    eventfold::fuzzing::check_simd_against_scalar(buf);
});
