//! The care calendar (节日/生日关怀): upcoming important dates of customers
//! (solar or lunar, next occurrence from [`kefu_engine::anniversary`]) and
//! festivals from kefu's calendar, each reminded N days ahead. Pure.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use kefu_engine::anniversary::{Calendar, Recurring};
use kefu_engine::calendar::festival_date;
use kefu_engine::pack::Festival;
use kefu_store::customers::{DateOfCustomer, ImportantDate};

/// Care settings, stored in the `customers` settings under `care`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CareSettings {
    /// Festivals that call for a greeting.
    pub festivals: Vec<Festival>,
    /// Remind this many days before a festival.
    pub festival_remind_days: i64,
    /// Grades greeted on festivals.
    pub festival_grades: Vec<String>,
    /// Local time of the centre, minutes east of UTC (days and "due today"
    /// are counted in it).
    pub utc_offset_minutes: i32,
}

impl Default for CareSettings {
    fn default() -> CareSettings {
        CareSettings {
            festivals: vec![
                Festival::NewYear,
                Festival::SpringFestival,
                Festival::DragonBoat,
                Festival::MidAutumn,
                Festival::NationalDay,
            ],
            festival_remind_days: 3,
            festival_grades: vec!["A".into(), "B".into()],
            utc_offset_minutes: 480,
        }
    }
}

/// A recurring date of the store as the engine's [`Recurring`], or why not.
pub fn recurring(d: &ImportantDate) -> Result<Recurring, String> {
    let calendar = match d.calendar.as_str() {
        "solar" => Calendar::Solar,
        "lunar" => Calendar::Lunar,
        other => return Err(format!("calendar `{other}` is not solar or lunar")),
    };
    let month = u32::try_from(d.month).map_err(|_| format!("month {}", d.month))?;
    let day = u32::try_from(d.day).map_err(|_| format!("day {}", d.day))?;
    Recurring::new(calendar, month, day, d.leap).map_err(|e| e.to_string())
}

/// One reminder of the care calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CareReminder {
    /// The customer.
    pub customer_id: String,
    /// Their name.
    pub customer_name: String,
    /// What (生日, 春节 …).
    pub label: String,
    /// `date` (an important date) or `festival`.
    pub kind: &'static str,
    /// The day it falls on.
    pub on: NaiveDate,
    /// The day the reminder starts.
    pub remind_from: NaiveDate,
    /// Days from today to the day.
    pub days_left: i64,
    /// The key a care contact is recorded under, so it is recorded once.
    pub key: String,
}

/// The key a care contact for `customer_id`'s `label` on `on` is recorded
/// under.
pub fn care_key(customer_id: &str, label: &str, on: NaiveDate) -> String {
    format!("{customer_id}|{label}|{on}")
}

/// The next day on or after `today` that festival `f` falls on.
fn next_festival(f: Festival, today: NaiveDate) -> Option<NaiveDate> {
    let year = chrono::Datelike::year(&today);
    [year, year + 1]
        .iter()
        .filter_map(|y| festival_date(f, *y))
        .find(|d| *d >= today)
}

/// Whether any configured festival greeting is due within the reminder
/// window ([`reminders`] lists owned customers only then).
pub fn festival_within(settings: &CareSettings, today: NaiveDate, horizon_days: i64) -> bool {
    let ahead = settings.festival_remind_days.clamp(0, 60).max(horizon_days);
    settings
        .festivals
        .iter()
        .any(|f| next_festival(*f, today).is_some_and(|on| (on - today).num_days() <= ahead))
}

