//! SLA met rates of the complaints of a period, grouped by assignee.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    complaint_from_doc, load_rules, ms, Actor, ActorRole, Assignee, ComplaintService,
    ComplaintState,
};
use crate::error::{Error, Result};
use crate::sla::SlaState;

/// How [`ComplaintService::sla_met_rate`] groups complaints (by their
/// current assignee).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", content = "teams", rename_all = "snake_case")]
pub enum MetRateGrouping {
    /// One group per assignee (agent, or group for complaints still
    /// assigned to a group).
    #[default]
    Agent,
    /// One group per team: agents are mapped to teams (agent id → team id;
    /// the user directory knows them); a complaint assigned to a group counts
    /// for that group; an agent missing from the map stays on their own.
    Team(BTreeMap<String, String>),
}

/// One SLA target's numbers and the complaint ids behind them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MetRate {
    /// Met within the target.
    pub met: Vec<String>,
    /// Met late, or still open and already breached (a certain miss).
    pub missed: Vec<String>,
    /// Still running within the target (excluded from the rate).
    pub pending: Vec<String>,
    /// `met / (met + missed)`; `None` when nothing counts.
    pub rate: Option<f64>,
}

impl MetRate {
    pub(crate) fn finish(&mut self) {
        let counted = self.met.len() + self.missed.len();
        self.rate = (counted > 0).then(|| self.met.len() as f64 / counted as f64);
    }
}

/// The met rates of one group.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MetRateRow {
    /// The agent, team or group; `None` for unassigned complaints (and for
    /// the total).
    pub key: Option<Assignee>,
    /// The first-reply target.
    pub first_reply: MetRate,
    /// The resolution target.
    pub resolution: MetRate,
}

/// The SLA met rates of the complaints opened in `[from, to)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetRateReport {
    /// Start (inclusive).
    pub from: DateTime<Utc>,
    /// End (exclusive).
    pub to: DateTime<Utc>,
    /// The instant the clocks were judged at.
    pub at: DateTime<Utc>,
    /// One row per group, in key order (unassigned first).
    pub groups: Vec<MetRateRow>,
    /// All groups together.
    pub total: MetRateRow,
}

impl ComplaintService {
    /// The SLA met rates of the complaints opened in `[from, to)`, judged at
    /// `now`, grouped by current assignee ([`MetRateGrouping`]), with the
    /// complaint ids behind every number.
    ///
    /// Per target: met on time counts as met; met late, or still open and
    /// already breached, as missed; still running within the target is
    /// `pending` and left out of the rate; a target that does not apply (no
    /// target, or the complaint was closed unresolved before breaching) is
    /// left out entirely. Agents get only their own complaints.
    pub async fn sla_met_rate(
        &self,
        actor: &Actor,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        grouping: &MetRateGrouping,
        now: DateTime<Utc>,
    ) -> Result<MetRateReport, Error> {
        if to <= from {
            return Err(Error::invalid_field(
                "to",
                "the period ends before it starts",
            ));
        }
        let agent = (actor.role == ActorRole::Agent).then_some(actor.id.as_str());
        let mut tx = self.begin_read().await?;
        let rules = load_rules(&mut tx).await?;
        let rows = tx.complaints_opened(ms(from), ms(to), agent).await?;
        tx.commit().await?;
        // Keyed by (kind, id) of the group key, for a stable order.
        let mut groups: BTreeMap<Option<(&'static str, String)>, MetRateRow> = BTreeMap::new();
        let mut total = MetRateRow::default();
        for (id, doc) in &rows {
            let c = complaint_from_doc(id, doc)?;
            let (_, report) = rules.report(&c, now);
            let key = group_key(c.assignee.as_ref(), grouping);
            let sort_key = key.as_ref().map(|k| (k.kind_str(), k.id().to_string()));
            let entry = groups.entry(sort_key).or_insert_with(|| MetRateRow {
                key,
                ..MetRateRow::default()
            });
            for (status, g, t) in [
                (
                    report.first_reply.state,
                    &mut entry.first_reply,
                    &mut total.first_reply,
                ),
                (
                    report.resolution.state,
                    &mut entry.resolution,
                    &mut total.resolution,
                ),
            ] {
                match met_class(status, c.state == ComplaintState::Closed) {
                    Some(MetClass::Met) => {
                        g.met.push(id.clone());
                        t.met.push(id.clone());
                    }
                    Some(MetClass::Missed) => {
                        g.missed.push(id.clone());
                        t.missed.push(id.clone());
                    }
                    Some(MetClass::Pending) => {
                        g.pending.push(id.clone());
                        t.pending.push(id.clone());
                    }
                    None => {}
                }
            }
        }
        let mut groups: Vec<MetRateRow> = groups.into_values().collect();
        for g in &mut groups {
            g.first_reply.finish();
            g.resolution.finish();
        }
        total.first_reply.finish();
        total.resolution.finish();
        Ok(MetRateReport {
            from,
            to,
            at: now,
            groups,
            total,
        })
    }
}

pub(crate) enum MetClass {
    Met,
    Missed,
    Pending,
}

pub(crate) fn met_class(state: SlaState, closed: bool) -> Option<MetClass> {
    match state {
        SlaState::Met { on_time: true } => Some(MetClass::Met),
        SlaState::Met { on_time: false } | SlaState::Breached => Some(MetClass::Missed),
        SlaState::NoTarget => None,
        SlaState::Running | SlaState::Paused | SlaState::NearBreach if closed => None,
        SlaState::Running | SlaState::Paused | SlaState::NearBreach => Some(MetClass::Pending),
    }
}

pub(crate) fn group_key(
    assignee: Option<&Assignee>,
    grouping: &MetRateGrouping,
) -> Option<Assignee> {
    let a = assignee?;
    Some(match (grouping, a) {
        (MetRateGrouping::Team(teams), Assignee::Agent(id)) => match teams.get(id) {
            Some(team) => Assignee::Group(team.clone()),
            None => a.clone(),
        },
        _ => a.clone(),
    })
}
