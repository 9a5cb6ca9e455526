//! SLA clocks for complaints: business calendars, holiday tables, targets
//! and breach / near-breach evaluation.
//!
//! The complaint standard asks for a first reply within 12 hours and a
//! resolution within 48 hours. Operators may count only business hours
//! (several periods a day, e.g. 09:00–12:00 and 13:30–18:00), skip public
//! holidays, count China's make-up workdays (调休上班, e.g. a Saturday that is
//! a working day), stop the clock while waiting on the customer, and give
//! special / difficult complaints (特殊疑难) their own targets.
//!
//! Everything here is pure and deterministic: no I/O, no global clock. The
//! current instant is always passed in as `now`.
//!
//! # Time zones
//!
//! Every instant going in or out is a [`DateTime<Utc>`]. A
//! [`BusinessCalendar`] carries one fixed UTC offset (default `+08:00`, no
//! daylight-saving time) that says which wall-clock time and which calendar
//! day an instant falls on; business-hours periods and holiday dates are read
//! in that local time.
//!
//! # Pauses
//!
//! Waiting on the customer is recorded as a list of [`Pause`]s, each a start
//! instant and an optional end (`None` = still waiting). Pauses may overlap,
//! start before the complaint was opened or be recorded in any order: they
//! are clipped and merged, so no time is subtracted twice.
//!
//! # Example
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use kefu_service::sla::{evaluate, BusinessCalendar, SlaInput, SlaPolicy, SlaState};
//!
//! let policy = SlaPolicy::default(); // 12 h reply, 48 h resolution, 24×7
//! let calendar = BusinessCalendar::default();
//! let opened = Utc.with_ymd_and_hms(2026, 3, 9, 1, 0, 0).unwrap();
//! let input = SlaInput::new(opened);
//! let now = Utc.with_ymd_and_hms(2026, 3, 9, 11, 0, 0).unwrap(); // 10 h later
//! let report = evaluate(&policy, &calendar, &input, now);
//! assert_eq!(report.first_reply.state, SlaState::NearBreach); // ≥ 80 % of 12 h
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use chrono::{
    DateTime, Datelike, Days, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc,
    Weekday,
};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// The built-in table of Chinese public holidays and make-up workdays
/// (`data/cn-holidays.toml`), in the format read by
/// [`HolidayTable::from_toml`]. It covers the years listed in the file's
/// header; [`HolidayTable::cn_builtin`] parses it.
pub const CN_HOLIDAYS_TOML: &str = include_str!("../data/cn-holidays.toml");

const ZERO: TimeDelta = TimeDelta::zero();
const DAY: TimeDelta = TimeDelta::days(1);
const NANOS_PER_SEC: i128 = 1_000_000_000;

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// What can go wrong when building calendars, reading holiday tables or
/// validating SLA settings.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SlaError {
    /// A business-hours period could not be read or is empty.
    #[error("invalid business-hours period {text:?}: {reason}")]
    InvalidPeriod {
        /// The period as given.
        text: String,
        /// Why it was refused.
        reason: String,
    },
    /// Two business-hours periods of the same day overlap.
    #[error("business-hours periods {first} and {second} overlap")]
    OverlappingPeriods {
        /// The earlier period.
        first: Period,
        /// The period overlapping it.
        second: Period,
    },
    /// A business-hours calendar has no working time in an ordinary week, so
    /// no deadline could ever be reached.
    #[error("the business calendar has no working time on any weekday; deadlines could never be reached")]
    NoWorkingTime,
    /// A UTC offset could not be read.
    #[error("invalid UTC offset {0:?}: expected a form like \"+08:00\"")]
    InvalidOffset(String),
    /// A duration could not be read (durations are written like `"12h"`,
    /// `"1h30m"`, `"2d"` or as a number of seconds).
    #[error("invalid duration {text:?}: {reason}")]
    InvalidDuration {
        /// The duration as given.
        text: String,
        /// Why it was refused.
        reason: String,
    },
    /// A target duration is negative.
    #[error("SLA target {name} must not be negative")]
    NegativeTarget {
        /// Which target (`first_reply`, `special.resolution`, …).
        name: &'static str,
    },
    /// The near-breach ratio is not a number in `0..=1`.
    #[error("near_breach_ratio must be a number between 0 and 1, got {0}")]
    InvalidRatio(f64),
    /// A calendar lists the same date both as a holiday and as a make-up
    /// workday.
    #[error("date {0} is listed both as a holiday and as a make-up workday")]
    ConflictingDate(NaiveDate),
    /// A calendar specification is inconsistent.
    #[error("invalid calendar: {0}")]
    InvalidCalendar(String),
    /// A holiday table is not valid TOML or does not have the expected shape.
    #[error("invalid holiday table{}: {message}", at_line(.line))]
    HolidayToml {
        /// 1-based line of the problem, when known.
        line: Option<usize>,
        /// What the TOML reader said.
        message: String,
    },
    /// An entry of a holiday table is wrong (bad date, reversed range, a date
    /// both a holiday and a workday, a repeated year, …).
    #[error("invalid holiday table at line {line}: {message}")]
    HolidayEntry {
        /// 1-based line of the entry.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
}

fn at_line(line: &Option<usize>) -> String {
    match line {
        Some(l) => format!(" at line {l}"),
        None => String::new(),
    }
}

// ---------------------------------------------------------------------------
// Duration helpers and their text form
// ---------------------------------------------------------------------------

fn nanos(d: TimeDelta) -> i128 {
    i128::from(d.num_seconds()) * NANOS_PER_SEC + i128::from(d.subsec_nanos())
}

/// Converts nanoseconds back to a `TimeDelta`, saturating at its range.
fn from_nanos(n: i128) -> TimeDelta {
    let secs = n.div_euclid(NANOS_PER_SEC);
    let sub = n.rem_euclid(NANOS_PER_SEC);
    let sub = u32::try_from(sub).unwrap_or(0);
    match i64::try_from(secs)
        .ok()
        .and_then(|s| TimeDelta::new(s, sub))
    {
        Some(d) => d,
        None if n < 0 => TimeDelta::MIN,
        None => TimeDelta::MAX,
    }
}

fn mul(d: TimeDelta, k: i128) -> TimeDelta {
    from_nanos(nanos(d).saturating_mul(k))
}

