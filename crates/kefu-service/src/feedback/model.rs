//! The feedback record, its states and commands, and the pure transition
//! and role rules ([`apply`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::auth::{Principal, Role};
use crate::error::Error;

/// Longest feedback content, department response or note, in characters.
pub const MAX_TEXT_CHARS: usize = 4000;
/// Longest department, category or reason, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// The state of a feedback record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackState {
    /// 新建: recorded, not routed yet.
    New,
    /// 已分派: routed to a department (and owner).
    Assigned,
    /// 处理中: the department works on it.
    InProgress,
    /// 已答复: the department answered.
    Answered,
    /// 已告知客户: the customer was told the answer.
    CustomerTold,
    /// 关闭: done.
    Closed,
    /// 驳回: rejected (not feedback, duplicate, not the department's).
    Rejected,
}

impl FeedbackState {
    /// Every state, in workflow order.
    pub const ALL: [FeedbackState; 7] = [
        FeedbackState::New,
        FeedbackState::Assigned,
        FeedbackState::InProgress,
        FeedbackState::Answered,
        FeedbackState::CustomerTold,
        FeedbackState::Closed,
        FeedbackState::Rejected,
    ];

    /// The stable name, as stored and serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackState::New => "new",
            FeedbackState::Assigned => "assigned",
            FeedbackState::InProgress => "in_progress",
            FeedbackState::Answered => "answered",
            FeedbackState::CustomerTold => "customer_told",
            FeedbackState::Closed => "closed",
            FeedbackState::Rejected => "rejected",
        }
    }

    /// The Chinese label.
    pub fn label_zh(self) -> &'static str {
        match self {
            FeedbackState::New => "新建",
            FeedbackState::Assigned => "已分派",
            FeedbackState::InProgress => "处理中",
            FeedbackState::Answered => "已答复",
            FeedbackState::CustomerTold => "已告知客户",
            FeedbackState::Closed => "关闭",
            FeedbackState::Rejected => "驳回",
        }
    }

    /// Whether the record is still open (neither closed nor rejected).
    pub fn is_open(self) -> bool {
        !matches!(self, FeedbackState::Closed | FeedbackState::Rejected)
    }
}

impl fmt::Display for FeedbackState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FeedbackState {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        FeedbackState::ALL
            .into_iter()
            .find(|st| st.as_str() == s || st.label_zh() == s)
            .ok_or_else(|| {
                Error::invalid_field(
                    "state",
                    format!(
                        "`{s}`: use new, assigned, in_progress, answered, customer_told, closed or rejected"
                    ),
                )
            })
    }
}

/// Where a feedback record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackSource {
    /// A turn of a call or chat, marked by an inspector or agent.
    ConversationTurn,
    /// A comment of a satisfaction survey.
    SurveyComment,
    /// A complaint.
    Complaint,
    /// Entered by hand.
    Manual,
}

impl FeedbackSource {
    /// Every source.
    pub const ALL: [FeedbackSource; 4] = [
        FeedbackSource::ConversationTurn,
        FeedbackSource::SurveyComment,
        FeedbackSource::Complaint,
        FeedbackSource::Manual,
    ];

    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackSource::ConversationTurn => "conversation_turn",
            FeedbackSource::SurveyComment => "survey_comment",
            FeedbackSource::Complaint => "complaint",
            FeedbackSource::Manual => "manual",
        }
    }
}

impl FromStr for FeedbackSource {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        FeedbackSource::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                Error::invalid_field(
                    "source",
                    format!("`{s}`: use conversation_turn, survey_comment, complaint or manual"),
                )
            })
    }
}

