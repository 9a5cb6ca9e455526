//! [`HandoverService`]: shifts, handovers and their items persisted in the
//! [`Store`] — pre-fill from live data, create, edit while a draft,
//! submit, answer items, and the escalation scan. Each change is one
//! transaction that also appends its history entry.

use kefu_store::{
    DueObject, HandoverEventRow, HandoverItemRow, HandoverQuery, HandoverRow, ShiftRow, Store, Tx,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::{Principal, Role};
use crate::complaint::{Actor, ActorRole, Assignee, ComplaintService};
use crate::error::{Error, Result};
use crate::handover::model::{
    checked, handover_window, hhmm, next_shift, parse_hhmm, HandoverSettings, HandoverState,
    ItemInput, ItemKind, ItemState, Severity, Shift, ShiftTimes, LOCAL_OFFSET_MS, MAX_ITEM_TEXT,
};
use crate::notify::{Event, Notification};

/// The settings key of [`HandoverSettings`].
pub const HANDOVER_SETTINGS_KEY: &str = "handover";
/// The actor of the escalation scan.
pub const SYSTEM_ACTOR: &str = "system";
/// Items escalated per scan.
const ESCALATION_BATCH: i64 = 200;
/// Handovers per list.
const LIST_LIMIT: i64 = 200;

/// A shift of a team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TeamShift {
    /// The team.
    pub team: String,
    /// The shift.
    #[serde(flatten)]
    pub shift: Shift,
}

/// The next shift's window and the items live data suggests for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Prefill {
    /// The team.
    pub team: String,
    /// The outgoing shift.
    pub shift: String,
    /// The incoming shift.
    pub next_shift: String,
    /// Start of the window (the outgoing shift's end); RFC 3339 in JSON.
    #[serde(with = "kefu_store::json_time::unix_ms")]
    pub window_from: i64,
    /// End of the window (the next shift's end).
    #[serde(with = "kefu_store::json_time::unix_ms")]
    pub window_to: i64,
    /// The suggested items.
    pub items: Vec<ItemInput>,
}

/// A handover to create.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NewHandover {
    /// The outgoing shift's name (of the creator's team).
    pub shift: String,
    /// The incoming user, when one is named.
    pub to_user: Option<String>,
    /// A note for the whole handover.
    pub note: String,
    /// The items; `None`: pre-filled from live data.
    pub items: Option<Vec<ItemInput>>,
    /// Submit at once.
    pub submit: bool,
}

/// A handover's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Handover {
    /// Id (`HO-YYYYMMDD-NNNNNN`).
    pub id: String,
    /// Version.
    pub version: i64,
    /// The team.
    pub team: String,
    /// The outgoing shift.
    pub shift: String,
    /// The incoming shift.
    pub next_shift: String,
    /// The outgoing user.
    pub from_user: String,
    /// The incoming user, when named.
    pub to_user: Option<String>,
    /// Start of the window; RFC 3339 in JSON.
    #[serde(with = "kefu_store::json_time::unix_ms")]
    pub window_from: i64,
    /// End of the window.
    #[serde(with = "kefu_store::json_time::unix_ms")]
    pub window_to: i64,
    /// The note.
    pub note: String,
    /// State.
    pub state: HandoverState,
    /// Created.
    #[serde(with = "kefu_store::json_time::unix_ms")]
    pub created_at: i64,
    /// Last change.
    #[serde(with = "kefu_store::json_time::unix_ms")]
    pub updated_at: i64,
    /// Submitted.
    #[serde(with = "kefu_store::json_time::opt_unix_ms")]
    pub submitted_at: Option<i64>,
    /// Acknowledged.
    #[serde(with = "kefu_store::json_time::opt_unix_ms")]
    pub acknowledged_at: Option<i64>,
}

/// An item of a handover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HandoverItem {
    /// Id.
    pub id: i64,
    /// What it is about.
    pub kind: ItemKind,
    /// The object it links to.
    pub object_id: Option<String>,
    /// The dashboard page of that object.
    pub link: Option<String>,
    /// What it is.
    pub title: String,
    /// 正常 / 关注 / 紧急.
    pub severity: Severity,
    /// What to do.
    pub action: String,
    /// Who does it.
    pub owner: Option<String>,
    /// By when.
    #[serde(with = "kefu_store::json_time::opt_unix_ms")]
    pub due_at: Option<i64>,
    /// 若…则…
    pub contingency: String,
    /// State.
    pub state: ItemState,
    /// The incoming user's own words, next to the original.
    pub restatement: Option<String>,
    /// Why it is disputed.
    pub dispute_reason: Option<String>,
    /// Who answered it.
    pub answered_by: Option<String>,
    /// When.
    #[serde(with = "kefu_store::json_time::opt_unix_ms")]
    pub answered_at: Option<i64>,
    /// Escalated to the supervisor.
    pub escalated: bool,
}

