//! Customers (客户档案): the archive with its 十问 profile ([`profile`]),
//! identity and merges, A/B/C grading ([`grading`]), contact cadence and
//! the follow-up queue, and the care calendar ([`care`]).
//!
//! # Who sees what
//!
//! - agents: customers they own or have served (a contact of theirs is
//!   linked to the customer); they create customers they then own, change
//!   their own customers, log contacts and care with customers they see;
//! - inspectors: every customer, read only, personal data masked;
//! - supervisors and admins: everything — grade overrides, merges and the
//!   settings are theirs alone.
//!
//! A customer the caller may not see is "not found", as elsewhere in kefu.
//!
//! # Cadence
//!
//! Each grade has a cadence (days between contacts). `last_contact_at` is
//! the newest real contact: imported calls and chats (linked on import by
//! the store), complaint activity ([`CustomerService::sync_complaint_contacts`]),
//! logged outbound contacts and care contacts. `next_due_at` is
//! `last_contact_at` (or the creation, if never contacted) plus the cadence;
//! a customer is *due* when that falls today and *overdue* when it passed.
//! Logging an outcome is a contact, so it resets the clock.

pub mod care;
pub mod grading;
pub mod import;
pub mod profile;

use chrono::{NaiveDate, TimeZone};
use serde::{Deserialize, Serialize};

use kefu_store::customers::{
    ContactRow, CustomerFigures, CustomerFilter, CustomerFinding, CustomerListKey, CustomerPolicy,
    CustomerRow, GradeRow, MergeRow, TimelineEntry, POLICY_KEY,
};
use kefu_store::{AuditEntry, Store};

use crate::auth::{Principal, Role};
use crate::{Error, Result};

pub use care::{CareReminder, CareSettings};
pub use grading::{GradeDecision, GradingRules};
pub use import::CustomersImport;
pub use profile::{CustomerInput, CustomerView, Profile, PII_FIELDS};

const DAY_MS: i64 = 86_400_000;

/// Settings of the customer features, one JSON document under the
/// `customers` settings key: matching keys and cadence (read by the store
/// on import too), grading rules and care.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CustomerSettings {
    /// Matching keys, create on import, cadence per grade.
    #[serde(flatten)]
    pub policy: CustomerPolicy,
    /// Grading rules.
    pub grading: GradingRules,
    /// Care calendar.
    pub care: CareSettings,
}

/// A page of the customer list ([`CustomerService::list`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomerList {
    /// The customers, by grade, name and id.
    pub items: Vec<CustomerSummary>,
    /// How many match: exact unless `total_estimated`, then a lower bound.
    pub total: i64,
    /// The count stopped early ([`kefu_store::COUNT_CAP`]).
    pub total_estimated: bool,
    /// The cursor of the next page, if there is one.
    pub next: Option<String>,
}

/// A customer in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomerSummary {
    /// Id.
    pub id: String,
    /// Name (masked for inspectors).
    pub name: String,
    /// Owner.
    pub owner_id: Option<String>,
    /// Grade.
    pub grade: String,
    /// Manual override.
    pub grade_manual: bool,
    /// Last contact.
    #[serde(with = "kefu_store::json_time::opt_unix_ms")]
    pub last_contact_at: Option<i64>,
    /// Next contact due.
    #[serde(with = "kefu_store::json_time::opt_unix_ms")]
    pub next_due_at: Option<i64>,
    /// `ok`, `due` or `overdue`.
    pub cadence_state: &'static str,
    /// 免打扰.
    pub do_not_disturb: bool,
}

/// Derived figures of a customer's profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerStats {
    /// The figures (window: the grading rules' window).
    #[serde(flatten)]
    pub figures: CustomerFigures,
    /// What the rules would grade now.
    pub rules_grade: GradeDecision,
    /// Satisfaction by month (centre's time), oldest first, over the last
    /// [`TREND_RATINGS`] rated conversations.
    pub satisfaction_trend: Vec<SatisfactionPoint>,
    /// Findings of the current inspections of the last
    /// [`FINDING_CONVERSATIONS`] linked conversations, newest first (for
    /// agents: of their own conversations).
    pub last_findings: Vec<CustomerFinding>,
}

