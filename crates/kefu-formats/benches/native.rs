//! Parsing native records: `native::parse_record` (the direct parser for
//! the common shape, serde for the rest) against plain `serde_json`, on the
//! example conversations written compactly, as `kefu` writes and most
//! exports are, reported in records per second.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kefu_engine::Conversation;
use kefu_formats::native::parse_record;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EXAMPLES: &str = include_str!("../../../examples/conversations.jsonl");

/// The examples, each re-written compactly (the file is pretty-spaced).
fn records() -> Vec<String> {
    EXAMPLES
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str::<Conversation<'_>>(l).ok())
        .filter_map(|c| serde_json::to_string(&c).ok())
        .collect()
}

fn bench(c: &mut Criterion) {
    let records = records();
    let mut group = c.benchmark_group("native records");
    group.throughput(Throughput::Elements(records.len() as u64));
    group.bench_function("parse_record", |b| {
        b.iter(|| {
            for r in &records {
                let _ = black_box(parse_record(black_box(r.as_bytes())));
            }
        })
    });
    group.bench_function("serde_json::from_str", |b| {
        b.iter(|| {
            for r in &records {
                let _ = black_box(serde_json::from_str::<Conversation<'_>>(black_box(r)));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
