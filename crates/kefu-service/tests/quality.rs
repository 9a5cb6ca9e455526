//! Review, appeals, sampling, KPIs, star ratings and assessment on a fixture
//! month whose figures are computed by hand below, against real databases
//! (SQLite always, PostgreSQL when `KEFU_TEST_PG_URL` is set).

use std::collections::BTreeSet;

use kefu_engine::review::{Decision, ManualScore, ReviewInput, Verdict};
use kefu_engine::{Conversation, Inspector, RulePack, Scratch};
use kefu_service::auth::{add_user, NewUser, Principal, Role};
use kefu_service::kpi::{assess, Criterion, KpiService, Target};
use kefu_service::period::Period;
use kefu_service::review::ReviewService;
use kefu_service::Error;
use kefu_store::{ImportItem, Store};

/// A small pack whose arithmetic is easy to follow: 不知道 costs 25 (cap
/// 50), 神经病 is a veto, a missing 再见 costs 5, 普通话 is a manual item.
const PACK: &str = r#"
[pack]
id = "fixture"
name = "测试规则包"
version = "1"

[scoring]
base = 100
pass_mark = 80

[[dimensions]]
id = "language"
name = "用语规范"

[[dimensions]]
id = "process"
name = "服务流程"

[[rules]]
id = "taboo"
name = "服务禁语"
dimension = "language"
kind = "forbidden"
role = "agent"
channels = ["phone", "chat"]
deduction = 25
cap = 50
phrases = ["不知道"]

[[rules]]
id = "insult"
name = "侮辱"
dimension = "language"
kind = "forbidden"
role = "agent"
channels = ["phone", "chat"]
deduction = 20
veto = true
phrases = ["神经病"]

[[rules]]
id = "closing"
name = "结束语"
dimension = "process"
kind = "required"
role = "agent"
channels = ["phone", "chat"]
deduction = 5
last_turns = 2
phrases = ["再见"]

[[rules]]
id = "mandarin"
name = "普通话"
dimension = "language"
kind = "manual"
role = "agent"
channels = ["phone"]
deduction = 2
"#;

macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let db = kefu_store::testing::TestDb::sqlite(stringify!($name));
            let store = Store::open(&db.url).await.expect("open sqlite");
            ($body)(store.clone()).await;
            store.close().await;
            if let Some(db) = kefu_store::testing::TestDb::postgres(stringify!($name)).await {
                let store = Store::open(&db.url).await.expect("open postgres");
                ($body)(store.clone()).await;
                store.close().await;
            }
        }
    };
}

/// One conversation of the fixture.
fn conv(
    id: &str,
    agent: &str,
    day: u32,
    agent_line: &str,
    closing: bool,
    wait_s: u32,
    sat: Option<u8>,
) -> String {
    let mut turns = vec![
        serde_json::json!({"role": "agent", "text": "您好，请问有什么可以帮您？", "start_ms": 0, "end_ms": 2000}),
        serde_json::json!({"role": "customer", "text": "我想问一下订单。", "start_ms": 2500, "end_ms": 4000}),
        serde_json::json!({"role": "agent", "text": agent_line, "start_ms": 4500, "end_ms": 7000}),
    ];
    if closing {
        turns.push(serde_json::json!({"role": "agent", "text": "感谢来电，再见。", "start_ms": 7500, "end_ms": 9000}));
    } else {
        turns.push(serde_json::json!({"role": "agent", "text": "好的。", "start_ms": 7500, "end_ms": 9000}));
    }
    let mut meta = serde_json::Map::new();
    if let Some(s) = sat {
        meta.insert("satisfaction".into(), s.into());
    }
    serde_json::json!({
        "id": id, "channel": "phone", "agent_id": agent,
        "started_at": format!("2026-10-{day:02}T10:00:00+08:00"),
        "wait_ms": wait_s * 1000, "turns": turns, "meta": meta,
    })
    .to_string()
}

fn abandoned(id: &str, agent: &str, day: u32) -> String {
    serde_json::json!({
        "id": id, "channel": "phone", "agent_id": agent,
        "started_at": format!("2026-10-{day:02}T11:00:00+08:00"),
        "wait_ms": 30000, "turns": [{"role": "system", "text": "客户已挂机"}],
    })
    .to_string()
}

