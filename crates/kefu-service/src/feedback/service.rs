//! [`FeedbackService`]: feedback records persisted in the [`Store`], one
//! transaction per call — create, commands (optimistic concurrency on the
//! version; the history entry appended in the same transaction), lists,
//! the department board, the ageing scan and theme analysis.

use std::collections::BTreeMap;

use kefu_store::{FeedbackEventRow, FeedbackKey, FeedbackQuery, FeedbackRow, Store, Tx};
use serde::{Deserialize, Serialize};

use crate::auth::{Principal, Role};
use crate::error::{Error, Result};
use crate::feedback::model::{
    apply, available, checked_text, is_privileged, may_see, Command, CommandKind, Event, Feedback,
    FeedbackSource, FeedbackState, MAX_NAME_CHARS, MAX_TEXT_CHARS,
};
use crate::feedback::settings::{FeedbackSettings, FEEDBACK_SETTINGS_KEY};

/// China time, in which ids are dated.
const LOCAL_OFFSET_S: i64 = 8 * 3600;
/// The actor of the ageing scan.
pub const SYSTEM_ACTOR: &str = "system";
/// Records aged per transaction.
const AGEING_BATCH: i64 = 200;

/// A feedback record to create.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NewFeedback {
    /// Where it came from (default `manual`).
    pub source: Option<FeedbackSource>,
    /// The conversation (required for `conversation_turn`).
    pub conversation_id: Option<String>,
    /// The turn, 0-based (required for `conversation_turn`).
    pub turn_index: Option<i64>,
    /// The complaint (required for `complaint`).
    pub complaint_id: Option<String>,
    /// The customer (taken from the conversation when not given).
    pub customer_id: Option<String>,
    /// Category path of the configured tree.
    pub category: String,
    /// The customer's words (a marked turn's text when empty).
    pub content: String,
}

/// One entry of a record's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedbackEvent {
    /// Row id; entries are in id order.
    pub id: i64,
    /// When, Unix ms; RFC 3339 in JSON.
    #[serde(with = "kefu_store::json_time::unix_ms")]
    pub at: i64,
    /// Who (`system` for ageing).
    pub actor_id: String,
    /// In which role, or `system`.
    pub actor_role: String,
    /// What: `created`, a [`CommandKind`] name, or `escalated`.
    pub kind: String,
    /// State before.
    pub from_state: Option<FeedbackState>,
    /// State after.
    pub to_state: Option<FeedbackState>,
    /// Details, a JSON object.
    pub detail: serde_json::Value,
}

/// A record with its history and what the viewer may do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedbackView {
    /// The record.
    pub feedback: Feedback,
    /// Whether it is open and past due now.
    pub overdue: bool,
    /// The history, oldest first.
    pub history: Vec<FeedbackEvent>,
    /// The commands the viewer may run now.
    pub available_commands: Vec<CommandKind>,
}

/// Which records a list holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedbackFilter {
    /// Only these states (empty: any).
    pub states: Vec<FeedbackState>,
    /// Only this department.
    pub department: Option<String>,
    /// Only this owner.
    pub owner: Option<String>,
    /// Only this category and its subcategories.
    pub category: Option<String>,
    /// Only this source.
    pub source: Option<FeedbackSource>,
    /// Only those of this conversation.
    pub conversation_id: Option<String>,
    /// Only those of this customer.
    pub customer_id: Option<String>,
    /// Recorded at or after, Unix ms.
    pub from: Option<i64>,
    /// Recorded before.
    pub to: Option<i64>,
    /// Only those flagged by ageing.
    pub escalated: bool,
    /// Only open ones past due.
    pub overdue: bool,
}

/// One page of records.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedbackList {
    /// The records, newest first.
    pub items: Vec<Feedback>,
    /// How many match (a lower bound when `total_estimated`).
    pub total: i64,
    /// The count stopped at 1,000.
    pub total_estimated: bool,
    /// The cursor of the next page.
    pub next: Option<String>,
}

/// A department's line of the board.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DepartmentBoard {
    /// The department (`None`: not routed yet).
    pub department: Option<String>,
    /// How many records per state (states with none left out).
    pub counts: BTreeMap<FeedbackState, i64>,
    /// Open records.
    pub open: i64,
    /// Open records past due.
    pub overdue: i64,
    /// Records flagged by ageing.
    pub escalated: i64,
}

/// What one ageing scan did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AgeingOutcome {
    /// The records escalated, with the state they aged in.
    pub escalated: Vec<(String, FeedbackState)>,
}

/// Information feedback over a store.
#[derive(Debug, Clone)]
pub struct FeedbackService {
    store: Store,
}

