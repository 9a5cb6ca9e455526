//! Words a regex cannot match without: a cheap gate in front of it.
//!
//! Most pack patterns start with a character class (`(?:^|[^帮给替为])你…`),
//! which leaves the regex engine nothing to skip ahead with, so it walks
//! every byte of every turn the rule looks at. Yet a pattern such as
//! `…打.{0,16}?(?:电话|热线)去|…(?:找|问)(?:别人|其他部门)…` cannot match a turn
//! that contains none of 电话, 热线, 别人, 其他部门. [`required_words`] works
//! that set out from the pattern's syntax tree; a turn that holds none of
//! them is skipped without running the regex. The set is conservative:
//! when in doubt it is `None`, and the regex runs on every turn as before.

use regex_syntax::hir::{Class, Hir, HirKind};

/// At most this many words in a gate; more would not be much of a filter.
const MAX_WORDS: usize = 64;
/// Character classes up to this size count as a set of one-character words.
const MAX_CLASS_CHARS: u32 = 8;

/// Words of which every match of `pattern` contains at least one, or
/// `None` when no useful set is known (or the pattern does not parse).
pub fn required_words(pattern: &str) -> Option<Vec<String>> {
    let hir = regex_syntax::parse(pattern).ok()?;
    let mut words = required(&hir)?;
    words.sort();
    words.dedup();
    // A set containing the empty word is met by every text.
    if words.iter().any(String::is_empty) {
        return None;
    }
    Some(words)
}

/// The set for one node: every match of `hir` contains one of the words.
fn required(hir: &Hir) -> Option<Vec<String>> {
    match hir.kind() {
        HirKind::Literal(lit) => Some(vec![String::from_utf8(lit.0.to_vec()).ok()?]),
        HirKind::Class(class) => class_words(class),
        HirKind::Capture(cap) => required(&cap.sub),
        HirKind::Repetition(rep) if rep.min >= 1 => required(&rep.sub),
        HirKind::Repetition(_) | HirKind::Empty | HirKind::Look(_) => None,
        // Any one part's set will do; the one with the longest shortest
        // word is the most selective.
        HirKind::Concat(parts) => parts
            .iter()
            .filter_map(required)
            .max_by_key(|words| (shortest(words), std::cmp::Reverse(words.len()))),
        // Every branch must bring a set; the union is then required.
        HirKind::Alternation(branches) => {
            let mut all = Vec::new();
            for branch in branches {
                all.extend(required(branch)?);
                if all.len() > MAX_WORDS {
                    return None;
                }
            }
            Some(all)
        }
    }
}

/// A small class as one-character words.
fn class_words(class: &Class) -> Option<Vec<String>> {
    match class {
        Class::Unicode(cls) => {
            let size: u32 = cls.ranges().iter().map(|r| r.len() as u32).sum();
            if size > MAX_CLASS_CHARS {
                return None;
            }
            Some(
                cls.iter()
                    .flat_map(|r| r.start()..=r.end())
                    .map(String::from)
                    .collect(),
            )
        }
        Class::Bytes(_) => None,
    }
}

/// Length in bytes of the shortest word.
fn shortest(words: &[String]) -> usize {
    words.iter().map(String::len).min().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(pattern: &str) -> Option<Vec<String>> {
        required_words(pattern)
    }

    const PUSH_AWAY: &str = "(?:^|[^帮给替为])(?P<hit>(?:你|您)(?:自己)?(?:再?去?打.{0,16}?(?:电话|热线)去|去?(?:找|问)(?:别人|别的部门|其他部门|其它部门)(?:去|吧)))";

    #[test]
    fn picks_the_most_selective_part() {
        assert_eq!(
            words(PUSH_AWAY),
            Some(
                ["其他部门", "其它部门", "别人", "别的部门", "热线", "电话"]
                    .map(String::from)
                    .to_vec()
            )
        );
        assert_eq!(words("不知道"), Some(vec!["不知道".to_string()]));
        // 好 ties with the class on length and is one word, not two.
        assert_eq!(words("[你您]好"), Some(vec!["好".to_string()]));
    }

    #[test]
    fn declines_when_a_branch_or_part_can_be_empty() {
        assert_eq!(words("a|b*"), None);
        assert_eq!(words(".*"), None);
        assert_eq!(words("^$"), None);
        assert_eq!(words("(?:电话)?"), None);
        assert_eq!(words("[^a]"), None);
        assert_eq!(words("\\d+"), None);
        assert_eq!(words("("), None);
    }

    #[test]
    fn case_insensitive_letters_become_small_classes() {
        let w = words("(?i)ok").expect("a set");
        assert!(
            w.contains(&"o".to_string()) || w.contains(&"k".to_string()),
            "{w:?}"
        );
        assert!(w.len() <= 3, "{w:?}");
    }

    /// The gate never hides a match: on texts built from the patterns'
    /// own pieces, every text the regex matches holds a required word.
    #[test]
    fn never_rejects_a_text_the_regex_matches() {
        let patterns = [
            PUSH_AWAY,
            "(?:不|没)(?:知道|清楚)+",
            "[一二三]号(?:线|台)",
            "(?i)ok+",
        ];
        let pieces = [
            "你",
            "您",
            "自己",
            "再",
            "去",
            "打",
            "电话",
            "热线",
            "找",
            "问",
            "别人",
            "其他部门",
            "吧",
            "帮",
            "不",
            "没",
            "知道",
            "清楚",
            "一",
            "号",
            "线",
            "台",
            "O",
            "k",
            "K",
            "。",
        ];
        for pattern in patterns {
            let re = regex::Regex::new(pattern).expect("valid");
            let gate = required_words(pattern).expect("each of these has a gate");
            // Texts of two to seven pieces, from a fixed pseudo-random walk.
            let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
            let mut next = |n: usize| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                (state >> 33) as usize % n
            };
            let mut matched = 0;
            for _ in 0..20_000 {
                let len = 2 + next(6);
                let text: String = (0..len).map(|_| pieces[next(pieces.len())]).collect();
                if re.is_match(&text) {
                    matched += 1;
                    assert!(
                        gate.iter().any(|w| text.contains(w.as_str())),
                        "{pattern} matches {text} but the gate {gate:?} rejects it"
                    );
                }
            }
            assert!(
                matched > 0,
                "{pattern}: no text matched, the test proves nothing"
            );
        }
    }
}
