//! The complaint record and its parts: states, priorities, roles, actors,
//! customers, key facts, the history and side effects, and the errors of
//! the lifecycle.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{id_text, mask_id_number, mask_name, mask_phone, Survey};

/// The highest satisfaction score; scores run from 0 to this.
pub const SCORE_MAX: u8 = 10;
/// Days from an unsatisfied survey to the due date of its revisit.
pub const DEFAULT_REVISIT_DAYS: u32 = 7;
/// Longest accepted identifier (complaint, conversation, customer, actor, group ids), in characters.
/// The same limit as conversation imports (`kefu_engine::model::MAX_ID_CHARS`).
pub const MAX_ID_CHARS: usize = kefu_engine::model::MAX_ID_CHARS;
/// Longest accepted short text (names, channel, category, phone, ID number), in characters.
pub const MAX_SHORT_TEXT_CHARS: usize = 200;
/// Longest accepted long text (description, notes, replies, summaries, reasons), in characters.
pub const MAX_TEXT_CHARS: usize = 20_000;

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Why a complaint operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComplaintError {
    /// A field of the input is missing, empty, too long or malformed.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The command is not allowed in the complaint's current state.
    #[error("cannot {action} a complaint in state {}", state.label_zh())]
    InvalidTransition {
        /// The command, as a verb ("resolve", "reply to", …).
        action: &'static str,
        /// The state the complaint is in.
        state: ComplaintState,
    },
    /// The state allows the command but the complaint does not meet a
    /// further condition (already resolved, not waiting on the customer…).
    #[error("cannot {action} this complaint: {reason}")]
    Precondition {
        /// The command, as a verb.
        action: &'static str,
        /// The unmet condition.
        reason: String,
    },
    /// The actor's role or assignment does not allow the command.
    #[error("{} {actor_id} may not {action} this complaint: {reason}", role.label_zh())]
    Forbidden {
        /// Who tried.
        actor_id: String,
        /// Their role.
        role: ActorRole,
        /// The command, as a verb.
        action: &'static str,
        /// Which rule refused it.
        reason: String,
    },
    /// The command would not change anything.
    #[error("nothing to change: {0}")]
    Unchanged(String),
    /// A satisfaction score above [`SCORE_MAX`].
    #[error("{field} {score} is out of range 0–10")]
    ScoreOutOfRange {
        /// Which score ("result_score", "attitude_score", "score").
        field: &'static str,
        /// The value given.
        score: u8,
    },
    /// The complaint changed since the client read it.
    #[error("version conflict: expected version {expected}, the complaint is at version {actual}")]
    VersionConflict {
        /// The version the client based its change on.
        expected: u64,
        /// The version in the store.
        actual: u64,
    },
    /// A string that names no known state, priority, role, …
    #[error("unknown {what} {value:?}")]
    UnknownValue {
        /// What was being parsed ("state", "priority", …).
        what: &'static str,
        /// The text given.
        value: String,
    },
    /// The survey bands or the revisit delay are not usable.
    #[error("invalid complaint policy: {0}")]
    Policy(String),
}

/// A coarse classification of [`ComplaintError`]s, for mapping to HTTP
/// statuses (400/422, 403, 409).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Bad input: fix the request.
    Invalid,
    /// The actor may not do this.
    Forbidden,
    /// The complaint's state or version does not allow it now.
    Conflict,
}

impl ComplaintError {
    /// The class of this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            ComplaintError::Invalid { .. }
            | ComplaintError::ScoreOutOfRange { .. }
            | ComplaintError::UnknownValue { .. }
            | ComplaintError::Policy(_) => ErrorClass::Invalid,
            ComplaintError::Forbidden { .. } => ErrorClass::Forbidden,
            ComplaintError::InvalidTransition { .. }
            | ComplaintError::Precondition { .. }
            | ComplaintError::Unchanged(_)
            | ComplaintError::VersionConflict { .. } => ErrorClass::Conflict,
        }
    }
}

string_enum! {
    /// Where a complaint stands.
    pub enum ComplaintState ("state") {
        /// 受理: registered, not yet worked on.
        Accepted => ("accepted", "受理"),
        /// 调查: facts are being established.
        Investigating => ("investigating", "调查"),
        /// 处理中: being handled; may carry a resolution already.
        Handling => ("handling", "处理中"),
        /// 待回访: resolved, waiting for the follow-up call.
        AwaitingFollowUp => ("awaiting_follow_up", "待回访"),
        /// 已关闭: closed.
        Closed => ("closed", "已关闭"),
    }
}

string_enum! {
    /// How urgent a complaint is. Ordered: `Low < Normal < High < Urgent`.
    #[derive(Default)]
    pub enum Priority ("priority") {
        /// 低.
        Low => ("low", "低"),
        /// 中 (the default).
        #[default]
        Normal => ("normal", "中"),
        /// 高.
        High => ("high", "高"),
        /// 紧急.
        Urgent => ("urgent", "紧急"),
    }
}

