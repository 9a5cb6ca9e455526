//! Agent, team and centre KPIs against targets, one-to-five-star ratings
//! and the weighted periodic assessment (考核).
//!
//! Everything here is computed from the daily rollups of the store (see
//! `kefu_store::quality`) plus the complaints of the period, so a month of a
//! million conversations costs a few thousand rows to read. The arithmetic
//! lives in pure functions ([`Acc`], [`rate_agent`], [`assess`]) that the
//! tests check against hand-computed figures.
//!
//! Targets default to the standard: 接通率 ≥ 90 %, 应答及时率 ≥ 90 % with
//! an answer within 15 s, complaints answered within 12 h and resolved within
//! 48 h, and every justified complaint ending satisfied.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use kefu_store::quality::{Rollups, SATISFIED_MIN};
use kefu_store::{AssessmentRow, AuditEntry, Store, StoreError};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::period::Period;

/// Settings key of [`QualitySettings`].
pub const SETTINGS_KEY: &str = "quality";

/// A KPI's target: at least or at most a value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The value must be at least this.
    AtLeast(f64),
    /// The value must be at most this.
    AtMost(f64),
}

impl Target {
    /// Whether `value` meets the target.
    pub fn met_by(self, value: f64) -> bool {
        match self {
            Target::AtLeast(t) => value >= t - 1e-9,
            Target::AtMost(t) => value <= t + 1e-9,
        }
    }
}

/// Thresholds of one star level; a criterion left out does not count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StarLevel {
    /// 2 to 5.
    pub stars: u8,
    /// Average quality score at least.
    #[serde(default)]
    pub quality_min: Option<f64>,
    /// Satisfied share (0–1) at least.
    #[serde(default)]
    pub satisfaction_min: Option<f64>,
    /// Timely answer rate (0–1) at least.
    #[serde(default)]
    pub response_min: Option<f64>,
    /// Error rate (share of conversations failing inspection, 0–1) at most.
    #[serde(default)]
    pub error_max: Option<f64>,
    /// Complaints resolved within the SLA (0–1) at least.
    #[serde(default)]
    pub resolution_min: Option<f64>,
}

/// How stars are given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StarScheme {
    /// Fewer answered conversations than this in the period: not rated.
    pub min_conversations: i64,
    /// A veto in the period caps the rating at this many stars.
    pub max_stars_with_veto: u8,
    /// Levels 2 to 5 (one star needs nothing).
    pub levels: Vec<StarLevel>,
}

impl Default for StarScheme {
    fn default() -> Self {
        let level = |stars, q, s, r, e, res| StarLevel {
            stars,
            quality_min: Some(q),
            satisfaction_min: Some(s),
            response_min: Some(r),
            error_max: Some(e),
            resolution_min: Some(res),
        };
        StarScheme {
            min_conversations: 30,
            max_stars_with_veto: 3,
            levels: vec![
                level(2, 75.0, 0.60, 0.70, 0.20, 0.60),
                level(3, 85.0, 0.80, 0.85, 0.10, 0.80),
                level(4, 90.0, 0.90, 0.90, 0.05, 0.90),
                level(5, 95.0, 0.95, 0.95, 0.02, 0.95),
            ],
        }
    }
}

/// Where an assessment indicator's 0–100 score comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum IndicatorSource {
    /// 100 × the share of answered conversations without a finding in the
    /// dimension, averaged over the dimensions listed (by name).
    Dimensions {
        /// Dimension names as in the pack (用语规范, 服务流程 …).
        dimensions: Vec<String>,
    },
    /// 100 × the first KPI listed that has data (rates are 0–1).
    Kpi {
        /// KPI keys, in order of preference.
        keys: Vec<String>,
    },
}

/// One weighted indicator of the assessment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Indicator {
    /// Stable id.
    pub id: String,
    /// Chinese name.
    pub name: String,
    /// English name.
    pub name_en: String,
    /// Weight; weights are normalised over the indicators with data.
    pub weight: f64,
    /// How it is scored.
    pub source: IndicatorSource,
}

