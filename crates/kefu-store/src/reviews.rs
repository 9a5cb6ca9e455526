//! Reviews, appeals and review queues (`reviews`, `appeals`,
//! `review_queue`), and the writes a review makes to the result it judges:
//! its score columns and its `findings` rows.
//!
//! What a review decides is computed by the service (with the engine's pure
//! `apply_review`); the store keeps the reviewer's input as JSON, the
//! scores, and who decided what.

use kefu_engine::review::{Reviewed, ReviewedFinding};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::packed::unpack;
use crate::{Context, Store, StoreError, Tx};

/// A conversation's current result, as a review needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct CurrentResult {
    /// The result's row id.
    pub inspection_id: i64,
    /// The agent.
    pub agent_id: Option<String>,
    /// The pack version that produced it.
    pub pack_version_id: i64,
    /// Local day of the conversation.
    pub local_day: Option<i64>,
    /// Score now (after reviews and appeals).
    pub score: f64,
    /// Passed now.
    pub passed: bool,
    /// Vetoed now.
    pub veto: bool,
    /// Whether an agent answered.
    pub answered: bool,
    /// Whether a person reviewed it.
    pub reviewed: bool,
    /// The result as the engine wrote it.
    pub automatic: serde_json::Value,
}

/// A stored review.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewRow {
    /// The result reviewed.
    pub inspection_id: i64,
    /// Its conversation.
    pub conversation_id: String,
    /// Its agent.
    pub agent_id: Option<String>,
    /// Who reviewed.
    pub reviewer_id: String,
    /// What they entered, JSON.
    pub input: String,
    /// The automatic score.
    pub auto_score: f64,
    /// The score after review (and appeals).
    pub final_score: f64,
    /// Bumped by every save.
    pub version: i64,
    /// First saved, Unix ms.
    pub created_at: i64,
    /// Last saved, Unix ms.
    pub updated_at: i64,
}

/// An appeal against one finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Appeal {
    /// Id.
    pub id: i64,
    /// The result appealed.
    pub inspection_id: i64,
    /// Its conversation.
    pub conversation_id: String,
    /// The agent who appealed.
    pub agent_id: String,
    /// The finding's key (`auto:3`, `added:0`, `manual:mandarin`).
    pub finding_key: String,
    /// The finding's rule.
    pub rule: String,
    /// The agent's reason.
    pub reason: String,
    /// `open`, `accepted` or `rejected`.
    pub state: String,
    /// Filed, Unix ms.
    #[serde(with = "crate::json_time::unix_ms")]
    pub created_at: i64,
    /// Who decided.
    pub decided_by: Option<String>,
    /// When, Unix ms.
    #[serde(with = "crate::json_time::opt_unix_ms")]
    pub decided_at: Option<i64>,
    /// The decision's reason.
    pub decision_comment: Option<String>,
    /// Score when filed.
    pub score_before: f64,
    /// Score after the decision.
    pub score_after: Option<f64>,
}

/// A result as sampling for review sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamplingCandidate {
    /// The result.
    pub inspection_id: i64,
    /// Its conversation.
    pub conversation_id: String,
    /// The agent.
    pub agent_id: Option<String>,
    /// Local day of the conversation.
    pub local_day: i64,
    /// Passed.
    pub passed: bool,
    /// Vetoed.
    pub veto: bool,
}

/// A review-queue entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueItem {
    /// The result to review.
    pub inspection_id: i64,
    /// Its conversation.
    pub conversation_id: String,
    /// The agent.
    pub agent_id: Option<String>,
    /// Local day number of the conversation.
    pub local_day: Option<i64>,
    /// `veto`, `below_pass` or `random`.
    pub reason: String,
    /// Current score.
    pub score: f64,
    /// When queued, Unix ms.
    #[serde(with = "crate::json_time::unix_ms")]
    pub created_at: i64,
    /// When reviewed, Unix ms.
    #[serde(with = "crate::json_time::opt_unix_ms")]
    pub done_at: Option<i64>,
    /// Who reviewed.
    pub done_by: Option<String>,
}

