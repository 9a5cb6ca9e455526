//! The real server on a random port, over a real SQLite file and, when
//! `KEFU_TEST_PG_URL` is set, a fresh PostgreSQL database.

use kefu_service::auth::Role;
use kefu_store::testing::TestDb;

mod common;
use reqwest::StatusCode;
use serde_json::{json, Value};

const FIXTURES: &str = include_str!("../../kefu-engine/tests/golden/conversations.jsonl");

/// A running server and what it needs to be dropped cleanly.
struct App {
    base: String,
    http: reqwest::Client,
    server: common::Server,
}

impl App {
    async fn start(name: &str, postgres: bool) -> Option<App> {
        let db = if postgres {
            TestDb::postgres(name).await?
        } else {
            TestDb::sqlite(name)
        };
        let server = common::Server::start(
            db,
            &[
                ("admin", Role::Admin, "admin-pass-1"),
                ("qa", Role::Inspector, "inspector-pass-1"),
                ("a-07", Role::Agent, "agent-pass-07"),
                ("a-11", Role::Agent, "agent-pass-11"),
            ],
            str::to_string,
        )
        .await;
        Some(App {
            base: server.base.clone(),
            http: reqwest::Client::new(),
            server,
        })
    }

    async fn login(&self, user: &str, password: &str) -> String {
        let r = self
            .http
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&json!({"user": user, "password": password}))
            .send()
            .await
            .expect("login");
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.expect("json");
        body["token"].as_str().expect("token").to_string()
    }

    async fn get(&self, token: Option<&str>, path: &str) -> (StatusCode, Value) {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.expect("request");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn put(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .http
            .put(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, token: &str, path: &str, body: String) -> (StatusCode, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn stop(self) {
        self.server.stop().await;
    }
}

fn assert_error_shape(body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

/// All golden conversations as one JSON array, plus one broken item.
fn batch_with_one_bad_item() -> String {
    let mut items: Vec<Value> = FIXTURES
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("fixture"))
        .collect();
    items.insert(3, json!({"id": "broken", "channel": "fax", "turns": []}));
    serde_json::to_string(&items).expect("json")
}

async fn scenario(app: &App) {
    let fixtures = FIXTURES.lines().filter(|l| !l.trim().is_empty()).count();
    let (status, body) = app.get(None, "/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");

    // Authentication.
    let (status, body) = app.get(None, "/api/v1/conversations").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error_shape(&body, "unauthorized");
    let r = app
        .http
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&json!({"user": "admin", "password": "wrong-password"}))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_error_shape(&r.json().await.expect("json"), "unauthorized");
    let (status, body) = app.get(Some("not-a-real-token"), "/api/v1/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    let admin = app.login("admin", "admin-pass-1").await;
    let qa = app.login("qa", "inspector-pass-1").await;
    let agent = app.login("a-07", "agent-pass-07").await;
    let (_, me) = app.get(Some(&agent), "/api/v1/me").await;
    assert_eq!(me["user"]["user_id"], "a-07");

    // A batch with one bad item: the rest is stored, the bad one reported.
    let (status, body) = app
        .post(&qa, "/api/v1/conversations", batch_with_one_bad_item())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["stored"], fixtures);
    assert_eq!(body["errors"][0]["index"], 3);
    assert!(body["errors"][0]["message"]
        .as_str()
        .expect("message")
        .contains("fax"));
    // Idempotent: the same batch again stores nothing.
    let (_, body) = app
        .post(&admin, "/api/v1/conversations", batch_with_one_bad_item())
        .await;
    assert_eq!(
        (body["stored"].as_u64(), body["skipped"].as_u64()),
        (Some(0), Some(fixtures as u64))
    );
    // A single object works too; garbage is a 400 in the one error shape.
    let one = FIXTURES.lines().next().expect("line").to_string();
    let (status, body) = app.post(&admin, "/api/v1/conversations", one).await;
    assert_eq!(
        (status, body["skipped"].as_u64()),
        (StatusCode::OK, Some(1))
    );
    let (status, body) = app
        .post(&admin, "/api/v1/conversations", "{not json".into())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error_shape(&body, "bad_request");

    // Lists: pagination and filters.
    let (status, page) = app
        .get(Some(&qa), "/api/v1/conversations?per_page=10&page=2")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["total"], fixtures);
    assert_eq!(page["items"].as_array().map(Vec::len), Some(10));
    let (_, failed) = app
        .get(
            Some(&qa),
            "/api/v1/conversations?passed=false&per_page=1000",
        )
        .await;
    assert!(failed["items"]
        .as_array()
        .expect("items")
        .iter()
        .all(|i| i["passed"] == false));
    let (_, by_rule) = app
        .get(Some(&qa), "/api/v1/conversations?rule=insult")
        .await;
    assert!(by_rule["total"].as_i64().expect("total") >= 1);
    assert!(by_rule["items"]
        .as_array()
        .expect("items")
        .iter()
        .all(|i| i["veto"] == true));
    let (status, body) = app.get(Some(&qa), "/api/v1/conversations?per_page=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error_shape(&body, "bad_request");
    let (status, body) = app
        .get(Some(&qa), "/api/v1/conversations?from=yesterday")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // Detail with history.
    let first: Value = serde_json::from_str(FIXTURES.lines().next().expect("line")).expect("json");
    let id = first["id"].as_str().expect("id");
    let (status, detail) = app
        .get(Some(&qa), &format!("/api/v1/conversations/{id}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["conversation"]["id"], id);
    assert_eq!(detail["history"].as_array().map(Vec::len), Some(1));
    let (status, body) = app
        .get(Some(&qa), "/api/v1/conversations/does-not-exist")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error_shape(&body, "not_found");

    // An agent sees only their own data, through every endpoint.
    let (_, own) = app
        .get(Some(&agent), "/api/v1/conversations?per_page=1000")
        .await;
    let own_items = own["items"].as_array().expect("items");
    assert!(!own_items.is_empty(), "fixtures have conversations of a-07");
    assert!(own_items.iter().all(|i| i["agent_id"] == "a-07"));
    let (status, _) = app
        .get(Some(&agent), "/api/v1/conversations?agent=a-11")
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let other = FIXTURES
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|c| c["agent_id"].as_str().is_some_and(|a| a != "a-07"))
        .expect("another agent's conversation");
    let other_id = other["id"].as_str().expect("id");
    let (status, _) = app
        .get(Some(&agent), &format!("/api/v1/conversations/{other_id}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let own_id = own_items[0]["conversation_id"].as_str().expect("id");
    let (status, _) = app
        .get(Some(&agent), &format!("/api/v1/conversations/{own_id}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.post(&agent, "/api/v1/conversations", "[]".into()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.get(Some(&agent), "/api/v1/packs").await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Full-text search finds imported transcripts at once, in any width or
    // script form of the words.
    for q in ["流量包", "流量包%20套餐", "機主"] {
        let (status, found) = app
            .get(Some(&admin), &format!("/api/v1/conversations?q={q}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{found}");
        assert!(
            found["items"]
                .as_array()
                .is_some_and(|items| items.iter().any(|i| i["conversation_id"] == "g-001")),
            "{q}: {found}"
        );
    }
    let (_, none) = app
        .get(Some(&admin), "/api/v1/conversations?q=没有这句话xyz")
        .await;
    assert_eq!(none["total"], 0, "{none}");

    // Every documented path is routed (no "no such endpoint").
    let (_, spec) = app.get(None, "/api/openapi.json").await;
    // 503 (busy) on every operation and 429 on login are documented, with
    // their Retry-After header.
    for (name, status) in [("Busy", "503"), ("TooManyRequests", "429")] {
        let r = &spec["components"]["responses"][name];
        assert!(
            r["headers"]["Retry-After"].is_object(),
            "{name} ({status}): {r}"
        );
    }
    assert!(spec["paths"]["/api/v1/auth/login"]["post"]["responses"]["429"].is_object());
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("operations") {
            let method_like =
                matches!(method.as_str(), "get" | "post" | "put" | "delete" | "patch");
            if method_like && path != "/healthz" {
                assert!(
                    op["responses"]["503"].is_object(),
                    "{method} {path}: 503 not documented"
                );
            }
        }
    }
    for path in spec["paths"].as_object().expect("paths").keys() {
        let concrete = path.replace("{id}", id);
        let (status, body) = app.get(Some(&admin), &concrete).await;
        let unrouted =
            status == StatusCode::NOT_FOUND && body["error"]["message"] == "no such endpoint";
        assert!(!unrouted, "{path} is documented but not routed");
    }

    complaints(app, &admin, &qa, &agent).await;
    quality(app, &admin, &qa, &agent).await;

    // Logging out ends the session.
    let r = app
        .http
        .post(format!("{}/api/v1/auth/logout", app.base))
        .bearer_auth(&agent)
        .send()
        .await
        .expect("logout");
    assert_eq!(r.status(), StatusCode::OK);
    let (status, _) = app.get(Some(&agent), "/api/v1/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// Review, appeal, queue, reports and assessment through the API.
async fn quality(app: &App, admin: &str, qa: &str, agent: &str) {
    let (_, own) = app
        .get(Some(agent), "/api/v1/conversations?per_page=1000")
        .await;
    let failing = own["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["finding_count"].as_i64() > Some(0)))
        .expect("a conversation of a-07 with a finding")["conversation_id"]
        .as_str()
        .expect("id")
        .to_string();
    let path = format!("/api/v1/conversations/{failing}/review");
    let (status, view) = app.get(Some(qa), &path).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["result"]["findings"][0]["key"], "auto:0");
    let (status, body) = app
        .put(
            agent,
            &path,
            json!({"decisions": [{"key": "auto:0", "verdict": "confirm"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = app
        .put(
            qa,
            &path,
            json!({"decisions": [{"key": "auto:0", "verdict": "overturn"}]}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "overturning needs a comment: {body}"
    );
    let (status, reviewed) = app
        .put(
            qa,
            &path,
            json!({"decisions": [{"key": "auto:0", "verdict": "confirm"}], "comment": "属实"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reviewed}");
    assert_eq!(reviewed["review"]["version"], 1);
    // Lists filter by review, channel and team.
    let total = |v: &Value| v["total"].as_i64().unwrap_or(-1);
    let (_, only_reviewed) = app
        .get(Some(qa), "/api/v1/conversations?reviewed=true")
        .await;
    assert_eq!(total(&only_reviewed), 1, "{only_reviewed}");
    assert_eq!(
        only_reviewed["items"][0]["conversation_id"],
        failing.as_str()
    );
    let (_, all) = app.get(Some(qa), "/api/v1/conversations").await;
    let (_, phone) = app
        .get(Some(qa), "/api/v1/conversations?channel=phone")
        .await;
    let (_, chat) = app
        .get(Some(qa), "/api/v1/conversations?channel=chat")
        .await;
    assert!(total(&phone) > 0 && total(&chat) > 0, "{phone} {chat}");
    assert_eq!(total(&phone) + total(&chat), total(&all));
    let (status, _) = app.get(Some(qa), "/api/v1/conversations?channel=fax").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, no_team) = app.get(Some(qa), "/api/v1/conversations?team=nobody").await;
    assert_eq!(total(&no_team), 0);
    let (_, packs) = app.get(Some(qa), "/api/v1/packs").await;
    let active = packs["active"].as_i64().expect("active pack");
    let (_, by_pack) = app
        .get(
            Some(qa),
            &format!("/api/v1/conversations?pack_version={active}"),
        )
        .await;
    assert_eq!(total(&by_pack), total(&all));
    let (_, other_pack) = app
        .get(
            Some(qa),
            &format!("/api/v1/conversations?pack_version={}", active + 1000),
        )
        .await;
    assert_eq!(total(&other_pack), 0);
    assert_eq!(reviewed["result"]["findings"][0]["status"], "confirmed");

    let (status, appeal) = app
        .post(
            agent,
            &format!("/api/v1/conversations/{failing}/appeals"),
            json!({"finding": "auto:0", "reason": "客户先说的这句话"}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{appeal}");
    let appeal_id = appeal["id"].as_i64().expect("appeal id");
    let (_, mine) = app.get(Some(agent), "/api/v1/appeals?state=open").await;
    assert_eq!(mine["items"].as_array().map(Vec::len), Some(1));
    let decision = format!("/api/v1/appeals/{appeal_id}/decision");
    let (status, _) = app
        .post(
            qa,
            &decision,
            json!({"decision": "accept", "comment": "同意"}).to_string(),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "inspectors do not decide appeals"
    );
    let (status, decided) = app
        .post(
            admin,
            &decision,
            json!({"decision": "accept", "comment": "核实为客户原话"}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{decided}");
    assert_eq!(decided["state"], "accepted");
    assert!(decided["score_after"].as_f64() >= decided["score_before"].as_f64());
    let (_, trail) = app
        .get(Some(agent), &format!("/api/v1/appeals/{appeal_id}"))
        .await;
    assert_eq!(trail["audit"].as_array().map(Vec::len), Some(2), "{trail}");

    // Reports: agents see only themselves and no centre-wide reports.
    let (status, report) = app
        .get(Some(agent), "/api/v1/reports/agents?period=2026")
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let rows = report["agents"].as_array().expect("agents");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["id"], "a-07");
    let (status, _) = app
        .get(Some(agent), "/api/v1/reports/centre?period=2026")
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app
        .get(Some(admin), "/api/v1/reports/centre?period=2026-99")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, centre) = app
        .get(Some(admin), "/api/v1/reports/centre?period=2026")
        .await;
    assert_eq!(status, StatusCode::OK, "{centre}");
    assert!(centre["centre"]["kpis"]
        .as_array()
        .is_some_and(|k| k.iter().any(|v| v["key"] == "answer_rate")));
    let csv = app
        .http
        .get(format!(
            "{}/api/v1/reports/rules?period=2026&format=csv",
            app.base
        ))
        .bearer_auth(admin)
        .send()
        .await
        .expect("csv");
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(csv.headers()["content-type"]
        .to_str()
        .is_ok_and(|t| t.starts_with("text/csv")));
    let text = csv.text().await.expect("csv text");
    assert!(text.starts_with("\u{feff}规则,"), "{text}");

    // Review queue and assessment.
    let (status, queued) = app
        .post(
            qa,
            "/api/v1/review-queue",
            json!({"period": "2026", "rate": 0.2, "seed": "t"}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{queued}");
    let (_, queue) = app.get(Some(qa), "/api/v1/review-queue").await;
    assert!(queue["items"].as_array().is_some_and(|q| !q.is_empty()));
    let (status, run) = app
        .post(
            admin,
            "/api/v1/assessments",
            json!({"period": "2026"}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let id = run["id"].as_i64().expect("run id");
    let (status, published) = app
        .post(
            admin,
            &format!("/api/v1/assessments/{id}/publish"),
            String::new(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{published}");
    assert_eq!(published["status"], "published");
}

async fn command(app: &App, token: &str, id: &str, command: Value) -> (StatusCode, Value) {
    app.post(
        token,
        &format!("/api/v1/complaints/{id}/commands"),
        json!({"command": command}).to_string(),
    )
    .await
}

async fn complaints(app: &App, admin: &str, qa: &str, agent: &str) {
    let other_agent = app.login("a-11", "agent-pass-11").await;
    let new = json!({
        "id": "",
        "customer": {"name": "张伟", "phone": "13812345678", "id_number": "110101199001011234"},
        "channel": "phone",
        "category": "计费",
        "description": "上月话费多扣二十元，客服未解释",
        "special": false
    });
    let (status, body) = app.post(agent, "/api/v1/complaints", new.to_string()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["complaint"]["id"]
        .as_str()
        .expect("generated id")
        .to_string();
    assert_eq!(body["complaint"]["state"], "accepted");

    // Visibility and masking.
    let (status, view) = app
        .get(Some(admin), &format!("/api/v1/complaints/{id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert!(
        view.to_string().contains("13812345678"),
        "supervisors and admins see the number"
    );
    let (status, view) = app.get(Some(qa), &format!("/api/v1/complaints/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert!(
        !view.to_string().contains("13812345678"),
        "inspectors see it masked: {view}"
    );
    assert!(view.to_string().contains("138****5678"), "{view}");
    let (status, _) = app
        .get(Some(&other_agent), &format!("/api/v1/complaints/{id}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = app.get(Some(&other_agent), "/api/v1/complaints").await;
    assert_eq!(list["total"], 0);
    let (status, _) = command(app, &other_agent, &id, json!({"type": "investigate"})).await;
    assert!(
        status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN,
        "{status}"
    );

    // The lifecycle, as the assigned agent.
    for c in [
        json!({"type": "investigate"}),
        json!({"type": "start_handling"}),
        json!({"type": "reply", "message": "已核实，多扣费用将退回"}),
        json!({"type": "resolve", "summary": "退回二十元"}),
        json!({"type": "record_survey", "result_score": 3, "attitude_score": 8}),
    ] {
        let (status, body) = command(app, agent, &id, c.clone()).await;
        assert_eq!(status, StatusCode::OK, "{c}: {body}");
    }
    let (_, view) = app
        .get(Some(admin), &format!("/api/v1/complaints/{id}"))
        .await;
    let text = view.to_string();
    assert!(text.contains("first_reply_at"), "{view}");
    assert!(
        view["history"].as_array().is_some_and(|h| h.len() >= 6),
        "{view}"
    );
    // A stale version is a conflict.
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/complaints/{id}/commands"),
            json!({"version": 1, "command": {"type": "add_note", "text": "迟到的备注"}})
                .to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_error_shape(&body, "conflict");
    // An invalid transition is explained.
    let (status, body) = command(app, admin, &id, json!({"type": "investigate"})).await;
    assert!(status.is_client_error(), "{body}");
    assert!(body["error"]["message"].as_str().is_some());

    // Settings: supervisors and admins only.
    let (status, settings) = app.get(Some(agent), "/api/v1/settings/sla").await;
    assert_eq!(status, StatusCode::OK, "{settings}");
    let (status, body) = app
        .put(agent, "/api/v1/settings/sla", settings.clone())
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = app.put(admin, "/api/v1/settings/sla", settings).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Reports and revisits answer.
    let (status, body) = app
        .get(Some(admin), "/api/v1/reports/sla?from=2020-01-01")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.get(Some(admin), "/api/v1/revisits/overdue").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["items"].as_array().map(Vec::len),
        Some(0),
        "due in 7 days, not overdue"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_on_sqlite() {
    let app = App::start("api", false).await.expect("sqlite app");
    scenario(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_on_postgres() {
    if let Some(app) = App::start("api", true).await {
        scenario(&app).await;
        app.stop().await;
    }
}
