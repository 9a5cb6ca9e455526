//! One-to-five-star ratings of an agent's KPIs against the star scheme.

use serde::{Deserialize, Serialize};

use super::{KpiValue, StarLevel, StarScheme, Target};

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
