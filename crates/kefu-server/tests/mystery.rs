//! Mystery customers (神秘客户) on the real server, SQLite and PostgreSQL:
//! the JSON API (sheets as JSON and TOML, plans, shops, reviews, re-shops,
//! results, the agreement report and its CSV, what agents may see, the
//! OpenAPI entries) and the dashboard's forms over HTTP (create a plan,
//! record a shop, return it, re-shop, approve, the agreement page).

use kefu_service::auth::Role;
use kefu_store::testing::TestDb;
use reqwest::header::LOCATION;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

mod common;
use common::{csrf, Web};

const USERS: &[(&str, Role, &str)] = &[
    ("boss", Role::Supervisor, "boss-pass-1"),
    ("boss2", Role::Supervisor, "boss-pass-2"),
    ("qa", Role::Inspector, "inspector-pass-1"),
    ("a-07", Role::Agent, "agent-pass-07"),
];

const SHEET_TOML: &str = include_str!("../../../examples/mystery/phone-basic.toml");

fn now_china() -> chrono::DateTime<chrono::FixedOffset> {
    chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("tz"))
}

fn call_json(id: &str, good: bool) -> Value {
    let turns = if good {
        json!([{"role": "agent", "text": "您好，请问有什么可以帮您？"},
               {"role": "customer", "text": "我想查一下我的订单到哪了。"},
               {"role": "agent", "text": "好的，已经为您查到，明天送达。感谢您的来电，再见！"}])
    } else {
        json!([{"role": "agent", "text": "说吧。"},
               {"role": "customer", "text": "我想查一下我的订单到哪了。"},
               {"role": "agent", "text": "不知道。"}])
    };
    json!({"id": id, "channel": "phone", "agent_id": "a-07",
           "started_at": now_china().to_rfc3339(), "turns": turns})
}

fn verdicts(greet: &str, solve: &str, taboo: &str, farewell: &str) -> Value {
    json!([{"item": "greet", "verdict": greet},
           {"item": "solve", "verdict": solve, "note": "答复准确"},
           {"item": "no_taboo", "verdict": taboo},
           {"item": "farewell", "verdict": farewell}])
}