fn to_row(f: &Feedback) -> FeedbackRow {
    FeedbackRow {
        id: f.id.clone(),
        version: f.version,
        source: f.source.as_str().to_string(),
        conversation_id: f.conversation_id.clone(),
        turn_index: f.turn_index,
        complaint_id: f.complaint_id.clone(),
        customer_id: f.customer_id.clone(),
        category: f.category.clone(),
        content: f.content.clone(),
        department: f.department.clone(),
        owner_id: f.owner_id.clone(),
        due_at: f.due_at,
        state: f.state.as_str().to_string(),
        response: f.response.clone(),
        responded_at: f.responded_at,
        customer_told_at: f.customer_told_at,
        reject_reason: f.reject_reason.clone(),
        created_by: f.created_by.clone(),
        created_at: f.created_at,
        updated_at: f.updated_at,
        state_since: f.state_since,
        escalated_at: f.escalated_at,
        closed_at: f.closed_at,
    }
}

fn from_row(r: FeedbackRow) -> Result<Feedback> {
    let corrupt = |e: Error| Error::corrupt(format!("feedback {}", r.id), e.message().to_string());
    Ok(Feedback {
        source: r.source.parse().map_err(corrupt)?,
        state: r.state.parse().map_err(corrupt)?,
        id: r.id,
        version: r.version,
        conversation_id: r.conversation_id,
        turn_index: r.turn_index,
        complaint_id: r.complaint_id,
        customer_id: r.customer_id,
        category: r.category,
        content: r.content,
        department: r.department,
        owner_id: r.owner_id,
        due_at: r.due_at,
        response: r.response,
        responded_at: r.responded_at,
        customer_told_at: r.customer_told_at,
        reject_reason: r.reject_reason,
        created_by: r.created_by,
        created_at: r.created_at,
        updated_at: r.updated_at,
        state_since: r.state_since,
        escalated_at: r.escalated_at,
        closed_at: r.closed_at,
    })
}

fn event_row(id: &str, at: i64, actor: (&str, &str), e: &Event) -> FeedbackEventRow {
    FeedbackEventRow {
        id: 0,
        feedback_id: id.to_string(),
        at,
        actor_id: actor.0.to_string(),
        actor_role: actor.1.to_string(),
        kind: e.kind.to_string(),
        from_state: e.from.map(|s| s.as_str().to_string()),
        to_state: e.to.map(|s| s.as_str().to_string()),
        detail: e.detail.to_string(),
    }
}

fn optional(field: &str, v: &Option<String>) -> Result<Option<String>> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => checked_text(field, s, MAX_NAME_CHARS).map(Some),
    }
}

/// Files `f` (its id is assigned here: `FB-YYYYMMDD-NNNNNN`, by local day)
/// with its `created` history entry, inside the caller's transaction.
async fn file_in(tx: &mut Tx, mut f: Feedback, actor_role: &str) -> Result<Feedback> {
    let local = chrono::DateTime::from_timestamp_millis(f.created_at + LOCAL_OFFSET_S * 1000)
        .ok_or_else(|| Error::Invalid(format!("time out of range: {}", f.created_at)))?
        .format("%Y%m%d")
        .to_string();
    let n = tx.next_sequence(&format!("feedback-{local}")).await?;
    f.id = format!("FB-{local}-{n:06}");
    if !tx.insert_feedback(&to_row(&f)).await? {
        return Err(Error::Conflict(format!("conflict: id {} is taken", f.id)));
    }
    let created = Event {
        kind: "created",
        from: None,
        to: Some(FeedbackState::New),
        detail: serde_json::json!({"source": f.source.as_str(), "category": f.category}),
    };
    tx.append_feedback_event(&event_row(
        &f.id,
        f.created_at,
        (&f.created_by, actor_role),
        &created,
    ))
    .await?;
    Ok(f)
}

