//! Shift handover (交接班) on SQLite and PostgreSQL: the next shift's
//! window and its pre-filled items (exactly the objects due inside it),
//! the state machine with restatement and dispute, complaint ownership
//! moving on acknowledgement, escalation of urgent items exactly once with
//! two scanners at once, the append-only history, and who may answer.

use chrono::{DateTime, Utc};
use kefu_engine::{Conversation, Inspector, RulePack, Scratch};
use kefu_service::auth::{Principal, Role};
use kefu_service::complaint::{
    Actor, ActorRole, Assignee, ComplaintService, Customer, NewComplaint,
};
use kefu_service::feedback::{Command as FeedbackCommand, FeedbackService, NewFeedback};
use kefu_service::handover::{
    handover_window, Answer, HandoverService, HandoverSettings, HandoverState, ItemInput, ItemKind,
    ItemState, ListView, NewHandover, Severity, Shift, ShiftTimes,
};
use kefu_service::Error;
use kefu_store::{both_backends, testing, ImportItem, Store};

const HOUR: i64 = 3_600_000;
const MINUTE: i64 = 60_000;
/// 2026-11-05 02:00 UTC (10:00 China time).
const T0: i64 = 1_793_844_000_000;
/// 15:30 China time: late in the 早班 (08:00–16:00).
const NOW: i64 = T0 + 5 * HOUR + 30 * MINUTE;
const TEAM: &str = "一组";

fn who(id: &str, role: Role, team: Option<&str>) -> Principal {
    Principal {
        user_id: id.into(),
        role,
        team: team.map(str::to_string),
    }
}

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).expect("time")
}

fn shift(name: &str, start: &str, end: &str) -> Shift {
    Shift {
        name: name.into(),
        start: start.into(),
        end: end.into(),
    }
}

async fn shifts(svc: &HandoverService) {
    let sup = who("sup", Role::Supervisor, Some(TEAM));
    svc.put_shifts(
        &sup,
        TEAM,
        &[
            shift("早班", "08:00", "16:00"),
            shift("中班", "16:00", "00:00"),
            shift("晚班", "00:00", "08:00"),
        ],
        T0,
    )
    .await
    .expect("shifts");
}

/// A complaint assigned to `assignee` with its deadlines set as given.
async fn complaint(
    store: &Store,
    assignee: Assignee,
    reply: Option<i64>,
    resolve: Option<i64>,
) -> String {
    let svc = ComplaintService::new(store.clone());
    let mut input = NewComplaint::new(
        "",
        Customer {
            id: Some("cust-9".into()),
            name: "张三丰".into(),
            phone: Some("13812345678".into()),
            id_number: None,
        },
        "phone",
        "billing",
        "上月多扣了 30 元话费",
    );
    input.assignee = Some(assignee);
    let c = svc
        .create(
            input,
            &Actor::new("sup", ActorRole::Supervisor),
            at(T0 - 2 * HOUR),
        )
        .await
        .expect("complaint");
    sqlx::query("UPDATE complaints SET reply_due_at = $1, resolve_due_at = $2 WHERE id = $3")
        .bind(reply)
        .bind(resolve)
        .bind(c.id.as_str())
        .execute(testing::pool(store))
        .await
        .expect("deadlines");
    c.id
}

async fn revisit(store: &Store, complaint_id: &str, due: i64, done: bool) {
    sqlx::query(
        "INSERT INTO revisit_tasks (complaint_id, created_at, due_at, assigned_role, result_score, \
         attitude_score, done_at) VALUES ($1, $2, $3, 'supervisor', 3, 3, $4)",
    )
    .bind(complaint_id)
    .bind(T0)
    .bind(due)
    .bind(done.then_some(T0))
    .execute(testing::pool(store))
    .await
    .expect("revisit");
}

async fn customer(store: &Store, id: &str, owner: &str, due: i64) {
    sqlx::query(
        "INSERT INTO customers (id, name, owner_id, grade, grade_manual, profile, do_not_disturb, \
         last_contact_at, next_due_at, merged_into, created_at, updated_at, version) \
         VALUES ($1, '李娜', $2, 'B', 0, '{}', 0, NULL, $3, NULL, $4, $4, 1)",
    )
    .bind(id)
    .bind(owner)
    .bind(due)
    .bind(T0)
    .execute(testing::pool(store))
    .await
    .expect("customer");
}

