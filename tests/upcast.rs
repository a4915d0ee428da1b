//! Upcasting on the read path: every fold that gives events meaning (owned and `EventRef`
//! views, refreshed alone or in the shared pass, time travel, subscriptions) folds what the
//! upcasters make of the stored events, which equals folding events transformed by hand; a
//! failing upcaster names the event and leaves the view and its snapshot as they were.

mod common;

use common::{proptest_cases, test_dir};
use eventfold::{
    At, Error, Event, EventLog, EventReader, EventRef, HistoryEvent, Reshaped, Since,
    SubscriptionItem, Upcaster, Upcasters, View,
};
use eventfold_v02 as v02;
use proptest::prelude::*;
use serde_json::json;
use std::path::Path;

/// The current shape: `added` events carrying `n`; everything else is traced by type only.
/// `nested` events (made by an upcaster of text) are traced whole.
fn trace(mut state: Vec<String>, event: &Event) -> Vec<String> {
    if event.event_type == "nested" {
        let Event {
            data,
            meta,
            id,
            actor,
            ts,
            ..
        } = event;
        state.push(format!("nested {data} {meta:?} {id:?} {actor:?} {ts}"));
        return state;
    }
    let n = event.data.get("n").and_then(|n| n.as_u64());
    state.push(format!("{} {n:?} {}", event.event_type, event.ts));
    state
}

fn trace_ref(mut state: Vec<String>, event: &EventRef<'_>) -> Vec<String> {
    if event.event_type() == "nested" {
        let value = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
        let data = value(event.data_raw());
        let meta = event.meta_raw().map(value);
        let (id, actor) = (
            event.id().map(String::from),
            event.actor().map(String::from),
        );
        let ts = event.ts();
        state.push(format!("nested {data} {meta:?} {id:?} {actor:?} {ts}"));
        return state;
    }
    let n = event.data_u64("n");
    state.push(format!("{} {n:?} {}", event.event_type(), event.ts()));
    state
}

