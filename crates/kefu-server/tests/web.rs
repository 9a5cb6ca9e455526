//! The web dashboard over HTTP (no browser): sign-in and cookies, CSRF,
//! roles, languages, assets, error pages, and the forms of every page,
//! against the real server on a random port and a fresh SQLite database.

use kefu_service::auth::Role;
use kefu_store::testing::TestDb;

mod common;
use common::{csrf, set_cookie, Web};
use reqwest::header::{HeaderMap, COOKIE, LOCATION};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Users of every role: (id, role, password).
const USERS: &[(&str, Role, &str)] = &[
    ("admin", Role::Admin, "admin-pass-1"),
    ("boss", Role::Supervisor, "boss-pass-1"),
    ("qa", Role::Inspector, "inspector-pass-1"),
    ("a-07", Role::Agent, "agent-pass-07"),
    ("a-11", Role::Agent, "agent-pass-11"),
];

/// A failing conversation of `agent`: three forbidden phrases in turn 3
/// (不知道 at characters 3..6), an 11.5 s silence before it, and the agent
/// talking over the customer for 1 s.
fn failing(id: &str, agent: &str) -> Value {
    json!({
        "id": id, "channel": "phone", "agent_id": agent, "agent_name": "李娜",
        "customer_name": "王芳", "started_at": "2026-03-18T10:00:00+08:00", "ended_by": "customer",
        "turns": [
            {"role": "agent", "text": "您好，星联通信，请问有什么可以帮您？", "start_ms": 0, "end_ms": 4000},
            {"role": "customer", "text": "我的话费怎么多扣了二十块？", "start_ms": 4500, "end_ms": 8000},
            {"role": "agent", "text": "这个我不知道。不关我的事，爱找谁找谁去。", "start_ms": 19500, "end_ms": 24000},
            {"role": "customer", "text": "你这是什么态度！<script>alert(1)</script>", "start_ms": 24500, "end_ms": 30000},
            {"role": "agent", "text": "好的。", "start_ms": 29000, "end_ms": 31000}
        ]
    })
}

struct App {
    base: String,
    http: reqwest::Client,
    store: kefu_store::Store,
    _server: common::Server,
}

impl App {
    /// The app on SQLite and, when `KEFU_TEST_PG_URL` is set, on a fresh
    /// PostgreSQL database: every test runs on both.
    async fn both(name: &str) -> Vec<App> {
        let mut apps = vec![App::on(TestDb::sqlite(name)).await];
        if let Some(db) = TestDb::postgres(name).await {
            apps.push(App::on(db).await);
        }
        apps
    }

    async fn on(db: TestDb) -> App {
        App::with(db, |state| state).await
    }

    async fn with(
        db: TestDb,
        configure: impl FnOnce(kefu_server::AppState) -> kefu_server::AppState,
    ) -> App {
        let server =
            common::Server::start_with(db, USERS, |id| format!("{id} 名"), configure).await;
        App {
            base: server.base.clone(),
            store: server.store.clone(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            _server: server,
        }
    }

    /// `GET path` as `s`, or signed out: status, headers, page.
    async fn get(&self, s: Option<&Web>, path: &str) -> (StatusCode, HeaderMap, String) {
        match s {
            Some(s) => s.fetch(path).await,
            None => Web::signed_out(&self.base).fetch(path).await,
        }
    }

    /// Posts `form` to `path` as `s`, or signed out: status, headers, body.
    async fn post(
        &self,
        s: Option<&Web>,
        path: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, String) {
        match s {
            Some(s) => s.post(path, form).await,
            None => Web::signed_out(&self.base).post(path, form).await,
        }
    }

    /// Signs in through the login form of `/login?next=/conversations`
    /// (a 303 there with an HttpOnly, SameSite=Lax session cookie).
    async fn login(&self, user: &str, password: &str) -> Web {
        Web::login_to(&self.base, user, password, "/conversations").await
    }

    /// A bearer token for the JSON API.
    async fn api_token(&self, user: &str, password: &str) -> String {
        let r = self
            .http
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&json!({"user": user, "password": password}))
            .send()
            .await
            .expect("login");
        let body: Value = r.json().await.expect("json");
        body["token"].as_str().expect("token").to_string()
    }

