//! The KPIs measured from the rollups and complaints of a period, per
//! agent, team and centre, and the period report built from them.

use std::collections::{BTreeMap, HashMap};

use kefu_store::quality::Rollups;
use serde::Serialize;

use super::counts::{against, count, mean, ratio, Measured};
use super::{rate_agent, ComplaintFacts, KpiCounts, Person, QualitySettings, Rating, Target};
use crate::period::Period;

/// Every KPI: key, Chinese and English label.
pub const KPI_KEYS: &[(&str, &str, &str)] = &[
    ("offered", "呼入量", "Offered"),
    ("answered", "接待量", "Handled"),
    ("answer_rate", "接通率", "Answer rate"),
    ("timely_answer_rate", "应答及时率", "Timely answer rate"),
    ("avg_wait_s", "平均等待(秒)", "Avg wait (s)"),
    ("p90_wait_s", "P90等待(秒)", "P90 wait (s)"),
    ("avg_score", "平均质检分", "Avg score"),
    ("pass_rate", "合格率", "Pass rate"),
    ("error_rate", "差错率", "Error rate"),
    ("vetoes", "否决项", "Vetoes"),
    ("reviewed", "已复核", "Reviewed"),
    ("satisfaction_avg", "满意度均分", "Avg satisfaction"),
    ("satisfied_share", "满意率", "Satisfied share"),
    ("complaints", "投诉量", "Complaints"),
    ("complaint_reply_rate", "12小时答复率", "Replied in 12 h"),
    ("complaint_resolve_rate", "48小时解决率", "Resolved in 48 h"),
    (
        "complaint_satisfaction_avg",
        "投诉满意度均分",
        "Complaint satisfaction",
    ),
    (
        "complaint_satisfied_share",
        "投诉满意率",
        "Complaint satisfied share",
    ),
    ("revisit_on_time_rate", "回访及时率", "Revisits on time"),
];

/// Whether a KPI is a 0–1 rate (shown as a percentage).
pub fn is_rate(key: &str) -> bool {
    key.ends_with("_rate") || key.ends_with("_share")
}

/// A KPI's label in `lang` (`en` or Chinese).
pub fn kpi_label(key: &str, english: bool) -> &str {
    KPI_KEYS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, zh, en)| if english { *en } else { *zh })
        .unwrap_or(key)
}

/// One KPI value against its target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KpiValue {
    /// Key (see [`KPI_KEYS`]).
    pub key: &'static str,
    /// The value; `None` without data (no waits recorded, no complaints).
    pub value: Option<f64>,
    /// What it is computed from (numerator, denominator), for rates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub of: Option<(f64, f64)>,
    /// The target, if any.
    pub target: Option<Target>,
    /// Whether the target is met (`None`: no target or no data).
    pub met: Option<bool>,
}

/// Complaint facts of a scope.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ComplaintAcc {
    pub(crate) complaints: i64,
    pub(crate) reply_met: i64,
    pub(crate) reply_decided: i64,
    pub(crate) resolve_met: i64,
    pub(crate) resolve_decided: i64,
    pub(crate) surveys: i64,
    pub(crate) survey_sum: i64,
    pub(crate) survey_satisfied: i64,
    pub(crate) revisits_due: i64,
    pub(crate) revisits_on_time: i64,
}

/// Sums of one scope (an agent, a team, the centre) over a period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Acc {
    offered: i64,
    answered: i64,
    score_sum: f64,
    passed: i64,
    vetoes: i64,
    reviewed: i64,
    wait_count: i64,
    wait_sum: i64,
    wait_hist: BTreeMap<i64, i64>,
    sat_count: i64,
    sat_sum: i64,
    sat_satisfied: i64,
    complaints: ComplaintAcc,
    /// rule → (dimension, conversations, findings, deduction)
    rules: BTreeMap<String, (String, i64, i64, f64)>,
    /// dimension → conversations with a finding in it
    dimensions: BTreeMap<String, i64>,
}

impl Acc {
    fn add_day(&mut self, d: &kefu_store::quality::KpiDay) {
        self.offered += d.offered;
        self.answered += d.answered;
        self.score_sum += d.score_sum;
        self.passed += d.passed;
        self.vetoes += d.vetoes;
        self.reviewed += d.reviewed;
        self.wait_count += d.wait_count;
        self.wait_sum += d.wait_sum;
        for (s, n) in &d.wait_hist {
            *self.wait_hist.entry(*s).or_insert(0) += n;
        }
        self.sat_count += d.sat_count;
        self.sat_sum += d.sat_sum;
        self.sat_satisfied += d.sat_satisfied;
    }

