//! Alibaba Cloud 录音文件识别 (file transcription) results.
//!
//! The result of `GetTaskResult` (or the callback body) holds one call:
//!
//! ```json
//! {"TaskId":"d429dd7dd75711e89305ab6170fe****","StatusText":"SUCCESS","BizDuration":28650,
//!  "Result":{"Sentences":[{"BeginTime":340,"EndTime":2365,"ChannelId":0,"Text":"您好……",
//!                          "SpeechRate":177,"EmotionValue":5.0,"SilenceDuration":0}]}}
//! ```
//!
//! The newer camelCase form (`version` 4.0, and Alibaba's other voice
//! products) is read as well: `taskId`, `result.sentences` (or a top-level
//! `sentences`), `beginTime`, `endTime`, `channelId`, `text`, `speechRate`,
//! `emotionValue`, `silenceDuration`; numeric fields may be strings there.
//!
//! Times are milliseconds from the start of the recording; `SilenceDuration`
//! is in **seconds** (stored as `silence_ms`); `SpeechRate` is characters per
//! minute; `EmotionValue` is an energy level from 1 to 10.
//!
//! Roles come from the audio channel: in a two-channel call recording the
//! agent is usually channel 0, the default; `--agent-channel` says otherwise.
//! A result with one channel or more than two is refused unless the agent
//! channel is given. See docs/formats.md for the full mapping.

use std::borrow::Cow;

use kefu_engine::{lenient, Meta, Role, Turn};
use serde::Deserialize;
use serde_json::Value;

use super::vendor::{self, conversation, put, put_number, Fail, Parsed};
use super::{ImportOptions, Imported};

/// Reads an Alibaba Cloud file-transcription result, a JSON array of them or
/// JSON Lines of them; each result becomes one phone conversation.
pub fn read(source_name: &str, bytes: &[u8], opts: &ImportOptions) -> Imported {
    vendor::import(source_name, bytes, opts, |text| parse_record(text, opts))
}

/// Whether `json` (a result, or an array of them) has the shape of an
/// Alibaba Cloud file-transcription result: `Result.Sentences`,
/// `result.sentences` or a top-level `Sentences`/`sentences` array, or a
/// finished-without-result task (`TaskId` with `StatusText`).
pub fn detect(json: &Value) -> bool {
    vendor::vendor_of(json) == Some(vendor::Vendor::Aliyun)
}

#[derive(Deserialize)]
#[serde(expecting = "an Alibaba Cloud file-transcription result (a JSON object)")]
struct Doc<'a> {
    #[serde(
        rename = "TaskId",
        alias = "taskId",
        borrow,
        default,
        deserialize_with = "lenient::opt_text"
    )]
    task_id: Option<Cow<'a, str>>,
    #[serde(
        rename = "StatusText",
        alias = "statusText",
        borrow,
        default,
        deserialize_with = "lenient::opt_text"
    )]
    status_text: Option<Cow<'a, str>>,
    #[serde(
        rename = "StatusCode",
        alias = "statusCode",
        borrow,
        default,
        deserialize_with = "lenient::opt_text"
    )]
    status_code: Option<Cow<'a, str>>,
    #[serde(
        rename = "BizDuration",
        alias = "bizDuration",
        default,
        deserialize_with = "biz_duration"
    )]
    biz_duration: Option<u64>,
    #[serde(rename = "Result", alias = "result", borrow, default)]
    result: Option<ResultObj<'a>>,
    #[serde(rename = "Sentences", alias = "sentences", borrow, default)]
    sentences: Option<Vec<Sentence<'a>>>,
}

#[derive(Deserialize)]
#[serde(expecting = "the `Result` object")]
struct ResultObj<'a> {
    #[serde(rename = "Sentences", alias = "sentences", borrow, default)]
    sentences: Option<Vec<Sentence<'a>>>,
}

#[derive(Deserialize)]
#[serde(expecting = "a sentence object")]
struct Sentence<'a> {
    #[serde(
        rename = "BeginTime",
        alias = "beginTime",
        default,
        deserialize_with = "begin_time"
    )]
    begin: Option<u64>,
    #[serde(
        rename = "EndTime",
        alias = "endTime",
        default,
        deserialize_with = "end_time"
    )]
    end: Option<u64>,
    #[serde(
        rename = "ChannelId",
        alias = "channelId",
        default,
        deserialize_with = "channel_id"
    )]
    channel: Option<i64>,
    #[serde(
        rename = "Text",
        alias = "text",
        borrow,
        default,
        deserialize_with = "lenient::text"
    )]
    text: Cow<'a, str>,
    #[serde(
        rename = "SpeechRate",
        alias = "speechRate",
        default,
        deserialize_with = "speech_rate"
    )]
    speech_rate: Option<f64>,
    #[serde(
        rename = "EmotionValue",
        alias = "emotionValue",
        default,
        deserialize_with = "emotion_value"
    )]
    emotion: Option<f64>,
    #[serde(
        rename = "SilenceDuration",
        alias = "silenceDuration",
        default,
        deserialize_with = "silence_duration"
    )]
    silence_s: Option<f64>,
}

