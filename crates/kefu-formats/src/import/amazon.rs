//! Amazon Transcribe Call Analytics (post-call) output.
//!
//! ```json
//! {"JobName":"call-0001","JobStatus":"COMPLETED","LanguageCode":"zh-CN","Channel":"VOICE",
//!  "Participants":[{"ParticipantRole":"AGENT"},{"ParticipantRole":"CUSTOMER"}],
//!  "Transcript":[{"Id":"…","ParticipantRole":"AGENT","Content":"您好，请问有什么可以帮您？",
//!                 "BeginOffsetMillis":420,"EndOffsetMillis":2680,"Sentiment":"NEUTRAL",
//!                 "LoudnessScores":[71.2,74.5],"Items":[…]}],
//!  "ConversationCharacteristics":{"NonTalkTime":{…},"Interruptions":{…},"TalkSpeed":{…},…},
//!  "Categories":{"MatchedCategories":[],"MatchedDetails":{}}}
//! ```
//!
//! Roles come from `ParticipantRole` (`AGENT`, `CUSTOMER`), so
//! `--agent-channel` is not needed. Offsets are milliseconds.
//! `ConversationCharacteristics` is kept whole in the conversation metadata,
//! with its main figures also under stable keys (see docs/formats.md). The
//! id is `JobName` when present.
//!
//! Amazon Connect Contact Lens output is read too: its segments carry
//! `ParticipantId` instead of `ParticipantRole`, and the top-level
//! `Participants` list maps each id to a role
//! (`{"ParticipantId":"4f1c…","ParticipantRole":"AGENT"}`); an id not in the
//! list is read as a role name itself (`"AGENT"`). The id is then
//! `CustomerMetadata.ContactId`, and `LoudnessScore` is accepted for
//! `LoudnessScores`.

use std::borrow::Cow;

use kefu_engine::{lenient, Channel, Meta, Role, Turn};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::vendor::{self, conversation, number_value, put, Fail, Parsed};
use super::{ImportOptions, Imported};

/// Reads an Amazon Transcribe Call Analytics result, a JSON array of them or
/// JSON Lines of them; each result becomes one conversation.
pub fn read(source_name: &str, bytes: &[u8], opts: &ImportOptions) -> Imported {
    vendor::import(source_name, bytes, opts, parse_record)
}

/// Whether `json` (a result, or an array of them) has the shape of Call
/// Analytics output: a `Transcript` array whose segments carry
/// `ParticipantRole`.
pub fn detect(json: &Value) -> bool {
    vendor::vendor_of(json) == Some(vendor::Vendor::Amazon) || is_contact_lens(json)
}

/// Contact Lens: a `Transcript` whose first segment has `ParticipantId` and
/// `Content`, next to a top-level `Participants` list.
fn is_contact_lens(json: &Value) -> bool {
    let obj = match json {
        Value::Array(items) => items.first(),
        v => Some(v),
    };
    let Some(obj) = obj.and_then(Value::as_object) else {
        return false;
    };
    let segment = obj
        .get("Transcript")
        .and_then(Value::as_array)
        .and_then(|t| t.first())
        .and_then(Value::as_object);
    matches!(obj.get("Participants"), Some(Value::Array(_)))
        && segment.is_some_and(|s| s.contains_key("ParticipantId") && s.contains_key("Content"))
}

#[derive(Deserialize)]
#[serde(
    rename_all = "PascalCase",
    expecting = "an Amazon Transcribe Call Analytics result (a JSON object)"
)]
struct Doc<'a> {
    #[serde(borrow, default, deserialize_with = "lenient::opt_text")]
    job_name: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient::opt_text")]
    job_status: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient::opt_text")]
    language_code: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient::opt_text")]
    channel: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient::opt_text")]
    failure_reason: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    transcript: Option<Vec<Segment<'a>>>,
    #[serde(borrow, default)]
    conversation_characteristics: Option<&'a RawValue>,
    #[serde(borrow, default)]
    categories: Option<Categories<'a>>,
    /// Maps Contact Lens `ParticipantId`s to roles.
    #[serde(borrow, default)]
    participants: Option<Vec<Participant<'a>>>,
    /// Contact Lens: `ContactId` names the conversation.
    #[serde(borrow, default)]
    customer_metadata: Option<CustomerMetadata<'a>>,
    /// Standard (non-analytics) Transcribe output, for a better message.
    #[serde(rename = "results", default)]
    standard_results: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", expecting = "a `Participants` entry object")]
struct Participant<'a> {
    #[serde(borrow, default, deserialize_with = "lenient::opt_text")]
    participant_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient::opt_text")]
    participant_role: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", expecting = "the `CustomerMetadata` object")]
