//! Forgiving deserialisers for the fields real exports get "wrong": ids
//! written as numbers, times without a UTC offset, milliseconds as floats or
//! strings, roles in upper case or in Chinese. Each accepts the documented
//! form first and a few common variants, and rejects anything else with a
//! message that names the field's expected forms.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDateTime, TimeZone};
use serde::de::{self, Deserializer, Visitor};

/// UTC offset assumed for timestamps that carry none: China Standard Time,
/// the local time of the centres the default pack is written for.
pub const DEFAULT_OFFSET_SECONDS: i32 = 8 * 3600;

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or a number")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(""))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(""))
    }
}

/// A string, or a number written as one (`"id": 10023`). `null` is empty.
pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Cow<'de, str>, D::Error> {
    d.deserialize_any(TextVisitor)
}

/// Like [`text`], but `null` and `""` are absent.
pub fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    Ok(non_empty(d.deserialize_any(TextVisitor)?))
}

/// An optional text field's value: `""` is absent (as [`opt_text`] reads it).
pub fn non_empty(t: Cow<'_, str>) -> Option<Cow<'_, str>> {
    if t.is_empty() {
        None
    } else {
        Some(t)
    }
}

/// An optional timestamp written as a string: blank is absent
/// (`Some(None)`), otherwise any form [`parse_time`] accepts; `None` when
/// it is neither (as [`time`] reads a string).
pub fn optional_time(s: &str) -> Option<Option<DateTime<FixedOffset>>> {
    if s.trim().is_empty() {
        Some(None)
    } else {
        parse_time(s).map(Some)
    }
}

/// An optional [`Vocabulary`] value written as a string: blank is absent
/// (`Some(None)`), otherwise a spelling or alias; `None` when it is
/// neither (as [`opt_vocabulary`] reads it).
pub fn optional_vocabulary<T: Vocabulary>(s: &str) -> Option<Option<T>> {
    if s.trim().is_empty() {
        Some(None)
    } else {
        T::from_alias(s).map(Some)
    }
}

struct MillisVisitor;

impl<'de> Visitor<'de> for MillisVisitor {
    type Value = Option<u64>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("milliseconds as a non-negative number")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        u64::try_from(v)
            .map(Some)
            .map_err(|_| E::custom(format!("negative milliseconds {v}")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        if (0.0..1.8e19).contains(&v) {
            Ok(Some(v.round() as u64))
        } else {
            Err(E::custom(format!("invalid milliseconds {v}")))
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let v = v.trim();
        if v.is_empty() {
            return Ok(None);
        }
        match v.parse::<f64>() {
            Ok(n) => self.visit_f64(n),
            Err(_) => Err(E::custom(format!("milliseconds expected, found {v:?}"))),
        }
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// Milliseconds: an integer, a float (rounded) or a numeric string; `null`
/// is absent; negative values are errors.
pub fn millis<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    d.deserialize_any(MillisVisitor)
}

/// Parses a timestamp: RFC 3339, or `YYYY-MM-DD HH:MM:SS[.fff]` with or
/// without an offset (without: [`DEFAULT_OFFSET_SECONDS`]), or Unix time in
/// seconds or milliseconds. Years outside 1–9999 are refused: they do not
/// serialise as RFC 3339, so a record holding one would not read back.
pub fn parse_time(s: &str) -> Option<DateTime<FixedOffset>> {
    parse_time_any_year(s).filter(year_in_range)
}

/// Whether `t` falls in the years RFC 3339 can write (1–9999).
fn year_in_range(t: &DateTime<FixedOffset>) -> bool {
    (1..=9999).contains(&t.year())
}

fn parse_time_any_year(s: &str) -> Option<DateTime<FixedOffset>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t);
    }
    let offset = FixedOffset::east_opt(DEFAULT_OFFSET_SECONDS)?;
    for format in [
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%z",
        "%Y/%m/%d %H:%M:%S%.f%:z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(s, format) {
            return Some(t);
        }
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y/%m/%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y/%m/%d %H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(s, format) {
            return offset.from_local_datetime(&naive).single();
        }
    }
    if let Ok(n) = s.parse::<i64>() {
        return from_epoch(n);
    }
    None
}

