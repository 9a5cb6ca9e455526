//! Properties: normalised offsets map back into the original text, and every
//! finding's span points at the text it reports, whatever the input.

use kefu_engine::normalize::{char_slice, normalize_phrase, NormalizedText};
use kefu_engine::{Conversation, Inspector, Role, RulePack, Scratch, Turn};
use proptest::prelude::*;
use std::sync::OnceLock;

fn inspector() -> &'static Inspector {
    static INSPECTOR: OnceLock<Inspector> = OnceLock::new();
    INSPECTOR.get_or_init(|| {
        Inspector::new(RulePack::default_zh_cn().expect("built-in pack"))
            .expect("built-in pack compiles")
    })
}

/// Text mixing the characters that normalisation treats specially.
fn messy_text() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "不", "知", "道", "清", "楚", "您", "好", "請", "稍", "等", "對", "不起", "，", "、", " ",
        "　", "。", "！", "?", "…", "～", "Ａ", "ｂ", "1", "１", "\n", "㈱", "é", "🙂", "投", "訴",
        "抱歉", "再見", "\u{200b}",
    ]);
    prop::collection::vec(pieces, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn every_normalised_match_maps_to_original_chars(text in messy_text()) {
        let n = NormalizedText::new(&text);
        let total = text.chars().count();
        prop_assert_eq!(n.original_chars(), total);
        for (b, c) in n.as_str().char_indices() {
            let (s, e) = n.original_span(b, b + c.len_utf8());
            prop_assert!(s < e && e <= total);
            // The original character normalises to (a string containing) c,
            // or to the same character once simplified.
            let orig = char_slice(&text, s, e);
            prop_assert!(normalize_phrase(orig).contains(c), "{:?} -> {:?}", orig, c);
        }
    }

    #[test]
    fn finding_spans_point_at_their_text(texts in prop::collection::vec(messy_text(), 1..8)) {
        let inspector = inspector();
        let turns: Vec<Turn<'_>> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| Turn {
                role: if i % 2 == 0 { Role::Agent } else { Role::Customer },
                text: t.as_str().into(),
                start_ms: Some(i as u64 * 3000),
                end_ms: Some(i as u64 * 3000 + 2500),
                meta: Default::default(),
            })
            .collect();
        let conv = Conversation {
            id: "p".into(),
            channel: kefu_engine::Channel::Phone,
            agent_id: None,
            agent_name: None,
            customer_id: None,
            customer_name: None,
            started_at: None,
            wait_ms: None,
            ended_by: None,
            turns,
            meta: Default::default(),
        };
        let result = inspector.inspect(&conv, &mut Scratch::default());
        for f in &result.findings {
            if let (Some(t), Some([s, e])) = (f.turn, f.span) {
                prop_assert!(s < e);
                prop_assert_eq!(Some(char_slice(&conv.turns[t].text, s, e)), f.text.as_deref());
            }
        }
        prop_assert!(result.score >= 0.0 && result.score <= 100.0);
    }
}
