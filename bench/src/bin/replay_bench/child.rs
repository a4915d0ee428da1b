//! Measures taken in child processes: peak memory (the `rss` section), and rebuilds with one
//! and with two threads (the `threads` section). Each child is this example run again with a
//! hidden flag; it does one rebuild and prints what it measured.

use crate::data::{Tally, TodoStats, v02, v03};
use crate::workloads::{
    Upcasting, rebuild_v02, rebuild_v03, rebuild_v03_ref, rebuild_v03_ref_upcast, stats_digest,
    tally_digest,
};
use crate::{BoxError, Data, ROUNDS, fmt_duration, fmt_kb, median};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// A child that samples its memory while it rebuilds.
pub const RSS_FLAG: &str = "--rss-child";
/// A child that only times its rebuild (no sampling thread competing for the CPUs).
pub const TIMED_FLAG: &str = "--timed-child";

/// The child side: one rebuild (or nothing), then `VmHWM`, the sampled peak of `RssAnon` (with
/// [`RSS_FLAG`]), the elapsed time and the state's digest on stdout.
pub fn main(flag: &str, args: &[String]) -> Result<(), BoxError> {
    let [krate, workload, dir] = args else {
        return Err(format!(
            "usage: {flag} <v02|v03> <compat|type_id|type_id_u64|type_id_upcast|type_id_reshape|type_id_rename|type_only|none> <dir>"
        )
        .into());
    };
    let dir = Path::new(dir);
    let sampler = (flag == RSS_FLAG).then(AnonSampler::start);
    let outcome = match (krate.as_str(), workload.as_str()) {
        (_, "none") => None,
        ("v02", "compat" | "type_id") => {
            Some(rebuild_v02(dir, "rss_v02", v02::compat, stats_digest)?)
        }
        ("v02", "type_only") => Some(rebuild_v02::<Tally>(
            dir,
            "rss_v02_t",
            v02::type_only,
            tally_digest,
        )?),
        ("v03", "compat") => Some(rebuild_v03::<TodoStats>(
            dir,
            "rss_v03",
            v03::compat,
            stats_digest,
        )?),
        ("v03", "type_id") => Some(rebuild_v03_ref(dir, "rss_v03", v03::type_id, stats_digest)?),
        ("v03", "type_id_u64") => Some(rebuild_v03_ref(
            dir,
            "rss_v03_u",
            v03::type_id_field,
            stats_digest,
        )?),
        ("v03", "type_id_upcast") => Some(rebuild_v03_ref_upcast(dir, Upcasting::Values)?),
        ("v03", "type_id_reshape") => Some(rebuild_v03_ref_upcast(dir, Upcasting::Text)?),
        ("v03", "type_id_rename") => Some(rebuild_v03_ref_upcast(dir, Upcasting::Renames)?),
        ("v03", "type_only") => Some(rebuild_v03_ref(
            dir,
            "rss_v03_t",
            v03::type_only,
            tally_digest,
        )?),
        _ => return Err(format!("unknown crate or workload: {krate} {workload}").into()),
    };
    let peak_anon = sampler.and_then(AnonSampler::stop);
    match status_kb("VmHWM:") {
        Some(kb) => println!("VmHWM_KB {kb}"),
        None => println!("VmHWM_KB unavailable"),
    }
    if let Some(kb) = peak_anon {
        println!("PEAK_ANON_KB {kb}");
    }
    if let Some((elapsed, digest)) = outcome {
        println!("ELAPSED_US {}", elapsed.as_micros());
        println!("DIGEST {}", digest.unwrap_or_default());
    }
    Ok(())
}

/// A field of `/proc/self/status` in kB, e.g. `VmHWM:` (peak resident set) or `RssAnon:`
/// (Linux only).
fn status_kb(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Samples `RssAnon` (heap and other anonymous memory, without mapped file pages) every
/// millisecond on a thread, keeping the maximum: the kernel keeps no peak of it.
struct AnonSampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: std::thread::JoinHandle<Option<u64>>,
}

