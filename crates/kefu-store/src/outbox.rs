//! Notifications (migration `0020_notifications`): the `notifications`
//! outbox, its `notification_deliveries` and the admin's
//! `webhook_endpoints`.
//!
//! - A service writes a notification with [`Tx::insert_notification`] in
//!   the transaction of the event that causes it, so a rolled-back event
//!   leaves none. Events found by scans carry a dedupe key (`UNIQUE`): however
//!   many nodes scan, the insert succeeds once.
//! - A delivery worker expands new notifications ([`Store::expand_notifications`])
//!   into one delivery row per (notification, recipient, channel) — `UNIQUE`,
//!   inserted with `ON CONFLICT DO NOTHING`, so two nodes expanding at once
//!   create each row once. Inbox rows are delivered by being written.
//! - E-mail and webhook rows are claimed ([`Store::claim_deliveries`]):
//!   `FOR UPDATE SKIP LOCKED` on PostgreSQL, inside `BEGIN IMMEDIATE` on
//!   SQLite, setting a lease. Only the holder of the lease records the
//!   outcome ([`Store::finish_delivery`]); a crashed node's lease runs out and
//!   the row is claimed again later.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::dialect::skip_locked;
use crate::{Context, Store, StoreError, Tx};

/// A notification to record ([`Tx::insert_notification`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    /// Event name (`complaint.escalated`, …).
    pub event: String,
    /// What it is about (`complaint`, `appeal`, …).
    pub object_kind: String,
    /// Its id.
    pub object_id: String,
    /// One line for the inbox and the e-mail subject.
    pub title: String,
    /// A few lines of detail.
    pub body: String,
    /// The dashboard path of the object (`/complaints/C-…`).
    pub link: String,
    /// The object summary of webhook bodies, a JSON object.
    pub summary: String,
    /// The users to tell.
    pub recipients: Vec<String>,
    /// Set for events a scan finds: the notification is recorded once per
    /// key.
    pub dedupe_key: Option<String>,
}

/// A stored notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationRow {
    /// Row id.
    pub id: i64,
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
    /// Dashboard path.
    pub link: String,
    /// Object summary, JSON.
    pub summary: String,
    /// When, Unix ms.
    pub created_at: i64,
}

/// One notification in a user's inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxRow {
    /// The inbox delivery's id (what "mark read" takes).
    pub id: i64,
    /// The notification.
    pub notification: NotificationRow,
    /// When the user read it.
    pub read_at: Option<i64>,
}

/// A delivery a node claimed ([`Store::claim_deliveries`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedDelivery {
    /// Delivery row id.
    pub id: i64,
    /// `email` or `webhook`.
    pub channel: String,
    /// User id, or the webhook endpoint id.
    pub recipient: String,
    /// Attempts so far, this one included.
    pub attempts: i64,
    /// The notification.
    pub notification: NotificationRow,
    /// E-mail: the user's address. Webhook: the endpoint's URL.
    pub address: Option<String>,
    /// Webhook: the endpoint's secret.
    pub secret: Option<String>,
}

/// How a delivery attempt ended ([`Store::finish_delivery`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryResult {
    /// Delivered.
    Sent {
        /// HTTP status (webhooks).
        status_code: Option<i64>,
    },
    /// Failed; try again at `next_attempt_at`.
    Retry {
        /// HTTP status, if there was an answer.
        status_code: Option<i64>,
        /// What went wrong.
        error: String,
        /// When to try again, Unix ms.
        next_attempt_at: i64,
    },
    /// Failed for the last time.
    Dead {
        /// HTTP status, if there was an answer.
        status_code: Option<i64>,
        /// What went wrong.
        error: String,
    },
}

/// A row of the delivery log (e-mail and webhooks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryLogRow {
    /// Delivery id.
    pub id: i64,
    /// The notification.
    pub notification_id: i64,
    /// Its event.
    pub event: String,
    /// `email` or `webhook`.
    pub channel: String,
    /// User id or endpoint id.
    pub recipient: String,
    /// `pending`, `sent` or `dead`.
    pub state: String,
    /// Attempts made.
    pub attempts: i64,
    /// Next attempt (pending), Unix ms.
    pub next_attempt_at: i64,
    /// Last HTTP status.
    pub status_code: Option<i64>,
    /// Last error.
    pub last_error: Option<String>,
    /// When delivered.
    pub delivered_at: Option<i64>,
    /// When created.
    pub created_at: i64,
}