struct CustomerMetadata<'a> {
    #[serde(borrow, default, deserialize_with = "lenient::opt_text")]
    contact_id: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", expecting = "the `Categories` object")]
struct Categories<'a> {
    #[serde(borrow, default)]
    matched_categories: Option<Vec<Cow<'a, str>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", expecting = "a `Transcript` segment object")]
struct Segment<'a> {
    #[serde(borrow, default, deserialize_with = "lenient::opt_text")]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient::opt_text")]
    participant_role: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient::opt_text")]
    participant_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient::text")]
    content: Cow<'a, str>,
    #[serde(default, deserialize_with = "begin_offset")]
    begin_offset_millis: Option<u64>,
    #[serde(default, deserialize_with = "end_offset")]
    end_offset_millis: Option<u64>,
    #[serde(borrow, default, deserialize_with = "lenient::opt_text")]
    sentiment: Option<Cow<'a, str>>,
    #[serde(default, alias = "LoudnessScore")]
    loudness_scores: Option<Vec<Option<f64>>>,
    #[serde(borrow, default)]
    issues_detected: Option<&'a RawValue>,
    #[serde(borrow, default)]
    outcomes_detected: Option<&'a RawValue>,
    #[serde(borrow, default)]
    action_items_detected: Option<&'a RawValue>,
}

fn begin_offset<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    vendor::millis(d, "BeginOffsetMillis")
}
fn end_offset<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    vendor::millis(d, "EndOffsetMillis")
}

fn role(label: &str) -> Option<Role> {
    let l = label.trim();
    if l.eq_ignore_ascii_case("AGENT") {
        Some(Role::Agent)
    } else if l.eq_ignore_ascii_case("CUSTOMER") {
        Some(Role::Customer)
    } else if l.eq_ignore_ascii_case("SYSTEM") || l.eq_ignore_ascii_case("AUTOMATED") {
        Some(Role::System)
    } else {
        None
    }
}

/// Stores a detection list (issues, outcomes, action items) when non-empty.
fn put_raw(meta: &mut Meta, key: &str, raw: Option<&RawValue>) {
    if let Some(value) = raw.and_then(|r| serde_json::from_str::<Value>(r.get()).ok()) {
        if !matches!(&value, Value::Null) && value.as_array().is_none_or(|a| !a.is_empty()) {
            put(meta, key, value);
        }
    }
}

fn parse_record(text: &str) -> Result<Parsed, Fail> {
    let doc: Doc<'_> = serde_json::from_str(text)?;
    let Some(segments) = doc.transcript else {
        return Err(Fail::Msg(missing_transcript(
            doc.job_status.as_deref(),
            doc.failure_reason.as_deref(),
            doc.standard_results.is_some(),
        )));
    };

    // Contact Lens: ParticipantId -> ParticipantRole.
    let roles: Vec<(Cow<'_, str>, Cow<'_, str>)> = doc
        .participants
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| Some((p.participant_id?, p.participant_role?)))
        .collect();
    let mut turns = Vec::with_capacity(segments.len());
    for (i, seg) in segments.into_iter().enumerate() {
        let n = i + 1;
        let label = match (&seg.participant_role, &seg.participant_id) {
            (Some(r), _) => r.clone(),
            (None, Some(id)) => roles
                .iter()
                .find(|(pid, _)| pid.trim() == id.trim())
                .map_or_else(|| id.clone(), |(_, r)| r.clone()),
            (None, None) => {
                return Err(Fail::Msg(format!(
                    "segment {n} has neither `ParticipantRole` nor `ParticipantId`: not Call \
                     Analytics or Contact Lens output"
                )))
            }
        };
        let Some(role) = role(&label) else {
            return Err(Fail::Msg(format!(
                "segment {n} has an unknown participant {label:?} (expected AGENT or \
                 CUSTOMER, directly or through `Participants`)"
            )));
        };
        if seg.begin_offset_millis.is_none() {
            return Err(Fail::Msg(format!("segment {n} has no `BeginOffsetMillis`")));
        }
        if seg.end_offset_millis.is_none() {
            return Err(Fail::Msg(format!("segment {n} has no `EndOffsetMillis`")));
        }
        let mut meta = Meta::new();
        if let Some(s) = seg.sentiment.filter(|s| !s.trim().is_empty()) {
            put(&mut meta, "sentiment", s.trim().to_lowercase());
        }
        if let Some(id) = seg.id {
            put(&mut meta, "Id", id.as_ref());
        }
        if let Some(p) = seg.participant_id {
            put(&mut meta, "ParticipantId", p.as_ref());
        }
        if let Some(scores) = seg.loudness_scores {
            let scores: Vec<Value> = scores
                .into_iter()
                .map(|s| s.map_or(Value::Null, number_value))
                .collect();
            put(&mut meta, "LoudnessScores", scores);
        }
        put_raw(&mut meta, "IssuesDetected", seg.issues_detected);
        put_raw(&mut meta, "OutcomesDetected", seg.outcomes_detected);
        put_raw(&mut meta, "ActionItemsDetected", seg.action_items_detected);
        turns.push(Turn {
            role,
            text: Cow::Owned(seg.content.into_owned()),
            start_ms: seg.begin_offset_millis,
            end_ms: seg.end_offset_millis,
            meta,
        });
    }

    let mut meta = Meta::new();
    put(&mut meta, "source", "amazon");
    if let Some(name) = &doc.job_name {
        put(&mut meta, "job_name", name.as_ref());
    }
    if let Some(status) = &doc.job_status {
        put(&mut meta, "status", status.as_ref());
    }
    if let Some(lang) = &doc.language_code {
        put(&mut meta, "language_code", lang.as_ref());
    }
    if let Some(raw) = doc.conversation_characteristics {
        let value: Value = serde_json::from_str(raw.get())?;
        if let Value::Object(cc) = &value {
            characteristics(&mut meta, cc);
        }
        put(&mut meta, "ConversationCharacteristics", value);
    }
    if let Some(names) = doc.categories.and_then(|c| c.matched_categories) {
        let names: Vec<Value> = names.iter().map(|n| Value::from(n.trim())).collect();
        put(&mut meta, "categories", names);
    }

    let chat = doc
        .channel
        .as_deref()
        .is_some_and(|c| c.eq_ignore_ascii_case("CHAT"));
    let id = doc
        .job_name
        .or_else(|| doc.customer_metadata.and_then(|m| m.contact_id));
    let has_id = id.is_some();
    let mut conv = conversation(id, turns, meta);
    if chat {
        conv.channel = Channel::Chat;
    }
    Ok(Parsed {
        conversation: conv,
        has_id,
    })
}