    async fn import(&self, token: &str, items: Value) {
        let r = self
            .http
            .post(format!("{}/api/v1/conversations", self.base))
            .bearer_auth(token)
            .body(items.to_string())
            .send()
            .await
            .expect("import");
        // 201 when something new was stored, 200 when all was there.
        assert!(
            matches!(r.status(), StatusCode::CREATED | StatusCode::OK),
            "{}",
            r.text().await.unwrap_or_default()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_roles_and_languages() {
    for app in App::both("web_sign_in").await {
        // Not signed in: every page sends to the login page, and back after.
        let (status, headers, _) = app.get(None, "/conversations?page=2").await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(headers[LOCATION], "/login?next=%2Fconversations%3Fpage%3D2");

        // Wrong password: the form again, 401, the name kept.
        let (_, headers, html) = app.get(None, "/login").await;
        assert!(html.contains("<html lang=\"zh-CN\">"), "Chinese by default");
        assert!(html.contains("登录"));
        let pre = Web::with_cookies(
            &app.base,
            format!(
                "kefu_login={}",
                set_cookie(&headers, "kefu_login").expect("cookie")
            ),
        );
        let (status, _, html) = app
            .post(
                Some(&pre),
                "/login",
                &[
                    ("_csrf", &csrf(&html)),
                    ("user", "qa"),
                    ("password", "nope-nope"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(html.contains("用户名或密码错误"));
        assert!(html.contains("value=\"qa\""));
        // The login form's token must match its cookie.
        let (status, _, _) = app
            .post(
                Some(&pre),
                "/login",
                &[
                    ("_csrf", "forged"),
                    ("user", "qa"),
                    ("password", "inspector-pass-1"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // An outside `next` is not followed.
        let (_, headers, html) = app.get(None, "/login?next=//evil.example/").await;
        assert!(
            html.contains("name=\"next\" value=\"/\""),
            "next reset to /"
        );
        drop(headers);

        // Each role sees its own navigation.
        let expect: &[(&str, &str, &[&str], &[&str])] = &[
            (
                "admin",
                "admin-pass-1",
                &[
                    "概览",
                    "会话",
                    "复核队列",
                    "申诉",
                    "投诉",
                    "坐席",
                    "规则包",
                    "用户与设置",
                ],
                &[],
            ),
            (
                "boss",
                "boss-pass-1",
                &["复核队列", "规则包"],
                &["用户与设置"],
            ),
            (
                "qa",
                "inspector-pass-1",
                &["复核队列", "坐席", "规则包"],
                &["用户与设置"],
            ),
            (
                "a-07",
                "agent-pass-07",
                &["概览", "会话", "申诉", "投诉", "交接班"],
                &["复核队列", "坐席", "规则包", "用户与设置"],
            ),
        ];
        for (user, password, shown, hidden) in expect {
            let s = app.login(user, password).await;
            let (status, headers, html) = app.get(Some(&s), "/").await;
            assert_eq!(status, StatusCode::OK, "{user}");
            let nav = &html
                [html.find("class=\"main-nav\"").expect("nav")..html.find("</nav>").expect("end")];
            for label in *shown {
                assert!(
                    nav.contains(&format!(">{label}</a>")),
                    "{user} should see {label}"
                );
            }
            for label in *hidden {
                assert!(
                    !nav.contains(&format!(">{label}</a>")),
                    "{user} should not see {label}"
                );
            }
            assert!(
                html.contains(&format!("{user} 名")),
                "user name in the header"
            );
            assert!(html.contains("关键指标"), "the overview with its KPIs");
            let csp = headers["content-security-policy"].to_str().expect("csp");
            assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
            assert_eq!(headers["x-content-type-options"], "nosniff");
            assert_eq!(headers["cache-control"], "no-store");
        }

        // Pages outside a role are refused with a page, not a blank.
        let agent = app.login("a-07", "agent-pass-07").await;
        for path in ["/packs", "/packs/editor", "/review", "/admin"] {
            let (status, _, html) = app.get(Some(&agent), path).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
            assert!(html.contains("您的角色无权使用此功能"), "{path}");
        }
        // Agents have no leaderboard: /agents takes them to their own page,
        // and another agent's page does not exist for them.
        let (status, headers, _) = app.get(Some(&agent), "/agents").await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(headers["location"], "/agents/a-07");
        let (status, _, _) = app.get(Some(&agent), "/agents/a-11").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let boss = app.login("boss", "boss-pass-1").await;
        let (status, _, _) = app.get(Some(&boss), "/admin").await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // English by the switch (a cookie) and by ?lang=.
        let (status, headers, _) = app.get(Some(&agent), "/lang/en?next=/complaints").await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(headers[LOCATION], "/complaints");
        let lang = set_cookie(&headers, "lang").expect("lang cookie");
        assert_eq!(lang, "en");
        let english = agent.and_cookie("lang=en");
        let (_, _, html) = app.get(Some(&english), "/complaints").await;
        assert!(html.contains("<html lang=\"en\">"));
        assert!(html.contains(">Conversations</a>") && html.contains(">Sign out</button>"));
        assert!(!html.contains(">会话</a>"));
        let (_, headers, html) = app.get(Some(&agent), "/conversations?lang=en").await;
        assert!(html.contains(">Conversations</a>"));
        assert_eq!(
            set_cookie(&headers, "lang").as_deref(),
            Some("en"),
            "?lang= is remembered"
        );
        let (status, _, _) = app.get(Some(&agent), "/lang/fr").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // The switch links come back to the page, without lang= or done=.
        let (_, _, html) = app
            .get(Some(&agent), "/conversations?passed=0&lang=zh&done=saved")
            .await;
        assert!(
            html.contains("href=\"/lang/en?next=%2Fconversations%3Fpassed%3D0\""),
            "switch link"
        );

        // Unknown pages: an HTML 404 in the user's language; the API keeps JSON.
        let (status, headers, html) = app.get(Some(&english), "/no/such/page").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(headers["content-type"]
            .to_str()
            .expect("ct")
            .starts_with("text/html"));
        assert!(html.contains("This page or record does not exist"));
        let (status, _, body) = app.get(None, "/api/v1/nope").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body.contains("\"not_found\""), "{body}");
        let (status, _, _) = app.get(None, "/healthz").await;
        assert_eq!(status, StatusCode::OK);

        // Sign out: POST with the token; the session is over.
        let (_, _, html) = app.get(Some(&agent), "/logout").await;
        let token = csrf(&html);
        let (status, _, _) = app
            .post(Some(&agent), "/logout", &[("_csrf", "wrong")])
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "CSRF checked on logout");
        let (status, headers, _) = app
            .post(Some(&agent), "/logout", &[("_csrf", &token)])
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(headers[LOCATION], "/login");
        let (status, _, _) = app.get(Some(&agent), "/conversations").await;
        assert_eq!(status, StatusCode::SEE_OTHER, "session ended");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assets_are_embedded_and_cached() {
    for app in App::both("web_assets").await {
        let s = app.login("qa", "inspector-pass-1").await;
        let (_, _, html) = app.get(Some(&s), "/").await;
        for (name, ctype) in [
            ("app.css", "text/css"),
            ("app.js", "text/javascript"),
            ("favicon.svg", "image/svg+xml"),
        ] {
            let at = html
                .find(&format!("/assets/{name}?v="))
                .unwrap_or_else(|| panic!("{name} linked"));
            let url = &html[at..at + html[at..].find('"').expect("end")];
            let (status, headers, body) = app.get(None, url).await;
            assert_eq!(status, StatusCode::OK, "{url}");
            assert!(headers["content-type"]
                .to_str()
                .expect("ct")
                .starts_with(ctype));
            assert!(headers["cache-control"]
                .to_str()
                .expect("cc")
                .contains("max-age=31536000"));
            assert!(!body.is_empty());
            let etag = headers["etag"].to_str().expect("etag").to_string();
            let r = app
                .http
                .get(format!("{}{url}", app.base))
                .header("if-none-match", etag)
                .send()
                .await
                .expect("revalidate");
            assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        }
        let (status, _, _) = app.get(None, "/assets/nope.js").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, headers, _) = app.get(None, "/favicon.ico").await;
        assert_eq!(status, StatusCode::PERMANENT_REDIRECT);
        assert!(headers[LOCATION]
            .to_str()
            .expect("loc")
            .starts_with("/assets/favicon.svg?v="));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations_list_and_detail() {
    for app in App::both("web_conversations").await {
        let token = app.api_token("admin", "admin-pass-1").await;
        let mut other = failing("web-a11", "a-11");
        other["started_at"] = json!("2026-03-20T09:00:00+08:00");
        app.import(&token, json!([failing("web-fail-1", "a-07"), other]))
            .await;
        // The search index (kefu-store's search.rs) may not be filled on import.
        app.store.reindex_missing().await.expect("reindex");

        let qa = app.login("qa", "inspector-pass-1").await;
        let (status, _, html) = app.get(Some(&qa), "/conversations").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("href=\"/conversations/web-fail-1\""));
        assert!(html.contains("href=\"/conversations/web-a11\""));
        assert!(html.contains("共 2 条"));
        assert!(html.contains("<svg"), "charts");
        // Filters: agent, dates (the end day included), result, rule, score.
        for (query, one, two) in [
            ("agent=a-07", true, false),
            ("from=2026-03-19", false, true),
            ("to=2026-03-18", true, false),
            ("passed=1", false, false),
            ("passed=0", true, true),
            ("rule=forbidden", true, true),
            ("max=0.5&min=0", false, false),
            // Full-text search over the transcripts.
            (
                "q=%E4%B8%8D%E5%85%B3%E6%88%91%E7%9A%84%E4%BA%8B",
                true,
                true,
            ),
            ("q=%E5%AE%BD%E5%B8%A6", false, false),
        ] {
            let (status, _, html) = app.get(Some(&qa), &format!("/conversations?{query}")).await;
            assert_eq!(status, StatusCode::OK, "{query}");
            assert_eq!(html.contains("/conversations/web-fail-1\""), one, "{query}");
            assert_eq!(html.contains("/conversations/web-a11\""), two, "{query}");
        }
        let (status, _, html) = app
            .get(Some(&qa), "/conversations?from=yesterday&min=abc")
            .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "bad filters are reported, not fatal"
        );
        assert!(html.contains("以下筛选条件无法识别"));

        // The detail: the finding highlighted over its characters, linked.
        let (status, _, html) = app.get(Some(&qa), "/conversations/web-fail-1").await;
        assert_eq!(status, StatusCode::OK);
        let at = html.find(">不知道</mark>").expect("不知道 highlighted");
        let mark_start = html[..at].rfind("<mark").expect("mark");
        let anchor = &html[..mark_start];
        let id_at = anchor.rfind("id=\"f").expect("anchor before the mark");
        let number: String = anchor[id_at + 5..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        assert!(
            html.contains(&format!("href=\"#f{number}\"")),
            "the findings list links to it"
        );
        assert!(
            html.contains("这个我<span class=\"anchor\""),
            "span is in characters: 这个我 before it"
        );
        assert!(html.contains("静默 11.5 秒"), "the silence");
        assert!(html.contains("重叠 1 秒"), "the overlap");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "text escaped"
        );
        assert!(!html.contains("<script>alert(1)"));
        assert!(html.contains("zh-CN@"), "pack version");
        assert!(html.contains("class=\"turn agent flagged\""));
        assert!(
            html.contains("王*") || html.contains("王"),
            "customer shown"
        );

        // Agents: their own only, others' are "not found".
        let agent = app.login("a-07", "agent-pass-07").await;
        let (_, _, html) = app.get(Some(&agent), "/conversations?agent=a-11").await;
        assert!(html.contains("/conversations/web-fail-1\""));
        assert!(
            !html.contains("/conversations/web-a11\""),
            "agent filter forced to self"
        );
        assert!(
            !html.contains("name=\"agent\""),
            "no agent field for agents"
        );
        let (status, _, _) = app.get(Some(&agent), "/conversations/web-a11").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _, _) = app.get(Some(&agent), "/conversations/web-fail-1").await;
        assert_eq!(status, StatusCode::OK);
        let (status, _, _) = app.get(Some(&qa), "/conversations/missing").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complaint_forms() {
    for app in App::both("web_complaints").await {
        let boss = app.login("boss", "boss-pass-1").await;
        // An unknown state filter is a bad request that names the known
        // states — on the dashboard and the API — not "no such page".
        let (status, _, html) = app.get(Some(&boss), "/complaints?state=bad").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            html.contains("awaiting_follow_up") && html.contains("bad"),
            "{html}"
        );
        let (status, _, _) = app
            .get(Some(&boss), "/complaints?state=%E5%BE%85%E5%9B%9E%E8%AE%BF")
            .await;
        assert_eq!(status, StatusCode::OK, "the Chinese label is a state too");
        let token = app.api_token("boss", "boss-pass-1").await;
        let r = app
            .http
            .get(format!("{}/api/v1/complaints?state=accepted,bad", app.base))
            .bearer_auth(&token)
            .send()
            .await
            .expect("list");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let body: Value = r.json().await.expect("json");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("`state` must be one of accepted"),
            "{message}"
        );

        let (status, _, html) = app.get(Some(&boss), "/complaints").await;
        assert_eq!(status, StatusCode::OK);
        for state in ["受理", "调查", "处理中", "待回访", "已关闭"] {
            assert!(
                html.contains(&format!("<h2>{state} <small>")),
                "column {state}"
            );
        }
        let token = csrf(&html);

        // No token, a wrong token, or a cross-site request: refused.
        let (status, _, _) = app
            .post(Some(&boss), "/complaints", &[("customer_name", "张三")])
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _, _) = app
            .post(
                Some(&boss),
                "/complaints",
                &[("_csrf", "0000"), ("customer_name", "张三")],
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, headers, _) = app.post(None, "/complaints", &[("_csrf", &token)]).await;
        assert_eq!(
            status,
            StatusCode::SEE_OTHER,
            "no session: to the login page"
        );
        assert_eq!(headers[LOCATION], "/login?next=%2F");
        let (status, headers, html) = app.get(Some(&boss), "/complaints/x/command").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert!(headers.contains_key("allow"));
        assert!(html.contains("此地址不支持这种请求方式"));

        // A mistake shows the form again with what was typed.
        let (status, _, html) = app
            .post(
                Some(&boss),
                "/complaints",
                &[
                    ("_csrf", &token),
                    ("customer_name", "张三"),
                    ("category", ""),
                    ("description", "多扣费"),
                    ("channel", "phone"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("value=\"张三\""));
        assert!(html.contains("未保存"));

        let (status, headers, _) = app
            .post(
                Some(&boss),
                "/complaints",
                &[
                    ("_csrf", &token),
                    ("customer_name", "张三"),
                    ("customer_phone", "13800138000"),
                    ("category", "计费"),
                    ("description", "话费多扣了 20 元"),
                    ("channel", "phone"),
                    ("priority", "high"),
                    // Unassigned, so that an agent can claim it below (the
                    // form's default, 本人, would assign boss).
                    ("assignee_kind", "none"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let location = headers[LOCATION].to_str().expect("loc").to_string();
        assert!(
            location.starts_with("/complaints/CMP-") && location.ends_with("?done=created"),
            "{location}"
        );
        let path = location.trim_end_matches("?done=created").to_string();
        let (_, _, html) = app.get(Some(&boss), &location).await;
        assert!(html.contains("已创建"));
        assert!(html.contains("13800138000"), "supervisors see the phone");
        assert!(html.contains("class=\"countdown\""), "SLA countdown");
        let version = |html: &str| -> String {
            let at = html.find("name=\"version\" value=\"").expect("version");
            let rest = &html[at + 22..];
            rest[..rest.find('"').expect("end")].to_string()
        };
        let cmd = format!("{path}/command");
        let run = |form: Vec<(&'static str, String)>| {
            let app = &app;
            let boss = &boss;
            let cmd = cmd.clone();
            async move {
                let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
                app.post(Some(boss), &cmd, &pairs).await
            }
        };
        let v = version(&html);
        let (status, headers, _) = run(vec![
            ("_csrf", token.clone()),
            ("version", v.clone()),
            ("type", "start_handling".into()),
        ])
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert!(headers[LOCATION]
            .to_str()
            .expect("loc")
            .ends_with("?done=saved"));
        // The old version is a conflict, shown on the page.
        let (status, _, html) = run(vec![
            ("_csrf", token.clone()),
            ("version", v),
            ("type", "reply".into()),
            ("message", "您好".into()),
        ])
        .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert!(html.contains("role=\"alert\""));
        // A missing field is named.
        let v = version(&html);
        let (status, _, html) = run(vec![
            ("_csrf", token.clone()),
            ("version", v.clone()),
            ("type", "resolve".into()),
        ])
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("请填写「处理结果」"));
        let (status, _, _) = run(vec![
            ("_csrf", token.clone()),
            ("version", v),
            ("type", "resolve".into()),
            ("summary", "已退还 20 元".into()),
        ])
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (_, _, html) = app.get(Some(&boss), &path).await;
        assert!(
            html.contains("id=\"survey-form\""),
            "survey form once resolved"
        );
        let v = version(&html);
        let (status, _, html) = run(vec![
            ("_csrf", token.clone()),
            ("version", v.clone()),
            ("type", "record_survey".into()),
            ("result_score", "11".into()),
            ("attitude_score", "9".into()),
        ])
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "scores are 0–10");
        assert!(html.contains("须为 0–10 的整数"));
        let (status, _, _) = run(vec![
            ("_csrf", token.clone()),
            ("version", v),
            ("type", "record_survey".into()),
            ("result_score", "3".into()),
            ("attitude_score", "9".into()),
            ("comment", "钱退了但很慢".into()),
        ])
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (_, _, html) = app.get(Some(&boss), &path).await;
        assert!(html.contains("id=\"survey\""));
        assert!(html.contains("3 (不满意)"));
        assert!(html.contains("记录满意度"), "history entry");
        // An unsatisfied score makes a revisit task; completing it records it.
        let at = html.find("action=\"/revisits/").expect("revisit form");
        let rest = &html[at + 8..];
        let revisit = &rest[..rest.find('"').expect("end")];
        let (status, headers, _) = app
            .post(
                Some(&boss),
                revisit,
                &[
                    ("_csrf", &token),
                    ("outcome_kind", "resolved"),
                    ("outcome", "客户已满意"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{revisit}");
        assert!(headers[LOCATION].to_str().expect("loc").starts_with(&path));
        let (_, _, html) = app.get(Some(&boss), &path).await;
        assert!(html.contains("客户已满意"));
        assert!(html.contains("回访完成"));

        // The board shows it under 处理中; the one-state list pages.
        let (_, _, html) = app.get(Some(&boss), "/complaints?state=handling").await;
        assert!(html.contains(&format!("href=\"{path}\"")));
        let (status, _, _) = app.get(Some(&boss), "/complaints?state=bogus").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        // Inspectors see it masked and cannot open complaints; agents cannot see it.
        let qa = app.login("qa", "inspector-pass-1").await;
        let (status, _, html) = app.get(Some(&qa), &path).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            !html.contains("13800138000"),
            "inspectors see the phone masked"
        );
        let (status, _, _) = app.get(Some(&qa), "/complaints/new").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let agent = app.login("a-11", "agent-pass-11").await;
        let (status, _, _) = app.get(Some(&agent), &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _, html) = app.get(Some(&agent), "/complaints?view=claimable").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("可认领的投诉"));
        // The agent cannot open it yet, but can claim it, and then work it.
        let claim = format!("{path}/command");
        assert!(
            html.contains(&format!("action=\"{claim}\"")),
            "claim button"
        );
        assert!(
            !html.contains(&format!("href=\"{path}\"")),
            "no link to a 404"
        );
        let agent_token = csrf(&html);
        let (status, headers, _) = app
            .post(
                Some(&agent),
                &claim,
                &[
                    ("_csrf", &agent_token),
                    ("type", "assign"),
                    ("assignee_kind", "self"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert!(headers[LOCATION].to_str().expect("loc").starts_with(&path));
        let (status, _, html) = app.get(Some(&agent), &path).await;
        assert_eq!(status, StatusCode::OK, "claimed: now theirs");
        assert!(html.contains("坐席 a-11"));
        assert!(html.contains("13800138000"), "the assignee sees the phone");
        // Claiming again (no longer claimable) is refused with a page.
        let (status, _, _) = app
            .post(
                Some(&agent),
                &claim,
                &[
                    ("_csrf", &agent_token),
                    ("type", "assign"),
                    ("assignee_kind", "self"),
                ],
            )
            .await;
        assert!(status.is_client_error(), "{status}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pack_editor_validates_and_tries() {
    for app in App::both("web_packs").await {
        let token = app.api_token("admin", "admin-pass-1").await;
        app.import(&token, failing("web-fail-1", "a-07")).await;
        let qa = app.login("qa", "inspector-pass-1").await;
        let (status, _, html) = app.get(Some(&qa), "/packs").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("服务禁语"), "rules listed");
        assert!(html.contains("使用中"), "the active version marked");
        let (status, _, html) = app.get(Some(&qa), "/packs/editor").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("[pack]"), "the active pack's text");
        let csrf_token = csrf(&html);
        let source = kefu_engine::pack::DEFAULT_PACK_ZH_CN;

        let (status, _, html) = app
            .post(
                Some(&qa),
                "/packs/editor",
                &[
                    ("_csrf", &csrf_token),
                    ("source", source),
                    ("action", "validate"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            html.contains("id=\"pack-valid\""),
            "the default pack is valid"
        );

        // Two mistakes: both reported, with their lines.
        let broken = source
            .replacen("deduction = ", "deduction = \"lots\" #", 1)
            .replacen("kind = \"forbidden\"", "kind = \"forbiden\"", 1);
        let (_, _, html) = app
            .post(
                Some(&qa),
                "/packs/editor",
                &[
                    ("_csrf", &csrf_token),
                    ("source", &broken),
                    ("action", "validate"),
                ],
            )
            .await;
        assert!(html.contains("id=\"pack-issues\""), "issues listed");
        assert!(html.contains("data-line=\""), "with line numbers");
        assert!(html.contains("第 "), "line label");
        let (_, _, html) = app
            .post(
                Some(&qa),
                "/packs/editor",
                &[
                    ("_csrf", &csrf_token),
                    ("source", "[pack\nid=1"),
                    ("action", "validate"),
                ],
            )
            .await;
        assert!(
            html.contains("data-line=\"1\""),
            "TOML syntax error on line 1"
        );

        // Try: a stored conversation, a pasted one, and bad input.
        let (_, _, html) = app
            .post(
                Some(&qa),
                "/packs/editor",
                &[
                    ("_csrf", &csrf_token),
                    ("source", source),
                    ("action", "try"),
                    ("conversation_id", "web-fail-1"),
                ],
            )
            .await;
        assert!(html.contains("id=\"trial\""), "trial ran");
        assert!(html.contains("<mark class=\"finding\">不知道</mark>"));
        let sample = failing("pasted", "a-01").to_string();
        let (_, _, html) = app
            .post(
                Some(&qa),
                "/packs/editor",
                &[
                    ("_csrf", &csrf_token),
                    ("source", source),
                    ("action", "try"),
                    ("sample", &sample),
                ],
            )
            .await;
        assert!(html.contains("<mark class=\"finding\">不知道</mark>"));
        let (_, _, html) = app
            .post(
                Some(&qa),
                "/packs/editor",
                &[
                    ("_csrf", &csrf_token),
                    ("source", source),
                    ("action", "try"),
                    ("sample", "{not json"),
                ],
            )
            .await;
        assert!(html.contains("粘贴的会话无法读取"));
        let (_, _, html) = app
            .post(
                Some(&qa),
                "/packs/editor",
                &[
                    ("_csrf", &csrf_token),
                    ("source", &broken),
                    ("action", "try"),
                    ("sample", &sample),
                ],
            )
            .await;
        assert!(html.contains("请先修正规则包中的问题"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_manages_users() {
    for app in App::both("web_admin").await {
        let admin = app.login("admin", "admin-pass-1").await;
        let (status, _, html) = app.get(Some(&admin), "/admin").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("12 小时 0 分"), "SLA first-reply target");
        assert!(html.contains("data-user=\"a-07\""));
        let token = csrf(&html);
        let (status, _, html) = app
            .post(
                Some(&admin),
                "/admin/users",
                &[
                    ("_csrf", &token),
                    ("id", "bad id!"),
                    ("display_name", "新人"),
                    ("role", "agent"),
                    ("password", "new-pass-123"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("value=\"新人\""));
        let (status, headers, _) = app
            .post(
                Some(&admin),
                "/admin/users",
                &[
                    ("_csrf", &token),
                    ("id", "a-20"),
                    ("display_name", "新人"),
                    ("role", "agent"),
                    ("password", "new-pass-123"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(headers[LOCATION], "/admin?done=user_added");
        let newcomer = app.login("a-20", "new-pass-123").await;
        let (status, _, _) = app.get(Some(&newcomer), "/conversations").await;
        assert_eq!(status, StatusCode::OK);
        // Deactivating ends the sessions; reactivating lets them in again.
        let (status, _, _) = app
            .post(
                Some(&admin),
                "/admin/users/a-20/active",
                &[("_csrf", &token), ("active", "0")],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (status, _, _) = app.get(Some(&newcomer), "/conversations").await;
        assert_eq!(status, StatusCode::SEE_OTHER, "signed out");
        let (status, _, _) = app
            .post(
                Some(&admin),
                "/admin/users/admin/active",
                &[("_csrf", &token), ("active", "0")],
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "not yourself");
        let (status, _, _) = app
            .post(
                Some(&admin),
                "/admin/users/a-20/active",
                &[("_csrf", &token), ("active", "1")],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        app.login("a-20", "new-pass-123").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_account_controls_and_own_password() {
    for app in App::both("web_accounts").await {
        let admin = app.login("admin", "admin-pass-1").await;
        let (status, _, html) = app.get(Some(&admin), "/admin/users/a-07").await;
        assert_eq!(status, StatusCode::OK, "{html}");
        assert!(html.contains("id=\"reset-password\""), "{html}");
        let token = csrf(&html);

        // An agent reaches none of it, even with its own valid CSRF token.
        let agent = app.login("a-07", "agent-pass-07").await;
        let (status, _, html) = app.get(Some(&agent), "/account/password").await;
        assert_eq!(status, StatusCode::OK);
        let agent_token = csrf(&html);
        let (status, _, _) = app.get(Some(&agent), "/admin/users/a-11").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        for (path, form) in [
            (
                "/admin/users/a-11/password",
                vec![("password", "agent-takes-over-1")],
            ),
            ("/admin/users/a-07/role", vec![("role", "admin")]),
            ("/admin/users/a-11/logout-all", vec![]),
            ("/admin/users/a-11/tokens/1/revoke", vec![]),
        ] {
            let mut form = form;
            form.push(("_csrf", &agent_token));
            let (status, _, _) = app.post(Some(&agent), path, &form).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        }
        // Without the CSRF token even an admin is refused.
        let (status, _, _) = app
            .post(
                Some(&admin),
                "/admin/users/a-07/password",
                &[("password", "a-fine-new-pass-7")],
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "no CSRF token");

        // A weak password shows the policy message (zh and en) and changes
        // nothing.
        let (status, _, html) = app
            .post(
                Some(&admin),
                "/admin/users/a-07/password",
                &[("_csrf", &token), ("password", "Password1")],
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("这个密码太常见，请换一个。"), "{html}");
        let (status, _, html) = app
            .post(
                Some(&admin),
                "/admin/users/a-07/password?lang=en",
                &[("_csrf", &token), ("password", "a-07")],
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            html.contains("The password must have 8 to 1024 characters."),
            "{html}"
        );
        let (status, _, _) = app.get(Some(&agent), "/conversations").await;
        assert_eq!(status, StatusCode::OK, "the agent's session lives on");
        app.login("a-07", "agent-pass-07").await;

        // A reset ends the old sessions and the new password signs in.
        let (status, headers, _) = app
            .post(
                Some(&admin),
                "/admin/users/a-07/password",
                &[("_csrf", &token), ("password", "客服新密码-07")],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(headers[LOCATION], "/admin/users/a-07?done=password_reset");
        let (status, _, _) = app.get(Some(&agent), "/conversations").await;
        assert_eq!(status, StatusCode::SEE_OTHER, "old session ended");
        let agent = app.login("a-07", "客服新密码-07").await;

        // The user changes their own password: the old one is required.
        let (_, _, html) = app.get(Some(&agent), "/account/password").await;
        let agent_token = csrf(&html);
        let (status, _, html) = app
            .post(
                Some(&agent),
                "/account/password",
                &[
                    ("_csrf", &agent_token),
                    ("old", "agent-pass-07"),
                    ("new", "my-own-pass-077"),
                    ("repeat", "my-own-pass-077"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("当前密码不正确。"), "{html}");
        let (status, headers, _) = app
            .post(
                Some(&agent),
                "/account/password",
                &[
                    ("_csrf", &agent_token),
                    ("old", "客服新密码-07"),
                    ("new", "my-own-pass-077"),
                    ("repeat", "my-own-pass-077"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(headers[LOCATION], "/login?done=password_changed");
        app.login("a-07", "my-own-pass-077").await;

        // A role change takes effect at once: the old session ends, the new
        // one has the new role.
        let other = app.login("a-11", "agent-pass-11").await;
        let (status, _, _) = app.get(Some(&other), "/admin").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, headers, _) = app
            .post(
                Some(&admin),
                "/admin/users/a-11/role",
                &[("_csrf", &token), ("role", "admin")],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(headers[LOCATION], "/admin/users/a-11?done=role_changed");
        let (status, _, _) = app.get(Some(&other), "/admin").await;
        assert_eq!(status, StatusCode::SEE_OTHER, "old session ended");
        let other = app.login("a-11", "agent-pass-11").await;
        let (status, _, _) = app.get(Some(&other), "/admin").await;
        assert_eq!(status, StatusCode::OK, "now an admin");
        let (status, _, _) = app
            .post(
                Some(&admin),
                "/admin/users/admin/role",
                &[("_csrf", &token), ("role", "agent")],
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "not one's own role");

        // Ending all sessions signs the user out everywhere.
        let (status, _, _) = app
            .post(
                Some(&admin),
                "/admin/users/a-11/logout-all",
                &[("_csrf", &token)],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (status, _, _) = app.get(Some(&other), "/admin").await;
        assert_eq!(status, StatusCode::SEE_OTHER, "signed out");

        // A revoked API token stops working.
        let (api, info) =
            kefu_service::auth::create_api_token(&app.store, "a-11", "crm-sync", 1_700_000_000_000)
                .await
                .expect("token");
        let api_get = || {
            app.http
                .get(format!("{}/api/v1/conversations", app.base))
                .bearer_auth(&api)
                .send()
        };
        assert_eq!(api_get().await.expect("GET").status(), StatusCode::OK);
        let (_, _, html) = app.get(Some(&admin), "/admin/users/a-11").await;
        assert!(html.contains("crm-sync"), "token listed");
        let (status, _, _) = app
            .post(
                Some(&admin),
                &format!("/admin/users/a-11/tokens/{}/revoke", info.id),
                &[("_csrf", &token)],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(
            api_get().await.expect("GET").status(),
            StatusCode::UNAUTHORIZED
        );

        // Each change is in the audit log with who made it; the refused
        // weak passwords are not.
        let trail = |id: &'static str| {
            let store = app.store.clone();
            async move {
                store
                    .audit_trail("user", id)
                    .await
                    .expect("audit")
                    .into_iter()
                    .map(|e| (e.actor_id, e.action))
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(
            trail("a-07").await,
            vec![
                ("admin".to_string(), "password_changed".to_string()),
                ("a-07".to_string(), "password_changed".to_string()),
            ]
        );
        let actions: Vec<String> = trail("a-11").await.into_iter().map(|(_, a)| a).collect();
        assert_eq!(actions, ["role_changed", "sessions_ended", "token_revoked"]);
    }
}

/// The fields a browser would send for the settings form in
/// `<section id="{section}">`: text and number inputs, ticked checkboxes,
/// the selected option of each select.
fn settings_fields(html: &str, section: &str) -> Vec<(String, String)> {
    let start = html
        .find(&format!("<section id=\"{section}\">"))
        .expect("section");
    let body = &html[start..];
    let body = &body[..body.find("</form>").expect("end of form")];
    let attr = |tag: &str, name: &str| -> Option<String> {
        let key = format!(" {name}=\"");
        let at = tag.find(&key)? + key.len();
        let rest = &tag[at..];
        Some(
            rest[..rest.find('"')?]
                .replace("&#43;", "+")
                .replace("&#x2b;", "+"),
        )
    };
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(at) = rest.find('<') {
        rest = &rest[at..];
        let end = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[..end];
        if tag.starts_with("<input") {
            let name = attr(tag, "name").unwrap_or_default();
            let kind = attr(tag, "type").unwrap_or_default();
            if name != "_csrf" && (kind != "checkbox" || tag.contains(" checked")) {
                out.push((name, attr(tag, "value").unwrap_or_default()));
            }
        } else if tag.starts_with("<select") {
            let name = attr(tag, "name").unwrap_or_default();
            let close = rest.find("</select>").unwrap_or(rest.len());
            let options = &rest[..close];
            let chosen = options
                .split("<option")
                .find(|o| o.contains(" selected"))
                .and_then(|o| attr(o, "value"))
                .unwrap_or_default();
            out.push((name, chosen));
        }
        rest = &rest[1..];
    }
    out
}

fn set_field(fields: &mut Vec<(String, String)>, name: &str, value: &str) {
    match fields.iter_mut().find(|(k, _)| k == name) {
        Some(f) => f.1 = value.to_string(),
        None => fields.push((name.to_string(), value.to_string())),
    }
}

/// The refusal shown next to field `name`, if any.
fn field_error(html: &str, section: &str, name: &str) -> Option<String> {
    let marker = format!("id=\"{section}-{name}-error\" role=\"alert\">");
    let at = html.find(&marker)? + marker.len();
    let rest = &html[at..];
    Some(rest[..rest.find('<')?].to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_are_edited_through_typed_forms() {
    use kefu_service::complaint::ComplaintService;
    use kefu_service::kpi::KpiService;
    for app in App::both("web_settings").await {
        let admin = app.login("admin", "admin-pass-1").await;
        let (status, _, html) = app.get(Some(&admin), "/admin/settings").await;
        assert_eq!(status, StatusCode::OK);
        let token = csrf(&html);
        let post = |fields: Vec<(String, String)>, lang: Option<&'static str>| {
            let app = &app;
            let admin = admin.clone();
            let token = token.clone();
            async move {
                let mut form: Vec<(&str, &str)> = fields
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                form.push(("_csrf", &token));
                let s = match lang {
                    Some(l) => admin.and_cookie(&format!("lang={l}")),
                    None => admin,
                };
                app.post(Some(&s), "/admin/settings", &form).await
            }
        };

        // The KPI settings: typed fields, one per value.
        let quality = settings_fields(&html, "quality");
        for name in [
            "which",
            "answer_within_s",
            "target.answer_rate.dir",
            "target.answer_rate.value",
            "stars.min_conversations",
            "level.0.quality_min",
            "indicator.0.weight",
            "assessment.reward_top_share",
            "sampling.rate",
        ] {
            assert!(
                quality.iter().any(|(k, _)| k == name),
                "{name}: {quality:?}"
            );
        }
        assert!(quality.contains(&("answer_within_s".into(), "15".into())));
        assert!(quality.contains(&("target.answer_rate.dir".into(), "at_least".into())));

        // Saved: a new answer limit, a new target, a threshold left blank.
        let mut fields = quality.clone();
        set_field(&mut fields, "answer_within_s", "20");
        set_field(&mut fields, "target.error_rate.dir", "at_most");
        set_field(&mut fields, "target.error_rate.value", "0.05");
        set_field(&mut fields, "level.0.resolution_min", "");
        let (status, headers, body) = post(fields, None).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
        assert_eq!(headers[LOCATION], "/admin/settings?done=saved#quality");
        let kpi = KpiService::new(app.store.clone());
        let saved = kpi.settings().await.expect("settings");
        assert_eq!(saved.answer_within_s, 20);
        assert!(saved.targets.contains_key("error_rate"));
        assert_eq!(saved.stars.levels[0].resolution_min, None);
        assert!(saved.stars.levels[0].quality_min.is_some());

        // Refused: each bad value is named next to its field, in Chinese
        // and in English, what was typed stays, and nothing is saved.
        let (_, _, html) = app.get(Some(&admin), "/admin/settings").await;
        let mut fields = settings_fields(&html, "quality");
        set_field(&mut fields, "answer_within_s", "0");
        set_field(&mut fields, "sampling.rate", "1.5");
        set_field(&mut fields, "indicator.0.weight", "-3");
        set_field(&mut fields, "sampling.seed", "changed");
        set_field(&mut fields, "target.pass_rate.value", "90");
        let (status, _, body) = post(fields.clone(), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            field_error(&body, "quality", "answer_within_s").as_deref(),
            Some("请输入 1–3600 之间的整数"),
            "{body}"
        );
        assert!(field_error(&body, "quality", "sampling.rate").is_some());
        assert_eq!(
            field_error(&body, "quality", "indicator.0.weight").as_deref(),
            Some("请输入大于 0 的数字")
        );
        assert!(field_error(&body, "quality", "sampling.seed").is_none());
        assert_eq!(
            field_error(&body, "quality", "target.pass_rate.value").as_deref(),
            Some("请输入数字（0–1）"),
            "a rate is 0–1"
        );
        assert!(body.contains("value=\"1.5\""), "typed value kept");
        let (_, _, body) = post(fields, Some("en")).await;
        assert_eq!(
            field_error(&body, "quality", "answer_within_s").as_deref(),
            Some("Enter a whole number from 1–3600"),
        );
        let unchanged = kpi.settings().await.expect("settings");
        assert_eq!(unchanged, saved);

        // SLA: a bad duration and overlapping hours are refused by field;
        // business hours Monday to Friday are saved.
        let complaints = ComplaintService::new(app.store.clone());
        let before = complaints.sla_settings().await.expect("sla");
        let sla = settings_fields(&html, "sla");
        let mut fields = sla.clone();
        set_field(&mut fields, "first_reply", "12 hours");
        set_field(&mut fields, "day.mon", "09:00-12:00, 11:00-13:00");
        set_field(&mut fields, "holidays", "2026-13-01");
        let (status, _, body) = post(fields, None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(field_error(&body, "sla", "first_reply").is_some(), "{body}");
        assert_eq!(
            field_error(&body, "sla", "day.mon").as_deref(),
            Some("时段不能重叠")
        );
        assert!(field_error(&body, "sla", "holidays").is_some());
        assert_eq!(complaints.sla_settings().await.expect("sla"), before);
        let mut fields: Vec<(String, String)> = sla
            .into_iter()
            .filter(|(k, _)| k != "always_open")
            .collect();
        fields.push(("business_hours".into(), "1".into()));
        for day in ["mon", "tue", "wed", "thu", "fri"] {
            set_field(
                &mut fields,
                &format!("day.{day}"),
                "09:00-12:00, 13:30-18:00",
            );
        }
        set_field(&mut fields, "first_reply", "8h");
        set_field(&mut fields, "holidays", "2026-12-24");
        let (status, _, body) = post(fields, None).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
        let after = complaints.sla_settings().await.expect("sla");
        assert!(after.policy.business_hours);
        assert_eq!(after.policy.first_reply, Some(chrono::TimeDelta::hours(8)));
        assert!(!after.calendar.is_always_open());
        assert_eq!(after.calendar.holidays().len(), 1);

        // Survey bands and revisits.
        let policy = settings_fields(&html, "policy");
        let mut fields = policy.clone();
        set_field(&mut fields, "unsatisfied_max", "4");
        set_field(&mut fields, "neutral_max", "3");
        set_field(&mut fields, "revisit_days", "400");
        let (status, _, body) = post(fields, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            field_error(&body, "policy", "neutral_max").as_deref(),
            Some("须不低于「不满意」最高分")
        );
        assert!(field_error(&body, "policy", "revisit_days").is_some());
        let mut fields = policy;
        set_field(&mut fields, "revisit_days", "5");
        let (status, _, _) = post(fields, None).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let p = complaints.complaint_policy().await.expect("policy");
        assert_eq!(p.revisit_days, 5);

        // The JSON stays available as the advanced editor.
        let json_form = vec![
            ("which".to_string(), "policy".to_string()),
            ("json".to_string(), "{\"revisit_days\": 9}".to_string()),
        ];
        let (status, _, _) = post(json_form, None).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let p = complaints.complaint_policy().await.expect("policy");
        assert_eq!(p.revisit_days, 9);
        let (status, _, body) = post(
            vec![
                ("which".to_string(), "policy".to_string()),
                ("json".to_string(), "{not json".to_string()),
            ],
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("JSON 无法读取"), "{body}");
        assert!(body.contains("<details class=\"settings-json\" open>"));

        // Only admins.
        let boss = app.login("boss", "boss-pass-1").await;
        let (status, _, _) = app.get(Some(&boss), "/admin/settings").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assessments_are_run_reviewed_and_published() {
    for app in App::both("web_assessments").await {
        let token = app.api_token("admin", "admin-pass-1").await;
        app.import(
            &token,
            json!([failing("as-1", "a-07"), failing("as-2", "a-11")]),
        )
        .await;
        let boss = app.login("boss", "boss-pass-1").await;
        let (status, _, html) = app.get(Some(&boss), "/assessments").await;
        assert_eq!(status, StatusCode::OK, "{html}");
        assert!(html.contains("id=\"run-assessment\""), "{html}");
        let token = csrf(&html);

        // A period that cannot be read is refused on the page.
        let (status, _, html) = app
            .post(
                Some(&boss),
                "/assessments",
                &[("_csrf", &token), ("period", "2026-13")],
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("无法识别周期"), "{html}");

        // Run: a draft with the review table and a publish button.
        let (status, headers, _) = app
            .post(
                Some(&boss),
                "/assessments",
                &[("_csrf", &token), ("period", "2026-03")],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let to = headers[LOCATION].to_str().expect("location").to_string();
        assert!(to.ends_with("?done=assessed"), "{to}");
        let path = to.split('?').next().expect("path").to_string();
        let (status, _, html) = app.get(Some(&boss), &to).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("id=\"assessment-table\""), "{html}");
        assert!(html.contains("a-07") && html.contains("a-11"), "{html}");
        assert!(html.contains("语言规范"), "indicator columns: {html}");
        assert!(html.contains("id=\"publish-assessment\""));
        assert!(html.contains("草稿"));

        // Inspectors look but do not publish; agents do not see runs here.
        let qa = app.login("qa", "inspector-pass-1").await;
        let (status, _, html) = app.get(Some(&qa), &path).await;
        assert_eq!(status, StatusCode::OK);
        assert!(!html.contains("id=\"publish-assessment\""));
        let qa_token = csrf(&html);
        let (status, _, _) = app
            .post(
                Some(&qa),
                &format!("{path}/publish"),
                &[("_csrf", &qa_token)],
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let agent = app.login("a-07", "agent-pass-07").await;
        let (status, _, _) = app.get(Some(&agent), "/assessments").await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // Publish: frozen, no button any more.
        let (status, headers, _) = app
            .post(
                Some(&boss),
                &format!("{path}/publish"),
                &[("_csrf", &token)],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(headers[LOCATION], format!("{path}?done=published"));
        let (_, _, html) = app.get(Some(&boss), &path).await;
        assert!(html.contains("已发布"), "{html}");
        assert!(!html.contains("id=\"publish-assessment\""));
        let (_, _, html) = app.get(Some(&boss), "/assessments").await;
        assert!(html.contains("2026-03"), "{html}");

        // A second run of the period is a new draft, which cannot be
        // published over the frozen one: the reason is shown.
        let (status, headers, _) = app
            .post(
                Some(&boss),
                "/assessments",
                &[("_csrf", &token), ("period", "2026-03")],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let second = headers[LOCATION].to_str().expect("location").to_string();
        let second = second.split('?').next().expect("path").to_string();
        assert_ne!(second, path);
        let (status, _, html) = app
            .post(
                Some(&boss),
                &format!("{second}/publish"),
                &[("_csrf", &token)],
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("未发布"), "{html}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reinspection_runs_in_the_background_after_activation() {
    for app in App::both("web_reinspect").await {
        let token = app.api_token("admin", "admin-pass-1").await;
        app.import(
            &token,
            json!([
                failing("re-1", "a-07"),
                failing("re-2", "a-11"),
                failing("re-3", "a-07")
            ]),
        )
        .await;
        let boss = app.login("boss", "boss-pass-1").await;
        let (_, _, html) = app.get(Some(&boss), "/packs/editor").await;
        let token = csrf(&html);

        // Only supervisors and admins may start it.
        let qa = app.login("qa", "inspector-pass-1").await;
        let (_, _, html) = app.get(Some(&qa), "/packs").await;
        assert!(!html.contains("id=\"reinspect-form\""));
        let qa_token = csrf(&html);
        let (status, _, _) = app
            .post(Some(&qa), "/packs/reinspect", &[("_csrf", &qa_token)])
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // A new version is activated; existing results keep the old one
        // until the re-inspection.
        let source: String = kefu_engine::pack::DEFAULT_PACK_ZH_CN
            .lines()
            .map(|l| {
                if l.starts_with("version = ") {
                    "version = \"2099.1.1\"".to_string()
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let (status, headers, body) = app
            .post(
                Some(&boss),
                "/packs/editor",
                &[("_csrf", &token), ("source", &source), ("action", "save")],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
        assert_eq!(headers[LOCATION], "/packs?done=saved");
        let (_, _, html) = app.get(Some(&boss), "/packs?done=saved").await;
        assert!(html.contains("id=\"reinspect-form\""), "{html}");
        assert!(html.contains("重新质检 / Re-inspect"));
        let before = app.store.inspection_history("re-1").await.expect("history");
        let old_version = before[0].pack_version_id;

        let (status, headers, _) = app
            .post(Some(&boss), "/packs/reinspect", &[("_csrf", &token)])
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(headers[LOCATION], "/packs?done=reinspect#reinspect");
        let mut finished = String::new();
        for _ in 0..300 {
            let (_, _, html) = app.get(Some(&boss), "/packs").await;
            if html.contains("data-running=\"false\"") {
                finished = html;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(!finished.is_empty(), "the re-inspection did not finish");
        assert!(finished.contains("已处理 3 / 3 条会话"), "{finished}");
        assert!(finished.contains("重新判定 3 条"), "{finished}");
        assert!(finished.contains("2099.1.1"));
        for id in ["re-1", "re-2", "re-3"] {
            let history = app.store.inspection_history(id).await.expect("history");
            let current: Vec<_> = history.iter().filter(|r| r.is_current).collect();
            assert_eq!(current.len(), 1, "{id}");
            assert_ne!(current[0].pack_version_id, old_version, "{id}");
            assert_eq!(history.len(), 2, "the old result is kept as history");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_are_exported_as_csv_and_xlsx() {
    for app in App::both("web_exports").await {
        let token = app.api_token("admin", "admin-pass-1").await;
        app.import(&token, json!([failing("ex-1", "a-07")])).await;
        let boss = app.login("boss", "boss-pass-1").await;
        let (_, _, html) = app.get(Some(&boss), "/agents?period=2026-03").await;
        assert!(
            html.contains("/reports/export?period=2026-03&amp;format=xlsx"),
            "{html}"
        );
        let get_bytes = |path: String, s: Web| {
            let app = &app;
            async move {
                let r = app
                    .http
                    .get(format!("{}{path}", app.base))
                    .header(COOKIE, s.cookies())
                    .send()
                    .await
                    .expect("GET");
                let status = r.status();
                let headers = r.headers().clone();
                (status, headers, r.bytes().await.expect("body").to_vec())
            }
        };
        let (status, headers, body) = get_bytes(
            "/reports/export?period=2026-03&format=csv&table=agents".into(),
            boss.clone(),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(headers["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/csv"));
        assert!(headers["content-disposition"]
            .to_str()
            .expect("disposition")
            .contains("agents-2026-03.csv"));
        let text = String::from_utf8(body).expect("utf-8");
        assert!(text.starts_with('\u{feff}'), "BOM for Excel");
        assert!(text.contains("a-07"), "{text}");
        let (status, _, body) = get_bytes(
            "/reports/export?period=2026-03&format=csv&table=rules&lang=en".into(),
            boss.clone(),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(String::from_utf8_lossy(&body).contains("Rule"));
        let (status, headers, body) = get_bytes(
            "/reports/export?period=2026-03&format=xlsx".into(),
            boss.clone(),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(headers["content-type"]
            .to_str()
            .expect("type")
            .contains("spreadsheetml"));
        assert!(body.starts_with(b"PK"), "a zip (xlsx)");
        let (status, _, _) = get_bytes(
            "/reports/export?period=2026-03&format=pdf".into(),
            boss.clone(),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let agent = app.login("a-07", "agent-pass-07").await;
        let (status, _, _) =
            get_bytes("/reports/export?period=2026-03&format=csv".into(), agent).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overview_shows_kpis_trends_rules_and_scores() {
    for app in App::both("web_overview").await {
        let token = app.api_token("admin", "admin-pass-1").await;
        let mut other = failing("ov-a11", "a-11");
        other["started_at"] = json!("2026-03-20T09:00:00+08:00");
        app.import(&token, json!([failing("ov-a07", "a-07"), other]))
            .await;
        let boss = app.login("boss", "boss-pass-1").await;
        // An open complaint assigned to a-07.
        let (_, _, html) = app.get(Some(&boss), "/complaints/new").await;
        let token = csrf(&html);
        let new_complaint = |assignee: &[(&'static str, &'static str)]| {
            let mut form = vec![
                ("_csrf", token.as_str()),
                ("customer_name", "张三"),
                ("category", "计费"),
                ("description", "话费多扣了 20 元"),
                ("channel", "phone"),
            ];
            form.extend_from_slice(assignee);
            let (app, boss) = (&app, &boss);
            async move { app.post(Some(boss), "/complaints", &form).await }
        };
        let (status, _, _) =
            new_complaint(&[("assignee_kind", "agent"), ("assignee_id", "a-07")]).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        // A group without its id: the form again with the reason, 422.
        let (status, _, page) = new_complaint(&[("assignee_kind", "group")]).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
        assert!(page.contains("话费多扣了 20 元"), "the form is kept");

        // Staff: the centre.
        let (status, _, html) = app.get(Some(&boss), "/?period=2026-03").await;
        assert_eq!(status, StatusCode::OK);
        for label in [
            "接通率",
            "应答及时率",
            "平均质检分",
            "合格率",
            "满意率",
            "全中心",
        ] {
            assert!(html.contains(label), "{label}");
        }
        assert!(html.contains("2026-03-01 至 2026-03-31"));
        assert!(html.contains("合格 0 / 接待 2"), "rate with its parts");
        assert!(html.contains("✗ 未达标"), "not met, in words");
        assert!(html.contains("目标 ≥ 90%"));
        assert!(
            html.contains("<dt>未结案</dt><dd>1</dd>"),
            "open complaints"
        );
        assert!(html.contains("class=\"point\""), "trend points");
        assert!(html.contains("class=\"cumulative\""), "Pareto of rules");
        assert!(html.contains("合格线 80 分"), "pass mark on the histogram");
        assert!(!html.contains(" style="), "no inline style (CSP)");
        assert_eq!(html.matches("<script").count(), 1, "only the app script");
        // Each rule links to its conversations of the period.
        let at = html
            .find("href=\"/conversations?rule=")
            .expect("a rule link")
            + "href=\"".len();
        let link = html[at..at + html[at..].find('"').expect("end")].replace("&#38;", "&");
        assert!(link.contains("from=2026-03-01&to=2026-03-31"), "{link}");
        let (status, _, list) = app.get(Some(&boss), &link).await;
        assert_eq!(status, StatusCode::OK, "{link}");
        assert!(list.contains("ov-a07") && list.contains("ov-a11"), "{link}");
        // The quick choices and the previous period.
        for (label, href) in [
            ("上月", "/?period="),
            ("上一期", "/?period=2026-02"),
            ("下一期", "/?period=2026-04"),
        ] {
            assert!(html.contains(href) && html.contains(label), "{label}");
        }
        // One agent, chosen by staff.
        let (_, _, html) = app.get(Some(&boss), "/?period=2026-03&agent=a-11").await;
        assert!(html.contains("坐席 a-11 名（a-11）"));
        assert!(html.contains("合格 0 / 接待 1"));
        assert!(html.contains("<dt>未结案</dt><dd>0</dd>"));

        // An agent sees only their own figures, whatever they ask for.
        let agent = app.login("a-07", "agent-pass-07").await;
        let (status, _, html) = app.get(Some(&agent), "/?period=2026-03&agent=a-11").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("坐席 a-07 名（a-07）"));
        assert!(!html.contains("全中心"));
        assert!(!html.contains("name=\"agent\""), "no agent field");
        assert!(html.contains("合格 0 / 接待 1"));
        assert!(
            html.contains("<dt>未结案</dt><dd>1</dd>"),
            "their complaint"
        );

        // No data this month; a period that cannot be read; English.
        let (status, _, html) = app.get(Some(&boss), "/").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("暂无数据"));
        let (status, _, html) = app.get(Some(&boss), "/?period=nope").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("无法识别期间「nope」"));
        let (_, _, html) = app.get(Some(&boss), "/?period=2026-Q1&lang=en").await;
        for label in [
            "Answer rate",
            "Pass rate",
            "by ISO week",
            "0 passed / 2 answered",
        ] {
            assert!(html.contains(label), "{label}");
        }
    }
}

/// Repeated wrong passwords: five are answered 401, then the account is
/// locked (429 with `Retry-After`, even for the right password), on the
/// API and on the dashboard's form, and an unknown name is answered the
/// same way at every step (no user enumeration).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_wrong_passwords_are_throttled() {
    for app in App::both("web_throttle_api").await {
        for user in ["a-11", "ghost"] {
            let attempt = |password: &'static str| {
                app.http
                    .post(format!("{}/api/v1/auth/login", app.base))
                    .json(&json!({"user": user, "password": password}))
                    .send()
            };
            for n in 1..=5 {
                let r = attempt("wrong-pass-1").await.expect("login");
                assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{user}: attempt {n}");
                assert!(r.headers().get("retry-after").is_none());
            }
            let r = attempt("wrong-pass-1").await.expect("login");
            assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{user}");
            assert_eq!(r.headers()["retry-after"], "1");
            let body: Value = r.json().await.expect("json");
            assert_eq!(body["error"]["code"], "too_many_requests");
            let r = attempt("agent-pass-11").await.expect("login");
            assert_eq!(
                r.status(),
                StatusCode::TOO_MANY_REQUESTS,
                "{user}: locked even for the right password"
            );
        }
        let trail = app.store.audit_trail("login", "a-11").await.expect("audit");
        assert!(trail.iter().any(|e| e.action == "locked"), "{trail:?}");
    }
    for app in App::both("web_throttle_form").await {
        for user in ["a-07", "ghost"] {
            let (_, headers, html) = app.get(None, "/login").await;
            let pre = Web::with_cookies(
                &app.base,
                format!(
                    "kefu_login={}",
                    set_cookie(&headers, "kefu_login").expect("cookie")
                ),
            );
            let token = csrf(&html);
            let form = [
                ("_csrf", token.as_str()),
                ("user", user),
                ("password", "wrong-pass-1"),
                ("next", "/"),
            ];
            for n in 1..=5 {
                let (status, _, _) = app.post(Some(&pre), "/login", &form).await;
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{user}: attempt {n}");
            }
            let (status, headers, html) = app.post(Some(&pre), "/login", &form).await;
            assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{user}");
            assert_eq!(headers["retry-after"], "1");
            assert!(html.contains("登录失败次数过多"), "{html}");
        }
    }
}

/// Upload from the dashboard (issue 12, item 7): staff only, CSRF first,
/// any format `kefu import` reads (detected), inspected and stored, with a
/// summary of counts and line-numbered errors; uploading again stores
/// nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations_are_uploaded_from_the_dashboard() {
    for app in App::both("web_upload").await {
        let qa = app.login("qa", "inspector-pass-1").await;
        let agent = app.login("a-07", "agent-pass-07").await;
        let (status, _, _) = app.get(Some(&agent), "/import").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "agents may not import");
        let (status, _, html) = app.get(Some(&qa), "/import").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("enctype=\"multipart/form-data\""), "{html}");
        let token = csrf(&html);
        let upload = |session: &Web, csrf: Option<&str>, name: &str, bytes: Vec<u8>| {
            let mut form = reqwest::multipart::Form::new();
            if let Some(t) = csrf {
                form = form.text("_csrf", t.to_string());
            }
            let form = form.part(
                "file",
                reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()),
            );
            app.http
                .post(format!("{}/import", app.base))
                .header(COOKIE, session.cookies())
                .multipart(form)
                .send()
        };
        let mut jsonl = String::new();
        jsonl.push_str(&failing("up-1", "a-07").to_string());
        jsonl.push('\n');
        jsonl.push_str("{not json\n");
        let mut long = failing("up-2", "a-07");
        long["customer_id"] = json!("客".repeat(129));
        jsonl.push_str(&long.to_string());
        jsonl.push('\n');
        jsonl.push_str(&failing("up#3 中文", "a-11").to_string());
        jsonl.push('\n');

        // No token: refused, nothing stored.
        let r = upload(&qa, None, "day.jsonl", jsonl.clone().into_bytes())
            .await
            .expect("upload");
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = upload(&qa, Some(&token), "day.jsonl", jsonl.clone().into_bytes())
            .await
            .expect("upload");
        assert_eq!(r.status(), StatusCode::OK);
        let html = r.text().await.expect("html");
        assert!(html.contains("<dd id=\"upload-stored\">2</dd>"), "{html}");
        assert!(
            html.contains("<dd id=\"upload-error-count\">2</dd>"),
            "{html}"
        );
        assert!(html.contains("<td class=\"num\">2</td>"), "line 2: {html}");
        assert!(html.contains("<td class=\"num\">3</td>"), "line 3: {html}");
        assert!(html.contains("129"), "{html}");
        let (_, _, list) = app.get(Some(&qa), "/conversations").await;
        assert!(
            list.contains("up#3 中文") || list.contains("up#3"),
            "{list}"
        );
        // Again: nothing stored twice.
        let r = upload(&qa, Some(&token), "day.jsonl", jsonl.into_bytes())
            .await
            .expect("upload");
        let html = r.text().await.expect("html");
        assert!(html.contains("<dd id=\"upload-stored\">0</dd>"), "{html}");
        assert!(html.contains("<dd id=\"upload-skipped\">2</dd>"), "{html}");
        // A vendor's file is detected and imported like `kefu import` does;
        // no agent or start time is warned about.
        let aliyun = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/vendors/aliyun.json"
        ))
        .expect("example");
        let r = upload(&qa, Some(&token), "call-0001.json", aliyun)
            .await
            .expect("upload");
        let html = r.text().await.expect("html");
        assert!(html.contains("data-format=\"aliyun\""), "{html}");
        assert!(html.contains("<dd id=\"upload-stored\">1</dd>"), "{html}");
        assert!(html.contains("没有坐席"), "{html}");
        // Customers, as `kefu customers import` reads them: created, then
        // updated; a row without a name is refused with its line.
        let customers = "客户编号,姓名,电话\nC-9,王五,13800138000\nC-10,,13900139000\n";
        let boss = app.login("boss", "boss-pass-1").await;
        let (_, _, html) = app.get(Some(&boss), "/import").await;
        let boss_token = csrf(&html);
        let customers_form = |bytes: &str| {
            reqwest::multipart::Form::new()
                .text("_csrf", boss_token.clone())
                .text("kind", "customers")
                .part(
                    "file",
                    reqwest::multipart::Part::bytes(bytes.as_bytes().to_vec())
                        .file_name("客户.csv"),
                )
        };
        for (created, updated) in [("1", "0"), ("0", "1")] {
            let r = app
                .http
                .post(format!("{}/import", app.base))
                .header(COOKIE, boss.cookies())
                .multipart(customers_form(customers))
                .send()
                .await
                .expect("upload");
            let html = r.text().await.expect("html");
            assert!(
                html.contains(&format!("<dd id=\"upload-stored\">{created}</dd>"))
                    && html.contains(&format!("<dd id=\"upload-skipped\">{updated}</dd>")),
                "{html}"
            );
            assert!(html.contains("<td class=\"num\">3</td>"), "line 3: {html}");
        }
        // An empty upload is a clear refusal.
        let r = upload(&qa, Some(&token), "empty.jsonl", Vec::new())
            .await
            .expect("upload");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    }
}

/// Exports that honour the list's filters (issue 12, item 7): the
/// conversation list and the complaint list link CSV/XLSX downloads that
/// carry the current query, and the files hold what the filters select.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_exports_keep_the_filters() {
    for app in App::both("web_list_export").await {
        let token = app.api_token("boss", "boss-pass-1").await;
        app.import(
            &token,
            json!([
                failing("ex-1", "a-07"),
                failing("ex-2", "a-07"),
                failing("ex#3", "a-11")
            ]),
        )
        .await;
        let boss = app.login("boss", "boss-pass-1").await;
        let (status, _, html) = app.get(Some(&boss), "/conversations?agent=a-07").await;
        assert_eq!(status, StatusCode::OK);
        let csv_href = "/export/conversations?agent=a-07&#38;format=csv";
        assert!(html.contains(csv_href), "{html}");
        let (status, headers, body) = app
            .get(Some(&boss), "/export/conversations?agent=a-07&format=csv")
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(headers["content-disposition"]
            .to_str()
            .unwrap_or("")
            .contains("conversations.csv"));
        assert!(body.starts_with('\u{feff}'), "BOM for Excel");
        assert!(body.contains("会话ID"), "{body}");
        assert!(body.contains("ex-1") && body.contains("ex-2"), "{body}");
        assert!(!body.contains("ex#3"), "the filter is kept: {body}");
        let (_, _, all) = app
            .get(Some(&boss), "/export/conversations?format=csv&lang=en")
            .await;
        assert!(
            all.contains("Conversation ID") && all.contains("ex#3"),
            "{all}"
        );
        let r = app
            .http
            .get(format!(
                "{}/export/conversations?agent=a-07&format=xlsx",
                app.base
            ))
            .header(COOKIE, boss.cookies())
            .send()
            .await
            .expect("xlsx");
        assert_eq!(r.status(), StatusCode::OK);
        let bytes = r.bytes().await.expect("bytes");
        assert!(bytes.starts_with(b"PK"), "a workbook");
        // Agents export their own only, whatever they ask for.
        let agent = app.login("a-11", "agent-pass-11").await;
        let (_, _, own) = app
            .get(Some(&agent), "/export/conversations?agent=a-07&format=csv")
            .await;
        assert!(own.contains("ex#3") && !own.contains("ex-1"), "{own}");

        // Complaints: the one-state list exports that state only.
        let r = app
            .http
            .post(format!("{}/api/v1/complaints", app.base))
            .bearer_auth(&token)
            .json(&json!({"customer": {"name": "张伟"}, "channel": "phone",
                          "category": "计费", "description": "话费多扣二十元"}))
            .send()
            .await
            .expect("complaint");
        assert_eq!(r.status(), StatusCode::CREATED);
        let created: Value = r.json().await.expect("json");
        let cid = created["complaint"]["id"].as_str().expect("id").to_string();
        let (_, _, html) = app.get(Some(&boss), "/complaints?state=accepted").await;
        assert!(
            html.contains("/export/complaints?state=accepted&#38;format=csv"),
            "{html}"
        );
        let (status, _, body) = app
            .get(Some(&boss), "/export/complaints?state=accepted&format=csv")
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains(&cid) && body.contains("受理"), "{body}");
        let (_, _, closed) = app
            .get(Some(&boss), "/export/complaints?state=closed&format=csv")
            .await;
        assert!(!closed.contains(&cid), "{closed}");
        let (status, _, _) = app
            .get(Some(&boss), "/export/complaints?state=bad&format=csv")
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
}

/// The upload limit is the server's (`kefu serve --max-upload-size`): a
/// larger file is refused while it arrives, with the limit named, and
/// nothing of it is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_over_the_limit_are_refused() {
    let app = App::with(TestDb::sqlite("web_upload_limit"), |state| {
        state.with_max_upload_bytes(2 * 1024 * 1024)
    })
    .await;
    let qa = app.login("qa", "inspector-pass-1").await;
    let (_, _, html) = app.get(Some(&qa), "/import").await;
    assert!(html.contains("2 MB"), "the limit is shown: {html}");
    let token = csrf(&html);
    let mut big = String::new();
    let mut n = 0;
    while big.len() <= 2 * 1024 * 1024 {
        big.push_str(&failing(&format!("big-{n}"), "a-07").to_string());
        big.push('\n');
        n += 1;
    }
    let form = reqwest::multipart::Form::new().text("_csrf", token).part(
        "file",
        reqwest::multipart::Part::bytes(big.into_bytes()).file_name("big.jsonl"),
    );
    let r = app
        .http
        .post(format!("{}/import", app.base))
        .header(COOKIE, qa.cookies())
        .multipart(form)
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let html = r.text().await.expect("html");
    assert!(html.contains("文件超过上限 2 MB"), "{html}");
    let stored = app
        .store
        .inspection_history("big-0")
        .await
        .expect("history");
    assert!(stored.is_empty(), "nothing of it is stored");
}

/// Complaints from a file (issue 12, item 7): the upload form's 投诉 kind
/// files each row like `POST /api/v1/complaints`, dated by its 提交时间; the
/// summary counts filed and already-filed rows and lists bad rows by line;
/// inspectors may not; `POST /api/v1/imports` takes `kind=complaints` too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complaint_files_upload_from_the_dashboard() {
    for app in App::both("web_complaint_upload").await {
        let file = "投诉编号,客户,电话,渠道,类别,严重程度,内容,提交时间\n\
                    UP-C1,张伟,13800138000,电话,计费,高,话费多扣二十元,2026-03-09 09:00\n\
                    UP-C2,李娜,,在线,物流,,快递三天未到,not a time\n\
                    ,王芳,,微信,质量,紧急,收到破损,2026-03-09 10:30\n";
        let boss = app.login("boss", "boss-pass-1").await;
        let (_, _, html) = app.get(Some(&boss), "/import").await;
        assert!(html.contains("value=\"complaints\""), "{html}");
        let token = csrf(&html);
        let form = |token: &str, bytes: &str| {
            reqwest::multipart::Form::new()
                .text("_csrf", token.to_string())
                .text("kind", "complaints")
                .part(
                    "file",
                    reqwest::multipart::Part::bytes(bytes.as_bytes().to_vec())
                        .file_name("投诉.csv"),
                )
        };
        for (filed, skipped) in [("2", "0"), ("0", "2")] {
            let r = app
                .http
                .post(format!("{}/import", app.base))
                .header(COOKIE, boss.cookies())
                .multipart(form(&token, file))
                .send()
                .await
                .expect("upload");
            assert_eq!(r.status(), StatusCode::OK);
            let html = r.text().await.expect("html");
            assert!(html.contains("data-format=\"complaints\""), "{html}");
            assert!(
                html.contains(&format!("<dd id=\"upload-stored\">{filed}</dd>"))
                    && html.contains(&format!("<dd id=\"upload-skipped\">{skipped}</dd>")),
                "{html}"
            );
            assert!(html.contains("新登记投诉"), "{html}");
            assert!(
                html.contains("<dd id=\"upload-error-count\">1</dd>"),
                "{html}"
            );
            assert!(html.contains("<td class=\"num\">3</td>"), "line 3: {html}");
            assert!(html.contains("not a time"), "{html}");
            assert!(html.contains("href=\"/complaints\""), "{html}");
        }
        let (status, _, page) = app.get(Some(&boss), "/complaints/UP-C1").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("话费多扣二十元"), "{page}");

        // Inspectors do not open complaints.
        let qa = app.login("qa", "inspector-pass-1").await;
        let (_, _, html) = app.get(Some(&qa), "/import").await;
        let r = app
            .http
            .post(format!("{}/import", app.base))
            .header(COOKIE, qa.cookies())
            .multipart(form(&csrf(&html), file))
            .send()
            .await
            .expect("upload");
        assert_eq!(r.status(), StatusCode::FORBIDDEN);

        // The API: the same file is all there; a new row is filed.
        let api = app.api_token("boss", "boss-pass-1").await;
        let more = "id,customer,channel,category,content,created_at\n\
                    UP-C9,Zhao,phone,billing,charged twice,2026-03-09T02:00:00Z\n";
        let r = app
            .http
            .post(format!("{}/api/v1/imports", app.base))
            .bearer_auth(&api)
            .multipart(
                reqwest::multipart::Form::new()
                    .text("kind", "complaints")
                    .part(
                        "file",
                        reqwest::multipart::Part::bytes(more.as_bytes().to_vec())
                            .file_name("more.csv"),
                    ),
            )
            .send()
            .await
            .expect("api upload");
        assert_eq!(r.status(), StatusCode::CREATED);
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["format"], "complaints", "{body}");
        assert_eq!(body["stored"], 1, "{body}");
        assert_eq!(body["error_count"], 0, "{body}");
    }
}
