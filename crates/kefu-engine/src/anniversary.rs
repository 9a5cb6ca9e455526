//! Important dates that recur every year — birthdays, anniversaries — on
//! the solar (Gregorian) or the lunar (农历) calendar, and their next
//! occurrence on or after a given day.
//!
//! The conventions, for dates a year does not have:
//! - solar 2月29日 falls on 2月28日 in common years;
//! - a lunar day 30 falls on the last day of a short (29-day) month, so
//!   腊月三十 (除夕) is 腊月廿九 in years whose twelfth month is short;
//! - a date in a leap month (闰月) falls in the ordinary month of the same
//!   number in years without that leap month; in years with it, on the leap
//!   month. A date in an ordinary month always stays in the ordinary month.

use chrono::{Datelike, NaiveDate};
use tyme4rs::tyme::lunar::{LunarDay, LunarMonth, LunarYear};

use crate::calendar::{FIRST_YEAR, LAST_YEAR};

/// Which calendar a recurring date follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Calendar {
    /// Gregorian.
    Solar,
    /// Chinese lunar calendar.
    Lunar,
}

/// A date that recurs every year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recurring {
    /// The calendar.
    pub calendar: Calendar,
    /// Month 1–12 (the lunar month number for lunar dates).
    pub month: u32,
    /// Day 1–31 (1–30 for lunar dates).
    pub day: u32,
    /// A lunar leap month (ignored for solar dates).
    pub leap: bool,
}

/// Why a recurring date is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecurringError {
    /// Month outside 1–12.
    #[error("month {0} is not 1–12")]
    Month(u32),
    /// Day outside the month's possible range.
    #[error("day {day} is not a day of month {month}")]
    Day {
        /// Month.
        month: u32,
        /// Day.
        day: u32,
    },
}

impl Recurring {
    /// A checked recurring date.
    pub fn new(
        calendar: Calendar,
        month: u32,
        day: u32,
        leap: bool,
    ) -> Result<Recurring, RecurringError> {
        if !(1..=12).contains(&month) {
            return Err(RecurringError::Month(month));
        }
        let max = match calendar {
            Calendar::Lunar => 30,
            Calendar::Solar => match month {
                2 => 29,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            },
        };
        if day == 0 || day > max {
            return Err(RecurringError::Day { month, day });
        }
        Ok(Recurring {
            calendar,
            month,
            day,
            leap: leap && calendar == Calendar::Lunar,
        })
    }

    /// The solar date on which it falls in `year` (the lunar year for
    /// lunar dates), or `None` outside the supported years.
    pub fn in_year(&self, year: i32) -> Option<NaiveDate> {
        match self.calendar {
            Calendar::Solar => NaiveDate::from_ymd_opt(year, self.month, self.day).or_else(|| {
                // 2月29日 in a common year.
                NaiveDate::from_ymd_opt(year, self.month, self.day - 1)
            }),
            Calendar::Lunar => {
                if !(FIRST_YEAR..=LAST_YEAR).contains(&year) {
                    return None;
                }
                let y = year as isize;
                let m = self.month as isize;
                let month = if self.leap
                    && LunarYear::from_year(y).get_leap_month() == self.month as usize
                {
                    -m
                } else {
                    m
                };
                let days = LunarMonth::new(y, month).ok()?.get_day_count();
                let day = (self.day as usize).min(days);
                let solar = LunarDay::new(y, month, day).ok()?.get_solar_day();
                NaiveDate::from_ymd_opt(
                    i32::try_from(solar.get_year()).ok()?,
                    u32::try_from(solar.get_month()).ok()?,
                    u32::try_from(solar.get_day()).ok()?,
                )
            }
        }
    }