/// The assessment scheme (考核方案).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssessmentScheme {
    /// The indicators.
    pub indicators: Vec<Indicator>,
    /// Total at least this, and in the top share: recommended for reward.
    pub reward_min: f64,
    /// Share of assessed agents (0–1) that may be recommended for reward.
    pub reward_top_share: f64,
    /// Total below this: recommended for coaching.
    pub coaching_below: f64,
    /// Fewer answered conversations than this: not assessed.
    pub min_conversations: i64,
}

impl Default for AssessmentScheme {
    fn default() -> Self {
        let dims = |id: &str, name: &str, en: &str, weight: f64, d: &[&str]| Indicator {
            id: id.into(),
            name: name.into(),
            name_en: en.into(),
            weight,
            source: IndicatorSource::Dimensions {
                dimensions: d.iter().map(|s| s.to_string()).collect(),
            },
        };
        AssessmentScheme {
            indicators: vec![
                dims("language", "语言规范", "Language", 30.0, &["用语规范"]),
                dims(
                    "communication",
                    "沟通技巧",
                    "Communication",
                    25.0,
                    &["沟通技巧"],
                ),
                dims(
                    "process",
                    "服务流程执行",
                    "Service process",
                    25.0,
                    &["服务流程", "时效"],
                ),
                Indicator {
                    id: "satisfaction".into(),
                    name: "客户满意度".into(),
                    name_en: "Customer satisfaction".into(),
                    weight: 20.0,
                    source: IndicatorSource::Kpi {
                        keys: vec!["satisfied_share".into(), "complaint_satisfied_share".into()],
                    },
                },
            ],
            reward_min: 90.0,
            reward_top_share: 0.1,
            coaching_below: 80.0,
            min_conversations: 30,
        }
    }
}

/// Review sampling defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplingSettings {
    /// Share (0–1) of the remaining conversations per agent and week.
    pub rate: f64,
    /// Seed of the random choice; the same seed picks the same sample.
    pub seed: String,
}

impl Default for SamplingSettings {
    fn default() -> Self {
        SamplingSettings {
            rate: 0.05,
            seed: "kefu".into(),
        }
    }
}

/// Targets, star thresholds, the assessment scheme and sampling: what a
/// supervisor configures (settings key `quality`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QualitySettings {
    /// An answer within this many seconds is timely (应答时限).
    pub answer_within_s: i64,
    /// UTC offset of the centre, for complaint times (kept in UTC).
    pub utc_offset_s: i64,
    /// Targets by KPI key.
    pub targets: BTreeMap<String, Target>,
    /// Star ratings.
    pub stars: StarScheme,
    /// Assessment.
    pub assessment: AssessmentScheme,
    /// Review sampling.
    pub sampling: SamplingSettings,
}

impl Default for QualitySettings {
    fn default() -> Self {
        use Target::*;
        let targets = [
            ("answer_rate", AtLeast(0.90)),
            ("timely_answer_rate", AtLeast(0.90)),
            ("p90_wait_s", AtMost(15.0)),
            ("avg_score", AtLeast(85.0)),
            ("pass_rate", AtLeast(0.90)),
            ("vetoes", AtMost(0.0)),
            ("satisfaction_avg", AtLeast(8.0)),
            ("satisfied_share", AtLeast(0.90)),
            ("complaint_reply_rate", AtLeast(1.0)),
            ("complaint_resolve_rate", AtLeast(1.0)),
            ("complaint_satisfied_share", AtLeast(1.0)),
            ("revisit_on_time_rate", AtLeast(1.0)),
        ]
        .into_iter()
        .map(|(k, t)| (k.to_string(), t))
        .collect();
        QualitySettings {
            answer_within_s: 15,
            utc_offset_s: 8 * 3600,
            targets,
            stars: StarScheme::default(),
            assessment: AssessmentScheme::default(),
            sampling: SamplingSettings::default(),
        }
    }
}

