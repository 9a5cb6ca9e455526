//! The SLA scanner: finds breached and near-breach complaints and records
//! each escalation exactly once.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use kefu_store::{EscalationFlags as Flags, EscalationRow, HistoryRow, Tx};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    complaint_from_doc, corrupt, from_ms, load_rules, ms, opt_from_ms, Complaint, ComplaintService,
    Rules,
};
use crate::error::{Error, Result};
use crate::sla::{self, SlaState};

/// History kind of the scanner's "escalated to supervisor" event.
pub const ESCALATED: &str = "escalated";
/// History kind of the scanner's near-breach warning.
pub const NEAR_BREACH_WARNED: &str = "near_breach_warned";
/// `actor_id` and `actor_role` of history events written by the scanner.
pub const SYSTEM_ACTOR: &str = "system";
/// Who breaches are escalated to (`escalations.notified_to`).
pub const SUPERVISORS: &str = "supervisor";

/// Complaints the scanner handles per transaction.
pub(crate) const SCAN_BATCH: i64 = 200;
/// Batches per [`ComplaintService::scan_sla`] call at most; the next call
/// picks up the rest.
pub(crate) const SCAN_MAX_BATCHES: usize = 50;

/// What an escalation row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationKind {
    /// The first reply is overdue: escalated to supervisors.
    ReplyBreach,
    /// The resolution is overdue: escalated to supervisors.
    ResolveBreach,
    /// The first reply is close to its deadline: the assignee is warned.
    ReplyNearBreach,
    /// The resolution is close to its deadline: the assignee is warned.
    ResolveNearBreach,
}

impl EscalationKind {
    /// Every kind.
    pub const ALL: &'static [EscalationKind] = &[
        EscalationKind::ReplyBreach,
        EscalationKind::ResolveBreach,
        EscalationKind::ReplyNearBreach,
        EscalationKind::ResolveNearBreach,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            EscalationKind::ReplyBreach => "reply_breach",
            EscalationKind::ResolveBreach => "resolve_breach",
            EscalationKind::ReplyNearBreach => "reply_near_breach",
            EscalationKind::ResolveNearBreach => "resolve_near_breach",
        }
    }

    /// Whether it is a breach (rather than a near-breach warning).
    pub fn is_breach(self) -> bool {
        matches!(
            self,
            EscalationKind::ReplyBreach | EscalationKind::ResolveBreach
        )
    }

    /// The clock concerned: `first_reply` or `resolution`.
    pub fn clock(self) -> &'static str {
        match self {
            EscalationKind::ReplyBreach | EscalationKind::ReplyNearBreach => "first_reply",
            EscalationKind::ResolveBreach | EscalationKind::ResolveNearBreach => "resolution",
        }
    }
}

impl fmt::Display for EscalationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EscalationKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EscalationKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| Error::invalid_field("escalation kind", format!("unknown kind {s:?}")))
    }
}

/// An escalation (or near-breach warning) created by the scanner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalation {
    /// Row id.
    pub id: i64,
    /// The complaint.
    pub complaint_id: String,
    /// What.
    pub kind: EscalationKind,
    /// The deadline of the clock concerned, when known.
    pub due_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// The node whose scan created it.
    pub node_id: String,
    /// Who is to be told: [`SUPERVISORS`] for breaches, the assignee
    /// (`agent:ID` / `group:ID`) for warnings, supervisors when unassigned.
    pub notified_to: String,
}

/// What one [`ComplaintService::scan_sla`] created.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScanOutcome {
    /// New breach escalations (to supervisors).
    pub escalated: Vec<Escalation>,
    /// New near-breach warnings (to assignees).
    pub near_breach: Vec<Escalation>,
}

pub(crate) fn escalation(r: EscalationRow) -> Result<Escalation, Error> {
    let what = || format!("escalation {}", r.id);
    Ok(Escalation {
        kind: r.kind.parse().map_err(|e| corrupt(what(), e))?,
        due_at: opt_from_ms(r.due_at, &what())?,
        created_at: from_ms(r.created_at, &what())?,
        id: r.id,
        complaint_id: r.complaint_id,
        node_id: r.node_id,
        notified_to: r.notified_to,
    })
}

impl ComplaintService {
    /// Finds open complaints whose first reply or resolution is breached or
    /// near breach at `now` and records each escalation exactly once, with an
    /// [`ESCALATED`] / [`NEAR_BREACH_WARNED`] history event: breaches go to
    /// supervisors, warnings to the assignee. Safe to run from several nodes
    /// at once (see the module docs); `node_id` is recorded.
    ///
    /// Returns what this call created; delivering the notifications is the
    /// caller's business.
    pub async fn scan_sla(&self, now: DateTime<Utc>, node_id: &str) -> Result<ScanOutcome, Error> {
        let mut outcome = ScanOutcome::default();
        for _ in 0..SCAN_MAX_BATCHES {
            let mut tx = self.begin_write().await?;
            let rules = load_rules(&mut tx).await?;
            let due = tx.claim_due_complaints(ms(now), SCAN_BATCH).await?;
            for stored in &due {
                let c = complaint_from_doc(&stored.id, &stored.doc)?;
                scan_one(
                    &mut tx,
                    &rules,
                    &c,
                    stored.flags,
                    now,
                    node_id,
                    &mut outcome,
                )
                .await?;
            }
            tx.commit().await?;
            if (due.len() as i64) < SCAN_BATCH {
                break;
            }
        }
        Ok(outcome)
    }
}

