//! Throughput of the CSV and chat-log importers on ~50 MB generated files
//! (UTF-8 CSV, GBK CSV, UTF-8 chat log), reported in bytes per second.
//!
//! Runs with mimalloc, the allocator of the `kefu` binary (an owned string
//! per turn makes importing allocation-heavy); remove the
//! `#[global_allocator]` line to measure the system allocator.

use std::fmt::Write;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kefu_formats::import::{chatlog, csv, ImportOptions};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TARGET_BYTES: usize = 50 * 1024 * 1024;

const AGENT_LINES: &[&str] = &[
    "您好，很高兴为您服务，请问有什么可以帮您？",
    "好的，请您提供一下机主姓名和身份证后四位，我帮您核实一下。",
    "感谢您的耐心等待，您的包裹已经到了本市转运中心，预计明天上午派送。",
    "请问还有其他问题吗？感谢您的来电，祝您生活愉快，再见！",
];
const CUSTOMER_LINES: &[&str] = &[
    "我想查一下上个月的话费，怎么扣了一百多",
    "在吗？我的快递怎么还没到",
    "订单号 4021 8876 5512，9月27号下的单",
    "好的谢谢",
];

/// A CSV of 12-turn calls with millisecond timings, one quoted field per
/// call, about `TARGET_BYTES` long.
fn make_csv() -> String {
    let mut s = String::with_capacity(TARGET_BYTES + 4096);
    s.push_str("会话ID,角色,内容,开始时间,结束时间,坐席,客户\n");
    let mut call = 0u64;
    while s.len() < TARGET_BYTES {
        call += 1;
        let mut t = 0;
        for i in 0..12 {
            let (role, text) = if i % 2 == 0 {
                ("客服", AGENT_LINES[(i / 2 + call as usize) % 4])
            } else {
                ("客户", CUSTOMER_LINES[(i / 2 + call as usize) % 4])
            };
            let end = t + 1500 + text.len() as u64 * 40;
            let _ = if i == 3 {
                writeln!(
                    s,
                    "c-{call},{role},\"{text}，\"\"引号\"\"\",{t},{end},a-{},u-{call}",
                    call % 97
                )
            } else {
                writeln!(
                    s,
                    "c-{call},{role},{text},{t},{end},a-{},u-{call}",
                    call % 97
                )
            };
            t = end + 600;
        }
    }
    s
}

/// A Qianniu-style log: sessions of 10 one-line messages, a few multi-line.
fn make_chat() -> String {
    let mut s = String::with_capacity(TARGET_BYTES + 4096);
    let mut minute = 0u64;
    let mut session = 0u64;
    while s.len() < TARGET_BYTES {
        session += 1;
        for i in 0..10 {
            let (h, m, sec) = ((minute / 60) % 24, minute % 60, (i * 5) % 60);
            let day = 1 + (minute / 1440) % 28;
            let _ = if i % 2 == 0 {
                writeln!(
                    s,
                    "2026-10-{day:02} {h:02}:{m:02}:{sec:02} tb_buyer{session}:{}",
                    CUSTOMER_LINES[(i + session as usize) % 4]
                )
            } else {
                writeln!(
                    s,
                    "2026-10-{day:02} {h:02}:{m:02}:{sec:02} 云朵旗舰店:小美:{}",
                    AGENT_LINES[(i + session as usize) % 4]
                )
            };
            if i == 5 {
                s.push_str("物流单号：SF1234567890\n");
            }
        }
        minute += 45;
    }
    s
}

fn bench(c: &mut Criterion) {
    let opts = ImportOptions::default();
    let csv_text = make_csv();
    let (gbk, _, _) = encoding_rs::GBK.encode(&csv_text);
    let chat = make_chat();

    let mut group = c.benchmark_group("import");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(csv_text.len() as u64));
    group.bench_function("csv_utf8_50mb", |b| {
        b.iter(|| {
            csv::read("bench.csv", csv_text.as_bytes(), &opts)
                .conversations
                .len()
        })
    });
    group.throughput(Throughput::Bytes(gbk.len() as u64));
    group.bench_function("csv_gbk_50mb", |b| {
        b.iter(|| csv::read("bench.csv", &gbk, &opts).conversations.len())
    });
    group.throughput(Throughput::Bytes(chat.len() as u64));
    group.bench_function("chatlog_50mb", |b| {
        b.iter(|| {
            chatlog::read("bench.txt", chat.as_bytes(), &opts)
                .conversations
                .len()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
