//! Tencent Cloud ASR 录音文件识别 results (`DescribeTaskStatus`).
//!
//! The API answers `{"Response":{"Data":{…},"RequestId":"…"}}`; the task
//! status object (`Data`) is read wherever it sits: under `Response.Data`,
//! under `Data`, or at the top level.
//!
//! ```json
//! {"Response":{"Data":{"TaskId":1298765432,"Status":2,"StatusStr":"success","AudioDuration":27.4,
//!   "ResultDetail":[{"FinalSentence":"您好，请问有什么可以帮您？","StartMs":420,"EndMs":2680,
//!                    "SpeakerId":0,"SpeechSpeed":4.4,"EmotionalEnergy":5.2,"SilenceTime":0,
//!                    "EmotionType":["neutral"]}]},"RequestId":"…"}}
//! ```
//!
//! `ResultDetail` is only filled when the task was created with
//! `ResTextFormat` ≥ 1; `SpeakerId` only with `ChannelNum` = 2 (two-channel
//! call recordings: 0 = left, 1 = right) or `SpeakerDiarization` = 1.
//! `StartMs`/`EndMs` and `SilenceTime` are milliseconds, `SpeechSpeed` is
//! characters per **second** (stored ×60 as `speech_rate` per minute),
//! `AudioDuration` is seconds.
//!
//! The agent is the speaker given by `--agent-channel`; without it a result
//! with exactly speakers 0 and 1 takes 0 as the agent.
//!
//! Tencent documents that a `TaskId` is only unique for 24 hours, so it is
//! kept in the metadata but not used as the conversation id: the id is the
//! file name (or `ImportOptions::default_id`), suffixed `-N` when a file
//! holds several results.

use std::borrow::Cow;

use kefu_engine::{lenient, Meta, Role, Turn};
use serde::Deserialize;
use serde_json::Value;

use super::vendor::{self, conversation, put, put_number, Fail, Parsed};
use super::{ImportOptions, Imported};

/// Reads a Tencent Cloud recording-recognition result, a JSON array of them
/// or JSON Lines of them; each result becomes one phone conversation.
pub fn read(source_name: &str, bytes: &[u8], opts: &ImportOptions) -> Imported {
    vendor::import(source_name, bytes, opts, |text| parse_record(text, opts))
}

/// Whether `json` (a result, or an array of them) has the shape of a Tencent
/// Cloud task status: `ResultDetail` or `StatusStr`, at the top level or
/// under `Data` / `Response.Data`.
pub fn detect(json: &Value) -> bool {
    vendor::vendor_of(json) == Some(vendor::Vendor::Tencent)
}

/// The response, `Data` or the task status itself: all optional, so the
/// same struct reads every wrapping.
#[derive(Deserialize)]
#[serde(expecting = "a Tencent Cloud task status (a JSON object)")]
struct Doc<'a> {
    #[serde(rename = "Response", borrow, default)]
    response: Option<Box<Doc<'a>>>,
    #[serde(rename = "Data", borrow, default)]
    data: Option<Box<Doc<'a>>>,
    #[serde(rename = "Error", borrow, default)]
    error: Option<ApiError<'a>>,
    #[serde(
        rename = "TaskId",
        borrow,
        default,
        deserialize_with = "lenient::opt_text"
    )]
    task_id: Option<Cow<'a, str>>,
    #[serde(rename = "Status", default, deserialize_with = "status")]
    status: Option<i64>,
    #[serde(
        rename = "StatusStr",
        borrow,
        default,
        deserialize_with = "lenient::opt_text"
    )]
    status_str: Option<Cow<'a, str>>,
    #[serde(
        rename = "ErrorMsg",
        borrow,
        default,
        deserialize_with = "lenient::opt_text"
    )]
    error_msg: Option<Cow<'a, str>>,
    #[serde(rename = "AudioDuration", default, deserialize_with = "audio_duration")]
    audio_duration_s: Option<f64>,
    #[serde(rename = "ResultDetail", borrow, default)]
    result_detail: Option<Vec<Sentence<'a>>>,
}

#[derive(Deserialize)]
#[serde(expecting = "the `Error` object")]
struct ApiError<'a> {
    #[serde(rename = "Code", borrow, default, deserialize_with = "lenient::text")]
    code: Cow<'a, str>,
    #[serde(
        rename = "Message",
        borrow,
        default,
        deserialize_with = "lenient::text"
    )]
    message: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(expecting = "a `ResultDetail` sentence object")]
struct Sentence<'a> {
    #[serde(
        rename = "FinalSentence",
        borrow,
        default,
        deserialize_with = "lenient::text"
    )]
    text: Cow<'a, str>,
    #[serde(
        rename = "WrittenText",
        borrow,
        default,
        deserialize_with = "lenient::opt_text"
    )]
    written: Option<Cow<'a, str>>,
    #[serde(rename = "StartMs", default, deserialize_with = "start_ms")]
    start: Option<u64>,
    #[serde(rename = "EndMs", default, deserialize_with = "end_ms")]
    end: Option<u64>,
    #[serde(rename = "SpeakerId", default, deserialize_with = "speaker_id")]
    speaker: Option<i64>,
    #[serde(rename = "SpeechSpeed", default, deserialize_with = "speech_speed")]
    speed_per_s: Option<f64>,
    #[serde(
        rename = "EmotionalEnergy",
        default,
        deserialize_with = "emotional_energy"
    )]
    energy: Option<f64>,
    #[serde(rename = "SilenceTime", default, deserialize_with = "silence_time")]
    silence_ms: Option<f64>,
    #[serde(rename = "EmotionType", borrow, default)]
    emotion: Option<Vec<Option<Cow<'a, str>>>>,
}