/// The upcasters under test: a rename that reshapes (for events without a schema version),
/// a versioned reshape, a chain, a split and a drop.
fn upcasters() -> Upcasters {
    Upcasters::new()
        .with(
            Upcaster::map("old_added", |mut event| {
                event.event_type = "added".into();
                event.data = json!({ "n": event.data["value"] });
                event
            })
            .when_version("schema", None),
        )
        .with(Upcaster::rename("old_added", "added").when_version("schema", 2))
        .with(Upcaster::rename("ancient", "old_added"))
        .with(Upcaster::new("split_me", |event: Event| {
            let n = event.data["n"].as_u64().ok_or("no `n`")?;
            let part = |n: u64| Event {
                event_type: "added".into(),
                data: json!({ "n": n }),
                ..event.clone()
            };
            Ok::<_, &str>(vec![part(n), part(n + 1)])
        }))
        .with(Upcaster::drop("drop_me"))
        // Upcasters of text: one whose output no other upcaster matches, and one whose output
        // goes on through `old_added`'s.
        .with(Upcaster::reshape("flat", |event| {
            let data = format!(r#"{{ "inner" : {} }}"#, event.data_raw());
            let reshaped = Reshaped::new().event_type("nested").data(data);
            Ok::<_, &str>(reshaped.meta(r#"{"schema":2}"#))
        }))
        .with(Upcaster::reshape("flat_old", |event| {
            let value = event.data_field("v").ok_or("no `v`")?;
            let reshaped = Reshaped::new().event_type("old_added");
            Ok::<_, &str>(
                reshaped
                    .data(format!(r#"{{"value":{value}}}"#))
                    .without_meta(),
            )
        }))
}

/// The same transformation, written out by hand for each stored event.
fn by_hand(event: &Event) -> Vec<Event> {
    let schema = event
        .meta
        .as_ref()
        .and_then(|meta| meta.get("schema"))
        .and_then(|v| v.as_u64());
    let with = |event_type: &str, data: serde_json::Value| Event {
        event_type: event_type.into(),
        data,
        ..event.clone()
    };
    match (event.event_type.as_str(), schema) {
        ("old_added" | "ancient", None) => vec![with("added", json!({ "n": event.data["value"] }))],
        ("old_added", Some(2)) => vec![with("added", event.data.clone())],
        ("split_me", _) => {
            let n = event.data["n"].as_u64().unwrap();
            vec![
                with("added", json!({ "n": n })),
                with("added", json!({ "n": n + 1 })),
            ]
        }
        ("drop_me", _) => vec![],
        ("flat", _) => vec![Event {
            meta: Some(json!({ "schema": 2 })),
            ..with("nested", json!({ "inner": event.data }))
        }],
        ("flat_old", _) => vec![Event {
            meta: None,
            ..with("added", json!({ "n": event.data["v"] }))
        }],
        _ => vec![event.clone()],
    }
}

fn fold_by_hand(stored: &[Event]) -> Vec<String> {
    stored
        .iter()
        .flat_map(by_hand)
        .fold(Vec::new(), |s, e| trace(s, &e))
}

/// A stored event of one of the kinds above.
fn stored_event() -> impl Strategy<Value = Event> {
    (0u8..10, 0u64..1000, 0u64..4).prop_map(|(kind, n, ts)| {
        let event = match kind {
            0 => Event::new("old_added", json!({ "value": n })),
            1 => Event::new("old_added", json!({ "n": n })).with_meta(json!({ "schema": 2 })),
            // Schema 3 is matched by no upcaster: it stays as stored.
            2 => Event::new("old_added", json!({ "n": n })).with_meta(json!({ "schema": 3 })),
            3 => Event::new("ancient", json!({ "value": n })),
            4 => Event::new("split_me", json!({ "n": n })),
            5 => Event::new("drop_me", json!({ "n": n })),
            6 => Event::new("added", json!({ "n": n })),
            7 => Event::new("flat", json!({ "x": n, "s": "a\"\u{e9}\n" }))
                .with_actor("ann \"q\"")
                .with_id(format!("e{n}")),
            8 => Event::new("flat_old", json!({ "v": n })).with_meta(json!({ "schema": 7 })),
            _ => Event::new("other", json!([n])),
        };
        Event {
            ts: 1_767_225_600 + ts,
            ..event
        }
    })
}

fn open(dir: &Path) -> EventLog {
    EventLog::builder(dir)
        .upcasters(upcasters())
        .view::<Vec<String>>("owned", trace)
        .view_ref::<Vec<String>>("borrowed", trace_ref)
        .open()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(proptest_cases(48)))]

    /// Owned and borrowed views, in the shared pass and refreshed alone, incrementally and
    /// across rotations, and `state_at` every few events: each equals the fold of the events
    /// transformed by hand.
    #[test]
    fn folds_through_upcasters_equal_folds_of_hand_transformed_events(
        stored in proptest::collection::vec(stored_event(), 1..60),
        rotate_at in 0usize..60,
        refresh_at in 0usize..60,
    ) {
        let dir = test_dir();
        let mut log = open(dir.path());
        for (i, event) in stored.iter().enumerate() {
            log.append(event).unwrap();
            if i == rotate_at {
                log.rotate().unwrap();
            }
            if i == refresh_at {
                log.refresh_all().unwrap();
            }
        }
        log.refresh_all().unwrap();
        let expected = fold_by_hand(&stored);
        prop_assert_eq!(log.view::<Vec<String>>("owned").unwrap(), &expected);
        prop_assert_eq!(log.view::<Vec<String>>("borrowed").unwrap(), &expected);

        // Each view refreshed alone (not in the shared pass), from scratch.
        let reader = log.reader();
        let views = dir.path().join("alone");
        std::fs::create_dir_all(&views).unwrap();
        let mut owned = View::new("owned", trace, &views);
        let mut borrowed = View::new_ref("borrowed", trace_ref, &views);
        prop_assert_eq!(owned.refresh(&reader).unwrap(), &expected);
        prop_assert_eq!(borrowed.refresh(&reader).unwrap(), &expected);

        // The past: after each stored event (the index counts stored events).
        for k in (0..stored.len()).step_by(7) {
            let past = fold_by_hand(&stored[..=k]);
            prop_assert_eq!(log.state_at::<Vec<String>>("owned", At::Event(k as u64)).unwrap(), past.clone());
            prop_assert_eq!(log.state_at::<Vec<String>>("borrowed", At::Event(k as u64)).unwrap(), past);
        }

        // The raw paths hand over the events as stored.
        let raw: Vec<Event> = log.read_full().unwrap().map(|r| r.unwrap().0).collect();
        prop_assert_eq!(raw, stored);
    }
}

/// The folds of the parallel engine (a log large enough to be parsed on several threads, its
/// sealed blocks read trusted) upcast as the sequential path does.
#[test]
fn a_large_log_folds_through_upcasters_on_several_threads() {
    let dir = test_dir();
    let stored: Vec<Event> = (0..40_000u64)
        .map(|i| match i % 10 {
            0 => Event::new("old_added", json!({ "value": i, "pad": "x".repeat(40) })),
            3 => Event::new("split_me", json!({ "n": i })),
            _ => Event::new("added", json!({ "n": i, "pad": "x".repeat(40) })),
        })
        .collect();
    let mut log = EventLog::builder(dir.path())
        .upcasters(upcasters())
        .replay_threads(3)
        .open()
        .unwrap();
    log.append_batch(&stored).unwrap();
    assert!(
        log.active_log_size().unwrap() > 3 << 20,
        "large enough for the parallel path"
    );
    let expected = fold_by_hand(&stored);
    let reader = log.reader();
    let views = dir.path().join("views");
    let mut owned = View::new("owned", trace, &views);
    let mut borrowed = View::new_ref("borrowed", trace_ref, &views);
    assert_eq!(owned.refresh(&reader).unwrap(), &expected);
    assert_eq!(borrowed.refresh(&reader).unwrap(), &expected);
    // A second replay reads the blocks the first sealed, trusted.
    assert_eq!(borrowed.rebuild(&reader).unwrap(), &expected);
}

/// A directory written by eventfold 0.2.0 with an old type name, an archive frame and an
/// active log: read through an upcaster, the views see the new name.
#[test]
fn a_log_written_by_v02_with_an_old_type_name() {
    let dir = test_dir();
    {
        let mut old = v02::EventLog::builder(dir.path()).open().unwrap();
        for (i, title) in ["milk", "bread", "eggs"].iter().enumerate() {
            let event = v02::Event::new("todo_created", json!({ "title": title }));
            old.append(&event).unwrap();
            if i == 1 {
                old.rotate().unwrap();
            }
        }
    }
    fn texts(mut texts: Vec<String>, event: &EventRef<'_>) -> Vec<String> {
        if event.event_type() == "todo_added" {
            texts.extend(event.data_str("text").map(String::from));
        }
        texts
    }
    let upcaster = Upcaster::map("todo_created", |mut event| {
        event.event_type = "todo_added".into();
        event.data = json!({ "text": event.data["title"] });
        event
    });
    let mut log = EventLog::builder(dir.path())
        .upcaster(upcaster)
        .view_ref::<Vec<String>>("texts", texts)
        .open()
        .unwrap();
    assert!(
        log.archive_path().exists(),
        "0.2.0 rotated into the archive"
    );
    log.append(&Event::new("todo_added", json!({ "text": "tea" })))
        .unwrap();
    log.refresh_all().unwrap();
    assert_eq!(
        log.view::<Vec<String>>("texts").unwrap(),
        &["milk", "bread", "eggs", "tea"]
    );
    let stored: Vec<String> = log
        .read_full()
        .unwrap()
        .map(|r| r.unwrap().0.event_type)
        .collect();
    assert_eq!(
        stored,
        ["todo_created", "todo_created", "todo_created", "todo_added"]
    );
}

/// A log whose views are saved after three good events, then gets an event that the upcaster
/// fails on (`fails` true) and a good one.
fn failing_log(dir: &Path, failure: Upcaster) -> (EventLog, eventfold::AppendResult) {
    let mut log = EventLog::builder(dir)
        .upcaster(failure)
        .view::<Vec<String>>("owned", trace)
        .view_ref::<Vec<String>>("borrowed", trace_ref)
        .open()
        .unwrap();
    for n in 0..3 {
        log.append(&Event::new("checked", json!({ "n": n, "fails": false })))
            .unwrap();
    }
    log.refresh_all().unwrap();
    let bad = log
        .append(&Event::new("checked", json!({ "n": 3, "fails": true })))
        .unwrap();
    log.append(&Event::new("checked", json!({ "n": 4, "fails": false })))
        .unwrap();
    (log, bad)
}

fn returns_an_error() -> Upcaster {
    Upcaster::new("checked", |event: Event| {
        if event.data["fails"] == true {
            return Err(format!("cannot upcast n = {}", event.data["n"]));
        }
        let meta = Some(json!({ "schema": 1 }));
        Ok(vec![Event { meta, ..event }])
    })
    .when_version("schema", None)
}

fn panics() -> Upcaster {
    Upcaster::map("checked", |event| {
        assert!(event.data["fails"] != true, "the upcaster's own bug");
        Event {
            meta: Some(json!({ "schema": 1 })),
            ..event
        }
    })
    .when_version("schema", None)
}

/// Checks the error of a refresh that met the failing event: it names the file, byte offset
/// and line of the event; and that the views and their snapshots are as they were.
fn check_failure(failure: Upcaster, says: &str) {
    let dir = test_dir();
    let (mut log, bad) = failing_log(dir.path(), failure);
    let snapshots = ["owned", "borrowed"]
        .map(|name| std::fs::read(dir.path().join(format!("views/{name}.snapshot.json"))).unwrap());
    let before = log.view::<Vec<String>>("owned").unwrap().clone();
    assert_eq!(before.len(), 3);

    let err = log
        .refresh_all()
        .expect_err("the upcaster fails on the fourth event");
    match Error::from_io(&err) {
        Some(Error::Upcast {
            path,
            offset,
            line,
            event_type,
            reason,
        }) => {
            assert!(path.ends_with("app.jsonl"), "{path:?}");
            assert_eq!(*offset, bad.start_offset);
            assert_eq!(*line, 4);
            assert_eq!(event_type, "checked");
            assert!(reason.contains(says), "{reason}");
        }
        other => panic!("expected an upcast error, got {other:?} ({err})"),
    }
    assert!(
        err.to_string()
            .contains(&format!("byte {} (line 4)", bad.start_offset)),
        "{err}"
    );
    for name in ["owned", "borrowed"] {
        assert_eq!(log.view::<Vec<String>>(name).unwrap(), &before, "{name}");
    }
    let after = ["owned", "borrowed"]
        .map(|name| std::fs::read(dir.path().join(format!("views/{name}.snapshot.json"))).unwrap());
    assert_eq!(after, snapshots);

    // Refreshed alone, and back in time: the same error.
    let reader = log.reader();
    let mut alone = View::new_ref("alone", trace_ref, &dir.path().join("alone"));
    let err = alone.refresh(&reader).expect_err("the same event fails");
    assert!(
        matches!(Error::from_io(&err), Some(Error::Upcast { line: 4, .. })),
        "{err}"
    );
    assert!(log.state_at::<Vec<String>>("owned", At::Event(2)).is_ok());
    assert!(log.state_at::<Vec<String>>("owned", At::Event(3)).is_err());
}

#[test]
fn an_upcaster_that_returns_an_error_names_the_event() {
    check_failure(returns_an_error(), "cannot upcast n = 3");
}

#[test]
fn an_upcaster_that_panics_names_the_event() {
    check_failure(panics(), "the upcaster's own bug");
}

/// An upcaster of text that writes text that is not one JSON value for the failing event:
/// `data` cut short, or `data` followed by a field of its own.
fn writes_bad_text(bad: &'static str) -> Upcaster {
    Upcaster::reshape("checked", move |event| {
        let data = match event.data_bool("fails") {
            Some(true) => bad.to_string(),
            _ => event.data_raw().to_string(),
        };
        Ok::<_, &str>(Reshaped::new().data(data).meta(r#"{"schema":1}"#))
    })
    .when_version("schema", None)
}

#[test]
fn an_upcaster_of_text_that_writes_bad_json_names_the_event() {
    for bad in [r#"{"n":3"#, r#"{"n":3},"ts":1"#] {
        check_failure(writes_bad_text(bad), "`data` is not one JSON value");
        // Applied to an owned event, it says the same.
        let upcasters = Upcasters::new().with(writes_bad_text(bad));
        let failing = Event::new("checked", json!({ "n": 3, "fails": true }));
        let err = upcasters.upcast(failing).expect_err("bad text");
        let says = err.to_string();
        assert!(says.contains("`data` is not one JSON value"), "{says}");
        assert!(!says.contains("returned an error"), "{says}");
        let fine = Event::new("checked", json!({ "n": 4, "fails": false }));
        let made = upcasters.upcast(fine.clone()).unwrap();
        assert_eq!(made, [fine.with_meta(json!({ "schema": 1 }))]);
    }
}

#[test]
fn an_upcaster_of_text_that_panics_names_the_event() {
    let panics = Upcaster::reshape("checked", |event| {
        assert!(
            event.data_bool("fails") != Some(true),
            "the upcaster's own bug"
        );
        Ok::<_, &str>(Reshaped::new().meta(r#"{"schema":1}"#))
    })
    .when_version("schema", None);
    check_failure(panics, "the upcaster's own bug");
}

/// A failure that comes after new events the upcaster accepts: the refresh keeps none of
/// them. The views of the shared pass and a view refreshed alone keep their state and snapshot;
/// refreshed again they fail the same way; and once the upcaster accepts the event, the
/// refresh folds every new event exactly once, which shows that the offset stayed put.
#[test]
fn a_failure_after_new_events_leaves_the_views_as_they_were() {
    // Three good events, folded and saved; then three good new ones, the bad one, a good one.
    let dir = test_dir();
    let mut log = EventLog::builder(dir.path())
        .upcaster(returns_an_error())
        .view::<Vec<String>>("owned", trace)
        .view_ref::<Vec<String>>("borrowed", trace_ref)
        .open()
        .unwrap();
    let views = dir.path().join("views");
    let mut alone = View::new_ref("alone", trace_ref, &views);
    let mut alone_owned = View::new("alone_owned", trace, &views);
    let checked = |n: u64, fails: bool| Event::new("checked", json!({ "n": n, "fails": fails }));
    for n in 0..3 {
        log.append(&checked(n, false)).unwrap();
    }
    log.refresh_all().unwrap();
    let failing = log.reader();
    alone.refresh(&failing).unwrap();
    alone_owned.refresh(&failing).unwrap();
    alone.save().unwrap();
    alone_owned.save().unwrap();
    for n in 3..6 {
        log.append(&checked(n, false)).unwrap();
    }
    let bad = log.append(&checked(6, true)).unwrap();
    log.append(&checked(7, false)).unwrap();

    let snapshots = || {
        ["owned", "borrowed", "alone", "alone_owned"]
            .map(|name| std::fs::read(views.join(format!("{name}.snapshot.json"))).unwrap())
    };
    let saved = snapshots();
    let before = log.view::<Vec<String>>("owned").unwrap().clone();
    assert_eq!(before.len(), 3);
    for _ in 0..2 {
        let err = log.refresh_all().expect_err("the seventh event fails");
        assert!(
            matches!(Error::from_io(&err), Some(Error::Upcast { line: 7, offset, .. }) if *offset == bad.start_offset),
            "{err}"
        );
        for name in ["owned", "borrowed"] {
            assert_eq!(log.view::<Vec<String>>(name).unwrap(), &before, "{name}");
        }
        let err = alone.refresh(&failing).expect_err("the same event fails");
        assert!(
            matches!(Error::from_io(&err), Some(Error::Upcast { line: 7, .. })),
            "{err}"
        );
        assert_eq!(alone.state(), &before);
        let err = alone_owned
            .refresh(&failing)
            .expect_err("the same event fails");
        assert!(
            matches!(Error::from_io(&err), Some(Error::Upcast { line: 7, .. })),
            "{err}"
        );
        assert_eq!(alone_owned.state(), &before);
        assert_eq!(snapshots(), saved);
    }

    // The upcaster fixed: every new event is folded once, after the three of before.
    let lenient = log.reader().upcasting(
        Upcasters::new().with(
            Upcaster::map("checked", |event| Event {
                meta: Some(json!({ "schema": 1 })),
                ..event
            })
            .when_version("schema", None),
        ),
    );
    let mut expected = before.clone();
    let stored: Vec<Event> = log
        .reader()
        .read_from(0)
        .unwrap()
        .map(|e| e.unwrap().0)
        .collect();
    assert_eq!(stored.len(), 8);
    expected.extend(
        stored[3..]
            .iter()
            .map(|e| format!("checked {:?} {}", e.data["n"].as_u64(), e.ts)),
    );
    assert_eq!(alone.refresh(&lenient).unwrap(), &expected);
    assert_eq!(alone_owned.refresh(&lenient).unwrap(), &expected);
}

/// A failure in the archive names the archive and the offset in its decompressed stream.
#[test]
fn a_failure_in_the_archive_names_the_decompressed_offset() {
    let dir = test_dir();
    let (mut log, bad) = failing_log(dir.path(), returns_an_error());
    log.rotate()
        .expect_err("the rotation refreshes the views, which fail");
    drop(log);
    // Rotate without views, then replay the archive with them.
    let mut plain = EventLog::open(dir.path()).unwrap();
    plain.rotate().unwrap();
    drop(plain);
    let reader = eventfold::EventReader::new(dir.path())
        .upcasting(Upcasters::new().with(returns_an_error()));
    let mut view = View::new("fresh", trace, &dir.path().join("fresh"));
    let err = view.refresh(&reader).expect_err("the archived event fails");
    match Error::from_io(&err) {
        Some(Error::Upcast {
            path, offset, line, ..
        }) => {
            assert!(path.ends_with("archive.jsonl.zst"), "{path:?}");
            assert_eq!((*offset, *line), (bad.start_offset, 4));
        }
        other => panic!("expected an upcast error, got {other:?}"),
    }
    assert!(err.to_string().contains("decompressed byte"), "{err}");
}

/// A log with [`upcasters`] that holds `stored`, rotated after the first `rotate_after`.
fn upcasting_log(dir: &Path, stored: &[Event], rotate_after: Option<usize>) -> EventLog {
    let mut log = EventLog::builder(dir)
        .upcasters(upcasters())
        .open()
        .unwrap();
    for (i, event) in stored.iter().enumerate() {
        log.append(event).unwrap();
        if Some(i + 1) == rotate_after {
            log.rotate().unwrap();
        }
    }
    log
}

/// Subscriptions of a reader that carries upcasters yield upcast events; the events of a
/// split share the stored line's position.
#[test]
fn subscriptions_yield_upcast_events() {
    let dir = test_dir();
    let stored = [
        Event::new("ancient", json!({ "value": 1 })),
        Event::new("drop_me", json!({})),
        Event::new("split_me", json!({ "n": 5 })),
    ];
    let log = upcasting_log(dir.path(), &stored, None);
    let got = caught_up(&log.reader(), Since::Start);
    let expected: Vec<Event> = stored.iter().flat_map(by_hand).collect();
    let events: Vec<Event> = got.iter().map(|e| e.event.clone()).collect();
    assert_eq!(events, expected);
    assert_eq!(got[1].position, got[2].position);
    assert_eq!((got[1].index, got[2].index), (2, 2));
    let parts: Vec<(u64, u64)> = got.iter().map(|e| (e.part, e.parts)).collect();
    assert_eq!(parts, [(0, 1), (0, 2), (1, 2)]);
    // The reader's raw history is as stored.
    let raw = log
        .reader()
        .read_history(eventfold::Position::START)
        .unwrap();
    assert_eq!(raw.map(|e| e.unwrap().event).collect::<Vec<_>>(), stored);
}

/// The events a subscription yields while catching up, until it has caught up.
fn caught_up(reader: &EventReader, since: Since) -> Vec<HistoryEvent> {
    let mut got = Vec::new();
    for item in reader.subscribe(since).unwrap() {
        match item.unwrap() {
            SubscriptionItem::Event(event) => got.push(event),
            _ => break,
        }
    }
    got
}

/// A subscription resumed after any event, a part of a split included, yields exactly the
/// events after it: `AfterPart` with the event's position and part, and `After` with its
/// position once it is the last part. The split's line is in the archive, then in the active
/// log.
#[test]
fn a_subscription_resumes_inside_a_split() {
    for rotate_after in [1, 3] {
        let dir = test_dir();
        let stored = [
            Event::new("ancient", json!({ "value": 1 })),
            Event::new("split_me", json!({ "n": 5 })),
            Event::new("drop_me", json!({})),
            Event::new("split_me", json!({ "n": 7 })),
            Event::new("added", json!({ "n": 9 })),
        ];
        let log = upcasting_log(dir.path(), &stored, Some(rotate_after));
        let reader = log.reader();
        let all = caught_up(&reader, Since::Start);
        let events = |got: &[HistoryEvent]| got.iter().map(|e| e.event.clone()).collect::<Vec<_>>();
        assert_eq!(
            events(&all),
            stored.iter().flat_map(by_hand).collect::<Vec<_>>()
        );
        assert_eq!(all.len(), 6);
        for (k, handled) in all.iter().enumerate() {
            let rest = events(&all[k + 1..]);
            let resumed = caught_up(&reader, Since::AfterPart(handled.position, handled.part));
            assert_eq!(
                events(&resumed),
                rest,
                "after event {k}, rotated after {rotate_after}"
            );
            assert_eq!(
                resumed.first().map(|e| e.part),
                all.get(k + 1).map(|e| e.part)
            );
            // `After` goes on from the next stored line: it skips the rest of a split.
            let after = events(&caught_up(&reader, Since::After(handled.position)));
            let next_line = all.iter().position(|e| e.position > handled.position);
            assert_eq!(after, events(&all[next_line.unwrap_or(all.len())..]));
            if handled.part + 1 == handled.parts {
                assert_eq!(after, rest, "after event {k}");
            } else {
                assert_ne!(after, rest, "after event {k}");
            }
        }
    }
}

/// Each upcaster is applied at most once to an event and to what is made from it: one that
/// keeps its type and has no version condition is applied once, not forever; two renames
/// that undo each other stop where they started; a split whose parts keep the type is not
/// split again. The same rule holds for views and for `Upcasters::upcast`.
#[test]
fn an_upcaster_is_applied_once_along_a_chain() {
    let bump = |mut event: Event| {
        let n = event.data["n"].as_u64().unwrap_or(0);
        event.data = json!({ "n": n + 1 });
        event
    };
    let upcasters = Upcasters::new()
        .with(Upcaster::map("same", bump))
        .with(Upcaster::rename("there", "back"))
        .with(Upcaster::rename("back", "there"))
        .with(Upcaster::new("halves", |event: Event| {
            Ok::<_, &str>(vec![event.clone(), event])
        }));
    let stored = [
        Event::new("same", json!({ "n": 5 })),
        Event::new("there", json!({ "n": 1 })),
        Event::new("halves", json!({ "n": 2 })),
    ];
    let dir = test_dir();
    let mut log = EventLog::builder(dir.path())
        .upcasters(upcasters.clone())
        .view::<Vec<String>>("owned", trace)
        .view_ref::<Vec<String>>("borrowed", trace_ref)
        .open()
        .unwrap();
    for event in &stored {
        log.append(event).unwrap();
    }
    log.refresh_all().unwrap();
    let ts: Vec<u64> = log
        .reader()
        .read_from(0)
        .unwrap()
        .map(|e| e.unwrap().0.ts)
        .collect();
    let expected = vec![
        format!("same Some(6) {}", ts[0]),
        format!("there Some(1) {}", ts[1]),
        format!("halves Some(2) {}", ts[2]),
        format!("halves Some(2) {}", ts[2]),
    ];
    for name in ["owned", "borrowed"] {
        assert_eq!(log.view::<Vec<String>>(name).unwrap(), &expected, "{name}");
    }
    let by_registry: Vec<String> = stored
        .iter()
        .flat_map(|event| upcasters.upcast(event.clone()).unwrap())
        .map(|event| format!("{} {}", event.event_type, event.data))
        .collect();
    assert_eq!(
        by_registry,
        [
            r#"same {"n":6}"#,
            r#"there {"n":1}"#,
            r#"halves {"n":2}"#,
            r#"halves {"n":2}"#
        ]
    );
}

fn lines(mut state: Vec<String>, event: &EventRef<'_>) -> Vec<String> {
    state.push(String::from_utf8_lossy(event.line()).into_owned());
    state
}

/// `EventRef::line` of an upcast event is a line of that event, as its documentation says (its
/// JSON is the upcast event's), alone and in the shared pass; the raw reads keep the stored
/// lines.
#[test]
fn the_line_of_an_upcast_event_is_the_upcast_line() {
    let dir = test_dir();
    let stored = [
        r#"{"type":"ancient","data":{"s":"\u00e9"},"ts":1}"#,
        r#"{"type":"reshaped","data":{"value":2},"ts":2}"#,
        r#"{"type":"kept","data":{"n":3},"ts":3}"#,
    ];
    std::fs::write(dir.path().join("app.jsonl"), stored.join("\n") + "\n").unwrap();
    let upcasters = Upcasters::new()
        .with(Upcaster::rename("ancient", "renamed"))
        .with(Upcaster::map("reshaped", |mut event| {
            event.data = json!({ "n": event.data["value"] });
            event
        }));
    // A view alone, and two views in the shared pass.
    let reader = eventfold::EventReader::new(dir.path()).upcasting(upcasters.clone());
    std::fs::create_dir_all(dir.path().join("views")).unwrap();
    let mut alone = View::new_ref("alone", lines, &dir.path().join("views"));
    alone.rebuild(&reader).unwrap();
    let mut log = EventLog::builder(dir.path())
        .upcasters(upcasters)
        .view_ref::<Vec<String>>("lines", lines)
        .view_ref::<Vec<String>>("with_another", lines)
        .open()
        .unwrap();
    log.refresh_all().unwrap();
    let expected = [
        json!({ "type": "renamed", "data": { "s": "é" }, "ts": 1 }),
        json!({ "type": "reshaped", "data": { "n": 2 }, "ts": 2 }),
        json!({ "type": "kept", "data": { "n": 3 }, "ts": 3 }),
    ];
    let json = |lines: &[String]| -> Vec<serde_json::Value> {
        lines
            .iter()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    };
    assert_eq!(json(alone.state()), expected);
    for view in ["lines", "with_another"] {
        assert_eq!(
            json(log.view::<Vec<String>>(view).unwrap()),
            expected,
            "{view}"
        );
    }
    let raw: Vec<String> = log
        .read_full()
        .unwrap()
        .map(|read| read.unwrap().0.event_type)
        .collect();
    assert_eq!(raw, ["ancient", "reshaped", "kept"]);
}
