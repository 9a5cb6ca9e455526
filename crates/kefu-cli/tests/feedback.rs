//! `kefu feedback themes --period` and `kefu feedback age` on a real
//! database (SQLite; PostgreSQL too when `KEFU_TEST_PG_URL` is set).

use std::process::{Command, Output};

use kefu_service::auth::{Principal, Role};
use kefu_service::feedback::{FeedbackService, NewFeedback};
use kefu_store::testing::TestDb;

/// 2026-11-05 10:00 China time.
const T0: i64 = 1_793_844_000_000;

fn kefu(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kefu"))
        .args(args)
        .env("KEFU_LOG", "error")
        .output()
        .expect("run kefu")
}

async fn run(db: TestDb) {
    let store = db.open().await;
    let svc = FeedbackService::new(store.clone());
    let boss = Principal {
        user_id: "boss".into(),
        role: Role::Supervisor,
        team: None,
    };
    for text in [
        "快递太慢了，物流信息不更新。",
        "物流太慢，快递员态度差。",
        "发票开错了。",
    ] {
        let input = NewFeedback {
            category: "其他".into(),
            content: text.into(),
            ..NewFeedback::default()
        };
        svc.create(&boss, input, T0).await.expect("create");
    }
    store.close().await;
    let out = kefu(&[
        "feedback",
        "themes",
        "--period",
        "2026-11",
        "--database",
        &db.url,
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("主题分析 2026-11（对比 2026-10）：3 条文本"),
        "{stdout}"
    );
    assert!(stdout.contains(" 1. ") && stdout.contains("↑"), "{stdout}");
    assert!(
        stdout.contains("「快递太慢了，物流信息不更新。」 — FB-20261105-000001"),
        "{stdout}"
    );
    let out = kefu(&[
        "feedback",
        "themes",
        "--period",
        "2026-11",
        "--json",
        "--database",
        &db.url,
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["texts"], 3);
    let out = kefu(&[
        "feedback",
        "themes",
        "--period",
        "November",
        "--database",
        &db.url,
    ]);
    assert!(!out.status.success());
    // All three have waited in 新建 far longer than 24 h: escalated once.
    let out = kefu(&["feedback", "age", "--database", &db.url]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("escalated FB-20261105-000001 (新建, new)"),
        "{stdout}"
    );
    assert!(stdout.ends_with("3 escalated\n"), "{stdout}");
    let out = kefu(&["feedback", "age", "--database", &db.url]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "0 escalated\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_commands_on_both_backends() {
    run(TestDb::sqlite("cli_feedback")).await;
    if let Some(db) = TestDb::postgres("cli_feedback").await {
        run(db).await;
    }
}
