//! Transactions: [`Store::write`] starts every write transaction kefu runs,
//! [`Store::read`] a consistent snapshot for several reads.
//!
//! A write transaction on SQLite starts with `BEGIN IMMEDIATE`
//! ([`crate::dialect::begin_write`]): it takes the database's one write lock
//! before anything is read, waiting up to the busy timeout for another
//! writer, and is tried again a few times (with a growing pause) if that
//! writer held the lock for longer. A deferred `BEGIN` would instead fail
//! with "database is locked" at its first write whenever another writer
//! committed after its first read — under load, often. On PostgreSQL it is a
//! plain `BEGIN`; methods that read rows to change them lock those rows.
//!
//! Within one process, SQLite writers first queue for the store's write
//! gate (a one-permit semaphore, first come first served) and only then take
//! a connection and the lock. Waiting in SQLite's busy handler instead
//! sleeps in growing steps (up to 100 ms), so under a burst of writers some
//! waited hundreds of milliseconds while others went straight through, and
//! each waiter held a pooled connection that readers needed; the queue
//! keeps write latency flat and leaves the connections to the readers.
//! Writers of other processes still meet in the busy handler.
//!
//! When the lock stays taken through every attempt the error is
//! [`StoreError::Busy`], which the API and the dashboard answer with 503 and
//! `Retry-After`. Long batch jobs commit in time-bounded slices
//! ([`crate::slice`]) so that an interactive write rarely waits long.
//!
//! Store methods that a service composes into one unit of work take
//! `&mut Tx`; the service commits.

use std::time::Duration;

use sqlx::{Any, AnyConnection};

use crate::dialect;
use crate::{Backend, Context, Store, StoreError};

/// How many times a write transaction tries to take SQLite's write lock.
const WRITE_ATTEMPTS: u32 = 4;

/// An open transaction. Dropping it without [`Tx::commit`] rolls it back.
pub struct Tx {
    inner: sqlx::Transaction<'static, Any>,
    backend: Backend,
    writes: bool,
    /// Settings read in this transaction ([`Tx::settings`]).
    pub(crate) settings_read: crate::settings::SettingsRead,
    /// The write gate's permit (SQLite writes), released after the commit
    /// or rollback; declared after `inner` so that it is dropped after it.
    gate: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Tx {
    /// Which backend the transaction runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// ` FOR UPDATE` in a PostgreSQL write transaction (rows read there are
    /// read to be changed), nothing otherwise: read transactions take no
    /// locks, and SQLite's write transactions exclude other writers anyway.
    pub(crate) fn lock_rows(&self) -> &'static str {
        if self.writes {
            crate::dialect::for_update(self.backend)
        } else {
            ""
        }
    }

    /// Makes the transaction's changes permanent.
    pub async fn commit(self) -> Result<(), StoreError> {
        self.inner
            .commit()
            .await
            .context("committing a transaction")
    }

    /// Rolls the transaction back and begins a new write transaction in its
    /// place, still holding the write gate's permit: no writer of this
    /// process gets in between (a write group undoing its first write,
    /// which has no savepoint to go back to).
    pub(crate) async fn restart(mut self, store: &Store) -> Result<Tx, StoreError> {
        let gate = self.gate.take();
        self.inner
            .rollback()
            .await
            .context("rolling back a transaction")?;
        store.begin_holding(gate).await
    }

    /// The connection the transaction runs on, for this crate's queries.
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.inner
    }
}

impl Store {
    /// Starts a write transaction: on SQLite `BEGIN IMMEDIATE`, retried a
    /// few times while another writer holds the lock past the busy timeout;
    /// on PostgreSQL `BEGIN`. Every write transaction starts here.
    pub async fn write(&self) -> Result<Tx, StoreError> {
        let gate = match &self.write_gate {
            Some(gate) => {
                let wait = Duration::from_millis(dialect::SQLITE_BUSY_TIMEOUT_MS);
                match tokio::time::timeout(wait, gate.clone().acquire_owned()).await {
                    Ok(Ok(permit)) => Some(permit),
                    // The semaphore is never closed; a closed one would
                    // mean the store is going away.
                    Ok(Err(_)) => return Err(StoreError::Busy("the store is closing".into())),
                    Err(_) => {
                        return Err(StoreError::Busy(format!(
                            "waited {} s for the write queue",
                            wait.as_secs()
                        )))
                    }
                }
            }
            None => None,
        };
        self.begin_holding(gate).await
    }

