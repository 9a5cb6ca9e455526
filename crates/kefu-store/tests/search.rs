//! Full-text search over transcripts, against SQLite and (when
//! `KEFU_TEST_PG_URL` is set) PostgreSQL.

use kefu_engine::{Conversation, Inspector, RulePack, Scratch};
use kefu_store::{both_backends, ConversationFilter, ImportItem, Store};

fn inspector() -> Inspector {
    Inspector::new(RulePack::default_zh_cn().expect("pack")).expect("compile")
}

/// `(id, agent, turns)`; turns alternate agent, customer.
const CONVERSATIONS: &[(&str, &str, &[&str])] = &[
    (
        "c1",
        "a1",
        &[
            "您好，请问有什么可以帮您？",
            "我要申请退款，订单号ＡＢ１２３。",
        ],
    ),
    (
        "c2",
        "a2",
        &[
            "您好。",
            "你們的服務態度太差了，我要投訴！",
            "非常抱歉给您带来不便。",
        ],
    ),
    (
        "c3",
        "a1",
        &["价格是100%正品_保证", "他说\"好的\"，it's 5*3 OK"],
    ),
    ("c4", "a2", &["不 知 道", "那我退货吧。"]),
    ("c5", "a1", &["鑫", "谢谢"]),
    ("c6", "a1", &["好的。", "我要退"]),
];

fn items(inspector: &Inspector) -> Vec<ImportItem> {
    let mut scratch = Scratch::default();
    CONVERSATIONS
        .iter()
        .enumerate()
        .map(|(n, (id, agent, turns))| {
            let turns: Vec<serde_json::Value> = turns
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    serde_json::json!({
                        "role": if i % 2 == 0 { "agent" } else { "customer" },
                        "text": t,
                    })
                })
                .collect();
            let line = serde_json::json!({
                "id": id,
                "channel": "chat",
                "agent_id": agent,
                "started_at": format!("2026-10-0{}T10:00:00+08:00", n + 1),
                "turns": turns,
            })
            .to_string();
            let conv: Conversation<'_> = serde_json::from_str(&line).expect("parses");
            let ins = inspector.inspect(&conv, &mut scratch);
            ImportItem::new(&conv, Some(&line), ins)
        })
        .collect()
}

/// Stores the conversations as an import leaves them: on SQLite their
/// transcripts wait in the search backlog, on PostgreSQL they are indexed.
async fn import(store: &Store) {
    let pack = store
        .register_pack("zh-CN", "t", kefu_engine::pack::DEFAULT_PACK_ZH_CN)
        .await
        .expect("register");
    store
        .import_batch(pack.id, &items(&inspector()))
        .await
        .expect("import");
    let queued = match store.backend() {
        kefu_store::Backend::Sqlite => CONVERSATIONS.len() as i64,
        kefu_store::Backend::Postgres => 0,
    };
    assert_eq!(store.search_backlog().await.expect("backlog"), queued);
}

/// Imports the conversations and runs `checks` twice: with their
/// transcripts still queued for the index (SQLite; found by a substring
/// test) and once they are indexed. Search must answer the same both times.
async fn queued_then_indexed<F, Fut>(store: &Store, checks: F)
where
    F: Fn(Store) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    import(store).await;
    checks(store.clone()).await;
    store.index_backlog().await.expect("index");
    assert_eq!(store.search_backlog().await.expect("backlog"), 0);
    checks(store.clone()).await;
}

/// Stores the conversations and indexes every transcript.
async fn setup(store: &Store) {
    import(store).await;
    store.reindex_missing().await.expect("reindex");
    assert_eq!(store.search_backlog().await.expect("backlog"), 0);
}

async fn search(store: &Store, query: &str) -> Vec<String> {
    store
        .search_conversations(query, 100)
        .await
        .unwrap_or_else(|e| panic!("search {query:?}: {e}"))
}

async fn listed(store: &Store, filter: ConversationFilter) -> (Vec<String>, i64) {
    let (rows, total) = store
        .list_inspections(&filter)
        .await
        .unwrap_or_else(|e| panic!("list {filter:?}: {e}"));
    let mut ids: Vec<String> = rows.into_iter().map(|r| r.conversation_id).collect();
    ids.sort();
    (ids, total)
}

