//! Keyset pagination of the results list on real databases: pages follow
//! `started_at DESC, id DESC` (with results lacking a start time where each
//! backend sorts NULL), never repeat or skip a result while others are
//! imported meanwhile, agree with one big page under filters, and the plans
//! of the filtered lists use an index.

use std::collections::HashSet;

use kefu_engine::{Conversation, Inspector, RulePack, Scratch};
use kefu_store::{both_backends, ConversationFilter, ImportItem, InspectionKey, Store};

const FIXTURES: &str = include_str!("../../kefu-engine/tests/golden/conversations.jsonl");

/// The golden conversations as items, renamed with `prefix`; every fifth
/// without a start time and the others on a few shared instants (ties).
fn items(inspector: &Inspector, prefix: &str, day: i64) -> Vec<ImportItem> {
    let mut scratch = Scratch::default();
    let mut lines = Vec::new();
    for (n, line) in FIXTURES
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
    {
        let mut v: serde_json::Value = serde_json::from_str(line).expect("fixture parses");
        v["id"] = format!("{prefix}-{n:03}").into();
        if n.is_multiple_of(5) {
            if let Some(o) = v.as_object_mut() {
                o.remove("started_at");
            }
        } else {
            v["started_at"] = format!("2026-03-{:02}T10:00:{:02}+08:00", day, n % 4).into();
        }
        lines.push(v.to_string());
    }
    lines
        .iter()
        .map(|l| {
            let conv: Conversation<'_> = serde_json::from_str(l).expect("parses");
            let ins = inspector.inspect(&conv, &mut scratch);
            ImportItem::new(&conv, Some(l), ins)
        })
        .collect()
}

/// Every page of `filter`, `per_page` at a time, following `next`; calls
/// `between` after each page.
async fn walk(
    store: &Store,
    filter: &ConversationFilter,
    per_page: i64,
    mut between: impl FnMut(usize) -> Option<Vec<ImportItem>>,
    pack: i64,
) -> Vec<(Option<i64>, i64, String)> {
    let mut seen = Vec::new();
    let mut after: Option<InspectionKey> = None;
    for page_no in 0.. {
        let page = store
            .list_inspections_page(&ConversationFilter {
                limit: Some(per_page),
                after,
                ..filter.clone()
            })
            .await
            .expect("page");
        assert!(page.items.len() as i64 <= per_page);
        seen.extend(
            page.items
                .iter()
                .map(|r| (r.started_at, r.id, r.conversation_id.clone())),
        );
        if let Some(more) = between(page_no) {
            store
                .import_batch(pack, &more)
                .await
                .expect("import meanwhile");
        }
        match page.next {
            Some(key) => {
                // The cursor is the page's last row and survives its text.
                let last = page.items.last().expect("a next page follows a full one");
                assert_eq!((key.started_at, key.id), (last.started_at, last.id));
                after = InspectionKey::from_cursor(&key.to_cursor());
                assert_eq!(after, Some(key));
            }
            None => break,
        }
    }
    seen
}

