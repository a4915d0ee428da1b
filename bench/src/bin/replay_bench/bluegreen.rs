//! `bluegreen`: a background rebuild of a view (`EventLog::start_rebuild`) while a writer
//! appends 1,000 events a second and refreshes after each tick, against the stop-the-world
//! rebuild of the same reducer; and the serving view's refresh latency during the rebuild
//! against the same loop without one.
//!
//! The background fold runs on `ViewConfig::rebuild_threads` threads: 1 (the default) unless
//! the variable `EVENTFOLD_BENCH_REBUILD_THREADS` says otherwise (0: as many as replays use).

use crate::data::{self, Generator, Tally, TodoStats};
use crate::{BoxError, Data};
use eventfold::{EventLog, ViewConfig};
use std::time::{Duration, Instant};

/// The writer's pace: `TICK_EVENTS` events appended as one batch every `TICK`, then a refresh.
const TICK: Duration = Duration::from_millis(10);
const TICK_EVENTS: usize = 10;
const ROUNDS: usize = 3;
/// The variable that sets the background fold's threads (see the module documentation).
const THREADS_VAR: &str = "EVENTFOLD_BENCH_REBUILD_THREADS";
/// How long the loop without a rebuild runs before each round, for the normal latency.
const NORMAL_FOR: Duration = Duration::from_secs(1);

pub fn run(data: &Data) -> Result<(), BoxError> {
    let n = data.n();
    let dir = data.sets.scratch("bluegreen");
    std::fs::create_dir_all(&dir)?;
    let mut events = Generator::new();
    data::append_events(&dir.join("app.jsonl"), &mut events, n)?;
    // On disk before anything is timed: the kernel's writeback of 100 MB must not run beside
    // the first rebuilds.
    std::fs::File::open(dir.join("app.jsonl"))?.sync_all()?;

    // Stop-the-world: the new reducer's first refresh replays the whole history.
    let rebuild_threads = match std::env::var(THREADS_VAR) {
        Ok(threads) => threads
            .parse()
            .map_err(|e| format!("{THREADS_VAR}={threads:?}: {e}"))?,
        Err(_) => 1,
    };
    let mut stw = Vec::new();
    for _ in 0..ROUNDS {
        let mut log = EventLog::builder(&dir)
            .view_with::<TodoStats>("stw", data::v03::compat, ViewConfig::new().version(2))
            .open()?;
        let start = Instant::now();
        log.refresh_all()?;
        stw.push(start.elapsed());
        drop(log);
        std::fs::remove_file(dir.join("views/stw.snapshot.json"))?;
    }

    // Every round serves the same view, a tally by type, and measures its refreshes without a
    // rebuild just before measuring them during one: the view the first round swaps in (live
    // todo ids, whose snapshot every refresh writes) costs some 4 ms a refresh with no rebuild
    // at all, so it must not be the one served in the later rounds.
    let mut normal = Vec::new();
    let mut background = Vec::new();
    let mut during = Vec::new();
    let mut swaps = Vec::new();
    for round in 0..ROUNDS {
        let mut log = serving(&dir)?;
        let mut tick = |log: &mut EventLog| -> Result<Duration, BoxError> {
            let batch: Vec<_> = (&mut events).take(TICK_EVENTS).collect();
            log.append_batch(&batch)?;
            let start = Instant::now();
            log.refresh_all()?;
            Ok(start.elapsed())
        };
        let started = Instant::now();
        while started.elapsed() < NORMAL_FOR {
            let next = Instant::now() + TICK;
            normal.push(tick(&mut log)?);
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
        }
        let config = ViewConfig::new()
            .version(2)
            .rebuild_threads(rebuild_threads);
        let handle = log.start_rebuild::<TodoStats>("v", data::v03::compat, config)?;
        loop {
            let next = Instant::now() + TICK;
            let took = tick(&mut log)?;
            if let Some(report) = handle.report() {
                // This refresh swapped the view in.
                swaps.push(took);
                background.push(report.elapsed);
                println!("  round {}: {report}", round + 1);
                break;
            }
            during.push(took);
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
        }
    }

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let stw_med = median(&mut stw);
    let bg_med = median(&mut background);
    println!(
        "{:<58} {:>10.1} ms",
        format!("stop-the-world rebuild of {n} events (median of {ROUNDS})"),
        ms(stw_med)
    );
    println!(
        "{:<58} {:>10.1} ms  {:.2}x the stop-the-world",
        format!(
            "background rebuild, rebuild_threads({rebuild_threads}), 1,000 appends/s (median of 3)"
        ),
        ms(bg_med),
        bg_med.as_secs_f64() / stw_med.as_secs_f64()
    );
    let (nm, np) = (percentile(&mut normal, 50), percentile(&mut normal, 99));
    let (dm, dp) = (percentile(&mut during, 50), percentile(&mut during, 99));
    println!(
        "{:<58} median {:.3} ms, p99 {:.3} ms ({} refreshes)",
        "refresh of the serving view, no rebuild (before each round)",
        ms(nm),
        ms(np),
        normal.len()
    );
    println!(
        "{:<58} median {:.3} ms, p99 {:.3} ms ({} refreshes): {:.2}x, {:.2}x",
        "refresh of the serving view, during the rebuilds",
        ms(dm),
        ms(dp),
        during.len(),
        dm.as_secs_f64() / nm.as_secs_f64(),
        dp.as_secs_f64() / np.as_secs_f64()
    );
    let swap = swaps
        .iter()
        .map(|d| format!("{:.1}", ms(*d)))
        .collect::<Vec<_>>();
    println!(
        "the refresh that swapped the view in: {} ms",
        swap.join(", ")
    );
    println!(
        "Each tick appends {TICK_EVENTS} events as one batch (synced) every {} ms, then refreshes; \
         the background rebuilds also fold what was appended while they ran.",
        TICK.as_millis()
    );
    Ok(())
}

/// The log with the serving view `v` (a tally by type, version 0) registered and refreshed:
/// its snapshot, which the previous round's swap replaced, is removed first, so the view
/// replays the history (not timed).
fn serving(dir: &std::path::Path) -> Result<EventLog, BoxError> {
    match std::fs::remove_file(dir.join("views/v.snapshot.json")) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }
    let mut log = EventLog::builder(dir)
        .view_ref::<Tally>("v", data::v03::type_only)
        .open()?;
    log.refresh_all()?;
    Ok(log)
}

fn median(samples: &mut [Duration]) -> Duration {
    percentile(samples, 50)
}

fn percentile(samples: &mut [Duration], p: usize) -> Duration {
    samples.sort_unstable();
    match samples.len() {
        0 => Duration::ZERO,
        len => samples[((len - 1) * p).div_ceil(100)],
    }
}