/// A feedback record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feedback {
    /// Id (`FB-YYYYMMDD-NNNNNN`).
    pub id: String,
    /// Version, bumped by every change (for optimistic concurrency).
    pub version: i64,
    /// Where it came from.
    pub source: FeedbackSource,
    /// The conversation it was marked in.
    pub conversation_id: Option<String>,
    /// The turn of that conversation (0-based).
    pub turn_index: Option<i64>,
    /// The complaint it came from.
    pub complaint_id: Option<String>,
    /// The customer.
    pub customer_id: Option<String>,
    /// Category path in the configured tree (`物流配送/延迟`).
    pub category: String,
    /// The customer's words.
    pub content: String,
    /// The department it is routed to.
    pub department: Option<String>,
    /// Its owner in the department.
    pub owner_id: Option<String>,
    /// When the answer is due, Unix ms.
    #[serde(with = "kefu_store::json_time::opt_unix_ms")]
    pub due_at: Option<i64>,
    /// State.
    pub state: FeedbackState,
    /// The department's answer.
    pub response: Option<String>,
    /// When it was answered.
    #[serde(with = "kefu_store::json_time::opt_unix_ms")]
    pub responded_at: Option<i64>,
    /// When the customer was told.
    #[serde(with = "kefu_store::json_time::opt_unix_ms")]
    pub customer_told_at: Option<i64>,
    /// Why it was rejected.
    pub reject_reason: Option<String>,
    /// Who recorded it.
    pub created_by: String,
    /// Recorded, Unix ms.
    #[serde(with = "kefu_store::json_time::unix_ms")]
    pub created_at: i64,
    /// Last change.
    #[serde(with = "kefu_store::json_time::unix_ms")]
    pub updated_at: i64,
    /// When it entered its state.
    #[serde(with = "kefu_store::json_time::unix_ms")]
    pub state_since: i64,
    /// When ageing flagged it in its current state.
    #[serde(with = "kefu_store::json_time::opt_unix_ms")]
    pub escalated_at: Option<i64>,
    /// Closed or rejected.
    #[serde(with = "kefu_store::json_time::opt_unix_ms")]
    pub closed_at: Option<i64>,
}

impl Feedback {
    /// Whether it is open and past its due time at `now`.
    pub fn is_overdue(&self, now: i64) -> bool {
        self.state.is_open() && self.due_at.is_some_and(|d| d < now)
    }
}

/// What a user asks to do to a feedback record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    /// Route to a department (新建 → 已分派), or re-route (已分派, 处理中).
    Assign {
        /// The department.
        department: String,
        /// Its owner there.
        #[serde(default)]
        owner_id: Option<String>,
        /// When the answer is due, Unix ms; RFC 3339 (or ms) in JSON (default: the settings'
        /// `answer_within` from now).
        #[serde(default, with = "kefu_store::json_time::opt_unix_ms")]
        due_at: Option<i64>,
    },
    /// Start work (已分派 → 处理中).
    Start,
    /// Record the department's answer (处理中 → 已答复).
    Respond {
        /// The answer.
        response: String,
    },
    /// The customer was told the answer (已答复 → 已告知客户).
    TellCustomer {
        /// How and what they were told.
        #[serde(default)]
        note: Option<String>,
    },
    /// Close (已告知客户 → 关闭).
    Close,
    /// Reject, with a reason (any open state → 驳回).
    Reject {
        /// Why.
        reason: String,
    },
    /// Add a note (any state; no state change).
    Note {
        /// The note.
        text: String,
    },
}

/// The kind of a [`Command`], for listing what an actor may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandKind {
    /// [`Command::Assign`].
    Assign,
    /// [`Command::Start`].
    Start,
    /// [`Command::Respond`].
    Respond,
    /// [`Command::TellCustomer`].
    TellCustomer,
    /// [`Command::Close`].
    Close,
    /// [`Command::Reject`].
    Reject,
    /// [`Command::Note`].
    Note,
}

impl CommandKind {
    /// Every kind.
    pub const ALL: [CommandKind; 7] = [
        CommandKind::Assign,
        CommandKind::Start,
        CommandKind::Respond,
        CommandKind::TellCustomer,
        CommandKind::Close,
        CommandKind::Reject,
        CommandKind::Note,
    ];

