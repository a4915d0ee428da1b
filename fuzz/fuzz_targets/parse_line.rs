//! The line parser: arbitrary bytes as one line of `app.jsonl`.
//!
//! `EventRef::parse` must never panic, must accept exactly the lines serde_json accepts as an
//! `Event` (except that every read path refuses a JSON array in place of the event object,
//! which serde_json alone would read), and a line it accepts must decode to the same event
//! (`to_event` builds `data` and `meta` with the parser's own value builder, which the owned
//! read paths use too, so this also holds that builder to serde_json's values).

#![no_main]

use eventfold::{Event, EventRef};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &[u8]| {
    let parsed = EventRef::parse(line);
    if let Ok(event) = &parsed {
        let _ = event.event_type();
        let _ = event.data();
        let _ = event.meta();
        let _ = event.data_raw();
        let _ = event.meta_raw();
        // `data` was validated when the line was parsed, so it always deserializes.
        event
            .data_as::<serde_json::Value>()
            .expect("data of an accepted line does not deserialize");
    }
    match std::str::from_utf8(line) {
        Ok(text) => {
            let array = text
                .trim_start_matches([' ', '\t', '\n', '\r'])
                .starts_with('[');
            let reference = serde_json::from_str::<Event>(text).map_err(|e| e.to_string());
            let reference = if array {
                Err("an array is refused in place of the event object".to_string())
            } else {
                reference
            };
            match (&parsed, &reference) {
                (Ok(event), Ok(expected)) => assert_eq!(
                    &event.to_event(),
                    expected,
                    "EventRef and serde_json decode {text:?} differently"
                ),
                (Err(_), Err(_)) => {}
                (Ok(_), Err(e)) => panic!("EventRef accepts {text:?}, serde_json refuses: {e}"),
                (Err(e), Ok(_)) => panic!("serde_json accepts {text:?}, EventRef refuses: {e}"),
            }
        }
        // A line must be UTF-8 as a whole.
        Err(_) => assert!(parsed.is_err(), "EventRef accepts invalid UTF-8: {line:?}"),
    }
});
