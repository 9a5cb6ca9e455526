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
use kefu_store::quality::ResultContribution;
pub use kefu_store::{Appeal, AuditEntry, QueueItem};
use kefu_store::{CurrentResult, ReviewRow, SamplingCandidate, Store, Tx};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::auth::{Principal, Role};
use crate::error::{Error, Result};
use crate::period::Period;

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
type Current = CurrentResult;

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
        tx.current_result(conversation_id)
            .await?
            .ok_or_else(|| Error::not_found("inspected conversation", conversation_id))
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
        let source = tx
            .pack_source(id)
            .await?
            .ok_or_else(|| corrupt(format!("pack version {id}"), "missing"))?;
        RulePack::from_toml(&source).map_err(|e| corrupt(format!("pack version {id}"), e))
    }

    async fn review_record(&self, tx: &mut Tx, inspection_id: i64) -> Result<Option<ReviewRecord>> {
        let Some(r) = tx.review(inspection_id).await? else {
            return Ok(None);
        };
        Ok(Some(ReviewRecord {
            input: serde_json::from_str(&r.input)
                .map_err(|e| corrupt(format!("review of {inspection_id}"), e))?,
            reviewer_id: r.reviewer_id,
            auto_score: r.auto_score,
            final_score: r.final_score,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }))
    }

    async fn appeals_of(&self, tx: &mut Tx, inspection_id: i64) -> Result<Vec<Appeal>> {
        Ok(tx.appeals_of(inspection_id).await?)
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
    /// accepted appeals, and writes it (score columns, findings rows, the
    /// day's rollups) inside `tx`.
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
        let old_findings = tx.store_reviewed(cur.inspection_id, &reviewed, now).await?;
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
                findings: reviewed
                    .counting()
                    .map(|f| (f.rule.clone(), f.dimension.clone(), f.deduction))
                    .collect(),
            };
            tx.replace_contribution(day, cur.agent_id.as_deref().unwrap_or(""), &old, &new)
                .await?;
        } else if let (Some(day), false) = (cur.local_day, cur.reviewed) {
            // Never answered: its score and findings are not counted, only
            // that it is now reviewed.
            tx.add_reviewed(day, cur.agent_id.as_deref().unwrap_or(""), 1)
                .await?;
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
        tx.append_audit(&AuditEntry {
            at: now,
            actor_id: actor.user_id.clone(),
            actor_role: actor.role.as_str().to_string(),
            entity: entity.to_string(),
            entity_id: entity_id.to_string(),
            action: action.to_string(),
            detail,
        })
        .await?;
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
        let row = ReviewRow {
            inspection_id: cur.inspection_id,
            conversation_id: conversation_id.to_string(),
            agent_id: cur.agent_id.clone(),
            reviewer_id: actor.user_id.clone(),
            input: input_json,
            auto_score,
            final_score: reviewed.score,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        match previous {
            None => tx.insert_review(&row).await?,
            Some(prev) => {
                if !tx.update_review(&row, prev.version).await? {
                    return Err(Error::Conflict(
                        "the review changed meanwhile: reload it".into(),
                    ));
                }
            }
        }
        tx.close_queue_entry(cur.inspection_id, now, &actor.user_id)
            .await?;
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
        let appeal = tx
            .insert_appeal(&Appeal {
                id: 0,
                inspection_id: cur.inspection_id,
                conversation_id: conversation_id.to_string(),
                agent_id: agent.clone(),
                finding_key: finding_key.to_string(),
                rule: finding.rule.clone(),
                reason: reason.to_string(),
                state: "open".into(),
                created_at: now,
                decided_by: None,
                decided_at: None,
                decision_comment: None,
                score_before: result.score,
                score_after: None,
            })
            .await?;
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
        if !tx
            .decide_appeal(appeal_id, state, &actor.user_id, now, comment)
            .await?
        {
            return Err(Error::Conflict(format!(
                "appeal {appeal_id} was decided meanwhile"
            )));
        }
        let input = review.as_ref().map(|r| r.input.clone()).unwrap_or_default();
        let score_after = if accept {
            let reviewed = self.recompute(&mut tx, &cur, &input, now).await?;
            if review.is_some() {
                tx.set_review_score(cur.inspection_id, reviewed.score)
                    .await?;
            }
            reviewed.score
        } else {
            cur.score
        };
        tx.set_appeal_score_after(appeal_id, score_after).await?;
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
        if let Some(agent) = crate::notify::user_if_active(&mut tx, &appeal.agent_id).await? {
            let verdict = if accept { "已采纳" } else { "已驳回" };
            crate::notify::Notification::new(
                crate::notify::Event::AppealDecided,
                "appeal",
                appeal_id.to_string(),
            )
            .title(format!("申诉 {appeal_id} {verdict}"))
            .body(format!(
                "会话 {}，得分 {} → {}。说明：{comment}",
                appeal.conversation_id, cur.score, score_after
            ))
            .link(format!("/appeals/{appeal_id}"))
            .summary(serde_json::json!({
                "state": state,
                "conversation_id": appeal.conversation_id,
                "agent_id": appeal.agent_id,
                "finding": appeal.finding_key,
                "decided_by": actor.user_id,
                "score_before": cur.score,
                "score_after": score_after,
            }))
            .to(agent)
            .record(&mut tx, now)
            .await?;
        }
        tx.commit().await?;
        Ok(decided)
    }

    async fn appeal_in(&self, tx: &mut Tx, id: i64) -> Result<Appeal> {
        tx.appeal(id)
            .await?
            .ok_or_else(|| Error::not_found("appeal", id))
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
        let agent = (actor.role == Role::Agent).then_some(actor.user_id.as_str());
        Ok(self
            .store
            .appeals(state, agent, limit.clamp(1, 1000))
            .await?)
    }

    /// The audit entries of one record, oldest first.
    pub async fn audit_trail(&self, entity: &str, entity_id: &str) -> Result<Vec<AuditEntry>> {
        Ok(self.store.audit_trail(entity, entity_id).await?)
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
        let candidates = self
            .store
            .sampling_candidates(period.start_day(), period.end_day())
            .await?;
        let mut picks: Vec<(SamplingCandidate, &'static str)> = Vec::new();
        /// Results per (agent, week), each with its draw.
        type AgentWeeks = BTreeMap<(String, i64), Vec<(Vec<u8>, SamplingCandidate)>>;
        let mut rest: AgentWeeks = BTreeMap::new();
        for c in candidates {
            if c.veto {
                picks.push((c, "veto"));
            } else if !c.passed {
                picks.push((c, "below_pass"));
            } else {
                let key = (
                    c.agent_id.clone().unwrap_or_default(),
                    Period::week_of_day(c.local_day),
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
            let inserted = tx.enqueue_review(c, reason, seed, now).await?;
            if !inserted {
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
        Ok(self
            .store
            .review_queue(open_only, agent_id, limit.clamp(1, 1000), offset.max(0))
            .await?)
    }
}
