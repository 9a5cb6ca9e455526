//! Times in JSON. The store keeps times as Unix milliseconds (portable
//! across both backends); every one of them leaves kefu as RFC 3339 text in
//! UTC (`2026-11-20T08:37:22Z`, `2026-11-20T08:37:22.123Z` when the
//! milliseconds are not zero) — the form complaint times and conversation
//! start times already have. Use on fields with
//! `#[serde(with = "kefu_store::json_time::unix_ms")]` (or `opt_unix_ms`
//! for `Option<i64>`). Reading accepts the same text or a number of
//! milliseconds, so documents written before keep loading.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serializer};

/// RFC 3339 text (UTC) for Unix milliseconds; the number itself when it is
/// out of chrono's range (never in practice).
pub fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms).map_or_else(
        || ms.to_string(),
        |t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
    )
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Either {
    Ms(i64),
    Text(String),
}

fn from_either<E: serde::de::Error>(v: Either) -> Result<i64, E> {
    match v {
        Either::Ms(ms) => Ok(ms),
        Either::Text(t) => DateTime::parse_from_rfc3339(&t)
            .map(|d| d.timestamp_millis())
            .map_err(|_| E::custom(format!("expected an RFC 3339 time, got {t:?}"))),
    }
}

/// Serde for an `i64` of Unix milliseconds as RFC 3339 text.
pub mod unix_ms {
    use super::*;

    /// Writes RFC 3339 text.
    pub fn serialize<S: Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&rfc3339(*ms))
    }

    /// Reads RFC 3339 text or a number of milliseconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        from_either(Either::deserialize(d)?)
    }
}

/// Serde for an `Option<i64>` of Unix milliseconds as RFC 3339 text or
/// `null`.
pub mod opt_unix_ms {
    use super::*;

    /// Writes RFC 3339 text or `null`.
    pub fn serialize<S: Serializer>(ms: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match ms {
            Some(ms) => s.serialize_str(&rfc3339(*ms)),
            None => s.serialize_none(),
        }
    }

    /// Reads RFC 3339 text, a number of milliseconds or `null`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        Option::<Either>::deserialize(d)?
            .map(from_either)
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct T {
        #[serde(with = "unix_ms")]
        at: i64,
        #[serde(with = "opt_unix_ms")]
        done: Option<i64>,
    }

    #[test]
    fn milliseconds_are_written_as_rfc3339_and_read_back() {
        let t = T {
            at: 1_796_586_226_332,
            done: None,
        };
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, r#"{"at":"2026-12-06T19:43:46.332Z","done":null}"#);
        assert_eq!(serde_json::from_str::<T>(&json).unwrap(), t);
        let old: T = serde_json::from_str(r#"{"at":1796586226000,"done":1}"#).unwrap();
        assert_eq!(old.done, Some(1));
        assert_eq!(rfc3339(1_796_586_226_000), "2026-12-06T19:43:46Z");
    }
}