/// Reads a duration written as a sequence of `<number><unit>` parts with the
/// units `d`, `h`, `m`, `s`, `ms`, `us`, `ns` (e.g. `"12h"`, `"1h30m"`,
/// `"2d"`), or as a bare number of seconds (`"3600"`).
///
/// # Errors
///
/// [`SlaError::InvalidDuration`] for empty text, unknown units, negative
/// values or values out of range.
pub fn parse_duration(text: &str) -> Result<TimeDelta, SlaError> {
    let bad = |reason: &str| SlaError::InvalidDuration {
        text: text.to_owned(),
        reason: reason.to_owned(),
    };
    let s = text.trim();
    if s.is_empty() {
        return Err(bad("empty"));
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        let secs: i64 = s.parse().map_err(|_| bad("out of range"))?;
        return TimeDelta::try_seconds(secs).ok_or_else(|| bad("out of range"));
    }
    let mut total: i128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        rest = rest.trim_start();
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad("expected a number, e.g. \"12h\" or \"1h30m\""));
        }
        let (number, after) = rest.split_at(digits);
        let value: i128 = number.parse().map_err(|_| bad("number out of range"))?;
        let after = after.trim_start();
        let unit_len = after.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, after) = after.split_at(unit_len);
        let scale: i128 = match unit.to_ascii_lowercase().as_str() {
            "d" => 86_400 * NANOS_PER_SEC,
            "h" => 3_600 * NANOS_PER_SEC,
            "m" | "min" => 60 * NANOS_PER_SEC,
            "s" => NANOS_PER_SEC,
            "ms" => 1_000_000,
            "us" => 1_000,
            "ns" => 1,
            "" => return Err(bad("missing unit (d, h, m, s, ms, us, ns)")),
            _ => return Err(bad("unknown unit (expected d, h, m, s, ms, us or ns)")),
        };
        total = value
            .checked_mul(scale)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| bad("out of range"))?;
        rest = after;
    }
    let d = from_nanos(total);
    if nanos(d) != total {
        return Err(bad("out of range"));
    }
    Ok(d)
}

/// Writes a duration in the form read by [`parse_duration`], using hours as
/// the largest unit: `"12h"`, `"1h30m"`, `"0s"`; negative durations get a
/// leading `-` (which [`parse_duration`] refuses).
pub fn format_duration(d: TimeDelta) -> String {
    let n = nanos(d);
    if n == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    if n < 0 {
        out.push('-');
    }
    let mut rest = n.unsigned_abs();
    for (unit, scale) in [
        ("h", 3_600_000_000_000u128),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
        ("ns", 1),
    ] {
        let part = rest / scale;
        rest %= scale;
        if part > 0 {
            out.push_str(&part.to_string());
            out.push_str(unit);
        }
    }
    out
}

/// Serde for `Option<TimeDelta>` as text: `"12h"`, or `"none"` for no target.
/// Also reads a number of seconds and a JSON `null`.
mod opt_duration {
    use super::*;

    pub(super) fn serialize<S: Serializer>(
        value: &Option<TimeDelta>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => serializer.serialize_str(&format_duration(*d)),
            None => serializer.serialize_str("none"),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<TimeDelta>, D::Error> {
        deserializer.deserialize_any(OptDurationVisitor)
    }

    struct OptDurationVisitor;

    impl<'de> Visitor<'de> for OptDurationVisitor {
        type Value = Option<TimeDelta>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration like \"12h\" or \"1h30m\", a number of seconds, or \"none\"")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            match v.trim().to_ascii_lowercase().as_str() {
                "none" | "off" => Ok(None),
                _ => parse_duration(v).map(Some).map_err(E::custom),
            }
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            i64::try_from(v)
                .ok()
                .and_then(TimeDelta::try_seconds)
                .map(Some)
                .ok_or_else(|| E::custom(format!("duration of {v} seconds is out of range")))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            match u64::try_from(v) {
                Ok(v) => self.visit_u64(v),
                Err(_) => Err(E::custom("a duration must not be negative")),
            }
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }
}

/// Serde for a plain `TimeDelta` as text (`"11h30m"`), used by reports.
mod duration_text {
    use super::*;

    pub(super) fn serialize<S: Serializer>(value: &TimeDelta, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(*value))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TimeDelta, D::Error> {
        match opt_duration::deserialize(d)? {
            Some(v) => Ok(v),
            None => Ok(ZERO),
        }
    }
}

// ---------------------------------------------------------------------------
// Period
// ---------------------------------------------------------------------------

/// One business-hours period of a day, e.g. 09:00–12:00, in the calendar's
/// local time. The end is exclusive; an end of 24:00 (written `"24:00"`, or
/// `00:00` in [`Period::new`]) means midnight at the end of the day.
///
/// Its text form (also its serde form) is `"09:00-12:00"`; seconds may be
/// given (`"09:00:30-12:00"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Period {
    /// Offset of the start from local midnight.
    start: TimeDelta,
    /// Offset of the end from local midnight, `start < end <= 24h`.
    end: TimeDelta,
}

impl Period {
    /// The whole day, 00:00–24:00.
    pub const WHOLE_DAY: Period = Period {
        start: ZERO,
        end: DAY,
    };

    /// A period from `start` to `end` (exclusive). An `end` of `00:00`
    /// means midnight at the end of the day, so `00:00`–`00:00` is the whole
    /// day.
    ///
    /// # Errors
    ///
    /// [`SlaError::InvalidPeriod`] when `end` is not after `start`.
    pub fn new(start: NaiveTime, end: NaiveTime) -> Result<Self, SlaError> {
        let s = start.signed_duration_since(NaiveTime::MIN);
        let e = if end == NaiveTime::MIN {
            DAY
        } else {
            end.signed_duration_since(NaiveTime::MIN)
        };
        Self::from_offsets(s, e).ok_or_else(|| SlaError::InvalidPeriod {
            text: format!("{start}-{end}"),
            reason: "the end must be after the start".to_owned(),
        })
    }

    /// A period from hours and minutes, e.g. `Period::hm(13, 30, 18, 0)`;
    /// `24:00` is allowed as the end.
    ///
    /// # Errors
    ///
    /// [`SlaError::InvalidPeriod`] for an invalid time or an end not after
    /// the start.
    pub fn hm(start_h: u32, start_m: u32, end_h: u32, end_m: u32) -> Result<Self, SlaError> {
        let bad = |reason: &str| SlaError::InvalidPeriod {
            text: format!("{start_h:02}:{start_m:02}-{end_h:02}:{end_m:02}"),
            reason: reason.to_owned(),
        };
        let offset = |h: u32, m: u32| -> Option<TimeDelta> {
            if m >= 60 || h > 24 || (h == 24 && m != 0) {
                return None;
            }
            Some(TimeDelta::minutes(i64::from(h * 60 + m)))
        };
        let s = offset(start_h, start_m).ok_or_else(|| bad("invalid start time"))?;
        let e = offset(end_h, end_m).ok_or_else(|| bad("invalid end time"))?;
        Self::from_offsets(s, e).ok_or_else(|| bad("the end must be after the start"))
    }

