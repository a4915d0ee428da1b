//! The seals of the active log: `app.seals.jsonl`, a checksum for each sealed block of
//! `app.jsonl`, so that a replay can trust lines whose bytes were validated before instead of
//! validating them again.
//!
//! A block is a run of whole lines of `app.jsonl`, a few hundred KiB long; the blocks follow
//! each other from offset 0. One JSON line per block, in order: `{"end":N,"xxh3":"…"}`, the
//! offset just past the block's last newline and the XXH3-64 of the block's bytes as 16 hex
//! digits. A block is sealed only once every line in it is known to be a valid event: written
//! by this crate's writer, or read by a validating replay.
//!
//! The file is a cache, like the archive index. Nothing in it is believed without checking:
//! a replay trusts a block only when the bytes of `app.jsonl` at that place hash to the
//! recorded checksum, start and end at line boundaries, and are UTF-8. A stale file (left
//! behind by eventfold 0.2.0, which ignores it, or by a crash during a rotation), a torn last
//! line, a lost file: each costs the speed of validation and nothing else, which is why the
//! file is never synced and failing to write it is not an error.

use crate::format::fold::Block;
use crate::format::lines::{self, Lines};
use crate::format::parse;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use xxhash_rust::xxh3::Xxh3;

/// File name of the seals, beside `app.jsonl`.
pub(crate) const SEALS_NAME: &str = "app.seals.jsonl";

/// The size a block is sealed at: the first line end at or past this many bytes from its
/// start. The replay's parse chunks are as large, so that a chunk is a block.
pub(crate) const BLOCK: u64 = 256 << 10;

/// Folds of fewer bytes than this do not read the seals: validating them costs less.
pub(crate) const WORTH_READING: u64 = 64 << 10;

/// A writer that opens a log whose last bytes are not sealed (its last block, after a crash;
/// lines another program appended) validates them at once when they are at most this long.
/// (A longer stretch waits for a replay: eventfold 0.2.0's whole log, for one.)
const OPEN_CHECK: u64 = 4 * BLOCK;

/// One sealed block: it ends at `end` (exclusive, just past a newline) and its bytes hash to
/// `hash`; it starts where the one before it ends (0 for the first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Seal {
    pub end: u64,
    pub hash: u64,
}

pub(crate) use crate::format::trusted::block_hash;

/// The path of the seals of the log in `dir`.
pub(crate) fn path(dir: &Path) -> PathBuf {
    dir.join(SEALS_NAME)
}

/// The seals recorded in `path`, each ending past the one before; reading stops at the first
/// line that is not a seal (a torn last line) or does not follow. A missing or unreadable file
/// holds none.
pub(crate) fn load(path: &Path) -> Vec<Seal> {
    load_whole(path).0
}

/// [`load`], and whether the file holds those seals and nothing else.
fn load_whole(path: &Path) -> (Vec<Seal>, bool) {
    let Ok(bytes) = fs::read(path) else {
        return (Vec::new(), true);
    };
    let mut seals: Vec<Seal> = Vec::new();
    let mut read = 0;
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        let Some(seal) = line.strip_suffix(b"\n").and_then(parse) else {
            break;
        };
        if seals.last().is_some_and(|last| seal.end <= last.end) {
            break;
        }
        seals.push(seal);
        read += line.len();
    }
    (seals, read == bytes.len())
}

/// The blocks the seals of the log in `dir` describe, for a replay to read trusted where the
/// bytes still match them.
pub(crate) fn blocks(dir: &Path) -> Vec<Block> {
    let mut start = 0;
    load(&path(dir))
        .iter()
        .map(|seal| {
            let block = Block {
                start,
                end: seal.end,
                hash: seal.hash,
            };
            start = seal.end;
            block
        })
        .collect()
}

/// One record, as [`record`] writes it.
fn parse(line: &[u8]) -> Option<Seal> {
    let rest = line.strip_prefix(b"{\"end\":")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 20 {
        return None;
    }
    let end = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
    let hex = rest[digits..]
        .strip_prefix(b",\"xxh3\":\"")?
        .strip_suffix(b"\"}")?;
    if hex.len() != 16 {
        return None;
    }
    let hash = u64::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
    Some(Seal { end, hash })
}