    /// Starts a write transaction for a writer that holds the write gate's
    /// `gate` permit (SQLite), which the transaction keeps until it ends.
    pub(crate) async fn begin_holding(
        &self,
        gate: Option<tokio::sync::OwnedSemaphorePermit>,
    ) -> Result<Tx, StoreError> {
        let mut attempt = 1;
        loop {
            match self
                .pool
                .begin_with(dialect::begin_write(self.backend))
                .await
            {
                Ok(inner) => {
                    return Ok(Tx {
                        inner,
                        backend: self.backend,
                        writes: true,
                        settings_read: Default::default(),
                        gate,
                    })
                }
                Err(e) if attempt < WRITE_ATTEMPTS && dialect::is_busy(&e) => {
                    tracing::warn!(attempt, error = %e, "database busy: trying again");
                    tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                    attempt += 1;
                }
                Err(e) if dialect::is_busy(&e) => {
                    tracing::warn!(attempts = attempt, error = %e, "database busy: giving up");
                    return Err(StoreError::Busy(format!(
                        "no write lock after {attempt} attempts: {e}"
                    )));
                }
                Err(e) => return Err(e).context("starting a write transaction"),
            }
        }
    }

    /// Starts a read-only transaction: several reads see one consistent
    /// state of the database.
    pub async fn read(&self) -> Result<Tx, StoreError> {
        let inner = self
            .pool
            .begin()
            .await
            .context("starting a read transaction")?;
        Ok(Tx {
            inner,
            backend: self.backend,
            writes: false,
            settings_read: Default::default(),
            gate: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Row;

    use crate::Store;

    /// Writers that read before they write, all at once: with deferred
    /// transactions SQLite refuses most of them ("database is locked");
    /// through [`Store::write`] every one commits.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_read_then_write_transactions_all_commit() {
        let path = std::env::temp_dir().join(format!("kefu-tx-{}.db", std::process::id()));
        let url = format!("sqlite://{}", path.display());
        let store = Store::open(&url).await.expect("open");
        sqlx::query("INSERT INTO settings (key, value, updated_at, updated_by) VALUES ('counter', '0', 0, 'test')")
            .execute(&store.pool)
            .await
            .expect("seed");
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..15 {
                    let mut tx = store.write().await.expect("write transaction");
                    let n: i64 = sqlx::query("SELECT value FROM settings WHERE key = 'counter'")
                        .fetch_one(tx.conn())
                        .await
                        .expect("read")
                        .try_get::<String, _>("value")
                        .expect("value")
                        .parse()
                        .expect("number");
                    tokio::task::yield_now().await;
                    sqlx::query("UPDATE settings SET value = $1 WHERE key = 'counter'")
                        .bind((n + 1).to_string())
                        .execute(tx.conn())
                        .await
                        .expect("write after read");
                    tx.commit().await.expect("commit");
                }
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
        let n: String = sqlx::query("SELECT value FROM settings WHERE key = 'counter'")
            .fetch_one(&store.pool)
            .await
            .expect("read")
            .get("value");
        assert_eq!(n, "120", "no update lost, none refused");
        store.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }

    /// A writer that cannot get its lock in time fails with
    /// [`StoreError::Busy`] (which the API answers 503), not a generic
    /// database error — on both backends, with real lock contention.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lock_contention_is_busy_on_both_backends() {
        use crate::{Backend, Context, StoreError};
        let sqlite = crate::testing::TestDb::sqlite("busy");
        let mut dbs = vec![sqlite.open().await];
        let pg = crate::testing::TestDb::postgres("busy").await;
        if let Some(pg) = &pg {
            dbs.push(pg.open().await);
        }
        for store in dbs {
            sqlx::query("INSERT INTO settings (key, value, updated_at, updated_by) VALUES ('k', '0', 0, 't')")
                .execute(&store.pool)
                .await
                .expect("seed");
            // The holder: a write transaction that locked the row.
            let mut holder = store.write().await.expect("holder");
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT value FROM settings WHERE key = 'k'{}",
                holder.lock_rows()
            )))
            .fetch_one(holder.conn())
            .await
            .expect("lock the row");
            // The waiter gives up at once instead of after the busy timeout.
            let mut conn = store.pool.acquire().await.expect("connection");
            let err = match store.backend {
                Backend::Sqlite => {
                    sqlx::query("PRAGMA busy_timeout = 0")
                        .execute(&mut *conn)
                        .await
                        .expect("pragma");
                    sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await
                }
                Backend::Postgres => {
                    for sql in ["BEGIN", "SET LOCAL lock_timeout = '20ms'"] {
                        sqlx::query(sql).execute(&mut *conn).await.expect(sql);
                    }
                    sqlx::query("SELECT value FROM settings WHERE key = 'k' FOR UPDATE")
                        .execute(&mut *conn)
                        .await
                }
            }
            .context("waiting for a lock")
            .expect_err("the lock is held");
            assert!(matches!(err, StoreError::Busy(_)), "{err:?}");
            // Not a reusable connection any more on PostgreSQL (aborted
            // transaction); drop it from the pool.
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            if store.backend == Backend::Sqlite {
                sqlx::query("PRAGMA busy_timeout = 10000")
                    .execute(&mut *conn)
                    .await
                    .expect("pragma");
            }
            drop(conn);
            holder.commit().await.expect("holder commits");
            store.close().await;
        }
    }
}
