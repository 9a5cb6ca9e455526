//! Assessment runs (`assessments`): the weighted assessment of a period,
//! stored as a draft and frozen when published. A partial unique index
//! allows one published run per period.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{Context, Store, StoreError, Tx};

/// A stored assessment run; the scheme and the results are JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssessmentRow {
    /// Id.
    pub id: i64,
    /// Period label.
    pub period: String,
    /// `draft` or `published`.
    pub status: String,
    /// The scheme used, JSON.
    pub scheme: String,
    /// Per agent, JSON.
    pub results: String,
    /// Who ran it.
    pub created_by: String,
    /// When, Unix ms.
    pub created_at: i64,
    /// Who published it.
    pub published_by: Option<String>,
    /// When, Unix ms.
    pub published_at: Option<i64>,
}

const COLUMNS: &str =
    "id, period, status, scheme, results, created_by, created_at, published_by, published_at";

fn row_of(r: &AnyRow) -> Result<AssessmentRow, sqlx::Error> {
    Ok(AssessmentRow {
        id: r.try_get("id")?,
        period: r.try_get("period")?,
        status: r.try_get("status")?,
        scheme: r.try_get("scheme")?,
        results: r.try_get("results")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        published_by: r.try_get("published_by")?,
        published_at: r.try_get("published_at")?,
    })
}

impl Tx {
    /// Stores a draft run of `period`, replacing an earlier draft of it;
    /// returns its id.
    pub async fn replace_draft_assessment(
        &mut self,
        period: &str,
        scheme: &str,
        results: &str,
        by: &str,
        now_ms: i64,
    ) -> Result<i64, StoreError> {
        sqlx::query("DELETE FROM assessments WHERE period = $1 AND status = 'draft'")
            .bind(period)
            .execute(self.conn())
            .await
            .context("replacing a draft assessment")?;
        sqlx::query(
            "INSERT INTO assessments (period, status, scheme, results, created_by, created_at) \
             VALUES ($1, 'draft', $2, $3, $4, $5) RETURNING id",
        )
        .bind(period)
        .bind(scheme)
        .bind(results)
        .bind(by)
        .bind(now_ms)
        .fetch_one(self.conn())
        .await
        .context("storing an assessment")?
        .try_get("id")
        .context("assessments.id")
    }

    /// Publishes a draft; `false` when `id` is no draft. A period that has
    /// a published run already is a [`StoreError::Conflict`].
    pub async fn publish_assessment(
        &mut self,
        id: i64,
        by: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE assessments SET status = 'published', published_by = $1, published_at = $2 \
             WHERE id = $3 AND status = 'draft'",
        )
        .bind(by)
        .bind(now_ms)
        .bind(id)
        .execute(self.conn())
        .await
        .context("publishing an assessment")?
        .rows_affected();
        Ok(n == 1)
    }
}

impl Store {
    /// One assessment run.
    pub async fn assessment(&self, id: i64) -> Result<Option<AssessmentRow>, StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM assessments WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .context("reading an assessment")?
        .as_ref()
        .map(row_of)
        .transpose()
        .context("assessments")
    }

    /// The newest `limit` assessment runs, newest first.
    pub async fn assessments(&self, limit: i64) -> Result<Vec<AssessmentRow>, StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM assessments ORDER BY id DESC LIMIT $1"
        )))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .context("listing assessments")?
        .iter()
        .map(row_of)
        .collect::<Result<_, _>>()
        .context("assessments")
    }
}
