//! Layer 1, the format: the bytes of an event line. Framing lines, classifying their bytes,
//! parsing them into events, and the event types themselves. No files: everything here works on
//! byte slices, and depends on nothing else in the crate but [`crate::error`].

pub(crate) mod chunk;
pub(crate) mod event;
pub(crate) mod lines;
pub(crate) mod parse;
pub(crate) mod simd;
