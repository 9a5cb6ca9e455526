//! Satisfaction surveys, their bands, the complaint policy and revisit
//! tasks (回访).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    id_text, optional_text, Actor, ActorRole, Complaint, ComplaintError, HistoryEvent, HistoryKind,
    SideEffect, DEFAULT_REVISIT_DAYS, MAX_TEXT_CHARS, SCORE_MAX,
};

string_enum! {
    /// The satisfaction band of a 0–10 score.
    pub enum Band ("band") {
        /// 不满意 (default 0–4).
        Unsatisfied => ("unsatisfied", "不满意"),
        /// 一般 (default 5–7).
        Neutral => ("neutral", "一般"),
        /// 满意 (default 8–10).
        Satisfied => ("satisfied", "满意"),
    }
}

string_enum! {
    /// The outcome of a revisit call.
    pub enum RevisitOutcome ("revisit outcome") {
        /// 已解决: the customer is now satisfied.
        Resolved => ("resolved", "已解决"),
        /// 仍不满意: the customer is still unsatisfied (consider reopening).
        StillUnsatisfied => ("still_unsatisfied", "仍不满意"),
        /// 无法联系: the customer could not be reached.
        Unreachable => ("unreachable", "无法联系"),
    }
}

/// The customer's satisfaction survey of the resolution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Survey {
    /// 0–10: the result of the handling.
    pub result_score: u8,
    /// 0–10: the agent's attitude.
    pub attitude_score: u8,
    /// The band of `result_score` under the bands in force when recorded.
    pub result_band: Band,
    /// The band of `attitude_score` under the bands in force when recorded.
    pub attitude_band: Band,
    /// The customer's words, if any.
    #[serde(default)]
    pub comment: Option<String>,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// Who recorded it.
    pub recorded_by: String,
}

impl Survey {
    /// Whether either score is 不满意 (which triggers a revisit).
    pub fn is_unsatisfied(&self) -> bool {
        self.result_band == Band::Unsatisfied || self.attitude_band == Band::Unsatisfied
    }
}

// ---------------------------------------------------------------------------
// Policy: bands and revisit delay
// ---------------------------------------------------------------------------

/// Score bands: `0..=unsatisfied_max` 不满意, `..=neutral_max` 一般, the
/// rest up to 10 满意.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SatisfactionBands {
    /// Highest 不满意 score (default 4).
    pub unsatisfied_max: u8,
    /// Highest 一般 score (default 7); equal to `unsatisfied_max` means no
    /// 一般 band.
    pub neutral_max: u8,
}

impl Default for SatisfactionBands {
    fn default() -> Self {
        SatisfactionBands {
            unsatisfied_max: 4,
            neutral_max: 7,
        }
    }
}

impl SatisfactionBands {
    /// Validated bands.
    pub fn new(unsatisfied_max: u8, neutral_max: u8) -> Result<Self, ComplaintError> {
        let b = SatisfactionBands {
            unsatisfied_max,
            neutral_max,
        };
        b.validate()?;
        Ok(b)
    }

    /// Checks `unsatisfied_max <= neutral_max < 10`, so that every band but
    /// possibly 一般 is non-empty.
    pub fn validate(&self) -> Result<(), ComplaintError> {
        if self.unsatisfied_max > self.neutral_max {
            return Err(ComplaintError::Policy(format!(
                "unsatisfied_max ({}) is above neutral_max ({})",
                self.unsatisfied_max, self.neutral_max
            )));
        }
        if self.neutral_max >= SCORE_MAX {
            return Err(ComplaintError::Policy(format!(
                "neutral_max ({}) must be below {SCORE_MAX}, or no score is 满意",
                self.neutral_max
            )));
        }
        Ok(())
    }

    /// The band of `score`; scores above 10 are refused.
    pub fn band(&self, score: u8) -> Result<Band, ComplaintError> {
        if score > SCORE_MAX {
            return Err(ComplaintError::ScoreOutOfRange {
                field: "score",
                score,
            });
        }
        Ok(if score <= self.unsatisfied_max {
            Band::Unsatisfied
        } else if score <= self.neutral_max {
            Band::Neutral
        } else {
            Band::Satisfied
        })
    }
}

/// The configurable parts of the complaint workflow. Loadable from TOML:
///
/// ```toml
/// revisit_days = 7
/// [bands]
/// unsatisfied_max = 4
/// neutral_max = 7
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ComplaintPolicy {
    /// The survey bands.
    pub bands: SatisfactionBands,
    /// Days from an unsatisfied survey to its revisit's deadline (1–365).
    pub revisit_days: u32,
}

impl Default for ComplaintPolicy {
    fn default() -> Self {
        ComplaintPolicy {
            bands: SatisfactionBands::default(),
            revisit_days: DEFAULT_REVISIT_DAYS,
        }
    }
}

impl ComplaintPolicy {
    /// Parses and validates a policy; missing keys take their defaults,
    /// unknown keys are errors.
    pub fn from_toml_str(text: &str) -> Result<Self, ComplaintError> {
        let policy: ComplaintPolicy =
            toml::from_str(text).map_err(|e| ComplaintError::Policy(e.to_string()))?;
        policy.validate()?;
        Ok(policy)
    }

    /// Checks the bands and that `revisit_days` is 1–365.
    pub fn validate(&self) -> Result<(), ComplaintError> {
        self.bands.validate()?;
        if !(1..=365).contains(&self.revisit_days) {
            return Err(ComplaintError::Policy(format!(
                "revisit_days ({}) must be 1–365",
                self.revisit_days
            )));
        }
        Ok(())
    }
}

