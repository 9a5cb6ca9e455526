//! Business hours: the working periods of a day, week hours and UTC offsets.

use std::fmt;
use std::str::FromStr;

use chrono::{FixedOffset, NaiveTime, TimeDelta, Weekday};
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use super::{SlaError, DAY, ZERO};

// ---------------------------------------------------------------------------
// HoursRange
// ---------------------------------------------------------------------------

/// One business-hours period of a day, e.g. 09:00–12:00, in the calendar's
/// local time. The end is exclusive; an end of 24:00 (written `"24:00"`, or
/// `00:00` in [`HoursRange::new`]) means midnight at the end of the day.
///
/// Its text form (also its serde form) is `"09:00-12:00"`; seconds may be
/// given (`"09:00:30-12:00"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HoursRange {
    /// Offset of the start from local midnight.
    start: TimeDelta,
    /// Offset of the end from local midnight, `start < end <= 24h`.
    end: TimeDelta,
}

impl HoursRange {
    /// The whole day, 00:00–24:00.
    pub const WHOLE_DAY: HoursRange = HoursRange {
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

    /// A period from hours and minutes, e.g. `HoursRange::hm(13, 30, 18, 0)`;
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

    pub(crate) fn from_offsets(start: TimeDelta, end: TimeDelta) -> Option<Self> {
        (ZERO <= start && start < end && end <= DAY).then_some(HoursRange { start, end })
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

pub(crate) fn parse_clock(text: &str, allow_24: bool) -> Option<TimeDelta> {
    let t = text.trim();
    if allow_24 && matches!(t, "24:00" | "24:00:00") {
        return Some(DAY);
    }
    NaiveTime::from_str(t)
        .ok()
        .map(|t| t.signed_duration_since(NaiveTime::MIN))
}

pub(crate) fn fmt_clock(f: &mut fmt::Formatter<'_>, offset: TimeDelta) -> fmt::Result {
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

impl fmt::Display for HoursRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_clock(f, self.start)?;
        f.write_str("-")?;
        fmt_clock(f, self.end)
    }
}

impl FromStr for HoursRange {
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

impl Serialize for HoursRange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HoursRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(de::Error::custom)
    }
}

/// Sorts periods and checks that they do not overlap (touching is fine).
pub(crate) fn normalise_periods(periods: &[HoursRange]) -> Result<Vec<HoursRange>, SlaError> {
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

pub(crate) fn day_total(periods: &[HoursRange]) -> TimeDelta {
    periods.iter().fold(ZERO, |acc, p| acc + p.length())
}

/// Working time of `periods` inside `[from, to)` (offsets from midnight).
pub(crate) fn overlap(periods: &[HoursRange], from: TimeDelta, to: TimeDelta) -> TimeDelta {
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
pub(crate) fn walk_day(
    periods: &[HoursRange],
    from: TimeDelta,
    rem: TimeDelta,
) -> Result<TimeDelta, TimeDelta> {
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

pub(crate) fn weekday_index(w: Weekday) -> usize {
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
pub(crate) struct WeekHours {
    /// Periods per weekday, Monday first; each list sorted, non-overlapping.
    pub(crate) week: [Vec<HoursRange>; 7],
    /// Periods of make-up workdays; `None` = those of the first weekday
    /// (Monday first) that has any.
    pub(crate) makeup: Option<Vec<HoursRange>>,
}

impl WeekHours {
    pub(crate) fn week_total(&self) -> TimeDelta {
        self.week.iter().fold(ZERO, |acc, p| acc + day_total(p))
    }

    pub(crate) fn makeup(&self) -> &[HoursRange] {
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