    fn from_offsets(start: TimeDelta, end: TimeDelta) -> Option<Self> {
        (ZERO <= start && start < end && end <= DAY).then_some(Period { start, end })
    }

    /// The local wall-clock start.
    pub fn start(&self) -> NaiveTime {
        NaiveTime::MIN.overflowing_add_signed(self.start).0
    }

    /// The local wall-clock end (exclusive); `00:00` stands for 24:00.
    pub fn end(&self) -> NaiveTime {
        NaiveTime::MIN.overflowing_add_signed(self.end).0
    }

    /// How long the period lasts.
    pub fn length(&self) -> TimeDelta {
        self.end - self.start
    }
}

fn parse_clock(text: &str, allow_24: bool) -> Option<TimeDelta> {
    let t = text.trim();
    if allow_24 && matches!(t, "24:00" | "24:00:00") {
        return Some(DAY);
    }
    NaiveTime::from_str(t)
        .ok()
        .map(|t| t.signed_duration_since(NaiveTime::MIN))
}

fn fmt_clock(f: &mut fmt::Formatter<'_>, offset: TimeDelta) -> fmt::Result {
    let secs = offset.num_seconds();
    let sub = offset.subsec_nanos();
    write!(f, "{:02}:{:02}", secs / 3600, secs / 60 % 60)?;
    if secs % 60 != 0 || sub != 0 {
        write!(f, ":{:02}", secs % 60)?;
    }
    if sub != 0 {
        write!(f, ".{sub:09}")?;
    }
    Ok(())
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_clock(f, self.start)?;
        f.write_str("-")?;
        fmt_clock(f, self.end)
    }
}

impl FromStr for Period {
    type Err = SlaError;

    /// Reads `"09:00-12:00"` (also with `–` or `~` between the times).
    fn from_str(text: &str) -> Result<Self, SlaError> {
        let bad = |reason: &str| SlaError::InvalidPeriod {
            text: text.to_owned(),
            reason: reason.to_owned(),
        };
        let (a, b) = text
            .split_once(['-', '–', '~'])
            .ok_or_else(|| bad("expected \"HH:MM-HH:MM\""))?;
        let s = parse_clock(a, false).ok_or_else(|| bad("invalid start time"))?;
        let e = parse_clock(b, true).ok_or_else(|| bad("invalid end time"))?;
        let e = if e == ZERO { DAY } else { e };
        Self::from_offsets(s, e).ok_or_else(|| bad("the end must be after the start"))
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(de::Error::custom)
    }
}

/// Sorts periods and checks that they do not overlap (touching is fine).
fn normalise_periods(periods: &[Period]) -> Result<Vec<Period>, SlaError> {
    let mut v = periods.to_vec();
    v.sort();
    for pair in v.windows(2) {
        if let [a, b] = pair {
            if b.start < a.end {
                return Err(SlaError::OverlappingPeriods {
                    first: *a,
                    second: *b,
                });
            }
        }
    }
    Ok(v)
}

fn day_total(periods: &[Period]) -> TimeDelta {
    periods.iter().fold(ZERO, |acc, p| acc + p.length())
}

/// Working time of `periods` inside `[from, to)` (offsets from midnight).
fn overlap(periods: &[Period], from: TimeDelta, to: TimeDelta) -> TimeDelta {
    periods.iter().fold(ZERO, |acc, p| {
        let s = p.start.max(from);
        let e = p.end.min(to);
        if e > s {
            acc + (e - s)
        } else {
            acc
        }
    })
}

/// Walks `periods` from offset `from`, consuming `rem` of working time.
/// `Ok(offset)` is the earliest offset at which `rem` is used up; `Err(used)`
/// is how much the day provided when it was not enough.
fn walk_day(periods: &[Period], from: TimeDelta, rem: TimeDelta) -> Result<TimeDelta, TimeDelta> {
    let mut used = ZERO;
    for p in periods {
        let s = p.start.max(from);
        if p.end <= s {
            continue;
        }
        let avail = p.end - s;
        let need = rem - used;
        if avail >= need {
            return Ok(s + need);
        }
        used += avail;
    }
    Err(used)
}

// ---------------------------------------------------------------------------
// Business calendar
// ---------------------------------------------------------------------------

fn weekday_index(w: Weekday) -> usize {
    w.num_days_from_monday() as usize
}

/// China Standard Time, `+08:00`: the default UTC offset of kefu calendars.
pub const CHINA_STANDARD_TIME: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
    Some(offset) => offset,
    None => panic!("+08:00 is a valid UTC offset"),
};

/// Reads a UTC offset such as `"+08:00"`, `"+0800"`, `"+08"`, `"-05:30"`,
/// `"Z"` or `"UTC"`.
///
/// # Errors
///
/// [`SlaError::InvalidOffset`] when the text is not such an offset.
pub fn parse_utc_offset(text: &str) -> Result<FixedOffset, SlaError> {
    let bad = || SlaError::InvalidOffset(text.to_owned());
    let t = text.trim();
    if t.eq_ignore_ascii_case("z") || t.eq_ignore_ascii_case("utc") {
        return FixedOffset::east_opt(0).ok_or_else(bad);
    }
    let (sign, rest) = match t.as_bytes().first() {
        Some(b'+') => (1, &t[1..]),
        Some(b'-') => (-1, &t[1..]),
        _ => return Err(bad()),
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !(digits.len() == 2 || digits.len() == 4) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let h: i32 = digits[..2].parse().map_err(|_| bad())?;
    let m: i32 = if digits.len() == 4 {
        digits[2..].parse().map_err(|_| bad())?
    } else {
        0
    };
    if h > 23 || m > 59 || (rest.contains(':') && (rest.find(':') != Some(2) || rest.len() != 5)) {
        return Err(bad());
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60)).ok_or_else(bad)
}

