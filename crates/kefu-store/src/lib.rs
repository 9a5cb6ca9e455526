//! kefu's persistence: one query layer over SQLite (the embedded default, a
//! single file) and PostgreSQL (for several stateless kefu nodes sharing
//! one database).
//!
//! Both backends go through sqlx's `Any` driver, so every query is written
//! once. To keep that possible the schema uses only portable types: times
//! are Unix milliseconds in 64-bit integers, flags are 0/1 integers, and
//! structured values (the conversation record, the inspection result) are
//! JSON text. Each backend has its own migrations (`migrations/sqlite`,
//! `migrations/postgres`), applied at start and by `kefu migrate`.

mod accounts;
mod assessments;
mod audit;
mod complaints;
mod conversations;
mod cursor;
mod customer_names;
pub mod customers;
pub mod dialect;
mod feedback;
pub mod group_commit;
mod handover;
mod jobs;
pub mod json_time;
mod login_throttle;
mod mystery;
pub mod outbox;
mod packed;
mod packs;
pub mod quality;
mod reviews;
mod search;
mod settings;
pub mod slice;
#[cfg(feature = "testing")]
pub mod testing;
mod transaction;
mod users;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};

pub use assessments::AssessmentRow;
pub use audit::AuditEntry;
pub use complaints::{
    ComplaintKey, ComplaintPage, ComplaintQuery, ComplaintRow, ComplaintTally, EscalationFlags,
    EscalationRow, HistoryRow, NewRevisit, OpenComplaintCounts, RevisitRow, SlaColumns, SlaFilter,
    StoredComplaint, COUNT_CAP,
};
pub use conversations::{
    day_date, local_day, ConversationFacts, ConversationFilter, ImportItem, ImportOutcome,
    Importer, InspectionKey, InspectionPage, InspectionRow, ReinspectOutcome,
};
pub use feedback::{
    FeedbackBoardRow, FeedbackEventRow, FeedbackKey, FeedbackPage, FeedbackQuery, FeedbackRow,
    ThemeText,
};
pub use handover::{
    DueObject, HandoverEventRow, HandoverItemRow, HandoverQuery, HandoverRow, OverdueUrgentItem,
    ShiftRow,
};
pub use jobs::JobRow;
pub use mystery::{MysteryPlanRow, MysterySheetRow, MysteryShopQuery, MysteryShopRow};
pub use packs::PackVersion;
pub use reviews::{Appeal, CurrentResult, QueueItem, ReviewRow, SamplingCandidate};
pub use search::{search_form, transcript_text, TextFilter, MAX_QUERY_TERMS};
pub use transaction::Tx;
pub use users::{Credentials, Holder, TokenInfo, TokenUse, UserRecord};

