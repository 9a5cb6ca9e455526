//! `kefu rules check|test|list`.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use kefu_engine::cases::{check as check_case, CaseEnvelope};
use kefu_engine::{RuleKind, Scratch};
use kefu_formats::native::{parse_conversation, Batch, RecordReader};
use kefu_formats::summary::render_table;

use crate::{load_inspector, EXIT_UNUSABLE};

/// Validates a pack and prints either its rule count or every issue.
pub(crate) fn check(path: &Path) -> anyhow::Result<ExitCode> {
    match load_inspector(Some(path)) {
        Ok(inspector) => {
            let pack = inspector.pack();
            println!(
                "{}: ok — pack {} {}, {} rules enabled, {} disabled",
                path.display(),
                pack.meta.id,
                pack.meta.version,
                pack.rules.len(),
                pack.disabled.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(ExitCode::from(EXIT_UNUSABLE))
        }
    }
}

/// Lists the rules of a pack as a table.
pub(crate) fn list(path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let inspector = match load_inspector(path) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(EXIT_UNUSABLE));
        }
    };
    let pack = inspector.pack();
    let mut rows = vec![[
        "id",
        "name",
        "dimension",
        "kind",
        "role",
        "deduction",
        "cap",
        "veto",
        "channels",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect::<Vec<_>>()];
    for r in &pack.rules {
        rows.push(vec![
            r.id.clone(),
            r.name.clone(),
            r.dimension.clone(),
            r.kind.name().to_string(),
            format!("{:?}", r.role).to_lowercase(),
            r.deduction.to_string(),
            r.cap.to_string(),
            if r.veto { "veto".into() } else { String::new() },
            r.channels
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(","),
        ]);
    }
    print!("{}", render_table(&rows));
    if !pack.disabled.is_empty() {
        println!("disabled: {}", pack.disabled.join(", "));
    }
    let manual = pack
        .rules
        .iter()
        .filter(|r| matches!(r.kind, RuleKind::Manual))
        .count();
    if manual > 0 {
        println!("{manual} manual item(s) are listed in every result for a reviewer.");
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs a pack over cases and reports each mismatch; non-zero if any.
pub(crate) fn test(pack_path: &Path, cases: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let inspector = match load_inspector(Some(pack_path)) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(EXIT_UNUSABLE));
        }
    };
    let mut scratch = Scratch::default();
    let (mut passed, mut failed, mut broken) = (0usize, 0usize, 0usize);
    let mut batch = Batch::default();
    for path in cases {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("{}: {e}", path.display());
                broken += 1;
                continue;
            }
        };
        let mut reader = RecordReader::new(BufReader::new(file));
        while reader.next_batch(&mut batch, 256, 1 << 22)? {
            for e in &batch.errors {
                eprintln!("{}:{}: {}", path.display(), e.line, e.reason);
                broken += 1;
            }
            for (line, bytes) in batch.iter() {
                let conv = match parse_conversation(bytes) {
                    Ok(c) => c,
                    Err(e) => {
                        eprintln!("{}:{line}: {e}", path.display());
                        broken += 1;
                        continue;
                    }
                };
                let envelope: CaseEnvelope = match serde_json::from_slice(bytes) {
                    Ok(e) => e,
                    Err(e) => {
                        eprintln!("{}:{line}: bad `expect`: {e}", path.display());
                        broken += 1;
                        continue;
                    }
                };
                let result = inspector.inspect(&conv, &mut scratch);
                let problems = envelope
                    .expect
                    .as_ref()
                    .map(|x| check_case(&result, x))
                    .unwrap_or_default();
                if problems.is_empty() {
                    passed += 1;
                } else {
                    failed += 1;
                    println!("FAIL {}:{line} {}", path.display(), conv.id);
                    for p in problems {
                        println!("    {p}");
                    }
                }
            }
        }
    }
    println!(
        "cases: {passed} passed, {failed} failed{}",
        if broken > 0 {
            format!(", {broken} unreadable")
        } else {
            String::new()
        }
    );
    Ok(if failed == 0 && broken == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
