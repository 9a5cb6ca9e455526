//! CSV and TSV exports, one turn per row.
//!
//! ```text
//! 会话ID,角色,内容,开始时间,结束时间,坐席
//! c-001,客服,您好，很高兴为您服务,0,2300,a-07
//! c-001,客户,我想查一下话费,2600,4100,a-07
//! ```
//!
//! - **Encodings**: UTF-8 with or without the Excel byte-order mark,
//!   GB18030/GBK (what Excel writes on Chinese Windows), and UTF-16 LE/BE
//!   with a BOM (Excel's "Unicode text"). See [`decode`].
//! - **Delimiter**: `,`, tab or `;`, detected from the header line unless
//!   set; an Excel `sep=;` first line is honoured.
//! - **Columns** are found by name (case, spaces, `_` and `-` ignored, a
//!   trailing unit such as `(ms)` or `（秒）` dropped) from
//!   [`CsvOptions`] or the defaults listed in docs/formats.md. A title line
//!   or two above the header is skipped.
//! - **Rows** of one conversation may be contiguous or scattered; an id seen
//!   again later appends to the earlier conversation. A row with an empty id
//!   continues the conversation of the row above (Excel merged cells).
//! - **Times** (`start`/`end`): milliseconds, seconds with a fraction
//!   (`12.5`), `mm:ss`/`hh:mm:ss[.fff]`, or absolute timestamps, which are
//!   turned into offsets from the start of the conversation (its time column
//!   when given and not later, else its earliest timestamp), also setting
//!   `started_at`.
//! - **Channel**: a `channel` column when present; otherwise `phone` when
//!   any turn has a duration (an end later than its start), else `chat`.
//!
//! A bad row is reported with its line and skipped (a bad time only loses
//! that time); every other row still goes through.

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone};
use encoding_rs::{DecoderResult, Encoding, GB18030, UTF_16BE, UTF_16LE};
use kefu_engine::lenient::{self, Vocabulary, DEFAULT_OFFSET_SECONDS};
use kefu_engine::{Channel, Conversation, Meta, Role, Turn};

use super::{CsvOptions, ImportError, ImportOptions, Imported};

// ---------------------------------------------------------------------------
// Text decoding and timestamps, shared with the chat-log importer.
// ---------------------------------------------------------------------------

/// A file's bytes decoded to text.
#[derive(Debug)]
pub struct Decoded<'a> {
    /// The text; borrowed when the file was already UTF-8 without a BOM.
    pub text: Cow<'a, str>,
    /// What the file was read as: `UTF-8`, `GB18030`, `UTF-8 and GB18030`,
    /// `UTF-16LE` or `UTF-16BE`.
    pub encoding: &'static str,
    /// Lines that could not be decoded (their bad bytes became U+FFFD).
    pub errors: Vec<ImportError>,
}

/// Decodes a text file of unknown encoding.
///
/// A byte-order mark decides (UTF-8, UTF-16 LE/BE); without one, a file
/// that looks like UTF-16 (zero high bytes) is read as such, valid UTF-8 is
/// taken as is, and otherwise each line is read as UTF-8 when it is valid
/// UTF-8 and as GB18030 (a superset of GBK and GB2312) when not, so files
/// concatenated from both still read. That choice is made per file first: a
/// file that is overwhelmingly UTF-8 with a few bad bytes stays UTF-8, its
/// bad bytes becoming U+FFFD with a line-numbered error (GB18030 would turn
/// such a line into mojibake). A line that is neither is decoded with
/// U+FFFD for the bad bytes and reported. When most lines are undecodable
/// the file is not text: a file-level error.
pub fn decode(bytes: &[u8]) -> Result<Decoded<'_>, ImportError> {
    if let Some((encoding, bom)) = Encoding::for_bom(bytes) {
        let rest = &bytes[bom..];
        if encoding == encoding_rs::UTF_8 {
            let mut d = decode_unmarked(rest)?;
            if d.encoding == "UTF-8" {
                d.encoding = "UTF-8 (BOM)";
            }
            return Ok(d);
        }
        return Ok(decode_utf16(encoding, rest));
    }
    if let Some(encoding) = sniff_utf16(bytes) {
        return Ok(decode_utf16(encoding, bytes));
    }
    decode_unmarked(bytes)
}

fn decode_utf16(encoding: &'static Encoding, bytes: &[u8]) -> Decoded<'static> {
    let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
    let mut errors = Vec::new();
    if had_errors {
        errors.push(ImportError::file(format!(
            "malformed {} (odd length or unpaired surrogate); the bad code units \
             were replaced with U+FFFD",
            encoding.name()
        )));
    }
    Decoded {
        text: Cow::Owned(text.into_owned()),
        encoding: if encoding == UTF_16LE {
            "UTF-16LE"
        } else {
            "UTF-16BE"
        },
        errors,
    }
}

/// UTF-16 without a BOM: mostly-ASCII text has a zero in every other byte.
fn sniff_utf16(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(1024) & !1];
    if head.len() < 4 {
        return None;
    }
    let pairs = head.len() / 2;
    let (mut even_zero, mut odd_zero) = (0, 0);
    for pair in head.chunks_exact(2) {
        even_zero += usize::from(pair[0] == 0);
        odd_zero += usize::from(pair[1] == 0);
    }
    if odd_zero * 10 >= pairs * 4 && even_zero * 20 < pairs {
        Some(UTF_16LE)
    } else if even_zero * 10 >= pairs * 4 && odd_zero * 20 < pairs {
        Some(UTF_16BE)
    } else {
        None
    }
}