impl QualitySettings {
    /// Checks the settings make sense; every problem is listed.
    pub fn validate(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        if !(1..=3600).contains(&self.answer_within_s) {
            problems.push("answer_within_s must be 1–3600".to_string());
        }
        for k in self.targets.keys() {
            if !KPI_KEYS.iter().any(|(key, _, _)| key == k) {
                problems.push(format!("unknown KPI `{k}` in targets"));
            }
        }
        let mut seen = BTreeSet::new();
        for l in &self.stars.levels {
            if !(2..=5).contains(&l.stars) || !seen.insert(l.stars) {
                problems.push(format!(
                    "star level {} must be 2–5 and appear once",
                    l.stars
                ));
            }
        }
        if self.stars.min_conversations < 1 || self.assessment.min_conversations < 1 {
            problems.push("min_conversations must be at least 1".into());
        }
        let a = &self.assessment;
        if a.indicators.is_empty()
            || a.indicators
                .iter()
                .any(|i| i.weight.is_nan() || i.weight <= 0.0)
        {
            problems.push("assessment needs indicators with positive weights".into());
        }
        for i in &a.indicators {
            if let IndicatorSource::Kpi { keys } = &i.source {
                for k in keys {
                    if !KPI_KEYS.iter().any(|(key, _, _)| key == k) {
                        problems.push(format!("indicator `{}`: unknown KPI `{k}`", i.id));
                    }
                }
            }
        }
        if !(0.0..=1.0).contains(&a.reward_top_share) {
            problems.push("reward_top_share must be 0–1".into());
        }
        if !(0.0..=1.0).contains(&self.sampling.rate) {
            problems.push("sampling rate must be 0–1".into());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

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
struct ComplaintAcc {
    complaints: i64,
    reply_met: i64,
    reply_decided: i64,
    resolve_met: i64,
    resolve_decided: i64,
    surveys: i64,
    survey_sum: i64,
    survey_satisfied: i64,
    revisits_due: i64,
    revisits_on_time: i64,
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

    /// The KPIs of the scope, each against its target.
    pub fn kpis(&self, settings: &QualitySettings) -> Vec<KpiValue> {
        let ratio = |n: i64, d: i64| (d > 0).then(|| (n as f64 / d as f64, (n as f64, d as f64)));
        let count = |n: i64| Some((n as f64, None));
        let timely: i64 = self
            .wait_hist
            .range(..=settings.answer_within_s)
            .map(|(_, n)| n)
            .sum();
        let p90 = percentile(&self.wait_hist, 0.9);
        let c = &self.complaints;
        let with_of = |v: Option<(f64, (f64, f64))>| v.map(|(v, of)| (v, Some(of)));
        let values: Vec<(&'static str, Measured)> = vec![
            ("offered", count(self.offered)),
            ("answered", count(self.answered)),
            ("answer_rate", with_of(ratio(self.answered, self.offered))),
            (
                "timely_answer_rate",
                with_of(ratio(timely, self.wait_count)),
            ),
            (
                "avg_wait_s",
                (self.wait_count > 0)
                    .then(|| (self.wait_sum as f64 / self.wait_count as f64 / 1000.0, None)),
            ),
            ("p90_wait_s", p90.map(|s| (s as f64, None))),
            (
                "avg_score",
                (self.answered > 0).then(|| (self.score_sum / self.answered as f64, None)),
            ),
            ("pass_rate", with_of(ratio(self.passed, self.answered))),
            (
                "error_rate",
                with_of(ratio(self.answered - self.passed, self.answered)),
            ),
            ("vetoes", count(self.vetoes)),
            ("reviewed", count(self.reviewed)),
            (
                "satisfaction_avg",
                (self.sat_count > 0).then(|| (self.sat_sum as f64 / self.sat_count as f64, None)),
            ),
            (
                "satisfied_share",
                with_of(ratio(self.sat_satisfied, self.sat_count)),
            ),
            ("complaints", count(c.complaints)),
            (
                "complaint_reply_rate",
                with_of(ratio(c.reply_met, c.reply_decided)),
            ),
            (
                "complaint_resolve_rate",
                with_of(ratio(c.resolve_met, c.resolve_decided)),
            ),
            (
                "complaint_satisfaction_avg",
                (c.surveys > 0).then(|| (c.survey_sum as f64 / c.surveys as f64, None)),
            ),
            (
                "complaint_satisfied_share",
                with_of(ratio(c.survey_satisfied, c.surveys)),
            ),
            (
                "revisit_on_time_rate",
                with_of(ratio(c.revisits_on_time, c.revisits_due)),
            ),
        ];
        values
            .into_iter()
            .map(|(key, v)| {
                let target = settings.targets.get(key).copied();
                let value = v.map(|(v, _)| v);
                KpiValue {
                    key,
                    value,
                    of: v.and_then(|(_, of)| of),
                    target,
                    met: match (target, value) {
                        (Some(t), Some(v)) => Some(t.met_by(v)),
                        _ => None,
                    },
                }
            })
            .collect()
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

/// A value and, for rates, its numerator and denominator.
type Measured = Option<(f64, Option<(f64, f64)>)>;

/// The smallest whole second at or below which `q` of the waits fall.
fn percentile(hist: &BTreeMap<i64, i64>, q: f64) -> Option<i64> {
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

/// A criterion of the star rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    /// Average quality score.
    Quality,
    /// Satisfied share.
    Satisfaction,
    /// Timely answer rate.
    Response,
    /// Error rate.
    Errors,
    /// Complaints resolved in time.
    Resolution,
    /// A veto in the period.
    Veto,
}

/// A criterion that kept an agent from the next star.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gap {
    /// Which criterion.
    pub criterion: Criterion,
    /// The agent's value.
    pub value: f64,
    /// What the next star needs.
    pub needed: Target,
}

/// Too few conversations to rate or assess an agent fairly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TooFew {
    /// Answered conversations in the period.
    pub conversations: i64,
    /// How many are needed.
    pub needed: i64,
}

/// An agent's star rating for a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rating {
    /// 1–5, or `None`: not rated.
    pub stars: Option<u8>,
    /// Why not rated: too few conversations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_rated: Option<TooFew>,
    /// What the next star needs and the agent lacks (empty at five stars).
    pub limited_by: Vec<Gap>,
    /// Criteria without data in the period (not held against the agent).
    pub no_data: Vec<Criterion>,
}

/// Rates one agent from their KPIs.
pub fn rate_agent(kpis: &[KpiValue], answered: i64, vetoes: i64, scheme: &StarScheme) -> Rating {
    if answered < scheme.min_conversations {
        return Rating {
            stars: None,
            not_rated: Some(TooFew {
                conversations: answered,
                needed: scheme.min_conversations,
            }),
            limited_by: Vec::new(),
            no_data: Vec::new(),
        };
    }
    let get = |k: &str| kpis.iter().find(|v| v.key == k).and_then(|v| v.value);
    let values = [
        (Criterion::Quality, get("avg_score")),
        (
            Criterion::Satisfaction,
            get("satisfied_share").or_else(|| get("complaint_satisfied_share")),
        ),
        (Criterion::Response, get("timely_answer_rate")),
        (Criterion::Errors, get("error_rate")),
        (Criterion::Resolution, get("complaint_resolve_rate")),
    ];
    let no_data: Vec<Criterion> = values
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(c, _)| *c)
        .collect();
    let gaps_at = |level: &StarLevel| -> Vec<Gap> {
        let needs = [
            (Criterion::Quality, level.quality_min.map(Target::AtLeast)),
            (
                Criterion::Satisfaction,
                level.satisfaction_min.map(Target::AtLeast),
            ),
            (Criterion::Response, level.response_min.map(Target::AtLeast)),
            (Criterion::Errors, level.error_max.map(Target::AtMost)),
            (
                Criterion::Resolution,
                level.resolution_min.map(Target::AtLeast),
            ),
        ];
        needs
            .iter()
            .zip(values.iter())
            .filter_map(|((c, need), (_, value))| match (need, value) {
                (Some(t), Some(v)) if !t.met_by(*v) => Some(Gap {
                    criterion: *c,
                    value: *v,
                    needed: *t,
                }),
                _ => None,
            })
            .collect()
    };
    let mut levels: Vec<&StarLevel> = scheme.levels.iter().collect();
    levels.sort_by_key(|l| l.stars);
    let mut stars = 1u8;
    let mut limited_by = Vec::new();
    for level in &levels {
        let gaps = gaps_at(level);
        if gaps.is_empty() {
            stars = level.stars;
        } else {
            limited_by = gaps;
            break;
        }
    }
    if vetoes > 0 && stars > scheme.max_stars_with_veto {
        stars = scheme.max_stars_with_veto;
        limited_by = vec![Gap {
            criterion: Criterion::Veto,
            value: vetoes as f64,
            needed: Target::AtMost(0.0),
        }];
    } else if vetoes > 0 && stars == scheme.max_stars_with_veto {
        limited_by.insert(
            0,
            Gap {
                criterion: Criterion::Veto,
                value: vetoes as f64,
                needed: Target::AtMost(0.0),
            },
        );
    }
    Rating {
        stars: Some(stars),
        not_rated: None,
        limited_by,
        no_data,
    }
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

/// A user's name and team, for reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Display name.
    pub name: String,
    /// Team.
    pub team: Option<String>,
}

/// Complaint facts of one assignee (or '' for complaints not assigned to
/// an agent) in a period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComplaintFacts {
    /// Complaints opened.
    pub complaints: i64,
    /// First replies within target / decided.
    pub reply: (i64, i64),
    /// Resolutions within target / decided.
    pub resolve: (i64, i64),
    /// Survey result scores (0–10).
    pub surveys: Vec<i64>,
    /// Revisits due in the period: (on time, due).
    pub revisits: (i64, i64),
}