    /// The stable name (the history's event kind).
    pub fn as_str(self) -> &'static str {
        match self {
            CommandKind::Assign => "assign",
            CommandKind::Start => "start",
            CommandKind::Respond => "respond",
            CommandKind::TellCustomer => "tell_customer",
            CommandKind::Close => "close",
            CommandKind::Reject => "reject",
            CommandKind::Note => "note",
        }
    }
}

impl Command {
    /// Its kind.
    pub fn kind(&self) -> CommandKind {
        match self {
            Command::Assign { .. } => CommandKind::Assign,
            Command::Start => CommandKind::Start,
            Command::Respond { .. } => CommandKind::Respond,
            Command::TellCustomer { .. } => CommandKind::TellCustomer,
            Command::Close => CommandKind::Close,
            Command::Reject { .. } => CommandKind::Reject,
            Command::Note { .. } => CommandKind::Note,
        }
    }
}

/// Whether `p` is a supervisor or an admin.
pub(crate) fn is_privileged(p: &Principal) -> bool {
    matches!(p.role, Role::Supervisor | Role::Admin)
}

fn is_owner(p: &Principal, f: &Feedback) -> bool {
    f.owner_id.as_deref() == Some(p.user_id.as_str())
}

/// Whether `p` may see `f`: staff see every record; agents those they
/// recorded or own.
pub fn may_see(p: &Principal, f: &Feedback) -> bool {
    p.role != Role::Agent || f.created_by == p.user_id || is_owner(p, f)
}

/// The states a command may start from, and the state it leads to (`None`:
/// unchanged).
pub fn transition(kind: CommandKind, from: FeedbackState) -> Option<Option<FeedbackState>> {
    use FeedbackState as S;
    match (kind, from) {
        (CommandKind::Assign, S::New) => Some(Some(S::Assigned)),
        (CommandKind::Assign, S::Assigned | S::InProgress) => Some(None),
        (CommandKind::Start, S::Assigned) => Some(Some(S::InProgress)),
        (CommandKind::Respond, S::InProgress) => Some(Some(S::Answered)),
        (CommandKind::TellCustomer, S::Answered) => Some(Some(S::CustomerTold)),
        (CommandKind::Close, S::CustomerTold) => Some(Some(S::Closed)),
        (CommandKind::Reject, s) if s.is_open() => Some(Some(S::Rejected)),
        (CommandKind::Note, _) => Some(None),
        _ => None,
    }
}

/// Whether `p`'s role (and relation to `f`) allows `kind`, whatever the
/// state:
///
/// | command        | who                                             |
/// |----------------|-------------------------------------------------|
/// | assign, close  | supervisors, admins                             |
/// | start, respond | the owner; supervisors, admins                  |
/// | tell_customer  | agents, supervisors, admins (not inspectors)    |
/// | reject         | the owner; supervisors, admins                  |
/// | note           | anyone who may see the record                   |
pub fn role_allows(p: &Principal, f: &Feedback, kind: CommandKind) -> bool {
    match kind {
        CommandKind::Assign | CommandKind::Close => is_privileged(p),
        CommandKind::Start | CommandKind::Respond | CommandKind::Reject => {
            is_privileged(p) || is_owner(p, f)
        }
        CommandKind::TellCustomer => p.role != Role::Inspector,
        CommandKind::Note => may_see(p, f),
    }
}

/// The commands `p` may run on `f` now.
pub fn available(p: &Principal, f: &Feedback) -> Vec<CommandKind> {
    CommandKind::ALL
        .into_iter()
        .filter(|k| transition(*k, f.state).is_some() && role_allows(p, f, *k))
        .collect()
}

/// A history entry produced by [`apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Kind ([`CommandKind::as_str`], `created` or `escalated`).
    pub kind: &'static str,
    /// State before.
    pub from: Option<FeedbackState>,
    /// State after.
    pub to: Option<FeedbackState>,
    /// Details.
    pub detail: serde_json::Value,
}