/// An entry of a handover's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HandoverEvent {
    /// Row id; entries are in id order.
    pub id: i64,
    /// The item, for item entries.
    pub item_id: Option<i64>,
    /// When; RFC 3339 in JSON.
    #[serde(with = "kefu_store::json_time::unix_ms")]
    pub at: i64,
    /// Who (`system` for escalations).
    pub actor_id: String,
    /// What: `created`, `items_replaced`, `submitted`, `acknowledged`,
    /// `restated`, `disputed`, `escalated`, `complaint_assigned`,
    /// `complaint_not_assigned`.
    pub kind: String,
    /// Details, a JSON object.
    pub detail: serde_json::Value,
}

/// A handover with its items, history and what the viewer may do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HandoverView {
    /// The record.
    pub handover: Handover,
    /// The items, in order.
    pub items: Vec<HandoverItem>,
    /// The history, oldest first.
    pub history: Vec<HandoverEvent>,
    /// The viewer may edit and submit it (the outgoing user, a draft).
    pub may_edit: bool,
    /// The viewer may answer its items (the next shift).
    pub may_answer: bool,
}

/// The incoming user's answer to an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Answer {
    /// 确认, optionally restated in the user's own words.
    Acknowledge {
        /// Their own words (kept next to the original).
        #[serde(default)]
        restatement: Option<String>,
    },
    /// 有异议, with a reason.
    Dispute {
        /// Why.
        reason: String,
    },
}

/// Which handovers a list holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListView {
    /// Those the viewer handed over.
    Mine,
    /// Submitted ones the viewer may answer.
    Waiting,
    /// Those with an escalated item (supervisors: all; others: their team).
    Escalated,
}

/// An item the escalation scan escalated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EscalatedItem {
    /// The handover.
    pub handover_id: String,
    /// The item.
    pub item_id: i64,
    /// The team (whose supervisor is told).
    pub team: String,
    /// The item's title.
    pub title: String,
}

/// Shift handover over a store.
#[derive(Debug, Clone)]
pub struct HandoverService {
    store: Store,
}

fn is_privileged(p: &Principal) -> bool {
    matches!(p.role, Role::Supervisor | Role::Admin)
}

fn handover_of(r: HandoverRow) -> Result<Handover> {
    let state = r.state.parse().map_err(|e: Error| {
        Error::corrupt(format!("handover {}", r.id), e.message().to_string())
    })?;
    Ok(Handover {
        id: r.id,
        version: r.version,
        team: r.team,
        shift: r.shift_name,
        next_shift: r.next_shift_name,
        from_user: r.from_user,
        to_user: r.to_user,
        window_from: r.window_from,
        window_to: r.window_to,
        note: r.note,
        state,
        created_at: r.created_at,
        updated_at: r.updated_at,
        submitted_at: r.submitted_at,
        acknowledged_at: r.acknowledged_at,
    })
}

fn row_of(h: &Handover) -> HandoverRow {
    HandoverRow {
        id: h.id.clone(),
        version: h.version,
        team: h.team.clone(),
        shift_name: h.shift.clone(),
        next_shift_name: h.next_shift.clone(),
        from_user: h.from_user.clone(),
        to_user: h.to_user.clone(),
        window_from: h.window_from,
        window_to: h.window_to,
        note: h.note.clone(),
        state: h.state.as_str().to_string(),
        created_at: h.created_at,
        updated_at: h.updated_at,
        submitted_at: h.submitted_at,
        acknowledged_at: h.acknowledged_at,
    }
}

fn item_of(r: HandoverItemRow, escalated: &[i64]) -> Result<HandoverItem> {
    let corrupt =
        |e: Error| Error::corrupt(format!("handover item {}", r.id), e.message().to_string());
    let kind: ItemKind = r.kind.parse().map_err(corrupt)?;
    Ok(HandoverItem {
        link: r.object_id.as_deref().and_then(|o| kind.link(o)),
        kind,
        severity: r.severity.parse().map_err(corrupt)?,
        state: r.state.parse().map_err(corrupt)?,
        escalated: escalated.contains(&r.id),
        id: r.id,
        object_id: r.object_id,
        title: r.title,
        action: r.action,
        owner: r.owner,
        due_at: r.due_at,
        contingency: r.contingency,
        restatement: r.restatement,
        dispute_reason: r.dispute_reason,
        answered_by: r.answered_by,
        answered_at: r.answered_at,
    })
}

fn event(
    id: &str,
    item: Option<i64>,
    at: i64,
    actor: &str,
    kind: &str,
    detail: serde_json::Value,
) -> HandoverEventRow {
    HandoverEventRow {
        id: 0,
        handover_id: id.to_string(),
        item_id: item,
        at,
        actor_id: actor.to_string(),
        kind: kind.to_string(),
        detail: detail.to_string(),
    }
}

