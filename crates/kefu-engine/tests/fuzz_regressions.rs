//! Fuzzing regressions for the engine: every input that ever crashed the
//! `pack` or `inspect` fuzz target (minimised, in `tests/data/fuzz/`, named
//! `pack-…`, `inspect-…` or `native-…`: native records inspected by the
//! built-in pack, from the `native_inspect` target) and every committed seed of those corpora
//! (`fuzz/corpus/pack/`, `fuzz/corpus/inspect/`) must load, compile and
//! inspect, or be refused with an error, never panic. The conversation is
//! built from text exactly as the fuzz targets build it (`fuzz/src/lib.rs`).
//! See docs/fuzzing.md.

use std::borrow::Cow;
use std::fs;
use std::path::{Path, PathBuf};

use kefu_engine::{Channel, Conversation, Inspector, Meta, Role, RulePack, Scratch, Turn};

/// The fuzz targets' conversation: an optional RFC 3339 first line as the
/// start, then one turn per line, agent and customer alternating (`系统…`
/// lines are the system), one second apart; odd-length text is a chat.
fn conversation(text: &str) -> Conversation<'_> {
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

const DEFAULT_CONVERSATION: &str = "2026-02-17T09:30:00+08:00\n\
您好，很高兴为您服务，请问有什么可以帮您？\n\
我的快递三天了还没到，你们怎么回事\n\
非常抱歉给您带来不便，我马上为您查询物流信息\n\
快点，我要投诉\n\
已经为您催促，预计明天送达，祝您新春快乐，再见\n";

/// The `pack` target: pack text, then after a 0xFF byte the conversation.
fn pack(data: &[u8]) {
    let (source, conv) = match data.iter().position(|&b| b == 0xFF) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let Ok(source) = std::str::from_utf8(source) else {
        return;
    };
    let Ok(pack) = RulePack::from_toml(source) else {
        return;
    };
    let Ok(inspector) = Inspector::new(pack) else {
        return;
    };
    let text = conv.map_or(Cow::Borrowed(DEFAULT_CONVERSATION), String::from_utf8_lossy);
    inspector.inspect(&conversation(&text), &mut Scratch::default());
}

/// The `inspect` target: the built-in pack on a conversation from text.
fn inspect(inspector: &Inspector, data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    inspector.inspect(&conversation(&text), &mut Scratch::default());
}

/// The `native_inspect` target: each line a native record, inspected by
/// the built-in pack when it parses.
fn native(inspector: &Inspector, data: &[u8]) {
    for line in data.split(|&b| b == b'\n') {
        let Ok(line) = std::str::from_utf8(line) else {
            continue;
        };
        if let Ok(conv) = serde_json::from_str::<Conversation<'_>>(line) {
            inspector.inspect(&conv, &mut Scratch::default());
        }
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn default_inspector() -> Inspector {
    Inspector::new(RulePack::default_zh_cn().expect("built-in pack")).expect("compiles")
}

#[test]
fn minimised_crash_inputs_load_or_are_refused() {
    let inspector = default_inspector();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz");
    for path in files(&dir) {
        let data = fs::read(&path).expect("readable");
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("pack-") {
            pack(&data);
        } else if name.starts_with("inspect-") {
            inspect(&inspector, &data);
        } else if name.starts_with("native-") {
            native(&inspector, &data);
        } else {
            panic!("{name}: name must start with pack-, inspect- or native-");
        }
    }
}

#[test]
fn fuzz_seed_corpora_load_or_are_refused() {
    let inspector = default_inspector();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    let seeds = files(&corpus.join("pack"));
    assert!(!seeds.is_empty(), "no pack seed under {}", corpus.display());
    let mut loaded = 0;
    for path in seeds {
        let data = fs::read(&path).expect("readable");
        pack(&data);
        let source = String::from_utf8_lossy(&data);
        let source = source.split('\u{FFFD}').next().unwrap_or("");
        loaded += usize::from(RulePack::from_toml(source).is_ok());
    }
    assert!(loaded > 0, "at least one pack seed is a valid pack");
    for path in files(&corpus.join("inspect")) {
        inspect(&inspector, &fs::read(&path).expect("readable"));
    }
}