async fn api_scenario(db: TestDb) {
    let server = common::Server::start(db, USERS, str::to_string).await;
    let c = common::Client::of(&server);
    let boss = c.login("boss", "boss-pass-1").await;
    let boss2 = c.login("boss2", "boss-pass-2").await;
    let qa = c.login("qa", "inspector-pass-1").await;
    let a07 = c.login("a-07", "agent-pass-07").await;
    let (status, body) = c
        .call(
            &boss,
            Method::POST,
            "/api/v1/conversations",
            Some(json!([
                call_json("ms-good", true),
                call_json("ms-bad", false)
            ])),
        )
        .await;
    assert!(status.is_success(), "{body}");

    // A sheet in TOML, then again as JSON: version 2.
    let r = c
        .http
        .post(format!("{}/api/v1/mystery/sheets", c.base))
        .bearer_auth(&boss)
        .header("content-type", "application/toml")
        .body(SHEET_TOML)
        .send()
        .await
        .expect("sheet");
    assert_eq!(r.status(), StatusCode::CREATED);
    assert!(r.headers().get(LOCATION).is_some());
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["sheet"]["version"], 1);
    let sheet = v["sheet"].clone();
    let again =
        json!({"id": "phone-basic", "name": "电话服务暗访表", "sections": sheet["sections"]});
    let (status, body) = c
        .call(
            &boss,
            Method::POST,
            "/api/v1/mystery/sheets",
            Some(again.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["sheet"]["version"], 2);
    assert!(body["sheet"]["created_at"]
        .as_str()
        .is_some_and(|t| t.contains('T')));
    // Inspectors may not change sheets; a bad sheet is refused.
    let (status, _) = c
        .call(&qa, Method::POST, "/api/v1/mystery/sheets", Some(again))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = c
        .call(
            &boss,
            Method::POST,
            "/api/v1/mystery/sheets",
            Some(json!({"id": "x", "name": "x", "sections": []})),
        )
        .await;
    assert!(status.is_client_error());

    // A plan aimed at a-07.
    let from = (now_china() - chrono::Duration::days(1)).to_rfc3339();
    let to = (now_china() + chrono::Duration::days(1)).to_rfc3339();
    let plan_body = json!({
        "title": "电话暗访", "scenario": "咨询订单物流", "persona": "老客户",
        "script": "我的快递三天没动了，怎么回事？", "target_kind": "agent", "target": "a-07",
        "channel": "phone", "window_from": from, "window_to": to, "sheet_id": "phone-basic"
    });
    let (status, _) = c
        .call(
            &qa,
            Method::POST,
            "/api/v1/mystery/plans",
            Some(plan_body.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = c
        .call(
            &boss,
            Method::POST,
            "/api/v1/mystery/plans",
            Some(plan_body),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let plan = body["plan"]["id"].as_str().expect("id").to_string();
    assert_eq!(body["plan"]["state"], "draft");
    assert_eq!(body["plan"]["sheet_version"], 2);
    let (status, body) = c
        .call(
            &boss,
            Method::POST,
            &format!("/api/v1/mystery/plans/{plan}/state"),
            Some(json!({"state": "active", "version": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["plan"]["state"], "active");

    // The agent sees no plan, not even by id.
    let (status, _) = c
        .call(&a07, Method::GET, "/api/v1/mystery/plans", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = c
        .call(
            &a07,
            Method::GET,
            &format!("/api/v1/mystery/plans/{plan}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A shop on a missing conversation is refused; on the bad call it is
    // recorded with the call's agent.
    let shop = |conv: &str, results: Value| {
        json!({"plan_id": plan, "shopped_at": now_china().to_rfc3339(), "conversation_id": conv,
               "shopper_name": "外部暗访员", "results": results})
    };
    let (status, _) = c
        .call(
            &qa,
            Method::POST,
            "/api/v1/mystery/shops",
            Some(shop("nope", verdicts("pass", "pass", "pass", "pass"))),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = c
        .call(
            &qa,
            Method::POST,
            "/api/v1/mystery/shops",
            Some(shop("ms-bad", verdicts("fail", "pass", "pass", "fail"))),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let s1 = body["shop"]["id"].as_str().expect("id").to_string();
    assert_eq!(body["shop"]["score"], 70.0);
    assert_eq!(body["shop"]["agent_id"], "a-07");
    assert_eq!(body["shop"]["state"], "submitted");
    // Invisible to the agent before approval.
    let (status, _) = c
        .call(
            &a07,
            Method::GET,
            &format!("/api/v1/mystery/shops/{s1}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Returned (the shopper cannot review it; a reason is needed).
    let review = format!("/api/v1/mystery/shops/{s1}/review");
    let (status, _) = c
        .call(
            &boss,
            Method::POST,
            &review,
            Some(json!({"decision": "return"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = c
        .call(
            &boss,
            Method::POST,
            &review,
            Some(json!({"decision": "return", "reason": "与录音不符", "version": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["shop"]["state"], "returned");
    // The re-shop, approved by another supervisor.
    let mut redo = shop("ms-bad", verdicts("fail", "pass", "fail", "fail"));
    redo["previous_id"] = json!(s1);
    let (status, body) = c
        .call(&qa, Method::POST, "/api/v1/mystery/shops", Some(redo))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let s2 = body["shop"]["id"].as_str().expect("id").to_string();
    assert_eq!(body["shop"]["score"], 40.0);
    assert_eq!(body["shop"]["chain_id"], s1.as_str());
    let (status, body) = c
        .call(
            &boss2,
            Method::POST,
            &format!("/api/v1/mystery/shops/{s2}/review"),
            Some(json!({"decision": "approve"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // And one on the good call.
    let (_, body) = c
        .call(
            &qa,
            Method::POST,
            "/api/v1/mystery/shops",
            Some(shop("ms-good", verdicts("pass", "pass", "pass", "pass"))),
        )
        .await;
    let s3 = body["shop"]["id"].as_str().expect("id").to_string();
    let (status, _) = c
        .call(
            &boss,
            Method::POST,
            &format!("/api/v1/mystery/shops/{s3}/review"),
            Some(json!({"decision": "approve"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Results: two counted shops, mean 70.
    let (status, body) = c
        .call(&boss, Method::GET, "/api/v1/mystery/results", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["items"][0]["agent_id"], "a-07");
    assert_eq!(body["items"][0]["shops"], 2);
    assert_eq!(body["items"][0]["average"], 70.0);
    // The agent now sees their own approved shops (not the returned one).
    let (status, body) = c
        .call(&a07, Method::GET, "/api/v1/mystery/shops", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(!ids.contains(&s1.as_str()));
    let (status, _) = c
        .call(&a07, Method::GET, "/api/v1/mystery/agreement", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Agreement: greet both fail + both pass; no_taboo both fail + both
    // pass; farewell both fail + both pass: 100 % each.
    let (status, body) = c
        .call(&qa, Method::GET, "/api/v1/mystery/agreement", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["shops"], 2);
    let items = body["items"].as_array().expect("items");
    assert_eq!(items.len(), 3);
    for it in items {
        assert_eq!(
            (
                it["shops"].as_i64(),
                it["both_pass"].as_i64(),
                it["both_fail"].as_i64()
            ),
            (Some(2), Some(1), Some(1)),
            "{it}"
        );
        assert_eq!(it["agreement_pct"], 100.0);
    }
    let r = c
        .http
        .get(format!(
            "{}/api/v1/mystery/agreement?format=csv&lang=en",
            c.base
        ))
        .bearer_auth(&qa)
        .send()
        .await
        .expect("csv");
    assert_eq!(r.status(), StatusCode::OK);
    let csv = r.text().await.expect("text");
    assert!(csv.starts_with('\u{feff}'), "BOM");
    assert!(csv.contains("agreement_pct"), "{csv}");
    assert!(
        csv.contains("greet,使用规范开头语,opening,2,1,1,0,0,100"),
        "{csv}"
    );

    // The OpenAPI document lists the endpoints.
    let (_, doc) = c.call(&qa, Method::GET, "/api/openapi.json", None).await;
    for p in [
        "/api/v1/mystery/plans",
        "/api/v1/mystery/shops/{id}/review",
        "/api/v1/mystery/agreement",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mystery_api_on_both_backends() {
    api_scenario(TestDb::sqlite("mystery_api")).await;
    if let Some(db) = TestDb::postgres("mystery_api").await {
        api_scenario(db).await;
    }
}

// ---------------------------------------------------------------------------
// The dashboard over HTTP.

async fn web_scenario(db: TestDb) {
    let server = common::Server::start(db, USERS, str::to_string).await;
    let api = common::Client::of(&server);
    let token = api.login("boss", "boss-pass-1").await;
    let (status, body) = api
        .call(
            &token,
            Method::POST,
            "/api/v1/conversations",
            Some(json!([call_json("web-bad", false)])),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let boss = Web::login(&server.base, "boss", "boss-pass-1").await;
    let boss2 = Web::login(&server.base, "boss2", "boss-pass-2").await;
    let qa = Web::login(&server.base, "qa", "inspector-pass-1").await;
    let agent = Web::login(&server.base, "a-07", "agent-pass-07").await;

    // The sheet through the editor (TOML).
    let (status, _, html) = boss.fetch("/mystery/sheets").await;
    assert_eq!(status, StatusCode::OK);
    let (status, headers, body) = boss
        .post(
            "/mystery/sheets",
            &[("_csrf", &csrf(&html)), ("sheet", SHEET_TOML)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert!(headers[LOCATION]
        .to_str()
        .expect("loc")
        .contains("done=saved"));
    let (_, _, html) = boss.fetch("/mystery/sheets").await;
    assert!(
        html.contains("phone-basic") && html.contains("v1"),
        "{html}"
    );

    // A plan through the form, activated.
    let (status, _, html) = boss.fetch("/mystery").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("mystery-new-plan"));
    let token = csrf(&html);
    let fmt = |d: chrono::DateTime<chrono::FixedOffset>| d.format("%Y-%m-%dT%H:%M").to_string();
    let from = fmt(now_china() - chrono::Duration::days(1));
    let to = fmt(now_china() + chrono::Duration::days(1));
    let (status, headers, body) = boss
        .post(
            "/mystery/plans",
            &[
                ("_csrf", &token),
                ("title", "网页暗访"),
                ("scenario", "咨询订单"),
                ("persona", "新客户"),
                ("script", "我的快递到哪了？"),
                ("target_kind", "agent"),
                ("target", "a-07"),
                ("channel", "phone"),
                ("window_from", &from),
                ("window_to", &to),
                ("sheet_id", "phone-basic"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let plan_href = headers[LOCATION].to_str().expect("loc").to_string();
    let (_, _, html) = boss.fetch(&plan_href).await;
    assert!(html.contains("plan-activate"), "{html}");
    let (status, _, _) = boss
        .post(
            &format!("{plan_href}/state"),
            &[("_csrf", &token), ("state", "active")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    // The agent: no plans, sent to their results.
    let (status, headers, _) = agent.fetch("/mystery").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[LOCATION], "/mystery/results");
    let (status, _, html) = agent.fetch(&plan_href).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!html.contains("我的快递到哪了"));
    let (status, _, _) = agent.fetch("/mystery/review").await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The shopper records a shop (per-item verdicts).
    let (_, _, html) = qa.fetch(&plan_href).await;
    assert!(html.contains("mystery-record"), "{html}");
    let qa_token = csrf(&html);
    let at = fmt(now_china());
    let record = |token: String, previous: Option<String>, greet: &'static str| {
        let mut form = vec![
            ("_csrf".to_string(), token),
            ("shopped_at".to_string(), at.clone()),
            ("conversation_id".to_string(), "web-bad".to_string()),
            ("v.greet".to_string(), greet.to_string()),
            ("v.solve".to_string(), "pass".to_string()),
            ("v.no_taboo".to_string(), "fail".to_string()),
            ("n.no_taboo".to_string(), "说了“不知道”".to_string()),
            ("v.farewell".to_string(), "fail".to_string()),
        ];
        if let Some(p) = previous {
            form.push(("previous_id".to_string(), p));
        }
        form
    };
    let form = record(qa_token.clone(), None, "pass");
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, _, body) = qa.post(&format!("{plan_href}/shops"), &pairs).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");

    // The reviewer returns it with a reason.
    let (_, _, html) = boss.fetch("/mystery/review").await;
    let id_at = html.find("id=\"review-").expect("a shop to review") + "id=\"review-".len();
    let shop_id = html[id_at..id_at + html[id_at..].find('"').expect("end")].to_string();
    assert!(html.contains("说了“不知道”"), "{html}");
    let (status, _, body) = boss
        .post(
            &format!("/mystery/shops/{shop_id}/review"),
            &[
                ("_csrf", &csrf(&html)),
                ("decision", "return"),
                ("reason", "关联会话不对"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let (_, _, html) = boss.fetch(&plan_href).await;
    assert!(html.contains("关联会话不对"), "{html}");
    // The returned shop's page offers the re-shop, which preselects it.
    let (_, _, html) = qa.fetch(&format!("/mystery/shops/{shop_id}")).await;
    assert!(html.contains("id=\"reshop-link\""), "{html}");
    let (_, _, html) = qa.fetch(&format!("{plan_href}?reshop={shop_id}")).await;
    assert!(
        html.contains(&format!("<option value=\"{shop_id}\" selected>")),
        "{html}"
    );

    // The re-shop, approved by another supervisor.
    let form = record(qa_token, Some(shop_id.clone()), "fail");
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, _, body) = qa.post(&format!("{plan_href}/shops"), &pairs).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let (_, _, html) = boss2.fetch("/mystery/review").await;
    let id_at = html.find("id=\"review-").expect("the re-shop") + "id=\"review-".len();
    let reshop = html[id_at..id_at + html[id_at..].find('"').expect("end")].to_string();
    assert_ne!(reshop, shop_id);
    let (status, _, _) = boss2
        .post(
            &format!("/mystery/shops/{reshop}/review"),
            &[("_csrf", &csrf(&html)), ("decision", "approve")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    // Results: the agent sees the approved re-shop, 40 points.
    let (status, _, html) = agent.fetch("/mystery/results").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&reshop) && !html.contains(&shop_id), "{html}");
    assert!(html.contains(">40<"), "{html}");
    let (status, _, html) = agent.fetch(&format!("/mystery/shops/{reshop}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("使用规范开头语"), "{html}");
    let (status, _, _) = agent.fetch(&format!("/mystery/shops/{shop_id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The agreement report: all three mapped items agree (both fail).
    let (status, _, html) = qa.fetch("/mystery/agreement").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"agree-greet\""), "{html}");
    assert!(html.contains("class=\"agreement\">100<"), "{html}");
    let (status, headers, csv) = qa.fetch("/mystery/agreement.csv").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"]
        .to_str()
        .expect("ct")
        .starts_with("text/csv"));
    assert!(csv.contains("一致率%"), "{csv}");
    // English pages.
    let (status, _, html) = qa.fetch("/mystery/agreement?lang=en").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Agreement with inspection"), "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mystery_pages_on_both_backends() {
    web_scenario(TestDb::sqlite("mystery_web")).await;
    if let Some(db) = TestDb::postgres("mystery_web").await {
        web_scenario(db).await;
    }
}