impl ComplaintFacts {
    fn acc(&self) -> ComplaintAcc {
        ComplaintAcc {
            complaints: self.complaints,
            reply_met: self.reply.0,
            reply_decided: self.reply.1,
            resolve_met: self.resolve.0,
            resolve_decided: self.resolve.1,
            surveys: self.surveys.len() as i64,
            survey_sum: self.surveys.iter().sum(),
            survey_satisfied: self.surveys.iter().filter(|&&s| s >= SATISFIED_MIN).count() as i64,
            revisits_due: self.revisits.1,
            revisits_on_time: self.revisits.0,
        }
    }
}

/// One agent's assessment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentAssessment {
    /// Agent id.
    pub agent_id: String,
    /// Name.
    pub name: String,
    /// Answered conversations.
    pub conversations: i64,
    /// Indicator id → 0–100 score (missing: no data).
    pub indicators: BTreeMap<String, f64>,
    /// Weighted total, 0–100.
    pub total: Option<f64>,
    /// 1 = best.
    pub rank: Option<usize>,
    /// `reward`, `coaching`, or none.
    pub recommendation: Option<String>,
    /// Rules the agent breaks most, with rates (agent vs centre).
    pub focus_rules: Vec<FocusRule>,
    /// Stars in the period.
    pub stars: Option<u8>,
    /// Why not assessed: too few conversations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_assessed: Option<TooFew>,
}

