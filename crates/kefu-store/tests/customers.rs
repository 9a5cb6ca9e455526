//! Customers in the store against real databases: linking on import,
//! details, merges and their undo, grades and the follow-up queue.

use kefu_engine::{Conversation, Inspector, RulePack, Scratch};
use kefu_store::customers::{
    Cadence, ContactRow, CustomerFilter, CustomerKey, CustomerListKey, CustomerWrite, GradeRow,
    ImportantDate, Purchase,
};
use kefu_store::{both_backends, ImportItem, Store};

const DAY: i64 = 86_400_000;

fn conversation(id: &str, customer: &str, phone: &str, agent: &str, at: &str) -> String {
    serde_json::json!({
        "id": id, "channel": "phone", "agent_id": agent, "agent_name": format!("坐席{agent}"),
        "customer_id": customer, "customer_name": "张伟", "started_at": at,
        "meta": {"caller_number": phone},
        "turns": [{"role": "agent", "text": "您好，请问有什么可以帮您？"},
                  {"role": "customer", "text": "我想查一下话费。"}]
    })
    .to_string()
}

async fn import(store: &Store, lines: &[String]) -> u64 {
    let inspector = Inspector::new(RulePack::default_zh_cn().expect("pack")).expect("compile");
    let pack = store
        .register_pack("zh-CN", "t", kefu_engine::pack::DEFAULT_PACK_ZH_CN)
        .await
        .expect("register");
    let mut scratch = Scratch::default();
    let items: Vec<ImportItem> = lines
        .iter()
        .map(|l| {
            let conv: Conversation<'_> = serde_json::from_str(l).expect("parses");
            let ins = inspector.inspect(&conv, &mut scratch);
            ImportItem::new(&conv, Some(l), ins)
        })
        .collect();
    store
        .import_batch(pack.id, &items)
        .await
        .expect("import")
        .inserted
}

