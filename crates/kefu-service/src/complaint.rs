//! The complaint lifecycle (投诉工单): creation, state transitions, the
//! append-only history, the "waiting on the customer" pause of the SLA clock,
//! satisfaction surveys and revisit tasks (回访).
//!
//! Everything here is a pure function over plain data. The store loads a
//! [`Complaint`], calls [`apply`] (or [`new_complaint`]), and persists what it
//! gets back, in one transaction:
//!
//! * the new complaint — its [`Complaint::version`] is one more than the
//!   version it was computed from, so the update should be
//!   `UPDATE … WHERE id = ? AND version = <old version>` (optimistic
//!   concurrency; zero rows updated means someone else won, reload and retry
//!   or report [`ComplaintError::VersionConflict`]);
//! * the [`HistoryEvent`]s, appended, never updated;
//! * the [`SideEffect`]s, e.g. a [`RevisitTask`] to insert.
//!
//! Nothing here reads a clock: `now` is always a parameter.
//!
//! # States and transitions
//!
//! | state              | zh     | stable name          |
//! |--------------------|--------|----------------------|
//! | `Accepted`         | 受理   | `accepted`           |
//! | `Investigating`    | 调查   | `investigating`      |
//! | `Handling`         | 处理中 | `handling`           |
//! | `AwaitingFollowUp` | 待回访 | `awaiting_follow_up` |
//! | `Closed`           | 已关闭 | `closed`             |
//!
//! "Resolved" is not a state: [`Command::Resolve`] records the resolution
//! (`resolved_at`, `resolution`) on a complaint in 处理中, which stays in
//! 处理中 until it is sent to 待回访 or closed. "Waiting on the customer" is
//! not a state either but a sub-state flag (`waiting_since`) of the three
//! active states.
//!
//! | command             | allowed in                          | goes to                  |
//! |---------------------|-------------------------------------|--------------------------|
//! | `investigate`       | 受理                                | 调查                     |
//! | `start_handling`    | 受理, 调查                          | 处理中                   |
//! | `reply`             | every state but 已关闭              | unchanged                |
//! | `wait_on_customer`  | 受理, 调查, 处理中 (not resolved, not already waiting) | unchanged, pause opens |
//! | `customer_responded`| 受理, 调查, 处理中 (while waiting)  | unchanged, pause closes  |
//! | `resolve`           | 处理中 (not yet resolved)           | 处理中, resolved         |
//! | `request_follow_up` | 处理中 (resolved)                   | 待回访                   |
//! | `close`             | every state but 已关闭              | 已关闭                   |
//! | `reopen`            | 待回访, 已关闭                      | 处理中 (default) or 调查 |
//! | `assign`, `set_priority`, `mark_special`, `set_category`, `add_key_fact` | every state but 已关闭 | unchanged |
//! | `add_note`          | every state                         | unchanged                |
//! | `record_survey`     | 处理中, 待回访, 已关闭 — only when resolved and not yet surveyed | unchanged |
//!
//! Further rules:
//!
//! * `reply` sets `first_reply_at` the first time only.
//! * `resolve` and `close` end an open pause at `now` (the wait is over).
//!   Other transitions (e.g. 受理 → 调查) keep the pause open.
//! * A pause never ends before it started: if `now` is earlier than the start
//!   (clock skew between servers) the pause ends at its start.
//! * `reopen` increments `reopen_count` and clears `resolved_at`,
//!   `resolved_by`, `resolution`, `closed_at`, `close_reason` and `survey`
//!   (the previous values stay in the history). `first_reply_at` is kept.
//! * Closing an unresolved complaint (withdrawn, duplicate, invalid) is
//!   allowed, to supervisors and admins only, with a reason.
//! * Commands that would change nothing (assigning the current assignee,
//!   setting the current priority, flag or category) are refused with
//!   [`ComplaintError::Unchanged`], so the history holds only real changes.
//! * Every successful command bumps `version`, sets `updated_at` and yields
//!   exactly one history event (the API returns a `Vec` so that this may
//!   change without breaking callers).
//!
//! # Roles
//!
//! | role                  | may                                                                      |
//! |-----------------------|--------------------------------------------------------------------------|
//! | `admin`, `supervisor` | everything, on every complaint                                           |
//! | `agent` (坐席)        | work the complaints assigned to *them* (`Assignee::Agent(own id)`), see below |
//! | `inspector` (质检员)  | add notes to any complaint; record revisit outcomes                      |
//!
//! An agent:
//!
//! * cannot act on a complaint that is unassigned, assigned to another agent
//!   or assigned to a group, except to *claim* it: `assign` to themselves an
//!   unassigned complaint or one assigned to a group listed in
//!   [`Actor::groups`];
//! * cannot reassign (no `assign` to anyone else, no hand-back to a group);
//! * cannot `reopen` (reopening is a supervisor's decision, and the reopen
//!   count is a quality measure of the agent's work);
//! * can `close` only a complaint that has been resolved and is still in
//!   处理中 — a complaint in 待回访 is closed by whoever does the follow-up
//!   (a supervisor), and closing an unresolved one is a supervisor's call;
//! * can raise the priority but not lower it, and can set the 特殊疑难 flag
//!   but not clear it;
//! * may record the customer's survey on their own complaint (in a call the
//!   agent asks for the 0–10 scores, as the standard prescribes).
//!
//! When opening a complaint ([`new_complaint`]) an agent may assign it to
//! themselves (the default when no assignee is given) or to any group (the
//! usual hand-off to the complaints desk), not to another agent. Inspectors
//! do not open complaints. Supervisors and admins may leave it unassigned.
//!
//! Revisit outcomes ([`RevisitTask::complete`]) are recorded by inspectors,
//! supervisors and admins, never by agents (it is their work being checked).
//! An automated survey channel (SMS, IVR) should act as an `admin` service
//! account.
//!
//! # Surveys and revisits
//!
//! Scores are 0–10. Bands are configurable ([`SatisfactionBands`], default
//! 0–4 不满意, 5–7 一般, 8–10 满意). When the result score *or* the attitude
//! score falls in 不满意, [`apply`] returns [`SideEffect::CreateRevisit`] due
//! `revisit_days` (default 7) × 24 h after the survey; build the task with
//! [`RevisitTask::from_side_effect`] and list late ones with
//! [`overdue_revisits`].
//!
//! # Personal data
//!
//! [`mask_phone`], [`mask_id_number`] and [`mask_name`] mask values for
//! display; [`Complaint::redacted_for`] masks the customer of a complaint
//! for actors that do not need the clear values (inspectors, agents other
//! than the assignee). History details never copy the customer's personal
//! data.
//!
//! # Example
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use kefu_service::complaint::*;
//!
//! let now = Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).unwrap();
//! let agent = Actor::new("a1", ActorRole::Agent);
//! let input = NewComplaint::new("c1", Customer::named("张三"), "phone", "billing", "多扣了话费");
//! let (c, _history) = new_complaint(input, &agent, now).unwrap();
//! assert_eq!(c.assignee, Some(Assignee::Agent("a1".into())));
//! let (c, events, _effects) = apply(&c, &agent, Command::StartHandling, now).unwrap();
//! assert_eq!(c.state, ComplaintState::Handling);
//! assert_eq!(events[0].from_state, Some(ComplaintState::Accepted));
//! assert_eq!(c.version, 2);
//! ```

