//! The ASR vendor importers (Alibaba, Tencent, Huawei, Amazon) on realistic
//! results written from each vendor's documented fields, on arrays and JSON
//! Lines of them, on malformed files, and on random bytes.

use kefu_engine::{Channel, Conversation, Inspector, Role, RulePack, Scratch};
use kefu_formats::import::{aliyun, amazon, huawei, tencent, ImportOptions, Imported};
use serde_json::{json, Value};

const ALIYUN: &str = include_str!("../../../examples/vendors/aliyun.json");
const ALIYUN_CAMEL: &str = include_str!("../../../examples/vendors/aliyun-camel.json");
const TENCENT: &str = include_str!("../../../examples/vendors/tencent.json");
const HUAWEI: &str = include_str!("../../../examples/vendors/huawei.json");
const AMAZON: &str = include_str!("../../../examples/vendors/amazon.json");

type Reader = fn(&str, &[u8], &ImportOptions) -> Imported;
type Detector = fn(&Value) -> bool;
type SetId = fn(&mut Value, &str);

const READERS: [(&str, Reader); 4] = [
    ("aliyun", aliyun::read),
    ("tencent", tencent::read),
    ("huawei", huawei::read),
    ("amazon", amazon::read),
];

/// The call every example transcribes: (agent?, start, end, text).
const CALL: [(bool, u64, u64, &str); 16] = [
    (
        true,
        300,
        11500,
        "您好，很高兴为您服务，我是客服专员小李，工号1024，请问有什么可以帮您？",
    ),
    (
        false,
        12200,
        17600,
        "你好，我上个月的话费怎么多扣了五十块钱，我都没用什么流量。",
    ),
    (
        true,
        18100,
        29000,
        "非常抱歉给您带来不便，请您提供一下机主姓名和手机号码，我马上帮您查询。",
    ),
    (
        false,
        29600,
        34800,
        "机主是张伟，号码一三八零零一三八零零零。",
    ),
    (true, 35300, 40900, "好的张先生，请您稍等，我帮您核实一下。"),
    (
        true,
        47000,
        57500,
        "感谢您的耐心等待。经核实，您上月开通了一个视频会员流量包，每月五十元。",
    ),
    (
        false,
        58200,
        63400,
        "我根本没开过这个，你们这是乱扣费，我要投诉！",
    ),
    (
        true,
        64000,
        76600,
        "非常抱歉给您带来了困扰，我这边马上帮您退订这个流量包，并为您申请退还五十元话费。",
    ),
    (false, 77200, 79300, "那要多久能退回来？"),
    (
        true,
        79900,
        89700,
        "退款会在三个工作日内返还到您的话费账户，届时会有短信通知您。",
    ),
    (false, 90300, 92100, "好的，那就这样吧。"),
    (true, 92600, 97900, "请问您还有其他问题需要咨询吗？"),
    (false, 98400, 99400, "没有了。"),
    (
        true,
        99900,
        108000,
        "稍后会有一条满意度短信，请您对我的服务做出评价，谢谢。",
    ),
    (true, 108300, 113200, "感谢您的来电，祝您生活愉快，再见！"),
    (false, 113600, 114600, "好，再见。"),
];

fn opts() -> ImportOptions {
    ImportOptions::default()
}

fn with_agent(channel: &str) -> ImportOptions {
    ImportOptions {
        agent_channel: Some(channel.to_string()),
        ..ImportOptions::default()
    }
}

/// Reads a file that must give exactly one conversation and no error.
fn one(read: Reader, name: &str, text: &str, opts: &ImportOptions) -> Conversation<'static> {
    let out = read(name, text.as_bytes(), opts);
    assert!(out.errors.is_empty(), "{name}: {:?}", out.errors);
    assert_eq!(out.conversations.len(), 1, "{name}");
    out.conversations
        .into_iter()
        .next()
        .expect("one conversation")
}

/// Checks roles, times and text against [`CALL`].
fn assert_call(conv: &Conversation<'_>) {
    assert_eq!(conv.channel, Channel::Phone);
    assert_eq!(conv.turns.len(), CALL.len(), "{}", conv.id);
    for (turn, (agent, start, end, text)) in conv.turns.iter().zip(CALL) {
        let role = if agent { Role::Agent } else { Role::Customer };
        assert_eq!(turn.role, role, "{text}");
        assert_eq!(turn.start_ms, Some(start), "{text}");
        assert_eq!(turn.end_ms, Some(end), "{text}");
        assert_eq!(turn.text, text);
    }
}

fn meta<'a>(conv: &'a Conversation<'_>, turn: usize, key: &str) -> &'a Value {
    conv.turns[turn].meta.get(key).unwrap_or_else(|| {
        panic!(
            "turn {turn} has no meta `{key}`: {:?}",
            conv.turns[turn].meta
        )
    })
}

