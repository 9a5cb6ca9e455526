//! Every API route × every role, read from the router's own definition
//! (`src/lib.rs`), so a route added there is covered here without editing
//! this file. Agent `a-07` must never see anything of agent `a-11` — their
//! conversations, complaint and appeal — nor change it; nobody gets a 5xx
//! for a request with an empty body; nobody unauthenticated gets past 401.

use kefu_service::auth::Role;
use kefu_store::testing::TestDb;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

mod common;

const ROUTER: &str = include_str!("../src/lib.rs");

/// Routes open without signing in.
const PUBLIC: &[&str] = &["/api/v1/auth/login"];

struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    async fn call(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, String) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("request");
        let status = r.status();
        (status, r.text().await.unwrap_or_default())
    }

    async fn login(&self, user: &str, password: &str) -> String {
        let (status, body) = self
            .call(
                None,
                Method::POST,
                "/api/v1/auth/login",
                Some(json!({"user": user, "password": password})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let v: Value = serde_json::from_str(&body).expect("json");
        v["token"].as_str().expect("token").to_string()
    }
}

async fn matrix(db: TestDb) -> usize {
    let server = common::Server::start(
        db,
        &[
            ("admin", Role::Admin, "admin-pass-1"),
            ("boss", Role::Supervisor, "boss-pass-1"),
            ("qa", Role::Inspector, "inspector-pass-1"),
            ("a-07", Role::Agent, "agent-pass-07"),
            ("a-11", Role::Agent, "agent-pass-11"),
        ],
        str::to_string,
    )
    .await;
    let c = Client {
        base: server.base.clone(),
        http: reqwest::Client::new(),
    };
    let admin = c.login("admin", "admin-pass-1").await;
    let (items, their_conversations) = common::two_agents_conversations();
    let (status, body) = c
        .call(
            Some(&admin),
            Method::POST,
            "/api/v1/conversations",
            Some(items),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // a-11's complaint and appeal.
    let theirs = c.login("a-11", "agent-pass-11").await;
    let (status, body) = c
        .call(
            Some(&theirs),
            Method::POST,
            "/api/v1/complaints",
            Some(json!({
                "id": "",
                "customer": {"name": "赵六", "phone": "13900001111"},
                "channel": "phone",
                "category": "计费",
                "description": "仅a-11可见的投诉",
                "special": false
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let complaint: Value = serde_json::from_str(&body).expect("json");
    let complaint_id = complaint["complaint"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let mut appeal_id = None;
    for conv in &their_conversations {
        let (status, body) = c
            .call(
                Some(&theirs),
                Method::POST,
                &format!("/api/v1/conversations/{conv}/appeals"),
                Some(json!({"finding": "auto:0", "reason": "复述客户原话"})),
            )
            .await;
        if status == StatusCode::CREATED {
            let v: Value = serde_json::from_str(&body).expect("json");
            appeal_id = Some(
                v["id"]
                    .as_i64()
                    .or(v["appeal"]["id"].as_i64())
                    .expect("appeal id"),
            );
            break;
        }
    }
    let appeal_id = appeal_id.expect("an appeal of a-11").to_string();
    let their_conversation = their_conversations[0].clone();
    // What must never reach a-07.
    let secrets: Vec<String> = their_conversations
        .iter()
        .cloned()
        .chain([
            complaint_id.clone(),
            "13900001111".into(),
            "仅a-11可见".into(),
        ])
        .collect();

    let routes: Vec<(Method, String)> = common::routes_in(ROUTER, "let api = Router::new()")
        .into_iter()
        .map(|(m, p)| (m, format!("/api/v1{p}")))
        .collect();
    assert!(routes.len() >= 30, "the router was read: {routes:?}");
    let fill = |path: &str| -> String {
        path.replace(
            "/conversations/{id}",
            &format!("/conversations/{their_conversation}"),
        )
        .replace("/complaints/{id}", &format!("/complaints/{complaint_id}"))
        .replace("/appeals/{id}", &format!("/appeals/{appeal_id}"))
        .replace("{id}", "1")
    };

    let mut cells = 0;
    // Not signed in: 401 everywhere but the login itself.
    for (method, path) in &routes {
        if PUBLIC.contains(&path.as_str()) {
            continue;
        }
        let (status, body) = c
            .call(None, method.clone(), &fill(path), Some(json!({})))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {body}");
        cells += 1;
    }
    // The other agent: never a 2xx on a-11's records, never a byte of them.
    let mine = c.login("a-07", "agent-pass-07").await;
    for (method, path) in &routes {
        if path.ends_with("/auth/logout") {
            continue;
        }
        let target = fill(path);
        let (status, body) = c
            .call(Some(&mine), method.clone(), &target, Some(json!({})))
            .await;
        assert!(
            !status.is_server_error(),
            "a-07 {method} {target}: {status} {body}"
        );
        if path.contains("{id}")
            && !path.starts_with("/api/v1/revisits")
            && !path.starts_with("/api/v1/assessments")
        {
            assert!(
                !status.is_success(),
                "a-07 reached a-11's record: {method} {target}: {status} {body}"
            );
        }
        // An error may echo the id that was asked for; nothing else.
        for s in secrets.iter().filter(|s| !target.contains(s.as_str())) {
            assert!(
                !body.contains(s.as_str()),
                "a-07 saw `{s}` of a-11 through {method} {target}: {body}"
            );
        }
        cells += 1;
    }
    // Every role on every route: no 5xx for an empty body.
    for (user, password) in [
        ("qa", "inspector-pass-1"),
        ("boss", "boss-pass-1"),
        ("a-11", "agent-pass-11"),
        ("admin", "admin-pass-1"),
    ] {
        let token = c.login(user, password).await;
        for (method, path) in &routes {
            if path.ends_with("/auth/logout") {
                continue;
            }
            let target = fill(path);
            let (status, body) = c
                .call(Some(&token), method.clone(), &target, Some(json!({})))
                .await;
            assert!(
                !status.is_server_error(),
                "{user} {method} {target}: {status} {body}"
            );
            cells += 1;
        }
    }
    server.stop().await;
    cells
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_every_role_on_both_backends() {
    let cells = matrix(TestDb::sqlite("rbac")).await;
    eprintln!("rbac: {cells} cells checked on SQLite");
    if let Some(db) = TestDb::postgres("rbac").await {
        let cells = matrix(db).await;
        eprintln!("rbac: {cells} cells checked on PostgreSQL");
    }
}
