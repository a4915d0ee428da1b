//! Every command that reads a directory leaves it byte-identical: the SHA-256 of every file,
//! and the list of files and directories, are the same after it ran, over a healthy directory,
//! a damaged one and one part of which cannot be read.

mod common;

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every entry under `dir`: a directory as `None`, a file as the SHA-256 of its bytes.
fn hashes(dir: &Path) -> BTreeMap<PathBuf, Option<[u8; 32]>> {
    let mut found = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path.clone());
                found.insert(path, None);
            } else {
                let digest = Sha256::digest(std::fs::read(&path).unwrap());
                found.insert(path, Some(digest.into()));
            }
        }
    }
    found
}

/// The healthy fixture with a malformed line and a torn tail in its active log and a byte
/// flipped inside its second archive frame.
fn damaged(dir: &Path) {
    drop(common::healthy(dir));
    common::append_raw(dir, b"not json\n{\"type\":\"torn");
    let archive = dir.join("archive.jsonl.zst");
    let mut bytes = std::fs::read(&archive).unwrap();
    let at = bytes.len() - 20;
    bytes[at] ^= 0xff;
    std::fs::write(&archive, bytes).unwrap();
}

/// The healthy fixture whose archive and archive index are directories, which no one (root
/// included) can read as files.
fn unreadable(dir: &Path) {
    drop(common::healthy(dir));
    for name in ["archive.jsonl.zst", "archive.index.jsonl"] {
        std::fs::remove_file(dir.join(name)).unwrap();
        std::fs::create_dir(dir.join(name)).unwrap();
    }
}

/// Makes a fixture in a directory.
type Make = fn(&Path);

#[test]
fn every_reading_command_leaves_every_directory_byte_identical() {
    let fixtures: [(&str, Make); 3] = [
        ("healthy", |dir| drop(common::healthy(dir))),
        ("damaged", damaged),
        ("unreadable", unreadable),
    ];
    for (name, make) in fixtures {
        let dir = tempfile::tempdir().unwrap();
        make(dir.path());
        let before = hashes(dir.path());
        let out_dir = tempfile::tempdir().unwrap();
        let export = out_dir.path().join("e.jsonl").display().to_string();
        let salvaged = out_dir.path().join("s").display().to_string();
        let commands: [&[&str]; 16] = [
            &["info"],
            &["--json", "info", "-v"],
            &["log"],
            &["cat", "--tail", "2", "--envelope", "--format", "pretty"],
            &["stats"],
            &["--json", "stats", "--by", "actor"],
            &["verify"],
            &["verify", "--quick"],
            &["views"],
            &["--json", "views"],
            &["view", "count"],
            &["view", "types", "--state"],
            &["export", "--with-position"],
            &["export", "-o", &export],
            &["salvage", &salvaged],
            &["--json", "log", "--type", "todo_*", "-n", "1"],
        ];
        for args in commands {
            let out = common::run(dir.path(), args);
            assert!(
                out.code == 0 || out.code == 1,
                "{name} {args:?}: {} {}",
                out.code,
                out.stderr
            );
            assert_eq!(
                hashes(dir.path()),
                before,
                "{name}: {args:?} changed the directory"
            );
        }
    }
}
