//! Generates the Traditional → Simplified character table used by the
//! normaliser. OpenCC's dictionaries are consulted here, at build time, so
//! the engine itself carries a flat table and no converter at run time.

use std::fmt::Write as _;
use std::path::PathBuf;

use ferrous_opencc::config::BuiltinConfig;
use ferrous_opencc::OpenCC;

/// Ranges of CJK ideographs worth mapping (BMP blocks and extension B).
const RANGES: &[(u32, u32)] = &[
    (0x2E80, 0x2FDF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0x20000, 0x2A6DF),
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let converters: Vec<OpenCC> = [BuiltinConfig::T2s, BuiltinConfig::Tw2s, BuiltinConfig::Hk2s]
        .into_iter()
        .map(|c| OpenCC::from_config(c).expect("built-in OpenCC config loads"))
        .collect();
    let mut pairs = Vec::new();
    let mut buf = [0u8; 4];
    for &(lo, hi) in RANGES {
        for cp in lo..=hi {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            let s: &str = c.encode_utf8(&mut buf);
            for conv in &converters {
                let out = conv.convert(s);
                let mut chars = out.chars();
                if let (Some(t), None) = (chars.next(), chars.next()) {
                    if t != c {
                        pairs.push((cp, t as u32));
                        break;
                    }
                }
            }
        }
    }
    // A character that is itself the Simplified form of another (么 is the
    // target of 麼) must stay as it is, or text and phrases written with it
    // would drift apart (OpenCC's table also maps 么 to 幺 for rare uses).
    let targets: std::collections::HashSet<u32> = pairs.iter().map(|&(_, t)| t).collect();
    pairs.retain(|(from, _)| !targets.contains(from));
    let mut src = String::from("/// (traditional, simplified) code points, sorted.\npub static T2S_PAIRS: &[(u32, u32)] = &[\n");
    for (a, b) in &pairs {
        let _ = writeln!(src, "(0x{a:X},0x{b:X}),");
    }
    src.push_str("];\n");
    let out =
        PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR set by cargo")).join("t2s_table.rs");
    std::fs::write(out, src).expect("write t2s table");
}
