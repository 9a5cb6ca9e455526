//! What SQLite and PostgreSQL do differently, in one place.
//!
//! Queries go through sqlx's `Any` driver and are written once, with `$N`
//! placeholders. Where the two backends need different SQL, the difference
//! is decided here and nowhere else:
//!
//! - multi-row INSERTs: `placeholders` (`?` on SQLite, `$N` on PostgreSQL);
//! - starting a write transaction: `begin_write` (`BEGIN IMMEDIATE` on
//!   SQLite, so the write lock is taken up front, waiting up to
//!   [`SQLITE_BUSY_TIMEOUT_MS`]; a plain `BEGIN` on PostgreSQL, whose writers
//!   lock rows instead);
//! - row locks: `for_update` and `skip_locked` (PostgreSQL only; an
//!   SQLite write transaction already excludes every other writer);
//! - join order: `ordered_join`;
//! - run-time `WHERE` clauses with numbered parameters: `Where`.

use std::fmt::Write as _;

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::Any;

use crate::Backend;

/// A query of the `Any` driver.
pub(crate) type AnyQuery<'q> = Query<'q, Any, AnyArguments>;

/// How long an SQLite connection waits for another writer's lock before it
/// reports `SQLITE_BUSY`.
pub const SQLITE_BUSY_TIMEOUT_MS: u64 = 10_000;

/// What a store's connections are for: their SQLite settings differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Use {
    /// Commands and tests: SQLite's own checkpoints.
    Interactive,
    /// `kefu serve`: checkpoints left to a background task
    /// ([`crate::Store::checkpoint`]).
    Server,
    /// A long batch job in a process of its own (`kefu import`).
    Batch,
}

/// The settings of every SQLite connection: WAL (readers never wait for the
/// writer), the busy timeout, foreign keys, and memory: a 64 MiB page cache
/// and a memory map of up to 1 GiB of the file; for a batch job in a
/// process of its own, a 16 MiB page cache and no memory map, so that its
/// resident memory does not grow with the file (mapped pages it reads
/// count towards it). The OS keeps the file's pages cached either way;
/// 64 MiB did not import faster than 16 MiB.
pub(crate) fn sqlite_pragmas(usage: Use) -> String {
    let batch = usage == Use::Batch;
    let (cache_kib, mmap_size): (i64, u64) = if batch {
        (16 << 10, 0)
    } else {
        (64 << 10, 1 << 30)
    };
    // A batch job checkpoints every 256 MiB of WAL rather than SQLite's
    // 16 MiB (1,000 of our 16 KiB pages): each slice dirties the same hot
    // pages (rollups, index roots, the search index's structure), and every
    // checkpoint copies them to the file and syncs it again. 10–16 % faster
    // imports; the size limit truncates the WAL once a checkpoint is done.
    //
    // A server checkpoints in the background instead: otherwise whichever
    // commit finds the WAL over the limit copies it back — an interactive
    // write paying for the WAL an import beside it wrote.
    let ckpt_pages: u32 = match usage {
        Use::Batch => 16_384,
        Use::Interactive => 1_000,
        Use::Server => 0,
    };
    format!(
        "PRAGMA page_size = 16384; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
         PRAGMA cache_size = -{cache_kib}; PRAGMA temp_store = MEMORY; \
         PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; PRAGMA foreign_keys = ON; \
         PRAGMA mmap_size = {mmap_size}; PRAGMA wal_autocheckpoint = {ckpt_pages}; \
         PRAGMA journal_size_limit = 67108864;"
    )
}

/// Splits `rows` for multi-row statements: chunks of `max` rows while that
/// many are left, then the rest in descending powers of two (5 → 4 + 1).
///
/// Each chunk size is its own SQL text, and a statement is parsed anew for
/// every text the connection has not cached; batch jobs size their slices
/// by time, so plain `chunks` would produce a new text per slice. This way a
/// table sees at most `1 + log2(max)` texts, all of which stay prepared.
pub(crate) fn row_chunks<T>(rows: &[T], max: usize) -> impl Iterator<Item = &[T]> {
    let max = max.max(1);
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = if rest.len() >= max {
            max
        } else {
            1 << (usize::BITS - 1 - rest.len().leading_zeros())
        };
        let (chunk, after) = rest.split_at(n);
        rest = after;
        Some(chunk)
    })
}