fn decode_unmarked(bytes: &[u8]) -> Result<Decoded<'_>, ImportError> {
    let first = match simdutf8::compat::from_utf8(bytes) {
        Ok(text) => {
            return Ok(Decoded {
                text: Cow::Borrowed(text),
                encoding: "UTF-8",
                errors: Vec::new(),
            })
        }
        Err(e) => e,
    };
    let mut out = String::with_capacity(bytes.len() + bytes.len() / 2);
    let mut errors = Vec::new();
    // Everything before the line of the first bad byte is UTF-8.
    let pos = memchr::memrchr(b'\n', &bytes[..first.valid_up_to()]).map_or(0, |i| i + 1);
    let valid = &bytes[..pos];
    push_utf8(valid, &mut out);
    let mut utf8_non_ascii = !valid.is_ascii();
    let mut lines_utf8 = memchr::memchr_iter(b'\n', valid).count();
    let lines_before = lines_utf8;
    let (mut lines_gb, mut lines_bad) = (0, 0);
    let mut buf = Vec::new();
    // The file's encoding is decided once, from all of it.
    let utf8_file = mostly_utf8(bytes);
    // From there on, line by line (validating the rest of the file again at
    // each bad line would be quadratic).
    for (n, raw) in bytes[pos..].split_inclusive(|&b| b == b'\n').enumerate() {
        if let Ok(text) = simdutf8::basic::from_utf8(raw) {
            out.push_str(text);
            utf8_non_ascii |= !raw.is_ascii();
            lines_utf8 += 1;
            continue;
        }
        // In a UTF-8 file with a few bad bytes, reading the bad lines as
        // GB18030 (which accepts almost any byte pairs) would turn all of
        // them into mojibake.
        if utf8_file {
            push_utf8(raw, &mut out);
            utf8_non_ascii = true;
            lines_utf8 += 1;
            errors.push(ImportError {
                line: (lines_before + n + 1) as u64,
                reason: "invalid UTF-8 bytes on this line of a UTF-8 file; replaced with U+FFFD"
                    .to_string(),
            });
            continue;
        }
        if push_gb18030(raw, &mut out, &mut buf) {
            lines_gb += 1;
            continue;
        }
        lines_bad += 1;
        let utf8 = String::from_utf8_lossy(raw);
        let (gb, _) = GB18030.decode_without_bom_handling(raw);
        let count = |s: &str| s.chars().filter(|&c| c == '\u{FFFD}').count();
        let (best, what) = if count(&utf8) <= count(&gb) && lines_gb == 0 {
            (utf8, "UTF-8")
        } else {
            (gb, "GB18030")
        };
        out.push_str(&best);
        errors.push(ImportError {
            line: (lines_before + n + 1) as u64,
            reason: format!(
                "bytes that are neither UTF-8 nor GB18030 on this line; read as {what} \
                 with U+FFFD for the bad bytes"
            ),
        });
    }
    let total = lines_utf8 + lines_gb + lines_bad;
    if lines_bad * 2 > total {
        return Err(ImportError::file(format!(
            "not a text file: {lines_bad} of {total} lines are neither UTF-8, GB18030 nor UTF-16"
        )));
    }
    let encoding = match (lines_gb > 0, utf8_non_ascii) {
        (true, true) => "UTF-8 and GB18030",
        (true, false) => "GB18030",
        (false, _) => "UTF-8",
    };
    Ok(Decoded {
        text: Cow::Owned(out),
        encoding,
        errors,
    })
}

/// A header that was not found because its line could not be decoded is
/// an encoding problem, not a missing column: the decoding error of the
/// first lines (taken out of `decode_errors`) becomes the reported cause.
fn blame_encoding(header_error: ImportError, decode_errors: &mut Vec<ImportError>) -> ImportError {
    const HEADER_LINES: u64 = 5;
    match decode_errors
        .iter()
        .position(|d| d.line > 0 && d.line <= HEADER_LINES)
    {
        Some(i) => {
            let d = decode_errors.remove(i);
            ImportError {
                line: d.line,
                reason: format!(
                    "the header is not readable text: {} (so the columns could not be \
                     found: {})",
                    d.reason, header_error.reason
                ),
            }
        }
        None => header_error,
    }
}

/// Whether the bytes of valid multi-byte UTF-8 characters in `bytes`
/// outnumber its invalid bytes at least twenty to one: a UTF-8 file with a
/// few bad bytes. GBK text forms valid UTF-8 sequences only by accident, far
/// below that ratio; a file concatenated from UTF-8 and GBK parts is too.
fn mostly_utf8(bytes: &[u8]) -> bool {
    let (mut good, mut bad) = (0usize, 0usize);
    for chunk in bytes.utf8_chunks() {
        good += chunk.valid().bytes().filter(|b| !b.is_ascii()).count();
        bad += chunk.invalid().len();
    }
    good > 0 && good >= bad.saturating_mul(20)
}

fn push_utf8(bytes: &[u8], out: &mut String) {
    match simdutf8::basic::from_utf8(bytes) {
        Ok(s) => out.push_str(s),
        Err(_) => out.push_str(&String::from_utf8_lossy(bytes)),
    }
}

/// Appends `line` decoded as GB18030; `false` (and nothing appended) when it
/// is not valid GB18030. `buf` is scratch space kept across lines: decoding
/// straight into `out` would have encoding_rs zero all of `out`'s spare
/// capacity on every line.
fn push_gb18030(line: &[u8], out: &mut String, buf: &mut Vec<u8>) -> bool {
    let mut decoder = GB18030.new_decoder_without_bom_handling();
    let need = decoder
        .max_utf8_buffer_length_without_replacement(line.len())
        .unwrap_or(line.len().saturating_mul(4));
    if buf.len() < need {
        buf.resize(need, 0);
    }
    let (result, _, written) = decoder.decode_to_utf8_without_replacement(line, buf, true);
    if result != DecoderResult::InputEmpty {
        return false;
    }
    push_utf8(&buf[..written], out);
    true
}