    /// The first day on or after `from` on which the date falls, or `None`
    /// outside the supported years.
    pub fn next_on_or_after(&self, from: NaiveDate) -> Option<NaiveDate> {
        // A lunar year starts between late January and late February, so
        // the lunar year before the solar one can still hold the date.
        let start = from.year() - 1;
        (start..=start + 3)
            .filter_map(|y| self.in_year(y))
            .filter(|d| *d >= from)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    #[test]
    fn solar_feb_29_in_common_years() {
        let r = Recurring::new(Calendar::Solar, 2, 29, false).expect("valid");
        assert_eq!(r.next_on_or_after(d(2025, 3, 1)), Some(d(2026, 2, 28)));
        assert_eq!(r.next_on_or_after(d(2027, 3, 1)), Some(d(2028, 2, 29)));
        assert_eq!(r.next_on_or_after(d(2028, 2, 29)), Some(d(2028, 2, 29)));
    }

    #[test]
    fn lunar_new_year_and_mid_autumn() {
        let spring = Recurring::new(Calendar::Lunar, 1, 1, false).expect("valid");
        assert_eq!(spring.next_on_or_after(d(2026, 1, 1)), Some(d(2026, 2, 17)));
        assert_eq!(spring.next_on_or_after(d(2026, 2, 18)), Some(d(2027, 2, 6)));
        let mid = Recurring::new(Calendar::Lunar, 8, 15, false).expect("valid");
        assert_eq!(mid.next_on_or_after(d(2025, 1, 1)), Some(d(2025, 10, 6)));
    }

    #[test]
    fn chuxi_in_short_twelfth_months() {
        // 腊月三十: 2026's twelfth month (lunar 2025) has 29 days, so 除夕
        // is 腊月廿九, 2026-02-16; lunar 2022's has 30 (2023-01-21).
        let chuxi = Recurring::new(Calendar::Lunar, 12, 30, false).expect("valid");
        assert_eq!(chuxi.next_on_or_after(d(2026, 1, 1)), Some(d(2026, 2, 16)));
        assert_eq!(chuxi.next_on_or_after(d(2023, 1, 1)), Some(d(2023, 1, 21)));
        // From January, the date of the lunar year that started the solar
        // year before is the next one.
        assert_eq!(chuxi.in_year(2025), Some(d(2026, 2, 16)));
    }

    #[test]
    fn leap_months() {
        // Lunar 2025 has a leap sixth month (闰六月, 2025-07-25 – 2025-08-22);
        // lunar 2023 a leap second month.
        assert_eq!(LunarYear::from_year(2025).get_leap_month(), 6);
        let leap = Recurring::new(Calendar::Lunar, 6, 10, true).expect("valid");
        let plain = Recurring::new(Calendar::Lunar, 6, 10, false).expect("valid");
        assert_eq!(leap.in_year(2025), Some(d(2025, 8, 3)));
        assert_eq!(plain.in_year(2025), Some(d(2025, 7, 4)));
        // Without a leap sixth month (2026), the leap date falls in the
        // ordinary sixth month.
        assert_eq!(leap.in_year(2026), plain.in_year(2026));
        assert_eq!(leap.next_on_or_after(d(2025, 7, 5)), Some(d(2025, 8, 3)));
        assert_eq!(plain.next_on_or_after(d(2025, 7, 5)), plain.in_year(2026));
        // A leap month's day 30 when the leap month is short.
        let leap30 = Recurring::new(Calendar::Lunar, 6, 30, true).expect("valid");
        let days = LunarMonth::new(2025, -6)
            .expect("leap month")
            .get_day_count();
        let last = LunarDay::new(2025, -6, days).expect("day").get_solar_day();
        assert_eq!(
            leap30.in_year(2025),
            Some(d(
                last.get_year() as i32,
                last.get_month() as u32,
                last.get_day() as u32
            ))
        );
    }

    #[test]
    fn invalid_dates_are_refused() {
        assert!(Recurring::new(Calendar::Solar, 2, 30, false).is_err());
        assert!(Recurring::new(Calendar::Lunar, 13, 1, false).is_err());
        assert!(Recurring::new(Calendar::Lunar, 1, 31, false).is_err());
        // A solar date is never leap.
        assert!(
            !Recurring::new(Calendar::Solar, 1, 1, true)
                .expect("valid")
                .leap
        );
    }
}