/// Escalates or warns about one complaint the scanner selected, and rewrites
/// its SLA columns.
pub(crate) async fn scan_one(
    tx: &mut Tx,
    rules: &Rules,
    c: &Complaint,
    mut flags: Flags,
    now: DateTime<Utc>,
    node_id: &str,
    outcome: &mut ScanOutcome,
) -> Result<(), Error> {
    let (_, report) = rules.report(c, now);
    let now_ms = ms(now);
    let mut new_flags: [Option<i64>; 4] = [None; 4];
    let clocks = [
        (
            &report.first_reply,
            EscalationKind::ReplyBreach,
            EscalationKind::ReplyNearBreach,
            0usize,
        ),
        (
            &report.resolution,
            EscalationKind::ResolveBreach,
            EscalationKind::ResolveNearBreach,
            1usize,
        ),
    ];
    for (status, breach, near, i) in clocks {
        let (escalated, warned) = if i == 0 {
            (flags.escalated_reply, flags.reply_near)
        } else {
            (flags.escalated_resolve, flags.resolve_near)
        };
        let kind = match status.state {
            SlaState::Breached if !escalated => breach,
            SlaState::NearBreach if !escalated && !warned => near,
            _ => continue,
        };
        let notified_to = if kind.is_breach() {
            SUPERVISORS.to_string()
        } else {
            match &c.assignee {
                Some(a) => format!("{}:{}", a.kind_str(), a.id()),
                None => SUPERVISORS.to_string(),
            }
        };
        let created = tx
            .insert_escalation(&EscalationRow {
                id: 0,
                complaint_id: c.id.clone(),
                kind: kind.as_str().to_string(),
                due_at: status.due_at.map(ms),
                created_at: now_ms,
                node_id: node_id.to_string(),
                notified_to: notified_to.clone(),
            })
            .await?;
        if let Some(row) = created {
            let e = escalation(row)?;
            let (history_kind, detail) = if kind.is_breach() {
                (
                    ESCALATED,
                    json!({
                        "escalation_id": e.id,
                        "kind": kind,
                        "clock": kind.clock(),
                        "to": SUPERVISORS,
                        "message": "escalated to supervisor",
                        "due_at": status.due_at,
                        "elapsed": sla::format_duration(status.elapsed),
                        "target": sla::format_duration(status.target),
                        "node_id": node_id,
                    }),
                )
            } else {
                (
                    NEAR_BREACH_WARNED,
                    json!({
                        "escalation_id": e.id,
                        "kind": kind,
                        "clock": kind.clock(),
                        "to": notified_to,
                        "due_at": status.due_at,
                        "remaining": sla::format_duration(status.remaining),
                        "target": sla::format_duration(status.target),
                        "node_id": node_id,
                    }),
                )
            };
            tx.append_complaint_history(&HistoryRow {
                id: 0,
                complaint_id: c.id.clone(),
                at: now_ms,
                actor_id: SYSTEM_ACTOR.to_string(),
                actor_role: SYSTEM_ACTOR.to_string(),
                kind: history_kind.to_string(),
                from_state: Some(c.state.as_str().to_string()),
                to_state: Some(c.state.as_str().to_string()),
                detail: detail.to_string(),
            })
            .await?;
            notify_escalation(tx, c, &e, now_ms).await?;
            if kind.is_breach() {
                outcome.escalated.push(e);
            } else {
                outcome.near_breach.push(e);
            }
        }
        // Whether this scan or an earlier one created the row, it exists now.
        let slot = match kind {
            EscalationKind::ReplyBreach => {
                flags.escalated_reply = true;
                0
            }
            EscalationKind::ResolveBreach => {
                flags.escalated_resolve = true;
                1
            }
            EscalationKind::ReplyNearBreach => {
                flags.reply_near = true;
                2
            }
            EscalationKind::ResolveNearBreach => {
                flags.resolve_near = true;
                3
            }
        };
        new_flags[slot] = Some(now_ms);
    }
    let cols = rules.columns(c, &flags, now);
    Ok(tx.update_sla_columns(&c.id, &cols, new_flags).await?)
}

/// Records the notification of a new escalation in the scan's transaction:
/// `complaint.escalated` to the supervisors for a breach, `sla.near_breach`
/// to the assignee (when an agent with an account; the supervisors
/// otherwise). Once per escalation row, hence once however many nodes scan.
async fn notify_escalation(
    tx: &mut Tx,
    c: &Complaint,
    e: &Escalation,
    now_ms: i64,
) -> Result<(), Error> {
    use crate::notify::{supervisors, user_if_active, Event, Notification};
    let clock = if e.kind.clock() == "first_reply" {
        "首次响应"
    } else {
        "处理时限"
    };
    let due = e
        .due_at
        .map(|d| d.to_rfc3339())
        .unwrap_or_else(|| "-".to_string());
    let agent = match &c.assignee {
        Some(super::Assignee::Agent(id)) => user_if_active(tx, id).await?,
        _ => None,
    };
    let (event, title, recipients) = if e.kind.is_breach() {
        (
            Event::ComplaintEscalated,
            format!("投诉 {} {clock}已超时，已升级主管", c.id),
            supervisors(tx).await?,
        )
    } else {
        (
            Event::SlaNearBreach,
            format!("投诉 {} {clock}即将超时", c.id),
            match agent {
                Some(a) => vec![a],
                None => supervisors(tx).await?,
            },
        )
    };
    Notification::new(event, "complaint", c.id.clone())
        .title(title)
        .body(format!("截止时间 {due}；状态 {}", c.state.as_str()))
        .link(format!(
            "/complaints/{}",
            crate::notify::link_segment(&c.id)
        ))
        .summary(json!({
            "escalation_id": e.id,
            "kind": e.kind,
            "clock": e.kind.clock(),
            "due_at": e.due_at,
            "state": c.state.as_str(),
            "priority": c.priority,
            "assignee": c.assignee,
        }))
        .to_all(recipients)
        .once(format!("escalation:{}", e.id))
        .record(tx, now_ms)
        .await?;
    Ok(())
}