fn from_epoch(n: i64) -> Option<DateTime<FixedOffset>> {
    let offset = FixedOffset::east_opt(DEFAULT_OFFSET_SECONDS)?;
    // Ten or fewer digits are seconds; more are milliseconds.
    // unsigned_abs: `abs` overflows on i64::MIN, which an input can hold.
    let ms = if n.unsigned_abs() < 100_000_000_000 {
        n.checked_mul(1000)?
    } else {
        n
    };
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.with_timezone(&offset))
        .filter(year_in_range)
}

struct TimeVisitor;

impl<'de> Visitor<'de> for TimeVisitor {
    type Value = Option<DateTime<FixedOffset>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a timestamp like 2026-10-01T09:15:02+08:00")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        optional_time(v).ok_or_else(|| {
            E::custom(format!(
                "invalid `started_at` {v:?}: expected a timestamp like 2026-10-01T09:15:02+08:00 \
                 (years 1–9999)"
            ))
        })
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        from_epoch(v)
            .map(Some)
            .ok_or_else(|| E::custom(format!("invalid Unix time {v} (years 1–9999 only)")))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.visit_i64(i64::try_from(v).map_err(|_| E::custom(format!("invalid Unix time {v}")))?)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// A timestamp in any form [`parse_time`] accepts; `null`/`""` is absent.
pub fn time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<FixedOffset>>, D::Error> {
    d.deserialize_any(TimeVisitor)
}

/// Lower-cases ASCII and trims, for matching names of enum values.
pub(crate) fn key(v: &str) -> String {
    v.trim().to_ascii_lowercase()
}

/// A closed set of values read from free text: the documented spelling in
/// any case, or a common alias (Chinese or vendor wording). The model's
/// enums implement it, so this module needs no knowledge of them.
pub trait Vocabulary: Sized {
    /// What the value is called in error messages (`role`, `channel` …).
    const WHAT: &'static str;
    /// The documented spellings, for error messages.
    const EXPECTED: &'static str;
    /// Reads a spelling or an alias; `None` when it is neither.
    fn from_alias(v: &str) -> Option<Self>;
}

fn unknown<E: de::Error, T: Vocabulary>(v: &str) -> E {
    E::custom(format!(
        "unknown {} {:?}, expected {}",
        T::WHAT,
        v,
        T::EXPECTED
    ))
}

/// Reads a [`Vocabulary`] value from a string, case-insensitively, with
/// aliases.
pub fn vocabulary<'de, D: Deserializer<'de>, T: Vocabulary>(d: D) -> Result<T, D::Error> {
    let v = text(d)?;
    T::from_alias(&v).ok_or_else(|| unknown::<D::Error, T>(&v))
}

/// Like [`vocabulary`]; `null` or `""` is absent.
pub fn opt_vocabulary<'de, D: Deserializer<'de>, T: Vocabulary>(
    d: D,
) -> Result<Option<T>, D::Error> {
    let v = text(d)?;
    optional_vocabulary(&v).ok_or_else(|| unknown::<D::Error, T>(&v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike;

    #[test]
    fn times_in_many_shapes() {
        let t = parse_time("2026-10-01T09:15:02+08:00").unwrap();
        assert_eq!(t.hour(), 9);
        let t = parse_time("2026-10-01 14:15:02").unwrap();
        assert_eq!((t.hour(), t.offset().local_minus_utc()), (14, 8 * 3600));
        let t = parse_time("2026/10/01 14:15").unwrap();
        assert_eq!(t.minute(), 15);
        let t = parse_time("1790000000").unwrap();
        assert_eq!(t, parse_time("1790000000000").unwrap());
        assert!(parse_time("yesterday").is_none());
    }
}
