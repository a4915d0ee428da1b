//! Line parsers compared on the bench data: what it costs to get an event's envelope (type,
//! ts, id, actor) out of one JSON line, with `data` validated but not built, and, for reference,
//! to build the whole owned event.
//!
//! ```text
//! cargo bench -p eventfold-bench --bench parsers
//! ```
//!
//! - `eventfold`: [`eventfold::EventRef::parse`], the parser this crate uses.
//! - `serde_json_borrowed`: serde_json into a borrowing struct with `&RawValue` for `data`.
//! - `simd_json_dom`: the line copied into a scratch buffer and parsed by simd-json into a
//!   borrowed DOM (simd-json parses a mutable buffer).
//! - `simd_json_serde`: simd-json's serde deserializer into a struct that skips `data`.
//! - `sonic_rs_lazy`: sonic-rs into a struct with a lazy `data` (comparison only).
//! - `serde_json_owned_event`: serde_json into an owned [`eventfold::Event`].

mod data;

use criterion::{Criterion, Throughput, criterion_group};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::hint::black_box;

/// Lines per measurement.
const LINES: usize = 100_000;

#[derive(Deserialize)]
struct SerdeEnvelope<'a> {
    #[serde(rename = "type", borrow)]
    event_type: Cow<'a, str>,
    #[serde(borrow)]
    data: &'a RawValue,
    ts: u64,
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    actor: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    meta: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct SkippingEnvelope<'a> {
    #[serde(rename = "type", borrow)]
    event_type: Cow<'a, str>,
    #[allow(dead_code)]
    data: serde::de::IgnoredAny,
    ts: u64,
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    actor: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct SonicEnvelope<'a> {
    #[serde(rename = "type", borrow)]
    event_type: Cow<'a, str>,
    #[serde(borrow)]
    data: sonic_rs::LazyValue<'a>,
    ts: u64,
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    actor: Option<Cow<'a, str>>,
}

fn lines() -> Vec<Vec<u8>> {
    data::Generator::new()
        .take(LINES)
        .map(|event| serde_json::to_vec(&event).expect("events serialize"))
        .collect()
}

fn parsers(c: &mut Criterion) {
    let lines = lines();
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let mut group = c.benchmark_group("parse_envelope");
    group.throughput(Throughput::Elements(LINES as u64));
    group.sample_size(20);
    println!(
        "{} lines, {:.1} bytes per line on average",
        LINES,
        bytes as f64 / LINES as f64
    );

    group.bench_function("eventfold", |b| {
        b.iter(|| {
            let mut sum = 0u64;
            for line in &lines {
                let event = eventfold::EventRef::parse(line).expect("valid");
                sum += event.ts() + event.event_type().len() as u64;
                sum += event.id().map_or(0, str::len) as u64
                    + event.actor().map_or(0, str::len) as u64;
            }
            black_box(sum)
        })
    });
    group.bench_function("serde_json_borrowed", |b| {
        b.iter(|| {
            let mut sum = 0u64;
            for line in &lines {
                let event: SerdeEnvelope<'_> = serde_json::from_slice(line).expect("valid");
                sum += event.ts + event.event_type.len() as u64 + event.data.get().len() as u64;
                sum += event.id.map_or(0, |s| s.len()) as u64
                    + event.actor.map_or(0, |s| s.len()) as u64;
                sum += event.meta.map_or(0, |m| m.get().len()) as u64;
            }
            black_box(sum)
        })
    });
    group.bench_function("simd_json_dom", |b| {
        let mut scratch = Vec::new();
        b.iter(|| {
            use simd_json::prelude::*;
            let mut sum = 0u64;
            for line in &lines {
                scratch.clear();
                scratch.extend_from_slice(line);
                let value = simd_json::to_borrowed_value(&mut scratch).expect("valid");
                sum += value.get("ts").and_then(|t| t.as_u64()).unwrap_or(0);
                sum += value
                    .get("type")
                    .and_then(|t| t.as_str())
                    .map_or(0, str::len) as u64;
            }
            black_box(sum)
        })
    });
    group.bench_function("simd_json_serde", |b| {
        let mut scratch = Vec::new();
        b.iter(|| {
            let mut sum = 0u64;
            for line in &lines {
                scratch.clear();
                scratch.extend_from_slice(line);
                let event: SkippingEnvelope<'_> =
                    simd_json::serde::from_slice(&mut scratch).expect("valid");
                sum += event.ts + event.event_type.len() as u64;
                sum += event.id.map_or(0, |s| s.len()) as u64
                    + event.actor.map_or(0, |s| s.len()) as u64;
            }
            black_box(sum)
        })
    });
    group.bench_function("sonic_rs_lazy", |b| {
        b.iter(|| {
            let mut sum = 0u64;
            for line in &lines {
                let event: SonicEnvelope<'_> = sonic_rs::from_slice(line).expect("valid");
                sum +=
                    event.ts + event.event_type.len() as u64 + event.data.as_raw_str().len() as u64;
                sum += event.id.map_or(0, |s| s.len()) as u64
                    + event.actor.map_or(0, |s| s.len()) as u64;
            }
            black_box(sum)
        })
    });
    group.bench_function("serde_json_owned_event", |b| {
        b.iter(|| {
            let mut sum = 0u64;
            for line in &lines {
                let event: eventfold::Event = serde_json::from_slice(line).expect("valid");
                sum += event.ts + event.event_type.len() as u64;
            }
            black_box(sum)
        })
    });
    group.finish();
}

criterion_group!(benches, parsers);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
