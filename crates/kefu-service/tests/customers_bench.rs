//! Timing of the customer profile and the follow-up queue on a large
//! SQLite database (ignored by default). The issue's scale, 1 M customers
//! and 10 M linked conversations (every one inspected, a third rated, a
//! tenth with a finding):
//!
//! ```text
//! KEFU_BENCH_CUSTOMERS=1000000 KEFU_BENCH_CONVERSATIONS=10000000 cargo test --release \
//!     -p kefu-service --test customers_bench -- --ignored --nocapture
//! ```
//!
//! The defaults (100 000 and 1 000 000) run in a few minutes. Rows are
//! written with multi-row `INSERT … SELECT` over a recursive counter, the
//! schema's indexes in place; the database is removed afterwards unless
//! `KEFU_BENCH_KEEP=1`.

use std::time::Instant;

use kefu_service::auth::{Principal, Role};
use kefu_service::customer::CustomerService;
use kefu_store::testing::{pool, TestDb};
use kefu_store::Store;

fn env(name: &str, default: i64) -> i64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn p95(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = ((v.len() as f64) * 0.95).ceil() as usize - 1;
    (v[v.len() / 2], v[at.min(v.len() - 1)])
}

/// Runs one seeding statement over `n` rows (`i` from 0) and reports its
/// time.
async fn seed(store: &Store, what: &str, n: i64, insert_select: &str) {
    let started = Instant::now();
    let sql = format!(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {n}) \
         {insert_select}"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(pool(store))
        .await
        .expect(what);
    eprintln!(
        "seeded {n} {what} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run by hand"]
async fn profile_and_queue_latency() {
    let customers = env("KEFU_BENCH_CUSTOMERS", 100_000);
    let conversations = env(
        "KEFU_BENCH_CONVERSATIONS",
        env("KEFU_BENCH_CONTACTS", 1_000_000),
    );
    let agents = 200;
    let db = TestDb::sqlite("customers_bench");
    let store = db.open().await;
    let pack = store
        .register_pack("zh-CN", "bench", kefu_engine::pack::DEFAULT_PACK_ZH_CN)
        .await
        .expect("pack");
    let started = Instant::now();
    seed(
        &store,
        "customers",
        customers,
        &format!(
            "INSERT INTO customers (id, name, owner_id, grade, grade_manual, profile, do_not_disturb, \
             last_contact_at, next_due_at, merged_into, created_at, updated_at, version) \
             SELECT 'b-' || i, '客户' || i, 'a-' || (i % {agents}), CHAR(65 + i % 3), 0, '{{}}', 0, \
             1700000000000 + i * 1000, 1700000000000 + (i % 1000) * 86400000, NULL, 0, 0, 1 FROM n"
        ),
    )
    .await;
    // Conversation i is customer (i % customers)'s, handled by agent
    // (i % agents), a minute after conversation i - 1.
    seed(
        &store,
        "conversations",
        conversations,
        &format!(
            "INSERT INTO conversations (id, channel, agent_id, agent_name, customer_id, customer_name, \
             started_at, utc_offset_s, wait_ms, ended_by, turn_count, record, imported_at) \
             SELECT 'conv-' || i, 'phone', 'a-' || (i % {agents}), '坐席', 'b-' || (i % {customers}), NULL, \
             1700000000000 + i * 60000, 28800, NULL, 'customer', 2, X'', 0 FROM n"
        ),
    )
    .await;
    seed(
        &store,
        "inspections",
        conversations,
        &format!(
            "INSERT INTO inspections (id, conversation_id, pack_version_id, is_current, agent_id, started_at, \
             score, passed, veto, grade, finding_count, result, created_at, local_day, answered, satisfaction, channel) \
             SELECT i + 1, 'conv-' || i, {}, 1, 'a-' || (i % {agents}), 1700000000000 + i * 60000, \
             CASE WHEN i % 10 = 0 THEN 90 ELSE 100 END, 1, 0, NULL, CASE WHEN i % 10 = 0 THEN 1 ELSE 0 END, \
             X'', 0, (1700000000000 + i * 60000 + 28800000) / 86400000, 1, \
             CASE WHEN i % 3 = 0 THEN i % 11 ELSE NULL END, 'phone' FROM n",
            pack.id
        ),
    )
    .await;
    seed(
        &store,
        "findings",
        conversations / 10,
        "INSERT INTO findings (inspection_id, rule, dimension, turn, deduction) \
         SELECT i * 10 + 1, 'taboo-phrases', '服务规范', 1, 10 FROM n",
    )
    .await;
    seed(
        &store,
        "customer contacts (linked conversations)",
        conversations,
        &format!(
            "INSERT INTO customer_contacts (customer_id, at, kind, source, source_id, agent_id, agent_name) \
             SELECT 'b-' || (i % {customers}), 1700000000000 + i * 60000, 'phone', 'conversation', \
             'conv-' || i, 'a-' || (i % {agents}), '坐席' FROM n"
        ),
    )
    .await;
    sqlx::query("ANALYZE")
        .execute(pool(&store))
        .await
        .expect("analyze");
    eprintln!(
        "seeded {customers} customers and {conversations} linked conversations in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let svc = CustomerService::new(store.clone());
    let boss = Principal {
        user_id: "boss".into(),
        role: Role::Supervisor,
        team: None,
    };
    let now = 1_800_000_000_000;
    let mut profile = Vec::new();
    for k in 0..200 {
        let id = format!("b-{}", (k * 7919) % customers);
        let t = Instant::now();
        svc.get(&boss, &id, now).await.expect("get");
        let stats = svc.stats(&boss, &id, now).await.expect("stats");
        assert!(stats.figures.contacts > 0 && !stats.satisfaction_trend.is_empty());
        svc.timeline(&boss, &id, 200).await.expect("timeline");
        svc.grade_history(&boss, &id).await.expect("grades");
        profile.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let mut queue = Vec::new();
    for a in 0..50 {
        let agent = format!("a-{a}");
        let t = Instant::now();
        let q = svc.follow_ups(&boss, &agent, now).await.expect("queue");
        assert!(!q.overdue.is_empty());
        queue.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let (pm, pp) = p95(profile);
    let (qm, qp) = p95(queue);
    eprintln!(
        "profile (get + stats with trend and findings + timeline + grade history), 200 customers: \
         median {pm:.1} ms, p95 {pp:.1} ms"
    );
    eprintln!(
        "follow-up queue ({} customers per agent): median {qm:.1} ms, p95 {qp:.1} ms",
        customers / agents
    );
    store.close().await;
    if std::env::var("KEFU_BENCH_KEEP").is_ok_and(|v| v == "1") {
        eprintln!("kept {}", db.url);
        std::mem::forget(db);
    }
}
