//! The customer pages over HTTP (no browser): the list by grade, the
//! customer page with its 十问 profile and timeline, my follow-ups with
//! care reminders, the contact and grade forms (CSRF), masking for
//! inspectors, and both languages; SQLite and PostgreSQL.

use kefu_service::auth::Role;
use kefu_store::testing::TestDb;
use reqwest::header::{HeaderMap, LOCATION};
use reqwest::StatusCode;
use serde_json::{json, Value};

mod common;
use common::{csrf, Web};

const USERS: &[(&str, Role, &str)] = &[
    ("boss", Role::Supervisor, "boss-pass-1"),
    ("qa", Role::Inspector, "inspector-pass-1"),
    ("a-07", Role::Agent, "agent-pass-07"),
    ("a-11", Role::Agent, "agent-pass-11"),
];

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
    /// `GET path` as `web`: status and page.
    async fn get(&self, web: &Web, path: &str) -> (StatusCode, String) {
        web.get(path).await
    }

    /// Posts `form` to `path` as `web`: status and headers.
    async fn post(&self, web: &Web, path: &str, form: &[(&str, &str)]) -> (StatusCode, HeaderMap) {
        let (status, headers, _) = web.post(path, form).await;
        (status, headers)
    }

    /// Signs in through the login form, coming back to `/customers`.
    async fn login(&self, user: &str, password: &str) -> Web {
        Web::login_to(&self.base, user, password, "/customers").await
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
            conv("w-2", "a-11", "u-2", "吴磊", "13687654321"),
            // An agent without a user account: named by the data.
            conv("w-3", "a-99", "u-3", "郑爽", "13711112222")
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
    let (_, en) = app.get(&a07.and_cookie("lang=en"), &href).await;
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
    // Owners are named by their account, else by the imported data.
    let (_, all) = app.get(&boss, "/customers").await;
    assert!(all.contains("a-99名（a-99）"), "{all}");
    assert!(all.contains("a-07 名（a-07）"), "{all}");
    let api_get = |path: String| {
        let (app, token) = (&app, &token);
        async move {
            let r = app
                .http
                .get(format!("{}{path}", app.base))
                .bearer_auth(token)
                .send()
                .await
                .expect("GET");
            r.json::<Value>().await.expect("json")
        }
    };
    // Pages of two by cursor give the one big page, in order.
    let whole = api_get("/api/v1/customers?per_page=500".into()).await;
    let ids = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|c| c["id"].as_str().expect("id").to_string())
            .collect()
    };
    assert_eq!(whole["total_estimated"], false, "{whole}");
    assert!(whole["next"].is_null(), "{whole}");
    let mut paged = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = api_get(format!("/api/v1/customers?per_page=2&cursor={cursor}")).await;
        paged.extend(ids(&page));
        match page["next"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    assert!(ids(&whole).len() > 2, "{whole}");
    assert_eq!(paged, ids(&whole));
    let bad = app
        .http
        .get(format!("{}/api/v1/customers?cursor=c1.00", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET");
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let found = api_get("/api/v1/customers?q=%E9%83%91%E7%88%BD".into()).await;
    let zheng = found["items"][0]["id"].as_str().expect("郑爽").to_string();
    let one = api_get(format!("/api/v1/customers/{}", enc(&zheng))).await;
    assert_eq!(one["owner_name"], "a-99名", "{one}");
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
    // A busy agent's care list is capped like the queue: 205 reminders
    // (dates reminded a year ahead), 200 shown, the heading counts all.
    let now = chrono::Utc::now();
    for i in 0..205 {
        let r = app
            .http
            .post(format!("{}/api/v1/customers", app.base))
            .bearer_auth(&token)
            .json(&json!({
                "id": format!("care-{i:03}"), "name": format!("关怀客户{i:03}"), "owner_id": "a-07",
                "dates": [{"label": "生日", "calendar": "solar", "year": null,
                           "month": chrono::Datelike::month(&now), "day": 1 + i % 28,
                           "leap": false, "remind_days": 366}]
            }))
            .send()
            .await
            .expect("POST customer");
        assert!(
            r.status().is_success(),
            "{}",
            r.text().await.unwrap_or_default()
        );
    }
    // Over 200 customers now: the list's "next" link carries a cursor, and
    // following the links shows each customer once.
    let mut seen = std::collections::BTreeSet::new();
    let mut path = "/customers".to_string();
    let mut pages = 0;
    loop {
        let (status, html) = app.get(&boss, &path).await;
        assert_eq!(status, StatusCode::OK);
        pages += 1;
        // (A row may name its customer more than once.)
        let on_page: std::collections::BTreeSet<String> = html
            .match_indices("关怀客户")
            .map(|(at, _)| html[at..].chars().take(7).collect())
            .collect();
        for name in on_page {
            assert!(
                seen.insert(name.clone()),
                "{name} again on page {pages} ({path})"
            );
        }
        let Some(at) = html.find("rel=\"next\"") else {
            break;
        };
        let link = &html[..at];
        let href = &link[link.rfind("href=\"").expect("next href") + 6..];
        path = href[..href.find('"').expect("href end")]
            .replace("&#38;", "&")
            .replace("&amp;", "&");
        assert!(path.contains("cursor=k"), "{path}");
    }
    assert_eq!(seen.len(), 205, "each care customer on some page");
    assert!(pages >= 5, "{pages} pages of 50");
    let (status, queue) = app.get(&a07, "/follow-ups").await;
    assert_eq!(status, StatusCode::OK);
    let care = &queue[queue.find("id=\"care\"").expect("care section")..];
    // (Near a festival the A-grade customer above adds a greeting.)
    let counted: usize = care[care.find("<small>(").expect("count") + "<small>(".len()..]
        .split(')')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a count");
    assert!((205..=206).contains(&counted), "all counted: {counted}");
    assert_eq!(care.matches("name=\"care_key\"").count(), 200, "200 shown");
    assert!(care.contains("只显示 200 条"), "the cap is said");
    server.stop().await;
}

/// Personal data of the walked customer: phones (one of them also the
/// source system's customer id), the ID number and the free contact text.
const SECRETS: [&str; 4] = [
    "13700137000",
    "13911112222",
    "110101199003071234",
    "wangfang@example.com",
];

/// Fails when `body` shows any of [`SECRETS`] in full.
fn assert_no_secrets(body: &str, who: &str, what: &str) {
    for s in SECRETS {
        assert!(!body.contains(s), "{who}: {what} shows {s}: {body}");
    }
}

/// Walks every customer-bearing API endpoint and dashboard page as the
/// roles that must not see phones and ID numbers (the inspector; an agent
/// who served the customer without owning it) and checks that none of
/// them shows one in full; the owner and a supervisor do see them (so the
/// walk can fail). Exports are walked in kefu-cli's tests (masked unless
/// `--unmasked`).
async fn masking_walk(db: TestDb) {
    let server = common::Server::start(db, USERS, |id| format!("{id} 名")).await;
    let app = App {
        base: server.base.clone(),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
    };
    let api = |user: &'static str, password: &'static str| {
        let app = &app;
        async move {
            let r: Value = app
                .http
                .post(format!("{}/api/v1/auth/login", app.base))
                .json(&json!({"user": user, "password": password}))
                .send()
                .await
                .expect("login")
                .json()
                .await
                .expect("json");
            r["token"].as_str().expect("token").to_string()
        }
    };
    let boss_token = api("boss", "boss-pass-1").await;
    // The source system's customer id is the phone number; a-07 and a-11
    // both served the customer.
    let conv = |id: &str, agent: &str| {
        json!({"id": id, "channel": "phone", "agent_id": agent, "agent_name": format!("{agent}名"),
               "customer_id": "13700137000", "customer_name": "王芳",
               "started_at": "2026-01-05T10:00:00+08:00",
               "meta": {"caller_number": "13700137000", "satisfaction": 8},
               "turns": [{"role": "agent", "text": "您好，这个我不知道。"}, {"role": "customer", "text": "查询订单。"}]})
    };
    let r = app
        .http
        .post(format!("{}/api/v1/conversations", app.base))
        .bearer_auth(&boss_token)
        .json(&json!([conv("m-1", "a-07"), conv("m-2", "a-11")]))
        .send()
        .await
        .expect("import");
    assert!(r.status().is_success());
    let get_json = |token: String, path: String| {
        let app = &app;
        async move {
            let r = app
                .http
                .get(format!("{}{path}", app.base))
                .bearer_auth(&token)
                .send()
                .await
                .expect("GET");
            (r.status(), r.text().await.unwrap_or_default())
        }
    };
    let (_, list) = get_json(boss_token.clone(), "/api/v1/customers".into()).await;
    let list: Value = serde_json::from_str(&list).expect("json");
    let id = list["items"][0]["id"].as_str().expect("id").to_string();
    let (_, current) = get_json(boss_token.clone(), format!("/api/v1/customers/{id}")).await;
    let current: Value = serde_json::from_str(&current).expect("json");
    let r = app
        .http
        .put(format!("{}/api/v1/customers/{}", app.base, enc(&id)))
        .bearer_auth(&boss_token)
        .json(&json!({
            "name": "王芳", "owner_id": "a-07",
            "profile": {"title": "王总", "id_number": "110101199003071234", "contact": "wangfang@example.com"},
            "phones": ["13700137000", "13911112222"],
            "platform_ids": current["customer"]["platform_ids"],
            "dates": [{"label": "生日", "calendar": "lunar", "year": null, "month": 1, "day": 1,
                       "leap": false, "remind_days": 366}],
            "version": current["customer"]["version"]
        }))
        .send()
        .await
        .expect("PUT");
    assert!(
        r.status().is_success(),
        "{}",
        r.text().await.unwrap_or_default()
    );
    // The profile's satisfaction trend and latest findings (agents: of
    // their own conversations only).
    let (_, full) = get_json(
        boss_token.clone(),
        format!("/api/v1/customers/{}", enc(&id)),
    )
    .await;
    let full: Value = serde_json::from_str(&full).expect("json");
    assert_eq!(
        full["stats"]["satisfaction_trend"],
        json!([{"month": "2026-01", "average": 8.0, "rated": 2}]),
        "{full}"
    );
    let finding_convs = |v: &Value| -> Vec<String> {
        let mut ids: Vec<String> = v["stats"]["last_findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter_map(|f| f["conversation_id"].as_str().map(str::to_string))
            .collect();
        ids.sort();
        ids.dedup();
        ids
    };
    assert_eq!(finding_convs(&full), ["m-1", "m-2"], "{full}");
    let a11_token = api("a-11", "agent-pass-11").await;
    let (_, theirs) = get_json(a11_token, format!("/api/v1/customers/{}", enc(&id))).await;
    let theirs: Value = serde_json::from_str(&theirs).expect("json");
    assert_eq!(finding_convs(&theirs), ["m-2"], "{theirs}");
    let href = format!("/customers/{}", enc(&id));
    let api_paths = [
        "/api/v1/customers".to_string(),
        "/api/v1/customers?q=王".to_string(),
        format!("/api/v1/customers/{}", enc(&id)),
        format!("/api/v1/customers/{}/timeline", enc(&id)),
        format!("/api/v1/customers/{}/conversations", enc(&id)),
        format!("/api/v1/customers/{}/grade", enc(&id)),
        // AGENT: the agent signed in, or a-07 (the owner) for staff.
        "/api/v1/follow-ups?agent=AGENT".to_string(),
        "/api/v1/care?agent=AGENT&days=366".to_string(),
    ];
    let pages = [
        "/customers".to_string(),
        "/customers?q=%E7%8E%8B".to_string(),
        href.clone(),
        format!("{href}/edit"),
        "/follow-ups?agent=a-07".to_string(),
        "/follow-ups".to_string(),
    ];
    for (user, password, sees) in [
        ("qa", "inspector-pass-1", false),
        ("a-11", "agent-pass-11", false),
        ("a-07", "agent-pass-07", true),
        ("boss", "boss-pass-1", true),
    ] {
        let token = api(user, password).await;
        let mut shown = String::new();
        let agent = if user.starts_with("a-") { user } else { "a-07" };
        for path in &api_paths {
            let path = &path.replace("AGENT", agent);
            let (status, body) = get_json(token.clone(), path.clone()).await;
            assert_eq!(status, StatusCode::OK, "{user}: {path}: {body}");
            if !sees {
                assert_no_secrets(&body, user, path);
            }
            shown.push_str(&body);
        }
        let cookies = app.login(user, password).await;
        for lang in ["zh", "en"] {
            let cookies = cookies.and_cookie(&format!("lang={lang}"));
            for path in &pages {
                let (status, body) = app.get(&cookies, path).await;
                let expected = if path.ends_with("/edit") && !sees {
                    StatusCode::FORBIDDEN
                } else {
                    StatusCode::OK
                };
                assert_eq!(status, expected, "{user} ({lang}): {path}: {body}");
                if !sees {
                    assert_no_secrets(&body, user, path);
                }
                shown.push_str(&body);
            }
        }
        if sees {
            for s in SECRETS {
                assert!(shown.contains(s), "{user} never sees {s}");
            }
        } else {
            assert!(shown.contains("137****7000"), "{user}: masked phone shown");
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn masking_on_every_customer_surface() {
    masking_walk(TestDb::sqlite("web_customers_masking")).await;
    if let Some(db) = TestDb::postgres("web_customers_masking").await {
        masking_walk(db).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_pages_on_both_backends() {
    scenario(TestDb::sqlite("web_customers")).await;
    if let Some(db) = TestDb::postgres("web_customers").await {
        scenario(db).await;
    }
}
