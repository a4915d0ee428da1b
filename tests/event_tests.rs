//! `Event`: construction, the JSON line format and its serde round trip.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::{FIXED_TS, dummy_event};
use eventfold::Event;
use serde_json::{Value, json};

fn to_line(event: &Event) -> String {
    serde_json::to_string(event).expect("an event always serializes")
}

fn from_line(line: &str) -> Event {
    serde_json::from_str(line).expect("line should parse as an event")
}

fn round_trip(event: &Event) -> Event {
    from_line(&to_line(event))
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn plain_event_survives_serialize_then_deserialize() {
    let original = dummy_event("door_opened");
    let back = round_trip(&original);
    assert_eq!(back, original);
    assert_eq!(back.event_type, "door_opened");
    assert_eq!(back.ts, FIXED_TS);
}

#[test]
fn event_with_every_metadata_field_survives_round_trip() {
    let original = dummy_event("payment_made")
        .with_id("pay-0001")
        .with_actor("acct:77")
        .with_meta(json!({"trace": "abc", "attempt": 2, "tags": ["x", "y"]}));
    let back = round_trip(&original);
    assert_eq!(back, original);
    assert_eq!(back.id.as_deref(), Some("pay-0001"));
    assert_eq!(back.actor.as_deref(), Some("acct:77"));
    assert_eq!(
        back.meta,
        Some(json!({"trace": "abc", "attempt": 2, "tags": ["x", "y"]}))
    );
}

#[test]
fn line_format_without_metadata_is_exact() {
    let mut event = Event::new("user_joined", json!({"name": "ada"}));
    event.ts = 42;
    assert_eq!(
        to_line(&event),
        r#"{"type":"user_joined","data":{"name":"ada"},"ts":42}"#
    );
}

#[test]
fn line_format_with_metadata_puts_optional_fields_last() {
    let mut event = Event::new("t", Value::Null)
        .with_id("e-1")
        .with_actor("bob");
    event = event.with_meta(json!({"k": "v"}));
    event.ts = 1;
    assert_eq!(
        to_line(&event),
        r#"{"type":"t","data":null,"ts":1,"id":"e-1","actor":"bob","meta":{"k":"v"}}"#
    );
}

#[test]
fn event_type_is_stored_under_the_key_type() {
    let value: Value = serde_json::to_value(dummy_event("renamed")).unwrap();
    let object = value
        .as_object()
        .expect("an event serializes to a JSON object");
    assert_eq!(object.get("type"), Some(&json!("renamed")));
    assert!(!object.contains_key("event_type"));
}

#[test]
fn absent_metadata_is_left_out_of_the_json() {
    let value: Value = serde_json::to_value(dummy_event("bare")).unwrap();
    let object = value.as_object().unwrap();
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["data", "ts", "type"]);
}

