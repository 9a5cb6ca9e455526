//! The real server for the HTTP, dashboard and browser tests: a database
//! with users and the built-in pack, `kefu_server::serve` on a random
//! loopback port, stopped and the database removed when dropped.

use kefu_engine::{Inspector, RulePack};
use kefu_server::AppState;
use kefu_service::auth::{self, NewUser, PasswordCost, Role};
use kefu_store::testing::TestDb;
use kefu_store::Store;

/// A running server.
pub(crate) struct Server {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Its database.
    #[allow(dead_code)] // not every suite reads the store directly
    pub store: Store,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    _db: TestDb,
}

impl Server {
    /// Starts a server on `db` with `users` (id, role, password), each
    /// shown as `display(id)`.
    #[allow(dead_code)] // the dashboard suite starts configured servers
    pub(crate) async fn start(
        db: TestDb,
        users: &[(&str, Role, &str)],
        display: impl Fn(&str) -> String,
    ) -> Server {
        Server::start_with(db, users, display, |state| state).await
    }

    /// [`Server::start`], with the state changed by `configure` (limits).
    pub(crate) async fn start_with(
        db: TestDb,
        users: &[(&str, Role, &str)],
        display: impl Fn(&str) -> String,
        configure: impl FnOnce(AppState) -> AppState,
    ) -> Server {
        let _ = auth::set_password_cost(PasswordCost::CHEAP_FOR_TESTS);
        let store = db.open().await;
        for (id, role, password) in users {
            auth::add_user(
                &store,
                NewUser {
                    id: (*id).into(),
                    display_name: display(id),
                    role: *role,
                    team: None,
                    password: Some((*password).into()),
                },
            )
            .await
            .expect("add user");
        }
        let source = kefu_engine::pack::DEFAULT_PACK_ZH_CN;
        let inspector =
            Inspector::new(RulePack::from_toml(source).expect("pack")).expect("compile");
        let version = store
            .register_pack("zh-CN", "test", source)
            .await
            .expect("register pack");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let state = configure(AppState::new(store.clone(), inspector, version.id));
        tokio::spawn(kefu_server::serve(listener, state, async {
            let _ = rx.await;
        }));
        Server {
            base,
            store,
            shutdown: Some(tx),
            _db: db,
        }
    }

    /// Stops the server and gives it a moment to close its connections.
    #[allow(dead_code)] // the API suite stops explicitly; the others on drop
    pub(crate) async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A JSON client of the API with bearer tokens.
#[allow(dead_code)] // not every suite calls the API this way
pub(crate) struct Client {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The HTTP client.
    pub http: reqwest::Client,
}

#[allow(dead_code)]
impl Client {
    /// A client of `server`.
    pub(crate) fn of(server: &Server) -> Client {
        Client {
            base: server.base.clone(),
            http: reqwest::Client::new(),
        }
    }

    /// Calls `method path` with `token` and an optional JSON body: the
    /// status and the body (JSON, or the text as a JSON string).
    pub(crate) async fn call(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (reqwest::StatusCode, serde_json::Value) {
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
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
        )
    }

    /// Signs in; the bearer token.
    pub(crate) async fn login(&self, user: &str, password: &str) -> String {
        let r = self
            .http
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&serde_json::json!({"user": user, "password": password}))
            .send()
            .await
            .expect("login");
        assert_eq!(r.status(), reqwest::StatusCode::OK);
        let v: serde_json::Value = r.json().await.expect("json");
        v["token"].as_str().expect("token").to_string()
    }
}

/// `(method, path)` of every `.route(…)` of the router that `source` builds
/// between `start` and the router's `.fallback(`: the RBAC suites read the
/// routers' own source, so a route added there is covered without editing
/// them.
#[allow(dead_code)] // only the RBAC suites read routers
pub(crate) fn routes_in(source: &str, start: &str) -> Vec<(reqwest::Method, String)> {
    use reqwest::Method;
    let from = source.find(start).expect("the router");
    let to = from + source[from..].find(".fallback(").expect("its fallback");
    let mut routes = Vec::new();
    for part in source[from..to].split(".route(").skip(1) {
        let path = part
            .split('"')
            .nth(1)
            .expect("a route's path literal")
            .to_string();
        for (name, method) in [
            ("get(", Method::GET),
            ("post(", Method::POST),
            ("put(", Method::PUT),
            ("delete(", Method::DELETE),
            ("patch(", Method::PATCH),
        ] {
            let found = part.match_indices(name).any(|(i, _)| {
                i == 0
                    || !part.as_bytes()[i - 1].is_ascii_alphanumeric()
                        && part.as_bytes()[i - 1] != b'_'
            });
            if found {
                routes.push((method, path.clone()));
            }
        }
    }
    routes
}