/// Files the comment of a satisfaction survey as information feedback
/// (source `survey_comment`, under the category the settings name in
/// `survey_comment_category`), in the transaction that records the survey:
/// the customer's words reach the feedback board without anyone copying
/// them. Nothing is filed when the comment is blank or the setting is
/// empty. Returns the record filed.
pub(crate) async fn file_survey_comment(
    tx: &mut Tx,
    complaint_id: &str,
    customer_id: Option<&str>,
    comment: &str,
    recorded_by: (&str, &str),
    now: i64,
) -> Result<Option<Feedback>> {
    let content = comment.trim();
    if content.is_empty() {
        return Ok(None);
    }
    let settings = settings_in(tx).await?;
    let category = settings.survey_comment_category.trim();
    if category.is_empty() || !settings.has_category(category) {
        return Ok(None);
    }
    let content: String = content.chars().take(MAX_TEXT_CHARS).collect();
    let f = Feedback {
        id: String::new(),
        version: 1,
        source: FeedbackSource::SurveyComment,
        conversation_id: None,
        turn_index: None,
        complaint_id: Some(complaint_id.to_string()),
        customer_id: customer_id.map(str::to_string),
        category: category.to_string(),
        content,
        department: None,
        owner_id: None,
        due_at: None,
        state: FeedbackState::New,
        response: None,
        responded_at: None,
        customer_told_at: None,
        reject_reason: None,
        created_by: recorded_by.0.to_string(),
        created_at: now,
        updated_at: now,
        state_since: now,
        escalated_at: None,
        closed_at: None,
    };
    file_in(tx, f, recorded_by.1).await.map(Some)
}

async fn settings_in(tx: &mut Tx) -> Result<FeedbackSettings> {
    match tx.settings(&[FEEDBACK_SETTINGS_KEY]).await?.pop() {
        None => Ok(FeedbackSettings::default()),
        Some((_, text)) => {
            serde_json::from_str(&text).map_err(|e| Error::corrupt("feedback settings", e))
        }
    }
}

impl FeedbackService {
    /// A service over `store`.
    pub fn new(store: Store) -> FeedbackService {
        FeedbackService { store }
    }

    /// The settings (defaults where none are stored).
    pub async fn settings(&self) -> Result<FeedbackSettings> {
        match self.store.setting(FEEDBACK_SETTINGS_KEY).await? {
            None => Ok(FeedbackSettings::default()),
            Some(text) => {
                serde_json::from_str(&text).map_err(|e| Error::corrupt("feedback settings", e))
            }
        }
    }