    fn add_rule(&mut self, r: &kefu_store::quality::RuleDay) {
        let e = self
            .rules
            .entry(r.rule.clone())
            .or_insert_with(|| (r.dimension.clone(), 0, 0, 0.0));
        e.1 += r.conversations;
        e.2 += r.findings;
        e.3 += r.deduction;
    }

    fn add_complaints(&mut self, c: &ComplaintAcc) {
        let a = &mut self.complaints;
        a.complaints += c.complaints;
        a.reply_met += c.reply_met;
        a.reply_decided += c.reply_decided;
        a.resolve_met += c.resolve_met;
        a.resolve_decided += c.resolve_decided;
        a.surveys += c.surveys;
        a.survey_sum += c.survey_sum;
        a.survey_satisfied += c.survey_satisfied;
        a.revisits_due += c.revisits_due;
        a.revisits_on_time += c.revisits_on_time;
    }

    fn merge(&mut self, other: &Acc) {
        self.offered += other.offered;
        self.answered += other.answered;
        self.score_sum += other.score_sum;
        self.passed += other.passed;
        self.vetoes += other.vetoes;
        self.reviewed += other.reviewed;
        self.wait_count += other.wait_count;
        self.wait_sum += other.wait_sum;
        for (s, n) in &other.wait_hist {
            *self.wait_hist.entry(*s).or_insert(0) += n;
        }
        self.sat_count += other.sat_count;
        self.sat_sum += other.sat_sum;
        self.sat_satisfied += other.sat_satisfied;
        self.add_complaints(&other.complaints);
        for (rule, (dim, c, f, d)) in &other.rules {
            let e = self
                .rules
                .entry(rule.clone())
                .or_insert_with(|| (dim.clone(), 0, 0, 0.0));
            e.1 += c;
            e.2 += f;
            e.3 += d;
        }
        for (dim, n) in &other.dimensions {
            *self.dimensions.entry(dim.clone()).or_insert(0) += n;
        }
    }

    /// Answered conversations.
    pub fn answered(&self) -> i64 {
        self.answered
    }

    /// Whether the scope had any veto.
    pub fn vetoes(&self) -> i64 {
        self.vetoes
    }

    /// The KPIs of the scope, each against its target; the conversation
    /// KPIs as [`KpiCounts`] defines them.
    pub fn kpis(&self, settings: &QualitySettings) -> Vec<KpiValue> {
        let counts = KpiCounts {
            offered: self.offered,
            answered: self.answered,
            score_sum: self.score_sum,
            passed: self.passed,
            wait_count: self.wait_count,
            timely: self
                .wait_hist
                .range(..=settings.answer_within_s)
                .map(|(_, n)| n)
                .sum(),
            sat_count: self.sat_count,
            sat_satisfied: self.sat_satisfied,
        };
        let of_counts = |key: &'static str| (key, counts.measure(key));
        let c = &self.complaints;
        let values: Vec<(&'static str, Measured)> = vec![
            of_counts("offered"),
            of_counts("answered"),
            of_counts("answer_rate"),
            of_counts("timely_answer_rate"),
            (
                "avg_wait_s",
                mean(self.wait_sum as f64, self.wait_count).map(|(ms, _)| (ms / 1000.0, None)),
            ),
            (
                "p90_wait_s",
                percentile(&self.wait_hist, 0.9).and_then(count),
            ),
            of_counts("avg_score"),
            of_counts("pass_rate"),
            of_counts("error_rate"),
            ("vetoes", count(self.vetoes)),
            ("reviewed", count(self.reviewed)),
            (
                "satisfaction_avg",
                mean(self.sat_sum as f64, self.sat_count),
            ),
            of_counts("satisfied_share"),
            ("complaints", count(c.complaints)),
            ("complaint_reply_rate", ratio(c.reply_met, c.reply_decided)),
            (
                "complaint_resolve_rate",
                ratio(c.resolve_met, c.resolve_decided),
            ),
            (
                "complaint_satisfaction_avg",
                mean(c.survey_sum as f64, c.surveys),
            ),
            (
                "complaint_satisfied_share",
                ratio(c.survey_satisfied, c.surveys),
            ),
            (
                "revisit_on_time_rate",
                ratio(c.revisits_on_time, c.revisits_due),
            ),
        ];
        against(values, settings)
    }

    /// Per-rule violation rates: conversations with the rule broken over
    /// answered conversations, most broken first.
    pub fn rule_rates(&self) -> Vec<RuleRate> {
        let mut v: Vec<RuleRate> = self
            .rules
            .iter()
            .map(|(rule, (dimension, convs, findings, deduction))| RuleRate {
                rule: rule.clone(),
                dimension: dimension.clone(),
                conversations: *convs,
                findings: *findings,
                deduction: *deduction,
                rate: if self.answered > 0 {
                    *convs as f64 / self.answered as f64
                } else {
                    0.0
                },
            })
            .collect();
        v.sort_by(|a, b| {
            b.conversations
                .cmp(&a.conversations)
                .then_with(|| a.rule.cmp(&b.rule))
        });
        v
    }
}

