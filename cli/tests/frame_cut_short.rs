//! Archive frames that cannot be decompressed: one cut short at the end of the archive, and
//! one whose checksum is wrong.

mod common;

use common::{healthy, run};
use std::fs::OpenOptions;

#[test]
fn a_frame_cut_short_is_an_error_naming_the_frame() {
    let dir = tempfile::tempdir().unwrap();
    drop(healthy(dir.path()));
    let archive = dir.path().join("archive.jsonl.zst");
    let len = std::fs::metadata(&archive).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&archive)
        .unwrap()
        .set_len(len - 5)
        .unwrap();

    let out = run(dir.path(), &["verify"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "error[frame] archive.jsonl.zst frame at compressed byte 108: cannot decompress: the archive ends \
         inside a frame (94 bytes left over); nothing after it in the archive can be read\n\
         failed: 1 errors, 0 warnings in 5 events, 2 archive frames (230 bytes decompressed), 153 \
         bytes of app.jsonl, 2 snapshots\n"
    );
    let quick = run(dir.path(), &["verify", "--quick"]);
    assert_eq!(quick.code, 1);
    assert_eq!(
        quick.stdout,
        "error[frame] archive.jsonl.zst frame at compressed byte 108: the archive ends inside a frame (94 \
         bytes left over); nothing after it in the archive can be read\n\
         failed: 1 errors, 0 warnings in 2 events, 1 archive frames (0 bytes decompressed, \
         content not checked), 153 bytes of app.jsonl, 2 snapshots\n"
    );
    let log = run(dir.path(), &["log", "--format", "{id}"]);
    assert_eq!((log.code, log.stdout.as_str()), (1, "e0\ne1\ne2\n"));
    assert!(
        log.stderr.contains("at the frame starting at byte 108"),
        "{}",
        log.stderr
    );
}

/// A frame whose checksum fails is read whole, as `zstd -d --no-check` reads it, and its
/// events counted.
#[test]
fn a_bad_checksum_is_an_error_and_the_next_frame_is_still_checked() {
    let dir = tempfile::tempdir().unwrap();
    drop(healthy(dir.path()));
    let archive = dir.path().join("archive.jsonl.zst");
    let mut bytes = std::fs::read(&archive).unwrap();
    // The first frame is 108 bytes; its last four hold the checksum.
    bytes[107] ^= 0xff;
    std::fs::write(&archive, &bytes).unwrap();

    let out = run(dir.path(), &["verify"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let mut lines = out.stdout.lines();
    let first = lines.next().unwrap();
    assert!(
        first.starts_with(
            "error[frame] archive.jsonl.zst frame at compressed byte 0: cannot decompress: "
        ),
        "{first}"
    );
    assert!(
        first.ends_with("reading went on at the next frame"),
        "{first}"
    );
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("failed: 1 errors, 0 warnings in 7 events")
    );
    // Its content was read whole: only the checksum failed.
    assert!(
        first.contains(
            "Restored data doesn't match checksum; its content was read whole, but the checksum \
             cannot vouch for its events"
        ),
        "{first}"
    );
    // The quick check does not decompress, so it cannot see this.
    assert_eq!(run(dir.path(), &["verify", "--quick"]).code, 0);
}

/// A frame whose content ends inside a line, as eventfold 0.2.0 wrote from a torn active log
/// (one streamed frame, without a content size): the unfinished line is reported, and left
/// out by readers and by salvage.
#[test]
fn a_frame_that_does_not_end_on_a_line_boundary_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let lines: String = (0..2)
        .map(|n| {
            common::line(&common::event(
                "tick",
                n,
                common::T0,
                &format!("e{n}"),
                None,
            )) + "\n"
        })
        .collect();
    let content = format!("{lines}{{\"type\":\"tic");
    let frame = zstd::stream::encode_all(content.as_bytes(), 3).unwrap();
    std::fs::write(dir.path().join("archive.jsonl.zst"), &frame).unwrap();
    std::fs::write(dir.path().join("app.jsonl"), "").unwrap();

    let out = run(dir.path(), &["verify"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let offset = lines.len();
    assert_eq!(
        out.stdout,
        format!(
            "error[frame] archive.jsonl.zst frame at compressed byte 0, decompressed byte {offset}: \
             the frame does not end on a \
             line boundary: its last 12 bytes are an unfinished line, which readers leave out\n\
             failed: 1 errors, 0 warnings in 2 events, 1 archive frames ({offset} bytes \
             decompressed), 0 bytes of app.jsonl, 0 snapshots\n"
        )
    );
    assert_eq!(
        run(dir.path(), &["log", "--format", "{index}"]).stdout,
        "0\n1\n"
    );
    let out_dir = tempfile::tempdir().unwrap();
    let salvage = run(
        dir.path(),
        &["salvage", &out_dir.path().join("s").display().to_string()],
    );
    assert_eq!(salvage.code, 1, "{}", salvage.stderr);
    assert!(
        salvage.stdout.starts_with(&format!(
            "left out archive.jsonl.zst frame at compressed byte 0, decompressed byte {offset} \
             position {offset}: unfinished line \
             of 12 bytes at a frame end\n"
        )),
        "{}",
        salvage.stdout
    );
}
