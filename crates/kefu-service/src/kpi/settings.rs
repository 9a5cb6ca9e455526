//! The quality settings: KPI targets, the star scheme, the assessment
//! scheme and sampling.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::KPI_KEYS;

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
    /// The mean score (0–100) of the agent's counted mystery shops
    /// shopped in the period (神秘客户: approved, the latest of each
    /// re-shop chain). Agents without one have no data for it, so its
    /// weight drops out of their total. Not in the default scheme: add it
    /// with the weight the centre wants (docs/operations.md).
    MysteryShop,
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
