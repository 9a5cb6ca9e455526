//! The complaint service against real databases: an SQLite file always, and
//! PostgreSQL when `KEFU_TEST_PG_URL` is set (a fresh database per test,
//! dropped after).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use kefu_service::complaint::{
    Actor, ActorRole, Assignee, Command, ComplaintError, ComplaintPolicy, ComplaintState, Customer,
    NewComplaint, RevisitOutcome,
};
use kefu_service::complaint::{ComplaintFilter, ComplaintService, SlaFilter};
use kefu_service::complaint::{EscalationKind, MetRateGrouping, ESCALATED};
use kefu_service::sla::SlaSettings;
use kefu_service::sla::{BusinessCalendar, HoursRange, SlaState};
use kefu_service::Error;
use kefu_store::Store;

/// Runs `body(store, url)` against SQLite and, when configured, PostgreSQL.
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let db = kefu_store::testing::TestDb::sqlite(stringify!($name));
            let store = Store::open(&db.url).await.expect("open sqlite");
            ($body)(store.clone(), db.url.clone()).await;
            store.close().await;
            if let Some(db) = kefu_store::testing::TestDb::postgres(stringify!($name)).await {
                let store = Store::open(&db.url).await.expect("open postgres");
                ($body)(store.clone(), db.url.clone()).await;
                store.close().await;
            }
        }
    };
}

/// Monday 2026-03-09 09:00 at +08:00.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 9, 1, 0, 0)
        .single()
        .expect("valid time")
}

fn h(hours: i64) -> DateTime<Utc> {
    t0() + Duration::hours(hours)
}

fn agent(id: &str) -> Actor {
    Actor::new(id, ActorRole::Agent)
}

fn supervisor() -> Actor {
    Actor::new("s1", ActorRole::Supervisor)
}

fn inspector() -> Actor {
    Actor::new("q1", ActorRole::Inspector)
}

fn input(assignee: Option<Assignee>) -> NewComplaint {
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
    input.assignee = assignee;
    input
}

fn reply() -> Command {
    Command::Reply {
        message: "已收到，正在核实".into(),
    }
}

fn resolve() -> Command {
    Command::Resolve {
        summary: "已退还多扣费用".into(),
    }
}

async fn count(store: &Store, sql: &'static str, id: &str) -> i64 {
    use sqlx::Row;
    sqlx::query(sql)
        .bind(id.to_string())
        .fetch_one(kefu_store::testing::pool(store))
        .await
        .expect("count query")
        .try_get::<i64, _>("n")
        .expect("n")
}

