//! Creating complaints and applying commands: who may do what in which
//! state, the transitions and the input checks.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    revisit_due, score_band, Actor, ActorRole, Assignee, Complaint, ComplaintError,
    ComplaintPolicy, ComplaintState, Customer, CustomerWait, HistoryEvent, HistoryKind, KeyFact,
    Priority, SideEffect, Survey, MAX_ID_CHARS, MAX_SHORT_TEXT_CHARS, MAX_TEXT_CHARS,
};

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

pub(crate) const OPEN_STATES: &[ComplaintState] = &[
    ComplaintState::Accepted,
    ComplaintState::Investigating,
    ComplaintState::Handling,
    ComplaintState::AwaitingFollowUp,
];
pub(crate) const ACTIVE_STATES: &[ComplaintState] = &[
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
    /// CustomerWait the SLA clock: waiting on the customer (documents, callback…).
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
pub(crate) fn end_pause(c: &mut Complaint, now: DateTime<Utc>) -> Option<CustomerWait> {
    let start = c.waiting_since.take()?;
    let pause = CustomerWait {
        start,
        end: now.max(start),
    };
    c.pauses.push(pause);
    Some(pause)
}

// ---------------------------------------------------------------------------
// Validation helpers
// ---------------------------------------------------------------------------

/// Trims `value`; refuses it empty, longer than `max` characters or with a
/// NUL (which PostgreSQL text cannot hold).
pub(crate) fn required_text(
    field: &'static str,
    value: &str,
    max: usize,
) -> Result<String, ComplaintError> {
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
pub(crate) fn optional_text(
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

pub(crate) fn id_text(field: &'static str, value: &str) -> Result<String, ComplaintError> {
    required_text(field, value, MAX_ID_CHARS)
}

pub(crate) fn check_text(field: &'static str, t: &str, max: usize) -> Result<(), ComplaintError> {
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

pub(crate) fn validate_customer(c: Customer) -> Result<Customer, ComplaintError> {
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

pub(crate) fn validate_key_fact(f: KeyFact) -> Result<KeyFact, ComplaintError> {
    Ok(KeyFact {
        kind: f.kind,
        value: required_text("key fact", &f.value, MAX_TEXT_CHARS)?,
    })
}

pub(crate) fn validate_assignee(a: Assignee) -> Result<Assignee, ComplaintError> {
    Ok(match a {
        Assignee::Agent(id) => Assignee::Agent(id_text("assignee id", &id)?),
        Assignee::Group(id) => Assignee::Group(id_text("assignee id", &id)?),
    })
}