/// The smallest whole second at or below which `q` of the waits fall.
pub(crate) fn percentile(hist: &BTreeMap<i64, i64>, q: f64) -> Option<i64> {
    let total: i64 = hist.values().sum();
    if total == 0 {
        return None;
    }
    let need = (q * total as f64).ceil().max(1.0) as i64;
    let mut seen = 0;
    for (s, n) in hist {
        seen += n;
        if seen >= need {
            return Some(*s);
        }
    }
    hist.keys().next_back().copied()
}

/// How often one rule was broken.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleRate {
    /// Rule id.
    pub rule: String,
    /// Dimension name.
    pub dimension: String,
    /// Answered conversations with the rule broken.
    pub conversations: i64,
    /// Findings.
    pub findings: i64,
    /// Points deducted.
    pub deduction: f64,
    /// `conversations` / answered conversations.
    pub rate: f64,
}

/// One person or group in a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScopeReport {
    /// Agent id, team name, or `centre`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Team, for agents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// KPIs against targets.
    pub kpis: Vec<KpiValue>,
    /// Most broken rules first.
    pub rules: Vec<RuleRate>,
    /// Dimension name → answered conversations with a finding in it.
    pub dimensions: BTreeMap<String, i64>,
    /// Star rating (agents only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating: Option<Rating>,
}

impl ScopeReport {
    /// A KPI's value.
    pub fn kpi(&self, key: &str) -> Option<f64> {
        self.kpis
            .iter()
            .find(|k| k.key == key)
            .and_then(|k| k.value)
    }
}

/// KPIs of every agent, every team and the centre for a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodReport {
    /// The period.
    pub period: Period,
    /// The centre as a whole.
    pub centre: ScopeReport,
    /// Teams (agents' `team` in the user list), by name.
    pub teams: Vec<ScopeReport>,
    /// Agents, by id.
    pub agents: Vec<ScopeReport>,
}

/// Computes KPIs and ratings from rollups and complaint facts (pure).
pub fn build_report(
    period: &Period,
    rollups: &Rollups,
    complaints: &HashMap<String, ComplaintFacts>,
    people: &HashMap<String, Person>,
    settings: &QualitySettings,
) -> PeriodReport {
    let mut agents: BTreeMap<String, Acc> = BTreeMap::new();
    for d in &rollups.kpi {
        agents.entry(d.agent_id.clone()).or_default().add_day(d);
    }
    for r in &rollups.rules {
        agents.entry(r.agent_id.clone()).or_default().add_rule(r);
    }
    for d in &rollups.dimensions {
        *agents
            .entry(d.agent_id.clone())
            .or_default()
            .dimensions
            .entry(d.dimension.clone())
            .or_insert(0) += d.conversations;
    }
    let mut centre = Acc::default();
    for (agent, facts) in complaints {
        let acc = facts.acc();
        if agent.is_empty() {
            centre.add_complaints(&acc);
        } else {
            agents
                .entry(agent.clone())
                .or_default()
                .add_complaints(&acc);
        }
    }
    let mut teams: BTreeMap<String, Acc> = BTreeMap::new();
    let mut agent_reports = Vec::new();
    for (id, acc) in &agents {
        centre.merge(acc);
        if id.is_empty() {
            continue;
        }
        let person = people.get(id);
        if let Some(team) = person.and_then(|p| p.team.clone()) {
            teams.entry(team).or_default().merge(acc);
        }
        let kpis = acc.kpis(settings);
        let rating = rate_agent(&kpis, acc.answered, acc.vetoes, &settings.stars);
        agent_reports.push(ScopeReport {
            id: id.clone(),
            name: person.map_or_else(|| id.clone(), |p| p.name.clone()),
            team: person.and_then(|p| p.team.clone()),
            kpis,
            rules: acc.rule_rates(),
            dimensions: acc.dimensions.clone(),
            rating: Some(rating),
        });
    }
    PeriodReport {
        period: period.clone(),
        centre: ScopeReport {
            id: "centre".into(),
            name: "centre".into(),
            team: None,
            kpis: centre.kpis(settings),
            rules: centre.rule_rates(),
            dimensions: centre.dimensions.clone(),
            rating: None,
        },
        teams: teams
            .iter()
            .map(|(t, acc)| ScopeReport {
                id: t.clone(),
                name: t.clone(),
                team: None,
                kpis: acc.kpis(settings),
                rules: acc.rule_rates(),
                dimensions: acc.dimensions.clone(),
                rating: None,
            })
            .collect(),
        agents: agent_reports,
    }
}
