//! The notification a service records with its event.

use kefu_store::outbox::NewNotification;
use kefu_store::Tx;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What happened. The names (`complaint.escalated`, …) are those of the
/// webhook bodies and the endpoints' event filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Event {
    /// An SLA clock of a complaint breached: escalated to supervisors.
    #[serde(rename = "complaint.escalated")]
    ComplaintEscalated,
    /// An SLA clock of a complaint is close to its deadline.
    #[serde(rename = "sla.near_breach")]
    SlaNearBreach,
    /// A complaint's revisit (回访) fell due.
    #[serde(rename = "revisit.due")]
    RevisitDue,
    /// Customers of an agent are due for a follow-up.
    #[serde(rename = "follow_up.due")]
    FollowUpDue,
    /// An appeal against a finding was accepted or rejected.
    #[serde(rename = "appeal.decided")]
    AppealDecided,
    /// A feedback record was assigned (routed) to an owner.
    #[serde(rename = "feedback.assigned")]
    FeedbackAssigned,
    /// A complaint was assigned to an agent (by someone else).
    #[serde(rename = "complaint.assigned")]
    ComplaintAssigned,
    /// A shift handover was submitted and waits for the next shift.
    #[serde(rename = "handover.waiting")]
    HandoverWaiting,
    /// An urgent handover item was not acknowledged in time: escalated to
    /// supervisors.
    #[serde(rename = "handover.escalated")]
    HandoverEscalated,
}

impl Event {
    /// Every event.
    pub const ALL: &'static [Event] = &[
        Event::ComplaintEscalated,
        Event::SlaNearBreach,
        Event::RevisitDue,
        Event::FollowUpDue,
        Event::AppealDecided,
        Event::FeedbackAssigned,
        Event::ComplaintAssigned,
        Event::HandoverWaiting,
        Event::HandoverEscalated,
    ];

    /// The event name.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::ComplaintEscalated => "complaint.escalated",
            Event::SlaNearBreach => "sla.near_breach",
            Event::RevisitDue => "revisit.due",
            Event::FollowUpDue => "follow_up.due",
            Event::AppealDecided => "appeal.decided",
            Event::FeedbackAssigned => "feedback.assigned",
            Event::ComplaintAssigned => "complaint.assigned",
            Event::HandoverWaiting => "handover.waiting",
            Event::HandoverEscalated => "handover.escalated",
        }
    }

    /// The Chinese label shown in the dashboard.
    pub fn label_zh(self) -> &'static str {
        match self {
            Event::ComplaintEscalated => "投诉升级",
            Event::SlaNearBreach => "SLA 即将超时",
            Event::RevisitDue => "回访到期",
            Event::FollowUpDue => "客户跟进到期",
            Event::AppealDecided => "申诉已裁定",
            Event::FeedbackAssigned => "信息反馈已分派",
            Event::ComplaintAssigned => "投诉已分派",
            Event::HandoverWaiting => "交接班待接收",
            Event::HandoverEscalated => "交接班紧急事项未确认",
        }
    }

    /// The event of a name.
    pub fn parse(name: &str) -> Option<Event> {
        Event::ALL.iter().copied().find(|e| e.as_str() == name)
    }
}

/// A notification: an event about one object, for some users.
///
/// ```ignore
/// let mut tx = store.write().await?;
/// // … the event's own writes …
/// Notification::new(Event::AppealDecided, "appeal", id.to_string())
///     .title(format!("申诉 {id} 已裁定"))
///     .link("/appeals")
///     .to(agent_id)
///     .record(&mut tx, now_ms)
///     .await?;
/// tx.commit().await?;
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// What happened.
    pub event: Event,
    /// The object's kind (`complaint`, `appeal`, …).
    pub object_kind: String,
    /// The object's id.
    pub object_id: String,
    /// One line (inbox, e-mail subject).
    pub title: String,
    /// Detail lines.
    pub body: String,
    /// Dashboard path of the object.
    pub link: String,
    /// The object summary of webhook bodies (a JSON object).
    pub summary: serde_json::Value,
    /// User ids to tell (duplicates are dropped).
    pub recipients: Vec<String>,
    /// For events a scan finds: recorded once per key.
    pub dedupe_key: Option<String>,
}

