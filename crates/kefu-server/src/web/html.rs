//! Small pure helpers for pages: HTML escaping, time and number formatting,
//! and highlighting findings in a turn's text.

use chrono::{DateTime, FixedOffset, Utc};

/// Escapes text for HTML content and attribute values (also fine for XML).
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Characters XML 1.0 does not allow at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// China time, in which the dashboard shows times (the centres kefu is
/// built for run on it; the API takes the same default).
pub(crate) fn china() -> FixedOffset {
    CHINA
}

/// UTC+8, checked when compiling.
const CHINA: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
    Some(o) => o,
    None => panic!("UTC+8 is a valid offset"),
};

/// `2026-03-18 10:12` in China time, from Unix milliseconds.
pub(crate) fn fmt_ms(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms).map_or_else(String::new, fmt_dt)
}

/// `2026-03-18 10:12` in China time.
pub(crate) fn fmt_dt(t: DateTime<Utc>) -> String {
    t.with_timezone(&china())
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// `mm:ss` (or `h:mm:ss`) of an offset from the start of a conversation.
pub(crate) fn clock(ms: u64) -> String {
    let s = ms / 1000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    } else {
        format!("{:02}:{:02}", s / 60, s % 60)
    }
}

/// A number with at most one decimal, without a trailing `.0`; empty for
/// NaN and infinities.
pub(crate) fn num(x: f64) -> String {
    if !x.is_finite() {
        return String::new();
    }
    let r = (x * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

/// Seconds with one decimal from milliseconds (`12.3`).
pub(crate) fn secs(ms: f64) -> String {
    num(ms / 1000.0)
}

/// One finding to highlight in a turn: `[start, end)` in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mark {
    /// First character.
    pub start: usize,
    /// One past the last character.
    pub end: usize,
    /// The finding's number on the page (its anchor is `f{number}`).
    pub number: usize,
    /// Whether it is a veto (styled more strongly).
    pub veto: bool,
}

/// `text` as HTML with each mark's characters inside `<mark>` elements and
/// an empty `<span id="f{number}">` anchor where each finding starts, so the
/// findings list can link to it. Spans are character offsets; spans past
/// the end are clipped, and overlapping spans split the text into segments
/// each marked with every finding that covers it.
pub(crate) fn highlight(text: &str, marks: &[Mark]) -> String {
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(text.len()))
        .collect();
    let n = bounds.len() - 1;
    let marks: Vec<Mark> = marks
        .iter()
        .map(|m| {
            let start = m.start.min(n);
            Mark {
                start,
                end: m.end.clamp(start, n),
                ..*m
            }
        })
        .collect();
    let mut points: Vec<usize> = vec![0, n];
    for m in &marks {
        points.push(m.start);
        points.push(m.end);
    }
    points.sort_unstable();
    points.dedup();
    let mut out = String::with_capacity(text.len() * 2);
    let anchors = |out: &mut String, at: usize| {
        for m in marks.iter().filter(|m| m.start == at) {
            out.push_str(&format!(
                "<span class=\"anchor\" id=\"f{}\"></span>",
                m.number
            ));
        }
    };
    for w in points.windows(2) {
        let (a, b) = (w[0], w[1]);
        anchors(&mut out, a);
        let segment = escape(&text[bounds[a]..bounds[b]]);
        let cover: Vec<&Mark> = marks
            .iter()
            .filter(|m| m.start <= a && m.end >= b && m.start < m.end)
            .collect();
        if cover.is_empty() {
            out.push_str(&segment);
        } else {
            let numbers: Vec<String> = cover.iter().map(|m| m.number.to_string()).collect();
            let class = if cover.iter().any(|m| m.veto) {
                "finding veto"
            } else {
                "finding"
            };
            out.push_str(&format!(
                "<mark class=\"{class}\" data-f=\"{}\">{segment}</mark>",
                numbers.join(" ")
            ));
        }
    }
    // Spans starting at the very end (empty ones) still get their anchor.
    anchors(&mut out, n);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(start: usize, end: usize, number: usize) -> Mark {
        Mark {
            start,
            end,
            number,
            veto: false,
        }
    }

    #[test]
    fn spans_are_characters_not_bytes() {
        // 「不知道」 is characters 5..8; in bytes it would be 15..24.
        let text = "您好，这个不知道，您问别人吧。";
        let html = highlight(text, &[mark(5, 8, 1)]);
        assert_eq!(
            html,
            "您好，这个<span class=\"anchor\" id=\"f1\"></span>\
             <mark class=\"finding\" data-f=\"1\">不知道</mark>，您问别人吧。"
        );
    }

    #[test]
    fn text_is_escaped_and_spans_clipped() {
        let html = highlight("<b>喂</b>", &[mark(3, 99, 2)]);
        assert!(html.starts_with("&lt;b&gt;<span class=\"anchor\" id=\"f2\"></span><mark"));
        assert!(html.contains(">喂&lt;/b&gt;</mark>"));
        assert!(!html.contains("<b>"));
    }

    #[test]
    fn overlapping_spans_split_into_segments() {
        let html = highlight("一二三四五", &[mark(0, 3, 1), mark(2, 5, 2)]);
        assert_eq!(
            html,
            "<span class=\"anchor\" id=\"f1\"></span><mark class=\"finding\" data-f=\"1\">一二</mark>\
             <span class=\"anchor\" id=\"f2\"></span><mark class=\"finding\" data-f=\"1 2\">三</mark>\
             <mark class=\"finding\" data-f=\"2\">四五</mark>"
        );
    }

    #[test]
    fn empty_text_and_empty_spans_keep_anchors() {
        assert_eq!(
            highlight("", &[mark(0, 0, 3)]),
            "<span class=\"anchor\" id=\"f3\"></span>"
        );
        let html = highlight("好的", &[mark(2, 2, 4)]);
        assert_eq!(html, "好的<span class=\"anchor\" id=\"f4\"></span>");
        assert_eq!(highlight("好的", &[]), "好的");
    }

    #[test]
    fn formatting() {
        assert_eq!(clock(0), "00:00");
        assert_eq!(clock(83_400), "01:23");
        assert_eq!(clock(3_723_000), "1:02:03");
        assert_eq!(num(85.0), "85");
        assert_eq!(num(84.55), "84.6");
        assert_eq!(num(f64::NAN), "");
        assert_eq!(escape("a<'&\">\u{1}"), "a&lt;&#39;&amp;&quot;&gt;\u{FFFD}");
        assert_eq!(fmt_ms(0), "1970-01-01 08:00");
    }
}
