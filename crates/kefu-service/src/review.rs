//! Review (复核), appeals (申诉) and review sampling (抽检).
//!
//! * An inspector reviews a conversation's current result: confirms or
//!   overturns each automatic finding, scores manual items and adds missed
//!   findings. The score is recomputed by `kefu_engine::review` with the pack
//!   version that produced the result; the automatic result stays stored
//!   beside it.
//! * An agent appeals one finding of their own conversation with a reason.
//!   A supervisor or admin — never the inspector who reviewed that result —
//!   accepts (the finding is withdrawn and the score recomputed) or rejects
//!   it.
//! * Review queues take every veto, every failed result and a seeded random
//!   share of the rest per agent and ISO week, so each agent gets a fair and
//!   reproducible sample.
//!
//! Every change runs in one transaction with its audit rows (append-only
//! `audit_log`) and marks the day's report rollups for refresh.

use std::collections::{BTreeMap, BTreeSet};

use kefu_engine::review::{apply_review, ReviewInput, Reviewed, StoredFinding};
use kefu_engine::RulePack;
use kefu_store::quality::{mark_days_dirty_in, replace_contribution, ResultContribution};
use kefu_store::{Backend, Store, StoreError, Tx};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, Row};

use crate::auth::{Principal, Role};
use crate::error::{Error, Result};
use crate::period::Period;

fn db<T>(r: std::result::Result<T, sqlx::Error>, context: &'static str) -> Result<T> {
    r.map_err(|source| Error::from(StoreError::Database { context, source }))
}

fn corrupt(what: String, e: impl std::fmt::Display) -> Error {
    Error::corrupt(what, e)
}

/// A stored review.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewRecord {
    /// Who reviewed.
    pub reviewer_id: String,
    /// What they entered.
    pub input: ReviewInput,
    /// The automatic score.
    pub auto_score: f64,
    /// The score after review (and appeals).
    pub final_score: f64,
    /// Bumped by every save; send it back to save again.
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
    pub created_at: i64,
    /// Who decided.
    pub decided_by: Option<String>,
    /// When, Unix ms.
    pub decided_at: Option<i64>,
    /// The decision's reason.
    pub decision_comment: Option<String>,
    /// Score when filed.
    pub score_before: f64,
    /// Score after the decision.
    pub score_after: Option<f64>,
}

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    /// When, Unix ms.
    pub at: i64,
    /// Who.
    pub actor_id: String,
    /// Their role.
    pub actor_role: String,
    /// `review`, `appeal`, `queue`, `assessment`, `settings`.
    pub entity: String,
    /// Which one.
    pub entity_id: String,
    /// What happened.
    pub action: String,
    /// Details.
    pub detail: serde_json::Value,
}

/// Everything about the review of one conversation's current result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewView {
    /// Conversation id.
    pub conversation_id: String,
    /// The current result's row id.
    pub inspection_id: i64,
    /// The agent.
    pub agent_id: Option<String>,
    /// Pack version that judged it.
    pub pack_version_id: i64,
    /// The automatic result as the engine wrote it.
    pub automatic: serde_json::Value,
    /// The stored review, if any.
    pub review: Option<ReviewRecord>,
    /// The effective result: all findings with their status, and the score.
    pub result: Reviewed,
    /// Appeals against findings of this result.
    pub appeals: Vec<Appeal>,
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
    pub created_at: i64,
    /// When reviewed, Unix ms.
    pub done_at: Option<i64>,
    /// Who reviewed.
    pub done_by: Option<String>,
}

/// What building a queue did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct QueueOutcome {
    /// Vetoes queued.
    pub veto: u64,
    /// Failed results queued.
    pub below_pass: u64,
    /// Random picks queued.
    pub random: u64,
    /// Already in the queue.
    pub already_queued: u64,
}

/// The current result of a conversation, as needed to review it.
struct Current {
    inspection_id: i64,
    agent_id: Option<String>,
    pack_version_id: i64,
    local_day: Option<i64>,
    score: f64,
    passed: bool,
    veto: bool,
    answered: bool,
    reviewed: bool,
    automatic: serde_json::Value,
}

/// Review, appeal and sampling operations over a store.
#[derive(Clone)]
pub struct ReviewService {
    store: Store,
}

fn is_staff(p: &Principal) -> bool {
    matches!(p.role, Role::Inspector | Role::Supervisor | Role::Admin)
}

impl ReviewService {
    /// A service over `store`.
    pub fn new(store: Store) -> ReviewService {
        ReviewService { store }
    }

