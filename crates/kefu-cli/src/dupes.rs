//! Duplicate conversation ids across one run of `kefu inspect` or
//! `kefu import`.
//!
//! The store keeps the first conversation of an id and skips later ones, and
//! `kefu inspect` writes one result per record, so a second record under the
//! same id is either a harmless repeat (identical content) or a conflict
//! that would otherwise be lost silently.
//!
//! Memory stays bounded whatever the size of the input: each record is
//! noted as a fixed-size key (128 bits of its id — a collision among a
//! billion ids has a chance of about 10⁻²¹ —, its place in the input and 64
//! bits of its text) plus its id, into a buffer of [`DEFAULT_BUDGET`] bytes.
//! A full buffer is sorted by id and written to an unnamed temporary file
//! (`TMPDIR`); at the end of the run the sorted runs are merged and each id's
//! records compared with its first one. Nothing is reported until the run
//! ends, which is where the report was printed anyway. A run that fits the
//! buffer never touches the disk.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::hash::Hasher;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};

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

/// 128 bits of an id: two differently seeded SipHash values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
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

/// Bytes of memory the buffer of unsorted records may use before it is
/// sorted and written out: about 250,000 records with 40-byte ids.
pub(crate) const DEFAULT_BUDGET: usize = 16 << 20;

/// Conflicts listed one by one (the earliest in input order); the rest are
/// only counted.
pub(crate) const LISTED_CONFLICTS: usize = 1_000;

/// What the check knows of one record besides its id's text.
#[derive(Debug, Clone, Copy)]
struct Place {
    id: IdHash,
    /// Place in the run's input order (records are added in that order).
    seq: u64,
    line: u64,
    content: u64,
    file: u32,
}

impl Place {
    /// The order of the sorted runs: by id, then in input order.
    fn sort_key(&self) -> (IdHash, u64) {
        (self.id, self.seq)
    }
}

/// One record in the buffer; its id is `ids[id_at..id_at + id_len]`.
#[derive(Debug, Clone, Copy)]
struct Key {
    place: Place,
    id_at: u32,
    id_len: u32,
}

/// One record as the merge sees it.
#[derive(Debug)]
struct Record {
    place: Place,
    text: String,
}

/// A sorted run written to a temporary file.
struct Run {
    reader: BufReader<File>,
}

impl Run {
    /// Writes `keys` (sorted) with their ids to a new unnamed temporary file.
    fn write(keys: &[Key], ids: &str) -> io::Result<Run> {
        let mut w = RunWriter::new()?;
        for k in keys {
            let at = k.id_at as usize;
            w.put(&k.place, &ids[at..at + k.id_len as usize])?;
        }
        w.finish()
    }

    /// The next record, or `None` at the end of the run.
    fn next(&mut self) -> io::Result<Option<Record>> {
        let mut fixed = [0u8; 48];
        match self.reader.read_exact(&mut fixed) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let u64_at = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&fixed[i * 8..i * 8 + 8]);
            u64::from_le_bytes(b)
        };
        let u32_at = |at: usize| {
            let mut b = [0u8; 4];
            b.copy_from_slice(&fixed[at..at + 4]);
            u32::from_le_bytes(b)
        };
        let mut text = vec![0u8; u32_at(44) as usize];
        self.reader.read_exact(&mut text)?;
        Ok(Some(Record {
            place: Place {
                id: IdHash(u64_at(0), u64_at(1)),
                seq: u64_at(2),
                line: u64_at(3),
                content: u64_at(4),
                file: u32_at(40),
            },
            // Written from a `str` by this process.
            text: String::from_utf8_lossy(&text).into_owned(),
        }))
    }
}

/// Writes one sorted run: per record five u64s (id hash, place, line,
/// content hash), the file index and the id's length as u32s, then the id.
struct RunWriter {
    out: BufWriter<File>,
}

