//! Plumbing shared by the four ASR importers (Alibaba, Tencent, Huawei,
//! Amazon): cutting a file into results, decoding errors into
//! `line: reason`, ids, agent-channel choice and vendor detection.

use std::borrow::Cow;
use std::fmt;
use std::path::Path;

use kefu_engine::{Channel, Conversation, Meta, Turn};
use serde::de::{self, Deserializer, IgnoredAny, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::import::{ImportError, ImportOptions, Imported};

/// One result turned into a conversation.
pub(crate) struct Parsed {
    /// The conversation; its id is replaced when `has_id` is false.
    pub conversation: Conversation<'static>,
    /// Whether the result carried its own id (task id, job name).
    pub has_id: bool,
}

/// Why a result could not be read.
pub(crate) enum Fail {
    /// JSON syntax or a field of the wrong type (with a position).
    Json(serde_json::Error),
    /// Anything else, already in words.
    Msg(String),
}

impl From<serde_json::Error> for Fail {
    fn from(e: serde_json::Error) -> Fail {
        Fail::Json(e)
    }
}

/// A conversation with phone channel, the given turns (sorted by start
/// time) and metadata, and the vendor id (or an empty one to be filled
/// in by [`import`]).
pub(crate) fn conversation(
    id: Option<Cow<'_, str>>,
    mut turns: Vec<Turn<'static>>,
    meta: Meta,
) -> Conversation<'static> {
    // Stable: turns starting together keep the vendor's order. Most
    // results come sorted; checking first spares the sort's buffer.
    if !turns.is_sorted_by_key(|t| (t.start_ms, t.end_ms)) {
        turns.sort_by_key(|t| (t.start_ms, t.end_ms));
    }
    Conversation {
        id: Cow::Owned(id.map(Cow::into_owned).unwrap_or_default()),
        channel: Channel::Phone,
        agent_id: None,
        agent_name: None,
        customer_id: None,
        customer_name: None,
        started_at: None,
        wait_ms: None,
        ended_by: None,
        turns,
        meta,
    }
}

/// Stores `value` under `key`.
pub(crate) fn put(meta: &mut Meta, key: &str, value: impl Into<Value>) {
    meta.insert(key.to_string(), value.into());
}

/// Stores a number, as an integer when it is whole (`80`, not `80.0`).
pub(crate) fn put_number(meta: &mut Meta, key: &str, v: f64) {
    meta.insert(key.to_string(), number_value(v));
}

/// A JSON number, integral when `v` is whole.
pub(crate) fn number_value(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        Value::from(v as i64)
    } else {
        serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
    }
}

