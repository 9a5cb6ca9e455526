//! Issue 11's accuracy cases (tests/golden/accuracy.jsonl, written by
//! make_accuracy.py): rules that must fire, rules that must stay silent,
//! vetoes and not-applicable lists, on short real-text conversations.
//! The test prints recall and false-positive counts per item so a run
//! before and after a change can be compared.

use std::collections::BTreeMap;

use kefu_engine::{Conversation, Inspector, RulePack, Scratch};
use serde::Deserialize;

const CASES: &str = include_str!("golden/accuracy.jsonl");

#[derive(Deserialize)]
struct Case {
    id: String,
    item: u32,
    #[serde(default)]
    fires: Vec<String>,
    #[serde(default)]
    silent: Vec<String>,
    #[serde(default)]
    veto: Option<bool>,
    #[serde(default)]
    not_applicable: Option<Vec<String>>,
}

#[test]
fn accuracy_cases_hold() {
    let inspector = Inspector::new(RulePack::default_zh_cn().expect("pack")).expect("compiles");
    let mut scratch = Scratch::default();
    // item -> [required hit, required total, must-not violated, must-not total]
    let mut tally: BTreeMap<u32, [usize; 4]> = BTreeMap::new();
    let mut failures = Vec::new();
    for (n, line) in CASES.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let conv: Conversation<'_> =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", n + 1));
        let case: Case =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", n + 1));
        let result = inspector.inspect(&conv, &mut scratch);
        let fired = |rule: &str| result.findings.iter().any(|f| &*f.rule == rule);
        let t = tally.entry(case.item).or_default();
        for rule in &case.fires {
            t[1] += 1;
            if fired(rule) {
                t[0] += 1;
            } else {
                failures.push(format!("{}: `{rule}` should fire", case.id));
            }
        }
        for rule in &case.silent {
            t[3] += 1;
            if fired(rule) {
                t[2] += 1;
                let texts: Vec<_> = result
                    .findings
                    .iter()
                    .filter(|f| &*f.rule == rule)
                    .map(|f| f.text.clone().unwrap_or_default())
                    .collect();
                failures.push(format!("{}: `{rule}` must not fire ({texts:?})", case.id));
            }
        }
        if let Some(v) = case.veto {
            t[1] += usize::from(v);
            t[3] += usize::from(!v);
            if result.veto != v {
                if v {
                    failures.push(format!("{}: veto expected", case.id));
                } else {
                    t[2] += 1;
                    failures.push(format!("{}: innocent text vetoed", case.id));
                }
            } else if v {
                t[0] += 1;
            }
        }
        if let Some(na) = &case.not_applicable {
            let mut got: Vec<String> = result
                .not_applicable
                .iter()
                .map(|r| r.to_string())
                .collect();
            got.sort();
            let mut want = na.clone();
            want.sort();
            if got != want {
                failures.push(format!(
                    "{}: not_applicable {got:?}, want {want:?}",
                    case.id
                ));
            }
        }
    }
    for (item, [hit, req, fp, checks]) in &tally {
        println!("item {item}: recall {hit}/{req}, false positives {fp}/{checks}");
    }
    assert!(tally.values().map(|t| t[1] + t[3]).sum::<usize>() >= 20);
    assert!(
        failures.is_empty(),
        "{} accuracy checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
