//! Two kefu nodes on one database: each has its own connection pool and its
//! own SLA scanner running every few milliseconds; every breached complaint
//! must still be escalated exactly once. Runs on PostgreSQL when
//! `KEFU_TEST_PG_URL` is set, and always on an SQLite file.

use std::time::Duration;

use chrono::Utc;
use kefu_engine::{Inspector, RulePack};
use kefu_server::AppState;
use kefu_service::complaint::ComplaintService;
use kefu_service::complaint::{Actor, ActorRole, Customer, NewComplaint};
use kefu_store::testing::TestDb;
use kefu_store::Store;
use sqlx::Row;

async fn node(url: &str) -> AppState {
    let store = Store::open(url).await.expect("open");
    let source = kefu_engine::pack::DEFAULT_PACK_ZH_CN;
    let version = store
        .register_pack("zh-CN", "t", source)
        .await
        .expect("pack");
    AppState::new(
        store,
        Inspector::new(RulePack::from_toml(source).expect("pack")).expect("compile"),
        version.id,
    )
}

async fn two_nodes_escalate_once(url: &str) {
    let a = node(url).await;
    let b = node(url).await;
    let supervisor = Actor {
        id: "boss".into(),
        role: ActorRole::Supervisor,
        groups: Vec::new(),
    };
    // Complaints opened 13 to 60 hours ago: every reply clock (12 h) is
    // breached, some resolution clocks (48 h) too.
    let service = ComplaintService::new(a.store.clone());
    let mut ids = Vec::new();
    for i in 0..12 {
        let opened = Utc::now() - chrono::TimeDelta::hours(13 + 4 * i);
        let input = NewComplaint::new(
            "",
            Customer {
                id: None,
                name: format!("客户{i}"),
                phone: None,
                id_number: None,
            },
            "phone",
            "计费",
            "多扣费",
        );
        ids.push(
            service
                .create(input, &supervisor, opened)
                .await
                .expect("create")
                .id,
        );
    }
    let scanners = [
        kefu_server::spawn_sla_scanner(&a, Duration::from_millis(5), "node-a".into()),
        kefu_server::spawn_sla_scanner(&b, Duration::from_millis(5), "node-b".into()),
    ];
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for s in &scanners {
        s.abort();
    }
    let rows = sqlx::query(
        "SELECT complaint_id, kind, COUNT(*) AS n FROM escalations GROUP BY complaint_id, kind",
    )
    .fetch_all(kefu_store::testing::pool(&a.store))
    .await
    .expect("escalations");
    let mut reply_breaches = 0;
    for row in &rows {
        let n: i64 = row.try_get("n").expect("n");
        assert_eq!(n, 1, "an escalation happened twice");
        if row.try_get::<String, _>("kind").expect("kind") == "reply_breach" {
            reply_breaches += 1;
        }
    }
    assert_eq!(
        reply_breaches,
        ids.len(),
        "every breached reply clock is escalated"
    );
    let resolve: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM escalations WHERE kind = 'resolve_breach'")
            .fetch_one(kefu_store::testing::pool(&a.store))
            .await
            .expect("count")
            .try_get("n")
            .expect("n");
    // Opened 49 h ago or more: i = 9, 10, 11.
    assert_eq!(resolve, 3);
    // Both nodes did part of the work or one did all; either way, the
    // history shows one escalation event per escalation row.
    let events: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM complaint_history WHERE kind = 'escalated'")
            .fetch_one(kefu_store::testing::pool(&a.store))
            .await
            .expect("count")
            .try_get("n")
            .expect("n");
    assert_eq!(events, (ids.len() + 3) as i64);
    a.store.close().await;
    b.store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_on_sqlite() {
    let db = TestDb::sqlite("nodes");
    two_nodes_escalate_once(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_on_postgres() {
    if let Some(db) = TestDb::postgres("nodes").await {
        two_nodes_escalate_once(&db.url).await;
    }
}