impl RunWriter {
    fn new() -> io::Result<RunWriter> {
        let file = tempfile::tempfile().map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("duplicate-id check: cannot create a temporary file (TMPDIR): {e}"),
            )
        })?;
        Ok(RunWriter {
            out: BufWriter::with_capacity(1 << 16, file),
        })
    }

    fn put(&mut self, p: &Place, text: &str) -> io::Result<()> {
        for n in [p.id.0, p.id.1, p.seq, p.line, p.content] {
            self.out.write_all(&n.to_le_bytes())?;
        }
        self.out.write_all(&p.file.to_le_bytes())?;
        // Ids are short; one past 4 GB could not have been parsed.
        let len = u32::try_from(text.len()).unwrap_or(u32::MAX);
        self.out.write_all(&len.to_le_bytes())?;
        self.out.write_all(&text.as_bytes()[..len as usize])
    }

    fn finish(self) -> io::Result<Run> {
        let mut file = self
            .out
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        file.rewind()?;
        Ok(Run {
            reader: BufReader::with_capacity(1 << 15, file),
        })
    }
}

/// Sorted runs open at once before they are merged into one.
const MAX_RUNS: usize = 64;

/// Hands every record of `runs` to `each` in (id hash, input order) order.
fn merge(mut runs: Vec<Run>, mut each: impl FnMut(Record) -> io::Result<()>) -> io::Result<()> {
    let mut heads: Vec<Option<Record>> = Vec::with_capacity(runs.len());
    let mut heap = BinaryHeap::new();
    for (i, run) in runs.iter_mut().enumerate() {
        let head = run.next()?;
        if let Some(r) = &head {
            heap.push(Reverse((r.place.sort_key(), i)));
        }
        heads.push(head);
    }
    while let Some(Reverse((_, i))) = heap.pop() {
        let next = runs[i].next()?;
        if let Some(r) = &next {
            heap.push(Reverse((r.place.sort_key(), i)));
        }
        if let Some(r) = std::mem::replace(&mut heads[i], next) {
            each(r)?;
        }
    }
    Ok(())
}

/// Ids seen so far in a run; [`Duplicates::finish`] tells the repeats.
pub(crate) struct Duplicates {
    keys: Vec<Key>,
    ids: String,
    runs: Vec<Run>,
    files: Vec<String>,
    next_seq: u64,
    budget: usize,
    /// Records repeating an earlier record exactly (after `finish`).
    pub identical: u64,
    /// Records sharing an earlier id with different content (after
    /// `finish`).
    pub conflict_count: u64,
    /// The first [`LISTED_CONFLICTS`] of them in input order.
    pub conflicts: Vec<Conflict>,
}

impl std::fmt::Debug for Duplicates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Duplicates")
            .field("records", &self.next_seq)
            .field("runs", &self.runs.len())
            .field("identical", &self.identical)
            .field("conflict_count", &self.conflict_count)
            .finish()
    }
}

impl Default for Duplicates {
    fn default() -> Duplicates {
        Duplicates::with_budget(DEFAULT_BUDGET)
    }
}

impl Duplicates {
    /// A check whose buffer is written out once it holds `budget` bytes.
    pub(crate) fn with_budget(budget: usize) -> Duplicates {
        Duplicates {
            keys: Vec::new(),
            ids: String::new(),
            runs: Vec::new(),
            files: Vec::new(),
            next_seq: 0,
            budget,
            identical: 0,
            conflict_count: 0,
            conflicts: Vec::new(),
        }
    }

