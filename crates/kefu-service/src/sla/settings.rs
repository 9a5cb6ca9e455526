//! The stored SLA settings and the rules in force (SLA settings plus the
//! complaint policy), and the SLA columns and labels kept on complaint rows.

use std::sync::OnceLock;

use chrono::{DateTime, TimeDelta, Utc};
use kefu_store::{EscalationFlags as Flags, SlaColumns, Tx};
use serde::{Deserialize, Serialize};

use crate::complaint::corrupt;
use crate::complaint::{Complaint, ComplaintPolicy, ComplaintState};
use crate::error::{Error, Result};
use crate::sla::{
    self, BusinessCalendar, HolidayTable, SlaClock, SlaError, SlaInput, SlaPolicy, SlaReport,
    SlaState, SlaStatus,
};

/// Settings key of the [`SlaSettings`].
pub const SLA_SETTINGS_KEY: &str = "sla";
/// Settings key of the [`ComplaintPolicy`] (survey bands, revisit delay).
pub const COMPLAINT_POLICY_KEY: &str = "complaint_policy";

// ---------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------

/// The SLA settings, stored under [`SLA_SETTINGS_KEY`]:
///
/// ```json
/// {"policy": {"first_reply": "12h", "resolution": "48h", "near_breach_ratio": 0.8,
///             "business_hours": true, "special": {"first_reply": "24h", "resolution": "72h"}},
///  "calendar": {"utc_offset": "+08:00", "always_open": false,
///               "mon": ["09:00-12:00", "13:30-18:00"], "…": "…"},
///  "builtin_holidays": true}
/// ```
///
/// The default is the standard: 12 h to the first reply, 48 h to the
/// resolution, near breach at 80 %, counted 24×7.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlaSettings {
    /// Targets, near-breach ratio, and whether only business hours count.
    pub policy: SlaPolicy,
    /// Business hours, time zone and the operator's own holidays and
    /// make-up workdays; used when `policy.business_hours`.
    pub calendar: BusinessCalendar,
    /// Whether China's public holidays and make-up workdays shipped with kefu
    /// ([`HolidayTable::cn_builtin`]) apply on top of `calendar` (whose own
    /// dates win where they disagree). Default true.
    pub builtin_holidays: bool,
}

impl Default for SlaSettings {
    fn default() -> Self {
        SlaSettings {
            policy: SlaPolicy::default(),
            calendar: BusinessCalendar::default(),
            builtin_holidays: true,
        }
    }
}

impl SlaSettings {
    /// Checks the policy, and that business hours are not switched on with a
    /// calendar that is open around the clock (almost surely a mistake).
    pub fn validate(&self) -> Result<(), SlaError> {
        self.policy.validate()?;
        if self.policy.business_hours && self.calendar.is_always_open() {
            return Err(SlaError::InvalidCalendar(
                "business_hours is on, but the calendar has no business hours (always_open)"
                    .to_owned(),
            ));
        }
        Ok(())
    }

    /// The calendar the clocks use in business-hours mode: `calendar` plus
    /// the built-in holiday table when `builtin_holidays`.
    pub fn effective_calendar(&self) -> BusinessCalendar {
        if !self.builtin_holidays || self.calendar.is_always_open() {
            return self.calendar.clone();
        }
        let mut cal = self.calendar.clone().with_holiday_table(builtin_holidays());
        for d in self.calendar.holidays() {
            cal = cal.with_holiday(*d);
        }
        for d in self.calendar.workdays() {
            cal = cal.with_workday(*d);
        }
        cal
    }
}

pub(crate) fn builtin_holidays() -> &'static HolidayTable {
    static TABLE: OnceLock<HolidayTable> = OnceLock::new();
    TABLE.get_or_init(HolidayTable::cn_builtin)
}

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

pub(crate) struct ClockColumns {
    /// First instant (ms, rounded up) at which the clock is breached.
    due: Option<i64>,
    /// First instant (ms, rounded up) at which it is a near breach.
    near: Option<i64>,
    label: &'static str,
}

pub(crate) fn clock_columns(
    status: &SlaStatus,
    clock: &SlaClock<'_>,
    ratio: f64,
    closed: bool,
) -> ClockColumns {
    let label = clock_label(status.state, closed);
    let open = !closed
        && matches!(
            status.state,
            SlaState::Running | SlaState::NearBreach | SlaState::Breached
        );
    // `due_at` is when the counted time reaches the target; the clock is
    // breached once it *exceeds* it, i.e. at the deadline of target + 1 ms
    // (which also skips a gap of non-working time right after a deadline
    // that falls at the end of a business period).
    let due = if open && status.due_at.is_some() {
        clock
            .due_at(status.target + TimeDelta::milliseconds(1))
            .map(ceil_ms)
    } else {
        None
    };
    let near = due.and_then(|_| {
        let t = near_target(status.target, ratio)?;
        clock.due_at(t).map(ceil_ms)
    });
    ClockColumns { due, near, label }
}

/// The counted time at which a clock with `target` becomes a near breach,
/// rounded as [`SlaClock::status`] does.
pub(crate) fn near_target(target: TimeDelta, ratio: f64) -> Option<TimeDelta> {
    let ns = target.num_nanoseconds()?;
    Some(TimeDelta::nanoseconds((ns as f64 * ratio).round() as i64))
}

pub(crate) fn ceil_ms(t: DateTime<Utc>) -> i64 {
    let ms = t.timestamp_millis();
    let below_ms = t.timestamp_subsec_nanos() % 1_000_000;
    if below_ms > 0 {
        ms.saturating_add(1)
    } else {
        ms
    }
}

/// The stable name of a clock's state: `met`, `met_late`, `running`,
/// `paused`, `near_breach`, `breached`, `no_target`, or `cancelled` (closed
/// without being met or breached).
pub fn clock_label(state: SlaState, closed: bool) -> &'static str {
    match state {
        SlaState::Met { on_time: true } => "met",
        SlaState::Met { on_time: false } => "met_late",
        SlaState::NoTarget => "no_target",
        SlaState::Breached => "breached",
        _ if closed => "cancelled",
        SlaState::Running => "running",
        SlaState::Paused => "paused",
        SlaState::NearBreach => "near_breach",
    }
}

pub(crate) fn label_rank(label: &str) -> u8 {
    match label {
        "breached" | "met_late" => 6,
        "near_breach" => 5,
        "running" => 4,
        "paused" => 3,
        "met" => 2,
        "cancelled" => 1,
        _ => 0,
    }
}

/// The worse of two clock labels; a late reply or resolution counts as
/// `breached`.
pub(crate) fn combined_label(a: &'static str, b: &'static str) -> &'static str {
    let worst = if label_rank(b) > label_rank(a) { b } else { a };
    if worst == "met_late" {
        "breached"
    } else {
        worst
    }
}

/// The combined SLA state of a report (worst clock), as stored in
/// `complaints.sla_state`: `breached` (including late), `near_breach`,
/// `running`, `paused`, `met`, `cancelled` or `no_target`.
pub fn sla_state_label(report: &SlaReport, closed: bool) -> &'static str {
    combined_label(
        clock_label(report.first_reply.state, closed),
        clock_label(report.resolution.state, closed),
    )
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