    /// A write transaction ([`Store::write`]).
    async fn begin(&self) -> Result<Tx> {
        Ok(self.store.write().await?)
    }

    async fn begin_read(&self) -> Result<Tx> {
        Ok(self.store.read().await?)
    }

    async fn current(&self, tx: &mut Tx, conversation_id: &str) -> Result<Current> {
        let row = db(
            sqlx::query(
                "SELECT id, agent_id, pack_version_id, local_day, score, passed, veto, answered, reviewed_at, \
                 result FROM inspections WHERE conversation_id = $1 AND is_current = 1",
            )
            .bind(conversation_id)
            .fetch_optional(&mut **tx)
            .await,
            "reading the current result",
        )?
        .ok_or_else(|| Error::not_found("inspected conversation", conversation_id.to_string()))?;
        let id: i64 = db(row.try_get("id"), "inspections.id")?;
        let packed: Vec<u8> = db(row.try_get("result"), "inspections.result")?;
        let json = kefu_store::unpack_document(&packed)
            .map_err(|e| corrupt(format!("inspection {id}"), e))?;
        Ok(Current {
            inspection_id: id,
            agent_id: db(row.try_get("agent_id"), "inspections.agent_id")?,
            pack_version_id: db(
                row.try_get("pack_version_id"),
                "inspections.pack_version_id",
            )?,
            local_day: db(row.try_get("local_day"), "inspections.local_day")?,
            score: db(row.try_get("score"), "inspections.score")?,
            passed: db(row.try_get::<i64, _>("passed"), "inspections.passed")? != 0,
            veto: db(row.try_get::<i64, _>("veto"), "inspections.veto")? != 0,
            answered: db(row.try_get::<i64, _>("answered"), "inspections.answered")? != 0,
            reviewed: db(
                row.try_get::<Option<i64>, _>("reviewed_at"),
                "inspections.reviewed_at",
            )?
            .is_some(),
            automatic: serde_json::from_slice(&json)
                .map_err(|e| corrupt(format!("inspection {id}"), e))?,
        })
    }

    fn check_can_see(p: &Principal, cur: &Current, conversation_id: &str) -> Result<()> {
        if p.role == Role::Agent && cur.agent_id.as_deref() != Some(p.user_id.as_str()) {
            return Err(Error::not_found(
                "inspected conversation",
                conversation_id.to_string(),
            ));
        }
        Ok(())
    }

