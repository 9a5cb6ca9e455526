//! Linking a complaint to a conversation the caller cannot read answers
//! exactly like a missing conversation (issue 17).

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