string_enum! {
    /// What an actor is allowed to do; see the module docs for the rules.
    pub enum ActorRole ("role") {
        /// 坐席: works the complaints assigned to them.
        Agent => ("agent", "坐席"),
        /// 质检员: adds notes, records revisit outcomes.
        Inspector => ("inspector", "质检员"),
        /// 主管: everything.
        Supervisor => ("supervisor", "主管"),
        /// 管理员: everything.
        Admin => ("admin", "管理员"),
    }
}

impl ActorRole {
    /// Supervisors and admins: the roles that may do everything.
    pub fn is_privileged(self) -> bool {
        matches!(self, ActorRole::Supervisor | ActorRole::Admin)
    }
}

string_enum! {
    /// What a key fact of a complaint records.
    pub enum KeyFactKind ("key fact kind") {
        /// 时间: when it happened (free text, e.g. "3月1日下午").
        Time => ("time", "时间"),
        /// 地点: where it happened.
        Place => ("place", "地点"),
        /// 证据: a reference to evidence (recording id, photo, order number).
        Evidence => ("evidence", "证据"),
        /// 其他: anything else worth keeping.
        Other => ("other", "其他"),
    }
}

string_enum! {
    /// What a history event records.
    pub enum HistoryKind ("history kind") {
        /// The complaint was opened.
        Created => ("created", "创建"),
        /// 受理 → 调查.
        InvestigationStarted => ("investigation_started", "开始调查"),
        /// → 处理中.
        HandlingStarted => ("handling_started", "开始处理"),
        /// A reply to the customer.
        Replied => ("replied", "回复客户"),
        /// The SLA clock paused, waiting on the customer.
        WaitingOnCustomer => ("waiting_on_customer", "等待客户"),
        /// The customer responded; the pause ended.
        CustomerResponded => ("customer_responded", "客户已回复"),
        /// The resolution was recorded.
        Resolved => ("resolved", "办结"),
        /// 处理中 → 待回访.
        FollowUpRequested => ("follow_up_requested", "转待回访"),
        /// → 已关闭.
        Closed => ("closed", "关闭"),
        /// 待回访/已关闭 → 处理中/调查.
        Reopened => ("reopened", "重开"),
        /// The assignee changed.
        Assigned => ("assigned", "分派"),
        /// The priority changed.
        PriorityChanged => ("priority_changed", "优先级变更"),
        /// The 特殊疑难 flag changed.
        SpecialChanged => ("special_changed", "特殊疑难标记变更"),
        /// The category changed.
        CategoryChanged => ("category_changed", "分类变更"),
        /// A key fact was added.
        KeyFactAdded => ("key_fact_added", "补充关键事实"),
        /// A note was added.
        NoteAdded => ("note_added", "备注"),
        /// The customer's satisfaction survey was recorded.
        SurveyRecorded => ("survey_recorded", "记录满意度"),
        /// A revisit task was completed.
        RevisitCompleted => ("revisit_completed", "回访完成"),
    }
}

// ---------------------------------------------------------------------------
// Plain data
// ---------------------------------------------------------------------------

/// Who a complaint is assigned to: one agent or a group (queue).
///
/// Serialised as `{"kind": "agent", "id": "a1"}` / `{"kind": "group", "id":
/// "desk"}`; in a table, store [`Assignee::kind_str`] and [`Assignee::id`]
/// in two nullable columns and rebuild with [`Assignee::from_parts`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Assignee {
    /// One agent, by id.
    Agent(String),
    /// A group of agents, by id.
    Group(String),
}

impl Assignee {
    /// `"agent"` or `"group"`.
    pub fn kind_str(&self) -> &'static str {
        match self {
            Assignee::Agent(_) => "agent",
            Assignee::Group(_) => "group",
        }
    }

    /// The agent's or the group's id.
    pub fn id(&self) -> &str {
        match self {
            Assignee::Agent(id) | Assignee::Group(id) => id,
        }
    }

    /// Rebuilds an assignee from [`Assignee::kind_str`] and [`Assignee::id`].
    pub fn from_parts(kind: &str, id: &str) -> Result<Assignee, ComplaintError> {
        let id = id_text("assignee id", id)?;
        match kind.trim() {
            "agent" => Ok(Assignee::Agent(id)),
            "group" => Ok(Assignee::Group(id)),
            other => Err(ComplaintError::UnknownValue {
                what: "assignee kind",
                value: other.to_string(),
            }),
        }
    }
}

impl fmt::Display for Assignee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind_str(), self.id())
    }
}

