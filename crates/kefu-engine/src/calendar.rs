//! Festival dates: fixed solar ones and lunar ones computed from the
//! Chinese calendar (no per-year tables to retype).

use std::sync::OnceLock;

use chrono::{Datelike, Days, NaiveDate};
use tyme4rs::tyme::lunar::LunarDay;

use crate::pack::Festival;

/// Years for which lunar festival dates are available.
pub const FIRST_YEAR: i32 = 1901;
/// Last year for which lunar festival dates are available.
pub const LAST_YEAR: i32 = 2199;

/// Lunar (month, day) of the lunar festivals.
fn lunar_month_day(festival: Festival) -> Option<(isize, usize)> {
    match festival {
        Festival::SpringFestival => Some((1, 1)),
        Festival::Lantern => Some((1, 15)),
        Festival::DragonBoat => Some((5, 5)),
        Festival::MidAutumn => Some((8, 15)),
        Festival::NewYear | Festival::LabourDay | Festival::NationalDay => None,
    }
}

fn lunar_to_solar(year: i32, month: isize, day: usize) -> Option<NaiveDate> {
    let lunar = LunarDay::new(year as isize, month, day).ok()?;
    let solar = lunar.get_solar_day();
    NaiveDate::from_ymd_opt(
        i32::try_from(solar.get_year()).ok()?,
        u32::try_from(solar.get_month()).ok()?,
        u32::try_from(solar.get_day()).ok()?,
    )
}

/// Number of supported years.
const YEARS: usize = (LAST_YEAR - FIRST_YEAR + 1) as usize;

/// Dates of the four lunar festivals of one year, computed on first use:
/// the astronomical calculation is costly, and a run usually touches only
/// a year or two.
fn lunar_year(year: i32) -> &'static [Option<NaiveDate>; 4] {
    static TABLE: [OnceLock<[Option<NaiveDate>; 4]>; YEARS] = [const { OnceLock::new() }; YEARS];
    TABLE[(year - FIRST_YEAR) as usize].get_or_init(|| {
        [
            lunar_to_solar(year, 1, 1),
            lunar_to_solar(year, 1, 15),
            lunar_to_solar(year, 5, 5),
            lunar_to_solar(year, 8, 15),
        ]
    })
}

/// The solar date of `festival` in `year` (the lunar year for lunar
/// festivals, which share the solar year number), or `None` outside
/// [`FIRST_YEAR`]..=[`LAST_YEAR`].
pub fn festival_date(festival: Festival, year: i32) -> Option<NaiveDate> {
    match festival {
        Festival::NewYear => NaiveDate::from_ymd_opt(year, 1, 1),
        Festival::LabourDay => NaiveDate::from_ymd_opt(year, 5, 1),
        Festival::NationalDay => NaiveDate::from_ymd_opt(year, 10, 1),
        _ => {
            if !(FIRST_YEAR..=LAST_YEAR).contains(&year) {
                return None;
            }
            lunar_month_day(festival)?;
            let column = match festival {
                Festival::SpringFestival => 0,
                Festival::Lantern => 1,
                Festival::DragonBoat => 2,
                _ => 3,
            };
            lunar_year(year)[column]
        }
    }
}

/// Whether `date` falls in the greeting period of `festival`:
/// from `days_before` days before the festival day to `days_after` after it.
pub fn in_festival_period(
    festival: Festival,
    date: NaiveDate,
    days_before: u32,
    days_after: u32,
) -> bool {
    // The period may straddle a year end (元旦 with days_before, 春节 in late
    // January of the next solar year's lunar calendar), so look around.
    (date.year() - 1..=date.year() + 1).any(|y| {
        festival_date(festival, y).is_some_and(|day| {
            // Checked: a pack may give up to u32::MAX days, beyond the
            // calendar's range; such a period reaches the range's end.
            let from = day
                .checked_sub_days(Days::new(u64::from(days_before)))
                .unwrap_or(NaiveDate::MIN);
            let to = day
                .checked_add_days(Days::new(u64::from(days_after)))
                .unwrap_or(NaiveDate::MAX);
            date >= from && date <= to
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn lunar_festivals_match_published_dates() {
        assert_eq!(
            festival_date(Festival::SpringFestival, 2026),
            Some(d(2026, 2, 17))
        );
        assert_eq!(
            festival_date(Festival::SpringFestival, 2027),
            Some(d(2027, 2, 6))
        );
        assert_eq!(
            festival_date(Festival::SpringFestival, 2024),
            Some(d(2024, 2, 10))
        );
        assert_eq!(
            festival_date(Festival::MidAutumn, 2026),
            Some(d(2026, 9, 25))
        );
        assert_eq!(
            festival_date(Festival::MidAutumn, 2027),
            Some(d(2027, 9, 15))
        );
        assert_eq!(
            festival_date(Festival::MidAutumn, 2025),
            Some(d(2025, 10, 6))
        );
        assert_eq!(
            festival_date(Festival::DragonBoat, 2026),
            Some(d(2026, 6, 19))
        );
        assert_eq!(festival_date(Festival::Lantern, 2026), Some(d(2026, 3, 3)));
    }

    #[test]
    fn periods() {
        assert!(in_festival_period(
            Festival::SpringFestival,
            d(2026, 2, 17),
            0,
            0
        ));
        assert!(!in_festival_period(
            Festival::SpringFestival,
            d(2026, 2, 18),
            0,
            0
        ));
        assert!(in_festival_period(
            Festival::SpringFestival,
            d(2026, 2, 23),
            1,
            6
        ));
        assert!(in_festival_period(Festival::NewYear, d(2025, 12, 31), 1, 0));
        assert!(!in_festival_period(
            Festival::NationalDay,
            d(2026, 10, 2),
            0,
            0
        ));
        assert!(in_festival_period(
            Festival::NationalDay,
            d(2026, 10, 7),
            0,
            6
        ));
    }

    #[test]
    fn out_of_range_years_are_none() {
        assert_eq!(festival_date(Festival::MidAutumn, 1800), None);
        assert_eq!(festival_date(Festival::MidAutumn, 2500), None);
    }
}