/// Parses a `YYYY-MM-DD HH:MM[:SS[.fff]][Z|±HH:MM]` timestamp (date
/// separators `-`, `/` or `.`, `T` or spaces before the time) at the start
/// of `s`, without an offset meaning China Standard Time. Returns the time
/// and the bytes it took. Much faster than trying chrono formats in turn,
/// which matters at a timestamp per line.
pub(crate) fn parse_stamp_prefix(s: &[u8]) -> Option<(DateTime<FixedOffset>, usize)> {
    let mut p = 0;
    let year = digits(s, &mut p, 4, 4)?;
    let sep = *s.get(p)?;
    if !matches!(sep, b'-' | b'/' | b'.') {
        return None;
    }
    p += 1;
    let month = digits(s, &mut p, 1, 2)?;
    if s.get(p) != Some(&sep) {
        return None;
    }
    p += 1;
    let day = digits(s, &mut p, 1, 2)?;
    match s.get(p) {
        Some(b'T') => p += 1,
        Some(b' ') => {
            while s.get(p) == Some(&b' ') {
                p += 1;
            }
        }
        _ => return None,
    }
    let hour = digits(s, &mut p, 1, 2)?;
    if s.get(p) != Some(&b':') {
        return None;
    }
    p += 1;
    let minute = digits(s, &mut p, 2, 2)?;
    let (mut second, mut milli) = (0, 0);
    if s.get(p) == Some(&b':') && s.get(p + 1).is_some_and(u8::is_ascii_digit) {
        p += 1;
        second = digits(s, &mut p, 2, 2)?;
        if matches!(s.get(p), Some(b'.' | b',')) && s.get(p + 1).is_some_and(u8::is_ascii_digit) {
            p += 1;
            let mut scale = 100;
            while let Some(d) = s.get(p).filter(|b| b.is_ascii_digit()) {
                milli += u32::from(d - b'0') * scale;
                scale /= 10;
                p += 1;
            }
        }
    }
    let mut offset = DEFAULT_OFFSET_SECONDS;
    match s.get(p) {
        Some(b'Z') => {
            offset = 0;
            p += 1;
        }
        Some(&sign @ (b'+' | b'-')) if s.get(p + 1).is_some_and(u8::is_ascii_digit) => {
            let mut q = p + 1;
            let h = digits(s, &mut q, 2, 2)?;
            if s.get(q) == Some(&b':') {
                q += 1;
            }
            let m = digits(s, &mut q, 2, 2)?;
            let secs = i32::try_from(h * 3600 + m * 60).ok()?;
            offset = if sign == b'-' { -secs } else { secs };
            p = q;
        }
        _ => {}
    }
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    let naive = date.and_hms_milli_opt(hour, minute, second, milli)?;
    let time = FixedOffset::east_opt(offset)?
        .from_local_datetime(&naive)
        .single()?;
    Some((time, p))
}

/// Reads `min..=max` ASCII digits at `*p`.
fn digits(s: &[u8], p: &mut usize, min: usize, max: usize) -> Option<u32> {
    let mut n = 0u32;
    let mut len = 0;
    while len < max {
        match s.get(*p + len) {
            Some(&d) if d.is_ascii_digit() => n = n * 10 + u32::from(d - b'0'),
            _ => break,
        }
        len += 1;
    }
    if len < min {
        return None;
    }
    *p += len;
    Some(n)
}

/// Any timestamp: the fast form above, else whatever
/// [`lenient::parse_time`] accepts.
pub(crate) fn parse_timestamp(s: &str) -> Option<DateTime<FixedOffset>> {
    let s = s.trim();
    let t = match parse_stamp_prefix(s.as_bytes()) {
        Some((t, n)) if n == s.len() => Some(t),
        _ => lenient::parse_time(s),
    };
    // Years 1–9999 only: others (`-2026-10-01 …`) do not serialise as
    // RFC 3339, so the conversation would not read back as a native record.
    t.filter(|t| (1..=9999).contains(&t.year()))
}

/// The id stem for a file's conversations: `opts.default_id`, else the file
/// name without directories and extension.
pub(crate) fn stem(source_name: &str, opts: &ImportOptions) -> String {
    if let Some(id) = opts.default_id.as_deref().filter(|s| !s.trim().is_empty()) {
        return id.trim().to_string();
    }
    let name = source_name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(source_name);
    let stem = match name.rfind('.') {
        Some(i) if i > 0 => &name[..i],
        _ => name,
    };
    if stem.is_empty() || stem == "-" {
        "stdin".to_string()
    } else {
        stem.to_string()
    }
}

// ---------------------------------------------------------------------------
// Columns.
// ---------------------------------------------------------------------------

/// Default header names per field, first match wins. Compared after
/// [`normalize_header`], so `Conversation ID` matches `conversation_id`.
const ID_NAMES: &[&str] = &[
    "conversation_id",
    "会话ID",
    "会话编号",
    "对话ID",
    "通话ID",
    "session_id",
    "call_id",
    "chat_id",
    "id",
];
const ROLE_NAMES: &[&str] = &[
    "role",
    "角色",
    "说话人",
    "发言人",
    "发送方",
    "发送者角色",
    "speaker",
];
const TEXT_NAMES: &[&str] = &[
    "text",
    "内容",
    "文本",
    "消息",
    "消息内容",
    "聊天内容",
    "对话内容",
    "转写文本",
    "content",
    "message",
    "transcript",
    "utterance",
];
const START_NAMES: &[&str] = &[
    "start_ms",
    "开始时间",
    "start",
    "start_time",
    "begin_ms",
    "begin_time",
    "开始",
    "起始时间",
    "发送时间",
    "消息时间",
];
const END_NAMES: &[&str] = &["end_ms", "结束时间", "end", "end_time", "结束"];
const AGENT_NAMES: &[&str] = &[
    "agent_id",
    "坐席",
    "客服工号",
    "坐席工号",
    "坐席ID",
    "客服ID",
    "工号",
    "agent",
    "客服",
];
const CUSTOMER_NAMES: &[&str] = &[
    "customer_id",
    "客户",
    "客户ID",
    "用户ID",
    "客户号码",
    "customer",
    "用户",
];
const TIME_NAMES: &[&str] = &[
    "started_at",
    "时间",
    "会话时间",
    "会话开始时间",
    "通话时间",
    "通话开始时间",
    "conversation_time",
    "start_at",
];
const CHANNEL_NAMES: &[&str] = &["channel", "渠道", "会话渠道"];
const AGENT_NAME_NAMES: &[&str] = &["agent_name", "坐席姓名", "客服姓名", "客服昵称"];
const CUSTOMER_NAME_NAMES: &[&str] = &[
    "customer_name",
    "客户姓名",
    "客户昵称",
    "用户昵称",
    "买家昵称",
];

/// How bare numbers in a time column are read, from the unit in its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    /// Integers are milliseconds, numbers with a fraction seconds.
    Auto,
    /// `start_ms`, `开始时间(毫秒)`: always milliseconds.
    Millis,
    /// `start_s`, `开始(秒)`: always seconds.
    Seconds,
}