const APPEAL_COLUMNS: &str =
    "id, inspection_id, conversation_id, agent_id, finding_key, rule, reason, state, \
    created_at, decided_by, decided_at, decision_comment, score_before, score_after";

fn appeal_of(r: &AnyRow) -> Result<Appeal, sqlx::Error> {
    Ok(Appeal {
        id: r.try_get("id")?,
        inspection_id: r.try_get("inspection_id")?,
        conversation_id: r.try_get("conversation_id")?,
        agent_id: r.try_get("agent_id")?,
        finding_key: r.try_get("finding_key")?,
        rule: r.try_get("rule")?,
        reason: r.try_get("reason")?,
        state: r.try_get("state")?,
        created_at: r.try_get("created_at")?,
        decided_by: r.try_get("decided_by")?,
        decided_at: r.try_get("decided_at")?,
        decision_comment: r.try_get("decision_comment")?,
        score_before: r.try_get("score_before")?,
        score_after: r.try_get("score_after")?,
    })
}

fn appeals_of_rows(rows: &[AnyRow]) -> Result<Vec<Appeal>, StoreError> {
    rows.iter()
        .map(appeal_of)
        .collect::<Result<_, _>>()
        .context("appeals")
}

impl Tx {
    /// A conversation's current result.
    pub async fn current_result(
        &mut self,
        conversation_id: &str,
    ) -> Result<Option<CurrentResult>, StoreError> {
        // In a write transaction the row is locked (PostgreSQL), so a
        // re-inspection cannot retire it while a review or an appeal
        // decision changes it; that re-inspection then sees it reviewed and
        // keeps it current.
        let sql = format!(
            "SELECT id, agent_id, pack_version_id, local_day, score, passed, veto, answered, reviewed_at, \
             result FROM inspections WHERE conversation_id = $1 AND is_current = 1{}",
            self.lock_rows()
        );
        let mut row = None;
        // A re-inspection that retired the row while this one waited for its
        // lock leaves nothing in this statement's snapshot; the next
        // statement sees the new current result.
        for _ in 0..2 {
            row = sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(conversation_id)
                .fetch_optional(self.conn())
                .await
                .context("reading the current result")?;
            if row.is_some() || self.lock_rows().is_empty() {
                break;
            }
        }
        let Some(row) = row else { return Ok(None) };
        let flag = |col: &str| row.try_get::<i64, _>(col).map(|v| v != 0);
        let id: i64 = row.try_get("id").context("inspections.id")?;
        let packed: Vec<u8> = row.try_get("result").context("inspections.result")?;
        let json =
            unpack(&packed).map_err(|e| StoreError::corrupt(format!("inspection {id}"), e))?;
        Ok(Some(CurrentResult {
            inspection_id: id,
            agent_id: row.try_get("agent_id").context("inspections.agent_id")?,
            pack_version_id: row
                .try_get("pack_version_id")
                .context("inspections.pack_version_id")?,
            local_day: row.try_get("local_day").context("inspections.local_day")?,
            score: row.try_get("score").context("inspections.score")?,
            passed: flag("passed").context("inspections.passed")?,
            veto: flag("veto").context("inspections.veto")?,
            answered: flag("answered").context("inspections.answered")?,
            reviewed: row
                .try_get::<Option<i64>, _>("reviewed_at")
                .context("inspections.reviewed_at")?
                .is_some(),
            automatic: serde_json::from_slice(&json)
                .map_err(|e| StoreError::corrupt(format!("inspection {id}"), e))?,
        }))
    }

