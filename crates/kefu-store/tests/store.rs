//! The store against real databases: an SQLite file always, and PostgreSQL
//! when `KEFU_TEST_PG_URL` is set (a fresh database per test, dropped after).

use kefu_engine::{Conversation, Inspector, RulePack, Scratch};
use kefu_store::{ConversationFilter, ImportItem, Store};

use kefu_store::both_backends;

const FIXTURES: &str = include_str!("../../kefu-engine/tests/golden/conversations.jsonl");

fn inspector() -> Inspector {
    Inspector::new(RulePack::default_zh_cn().expect("pack")).expect("compile")
}

fn items(inspector: &Inspector, lines: &[&str]) -> Vec<ImportItem> {
    let mut scratch = Scratch::default();
    lines
        .iter()
        .map(|l| {
            let conv: Conversation<'_> = serde_json::from_str(l).expect("fixture parses");
            let ins = inspector.inspect(&conv, &mut scratch);
            ImportItem::new(&conv, Some(l), ins)
        })
        .collect()
}

both_backends!(
    import_is_idempotent_and_atomic_per_batch,
    |store: Store| async move {
        let inspector = inspector();
        let pack = store
            .register_pack("zh-CN", "t", kefu_engine::pack::DEFAULT_PACK_ZH_CN)
            .await
            .expect("register");
        let again = store
            .register_pack("zh-CN", "t", kefu_engine::pack::DEFAULT_PACK_ZH_CN)
            .await
            .expect("register twice");
        assert_eq!(pack.id, again.id, "same text, same version row");
        let lines: Vec<&str> = FIXTURES.lines().filter(|l| !l.trim().is_empty()).collect();
        let first = items(&inspector, &lines[..50]);
        let out = store.import_batch(pack.id, &first).await.expect("import");
        assert_eq!((out.inserted, out.skipped), (50, 0));
        // Overlapping second import: 20 old, 30 new, plus a repeat within the batch.
        let mut second = items(&inspector, &lines[30..80]);
        second.push(second[0].clone());
        let out = store
            .import_batch(pack.id, &second)
            .await
            .expect("import again");
        assert_eq!((out.inserted, out.skipped), (30, 21));
        assert_eq!(store.conversation_count().await.expect("count"), 80);
        // Exactly one current result per conversation.
        let (rows, total) = store
            .list_inspections(&ConversationFilter {
                limit: Some(1000),
                ..Default::default()
            })
            .await
            .expect("list");
        assert_eq!(total, 80);
        assert_eq!(rows.len(), 80);
        // The stored record reads back as the same conversation.
        let original: Conversation<'_> = serde_json::from_str(lines[3]).expect("parse");
        let stored = store
            .conversation(&original.id)
            .await
            .expect("get")
            .expect("present");
        assert_eq!(stored, original.into_owned());
        assert!(store
            .conversation("no-such-id")
            .await
            .expect("get")
            .is_none());
    }
);

