//! Customer workflows on SQLite and PostgreSQL: visibility and masking by
//! role, grading with overrides, the cadence reset by an imported call and
//! by a logged outcome, the follow-up queue, lunar care reminders, audited
//! merges, and complaint activity as contacts.

use chrono::{TimeZone, Utc};
use kefu_engine::{Conversation, Inspector, RulePack, Scratch};
use kefu_service::auth::{Principal, Role};
use kefu_service::complaint::ComplaintService;
use kefu_service::complaint::{Actor, ActorRole, Customer, NewComplaint};
use kefu_service::customer::{ContactInput, CustomerInput, CustomerService};
use kefu_service::Error;
use kefu_store::customers::{CustomerFilter, ImportantDate};
use kefu_store::{both_backends, ImportItem, Store};

const DAY: i64 = 86_400_000;

fn who(id: &str, role: Role) -> Principal {
    Principal {
        user_id: id.into(),
        role,
        team: None,
    }
}

fn ms(y: i32, m: u32, d: u32, h: u32) -> i64 {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
        .single()
        .expect("time")
        .timestamp_millis()
}

async fn import_call(store: &Store, id: &str, customer: &str, agent: &str, at: &str) {
    let line = serde_json::json!({
        "id": id, "channel": "phone", "agent_id": agent, "agent_name": "王静",
        "customer_id": customer, "customer_name": "李娜", "started_at": at,
        "meta": {"满意度": 4},
        "turns": [{"role": "agent", "text": "您好，请问有什么可以帮您？"},
                  {"role": "customer", "text": "网络又断了。"}]
    })
    .to_string();
    let inspector = Inspector::new(RulePack::default_zh_cn().expect("pack")).expect("compile");
    let pack = store
        .register_pack("zh-CN", "t", kefu_engine::pack::DEFAULT_PACK_ZH_CN)
        .await
        .expect("register");
    let conv: Conversation<'_> = serde_json::from_str(&line).expect("parse");
    let ins = inspector.inspect(&conv, &mut Scratch::default());
    store
        .import_batch(pack.id, &[ImportItem::new(&conv, Some(&line), ins)])
        .await
        .expect("import");
}

both_backends!(
    roles_masking_grades_cadence_care,
    |store: Store| async move {
        let svc = CustomerService::new(store.clone());
        let sup = who("sup", Role::Supervisor);
        let owner = who("a-07", Role::Agent);
        let other = who("a-11", Role::Agent);
        let inspector = who("qa", Role::Inspector);
        let now = ms(2025, 7, 30, 2);
        let input = CustomerInput {
            id: "c-1".into(),
            name: "李娜".into(),
            phones: vec!["13800138000".into()],
            platform_ids: vec![kefu_service::customer::profile::PlatformId {
                kind: "native".into(),
                value: "u-77".into(),
            }],
            dates: vec![ImportantDate {
                label: "生日".into(),
                calendar: "lunar".into(),
                year: Some(1985),
                month: 6,
                day: 10,
                leap: true,
                remind_days: 3,
            }],
            ..Default::default()
        };
        let created = svc.create(&owner, &input, now).await.expect("create");
        assert_eq!(created.owner_id.as_deref(), Some("a-07"));
        assert_eq!(created.grade, "C");
        assert_eq!(
            created.phones,
            vec!["13800138000"],
            "the owner sees the phone"
        );
        // Another agent: as if it did not exist; the inspector: masked.
        let err = svc.get(&other, "c-1", now).await.expect_err("hidden");
        assert!(matches!(err, Error::NotFound(_)), "{err:?}");
        let seen = svc.get(&inspector, "c-1", now).await.expect("inspector");
        assert_eq!(seen.phones, vec!["138****8000"]);
        assert_eq!(seen.name, "李*");
        assert!(seen.masked);
        assert!(svc.update(&inspector, "c-1", &input, now).await.is_err());
        let list = svc
            .list(&other, &CustomerFilter::default(), now)
            .await
            .expect("list");
        assert_eq!((list.items.len(), list.total), (0, 0));
        // A call a-11 handled links by the native id: now a-11 sees the
        // customer (masked: not the owner) and the clock resets.
        import_call(
            &store,
            "call-1",
            "u-77",
            "a-11",
            "2025-07-29T09:00:00+08:00",
        )
        .await;
        let by_other = svc.get(&other, "c-1", now).await.expect("served");
        assert_eq!(by_other.phones, vec!["138****8000"]);
        let call_at = ms(2025, 7, 29, 1);
        assert_eq!(by_other.last_contact_at, Some(call_at));
        assert_eq!(by_other.next_due_at, Some(call_at + 60 * DAY));
        let timeline = svc.timeline(&other, "c-1", 50).await.expect("timeline");
        assert_eq!(timeline[0].id, "call-1");
        assert_eq!(timeline[0].agent_name.as_deref(), Some("王静"));
        let stats = svc.stats(&sup, "c-1", now).await.expect("stats");
        assert_eq!(stats.figures.contacts, 1);
        assert_eq!(stats.figures.satisfaction, Some(4.0));
        // Grading: agents cannot override; a supervisor can, with a reason.
        assert!(svc
            .override_grade(&owner, "c-1", Some("A"), "大客户", now)
            .await
            .is_err());
        assert!(svc
            .override_grade(&sup, "c-1", Some("A"), " ", now)
            .await
            .is_err());
        let a = svc
            .override_grade(&sup, "c-1", Some("A"), "集团客户", now)
            .await
            .expect("override");
        assert_eq!((a.grade.as_str(), a.grade_manual), ("A", true));
        assert_eq!(a.next_due_at, Some(call_at + 7 * DAY), "A: weekly");
        // Rules leave an override alone.
        svc.regrade_all(&sup, now).await.expect("regrade");
        assert_eq!(svc.get(&sup, "c-1", now).await.expect("get").grade, "A");
        let history = svc.grade_history(&sup, "c-1").await.expect("history");
        assert_eq!(history.last().map(|h| h.reason.as_str()), Some("集团客户"));
        assert_eq!(
            store
                .audit_trail("customer", "c-1")
                .await
                .expect("audit")
                .len(),
            1
        );
        // Follow-ups: due on 2025-08-05 (local), overdue after.
        let due_day = call_at + 7 * DAY + 3_600_000;
        let queue = svc
            .follow_ups(&owner, "a-07", due_day)
            .await
            .expect("queue");
        assert_eq!(queue.overdue.len(), 1);
        assert!(svc.follow_ups(&owner, "a-11", due_day).await.is_err());
        let before = svc
            .follow_ups(&owner, "a-07", call_at + 6 * DAY)
            .await
            .expect("queue");
        assert!(before.overdue.is_empty() && before.due_today.is_empty());
        // Logging an outcome resets the clock.
        svc.log_contact(
            &owner,
            "c-1",
            &ContactInput {
                kind: "outbound".into(),
                outcome: "reached".into(),
                note: Some("续约意向".into()),
                ..Default::default()
            },
            due_day,
        )
        .await
        .expect("log");
        let queue = svc
            .follow_ups(&owner, "a-07", due_day)
            .await
            .expect("queue");
        assert!(queue.overdue.is_empty());
        assert_eq!(
            svc.get(&owner, "c-1", due_day)
                .await
                .expect("get")
                .next_due_at,
            Some(due_day + 7 * DAY)
        );
        // Care: the lunar leap-month birthday (闰六月初十 = 2025-08-03) is
        // reminded from 2025-07-31; recording it marks it done, once.
        let on_31 = ms(2025, 7, 31, 2);
        let care = svc.care(&owner, "a-07", on_31, 0).await.expect("care");
        let birthday: Vec<_> = care.iter().filter(|c| c.reminder.kind == "date").collect();
        assert_eq!(birthday.len(), 1);
        assert_eq!(birthday[0].reminder.on.to_string(), "2025-08-03");
        assert!(!birthday[0].done);
        let key = birthday[0].reminder.key.clone();
        let care_contact = ContactInput {
            kind: "care".into(),
            outcome: "sent".into(),
            care_key: Some(key.clone()),
            ..Default::default()
        };
        assert!(svc
            .log_contact(&owner, "c-1", &care_contact, on_31)
            .await
            .expect("care"));
        assert!(!svc
            .log_contact(&owner, "c-1", &care_contact, on_31)
            .await
            .expect("care again"));
        let care = svc.care(&owner, "a-07", on_31, 0).await.expect("care");
        assert!(care.iter().any(|c| c.reminder.key == key && c.done));
    }
);

