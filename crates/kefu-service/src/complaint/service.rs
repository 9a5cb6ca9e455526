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
//!   scanner's [`ESCALATED`](crate::complaint::ESCALATED) and [`NEAR_BREACH_WARNED`](crate::complaint::NEAR_BREACH_WARNED) events.
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

use std::fmt;

use chrono::{DateTime, Utc};
use kefu_store::group_commit::WriteFuture;
pub use kefu_store::SlaFilter;
use kefu_store::{
    Backend, ComplaintKey, ComplaintQuery, ComplaintRow, EscalationFlags as Flags, HistoryRow,
    NewRevisit, RevisitRow, SlaColumns, Store, StoredComplaint, Tx,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::complaint::{
    self, Actor, ActorRole, Assignee, Command, CommandKind, Complaint, ComplaintError,
    ComplaintPolicy, ComplaintState, Customer, HistoryEvent, NewComplaint, Priority,
    RevisitOutcome, RevisitTask, SideEffect,
};
use crate::complaint::{
    escalation, load_rules, rules_from, Escalation, Rules, COMPLAINT_POLICY_KEY, RULE_KEYS,
};
use crate::error::{Error, Result};
use crate::sla::{sla_state_label, SlaReport, SlaSettings, SLA_SETTINGS_KEY};

/// Complaints recomputed per page when the SLA settings change.
pub(crate) const RECOMPUTE_PAGE: i64 = 500;

// ---------------------------------------------------------------------------
// Errors

pub(crate) fn corrupt(what: impl Into<String>, reason: impl fmt::Display) -> Error {
    Error::corrupt(what, reason)
}

/// "conflict: …", as the complaint service words collisions.
pub(crate) fn conflict(message: impl fmt::Display) -> Error {
    Error::Conflict(format!("conflict: {message}"))
}

pub(crate) fn not_found(what: &'static str, id: &str) -> Error {
    Error::not_found(what, id)
}

// ---------------------------------------------------------------------------
// Public data
// ---------------------------------------------------------------------------

/// One stored history entry: a [`HistoryEvent`] of [`crate::complaint`], or
/// an event of the SLA scanner ([`ESCALATED`](crate::complaint::ESCALATED), [`NEAR_BREACH_WARNED`](crate::complaint::NEAR_BREACH_WARNED), with
/// actor [`SYSTEM_ACTOR`](crate::complaint::SYSTEM_ACTOR)).
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
    /// What: a [`complaint::HistoryKind`] name, [`ESCALATED`](crate::complaint::ESCALATED) or
    /// [`NEAR_BREACH_WARNED`](crate::complaint::NEAR_BREACH_WARNED).
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
    /// Rows to skip (ignored with `after`).
    pub offset: Option<i64>,
    /// Keyset pagination: start after this cursor (the `next` of the
    /// previous [`ComplaintList`]); stable while complaints are added.
    pub after: Option<String>,
}

/// A page of complaints ([`ComplaintService::list_page`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComplaintList {
    /// The complaints, newest first.
    pub items: Vec<ComplaintSummary>,
    /// How many match: exact unless `total_estimated`, then a lower bound
    /// (counting stops at [`kefu_store::COUNT_CAP`]).
    pub total: i64,
    /// `total` is a lower bound, not an exact count.
    pub total_estimated: bool,
    /// Opaque cursor of the next page (`None`: this is the last one).
    pub next: Option<String>,
}

// ---------------------------------------------------------------------------
// Between the domain and the stored rows
// ---------------------------------------------------------------------------

pub(crate) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn from_ms(v: i64, what: &str) -> Result<DateTime<Utc>, Error> {
    DateTime::from_timestamp_millis(v)
        .ok_or_else(|| corrupt(what, format!("time {v} out of range")))
}

pub(crate) fn opt_from_ms(v: Option<i64>, what: &str) -> Result<Option<DateTime<Utc>>, Error> {
    v.map(|v| from_ms(v, what)).transpose()
}

pub(crate) fn version_i64(v: u64) -> Result<i64, Error> {
    i64::try_from(v).map_err(|_| Error::invalid_field("version", format!("{v} is out of range")))
}

