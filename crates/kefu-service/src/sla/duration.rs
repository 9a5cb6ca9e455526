//! Durations as text (`12h`, `1d 2h 30m`) and their serde helpers.

use chrono::TimeDelta;

use super::{SlaError, NANOS_PER_SEC, ZERO};

// ---------------------------------------------------------------------------
// Duration helpers and their text form
// ---------------------------------------------------------------------------

pub(crate) fn nanos(d: TimeDelta) -> i128 {
    i128::from(d.num_seconds()) * NANOS_PER_SEC + i128::from(d.subsec_nanos())
}

/// Converts nanoseconds back to a `TimeDelta`, saturating at its range.
pub(crate) fn from_nanos(n: i128) -> TimeDelta {
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

pub(crate) fn mul(d: TimeDelta, k: i128) -> TimeDelta {
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
pub(crate) mod opt_duration {
    use std::fmt;

    use chrono::TimeDelta;
    use serde::de::{self, Deserializer, Visitor};
    use serde::Serializer;

    use super::{format_duration, parse_duration};

    pub(crate) fn serialize<S: Serializer>(
        value: &Option<TimeDelta>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => serializer.serialize_str(&format_duration(*d)),
            None => serializer.serialize_str("none"),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
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
pub(crate) mod duration_text {
    use chrono::TimeDelta;
    use serde::{Deserializer, Serializer};

    use super::{format_duration, opt_duration, ZERO};

    pub(crate) fn serialize<S: Serializer>(value: &TimeDelta, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(*value))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TimeDelta, D::Error> {
        match opt_duration::deserialize(d)? {
            Some(v) => Ok(v),
            None => Ok(ZERO),
        }
    }
}
