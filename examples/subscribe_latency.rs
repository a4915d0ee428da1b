//! Subscription latency: how long after an append begins does a subscriber hold the event?
//!
//! ```text
//! cargo run --release --features tokio --example subscribe_latency            # 2000 appends
//! cargo run --release --features tokio --example subscribe_latency -- 500     # or fewer
//! ```
//!
//! A writer appends single events (each written and fsynced before `append` returns), pausing
//! 2 ms after each so that the subscriber is caught up and asleep when the next one comes. The
//! subscriber follows the log from `Since::Now`, first as a blocking [`Subscription`] on a
//! thread, then as an async [`SubscriptionStream`] on a Tokio runtime. For each event the time
//! from the start of its `append` call to its delivery is taken; the example prints the median,
//! p90, p99 and maximum of each run, and the median time an append takes on its own, for
//! scale. The subscriber can see an event before its append returns: the line is in the file
//! before the fsync ends.
//!
//! [`Subscription`]: eventfold::Subscription
//! [`SubscriptionStream`]: eventfold::SubscriptionStream

use eventfold::{Event, EventLog, Since, SubscriptionItem};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Event indexes with a moment: when each append began, or when each event was delivered.
type Moments = Vec<(u64, Instant)>;

fn main() -> Result<(), BoxError> {
    let count: usize = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 2000,
    };
    let dir = tempfile::tempdir()?;
    println!("{count} appends of one event each, 2 ms apart; latency from append call to delivery");

    let mut log = EventLog::open(dir.path())?;
    let blocking = {
        let mut subscription = log.reader().subscribe(Since::Now)?;
        let (tx, rx) = mpsc::channel();
        let subscriber = thread::spawn(move || -> Result<(), BoxError> {
            for item in subscription.by_ref() {
                if let SubscriptionItem::Event(event) = item? {
                    tx.send((event.index, Instant::now()))?;
                }
            }
            Ok(())
        });
        let (appended, append_times) = append(&mut log, count)?;
        let delivered = collect(&rx, count)?;
        drop(subscriber); // it waits for ever; the process exits at the end
        latencies(&appended, &delivered, append_times)
    };
    report("blocking Subscription", &blocking.0, &blocking.1);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_time()
        .build()?;
    let streamed = {
        let mut stream = log.reader().subscribe(Since::Now)?.into_stream();
        let (tx, rx) = mpsc::channel();
        runtime.spawn(async move {
            while let Some(item) = stream.next().await {
                match item {
                    Ok(SubscriptionItem::Event(event)) => {
                        let _ = tx.send((event.index, Instant::now()));
                    }
                    Ok(_) => {}
                    Err(e) => panic!("the stream failed: {e}"),
                }
            }
        });
        let (appended, append_times) = append(&mut log, count)?;
        let delivered = collect(&rx, count)?;
        latencies(&appended, &delivered, append_times)
    };
    report("async SubscriptionStream", &streamed.0, &streamed.1);
    runtime.shutdown_background();
    Ok(())
}

/// Appends `count` events, 2 ms apart; returns when each append began (by event index) and how
/// long each took.
fn append(log: &mut EventLog, count: usize) -> Result<(Moments, Vec<Duration>), BoxError> {
    // Let the subscriber catch up and go to sleep first.
    thread::sleep(Duration::from_millis(200));
    let first_index = log
        .reader()
        .read_history(eventfold::Position::START)?
        .count() as u64;
    let mut began = Vec::with_capacity(count);
    let mut took = Vec::with_capacity(count);
    for n in 0..count {
        let event = Event::new("tick", serde_json::json!({ "n": n }));
        let start = Instant::now();
        log.append(&event)?;
        took.push(start.elapsed());
        began.push((first_index + n as u64, start));
        thread::sleep(Duration::from_millis(2));
    }
    Ok((began, took))
}

fn collect(rx: &mpsc::Receiver<(u64, Instant)>, count: usize) -> Result<Moments, BoxError> {
    (0..count)
        .map(|_| Ok(rx.recv_timeout(Duration::from_secs(60))?))
        .collect()
}

/// Delivery latencies, sorted, and append durations, sorted.
fn latencies(
    began: &[(u64, Instant)],
    delivered: &[(u64, Instant)],
    mut append_times: Vec<Duration>,
) -> (Vec<Duration>, Vec<Duration>) {
    let mut latencies: Vec<Duration> = began
        .iter()
        .zip(delivered)
        .map(|((a, start), (b, at))| {
            assert_eq!(a, b, "events delivered in order, each once");
            at.saturating_duration_since(*start)
        })
        .collect();
    latencies.sort();
    append_times.sort();
    (latencies, append_times)
}

fn report(what: &str, latencies: &[Duration], append_times: &[Duration]) {
    let at = |sorted: &[Duration], q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    println!(
        "{what:<26} median {:>9.3?}  p90 {:>9.3?}  p99 {:>9.3?}  max {:>9.3?}  (append alone: median {:.3?})",
        at(latencies, 0.5),
        at(latencies, 0.9),
        at(latencies, 0.99),
        at(latencies, 1.0),
        at(append_times, 0.5),
    );
}