both_backends!(pages_neither_repeat_nor_skip, |store: Store| async move {
    let inspector = Inspector::new(RulePack::default_zh_cn().expect("pack")).expect("compile");
    let pack = store
        .register_pack("zh-CN", "t", kefu_engine::pack::DEFAULT_PACK_ZH_CN)
        .await
        .expect("register")
        .id;
    store
        .import_batch(pack, &items(&inspector, "a", 10))
        .await
        .expect("import");
    let before: Vec<String> = store
        .list_inspections(&ConversationFilter {
            limit: Some(1000),
            ..Default::default()
        })
        .await
        .expect("all")
        .0
        .into_iter()
        .map(|r| r.conversation_id)
        .collect();
    assert_eq!(before.len(), 88);
    // Newer (day 20), older (day 1) and undated results arrive while the
    // pages are read.
    let mut extra = vec![items(&inspector, "new", 20), items(&inspector, "old", 1)];
    let seen = walk(
        &store,
        &ConversationFilter::default(),
        7,
        |n| (n % 3 == 1).then(|| extra.pop()).flatten(),
        pack,
    )
    .await;
    let ids: Vec<&String> = seen.iter().map(|(_, _, c)| c).collect();
    let unique: HashSet<&String> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "no result twice");
    for c in &before {
        assert!(
            unique.contains(c),
            "{c} was there all along and was skipped"
        );
    }
    // Pages are in list order: dated ones by (started_at, id) descending;
    // undated all together, by id descending, at the backend's NULL end.
    let dated: Vec<(i64, i64)> = seen
        .iter()
        .filter_map(|(s, i, _)| s.map(|s| (s, *i)))
        .collect();
    assert!(dated.windows(2).all(|w| w[0] > w[1]), "dated in order");
    let undated: Vec<i64> = seen
        .iter()
        .filter(|(s, _, _)| s.is_none())
        .map(|(_, i, _)| *i)
        .collect();
    assert!(undated.windows(2).all(|w| w[0] > w[1]), "undated in order");
    let first_null = seen
        .iter()
        .position(|(s, _, _)| s.is_none())
        .expect("undated");
    let nulls_together = seen[first_null..first_null + undated.len()]
        .iter()
        .all(|(s, _, _)| s.is_none());
    assert!(nulls_together, "undated results form one run");

    // Filters: the pages give exactly what one big page gives.
    for filter in [
        ConversationFilter {
            passed: Some(false),
            ..Default::default()
        },
        ConversationFilter {
            agent_id: Some("a-03".into()),
            ..Default::default()
        },
        ConversationFilter {
            channel: Some("chat".into()),
            ..Default::default()
        },
        ConversationFilter {
            min_score: Some(60.0),
            max_score: Some(95.0),
            ..Default::default()
        },
        ConversationFilter {
            rule: Some("closing".into()),
            ..Default::default()
        },
        ConversationFilter {
            text: Some("话费".into()),
            ..Default::default()
        },
    ] {
        let whole = store
            .list_inspections_page(&ConversationFilter {
                limit: Some(1000),
                ..filter.clone()
            })
            .await
            .expect("whole");
        assert!(!whole.total_estimated);
        assert!(whole.next.is_none());
        assert_eq!(whole.total, whole.items.len() as i64, "{filter:?}");
        let paged = walk(&store, &filter, 5, |_| None, pack).await;
        let want: Vec<i64> = whole.items.iter().map(|r| r.id).collect();
        let got: Vec<i64> = paged.iter().map(|(_, i, _)| *i).collect();
        assert_eq!(got, want, "{filter:?}");
        // Old page numbers still work and agree.
        let second = store
            .list_inspections_page(&ConversationFilter {
                limit: Some(5),
                offset: Some(5),
                ..filter.clone()
            })
            .await
            .expect("offset page");
        let off: Vec<i64> = second.items.iter().map(|r| r.id).collect();
        assert_eq!(off.as_slice(), &want[want.len().min(5)..want.len().min(10)]);
    }
});

/// The list queries, shaped as `complaint_page` (its page part; the capped
/// count rides along as a subquery) and `list_inspections_page`
/// write them, for every filter the API and the dashboard offer.
fn list_queries() -> Vec<(&'static str, String)> {
    let complaints = |cond: &str| {
        format!(
            "SELECT c.id, c.doc, c.opened_at FROM complaints c WHERE {cond} \
             ORDER BY c.opened_at DESC, c.id DESC LIMIT 26 OFFSET 0"
        )
    };
    let results = |cond: &str| {
        format!(
            "SELECT i.id, i.result FROM inspections i WHERE i.is_current = 1 AND {cond} \
             ORDER BY i.started_at DESC, i.id DESC LIMIT 26 OFFSET 0"
        )
    };
    vec![
        ("complaints", complaints("1 = 1")),
        (
            "complaints",
            complaints("(c.opened_at <= 5 AND (c.opened_at < 5 OR c.id < 'x'))"),
        ),
        ("complaints", complaints("c.state IN ('handling')")),
        (
            "complaints",
            complaints("c.state || '' IN ('handling', 'accepted')"),
        ),
        (
            "complaints",
            complaints("c.assignee_kind = 'agent' AND c.assignee_id = 'a1'"),
        ),
        ("complaints", complaints("c.assignee_kind IS NULL")),
        ("complaints", complaints("c.priority = 'urgent'")),
        ("complaints", complaints("c.special = 1")),
        (
            "complaints",
            complaints("c.waiting_since IS NOT NULL AND c.state <> 'closed'"),
        ),
        (
            "complaints",
            complaints("c.opened_at >= 1 AND c.opened_at < 9"),
        ),
        ("inspections", results("1 = 1")),
        (
            "inspections",
            results("i.started_at <= 5 AND (i.started_at < 5 OR i.id < 3)"),
        ),
        ("inspections", results("i.agent_id = 'a-03'")),
        ("inspections", results("i.passed = 0")),
        ("inspections", results("i.channel = 'chat'")),
        ("inspections", results("i.pack_version_id = 1")),
        ("inspections", results("i.reviewed_at IS NOT NULL")),
        (
            "inspections",
            results("i.started_at >= 1 AND i.started_at < 9"),
        ),
        (
            "inspections",
            results("i.agent_id || '' IN (SELECT id FROM users WHERE team = 't')"),
        ),
    ]
}

