//! [`NotifyService`]: the inbox, webhook endpoints, the delivery log, e-mail
//! addresses, and the scan for revisits and follow-ups that fell due.

use kefu_store::outbox::{DeliveryLogRow, InboxRow, WebhookRow};
use kefu_store::Store;
use serde::Serialize;

use super::model::{supervisors, user_if_active, Event, Notification};
use crate::auth::{Principal, Role};
use crate::error::{Error, Result};

/// One notification in a user's inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InboxItem {
    /// The inbox entry's id (what "mark read" takes).
    pub id: i64,
    /// The notification's id (the webhook body's `id`).
    pub notification_id: i64,
    /// Event name.
    pub event: String,
    /// What it is about.
    pub object_kind: String,
    /// Its id.
    pub object_id: String,
    /// One line.
    pub title: String,
    /// Detail.
    pub body: String,
    /// Dashboard path of the object.
    pub link: String,
    /// When it happened.
    #[serde(with = "kefu_store::json_time::unix_ms")]
    pub created_at: i64,
    /// When the user read it.
    #[serde(with = "kefu_store::json_time::opt_unix_ms")]
    pub read_at: Option<i64>,
}

fn item(r: InboxRow) -> InboxItem {
    InboxItem {
        id: r.id,
        notification_id: r.notification.id,
        event: r.notification.event,
        object_kind: r.notification.object_kind,
        object_id: r.notification.object_id,
        title: r.notification.title,
        body: r.notification.body,
        link: r.notification.link,
        created_at: r.notification.created_at,
        read_at: r.read_at,
    }
}

/// A webhook endpoint as admins see it (the secret shown only when
/// created).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Webhook {
    /// Id.
    pub id: i64,
    /// Where deliveries are POSTed.
    pub url: String,
    /// Event filter: comma-separated names (`complaint.*` for a prefix) or
    /// `*`.
    pub events: String,
    /// Whether it receives deliveries.
    pub active: bool,
    /// Who added it.
    pub created_by: String,
    /// When.
    #[serde(with = "kefu_store::json_time::unix_ms")]
    pub created_at: i64,
    /// The signing secret: only in the answer that created it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

fn webhook(r: WebhookRow, with_secret: bool) -> Webhook {
    Webhook {
        id: r.id,
        url: r.url,
        events: r.events,
        active: r.active,
        created_by: r.created_by,
        created_at: r.created_at,
        secret: with_secret.then_some(r.secret),
    }
}

/// An entry of the delivery log (e-mail and webhooks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryLogEntry {
    /// Delivery id (the `X-Kefu-Delivery` header).
    pub id: i64,
    /// The notification.
    pub notification_id: i64,
    /// Its event.
    pub event: String,
    /// `email` or `webhook`.
    pub channel: String,
    /// User id, or the endpoint id.
    pub recipient: String,
    /// `pending`, `sent` or `dead`.
    pub state: String,
    /// Attempts made.
    pub attempts: i64,
    /// The next attempt (while pending).
    #[serde(with = "kefu_store::json_time::opt_unix_ms")]
    pub next_attempt_at: Option<i64>,
    /// The last HTTP status.
    pub status_code: Option<i64>,
    /// The last error.
    pub last_error: Option<String>,
    /// When delivered.
    #[serde(with = "kefu_store::json_time::opt_unix_ms")]
    pub delivered_at: Option<i64>,
    /// When created.
    #[serde(with = "kefu_store::json_time::unix_ms")]
    pub created_at: i64,
}

fn log_entry(r: DeliveryLogRow) -> DeliveryLogEntry {
    DeliveryLogEntry {
        next_attempt_at: (r.state == "pending").then_some(r.next_attempt_at),
        id: r.id,
        notification_id: r.notification_id,
        event: r.event,
        channel: r.channel,
        recipient: r.recipient,
        state: r.state,
        attempts: r.attempts,
        status_code: r.status_code,
        last_error: r.last_error,
        delivered_at: r.delivered_at,
        created_at: r.created_at,
    }
}