/// A rule an agent should work on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FocusRule {
    /// Rule id.
    pub rule: String,
    /// The agent's violation rate.
    pub rate: f64,
    /// The centre's.
    pub centre_rate: f64,
}

/// Scores every agent of a report with the scheme and recommends reward
/// or coaching (pure).
pub fn assess(report: &PeriodReport, scheme: &AssessmentScheme) -> Vec<AgentAssessment> {
    let centre_rates: HashMap<&str, f64> = report
        .centre
        .rules
        .iter()
        .map(|r| (r.rule.as_str(), r.rate))
        .collect();
    let mut out: Vec<AgentAssessment> = report
        .agents
        .iter()
        .map(|a| {
            let answered = a.kpi("answered").unwrap_or(0.0) as i64;
            let stars = a.rating.as_ref().and_then(|r| r.stars);
            let mut focus: Vec<FocusRule> = a
                .rules
                .iter()
                .map(|r| FocusRule {
                    rule: r.rule.clone(),
                    rate: r.rate,
                    centre_rate: centre_rates.get(r.rule.as_str()).copied().unwrap_or(0.0),
                })
                .collect();
            focus.truncate(3);
            if answered < scheme.min_conversations {
                return AgentAssessment {
                    agent_id: a.id.clone(),
                    name: a.name.clone(),
                    conversations: answered,
                    indicators: BTreeMap::new(),
                    total: None,
                    rank: None,
                    recommendation: None,
                    focus_rules: focus,
                    stars,
                    not_assessed: Some(TooFew {
                        conversations: answered,
                        needed: scheme.min_conversations,
                    }),
                };
            }
            let mut indicators = BTreeMap::new();
            for ind in &scheme.indicators {
                let score = match &ind.source {
                    IndicatorSource::Dimensions { dimensions } => {
                        let shares: Vec<f64> = dimensions
                            .iter()
                            .map(|d| 1.0 - dimension_share(a, d, answered))
                            .collect();
                        (!shares.is_empty())
                            .then(|| 100.0 * shares.iter().sum::<f64>() / shares.len() as f64)
                    }
                    IndicatorSource::Kpi { keys } => {
                        keys.iter().find_map(|k| a.kpi(k)).map(|v| 100.0 * v)
                    }
                };
                if let Some(s) = score {
                    indicators.insert(ind.id.clone(), (s * 100.0).round() / 100.0);
                }
            }
            let (wsum, weight) = scheme
                .indicators
                .iter()
                .filter_map(|i| indicators.get(&i.id).map(|s| (s * i.weight, i.weight)))
                .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
            let total = (weight > 0.0).then(|| ((wsum / weight) * 100.0).round() / 100.0);
            AgentAssessment {
                agent_id: a.id.clone(),
                name: a.name.clone(),
                conversations: answered,
                indicators,
                total,
                rank: None,
                recommendation: None,
                focus_rules: focus,
                stars,
                not_assessed: None,
            }
        })
        .collect();
    let mut ranked: Vec<usize> = (0..out.len()).filter(|&i| out[i].total.is_some()).collect();
    ranked.sort_by(|&a, &b| {
        out[b]
            .total
            .partial_cmp(&out[a].total)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| out[a].agent_id.cmp(&out[b].agent_id))
    });
    let reward_slots = ((ranked.len() as f64) * scheme.reward_top_share).floor() as usize;
    for (pos, &i) in ranked.iter().enumerate() {
        let a = &mut out[i];
        a.rank = Some(pos + 1);
        let total = a.total.unwrap_or(0.0);
        if pos
            < reward_slots.max(usize::from(
                !ranked.is_empty() && scheme.reward_top_share > 0.0,
            ))
            && total >= scheme.reward_min
        {
            a.recommendation = Some("reward".into());
        } else if total < scheme.coaching_below {
            a.recommendation = Some("coaching".into());
        }
    }
    out.sort_by(|a, b| {
        a.rank
            .unwrap_or(usize::MAX)
            .cmp(&b.rank.unwrap_or(usize::MAX))
            .then_with(|| a.agent_id.cmp(&b.agent_id))
    });
    out
}