#![warn(missing_docs)]

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The highest satisfaction score; scores run from 0 to this.
pub const SCORE_MAX: u8 = 10;
/// Days from an unsatisfied survey to the due date of its revisit.
pub const DEFAULT_REVISIT_DAYS: u32 = 7;
/// Longest accepted identifier (complaint, conversation, customer, actor, group ids), in characters.
pub const MAX_ID_CHARS: usize = 128;
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

// ---------------------------------------------------------------------------
// String enums
// ---------------------------------------------------------------------------

/// Defines a fieldless enum with a stable snake_case name (serde, `as_str`,
/// `Display`, `FromStr`) and a Chinese label (`label_zh`, also accepted by
/// `FromStr`).
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal) {
            $(
                $(#[$vmeta:meta])*
                $variant:ident => ($s:literal, $zh:literal),
            )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $(
                $(#[$vmeta])*
                #[serde(rename = $s)]
                $variant,
            )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable snake_case name, as stored in the database and
            /// used in the JSON API.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $s,)+
                }
            }

            /// The Chinese label shown to people.
            pub fn label_zh(self) -> &'static str {
                match self {
                    $($name::$variant => $zh,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = ComplaintError;

            /// Parses the stable name or the Chinese label (surrounding
            /// whitespace ignored).
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let t = s.trim();
                $(
                    if t == $s || t == $zh {
                        return Ok($name::$variant);
                    }
                )+
                Err(ComplaintError::UnknownValue { what: $what, value: s.to_string() })
            }
        }
    };
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
    /// Where a reopened complaint goes.
    #[derive(Default)]
    pub enum ReopenTarget ("reopen target") {
        /// Back to 处理中 (the default).
        #[default]
        Handling => ("handling", "处理中"),
        /// Back to 调查, when the facts have to be established again.
        Investigating => ("investigating", "调查"),
    }
}

impl ReopenTarget {
    /// The state a complaint reopened to this target is in.
    pub fn state(self) -> ComplaintState {
        match self {
            ReopenTarget::Handling => ComplaintState::Handling,
            ReopenTarget::Investigating => ComplaintState::Investigating,
        }
    }
}

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

string_enum! {
    /// The kind of a command, without its payload.
    pub enum CommandKind ("command") {
        /// See [`Command::Investigate`].
        Investigate => ("investigate", "调查"),
        /// See [`Command::StartHandling`].
        StartHandling => ("start_handling", "处理"),
        /// See [`Command::Reply`].
        Reply => ("reply", "回复客户"),
        /// See [`Command::WaitOnCustomer`].
        WaitOnCustomer => ("wait_on_customer", "等待客户"),
        /// See [`Command::CustomerResponded`].
        CustomerResponded => ("customer_responded", "客户已回复"),
        /// See [`Command::Resolve`].
        Resolve => ("resolve", "办结"),
        /// See [`Command::RequestFollowUp`].
        RequestFollowUp => ("request_follow_up", "转待回访"),
        /// See [`Command::Close`].
        Close => ("close", "关闭"),
        /// See [`Command::Reopen`].
        Reopen => ("reopen", "重开"),
        /// See [`Command::Assign`].
        Assign => ("assign", "分派"),
        /// See [`Command::SetPriority`].
        SetPriority => ("set_priority", "调整优先级"),
        /// See [`Command::MarkSpecial`].
        MarkSpecial => ("mark_special", "标记特殊疑难"),
        /// See [`Command::SetCategory`].
        SetCategory => ("set_category", "修改分类"),
        /// See [`Command::AddKeyFact`].
        AddKeyFact => ("add_key_fact", "补充关键事实"),
        /// See [`Command::AddNote`].
        AddNote => ("add_note", "备注"),
        /// See [`Command::RecordSurvey`].
        RecordSurvey => ("record_survey", "记录满意度"),
    }
}

