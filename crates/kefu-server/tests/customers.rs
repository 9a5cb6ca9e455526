//! `/api/v1/customers` on the real server, SQLite and PostgreSQL: linking
//! on import through `POST /conversations`, who sees which customer,
//! masking on every customer endpoint, profile updates with versions,
//! grades, contacts resetting the clock, the follow-up queue, care and
//! merges.

use kefu_service::auth::Role;
use kefu_store::testing::TestDb;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

mod common;

struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    async fn call(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("request");
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
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
        let v: Value = r.json().await.expect("json");
        v["token"].as_str().expect("token").to_string()
    }
}

fn conversation(id: &str, agent: &str, customer: &str, phone: &str, at: &str) -> Value {
    json!({
        "id": id, "channel": "phone", "agent_id": agent, "agent_name": format!("坐席{agent}"),
        "customer_id": customer, "customer_name": "王芳", "started_at": at,
        "meta": {"caller_number": phone},
        "turns": [{"role": "agent", "text": "您好，请问有什么可以帮您？"},
                  {"role": "customer", "text": "宽带装好了吗？"}]
    })
}

/// All masked phones in a response must be masked: the full number never
/// appears.
fn assert_masked(body: &Value, phone: &str, what: &str) {
    assert!(
        !body.to_string().contains(phone),
        "{what} shows the full phone: {body}"
    );
}