/// Share of an agent's answered conversations with a finding in dimension
/// `d`.
fn dimension_share(a: &ScopeReport, d: &str, answered: i64) -> f64 {
    if answered == 0 {
        return 0.0;
    }
    let broken = a.dimensions.get(d).copied().unwrap_or(0);
    (broken as f64 / answered as f64).min(1.0)
}

/// Reads what reports need and computes them.
pub struct KpiService {
    store: Store,
}

/// Settings that cannot be used.
fn invalid_settings(reason: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("invalid quality settings: {reason}"))
}

impl KpiService {
    /// A service over `store`.
    pub fn new(store: Store) -> KpiService {
        KpiService { store }
    }

    /// The stored settings, or the defaults.
    pub async fn settings(&self) -> Result<QualitySettings, Error> {
        match self.store.setting(SETTINGS_KEY).await? {
            None => Ok(QualitySettings::default()),
            Some(text) => {
                serde_json::from_str(&text).map_err(|e| Error::corrupt("quality settings", e))
            }
        }
    }

    /// Validates and stores settings.
    pub async fn set_settings(
        &self,
        settings: &QualitySettings,
        by: &str,
        now: i64,
    ) -> Result<(), Error> {
        settings.validate().map_err(invalid_settings)?;
        let text = serde_json::to_string(settings).map_err(invalid_settings)?;
        Ok(self.store.put_setting(SETTINGS_KEY, &text, by, now).await?)
    }

