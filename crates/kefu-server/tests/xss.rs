//! Stored XSS, in a real headless Chromium: conversations (ids, agent and
//! customer names, turn text), complaints (customer, category,
//! description), review comments, appeal reasons, user names and a rule
//! pack's message all carry script payloads; every page that shows them is
//! opened and must show the payload as text, run none of it (each payload
//! sets `window.__xss` and the title), carry no injected element or event
//! handler, and log no browser error (a CSP violation is one). Dashboard
//! pages must send the Content-Security-Policy.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver`, like
//! `browser.rs`; without them the test prints a notice and passes.

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use kefu_service::auth::Role;
use kefu_store::testing::TestDb;
use serde_json::{json, Value};

mod common;
mod webdriver;
use webdriver::{Driver, Res};

/// Element content: a script block, an image whose error handler runs, an
/// attribute break-out, a quote break-out and a `javascript:` URL.
const PAYLOAD: &str = "<script>window.__xss=1;document.title='XSS'</script>\
<img src=x onerror=\"window.__xss=2;document.title='XSS'\">\
\"><svg onload=window.__xss=3>\
' onmouseover='window.__xss=4' x='\
javascript:window.__xss=5";
/// The same without double quotes, for TOML strings.
const PACK_PAYLOAD: &str = "<script>window.__xss=6</script><img src=x onerror=window.__xss=7>'><svg onload=window.__xss=8>";
/// An id that breaks out of an attribute.
const ODD_ID: &str = "xss-\"><img src=x onerror=window.__xss=9>'";
/// An id that is a `javascript:` URL.
const JS_ID: &str = "javascript:window.__xss=10";
/// An agent id that breaks out of an attribute.
const AGENT: &str = "a-'\"><svg onload=window.__xss=11>";

const USERS: &[(&str, Role, &str)] = &[
    ("admin", Role::Admin, "admin-pass-1"),
    ("a-07", Role::Agent, "agent-pass-07"),
];

/// The path segment `s`, percent-encoded.
fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A conversation with three forbidden phrases (findings) around payloads.
fn conversation(id: &str, agent: &str) -> Value {
    json!({
        "id": id, "channel": "chat", "agent_id": agent, "agent_name": PAYLOAD,
        "customer_id": "u-\"><svg onload=window.__xss=13>", "customer_name": PAYLOAD,
        "started_at": "2026-03-18T10:00:00+08:00", "ended_by": "customer",
        "turns": [
            {"role": "agent", "text": format!("您好{PAYLOAD}请问有什么可以帮您？"), "start_ms": 0, "end_ms": 4000},
            {"role": "customer", "text": PAYLOAD, "start_ms": 4500, "end_ms": 8000},
            {"role": "agent", "text": format!("这个我不{PAYLOAD}知道。不知道{PAYLOAD}不关我的事，爱找谁找谁去。"), "start_ms": 9000, "end_ms": 14000},
            {"role": "customer", "text": "你这是什么态度！", "start_ms": 14500, "end_ms": 18000},
            {"role": "agent", "text": "好的。", "start_ms": 19000, "end_ms": 21000}
        ]
    })
}

/// What a page looks like to a script: whether a payload ran, injected
/// elements and handlers, and its visible text.
const PROBE: &str = r#"
const bad = [];
for (const e of document.querySelectorAll('*')) {
  for (const a of e.attributes) {
    const n = a.name.toLowerCase();
    if (n.startsWith('on')) bad.push('handler ' + e.outerHTML.slice(0, 120));
    if (['href', 'src', 'action', 'formaction', 'xlink:href'].includes(n)
        && /^\s*javascript:/i.test(a.value)) bad.push('js url ' + e.outerHTML.slice(0, 120));
  }
}
for (const s of document.scripts) if (!s.src) bad.push('inline script ' + s.outerHTML.slice(0, 120));
for (const e of document.querySelectorAll('img[src="x"], svg[onload], img[onerror]'))
  bad.push('injected ' + e.outerHTML.slice(0, 120));
return {xss: window.__xss === undefined ? null : window.__xss, title: document.title,
        bad: bad, errors: window.__kefuErrors || null, text: document.body.innerText};
"#;

struct Browser<'a> {
    c: &'a Client,
    http: reqwest::Client,
    driver: String,
    base: String,
    pages: usize,
    /// The page opened is an error page (its 4xx is logged, not an error).
    error_page: bool,
}