/// How many rated conversations the satisfaction trend covers.
pub const TREND_RATINGS: i64 = 500;
/// How many of the latest linked conversations the profile's findings
/// come from.
pub const FINDING_CONVERSATIONS: i64 = 10;

/// A month of the satisfaction trend.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SatisfactionPoint {
    /// `YYYY-MM`.
    pub month: String,
    /// Average satisfaction 0–10.
    pub average: f64,
    /// Rated conversations that month.
    pub rated: i64,
}

/// The follow-up queue of one agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FollowUps {
    /// Past their due time.
    pub overdue: Vec<CustomerSummary>,
    /// Due later today.
    pub due_today: Vec<CustomerSummary>,
}

/// A care reminder and whether the care contact was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CareItem {
    /// The reminder.
    #[serde(flatten)]
    pub reminder: CareReminder,
    /// The care contact was recorded.
    pub done: bool,
}

/// A contact to log.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContactInput {
    /// `outbound` (call), `visit`, `message`, `care`.
    pub kind: String,
    /// Outcome: `reached`, `no_answer`, `callback`, `refused` or free text.
    pub outcome: String,
    /// Note.
    pub note: Option<String>,
    /// When (RFC 3339, or Unix ms); now when missing.
    #[serde(with = "kefu_store::json_time::opt_unix_ms")]
    pub at: Option<i64>,
    /// For care: the reminder's key.
    pub care_key: Option<String>,
}

/// Customer workflows over the [`Store`].
#[derive(Debug, Clone)]
pub struct CustomerService {
    store: Store,
}

fn is_privileged(p: &Principal) -> bool {
    matches!(p.role, Role::Supervisor | Role::Admin)
}

fn audit(p: &Principal, id: &str, action: &str, at: i64, detail: serde_json::Value) -> AuditEntry {
    AuditEntry {
        at,
        actor_id: p.user_id.clone(),
        actor_role: p.role.as_str().to_string(),
        entity: "customer".into(),
        entity_id: id.to_string(),
        action: action.into(),
        detail,
    }
}

impl CustomerService {
    /// A service over `store`.
    pub fn new(store: Store) -> CustomerService {
        CustomerService { store }
    }

    /// The settings (defaults where none are stored).
    pub async fn settings(&self) -> Result<CustomerSettings> {
        match self.store.setting(POLICY_KEY).await? {
            None => Ok(CustomerSettings::default()),
            Some(text) => {
                serde_json::from_str(&text).map_err(|e| Error::corrupt("customer settings", e))
            }
        }
    }

