//! The speed work must not change what is found: `kefu inspect` over the
//! generated benchmark mixes (`kefu bench --generate-only`) must print the
//! very same JSON Lines as before the optimisations, byte for byte, with one
//! worker and with several.
//!
//! The digests below were taken with the code as it was before the
//! single-core optimisations (issue 16). If a deliberate change to the
//! default pack or to the result format changes them, check the difference
//! with `kefu bench --generate-only` and `kefu inspect` on the old and new
//! binaries, then update the digests in the same commit.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Conversations per mix: enough for every rule to fire many times.
const CONVERSATIONS: usize = 3000;

/// (mix, FNV-1a 64 of the JSONL output, findings in it).
const EXPECTED: &[(&str, u64, usize)] = &[
    ("clean", 0x145414964e56e982, 6352),
    ("mixed", 0x791f8a0860aac693, 9538),
    ("heavy", 0xbe99208d58bef434, 32576),
];

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn tmpdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kefu-same-results-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temporary directory");
    dir
}

fn kefu(args: &[&str]) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_kefu"))
        .args(args)
        .output()
        .expect("kefu runs");
    assert!(
        out.status.success(),
        "kefu {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn data_file(dir: &Path, mix: &str) -> PathBuf {
    let n = CONVERSATIONS.to_string();
    kefu(&[
        "bench",
        "--generate-only",
        "--conversations",
        &n,
        "--mix",
        mix,
        "--dir",
        dir.to_str().expect("utf-8 path"),
    ]);
    let name = match mix {
        "mixed" => format!("conversations-{n}x30.jsonl"),
        _ => format!("conversations-{mix}-{n}x30.jsonl"),
    };
    dir.join(name)
}

#[test]
fn inspect_output_is_unchanged_on_the_generated_mixes() {
    let dir = tmpdir();
    let mut report = Vec::new();
    for &(mix, _, _) in EXPECTED {
        let data = data_file(&dir, mix);
        let path = data.to_str().expect("utf-8 path");
        let one = kefu(&["inspect", path, "--jobs", "1", "--format", "jsonl"]);
        let two = kefu(&["inspect", path, "--jobs", "2", "--format", "jsonl"]);
        assert!(one == two, "{mix}: --jobs 1 and --jobs 2 differ");
        let lines = one.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count();
        assert_eq!(lines, CONVERSATIONS, "{mix}: one line per conversation");
        let found: usize = one
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| {
                let v: serde_json::Value = serde_json::from_slice(l).expect("JSON line");
                v["findings"].as_array().map_or(0, Vec::len)
            })
            .sum();
        report.push(format!("(\"{mix}\", {:#x}, {found})", fnv1a(&one)));
    }
    let _ = std::fs::remove_dir_all(&dir);
    let expected: Vec<String> = EXPECTED
        .iter()
        .map(|(m, d, f)| format!("(\"{m}\", {d:#x}, {f})"))
        .collect();
    assert_eq!(report, expected, "inspection results changed");
}
