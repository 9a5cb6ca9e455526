//! The conversation counts of a scope and the KPIs defined on them
//! (接待量, 接通率, 应答及时率, average score, 合格率, 差错率, 满意率), each
//! against its target. One definition, used by the period report
//! ([`Acc::kpis`](super::Acc::kpis)) and by the dashboard's overview, which
//! sums the store's day totals ([`KpiCounts::sum`]) instead of reading
//! every agent's rollups.

use kefu_store::quality::DayTotals;

use super::{KpiValue, QualitySettings};

/// A value and, for rates, its numerator and denominator.
pub(crate) type Measured = Option<(f64, Option<(f64, f64)>)>;

/// `n / d` with its parts; `None` when `d` is not positive.
pub(crate) fn ratio(n: i64, d: i64) -> Measured {
    (d > 0).then(|| (n as f64 / d as f64, Some((n as f64, d as f64))))
}

/// `sum / n`; `None` when `n` is not positive.
pub(crate) fn mean(sum: f64, n: i64) -> Measured {
    (n > 0).then(|| (sum / n as f64, None))
}

/// A count as a value.
pub(crate) fn count(n: i64) -> Measured {
    Some((n as f64, None))
}

/// Each measured KPI against its target in `settings`.
pub(crate) fn against(
    values: impl IntoIterator<Item = (&'static str, Measured)>,
    settings: &QualitySettings,
) -> Vec<KpiValue> {
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
                met: target.zip(value).map(|(t, v)| t.met_by(v)),
            }
        })
        .collect()
}

/// The conversation counts of one scope over a period (an agent or the
/// centre, one day or many).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct KpiCounts {
    /// Conversations offered.
    pub offered: i64,
    /// Conversations answered.
    pub answered: i64,
    /// Sum of the scores of answered conversations.
    pub score_sum: f64,
    /// Answered conversations that passed.
    pub passed: i64,
    /// Answered conversations with a known wait.
    pub wait_count: i64,
    /// Of those, answered within the settings' `answer_within_s`.
    pub timely: i64,
    /// Conversations with a satisfaction score.
    pub sat_count: i64,
    /// Of those, satisfied.
    pub sat_satisfied: i64,
}

impl KpiCounts {
    /// The keys [`KpiCounts::kpis`] returns, in order.
    pub const KEYS: [&'static str; 6] = [
        "answered",
        "answer_rate",
        "timely_answer_rate",
        "avg_score",
        "pass_rate",
        "satisfied_share",
    ];

    /// The day totals added up (their `timely` counted against the
    /// settings' answer limit by the store).
    pub fn sum(days: &[DayTotals]) -> KpiCounts {
        let mut t = KpiCounts::default();
        for d in days {
            t.add(d);
        }
        t
    }

    /// Adds one day's totals.
    pub fn add(&mut self, d: &DayTotals) {
        self.offered += d.offered;
        self.answered += d.answered;
        self.score_sum += d.score_sum;
        self.passed += d.passed;
        self.wait_count += d.wait_count;
        self.timely += d.timely;
        self.sat_count += d.sat_count;
        self.sat_satisfied += d.sat_satisfied;
    }

    /// The KPIs of [`KpiCounts::KEYS`] against the targets of `settings`,
    /// equal to the period report's (docs/quality.md).
    pub fn kpis(&self, settings: &QualitySettings) -> Vec<KpiValue> {
        against(Self::KEYS.map(|key| (key, self.measure(key))), settings)
    }

    /// The value of KPI `key` (rates 0–1), `None` without data or for a
    /// KPI these counts do not define.
    pub fn value(&self, key: &str) -> Option<f64> {
        self.measure(key).map(|(v, _)| v)
    }

    /// KPI `key` with its numerator and denominator, for the KPIs these
    /// counts define; `None` for the others.
    pub(crate) fn measure(&self, key: &str) -> Measured {
        match key {
            "offered" => count(self.offered),
            "answered" => count(self.answered),
            "answer_rate" => ratio(self.answered, self.offered),
            "timely_answer_rate" => ratio(self.timely, self.wait_count),
            "avg_score" => mean(self.score_sum, self.answered),
            "pass_rate" => ratio(self.passed, self.answered),
            "error_rate" => ratio(self.answered - self.passed, self.answered),
            "satisfied_share" => ratio(self.sat_satisfied, self.sat_count),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_define_the_rates_and_refuse_other_keys() {
        let c = KpiCounts {
            offered: 10,
            answered: 8,
            score_sum: 720.0,
            passed: 6,
            wait_count: 8,
            timely: 4,
            sat_count: 4,
            sat_satisfied: 3,
        };
        assert_eq!(c.value("answer_rate"), Some(0.8));
        assert_eq!(c.value("timely_answer_rate"), Some(0.5));
        assert_eq!(c.value("avg_score"), Some(90.0));
        assert_eq!(c.value("pass_rate"), Some(0.75));
        assert_eq!(c.value("error_rate"), Some(0.25));
        assert_eq!(c.value("satisfied_share"), Some(0.75));
        assert_eq!(c.value("complaints"), None);
        let kpis = c.kpis(&QualitySettings::default());
        let keys: Vec<&str> = kpis.iter().map(|k| k.key).collect();
        assert_eq!(keys, KpiCounts::KEYS);
        let rate = kpis.iter().find(|k| k.key == "answer_rate");
        assert_eq!(rate.and_then(|k| k.of), Some((8.0, 10.0)));
        assert_eq!(rate.and_then(|k| k.met), Some(false), "target ≥ 90 %");
        let none = KpiCounts::default().kpis(&QualitySettings::default());
        assert!(none
            .iter()
            .filter(|k| k.key != "answered")
            .all(|k| k.value.is_none() && k.met.is_none()));
    }
}
