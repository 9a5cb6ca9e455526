//! The records of mystery shopping and the pure scoring rule.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Longest title, name, channel or id, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest scenario, persona, script, note or reason, in characters.
pub const MAX_TEXT_CHARS: usize = 4000;
/// Most items on a sheet.
pub const MAX_ITEMS: usize = 200;

/// Checks a text field: trimmed, not empty, at most `max` characters.
pub(crate) fn checked_text(field: &str, value: &str, max: usize) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::invalid_field(field, "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(Error::invalid_field(
            field,
            format!("at most {max} characters"),
        ));
    }
    Ok(v.to_string())
}

/// An optional text field: `None` when missing or blank.
pub(crate) fn optional_text(
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => checked_text(field, v, max).map(Some),
    }
}

/// An id of a sheet or item: 1–64 ASCII letters, digits, `_`, `-`, `.`.
fn checked_id(field: &str, value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty()
        || v.len() > 64
        || !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(Error::invalid_field(
            field,
            format!("`{v}` must be 1–64 ASCII letters, digits, `_`, `-` or `.`"),
        ));
    }
    Ok(v.to_string())
}

/// One item of a score sheet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SheetItem {
    /// Stable id within the sheet (kept across versions, so reports can
    /// follow an item).
    pub id: String,
    /// What the shopper checks.
    pub text: String,
    /// Weight (positive).
    pub weight: f64,
    /// A failed critical item zeroes the shop's score (like a veto rule
    /// of the inspection pack).
    #[serde(default)]
    pub critical: bool,
    /// The inspection rule id (of the rule pack) this item corresponds
    /// to, for the agreement report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// A section of a score sheet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SheetSection {
    /// Heading.
    pub title: String,
    /// Items, in order.
    pub items: Vec<SheetItem>,
}

/// A score sheet to save (JSON or TOML): a new version of sheet `id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SheetInput {
    /// Sheet id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Sections.
    pub sections: Vec<SheetSection>,
}

impl SheetInput {
    /// Reads a sheet from JSON or (when it does not start with `{`) TOML.
    pub fn parse(text: &str) -> Result<SheetInput> {
        if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| Error::invalid_field("sheet", e))
        } else {
            toml::from_str(text).map_err(|e| Error::invalid_field("sheet", e.message()))
        }
    }

    /// The sheet trimmed and checked: ids, names, at least one item, item
    /// ids unique, weights positive and finite.
    pub fn validated(&self) -> Result<SheetInput> {
        let id = checked_id("id", &self.id)?;
        let name = checked_text("name", &self.name, MAX_NAME_CHARS)?;
        let mut seen = BTreeSet::new();
        let mut sections = Vec::new();
        let mut count = 0;
        for s in &self.sections {
            let title = checked_text("section title", &s.title, MAX_NAME_CHARS)?;
            let mut items = Vec::new();
            for i in &s.items {
                let item_id = checked_id("item id", &i.id)?;
                if !seen.insert(item_id.clone()) {
                    return Err(Error::invalid_field(
                        "item id",
                        format!("`{item_id}` appears twice"),
                    ));
                }
                if !i.weight.is_finite() || i.weight <= 0.0 || i.weight > 1000.0 {
                    return Err(Error::invalid_field(
                        "weight",
                        format!("item `{item_id}`: must be above 0 and at most 1000"),
                    ));
                }
                let rule = match i.rule.as_deref().map(str::trim) {
                    None | Some("") => None,
                    Some(r) => Some(checked_id("rule", r)?),
                };
                items.push(SheetItem {
                    id: item_id,
                    text: checked_text("item text", &i.text, MAX_NAME_CHARS * 2)?,
                    weight: i.weight,
                    critical: i.critical,
                    rule,
                });
                count += 1;
            }
            sections.push(SheetSection { title, items });
        }
        if count == 0 {
            return Err(Error::invalid_field(
                "sections",
                "a sheet needs at least one item",
            ));
        }
        if count > MAX_ITEMS {
            return Err(Error::invalid_field(
                "sections",
                format!("at most {MAX_ITEMS} items"),
            ));
        }
        Ok(SheetInput { id, name, sections })
    }
}

