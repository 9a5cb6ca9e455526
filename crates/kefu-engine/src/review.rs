//! Human review of an automatic result (人工复核) and the score that follows.
//!
//! An inspector confirms or overturns each automatic finding, scores the
//! pack's manual items (吐字清晰, 普通话 …) and adds findings the engine
//! missed; a supervisor may later withdraw a finding because an agent's
//! appeal (申诉) was accepted. [`apply_review`] turns the automatic findings
//! plus those decisions into the effective findings and recomputes the score
//! with the pack's scoring template, so the result is the same whoever
//! computes it and however often.
//!
//! Every finding of a reviewed result carries a stable key: `auto:N` for the
//! N-th automatic finding, `added:N` for the N-th added one and
//! `manual:RULE` for a manual item. Appeals and decisions refer to findings
//! by that key.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::pack::{RuleKind, RulePack};

/// An automatic finding as stored in a result document (the serialised
/// [`crate::Finding`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredFinding {
    /// Rule id.
    pub rule: String,
    /// Rule name.
    #[serde(default)]
    pub name: String,
    /// Dimension name.
    #[serde(default)]
    pub dimension: String,
    /// Rule kind.
    #[serde(default)]
    pub kind: String,
    /// Turn index, for turn-level findings.
    #[serde(default)]
    pub turn: Option<usize>,
    /// Character span in the turn.
    #[serde(default)]
    pub span: Option<[usize; 2]>,
    /// Evidence text.
    #[serde(default)]
    pub text: Option<String>,
    /// Points deducted.
    #[serde(default)]
    pub deduction: f64,
    /// Veto rule.
    #[serde(default)]
    pub veto: bool,
    /// Message for people.
    #[serde(default)]
    pub message: String,
}

/// What the reviewer decided about one automatic finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The finding is right.
    Confirm,
    /// The finding is wrong (a false positive): it no longer counts.
    Overturn,
}

/// A decision on one automatic finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// `auto:N`.
    pub key: String,
    /// Confirm or overturn.
    pub verdict: Verdict,
    /// Why (required to overturn).
    #[serde(default)]
    pub comment: Option<String>,
}

/// The reviewer's score on one manual item of the pack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManualScore {
    /// Rule id of a `manual` rule.
    pub rule: String,
    /// Points deducted, 0 (no problem) up to the rule's cap.
    pub deduction: f64,
    /// What was heard.
    #[serde(default)]
    pub comment: Option<String>,
}

/// A finding the engine missed, added by the reviewer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddedFinding {
    /// Rule id (any enabled rule of the pack).
    pub rule: String,
    /// The turn it is about, if any.
    #[serde(default)]
    pub turn: Option<usize>,
    /// The quoted evidence, if any.
    #[serde(default)]
    pub text: Option<String>,
    /// Points; default the rule's deduction.
    #[serde(default)]
    pub deduction: Option<f64>,
    /// What was wrong.
    pub comment: String,
}

/// Everything a reviewer entered for one result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewInput {
    /// Decisions on automatic findings; undecided ones count as they are.
    #[serde(default)]
    pub decisions: Vec<Decision>,
    /// Scores of manual items; unscored ones deduct nothing.
    #[serde(default)]
    pub manual: Vec<ManualScore>,
    /// Findings the engine missed.
    #[serde(default)]
    pub added: Vec<AddedFinding>,
    /// An overall remark.
    #[serde(default)]
    pub comment: Option<String>,
}

/// Where an effective finding came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Found by the engine.
    Auto,
    /// Added by the reviewer.
    Added,
    /// A manual item scored by the reviewer.
    Manual,
}

/// The state of a finding after review and appeals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingStatus {
    /// Automatic, not yet looked at by a person.
    Pending,
    /// Confirmed, added or scored by the reviewer.
    Confirmed,
    /// Overturned by the reviewer.
    Overturned,
    /// Withdrawn because an appeal against it was accepted.
    Withdrawn,
}

impl FindingStatus {
    /// Whether the finding counts towards the score.
    pub fn counts(self) -> bool {
        matches!(self, FindingStatus::Pending | FindingStatus::Confirmed)
    }
}

/// One finding of a reviewed result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewedFinding {
    /// Stable key (`auto:N`, `added:N`, `manual:RULE`).
    pub key: String,
    /// Where it came from.
    pub origin: Origin,
    /// Whether it counts, and why not.
    pub status: FindingStatus,
    /// Rule id.
    pub rule: String,
    /// Rule name.
    pub name: String,
    /// Dimension name.
    pub dimension: String,
    /// Turn index.
    pub turn: Option<usize>,
    /// Character span in the turn.
    pub span: Option<[usize; 2]>,
    /// Evidence.
    pub text: Option<String>,
    /// Points this finding deducts now (0 when it does not count or the
    /// rule's cap is used up).
    pub deduction: f64,
    /// Veto rule.
    pub veto: bool,
    /// The automatic message, or the reviewer's comment.
    pub message: String,
    /// The reviewer's comment on it.
    pub comment: Option<String>,
}