both_backends!(filters_and_pagination, |store: Store| async move {
    let inspector = inspector();
    let pack = store
        .register_pack("zh-CN", "t", kefu_engine::pack::DEFAULT_PACK_ZH_CN)
        .await
        .expect("register");
    let lines: Vec<&str> = FIXTURES.lines().filter(|l| !l.trim().is_empty()).collect();
    let all = items(&inspector, &lines);
    store.import_batch(pack.id, &all).await.expect("import");
    let expect_failed = all.iter().filter(|i| !i.inspection.passed).count() as i64;
    let expect_forbidden = all
        .iter()
        .filter(|i| {
            i.inspection
                .findings
                .iter()
                .any(|f| &*f.rule == "forbidden")
        })
        .count() as i64;
    let agent = all[5].agent_id.clone().expect("fixture has agent");
    let expect_agent = all
        .iter()
        .filter(|i| i.agent_id.as_deref() == Some(agent.as_str()))
        .count() as i64;
    let (_, failed) = store
        .list_inspections(&ConversationFilter {
            passed: Some(false),
            ..Default::default()
        })
        .await
        .expect("failed");
    assert_eq!(failed, expect_failed);
    assert!(expect_failed > 0);
    let (rows, forbidden) = store
        .list_inspections(&ConversationFilter {
            rule: Some("forbidden".into()),
            ..Default::default()
        })
        .await
        .expect("by rule");
    assert_eq!(forbidden, expect_forbidden);
    assert!(rows.iter().all(|r| r.result["findings"]
        .as_array()
        .is_some_and(|f| f.iter().any(|f| f["rule"] == "forbidden"))));
    let (rows, n) = store
        .list_inspections(&ConversationFilter {
            agent_id: Some(agent.clone()),
            ..Default::default()
        })
        .await
        .expect("by agent");
    assert_eq!(n, expect_agent);
    assert!(rows
        .iter()
        .all(|r| r.agent_id.as_deref() == Some(agent.as_str())));
    let (rows, n) = store
        .list_inspections(&ConversationFilter {
            max_score: Some(79.0),
            min_score: Some(1.0),
            ..Default::default()
        })
        .await
        .expect("by score");
    assert!(rows.iter().all(|r| r.score >= 1.0 && r.score <= 79.0));
    assert_eq!(
        n as usize,
        all.iter()
            .filter(|i| (1.0..=79.0).contains(&i.inspection.score))
            .count()
    );
    // Pages cover everything once.
    let mut seen = std::collections::HashSet::new();
    let mut offset = 0;
    loop {
        let (rows, total) = store
            .list_inspections(&ConversationFilter {
                limit: Some(7),
                offset: Some(offset),
                ..Default::default()
            })
            .await
            .expect("page");
        assert_eq!(total as usize, all.len());
        if rows.is_empty() {
            break;
        }
        for r in rows {
            assert!(seen.insert(r.conversation_id));
        }
        offset += 7;
    }
    assert_eq!(seen.len(), all.len());
    // Time range on started_at.
    let from = chrono::DateTime::parse_from_rfc3339("2026-10-01T00:00:00+08:00")
        .expect("time")
        .timestamp_millis();
    let to = chrono::DateTime::parse_from_rfc3339("2026-11-01T00:00:00+08:00")
        .expect("time")
        .timestamp_millis();
    let (rows, n) = store
        .list_inspections(&ConversationFilter {
            from_ms: Some(from),
            to_ms: Some(to),
            ..Default::default()
        })
        .await
        .expect("by time");
    let expect = all
        .iter()
        .filter(|i| i.started_at.is_some_and(|t| t >= from && t < to))
        .count();
    assert_eq!(n as usize, expect);
    assert!(rows
        .iter()
        .all(|r| r.started_at.is_some_and(|t| t >= from && t < to)));
});

both_backends!(reinspection_keeps_history, |store: Store| async move {
    let inspector = inspector();
    let v1 = store
        .register_pack("zh-CN", "1", kefu_engine::pack::DEFAULT_PACK_ZH_CN)
        .await
        .expect("register");
    let lines: Vec<&str> = FIXTURES
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(20)
        .collect();
    store
        .import_batch(v1.id, &items(&inspector, &lines))
        .await
        .expect("import");
    // A stricter pack: every conversation loses 50 points for lacking 魔法词.
    let strict_source = format!(
        "{}\n[[rules]]\nid = \"magic\"\ndimension = \"process\"\nkind = \"required\"\ndeduction = 50\nphrases = [\"魔法词\"]\n",
        kefu_engine::pack::DEFAULT_PACK_ZH_CN
    );
    let strict =
        Inspector::new(RulePack::from_toml(&strict_source).expect("strict pack")).expect("compile");
    let v2 = store
        .register_pack("zh-CN", "2", &strict_source)
        .await
        .expect("register v2");
    assert_ne!(v1.id, v2.id);
    let out = store.reinspect(&strict, v2.id, 7).await.expect("reinspect");
    assert_eq!((out.reinspected, out.unchanged, out.unreadable), (20, 0, 0));
    let again = store
        .reinspect(&strict, v2.id, 7)
        .await
        .expect("reinspect again");
    assert_eq!((again.reinspected, again.unchanged), (0, 20));
    let conv: Conversation<'_> = serde_json::from_str(lines[0]).expect("parse");
    let history = store.inspection_history(&conv.id).await.expect("history");
    assert_eq!(history.len(), 2);
    assert!(history[0].is_current && !history[1].is_current);
    assert_eq!(history[0].pack_version_id, v2.id);
    assert_eq!(history[1].pack_version_id, v1.id);
    assert!(history[0].score <= history[1].score - 50.0 || history[0].score == 0.0);
    let (rows, total) = store
        .list_inspections(&ConversationFilter {
            rule: Some("magic".into()),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(total, 20);
    assert!(rows.iter().all(|r| r.pack_version_id == v2.id));
    let versions = store.pack_versions().await.expect("versions");
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0].version, "2");
});