/// A header name in matching form, and the unit it names, if any.
fn normalize_header(name: &str) -> (String, Unit) {
    let mut name = name.trim().trim_matches('\u{feff}').trim();
    let mut unit = Unit::Auto;
    // A trailing unit in brackets: `开始时间(ms)`, `开始时间（秒）`.
    for (open, close) in [('(', ')'), ('（', '）'), ('[', ']')] {
        if let Some(body) = name.strip_suffix(close) {
            if let Some(i) = body.rfind(open) {
                let inner = body[i + open.len_utf8()..].trim().to_ascii_lowercase();
                unit = match inner.as_str() {
                    "ms" | "毫秒" | "millis" | "milliseconds" => Unit::Millis,
                    "s" | "秒" | "sec" | "secs" | "seconds" => Unit::Seconds,
                    _ => Unit::Auto,
                };
                name = body[..i].trim_end();
            }
            break;
        }
    }
    let key: String = name
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-' | '.'))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if unit == Unit::Auto {
        if key.ends_with("ms") || key.contains("毫秒") {
            unit = Unit::Millis;
        } else if key.ends_with("sec") || key.ends_with("seconds") || key.ends_with('秒') {
            unit = Unit::Seconds;
        } else if let Some(stem) = name.strip_suffix("_s") {
            if !stem.is_empty() {
                unit = Unit::Seconds;
            }
        }
    }
    (key, unit)
}

fn key_of(name: &str) -> String {
    normalize_header(name).0
}

/// Where each field is in a row.
#[derive(Debug, Clone)]
struct Columns {
    id: Option<usize>,
    role: usize,
    text: usize,
    start: Option<(usize, Unit)>,
    end: Option<(usize, Unit)>,
    agent: Option<usize>,
    customer: Option<usize>,
    time: Option<usize>,
    channel: Option<usize>,
    agent_name: Option<usize>,
    customer_name: Option<usize>,
    /// Header names as written, for messages.
    names: Vec<String>,
}

impl Columns {
    /// Finds the columns in a header row, or says what is missing.
    fn resolve(header: &[String], opts: &CsvOptions) -> Result<Columns, String> {
        let keys: Vec<(String, Unit)> = header.iter().map(|h| normalize_header(h)).collect();
        let find = |configured: Option<&String>,
                    defaults: &[&str],
                    what: &str|
         -> Result<Option<(usize, Unit)>, String> {
            if let Some(name) = configured.map(|s| s.trim()).filter(|s| !s.is_empty()) {
                let exact = header.iter().position(|h| h.trim() == name);
                let wanted = key_of(name);
                return match exact.or_else(|| keys.iter().position(|(k, _)| *k == wanted)) {
                    Some(i) => Ok(Some((i, keys[i].1))),
                    None => Err(format!(
                        "the {what} column {name:?} is not in the header; columns found: {}",
                        list(header)
                    )),
                };
            }
            for d in defaults {
                let wanted = key_of(d);
                if let Some(i) = keys.iter().position(|(k, _)| *k == wanted) {
                    return Ok(Some((i, keys[i].1)));
                }
            }
            Ok(None)
        };
        let required = |found: Option<(usize, Unit)>, defaults: &[&str], what: &str| {
            found.map(|(i, _)| i).ok_or_else(|| {
                format!(
                    "no {what} column (looked for {}); columns found: {}",
                    defaults.join(", "),
                    list(header)
                )
            })
        };
        let role = find(opts.role_column.as_ref(), ROLE_NAMES, "role")?;
        let text = find(opts.text_column.as_ref(), TEXT_NAMES, "text")?;
        let (role, text) = match (
            required(role, ROLE_NAMES, "role"),
            required(text, TEXT_NAMES, "text"),
        ) {
            (Ok(r), Ok(t)) => (r, t),
            (Err(e), Ok(_)) | (Ok(_), Err(e)) => return Err(e),
            (Err(_), Err(_)) => {
                return Err(format!(
                    "no role or text column (looked for {} and {}); columns found: {}",
                    ROLE_NAMES.join(", "),
                    TEXT_NAMES.join(", "),
                    list(header)
                ))
            }
        };
        let idx = |r: Option<(usize, Unit)>| r.map(|(i, _)| i);
        Ok(Columns {
            id: idx(find(opts.id_column.as_ref(), ID_NAMES, "conversation id")?),
            role,
            text,
            start: find(opts.start_column.as_ref(), START_NAMES, "start")?,
            end: find(opts.end_column.as_ref(), END_NAMES, "end")?,
            agent: idx(find(opts.agent_column.as_ref(), AGENT_NAMES, "agent")?),
            customer: idx(find(
                opts.customer_column.as_ref(),
                CUSTOMER_NAMES,
                "customer",
            )?),
            time: idx(find(opts.time_column.as_ref(), TIME_NAMES, "time")?),
            channel: idx(find(None, CHANNEL_NAMES, "channel")?),
            agent_name: idx(find(None, AGENT_NAME_NAMES, "agent name")?),
            customer_name: idx(find(None, CUSTOMER_NAME_NAMES, "customer name")?),
            names: header.to_vec(),
        })
    }

    /// The highest column index a row must reach for the required fields.
    fn required_len(&self) -> usize {
        self.role.max(self.text) + 1
    }

    fn name(&self, i: usize) -> &str {
        self.names.get(i).map_or("?", |s| s.trim())
    }
}

fn list(header: &[String]) -> String {
    let names: Vec<String> = header
        .iter()
        .map(|h| format!("{:?}", h.trim().trim_matches('\u{feff}')))
        .collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

// ---------------------------------------------------------------------------
// Roles.
// ---------------------------------------------------------------------------

/// Role values accepted besides [`Role::from_alias`]'s.
const EXTRA_AGENT_VALUES: &[&str] = &["a", "坐席人员", "客服人员", "商家", "卖家", "员工"];
const EXTRA_CUSTOMER_VALUES: &[&str] = &["b", "访客", "游客", "来电人", "会员", "买家"];

/// Maps role values to roles, remembering the few values a file uses.
struct Roles<'o> {
    opts: &'o CsvOptions,
    cache: Vec<(String, Option<Role>)>,
}

