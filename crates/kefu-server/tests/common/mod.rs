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

/// The value of cookie `name` set by a response (`Set-Cookie: name=value; …`).
#[allow(dead_code)] // not every suite reads cookies
pub(crate) fn set_cookie(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    set_cookie_line(headers, name).map(|line| {
        line[name.len() + 1..]
            .split(';')
            .next()
            .unwrap_or("")
            .to_string()
    })
}

/// The whole `Set-Cookie` line of cookie `name` (value and attributes).
#[allow(dead_code)] // not every suite reads cookies
pub(crate) fn set_cookie_line(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

/// A form body, `application/x-www-form-urlencoded`.
#[allow(dead_code)] // not every suite posts forms
pub(crate) fn form_body(fields: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        s.append_pair(k, v);
    }
    s.finish()
}

/// A dashboard session of one user: signed in through the login form, its
/// cookie sent with every request; redirects are not followed, so a test
/// sees the 303 of a saved form.
#[allow(dead_code)] // not every suite drives the dashboard over HTTP
#[derive(Clone)]
pub(crate) struct Web {
    base: String,
    http: reqwest::Client,
    cookies: String,
}

#[allow(dead_code)]
impl Web {
    /// A client of the server at `base` sending `cookies` (`a=1; b=2`,
    /// empty for none); redirects are not followed.
    pub(crate) fn with_cookies(base: &str, cookies: impl Into<String>) -> Web {
        Web {
            base: base.to_string(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            cookies: cookies.into(),
        }
    }

    /// A signed-out client of the server at `base`.
    pub(crate) fn signed_out(base: &str) -> Web {
        Web::with_cookies(base, "")
    }

    /// The same session with one more cookie (`lang=en`).
    pub(crate) fn and_cookie(&self, cookie: &str) -> Web {
        let cookies = if self.cookies.is_empty() {
            cookie.to_string()
        } else {
            format!("{}; {cookie}", self.cookies)
        };
        Web {
            cookies,
            ..self.clone()
        }
    }

    /// The `Cookie` header this session sends.
    pub(crate) fn cookies(&self) -> &str {
        &self.cookies
    }

    /// The HTTP client (redirects not followed), for requests the helpers
    /// do not build (multipart uploads, downloads); send [`Web::cookies`].
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Signs `user` in on the server at `base`, coming back to `/`.
    pub(crate) async fn login(base: &str, user: &str, password: &str) -> Web {
        Web::login_to(base, user, password, "/").await
    }

    /// Signs `user` in through the login form of `/login?next=…`: the
    /// answer must be a 303 to `next` setting an HttpOnly, SameSite=Lax
    /// session cookie for the whole site.
    pub(crate) async fn login_to(base: &str, user: &str, password: &str, next: &str) -> Web {
        let anon = Web::signed_out(base);
        let (status, headers, html) = anon
            .fetch(&format!(
                "/login?next={}",
                form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
            ))
            .await;
        assert_eq!(status, reqwest::StatusCode::OK, "login page");
        let pre = set_cookie(&headers, "kefu_login").expect("login cookie");
        let web = Web::with_cookies(base, format!("kefu_login={pre}"));
        let token = csrf(&html);
        let (status, headers, _) = web
            .post(
                "/login",
                &[
                    ("_csrf", &token),
                    ("user", user),
                    ("password", password),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(status, reqwest::StatusCode::SEE_OTHER, "login of {user}");
        assert_eq!(headers[reqwest::header::LOCATION], next, "login of {user}");
        let line = set_cookie_line(&headers, "kefu_session").expect("session cookie");
        for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(line.contains(flag), "{line}");
        }
        Web::with_cookies(
            base,
            format!(
                "kefu_session={}",
                set_cookie(&headers, "kefu_session").expect("session")
            ),
        )
    }

    /// `GET path`: the status, the headers and the page.
    pub(crate) async fn fetch(
        &self,
        path: &str,
    ) -> (reqwest::StatusCode, reqwest::header::HeaderMap, String) {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if !self.cookies.is_empty() {
            req = req.header(reqwest::header::COOKIE, &self.cookies);
        }
        let r = req.send().await.expect("GET");
        let (status, headers) = (r.status(), r.headers().clone());
        (status, headers, r.text().await.unwrap_or_default())
    }

    /// `GET path`: the status and the page.
    pub(crate) async fn get(&self, path: &str) -> (reqwest::StatusCode, String) {
        let (status, _, body) = self.fetch(path).await;
        (status, body)
    }

    /// Posts the form `fields` to `path`: status, headers and body.
    pub(crate) async fn post(
        &self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> (reqwest::StatusCode, reqwest::header::HeaderMap, String) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded");
        if !self.cookies.is_empty() {
            req = req.header(reqwest::header::COOKIE, &self.cookies);
        }
        let r = req.body(form_body(fields)).send().await.expect("POST");
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
