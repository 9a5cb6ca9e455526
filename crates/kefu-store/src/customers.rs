//! Customers (migration `0014_customers`): the archive (客户档案) with its
//! 十问 profile, identity keys, tags, typed custom fields, purchases,
//! important dates, the log of every real contact, grade history and
//! reversible merges.
//!
//! `customers.profile` is the profile document as JSON (what it means is
//! the service's business); the other columns are copies that lists, the
//! follow-up queue and grading filter on. `next_due_at` is the last contact
//! plus the cadence of the customer's grade, kept up to date by every
//! contact and grade change so the follow-up queue is one index range.
//!
//! Conversations link to customers inside the import transaction
//! ([`link_imported`]): by the keys the [`CustomerPolicy`] names, creating a
//! customer when none matches, and recording the conversation as a contact
//! once (`UNIQUE (source, source_id)`), so importing again changes nothing.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::dialect::{Arg, Where};
use crate::{Context, Store, StoreError, Tx};

/// The settings key of the [`CustomerPolicy`].
pub const POLICY_KEY: &str = "customers";

const DAY_MS: i64 = 86_400_000;

/// How conversations find their customer and how often each grade is
/// contacted; stored as JSON under [`POLICY_KEY`] (other fields of that
/// document, such as the grading rules, belong to the service).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CustomerPolicy {
    /// Identity key kinds tried in order when linking a conversation
    /// (`native`, `phone`, `vendor`, `nick`).
    pub matching_keys: Vec<String>,
    /// Whether an import creates a customer for a conversation that matches
    /// none.
    pub create_on_import: bool,
    /// Days between contacts for grades A, B and C.
    pub cadence_days: Cadence,
}

/// Days between contacts, per grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cadence {
    /// 重点客户.
    #[serde(rename = "A")]
    pub a: i64,
    /// 主要客户.
    #[serde(rename = "B")]
    pub b: i64,
    /// 普通客户.
    #[serde(rename = "C")]
    pub c: i64,
}

impl Default for Cadence {
    /// The standard's example: A weekly, B monthly, C every two months.
    fn default() -> Cadence {
        Cadence { a: 7, b: 30, c: 60 }
    }
}

impl Cadence {
    /// Days between contacts for `grade`.
    pub fn days(&self, grade: &str) -> i64 {
        match grade {
            "A" => self.a,
            "B" => self.b,
            _ => self.c,
        }
    }
}

impl Default for CustomerPolicy {
    fn default() -> CustomerPolicy {
        CustomerPolicy {
            matching_keys: KEY_KINDS.iter().map(|k| k.to_string()).collect(),
            create_on_import: true,
            cadence_days: Cadence::default(),
        }
    }
}

/// The identity key kinds kefu knows, in the default matching order.
pub const KEY_KINDS: [&str; 4] = ["native", "phone", "vendor", "nick"];

/// A key's matching form: phones keep digits only (and lose a leading
/// `86` country code); other keys are trimmed.
pub fn normalize_key(kind: &str, value: &str) -> String {
    if kind == "phone" {
        let digits: String = value.chars().filter(char::is_ascii_digit).collect();
        match digits.strip_prefix("86") {
            Some(rest) if rest.len() == 11 => rest.to_string(),
            _ => digits,
        }
    } else {
        value.trim().to_string()
    }
}

/// An identity key of a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerKey {
    /// `native`, `phone`, `vendor` or `nick`.
    pub kind: String,
    /// The value, in matching form ([`normalize_key`]).
    pub value: String,
}

/// A typed custom field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomField {
    /// Field name.
    pub name: String,
    /// `text`, `number`, `date` or `select`.
    pub kind: String,
    /// The value as text.
    pub value: String,
}

/// A purchase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purchase {
    /// Item bought.
    pub item: String,
    /// Date, `YYYY-MM-DD`.
    pub bought_on: String,
    /// Amount in fen.
    pub amount_cents: i64,
}

/// An important date: a birthday, an anniversary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportantDate {
    /// What it is (生日 …).
    pub label: String,
    /// `solar` or `lunar`.
    pub calendar: String,
    /// Year, when known.
    pub year: Option<i64>,
    /// Month (lunar month for lunar dates).
    pub month: i64,
    /// Day of the month.
    pub day: i64,
    /// A lunar leap month (闰月).
    pub leap: bool,
    /// Remind the owner this many days before.
    pub remind_days: i64,
}

/// A customer's core columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomerRow {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// The owning agent.
    pub owner_id: Option<String>,
    /// `A`, `B` or `C`.
    pub grade: String,
    /// Whether the grade is a manual override.
    pub grade_manual: bool,
    /// The profile document, JSON.
    pub profile: String,
    /// 免打扰.
    pub do_not_disturb: bool,
    /// The last real contact, Unix ms.
    #[serde(with = "crate::json_time::opt_unix_ms")]
    pub last_contact_at: Option<i64>,
    /// When the next contact is due.
    #[serde(with = "crate::json_time::opt_unix_ms")]
    pub next_due_at: Option<i64>,
    /// The customer this one was merged into.
    pub merged_into: Option<String>,
    /// Created, Unix ms.
    #[serde(with = "crate::json_time::unix_ms")]
    pub created_at: i64,
    /// Last change.
    #[serde(with = "crate::json_time::unix_ms")]
    pub updated_at: i64,
    /// Bumped by every change of the profile.
    pub version: i64,
}

/// A customer with everything attached to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomerRecord {
    /// The core columns.
    pub row: CustomerRow,
    /// Identity keys.
    pub keys: Vec<CustomerKey>,
    /// Tags.
    pub tags: Vec<String>,
    /// Custom fields.
    pub fields: Vec<CustomField>,
    /// Purchases, newest first.
    pub purchases: Vec<Purchase>,
    /// Important dates.
    pub dates: Vec<ImportantDate>,
}

/// The parts of a customer a create or update writes: everything but the
/// derived columns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CustomerWrite {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Owning agent.
    pub owner_id: Option<String>,
    /// Profile JSON.
    pub profile: String,
    /// 免打扰.
    pub do_not_disturb: bool,
    /// Identity keys (normalised).
    pub keys: Vec<CustomerKey>,
    /// Tags.
    pub tags: Vec<String>,
    /// Custom fields.
    pub fields: Vec<CustomField>,
    /// Purchases.
    pub purchases: Vec<Purchase>,
    /// Important dates.
    pub dates: Vec<ImportantDate>,
}

/// A contact to record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactRow {
    /// Row id (ignored when recording).
    pub id: i64,
    /// The customer.
    pub customer_id: String,
    /// When, Unix ms.
    #[serde(with = "crate::json_time::unix_ms")]
    pub at: i64,
    /// `phone`, `chat`, `complaint`, `survey`, `revisit`, `outbound`, `care`.
    pub kind: String,
    /// Where it comes from: `conversation`, `complaint_history`,
    /// `revisit`, `log`.
    pub source: String,
    /// The source's id (conversation id …); unique per source.
    pub source_id: String,
    /// The agent.
    pub agent_id: Option<String>,
    /// The agent's display name from the data.
    pub agent_name: Option<String>,
    /// Outcome of a logged contact.
    pub outcome: Option<String>,
    /// Note.
    pub note: Option<String>,
}

/// A grade change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GradeRow {
    /// When.
    #[serde(with = "crate::json_time::unix_ms")]
    pub at: i64,
    /// The new grade.
    pub grade: String,
    /// `rules` or `manual`.
    pub source: String,
    /// Why (the rule that decided, or the override's reason).
    pub reason: String,
    /// Who.
    pub actor_id: String,
}

/// A merge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MergeRow {
    /// Id.
    pub id: i64,
    /// When.
    #[serde(with = "crate::json_time::unix_ms")]
    pub at: i64,
    /// Who.
    pub actor_id: String,
    /// The customer kept.
    pub kept_id: String,
    /// The customer merged into it.
    pub merged_id: String,
    /// What moved, JSON (`keys`, `contacts`, `purchases`, `dates`, `tags`, `fields`).
    pub moved: String,
    /// When it was undone.
    #[serde(with = "crate::json_time::opt_unix_ms")]
    pub undone_at: Option<i64>,
}

/// A filter for the customer list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerFilter {
    /// Only this grade.
    pub grade: Option<String>,
    /// Only customers this agent owns or has served.
    pub visible_to: Option<String>,
    /// Only customers this agent owns.
    pub owner: Option<String>,
    /// Name contains, or a key equals.
    pub q: Option<String>,
    /// Only customers with this tag.
    pub tag: Option<String>,
    /// Only customers due at or before this instant.
    pub due_before: Option<i64>,
    /// Page size (default 50, at most 1000).
    pub limit: Option<i64>,
    /// Offset (old page numbers; cost grows with it). Ignored with `after`.
    pub offset: Option<i64>,
    /// Start after this customer (the `next` of the page before).
    pub after: Option<CustomerListKey>,
}

/// A position in the customer list's order (`grade, name, id`): the last
/// customer of a page; the next page starts after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerListKey {
    /// Its grade.
    pub grade: String,
    /// Its name.
    pub name: String,
    /// Its id.
    pub id: String,
}

/// One page of the customer list ([`Store::list_customers`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerPage {
    /// The customers, by grade, name and id.
    pub rows: Vec<CustomerRow>,
    /// How many match: exact when `total_estimated` is false, otherwise a
    /// lower bound ([`crate::COUNT_CAP`]).
    pub total: i64,
    /// The count stopped at [`crate::COUNT_CAP`].
    pub total_estimated: bool,
    /// Where the next page starts, if there is one.
    pub next: Option<CustomerListKey>,
}

