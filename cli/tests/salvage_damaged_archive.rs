//! Salvage of an archive of several frames (two rotations, frames of at most 4 MiB of
//! content) damaged in the ways a disk damages it: cut short, a byte flipped inside a frame,
//! a byte of a frame's checksum flipped. Every line read before the damage is kept, and what
//! was lost is counted in events, checked against the archive index and against a decoding
//! of the damaged archive by zstd itself.

mod common;

use common::{T0, event, line, run};
use std::io::{Read, Write};
use std::path::Path;

/// Events per rotation: about 6 MB of lines, two frames each.
const PER_ROTATION: u64 = 60_000;
/// Events left in the active log.
const ACTIVE: u64 = 10;

/// The id of the `n`th event of the fixture.
fn id(n: u64) -> String {
    format!("e{n}")
}

/// A directory whose archive holds `2 * PER_ROTATION` events in four frames, and whose active
/// log holds `ACTIVE` more.
fn fixture(dir: &Path) {
    let mut n = 0;
    for _ in 0..2 {
        let mut text = String::new();
        for _ in 0..PER_ROTATION {
            let mut e = event("item_added", n, T0 + n, &id(n), Some("ann"));
            e.data = serde_json::json!({ "n": n, "sku": format!("sku-{:08}", n * 7919 % 100_000) });
            text.push_str(&line(&e));
            text.push('\n');
            n += 1;
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("app.jsonl"))
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let mut writer = eventfold::EventWriter::open(dir).unwrap();
        let reader = writer.reader();
        writer
            .rotate(&reader, &mut std::collections::HashMap::new())
            .unwrap();
    }
    let mut writer = eventfold::EventWriter::open(dir).unwrap();
    for _ in 0..ACTIVE {
        writer
            .append(&event("tail", n, T0 + n, &id(n), None))
            .unwrap();
        n += 1;
    }
}

/// `(offset, compressed length, events)` of each frame, as the archive index records them.
fn indexed_frames(dir: &Path) -> Vec<(u64, u64, u64)> {
    std::fs::read_to_string(dir.join("archive.index.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let field = |name: &str| v[name].as_u64().unwrap();
            (field("offset"), field("len"), field("events"))
        })
        .collect()
}

/// The ids of the complete lines zstd yields from the archive, frame after frame, before
/// its first error, read a little at a time and without checking checksums (as
/// `zstd -dc --no-check` does); every line must be an event.
fn ids_zstd_yields(archive: &Path) -> Vec<String> {
    let file = std::io::BufReader::new(std::fs::File::open(archive).unwrap());
    let mut raw = zstd::stream::raw::Decoder::new().unwrap();
    raw.set_parameter(zstd::zstd_safe::DParameter::ForceIgnoreChecksum(true))
        .unwrap();
    let mut decoder = zstd::stream::zio::Reader::new(file, raw);
    let mut content = Vec::new();
    let mut chunk = [0u8; 1024];
    while let Ok(n @ 1..) = decoder.read(&mut chunk) {
        content.extend_from_slice(&chunk[..n]);
    }
    let complete = content
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    content[..complete]
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_slice(l).expect("a line that parses");
            v["id"].as_str().unwrap().to_string()
        })
        .collect()
}

/// What `salvage --json` of `src` said, and the ids of the events the new directory holds.
struct Salvaged {
    code: i32,
    lost: Vec<serde_json::Value>,
    summary: serde_json::Value,
    text: String,
    ids: Vec<String>,
}

fn salvage(src: &Path) -> Salvaged {
    let out_dir = tempfile::tempdir().unwrap();
    let dest = out_dir.path().join("healthy");
    let json = run(src, &["--json", "salvage", &dest.display().to_string()]);
    let records: Vec<serde_json::Value> = json
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (summary, lost) = records.split_last().expect("a summary");
    let text = run(
        src,
        &[
            "salvage",
            &out_dir.path().join("again").display().to_string(),
        ],
    );
    assert_eq!(text.code, json.code);
    let log = run(&dest, &["log", "--format", "{id}"]);
    assert_eq!(log.code, 0, "{}", log.stderr);
    Salvaged {
        code: json.code,
        lost: lost.to_vec(),
        summary: summary.clone(),
        text: text.stdout,
        ids: log.stdout.lines().map(str::to_string).collect(),
    }
}

/// The ids of the fixture's events `range`.
fn ids(range: std::ops::Range<u64>) -> Vec<String> {
    range.map(id).collect()
}

