//! Writing inspection results: JSON Lines, CSV (Excel-friendly) and a
//! self-contained HTML report.
//!
//! Records are formatted into byte buffers so worker threads can format in
//! parallel; the header and footer are written once by the caller. The HTML
//! report streams too: failing conversations are written as they come and
//! the summary is written last, then shown first by CSS.

use std::fmt::Write as _;
use std::io::{self, Write};

use kefu_engine::{Conversation, Inspection, Role};

use crate::csvout::{CsvOut, Field, LineEnd};
use crate::summary::Summary;

/// Output format of `kefu inspect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// One JSON object per conversation.
    Jsonl,
    /// One row per conversation, UTF-8 with BOM.
    Csv,
    /// A single HTML page with the failing conversations highlighted.
    Html,
}

/// An input problem, as `file:line: reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// File name as given (or `-` for stdin).
    pub file: String,
    /// 1-based line, 0 when the whole file is concerned.
    pub line: u64,
    /// Why.
    pub reason: String,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.file, self.line, self.reason)
        } else {
            write!(f, "{}: {}", self.file, self.reason)
        }
    }
}

const CSV_HEADER: [&str; 14] = [
    "会话ID id",
    "坐席ID agent_id",
    "坐席 agent_name",
    "渠道 channel",
    "得分 score",
    "等级 grade",
    "合格 passed",
    "否决 veto",
    "问题数 findings",
    "违规规则 rules",
    "问题明细 details",
    "不适用 not_applicable",
    "待人工 manual",
    "规则包 pack",
];

/// Writes what comes before the first record.
pub fn write_header(out: &mut dyn Write, format: OutputFormat, title: &str) -> io::Result<()> {
    match format {
        OutputFormat::Jsonl => Ok(()),
        OutputFormat::Csv => {
            out.write_all("\u{feff}".as_bytes())?;
            let mut w = CsvOut::new(Vec::new(), LineEnd::Lf);
            let header: Vec<Field<'_>> = CSV_HEADER.iter().map(|h| Field::Value(h)).collect();
            w.write_fields(&header)?;
            out.write_all(&w.into_inner()?)
        }
        OutputFormat::Html => {
            let mut s = String::new();
            let _ = write!(
                s,
                "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n\
                 <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
                 <title>{}</title>\n<style>{}</style>\n</head>\n<body>\n<main>\n\
                 <h1>{}</h1>\n<div class=\"failing\">\n<h2>不合格及有问题的会话 Conversations with findings</h2>\n",
                escape(title),
                HTML_STYLE,
                escape(title)
            );
            out.write_all(s.as_bytes())
        }
    }
}

/// Formats one result into `buf`. For HTML only conversations with findings
/// are written.
pub fn write_record(
    buf: &mut Vec<u8>,
    format: OutputFormat,
    conv: &Conversation<'_>,
    ins: &Inspection,
) {
    match format {
        OutputFormat::Jsonl => {
            ins.write_json(buf);
            buf.push(b'\n');
        }
        OutputFormat::Csv => {
            let rules: Vec<&str> = {
                let mut v: Vec<&str> = Vec::new();
                for f in &ins.findings {
                    if !v.contains(&&*f.rule) {
                        v.push(&f.rule);
                    }
                }
                v
            };
            let details = ins
                .findings
                .iter()
                .map(|f| match f.turn {
                    Some(t) => format!("[{}#{}] {}", f.rule, t, f.message),
                    None => format!("[{}] {}", f.rule, f.message),
                })
                .collect::<Vec<_>>()
                .join(" | ");
            let join =
                |v: &[std::sync::Arc<str>]| v.iter().map(|s| &**s).collect::<Vec<_>>().join(";");
            let (score, passed, veto, findings) = (
                fmt_num(ins.score),
                ins.passed.to_string(),
                ins.veto.to_string(),
                ins.findings.len().to_string(),
            );
            let (rules, not_applicable, manual, pack) = (
                rules.join(";"),
                join(&ins.not_applicable),
                join(&ins.manual),
                ins.pack.to_string(),
            );
            // Everything that comes from input or packs is Text; only the
            // numbers and booleans formatted here are Values.
            let row = [
                Field::Text(&ins.id),
                Field::Text(ins.agent_id.as_deref().unwrap_or_default()),
                Field::Text(ins.agent_name.as_deref().unwrap_or_default()),
                Field::Text(ins.channel.as_str()),
                Field::Value(&score),
                Field::Text(ins.grade.as_deref().unwrap_or_default()),
                Field::Value(&passed),
                Field::Value(&veto),
                Field::Value(&findings),
                Field::Text(&rules),
                Field::Text(&details),
                Field::Text(&not_applicable),
                Field::Text(&manual),
                Field::Text(&pack),
            ];
            let mut w = CsvOut::new(&mut *buf, LineEnd::Lf);
            let _ = w.write_fields(&row);
            let _ = w.flush();
        }
        OutputFormat::Html => {
            if !ins.findings.is_empty() {
                let mut s = String::new();
                html_conversation(&mut s, conv, ins);
                buf.extend_from_slice(s.as_bytes());
            }
        }
    }
}

