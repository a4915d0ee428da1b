//! The floor bench's known-shape locator and depth-aware walker (`benches/floor/locate.rs`)
//! against serde_json, on hand-written lines: each answers what serde_json reads, or refuses.

#[path = "../benches/floor/locate.rs"]
mod locate;

use serde::Deserialize;
use serde_json::Value;

/// What the bench's type + id reducer reads with `data_as`.
#[derive(Deserialize)]
struct TodoId {
    id: Option<u64>,
}

/// The type and `data.id` of `line` as serde_json reads them (`data_as::<TodoId>()`, an error
/// read as no id).
fn serde_reading(line: &str) -> (String, Option<u64>) {
    let value: Value = serde_json::from_str(line).expect("the test line is valid JSON");
    let event_type = value["type"].as_str().expect("a string type").to_string();
    let id = TodoId::deserialize(&value["data"]).ok().and_then(|d| d.id);
    (event_type, id)
}

/// Checks both readers on `line`; returns what they answered (`None` if refused).
fn read(line: &str) -> (Option<String>, Option<Option<u64>>) {
    let (want_type, want_id) = serde_reading(line);
    let Some(located) = locate::locate(line.as_bytes()) else {
        return (None, None);
    };
    assert_eq!(located.event_type, want_type, "type of {line}");
    let id = located.data_id();
    if let Some(id) = id {
        assert_eq!(id, want_id, "data.id of {line}");
    }
    (Some(located.event_type.to_string()), id)
}

