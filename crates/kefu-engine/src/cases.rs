//! Test cases for packs: conversations that carry the findings a pack is
//! expected to produce, so a QA team can unit-test a rule before using it
//! (`kefu rules test`). The golden tests of the default pack use the same
//! format.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::inspect::Inspection;

/// What a case expects; every field is optional and only given fields are
/// checked.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The exact set of rule ids that must produce at least one finding.
    #[serde(default)]
    pub rules: Option<Vec<String>>,
    /// Findings that must be present (only the given fields are compared).
    #[serde(default)]
    pub findings: Option<Vec<ExpectedFinding>>,
    /// The exact set of rules reported not applicable.
    #[serde(default)]
    pub not_applicable: Option<Vec<String>>,
    /// Expected pass/fail.
    #[serde(default)]
    pub passed: Option<bool>,
    /// Expected veto.
    #[serde(default)]
    pub veto: Option<bool>,
    /// Expected score.
    #[serde(default)]
    pub score: Option<f64>,
}

/// One finding a case expects.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedFinding {
    /// Rule id.
    pub rule: String,
    /// 0-based turn index.
    #[serde(default)]
    pub turn: Option<usize>,
    /// Original text of the evidence.
    #[serde(default)]
    pub text: Option<String>,
    /// Character span.
    #[serde(default)]
    pub span: Option<[usize; 2]>,
}

/// The `expect` member of a case line; other members are the conversation.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CaseEnvelope {
    /// What the case expects; a line without it only has to inspect cleanly.
    #[serde(default)]
    pub expect: Option<Expect>,
}

/// Compares a result with an expectation; returns one line per mismatch.
pub fn check(result: &Inspection, expect: &Expect) -> Vec<String> {
    let mut problems = Vec::new();
    let fired: BTreeSet<&str> = result.findings.iter().map(|f| &*f.rule).collect();
    if let Some(rules) = &expect.rules {
        let wanted: BTreeSet<&str> = rules.iter().map(String::as_str).collect();
        let missing: Vec<&str> = wanted.difference(&fired).copied().collect();
        let extra: Vec<&str> = fired.difference(&wanted).copied().collect();
        if !missing.is_empty() {
            problems.push(format!("expected findings of {missing:?}, got none"));
        }
        for rule in extra {
            let msgs: Vec<&str> = result
                .findings
                .iter()
                .filter(|f| &*f.rule == rule)
                .map(|f| f.message.as_str())
                .collect();
            problems.push(format!(
                "unexpected finding of `{rule}`: {}",
                msgs.join(" | ")
            ));
        }
    }
    for want in expect.findings.iter().flatten() {
        let found = result.findings.iter().any(|f| {
            *f.rule == *want.rule
                && want.turn.is_none_or(|t| f.turn == Some(t))
                && want
                    .text
                    .as_ref()
                    .is_none_or(|t| f.text.as_deref() == Some(t.as_str()))
                && want.span.is_none_or(|s| f.span == Some(s))
        });
        if !found {
            problems.push(format!(
                "expected finding {} turn {:?} text {:?} span {:?} not found",
                want.rule, want.turn, want.text, want.span
            ));
        }
    }
    if let Some(na) = &expect.not_applicable {
        let wanted: BTreeSet<&str> = na.iter().map(String::as_str).collect();
        let got: BTreeSet<&str> = result.not_applicable.iter().map(|s| &**s).collect();
        if wanted != got {
            problems.push(format!("not_applicable: expected {wanted:?}, got {got:?}"));
        }
    }
    if let Some(p) = expect.passed {
        if p != result.passed {
            problems.push(format!(
                "passed: expected {p}, got {} (score {})",
                result.passed, result.score
            ));
        }
    }
    if let Some(v) = expect.veto {
        if v != result.veto {
            problems.push(format!("veto: expected {v}, got {}", result.veto));
        }
    }
    if let Some(s) = expect.score {
        if (s - result.score).abs() > 1e-6 {
            problems.push(format!("score: expected {s}, got {}", result.score));
        }
    }
    problems
}