fn text(field: &str, value: &str, max: usize) -> Result<String, Error> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::invalid_field(field, "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(Error::invalid_field(
            field,
            format!("at most {max} characters"),
        ));
    }
    Ok(v.to_string())
}

/// Checks a required text field (trimmed, not empty, at most `max`
/// characters) and returns it trimmed.
pub(crate) fn checked_text(field: &str, value: &str, max: usize) -> Result<String, Error> {
    text(field, value, max)
}

/// Runs `cmd` by `p` on `f` at `now`: the changed record (version bumped)
/// and its history event, or why not. `default_due` is the due time an
/// assignment without one gets. Pure: no clock, no storage.
pub fn apply(
    f: &Feedback,
    cmd: &Command,
    p: &Principal,
    now: i64,
    default_due: i64,
) -> Result<(Feedback, Event), Error> {
    let kind = cmd.kind();
    if !may_see(p, f) {
        return Err(Error::not_found("feedback", &f.id));
    }
    let Some(to) = transition(kind, f.state) else {
        return Err(Error::Conflict(format!(
            "conflict: `{}` is not allowed in state {} ({})",
            kind.as_str(),
            f.state,
            f.state.label_zh()
        )));
    };
    if !role_allows(p, f, kind) {
        return Err(Error::Forbidden(format!(
            "a {} may not `{}` this feedback",
            p.role.as_str(),
            kind.as_str()
        )));
    }
    let mut g = f.clone();
    let mut detail = serde_json::json!({});
    match cmd {
        Command::Assign {
            department,
            owner_id,
            due_at,
        } => {
            let department = text("department", department, MAX_NAME_CHARS)?;
            let owner = match owner_id.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(o) => Some(text("owner_id", o, MAX_NAME_CHARS)?),
            };
            let due = due_at.unwrap_or(default_due);
            if g.department.as_deref() == Some(department.as_str())
                && g.owner_id == owner
                && g.due_at == Some(due)
            {
                return Err(Error::Conflict("conflict: already assigned so".to_string()));
            }
            detail = serde_json::json!({"department": department, "owner_id": owner,
                                "due_at": kefu_store::json_time::rfc3339(due)});
            g.department = Some(department);
            g.owner_id = owner;
            g.due_at = Some(due);
        }
        Command::Start | Command::Close => {}
        Command::Respond { response } => {
            let response = text("response", response, MAX_TEXT_CHARS)?;
            detail = serde_json::json!({"response": response});
            g.response = Some(response);
            g.responded_at = Some(now);
        }
        Command::TellCustomer { note } => {
            let note = match note.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(n) => Some(text("note", n, MAX_TEXT_CHARS)?),
            };
            detail = serde_json::json!({"note": note});
            g.customer_told_at = Some(now);
        }
        Command::Reject { reason } => {
            let reason = text("reason", reason, MAX_TEXT_CHARS)?;
            detail = serde_json::json!({"reason": reason});
            g.reject_reason = Some(reason);
        }
        Command::Note { text: note } => {
            detail = serde_json::json!({"text": text("text", note, MAX_TEXT_CHARS)?});
        }
    }
    if to.is_some() || kind == CommandKind::Assign {
        // A move, or a new route: ageing counts afresh.
        g.state_since = now;
        g.escalated_at = None;
    }
    if let Some(to) = to {
        g.state = to;
        if !to.is_open() {
            g.closed_at = Some(now);
        }
    }
    g.version = f.version + 1;
    g.updated_at = now;
    Ok((
        g,
        Event {
            kind: kind.as_str(),
            from: to.map(|_| f.state),
            to,
            detail,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(id: &str, role: Role) -> Principal {
        Principal {
            user_id: id.into(),
            role,
            team: None,
        }
    }

    fn record(state: FeedbackState) -> Feedback {
        Feedback {
            id: "FB-1".into(),
            version: 3,
            source: FeedbackSource::Manual,
            conversation_id: None,
            turn_index: None,
            complaint_id: None,
            customer_id: None,
            category: "其他".into(),
            content: "意见".into(),
            department: Some("物流部".into()),
            owner_id: Some("owner".into()),
            due_at: Some(100),
            state,
            response: None,
            responded_at: None,
            customer_told_at: None,
            reject_reason: None,
            created_by: "author".into(),
            created_at: 0,
            updated_at: 0,
            state_since: 0,
            escalated_at: Some(50),
            closed_at: None,
        }
    }

    /// Who may run each command, whatever the state.
    #[test]
    fn roles_table() {
        let f = record(FeedbackState::InProgress);
        let cases: [(Principal, &[CommandKind]); 5] = [
            (who("sup", Role::Supervisor), &CommandKind::ALL),
            (who("adm", Role::Admin), &CommandKind::ALL),
            (
                who("owner", Role::Agent),
                &[
                    CommandKind::Start,
                    CommandKind::Respond,
                    CommandKind::TellCustomer,
                    CommandKind::Reject,
                    CommandKind::Note,
                ],
            ),
            (
                who("author", Role::Agent),
                &[CommandKind::TellCustomer, CommandKind::Note],
            ),
            (who("qa", Role::Inspector), &[CommandKind::Note]),
        ];
        for (p, allowed) in cases {
            for k in CommandKind::ALL {
                assert_eq!(
                    role_allows(&p, &f, k),
                    allowed.contains(&k),
                    "{} {k:?}",
                    p.user_id
                );
            }
        }
        // An agent who neither recorded nor owns it does not see it.
        let stranger = who("other", Role::Agent);
        assert!(!may_see(&stranger, &f));
        assert!(matches!(
            apply(&f, &Command::Start, &stranger, 1, 2),
            Err(Error::NotFound(_))
        ));
    }

    #[test]
    fn a_move_restarts_ageing_and_a_final_state_closes() {
        let sup = who("sup", Role::Supervisor);
        let f = record(FeedbackState::InProgress);
        let respond = Command::Respond {
            response: " 已处理 ".into(),
        };
        let (g, e) = apply(&f, &respond, &sup, 10, 0).expect("respond");
        assert_eq!(g.state, FeedbackState::Answered);
        assert_eq!((g.state_since, g.escalated_at), (10, None));
        assert_eq!((g.version, g.response.as_deref()), (4, Some("已处理")));
        assert_eq!(
            (e.kind, e.from, e.to),
            (
                "respond",
                Some(FeedbackState::InProgress),
                Some(FeedbackState::Answered)
            )
        );
        let (g, _) = apply(
            &f,
            &Command::Reject {
                reason: "重复".into(),
            },
            &sup,
            11,
            0,
        )
        .expect("reject");
        assert_eq!((g.state, g.closed_at), (FeedbackState::Rejected, Some(11)));
        // A note changes no state and keeps the ageing clock.
        let (g, e) = apply(&f, &Command::Note { text: "x".into() }, &sup, 12, 0).expect("note");
        assert_eq!(
            (g.state, g.state_since, g.escalated_at),
            (f.state, 0, Some(50))
        );
        assert_eq!((e.from, e.to), (None, None));
        // Re-routing to the same department, owner and due is refused.
        let same = Command::Assign {
            department: "物流部".into(),
            owner_id: Some("owner".into()),
            due_at: Some(100),
        };
        assert!(matches!(
            apply(&f, &same, &sup, 13, 0),
            Err(Error::Conflict(_))
        ));
        // Names parse both ways, Chinese labels too.
        for s in FeedbackState::ALL {
            assert_eq!(s.as_str().parse::<FeedbackState>(), Ok(s));
            assert_eq!(s.label_zh().parse::<FeedbackState>(), Ok(s));
        }
        assert!("done".parse::<FeedbackState>().is_err());
    }
}
