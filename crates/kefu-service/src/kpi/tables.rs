//! KPI reports as tables — the same tables for the terminal, CSV, XLSX and
//! the API's CSV downloads: `agents` (one row per agent with stars),
//! `rules` (violations as a Pareto list) and `centre` (every KPI against
//! its target, for the centre and each team).

use std::collections::HashMap;

use kefu_engine::RulePack;
use kefu_formats::export::{Cell, Column, ColumnKind, Lang, Table};

use crate::kpi::{
    is_rate, kpi_label, Criterion, Gap, PeriodReport, Rating, Target, TooFew, KPI_KEYS,
};

/// The KPIs shown as columns of the agents table.
const AGENT_KPIS: &[&str] = &[
    "answered",
    "answer_rate",
    "timely_answer_rate",
    "avg_wait_s",
    "p90_wait_s",
    "avg_score",
    "pass_rate",
    "vetoes",
    "reviewed",
    "satisfaction_avg",
    "satisfied_share",
    "complaints",
    "complaint_reply_rate",
    "complaint_resolve_rate",
    "revisit_on_time_rate",
];

/// The label of a star-rating criterion.
pub fn criterion_label(c: Criterion, lang: Lang) -> &'static str {
    match c {
        Criterion::Quality => lang.pick("质检均分", "quality score"),
        Criterion::Satisfaction => lang.pick("满意率", "satisfied share"),
        Criterion::Response => lang.pick("应答及时率", "timely answer rate"),
        Criterion::Errors => lang.pick("差错率", "error rate"),
        Criterion::Resolution => lang.pick("48小时解决率", "resolved in 48 h"),
        Criterion::Veto => lang.pick("否决项", "vetoes"),
    }
}

fn fmt_value(c: Criterion, v: f64) -> String {
    match c {
        Criterion::Quality => format!("{v:.1}"),
        Criterion::Veto => format!("{v:.0}"),
        _ => format!("{:.1}%", v * 100.0),
    }
}

/// One gap in words: `差错率 15.0% → ≤ 10.0%`.
pub fn gap_text(g: &Gap, lang: Lang) -> String {
    let (op, t) = match g.needed {
        Target::AtLeast(t) => ("≥", t),
        Target::AtMost(t) => ("≤", t),
    };
    format!(
        "{} {} → {op} {}",
        criterion_label(g.criterion, lang),
        fmt_value(g.criterion, g.value),
        fmt_value(g.criterion, t)
    )
}

/// `不评星：12 个会话，少于 30` / `not rated: 12 conversations, fewer than 30`.
pub fn too_few_text(few: &TooFew, what: &str, lang: Lang) -> String {
    match lang {
        Lang::Zh => format!("{what}：{} 个会话，少于 {}", few.conversations, few.needed),
        Lang::En => format!(
            "{what}: {} conversations, fewer than {}",
            few.conversations, few.needed
        ),
    }
}

/// What holds a rating down (or why there is none), in words.
pub fn rating_text(r: &Rating, lang: Lang) -> String {
    if let Some(few) = &r.not_rated {
        return too_few_text(few, lang.pick("不评星", "not rated"), lang);
    }
    r.limited_by
        .iter()
        .map(|g| gap_text(g, lang))
        .collect::<Vec<_>>()
        .join("; ")
}

fn kpi_column(key: &str) -> Column {
    let kind = if is_rate(key) {
        ColumnKind::Percent
    } else if matches!(
        key,
        "avg_wait_s" | "avg_score" | "satisfaction_avg" | "complaint_satisfaction_avg"
    ) {
        ColumnKind::Number
    } else {
        ColumnKind::Integer
    };
    Column::new(key, kpi_label(key, false), kpi_label(key, true), kind)
}

