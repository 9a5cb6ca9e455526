//! Complaints persisted in the [`Store`], and their workflows: opening,
//! commands with optimistic concurrency, the history, revisit tasks, the SLA
//! settings, the SLA scanner that escalates breaches exactly once, and the
//! SLA met rates.
//!
//! The rules live in the pure modules — [`crate::complaint`] decides what a
//! command does, [`crate::sla`] what the clocks say — and this module only
//! loads, calls them and writes the outcome, one transaction per call.
//!
//! # Tables (migration `0002_complaints`)
//!
//! * `complaints` — one row per complaint. `doc` holds the whole
//!   [`Complaint`] as JSON and is the source of truth; the other columns are
//!   copies for filtering. The SLA columns are recomputed on every write:
//!   `reply_due_at` / `resolve_due_at` are the first instant (Unix ms, rounded
//!   up) at which the clock is breached, `reply_near_at` / `resolve_near_at`
//!   the first instant it is a near breach; all four are NULL when the clock
//!   is met, paused, without target, or the complaint is closed.
//!   `sla_next_at` is the next instant the scanner has something to do.
//! * `complaint_history` — append-only (triggers refuse updates and
//!   deletes): the [`HistoryEvent`]s of [`crate::complaint`] plus the
//!   scanner's [`ESCALATED`] and [`NEAR_BREACH_WARNED`] events.
//! * `revisit_tasks` — [`RevisitTask`]s; the id is the row's integer id as
//!   text.
//! * `escalations` — one row per complaint and [`EscalationKind`], ever
//!   (`UNIQUE (complaint_id, kind)`).
//! * `settings` — [`SlaSettings`] under `sla`, [`ComplaintPolicy`] under
//!   `complaint_policy`, as JSON.
//! * `id_sequences` — per-day counters for complaint ids.
//!
//! # Ids
//!
//! [`ComplaintService::create`] keeps a caller-chosen id, and generates one
//! when `NewComplaint::id` is empty: `CMP-YYYYMMDD-NNNNNN`, the date in the
//! SLA calendar's local time (default `+08:00`) and a per-day sequence from
//! `id_sequences` (upserted in the creating transaction, so gap-free and
//! unique across nodes). Easy to read out over the phone.
//!
//! # Concurrency
//!
//! Writes run in `BEGIN IMMEDIATE` transactions on SQLite (one writer at a
//! time, no lock upgrades that fail with `SQLITE_BUSY`), and on PostgreSQL
//! lock the complaint row (`SELECT … FOR UPDATE`). Clients that pass an
//! expected version get [`ComplaintError::VersionConflict`] when the
//! complaint moved on; the update itself is `… WHERE id = $1 AND version =
//! $2` as a second guard.
//!
//! The scanner claims candidates with `FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, so nodes scanning at once share the work, and inserts each
//! escalation with `ON CONFLICT (complaint_id, kind) DO NOTHING RETURNING
//! id`: whatever the interleaving, each escalation is created — and
//! announced in the history — exactly once.
//!
//! # Who sees what
//!
//! Supervisors and admins see everything; inspectors see every complaint
//! with the customer masked; agents see only the complaints assigned to
//! them — others are reported as not found, so that ids cannot be probed —
//! except that they may list and claim ([`Command::Assign`] to themselves)
//! the unassigned ones and those of their groups ([`ComplaintFilter::claimable`]).

#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use chrono::{DateTime, TimeDelta, Utc};
use kefu_store::{Backend, Store, StoreError, Tx};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, AssertSqlSafe, Row};

use crate::complaint::{
    self, Actor, ActorRole, Assignee, Command, CommandKind, Complaint, ComplaintError,
    ComplaintPolicy, ComplaintState, HistoryEvent, NewComplaint, Priority, RevisitOutcome,
    RevisitTask, SideEffect,
};
use crate::error::{Error, Result};
use crate::sla::{
    self, BusinessCalendar, HolidayTable, SlaClock, SlaError, SlaInput, SlaPolicy, SlaReport,
    SlaState, SlaStatus,
};

/// Settings key of the [`SlaSettings`].
pub const SLA_SETTINGS_KEY: &str = "sla";
/// Settings key of the [`ComplaintPolicy`] (survey bands, revisit delay).
pub const COMPLAINT_POLICY_KEY: &str = "complaint_policy";
/// History kind of the scanner's "escalated to supervisor" event.
pub const ESCALATED: &str = "escalated";
/// History kind of the scanner's near-breach warning.
pub const NEAR_BREACH_WARNED: &str = "near_breach_warned";
/// `actor_id` and `actor_role` of history events written by the scanner.
pub const SYSTEM_ACTOR: &str = "system";
/// Who breaches are escalated to (`escalations.notified_to`).
pub const SUPERVISORS: &str = "supervisor";

/// Complaints the scanner handles per transaction.
const SCAN_BATCH: i64 = 200;
/// Batches per [`ComplaintService::scan_sla`] call at most; the next call
/// picks up the rest.
const SCAN_MAX_BATCHES: usize = 50;
/// Complaints recomputed per page when the SLA settings change.
const RECOMPUTE_PAGE: i64 = 500;

type AnyQuery<'q> = Query<'q, Any, AnyArguments>;

// ---------------------------------------------------------------------------
// Errors

/// Adds what kefu was doing to a sqlx error.
trait Db<T> {
    fn db(self, context: &'static str) -> Result<T, Error>;
}

impl<T> Db<T> for Result<T, sqlx::Error> {
    fn db(self, context: &'static str) -> Result<T, Error> {
        self.map_err(|source| Error::from(StoreError::Database { context, source }))
    }
}

fn corrupt(what: impl Into<String>, reason: impl fmt::Display) -> Error {
    Error::corrupt(what, reason)
}

/// "conflict: …", as the complaint service words collisions.
fn conflict(message: impl fmt::Display) -> Error {
    Error::Conflict(format!("conflict: {message}"))
}

fn not_found(what: &'static str, id: &str) -> Error {
    Error::not_found(what, id)
}

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

fn builtin_holidays() -> &'static HolidayTable {
    static TABLE: OnceLock<HolidayTable> = OnceLock::new();
    TABLE.get_or_init(HolidayTable::cn_builtin)
}

/// Everything the rules need, loaded once per transaction.
struct Rules {
    sla: SlaSettings,
    calendar: BusinessCalendar,
    always: BusinessCalendar,
    complaint: ComplaintPolicy,
}

impl Rules {
    fn new(sla: SlaSettings, complaint: ComplaintPolicy) -> Rules {
        Rules {
            calendar: sla.effective_calendar(),
            sla,
            always: BusinessCalendar::always_open(),
            complaint,
        }
    }