/// The result after review: the effective findings and the new score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reviewed {
    /// All findings, including overturned and withdrawn ones.
    pub findings: Vec<ReviewedFinding>,
    /// Score after review.
    pub score: f64,
    /// Grade band of the score.
    pub grade: Option<String>,
    /// Passed after review.
    pub passed: bool,
    /// A counting finding is a veto.
    pub veto: bool,
    /// Deductions per dimension (dimension name → points), counting findings only.
    pub dimensions: BTreeMap<String, f64>,
}

impl Reviewed {
    /// The findings that count.
    pub fn counting(&self) -> impl Iterator<Item = &ReviewedFinding> {
        self.findings.iter().filter(|f| f.status.counts())
    }
}

/// Why a review cannot be applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReviewError {
    /// A decision names a key that is not an automatic finding.
    #[error("no automatic finding `{0}` in this result")]
    UnknownFinding(String),
    /// Two decisions for one finding.
    #[error("finding `{0}` is decided twice")]
    DecidedTwice(String),
    /// Overturning needs a reason.
    #[error("overturning `{0}` needs a comment saying why")]
    CommentRequired(String),
    /// A manual score for a rule that is not a manual rule of the pack.
    #[error("`{0}` is not a manual item of the pack")]
    NotManual(String),
    /// An added finding for a rule the pack does not have.
    #[error("the pack has no enabled rule `{0}`")]
    UnknownRule(String),
    /// A deduction below zero or above the rule's cap.
    #[error("deduction {deduction} for `{rule}` must be between 0 and {cap}")]
    Deduction {
        /// Rule id.
        rule: String,
        /// The rejected value.
        deduction: f64,
        /// The rule's cap.
        cap: f64,
    },
    /// Two scores for one manual item.
    #[error("manual item `{0}` is scored twice")]
    ScoredTwice(String),
}