fn kpi_cell(key: &str, value: Option<f64>) -> Cell {
    match value {
        None => Cell::Empty,
        Some(v) if is_rate(key) => Cell::Percent((v * 10_000.0).round() / 10_000.0),
        Some(v) if kpi_column(key).kind == ColumnKind::Integer => Cell::Int(v.round() as i64),
        Some(v) => Cell::Num((v * 100.0).round() / 100.0),
    }
}

fn rule_name<'a>(pack: Option<&'a RulePack>, rule: &'a str) -> &'a str {
    pack.and_then(|p| p.rules.iter().find(|r| r.id == rule))
        .map_or(rule, |r| r.name.as_str())
}

/// One row per agent: stars, what limits them, KPIs and most broken rules.
pub fn agents_table(report: &PeriodReport, pack: Option<&RulePack>) -> Table {
    let mut columns = vec![
        Column::new("agent_id", "坐席", "Agent", ColumnKind::Text),
        Column::new("name", "姓名", "Name", ColumnKind::Text),
        Column::new("team", "班组", "Team", ColumnKind::Text),
        Column::new("stars", "星级", "Stars", ColumnKind::Integer),
        Column::new(
            "limited_by",
            "提升方向",
            "To reach the next star",
            ColumnKind::Text,
        ),
    ];
    columns.extend(AGENT_KPIS.iter().map(|k| kpi_column(k)));
    columns.push(Column::new(
        "top_rules",
        "主要问题",
        "Most broken rules",
        ColumnKind::Text,
    ));
    let mut t = Table::new("坐席KPI", "Agents", columns);
    for a in &report.agents {
        let rating = a.rating.as_ref();
        let mut row = vec![
            Cell::text(a.id.as_str()),
            Cell::text(a.name.as_str()),
            Cell::text(a.team.clone().unwrap_or_default()),
            rating
                .and_then(|r| r.stars)
                .map_or(Cell::Empty, |s| Cell::Int(i64::from(s))),
            Cell::text(rating.map(|r| rating_text(r, Lang::Zh)).unwrap_or_default()),
        ];
        row.extend(AGENT_KPIS.iter().map(|k| kpi_cell(k, a.kpi(k))));
        row.push(Cell::text(
            a.rules
                .iter()
                .take(3)
                .map(|r| format!("{} {:.1}%", rule_name(pack, &r.rule), r.rate * 100.0))
                .collect::<Vec<_>>()
                .join("; "),
        ));
        t.rows.push(row);
    }
    t
}

/// The agents table with the limiting criteria written in `lang`.
pub fn agents_table_in(report: &PeriodReport, pack: Option<&RulePack>, lang: Lang) -> Table {
    let mut t = agents_table(report, pack);
    if lang == Lang::En {
        for (row, a) in t.rows.iter_mut().zip(&report.agents) {
            row[4] = Cell::text(
                a.rating
                    .as_ref()
                    .map(|r| rating_text(r, lang))
                    .unwrap_or_default(),
            );
        }
    }
    t
}