fn begin_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    vendor::millis(d, "BeginTime")
}
fn end_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    vendor::millis(d, "EndTime")
}
fn biz_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    vendor::millis(d, "BizDuration")
}
fn channel_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    vendor::integer(d, "ChannelId")
}
fn speech_rate<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    vendor::number(d, "SpeechRate")
}
fn emotion_value<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    vendor::number(d, "EmotionValue")
}
fn silence_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    vendor::number(d, "SilenceDuration")
}

fn parse_record(text: &str, opts: &ImportOptions) -> Result<Parsed, Fail> {
    let doc: Doc<'_> = serde_json::from_str(text)?;
    let Some(sentences) = doc.result.and_then(|r| r.sentences).or(doc.sentences) else {
        return Err(Fail::Msg(missing_sentences(
            doc.status_text.as_deref(),
            doc.status_code.as_deref(),
        )));
    };

    // First pass: required fields and the channels present.
    let mut channels: Vec<i64> = Vec::with_capacity(2);
    for (i, s) in sentences.iter().enumerate() {
        if s.begin.is_none() {
            return Err(Fail::Msg(format!(
                "sentence {} has no `BeginTime` (`beginTime`)",
                i + 1
            )));
        }
        if s.end.is_none() {
            return Err(Fail::Msg(format!(
                "sentence {} has no `EndTime` (`endTime`)",
                i + 1
            )));
        }
        let Some(ch) = s.channel else {
            return Err(Fail::Msg(format!(
                "sentence {} has no `ChannelId` (`channelId`): cannot tell the agent from the \
                 customer",
                i + 1
            )));
        };
        if !channels.contains(&ch) {
            channels.push(ch);
        }
    }
    channels.sort_unstable();
    let agent = vendor::agent_channel(opts.agent_channel.as_deref(), &channels, 0, "channel")?;

    let mut turns = Vec::with_capacity(sentences.len());
    for s in sentences {
        let channel = s.channel.unwrap_or_default();
        let mut meta = Meta::new();
        put(&mut meta, "channel_id", channel);
        if let Some(v) = s.speech_rate {
            put_number(&mut meta, "speech_rate", v);
        }
        if let Some(v) = s.emotion {
            put_number(&mut meta, "emotion_energy", v);
        }
        if let Some(v) = s.silence_s {
            put_number(&mut meta, "silence_ms", (v * 1000.0).round());
        }
        turns.push(Turn {
            role: if channel == agent {
                Role::Agent
            } else {
                Role::Customer
            },
            text: Cow::Owned(s.text.into_owned()),
            start_ms: s.begin,
            end_ms: s.end,
            meta,
        });
    }

    let mut meta = Meta::new();
    put(&mut meta, "source", "aliyun");
    if let Some(id) = &doc.task_id {
        put(&mut meta, "task_id", id.as_ref());
    }
    if let Some(status) = &doc.status_text {
        put(&mut meta, "status", status.as_ref());
    }
    if let Some(ms) = doc.biz_duration {
        put(&mut meta, "duration_ms", ms);
    }
    if !channels.is_empty() {
        put(&mut meta, "agent_channel", agent);
    }
    let has_id = doc.task_id.is_some();
    Ok(Parsed {
        conversation: conversation(doc.task_id, turns, meta),
        has_id,
    })
}

fn missing_sentences(status: Option<&str>, code: Option<&str>) -> String {
    let code = code
        .map(|c| format!(", StatusCode {c}"))
        .unwrap_or_default();
    match status {
        Some(s @ ("RUNNING" | "QUEUEING")) => format!(
            "the transcription task has not finished (StatusText {s}{code}): fetch the result \
             again later"
        ),
        Some(s @ "SUCCESS_WITH_NO_VALID_FRAGMENT") => {
            format!("no speech was recognised in the recording (StatusText {s}{code})")
        }
        Some(s) if !s.eq_ignore_ascii_case("SUCCESS") => {
            format!("the transcription task failed (StatusText {s}{code}): there are no sentences")
        }
        _ => "no `Result.Sentences` array (nor `result.sentences`): not an Alibaba Cloud \
              file-transcription result"
            .to_string(),
    }
}