/// `($1,$2,…),($n,…)` for `rows` rows of `cols` columns. SQLite gets
/// anonymous `?` instead: it resolves `$N` by searching the statement's
/// parameter names, which is quadratic in a multi-row INSERT.
pub(crate) fn placeholders(backend: Backend, rows: usize, cols: usize) -> String {
    let mut s = String::with_capacity(rows * cols * 5);
    let mut n = 1;
    for r in 0..rows {
        if r > 0 {
            s.push(',');
        }
        s.push('(');
        for c in 0..cols {
            if c > 0 {
                s.push(',');
            }
            match backend {
                Backend::Sqlite => s.push('?'),
                Backend::Postgres => {
                    let _ = write!(s, "${n}");
                }
            }
            n += 1;
        }
        s.push(')');
    }
    s
}

/// `UPDATE table SET` every column but the first (the id, bound as `$1`)
/// to `$2…`, only while `version` is still the one bound last: the
/// optimistic-concurrency rewrite of a whole row, with its columns bound in
/// `columns` order and then the expected version.
pub(crate) fn update_by_version(table: &str, columns: &[&str]) -> String {
    let sets: Vec<String> = columns
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, col)| format!("{col} = ${}", i + 1))
        .collect();
    format!(
        "UPDATE {table} SET {} WHERE {} = $1 AND version = ${}",
        sets.join(", "),
        columns.first().copied().unwrap_or("id"),
        columns.len() + 1
    )
}

/// The statement that starts a write transaction. SQLite: `BEGIN
/// IMMEDIATE` takes the database's one write lock at once (waiting up to the
/// busy timeout) instead of failing later, when a transaction that has read
/// tries to upgrade after another writer committed. PostgreSQL: `BEGIN`;
/// writers that read before they write lock the rows ([`for_update`]).
pub(crate) fn begin_write(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "BEGIN IMMEDIATE",
        Backend::Postgres => "BEGIN",
    }
}

/// ` FOR UPDATE` on PostgreSQL: the rows read stay locked until the
/// transaction ends. Nothing on SQLite, whose write transactions exclude
/// every other writer from their start.
pub(crate) fn for_update(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "",
        Backend::Postgres => " FOR UPDATE",
    }
}

/// ` FOR UPDATE SKIP LOCKED` on PostgreSQL: claims rows no other node holds,
/// so nodes scanning at once share the work. Nothing on SQLite (one writer
/// at a time).
pub(crate) fn skip_locked(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "",
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
    }
}

/// The aggregate that joins a group's texts with `,`: SQLite's
/// `group_concat`, PostgreSQL's `string_agg`.
pub(crate) fn join_texts(backend: Backend, expr: &str) -> String {
    match backend {
        Backend::Sqlite => format!("group_concat({expr}, ',')"),
        Backend::Postgres => format!("string_agg({expr}, ',')"),
    }
}

/// An inner join that SQLite keeps in the written order (`CROSS JOIN`), for
/// queries that must start from the left table; PostgreSQL plans its own.
pub(crate) fn ordered_join(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "CROSS JOIN",
        Backend::Postgres => "JOIN",
    }
}

/// Whether `e` says other writers held a lock for longer than kefu waits:
/// SQLite's `SQLITE_BUSY` and its extended codes (numeric codes of at most
/// four digits whose low byte is 5); PostgreSQL's `lock_not_available`
/// (55P03), `deadlock_detected` (40P01) and `serialization_failure` (40001),
/// whose SQLSTATEs are always five characters; or no pooled connection
/// free in time. Worth trying again.
pub(crate) fn is_busy(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db.code().is_some_and(|c| busy_code(&c)),
        sqlx::Error::PoolTimedOut => true,
        _ => false,
    }
}

/// [`is_busy`] for a database error code.
fn busy_code(code: &str) -> bool {
    if code.len() == 5 {
        return matches!(code, "55P03" | "40P01" | "40001");
    }
    code.parse::<i32>().is_ok_and(|c| c & 0xff == 5)
}

/// A value bound to a [`Where`] placeholder.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    /// An integer.
    Int(i64),
    /// A text.
    Text(String),
}

