//! The weighted periodic assessment (考核) of agents.

use std::collections::{BTreeMap, HashMap};

use kefu_store::quality::SATISFIED_MIN;
use serde::{Deserialize, Serialize};

use super::{AssessmentScheme, ComplaintAcc, IndicatorSource, PeriodReport, ScopeReport, TooFew};

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
    pub(crate) fn acc(&self) -> ComplaintAcc {
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
/// or coaching (pure), without mystery-shop scores (see [`assess_with`]).
pub fn assess(report: &PeriodReport, scheme: &AssessmentScheme) -> Vec<AgentAssessment> {
    assess_with(report, scheme, &HashMap::new())
}

/// Like [`assess`], with each agent's mean counted mystery-shop score
/// (0–100, by agent id) for indicators of source `mystery_shop`.
///
/// The total is `Σ wᵢ·sᵢ / Σ wᵢ` over the indicators that have data for
/// the agent, so an agent without mystery shops is scored exactly as
/// before, and one with shops moves towards the shop score by the share
/// `w_mystery / (Σ w_other + w_mystery)`.
pub fn assess_with(
    report: &PeriodReport,
    scheme: &AssessmentScheme,
    mystery: &HashMap<String, f64>,
) -> Vec<AgentAssessment> {
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
                    IndicatorSource::MysteryShop => mystery.get(&a.id).copied(),
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
pub(crate) fn dimension_share(a: &ScopeReport, d: &str, answered: i64) -> f64 {
    if answered == 0 {
        return 0.0;
    }
    let broken = a.dimensions.get(d).copied().unwrap_or(0);
    (broken as f64 / answered as f64).min(1.0)
}