impl<'o> Roles<'o> {
    fn new(opts: &'o CsvOptions) -> Roles<'o> {
        Roles {
            opts,
            cache: Vec::new(),
        }
    }

    fn get(&mut self, value: &str) -> Option<Role> {
        if let Some((_, role)) = self.cache.iter().find(|(v, _)| v == value) {
            return *role;
        }
        let role = self.lookup(value);
        if self.cache.len() < 64 {
            self.cache.push((value.to_string(), role));
        }
        role
    }

    fn lookup(&self, value: &str) -> Option<Role> {
        let v = value.trim();
        let is = |list: &[String]| list.iter().any(|x| x.trim().eq_ignore_ascii_case(v));
        if is(&self.opts.agent_values) {
            return Some(Role::Agent);
        }
        if is(&self.opts.customer_values) {
            return Some(Role::Customer);
        }
        if let Some(role) = Role::from_alias(v) {
            return Some(role);
        }
        let is = |list: &[&str]| list.iter().any(|x| x.eq_ignore_ascii_case(v));
        if is(EXTRA_AGENT_VALUES) {
            Some(Role::Agent)
        } else if is(EXTRA_CUSTOMER_VALUES) {
            Some(Role::Customer)
        } else {
            None
        }
    }

    /// The values accepted, for the unknown-role message.
    fn accepted(&self) -> String {
        let mut agent: Vec<&str> = self.opts.agent_values.iter().map(|s| s.as_str()).collect();
        agent.extend(["agent", "客服", "坐席", "座席", "staff", "A"]);
        let mut customer: Vec<&str> = self
            .opts
            .customer_values
            .iter()
            .map(|s| s.as_str())
            .collect();
        customer.extend(["customer", "客户", "用户", "买家", "user", "B"]);
        format!(
            "agent: {} …; customer: {} …; system: system, 系统, IVR, bot …",
            agent.join(", "),
            customer.join(", ")
        )
    }
}

// ---------------------------------------------------------------------------
// Times.
// ---------------------------------------------------------------------------

/// A start or end as written: an offset, or a wall-clock time.
#[derive(Debug, Clone, Copy)]
enum TimeVal {
    Offset(u64),
    At(DateTime<FixedOffset>),
}

/// Largest offset accepted (about 115 days): anything above is a timestamp.
const MAX_OFFSET_MS: f64 = 1e10;

/// Reads a start/end cell; `Ok(None)` for an empty cell.
fn parse_time_cell(v: &str, unit: Unit) -> Result<Option<TimeVal>, &'static str> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    let b = v.as_bytes();
    // The common case first: a whole number of milliseconds (or seconds).
    if b.len() <= 9 && b.iter().all(u8::is_ascii_digit) {
        let n = b.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
        return Ok(Some(TimeVal::Offset(if unit == Unit::Seconds {
            n * 1000
        } else {
            n
        })));
    }
    if b[0] == b'-' && b.len() > 1 && b[1].is_ascii_digit() && !v[1..].contains(['-', '/']) {
        return Err("negative time");
    }
    if b.iter().all(|c| c.is_ascii_digit() || *c == b'.')
        && b.iter().filter(|&&c| c == b'.').count() <= 1
    {
        let Ok(n) = v.parse::<f64>() else {
            return Err("not a number");
        };
        let fraction = v.contains('.');
        // Ten or more integer digits: Unix time in seconds or milliseconds,
        // in years 1–9999 as every other timestamp (`parse_timestamp`): a
        // later one does not serialise as RFC 3339.
        if n >= 1e9 {
            return match lenient::parse_time(v.split('.').next().unwrap_or(v))
                .filter(|t| (1..=9999).contains(&t.year()))
            {
                Some(t) => Ok(Some(TimeVal::At(t))),
                None => Err("number too large for an offset or a Unix time"),
            };
        }
        let ms = match (unit, fraction) {
            (Unit::Millis, _) | (Unit::Auto, false) => n,
            (Unit::Seconds, _) | (Unit::Auto, true) => n * 1000.0,
        };
        if !(0.0..MAX_OFFSET_MS).contains(&ms) {
            return Err("offset out of range");
        }
        return Ok(Some(TimeVal::Offset(ms.round() as u64)));
    }
    if let Some(ms) = parse_clock(v) {
        return Ok(Some(TimeVal::Offset(ms)));
    }
    match parse_timestamp(v) {
        Some(t) => Ok(Some(TimeVal::At(t))),
        None => Err("unreadable"),
    }
}

/// `mm:ss` or `hh:mm:ss`, each with an optional `.fff` or `,fff` fraction.
fn parse_clock(v: &str) -> Option<u64> {
    let parts: Vec<&str> = v.split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let (last, whole) = parts.split_last()?;
    let (secs, frac) = match last.split_once(['.', ',']) {
        Some((s, f)) => (s, Some(f)),
        None => (*last, None),
    };
    let num = |s: &str| -> Option<u64> {
        if s.is_empty() || s.len() > 6 || !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let seconds = num(secs)?;
    if seconds >= 60 || secs.len() != 2 {
        return None;
    }
    let mut ms = seconds * 1000;
    if let Some(f) = frac {
        if f.is_empty() || !f.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let padded: String = f.chars().chain("000".chars()).take(3).collect();
        ms += padded.parse::<u64>().ok()?;
    }
    let mut scale = 60_000;
    for (i, part) in whole.iter().rev().enumerate() {
        let n = num(part)?;
        if i + 1 < whole.len() && (n >= 60 || part.len() != 2) {
            return None;
        }
        ms += n * scale;
        scale *= 60;
    }
    Some(ms)
}

// ---------------------------------------------------------------------------
// Reading.
// ---------------------------------------------------------------------------

/// A conversation being assembled.
struct Pending {
    conv: Conversation<'static>,
    /// Start and end of each turn as written, resolved at the end.
    times: Vec<(Option<TimeVal>, Option<TimeVal>)>,
    /// Line of the first row, for conversation-level messages.
    line: u64,
    channel: Option<Channel>,
}

impl Pending {
    fn new(id: String, line: u64) -> Pending {
        Pending {
            conv: Conversation {
                id: Cow::Owned(id),
                channel: Channel::Chat,
                agent_id: None,
                agent_name: None,
                customer_id: None,
                customer_name: None,
                started_at: None,
                wait_ms: None,
                ended_by: None,
                turns: Vec::new(),
                meta: Meta::new(),
            },
            times: Vec::new(),
            line,
            channel: None,
        }
    }

    /// Resolves times and channel.
    fn finish(mut self, errors: &mut Vec<ImportError>) -> Conversation<'static> {
        let mut earliest: Option<DateTime<FixedOffset>> = None;
        let (mut offsets, mut stamps) = (false, false);
        for (s, e) in &self.times {
            for t in [s, e].into_iter().flatten() {
                match t {
                    TimeVal::Offset(_) => offsets = true,
                    TimeVal::At(t) => {
                        stamps = true;
                        if earliest.is_none_or(|x| *t < x) {
                            earliest = Some(*t);
                        }
                    }
                }
            }
        }
        if offsets && stamps {
            errors.push(ImportError {
                line: self.line,
                reason: format!(
                    "conversation {:?} mixes offsets and timestamps in its start/end times; \
                     the timestamps were taken from its earliest one",
                    self.conv.id
                ),
            });
        }
        let base = match (earliest, self.conv.started_at) {
            (Some(first), Some(at)) if at <= first && first - at <= chrono::TimeDelta::days(1) => {
                Some(at)
            }
            (Some(first), _) => Some(first),
            (None, _) => None,
        };
        if self.conv.started_at.is_none() {
            self.conv.started_at = base;
        }
        let resolve = |t: Option<TimeVal>| -> Option<u64> {
            match t? {
                TimeVal::Offset(ms) => Some(ms),
                TimeVal::At(t) => {
                    let ms = (t - base?).num_milliseconds();
                    Some(u64::try_from(ms).unwrap_or(0))
                }
            }
        };
        let mut duration = false;
        for (turn, (s, e)) in self.conv.turns.iter_mut().zip(self.times) {
            turn.start_ms = resolve(s);
            turn.end_ms = resolve(e);
            if let (Some(s), Some(e)) = (turn.start_ms, turn.end_ms) {
                duration |= e > s;
            } else if turn.start_ms.is_none() && turn.end_ms.is_some() {
                duration = true;
            }
        }
        self.conv.channel = self.channel.unwrap_or(if duration {
            Channel::Phone
        } else {
            Channel::Chat
        });
        self.conv
    }
}