    /// Replaces the settings (supervisors and admins); due times follow a
    /// changed cadence at once.
    pub async fn put_settings(&self, p: &Principal, s: &CustomerSettings, now: i64) -> Result<()> {
        if !is_privileged(p) {
            return Err(Error::Forbidden(
                "only supervisors change customer settings".into(),
            ));
        }
        s.grading
            .validate()
            .map_err(|e| Error::invalid_field("grading", e))?;
        for k in &s.policy.matching_keys {
            if !kefu_store::customers::KEY_KINDS.contains(&k.as_str()) {
                return Err(Error::invalid_field(
                    "matching_keys",
                    format!("unknown key `{k}`"),
                ));
            }
        }
        let c = s.policy.cadence_days;
        if [c.a, c.b, c.c].iter().any(|d| !(1..=3650).contains(d)) {
            return Err(Error::invalid_field("cadence_days", "1–3650 days"));
        }
        let text = serde_json::to_string(s).map_err(|e| Error::Internal(e.to_string()))?;
        let old = self.settings().await?;
        let mut tx = self.store.write().await?;
        tx.put_setting(POLICY_KEY, &text, &p.user_id, now).await?;
        if old.policy.cadence_days != c {
            tx.refresh_all_due(&c).await?;
        }
        tx.append_audit(&audit(
            p,
            "settings",
            "settings",
            now,
            serde_json::json!({"settings": s}),
        ))
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The end of the day containing `now`, in the centre's time.
    fn day_end(settings: &CustomerSettings, now: i64) -> i64 {
        let offset = i64::from(settings.care.utc_offset_minutes) * 60_000;
        ((now + offset).div_euclid(DAY_MS) + 1) * DAY_MS - offset
    }

    /// Today in the centre's time.
    pub fn today(settings: &CustomerSettings, now: i64) -> NaiveDate {
        let offset = i64::from(settings.care.utc_offset_minutes) * 60_000;
        chrono::Utc
            .timestamp_millis_opt(now + offset)
            .single()
            .map_or(NaiveDate::MIN, |t| t.date_naive())
    }

    /// Reads a customer the caller may see, or "not found".
    async fn visible(
        &self,
        p: &Principal,
        id: &str,
    ) -> Result<kefu_store::customers::CustomerRecord> {
        let rec = self
            .store
            .customer(id)
            .await?
            .ok_or_else(|| Error::not_found("customer", id))?;
        if p.role == Role::Agent
            && rec.row.owner_id.as_deref() != Some(p.user_id.as_str())
            && !self.store.customer_visible_to(id, &p.user_id).await?
        {
            return Err(Error::not_found("customer", id));
        }
        Ok(rec)
    }

    fn summary(&self, p: &Principal, r: &CustomerRow, now: i64, day_end: i64) -> CustomerSummary {
        CustomerSummary {
            id: r.id.clone(),
            name: if p.role == Role::Inspector {
                crate::complaint::mask_name(&r.name)
            } else {
                r.name.clone()
            },
            owner_id: r.owner_id.clone(),
            grade: r.grade.clone(),
            grade_manual: r.grade_manual,
            last_contact_at: r.last_contact_at,
            next_due_at: r.next_due_at,
            cadence_state: profile::cadence_state(r.next_due_at, now, day_end),
            do_not_disturb: r.do_not_disturb,
        }
    }

    /// A customer's profile as `p` may see it.
    pub async fn get(&self, p: &Principal, id: &str, now: i64) -> Result<CustomerView> {
        let rec = self.visible(p, id).await?;
        let settings = self.settings().await?;
        let unmasked = profile::sees_pii(p.role, &p.user_id, rec.row.owner_id.as_deref());
        profile::view(&rec, p.role, unmasked, now, Self::day_end(&settings, now))
    }

    /// Creates a customer. Agents own what they create; an empty id gets
    /// one generated.
    pub async fn create(
        &self,
        p: &Principal,
        input: &CustomerInput,
        now: i64,
    ) -> Result<CustomerView> {
        let mut input = input.clone();
        match p.role {
            Role::Inspector => {
                return Err(Error::Forbidden(
                    "inspectors do not create customers".into(),
                ))
            }
            Role::Agent => input.owner_id = Some(p.user_id.clone()),
            _ => {}
        }
        let id = if input.id.trim().is_empty() {
            new_id()?
        } else {
            input.id.trim().to_string()
        };
        check_id(&id)?;
        let write = input.to_write(&id)?;
        let settings = self.settings().await?;
        let mut tx = self.store.write().await?;
        tx.create_customer(&write, now).await?;
        let rules = settings.grading.grade(&CustomerFigures::default(), now);
        tx.set_customer_grade(
            &id,
            &GradeRow {
                at: now,
                grade: rules.grade.into(),
                source: "rules".into(),
                reason: rules.reason,
                actor_id: p.user_id.clone(),
            },
            false,
            &settings.policy.cadence_days,
        )
        .await?;
        tx.commit().await?;
        self.get(p, &id, now).await
    }

    /// Replaces a customer's archive (not its grade, contacts or merges).
    /// Agents change only their own customers and cannot give them away.
    pub async fn update(
        &self,
        p: &Principal,
        id: &str,
        input: &CustomerInput,
        now: i64,
    ) -> Result<CustomerView> {
        let current = self.visible(p, id).await?;
        let mut input = input.clone();
        match p.role {
            Role::Inspector => {
                return Err(Error::Forbidden(
                    "inspectors do not change customers".into(),
                ))
            }
            Role::Agent => {
                if current.row.owner_id.as_deref() != Some(p.user_id.as_str()) {
                    return Err(Error::Forbidden("only the owner changes a customer".into()));
                }
                input.owner_id = current.row.owner_id.clone();
            }
            _ => {}
        }
        if current.row.merged_into.is_some() {
            return Err(Error::Conflict(format!("customer {id} was merged")));
        }
        let write = input.to_write(id)?;
        let mut tx = self.store.write().await?;
        let locked = tx
            .customer_for_update(id)
            .await?
            .ok_or_else(|| Error::not_found("customer", id))?;
        let version = input.version.unwrap_or(locked.row.version);
        tx.update_customer(&write, version, now).await?;
        tx.commit().await?;
        self.get(p, id, now).await
    }

    /// A page of customers `p` may see.
    pub async fn list(
        &self,
        p: &Principal,
        filter: &CustomerFilter,
        now: i64,
    ) -> Result<CustomerList> {
        let mut f = filter.clone();
        if p.role == Role::Agent {
            f.visible_to = Some(p.user_id.clone());
        }
        let settings = self.settings().await?;
        let day_end = Self::day_end(&settings, now);
        let page = self.store.list_customers(&f).await?;
        Ok(CustomerList {
            items: page
                .rows
                .iter()
                .map(|r| self.summary(p, r, now, day_end))
                .collect(),
            total: page.total,
            total_estimated: page.total_estimated,
            next: page.next.as_ref().map(CustomerListKey::to_cursor),
        })
    }

    /// A customer's timeline (conversations, complaints, surveys, revisits,
    /// logged contacts), newest first; agents see only their own
    /// conversations in it.
    pub async fn timeline(
        &self,
        p: &Principal,
        id: &str,
        limit: i64,
    ) -> Result<Vec<TimelineEntry>> {
        self.visible(p, id).await?;
        let mut entries = self.store.customer_timeline(id, limit).await?;
        if p.role == Role::Agent {
            // Other agents' conversations stay theirs.
            entries.retain(|e| {
                e.kind != "conversation" || e.agent_id.as_deref() == Some(p.user_id.as_str())
            });
        }
        Ok(entries)
    }

    /// Conversation ids linked to a customer, newest first (for agents,
    /// those they handled).
    pub async fn conversations(
        &self,
        p: &Principal,
        id: &str,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<String>> {
        self.visible(p, id).await?;
        if p.role != Role::Agent {
            return Ok(self
                .store
                .customer_conversation_ids(id, limit, offset)
                .await?);
        }
        // Agents: only the conversations they handled.
        Ok(self
            .store
            .customer_contacts(id, 10_000)
            .await?
            .into_iter()
            .filter(|c| {
                c.source == "conversation" && c.agent_id.as_deref() == Some(p.user_id.as_str())
            })
            .skip(usize::try_from(offset.max(0)).unwrap_or(0))
            .take(usize::try_from(limit.clamp(1, 1000)).unwrap_or(1))
            .map(|c| c.source_id)
            .collect())
    }

    /// Derived figures and what the rules would grade now.
    pub async fn stats(&self, p: &Principal, id: &str, now: i64) -> Result<CustomerStats> {
        self.visible(p, id).await?;
        let settings = self.settings().await?;
        let figures = self
            .store
            .customer_figures(id, settings.grading.window_start(now))
            .await?;
        let offset = i64::from(settings.care.utc_offset_minutes) * 60_000;
        let ratings = self.store.customer_ratings(id, TREND_RATINGS).await?;
        let mut last_findings = self
            .store
            .customer_findings(id, FINDING_CONVERSATIONS, 100)
            .await?;
        if p.role == Role::Agent {
            // Other agents' conversations stay theirs.
            last_findings.retain(|f| f.agent_id.as_deref() == Some(p.user_id.as_str()));
        }
        Ok(CustomerStats {
            rules_grade: settings.grading.grade(&figures, now),
            figures,
            satisfaction_trend: trend(ratings.iter().map(|r| (r.at, r.satisfaction)), offset),
            last_findings,
        })
    }

    /// Display names of agents (owners, the agents of timeline entries):
    /// the user account's name, else the name the imported conversations
    /// carry.
    pub async fn agent_names(
        &self,
        ids: &[&str],
    ) -> Result<std::collections::HashMap<String, String>> {
        Ok(self.store.agent_display_names(ids).await?)
    }

    /// The grade history, oldest first.
    pub async fn grade_history(&self, p: &Principal, id: &str) -> Result<Vec<GradeRow>> {
        self.visible(p, id).await?;
        Ok(self.store.grade_history(id).await?)
    }

    /// The merges a customer took part in.
    pub async fn merges(&self, p: &Principal, id: &str) -> Result<Vec<MergeRow>> {
        self.visible(p, id).await?;
        Ok(self.store.customer_merges(id).await?)
    }

    /// Grades a customer by the rules, unless its grade is a manual
    /// override; records a change in the history. Returns the decision.
    pub async fn regrade(&self, id: &str, actor: &str, now: i64) -> Result<GradeDecision> {
        let settings = self.settings().await?;
        let figures = self
            .store
            .customer_figures(id, settings.grading.window_start(now))
            .await?;
        let decision = settings.grading.grade(&figures, now);
        let mut tx = self.store.write().await?;
        let rec = tx
            .customer_for_update(id)
            .await?
            .ok_or_else(|| Error::not_found("customer", id))?;
        if !rec.row.grade_manual && rec.row.grade != decision.grade && rec.row.merged_into.is_none()
        {
            tx.set_customer_grade(
                id,
                &GradeRow {
                    at: now,
                    grade: decision.grade.into(),
                    source: "rules".into(),
                    reason: decision.reason.clone(),
                    actor_id: actor.into(),
                },
                false,
                &settings.policy.cadence_days,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(decision)
    }

    /// Regrades every active customer (supervisors and admins, or the
    /// system); returns how many changed grade.
    pub async fn regrade_all(&self, p: &Principal, now: i64) -> Result<u64> {
        if !is_privileged(p) {
            return Err(Error::Forbidden(
                "only supervisors regrade customers".into(),
            ));
        }
        let mut changed = 0;
        // By id: regrading moves customers in the list's order (grade
        // first), so pages of that order would skip some and repeat others.
        let mut after: Option<String> = None;
        loop {
            let rows = self.store.customers_by_id(after.as_deref(), 500).await?;
            let Some(last) = rows.last() else {
                break;
            };
            after = Some(last.id.clone());
            for r in rows.iter().filter(|r| !r.grade_manual) {
                let d = self.regrade(&r.id, &p.user_id, now).await?;
                if d.grade != r.grade {
                    changed += 1;
                }
            }
        }
        Ok(changed)
    }

    /// Sets a grade by hand with a reason (supervisors and admins), or with
    /// `grade` `None` clears the override and lets the rules grade again.
    pub async fn override_grade(
        &self,
        p: &Principal,
        id: &str,
        grade: Option<&str>,
        reason: &str,
        now: i64,
    ) -> Result<CustomerView> {
        if !is_privileged(p) {
            return Err(Error::Forbidden("only supervisors override grades".into()));
        }
        self.visible(p, id).await?;
        let settings = self.settings().await?;
        let mut tx = self.store.write().await?;
        match grade {
            Some(g) => {
                if !["A", "B", "C"].contains(&g) {
                    return Err(Error::invalid_field("grade", "A, B or C"));
                }
                if reason.trim().is_empty() {
                    return Err(Error::invalid_field("reason", "an override needs a reason"));
                }
                tx.set_customer_grade(
                    id,
                    &GradeRow {
                        at: now,
                        grade: g.into(),
                        source: "manual".into(),
                        reason: reason.trim().into(),
                        actor_id: p.user_id.clone(),
                    },
                    true,
                    &settings.policy.cadence_days,
                )
                .await?;
                tx.append_audit(&audit(
                    p,
                    id,
                    "grade_override",
                    now,
                    serde_json::json!({"grade": g, "reason": reason.trim()}),
                ))
                .await?;
                tx.commit().await?;
            }
            None => {
                let rec = tx
                    .customer_for_update(id)
                    .await?
                    .ok_or_else(|| Error::not_found("customer", id))?;
                tx.set_customer_grade(
                    id,
                    &GradeRow {
                        at: now,
                        grade: rec.row.grade.clone(),
                        source: "rules".into(),
                        reason: format!("取消人工定级 override cleared: {}", reason.trim()),
                        actor_id: p.user_id.clone(),
                    },
                    false,
                    &settings.policy.cadence_days,
                )
                .await?;
                tx.append_audit(&audit(
                    p,
                    id,
                    "grade_override_cleared",
                    now,
                    serde_json::json!({"reason": reason.trim()}),
                ))
                .await?;
                tx.commit().await?;
                self.regrade(id, &p.user_id, now).await?;
            }
        }
        self.get(p, id, now).await
    }

    /// Logs a contact with its outcome; it resets the customer's clock. A
    /// care contact carries the reminder's key and is recorded once.
    pub async fn log_contact(
        &self,
        p: &Principal,
        id: &str,
        c: &ContactInput,
        now: i64,
    ) -> Result<bool> {
        if p.role == Role::Inspector {
            return Err(Error::Forbidden("inspectors do not log contacts".into()));
        }
        let rec = self.visible(p, id).await?;
        if rec.row.merged_into.is_some() {
            return Err(Error::Conflict(format!("customer {id} was merged")));
        }
        let kind = c.kind.trim();
        if !["outbound", "visit", "message", "care"].contains(&kind) {
            return Err(Error::invalid_field(
                "kind",
                "outbound, visit, message or care",
            ));
        }
        if c.outcome.trim().is_empty() {
            return Err(Error::invalid_field("outcome", "say how it went"));
        }
        let at = c.at.unwrap_or(now);
        if at > now + 60_000 {
            return Err(Error::invalid_field("at", "in the future"));
        }
        let (source, source_id) = match (kind, &c.care_key) {
            ("care", Some(key)) if !key.trim().is_empty() => {
                if !key.starts_with(&format!("{id}|")) {
                    return Err(Error::invalid_field(
                        "care_key",
                        "belongs to another customer",
                    ));
                }
                ("care", key.trim().to_string())
            }
            ("care", _) => {
                return Err(Error::invalid_field(
                    "care_key",
                    "a care contact needs its reminder",
                ))
            }
            _ => ("log", format!("{id}|{}|{at}|{}", p.user_id, new_id()?)),
        };
        let settings = self.settings().await?;
        let mut tx = self.store.write().await?;
        let new = tx
            .add_customer_contact(
                &ContactRow {
                    id: 0,
                    customer_id: id.into(),
                    at,
                    kind: kind.into(),
                    source: source.into(),
                    source_id,
                    agent_id: Some(p.user_id.clone()),
                    agent_name: None,
                    outcome: Some(c.outcome.trim().into()),
                    note: c.note.clone().filter(|n| !n.trim().is_empty()),
                },
                &settings.policy.cadence_days,
            )
            .await?;
        tx.commit().await?;
        Ok(new)
    }

    /// The follow-up queue of `agent` (agents see only their own): overdue
    /// and due today, most overdue first.
    pub async fn follow_ups(&self, p: &Principal, agent: &str, now: i64) -> Result<FollowUps> {
        if p.role == Role::Agent && agent != p.user_id {
            return Err(Error::Forbidden("agents see their own follow-ups".into()));
        }
        let settings = self.settings().await?;
        let day_end = Self::day_end(&settings, now);
        let rows = self.store.customers_due(agent, day_end - 1, 1000).await?;
        let (overdue, due_today) = rows
            .iter()
            .map(|r| self.summary(p, r, now, day_end))
            .partition(|s| s.cadence_state == "overdue");
        Ok(FollowUps { overdue, due_today })
    }

    /// Care reminders of `agent`'s customers for today (`horizon_days`
    /// more to look further ahead), with whether each was done.
    pub async fn care(
        &self,
        p: &Principal,
        agent: &str,
        now: i64,
        horizon_days: i64,
    ) -> Result<Vec<CareItem>> {
        if p.role == Role::Agent && agent != p.user_id {
            return Err(Error::Forbidden(
                "agents see their own care calendar".into(),
            ));
        }
        let settings = self.settings().await?;
        let today = Self::today(&settings, now);
        let dates = self.store.important_dates(Some(agent)).await?;
        // Owned customers matter only for festival greetings: skip reading
        // them (thousands for a busy agent) when no festival is near.
        let customers = if care::festival_within(&settings.care, today, horizon_days) {
            self.store.care_candidates(agent).await?
        } else {
            Vec::new()
        };
        let reminders = care::reminders(&dates, &customers, &settings.care, today, horizon_days);
        let keys: Vec<String> = reminders.iter().map(|r| r.key.clone()).collect();
        let done_keys = self.store.care_keys_done(&keys).await?;
        let mut out = Vec::with_capacity(reminders.len());
        for mut r in reminders {
            let done = done_keys.contains(&r.key);
            if p.role == Role::Inspector {
                r.customer_name = crate::complaint::mask_name(&r.customer_name);
            }
            out.push(CareItem { reminder: r, done });
        }
        Ok(out)
    }

    /// Merges customer `merged` into `kept` (supervisors and admins),
    /// audited; returns the merge id.
    pub async fn merge(&self, p: &Principal, kept: &str, merged: &str, now: i64) -> Result<i64> {
        if !is_privileged(p) {
            return Err(Error::Forbidden("only supervisors merge customers".into()));
        }
        let settings = self.settings().await?;
        let mut tx = self.store.write().await?;
        let id = tx
            .merge_customers(kept, merged, &p.user_id, now, &settings.policy.cadence_days)
            .await?;
        tx.append_audit(&audit(
            p,
            kept,
            "merge",
            now,
            serde_json::json!({"merge_id": id, "merged": merged}),
        ))
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Undoes a merge (supervisors and admins), audited.
    pub async fn undo_merge(&self, p: &Principal, merge_id: i64, now: i64) -> Result<MergeRow> {
        if !is_privileged(p) {
            return Err(Error::Forbidden("only supervisors undo merges".into()));
        }
        let settings = self.settings().await?;
        let mut tx = self.store.write().await?;
        let m = tx
            .undo_merge(merge_id, &p.user_id, now, &settings.policy.cadence_days)
            .await?;
        tx.append_audit(&audit(
            p,
            &m.kept_id,
            "merge_undone",
            now,
            serde_json::json!({"merge_id": merge_id, "merged": m.merged_id}),
        ))
        .await?;
        tx.commit().await?;
        Ok(m)
    }

    /// Records complaint activity (opening, replies, the customer's
    /// responses, revisits) as contacts of the customers the complaints
    /// name, from where the last run stopped; returns how many were new.
    pub async fn sync_complaint_contacts(&self, now: i64) -> Result<u64> {
        const CURSOR: &str = "customers.complaint_cursor";
        let mut after: i64 = self
            .store
            .setting(CURSOR)
            .await?
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let settings = self.settings().await?;
        let mut added = 0;
        loop {
            let rows = self.store.complaint_contacts_after(after, 500).await?;
            let Some(last) = rows.last() else { break };
            let last_id = last.0;
            let mut tx = self.store.write().await?;
            for (hid, at, actor, kind, customer) in &rows {
                let target = match self.store.customer_by_key("native", customer).await? {
                    Some(id) => Some(id),
                    None => self.store.customer(customer).await?.map(|c| c.row.id),
                };
                let Some(target) = target else { continue };
                let contact_kind = if kind == "revisit_completed" {
                    "revisit"
                } else {
                    "complaint"
                };
                if tx
                    .add_customer_contact(
                        &ContactRow {
                            id: 0,
                            customer_id: target,
                            at: *at,
                            kind: contact_kind.into(),
                            source: "complaint_history".into(),
                            source_id: hid.to_string(),
                            agent_id: Some(actor.clone()),
                            agent_name: None,
                            outcome: Some(kind.clone()),
                            note: None,
                        },
                        &settings.policy.cadence_days,
                    )
                    .await?
                {
                    added += 1;
                }
            }
            tx.put_setting(CURSOR, &last_id.to_string(), "system", now)
                .await?;
            tx.commit().await?;
            after = last_id;
        }
        Ok(added)
    }
}

/// Averages `(at, score)` pairs by month of `at + offset` (ms), oldest
/// month first.
fn trend(ratings: impl Iterator<Item = (i64, i64)>, offset: i64) -> Vec<SatisfactionPoint> {
    let mut months: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
    for (at, score) in ratings {
        let Some(t) = chrono::Utc.timestamp_millis_opt(at + offset).single() else {
            continue;
        };
        let m = months.entry(t.format("%Y-%m").to_string()).or_default();
        m.0 += score;
        m.1 += 1;
    }
    months
        .into_iter()
        .map(|(month, (sum, n))| SatisfactionPoint {
            month,
            average: sum as f64 / n as f64,
            rated: n,
        })
        .collect()
}

/// A fresh customer id: `cu-` and 16 random hex digits.
fn new_id() -> Result<String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| Error::Internal(format!("random source: {e}")))?;
    Ok(format!(
        "cu-{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

/// Ids are kept short and printable.
fn check_id(id: &str) -> Result<()> {
    if id.chars().count() > 64 || id.chars().any(|c| c.is_control() || c == '/') {
        return Err(Error::invalid_field(
            "id",
            "at most 64 printable characters, no `/`",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trend_by_month_in_centre_time() {
        // 2026-01-31T20:00Z is 2026-02-01 04:00 in UTC+8.
        let t = trend(
            [
                (1_769_889_600_000, 9),
                (1_769_889_600_000 - 2 * DAY_MS, 4),
                (1_769_889_600_000 - 3 * DAY_MS, 6),
            ]
            .into_iter(),
            8 * 3_600_000,
        );
        assert_eq!(
            t,
            vec![
                SatisfactionPoint {
                    month: "2026-01".into(),
                    average: 5.0,
                    rated: 2
                },
                SatisfactionPoint {
                    month: "2026-02".into(),
                    average: 9.0,
                    rated: 1
                },
            ]
        );
    }

    #[test]
    fn day_end_in_centre_time() {
        let s = CustomerSettings::default();
        // 2026-01-01T10:00+08:00 = 02:00Z; the day ends at 16:00Z.
        let now = 1_767_232_800_000;
        assert_eq!(CustomerService::day_end(&s, now), 1_767_283_200_000);
        assert_eq!(
            CustomerService::today(&s, now),
            NaiveDate::from_ymd_opt(2026, 1, 1).expect("date")
        );
    }
}