    /// Notes the records of one batch of `file`, in input order.
    pub(crate) fn add(&mut self, file: &str, seen: Vec<Seen>) -> io::Result<()> {
        if seen.is_empty() {
            return Ok(());
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
            // Ids are short; one past 4 GB could not have been parsed.
            let id_len = u32::try_from(s.id.len()).unwrap_or(u32::MAX);
            let id_at = u32::try_from(self.ids.len()).unwrap_or(u32::MAX);
            self.ids.push_str(&s.id);
            self.keys.push(Key {
                place: Place {
                    id: IdHash::of(&s.id),
                    seq: self.next_seq,
                    line: s.line,
                    content: s.hash,
                    file: file_ix,
                },
                id_at,
                id_len,
            });
            self.next_seq += 1;
            let used = self.keys.len() * std::mem::size_of::<Key>() + self.ids.len();
            // The arena's offsets are u32: spill before it could pass 4 GB.
            if used >= self.budget || self.ids.len() >= u32::MAX as usize / 2 {
                self.spill()?;
            }
        }
        Ok(())
    }

    fn sort_buffer(&mut self) {
        self.keys.sort_unstable_by_key(|k| k.place.sort_key());
    }

    fn spill(&mut self) -> io::Result<()> {
        self.sort_buffer();
        self.runs.push(Run::write(&self.keys, &self.ids)?);
        self.keys.clear();
        self.ids.clear();
        if self.runs.len() >= MAX_RUNS {
            // Keeps open files few: the runs so far become one.
            let mut w = RunWriter::new()?;
            merge(std::mem::take(&mut self.runs), |r| w.put(&r.place, &r.text))?;
            self.runs.push(w.finish()?);
        }
        Ok(())
    }

    /// Compares every id's records with its first one: fills `identical`,
    /// `conflict_count` and `conflicts`, and frees the buffer and runs.
    pub(crate) fn finish(&mut self) -> io::Result<()> {
        let mut tally = Tally::default();
        if self.runs.is_empty() {
            self.sort_buffer();
            for k in &self.keys {
                let at = k.id_at as usize;
                let text = &self.ids[at..at + k.id_len as usize];
                tally.note(&k.place, || text.to_string());
            }
        } else {
            if !self.keys.is_empty() {
                self.spill()?;
            }
            merge(std::mem::take(&mut self.runs), |r| {
                let text = r.text;
                tally.note(&r.place, || text);
                Ok(())
            })?;
        }
        self.keys = Vec::new();
        self.ids = String::new();
        self.identical = tally.identical;
        self.conflict_count = tally.conflict_count;
        let mut listed = tally.listed.into_sorted_vec();
        listed.truncate(LISTED_CONFLICTS);
        let name = |f: u32| self.files.get(f as usize).map_or("?", String::as_str);
        self.conflicts = listed
            .into_iter()
            .map(|c| Conflict {
                id: c.id,
                first: format!("{}:{}", name(c.first_file), c.first_line),
                at: format!("{}:{}", name(c.file), c.line),
            })
            .collect();
        Ok(())
    }

    /// One line per listed conflict, for stderr, and a count of the rest.
    pub(crate) fn conflict_lines(&self) -> impl Iterator<Item = String> + '_ {
        let unlisted = self
            .conflict_count
            .saturating_sub(self.conflicts.len() as u64);
        self.conflicts
            .iter()
            .map(|c| {
                format!(
                    "{}: duplicate id {:?} with different content (first at {})",
                    c.at, c.id, c.first
                )
            })
            .chain((unlisted > 0).then(|| {
                format!("{unlisted} more duplicate ids with different content not listed")
            }))
    }
}

/// A conflict found by the merge, before its file names are looked up;
/// ordered by its place in the input.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Found {
    seq: u64,
    file: u32,
    line: u64,
    first_file: u32,
    first_line: u64,
    id: String,
}

/// Counts over the records in (id, input order) order.
#[derive(Default)]
struct Tally {
    /// The current id's first record.
    first: Option<Place>,
    identical: u64,
    conflict_count: u64,
    /// The earliest conflicts (a max-heap trimmed to the listing's size).
    listed: BinaryHeap<Found>,
}