both_backends!(chinese_terms_of_any_length, |store: Store| async move {
    queued_then_indexed(&store, chinese_terms).await;
});

async fn chinese_terms(store: Store) {
    // Two characters: below a trigram.
    assert_eq!(search(&store, "退款").await, ["c1"]);
    // Four and more.
    assert_eq!(search(&store, "申请退款").await, ["c1"]);
    assert_eq!(search(&store, "请问有什么").await, ["c1"]);
    // One character, also as the very last character of a transcript.
    assert_eq!(search(&store, "鑫").await, ["c5"]);
    assert_eq!(search(&store, "退").await, ["c1", "c4", "c6"]);
    // Trimmed; nothing for an empty query.
    assert_eq!(search(&store, "  退款\u{3000}").await, ["c1"]);
    assert!(search(&store, "   ").await.is_empty());
    assert!(search(&store, "没有这句话").await.is_empty());
    // Spaces inside the text do not break a word.
    assert_eq!(search(&store, "不知道").await, ["c4"]);
    // A term never spans two turns.
    assert!(search(&store, "您？我要").await.is_empty());
    assert_eq!(search(&store, "帮您？").await, ["c1"]);
}

both_backends!(
    width_script_and_case_do_not_matter,
    |store: Store| async move {
        queued_then_indexed(&store, width_script_and_case_do_not_matter_checks).await;
    }
);

async fn width_script_and_case_do_not_matter_checks(store: Store) {
    // Full-width text, half-width query and back; any case.
    assert_eq!(search(&store, "ab123").await, ["c1"]);
    assert_eq!(search(&store, "ＡＢ１２３").await, ["c1"]);
    assert_eq!(search(&store, "Ab12").await, ["c1"]);
    assert_eq!(search(&store, "ok").await, ["c3"]);
    assert_eq!(search(&store, "１００％").await, ["c3"]);
    assert_eq!(search(&store, "您好，请问").await, ["c1"]);
    assert_eq!(search(&store, "您好,请问").await, ["c1"]);
    // Traditional query, Simplified text; Simplified query, Traditional text.
    assert_eq!(search(&store, "申請退款").await, ["c1"]);
    assert_eq!(search(&store, "態度").await, ["c2"]);
    assert_eq!(search(&store, "态度").await, ["c2"]);
    assert_eq!(search(&store, "服务态度太差").await, ["c2"]);
    assert_eq!(search(&store, "投訴").await, ["c2"]);
}

both_backends!(terms_are_anded, |store: Store| async move {
    queued_then_indexed(&store, terms_are_anded_checks).await;
});

async fn terms_are_anded_checks(store: Store) {
    assert_eq!(search(&store, "退款 订单").await, ["c1"]);
    assert_eq!(search(&store, "退 您好").await, ["c1"]);
    assert_eq!(search(&store, "投诉 抱歉").await, ["c2"]);
    assert_eq!(search(&store, "您好 抱歉 态度太差").await, ["c2"]);
    assert!(search(&store, "退款 投诉").await.is_empty());
    assert!(search(&store, "鑫 退").await.is_empty());
    assert_eq!(search(&store, "好的").await, ["c3", "c6"]);
    assert_eq!(search(&store, "好的 退").await, ["c6"]);
    // A repeated or implied term changes nothing.
    assert_eq!(search(&store, "退 退款 退款").await, ["c1"]);
}

both_backends!(special_characters_are_literal, |store: Store| async move {
    queued_then_indexed(&store, special_characters_are_literal_checks).await;
});

async fn special_characters_are_literal_checks(store: Store) {
    for q in [
        "%",
        "_",
        "\"",
        "'",
        "*",
        "100%",
        "%正品_",
        "正品_保证",
        "\"好的\"",
        "it's",
        "5*3",
        "＊",
    ] {
        assert_eq!(search(&store, q).await, ["c3"], "query {q:?}");
    }
    // Wildcards and operators match nothing else and never fail.
    for q in [
        "%%",
        "__",
        "退%款",
        "退_款",
        "退款*",
        "*退款",
        "\"退款",
        "' OR 1=1 --",
        "'); DROP TABLE conversations; --",
        "退款 OR 投诉",
        "NEAR(退款 订单)",
        "text:退款",
        "-退款",
        "^退款",
        "(退款",
        "退款\\",
        "\\",
        "{text}: 退款",
    ] {
        let found = search(&store, q).await;
        assert!(found.is_empty(), "query {q:?} found {found:?}");
    }
    // A very long query is no error either.
    let long = "退款".repeat(1000);
    assert!(search(&store, &long).await.is_empty());
    let many: String = (0..100).map(|i| format!("词{i} ")).collect();
    assert!(search(&store, &many).await.is_empty());
    assert_eq!(store.conversation_count().await.expect("count"), 6);
}

