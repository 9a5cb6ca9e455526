//! Shift handover (交接班) on the real server, SQLite and PostgreSQL: the
//! API (shifts, pre-fill, create, edit, submit, answer, RBAC, the
//! complaint moving to the acknowledging agent, settings, OpenAPI) and
//! the dashboard's forms (create and submit, acknowledge with a
//! restatement, the shift form).

use kefu_service::auth::Role;
use kefu_service::complaint::{
    Actor, ActorRole, Assignee, ComplaintService, Customer, NewComplaint,
};
use kefu_store::testing::TestDb;
use reqwest::header::LOCATION;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

mod common;
use common::{csrf, Web};

const USERS: &[(&str, Role, &str)] = &[
    ("boss", Role::Supervisor, "boss-pass-1"),
    ("a-1", Role::Agent, "agent-pass-01"),
    ("a-2", Role::Agent, "agent-pass-02"),
    ("b-9", Role::Agent, "agent-pass-09"),
];

async fn teams(store: &kefu_store::Store) {
    for (user, team) in [
        ("boss", "一组"),
        ("a-1", "一组"),
        ("a-2", "一组"),
        ("b-9", "二组"),
    ] {
        sqlx::query("UPDATE users SET team = $1 WHERE id = $2")
            .bind(team)
            .bind(user)
            .execute(kefu_store::testing::pool(store))
            .await
            .expect("team");
    }
}

fn shifts() -> Value {
    json!({"shifts": [
        {"name": "早班", "start": "08:00", "end": "16:00"},
        {"name": "中班", "start": "16:00", "end": "00:00"},
        {"name": "晚班", "start": "00:00", "end": "08:00"}
    ]})
}