fn compact(text: &str) -> String {
    let v: Value = serde_json::from_str(text).expect("example is JSON");
    serde_json::to_string(&v).expect("serialises")
}

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/vendors/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Reads a malformed file: no conversation, one error, about the whole file.
fn error_of(read: Reader, name: &str, opts: &ImportOptions) -> String {
    let out = read(name, &data(name), opts);
    assert!(
        out.conversations.is_empty(),
        "{name}: {:?}",
        out.conversations
    );
    assert_eq!(out.errors.len(), 1, "{name}: {:?}", out.errors);
    assert_eq!(out.errors[0].line, 0, "{name}: {:?}", out.errors);
    out.errors[0].reason.clone()
}

fn assert_contains(reason: &str, parts: &[&str]) {
    for part in parts {
        assert!(reason.contains(part), "{reason:?} lacks {part:?}");
    }
}

// ---------------------------------------------------------------------------
// Alibaba Cloud

#[test]
fn aliyun_example_field_by_field() {
    let conv = one(aliyun::read, "calls/aliyun.json", ALIYUN, &opts());
    assert_eq!(conv.id, "a3f2c1d0e9b84c7fa1d2e3f4a5b6c7d8");
    assert_call(&conv);
    // Sentence 1: ChannelId 0, SpeechRate 171, EmotionValue 5.1, SilenceDuration 0 s.
    assert_eq!(meta(&conv, 0, "channel_id"), &json!(0));
    assert_eq!(meta(&conv, 0, "speech_rate"), &json!(171));
    assert_eq!(meta(&conv, 0, "emotion_energy"), &json!(5.1));
    assert_eq!(meta(&conv, 0, "silence_ms"), &json!(0));
    assert_eq!(meta(&conv, 1, "channel_id"), &json!(1));
    // The agent came back after 6.1 s on hold: SilenceDuration 6 (seconds).
    assert_eq!(meta(&conv, 5, "silence_ms"), &json!(6000));
    assert_eq!(meta(&conv, 6, "emotion_energy"), &json!(8.2));
    assert_eq!(conv.meta["source"], json!("aliyun"));
    assert_eq!(
        conv.meta["task_id"],
        json!("a3f2c1d0e9b84c7fa1d2e3f4a5b6c7d8")
    );
    assert_eq!(conv.meta["duration_ms"], json!(114600));
    assert_eq!(conv.meta["agent_channel"], json!(0));
    assert_eq!(conv.meta["status"], json!("SUCCESS"));
}

#[test]
fn aliyun_camel_case_variant() {
    let conv = one(aliyun::read, "aliyun-camel.json", ALIYUN_CAMEL, &opts());
    assert_eq!(conv.id, "b7e1d2c3f4a54b6c8d9e0f1a2b3c4d5e");
    assert_call(&conv);
    // Numbers written as strings ("171", "5.1", "6") are read as numbers.
    assert_eq!(meta(&conv, 0, "speech_rate"), &json!(171));
    assert_eq!(meta(&conv, 0, "emotion_energy"), &json!(5.1));
    assert_eq!(meta(&conv, 5, "silence_ms"), &json!(6000));
    assert_eq!(conv.meta["duration_ms"], json!(114600));
}

#[test]
fn aliyun_agent_channel_option() {
    let conv = one(aliyun::read, "a.json", ALIYUN, &with_agent("1"));
    assert_eq!(conv.turns[0].role, Role::Customer);
    assert_eq!(conv.turns[1].role, Role::Agent);
    assert_eq!(conv.meta["agent_channel"], json!(1));

    let out = aliyun::read("a.json", ALIYUN.as_bytes(), &with_agent("left"));
    assert_contains(&out.errors[0].reason, &["--agent-channel", "\"left\""]);
    let out = aliyun::read("a.json", ALIYUN.as_bytes(), &with_agent("3"));
    assert_contains(
        &out.errors[0].reason,
        &["agent channel 3", "channels 0, 1", "--agent-channel"],
    );
}

#[test]
fn aliyun_sorts_sentences_and_keeps_empty_text() {
    // Two-channel results may list one channel after the other.
    let doc = json!({"TaskId": "t-1", "Result": {"Sentences": [
        {"BeginTime": 5000, "EndTime": 6000, "ChannelId": 1, "Text": "好的"},
        {"BeginTime": 9000, "EndTime": 9500, "ChannelId": 1, "Text": ""},
        {"BeginTime": 100, "EndTime": 2000, "ChannelId": 0, "Text": "您好"},
        {"BeginTime": 7000, "EndTime": 8000, "ChannelId": 0, "Text": "再见", "SilenceDuration": 1.5},
    ]}});
    let conv = one(aliyun::read, "x.json", &doc.to_string(), &opts());
    let starts: Vec<_> = conv.turns.iter().map(|t| t.start_ms).collect();
    assert_eq!(starts, [Some(100), Some(5000), Some(7000), Some(9000)]);
    assert_eq!(conv.turns[3].text, "");
    assert_eq!(conv.turns[3].role, Role::Customer);
    assert_eq!(meta(&conv, 2, "silence_ms"), &json!(1500));
}