/// One row per rule, most broken first, with the cumulative share of all
/// violations (a Pareto list) and the agents who break it most.
pub fn rules_table(report: &PeriodReport, pack: Option<&RulePack>) -> Table {
    let columns = vec![
        Column::new("rule", "规则", "Rule", ColumnKind::Text),
        Column::new("name", "名称", "Name", ColumnKind::Text),
        Column::new("dimension", "维度", "Dimension", ColumnKind::Text),
        Column::new(
            "conversations",
            "违规会话",
            "Conversations",
            ColumnKind::Integer,
        ),
        Column::new("rate", "违规率", "Violation rate", ColumnKind::Percent),
        Column::new("findings", "违规次数", "Findings", ColumnKind::Integer),
        Column::new("deduction", "扣分", "Points deducted", ColumnKind::Number),
        Column::new(
            "cumulative",
            "累计占比",
            "Cumulative share",
            ColumnKind::Percent,
        ),
        Column::new(
            "top_agents",
            "主要坐席",
            "Agents breaking it most",
            ColumnKind::Text,
        ),
    ];
    let mut t = Table::new("规则违规", "Rules", columns);
    let total: i64 = report.centre.rules.iter().map(|r| r.conversations).sum();
    let mut by_rule: HashMap<&str, Vec<(&str, i64)>> = HashMap::new();
    for a in &report.agents {
        for r in &a.rules {
            by_rule
                .entry(r.rule.as_str())
                .or_default()
                .push((a.id.as_str(), r.conversations));
        }
    }
    let mut running = 0;
    for r in &report.centre.rules {
        running += r.conversations;
        let mut agents = by_rule.remove(r.rule.as_str()).unwrap_or_default();
        agents.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        t.rows.push(vec![
            Cell::text(r.rule.as_str()),
            Cell::text(rule_name(pack, &r.rule)),
            Cell::text(r.dimension.as_str()),
            Cell::Int(r.conversations),
            Cell::Percent((r.rate * 10_000.0).round() / 10_000.0),
            Cell::Int(r.findings),
            Cell::Num((r.deduction * 100.0).round() / 100.0),
            Cell::Percent(if total > 0 {
                ((running as f64 / total as f64) * 10_000.0).round() / 10_000.0
            } else {
                0.0
            }),
            Cell::text(
                agents
                    .iter()
                    .take(3)
                    .map(|(a, n)| format!("{a}×{n}"))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        ]);
    }
    t
}

/// One row per KPI: the centre's value, the target, whether it is met, and
/// each team's value.
pub fn centre_table(report: &PeriodReport) -> Table {
    let mut columns = vec![
        Column::new("kpi", "指标", "KPI", ColumnKind::Text),
        Column::new("centre", "全中心", "Centre", ColumnKind::Text),
        Column::new("target", "目标", "Target", ColumnKind::Text),
        Column::new("met", "达标", "Met", ColumnKind::Text),
    ];
    for team in &report.teams {
        columns.push(Column::new(
            &format!("team:{}", team.id),
            &team.name,
            &team.name,
            ColumnKind::Text,
        ));
    }
    let mut t = Table::new("中心KPI", "Centre", columns);
    let show = |key: &str, v: Option<f64>| kpi_cell(key, v).display(Lang::Zh);
    for (key, zh, _) in KPI_KEYS {
        let value = report.centre.kpis.iter().find(|k| k.key == *key);
        let target = value.and_then(|v| v.target).map(|t| match t {
            Target::AtLeast(x) => format!("≥ {}", show(key, Some(x))),
            Target::AtMost(x) => format!("≤ {}", show(key, Some(x))),
        });
        let mut row = vec![
            Cell::text(*zh),
            Cell::text(show(key, value.and_then(|v| v.value))),
            Cell::text(target.unwrap_or_default()),
            match value.and_then(|v| v.met) {
                Some(true) => Cell::text("✓"),
                Some(false) => Cell::text("✗"),
                None => Cell::Empty,
            },
        ];
        for team in &report.teams {
            row.push(Cell::text(show(key, team.kpi(key))));
        }
        t.rows.push(row);
    }
    t
}

/// The centre table with KPI names in `lang`.
pub fn centre_table_in(report: &PeriodReport, lang: Lang) -> Table {
    let mut t = centre_table(report);
    if lang == Lang::En {
        for (row, (key, _, _)) in t.rows.iter_mut().zip(KPI_KEYS) {
            row[0] = Cell::text(kpi_label(key, true));
        }
    }
    t
}

/// A table as rows of display strings, header first (for the terminal).
pub fn display_rows(t: &Table, lang: Lang) -> Vec<Vec<String>> {
    let mut rows = vec![t
        .columns
        .iter()
        .map(|c| c.header(lang).to_string())
        .collect()];
    rows.extend(
        t.rows
            .iter()
            .map(|r| r.iter().map(|c| c.display(lang)).collect::<Vec<_>>()),
    );
    rows
}