impl Tally {
    fn note(&mut self, p: &Place, text: impl FnOnce() -> String) {
        match self.first {
            Some(first) if first.id == p.id => {
                if first.content == p.content {
                    self.identical += 1;
                    return;
                }
                self.conflict_count += 1;
                if self.listed.len() == LISTED_CONFLICTS
                    && self.listed.peek().is_some_and(|top| top.seq < p.seq)
                {
                    return;
                }
                self.listed.push(Found {
                    seq: p.seq,
                    file: p.file,
                    line: p.line,
                    first_file: first.file,
                    first_line: first.line,
                    id: text(),
                });
                if self.listed.len() > LISTED_CONFLICTS {
                    self.listed.pop();
                }
            }
            _ => self.first = Some(*p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(budget: usize, batches: &[(&str, Vec<Seen>)]) -> Duplicates {
        let mut d = Duplicates::with_budget(budget);
        for (file, seen) in batches {
            d.add(file, seen.clone()).unwrap();
        }
        d.finish().unwrap();
        d
    }

    #[test]
    fn identical_and_conflicting_repeats_are_told_apart() {
        let batches = [
            (
                "a.jsonl",
                vec![
                    Seen::new("c-1", 1, "{x}"),
                    Seen::new("c-1", 2, "{x}"),
                    Seen::new("c-2", 3, "{y}"),
                ],
            ),
            ("b.jsonl", vec![Seen::new("c-2", 7, "{z}")]),
        ];
        // In memory, and spilled after every record.
        for budget in [DEFAULT_BUDGET, 1] {
            let d = run(budget, &batches);
            assert_eq!(d.identical, 1);
            assert_eq!(d.conflict_count, 1);
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

    /// What the check must find, by a map of every id.
    fn reference(records: &[(String, u64, String)]) -> (u64, Vec<Conflict>) {
        let mut first: std::collections::HashMap<&str, (u64, &str)> = Default::default();
        let mut identical = 0;
        let mut conflicts = Vec::new();
        for (id, line, raw) in records {
            match first.get(id.as_str()) {
                None => {
                    first.insert(id, (*line, raw));
                }
                Some((_, r)) if r == raw => identical += 1,
                Some((l, _)) => conflicts.push(Conflict {
                    id: id.clone(),
                    first: format!("f.jsonl:{l}"),
                    at: format!("f.jsonl:{line}"),
                }),
            }
        }
        (identical, conflicts)
    }

    #[test]
    fn spilled_runs_find_what_a_full_map_finds() {
        // A small generator: ids from a narrow range so that many repeat,
        // contents from two values so that repeats are both kinds.
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let records: Vec<(String, u64, String)> = (1..=5_000u64)
            .map(|line| {
                let id = format!("会话-{}", next() % 1_500);
                let raw = format!("{{\"v\":{}}}", next() % 2);
                (id, line, raw)
            })
            .collect();
        let (identical, conflicts) = reference(&records);
        assert!(identical > 100 && conflicts.len() > LISTED_CONFLICTS);
        let batches: Vec<(&str, Vec<Seen>)> = records
            .chunks(37)
            .map(|c| {
                let seen = c
                    .iter()
                    .map(|(id, line, raw)| Seen::new(id, *line, raw))
                    .collect();
                ("f.jsonl", seen)
            })
            .collect();
        for budget in [DEFAULT_BUDGET, 4_096, 300] {
            let d = run(budget, &batches);
            assert_eq!(d.identical, identical, "budget {budget}");
            assert_eq!(d.conflict_count, conflicts.len() as u64, "budget {budget}");
            assert_eq!(
                d.conflicts,
                conflicts[..LISTED_CONFLICTS],
                "budget {budget}"
            );
            let lines: Vec<String> = d.conflict_lines().collect();
            assert_eq!(lines.len(), LISTED_CONFLICTS + 1);
            assert_eq!(
                lines[LISTED_CONFLICTS],
                format!(
                    "{} more duplicate ids with different content not listed",
                    conflicts.len() - LISTED_CONFLICTS
                )
            );
        }
    }
}