/// Who is acting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The user's id (agent id for agents).
    pub id: String,
    /// The user's role.
    pub role: ActorRole,
    /// The groups the user belongs to; lets an agent claim a complaint
    /// assigned to one of them. Empty by default.
    #[serde(default)]
    pub groups: Vec<String>,
}

impl Actor {
    /// An actor with no groups.
    pub fn new(id: impl Into<String>, role: ActorRole) -> Actor {
        Actor {
            id: id.into(),
            role,
            groups: Vec::new(),
        }
    }

    /// The same actor, member of `groups`.
    pub fn with_groups<I, S>(mut self, groups: I) -> Actor
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.groups = groups.into_iter().map(Into::into).collect();
        self
    }

    /// The complaint workflow's view of a signed-in user: same id and
    /// role, their team as the groups they may claim for.
    pub fn from_principal(p: &crate::auth::Principal) -> Actor {
        use crate::auth::Role;
        Actor {
            id: p.user_id.clone(),
            role: match p.role {
                Role::Agent => ActorRole::Agent,
                Role::Inspector => ActorRole::Inspector,
                Role::Supervisor => ActorRole::Supervisor,
                Role::Admin => ActorRole::Admin,
            },
            groups: p.team.iter().cloned().collect(),
        }
    }
}

/// The complaining customer. Optional fields that are empty or blank are
/// stored as `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// The customer's id in the CRM, when known.
    #[serde(default)]
    pub id: Option<String>,
    /// Name (required).
    pub name: String,
    /// Phone number, when known.
    #[serde(default)]
    pub phone: Option<String>,
    /// ID number (身份证号 or passport), when known.
    #[serde(default)]
    pub id_number: Option<String>,
}

impl Customer {
    /// A customer with only a name.
    pub fn named(name: impl Into<String>) -> Customer {
        Customer {
            id: None,
            name: name.into(),
            phone: None,
            id_number: None,
        }
    }

    /// The customer with name, phone and ID number masked for display
    /// ([`mask_name`], [`mask_phone`], [`mask_id_number`]); the CRM id is
    /// kept.
    pub fn masked(&self) -> Customer {
        Customer {
            id: self.id.clone(),
            name: mask_name(&self.name),
            phone: self.phone.as_deref().map(mask_phone),
            id_number: self.id_number.as_deref().map(mask_id_number),
        }
    }
}

/// One key fact of a complaint: when, where, evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyFact {
    /// What the fact is.
    pub kind: KeyFactKind,
    /// The fact (free text or a reference).
    pub value: String,
}

impl KeyFact {
    /// A key fact.
    pub fn new(kind: KeyFactKind, value: impl Into<String>) -> KeyFact {
        KeyFact {
            kind,
            value: value.into(),
        }
    }
}

/// A closed interval during which the SLA clock was paused, waiting on the
/// customer. `end >= start` always holds for pauses made here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerWait {
    /// When the wait started.
    pub start: DateTime<Utc>,
    /// When the customer responded (or the wait otherwise ended).
    pub end: DateTime<Utc>,
}

impl CustomerWait {
    /// The length of the pause (zero if the data is inverted).
    pub fn duration(&self) -> Duration {
        (self.end - self.start).max(Duration::zero())
    }
}

/// A complaint (投诉工单), as persisted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Complaint {
    /// Id, chosen by the caller at creation.
    pub id: String,
    /// The conversation the complaint came from, if any.
    #[serde(default)]
    pub conversation_id: Option<String>,
    /// The customer.
    pub customer: Customer,
    /// How it reached the centre (free text: "phone", "chat", "email", "12315", …).
    pub channel: String,
    /// What it is about (free text, the centre's own taxonomy).
    pub category: String,
    /// The customer's complaint, in words.
    pub description: String,
    /// When, where, evidence; append-only through [`Command::AddKeyFact`](super::Command::AddKeyFact).
    #[serde(default)]
    pub key_facts: Vec<KeyFact>,
    /// Priority.
    #[serde(default)]
    pub priority: Priority,
    /// 特殊疑难: special or difficult.
    #[serde(default)]
    pub special: bool,
    /// Where it stands.
    pub state: ComplaintState,
    /// Who works it; `None` is the unassigned queue.
    #[serde(default)]
    pub assignee: Option<Assignee>,
    /// Who opened it.
    pub created_by: String,
    /// When it was opened; the SLA clocks start here.
    pub opened_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// The first reply to the customer; set once, never moved.
    #[serde(default)]
    pub first_reply_at: Option<DateTime<Utc>>,
    /// When the current resolution was recorded; cleared on reopen.
    #[serde(default)]
    pub resolved_at: Option<DateTime<Utc>>,
    /// Who recorded the current resolution.
    #[serde(default)]
    pub resolved_by: Option<String>,
    /// The current resolution summary.
    #[serde(default)]
    pub resolution: Option<String>,
    /// When it was closed; cleared on reopen.
    #[serde(default)]
    pub closed_at: Option<DateTime<Utc>>,
    /// Why it was closed.
    #[serde(default)]
    pub close_reason: Option<String>,
    /// Start of the open pause, while waiting on the customer.
    #[serde(default)]
    pub waiting_since: Option<DateTime<Utc>>,
    /// Finished pauses, oldest first.
    #[serde(default)]
    pub pauses: Vec<CustomerWait>,
    /// How many times it was reopened.
    #[serde(default)]
    pub reopen_count: u32,
    /// The survey of the current resolution; cleared on reopen.
    #[serde(default)]
    pub survey: Option<Survey>,
    /// Optimistic-concurrency version: 1 at creation, +1 per command.
    pub version: u64,
}