impl Notification {
    /// A notification of `event` about `object_kind` `object_id`, with no
    /// recipients yet.
    pub fn new(event: Event, object_kind: &str, object_id: impl Into<String>) -> Notification {
        let object_id = object_id.into();
        Notification {
            event,
            title: format!("{} {object_id}", event.label_zh()),
            summary: serde_json::json!({ "kind": object_kind, "id": object_id }),
            object_kind: object_kind.to_string(),
            object_id,
            body: String::new(),
            link: "/inbox".to_string(),
            recipients: Vec::new(),
            dedupe_key: None,
        }
    }

    /// Sets the title.
    pub fn title(mut self, title: impl Into<String>) -> Notification {
        self.title = title.into();
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<String>) -> Notification {
        self.body = body.into();
        self
    }

    /// Sets the dashboard link.
    pub fn link(mut self, link: impl Into<String>) -> Notification {
        self.link = link.into();
        self
    }

    /// Adds fields to the object summary (an object's fields are merged).
    pub fn summary(mut self, extra: serde_json::Value) -> Notification {
        if let (Some(map), serde_json::Value::Object(extra)) = (self.summary.as_object_mut(), extra)
        {
            map.extend(extra);
        }
        self
    }

    /// Adds a recipient.
    pub fn to(mut self, user: impl Into<String>) -> Notification {
        self.recipients.push(user.into());
        self
    }

    /// Adds recipients.
    pub fn to_all(mut self, users: impl IntoIterator<Item = String>) -> Notification {
        self.recipients.extend(users);
        self
    }

    /// Records it once per `key` (events found by scans).
    pub fn once(mut self, key: impl Into<String>) -> Notification {
        self.dedupe_key = Some(key.into());
        self
    }

    /// Writes it to the outbox in `tx`, the transaction of the event: it
    /// commits or rolls back with the event. A notification without
    /// recipients is still recorded (webhooks receive it). Returns its id,
    /// or `None` when its dedupe key was recorded before.
    pub async fn record(mut self, tx: &mut Tx, now_ms: i64) -> Result<Option<i64>> {
        self.recipients.sort();
        self.recipients.dedup();
        self.recipients.retain(|r| !r.trim().is_empty());
        let summary = serde_json::to_string(&self.summary)
            .map_err(|e| Error::Internal(format!("notification summary: {e}")))?;
        Ok(tx
            .insert_notification(
                &NewNotification {
                    event: self.event.as_str().to_string(),
                    object_kind: self.object_kind,
                    object_id: self.object_id,
                    title: self.title,
                    body: self.body,
                    link: self.link,
                    summary,
                    recipients: self.recipients,
                    dedupe_key: self.dedupe_key,
                },
                now_ms,
            )
            .await?)
    }
}

/// The active supervisors (recipients of escalations).
pub async fn supervisors(tx: &mut Tx) -> Result<Vec<String>> {
    Ok(tx.active_users_with_role("supervisor").await?)
}

/// The active members of `team` (the next shift of a handover).
pub async fn team_members(tx: &mut Tx, team: &str) -> Result<Vec<String>> {
    Ok(tx.active_users_in_team(team).await?)
}

/// `user` if it is an active user (assignees and owners may be agent ids
/// without an account).
pub async fn user_if_active(tx: &mut Tx, user: &str) -> Result<Option<String>> {
    Ok(tx.user_is_active(user).await?.then(|| user.to_string()))
}

/// Percent-encodes an id for a dashboard link (`/complaints/{id}`):
/// everything but unreserved ASCII becomes `%XX`.
pub fn link_segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
