//! Running totals over many inspections: per agent and per rule.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use kefu_engine::Inspection;

/// Totals for one agent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentTotals {
    /// Display name, when known.
    pub name: Option<String>,
    /// Conversations inspected.
    pub conversations: u64,
    /// Conversations that passed.
    pub passed: u64,
    /// Conversations with a veto.
    pub vetoes: u64,
    /// Sum of scores, for the average.
    pub score_sum: f64,
    /// Findings per rule id. Rule ids and names are the pack's shared
    /// strings: counting a finding clones a reference, not the text.
    pub rule_hits: BTreeMap<Arc<str>, u64>,
}

/// Totals for one rule.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleTotals {
    /// Rule name.
    pub name: Arc<str>,
    /// Dimension name.
    pub dimension: Arc<str>,
    /// Conversations with at least one finding of the rule.
    pub conversations: u64,
    /// Findings.
    pub findings: u64,
    /// Points deducted.
    pub deduction: f64,
    /// Conversations where the rule was not applicable.
    pub not_applicable: u64,
}

/// Totals over a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Conversations inspected.
    pub conversations: u64,
    /// Conversations that passed.
    pub passed: u64,
    /// Sum of scores.
    pub score_sum: f64,
    /// Per agent id (`-` when unknown).
    pub agents: BTreeMap<String, AgentTotals>,
    /// Per rule id.
    pub rules: BTreeMap<Arc<str>, RuleTotals>,
    /// Records that could not be inspected.
    pub errors: u64,
}

impl Summary {
    /// Adds one inspection.
    pub fn add(&mut self, ins: &Inspection) {
        self.conversations += 1;
        self.passed += u64::from(ins.passed);
        self.score_sum += ins.score;
        let agent = entry(&mut self.agents, ins.agent_id.as_deref().unwrap_or("-"));
        if agent.name.is_none() {
            agent.name = ins.agent_name.clone();
        }
        agent.conversations += 1;
        agent.passed += u64::from(ins.passed);
        agent.vetoes += u64::from(ins.veto);
        agent.score_sum += ins.score;
        // Findings come in rule order, so a rule's findings are one run:
        // two map lookups per run instead of per finding (the sums are
        // still added one finding at a time, in the same order).
        let mut seen: Vec<&str> = Vec::new();
        for run in ins.findings.chunk_by(|a, b| a.rule == b.rule) {
            let f = &run[0];
            *agent.rule_hits.entry(f.rule.clone()).or_default() += run.len() as u64;
            let rule = self.rules.entry(f.rule.clone()).or_default();
            if rule.name.is_empty() {
                rule.name = f.name.clone();
                rule.dimension = f.dimension.clone();
            }
            rule.findings += run.len() as u64;
            for f in run {
                rule.deduction += f.deduction;
            }
            if !seen.contains(&&*f.rule) {
                seen.push(&f.rule);
                rule.conversations += 1;
            }
        }
        for r in &ins.not_applicable {
            self.rules.entry(r.clone()).or_default().not_applicable += 1;
        }
    }

    /// Adds another summary (from another worker or batch).
    pub fn merge(&mut self, other: Summary) {
        self.conversations += other.conversations;
        self.passed += other.passed;
        self.score_sum += other.score_sum;
        self.errors += other.errors;
        for (k, a) in other.agents {
            let mine = self.agents.entry(k).or_default();
            if mine.name.is_none() {
                mine.name = a.name;
            }
            mine.conversations += a.conversations;
            mine.passed += a.passed;
            mine.vetoes += a.vetoes;
            mine.score_sum += a.score_sum;
            for (r, n) in a.rule_hits {
                *mine.rule_hits.entry(r).or_default() += n;
            }
        }
        for (k, r) in other.rules {
            let mine = self.rules.entry(k).or_default();
            if mine.name.is_empty() {
                mine.name = r.name;
                mine.dimension = r.dimension;
            }
            mine.conversations += r.conversations;
            mine.findings += r.findings;
            mine.deduction += r.deduction;
            mine.not_applicable += r.not_applicable;
        }
    }

    /// Average score, 0 when empty.
    pub fn average_score(&self) -> f64 {
        ratio(self.score_sum, self.conversations)
    }

    /// Rules sorted by conversations hit, most first.
    pub fn top_rules(&self) -> Vec<(&Arc<str>, &RuleTotals)> {
        let mut v: Vec<_> = self.rules.iter().filter(|(_, r)| r.findings > 0).collect();
        v.sort_by(|a, b| b.1.conversations.cmp(&a.1.conversations).then(a.0.cmp(b.0)));
        v
    }

