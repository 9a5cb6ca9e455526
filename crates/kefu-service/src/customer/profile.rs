//! The customer archive as the API and the dashboard see it: the 十问
//! profile, identity, tags, typed custom fields, purchases and important
//! dates; validation of what callers send; and masking of personal data.
//!
//! # Personal data
//!
//! [`PII_FIELDS`] lists every field holding personal data. Phones and ID
//! numbers are masked ([`crate::complaint::mask_phone`],
//! [`crate::complaint::mask_id_number`]) for every viewer but supervisors,
//! admins and the owning agent; inspectors also see the name masked.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use kefu_store::customers::{
    normalize_key, CustomField, CustomerKey, CustomerRecord, CustomerWrite, ImportantDate, Purchase,
};

use crate::auth::Role;
use crate::complaint::{mask_id_number, mask_name, mask_phone};
use crate::{Error, Result};

/// Fields holding personal data, everywhere a customer is shown (API,
/// dashboard, exports): `name` (masked for inspectors), `phones` and
/// phone keys, `profile.id_number`, `profile.contact`.
pub const PII_FIELDS: &[&str] = &["name", "phones", "profile.id_number", "profile.contact"];

/// The 十问 profile (the standard's ten questions) and the rest of the
/// archive's free fields. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Profile {
    /// 1. 您贵姓（怎么称呼）: how to address them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// 2. 您来自哪里: region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// 3. 您是什么单位: company.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    /// 4. 您是哪个部门: department.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// 5. 您的联系方式 (besides the phones): e-mail, WeChat …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// 6. 您用在哪里: what it is used for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<String>,
    /// 7. 您何时要货: when they need it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needed_by: Option<String>,
    /// 8. 数量有多少: quantity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<String>,
    /// 9. 您的预算是多少: budget.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<String>,
    /// 10. 您需要发票吗: invoice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoice: Option<String>,
    /// 性别.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    /// 年龄段.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_band: Option<String>,
    /// 偏好渠道: phone, chat, visit …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_channel: Option<String>,
    /// 方便联系的时段, e.g. `09:00-12:00`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_time: Option<String>,
    /// 证件号.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_number: Option<String>,
    /// 备注.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// The ten questions in order: `(field, 中文, English)`.
pub const TEN_QUESTIONS: [(&str, &str, &str); 10] = [
    ("title", "称呼", "How to address"),
    ("region", "来自哪里", "Region"),
    ("company", "单位", "Company"),
    ("department", "部门", "Department"),
    ("contact", "联系方式", "Contact"),
    ("usage", "用在哪里", "Used for"),
    ("needed_by", "何时要货", "Needed by"),
    ("quantity", "数量", "Quantity"),
    ("budget", "预算", "Budget"),
    ("invoice", "发票", "Invoice"),
];

impl Profile {
    /// The value of a field named in [`TEN_QUESTIONS`].
    pub fn get(&self, field: &str) -> Option<&str> {
        match field {
            "title" => self.title.as_deref(),
            "region" => self.region.as_deref(),
            "company" => self.company.as_deref(),
            "department" => self.department.as_deref(),
            "contact" => self.contact.as_deref(),
            "usage" => self.usage.as_deref(),
            "needed_by" => self.needed_by.as_deref(),
            "quantity" => self.quantity.as_deref(),
            "budget" => self.budget.as_deref(),
            "invoice" => self.invoice.as_deref(),
            _ => None,
        }
    }

    /// How many of the ten questions are answered.
    pub fn answered(&self) -> usize {
        TEN_QUESTIONS
            .iter()
            .filter(|(f, _, _)| self.get(f).is_some_and(|v| !v.trim().is_empty()))
            .count()
    }
}

/// A platform id (shop nick, caller number, vendor customer id, the source
/// system's customer id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformId {
    /// `native`, `vendor` or `nick`.
    pub kind: String,
    /// The id.
    pub value: String,
}

/// A customer as callers create or replace it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CustomerInput {
    /// Id; generated when empty on create.
    pub id: String,
    /// Name.
    pub name: String,
    /// The owning agent.
    pub owner_id: Option<String>,
    /// The profile.
    pub profile: Profile,
    /// 免打扰.
    pub do_not_disturb: bool,
    /// Phone numbers.
    pub phones: Vec<String>,
    /// Other identity keys.
    pub platform_ids: Vec<PlatformId>,
    /// Tags.
    pub tags: Vec<String>,
    /// Typed custom fields.
    pub fields: Vec<CustomField>,
    /// Purchases.
    pub purchases: Vec<Purchase>,
    /// Important dates.
    pub dates: Vec<ImportantDate>,
    /// The version read, for an update (optimistic concurrency); ignored on
    /// create.
    pub version: Option<i64>,
}

