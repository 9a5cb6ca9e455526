//! What the fuzz targets share: option variants picked from the input and
//! the pipeline an imported file goes through after its importer.
//!
//! The input's length picks the options (agent channel, delimiter, agent
//! names) so one corpus explores every variant without a header byte that
//! would make the seed files differ from real exports. The regression tests
//! in `crates/kefu-formats/tests/fuzz_regressions.rs` run every variant.

use kefu_formats::import::{ImportOptions, Imported, ImportedBatches};
use kefu_formats::native::{self, Batch, BatchSource, RecordReader};

/// An importer's entry point.
pub type Read = fn(&str, &[u8], &ImportOptions) -> Imported;

/// Vendor options: default agent channel, channel "0" or channel "1".
pub fn vendor_options(data: &[u8]) -> ImportOptions {
    let agent_channel = match data.len() % 3 {
        0 => None,
        1 => Some("0".to_string()),
        _ => Some("1".to_string()),
    };
    ImportOptions {
        agent_channel,
        ..ImportOptions::default()
    }
}

/// Runs `read` and sends its output down the native pipeline: every
/// imported conversation is serialised as a native record, which must parse
/// back.
pub fn import(read: Read, name: &str, data: &[u8], opts: &ImportOptions) {
    let imported = read(name, data, opts);
    let mut source = ImportedBatches::new(imported);
    let mut batch = Batch::default();
    while source
        .next_batch(&mut batch, 3, 4096)
        .expect("serialising an imported conversation cannot fail")
    {
        for (_, bytes) in batch.iter() {
            if let Err(e) = native::parse_conversation(bytes) {
                panic!(
                    "an imported conversation does not read back as a native record: {e}\n{}",
                    String::from_utf8_lossy(bytes)
                );
            }
        }
    }
}

/// Cuts `data` into native records in small batches and parses each.
pub fn native(data: &[u8], max_record: usize) {
    let mut reader = RecordReader::new(data).with_max_record_bytes(max_record);
    let mut batch = Batch::default();
    while reader
        .next_batch(&mut batch, 2, 512)
        .expect("reading from memory cannot fail")
    {
        for (_, bytes) in batch.iter() {
            let _ = native::parse_conversation(bytes);
        }
    }
}

/// A conversation built from text: a first line that parses as an RFC 3339
/// time becomes `started_at`; every other line is a turn, agents and
/// customers taking turns (a line starting `系统` is the system), one second
/// apart. Odd-length text makes a chat, even-length a call.
pub fn conversation(text: &str) -> kefu_engine::Conversation<'_> {
    use kefu_engine::{Channel, Conversation, Meta, Role, Turn};
    use std::borrow::Cow;

    let mut lines = text.lines().peekable();
    let started_at = lines
        .peek()
        .and_then(|l| chrono::DateTime::parse_from_rfc3339(l.trim()).ok());
    if started_at.is_some() {
        lines.next();
    }
    let turns = lines
        .enumerate()
        .map(|(i, line)| {
            let role = if line.starts_with("系统") {
                Role::System
            } else if i % 2 == 0 {
                Role::Agent
            } else {
                Role::Customer
            };
            let at = i as u64 * 1000;
            Turn {
                role,
                text: Cow::Borrowed(line),
                start_ms: Some(at),
                end_ms: Some(at + 900),
                meta: Meta::default(),
            }
        })
        .collect();
    Conversation {
        id: Cow::Borrowed("fuzz"),
        channel: if text.len() % 2 == 1 {
            Channel::Chat
        } else {
            Channel::Phone
        },
        agent_id: Some(Cow::Borrowed("a1")),
        agent_name: None,
        customer_id: None,
        customer_name: None,
        started_at,
        wait_ms: Some(text.len() as u64 * 10),
        ended_by: None,
        turns,
        meta: Meta::default(),
    }
}

/// The conversation inspected when the pack target's input has no second
/// part.
pub const DEFAULT_CONVERSATION: &str = "2026-02-17T09:30:00+08:00\n\
您好，很高兴为您服务，请问有什么可以帮您？\n\
我的快递三天了还没到，你们怎么回事\n\
非常抱歉给您带来不便，我马上为您查询物流信息\n\
快点，我要投诉\n\
已经为您催促，预计明天送达，祝您新春快乐，再见\n";

/// Splits a pack-target input at its first 0xFF byte (never valid UTF-8, so
/// never inside a pack) into pack text and conversation text, loads the
/// pack, compiles it and inspects the conversation.
pub fn pack(data: &[u8]) {
    let (pack, conv) = match data.iter().position(|&b| b == 0xFF) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let Ok(source) = std::str::from_utf8(pack) else {
        return;
    };
    let Ok(pack) = kefu_engine::RulePack::from_toml(source) else {
        return;
    };
    let Ok(inspector) = kefu_engine::Inspector::new(pack) else {
        return;
    };
    let text = conv.map_or(std::borrow::Cow::Borrowed(DEFAULT_CONVERSATION), |c| {
        String::from_utf8_lossy(c)
    });
    let conv = conversation(&text);
    let mut scratch = kefu_engine::Scratch::default();
    let _ = inspector.inspect(&conv, &mut scratch);
}