impl Browser<'_> {
    /// Opens `path` and checks it; `shows` must appear as text on it.
    async fn visit(&mut self, path: &str, shows: &[&str]) -> Res<()> {
        self.c.goto(&format!("{}{path}", self.base)).await?;
        self.check(path, shows).await
    }

    /// Checks the page now open.
    async fn check(&mut self, what: &str, shows: &[&str]) -> Res<()> {
        self.pages += 1;
        // Give onerror/onload handlers (a broken image) time to fire.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let p = self.c.execute(PROBE, vec![]).await?;
        let mut problems = Vec::new();
        if !p["xss"].is_null() {
            problems.push(format!("payload ran: window.__xss = {}", p["xss"]));
        }
        if p["title"].as_str().unwrap_or("").contains("XSS") {
            problems.push(format!("title changed to {}", p["title"]));
        }
        for b in p["bad"].as_array().into_iter().flatten() {
            problems.push(b.to_string());
        }
        match &p["errors"] {
            Value::Array(list) if list.is_empty() => {}
            Value::Null => problems.push("the page's script (app.js) did not run".into()),
            other => problems.push(format!("page errors {other}")),
        }
        let sid = self.c.session_id().await?.ok_or("no session id")?;
        let log: Value = self
            .http
            .post(format!("{}/session/{sid}/se/log", self.driver))
            .json(&json!({"type": "browser"}))
            .send()
            .await?
            .json()
            .await?;
        for entry in log["value"].as_array().into_iter().flatten() {
            let refused = entry["message"]
                .as_str()
                .is_some_and(|m| m.contains("the server responded with a status of 4"));
            if entry["level"] == json!("SEVERE") && !(self.error_page && refused) {
                problems.push(format!("browser log: {}", entry["message"]));
            }
        }
        let text = p["text"].as_str().unwrap_or("");
        for needle in shows {
            if !text.contains(needle) {
                problems.push(format!("does not show {needle:?} as text in {text:?}"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!("{what}: {problems:#?}").into())
        }
    }

    /// Opens `path`, which answers with an error page, and checks it.
    async fn visit_error(&mut self, path: &str) -> Res<()> {
        self.error_page = true;
        let result = self.visit(path, &[]).await;
        self.error_page = false;
        result
    }

    async fn login(&mut self, user: &str, password: &str) -> Res<()> {
        self.c.delete_all_cookies().await?;
        // A `javascript:` URL as where to go next must not be followed.
        self.visit(&format!("/login?next={}", enc(JS_ID)), &[])
            .await?;
        let c = self.c;
        c.find(Locator::Css("input[name=user]"))
            .await?
            .send_keys(user)
            .await?;
        c.find(Locator::Css("input[name=password]"))
            .await?
            .send_keys(password)
            .await?;
        c.find(Locator::Css("form button[type=submit]"))
            .await?
            .click()
            .await?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while c.current_url().await?.path() == "/login" {
            if Instant::now() > deadline {
                return Err(format!("{user} could not sign in").into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let url = c.current_url().await?;
        if !url.as_str().starts_with(&self.base) {
            return Err(format!("{user} was sent to {url} after signing in").into());
        }
        // The header shows the user's name, a payload too.
        self.check("after login", &["<img src=x onerror=window.__xss=12>"])
            .await
    }

    /// The browser's cookies as a `Cookie` header.
    async fn cookie_header(&self) -> Res<String> {
        Ok(self
            .c
            .get_all_cookies()
            .await?
            .iter()
            .map(|k| format!("{}={}", k.name(), k.value()))
            .collect::<Vec<_>>()
            .join("; "))
    }
}

/// An API call as `token`; fails unless it succeeds.
async fn api(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> Res<Value> {
    let r = http
        .request(method, format!("{base}/api/v1{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        return Err(format!("{path}: {status} {v}").into());
    }
    Ok(v)
}

async fn token(http: &reqwest::Client, base: &str, user: &str, password: &str) -> Res<String> {
    let v: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"user": user, "password": password}))
        .send()
        .await?
        .json()
        .await?;
    Ok(v["token"].as_str().ok_or("no token")?.to_string())
}

async fn scenario(base: &str, c: &Client, driver: &Driver, http: &reqwest::Client) -> Res<()> {
    use reqwest::Method;
    let admin = token(http, base, "admin", "admin-pass-1").await?;
    let agent = token(http, base, "a-07", "agent-pass-07").await?;

    // The data, through the API.
    let batch = json!([
        conversation(ODD_ID, "a-07"),
        conversation(JS_ID, "a-07"),
        conversation("xss-agent", AGENT),
    ]);
    api(http, base, &admin, Method::POST, "/conversations", batch).await?;
    let review = json!({
        "decisions": [{"key": "auto:0", "verdict": "confirm", "comment": PAYLOAD}],
        "comment": PAYLOAD,
    });
    for id in [ODD_ID, JS_ID] {
        let path = format!("/conversations/{}/review", enc(id));
        api(http, base, &admin, Method::PUT, &path, review.clone()).await?;
    }
    let appeal = api(
        http,
        base,
        &agent,
        Method::POST,
        &format!("/conversations/{}/appeals", enc(ODD_ID)),
        json!({"finding": "auto:1", "reason": PAYLOAD}),
    )
    .await?;
    let appeal_id = appeal["id"].as_i64().ok_or("no appeal id")?;
    // The review queue lists the unreviewed conversation.
    api(
        http,
        base,
        &admin,
        Method::POST,
        "/review-queue",
        json!({"period": "2026-03", "rate": 1.0}),
    )
    .await?;
    let complaint = json!({
        "id": "",
        "conversation_id": ODD_ID,
        "customer": {"name": PAYLOAD, "phone": "13812345678"},
        "channel": "phone",
        "category": PAYLOAD,
        "description": PAYLOAD,
        "special": false
    });
    let complaint = api(http, base, &admin, Method::POST, "/complaints", complaint).await?;
    let complaint_id = complaint["complaint"]["id"]
        .as_str()
        .ok_or("no complaint id")?
        .to_string();

    let feedback = json!({
        "source": "conversation_turn", "conversation_id": ODD_ID, "turn_index": 1,
        "category": "其他", "customer_id": PAYLOAD
    });
    let feedback = api(http, base, &admin, Method::POST, "/feedback", feedback).await?;
    let feedback_id = feedback["feedback"]["id"]
        .as_str()
        .ok_or("no feedback id")?
        .to_string();
    api(
        http,
        base,
        &admin,
        Method::POST,
        &format!("/feedback/{}/commands", enc(&feedback_id)),
        json!({"command": {"type": "assign", "department": PAYLOAD, "owner_id": AGENT}}),
    )
    .await?;
    let manual = json!({"category": "其他", "content": format!("快递{PAYLOAD}太慢")});
    api(http, base, &admin, Method::POST, "/feedback", manual).await?;

    let mut b = Browser {
        c,
        http: http.clone(),
        driver: driver.url.clone(),
        base: base.to_string(),
        pages: 0,
        error_page: false,
    };
    let script = "<script>window.__xss=1;document.title='XSS'</script>";
    let img = "<img src=x onerror=\"window.__xss=2;document.title='XSS'\">";

    b.login("admin", "admin-pass-1").await?;
    for (path, shows) in [
        ("/?period=2026-03".to_string(), vec![]),
        (
            "/conversations?period=2026-03".to_string(),
            vec![ODD_ID, JS_ID, AGENT],
        ),
        (
            format!("/conversations/{}", enc(ODD_ID)),
            vec![ODD_ID, script, img, "javascript:window.__xss=5"],
        ),
        (
            format!("/conversations/{}", enc(JS_ID)),
            vec![JS_ID, script],
        ),
        ("/conversations/xss-agent".to_string(), vec![AGENT, script]),
        ("/review".to_string(), vec!["xss-agent"]),
        ("/appeals".to_string(), vec![ODD_ID, script]),
        (format!("/appeals/{appeal_id}"), vec![ODD_ID, script]),
        (
            "/agents?period=2026-03".to_string(),
            vec![AGENT, "window.__xss=1"],
        ),
        (
            format!("/agents/{}?period=2026-03", enc(AGENT)),
            vec![AGENT],
        ),
        (
            "/agents/a-07?period=2026-03".to_string(),
            vec!["window.__xss=1"],
        ),
        ("/complaints".to_string(), vec![script]),
        (
            format!("/complaints/{}", enc(&complaint_id)),
            vec![script, img],
        ),
        // Reflected: payloads in filters and search come back in inputs.
        (
            format!(
                "/conversations?q={}&agent={}&rule={}",
                enc(PAYLOAD),
                enc(PAYLOAD),
                enc(PAYLOAD)
            ),
            vec![],
        ),
        (format!("/complaints?q={}", enc(PAYLOAD)), vec![]),
        ("/feedback".to_string(), vec![script, AGENT]),
        (
            format!("/feedback/{}", enc(&feedback_id)),
            vec![script, img, AGENT],
        ),
        (
            format!("/feedback?department={}", enc(PAYLOAD)),
            vec![script],
        ),
        ("/feedback/themes?period=2026-03".to_string(), vec![]),
        ("/packs".to_string(), vec![]),
        ("/admin".to_string(), vec![]),
    ] {
        b.visit(&path, &shows).await?;
    }

    // Error pages that may repeat what was asked for.
    for path in [
        format!("/agents?period={}", enc(PAYLOAD)),
        format!("/complaints?state={}", enc(PAYLOAD)),
        format!("/conversations/{}", enc(PAYLOAD)),
        format!("/complaints/{}", enc(PAYLOAD)),
        format!("/feedback/{}", enc(PAYLOAD)),
        format!("/feedback/themes?period={}", enc(PAYLOAD)),
        format!("/no-such-page/{}", enc(PAYLOAD)),
    ] {
        b.visit_error(&path).await?;
    }

    // The pack editor: a pack whose message is a payload, tried on a
    // conversation, then a pack with a payload where TOML breaks.
    b.visit("/packs/editor", &[]).await?;
    let replaced = c
        .execute(
            "const t = document.getElementById('source'); const before = t.value; \
             t.value = t.value.replace('使用了服务禁语「{text}」', arguments[0]); \
             return t.value !== before;",
            vec![json!(format!("使用了服务禁语「{{text}}」{PACK_PAYLOAD}"))],
        )
        .await?;
    if replaced != json!(true) {
        return Err("the pack editor's source has no 服务禁语 message".into());
    }
    c.find(Locator::Css("input[name=conversation_id]"))
        .await?
        .send_keys(ODD_ID)
        .await?;
    c.find(Locator::Css("button[value=try]"))
        .await?
        .click()
        .await?;
    wait_for(c, "#trial").await?;
    b.check("pack trial", &[PACK_PAYLOAD]).await?;
    c.execute(
        "const t = document.getElementById('source'); t.value = t.value + arguments[0];",
        vec![json!(format!("\n{PACK_PAYLOAD} = \"{PACK_PAYLOAD}\n"))],
    )
    .await?;
    c.find(Locator::Css("button[value=validate]"))
        .await?
        .click()
        .await?;
    wait_for(c, "#pack-issues").await?;
    b.check("pack issues", &["<script>window.__xss=6</script>"])
        .await?;

    // The agent's own view.
    b.login("a-07", "agent-pass-07").await?;
    for (path, shows) in [
        ("/?period=2026-03".to_string(), vec![]),
        ("/conversations?period=2026-03".to_string(), vec![ODD_ID]),
        (format!("/conversations/{}", enc(ODD_ID)), vec![script, img]),
        ("/appeals".to_string(), vec![ODD_ID]),
        ("/agents/a-07?period=2026-03".to_string(), vec![]),
    ] {
        b.visit(&path, &shows).await?;
    }

    // Every dashboard page sends a strict CSP (no inline script).
    b.login("admin", "admin-pass-1").await?;
    let cookies = b.cookie_header().await?;
    for path in [
        "/",
        "/conversations",
        "/complaints",
        "/packs/editor",
        "/login",
    ] {
        let r = http
            .get(format!("{base}{path}"))
            .header("cookie", &cookies)
            .send()
            .await?;
        let csp = r
            .headers()
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        if !r.status().is_success()
            || !csp.contains("script-src 'self'")
            || csp.contains("unsafe-inline")
            || csp.contains("unsafe-eval")
        {
            return Err(format!("{path}: {} with CSP {csp:?}", r.status()).into());
        }
    }
    eprintln!("xss test: {} pages checked", b.pages);
    Ok(())
}

async fn wait_for(c: &Client, css: &str) -> Res<()> {
    c.wait()
        .at_most(Duration::from_secs(10))
        .every(Duration::from_millis(50))
        .for_element(Locator::Css(css))
        .await
        .map_err(|e| format!("waiting for `{css}`: {e}"))?;
    Ok(())
}

async fn run(base: &str, driver: &Driver, http: &reqwest::Client) -> Res<()> {
    let c = driver.session().await?;
    let result = scenario(base, &c, driver, http).await;
    let _ = c.close().await;
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_payloads_never_run() {
    if !webdriver::available("the XSS test") {
        return;
    }
    // User names are payloads too (the header shows them).
    let server = common::Server::start(TestDb::sqlite("xss"), USERS, |id| {
        format!("{id} <img src=x onerror=window.__xss=12>")
    })
    .await;
    let http = reqwest::Client::new();
    let driver = Driver::start(&http).await.expect("chromedriver");
    let outcome = run(&server.base, &driver, &http).await;
    drop(driver);
    if let Err(e) = outcome {
        panic!("XSS test failed: {e}");
    }
}