/// Writes a UTC offset as `"+08:00"` (seconds are dropped).
pub fn format_utc_offset(offset: FixedOffset) -> String {
    let secs = offset.local_minus_utc();
    let sign = if secs < 0 { '-' } else { '+' };
    let abs = secs.unsigned_abs();
    format!("{sign}{:02}:{:02}", abs / 3600, abs / 60 % 60)
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct WeekHours {
    /// Periods per weekday, Monday first; each list sorted, non-overlapping.
    week: [Vec<Period>; 7],
    /// Periods of make-up workdays; `None` = those of the first weekday
    /// (Monday first) that has any.
    makeup: Option<Vec<Period>>,
}

impl WeekHours {
    fn week_total(&self) -> TimeDelta {
        self.week.iter().fold(ZERO, |acc, p| acc + day_total(p))
    }

    fn makeup(&self) -> &[Period] {
        match &self.makeup {
            Some(p) => p,
            None => self
                .week
                .iter()
                .find(|p| !p.is_empty())
                .map_or(&[], Vec::as_slice),
        }
    }
}

/// When time counts for an SLA: either around the clock (24×7, the
/// default) or only in business hours, with holidays and make-up workdays.
///
/// * Business hours are a list of [`Period`]s per weekday (by default
///   Monday–Friday).
/// * `holidays` are days off even when they fall on a weekday.
/// * `workdays` are make-up workdays (调休上班) that count even on a weekend;
///   they use the make-up periods (by default those of Monday, or of the
///   first weekday that has any).
/// * Holidays and workdays only matter in business-hours mode.
/// * Local time is a fixed UTC offset (default `+08:00`); instants in and out
///   are UTC.
///
/// Invariant: a business-hours calendar has some working time in an
/// ordinary week, so every deadline exists.
///
/// Serde uses the [`CalendarSpec`] form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "CalendarSpec", into = "CalendarSpec")]
pub struct BusinessCalendar {
    offset: FixedOffset,
    hours: Option<WeekHours>,
    holidays: BTreeSet<NaiveDate>,
    workdays: BTreeSet<NaiveDate>,
}

impl Default for BusinessCalendar {
    /// 24×7 at `+08:00`.
    fn default() -> Self {
        Self::always_open()
    }
}

impl BusinessCalendar {
    /// A calendar where all time counts (24×7), at `+08:00`.
    pub fn always_open() -> Self {
        BusinessCalendar {
            offset: CHINA_STANDARD_TIME,
            hours: None,
            holidays: BTreeSet::new(),
            workdays: BTreeSet::new(),
        }
    }

    /// A business-hours calendar with `periods` on Monday–Friday, nothing at
    /// the weekend, no holidays yet, at `+08:00`.
    ///
    /// ```
    /// use kefu_service::sla::{BusinessCalendar, Period};
    /// let cal = BusinessCalendar::business_hours(&[
    ///     Period::hm(9, 0, 12, 0).unwrap(),
    ///     Period::hm(13, 30, 18, 0).unwrap(),
    /// ]).unwrap();
    /// # let _ = cal;
    /// ```
    ///
    /// # Errors
    ///
    /// [`SlaError::OverlappingPeriods`], or [`SlaError::NoWorkingTime`] when
    /// `periods` is empty.
    pub fn business_hours(periods: &[Period]) -> Result<Self, SlaError> {
        let day = normalise_periods(periods)?;
        let mut week: [Vec<Period>; 7] = Default::default();
        for slot in week.iter_mut().take(5) {
            slot.clone_from(&day);
        }
        let hours = WeekHours { week, makeup: None };
        if hours.week_total() <= ZERO {
            return Err(SlaError::NoWorkingTime);
        }
        Ok(BusinessCalendar {
            offset: CHINA_STANDARD_TIME,
            hours: Some(hours),
            holidays: BTreeSet::new(),
            workdays: BTreeSet::new(),
        })
    }

    /// Sets the UTC offset of local time.
    pub fn with_utc_offset(mut self, offset: FixedOffset) -> Self {
        self.offset = offset;
        self
    }

    /// Sets the periods of one weekday (an empty list = day off). Turns a
    /// 24×7 calendar into a business-hours one with no other working days.
    ///
    /// # Errors
    ///
    /// [`SlaError::OverlappingPeriods`], or [`SlaError::NoWorkingTime`] when
    /// no weekday has any working time afterwards.
    pub fn with_weekday(mut self, weekday: Weekday, periods: &[Period]) -> Result<Self, SlaError> {
        let day = normalise_periods(periods)?;
        let hours = self.hours.get_or_insert_with(|| WeekHours {
            week: Default::default(),
            makeup: None,
        });
        hours.week[weekday_index(weekday)] = day;
        if hours.week_total() <= ZERO {
            return Err(SlaError::NoWorkingTime);
        }
        Ok(self)
    }

    /// Sets the periods used on make-up workdays (by default those of
    /// Monday, or of the first weekday that has any). Has no effect on a
    /// 24×7 calendar.
    ///
    /// # Errors
    ///
    /// [`SlaError::OverlappingPeriods`].
    pub fn with_makeup_periods(mut self, periods: &[Period]) -> Result<Self, SlaError> {
        let day = normalise_periods(periods)?;
        if let Some(hours) = &mut self.hours {
            hours.makeup = Some(day);
        }
        Ok(self)
    }

    /// Adds a day off (removing it from the make-up workdays if present).
    pub fn with_holiday(mut self, date: NaiveDate) -> Self {
        self.workdays.remove(&date);
        self.holidays.insert(date);
        self
    }

    /// Adds a make-up workday (removing it from the holidays if present).
    pub fn with_workday(mut self, date: NaiveDate) -> Self {
        self.holidays.remove(&date);
        self.workdays.insert(date);
        self
    }

    /// Adds every holiday and make-up workday of `table`; where a date was
    /// already present with the other meaning, the table wins.
    pub fn with_holiday_table(mut self, table: &HolidayTable) -> Self {
        for year in table.years.values() {
            for d in &year.holidays {
                self.workdays.remove(d);
                self.holidays.insert(*d);
            }
            for d in &year.workdays {
                self.holidays.remove(d);
                self.workdays.insert(*d);
            }
        }
        self
    }

    /// The UTC offset of local time.
    pub fn utc_offset(&self) -> FixedOffset {
        self.offset
    }

    /// Whether all time counts (24×7).
    pub fn is_always_open(&self) -> bool {
        self.hours.is_none()
    }

    /// The holidays (days off) known to the calendar.
    pub fn holidays(&self) -> &BTreeSet<NaiveDate> {
        &self.holidays
    }

    /// The make-up workdays known to the calendar.
    pub fn workdays(&self) -> &BTreeSet<NaiveDate> {
        &self.workdays
    }

    /// The periods of a weekday in an ordinary week (the whole day when
    /// 24×7).
    pub fn weekday_periods(&self, weekday: Weekday) -> &[Period] {
        match &self.hours {
            None => std::slice::from_ref(&Period::WHOLE_DAY),
            Some(h) => &h.week[weekday_index(weekday)],
        }
    }

    /// The working periods of a local date, holidays and make-up workdays
    /// taken into account (the whole day when 24×7).
    pub fn periods_on(&self, date: NaiveDate) -> &[Period] {
        match &self.hours {
            None => std::slice::from_ref(&Period::WHOLE_DAY),
            Some(h) => {
                if self.workdays.contains(&date) {
                    h.makeup()
                } else if self.holidays.contains(&date) {
                    &[]
                } else {
                    &h.week[weekday_index(date.weekday())]
                }
            }
        }
    }

    /// Whether any time counts on a local date.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        !self.periods_on(date).is_empty()
    }

    /// The local date and wall-clock time of an instant.
    pub fn local(&self, t: DateTime<Utc>) -> NaiveDateTime {
        match t.naive_utc().checked_add_offset(self.offset) {
            Some(l) => l,
            None if self.offset.local_minus_utc() > 0 => NaiveDateTime::MAX,
            None => NaiveDateTime::MIN,
        }
    }

    fn to_utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        match local.checked_sub_offset(self.offset) {
            Some(n) => n.and_utc(),
            None if local.year() < 1970 => DateTime::<Utc>::MIN_UTC,
            None => DateTime::<Utc>::MAX_UTC,
        }
    }

    fn at(&self, date: NaiveDate, offset: TimeDelta) -> DateTime<Utc> {
        match date.and_time(NaiveTime::MIN).checked_add_signed(offset) {
            Some(l) => self.to_utc(l),
            None => DateTime::<Utc>::MAX_UTC,
        }
    }

    /// The first holiday or make-up workday on or after `from`.
    fn next_special(&self, from: NaiveDate) -> Option<NaiveDate> {
        let h = self.holidays.range(from..).next();
        let w = self.workdays.range(from..).next();
        match (h, w) {
            (Some(a), Some(b)) => Some(*a.min(b)),
            (a, b) => a.or(b).copied(),
        }
    }

    /// Working time of the whole local days `[a, b)` that contain no holiday
    /// or make-up workday: whole weeks at once, then the rest day by day.
    fn ordinary_days(hours: &WeekHours, a: NaiveDate, b: NaiveDate) -> TimeDelta {
        let n = b.signed_duration_since(a).num_days();
        if n <= 0 {
            return ZERO;
        }
        let mut total = mul(hours.week_total(), i128::from(n / 7));
        let mut wd = a.weekday();
        for _ in 0..n % 7 {
            total += day_total(&hours.week[weekday_index(wd)]);
            wd = wd.succ();
        }
        total
    }

    /// Working time of the whole local days `[a, b)`.
    fn whole_days(&self, hours: &WeekHours, a: NaiveDate, b: NaiveDate) -> TimeDelta {
        let mut total = ZERO;
        let mut cur = a;
        while cur < b {
            let next = self.next_special(cur).filter(|d| *d < b).unwrap_or(b);
            total += Self::ordinary_days(hours, cur, next);
            if next >= b {
                break;
            }
            total += day_total(self.periods_on(next));
            match next.succ_opt() {
                Some(n) => cur = n,
                None => break,
            }
        }
        total
    }

    /// Working time between two instants (zero when `to <= from`).
    ///
    /// Runs in time proportional to the number of holidays and make-up
    /// workdays between the two instants, not to their distance.
    pub fn business_duration(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
        if to <= from {
            return ZERO;
        }
        let Some(hours) = &self.hours else {
            return to.signed_duration_since(from);
        };
        let (lf, lt) = (self.local(from), self.local(to));
        let (df, dt) = (lf.date(), lt.date());
        let off_f = lf.time().signed_duration_since(NaiveTime::MIN);
        let off_t = lt.time().signed_duration_since(NaiveTime::MIN);
        if df == dt {
            return overlap(self.periods_on(df), off_f, off_t);
        }
        let mut total =
            overlap(self.periods_on(df), off_f, DAY) + overlap(self.periods_on(dt), ZERO, off_t);
        if let Some(next) = df.succ_opt() {
            total += self.whole_days(hours, next, dt);
        }
        total
    }

    /// The earliest instant at which `d` of working time has elapsed after
    /// `start` — the deadline of a target `d` for a clock started at
    /// `start`. A zero or negative `d` gives `start`; a deadline that falls
    /// exactly at the end of a period is that end, not the next period's
    /// start.
    ///
    /// Whole weeks between holidays / make-up workdays are skipped at once,
    /// so long durations cost no more than short ones. Saturates at
    /// [`DateTime::<Utc>::MAX_UTC`].
    ///
    /// `business_duration(start, add_business(start, d)) == d` for any
    /// `d >= 0` whose deadline is in range.
    pub fn add_business(&self, start: DateTime<Utc>, d: TimeDelta) -> DateTime<Utc> {
        if d <= ZERO {
            return start;
        }
        let Some(hours) = &self.hours else {
            return start
                .checked_add_signed(d)
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
        };
        let week = nanos(hours.week_total());
        let local = self.local(start);
        let mut date = local.date();
        let mut rem = d;
        let off = local.time().signed_duration_since(NaiveTime::MIN);
        match walk_day(self.periods_on(date), off, rem) {
            Ok(end) => return self.at(date, end),
            Err(used) => rem -= used,
        }
        loop {
            // Here rem > 0: walk_day only fails when the day gave less.
            let Some(next) = date.succ_opt() else {
                return DateTime::<Utc>::MAX_UTC;
            };
            date = next;
            let special = self.next_special(date);
            if week > 0 {
                // Skip whole ordinary weeks while more than a week remains.
                let gap_weeks = special.map_or(i128::MAX, |s| {
                    i128::from(s.signed_duration_since(date).num_days() / 7)
                });
                let k = ((nanos(rem) - 1) / week).min(gap_weeks);
                if k > 0 {
                    let Some(skipped) = u64::try_from(k * 7)
                        .ok()
                        .and_then(|days| date.checked_add_days(Days::new(days)))
                    else {
                        return DateTime::<Utc>::MAX_UTC;
                    };
                    date = skipped;
                    rem -= mul(hours.week_total(), k);
                }
            } else if special.is_none() {
                // Not reachable through the public API (invariant), but never
                // loop forever.
                return DateTime::<Utc>::MAX_UTC;
            }
            match walk_day(self.periods_on(date), ZERO, rem) {
                Ok(end) => return self.at(date, end),
                Err(used) => rem -= used,
            }
        }
    }
}

