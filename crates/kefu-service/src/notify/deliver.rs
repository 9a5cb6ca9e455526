//! The delivery worker: inbox rows, e-mail over SMTP and signed webhooks.
//!
//! Each [`Deliverer::run_once`] first expands new notifications into
//! delivery rows (unique per notification, recipient and channel), then
//! claims due e-mail and webhook rows under a lease
//! ([`kefu_store::Store::claim_deliveries`]), sends them, and records the
//! outcome — only while it still holds the lease. Several nodes running it
//! against one database share the rows and deliver each at most once per
//! recipient and channel; a crashed node's lease runs out and another node
//! tries again.

use std::time::Duration;

use hmac::{Hmac, Mac};
use kefu_store::outbox::{ClaimedDelivery, DeliveryResult};
use kefu_store::Store;
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Serialize;

use crate::error::{Error, Result};

/// Where and how to send e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    /// The relay's host name or address.
    pub host: String,
    /// Its port (25 or 587 usually).
    pub port: u16,
    /// The sender address (`kefu@example.com`).
    pub from: String,
    /// Login, if the relay wants one.
    pub username: Option<String>,
    /// Password for `username`.
    pub password: Option<String>,
}

impl SmtpConfig {
    /// Reads `smtp://[user[:password]@]host[:port]` (port 25 by default);
    /// `from` is the sender address.
    pub fn from_url(url: &str, from: &str) -> Result<SmtpConfig> {
        let bad = |why: &str| Error::invalid_field("SMTP URL", why.to_string());
        let rest = url
            .trim()
            .strip_prefix("smtp://")
            .ok_or_else(|| bad("it must start with smtp:// (plain SMTP to a relay)"))?;
        let rest = rest.trim_end_matches('/');
        let (auth, hostport) = match rest.rsplit_once('@') {
            Some((a, h)) => (Some(a), h),
            None => (None, rest),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>()
                    .map_err(|_| bad("the port is not a number"))?,
            ),
            None => (hostport, 25),
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let (username, password) = match auth {
            Some(a) => match a.split_once(':') {
                Some((u, p)) => (Some(u.to_string()), Some(p.to_string())),
                None => (Some(a.to_string()), None),
            },
            None => (None, None),
        };
        if from.parse::<Mailbox>().is_err() {
            return Err(Error::invalid_field(
                "SMTP sender",
                format!("{from:?} is not an address"),
            ));
        }
        Ok(SmtpConfig {
            host: host.to_string(),
            port,
            from: from.to_string(),
            username,
            password,
        })
    }
}

/// How the delivery worker behaves.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// This node's name, recorded on the rows it claims.
    pub node_id: String,
    /// The waits before the 2nd, 3rd … attempt; after the last one a
    /// delivery is dead (so at most `backoff.len() + 1` attempts).
    pub backoff: Vec<Duration>,
    /// How long a claim holds (longer than a batch takes to send).
    pub lease: Duration,
    /// Time limit of one webhook request or SMTP session.
    pub timeout: Duration,
    /// Rows claimed at a time.
    pub batch: i64,
    /// E-mail, when configured.
    pub smtp: Option<SmtpConfig>,
    /// The dashboard's address for absolute links in e-mails and webhooks
    /// (`https://kefu.example.com`); links stay paths when unset.
    pub public_url: Option<String>,
}

impl DeliveryConfig {
    /// The defaults: 30 s, 2 min, 10 min, 1 h, 6 h between attempts (six
    /// in all), a 5-minute lease, 10-second requests, 20 rows a claim.
    pub fn new(node_id: impl Into<String>) -> DeliveryConfig {
        DeliveryConfig {
            node_id: node_id.into(),
            backoff: [30, 120, 600, 3600, 21_600]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
            lease: Duration::from_secs(300),
            timeout: Duration::from_secs(10),
            batch: 20,
            smtp: None,
            public_url: None,
        }
    }
}

/// What one [`Deliverer::run_once`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    /// Notifications expanded into delivery rows.
    pub expanded: usize,
    /// E-mails and webhooks delivered.
    pub sent: usize,
    /// Attempts that failed and will be tried again.
    pub retried: usize,
    /// Deliveries given up.
    pub dead: usize,
}

/// The delivery worker of one node.
#[derive(Debug, Clone)]
pub struct Deliverer {
    store: Store,
    config: DeliveryConfig,
    http: reqwest::Client,
}

type HmacSha256 = Hmac<sha2::Sha256>;

/// `sha256=<hex>`: the `X-Kefu-Signature` of `body` under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length.
    let mut mac = match HmacSha256::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(7 + bytes.len() * 2);
    hex.push_str("sha256=");
    for b in bytes.iter() {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// The JSON body of a webhook delivery.
#[derive(Debug, Clone, Serialize)]
struct WebhookBody<'a> {
    event: &'a str,
    id: String,
    delivery_id: String,
    occurred_at: String,
    title: &'a str,
    body: &'a str,
    url: String,
    object: serde_json::Value,
}