impl Complaint {
    /// Whether a resolution is recorded.
    pub fn is_resolved(&self) -> bool {
        self.resolved_at.is_some()
    }

    /// Whether the SLA clock is paused, waiting on the customer.
    pub fn is_waiting(&self) -> bool {
        self.waiting_since.is_some()
    }

    /// Whether the complaint is not closed.
    pub fn is_open(&self) -> bool {
        self.state != ComplaintState::Closed
    }

    /// Whether it is assigned to the agent `agent_id`.
    pub fn is_assigned_to_agent(&self, agent_id: &str) -> bool {
        matches!(&self.assignee, Some(Assignee::Agent(id)) if id == agent_id)
    }

    /// Whether `actor` (an agent) may claim it: it is unassigned or assigned
    /// to one of the actor's groups.
    pub fn is_claimable_by(&self, actor: &Actor) -> bool {
        match &self.assignee {
            None => true,
            Some(Assignee::Group(g)) => actor.groups.iter().any(|m| m == g),
            Some(Assignee::Agent(_)) => false,
        }
    }

    /// Total time the SLA clock was paused up to `now`, the open pause
    /// included.
    pub fn paused_duration(&self, now: DateTime<Utc>) -> Duration {
        let closed = self
            .pauses
            .iter()
            .fold(Duration::zero(), |acc, p| acc + p.duration());
        let open = self
            .waiting_since
            .map_or(Duration::zero(), |s| (now - s).max(Duration::zero()));
        closed + open
    }

    /// Refuses with [`ComplaintError::VersionConflict`] unless the complaint
    /// is at `expected` (e.g. from an `If-Match` header).
    pub fn check_version(&self, expected: u64) -> Result<(), ComplaintError> {
        if self.version == expected {
            Ok(())
        } else {
            Err(ComplaintError::VersionConflict {
                expected,
                actual: self.version,
            })
        }
    }

    /// Whether `actor` needs the customer's clear personal data: supervisors,
    /// admins and the assigned agent do; inspectors and other agents do not.
    pub fn may_see_personal_data(&self, actor: &Actor) -> bool {
        match actor.role {
            ActorRole::Supervisor | ActorRole::Admin => true,
            ActorRole::Agent => self.is_assigned_to_agent(&actor.id),
            ActorRole::Inspector => false,
        }
    }

    /// The complaint as `actor` may see it: the customer masked unless
    /// [`Complaint::may_see_personal_data`]. For display only — never
    /// persist or [`apply`](super::apply) commands to a redacted copy.
    pub fn redacted_for(&self, actor: &Actor) -> Complaint {
        let mut c = self.clone();
        if !self.may_see_personal_data(actor) {
            c.customer = self.customer.masked();
        }
        c
    }
}

/// One entry of a complaint's append-only history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEvent {
    /// The complaint.
    pub complaint_id: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor_id: String,
    /// In which role.
    pub actor_role: ActorRole,
    /// What.
    pub kind: HistoryKind,
    /// The state before (`None` only for [`HistoryKind::Created`]).
    pub from_state: Option<ComplaintState>,
    /// The state after (equal to `from_state` when the state did not change).
    pub to_state: Option<ComplaintState>,
    /// Details of the change, a JSON object (e.g. `{"from": "low", "to": "high"}`).
    pub detail: Value,
}

/// Something the store must do besides saving the complaint and its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SideEffect {
    /// Create a revisit task (回访) for a supervisor, due at `due_at`
    /// (see [`RevisitTask::from_side_effect`](super::RevisitTask::from_side_effect)).
    CreateRevisit {
        /// The complaint.
        complaint_id: String,
        /// The deadline: survey time + `revisit_days`.
        due_at: DateTime<Utc>,
        /// The survey's result score.
        result_score: u8,
        /// The survey's attitude score.
        attitude_score: u8,
    },
    /// Tell the new assignee (agent or group) about the complaint.
    NotifyAssignee {
        /// The complaint.
        complaint_id: String,
        /// The new assignee.
        assignee: Assignee,
    },
}
