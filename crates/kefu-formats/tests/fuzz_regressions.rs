//! Fuzzing regressions: every input that ever crashed an importer under
//! cargo-fuzz (minimised, in `tests/data/fuzz/`, named after its target:
//! `csv-…`, `aliyun-…`) and every committed seed of the fuzz corpora
//! (`fuzz/corpus/TARGET/`) go through their importer with every option
//! variant the fuzz target can pick. Each must give conversations or errors,
//! never a panic, and every imported conversation must read back as a native
//! record, as the import pipeline needs. See docs/fuzzing.md.

use std::fs;
use std::path::{Path, PathBuf};

use kefu_formats::import::{
    aliyun, amazon, chatlog, csv, huawei, tencent, CsvOptions, ImportOptions, Imported,
    ImportedBatches,
};
use kefu_formats::native::{self, Batch, BatchSource, RecordReader};

type Read = fn(&str, &[u8], &ImportOptions) -> Imported;

/// Every option variant the fuzz target of `target` can pick.
fn variants(target: &str) -> Vec<ImportOptions> {
    match target {
        "csv" => [None, Some(b','), Some(b'\t')]
            .into_iter()
            .map(|delimiter| ImportOptions {
                csv: CsvOptions {
                    delimiter,
                    ..CsvOptions::default()
                },
                ..ImportOptions::default()
            })
            .collect(),
        "chatlog" => vec![
            ImportOptions::default(),
            ImportOptions {
                agent_names: vec!["店小二".into(), "客服A".into()],
                ..ImportOptions::default()
            },
        ],
        _ => [None, Some("0"), Some("1")]
            .into_iter()
            .map(|channel| ImportOptions {
                agent_channel: channel.map(str::to_string),
                ..ImportOptions::default()
            })
            .collect(),
    }
}

fn reader(target: &str) -> Option<Read> {
    Some(match target {
        "aliyun" => aliyun::read,
        "tencent" => tencent::read,
        "huawei" => huawei::read,
        "amazon" => amazon::read,
        "csv" => csv::read,
        "chatlog" => chatlog::read,
        _ => return None,
    })
}

/// The importer, then the native pipeline on what it produced.
fn import(read: Read, data: &[u8], opts: &ImportOptions, what: &str) -> usize {
    let imported = read("fuzz.dat", data, opts);
    let mut source = ImportedBatches::new(imported);
    let mut batch = Batch::default();
    let mut records = 0;
    while source
        .next_batch(&mut batch, 3, 4096)
        .expect("an imported conversation serialises")
    {
        for (_, bytes) in batch.iter() {
            records += 1;
            if let Err(e) = native::parse_conversation(bytes) {
                panic!("{what}: an imported conversation does not read back: {e}");
            }
        }
        records += batch.errors.len();
    }
    records
}

/// The native reader in small batches, with and without a tiny record limit.
fn native_records(data: &[u8]) {
    for max in [64, usize::MAX] {
        let mut reader = RecordReader::new(data).with_max_record_bytes(max);
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
}

fn run(target: &str, path: &Path) {
    let data = fs::read(path).expect("readable test file");
    let what = path.display().to_string();
    match target {
        "native_jsonl" => native_records(&data),
        "native_array" => {
            let mut array = vec![b'['];
            array.extend_from_slice(&data);
            native_records(&array);
        }
        _ => {
            let read = reader(target).unwrap_or_else(|| panic!("{what}: no importer {target}"));
            for opts in variants(target) {
                let produced = import(read, &data, &opts, &what);
                // Something always comes out: a conversation or a reason.
                assert!(produced > 0 || data.is_empty(), "{what}: silently empty");
            }
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

const TARGETS: [&str; 8] = [
    "native_jsonl",
    "native_array",
    "aliyun",
    "tencent",
    "huawei",
    "amazon",
    "csv",
    "chatlog",
];

#[test]
fn minimised_crash_inputs_give_results_or_errors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz");
    for path in files(&dir) {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("UTF-8 file name");
        let target = TARGETS
            .iter()
            .find(|t| name.starts_with(&format!("{t}-")))
            .unwrap_or_else(|| panic!("{name}: name must start with a fuzz target"));
        run(target, &path);
    }
}

#[test]
fn fuzz_seed_corpora_give_results_or_errors() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    let mut seen = 0;
    for target in TARGETS {
        for path in files(&corpus.join(target)) {
            run(target, &path);
            seen += 1;
        }
    }
    assert!(seen > 0, "no seed found under {}", corpus.display());
}