/// Picks the delimiter from the first line that has any candidate.
fn sniff_delimiter(text: &str) -> u8 {
    for line in text.lines().take(10) {
        let mut counts = [0usize; 3];
        let mut quoted = false;
        for b in line.bytes() {
            match b {
                b'"' => quoted = !quoted,
                b'\t' if !quoted => counts[0] += 1,
                b',' if !quoted => counts[1] += 1,
                b';' if !quoted => counts[2] += 1,
                _ => {}
            }
        }
        let best = (0..3).max_by_key(|&i| (counts[i], 3 - i)).unwrap_or(1);
        if counts[best] > 0 {
            return [b'\t', b',', b';'][best];
        }
    }
    b','
}

/// An Excel `sep=X` first line: the delimiter and the bytes to skip.
fn excel_sep_line(text: &str) -> Option<(u8, usize)> {
    let end = text.find('\n').map_or(text.len(), |i| i + 1);
    let line = text[..end].trim_end();
    let rest = line.strip_prefix("sep=")?;
    match rest.as_bytes() {
        [d] => Some((*d, end)),
        _ => None,
    }
}

fn field(record: &csv::ByteRecord, i: usize) -> &str {
    // The text is valid UTF-8 and delimiters and quotes are ASCII, so every
    // field is too; the fallback is unreachable.
    record
        .get(i)
        .map_or("", |f| simdutf8::basic::from_utf8(f).unwrap_or(""))
}

fn opt_field(record: &csv::ByteRecord, i: Option<usize>) -> Option<&str> {
    let v = field(record, i?).trim();
    (!v.is_empty()).then_some(v)
}

/// Header search: how many records at the top may be titles.
const HEADER_SEARCH: usize = 5;

/// Reads a CSV or TSV file of turns, one per row.
///
/// `source_name` names the file (its stem is the conversation id when there
/// is no id column). Never fails as a whole except for an unreadable
/// encoding or a header without the required columns; see the module docs.
pub fn read(source_name: &str, bytes: &[u8], opts: &ImportOptions) -> Imported {
    let mut out = Imported::default();
    let decoded = match decode(bytes) {
        Ok(d) => d,
        Err(e) => {
            out.errors.push(e);
            return out;
        }
    };
    out.errors = decoded.errors;
    let text: &str = &decoded.text;
    let (mut delimiter, mut skip, mut line_offset) = (opts.csv.delimiter, 0usize, 0u64);
    if let Some((d, n)) = excel_sep_line(text) {
        delimiter = delimiter.or(Some(d));
        skip = n;
        line_offset = 1;
    }
    let body = &text[skip..];
    let delimiter = delimiter.unwrap_or_else(|| sniff_delimiter(body));
    let builder = || {
        let mut b = csv::ReaderBuilder::new();
        b.has_headers(false).flexible(true).delimiter(delimiter);
        b
    };
    let (columns, data_start, header_lines) =
        match find_header(builder().from_reader(body.as_bytes()), &opts.csv) {
            Ok(found) => found,
            Err(e) => {
                let e = blame_encoding(e, &mut out.errors);
                out.errors.push(e);
                return out;
            }
        };
    line_offset += header_lines;

    let data = &body.as_bytes()[data_start..];
    let ends_with_newline = data.last().is_none_or(|&b| b == b'\n' || b == b'\r');
    let mut table = Table {
        stem: stem(source_name, opts),
        id_column: columns.id.map(|i| columns.name(i).to_string()),
        pending: Vec::new(),
        index: HashMap::new(),
        current: None,
    };
    let mut roles = Roles::new(&opts.csv);
    let mut reader = builder().from_reader(data);
    let (mut record, mut next) = (csv::ByteRecord::new(), csv::ByteRecord::new());
    // One record ahead, to know which is the last (it may be truncated).
    let mut have = match reader.read_byte_record(&mut record) {
        Ok(h) => h,
        Err(e) => {
            out.errors
                .push(ImportError::file(format!("unreadable CSV: {e}")));
            false
        }
    };
    while have {
        let start = record.position().map_or(0, |p| p.byte() as usize);
        let line = record.position().map_or(0, |p| p.line()) + line_offset;
        let more = match reader.read_byte_record(&mut next) {
            Ok(m) => m,
            Err(e) => {
                out.errors.push(ImportError {
                    line,
                    reason: format!("unreadable CSV after this line: {e}"),
                });
                false
            }
        };
        let end = match next.position() {
            Some(p) if more => (p.byte() as usize).min(data.len()),
            _ => data.len(),
        };
        let row = Row {
            record: &record,
            line,
            last: !more,
            raw: &data[start.min(end)..end],
            ends_with_newline,
        };
        match row.read(&columns, &mut roles) {
            Ok(values) => {
                if let Err(e) = table.file(values, line, &mut out.errors) {
                    out.errors.push(e);
                }
            }
            Err(e) => out.errors.push(e),
        }
        std::mem::swap(&mut record, &mut next);
        have = more;
    }
    for p in table.pending {
        let line = p.line;
        let conv = p.finish(&mut out.errors);
        // Ids from the file are held to a native record's limits.
        match crate::native::validate(&conv) {
            Ok(()) => out.conversations.push(conv),
            Err(reason) => out.errors.push(ImportError { line, reason }),
        }
    }
    out.errors.sort_by_key(|e| e.line);
    out
}