async fn scenario(db: TestDb) {
    let server = common::Server::start(
        db,
        &[
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
    let boss = c.login("boss", "boss-pass-1").await;
    let qa = c.login("qa", "inspector-pass-1").await;
    let a07 = c.login("a-07", "agent-pass-07").await;
    let a11 = c.login("a-11", "agent-pass-11").await;
    let batch = json!([
        conversation(
            "k-1",
            "a-07",
            "u-500",
            "13700137000",
            "2026-03-01T10:00:00+08:00"
        ),
        conversation(
            "k-2",
            "a-07",
            "u-500",
            "13700137000",
            "2026-03-03T10:00:00+08:00"
        ),
        conversation(
            "k-3",
            "a-11",
            "u-600",
            "13600136000",
            "2026-03-02T10:00:00+08:00"
        ),
    ]);
    for _ in 0..2 {
        let (status, body) = c
            .call(
                &boss,
                Method::POST,
                "/api/v1/conversations",
                Some(batch.clone()),
            )
            .await;
        assert!(status.is_success(), "{body}");
    }
    // a-07 sees their customer, not a-11's.
    let (status, mine) = c.call(&a07, Method::GET, "/api/v1/customers", None).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(mine["total"], 1, "{mine}");
    let id = mine["items"][0]["id"].as_str().expect("id").to_string();
    let (_, theirs) = c.call(&a11, Method::GET, "/api/v1/customers", None).await;
    let their_id = theirs["items"][0]["id"].as_str().expect("id").to_string();
    let (status, _) = c
        .call(
            &a07,
            Method::GET,
            &format!("/api/v1/customers/{their_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for path in ["timeline", "conversations", "grade"] {
        let (status, _) = c
            .call(
                &a07,
                Method::GET,
                &format!("/api/v1/customers/{their_id}/{path}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    // The owner sees the phone; linking on import was idempotent.
    let (status, own) = c
        .call(&a07, Method::GET, &format!("/api/v1/customers/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{own}");
    assert_eq!(own["customer"]["phones"][0], "13700137000");
    assert_eq!(own["stats"]["contacts"], 2, "{own}");
    let (_, convs) = c
        .call(
            &a07,
            Method::GET,
            &format!("/api/v1/customers/{id}/conversations"),
            None,
        )
        .await;
    assert_eq!(convs["items"], json!(["k-2", "k-1"]));
    // Masking holds on every customer endpoint for the inspector.
    for path in [
        format!("/api/v1/customers/{id}"),
        "/api/v1/customers".to_string(),
        format!("/api/v1/customers/{id}/timeline"),
        "/api/v1/follow-ups?agent=a-07".to_string(),
        "/api/v1/care?agent=a-07&days=366".to_string(),
    ] {
        let (status, body) = c.call(&qa, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert_masked(&body, "13700137000", &path);
        assert!(
            !body.to_string().contains("王芳"),
            "{path} shows the name: {body}"
        );
    }
    let (_, seen) = c
        .call(&qa, Method::GET, &format!("/api/v1/customers/{id}"), None)
        .await;
    assert_eq!(seen["customer"]["phones"][0], "137****7000");
    // The owner fills in the 十问 profile and a lunar birthday.
    let mut input = json!({
        "name": "王芳",
        "profile": {"title": "王总", "company": "星联科技", "budget": "5万"},
        "phones": ["13700137000"],
        "platform_ids": [{"kind": "native", "value": "u-500"}],
        "tags": ["宽带"],
        "fields": [{"name": "年采购量", "kind": "number", "value": "1200"}],
        "dates": [{"label": "生日", "calendar": "lunar", "year": 1988, "month": 12, "day": 30, "leap": false, "remind_days": 366}],
        "version": own["customer"]["version"]
    });
    let (status, updated) = c
        .call(
            &a07,
            Method::PUT,
            &format!("/api/v1/customers/{id}"),
            Some(input.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["customer"]["ten_questions_answered"], 3);
    let (status, _) = c
        .call(
            &a07,
            Method::PUT,
            &format!("/api/v1/customers/{id}"),
            Some(input.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "stale version");
    input["fields"][0]["value"] = json!("很多");
    input["version"] = updated["customer"]["version"].clone();
    let (status, _) = c
        .call(
            &a07,
            Method::PUT,
            &format!("/api/v1/customers/{id}"),
            Some(input.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a number field");
    let (status, _) = c
        .call(
            &a11,
            Method::PUT,
            &format!("/api/v1/customers/{id}"),
            Some(input.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Care: the lunar birthday is within the year ahead.
    let (_, care) = c
        .call(&a07, Method::GET, "/api/v1/care?days=366", None)
        .await;
    assert!(
        care["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|i| i["label"] == "生日"),
        "{care}"
    );
    // Grades: supervisors only, with a reason.
    let (status, _) = c
        .call(
            &a07,
            Method::POST,
            &format!("/api/v1/customers/{id}/grade"),
            Some(json!({"grade": "A", "reason": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, graded) = c
        .call(
            &boss,
            Method::POST,
            &format!("/api/v1/customers/{id}/grade"),
            Some(json!({"grade": "A", "reason": "集团客户"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{graded}");
    assert_eq!(graded["customer"]["grade"], "A");
    // Long past the last call: overdue in a-07's queue; a logged outcome
    // clears it.
    let (_, queue) = c.call(&a07, Method::GET, "/api/v1/follow-ups", None).await;
    assert_eq!(queue["overdue"][0]["id"], id.as_str(), "{queue}");
    let (status, _) = c
        .call(&a07, Method::GET, "/api/v1/follow-ups?agent=a-11", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = c
        .call(
            &a07,
            Method::POST,
            &format!("/api/v1/customers/{id}/contacts"),
            Some(json!({"kind": "outbound", "outcome": "reached"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, queue) = c.call(&a07, Method::GET, "/api/v1/follow-ups", None).await;
    assert_eq!(queue["overdue"], json!([]), "{queue}");
    // Merge: supervisors; undone again.
    let (status, _) = c
        .call(
            &a07,
            Method::POST,
            &format!("/api/v1/customers/{id}/merge"),
            Some(json!({"merged_id": their_id})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, merged) = c
        .call(
            &boss,
            Method::POST,
            &format!("/api/v1/customers/{id}/merge"),
            Some(json!({"merged_id": their_id})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{merged}");
    let (_, convs) = c
        .call(
            &boss,
            Method::GET,
            &format!("/api/v1/customers/{id}/conversations"),
            None,
        )
        .await;
    assert_eq!(convs["items"].as_array().map(Vec::len), Some(3));
    let merge_id = merged["merge_id"].as_i64().expect("merge id");
    let (status, _) = c
        .call(
            &boss,
            Method::POST,
            &format!("/api/v1/customer-merges/{merge_id}/undo"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, convs) = c
        .call(
            &boss,
            Method::GET,
            &format!("/api/v1/customers/{their_id}/conversations"),
            None,
        )
        .await;
    assert_eq!(convs["items"], json!(["k-3"]));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_api_on_both_backends() {
    scenario(TestDb::sqlite("customers_api")).await;
    if let Some(db) = TestDb::postgres("customers_api").await {
        scenario(db).await;
    }
}

/// `kefu serve`'s periodic sync: a complaint opened for a customer's phone
/// becomes a contact of the customer within a few runs, resetting the
/// cadence, with two "nodes" syncing the same database at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complaint_activity_synced_in_the_background() {
    use kefu_service::auth::Principal;
    use kefu_service::complaint::{Actor, ActorRole, ComplaintService, Customer, NewComplaint};
    use kefu_service::customer::{CustomerInput, CustomerService};
    let db = TestDb::sqlite("customer_sync");
    let store = db.open().await;
    let boss = Principal {
        user_id: "boss".into(),
        role: Role::Supervisor,
        team: None,
    };
    let customers = CustomerService::new(store.clone());
    let c = customers
        .create(
            &boss,
            &CustomerInput {
                name: "张伟".into(),
                phones: vec!["13800138000".into()],
                ..Default::default()
            },
            1_700_000_000_000,
        )
        .await
        .expect("customer");
    let every = std::time::Duration::from_millis(50);
    let nodes = [
        kefu_server::spawn_customer_sync(store.clone(), every),
        kefu_server::spawn_customer_sync(store.clone(), every),
    ];
    let mut who = Customer::named("张先生");
    who.phone = Some("13800138000".into());
    let opened = chrono::Utc::now();
    ComplaintService::new(store.clone())
        .create(
            NewComplaint::new("", who, "phone", "billing", "多扣费"),
            &Actor::new("boss", ActorRole::Supervisor),
            opened,
        )
        .await
        .expect("complaint");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let v = customers
            .get(&boss, &c.id, opened.timestamp_millis())
            .await
            .expect("get");
        if v.last_contact_at == Some(opened.timestamp_millis()) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the complaint never became a contact: {v:?}"
        );
        tokio::time::sleep(every).await;
    }
    tokio::time::sleep(every * 3).await;
    for n in nodes {
        n.abort();
    }
    let stats = customers
        .stats(&boss, &c.id, opened.timestamp_millis())
        .await
        .expect("stats");
    assert_eq!(stats.figures.contacts, 1, "recorded once by two nodes");
    store.close().await;
}