#[test]
fn an_archive_cut_short_keeps_every_line_before_the_cut_and_counts_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let frames = indexed_frames(dir.path());
    assert_eq!(frames.len(), 4, "{frames:?}");
    let archive = dir.path().join("archive.jsonl.zst");
    let len = std::fs::metadata(&archive).unwrap().len();
    let cut = len * 6 / 10;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&archive)
        .unwrap()
        .set_len(cut)
        .unwrap();
    // The frame the cut falls in.
    let (damaged, _, _) = *frames.iter().rfind(|f| f.0 < cut).unwrap();
    let yielded = ids_zstd_yields(&archive);
    let archived: u64 = frames.iter().map(|f| f.2).sum();
    assert!(
        yielded.len() as u64 > frames[0].2,
        "the cut frame yields lines"
    );

    let s = salvage(dir.path());
    assert_eq!(s.code, 1, "{}", s.text);
    // Every line zstd yields before the cut, then the active log.
    let kept = yielded.len() as u64;
    let mut expected = ids(0..kept);
    assert_eq!(yielded, expected);
    expected.extend(ids(2 * PER_ROTATION..2 * PER_ROTATION + ACTIVE));
    assert_eq!(s.ids, expected);
    // What is lost is what the index counted past the kept lines, in events.
    assert_eq!(s.lost.len(), 1, "{:?}", s.lost);
    let lost = &s.lost[0];
    assert_eq!(lost["kind"], "damaged-frame");
    assert_eq!(lost["frame"], damaged);
    assert_eq!(lost["to_archive_end"], true);
    assert_eq!(lost["checksum_failed"], false);
    let kept_in_frame = kept
        - frames
            .iter()
            .filter(|f| f.0 < damaged)
            .map(|f| f.2)
            .sum::<u64>();
    assert_eq!(lost["kept"], kept_in_frame);
    assert_eq!(lost["events"], archived - kept);
    assert_eq!(lost["compressed_bytes"], cut - damaged);
    assert_eq!(s.summary["lost_events"], archived - kept);
    assert_eq!(s.summary["lost_unknown_bytes"], 0);
    assert_eq!(s.summary["events"], kept + ACTIVE);
    assert!(
        s.text.ends_with(&format!(
            "left out {} events (1 problem above)\n",
            archived - kept
        )),
        "{}",
        s.text
    );
    assert!(
        s.text.starts_with(&format!(
            "left out archive.jsonl.zst frame at compressed byte {damaged} position "
        )),
        "{}",
        s.text
    );

    // Without the index, the loss is known in bytes only.
    std::fs::remove_file(dir.path().join("archive.index.jsonl")).unwrap();
    let s = salvage(dir.path());
    assert_eq!(s.code, 1);
    assert_eq!(s.lost[0]["events"], serde_json::Value::Null);
    assert_eq!(s.summary["lost_events"], 0);
    assert_eq!(s.summary["lost_unknown_bytes"], cut - damaged);
    assert_eq!(s.summary["events"], kept + ACTIVE);
    assert!(
        s.text.contains(&format!(
            "left out 0 events and an unknown number in {} compressed bytes",
            cut - damaged
        )),
        "{}",
        s.text
    );
}

#[test]
fn a_byte_flipped_inside_a_frame_loses_only_the_lines_from_the_damage_on() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let frames = indexed_frames(dir.path());
    let archive = dir.path().join("archive.jsonl.zst");
    let mut bytes = std::fs::read(&archive).unwrap();
    // Inside the last frame, well after its first blocks.
    let (damaged, frame_len, frame_events) = frames[3];
    let at = (damaged + frame_len * 3 / 4) as usize;
    bytes[at] ^= 0xff;
    std::fs::write(&archive, &bytes).unwrap();
    let before: u64 = frames[..3].iter().map(|f| f.2).sum();
    let yielded = ids_zstd_yields(&archive);
    let kept_in_frame = yielded.len() as u64 - before;
    assert!(
        kept_in_frame > 0 && kept_in_frame < frame_events,
        "{kept_in_frame}"
    );

    let s = salvage(dir.path());
    assert_eq!(s.code, 1, "{}", s.text);
    let mut expected = ids(0..before + kept_in_frame);
    expected.extend(ids(2 * PER_ROTATION..2 * PER_ROTATION + ACTIVE));
    assert_eq!(s.ids, expected);
    assert_eq!(s.lost.len(), 1, "{:?}", s.lost);
    let lost = &s.lost[0];
    assert_eq!(lost["frame"], damaged);
    assert_eq!(lost["to_archive_end"], false);
    assert_eq!(lost["kept"], kept_in_frame);
    assert_eq!(lost["events"], frame_events - kept_in_frame);
    assert_eq!(lost["compressed_bytes"], frame_len);
    assert_eq!(s.summary["lost_events"], frame_events - kept_in_frame);
}

#[test]
fn a_frame_whose_checksum_fails_is_kept_whole_and_said_to_fail() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let frames = indexed_frames(dir.path());
    let archive = dir.path().join("archive.jsonl.zst");
    let mut bytes = std::fs::read(&archive).unwrap();
    // The second frame's last byte: its checksum.
    let (damaged, frame_len, frame_events) = frames[1];
    bytes[(damaged + frame_len - 1) as usize] ^= 0x01;
    std::fs::write(&archive, &bytes).unwrap();
    assert_eq!(ids_zstd_yields(&archive), ids(0..2 * PER_ROTATION));

    let s = salvage(dir.path());
    assert_eq!(s.code, 1, "{}", s.text);
    assert_eq!(s.ids, ids(0..2 * PER_ROTATION + ACTIVE));
    let lost = &s.lost[0];
    assert_eq!(lost["frame"], damaged);
    assert_eq!(lost["checksum_failed"], true);
    assert_eq!(lost["kept"], frame_events);
    assert_eq!(lost["events"], 0);
    assert_eq!(s.summary["lost_events"], 0);
    assert!(s.text.contains("checksum failed"), "{}", s.text);
    // verify reads it too, and says the same.
    let verify = run(dir.path(), &["verify"]);
    assert_eq!(verify.code, 1);
    assert!(
        verify
            .stdout
            .contains(&format!("in {} events", 2 * PER_ROTATION + ACTIVE)),
        "{}",
        verify.stdout
    );
    assert!(verify.stdout.contains("checksum"), "{}", verify.stdout);
}