both_backends!(
    importer_stores_each_conversation_once_across_pushes,
    |store: Store| async move {
        let inspector = inspector();
        let pack = store
            .register_pack("zh-CN", "t", kefu_engine::pack::DEFAULT_PACK_ZH_CN)
            .await
            .expect("register");
        // Three copies of the golden set under new ids: more than one slice.
        let golden: Vec<&str> = FIXTURES.lines().filter(|l| !l.trim().is_empty()).collect();
        let owned: Vec<String> = (0..3)
            .flat_map(|copy| {
                golden
                    .iter()
                    .map(move |l| l.replacen("\"id\":\"g-", &format!("\"id\":\"c{copy}-"), 1))
            })
            .collect();
        let lines: Vec<&str> = owned.iter().map(String::as_str).collect();
        let all = items(&inspector, &lines);
        assert_eq!(all.len(), 264);
        // Ten already stored before the import starts.
        store
            .import_batch(pack.id, &all[..10])
            .await
            .expect("earlier import");
        let mut importer = store.importer(pack.id);
        // Uneven pushes, a repeat inside one push and one across pushes.
        let mut first = all[..150].to_vec();
        first.push(all[20].clone());
        importer.push(first).await.expect("push 1");
        importer.push(all[140..141].to_vec()).await.expect("push 2");
        importer.push(all[150..].to_vec()).await.expect("push 3");
        importer.push(Vec::new()).await.expect("empty push");
        let out = importer.finish().await.expect("finish");
        // 264 distinct, 10 stored before: 254 new; skipped: the 10, the
        // in-push repeat, the cross-push repeat.
        assert_eq!((out.inserted, out.skipped), (254, 12));
        assert_eq!(store.conversation_count().await.expect("count"), 264);
        let (rows, total) = store
            .list_inspections(&ConversationFilter {
                limit: Some(1000),
                ..Default::default()
            })
            .await
            .expect("list");
        assert_eq!((total, rows.len()), (264, 264));
        let ids: std::collections::HashSet<&str> =
            rows.iter().map(|r| r.conversation_id.as_str()).collect();
        assert_eq!(ids.len(), 264, "one current result per conversation");
        // What was stored is what was pushed.
        let original: Conversation<'_> = serde_json::from_str(lines[200]).expect("parse");
        let stored = store
            .conversation(&original.id)
            .await
            .expect("get")
            .expect("present");
        assert_eq!(stored, original.into_owned());
    }
);

/// A server's store (`kefu serve`) leaves WAL checkpoints to
/// `Store::checkpoint`, which its background task calls: no commit copies
/// the WAL back, so an interactive write never pays for the WAL an import
/// beside it wrote. Other stores keep SQLite's own checkpoints.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_servers_store_leaves_checkpoints_to_a_task() {
    use sqlx::Row;
    let db = kefu_store::testing::TestDb::sqlite("server_checkpoints");
    let setting = |store: Store| async move {
        let row = sqlx::query("PRAGMA wal_autocheckpoint")
            .fetch_one(kefu_store::testing::pool(&store))
            .await
            .expect("pragma");
        row.try_get::<i64, _>(0).expect("pages")
    };
    let server = Store::open_for_server(&db.url).await.expect("open");
    assert_eq!(setting(server.clone()).await, 0);
    assert_eq!(
        setting(Store::connect(&db.url).await.expect("connect")).await,
        1000
    );
    assert_eq!(
        setting(Store::open_for_batch(&db.url).await.expect("batch")).await,
        16_384
    );
    // Written through the server's store: it stays in the WAL (the file
    // does not grow) until a checkpoint is asked for.
    let file = db.url.trim_start_matches("sqlite://").to_string();
    let file_len = || std::fs::metadata(&file).expect("database file").len();
    let inspector = inspector();
    let pack = server
        .register_pack("zh-CN", "t", kefu_engine::pack::DEFAULT_PACK_ZH_CN)
        .await
        .expect("register");
    let line = r#"{"id":"w1","channel":"chat","turns":[{"role":"agent","text":"您好"}]}"#;
    server
        .import_batch(pack.id, &items(&inspector, &[line]))
        .await
        .expect("import");
    let before = file_len();
    server.checkpoint().await.expect("checkpoint");
    assert!(
        file_len() > before,
        "the checkpoint copied the import into the file"
    );
    let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(kefu_store::testing::pool(&server))
        .await
        .expect("pragma");
    let (log, copied): (i64, i64) = (
        row.try_get(1).expect("log"),
        row.try_get(2).expect("copied"),
    );
    assert_eq!(log, copied, "everything in the WAL is in the file");
    assert!(log > 0, "the import went through the WAL");
}