    async fn pack(&self, tx: &mut Tx, id: i64) -> Result<RulePack> {
        let row = db(
            sqlx::query("SELECT source FROM pack_versions WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut **tx)
                .await,
            "reading a pack version",
        )?
        .ok_or_else(|| corrupt(format!("pack version {id}"), "missing"))?;
        let source: String = db(row.try_get("source"), "pack_versions.source")?;
        RulePack::from_toml(&source).map_err(|e| corrupt(format!("pack version {id}"), e))
    }

    async fn review_record(&self, tx: &mut Tx, inspection_id: i64) -> Result<Option<ReviewRecord>> {
        let row = db(
            sqlx::query(
                "SELECT reviewer_id, input, auto_score, final_score, version, created_at, updated_at \
                 FROM reviews WHERE inspection_id = $1",
            )
            .bind(inspection_id)
            .fetch_optional(&mut **tx)
            .await,
            "reading a review",
        )?;
        let Some(row) = row else { return Ok(None) };
        let input: String = db(row.try_get("input"), "reviews.input")?;
        Ok(Some(ReviewRecord {
            reviewer_id: db(row.try_get("reviewer_id"), "reviews.reviewer_id")?,
            input: serde_json::from_str(&input)
                .map_err(|e| corrupt(format!("review of {inspection_id}"), e))?,
            auto_score: db(row.try_get("auto_score"), "reviews.auto_score")?,
            final_score: db(row.try_get("final_score"), "reviews.final_score")?,
            version: db(row.try_get("version"), "reviews.version")?,
            created_at: db(row.try_get("created_at"), "reviews.created_at")?,
            updated_at: db(row.try_get("updated_at"), "reviews.updated_at")?,
        }))
    }

    async fn appeals_of(&self, tx: &mut Tx, inspection_id: i64) -> Result<Vec<Appeal>> {
        let rows = db(
            sqlx::query(AssertSqlSafe(format!(
                "SELECT {APPEAL_COLUMNS} FROM appeals WHERE inspection_id = $1 ORDER BY id"
            )))
            .bind(inspection_id)
            .fetch_all(&mut **tx)
            .await,
            "reading appeals",
        )?;
        rows.iter().map(appeal_from_row).collect()
    }

    fn auto_findings(cur: &Current) -> Result<Vec<StoredFinding>> {
        let findings = cur
            .automatic
            .get("findings")
            .cloned()
            .unwrap_or(serde_json::Value::Array(Vec::new()));
        serde_json::from_value(findings)
            .map_err(|e| corrupt(format!("inspection {}", cur.inspection_id), e))
    }

    /// Recomputes the effective result of `cur` from its review input and
    /// accepted appeals, and writes it (score columns, findings rows,
    /// rollup mark) inside `tx`.
    async fn recompute(
        &self,
        tx: &mut Tx,
        cur: &Current,
        input: &ReviewInput,
        now: i64,
    ) -> Result<Reviewed> {
        let pack = self.pack(tx, cur.pack_version_id).await?;
        let withdrawn: BTreeSet<String> = self
            .appeals_of(tx, cur.inspection_id)
            .await?
            .into_iter()
            .filter(|a| a.state == "accepted")
            .map(|a| a.finding_key)
            .collect();
        let reviewed = apply_review(&pack, &Self::auto_findings(cur)?, input, &withdrawn)
            .map_err(|e| Error::Invalid(e.to_string()))?;
        let counting: Vec<_> = reviewed.counting().collect();
        db(
            sqlx::query(
                "UPDATE inspections SET score = $1, passed = $2, veto = $3, grade = $4, finding_count = $5, \
                 reviewed_at = $6 WHERE id = $7",
            )
            .bind(reviewed.score)
            .bind(i64::from(reviewed.passed))
            .bind(i64::from(reviewed.veto))
            .bind(reviewed.grade.as_deref())
            .bind(counting.len() as i64)
            .bind(now)
            .bind(cur.inspection_id)
            .execute(&mut **tx)
            .await,
            "storing the reviewed score",
        )?;
        let old_findings = db(
            sqlx::query("SELECT rule, dimension, deduction FROM findings WHERE inspection_id = $1")
                .bind(cur.inspection_id)
                .fetch_all(&mut **tx)
                .await,
            "reading findings",
        )?
        .iter()
        .map(|r| {
            Ok((
                db(r.try_get("rule"), "findings.rule")?,
                db(r.try_get("dimension"), "findings.dimension")?,
                db(r.try_get("deduction"), "findings.deduction")?,
            ))
        })
        .collect::<Result<Vec<(String, String, f64)>>>()?;
        db(
            sqlx::query("DELETE FROM findings WHERE inspection_id = $1")
                .bind(cur.inspection_id)
                .execute(&mut **tx)
                .await,
            "replacing findings",
        )?;
        for f in &counting {
            db(
                sqlx::query(
                    "INSERT INTO findings (inspection_id, rule, dimension, turn, deduction) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(cur.inspection_id)
                .bind(f.rule.as_str())
                .bind(f.dimension.as_str())
                .bind(f.turn.map(|t| t as i64))
                .bind(f.deduction)
                .execute(&mut **tx)
                .await,
                "storing reviewed findings",
            )?;
        }
        // The day's report figures follow at once: this result's old
        // contribution out, the new one in.
        if let (Some(day), true) = (cur.local_day, cur.answered) {
            let old = ResultContribution {
                score: cur.score,
                passed: cur.passed,
                veto: cur.veto,
                reviewed: cur.reviewed,
                findings: old_findings,
            };
            let new = ResultContribution {
                score: reviewed.score,
                passed: reviewed.passed,
                veto: reviewed.veto,
                reviewed: true,
                findings: counting
                    .iter()
                    .map(|f| (f.rule.clone(), f.dimension.clone(), f.deduction))
                    .collect(),
            };
            replace_contribution(tx, day, cur.agent_id.as_deref().unwrap_or(""), &old, &new)
                .await?;
        } else if let Some(day) = cur.local_day {
            mark_days_dirty_in(tx, &[day]).await?;
        }
        Ok(reviewed)
    }

    async fn audit(
        &self,
        tx: &mut Tx,
        actor: &Principal,
        (entity, entity_id, action): (&str, &str, &str),
        detail: serde_json::Value,
        now: i64,
    ) -> Result<()> {
        db(
            sqlx::query(
                "INSERT INTO audit_log (at, actor_id, actor_role, entity, entity_id, action, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(now)
            .bind(actor.user_id.as_str())
            .bind(actor.role.as_str())
            .bind(entity)
            .bind(entity_id)
            .bind(action)
            .bind(detail.to_string())
            .execute(&mut **tx)
            .await,
            "writing the audit log",
        )?;
        Ok(())
    }

    /// The review view of a conversation's current result.
    pub async fn view(&self, actor: &Principal, conversation_id: &str) -> Result<ReviewView> {
        let mut tx = self.begin_read().await?;
        let cur = self.current(&mut tx, conversation_id).await?;
        Self::check_can_see(actor, &cur, conversation_id)?;
        let review = self.review_record(&mut tx, cur.inspection_id).await?;
        let appeals = self.appeals_of(&mut tx, cur.inspection_id).await?;
        let pack = self.pack(&mut tx, cur.pack_version_id).await?;
        let withdrawn: BTreeSet<String> = appeals
            .iter()
            .filter(|a| a.state == "accepted")
            .map(|a| a.finding_key.clone())
            .collect();
        let input = review.as_ref().map(|r| r.input.clone()).unwrap_or_default();
        let result = apply_review(&pack, &Self::auto_findings(&cur)?, &input, &withdrawn)
            .map_err(|e| corrupt(format!("review of {}", cur.inspection_id), e))?;
        tx.commit().await?;
        Ok(ReviewView {
            conversation_id: conversation_id.to_string(),
            inspection_id: cur.inspection_id,
            agent_id: cur.agent_id,
            pack_version_id: cur.pack_version_id,
            automatic: cur.automatic,
            review,
            result,
            appeals,
        })
    }

    /// Saves a review of a conversation's current result. `expected_version`
    /// is the version the reviewer started from (`None` for a first review);
    /// a different stored version is a conflict.
    pub async fn save_review(
        &self,
        actor: &Principal,
        conversation_id: &str,
        input: &ReviewInput,
        expected_version: Option<i64>,
        now: i64,
    ) -> Result<ReviewView> {
        if !is_staff(actor) {
            return Err(Error::Forbidden(
                "only inspectors, supervisors and admins review results".into(),
            ));
        }
        let mut tx = self.begin().await?;
        let cur = self.current(&mut tx, conversation_id).await?;
        if cur.agent_id.as_deref() == Some(actor.user_id.as_str()) {
            return Err(Error::Forbidden(
                "nobody reviews their own conversations".into(),
            ));
        }
        let previous = self.review_record(&mut tx, cur.inspection_id).await?;
        let stored_version = previous.as_ref().map(|r| r.version);
        if stored_version != expected_version {
            return Err(Error::Conflict(format!(
                "the review changed meanwhile (version {}, you had {}): reload it",
                stored_version.map_or("none".into(), |v| v.to_string()),
                expected_version.map_or("none".into(), |v| v.to_string()),
            )));
        }
        let auto_score = cur
            .automatic
            .get("score")
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(cur.score);
        let reviewed = self.recompute(&mut tx, &cur, input, now).await?;
        let input_json = serde_json::to_string(input).map_err(|e| Error::Invalid(e.to_string()))?;
        match previous {
            None => db(
                sqlx::query(
                    "INSERT INTO reviews (inspection_id, conversation_id, agent_id, reviewer_id, input, \
                     auto_score, final_score, version, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8)",
                )
                .bind(cur.inspection_id)
                .bind(conversation_id)
                .bind(cur.agent_id.as_deref())
                .bind(actor.user_id.as_str())
                .bind(input_json)
                .bind(auto_score)
                .bind(reviewed.score)
                .bind(now)
                .execute(&mut *tx)
                .await,
                "storing a review",
            )?,
            Some(prev) => {
                let done = db(
                    sqlx::query(
                        "UPDATE reviews SET reviewer_id = $1, input = $2, final_score = $3, \
                         version = version + 1, updated_at = $4 WHERE inspection_id = $5 AND version = $6",
                    )
                    .bind(actor.user_id.as_str())
                    .bind(input_json)
                    .bind(reviewed.score)
                    .bind(now)
                    .bind(cur.inspection_id)
                    .bind(prev.version)
                    .execute(&mut *tx)
                    .await,
                    "updating a review",
                )?;
                if done.rows_affected() != 1 {
                    return Err(Error::Conflict(
                        "the review changed meanwhile: reload it".into(),
                    ));
                }
                done
            }
        };
        db(
            sqlx::query(
                "UPDATE review_queue SET done_at = $1, done_by = $2 WHERE inspection_id = $3 AND done_at IS NULL",
            )
            .bind(now)
            .bind(actor.user_id.as_str())
            .bind(cur.inspection_id)
            .execute(&mut *tx)
            .await,
            "closing the queue entry",
        )?;
        let overturned: Vec<&str> = input
            .decisions
            .iter()
            .filter(|d| d.verdict == kefu_engine::review::Verdict::Overturn)
            .map(|d| d.key.as_str())
            .collect();
        self.audit(
            &mut tx,
            actor,
            ("review", conversation_id, if stored_version.is_some() { "revised" } else { "reviewed" }),
            serde_json::json!({
                "inspection_id": cur.inspection_id,
                "auto_score": auto_score,
                "score_before": cur.score,
                "score_after": reviewed.score,
                "overturned": overturned,
                "added": input.added.len(),
                "manual": input.manual.iter().map(|m| (m.rule.clone(), m.deduction)).collect::<BTreeMap<_, _>>(),
            }),
            now,
        )
        .await?;
        tx.commit().await?;
        self.view(actor, conversation_id).await
    }

    /// An agent appeals one finding of their own conversation.
    pub async fn file_appeal(
        &self,
        actor: &Principal,
        conversation_id: &str,
        finding_key: &str,
        reason: &str,
        now: i64,
    ) -> Result<Appeal> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(Error::Invalid("an appeal needs a reason".into()));
        }
        let mut tx = self.begin().await?;
        let cur = self.current(&mut tx, conversation_id).await?;
        let agent = cur.agent_id.clone().unwrap_or_default();
        if actor.role != Role::Agent || agent != actor.user_id {
            // Staff cannot appeal on an agent's behalf; other agents do not
            // learn the conversation exists.
            if actor.role == Role::Agent {
                return Err(Error::not_found(
                    "inspected conversation",
                    conversation_id.to_string(),
                ));
            }
            return Err(Error::Forbidden(
                "only the conversation's agent may appeal its findings".into(),
            ));
        }
        let review = self.review_record(&mut tx, cur.inspection_id).await?;
        let pack = self.pack(&mut tx, cur.pack_version_id).await?;
        let appeals = self.appeals_of(&mut tx, cur.inspection_id).await?;
        let withdrawn: BTreeSet<String> = appeals
            .iter()
            .filter(|a| a.state == "accepted")
            .map(|a| a.finding_key.clone())
            .collect();
        let input = review.map(|r| r.input).unwrap_or_default();
        let result = apply_review(&pack, &Self::auto_findings(&cur)?, &input, &withdrawn)
            .map_err(|e| corrupt(format!("review of {}", cur.inspection_id), e))?;
        let finding = result
            .findings
            .iter()
            .find(|f| f.key == finding_key)
            .ok_or_else(|| Error::not_found("finding", finding_key.to_string()))?;
        if !finding.status.counts() {
            return Err(Error::Conflict(format!(
                "finding {finding_key} no longer counts: nothing to appeal"
            )));
        }
        if appeals.iter().any(|a| a.finding_key == finding_key) {
            return Err(Error::Conflict(format!(
                "finding {finding_key} has already been appealed"
            )));
        }
        let row = db(
            sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO appeals (inspection_id, conversation_id, agent_id, finding_key, rule, reason, \
                 state, created_at, score_before) VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8) \
                 RETURNING {APPEAL_COLUMNS}"
            )))
            .bind(cur.inspection_id)
            .bind(conversation_id)
            .bind(agent.as_str())
            .bind(finding_key)
            .bind(finding.rule.as_str())
            .bind(reason)
            .bind(now)
            .bind(result.score)
            .fetch_one(&mut *tx)
            .await,
            "filing an appeal",
        )?;
        let appeal = appeal_from_row(&row)?;
        self.audit(
            &mut tx,
            actor,
            ("appeal", &appeal.id.to_string(), "filed"),
            serde_json::json!({
                "conversation_id": conversation_id,
                "finding": finding_key,
                "rule": finding.rule,
                "reason": reason,
            }),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(appeal)
    }

    /// A supervisor or admin accepts (the finding is withdrawn) or rejects
    /// an open appeal.
    pub async fn decide_appeal(
        &self,
        actor: &Principal,
        appeal_id: i64,
        accept: bool,
        comment: &str,
        now: i64,
    ) -> Result<Appeal> {
        if !matches!(actor.role, Role::Supervisor | Role::Admin) {
            return Err(Error::Forbidden(
                "only supervisors and admins decide appeals".into(),
            ));
        }
        let comment = comment.trim();
        if comment.is_empty() {
            return Err(Error::Invalid(
                "a decision needs a comment saying why".into(),
            ));
        }
        let mut tx = self.begin().await?;
        let appeal = self.appeal_in(&mut tx, appeal_id).await?;
        if appeal.state != "open" {
            return Err(Error::Conflict(format!(
                "appeal {appeal_id} was already {}",
                appeal.state
            )));
        }
        if appeal.agent_id == actor.user_id {
            return Err(Error::Forbidden("nobody decides their own appeal".into()));
        }
        let cur = self.current(&mut tx, &appeal.conversation_id).await?;
        if cur.inspection_id != appeal.inspection_id {
            return Err(Error::Conflict(
                "the conversation was re-inspected since the appeal; the appealed result is no longer current"
                    .into(),
            ));
        }
        let review = self.review_record(&mut tx, cur.inspection_id).await?;
        if review.as_ref().map(|r| r.reviewer_id.as_str()) == Some(actor.user_id.as_str()) {
            return Err(Error::Forbidden(
                "the inspector who reviewed this result may not decide its appeal".into(),
            ));
        }
        let state = if accept { "accepted" } else { "rejected" };
        let changed = db(
            sqlx::query(
                "UPDATE appeals SET state = $1, decided_by = $2, decided_at = $3, decision_comment = $4 \
                 WHERE id = $5 AND state = 'open'",
            )
            .bind(state)
            .bind(actor.user_id.as_str())
            .bind(now)
            .bind(comment)
            .bind(appeal_id)
            .execute(&mut *tx)
            .await,
            "deciding an appeal",
        )?;
        if changed.rows_affected() != 1 {
            return Err(Error::Conflict(format!(
                "appeal {appeal_id} was decided meanwhile"
            )));
        }
        let input = review.as_ref().map(|r| r.input.clone()).unwrap_or_default();
        let score_after = if accept {
            let reviewed = self.recompute(&mut tx, &cur, &input, now).await?;
            if review.is_some() {
                db(
                    sqlx::query("UPDATE reviews SET final_score = $1 WHERE inspection_id = $2")
                        .bind(reviewed.score)
                        .bind(cur.inspection_id)
                        .execute(&mut *tx)
                        .await,
                    "updating the reviewed score",
                )?;
            }
            reviewed.score
        } else {
            cur.score
        };
        db(
            sqlx::query("UPDATE appeals SET score_after = $1 WHERE id = $2")
                .bind(score_after)
                .bind(appeal_id)
                .execute(&mut *tx)
                .await,
            "recording the score after an appeal",
        )?;
        self.audit(
            &mut tx,
            actor,
            ("appeal", &appeal_id.to_string(), state),
            serde_json::json!({
                "conversation_id": appeal.conversation_id,
                "finding": appeal.finding_key,
                "comment": comment,
                "score_before": cur.score,
                "score_after": score_after,
            }),
            now,
        )
        .await?;
        let decided = self.appeal_in(&mut tx, appeal_id).await?;
        tx.commit().await?;
        Ok(decided)
    }

    async fn appeal_in(&self, tx: &mut Tx, id: i64) -> Result<Appeal> {
        let row = db(
            sqlx::query(AssertSqlSafe(format!(
                "SELECT {APPEAL_COLUMNS} FROM appeals WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(&mut **tx)
            .await,
            "reading an appeal",
        )?
        .ok_or_else(|| Error::not_found("appeal", id.to_string()))?;
        appeal_from_row(&row)
    }

    /// One appeal with its audit trail; agents see only their own.
    pub async fn appeal(&self, actor: &Principal, id: i64) -> Result<(Appeal, Vec<AuditEntry>)> {
        let mut tx = self.begin_read().await?;
        let appeal = self.appeal_in(&mut tx, id).await?;
        tx.commit().await?;
        if actor.role == Role::Agent && appeal.agent_id != actor.user_id {
            return Err(Error::not_found("appeal", id.to_string()));
        }
        let trail = self.audit_trail("appeal", &id.to_string()).await?;
        Ok((appeal, trail))
    }

    /// Appeals, newest first: agents see their own, staff all; `state`
    /// filters (`open`, `accepted`, `rejected`).
    pub async fn appeals(
        &self,
        actor: &Principal,
        state: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Appeal>> {
        let agent = (actor.role == Role::Agent).then(|| actor.user_id.clone());
        let rows = db(
            sqlx::query(AssertSqlSafe(format!(
                "SELECT {APPEAL_COLUMNS} FROM appeals WHERE ($1 IS NULL OR state = $1) \
                 AND ($2 IS NULL OR agent_id = $2) ORDER BY id DESC LIMIT $3"
            )))
            .bind(state)
            .bind(agent)
            .bind(limit.clamp(1, 1000))
            .fetch_all(self.store.pool())
            .await,
            "listing appeals",
        )?;
        rows.iter().map(appeal_from_row).collect()
    }

    /// The audit entries of one record, oldest first.
    pub async fn audit_trail(&self, entity: &str, entity_id: &str) -> Result<Vec<AuditEntry>> {
        let rows = db(
            sqlx::query(
                "SELECT at, actor_id, actor_role, entity, entity_id, action, detail FROM audit_log \
                 WHERE entity = $1 AND entity_id = $2 ORDER BY id",
            )
            .bind(entity)
            .bind(entity_id)
            .fetch_all(self.store.pool())
            .await,
            "reading the audit log",
        )?;
        rows.iter()
            .map(|r| {
                let detail: String = db(r.try_get("detail"), "audit_log.detail")?;
                Ok(AuditEntry {
                    at: db(r.try_get("at"), "audit_log.at")?,
                    actor_id: db(r.try_get("actor_id"), "audit_log.actor_id")?,
                    actor_role: db(r.try_get("actor_role"), "audit_log.actor_role")?,
                    entity: db(r.try_get("entity"), "audit_log.entity")?,
                    entity_id: db(r.try_get("entity_id"), "audit_log.entity_id")?,
                    action: db(r.try_get("action"), "audit_log.action")?,
                    detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
                })
            })
            .collect()
    }

    /// Queues for review, for the days of `period`: every veto, every failed
    /// result, and `rate` of the rest per agent and ISO week chosen by
    /// `seed` (at least one per agent and week when `rate` > 0). The same
    /// period, rate and seed always pick the same conversations.
    pub async fn build_queue(
        &self,
        actor: &Principal,
        period: &Period,
        rate: f64,
        seed: &str,
        now: i64,
    ) -> Result<QueueOutcome> {
        if !is_staff(actor) {
            return Err(Error::Forbidden(
                "only inspectors, supervisors and admins build review queues".into(),
            ));
        }
        if !(0.0..=1.0).contains(&rate) {
            return Err(Error::Invalid(format!(
                "the sampling rate {rate} must be between 0 and 1"
            )));
        }
        let rows = db(
            sqlx::query(
                "SELECT id, conversation_id, agent_id, local_day, passed, veto FROM inspections \
                 WHERE is_current = 1 AND answered = 1 AND local_day >= $1 AND local_day < $2",
            )
            .bind(period.start_day())
            .bind(period.end_day())
            .fetch_all(self.store.pool())
            .await,
            "reading results to sample",
        )?;
        struct Candidate {
            id: i64,
            conversation_id: String,
            agent_id: Option<String>,
            day: i64,
        }
        let mut picks: Vec<(Candidate, &'static str)> = Vec::new();
        /// Results per (agent, week), each with its draw.
        type AgentWeeks = BTreeMap<(String, i64), Vec<(Vec<u8>, Candidate)>>;
        let mut rest: AgentWeeks = BTreeMap::new();
        for r in &rows {
            let c = Candidate {
                id: db(r.try_get("id"), "inspections.id")?,
                conversation_id: db(r.try_get("conversation_id"), "inspections.conversation_id")?,
                agent_id: db(r.try_get("agent_id"), "inspections.agent_id")?,
                day: db(r.try_get("local_day"), "inspections.local_day")?,
            };
            let veto: i64 = db(r.try_get("veto"), "inspections.veto")?;
            let passed: i64 = db(r.try_get("passed"), "inspections.passed")?;
            if veto != 0 {
                picks.push((c, "veto"));
            } else if passed == 0 {
                picks.push((c, "below_pass"));
            } else {
                let key = (
                    c.agent_id.clone().unwrap_or_default(),
                    Period::week_of_day(c.day),
                );
                let draw = Sha256::new()
                    .chain_update(seed.as_bytes())
                    .chain_update([0])
                    .chain_update(c.conversation_id.as_bytes())
                    .finalize()
                    .to_vec();
                rest.entry(key).or_default().push((draw, c));
            }
        }
        for (_, mut group) in rest {
            if rate <= 0.0 {
                continue;
            }
            group.sort_by(|a, b| {
                a.0.cmp(&b.0)
                    .then_with(|| a.1.conversation_id.cmp(&b.1.conversation_id))
            });
            let take = ((group.len() as f64 * rate).round() as usize).clamp(1, group.len());
            picks.extend(group.into_iter().take(take).map(|(_, c)| (c, "random")));
        }
        let mut outcome = QueueOutcome::default();
        let mut tx = self.begin().await?;
        for (c, reason) in &picks {
            let inserted = db(
                sqlx::query(
                    "INSERT INTO review_queue (inspection_id, conversation_id, agent_id, local_day, reason, seed, \
                     created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (inspection_id) DO NOTHING",
                )
                .bind(c.id)
                .bind(c.conversation_id.as_str())
                .bind(c.agent_id.as_deref())
                .bind(c.day)
                .bind(*reason)
                .bind(seed)
                .bind(now)
                .execute(&mut *tx)
                .await,
                "queueing a result for review",
            )?;
            if inserted.rows_affected() == 0 {
                outcome.already_queued += 1;
            } else {
                match *reason {
                    "veto" => outcome.veto += 1,
                    "below_pass" => outcome.below_pass += 1,
                    _ => outcome.random += 1,
                }
            }
        }
        self.audit(
            &mut tx,
            actor,
            ("queue", &period.label, "built"),
            serde_json::json!({"rate": rate, "seed": seed, "veto": outcome.veto,
                "below_pass": outcome.below_pass, "random": outcome.random,
                "already_queued": outcome.already_queued}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Queue entries, open ones first by day; `open_only` hides reviewed ones.
    pub async fn queue(
        &self,
        actor: &Principal,
        open_only: bool,
        agent_id: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<QueueItem>> {
        if !is_staff(actor) {
            return Err(Error::Forbidden("agents have no review queue".into()));
        }
        let rows = db(
            sqlx::query(
                "SELECT q.inspection_id, q.conversation_id, q.agent_id, q.local_day, q.reason, q.created_at, \
                 q.done_at, q.done_by, i.score FROM review_queue q JOIN inspections i ON i.id = q.inspection_id \
                 WHERE ($1 = 0 OR q.done_at IS NULL) AND ($2 IS NULL OR q.agent_id = $2) \
                 ORDER BY CASE WHEN q.done_at IS NULL THEN 0 ELSE 1 END, \
                 CASE q.reason WHEN 'veto' THEN 0 WHEN 'below_pass' THEN 1 ELSE 2 END, q.local_day, q.inspection_id \
                 LIMIT $3 OFFSET $4",
            )
            .bind(i64::from(open_only))
            .bind(agent_id)
            .bind(limit.clamp(1, 1000))
            .bind(offset.max(0))
            .fetch_all(self.store.pool())
            .await,
            "listing the review queue",
        )?;
        rows.iter()
            .map(|r| {
                Ok(QueueItem {
                    inspection_id: db(r.try_get("inspection_id"), "review_queue.inspection_id")?,
                    conversation_id: db(
                        r.try_get("conversation_id"),
                        "review_queue.conversation_id",
                    )?,
                    agent_id: db(r.try_get("agent_id"), "review_queue.agent_id")?,
                    local_day: db(r.try_get("local_day"), "review_queue.local_day")?,
                    reason: db(r.try_get("reason"), "review_queue.reason")?,
                    score: db(r.try_get("score"), "inspections.score")?,
                    created_at: db(r.try_get("created_at"), "review_queue.created_at")?,
                    done_at: db(r.try_get("done_at"), "review_queue.done_at")?,
                    done_by: db(r.try_get("done_by"), "review_queue.done_by")?,
                })
            })
            .collect()
    }

    /// The backend, for callers that branch on it.
    pub fn backend(&self) -> Backend {
        self.store.backend()
    }
}

const APPEAL_COLUMNS: &str =
    "id, inspection_id, conversation_id, agent_id, finding_key, rule, reason, state, \
    created_at, decided_by, decided_at, decision_comment, score_before, score_after";

fn appeal_from_row(r: &sqlx::any::AnyRow) -> Result<Appeal> {
    Ok(Appeal {
        id: db(r.try_get("id"), "appeals.id")?,
        inspection_id: db(r.try_get("inspection_id"), "appeals.inspection_id")?,
        conversation_id: db(r.try_get("conversation_id"), "appeals.conversation_id")?,
        agent_id: db(r.try_get("agent_id"), "appeals.agent_id")?,
        finding_key: db(r.try_get("finding_key"), "appeals.finding_key")?,
        rule: db(r.try_get("rule"), "appeals.rule")?,
        reason: db(r.try_get("reason"), "appeals.reason")?,
        state: db(r.try_get("state"), "appeals.state")?,
        created_at: db(r.try_get("created_at"), "appeals.created_at")?,
        decided_by: db(r.try_get("decided_by"), "appeals.decided_by")?,
        decided_at: db(r.try_get("decided_at"), "appeals.decided_at")?,
        decision_comment: db(r.try_get("decision_comment"), "appeals.decision_comment")?,
        score_before: db(r.try_get("score_before"), "appeals.score_before")?,
        score_after: db(r.try_get("score_after"), "appeals.score_after")?,
    })
}