/// Whether `p` may see `h`: staff and inspectors see every handover;
/// agents those of their team or addressed to them.
fn may_see(p: &Principal, h: &Handover) -> bool {
    p.role != Role::Agent
        || h.from_user == p.user_id
        || h.to_user.as_deref() == Some(p.user_id.as_str())
        || p.team.as_deref() == Some(h.team.as_str())
}

/// Whether `p` may answer the items of `h`: someone of the next shift —
/// the named incoming user, else a member of the team — or a supervisor;
/// never the outgoing user, only while it waits.
fn may_answer(p: &Principal, h: &Handover) -> bool {
    if !matches!(h.state, HandoverState::Submitted | HandoverState::Disputed) {
        return false;
    }
    if h.from_user == p.user_id {
        return false;
    }
    match p.role {
        Role::Supervisor | Role::Admin => true,
        Role::Inspector => false,
        Role::Agent => match &h.to_user {
            Some(u) => *u == p.user_id,
            None => p.team.as_deref() == Some(h.team.as_str()),
        },
    }
}

fn checked_item(i: &ItemInput) -> Result<ItemInput> {
    let object_id = match i.object_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(o) => Some(checked("object_id", o, 200, true)?),
    };
    if i.kind != ItemKind::Free && object_id.is_none() {
        return Err(Error::Invalid(format!(
            "a `{}` item needs object_id",
            i.kind.as_str()
        )));
    }
    let owner = match i.owner.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(o) => Some(checked("owner", o, 100, true)?),
    };
    Ok(ItemInput {
        kind: i.kind,
        object_id,
        parent_id: i.parent_id.clone(),
        title: checked("title", &i.title, 500, true)?,
        severity: i.severity,
        action: checked("action", &i.action, MAX_ITEM_TEXT, false)?,
        owner,
        due_at: i.due_at,
        contingency: checked("contingency", &i.contingency, MAX_ITEM_TEXT, false)?,
    })
}

fn item_row(handover_id: &str, position: usize, i: &ItemInput) -> HandoverItemRow {
    HandoverItemRow {
        id: 0,
        handover_id: handover_id.to_string(),
        position: i64::try_from(position).unwrap_or(i64::MAX),
        kind: i.kind.as_str().to_string(),
        object_id: i.object_id.clone(),
        title: i.title.clone(),
        severity: i.severity.as_str().to_string(),
        action: i.action.clone(),
        owner: i.owner.clone(),
        due_at: i.due_at,
        contingency: i.contingency.clone(),
        state: ItemState::Pending.as_str().to_string(),
        restatement: None,
        dispute_reason: None,
        answered_by: None,
        answered_at: None,
    }
}

fn items_json(items: &[ItemInput]) -> serde_json::Value {
    json!(items)
}

async fn settings_in(tx: &mut Tx) -> Result<HandoverSettings> {
    match tx.settings(&[HANDOVER_SETTINGS_KEY]).await?.pop() {
        None => Ok(HandoverSettings::default()),
        Some((_, text)) => {
            serde_json::from_str(&text).map_err(|e| Error::corrupt("handover settings", e))
        }
    }
}

/// Local (China time) `YYYY-MM-DD HH:MM` of Unix ms, for titles.
fn local_text(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms + LOCAL_OFFSET_MS)
        .map_or_else(|| ms.to_string(), |t| t.format("%m-%d %H:%M").to_string())
}

impl HandoverService {
    /// A service over `store`.
    pub fn new(store: Store) -> HandoverService {
        HandoverService { store }
    }

    /// The settings (defaults where none are stored).
    pub async fn settings(&self) -> Result<HandoverSettings> {
        match self.store.setting(HANDOVER_SETTINGS_KEY).await? {
            None => Ok(HandoverSettings::default()),
            Some(text) => {
                serde_json::from_str(&text).map_err(|e| Error::corrupt("handover settings", e))
            }
        }
    }