both_backends!(linking_on_import_is_idempotent, |store: Store| async move {
    let lines = vec![
        conversation(
            "c1",
            "u-1",
            "+86 138-0013-8000",
            "a-07",
            "2026-03-01T10:00:00+08:00",
        ),
        // Another native id, same phone: the same customer.
        conversation(
            "c2",
            "u-1b",
            "13800138000",
            "a-11",
            "2026-03-05T10:00:00+08:00",
        ),
        conversation(
            "c3",
            "u-2",
            "13900139000",
            "a-07",
            "2026-03-02T10:00:00+08:00",
        ),
    ];
    assert_eq!(import(&store, &lines).await, 3);
    assert_eq!(
        import(&store, &lines).await,
        0,
        "nothing new the second time"
    );
    let one = store
        .customer_by_key("phone", "138 0013 8000")
        .await
        .expect("lookup")
        .expect("linked");
    assert_eq!(
        store
            .customer_by_key("native", "u-1b")
            .await
            .expect("lookup"),
        Some(one.clone())
    );
    let contacts = store.customer_contacts(&one, 100).await.expect("contacts");
    assert_eq!(contacts.len(), 2, "one contact per conversation, once");
    assert_eq!(contacts[0].source_id, "c2");
    assert_eq!(contacts[0].agent_name.as_deref(), Some("坐席a-11"));
    let rec = store.customer(&one).await.expect("read").expect("present");
    assert_eq!(rec.row.name, "张伟");
    assert_eq!(rec.row.owner_id.as_deref(), Some("a-07"));
    let last = chrono::DateTime::parse_from_rfc3339("2026-03-05T10:00:00+08:00")
        .expect("time")
        .timestamp_millis();
    assert_eq!(rec.row.last_contact_at, Some(last));
    assert_eq!(
        rec.row.next_due_at,
        Some(last + 60 * DAY),
        "grade C: 60 days"
    );
    // A later call resets the clock.
    import(
        &store,
        &[conversation(
            "c4",
            "u-1",
            "",
            "a-07",
            "2026-04-01T09:00:00+08:00",
        )],
    )
    .await;
    let rec = store.customer(&one).await.expect("read").expect("present");
    let later = chrono::DateTime::parse_from_rfc3339("2026-04-01T09:00:00+08:00")
        .expect("time")
        .timestamp_millis();
    assert_eq!(rec.row.last_contact_at, Some(later));
    // Agent a-11 served this customer, so sees it; nobody else does.
    assert!(store.customer_visible_to(&one, "a-11").await.expect("v"));
    assert!(!store.customer_visible_to(&one, "a-99").await.expect("v"));
    let mine = store
        .list_customers(&CustomerFilter {
            visible_to: Some("a-11".into()),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!((mine.rows.len(), mine.total), (1, 1));
    assert_eq!(
        store.conversation_customer("c3").await.expect("link"),
        store.customer_by_key("native", "u-2").await.expect("k")
    );
    let ids = store
        .customer_conversation_ids(&one, 10, 0)
        .await
        .expect("ids");
    assert_eq!(ids, vec!["c4", "c2", "c1"]);
});

fn write(id: &str, phone: &str) -> CustomerWrite {
    CustomerWrite {
        id: id.into(),
        name: format!("客户{id}"),
        owner_id: Some("a-07".into()),
        profile: r#"{"company":"星联"}"#.into(),
        do_not_disturb: false,
        keys: vec![CustomerKey {
            kind: "phone".into(),
            value: phone.into(),
        }],
        tags: vec!["VIP".into()],
        fields: vec![],
        purchases: vec![Purchase {
            item: "宽带".into(),
            bought_on: "2026-01-02".into(),
            amount_cents: 120_000,
        }],
        dates: vec![ImportantDate {
            label: "生日".into(),
            calendar: "lunar".into(),
            year: Some(1980),
            month: 6,
            day: 30,
            leap: true,
            remind_days: 3,
        }],
    }
}

both_backends!(
    merge_keeps_every_contact_and_undoes,
    |store: Store| async move {
        let cadence = Cadence::default();
        let mut tx = store.write().await.expect("tx");
        tx.create_customer(&write("k", "13800000001"), 1000)
            .await
            .expect("k");
        tx.create_customer(&write("m", "13800000002"), 1000)
            .await
            .expect("m");
        tx.commit().await.expect("commit");
        let mut tx = store.write().await.expect("tx");
        let err = tx
            .create_customer(&write("x", "13800000001"), 1000)
            .await
            .expect_err("phone taken");
        assert!(matches!(err, kefu_store::StoreError::Conflict(_)), "{err}");
        drop(tx);
        let mut tx = store.write().await.expect("tx");
        for (i, who) in [("k", 1), ("m", 2), ("m", 3)].iter().enumerate() {
            tx.add_customer_contact(
                &ContactRow {
                    id: 0,
                    customer_id: who.0.into(),
                    at: 10_000 + i as i64,
                    kind: "outbound".into(),
                    source: "log".into(),
                    source_id: format!("log-{}", who.1),
                    agent_id: Some("a-07".into()),
                    agent_name: None,
                    outcome: Some("reached".into()),
                    note: None,
                },
                &cadence,
            )
            .await
            .expect("contact");
        }
        let merge = tx
            .merge_customers("k", "m", "sup", 20_000, &cadence)
            .await
            .expect("merge");
        tx.commit().await.expect("commit");
        assert_eq!(store.customer_contacts("k", 10).await.expect("c").len(), 3);
        assert_eq!(
            store
                .customer_by_key("phone", "13800000002")
                .await
                .expect("k"),
            Some("k".into())
        );
        let m = store.customer("m").await.expect("m").expect("m");
        assert_eq!(m.row.merged_into.as_deref(), Some("k"));
        let k = store.customer("k").await.expect("k").expect("k");
        assert_eq!(k.purchases.len(), 2);
        assert_eq!(k.dates.len(), 2);
        assert_eq!(k.row.last_contact_at, Some(10_002));
        let list = store
            .list_customers(&CustomerFilter::default())
            .await
            .expect("list");
        assert_eq!(list.rows.len(), 1, "merged customers leave the list");
        let mut tx = store.write().await.expect("tx");
        tx.undo_merge(merge, "sup", 30_000, &cadence)
            .await
            .expect("undo");
        assert!(tx.undo_merge(merge, "sup", 30_000, &cadence).await.is_err());
        tx.commit().await.expect("commit");
        assert_eq!(store.customer_contacts("k", 10).await.expect("c").len(), 1);
        assert_eq!(store.customer_contacts("m", 10).await.expect("c").len(), 2);
        let m = store.customer("m").await.expect("m").expect("m");
        assert!(m.row.merged_into.is_none());
        assert_eq!(m.purchases.len(), 1);
        assert_eq!(m.tags, vec!["VIP".to_string()]);
        assert_eq!(m.row.last_contact_at, Some(10_002));
        assert_eq!(store.customer_merges("k").await.expect("m").len(), 1);
    }
);

both_backends!(grades_cadence_and_queue, |store: Store| async move {
    let cadence = Cadence {
        a: 30,
        b: 60,
        c: 90,
    };
    let mut tx = store.write().await.expect("tx");
    tx.create_customer(&write("g", "13800000003"), 0)
        .await
        .expect("g");
    tx.set_customer_grade(
        "g",
        &GradeRow {
            at: 5,
            grade: "A".into(),
            source: "manual".into(),
            reason: "大客户".into(),
            actor_id: "sup".into(),
        },
        true,
        &cadence,
    )
    .await
    .expect("grade");
    tx.commit().await.expect("commit");
    let g = store.customer("g").await.expect("g").expect("g");
    assert_eq!((g.row.grade.as_str(), g.row.grade_manual), ("A", true));
    assert_eq!(
        g.row.next_due_at,
        Some(30 * DAY),
        "never contacted: from creation"
    );
    assert_eq!(store.grade_history("g").await.expect("h").len(), 1);
    assert!(store
        .customers_due("a-07", 29 * DAY, 10)
        .await
        .expect("due")
        .is_empty());
    assert_eq!(
        store
            .customers_due("a-07", 30 * DAY, 10)
            .await
            .expect("due")
            .len(),
        1
    );
    let figures = store.customer_figures("g", 0).await.expect("figures");
    assert_eq!(figures.value_cents, 120_000);
    assert_eq!(figures.complaints, 0);
    let dates = store.important_dates(Some("a-07")).await.expect("dates");
    assert_eq!(dates.len(), 1);
    assert!(dates[0].date.leap);
    // An update with a stale version is refused.
    let mut tx = store.write().await.expect("tx");
    let mut w = write("g", "13800000003");
    w.name = "新名".into();
    tx.update_customer(&w, 1, 9).await.expect("update");
    assert!(tx.update_customer(&w, 1, 9).await.is_err(), "stale version");
    tx.commit().await.expect("commit");
    let timeline = store.customer_timeline("g", 50).await.expect("timeline");
    assert!(timeline.is_empty());
});

// A slice far larger than one multi-row statement: every pair of
// conversations (another native id, the same phone) lands on one customer,
// the second of a pair found through the key the first one stored, and each
// customer's last contact is the later of the two, whatever their order.
both_backends!(
    linking_a_large_slice_pairs_every_phone,
    |store: Store| async move {
        let pairs = 350;
        let mut lines = Vec::new();
        for i in 0..pairs {
            let phone = format!("139{:08}", i);
            lines.push(conversation(
                &format!("p{i}-late"),
                &format!("u-{i}-a"),
                &phone,
                "a-07",
                "2026-05-02T10:00:00+08:00",
            ));
            lines.push(conversation(
                &format!("p{i}-early"),
                &format!("u-{i}-b"),
                &phone,
                "a-11",
                "2026-05-01T10:00:00+08:00",
            ));
        }
        assert_eq!(import(&store, &lines).await, 2 * pairs as u64);
        let total = store
            .list_customers(&CustomerFilter::default())
            .await
            .expect("list")
            .total;
        assert_eq!(total, pairs as i64, "one customer per phone");
        let late = chrono::DateTime::parse_from_rfc3339("2026-05-02T10:00:00+08:00")
            .expect("time")
            .timestamp_millis();
        for i in [0, 1, 299, 300, pairs - 1] {
            let id = store
                .customer_by_key("native", &format!("u-{i}-b"))
                .await
                .expect("lookup")
                .expect("linked");
            assert_eq!(
                store
                    .customer_by_key("phone", &format!("139{:08}", i))
                    .await
                    .expect("k"),
                Some(id.clone())
            );
            let rec = store.customer(&id).await.expect("read").expect("present");
            assert_eq!(rec.row.last_contact_at, Some(late), "customer {i}");
            assert_eq!(rec.row.next_due_at, Some(late + 60 * DAY));
            assert_eq!(
                rec.row.owner_id.as_deref(),
                Some("a-07"),
                "the first conversation's agent"
            );
            let contacts = store.customer_contacts(&id, 10).await.expect("contacts");
            assert_eq!(contacts.len(), 2);
        }
    }
);

/// Writes `n` bare customers straight into the table: grades A/B/C in
/// turn, names repeating every 7 (ties broken by id), every tenth merged.
async fn seed_customers(store: &Store, n: usize) {
    let mut tx = kefu_store::testing::pool(store)
        .begin()
        .await
        .expect("begin");
    for i in 0..n {
        sqlx::query(
            "INSERT INTO customers (id, name, owner_id, grade, grade_manual, profile, \
             do_not_disturb, last_contact_at, next_due_at, merged_into, created_at, updated_at, \
             version) VALUES ($1, $2, $3, $4, 0, '{}', 0, NULL, NULL, $5, 0, 0, 1)",
        )
        .bind(format!("s-{i:04}"))
        .bind(format!("客户{}", i % 7))
        .bind(format!("a-{}", i % 4))
        .bind(["A", "B", "C"][i % 3])
        .bind((i % 10 == 9).then(|| "s-0000".to_string()))
        .execute(&mut *tx)
        .await
        .expect("seed");
    }
    tx.commit().await.expect("commit");
}

both_backends!(
    customer_pages_follow_cursors_and_cap_the_count,
    |store: Store| async move {
        seed_customers(&store, 1_200).await;
        let active = 1_080;
        // The whole order at once, to compare pages with.
        let mut all = Vec::new();
        let mut after: Option<CustomerListKey> = None;
        let mut pages = 0;
        loop {
            let page = store
                .list_customers(&CustomerFilter {
                    limit: Some(250),
                    after: after.clone(),
                    // An offset is ignored once there is a cursor.
                    offset: Some(if after.is_some() { 999 } else { 0 }),
                    ..Default::default()
                })
                .await
                .expect("page");
            pages += 1;
            assert_eq!((page.total, page.total_estimated), (1_000, true), "capped");
            all.extend(
                page.rows
                    .iter()
                    .map(|r| (r.grade.clone(), r.name.clone(), r.id.clone())),
            );
            match page.next {
                Some(next) => {
                    let last = page.rows.last().expect("a page with a next has rows");
                    assert_eq!(next.id, last.id);
                    after = Some(next);
                }
                None => break,
            }
        }
        assert_eq!(pages, 5, "1,080 customers in pages of 250");
        let mut sorted = all.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(all, sorted, "in order, each once");
        assert_eq!(all.len(), active, "merged customers left out, none lost");
        // A filter with fewer matches than the cap is counted exactly, and
        // its last page has no next.
        let page = store
            .list_customers(&CustomerFilter {
                grade: Some("B".into()),
                q: Some("客户3".into()),
                limit: Some(100),
                ..Default::default()
            })
            .await
            .expect("filtered");
        let want = (0..1_200)
            .filter(|i| i % 3 == 1 && i % 7 == 3 && i % 10 != 9)
            .count() as i64;
        assert_eq!((page.total, page.total_estimated), (want, false));
        assert_eq!(page.rows.len() as i64, want);
        assert!(page.next.is_none());
        // A last page reached by offset is short, yet counts every match.
        let last = store
            .list_customers(&CustomerFilter {
                offset: Some(1_070),
                ..Default::default()
            })
            .await
            .expect("last page");
        assert_eq!(last.rows.len(), 10);
        assert_eq!((last.total, last.total_estimated), (1_000, true));
        assert!(last.next.is_none());
        // The walk by id sees every active customer once.
        let mut walked = Vec::new();
        let mut after_id: Option<String> = None;
        loop {
            let rows = store
                .customers_by_id(after_id.as_deref(), 300)
                .await
                .expect("walk");
            let Some(last) = rows.last() else { break };
            after_id = Some(last.id.clone());
            walked.extend(rows.into_iter().map(|r| r.id));
        }
        let mut expected: Vec<String> = all.into_iter().map(|(_, _, id)| id).collect();
        expected.sort();
        assert_eq!(walked, expected);
    }
);

// A contact can be recorded for a conversation before the conversation is
// imported (`add_customer_contact` with source `conversation`). A customer
// the import then creates gets only the contacts the import did record:
// none leaves it as a new customer (due at once), a later one sets its
// last contact.
both_backends!(
    a_new_customer_counts_only_recorded_contacts,
    |store: Store| async move {
        let cadence = Cadence {
            a: 30,
            b: 60,
            c: 90,
        };
        let mut tx = store.write().await.expect("tx");
        tx.create_customer(&write("x", "13800000009"), 0)
            .await
            .expect("x");
        for (conversation, at) in [("r1", 5_000), ("r2", 9_000_000_000_000)] {
            let contact = ContactRow {
                id: 0,
                customer_id: "x".into(),
                at,
                kind: "phone".into(),
                source: "conversation".into(),
                source_id: conversation.into(),
                agent_id: None,
                agent_name: None,
                outcome: None,
                note: None,
            };
            assert!(tx
                .add_customer_contact(&contact, &cadence)
                .await
                .expect("contact"));
        }
        tx.commit().await.expect("commit");
        let at = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .expect("time")
                .timestamp_millis()
        };
        let lines = vec![
            // Its only contact is already recorded (for customer x).
            conversation("r1", "u-only", "", "a-07", "2026-06-01T10:00:00+08:00"),
            // One recorded contact, one already there (with a later time).
            conversation("r2", "u-some", "", "a-07", "2026-06-03T10:00:00+08:00"),
            conversation("r3", "u-some", "", "a-07", "2026-06-02T10:00:00+08:00"),
            // Every contact recorded: the shortcut.
            conversation("r4", "u-all", "", "a-07", "2026-06-04T10:00:00+08:00"),
        ];
        assert_eq!(import(&store, &lines).await, 4);
        let customer = |key: &'static str| {
            let store = store.clone();
            async move {
                let id = store
                    .customer_by_key("native", key)
                    .await
                    .expect("lookup")
                    .expect("created");
                store
                    .customer(&id)
                    .await
                    .expect("read")
                    .expect("present")
                    .row
            }
        };
        let only = customer("u-only").await;
        assert_eq!(only.last_contact_at, None);
        assert_eq!(only.next_due_at, Some(only.created_at), "due at once");
        let some = customer("u-some").await;
        let r3 = at("2026-06-02T10:00:00+08:00");
        assert_eq!(some.last_contact_at, Some(r3));
        assert_eq!(some.next_due_at, Some(r3 + 60 * DAY), "grade C: 60 days");
        let all = customer("u-all").await;
        let r4 = at("2026-06-04T10:00:00+08:00");
        assert_eq!(all.last_contact_at, Some(r4));
        assert_eq!(all.next_due_at, Some(r4 + 60 * DAY));
    }
);