/// Writes what comes after the last record: for HTML the summary and the
/// input errors.
pub fn write_footer(
    out: &mut dyn Write,
    format: OutputFormat,
    summary: &Summary,
    errors: &[InputError],
) -> io::Result<()> {
    if format != OutputFormat::Html {
        return Ok(());
    }
    let mut s = String::new();
    if summary.conversations == summary.passed && summary.rules.values().all(|r| r.findings == 0) {
        s.push_str("<p class=\"empty\">没有发现问题 No findings.</p>\n");
    }
    s.push_str("</div>\n<div class=\"summary\">\n<h2>汇总 Summary</h2>\n");
    let _ = writeln!(
        s,
        "<p>{} 通会话，合格 {} 通（{:.1}%），平均分 {:.1}</p>",
        summary.conversations,
        summary.passed,
        if summary.conversations == 0 {
            0.0
        } else {
            100.0 * summary.passed as f64 / summary.conversations as f64
        },
        summary.average_score()
    );
    s.push_str("<h3>按坐席 By agent</h3>\n<table><thead><tr><th>坐席</th><th>姓名</th><th>会话</th><th>合格率</th><th>平均分</th><th>否决</th></tr></thead><tbody>\n");
    for (id, a) in &summary.agents {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{:.1}%</td><td class=\"n\">{:.1}</td><td class=\"n\">{}</td></tr>",
            escape(id),
            escape(a.name.as_deref().unwrap_or("")),
            a.conversations,
            100.0 * a.passed as f64 / a.conversations.max(1) as f64,
            a.score_sum / a.conversations.max(1) as f64,
            a.vetoes
        );
    }
    s.push_str("</tbody></table>\n<h3>按规则 By rule</h3>\n<table><thead><tr><th>规则</th><th>名称</th><th>维度</th><th>会话</th><th>次数</th><th>扣分</th></tr></thead><tbody>\n");
    for (id, r) in summary.top_rules() {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(id),
            escape(&r.name),
            escape(&r.dimension),
            r.conversations,
            r.findings,
            fmt_num(r.deduction)
        );
    }
    s.push_str("</tbody></table>\n");
    if !errors.is_empty() {
        let _ = writeln!(
            s,
            "<h3 id=\"errors\">无法读取的记录 Unreadable records ({})</h3>\n<ul class=\"errors\">",
            errors.len()
        );
        for e in errors {
            let _ = writeln!(s, "<li>{}</li>", escape(&e.to_string()));
        }
        s.push_str("</ul>\n");
    }
    s.push_str("</div>\n</main>\n</body>\n</html>\n");
    out.write_all(s.as_bytes())
}