    /// Replaces the settings (supervisors and admins).
    pub async fn put_settings(&self, p: &Principal, s: &HandoverSettings, now: i64) -> Result<()> {
        if !is_privileged(p) {
            return Err(Error::Forbidden(
                "only supervisors change handover settings".into(),
            ));
        }
        s.validate()?;
        let text = serde_json::to_string(s).map_err(|e| Error::Internal(e.to_string()))?;
        let mut tx = self.store.write().await?;
        tx.put_setting(HANDOVER_SETTINGS_KEY, &text, &p.user_id, now)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The shifts of `team` (every team's when `None`).
    pub async fn shifts(&self, team: Option<&str>) -> Result<Vec<TeamShift>> {
        Ok(self
            .store
            .handover_shifts(team)
            .await?
            .into_iter()
            .map(|r| TeamShift {
                team: r.team,
                shift: Shift {
                    name: r.name,
                    start: hhmm(r.start_min),
                    end: hhmm(r.end_min),
                },
            })
            .collect())
    }

    /// Replaces the shifts of `team` (supervisors and admins). Names must
    /// be distinct; times `HH:MM`.
    pub async fn put_shifts(
        &self,
        p: &Principal,
        team: &str,
        shifts: &[Shift],
        now: i64,
    ) -> Result<Vec<TeamShift>> {
        if !is_privileged(p) {
            return Err(Error::Forbidden("only supervisors configure shifts".into()));
        }
        let team = checked("team", team, 100, true)?;
        let mut rows = Vec::with_capacity(shifts.len());
        for s in shifts {
            let name = checked("name", &s.name, 50, true)?;
            if rows.iter().any(|r: &ShiftRow| r.name == name) {
                return Err(Error::Invalid(format!("shift `{name}` is listed twice")));
            }
            rows.push(ShiftRow {
                id: 0,
                team: team.clone(),
                name,
                start_min: parse_hhmm("start", &s.start)?,
                end_min: parse_hhmm("end", &s.end)?,
            });
        }
        let mut tx = self.store.write().await?;
        tx.replace_shifts(&team, &rows, now).await?;
        tx.commit().await?;
        self.shifts(Some(&team)).await
    }

    /// The window of the next shift after `shift` of `p`'s team at `now`
    /// and the items live data suggests for it: `p`'s complaints (or their
    /// team's) whose first-response or resolution deadline falls in it,
    /// revisits and information feedback due, customer follow-ups due and
    /// care reminders of its days, open appeals.
    pub async fn prefill(&self, p: &Principal, shift: &str, now: i64) -> Result<Prefill> {
        let team = p
            .team
            .clone()
            .ok_or_else(|| Error::Invalid("the user has no team, so no shifts".into()))?;
        let rows = self.store.handover_shifts(Some(&team)).await?;
        let times: Vec<ShiftTimes> = rows
            .iter()
            .map(|r| ShiftTimes {
                start: r.start_min,
                end: r.end_min,
            })
            .collect();
        let current = rows
            .iter()
            .position(|r| r.name == shift.trim())
            .ok_or_else(|| Error::Invalid(format!("team {team} has no shift `{shift}`")))?;
        let next = next_shift(&times, current).unwrap_or(current);
        let (from, to) = handover_window(times[current], times[next], now);
        let items = self.live_items(p, &team, from, to, now).await?;
        Ok(Prefill {
            team,
            shift: rows[current].name.clone(),
            next_shift: rows[next].name.clone(),
            window_from: from,
            window_to: to,
            items,
        })
    }

    async fn live_items(
        &self,
        p: &Principal,
        team: &str,
        from: i64,
        to: i64,
        now: i64,
    ) -> Result<Vec<ItemInput>> {
        let user = p.user_id.as_str();
        let mut items = Vec::new();
        let mut push = |kind: ItemKind,
                        o: DueObject,
                        severity,
                        title: String,
                        action: String,
                        contingency: String,
                        due: bool| {
            items.push(ItemInput {
                kind,
                parent_id: o.parent_id.clone(),
                object_id: Some(o.id),
                title,
                severity,
                action,
                owner: None,
                due_at: due.then_some(o.due_at),
                contingency,
            });
        };
        for o in self
            .store
            .handover_complaints_due(user, team, true, from, to)
            .await?
        {
            let t = local_text(o.due_at);
            push(
                ItemKind::ComplaintReply,
                o.clone(),
                Severity::Urgent,
                format!("投诉 {}（{}）首次答复 {t} 到期", o.id, o.label),
                "在到期前答复客户（12 小时首次答复）".into(),
                "若届时仍无法答复客户，则先致电说明进展并报告主管".into(),
                true,
            );
        }
        for o in self
            .store
            .handover_complaints_due(user, team, false, from, to)
            .await?
        {
            let t = local_text(o.due_at);
            push(
                ItemKind::ComplaintResolve,
                o.clone(),
                Severity::Urgent,
                format!("投诉 {}（{}）解决时限 {t} 到期", o.id, o.label),
                "在 48 小时解决时限内处理完毕".into(),
                "若无法按时解决，则报告主管并告知客户预计时间".into(),
                true,
            );
        }
        for o in self
            .store
            .handover_revisits_due(user, team, from, to)
            .await?
        {
            let c = o.parent_id.clone().unwrap_or_default();
            let t = local_text(o.due_at);
            // The item links to the complaint whose revisit it is.
            let o = DueObject {
                id: c.clone(),
                parent_id: Some(o.id),
                ..o
            };
            push(
                ItemKind::Revisit,
                o,
                Severity::Watch,
                format!("投诉 {c} 回访 {t} 到期"),
                "按时回访客户并记录结果".into(),
                "若客户未接通，则两小时后再拨并记录".into(),
                true,
            );
        }
        for o in self.store.handover_follow_ups_due(user, from, to).await? {
            let t = local_text(o.due_at);
            push(
                ItemKind::FollowUp,
                o.clone(),
                Severity::Normal,
                format!("客户 {} 跟进 {t} 到期", o.id),
                "联系客户并记录联系结果".into(),
                "若客户不便接听，则约定回电时间".into(),
                true,
            );
        }
        for o in self.store.handover_feedback_due(user, from, to).await? {
            let t = local_text(o.due_at);
            push(
                ItemKind::Feedback,
                o.clone(),
                Severity::Watch,
                format!("信息反馈 {}（{}）{t} 到期", o.id, o.label),
                "催办部门答复并告知客户".into(),
                "若部门未按时答复，则报告主管".into(),
                true,
            );
        }
        let appeal_owner = if is_privileged(p) { None } else { Some(user) };
        for o in self.store.handover_open_appeals(appeal_owner, to).await? {
            push(
                ItemKind::Appeal,
                o.clone(),
                Severity::Normal,
                format!("申诉 #{}（{}）待处理", o.id, o.label),
                "跟进申诉结果".into(),
                "若结果有疑问，则与主管沟通".into(),
                false,
            );
        }
        // Care reminders: today's and tomorrow's of the user's customers,
        // those of the window's local days and not done yet.
        let care = crate::customer::CustomerService::new(self.store.clone())
            .care(p, user, now, 2)
            .await?;
        let first_day =
            chrono::DateTime::from_timestamp_millis(from + LOCAL_OFFSET_MS).map(|t| t.date_naive());
        let last_day = chrono::DateTime::from_timestamp_millis(to - 1 + LOCAL_OFFSET_MS)
            .map(|t| t.date_naive());
        if let (Some(first), Some(last)) = (first_day, last_day) {
            for c in care.into_iter().filter(|c| !c.done) {
                let r = c.reminder;
                if r.on < first || r.on > last {
                    continue;
                }
                items.push(ItemInput {
                    kind: ItemKind::Care,
                    object_id: Some(r.customer_id.clone()),
                    parent_id: None,
                    title: format!("客户 {} {}（{}）", r.customer_id, r.label, r.on),
                    severity: Severity::Normal,
                    action: "致以问候并记录关怀联系".into(),
                    owner: None,
                    due_at: None,
                    contingency: "若联系不上，则改发短信问候".into(),
                });
            }
        }
        Ok(items)
    }

    /// Creates a handover of `p`'s shift `input.shift` as a draft (items
    /// pre-filled from live data unless given), or submitted at once with
    /// `input.submit`.
    pub async fn create(
        &self,
        p: &Principal,
        input: NewHandover,
        now: i64,
    ) -> Result<HandoverView> {
        let prefill = self.prefill(p, &input.shift, now).await?;
        let items: Vec<ItemInput> = match &input.items {
            Some(list) => list.iter().map(checked_item).collect::<Result<_>>()?,
            None => prefill.items.clone(),
        };
        let to_user = match input.to_user.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(u) => Some(checked("to_user", u, 100, true)?),
        };
        if to_user.as_deref() == Some(p.user_id.as_str()) {
            return Err(Error::Invalid("a handover goes to someone else".into()));
        }
        let note = checked("note", &input.note, MAX_ITEM_TEXT, false)?;
        let mut tx = self.store.write().await?;
        let local = chrono::DateTime::from_timestamp_millis(now + LOCAL_OFFSET_MS)
            .ok_or_else(|| Error::Invalid(format!("time out of range: {now}")))?
            .format("%Y%m%d")
            .to_string();
        let n = tx.next_sequence(&format!("handover-{local}")).await?;
        let h = Handover {
            id: format!("HO-{local}-{n:06}"),
            version: 1,
            team: prefill.team.clone(),
            shift: prefill.shift.clone(),
            next_shift: prefill.next_shift.clone(),
            from_user: p.user_id.clone(),
            to_user,
            window_from: prefill.window_from,
            window_to: prefill.window_to,
            note,
            state: HandoverState::Draft,
            created_at: now,
            updated_at: now,
            submitted_at: None,
            acknowledged_at: None,
        };
        if !tx.insert_handover(&row_of(&h)).await? {
            return Err(Error::Conflict(format!("conflict: id {} is taken", h.id)));
        }
        for (pos, i) in items.iter().enumerate() {
            tx.insert_handover_item(&item_row(&h.id, pos, i)).await?;
        }
        tx.append_handover_event(&event(
            &h.id,
            None,
            now,
            &p.user_id,
            "created",
            json!({"shift": h.shift, "next_shift": h.next_shift, "to_user": h.to_user, "items": items_json(&items)}),
        ))
        .await?;
        tx.commit().await?;
        if input.submit {
            return self.submit(p, &h.id, None, now).await;
        }
        self.get(p, &h.id).await
    }

    async fn lock(
        &self,
        tx: &mut Tx,
        p: &Principal,
        id: &str,
        expected: Option<i64>,
    ) -> Result<Handover> {
        let h = match tx.lock_handover(id).await? {
            Some(r) => handover_of(r)?,
            None => return Err(Error::not_found("handover", id)),
        };
        if !may_see(p, &h) {
            return Err(Error::not_found("handover", id));
        }
        if let Some(v) = expected {
            if v != h.version {
                return Err(Error::Conflict(format!(
                    "conflict: handover {id} is at version {}, not {v}",
                    h.version
                )));
            }
        }
        Ok(h)
    }

    async fn save(&self, tx: &mut Tx, h: &Handover, was: i64) -> Result<()> {
        if !tx.update_handover(&row_of(h), was).await? {
            return Err(Error::Conflict(format!(
                "conflict: handover {} changed meanwhile",
                h.id
            )));
        }
        Ok(())
    }

    /// Replaces the items (and the note) of a draft (its outgoing user).
    pub async fn replace_items(
        &self,
        p: &Principal,
        id: &str,
        items: &[ItemInput],
        note: Option<&str>,
        expected_version: Option<i64>,
        now: i64,
    ) -> Result<HandoverView> {
        let items: Vec<ItemInput> = items.iter().map(checked_item).collect::<Result<_>>()?;
        let mut tx = self.store.write().await?;
        let mut h = self.lock(&mut tx, p, id, expected_version).await?;
        if h.from_user != p.user_id {
            return Err(Error::Forbidden(
                "only the outgoing user edits a handover".into(),
            ));
        }
        if h.state != HandoverState::Draft {
            return Err(Error::Conflict(
                "conflict: a submitted handover is not edited; the next shift restates or disputes its items".into(),
            ));
        }
        tx.delete_draft_items(id).await?;
        for (pos, i) in items.iter().enumerate() {
            tx.insert_handover_item(&item_row(id, pos, i)).await?;
        }
        let was = h.version;
        h.version += 1;
        h.updated_at = now;
        if let Some(n) = note {
            h.note = checked("note", n, MAX_ITEM_TEXT, false)?;
        }
        self.save(&mut tx, &h, was).await?;
        tx.append_handover_event(&event(
            id,
            None,
            now,
            &p.user_id,
            "items_replaced",
            json!({"items": items_json(&items), "note": h.note}),
        ))
        .await?;
        tx.commit().await?;
        self.get(p, id).await
    }

    /// Submits a draft (its outgoing user): it now waits for the next shift.
    pub async fn submit(
        &self,
        p: &Principal,
        id: &str,
        expected_version: Option<i64>,
        now: i64,
    ) -> Result<HandoverView> {
        let mut tx = self.store.write().await?;
        let mut h = self.lock(&mut tx, p, id, expected_version).await?;
        if h.from_user != p.user_id {
            return Err(Error::Forbidden(
                "only the outgoing user submits a handover".into(),
            ));
        }
        if h.state != HandoverState::Draft {
            return Err(Error::Conflict(
                "conflict: the handover is already submitted".into(),
            ));
        }
        let items = tx.handover_items_in(id).await?;
        if items.is_empty() {
            return Err(Error::Invalid(
                "a handover needs at least one item (add a free item such as 无特殊事项)".into(),
            ));
        }
        let was = h.version;
        h.version += 1;
        h.updated_at = now;
        h.submitted_at = Some(now);
        h.state = HandoverState::Submitted;
        self.save(&mut tx, &h, was).await?;
        tx.append_handover_event(&event(
            id,
            None,
            now,
            &p.user_id,
            "submitted",
            json!({"items": items.len()}),
        ))
        .await?;
        // The next shift hears of it: the named user, else the team (less
        // the one handing over).
        let to: Vec<String> = match &h.to_user {
            Some(u) => vec![u.clone()],
            None => crate::notify::team_members(&mut tx, &h.team)
                .await?
                .into_iter()
                .filter(|u| *u != h.from_user)
                .collect(),
        };
        Notification::new(Event::HandoverWaiting, "handover", id)
            .title(format!("交接班 {id} 待接收（{} → {}）", h.shift, h.next_shift))
            .body(format!("{} 交出 {} 项，请逐项确认。", h.from_user, items.len()))
            .link(format!("/handovers/{}", crate::notify::link_segment(id)))
            .summary(json!({"team": h.team, "shift": h.shift, "next_shift": h.next_shift, "items": items.len()}))
            .to_all(to)
            .record(&mut tx, now)
            .await?;
        tx.commit().await?;
        self.get(p, id).await
    }

    /// Answers item `item_id` (someone of the next shift): acknowledge,
    /// with an optional restatement, or dispute with a reason. When every
    /// item is acknowledged the handover is acknowledged; when every item
    /// is answered and some are disputed, it is disputed. Acknowledging a
    /// complaint item assigns the complaint to `p`.
    pub async fn answer(
        &self,
        p: &Principal,
        id: &str,
        item_id: i64,
        answer: &Answer,
        now: i64,
    ) -> Result<HandoverView> {
        let mut tx = self.store.write().await?;
        let mut h = self.lock(&mut tx, p, id, None).await?;
        if !may_answer(p, &h) {
            return Err(Error::Forbidden(match h.state {
                HandoverState::Draft => "the handover is not submitted yet".into(),
                HandoverState::Acknowledged => "the handover is already acknowledged".into(),
                _ => "only the next shift of the team answers this handover".into(),
            }));
        }
        let mut items = tx.handover_items_in(id).await?;
        let Some(item) = items.iter_mut().find(|i| i.id == item_id) else {
            return Err(Error::not_found("handover item", item_id));
        };
        if item.state == ItemState::Acknowledged.as_str() {
            return Err(Error::Conflict(
                "conflict: the item is already acknowledged".into(),
            ));
        }
        let (kind, detail) = match answer {
            Answer::Acknowledge { restatement } => {
                let restated = match restatement.as_deref().map(str::trim) {
                    None | Some("") => None,
                    Some(r) => Some(checked("restatement", r, MAX_ITEM_TEXT, true)?),
                };
                item.state = ItemState::Acknowledged.as_str().to_string();
                item.restatement = restated.clone();
                match restated {
                    Some(r) => (
                        "restated",
                        json!({"restatement": r, "original": item.action}),
                    ),
                    None => ("acknowledged", json!({})),
                }
            }
            Answer::Dispute { reason } => {
                let reason = checked("reason", reason, MAX_ITEM_TEXT, true)?;
                item.state = ItemState::Disputed.as_str().to_string();
                item.dispute_reason = Some(reason.clone());
                ("disputed", json!({"reason": reason}))
            }
        };
        item.answered_by = Some(p.user_id.clone());
        item.answered_at = Some(now);
        tx.answer_handover_item(item).await?;
        let complaint = (item.kind == ItemKind::ComplaintReply.as_str()
            || item.kind == ItemKind::ComplaintResolve.as_str())
            && kind != "disputed";
        let complaint_id = item.object_id.clone().filter(|_| complaint);
        tx.append_handover_event(&event(id, Some(item_id), now, &p.user_id, kind, detail))
            .await?;
        let all_acked = items
            .iter()
            .all(|i| i.state == ItemState::Acknowledged.as_str());
        let all_answered = items.iter().all(|i| i.state != ItemState::Pending.as_str());
        let next = if all_acked {
            HandoverState::Acknowledged
        } else if all_answered {
            HandoverState::Disputed
        } else {
            HandoverState::Submitted
        };
        let was = h.version;
        h.version += 1;
        h.updated_at = now;
        if next != h.state {
            h.state = next;
            if next == HandoverState::Acknowledged {
                h.acknowledged_at = Some(now);
            }
            tx.append_handover_event(&event(
                id,
                None,
                now,
                &p.user_id,
                next.as_str(),
                json!({"state": next.as_str()}),
            ))
            .await?;
        }
        self.save(&mut tx, &h, was).await?;
        tx.commit().await?;
        if let Some(cid) = complaint_id {
            self.take_complaint(p, id, item_id, &cid, now).await?;
        }
        self.get(p, id).await
    }

    /// Moves complaint `cid` to `p` through the complaint service (its
    /// history records the assignment, by `handover:<id>`), and notes it in
    /// the handover's history.
    async fn take_complaint(
        &self,
        p: &Principal,
        id: &str,
        item_id: i64,
        cid: &str,
        now: i64,
    ) -> Result<()> {
        let complaints = ComplaintService::new(self.store.clone());
        let actor = Actor::new(format!("handover:{id}"), ActorRole::Supervisor);
        let at = chrono::DateTime::from_timestamp_millis(now)
            .ok_or_else(|| Error::Invalid(format!("time out of range: {now}")))?;
        let Some(view) = complaints.get(cid, &actor, at).await? else {
            return Ok(());
        };
        if view.complaint.is_assigned_to_agent(&p.user_id) {
            return Ok(());
        }
        let from = view.complaint.assignee.as_ref().map(ToString::to_string);
        let outcome = complaints
            .execute(
                cid,
                None,
                &actor,
                crate::complaint::Command::Assign {
                    assignee: Assignee::Agent(p.user_id.clone()),
                },
                at,
            )
            .await;
        // The item stays acknowledged either way; a complaint the lifecycle
        // refuses to move (closed, say) is noted in the history instead.
        let (kind, detail) = match outcome {
            Ok(_) => (
                "complaint_assigned",
                json!({"complaint_id": cid, "from": from, "to": p.user_id}),
            ),
            Err(Error::Busy(m)) => return Err(Error::Busy(m)),
            Err(e) => (
                "complaint_not_assigned",
                json!({"complaint_id": cid, "reason": e.message()}),
            ),
        };
        let mut tx = self.store.write().await?;
        tx.append_handover_event(&event(id, Some(item_id), now, &p.user_id, kind, detail))
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A handover with its items and history, as `p` may see it.
    pub async fn get(&self, p: &Principal, id: &str) -> Result<HandoverView> {
        let h = match self.store.handover(id).await? {
            Some(r) => handover_of(r)?,
            None => return Err(Error::not_found("handover", id)),
        };
        if !may_see(p, &h) {
            return Err(Error::not_found("handover", id));
        }
        let escalated = self.store.handover_escalated_items(id).await?;
        let items = self
            .store
            .handover_items(id)
            .await?
            .into_iter()
            .map(|r| item_of(r, &escalated))
            .collect::<Result<Vec<_>>>()?;
        let history = self
            .store
            .handover_events(id)
            .await?
            .into_iter()
            .map(|e| HandoverEvent {
                detail: serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::Null),
                id: e.id,
                item_id: e.item_id,
                at: e.at,
                actor_id: e.actor_id,
                kind: e.kind,
            })
            .collect();
        Ok(HandoverView {
            may_edit: h.from_user == p.user_id && h.state == HandoverState::Draft,
            may_answer: may_answer(p, &h),
            handover: h,
            items,
            history,
        })
    }

    /// The handovers of a view: `mine` (handed over by `p`), `waiting`
    /// (submitted or disputed, which `p` may answer), `escalated` (with an
    /// escalated item: every team's for supervisors, `p`'s team's
    /// otherwise). Newest first, at most 200.
    pub async fn list(&self, p: &Principal, view: ListView) -> Result<Vec<Handover>> {
        let mut q = HandoverQuery::default();
        match view {
            ListView::Mine => q.from_user = Some(p.user_id.clone()),
            ListView::Waiting => {
                q.states = vec!["submitted".into(), "disputed".into()];
                if !is_privileged(p) {
                    q.team = Some(p.team.clone().unwrap_or_default());
                }
            }
            ListView::Escalated => {
                q.escalated = true;
                if !is_privileged(p) && p.role != Role::Inspector {
                    q.team = Some(p.team.clone().unwrap_or_default());
                }
            }
        }
        let rows = self.store.handovers(&q, LIST_LIMIT).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let h = handover_of(r)?;
            let keep = match view {
                ListView::Waiting => may_answer(p, &h),
                _ => may_see(p, &h),
            };
            if keep {
                out.push(h);
            }
        }
        Ok(out)
    }