    /// The review of a result.
    pub async fn review(&mut self, inspection_id: i64) -> Result<Option<ReviewRow>, StoreError> {
        let row = sqlx::query(
            "SELECT inspection_id, conversation_id, agent_id, reviewer_id, input, auto_score, final_score, \
             version, created_at, updated_at FROM reviews WHERE inspection_id = $1",
        )
        .bind(inspection_id)
        .fetch_optional(self.conn())
        .await
        .context("reading a review")?;
        row.map(|r| -> Result<ReviewRow, sqlx::Error> {
            Ok(ReviewRow {
                inspection_id: r.try_get("inspection_id")?,
                conversation_id: r.try_get("conversation_id")?,
                agent_id: r.try_get("agent_id")?,
                reviewer_id: r.try_get("reviewer_id")?,
                input: r.try_get("input")?,
                auto_score: r.try_get("auto_score")?,
                final_score: r.try_get("final_score")?,
                version: r.try_get("version")?,
                created_at: r.try_get("created_at")?,
                updated_at: r.try_get("updated_at")?,
            })
        })
        .transpose()
        .context("reviews")
    }

    /// Stores a first review (version 1).
    pub async fn insert_review(&mut self, r: &ReviewRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO reviews (inspection_id, conversation_id, agent_id, reviewer_id, input, \
             auto_score, final_score, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8)",
        )
        .bind(r.inspection_id)
        .bind(r.conversation_id.as_str())
        .bind(r.agent_id.as_deref())
        .bind(r.reviewer_id.as_str())
        .bind(r.input.as_str())
        .bind(r.auto_score)
        .bind(r.final_score)
        .bind(r.updated_at)
        .execute(self.conn())
        .await
        .context("storing a review")?;
        Ok(())
    }

    /// Saves a review again if it is still at `expected_version` (the
    /// version is bumped); `false` when it moved on meanwhile.
    pub async fn update_review(
        &mut self,
        r: &ReviewRow,
        expected_version: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE reviews SET reviewer_id = $1, input = $2, final_score = $3, \
             version = version + 1, updated_at = $4 WHERE inspection_id = $5 AND version = $6",
        )
        .bind(r.reviewer_id.as_str())
        .bind(r.input.as_str())
        .bind(r.final_score)
        .bind(r.updated_at)
        .bind(r.inspection_id)
        .bind(expected_version)
        .execute(self.conn())
        .await
        .context("updating a review")?
        .rows_affected();
        Ok(n == 1)
    }

    /// Sets a review's final score (after an appeal decision).
    pub async fn set_review_score(
        &mut self,
        inspection_id: i64,
        score: f64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE reviews SET final_score = $1 WHERE inspection_id = $2")
            .bind(score)
            .bind(inspection_id)
            .execute(self.conn())
            .await
            .context("updating the reviewed score")?;
        Ok(())
    }

    /// Stores what a review or an appeal decision made of a result: its
    /// score columns (marked reviewed at `reviewed_at`) and its findings
    /// rows, which become the findings that count. Returns the findings rows
    /// it replaced, as `(rule, dimension, points)`.
    pub async fn store_reviewed(
        &mut self,
        inspection_id: i64,
        reviewed: &Reviewed,
        reviewed_at: i64,
    ) -> Result<Vec<(String, String, f64)>, StoreError> {
        let counting: Vec<&ReviewedFinding> = reviewed.counting().collect();
        sqlx::query(
            "UPDATE inspections SET score = $1, passed = $2, veto = $3, grade = $4, finding_count = $5, \
             reviewed_at = $6 WHERE id = $7",
        )
        .bind(reviewed.score)
        .bind(i64::from(reviewed.passed))
        .bind(i64::from(reviewed.veto))
        .bind(reviewed.grade.as_deref())
        .bind(counting.len() as i64)
        .bind(reviewed_at)
        .bind(inspection_id)
        .execute(self.conn())
        .await
        .context("storing the reviewed score")?;
        let old =
            sqlx::query("SELECT rule, dimension, deduction FROM findings WHERE inspection_id = $1")
                .bind(inspection_id)
                .fetch_all(self.conn())
                .await
                .context("reading findings")?
                .iter()
                .map(|r| {
                    Ok((
                        r.try_get("rule")?,
                        r.try_get("dimension")?,
                        r.try_get("deduction")?,
                    ))
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .context("findings")?;
        sqlx::query("DELETE FROM findings WHERE inspection_id = $1")
            .bind(inspection_id)
            .execute(self.conn())
            .await
            .context("replacing findings")?;
        for f in counting {
            sqlx::query(
                "INSERT INTO findings (inspection_id, rule, dimension, turn, deduction) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(inspection_id)
            .bind(f.rule.as_str())
            .bind(f.dimension.as_str())
            .bind(f.turn.map(|t| t as i64))
            .bind(f.deduction)
            .execute(self.conn())
            .await
            .context("storing reviewed findings")?;
        }
        Ok(old)
    }

    /// Marks a result's open queue entry done.
    pub async fn close_queue_entry(
        &mut self,
        inspection_id: i64,
        done_at: i64,
        done_by: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE review_queue SET done_at = $1, done_by = $2 WHERE inspection_id = $3 AND done_at IS NULL",
        )
        .bind(done_at)
        .bind(done_by)
        .bind(inspection_id)
        .execute(self.conn())
        .await
        .context("closing the queue entry")?;
        Ok(())
    }

    /// Queues a result for review; `false` when it is queued already.
    pub async fn enqueue_review(
        &mut self,
        c: &SamplingCandidate,
        reason: &str,
        seed: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "INSERT INTO review_queue (inspection_id, conversation_id, agent_id, local_day, reason, seed, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (inspection_id) DO NOTHING",
        )
        .bind(c.inspection_id)
        .bind(c.conversation_id.as_str())
        .bind(c.agent_id.as_deref())
        .bind(c.local_day)
        .bind(reason)
        .bind(seed)
        .bind(now_ms)
        .execute(self.conn())
        .await
        .context("queueing a result for review")?
        .rows_affected();
        Ok(n > 0)
    }

    /// The appeals against a result, oldest first.
    pub async fn appeals_of(&mut self, inspection_id: i64) -> Result<Vec<Appeal>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {APPEAL_COLUMNS} FROM appeals WHERE inspection_id = $1 ORDER BY id"
        )))
        .bind(inspection_id)
        .fetch_all(self.conn())
        .await
        .context("reading appeals")?;
        appeals_of_rows(&rows)
    }

    /// One appeal.
    pub async fn appeal(&mut self, id: i64) -> Result<Option<Appeal>, StoreError> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {APPEAL_COLUMNS} FROM appeals WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.conn())
        .await
        .context("reading an appeal")?
        .as_ref()
        .map(appeal_of)
        .transpose()
        .context("appeals")
    }

    /// Files an open appeal (its `id`, `state` and decision fields are
    /// ignored); returns it as stored.
    pub async fn insert_appeal(&mut self, a: &Appeal) -> Result<Appeal, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO appeals (inspection_id, conversation_id, agent_id, finding_key, rule, reason, \
             state, created_at, score_before) VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8) \
             RETURNING {APPEAL_COLUMNS}"
        )))
        .bind(a.inspection_id)
        .bind(a.conversation_id.as_str())
        .bind(a.agent_id.as_str())
        .bind(a.finding_key.as_str())
        .bind(a.rule.as_str())
        .bind(a.reason.as_str())
        .bind(a.created_at)
        .bind(a.score_before)
        .fetch_one(self.conn())
        .await
        .context("filing an appeal")?;
        appeal_of(&row).context("appeals")
    }

    /// Decides an open appeal (`accepted` or `rejected`); `false` when it
    /// was decided meanwhile.
    pub async fn decide_appeal(
        &mut self,
        id: i64,
        state: &str,
        by: &str,
        at: i64,
        comment: &str,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE appeals SET state = $1, decided_by = $2, decided_at = $3, decision_comment = $4 \
             WHERE id = $5 AND state = 'open'",
        )
        .bind(state)
        .bind(by)
        .bind(at)
        .bind(comment)
        .bind(id)
        .execute(self.conn())
        .await
        .context("deciding an appeal")?
        .rows_affected();
        Ok(n == 1)
    }

    /// Records the score after an appeal's decision.
    pub async fn set_appeal_score_after(&mut self, id: i64, score: f64) -> Result<(), StoreError> {
        sqlx::query("UPDATE appeals SET score_after = $1 WHERE id = $2")
            .bind(score)
            .bind(id)
            .execute(self.conn())
            .await
            .context("recording the score after an appeal")?;
        Ok(())
    }
}

