//! Complaints (migration `0002_complaints`): `complaints`, the append-only
//! `complaint_history`, `revisit_tasks`, `escalations` and the per-day
//! `id_sequences`.
//!
//! `complaints.doc` is the whole complaint as JSON and the source of truth;
//! the other columns are copies for filtering, and the SLA columns
//! ([`SlaColumns`]) are what the service computed at the last write, kept so
//! that lists and the SLA scanner can find complaints at risk by index.
//! Writers lock the complaint row on PostgreSQL ([`Tx::lock_complaint`]);
//! the scanner claims rows with `SKIP LOCKED` ([`Tx::claim_due_complaints`])
//! and records each escalation once (`UNIQUE (complaint_id, kind)`).

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::dialect::{for_update, skip_locked, AnyQuery, Arg, Where};
use crate::{Context, Store, StoreError, Tx};

/// The SLA columns of a complaint, as of its last write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlaColumns {
    /// First instant (Unix ms) at which the first-reply clock is breached.
    pub reply_due_at: Option<i64>,
    /// First instant at which it is a near breach.
    pub reply_near_at: Option<i64>,
    /// First instant at which the resolution clock is breached.
    pub resolve_due_at: Option<i64>,
    /// First instant at which it is a near breach.
    pub resolve_near_at: Option<i64>,
    /// State of the first-reply clock (`met`, `running`, `breached` …).
    pub reply_sla: &'static str,
    /// State of the resolution clock.
    pub resolve_sla: &'static str,
    /// The worse of the two.
    pub sla_state: &'static str,
    /// The next instant the scanner has something to do.
    pub sla_next_at: Option<i64>,
}

/// A complaint to store: its document and the columns copied from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplaintRow {
    /// Id.
    pub id: String,
    /// Version (bumped by every change).
    pub version: i64,
    /// State name.
    pub state: &'static str,
    /// Priority name.
    pub priority: &'static str,
    /// 特殊疑难.
    pub special: bool,
    /// `agent` or `group`, when assigned.
    pub assignee_kind: Option<&'static str>,
    /// The assignee's id.
    pub assignee_id: Option<String>,
    /// Customer id.
    pub customer_id: Option<String>,
    /// Customer name.
    pub customer_name: String,
    /// Channel.
    pub channel: String,
    /// Category.
    pub category: String,
    /// Description.
    pub description: String,
    /// The conversation it came from.
    pub conversation_id: Option<String>,
    /// Who opened it.
    pub created_by: String,
    /// Times reopened.
    pub reopen_count: i64,
    /// The whole complaint, JSON.
    pub doc: String,
    /// Opened, Unix ms.
    pub opened_at: i64,
    /// Last change.
    pub updated_at: i64,
    /// First reply.
    pub first_reply_at: Option<i64>,
    /// Resolution.
    pub resolved_at: Option<i64>,
    /// Closing.
    pub closed_at: Option<i64>,
    /// Waiting on the customer since.
    pub waiting_since: Option<i64>,
    /// The SLA columns.
    pub sla: SlaColumns,
}

/// Which escalations and warnings the scanner has recorded for a complaint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EscalationFlags {
    /// First reply escalated.
    pub escalated_reply: bool,
    /// Resolution escalated.
    pub escalated_resolve: bool,
    /// Near breach of the first reply announced.
    pub reply_near: bool,
    /// Near breach of the resolution announced.
    pub resolve_near: bool,
}

/// A stored complaint read for writing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredComplaint {
    /// Id.
    pub id: String,
    /// The document.
    pub doc: String,
    /// The version column.
    pub version: i64,
    /// The scanner's flags.
    pub flags: EscalationFlags,
}

/// A history entry to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    /// Row id (ignored when appending).
    pub id: i64,
    /// The complaint.
    pub complaint_id: String,
    /// When, Unix ms.
    pub at: i64,
    /// Who.
    pub actor_id: String,
    /// In which role (or `system`).
    pub actor_role: String,
    /// What.
    pub kind: String,
    /// State before.
    pub from_state: Option<String>,
    /// State after.
    pub to_state: Option<String>,
    /// Details, JSON.
    pub detail: String,
}

/// A revisit task row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevisitRow {
    /// Row id.
    pub id: i64,
    /// The complaint.
    pub complaint_id: String,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Due, Unix ms.
    pub due_at: i64,
    /// Role that does it.
    pub assigned_role: String,
    /// Done, Unix ms.
    pub done_at: Option<i64>,
    /// By whom.
    pub done_by: Option<String>,
    /// Notes.
    pub outcome: Option<String>,
    /// Outcome name.
    pub outcome_kind: Option<String>,
}

/// A new revisit task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRevisit {
    /// The complaint.
    pub complaint_id: String,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Due, Unix ms.
    pub due_at: i64,
    /// Role that does it.
    pub assigned_role: &'static str,
    /// The survey's result score that asked for it.
    pub result_score: i64,
    /// The survey's attitude score.
    pub attitude_score: i64,
}