    /// Escalates urgent (紧急) items not acknowledged
    /// [`HandoverSettings::escalate_after_minutes`] after their handover was
    /// submitted: each is recorded once (the escalation row's key is the
    /// item; however many nodes scan at once, one inserts it and appends
    /// the history entry) and returned. Safe to run on every node.
    pub async fn escalate_overdue(&self, now: i64, node_id: &str) -> Result<Vec<EscalatedItem>> {
        let mut tx = self.store.write().await?;
        let settings = settings_in(&mut tx).await?;
        let cutoff = now.saturating_sub(settings.escalate_after_minutes.saturating_mul(60_000));
        let candidates = tx.overdue_urgent_items(cutoff, ESCALATION_BATCH).await?;
        let mut out = Vec::new();
        for c in candidates {
            if !tx
                .insert_handover_escalation(c.item_id, &c.handover_id, now, node_id)
                .await?
            {
                continue;
            }
            tx.append_handover_event(&event(
                &c.handover_id,
                Some(c.item_id),
                now,
                SYSTEM_ACTOR,
                "escalated",
                json!({"to": "supervisor", "team": c.team, "after_minutes": settings.escalate_after_minutes, "node": node_id}),
            ))
            .await?;
            // Escalation goes to supervisors: kefu knows no team leads.
            let supervisors = crate::notify::supervisors(&mut tx).await?;
            Notification::new(Event::HandoverEscalated, "handover", c.handover_id.clone())
                // The item's words stay in kefu: e-mail and webhooks leave it.
                .title(format!("交接班 {} 有紧急事项未确认", c.handover_id))
                .body(format!(
                    "班组 {} 的紧急事项提交 {} 分钟后仍未确认。",
                    c.team, settings.escalate_after_minutes
                ))
                .link(format!(
                    "/handovers/{}",
                    crate::notify::link_segment(&c.handover_id)
                ))
                .summary(json!({"team": c.team, "item": c.item_id}))
                .to_all(supervisors)
                .record(&mut tx, now)
                .await?;
            out.push(EscalatedItem {
                handover_id: c.handover_id,
                item_id: c.item_id,
                team: c.team,
                title: c.title,
            });
        }
        tx.commit().await?;
        Ok(out)
    }
}