async fn api_scenario(db: TestDb) {
    let server = common::Server::start(db, USERS, str::to_string).await;
    teams(&server.store).await;
    let c = common::Client::of(&server);
    let boss = c.login("boss", "boss-pass-1").await;
    let a1 = c.login("a-1", "agent-pass-01").await;
    let a2 = c.login("a-2", "agent-pass-02").await;
    let b9 = c.login("b-9", "agent-pass-09").await;
    let team = "/api/v1/handovers/shifts/%E4%B8%80%E7%BB%84";
    let (status, _) = c.call(&a2, Method::PUT, team, Some(shifts())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = c.call(&boss, Method::PUT, team, Some(shifts())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = c
        .call(&a1, Method::GET, "/api/v1/handovers/shifts", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["items"].as_array().map(Vec::len), Some(3));
    let (status, bad) = c
        .call(
            &boss,
            Method::PUT,
            team,
            Some(json!({"shifts": [{"name": "x", "start": "25:00", "end": "08:00"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");

    // A complaint of a-1 whose first response falls due in the next shift.
    let prefill = "/api/v1/handovers/prefill?shift=%E6%97%A9%E7%8F%AD";
    let (status, p) = c.call(&a1, Method::GET, prefill, None).await;
    assert_eq!(status, StatusCode::OK, "{p}");
    let from = chrono::DateTime::parse_from_rfc3339(p["window_from"].as_str().expect("from"))
        .expect("time")
        .timestamp_millis();
    let complaints = ComplaintService::new(server.store.clone());
    let mut input = NewComplaint::new(
        "",
        Customer {
            id: None,
            name: "张三丰".into(),
            phone: None,
            id_number: None,
        },
        "phone",
        "billing",
        "多扣话费",
    );
    input.assignee = Some(Assignee::Agent("a-1".into()));
    let cmp = complaints
        .create(
            input,
            &Actor::new("boss", ActorRole::Supervisor),
            chrono::Utc::now(),
        )
        .await
        .expect("complaint");
    sqlx::query("UPDATE complaints SET reply_due_at = $1 WHERE id = $2")
        .bind(from + 60_000)
        .bind(cmp.id.as_str())
        .execute(kefu_store::testing::pool(&server.store))
        .await
        .expect("due");
    let (_, p) = c.call(&a1, Method::GET, prefill, None).await;
    let items = p["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 1, "{p}");
    assert_eq!(items[0]["kind"], "complaint_reply");
    assert_eq!(items[0]["object_id"], cmp.id.as_str());
    assert_eq!(items[0]["severity"], "urgent");

    // Create (pre-filled), add a free item, submit.
    let (status, v) = c
        .call(
            &a1,
            Method::POST,
            "/api/v1/handovers",
            Some(json!({"shift": "早班", "note": "交班"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let id = v["handover"]["id"].as_str().expect("id").to_string();
    assert_eq!(v["handover"]["state"], "draft");
    assert!(v["handover"]["window_from"]
        .as_str()
        .is_some_and(|t| t.contains('T')));
    let mut items = v["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items[0]["link"], format!("/complaints/{}", cmp.id));
    let mut edit: Vec<Value> = items
        .iter()
        .map(|i| {
            json!({"kind": i["kind"], "object_id": i["object_id"], "title": i["title"],
                        "severity": i["severity"], "action": i["action"], "due_at": i["due_at"],
                        "contingency": i["contingency"]})
        })
        .collect();
    edit.push(
        json!({"title": "打印机卡纸", "severity": "watch", "action": "报修",
                     "contingency": "若下午仍未修好，则借用二组打印机"}),
    );
    let path = format!("/api/v1/handovers/{id}");
    let (status, v) = c
        .call(
            &a1,
            Method::PUT,
            &format!("{path}/items"),
            Some(json!({"version": v["handover"]["version"], "items": edit})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    items = v["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 2);
    let (status, _) = c
        .call(
            &a2,
            Method::POST,
            &format!("{path}/submit"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, v) = c
        .call(
            &a1,
            Method::POST,
            &format!("{path}/submit"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["handover"]["state"], "submitted");

    // Who may answer.
    let first = items[0]["id"].as_i64().expect("item");
    let second = items[1]["id"].as_i64().expect("item");
    let ack = json!({"type": "acknowledge"});
    let answer = |item: i64| format!("{path}/items/{item}/answer");
    let (status, _) = c.call(&b9, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = c
        .call(&b9, Method::POST, &answer(first), Some(ack.clone()))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = c
        .call(&a1, Method::POST, &answer(first), Some(ack.clone()))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, w) = c
        .call(&a2, Method::GET, "/api/v1/handovers?view=waiting", None)
        .await;
    assert_eq!(w["items"].as_array().map(Vec::len), Some(1), "{w}");
    let (_, w) = c
        .call(&b9, Method::GET, "/api/v1/handovers?view=waiting", None)
        .await;
    assert_eq!(w["items"].as_array().map(Vec::len), Some(0), "{w}");
    let (status, _) = c
        .call(&a2, Method::GET, "/api/v1/handovers?view=nope", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // a-2 takes the complaint by acknowledging it, and restates the rest.
    let (status, v) = c.call(&a2, Method::POST, &answer(first), Some(ack)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, cv) = c
        .call(
            &a2,
            Method::GET,
            &format!("/api/v1/complaints/{}", cmp.id),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cv}");
    let (status, v) = c
        .call(
            &a2,
            Method::POST,
            &answer(second),
            Some(json!({"type": "acknowledge", "restatement": "报修并跟进到修好"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["handover"]["state"], "acknowledged");
    assert_eq!(v["items"][1]["restatement"], "报修并跟进到修好");
    assert_eq!(v["items"][1]["action"], "报修");
    let kinds: Vec<&str> = v["history"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"complaint_assigned") && kinds.contains(&"restated"),
        "{kinds:?}"
    );

    // Settings and the OpenAPI document.
    let (status, _) = c
        .call(
            &a1,
            Method::PUT,
            "/api/v1/settings/handover",
            Some(json!({"escalate_after_minutes": 10})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, s) = c
        .call(
            &boss,
            Method::PUT,
            "/api/v1/settings/handover",
            Some(json!({"escalate_after_minutes": 10})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{s}");
    let (_, s) = c
        .call(&a1, Method::GET, "/api/v1/settings/handover", None)
        .await;
    assert_eq!(s["settings"]["escalate_after_minutes"], 10);
    let (_, doc) = c.call(&a1, Method::GET, "/api/openapi.json", None).await;
    for p in [
        "/api/v1/handovers",
        "/api/v1/handovers/{id}/items/{item}/answer",
        "/api/v1/settings/handover",
    ] {
        assert!(doc["paths"][p].is_object(), "{p} missing");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handover_api_on_both_backends() {
    api_scenario(TestDb::sqlite("handover_api")).await;
    if let Some(db) = TestDb::postgres("handover_api").await {
        api_scenario(db).await;
    }
}

async fn web_scenario(db: TestDb) {
    let server = common::Server::start(db, USERS, str::to_string).await;
    teams(&server.store).await;
    let boss = Web::login(&server.base, "boss", "boss-pass-1").await;
    // The supervisor sets the shifts with the form.
    let (status, html) = boss.get("/handovers").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("handover-shifts-form"), "{html}");
    let (status, headers, _) = boss
        .post(
            "/handovers/shifts",
            &[
                ("_csrf", &csrf(&html)),
                ("team", "一组"),
                (
                    "shifts",
                    "早班 08:00-16:00\n中班 16:00-00:00\n晚班 00:00-08:00",
                ),
                ("escalate_after_minutes", "30"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[LOCATION], "/handovers?done=shifts");
    let (status, _, _) = boss
        .post(
            "/handovers/shifts",
            &[("_csrf", "forged"), ("team", "一组")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The outgoing agent creates and submits with a free urgent item.
    let a1 = Web::login(&server.base, "a-1", "agent-pass-01").await;
    let (status, html) = a1.get("/handovers/new?shift=%E6%97%A9%E7%8F%AD").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("handover-new-form") && html.contains("中班"),
        "{html}"
    );
    let (status, headers, body) = a1
        .post(
            "/handovers",
            &[
                ("_csrf", &csrf(&html)),
                ("shift", "早班"),
                ("count", "2"),
                ("item.0.keep", "1"),
                ("item.0.kind", "free"),
                ("item.0.title", "VIP 客户王先生 18:00 回电"),
                ("item.0.severity", "urgent"),
                ("item.0.action", "18:00 前回电"),
                ("item.0.contingency", "若未接通，则发短信"),
                ("item.1.kind", "free"),
                ("item.1.title", "未勾选的不交接"),
                ("submit", "1"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let location = headers[LOCATION].to_str().expect("location").to_string();
    assert!(location.starts_with("/handovers/HO-"), "{location}");
    let detail = location.split('?').next().unwrap_or_default().to_string();
    let (_, html) = a1.get(&detail).await;
    assert!(
        html.contains("VIP 客户王先生") && !html.contains("未勾选的不交接"),
        "{html}"
    );
    assert!(
        !html.contains("ack-form"),
        "the outgoing agent does not acknowledge"
    );

    // Unacknowledged 31 minutes later, the urgent item escalates; the
    // supervisor's view shows it.
    let escalated = kefu_service::handover::HandoverService::new(server.store.clone())
        .escalate_overdue(kefu_store::now_ms() + 31 * 60_000, "test-node")
        .await
        .expect("escalate");
    assert_eq!(escalated.len(), 1, "{escalated:?}");
    let (_, list) = boss.get("/handovers?view=escalated").await;
    assert!(list.contains(&detail), "{list}");
    let (_, html) = boss.get(&detail).await;
    assert!(html.contains("已升级主管"), "{html}");
    // Another team's agent cannot open it; the incoming agent restates.
    let b9 = Web::login(&server.base, "b-9", "agent-pass-09").await;
    assert_eq!(b9.get(&detail).await.0, StatusCode::NOT_FOUND);
    let a2 = Web::login(&server.base, "a-2", "agent-pass-02").await;
    let (_, list) = a2.get("/handovers?view=waiting").await;
    assert!(list.contains(&detail), "{list}");
    let (_, html) = a2.get(&detail).await;
    assert!(html.contains("ack-form"), "{html}");
    let item: String = html
        .split("id=\"item-")
        .nth(1)
        .expect("item")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let (status, _, _) = a2
        .post(
            &format!("{detail}/items/{item}"),
            &[
                ("_csrf", &csrf(&html)),
                ("type", "acknowledge"),
                ("restatement", "六点前给王先生回电"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, html) = a2.get(&detail).await;
    assert!(
        html.contains("六点前给王先生回电") && html.contains("已接班"),
        "{html}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handover_pages_on_both_backends() {
    web_scenario(TestDb::sqlite("handover_web")).await;
    if let Some(db) = TestDb::postgres("handover_web").await {
        web_scenario(db).await;
    }
}
