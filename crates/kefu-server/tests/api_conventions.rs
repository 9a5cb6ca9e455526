//! API conventions (issue 12, item 9) on the real server: ids optional on
//! create, `201 Created` with `Location`, `/reports/sla?period=`, and error
//! messages without axum's or serde's internals.

use kefu_service::auth::Role;
use kefu_store::testing::TestDb;
use reqwest::header::LOCATION;
use reqwest::StatusCode;
use serde_json::{json, Value};

mod common;

async fn login(http: &reqwest::Client, base: &str) -> String {
    let body: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"user": "admin", "password": "admin-pass-1"}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    body["token"].as_str().expect("token").to_string()
}

async fn post(http: &reqwest::Client, token: &str, url: String, body: &str) -> reqwest::Response {
    http.post(url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request")
}

async fn conventions(db: TestDb) {
    let server = common::Server::start(
        db,
        &[("admin", Role::Admin, "admin-pass-1")],
        str::to_string,
    )
    .await;
    let base = server.base.clone();
    let http = reqwest::Client::new();
    let token = login(&http, &base).await;

    // A conversation without `id` gets one, answered 201 with Location;
    // the same record again is a duplicate (200, skipped).
    let record = json!({
        "channel": "chat", "agent_id": "a-07", "started_at": "2026-03-18T10:00:00+08:00",
        "turns": [{"role": "agent", "text": "您好，请问有什么可以帮您？"},
                  {"role": "customer", "text": "查一下话费"}]
    })
    .to_string();
    let r = post(
        &http,
        &token,
        format!("{base}/api/v1/conversations"),
        &record,
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let location = r.headers()[LOCATION]
        .to_str()
        .expect("location")
        .to_string();
    let body: Value = r.json().await.expect("json");
    let id = body["results"][0]["id"]
        .as_str()
        .expect("generated id")
        .to_string();
    assert!(id.starts_with("conv-"), "{id}");
    assert_eq!(location, format!("/api/v1/conversations/{id}"));
    let got = http
        .get(format!("{base}{location}"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get");
    assert_eq!(got.status(), StatusCode::OK);
    let again = post(
        &http,
        &token,
        format!("{base}/api/v1/conversations"),
        &record,
    )
    .await;
    assert_eq!(again.status(), StatusCode::OK);
    let again: Value = again.json().await.expect("json");
    assert_eq!(again["skipped"], 1, "{again}");

    // An id with `#` and Chinese comes back percent-encoded in Location.
    let odd = json!({"id": "taobao-chat#3 客服", "channel": "chat",
                     "turns": [{"role": "agent", "text": "您好"}]})
    .to_string();
    let r = post(&http, &token, format!("{base}/api/v1/conversations"), &odd).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(
        r.headers()[LOCATION],
        "/api/v1/conversations/taobao-chat%233%20%E5%AE%A2%E6%9C%8D"
    );

    // A complaint without `id`: generated, 201, Location that answers.
    let complaint = json!({
        "customer": {"name": "张伟"}, "channel": "phone", "category": "计费",
        "description": "话费多扣二十元"
    })
    .to_string();
    let r = post(
        &http,
        &token,
        format!("{base}/api/v1/complaints"),
        &complaint,
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let location = r.headers()[LOCATION]
        .to_str()
        .expect("location")
        .to_string();
    let body: Value = r.json().await.expect("json");
    let cid = body["complaint"]["id"].as_str().expect("id");
    assert_eq!(location, format!("/api/v1/complaints/{cid}"));
    let got = http
        .get(format!("{base}{location}"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get");
    assert_eq!(got.status(), StatusCode::OK);

    // Errors say what is wrong without axum's or serde's wording.
    let r = post(
        &http,
        &token,
        format!("{base}/api/v1/complaints"),
        r#"{"customer": {"name": "张伟"}, "channel": "phone", "description": "x"}"#,
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.expect("json");
    let message = body["error"]["message"].as_str().expect("message");
    assert_eq!(message, "invalid request body: missing field `category`");

    // `/reports/sla?period=` is honoured: this month holds the complaint,
    // an old month does not; `period` with `from` is refused.
    let this_month = chrono::Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("offset"))
        .format("%Y-%m")
        .to_string();
    let report = |period: String| {
        let http = http.clone();
        let token = token.clone();
        let base = base.clone();
        async move {
            let r = http
                .get(format!("{base}/api/v1/reports/sla?{period}"))
                .bearer_auth(&token)
                .send()
                .await
                .expect("report");
            let status = r.status();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, now) = report(format!("period={this_month}")).await;
    assert_eq!(status, StatusCode::OK, "{now}");
    let (status, old) = report("period=2020-01".into()).await;
    assert_eq!(status, StatusCode::OK, "{old}");
    assert!(now.to_string().contains(cid), "{now}");
    assert!(!old.to_string().contains(cid), "{old}");
    let (status, _) = report("period=2020-01&from=2020-01-01".into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = report("period=someday".into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conventions_on_sqlite() {
    conventions(TestDb::sqlite("conventions")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conventions_on_postgres() {
    if let Some(db) = TestDb::postgres("conventions").await {
        conventions(db).await;
    }
}