impl CustomerInput {
    /// Checks the input and turns it into the store's write.
    pub fn to_write(&self, id: &str) -> Result<CustomerWrite> {
        let name = self.name.trim();
        if name.is_empty() {
            return Err(Error::invalid_field("name", "must not be empty"));
        }
        if name.chars().count() > 200 {
            return Err(Error::invalid_field("name", "longer than 200 characters"));
        }
        let mut keys = Vec::new();
        for p in &self.phones {
            let v = normalize_key("phone", p);
            if v.len() < 5 || v.len() > 20 {
                return Err(Error::invalid_field(
                    "phones",
                    format!("`{p}` is not a phone number"),
                ));
            }
            keys.push(CustomerKey {
                kind: "phone".into(),
                value: v,
            });
        }
        for p in &self.platform_ids {
            if !["native", "vendor", "nick"].contains(&p.kind.as_str()) {
                return Err(Error::invalid_field(
                    "platform_ids",
                    format!("kind `{}` is not native, vendor or nick", p.kind),
                ));
            }
            let v = normalize_key(&p.kind, &p.value);
            if v.is_empty() {
                return Err(Error::invalid_field("platform_ids", "empty id"));
            }
            keys.push(CustomerKey {
                kind: p.kind.clone(),
                value: v,
            });
        }
        keys.sort_by(|a, b| (&a.kind, &a.value).cmp(&(&b.kind, &b.value)));
        keys.dedup();
        for f in &self.fields {
            check_field(f)?;
        }
        for p in &self.purchases {
            NaiveDate::parse_from_str(&p.bought_on, "%Y-%m-%d").map_err(|_| {
                Error::invalid_field(
                    "purchases",
                    format!("date `{}` is not YYYY-MM-DD", p.bought_on),
                )
            })?;
            if p.amount_cents < 0 || p.item.trim().is_empty() {
                return Err(Error::invalid_field(
                    "purchases",
                    "an item and a non-negative amount",
                ));
            }
        }
        for d in &self.dates {
            super::care::recurring(d).map_err(|e| Error::invalid_field("dates", e))?;
            if d.label.trim().is_empty() || !(0..=366).contains(&d.remind_days) {
                return Err(Error::invalid_field(
                    "dates",
                    "a label and remind_days 0–366",
                ));
            }
        }
        let mut tags: Vec<String> = self
            .tags
            .iter()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect();
        tags.sort();
        tags.dedup();
        let profile = serde_json::to_string(&self.profile)
            .map_err(|e| Error::Internal(format!("profile: {e}")))?;
        Ok(CustomerWrite {
            id: id.to_string(),
            name: name.to_string(),
            owner_id: self.owner_id.clone().filter(|o| !o.trim().is_empty()),
            profile,
            do_not_disturb: self.do_not_disturb,
            keys,
            tags,
            fields: self.fields.clone(),
            purchases: self.purchases.clone(),
            dates: self.dates.clone(),
        })
    }
}

/// Checks a custom field's value against its kind.
fn check_field(f: &CustomField) -> Result<()> {
    let bad = |why: &str| Error::invalid_field("fields", format!("{}: {why}", f.name));
    if f.name.trim().is_empty() {
        return Err(bad("empty name"));
    }
    match f.kind.as_str() {
        "text" | "select" => Ok(()),
        "number" => f
            .value
            .trim()
            .parse::<f64>()
            .map(|_| ())
            .map_err(|_| bad("not a number")),
        "date" => NaiveDate::parse_from_str(f.value.trim(), "%Y-%m-%d")
            .map(|_| ())
            .map_err(|_| bad("not a YYYY-MM-DD date")),
        other => Err(bad(&format!(
            "kind `{other}` is not text, number, date or select"
        ))),
    }
}

/// A customer as shown: the archive, derived state, and whether personal
/// data was masked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerView {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Owning agent.
    pub owner_id: Option<String>,
    /// `A`, `B` or `C`.
    pub grade: String,
    /// The grade is a manual override.
    pub grade_manual: bool,
    /// The profile.
    pub profile: Profile,
    /// How many of the ten questions are answered.
    pub ten_questions_answered: usize,
    /// 免打扰.
    pub do_not_disturb: bool,
    /// Phones (masked unless the viewer may see them).
    pub phones: Vec<String>,
    /// Other identity keys.
    pub platform_ids: Vec<PlatformId>,
    /// Tags.
    pub tags: Vec<String>,
    /// Custom fields.
    pub fields: Vec<CustomField>,
    /// Purchases.
    pub purchases: Vec<Purchase>,
    /// Important dates.
    pub dates: Vec<ImportantDate>,
    /// Last real contact, Unix ms.
    #[serde(with = "kefu_store::json_time::opt_unix_ms")]
    pub last_contact_at: Option<i64>,
    /// Next contact due, Unix ms.
    #[serde(with = "kefu_store::json_time::opt_unix_ms")]
    pub next_due_at: Option<i64>,
    /// `ok`, `due` (today) or `overdue`.
    pub cadence_state: &'static str,
    /// Merged into this customer.
    pub merged_into: Option<String>,
    /// Version, for updates.
    pub version: i64,
    /// Whether personal data is masked in this view.
    pub masked: bool,
}