    /// The calendar [`sla::evaluate`] counts on.
    fn clock_calendar(&self) -> &BusinessCalendar {
        if self.sla.policy.business_hours {
            &self.calendar
        } else {
            &self.always
        }
    }

    /// Both clocks of `c` at `now`; a closed complaint's clocks stopped when
    /// it was closed.
    fn report(&self, c: &Complaint, now: DateTime<Utc>) -> (SlaInput, SlaReport) {
        let input = sla_input(c);
        let at = match c.closed_at {
            Some(closed) if c.state == ComplaintState::Closed => closed.min(now),
            _ => now,
        };
        let report = sla::evaluate(&self.sla.policy, &self.calendar, &input, at);
        (input, report)
    }

    /// The SLA columns of `c` at `now`, given which escalations are done.
    fn columns(&self, c: &Complaint, flags: &Flags, now: DateTime<Utc>) -> SlaColumns {
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
            state: combined_label(reply.label, resolve.label),
            reply,
            resolve,
            next_at: next,
        }
    }
}

fn sla_input(c: &Complaint) -> SlaInput {
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

/// Which scanner actions are done for a complaint.
#[derive(Debug, Clone, Copy, Default)]
struct Flags {
    escalated_reply: bool,
    escalated_resolve: bool,
    reply_near: bool,
    resolve_near: bool,
}

const FLAG_COLUMNS: &str =
    "escalated_reply_at, escalated_resolve_at, reply_near_notified_at, resolve_near_notified_at";

impl Flags {
    fn from_row(row: &AnyRow) -> Result<Flags, Error> {
        let set = |col: &'static str| -> Result<bool, Error> {
            Ok(row
                .try_get::<Option<i64>, _>(col)
                .db("reading escalation flags")?
                .is_some())
        };
        Ok(Flags {
            escalated_reply: set("escalated_reply_at")?,
            escalated_resolve: set("escalated_resolve_at")?,
            reply_near: set("reply_near_notified_at")?,
            resolve_near: set("resolve_near_notified_at")?,
        })
    }
}

struct ClockColumns {
    /// First instant (ms, rounded up) at which the clock is breached.
    due: Option<i64>,
    /// First instant (ms, rounded up) at which it is a near breach.
    near: Option<i64>,
    label: &'static str,
}

struct SlaColumns {
    reply: ClockColumns,
    resolve: ClockColumns,
    state: &'static str,
    next_at: Option<i64>,
}

fn clock_columns(
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
fn near_target(target: TimeDelta, ratio: f64) -> Option<TimeDelta> {
    let ns = target.num_nanoseconds()?;
    Some(TimeDelta::nanoseconds((ns as f64 * ratio).round() as i64))
}

fn ceil_ms(t: DateTime<Utc>) -> i64 {
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

fn label_rank(label: &str) -> u8 {
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
fn combined_label(a: &'static str, b: &'static str) -> &'static str {
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

// ---------------------------------------------------------------------------
// Public data
// ---------------------------------------------------------------------------

/// One stored history entry: a [`HistoryEvent`] of [`crate::complaint`], or
/// an event of the SLA scanner ([`ESCALATED`], [`NEAR_BREACH_WARNED`], with
/// actor [`SYSTEM_ACTOR`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryRecord {
    /// Row id; entries are in id order.
    pub id: i64,
    /// The complaint.
    pub complaint_id: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (`system` for the scanner).
    pub actor_id: String,
    /// In which role: an [`ActorRole`] name, or `system`.
    pub actor_role: String,
    /// What: a [`complaint::HistoryKind`] name, [`ESCALATED`] or
    /// [`NEAR_BREACH_WARNED`].
    pub kind: String,
    /// State before.
    pub from_state: Option<ComplaintState>,
    /// State after.
    pub to_state: Option<ComplaintState>,
    /// Details, a JSON object.
    pub detail: Value,
}

/// A complaint as one actor may see it, with everything around it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComplaintView {
    /// The complaint, customer masked unless the actor may see it
    /// ([`Complaint::redacted_for`]).
    pub complaint: Complaint,
    /// Both SLA clocks now.
    pub sla: SlaReport,
    /// The combined SLA state ([`sla_state_label`]).
    pub sla_state: String,
    /// The history, oldest first.
    pub history: Vec<HistoryRecord>,
    /// Revisit tasks, oldest first.
    pub revisits: Vec<RevisitTask>,
    /// Escalations and near-breach warnings, oldest first.
    pub escalations: Vec<Escalation>,
    /// What the actor may do now (for buttons).
    pub available_commands: Vec<CommandKind>,
}

/// A line of a complaint list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComplaintSummary {
    /// Id.
    pub id: String,
    /// Version (for `If-Match`).
    pub version: u64,
    /// State.
    pub state: ComplaintState,
    /// Priority.
    pub priority: Priority,
    /// 特殊疑难.
    pub special: bool,
    /// Assignee.
    pub assignee: Option<Assignee>,
    /// Customer name, masked unless the actor may see it.
    pub customer_name: String,
    /// Channel.
    pub channel: String,
    /// Category.
    pub category: String,
    /// Opened.
    pub opened_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// First reply.
    pub first_reply_at: Option<DateTime<Utc>>,
    /// Resolution.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Closing.
    pub closed_at: Option<DateTime<Utc>>,
    /// Whether the SLA clock is paused, waiting on the customer.
    pub waiting: bool,
    /// Times reopened.
    pub reopen_count: u32,
    /// Both SLA clocks now.
    pub sla: SlaReport,
    /// The combined SLA state now ([`sla_state_label`]).
    pub sla_state: String,
}

/// Filter on the SLA clocks, judged at the `now` given to
/// [`ComplaintService::list`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaFilter {
    /// A clock is breached now, or was met late.
    Breached,
    /// Not breached, but a running clock is past its near-breach share.
    NearBreach,
    /// Breached or near breach.
    AtRisk,
    /// Waiting on the customer (clocks paused).
    Paused,
}

