//! The stored SLA settings, and the labels and column instants of a clock
//! (what the complaint rows keep; the rules that apply them to complaints
//! are in `complaint/sla_rules.rs`).

use std::sync::OnceLock;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::{
    BusinessCalendar, HolidayTable, SlaClock, SlaError, SlaPolicy, SlaReport, SlaState, SlaStatus,
};

/// Settings key of the [`SlaSettings`].
pub const SLA_SETTINGS_KEY: &str = "sla";

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

/// The SLA columns of one clock: when it breaches, when it is a near
/// breach, and its label.
pub(crate) struct ClockColumns {
    /// First instant (ms, rounded up) at which the clock is breached.
    pub(crate) due: Option<i64>,
    /// First instant (ms, rounded up) at which it is a near breach.
    pub(crate) near: Option<i64>,
    /// The clock's [`clock_label`].
    pub(crate) label: &'static str,
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