/// `WHERE` conditions built at run time, with numbered placeholders
/// (`$1`, `$2`, …) and the values to bind to them in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Where {
    parts: Vec<String>,
    args: Vec<Arg>,
}

impl Where {
    /// Adds a value; returns its placeholder.
    pub(crate) fn arg(&mut self, a: Arg) -> String {
        self.args.push(a);
        format!("${}", self.args.len())
    }

    /// Adds a condition (which names placeholders from [`Where::arg`]).
    pub(crate) fn push(&mut self, sql: impl Into<String>) {
        self.parts.push(sql.into());
    }

    /// The placeholder after the last one added (for LIMIT, OFFSET …).
    pub(crate) fn next_placeholder(&self, after: usize) -> String {
        format!("${}", self.args.len() + after)
    }

    /// The conditions joined with AND (`1 = 1` when there are none).
    pub(crate) fn sql(&self) -> String {
        if self.parts.is_empty() {
            "1 = 1".to_string()
        } else {
            self.parts.join(" AND ")
        }
    }

    /// Binds the values, in order.
    pub(crate) fn bind<'q>(&self, mut q: AnyQuery<'q>) -> AnyQuery<'q> {
        for a in &self.args {
            q = match a {
                Arg::Int(v) => q.bind(*v),
                Arg::Text(v) => q.bind(v.clone()),
            };
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_connections_have_no_memory_map() {
        let interactive = sqlite_pragmas(Use::Interactive);
        let batch = sqlite_pragmas(Use::Batch);
        assert!(interactive.contains("PRAGMA mmap_size = 1073741824;"));
        assert!(interactive.contains("PRAGMA cache_size = -65536;"));
        assert!(batch.contains("PRAGMA mmap_size = 0;"));
        assert!(batch.contains("PRAGMA cache_size = -16384;"));
        assert!(batch.contains("PRAGMA wal_autocheckpoint = 16384;"));
        assert!(interactive.contains("PRAGMA wal_autocheckpoint = 1000;"));
        assert!(sqlite_pragmas(Use::Server).contains("PRAGMA wal_autocheckpoint = 0;"));
    }

    #[test]
    fn row_chunks_are_full_then_powers_of_two() {
        let rows: Vec<u32> = (0..1_000).collect();
        let sizes: Vec<usize> = row_chunks(&rows, 300).map(<[u32]>::len).collect();
        assert_eq!(sizes, vec![300, 300, 300, 64, 32, 4]);
        let all: Vec<u32> = row_chunks(&rows, 300).flatten().copied().collect();
        assert_eq!(all, rows, "every row once, in order");
        assert_eq!(row_chunks(&rows[..0], 300).count(), 0);
        assert_eq!(
            row_chunks(&rows[..7], 0)
                .map(<[u32]>::len)
                .collect::<Vec<_>>(),
            vec![1; 7]
        );
    }

    #[test]
    fn placeholders_follow_the_backend() {
        assert_eq!(placeholders(Backend::Sqlite, 2, 2), "(?,?),(?,?)");
        assert_eq!(placeholders(Backend::Postgres, 2, 2), "($1,$2),($3,$4)");
    }

    #[test]
    fn busy_codes_of_both_backends() {
        // SQLite: SQLITE_BUSY, BUSY_RECOVERY, BUSY_SNAPSHOT, BUSY_TIMEOUT.
        for c in ["5", "261", "517", "773"] {
            assert!(busy_code(c), "{c}");
        }
        // SQLite: SQLITE_LOCKED, SQLITE_CONSTRAINT_UNIQUE; PostgreSQL:
        // unique_violation, a five-character SQLSTATE.
        for c in ["6", "2067", "23505", "22P02"] {
            assert!(!busy_code(c), "{c}");
        }
        for c in ["55P03", "40P01", "40001"] {
            assert!(busy_code(c), "{c}");
        }
    }

    #[test]
    fn where_numbers_its_parameters() {
        let mut w = Where::default();
        assert_eq!(w.sql(), "1 = 1");
        let a = w.arg(Arg::Int(1));
        w.push(format!("a = {a}"));
        let b = w.arg(Arg::Text("x".into()));
        w.push(format!("b = {b}"));
        assert_eq!(w.sql(), "a = $1 AND b = $2");
        assert_eq!(w.next_placeholder(1), "$3");
    }
}
