//! Every dashboard route × every role, read from the dashboard router's own
//! definition (`src/web/mod.rs`), so a page added there is covered here
//! without editing this file — the dashboard twin of `rbac.rs`.
//!
//! Agent `a-07` must never see a byte of agent `a-11`'s conversations,
//! complaint, appeal or feedback, nor open their pages; nobody gets a 5xx,
//! whether a form arrives empty or a page is asked for by anyone; nobody
//! signed out gets past the login; only admins reach `/admin`.

use kefu_service::auth::Role;
use kefu_store::testing::TestDb;
use reqwest::header::{HeaderMap, COOKIE, LOCATION};
use reqwest::{Method, StatusCode};
use serde_json::json;

mod common;
use common::{csrf, form_body, Web};

const ROUTER: &str = include_str!("../src/web/mod.rs");

const USERS: &[(&str, Role, &str)] = &[
    ("admin", Role::Admin, "admin-pass-1"),
    ("boss", Role::Supervisor, "boss-pass-1"),
    ("qa", Role::Inspector, "inspector-pass-1"),
    ("a-07", Role::Agent, "agent-pass-07"),
    ("a-11", Role::Agent, "agent-pass-11"),
];

/// Pages anyone may open signed out.
const PUBLIC: &[&str] = &["/login", "/lang/{lang}", "/assets/{name}", "/favicon.ico"];

/// Forms that end the session they are posted with; they run last.
const SESSION_ENDING: &[&str] = &["/logout", "/account/password"];

/// A browser without redirects, signed in by cookie or not.
struct Browser {
    base: String,
    http: reqwest::Client,
}

/// A signed-in session: its cookie and a CSRF token of its forms.
struct Session {
    user: &'static str,
    cookie: String,
    csrf: String,
}

impl Browser {
    async fn send(
        &self,
        cookie: Option<&str>,
        method: Method,
        path: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, String) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(c) = cookie {
            req = req.header(COOKIE, c);
        }
        if !form.is_empty() {
            req = req
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form_body(form));
        }
        let r = req.send().await.expect("request");
        let (status, headers) = (r.status(), r.headers().clone());
        (status, headers, r.text().await.unwrap_or_default())
    }

    async fn login(&self, user: &'static str) -> Session {
        let password = USERS
            .iter()
            .find(|(id, _, _)| *id == user)
            .map(|(_, _, p)| *p)
            .expect("a known user");
        let web = Web::login(&self.base, user, password).await;
        let (_, html) = web.get("/account/password").await;
        let (cookie, csrf) = (web.cookies().to_string(), csrf(&html));
        Session { user, cookie, csrf }
    }
}

/// a-11's records, made through the API as a-11 would.
struct Theirs {
    conversations: Vec<String>,
    complaint: String,
    appeal: String,
    feedback: String,
}