    /// KPIs and ratings of every agent, team and the centre for `period`.
    pub async fn report(&self, period: &Period) -> Result<PeriodReport, Error> {
        let settings = self.settings().await?;
        self.report_with(period, &settings).await
    }

    /// Like [`KpiService::report`] with the given settings.
    pub async fn report_with(
        &self,
        period: &Period,
        settings: &QualitySettings,
    ) -> Result<PeriodReport, Error> {
        let rollups = self
            .store
            .rollups(period.start_day(), period.end_day())
            .await?;
        let complaints = self.complaint_facts(period, settings).await?;
        let people = self.people().await?;
        Ok(build_report(
            period,
            &rollups,
            &complaints,
            &people,
            settings,
        ))
    }

    async fn people(&self) -> Result<HashMap<String, Person>, Error> {
        Ok(self
            .store
            .users()
            .await?
            .into_iter()
            .map(|u| {
                let person = Person {
                    name: u.display_name,
                    team: u.team,
                };
                (u.id, person)
            })
            .collect())
    }

    async fn complaint_facts(
        &self,
        period: &Period,
        settings: &QualitySettings,
    ) -> Result<HashMap<String, ComplaintFacts>, Error> {
        let (from, to) = period.utc_ms(settings.utc_offset_s);
        let mut out: HashMap<String, ComplaintFacts> = HashMap::new();
        for t in self.store.complaint_tallies(from, to).await? {
            let f = out.entry(t.agent.unwrap_or_default()).or_default();
            f.complaints += 1;
            let decided = |s: &str| matches!(s, "met" | "met_late" | "breached");
            if decided(&t.reply_sla) {
                f.reply.1 += 1;
                f.reply.0 += i64::from(t.reply_sla == "met");
            }
            if decided(&t.resolve_sla) {
                f.resolve.1 += 1;
                f.resolve.0 += i64::from(t.resolve_sla == "met");
            }
            let survey = serde_json::from_str::<serde_json::Value>(&t.doc)
                .ok()
                .and_then(|d| d.get("survey")?.get("result_score")?.as_i64());
            if let Some(s) = survey {
                f.surveys.push(s);
            }
        }
        let now = chrono::Utc::now().timestamp_millis();
        for (agent, due, done) in self.store.revisit_tallies(from, to).await? {
            // Not done and not yet due: not decided either way.
            if done.is_none() && due > now {
                continue;
            }
            let f = out.entry(agent.unwrap_or_default()).or_default();
            f.revisits.1 += 1;
            f.revisits.0 += i64::from(done.is_some_and(|d| d <= due));
        }
        Ok(out)
    }
}