/// A webhook endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRow {
    /// Row id.
    pub id: i64,
    /// Where to POST.
    pub url: String,
    /// The HMAC secret.
    pub secret: String,
    /// Comma-separated event names, or `*`.
    pub events: String,
    /// Whether it receives anything.
    pub active: bool,
    /// Who added it.
    pub created_by: String,
    /// When, Unix ms.
    pub created_at: i64,
}

const NOTIFICATION_COLUMNS: &str =
    "n.id, n.event, n.object_kind, n.object_id, n.title, n.body, n.link, n.summary, n.created_at";

fn notification_of(r: &AnyRow) -> Result<NotificationRow, sqlx::Error> {
    Ok(NotificationRow {
        id: r.try_get("id")?,
        event: r.try_get("event")?,
        object_kind: r.try_get("object_kind")?,
        object_id: r.try_get("object_id")?,
        title: r.try_get("title")?,
        body: r.try_get("body")?,
        link: r.try_get("link")?,
        summary: r.try_get("summary")?,
        created_at: r.try_get("created_at")?,
    })
}

fn webhook_of(r: &AnyRow) -> Result<WebhookRow, sqlx::Error> {
    Ok(WebhookRow {
        id: r.try_get("id")?,
        url: r.try_get("url")?,
        secret: r.try_get("secret")?,
        events: r.try_get("events")?,
        active: r.try_get::<i64, _>("active")? != 0,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Whether an endpoint's filter (`*` or comma-separated names, a name
/// ending in `.*` matching a prefix) takes `event`.
pub fn event_matches(filter: &str, event: &str) -> bool {
    filter.split(',').map(str::trim).any(|f| {
        f == "*"
            || f == event
            || f.strip_suffix(".*")
                .is_some_and(|p| event.strip_prefix(p).is_some_and(|r| r.starts_with('.')))
    })
}

impl Tx {
    /// Records a notification in this transaction (the event's). Returns its
    /// id, or `None` when its dedupe key was recorded before.
    pub async fn insert_notification(
        &mut self,
        n: &NewNotification,
        now_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        let recipients = serde_json::to_string(&n.recipients)
            .map_err(|e| StoreError::corrupt("notification recipients", e))?;
        let row = sqlx::query(
            "INSERT INTO notifications (event, object_kind, object_id, title, body, link, summary, \
             recipients, dedupe_key, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
        )
        .bind(n.event.as_str())
        .bind(n.object_kind.as_str())
        .bind(n.object_id.as_str())
        .bind(n.title.as_str())
        .bind(n.body.as_str())
        .bind(n.link.as_str())
        .bind(n.summary.as_str())
        .bind(recipients)
        .bind(n.dedupe_key.as_deref())
        .bind(now_ms)
        .fetch_optional(self.conn())
        .await
        .context("recording a notification")?;
        row.map(|r| r.try_get::<i64, _>("id"))
            .transpose()
            .context("notifications")
    }

    /// The ids of the active users with `role`, in id order.
    pub async fn active_users_with_role(&mut self, role: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT id FROM users WHERE role = $1 AND active = 1 ORDER BY id")
            .bind(role)
            .fetch_all(self.conn())
            .await
            .context("reading users by role")?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("id"))
            .collect::<Result<_, _>>()
            .context("users")
    }

    /// The ids of the active users of `team`, in id order.
    pub async fn active_users_in_team(&mut self, team: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT id FROM users WHERE team = $1 AND active = 1 ORDER BY id")
            .bind(team)
            .fetch_all(self.conn())
            .await
            .context("reading users by team")?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("id"))
            .collect::<Result<_, _>>()
            .context("users")
    }

    /// Whether `id` is an active user.
    pub async fn user_is_active(&mut self, id: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 AS one FROM users WHERE id = $1 AND active = 1")
            .bind(id)
            .fetch_optional(self.conn())
            .await
            .context("reading a user")?;
        Ok(row.is_some())
    }

    /// Open revisit tasks due at `now_ms` that have no `revisit.due`
    /// notification yet: (task id, complaint id, due at), at most `limit`.
    pub async fn revisits_due_unnotified(
        &mut self,
        now_ms: i64,
        limit: i64,
    ) -> Result<Vec<(i64, String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.id, r.complaint_id, r.due_at FROM revisit_tasks r \
             WHERE r.done_at IS NULL AND r.due_at <= $1 AND NOT EXISTS \
             (SELECT 1 FROM notifications n WHERE n.dedupe_key = 'revisit.due:' || CAST(r.id AS TEXT)) \
             ORDER BY r.due_at, r.id LIMIT $2",
        )
        .bind(now_ms)
        .bind(limit)
        .fetch_all(self.conn())
        .await
        .context("finding revisits due")?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    r.try_get("complaint_id")?,
                    r.try_get("due_at")?,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .context("revisit tasks")
    }

    /// How many customers each owner has due for a follow-up at `now_ms`
    /// (not merged, not do-not-disturb): (owner id, count), owners in id
    /// order.
    pub async fn follow_ups_due_by_owner(
        &mut self,
        now_ms: i64,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT u.id AS owner_id, \
             (SELECT COUNT(*) FROM customers c WHERE c.owner_id = u.id AND c.merged_into IS NULL \
              AND c.next_due_at <= $1 AND c.do_not_disturb = 0) AS due \
             FROM users u WHERE u.active = 1 ORDER BY u.id",
        )
        .bind(now_ms)
        .fetch_all(self.conn())
        .await
        .context("counting follow-ups due")?;
        let mut out = Vec::new();
        for r in &rows {
            let due: i64 = r.try_get("due").context("follow-ups")?;
            if due > 0 {
                out.push((r.try_get("owner_id").context("follow-ups")?, due));
            }
        }
        Ok(out)
    }
}