both_backends!(
    lifecycle_with_pause_survey_and_revisit,
    |store: Store, _url: String| async move {
        let svc = ComplaintService::new(store.clone());
        let a1 = agent("a1");
        let c = svc.create(input(None), &a1, t0()).await.expect("create");
        assert_eq!(c.id, "CMP-20260309-000001", "generated id, local date");
        assert_eq!(c.assignee, Some(Assignee::Agent("a1".into())));
        assert_eq!(c.version, 1);
        let other = svc.create(input(None), &a1, h(1)).await.expect("create 2");
        assert_eq!(other.id, "CMP-20260309-000002");
        let mut taken = input(None);
        taken.id = c.id.clone();
        let err = svc.create(taken, &a1, h(1)).await.expect_err("id taken");
        assert!(matches!(err, Error::Conflict(_)), "{err:?}");

        let id = c.id.clone();
        let step = |v: u64, cmd: Command, at: DateTime<Utc>| {
            let svc = svc.clone();
            let id = id.clone();
            let a1 = a1.clone();
            async move {
                svc.execute(&id, Some(v), &a1, cmd, at)
                    .await
                    .expect("command")
            }
        };
        let c = step(1, Command::Investigate, t0() + Duration::minutes(10)).await;
        assert_eq!(c.state, ComplaintState::Investigating);
        let c = step(2, Command::StartHandling, t0() + Duration::minutes(30)).await;
        assert_eq!(c.state, ComplaintState::Handling);
        let c = step(3, reply(), h(1)).await;
        assert_eq!(c.first_reply_at, Some(h(1)));
        let c = step(
            4,
            Command::WaitOnCustomer {
                reason: Some("等客户提供账单".into()),
            },
            h(2),
        )
        .await;
        assert!(c.is_waiting());

        // While waiting the resolution clock is paused, long past 48 h.
        let view = svc
            .get(&id, &supervisor(), h(60))
            .await
            .expect("get")
            .expect("visible");
        assert_eq!(view.sla.resolution.state, SlaState::Paused);
        assert_eq!(view.sla.first_reply.state, SlaState::Met { on_time: true });
        let (paused, _) = svc
            .list(
                &ComplaintFilter {
                    sla: Some(SlaFilter::Paused),
                    ..Default::default()
                },
                &supervisor(),
                h(60),
            )
            .await
            .expect("list paused");
        assert_eq!(
            paused.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            [id.as_str()]
        );
        // The scanner leaves a paused complaint alone (the other one breaches).
        let scan = svc.scan_sla(h(60), "node-a").await.expect("scan");
        assert!(
            scan.escalated
                .iter()
                .chain(&scan.near_breach)
                .all(|e| e.complaint_id == other.id),
            "{scan:?}"
        );
        assert_eq!(scan.escalated.len(), 2);

        let c = step(5, Command::CustomerResponded, h(62)).await;
        assert_eq!(c.pauses.len(), 1);
        let c = step(6, resolve(), h(72)).await;
        assert!(c.is_resolved());
        let view = svc.get(&id, &a1, h(72)).await.expect("get").expect("own");
        // 72 h open, 60 h paused: 12 h counted, within 48 h.
        assert_eq!(view.sla.resolution.state, SlaState::Met { on_time: true });
        assert_eq!(view.sla.resolution.elapsed, Duration::hours(12));

        let c = step(
            7,
            Command::RecordSurvey {
                result_score: 3,
                attitude_score: 6,
                comment: Some("处理太慢".into()),
            },
            h(73),
        )
        .await;
        assert!(c.survey.as_ref().is_some_and(|s| s.is_unsatisfied()));

        // The revisit is due 7 days after the survey.
        let due = h(73) + Duration::days(7);
        let view = svc
            .get(&id, &supervisor(), h(73))
            .await
            .expect("get")
            .expect("visible");
        assert_eq!(view.revisits.len(), 1);
        assert_eq!(view.revisits[0].due_at, due);
        assert_eq!(view.revisits[0].assigned_role, ActorRole::Supervisor);
        assert!(svc
            .revisits_overdue(&supervisor(), due)
            .await
            .expect("overdue")
            .is_empty());
        let late = svc
            .revisits_overdue(&supervisor(), due + Duration::hours(1))
            .await
            .expect("overdue");
        assert_eq!(late.len(), 1);
        assert_eq!(late[0].complaint_id, id);
        // The agent sees the revisit of their own complaint, another agent not.
        assert_eq!(
            svc.revisits_overdue(&a1, due + Duration::hours(1))
                .await
                .expect("overdue")
                .len(),
            1
        );
        assert!(svc
            .revisits_overdue(&agent("a2"), due + Duration::hours(1))
            .await
            .expect("overdue")
            .is_empty());

        // Agents do not record revisit outcomes; inspectors do, once.
        let task_id = late[0].id.clone();
        let err = svc
            .complete_revisit(&task_id, &a1, RevisitOutcome::Resolved, None, due)
            .await
            .expect_err("agent");
        assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
        let done = svc
            .complete_revisit(
                &task_id,
                &inspector(),
                RevisitOutcome::Resolved,
                Some("客户认可".into()),
                due + Duration::hours(2),
            )
            .await
            .expect("complete");
        assert!(done.is_done());
        let again = svc
            .complete_revisit(&task_id, &inspector(), RevisitOutcome::Resolved, None, due)
            .await
            .expect_err("twice");
        assert!(matches!(again, Error::Conflict(_)), "{again:?}");
        assert!(svc
            .revisits_overdue(&supervisor(), due + Duration::days(1))
            .await
            .expect("overdue")
            .is_empty());

        let view = svc
            .get(&id, &supervisor(), due)
            .await
            .expect("get")
            .expect("visible");
        let kinds: Vec<&str> = view.history.iter().map(|h| h.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "created",
                "investigation_started",
                "handling_started",
                "replied",
                "waiting_on_customer",
                "customer_responded",
                "resolved",
                "survey_recorded",
                "revisit_completed"
            ]
        );
        assert_eq!(view.complaint.version, 8);
        assert_eq!(
            view.complaint.customer.phone.as_deref(),
            Some("13812345678")
        );
        // Inspectors see the customer masked.
        let masked = svc
            .get(&id, &inspector(), due)
            .await
            .expect("get")
            .expect("visible");
        assert_eq!(masked.complaint.customer.name, "张*丰");
        assert_eq!(
            masked.complaint.customer.phone.as_deref(),
            Some("138****5678")
        );

        // The history is append-only in the database too.
        let tamper = sqlx::query("UPDATE complaint_history SET kind = 'x' WHERE complaint_id = $1")
            .bind(id.clone())
            .execute(kefu_store::testing::pool(&store))
            .await;
        assert!(tamper.is_err(), "history rows must not change");

        // Follow-up and close by a supervisor; closed complaints are listed by state.
        let sup = supervisor();
        svc.execute(&id, None, &sup, Command::RequestFollowUp, due)
            .await
            .expect("follow up");
        svc.execute(
            &id,
            None,
            &sup,
            Command::Close {
                reason: "回访完成".into(),
            },
            due,
        )
        .await
        .expect("close");
        let (closed, total) = svc
            .list(
                &ComplaintFilter {
                    states: vec![ComplaintState::Closed],
                    ..Default::default()
                },
                &sup,
                due,
            )
            .await
            .expect("list closed");
        assert_eq!((closed.len(), total), (1, 1));
        assert_eq!(closed[0].sla_state, "met");
    }
);