/// Whether `role` (as `viewer`) sees `owner`'s customer's personal data
/// unmasked.
pub fn sees_pii(role: Role, viewer: &str, owner: Option<&str>) -> bool {
    match role {
        Role::Supervisor | Role::Admin => true,
        Role::Agent => owner == Some(viewer),
        Role::Inspector => false,
    }
}

/// The cadence state of a due time at `now`, with days ending at
/// `day_end` (the end of today in the centre's time).
pub fn cadence_state(next_due_at: Option<i64>, now: i64, day_end: i64) -> &'static str {
    match next_due_at {
        Some(d) if d < now => "overdue",
        Some(d) if d < day_end => "due",
        _ => "ok",
    }
}

/// Builds the view of a stored customer; masks personal data unless
/// `unmasked`; inspectors also get the name masked.
pub fn view(
    rec: &CustomerRecord,
    role: Role,
    unmasked: bool,
    now: i64,
    day_end: i64,
) -> Result<CustomerView> {
    let mut profile: Profile = serde_json::from_str(&rec.row.profile)
        .map_err(|e| Error::corrupt(format!("customer {}", rec.row.id), e))?;
    let mut phones: Vec<String> = rec
        .keys
        .iter()
        .filter(|k| k.kind == "phone")
        .map(|k| k.value.clone())
        .collect();
    let mut name = rec.row.name.clone();
    if !unmasked {
        phones = phones.iter().map(|p| mask_phone(p)).collect();
        profile.id_number = profile.id_number.as_deref().map(mask_id_number);
        profile.contact = profile.contact.as_deref().map(mask_middle_text);
        if role == Role::Inspector {
            name = mask_name(&name);
        }
    }
    Ok(CustomerView {
        id: rec.row.id.clone(),
        name,
        owner_id: rec.row.owner_id.clone(),
        grade: rec.row.grade.clone(),
        grade_manual: rec.row.grade_manual,
        ten_questions_answered: profile.answered(),
        profile,
        do_not_disturb: rec.row.do_not_disturb,
        phones,
        platform_ids: rec
            .keys
            .iter()
            .filter(|k| k.kind != "phone")
            .map(|k| PlatformId {
                kind: k.kind.clone(),
                value: if unmasked || k.kind != "native" || !looks_like_phone(&k.value) {
                    k.value.clone()
                } else {
                    mask_phone(&k.value)
                },
            })
            .collect(),
        tags: rec.tags.clone(),
        fields: rec.fields.clone(),
        purchases: rec.purchases.clone(),
        dates: rec.dates.clone(),
        last_contact_at: rec.row.last_contact_at,
        next_due_at: rec.row.next_due_at,
        cadence_state: cadence_state(rec.row.next_due_at, now, day_end),
        merged_into: rec.row.merged_into.clone(),
        version: rec.row.version,
        masked: !unmasked,
    })
}

/// Whether a native id is a phone number (then it is masked like one).
fn looks_like_phone(v: &str) -> bool {
    v.len() >= 7 && v.chars().all(|c| c.is_ascii_digit())
}

/// Masks free contact text: keeps the first and last two characters.
fn mask_middle_text(s: &str) -> String {
    let chars: Vec<char> = s.trim().chars().collect();
    if chars.len() <= 4 {
        return "*".repeat(chars.len());
    }
    let mut out: String = chars[..2].iter().collect();
    out.push_str(&"*".repeat(chars.len() - 4));
    out.extend(&chars[chars.len() - 2..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_is_checked() {
        let mut input = CustomerInput {
            name: "张伟".into(),
            phones: vec!["+86 138-0013-8000".into()],
            ..Default::default()
        };
        let w = input.to_write("c1").expect("valid");
        assert_eq!(w.keys[0].value, "13800138000");
        input.fields = vec![CustomField {
            name: "年收入".into(),
            kind: "number".into(),
            value: "abc".into(),
        }];
        assert!(input.to_write("c1").is_err());
        input.fields.clear();
        input.dates = vec![ImportantDate {
            label: "生日".into(),
            calendar: "lunar".into(),
            year: None,
            month: 13,
            day: 1,
            leap: false,
            remind_days: 3,
        }];
        assert!(input.to_write("c1").is_err());
    }

    #[test]
    fn masking_by_role() {
        assert!(sees_pii(Role::Agent, "a", Some("a")));
        assert!(!sees_pii(Role::Agent, "a", Some("b")));
        assert!(!sees_pii(Role::Inspector, "i", None));
        assert!(sees_pii(Role::Supervisor, "s", None));
        assert_eq!(mask_middle_text("zhang@example.com"), "zh*************om");
    }
}
