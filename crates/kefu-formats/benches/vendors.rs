//! Throughput of the ASR vendor importers (Alibaba, Tencent, Huawei, Amazon)
//! on ~50 MB of JSON Lines built in memory from the example results, each
//! call lengthened to 64 sentences with distinct ids and timings, reported
//! in bytes per second.
//!
//! Runs with mimalloc, the allocator of the `kefu` binary: importing is
//! allocation-heavy (an owned string per text and per metadata key), and
//! with the system allocator the dense formats (Alibaba, Huawei, ~180 bytes
//! a sentence) run at about half the speed. Remove the `#[global_allocator]`
//! line to measure that.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kefu_formats::import::{aliyun, amazon, huawei, tencent, ImportOptions, Imported};
use serde_json::{json, Value};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TARGET_BYTES: usize = 50 * 1024 * 1024;
/// The example call is 16 sentences; a real complaint call runs longer.
const REPEATS: u64 = 4;
const CALL_MS: u64 = 114_600;

const ALIYUN: &str = include_str!("../../../examples/vendors/aliyun.json");
const TENCENT: &str = include_str!("../../../examples/vendors/tencent.json");
const HUAWEI: &str = include_str!("../../../examples/vendors/huawei.json");
const AMAZON: &str = include_str!("../../../examples/vendors/amazon.json");

type Reader = fn(&str, &[u8], &ImportOptions) -> Imported;

/// Where a vendor keeps its sentence list, and its time fields.
struct Layout {
    path: &'static [&'static str],
    times: &'static [&'static str],
    id: Option<&'static str>,
}

fn list<'a>(doc: &'a mut Value, path: &[&str]) -> &'a mut Vec<Value> {
    let mut v = doc;
    for key in path {
        v = &mut v[*key];
    }
    v.as_array_mut().expect("sentence list")
}

/// `example` lengthened to `REPEATS` × its sentences (each copy shifted by
/// one call length) and written as `count` JSON lines with distinct ids.
fn make_lines(example: &str, layout: &Layout) -> (String, usize) {
    let mut doc: Value = serde_json::from_str(example).expect("example is JSON");
    let base = list(&mut doc, layout.path).clone();
    let sentences = list(&mut doc, layout.path);
    sentences.clear();
    for k in 0..REPEATS {
        for s in &base {
            let mut s = s.clone();
            for field in layout.times {
                if let Some(t) = s[*field].as_u64() {
                    s[*field] = json!(t + k * CALL_MS);
                }
            }
            sentences.push(s);
        }
    }
    let mut out = String::with_capacity(TARGET_BYTES + (1 << 20));
    let mut count = 0;
    while out.len() < TARGET_BYTES {
        count += 1;
        if let Some(key) = layout.id {
            doc[key] = json!(format!("call-{count:07}"));
        }
        out.push_str(&serde_json::to_string(&doc).expect("serialises"));
        out.push('\n');
    }
    (out, count)
}

fn bench(c: &mut Criterion) {
    let vendors: [(&str, Reader, &str, Layout); 4] = [
        (
            "aliyun",
            aliyun::read,
            ALIYUN,
            Layout {
                path: &["Result", "Sentences"],
                times: &["BeginTime", "EndTime"],
                id: Some("TaskId"),
            },
        ),
        (
            "tencent",
            tencent::read,
            TENCENT,
            Layout {
                path: &["Response", "Data", "ResultDetail"],
                times: &["StartMs", "EndMs"],
                id: None,
            },
        ),
        (
            "huawei",
            huawei::read,
            HUAWEI,
            Layout {
                path: &["segments"],
                times: &["start_time", "end_time"],
                id: Some("job_id"),
            },
        ),
        (
            "amazon",
            amazon::read,
            AMAZON,
            Layout {
                path: &["Transcript"],
                times: &["BeginOffsetMillis", "EndOffsetMillis"],
                id: Some("JobName"),
            },
        ),
    ];
    let opts = ImportOptions::default();
    let mut group = c.benchmark_group("vendors");
    group.sample_size(10);
    for (name, read, example, layout) in vendors {
        let (input, count) = make_lines(example, &layout);
        // Check once that the input is read in full.
        let out = read("bench.jsonl", input.as_bytes(), &opts);
        assert!(out.errors.is_empty(), "{name}: {:?}", out.errors.first());
        assert_eq!(out.conversations.len(), count, "{name}");
        eprintln!(
            "{name}: {count} results, {:.1} MB, {} turns each",
            input.len() as f64 / 1e6,
            out.conversations[0].turns.len()
        );
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_function(format!("read_jsonl_{name}"), |b| {
            b.iter(|| {
                read("bench.jsonl", black_box(input.as_bytes()), &opts)
                    .conversations
                    .len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
