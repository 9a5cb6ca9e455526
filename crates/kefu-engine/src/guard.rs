//! Context guards: words next to a phrase hit, or earlier in its clause,
//! that cancel the hit (查找死机 is not 找死, 牲畜生病 is not 畜生, 快递员说要下班了
//! is not the agent refusing service, 不差评 is not a complaint).
//!
//! Guards are pack data (`guards = [{ phrases = [...], before = [...] }]`).
//! They are checked only for the hits of phrases that carry a guard, by
//! comparing the normalised text around the hit, so the single automaton
//! scan stays as it is and unguarded phrases cost nothing.

use std::sync::Arc;

use daachorse::CharwiseDoubleArrayAhoCorasick;
use serde::{Deserialize, Serialize};

use crate::normalize::{is_barrier, normalize_phrase};

/// A guard as written in a pack.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardSpec {
    /// The rule's phrases the guard protects; empty means all of them.
    #[serde(default)]
    pub phrases: Vec<String>,
    /// Words right before the hit that cancel it (`查` before 找死).
    #[serde(default)]
    pub before: Vec<String>,
    /// Words right after the hit that cancel it (`卤蛋` after 乡巴佬).
    #[serde(default)]
    pub after: Vec<String>,
    /// Words anywhere earlier in the same sentence that cancel it: a third
    /// party or an object is the subject (`快递员` … 要下班了).
    #[serde(default)]
    pub clause_before: Vec<String>,
}

/// A context word or a character class.
#[derive(Debug, Clone, PartialEq)]
enum Context {
    /// A normalised word.
    Word(String),
    /// `@digit`: an ASCII or Chinese numeral.
    Digit,
    /// `@latin`: an ASCII letter or digit (codes such as `ATMD2`).
    Latin,
}

impl Context {
    fn parse(s: &str) -> Option<Context> {
        match s.trim() {
            "@digit" => Some(Context::Digit),
            "@latin" => Some(Context::Latin),
            other => {
                let n = normalize_phrase(other);
                (!n.is_empty()).then_some(Context::Word(n))
            }
        }
    }

    fn class_admits(&self, c: char) -> bool {
        match self {
            Context::Digit => {
                c.is_ascii_digit() || "零〇一二两三四五六七八九十百千万几半".contains(c)
            }
            Context::Latin => c.is_ascii_alphanumeric(),
            Context::Word(_) => false,
        }
    }

    /// Whether `text` ends with this context.
    fn ends(&self, text: &str) -> bool {
        match self {
            Context::Word(w) => text.ends_with(w.as_str()),
            _ => text
                .chars()
                .next_back()
                .is_some_and(|c| self.class_admits(c)),
        }
    }

    /// Whether `text` starts with this context.
    fn starts(&self, text: &str) -> bool {
        match self {
            Context::Word(w) => text.starts_with(w.as_str()),
            _ => text.chars().next().is_some_and(|c| self.class_admits(c)),
        }
    }

    /// Whether `text` contains this context.
    fn within(&self, text: &str) -> bool {
        match self {
            Context::Word(w) => text.contains(w.as_str()),
            _ => text.chars().any(|c| self.class_admits(c)),
        }
    }
}

/// A guard ready for matching.
#[derive(Clone)]
pub(crate) struct Guard {
    /// Normalised phrases protected; empty means all of the rule's.
    pub phrases: Vec<String>,
    before: Vec<Context>,
    after: Vec<Context>,
    /// The clause contexts not in `clause_words`: classes, or every
    /// context when the automaton could not be built.
    clause_before: Vec<Context>,
    /// The clause words in one automaton: a guard can list thirty of them,
    /// and one pass over the clause beats thirty substring searches.
    clause_words: Option<Arc<CharwiseDoubleArrayAhoCorasick<u32>>>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("phrases", &self.phrases)
            .field("before", &self.before)
            .field("after", &self.after)
            .field("clause_before", &self.clause_before)
            .field("clause_words", &self.clause_words.is_some())
            .finish()
    }
}