/// A stored score sheet version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sheet {
    /// Sheet id.
    pub id: String,
    /// Version (1, 2, …).
    pub version: i64,
    /// Name.
    pub name: String,
    /// Sections and items.
    pub sections: Vec<SheetSection>,
    /// Who saved it.
    pub created_by: String,
    /// When; RFC 3339 in JSON.
    #[serde(with = "kefu_store::json_time::unix_ms")]
    pub created_at: i64,
}

impl Sheet {
    /// Every item, in order.
    pub fn items(&self) -> impl Iterator<Item = &SheetItem> {
        self.sections.iter().flat_map(|s| s.items.iter())
    }
}

macro_rules! names {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Its name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<$name> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(Error::invalid_field(
                        stringify!($name),
                        format!("unknown value `{other}`"),
                    )),
                }
            }
        }
    };
}

names!(
    /// A plan's state: 草稿 → 进行中 → 已结束.
    PlanState {
        /// Being prepared; no shops yet.
        Draft = "draft",
        /// Shops may be recorded.
        Active = "active",
        /// Done; no new shops.
        Closed = "closed",
    }
);

names!(
    /// What a plan aims at.
    TargetKind {
        /// One agent (a user id).
        Agent = "agent",
        /// A team (users' `team`).
        Team = "team",
    }
);

names!(
    /// A shop's state: recorded → approved or returned by a reviewer.
    ShopState {
        /// Waiting for the reviewer; does not count.
        Submitted = "submitted",
        /// Checked; counts (unless re-shopped and the re-shop approved).
        Approved = "approved",
        /// Sent back with a reason; does not count; may be re-shopped.
        Returned = "returned",
    }
);

names!(
    /// The shopper's verdict on one item.
    Verdict {
        /// Met.
        Pass = "pass",
        /// Not met.
        Fail = "fail",
        /// Not applicable to this contact: left out of the score.
        Na = "na",
    }
);

/// The shopper's verdict on one sheet item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemResult {
    /// The item id.
    pub item: String,
    /// The verdict.
    pub verdict: Verdict,
    /// A remark.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A shop's computed score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ShopScore {
    /// 0–100, two decimals.
    pub score: f64,
    /// Whether a critical item failed (the score is then 0).
    pub critical_failed: bool,
    /// Weight of the passed items.
    pub earned: f64,
    /// Weight of the applicable (passed or failed) items.
    pub possible: f64,
}

/// Scores a shop on a sheet (pure). Every item of the sheet needs one
/// verdict, and none that is not on it. The score is
/// `100 × Σ weight(pass) / Σ weight(pass or fail)`, rounded to two
/// decimals; n.a. items are left out; a failed critical item makes it 0.
/// At least one item must be applicable.
pub fn score_shop(sheet: &Sheet, results: &[ItemResult]) -> Result<ShopScore> {
    let mut by_item: BTreeMap<&str, Verdict> = BTreeMap::new();
    for r in results {
        if by_item.insert(r.item.as_str(), r.verdict).is_some() {
            return Err(Error::invalid_field(
                "results",
                format!("item `{}` has two verdicts", r.item),
            ));
        }
    }
    let mut earned = 0.0;
    let mut possible = 0.0;
    let mut critical_failed = false;
    let mut known = 0;
    for item in sheet.items() {
        let Some(v) = by_item.get(item.id.as_str()) else {
            return Err(Error::invalid_field(
                "results",
                format!("item `{}` has no verdict", item.id),
            ));
        };
        known += 1;
        match v {
            Verdict::Pass => {
                earned += item.weight;
                possible += item.weight;
            }
            Verdict::Fail => {
                possible += item.weight;
                critical_failed |= item.critical;
            }
            Verdict::Na => {}
        }
    }
    if known != by_item.len() {
        let unknown = by_item
            .keys()
            .find(|k| !sheet.items().any(|i| i.id == **k))
            .copied()
            .unwrap_or_default();
        return Err(Error::invalid_field(
            "results",
            format!(
                "item `{unknown}` is not on sheet {} v{}",
                sheet.id, sheet.version
            ),
        ));
    }
    if possible <= 0.0 {
        return Err(Error::invalid_field(
            "results",
            "at least one item must be pass or fail",
        ));
    }
    let score = if critical_failed {
        0.0
    } else {
        (100.0 * earned / possible * 100.0).round() / 100.0
    };
    Ok(ShopScore {
        score,
        critical_failed,
        earned,
        possible,
    })
}