fn status<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    vendor::integer(d, "Status")
}
fn audio_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    vendor::number(d, "AudioDuration")
}
fn start_ms<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    vendor::millis(d, "StartMs")
}
fn end_ms<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    vendor::millis(d, "EndMs")
}
fn speaker_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    vendor::integer(d, "SpeakerId")
}
fn speech_speed<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    vendor::number(d, "SpeechSpeed")
}
fn emotional_energy<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    vendor::number(d, "EmotionalEnergy")
}
fn silence_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    vendor::number(d, "SilenceTime")
}

/// The task status object: the innermost of `Response` → `Data` that
/// holds task fields.
fn task_status(doc: Doc<'_>) -> Result<Doc<'_>, Fail> {
    let mut doc = doc;
    loop {
        if let Some(err) = doc.error.take() {
            return Err(Fail::Msg(format!(
                "the Tencent Cloud API returned an error: {} {}",
                err.code, err.message
            )));
        }
        if let Some(inner) = doc.response.take() {
            doc = *inner;
        } else if let Some(inner) = doc.data.take() {
            doc = *inner;
        } else {
            return Ok(doc);
        }
    }
}

fn parse_record(text: &str, opts: &ImportOptions) -> Result<Parsed, Fail> {
    let doc: Doc<'_> = serde_json::from_str(text)?;
    let doc = task_status(doc)?;
    let sentences = match doc.result_detail {
        Some(s) if !s.is_empty() => s,
        _ => return Err(Fail::Msg(missing_detail(&doc))),
    };

    let mut speakers: Vec<i64> = Vec::with_capacity(2);
    for (i, s) in sentences.iter().enumerate() {
        let n = i + 1;
        if s.start.is_none() {
            return Err(Fail::Msg(format!("sentence {n} has no `StartMs`")));
        }
        if s.end.is_none() {
            return Err(Fail::Msg(format!("sentence {n} has no `EndMs`")));
        }
        let Some(sp) = s.speaker else {
            return Err(Fail::Msg(format!(
                "sentence {n} has no `SpeakerId`: cannot tell the agent from the customer; \
                 create the task with ChannelNum=2 (two-channel call recording) or \
                 SpeakerDiarization=1"
            )));
        };
        if !speakers.contains(&sp) {
            speakers.push(sp);
        }
    }
    speakers.sort_unstable();
    let agent = vendor::agent_channel(opts.agent_channel.as_deref(), &speakers, 0, "speaker")?;

    let mut turns = Vec::with_capacity(sentences.len());
    for s in sentences {
        let speaker = s.speaker.unwrap_or_default();
        let mut meta = Meta::new();
        put(&mut meta, "speaker_id", speaker);
        if let Some(v) = s.speed_per_s {
            put_number(&mut meta, "speech_rate", (v * 60.0 * 100.0).round() / 100.0);
        }
        if let Some(v) = s.energy {
            put_number(&mut meta, "emotion_energy", v);
        }
        if let Some(v) = s.silence_ms {
            put_number(&mut meta, "silence_ms", v.round());
        }
        if let Some(types) = s.emotion {
            let types: Vec<Cow<'_, str>> = types.into_iter().flatten().collect();
            if let Some(first) = types.iter().find(|t| !t.trim().is_empty()) {
                put(&mut meta, "emotion", first.trim().to_lowercase());
            }
            if types.len() > 1 {
                let all: Vec<Value> = types.iter().map(|t| Value::from(t.as_ref())).collect();
                put(&mut meta, "EmotionType", all);
            }
        }
        if let Some(w) = s.written.filter(|w| !w.is_empty() && *w != s.text) {
            put(&mut meta, "WrittenText", w.as_ref());
        }
        turns.push(Turn {
            role: if speaker == agent {
                Role::Agent
            } else {
                Role::Customer
            },
            text: Cow::Owned(s.text.into_owned()),
            start_ms: s.start,
            end_ms: s.end,
            meta,
        });
    }

    let mut meta = Meta::new();
    put(&mut meta, "source", "tencent");
    if let Some(id) = &doc.task_id {
        put(&mut meta, "task_id", id.as_ref());
    }
    if let Some(s) = &doc.status_str {
        put(&mut meta, "status", s.as_ref());
    }
    if let Some(secs) = doc.audio_duration_s {
        put_number(&mut meta, "duration_ms", (secs * 1000.0).round());
    }
    if !speakers.is_empty() {
        put(&mut meta, "agent_channel", agent);
    }
    Ok(Parsed {
        conversation: conversation(None, turns, meta),
        has_id: false,
    })
}

fn missing_detail(doc: &Doc<'_>) -> String {
    let status = doc.status_str.as_deref().unwrap_or("");
    match doc.status {
        Some(0 | 1) => format!(
            "the recognition task has not finished (Status {}, StatusStr {status}): fetch the \
             result again later",
            doc.status.unwrap_or_default()
        ),
        Some(3) => format!(
            "the recognition task failed: {}",
            doc.error_msg.as_deref().unwrap_or("no ErrorMsg given")
        ),
        _ if doc.result_detail.is_some() => {
            "no speech was recognised: `ResultDetail` is empty".to_string()
        }
        _ => "no `ResultDetail` array: create the task with ResTextFormat ≥ 1 so Tencent \
              returns sentence details, or this is not a Tencent Cloud ASR result"
            .to_string(),
    }
}