/// The serde form of a [`BusinessCalendar`], e.g. in TOML:
///
/// ```toml
/// utc_offset = "+08:00"
/// always_open = false
/// mon = ["09:00-12:00", "13:30-18:00"]
/// tue = ["09:00-12:00", "13:30-18:00"]
/// # … wed, thu, fri, sat, sun (missing = day off)
/// makeup = ["09:00-12:00", "13:30-18:00"]   # optional
/// holidays = ["2026-10-01"]
/// workdays = ["2026-10-10"]
/// ```
///
/// Every field is optional; the default is 24×7 at `+08:00`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CalendarSpec {
    /// Local time's UTC offset, e.g. `"+08:00"`.
    pub utc_offset: String,
    /// `true` = all time counts (24×7); the weekday lists must then be empty.
    pub always_open: bool,
    /// Monday's periods.
    pub mon: Vec<Period>,
    /// Tuesday's periods.
    pub tue: Vec<Period>,
    /// Wednesday's periods.
    pub wed: Vec<Period>,
    /// Thursday's periods.
    pub thu: Vec<Period>,
    /// Friday's periods.
    pub fri: Vec<Period>,
    /// Saturday's periods.
    pub sat: Vec<Period>,
    /// Sunday's periods.
    pub sun: Vec<Period>,
    /// Periods of make-up workdays; missing = those of the first weekday
    /// (Monday first) that has any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub makeup: Option<Vec<Period>>,
    /// Days off.
    pub holidays: BTreeSet<NaiveDate>,
    /// Make-up workdays.
    pub workdays: BTreeSet<NaiveDate>,
}