/// What [`ComplaintService::list`] returns; every field narrows the list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ComplaintFilter {
    /// Only these states (empty: any).
    pub states: Vec<ComplaintState>,
    /// Only this assignee (for agents, ignored: they see their own).
    pub assignee: Option<Assignee>,
    /// Only unassigned complaints.
    pub unassigned: bool,
    /// Opened at or after.
    pub opened_from: Option<DateTime<Utc>>,
    /// Opened before.
    pub opened_to: Option<DateTime<Utc>>,
    /// Only special (true) or ordinary (false) complaints.
    pub special: Option<bool>,
    /// Only this priority.
    pub priority: Option<Priority>,
    /// Only complaints in this SLA condition.
    pub sla: Option<SlaFilter>,
    /// Agents: list the open complaints they may claim (unassigned, or
    /// assigned to one of their groups) instead of their own. Customers are
    /// masked. Ignored for other roles.
    pub claimable: bool,
    /// Page size (default 50, at most 500).
    pub limit: Option<i64>,
    /// Rows to skip.
    pub offset: Option<i64>,
}

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
    fn finish(&mut self) {
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

// ---------------------------------------------------------------------------
// Small SQL helpers
// ---------------------------------------------------------------------------

/// A value to bind.
#[derive(Debug, Clone)]
enum Arg {
    I(i64),
    S(String),
}

/// WHERE conditions with numbered placeholders.
#[derive(Debug, Default)]
struct Conditions {
    parts: Vec<String>,
    args: Vec<Arg>,
}

impl Conditions {
    fn arg(&mut self, a: Arg) -> String {
        self.args.push(a);
        format!("${}", self.args.len())
    }

    fn push(&mut self, sql: String) {
        self.parts.push(sql);
    }

    fn where_sql(&self) -> String {
        if self.parts.is_empty() {
            "1 = 1".to_string()
        } else {
            self.parts.join(" AND ")
        }
    }

    fn bind<'q>(&self, mut q: AnyQuery<'q>) -> AnyQuery<'q> {
        for a in &self.args {
            q = match a {
                Arg::I(v) => q.bind(*v),
                Arg::S(v) => q.bind(v.clone()),
            };
        }
        q
    }
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(v: i64, what: &str) -> Result<DateTime<Utc>, Error> {
    DateTime::from_timestamp_millis(v)
        .ok_or_else(|| corrupt(what, format!("time {v} out of range")))
}

fn opt_from_ms(v: Option<i64>, what: &str) -> Result<Option<DateTime<Utc>>, Error> {
    v.map(|v| from_ms(v, what)).transpose()
}

fn version_i64(v: u64) -> Result<i64, Error> {
    i64::try_from(v).map_err(|_| Error::invalid_field("version", format!("{v} is out of range")))
}

fn complaint_from_doc(id: &str, doc: &str) -> Result<Complaint, Error> {
    serde_json::from_str(doc).map_err(|e| corrupt(format!("complaint {id}"), e))
}

fn require_privileged(actor: &Actor, action: &'static str) -> Result<(), Error> {
    if actor.role.is_privileged() {
        Ok(())
    } else {
        Err(Error::Forbidden(format!(
            "{} {} may not {action}",
            actor.role.label_zh(),
            actor.id
        )))
    }
}

/// Whether an agent may reach (read, or act on with `kind`) the complaint;
/// other roles always may (the complaint rules judge what they may do).
fn reachable(c: &Complaint, actor: &Actor, kind: Option<CommandKind>) -> bool {
    actor.role != ActorRole::Agent
        || c.is_assigned_to_agent(&actor.id)
        || (kind == Some(CommandKind::Assign) && c.is_claimable_by(actor))
}

/// The complaint columns, in bind order (`id` first).
const COMPLAINT_COLUMNS: &[&str] = &[
    "id",
    "version",
    "state",
    "priority",
    "special",
    "assignee_kind",
    "assignee_id",
    "customer_id",
    "customer_name",
    "channel",
    "category",
    "description",
    "conversation_id",
    "created_by",
    "reopen_count",
    "doc",
    "opened_at",
    "updated_at",
    "first_reply_at",
    "resolved_at",
    "closed_at",
    "waiting_since",
    "reply_due_at",
    "reply_near_at",
    "resolve_due_at",
    "resolve_near_at",
    "reply_sla",
    "resolve_sla",
    "sla_state",
    "sla_next_at",
];

fn insert_complaint_sql() -> String {
    let cols = COMPLAINT_COLUMNS.join(", ");
    let values: Vec<String> = (1..=COMPLAINT_COLUMNS.len())
        .map(|i| format!("${i}"))
        .collect();
    format!(
        "INSERT INTO complaints ({cols}) VALUES ({}) ON CONFLICT (id) DO NOTHING RETURNING id",
        values.join(", ")
    )
}

fn update_complaint_sql() -> String {
    let sets: Vec<String> = COMPLAINT_COLUMNS
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, c)| format!("{c} = ${}", i + 1))
        .collect();
    format!(
        "UPDATE complaints SET {} WHERE id = $1 AND version = ${}",
        sets.join(", "),
        COMPLAINT_COLUMNS.len() + 1
    )
}

/// Binds the [`COMPLAINT_COLUMNS`] of `c`.
fn bind_complaint<'q>(
    q: AnyQuery<'q>,
    c: &Complaint,
    sla: &SlaColumns,
) -> Result<AnyQuery<'q>, Error> {
    let doc = serde_json::to_string(c).map_err(|e| corrupt(format!("complaint {}", c.id), e))?;
    Ok(q.bind(c.id.clone())
        .bind(version_i64(c.version)?)
        .bind(c.state.as_str())
        .bind(c.priority.as_str())
        .bind(i64::from(c.special))
        .bind(c.assignee.as_ref().map(Assignee::kind_str))
        .bind(c.assignee.as_ref().map(|a| a.id().to_string()))
        .bind(c.customer.id.clone())
        .bind(c.customer.name.clone())
        .bind(c.channel.clone())
        .bind(c.category.clone())
        .bind(c.description.clone())
        .bind(c.conversation_id.clone())
        .bind(c.created_by.clone())
        .bind(i64::from(c.reopen_count))
        .bind(doc)
        .bind(ms(c.opened_at))
        .bind(ms(c.updated_at))
        .bind(c.first_reply_at.map(ms))
        .bind(c.resolved_at.map(ms))
        .bind(c.closed_at.map(ms))
        .bind(c.waiting_since.map(ms))
        .bind(sla.reply.due)
        .bind(sla.reply.near)
        .bind(sla.resolve.due)
        .bind(sla.resolve.near)
        .bind(sla.reply.label)
        .bind(sla.resolve.label)
        .bind(sla.state)
        .bind(sla.next_at))
}

