//! The customer pages over HTTP (no browser): the list by grade, the
//! customer page with its 十问 profile and timeline, my follow-ups with
//! care reminders, the contact and grade forms (CSRF), masking for
//! inspectors, and both languages; SQLite and PostgreSQL.

use kefu_service::auth::Role;
use kefu_store::testing::TestDb;
use reqwest::header::{HeaderMap, COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};

mod common;

const USERS: &[(&str, Role, &str)] = &[
    ("boss", Role::Supervisor, "boss-pass-1"),
    ("qa", Role::Inspector, "inspector-pass-1"),
    ("a-07", Role::Agent, "agent-pass-07"),
    ("a-11", Role::Agent, "agent-pass-11"),
];

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| c.split(';').next())
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn csrf(html: &str) -> String {
    let marker = "name=\"_csrf\" value=\"";
    let at = html.find(marker).expect("a form with a CSRF token") + marker.len();
    html[at..at + html[at..].find('"').expect("end")].to_string()
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

struct App {
    base: String,
    http: reqwest::Client,
}

impl App {
    async fn get(&self, cookies: &str, path: &str) -> (StatusCode, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, cookies)
            .send()
            .await
            .expect("GET");
        (r.status(), r.text().await.unwrap_or_default())
    }

    async fn post(
        &self,
        cookies: &str,
        path: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap) {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, cookies)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("POST");
        (r.status(), r.headers().clone())
    }

    async fn login(&self, user: &str, password: &str) -> String {
        let r = self
            .http
            .get(format!("{}/login", self.base))
            .send()
            .await
            .expect("login form");
        let pre = format!(
            "kefu_login={}",
            cookie(r.headers(), "kefu_login").expect("cookie")
        );
        let token = csrf(&r.text().await.expect("html"));
        let (status, headers) = self
            .post(
                &pre,
                "/login",
                &[
                    ("_csrf", &token),
                    ("user", user),
                    ("password", password),
                    ("next", "/customers"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "login of {user}");
        format!(
            "kefu_session={}",
            cookie(&headers, "kefu_session").expect("session")
        )
    }
}

async fn scenario(db: TestDb) {
    let server = common::Server::start(db, USERS, |id| format!("{id} 名")).await;
    let app = App {
        base: server.base.clone(),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
    };
    // Conversations of two agents link to two customers on import.
    let token: Value = app
        .http
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&json!({"user": "boss", "password": "boss-pass-1"}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let token = token["token"].as_str().expect("token").to_string();
    let conv = |id: &str, agent: &str, customer: &str, name: &str, phone: &str| {
        json!({"id": id, "channel": "phone", "agent_id": agent, "agent_name": format!("{agent}名"),
               "customer_id": customer, "customer_name": name, "started_at": "2026-01-05T10:00:00+08:00",
               "meta": {"caller_number": phone},
               "turns": [{"role": "agent", "text": "您好，请问有什么可以帮您？"}, {"role": "customer", "text": "查询订单。"}]})
    };
    let r = app
        .http
        .post(format!("{}/api/v1/conversations", app.base))
        .bearer_auth(&token)
        .json(&json!([
            conv("w-1", "a-07", "u-1", "周杰", "13512345678"),
            conv("w-2", "a-11", "u-2", "吴磊", "13687654321")
        ]))
        .send()
        .await
        .expect("import");
    assert!(r.status().is_success());
    let a07 = app.login("a-07", "agent-pass-07").await;
    let (status, html) = app.get(&a07, "/customers").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("周杰") && !html.contains("吴磊"),
        "agents see their own customers"
    );
    assert!(html.contains("href=\"/customers\""), "nav link: {html}");
    let at = html.find("href=\"/customers/").expect("a customer link") + "href=\"".len();
    let href = html[at..at + html[at..].find('"').expect("end")].to_string();
    let (status, page) = app.get(&a07, &href).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    for text in [
        "十问档案",
        "称呼",
        "发票",
        "13512345678",
        "客户时间线",
        "w-1",
        "a-07名",
    ] {
        assert!(page.contains(text), "customer page lacks {text}: {page}");
    }
    // English.
    let (_, en) = app.get(&format!("{a07}; lang=en"), &href).await;
    assert!(
        en.contains("Ten questions") && en.contains("Timeline"),
        "English page"
    );
    // The other agent's customer is not found.
    let (_, list11) = app
        .get(&app.login("a-11", "agent-pass-11").await, "/customers")
        .await;
    let at = list11.find("href=\"/customers/").expect("link") + "href=\"".len();
    let theirs = list11[at..at + list11[at..].find('"').expect("end")].to_string();
    let (status, _) = app.get(&a07, &theirs).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Follow-ups: the customer is overdue (last call in January, grade C
    // every 60 days, and today is later); logging a contact clears it.
    let (status, queue) = app.get(&a07, "/follow-ups").await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    let overdue = &queue[queue.find("id=\"overdue\"").expect("overdue")
        ..queue.find("id=\"due_today\"").expect("due")];
    assert!(overdue.contains("周杰"), "{overdue}");
    let (status, headers) = app
        .post(
            &a07,
            &format!("{href}/contact"),
            &[
                ("_csrf", &csrf(&page)),
                ("kind", "outbound"),
                ("outcome", "reached"),
                ("note", "回访满意"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(headers[LOCATION]
        .to_str()
        .expect("loc")
        .contains("done=saved"));
    let (status, _) = app
        .post(
            &a07,
            &format!("{href}/contact"),
            &[
                ("_csrf", "forged"),
                ("kind", "outbound"),
                ("outcome", "reached"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "CSRF");
    let (_, queue) = app.get(&a07, "/follow-ups").await;
    let overdue = &queue[queue.find("id=\"overdue\"").expect("overdue")
        ..queue.find("id=\"due_today\"").expect("due")];
    assert!(!overdue.contains("周杰"), "the clock was reset");
    // Grades by hand: supervisors only.
    let (status, _) = app
        .post(
            &a07,
            &format!("{href}/grade"),
            &[("_csrf", &csrf(&page)), ("grade", "A"), ("reason", "x")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let boss = app.login("boss", "boss-pass-1").await;
    let (_, boss_page) = app.get(&boss, &href).await;
    let (status, _) = app
        .post(
            &boss,
            &format!("{href}/grade"),
            &[
                ("_csrf", &csrf(&boss_page)),
                ("grade", "A"),
                ("reason", "年度大客户"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, list_a) = app.get(&boss, "/customers?grade=A").await;
    assert!(
        list_a.contains("周杰") && !list_a.contains("吴磊"),
        "grade tab"
    );
    let (_, boss_page) = app.get(&boss, &href).await;
    assert!(boss_page.contains("年度大客户"), "grade history");
    // The inspector sees it masked.
    let qa = app.login("qa", "inspector-pass-1").await;
    let (status, masked) = app.get(&qa, &href).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !masked.contains("13512345678") && masked.contains("135****5678"),
        "masked phone"
    );
    assert!(!masked.contains("周杰"), "masked name");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_pages_on_both_backends() {
    scenario(TestDb::sqlite("web_customers")).await;
    if let Some(db) = TestDb::postgres("web_customers").await {
        scenario(db).await;
    }
}
