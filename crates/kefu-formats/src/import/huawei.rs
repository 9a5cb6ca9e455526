//! Huawei Cloud SIS 录音文件识别 results (`CollectTranscriberJob`).
//!
//! ```json
//! {"status":"FINISHED","create_time":"2026-10-01T01:15:40.310Z","audio_duration":27400,
//!  "segments":[{"start_time":420,"end_time":2680,
//!               "result":{"text":"您好，请问有什么可以帮您？",
//!                         "analysis_info":{"role":"AGENT","emotion":"NORMAL","speed":4.4}}}]}
//! ```
//!
//! `start_time`/`end_time` and `audio_duration` are milliseconds;
//! `analysis_info` is present when the job was submitted with
//! `need_analysis_info` (its `diarization` gives `role`, `emotion: true`
//! the emotion, `speed: true` the speed in characters per **second**, stored
//! ×60 as `speech_rate` per minute). `job_id` appears only in callbacks.
//! The same object wrapped as `asr_result` (Huawei's quality-inspection
//! export) is accepted.
//!
//! Roles: `AGENT` is the agent and `USER` the customer. Diarised mono
//! recordings label speakers `speaker1` … `speaker10` instead; then
//! `--agent-channel` names the agent (`2` or `speaker2`), and without it a
//! result with exactly two speakers takes `speaker1` as the agent. A
//! segment without a role cannot be placed and is an error.

use std::borrow::Cow;

use kefu_engine::{lenient, Meta, Role, Turn};
use serde::Deserialize;
use serde_json::Value;

use super::vendor::{self, conversation, put, put_number, Fail, Parsed};
use super::{ImportOptions, Imported};

/// Reads a Huawei Cloud SIS recording-recognition result, a JSON array of
/// them or JSON Lines of them; each result becomes one phone conversation.
pub fn read(source_name: &str, bytes: &[u8], opts: &ImportOptions) -> Imported {
    vendor::import(source_name, bytes, opts, |text| parse_record(text, opts))
}

/// Whether `json` (a result, or an array of them) has the shape of a Huawei
/// Cloud SIS result: a `segments` array whose elements carry `result`
/// (optionally wrapped in `asr_result`).
pub fn detect(json: &Value) -> bool {
    vendor::vendor_of(json) == Some(vendor::Vendor::Huawei)
}

#[derive(Deserialize)]
#[serde(expecting = "a Huawei Cloud SIS result (a JSON object)")]
struct Doc<'a> {
    #[serde(borrow, default)]
    asr_result: Option<Box<Doc<'a>>>,
    #[serde(borrow, default, deserialize_with = "lenient::opt_text")]
    job_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient::opt_text")]
    status: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient::opt_text")]
    error_code: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient::opt_text")]
    error_msg: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "audio_duration")]
    audio_duration: Option<u64>,
    #[serde(borrow, default)]
    segments: Option<Vec<Segment<'a>>>,
}

#[derive(Deserialize)]
#[serde(expecting = "a segment object")]
struct Segment<'a> {
    #[serde(default, deserialize_with = "start_time")]
    start_time: Option<u64>,
    #[serde(default, deserialize_with = "end_time")]
    end_time: Option<u64>,
    #[serde(borrow, default)]
    result: Option<SegmentResult<'a>>,
}

#[derive(Deserialize)]
#[serde(expecting = "the segment's `result` object")]
struct SegmentResult<'a> {
    #[serde(borrow, default, deserialize_with = "lenient::text")]
    text: Cow<'a, str>,
    #[serde(borrow, default)]
    analysis_info: Option<Analysis<'a>>,
}

#[derive(Deserialize)]
#[serde(expecting = "the `analysis_info` object")]
struct Analysis<'a> {
    #[serde(borrow, default, deserialize_with = "lenient::opt_text")]
    role: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient::opt_text")]
    emotion: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "speed")]
    speed: Option<f64>,
}

fn audio_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    vendor::millis(d, "audio_duration")
}
fn start_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    vendor::millis(d, "start_time")
}
fn end_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    vendor::millis(d, "end_time")
}
fn speed<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    vendor::number(d, "speed")
}

/// Who a segment's `role` names.
enum Speaker {
    Agent,
    Customer,
    /// `speakerN` of a diarised mono recording.
    Numbered(i64),
}

fn speaker(role: &str) -> Option<Speaker> {
    let r = role.trim();
    if r.eq_ignore_ascii_case("AGENT") {
        Some(Speaker::Agent)
    } else if r.eq_ignore_ascii_case("USER") || r.eq_ignore_ascii_case("CUSTOMER") {
        Some(Speaker::Customer)
    } else {
        speaker_number(r).map(Speaker::Numbered)
    }
}

/// `speaker3` (any case) or `3` → 3.
fn speaker_number(s: &str) -> Option<i64> {
    let s = s.trim();
    let digits = match s.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("speaker") => &s[7..],
        _ => s,
    };
    digits.trim().parse().ok()
}

