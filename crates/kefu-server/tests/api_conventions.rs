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

    // A file imported through the API: multipart `file`, detected, with
    // line-numbered errors; agents may not.
    let jsonl = format!(
        "{}\n{{broken\n",
        json!({"id": "api-file-1", "channel": "chat", "turns": [{"role": "agent", "text": "您好"}]})
    );
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(jsonl.into_bytes()).file_name("day.jsonl"),
    );
    let r = http
        .post(format!("{base}/api/v1/imports"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .expect("import");
    assert_eq!(r.status(), StatusCode::CREATED);
    let imported: Value = r.json().await.expect("json");
    assert_eq!(imported["format"], "native", "{imported}");
    assert_eq!(imported["stored"], 1, "{imported}");
    assert_eq!(imported["errors"][0]["line"], 2, "{imported}");
    assert_eq!(imported["without_agent"], 1, "{imported}");
    let r = http
        .post(format!("{base}/api/v1/imports"))
        .bearer_auth(&token)
        .multipart(reqwest::multipart::Form::new().text("other", "x"))
        .send()
        .await
        .expect("import");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // One time format: every `*_at` / `at` in the answers is RFC 3339 text
    // (or null), never Unix milliseconds — lists, details, assessment runs,
    // packs, customers.
    let run = post(
        &http,
        &token,
        format!("{base}/api/v1/assessments"),
        &json!({"period": this_month}).to_string(),
    )
    .await;
    assert_eq!(run.status(), StatusCode::CREATED);
    let run: Value = run.json().await.expect("json");
    let run_id = run["id"].as_i64().expect("run id");
    let paths = [
        "/api/v1/conversations".to_string(),
        format!("/api/v1/conversations/{id}"),
        "/api/v1/complaints".to_string(),
        format!("/api/v1/complaints/{cid}"),
        "/api/v1/assessments".to_string(),
        format!("/api/v1/assessments/{run_id}"),
        "/api/v1/packs".to_string(),
        "/api/v1/customers".to_string(),
        "/api/v1/me".to_string(),
    ];
    let mut checked = 0;
    for path in paths {
        let body: Value = http
            .get(format!("{base}{path}"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        checked += times_are_rfc3339(&path, &body);
    }
    assert!(checked >= 10, "only {checked} times seen");
    // The OpenAPI names the formats.
    let spec: Value = http
        .get(format!("{base}/api/openapi.json"))
        .send()
        .await
        .expect("spec")
        .json()
        .await
        .expect("json");
    assert_eq!(spec["components"]["schemas"]["Time"]["format"], "date-time");
    assert!(spec["components"]["schemas"]["Duration"]["pattern"].is_string());

    server.stop().await;
}

/// Asserts every time field in `v` is RFC 3339 text or null; returns how
/// many were checked.
fn times_are_rfc3339(path: &str, v: &Value) -> usize {
    match v {
        Value::Object(map) => map
            .iter()
            .map(|(k, x)| {
                let own = if k == "at" || k.ends_with("_at") {
                    assert!(
                        x.is_null()
                            || x.as_str().is_some_and(|t| {
                                chrono::DateTime::parse_from_rfc3339(t).is_ok()
                            }),
                        "{path}: `{k}` is {x}, not RFC 3339"
                    );
                    usize::from(!x.is_null())
                } else {
                    0
                };
                own + times_are_rfc3339(path, x)
            })
            .sum(),
        Value::Array(items) => items.iter().map(|x| times_are_rfc3339(path, x)).sum(),
        _ => 0,
    }
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
