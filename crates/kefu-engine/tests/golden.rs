//! The default pack on the golden fixture set: every conversation carries the
//! rules it must (and must not) trigger, written from the standard rather
//! than from the engine's output.

use kefu_engine::cases::{check, CaseEnvelope};
use kefu_engine::normalize::char_slice;
use kefu_engine::{Conversation, Inspector, RulePack, Scratch};

const FIXTURES: &str = include_str!("golden/conversations.jsonl");

#[test]
fn default_pack_matches_golden_expectations() {
    let inspector = Inspector::new(RulePack::default_zh_cn().expect("built-in pack is valid"))
        .expect("built-in pack compiles");
    let mut scratch = Scratch::default();
    let mut failures = Vec::new();
    let mut count = 0;
    for (n, line) in FIXTURES.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        count += 1;
        let conv: Conversation<'_> =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("golden line {}: {e}", n + 1));
        let envelope: CaseEnvelope =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("golden line {}: {e}", n + 1));
        let expect = envelope
            .expect
            .unwrap_or_else(|| panic!("golden line {} has no expect", n + 1));
        let result = inspector.inspect(&conv, &mut scratch);
        for f in &result.findings {
            if let (Some(t), Some([s, e])) = (f.turn, f.span) {
                assert_eq!(
                    Some(char_slice(&conv.turns[t].text, s, e)),
                    f.text.as_deref()
                );
            }
        }
        let problems = check(&result, &expect);
        if !problems.is_empty() {
            failures.push(format!(
                "line {} ({}):\n    {}",
                n + 1,
                conv.id,
                problems.join("\n    ")
            ));
        }
    }
    assert!(
        count >= 60,
        "the golden set must hold at least 60 conversations, has {count}"
    );
    assert!(
        failures.is_empty(),
        "{} of {count} golden conversations differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