    /// Replaces the settings (supervisors and admins).
    pub async fn put_settings(&self, p: &Principal, s: &FeedbackSettings, now: i64) -> Result<()> {
        if !is_privileged(p) {
            return Err(Error::Forbidden(
                "only supervisors change feedback settings".into(),
            ));
        }
        s.validate()?;
        let text = serde_json::to_string(s).map_err(|e| Error::Internal(e.to_string()))?;
        let mut tx = self.store.write().await?;
        tx.put_setting(FEEDBACK_SETTINGS_KEY, &text, &p.user_id, now)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records feedback (any signed-in user). A `conversation_turn` must
    /// name a stored conversation and one of its turns; its text is the
    /// content when none is given, and the conversation's customer the
    /// customer. The id is generated: `FB-YYYYMMDD-NNNNNN` (China date).
    pub async fn create(&self, p: &Principal, input: NewFeedback, now: i64) -> Result<Feedback> {
        let source = input.source.unwrap_or(FeedbackSource::Manual);
        let category = checked_text("category", &input.category, MAX_NAME_CHARS * 4)?;
        let mut conversation_id = optional("conversation_id", &input.conversation_id)?;
        let mut customer_id = optional("customer_id", &input.customer_id)?;
        let complaint_id = optional("complaint_id", &input.complaint_id)?;
        let mut content = input.content.trim().to_string();
        let mut turn_index = input.turn_index;
        match source {
            FeedbackSource::ConversationTurn => {
                let (Some(cid), Some(turn)) = (&conversation_id, input.turn_index) else {
                    return Err(Error::Invalid(
                        "feedback from a conversation turn needs conversation_id and turn_index"
                            .into(),
                    ));
                };
                let conv = self
                    .store
                    .conversation(cid)
                    .await?
                    .ok_or_else(|| Error::not_found("conversation", cid))?;
                let t = usize::try_from(turn)
                    .ok()
                    .and_then(|i| conv.turns.get(i))
                    .ok_or_else(|| {
                        Error::invalid_field(
                            "turn_index",
                            format!("conversation {cid} has {} turns", conv.turns.len()),
                        )
                    })?;
                if content.is_empty() {
                    content = t.text.trim().to_string();
                }
                if customer_id.is_none() {
                    customer_id = conv.customer_id.as_deref().map(str::to_string);
                }
            }
            FeedbackSource::Complaint if complaint_id.is_none() => {
                return Err(Error::Invalid(
                    "feedback from a complaint needs complaint_id".into(),
                ));
            }
            _ => {
                if turn_index.is_some() && conversation_id.is_none() {
                    return Err(Error::invalid_field("turn_index", "needs conversation_id"));
                }
            }
        }
        if source != FeedbackSource::ConversationTurn && conversation_id.is_none() {
            turn_index = None;
        }
        let content = checked_text("content", &content, MAX_TEXT_CHARS)?;
        let mut tx = self.store.write().await?;
        let settings = settings_in(&mut tx).await?;
        if !settings.has_category(&category) {
            return Err(Error::invalid_field(
                "category",
                format!("`{category}` is not in the category tree"),
            ));
        }
        if let Some(c) = &complaint_id {
            if tx.complaint_version(c).await?.is_none() {
                return Err(Error::not_found("complaint", c));
            }
        }
        let f = Feedback {
            id: String::new(),
            version: 1,
            source,
            conversation_id: conversation_id.take(),
            turn_index,
            complaint_id,
            customer_id,
            category,
            content,
            department: None,
            owner_id: None,
            due_at: None,
            state: FeedbackState::New,
            response: None,
            responded_at: None,
            customer_told_at: None,
            reject_reason: None,
            created_by: p.user_id.clone(),
            created_at: now,
            updated_at: now,
            state_since: now,
            escalated_at: None,
            closed_at: None,
        };
        let f = file_in(&mut tx, f, p.role.as_str()).await?;
        tx.commit().await?;
        Ok(f)
    }

    /// Runs a command on a record. With `expected_version`, refuses
    /// ([`Error::Conflict`]) when the record moved on since.
    pub async fn execute(
        &self,
        p: &Principal,
        id: &str,
        cmd: &Command,
        expected_version: Option<i64>,
        now: i64,
    ) -> Result<Feedback> {
        let mut tx = self.store.write().await?;
        let settings = settings_in(&mut tx).await?;
        let f = match tx.lock_feedback(id).await? {
            Some(r) => from_row(r)?,
            None => return Err(Error::not_found("feedback", id)),
        };
        if !may_see(p, &f) {
            return Err(Error::not_found("feedback", id));
        }
        if let Some(v) = expected_version {
            if v != f.version {
                return Err(Error::Conflict(format!(
                    "conflict: feedback {id} is at version {}, not {v}",
                    f.version
                )));
            }
        }
        let default_due = now.saturating_add(settings.answer_within_ms()?);
        let (g, event) = apply(&f, cmd, p, now, default_due)?;
        if !tx.update_feedback(&to_row(&g), f.version).await? {
            return Err(Error::Conflict(format!(
                "conflict: feedback {id} changed meanwhile"
            )));
        }
        tx.append_feedback_event(&event_row(id, now, (&p.user_id, p.role.as_str()), &event))
            .await?;
        if matches!(cmd, Command::Assign { .. }) {
            notify_assigned(&mut tx, &g, now).await?;
        }
        tx.commit().await?;
        Ok(g)
    }

    /// A record with its history, as `p` may see it.
    pub async fn get(&self, p: &Principal, id: &str, now: i64) -> Result<FeedbackView> {
        let f = match self.store.feedback(id).await? {
            Some(r) => from_row(r)?,
            None => return Err(Error::not_found("feedback", id)),
        };
        if !may_see(p, &f) {
            return Err(Error::not_found("feedback", id));
        }
        let history = self
            .store
            .feedback_events(id)
            .await?
            .into_iter()
            .map(|e| {
                let state = |s: Option<String>| -> Result<Option<FeedbackState>> {
                    s.map(|s| s.parse()).transpose()
                };
                Ok(FeedbackEvent {
                    id: e.id,
                    at: e.at,
                    from_state: state(e.from_state)?,
                    to_state: state(e.to_state)?,
                    detail: serde_json::from_str(&e.detail)
                        .map_err(|err| Error::corrupt(format!("feedback {id} history"), err))?,
                    actor_id: e.actor_id,
                    actor_role: e.actor_role,
                    kind: e.kind,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(FeedbackView {
            overdue: f.is_overdue(now),
            available_commands: available(p, &f),
            history,
            feedback: f,
        })
    }

    /// A page of the records `p` may see (agents: those they recorded or
    /// own), newest first: `limit` after `cursor` (the `next` of the
    /// previous page).
    pub async fn list(
        &self,
        p: &Principal,
        filter: &FeedbackFilter,
        limit: i64,
        cursor: Option<&str>,
        now: i64,
    ) -> Result<FeedbackList> {
        let after = match cursor {
            None | Some("") => None,
            Some(c) => Some(
                FeedbackKey::from_cursor(c)
                    .ok_or_else(|| Error::invalid_field("cursor", "not a cursor of this list"))?,
            ),
        };
        let query = FeedbackQuery {
            states: filter
                .states
                .iter()
                .map(|s| s.as_str().to_string())
                .collect(),
            department: filter.department.clone(),
            owner: filter.owner.clone(),
            category: filter.category.clone(),
            source: filter.source.map(|s| s.as_str().to_string()),
            conversation_id: filter.conversation_id.clone(),
            customer_id: filter.customer_id.clone(),
            created_from: filter.from,
            created_to: filter.to,
            escalated: filter.escalated,
            involving: (p.role == Role::Agent).then(|| p.user_id.clone()),
            overdue_at: filter.overdue.then_some(now),
        };
        let page = self
            .store
            .feedback_page(&query, limit.clamp(1, 500), 0, after.as_ref())
            .await?;
        Ok(FeedbackList {
            items: page.rows.into_iter().map(from_row).collect::<Result<_>>()?,
            total: page.total,
            total_estimated: page.total_estimated,
            next: page.next.map(|k| k.to_cursor()),
        })
    }

    /// The board per department at `now`: counts per state (closed and
    /// rejected ones of the last 30 days), open, overdue and escalated.
    /// Staff only.
    pub async fn board(&self, p: &Principal, now: i64) -> Result<Vec<DepartmentBoard>> {
        if p.role == Role::Agent {
            return Err(Error::Forbidden("the feedback board is for staff".into()));
        }
        let rows = self
            .store
            .feedback_board(now, now - 30 * 86_400_000)
            .await?;
        let mut out: Vec<DepartmentBoard> = Vec::new();
        for r in rows {
            let state: FeedbackState = r.state.parse()?;
            if out.last().is_none_or(|b| b.department != r.department) {
                out.push(DepartmentBoard {
                    department: r.department.clone(),
                    ..DepartmentBoard::default()
                });
            }
            if let Some(b) = out.last_mut() {
                *b.counts.entry(state).or_default() += r.count;
                if state.is_open() {
                    b.open += r.count;
                }
                b.overdue += r.overdue;
                b.escalated += r.escalated;
            }
        }
        Ok(out)
    }

    /// The store.
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// Runs the ageing rules once at `now`: every open record that has
    /// stayed in a state longer than the rule for that state is flagged and
    /// gets an `escalated` history entry (actor `system`) — once per state
    /// it enters, however many nodes scan at once.
    pub async fn age(&self, now: i64) -> Result<AgeingOutcome> {
        let settings = self.settings().await?;
        let mut out = AgeingOutcome::default();
        for (state, limit_ms) in settings.ageing_ms()? {
            loop {
                let mut tx = self.store.write().await?;
                let due = tx
                    .claim_aged_feedback(state.as_str(), now - limit_ms, AGEING_BATCH)
                    .await?;
                let n = due.len();
                for r in due {
                    if !tx
                        .flag_feedback_escalated(&r.id, state.as_str(), now)
                        .await?
                    {
                        continue;
                    }
                    let event = Event {
                        kind: "escalated",
                        from: None,
                        to: None,
                        detail: serde_json::json!({
                            "state": state.as_str(),
                            "since": r.state_since,
                            "limit": settings.ageing.get(&state),
                            "department": r.department,
                            "owner_id": r.owner_id,
                        }),
                    };
                    tx.append_feedback_event(&event_row(
                        &r.id,
                        now,
                        (SYSTEM_ACTOR, SYSTEM_ACTOR),
                        &event,
                    ))
                    .await?;
                    out.escalated.push((r.id, state));
                }
                tx.commit().await?;
                if i64::try_from(n).unwrap_or(0) < AGEING_BATCH {
                    break;
                }
            }
        }
        Ok(out)
    }
}

/// Tells the new owner of an assigned record (`feedback.assigned`), in the
/// assignment's transaction.
async fn notify_assigned(tx: &mut Tx, g: &Feedback, now: i64) -> Result<()> {
    let Some(owner) = g.owner_id.as_deref() else {
        return Ok(());
    };
    let Some(user) = crate::notify::user_if_active(tx, owner).await? else {
        return Ok(());
    };
    crate::notify::Notification::new(
        crate::notify::Event::FeedbackAssigned,
        "feedback",
        g.id.clone(),
    )
    .title(format!("信息反馈 {} 已分派给您", g.id))
    // The customer's words stay in kefu (they may carry personal data):
    // the body names the category and the department only.
    .body(format!(
        "分类 {}；部门 {}",
        g.category,
        g.department.as_deref().unwrap_or("-")
    ))
    .link(format!("/feedback/{}", crate::notify::link_segment(&g.id)))
    .summary(serde_json::json!({
        "category": g.category,
        "department": g.department,
        "owner_id": g.owner_id,
        "due_at": g.due_at.map(kefu_store::json_time::rfc3339),
        "state": g.state,
    }))
    .to(user)
    .record(tx, now)
    .await?;
    Ok(())
}
