//! The agreement report: the shopper's verdict on sheet items mapped to
//! inspection rules against the automatic inspection of the same
//! conversation (pure).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::mystery::model::{Sheet, Shop, Verdict};

/// What the automatic inspection said about one rule of one conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleOutcome {
    /// No finding of the rule.
    Pass,
    /// At least one finding.
    Fail,
    /// Not applicable or left to a reviewer (manual): not compared.
    Unjudged,
}

/// The current inspection result of a conversation, reduced to what the
/// report needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InspectedRules {
    /// Rules with at least one finding.
    pub failed: std::collections::BTreeSet<String>,
    /// Rules not applicable or manual.
    pub unjudged: std::collections::BTreeSet<String>,
}

impl InspectedRules {
    /// Reads a stored result document (`findings[].rule`,
    /// `not_applicable`, `manual`).
    pub fn from_result(result: &serde_json::Value) -> InspectedRules {
        let mut out = InspectedRules::default();
        if let Some(fs) = result.get("findings").and_then(|f| f.as_array()) {
            for f in fs {
                if let Some(r) = f.get("rule").and_then(|r| r.as_str()) {
                    out.failed.insert(r.to_string());
                }
            }
        }
        for key in ["not_applicable", "manual"] {
            if let Some(rs) = result.get(key).and_then(|f| f.as_array()) {
                for r in rs.iter().filter_map(|r| r.as_str()) {
                    out.unjudged.insert(r.to_string());
                }
            }
        }
        out
    }

    /// The outcome of `rule`.
    pub fn outcome(&self, rule: &str) -> RuleOutcome {
        if self.failed.contains(rule) {
            RuleOutcome::Fail
        } else if self.unjudged.contains(rule) {
            RuleOutcome::Unjudged
        } else {
            RuleOutcome::Pass
        }
    }
}

/// One line of the report: a sheet item and its rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgreementRow {
    /// Sheet id.
    pub sheet_id: String,
    /// Item id.
    pub item: String,
    /// Item text.
    pub text: String,
    /// Inspection rule id.
    pub rule: String,
    /// Shops compared (both sides judged the item).
    pub shops: i64,
    /// Both passed.
    pub both_pass: i64,
    /// Both failed.
    pub both_fail: i64,
    /// The shopper failed it, the inspection found nothing.
    pub shopper_only_fail: i64,
    /// The inspection found it, the shopper passed it.
    pub inspection_only_fail: i64,
    /// Share of shops where both agree, 0–100 (none without shops).
    pub agreement_pct: Option<f64>,
    /// Cohen's kappa (none without shops, or when chance agreement is
    /// total: both sides always said the same one thing).
    pub kappa: Option<f64>,
}

/// The agreement report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AgreementReport {
    /// Counted shops looked at.
    pub shops: i64,
    /// Of those, shops with a linked conversation that has an inspection
    /// result.
    pub inspected_shops: i64,
    /// Per mapped item, by sheet and item id.
    pub items: Vec<AgreementRow>,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

impl AgreementRow {
    fn finish(&mut self) {
        let n = self.shops as f64;
        if self.shops == 0 {
            return;
        }
        let po = (self.both_pass + self.both_fail) as f64 / n;
        self.agreement_pct = Some(round2(100.0 * po));
        let shopper_fail = (self.both_fail + self.shopper_only_fail) as f64 / n;
        let inspection_fail = (self.both_fail + self.inspection_only_fail) as f64 / n;
        let pe = shopper_fail * inspection_fail + (1.0 - shopper_fail) * (1.0 - inspection_fail);
        if pe < 1.0 - 1e-12 {
            self.kappa = Some(((po - pe) / (1.0 - pe) * 1000.0).round() / 1000.0);
        }
    }
}

/// Builds the report from counted shops, each with its sheet and the
/// inspection of its conversation (`None`: no linked conversation or no
/// result). Items without a rule, shopper n.a. verdicts and rules the
/// inspection could not judge are left out.
pub fn agreement(shops: &[(&Shop, &Sheet, Option<&InspectedRules>)]) -> AgreementReport {
    let mut rows: BTreeMap<(String, String), AgreementRow> = BTreeMap::new();
    let mut report = AgreementReport::default();
    for (shop, sheet, inspected) in shops {
        report.shops += 1;
        let Some(inspected) = inspected else { continue };
        report.inspected_shops += 1;
        for item in sheet.items() {
            let Some(rule) = &item.rule else { continue };
            let row = rows
                .entry((sheet.id.clone(), item.id.clone()))
                .or_insert_with(|| AgreementRow {
                    sheet_id: sheet.id.clone(),
                    item: item.id.clone(),
                    text: item.text.clone(),
                    rule: rule.clone(),
                    shops: 0,
                    both_pass: 0,
                    both_fail: 0,
                    shopper_only_fail: 0,
                    inspection_only_fail: 0,
                    agreement_pct: None,
                    kappa: None,
                });
            let Some(verdict) = shop.results.iter().find(|r| r.item == item.id) else {
                continue;
            };
            let shopper_fail = match verdict.verdict {
                Verdict::Pass => false,
                Verdict::Fail => true,
                Verdict::Na => continue,
            };
            let inspection_fail = match inspected.outcome(rule) {
                RuleOutcome::Pass => false,
                RuleOutcome::Fail => true,
                RuleOutcome::Unjudged => continue,
            };
            row.shops += 1;
            match (shopper_fail, inspection_fail) {
                (false, false) => row.both_pass += 1,
                (true, true) => row.both_fail += 1,
                (true, false) => row.shopper_only_fail += 1,
                (false, true) => row.inspection_only_fail += 1,
            }
        }
    }
    report.items = rows
        .into_values()
        .map(|mut r| {
            r.finish();
            r
        })
        .collect();
    report
}
