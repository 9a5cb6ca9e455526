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
//! current instant is always passed in as `now`. Nothing here knows about
//! complaints: applying these clocks to complaints (the rules in force, the
//! SLA scanner and its escalations, met-rate reports) is the complaint
//! workflow's job, in the `complaint` module (`complaint/sla_rules.rs`,
//! `sla_scan.rs`, `sla_met_rate.rs`).
//!
//! # Time zones
//!
//! Every instant going in or out is a [`DateTime<Utc>`](chrono::DateTime). A
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

use chrono::{NaiveDate, TimeDelta};

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
        first: HoursRange,
        /// The period overlapping it.
        second: HoursRange,
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

mod business_hours;
mod calendar;
mod clock;
mod duration;
mod holidays;
mod settings;

pub use business_hours::*;
pub use calendar::*;
pub use clock::*;
pub use duration::*;
pub use holidays::*;
pub use settings::*;

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