async fn seed(server: &common::Server) -> Theirs {
    let api = common::Client::of(server);
    let admin = api.login("admin", "admin-pass-1").await;
    let (items, conversations) = common::two_agents_conversations();
    let (status, body) = api
        .call(&admin, Method::POST, "/api/v1/conversations", Some(items))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let theirs = api.login("a-11", "agent-pass-11").await;
    let (status, body) = api
        .call(
            &theirs,
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
    let complaint = body["complaint"]["id"].as_str().expect("id").to_string();
    let mut appeal = None;
    for conv in &conversations {
        let (status, body) = api
            .call(
                &theirs,
                Method::POST,
                &format!("/api/v1/conversations/{conv}/appeals"),
                Some(json!({"finding": "auto:0", "reason": "复述客户原话"})),
            )
            .await;
        if status == StatusCode::CREATED {
            appeal = body["id"].as_i64().or(body["appeal"]["id"].as_i64());
            break;
        }
    }
    let appeal = appeal.expect("an appeal of a-11").to_string();
    let (status, body) = api
        .call(
            &theirs,
            Method::POST,
            "/api/v1/feedback",
            Some(json!({
                "source": "conversation_turn",
                "conversation_id": conversations[0],
                "turn_index": 1,
                "category": "其他",
                "content": "仅a-11可见的意见"
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let feedback = body["id"]
        .as_str()
        .or(body["feedback"]["id"].as_str())
        .expect("feedback id")
        .to_string();
    Theirs {
        conversations,
        complaint,
        appeal,
        feedback,
    }
}

/// `path` with its parameters filled with a-11's records.
fn fill(path: &str, t: &Theirs) -> String {
    path.replace(
        "/conversations/{id}",
        &format!("/conversations/{}", t.conversations[0]),
    )
    .replace("/complaints/{id}", &format!("/complaints/{}", t.complaint))
    .replace("/appeals/{id}", &format!("/appeals/{}", t.appeal))
    .replace("/feedback/{id}", &format!("/feedback/{}", t.feedback))
    .replace("/agents/{id}", "/agents/a-11")
    .replace("/admin/users/{id}", "/admin/users/a-11")
    .replace("{lang}", "en")
    .replace("{name}", "app.css")
    .replace("{token}", "0")
    .replace("{id}", "1")
}

/// Routes whose `{id}` is not a record of a-11's: assessments and revisits
/// are numbered, and `1` may be anyone's; `/lang`, `/assets` are public.
fn names_their_record(path: &str) -> bool {
    path.contains("{id}")
        && !path.starts_with("/assessments")
        && !path.starts_with("/revisits")
        && !path.starts_with("/customers")
}

async fn matrix(db: TestDb) -> usize {
    let server = common::Server::start(db, USERS, |id| format!("{id} 名")).await;
    let theirs = seed(&server).await;
    let b = Browser {
        base: server.base.clone(),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
    };
    let routes = common::routes_in(ROUTER, "pub(crate) fn router()");
    assert!(routes.len() >= 50, "the router was read: {routes:?}");
    let secrets: Vec<String> = theirs
        .conversations
        .iter()
        .cloned()
        .chain([
            theirs.complaint.clone(),
            theirs.feedback.clone(),
            "13900001111".into(),
            "仅a-11可见".into(),
        ])
        .collect();
    let mut cells = 0;

    // Signed out: every page but the public ones sends to the login; no
    // form does anything.
    for (method, path) in &routes {
        if PUBLIC.contains(&path.as_str()) {
            continue;
        }
        let target = fill(path, &theirs);
        let (status, headers, body) = b.send(None, method.clone(), &target, &[]).await;
        if *method == Method::GET {
            let to = headers
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            assert!(
                status == StatusCode::SEE_OTHER && to.starts_with("/login"),
                "signed out GET {target}: {status} → {to:?}"
            );
        } else {
            assert!(
                status.is_client_error() || status == StatusCode::SEE_OTHER,
                "signed out POST {target}: {status} {body}"
            );
            if status == StatusCode::SEE_OTHER {
                let to = headers
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                assert!(
                    to.starts_with("/login") || path == "/login",
                    "signed out POST {target} went on to {to}"
                );
            }
        }
        for s in &secrets {
            assert!(
                !body.contains(s.as_str()) || target.contains(s.as_str()),
                "signed out {method} {target} showed `{s}`"
            );
        }
        cells += 1;
    }

    // Every role: no 5xx on any page or on an empty form with a valid
    // CSRF token; only admins reach /admin; a-07 never reaches a-11's.
    for user in ["a-07", "qa", "boss", "a-11", "admin"] {
        let s = b.login(user).await;
        let role = USERS
            .iter()
            .find(|(id, _, _)| *id == user)
            .map(|(_, r, _)| *r)
            .expect("role");
        let mut ordered: Vec<&(Method, String)> = routes.iter().collect();
        ordered.sort_by_key(|(_, p)| SESSION_ENDING.contains(&p.as_str()));
        for (method, path) in ordered {
            if SESSION_ENDING.contains(&path.as_str()) || path == "/login" {
                continue;
            }
            let target = fill(path, &theirs);
            let form: Vec<(&str, &str)> = if *method == Method::POST {
                vec![("_csrf", s.csrf.as_str())]
            } else {
                Vec::new()
            };
            let (status, _, body) = b
                .send(Some(&s.cookie), method.clone(), &target, &form)
                .await;
            assert!(
                !status.is_server_error(),
                "{} {method} {target}: {status} {body}",
                s.user
            );
            if path.starts_with("/admin") && role != Role::Admin {
                assert!(
                    !status.is_success(),
                    "{} reached the admin page {method} {target}: {status}",
                    s.user
                );
            }
            if s.user == "a-07" {
                if names_their_record(path) && !path.starts_with("/admin") {
                    assert!(
                        !status.is_success(),
                        "a-07 reached a-11's record: {method} {target}: {status}"
                    );
                }
                // An error may echo the id that was asked for; nothing else.
                for sec in secrets.iter().filter(|x| !target.contains(x.as_str())) {
                    assert!(
                        !body.contains(sec.as_str()),
                        "a-07 saw `{sec}` of a-11 through {method} {target}"
                    );
                }
            }
            cells += 1;
        }
        // The session still works: nothing above signed it out.
        let (status, _, _) = b.send(Some(&s.cookie), Method::GET, "/", &[]).await;
        assert_eq!(status, StatusCode::OK, "{user}'s session survived the walk");
    }
    server.stop().await;
    cells
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_route_every_role_on_both_backends() {
    let cells = matrix(TestDb::sqlite("rbac_dashboard")).await;
    eprintln!("rbac-dashboard: {cells} cells checked on SQLite");
    if let Some(db) = TestDb::postgres("rbac_dashboard").await {
        let cells = matrix(db).await;
        eprintln!("rbac-dashboard: {cells} cells checked on PostgreSQL");
    }
}