/// Applies a review and the accepted appeals (`withdrawn` keys) to the
/// automatic findings of a result judged by `pack`, and rescores.
///
/// Each rule's cap is applied again over the findings that still count, in
/// order, so overturning an early finding lets a later one count in full.
pub fn apply_review(
    pack: &RulePack,
    auto: &[StoredFinding],
    input: &ReviewInput,
    withdrawn: &BTreeSet<String>,
) -> Result<Reviewed, ReviewError> {
    let rules: BTreeMap<&str, &crate::Rule> =
        pack.rules.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut decided: BTreeMap<&str, &Decision> = BTreeMap::new();
    for d in &input.decisions {
        let index = d
            .key
            .strip_prefix("auto:")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&n| n < auto.len());
        if index.is_none() {
            return Err(ReviewError::UnknownFinding(d.key.clone()));
        }
        if d.verdict == Verdict::Overturn
            && d.comment.as_deref().is_none_or(|c| c.trim().is_empty())
        {
            return Err(ReviewError::CommentRequired(d.key.clone()));
        }
        if decided.insert(d.key.as_str(), d).is_some() {
            return Err(ReviewError::DecidedTwice(d.key.clone()));
        }
    }

    let mut findings = Vec::with_capacity(auto.len() + input.added.len() + input.manual.len());
    // Nominal points before caps, parallel to `findings`.
    let mut nominal = Vec::with_capacity(findings.capacity());
    for (i, f) in auto.iter().enumerate() {
        let key = format!("auto:{i}");
        let decision = decided.get(key.as_str());
        let status = match decision.map(|d| d.verdict) {
            _ if withdrawn.contains(&key) => FindingStatus::Withdrawn,
            Some(Verdict::Overturn) => FindingStatus::Overturned,
            Some(Verdict::Confirm) => FindingStatus::Confirmed,
            None => FindingStatus::Pending,
        };
        // The stored deduction may have been cut by the cap; start again
        // from the rule's own points when the pack still has the rule.
        nominal.push(rules.get(f.rule.as_str()).map_or(f.deduction, |r| {
            if f.deduction > 0.0 {
                r.deduction.max(f.deduction)
            } else {
                r.deduction
            }
        }));
        findings.push(ReviewedFinding {
            key,
            origin: Origin::Auto,
            status,
            rule: f.rule.clone(),
            name: f.name.clone(),
            dimension: f.dimension.clone(),
            turn: f.turn,
            span: f.span,
            text: f.text.clone(),
            deduction: 0.0,
            veto: f.veto,
            message: f.message.clone(),
            comment: decision.and_then(|d| d.comment.clone()),
        });
    }

    for (i, a) in input.added.iter().enumerate() {
        let rule = rules
            .get(a.rule.as_str())
            .ok_or_else(|| ReviewError::UnknownRule(a.rule.clone()))?;
        let points = a.deduction.unwrap_or(rule.deduction);
        check_points(&rule.id, points, rule.cap)?;
        let key = format!("added:{i}");
        let status = if withdrawn.contains(&key) {
            FindingStatus::Withdrawn
        } else {
            FindingStatus::Confirmed
        };
        nominal.push(points);
        findings.push(ReviewedFinding {
            key,
            origin: Origin::Added,
            status,
            rule: rule.id.clone(),
            name: rule.name.clone(),
            dimension: rule.dimension.clone(),
            turn: a.turn,
            span: None,
            text: a.text.clone(),
            deduction: 0.0,
            veto: rule.veto,
            message: a.comment.clone(),
            comment: Some(a.comment.clone()),
        });
    }

    let mut scored = BTreeSet::new();
    for m in &input.manual {
        let rule = rules
            .get(m.rule.as_str())
            .filter(|r| matches!(r.kind, RuleKind::Manual))
            .ok_or_else(|| ReviewError::NotManual(m.rule.clone()))?;
        check_points(&rule.id, m.deduction, rule.cap)?;
        if !scored.insert(m.rule.as_str()) {
            return Err(ReviewError::ScoredTwice(m.rule.clone()));
        }
        if m.deduction == 0.0 {
            continue;
        }
        let key = format!("manual:{}", rule.id);
        let status = if withdrawn.contains(&key) {
            FindingStatus::Withdrawn
        } else {
            FindingStatus::Confirmed
        };
        nominal.push(m.deduction);
        findings.push(ReviewedFinding {
            key,
            origin: Origin::Manual,
            status,
            rule: rule.id.clone(),
            name: rule.name.clone(),
            dimension: rule.dimension.clone(),
            turn: None,
            span: None,
            text: None,
            deduction: 0.0,
            veto: rule.veto,
            message: m
                .comment
                .clone()
                .unwrap_or_else(|| rule.message.clone().unwrap_or_else(|| rule.name.clone())),
            comment: m.comment.clone(),
        });
    }

    // Caps, rule by rule, over the findings that count.
    let mut used: BTreeMap<String, f64> = BTreeMap::new();
    for (f, points) in findings.iter_mut().zip(nominal) {
        if !f.status.counts() {
            continue;
        }
        let cap = rules.get(f.rule.as_str()).map_or(f64::INFINITY, |r| r.cap);
        let spent = used.entry(f.rule.clone()).or_insert(0.0);
        let take = points.min((cap - *spent).max(0.0));
        *spent += take;
        f.deduction = take;
    }

    let veto = findings.iter().any(|f| f.status.counts() && f.veto);
    let total: f64 = findings.iter().map(|f| f.deduction).sum();
    let score = if veto {
        0.0
    } else {
        (pack.scoring.base - total).max(0.0)
    };
    let mut dimensions: BTreeMap<String, f64> = pack
        .dimensions
        .iter()
        .map(|d| (d.name.clone(), 0.0))
        .collect();
    for f in findings.iter().filter(|f| f.status.counts()) {
        *dimensions.entry(f.dimension.clone()).or_insert(0.0) += f.deduction;
    }
    Ok(Reviewed {
        grade: pack.grade(score).map(str::to_string),
        passed: !veto && score >= pack.scoring.pass_mark,
        score,
        veto,
        dimensions,
        findings,
    })
}