#[test]
fn lines_as_the_writer_emits_them_are_read() {
    let cases: &[(&str, &str, Option<u64>)] = &[
        (
            r#"{"type":"todo_added","data":{"id":7,"tags":[],"text":"milk"},"ts":1}"#,
            "todo_added",
            Some(7),
        ),
        (
            r#"{"type":"todo_deleted","data":{"id":18446744073709551615},"ts":1}"#,
            "todo_deleted",
            Some(u64::MAX),
        ),
        (r#"{"type":"a","data":{},"ts":1}"#, "a", None),
        (r#"{"type":"","data":{"x":1},"ts":1}"#, "", None),
        (r#"{"type":"a","data":{"id":0}}"#, "a", Some(0)),
        // Unicode in the type, raw and in text around.
        (
            r#"{"type":"événement_日本語_🚀","data":{"id":3,"t":"é\u00e9"},"ts":1}"#,
            "événement_日本語_🚀",
            Some(3),
        ),
        // An id after keys whose values hold quotes, backslashes, braces and brackets.
        (
            r#"{"type":"a","data":{"a":"x\"}],{\\","b":[1,{"c":"]"}],"id":9},"ts":1}"#,
            "a",
            Some(9),
        ),
        (
            r#"{"type":"a","data":{"a":"\\","id":4},"ts":1}"#,
            "a",
            Some(4),
        ),
        (
            r#"{"type":"a","data":{"a":true,"b":null,"c":-1.5e3,"id":5},"ts":1}"#,
            "a",
            Some(5),
        ),
        // Whitespace inside a value the walk skips.
        (
            r#"{"type":"a","data":{"x":[1, {"y" : "z"} ],"id":3}}"#,
            "a",
            Some(3),
        ),
        // `id` only nested, or only in the envelope: the payload has none.
        (r#"{"type":"a","data":{"x":{"id":1}},"ts":1}"#, "a", None),
        (
            r#"{"type":"a","data":{"x":[{"id":1}],"y":"\"id\":2"},"ts":1}"#,
            "a",
            None,
        ),
        (
            r#"{"type":"a","data":{"x":{"y":{"id":1}},"z":2},"ts":1,"id":"evt-1"}"#,
            "a",
            None,
        ),
        (
            r#"{"type":"a","data":{"x":1},"ts":1,"id":"evt-1","meta":{"id":3}}"#,
            "a",
            None,
        ),
        // A nested `id` before the payload's own.
        (
            r#"{"type":"a","data":{"x":{"id":1},"id":2},"ts":1,"id":"evt-1"}"#,
            "a",
            Some(2),
        ),
        // A key that contains `id`.
        (
            r#"{"type":"a","data":{"idx":1,"xid":2,"id":3}}"#,
            "a",
            Some(3),
        ),
    ];
    for &(line, event_type, id) in cases {
        assert_eq!(
            read(line),
            (Some(event_type.to_string()), Some(id)),
            "{line}"
        );
    }
}

#[test]
fn a_type_that_needs_decoding_or_another_shape_is_refused() {
    for line in [
        // Escapes in the type.
        r#"{"type":"a\"b","data":{},"ts":1}"#,
        r#"{"type":"a\\b","data":{},"ts":1}"#,
        r#"{"type":"\u00e9","data":{},"ts":1}"#,
        r#"{"type":"a\nb","data":{},"ts":1}"#,
        // Whitespace.
        r#" {"type":"a","data":{},"ts":1}"#,
        r#"{ "type":"a","data":{},"ts":1}"#,
        r#"{"type": "a","data":{},"ts":1}"#,
        r#"{"type" :"a","data":{},"ts":1}"#,
        // Another key first.
        r#"{"data":{"id":1},"type":"a","ts":1}"#,
        r#"{"ts":1,"type":"a","data":{}}"#,
        // An escaped key that spells `type`.
        r#"{"\u0074ype":"a","data":{},"ts":1}"#,
    ] {
        assert_eq!(read(line), (None, None), "{line}");
    }
}

#[test]
fn a_payload_of_another_shape_is_refused() {
    for line in [
        // `data` not next, or not an object.
        r#"{"type":"a","ts":1,"data":{"id":1}}"#,
        r#"{"type":"a","data":[1],"ts":1}"#,
        r#"{"type":"a","data":5,"ts":1}"#,
        r#"{"type":"a","data":null,"ts":1}"#,
        // Whitespace.
        r#"{"type":"a","data": {"id":1},"ts":1}"#,
        r#"{"type":"a","data":{ "id":1},"ts":1}"#,
        r#"{"type":"a","data":{"id" :1},"ts":1}"#,
        r#"{"type":"a","data":{"id": 1},"ts":1}"#,
        r#"{"type":"a","data":{"id":1 },"ts":1}"#,
        r#"{"type":"a","data":{"x":1, "id":2},"ts":1}"#,
        // An escaped key (this one spells `id`).
        r#"{"type":"a","data":{"\u0069d":1},"ts":1}"#,
        r#"{"type":"a","data":{"i\"d":1,"id":2},"ts":1}"#,
        // An id that is not an unsigned integer serde reads as u64.
        r#"{"type":"a","data":{"id":"7"},"ts":1}"#,
        r#"{"type":"a","data":{"id":-7},"ts":1}"#,
        r#"{"type":"a","data":{"id":7.0},"ts":1}"#,
        r#"{"type":"a","data":{"id":7e2},"ts":1}"#,
        r#"{"type":"a","data":{"id":null},"ts":1}"#,
        r#"{"type":"a","data":{"id":{"id":1}},"ts":1}"#,
        r#"{"type":"a","data":{"id":18446744073709551616},"ts":1}"#,
    ] {
        let (event_type, id) = read(line);
        assert_eq!(event_type.as_deref(), Some("a"), "{line}");
        assert_eq!(id, None, "{line}");
    }
}

#[test]
fn a_line_cut_short_or_a_type_not_utf8_is_refused() {
    for line in [
        &br#"{"type":"a"#[..],
        br#"{"type":"a\"#,
        br#"{"type":"a","data":{"#,
        br#"{"type":"a","data":{"x":"abc"#,
        br#"{"type":"a","data":{"x":[1,{"#,
        br#"{"type":"a","data":{"id":12"#,
        br#"{"type":"a","data":{"x":"\"#,
        b"{\"type\":\"a\xff\",\"data\":{},\"ts\":1}",
        b"{\"type\":\"\xc3\",\"data\":{},\"ts\":1}",
    ] {
        let answer = locate::locate(line).and_then(|l| l.data_id());
        assert_eq!(answer, None, "{}", String::from_utf8_lossy(line));
    }
}