/// The main call characteristics under stable keys: `duration_ms`,
/// `interruptions`, `interruption_ms`, `non_talk_ms`, and per participant
/// (`agent`, `customer`) `talk_speed_wpm`, `talk_time_ms`, `sentiment`.
fn characteristics(meta: &mut Meta, cc: &Map<String, Value>) {
    let get = |path: &[&str]| -> Option<&Value> {
        let mut v = cc.get(path[0])?;
        for key in &path[1..] {
            v = v.get(key)?;
        }
        Some(v)
    };
    let numbers = [
        ("duration_ms", &["TotalConversationDurationMillis"][..]),
        ("interruptions", &["Interruptions", "TotalCount"][..]),
        ("interruption_ms", &["Interruptions", "TotalTimeMillis"][..]),
        ("non_talk_ms", &["NonTalkTime", "TotalTimeMillis"][..]),
    ];
    for (key, path) in numbers {
        if let Some(v) = get(path).filter(|v| v.is_number()) {
            put(meta, key, v.clone());
        }
    }
    let per_participant = |path: &[&str], leaf: Option<&str>| -> Option<Value> {
        let by = get(path)?.as_object()?;
        let mut out = Map::new();
        for (role, v) in by {
            let v = match leaf {
                Some(l) => v.get(l)?,
                None => v,
            };
            if v.is_number() {
                out.insert(role.to_lowercase(), v.clone());
            }
        }
        (!out.is_empty()).then_some(Value::Object(out))
    };
    if let Some(v) = per_participant(
        &["TalkSpeed", "DetailsByParticipant"],
        Some("AverageWordsPerMinute"),
    ) {
        put(meta, "talk_speed_wpm", v);
    }
    if let Some(v) = per_participant(
        &["TalkTime", "DetailsByParticipant"],
        Some("TotalTimeMillis"),
    ) {
        put(meta, "talk_time_ms", v);
    }
    if let Some(v) = per_participant(&["Sentiment", "OverallSentiment"], None) {
        put(meta, "sentiment", v);
    }
}

fn missing_transcript(status: Option<&str>, reason: Option<&str>, standard: bool) -> String {
    match status {
        Some(s) if s.eq_ignore_ascii_case("FAILED") => format!(
            "the Call Analytics job failed: {}",
            reason.unwrap_or("no FailureReason given")
        ),
        Some(s) if s.eq_ignore_ascii_case("IN_PROGRESS") || s.eq_ignore_ascii_case("QUEUED") => {
            format!("the Call Analytics job has not finished (JobStatus {s})")
        }
        _ if standard => {
            "this is standard Amazon Transcribe output (`results.transcripts`), which \
                          has no agent/customer roles: transcribe the call with Call Analytics"
                .to_string()
        }
        _ => "no `Transcript` array: not Amazon Transcribe Call Analytics output".to_string(),
    }
}