/// An escalation row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationRow {
    /// Row id.
    pub id: i64,
    /// The complaint.
    pub complaint_id: String,
    /// Kind name.
    pub kind: String,
    /// The clock's deadline, Unix ms.
    pub due_at: Option<i64>,
    /// Created, Unix ms.
    pub created_at: i64,
    /// The scanning node.
    pub node_id: String,
    /// Who is told.
    pub notified_to: String,
}

/// Complaints in an SLA condition, judged at a given instant from the
/// stored SLA columns.
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

/// Which complaints a list holds (every field narrows it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComplaintQuery {
    /// Only those assigned to this agent.
    pub agent: Option<String>,
    /// Only open ones that are unassigned or assigned to one of these
    /// groups (what an agent may claim).
    pub claimable_in: Option<Vec<String>>,
    /// Only this assignee: (`agent`|`group`, id).
    pub assignee: Option<(&'static str, String)>,
    /// Only unassigned ones.
    pub unassigned: bool,
    /// Only these states (empty: any).
    pub states: Vec<&'static str>,
    /// Opened at or after, Unix ms.
    pub opened_from: Option<i64>,
    /// Opened before.
    pub opened_to: Option<i64>,
    /// Only special (true) or ordinary (false) ones.
    pub special: Option<bool>,
    /// Only this priority.
    pub priority: Option<&'static str>,
    /// Only those in this SLA condition at the instant given (Unix ms).
    pub sla: Option<(SlaFilter, i64)>,
}

/// How many matching complaints a list counts at most
/// ([`Store::complaint_page`]); beyond it the total is marked estimated.
pub const COUNT_CAP: i64 = 1000;

/// A position in the newest-first complaint order (`opened_at DESC, id
/// DESC`): the last complaint of a page; the next page starts after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplaintKey {
    /// When it was opened, Unix ms.
    pub opened_at: i64,
    /// Its id.
    pub id: String,
}

/// One page of complaints ([`Store::complaint_page`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplaintPage {
    /// `(id, doc)`, newest first.
    pub rows: Vec<(String, String)>,
    /// How many match: exact when `total_estimated` is false, otherwise a
    /// lower bound ([`COUNT_CAP`]).
    pub total: i64,
    /// The count stopped at [`COUNT_CAP`].
    pub total_estimated: bool,
    /// Where the next page starts, if there is one.
    pub next: Option<ComplaintKey>,
}

/// Open complaints, and those near or past an SLA deadline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenComplaintCounts {
    /// Not closed.
    pub open: i64,
    /// Near breach and not breached.
    pub near_breach: i64,
    /// Breached.
    pub breached: i64,
}

/// A complaint of a period as KPIs count it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplaintTally {
    /// The agent it is assigned to (`None`: unassigned or a group).
    pub agent: Option<String>,
    /// State of the first-reply clock at the last write.
    pub reply_sla: String,
    /// State of the resolution clock.
    pub resolve_sla: String,
    /// The document (for the survey).
    pub doc: String,
}

/// The complaint columns, in bind order (`id` first).
const COLUMNS: &[&str] = &[
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

const FLAG_COLUMNS: &str =
    "escalated_reply_at, escalated_resolve_at, reply_near_notified_at, resolve_near_notified_at";
const HISTORY_COLUMNS: &str =
    "id, complaint_id, at, actor_id, actor_role, kind, from_state, to_state, detail";
const REVISIT_COLUMNS: &str = "r.id, r.complaint_id, r.created_at, r.due_at, r.assigned_role, \
     r.done_at, r.done_by, r.outcome, r.outcome_kind";
const ESCALATION_COLUMNS: &str = "id, complaint_id, kind, due_at, created_at, node_id, notified_to";

/// Binds a history entry's columns (`complaint_id, at, actor_id, actor_role,
/// kind, from_state, to_state, detail`).
fn bind_history<'q>(q: AnyQuery<'q>, e: &'q HistoryRow) -> AnyQuery<'q> {
    q.bind(e.complaint_id.as_str())
        .bind(e.at)
        .bind(e.actor_id.as_str())
        .bind(e.actor_role.as_str())
        .bind(e.kind.as_str())
        .bind(e.from_state.as_deref())
        .bind(e.to_state.as_deref())
        .bind(e.detail.as_str())
}

/// Binds the [`COLUMNS`] of `c`.
fn bind_row<'q>(q: AnyQuery<'q>, c: &ComplaintRow) -> AnyQuery<'q> {
    q.bind(c.id.clone())
        .bind(c.version)
        .bind(c.state)
        .bind(c.priority)
        .bind(i64::from(c.special))
        .bind(c.assignee_kind)
        .bind(c.assignee_id.clone())
        .bind(c.customer_id.clone())
        .bind(c.customer_name.clone())
        .bind(c.channel.clone())
        .bind(c.category.clone())
        .bind(c.description.clone())
        .bind(c.conversation_id.clone())
        .bind(c.created_by.clone())
        .bind(c.reopen_count)
        .bind(c.doc.clone())
        .bind(c.opened_at)
        .bind(c.updated_at)
        .bind(c.first_reply_at)
        .bind(c.resolved_at)
        .bind(c.closed_at)
        .bind(c.waiting_since)
        .bind(c.sla.reply_due_at)
        .bind(c.sla.reply_near_at)
        .bind(c.sla.resolve_due_at)
        .bind(c.sla.resolve_near_at)
        .bind(c.sla.reply_sla)
        .bind(c.sla.resolve_sla)
        .bind(c.sla.sla_state)
        .bind(c.sla.sla_next_at)
}

