//! `kefu handover escalate` on a real database (SQLite; PostgreSQL too when
//! `KEFU_TEST_PG_URL` is set): an urgent item left unacknowledged long
//! past its handover's submission escalates once, however often the
//! command runs.

use std::process::{Command, Output};

use kefu_service::auth::{Principal, Role};
use kefu_service::handover::{HandoverService, ItemInput, ItemKind, NewHandover, Severity, Shift};
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
    let svc = HandoverService::new(store.clone());
    let who = |id: &str, role| Principal {
        user_id: id.into(),
        role,
        team: Some("一组".into()),
    };
    let shift = |name: &str, start: &str, end: &str| Shift {
        name: name.into(),
        start: start.into(),
        end: end.into(),
    };
    svc.put_shifts(
        &who("boss", Role::Supervisor),
        "一组",
        &[
            shift("白班", "08:00", "20:00"),
            shift("夜班", "20:00", "08:00"),
        ],
        T0,
    )
    .await
    .expect("shifts");
    let urgent = ItemInput {
        kind: ItemKind::Free,
        object_id: None,
        parent_id: None,
        title: "机房空调报警".into(),
        severity: Severity::Urgent,
        action: "联系物业".into(),
        owner: None,
        due_at: None,
        contingency: "若半小时无人处理，则通知主管".into(),
    };
    let v = svc
        .create(
            &who("a-1", Role::Agent),
            NewHandover {
                shift: "白班".into(),
                items: Some(vec![urgent]),
                submit: true,
                ..NewHandover::default()
            },
            T0,
        )
        .await
        .expect("handover");
    store.close().await;
    let out = kefu(&["handover", "escalate", "--database", &db.url]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!("escalated {} item #", v.handover.id)),
        "{stdout}"
    );
    assert!(stdout.ends_with("1 escalated\n"), "{stdout}");
    let out = kefu(&["handover", "escalate", "--database", &db.url]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "0 escalated\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handover_escalate_on_both_backends() {
    run(TestDb::sqlite("cli_handover")).await;
    if let Some(db) = TestDb::postgres("cli_handover").await {
        run(db).await;
    }
}
