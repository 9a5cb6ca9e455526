//! Information feedback (信息反馈) on SQLite and PostgreSQL: creation from
//! a conversation turn and by hand, every legal and illegal transition of
//! the state machine with the roles allowed, optimistic concurrency, the
//! append-only history, ageing (escalated once per state entered), the
//! board per department, lists with filters and keyset pages.

use kefu_engine::{Conversation, Inspector, RulePack, Scratch};
use kefu_service::auth::{Principal, Role};
use kefu_service::feedback::{
    available, transition, Command, CommandKind, FeedbackFilter, FeedbackService, FeedbackSettings,
    FeedbackSource, FeedbackState, NewFeedback,
};
use kefu_service::Error;
use kefu_store::{both_backends, ImportItem, Store};

const HOUR: i64 = 3_600_000;
/// 2026-11-05 02:00 UTC (10:00 China time).
const T0: i64 = 1_793_844_000_000;

fn who(id: &str, role: Role) -> Principal {
    Principal {
        user_id: id.into(),
        role,
        team: None,
    }
}

async fn import_call(store: &Store, id: &str, at: &str) {
    let line = serde_json::json!({
        "id": id, "channel": "phone", "agent_id": "a-07", "agent_name": "王静",
        "customer_id": "C-1", "customer_name": "李娜", "started_at": at,
        "turns": [{"role": "agent", "text": "您好，请问有什么可以帮您？"},
                  {"role": "customer", "text": "快递太慢了，希望你们换一家物流公司。"}]
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

fn manual(content: &str) -> NewFeedback {
    NewFeedback {
        category: "建议/服务建议".into(),
        content: content.into(),
        ..NewFeedback::default()
    }
}

fn assign(owner: &str) -> Command {
    Command::Assign {
        department: "物流部".into(),
        owner_id: Some(owner.into()),
        due_at: None,
    }
}

/// A command of each kind with valid arguments.
fn command_of(kind: CommandKind) -> Command {
    match kind {
        CommandKind::Assign => assign("dept-1"),
        CommandKind::Start => Command::Start,
        CommandKind::Respond => Command::Respond {
            response: "已更换合作快递。".into(),
        },
        CommandKind::TellCustomer => Command::TellCustomer {
            note: Some("电话告知".into()),
        },
        CommandKind::Close => Command::Close,
        CommandKind::Reject => Command::Reject {
            reason: "重复反馈".into(),
        },
        CommandKind::Note => Command::Note {
            text: "备注".into(),
        },
    }
}

/// The path of commands (by a supervisor) that brings a new record to
/// `state`.
fn path_to(state: FeedbackState) -> Vec<CommandKind> {
    use CommandKind as K;
    let full = [K::Assign, K::Start, K::Respond, K::TellCustomer, K::Close];
    let n = match state {
        FeedbackState::New => 0,
        FeedbackState::Assigned => 1,
        FeedbackState::InProgress => 2,
        FeedbackState::Answered => 3,
        FeedbackState::CustomerTold => 4,
        FeedbackState::Closed => 5,
        FeedbackState::Rejected => return vec![K::Reject],
    };
    full[..n].to_vec()
}

both_backends!(
    feedback_from_a_turn_through_every_state,
    |store: Store| async move {
        import_call(&store, "CALL-FB-1", "2026-11-05T10:00:00+08:00").await;
        let svc = FeedbackService::new(store.clone());
        let agent = who("a-07", Role::Agent);
        let sup = who("sup", Role::Supervisor);
        let owner = who("dept-1", Role::Agent);
        let inspector = who("qa", Role::Inspector);
        let f = svc
            .create(
                &agent,
                NewFeedback {
                    source: Some(FeedbackSource::ConversationTurn),
                    conversation_id: Some("CALL-FB-1".into()),
                    turn_index: Some(1),
                    category: "物流配送/配送延迟".into(),
                    ..NewFeedback::default()
                },
                T0,
            )
            .await
            .expect("create from a turn");
        assert_eq!(f.id, "FB-20261105-000001");
        assert_eq!(f.content, "快递太慢了，希望你们换一家物流公司。");
        assert_eq!(f.customer_id.as_deref(), Some("C-1"));
        assert_eq!(f.state, FeedbackState::New);
        // A turn that does not exist, a category outside the tree.
        let bad_turn = NewFeedback {
            source: Some(FeedbackSource::ConversationTurn),
            conversation_id: Some("CALL-FB-1".into()),
            turn_index: Some(9),
            category: "其他".into(),
            ..NewFeedback::default()
        };
        assert!(matches!(
            svc.create(&agent, bad_turn, T0).await,
            Err(Error::Invalid(_))
        ));
        let bad_category = NewFeedback {
            category: "不存在".into(),
            ..manual("x")
        };
        assert!(matches!(
            svc.create(&agent, bad_category, T0).await,
            Err(Error::Invalid(_))
        ));

        // 新建 → 已分派: agents and inspectors may not assign.
        assert!(matches!(
            svc.execute(&agent, &f.id, &assign("dept-1"), None, T0 + 1)
                .await,
            Err(Error::Forbidden(_))
        ));
        assert!(matches!(
            svc.execute(&inspector, &f.id, &assign("dept-1"), None, T0 + 1)
                .await,
            Err(Error::Forbidden(_))
        ));
        let f = svc
            .execute(&sup, &f.id, &assign("dept-1"), Some(1), T0 + HOUR)
            .await
            .expect("assign");
        assert_eq!(f.state, FeedbackState::Assigned);
        assert_eq!(
            f.due_at,
            Some(T0 + HOUR + 72 * HOUR),
            "default answer time 3d"
        );
        // A stale version is refused.
        assert!(matches!(
            svc.execute(&sup, &f.id, &Command::Start, Some(1), T0 + 2 * HOUR)
                .await,
            Err(Error::Conflict(_))
        ));
        // Only the owner (or a supervisor) starts and answers.
        assert!(matches!(
            svc.execute(&agent, &f.id, &Command::Start, None, T0 + 2 * HOUR)
                .await,
            Err(Error::Forbidden(_))
        ));
        let f = svc
            .execute(&owner, &f.id, &Command::Start, None, T0 + 2 * HOUR)
            .await
            .expect("start");
        assert_eq!(f.state, FeedbackState::InProgress);
        // Empty answer refused; then answered.
        assert!(matches!(
            svc.execute(
                &owner,
                &f.id,
                &Command::Respond {
                    response: "  ".into()
                },
                None,
                T0
            )
            .await,
            Err(Error::Invalid(_))
        ));
        let f = svc
            .execute(
                &owner,
                &f.id,
                &command_of(CommandKind::Respond),
                None,
                T0 + 3 * HOUR,
            )
            .await
            .expect("respond");
        assert_eq!(f.state, FeedbackState::Answered);
        assert_eq!(f.responded_at, Some(T0 + 3 * HOUR));
        // Inspectors do not tell customers; the agent does.
        assert!(matches!(
            svc.execute(
                &inspector,
                &f.id,
                &command_of(CommandKind::TellCustomer),
                None,
                T0
            )
            .await,
            Err(Error::Forbidden(_))
        ));
        let f = svc
            .execute(
                &agent,
                &f.id,
                &command_of(CommandKind::TellCustomer),
                None,
                T0 + 4 * HOUR,
            )
            .await
            .expect("tell");
        assert_eq!(f.state, FeedbackState::CustomerTold);
        assert_eq!(f.customer_told_at, Some(T0 + 4 * HOUR));
        assert!(matches!(
            svc.execute(&agent, &f.id, &Command::Close, None, T0).await,
            Err(Error::Forbidden(_))
        ));
        let f = svc
            .execute(&sup, &f.id, &Command::Close, None, T0 + 5 * HOUR)
            .await
            .expect("close");
        assert_eq!(f.state, FeedbackState::Closed);
        assert_eq!(f.closed_at, Some(T0 + 5 * HOUR));
        // Nothing but notes after closing.
        for kind in CommandKind::ALL {
            let r = svc
                .execute(&sup, &f.id, &command_of(kind), None, T0 + 6 * HOUR)
                .await;
            if kind == CommandKind::Note {
                r.expect("note on a closed record");
            } else {
                assert!(matches!(r, Err(Error::Conflict(_))), "{kind:?}: {r:?}");
            }
        }
        let view = svc.get(&sup, &f.id, T0 + 7 * HOUR).await.expect("get");
        let kinds: Vec<&str> = view.history.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "created",
                "assign",
                "start",
                "respond",
                "tell_customer",
                "close",
                "note"
            ]
        );
        assert_eq!(view.available_commands, vec![CommandKind::Note]);
        // The history is append-only.
        for sql in [
            "UPDATE feedback_events SET kind = 'x'",
            "DELETE FROM feedback_events",
        ] {
            assert!(sqlx::query(sql)
                .execute(kefu_store::testing::pool(&store))
                .await
                .is_err());
        }
        // Agents see only their own records.
        let stranger = who("a-99", Role::Agent);
        assert!(matches!(
            svc.get(&stranger, &f.id, T0).await,
            Err(Error::NotFound(_))
        ));
        assert!(svc.get(&owner, &f.id, T0).await.is_ok());
    }
);

both_backends!(every_command_in_every_state, |store: Store| async move {
    let svc = FeedbackService::new(store.clone());
    let sup = who("sup", Role::Supervisor);
    let mut t = T0;
    for state in FeedbackState::ALL {
        for kind in CommandKind::ALL {
            t += 1000;
            let f = svc.create(&sup, manual("意见"), t).await.expect("create");
            for step in path_to(state) {
                svc.execute(&sup, &f.id, &command_of(step), None, t)
                    .await
                    .expect("path");
            }
            let r = svc
                .execute(&sup, &f.id, &command_of(kind), None, t + 1)
                .await;
            match transition(kind, state) {
                Some(to) => {
                    let g = r.unwrap_or_else(|e| panic!("{kind:?} in {state:?}: {e}"));
                    assert_eq!(g.state, to.unwrap_or(state), "{kind:?} in {state:?}");
                }
                None => assert!(
                    matches!(r, Err(Error::Conflict(_))),
                    "{kind:?} in {state:?}: {r:?}"
                ),
            }
        }
    }
    // The table of legal moves, spelled out.
    use CommandKind as K;
    use FeedbackState as S;
    let legal: Vec<(K, S)> = CommandKind::ALL
        .into_iter()
        .flat_map(|k| FeedbackState::ALL.into_iter().map(move |s| (k, s)))
        .filter(|(k, s)| transition(*k, *s).is_some() && *k != K::Note)
        .collect();
    assert_eq!(
        legal,
        vec![
            (K::Assign, S::New),
            (K::Assign, S::Assigned),
            (K::Assign, S::InProgress),
            (K::Start, S::Assigned),
            (K::Respond, S::InProgress),
            (K::TellCustomer, S::Answered),
            (K::Close, S::CustomerTold),
            (K::Reject, S::New),
            (K::Reject, S::Assigned),
            (K::Reject, S::InProgress),
            (K::Reject, S::Answered),
            (K::Reject, S::CustomerTold),
        ]
    );
    // Owners may reject their records; agents not owning them may not.
    let f = svc
        .create(&sup, manual("不是本部门"), t)
        .await
        .expect("create");
    svc.execute(&sup, &f.id, &assign("dept-1"), None, t)
        .await
        .expect("assign");
    let owner = who("dept-1", Role::Agent);
    assert_eq!(
        available(
            &owner,
            &svc.get(&owner, &f.id, t).await.expect("get").feedback
        ),
        vec![K::Start, K::Reject, K::Note]
    );
    let g = svc
        .execute(&owner, &f.id, &command_of(K::Reject), None, t + 1)
        .await
        .expect("owner rejects");
    assert_eq!(g.reject_reason.as_deref(), Some("重复反馈"));
    assert_eq!(g.closed_at, Some(t + 1));
});

both_backends!(ageing_escalates_once_per_state, |store: Store| async move {
    let svc = FeedbackService::new(store.clone());
    let sup = who("sup", Role::Supervisor);
    let a = svc.create(&sup, manual("无人处理"), T0).await.expect("a");
    let b = svc.create(&sup, manual("已经分派"), T0).await.expect("b");
    svc.execute(&sup, &b.id, &assign("dept-1"), None, T0 + HOUR)
        .await
        .expect("assign");
    // Before 24 h nothing ages.
    let out = svc.age(T0 + 24 * HOUR).await.expect("age");
    assert!(out.escalated.is_empty(), "{out:?}");
    // Past 24 h untouched in 新建: a escalates; b entered 已分派 an hour later.
    let out = svc.age(T0 + 24 * HOUR + 1).await.expect("age");
    assert_eq!(out.escalated, vec![(a.id.clone(), FeedbackState::New)]);
    // Once only.
    assert!(svc
        .age(T0 + 30 * HOUR)
        .await
        .expect("age")
        .escalated
        .contains(&(b.id.clone(), FeedbackState::Assigned)));
    let again = svc.age(T0 + 40 * HOUR).await.expect("age");
    assert!(again.escalated.is_empty(), "{again:?}");
    let view = svc.get(&sup, &a.id, T0 + 40 * HOUR).await.expect("get");
    assert_eq!(view.feedback.escalated_at, Some(T0 + 24 * HOUR + 1));
    let escalations: Vec<_> = view
        .history
        .iter()
        .filter(|e| e.kind == "escalated")
        .collect();
    assert_eq!(escalations.len(), 1);
    assert_eq!(escalations[0].actor_id, "system");
    assert_eq!(escalations[0].detail["state"], "new");
    // The escalated filter finds it; moving on clears the flag and the
    // clock starts again in the new state.
    let listed = svc
        .list(
            &sup,
            &FeedbackFilter {
                escalated: true,
                ..FeedbackFilter::default()
            },
            50,
            None,
            T0,
        )
        .await
        .expect("list");
    assert_eq!(listed.items.len(), 2);
    let a2 = svc
        .execute(&sup, &a.id, &assign("dept-2"), None, T0 + 41 * HOUR)
        .await
        .expect("assign");
    assert_eq!(a2.escalated_at, None);
    assert!(svc
        .age(T0 + 41 * HOUR + 24 * HOUR)
        .await
        .expect("age")
        .escalated
        .is_empty());
    let out = svc.age(T0 + 41 * HOUR + 24 * HOUR + 1).await.expect("age");
    assert_eq!(out.escalated, vec![(a.id.clone(), FeedbackState::Assigned)]);
    // Configurable: 新建 ages after 2 h when so set; final states cannot age.
    let mut s = FeedbackSettings::default();
    s.ageing.insert(FeedbackState::New, "2h".into());
    svc.put_settings(&sup, &s, T0).await.expect("settings");
    let c = svc.create(&sup, manual("两小时"), T0).await.expect("c");
    let out = svc.age(T0 + 2 * HOUR + 1).await.expect("age");
    assert_eq!(out.escalated, vec![(c.id.clone(), FeedbackState::New)]);
    s.ageing.insert(FeedbackState::Closed, "1h".into());
    assert!(matches!(
        svc.put_settings(&sup, &s, T0).await,
        Err(Error::Invalid(_))
    ));
    assert!(matches!(
        svc.put_settings(&who("a", Role::Agent), &FeedbackSettings::default(), T0)
            .await,
        Err(Error::Forbidden(_))
    ));
});

both_backends!(board_lists_and_pages, |store: Store| async move {
    let svc = FeedbackService::new(store.clone());
    let sup = who("sup", Role::Supervisor);
    let mut ids = Vec::new();
    for i in 0..7 {
        let f = svc
            .create(&sup, manual(&format!("意见{i}")), T0 + i)
            .await
            .expect("create");
        ids.push(f.id);
    }
    for id in &ids[..3] {
        svc.execute(
            &sup,
            id,
            &Command::Assign {
                department: "物流部".into(),
                owner_id: None,
                due_at: Some(T0 + HOUR),
            },
            None,
            T0 + 10,
        )
        .await
        .expect("assign");
    }
    svc.execute(
        &sup,
        &ids[3],
        &Command::Assign {
            department: "产品部".into(),
            owner_id: None,
            due_at: Some(T0 + 100 * HOUR),
        },
        None,
        T0 + 10,
    )
    .await
    .expect("assign");
    svc.execute(&sup, &ids[0], &Command::Start, None, T0 + 20)
        .await
        .expect("start");
    let board = svc.board(&sup, T0 + 2 * HOUR).await.expect("board");
    let logistics = board
        .iter()
        .find(|b| b.department.as_deref() == Some("物流部"))
        .expect("物流部");
    assert_eq!(logistics.counts.get(&FeedbackState::Assigned), Some(&2));
    assert_eq!(logistics.counts.get(&FeedbackState::InProgress), Some(&1));
    assert_eq!((logistics.open, logistics.overdue), (3, 3));
    let product = board
        .iter()
        .find(|b| b.department.as_deref() == Some("产品部"))
        .expect("产品部");
    assert_eq!((product.open, product.overdue), (1, 0));
    let unrouted = board
        .iter()
        .find(|b| b.department.is_none())
        .expect("unrouted");
    assert_eq!(unrouted.counts.get(&FeedbackState::New), Some(&3));
    assert!(matches!(
        svc.board(&who("a", Role::Agent), T0).await,
        Err(Error::Forbidden(_))
    ));
    // Filters.
    let f = FeedbackFilter {
        department: Some("物流部".into()),
        overdue: true,
        ..FeedbackFilter::default()
    };
    assert_eq!(
        svc.list(&sup, &f, 50, None, T0 + 2 * HOUR)
            .await
            .expect("list")
            .total,
        3
    );
    let f = FeedbackFilter {
        states: vec![FeedbackState::New],
        ..FeedbackFilter::default()
    };
    assert_eq!(
        svc.list(&sup, &f, 50, None, T0).await.expect("list").total,
        3
    );
    let f = FeedbackFilter {
        category: Some("建议".into()),
        ..FeedbackFilter::default()
    };
    assert_eq!(
        svc.list(&sup, &f, 50, None, T0).await.expect("list").total,
        7
    );
    // Keyset pages: newest first, no repeats, no gaps.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = svc
            .list(&sup, &FeedbackFilter::default(), 3, cursor.as_deref(), T0)
            .await
            .expect("page");
        seen.extend(page.items.iter().map(|f| f.id.clone()));
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    let mut expected = ids.clone();
    expected.reverse();
    assert_eq!(seen, expected);
    assert!(matches!(
        svc.list(&sup, &FeedbackFilter::default(), 3, Some("zz"), T0)
            .await,
        Err(Error::Invalid(_))
    ));
    // Agents list only their own.
    let agent = who("a-1", Role::Agent);
    svc.create(&agent, manual("我的"), T0).await.expect("own");
    let mine = svc
        .list(&agent, &FeedbackFilter::default(), 50, None, T0)
        .await
        .expect("list");
    assert_eq!(mine.total, 1);
});

both_backends!(
    themes_of_a_period_with_verbatims,
    |store: Store| async move {
        import_call(&store, "CALL-T-1", "2026-11-03T10:00:00+08:00").await;
        import_call(&store, "CALL-T-2", "2026-11-20T10:00:00+08:00").await;
        import_call(&store, "CALL-T-0", "2026-10-20T10:00:00+08:00").await;
        let svc = FeedbackService::new(store.clone());
        let sup = who("sup", Role::Supervisor);
        let f = svc
            .create(&sup, manual("快递包裹丢了，物流也查不到。"), T0)
            .await
            .expect("create");
        let period: kefu_service::period::Period = "2026-11".parse().expect("period");
        let view = svc.themes(&sup, &period, 10).await.expect("themes");
        assert_eq!(
            (view.period.as_str(), view.previous_period.as_str()),
            ("2026-11", "2026-10")
        );
        assert_eq!((view.texts, view.previous_texts), (3, 1));
        let logistics = view
            .themes
            .iter()
            .find(|t| t.keywords.iter().any(|k| k == "物流"))
            .unwrap_or_else(|| panic!("{view:#?}"));
        assert_eq!(
            (logistics.rank, logistics.count, logistics.previous),
            (1, 3, 1)
        );
        let ids: Vec<(&str, &str)> = logistics
            .verbatims
            .iter()
            .map(|v| (v.kind, v.id.as_str()))
            .collect();
        assert!(ids.contains(&("feedback", f.id.as_str())), "{ids:?}");
        assert!(ids.contains(&("turn", "CALL-T-1")), "{ids:?}");
        assert!(logistics
            .verbatims
            .iter()
            .all(|v| v.kind == "feedback" || v.turn_index == Some(1)));
        assert!(matches!(
            svc.themes(&who("a", Role::Agent), &period, 10).await,
            Err(Error::Forbidden(_))
        ));
    }
);

both_backends!(
    two_ageing_scans_at_once_escalate_each_record_once,
    |store: Store| async move {
        let sup = who("sup", Role::Supervisor);
        let svc = FeedbackService::new(store.clone());
        for i in 0..30 {
            svc.create(&sup, manual(&format!("积压{i}")), T0 + i)
                .await
                .expect("create");
        }
        // Two "nodes": services over their own pools on the same database.
        let other = FeedbackService::new(store.clone());
        let at = T0 + 25 * HOUR;
        let (a, b) = tokio::join!(svc.age(at), other.age(at));
        let (a, b) = (a.expect("node a"), b.expect("node b"));
        assert_eq!(a.escalated.len() + b.escalated.len(), 30, "{a:?} {b:?}");
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM feedback_events WHERE kind = 'escalated'")
                .fetch_one(kefu_store::testing::pool(&store))
                .await
                .expect("count");
        assert_eq!(n, 30);
    }
);

// A satisfaction survey's comment becomes a feedback record (source
// `survey_comment`, linked to the complaint and its customer) in the
// survey's own transaction; a survey without words files nothing, and an
// empty `survey_comment_category` turns it off.
both_backends!(
    survey_comments_are_filed_as_feedback,
    |store: Store| async move {
        use chrono::{Duration, TimeZone, Utc};
        use kefu_service::complaint::{
            Actor, ActorRole, Command as Do, ComplaintService, Customer, NewComplaint,
        };
        let complaints = ComplaintService::new(store.clone());
        let feedback = FeedbackService::new(store.clone());
        let sup = who("sup", Role::Supervisor);
        let agent = Actor::new("a1", ActorRole::Agent);
        let t0 = Utc
            .with_ymd_and_hms(2026, 3, 9, 1, 0, 0)
            .single()
            .expect("time");
        let survey_after = |comment: Option<&'static str>, n: i64| {
            let complaints = complaints.clone();
            let agent = agent.clone();
            async move {
                let at = t0 + Duration::hours(n * 10);
                let c = complaints
                    .create(
                        NewComplaint::new(
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
                        ),
                        &agent,
                        at,
                    )
                    .await
                    .expect("create");
                let mut version = c.version;
                for cmd in [
                    Do::Investigate,
                    Do::StartHandling,
                    Do::Reply {
                        message: "已收到，正在核实".into(),
                    },
                    Do::Resolve {
                        summary: "已退还多扣费用".into(),
                    },
                    Do::RecordSurvey {
                        result_score: 9,
                        attitude_score: 9,
                        comment: comment.map(str::to_string),
                    },
                ] {
                    version = complaints
                        .execute(&c.id, Some(version), &agent, cmd, at + Duration::hours(1))
                        .await
                        .expect("command")
                        .version;
                }
                c.id
            }
        };
        let of_surveys = FeedbackFilter {
            source: Some(FeedbackSource::SurveyComment),
            ..FeedbackFilter::default()
        };
        let filed = |f: &FeedbackFilter| {
            let feedback = feedback.clone();
            let sup = sup.clone();
            let f = f.clone();
            async move {
                feedback
                    .list(&sup, &f, 50, None, T0)
                    .await
                    .expect("list")
                    .items
            }
        };

        let first = survey_after(Some("  希望以后短信提前通知扣费  "), 0).await;
        let items = filed(&of_surveys).await;
        assert_eq!(items.len(), 1, "{items:?}");
        let f = &items[0];
        assert_eq!(f.complaint_id.as_deref(), Some(first.as_str()));
        assert_eq!(f.customer_id.as_deref(), Some("cust-9"));
        assert_eq!(f.content, "希望以后短信提前通知扣费");
        assert_eq!(f.category, "其他");
        assert_eq!(f.state, FeedbackState::New);
        assert_eq!(f.created_by, "a1");
        let view = feedback.get(&sup, &f.id, T0).await.expect("get");
        assert_eq!(view.history.len(), 1, "one `created` entry");

        // No words, no record.
        survey_after(None, 1).await;
        survey_after(Some("   "), 2).await;
        assert_eq!(filed(&of_surveys).await.len(), 1);

        // The category must be in the tree; empty turns the filing off.
        let mut settings = FeedbackSettings {
            survey_comment_category: "不存在的分类".into(),
            ..FeedbackSettings::default()
        };
        let err = feedback
            .put_settings(&sup, &settings, T0)
            .await
            .expect_err("unknown category");
        assert!(matches!(err, Error::Invalid(_)), "{err:?}");
        settings.survey_comment_category = "建议/服务建议".into();
        feedback
            .put_settings(&sup, &settings, T0)
            .await
            .expect("put");
        survey_after(Some("客服很耐心"), 3).await;
        let items = filed(&of_surveys).await;
        assert_eq!(items.len(), 2);
        assert!(items
            .iter()
            .any(|f| f.category == "建议/服务建议" && f.content == "客服很耐心"));
        settings.survey_comment_category = String::new();
        feedback
            .put_settings(&sup, &settings, T0)
            .await
            .expect("put");
        survey_after(Some("不会被记录"), 4).await;
        assert_eq!(filed(&of_surveys).await.len(), 2);
    }
);