/// Chooses the agent's channel (or speaker) among the distinct, sorted
/// `present` ones. `option` is `--agent-channel`; without it a result
/// with exactly two channels, one of them `default`, takes `default` as
/// the agent; anything else is refused with a message saying to pass
/// `--agent-channel`.
pub(crate) fn agent_channel(
    option: Option<&str>,
    present: &[i64],
    default: i64,
    what: &str,
) -> Result<i64, Fail> {
    let list = || {
        present
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(opt) = option {
        let n: i64 = opt.trim().parse().map_err(|_| {
            Fail::Msg(format!(
                "--agent-channel must be a {what} number for this format, got {opt:?}"
            ))
        })?;
        if !present.is_empty() && !present.contains(&n) {
            return Err(Fail::Msg(format!(
                "no sentence on agent {what} {n} (the result has {what}s {}): check \
                 --agent-channel",
                list()
            )));
        }
        return Ok(n);
    }
    match present {
        [] => Ok(default),
        [a, b] if *a == default || *b == default => Ok(default),
        [only] => Err(Fail::Msg(format!(
            "only one {what} ({only}) in the result: cannot tell the agent from the customer; \
             pass --agent-channel to name the agent's {what} (a mono recording needs speaker \
             separation first)"
        ))),
        [_, _] => Err(Fail::Msg(format!(
            "{what}s {} and no {what} {default}: cannot tell which one is the agent; pass \
             --agent-channel",
            list()
        ))),
        _ => Err(Fail::Msg(format!(
            "{} {what}s ({}) in the result: cannot tell which one is the agent; pass \
             --agent-channel",
            present.len(),
            list()
        ))),
    }
}

// ----------------------------------------------------------------------
// Field deserialisers with messages that name the field.

struct Millis(&'static str);

impl<'de> Visitor<'de> for Millis {
    type Value = Option<u64>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` as a number of milliseconds", self.0)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        u64::try_from(v)
            .map(Some)
            .map_err(|_| E::custom(format!("`{}` is negative ({v})", self.0)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        if v.is_finite() && v >= 0.0 {
            // `as` saturates: absurdly large values cannot wrap.
            Ok(Some(v.round() as u64))
        } else {
            Err(E::custom(format!("`{}` is negative ({v})", self.0)))
        }
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// Milliseconds: a non-negative JSON number (floats are rounded);
/// `null` is absent; a string is an error naming `field`.
pub(crate) fn millis<'de, D: Deserializer<'de>>(
    d: D,
    field: &'static str,
) -> Result<Option<u64>, D::Error> {
    d.deserialize_any(Millis(field))
}

struct Number(&'static str);

impl<'de> Visitor<'de> for Number {
    type Value = Option<f64>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` as a number", self.0)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v as f64))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v as f64))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let t = v.trim();
        if t.is_empty() {
            return Ok(None);
        }
        match t.parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(Some(n)),
            _ => Err(E::custom(format!(
                "`{}` must be a number, found the string {}",
                self.0,
                quote(v)
            ))),
        }
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// A number, or a numeric string (Alibaba's camelCase results write
/// `"speechRate":"80"`); `null` and `""` are absent.
pub(crate) fn number<'de, D: Deserializer<'de>>(
    d: D,
    field: &'static str,
) -> Result<Option<f64>, D::Error> {
    d.deserialize_any(Number(field))
}

struct Integer(&'static str);

impl<'de> Visitor<'de> for Integer {
    type Value = Option<i64>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` as a whole number", self.0)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        i64::try_from(v)
            .map(Some)
            .map_err(|_| E::custom(format!("`{}` is too large ({v})", self.0)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        if v.fract() == 0.0 && v.abs() < 9.0e15 {
            Ok(Some(v as i64))
        } else {
            Err(E::custom(format!(
                "`{}` must be a whole number, found {v}",
                self.0
            )))
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        match v.trim().parse::<i64>() {
            Ok(n) => Ok(Some(n)),
            Err(_) => Err(E::custom(format!(
                "`{}` must be a whole number, found the string {}",
                self.0,
                quote(v)
            ))),
        }
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// A whole number (channel or speaker id), or one written as a string.
pub(crate) fn integer<'de, D: Deserializer<'de>>(
    d: D,
    field: &'static str,
) -> Result<Option<i64>, D::Error> {
    d.deserialize_any(Integer(field))
}

/// `s` quoted for a message, shortened when long.
fn quote(s: &str) -> String {
    const MAX: usize = 40;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{:?}…", &s[..i]),
        None => format!("{s:?}"),
    }
}

// ----------------------------------------------------------------------
// Cutting a file into results.

/// One result's JSON text and where it starts in the file.
struct Piece<'a> {
    /// 1-based line of the first byte.
    line: u64,
    /// 0-based byte column of the first byte.
    column: usize,
    /// The JSON text, or why it could not be cut out.
    text: Result<&'a str, String>,
}

/// Reads a file of results: one JSON object (compact or pretty-printed,
/// or several in a row), a JSON array of them, or JSON Lines. Each piece
/// goes through `parse`; results without their own id get
/// `opts.default_id` or the file stem, suffixed `-N` (1-based position)
/// when the file holds several results. Errors name the line of the
/// result (0 when the file holds a single result or cannot be cut up).
pub(crate) fn import<F>(
    source_name: &str,
    bytes: &[u8],
    opts: &ImportOptions,
    mut parse: F,
) -> Imported
where
    F: FnMut(&str) -> Result<Parsed, Fail>,
{
    let mut out = Imported::default();
    let bom = if bytes.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let body = &bytes[bom..];
    let Some(first) = body.iter().position(|b| !b.is_ascii_whitespace()) else {
        out.errors
            .push(ImportError::file("the file is empty: no result to import"));
        return out;
    };

    let (pieces, trailing) = if body[first] == b'[' {
        match whole_text(body, bom) {
            Ok(text) => split_array(text),
            Err(e) => (Vec::new(), Some(e)),
        }
    } else if first_line_is_incomplete(&body[first..]) {
        match whole_text(body, bom) {
            Ok(text) => split_stream(text),
            Err(e) => (Vec::new(), Some(e)),
        }
    } else {
        (split_lines(body, bom), None)
    };

    let total = pieces.len();
    let single = total == 1 && trailing.is_none();
    let base = || {
        opts.default_id
            .clone()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| file_stem(source_name))
    };
    for (i, piece) in pieces.into_iter().enumerate() {
        let line = if single { 0 } else { piece.line };
        let result = match piece.text {
            Ok(text) => parse(text).map_err(|f| describe(f, &piece, single)),
            Err(reason) => Err(reason),
        };
        let result = result.and_then(|parsed| {
            if parsed.conversation.turns.is_empty() {
                Err("no speech was recognised: the result holds no sentences".to_string())
            } else {
                Ok(parsed)
            }
        });
        match result {
            Ok(mut parsed) => {
                if !parsed.has_id || parsed.conversation.id.trim().is_empty() {
                    let id = if total == 1 {
                        base()
                    } else {
                        format!("{}-{}", base(), i + 1)
                    };
                    parsed.conversation.id = Cow::Owned(id);
                }
                // The vendor's task id (or the file name) becomes the id:
                // held to the same limits as a native record's, or the
                // conversation would be refused later without its line.
                match crate::native::validate(&parsed.conversation) {
                    Ok(()) => out.conversations.push(parsed.conversation),
                    Err(reason) => out.errors.push(ImportError { line, reason }),
                }
            }
            Err(reason) => out.errors.push(ImportError { line, reason }),
        }
    }
    if let Some(reason) = trailing {
        out.errors.push(ImportError::file(reason));
    } else if total == 0 {
        out.errors
            .push(ImportError::file("the file holds no result to import"));
    }
    out
}

/// The file name without directories and extension (`stdin` for `-`).
fn file_stem(source_name: &str) -> String {
    if source_name.is_empty() || source_name == "-" {
        return "stdin".to_string();
    }
    Path::new(source_name)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| source_name.to_string())
}

/// Whether the first line of `body` starts a JSON value it does not
/// finish: a pretty-printed document rather than JSON Lines.
fn first_line_is_incomplete(body: &[u8]) -> bool {
    let end = memchr::memchr(b'\n', body).unwrap_or(body.len());
    match serde_json::from_slice::<IgnoredAny>(&body[..end]) {
        Ok(_) => false,
        Err(e) => e.is_eof() && end < body.len(),
    }
}

/// The body as text, or an "invalid UTF-8 at byte N" reason (`N`
/// counted in the file, byte-order mark included). A character cut off
/// by the end of the input is dropped: the JSON parser then reports the
/// input as truncated, which is what happened.
fn whole_text(body: &[u8], bom: usize) -> Result<&str, String> {
    match simdutf8::basic::from_utf8(body) {
        Ok(text) => Ok(text),
        Err(_) => utf8_prefix(body).ok_or_else(|| utf8_error(body, bom)),
    }
}

/// `bytes` without a character cut off at its end, when that is the
/// only problem.
fn utf8_prefix(bytes: &[u8]) -> Option<&str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Some(text),
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&bytes[..e.valid_up_to()]).ok(),
        Err(_) => None,
    }
}

fn utf8_error(bytes: &[u8], offset: usize) -> String {
    let at = std::str::from_utf8(bytes)
        .err()
        .map_or(0, |e| e.valid_up_to());
    let hint = if looks_gbk(bytes, at) {
        "; the text looks GBK-encoded: the vendors write UTF-8, so convert the file first \
         (iconv -f GBK -t UTF-8)"
    } else {
        ""
    };
    format!("invalid UTF-8 at byte {}{hint}", offset + at)
}

/// Whether a file that stops being UTF-8 at `at` looks GBK-encoded:
/// nothing but ASCII before (a UTF-8 file damaged later has valid
/// Chinese before the damage) and GBK byte pairs from there on.
fn looks_gbk(bytes: &[u8], at: usize) -> bool {
    if !bytes[..at].is_ascii() {
        return false;
    }
    let mut rest = &bytes[at..bytes.len().min(at + 64)];
    let mut pairs = 0;
    while let [b, tail @ ..] = rest {
        if b.is_ascii() {
            rest = tail;
        } else if let [t, tail2 @ ..] = tail {
            if !(0x81..=0xFE).contains(b) || !(0x40..=0xFE).contains(t) || *t == 0x7F {
                return false;
            }
            pairs += 1;
            rest = tail2;
        } else {
            break;
        }
    }
    pairs >= 2
}

/// JSON Lines: one result per non-blank line.
fn split_lines(body: &[u8], bom: usize) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let valid = simdutf8::basic::from_utf8(body).ok();
    let mut start = 0;
    let mut line = 1;
    let mut push = |start: usize, end: usize, line: u64| {
        let raw = &body[start..end];
        if raw.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let text = match valid {
            // Cutting at '\n' (ASCII) keeps char boundaries.
            Some(text) => Ok(&text[start..end]),
            None => simdutf8::basic::from_utf8(raw)
                .ok()
                .or_else(|| utf8_prefix(raw))
                .ok_or_else(|| utf8_error(raw, bom + start)),
        };
        pieces.push(Piece {
            line,
            column: 0,
            text,
        });
    };
    for nl in memchr::memchr_iter(b'\n', body) {
        push(start, nl, line);
        start = nl + 1;
        line += 1;
    }
    push(start, body.len(), line);
    pieces
}

/// Line and column of `offset` in `text`, counting on from `from`.
struct Locator<'a> {
    text: &'a str,
    pos: usize,
    line: u64,
    line_start: usize,
}

impl Locator<'_> {
    fn locate(&mut self, offset: usize) -> (u64, usize) {
        let offset = offset.min(self.text.len());
        if offset > self.pos {
            for nl in memchr::memchr_iter(b'\n', &self.text.as_bytes()[self.pos..offset]) {
                self.line += 1;
                self.line_start = self.pos + nl + 1;
            }
            self.pos = offset;
        }
        (self.line, offset - self.line_start)
    }
}

fn offset_in(text: &str, part: &str) -> usize {
    (part.as_ptr() as usize).saturating_sub(text.as_ptr() as usize)
}

/// A JSON array of results.
fn split_array(text: &str) -> (Vec<Piece<'_>>, Option<String>) {
    let items: Vec<&RawValue> = match serde_json::from_str(text) {
        Ok(items) => items,
        Err(e) => return (Vec::new(), Some(json_reason(&e, 1, 0, true))),
    };
    if items.is_empty() {
        return (
            Vec::new(),
            Some("the JSON array holds no result".to_string()),
        );
    }
    let mut at = Locator {
        text,
        pos: 0,
        line: 1,
        line_start: 0,
    };
    let pieces = items
        .into_iter()
        .map(|raw| {
            let (line, column) = at.locate(offset_in(text, raw.get()));
            Piece {
                line,
                column,
                text: Ok(raw.get()),
            }
        })
        .collect();
    (pieces, None)
}

/// One or more JSON values in a row (a pretty-printed result).
fn split_stream(text: &str) -> (Vec<Piece<'_>>, Option<String>) {
    let mut at = Locator {
        text,
        pos: 0,
        line: 1,
        line_start: 0,
    };
    let mut pieces = Vec::new();
    for item in serde_json::Deserializer::from_str(text).into_iter::<&RawValue>() {
        match item {
            Ok(raw) => {
                let (line, column) = at.locate(offset_in(text, raw.get()));
                pieces.push(Piece {
                    line,
                    column,
                    text: Ok(raw.get()),
                });
            }
            Err(e) => return (pieces, Some(json_reason(&e, 1, 0, true))),
        }
    }
    (pieces, None)
}

/// Words for a failed piece, with the position in the file.
fn describe(fail: Fail, piece: &Piece<'_>, single: bool) -> String {
    match fail {
        Fail::Msg(m) => m,
        Fail::Json(e) => json_reason(&e, piece.line, piece.column, single),
    }
}

/// A serde_json error as a reason: "truncated JSON", "invalid JSON: …"
/// or the field problem, then where (line and column in the file; the
/// column alone when the error is on the record's own line and the
/// record's line is reported anyway).
fn json_reason(e: &serde_json::Error, line: u64, column: usize, with_line: bool) -> String {
    let msg = e.to_string();
    let msg = match msg.rfind(" at line ") {
        Some(i) => &msg[..i],
        None => msg.as_str(),
    };
    let what = if e.is_eof() {
        "truncated JSON: the result ends in the middle of a value".to_string()
    } else if e.is_syntax() {
        format!("invalid JSON: {msg}")
    } else {
        msg.to_string()
    };
    if e.line() == 0 {
        return what;
    }
    let abs_line = line + e.line() as u64 - 1;
    let abs_col = if e.line() == 1 {
        column + e.column()
    } else {
        e.column()
    };
    if with_line || abs_line != line {
        format!("{what} (line {abs_line}, column {abs_col})")
    } else {
        format!("{what} (column {abs_col})")
    }
}

// ----------------------------------------------------------------------
// Detection.

/// The ASR vendors, for detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Vendor {
    Aliyun,
    Tencent,
    Huawei,
    Amazon,
}

/// Which vendor's result `json` is (an object, or an array whose first
/// element is one). The checks run in a fixed order and each vendor is
/// recognised by its own keys, so at most one vendor matches.
pub(crate) fn vendor_of(json: &Value) -> Option<Vendor> {
    let obj = match json {
        Value::Array(items) => items.first()?,
        v => v,
    }
    .as_object()?;
    if is_amazon(obj) {
        Some(Vendor::Amazon)
    } else if is_tencent(obj) {
        Some(Vendor::Tencent)
    } else if is_huawei(obj) {
        Some(Vendor::Huawei)
    } else if is_aliyun(obj) {
        Some(Vendor::Aliyun)
    } else {
        None
    }
}

fn first_has(list: Option<&Value>, keys: &[&str], if_empty: bool) -> bool {
    match list {
        Some(Value::Array(items)) => match items.first() {
            Some(Value::Object(o)) => keys.iter().any(|k| o.contains_key(*k)),
            Some(_) => false,
            None => if_empty,
        },
        _ => false,
    }
}

fn is_amazon(obj: &Map<String, Value>) -> bool {
    let job = ["JobStatus", "Participants", "ConversationCharacteristics"]
        .iter()
        .any(|k| obj.contains_key(*k));
    first_has(obj.get("Transcript"), &["ParticipantRole"], job)
}

fn is_tencent(obj: &Map<String, Value>) -> bool {
    let status = |o: &Map<String, Value>| {
        matches!(o.get("ResultDetail"), Some(Value::Array(_) | Value::Null))
            || o.contains_key("StatusStr")
    };
    let data = |o: &Map<String, Value>| match o.get("Data") {
        Some(Value::Object(d)) => status(d),
        _ => false,
    };
    status(obj) || data(obj) || matches!(obj.get("Response"), Some(Value::Object(r)) if data(r))
}

fn is_huawei(obj: &Map<String, Value>) -> bool {
    let direct = |o: &Map<String, Value>| {
        first_has(
            o.get("segments"),
            &["result", "start_time"],
            o.contains_key("status"),
        )
    };
    direct(obj) || matches!(obj.get("asr_result"), Some(Value::Object(r)) if direct(r))
}

fn is_aliyun(obj: &Map<String, Value>) -> bool {
    let times = ["BeginTime", "beginTime", "Text", "text"];
    let inner = |key: &str, list: &str| match obj.get(key) {
        Some(Value::Object(r)) => first_has(r.get(list), &times, true),
        _ => false,
    };
    inner("Result", "Sentences")
        || inner("result", "sentences")
        || first_has(obj.get("Sentences"), &times, true)
        || first_has(obj.get("sentences"), &times, true)
        || ((obj.contains_key("TaskId") || obj.contains_key("taskId"))
            && (obj.contains_key("StatusText") || obj.contains_key("statusText")))
}