fn parse_record(text: &str, opts: &ImportOptions) -> Result<Parsed, Fail> {
    let mut doc: Doc<'_> = serde_json::from_str(text)?;
    while let Some(inner) = doc.asr_result.take() {
        doc = *inner;
    }
    let Some(segments) = doc.segments.take() else {
        return Err(Fail::Msg(missing_segments(&doc)));
    };

    // Segments without `result` are failed sentences: nothing to keep.
    let mut kept = Vec::with_capacity(segments.len());
    let mut numbered: Vec<i64> = Vec::new();
    for (i, seg) in segments.into_iter().enumerate() {
        let n = i + 1;
        let Some(result) = seg.result else { continue };
        let (Some(start), Some(end)) = (seg.start_time, seg.end_time) else {
            let field = if seg.start_time.is_none() {
                "start_time"
            } else {
                "end_time"
            };
            return Err(Fail::Msg(format!("segment {n} has no `{field}`")));
        };
        let info = result.analysis_info;
        let (label, emotion, speed) = match info {
            Some(a) => (a.role, a.emotion, a.speed),
            None => (None, None, None),
        };
        let Some(label) = label else {
            return Err(Fail::Msg(format!(
                "segment {n} (at {start} ms) has no `result.analysis_info.role`: cannot tell the \
                 agent from the customer; submit the job with need_analysis_info.diarization \
                 (and channel LEFT_AGENT or RIGHT_AGENT for two-channel recordings)"
            )));
        };
        let Some(who) = speaker(&label) else {
            return Err(Fail::Msg(format!(
                "segment {n} has an unknown role {label:?} (expected AGENT, USER or speakerN)"
            )));
        };
        if let Speaker::Numbered(k) = who {
            if !numbered.contains(&k) {
                numbered.push(k);
            }
        }
        kept.push((start, end, result.text, who, emotion, speed));
    }
    numbered.sort_unstable();
    let agent_speaker = if numbered.is_empty() {
        None
    } else {
        let option = match opts.agent_channel.as_deref() {
            Some(o) => Some(speaker_number(o).map(|k| k.to_string()).ok_or_else(|| {
                Fail::Msg(format!(
                    "--agent-channel must name a speaker (`2` or `speaker2`) for Huawei \
                             results, got {o:?}"
                ))
            })?),
            None => None,
        };
        Some(vendor::agent_channel(
            option.as_deref(),
            &numbered,
            1,
            "speaker",
        )?)
    };

    let mut turns = Vec::with_capacity(kept.len());
    for (start, end, text, who, emotion, speed) in kept {
        let mut meta = Meta::new();
        let role = match who {
            Speaker::Agent => Role::Agent,
            Speaker::Customer => Role::Customer,
            Speaker::Numbered(k) => {
                put(&mut meta, "speaker_id", k);
                if Some(k) == agent_speaker {
                    Role::Agent
                } else {
                    Role::Customer
                }
            }
        };
        if let Some(e) = emotion.filter(|e| !e.trim().is_empty()) {
            put(&mut meta, "emotion", e.trim().to_lowercase());
        }
        if let Some(v) = speed {
            put_number(&mut meta, "speech_rate", (v * 60.0 * 100.0).round() / 100.0);
        }
        turns.push(Turn {
            role,
            text: Cow::Owned(text.into_owned()),
            start_ms: Some(start),
            end_ms: Some(end),
            meta,
        });
    }

    let mut meta = Meta::new();
    put(&mut meta, "source", "huawei");
    if let Some(id) = &doc.job_id {
        put(&mut meta, "job_id", id.as_ref());
    }
    if let Some(s) = &doc.status {
        put(&mut meta, "status", s.as_ref());
    }
    if let Some(ms) = doc.audio_duration {
        put(&mut meta, "duration_ms", ms);
    }
    if let Some(k) = agent_speaker {
        put(&mut meta, "agent_channel", k);
    }
    let has_id = doc.job_id.is_some();
    Ok(Parsed {
        conversation: conversation(doc.job_id, turns, meta),
        has_id,
    })
}

fn missing_segments(doc: &Doc<'_>) -> String {
    let status = doc.status.as_deref().unwrap_or("");
    if status.eq_ignore_ascii_case("WAITING") {
        return "the transcription job has not finished (status WAITING): fetch the result again \
                later"
            .to_string();
    }
    if status.eq_ignore_ascii_case("ERROR") || doc.error_code.is_some() {
        return format!(
            "the transcription job failed: {} {}",
            doc.error_code.as_deref().unwrap_or(""),
            doc.error_msg.as_deref().unwrap_or("(no error_msg)")
        )
        .trim_end()
        .to_string();
    }
    "no `segments` array: not a Huawei Cloud SIS recording-recognition result".to_string()
}