fn check_points(rule: &str, points: f64, cap: f64) -> Result<(), ReviewError> {
    if points.is_finite() && points >= 0.0 && points <= cap {
        Ok(())
    } else {
        Err(ReviewError::Deduction {
            rule: rule.to_string(),
            deduction: points,
            cap,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack() -> RulePack {
        RulePack::default_zh_cn().expect("default pack")
    }

    fn finding(rule: &str, deduction: f64) -> StoredFinding {
        StoredFinding {
            rule: rule.into(),
            name: rule.into(),
            dimension: "用语规范".into(),
            kind: "forbidden".into(),
            turn: Some(1),
            span: Some([0, 2]),
            text: Some("不知道".into()),
            deduction,
            veto: false,
            message: String::new(),
        }
    }

    fn rule_points(p: &RulePack, id: &str) -> (f64, f64) {
        let r = p.rules.iter().find(|r| r.id == id).expect("rule");
        (r.deduction, r.cap)
    }

    #[test]
    fn no_review_keeps_the_automatic_score() {
        let p = pack();
        let (d, _) = rule_points(&p, "forbidden");
        let auto = vec![finding("forbidden", d)];
        let r = apply_review(&p, &auto, &ReviewInput::default(), &BTreeSet::new()).unwrap();
        assert_eq!(r.score, 100.0 - d);
        assert_eq!(r.findings[0].status, FindingStatus::Pending);
    }

    #[test]
    fn overturning_frees_the_cap_for_a_later_finding() {
        let p = pack();
        let (d, cap) = rule_points(&p, "forbidden");
        let n = (cap / d) as usize + 1; // one more than the cap allows
        let auto: Vec<_> = (0..n)
            .map(|i| finding("forbidden", if i + 1 < n { d } else { 0.0 }))
            .collect();
        let before = apply_review(&p, &auto, &ReviewInput::default(), &BTreeSet::new()).unwrap();
        assert_eq!(before.score, 100.0 - cap);
        let input = ReviewInput {
            decisions: vec![Decision {
                key: "auto:0".into(),
                verdict: Verdict::Overturn,
                comment: Some("客户原话".into()),
            }],
            ..Default::default()
        };
        let after = apply_review(&p, &auto, &input, &BTreeSet::new()).unwrap();
        // Still capped: the last finding now counts in full.
        assert_eq!(after.score, 100.0 - cap);
        assert_eq!(after.findings[n - 1].deduction, d);
        assert_eq!(after.findings[0].deduction, 0.0);
    }

    #[test]
    fn manual_items_and_added_findings_deduct() {
        let p = pack();
        let (d, _) = rule_points(&p, "apology");
        let input = ReviewInput {
            manual: vec![ManualScore {
                rule: "mandarin".into(),
                deduction: 1.0,
                comment: Some("方言较重".into()),
            }],
            added: vec![AddedFinding {
                rule: "apology".into(),
                turn: Some(3),
                text: None,
                deduction: None,
                comment: "客户抱怨时未致歉".into(),
            }],
            ..Default::default()
        };
        let r = apply_review(&p, &[], &input, &BTreeSet::new()).unwrap();
        assert_eq!(r.score, 100.0 - 1.0 - d);
        assert!(r.findings.iter().any(|f| f.key == "manual:mandarin"));
        assert!(r.findings.iter().any(|f| f.key == "added:0"));
    }

    #[test]
    fn withdrawn_findings_stop_counting_and_vetoes_zero_the_score() {
        let p = pack();
        let mut insult = finding("insult", 0.0);
        insult.veto = true;
        let auto = vec![insult];
        let vetoed = apply_review(&p, &auto, &ReviewInput::default(), &BTreeSet::new()).unwrap();
        assert_eq!(
            (vetoed.score, vetoed.passed, vetoed.veto),
            (0.0, false, true)
        );
        let withdrawn = BTreeSet::from(["auto:0".to_string()]);
        let r = apply_review(&p, &auto, &ReviewInput::default(), &withdrawn).unwrap();
        assert_eq!((r.score, r.passed, r.veto), (100.0, true, false));
        assert_eq!(r.findings[0].status, FindingStatus::Withdrawn);
    }

    #[test]
    fn bad_reviews_are_refused() {
        let p = pack();
        let auto = vec![finding("forbidden", 10.0)];
        let overturn_without_reason = ReviewInput {
            decisions: vec![Decision {
                key: "auto:0".into(),
                verdict: Verdict::Overturn,
                comment: None,
            }],
            ..Default::default()
        };
        assert!(matches!(
            apply_review(&p, &auto, &overturn_without_reason, &BTreeSet::new()),
            Err(ReviewError::CommentRequired(_))
        ));
        let unknown = ReviewInput {
            decisions: vec![Decision {
                key: "auto:7".into(),
                verdict: Verdict::Confirm,
                comment: None,
            }],
            ..Default::default()
        };
        assert!(matches!(
            apply_review(&p, &auto, &unknown, &BTreeSet::new()),
            Err(ReviewError::UnknownFinding(_))
        ));
        let not_manual = ReviewInput {
            manual: vec![ManualScore {
                rule: "forbidden".into(),
                deduction: 1.0,
                comment: None,
            }],
            ..Default::default()
        };
        assert!(matches!(
            apply_review(&p, &auto, &not_manual, &BTreeSet::new()),
            Err(ReviewError::NotManual(_))
        ));
        let too_much = ReviewInput {
            manual: vec![ManualScore {
                rule: "mandarin".into(),
                deduction: 1000.0,
                comment: None,
            }],
            ..Default::default()
        };
        assert!(matches!(
            apply_review(&p, &auto, &too_much, &BTreeSet::new()),
            Err(ReviewError::Deduction { .. })
        ));
    }
}