/// Decompresses a stored document (a conversation record or a result), for
/// services that read those columns themselves.
pub fn unpack_document(bytes: &[u8]) -> Result<Vec<u8>, String> {
    packed::unpack(bytes)
}

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL names a backend kefu does not support.
    #[error("unsupported database URL `{0}`: use sqlite://FILE or postgres://…")]
    UnsupportedUrl(String),
    /// A database error, with what kefu was doing.
    #[error("{context}: {source}")]
    Database {
        /// What kefu was doing.
        context: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// Applying migrations failed.
    #[error("migrating the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored JSON value could not be read back.
    #[error("stored data for {what} is unreadable: {reason}")]
    Corrupt {
        /// Which record.
        what: String,
        /// Why.
        reason: String,
    },
    /// The rule pack could not be compiled.
    #[error("rule pack: {0}")]
    Pack(String),
    /// No such record.
    #[error("no {what} {id}")]
    NotFound {
        /// What was asked for ("complaint", "appeal" …).
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// The write collides with what is stored: a unique key is taken, or
    /// the record changed since it was read.
    #[error("{0}")]
    Conflict(String),
    /// Other writers held the locks the write needs for longer than kefu
    /// waits (SQLite's busy timeout and retries, PostgreSQL lock timeouts,
    /// deadlocks and serialization failures, an exhausted pool): nothing
    /// was written; the caller may try again shortly.
    #[error("the database is busy: {0}")]
    Busy(String),
}

impl StoreError {
    /// A [`StoreError::NotFound`].
    pub fn not_found(what: &'static str, id: impl Into<String>) -> StoreError {
        StoreError::NotFound {
            what,
            id: id.into(),
        }
    }

    /// A [`StoreError::Corrupt`]: stored data that cannot be read back.
    pub fn corrupt(what: impl Into<String>, reason: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt {
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}

/// Adds what kefu was doing to a sqlx error; a unique key taken becomes a
/// [`StoreError::Conflict`], lock contention a [`StoreError::Busy`].
pub(crate) trait Context<T> {
    fn context(self, context: &'static str) -> Result<T, StoreError>;
}

impl<T> Context<T> for Result<T, sqlx::Error> {
    fn context(self, context: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| match &source {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(format!("{context}: {db}"))
            }
            e if dialect::is_busy(e) => StoreError::Busy(format!("{context}: {e}")),
            _ => StoreError::Database { context, source },
        })
    }
}

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// The default database: `kefu.db` in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://kefu.db";

/// A connection pool and the backend behind it. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite: the queue of this process's writers ([`Store::write`]), one
    /// permit, handed out first come first served.
    write_gate: Option<std::sync::Arc<tokio::sync::Semaphore>>,
    /// Writes waiting to be run in a shared transaction
    /// ([`Store::write_grouped`]).
    write_queue: std::sync::Arc<group_commit::WriteQueue>,
    /// Whose turn it is to run a group: the write gate on SQLite (groups
    /// take turns with every other writer), a gate of the groups' own on
    /// PostgreSQL.
    group_gate: std::sync::Arc<tokio::sync::Semaphore>,
    /// How long one slice of a batch job (import, re-inspection) aims to
    /// hold the write lock ([`slice`]).
    slice_target: Duration,
}

impl Store {
    /// Connects to `url` (`sqlite://FILE`, `sqlite::memory:`, `postgres://…`).
    /// An SQLite file is created when missing. Does not migrate.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        Store::connect_with(url, dialect::Use::Interactive).await
    }

    /// Like [`Store::open`], for a long-running server (`kefu serve`): on
    /// SQLite no commit checkpoints the WAL; call [`Store::checkpoint`]
    /// every second or so instead. An interactive write then never pays
    /// for copying back the WAL that an import beside it wrote.
    pub async fn open_for_server(url: &str) -> Result<Store, StoreError> {
        let store = Store::connect_with(url, dialect::Use::Server).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Copies what it can of the WAL back into the database file without
    /// waiting for readers or writers (SQLite `wal_checkpoint(PASSIVE)`;
    /// nothing on PostgreSQL). For stores opened with
    /// [`Store::open_for_server`].
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        if self.backend == Backend::Sqlite {
            sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&self.pool)
                .await
                .context("checkpointing the WAL")?;
        }
        Ok(())
    }

    /// Like [`Store::open`], for a long batch job running in a process of
    /// its own (`kefu import`, `kefu reinspect`): on SQLite, two
    /// connections (the job writes and reads one thing at a time) that read
    /// the file through a 16 MiB page cache each instead of a memory map.
    /// Mapped pages and every pooled connection's cache count towards the
    /// process's resident memory, which then grows with the database; this
    /// way it stays bounded however large the file gets.
    pub async fn open_for_batch(url: &str) -> Result<Store, StoreError> {
        let store = Store::connect_with(url, dialect::Use::Batch).await?;
        store.migrate().await?;
        Ok(store)
    }

    async fn connect_with(url: &str, usage: dialect::Use) -> Result<Store, StoreError> {
        let batch = usage == dialect::Use::Batch;
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_string()));
        };
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") && !url.contains(":memory:") => {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            }
            _ => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url).context("reading the database URL")?;
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                // One writer at a time is all SQLite allows; readers share WAL.
                Backend::Sqlite if batch => 2,
                Backend::Sqlite => 4,
                Backend::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute(sqlx::AssertSqlSafe(dialect::sqlite_pragmas(usage)))
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .context("connecting to the database")?;
        let write_gate = (backend == Backend::Sqlite)
            .then(|| std::sync::Arc::new(tokio::sync::Semaphore::new(1)));
        let group_gate = write_gate
            .clone()
            .unwrap_or_else(|| std::sync::Arc::new(tokio::sync::Semaphore::new(1)));
        Ok(Store {
            pool,
            backend,
            write_gate,
            write_queue: Default::default(),
            group_gate,
            slice_target: slice::SLICE_TARGET,
        })
    }

    /// This store with batch jobs committing in slices of about `target`
    /// (default [`slice::SLICE_TARGET`], 50 ms). Longer slices import
    /// faster — fewer commits, fewer index pages written again — but make
    /// an interactive writer wait up to that long: worth it for a first
    /// bulk load nobody works beside.
    pub fn with_slice_target(mut self, target: Duration) -> Store {
        self.slice_target = target.max(Duration::from_millis(1));
        self
    }

    /// Connects and applies pending migrations.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let store = Store::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the backend's pending migrations. Safe to run from several
    /// nodes at once (the migrator takes a lock).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The underlying pool, for this crate's queries.
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A connection of the pool, for one-statement methods that share their
    /// SQL with a [`Tx`] method.
    pub(crate) async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, StoreError> {
        self.pool
            .acquire()
            .await
            .context("connecting to the database")
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .context("checking the database")?;
        Ok(())
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
