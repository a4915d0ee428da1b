//! The trusted read of sealed lines: arbitrary bytes as lines of `app.jsonl` whose seal matched.
//!
//! For every line the full parser accepts, a trusted read must answer every accessor of
//! `EventRef` exactly as the parser's event does; a sealed block of such lines must fold to the
//! same events; and bytes that are no event (which only a forged seal could cover) must never
//! make the trusted read panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|buf: &[u8]| {
    eventfold::fuzzing::check_trusted_against_parser(buf);
});