/// What one [`NotifyService::scan_due`] recorded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DueScan {
    /// `revisit.due` notifications.
    pub revisits: usize,
    /// `follow_up.due` notifications.
    pub follow_ups: usize,
}

/// The notification service.
#[derive(Debug, Clone)]
pub struct NotifyService {
    store: Store,
}

fn admin_only(p: &Principal) -> Result<()> {
    if p.role == Role::Admin {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "only admins manage webhooks and e-mail addresses".into(),
        ))
    }
}

/// Whether `url` is an http(s) URL with a host.
fn check_url(url: &str) -> Result<()> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| Error::invalid_field("url", "use an http:// or https:// URL"))?;
    if rest.is_empty() || rest.starts_with('/') || url.chars().any(char::is_whitespace) {
        return Err(Error::invalid_field("url", "no host"));
    }
    Ok(())
}

/// Checks an event filter: `*`, or comma-separated event names or
/// `prefix.*`.
fn check_events(events: &str) -> Result<String> {
    let parts: Vec<&str> = events
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    if parts.is_empty() {
        return Ok("*".into());
    }
    for e in &parts {
        let ok = *e == "*"
            || Event::parse(e).is_some()
            || e.strip_suffix(".*").is_some_and(|p| {
                Event::ALL
                    .iter()
                    .any(|ev| ev.as_str().starts_with(&format!("{p}.")))
            });
        if !ok {
            return Err(Error::invalid_field(
                "events",
                format!("unknown event {e:?}"),
            ));
        }
    }
    Ok(parts.join(","))
}

impl NotifyService {
    /// A service over `store`.
    pub fn new(store: Store) -> NotifyService {
        NotifyService { store }
    }

    /// `p`'s inbox, newest first: up to `limit` entries with ids below
    /// `before`.
    pub async fn inbox(
        &self,
        p: &Principal,
        before: Option<i64>,
        unread_only: bool,
        limit: i64,
    ) -> Result<Vec<InboxItem>> {
        Ok(self
            .store
            .inbox(&p.user_id, before, unread_only, limit)
            .await?
            .into_iter()
            .map(item)
            .collect())
    }

    /// How many of `p`'s notifications are unread.
    pub async fn unread_count(&self, p: &Principal) -> Result<i64> {
        Ok(self.store.unread_count(&p.user_id).await?)
    }

    /// Marks one of `p`'s notifications read.
    pub async fn mark_read(&self, p: &Principal, id: i64, now: i64) -> Result<()> {
        if self.store.mark_read(&p.user_id, id, now).await? {
            Ok(())
        } else {
            Err(Error::not_found("notification", id))
        }
    }

    /// Marks all of `p`'s notifications read; returns how many were unread.
    pub async fn mark_all_read(&self, p: &Principal, now: i64) -> Result<u64> {
        Ok(self.store.mark_all_read(&p.user_id, now).await?)
    }

