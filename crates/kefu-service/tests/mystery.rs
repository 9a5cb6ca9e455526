//! Mystery customers (神秘客户) on SQLite and PostgreSQL: the score
//! (weights, n.a., the critical-item rule) on golden numbers; reviews
//! (only approved shops count; a re-shop replaces); the assessment's
//! mystery-shop indicator moving an agent's total by the expected amount;
//! the agreement report against the default pack's inspection; and that
//! agents never see plans.

use kefu_engine::{Conversation, Inspector, RulePack, Scratch};
use kefu_service::auth::{Principal, Role};
use kefu_service::kpi::{Indicator, IndicatorSource, KpiService};
use kefu_service::mystery::{
    score_shop, Decision, ItemResult, MysteryService, NewPlan, NewShop, PlanState, SheetInput,
    ShopFilter, ShopState, TargetKind, Verdict,
};
use kefu_service::period::Period;
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

const SHEET: &str = include_str!("../../../examples/mystery/phone-basic.toml");

fn verdicts(v: &[(&str, Verdict)]) -> Vec<ItemResult> {
    v.iter()
        .map(|(item, verdict)| ItemResult {
            item: item.to_string(),
            verdict: *verdict,
            note: None,
        })
        .collect()
}

use Verdict::{Fail, Na, Pass};

fn all(greet: Verdict, solve: Verdict, no_taboo: Verdict, farewell: Verdict) -> Vec<ItemResult> {
    verdicts(&[
        ("greet", greet),
        ("solve", solve),
        ("no_taboo", no_taboo),
        ("farewell", farewell),
    ])
}