both_backends!(
    optimistic_concurrency,
    |store: Store, _url: String| async move {
        let svc = ComplaintService::new(store);
        let a1 = agent("a1");
        let c = svc.create(input(None), &a1, t0()).await.expect("create");
        let c2 = svc
            .execute(&c.id, Some(1), &a1, Command::StartHandling, h(1))
            .await
            .expect("v1");
        assert_eq!(c2.version, 2);
        let err = svc
            .execute(&c.id, Some(1), &a1, reply(), h(1))
            .await
            .expect_err("stale version");
        assert_eq!(
            err,
            Error::Conflict(
                ComplaintError::VersionConflict {
                    expected: 1,
                    actual: 2
                }
                .to_string()
            )
        );

        // Two clients that both read version 2: exactly one wins.
        let mut tasks = Vec::new();
        for i in 0..2 {
            let svc = svc.clone();
            let id = c.id.clone();
            let a1 = a1.clone();
            tasks.push(tokio::spawn(async move {
                svc.execute(
                    &id,
                    Some(2),
                    &a1,
                    Command::AddNote {
                        text: format!("note {i}"),
                    },
                    h(2),
                )
                .await
            }));
        }
        let mut ok = 0;
        let mut conflicts = 0;
        for t in tasks {
            match t.await.expect("join") {
                Ok(c) => {
                    assert_eq!(c.version, 3);
                    ok += 1;
                }
                Err(Error::Conflict(_)) => conflicts += 1,
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        assert_eq!((ok, conflicts), (1, 1));
        // Without an expected version, commands apply to the latest one.
        let c = svc
            .execute(&c.id, None, &a1, reply(), h(3))
            .await
            .expect("latest");
        assert_eq!(c.version, 4);
    }
);

both_backends!(
    agents_reach_only_their_own,
    |store: Store, _url: String| async move {
        let svc = ComplaintService::new(store);
        let a1 = agent("a1");
        let a2 = agent("a2").with_groups(["desk"]);
        let mine = svc.create(input(None), &a1, t0()).await.expect("create");
        // Another agent can neither read nor act on it, nor learn it exists.
        assert!(svc.get(&mine.id, &a2, h(1)).await.expect("get").is_none());
        let err = svc
            .execute(&mine.id, None, &a2, reply(), h(1))
            .await
            .expect_err("not theirs");
        assert!(matches!(err, Error::NotFound(_)), "{err:?}");
        let err = svc
            .execute("CMP-nope", None, &a2, reply(), h(1))
            .await
            .expect_err("missing");
        assert!(matches!(err, Error::NotFound(_)), "{err:?}");
        let (list, total) = svc
            .list(&ComplaintFilter::default(), &a2, h(1))
            .await
            .expect("list");
        assert!(list.is_empty());
        assert_eq!(total, 0);
        let (list, total) = svc
            .list(&ComplaintFilter::default(), &a1, h(1))
            .await
            .expect("list");
        assert_eq!((list.len(), total), (1, 1));
        assert_eq!(list[0].customer_name, "张三丰");

        // A complaint routed to the desk can be listed and claimed by its members.
        let queued = svc
            .create(
                input(Some(Assignee::Group("desk".into()))),
                &supervisor(),
                t0(),
            )
            .await
            .expect("create queued");
        let (claimable, _) = svc
            .list(
                &ComplaintFilter {
                    claimable: true,
                    ..Default::default()
                },
                &a2,
                h(1),
            )
            .await
            .expect("claimable");
        assert_eq!(claimable.len(), 1);
        assert_eq!(claimable[0].id, queued.id);
        assert_eq!(
            claimable[0].customer_name, "张*丰",
            "masked before claiming"
        );
        assert!(svc.get(&queued.id, &a2, h(1)).await.expect("get").is_none());
        svc.execute(
            &queued.id,
            None,
            &a2,
            Command::Assign {
                assignee: Assignee::Agent("a2".into()),
            },
            h(1),
        )
        .await
        .expect("claim");
        let view = svc
            .get(&queued.id, &a2, h(1))
            .await
            .expect("get")
            .expect("now theirs");
        assert_eq!(view.complaint.customer.name, "张三丰");
        assert!(svc.get(&queued.id, &a1, h(1)).await.expect("get").is_none());

        // Inspectors may add notes but not work complaints.
        svc.execute(
            &mine.id,
            None,
            &inspector(),
            Command::AddNote {
                text: "录音已调取".into(),
            },
            h(2),
        )
        .await
        .expect("note");
        let err = svc
            .execute(&mine.id, None, &inspector(), reply(), h(2))
            .await
            .expect_err("inspector reply");
        assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
    }
);

both_backends!(
    sla_breach_escalated_exactly_once,
    |store: Store, url: String| async move {
        let svc = ComplaintService::new(store.clone());
        let sup = supervisor();
        let mut ids = Vec::new();
        for i in 0..12 {
            let who = if i % 2 == 0 { "a1" } else { "a2" };
            let c = svc
                .create(
                    input(Some(Assignee::Agent(who.into()))),
                    &sup,
                    t0() + Duration::minutes(i),
                )
                .await
                .expect("create");
            ids.push(c.id);
        }
        // One answered in time: it must never be escalated for the reply.
        svc.execute(&ids[0], None, &sup, reply(), h(1))
            .await
            .expect("reply");

        // At 10 h the unanswered ones are near breach (80 % of 12 h).
        let (near, n) = svc
            .list(
                &ComplaintFilter {
                    sla: Some(SlaFilter::NearBreach),
                    ..Default::default()
                },
                &sup,
                h(10) + Duration::minutes(12),
            )
            .await
            .expect("near list");
        assert_eq!(n, 11, "{near:?}");
        let warned = svc
            .scan_sla(h(10) + Duration::minutes(12), "node-a")
            .await
            .expect("scan");
        assert_eq!(warned.near_breach.len(), 11);
        assert!(warned.escalated.is_empty());
        assert!(warned
            .near_breach
            .iter()
            .all(|e| e.kind == EscalationKind::ReplyNearBreach
                && e.notified_to.starts_with("agent:")));
        let again = svc
            .scan_sla(h(10) + Duration::minutes(20), "node-a")
            .await
            .expect("scan again");
        assert!(again.near_breach.is_empty() && again.escalated.is_empty());

        // Past 12 h: two nodes, two connection pools, scanning at once.
        let at = h(13);
        let mut tasks = Vec::new();
        for node in ["node-a", "node-b"] {
            let url = url.clone();
            tasks.push(tokio::spawn(async move {
                let store = Store::connect(&url).await.expect("second store");
                let svc = ComplaintService::new(store.clone());
                let out = svc.scan_sla(at, node).await;
                store.close().await;
                out
            }));
        }
        let mut escalated = Vec::new();
        for t in tasks {
            let out = t.await.expect("join").expect("scan");
            assert!(out.near_breach.is_empty());
            escalated.extend(out.escalated);
        }
        escalated.sort_by(|a, b| a.complaint_id.cmp(&b.complaint_id));
        let got: Vec<&str> = escalated.iter().map(|e| e.complaint_id.as_str()).collect();
        let want: Vec<&str> = ids[1..].iter().map(String::as_str).collect();
        assert_eq!(
            got, want,
            "each unanswered complaint escalated exactly once"
        );
        assert!(escalated
            .iter()
            .all(|e| e.kind == EscalationKind::ReplyBreach && e.notified_to == "supervisor"));
        for id in &ids {
            let rows = count(
            &store,
            "SELECT COUNT(*) AS n FROM escalations WHERE complaint_id = $1 AND kind = 'reply_breach'",
            id,
        )
        .await;
            let history = count(
            &store,
            "SELECT COUNT(*) AS n FROM complaint_history WHERE complaint_id = $1 AND kind = 'escalated'",
            id,
        )
        .await;
            let expect = i64::from(id != &ids[0]);
            assert_eq!((rows, history), (expect, expect), "{id}");
        }
        let view = svc
            .get(&ids[1], &sup, at)
            .await
            .expect("get")
            .expect("visible");
        assert_eq!(view.sla.first_reply.state, SlaState::Breached);
        assert_eq!(view.sla_state, "breached");
        let last = view.history.last().expect("history");
        assert_eq!(
            (last.kind.as_str(), last.actor_id.as_str()),
            (ESCALATED, "system")
        );
        assert_eq!(last.detail["message"], "escalated to supervisor");
        assert_eq!(view.escalations.len(), 2, "warning and escalation");

        // Nothing more until the resolutions breach at 48 h.
        let quiet = svc.scan_sla(h(20), "node-b").await.expect("quiet scan");
        assert!(quiet.escalated.is_empty() && quiet.near_breach.is_empty());
        let (breached, n) = svc
            .list(
                &ComplaintFilter {
                    sla: Some(SlaFilter::Breached),
                    ..Default::default()
                },
                &sup,
                h(20),
            )
            .await
            .expect("breached list");
        assert_eq!((breached.len() as i64, n), (11, 11));
        // The answered one is resolved in time; the others breach.
        svc.execute(&ids[0], None, &sup, Command::StartHandling, h(21))
            .await
            .expect("handle");
        svc.execute(&ids[0], None, &sup, resolve(), h(22))
            .await
            .expect("resolve");
        let late = svc.scan_sla(h(50), "node-a").await.expect("late scan");
        assert_eq!(late.escalated.len(), 11);
        assert!(late
            .escalated
            .iter()
            .all(|e| e.kind == EscalationKind::ResolveBreach && e.complaint_id != ids[0]));
        assert!(svc
            .scan_sla(h(60), "node-b")
            .await
            .expect("scan")
            .escalated
            .is_empty());
    }
);

both_backends!(
    met_rates_with_the_ids_behind_them,
    |store: Store, _url: String| async move {
        let svc = ComplaintService::new(store);
        let sup = supervisor();
        let new = |who: &'static str, minutes: i64| {
            let svc = svc.clone();
            let sup = sup.clone();
            async move {
                svc.create(
                    input(Some(Assignee::Agent(who.into()))),
                    &sup,
                    t0() + Duration::minutes(minutes),
                )
                .await
                .expect("create")
                .id
            }
        };
        let run = |id: String, cmds: Vec<(Command, DateTime<Utc>)>| {
            let svc = svc.clone();
            let sup = sup.clone();
            async move {
                for (cmd, at) in cmds {
                    svc.execute(&id, None, &sup, cmd, at)
                        .await
                        .expect("command");
                }
            }
        };
        // a1: one on time, one late on both targets.
        let c1 = new("a1", 0).await;
        run(
            c1.clone(),
            vec![
                (Command::StartHandling, h(1)),
                (reply(), h(1)),
                (resolve(), h(10)),
            ],
        )
        .await;
        let c2 = new("a1", 1).await;
        run(
            c2.clone(),
            vec![
                (Command::StartHandling, h(13)),
                (reply(), h(13)),
                (resolve(), h(50)),
            ],
        )
        .await;
        // a2: replied, resolution still running; and one closed as a duplicate
        // before anything was due (left out).
        let c3 = new("a2", 2).await;
        run(c3.clone(), vec![(reply(), h(2))]).await;
        let c4 = new("a2", 3).await;
        run(
            c4.clone(),
            vec![(
                Command::Close {
                    reason: "重复工单".into(),
                },
                h(1),
            )],
        )
        .await;
        // Opened outside the period: not counted.
        let _c5 = new("a1", 60 * 24 * 5).await;

        let from = t0() - Duration::hours(1);
        let to = t0() + Duration::days(1);
        let now = h(60);
        let report = svc
            .sla_met_rate(&sup, from, to, &MetRateGrouping::Agent, now)
            .await
            .expect("met rate");
        assert_eq!(report.groups.len(), 2);
        let a1 = &report.groups[0];
        assert_eq!(a1.key, Some(Assignee::Agent("a1".into())));
        assert_eq!(a1.first_reply.met, [c1.as_str()]);
        assert_eq!(a1.first_reply.missed, [c2.as_str()]);
        assert_eq!(a1.first_reply.rate, Some(0.5));
        assert_eq!(a1.resolution.met, [c1.as_str()]);
        assert_eq!(a1.resolution.missed, [c2.as_str()]);
        let a2 = &report.groups[1];
        assert_eq!(a2.key, Some(Assignee::Agent("a2".into())));
        assert_eq!(a2.first_reply.met, [c3.as_str()]);
        assert!(a2.first_reply.missed.is_empty());
        assert_eq!(a2.first_reply.rate, Some(1.0));
        // c3's resolution is breached by now (60 h > 48 h) although still open.
        assert_eq!(a2.resolution.missed, [c3.as_str()]);
        assert!(!a2.first_reply.met.contains(&c4) && !a2.resolution.missed.contains(&c4));
        assert_eq!(report.total.first_reply.met, [c1.clone(), c3.clone()]);
        assert_eq!(report.total.first_reply.rate, Some(2.0 / 3.0));

        // Earlier, c3's resolution was still running: pending, not in the rate.
        let early = svc
            .sla_met_rate(&sup, from, to, &MetRateGrouping::Agent, h(20))
            .await
            .expect("met rate");
        let a2 = &early.groups[1];
        assert_eq!(a2.resolution.pending, [c3.as_str()]);
        assert_eq!(a2.resolution.rate, None);

        // By team.
        let teams: BTreeMap<String, String> = [("a1", "t1"), ("a2", "t1")]
            .into_iter()
            .map(|(a, t)| (a.to_string(), t.to_string()))
            .collect();
        let by_team = svc
            .sla_met_rate(&sup, from, to, &MetRateGrouping::Team(teams), now)
            .await
            .expect("by team");
        assert_eq!(by_team.groups.len(), 1);
        assert_eq!(by_team.groups[0].key, Some(Assignee::Group("t1".into())));
        assert_eq!(by_team.groups[0].first_reply, report.total.first_reply);

        // An agent only gets their own numbers.
        let own = svc
            .sla_met_rate(&agent("a2"), from, to, &MetRateGrouping::Agent, now)
            .await
            .expect("own");
        assert_eq!(own.groups.len(), 1);
        assert_eq!(own.total.first_reply.met, [c3]);
    }
);

both_backends!(
    settings_by_supervisors_only,
    |store: Store, _url: String| async move {
        let svc = ComplaintService::new(store);
        assert_eq!(
            svc.sla_settings().await.expect("default"),
            SlaSettings::default()
        );
        let hours = BusinessCalendar::business_hours(&[
            HoursRange::hm(9, 0, 12, 0).expect("period"),
            HoursRange::hm(13, 30, 18, 0).expect("period"),
        ])
        .expect("calendar");
        let mut settings = SlaSettings::default();
        settings.policy.business_hours = true;
        settings.calendar = hours;
        for who in [agent("a1"), inspector()] {
            let err = svc
                .set_sla_settings(settings.clone(), &who, t0())
                .await
                .expect_err("not allowed");
            assert!(matches!(err, Error::Forbidden(_)), "{who:?}");
            let err = svc
                .set_complaint_policy(ComplaintPolicy::default(), &who, t0())
                .await
                .expect_err("not allowed");
            assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
        }
        let mut bad = settings.clone();
        bad.calendar = BusinessCalendar::always_open();
        let err = svc
            .set_sla_settings(bad, &supervisor(), t0())
            .await
            .expect_err("business hours without hours");
        assert!(matches!(err, Error::Invalid(_)), "{err:?}");

        // Opened Tuesday 2025-09-30 17:00 local, just before the National Day
        // holidays (10-01..10-08), 24×7 for now.
        let opened = Utc
            .with_ymd_and_hms(2025, 9, 30, 9, 0, 0)
            .single()
            .expect("time");
        let c = svc
            .create(input(None), &agent("a1"), opened)
            .await
            .expect("create");
        assert_eq!(c.id, "CMP-20250930-000001");
        let due = |view: &kefu_service::complaint::ComplaintView| view.sla.first_reply.due_at;
        let view = svc
            .get(&c.id, &supervisor(), opened)
            .await
            .expect("get")
            .expect("visible");
        assert_eq!(due(&view), Some(opened + Duration::hours(12)));

        // Business hours with the built-in holidays: 1 h on 09-30, nothing until
        // 10-09, 7.5 h on 10-09, 3.5 h on 10-10 → 10-10 14:00 local.
        let stored = svc
            .set_sla_settings(settings.clone(), &supervisor(), opened)
            .await
            .expect("supervisor sets");
        assert_eq!(stored, settings);
        assert_eq!(svc.sla_settings().await.expect("read"), settings);
        let view = svc
            .get(&c.id, &supervisor(), opened)
            .await
            .expect("get")
            .expect("visible");
        let expect = Utc
            .with_ymd_and_hms(2025, 10, 10, 6, 0, 0)
            .single()
            .expect("time");
        assert_eq!(due(&view), Some(expect));
        // The stored scan columns followed: nothing is near breach on 10-02.
        let oct2 = Utc
            .with_ymd_and_hms(2025, 10, 2, 9, 0, 0)
            .single()
            .expect("time");
        let out = svc.scan_sla(oct2, "n").await.expect("scan");
        assert!(out.near_breach.is_empty() && out.escalated.is_empty());

        // Without the built-in table: 10-01 and 10-02 are ordinary weekdays.
        settings.builtin_holidays = false;
        svc.set_sla_settings(
            settings.clone(),
            &Actor::new("root", ActorRole::Admin),
            opened,
        )
        .await
        .expect("admin sets");
        let view = svc
            .get(&c.id, &supervisor(), opened)
            .await
            .expect("get")
            .expect("visible");
        let expect = Utc
            .with_ymd_and_hms(2025, 10, 2, 6, 0, 0)
            .single()
            .expect("time");
        assert_eq!(due(&view), Some(expect));
        // By 10-02 17:00 local 15 h have counted: breached.
        let out = svc.scan_sla(oct2, "n").await.expect("scan");
        assert_eq!(out.escalated.len(), 1, "{out:?}");

        // Survey bands and revisit delay.
        let policy = ComplaintPolicy::from_toml_str("revisit_days = 3").expect("policy");
        svc.set_complaint_policy(policy, &supervisor(), opened)
            .await
            .expect("set policy");
        assert_eq!(svc.complaint_policy().await.expect("policy"), policy);
        let sup = supervisor();
        for cmd in [Command::StartHandling, resolve()] {
            svc.execute(&c.id, None, &sup, cmd, oct2)
                .await
                .expect("command");
        }
        svc.execute(
            &c.id,
            None,
            &sup,
            Command::RecordSurvey {
                result_score: 1,
                attitude_score: 1,
                comment: None,
            },
            oct2,
        )
        .await
        .expect("survey");
        let view = svc
            .get(&c.id, &sup, oct2)
            .await
            .expect("get")
            .expect("visible");
        assert_eq!(view.revisits[0].due_at, oct2 + Duration::days(3));
    }
);

both_backends!(
    create_from_a_stored_conversation,
    |store: Store, _url: String| async move {
        use kefu_engine::{Conversation, Inspector, RulePack, Scratch};
        let line = include_str!("../../kefu-engine/tests/golden/conversations.jsonl")
            .lines()
            .next()
            .expect("fixture");
        let conv: Conversation<'_> = serde_json::from_str(line).expect("parse");
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
        let svc = ComplaintService::new(store);
        let mut new = NewComplaint::new(
            "",
            Customer::named(""),
            "",
            "billing",
            "通话中客户投诉多扣费",
        );
        new.conversation_id = Some(conv.id.to_string());
        let c = svc
            .create(new.clone(), &supervisor(), t0())
            .await
            .expect("create");
        assert_eq!(c.conversation_id.as_deref(), Some("g-001"));
        assert_eq!(c.customer.name, "张伟");
        assert_eq!(c.customer.id.as_deref(), Some("u-10231"));
        assert_eq!(c.channel, "phone");
        new.conversation_id = Some("no-such-conversation".into());
        let err = svc
            .create(new, &supervisor(), t0())
            .await
            .expect_err("unknown conversation");
        assert!(matches!(err, Error::Invalid(_)), "{err:?}");
    }
);

both_backends!(
    a_burst_of_creates_each_stored_once,
    |store: Store, _url: String| async move {
        // Agents filing at the same moment share write transactions on
        // SQLite (group commit); each complaint must still get its own id
        // and history, and a taken id must fail alone.
        let svc = ComplaintService::new(store);
        let taken = svc
            .create(
                NewComplaint {
                    id: "CMP-MANUAL-1".into(),
                    ..input(None)
                },
                &agent("a0"),
                t0(),
            )
            .await
            .expect("first");
        let mut tasks = Vec::new();
        for i in 0..40 {
            let svc = svc.clone();
            tasks.push(tokio::spawn(async move {
                let mut new = input(None);
                if i % 8 == 0 {
                    new.id = "CMP-MANUAL-1".into();
                }
                (i, svc.create(new, &agent(&format!("a{i}")), t0()).await)
            }));
        }
        let mut ids = Vec::new();
        for t in tasks {
            match t.await.expect("join") {
                (i, Ok(c)) => {
                    assert!(i % 8 != 0, "creator {i} reused a taken id");
                    ids.push(c.id);
                }
                (i, Err(Error::Conflict(_))) if i % 8 == 0 => {}
                (i, Err(e)) => panic!("creator {i}: {e:?}"),
            }
        }
        ids.sort();
        let expected: Vec<String> = (1..=35).map(|n| format!("CMP-20260309-{n:06}")).collect();
        assert_eq!(
            ids, expected,
            "one number each, none lost to a failed create"
        );
        for id in ids.iter().chain([&taken.id]) {
            let view = svc
                .get(id, &supervisor(), h(1))
                .await
                .expect("get")
                .expect("stored");
            assert_eq!(view.history.len(), 1, "{id}: {:?}", view.history);
        }
    }
);