/// A stored assessment run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssessmentRun {
    /// Id.
    pub id: i64,
    /// Period label.
    pub period: String,
    /// `draft` or `published` (frozen).
    pub status: String,
    /// The scheme used.
    pub scheme: AssessmentScheme,
    /// Per agent, best first.
    pub results: Vec<AgentAssessment>,
    /// Who ran it.
    pub created_by: String,
    /// When, Unix ms.
    pub created_at: i64,
    /// Who published it.
    pub published_by: Option<String>,
    /// When, Unix ms.
    pub published_at: Option<i64>,
}

impl KpiService {
    /// Runs the assessment of `period` with the current scheme and stores it
    /// as a draft (replacing an earlier draft of the same period).
    pub async fn run_assessment(
        &self,
        period: &Period,
        by: &crate::auth::Principal,
        now: i64,
    ) -> Result<AssessmentRun, Error> {
        let settings = self.settings().await?;
        let report = self.report_with(period, &settings).await?;
        let results = assess(&report, &settings.assessment);
        let scheme = serde_json::to_string(&settings.assessment).map_err(invalid_settings)?;
        let body = serde_json::to_string(&results).map_err(invalid_settings)?;
        let mut tx = self.store.write().await?;
        let id = tx
            .replace_draft_assessment(&period.label, &scheme, &body, &by.user_id, now)
            .await?;
        tx.append_audit(&AuditEntry {
            at: now,
            actor_id: by.user_id.clone(),
            actor_role: by.role.as_str().to_string(),
            entity: "assessment".into(),
            entity_id: id.to_string(),
            action: "run".into(),
            detail: serde_json::json!({"period": period.label, "agents": results.len()}),
        })
        .await?;
        tx.commit().await?;
        self.assessment(id)
            .await?
            .ok_or_else(|| Error::Internal(format!("assessment {id} vanished after it was stored")))
    }

    /// Publishes (freezes) a draft. A period has at most one published run.
    pub async fn publish_assessment(
        &self,
        id: i64,
        by: &crate::auth::Principal,
        now: i64,
    ) -> Result<Option<AssessmentRun>, Error> {
        let mut tx = self.store.write().await?;
        let published = match tx.publish_assessment(id, &by.user_id, now).await {
            Err(StoreError::Conflict(_)) => {
                return Err(Error::Conflict(
                    "this period already has a published assessment".into(),
                ))
            }
            other => other?,
        };
        if published {
            tx.append_audit(&AuditEntry {
                at: now,
                actor_id: by.user_id.clone(),
                actor_role: by.role.as_str().to_string(),
                entity: "assessment".into(),
                entity_id: id.to_string(),
                action: "published".into(),
                detail: serde_json::json!({}),
            })
            .await?;
        }
        tx.commit().await?;
        self.assessment(id).await
    }

    /// One assessment run.
    pub async fn assessment(&self, id: i64) -> Result<Option<AssessmentRun>, Error> {
        self.store
            .assessment(id)
            .await?
            .map(assessment_run)
            .transpose()
    }

    /// Assessment runs, newest first (results included).
    pub async fn assessments(&self) -> Result<Vec<AssessmentRun>, Error> {
        self.store
            .assessments(200)
            .await?
            .into_iter()
            .map(assessment_run)
            .collect()
    }
}

fn assessment_run(r: AssessmentRow) -> Result<AssessmentRun, Error> {
    let bad = |e: serde_json::Error| Error::corrupt(format!("assessment {}", r.id), e);
    Ok(AssessmentRun {
        scheme: serde_json::from_str(&r.scheme).map_err(bad)?,
        results: serde_json::from_str(&r.results).map_err(bad)?,
        id: r.id,
        period: r.period,
        status: r.status,
        created_by: r.created_by,
        created_at: r.created_at,
        published_by: r.published_by,
        published_at: r.published_at,
    })
}
