//! Relay throughput: events per second from an eventfold log into a JetStream stream.
//!
//! ```text
//! cargo run --release -p eventfold-relay --example relay_bench            # 100k events
//! cargo run --release -p eventfold-relay --example relay_bench -- 200000  # or more
//! ```
//!
//! It starts a `nats-server -js` of its own (file storage in a temporary directory;
//! `scripts/test-services.sh` installs the server if missing), writes the events once (about 100 bytes
//! each, a third of them in the archive), then relays the whole log into a fresh stream with
//! `until_caught_up`, three rounds for each window of outstanding acknowledgements, and prints
//! the median time and rate of each window. The time runs from the call to `run` (connecting,
//! creating the stream) until the last acknowledgement is recorded.

use eventfold::{Event, EventLog};
use eventfold_relay::Config;
use eventfold_relay_testkit::NatsServer;
use std::time::Instant;

const ROUNDS: usize = 3;
const WINDOWS: [usize; 4] = [1, 64, 1024, 4096];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: u64 = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 100_000,
    };
    let nats = NatsServer::start();
    let data = tempfile::tempdir()?;
    let outside = tempfile::tempdir()?;
    let mut log = EventLog::open(data.path())?;
    for batch in 0..count.div_ceil(1000) {
        let events: Vec<Event> = (batch * 1000..((batch + 1) * 1000).min(count))
            .map(|n| {
                let kind = ["opened", "moved", "closed"][(n % 3) as usize];
                Event::new(
                    kind,
                    serde_json::json!({ "n": n, "note": format!("event {n}") }),
                )
            })
            .collect();
        log.append_batch(&events)?;
        if batch + 1 == count.div_ceil(3000) {
            log.rotate()?;
        }
    }
    drop(log);
    println!("{count} events, nats-server -js with file storage, {ROUNDS} rounds per window");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    for window in WINDOWS {
        let mut times = Vec::new();
        for round in 0..ROUNDS {
            let stream = format!("BENCH_{window}_{round}");
            let mut config = Config::new(data.path(), &nats.url, &stream);
            config.resume_file = outside.path().join(format!("{stream}.json"));
            config.max_in_flight = window;
            config.until_caught_up = true;
            let start = Instant::now();
            let stats = runtime.block_on(eventfold_relay::run(&config, std::future::pending()))?;
            times.push(start.elapsed());
            assert_eq!(stats.published, count, "every event published");
        }
        times.sort();
        let median = times[ROUNDS / 2];
        println!(
            "max_in_flight {window:>5}: median {:>8.1?} (range {:.1?} to {:.1?}), {:>8.0} events/s",
            median,
            times[0],
            times[ROUNDS - 1],
            count as f64 / median.as_secs_f64()
        );
    }
    Ok(())
}
