//! Forgiving deserialisers for the fields real exports get "wrong": ids
//! written as numbers, times without a UTC offset, milliseconds as floats or
//! strings, roles in upper case or in Chinese. Each accepts the documented
//! form first and a few common variants, and rejects anything else with a
//! message that names the field's expected forms.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone};
use serde::de::{self, Deserializer, Visitor};

use crate::model::{Channel, EndedBy, Role};

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
    let t = d.deserialize_any(TextVisitor)?;
    Ok(if t.is_empty() { None } else { Some(t) })
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
/// seconds or milliseconds.
pub fn parse_time(s: &str) -> Option<DateTime<FixedOffset>> {
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
    DateTime::from_timestamp_millis(ms).map(|t| t.with_timezone(&offset))
}

struct TimeVisitor;

impl<'de> Visitor<'de> for TimeVisitor {
    type Value = Option<DateTime<FixedOffset>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a timestamp like 2026-10-01T09:15:02+08:00")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if v.trim().is_empty() {
            return Ok(None);
        }
        parse_time(v).map(Some).ok_or_else(|| {
            E::custom(format!(
                "invalid `started_at` {v:?}: expected a timestamp like 2026-10-01T09:15:02+08:00"
            ))
        })
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        from_epoch(v)
            .map(Some)
            .ok_or_else(|| E::custom(format!("invalid Unix time {v}")))
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
fn key(v: &str) -> String {
    v.trim().to_ascii_lowercase()
}

/// Reads a role: `agent`/`customer`/`system`, any case, or a common alias
/// (客服, 坐席, 客户, 用户, 系统, IVR, bot …).
pub fn parse_role(v: &str) -> Option<Role> {
    // The documented spellings first, without allocating.
    match v {
        "agent" => return Some(Role::Agent),
        "customer" => return Some(Role::Customer),
        "system" => return Some(Role::System),
        _ => {}
    }
    Some(match key(v).as_str() {
        "agent" | "staff" | "service" | "客服" | "坐席" | "座席" | "人工" | "客服人员" => {
            Role::Agent
        }
        "customer" | "user" | "client" | "caller" | "客户" | "用户" | "顾客" | "买家" => {
            Role::Customer
        }
        "system" | "ivr" | "bot" | "robot" | "系统" | "机器人" => Role::System,
        _ => return None,
    })
}

/// Reads a channel: `phone`/`chat`, any case, or an alias.
pub fn parse_channel(v: &str) -> Option<Channel> {
    match v {
        "phone" => return Some(Channel::Phone),
        "chat" => return Some(Channel::Chat),
        _ => {}
    }
    Some(match key(v).as_str() {
        "phone" | "call" | "voice" | "tel" | "电话" | "语音" | "热线" => Channel::Phone,
        "chat" | "online" | "im" | "web" | "text" | "在线" | "文字" | "微信" => Channel::Chat,
        _ => return None,
    })
}

/// Reads who ended a conversation, any case, or an alias.
pub fn parse_ended_by(v: &str) -> Option<EndedBy> {
    Some(match parse_role(v)? {
        Role::Agent => EndedBy::Agent,
        Role::Customer => EndedBy::Customer,
        Role::System => EndedBy::System,
    })
}

macro_rules! enum_reader {
    ($name:ident, $opt:ident, $ty:ty, $parse:ident, $what:literal, $forms:literal) => {
        /// Reads the field from a string, case-insensitively, with aliases.
        pub fn $name<'de, D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
            let v = text(d)?;
            $parse(&v).ok_or_else(|| {
                de::Error::custom(format!(
                    concat!("unknown ", $what, " {:?}, expected ", $forms),
                    v
                ))
            })
        }

        /// Like the required reader; `null` or `""` is absent.
        pub fn $opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<$ty>, D::Error> {
            let v = text(d)?;
            if v.trim().is_empty() {
                return Ok(None);
            }
            $parse(&v).map(Some).ok_or_else(|| {
                de::Error::custom(format!(
                    concat!("unknown ", $what, " {:?}, expected ", $forms),
                    v
                ))
            })
        }
    };
}

enum_reader!(
    role,
    opt_role,
    Role,
    parse_role,
    "role",
    "agent, customer or system"
);
enum_reader!(
    channel,
    opt_channel,
    Channel,
    parse_channel,
    "channel",
    "phone or chat"
);
enum_reader!(
    ended_by,
    opt_ended_by,
    EndedBy,
    parse_ended_by,
    "ended_by",
    "agent, customer or system"
);

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

    #[test]
    fn roles_and_channels() {
        assert_eq!(parse_role("AGENT"), Some(Role::Agent));
        assert_eq!(parse_role("客户"), Some(Role::Customer));
        assert_eq!(parse_role("bot"), Some(Role::System));
        assert_eq!(parse_role("fax"), None);
        assert_eq!(parse_channel("Call"), Some(Channel::Phone));
        assert_eq!(parse_channel("在线"), Some(Channel::Chat));
    }
}
