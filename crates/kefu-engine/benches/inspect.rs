//! Engine-only throughput: the default pack over the golden conversations
//! (parsing excluded; `kefu bench` measures the whole pipeline).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kefu_engine::normalize::NormalizedText;
use kefu_engine::{Conversation, Inspector, RulePack, Scratch};

const FIXTURES: &str = include_str!("../tests/golden/conversations.jsonl");

fn bench(c: &mut Criterion) {
    let inspector = Inspector::new(RulePack::default_zh_cn().expect("built-in pack"))
        .expect("built-in pack compiles");
    let convs: Vec<Conversation<'_>> = FIXTURES
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("golden line parses"))
        .collect();
    let turns: usize = convs.iter().map(|c| c.turns.len()).sum();
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(convs.len() as u64));
    group.bench_function("inspect_golden_set", |b| {
        let mut scratch = Scratch::default();
        b.iter(|| {
            let mut total = 0.0;
            for conv in &convs {
                total += inspector.inspect(conv, &mut scratch).score;
            }
            total
        })
    });
    group.throughput(Throughput::Elements(turns as u64));
    group.bench_function("normalize_turns", |b| {
        let mut n = NormalizedText::default();
        b.iter(|| {
            let mut chars = 0;
            for conv in &convs {
                for t in &conv.turns {
                    n.fill(&t.text);
                    chars += n.content_chars();
                }
            }
            chars
        })
    });
    group.bench_function("parse_json", |b| {
        b.iter(|| {
            FIXTURES
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| {
                    serde_json::from_str::<Conversation<'_>>(l)
                        .map(|c| c.turns.len())
                        .unwrap_or(0)
                })
                .sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