fn stored_of(row: &AnyRow) -> Result<StoredComplaint, sqlx::Error> {
    let set = |col: &str| -> Result<bool, sqlx::Error> {
        Ok(row.try_get::<Option<i64>, _>(col)?.is_some())
    };
    Ok(StoredComplaint {
        id: row.try_get("id")?,
        doc: row.try_get("doc")?,
        version: row.try_get("version")?,
        flags: EscalationFlags {
            escalated_reply: set("escalated_reply_at")?,
            escalated_resolve: set("escalated_resolve_at")?,
            reply_near: set("reply_near_notified_at")?,
            resolve_near: set("resolve_near_notified_at")?,
        },
    })
}

fn history_of(row: &AnyRow) -> Result<HistoryRow, sqlx::Error> {
    Ok(HistoryRow {
        id: row.try_get("id")?,
        complaint_id: row.try_get("complaint_id")?,
        at: row.try_get("at")?,
        actor_id: row.try_get("actor_id")?,
        actor_role: row.try_get("actor_role")?,
        kind: row.try_get("kind")?,
        from_state: row.try_get("from_state")?,
        to_state: row.try_get("to_state")?,
        detail: row.try_get("detail")?,
    })
}

fn revisit_of(row: &AnyRow) -> Result<RevisitRow, sqlx::Error> {
    Ok(RevisitRow {
        id: row.try_get("id")?,
        complaint_id: row.try_get("complaint_id")?,
        created_at: row.try_get("created_at")?,
        due_at: row.try_get("due_at")?,
        assigned_role: row.try_get("assigned_role")?,
        done_at: row.try_get("done_at")?,
        done_by: row.try_get("done_by")?,
        outcome: row.try_get("outcome")?,
        outcome_kind: row.try_get("outcome_kind")?,
    })
}

fn escalation_of(row: &AnyRow) -> Result<EscalationRow, sqlx::Error> {
    Ok(EscalationRow {
        id: row.try_get("id")?,
        complaint_id: row.try_get("complaint_id")?,
        kind: row.try_get("kind")?,
        due_at: row.try_get("due_at")?,
        created_at: row.try_get("created_at")?,
        node_id: row.try_get("node_id")?,
        notified_to: row.try_get("notified_to")?,
    })
}

/// `(id, doc)` of each row.
fn docs_of(rows: &[AnyRow]) -> Result<Vec<(String, String)>, StoreError> {
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("doc")?)))
        .collect::<Result<_, sqlx::Error>>()
        .context("complaints")
}

/// The conditions of "breached" and "near breach" at the instant bound to
/// placeholder `now` (column names prefixed with `c.`): a clock is breached
/// when its state says so or its due time has passed; near breach when a
/// near-breach time has passed.
fn sla_conditions(now: &str) -> (String, String) {
    let breached = format!(
        "(c.sla_state = 'breached' \
         OR (c.reply_due_at IS NOT NULL AND c.reply_due_at <= {now}) \
         OR (c.resolve_due_at IS NOT NULL AND c.resolve_due_at <= {now}))"
    );
    let near = format!(
        "((c.reply_near_at IS NOT NULL AND c.reply_near_at <= {now}) \
         OR (c.resolve_near_at IS NOT NULL AND c.resolve_near_at <= {now}))"
    );
    (breached, near)
}

/// `c.assignee_kind = 'agent' AND c.assignee_id = $n`.
fn agent_condition(w: &mut Where, agent: &str) {
    let me = w.arg(Arg::Text(agent.to_string()));
    w.push(format!(
        "c.assignee_kind = 'agent' AND c.assignee_id = {me}"
    ));
}

