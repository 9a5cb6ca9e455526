//! The SLA rules in force for complaints: the stored SLA settings plus the
//! complaint policy, and what they make of one complaint (its clocks and the
//! SLA columns kept on its row).

use chrono::{DateTime, Utc};
use kefu_store::{EscalationFlags as Flags, SlaColumns, Tx};

use super::{corrupt, Complaint, ComplaintPolicy, ComplaintState};
use crate::error::{Error, Result};
use crate::sla::{
    self, clock_columns, combined_label, BusinessCalendar, SlaClock, SlaInput, SlaReport,
    SlaSettings, SLA_SETTINGS_KEY,
};

/// Settings key of the [`ComplaintPolicy`] (survey bands, revisit delay).
pub const COMPLAINT_POLICY_KEY: &str = "complaint_policy";

/// Everything the rules need, loaded once per transaction.
pub(crate) struct Rules {
    pub(crate) sla: SlaSettings,
    pub(crate) calendar: BusinessCalendar,
    pub(crate) always: BusinessCalendar,
    pub(crate) complaint: ComplaintPolicy,
}

impl Rules {
    pub(crate) fn new(sla: SlaSettings, complaint: ComplaintPolicy) -> Rules {
        Rules {
            calendar: sla.effective_calendar(),
            sla,
            always: BusinessCalendar::always_open(),
            complaint,
        }
    }

    /// The calendar [`sla::evaluate`] counts on.
    pub(crate) fn clock_calendar(&self) -> &BusinessCalendar {
        if self.sla.policy.business_hours {
            &self.calendar
        } else {
            &self.always
        }
    }

    /// Both clocks of `c` at `now`; a closed complaint's clocks stopped when
    /// it was closed.
    pub(crate) fn report(&self, c: &Complaint, now: DateTime<Utc>) -> (SlaInput, SlaReport) {
        let input = sla_input(c);
        let at = match c.closed_at {
            Some(closed) if c.state == ComplaintState::Closed => closed.min(now),
            _ => now,
        };
        let report = sla::evaluate(&self.sla.policy, &self.calendar, &input, at);
        (input, report)
    }

    /// The SLA columns of `c` at `now`, given which escalations are done.
    pub(crate) fn columns(&self, c: &Complaint, flags: &Flags, now: DateTime<Utc>) -> SlaColumns {
        let (input, report) = self.report(c, now);
        let closed = c.state == ComplaintState::Closed;
        let clock = SlaClock::new(self.clock_calendar(), input.opened_at, &input.pauses);
        let ratio = self.sla.policy.near_breach_ratio;
        let reply = clock_columns(&report.first_reply, &clock, ratio, closed);
        let resolve = clock_columns(&report.resolution, &clock, ratio, closed);
        let mut next: Option<i64> = None;
        for (cols, escalated, warned) in [
            (&reply, flags.escalated_reply, flags.reply_near),
            (&resolve, flags.escalated_resolve, flags.resolve_near),
        ] {
            if escalated {
                continue;
            }
            let candidates = [cols.due, if warned { None } else { cols.near }];
            for t in candidates.into_iter().flatten() {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        }
        SlaColumns {
            reply_due_at: reply.due,
            reply_near_at: reply.near,
            resolve_due_at: resolve.due,
            resolve_near_at: resolve.near,
            reply_sla: reply.label,
            resolve_sla: resolve.label,
            sla_state: combined_label(reply.label, resolve.label),
            sla_next_at: next,
        }
    }
}

pub(crate) fn sla_input(c: &Complaint) -> SlaInput {
    let mut pauses: Vec<sla::Pause> = c
        .pauses
        .iter()
        .map(|p| sla::Pause::closed(p.start, p.end))
        .collect();
    if let Some(start) = c.waiting_since {
        pauses.push(sla::Pause::open(start));
    }
    SlaInput {
        opened_at: c.opened_at,
        special: c.special,
        first_reply_at: c.first_reply_at,
        resolved_at: c.resolved_at,
        pauses,
    }
}

/// The rules from stored settings `(key, value)` (defaults where none are
/// stored).
pub(crate) fn rules_from(stored: Vec<(String, String)>) -> Result<Rules, Error> {
    let mut sla = SlaSettings::default();
    let mut policy = ComplaintPolicy::default();
    for (key, value) in stored {
        match key.as_str() {
            SLA_SETTINGS_KEY => {
                sla = serde_json::from_str(&value).map_err(|e| corrupt("setting sla", e))?;
            }
            COMPLAINT_POLICY_KEY => {
                policy = serde_json::from_str(&value)
                    .map_err(|e| corrupt("setting complaint_policy", e))?;
            }
            _ => {}
        }
    }
    Ok(Rules::new(sla, policy))
}

/// The settings keys the rules are read from.
pub(crate) const RULE_KEYS: [&str; 2] = [SLA_SETTINGS_KEY, COMPLAINT_POLICY_KEY];

/// The rules in force, read inside `tx`.
pub(crate) async fn load_rules(tx: &mut Tx) -> Result<Rules, Error> {
    rules_from(tx.settings(&RULE_KEYS).await?)
}
