//! `/api/v1/feedback` on the real server, SQLite and PostgreSQL: a turn of
//! an imported conversation marked as feedback, the workflow through every
//! state with refusals by role and stale version, the board, filters,
//! themes with verbatims, and the settings.

use kefu_service::auth::Role;
use kefu_store::testing::TestDb;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

mod common;

async fn scenario(db: TestDb) {
    let server = common::Server::start(
        db,
        &[
            ("boss", Role::Supervisor, "boss-pass-1"),
            ("qa", Role::Inspector, "inspector-pass-1"),
            ("a-07", Role::Agent, "agent-pass-07"),
            ("dept-1", Role::Agent, "dept-pass-01"),
        ],
        str::to_string,
    )
    .await;
    let c = common::Client::of(&server);
    let boss = c.login("boss", "boss-pass-1").await;
    let qa = c.login("qa", "inspector-pass-1").await;
    let a07 = c.login("a-07", "agent-pass-07").await;
    let dept = c.login("dept-1", "dept-pass-01").await;
    let now =
        chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("tz"));
    let conv = json!({
        "id": "fb-call-1", "channel": "phone", "agent_id": "a-07", "customer_id": "u-1",
        "started_at": now.to_rfc3339(),
        "turns": [{"role": "agent", "text": "您好，请问有什么可以帮您？"},
                  {"role": "customer", "text": "快递太慢了，物流信息也不更新。"}]
    });
    let (status, body) = c
        .call(
            &boss,
            Method::POST,
            "/api/v1/conversations",
            Some(json!([conv])),
        )
        .await;
    assert!(status.is_success(), "{body}");
    // The agent marks the customer's turn.
    let (status, body) = c
        .call(
            &a07,
            Method::POST,
            "/api/v1/feedback",
            Some(
                json!({"source": "conversation_turn", "conversation_id": "fb-call-1",
                        "turn_index": 1, "category": "物流配送/配送延迟"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["feedback"]["id"].as_str().expect("id").to_string();
    assert_eq!(
        body["feedback"]["content"],
        "快递太慢了，物流信息也不更新。"
    );
    assert_eq!(body["feedback"]["customer_id"], "u-1");
    assert_eq!(body["feedback"]["state"], "new");
    // Unknown category, missing turn.
    let (status, _) = c
        .call(
            &a07,
            Method::POST,
            "/api/v1/feedback",
            Some(json!({"category": "不存在", "content": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = c
        .call(&a07, Method::POST, "/api/v1/feedback", Some(json!({"source": "conversation_turn", "conversation_id": "nope", "turn_index": 0, "category": "其他"})))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let cmd = |body: Value| Some(body);
    let path = format!("/api/v1/feedback/{id}/commands");
    // Agents may not assign; supervisors do.
    let assign =
        json!({"command": {"type": "assign", "department": "物流部", "owner_id": "dept-1"}});
    let (status, _) = c.call(&a07, Method::POST, &path, cmd(assign.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = c
        .call(
            &boss,
            Method::POST,
            &path,
            cmd(json!({"version": 1, "command": assign["command"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["feedback"]["state"], "assigned");
    // Times are RFC 3339 text, as everywhere in the API (the due time was
    // set from the settings' answer time).
    for field in ["due_at", "created_at", "updated_at", "state_since"] {
        let t = body["feedback"][field].as_str().unwrap_or_default();
        assert!(
            chrono::DateTime::parse_from_rfc3339(t).is_ok(),
            "{field}: {}",
            body["feedback"][field]
        );
    }
    // A stale version is a conflict; a command out of order too.
    let (status, _) = c
        .call(
            &dept,
            Method::POST,
            &path,
            cmd(json!({"version": 1, "command": {"type": "start"}})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = c
        .call(
            &dept,
            Method::POST,
            &path,
            cmd(json!({"command": {"type": "close"}})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    for (token, command, state) in [
        (&dept, json!({"type": "start"}), "in_progress"),
        (
            &dept,
            json!({"type": "respond", "response": "已更换快递公司。"}),
            "answered",
        ),
        (
            &a07,
            json!({"type": "tell_customer", "note": "电话告知"}),
            "customer_told",
        ),
        (&boss, json!({"type": "close"}), "closed"),
    ] {
        let (status, body) = c
            .call(token, Method::POST, &path, cmd(json!({"command": command})))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["feedback"]["state"], state);
    }
    let (status, view) = c
        .call(&qa, Method::GET, &format!("/api/v1/feedback/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    for e in view["history"].as_array().expect("history") {
        let t = e["at"].as_str().unwrap_or_default();
        assert!(chrono::DateTime::parse_from_rfc3339(t).is_ok(), "{e}");
    }
    let kinds: Vec<&str> = view["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "created",
            "assign",
            "start",
            "respond",
            "tell_customer",
            "close"
        ]
    );
    assert_eq!(view["available_commands"], json!(["note"]));
    // A second record, rejected; the board and the filters.
    let (_, body) = c
        .call(
            &boss,
            Method::POST,
            "/api/v1/feedback",
            Some(json!({"category": "价格费用", "content": "价格太贵", "source": "manual"})),
        )
        .await;
    let id2 = body["feedback"]["id"].as_str().expect("id").to_string();
    let (status, body) = c
        .call(
            &boss,
            Method::POST,
            &format!("/api/v1/feedback/{id2}/commands"),
            cmd(json!({"command": {"type": "reject", "reason": "重复"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, board) = c
        .call(&boss, Method::GET, "/api/v1/feedback/board", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{board}");
    let items = board["items"].as_array().expect("items");
    assert!(
        items
            .iter()
            .any(|b| b["department"] == "物流部" && b["counts"]["closed"] == 1),
        "{board}"
    );
    let (status, _) = c
        .call(&a07, Method::GET, "/api/v1/feedback/board", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, list) = c
        .call(&boss, Method::GET, "/api/v1/feedback?state=rejected", None)
        .await;
    assert_eq!(list["total"], 1);
    let (_, list) = c
        .call(&boss, Method::GET, "/api/v1/feedback?per_page=1", None)
        .await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    let next = list["next"].as_str().expect("next").to_string();
    let (_, page2) = c
        .call(
            &boss,
            Method::GET,
            &format!("/api/v1/feedback?per_page=1&cursor={next}"),
            None,
        )
        .await;
    assert_eq!(page2["items"][0]["id"], id.as_str());
    let (status, _) = c
        .call(&boss, Method::GET, "/api/v1/feedback?state=bogus", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // The agent sees only what they recorded.
    let (_, mine) = c.call(&a07, Method::GET, "/api/v1/feedback", None).await;
    assert_eq!(mine["total"], 1);
    // Themes of this month, with verbatims.
    let period = now.format("%Y-%m").to_string();
    let (status, themes) = c
        .call(
            &boss,
            Method::GET,
            &format!("/api/v1/feedback/themes?period={period}&verbatims=3"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{themes}");
    assert_eq!(themes["period"], period.as_str());
    assert_eq!(themes["texts"], 3, "{themes}");
    let (status, _) = c
        .call(&boss, Method::GET, "/api/v1/feedback/themes", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Settings: read by all, written by supervisors, validated.
    let (status, s) = c
        .call(&a07, Method::GET, "/api/v1/settings/feedback", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut settings = s["settings"].clone();
    settings["ageing"]["new"] = json!("12h");
    let (status, _) = c
        .call(
            &a07,
            Method::PUT,
            "/api/v1/settings/feedback",
            Some(settings.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = c
        .call(
            &boss,
            Method::PUT,
            "/api/v1/settings/feedback",
            Some(settings.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    settings["ageing"]["closed"] = json!("1h");
    let (status, _) = c
        .call(
            &boss,
            Method::PUT,
            "/api/v1/settings/feedback",
            Some(settings),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_api_on_both_backends() {
    scenario(TestDb::sqlite("feedback_api")).await;
    if let Some(db) = TestDb::postgres("feedback_api").await {
        scenario(db).await;
    }
}

/// `kefu serve` ages feedback by itself: a record left in 新建 for two days
/// is escalated by the background job without anyone running
/// `kefu feedback age`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_ages_feedback_in_the_background() {
    use kefu_service::auth::Principal;
    use kefu_service::feedback::{FeedbackService, NewFeedback};
    let db = TestDb::sqlite("feedback_ageing_job");
    let store = db.open().await;
    let svc = FeedbackService::new(store.clone());
    let boss = Principal {
        user_id: "boss".into(),
        role: Role::Supervisor,
        team: None,
    };
    let two_days_ago = chrono::Utc::now().timestamp_millis() - 48 * 3_600_000;
    let left = svc
        .create(
            &boss,
            NewFeedback {
                category: "建议/服务建议".into(),
                content: "无人处理的意见".into(),
                ..NewFeedback::default()
            },
            two_days_ago,
        )
        .await
        .expect("create");
    assert!(left.escalated_at.is_none());
    let job =
        kefu_server::spawn_feedback_ageing(store.clone(), std::time::Duration::from_millis(50));
    let mut escalated = false;
    for _ in 0..100 {
        let now = chrono::Utc::now().timestamp_millis();
        let view = svc.get(&boss, &left.id, now).await.expect("get");
        if view.feedback.escalated_at.is_some() {
            escalated = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    job.abort();
    assert!(escalated, "the ageing job escalated {}", left.id);
}