/// The line that records `seal`, newline included.
fn record(seal: Seal) -> String {
    format!("{{\"end\":{},\"xxh3\":\"{:016x}\"}}\n", seal.end, seal.hash)
}

/// The writer's side: seals the lines it appends, block by block, and the blocks a validating
/// replay hands it.
///
/// It seals only while every byte of `app.jsonl` before the block it is filling is sealed
/// (`open` is then `Some`); bytes it did not write itself and no replay validated stop it
/// until a replay validates them (see [`Sealer::accept`]).
pub(crate) struct Sealer {
    path: PathBuf,
    /// Where the sealed blocks end: the start of the block being filled.
    end: u64,
    /// The block being filled: its hash so far and its length. `None` while bytes past `end`
    /// are of unknown validity.
    open: Option<(Xxh3, u64)>,
    /// The length of `app.jsonl`, as the writer left it.
    len: u64,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("end", &self.end)
            .field("sealing", &self.open.as_ref().map(|(_, len)| len))
            .field("len", &self.len)
            .finish()
    }
}

impl Sealer {
    /// The sealer of the log in `dir` whose `app.jsonl` is `len` bytes long (after recovery):
    /// keeps the recorded seals that lie within the file (rewriting the file without the
    /// others) and seals from the last one on if it ends at `len`.
    pub(crate) fn open(dir: &Path, file: &File, len: u64) -> Sealer {
        let path = path(dir);
        let (recorded, whole) = load_whole(&path);
        let kept = recorded.iter().take_while(|s| s.end <= len).count();
        let mut sealer = Sealer {
            path,
            end: recorded[..kept].last().map_or(0, |s| s.end),
            open: None,
            len,
        };
        if kept < recorded.len() || !whole {
            // Seals past the end of the file, or a torn or foreign line after the last one:
            // records appended after it would not be read.
            sealer.rewrite(&recorded[..kept]);
        }
        if sealer.end < len && len - sealer.end <= OPEN_CHECK {
            sealer.check_tail(file);
        }
        if sealer.end == len {
            sealer.open = Some((Xxh3::new(), 0));
        }
        sealer
    }

    /// Validates the lines past the sealed blocks, up to the end of the file, and seals them
    /// if every one is an event.
    fn check_tail(&mut self, file: &File) {
        let Ok(region) = crate::store::mmap::read_range(file, self.end, self.len) else {
            return;
        };
        if region.last() != Some(&b'\n')
            || Lines::new(&region).any(|line| parse::envelope(line.bytes).is_err())
        {
            return;
        }
        let mut seals = Vec::new();
        for range in lines::chunks_at_most(&region, BLOCK as usize) {
            seals.push(Seal {
                end: self.end + range.end as u64,
                hash: block_hash(&region[range]),
            });
        }
        self.append(&seals);
        self.end = self.len;
    }

    /// Where the sealed blocks end.
    pub(crate) fn end(&self) -> u64 {
        self.end
    }

    /// Whether the lines appended next will be sealed (every byte before them is).
    pub(crate) fn is_sealing(&self) -> bool {
        self.open.is_some()
    }

    /// Takes in lines this writer appended (`bytes`, whole lines, newlines included) at offset
    /// `start` of `app.jsonl`; seals the block being filled once it is large enough.
    pub(crate) fn appended(&mut self, start: u64, bytes: &[u8]) {
        if start != self.len {
            // Lines this sealer did not see came in between.
            self.open = None;
        }
        let file_end = start + bytes.len() as u64;
        self.len = file_end;
        let Some((hasher, len)) = &mut self.open else {
            return;
        };
        hasher.update(bytes);
        *len += bytes.len() as u64;
        if *len >= BLOCK {
            let seal = Seal {
                end: file_end,
                hash: hasher.digest(),
            };
            self.open = Some((Xxh3::new(), 0));
            self.end = file_end;
            self.append(&[seal]);
        }
    }

    /// Bytes were written that this sealer did not see (a failed write): seal nothing more
    /// until a replay validates them.
    pub(crate) fn lost_track(&mut self) {
        self.open = None;
    }

