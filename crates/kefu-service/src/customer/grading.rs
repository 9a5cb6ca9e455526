//! A/B/C grading (客户分级) by configurable rules: points for value,
//! contact frequency, recency, complaints and low satisfaction; A and B
//! above their thresholds, C otherwise. Pure: the figures come from the
//! store.

use serde::{Deserialize, Serialize};

use kefu_store::customers::CustomerFigures;

const DAY_MS: i64 = 86_400_000;

/// The grading rules, stored in the `customers` settings under `grading`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GradingRules {
    /// Purchases and contacts in the last this many days count.
    pub window_days: i64,
    /// Points needed for grade A.
    pub a_points: i64,
    /// Points needed for grade B.
    pub b_points: i64,
    /// Purchases in the window of at least this many yuan earn
    /// `value_high_points`.
    pub value_high_yuan: i64,
    /// Points for a high value.
    pub value_high_points: i64,
    /// Purchases of at least this many yuan earn `value_mid_points`.
    pub value_mid_yuan: i64,
    /// Points for a middle value.
    pub value_mid_points: i64,
    /// Contacts in the window of at least this many earn `frequency_points`.
    pub frequent_contacts: i64,
    /// Points for frequent contact.
    pub frequency_points: i64,
    /// A contact within this many days earns `recency_points`.
    pub recent_days: i64,
    /// Points for a recent contact.
    pub recency_points: i64,
    /// Points per complaint (a customer who complains needs attention).
    pub complaint_points: i64,
    /// At most this many points from complaints.
    pub complaint_points_max: i64,
    /// Average satisfaction (0–10) below this earns `unhappy_points`.
    pub unhappy_below: f64,
    /// Points for a customer at risk of leaving.
    pub unhappy_points: i64,
}

impl Default for GradingRules {
    fn default() -> GradingRules {
        GradingRules {
            window_days: 365,
            a_points: 60,
            b_points: 30,
            value_high_yuan: 50_000,
            value_high_points: 50,
            value_mid_yuan: 10_000,
            value_mid_points: 25,
            frequent_contacts: 6,
            frequency_points: 15,
            recent_days: 30,
            recency_points: 10,
            complaint_points: 5,
            complaint_points_max: 15,
            unhappy_below: 6.0,
            unhappy_points: 10,
        }
    }
}

/// What the rules decided, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GradeDecision {
    /// `A`, `B` or `C`.
    pub grade: &'static str,
    /// Total points.
    pub points: i64,
    /// The criteria that earned points, in words (Chinese first).
    pub reason: String,
}

impl GradingRules {
    /// The start of the window, for a grading at `now`.
    pub fn window_start(&self, now: i64) -> i64 {
        now - self.window_days.max(1) * DAY_MS
    }

    /// Checks the thresholds are ordered.
    pub fn validate(&self) -> Result<(), String> {
        if self.a_points < self.b_points {
            return Err("a_points must be at least b_points".into());
        }
        if self.value_high_yuan < self.value_mid_yuan {
            return Err("value_high_yuan must be at least value_mid_yuan".into());
        }
        if self.window_days < 1 {
            return Err("window_days must be positive".into());
        }
        Ok(())
    }

    /// Grades a customer from their figures at `now`.
    pub fn grade(&self, f: &CustomerFigures, now: i64) -> GradeDecision {
        let mut points = 0;
        let mut why = Vec::new();
        let yuan = f.recent_value_cents / 100;
        if yuan >= self.value_high_yuan {
            points += self.value_high_points;
            why.push(format!("消费 value ¥{yuan} (+{})", self.value_high_points));
        } else if yuan >= self.value_mid_yuan {
            points += self.value_mid_points;
            why.push(format!("消费 value ¥{yuan} (+{})", self.value_mid_points));
        }
        if f.recent_contacts >= self.frequent_contacts {
            points += self.frequency_points;
            why.push(format!(
                "联系 {} 次 contacts (+{})",
                f.recent_contacts, self.frequency_points
            ));
        }
        if let Some(last) = f.last_contact_at {
            let days = (now - last).max(0) / DAY_MS;
            if days <= self.recent_days {
                points += self.recency_points;
                why.push(format!(
                    "{days} 天前联系 last contact (+{})",
                    self.recency_points
                ));
            }
        }
        if f.complaints > 0 {
            let p = (f.complaints * self.complaint_points).min(self.complaint_points_max);
            points += p;
            why.push(format!("投诉 {} 件 complaints (+{p})", f.complaints));
        }
        if let Some(s) = f.satisfaction.filter(|s| *s < self.unhappy_below) {
            points += self.unhappy_points;
            why.push(format!(
                "满意度 {s:.1} satisfaction (+{})",
                self.unhappy_points
            ));
        }
        let grade = if points >= self.a_points {
            "A"
        } else if points >= self.b_points {
            "B"
        } else {
            "C"
        };
        let reason = if why.is_empty() {
            format!("{points} 分 points")
        } else {
            format!("{points} 分 points: {}", why.join("; "))
        };
        GradeDecision {
            grade,
            points,
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grades_by_points() {
        let rules = GradingRules::default();
        let now = 400 * DAY_MS;
        let mut f = CustomerFigures::default();
        assert_eq!(rules.grade(&f, now).grade, "C");
        f.recent_value_cents = 60_000 * 100;
        f.last_contact_at = Some(now - 3 * DAY_MS);
        let d = rules.grade(&f, now);
        assert_eq!((d.grade, d.points), ("A", 60), "{}", d.reason);
        f.recent_value_cents = 20_000 * 100;
        assert_eq!(rules.grade(&f, now).grade, "B");
        f.complaints = 10;
        f.satisfaction = Some(4.0);
        let d = rules.grade(&f, now);
        assert_eq!(d.points, 25 + 10 + 15 + 10, "complaint points are capped");
        assert_eq!(d.grade, "A");
        assert!(d.reason.contains("投诉 10 件"));
    }

    #[test]
    fn validation() {
        let rules = GradingRules {
            a_points: 10,
            b_points: 20,
            ..Default::default()
        };
        assert!(rules.validate().is_err());
        assert!(GradingRules::default().validate().is_ok());
    }
}
