//! `EventRef`'s field accessors read `data` as serde_json's `Value` does: the same member of
//! the same object, the same number, string or bool, whatever the nesting, the escapes or the
//! whitespace. Where a key repeats, they read the first member (a `Value` keeps the last).

use eventfold::EventRef;
use proptest::prelude::*;
use serde_json::{Map, Value};

const KEYS: [&str; 7] = ["id", "title", "n", "a", "é", "x\"y", "b\\c"];

fn arb_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        "[a-z\"\\\\é\u{1F600}\n\t/]{0,6}".prop_map(Value::String),
    ]
}

fn arb_value() -> impl Strategy<Value = Value> {
    arb_leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(&KEYS[..]), inner), 0..5).prop_map(
                |members| {
                    let map: Map<String, Value> = members
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect();
                    Value::Object(map)
                }
            ),
        ]
    })
}

/// How `data` is written on the line.
#[derive(Debug, Clone, Copy)]
enum Form {
    Compact,
    Pretty,
    /// Compact, with a first member `"id": 0` that a later one may repeat: the accessors
    /// read that first one.
    RepeatedId,
    /// Compact, with `id` written as `\u0069d`.
    EscapedKey,
}

fn data_text(data: &Value, form: Form) -> String {
    let compact = serde_json::to_string(data).unwrap();
    match form {
        Form::Compact => compact,
        Form::Pretty => serde_json::to_string_pretty(data).unwrap(),
        Form::RepeatedId if data.is_object() && compact.len() > 2 => {
            format!("{{\"id\":0,{}", &compact[1..])
        }
        Form::RepeatedId if data.is_object() => "{\"id\":0}".to_string(),
        Form::RepeatedId => compact,
        Form::EscapedKey => compact.replace("\"id\":", "\"\\u0069d\":"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn accessors_agree_with_serde_json(
        data in arb_value(),
        form in prop_oneof![
            Just(Form::Compact), Just(Form::Pretty), Just(Form::RepeatedId), Just(Form::EscapedKey)
        ],
        key in prop::sample::select(&KEYS[..]),
    ) {
        let text = data_text(&data, form);
        let line = format!(r#"{{"type":"t","data":{text},"ts":1,"id":"envelope"}}"#);
        let event = EventRef::parse(line.as_bytes()).unwrap();
        let parsed: Value = serde_json::from_str(&text).unwrap();
        let first_id = Value::from(0);
        let expected = match form {
            Form::RepeatedId if data.is_object() && key == "id" => Some(&first_id),
            _ => parsed.get(key),
        };
        let raw = event.data_field(key);
        let raw_value = raw.map(|raw| serde_json::from_str::<Value>(raw).unwrap());
        prop_assert_eq!(
            raw_value.as_ref(),
            expected,
            "{} in {}", key, text
        );
        prop_assert_eq!(event.data_u64(key), expected.and_then(Value::as_u64));
        prop_assert_eq!(event.data_i64(key), expected.and_then(Value::as_i64));
        prop_assert_eq!(
            event.data_f64(key).map(f64::to_bits),
            expected.and_then(Value::as_f64).map(f64::to_bits)
        );
        prop_assert_eq!(event.data_bool(key), expected.and_then(Value::as_bool));
        let string = event.data_str(key);
        prop_assert_eq!(string.as_deref(), expected.and_then(Value::as_str));
    }
}

#[test]
fn nested_and_envelope_ids_are_never_taken_for_data_s_own() {
    let line =
        br#"{"type":"t","data":{"a":{"id":1},"b":[{"id":2}],"s":"\"id\":3"},"ts":1,"id":"e"}"#;
    let event = EventRef::parse(line).unwrap();
    assert_eq!(event.data_field("id"), None);
    assert_eq!(event.data_u64("id"), None);
    let not_object = EventRef::parse(br#"{"type":"t","data":[{"id":1}],"ts":1}"#).unwrap();
    assert_eq!(not_object.data_field("id"), None);
}