impl AnonSampler {
    fn start() -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut peak = status_kb("RssAnon:");
            while !flag.load(Ordering::Relaxed) {
                peak = peak.max(status_kb("RssAnon:"));
                std::thread::sleep(Duration::from_millis(1));
            }
            peak.max(status_kb("RssAnon:"))
        });
        AnonSampler { stop, handle }
    }

    fn stop(self) -> Option<u64> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.handle.join().ok().flatten()
    }
}

struct ChildReport {
    hwm_kb: Option<u64>,
    anon_kb: Option<u64>,
    elapsed: Option<Duration>,
    digest: Option<String>,
}

/// Runs a child with `flag`; `threads` sets `RAYON_NUM_THREADS` for it.
fn spawn(
    flag: &str,
    krate: &str,
    workload: &str,
    dir: &Path,
    threads: Option<usize>,
) -> Result<ChildReport, BoxError> {
    let exe = std::env::current_exe()?;
    let mut command = Command::new(exe);
    command.arg(flag).arg(krate).arg(workload).arg(dir);
    if let Some(threads) = threads {
        command.env("RAYON_NUM_THREADS", threads.to_string());
    }
    let output = command.output()?;
    if !output.status.success() {
        return Err(format!(
            "the child ({flag} {krate} {workload}) failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )
        .into());
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let field = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
    };
    Ok(ChildReport {
        hwm_kb: field("VmHWM_KB ").and_then(|v| v.parse().ok()),
        anon_kb: field("PEAK_ANON_KB ").and_then(|v| v.parse().ok()),
        elapsed: field("ELAPSED_US ")
            .and_then(|v| v.parse().ok())
            .map(Duration::from_micros),
        digest: field("DIGEST "),
    })
}

// ---------------------------------------------------------------------------------------------
// Threads
// ---------------------------------------------------------------------------------------------

/// A rebuild on one thread and on two: medians of [`ROUNDS`] children each, run alternately.
pub struct ThreadRow {
    pub name: String,
    pub one: Duration,
    pub two: Duration,
}

impl ThreadRow {
    /// T1 / (2 · T2): 1 when two threads halve the time.
    pub fn efficiency(&self) -> f64 {
        self.one.as_secs_f64() / (2.0 * self.two.as_secs_f64()).max(1e-12)
    }
}

pub fn threads(data: &Data) -> Result<Vec<ThreadRow>, BoxError> {
    let (active, archive) = (data.active()?, data.archive()?);
    let ours = data.travel_archive()?.dir.as_path();
    let cases: [(&str, &str, &Path); 6] = [
        ("rebuild app.jsonl, compat", "compat", active),
        ("rebuild app.jsonl, type only (ref)", "type_only", active),
        ("rebuild archive, compat", "compat", archive),
        ("rebuild archive, type only (ref)", "type_only", archive),
        ("rebuild archive by 0.3.0, compat", "compat", ours),
        (
            "rebuild archive by 0.3.0, type only (ref)",
            "type_only",
            ours,
        ),
    ];
    let mut rows = Vec::new();
    for (name, workload, dir) in cases {
        let (mut one, mut two) = (Vec::new(), Vec::new());
        let mut digest = None;
        for _ in 0..ROUNDS {
            for (threads, times) in [(1, &mut one), (2, &mut two)] {
                let report = spawn(TIMED_FLAG, "v03", workload, dir, Some(threads))?;
                let elapsed = report
                    .elapsed
                    .ok_or_else(|| format!("{name}: the child reported no time"))?;
                match &digest {
                    None => digest = report.digest,
                    Some(d) if report.digest.as_ref() != Some(d) => {
                        return Err(format!(
                            "{name}: {threads} thread(s) folded another state:\n  {d:?}\n  {:?}",
                            report.digest
                        )
                        .into());
                    }
                    Some(_) => {}
                }
                times.push(elapsed);
            }
        }
        let row = ThreadRow {
            name: name.to_string(),
            one: median(one),
            two: median(two),
        };
        println!(
            "  {:<36} 1 thread {:>10}   2 threads {:>10}   T1/(2·T2) {:.2}",
            row.name,
            fmt_duration(row.one),
            fmt_duration(row.two),
            row.efficiency()
        );
        rows.push(row);
    }
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(8);
    println!(
        "{:<width$}  {:>10}  {:>10}  {:>8}  {:>9}",
        "0.3.0 rebuild", "1 thread", "2 threads", "speed-up", "T1/(2·T2)"
    );
    println!("{}", "-".repeat(width + 2 + 10 + 2 + 10 + 2 + 8 + 2 + 9));
    for row in &rows {
        println!(
            "{:<width$}  {:>10}  {:>10}  {:>8}  {:>9}",
            row.name,
            fmt_duration(row.one),
            fmt_duration(row.two),
            format!("x{:.2}", crate::ratio(row.one, row.two)),
            format!("{:.2}", row.efficiency()),
        );
    }
    println!(
        "each a child process with RAYON_NUM_THREADS=1 or 2, timed inside the child (no process \
         start), medians of {ROUNDS}, run alternately"
    );
    println!("T1/(2·T2) = scaling efficiency: 1.00 when two threads halve the time");
    Ok(rows)
}

// ---------------------------------------------------------------------------------------------
// Peak memory
// ---------------------------------------------------------------------------------------------

/// Peak memory of one rebuild per crate.
pub struct RssRow {
    pub name: String,
    pub v03_hwm: Option<u64>,
    pub v03_anon: Option<u64>,
}

pub fn rss(data: &Data) -> Result<Vec<RssRow>, BoxError> {
    let n = data.n();
    let (active, archive) = (data.active()?, data.archive()?);
    let ours = data.travel_archive()?.dir.as_path();
    let log_bytes = std::fs::metadata(active.join("app.jsonl"))?.len();
    println!("Peak memory of one {n}-event rebuild, each in its own child process");
    let cases: [(&str, &str, &str, &Path); 7] = [
        ("process baseline (no work)", "none", "none", active),
        ("rebuild app.jsonl, compat", "compat", "compat", active),
        (
            "rebuild app.jsonl, type + data.id*",
            "compat",
            "type_id",
            active,
        ),
        (
            "rebuild app.jsonl, type only*",
            "type_only",
            "type_only",
            active,
        ),
        ("rebuild archive, compat", "compat", "compat", archive),
        (
            "rebuild archive, type only*",
            "type_only",
            "type_only",
            archive,
        ),
        ("rebuild archive by 0.3.0, compat", "compat", "compat", ours),
    ];
    let width = cases.iter().map(|c| c.0.len()).max().unwrap_or(0);
    println!(
        "  {:<width$}  {:>11}  {:>11}  {:>7}  {:>11}  {:>11}",
        "workload", "VmHWM 0.2.0", "VmHWM 0.3.0", "ratio", "anon 0.2.0", "anon 0.3.0"
    );
    let mut rows = Vec::new();
    for (name, w02, w03, dir) in cases {
        let a = spawn(RSS_FLAG, "v02", w02, dir, None)?;
        let b = spawn(RSS_FLAG, "v03", w03, dir, None)?;
        if a.digest != b.digest {
            return Err(format!(
                "{name}: the crates disagree:\n  0.2.0: {:?}\n  0.3.0: {:?}",
                a.digest, b.digest
            )
            .into());
        }
        let ratio = match (a.hwm_kb, b.hwm_kb) {
            (Some(x), Some(y)) if y > 0 => format!("x{:.2}", x as f64 / y as f64),
            _ => "n/a".into(),
        };
        println!(
            "  {:<width$}  {:>11}  {:>11}  {:>7}  {:>11}  {:>11}",
            name,
            fmt_kb(a.hwm_kb),
            fmt_kb(b.hwm_kb),
            ratio,
            fmt_kb(a.anon_kb),
            fmt_kb(b.anon_kb),
        );
        rows.push(RssRow {
            name: name.to_string(),
            v03_hwm: b.hwm_kb,
            v03_anon: b.anon_kb,
        });
    }
    println!("  VmHWM: peak resident set, read from /proc/self/status at the end of the child.");
    println!(
        "  ratio = 0.2.0 VmHWM / 0.3.0 VmHWM. 0.3.0 memory-maps app.jsonl ({:.1} MB): the mapped",
        log_bytes as f64 / 1e6
    );
    println!("  pages it reads count as resident (clean page cache, shared and reclaimable).");
    println!("  anon: peak RssAnon (heap etc., no file pages), sampled every millisecond.");
    println!("  * 0.2.0 runs a compat reducer doing the same work");
    Ok(rows)
}