impl ComplaintQuery {
    fn conditions(&self) -> Where {
        let mut w = Where::default();
        if let Some(groups) = &self.claimable_in {
            let mut alts = vec!["c.assignee_kind IS NULL".to_string()];
            if !groups.is_empty() {
                let ids: Vec<String> = groups.iter().map(|g| w.arg(Arg::Text(g.clone()))).collect();
                alts.push(format!(
                    "(c.assignee_kind = 'group' AND c.assignee_id IN ({}))",
                    ids.join(", ")
                ));
            }
            w.push(format!("({})", alts.join(" OR ")));
            w.push("c.state <> 'closed'");
        }
        if let Some(agent) = &self.agent {
            agent_condition(&mut w, agent);
        }
        if let Some((kind, id)) = &self.assignee {
            let kind = w.arg(Arg::Text((*kind).to_string()));
            let id = w.arg(Arg::Text(id.clone()));
            w.push(format!("c.assignee_kind = {kind} AND c.assignee_id = {id}"));
        }
        if self.unassigned {
            w.push("c.assignee_kind IS NULL");
        }
        if !self.states.is_empty() {
            let states: Vec<String> = self
                .states
                .iter()
                .map(|s| w.arg(Arg::Text((*s).to_string())))
                .collect();
            // One state: its index gives the rows in list order. Several:
            // their index would give each state's rows apart and need a sort
            // of all the matches, so walk the list order and check instead
            // (`|| ''` keeps the planner off the state index).
            if states.len() == 1 {
                w.push(format!("c.state IN ({})", states.join(", ")));
            } else {
                w.push(format!("c.state || '' IN ({})", states.join(", ")));
            }
        }
        if let Some(t) = self.opened_from {
            let p = w.arg(Arg::Int(t));
            w.push(format!("c.opened_at >= {p}"));
        }
        if let Some(t) = self.opened_to {
            let p = w.arg(Arg::Int(t));
            w.push(format!("c.opened_at < {p}"));
        }
        if let Some(s) = self.special {
            let p = w.arg(Arg::Int(i64::from(s)));
            w.push(format!("c.special = {p}"));
        }
        if let Some(p) = self.priority {
            let p = w.arg(Arg::Text(p.to_string()));
            w.push(format!("c.priority = {p}"));
        }
        if let Some((sla, now)) = self.sla {
            let now = w.arg(Arg::Int(now));
            let (breached, near) = sla_conditions(&now);
            w.push(match sla {
                SlaFilter::Breached => breached,
                SlaFilter::NearBreach => format!("NOT {breached} AND {near}"),
                SlaFilter::AtRisk => format!("({breached} OR {near})"),
                SlaFilter::Paused => "c.waiting_since IS NOT NULL AND c.state <> 'closed'".into(),
            });
        }
        w
    }
}

/// Rows of `SELECT {REVISIT_COLUMNS} FROM revisit_tasks r …`.
async fn revisits(
    conn: &mut AnyConnection,
    sql: String,
    w: &Where,
    context: &'static str,
) -> Result<Vec<RevisitRow>, StoreError> {
    w.bind(sqlx::query(AssertSqlSafe(sql)))
        .fetch_all(conn)
        .await
        .context(context)?
        .iter()
        .map(revisit_of)
        .collect::<Result<_, _>>()
        .context("revisit_tasks")
}

impl Tx {
    /// The next number of counter `name` (1 first), counted in the
    /// transaction: gap-free and unique across nodes.
    pub async fn next_sequence(&mut self, name: &str) -> Result<i64, StoreError> {
        sqlx::query(
            "INSERT INTO id_sequences (name, value) VALUES ($1, 1) \
             ON CONFLICT (name) DO UPDATE SET value = id_sequences.value + 1 RETURNING value",
        )
        .bind(name)
        .fetch_one(self.conn())
        .await
        .context("allocating an id")?
        .try_get("value")
        .context("id_sequences.value")
    }

    /// Stores a new complaint; `false` when the id is taken.
    pub async fn insert_complaint(&mut self, c: &ComplaintRow) -> Result<bool, StoreError> {
        let values: Vec<String> = (1..=COLUMNS.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "INSERT INTO complaints ({}) VALUES ({}) ON CONFLICT (id) DO NOTHING RETURNING id",
            COLUMNS.join(", "),
            values.join(", ")
        );
        let inserted = bind_row(sqlx::query(AssertSqlSafe(sql)), c)
            .fetch_optional(self.conn())
            .await
            .context("storing a complaint")?;
        Ok(inserted.is_some())
    }