/// Per-customer figures grading and the profile use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct CustomerFigures {
    /// Total purchases, fen.
    pub value_cents: i64,
    /// Purchases since the window start, fen.
    pub recent_value_cents: i64,
    /// Contacts since the window start.
    pub recent_contacts: i64,
    /// Contacts in all.
    pub contacts: i64,
    /// The last contact.
    #[serde(with = "crate::json_time::opt_unix_ms")]
    pub last_contact_at: Option<i64>,
    /// Complaints in all.
    pub complaints: i64,
    /// Complaints not closed.
    pub open_complaints: i64,
    /// Complaints whose SLA was breached.
    pub sla_breaches: i64,
    /// Average post-contact satisfaction (0–10) of linked conversations.
    pub satisfaction: Option<f64>,
    /// Linked conversations with a satisfaction score.
    pub rated: i64,
}

/// An important date with its customer, for the care calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DateOfCustomer {
    /// The customer.
    pub customer_id: String,
    /// Their name.
    pub name: String,
    /// The owner.
    pub owner_id: Option<String>,
    /// 免打扰.
    pub do_not_disturb: bool,
    /// The date.
    pub date: ImportantDate,
}

/// One entry of a customer's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineEntry {
    /// When, Unix ms.
    #[serde(with = "crate::json_time::unix_ms")]
    pub at: i64,
    /// `conversation`, `complaint`, `survey`, `revisit`, `contact`.
    pub kind: String,
    /// The record's id.
    pub id: String,
    /// A short description (channel, state, outcome …).
    pub summary: String,
    /// The agent.
    pub agent_id: Option<String>,
    /// The agent's name from the data.
    pub agent_name: Option<String>,
}

/// A finding of the current inspection of a conversation linked to a
/// customer (the profile's "last inspection findings").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerFinding {
    /// The conversation.
    pub conversation_id: String,
    /// When the conversation started (the contact's time), Unix ms;
    /// RFC 3339 in JSON.
    #[serde(with = "crate::json_time::unix_ms")]
    pub at: i64,
    /// The conversation's agent.
    pub agent_id: Option<String>,
    /// The rule id.
    pub rule: String,
    /// The rule's dimension.
    pub dimension: String,
    /// Points deducted.
    pub deduction: f64,
}

/// A rated conversation of a customer: when and the satisfaction score
/// (0–10), for the profile's satisfaction trend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RatedContact {
    /// When, Unix ms; RFC 3339 in JSON.
    #[serde(with = "crate::json_time::unix_ms")]
    pub at: i64,
    /// The conversation's agent.
    pub agent_id: Option<String>,
    /// Satisfaction 0–10.
    pub satisfaction: i64,
}

/// What a merge moved (stored as JSON with the merge).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Moved {
    keys: Vec<CustomerKey>,
    contacts: Vec<i64>,
    purchases: Vec<i64>,
    dates: Vec<i64>,
    tags: Vec<String>,
    fields: Vec<String>,
}

const CORE: &str = "id, name, owner_id, grade, grade_manual, profile, do_not_disturb, \
                    last_contact_at, next_due_at, merged_into, created_at, updated_at, version";

fn core_row(r: &AnyRow) -> Result<CustomerRow, sqlx::Error> {
    Ok(CustomerRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        owner_id: r.try_get("owner_id")?,
        grade: r.try_get("grade")?,
        grade_manual: r.try_get::<i64, _>("grade_manual")? != 0,
        profile: r.try_get("profile")?,
        do_not_disturb: r.try_get::<i64, _>("do_not_disturb")? != 0,
        last_contact_at: r.try_get("last_contact_at")?,
        next_due_at: r.try_get("next_due_at")?,
        merged_into: r.try_get("merged_into")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        version: r.try_get("version")?,
    })
}

fn date_row(r: &AnyRow) -> Result<ImportantDate, sqlx::Error> {
    Ok(ImportantDate {
        label: r.try_get("label")?,
        calendar: r.try_get("calendar")?,
        year: r.try_get("year")?,
        month: r.try_get("month")?,
        day: r.try_get("day")?,
        leap: r.try_get::<i64, _>("leap")? != 0,
        remind_days: r.try_get("remind_days")?,
    })
}

fn contact_row(r: &AnyRow) -> Result<ContactRow, sqlx::Error> {
    Ok(ContactRow {
        id: r.try_get("id")?,
        customer_id: r.try_get("customer_id")?,
        at: r.try_get("at")?,
        kind: r.try_get("kind")?,
        source: r.try_get("source")?,
        source_id: r.try_get("source_id")?,
        agent_id: r.try_get("agent_id")?,
        agent_name: r.try_get("agent_name")?,
        outcome: r.try_get("outcome")?,
        note: r.try_get("note")?,
    })
}

async fn read_policy(conn: &mut AnyConnection) -> Result<CustomerPolicy, StoreError> {
    let row = sqlx::query("SELECT value FROM settings WHERE key = $1")
        .bind(POLICY_KEY)
        .fetch_optional(conn)
        .await
        .context("reading the customer policy")?;
    match row {
        None => Ok(CustomerPolicy::default()),
        Some(r) => {
            let text: String = r.try_get("value").context("settings.value")?;
            serde_json::from_str(&text).map_err(|e| StoreError::corrupt("customer policy", e))
        }
    }
}

async fn read_core(
    conn: &mut AnyConnection,
    id: &str,
    lock: &str,
) -> Result<Option<CustomerRow>, StoreError> {
    let sql = format!("SELECT {CORE} FROM customers WHERE id = $1{lock}");
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await
        .context("reading a customer")?;
    row.as_ref()
        .map(core_row)
        .transpose()
        .context("customers row")
}

