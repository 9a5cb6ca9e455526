//! `kefu notify email` and `kefu notify deliver --once` on a real database
//! (SQLite; PostgreSQL too when `KEFU_TEST_PG_URL` is set): a notification
//! recorded by a service reaches the user's inbox by the cron-style run; a
//! bad SMTP URL is refused.

use std::process::{Command, Output};

use kefu_service::auth::{self, NewUser, Principal, Role};
use kefu_service::notify::{Event, Notification, NotifyService};
use kefu_store::testing::TestDb;

fn kefu(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kefu"))
        .args(args)
        .env("KEFU_LOG", "error")
        .env_remove("KEFU_SMTP_URL")
        .output()
        .expect("run kefu")
}

async fn run(db: TestDb) {
    let store = db.open().await;
    auth::add_user(
        &store,
        NewUser {
            id: "a-07".into(),
            display_name: "王静".into(),
            role: Role::Agent,
            team: None,
            password: None,
        },
    )
    .await
    .expect("user");
    let mut tx = store.write().await.expect("tx");
    Notification::new(Event::AppealDecided, "appeal", "7")
        .title("申诉 7 已采纳")
        .to("a-07")
        .record(&mut tx, kefu_store::now_ms())
        .await
        .expect("record");
    tx.commit().await.expect("commit");
    let out = kefu(&[
        "notify",
        "email",
        "a-07",
        "--email",
        "a07@example.com",
        "--database",
        &db.url,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = kefu(&["notify", "deliver", "--once", "--database", &db.url]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("expanded 1"), "{stdout}");
    let svc = NotifyService::new(store.clone());
    let a07 = Principal {
        user_id: "a-07".into(),
        role: Role::Agent,
        team: None,
    };
    assert_eq!(svc.unread_count(&a07).await.expect("count"), 1);
    assert_eq!(
        svc.email("a-07").await.expect("email").as_deref(),
        Some("a07@example.com")
    );
    let out = kefu(&[
        "notify",
        "deliver",
        "--once",
        "--smtp-url",
        "http://x",
        "--database",
        &db.url,
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("smtp://"));
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_commands_on_both_backends() {
    run(TestDb::sqlite("cli_notify")).await;
    if let Some(db) = TestDb::postgres("cli_notify").await {
        run(db).await;
    }
}