    /// Stores a new complaint and, only if it was stored, its first
    /// `history` entries (in order); `false` when the id is taken and
    /// nothing was written. On PostgreSQL it is one statement (one round
    /// trip, which is what a burst of creates waits on).
    pub async fn insert_complaint_with_history(
        &mut self,
        c: &ComplaintRow,
        history: &[HistoryRow],
    ) -> Result<bool, StoreError> {
        if self.backend() == crate::Backend::Sqlite || history.is_empty() {
            if !self.insert_complaint(c).await? {
                return Ok(false);
            }
            for e in history {
                self.append_complaint_history(e).await?;
            }
            return Ok(true);
        }
        let values: Vec<String> = (1..=COLUMNS.len()).map(|i| format!("${i}")).collect();
        // Typed, as a VALUES list gives its columns no type of their own.
        const TYPES: [&str; 8] = [
            "TEXT", "BIGINT", "TEXT", "TEXT", "TEXT", "TEXT", "TEXT", "TEXT",
        ];
        let entries: Vec<String> = (0..history.len())
            .map(|k| {
                let first = COLUMNS.len() + k * TYPES.len();
                let cells: Vec<String> = TYPES
                    .iter()
                    .enumerate()
                    .map(|(j, t)| format!("${}::{t}", first + j + 1))
                    .collect();
                format!("({})", cells.join(", "))
            })
            .collect();
        let sql = format!(
            "WITH inserted AS (INSERT INTO complaints ({}) VALUES ({}) \
             ON CONFLICT (id) DO NOTHING RETURNING id), \
             logged AS (INSERT INTO complaint_history (complaint_id, at, actor_id, actor_role, \
             kind, from_state, to_state, detail) \
             SELECT v.* FROM (VALUES {}) AS v (complaint_id, at, actor_id, actor_role, kind, \
             from_state, to_state, detail) WHERE EXISTS (SELECT 1 FROM inserted)) \
             SELECT id FROM inserted",
            COLUMNS.join(", "),
            values.join(", "),
            entries.join(", ")
        );
        let mut q = bind_row(sqlx::query(AssertSqlSafe(sql)), c);
        for e in history {
            q = bind_history(q, e);
        }
        let inserted = q
            .fetch_optional(self.conn())
            .await
            .context("storing a complaint")?;
        Ok(inserted.is_some())
    }

    /// Rewrites a complaint that is still at `expected_version`; `false`
    /// when it is not (it moved on meanwhile).
    pub async fn update_complaint(
        &mut self,
        c: &ComplaintRow,
        expected_version: i64,
    ) -> Result<bool, StoreError> {
        let sql = crate::dialect::update_by_version("complaints", COLUMNS);
        let n = bind_row(sqlx::query(AssertSqlSafe(sql)), c)
            .bind(expected_version)
            .execute(self.conn())
            .await
            .context("updating a complaint")?
            .rows_affected();
        Ok(n > 0)
    }

    /// A complaint read for writing: locked until the transaction ends on
    /// PostgreSQL (SQLite's write transaction excludes other writers).
    pub async fn lock_complaint(
        &mut self,
        id: &str,
    ) -> Result<Option<StoredComplaint>, StoreError> {
        let sql = format!(
            "SELECT id, doc, version, {FLAG_COLUMNS} FROM complaints WHERE id = $1{}",
            for_update(self.backend())
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.conn())
            .await
            .context("reading a complaint")?
            .as_ref()
            .map(stored_of)
            .transpose()
            .context("complaints")
    }

    /// The version column of a complaint.
    pub async fn complaint_version(&mut self, id: &str) -> Result<Option<i64>, StoreError> {
        sqlx::query("SELECT version FROM complaints WHERE id = $1")
            .bind(id)
            .fetch_optional(self.conn())
            .await
            .context("reading a complaint version")?
            .map(|r| r.try_get("version"))
            .transpose()
            .context("complaints.version")
    }

    /// The document of a complaint.
    pub async fn complaint_doc(&mut self, id: &str) -> Result<Option<String>, StoreError> {
        sqlx::query("SELECT doc FROM complaints WHERE id = $1")
            .bind(id)
            .fetch_optional(self.conn())
            .await
            .context("reading a complaint")?
            .map(|r| r.try_get("doc"))
            .transpose()
            .context("complaints.doc")
    }

    /// Rewrites the SLA columns of a complaint (not its document or
    /// version), setting each escalation flag given as `Some(now)` if it is
    /// still unset (in [`EscalationFlags`] order).
    pub async fn update_sla_columns(
        &mut self,
        id: &str,
        sla: &SlaColumns,
        new_flags: [Option<i64>; 4],
    ) -> Result<(), StoreError> {
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
        .bind(sla.reply_due_at)
        .bind(sla.reply_near_at)
        .bind(sla.resolve_due_at)
        .bind(sla.resolve_near_at)
        .bind(sla.reply_sla)
        .bind(sla.resolve_sla)
        .bind(sla.sla_state)
        .bind(sla.sla_next_at)
        .bind(er)
        .bind(es)
        .bind(rn)
        .bind(sn)
        .execute(self.conn())
        .await
        .context("updating SLA columns")?;
        Ok(())
    }