/// The fixture month (2026-10):
///
/// a1 (team 一组): 30 clean calls (wait 10 s; 20 rated 10 and 5 rated 6),
/// 6 calls with 不知道 (75 points, fail, wait 20 s), 4 calls without 再见
/// (95 points, wait 5 s), 5 abandoned calls; one call in November.
/// a2 (team 二组): 9 clean calls and one with 神经病 (veto), wait 12 s.
fn fixture() -> Vec<String> {
    let mut lines = Vec::new();
    for i in 0..30 {
        let sat = match i {
            0..=19 => Some(10),
            20..=24 => Some(6),
            _ => None,
        };
        lines.push(conv(
            &format!("a1-clean-{i:02}"),
            "a1",
            1 + i % 28,
            "好的，我帮您查询。",
            true,
            10,
            sat,
        ));
    }
    for i in 0..6 {
        lines.push(conv(
            &format!("a1-taboo-{i}"),
            "a1",
            2 + i,
            "这个我不知道。",
            true,
            20,
            None,
        ));
    }
    for i in 0..4 {
        lines.push(conv(
            &format!("a1-noclose-{i}"),
            "a1",
            10 + i,
            "好的，我帮您查询。",
            false,
            5,
            None,
        ));
    }
    for i in 0..5 {
        lines.push(abandoned(&format!("a1-abandoned-{i}"), "a1", 3 + i));
    }
    lines.push(
        conv("a1-november", "a1", 1, "这个我不知道。", true, 10, None)
            .replace("2026-10-01", "2026-11-01"),
    );
    for i in 0..9 {
        lines.push(conv(
            &format!("a2-clean-{i}"),
            "a2",
            5 + i,
            "好的，我帮您查询。",
            true,
            12,
            None,
        ));
    }
    lines.push(conv(
        "a2-insult",
        "a2",
        20,
        "你是神经病吧。",
        true,
        12,
        None,
    ));
    lines
}

async fn load(store: &Store) {
    let pack = RulePack::from_toml(PACK).expect("fixture pack");
    let version = store
        .register_pack("fixture", "1", PACK)
        .await
        .expect("register pack");
    let inspector = Inspector::new(pack).expect("compile pack");
    let mut scratch = Scratch::default();
    let lines = fixture();
    let items: Vec<ImportItem> = lines
        .iter()
        .map(|line| {
            let conv: Conversation<'_> = serde_json::from_str(line).expect("fixture line");
            let result = inspector.inspect(&conv, &mut scratch);
            ImportItem::new(&conv, Some(line), result)
        })
        .collect();
    store
        .import_batch(version.id, &items)
        .await
        .expect("import");
    for (id, name, role, team) in [
        ("a1", "张三", Role::Agent, Some("一组")),
        ("a2", "李四", Role::Agent, Some("二组")),
        ("qa1", "质检一", Role::Inspector, None),
        ("sup1", "主管一", Role::Supervisor, None),
    ] {
        add_user(
            store,
            NewUser {
                id: id.into(),
                display_name: name.into(),
                role,
                team: team.map(str::to_string),
                password: None,
            },
        )
        .await
        .expect("add user");
    }
}

/// The random part of the 2026-10 queue (10 %, `seed`) built in a fresh
/// SQLite database loaded with the same fixture.
async fn random_sample_elsewhere(name: &str, seed: &str) -> BTreeSet<String> {
    let db = kefu_store::testing::TestDb::sqlite(name);
    let store = Store::open(&db.url).await.unwrap();
    load(&store).await;
    let reviews = ReviewService::new(store.clone());
    let qa = who("qa1", Role::Inspector);
    let oct: Period = "2026-10".parse().unwrap();
    reviews.build_queue(&qa, &oct, 0.1, seed, 1).await.unwrap();
    let picked = reviews
        .queue(&qa, true, None, 1000, 0)
        .await
        .unwrap()
        .into_iter()
        .filter(|q| q.reason == "random")
        .map(|q| q.conversation_id)
        .collect();
    store.close().await;
    picked
}