impl Default for CalendarSpec {
    fn default() -> Self {
        BusinessCalendar::default().into()
    }
}

impl From<BusinessCalendar> for CalendarSpec {
    fn from(cal: BusinessCalendar) -> Self {
        let (always_open, week, makeup) = match cal.hours {
            None => (true, Default::default(), None),
            Some(h) => (false, h.week, h.makeup),
        };
        let [mon, tue, wed, thu, fri, sat, sun] = week;
        CalendarSpec {
            utc_offset: format_utc_offset(cal.offset),
            always_open,
            mon,
            tue,
            wed,
            thu,
            fri,
            sat,
            sun,
            makeup,
            holidays: cal.holidays,
            workdays: cal.workdays,
        }
    }
}

impl TryFrom<CalendarSpec> for BusinessCalendar {
    type Error = SlaError;

    fn try_from(spec: CalendarSpec) -> Result<Self, SlaError> {
        let offset = parse_utc_offset(&spec.utc_offset)?;
        if let Some(d) = spec.holidays.intersection(&spec.workdays).next() {
            return Err(SlaError::ConflictingDate(*d));
        }
        let week = [
            spec.mon, spec.tue, spec.wed, spec.thu, spec.fri, spec.sat, spec.sun,
        ];
        let hours = if spec.always_open {
            if week.iter().any(|p| !p.is_empty()) || spec.makeup.is_some() {
                return Err(SlaError::InvalidCalendar(
                    "always_open = true, but business-hours periods are given".to_owned(),
                ));
            }
            None
        } else {
            let mut norm: [Vec<Period>; 7] = Default::default();
            for (slot, periods) in norm.iter_mut().zip(&week) {
                *slot = normalise_periods(periods)?;
            }
            let makeup = match &spec.makeup {
                Some(p) => Some(normalise_periods(p)?),
                None => None,
            };
            let hours = WeekHours { week: norm, makeup };
            if hours.week_total() <= ZERO {
                return Err(SlaError::NoWorkingTime);
            }
            Some(hours)
        };
        Ok(BusinessCalendar {
            offset,
            hours,
            holidays: spec.holidays,
            workdays: spec.workdays,
        })
    }
}

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
    years: BTreeMap<i32, HolidayYear>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    years: Vec<RawYear>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawYear {
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

fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

/// Reads one holiday-table entry into the dates it stands for.
fn entry_dates(value: &toml::Value, year: i32) -> Result<Vec<NaiveDate>, String> {
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

// ---------------------------------------------------------------------------
// Policy
// ---------------------------------------------------------------------------

/// A pair of targets. `None` means no target: the clock is shown but can
/// never breach.
///
/// Serde: durations as text (`"24h"`, `"1h30m"`) or `"none"`; both fields
/// are required.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaTargets {
    /// Time allowed until the first reply.
    #[serde(with = "opt_duration")]
    pub first_reply: Option<TimeDelta>,
    /// Time allowed until the complaint is resolved.
    #[serde(with = "opt_duration")]
    pub resolution: Option<TimeDelta>,
}

/// SLA settings, stored as JSON or TOML:
///
/// ```toml
/// first_reply = "12h"
/// resolution = "48h"
/// near_breach_ratio = 0.8
/// business_hours = false
/// special = { first_reply = "24h", resolution = "72h" }   # or "standard"
/// ```
///
/// Missing keys take the defaults; a target of `"none"` means no target.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlaPolicy {
    /// Target for the first reply (standard: 12 h).
    #[serde(with = "opt_duration")]
    pub first_reply: Option<TimeDelta>,
    /// Target for resolution (standard: 48 h).
    #[serde(with = "opt_duration")]
    pub resolution: Option<TimeDelta>,
    /// Share of a target after which a running clock is a near breach
    /// (default 0.8).
    pub near_breach_ratio: f64,
    /// Targets of special / difficult complaints (特殊疑难). `None` = they
    /// use the standard targets (serialised as `"standard"`). kefu's default
    /// is 24 h reply / 72 h resolution: the standard itself only says such
    /// cases are handled separately.
    #[serde(with = "special_targets")]
    pub special: Option<SlaTargets>,
    /// Count only the calendar's business hours (`false` = 24×7 regardless
    /// of the calendar).
    pub business_hours: bool,
}

impl Default for SlaPolicy {
    fn default() -> Self {
        SlaPolicy {
            first_reply: Some(TimeDelta::hours(12)),
            resolution: Some(TimeDelta::hours(48)),
            near_breach_ratio: 0.8,
            special: Some(SlaTargets {
                first_reply: Some(TimeDelta::hours(24)),
                resolution: Some(TimeDelta::hours(72)),
            }),
            business_hours: false,
        }
    }
}

impl SlaPolicy {
    /// The targets that apply to a complaint, special or not.
    pub fn targets(&self, special: bool) -> SlaTargets {
        match (special, self.special) {
            (true, Some(t)) => t,
            _ => SlaTargets {
                first_reply: self.first_reply,
                resolution: self.resolution,
            },
        }
    }

    /// Checks the settings: no negative target, a ratio in `0..=1`.
    ///
    /// # Errors
    ///
    /// [`SlaError::NegativeTarget`] or [`SlaError::InvalidRatio`].
    pub fn validate(&self) -> Result<(), SlaError> {
        let special = self.special.unwrap_or(SlaTargets {
            first_reply: None,
            resolution: None,
        });
        for (name, t) in [
            ("first_reply", self.first_reply),
            ("resolution", self.resolution),
            ("special.first_reply", special.first_reply),
            ("special.resolution", special.resolution),
        ] {
            if t.is_some_and(|t| t < ZERO) {
                return Err(SlaError::NegativeTarget { name });
            }
        }
        if !(0.0..=1.0).contains(&self.near_breach_ratio) {
            return Err(SlaError::InvalidRatio(self.near_breach_ratio));
        }
        Ok(())
    }
}

/// Serde for `SlaPolicy::special`: a table of targets, or `"standard"`.
mod special_targets {
    use super::*;