impl Store {
    /// Appeals, newest first, optionally of one state and one agent.
    pub async fn appeals(
        &self,
        state: Option<&str>,
        agent_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Appeal>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {APPEAL_COLUMNS} FROM appeals WHERE ($1 IS NULL OR state = $1) \
             AND ($2 IS NULL OR agent_id = $2) ORDER BY id DESC LIMIT $3"
        )))
        .bind(state)
        .bind(agent_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .context("listing appeals")?;
        appeals_of_rows(&rows)
    }

    /// The current, answered results of local days `from..to`.
    pub async fn sampling_candidates(
        &self,
        from_day: i64,
        to_day: i64,
    ) -> Result<Vec<SamplingCandidate>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, conversation_id, agent_id, local_day, passed, veto FROM inspections \
             WHERE is_current = 1 AND answered = 1 AND local_day >= $1 AND local_day < $2",
        )
        .bind(from_day)
        .bind(to_day)
        .fetch_all(&self.pool)
        .await
        .context("reading results to sample")?;
        rows.iter()
            .map(|r| {
                Ok(SamplingCandidate {
                    inspection_id: r.try_get("id")?,
                    conversation_id: r.try_get("conversation_id")?,
                    agent_id: r.try_get("agent_id")?,
                    local_day: r.try_get("local_day")?,
                    passed: r.try_get::<i64, _>("passed")? != 0,
                    veto: r.try_get::<i64, _>("veto")? != 0,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .context("inspections")
    }

    /// Queue entries: open ones first, vetoes before failures before random
    /// picks, then by day; `open_only` hides reviewed ones.
    pub async fn review_queue(
        &self,
        open_only: bool,
        agent_id: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<QueueItem>, StoreError> {
        let rows = sqlx::query(
            "SELECT q.inspection_id, q.conversation_id, q.agent_id, q.local_day, q.reason, q.created_at, \
             q.done_at, q.done_by, i.score FROM review_queue q JOIN inspections i ON i.id = q.inspection_id \
             WHERE ($1 = 0 OR q.done_at IS NULL) AND ($2 IS NULL OR q.agent_id = $2) \
             ORDER BY CASE WHEN q.done_at IS NULL THEN 0 ELSE 1 END, \
             CASE q.reason WHEN 'veto' THEN 0 WHEN 'below_pass' THEN 1 ELSE 2 END, q.local_day, q.inspection_id \
             LIMIT $3 OFFSET $4",
        )
        .bind(i64::from(open_only))
        .bind(agent_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await
        .context("listing the review queue")?;
        rows.iter()
            .map(|r| {
                Ok(QueueItem {
                    inspection_id: r.try_get("inspection_id")?,
                    conversation_id: r.try_get("conversation_id")?,
                    agent_id: r.try_get("agent_id")?,
                    local_day: r.try_get("local_day")?,
                    reason: r.try_get("reason")?,
                    score: r.try_get("score")?,
                    created_at: r.try_get("created_at")?,
                    done_at: r.try_get("done_at")?,
                    done_by: r.try_get("done_by")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .context("review_queue")
    }
}
