//! Finding messages: a rule's template (`message` in the pack) with
//! `{text}` (the evidence), `{value}` (a measured figure) and `{detail}`
//! (what the check adds, e.g. how many turns) filled in.
//!
//! The meaning is three replacements in that order, each over the result of
//! the one before, so text inserted first may itself hold a later
//! placeholder. A findings-heavy conversation renders a message per finding,
//! and searching the template three times for each was a visible cost, so a
//! template is cut at its placeholders once, when the pack is compiled, and
//! filled in one pass whenever that gives the same string: when no `{`
//! occurs outside the placeholders, neither in the template nor in what is
//! inserted (then every `{` of the text being replaced starts a placeholder
//! of the template, and no replacement can make a new one). Otherwise the
//! replacements run in order as written.

use std::ops::Range;

/// A rule's message template, cut at its placeholders.
#[derive(Debug, Clone)]
pub(crate) struct MessageTemplate {
    source: String,
    /// `None` when a `{` of the template is not a placeholder's.
    parts: Option<Vec<Part>>,
}

#[derive(Debug, Clone)]
enum Part {
    /// Bytes of the template, as written.
    Literal(Range<usize>),
    Text,
    Value,
    Detail,
}

const PLACEHOLDERS: [(&str, Part); 3] = [
    ("{text}", Part::Text),
    ("{value}", Part::Value),
    ("{detail}", Part::Detail),
];

impl MessageTemplate {
    /// Cuts `source` at its placeholders.
    pub(crate) fn new(source: &str) -> MessageTemplate {
        let mut parts = Vec::new();
        let mut literal_from = 0;
        let mut at = 0;
        let mut simple = true;
        while let Some(offset) = source[at..].find('{') {
            let brace = at + offset;
            let rest = &source[brace..];
            match PLACEHOLDERS.iter().find(|(p, _)| rest.starts_with(p)) {
                Some((p, part)) => {
                    if literal_from < brace {
                        parts.push(Part::Literal(literal_from..brace));
                    }
                    parts.push(part.clone());
                    at = brace + p.len();
                    literal_from = at;
                }
                None => {
                    simple = false;
                    break;
                }
            }
        }
        if literal_from < source.len() {
            parts.push(Part::Literal(literal_from..source.len()));
        }
        MessageTemplate {
            source: source.to_string(),
            parts: simple.then_some(parts),
        }
    }

    /// The message with `text`, `value` and `detail` filled in.
    pub(crate) fn render(&self, text: &str, value: &str, detail: &str) -> String {
        let one_pass = |s: &str| !s.as_bytes().contains(&b'{');
        match &self.parts {
            Some(parts) if one_pass(text) && one_pass(value) && one_pass(detail) => {
                let mut out = String::with_capacity(self.source.len() + text.len() + 8);
                for part in parts {
                    out.push_str(match part {
                        Part::Literal(r) => &self.source[r.clone()],
                        Part::Text => text,
                        Part::Value => value,
                        Part::Detail => detail,
                    });
                }
                out
            }
            _ => in_order(&self.source, text, value, detail),
        }
    }
}

/// The three replacements one after the other, each over the result of
/// the one before (skipped when no `{` is left to match).
fn in_order(template: &str, text: &str, value: &str, detail: &str) -> String {
    let step = |s: String, pat: &str, with: &str| {
        if s.as_bytes().contains(&b'{') && s.contains(pat) {
            s.replace(pat, with)
        } else {
            s
        }
    };
    let s = step(template.to_string(), "{text}", text);
    let s = step(s, "{value}", value);
    step(s, "{detail}", detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fills_each_placeholder() {
        let t = MessageTemplate::new("客户「{text}」后，{detail} 句内未致歉（{value} 毫秒）{text}");
        assert_eq!(
            t.render("太慢了", "1500", "2"),
            "客户「太慢了」后，2 句内未致歉（1500 毫秒）太慢了"
        );
        assert_eq!(
            MessageTemplate::new("无占位").render("a", "b", "c"),
            "无占位"
        );
        assert_eq!(MessageTemplate::new("").render("a", "b", "c"), "");
    }

    #[test]
    fn inserted_text_can_hold_a_later_placeholder() {
        // As three replacements in order: the evidence's `{detail}` is
        // replaced too, and a stray brace still lets one form.
        let t = MessageTemplate::new("「{text}」");
        assert_eq!(t.render("说{detail}", "", "3"), "「说3」");
        let t = MessageTemplate::new("{{value}detail}");
        assert_eq!(t.render("", "", "x"), "x");
    }

    fn piece() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "{text}", "{value}", "{detail}", "{", "}", "{te", "xt}", "text", "value}", "det",
            "ail}", "中", "a", " ",
        ])
    }

    fn pieces(max: usize) -> impl Strategy<Value = String> {
        prop::collection::vec(piece(), 0..max).prop_map(|v| v.concat())
    }

    proptest! {
        /// One pass gives exactly what the replacements in order give.
        #[test]
        fn same_as_replacing_in_order(
            template in pieces(8),
            text in pieces(3),
            value in prop::sample::select(vec!["", "12", "0.5", "{text}"]),
            detail in pieces(3),
        ) {
            let t = MessageTemplate::new(&template);
            prop_assert_eq!(
                t.render(&text, value, &detail),
                in_order(&template, &text, value, &detail)
            );
        }
    }
}
