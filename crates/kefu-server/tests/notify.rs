//! Notifications on the real server, SQLite and PostgreSQL: the inbox API
//! (list, unread count, mark read, mark all read; nobody reads another's),
//! webhook endpoints and the delivery log (admins only), users' e-mail
//! addresses; the dashboard's `/inbox` page in Chinese and English, the
//! unread badge in the header of every page, mark read by form (CSRF),
//! and the admin page.

use kefu_service::auth::Role;
use kefu_service::notify::{Deliverer, DeliveryConfig, Event, Notification};
use kefu_store::testing::TestDb;
use kefu_store::Store;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

mod common;
use common::{csrf, Web};

const USERS: &[(&str, Role, &str)] = &[
    ("admin", Role::Admin, "admin-pass-1"),
    ("boss", Role::Supervisor, "boss-pass-1"),
    ("a-07", Role::Agent, "agent-pass-07"),
];

/// Records `n` notifications for `user` and delivers them to the inbox.
async fn notify(store: &Store, user: &str, n: usize) {
    for i in 0..n {
        let mut tx = store.write().await.expect("tx");
        Notification::new(Event::AppealDecided, "appeal", format!("{i}"))
            .title(format!("申诉 {i} 已采纳"))
            .body("得分 80 → 90")
            .link(format!("/appeals/{i}"))
            .to(user)
            .record(&mut tx, kefu_store::now_ms())
            .await
            .expect("record");
        tx.commit().await.expect("commit");
    }
    Deliverer::new(store.clone(), DeliveryConfig::new("test"))
        .expect("deliverer")
        .run_once(kefu_store::now_ms())
        .await
        .expect("deliver");
}

