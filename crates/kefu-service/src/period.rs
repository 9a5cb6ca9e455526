//! Report periods: a month (`2026-10`), a quarter (`2026-Q4`), an ISO week
//! (`2026-W44`), a day (`2026-10-05`), a year (`2026`) or a range of days
//! (`2026-10-01..2026-10-15`, both ends included).
//!
//! Periods are in local calendar days: a conversation belongs to the day on
//! which it started in its own time zone, as a contact centre counts it.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use kefu_store::{day_date, local_day};
use serde::{Deserialize, Serialize};

/// What a period spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    /// One calendar day.
    Day,
    /// An ISO week, Monday to Sunday.
    Week,
    /// A calendar month.
    Month,
    /// A calendar quarter.
    Quarter,
    /// A calendar year.
    Year,
    /// Any range of days.
    Range,
}

/// A span of local calendar days.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Period {
    /// How it was written, normalised (`2026-10`, `2026-Q4` …).
    pub label: String,
    /// What it spans.
    pub kind: PeriodKind,
    /// First day.
    pub start: NaiveDate,
    /// Day after the last.
    pub end: NaiveDate,
}

/// A period string kefu cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a period: use 2026-10 (month), 2026-Q4, 2026-W44, 2026-10-05, 2026 or 2026-10-01..2026-10-15")]
pub struct PeriodError(pub String);

impl Period {
    /// First day as a day number (days since 1970-01-01).
    pub fn start_day(&self) -> i64 {
        local_day(self.start)
    }

    /// Day number after the last day.
    pub fn end_day(&self) -> i64 {
        local_day(self.end)
    }

    /// Number of days.
    pub fn days(&self) -> i64 {
        self.end_day() - self.start_day()
    }

    /// Unix ms of the start and end at a fixed UTC offset (for records kept
    /// in UTC, such as complaints).
    pub fn utc_ms(&self, utc_offset_s: i64) -> (i64, i64) {
        let ms = |d: NaiveDate| (local_day(d) * 86_400 - utc_offset_s) * 1000;
        (ms(self.start), ms(self.end))
    }

    /// The month containing `date`.
    pub fn month_of(date: NaiveDate) -> Period {
        let start = date.with_day(1).unwrap_or(date);
        Period {
            label: format!("{:04}-{:02}", start.year(), start.month()),
            kind: PeriodKind::Month,
            end: add_months(start, 1),
            start,
        }
    }

    /// The period just before this one, of the same kind and length.
    pub fn previous(&self) -> Period {
        match self.kind {
            PeriodKind::Month | PeriodKind::Quarter | PeriodKind::Year => {
                let months = match self.kind {
                    PeriodKind::Month => 1,
                    PeriodKind::Quarter => 3,
                    _ => 12,
                };
                let start = add_months(self.start, -months);
                let label = match self.kind {
                    PeriodKind::Month => format!("{:04}-{:02}", start.year(), start.month()),
                    PeriodKind::Quarter => {
                        format!("{:04}-Q{}", start.year(), start.month0() / 3 + 1)
                    }
                    _ => format!("{:04}", start.year()),
                };
                Period {
                    label,
                    kind: self.kind,
                    start,
                    end: self.start,
                }
            }
            _ => {
                let len = self.end - self.start;
                let start = self.start - len;
                let label = match self.kind {
                    PeriodKind::Day => start.to_string(),
                    PeriodKind::Week => {
                        let w = start.iso_week();
                        format!("{:04}-W{:02}", w.year(), w.week())
                    }
                    _ => format!("{}..{}", start, self.start - Duration::days(1)),
                };
                Period {
                    label,
                    kind: self.kind,
                    start,
                    end: self.start,
                }
            }
        }
    }

    /// The ISO weeks (Monday day numbers) that the period overlaps.
    pub fn week_of_day(day: i64) -> i64 {
        // 1970-01-01 was a Thursday: Monday-based weeks start 3 days earlier.
        (day + 3).div_euclid(7)
    }

    /// The date of a day number.
    pub fn date_of_day(day: i64) -> Option<NaiveDate> {
        day_date(day)
    }
}

fn add_months(d: NaiveDate, months: i32) -> NaiveDate {
    let total = d.year() * 12 + d.month0() as i32 + months;
    NaiveDate::from_ymd_opt(total.div_euclid(12), total.rem_euclid(12) as u32 + 1, 1).unwrap_or(d)
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}