both_backends!(
    merges_are_audited_and_complaints_count,
    |store: Store| async move {
        let svc = CustomerService::new(store.clone());
        let sup = who("sup", Role::Supervisor);
        let now = ms(2026, 3, 1, 2);
        for (id, phone) in [("k", "13900000001"), ("m", "13900000002")] {
            svc.create(
                &sup,
                &CustomerInput {
                    id: id.into(),
                    name: format!("客户{id}"),
                    owner_id: Some("a-07".into()),
                    phones: vec![phone.into()],
                    ..Default::default()
                },
                now,
            )
            .await
            .expect("create");
        }
        import_call(
            &store,
            "m-call",
            "13900000002",
            "a-07",
            "2026-02-27T09:00:00+08:00",
        )
        .await;
        let agent = who("a-07", Role::Agent);
        assert!(svc.merge(&agent, "k", "m", now).await.is_err());
        let merge = svc.merge(&sup, "k", "m", now).await.expect("merge");
        let conversations = svc.conversations(&sup, "k", 10, 0).await.expect("convs");
        assert_eq!(conversations, vec!["m-call"], "merge keeps every contact");
        svc.undo_merge(&sup, merge, now).await.expect("undo");
        assert_eq!(
            svc.conversations(&sup, "m", 10, 0).await.expect("convs"),
            vec!["m-call"]
        );
        let trail = store.audit_trail("customer", "k").await.expect("audit");
        let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, vec!["merge", "merge_undone"]);
        // A complaint naming the customer counts, and its activity is a contact.
        let complaints = ComplaintService::new(store.clone());
        let mut c = Customer::named("客户k");
        c.id = Some("k".into());
        let at = Utc
            .with_ymd_and_hms(2026, 3, 2, 2, 0, 0)
            .single()
            .expect("t");
        complaints
            .create(
                NewComplaint::new("", c, "phone", "billing", "多扣费"),
                &Actor::new("sup", ActorRole::Supervisor),
                at,
            )
            .await
            .expect("complaint");
        assert_eq!(svc.sync_complaint_contacts(now).await.expect("sync"), 1);
        assert_eq!(svc.sync_complaint_contacts(now).await.expect("sync"), 0);
        let stats = svc.stats(&sup, "k", now).await.expect("stats");
        assert_eq!(
            (stats.figures.complaints, stats.figures.open_complaints),
            (1, 1)
        );
        let k = svc.get(&sup, "k", now).await.expect("k");
        assert_eq!(k.last_contact_at, Some(at.timestamp_millis()));
        let timeline = svc.timeline(&sup, "k", 10).await.expect("timeline");
        assert!(timeline.iter().any(|t| t.kind == "complaint"));
    }
);
