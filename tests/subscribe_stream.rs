//! Catch-up subscriptions as async streams (the `tokio` feature, which the dev-dependencies
//! turn on): the same items as the blocking subscription, across rotations, woken by appends
//! from another thread, ended by an error.

mod common;

use common::{numbered_events, test_dir};
use eventfold::{EventLog, HistoryEvent, Position, Since, SubscriptionItem, SubscriptionStream};
use std::time::Duration;

/// What a subscriber saw: the events, and how many of them came before each `CaughtUp`.
#[derive(Debug, Default)]
struct Seen {
    events: Vec<HistoryEvent>,
    caught_up_after: Vec<usize>,
}

/// Pulls items until none comes within `quiet`.
async fn drain(stream: &mut SubscriptionStream, seen: &mut Seen, quiet: Duration) {
    while let Ok(item) = tokio::time::timeout(quiet, stream.next()).await {
        match item.expect("the stream ended").expect("the stream failed") {
            SubscriptionItem::Event(event) => seen.events.push(event),
            SubscriptionItem::CaughtUp(at) => {
                let expected = seen.events.last().map_or(at, |e| e.end);
                assert_eq!(at, expected, "CaughtUp names the next position");
                seen.caught_up_after.push(seen.events.len());
            }
            other => panic!("unexpected item {other:?}"),
        }
    }
}

/// Pulls until `count` events have been seen; panics after a generous minute.
async fn until(stream: &mut SubscriptionStream, seen: &mut Seen, count: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while seen.events.len() < count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {count} events arrived",
            seen.events.len()
        );
        drain(stream, seen, Duration::from_millis(50)).await;
    }
}

fn history(log: &EventLog) -> Vec<HistoryEvent> {
    log.reader()
        .read_history(Position::START)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_up_then_follows_new_events_across_rotations() {
    let dir = test_dir();
    let mut log = EventLog::builder(dir.path())
        .max_log_size(600)
        .open()
        .unwrap();
    let events = numbered_events(0, 2000);
    // More than one batch of history before the stream starts.
    log.append_batch(&events[..1500]).unwrap();
    let mut stream = log.reader().subscribe(Since::Start).unwrap().into_stream();
    let mut seen = Seen::default();
    until(&mut stream, &mut seen, 1500).await;
    drain(&mut stream, &mut seen, Duration::from_millis(50)).await;
    assert_eq!(seen.caught_up_after, [1500]);
    for (i, event) in events[1500..].iter().enumerate() {
        log.append(event).unwrap();
        if i % 50 == 0 {
            drain(&mut stream, &mut seen, Duration::from_millis(5)).await;
        }
    }
    log.rotate().unwrap();
    until(&mut stream, &mut seen, events.len()).await;
    drain(&mut stream, &mut seen, Duration::from_millis(100)).await;
    assert_eq!(seen.events, history(&log), "every event once, in order");
    assert_eq!(seen.caught_up_after, [1500]);
}

/// The stream and the blocking subscription run the same cursor: from every starting point,
/// they yield the same items.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yields_what_the_blocking_subscription_yields() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    for (i, event) in numbered_events(0, 30).iter().enumerate() {
        log.append(event).unwrap();
        if i % 10 == 9 {
            log.rotate().unwrap();
        }
    }
    let all = history(&log);
    let starts = [Since::Start, Since::Now]
        .into_iter()
        .chain([0, 9, 10, 17, 29].map(|k| Since::After(all[k].position)));
    for since in starts {
        let reader = log.reader();
        let blocking = tokio::task::spawn_blocking(move || {
            let mut sub = reader.subscribe(since).unwrap();
            let mut items = Vec::new();
            while let Some(item) = sub.next_timeout(Duration::from_millis(50)).unwrap() {
                items.push(item);
            }
            items
        })
        .await
        .unwrap();
        let mut stream = log.reader().subscribe(since).unwrap().into_stream();
        let mut items = Vec::new();
        while let Ok(item) = tokio::time::timeout(Duration::from_millis(50), stream.next()).await {
            items.push(item.unwrap().unwrap());
        }
        assert_eq!(items, blocking, "from {since:?}");
        assert!(matches!(items.last(), Some(SubscriptionItem::CaughtUp(_))));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_stream_wakes_for_an_append_from_another_thread() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    let mut stream = log.reader().subscribe(Since::Now).unwrap().into_stream();
    assert!(matches!(
        stream.next().await,
        Some(Ok(SubscriptionItem::CaughtUp(Position::START)))
    ));
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        log.append(&common::dummy_event("wake")).unwrap();
        log
    });
    let item = tokio::time::timeout(Duration::from_secs(30), stream.next())
        .await
        .expect("no event within 30 s");
    match item {
        Some(Ok(SubscriptionItem::Event(event))) => assert_eq!(event.event.event_type, "wake"),
        other => panic!("unexpected {other:?}"),
    }
    drop(writer.join().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_line_ends_the_stream_with_its_error() {
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    log.append(&common::dummy_event("good")).unwrap();
    common::append_bytes(&dir.path().join("app.jsonl"), b"not json\n");
    let mut stream = log.reader().subscribe(Since::Start).unwrap().into_stream();
    assert!(matches!(
        stream.next().await,
        Some(Ok(SubscriptionItem::Event(_)))
    ));
    let err = stream.next().await.unwrap().unwrap_err();
    assert!(matches!(
        eventfold::Error::from_io(&err),
        Some(eventfold::Error::Malformed { line: 2, .. })
    ));
    assert!(stream.next().await.is_none());
    assert!(stream.next().await.is_none(), "and stays ended");
}

/// The `Stream` trait, as combinators from the futures crates would drive it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn it_is_a_futures_stream() {
    use futures_core::Stream;
    use std::pin::Pin;
    let dir = test_dir();
    let mut log = EventLog::open(dir.path()).unwrap();
    log.append_batch(&numbered_events(0, 3)).unwrap();
    let mut stream = log.reader().subscribe(Since::Start).unwrap().into_stream();
    let mut kinds = Vec::new();
    for _ in 0..4 {
        let item = std::future::poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await;
        kinds.push(match item.unwrap().unwrap() {
            SubscriptionItem::Event(e) => e.index.to_string(),
            SubscriptionItem::CaughtUp(_) => "caught up".to_string(),
            other => panic!("unexpected {other:?}"),
        });
    }
    assert_eq!(kinds, ["0", "1", "2", "caught up"]);
}

/// A stream may start before any writer: until the log exists, the history is empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_started_before_the_log_exists_sees_its_first_event() {
    let dir = test_dir();
    let reader = eventfold::EventReader::new(dir.path());
    let mut stream = reader.subscribe(Since::Start).unwrap().into_stream();
    assert!(matches!(
        stream.next().await,
        Some(Ok(SubscriptionItem::CaughtUp(Position::START)))
    ));
    let mut log = EventLog::open(dir.path()).unwrap();
    log.append(&common::dummy_event("first")).unwrap();
    let mut seen = Seen::default();
    until(&mut stream, &mut seen, 1).await;
    assert_eq!(seen.events[0].event.event_type, "first");
}
