//! Layer 5, live: following the log as it grows. Catch-up subscriptions (blocking, and as an
//! async stream with the `tokio` feature) and follows on the scan engine.

pub(crate) mod follow;
pub(crate) mod subscribe;