    /// Adds a webhook endpoint (admins). The answer carries the secret,
    /// generated when none is given.
    pub async fn add_webhook(
        &self,
        p: &Principal,
        url: &str,
        secret: Option<&str>,
        events: &str,
        now: i64,
    ) -> Result<Webhook> {
        admin_only(p)?;
        let url = url.trim();
        check_url(url)?;
        let events = check_events(events)?;
        let secret = match secret.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) if s.len() < 16 => {
                return Err(Error::invalid_field("secret", "use at least 16 characters"))
            }
            Some(s) => s.to_string(),
            None => random_secret()?,
        };
        let row = self
            .store
            .add_webhook(url, &secret, &events, &p.user_id, now)
            .await?;
        Ok(webhook(row, true))
    }

    /// Every webhook endpoint (admins), without secrets.
    pub async fn webhooks(&self, p: &Principal) -> Result<Vec<Webhook>> {
        admin_only(p)?;
        Ok(self
            .store
            .webhooks()
            .await?
            .into_iter()
            .map(|r| webhook(r, false))
            .collect())
    }

    /// Switches an endpoint off (admins).
    pub async fn disable_webhook(&self, p: &Principal, id: i64) -> Result<()> {
        admin_only(p)?;
        if self.store.disable_webhook(id).await? {
            Ok(())
        } else {
            Err(Error::not_found("webhook", id))
        }
    }

    /// The newest e-mail and webhook deliveries (admins).
    pub async fn delivery_log(
        &self,
        p: &Principal,
        channel: Option<&str>,
        limit: i64,
    ) -> Result<Vec<DeliveryLogEntry>> {
        admin_only(p)?;
        if let Some(c) = channel {
            if !matches!(c, "email" | "webhook" | "inbox") {
                return Err(Error::invalid_field("channel", "email, webhook or inbox"));
            }
        }
        Ok(self
            .store
            .delivery_log(channel, limit)
            .await?
            .into_iter()
            .map(log_entry)
            .collect())
    }

    /// Sets or clears (`None` / empty) a user's e-mail address (admins).
    pub async fn set_email(&self, p: &Principal, user: &str, email: Option<&str>) -> Result<()> {
        admin_only(p)?;
        let email = email.map(str::trim).filter(|e| !e.is_empty());
        if let Some(e) = email {
            let valid = e.split_once('@').is_some_and(|(l, d)| {
                !l.is_empty() && d.contains('.') && !e.chars().any(char::is_whitespace)
            });
            if !valid || e.len() > 254 {
                return Err(Error::invalid_field(
                    "email",
                    format!("{e:?} is not an address"),
                ));
            }
        }
        if self.store.set_user_email(user, email).await? {
            Ok(())
        } else {
            Err(Error::not_found("user", user))
        }
    }

    /// A user's e-mail address.
    pub async fn email(&self, user: &str) -> Result<Option<String>> {
        Ok(self.store.user_email(user).await?)
    }

    /// Records a `revisit.due` notification (to supervisors) for every open
    /// revisit task due at `now`, and a `follow_up.due` notification per
    /// agent and day for customers due a follow-up — each once, however
    /// many nodes scan (dedupe keys).
    pub async fn scan_due(&self, now: i64) -> Result<DueScan> {
        let mut out = DueScan::default();
        let mut tx = self.store.write().await?;
        let due = tx.revisits_due_unnotified(now, 500).await?;
        if !due.is_empty() {
            let sups = supervisors(&mut tx).await?;
            for (task, complaint, due_at) in due {
                let recorded = Notification::new(Event::RevisitDue, "revisit", task.to_string())
                    .title(format!("投诉 {complaint} 的回访已到期"))
                    .body(format!(
                        "回访任务 {task} 截止于 {}",
                        kefu_store::json_time::rfc3339(due_at)
                    ))
                    .link(format!(
                        "/complaints/{}",
                        super::model::link_segment(&complaint)
                    ))
                    .summary(serde_json::json!({
                        "complaint_id": complaint,
                        "due_at": kefu_store::json_time::rfc3339(due_at),
                    }))
                    .to_all(sups.clone())
                    .once(format!("revisit.due:{task}"))
                    .record(&mut tx, now)
                    .await?;
                out.revisits += usize::from(recorded.is_some());
            }
        }
        let day = chrono::DateTime::from_timestamp_millis(now)
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default();
        for (owner, count) in tx.follow_ups_due_by_owner(now).await? {
            let Some(user) = user_if_active(&mut tx, &owner).await? else {
                continue;
            };
            let recorded = Notification::new(Event::FollowUpDue, "agent", owner.clone())
                .title(format!("{count} 位客户待跟进"))
                .body("客户回访周期已到，请在跟进列表中联系客户。")
                .link("/follow-ups")
                .summary(serde_json::json!({ "agent_id": owner, "due": count, "day": day }))
                .to(user)
                .once(format!("follow_up.due:{owner}:{day}"))
                .record(&mut tx, now)
                .await?;
            out.follow_ups += usize::from(recorded.is_some());
        }
        tx.commit().await?;
        Ok(out)
    }
}

/// 32 random bytes as hex.
fn random_secret() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Internal(format!("no randomness for a secret: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