/// Rewrites the SLA columns of a complaint (not its document or version),
/// setting the escalation flags given as `Some(now)` if still unset.
async fn update_sla_columns(
    conn: &mut AnyConnection,
    id: &str,
    sla: &SlaColumns,
    new_flags: [Option<i64>; 4],
) -> Result<(), Error> {
    let [er, es, rn, sn] = new_flags;
    sqlx::query(
        "UPDATE complaints SET reply_due_at = $2, reply_near_at = $3, resolve_due_at = $4, \
         resolve_near_at = $5, reply_sla = $6, resolve_sla = $7, sla_state = $8, sla_next_at = $9, \
         escalated_reply_at = COALESCE(escalated_reply_at, $10), \
         escalated_resolve_at = COALESCE(escalated_resolve_at, $11), \
         reply_near_notified_at = COALESCE(reply_near_notified_at, $12), \
         resolve_near_notified_at = COALESCE(resolve_near_notified_at, $13) WHERE id = $1",
    )
    .bind(id)
    .bind(sla.reply.due)
    .bind(sla.reply.near)
    .bind(sla.resolve.due)
    .bind(sla.resolve.near)
    .bind(sla.reply.label)
    .bind(sla.resolve.label)
    .bind(sla.state)
    .bind(sla.next_at)
    .bind(er)
    .bind(es)
    .bind(rn)
    .bind(sn)
    .execute(&mut *conn)
    .await
    .db("updating SLA columns")?;
    Ok(())
}