    pub(super) fn serialize<S: Serializer>(
        value: &Option<SlaTargets>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(t) => t.serialize(s),
            None => s.serialize_str("standard"),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<SlaTargets>, D::Error> {
        d.deserialize_any(SpecialVisitor)
    }

    struct SpecialVisitor;

    impl<'de> Visitor<'de> for SpecialVisitor {
        type Value = Option<SlaTargets>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a table with first_reply and resolution, or \"standard\"")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            if v.trim().eq_ignore_ascii_case("standard") {
                Ok(None)
            } else {
                Err(E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }

        fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            SlaTargets::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }
}

// ---------------------------------------------------------------------------
// Clock
// ---------------------------------------------------------------------------

/// A stretch of time during which the clock stops (waiting on the customer).
/// `end == None` means the complaint is still waiting. A pause whose end is
/// not after its start is ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    /// When the wait began.
    pub start: DateTime<Utc>,
    /// When it ended, `None` while still waiting.
    #[serde(default)]
    pub end: Option<DateTime<Utc>>,
}

impl Pause {
    /// A finished pause.
    pub fn closed(start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        Pause {
            start,
            end: Some(end),
        }
    }

    /// A pause still going on.
    pub fn open(start: DateTime<Utc>) -> Self {
        Pause { start, end: None }
    }
}

/// Where an SLA target stands.
///
/// Serde: internally tagged, e.g. `{"kind": "near_breach"}` or
/// `{"kind": "met", "on_time": true}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SlaState {
    /// The target was met (reply sent / resolved); `on_time` when the counted
    /// time then was within the target.
    Met {
        /// Whether `elapsed <= target` when it was met.
        on_time: bool,
    },
    /// Not met yet; the clock runs and less than the near-breach share of
    /// the target is used.
    Running,
    /// Not met yet, within the target, and the clock is stopped (waiting on
    /// the customer).
    Paused,
    /// Not met yet, running, and at least the near-breach share of the
    /// target is used (but not more than the target).
    NearBreach,
    /// Not met, and more than the target is used.
    Breached,
    /// There is no target for this clock.
    NoTarget,
}

impl SlaState {
    /// Whether the target was or is being missed: [`SlaState::Breached`] or
    /// a late [`SlaState::Met`].
    pub fn is_breach(&self) -> bool {
        matches!(self, SlaState::Breached | SlaState::Met { on_time: false })
    }

    /// Whether the target is still open (not met and a target exists).
    pub fn is_open(&self) -> bool {
        matches!(
            self,
            SlaState::Running | SlaState::Paused | SlaState::NearBreach | SlaState::Breached
        )
    }
}

/// The state of one SLA target at `now`.
///
/// Serde: durations as text (`"11h30m"`), instants as RFC 3339.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaStatus {
    /// The target (zero when [`SlaState::NoTarget`]).
    #[serde(with = "duration_text")]
    pub target: TimeDelta,
    /// Counted time from opening until it was met, or until `now`: pauses
    /// and (in business-hours mode) non-working time excluded.
    #[serde(with = "duration_text")]
    pub elapsed: TimeDelta,
    /// `target - elapsed`, never below zero (zero when no target).
    #[serde(with = "duration_text")]
    pub remaining: TimeDelta,
    /// The deadline: the earliest instant at which the counted time reaches
    /// the target, given the pauses on record. For a met target, pauses after
    /// it was met are ignored. `None` while paused, without a target, or when
    /// an open pause makes the deadline unknowable.
    pub due_at: Option<DateTime<Utc>>,
    /// The state.
    pub state: SlaState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Interval {
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
}

/// The SLA clock of one complaint: counts time from `opened_at` on the
/// calendar, minus pauses (clipped to the opening and merged, so overlapping
/// pauses count once).
#[derive(Clone, Debug)]
pub struct SlaClock<'a> {
    calendar: &'a BusinessCalendar,
    opened_at: DateTime<Utc>,
    /// Sorted, disjoint, all starting at or after `opened_at`.
    pauses: Vec<Interval>,
}

impl<'a> SlaClock<'a> {
    /// A clock on `calendar` started at `opened_at`, stopped during `pauses`.
    pub fn new(calendar: &'a BusinessCalendar, opened_at: DateTime<Utc>, pauses: &[Pause]) -> Self {
        let mut v: Vec<Interval> = pauses
            .iter()
            .filter_map(|p| {
                let start = p.start.max(opened_at);
                match p.end {
                    Some(e) if e <= start => None,
                    end => Some(Interval { start, end }),
                }
            })
            .collect();
        v.sort_by_key(|i| i.start);
        let mut merged: Vec<Interval> = Vec::with_capacity(v.len());
        for i in v {
            if let Some(last) = merged.last_mut() {
                if last.end.is_none_or(|e| i.start <= e) {
                    last.end = match (last.end, i.end) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        _ => None,
                    };
                    continue;
                }
            }
            merged.push(i);
        }
        SlaClock {
            calendar,
            opened_at,
            pauses: merged,
        }
    }

    /// When the clock started.
    pub fn opened_at(&self) -> DateTime<Utc> {
        self.opened_at
    }

    /// Counted time between the opening and `until`.
    pub fn counted(&self, until: DateTime<Utc>) -> TimeDelta {
        if until <= self.opened_at {
            return ZERO;
        }
        let cal = self.calendar;
        let mut total = cal.business_duration(self.opened_at, until);
        for p in &self.pauses {
            if p.start >= until {
                break;
            }
            let end = p.end.map_or(until, |e| e.min(until));
            total -= cal.business_duration(p.start, end);
        }
        total.max(ZERO)
    }

    /// Whether the clock is stopped at instant `t`.
    pub fn is_paused_at(&self, t: DateTime<Utc>) -> bool {
        self.pauses
            .iter()
            .any(|p| p.start <= t && p.end.is_none_or(|e| t < e))
    }

    /// The earliest instant at which the counted time reaches `target`,
    /// given all pauses on record; `None` when an open pause starts before
    /// that.
    pub fn due_at(&self, target: TimeDelta) -> Option<DateTime<Utc>> {
        self.deadline(target, None)
    }

    /// Like [`Self::due_at`], with pauses cut off at `cutoff` when given.
    fn deadline(&self, target: TimeDelta, cutoff: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        let cal = self.calendar;
        let mut cursor = self.opened_at;
        let mut rem = target.max(ZERO);
        for p in &self.pauses {
            let end = match cutoff {
                Some(c) if p.start >= c => break,
                Some(c) => Some(p.end.map_or(c, |e| e.min(c))),
                None => p.end,
            };
            let avail = cal.business_duration(cursor, p.start);
            if avail >= rem {
                return Some(cal.add_business(cursor, rem));
            }
            rem -= avail;
            cursor = end?;
        }
        Some(cal.add_business(cursor, rem))
    }

    /// The status of one target at `now`. `met_at` is when the target was
    /// met (first reply / resolution); a `met_at` after `now` is treated as
    /// not met yet. `near_breach_ratio` is the share of the target after
    /// which a running clock is [`SlaState::NearBreach`].
    pub fn status(
        &self,
        target: Option<TimeDelta>,
        met_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        near_breach_ratio: f64,
    ) -> SlaStatus {
        let met = met_at.filter(|m| *m <= now);
        let elapsed = self.counted(met.unwrap_or(now));
        let Some(target) = target else {
            return SlaStatus {
                target: ZERO,
                elapsed,
                remaining: ZERO,
                due_at: None,
                state: SlaState::NoTarget,
            };
        };
        let remaining = (target - elapsed).max(ZERO);
        let (state, due_at) = match met {
            Some(m) => (
                SlaState::Met {
                    on_time: elapsed <= target,
                },
                self.deadline(target, Some(m)),
            ),
            None => {
                let due = self.deadline(target, None);
                let threshold = (nanos(target) as f64 * near_breach_ratio).round();
                if elapsed > target {
                    (SlaState::Breached, due)
                } else if self.is_paused_at(now) {
                    (SlaState::Paused, None)
                } else if nanos(elapsed) as f64 >= threshold {
                    (SlaState::NearBreach, due)
                } else {
                    (SlaState::Running, due)
                }
            }
        };
        SlaStatus {
            target,
            elapsed,
            remaining,
            due_at,
            state,
        }
    }
}