/// The golden conversations as two agents' work: the first half `a-07`'s
/// (ids `mine-NNN`), the second half `a-11`'s (`theirs-NNN`, also
/// returned), for tests that one agent never sees the other's.
#[allow(dead_code)] // only the RBAC suites split the fixtures
pub(crate) fn two_agents_conversations() -> (serde_json::Value, Vec<String>) {
    use serde_json::{json, Value};
    const FIXTURES: &str = include_str!("../../../kefu-engine/tests/golden/conversations.jsonl");
    let lines: Vec<&str> = FIXTURES.lines().filter(|l| !l.trim().is_empty()).collect();
    let half = lines.len() / 2;
    let mut items = Vec::new();
    let mut theirs = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        let mut v: Value = serde_json::from_str(line).expect("fixture");
        let (agent, tag) = if n < half {
            ("a-07", "mine")
        } else {
            ("a-11", "theirs")
        };
        let id = format!("{tag}-{n:03}");
        v["id"] = json!(id);
        v["agent_id"] = json!(agent);
        v["agent_name"] = json!(format!("坐席{agent}"));
        if tag == "theirs" {
            theirs.push(id);
        }
        items.push(v);
    }
    (Value::Array(items), theirs)
}

/// The value of the first hidden `_csrf` field of a dashboard page.
#[allow(dead_code)] // not every suite posts dashboard forms
pub(crate) fn csrf(html: &str) -> String {
    let key = "name=\"_csrf\" value=\"";
    let at = html.find(key).expect("a form with a CSRF token") + key.len();
    html[at..].chars().take_while(|c| *c != '"').collect()
}

/// A dashboard session of one user: signed in through the login form, its
/// cookie sent with every request; redirects are not followed, so a test
/// sees the 303 of a saved form.
#[allow(dead_code)] // not every suite drives the dashboard over HTTP
pub(crate) struct Web {
    base: String,
    http: reqwest::Client,
    cookies: String,
}

#[allow(dead_code)]
impl Web {
    fn cookie(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
        headers
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| {
                c.strip_prefix(&format!("{name}="))
                    .map(|r| r.split(';').next().unwrap_or("").to_string())
            })
    }

    /// Signs `user` in on the server at `base`.
    pub(crate) async fn login(base: &str, user: &str, password: &str) -> Web {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let r = http
            .get(format!("{base}/login"))
            .send()
            .await
            .expect("login page");
        let pre = Web::cookie(r.headers(), "kefu_login").expect("login cookie");
        let html = r.text().await.expect("html");
        let mut web = Web {
            base: base.to_string(),
            http,
            cookies: format!("kefu_login={pre}"),
        };
        let token = csrf(&html);
        let (status, headers, _) = web
            .post(
                "/login",
                &[
                    ("_csrf", &token),
                    ("user", user),
                    ("password", password),
                    ("next", "/"),
                ],
            )
            .await;
        assert_eq!(status, reqwest::StatusCode::SEE_OTHER, "login of {user}");
        web.cookies = format!(
            "kefu_session={}",
            Web::cookie(&headers, "kefu_session").expect("session")
        );
        web
    }

    /// `GET path`: the status and the page.
    pub(crate) async fn get(&self, path: &str) -> (reqwest::StatusCode, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, &self.cookies)
            .send()
            .await
            .expect("GET");
        (r.status(), r.text().await.unwrap_or_default())
    }

    /// Posts the form `fields` to `path`: status, headers and body.
    pub(crate) async fn post(
        &self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> (reqwest::StatusCode, reqwest::header::HeaderMap, String) {
        let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, &self.cookies)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("POST");
        let (status, headers) = (r.status(), r.headers().clone());
        (status, headers, r.text().await.unwrap_or_default())
    }

    /// [`Web::post`], answering where a redirect leads (its `Location`)
    /// instead of the body when there is one.
    pub(crate) async fn submit(
        &self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> (reqwest::StatusCode, String) {
        let (status, headers, body) = self.post(path, fields).await;
        match headers
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
        {
            Some(to) => (status, to.to_string()),
            None => (status, body),
        }
    }
}
