//! Linking a complaint to a conversation the caller cannot read answers
//! exactly like a missing conversation (issue 17); a complaint without a
//! customer id links to the archive customer by phone, so it shows on the
//! customer's timeline and its activity resets the contact cadence
//! (issue 14), on SQLite and PostgreSQL.

use chrono::{TimeZone, Utc};
use kefu_engine::{Conversation, Inspector, RulePack, Scratch};
use kefu_service::complaint::ComplaintService;
use kefu_service::complaint::{Actor, ActorRole, Customer, NewComplaint};
use kefu_service::Error;
use kefu_store::Store;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_agents_conversation_answers_as_missing() {
    let db = kefu_store::testing::TestDb::sqlite("complaint_link");
    let store = Store::open(&db.url).await.expect("open sqlite");
    let line = include_str!("../../kefu-engine/tests/golden/conversations.jsonl")
        .lines()
        .next()
        .expect("fixture");
    let conv: Conversation<'_> = serde_json::from_str(line).expect("parse");
    assert_eq!(conv.agent_id.as_deref(), Some("a-03"));
    let inspector = Inspector::new(RulePack::default_zh_cn().expect("pack")).expect("compile");
    let result = inspector.inspect(&conv, &mut Scratch::default());
    let pack = store
        .register_pack("zh-CN", "t", kefu_engine::pack::DEFAULT_PACK_ZH_CN)
        .await
        .expect("register");
    store
        .import_batch(
            pack.id,
            &[kefu_store::ImportItem::new(&conv, Some(line), result)],
        )
        .await
        .expect("import");
    let svc = ComplaintService::new(store.clone());
    let now = Utc
        .with_ymd_and_hms(2026, 3, 19, 1, 0, 0)
        .single()
        .expect("time");
    let new = |conv_id: &str| {
        let mut n = NewComplaint::new("", Customer::named("张伟"), "phone", "billing", "多扣费");
        n.conversation_id = Some(conv_id.to_string());
        n
    };
    let stranger = Actor::new("a-99", ActorRole::Agent);
    let hidden = svc
        .create(new("g-001"), &stranger, now)
        .await
        .expect_err("not the stranger's conversation");
    let missing = svc
        .create(new("g-00X"), &stranger, now)
        .await
        .expect_err("no such conversation");
    assert!(matches!(hidden, Error::Invalid(_)), "{hidden:?}");
    assert_eq!(
        hidden.to_string(),
        missing.to_string().replace("g-00X", "g-001"),
        "same answer as for a missing conversation"
    );
    // The conversation's own agent may link it.
    let own = svc
        .create(new("g-001"), &Actor::new("a-03", ActorRole::Agent), now)
        .await
        .expect("own conversation");
    assert_eq!(own.conversation_id.as_deref(), Some("g-001"));
    store.close().await;
}

async fn complaint_by_phone(db: kefu_store::testing::TestDb) {
    use kefu_service::auth::{Principal, Role};
    use kefu_service::customer::{CustomerInput, CustomerService};
    let store = db.open().await;
    let boss = Principal {
        user_id: "boss".into(),
        role: Role::Supervisor,
        team: None,
    };
    let customers = CustomerService::new(store.clone());
    let opened = Utc
        .with_ymd_and_hms(2026, 3, 19, 1, 0, 0)
        .single()
        .expect("time");
    let created_at = opened.timestamp_millis() - 86_400_000;
    let c = customers
        .create(
            &boss,
            &CustomerInput {
                name: "张伟".into(),
                phones: vec!["13800138000".into()],
                ..Default::default()
            },
            created_at,
        )
        .await
        .expect("customer");
    let svc = ComplaintService::new(store.clone());
    let actor = Actor::new("boss", ActorRole::Supervisor);
    let mut by_phone = Customer::named("张先生");
    by_phone.phone = Some("+86 138-0013-8000".into());
    let linked = svc
        .create(
            NewComplaint::new("", by_phone, "phone", "billing", "多扣费"),
            &actor,
            opened,
        )
        .await
        .expect("complaint");
    assert_eq!(linked.customer.id.as_deref(), Some(c.id.as_str()));
    let mut stranger = Customer::named("李四");
    stranger.phone = Some("13900000000".into());
    let unlinked = svc
        .create(
            NewComplaint::new("", stranger, "phone", "billing", "多扣费"),
            &actor,
            opened,
        )
        .await
        .expect("complaint");
    assert_eq!(unlinked.customer.id, None, "no customer has that phone");
    let timeline = customers
        .timeline(&boss, &c.id, 50)
        .await
        .expect("timeline");
    assert!(
        timeline
            .iter()
            .any(|t| t.kind == "complaint" && t.id == linked.id),
        "{timeline:?}"
    );
    assert!(!timeline.iter().any(|t| t.id == unlinked.id));
    // The complaint's opening is a contact: the clock restarts from it.
    let now = opened.timestamp_millis() + 1000;
    assert_eq!(
        customers.sync_complaint_contacts(now).await.expect("sync"),
        1
    );
    let v = customers.get(&boss, &c.id, now).await.expect("get");
    assert_eq!(v.last_contact_at, Some(opened.timestamp_millis()));
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complaint_links_to_the_customer_by_phone() {
    complaint_by_phone(kefu_store::testing::TestDb::sqlite("complaint_phone")).await;
    if let Some(db) = kefu_store::testing::TestDb::postgres("complaint_phone").await {
        complaint_by_phone(db).await;
    }
}
