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

/// Item 2: the golden conversations exported in UTC (`Z`), with `+00:00` and
/// as Unix milliseconds give exactly the findings of the `+08:00` originals.
#[test]
fn utc_exports_match_centre_time() {
    let inspector = Inspector::new(RulePack::default_zh_cn().expect("pack")).expect("compiles");
    let mut scratch = Scratch::default();
    let mut compared = 0;
    let mut shifted_date = 0;
    let lines = include_str!("golden/conversations.jsonl")
        .lines()
        .chain(CASES.lines().filter(|l| l.contains("\"item\":2,")));
    for line in lines {
        let conv: Conversation<'_> = serde_json::from_str(line).expect("golden line");
        let Some(at) = conv.started_at else { continue };
        let base = inspector.inspect(&conv, &mut scratch);
        let utc = at.with_timezone(&chrono::Utc);
        if utc.date_naive() != at.date_naive() {
            shifted_date += 1;
        }
        let mut value: serde_json::Value = serde_json::from_str(line).expect("json");
        for form in [
            serde_json::json!(utc.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            serde_json::json!(utc.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()),
            serde_json::json!(at.timestamp_millis()),
        ] {
            value["started_at"] = form.clone();
            let text = value.to_string();
            let moved: Conversation<'_> = serde_json::from_str(&text).expect("moved line");
            if form.is_string() {
                assert_eq!(
                    moved.started_at.map(|t| t.offset().local_minus_utc()),
                    Some(0),
                    "{form}"
                );
            }
            let other = inspector.inspect(&moved, &mut scratch);
            let ids = |r: &kefu_engine::Inspection| {
                r.findings
                    .iter()
                    .map(|f| (f.rule.to_string(), f.turn, f.text.clone()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(
                ids(&base),
                ids(&other),
                "{} with started_at {form}",
                conv.id
            );
            compared += 1;
        }
    }
    assert!(compared >= 200, "compared {compared}");
    // Early calls fall on the previous UTC day: the zone really matters.
    assert!(
        shifted_date >= 1,
        "no golden call crosses the UTC date line"
    );
}

/// Per-rule precision and recall over both labelled sets: the golden
/// conversations (whose `expect.rules` labels every rule) and the accuracy
/// cases (whose `fires`/`silent` label some). Printed as the Markdown table
/// kept in docs/rules.md; asserts that no labelled negative fires.
#[test]
fn per_rule_precision_table() {
    let inspector = Inspector::new(RulePack::default_zh_cn().expect("pack")).expect("compiles");
    let mut scratch = Scratch::default();
    // rule -> [labelled positives, fired on positives, labelled negatives, fired on negatives]
    let mut table: BTreeMap<String, [usize; 4]> = BTreeMap::new();
    let rule_ids: Vec<String> = inspector
        .pack()
        .rules
        .iter()
        .map(|r| r.id.clone())
        .collect();
    let mut count = |rule: &str, positive: bool, fired: bool| {
        let row = table.entry(rule.to_string()).or_default();
        let base = if positive { 0 } else { 2 };
        row[base] += 1;
        row[base + 1] += usize::from(fired);
    };
    for line in include_str!("golden/conversations.jsonl").lines() {
        let conv: Conversation<'_> = serde_json::from_str(line).expect("golden line");
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        let expected: Vec<&str> = v["expect"]["rules"]
            .as_array()
            .map(|a| a.iter().filter_map(|r| r.as_str()).collect())
            .unwrap_or_default();
        let result = inspector.inspect(&conv, &mut scratch);
        for id in &rule_ids {
            if result.manual.iter().any(|m| **m == **id) {
                continue;
            }
            let fired = result.findings.iter().any(|f| *f.rule == **id);
            count(id, expected.contains(&id.as_str()), fired);
        }
    }
    for line in CASES.lines() {
        let conv: Conversation<'_> = serde_json::from_str(line).expect("case line");
        let case: Case = serde_json::from_str(line).expect("case");
        let result = inspector.inspect(&conv, &mut scratch);
        let fired = |rule: &str| result.findings.iter().any(|f| &*f.rule == rule);
        for r in &case.fires {
            count(r, true, fired(r));
        }
        for r in &case.silent {
            count(r, false, fired(r));
        }
    }
    println!("| rule | labelled positives | caught | labelled negatives | false positives | precision | recall |");
    println!("|---|---|---|---|---|---|---|");
    let mut false_positives = 0;
    for (rule, [pos, tp, neg, fp]) in &table {
        let precision = if tp + fp == 0 {
            "—".to_string()
        } else {
            format!("{:.2}", *tp as f64 / (tp + fp) as f64)
        };
        let recall = if *pos == 0 {
            "—".to_string()
        } else {
            format!("{:.2}", *tp as f64 / *pos as f64)
        };
        println!("| `{rule}` | {pos} | {tp} | {neg} | {fp} | {precision} | {recall} |");
        false_positives += fp;
    }
    assert_eq!(false_positives, 0, "labelled negatives fired");
}