    /// A plain-text report for a terminal: overall, per agent, per rule.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "质检汇总 Summary: {} 通会话 conversations, 合格率 pass rate {:.1}%, 平均分 average {:.1}{}",
            self.conversations,
            100.0 * ratio(self.passed as f64, self.conversations),
            self.average_score(),
            if self.errors > 0 {
                format!(", {} 条无法读取 unreadable records", self.errors)
            } else {
                String::new()
            }
        );
        let mut rows = vec![vec![
            "坐席 agent".to_string(),
            "姓名 name".to_string(),
            "会话 convs".to_string(),
            "合格率 pass%".to_string(),
            "平均分 avg".to_string(),
            "否决 veto".to_string(),
            "主要问题 top violations".to_string(),
        ]];
        for (id, a) in &self.agents {
            let mut hits: Vec<_> = a.rule_hits.iter().collect();
            hits.sort_by(|x, y| y.1.cmp(x.1).then(x.0.cmp(y.0)));
            let top = hits
                .iter()
                .take(3)
                .map(|(r, n)| format!("{r}×{n}"))
                .collect::<Vec<_>>()
                .join(" ");
            rows.push(vec![
                id.clone(),
                a.name.clone().unwrap_or_default(),
                a.conversations.to_string(),
                format!("{:.1}", 100.0 * ratio(a.passed as f64, a.conversations)),
                format!("{:.1}", ratio(a.score_sum, a.conversations)),
                a.vetoes.to_string(),
                top,
            ]);
        }
        out.push('\n');
        out.push_str(&render_table(&rows));
        let mut rows = vec![vec![
            "规则 rule".to_string(),
            "名称 name".to_string(),
            "维度 dimension".to_string(),
            "会话 convs".to_string(),
            "违规率 rate%".to_string(),
            "次数 hits".to_string(),
            "扣分 points".to_string(),
            "不适用 n/a".to_string(),
        ]];
        for (id, r) in self.top_rules() {
            rows.push(vec![
                id.to_string(),
                r.name.to_string(),
                r.dimension.to_string(),
                r.conversations.to_string(),
                format!(
                    "{:.1}",
                    100.0 * ratio(r.conversations as f64, self.conversations)
                ),
                r.findings.to_string(),
                format!("{:.0}", r.deduction),
                r.not_applicable.to_string(),
            ]);
        }
        out.push('\n');
        out.push_str(&render_table(&rows));
        out
    }
}

/// The value under `key`, inserted as default if absent; allocates the key
/// only on insertion (this runs once per conversation and finding).
fn entry<'m, V: Default>(map: &'m mut BTreeMap<String, V>, key: &str) -> &'m mut V {
    if !map.contains_key(key) {
        map.insert(key.to_string(), V::default());
    }
    map.get_mut(key).expect("inserted above")
}

fn ratio(num: f64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num / den as f64
    }
}

/// Display width of a string in a terminal: CJK and full-width count double.
pub fn display_width(s: &str) -> usize {
    s.chars()
        .map(|c| {
            let cp = c as u32;
            let wide = (0x1100..=0x115F).contains(&cp)
                || (0x2E80..=0xA4CF).contains(&cp)
                || (0xAC00..=0xD7A3).contains(&cp)
                || (0xF900..=0xFAFF).contains(&cp)
                || (0xFE30..=0xFE4F).contains(&cp)
                || (0xFF00..=0xFF60).contains(&cp)
                || (0xFFE0..=0xFFE6).contains(&cp)
                || (0x1F300..=0x1F64F).contains(&cp)
                || (0x20000..=0x3FFFD).contains(&cp);
            if wide {
                2
            } else {
                1
            }
        })
        .sum()
}

/// Renders rows as an aligned text table; the first row is the header.
pub fn render_table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(display_width(cell));
        }
    }
    let mut out = String::new();
    for (n, row) in rows.iter().enumerate() {
        for (i, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < row.len() {
                out.push_str(&" ".repeat(widths[i] - display_width(cell) + 2));
            }
        }
        out.push('\n');
        if n == 0 {
            let total: usize = widths.iter().sum::<usize>() + 2 * cols.saturating_sub(1);
            out.push_str(&"-".repeat(total));
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(rule: &str, deduction: f64) -> kefu_engine::Finding {
        kefu_engine::Finding {
            rule: rule.into(),
            name: format!("{rule} name").into(),
            dimension: "dim".into(),
            kind: "forbidden",
            turn: Some(1),
            span: None,
            text: None,
            deduction,
            veto: false,
            message: String::new(),
            value: None,
        }
    }

    fn inspection(agent: &str, findings: Vec<kefu_engine::Finding>) -> Inspection {
        Inspection {
            id: "c".into(),
            agent_id: Some(agent.into()),
            agent_name: None,
            channel: kefu_engine::Channel::Chat,
            started_at: None,
            score: 80.0,
            grade: None,
            passed: true,
            veto: false,
            findings,
            not_applicable: vec!["na".into()],
            manual: Vec::new(),
            dimensions: Vec::new(),
            pack: "p@1".into(),
        }
    }

    #[test]
    fn findings_count_per_rule_and_conversation() {
        let mut s = Summary::default();
        // A run of one rule, another rule, then the first again (out of
        // rule order): the conversation still counts once per rule.
        s.add(&inspection(
            "a1",
            vec![
                finding("x", 5.0),
                finding("x", 2.5),
                finding("y", 10.0),
                finding("x", 0.0),
            ],
        ));
        s.add(&inspection("a1", vec![finding("y", 1.0)]));
        let x = &s.rules["x"];
        assert_eq!((x.findings, x.conversations, x.deduction), (3, 1, 7.5));
        assert_eq!(&*x.name, "x name");
        let y = &s.rules["y"];
        assert_eq!((y.findings, y.conversations, y.deduction), (2, 2, 11.0));
        assert_eq!(s.rules["na"].not_applicable, 2);
        let a1 = &s.agents["a1"];
        assert_eq!(a1.rule_hits["x"], 3);
        assert_eq!(a1.rule_hits["y"], 2);
        assert_eq!((a1.conversations, s.conversations), (2, 2));
    }

    #[test]
    fn widths_count_cjk_double() {
        assert_eq!(display_width("abc"), 3);
        assert_eq!(display_width("坐席"), 4);
        let t = render_table(&[
            vec!["名".into(), "x".into()],
            vec!["abc".into(), "y".into()],
        ]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "名   x");
        assert_eq!(lines[2], "abc  y");
    }
}