async fn api(db: TestDb) {
    let server = common::Server::start(db, USERS, str::to_string).await;
    let c = common::Client::of(&server);
    let admin = c.login("admin", "admin-pass-1").await;
    let boss = c.login("boss", "boss-pass-1").await;
    let a07 = c.login("a-07", "agent-pass-07").await;
    notify(&server.store, "a-07", 3).await;

    let (status, body) = c
        .call(&a07, Method::GET, "/api/v1/notifications", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["unread"], 3);
    let items = body["items"].as_array().expect("items").clone();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["event"], "appeal.decided");
    assert_eq!(items[0]["title"], "申诉 2 已采纳");
    assert_eq!(items[0]["link"], "/appeals/2");
    assert!(items[0]["read_at"].is_null());
    let created = items[0]["created_at"].as_str().unwrap_or_default();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created).is_ok(),
        "{created}"
    );
    let first = items[0]["id"].as_i64().expect("id");
    // Paging by `before`.
    let (_, page) = c
        .call(
            &a07,
            Method::GET,
            &format!("/api/v1/notifications?limit=2&before={first}"),
            None,
        )
        .await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    // Others see none of it and cannot mark it.
    let (_, theirs) = c
        .call(&boss, Method::GET, "/api/v1/notifications", None)
        .await;
    assert_eq!(theirs["unread"], 0);
    let path = format!("/api/v1/notifications/{first}/read");
    let (status, _) = c.call(&boss, Method::POST, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = c.call(&a07, Method::POST, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["unread"], 2);
    let (_, body) = c
        .call(
            &a07,
            Method::GET,
            "/api/v1/notifications/unread-count",
            None,
        )
        .await;
    assert_eq!(body["unread"], 2);
    let (_, body) = c
        .call(&a07, Method::GET, "/api/v1/notifications?unread=true", None)
        .await;
    assert_eq!(body["items"].as_array().map(Vec::len), Some(2));
    let (status, body) = c
        .call(&a07, Method::POST, "/api/v1/notifications/read-all", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["marked"], 2);
    let (_, body) = c
        .call(
            &a07,
            Method::GET,
            "/api/v1/notifications/unread-count",
            None,
        )
        .await;
    assert_eq!(body["unread"], 0);

    // Webhooks: admins only; the secret is shown once.
    let hook = json!({"url": "http://127.0.0.1:9/hook", "events": "complaint.*,appeal.decided"});
    let (status, _) = c
        .call(&boss, Method::POST, "/api/v1/webhooks", Some(hook.clone()))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = c
        .call(&admin, Method::POST, "/api/v1/webhooks", Some(hook))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["webhook"]["secret"].as_str().map(str::len), Some(64));
    let id = body["webhook"]["id"].as_i64().expect("id");
    let (status, body) = c
        .call(
            &admin,
            Method::POST,
            "/api/v1/webhooks",
            Some(json!({"url": "ftp://x", "events": "*"})),
        )
        .await;
    assert!(status.is_client_error(), "{status} {body}");
    let (status, _) = c
        .call(
            &admin,
            Method::POST,
            "/api/v1/webhooks",
            Some(json!({"url": "http://x.test/", "events": "nope.event"})),
        )
        .await;
    assert!(status.is_client_error());
    let (_, body) = c.call(&admin, Method::GET, "/api/v1/webhooks", None).await;
    assert_eq!(body["items"].as_array().map(Vec::len), Some(1));
    assert!(body["items"][0].get("secret").is_none(), "{body}");
    // The next notification goes to the endpoint; the log shows the
    // failed attempt (nothing listens on port 9) with its next attempt.
    notify(&server.store, "a-07", 1).await;
    let (status, body) = c
        .call(&admin, Method::GET, "/api/v1/webhooks/deliveries", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let log = body["items"].as_array().expect("items");
    assert_eq!(log.len(), 1, "{body}");
    assert_eq!(log[0]["channel"], "webhook");
    assert_eq!(log[0]["state"], "pending");
    assert_eq!(log[0]["attempts"], 1);
    assert!(log[0]["last_error"].as_str().is_some_and(|e| !e.is_empty()));
    assert!(log[0]["next_attempt_at"].as_str().is_some());
    let (status, _) = c
        .call(&boss, Method::GET, "/api/v1/webhooks/deliveries", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = c
        .call(
            &admin,
            Method::DELETE,
            &format!("/api/v1/webhooks/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["active"], false);

    // E-mail addresses: admins set them, checked.
    let (status, _) = c
        .call(
            &boss,
            Method::PUT,
            "/api/v1/users/a-07/email",
            Some(json!({"email": "a@example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = c
        .call(
            &admin,
            Method::PUT,
            "/api/v1/users/a-07/email",
            Some(json!({"email": "not an address"})),
        )
        .await;
    assert!(status.is_client_error());
    let (status, body) = c
        .call(
            &admin,
            Method::PUT,
            "/api/v1/users/a-07/email",
            Some(json!({"email": "a07@example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = c
        .call(
            &admin,
            Method::PUT,
            "/api/v1/users/nobody/email",
            Some(json!({"email": "n@example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, doc) = c.call(&a07, Method::GET, "/api/openapi.json", None).await;
    assert!(doc["paths"]["/api/v1/notifications"].is_object());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_api_on_both_backends() {
    api(TestDb::sqlite("notify_api")).await;
    if let Some(db) = TestDb::postgres("notify_api").await {
        api(db).await;
    }
}

/// The number in the header's badge, if shown.
fn badge(html: &str) -> Option<i64> {
    let at = html.find("id=\"unread-badge\"")?;
    let rest = &html[at..];
    let start = rest.find('>')? + 1;
    let end = rest[start..].find('<')? + start;
    rest[start..end].trim().parse().ok()
}

async fn web(db: TestDb) {
    let server = common::Server::start(db, USERS, str::to_string).await;
    notify(&server.store, "a-07", 2).await;
    let a07 = Web::login(&server.base, "a-07", "agent-pass-07").await;
    // The badge is in the header of every page.
    for page in ["/", "/complaints", "/feedback", "/conversations"] {
        let (status, html) = a07.get(page).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(badge(&html), Some(2), "{page}");
        assert!(html.contains("href=\"/inbox\""), "{page}");
    }
    let (status, html) = a07.get("/inbox").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("申诉 1 已采纳") && html.contains("申诉 0 已采纳"),
        "{html}"
    );
    assert!(html.contains("href=\"/appeals/1\""));
    assert!(html.contains("申诉已裁定"));
    let (_, en) = a07.get("/inbox?lang=en").await;
    assert!(
        en.contains("Notifications")
            && en.contains("Appeal decided")
            && en.contains("Mark all read")
    );
    // Mark one read: the CSRF token is required.
    let action = html
        .match_indices("action=\"/inbox/")
        .map(|(at, m)| {
            let at = at + m.len() - "/inbox/".len();
            html[at..at + html[at..].find('"').expect("end")].to_string()
        })
        .find(|a| a != "/inbox/read-all")
        .expect("a mark-read form");
    let (status, _) = a07.submit(&action, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let token = csrf(&html);
    let (status, to) = a07.submit(&action, &[("_csrf", &token)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(to, "/inbox?done=marked_read");
    let (_, html) = a07.get("/inbox?done=marked_read").await;
    assert_eq!(badge(&html), Some(1));
    assert!(html.contains("已标为已读"));
    // Another user cannot mark it.
    let boss = Web::login(&server.base, "boss", "boss-pass-1").await;
    let (_, bhtml) = boss.get("/inbox").await;
    assert_eq!(badge(&bhtml), None);
    assert!(bhtml.contains("没有通知"));
    let (status, _) = boss.submit(&action, &[("_csrf", &csrf(&bhtml))]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Mark all read: the badge goes.
    let (status, _) = a07.submit("/inbox/read-all", &[("_csrf", &token)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, html) = a07.get("/complaints").await;
    assert_eq!(badge(&html), None);

    // The admin page: admins only; adding an endpoint shows its secret once.
    let (status, _) = boss.get("/admin/notifications").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let admin = Web::login(&server.base, "admin", "admin-pass-1").await;
    let (status, html) = admin.get("/admin/notifications").await;
    assert_eq!(status, StatusCode::OK);
    let token = csrf(&html);
    let (status, html) = admin
        .submit(
            "/admin/notifications/webhooks",
            &[
                ("_csrf", &token),
                ("url", "http://127.0.0.1:9/h"),
                ("events", "*"),
                ("secret", ""),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("id=\"new-secret\""), "{html}");
    assert!(html.contains("http://127.0.0.1:9/h"));
    let (status, to) = admin
        .submit(
            "/admin/notifications/email",
            &[
                ("_csrf", &token),
                ("user", "a-07"),
                ("email", "a07@example.com"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{to}");
    assert_eq!(
        kefu_service::notify::NotifyService::new(server.store.clone())
            .email("a-07")
            .await
            .expect("email")
            .as_deref(),
        Some("a07@example.com")
    );
    let (_, html) = admin.get("/admin").await;
    assert!(html.contains("href=\"/admin/notifications\""));
    let _: Value = json!(null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_page_and_badge_on_both_backends() {
    web(TestDb::sqlite("notify_web")).await;
    if let Some(db) = TestDb::postgres("notify_web").await {
        web(db).await;
    }
}
