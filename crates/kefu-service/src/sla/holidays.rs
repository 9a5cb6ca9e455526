//! Holiday tables (public holidays and make-up workdays), with the
//! built-in Chinese table.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use super::SlaError;

/// The built-in table of Chinese public holidays and make-up workdays
/// (`data/cn-holidays.toml`), in the format read by
/// [`HolidayTable::from_toml`]. It covers the years listed in the file's
/// header; [`HolidayTable::cn_builtin`] parses it.
pub const CN_HOLIDAYS_TOML: &str = include_str!("../../data/cn-holidays.toml");

// ---------------------------------------------------------------------------
// Holiday table
// ---------------------------------------------------------------------------

/// The holidays and make-up workdays published for one year.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HolidayYear {
    /// Days off (including those that fall on a weekend, as published).
    pub holidays: BTreeSet<NaiveDate>,
    /// Make-up workdays (调休上班).
    pub workdays: BTreeSet<NaiveDate>,
    /// Where the dates come from (free text), if given.
    pub source: Option<String>,
}

/// A table of public holidays and make-up workdays, year by year, read from
/// TOML:
///
/// ```toml
/// [[years]]
/// year = 2026
/// source = "国务院办公厅关于2026年部分节假日安排的通知"   # optional
/// holidays = ["2026-01-01..2026-01-03", "2026-02-15..2026-02-23"]
/// workdays = ["2026-01-04", "2026-02-14", "2026-02-28"]
/// ```
///
/// `a..b` is an inclusive range; bare TOML dates (`2026-01-01`) are accepted
/// too. Dates must lie within a year of the entry's `year`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HolidayTable {
    pub(crate) years: BTreeMap<i32, HolidayYear>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTable {
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    years: Vec<RawYear>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawYear {
    year: toml::Spanned<i64>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    notes: Option<String>,
    #[serde(default)]
    holidays: Vec<toml::Spanned<toml::Value>>,
    #[serde(default)]
    workdays: Vec<toml::Spanned<toml::Value>>,
}

pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

pub(crate) fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

/// Reads one holiday-table entry into the dates it stands for.
pub(crate) fn entry_dates(value: &toml::Value, year: i32) -> Result<Vec<NaiveDate>, String> {
    let (first, last) = match value {
        toml::Value::String(s) => match s.split_once("..") {
            Some((a, b)) => {
                let a_date = parse_date(a).ok_or_else(|| format!("invalid date {a:?} in {s:?}"))?;
                let b_date = parse_date(b).ok_or_else(|| format!("invalid date {b:?} in {s:?}"))?;
                if b_date < a_date {
                    return Err(format!("range {s:?} ends before it starts"));
                }
                (a_date, b_date)
            }
            None => {
                let d = parse_date(s)
                    .ok_or_else(|| format!("invalid date {s:?} (expected YYYY-MM-DD)"))?;
                (d, d)
            }
        },
        toml::Value::Datetime(dt) => match (dt.date, dt.time, dt.offset) {
            (Some(d), None, None) => {
                let date = NaiveDate::from_ymd_opt(
                    i32::from(d.year),
                    u32::from(d.month),
                    u32::from(d.day),
                )
                .ok_or_else(|| format!("invalid date {dt}"))?;
                (date, date)
            }
            _ => return Err(format!("expected a date, got the date-time {dt}")),
        },
        other => {
            return Err(format!(
                "expected a date string like \"2026-01-01\" or a range \"2026-02-15..2026-02-23\", got {other}"
            ))
        }
    };
    for d in [first, last] {
        if (d.year() - year).abs() > 1 {
            return Err(format!(
                "date {d} is more than a year away from the entry's year {year}"
            ));
        }
    }
    Ok(first.iter_days().take_while(|d| *d <= last).collect())
}

impl HolidayTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads a table from TOML text (see the type's documentation for the
    /// format).
    ///
    /// # Errors
    ///
    /// [`SlaError::HolidayToml`] for invalid TOML or unknown / missing keys,
    /// [`SlaError::HolidayEntry`] for a bad date or range, a date more than a
    /// year away from its entry's year, a year listed twice, or a date that
    /// is both a holiday and a make-up workday. Both carry the line number.
    pub fn from_toml(text: &str) -> Result<Self, SlaError> {
        let raw: RawTable = toml::from_str(text).map_err(|e| SlaError::HolidayToml {
            line: e.span().map(|s| line_of(text, s.start)),
            message: e.message().trim().to_owned(),
        })?;
        let mut years: BTreeMap<i32, HolidayYear> = BTreeMap::new();
        // Every date seen so far with its meaning (true = holiday) and line.
        let mut seen: BTreeMap<NaiveDate, (bool, usize)> = BTreeMap::new();
        for entry in raw.years {
            let year_line = line_of(text, entry.year.span().start);
            let year = i32::try_from(*entry.year.get_ref())
                .ok()
                .filter(|y| (1..=9999).contains(y))
                .ok_or_else(|| SlaError::HolidayEntry {
                    line: year_line,
                    message: format!("year {} is out of range", entry.year.get_ref()),
                })?;
            if years.contains_key(&year) {
                return Err(SlaError::HolidayEntry {
                    line: year_line,
                    message: format!("year {year} is listed twice"),
                });
            }
            let mut out = HolidayYear {
                source: entry.source,
                ..HolidayYear::default()
            };
            for (is_holiday, list) in [(true, &entry.holidays), (false, &entry.workdays)] {
                for item in list {
                    let line = line_of(text, item.span().start);
                    let dates = entry_dates(item.get_ref(), year)
                        .map_err(|message| SlaError::HolidayEntry { line, message })?;
                    for d in dates {
                        if let Some((was_holiday, first_line)) = seen.get(&d) {
                            if *was_holiday != is_holiday {
                                return Err(SlaError::HolidayEntry {
                                    line,
                                    message: format!(
                                        "date {d} is both a holiday and a make-up workday (also at line {first_line})"
                                    ),
                                });
                            }
                        } else {
                            seen.insert(d, (is_holiday, line));
                        }
                        if is_holiday {
                            out.holidays.insert(d);
                        } else {
                            out.workdays.insert(d);
                        }
                    }
                }
            }
            years.insert(year, out);
        }
        Ok(HolidayTable { years })
    }

    /// The table shipped with kefu ([`CN_HOLIDAYS_TOML`]): China's State
    /// Council arrangements for the years listed in that file.
    pub fn cn_builtin() -> Self {
        // The shipped file is checked by the crate's tests; should it ever be
        // broken, fall back to an empty table rather than panic.
        Self::from_toml(CN_HOLIDAYS_TOML).unwrap_or_default()
    }

    /// The years the table has entries for, in order.
    pub fn years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.keys().copied()
    }

    /// The entry of one year.
    pub fn year(&self, year: i32) -> Option<&HolidayYear> {
        self.years.get(&year)
    }

    /// Whether the table has an entry for `year` (dates of other years are
    /// treated as ordinary days, which is usually wrong for China: supply a
    /// table for them).
    pub fn covers(&self, year: i32) -> bool {
        self.years.contains_key(&year)
    }

    /// Whether `date` is a holiday according to any entry.
    pub fn is_holiday(&self, date: NaiveDate) -> bool {
        self.years.values().any(|y| y.holidays.contains(&date))
    }

    /// Whether `date` is a make-up workday according to any entry.
    pub fn is_workday(&self, date: NaiveDate) -> bool {
        self.years.values().any(|y| y.workdays.contains(&date))
    }

    /// All holidays, in order.
    pub fn holidays(&self) -> BTreeSet<NaiveDate> {
        self.years
            .values()
            .flat_map(|y| y.holidays.iter().copied())
            .collect()
    }

    /// All make-up workdays, in order.
    pub fn workdays(&self) -> BTreeSet<NaiveDate> {
        self.years
            .values()
            .flat_map(|y| y.workdays.iter().copied())
            .collect()
    }

    /// Adds or replaces the years of `other` (e.g. an operator's file for
    /// later years over the built-in table): a year present in both is taken
    /// from `other`.
    pub fn merge(&mut self, other: HolidayTable) {
        self.years.extend(other.years);
    }
}