#[test]
fn each_metadata_field_is_written_only_when_set() {
    let only_actor = dummy_event("a").with_actor("me");
    let value = serde_json::to_value(&only_actor).unwrap();
    assert_eq!(value.get("actor"), Some(&json!("me")));
    assert!(value.get("id").is_none());
    assert!(value.get("meta").is_none());

    let only_meta = dummy_event("a").with_meta(json!(null));
    // `Some(Value::Null)` is a set field, so the key appears with a null value.
    let text = to_line(&only_meta);
    assert!(text.contains(r#""meta":null"#), "{text}");
    assert!(!text.contains(r#""id""#));
}

#[test]
fn json_without_metadata_keys_parses_to_none() {
    let event = from_line(r#"{"type":"legacy","data":{"v":1},"ts":5}"#);
    assert_eq!(event.event_type, "legacy");
    assert_eq!(event.data, json!({"v": 1}));
    assert_eq!(event.ts, 5);
    assert_eq!(event.id, None);
    assert_eq!(event.actor, None);
    assert_eq!(event.meta, None);
}

#[test]
fn json_with_explicit_null_metadata_parses_to_none() {
    let event = from_line(r#"{"type":"x","data":1,"ts":2,"id":null,"actor":null}"#);
    assert_eq!(event.id, None);
    assert_eq!(event.actor, None);
    assert_eq!(event.data, json!(1));
}

#[test]
fn unknown_keys_in_the_json_are_ignored() {
    let event = from_line(r#"{"type":"x","data":{},"ts":3,"schema":9,"extra":[1,2]}"#);
    assert_eq!(event.event_type, "x");
    assert_eq!(event.ts, 3);
    assert_eq!(event.data, json!({}));
}

#[test]
fn missing_required_fields_are_rejected() {
    let cases = [
        r#"{"data":{},"ts":1}"#,
        r#"{"type":"x","ts":1}"#,
        r#"{"type":"x","data":{}}"#,
        r#"{}"#,
    ];
    for case in cases {
        let parsed: Result<Event, _> = serde_json::from_str(case);
        assert!(
            parsed.is_err(),
            "expected {case} to be rejected, got {parsed:?}"
        );
    }
}

#[test]
fn wrongly_typed_fields_and_non_json_are_rejected() {
    let cases = [
        r#"{"type":7,"data":{},"ts":1}"#,
        r#"{"type":"x","data":{},"ts":"yesterday"}"#,
        r#"{"type":"x","data":{},"ts":-4}"#,
        r#"{"type":"x","data":{},"ts":1,"id":5}"#,
        r#"["type","data","ts"]"#,
        "not json at all",
        "",
    ];
    for case in cases {
        let parsed: Result<Event, _> = serde_json::from_str(case);
        assert!(
            parsed.is_err(),
            "expected {case:?} to be rejected, got {parsed:?}"
        );
    }
}

#[test]
fn arbitrary_json_payloads_survive_round_trip() {
    let payloads = [
        Value::Null,
        json!(true),
        json!(-17),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(0.1),
        json!(-2.5e300),
        json!("just a string"),
        json!([]),
        json!({}),
        json!([1, "two", null, [3.5, {"four": false}]]),
        json!({"nested": {"deeper": {"deepest": [1, 2, {"x": null}]}}, "empty": {}}),
    ];
    for payload in payloads {
        let event = Event {
            data: payload.clone(),
            ..dummy_event("payload")
        };
        assert_eq!(round_trip(&event).data, payload);
    }
}

#[test]
fn special_characters_survive_round_trip() {
    let awkward = [
        "héllo wörld",
        "日本語のテキスト",
        "emoji 🦀🎉 and a ZWJ 👩‍💻",
        "right-to-left שלום",
        "line one\nline two\n",
        "windows\r\nline ending",
        "tab\tseparated",
        r#"she said "hi" and left"#,
        r"back\slash \n not a newline",
        "control \u{0001} \u{001f} chars",
        "separators \u{2028} \u{2029}",
        "nul \u{0000} byte",
    ];
    for text in awkward {
        let event = Event {
            event_type: format!("type with {text}"),
            data: json!({"text": text, text: [text]}),
            ..dummy_event("ignored")
        }
        .with_actor(text)
        .with_meta(json!({"note": text}));
        let line = to_line(&event);
        assert_eq!(from_line(&line), event, "round trip changed {text:?}");
    }
}

#[test]
fn serialized_event_is_always_a_single_line() {
    let event = Event {
        event_type: "multi\nline\r\ntype".to_string(),
        data: json!({"body": "a\nb\nc", "list": ["\n", "\r", "\u{2028}"], "n": {"m": 1}}),
        ..dummy_event("x")
    }
    .with_id("id\nwith newline")
    .with_meta(json!({"multi": "x\ny"}));
    let line = to_line(&event);
    assert!(
        !line.contains('\n'),
        "serialized event contains a newline: {line}"
    );
    assert!(
        !line.contains('\r'),
        "serialized event contains a carriage return: {line}"
    );
    assert!(!line.ends_with(' '));
    assert_eq!(from_line(&line), event);
}

#[test]
fn timestamp_extremes_are_preserved() {
    for ts in [0, 1, FIXED_TS, u64::from(u32::MAX) + 1, u64::MAX] {
        let event = Event {
            ts,
            ..dummy_event("tick")
        };
        assert_eq!(round_trip(&event).ts, ts);
    }
}

#[test]
fn new_fills_in_the_current_time_and_no_metadata() {
    let before = now_secs();
    let event = Event::new("started", json!({"pid": 1}));
    let after = now_secs();
    assert!(
        before <= event.ts && event.ts <= after,
        "ts {} not in [{before}, {after}]",
        event.ts
    );
    assert_eq!(event.event_type, "started");
    assert_eq!(event.data, json!({"pid": 1}));
    assert!(event.id.is_none() && event.actor.is_none() && event.meta.is_none());
}

#[test]
fn builder_methods_set_their_field_and_nothing_else() {
    let base = dummy_event("b");

    let with_id = base.clone().with_id(String::from("owned-id"));
    assert_eq!(with_id.id.as_deref(), Some("owned-id"));
    assert_eq!(
        (with_id.actor.as_ref(), with_id.meta.as_ref()),
        (None, None)
    );
    assert_eq!((with_id.event_type.as_str(), with_id.ts), ("b", FIXED_TS));

    let with_actor = base.clone().with_actor("robot");
    assert_eq!(with_actor.actor.as_deref(), Some("robot"));
    assert_eq!(
        (with_actor.id.as_ref(), with_actor.meta.as_ref()),
        (None, None)
    );

    let with_meta = base.clone().with_meta(json!([1, 2]));
    assert_eq!(with_meta.meta, Some(json!([1, 2])));
    assert_eq!(
        (with_meta.id.as_ref(), with_meta.actor.as_ref()),
        (None, None)
    );
    assert_eq!(with_meta.data, base.data);

    let replaced = base.with_id("first").with_id("second");
    assert_eq!(replaced.id.as_deref(), Some("second"));
}

#[test]
fn equality_compares_every_field() {
    let base = dummy_event("same").with_id("1");
    assert_eq!(base.clone(), base);
    assert_ne!(
        Event {
            ts: FIXED_TS + 1,
            ..base.clone()
        },
        base
    );
    assert_ne!(
        Event {
            data: json!(null),
            ..base.clone()
        },
        base
    );
    assert_ne!(base.clone().with_id("2"), base);
    assert_ne!(base.clone().with_actor("someone"), base);
    assert_ne!(
        Event {
            event_type: "other".into(),
            ..base.clone()
        },
        base
    );
}