#[test]
fn aliyun_malformed_files() {
    let r = error_of(aliyun::read, "aliyun-missing-sentences.json", &opts());
    assert_contains(&r, &["no `Result.Sentences`"]);
    let r = error_of(aliyun::read, "aliyun-begintime-string.json", &opts());
    assert_contains(
        &r,
        &[
            "invalid type: string \"00:00:29.600\"",
            "`BeginTime`",
            "milliseconds",
            "column",
        ],
    );
    let r = error_of(aliyun::read, "aliyun-truncated.json", &opts());
    assert_contains(&r, &["truncated JSON", "line 1, column 700"]);
    let r = error_of(aliyun::read, "aliyun-gbk.json", &opts());
    let first_non_ascii = data("aliyun-gbk.json")
        .iter()
        .position(|b| !b.is_ascii())
        .expect("GBK bytes");
    assert_contains(
        &r,
        &[&format!("invalid UTF-8 at byte {first_non_ascii}"), "GBK"],
    );
    let r = error_of(aliyun::read, "aliyun-three-channels.json", &opts());
    assert_contains(&r, &["3 channels (0, 1, 2)", "--agent-channel"]);
    let r = error_of(aliyun::read, "aliyun-failed.json", &opts());
    assert_contains(&r, &["failed", "FILE_DOWNLOAD_FAILED", "41050002"]);

    // With the agent channel given, the IVR channel 2 becomes the customer side.
    let out = aliyun::read(
        "x.json",
        &data("aliyun-three-channels.json"),
        &with_agent("0"),
    );
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.conversations[0].turns.len(), 17);
}

#[test]
fn aliyun_single_channel_needs_agent_channel() {
    let doc = json!({"TaskId": "mono", "Result": {"Sentences": [
        {"BeginTime": 0, "EndTime": 2000, "ChannelId": 0, "Text": "您好"},
        {"BeginTime": 2500, "EndTime": 4000, "ChannelId": 0, "Text": "我要查话费"},
    ]}});
    let out = aliyun::read("mono.json", doc.to_string().as_bytes(), &opts());
    assert_eq!(out.errors.len(), 1);
    assert_contains(
        &out.errors[0].reason,
        &["only one channel (0)", "--agent-channel"],
    );
    let conv = one(
        aliyun::read,
        "mono.json",
        &doc.to_string(),
        &with_agent("0"),
    );
    assert!(conv.turns.iter().all(|t| t.role == Role::Agent));
}