pub(crate) fn score_band(
    bands: &SatisfactionBands,
    field: &'static str,
    score: u8,
) -> Result<Band, ComplaintError> {
    bands.band(score).map_err(|e| match e {
        ComplaintError::ScoreOutOfRange { score, .. } => {
            ComplaintError::ScoreOutOfRange { field, score }
        }
        other => other,
    })
}

pub(crate) fn revisit_due(now: DateTime<Utc>, days: u32) -> Result<DateTime<Utc>, ComplaintError> {
    now.checked_add_signed(Duration::days(i64::from(days)))
        .ok_or_else(|| ComplaintError::Invalid {
            field: "now",
            reason: "the revisit deadline is out of range".into(),
        })
}

// ---------------------------------------------------------------------------
// Revisits
// ---------------------------------------------------------------------------

/// A revisit (回访) of an unsatisfied customer, owed by a supervisor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevisitTask {
    /// Id, chosen by the caller.
    pub id: String,
    /// The complaint revisited.
    pub complaint_id: String,
    /// When the task was created.
    pub created_at: DateTime<Utc>,
    /// The deadline.
    pub due_at: DateTime<Utc>,
    /// The role that owes it (always supervisor for tasks made here).
    pub assigned_role: ActorRole,
    /// When it was done.
    #[serde(default)]
    pub done_at: Option<DateTime<Utc>>,
    /// Who did it.
    #[serde(default)]
    pub done_by: Option<String>,
    /// What came of it, in words.
    #[serde(default)]
    pub outcome: Option<String>,
    /// What came of it.
    #[serde(default)]
    pub outcome_kind: Option<RevisitOutcome>,
}

impl RevisitTask {
    /// An open task for a supervisor.
    pub fn new(
        id: impl Into<String>,
        complaint_id: impl Into<String>,
        created_at: DateTime<Utc>,
        due_at: DateTime<Utc>,
    ) -> RevisitTask {
        RevisitTask {
            id: id.into(),
            complaint_id: complaint_id.into(),
            created_at,
            due_at,
            assigned_role: ActorRole::Supervisor,
            done_at: None,
            done_by: None,
            outcome: None,
            outcome_kind: None,
        }
    }

    /// The task a [`SideEffect::CreateRevisit`] asks for; `None` for other
    /// side effects.
    pub fn from_side_effect(
        id: impl Into<String>,
        effect: &SideEffect,
        now: DateTime<Utc>,
    ) -> Option<RevisitTask> {
        match effect {
            SideEffect::CreateRevisit {
                complaint_id,
                due_at,
                ..
            } => Some(RevisitTask::new(id, complaint_id.clone(), now, *due_at)),
            SideEffect::NotifyAssignee { .. } => None,
        }
    }

    /// Whether it is done.
    pub fn is_done(&self) -> bool {
        self.done_at.is_some()
    }

    /// Whether it is not done and `now` is past its deadline.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.done_at.is_none() && now > self.due_at
    }

    /// Records the outcome: returns the done task and the
    /// [`HistoryKind::RevisitCompleted`] event for `complaint`'s history
    /// (whose state it reports unchanged; the complaint itself does not
    /// change — reopen it with [`Command::Reopen`](super::Command::Reopen) if the customer is still
    /// unsatisfied). Inspectors, supervisors and admins only; once only;
    /// `complaint` must be the task's complaint.
    pub fn complete(
        &self,
        complaint: &Complaint,
        actor: &Actor,
        outcome_kind: RevisitOutcome,
        outcome: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(RevisitTask, HistoryEvent), ComplaintError> {
        const ACTION: &str = "record a revisit outcome for";
        if actor.role == ActorRole::Agent {
            return Err(ComplaintError::Forbidden {
                actor_id: actor.id.clone(),
                role: actor.role,
                action: ACTION,
                reason: "agents do not record revisit outcomes".into(),
            });
        }
        if self.complaint_id != complaint.id {
            return Err(ComplaintError::Invalid {
                field: "complaint_id",
                reason: format!(
                    "revisit {} belongs to complaint {}, not {}",
                    self.id, self.complaint_id, complaint.id
                ),
            });
        }
        if self.is_done() {
            return Err(ComplaintError::Precondition {
                action: ACTION,
                reason: format!("revisit {} is already done", self.id),
            });
        }
        let actor_id = id_text("actor id", &actor.id)?;
        let outcome = optional_text("outcome", outcome, MAX_TEXT_CHARS)?;
        let mut task = self.clone();
        task.done_at = Some(now);
        task.done_by = Some(actor_id.clone());
        task.outcome = outcome.clone();
        task.outcome_kind = Some(outcome_kind);
        let event = HistoryEvent {
            complaint_id: complaint.id.clone(),
            at: now,
            actor_id,
            actor_role: actor.role,
            kind: HistoryKind::RevisitCompleted,
            from_state: Some(complaint.state),
            to_state: Some(complaint.state),
            detail: json!({
                "revisit_id": self.id,
                "outcome_kind": outcome_kind,
                "outcome": outcome,
                "due_at": self.due_at,
                "late": now > self.due_at,
            }),
        };
        Ok((task, event))
    }
}

/// The overdue tasks among `tasks` at `now`, most overdue first (ties by id).
pub fn overdue_revisits(tasks: &[RevisitTask], now: DateTime<Utc>) -> Vec<&RevisitTask> {
    let mut late: Vec<&RevisitTask> = tasks.iter().filter(|t| t.is_overdue(now)).collect();
    late.sort_by(|a, b| a.due_at.cmp(&b.due_at).then_with(|| a.id.cmp(&b.id)));
    late
}
