//! Timing of the customer profile and the follow-up queue on a large
//! SQLite database (ignored by default; run with
//! `KEFU_BENCH_CUSTOMERS=100000 KEFU_BENCH_CONTACTS=1000000 cargo test
//! --release -p kefu-service --test customers_bench -- --ignored --nocapture`).

use std::time::Instant;

use kefu_service::auth::{Principal, Role};
use kefu_service::customer::CustomerService;
use kefu_store::testing::{pool, TestDb};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run by hand"]
async fn profile_and_queue_latency() {
    let customers = env("KEFU_BENCH_CUSTOMERS", 100_000);
    let contacts = env("KEFU_BENCH_CONTACTS", 1_000_000);
    let agents = 200;
    let db = TestDb::sqlite("customers_bench");
    let store = db.open().await;
    let started = Instant::now();
    let sql = format!(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {customers}) \
         INSERT INTO customers (id, name, owner_id, grade, grade_manual, profile, do_not_disturb, \
         last_contact_at, next_due_at, merged_into, created_at, updated_at, version) \
         SELECT 'b-' || i, '客户' || i, 'a-' || (i % {agents}), CHAR(65 + i % 3), 0, '{{}}', 0, \
         1700000000000 + i * 1000, 1700000000000 + (i % 1000) * 86400000, NULL, 0, 0, 1 FROM n"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(pool(&store))
        .await
        .expect("customers");
    let sql = format!(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {contacts}) \
         INSERT INTO customer_contacts (customer_id, at, kind, source, source_id, agent_id, agent_name) \
         SELECT 'b-' || (i % {customers}), 1700000000000 + i * 60000, 'phone', 'conversation', \
         'conv-' || i, 'a-' || (i % {agents}), '坐席' FROM n"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(pool(&store))
        .await
        .expect("contacts");
    eprintln!(
        "seeded {customers} customers, {contacts} contacts in {:.1} s",
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
        svc.stats(&boss, &id, now).await.expect("stats");
        svc.timeline(&boss, &id, 200).await.expect("timeline");
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
    eprintln!("profile (get + stats + timeline): median {pm:.1} ms, p95 {pp:.1} ms");
    eprintln!(
        "follow-up queue ({} customers per agent): median {qm:.1} ms, p95 {qp:.1} ms",
        customers / agents
    );
    store.close().await;
}