// ---------------------------------------------------------------------------
// Evaluation of a complaint
// ---------------------------------------------------------------------------

/// What the SLA needs to know about a complaint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaInput {
    /// When the complaint was received; both clocks start here.
    pub opened_at: DateTime<Utc>,
    /// Whether it is a special / difficult complaint (特殊疑难).
    #[serde(default)]
    pub special: bool,
    /// When the first reply was sent.
    #[serde(default)]
    pub first_reply_at: Option<DateTime<Utc>>,
    /// When the complaint was resolved.
    #[serde(default)]
    pub resolved_at: Option<DateTime<Utc>>,
    /// Times spent waiting on the customer; they stop both clocks.
    #[serde(default)]
    pub pauses: Vec<Pause>,
}

impl SlaInput {
    /// A complaint opened at `opened_at`, ordinary, not answered, no pauses.
    pub fn new(opened_at: DateTime<Utc>) -> Self {
        SlaInput {
            opened_at,
            special: false,
            first_reply_at: None,
            resolved_at: None,
            pauses: Vec::new(),
        }
    }
}

/// Both SLA clocks of a complaint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaReport {
    /// The first-reply target.
    pub first_reply: SlaStatus,
    /// The resolution target.
    pub resolution: SlaStatus,
}

impl SlaReport {
    /// Whether either target is breached (or was met late).
    pub fn any_breach(&self) -> bool {
        self.first_reply.state.is_breach() || self.resolution.state.is_breach()
    }

    /// Whether either open target is a near breach.
    pub fn any_near_breach(&self) -> bool {
        self.first_reply.state == SlaState::NearBreach
            || self.resolution.state == SlaState::NearBreach
    }
}

/// Evaluates both SLA clocks of a complaint at `now`.
///
/// * Special complaints use `policy.special` when set.
/// * Time counts on `calendar` when `policy.business_hours`, otherwise 24×7.
/// * The first-reply clock stops at `first_reply_at`, or at `resolved_at`
///   when the complaint was resolved without a recorded reply (resolving
///   answers the customer).
/// * Pauses stop both clocks.
pub fn evaluate(
    policy: &SlaPolicy,
    calendar: &BusinessCalendar,
    complaint: &SlaInput,
    now: DateTime<Utc>,
) -> SlaReport {
    let always = BusinessCalendar::always_open();
    let cal = if policy.business_hours {
        calendar
    } else {
        &always
    };
    let clock = SlaClock::new(cal, complaint.opened_at, &complaint.pauses);
    let targets = policy.targets(complaint.special);
    let ratio = policy.near_breach_ratio;
    SlaReport {
        first_reply: clock.status(
            targets.first_reply,
            complaint.first_reply_at.or(complaint.resolved_at),
            now,
            ratio,
        ),
        resolution: clock.status(targets.resolution, complaint.resolved_at, now, ratio),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip_through_text() {
        for (text, d) in [
            ("12h", TimeDelta::hours(12)),
            ("1h30m", TimeDelta::minutes(90)),
            ("2d", TimeDelta::hours(48)),
            ("90", TimeDelta::seconds(90)),
            ("1h 30m", TimeDelta::minutes(90)),
            ("1500ms", TimeDelta::milliseconds(1500)),
        ] {
            assert_eq!(parse_duration(text), Ok(d), "{text}");
            assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }
        assert_eq!(format_duration(TimeDelta::hours(72)), "72h");
        assert_eq!(format_duration(TimeDelta::minutes(90)), "1h30m");
        assert_eq!(format_duration(ZERO), "0s");
        for bad in ["", "h", "12x", "-3h", "3 fortnights", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn nanos_helpers_round_trip() {
        for d in [
            ZERO,
            TimeDelta::nanoseconds(-1),
            TimeDelta::nanoseconds(1_500_000_001),
            TimeDelta::hours(-7),
            TimeDelta::MAX,
            TimeDelta::MIN,
        ] {
            assert_eq!(from_nanos(nanos(d)), d);
        }
        assert_eq!(mul(TimeDelta::hours(1), 3), TimeDelta::hours(3));
        assert_eq!(mul(TimeDelta::MAX, 2), TimeDelta::MAX);
    }

    #[test]
    fn offsets_parse_and_format() {
        assert_eq!(parse_utc_offset("+08:00"), Ok(CHINA_STANDARD_TIME));
        assert_eq!(parse_utc_offset("+0800"), Ok(CHINA_STANDARD_TIME));
        assert_eq!(parse_utc_offset("+08"), Ok(CHINA_STANDARD_TIME));
        assert_eq!(
            parse_utc_offset("-05:30").map(|o| o.local_minus_utc()),
            Ok(-(5 * 3600 + 30 * 60))
        );
        assert_eq!(parse_utc_offset("Z").map(|o| o.local_minus_utc()), Ok(0));
        for bad in [
            "08:00",
            "+0:800",
            "+08:00:00",
            "+8",
            "+25:00",
            "+08:60",
            "+08:0",
            "beijing",
            "",
        ] {
            assert!(parse_utc_offset(bad).is_err(), "{bad}");
        }
        assert_eq!(format_utc_offset(CHINA_STANDARD_TIME), "+08:00");
    }

    #[test]
    fn line_numbers_are_one_based() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 4), 3);
        assert_eq!(line_of("a", 99), 1);
    }
}
