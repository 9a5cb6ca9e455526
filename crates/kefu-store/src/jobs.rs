//! Background jobs (`jobs`, migration 0018): the dashboard's re-inspection,
//! recorded so that every node shows its progress and only one runs at a
//! time across nodes (a partial unique index on the running job of a
//! kind). A running job's node refreshes `heartbeat_at`; a job whose
//! heartbeat stopped (its node died) is marked abandoned by the next start.

use sqlx::Row;

use crate::{Context, ReinspectOutcome, Store, StoreError};

/// A job as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRow {
    /// Id.
    pub id: i64,
    /// What it does (`reinspect`).
    pub kind: String,
    /// What it works with (for a re-inspection, `pack@version`).
    pub label: String,
    /// Who started it.
    pub started_by: String,
    /// The node running it.
    pub node: String,
    /// Started, Unix ms.
    pub started_at: i64,
    /// Last sign of life, Unix ms.
    pub heartbeat_at: i64,
    /// Ended, Unix ms; `None` while running.
    pub finished_at: Option<i64>,
    /// Items to do (conversations stored when it started).
    pub total: i64,
    /// Counts so far.
    pub outcome: ReinspectOutcome,
    /// Why it stopped, when it failed.
    pub error: Option<String>,
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn uncount(r: &sqlx::any::AnyRow, column: &str) -> Result<u64, sqlx::Error> {
    Ok(u64::try_from(r.try_get::<i64, _>(column)?).unwrap_or(0))
}

impl Store {
    /// Records a new running job of `kind`; `None` (nothing recorded) when
    /// one of that kind is running, on any node. A running job whose
    /// heartbeat is older than `stale_ms` is first marked abandoned.
    pub async fn start_job(
        &self,
        kind: &str,
        label: &str,
        started_by: &str,
        node: &str,
        now: i64,
        stale_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "UPDATE jobs SET finished_at = $1, error = $2 \
             WHERE kind = $3 AND finished_at IS NULL AND heartbeat_at < $4",
        )
        .bind(now)
        .bind("abandoned: its node stopped sending a heartbeat")
        .bind(kind)
        .bind(now.saturating_sub(stale_ms))
        .execute(tx.conn())
        .await
        .context("marking abandoned jobs")?;
        tx.commit().await?;
        let mut tx = self.write().await?;
        let inserted = sqlx::query(
            "INSERT INTO jobs (kind, label, started_by, node, started_at, heartbeat_at) \
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
        )
        .bind(kind)
        .bind(label)
        .bind(started_by)
        .bind(node)
        .bind(now)
        .fetch_one(tx.conn())
        .await
        .context("starting a job");
        match inserted {
            Ok(row) => {
                let id: i64 = row.try_get("id").context("jobs.id")?;
                tx.commit().await?;
                Ok(Some(id))
            }
            // The partial unique index: one is running already.
            Err(StoreError::Conflict(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Records a running job's progress (and that its node is alive).
    pub async fn job_progress(
        &self,
        id: i64,
        total: i64,
        outcome: &ReinspectOutcome,
        now: i64,
    ) -> Result<(), StoreError> {
        self.update_job(id, total, outcome, now, None, false).await
    }

    /// Records that a job ended, with its final counts and, when it failed,
    /// why.
    pub async fn finish_job(
        &self,
        id: i64,
        total: i64,
        outcome: &ReinspectOutcome,
        now: i64,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        self.update_job(id, total, outcome, now, error, true).await
    }

    async fn update_job(
        &self,
        id: i64,
        total: i64,
        o: &ReinspectOutcome,
        now: i64,
        error: Option<&str>,
        finished: bool,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "UPDATE jobs SET total = $1, reinspected = $2, unchanged = $3, unreadable = $4, \
             kept = $5, heartbeat_at = $6, error = $7, \
             finished_at = CASE WHEN $8 = 1 THEN $6 ELSE finished_at END \
             WHERE id = $9",
        )
        .bind(total)
        .bind(count(o.reinspected))
        .bind(count(o.unchanged))
        .bind(count(o.unreadable))
        .bind(count(o.kept))
        .bind(now)
        .bind(error)
        .bind(i64::from(finished))
        .bind(id)
        .execute(tx.conn())
        .await
        .context("recording a job's progress")?;
        tx.commit().await
    }

    /// The latest job of `kind`, running or not.
    pub async fn latest_job(&self, kind: &str) -> Result<Option<JobRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, kind, label, started_by, node, started_at, heartbeat_at, finished_at, \
             total, reinspected, unchanged, unreadable, kept, error \
             FROM jobs WHERE kind = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(kind)
        .fetch_optional(self.pool())
        .await
        .context("reading the latest job")?;
        row.map(|r| -> Result<JobRow, sqlx::Error> {
            Ok(JobRow {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                label: r.try_get("label")?,
                started_by: r.try_get("started_by")?,
                node: r.try_get("node")?,
                started_at: r.try_get("started_at")?,
                heartbeat_at: r.try_get("heartbeat_at")?,
                finished_at: r.try_get("finished_at")?,
                total: r.try_get("total")?,
                outcome: ReinspectOutcome {
                    reinspected: uncount(&r, "reinspected")?,
                    unchanged: uncount(&r, "unchanged")?,
                    unreadable: uncount(&r, "unreadable")?,
                    kept: uncount(&r, "kept")?,
                },
                error: r.try_get("error")?,
            })
        })
        .transpose()
        .context("jobs")
    }
}