impl FromStr for Period {
    type Err = PeriodError;

    fn from_str(s: &str) -> Result<Period, PeriodError> {
        let text = s.trim();
        let err = || PeriodError(s.to_string());
        if let Some((a, b)) = text.split_once("..") {
            let start = NaiveDate::parse_from_str(a.trim(), "%Y-%m-%d").map_err(|_| err())?;
            let last = NaiveDate::parse_from_str(b.trim(), "%Y-%m-%d").map_err(|_| err())?;
            if last < start {
                return Err(err());
            }
            return Ok(Period {
                label: format!("{start}..{last}"),
                kind: PeriodKind::Range,
                start,
                end: last + Duration::days(1),
            });
        }
        if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            return Ok(Period {
                label: day.to_string(),
                kind: PeriodKind::Day,
                start: day,
                end: day + Duration::days(1),
            });
        }
        let upper = text.to_ascii_uppercase();
        if let Some((y, q)) = upper.split_once("-Q") {
            let year: i32 = y.parse().map_err(|_| err())?;
            let q: u32 = q.parse().map_err(|_| err())?;
            if !(1..=4).contains(&q) {
                return Err(err());
            }
            let start = NaiveDate::from_ymd_opt(year, (q - 1) * 3 + 1, 1).ok_or_else(err)?;
            return Ok(Period {
                label: format!("{year:04}-Q{q}"),
                kind: PeriodKind::Quarter,
                end: add_months(start, 3),
                start,
            });
        }
        if let Some((y, w)) = upper.split_once("-W") {
            let year: i32 = y.parse().map_err(|_| err())?;
            let week: u32 = w.parse().map_err(|_| err())?;
            let start = NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).ok_or_else(err)?;
            return Ok(Period {
                label: format!("{year:04}-W{week:02}"),
                kind: PeriodKind::Week,
                start,
                end: start + Duration::days(7),
            });
        }
        if let Some((y, m)) = text.split_once('-') {
            let year: i32 = y.parse().map_err(|_| err())?;
            let month: u32 = m.parse().map_err(|_| err())?;
            let start = NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(err)?;
            return Ok(Period::month_of(start));
        }
        if text.len() == 4 {
            let year: i32 = text.parse().map_err(|_| err())?;
            let start = NaiveDate::from_ymd_opt(year, 1, 1).ok_or_else(err)?;
            return Ok(Period {
                label: format!("{year:04}"),
                kind: PeriodKind::Year,
                end: add_months(start, 12),
                start,
            });
        }
        Err(err())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Period {
        s.parse().unwrap()
    }

    #[test]
    fn periods_parse_to_day_ranges() {
        let oct = p("2026-10");
        assert_eq!(
            (oct.start.to_string(), oct.days()),
            ("2026-10-01".into(), 31)
        );
        assert_eq!(p("2026-Q4").days(), 92);
        assert_eq!(p("2026-q1").label, "2026-Q1");
        let w = p("2026-W44");
        assert_eq!(w.start.weekday(), Weekday::Mon);
        assert_eq!(w.days(), 7);
        assert_eq!(p("2026-10-05").days(), 1);
        assert_eq!(p("2026-10-01..2026-10-15").days(), 15);
        assert_eq!(p("2026").days(), 365);
        assert_eq!(p("2026-12").end.to_string(), "2027-01-01");
        for bad in ["2026-13", "2026-Q5", "x", "2026-10-15..2026-10-01", ""] {
            assert!(bad.parse::<Period>().is_err(), "{bad}");
        }
    }

    #[test]
    fn previous_periods() {
        assert_eq!(p("2026-01").previous().label, "2025-12");
        assert_eq!(p("2026-Q1").previous().label, "2025-Q4");
        assert_eq!(p("2026-W01").previous().days(), 7);
    }

    #[test]
    fn utc_bounds_use_the_offset() {
        let (a, _) = p("2026-10-01").utc_ms(8 * 3600);
        // 2026-10-01 00:00 +08:00 = 2026-09-30 16:00 UTC
        assert_eq!(a, 1_790_784_000_000);
    }

    #[test]
    fn weeks_start_on_monday() {
        let monday = local_day(NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
        assert_eq!(Period::week_of_day(monday), Period::week_of_day(monday + 6));
        assert_ne!(Period::week_of_day(monday), Period::week_of_day(monday - 1));
    }
}