async fn import(store: &Store, id: &str, agent: &str, turns: &[(&str, &str)]) {
    let turns: Vec<serde_json::Value> = turns
        .iter()
        .map(|(role, text)| serde_json::json!({"role": role, "text": text}))
        .collect();
    let line = serde_json::json!({
        "id": id, "channel": "phone", "agent_id": agent, "agent_name": agent,
        "started_at": "2026-11-05T10:00:00+08:00", "turns": turns
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

const GOOD: &[(&str, &str)] = &[
    ("agent", "您好，请问有什么可以帮您？"),
    ("customer", "我想查一下我的订单到哪了。"),
    (
        "agent",
        "好的，已经为您查到，明天送达。感谢您的来电，再见！",
    ),
];
const BAD: &[(&str, &str)] = &[
    ("agent", "说吧。"),
    ("customer", "我想查一下我的订单到哪了。"),
    ("agent", "不知道。"),
];

async fn setup(store: &Store) -> (MysteryService, String) {
    let svc = MysteryService::new(store.clone());
    let sup = who("sup", Role::Supervisor);
    let sheet = SheetInput::parse(SHEET).expect("sheet parses");
    let saved = svc
        .save_sheet(&sup, &sheet, T0 - 10 * HOUR)
        .await
        .expect("sheet");
    assert_eq!(saved.version, 1);
    let plan = svc
        .create_plan(
            &sup,
            &NewPlan {
                title: "十一月电话暗访".into(),
                scenario: "咨询订单物流".into(),
                persona: "老客户，语气急".into(),
                script: "我的快递三天没动了，怎么回事？".into(),
                target_kind: TargetKind::Agent,
                target: "a-07".into(),
                channel: "phone".into(),
                window_from: T0 - 24 * HOUR,
                window_to: T0 + 24 * HOUR,
                sheet_id: "phone-basic".into(),
            },
            T0 - 9 * HOUR,
        )
        .await
        .expect("plan");
    assert_eq!(plan.state, PlanState::Draft);
    assert_eq!(plan.sheet_version, 1);
    svc.set_plan_state(&sup, &plan.id, PlanState::Active, Some(1), T0 - 8 * HOUR)
        .await
        .expect("activate");
    (svc, plan.id)
}

fn shop(plan: &str, conversation: Option<&str>, results: Vec<ItemResult>) -> NewShop {
    NewShop {
        plan_id: plan.into(),
        previous_id: None,
        shopper_name: Some("外部暗访员 张三".into()),
        shopped_at: T0,
        agent_id: None,
        conversation_id: conversation.map(str::to_string),
        results,
    }
}

#[test]
fn scores_follow_weights_na_and_the_critical_item() {
    // A sheet as stored, through the public parser and a service-free
    // helper: score_shop needs a Sheet, built from the parsed input.
    let input = SheetInput::parse(SHEET).unwrap().validated().unwrap();
    let sheet = kefu_service::mystery::Sheet {
        id: input.id.clone(),
        version: 1,
        name: input.name.clone(),
        sections: input.sections.clone(),
        created_by: "t".into(),
        created_at: 0,
    };
    let s = |r: Vec<ItemResult>| score_shop(&sheet, &r).unwrap();
    assert_eq!(s(all(Pass, Pass, Pass, Pass)).score, 100.0);
    // greet (10) failed: 90 of 100.
    assert_eq!(s(all(Fail, Pass, Pass, Pass)).score, 90.0);
    // greet failed, farewell n.a.: 70 of 80.
    let r = s(all(Fail, Pass, Pass, Na));
    assert_eq!((r.score, r.earned, r.possible), (87.5, 70.0, 80.0));
    // no_taboo and farewell failed: 50.
    assert_eq!(s(all(Pass, Pass, Fail, Fail)).score, 50.0);
    // The critical item failed: 0 whatever else passed.
    let r = s(all(Pass, Fail, Pass, Pass));
    assert_eq!(r.score, 0.0);
    assert!(r.critical_failed);
    // More combinations (two-decimal rounding: 20 of 60 → 33.33).
    assert_eq!(s(all(Na, Fail, Pass, Na)).score, 0.0);
    assert_eq!(s(all(Fail, Na, Pass, Fail)).score, 50.0);
    assert_eq!(s(all(Na, Na, Pass, Fail)).score, 60.0);
    assert_eq!(s(all(Fail, Na, Pass, Na)).score, 75.0);
    assert_eq!(s(all(Na, Na, Fail, Pass)).score, 40.0);
    assert_eq!(s(all(Fail, Na, Fail, Pass)).score, 33.33);
    assert_eq!(s(all(Na, Na, Pass, Pass)).score, 100.0);
    assert_eq!(s(all(Pass, Na, Fail, Fail)).score, 16.67);
    // Every item needs a verdict, at least one applicable; no strangers.
    assert!(score_shop(&sheet, &all(Na, Na, Na, Na)).is_err());
    assert!(score_shop(&sheet, &verdicts(&[("greet", Pass)])).is_err());
    let mut extra = all(Pass, Pass, Pass, Pass);
    extra.push(ItemResult {
        item: "bogus".into(),
        verdict: Pass,
        note: None,
    });
    assert!(score_shop(&sheet, &extra).is_err());
    // Bad sheets are refused.
    let dup = SHEET.replace("id = \"solve\"", "id = \"greet\"");
    assert!(SheetInput::parse(&dup).unwrap().validated().is_err());
    let zero = SHEET.replace("weight = 40", "weight = 0");
    assert!(SheetInput::parse(&zero).unwrap().validated().is_err());
}

both_backends!(
    only_approved_shops_count_and_a_reshop_replaces,
    |store: Store| async move {
        import(&store, "CALL-M-1", "a-07", GOOD).await;
        let (svc, plan) = setup(&store).await;
        let qa = who("qa", Role::Inspector);
        let sup = who("sup", Role::Supervisor);
        let sup2 = who("sup2", Role::Supervisor);

        // The linked conversation must exist; its agent is the agent served.
        let err = svc
            .record_shop(
                &qa,
                &shop(&plan, Some("NOPE"), all(Pass, Pass, Pass, Pass)),
                T0,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Invalid(_)), "{err:?}");
        // Outside the window.
        let mut late = shop(&plan, None, all(Pass, Pass, Pass, Pass));
        late.shopped_at = T0 + 48 * HOUR;
        assert!(matches!(
            svc.record_shop(&qa, &late, T0).await,
            Err(Error::Invalid(_))
        ));

        let s1 = svc
            .record_shop(
                &qa,
                &shop(&plan, Some("CALL-M-1"), all(Fail, Pass, Pass, Pass)),
                T0 + HOUR,
            )
            .await
            .expect("shop");
        assert_eq!(s1.state, ShopState::Submitted);
        assert_eq!(s1.agent_id.as_deref(), Some("a-07"));
        assert_eq!(s1.score, 90.0);
        // Submitted shops do not count.
        assert!(svc.results(&sup, None, None).await.unwrap().is_empty());
        // The shopper does not review their own shop; agents do not review.
        let qa_sup = who("qa", Role::Supervisor);
        assert!(matches!(
            svc.review(&qa_sup, &s1.id, &Decision::Approve, None, T0)
                .await,
            Err(Error::Forbidden(_))
        ));
        // Returned with a reason: does not count either.
        assert!(matches!(
            svc.review(
                &sup,
                &s1.id,
                &Decision::Return { reason: " ".into() },
                None,
                T0
            )
            .await,
            Err(Error::Invalid(_))
        ));
        let returned = svc
            .review(
                &sup,
                &s1.id,
                &Decision::Return {
                    reason: "录音与记录不符".into(),
                },
                Some(1),
                T0 + 2 * HOUR,
            )
            .await
            .expect("return");
        assert_eq!(returned.state, ShopState::Returned);
        assert_eq!(returned.return_reason.as_deref(), Some("录音与记录不符"));
        assert!(matches!(
            svc.review(&sup, &s1.id, &Decision::Approve, None, T0).await,
            Err(Error::Conflict(_))
        ));
        assert!(svc.results(&sup, None, None).await.unwrap().is_empty());

        // The re-shop joins the chain and, once approved, counts.
        let mut again = shop(&plan, Some("CALL-M-1"), all(Pass, Pass, Pass, Pass));
        again.previous_id = Some(s1.id.clone());
        let s2 = svc
            .record_shop(&qa, &again, T0 + 3 * HOUR)
            .await
            .expect("re-shop");
        assert_eq!(s2.chain_id, s1.id);
        assert_eq!(s2.previous_id.as_deref(), Some(s1.id.as_str()));
        // A shop is re-shopped once.
        assert!(matches!(
            svc.record_shop(&qa, &again, T0 + 3 * HOUR).await,
            Err(Error::Conflict(_))
        ));
        svc.review(&sup2, &s2.id, &Decision::Approve, None, T0 + 4 * HOUR)
            .await
            .expect("approve");
        let results = svc.results(&sup, None, None).await.unwrap();
        assert_eq!(results.len(), 1);
        assert_eq!((results[0].shops, results[0].average), (1, 100.0));

        // An approved shop re-shopped: the earlier one counts until the
        // re-shop is approved, then only the re-shop.
        let mut third = shop(&plan, Some("CALL-M-1"), all(Pass, Pass, Fail, Fail));
        third.previous_id = Some(s2.id.clone());
        let s3 = svc
            .record_shop(&qa, &third, T0 + 5 * HOUR)
            .await
            .expect("re-shop");
        assert_eq!(s3.chain_id, s1.id);
        let results = svc.results(&sup, None, None).await.unwrap();
        assert_eq!((results[0].shops, results[0].average), (1, 100.0));
        svc.review(&sup, &s3.id, &Decision::Approve, None, T0 + 6 * HOUR)
            .await
            .expect("approve");
        let results = svc.results(&sup, None, None).await.unwrap();
        assert_eq!((results[0].shops, results[0].average), (1, 50.0));
        assert_eq!(results[0].items[0].id, s3.id);

        // A second, independent shop averages in.
        let s4 = svc
            .record_shop(
                &qa,
                &shop(&plan, None, all(Fail, Pass, Pass, Na)),
                T0 + 7 * HOUR,
            )
            .await
            .unwrap();
        assert_eq!(
            s4.agent_id.as_deref(),
            Some("a-07"),
            "from the plan's target"
        );
        svc.review(&sup, &s4.id, &Decision::Approve, None, T0 + 8 * HOUR)
            .await
            .unwrap();
        let results = svc.results(&sup, None, None).await.unwrap();
        assert_eq!((results[0].shops, results[0].average), (2, 68.75));

        // Closed plans take no shops.
        svc.set_plan_state(&sup, &plan, PlanState::Closed, None, T0 + 9 * HOUR)
            .await
            .unwrap();
        assert!(matches!(
            svc.record_shop(&qa, &shop(&plan, None, all(Pass, Pass, Pass, Pass)), T0)
                .await,
            Err(Error::Conflict(_))
        ));
    }
);

both_backends!(
    agents_never_see_plans_aimed_at_them,
    |store: Store| async move {
        let (svc, plan) = setup(&store).await;
        let agent = who("a-07", Role::Agent);
        let other = who("a-08", Role::Agent);
        let qa = who("qa", Role::Inspector);
        let sup = who("sup", Role::Supervisor);
        assert!(matches!(
            svc.plans(&agent, &[]).await,
            Err(Error::Forbidden(_))
        ));
        assert!(matches!(
            svc.plan(&agent, &plan).await,
            Err(Error::NotFound(_))
        ));
        assert!(matches!(svc.sheets(&agent).await, Err(Error::Forbidden(_))));
        assert_eq!(svc.plans(&qa, &[]).await.unwrap().len(), 1);
        // Agents and inspectors do not create plans; agents do not shop.
        assert!(matches!(
            svc.set_plan_state(&qa, &plan, PlanState::Closed, None, T0)
                .await,
            Err(Error::Forbidden(_))
        ));
        assert!(matches!(
            svc.record_shop(&agent, &shop(&plan, None, all(Pass, Pass, Pass, Pass)), T0)
                .await,
            Err(Error::Forbidden(_))
        ));
        let s = svc
            .record_shop(&qa, &shop(&plan, None, all(Pass, Pass, Pass, Pass)), T0)
            .await
            .unwrap();
        // Before approval the shop is invisible to the agent it targets.
        assert!(matches!(
            svc.shop(&agent, &s.id).await,
            Err(Error::NotFound(_))
        ));
        assert!(svc
            .shops(&agent, &ShopFilter::default())
            .await
            .unwrap()
            .is_empty());
        assert!(svc.results(&agent, None, None).await.unwrap().is_empty());
        svc.review(&sup, &s.id, &Decision::Approve, None, T0 + HOUR)
            .await
            .unwrap();
        // Approved: the agent sees their own result, others do not.
        assert_eq!(svc.shop(&agent, &s.id).await.unwrap().score, 100.0);
        assert_eq!(
            svc.shops(&agent, &ShopFilter::default())
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(svc.results(&agent, None, None).await.unwrap().len(), 1);
        assert!(matches!(
            svc.shop(&other, &s.id).await,
            Err(Error::NotFound(_))
        ));
        assert!(svc.results(&other, None, None).await.unwrap().is_empty());
        // Still no plans for the agent.
        assert!(matches!(
            svc.plan(&agent, &plan).await,
            Err(Error::NotFound(_))
        ));
        assert!(matches!(
            svc.agreement(&agent, None, None).await,
            Err(Error::Forbidden(_))
        ));
    }
);

both_backends!(
    the_mystery_indicator_moves_the_assessment_by_its_weight,
    |store: Store| async move {
        import(&store, "CALL-A-1", "a-07", GOOD).await;
        import(&store, "CALL-A-2", "a-07", BAD).await;
        import(&store, "CALL-A-3", "a-08", BAD).await;
        let (svc, plan) = setup(&store).await;
        let kpis = KpiService::new(store.clone());
        let sup = who("sup", Role::Supervisor);
        let mut settings = kpis.settings().await.unwrap();
        settings.assessment.min_conversations = 1;
        kpis.set_settings(&settings, "sup", T0).await.unwrap();
        let period: Period = "2026-11".parse().unwrap();

        let before = kpis.run_assessment(&period, &sup, T0).await.unwrap();
        let b7 = before
            .results
            .iter()
            .find(|r| r.agent_id == "a-07")
            .unwrap()
            .clone();
        let b8 = before
            .results
            .iter()
            .find(|r| r.agent_id == "a-08")
            .unwrap()
            .clone();

        // An approved shop of 87.5 for a-07.
        let qa = who("qa", Role::Inspector);
        let s = svc
            .record_shop(
                &qa,
                &shop(&plan, Some("CALL-A-1"), all(Fail, Pass, Pass, Na)),
                T0,
            )
            .await
            .unwrap();
        svc.review(&sup, &s.id, &Decision::Approve, None, T0 + HOUR)
            .await
            .unwrap();

        // Without a mystery indicator in the scheme nothing changes.
        let same = kpis.run_assessment(&period, &sup, T0 + HOUR).await.unwrap();
        assert_eq!(same.results, before.results);

        // With weight 20: total = (Σ wᵢsᵢ + 20 × 87.5) / (Σ wᵢ + 20) over
        // the indicators a-07 had data for.
        settings.assessment.indicators.push(Indicator {
            id: "mystery".into(),
            name: "神秘客户".into(),
            name_en: "Mystery shopping".into(),
            weight: 20.0,
            source: IndicatorSource::MysteryShop,
        });
        kpis.set_settings(&settings, "sup", T0).await.unwrap();
        let after = kpis
            .run_assessment(&period, &sup, T0 + 2 * HOUR)
            .await
            .unwrap();
        let a7 = after.results.iter().find(|r| r.agent_id == "a-07").unwrap();
        assert_eq!(a7.indicators.get("mystery"), Some(&87.5));
        let (mut wsum, mut weight) = (0.0, 0.0);
        for ind in &settings.assessment.indicators {
            if let Some(s) = b7.indicators.get(&ind.id) {
                wsum += s * ind.weight;
                weight += ind.weight;
            }
        }
        let expected = ((wsum + 20.0 * 87.5) / (weight + 20.0) * 100.0).round() / 100.0;
        assert_eq!(a7.total, Some(expected));
        assert_ne!(a7.total, b7.total);
        // An agent without shops keeps their total.
        let a8 = after.results.iter().find(|r| r.agent_id == "a-08").unwrap();
        assert_eq!(a8.total, b8.total);
        assert!(!a8.indicators.contains_key("mystery"));
    }
);

both_backends!(
    agreement_compares_shoppers_with_the_inspection,
    |store: Store| async move {
        import(&store, "CALL-G-1", "a-07", GOOD).await;
        import(&store, "CALL-G-2", "a-07", GOOD).await;
        import(&store, "CALL-B-1", "a-07", BAD).await;
        // The fixture: the default pack finds opening, forbidden and
        // closing in the bad call and none of them in the good ones.
        let rules = |id: &str| {
            let store = store.clone();
            let id = id.to_string();
            async move {
                let h = store.inspection_history(&id).await.unwrap();
                let r = &h[0].result;
                r["findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f["rule"].as_str().unwrap().to_string())
                    .collect::<Vec<_>>()
            }
        };
        let bad = rules("CALL-B-1").await;
        for r in ["opening", "forbidden", "closing"] {
            assert!(bad.iter().any(|x| x == r), "{r} in {bad:?}");
        }
        let good = rules("CALL-G-1").await;
        for r in ["opening", "forbidden", "closing"] {
            assert!(!good.iter().any(|x| x == r), "{r} in {good:?}");
        }

        let (svc, plan) = setup(&store).await;
        let qa = who("qa", Role::Inspector);
        let sup = who("sup", Role::Supervisor);
        let mut approve = Vec::new();
        for (conv, results) in [
            ("CALL-G-1", all(Pass, Pass, Pass, Pass)),
            ("CALL-B-1", all(Fail, Pass, Pass, Fail)),
            ("CALL-G-2", all(Fail, Pass, Pass, Na)),
        ] {
            let s = svc
                .record_shop(&qa, &shop(&plan, Some(conv), results), T0)
                .await
                .unwrap();
            approve.push(s.id);
        }
        for id in &approve {
            svc.review(&sup, id, &Decision::Approve, None, T0 + HOUR)
                .await
                .unwrap();
        }
        // Submitted and returned shops are not compared.
        svc.record_shop(
            &qa,
            &shop(&plan, Some("CALL-B-1"), all(Pass, Pass, Pass, Pass)),
            T0,
        )
        .await
        .unwrap();

        let report = svc.agreement(&sup, None, None).await.unwrap();
        assert_eq!((report.shops, report.inspected_shops), (3, 3));
        let row = |item: &str| report.items.iter().find(|r| r.item == item).unwrap();
        assert_eq!(report.items.len(), 3, "solve has no rule");
        let greet = row("greet");
        assert_eq!(greet.rule, "opening");
        assert_eq!(
            (
                greet.shops,
                greet.both_pass,
                greet.both_fail,
                greet.shopper_only_fail,
                greet.inspection_only_fail
            ),
            (3, 1, 1, 1, 0)
        );
        assert_eq!(greet.agreement_pct, Some(66.67));
        assert_eq!(greet.kappa, Some(0.4));
        let taboo = row("no_taboo");
        assert_eq!(
            (
                taboo.shops,
                taboo.both_pass,
                taboo.both_fail,
                taboo.shopper_only_fail,
                taboo.inspection_only_fail
            ),
            (3, 2, 0, 0, 1)
        );
        assert_eq!(taboo.agreement_pct, Some(66.67));
        assert_eq!(taboo.kappa, Some(0.0));
        let farewell = row("farewell");
        assert_eq!(
            (farewell.shops, farewell.both_pass, farewell.both_fail),
            (2, 1, 1),
            "the n.a. verdict is left out"
        );
        assert_eq!(farewell.agreement_pct, Some(100.0));
        assert_eq!(farewell.kappa, Some(1.0));
    }
);