async fn read_record(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<CustomerRecord>, StoreError> {
    let Some(row) = read_core(conn, id, "").await? else {
        return Ok(None);
    };
    let keys = sqlx::query(
        "SELECT kind, value FROM customer_keys WHERE customer_id = $1 ORDER BY kind, value",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await
    .context("reading customer keys")?
    .iter()
    .map(|r| {
        Ok(CustomerKey {
            kind: r.try_get("kind")?,
            value: r.try_get("value")?,
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()
    .context("customer_keys")?;
    let tags = sqlx::query("SELECT tag FROM customer_tags WHERE customer_id = $1 ORDER BY tag")
        .bind(id)
        .fetch_all(&mut *conn)
        .await
        .context("reading customer tags")?
        .iter()
        .map(|r| r.try_get("tag"))
        .collect::<Result<Vec<String>, sqlx::Error>>()
        .context("customer_tags")?;
    let fields = sqlx::query(
        "SELECT name, kind, value FROM customer_fields WHERE customer_id = $1 ORDER BY name",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await
    .context("reading custom fields")?
    .iter()
    .map(|r| {
        Ok(CustomField {
            name: r.try_get("name")?,
            kind: r.try_get("kind")?,
            value: r.try_get("value")?,
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()
    .context("customer_fields")?;
    let purchases = sqlx::query(
        "SELECT item, bought_on, amount_cents FROM customer_purchases WHERE customer_id = $1 \
         ORDER BY bought_on DESC, id DESC",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await
    .context("reading purchases")?
    .iter()
    .map(|r| {
        Ok(Purchase {
            item: r.try_get("item")?,
            bought_on: r.try_get("bought_on")?,
            amount_cents: r.try_get("amount_cents")?,
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()
    .context("customer_purchases")?;
    let dates = sqlx::query(
        "SELECT label, calendar, year, month, day, leap, remind_days FROM customer_dates \
         WHERE customer_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await
    .context("reading important dates")?
    .iter()
    .map(date_row)
    .collect::<Result<Vec<_>, sqlx::Error>>()
    .context("customer_dates")?;
    Ok(Some(CustomerRecord {
        row,
        keys,
        tags,
        fields,
        purchases,
        dates,
    }))
}

/// Replaces keys, tags, fields, purchases and dates of customer `id`.
async fn write_details(conn: &mut AnyConnection, c: &CustomerWrite) -> Result<(), StoreError> {
    for table in [
        "customer_keys",
        "customer_tags",
        "customer_fields",
        "customer_purchases",
        "customer_dates",
    ] {
        sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE customer_id = $1"
        )))
        .bind(c.id.as_str())
        .execute(&mut *conn)
        .await
        .context("replacing customer details")?;
    }
    for k in &c.keys {
        let value = normalize_key(&k.kind, &k.value);
        if value.is_empty() {
            continue;
        }
        let taken = sqlx::query(
            "INSERT INTO customer_keys (kind, value, customer_id) VALUES ($1, $2, $3) \
             ON CONFLICT (kind, value) DO NOTHING RETURNING customer_id",
        )
        .bind(k.kind.as_str())
        .bind(value.as_str())
        .bind(c.id.as_str())
        .fetch_optional(&mut *conn)
        .await
        .context("storing a customer key")?;
        if taken.is_none() {
            return Err(StoreError::Conflict(format!(
                "{} {} already belongs to another customer",
                k.kind, value
            )));
        }
    }
    for t in &c.tags {
        sqlx::query(
            "INSERT INTO customer_tags (customer_id, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(c.id.as_str())
        .bind(t.as_str())
        .execute(&mut *conn)
        .await
        .context("storing a tag")?;
    }
    for f in &c.fields {
        sqlx::query(
            "INSERT INTO customer_fields (customer_id, name, kind, value) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (customer_id, name) DO UPDATE SET kind = excluded.kind, value = excluded.value",
        )
        .bind(c.id.as_str())
        .bind(f.name.as_str())
        .bind(f.kind.as_str())
        .bind(f.value.as_str())
        .execute(&mut *conn)
        .await
        .context("storing a custom field")?;
    }
    for p in &c.purchases {
        sqlx::query(
            "INSERT INTO customer_purchases (customer_id, item, bought_on, amount_cents) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(c.id.as_str())
        .bind(p.item.as_str())
        .bind(p.bought_on.as_str())
        .bind(p.amount_cents)
        .execute(&mut *conn)
        .await
        .context("storing a purchase")?;
    }
    for d in &c.dates {
        sqlx::query(
            "INSERT INTO customer_dates (customer_id, label, calendar, year, month, day, leap, remind_days) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(c.id.as_str())
        .bind(d.label.as_str())
        .bind(d.calendar.as_str())
        .bind(d.year)
        .bind(d.month)
        .bind(d.day)
        .bind(i64::from(d.leap))
        .bind(d.remind_days)
        .execute(&mut *conn)
        .await
        .context("storing an important date")?;
    }
    Ok(())
}

/// Sets `next_due_at` of customer `id` from its last contact (or its
/// creation, if never contacted) and the cadence of its grade.
async fn refresh_due(
    conn: &mut AnyConnection,
    id: &str,
    cadence: &Cadence,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE customers SET next_due_at = COALESCE(last_contact_at, created_at) + \
         (CASE grade WHEN 'A' THEN $2 WHEN 'B' THEN $3 ELSE $4 END) WHERE id = $1",
    )
    .bind(id)
    .bind(cadence.a * DAY_MS)
    .bind(cadence.b * DAY_MS)
    .bind(cadence.c * DAY_MS)
    .execute(conn)
    .await
    .context("updating when a customer is due")?;
    Ok(())
}

/// Records a contact (once per source and id); moves the customer's last
/// contact forward and its due time with it. Returns whether it was new.
async fn add_contact(
    conn: &mut AnyConnection,
    c: &ContactRow,
    cadence: &Cadence,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO customer_contacts (customer_id, at, kind, source, source_id, agent_id, agent_name, outcome, note) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (source, source_id) DO NOTHING RETURNING id",
    )
    .bind(c.customer_id.as_str())
    .bind(c.at)
    .bind(c.kind.as_str())
    .bind(c.source.as_str())
    .bind(c.source_id.as_str())
    .bind(c.agent_id.as_deref())
    .bind(c.agent_name.as_deref())
    .bind(c.outcome.as_deref())
    .bind(c.note.as_deref())
    .fetch_optional(&mut *conn)
    .await
    .context("recording a contact")?
    .is_some();
    if inserted {
        sqlx::query(
            "UPDATE customers SET last_contact_at = $2 WHERE id = $1 \
             AND (last_contact_at IS NULL OR last_contact_at < $2)",
        )
        .bind(c.customer_id.as_str())
        .bind(c.at)
        .execute(&mut *conn)
        .await
        .context("updating the last contact")?;
        refresh_due(conn, &c.customer_id, cadence).await?;
    }
    Ok(inserted)
}

/// The customer id for a new customer found by key `kind`/`value`:
/// derived from the key, so a retried import creates the same customer.
pub fn customer_id_for_key(kind: &str, value: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{kind}\u{1f}{value}").as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("cu-{hex}")
}

/// A conversation to link: its id, start, channel, agent, customer name
/// and identity keys (normalised).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkItem<'a> {
    /// Conversation id.
    pub conversation_id: &'a str,
    /// Start, Unix ms (the import time when missing).
    pub at: i64,
    /// `phone` or `chat`.
    pub channel: &'a str,
    /// Agent id.
    pub agent_id: Option<&'a str>,
    /// Agent name.
    pub agent_name: Option<&'a str>,
    /// Customer name, for a customer created on import.
    pub customer_name: Option<&'a str>,
    /// Identity keys.
    pub keys: &'a [CustomerKey],
}

/// Links conversations to customers inside an import transaction; returns
/// how many contacts were recorded. A conversation without keys, or whose
/// keys match no customer when the policy does not create customers, stays
/// unlinked.
///
/// The whole slice is resolved with a handful of set-wise statements, not
/// several round trips per conversation: the keys of every item are looked
/// up at once, then the items are walked in order in memory — exactly as
/// linking them one by one would (an item's new customer and keys are seen
/// by the items after it) — and the new customers, keys and contacts are
/// written with multi-row statements. Last contact and due time are then
/// moved once per customer: both are functions of the final contacts.
pub async fn link_imported(tx: &mut Tx, items: &[LinkItem<'_>]) -> Result<u64, StoreError> {
    if items.iter().all(|i| i.keys.is_empty()) {
        return Ok(0);
    }
    let policy = read_policy(tx.conn()).await?;
    let now = crate::now_ms();
    let per_item: Vec<Vec<&CustomerKey>> = items
        .iter()
        .map(|item| {
            policy
                .matching_keys
                .iter()
                .flat_map(|kind| item.keys.iter().filter(move |k| &k.kind == kind))
                .filter(|k| !k.value.is_empty())
                .collect()
        })
        .collect();
    let mut owner = known_keys(tx, per_item.iter().flatten().copied()).await?;
    let mut created: HashSet<String> = HashSet::new();
    let mut customers: Vec<(CustomerWrite, i64)> = Vec::new();
    let mut new_keys: Vec<(&CustomerKey, String)> = Vec::new();
    let mut contacts: Vec<(String, &LinkItem<'_>)> = Vec::new();
    for (item, keys) in items.iter().zip(&per_item) {
        let Some(first) = keys.first() else { continue };
        let found = keys
            .iter()
            .find_map(|k| owner.get(&(k.kind.as_str(), k.value.as_str())).cloned());
        let customer_id = match found {
            Some(id) => id,
            None if policy.create_on_import => {
                let id = customer_id_for_key(&first.kind, &first.value);
                if created.insert(id.clone()) {
                    let name = item
                        .customer_name
                        .filter(|n| !n.trim().is_empty())
                        .unwrap_or(first.value.as_str());
                    customers.push((
                        CustomerWrite {
                            id: id.clone(),
                            name: name.to_string(),
                            owner_id: item.agent_id.map(str::to_string),
                            profile: "{}".to_string(),
                            ..Default::default()
                        },
                        item.at.min(now),
                    ));
                }
                id
            }
            None => continue,
        };
        for k in keys {
            if let std::collections::hash_map::Entry::Vacant(e) =
                owner.entry((k.kind.as_str(), k.value.as_str()))
            {
                e.insert(customer_id.clone());
                new_keys.push((k, customer_id.clone()));
            }
        }
        contacts.push((customer_id, item));
    }
    // A customer created here starts with the contacts this slice records
    // for it already counted (last contact, and due one grade-C cadence
    // later), which spares two updates of its row below — as long as every
    // one of those contacts is in fact recorded (checked after).
    // (latest contact, contacts) of each customer created here.
    let mut expected: HashMap<&str, (i64, usize)> = HashMap::new();
    for (customer_id, item) in &contacts {
        if created.contains(customer_id) {
            let e = expected.entry(customer_id.as_str()).or_insert((item.at, 0));
            e.0 = e.0.max(item.at);
            e.1 += 1;
        }
    }
    let fresh = insert_cores(tx, &customers, &expected, policy.cadence_days.c * DAY_MS).await?;
    insert_keys(tx, &new_keys).await?;
    let recorded = insert_conversation_contacts(tx, &contacts).await?;
    let mut latest: HashMap<&str, i64> = HashMap::new();
    for (customer_id, at) in &recorded {
        let e = latest.entry(customer_id.as_str()).or_insert(*at);
        *e = (*e).max(*at);
    }
    // Fresh customers whose contacts were all recorded are done. One with a
    // contact that was already there (rare: recorded before its
    // conversation was imported) goes back to the state of a new customer
    // and takes the general path.
    let mut recorded_per: HashMap<&str, usize> = HashMap::new();
    for (customer_id, _) in &recorded {
        *recorded_per.entry(customer_id.as_str()).or_insert(0) += 1;
    }
    let mut reset: Vec<&str> = Vec::new();
    for id in &fresh {
        let Some(&(_, wanted)) = expected.get(id.as_str()) else {
            continue;
        };
        if recorded_per.get(id.as_str()) == Some(&wanted) {
            latest.remove(id.as_str());
        } else {
            reset.push(id.as_str());
        }
    }
    reset_new_customers(tx, &reset).await?;
    let mut latest: Vec<(&str, i64)> = latest.into_iter().collect();
    // A fixed order keeps the row locks of concurrent importers (PostgreSQL)
    // in the same order.
    latest.sort_unstable();
    move_last_contacts(tx, &latest, &policy.cadence_days).await?;
    Ok(recorded.len() as u64)
}

/// Rows per multi-row statement of [`link_imported`] (at most 9 parameters
/// a row, well under SQLite's 32,766).
const LINK_ROWS: usize = 300;

/// The customers that the stored keys among `keys` belong to.
async fn known_keys<'k>(
    tx: &mut Tx,
    keys: impl Iterator<Item = &'k CustomerKey>,
) -> Result<HashMap<(&'k str, &'k str), String>, StoreError> {
    let mut unique: Vec<(&str, &str)> = keys.map(|k| (k.kind.as_str(), k.value.as_str())).collect();
    unique.sort_unstable();
    unique.dedup();
    let mut owner = HashMap::with_capacity(unique.len());
    for chunk in crate::dialect::row_chunks(&unique, LINK_ROWS) {
        let sql = format!(
            "SELECT kind, value, customer_id FROM customer_keys WHERE (kind, value) IN (VALUES {})",
            crate::dialect::placeholders(tx.backend(), chunk.len(), 2)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (kind, value) in chunk {
            q = q.bind(*kind).bind(*value);
        }
        let rows = q
            .fetch_all(tx.conn())
            .await
            .context("looking up customer keys")?;
        let mut stored: HashMap<(String, String), String> = HashMap::with_capacity(rows.len());
        for row in rows {
            let kind: String = row.try_get("kind").context("customer_keys.kind")?;
            let value: String = row.try_get("value").context("customer_keys.value")?;
            let customer: String = row
                .try_get("customer_id")
                .context("customer_keys.customer_id")?;
            stored.insert((kind, value), customer);
        }
        for &(kind, value) in chunk {
            if let Some(customer) = stored.remove(&(kind.to_owned(), value.to_owned())) {
                owner.insert((kind, value), customer);
            }
        }
    }
    Ok(owner)
}

/// Inserts customers' core rows (grade C) unless their ids are taken, each
/// with its own creation time; returns the ids inserted. A customer in
/// `contacted` (latest contact, number of contacts) starts with that last
/// contact and is due `cadence_c_ms` after it; any other is due at once.
async fn insert_cores(
    tx: &mut Tx,
    customers: &[(CustomerWrite, i64)],
    contacted: &HashMap<&str, (i64, usize)>,
    cadence_c_ms: i64,
) -> Result<Vec<String>, StoreError> {
    let mut inserted = Vec::with_capacity(customers.len());
    for chunk in crate::dialect::row_chunks(customers, LINK_ROWS) {
        let sql = format!(
            "INSERT INTO customers (id, name, owner_id, grade, grade_manual, profile, do_not_disturb, \
             last_contact_at, next_due_at, merged_into, created_at, updated_at, version) VALUES {} \
             ON CONFLICT (id) DO NOTHING RETURNING id",
            crate::dialect::placeholders(tx.backend(), chunk.len(), 13)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (c, at) in chunk {
            let last = contacted.get(c.id.as_str()).map(|&(last, _)| last);
            let due = last.map_or(*at, |l| l + cadence_c_ms);
            q = q
                .bind(c.id.as_str())
                .bind(c.name.as_str())
                .bind(c.owner_id.as_deref())
                .bind("C")
                .bind(0i64)
                .bind(c.profile.as_str())
                .bind(i64::from(c.do_not_disturb))
                .bind(last)
                .bind(due)
                .bind(None::<&str>)
                .bind(*at)
                .bind(*at)
                .bind(1i64);
        }
        let rows = q.fetch_all(tx.conn()).await.context("storing customers")?;
        for row in rows {
            inserted.push(row.try_get("id").context("customers.id")?);
        }
    }
    Ok(inserted)
}

/// Puts customers created in this transaction back to a new customer's
/// state — no last contact, due at creation — so that moving their last
/// contact ([`move_last_contacts`]) counts only the contacts recorded.
async fn reset_new_customers(tx: &mut Tx, ids: &[&str]) -> Result<(), StoreError> {
    for chunk in crate::dialect::row_chunks(ids, LINK_ROWS) {
        let sql = format!(
            "UPDATE customers SET last_contact_at = NULL, next_due_at = created_at WHERE id IN ({})",
            crate::dialect::placeholders(tx.backend(), chunk.len(), 1).replace(['(', ')'], "")
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for id in chunk {
            q = q.bind(*id);
        }
        q.execute(tx.conn())
            .await
            .context("resetting new customers' contact times")?;
    }
    Ok(())
}

/// Inserts identity keys unless already taken.
async fn insert_keys(tx: &mut Tx, keys: &[(&CustomerKey, String)]) -> Result<(), StoreError> {
    for chunk in crate::dialect::row_chunks(keys, LINK_ROWS) {
        let sql = format!(
            "INSERT INTO customer_keys (kind, value, customer_id) VALUES {} \
             ON CONFLICT (kind, value) DO NOTHING",
            crate::dialect::placeholders(tx.backend(), chunk.len(), 3)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (k, customer) in chunk {
            q = q
                .bind(k.kind.as_str())
                .bind(k.value.as_str())
                .bind(customer.as_str());
        }
        q.execute(tx.conn())
            .await
            .context("storing customer keys")?;
    }
    Ok(())
}

/// Records one contact per conversation (once per conversation id);
/// returns the customer and time of each contact that was new.
async fn insert_conversation_contacts(
    tx: &mut Tx,
    contacts: &[(String, &LinkItem<'_>)],
) -> Result<Vec<(String, i64)>, StoreError> {
    let mut recorded = Vec::with_capacity(contacts.len());
    for chunk in crate::dialect::row_chunks(contacts, LINK_ROWS) {
        let sql = format!(
            "INSERT INTO customer_contacts (customer_id, at, kind, source, source_id, agent_id, agent_name, \
             outcome, note) VALUES {} ON CONFLICT (source, source_id) DO NOTHING RETURNING customer_id, at",
            crate::dialect::placeholders(tx.backend(), chunk.len(), 9)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (customer, item) in chunk {
            q = q
                .bind(customer.as_str())
                .bind(item.at)
                .bind(item.channel)
                .bind("conversation")
                .bind(item.conversation_id)
                .bind(item.agent_id)
                .bind(item.agent_name)
                .bind(None::<&str>)
                .bind(None::<&str>);
        }
        let rows = q.fetch_all(tx.conn()).await.context("recording contacts")?;
        for row in rows {
            recorded.push((
                row.try_get("customer_id")
                    .context("customer_contacts.customer_id")?,
                row.try_get("at").context("customer_contacts.at")?,
            ));
        }
    }
    Ok(recorded)
}

/// Moves each customer's last contact forward to its latest new contact
/// (never back), then its due time with it.
async fn move_last_contacts(
    tx: &mut Tx,
    latest: &[(&str, i64)],
    cadence: &Cadence,
) -> Result<(), StoreError> {
    for chunk in crate::dialect::row_chunks(latest, LINK_ROWS) {
        let sql = format!(
            "UPDATE customers SET last_contact_at = v.column2 FROM (VALUES {}) AS v \
             WHERE customers.id = v.column1 \
             AND (customers.last_contact_at IS NULL OR customers.last_contact_at < v.column2)",
            crate::dialect::placeholders(tx.backend(), chunk.len(), 2)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (id, at) in chunk {
            q = q.bind(*id).bind(*at);
        }
        q.execute(tx.conn())
            .await
            .context("updating the last contact")?;
        let sql = format!(
            "UPDATE customers SET next_due_at = COALESCE(customers.last_contact_at, customers.created_at) + \
             (CASE customers.grade WHEN 'A' THEN v.column2 WHEN 'B' THEN v.column3 ELSE v.column4 END) \
             FROM (VALUES {}) AS v WHERE customers.id = v.column1",
            crate::dialect::placeholders(tx.backend(), chunk.len(), 4)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (id, _) in chunk {
            q = q
                .bind(*id)
                .bind(cadence.a * DAY_MS)
                .bind(cadence.b * DAY_MS)
                .bind(cadence.c * DAY_MS);
        }
        q.execute(tx.conn())
            .await
            .context("updating when customers are due")?;
    }
    Ok(())
}

async fn find_key(
    conn: &mut AnyConnection,
    kind: &str,
    value: &str,
) -> Result<Option<String>, StoreError> {
    let row = sqlx::query("SELECT customer_id FROM customer_keys WHERE kind = $1 AND value = $2")
        .bind(kind)
        .bind(value)
        .fetch_optional(conn)
        .await
        .context("looking up a customer key")?;
    row.map(|r| r.try_get("customer_id"))
        .transpose()
        .context("customer_keys.customer_id")
}

/// Inserts a customer's core row (grade C, due at once) unless the id is
/// taken; returns whether it was new.
async fn insert_core(
    conn: &mut AnyConnection,
    c: &CustomerWrite,
    now: i64,
) -> Result<bool, StoreError> {
    let row = sqlx::query(
        "INSERT INTO customers (id, name, owner_id, grade, grade_manual, profile, do_not_disturb, \
         last_contact_at, next_due_at, merged_into, created_at, updated_at, version) \
         VALUES ($1, $2, $3, 'C', 0, $4, $5, NULL, $6, NULL, $6, $6, 1) \
         ON CONFLICT (id) DO NOTHING RETURNING id",
    )
    .bind(c.id.as_str())
    .bind(c.name.as_str())
    .bind(c.owner_id.as_deref())
    .bind(c.profile.as_str())
    .bind(i64::from(c.do_not_disturb))
    .bind(now)
    .fetch_optional(conn)
    .await
    .context("storing a customer")?;
    Ok(row.is_some())
}

impl Tx {
    /// The customer policy (defaults when none is stored).
    pub async fn customer_policy(&mut self) -> Result<CustomerPolicy, StoreError> {
        read_policy(self.conn()).await
    }

    /// Creates a customer with its details; [`StoreError::Conflict`] when
    /// the id or one of its keys is taken.
    pub async fn create_customer(&mut self, c: &CustomerWrite, now: i64) -> Result<(), StoreError> {
        if !insert_core(self.conn(), c, now).await? {
            return Err(StoreError::Conflict(format!(
                "customer {} already exists",
                c.id
            )));
        }
        write_details(self.conn(), c).await
    }

    /// Reads a customer for changing it (locking its row on PostgreSQL).
    pub async fn customer_for_update(
        &mut self,
        id: &str,
    ) -> Result<Option<CustomerRecord>, StoreError> {
        let lock = crate::dialect::for_update(self.backend());
        if read_core(self.conn(), id, lock).await?.is_none() {
            return Ok(None);
        }
        read_record(self.conn(), id).await
    }

    /// Replaces a customer's profile and details if its version is still
    /// `version`; bumps the version.
    pub async fn update_customer(
        &mut self,
        c: &CustomerWrite,
        version: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE customers SET name = $2, owner_id = $3, profile = $4, do_not_disturb = $5, \
             updated_at = $6, version = version + 1 WHERE id = $1 AND version = $7",
        )
        .bind(c.id.as_str())
        .bind(c.name.as_str())
        .bind(c.owner_id.as_deref())
        .bind(c.profile.as_str())
        .bind(i64::from(c.do_not_disturb))
        .bind(now)
        .bind(version)
        .execute(self.conn())
        .await
        .context("updating a customer")?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "customer {} changed since version {version}",
                c.id
            )));
        }
        write_details(self.conn(), c).await
    }

    /// Records a contact and moves the customer's clock; returns whether
    /// the source was new.
    pub async fn add_customer_contact(
        &mut self,
        c: &ContactRow,
        cadence: &Cadence,
    ) -> Result<bool, StoreError> {
        add_contact(self.conn(), c, cadence).await
    }

    /// Sets a customer's grade (and whether it is a manual override),
    /// appends the change to the grade history and recomputes when the
    /// customer is due.
    pub async fn set_customer_grade(
        &mut self,
        customer_id: &str,
        g: &GradeRow,
        manual: bool,
        cadence: &Cadence,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE customers SET grade = $2, grade_manual = $3, updated_at = $4 WHERE id = $1",
        )
        .bind(customer_id)
        .bind(g.grade.as_str())
        .bind(i64::from(manual))
        .bind(g.at)
        .execute(self.conn())
        .await
        .context("setting a grade")?;
        sqlx::query(
            "INSERT INTO customer_grades (customer_id, at, grade, source, reason, actor_id) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(customer_id)
        .bind(g.at)
        .bind(g.grade.as_str())
        .bind(g.source.as_str())
        .bind(g.reason.as_str())
        .bind(g.actor_id.as_str())
        .execute(self.conn())
        .await
        .context("recording a grade change")?;
        refresh_due(self.conn(), customer_id, cadence).await
    }

    /// Recomputes every customer's due time after the cadence changed.
    pub async fn refresh_all_due(&mut self, cadence: &Cadence) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE customers SET next_due_at = COALESCE(last_contact_at, created_at) + \
             (CASE grade WHEN 'A' THEN $1 WHEN 'B' THEN $2 ELSE $3 END)",
        )
        .bind(cadence.a * DAY_MS)
        .bind(cadence.b * DAY_MS)
        .bind(cadence.c * DAY_MS)
        .execute(self.conn())
        .await
        .context("updating when customers are due")?;
        Ok(done.rows_affected())
    }

    /// Merges customer `merged` into `kept`: keys, contacts, purchases,
    /// dates, tags and custom fields move; `merged` stays as a record
    /// pointing at `kept`. Returns the merge id (for [`Tx::undo_merge`]).
    pub async fn merge_customers(
        &mut self,
        kept: &str,
        merged: &str,
        actor_id: &str,
        at: i64,
        cadence: &Cadence,
    ) -> Result<i64, StoreError> {
        if kept == merged {
            return Err(StoreError::Conflict(
                "a customer cannot be merged into itself".into(),
            ));
        }
        let lock = crate::dialect::for_update(self.backend());
        for id in [kept, merged] {
            let row = read_core(self.conn(), id, lock)
                .await?
                .ok_or_else(|| StoreError::not_found("customer", id))?;
            if row.merged_into.is_some() {
                return Err(StoreError::Conflict(format!(
                    "customer {id} is already merged"
                )));
            }
        }
        let mut moved = Moved::default();
        let conn = self.conn();
        moved.keys = sqlx::query("SELECT kind, value FROM customer_keys WHERE customer_id = $1")
            .bind(merged)
            .fetch_all(&mut *conn)
            .await
            .context("reading keys to merge")?
            .iter()
            .map(|r| {
                Ok(CustomerKey {
                    kind: r.try_get("kind")?,
                    value: r.try_get("value")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .context("customer_keys")?;
        for (table, list) in [
            ("customer_contacts", &mut moved.contacts),
            ("customer_purchases", &mut moved.purchases),
            ("customer_dates", &mut moved.dates),
        ] {
            *list = sqlx::query(AssertSqlSafe(format!(
                "SELECT id FROM {table} WHERE customer_id = $1 ORDER BY id"
            )))
            .bind(merged)
            .fetch_all(&mut *conn)
            .await
            .context("reading rows to merge")?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, sqlx::Error>>()
            .context("merge rows")?;
        }
        moved.tags = sqlx::query(
            "SELECT tag FROM customer_tags WHERE customer_id = $1 AND tag NOT IN \
             (SELECT tag FROM customer_tags WHERE customer_id = $2)",
        )
        .bind(merged)
        .bind(kept)
        .fetch_all(&mut *conn)
        .await
        .context("reading tags to merge")?
        .iter()
        .map(|r| r.try_get("tag"))
        .collect::<Result<_, sqlx::Error>>()
        .context("customer_tags")?;
        moved.fields = sqlx::query(
            "SELECT name FROM customer_fields WHERE customer_id = $1 AND name NOT IN \
             (SELECT name FROM customer_fields WHERE customer_id = $2)",
        )
        .bind(merged)
        .bind(kept)
        .fetch_all(&mut *conn)
        .await
        .context("reading fields to merge")?
        .iter()
        .map(|r| r.try_get("name"))
        .collect::<Result<_, sqlx::Error>>()
        .context("customer_fields")?;
        for table in [
            "customer_keys",
            "customer_contacts",
            "customer_purchases",
            "customer_dates",
        ] {
            sqlx::query(AssertSqlSafe(format!(
                "UPDATE {table} SET customer_id = $1 WHERE customer_id = $2"
            )))
            .bind(kept)
            .bind(merged)
            .execute(&mut *conn)
            .await
            .context("moving rows to the kept customer")?;
        }
        for tag in &moved.tags {
            sqlx::query(
                "UPDATE customer_tags SET customer_id = $1 WHERE customer_id = $2 AND tag = $3",
            )
            .bind(kept)
            .bind(merged)
            .bind(tag.as_str())
            .execute(&mut *conn)
            .await
            .context("moving a tag")?;
        }
        for name in &moved.fields {
            sqlx::query(
                "UPDATE customer_fields SET customer_id = $1 WHERE customer_id = $2 AND name = $3",
            )
            .bind(kept)
            .bind(merged)
            .bind(name.as_str())
            .execute(&mut *conn)
            .await
            .context("moving a custom field")?;
        }
        sqlx::query(
            "UPDATE customers SET merged_into = $1, next_due_at = NULL, updated_at = $3, \
             version = version + 1 WHERE id = $2",
        )
        .bind(kept)
        .bind(merged)
        .bind(at)
        .execute(&mut *conn)
        .await
        .context("marking the merged customer")?;
        let moved_json =
            serde_json::to_string(&moved).map_err(|e| StoreError::corrupt("merge", e))?;
        let id: i64 = sqlx::query(
            "INSERT INTO customer_merges (at, actor_id, kept_id, merged_id, moved) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(at)
        .bind(actor_id)
        .bind(kept)
        .bind(merged)
        .bind(moved_json)
        .fetch_one(&mut *conn)
        .await
        .context("recording a merge")?
        .try_get("id")
        .context("customer_merges.id")?;
        recompute_last_contact(conn, kept).await?;
        refresh_due(conn, kept, cadence).await?;
        Ok(id)
    }

    /// Undoes merge `merge_id`: everything it moved goes back (contacts
    /// recorded since stay with the kept customer) and the merged customer
    /// is active again.
    pub async fn undo_merge(
        &mut self,
        merge_id: i64,
        actor_id: &str,
        at: i64,
        cadence: &Cadence,
    ) -> Result<MergeRow, StoreError> {
        let lock = crate::dialect::for_update(self.backend());
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT id, at, actor_id, kept_id, merged_id, moved, undone_at FROM customer_merges \
             WHERE id = $1{lock}"
        )))
        .bind(merge_id)
        .fetch_optional(self.conn())
        .await
        .context("reading a merge")?
        .ok_or_else(|| StoreError::not_found("merge", merge_id.to_string()))?;
        let merge = merge_row(&row).context("customer_merges")?;
        if merge.undone_at.is_some() {
            return Err(StoreError::Conflict(format!(
                "merge {merge_id} is already undone"
            )));
        }
        let moved: Moved =
            serde_json::from_str(&merge.moved).map_err(|e| StoreError::corrupt("merge", e))?;
        let (kept, merged) = (merge.kept_id.as_str(), merge.merged_id.as_str());
        let conn = self.conn();
        for k in &moved.keys {
            sqlx::query(
                "UPDATE customer_keys SET customer_id = $1 WHERE kind = $2 AND value = $3 AND customer_id = $4",
            )
            .bind(merged)
            .bind(k.kind.as_str())
            .bind(k.value.as_str())
            .bind(kept)
            .execute(&mut *conn)
            .await
            .context("moving a key back")?;
        }
        for (table, ids) in [
            ("customer_contacts", &moved.contacts),
            ("customer_purchases", &moved.purchases),
            ("customer_dates", &moved.dates),
        ] {
            for id in ids {
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE {table} SET customer_id = $1 WHERE id = $2 AND customer_id = $3"
                )))
                .bind(merged)
                .bind(*id)
                .bind(kept)
                .execute(&mut *conn)
                .await
                .context("moving a row back")?;
            }
        }
        for tag in &moved.tags {
            sqlx::query(
                "UPDATE customer_tags SET customer_id = $1 WHERE customer_id = $2 AND tag = $3",
            )
            .bind(merged)
            .bind(kept)
            .bind(tag.as_str())
            .execute(&mut *conn)
            .await
            .context("moving a tag back")?;
        }
        for name in &moved.fields {
            sqlx::query(
                "UPDATE customer_fields SET customer_id = $1 WHERE customer_id = $2 AND name = $3",
            )
            .bind(merged)
            .bind(kept)
            .bind(name.as_str())
            .execute(&mut *conn)
            .await
            .context("moving a custom field back")?;
        }
        sqlx::query(
            "UPDATE customers SET merged_into = NULL, updated_at = $2, version = version + 1 WHERE id = $1",
        )
        .bind(merged)
        .bind(at)
        .execute(&mut *conn)
        .await
        .context("restoring the merged customer")?;
        sqlx::query("UPDATE customer_merges SET undone_at = $2, undone_by = $3 WHERE id = $1")
            .bind(merge_id)
            .bind(at)
            .bind(actor_id)
            .execute(&mut *conn)
            .await
            .context("marking the merge undone")?;
        for id in [kept, merged] {
            recompute_last_contact(conn, id).await?;
            refresh_due(conn, id, cadence).await?;
        }
        Ok(MergeRow {
            undone_at: Some(at),
            ..merge
        })
    }
}

fn merge_row(r: &AnyRow) -> Result<MergeRow, sqlx::Error> {
    Ok(MergeRow {
        id: r.try_get("id")?,
        at: r.try_get("at")?,
        actor_id: r.try_get("actor_id")?,
        kept_id: r.try_get("kept_id")?,
        merged_id: r.try_get("merged_id")?,
        moved: r.try_get("moved")?,
        undone_at: r.try_get("undone_at")?,
    })
}

async fn recompute_last_contact(conn: &mut AnyConnection, id: &str) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE customers SET last_contact_at = \
         (SELECT MAX(at) FROM customer_contacts WHERE customer_id = $1) WHERE id = $1",
    )
    .bind(id)
    .execute(conn)
    .await
    .context("recomputing the last contact")?;
    Ok(())
}

impl Store {
    /// The customer policy (defaults when none is stored).
    pub async fn customer_policy(&self) -> Result<CustomerPolicy, StoreError> {
        read_policy(&mut *self.conn().await?).await
    }

    /// A customer with its details.
    pub async fn customer(&self, id: &str) -> Result<Option<CustomerRecord>, StoreError> {
        let mut tx = self.read().await?;
        let out = read_record(tx.conn(), id).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// The customer that owns identity key `kind`/`value` (normalised here).
    pub async fn customer_by_key(
        &self,
        kind: &str,
        value: &str,
    ) -> Result<Option<String>, StoreError> {
        find_key(&mut *self.conn().await?, kind, &normalize_key(kind, value)).await
    }

    /// Whether agent `agent_id` owns customer `id` or has served them.
    pub async fn customer_visible_to(&self, id: &str, agent_id: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT 1 AS x FROM customers WHERE id = $1 AND (owner_id = $2 OR EXISTS \
             (SELECT 1 FROM customer_contacts WHERE customer_id = $1 AND agent_id = $2))",
        )
        .bind(id)
        .bind(agent_id)
        .fetch_optional(self.pool())
        .await
        .context("checking who may see a customer")?;
        Ok(row.is_some())
    }

    /// A page of active (not merged) customers, by grade, name and id:
    /// after [`CustomerFilter::after`] (keyset: any depth at the cost of the
    /// first page) or after `offset` rows. The total is counted only up to
    /// [`crate::COUNT_CAP`] matches, so a page never counts the whole
    /// table; past that, [`CustomerPage::total_estimated`] is set.
    pub async fn list_customers(&self, f: &CustomerFilter) -> Result<CustomerPage, StoreError> {
        let mut w = Where::default();
        w.push("c.merged_into IS NULL");
        if let Some(g) = &f.grade {
            let p = w.arg(Arg::Text(g.clone()));
            w.push(format!("c.grade = {p}"));
        }
        if let Some(o) = &f.owner {
            let p = w.arg(Arg::Text(o.clone()));
            w.push(format!("c.owner_id = {p}"));
        }
        if let Some(a) = &f.visible_to {
            let p = w.arg(Arg::Text(a.clone()));
            w.push(format!(
                "(c.owner_id = {p} OR c.id IN (SELECT customer_id FROM customer_contacts WHERE agent_id = {p}))"
            ));
        }
        if let Some(t) = &f.tag {
            let p = w.arg(Arg::Text(t.clone()));
            w.push(format!(
                "c.id IN (SELECT customer_id FROM customer_tags WHERE tag = {p})"
            ));
        }
        if let Some(q) = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            let needle = q.replace(['%', '_'], "");
            let like = w.arg(Arg::Text(format!("%{needle}%")));
            let exact = w.arg(Arg::Text(q.to_string()));
            let phone = w.arg(Arg::Text(normalize_key("phone", q)));
            let keys = format!(
                "SELECT customer_id FROM customer_keys WHERE value = {exact} \
                 OR (kind = 'phone' AND value = {phone})"
            );
            let matches = format!("(c.name LIKE {like} OR c.id = {exact} OR c.id IN ({keys}))");
            // Start from the customers whose name grams could match (and
            // those the id or a key names) rather than read every name.
            match self.name_candidates(&mut w, &needle).await? {
                Some(names) => {
                    let candidates = format!("{names} UNION SELECT {exact} UNION {keys}");
                    // PostgreSQL plans `= ANY(ARRAY(…))` as index lookups of
                    // the candidates; with `IN (…)` its estimates sometimes
                    // tipped it into reading every customer instead.
                    let drive = match self.backend() {
                        crate::Backend::Postgres => format!("c.id = ANY(ARRAY({candidates}))"),
                        crate::Backend::Sqlite => format!("c.id IN ({candidates})"),
                    };
                    w.push(format!("{drive} AND {matches}"));
                }
                None => w.push(matches),
            }
        }
        if let Some(d) = f.due_before {
            let p = w.arg(Arg::Int(d));
            w.push(format!("c.next_due_at <= {p}"));
        }
        let mut page_w = w.clone();
        if let Some(key) = &f.after {
            let g = page_w.arg(Arg::Text(key.grade.clone()));
            let n = page_w.arg(Arg::Text(key.name.clone()));
            let i = page_w.arg(Arg::Text(key.id.clone()));
            // A row value, which both databases bound an index range by.
            page_w.push(format!("(c.grade, c.name, c.id) > ({g}, {n}, {i})"));
        }
        let limit = f.limit.unwrap_or(50).clamp(1, 1000);
        let offset = if f.after.is_some() {
            0
        } else {
            f.offset.unwrap_or(0).max(0)
        };
        let sql = format!(
            "SELECT {} FROM customers c WHERE {} ORDER BY c.grade, c.name, c.id LIMIT {} OFFSET {}",
            CORE.split(", ")
                .map(|c| format!("c.{c}"))
                .collect::<Vec<_>>()
                .join(", "),
            page_w.sql(),
            page_w.next_placeholder(1),
            page_w.next_placeholder(2)
        );
        // One row more than asked says whether there is a next page.
        let found = page_w
            .bind(sqlx::query(AssertSqlSafe(sql)))
            .bind(limit + 1)
            .bind(offset)
            .fetch_all(self.pool())
            .await
            .context("listing customers")?;
        let mut rows = found
            .iter()
            .map(core_row)
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .context("customers")?;
        let more = rows.len() as i64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        // A first page that holds every match is its own count: a search
        // matching a few customers (which scans) then scans once, not twice.
        let (total, total_estimated) = if !more && f.after.is_none() && offset == 0 {
            (rows.len() as i64, false)
        } else {
            let count_sql = format!(
                "SELECT COUNT(*) AS n FROM (SELECT 1 FROM customers c WHERE {} LIMIT {}) t",
                w.sql(),
                w.next_placeholder(1)
            );
            let counted: i64 = w
                .bind(sqlx::query(AssertSqlSafe(count_sql)))
                .bind(crate::COUNT_CAP)
                .fetch_one(self.pool())
                .await
                .context("counting customers")?
                .try_get("n")
                .context("count")?;
            (counted, counted >= crate::COUNT_CAP)
        };
        let next = rows.last().filter(|_| more).map(|r| CustomerListKey {
            grade: r.grade.clone(),
            name: r.name.clone(),
            id: r.id.clone(),
        });
        Ok(CustomerPage {
            rows,
            total,
            total_estimated,
            next,
        })
    }

    /// Active (not merged) customers by id, after `after_id`: a walk over
    /// every customer that stays exact while the walk changes their grades
    /// (the list's order would move them).
    pub async fn customers_by_id(
        &self,
        after_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<CustomerRow>, StoreError> {
        let sql = format!(
            "SELECT {CORE} FROM customers WHERE merged_into IS NULL AND id > $1 ORDER BY id LIMIT $2"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(after_id.unwrap_or(""))
            .bind(limit.clamp(1, 1000))
            .fetch_all(self.pool())
            .await
            .context("walking the customers")?
            .iter()
            .map(core_row)
            .collect::<Result<_, sqlx::Error>>()
            .context("customers")
    }

    /// Active customers owned by `owner_id` that are due by `until` and do
    /// not refuse contact, most overdue first: the follow-up queue.
    pub async fn customers_due(
        &self,
        owner_id: &str,
        until: i64,
        limit: i64,
    ) -> Result<Vec<CustomerRow>, StoreError> {
        let sql = format!(
            "SELECT {CORE} FROM customers WHERE owner_id = $1 AND merged_into IS NULL \
             AND next_due_at <= $2 AND do_not_disturb = 0 ORDER BY next_due_at, id LIMIT $3"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(owner_id)
            .bind(until)
            .bind(limit.clamp(1, 1000))
            .fetch_all(self.pool())
            .await
            .context("reading the follow-up queue")?;
        rows.iter()
            .map(core_row)
            .collect::<Result<_, sqlx::Error>>()
            .context("customers")
    }

    /// Contacts of a customer, newest first.
    pub async fn customer_contacts(
        &self,
        customer_id: &str,
        limit: i64,
    ) -> Result<Vec<ContactRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, customer_id, at, kind, source, source_id, agent_id, agent_name, outcome, note \
             FROM customer_contacts WHERE customer_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(customer_id)
        .bind(limit.clamp(1, 10_000))
        .fetch_all(self.pool())
        .await
        .context("reading contacts")?;
        rows.iter()
            .map(contact_row)
            .collect::<Result<_, sqlx::Error>>()
            .context("customer_contacts")
    }

    /// Id, name and grade of every current customer `owner` owns who
    /// may be contacted (not do-not-disturb): the festival-care list. One
    /// query, without the page count of [`Store::list_customers`].
    pub async fn care_candidates(
        &self,
        owner: &str,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, grade FROM customers \
             WHERE owner_id = $1 AND merged_into IS NULL AND do_not_disturb = 0 ORDER BY id",
        )
        .bind(owner)
        .fetch_all(self.pool())
        .await
        .context("reading care candidates")?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("name")?, r.try_get("grade")?)))
            .collect::<Result<_, sqlx::Error>>()
            .context("care_candidates")
    }

    /// Which of the care keys already have a logged care contact, in a few
    /// queries (the keys are unique contact sources).
    pub async fn care_keys_done(
        &self,
        keys: &[String],
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        let mut done = std::collections::HashSet::new();
        for chunk in crate::dialect::row_chunks(keys, 500) {
            let list: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT source_id FROM customer_contacts WHERE source = 'care' AND source_id IN ({})",
                list.join(", ")
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for k in chunk {
                q = q.bind(k.as_str());
            }
            for r in q
                .fetch_all(self.pool())
                .await
                .context("reading care contacts")?
            {
                done.insert(r.try_get::<String, _>("source_id").context("care key")?);
            }
        }
        Ok(done)
    }

    /// The customer a conversation is linked to.
    pub async fn conversation_customer(
        &self,
        conversation_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT customer_id FROM customer_contacts WHERE source = 'conversation' AND source_id = $1",
        )
        .bind(conversation_id)
        .fetch_optional(self.pool())
        .await
        .context("reading a conversation's customer")?;
        row.map(|r| r.try_get("customer_id"))
            .transpose()
            .context("customer_contacts")
    }

    /// The grade history of a customer, oldest first.
    pub async fn grade_history(&self, customer_id: &str) -> Result<Vec<GradeRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT at, grade, source, reason, actor_id FROM customer_grades WHERE customer_id = $1 ORDER BY id",
        )
        .bind(customer_id)
        .fetch_all(self.pool())
        .await
        .context("reading grade history")?;
        rows.iter()
            .map(|r| {
                Ok(GradeRow {
                    at: r.try_get("at")?,
                    grade: r.try_get("grade")?,
                    source: r.try_get("source")?,
                    reason: r.try_get("reason")?,
                    actor_id: r.try_get("actor_id")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .context("customer_grades")
    }

    /// The merges a customer took part in, newest first.
    pub async fn customer_merges(&self, customer_id: &str) -> Result<Vec<MergeRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, actor_id, kept_id, merged_id, moved, undone_at FROM customer_merges \
             WHERE kept_id = $1 OR merged_id = $1 ORDER BY id DESC",
        )
        .bind(customer_id)
        .fetch_all(self.pool())
        .await
        .context("reading merges")?;
        rows.iter()
            .map(merge_row)
            .collect::<Result<_, sqlx::Error>>()
            .context("customer_merges")
    }

    /// The complaint ids a customer is known by: its own id and its native
    /// keys (complaints carry the customer id of the source system).
    async fn complaint_keys(&self, customer_id: &str) -> Result<Vec<String>, StoreError> {
        let mut ids = vec![customer_id.to_string()];
        let rows = sqlx::query(
            "SELECT value FROM customer_keys WHERE customer_id = $1 AND kind IN ('native', 'vendor')",
        )
        .bind(customer_id)
        .fetch_all(self.pool())
        .await
        .context("reading customer keys")?;
        for r in rows {
            ids.push(r.try_get("value").context("customer_keys.value")?);
        }
        Ok(ids)
    }

    /// Figures for grading and the profile; purchases and contacts since
    /// `since` (Unix ms) count as recent.
    pub async fn customer_figures(
        &self,
        customer_id: &str,
        since: i64,
    ) -> Result<CustomerFigures, StoreError> {
        let since_date = chrono::DateTime::from_timestamp_millis(since)
            .map(|t| t.date_naive().to_string())
            .unwrap_or_default();
        let r = sqlx::query(
            "SELECT CAST(COALESCE(SUM(amount_cents), 0) AS BIGINT) AS total, \
             CAST(COALESCE(SUM(CASE WHEN bought_on >= $2 THEN amount_cents ELSE 0 END), 0) AS BIGINT) AS recent \
             FROM customer_purchases WHERE customer_id = $1",
        )
        .bind(customer_id)
        .bind(since_date)
        .fetch_one(self.pool())
        .await
        .context("summing purchases")?;
        let mut f = CustomerFigures {
            value_cents: r.try_get("total").context("sum")?,
            recent_value_cents: r.try_get("recent").context("sum")?,
            ..Default::default()
        };
        let r = sqlx::query(
            "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(CASE WHEN at >= $2 THEN 1 ELSE 0 END), 0) AS BIGINT) AS recent, \
             MAX(at) AS last FROM customer_contacts WHERE customer_id = $1",
        )
        .bind(customer_id)
        .bind(since)
        .fetch_one(self.pool())
        .await
        .context("counting contacts")?;
        f.contacts = r.try_get("n").context("count")?;
        f.recent_contacts = r.try_get("recent").context("count")?;
        f.last_contact_at = r.try_get("last").context("max")?;
        let r = sqlx::query(
            "SELECT COUNT(*) AS n, CAST(AVG(CAST(i.satisfaction AS DOUBLE PRECISION)) AS DOUBLE PRECISION) AS avg \
             FROM customer_contacts k JOIN inspections i ON i.conversation_id = k.source_id AND i.is_current = 1 \
             WHERE k.customer_id = $1 AND k.source = 'conversation' AND i.satisfaction IS NOT NULL",
        )
        .bind(customer_id)
        .fetch_one(self.pool())
        .await
        .context("averaging satisfaction")?;
        f.rated = r.try_get("n").context("count")?;
        f.satisfaction = r.try_get("avg").context("avg")?;
        let keys = self.complaint_keys(customer_id).await?;
        let mut w = Where::default();
        let list: Vec<String> = keys.into_iter().map(|k| w.arg(Arg::Text(k))).collect();
        let sql = format!(
            "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(CASE WHEN state <> 'closed' THEN 1 ELSE 0 END), 0) AS BIGINT) AS open, \
             CAST(COALESCE(SUM(CASE WHEN sla_state = 'breached' THEN 1 ELSE 0 END), 0) AS BIGINT) AS breached \
             FROM complaints WHERE customer_id IN ({})",
            list.join(", ")
        );
        let r = w
            .bind(sqlx::query(AssertSqlSafe(sql)))
            .fetch_one(self.pool())
            .await
            .context("counting complaints")?;
        f.complaints = r.try_get("n").context("count")?;
        f.open_complaints = r.try_get("open").context("count")?;
        f.sla_breaches = r.try_get("breached").context("count")?;
        Ok(f)
    }

    /// A customer's timeline, newest first: linked conversations, logged
    /// contacts, complaints, surveys and revisits.
    pub async fn customer_timeline(
        &self,
        customer_id: &str,
        limit: i64,
    ) -> Result<Vec<TimelineEntry>, StoreError> {
        let limit = limit.clamp(1, 10_000);
        let mut out = Vec::new();
        for c in self.customer_contacts(customer_id, limit).await? {
            if c.source == "complaint_history" {
                continue;
            }
            let kind = if c.source == "conversation" {
                "conversation"
            } else {
                "contact"
            };
            let summary = [
                Some(c.kind.as_str()),
                c.outcome.as_deref(),
                c.note.as_deref(),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" · ");
            out.push(TimelineEntry {
                at: c.at,
                kind: kind.into(),
                id: c.source_id,
                summary,
                agent_id: c.agent_id,
                agent_name: c.agent_name,
            });
        }
        let keys = self.complaint_keys(customer_id).await?;
        let mut w = Where::default();
        let list: Vec<String> = keys.into_iter().map(|k| w.arg(Arg::Text(k))).collect();
        let list = list.join(", ");
        let sql = format!(
            "SELECT id, opened_at, state, category, assignee_id FROM complaints \
             WHERE customer_id IN ({list}) ORDER BY opened_at DESC LIMIT {}",
            w.next_placeholder(1)
        );
        let rows = w
            .bind(sqlx::query(AssertSqlSafe(sql)))
            .bind(limit)
            .fetch_all(self.pool())
            .await
            .context("reading a customer's complaints")?;
        for r in &rows {
            let state: String = r.try_get("state").context("complaints.state")?;
            let category: String = r.try_get("category").context("complaints.category")?;
            out.push(TimelineEntry {
                at: r.try_get("opened_at").context("complaints.opened_at")?,
                kind: "complaint".into(),
                id: r.try_get("id").context("complaints.id")?,
                summary: format!("{category} · {state}"),
                agent_id: r.try_get("assignee_id").context("complaints.assignee_id")?,
                agent_name: None,
            });
        }
        let sql = format!(
            "SELECT t.complaint_id, t.done_at, t.done_by, t.outcome, t.result_score, t.attitude_score \
             FROM revisit_tasks t JOIN complaints c ON c.id = t.complaint_id \
             WHERE c.customer_id IN ({list}) AND t.done_at IS NOT NULL ORDER BY t.done_at DESC LIMIT {}",
            w.next_placeholder(1)
        );
        let rows = w
            .bind(sqlx::query(AssertSqlSafe(sql)))
            .bind(limit)
            .fetch_all(self.pool())
            .await
            .context("reading a customer's revisits")?;
        for r in &rows {
            let result: Option<i64> = r.try_get("result_score").context("revisit")?;
            let attitude: Option<i64> = r.try_get("attitude_score").context("revisit")?;
            let outcome: Option<String> = r.try_get("outcome").context("revisit")?;
            let mut summary = outcome.unwrap_or_default();
            if let (Some(a), Some(b)) = (result, attitude) {
                summary = format!("{summary} ({a}/{b})").trim().to_string();
            }
            out.push(TimelineEntry {
                at: r
                    .try_get::<Option<i64>, _>("done_at")
                    .context("revisit")?
                    .unwrap_or(0),
                kind: if result.is_some() {
                    "survey"
                } else {
                    "revisit"
                }
                .into(),
                id: r.try_get("complaint_id").context("revisit")?,
                summary,
                agent_id: r.try_get("done_by").context("revisit")?,
                agent_name: None,
            });
        }
        out.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| a.id.cmp(&b.id)));
        out.truncate(limit as usize);
        Ok(out)
    }

    /// Display names of agents: their user account's, else the latest
    /// `agent_name` their imported conversations carry (agents need no
    /// account to be named). Agents with neither are left out.
    pub async fn agent_display_names(
        &self,
        ids: &[&str],
    ) -> Result<std::collections::HashMap<String, String>, StoreError> {
        let mut out = std::collections::HashMap::new();
        let mut asked = std::collections::HashSet::new();
        for id in ids {
            // Each agent once, named or not (a queue repeats its owner).
            if id.is_empty() || !asked.insert(*id) {
                continue;
            }
            let account: Option<String> =
                sqlx::query_scalar("SELECT display_name FROM users WHERE id = $1")
                    .bind(*id)
                    .fetch_optional(self.pool())
                    .await
                    .context("reading a user's name")?;
            let name = match account.filter(|n| !n.trim().is_empty()) {
                Some(n) => Some(n),
                None => sqlx::query_scalar(
                    "SELECT c.agent_name FROM inspections i JOIN conversations c ON c.id = i.conversation_id \
                     WHERE i.agent_id = $1 AND i.is_current = 1 AND c.agent_name IS NOT NULL \
                     AND c.agent_name <> '' ORDER BY i.started_at DESC LIMIT 1",
                )
                .bind(*id)
                .fetch_optional(self.pool())
                .await
                .context("reading an agent's name from conversations")?,
            };
            if let Some(n) = name {
                out.insert((*id).to_string(), n);
            }
        }
        Ok(out)
    }

    /// Findings of the current inspections of the customer's `conversations`
    /// most recent linked conversations, newest first (at most `limit`
    /// findings).
    pub async fn customer_findings(
        &self,
        customer_id: &str,
        conversations: i64,
        limit: i64,
    ) -> Result<Vec<CustomerFinding>, StoreError> {
        let rows = sqlx::query(
            "SELECT k.source_id, k.at, k.agent_id, f.rule, f.dimension, f.deduction FROM \
             (SELECT source_id, at, agent_id FROM customer_contacts WHERE customer_id = $1 \
              AND source = 'conversation' ORDER BY at DESC LIMIT $2) k \
             JOIN inspections i ON i.conversation_id = k.source_id AND i.is_current = 1 \
             JOIN findings f ON f.inspection_id = i.id \
             ORDER BY k.at DESC, k.source_id, f.turn, f.rule LIMIT $3",
        )
        .bind(customer_id)
        .bind(conversations.clamp(1, 1000))
        .bind(limit.clamp(1, 1000))
        .fetch_all(self.pool())
        .await
        .context("reading a customer's findings")?;
        rows.iter()
            .map(|r| {
                Ok(CustomerFinding {
                    conversation_id: r.try_get("source_id")?,
                    at: r.try_get("at")?,
                    agent_id: r.try_get("agent_id")?,
                    rule: r.try_get("rule")?,
                    dimension: r.try_get("dimension")?,
                    deduction: r.try_get("deduction")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .context("findings")
    }

    /// The customer's `limit` most recent linked conversations with a
    /// satisfaction score, newest first.
    pub async fn customer_ratings(
        &self,
        customer_id: &str,
        limit: i64,
    ) -> Result<Vec<RatedContact>, StoreError> {
        let rows = sqlx::query(
            "SELECT k.at, k.agent_id, CAST(i.satisfaction AS BIGINT) AS satisfaction \
             FROM customer_contacts k JOIN inspections i ON i.conversation_id = k.source_id \
             AND i.is_current = 1 WHERE k.customer_id = $1 AND k.source = 'conversation' \
             AND i.satisfaction IS NOT NULL ORDER BY k.at DESC LIMIT $2",
        )
        .bind(customer_id)
        .bind(limit.clamp(1, 10_000))
        .fetch_all(self.pool())
        .await
        .context("reading a customer's ratings")?;
        rows.iter()
            .map(|r| {
                Ok(RatedContact {
                    at: r.try_get("at")?,
                    agent_id: r.try_get("agent_id")?,
                    satisfaction: r.try_get("satisfaction")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .context("ratings")
    }

    /// Important dates of active customers, owned by `owner_id` when given,
    /// for the care calendar.
    pub async fn important_dates(
        &self,
        owner_id: Option<&str>,
    ) -> Result<Vec<DateOfCustomer>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.id AS customer_id, c.name, c.owner_id, c.do_not_disturb, d.label, d.calendar, \
             d.year, d.month, d.day, d.leap, d.remind_days FROM customer_dates d \
             JOIN customers c ON c.id = d.customer_id \
             WHERE c.merged_into IS NULL AND (CAST($1 AS TEXT) IS NULL OR c.owner_id = $1) ORDER BY c.id, d.id",
        )
        .bind(owner_id)
        .fetch_all(self.pool())
        .await
        .context("reading important dates")?;
        rows.iter()
            .map(|r| {
                Ok(DateOfCustomer {
                    customer_id: r.try_get("customer_id")?,
                    name: r.try_get("name")?,
                    owner_id: r.try_get("owner_id")?,
                    do_not_disturb: r.try_get::<i64, _>("do_not_disturb")? != 0,
                    date: date_row(r)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .context("customer_dates")
    }

    /// Conversation ids linked to a customer, newest first.
    pub async fn customer_conversation_ids(
        &self,
        customer_id: &str,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT source_id FROM customer_contacts WHERE customer_id = $1 AND source = 'conversation' \
             ORDER BY at DESC, id DESC LIMIT $2 OFFSET $3",
        )
        .bind(customer_id)
        .bind(limit.clamp(1, 1000))
        .bind(offset.max(0))
        .fetch_all(self.pool())
        .await
        .context("reading a customer's conversations")?;
        rows.iter()
            .map(|r| r.try_get("source_id"))
            .collect::<Result<_, sqlx::Error>>()
            .context("customer_contacts")
    }

    /// Complaint history entries after row `after` that are contacts with
    /// the customer (creation, replies, responses, revisits), with the
    /// complaint's customer id: `(history id, at, actor, kind, customer id)`.
    pub async fn complaint_contacts_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, i64, String, String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT h.id, h.at, h.actor_id, h.kind, c.customer_id FROM complaint_history h \
             JOIN complaints c ON c.id = h.complaint_id WHERE h.id > $1 AND c.customer_id IS NOT NULL \
             AND h.kind IN ('created', 'replied', 'customer_responded', 'revisit_completed', 'survey_recorded') \
             ORDER BY h.id LIMIT $2",
        )
        .bind(after)
        .bind(limit.clamp(1, 10_000))
        .fetch_all(self.pool())
        .await
        .context("reading complaint contacts")?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    r.try_get("at")?,
                    r.try_get("actor_id")?,
                    r.try_get("kind")?,
                    r.try_get("customer_id")?,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .context("complaint_history")
    }
}

/// Metadata fields that carry a customer's phone number.
const PHONE_FIELDS: &[&str] = &[
    "phone",
    "customer_phone",
    "caller",
    "caller_number",
    "ani",
    "mobile",
    "手机",
    "手机号",
    "电话",
    "客户电话",
    "主叫号码",
    "来电号码",
];
/// Metadata fields that carry a vendor's customer id.
const VENDOR_FIELDS: &[&str] = &[
    "vendor_customer_id",
    "member_id",
    "buyer_id",
    "会员号",
    "会员ID",
    "买家ID",
];
/// Metadata fields that carry a shop nick.
const NICK_FIELDS: &[&str] = &["buyer_nick", "shop_nick", "nick", "买家昵称", "旺旺号"];

/// Whether `s` looks like a mainland mobile number.
fn looks_like_mobile(s: &str) -> bool {
    let n = normalize_key("phone", s);
    n.len() == 11
        && n.starts_with('1')
        && s.chars().all(|c| c.is_ascii_digit() || "+- ".contains(c))
}

/// The identity keys a conversation carries: its native `customer_id`
/// (also a phone key when it is a mobile number), and phones, vendor ids and
/// shop nicks from its metadata.
pub fn conversation_keys(conv: &kefu_engine::Conversation<'_>) -> Vec<CustomerKey> {
    let mut keys = Vec::new();
    let mut push = |kind: &str, value: &str| {
        let value = normalize_key(kind, value);
        if !value.is_empty()
            && !keys
                .iter()
                .any(|k: &CustomerKey| k.kind == kind && k.value == value)
        {
            keys.push(CustomerKey {
                kind: kind.to_string(),
                value,
            });
        }
    };
    if let Some(id) = conv.customer_id.as_deref() {
        push("native", id);
        if looks_like_mobile(id) {
            push("phone", id);
        }
    }
    for (kind, fields) in [
        ("phone", PHONE_FIELDS),
        ("vendor", VENDOR_FIELDS),
        ("nick", NICK_FIELDS),
    ] {
        for f in fields {
            let value = match conv.meta.get(*f) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(serde_json::Value::Number(n)) => n.to_string(),
                _ => continue,
            };
            push(kind, &value);
        }
    }
    keys
}

/// Links the conversations of an import slice that were new (`inserted`),
/// inside its transaction.
pub(crate) async fn link_new(
    tx: &mut Tx,
    items: &[&crate::ImportItem],
    inserted: &std::collections::HashSet<String>,
    now: i64,
) -> Result<u64, StoreError> {
    let links: Vec<LinkItem<'_>> = items
        .iter()
        .filter(|i| !i.customer_keys.is_empty() && inserted.contains(&i.id))
        .map(|i| LinkItem {
            conversation_id: &i.id,
            at: i.started_at.unwrap_or(now),
            channel: i.channel,
            agent_id: i.agent_id.as_deref(),
            agent_name: i.agent_name.as_deref(),
            customer_name: i.customer_name.as_deref(),
            keys: &i.customer_keys,
        })
        .collect();
    if links.is_empty() {
        return Ok(0);
    }
    link_imported(tx, &links).await
}