impl Store {
    /// Creates the delivery rows of up to `limit` notifications not yet
    /// expanded: an inbox row (delivered) for every recipient, an e-mail
    /// row for every recipient with an address when `with_email`, and a
    /// webhook row for every active endpoint whose filter takes the event.
    /// Returns how many notifications it expanded.
    pub async fn expand_notifications(
        &self,
        now_ms: i64,
        limit: i64,
        with_email: bool,
    ) -> Result<usize, StoreError> {
        let mut tx = self.write().await?;
        let sql = format!(
            "SELECT id, event, recipients FROM notifications WHERE expanded_at IS NULL \
             ORDER BY id LIMIT $1{}",
            skip_locked(tx.backend())
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(limit)
            .fetch_all(tx.conn())
            .await
            .context("claiming new notifications")?;
        if rows.is_empty() {
            return Ok(0);
        }
        let hooks = sqlx::query("SELECT id, events FROM webhook_endpoints WHERE active = 1")
            .fetch_all(tx.conn())
            .await
            .context("reading webhook endpoints")?;
        let mut hook_filters = Vec::new();
        for h in &hooks {
            let id: i64 = h.try_get("id").context("webhook endpoints")?;
            let events: String = h.try_get("events").context("webhook endpoints")?;
            hook_filters.push((id, events));
        }
        for r in &rows {
            let id: i64 = r.try_get("id").context("notifications")?;
            let event: String = r.try_get("event").context("notifications")?;
            let recipients: String = r.try_get("recipients").context("notifications")?;
            let recipients: Vec<String> = serde_json::from_str(&recipients)
                .map_err(|e| StoreError::corrupt(format!("notification {id}"), e))?;
            for user in &recipients {
                insert_delivery(&mut tx, id, "inbox", user, "sent", now_ms).await?;
                if with_email {
                    let email = sqlx::query(
                        "SELECT email FROM users WHERE id = $1 AND active = 1 AND email IS NOT NULL AND email <> ''",
                    )
                    .bind(user.as_str())
                    .fetch_optional(tx.conn())
                    .await
                    .context("reading a user's e-mail address")?;
                    if email.is_some() {
                        insert_delivery(&mut tx, id, "email", user, "pending", now_ms).await?;
                    }
                }
            }
            for (hook, filter) in &hook_filters {
                if event_matches(filter, &event) {
                    insert_delivery(&mut tx, id, "webhook", &hook.to_string(), "pending", now_ms)
                        .await?;
                }
            }
            sqlx::query("UPDATE notifications SET expanded_at = $1 WHERE id = $2")
                .bind(now_ms)
                .bind(id)
                .execute(tx.conn())
                .await
                .context("marking a notification expanded")?;
        }
        tx.commit().await?;
        Ok(rows.len())
    }

    /// Claims up to `limit` pending deliveries of `channels` that are due
    /// at `now_ms` and not leased by another node, leasing them to `node`
    /// until `now_ms + lease_ms` and counting the attempt.
    pub async fn claim_deliveries(
        &self,
        channels: &[&str],
        node: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        // Only known names reach the SQL text.
        let list: Vec<String> = channels
            .iter()
            .filter(|c| matches!(**c, "email" | "webhook"))
            .map(|c| format!("'{c}'"))
            .collect();
        if list.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.write().await?;
        let sql = format!(
            "SELECT id FROM notification_deliveries WHERE state = 'pending' AND next_attempt_at <= $1 \
             AND channel IN ({}) AND (lease_until IS NULL OR lease_until <= $1) \
             ORDER BY next_attempt_at, id LIMIT $2{}",
            list.join(", "),
            skip_locked(tx.backend())
        );
        let ids: Vec<i64> = sqlx::query(AssertSqlSafe(sql))
            .bind(now_ms)
            .bind(limit)
            .fetch_all(tx.conn())
            .await
            .context("claiming deliveries")?
            .iter()
            .map(|r| r.try_get::<i64, _>("id"))
            .collect::<Result<_, _>>()
            .context("deliveries")?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            sqlx::query(
                "UPDATE notification_deliveries SET lease_until = $1, claimed_by = $2, \
                 attempts = attempts + 1 WHERE id = $3",
            )
            .bind(now_ms.saturating_add(lease_ms))
            .bind(node)
            .bind(id)
            .execute(tx.conn())
            .await
            .context("leasing a delivery")?;
            let sql = format!(
                "SELECT d.id AS delivery_id, d.channel, d.recipient, d.attempts, {NOTIFICATION_COLUMNS}, \
                 u.email, w.url, w.secret FROM notification_deliveries d \
                 JOIN notifications n ON n.id = d.notification_id \
                 LEFT JOIN users u ON d.channel = 'email' AND u.id = d.recipient \
                 LEFT JOIN webhook_endpoints w ON d.channel = 'webhook' AND CAST(w.id AS TEXT) = d.recipient \
                 WHERE d.id = $1"
            );
            let r = sqlx::query(AssertSqlSafe(sql))
                .bind(id)
                .fetch_one(tx.conn())
                .await
                .context("reading a claimed delivery")?;
            let channel: String = r.try_get("channel").context("deliveries")?;
            let email: Option<String> = r.try_get("email").context("deliveries")?;
            let url: Option<String> = r.try_get("url").context("deliveries")?;
            out.push(ClaimedDelivery {
                id,
                address: if channel == "email" { email } else { url },
                secret: r.try_get("secret").context("deliveries")?,
                recipient: r.try_get("recipient").context("deliveries")?,
                attempts: r.try_get("attempts").context("deliveries")?,
                notification: notification_of(&r).context("deliveries")?,
                channel,
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Records how the attempt on delivery `id` ended, if `node` still
    /// holds its lease (a node whose lease ran out records nothing: the
    /// row is someone else's now). Returns whether it was recorded.
    pub async fn finish_delivery(
        &self,
        id: i64,
        node: &str,
        result: &DeliveryResult,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let (state, code, error, next, delivered) = match result {
            DeliveryResult::Sent { status_code } => {
                ("sent", *status_code, None, None, Some(now_ms))
            }
            DeliveryResult::Retry {
                status_code,
                error,
                next_attempt_at,
            } => (
                "pending",
                *status_code,
                Some(error.as_str()),
                Some(*next_attempt_at),
                None,
            ),
            DeliveryResult::Dead { status_code, error } => {
                ("dead", *status_code, Some(error.as_str()), None, None)
            }
        };
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "UPDATE notification_deliveries SET state = $1, status_code = $2, last_error = $3, \
             next_attempt_at = COALESCE($4, next_attempt_at), delivered_at = $5, \
             lease_until = NULL, claimed_by = NULL \
             WHERE id = $6 AND claimed_by = $7 AND state = 'pending'",
        )
        .bind(state)
        .bind(code)
        .bind(error)
        .bind(next)
        .bind(delivered)
        .bind(id)
        .bind(node)
        .execute(tx.conn())
        .await
        .context("recording a delivery attempt")?
        .rows_affected()
            == 1;
        tx.commit().await?;
        Ok(done)
    }

    /// A user's inbox, newest first: up to `limit` notifications with
    /// delivery ids below `before` (all when `None`), unread only if asked.
    pub async fn inbox(
        &self,
        user: &str,
        before: Option<i64>,
        unread_only: bool,
        limit: i64,
    ) -> Result<Vec<InboxRow>, StoreError> {
        let sql = format!(
            "SELECT d.id AS delivery_id, d.read_at, {NOTIFICATION_COLUMNS} FROM notification_deliveries d \
             JOIN notifications n ON n.id = d.notification_id \
             WHERE d.recipient = $1 AND d.channel = 'inbox' AND d.id < $2{} \
             ORDER BY d.id DESC LIMIT $3",
            if unread_only { " AND d.read_at IS NULL" } else { "" }
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(user)
            .bind(before.unwrap_or(i64::MAX))
            .bind(limit.clamp(1, 500))
            .fetch_all(self.pool())
            .await
            .context("reading the inbox")?;
        rows.iter()
            .map(|r| {
                Ok(InboxRow {
                    id: r.try_get("delivery_id")?,
                    read_at: r.try_get("read_at")?,
                    notification: notification_of(r)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .context("inbox")
    }

    /// How many of a user's inbox notifications are unread (the partial
    /// index `notification_unread` answers it).
    pub async fn unread_count(&self, user: &str) -> Result<i64, StoreError> {
        sqlx::query(
            "SELECT COUNT(*) AS n FROM notification_deliveries \
             WHERE recipient = $1 AND channel = 'inbox' AND read_at IS NULL",
        )
        .bind(user)
        .fetch_one(self.pool())
        .await
        .context("counting unread notifications")?
        .try_get::<i64, _>("n")
        .context("inbox")
    }

    /// Marks one of `user`'s inbox notifications read (by delivery id).
    /// Returns whether it is theirs (read now or before).
    pub async fn mark_read(&self, user: &str, id: i64, now_ms: i64) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "UPDATE notification_deliveries SET read_at = COALESCE(read_at, $1) \
             WHERE id = $2 AND recipient = $3 AND channel = 'inbox'",
        )
        .bind(now_ms)
        .bind(id)
        .bind(user)
        .execute(tx.conn())
        .await
        .context("marking a notification read")?;
        let found = sqlx::query(
            "SELECT 1 AS one FROM notification_deliveries WHERE id = $1 AND recipient = $2 AND channel = 'inbox'",
        )
        .bind(id)
        .bind(user)
        .fetch_optional(tx.conn())
        .await
        .context("reading a notification")?
        .is_some();
        tx.commit().await?;
        Ok(found)
    }

    /// Marks all of `user`'s inbox notifications read; returns how many
    /// were unread.
    pub async fn mark_all_read(&self, user: &str, now_ms: i64) -> Result<u64, StoreError> {
        let mut tx = self.write().await?;
        let n = sqlx::query(
            "UPDATE notification_deliveries SET read_at = $1 \
             WHERE recipient = $2 AND channel = 'inbox' AND read_at IS NULL",
        )
        .bind(now_ms)
        .bind(user)
        .execute(tx.conn())
        .await
        .context("marking notifications read")?
        .rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    /// Adds a webhook endpoint; returns it.
    pub async fn add_webhook(
        &self,
        url: &str,
        secret: &str,
        events: &str,
        by: &str,
        now_ms: i64,
    ) -> Result<WebhookRow, StoreError> {
        let mut tx = self.write().await?;
        let r = sqlx::query(
            "INSERT INTO webhook_endpoints (url, secret, events, active, created_by, created_at) \
             VALUES ($1, $2, $3, 1, $4, $5) \
             RETURNING id, url, secret, events, active, created_by, created_at",
        )
        .bind(url)
        .bind(secret)
        .bind(events)
        .bind(by)
        .bind(now_ms)
        .fetch_one(tx.conn())
        .await
        .context("adding a webhook endpoint")?;
        let row = webhook_of(&r).context("webhook endpoints")?;
        tx.commit().await?;
        Ok(row)
    }

    /// Every webhook endpoint (active first, then by id).
    pub async fn webhooks(&self) -> Result<Vec<WebhookRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, url, secret, events, active, created_by, created_at FROM webhook_endpoints \
             ORDER BY active DESC, id",
        )
        .fetch_all(self.pool())
        .await
        .context("reading webhook endpoints")?;
        rows.iter()
            .map(webhook_of)
            .collect::<Result<_, _>>()
            .context("webhook endpoints")
    }

    /// Switches an endpoint off (its log stays); returns whether it exists.
    pub async fn disable_webhook(&self, id: i64) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let n = sqlx::query("UPDATE webhook_endpoints SET active = 0 WHERE id = $1")
            .bind(id)
            .execute(tx.conn())
            .await
            .context("disabling a webhook endpoint")?
            .rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    /// The newest `limit` e-mail and webhook deliveries (the admins'
    /// delivery log), of one channel if given.
    pub async fn delivery_log(
        &self,
        channel: Option<&str>,
        limit: i64,
    ) -> Result<Vec<DeliveryLogRow>, StoreError> {
        let sql = format!(
            "SELECT d.id, d.notification_id, n.event, d.channel, d.recipient, d.state, d.attempts, \
             d.next_attempt_at, d.status_code, d.last_error, d.delivered_at, d.created_at \
             FROM notification_deliveries d JOIN notifications n ON n.id = d.notification_id \
             WHERE {} ORDER BY d.id DESC LIMIT $2",
            if channel.is_some() {
                "d.channel = $1"
            } else {
                "d.channel <> 'inbox' AND $1 = ''"
            }
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(channel.unwrap_or(""))
            .bind(limit.clamp(1, 1000))
            .fetch_all(self.pool())
            .await
            .context("reading the delivery log")?;
        rows.iter()
            .map(|r| {
                Ok(DeliveryLogRow {
                    id: r.try_get("id")?,
                    notification_id: r.try_get("notification_id")?,
                    event: r.try_get("event")?,
                    channel: r.try_get("channel")?,
                    recipient: r.try_get("recipient")?,
                    state: r.try_get("state")?,
                    attempts: r.try_get("attempts")?,
                    next_attempt_at: r.try_get("next_attempt_at")?,
                    status_code: r.try_get("status_code")?,
                    last_error: r.try_get("last_error")?,
                    delivered_at: r.try_get("delivered_at")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .context("delivery log")
    }

    /// Sets (or clears, with `None`) a user's e-mail address; returns
    /// whether the user exists.
    pub async fn set_user_email(
        &self,
        user: &str,
        email: Option<&str>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let n = sqlx::query("UPDATE users SET email = $1 WHERE id = $2")
            .bind(email)
            .bind(user)
            .execute(tx.conn())
            .await
            .context("setting an e-mail address")?
            .rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    /// A user's e-mail address.
    pub async fn user_email(&self, user: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT email FROM users WHERE id = $1")
            .bind(user)
            .fetch_optional(self.pool())
            .await
            .context("reading an e-mail address")?;
        match row {
            Some(r) => r.try_get("email").context("users"),
            None => Ok(None),
        }
    }
}

/// Inserts one delivery row unless it exists.
async fn insert_delivery(
    tx: &mut Tx,
    notification: i64,
    channel: &str,
    recipient: &str,
    state: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO notification_deliveries (notification_id, channel, recipient, state, attempts, \
         next_attempt_at, delivered_at, created_at) VALUES ($1, $2, $3, $4, 0, $5, $6, $5) \
         ON CONFLICT (notification_id, recipient, channel) DO NOTHING",
    )
    .bind(notification)
    .bind(channel)
    .bind(recipient)
    .bind(state)
    .bind(now_ms)
    .bind((state == "sent").then_some(now_ms))
    .execute(tx.conn())
    .await
    .context("creating a delivery")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::event_matches;

    #[test]
    fn filters() {
        assert!(event_matches("*", "complaint.escalated"));
        assert!(event_matches(
            "appeal.decided, complaint.*",
            "complaint.escalated"
        ));
        assert!(!event_matches("complaint.*", "complaints.x"));
        assert!(!event_matches("appeal.decided", "feedback.assigned"));
    }
}