/// Reminders on `today`: important dates whose next occurrence is within
/// their `remind_days` or within `horizon_days` (0 for what is due now, more
/// for a calendar of the weeks ahead), then
/// festivals within `festival_remind_days` (or the horizon) for customers of the greeted
/// grades (`customers`: id, name, grade). Customers who asked not to be
/// disturbed are left out. Sorted by day, then customer.
pub fn reminders(
    dates: &[DateOfCustomer],
    customers: &[(String, String, String)],
    settings: &CareSettings,
    today: NaiveDate,
    horizon_days: i64,
) -> Vec<CareReminder> {
    let mut out = Vec::new();
    for d in dates.iter().filter(|d| !d.do_not_disturb) {
        let Ok(r) = recurring(&d.date) else { continue };
        let Some(on) = r.next_on_or_after(today) else {
            continue;
        };
        let days_left = (on - today).num_days();
        let ahead = d.date.remind_days.clamp(0, 366);
        if days_left <= ahead.max(horizon_days) {
            out.push(CareReminder {
                customer_id: d.customer_id.clone(),
                customer_name: d.name.clone(),
                label: d.date.label.clone(),
                kind: "date",
                on,
                remind_from: on - chrono::Duration::days(ahead),
                days_left,
                key: care_key(&d.customer_id, &d.date.label, on),
            });
        }
    }
    let ahead = settings.festival_remind_days.clamp(0, 60);
    for f in &settings.festivals {
        let label = festival_label(*f);
        let Some(on) = next_festival(*f, today) else {
            continue;
        };
        let days_left = (on - today).num_days();
        if days_left > ahead.max(horizon_days) {
            continue;
        }
        for (id, name, grade) in customers {
            if !settings.festival_grades.iter().any(|g| g == grade) {
                continue;
            }
            out.push(CareReminder {
                customer_id: id.clone(),
                customer_name: name.clone(),
                label: label.to_string(),
                kind: "festival",
                on,
                remind_from: on - chrono::Duration::days(ahead),
                days_left,
                key: care_key(id, label, on),
            });
        }
    }
    out.sort_by(|a, b| {
        a.on.cmp(&b.on)
            .then_with(|| a.customer_id.cmp(&b.customer_id))
            .then_with(|| a.label.cmp(&b.label))
    });
    out
}

/// The Chinese name of a festival.
pub fn festival_label(f: Festival) -> &'static str {
    match f {
        Festival::NewYear => "元旦",
        Festival::SpringFestival => "春节",
        Festival::Lantern => "元宵",
        Festival::LabourDay => "劳动节",
        Festival::DragonBoat => "端午",
        Festival::MidAutumn => "中秋",
        Festival::NationalDay => "国庆",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(label: &str, calendar: &str, month: i64, day: i64, leap: bool) -> DateOfCustomer {
        DateOfCustomer {
            customer_id: "c1".into(),
            name: "张伟".into(),
            owner_id: Some("a-07".into()),
            do_not_disturb: false,
            date: ImportantDate {
                label: label.into(),
                calendar: calendar.into(),
                year: None,
                month,
                day,
                leap,
                remind_days: 3,
            },
        }
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    #[test]
    fn festival_window_decides_whether_owned_customers_are_read() {
        let s = CareSettings {
            festivals: vec![Festival::SpringFestival],
            festival_remind_days: 3,
            ..CareSettings::default()
        };
        // 春节 2027 is 2027-02-06.
        assert!(festival_within(&s, d(2027, 2, 3), 0));
        assert!(!festival_within(&s, d(2027, 2, 2), 0));
        assert!(festival_within(&s, d(2027, 1, 20), 30));
        assert!(!festival_within(&s, d(2027, 2, 7), 30));
        let none = CareSettings {
            festivals: vec![],
            ..s
        };
        assert!(!festival_within(&none, d(2027, 2, 5), 365));
    }

    #[test]
    fn lunar_birthday_reminded_three_days_ahead() {
        // 闰六月初十 2025 is 2025-08-03.
        let dates = [date("生日", "lunar", 6, 10, true)];
        let s = CareSettings {
            festivals: vec![],
            ..Default::default()
        };
        assert!(reminders(&dates, &[], &s, d(2025, 7, 30), 0).is_empty());
        let r = reminders(&dates, &[], &s, d(2025, 7, 31), 0);
        assert_eq!(reminders(&dates, &[], &s, d(2025, 7, 20), 30).len(), 1);
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].on, r[0].days_left), (d(2025, 8, 3), 3));
        assert_eq!(r[0].key, "c1|生日|2025-08-03");
        let r = reminders(&dates, &[], &s, d(2025, 8, 3), 0);
        assert_eq!(r[0].days_left, 0, "on the day itself");
    }

    #[test]
    fn festivals_for_greeted_grades_only() {
        let customers = vec![
            ("a".to_string(), "甲".to_string(), "A".to_string()),
            ("c".to_string(), "丙".to_string(), "C".to_string()),
        ];
        let s = CareSettings::default();
        // 中秋 2026 is 2026-09-25.
        let r = reminders(&[], &customers, &s, d(2026, 9, 22), 0);
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].label.as_str(), r[0].on), ("中秋", d(2026, 9, 25)));
        assert_eq!(r[0].customer_id, "a");
    }

    #[test]
    fn bad_dates_are_skipped() {
        let dates = [date("生日", "martian", 1, 1, false)];
        assert!(reminders(&dates, &[], &CareSettings::default(), d(2026, 1, 1), 0).is_empty());
    }
}