both_backends!(combines_with_list_filters, |store: Store| async move {
    queued_then_indexed(&store, combines_with_list_filters_checks).await;
});

async fn combines_with_list_filters_checks(store: Store) {
    let (ids, total) = listed(
        &store,
        ConversationFilter {
            text: Some("退".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ids, ["c1", "c4", "c6"]);
    assert_eq!(total, 3);
    let (ids, total) = listed(
        &store,
        ConversationFilter {
            text: Some("退".into()),
            agent_id: Some("a1".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ids, ["c1", "c6"]);
    assert_eq!(total, 2);
    let (ids, total) = listed(
        &store,
        ConversationFilter {
            text: Some("退货 不知道".into()),
            agent_id: Some("a2".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ids, ["c4"]);
    assert_eq!(total, 1);
    let (ids, total) = listed(
        &store,
        ConversationFilter {
            text: Some("退款".into()),
            agent_id: Some("a2".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!((ids.len(), total), (0, 0));
    // With a time range and paging: newest first.
    let to = chrono::DateTime::parse_from_rfc3339("2026-10-06T00:00:00+08:00")
        .expect("time")
        .timestamp_millis();
    let (rows, total) = store
        .list_inspections(&ConversationFilter {
            text: Some("退".into()),
            to_ms: Some(to),
            limit: Some(1),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(total, 2);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].conversation_id, "c4");
    // Special characters through the list too.
    let (ids, total) = listed(
        &store,
        ConversationFilter {
            text: Some("%".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ids, ["c3"]);
    assert_eq!(total, 1);
    // A blank text filters nothing.
    let (_, total) = listed(
        &store,
        ConversationFilter {
            text: Some(" ".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(total, 6);
}

both_backends!(text_filter_counts_in_the_index, |store: Store| async move {
    queued_then_indexed(&store, text_filter_counts).await;
});

async fn text_filter_counts(store: Store) {
    for (query, n) in [("退", 3), ("退款", 1), ("好的", 2), ("没有", 0), ("%", 1)] {
        let filter = store
            .text_filter(query)
            .await
            .expect("plan")
            .expect("has terms");
        match store.backend() {
            kefu_store::Backend::Sqlite => assert_eq!(filter.matches(), Some(n), "{query}"),
            kefu_store::Backend::Postgres => assert_eq!(filter.matches(), None),
        }
        let (_, total) = listed(
            &store,
            ConversationFilter {
                text: Some(query.into()),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(total, n, "{query}");
    }
    assert!(store.text_filter(" \t ").await.expect("plan").is_none());
}

both_backends!(reindex_missing_backfills, |store: Store| async move {
    setup(&store).await;
    assert_eq!(store.reindex_missing().await.expect("reindex"), 0);
    store.clear_search_index().await.expect("clear");
    assert!(search(&store, "退款").await.is_empty());
    assert!(search(&store, "鑫").await.is_empty());
    assert!(search(&store, "请问有什么").await.is_empty());
    assert_eq!(store.reindex_missing().await.expect("reindex"), 6);
    assert_eq!(search(&store, "退款").await, ["c1"]);
    assert_eq!(search(&store, "鑫").await, ["c5"]);
    assert_eq!(search(&store, "请问有什么").await, ["c1"]);
    assert_eq!(store.reindex_missing().await.expect("reindex"), 0);
    // Conversations stored later are picked up too (when the import does
    // not index them itself).
    let pack = store
        .register_pack("zh-CN", "t", kefu_engine::pack::DEFAULT_PACK_ZH_CN)
        .await
        .expect("register");
    let line = r#"{"id":"c7","channel":"phone","agent_id":"a3","turns":[{"role":"agent","text":"您好"},{"role":"customer","text":"我的寬頻又斷線了"}]}"#;
    let conv: Conversation<'_> = serde_json::from_str(line).expect("parses");
    let ins = inspector().inspect(&conv, &mut Scratch::default());
    store
        .import_batch(pack.id, &[ImportItem::new(&conv, Some(line), ins)])
        .await
        .expect("import");
    store.reindex_missing().await.expect("reindex");
    assert_eq!(search(&store, "宽频").await, ["c7"]);
    assert_eq!(search(&store, "断线").await, ["c7"]);
});

#[test]
fn transcript_text_is_one_line_per_turn() {
    let line = r#"{"id":"x","channel":"chat","turns":[{"role":"agent","text":"您好，ＡＢＣ 請問"},{"role":"customer","text":"退款"}]}"#;
    let conv: Conversation<'_> = serde_json::from_str(line).expect("parses");
    assert_eq!(kefu_store::transcript_text(&conv), "您好,abc请问\n退款\n");
}

/// Timings at scale (ignored by default; run in release):
/// `KEFU_SEARCH_BENCH_N=1000000 KEFU_SEARCH_BENCH_DB=/tmp/kefu-search.db
///  cargo test --release -p kefu-store --test search -- --ignored --nocapture`.
/// The database is kept and reused when it already holds N conversations
/// (delete it after a change to the migrations).
/// `KEFU_SEARCH_BENCH_REINDEX=1` empties and rebuilds the index first (to
/// time indexing); `KEFU_SEARCH_BENCH_NO_QUERIES=1` skips the queries.
///
/// Prints, per query: `list_inspections` as it is (text condition with
/// `Strategy::Drive` for page and count), and `adapt` — the same page and
/// total through `TextFilter` as its documentation recommends.
#[test]
#[ignore]
fn search_at_scale() {
    let n: usize = std::env::var("KEFU_SEARCH_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let path = std::env::var("KEFU_SEARCH_BENCH_DB")
        .unwrap_or_else(|_| "/tmp/kefu-search-bench.db".to_string());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        // An existing database is reused as it is (not migrated again).
        let store = if std::path::Path::new(&path).exists() {
            Store::connect(&format!("sqlite://{path}")).await
        } else {
            Store::open(&format!("sqlite://{path}")).await
        }
        .expect("open");
        let have = store.conversation_count().await.expect("count") as usize;
        if have < n {
            let inspector = inspector();
            let pack = store
                .register_pack("zh-CN", "bench", kefu_engine::pack::DEFAULT_PACK_ZH_CN)
                .await
                .expect("register");
            let mut rng = bench::Rng(0x9E37_79B9_7F4A_7C15 ^ have as u64);
            let mut scratch = Scratch::default();
            let t0 = std::time::Instant::now();
            let mut inspect_time = std::time::Duration::ZERO;
            let mut store_time = std::time::Duration::ZERO;
            for start in (have..n).step_by(2000) {
                let ti = std::time::Instant::now();
                let batch: Vec<ImportItem> = (start..(start + 2000).min(n))
                    .map(|i| {
                        let line = bench::conversation(&mut rng, i);
                        let conv: Conversation<'_> = serde_json::from_str(&line).expect("parses");
                        let ins = inspector.inspect(&conv, &mut scratch);
                        ImportItem::new(&conv, Some(&line), ins)
                    })
                    .collect();
                inspect_time += ti.elapsed();
                let ts = std::time::Instant::now();
                store.import_batch(pack.id, &batch).await.expect("import");
                store_time += ts.elapsed();
            }
            eprintln!(
                "generated+imported {} in {:?} (generate+inspect {:?}, import_batch {:?}: {:.0}/s)",
                n - have,
                t0.elapsed(),
                inspect_time,
                store_time,
                (n - have) as f64 / store_time.as_secs_f64()
            );
        }
        if std::env::var("KEFU_SEARCH_BENCH_REINDEX").is_ok() {
            store.clear_search_index().await.expect("clear");
        }
        {
            // The CPU part of indexing: records to transcript text.
            let mut rng = bench::Rng(1);
            let lines: Vec<String> = (0..20_000)
                .map(|i| bench::conversation(&mut rng, i))
                .collect();
            let t = std::time::Instant::now();
            let mut bytes = 0;
            for l in &lines {
                let conv: Conversation<'_> = serde_json::from_str(l).expect("parses");
                bytes += kefu_store::transcript_text(&conv).len();
            }
            eprintln!(
                "parse + transcript_text: {:.0}/s, {} bytes of text each",
                lines.len() as f64 / t.elapsed().as_secs_f64(),
                bytes / lines.len()
            );
        }
        let t0 = std::time::Instant::now();
        let indexed = store.reindex_missing().await.expect("reindex");
        if indexed > 0 {
            eprintln!(
                "reindex_missing: {indexed} in {:?} ({:.0}/s)",
                t0.elapsed(),
                indexed as f64 / t0.elapsed().as_secs_f64()
            );
        }
        if std::env::var("KEFU_SEARCH_BENCH_NO_QUERIES").is_ok() {
            return;
        }
        let queries: &[(&str, Option<&str>)] = &[
            ("退款", None),
            ("投诉", None),
            ("快递", None),
            ("宽带", None),
            ("不知道", None),
            ("我要投诉", None),
            ("请问有什么可以帮您", None),
            ("重复扣费", None),
            ("a00123456", None),
            ("订单号", None),
            ("汇丰", None),
            ("汇丰银行", None),
            ("退款 投诉", None),
            ("宽带 营业厅", None),
            ("汇丰 退款", None),
            ("鑫", None),
            ("嗯", None),
            ("投诉", Some("a-042")),
            ("汇丰", Some("a-042")),
            ("不知道", Some("a-042")),
        ];
        eprintln!(
            "{:<26} {:>7} {:>10} {:>10} {:>10} {:>10} {:>10}",
            "query", "total", "list p50", "list p95", "adapt p50", "adapt p95", "search p95"
        );
        for (q, agent) in queries {
            let mut list = Vec::new();
            let mut adapt = Vec::new();
            let mut search = Vec::new();
            let mut total = 0;
            let mut adapt_total = 0;
            let mut runs = 20;
            let mut i = 0;
            while i < runs {
                i += 1;
                let t = std::time::Instant::now();
                let (_, n) = store
                    .list_inspections(&ConversationFilter {
                        text: Some((*q).to_string()),
                        agent_id: agent.map(str::to_string),
                        ..Default::default()
                    })
                    .await
                    .expect("list");
                list.push(t.elapsed());
                if t.elapsed() > std::time::Duration::from_millis(500) {
                    runs = 3;
                }
                total = n;
                let t = std::time::Instant::now();
                adapt_total = bench::adaptive_list(&store, q, *agent).await;
                adapt.push(t.elapsed());
                let t = std::time::Instant::now();
                store.search_conversations(q, 50).await.expect("search");
                search.push(t.elapsed());
            }
            assert_eq!(total, adapt_total, "{q}");
            list.sort();
            adapt.sort();
            search.sort();
            let p =
                |v: &[std::time::Duration], f: f64| v[((v.len() - 1) as f64 * f).round() as usize];
            eprintln!(
                "{:<26} {:>7} {:>10.1?} {:>10.1?} {:>10.1?} {:>10.1?} {:>10.1?}",
                format!("{q}{}", agent.map(|a| format!(" @{a}")).unwrap_or_default()),
                total,
                p(&list, 0.5),
                p(&list, 0.95),
                p(&adapt, 0.5),
                p(&adapt, 0.95),
                p(&search, 0.95),
            );
        }
        store.close().await;
    });
}

/// Generated conversations for `search_at_scale`: the phrases of
/// `kefu bench` plus, for variety, order numbers, bank names and a few
/// hundred random two-character words.
mod bench {
    pub(crate) struct Rng(pub u64);

    impl Rng {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        pub(crate) fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        pub(crate) fn chance(&mut self, percent: u64) -> bool {
            self.next() % 100 < percent
        }
        pub(crate) fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }
    }

    const OPENINGS: &[&str] = &[
        "您好，很高兴为您服务，请问有什么可以帮您？",
        "您好，工号1024为您服务，请问有什么可以帮您？",
        "您好，这里是客服中心，我是8号客服，请问您需要办理什么业务？",
        "喂，说吧什么事。",
    ];
    const ISSUES: &[&str] = &[
        "我上个月的话费怎么多扣了二十块钱，你们帮我查一下。",
        "我的快递三天了还没到，物流一直不更新。",
        "我想问一下信用卡的账单分期怎么办理。",
        "宽带又断了，这已经是这周第三次了。",
        "我的密码忘记了，登录不上去。",
        "我想把套餐改成流量多一点的那种。",
        "我要退款，东西根本没法用。",
    ];
    const COMPLAINTS: &[&str] = &[
        "你们这个服务太慢了，我要投诉！",
        "等了半天也没人处理，怎么回事？",
    ];
    const CUSTOMER: &[&str] = &[
        "对，是这个号码。",
        "嗯，我明白了，那大概什么时候能处理好？",
        "那我需要准备什么材料？",
        "好的，我记一下。",
        "是上个月二十号左右。",
        "手机号是一三八零零一三八零零零。",
    ];
    const AGENT: &[&str] = &[
        "好的，请您提供一下机主的姓名和身份证后四位。",
        "您的快递目前在转运中心，预计明天送达，请您留意电话。",
        "分期可以在手机银行的账单页面办理，手续费按期数计算。",
        "我已经为您提交了维修工单，师傅会在24小时内联系您。",
        "跟您确认一下，您是要把套餐更改为每月三十G流量的版本，对吗？",
        "这边查到是系统重复扣费，会在三个工作日内原路退回。",
        "这个我不知道，你自己去营业厅问吧。",
    ];
    const BANKS: &[&str] = &[
        "工商银行",
        "建设银行",
        "农业银行",
        "中国银行",
        "招商银行",
        "交通银行",
        "浦发银行",
        "中信银行",
        "光大银行",
        "民生银行",
        "兴业银行",
        "平安银行",
        "汇丰银行",
        "邮储银行",
    ];
    const CHARS: &str = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严";

    /// A page of 50 and the total the way `TextFilter` is meant to be used
    /// in `list_inspections`: the page with `page_condition`; the total is
    /// the index's count without other filters, else counted with
    /// `count_condition`.
    pub(crate) async fn adaptive_list(
        store: &kefu_store::Store,
        q: &str,
        agent: Option<&str>,
    ) -> i64 {
        use sqlx::Row;
        let filter = store.text_filter(q).await.expect("plan").expect("terms");
        if filter.matches() == Some(0) {
            return 0;
        }
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        let page = filter.page_condition("i.conversation_id", 50, &mut next);
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        let count = filter.count_condition("i.conversation_id", &mut next);
        let agent_sql = if agent.is_some() {
            format!(" AND i.agent_id = {}", next())
        } else {
            String::new()
        };
        let sql = format!(
            "SELECT i.id, i.conversation_id, i.pack_version_id, i.is_current, i.agent_id, i.started_at, \
             i.score, i.passed, i.veto, i.grade, i.finding_count, i.result, i.created_at \
             FROM inspections i WHERE i.is_current = 1 AND {page}{agent_sql} \
             ORDER BY i.started_at DESC, i.id DESC LIMIT 50"
        );
        let mut query = filter.bind(sqlx::query(sqlx::AssertSqlSafe(sql)));
        if let Some(a) = agent {
            query = query.bind(a);
        }
        query
            .fetch_all(kefu_store::testing::pool(store))
            .await
            .expect("page");
        match (agent, filter.matches()) {
            (None, Some(m)) => m,
            _ => {
                let sql = format!(
                    "SELECT COUNT(*) AS n FROM inspections i WHERE i.is_current = 1 AND {count}{agent_sql}"
                );
                let mut query = filter.bind(sqlx::query(sqlx::AssertSqlSafe(sql)));
                if let Some(a) = agent {
                    query = query.bind(a);
                }
                query
                    .fetch_one(kefu_store::testing::pool(store))
                    .await
                    .expect("count")
                    .try_get("n")
                    .expect("n")
            }
        }
    }

    pub(crate) fn conversation(rng: &mut Rng, i: usize) -> String {
        let chars: Vec<char> = CHARS.chars().collect();
        let word = |rng: &mut Rng| -> String {
            // Random two-character words from a pool of ~2,500, Zipf-ish.
            let a = rng.below(50) * rng.below(50) / 49;
            let b = rng.below(chars.len());
            format!("{}{}", chars[a % chars.len()], chars[b])
        };
        let mut turns: Vec<(&str, String)> = Vec::new();
        let w1 = word(rng);
        let w2 = word(rng);
        turns.push(("agent", rng.pick(OPENINGS).to_string()));
        turns.push(("customer", rng.pick(ISSUES).to_string()));
        if rng.chance(15) {
            turns.push(("customer", rng.pick(COMPLAINTS).to_string()));
        }
        turns.push(("agent", "好的，请您稍等，我这边帮您查询一下。".to_string()));
        if rng.chance(30) {
            turns.push((
                "customer",
                format!("订单号是A{:08}，{w1}的。", rng.below(100_000_000)),
            ));
        }
        if rng.chance(10) {
            turns.push(("customer", format!("我用的是{}的卡。", rng.pick(BANKS))));
        }
        while turns.len() < 26 {
            turns.push(("customer", rng.pick(CUSTOMER).to_string()));
            turns.push(("agent", rng.pick(AGENT).to_string()));
            if rng.chance(10) {
                turns.push(("customer", format!("{w2}这个{}怎么说？", word(rng))));
            }
        }
        turns.push(("customer", "好的，谢谢。".to_string()));
        turns.push(("agent", "感谢您的来电，祝您生活愉快，再见！".to_string()));
        let turns: Vec<serde_json::Value> = turns
            .into_iter()
            .map(|(role, text)| serde_json::json!({"role": role, "text": text}))
            .collect();
        serde_json::json!({
            "id": format!("b-{i:08}"),
            "channel": "phone",
            "agent_id": format!("a-{:03}", rng.below(500)),
            "started_at": format!("2026-10-{:02}T{:02}:{:02}:00+08:00", 1 + rng.below(28), 8 + rng.below(12), rng.below(60)),
            "turns": turns,
        })
        .to_string()
    }
}

// Two drainers (two nodes, say) index the backlog while imports keep
// queueing: every transcript ends up indexed exactly once and none is lost
// from the queue.
both_backends!(backlog_drains_beside_imports, |store: Store| async move {
    let pack = store
        .register_pack("zh-CN", "t", kefu_engine::pack::DEFAULT_PACK_ZH_CN)
        .await
        .expect("register");
    let inspector = inspector();
    let mut scratch = Scratch::default();
    let batches: Vec<Vec<ImportItem>> = (0..8)
        .map(|b| {
            (0..50)
                .map(|i| {
                    let n = b * 50 + i;
                    let line = serde_json::json!({
                        "id": format!("q{n:03}"),
                        "channel": "chat",
                        "agent_id": "a1",
                        "turns": [{"role": "agent", "text": "您好"},
                                  {"role": "customer", "text": format!("工单编号{n}号已经提交")}],
                    })
                    .to_string();
                    let conv: Conversation<'_> = serde_json::from_str(&line).expect("parses");
                    let ins = inspector.inspect(&conv, &mut scratch);
                    ImportItem::new(&conv, Some(&line), ins)
                })
                .collect()
        })
        .collect();
    let importing = async {
        for batch in &batches {
            store.import_batch(pack.id, batch).await.expect("import");
            tokio::task::yield_now().await;
        }
    };
    let drain = || async {
        let mut n = 0;
        for _ in 0..20 {
            n += store.index_backlog().await.expect("index");
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        n
    };
    let ((), a, b) = tokio::join!(importing, drain(), drain());
    let rest = store.index_backlog().await.expect("index");
    assert_eq!(store.search_backlog().await.expect("backlog"), 0);
    if store.backend() == kefu_store::Backend::Sqlite {
        // Two drainers may both read a page; every queued transcript is
        // indexed by at least one of them.
        assert!(a + b + rest >= 400, "{a} + {b} + {rest}");
    }
    for n in [0, 7, 199, 200, 399] {
        assert_eq!(
            search(&store, &format!("编号{n}号")).await,
            [format!("q{n:03}")],
            "{n}"
        );
    }
    let all = store
        .search_conversations("已经提交", 1000)
        .await
        .expect("search");
    assert_eq!(all.len(), 400);
    // Nothing is indexed twice: the index holds one entry a conversation.
    let filter = store
        .text_filter("提交")
        .await
        .expect("plan")
        .expect("terms");
    if let Some(m) = filter.matches() {
        assert_eq!(m, 400);
    }
});
