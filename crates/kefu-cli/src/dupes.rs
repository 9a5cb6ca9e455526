//! Duplicate conversation ids across one run of `kefu inspect` or
//! `kefu import`.
//!
//! The store keeps the first conversation of an id and skips later ones, and
//! `kefu inspect` writes one result per record, so a second record under the
//! same id is either a harmless repeat (identical content) or a conflict
//! that would otherwise be lost silently. Only hashes are kept, not ids or
//! text: 128 bits of each id (a collision among a billion ids has a chance
//! of about 10⁻²¹), 64 bits of each record's text, and where it was: 32
//! bytes a record in the map (about twice that with the map's free slots),
//! whatever the length of its id.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// One record's identity as the workers see it: id, line, content hash.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    /// The conversation id.
    pub id: String,
    /// 1-based line (or record number) in its file.
    pub line: u64,
    /// Hash of the record's canonical text.
    pub hash: u64,
}

impl Seen {
    /// The identity of a record with `id` whose text is `raw`.
    pub(crate) fn new(id: &str, line: u64, raw: &str) -> Seen {
        Seen {
            id: id.to_string(),
            line,
            hash: content_hash(raw.as_bytes()),
        }
    }
}

/// A fast 64-bit hash of a record's bytes, eight at a time (SipHash cost
/// about 2 % of a one-core run on 3.5 kB records). Not keyed: it only tells
/// repeated records from conflicting ones, where a collision at worst
/// reports a conflict as a repeat.
fn content_hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = (bytes.len() as u64).wrapping_mul(K);
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        h = (h.rotate_left(23) ^ u64::from_le_bytes(b)).wrapping_mul(K);
    }
    let mut tail = [0u8; 8];
    tail[..words.remainder().len()].copy_from_slice(words.remainder());
    h = (h.rotate_left(23) ^ u64::from_le_bytes(tail)).wrapping_mul(K);
    // Final avalanche (splitmix64's), so nearby inputs spread.
    h ^= h >> 30;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^ (h >> 31)
}

/// A record whose id was seen before with different content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Conflict {
    /// The shared id.
    pub id: String,
    /// `file:line` of the first record (the one kept).
    pub first: String,
    /// `file:line` of this record.
    pub at: String,
}

/// 128 bits of an id: two differently seeded SipHash values. Two `u64`s,
/// not a `u128`, so that a map entry is aligned to 8 bytes, not 16.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IdHash(u64, u64);

impl IdHash {
    fn of(id: &str) -> IdHash {
        let half = |seed: u8| {
            let mut h = std::hash::DefaultHasher::new();
            h.write_u8(seed);
            h.write(id.as_bytes());
            h.finish()
        };
        IdHash(half(0), half(1))
    }
}

impl std::hash::Hash for IdHash {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Already a hash: the map may use it as it is.
        state.write_u64(self.1);
    }
}

/// The map's keys are already hashes: it uses them as they are.
#[derive(Default)]
struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Where a record was first seen: content hash, file index, line (lines
/// past four billion in one file are kept as `u32::MAX`).
type FirstSeen = (u64, u32, u32);

/// Ids seen so far in a run.
#[derive(Debug, Default)]
pub(crate) struct Duplicates {
    /// Id hash → where the id was first seen.
    first: HashMap<IdHash, FirstSeen, BuildHasherDefault<PreHashed>>,
    files: Vec<String>,
    /// Records repeating an earlier record exactly.
    pub identical: u64,
    /// Records sharing an earlier id with different content.
    pub conflicts: Vec<Conflict>,
}

impl Duplicates {
    /// Notes the records of one batch of `file`, in input order.
    pub(crate) fn add(&mut self, file: &str, seen: Vec<Seen>) {
        if seen.is_empty() {
            return;
        }
        let file_ix = match self.files.iter().position(|f| f == file) {
            Some(i) => i,
            None => {
                self.files.push(file.to_string());
                self.files.len() - 1
            }
        };
        // More than four billion input files in one run cannot happen.
        let file_ix = u32::try_from(file_ix).unwrap_or(u32::MAX);
        for s in seen {
            match self.first.entry(IdHash::of(&s.id)) {
                Entry::Vacant(v) => {
                    let line = u32::try_from(s.line).unwrap_or(u32::MAX);
                    v.insert((s.hash, file_ix, line));
                }
                Entry::Occupied(o) => {
                    let (hash, f, line) = *o.get();
                    if hash == s.hash {
                        self.identical += 1;
                    } else {
                        let first_file = self.files.get(f as usize).map_or("?", String::as_str);
                        self.conflicts.push(Conflict {
                            id: s.id,
                            first: format!("{first_file}:{line}"),
                            at: format!("{file}:{}", s.line),
                        });
                    }
                }
            }
        }
    }

    /// One line per conflict, for stderr.
    pub(crate) fn conflict_lines(&self) -> impl Iterator<Item = String> + '_ {
        self.conflicts.iter().map(|c| {
            format!(
                "{}: duplicate id {:?} with different content (first at {})",
                c.at, c.id, c.first
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_entry_is_32_bytes() {
        assert_eq!(std::mem::size_of::<(IdHash, FirstSeen)>(), 32);
    }

    #[test]
    fn identical_and_conflicting_repeats_are_told_apart() {
        let mut d = Duplicates::default();
        d.add(
            "a.jsonl",
            vec![
                Seen::new("c-1", 1, "{x}"),
                Seen::new("c-1", 2, "{x}"),
                Seen::new("c-2", 3, "{y}"),
            ],
        );
        d.add("b.jsonl", vec![Seen::new("c-2", 7, "{z}")]);
        assert_eq!(d.identical, 1);
        assert_eq!(
            d.conflicts,
            vec![Conflict {
                id: "c-2".into(),
                first: "a.jsonl:3".into(),
                at: "b.jsonl:7".into(),
            }]
        );
    }
}