/// Finds the header: the first of the top records with the required
/// columns (a title line above it is skipped). Returns the columns, the
/// byte where the data starts and the lines before it.
fn find_header(
    mut reader: csv::Reader<&[u8]>,
    opts: &CsvOptions,
) -> Result<(Columns, usize, u64), ImportError> {
    let mut record = csv::ByteRecord::new();
    // The error for the widest record seen: the likeliest header.
    let mut error: Option<(usize, String)> = None;
    for _ in 0..HEADER_SEARCH {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(ImportError::file(format!("unreadable CSV: {e}"))),
        }
        let header: Vec<String> = (0..record.len())
            .map(|i| field(&record, i).to_string())
            .collect();
        match Columns::resolve(&header, opts) {
            Ok(columns) => {
                let pos = reader.position();
                return Ok((columns, pos.byte() as usize, pos.line() - 1));
            }
            Err(e) => {
                if error.as_ref().is_none_or(|(n, _)| header.len() > *n) {
                    error = Some((header.len(), e));
                }
            }
        }
    }
    Err(ImportError::file(match error {
        Some((_, e)) => e,
        None => "empty file: no header row".to_string(),
    }))
}

/// The conversations of a file, by id, in order of first appearance.
struct Table {
    /// Id when the file has no id column.
    stem: String,
    /// Name of the id column, for messages.
    id_column: Option<String>,
    pending: Vec<Pending>,
    index: HashMap<String, usize>,
    /// The conversation of the previous row.
    current: Option<usize>,
}

impl Table {
    /// Files a row under its conversation: the one of the row above when
    /// the id is the same or empty, a known one, or a new one.
    fn file(
        &mut self,
        r: RowValues<'_>,
        line: u64,
        errors: &mut Vec<ImportError>,
    ) -> Result<(), ImportError> {
        let id = match (r.id, &self.id_column) {
            (Some(id), _) => Some(id),
            (None, None) => Some(self.stem.as_str()),
            (None, Some(_)) => None,
        };
        let slot = match (id, self.current) {
            (None, Some(c)) => c,
            (None, None) => {
                return Err(ImportError {
                    line,
                    reason: format!(
                        "empty conversation id in column {:?}, and no row above to \
                         continue; row skipped",
                        self.id_column.as_deref().unwrap_or("?")
                    ),
                })
            }
            (Some(id), Some(c)) if self.pending[c].conv.id == id => c,
            (Some(id), _) => match self.index.get(id) {
                Some(&i) => i,
                None => {
                    self.pending.push(Pending::new(id.to_string(), line));
                    self.index.insert(id.to_string(), self.pending.len() - 1);
                    self.pending.len() - 1
                }
            },
        };
        self.current = Some(slot);
        let p = &mut self.pending[slot];
        let c = &mut p.conv;
        set_once(&mut c.agent_id, r.agent);
        set_once(&mut c.customer_id, r.customer);
        set_once(&mut c.agent_name, r.agent_name);
        set_once(&mut c.customer_name, r.customer_name);
        if c.started_at.is_none() {
            c.started_at = r.started_at;
        }
        if p.channel.is_none() {
            p.channel = r.channel;
        }
        c.turns.push(Turn {
            role: r.role,
            text: Cow::Owned(own_text(r.text)),
            start_ms: None,
            end_ms: None,
            meta: Meta::new(),
        });
        p.times.push((r.start, r.end));
        errors.extend(r.warnings);
        Ok(())
    }
}

/// The text of a cell, with Windows line breaks inside it made `\n`.
fn own_text(text: &str) -> String {
    if memchr::memchr(b'\r', text.as_bytes()).is_some() {
        text.replace("\r\n", "\n")
    } else {
        text.to_string()
    }
}

fn set_once(slot: &mut Option<Cow<'static, str>>, value: Option<&str>) {
    if slot.is_none() {
        if let Some(v) = value {
            *slot = Some(Cow::Owned(v.to_string()));
        }
    }
}

/// One data row, before it is filed under its conversation.
struct Row<'r> {
    record: &'r csv::ByteRecord,
    line: u64,
    /// The last record of the file.
    last: bool,
    /// The record's bytes as written.
    raw: &'r [u8],
    ends_with_newline: bool,
}

/// What a row says.
struct RowValues<'r> {
    id: Option<&'r str>,
    role: Role,
    text: &'r str,
    start: Option<TimeVal>,
    end: Option<TimeVal>,
    agent: Option<&'r str>,
    customer: Option<&'r str>,
    agent_name: Option<&'r str>,
    customer_name: Option<&'r str>,
    started_at: Option<DateTime<FixedOffset>>,
    channel: Option<Channel>,
    /// Problems that cost a value but not the row.
    warnings: Vec<ImportError>,
}

impl<'r> Row<'r> {
    fn error(&self, reason: String) -> ImportError {
        ImportError {
            line: self.line,
            reason,
        }
    }

