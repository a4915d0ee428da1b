//! Layer 1, the format: the bytes of event lines. Framing and hashing lines, classifying their
//! bytes, parsing them into events, the event types themselves, and the fold engine that parses
//! a buffer of lines (in parallel where that pays) and reduces them in order. No files:
//! everything here works on byte slices, and depends on nothing else in the crate but
//! [`crate::error`].

pub(crate) mod chunk;
pub(crate) mod event;
pub(crate) mod field;
pub(crate) mod fold;
pub(crate) mod lines;
pub(crate) mod parse;
pub(crate) mod simd;
pub(crate) mod trusted;
pub(crate) mod upcast;