    /// Appends a history entry.
    pub async fn append_complaint_history(&mut self, e: &HistoryRow) -> Result<(), StoreError> {
        bind_history(
            sqlx::query(
                "INSERT INTO complaint_history (complaint_id, at, actor_id, actor_role, kind, \
                 from_state, to_state, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            ),
            e,
        )
        .execute(self.conn())
        .await
        .context("appending complaint history")?;
        Ok(())
    }

    /// A complaint's history, oldest first.
    pub async fn complaint_history(&mut self, id: &str) -> Result<Vec<HistoryRow>, StoreError> {
        let sql = format!(
            "SELECT {HISTORY_COLUMNS} FROM complaint_history WHERE complaint_id = $1 ORDER BY id"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_all(self.conn())
            .await
            .context("reading complaint history")?
            .iter()
            .map(history_of)
            .collect::<Result<_, _>>()
            .context("complaint_history")
    }

    /// Creates a revisit task.
    pub async fn insert_revisit(&mut self, r: &NewRevisit) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO revisit_tasks (complaint_id, created_at, due_at, assigned_role, \
             result_score, attitude_score) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(r.complaint_id.as_str())
        .bind(r.created_at)
        .bind(r.due_at)
        .bind(r.assigned_role)
        .bind(r.result_score)
        .bind(r.attitude_score)
        .execute(self.conn())
        .await
        .context("creating a revisit task")?;
        Ok(())
    }

    /// A complaint's revisit tasks, oldest first.
    pub async fn revisits_of(&mut self, id: &str) -> Result<Vec<RevisitRow>, StoreError> {
        let mut w = Where::default();
        let p = w.arg(Arg::Text(id.to_string()));
        w.push(format!("r.complaint_id = {p}"));
        let sql = format!(
            "SELECT {REVISIT_COLUMNS} FROM revisit_tasks r WHERE {} ORDER BY r.id",
            w.sql()
        );
        revisits(self.conn(), sql, &w, "reading revisit tasks").await
    }

    /// A revisit task read for writing (locked on PostgreSQL).
    pub async fn lock_revisit(&mut self, id: i64) -> Result<Option<RevisitRow>, StoreError> {
        let sql = format!(
            "SELECT {REVISIT_COLUMNS} FROM revisit_tasks r WHERE r.id = $1{}",
            for_update(self.backend())
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.conn())
            .await
            .context("reading a revisit task")?
            .as_ref()
            .map(revisit_of)
            .transpose()
            .context("revisit_tasks")
    }

    /// Records a revisit's outcome; `false` when it was already done.
    pub async fn complete_revisit(&mut self, done: &RevisitRow) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE revisit_tasks SET done_at = $2, done_by = $3, outcome = $4, outcome_kind = $5 \
             WHERE id = $1 AND done_at IS NULL",
        )
        .bind(done.id)
        .bind(done.done_at)
        .bind(done.done_by.as_deref())
        .bind(done.outcome.as_deref())
        .bind(done.outcome_kind.as_deref())
        .execute(self.conn())
        .await
        .context("completing a revisit task")?
        .rows_affected();
        Ok(n > 0)
    }

    /// A complaint's escalations and warnings, oldest first.
    pub async fn escalations_of(&mut self, id: &str) -> Result<Vec<EscalationRow>, StoreError> {
        let sql = format!(
            "SELECT {ESCALATION_COLUMNS} FROM escalations WHERE complaint_id = $1 ORDER BY id"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_all(self.conn())
            .await
            .context("reading escalations")?
            .iter()
            .map(escalation_of)
            .collect::<Result<_, _>>()
            .context("escalations")
    }

    /// Records an escalation unless the complaint already has one of its
    /// kind; returns it when this call created it.
    pub async fn insert_escalation(
        &mut self,
        e: &EscalationRow,
    ) -> Result<Option<EscalationRow>, StoreError> {
        let sql = format!(
            "INSERT INTO escalations (complaint_id, kind, due_at, created_at, node_id, notified_to) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (complaint_id, kind) DO NOTHING \
             RETURNING {ESCALATION_COLUMNS}"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(e.complaint_id.as_str())
            .bind(e.kind.as_str())
            .bind(e.due_at)
            .bind(e.created_at)
            .bind(e.node_id.as_str())
            .bind(e.notified_to.as_str())
            .fetch_optional(self.conn())
            .await
            .context("recording an escalation")?
            .as_ref()
            .map(escalation_of)
            .transpose()
            .context("escalations")
    }

    /// A page of the open complaints with ids after `after`, in id order,
    /// locked on PostgreSQL (to recompute their SLA columns).
    pub async fn lock_open_complaints(
        &mut self,
        after: &str,
        limit: i64,
    ) -> Result<Vec<StoredComplaint>, StoreError> {
        let sql = format!(
            "SELECT id, doc, version, {FLAG_COLUMNS} FROM complaints WHERE state <> 'closed' AND id > $1 \
             ORDER BY id LIMIT $2{}",
            for_update(self.backend())
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(after)
            .bind(limit)
            .fetch_all(self.conn())
            .await
            .context("reading open complaints")?
            .iter()
            .map(stored_of)
            .collect::<Result<_, _>>()
            .context("complaints")
    }

    /// Claims up to `limit` open complaints whose scanner work is due at
    /// `now_ms`, soonest first. On PostgreSQL rows another node holds are
    /// skipped, so nodes scanning at once share the work.
    pub async fn claim_due_complaints(
        &mut self,
        now_ms: i64,
        limit: i64,
    ) -> Result<Vec<StoredComplaint>, StoreError> {
        let sql = format!(
            "SELECT id, doc, version, {FLAG_COLUMNS} FROM complaints \
             WHERE sla_next_at IS NOT NULL AND sla_next_at <= $1 AND state <> 'closed' \
             ORDER BY sla_next_at, id LIMIT $2{}",
            skip_locked(self.backend())
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(now_ms)
            .bind(limit)
            .fetch_all(self.conn())
            .await
            .context("finding complaints at SLA risk")?
            .iter()
            .map(stored_of)
            .collect::<Result<_, _>>()
            .context("complaints")
    }

    /// `(id, doc)` of the complaints opened in `[from_ms, to_ms)` (of one
    /// agent, or all), in the order they were opened.
    pub async fn complaints_opened(
        &mut self,
        from_ms: i64,
        to_ms: i64,
        agent: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let query = ComplaintQuery {
            agent: agent.map(str::to_string),
            opened_from: Some(from_ms),
            opened_to: Some(to_ms),
            ..ComplaintQuery::default()
        };
        let w = query.conditions();
        let sql = format!(
            "SELECT c.id, c.doc FROM complaints c WHERE {} ORDER BY c.opened_at, c.id",
            w.sql()
        );
        let rows = w
            .bind(sqlx::query(AssertSqlSafe(sql)))
            .fetch_all(self.conn())
            .await
            .context("reading complaints of a period")?;
        docs_of(&rows)
    }
}

impl Store {
    /// One page of the complaints matching `query`, newest first
    /// (`opened_at DESC, id DESC`): `limit` rows after `after` (keyset: the
    /// last row of the previous page, found by index whatever the depth) or,
    /// without it, after skipping `offset` rows (the old page numbers; cost
    /// grows with the offset). The total is counted only up to
    /// [`COUNT_CAP`] matching rows, so a page never counts the whole table;
    /// past that, [`ComplaintPage::total_estimated`] is set and the total is
    /// a lower bound. Page and count are one statement (one snapshot).
    pub async fn complaint_page(
        &self,
        query: &ComplaintQuery,
        limit: i64,
        offset: i64,
        after: Option<&ComplaintKey>,
    ) -> Result<ComplaintPage, StoreError> {
        let w = query.conditions();
        let where_sql = w.sql();
        let mut page_w = w.clone();
        if let Some(key) = after {
            let at = page_w.arg(Arg::Int(key.opened_at));
            let id = page_w.arg(Arg::Text(key.id.clone()));
            page_w.push(format!(
                "c.opened_at <= {at} AND (c.opened_at < {at} OR c.id < {id})"
            ));
        }
        // The capped count rides along as an uncorrelated subquery (computed
        // once, from the same snapshot as the page): one statement a page. Its
        // placeholders are the page's first ones, bound to the same values.
        let count_sql = |cap: String| {
            format!("SELECT COUNT(*) AS n FROM (SELECT 1 FROM complaints c WHERE {where_sql} LIMIT {cap}) t")
        };
        let list_sql = format!(
            "SELECT c.id, c.doc, c.opened_at, ({}) AS total FROM complaints c WHERE {} \
             ORDER BY c.opened_at DESC, c.id DESC LIMIT {} OFFSET {}",
            count_sql(page_w.next_placeholder(1)),
            page_w.sql(),
            page_w.next_placeholder(2),
            page_w.next_placeholder(3)
        );
        // One row more than asked says whether there is a next page.
        let rows = page_w
            .bind(sqlx::query(AssertSqlSafe(list_sql)))
            .bind(COUNT_CAP)
            .bind(limit.saturating_add(1))
            .bind(if after.is_some() { 0 } else { offset })
            .fetch_all(self.pool())
            .await
            .context("listing complaints")?;
        let counted: i64 = match rows.first() {
            Some(r) => r.try_get("total").context("complaints")?,
            // Nothing on a first page: nothing matches.
            None if after.is_none() && offset == 0 => 0,
            // Past the end by cursor or offset: count on its own.
            None => w
                .bind(sqlx::query(AssertSqlSafe(count_sql(w.next_placeholder(1)))))
                .bind(COUNT_CAP)
                .fetch_one(self.pool())
                .await
                .context("counting complaints")?
                .try_get("n")
                .context("count")?,
        };
        let mut out = Vec::with_capacity(rows.len());
        let mut last_at = 0;
        for r in rows.iter().take(usize::try_from(limit).unwrap_or(0)) {
            let id: String = r.try_get("id").context("complaints")?;
            let doc: String = r.try_get("doc").context("complaints")?;
            last_at = r.try_get("opened_at").context("complaints")?;
            out.push((id, doc));
        }
        let next = match out.last() {
            Some((id, _)) if i64::try_from(rows.len()).unwrap_or(i64::MAX) > limit => {
                Some(ComplaintKey {
                    opened_at: last_at,
                    id: id.clone(),
                })
            }
            _ => None,
        };
        Ok(ComplaintPage {
            rows: out,
            total: counted,
            total_estimated: counted >= COUNT_CAP,
            next,
        })
    }

    /// Open revisit tasks due before `now_ms` (of one agent's complaints, or
    /// all), most overdue first.
    pub async fn revisits_overdue(
        &self,
        agent: Option<&str>,
        now_ms: i64,
    ) -> Result<Vec<RevisitRow>, StoreError> {
        let mut w = Where::default();
        w.push("r.done_at IS NULL");
        let p = w.arg(Arg::Int(now_ms));
        w.push(format!("r.due_at < {p}"));
        if let Some(agent) = agent {
            agent_condition(&mut w, agent);
        }
        let sql = format!(
            "SELECT {REVISIT_COLUMNS} FROM revisit_tasks r JOIN complaints c ON c.id = r.complaint_id \
             WHERE {} ORDER BY r.due_at, r.id",
            w.sql()
        );
        revisits(
            &mut *self.conn().await?,
            sql,
            &w,
            "listing overdue revisits",
        )
        .await
    }

    /// Open complaints (of one agent, or all) and how many are near or past
    /// an SLA deadline at `now_ms` — the conditions of [`SlaFilter`].
    pub async fn open_complaint_counts(
        &self,
        agent: Option<&str>,
        now_ms: i64,
    ) -> Result<OpenComplaintCounts, StoreError> {
        let (breached, near) = sla_conditions("$1");
        let sql = format!(
            "SELECT CAST(COUNT(*) AS BIGINT) AS open, \
             CAST(COALESCE(SUM(CASE WHEN {breached} THEN 1 ELSE 0 END), 0) AS BIGINT) AS breached, \
             CAST(COALESCE(SUM(CASE WHEN NOT {breached} AND {near} THEN 1 ELSE 0 END), 0) AS BIGINT) AS near \
             FROM complaints c WHERE c.state <> 'closed' \
             AND ($2 IS NULL OR (c.assignee_kind = 'agent' AND c.assignee_id = $2))"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(now_ms)
            .bind(agent)
            .fetch_one(&self.pool)
            .await
            .context("counting open complaints")?;
        let get = |name: &str| row.try_get::<i64, _>(name);
        Ok(OpenComplaintCounts {
            open: get("open").context("open")?,
            near_breach: get("near").context("near")?,
            breached: get("breached").context("breached")?,
        })
    }

    /// The complaints opened in `[from_ms, to_ms)` as KPIs count them.
    pub async fn complaint_tallies(
        &self,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<ComplaintTally>, StoreError> {
        let rows = sqlx::query(
            "SELECT assignee_kind, assignee_id, reply_sla, resolve_sla, doc FROM complaints \
             WHERE opened_at >= $1 AND opened_at < $2",
        )
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await
        .context("reading complaints of the period")?;
        rows.iter()
            .map(|r| {
                Ok(ComplaintTally {
                    agent: agent_of(r)?,
                    reply_sla: r.try_get("reply_sla")?,
                    resolve_sla: r.try_get("resolve_sla")?,
                    doc: r.try_get("doc")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .context("complaints")
    }

    /// The revisit tasks due in `[from_ms, to_ms)` as KPIs count them:
    /// `(agent of the complaint, due, done)`.
    pub async fn revisit_tallies(
        &self,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(Option<String>, i64, Option<i64>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.assignee_kind, c.assignee_id, r.due_at, r.done_at FROM revisit_tasks r \
             JOIN complaints c ON c.id = r.complaint_id WHERE r.due_at >= $1 AND r.due_at < $2",
        )
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await
        .context("reading revisits of the period")?;
        rows.iter()
            .map(|r| Ok((agent_of(r)?, r.try_get("due_at")?, r.try_get("done_at")?)))
            .collect::<Result<_, sqlx::Error>>()
            .context("revisit_tasks")
    }
}

/// The agent a complaint row is assigned to, if an agent.
fn agent_of(row: &AnyRow) -> Result<Option<String>, sqlx::Error> {
    let kind: Option<String> = row.try_get("assignee_kind")?;
    let id: Option<String> = row.try_get("assignee_id")?;
    Ok(id.filter(|_| kind.as_deref() == Some("agent")))
}