    /// Takes in the blocks a validating replay checked, following each other from `from`.
    /// They are recorded when they start where the sealed blocks end and this sealer does not
    /// follow the appends itself; when they reach the end of `app.jsonl`, it seals the lines
    /// appended from there on.
    pub(crate) fn accept(&mut self, from: u64, blocks: &[Seal]) {
        if self.open.is_some() || from != self.end || blocks.is_empty() {
            return;
        }
        let last = blocks[blocks.len() - 1].end;
        if last > self.len {
            return;
        }
        self.append(blocks);
        self.end = last;
        if last == self.len {
            self.open = Some((Xxh3::new(), 0));
        }
    }

    /// `app.jsonl` was replaced by an empty file (a rotation): the seals describe nothing now.
    pub(crate) fn reset(&mut self) {
        self.rewrite(&[]);
        self.end = 0;
        self.len = 0;
        self.open = Some((Xxh3::new(), 0));
    }

    fn append(&mut self, seals: &[Seal]) {
        let text: String = seals.iter().map(|&s| record(s)).collect();
        // The seals are a cache: what cannot be recorded is validated again later.
        let _ = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .and_then(|mut file| file.write_all(text.as_bytes()));
    }

    fn rewrite(&mut self, seals: &[Seal]) {
        let text: String = seals.iter().map(|&s| record(s)).collect();
        if seals.is_empty() {
            let _ = File::create(&self.path);
        } else {
            let _ = crate::store::fsutil::write_cache(&self.path, text.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_back_and_damage_stops_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = path(dir.path());
        let a = Seal { end: 10, hash: 1 };
        let b = Seal {
            end: 25,
            hash: u64::MAX,
        };
        let c = Seal { end: 20, hash: 7 };
        fs::write(&path, record(a) + &record(b)).unwrap();
        assert_eq!(load(&path), [a, b]);
        // A torn last line, and a seal that does not follow, end the chain.
        fs::write(&path, record(a) + &record(b)[..10]).unwrap();
        assert_eq!(load(&path), [a]);
        fs::write(&path, record(a) + &record(b) + &record(c)).unwrap();
        assert_eq!(load(&path), [a, b]);
        fs::write(&path, "not json\n").unwrap();
        assert_eq!(load(&path), []);
        assert_eq!(load(&dir.path().join("missing")), []);
    }

    #[test]
    fn the_sealer_seals_its_appends_and_keeps_only_seals_within_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let line = vec![b'x'; 1000];
        let file = File::create(dir.path().join("app.jsonl")).unwrap();
        let mut sealer = Sealer::open(dir.path(), &file, 0);
        let mut written = Vec::new();
        while written.len() < 2 * (BLOCK as usize + line.len()) {
            sealer.appended(written.len() as u64, &line);
            written.extend_from_slice(&line);
        }
        let seals = load(&path(dir.path()));
        assert_eq!(seals.len(), 2);
        let first = seals[0].end as usize;
        assert_eq!(seals[0].hash, block_hash(&written[..first]));
        assert_eq!(
            seals[1].hash,
            block_hash(&written[first..seals[1].end as usize])
        );
        // Reopened over a shorter file (a rotation by another writer), the seals past it go.
        let sealer = Sealer::open(dir.path(), &file, seals[1].end - 1);
        assert_eq!(load(&path(dir.path())), seals[..1]);
        assert_eq!(sealer.end(), seals[0].end);
        assert!(!sealer.is_sealing(), "bytes past the seals are unknown");
    }

    #[test]
    fn a_replay_s_blocks_are_taken_only_where_the_seals_end() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join("app.jsonl")).unwrap();
        let mut sealer = Sealer::open(dir.path(), &file, 0);
        sealer.open = None;
        sealer.len = 40;
        let blocks = [Seal { end: 10, hash: 3 }, Seal { end: 30, hash: 4 }];
        sealer.accept(5, &blocks);
        assert_eq!(load(&path(dir.path())), []);
        sealer.accept(0, &blocks);
        assert_eq!(load(&path(dir.path())), blocks);
        assert!(!sealer.is_sealing(), "10 bytes past the blocks are unknown");
        sealer.accept(30, &[Seal { end: 50, hash: 5 }]);
        assert!(!sealer.is_sealing(), "past the end of the file");
        sealer.accept(30, &[Seal { end: 40, hash: 5 }]);
        assert!(sealer.is_sealing());
    }
}