impl Guard {
    /// Compiles a spec; `Err` names the first empty context.
    pub(crate) fn compile(spec: &GuardSpec) -> Result<Guard, String> {
        let list = |v: &[String]| -> Result<Vec<Context>, String> {
            v.iter()
                .map(|s| Context::parse(s).ok_or_else(|| format!("guard context {s:?} is empty")))
                .collect()
        };
        let mut clause_before = list(&spec.clause_before)?;
        let mut words: Vec<&str> = clause_before
            .iter()
            .filter_map(|c| match c {
                Context::Word(w) => Some(w.as_str()),
                _ => None,
            })
            .collect();
        words.sort_unstable();
        words.dedup();
        let clause_words = if words.is_empty() {
            None
        } else {
            CharwiseDoubleArrayAhoCorasick::<u32>::new(&words)
                .ok()
                .map(Arc::new)
        };
        if clause_words.is_some() {
            clause_before.retain(|c| !matches!(c, Context::Word(_)));
        }
        let guard = Guard {
            phrases: spec.phrases.iter().map(|p| normalize_phrase(p)).collect(),
            before: list(&spec.before)?,
            after: list(&spec.after)?,
            clause_before,
            clause_words,
        };
        if guard.before.is_empty()
            && guard.after.is_empty()
            && guard.clause_before.is_empty()
            && guard.clause_words.is_none()
        {
            return Err("a guard needs before, after or clause_before".into());
        }
        Ok(guard)
    }

    /// Whether this guard protects the normalised phrase `phrase`.
    pub(crate) fn covers(&self, phrase: &str) -> bool {
        self.phrases.is_empty() || self.phrases.iter().any(|p| p == phrase)
    }

    /// Whether the hit `turn[start..end]` (byte offsets into `turn`, the
    /// turn's normalised text) is cancelled by this guard.
    pub(crate) fn cancels(&self, turn: &str, start: usize, end: usize) -> bool {
        let (Some(left), Some(right)) = (turn.get(..start), turn.get(end..)) else {
            return false;
        };
        if self.before.iter().any(|c| c.ends(left)) || self.after.iter().any(|c| c.starts(right)) {
            return true;
        }
        if self.clause_before.is_empty() && self.clause_words.is_none() {
            return false;
        }
        let clause = match left.rfind(|c: char| is_barrier(c) || c == '\0') {
            Some(i) => &left[i..],
            None => left,
        };
        self.clause_words
            .as_ref()
            .is_some_and(|ac| ac.find_iter(clause).next().is_some())
            || self.clause_before.iter().any(|c| c.within(clause))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(before: &[&str], after: &[&str], clause: &[&str]) -> Guard {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect();
        Guard::compile(&GuardSpec {
            phrases: vec![],
            before: v(before),
            after: v(after),
            clause_before: v(clause),
        })
        .unwrap()
    }

    #[test]
    fn contexts_cancel_adjacent_and_clause_hits() {
        let g = guard(&["查"], &["机"], &[]);
        let t = "查找死机";
        assert!(g.cancels(t, 3, 9));
        assert!(!g.cancels("你找死", 3, 9));
        let g = guard(&["@latin"], &["@latin", "@digit"], &[]);
        assert!(g.cancels("atmd2", 1, 4));
        assert!(!g.cancels("tmd", 0, 3));
        let g = guard(&[], &[], &["快递员"]);
        let t = "快递员说要下班了";
        let s = t.find("要下班了").unwrap();
        assert!(g.cancels(t, s, t.len()));
        let t = "快递员到了。我要下班了";
        let s = t.find("我要下班了").unwrap();
        assert!(!g.cancels(t, s, t.len()));
        assert!(Guard::compile(&GuardSpec::default()).is_err());
    }

    #[test]
    fn clause_words_and_classes_both_count() {
        // Repeated words are fine; a class listed with words still applies.
        let g = guard(&[], &[], &["骑手", "司机", "骑手", "@digit", "快递小哥"]);
        for (text, cancelled) in [
            ("骑手说要下班了", true),
            ("那个司机要下班了", true),
            ("快递小哥要下班了", true),
            ("3号要下班了", true),
            ("我要下班了", false),
            ("司机到了。我要下班了", false),
            ("快递要下班了", false),
        ] {
            let s = text.find("要下班了").unwrap();
            assert_eq!(g.cancels(text, s, text.len()), cancelled, "{text}");
        }
    }
}