/// A mystery-shopping plan (神秘客户计划).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Id (`MP-YYYYMMDD-NNNNNN`).
    pub id: String,
    /// Version, bumped by every change.
    pub version: i64,
    /// Short title.
    pub title: String,
    /// The situation the shopper plays (咨询, 投诉 …).
    pub scenario: String,
    /// Who the shopper pretends to be.
    pub persona: String,
    /// What the shopper says and asks.
    pub script: String,
    /// Agent or team.
    pub target_kind: TargetKind,
    /// The agent's user id or the team name.
    pub target: String,
    /// Channel (phone, chat …).
    pub channel: String,
    /// Shops from; RFC 3339 in JSON.
    #[serde(with = "kefu_store::json_time::unix_ms")]
    pub window_from: i64,
    /// Shops until (inclusive).
    #[serde(with = "kefu_store::json_time::unix_ms")]
    pub window_to: i64,
    /// The score sheet.
    pub sheet_id: String,
    /// Its version.
    pub sheet_version: i64,
    /// State.
    pub state: PlanState,
    /// Who created it.
    pub created_by: String,
    /// When.
    #[serde(with = "kefu_store::json_time::unix_ms")]
    pub created_at: i64,
    /// Last change.
    #[serde(with = "kefu_store::json_time::unix_ms")]
    pub updated_at: i64,
}

/// A recorded mystery shop (暗访记录).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shop {
    /// Id (`MS-YYYYMMDD-NNNNNN`).
    pub id: String,
    /// Version, bumped by every change.
    pub version: i64,
    /// The plan.
    pub plan_id: String,
    /// The sheet it was scored on.
    pub sheet_id: String,
    /// Its version.
    pub sheet_version: i64,
    /// The first shop of its re-shop chain (itself when none).
    pub chain_id: String,
    /// The shop it re-does.
    pub previous_id: Option<String>,
    /// The user who recorded it.
    pub shopper_id: String,
    /// An external shopper's name.
    pub shopper_name: Option<String>,
    /// When the test contact took place.
    #[serde(with = "kefu_store::json_time::unix_ms")]
    pub shopped_at: i64,
    /// The agent who served.
    pub agent_id: Option<String>,
    /// The imported conversation of the test contact.
    pub conversation_id: Option<String>,
    /// Per-item verdicts.
    pub results: Vec<ItemResult>,
    /// Score, 0–100.
    pub score: f64,
    /// Whether a critical item failed.
    pub critical_failed: bool,
    /// State.
    pub state: ShopState,
    /// Who reviewed it.
    pub reviewed_by: Option<String>,
    /// When.
    #[serde(with = "kefu_store::json_time::opt_unix_ms")]
    pub reviewed_at: Option<i64>,
    /// Why it was returned.
    pub return_reason: Option<String>,
    /// Recorded.
    #[serde(with = "kefu_store::json_time::unix_ms")]
    pub created_at: i64,
    /// Last change.
    #[serde(with = "kefu_store::json_time::unix_ms")]
    pub updated_at: i64,
}

/// The shops that count (pure): the approved ones, and of each re-shop
/// chain only the latest approved (by recording time, then id).
pub fn counted(shops: &[Shop]) -> Vec<&Shop> {
    let mut latest: BTreeMap<&str, &Shop> = BTreeMap::new();
    for s in shops.iter().filter(|s| s.state == ShopState::Approved) {
        let slot = latest.entry(s.chain_id.as_str()).or_insert(s);
        if (s.created_at, s.id.as_str()) > (slot.created_at, slot.id.as_str()) {
            *slot = s;
        }
    }
    let mut out: Vec<&Shop> = latest.into_values().collect();
    out.sort_by(|a, b| (a.shopped_at, a.id.as_str()).cmp(&(b.shopped_at, b.id.as_str())));
    out
}