fn html_conversation(s: &mut String, conv: &Conversation<'_>, ins: &Inspection) {
    let anchor = anchor_id(&ins.id);
    let _ = write!(
        s,
        "<section class=\"conv{}\" id=\"{}\">\n<h3><a href=\"#{}\">{}</a> · {} {} · {} · <span class=\"score\">{} 分 {}</span>{}</h3>\n<ol class=\"findings\">\n",
        if ins.passed { "" } else { " failed" },
        anchor,
        anchor,
        escape(&ins.id),
        escape(ins.agent_name.as_deref().unwrap_or("")),
        escape(ins.agent_id.as_deref().unwrap_or("")),
        ins.channel.as_str(),
        fmt_num(ins.score),
        escape(ins.grade.as_deref().unwrap_or("")),
        if ins.veto { " <span class=\"veto\">否决 veto</span>" } else { "" },
    );
    for (n, f) in ins.findings.iter().enumerate() {
        let target = match (f.turn, f.span) {
            (Some(_), Some(_)) => format!("{anchor}-f{n}"),
            (Some(t), None) => format!("{anchor}-t{t}"),
            _ => anchor.clone(),
        };
        let _ = writeln!(
            s,
            "<li><a href=\"#{}\">{}</a> <span class=\"dim\">{}</span> <span class=\"ded\">-{}</span></li>",
            target,
            escape(&f.message),
            escape(&f.dimension),
            fmt_num(f.deduction)
        );
    }
    s.push_str("</ol>\n<ol class=\"turns\">\n");
    for (t, turn) in conv.turns.iter().enumerate() {
        let role = match turn.role {
            Role::Agent => ("agent", "坐席"),
            Role::Customer => ("customer", "客户"),
            Role::System => ("system", "系统"),
        };
        let time = turn.start_ms.map(fmt_ms).unwrap_or_default();
        // Turns named by a finding without a text span (a silence before
        // it, an interruption) are marked as a whole.
        let flagged = ins
            .findings
            .iter()
            .any(|f| f.turn == Some(t) && f.span.is_none());
        let _ = write!(
            s,
            "<li class=\"{}{}\" id=\"{}-t{}\"><span class=\"who\">{} <small>#{} {}</small></span> <span class=\"text\">",
            role.0,
            if flagged { " flagged" } else { "" },
            anchor,
            t,
            role.1,
            t,
            time
        );
        // Highlight the spans of findings in this turn, non-overlapping.
        let mut marks: Vec<(usize, usize, usize)> = ins
            .findings
            .iter()
            .enumerate()
            .filter(|(_, f)| f.turn == Some(t))
            .filter_map(|(n, f)| f.span.map(|[a, b]| (a, b, n)))
            .collect();
        marks.sort();
        let chars: Vec<char> = turn.text.chars().collect();
        let mut pos = 0usize;
        for (a, b, n) in marks {
            let (a, b) = (a.min(chars.len()), b.min(chars.len()));
            if a < pos {
                continue;
            }
            s.push_str(&escape(&chars[pos..a].iter().collect::<String>()));
            let _ = write!(
                s,
                "<mark id=\"{}-f{}\" title=\"{}\">{}</mark>",
                anchor,
                n,
                escape(&ins.findings[n].message),
                escape(&chars[a..b].iter().collect::<String>())
            );
            pos = b;
        }
        s.push_str(&escape(
            &chars[pos.min(chars.len())..].iter().collect::<String>(),
        ));
        s.push_str("</span></li>\n");
    }
    s.push_str("</ol>\n</section>\n");
}

/// An HTML id derived from a conversation id: letters and digits kept,
/// everything else hex-escaped, so any id gives a valid, unique anchor.
pub fn anchor_id(id: &str) -> String {
    let mut out = String::from("c-");
    for c in id.chars() {
        if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
            out.push(c);
        } else {
            let _ = write!(out, ".{:x}", c as u32);
        }
    }
    out
}

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{}", v as i64)
    } else {
        format!("{v:.1}")
    }
}

fn fmt_ms(ms: u64) -> String {
    let s = ms / 1000;
    format!("{:02}:{:02}", s / 60, s % 60)
}

const HTML_STYLE: &str = "
body{font-family:system-ui,'PingFang SC','Microsoft YaHei','Noto Sans CJK SC',sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
main{display:flex;flex-direction:column;max-width:1100px;margin:0 auto;padding:1rem}
h1{order:-2}
.summary{order:-1;background:#fff;border-radius:8px;padding:.5rem 1rem;margin-bottom:1rem}
table{border-collapse:collapse;width:100%;margin-bottom:1rem}th,td{border-bottom:1px solid #e3e6eb;padding:.3rem .5rem;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.conv{background:#fff;border-radius:8px;padding:.5rem 1rem;margin:.8rem 0;border-left:4px solid #e0a800}
.conv.failed{border-left-color:#d93025}.veto{color:#fff;background:#d93025;border-radius:4px;padding:0 .3rem}
.findings li{margin:.2rem 0}.dim{color:#667;font-size:.85em}.ded{color:#d93025}
.turns{list-style:none;padding:0}.turns li{margin:.25rem 0;padding:.3rem .5rem;border-radius:6px}
.turns li.agent{background:#eef4ff}.turns li.customer{background:#f3f3f3}.turns li.system{background:#fafafa;color:#667}
.who{font-weight:600;margin-right:.4rem}.who small{font-weight:400;color:#889}
mark{background:#ffd8d6;border-bottom:2px solid #d93025}.turns li.flagged{box-shadow:inset 4px 0 0 #d93025}:target{outline:3px solid #f5b400}
.errors li{font-family:monospace}
@media print{body{background:#fff}.conv{break-inside:avoid}}
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_and_escapes() {
        assert_eq!(anchor_id("c-01"), "c-c-01");
        assert_eq!(anchor_id("会话 1"), "c-.4f1a.8bdd.201");
        assert_eq!(
            escape("<a href=\"x\">&"),
            "&lt;a href=&quot;x&quot;&gt;&amp;"
        );
    }
}
