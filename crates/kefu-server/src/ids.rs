//! Ids the API generates when a create request leaves them out (the
//! OpenAPI document marks them optional).

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Just the `id` of a record, to see whether it has one without building
/// the whole record.
#[derive(Deserialize)]
struct IdProbe<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
}

/// The record with a generated `id` when it has none (absent, `null` or
/// `""`), else `None`. The id is `conv-` and 16 hex digits of the SHA-256
/// of the record as sent, so posting the same record again finds the
/// same id and is skipped like any other duplicate.
pub(crate) fn conversation_with_generated_id(raw: &str) -> Option<String> {
    let probe: IdProbe<'_> = serde_json::from_str(raw).ok()?;
    let missing = match probe.id.map(RawValue::get) {
        None | Some("null") | Some("\"\"") => true,
        Some(_) => false,
    };
    if !missing {
        return None;
    }
    let mut record: serde_json::Map<String, Value> = serde_json::from_str(raw).ok()?;
    let digest = Sha256::digest(raw.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    record.insert("id".into(), Value::String(format!("conv-{hex}")));
    serde_json::to_string(&record).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_records_without_an_id_get_one_and_it_is_stable() {
        assert_eq!(
            conversation_with_generated_id(r#"{"id":"c-1","turns":[]}"#),
            None
        );
        let a = conversation_with_generated_id(r#"{"channel":"chat","turns":[]}"#).expect("id");
        let b = conversation_with_generated_id(r#"{"channel":"chat","turns":[]}"#).expect("id");
        assert_eq!(a, b);
        assert!(a.contains(r#""id":"conv-"#), "{a}");
        assert!(conversation_with_generated_id(r#"{"id":"","turns":[]}"#).is_some());
        assert!(conversation_with_generated_id(r#"{"id":null}"#).is_some());
    }
}