    fn read(&self, cols: &Columns, roles: &mut Roles<'_>) -> Result<RowValues<'r>, ImportError> {
        let rec = self.record;
        if self.last {
            // A quote left open runs to the end of the file.
            let quotes = memchr::memchr_iter(b'"', self.raw).count();
            if quotes % 2 == 1 {
                return Err(self.error(
                    "quoted field not closed before the end of the file (truncated?); row skipped"
                        .into(),
                ));
            }
            if !self.ends_with_newline && rec.len() < cols.names.len() {
                return Err(self.error(format!(
                    "last row has {} of {} fields and no line end (truncated?); row skipped",
                    rec.len(),
                    cols.names.len()
                )));
            }
        }
        if rec.len() < cols.required_len() {
            return Err(self.error(format!(
                "row has {} field(s); the {} column {:?} is field {}; row skipped",
                rec.len(),
                if cols.role >= rec.len() {
                    "role"
                } else {
                    "text"
                },
                cols.name(if cols.role >= rec.len() {
                    cols.role
                } else {
                    cols.text
                }),
                if cols.role >= rec.len() {
                    cols.role
                } else {
                    cols.text
                } + 1,
            )));
        }
        let role_value = field(rec, cols.role).trim();
        if role_value.is_empty() {
            return Err(self.error(format!(
                "empty role in column {:?}; row skipped",
                cols.name(cols.role)
            )));
        }
        let Some(role) = roles.get(role_value) else {
            return Err(self.error(format!(
                "unknown role {role_value:?} in column {:?} (accepted: {}); add it with \
                 --agent-values or --customer-values; row skipped",
                cols.name(cols.role),
                roles.accepted()
            )));
        };
        let mut warnings = Vec::new();
        let mut time = |col: Option<(usize, Unit)>| -> Option<TimeVal> {
            let (i, unit) = col?;
            let v = field(rec, i);
            match parse_time_cell(v, unit) {
                Ok(t) => t,
                Err(why) => {
                    warnings.push(self.error(format!(
                        "bad time {:?} in column {:?} ({why}): expected milliseconds, seconds \
                         with a fraction (12.5), mm:ss, hh:mm:ss or a timestamp; the turn is \
                         kept without it",
                        v.trim(),
                        cols.name(i)
                    )));
                    None
                }
            }
        };
        let start = time(cols.start);
        let end = time(cols.end);
        let started_at = match opt_field(rec, cols.time) {
            Some(v) => match parse_timestamp(v) {
                Some(t) => Some(t),
                None => {
                    warnings.push(self.error(format!(
                        "bad conversation time {v:?} in column {:?}: expected a timestamp like \
                         2026-10-01 09:15:02",
                        cols.time.map_or("?", |i| cols.name(i))
                    )));
                    None
                }
            },
            None => None,
        };
        let channel = match opt_field(rec, cols.channel) {
            Some(v) => match Channel::from_alias(v) {
                Some(c) => Some(c),
                None => {
                    warnings.push(self.error(format!(
                        "unknown channel {v:?} (expected phone/电话 or chat/在线); guessed from \
                         the timings"
                    )));
                    None
                }
            },
            None => None,
        };
        Ok(RowValues {
            id: opt_field(rec, cols.id),
            role,
            text: field(rec, cols.text),
            start,
            end,
            agent: opt_field(rec, cols.agent),
            customer: opt_field(rec, cols.customer),
            agent_name: opt_field(rec, cols.agent_name),
            customer_name: opt_field(rec, cols.customer_name),
            started_at,
            channel,
            warnings,
        })
    }
}

/// Whether `head` (the first few KB of a file) looks like a CSV/TSV of
/// turns: a header row with a role and a text column under the default
/// names.
pub fn detect(head: &[u8]) -> bool {
    let text = decode_head(head);
    let mut body = text.as_ref();
    let mut delimiter = None;
    if let Some((d, n)) = excel_sep_line(body) {
        delimiter = Some(d);
        body = &body[n..];
    }
    if body.trim_start().starts_with(['{', '[']) {
        return false;
    }
    let delimiter = delimiter.unwrap_or_else(|| sniff_delimiter(body));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(body.as_bytes());
    let mut record = csv::ByteRecord::new();
    for _ in 0..HEADER_SEARCH {
        match reader.read_byte_record(&mut record) {
            Ok(true) if record.len() >= 2 => {
                let header: Vec<String> = (0..record.len())
                    .map(|i| field(&record, i).to_string())
                    .collect();
                if Columns::resolve(&header, &CsvOptions::default()).is_ok() {
                    return true;
                }
            }
            Ok(true) => {}
            _ => return false,
        }
    }
    false
}

/// Decodes the head of a file for sniffing: never fails, and a character
/// cut at the end does not matter.
pub(crate) fn decode_head(head: &[u8]) -> Cow<'_, str> {
    if let Some((encoding, bom)) = Encoding::for_bom(head) {
        return encoding.decode_without_bom_handling(&head[bom..]).0;
    }
    if let Some(encoding) = sniff_utf16(head) {
        return encoding.decode_without_bom_handling(head).0;
    }
    match simdutf8::compat::from_utf8(head) {
        Ok(s) => Cow::Borrowed(s),
        // Valid up to a character cut at the end: UTF-8.
        Err(e) if e.error_len().is_none() => String::from_utf8_lossy(head),
        Err(_) => GB18030.decode_without_bom_handling(head).0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_and_numbers() {
        let off = |v: &str, u| match parse_time_cell(v, u) {
            Ok(Some(TimeVal::Offset(ms))) => Some(ms),
            _ => None,
        };
        assert_eq!(off("3200", Unit::Auto), Some(3200));
        assert_eq!(off("12.5", Unit::Auto), Some(12_500));
        assert_eq!(off("3200.0", Unit::Millis), Some(3200));
        assert_eq!(off("3", Unit::Seconds), Some(3000));
        assert_eq!(off("01:05", Unit::Auto), Some(65_000));
        assert_eq!(off("1:02:03.5", Unit::Auto), Some(3_723_500));
        assert_eq!(off("00:00:01,250", Unit::Auto), Some(1250));
        assert!(parse_time_cell("-5", Unit::Auto).is_err());
        assert!(parse_time_cell("1:5", Unit::Auto).is_err());
        assert!(parse_time_cell("soon", Unit::Auto).is_err());
        assert!(matches!(
            parse_time_cell("2026-10-01 09:15:02", Unit::Auto),
            Ok(Some(TimeVal::At(_)))
        ));
        assert!(matches!(
            parse_time_cell("1790000000", Unit::Millis),
            Ok(Some(TimeVal::At(_)))
        ));
        // Unix time past the year 9999 (found by the csv fuzz target).
        assert!(parse_time_cell("300000000000000.25", Unit::Auto).is_err());
    }

    #[test]
    fn stamps() {
        let (t, n) = parse_stamp_prefix(b"2026-10-01 09:15:02 x").unwrap();
        assert_eq!(n, 19);
        assert_eq!(t.to_rfc3339(), "2026-10-01T09:15:02+08:00");
        let (t, _) = parse_stamp_prefix(b"2026/1/2T03:04:05.25Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-01-02T03:04:05.250+00:00");
        assert!(parse_stamp_prefix(b"2026-13-01 09:15:02").is_none());
        assert!(parse_stamp_prefix(b"2026-10-01").is_none());
    }

    #[test]
    fn header_units() {
        assert_eq!(normalize_header("Start MS").1, Unit::Millis);
        assert_eq!(
            normalize_header("开始时间(秒)"),
            ("开始时间".into(), Unit::Seconds)
        );
        assert_eq!(normalize_header("start_s").1, Unit::Seconds);
        assert_eq!(normalize_header("Conversation ID").0, "conversationid");
    }
}