fn who(id: &str, role: Role) -> Principal {
    Principal {
        user_id: id.into(),
        role,
        team: None,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

both_backends!(
    kpis_ratings_and_assessment_match_hand_computed_figures,
    |store: Store| async move {
        load(&store).await;
        let kpis = KpiService::new(store.clone());
        let oct: Period = "2026-10".parse().unwrap();
        let report = kpis.report(&oct).await.expect("report");
        let (from, to) = (oct.start_day(), oct.end_day());
        let histogram = store.score_histogram(from, to, Some("a1")).await.unwrap();
        assert_eq!(
            histogram,
            std::collections::BTreeMap::from([(75, 6), (95, 4), (100, 30)])
        );
        // The centre (no agent) reads the same way on both backends.
        let centre_days = store.daily_totals(from, to, None, 15).await.unwrap();
        assert_eq!(centre_days.iter().map(|d| d.offered).sum::<i64>(), 55);
        let centre_scores = store.score_histogram(from, to, None).await.unwrap();
        assert_eq!(centre_scores.values().sum::<i64>(), 50);
        let days = store.daily_totals(from, to, Some("a1"), 15).await.unwrap();
        assert_eq!(days.iter().map(|d| d.offered).sum::<i64>(), 45);
        assert_eq!(days.iter().map(|d| d.timely).sum::<i64>(), 34);
        // The sums the import added equal a rebuild from the base tables.
        store.rebuild_rollups().await.expect("rebuild");
        assert_eq!(
            kpis.report(&oct).await.expect("report after rebuild"),
            report
        );
        assert_eq!(
            store.score_histogram(from, to, Some("a1")).await.unwrap(),
            histogram
        );
        assert_eq!(
            store.daily_totals(from, to, Some("a1"), 15).await.unwrap(),
            days
        );
        // October and 1 November: the month's rollups and one day's, each
        // holding a1's 10 s waits, merge into one histogram.
        let span: Period = "2026-10-01..2026-11-01".parse().unwrap();
        let wider = kpis.report(&span).await.expect("report over two months");
        let a1w = wider.agents.iter().find(|a| a.id == "a1").expect("a1");
        assert_eq!(a1w.kpi("offered"), Some(46.0));
        assert!(close(a1w.kpi("timely_answer_rate").unwrap(), 35.0 / 41.0));
        assert!(close(a1w.kpi("avg_wait_s").unwrap(), 450.0 / 41.0));
        assert_eq!(a1w.kpi("p90_wait_s"), Some(20.0));

        let a1 = report.agents.iter().find(|a| a.id == "a1").expect("a1");
        assert_eq!(a1.name, "张三");
        assert_eq!(a1.team.as_deref(), Some("一组"));
        let k = |key: &str| a1.kpi(key).unwrap_or_else(|| panic!("a1 has no {key}"));
        assert_eq!(k("offered"), 45.0);
        assert_eq!(k("answered"), 40.0);
        assert!(close(k("answer_rate"), 40.0 / 45.0));
        // 34 of 40 waited 15 s or less; waits 4×5 s, 30×10 s, 6×20 s.
        assert!(close(k("timely_answer_rate"), 0.85));
        assert!(close(k("avg_wait_s"), 11.0));
        assert_eq!(k("p90_wait_s"), 20.0);
        assert!(close(k("avg_score"), 3830.0 / 40.0));
        assert!(close(k("pass_rate"), 0.85));
        assert!(close(k("error_rate"), 0.15));
        assert_eq!(k("vetoes"), 0.0);
        assert!(close(k("satisfaction_avg"), 230.0 / 25.0));
        assert!(close(k("satisfied_share"), 0.8));
        assert_eq!(a1.kpi("complaint_reply_rate"), None);
        // Every KPI is reported against its target.
        let answer_rate = a1.kpis.iter().find(|v| v.key == "answer_rate").unwrap();
        assert_eq!(answer_rate.target, Some(Target::AtLeast(0.9)));
        assert_eq!(answer_rate.met, Some(false));
        assert_eq!(answer_rate.of, Some((40.0, 45.0)));
        let rules: Vec<(&str, i64)> = a1
            .rules
            .iter()
            .map(|r| (r.rule.as_str(), r.conversations))
            .collect();
        assert_eq!(rules, vec![("taboo", 6), ("closing", 4)]);

        // Two stars: the error rate 15 % is above the 10 % that three need.
        let rating = a1.rating.as_ref().unwrap();
        assert_eq!(rating.stars, Some(2));
        assert_eq!(rating.limited_by.len(), 1);
        assert_eq!(rating.limited_by[0].criterion, Criterion::Errors);
        assert_eq!(rating.limited_by[0].needed, Target::AtMost(0.10));
        assert_eq!(rating.no_data, vec![Criterion::Resolution]);

        // a2: ten calls are too few to rate.
        let a2 = report.agents.iter().find(|a| a.id == "a2").unwrap();
        assert_eq!(a2.rating.as_ref().unwrap().stars, None);
        assert_eq!(a2.kpi("vetoes"), Some(1.0));
        assert!(close(a2.kpi("avg_score").unwrap(), 90.0));

        // The centre and the teams.
        assert_eq!(report.centre.kpi("offered"), Some(55.0));
        assert_eq!(report.centre.kpi("answered"), Some(50.0));
        assert_eq!(report.centre.kpi("vetoes"), Some(1.0));
        let team1 = report.teams.iter().find(|t| t.id == "一组").unwrap();
        assert_eq!(team1.kpi("answered"), Some(40.0));

        // Assessment: language 85 (6 of 40 broke it), communication 100,
        // process (服务流程 90, 时效 100) 95, satisfaction 80; weighted
        // (85×30 + 100×25 + 95×25 + 80×20) / 100 = 90.25 → reward.
        let settings = kpis.settings().await.unwrap();
        let results = assess(&report, &settings.assessment);
        let r1 = results.iter().find(|r| r.agent_id == "a1").unwrap();
        assert_eq!(r1.indicators.get("language"), Some(&85.0));
        assert_eq!(r1.indicators.get("communication"), Some(&100.0));
        assert_eq!(r1.indicators.get("process"), Some(&95.0));
        assert_eq!(r1.indicators.get("satisfaction"), Some(&80.0));
        assert_eq!(r1.total, Some(90.25));
        assert_eq!(r1.rank, Some(1));
        assert_eq!(r1.recommendation.as_deref(), Some("reward"));
        assert_eq!(r1.focus_rules[0].rule, "taboo");
        let r2 = results.iter().find(|r| r.agent_id == "a2").unwrap();
        assert!(r2.not_assessed.is_some());

        // A run is frozen once published.
        let sup = who("sup1", Role::Supervisor);
        let run = kpis.run_assessment(&oct, &sup, 1).await.expect("run");
        assert_eq!(run.status, "draft");
        let published = kpis
            .publish_assessment(run.id, &sup, 2)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(published.status, "published");
        let tamper = sqlx::query("UPDATE assessments SET results = '[]' WHERE id = $1")
            .bind(run.id)
            .execute(kefu_store::testing::pool(&store))
            .await;
        assert!(tamper.is_err(), "a published assessment must be frozen");
        // A new run of the period is a new draft beside the published one.
        let again = kpis.run_assessment(&oct, &sup, 3).await.expect("rerun");
        assert_ne!(again.id, run.id);
        // A period has one published run.
        let second = kpis.publish_assessment(again.id, &sup, 3).await;
        assert!(matches!(second, Err(Error::Conflict(_))), "{second:?}");

        // Tighter settings are honoured: with 10 s as the answer limit only
        // 4 + 30 of 40 are timely (the same here), with 5 s only 4.
        let mut strict = settings.clone();
        strict.answer_within_s = 5;
        kpis.set_settings(&strict, "sup1", 4).await.unwrap();
        let report = kpis.report(&oct).await.unwrap();
        let a1 = report.agents.iter().find(|a| a.id == "a1").unwrap();
        assert!(close(a1.kpi("timely_answer_rate").unwrap(), 0.1));
        strict.answer_within_s = 0;
        assert!(kpis.set_settings(&strict, "sup1", 5).await.is_err());
    }
);

both_backends!(
    reviews_and_appeals_change_scores_and_are_audited,
    |store: Store| async move {
        load(&store).await;
        let reviews = ReviewService::new(store.clone());
        let kpis = KpiService::new(store.clone());
        let oct: Period = "2026-10".parse().unwrap();
        let qa = who("qa1", Role::Inspector);
        let sup = who("sup1", Role::Supervisor);
        let a1 = who("a1", Role::Agent);
        let a2 = who("a2", Role::Agent);

        // The automatic result of a taboo call: 75, failed.
        let view = reviews.view(&qa, "a1-taboo-0").await.unwrap();
        assert_eq!(view.result.score, 75.0);
        assert_eq!(view.result.findings[0].key, "auto:0");
        assert!(view.review.is_none());
        // Other agents do not see it.
        assert!(matches!(
            reviews.view(&a2, "a1-taboo-0").await,
            Err(Error::NotFound(_))
        ));
        // Agents do not review.
        assert!(matches!(
            reviews
                .save_review(&a1, "a1-taboo-0", &ReviewInput::default(), None, 1)
                .await,
            Err(Error::Forbidden(_))
        ));

        // The inspector overturns the finding on a1-taboo-1 (the customer
        // said it) and scores 普通话 −2: 100 − 2 = 98.
        let input = ReviewInput {
            decisions: vec![Decision {
                key: "auto:0".into(),
                verdict: Verdict::Overturn,
                comment: Some("转述客户原话".into()),
            }],
            manual: vec![ManualScore {
                rule: "mandarin".into(),
                deduction: 2.0,
                comment: Some("有方言".into()),
            }],
            ..Default::default()
        };
        let reviewed = reviews
            .save_review(&qa, "a1-taboo-1", &input, None, 10)
            .await
            .expect("review");
        assert_eq!(reviewed.result.score, 98.0);
        assert!(reviewed.result.passed);
        assert_eq!(reviewed.review.as_ref().unwrap().auto_score, 75.0);
        assert_eq!(reviewed.automatic["score"], 75);
        // Saving again from a stale version is a conflict.
        assert!(matches!(
            reviews
                .save_review(&qa, "a1-taboo-1", &input, None, 11)
                .await,
            Err(Error::Conflict(_))
        ));

        // The agent appeals the taboo finding on a1-taboo-0.
        let appeal = reviews
            .file_appeal(&a1, "a1-taboo-0", "auto:0", "是在复述客户的话", 20)
            .await
            .expect("appeal");
        assert_eq!(appeal.state, "open");
        assert_eq!(appeal.score_before, 75.0);
        // Once per finding; only by the conversation's agent.
        assert!(matches!(
            reviews
                .file_appeal(&a1, "a1-taboo-0", "auto:0", "再申诉", 21)
                .await,
            Err(Error::Conflict(_))
        ));
        assert!(matches!(
            reviews
                .file_appeal(&a2, "a1-taboo-0", "auto:0", "代申诉", 21)
                .await,
            Err(Error::NotFound(_))
        ));
        // The inspector who reviewed a result may not decide its appeal.
        reviews
            .save_review(&qa, "a1-taboo-0", &ReviewInput::default(), None, 22)
            .await
            .expect("confirming review");
        assert!(matches!(
            reviews
                .decide_appeal(&qa, appeal.id, true, "同意", 23)
                .await,
            Err(Error::Forbidden(_))
        ));
        let qa_as_supervisor = who("qa1", Role::Supervisor);
        assert!(matches!(
            reviews
                .decide_appeal(&qa_as_supervisor, appeal.id, true, "同意", 23)
                .await,
            Err(Error::Forbidden(_))
        ));
        // The supervisor accepts: the finding is withdrawn, the score is 100.
        let decided = reviews
            .decide_appeal(&sup, appeal.id, true, "录音核实为复述", 30)
            .await
            .expect("decide");
        assert_eq!(decided.state, "accepted");
        assert_eq!(decided.score_after, Some(100.0));
        assert!(matches!(
            reviews
                .decide_appeal(&sup, appeal.id, false, "改判", 31)
                .await,
            Err(Error::Conflict(_))
        ));
        let view = reviews.view(&a1, "a1-taboo-0").await.unwrap();
        assert_eq!(view.result.score, 100.0);
        assert_eq!(view.appeals.len(), 1);

        // A rejected appeal leaves the score.
        let second = reviews
            .file_appeal(&a1, "a1-taboo-2", "auto:0", "客户没有听清", 40)
            .await
            .unwrap();
        let rejected = reviews
            .decide_appeal(&sup, second.id, false, "录音清楚，维持", 41)
            .await
            .unwrap();
        assert_eq!(
            (rejected.state.as_str(), rejected.score_after),
            ("rejected", Some(75.0))
        );
        // Each decision told the agent (an outbox row committed with it);
        // the refused ones told nobody.
        let told: Vec<(String, String)> = sqlx::query(
            "SELECT recipients, summary FROM notifications WHERE event = 'appeal.decided' ORDER BY id",
        )
        .fetch_all(kefu_store::testing::pool(&store))
        .await
        .expect("notifications")
        .iter()
        .map(|r| {
            use sqlx::Row;
            (r.get("recipients"), r.get("summary"))
        })
        .collect();
        assert_eq!(told.len(), 2, "{told:?}");
        assert!(told.iter().all(|(to, _)| to == r#"["a1"]"#), "{told:?}");
        assert!(told[0].1.contains(r#""state":"accepted""#), "{told:?}");
        assert!(told[1].1.contains(r#""state":"rejected""#), "{told:?}");

        // The agent sees every step of their appeal.
        let (_, trail) = reviews.appeal(&a1, appeal.id).await.unwrap();
        let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, vec!["filed", "accepted"]);
        assert!(matches!(
            reviews.appeal(&a2, appeal.id).await,
            Err(Error::NotFound(_))
        ));
        assert_eq!(reviews.appeals(&a2, None, 50).await.unwrap().len(), 0);
        assert_eq!(
            reviews.appeals(&sup, Some("open"), 50).await.unwrap().len(),
            0
        );
        // The audit log cannot be rewritten.
        assert!(sqlx::query("DELETE FROM audit_log")
            .execute(kefu_store::testing::pool(&store))
            .await
            .is_err());

        // KPIs follow: two of the six taboo calls now score 98 and 100.
        let report = kpis.report(&oct).await.unwrap();
        let a1r = report.agents.iter().find(|a| a.id == "a1").unwrap();
        let expected = (3000.0 + 4.0 * 75.0 + 98.0 + 100.0 + 380.0) / 40.0;
        assert!(close(a1r.kpi("avg_score").unwrap(), expected));
        assert!(close(a1r.kpi("pass_rate").unwrap(), 36.0 / 40.0));
        assert_eq!(a1r.kpi("reviewed"), Some(2.0));
        let taboo = a1r.rules.iter().find(|r| r.rule == "taboo").unwrap();
        assert_eq!(taboo.conversations, 4);
        // Reviews and appeals changed the rollups in place; a rebuild from
        // the base tables agrees.
        store.rebuild_rollups().await.unwrap();
        assert_eq!(kpis.report(&oct).await.unwrap(), report);
    }
);

both_backends!(
    review_queues_are_fair_and_reproducible,
    |store: Store| async move {
        load(&store).await;
        let reviews = ReviewService::new(store.clone());
        let qa = who("qa1", Role::Inspector);
        let oct: Period = "2026-10".parse().unwrap();
        let outcome = reviews
            .build_queue(&qa, &oct, 0.1, "seed-1", 1)
            .await
            .unwrap();
        assert_eq!(outcome.veto, 1);
        assert_eq!(outcome.below_pass, 6);
        let queue = reviews.queue(&qa, true, None, 1000, 0).await.unwrap();
        assert_eq!(queue[0].reason, "veto");
        let random: BTreeSet<String> = queue
            .iter()
            .filter(|q| q.reason == "random")
            .map(|q| q.conversation_id.clone())
            .collect();
        assert_eq!(random.len() as u64, outcome.random);
        // Every agent with passing calls gets at least one pick per week.
        assert!(random.iter().any(|c| c.starts_with("a2-")));
        assert!(random.iter().any(|c| c.starts_with("a1-")));
        // Building again adds nothing.
        let again = reviews
            .build_queue(&qa, &oct, 0.1, "seed-1", 2)
            .await
            .unwrap();
        assert_eq!((again.veto, again.below_pass, again.random), (0, 0, 0));
        assert_eq!(again.already_queued, 7 + outcome.random);
        // The same data and seed in another database pick the same sample; a
        // different seed picks a different one.
        assert_eq!(
            random_sample_elsewhere("queue_twin", "seed-1").await,
            random
        );
        assert_ne!(
            random_sample_elsewhere("queue_other_seed", "seed-2").await,
            random
        );
        // Reviewing a queued conversation closes its entry.
        let first = queue[0].conversation_id.clone();
        reviews
            .save_review(&qa, &first, &ReviewInput::default(), None, 5)
            .await
            .unwrap();
        let open = reviews.queue(&qa, true, None, 1000, 0).await.unwrap();
        assert!(open.iter().all(|q| q.conversation_id != first));
        // Agents have no queue.
        assert!(reviews
            .queue(&who("a1", Role::Agent), true, None, 10, 0)
            .await
            .is_err());
    }
);

both_backends!(
    reviews_and_appeals_survive_reinspection,
    |store: Store| async move {
        load(&store).await;
        let reviews = ReviewService::new(store.clone());
        let (qa, a1, sup) = (
            who("qa1", Role::Inspector),
            who("a1", Role::Agent),
            who("sup1", Role::Supervisor),
        );
        let before = reviews.view(&qa, "a1-taboo-3").await.unwrap();
        let v1 = before.pack_version_id;
        // A review (overturn, 100 − 2 = 98) and an open appeal.
        let input = ReviewInput {
            decisions: vec![Decision {
                key: "auto:0".into(),
                verdict: Verdict::Overturn,
                comment: Some("转述客户原话".into()),
            }],
            manual: vec![ManualScore {
                rule: "mandarin".into(),
                deduction: 2.0,
                comment: None,
            }],
            ..Default::default()
        };
        reviews
            .save_review(&qa, "a1-taboo-1", &input, None, 10)
            .await
            .expect("review");
        let appeal = reviews
            .file_appeal(&a1, "a1-taboo-2", "auto:0", "复述客户原话", 20)
            .await
            .expect("appeal");

        // A new pack version: every other result is replaced, the judged
        // ones are kept current.
        let v2_text = PACK.replace("version = \"1\"", "version = \"2\"");
        let v2 = store
            .register_pack("fixture", "2", &v2_text)
            .await
            .expect("register v2");
        let inspector = Inspector::new(RulePack::from_toml(&v2_text).unwrap()).unwrap();
        let total = store.conversation_count().await.unwrap() as u64;
        let out = store
            .reinspect(&inspector, v2.id, 7)
            .await
            .expect("reinspect");
        assert_eq!(out.kept, 2, "{out:?}");
        assert_eq!(out.reinspected, total - 2, "{out:?}");
        // Running it again changes nothing and still reports what it kept.
        let again = store.reinspect(&inspector, v2.id, 7).await.unwrap();
        assert_eq!((again.reinspected, again.kept), (0, 2), "{again:?}");

        let reviewed = reviews.view(&qa, "a1-taboo-1").await.unwrap();
        assert_eq!(reviewed.pack_version_id, v1);
        assert_eq!(reviewed.result.score, 98.0);
        assert!(reviewed.review.is_some());
        let unjudged = reviews.view(&qa, "a1-taboo-3").await.unwrap();
        assert_eq!(unjudged.pack_version_id, v2.id);
        assert!(unjudged.review.is_none());
        // The appeal still belongs to the current result and can be decided.
        let appealed = reviews.view(&qa, "a1-taboo-2").await.unwrap();
        assert_eq!(appealed.pack_version_id, v1);
        assert_eq!(appealed.appeals.len(), 1);
        let decided = reviews
            .decide_appeal(&sup, appeal.id, true, "录音核实", 30)
            .await
            .expect("decide after re-inspection");
        assert_eq!(decided.state, "accepted");
        assert_eq!(
            reviews.view(&qa, "a1-taboo-2").await.unwrap().result.score,
            100.0
        );
    }
);

/// Rows in each rollup table, for comparing with a rebuild.
async fn rollup_row_counts(store: &Store) -> Vec<(String, i64)> {
    use sqlx::Row;
    let mut counts = Vec::new();
    for table in [
        "kpi_daily",
        "wait_daily",
        "score_daily",
        "rule_daily",
        "dimension_daily",
    ] {
        let n: i64 = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) AS n FROM {table}"
        )))
        .fetch_one(kefu_store::testing::pool(store))
        .await
        .expect("count")
        .get("n");
        counts.push((table.to_string(), n));
    }
    counts
}

both_backends!(
    reinspection_changes_rollups_in_place,
    |store: Store| async move {
        load(&store).await;
        let reviews = ReviewService::new(store.clone());
        let kpis = KpiService::new(store.clone());
        let qa = who("qa1", Role::Inspector);
        let oct: Period = "2026-10".parse().unwrap();
        // A reviewed result stays current (and counted) through it all.
        reviews
            .save_review(&qa, "a1-taboo-1", &ReviewInput::default(), None, 10)
            .await
            .expect("review");
        let before = kpis.report(&oct).await.expect("report before");

        // Version 2 moves every day (10:00 +08:00 is the day before at
        // -04:00), costs more for 不知道, drops the veto rule and asks for
        // 再会 instead of 再见: days, scores, passes, vetoes and rule rows
        // all change, some rows fall to zero.
        let v2_text = PACK
            .replace("version = \"1\"", "version = \"2\"\ntimezone = \"-04:00\"")
            .replace("deduction = 25", "deduction = 30")
            .replace("phrases = [\"再见\"]", "phrases = [\"再会\"]")
            .replace(
                "veto = true\nphrases = [\"神经病\"]",
                "phrases = [\"神经病神经病\"]",
            );
        let v2 = store
            .register_pack("fixture", "2", &v2_text)
            .await
            .expect("register v2");
        let inspector = Inspector::new(RulePack::from_toml(&v2_text).unwrap()).unwrap();
        let out = store
            .reinspect(&inspector, v2.id, 7)
            .await
            .expect("reinspect");
        assert_eq!(out.kept, 1, "{out:?}");
        // Nothing left to rebuild: the report reads the rollups as they are.
        assert!(!store.rollups_stale().await.unwrap());
        let after = kpis.report(&oct).await.expect("report after");
        assert_ne!(after, before);
        let insulted = |r: &kefu_service::kpi::PeriodReport| {
            r.agents
                .iter()
                .filter(|a| a.rules.iter().any(|r| r.rule == "insult"))
                .count()
        };
        assert!(insulted(&before) > 0);
        assert_eq!(insulted(&after), 0, "the veto rule's rows fell to zero");
        let counts = rollup_row_counts(&store).await;

        // A rebuild from the base tables gives the same rows and report.
        store.rebuild_rollups().await.expect("rebuild");
        assert_eq!(rollup_row_counts(&store).await, counts);
        assert_eq!(kpis.report(&oct).await.unwrap(), after);
        let sept: Period = "2026-09".parse().unwrap();
        let moved = kpis.report(&sept).await.unwrap();
        assert!(
            moved
                .agents
                .iter()
                .any(|a| a.kpi("offered").unwrap_or(0.0) > 0.0),
            "the 1 October calls moved to 30 September"
        );
    }
);

both_backends!(
    reviewing_an_unanswered_call_leaves_nothing_to_rebuild,
    |store: Store| async move {
        load(&store).await;
        let reviews = ReviewService::new(store.clone());
        let kpis = KpiService::new(store.clone());
        let qa = who("qa1", Role::Inspector);
        let oct: Period = "2026-10".parse().unwrap();
        let reviewed = |r: &kefu_service::kpi::PeriodReport| {
            r.agents
                .iter()
                .find(|a| a.id == "a1")
                .and_then(|a| a.kpi("reviewed"))
        };
        assert_eq!(reviewed(&kpis.report(&oct).await.unwrap()), Some(0.0));
        // Reviewed, then the review edited: counted once.
        let first = reviews
            .save_review(&qa, "a1-abandoned-2", &ReviewInput::default(), None, 10)
            .await
            .expect("review an abandoned call");
        let version = first.review.as_ref().map(|r| r.version);
        reviews
            .save_review(&qa, "a1-abandoned-2", &ReviewInput::default(), version, 11)
            .await
            .expect("edit the review");
        assert!(!store.rollups_stale().await.unwrap());
        let report = kpis.report(&oct).await.expect("report");
        assert_eq!(reviewed(&report), Some(1.0));
        store.rebuild_rollups().await.expect("rebuild");
        assert_eq!(kpis.report(&oct).await.unwrap(), report);
    }
);