impl Deliverer {
    /// A worker over `store`.
    pub fn new(store: Store, config: DeliveryConfig) -> Result<Deliverer> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| Error::Internal(format!("building the HTTP client: {e}")))?;
        Ok(Deliverer {
            store,
            config,
            http,
        })
    }

    /// Expands new notifications, then sends the e-mails and webhooks due
    /// at `now_ms` (Unix ms), batch after batch until none is left.
    pub async fn run_once(&self, now_ms: i64) -> Result<DeliveryReport> {
        let mut report = DeliveryReport::default();
        loop {
            let n = self
                .store
                .expand_notifications(now_ms, 200, self.config.smtp.is_some())
                .await?;
            report.expanded += n;
            if n < 200 {
                break;
            }
        }
        let channels: &[&str] = if self.config.smtp.is_some() {
            &["webhook", "email"]
        } else {
            &["webhook"]
        };
        let lease_ms = i64::try_from(self.config.lease.as_millis()).unwrap_or(i64::MAX);
        // Bounded: a run ends even when deliveries keep failing fast.
        for _ in 0..50 {
            let claimed = self
                .store
                .claim_deliveries(
                    channels,
                    &self.config.node_id,
                    now_ms,
                    lease_ms,
                    self.config.batch,
                )
                .await?;
            if claimed.is_empty() {
                break;
            }
            for d in &claimed {
                let outcome = self.send(d).await;
                let result = self.result_of(d, outcome, now_ms);
                match &result {
                    DeliveryResult::Sent { .. } => report.sent += 1,
                    DeliveryResult::Retry { .. } => report.retried += 1,
                    DeliveryResult::Dead { .. } => report.dead += 1,
                }
                // `false`: this node's lease ran out before it got here; the
                // row is another node's now, and its attempt decides.
                let _recorded = self
                    .store
                    .finish_delivery(d.id, &self.config.node_id, &result, kefu_store::now_ms())
                    .await?;
            }
        }
        Ok(report)
    }

    /// What to record after an attempt.
    fn result_of(
        &self,
        d: &ClaimedDelivery,
        outcome: std::result::Result<Option<i64>, (Option<i64>, String)>,
        now_ms: i64,
    ) -> DeliveryResult {
        match outcome {
            Ok(status_code) => DeliveryResult::Sent { status_code },
            Err((status_code, error)) => {
                let done = usize::try_from(d.attempts).unwrap_or(usize::MAX);
                match self.config.backoff.get(done.saturating_sub(1)) {
                    Some(wait) => DeliveryResult::Retry {
                        status_code,
                        error,
                        next_attempt_at: now_ms
                            .saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX)),
                    },
                    None => DeliveryResult::Dead { status_code, error },
                }
            }
        }
    }

    fn absolute(&self, link: &str) -> String {
        match &self.config.public_url {
            Some(base) => format!("{}{link}", base.trim_end_matches('/')),
            None => link.to_string(),
        }
    }

    /// One attempt: the status code on success, or the status (if any) and
    /// the error.
    async fn send(
        &self,
        d: &ClaimedDelivery,
    ) -> std::result::Result<Option<i64>, (Option<i64>, String)> {
        match d.channel.as_str() {
            "webhook" => self.send_webhook(d).await,
            "email" => self.send_email(d).await.map(|()| None),
            other => Err((None, format!("unknown channel {other}"))),
        }
    }

    async fn send_webhook(
        &self,
        d: &ClaimedDelivery,
    ) -> std::result::Result<Option<i64>, (Option<i64>, String)> {
        let (Some(url), Some(secret)) = (&d.address, &d.secret) else {
            return Err((None, "the webhook endpoint is gone".into()));
        };
        let n = &d.notification;
        let occurred_at = kefu_store::json_time::rfc3339(n.created_at);
        let object: serde_json::Value =
            serde_json::from_str(&n.summary).unwrap_or(serde_json::Value::Null);
        let body = WebhookBody {
            event: &n.event,
            id: n.id.to_string(),
            delivery_id: d.id.to_string(),
            occurred_at,
            title: &n.title,
            body: &n.body,
            url: self.absolute(&n.link),
            object,
        };
        let raw = serde_json::to_vec(&body).map_err(|e| (None, e.to_string()))?;
        let timestamp = kefu_store::json_time::rfc3339(kefu_store::now_ms());
        let answer = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("user-agent", "kefu-webhook")
            .header("x-kefu-event", n.event.as_str())
            .header("x-kefu-delivery", d.id.to_string())
            .header("x-kefu-timestamp", timestamp)
            .header("x-kefu-signature", signature(secret, &raw))
            .body(raw)
            .send()
            .await;
        match answer {
            Ok(r) => {
                let code = i64::from(r.status().as_u16());
                if r.status().is_success() {
                    Ok(Some(code))
                } else {
                    Err((Some(code), format!("HTTP {}", r.status())))
                }
            }
            Err(e) => Err((None, e.to_string())),
        }
    }

    async fn send_email(
        &self,
        d: &ClaimedDelivery,
    ) -> std::result::Result<(), (Option<i64>, String)> {
        let Some(smtp) = &self.config.smtp else {
            return Err((None, "e-mail is not configured".into()));
        };
        let Some(to) = &d.address else {
            return Err((None, format!("user {} has no e-mail address", d.recipient)));
        };
        let from: Mailbox = smtp
            .from
            .parse()
            .map_err(|e| (None, format!("sender: {e}")))?;
        let to: Mailbox = to
            .parse()
            .map_err(|e| (None, format!("recipient {to:?}: {e}")))?;
        let n = &d.notification;
        let mut text = String::new();
        text.push_str(&n.title);
        text.push_str("\n\n");
        if !n.body.is_empty() {
            text.push_str(&n.body);
            text.push_str("\n\n");
        }
        text.push_str(&self.absolute(&n.link));
        text.push('\n');
        let message = Message::builder()
            .from(from)
            .to(to)
            .subject(format!("[kefu] {}", n.title))
            .header(ContentType::TEXT_PLAIN)
            .body(text)
            .map_err(|e| (None, format!("building the message: {e}")))?;
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.as_str())
                .port(smtp.port)
                .timeout(Some(self.config.timeout));
        if let Some(user) = &smtp.username {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                smtp.password.clone().unwrap_or_default(),
            ));
        }
        let transport = builder.build();
        transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| (None, e.to_string()))
    }
}