const OPEN_STATES: &[ComplaintState] = &[
    ComplaintState::Accepted,
    ComplaintState::Investigating,
    ComplaintState::Handling,
    ComplaintState::AwaitingFollowUp,
];
const ACTIVE_STATES: &[ComplaintState] = &[
    ComplaintState::Accepted,
    ComplaintState::Investigating,
    ComplaintState::Handling,
];

impl CommandKind {
    /// The states in which the command may be applied (the transition
    /// table; further conditions are checked by [`check_permitted`]).
    pub fn allowed_states(self) -> &'static [ComplaintState] {
        use ComplaintState as S;
        match self {
            CommandKind::Investigate => &[S::Accepted],
            CommandKind::StartHandling => &[S::Accepted, S::Investigating],
            CommandKind::WaitOnCustomer | CommandKind::CustomerResponded => ACTIVE_STATES,
            CommandKind::Resolve | CommandKind::RequestFollowUp => &[S::Handling],
            CommandKind::Reopen => &[S::AwaitingFollowUp, S::Closed],
            CommandKind::AddNote => ComplaintState::ALL,
            CommandKind::RecordSurvey => &[S::Handling, S::AwaitingFollowUp, S::Closed],
            CommandKind::Reply
            | CommandKind::Close
            | CommandKind::Assign
            | CommandKind::SetPriority
            | CommandKind::MarkSpecial
            | CommandKind::SetCategory
            | CommandKind::AddKeyFact => OPEN_STATES,
        }
    }

    /// The command as an English verb phrase, for messages ("cannot
    /// *resolve* a complaint in state 已关闭").
    pub fn verb(self) -> &'static str {
        match self {
            CommandKind::Investigate => "start investigating",
            CommandKind::StartHandling => "start handling",
            CommandKind::Reply => "reply to",
            CommandKind::WaitOnCustomer => "pause (wait on the customer for)",
            CommandKind::CustomerResponded => "resume (customer responded to)",
            CommandKind::Resolve => "resolve",
            CommandKind::RequestFollowUp => "request a follow-up on",
            CommandKind::Close => "close",
            CommandKind::Reopen => "reopen",
            CommandKind::Assign => "assign",
            CommandKind::SetPriority => "change the priority of",
            CommandKind::MarkSpecial => "change the special flag of",
            CommandKind::SetCategory => "change the category of",
            CommandKind::AddKeyFact => "add a key fact to",
            CommandKind::AddNote => "add a note to",
            CommandKind::RecordSurvey => "record a survey for",
        }
    }

    /// The kind of history event the command produces.
    pub fn history_kind(self) -> HistoryKind {
        match self {
            CommandKind::Investigate => HistoryKind::InvestigationStarted,
            CommandKind::StartHandling => HistoryKind::HandlingStarted,
            CommandKind::Reply => HistoryKind::Replied,
            CommandKind::WaitOnCustomer => HistoryKind::WaitingOnCustomer,
            CommandKind::CustomerResponded => HistoryKind::CustomerResponded,
            CommandKind::Resolve => HistoryKind::Resolved,
            CommandKind::RequestFollowUp => HistoryKind::FollowUpRequested,
            CommandKind::Close => HistoryKind::Closed,
            CommandKind::Reopen => HistoryKind::Reopened,
            CommandKind::Assign => HistoryKind::Assigned,
            CommandKind::SetPriority => HistoryKind::PriorityChanged,
            CommandKind::MarkSpecial => HistoryKind::SpecialChanged,
            CommandKind::SetCategory => HistoryKind::CategoryChanged,
            CommandKind::AddKeyFact => HistoryKind::KeyFactAdded,
            CommandKind::AddNote => HistoryKind::NoteAdded,
            CommandKind::RecordSurvey => HistoryKind::SurveyRecorded,
        }
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
pub struct Pause {
    /// When the wait started.
    pub start: DateTime<Utc>,
    /// When the customer responded (or the wait otherwise ended).
    pub end: DateTime<Utc>,
}

impl Pause {
    /// The length of the pause (zero if the data is inverted).
    pub fn duration(&self) -> Duration {
        (self.end - self.start).max(Duration::zero())
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
    /// When, where, evidence; append-only through [`Command::AddKeyFact`].
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
    pub pauses: Vec<Pause>,
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
    /// persist or [`apply`] commands to a redacted copy.
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
    /// (see [`RevisitTask::from_side_effect`]).
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

// ---------------------------------------------------------------------------
// Creation
// ---------------------------------------------------------------------------

/// What it takes to open a complaint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewComplaint {
    /// The id to give it; empty or absent: generated by
    /// `ComplaintService::create`.
    #[serde(default)]
    pub id: String,
    /// The conversation it comes from, if any.
    #[serde(default)]
    pub conversation_id: Option<String>,
    /// The customer (name required).
    pub customer: Customer,
    /// The channel (required).
    pub channel: String,
    /// The category (required).
    pub category: String,
    /// The description (required).
    pub description: String,
    /// Key facts, if any.
    #[serde(default)]
    pub key_facts: Vec<KeyFact>,
    /// Priority (default 中).
    #[serde(default)]
    pub priority: Priority,
    /// 特殊疑难 (default false).
    #[serde(default)]
    pub special: bool,
    /// Initial assignee; for an agent, `None` means themselves.
    #[serde(default)]
    pub assignee: Option<Assignee>,
}

impl NewComplaint {
    /// The required fields; everything else at its default.
    pub fn new(
        id: impl Into<String>,
        customer: Customer,
        channel: impl Into<String>,
        category: impl Into<String>,
        description: impl Into<String>,
    ) -> NewComplaint {
        NewComplaint {
            id: id.into(),
            conversation_id: None,
            customer,
            channel: channel.into(),
            category: category.into(),
            description: description.into(),
            key_facts: Vec::new(),
            priority: Priority::Normal,
            special: false,
            assignee: None,
        }
    }
}

/// Opens a complaint in 受理, version 1, and returns it with its
/// [`HistoryKind::Created`] event.
///
/// Validates the input (id, customer name, channel, category and description
/// non-empty; lengths; no NUL characters; at least one digit in a phone) and
/// the role rules: inspectors do not open complaints; an agent's complaint is
/// assigned to themselves unless they route it to a group, never to another
/// agent. Creation emits no [`SideEffect`]; notify an initial assignee
/// yourself if needed.
pub fn new_complaint(
    input: NewComplaint,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(Complaint, Vec<HistoryEvent>), ComplaintError> {
    const ACTION: &str = "open";
    let forbid = |reason: &str| ComplaintError::Forbidden {
        actor_id: actor.id.clone(),
        role: actor.role,
        action: ACTION,
        reason: reason.to_string(),
    };
    if actor.role == ActorRole::Inspector {
        return Err(forbid("inspectors do not open complaints"));
    }
    let actor_id = id_text("actor id", &actor.id)?;
    let id = id_text("id", &input.id)?;
    let conversation_id = optional_text("conversation_id", input.conversation_id, MAX_ID_CHARS)?;
    let customer = validate_customer(input.customer)?;
    let channel = required_text("channel", &input.channel, MAX_SHORT_TEXT_CHARS)?;
    let category = required_text("category", &input.category, MAX_SHORT_TEXT_CHARS)?;
    let description = required_text("description", &input.description, MAX_TEXT_CHARS)?;
    let key_facts = input
        .key_facts
        .into_iter()
        .map(validate_key_fact)
        .collect::<Result<Vec<_>, _>>()?;
    let assignee = match input.assignee {
        Some(a) => Some(validate_assignee(a)?),
        None => None,
    };
    let assignee = match (actor.role, assignee) {
        (ActorRole::Agent, None) => Some(Assignee::Agent(actor_id.clone())),
        (ActorRole::Agent, Some(Assignee::Agent(other))) if other != actor_id => {
            return Err(forbid(
                "agents may assign a new complaint only to themselves or to a group",
            ));
        }
        (_, a) => a,
    };

    let complaint = Complaint {
        id,
        conversation_id,
        customer,
        channel,
        category,
        description,
        key_facts,
        priority: input.priority,
        special: input.special,
        state: ComplaintState::Accepted,
        assignee,
        created_by: actor_id.clone(),
        opened_at: now,
        updated_at: now,
        first_reply_at: None,
        resolved_at: None,
        resolved_by: None,
        resolution: None,
        closed_at: None,
        close_reason: None,
        waiting_since: None,
        pauses: Vec::new(),
        reopen_count: 0,
        survey: None,
        version: 1,
    };
    let event = HistoryEvent {
        complaint_id: complaint.id.clone(),
        at: now,
        actor_id,
        actor_role: actor.role,
        kind: HistoryKind::Created,
        from_state: None,
        to_state: Some(ComplaintState::Accepted),
        detail: json!({
            "conversation_id": complaint.conversation_id,
            "channel": complaint.channel,
            "category": complaint.category,
            "priority": complaint.priority,
            "special": complaint.special,
            "assignee": complaint.assignee,
            "key_facts": complaint.key_facts.len(),
        }),
    };
    Ok((complaint, vec![event]))
}

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------

/// A change to a complaint. Serialised with a `type` tag, e.g.
/// `{"type": "resolve", "summary": "退还多扣费用"}`,
/// `{"type": "assign", "assignee": {"kind": "group", "id": "desk"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    /// 受理 → 调查.
    Investigate,
    /// 受理/调查 → 处理中.
    StartHandling,
    /// A reply to the customer; the first one sets `first_reply_at`.
    Reply {
        /// What was said or sent.
        message: String,
    },
    /// Pause the SLA clock: waiting on the customer (documents, callback…).
    WaitOnCustomer {
        /// What is awaited, if worth saying.
        #[serde(default)]
        reason: Option<String>,
    },
    /// The customer came back: end the pause.
    CustomerResponded,
    /// Record the resolution (stays in 处理中).
    Resolve {
        /// What was done.
        summary: String,
    },
    /// 处理中 (resolved) → 待回访.
    RequestFollowUp,
    /// → 已关闭.
    Close {
        /// Why (e.g. "客户确认已解决", "重复工单").
        reason: String,
    },
    /// 待回访/已关闭 → 处理中 or 调查.
    Reopen {
        /// Why.
        reason: String,
        /// Where to (default 处理中).
        #[serde(default)]
        to: ReopenTarget,
    },
    /// Assign to an agent or a group (agents: claim only).
    Assign {
        /// The new assignee.
        assignee: Assignee,
    },
    /// Change the priority (agents: raise only).
    SetPriority {
        /// The new priority.
        priority: Priority,
    },
    /// Set or clear 特殊疑难 (agents: set only).
    MarkSpecial {
        /// The new flag.
        special: bool,
    },
    /// Recategorise.
    SetCategory {
        /// The new category.
        category: String,
    },
    /// Add a key fact (time, place, evidence).
    AddKeyFact {
        /// The fact.
        fact: KeyFact,
    },
    /// Add an internal note.
    AddNote {
        /// The note.
        text: String,
    },
    /// Record the customer's 0–10 scores for the result and the attitude.
    RecordSurvey {
        /// 0–10, the result.
        result_score: u8,
        /// 0–10, the attitude.
        attitude_score: u8,
        /// The customer's words, if any.
        #[serde(default)]
        comment: Option<String>,
    },
}

impl Command {
    /// The command's kind.
    pub fn kind(&self) -> CommandKind {
        match self {
            Command::Investigate => CommandKind::Investigate,
            Command::StartHandling => CommandKind::StartHandling,
            Command::Reply { .. } => CommandKind::Reply,
            Command::WaitOnCustomer { .. } => CommandKind::WaitOnCustomer,
            Command::CustomerResponded => CommandKind::CustomerResponded,
            Command::Resolve { .. } => CommandKind::Resolve,
            Command::RequestFollowUp => CommandKind::RequestFollowUp,
            Command::Close { .. } => CommandKind::Close,
            Command::Reopen { .. } => CommandKind::Reopen,
            Command::Assign { .. } => CommandKind::Assign,
            Command::SetPriority { .. } => CommandKind::SetPriority,
            Command::MarkSpecial { .. } => CommandKind::MarkSpecial,
            Command::SetCategory { .. } => CommandKind::SetCategory,
            Command::AddKeyFact { .. } => CommandKind::AddKeyFact,
            Command::AddNote { .. } => CommandKind::AddNote,
            Command::RecordSurvey { .. } => CommandKind::RecordSurvey,
        }
    }
}

/// What [`apply`] returns: the new complaint, the history events to append
/// and the side effects to carry out.
pub type Applied = (Complaint, Vec<HistoryEvent>, Vec<SideEffect>);

/// Whether `actor` may issue a command of `kind` to `complaint` now, judged
/// on everything but the payload: role, assignment, the transition table and
/// the state's conditions. [`apply`] checks this first, then the payload
/// (texts, scores, an agent's claim target, priority direction, no-op
/// changes).
pub fn check_permitted(
    complaint: &Complaint,
    actor: &Actor,
    kind: CommandKind,
) -> Result<(), ComplaintError> {
    let action = kind.verb();
    let forbid = |reason: String| ComplaintError::Forbidden {
        actor_id: actor.id.clone(),
        role: actor.role,
        action,
        reason,
    };
    let precondition = |reason: &str| ComplaintError::Precondition {
        action,
        reason: reason.to_string(),
    };

    // 1. Role and assignment.
    match actor.role {
        ActorRole::Supervisor | ActorRole::Admin => {}
        ActorRole::Inspector => {
            if kind != CommandKind::AddNote {
                return Err(forbid(
                    "inspectors may only add notes and record revisit outcomes".into(),
                ));
            }
        }
        ActorRole::Agent => {
            if kind == CommandKind::Reopen {
                return Err(forbid(
                    "only supervisors and admins reopen complaints".into(),
                ));
            }
            let owner = complaint.is_assigned_to_agent(&actor.id);
            if kind == CommandKind::Assign {
                if owner {
                    return Err(forbid("agents cannot reassign complaints".into()));
                }
                if !complaint.is_claimable_by(actor) {
                    return Err(forbid(match &complaint.assignee {
                        Some(Assignee::Group(g)) => {
                            format!("it is assigned to group {g}, which the agent is not in")
                        }
                        Some(a) => format!("it is assigned to {a}"),
                        None => "it is not claimable".into(),
                    }));
                }
            } else if !owner {
                return Err(forbid(match &complaint.assignee {
                    Some(a) => format!("it is assigned to {a}"),
                    None => "it is not assigned to anyone; claim it first".into(),
                }));
            }
        }
    }

    // 2. The transition table.
    if !kind.allowed_states().contains(&complaint.state) {
        return Err(ComplaintError::InvalidTransition {
            action,
            state: complaint.state,
        });
    }

    // 3. Conditions within the state.
    let agent = actor.role == ActorRole::Agent;
    match kind {
        CommandKind::WaitOnCustomer => {
            if complaint.is_waiting() {
                return Err(precondition("it is already waiting on the customer"));
            }
            if complaint.is_resolved() {
                return Err(precondition("it is already resolved"));
            }
        }
        CommandKind::CustomerResponded if !complaint.is_waiting() => {
            return Err(precondition("it is not waiting on the customer"));
        }
        CommandKind::Resolve if complaint.is_resolved() => {
            return Err(precondition("it is already resolved"));
        }
        CommandKind::RequestFollowUp if !complaint.is_resolved() => {
            return Err(precondition("it has not been resolved yet"));
        }
        CommandKind::Close if agent => {
            if complaint.state == ComplaintState::AwaitingFollowUp {
                return Err(forbid(
                    "a complaint awaiting follow-up is closed by a supervisor".into(),
                ));
            }
            if !complaint.is_resolved() {
                return Err(forbid(
                    "agents may only close complaints that have been resolved".into(),
                ));
            }
        }
        CommandKind::RecordSurvey => {
            if !complaint.is_resolved() {
                return Err(precondition("it has not been resolved yet"));
            }
            if complaint.survey.is_some() {
                return Err(precondition(
                    "a survey is already recorded for this resolution",
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

/// The kinds of command `actor` may issue to `complaint` now (for the
/// buttons of a UI), in [`CommandKind::ALL`] order. A listed command can
/// still fail on its payload.
pub fn available_commands(complaint: &Complaint, actor: &Actor) -> Vec<CommandKind> {
    CommandKind::ALL
        .iter()
        .copied()
        .filter(|&k| check_permitted(complaint, actor, k).is_ok())
        .collect()
}

/// Applies `cmd` under the default [`ComplaintPolicy`]; see
/// [`apply_with_policy`].
pub fn apply(
    complaint: &Complaint,
    actor: &Actor,
    cmd: Command,
    now: DateTime<Utc>,
) -> Result<Applied, ComplaintError> {
    apply_with_policy(complaint, actor, cmd, now, &ComplaintPolicy::default())
}

/// Applies `cmd` by `actor` at `now` to `complaint`: checks the role rules
/// and the transition table ([`check_permitted`]) and the payload, and
/// returns the new complaint (version + 1, `updated_at = now`), the history
/// events to append and the side effects. The input complaint is not
/// modified; on error nothing is to be persisted.
pub fn apply_with_policy(
    complaint: &Complaint,
    actor: &Actor,
    cmd: Command,
    now: DateTime<Utc>,
    policy: &ComplaintPolicy,
) -> Result<Applied, ComplaintError> {
    let kind = cmd.kind();
    check_permitted(complaint, actor, kind)?;
    let action = kind.verb();
    let agent = actor.role == ActorRole::Agent;
    let forbid = |reason: &str| ComplaintError::Forbidden {
        actor_id: actor.id.clone(),
        role: actor.role,
        action,
        reason: reason.to_string(),
    };
    let actor_id = id_text("actor id", &actor.id)?;

    let mut next = complaint.clone();
    let mut effects = Vec::new();
    let detail = match cmd {
        Command::Investigate => {
            next.state = ComplaintState::Investigating;
            json!({})
        }
        Command::StartHandling => {
            next.state = ComplaintState::Handling;
            json!({})
        }
        Command::Reply { message } => {
            let message = required_text("message", &message, MAX_TEXT_CHARS)?;
            let first = next.first_reply_at.is_none();
            if first {
                next.first_reply_at = Some(now);
            }
            json!({ "message": message, "first": first })
        }
        Command::WaitOnCustomer { reason } => {
            let reason = optional_text("reason", reason, MAX_TEXT_CHARS)?;
            next.waiting_since = Some(now);
            json!({ "reason": reason })
        }
        Command::CustomerResponded => {
            let pause = end_pause(&mut next, now);
            json!({
                "pause": pause,
                "paused_seconds": pause.map(|p| p.duration().num_seconds()),
            })
        }
        Command::Resolve { summary } => {
            let summary = required_text("summary", &summary, MAX_TEXT_CHARS)?;
            let pause = end_pause(&mut next, now);
            next.resolved_at = Some(now);
            next.resolved_by = Some(actor_id.clone());
            next.resolution = Some(summary.clone());
            json!({ "summary": summary, "pause_ended": pause })
        }
        Command::RequestFollowUp => {
            next.state = ComplaintState::AwaitingFollowUp;
            json!({})
        }
        Command::Close { reason } => {
            let reason = required_text("reason", &reason, MAX_TEXT_CHARS)?;
            let pause = end_pause(&mut next, now);
            next.state = ComplaintState::Closed;
            next.closed_at = Some(now);
            next.close_reason = Some(reason.clone());
            json!({
                "reason": reason,
                "resolved": next.is_resolved(),
                "pause_ended": pause,
            })
        }
        Command::Reopen { reason, to } => {
            let reason = required_text("reason", &reason, MAX_TEXT_CHARS)?;
            next.state = to.state();
            next.reopen_count = next.reopen_count.saturating_add(1);
            let previous_resolution = next.resolution.take();
            let previous_resolved_at = next.resolved_at.take();
            next.resolved_by = None;
            next.closed_at = None;
            next.close_reason = None;
            next.survey = None;
            json!({
                "reason": reason,
                "reopen_count": next.reopen_count,
                "previous_resolution": previous_resolution,
                "previous_resolved_at": previous_resolved_at,
            })
        }
        Command::Assign { assignee } => {
            let assignee = validate_assignee(assignee)?;
            if agent && assignee != Assignee::Agent(actor_id.clone()) {
                return Err(forbid("agents may only assign a complaint to themselves"));
            }
            if next.assignee.as_ref() == Some(&assignee) {
                return Err(ComplaintError::Unchanged(format!(
                    "the complaint is already assigned to {assignee}"
                )));
            }
            let from = next.assignee.replace(assignee.clone());
            effects.push(SideEffect::NotifyAssignee {
                complaint_id: complaint.id.clone(),
                assignee: assignee.clone(),
            });
            json!({ "from": from, "to": assignee })
        }
        Command::SetPriority { priority } => {
            let from = next.priority;
            if priority == from {
                return Err(ComplaintError::Unchanged(format!(
                    "the priority is already {}",
                    priority.label_zh()
                )));
            }
            if agent && priority < from {
                return Err(forbid("agents may raise the priority but not lower it"));
            }
            next.priority = priority;
            json!({ "from": from, "to": priority })
        }
        Command::MarkSpecial { special } => {
            if special == next.special {
                return Err(ComplaintError::Unchanged(format!(
                    "the special flag is already {special}"
                )));
            }
            if agent && !special {
                return Err(forbid("agents may set the special flag but not clear it"));
            }
            next.special = special;
            json!({ "special": special })
        }
        Command::SetCategory { category } => {
            let category = required_text("category", &category, MAX_SHORT_TEXT_CHARS)?;
            if category == next.category {
                return Err(ComplaintError::Unchanged(format!(
                    "the category is already {category}"
                )));
            }
            let from = std::mem::replace(&mut next.category, category.clone());
            json!({ "from": from, "to": category })
        }
        Command::AddKeyFact { fact } => {
            let fact = validate_key_fact(fact)?;
            let detail = json!({ "kind": fact.kind, "value": fact.value });
            next.key_facts.push(fact);
            detail
        }
        Command::AddNote { text } => {
            let text = required_text("text", &text, MAX_TEXT_CHARS)?;
            json!({ "text": text })
        }
        Command::RecordSurvey {
            result_score,
            attitude_score,
            comment,
        } => {
            policy.validate()?;
            let result_band = score_band(&policy.bands, "result_score", result_score)?;
            let attitude_band = score_band(&policy.bands, "attitude_score", attitude_score)?;
            let comment = optional_text("comment", comment, MAX_TEXT_CHARS)?;
            let survey = Survey {
                result_score,
                attitude_score,
                result_band,
                attitude_band,
                comment,
                recorded_at: now,
                recorded_by: actor_id.clone(),
            };
            let revisit_due_at = if survey.is_unsatisfied() {
                let due_at = revisit_due(now, policy.revisit_days)?;
                effects.push(SideEffect::CreateRevisit {
                    complaint_id: complaint.id.clone(),
                    due_at,
                    result_score,
                    attitude_score,
                });
                Some(due_at)
            } else {
                None
            };
            let detail = json!({
                "result_score": result_score,
                "attitude_score": attitude_score,
                "result_band": result_band,
                "attitude_band": attitude_band,
                "comment": survey.comment,
                "revisit_due_at": revisit_due_at,
            });
            next.survey = Some(survey);
            detail
        }
    };

    next.version = complaint
        .version
        .checked_add(1)
        .ok_or_else(|| ComplaintError::Invalid {
            field: "version",
            reason: "the version counter is exhausted".into(),
        })?;
    next.updated_at = now;
    let event = HistoryEvent {
        complaint_id: complaint.id.clone(),
        at: now,
        actor_id,
        actor_role: actor.role,
        kind: kind.history_kind(),
        from_state: Some(complaint.state),
        to_state: Some(next.state),
        detail,
    };
    Ok((next, vec![event], effects))
}

/// Ends the open pause, if any, at `now` (never before its start), records
/// it and returns it.
fn end_pause(c: &mut Complaint, now: DateTime<Utc>) -> Option<Pause> {
    let start = c.waiting_since.take()?;
    let pause = Pause {
        start,
        end: now.max(start),
    };
    c.pauses.push(pause);
    Some(pause)
}

fn score_band(
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

fn revisit_due(now: DateTime<Utc>, days: u32) -> Result<DateTime<Utc>, ComplaintError> {
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
    /// change — reopen it with [`Command::Reopen`] if the customer is still
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

// ---------------------------------------------------------------------------
// Masking
// ---------------------------------------------------------------------------

/// Keeps the first `head` and last `tail` characters and stars the rest
/// (all stars if that would reveal everything).
fn mask_middle(s: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    if head + tail >= n {
        return "*".repeat(n);
    }
    let mut out = String::with_capacity(s.len());
    out.extend(chars.iter().take(head));
    out.extend(std::iter::repeat_n('*', n - head - tail));
    out.extend(chars.iter().skip(n - tail));
    out
}

/// Masks a phone number for display, by characters of the trimmed input:
/// 11 or more keep the first 3 and last 4 (`13812345678` → `138****5678`),
/// 7–10 keep the first 2 and last 2 (`62345678` → `62****78`), 1–6 are all
/// stars. Never panics, whatever the input.
pub fn mask_phone(phone: &str) -> String {
    let t = phone.trim();
    match t.chars().count() {
        0 => String::new(),
        n @ 1..=6 => "*".repeat(n),
        7..=10 => mask_middle(t, 2, 2),
        _ => mask_middle(t, 3, 4),
    }
}

/// Masks an ID number for display, by characters of the trimmed input:
/// 16 or more keep the region code (6) and the last 4
/// (`110101199001011234` → `110101********1234`, hiding the birth date),
/// 15 (the old format) keeps 6 and 3, 8–14 (passports and others) keep the
/// first and the last 3, 1–7 are all stars. Never panics.
pub fn mask_id_number(id_number: &str) -> String {
    let t = id_number.trim();
    match t.chars().count() {
        0 => String::new(),
        n @ 1..=7 => "*".repeat(n),
        8..=14 => mask_middle(t, 1, 3),
        15 => mask_middle(t, 6, 3),
        _ => mask_middle(t, 6, 4),
    }
}

/// Masks a person's name for display: one character → `*`, two → the first
/// and a star (`张三` → `张*`), more → first and last with stars between
/// (`欧阳修` → `欧*修`). Never panics.
pub fn mask_name(name: &str) -> String {
    let t = name.trim();
    match t.chars().count() {
        0 => String::new(),
        1 => "*".to_string(),
        2 => mask_middle(t, 1, 0),
        _ => mask_middle(t, 1, 1),
    }
}

// ---------------------------------------------------------------------------
// Validation helpers
// ---------------------------------------------------------------------------

/// Trims `value`; refuses it empty, longer than `max` characters or with a
/// NUL (which PostgreSQL text cannot hold).
fn required_text(field: &'static str, value: &str, max: usize) -> Result<String, ComplaintError> {
    let t = value.trim();
    if t.is_empty() {
        return Err(ComplaintError::Invalid {
            field,
            reason: "must not be empty".into(),
        });
    }
    check_text(field, t, max)?;
    Ok(t.to_string())
}

/// Like [`required_text`], but empty or blank becomes `None`.
fn optional_text(
    field: &'static str,
    value: Option<String>,
    max: usize,
) -> Result<Option<String>, ComplaintError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => {
            check_text(field, t, max)?;
            Ok(Some(t.to_string()))
        }
    }
}

fn id_text(field: &'static str, value: &str) -> Result<String, ComplaintError> {
    required_text(field, value, MAX_ID_CHARS)
}

fn check_text(field: &'static str, t: &str, max: usize) -> Result<(), ComplaintError> {
    if t.contains('\0') {
        return Err(ComplaintError::Invalid {
            field,
            reason: "contains a NUL character".into(),
        });
    }
    if t.chars().count() > max {
        return Err(ComplaintError::Invalid {
            field,
            reason: format!("is longer than {max} characters"),
        });
    }
    Ok(())
}

fn validate_customer(c: Customer) -> Result<Customer, ComplaintError> {
    let name = required_text("customer name", &c.name, MAX_SHORT_TEXT_CHARS)?;
    let id = optional_text("customer id", c.id, MAX_ID_CHARS)?;
    let phone = optional_text("customer phone", c.phone, MAX_SHORT_TEXT_CHARS)?;
    if let Some(p) = &phone {
        if !p.chars().any(|ch| ch.is_ascii_digit()) {
            return Err(ComplaintError::Invalid {
                field: "customer phone",
                reason: "contains no digit".into(),
            });
        }
    }
    let id_number = optional_text("customer id_number", c.id_number, MAX_SHORT_TEXT_CHARS)?;
    Ok(Customer {
        id,
        name,
        phone,
        id_number,
    })
}

fn validate_key_fact(f: KeyFact) -> Result<KeyFact, ComplaintError> {
    Ok(KeyFact {
        kind: f.kind,
        value: required_text("key fact", &f.value, MAX_TEXT_CHARS)?,
    })
}

fn validate_assignee(a: Assignee) -> Result<Assignee, ComplaintError> {
    Ok(match a {
        Assignee::Agent(id) => Assignee::Agent(id_text("assignee id", &id)?),
        Assignee::Group(id) => Assignee::Group(id_text("assignee id", &id)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_names_match_as_str() {
        for s in ComplaintState::ALL {
            assert_eq!(serde_json::to_value(s).ok(), Some(json!(s.as_str())));
            assert_eq!(s.as_str().parse::<ComplaintState>().ok(), Some(*s));
            assert_eq!(s.label_zh().parse::<ComplaintState>().ok(), Some(*s));
        }
        for k in CommandKind::ALL {
            assert_eq!(serde_json::to_value(k).ok(), Some(json!(k.as_str())));
        }
        for k in HistoryKind::ALL {
            assert_eq!(serde_json::to_value(k).ok(), Some(json!(k.as_str())));
        }
    }

    #[test]
    fn mask_middle_never_reveals_all() {
        assert_eq!(mask_middle("abc", 2, 2), "***");
        assert_eq!(mask_middle("", 0, 0), "");
        assert_eq!(mask_middle("abcdef", 1, 1), "a****f");
    }
}