/// Every list filter is answered from an index in list order: no full
/// scan of the table, no sort of the matches (SQLite: no temporary B-tree;
/// PostgreSQL, with sequential scans priced out: no Seq Scan).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_plans_use_indexes() {
    use sqlx::Row;
    let db = kefu_store::testing::TestDb::sqlite("list_plans");
    let store = db.open().await;
    for (table, sql) in list_queries() {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
            .fetch_all(kefu_store::testing::pool(&store))
            .await
            .expect("explain");
        let plan: Vec<String> = rows
            .iter()
            .map(|r| r.try_get::<String, _>("detail").expect("detail"))
            .collect();
        let text = plan.join(" | ");
        assert!(!text.contains("TEMP B-TREE"), "{sql}\n{text}");
        let alias = &table[..1];
        let reads: Vec<&String> = plan
            .iter()
            .filter(|d| {
                d.starts_with(&format!("SCAN {alias}")) || d.starts_with(&format!("SEARCH {alias}"))
            })
            .collect();
        assert!(!reads.is_empty(), "{sql}\n{text}");
        for d in reads {
            assert!(d.contains("INDEX"), "{sql}\n{text}");
        }
    }
    store.close().await;
    if let Some(db) = kefu_store::testing::TestDb::postgres("list_plans").await {
        let store = db.open().await;
        let mut conn = kefu_store::testing::pool(&store)
            .acquire()
            .await
            .expect("connection");
        sqlx::query("SET enable_seqscan = off")
            .execute(&mut *conn)
            .await
            .expect("set");
        for (table, sql) in list_queries() {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN {sql}")))
                .fetch_all(&mut *conn)
                .await
                .expect("explain");
            let plan: Vec<String> = rows
                .iter()
                .map(|r| r.try_get::<String, _>(0).expect("plan line"))
                .collect();
            let text = plan.join("\n");
            assert!(
                !text.contains(&format!("Seq Scan on {table}")),
                "{sql}\n{text}"
            );
        }
        drop(conn);
        store.close().await;
    }
}

// The monthly rollups equal the sums of their days after imports, after a
// day is rebuilt and after every day is rebuilt.
both_backends!(monthly_rollups_follow_the_days, |store: Store| async move {
    use sqlx::Row;
    let inspector = Inspector::new(RulePack::default_zh_cn().expect("pack")).expect("compile");
    let pack = store
        .register_pack("zh-CN", "t", kefu_engine::pack::DEFAULT_PACK_ZH_CN)
        .await
        .expect("register")
        .id;
    // Days in two months (March, and the 1st of April).
    for (prefix, day) in [("m", 10), ("n", 31)] {
        store
            .import_batch(pack, &items(&inspector, prefix, day))
            .await
            .expect("import");
    }
    let checks = [
        ("kpi", "agent_id", "offered + answered + passed + vetoes + reviewed + wait_count + wait_sum + sat_count + sat_sum + sat_satisfied"),
        ("wait", "agent_id, sec", "n"),
        ("rule", "agent_id, rule", "conversations + findings"),
        ("dimension", "agent_id, dimension", "conversations"),
    ];
    let compare = |when: &'static str| {
        let store = store.clone();
        async move {
            for (table, keys, value) in checks {
                // Months are compared by their first day, computed in Rust.
                let daily = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT day, {keys}, CAST({value} AS BIGINT) AS v FROM {table}_daily"
                )))
                .fetch_all(kefu_store::testing::pool(&store))
                .await
                .expect("daily");
                let monthly = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT month, {keys}, CAST({value} AS BIGINT) AS v FROM {table}_monthly"
                )))
                .fetch_all(kefu_store::testing::pool(&store))
                .await
                .expect("monthly");
                let key_of = |r: &sqlx::any::AnyRow, first: i64| {
                    let mut k = vec![first.to_string()];
                    for name in keys.split(", ") {
                        let v = r
                            .try_get::<String, _>(name)
                            .or_else(|_| r.try_get::<i64, _>(name).map(|n| n.to_string()))
                            .expect("key");
                        k.push(v);
                    }
                    k
                };
                let mut want = std::collections::BTreeMap::new();
                for r in &daily {
                    let day: i64 = r.try_get("day").expect("day");
                    let date = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")
                        + chrono::Duration::days(day);
                    let first = day - i64::from(chrono::Datelike::day(&date)) + 1;
                    *want.entry(key_of(r, first)).or_insert(0_i64) +=
                        r.try_get::<i64, _>("v").expect("v");
                }
                let mut got = std::collections::BTreeMap::new();
                for r in &monthly {
                    let v: i64 = r.try_get("v").expect("v");
                    if v != 0 {
                        got.insert(key_of(r, r.try_get("month").expect("month")), v);
                    }
                }
                want.retain(|_, v| *v != 0);
                assert!(!want.is_empty(), "{table} {when}: no rollups");
                assert_eq!(got, want, "{table} {when}");
            }
        }
    };
    compare("after imports").await;
    let day: i64 = sqlx::query("SELECT MIN(day) AS d FROM kpi_daily")
        .fetch_one(kefu_store::testing::pool(&store))
        .await
        .expect("a day")
        .try_get("d")
        .expect("d");
    store.mark_day_stale(day).await.expect("stale");
    store.refresh_rollups().await.expect("refresh");
    compare("after a day was rebuilt").await;
    store.rebuild_rollups().await.expect("rebuild");
    compare("after every day was rebuilt").await;
});