pub(crate) fn complaint_from_doc(id: &str, doc: &str) -> Result<Complaint, Error> {
    serde_json::from_str(doc).map_err(|e| corrupt(format!("complaint {id}"), e))
}

pub(crate) fn require_privileged(actor: &Actor, action: &'static str) -> Result<(), Error> {
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
pub(crate) fn reachable(c: &Complaint, actor: &Actor, kind: Option<CommandKind>) -> bool {
    actor.role != ActorRole::Agent
        || c.is_assigned_to_agent(&actor.id)
        || (kind == Some(CommandKind::Assign) && c.is_claimable_by(actor))
}

/// The stored row of `c` with its SLA columns.
pub(crate) fn complaint_row(c: &Complaint, sla: SlaColumns) -> Result<ComplaintRow, Error> {
    Ok(ComplaintRow {
        id: c.id.clone(),
        version: version_i64(c.version)?,
        state: c.state.as_str(),
        priority: c.priority.as_str(),
        special: c.special,
        assignee_kind: c.assignee.as_ref().map(Assignee::kind_str),
        assignee_id: c.assignee.as_ref().map(|a| a.id().to_string()),
        customer_id: c.customer.id.clone(),
        customer_name: c.customer.name.clone(),
        channel: c.channel.clone(),
        category: c.category.clone(),
        description: c.description.clone(),
        conversation_id: c.conversation_id.clone(),
        created_by: c.created_by.clone(),
        reopen_count: i64::from(c.reopen_count),
        doc: serde_json::to_string(c).map_err(|e| corrupt(format!("complaint {}", c.id), e))?,
        opened_at: ms(c.opened_at),
        updated_at: ms(c.updated_at),
        first_reply_at: c.first_reply_at.map(ms),
        resolved_at: c.resolved_at.map(ms),
        closed_at: c.closed_at.map(ms),
        waiting_since: c.waiting_since.map(ms),
        sla,
    })
}

/// The history row of an event of the complaint rules.
pub(crate) fn history_row(e: &HistoryEvent) -> HistoryRow {
    HistoryRow {
        id: 0,
        complaint_id: e.complaint_id.clone(),
        at: ms(e.at),
        actor_id: e.actor_id.clone(),
        actor_role: e.actor_role.as_str().to_string(),
        kind: e.kind.as_str().to_string(),
        from_state: e.from_state.map(|s| s.as_str().to_string()),
        to_state: e.to_state.map(|s| s.as_str().to_string()),
        detail: e.detail.to_string(),
    }
}

/// Appends the events to the history inside `tx`.
pub(crate) async fn append_history(tx: &mut Tx, events: &[HistoryEvent]) -> Result<(), Error> {
    for e in events {
        tx.append_complaint_history(&history_row(e)).await?;
    }
    Ok(())
}

/// A stored complaint's document, checked against its version column.
pub(crate) fn complaint_of(stored: &StoredComplaint) -> Result<Complaint, Error> {
    let c = complaint_from_doc(&stored.id, &stored.doc)?;
    if version_i64(c.version)? != stored.version {
        return Err(corrupt(
            format!("complaint {}", stored.id),
            format!(
                "document at version {}, row at {}",
                c.version, stored.version
            ),
        ));
    }
    Ok(c)
}

pub(crate) fn history_record(r: HistoryRow) -> Result<HistoryRecord, Error> {
    let what = || format!("history entry {}", r.id);
    let state = |s: Option<String>| -> Result<Option<ComplaintState>, Error> {
        s.map(|s| s.parse::<ComplaintState>().map_err(|e| corrupt(what(), e)))
            .transpose()
    };
    Ok(HistoryRecord {
        at: from_ms(r.at, &what())?,
        from_state: state(r.from_state)?,
        to_state: state(r.to_state)?,
        detail: serde_json::from_str(&r.detail).map_err(|e| corrupt(what(), e))?,
        id: r.id,
        complaint_id: r.complaint_id,
        actor_id: r.actor_id,
        actor_role: r.actor_role,
        kind: r.kind,
    })
}

pub(crate) fn revisit_task(r: RevisitRow) -> Result<RevisitTask, Error> {
    let what = || format!("revisit task {}", r.id);
    Ok(RevisitTask {
        id: r.id.to_string(),
        created_at: from_ms(r.created_at, &what())?,
        due_at: from_ms(r.due_at, &what())?,
        assigned_role: r
            .assigned_role
            .parse::<ActorRole>()
            .map_err(|e| corrupt(what(), e))?,
        done_at: opt_from_ms(r.done_at, &what())?,
        outcome_kind: r
            .outcome_kind
            .map(|k| k.parse::<RevisitOutcome>().map_err(|e| corrupt(what(), e)))
            .transpose()?,
        complaint_id: r.complaint_id,
        done_by: r.done_by,
        outcome: r.outcome,
    })
}

pub(crate) fn summary_of(
    c: &Complaint,
    actor: &Actor,
    rules: &Rules,
    now: DateTime<Utc>,
) -> ComplaintSummary {
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
    pub(crate) store: Store,
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

    /// A write transaction ([`Store::write`]).
    pub(crate) async fn begin_write(&self) -> Result<Tx, Error> {
        Ok(self.store.write().await?)
    }

    pub(crate) async fn begin_read(&self) -> Result<Tx, Error> {
        Ok(self.store.read().await?)
    }

    /// The archive customer (客户档案) whose phone key is the complaint's
    /// phone, when `phone` is one of the configured matching keys: a
    /// complaint without a customer id links to the customer by phone.
    async fn archive_customer_by_phone(&self, customer: &Customer) -> Result<Option<String>> {
        let Some(phone) = customer.phone.as_deref().filter(|p| !p.trim().is_empty()) else {
            return Ok(None);
        };
        let policy = self.store.customer_policy().await?;
        if !policy.matching_keys.iter().any(|k| k == "phone") {
            return Ok(None);
        }
        Ok(self.store.customer_by_key("phone", phone).await?)
    }

    /// Opens a complaint ([`complaint::new_complaint`]) and stores it with
    /// its history. An empty `input.id` gets a generated id
    /// (`CMP-YYYYMMDD-NNNNNN`); a given id that is taken is a
    /// [`Error::Conflict`]. With `input.conversation_id`, the
    /// conversation must be stored and readable by `actor` (an agent's own;
    /// anything else answers as missing); it fills in a blank customer name, a
    /// missing customer id and a blank channel. Still without a customer
    /// id, a phone that is an archive customer's phone key names that
    /// customer.
    ///
    /// Returns the complaint as `actor` may see it.
    pub async fn create(
        &self,
        mut input: NewComplaint,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Complaint, Error> {
        self.fill_from_conversation(&mut input, actor).await?;
        let who = actor.clone();
        // A burst of new complaints shares write transactions (group
        // commit, [`Store::write_grouped`]): the insert is cheap, taking
        // turns for SQLite's write lock is not.
        let created = self
            .store
            .write_grouped(
                move |tx: &mut Tx| -> WriteFuture<'_, Result<Complaint, Error>> {
                    Box::pin(async move { insert_new_complaint(tx, input, &who, now).await })
                },
            )
            .await?;
        Ok(created.redacted_for(actor))
    }

    /// Checks `input.conversation_id`, if any, is stored and readable by
    /// `actor`, and fills a blank customer name, a missing customer id and
    /// a blank channel from it; still without a customer id, a phone that
    /// is an archive customer's phone key names that customer.
    pub(crate) async fn fill_from_conversation(
        &self,
        input: &mut NewComplaint,
        actor: &Actor,
    ) -> Result<(), Error> {
        if let Some(conv_id) = input
            .conversation_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            // A conversation the actor may not read answers exactly like a
            // missing one, so ids cannot be probed through complaints.
            let conv = self
                .store
                .conversation(conv_id)
                .await?
                .filter(|c| {
                    actor.role != ActorRole::Agent || c.agent_id.as_deref() == Some(&actor.id)
                })
                .ok_or_else(|| {
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
        if input
            .customer
            .id
            .as_deref()
            .is_none_or(|id| id.trim().is_empty())
        {
            input.customer.id = self.archive_customer_by_phone(&input.customer).await?;
        }
        Ok(())
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
        // Concurrent commands share write transactions on SQLite (group
        // commit, [`Store::write_grouped`]), where writers take turns anyway.
        // Not on PostgreSQL: a command locks the complaint it changes, and
        // two nodes' groups locking several complaints in different orders
        // could deadlock; one command a transaction locks one row.
        let next = if self.store.backend() == Backend::Sqlite {
            let (id, who) = (id.to_string(), actor.clone());
            self.store
                .write_grouped(
                    move |tx: &mut Tx| -> WriteFuture<'_, Result<Complaint, Error>> {
                        Box::pin(async move {
                            apply_command(tx, &id, expected_version, &who, command, now).await
                        })
                    },
                )
                .await?
        } else {
            let mut tx = self.begin_write().await?;
            let next = apply_command(&mut tx, id, expected_version, actor, command, now).await?;
            tx.commit().await?;
            next
        };
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
        let Some(doc) = tx.complaint_doc(id).await? else {
            return Ok(None);
        };
        let c = complaint_from_doc(id, &doc)?;
        if !reachable(&c, actor, None) {
            return Ok(None);
        }
        let rules = load_rules(&mut tx).await?;
        let history = tx
            .complaint_history(id)
            .await?
            .into_iter()
            .map(history_record)
            .collect::<Result<Vec<_>, _>>()?;
        let revisits = tx
            .revisits_of(id)
            .await?
            .into_iter()
            .map(revisit_task)
            .collect::<Result<Vec<_>, _>>()?;
        let escalations = tx
            .escalations_of(id)
            .await?
            .into_iter()
            .map(escalation)
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
        let page = self.list_page(filter, actor, now).await?;
        Ok((page.items, page.total))
    }

    /// Like [`ComplaintService::list`], with the cursor of the next page and
    /// whether the total is estimated. Pages follow `opened_at DESC, id
    /// DESC`; with [`ComplaintFilter::after`] a page is found by index
    /// whatever its depth and never repeats or skips a complaint when others
    /// are added meanwhile (new ones are newer, so they come before).
    pub async fn list_page(
        &self,
        filter: &ComplaintFilter,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<ComplaintList, Error> {
        let after =
            match filter.after.as_deref() {
                Some(text) => Some(ComplaintKey::from_cursor(text).ok_or_else(|| {
                    Error::Invalid(format!("not a complaint list cursor: {text:?}"))
                })?),
                None => None,
            };
        let mut query = ComplaintQuery::default();
        if actor.role == ActorRole::Agent {
            if filter.claimable {
                query.claimable_in = Some(actor.groups.clone());
            } else {
                query.agent = Some(actor.id.clone());
            }
        } else if let Some(a) = &filter.assignee {
            query.assignee = Some((a.kind_str(), a.id().to_string()));
        }
        query.unassigned = filter.unassigned;
        query.states = filter.states.iter().map(|s| s.as_str()).collect();
        query.opened_from = filter.opened_from.map(ms);
        query.opened_to = filter.opened_to.map(ms);
        query.special = filter.special;
        query.priority = filter.priority.map(Priority::as_str);
        query.sla = filter.sla.map(|f| (f, ms(now)));
        let limit = filter.limit.unwrap_or(50).clamp(1, 500);
        let offset = filter.offset.unwrap_or(0).max(0);
        // No read transaction: the page and its count are one statement,
        // and the SLA rules only label what it returns (two round trips a
        // page instead of five on PostgreSQL).
        let rules = rules_from(self.store.settings(&RULE_KEYS).await?)?;
        let page = self
            .store
            .complaint_page(&query, limit, offset, after.as_ref())
            .await?;
        let mut out = Vec::with_capacity(page.rows.len());
        for (id, doc) in &page.rows {
            let c = complaint_from_doc(id, doc)?;
            out.push(summary_of(&c, actor, &rules, now));
        }
        Ok(ComplaintList {
            items: out,
            total: page.total,
            total_estimated: page.total_estimated,
            next: page.next.as_ref().map(ComplaintKey::to_cursor),
        })
    }

    /// Open revisit tasks past their deadline at `now`, most overdue first.
    /// Agents get only those of their own complaints.
    pub async fn revisits_overdue(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Vec<RevisitTask>, Error> {
        let agent = (actor.role == ActorRole::Agent).then_some(actor.id.as_str());
        let tasks = self
            .store
            .revisits_overdue(agent, ms(now))
            .await?
            .into_iter()
            .map(revisit_task)
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
        let Some(row) = tx.lock_revisit(row_id).await? else {
            return Err(not_found("revisit task", task_id));
        };
        let task = revisit_task(row)?;
        let Some((c, _)) = load_for_write(&mut tx, &task.complaint_id).await? else {
            return Err(not_found("complaint", &task.complaint_id));
        };
        if !reachable(&c, actor, None) {
            return Err(not_found("revisit task", task_id));
        }
        let (done, event) = task.complete(&c, actor, outcome_kind, outcome, now)?;
        let done_row = RevisitRow {
            id: row_id,
            complaint_id: done.complaint_id.clone(),
            created_at: ms(done.created_at),
            due_at: ms(done.due_at),
            assigned_role: done.assigned_role.as_str().to_string(),
            done_at: done.done_at.map(ms),
            done_by: done.done_by.clone(),
            outcome: done.outcome.clone(),
            outcome_kind: done.outcome_kind.map(|k| k.as_str().to_string()),
        };
        if !tx.complete_revisit(&done_row).await? {
            return Err(conflict(format!("revisit task {task_id} is already done")));
        }
        append_history(&mut tx, std::slice::from_ref(&event)).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// The stored settings (defaults where none are stored), read outside
    /// any transaction.
    pub(crate) async fn rules(&self) -> Result<Rules, Error> {
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
    pub(crate) async fn recompute_open(
        &self,
        tx: &mut Tx,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let mut after = String::new();
        loop {
            let page = tx.lock_open_complaints(&after, RECOMPUTE_PAGE).await?;
            for stored in &page {
                let c = complaint_from_doc(&stored.id, &stored.doc)?;
                let cols = rules.columns(&c, &stored.flags, now);
                tx.update_sla_columns(&stored.id, &cols, [None; 4]).await?;
                after.clone_from(&stored.id);
            }
            if (page.len() as i64) < RECOMPUTE_PAGE {
                return Ok(());
            }
        }
    }
}

/// The next `CMP-YYYYMMDD-NNNNNN` id, the date in the calendar's local time.
/// Loads a complaint for writing (locked on PostgreSQL) with its
/// escalation flags.
pub(crate) async fn load_for_write(
    tx: &mut Tx,
    id: &str,
) -> Result<Option<(Complaint, Flags)>, Error> {
    let Some(stored) = tx.lock_complaint(id).await? else {
        return Ok(None);
    };
    Ok(Some((complaint_of(&stored)?, stored.flags)))
}

/// [`ComplaintService::execute`]'s work in `tx`: returns the new complaint
/// whole (not yet redacted).
async fn apply_command(
    tx: &mut Tx,
    id: &str,
    expected_version: Option<u64>,
    actor: &Actor,
    command: Command,
    now: DateTime<Utc>,
) -> Result<Complaint, Error> {
    let Some((current, flags)) = load_for_write(tx, id).await? else {
        return Err(not_found("complaint", id));
    };
    if !reachable(&current, actor, Some(command.kind())) {
        return Err(not_found("complaint", id));
    }
    if let Some(expected) = expected_version {
        current.check_version(expected)?;
    }
    let rules = load_rules(tx).await?;
    let kind = command.kind();
    let (next, events, effects) =
        complaint::apply_with_policy(&current, actor, command, now, &rules.complaint)?;
    let cols = rules.columns(&next, &flags, now);
    let row = complaint_row(&next, cols)?;
    if !tx
        .update_complaint(&row, version_i64(current.version)?)
        .await?
    {
        let actual = tx.complaint_version(id).await?;
        return Err(ComplaintError::VersionConflict {
            expected: current.version,
            actual: actual.and_then(|v| u64::try_from(v).ok()).unwrap_or(0),
        }
        .into());
    }
    append_history(tx, &events).await?;
    // The customer's words in a survey are information feedback (信息反馈):
    // filed with the survey, in its transaction.
    let comment = next.survey.as_ref().and_then(|s| s.comment.as_deref());
    if let (CommandKind::RecordSurvey, Some(comment)) = (kind, comment) {
        crate::feedback::file_survey_comment(
            tx,
            &next.id,
            next.customer.id.as_deref(),
            comment,
            (&actor.id, actor.role.as_str()),
            ms(now),
        )
        .await?;
    }
    for effect in &effects {
        if let SideEffect::CreateRevisit {
            complaint_id,
            due_at,
            result_score,
            attitude_score,
        } = effect
        {
            tx.insert_revisit(&NewRevisit {
                complaint_id: complaint_id.clone(),
                created_at: ms(now),
                due_at: ms(*due_at),
                assigned_role: ActorRole::Supervisor.as_str(),
                result_score: i64::from(*result_score),
                attitude_score: i64::from(*attitude_score),
            })
            .await?;
        }
        if let SideEffect::NotifyAssignee {
            complaint_id,
            assignee: Assignee::Agent(agent),
        } = effect
        {
            // Claiming a complaint tells nobody; a group has no user to
            // tell (the assignment is in the history either way).
            if agent != &actor.id {
                notify_assigned(tx, &next, complaint_id, agent, actor, now).await?;
            }
        }
    }
    Ok(next)
}

/// Stores a new complaint ([`complaint::new_complaint`]) with its history
/// in `tx`, generating its id when `input.id` is blank. Returns it whole
/// (not yet redacted).
async fn insert_new_complaint(
    tx: &mut Tx,
    mut input: NewComplaint,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Complaint, Error> {
    let generate = input.id.trim().is_empty();
    let rules = load_rules(tx).await?;
    // A generated id can only be taken by a caller-chosen one that
    // happens to look the same; then take the next number.
    for _ in 0..5 {
        if generate {
            input.id = next_complaint_id(tx, &rules, now).await?;
        }
        let (c, events) = complaint::new_complaint(input.clone(), actor, now)?;
        let cols = rules.columns(&c, &Flags::default(), now);
        let history: Vec<_> = events.iter().map(history_row).collect();
        if !tx
            .insert_complaint_with_history(&complaint_row(&c, cols)?, &history)
            .await?
        {
            if generate {
                continue;
            }
            return Err(conflict(format!("complaint {} already exists", c.id)));
        }
        return Ok(c);
    }
    Err(conflict("could not allocate a free complaint id"))
}

pub(crate) async fn next_complaint_id(
    tx: &mut Tx,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Result<String, Error> {
    let date = now
        .with_timezone(&rules.sla.calendar.utc_offset())
        .format("%Y%m%d")
        .to_string();
    let n = tx.next_sequence(&format!("complaint:{date}")).await?;
    Ok(format!("CMP-{date}-{n:06}"))
}

/// Tells an agent a complaint was assigned to them (`complaint.assigned`),
/// in the assignment's transaction; nothing when the agent has no account.
async fn notify_assigned(
    tx: &mut Tx,
    c: &Complaint,
    complaint_id: &str,
    agent: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    use crate::notify::{link_segment, user_if_active, Event, Notification};
    let Some(user) = user_if_active(tx, agent).await? else {
        return Ok(());
    };
    Notification::new(Event::ComplaintAssigned, "complaint", complaint_id)
        .title(format!("投诉 {complaint_id} 已分派给您"))
        .body(format!(
            "分类 {}；优先级 {}",
            c.category,
            c.priority.label_zh()
        ))
        .link(format!("/complaints/{}", link_segment(complaint_id)))
        .summary(serde_json::json!({
            "state": c.state.as_str(),
            "priority": c.priority,
            "category": c.category,
            "assigned_by": actor.id,
        }))
        .to(user)
        .record(tx, ms(now))
        .await?;
    Ok(())
}