#[test]
fn aliyun_missing_fields_are_named() {
    let doc = json!({"Result": {"Sentences": [{"BeginTime": 0, "ChannelId": 0, "Text": "您好"}]}});
    let out = aliyun::read("x.json", doc.to_string().as_bytes(), &opts());
    assert_contains(&out.errors[0].reason, &["sentence 1 has no `EndTime`"]);
    let doc = json!({"Result": {"Sentences": [{"BeginTime": 0, "EndTime": 10, "Text": "您好"}]}});
    let out = aliyun::read("x.json", doc.to_string().as_bytes(), &opts());
    assert_contains(&out.errors[0].reason, &["sentence 1 has no `ChannelId`"]);
    let doc = json!({"Result": {"Sentences": [{"BeginTime": -5, "EndTime": 10, "ChannelId": 0}]}});
    let out = aliyun::read("x.json", doc.to_string().as_bytes(), &opts());
    assert_contains(&out.errors[0].reason, &["`BeginTime` is negative (-5)"]);
    let doc = json!({"Result": {"Sentences": [
        {"BeginTime": 0, "EndTime": 10, "ChannelId": 0, "SpeechRate": "fast"},
    ]}});
    let out = aliyun::read("x.json", doc.to_string().as_bytes(), &opts());
    assert_contains(
        &out.errors[0].reason,
        &["`SpeechRate` must be a number", "\"fast\""],
    );
    let out = aliyun::read("x.json", br#"{"Result": {"Sentences": []}}"#, &opts());
    assert_contains(&out.errors[0].reason, &["no speech was recognised"]);
}

// ---------------------------------------------------------------------------
// Tencent Cloud

#[test]
fn tencent_example_field_by_field() {
    let conv = one(tencent::read, "exports/tencent.json", TENCENT, &opts());
    // TaskId is unique for 24 hours only: the file name is the id.
    assert_eq!(conv.id, "tencent");
    assert_call(&conv);
    assert_eq!(meta(&conv, 0, "speaker_id"), &json!(0));
    assert_eq!(meta(&conv, 1, "speaker_id"), &json!(1));
    // SpeechSpeed 2.86 characters per second → 171.6 per minute.
    assert_eq!(meta(&conv, 0, "speech_rate"), &json!(171.6));
    assert_eq!(meta(&conv, 0, "emotion_energy"), &json!(5.1));
    assert_eq!(meta(&conv, 0, "emotion"), &json!("neutral"));
    assert_eq!(meta(&conv, 6, "emotion"), &json!("angry"));
    // SilenceTime is milliseconds.
    assert_eq!(meta(&conv, 0, "silence_ms"), &json!(300));
    assert_eq!(meta(&conv, 5, "silence_ms"), &json!(6100));
    assert_eq!(conv.meta["source"], json!("tencent"));
    assert_eq!(conv.meta["task_id"], json!("4928376510"));
    assert_eq!(conv.meta["status"], json!("success"));
    assert_eq!(conv.meta["duration_ms"], json!(114600));
    assert_eq!(conv.meta["agent_channel"], json!(0));

    let with_id = ImportOptions {
        default_id: Some("call-778".into()),
        ..ImportOptions::default()
    };
    assert_eq!(
        one(tencent::read, "t.json", TENCENT, &with_id).id,
        "call-778"
    );
}

#[test]
fn tencent_wrappings() {
    let full: Value = serde_json::from_str(TENCENT).expect("JSON");
    let data = full["Response"]["Data"].clone();
    for doc in [json!({"Data": data.clone()}), data] {
        let conv = one(tencent::read, "t.json", &doc.to_string(), &opts());
        assert_call(&conv);
    }
    let err = json!({"Response": {
        "Error": {"Code": "AuthFailure.SignatureExpire", "Message": "签名过期"},
        "RequestId": "x",
    }});
    let out = tencent::read("t.json", err.to_string().as_bytes(), &opts());
    assert_contains(
        &out.errors[0].reason,
        &["AuthFailure.SignatureExpire", "签名过期"],
    );
}

#[test]
fn tencent_malformed_files() {
    let r = error_of(tencent::read, "tencent-missing-detail.json", &opts());
    assert_contains(&r, &["no `ResultDetail`", "ResTextFormat"]);
    let r = error_of(tencent::read, "tencent-startms-string.json", &opts());
    assert_contains(&r, &["\"18100ms\"", "`StartMs`", "milliseconds"]);
    let r = error_of(tencent::read, "tencent-truncated.json", &opts());
    assert_contains(&r, &["truncated JSON"]);
    let bytes = data("tencent-invalid-utf8.json");
    let at = bytes.iter().position(|&b| b == 0xFF).expect("bad byte");
    let r = error_of(tencent::read, "tencent-invalid-utf8.json", &opts());
    assert_contains(&r, &[&format!("invalid UTF-8 at byte {at}")]);
    assert!(!r.contains("GBK"), "damaged UTF-8 is not GBK: {r}");
    let r = error_of(tencent::read, "tencent-one-speaker.json", &opts());
    assert_contains(&r, &["only one speaker (0)", "--agent-channel"]);
    let r = error_of(tencent::read, "tencent-failed.json", &opts());
    assert_contains(&r, &["failed", "Failed to download audio file!"]);
}

// ---------------------------------------------------------------------------
// Huawei Cloud

#[test]
fn huawei_example_field_by_field() {
    let conv = one(huawei::read, "huawei.json", HUAWEI, &opts());
    assert_eq!(conv.id, "huawei");
    assert_call(&conv);
    assert_eq!(meta(&conv, 0, "emotion"), &json!("normal"));
    assert_eq!(meta(&conv, 6, "emotion"), &json!("angry"));
    // speed 2.86 characters per second → 171.6 per minute.
    assert_eq!(meta(&conv, 0, "speech_rate"), &json!(171.6));
    assert!(!conv.turns[0].meta.contains_key("speaker_id"));
    assert_eq!(conv.meta["source"], json!("huawei"));
    assert_eq!(conv.meta["status"], json!("FINISHED"));
    assert_eq!(conv.meta["duration_ms"], json!(114600));
}

#[test]
fn huawei_speakers_and_wrapper() {
    let mut doc: Value = serde_json::from_str(HUAWEI).expect("JSON");
    for (i, seg) in doc["segments"]
        .as_array_mut()
        .expect("segments")
        .iter_mut()
        .enumerate()
    {
        let agent = CALL[i].0;
        seg["result"]["analysis_info"]["role"] = json!(if agent { "speaker2" } else { "speaker1" });
    }
    // Two speakers, no option: speaker1 is taken as the agent…
    let conv = one(huawei::read, "h.json", &doc.to_string(), &opts());
    assert_eq!(conv.turns[0].role, Role::Customer);
    assert_eq!(meta(&conv, 0, "speaker_id"), &json!(2));
    // … unless --agent-channel says otherwise, as `2` or `speaker2`.
    for opt in ["2", "speaker2", "Speaker2"] {
        let conv = one(huawei::read, "h.json", &doc.to_string(), &with_agent(opt));
        assert_call(&conv);
        assert_eq!(conv.meta["agent_channel"], json!(2));
    }
    // The quality-inspection export wraps the result in `asr_result`.
    let wrapped = json!({"asr_result": serde_json::from_str::<Value>(HUAWEI).expect("JSON")});
    assert_call(&one(huawei::read, "h.json", &wrapped.to_string(), &opts()));
}

#[test]
fn huawei_malformed_files() {
    let r = error_of(huawei::read, "huawei-missing-segments.json", &opts());
    assert_contains(&r, &["no `segments`"]);
    let r = error_of(huawei::read, "huawei-start-time-string.json", &opts());
    assert_contains(&r, &["\"12.2\"", "`start_time`", "milliseconds"]);
    let r = error_of(huawei::read, "huawei-truncated.json", &opts());
    assert_contains(&r, &["truncated JSON"]);
    let r = error_of(huawei::read, "huawei-invalid-utf8.json", &opts());
    assert_contains(&r, &["invalid UTF-8 at byte"]);
    assert!(!r.contains("GBK"), "damaged UTF-8 is not GBK: {r}");
    let r = error_of(huawei::read, "huawei-no-role.json", &opts());
    assert_contains(
        &r,
        &["segment 1 (at 300 ms)", "analysis_info.role", "diarization"],
    );
    let r = error_of(huawei::read, "huawei-three-speakers.json", &opts());
    assert_contains(&r, &["3 speakers (1, 2, 3)", "--agent-channel"]);
}

// ---------------------------------------------------------------------------
// Amazon

#[test]
fn amazon_example_field_by_field() {
    let conv = one(amazon::read, "amazon.json", AMAZON, &opts());
    assert_eq!(conv.id, "kefu-call-20261001-0915-0001");
    assert_call(&conv);
    assert_eq!(meta(&conv, 0, "sentiment"), &json!("positive"));
    assert_eq!(meta(&conv, 1, "sentiment"), &json!("negative"));
    assert_eq!(meta(&conv, 2, "sentiment"), &json!("neutral"));
    assert!(meta(&conv, 0, "LoudnessScores")
        .as_array()
        .is_some_and(|a| a.len() == 11));
    assert!(meta(&conv, 0, "Id").is_string());
    assert_eq!(
        meta(&conv, 6, "IssuesDetected"),
        &json!([{"CharacterOffsets": {"Begin": 0, "End": 9}}])
    );
    assert!(!conv.turns[0].meta.contains_key("IssuesDetected"));
    assert_eq!(conv.meta["source"], json!("amazon"));
    assert_eq!(conv.meta["job_name"], json!("kefu-call-20261001-0915-0001"));
    assert_eq!(conv.meta["language_code"], json!("zh-CN"));
    assert_eq!(conv.meta["duration_ms"], json!(114600));
    assert_eq!(conv.meta["interruptions"], json!(0));
    assert_eq!(conv.meta["non_talk_ms"], json!(0));
    assert_eq!(
        conv.meta["talk_speed_wpm"],
        json!({"agent": 118, "customer": 134})
    );
    assert_eq!(
        conv.meta["talk_time_ms"],
        json!({"agent": 84700, "customer": 22800})
    );
    assert_eq!(
        conv.meta["sentiment"],
        json!({"agent": 2.5, "customer": -0.6})
    );
    assert_eq!(conv.meta["categories"], json!(["billing-dispute"]));
    let cc = &conv.meta["ConversationCharacteristics"];
    assert_eq!(
        cc["TalkSpeed"]["DetailsByParticipant"]["AGENT"]["AverageWordsPerMinute"],
        json!(118)
    );
    assert_eq!(
        cc["Sentiment"]["SentimentByPeriod"]["QUARTER"]["CUSTOMER"][0]["Score"],
        json!(-5.0)
    );
}

#[test]
fn amazon_malformed_files() {
    let r = error_of(amazon::read, "amazon-standard-output.json", &opts());
    assert_contains(&r, &["standard Amazon Transcribe output", "Call Analytics"]);
    let r = error_of(amazon::read, "amazon-begin-offset-string.json", &opts());
    assert_contains(&r, &["\"35300\"", "`BeginOffsetMillis`", "milliseconds"]);
    let r = error_of(amazon::read, "amazon-truncated.json", &opts());
    assert_contains(&r, &["truncated JSON"]);
    let r = error_of(amazon::read, "amazon-invalid-utf8.json", &opts());
    assert_contains(&r, &["invalid UTF-8 at byte"]);
    assert!(!r.contains("GBK"), "damaged UTF-8 is not GBK: {r}");
    let r = error_of(amazon::read, "amazon-unknown-role.json", &opts());
    assert_contains(&r, &["segment 4", "\"SUPERVISOR\""]);
    let r = error_of(amazon::read, "amazon-failed.json", &opts());
    assert_contains(&r, &["job failed", "media format"]);
}

// ---------------------------------------------------------------------------
// Arrays, JSON Lines, ids, layouts

/// Three results of `example`, given the ids `first`, `second`, `third`
/// by `set_id`.
fn three(example: &str, set_id: SetId) -> Vec<String> {
    ["first", "second", "third"]
        .iter()
        .map(|id| {
            let mut v: Value = serde_json::from_str(example).expect("JSON");
            set_id(&mut v, id);
            serde_json::to_string(&v).expect("serialises")
        })
        .collect()
}

fn set_task_id(v: &mut Value, id: &str) {
    v["TaskId"] = json!(id);
}
fn set_job_name(v: &mut Value, id: &str) {
    v["JobName"] = json!(id);
}
fn set_job_id(v: &mut Value, id: &str) {
    v["job_id"] = json!(id);
}
fn no_id(_: &mut Value, _: &str) {}

#[test]
fn arrays_and_json_lines_of_results() {
    let cases: [(Reader, &str, SetId, bool); 4] = [
        (aliyun::read, ALIYUN, set_task_id, true),
        (tencent::read, TENCENT, no_id, false),
        (huawei::read, HUAWEI, set_job_id, true),
        (amazon::read, AMAZON, set_job_name, true),
    ];
    for (read, example, set_id, has_ids) in cases {
        let docs = three(example, set_id);
        let expected: Vec<String> = if has_ids {
            vec!["first".into(), "second".into(), "third".into()]
        } else {
            vec!["batch-1".into(), "batch-2".into(), "batch-3".into()]
        };
        let array = format!("[{}]", docs.join(",\n"));
        let lines = format!("{}\r\n\r\n{}\n{}\n", docs[0], docs[1], docs[2]);
        let pretty = docs
            .iter()
            .map(|d| {
                let v: Value = serde_json::from_str(d).expect("JSON");
                serde_json::to_string_pretty(&v).expect("serialises")
            })
            .collect::<Vec<_>>()
            .join("\n");
        for (layout, text) in [("array", &array), ("lines", &lines), ("pretty", &pretty)] {
            let out = read("in/batch.jsonl", text.as_bytes(), &opts());
            assert!(out.errors.is_empty(), "{layout}: {:?}", out.errors);
            let ids: Vec<&str> = out.conversations.iter().map(|c| c.id.as_ref()).collect();
            assert_eq!(ids, expected, "{layout}");
            for conv in &out.conversations {
                assert_call(conv);
            }
        }
    }
}

#[test]
fn a_bad_line_does_not_stop_the_others() {
    let docs = three(ALIYUN, set_task_id);
    let bad = docs[1].replacen("\"BeginTime\":300", "\"BeginTime\":\"300ms\"", 1);
    assert_ne!(bad, docs[1]);
    let text = format!(
        "{}\n{}\n{{\"TaskId\":\"cut\",\"Result\":{{\"Sent\n{}\n",
        docs[0], bad, docs[2]
    );
    let out = aliyun::read("day.jsonl", text.as_bytes(), &opts());
    let ids: Vec<&str> = out.conversations.iter().map(|c| c.id.as_ref()).collect();
    assert_eq!(ids, ["first", "third"]);
    assert_eq!(out.errors.len(), 2, "{:?}", out.errors);
    assert_eq!(out.errors[0].line, 2);
    assert_contains(
        &out.errors[0].reason,
        &["\"300ms\"", "`BeginTime`", "(column "],
    );
    assert_eq!(out.errors[1].line, 3);
    assert_contains(&out.errors[1].reason, &["truncated JSON"]);

    // Invalid UTF-8 on one line: that line only, with the byte offset in the file.
    let mut bytes = format!("{}\n{}\n", docs[0], docs[2]).into_bytes();
    let at = docs[0].len() + 1 + docs[2].find("您好").expect("text");
    bytes[at] = 0xFE;
    let out = aliyun::read("day.jsonl", &bytes, &opts());
    assert_eq!(out.conversations.len(), 1);
    assert_eq!(out.errors[0].line, 2);
    assert_contains(
        &out.errors[0].reason,
        &[&format!("invalid UTF-8 at byte {at}")],
    );
}

#[test]
fn ids_without_task_id() {
    let mut v: Value = serde_json::from_str(ALIYUN).expect("JSON");
    v.as_object_mut().expect("object").remove("TaskId");
    let doc = serde_json::to_string(&v).expect("serialises");
    assert_eq!(
        one(aliyun::read, "/data/call 42.json", &doc, &opts()).id,
        "call 42"
    );
    assert_eq!(one(aliyun::read, "-", &doc, &opts()).id, "stdin");
    let with_id = ImportOptions {
        default_id: Some("c-9".into()),
        ..ImportOptions::default()
    };
    assert_eq!(one(aliyun::read, "x.json", &doc, &with_id).id, "c-9");
    let out = aliyun::read("x.json", format!("[{doc},{doc}]").as_bytes(), &with_id);
    let ids: Vec<&str> = out.conversations.iter().map(|c| c.id.as_ref()).collect();
    assert_eq!(ids, ["c-9-1", "c-9-2"]);
}

#[test]
fn bom_blank_and_empty_files() {
    let with_bom = format!("\u{feff}{ALIYUN}");
    assert_call(&one(aliyun::read, "bom.json", &with_bom, &opts()));
    for (name, read) in READERS {
        for text in ["", "  \n\r\n", "\u{feff}"] {
            let out = read("empty.json", text.as_bytes(), &opts());
            assert!(out.conversations.is_empty(), "{name}");
            assert_eq!(out.errors.len(), 1, "{name}");
            assert_contains(&out.errors[0].reason, &["empty"]);
        }
        let out = read("empty.json", b"[]", &opts());
        assert_contains(&out.errors[0].reason, &["no result"]);
        let out = read("num.json", b"42", &opts());
        assert_eq!(out.errors.len(), 1, "{name}");
        assert_contains(
            &out.errors[0].reason,
            &["invalid type: integer `42`", "(a JSON object)"],
        );
        assert!(!out.errors[0].reason.contains("struct"), "{:?}", out.errors);
    }
}

#[test]
fn wrong_vendor_gives_a_clear_error() {
    let examples = [ALIYUN, TENCENT, HUAWEI, AMAZON];
    for (i, (name, read)) in READERS.iter().enumerate() {
        for (j, text) in examples.iter().enumerate() {
            if i == j {
                continue;
            }
            let out = read("other.json", text.as_bytes(), &opts());
            assert!(out.conversations.is_empty(), "{name} read example {j}");
            assert_eq!(out.errors.len(), 1, "{name}");
            assert_contains(&out.errors[0].reason, &["no `"]);
        }
    }
}

// ---------------------------------------------------------------------------
// Detection

#[test]
fn detection_is_exclusive() {
    let detectors: [(&str, Detector); 4] = [
        ("aliyun", aliyun::detect),
        ("tencent", tencent::detect),
        ("huawei", huawei::detect),
        ("amazon", amazon::detect),
    ];
    let full: Value = serde_json::from_str(TENCENT).expect("JSON");
    let tencent_data = json!({"Data": full["Response"]["Data"].clone()});
    let mut cases: Vec<(&str, Value)> = vec![
        ("aliyun", serde_json::from_str(ALIYUN).expect("JSON")),
        ("aliyun", serde_json::from_str(ALIYUN_CAMEL).expect("JSON")),
        (
            "aliyun",
            json!({"sentences": [{"beginTime": 1, "text": "您好"}]}),
        ),
        ("tencent", serde_json::from_str(TENCENT).expect("JSON")),
        ("tencent", tencent_data),
        ("huawei", serde_json::from_str(HUAWEI).expect("JSON")),
        ("amazon", serde_json::from_str(AMAZON).expect("JSON")),
    ];
    for name in [
        "aliyun-failed.json",
        "aliyun-missing-sentences.json",
        "tencent-failed.json",
        "tencent-missing-detail.json",
        "huawei-no-role.json",
        "amazon-unknown-role.json",
    ] {
        let vendor = name.split('-').next().expect("prefix");
        cases.push((vendor, serde_json::from_slice(&data(name)).expect("JSON")));
    }
    let arrays: Vec<(&str, Value)> = cases
        .iter()
        .map(|(v, doc)| (*v, Value::Array(vec![doc.clone()])))
        .collect();
    cases.extend(arrays);
    for (vendor, doc) in &cases {
        let hits: Vec<&str> = detectors
            .iter()
            .filter(|(_, detect)| detect(doc))
            .map(|(name, _)| *name)
            .collect();
        // The Alibaba file without sentences is only recognisable from its status.
        if doc
            .get("Result")
            .is_some_and(|r| r.get("Sentences").is_none())
        {
            assert!(hits.is_empty() || hits == [*vendor], "{vendor}: {hits:?}");
            continue;
        }
        assert_eq!(hits, [*vendor], "{doc:.200}");
    }
    let native =
        json!({"id": "c-1", "channel": "phone", "turns": [{"role": "agent", "text": "您好"}]});
    let nothing = [
        native,
        json!([]),
        json!(42),
        json!({}),
        json!({"segments": 3}),
    ];
    for doc in nothing {
        assert!(detectors.iter().all(|(_, d)| !d(&doc)), "{doc}");
    }
}

// ---------------------------------------------------------------------------
// Inspection with the default pack

#[test]
fn examples_inspect_with_the_default_pack() {
    let inspector =
        Inspector::new(RulePack::default_zh_cn().expect("built-in pack")).expect("compiles");
    let mut scratch = Scratch::default();
    let files: [(Reader, &str, &str); 5] = [
        (aliyun::read, "aliyun.json", ALIYUN),
        (aliyun::read, "aliyun-camel.json", ALIYUN_CAMEL),
        (tencent::read, "tencent.json", TENCENT),
        (huawei::read, "huawei.json", HUAWEI),
        (amazon::read, "amazon.json", AMAZON),
    ];
    for (read, name, text) in files {
        let conv = one(read, name, text, &opts());
        let result = inspector.inspect(&conv, &mut scratch);
        let rules: Vec<&str> = result.findings.iter().map(|f| f.rule.as_ref()).collect();
        for rule in [
            "opening",
            "apology",
            "hold",
            "anything_else",
            "survey",
            "closing",
            "speech_rate",
            "silence",
        ] {
            assert!(
                !rules.contains(&rule),
                "{name}: {rule} fired: {:?}",
                result.findings
            );
            assert!(
                !result.not_applicable.iter().any(|r| r.as_ref() == rule),
                "{name}: {rule} not applicable"
            );
        }
        assert!(result.passed, "{name}: {result:?}");
        assert_eq!(result.score, 100.0, "{name}: {:?}", result.findings);
    }

    // The opening rule does fire when the greeting is missing.
    let doc = json!({"TaskId": "no-greeting", "Result": {"Sentences": [
        {"BeginTime": 0, "EndTime": 3000, "ChannelId": 0, "Text": "说吧，什么事。"},
        {"BeginTime": 3500, "EndTime": 6000, "ChannelId": 1, "Text": "我想查话费。"},
        {"BeginTime": 6500, "EndTime": 9000, "ChannelId": 0, "Text": "自己去营业厅查。"},
    ]}});
    let conv = one(aliyun::read, "x.json", &doc.to_string(), &opts());
    let result = inspector.inspect(&conv, &mut scratch);
    assert!(result.findings.iter().any(|f| f.rule.as_ref() == "opening"));
}

// ---------------------------------------------------------------------------
// No input makes a reader panic

/// xorshift64*: small, deterministic, good enough to shake parsers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn no_input_panics_a_reader() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let examples: Vec<Vec<u8>> = [ALIYUN, ALIYUN_CAMEL, TENCENT, HUAWEI, AMAZON]
        .iter()
        .flat_map(|e| [e.as_bytes().to_vec(), compact(e).into_bytes()])
        .collect();
    let alphabet = b"{}[]\":,0123456789.-eE truefalsnl\n\r\\u\xE4\xBD\xA0\xFF";
    let options = [
        opts(),
        with_agent("1"),
        with_agent("speaker2"),
        with_agent("-1"),
    ];
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for ex in &examples {
        // Every truncation of the compact forms would be slow on the big
        // ones; take a few hundred cut points each.
        for _ in 0..300 {
            inputs.push(ex[..rng.below(ex.len() + 1)].to_vec());
        }
        // Byte flips and splices.
        for _ in 0..300 {
            let mut m = ex.clone();
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(m.len());
                m[i] = alphabet[rng.below(alphabet.len())];
            }
            inputs.push(m);
        }
        for _ in 0..50 {
            let a = rng.below(ex.len());
            let b = rng.below(ex.len());
            let (a, b) = (a.min(b), a.max(b));
            let mut m = ex[..a].to_vec();
            m.extend_from_slice(&ex[b..]);
            inputs.push(m);
        }
    }
    for _ in 0..2000 {
        let len = rng.below(200);
        inputs.push((0..len).map(|_| rng.next() as u8).collect());
        inputs.push(
            (0..len)
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect(),
        );
    }
    inputs.push(b"[".repeat(10_000));
    inputs.push(b"{\"Result\":".repeat(5_000));
    for (k, input) in inputs.iter().enumerate() {
        for (_, read) in READERS {
            let out = read("fuzz.json", input, &options[k % options.len()]);
            // Whatever happened, it is accounted for.
            assert!(!out.conversations.is_empty() || !out.errors.is_empty() || input.is_empty());
        }
    }
}