async fn insert_history(conn: &mut AnyConnection, e: &HistoryEvent) -> Result<(), Error> {
    insert_history_row(
        conn,
        &e.complaint_id,
        e.at,
        &e.actor_id,
        e.actor_role.as_str(),
        e.kind.as_str(),
        e.from_state,
        e.to_state,
        &e.detail,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn insert_history_row(
    conn: &mut AnyConnection,
    complaint_id: &str,
    at: DateTime<Utc>,
    actor_id: &str,
    actor_role: &str,
    kind: &str,
    from_state: Option<ComplaintState>,
    to_state: Option<ComplaintState>,
    detail: &Value,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO complaint_history (complaint_id, at, actor_id, actor_role, kind, from_state, \
         to_state, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(complaint_id)
    .bind(ms(at))
    .bind(actor_id)
    .bind(actor_role)
    .bind(kind)
    .bind(from_state.map(ComplaintState::as_str))
    .bind(to_state.map(ComplaintState::as_str))
    .bind(detail.to_string())
    .execute(&mut *conn)
    .await
    .db("appending complaint history")?;
    Ok(())
}

/// The rules from stored settings `(key, value)` (defaults where none are
/// stored).
fn rules_from(stored: Vec<(String, String)>) -> Result<Rules, Error> {
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
const RULE_KEYS: [&str; 2] = [SLA_SETTINGS_KEY, COMPLAINT_POLICY_KEY];

/// The rules in force, read inside `tx`.
async fn load_rules(tx: &mut Tx) -> Result<Rules, Error> {
    rules_from(tx.settings(&RULE_KEYS).await?)
}

fn history_from_row(row: &AnyRow) -> Result<HistoryRecord, Error> {
    let id: i64 = row.try_get("id").db("complaint_history.id")?;
    let what = || format!("history entry {id}");
    let state = |col: &'static str| -> Result<Option<ComplaintState>, Error> {
        let s: Option<String> = row.try_get(col).db("complaint_history state")?;
        s.map(|s| s.parse::<ComplaintState>().map_err(|e| corrupt(what(), e)))
            .transpose()
    };
    let detail: String = row.try_get("detail").db("complaint_history.detail")?;
    Ok(HistoryRecord {
        id,
        complaint_id: row
            .try_get("complaint_id")
            .db("complaint_history.complaint_id")?,
        at: from_ms(row.try_get("at").db("complaint_history.at")?, &what())?,
        actor_id: row.try_get("actor_id").db("complaint_history.actor_id")?,
        actor_role: row
            .try_get("actor_role")
            .db("complaint_history.actor_role")?,
        kind: row.try_get("kind").db("complaint_history.kind")?,
        from_state: state("from_state")?,
        to_state: state("to_state")?,
        detail: serde_json::from_str(&detail).map_err(|e| corrupt(what(), e))?,
    })
}

const REVISIT_COLUMNS: &str = "r.id, r.complaint_id, r.created_at, r.due_at, r.assigned_role, \
     r.done_at, r.done_by, r.outcome, r.outcome_kind";

fn revisit_from_row(row: &AnyRow) -> Result<RevisitTask, Error> {
    let id: i64 = row.try_get("id").db("revisit_tasks.id")?;
    let what = || format!("revisit task {id}");
    let role: String = row
        .try_get("assigned_role")
        .db("revisit_tasks.assigned_role")?;
    let outcome_kind: Option<String> = row
        .try_get("outcome_kind")
        .db("revisit_tasks.outcome_kind")?;
    Ok(RevisitTask {
        id: id.to_string(),
        complaint_id: row
            .try_get("complaint_id")
            .db("revisit_tasks.complaint_id")?,
        created_at: from_ms(
            row.try_get("created_at").db("revisit_tasks.created_at")?,
            &what(),
        )?,
        due_at: from_ms(row.try_get("due_at").db("revisit_tasks.due_at")?, &what())?,
        assigned_role: role.parse::<ActorRole>().map_err(|e| corrupt(what(), e))?,
        done_at: opt_from_ms(row.try_get("done_at").db("revisit_tasks.done_at")?, &what())?,
        done_by: row.try_get("done_by").db("revisit_tasks.done_by")?,
        outcome: row.try_get("outcome").db("revisit_tasks.outcome")?,
        outcome_kind: outcome_kind
            .map(|k| k.parse::<RevisitOutcome>().map_err(|e| corrupt(what(), e)))
            .transpose()?,
    })
}

const ESCALATION_COLUMNS: &str = "id, complaint_id, kind, due_at, created_at, node_id, notified_to";

fn escalation_from_row(row: &AnyRow) -> Result<Escalation, Error> {
    let id: i64 = row.try_get("id").db("escalations.id")?;
    let what = || format!("escalation {id}");
    let kind: String = row.try_get("kind").db("escalations.kind")?;
    Ok(Escalation {
        id,
        complaint_id: row.try_get("complaint_id").db("escalations.complaint_id")?,
        kind: kind.parse().map_err(|e| corrupt(what(), e))?,
        due_at: opt_from_ms(row.try_get("due_at").db("escalations.due_at")?, &what())?,
        created_at: from_ms(
            row.try_get("created_at").db("escalations.created_at")?,
            &what(),
        )?,
        node_id: row.try_get("node_id").db("escalations.node_id")?,
        notified_to: row.try_get("notified_to").db("escalations.notified_to")?,
    })
}

fn summary_of(c: &Complaint, actor: &Actor, rules: &Rules, now: DateTime<Utc>) -> ComplaintSummary {
    let (_, report) = rules.report(c, now);
    let customer_name = if c.may_see_personal_data(actor) {
        c.customer.name.clone()
    } else {
        complaint::mask_name(&c.customer.name)
    };
    ComplaintSummary {
        id: c.id.clone(),
        version: c.version,
        state: c.state,
        priority: c.priority,
        special: c.special,
        assignee: c.assignee.clone(),
        customer_name,
        channel: c.channel.clone(),
        category: c.category.clone(),
        opened_at: c.opened_at,
        updated_at: c.updated_at,
        first_reply_at: c.first_reply_at,
        resolved_at: c.resolved_at,
        closed_at: c.closed_at,
        waiting: c.is_waiting(),
        reopen_count: c.reopen_count,
        sla_state: sla_state_label(&report, c.state == ComplaintState::Closed).to_string(),
        sla: report,
    }
}

// ---------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------

/// Complaint workflows over a [`Store`]. Cheap to clone; every method is one
/// transaction.
#[derive(Debug, Clone)]
pub struct ComplaintService {
    store: Store,
}

impl ComplaintService {
    /// A service over `store` (migrated).
    pub fn new(store: Store) -> ComplaintService {
        ComplaintService { store }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn is_postgres(&self) -> bool {
        self.store.backend() == Backend::Postgres
    }

    /// ` FOR UPDATE` on PostgreSQL; nothing on SQLite, whose write
    /// transactions are exclusive anyway.
    fn lock_clause(&self) -> &'static str {
        if self.is_postgres() {
            " FOR UPDATE"
        } else {
            ""
        }
    }

    /// A write transaction ([`Store::write`]).
    async fn begin_write(&self) -> Result<Tx, Error> {
        Ok(self.store.write().await?)
    }

    async fn begin_read(&self) -> Result<Tx, Error> {
        Ok(self.store.read().await?)
    }

    /// Opens a complaint ([`complaint::new_complaint`]) and stores it with
    /// its history. An empty `input.id` gets a generated id
    /// (`CMP-YYYYMMDD-NNNNNN`); a given id that is taken is a
    /// [`Error::Conflict`]. With `input.conversation_id`, the
    /// conversation must be stored; it fills in a blank customer name, a
    /// missing customer id and a blank channel.
    ///
    /// Returns the complaint as `actor` may see it.
    pub async fn create(
        &self,
        mut input: NewComplaint,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Complaint, Error> {
        if let Some(conv_id) = input
            .conversation_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let conv = self.store.conversation(conv_id).await?.ok_or_else(|| {
                Error::invalid_field(
                    "conversation_id",
                    format!("no stored conversation {conv_id}"),
                )
            })?;
            if input.customer.name.trim().is_empty() {
                if let Some(name) = conv.customer_name.as_deref() {
                    input.customer.name = name.to_string();
                }
            }
            if input.customer.id.is_none() {
                input.customer.id = conv.customer_id.as_deref().map(str::to_string);
            }
            if input.channel.trim().is_empty() {
                input.channel = conv.channel.as_str().to_string();
            }
        }
        let generate = input.id.trim().is_empty();
        let mut tx = self.begin_write().await?;
        let rules = load_rules(&mut tx).await?;
        let insert_sql = insert_complaint_sql();
        // A generated id can only be taken by a caller-chosen one that
        // happens to look the same; then take the next number.
        for _ in 0..5 {
            if generate {
                input.id = next_complaint_id(&mut tx, &rules, now).await?;
            }
            let (c, events) = complaint::new_complaint(input.clone(), actor, now)?;
            let cols = rules.columns(&c, &Flags::default(), now);
            let q = bind_complaint(sqlx::query(AssertSqlSafe(insert_sql.clone())), &c, &cols)?;
            let inserted = q.fetch_optional(&mut *tx).await.db("storing a complaint")?;
            if inserted.is_none() {
                if generate {
                    continue;
                }
                return Err(conflict(format!("complaint {} already exists", c.id)));
            }
            for e in &events {
                insert_history(&mut tx, e).await?;
            }
            tx.commit().await?;
            return Ok(c.redacted_for(actor));
        }
        Err(conflict("could not allocate a free complaint id"))
    }

    /// Loads a complaint for writing (locked on PostgreSQL) with its
    /// escalation flags.
    async fn load_for_write(
        &self,
        conn: &mut AnyConnection,
        id: &str,
    ) -> Result<Option<(Complaint, Flags)>, Error> {
        let sql = format!(
            "SELECT id, doc, version, {FLAG_COLUMNS} FROM complaints WHERE id = $1{}",
            self.lock_clause()
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await
            .db("reading a complaint")?;
        let Some(row) = row else { return Ok(None) };
        let doc: String = row.try_get("doc").db("complaints.doc")?;
        let version: i64 = row.try_get("version").db("complaints.version")?;
        let c = complaint_from_doc(id, &doc)?;
        if version_i64(c.version)? != version {
            return Err(corrupt(
                format!("complaint {id}"),
                format!("document at version {}, row at {version}", c.version),
            ));
        }
        Ok(Some((c, Flags::from_row(&row)?)))
    }

    /// Applies `command` by `actor` at `now` ([`complaint::apply_with_policy`]
    /// under the stored [`ComplaintPolicy`]), and stores the new complaint,
    /// its history, its revisit task if the survey asks for one, and its SLA
    /// columns.
    ///
    /// `expected_version` (e.g. from `If-Match`) makes the call fail with
    /// [`ComplaintError::VersionConflict`] when the complaint moved on. An
    /// agent acting on a complaint not assigned to them gets
    /// [`Error::NotFound`] (unless claiming it). Returns the complaint
    /// as `actor` may see it.
    pub async fn execute(
        &self,
        id: &str,
        expected_version: Option<u64>,
        actor: &Actor,
        command: Command,
        now: DateTime<Utc>,
    ) -> Result<Complaint, Error> {
        let mut tx = self.begin_write().await?;
        let Some((current, flags)) = self.load_for_write(&mut tx, id).await? else {
            return Err(not_found("complaint", id));
        };
        if !reachable(&current, actor, Some(command.kind())) {
            return Err(not_found("complaint", id));
        }
        if let Some(expected) = expected_version {
            current.check_version(expected)?;
        }
        let rules = load_rules(&mut tx).await?;
        let (next, events, effects) =
            complaint::apply_with_policy(&current, actor, command, now, &rules.complaint)?;
        let cols = rules.columns(&next, &flags, now);
        let q = sqlx::query(AssertSqlSafe(update_complaint_sql()));
        let updated = bind_complaint(q, &next, &cols)?
            .bind(version_i64(current.version)?)
            .execute(&mut *tx)
            .await
            .db("updating a complaint")?
            .rows_affected();
        if updated == 0 {
            let actual: Option<i64> = sqlx::query("SELECT version FROM complaints WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .db("reading a complaint version")?
                .map(|r| r.try_get("version"))
                .transpose()
                .db("complaints.version")?;
            return Err(ComplaintError::VersionConflict {
                expected: current.version,
                actual: actual.and_then(|v| u64::try_from(v).ok()).unwrap_or(0),
            }
            .into());
        }
        for e in &events {
            insert_history(&mut tx, e).await?;
        }
        for effect in &effects {
            if let SideEffect::CreateRevisit {
                complaint_id,
                due_at,
                result_score,
                attitude_score,
            } = effect
            {
                sqlx::query(
                    "INSERT INTO revisit_tasks (complaint_id, created_at, due_at, assigned_role, \
                     result_score, attitude_score) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(complaint_id.clone())
                .bind(ms(now))
                .bind(ms(*due_at))
                .bind(ActorRole::Supervisor.as_str())
                .bind(i64::from(*result_score))
                .bind(i64::from(*attitude_score))
                .execute(&mut *tx)
                .await
                .db("creating a revisit task")?;
            }
            // NotifyAssignee: kefu has no notification channel yet; the
            // assignment is in the history.
        }
        tx.commit().await?;
        Ok(next.redacted_for(actor))
    }

    /// A complaint with its SLA clocks at `now`, history, revisit tasks,
    /// escalations and the commands `actor` may issue; `None` when there is
    /// no such complaint or `actor` is an agent it is not assigned to.
    /// Personal data is masked per [`Complaint::redacted_for`].
    pub async fn get(
        &self,
        id: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Option<ComplaintView>, Error> {
        let mut tx = self.begin_read().await?;
        let row = sqlx::query("SELECT doc FROM complaints WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .db("reading a complaint")?;
        let Some(row) = row else { return Ok(None) };
        let doc: String = row.try_get("doc").db("complaints.doc")?;
        let c = complaint_from_doc(id, &doc)?;
        if !reachable(&c, actor, None) {
            return Ok(None);
        }
        let rules = load_rules(&mut tx).await?;
        let history = sqlx::query(
            "SELECT id, complaint_id, at, actor_id, actor_role, kind, from_state, to_state, detail \
             FROM complaint_history WHERE complaint_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .db("reading complaint history")?
        .iter()
        .map(history_from_row)
        .collect::<Result<Vec<_>, _>>()?;
        let sql = format!(
            "SELECT {REVISIT_COLUMNS} FROM revisit_tasks r WHERE r.complaint_id = $1 ORDER BY r.id"
        );
        let revisits = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_all(&mut *tx)
            .await
            .db("reading revisit tasks")?
            .iter()
            .map(revisit_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let sql = format!(
            "SELECT {ESCALATION_COLUMNS} FROM escalations WHERE complaint_id = $1 ORDER BY id"
        );
        let escalations = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_all(&mut *tx)
            .await
            .db("reading escalations")?
            .iter()
            .map(escalation_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        tx.commit().await?;
        let (_, sla) = rules.report(&c, now);
        Ok(Some(ComplaintView {
            sla_state: sla_state_label(&sla, c.state == ComplaintState::Closed).to_string(),
            sla,
            available_commands: complaint::available_commands(&c, actor),
            complaint: c.redacted_for(actor),
            history,
            revisits,
            escalations,
        }))
    }

    /// Complaints matching `filter` that `actor` may see, newest first, and
    /// how many match in all. SLA conditions and clocks are judged at `now`.
    /// Agents see only their own complaints (or, with
    /// [`ComplaintFilter::claimable`], those they may claim).
    pub async fn list(
        &self,
        filter: &ComplaintFilter,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(Vec<ComplaintSummary>, i64), Error> {
        let mut w = Conditions::default();
        if actor.role == ActorRole::Agent {
            if filter.claimable {
                let mut alts = vec!["c.assignee_kind IS NULL".to_string()];
                if !actor.groups.is_empty() {
                    let ids: Vec<String> = actor
                        .groups
                        .iter()
                        .map(|g| w.arg(Arg::S(g.clone())))
                        .collect();
                    alts.push(format!(
                        "(c.assignee_kind = 'group' AND c.assignee_id IN ({}))",
                        ids.join(", ")
                    ));
                }
                w.push(format!("({})", alts.join(" OR ")));
                w.push("c.state <> 'closed'".to_string());
            } else {
                let me = w.arg(Arg::S(actor.id.clone()));
                w.push(format!(
                    "c.assignee_kind = 'agent' AND c.assignee_id = {me}"
                ));
            }
        } else if let Some(a) = &filter.assignee {
            let kind = w.arg(Arg::S(a.kind_str().to_string()));
            let id = w.arg(Arg::S(a.id().to_string()));
            w.push(format!("c.assignee_kind = {kind} AND c.assignee_id = {id}"));
        }
        if filter.unassigned {
            w.push("c.assignee_kind IS NULL".to_string());
        }
        if !filter.states.is_empty() {
            let states: Vec<String> = filter
                .states
                .iter()
                .map(|s| w.arg(Arg::S(s.as_str().to_string())))
                .collect();
            w.push(format!("c.state IN ({})", states.join(", ")));
        }
        if let Some(t) = filter.opened_from {
            let p = w.arg(Arg::I(ms(t)));
            w.push(format!("c.opened_at >= {p}"));
        }
        if let Some(t) = filter.opened_to {
            let p = w.arg(Arg::I(ms(t)));
            w.push(format!("c.opened_at < {p}"));
        }
        if let Some(s) = filter.special {
            let p = w.arg(Arg::I(i64::from(s)));
            w.push(format!("c.special = {p}"));
        }
        if let Some(p) = filter.priority {
            let p = w.arg(Arg::S(p.as_str().to_string()));
            w.push(format!("c.priority = {p}"));
        }
        if let Some(sla) = filter.sla {
            let now_p = w.arg(Arg::I(ms(now)));
            let breached = format!(
                "(c.sla_state = 'breached' \
                 OR (c.reply_due_at IS NOT NULL AND c.reply_due_at <= {now_p}) \
                 OR (c.resolve_due_at IS NOT NULL AND c.resolve_due_at <= {now_p}))"
            );
            let near = format!(
                "((c.reply_near_at IS NOT NULL AND c.reply_near_at <= {now_p}) \
                 OR (c.resolve_near_at IS NOT NULL AND c.resolve_near_at <= {now_p}))"
            );
            w.push(match sla {
                SlaFilter::Breached => breached,
                SlaFilter::NearBreach => format!("NOT {breached} AND {near}"),
                SlaFilter::AtRisk => format!("({breached} OR {near})"),
                SlaFilter::Paused => "c.waiting_since IS NOT NULL AND c.state <> 'closed'".into(),
            });
        }
        let where_sql = w.where_sql();
        let limit = filter.limit.unwrap_or(50).clamp(1, 500);
        let offset = filter.offset.unwrap_or(0).max(0);
        let n = w.args.len();
        let list_sql = format!(
            "SELECT c.id, c.doc FROM complaints c WHERE {where_sql} \
             ORDER BY c.opened_at DESC, c.id DESC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let count_sql = format!("SELECT COUNT(*) AS n FROM complaints c WHERE {where_sql}");
        let mut tx = self.begin_read().await?;
        let rules = load_rules(&mut tx).await?;
        let rows = w
            .bind(sqlx::query(AssertSqlSafe(list_sql)))
            .bind(limit)
            .bind(offset)
            .fetch_all(&mut *tx)
            .await
            .db("listing complaints")?;
        let total: i64 = w
            .bind(sqlx::query(AssertSqlSafe(count_sql)))
            .fetch_one(&mut *tx)
            .await
            .db("counting complaints")?
            .try_get("n")
            .db("count")?;
        tx.commit().await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: String = row.try_get("id").db("complaints.id")?;
            let doc: String = row.try_get("doc").db("complaints.doc")?;
            let c = complaint_from_doc(&id, &doc)?;
            out.push(summary_of(&c, actor, &rules, now));
        }
        Ok((out, total))
    }

    /// Open revisit tasks past their deadline at `now`, most overdue first.
    /// Agents get only those of their own complaints.
    pub async fn revisits_overdue(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Vec<RevisitTask>, Error> {
        let mut w = Conditions::default();
        w.push("r.done_at IS NULL".into());
        let p = w.arg(Arg::I(ms(now)));
        w.push(format!("r.due_at < {p}"));
        if actor.role == ActorRole::Agent {
            let me = w.arg(Arg::S(actor.id.clone()));
            w.push(format!(
                "c.assignee_kind = 'agent' AND c.assignee_id = {me}"
            ));
        }
        let sql = format!(
            "SELECT {REVISIT_COLUMNS} FROM revisit_tasks r JOIN complaints c ON c.id = r.complaint_id \
             WHERE {} ORDER BY r.due_at, r.id",
            w.where_sql()
        );
        let rows = w
            .bind(sqlx::query(AssertSqlSafe(sql)))
            .fetch_all(self.store.pool())
            .await
            .db("listing overdue revisits")?;
        let tasks = rows
            .iter()
            .map(revisit_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        // The SQL compares milliseconds; keep the domain's definition.
        Ok(tasks.into_iter().filter(|t| t.is_overdue(now)).collect())
    }

    /// Records the outcome of revisit task `task_id`
    /// ([`RevisitTask::complete`]: inspectors, supervisors and admins, once)
    /// and appends it to the complaint's history. The complaint itself does
    /// not change; reopen it with [`Command::Reopen`] if need be.
    pub async fn complete_revisit(
        &self,
        task_id: &str,
        actor: &Actor,
        outcome_kind: RevisitOutcome,
        outcome: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<RevisitTask, Error> {
        let Ok(row_id) = task_id.trim().parse::<i64>() else {
            return Err(not_found("revisit task", task_id));
        };
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "SELECT {REVISIT_COLUMNS} FROM revisit_tasks r WHERE r.id = $1{}",
            self.lock_clause()
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(row_id)
            .fetch_optional(&mut *tx)
            .await
            .db("reading a revisit task")?;
        let Some(row) = row else {
            return Err(not_found("revisit task", task_id));
        };
        let task = revisit_from_row(&row)?;
        let Some((c, _)) = self.load_for_write(&mut tx, &task.complaint_id).await? else {
            return Err(not_found("complaint", &task.complaint_id));
        };
        if !reachable(&c, actor, None) {
            return Err(not_found("revisit task", task_id));
        }
        let (done, event) = task.complete(&c, actor, outcome_kind, outcome, now)?;
        let updated = sqlx::query(
            "UPDATE revisit_tasks SET done_at = $2, done_by = $3, outcome = $4, outcome_kind = $5 \
             WHERE id = $1 AND done_at IS NULL",
        )
        .bind(row_id)
        .bind(done.done_at.map(ms))
        .bind(done.done_by.clone())
        .bind(done.outcome.clone())
        .bind(done.outcome_kind.map(RevisitOutcome::as_str))
        .execute(&mut *tx)
        .await
        .db("completing a revisit task")?
        .rows_affected();
        if updated == 0 {
            return Err(conflict(format!("revisit task {task_id} is already done")));
        }
        insert_history(&mut tx, &event).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// The stored settings (defaults where none are stored), read outside
    /// any transaction.
    async fn rules(&self) -> Result<Rules, Error> {
        rules_from(self.store.settings(&RULE_KEYS).await?)
    }

    /// The SLA settings in force (the default when none are stored).
    pub async fn sla_settings(&self) -> Result<SlaSettings, Error> {
        Ok(self.rules().await?.sla)
    }

    /// Stores new SLA settings (supervisors and admins only) and recomputes
    /// the SLA columns of every open complaint under them, in one
    /// transaction.
    pub async fn set_sla_settings(
        &self,
        settings: SlaSettings,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<SlaSettings, Error> {
        require_privileged(actor, "change the SLA settings")?;
        settings.validate()?;
        let value = serde_json::to_string(&settings)
            .map_err(|e| Error::invalid_field("settings", e.to_string()))?;
        let mut tx = self.begin_write().await?;
        tx.put_setting(SLA_SETTINGS_KEY, &value, &actor.id, ms(now))
            .await?;
        let rules = load_rules(&mut tx).await?;
        self.recompute_open(&mut tx, &rules, now).await?;
        tx.commit().await?;
        Ok(rules.sla)
    }

    /// The survey bands and revisit delay in force (the default when none
    /// are stored).
    pub async fn complaint_policy(&self) -> Result<ComplaintPolicy, Error> {
        Ok(self.rules().await?.complaint)
    }

    /// Stores new survey bands and revisit delay (supervisors and admins
    /// only). They apply to surveys recorded from now on.
    pub async fn set_complaint_policy(
        &self,
        policy: ComplaintPolicy,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<ComplaintPolicy, Error> {
        require_privileged(actor, "change the complaint policy")?;
        policy.validate()?;
        let value = serde_json::to_string(&policy)
            .map_err(|e| Error::invalid_field("policy", e.to_string()))?;
        let mut tx = self.begin_write().await?;
        tx.put_setting(COMPLAINT_POLICY_KEY, &value, &actor.id, ms(now))
            .await?;
        tx.commit().await?;
        Ok(policy)
    }

    /// Recomputes the SLA columns of every open complaint (after a change of
    /// settings), page by page inside `conn`'s transaction.
    async fn recompute_open(
        &self,
        conn: &mut AnyConnection,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let sql = format!(
            "SELECT id, doc, {FLAG_COLUMNS} FROM complaints WHERE state <> 'closed' AND id > $1 \
             ORDER BY id LIMIT $2{}",
            self.lock_clause()
        );
        let mut after = String::new();
        loop {
            let rows = sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(after.clone())
                .bind(RECOMPUTE_PAGE)
                .fetch_all(&mut *conn)
                .await
                .db("reading open complaints")?;
            for row in &rows {
                let id: String = row.try_get("id").db("complaints.id")?;
                let doc: String = row.try_get("doc").db("complaints.doc")?;
                let c = complaint_from_doc(&id, &doc)?;
                let cols = rules.columns(&c, &Flags::from_row(row)?, now);
                update_sla_columns(conn, &id, &cols, [None; 4]).await?;
                after = id;
            }
            if (rows.len() as i64) < RECOMPUTE_PAGE {
                return Ok(());
            }
        }
    }

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
        let sql = format!(
            "SELECT id, doc, {FLAG_COLUMNS} FROM complaints \
             WHERE sla_next_at IS NOT NULL AND sla_next_at <= $1 AND state <> 'closed' \
             ORDER BY sla_next_at, id LIMIT $2{}",
            if self.is_postgres() {
                " FOR UPDATE SKIP LOCKED"
            } else {
                ""
            }
        );
        for _ in 0..SCAN_MAX_BATCHES {
            let mut tx = self.begin_write().await?;
            let rules = load_rules(&mut tx).await?;
            let rows = sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(ms(now))
                .bind(SCAN_BATCH)
                .fetch_all(&mut *tx)
                .await
                .db("finding complaints at SLA risk")?;
            for row in &rows {
                let id: String = row.try_get("id").db("complaints.id")?;
                let doc: String = row.try_get("doc").db("complaints.doc")?;
                let c = complaint_from_doc(&id, &doc)?;
                let flags = Flags::from_row(row)?;
                scan_one(&mut tx, &rules, &c, flags, now, node_id, &mut outcome).await?;
            }
            tx.commit().await?;
            if (rows.len() as i64) < SCAN_BATCH {
                break;
            }
        }
        Ok(outcome)
    }

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
        let mut w = Conditions::default();
        let p = w.arg(Arg::I(ms(from)));
        w.push(format!("c.opened_at >= {p}"));
        let p = w.arg(Arg::I(ms(to)));
        w.push(format!("c.opened_at < {p}"));
        if actor.role == ActorRole::Agent {
            let me = w.arg(Arg::S(actor.id.clone()));
            w.push(format!(
                "c.assignee_kind = 'agent' AND c.assignee_id = {me}"
            ));
        }
        let sql = format!(
            "SELECT c.id, c.doc FROM complaints c WHERE {} ORDER BY c.opened_at, c.id",
            w.where_sql()
        );
        let mut tx = self.begin_read().await?;
        let rules = load_rules(&mut tx).await?;
        let rows = w
            .bind(sqlx::query(AssertSqlSafe(sql)))
            .fetch_all(&mut *tx)
            .await
            .db("reading complaints for met rates")?;
        tx.commit().await?;
        // Keyed by (kind, id) of the group key, for a stable order.
        let mut groups: BTreeMap<Option<(&'static str, String)>, MetRateRow> = BTreeMap::new();
        let mut total = MetRateRow::default();
        for row in &rows {
            let id: String = row.try_get("id").db("complaints.id")?;
            let doc: String = row.try_get("doc").db("complaints.doc")?;
            let c = complaint_from_doc(&id, &doc)?;
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

enum MetClass {
    Met,
    Missed,
    Pending,
}

fn met_class(state: SlaState, closed: bool) -> Option<MetClass> {
    match state {
        SlaState::Met { on_time: true } => Some(MetClass::Met),
        SlaState::Met { on_time: false } | SlaState::Breached => Some(MetClass::Missed),
        SlaState::NoTarget => None,
        SlaState::Running | SlaState::Paused | SlaState::NearBreach if closed => None,
        SlaState::Running | SlaState::Paused | SlaState::NearBreach => Some(MetClass::Pending),
    }
}

fn group_key(assignee: Option<&Assignee>, grouping: &MetRateGrouping) -> Option<Assignee> {
    let a = assignee?;
    Some(match (grouping, a) {
        (MetRateGrouping::Team(teams), Assignee::Agent(id)) => match teams.get(id) {
            Some(team) => Assignee::Group(team.clone()),
            None => a.clone(),
        },
        _ => a.clone(),
    })
}

/// The next `CMP-YYYYMMDD-NNNNNN` id, the date in the calendar's local time.
async fn next_complaint_id(
    conn: &mut AnyConnection,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Result<String, Error> {
    let date = now
        .with_timezone(&rules.sla.calendar.utc_offset())
        .format("%Y%m%d")
        .to_string();
    let n: i64 = sqlx::query(
        "INSERT INTO id_sequences (name, value) VALUES ($1, 1) \
         ON CONFLICT (name) DO UPDATE SET value = id_sequences.value + 1 RETURNING value",
    )
    .bind(format!("complaint:{date}"))
    .fetch_one(&mut *conn)
    .await
    .db("allocating a complaint id")?
    .try_get("value")
    .db("id_sequences.value")?;
    Ok(format!("CMP-{date}-{n:06}"))
}

/// Escalates or warns about one complaint the scanner selected, and rewrites
/// its SLA columns.
async fn scan_one(
    conn: &mut AnyConnection,
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
        let sql = format!(
            "INSERT INTO escalations (complaint_id, kind, due_at, created_at, node_id, notified_to) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (complaint_id, kind) DO NOTHING \
             RETURNING {ESCALATION_COLUMNS}"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(c.id.clone())
            .bind(kind.as_str())
            .bind(status.due_at.map(ms))
            .bind(now_ms)
            .bind(node_id)
            .bind(notified_to.clone())
            .fetch_optional(&mut *conn)
            .await
            .db("recording an escalation")?;
        if let Some(row) = row {
            let e = escalation_from_row(&row)?;
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
            insert_history_row(
                conn,
                &c.id,
                now,
                SYSTEM_ACTOR,
                SYSTEM_ACTOR,
                history_kind,
                Some(c.state),
                Some(c.state),
                &detail,
            )
            .await?;
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
    update_sla_columns(conn, &c.id, &cols, new_flags).await
}