async fn feedback(store: &Store, owner: &str, due: i64) -> String {
    let svc = FeedbackService::new(store.clone());
    let sup = who("sup", Role::Supervisor, None);
    let f = svc
        .create(
            &sup,
            NewFeedback {
                category: "建议/服务建议".into(),
                content: "希望延长服务时间".into(),
                ..NewFeedback::default()
            },
            T0,
        )
        .await
        .expect("feedback");
    svc.execute(
        &sup,
        &f.id,
        &FeedbackCommand::Assign {
            department: "客服部".into(),
            owner_id: Some(owner.into()),
            due_at: Some(due),
        },
        None,
        T0,
    )
    .await
    .expect("assign");
    f.id
}

async fn inspection_id(store: &Store) -> i64 {
    let line = serde_json::json!({
        "id": "conv-1", "channel": "phone", "agent_id": "a-1", "agent_name": "王静",
        "customer_id": "C-1", "customer_name": "李娜", "started_at": "2026-11-04T09:00:00+08:00",
        "turns": [{"role": "agent", "text": "您好，请问有什么可以帮您？"},
                  {"role": "customer", "text": "快递太慢了。"}]
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
    use sqlx::Row;
    sqlx::query("SELECT id FROM inspections ORDER BY id LIMIT 1")
        .fetch_one(testing::pool(store))
        .await
        .expect("inspection")
        .try_get::<i64, _>("id")
        .expect("id")
}

async fn appeal(store: &Store, inspection: i64, key: &str, agent: &str, state: &str) -> i64 {
    use sqlx::Row;
    sqlx::query(
        "INSERT INTO appeals (inspection_id, conversation_id, agent_id, finding_key, rule, reason, \
         state, created_at, score_before) VALUES ($1, 'conv-1', $2, $3, '服务忌语', '理由', $4, $5, 80.0) \
         RETURNING id",
    )
    .bind(inspection)
    .bind(agent)
    .bind(key)
    .bind(state)
    .bind(T0)
    .fetch_one(testing::pool(store))
    .await
    .expect("appeal")
    .try_get::<i64, _>("id")
    .expect("id")
}

fn free(title: &str, severity: Severity) -> ItemInput {
    ItemInput {
        kind: ItemKind::Free,
        object_id: None,
        parent_id: None,
        title: title.into(),
        severity,
        action: "盯住".into(),
        owner: None,
        due_at: None,
        contingency: "若客户再来电，则转主管".into(),
    }
}

#[test]
fn windows_cross_midnight() {
    let early = ShiftTimes {
        start: 8 * 60,
        end: 16 * 60,
    };
    let middle = ShiftTimes {
        start: 16 * 60,
        end: 0,
    };
    let night = ShiftTimes {
        start: 0,
        end: 8 * 60,
    };
    // 15:30 in the 早班: the window is 16:00–24:00.
    assert_eq!(
        handover_window(early, middle, NOW),
        (T0 + 6 * HOUR, T0 + 14 * HOUR)
    );
    // 23:50 in the 中班: 24:00–08:00 the next day.
    let late = T0 + 13 * HOUR + 50 * MINUTE;
    assert_eq!(
        handover_window(middle, night, late),
        (T0 + 14 * HOUR, T0 + 22 * HOUR)
    );
    // Ten minutes after the 早班 ended, it is still that end.
    assert_eq!(
        handover_window(early, middle, T0 + 6 * HOUR + 10 * MINUTE),
        (T0 + 6 * HOUR, T0 + 14 * HOUR)
    );
}

both_backends!(prefill_matches_the_window, |store: Store| async move {
    let svc = HandoverService::new(store.clone());
    shifts(&svc).await;
    let from = T0 + 6 * HOUR;
    let to = T0 + 14 * HOUR;
    let me = Assignee::Agent("a-1".into());
    let reply_in = complaint(&store, me.clone(), Some(from + HOUR), None).await;
    let resolve_in = complaint(&store, me.clone(), Some(from - HOUR), Some(to - HOUR)).await;
    let group_in = complaint(&store, Assignee::Group(TEAM.into()), None, Some(from)).await;
    let outside = complaint(&store, me.clone(), Some(to), Some(to + 10 * HOUR)).await;
    let _other = complaint(
        &store,
        Assignee::Agent("a-2".into()),
        Some(from + HOUR),
        None,
    )
    .await;
    revisit(&store, &outside, from + 3 * HOUR, false).await;
    revisit(&store, &outside, from + 4 * HOUR, true).await;
    revisit(&store, &outside, to + HOUR, false).await;
    customer(&store, "cust-in", "a-1", from + 4 * HOUR).await;
    customer(&store, "cust-early", "a-1", from - 1).await;
    customer(&store, "cust-other", "a-2", from + 4 * HOUR).await;
    let fb_in = feedback(&store, "a-1", from + 5 * HOUR).await;
    let _fb_out = feedback(&store, "a-1", to + 5 * HOUR).await;
    let ins = inspection_id(&store).await;
    let appeal_in = appeal(&store, ins, "k1", "a-1", "open").await;
    appeal(&store, ins, "k2", "a-1", "accepted").await;
    appeal(&store, ins, "k3", "a-2", "open").await;

    let a1 = who("a-1", Role::Agent, Some(TEAM));
    let p = svc.prefill(&a1, "早班", NOW).await.expect("prefill");
    assert_eq!((p.window_from, p.window_to), (from, to));
    assert_eq!(p.next_shift, "中班");
    let mut got: Vec<(ItemKind, String)> = p
        .items
        .iter()
        .map(|i| (i.kind, i.object_id.clone().unwrap_or_default()))
        .collect();
    got.sort();
    let mut want = vec![
        (ItemKind::ComplaintReply, reply_in.clone()),
        (ItemKind::ComplaintResolve, resolve_in.clone()),
        (ItemKind::ComplaintResolve, group_in.clone()),
        (ItemKind::Revisit, outside.clone()),
        (ItemKind::FollowUp, "cust-in".to_string()),
        (ItemKind::Feedback, fb_in.clone()),
        (ItemKind::Appeal, appeal_in.to_string()),
    ];
    want.sort();
    assert_eq!(got, want);
    // Complaint deadlines are urgent; each item links to its object.
    for i in &p.items {
        if i.kind.is_complaint() {
            assert_eq!(i.severity, Severity::Urgent);
            assert!(i.due_at.is_some_and(|d| (from..to).contains(&d)));
        }
        assert!(!i.contingency.is_empty());
    }
    // Created from it: a draft with the same items, linked.
    let v = svc
        .create(
            &a1,
            NewHandover {
                shift: "早班".into(),
                ..NewHandover::default()
            },
            NOW,
        )
        .await
        .expect("create");
    assert_eq!(v.handover.state, HandoverState::Draft);
    assert_eq!(v.items.len(), want.len());
    let link = v
        .items
        .iter()
        .find(|i| i.kind == ItemKind::ComplaintReply)
        .and_then(|i| i.link.clone());
    assert_eq!(link, Some(format!("/complaints/{reply_in}")));
    let revisit_link = v
        .items
        .iter()
        .find(|i| i.kind == ItemKind::Revisit)
        .and_then(|i| i.link.clone());
    assert_eq!(revisit_link, Some(format!("/complaints/{outside}")));
    // Without a team there are no shifts; an unknown shift is refused.
    assert!(matches!(
        svc.prefill(&who("x", Role::Agent, None), "早班", NOW).await,
        Err(Error::Invalid(_))
    ));
    assert!(matches!(
        svc.prefill(&a1, "夜班", NOW).await,
        Err(Error::Invalid(_))
    ));
});

both_backends!(
    states_restate_dispute_and_ownership,
    |store: Store| async move {
        let svc = HandoverService::new(store.clone());
        shifts(&svc).await;
        let complaint_id = complaint(
            &store,
            Assignee::Agent("a-1".into()),
            Some(T0 + 7 * HOUR),
            None,
        )
        .await;
        let a1 = who("a-1", Role::Agent, Some(TEAM));
        let a2 = who("a-2", Role::Agent, Some(TEAM));
        let outsider = who("b-9", Role::Agent, Some("二组"));
        let inspector = who("qa", Role::Inspector, None);
        let v = svc
            .create(
                &a1,
                NewHandover {
                    shift: "早班".into(),
                    note: "今天来电多".into(),
                    ..NewHandover::default()
                },
                NOW,
            )
            .await
            .expect("create");
        let id = v.handover.id.clone();
        assert_eq!(v.items.len(), 1);
        // Edit the draft: keep the complaint item, add two free ones.
        let mut items: Vec<ItemInput> = v
            .items
            .iter()
            .map(|i| ItemInput {
                kind: i.kind,
                object_id: i.object_id.clone(),
                parent_id: None,
                title: i.title.clone(),
                severity: i.severity,
                action: i.action.clone(),
                owner: i.owner.clone(),
                due_at: i.due_at,
                contingency: i.contingency.clone(),
            })
            .collect();
        items.push(free("打印机卡纸", Severity::Watch));
        items.push(free("VIP 客户王先生 18:00 回电", Severity::Urgent));
        let v = svc
            .replace_items(&a1, &id, &items, None, Some(v.handover.version), NOW)
            .await
            .expect("edit");
        assert_eq!(v.items.len(), 3);
        // Nobody answers a draft; only the outgoing user edits or submits.
        let first = v.items[0].id;
        let ack = Answer::Acknowledge { restatement: None };
        assert!(matches!(
            svc.answer(&a2, &id, first, &ack, NOW).await,
            Err(Error::Forbidden(_))
        ));
        assert!(matches!(
            svc.submit(&a2, &id, None, NOW).await,
            Err(Error::Forbidden(_))
        ));
        let v = svc.submit(&a1, &id, None, NOW).await.expect("submit");
        assert_eq!(v.handover.state, HandoverState::Submitted);
        assert!(matches!(
            svc.replace_items(&a1, &id, &items, None, None, NOW).await,
            Err(Error::Conflict(_))
        ));
        // RBAC: another team's agent cannot see it, the outgoing user and an
        // inspector cannot answer it.
        assert!(matches!(
            svc.answer(&outsider, &id, first, &ack, NOW).await,
            Err(Error::NotFound(_))
        ));
        assert!(matches!(
            svc.answer(&a1, &id, first, &ack, NOW).await,
            Err(Error::Forbidden(_))
        ));
        assert!(matches!(
            svc.answer(&inspector, &id, first, &ack, NOW).await,
            Err(Error::Forbidden(_))
        ));
        assert!(svc
            .list(&outsider, ListView::Waiting)
            .await
            .expect("list")
            .is_empty());
        assert_eq!(
            svc.list(&a2, ListView::Waiting).await.expect("list").len(),
            1
        );
        assert_eq!(svc.list(&a1, ListView::Mine).await.expect("list").len(), 1);

        // a-2 acknowledges the complaint item: the complaint is now theirs, and
        // its history says so.
        let v = svc
            .answer(&a2, &id, first, &ack, NOW + MINUTE)
            .await
            .expect("ack");
        assert_eq!(v.items[0].state, ItemState::Acknowledged);
        let complaints = ComplaintService::new(store.clone());
        let cv = complaints
            .get(
                &complaint_id,
                &Actor::new("sup", ActorRole::Supervisor),
                at(NOW + MINUTE),
            )
            .await
            .expect("get")
            .expect("complaint");
        assert!(cv.complaint.is_assigned_to_agent("a-2"));
        let assigned: Vec<_> = cv.history.iter().filter(|h| h.kind == "assigned").collect();
        assert_eq!(assigned.len(), 1, "{:?}", cv.history);
        assert_eq!(assigned[0].actor_id, format!("handover:{id}"));
        assert!(v.history.iter().any(|e| e.kind == "complaint_assigned"));
        // Restate the second, dispute the third: every item answered, one
        // disputed.
        let second = v.items[1].id;
        let third = v.items[2].id;
        let v = svc
            .answer(
                &a2,
                &id,
                second,
                &Answer::Acknowledge {
                    restatement: Some("联系行政换打印机".into()),
                },
                NOW + 2 * MINUTE,
            )
            .await
            .expect("restate");
        assert_eq!(v.items[1].restatement.as_deref(), Some("联系行政换打印机"));
        assert_eq!(v.items[1].action, "盯住", "the original stays");
        assert_eq!(v.handover.state, HandoverState::Submitted);
        let v = svc
            .answer(
                &a2,
                &id,
                third,
                &Answer::Dispute {
                    reason: "王先生不是我的客户".into(),
                },
                NOW + 3 * MINUTE,
            )
            .await
            .expect("dispute");
        assert_eq!(v.items[2].state, ItemState::Disputed);
        assert_eq!(v.handover.state, HandoverState::Disputed);
        assert!(matches!(
            svc.answer(
                &a2,
                &id,
                third,
                &Answer::Dispute { reason: " ".into() },
                NOW
            )
            .await,
            Err(Error::Invalid(_))
        ));
        assert!(matches!(
            svc.answer(&a2, &id, first, &ack, NOW).await,
            Err(Error::Conflict(_))
        ));
        // Settled: the disputed item acknowledged, the handover acknowledged.
        let v = svc
            .answer(&a2, &id, third, &ack, NOW + 4 * MINUTE)
            .await
            .expect("ack");
        assert_eq!(v.handover.state, HandoverState::Acknowledged);
        assert_eq!(v.handover.acknowledged_at, Some(NOW + 4 * MINUTE));
        assert!(!v.may_answer);
        // History accumulates, in order, and is never rewritten.
        let kinds: Vec<&str> = v.history.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(
            kinds,
            vec![
                "created",
                "items_replaced",
                "submitted",
                "acknowledged",
                "complaint_assigned",
                "restated",
                "disputed",
                "disputed",
                "acknowledged",
                "acknowledged",
            ]
        );
        let before = v.history.len();
        for sql in [
            "UPDATE handover_events SET kind = 'x'",
            "DELETE FROM handover_events",
        ] {
            assert!(
                sqlx::query(sql)
                    .execute(testing::pool(&store))
                    .await
                    .is_err(),
                "{sql} must be refused"
            );
        }
        assert_eq!(svc.get(&a1, &id).await.expect("get").history.len(), before);
    }
);

both_backends!(a_named_incoming_user_only, |store: Store| async move {
    let svc = HandoverService::new(store.clone());
    shifts(&svc).await;
    let a1 = who("a-1", Role::Agent, Some(TEAM));
    let a3 = who("a-3", Role::Agent, Some(TEAM));
    let v = svc
        .create(
            &a1,
            NewHandover {
                shift: "早班".into(),
                to_user: Some("a-2".into()),
                items: Some(vec![free("无特殊事项", Severity::Normal)]),
                submit: true,
                ..NewHandover::default()
            },
            NOW,
        )
        .await
        .expect("create");
    assert_eq!(v.handover.state, HandoverState::Submitted);
    let item = v.items[0].id;
    let ack = Answer::Acknowledge { restatement: None };
    assert!(matches!(
        svc.answer(&a3, &v.handover.id, item, &ack, NOW).await,
        Err(Error::Forbidden(_))
    ));
    let v = svc
        .answer(
            &who("a-2", Role::Agent, Some(TEAM)),
            &v.handover.id,
            item,
            &ack,
            NOW,
        )
        .await
        .expect("ack");
    assert_eq!(v.handover.state, HandoverState::Acknowledged);
    // An empty handover is not submitted.
    let e = svc
        .create(
            &a1,
            NewHandover {
                shift: "早班".into(),
                items: Some(Vec::new()),
                submit: true,
                ..NewHandover::default()
            },
            NOW,
        )
        .await;
    assert!(matches!(e, Err(Error::Invalid(_))));
});

/// `(event, recipients JSON)` of every notification, oldest first.
async fn notifications(store: &Store) -> Vec<(String, String)> {
    use sqlx::Row;
    sqlx::query("SELECT event, recipients FROM notifications ORDER BY id")
        .fetch_all(testing::pool(store))
        .await
        .expect("notifications")
        .iter()
        .map(|r| (r.get("event"), r.get("recipients")))
        .collect()
}

both_backends!(urgent_items_escalate_once, |store: Store| async move {
    let svc = HandoverService::new(store.clone());
    shifts(&svc).await;
    use kefu_service::auth::{add_user, NewUser};
    for (id, role) in [
        ("a-1", Role::Agent),
        ("a-2", Role::Agent),
        ("sup", Role::Supervisor),
    ] {
        add_user(
            &store,
            NewUser {
                id: id.into(),
                display_name: id.into(),
                role,
                team: Some(TEAM.into()),
                password: None,
            },
        )
        .await
        .expect("user");
    }
    let sup = who("sup", Role::Supervisor, Some(TEAM));
    svc.put_settings(
        &sup,
        &HandoverSettings {
            escalate_after_minutes: 20,
        },
        T0,
    )
    .await
    .expect("settings");
    let a1 = who("a-1", Role::Agent, Some(TEAM));
    let v = svc
        .create(
            &a1,
            NewHandover {
                shift: "早班".into(),
                items: Some(vec![
                    free("系统故障待修复", Severity::Urgent),
                    free("例行事项", Severity::Normal),
                    free("已确认的紧急事项", Severity::Urgent),
                ]),
                submit: true,
                ..NewHandover::default()
            },
            NOW,
        )
        .await
        .expect("create");
    let id = v.handover.id.clone();
    let a2 = who("a-2", Role::Agent, Some(TEAM));
    svc.answer(
        &a2,
        &id,
        v.items[2].id,
        &Answer::Acknowledge { restatement: None },
        NOW,
    )
    .await
    .expect("ack");
    assert!(svc
        .escalate_overdue(NOW + 20 * MINUTE, "n1")
        .await
        .expect("scan")
        .is_empty());
    // Two nodes at once: the one unacknowledged urgent item escalates once.
    let other = HandoverService::new(store.clone());
    let later = NOW + 20 * MINUTE + 1;
    let (x, y) = tokio::join!(
        svc.escalate_overdue(later, "n1"),
        other.escalate_overdue(later, "n2")
    );
    let mut all = x.expect("n1");
    all.extend(y.expect("n2"));
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].item_id, v.items[0].id);
    assert_eq!(all[0].team, TEAM);
    assert!(svc
        .escalate_overdue(later + HOUR, "n1")
        .await
        .expect("scan")
        .is_empty());
    // The next shift was told of the handover (not the one handing over),
    // and the supervisors of the escalation, once.
    assert_eq!(
        notifications(&store).await,
        vec![
            (
                "handover.waiting".to_string(),
                r#"["a-2","sup"]"#.to_string()
            ),
            ("handover.escalated".to_string(), r#"["sup"]"#.to_string()),
        ]
    );
    let v = svc.get(&sup, &id).await.expect("get");
    let escalations: Vec<_> = v.history.iter().filter(|e| e.kind == "escalated").collect();
    assert_eq!(escalations.len(), 1);
    assert_eq!(escalations[0].actor_id, "system");
    assert!(v.items[0].escalated && !v.items[1].escalated);
    // The supervisor's view shows it; another team's agent's does not.
    assert_eq!(
        svc.list(&sup, ListView::Escalated)
            .await
            .expect("list")
            .len(),
        1
    );
    assert!(svc
        .list(&who("b-9", Role::Agent, Some("二组")), ListView::Escalated)
        .await
        .expect("list")
        .is_empty());
    // Settings are the supervisors'.
    assert!(matches!(
        svc.put_settings(&a1, &HandoverSettings::default(), T0)
            .await,
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        svc.put_shifts(&a1, TEAM, &[], T0).await,
        Err(Error::Forbidden(_))
    ));
});
