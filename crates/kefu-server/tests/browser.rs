//! The dashboard in a real headless Chromium, driven through chromedriver
//! (WebDriver, with fantoccini): every role signs in and opens every page of
//! its navigation; a failing conversation shows its finding highlighted; a
//! complaint is filed, resolved and surveyed; languages switch; an admin
//! adds and deactivates a user. Every page visited must log no browser
//! error (the script's `window.__kefuErrors` capture and chromedriver's
//! browser log, which also sees failed resources and CSP violations), and
//! every same-site link on it must answer below 400.
//!
//! Set `KEFU_BROWSER_SCREENSHOTS=<dir>` to keep a PNG of every page checked
//! (and of a few at tablet size).
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian packages
//! `chromium`, `chromium-driver`; `.ci/run` installs them). Without them the
//! test prints a notice and passes.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use kefu_service::auth::Role;
use kefu_store::testing::TestDb;

mod common;
mod webdriver;
use serde_json::{json, Value};
use webdriver::{text_of, wait_css, wait_url, Driver, Res};

const FIXTURES: &str = include_str!("../../kefu-engine/tests/golden/conversations.jsonl");

/// Users of every role: (id, role, password).
const USERS: &[(&str, Role, &str)] = &[
    ("admin", Role::Admin, "admin-pass-1"),
    ("boss", Role::Supervisor, "boss-pass-1"),
    ("qa", Role::Inspector, "inspector-pass-1"),
    ("a-90", Role::Agent, "agent-pass-90"),
    // Last: the scenario goes on signed in as this agent.
    ("a-07", Role::Agent, "agent-pass-07"),
];

/// A month of one agent (a-90, 2026-03): 38 clean calls (a golden
/// conversation that scores 100) and 3 that fail with three taboo phrases
/// (70 points). Error rate 3/41 = 7.3 % gives three stars; one accepted
/// appeal makes one pass (80) and 2/41 = 4.9 % gives four.
fn rated_month() -> Res<Vec<Value>> {
    let template: Value = FIXTURES
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str::<Value>)
        .find(|c| c.as_ref().is_ok_and(|c| c["id"] == "g-001"))
        .ok_or("g-001 missing")??;
    let mut out = Vec::new();
    for i in 0..41 {
        let mut c = template.clone();
        c["agent_id"] = json!("a-90");
        c["agent_name"] = json!("赵敏");
        if i < 3 {
            c["id"] = json!(format!("r-fail-{i}"));
            c["turns"][4]["text"] = json!("这个我不知道，不清楚，也不明白。");
        } else {
            c["id"] = json!(format!("r-ok-{i:02}"));
        }
        out.push(c);
    }
    Ok(out)
}

/// A failing conversation: 不知道 (and two more forbidden phrases) in turn 3.
fn failing(id: &str, agent: &str) -> Value {
    json!({
        "id": id, "channel": "phone", "agent_id": agent, "agent_name": "李娜",
        "customer_name": "王芳", "started_at": "2026-03-18T10:00:00+08:00", "ended_by": "customer",
        "turns": [
            {"role": "agent", "text": "您好，星联通信，请问有什么可以帮您？", "start_ms": 0, "end_ms": 4000},
            {"role": "customer", "text": "我的话费怎么多扣了二十块？", "start_ms": 4500, "end_ms": 8000},
            {"role": "agent", "text": "这个我不知道。不关我的事，爱找谁找谁去。", "start_ms": 19500, "end_ms": 24000},
            {"role": "customer", "text": "你这是什么态度！", "start_ms": 24500, "end_ms": 30000},
            {"role": "agent", "text": "好的。", "start_ms": 29000, "end_ms": 31000}
        ]
    })
}

/// An id with every character that breaks an unescaped URL: `#` (cuts
/// the URL), `?`, `/`, `%`, a space and Chinese.
const ODD_ID: &str = "taobao-chat#3 a/b?c=1%25 客服 中文";

struct App {
    base: String,
    _server: common::Server,
}

async fn start_app() -> App {
    let server =
        common::Server::start(TestDb::sqlite("browser"), USERS, |id| format!("{id} 名")).await;
    App {
        base: server.base.clone(),
        _server: server,
    }
}

/// What the test checks on every page, and the links already checked.
struct Checker {
    http: reqwest::Client,
    driver: String,
    base: String,
    checked: HashSet<String>,
    pages: usize,
}

impl Checker {
    /// Errors the page recorded (script errors, failed resources, CSP) and
    /// the severe entries of the browser log since the last call.
    async fn errors(&self, c: &Client) -> Res<Vec<String>> {
        webdriver::page_errors(&self.http, &self.driver, c).await
    }

    /// Fails on browser errors, then checks every link of the page that
    /// stays on the site (with the browser's cookies).
    async fn check_page(&mut self, c: &Client, what: &str) -> Res<()> {
        self.pages += 1;
        if let Some(dir) = std::env::var_os("KEFU_BROWSER_SCREENSHOTS") {
            let name: String = what
                .chars()
                .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '_' })
                .collect();
            let png = c.screenshot().await?;
            std::fs::write(
                Path::new(&dir).join(format!("{:03}-{name}.png", self.pages)),
                png,
            )?;
        }
        let errors = self.errors(c).await?;
        if !errors.is_empty() {
            return Err(format!(
                "{what} ({}): browser errors: {errors:#?}",
                c.current_url().await?
            )
            .into());
        }
        let links = c
            .execute(
                "return Array.from(document.querySelectorAll('a[href]')).map(a => a.href);",
                vec![],
            )
            .await?;
        let cookies: Vec<String> = c
            .get_all_cookies()
            .await?
            .iter()
            .map(|k| format!("{}={}", k.name(), k.value()))
            .collect();
        let cookie_header = cookies.join("; ");
        let mut todo = BTreeSet::new();
        for link in links.as_array().into_iter().flatten() {
            let Some(href) = link.as_str() else { continue };
            let href = href.split('#').next().unwrap_or("");
            if href.starts_with(&self.base) && self.checked.insert(href.to_string()) {
                todo.insert(href.to_string());
            }
        }
        for href in todo {
            let r = self
                .http
                .get(&href)
                .header("cookie", &cookie_header)
                .send()
                .await?;
            if r.status().as_u16() >= 400 {
                return Err(format!("{what}: broken link {href}: {}", r.status()).into());
            }
        }
        Ok(())
    }

    /// Opens `path` and checks it.
    async fn visit(&mut self, c: &Client, path: &str) -> Res<()> {
        c.goto(&format!("{}{path}", self.base)).await?;
        self.check_page(c, path).await
    }
}

/// Waits until the element `css` (of the page loaded after a click) shows
/// `needle`.
async fn wait_text(c: &Client, css: &str, needle: &str) -> Res<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            if e.text().await.is_ok_and(|t| t.contains(needle)) {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err(format!("`{css}` never showed {needle:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn login(c: &Client, k: &mut Checker, user: &str, password: &str) -> Res<()> {
    c.delete_all_cookies().await?;
    k.visit(c, "/login").await?;
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
    wait_url(c, |u| !u.contains("/login")).await?;
    let who = text_of(c, ".who").await?;
    if !who.contains(&format!("{user} 名")) {
        return Err(format!("{user}: header shows {who:?}").into());
    }
    k.check_page(c, "after login").await
}

/// The stars of `agent` on the leaderboard of March 2026.
async fn stars_of(c: &Client, k: &mut Checker, agent: &str) -> Res<String> {
    k.visit(c, "/agents?period=2026-03").await?;
    let cell = c
        .find(Locator::XPath(&format!(
            "//table[@id='leaderboard']//tr[.//code[text()='{agent}']]/td[@data-stars]"
        )))
        .await?;
    Ok(cell.attr("data-stars").await?.unwrap_or_default())
}

/// An inspector builds the queue and confirms a finding; the agent appeals
/// another; a supervisor accepts it; the agent's stars go from 3 to 4.
async fn review_and_appeal(c: &Client, k: &mut Checker) -> Res<()> {
    login(c, k, "boss", "boss-pass-1").await?;
    let before = stars_of(c, k, "a-90").await?;
    if before != "3" {
        return Err(format!("a-90 starts with {before:?} stars, expected 3").into());
    }
    k.visit(c, "/agents/a-90?period=2026-03").await?;
    wait_text(c, "#rating", "差错率").await?;

    login(c, k, "qa", "inspector-pass-1").await?;
    k.visit(c, "/review").await?;
    c.find(Locator::Css("input[name=period]"))
        .await?
        .clear()
        .await?;
    c.find(Locator::Css("input[name=period]"))
        .await?
        .send_keys("2026-03")
        .await?;
    c.find(Locator::Css("#build-queue")).await?.click().await?;
    wait_css(c, "#review-queue").await?;
    k.check_page(c, "queue built").await?;
    let queued = text_of(c, "#review-queue").await?;
    if !queued.contains("r-fail-0") {
        return Err(format!("r-fail-0 is not queued: {queued}").into());
    }
    k.visit(c, "/conversations/r-fail-0").await?;
    c.find(Locator::Css("input[name=verdict_auto_0][value=confirm]"))
        .await?
        .click()
        .await?;
    c.find(Locator::Css("input[name=remark]"))
        .await?
        .send_keys("录音核实属实")
        .await?;
    c.find(Locator::Css("#save-review")).await?.click().await?;
    wait_url(c, |u| u.contains("done=reviewed")).await?;
    wait_text(c, "#review-findings", "已确认").await?;
    k.check_page(c, "reviewed").await?;

    login(c, k, "a-90", "agent-pass-90").await?;
    k.visit(c, "/conversations/r-fail-1").await?;
    c.find(Locator::Css("details.appeal-form summary"))
        .await?
        .click()
        .await?;
    c.find(Locator::Css("details.appeal-form textarea[name=reason]"))
        .await?
        .send_keys("第三句是复述客户的话")
        .await?;
    c.find(Locator::Css("details.appeal-form button[type=submit]"))
        .await?
        .click()
        .await?;
    wait_url(c, |u| u.contains("done=appealed")).await?;
    wait_text(c, "#review-findings", "待裁决").await?;
    k.check_page(c, "appealed").await?;
    k.visit(c, "/appeals").await?;
    wait_text(c, ".appeal-list", "r-fail-1").await?;
    // The appeal names the finding by rule, turn and words, not `auto:N`.
    let listed = text_of(c, ".appeal-list").await?;
    if listed.contains("auto:") || !listed.contains("«") {
        return Err(format!("appeal list names the finding as {listed:?}").into());
    }

    login(c, k, "boss", "boss-pass-1").await?;
    k.visit(c, "/appeals").await?;
    c.find(Locator::Css(".appeal-list form.decide input[name=comment]"))
        .await?
        .send_keys("核实为复述，申诉成立")
        .await?;
    c.find(Locator::Css(
        ".appeal-list form.decide button[value=accept]",
    ))
    .await?
    .click()
    .await?;
    wait_url(c, |u| u.contains("done=decided")).await?;
    wait_text(c, "#appeal-state", "申诉成立").await?;
    k.check_page(c, "appeal decided").await?;
    let after = stars_of(c, k, "a-90").await?;
    if after != "4" {
        return Err(format!("after the appeal a-90 has {after:?} stars, expected 4").into());
    }
    Ok(())
}

/// A conversation whose id holds `# ? / % 空格 中文` opens from the list
/// and takes a review: its links and form actions are percent-encoded (an
/// unescaped `#` sent the review POST to `/conversations/taobao-chat`).
async fn odd_id_review(c: &Client, k: &mut Checker) -> Res<()> {
    login(c, k, "qa", "inspector-pass-1").await?;
    k.visit(c, "/conversations?agent=a-66").await?;
    c.find(Locator::LinkText(ODD_ID)).await?.click().await?;
    wait_text(c, "h1", "taobao-chat#3").await?;
    k.check_page(c, "odd id").await?;
    let action = c
        .find(Locator::Css("#review-form"))
        .await?
        .attr("action")
        .await?
        .unwrap_or_default();
    let expected = "/conversations/taobao-chat%233%20a%2Fb%3Fc%3D1%2525%20%E5%AE%A2%E6%9C%8D%20%E4%B8%AD%E6%96%87/review";
    if action != expected {
        return Err(format!("review form posts to {action:?}, expected {expected:?}").into());
    }
    // Reviewers read the rule's name, the turn and the quoted words, not
    // the finding's key.
    let form = text_of(c, "#review-form").await?;
    if form.contains("auto:") || !form.contains("第 3 句 · «不知道»") {
        return Err(format!("review form names the findings as {form:?}").into());
    }
    c.find(Locator::Css("input[name=verdict_auto_0][value=overturn]"))
        .await?
        .click()
        .await?;
    c.find(Locator::Css("input[name=comment_auto_0]"))
        .await?
        .send_keys("开头已报工号")
        .await?;
    c.find(Locator::Css("#save-review")).await?.click().await?;
    wait_url(c, |u| u.contains("done=reviewed")).await?;
    wait_text(c, "#review-findings", "已撤销").await?;
    // An overturned finding says so instead of deducting −0.
    let first = text_of(c, "#finding-1 .finding-head").await?;
    if !first.contains("已撤销") || first.contains('−') {
        return Err(format!("overturned finding shows {first:?}").into());
    }
    k.check_page(c, "odd id reviewed").await?;
    Ok(())
}

/// Posts conversations to the API as the admin.
async fn api_import(http: &reqwest::Client, base: &str, batch: &[Value]) -> Res<()> {
    let token: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"user": "admin", "password": "admin-pass-1"}))
        .send()
        .await?
        .json()
        .await?;
    let token = token["token"].as_str().ok_or("no token")?.to_string();
    let r = http
        .post(format!("{base}/api/v1/conversations"))
        .bearer_auth(&token)
        .json(&batch)
        .send()
        .await?;
    if !r.status().is_success() {
        return Err(format!("import: {}", r.text().await?).into());
    }
    Ok(())
}

/// Information feedback: a customer's turn marked on the conversation
/// page, moved 新建 → 已分派 → 处理中 → 已答复 → 已告知客户 → 关闭 through
/// the forms of the record page; then the board and the themes page.
async fn feedback_flow(c: &Client, k: &mut Checker) -> Res<()> {
    k.visit(c, "/conversations/b-fail-1").await?;
    c.find(Locator::Css("#mark-feedback button[type=submit]"))
        .await?
        .click()
        .await?;
    wait_url(c, |u| u.contains("/feedback/FB-")).await?;
    k.check_page(c, "feedback recorded").await?;
    let state = text_of(c, "#feedback-state").await?;
    let content = text_of(c, "#feedback-content").await?;
    if state != "新建" || content != "我的话费怎么多扣了二十块？" {
        return Err(format!("new feedback: {state:?} {content:?}").into());
    }
    c.find(Locator::Css("#fb-assign input[name=department]"))
        .await?
        .send_keys("计费部")
        .await?;
    c.find(Locator::Css("#fb-assign input[name=owner_id]"))
        .await?
        .send_keys("boss")
        .await?;
    c.find(Locator::Css("#fb-assign button"))
        .await?
        .click()
        .await?;
    wait_text(c, "#feedback-state", "已分派").await?;
    k.check_page(c, "feedback assigned").await?;
    c.find(Locator::Css("#fb-start button"))
        .await?
        .click()
        .await?;
    wait_text(c, "#feedback-state", "处理中").await?;
    c.find(Locator::Css("#fb-respond textarea[name=response]"))
        .await?
        .send_keys("计费规则已修正，多扣的 20 元已退回")
        .await?;
    c.find(Locator::Css("#fb-respond button"))
        .await?
        .click()
        .await?;
    wait_text(c, "#feedback-state", "已答复").await?;
    wait_text(c, "#feedback-response", "多扣的 20 元已退回").await?;
    c.find(Locator::Css("#fb-tell_customer button"))
        .await?
        .click()
        .await?;
    wait_text(c, "#feedback-state", "已告知客户").await?;
    c.find(Locator::Css("#fb-close button"))
        .await?
        .click()
        .await?;
    wait_text(c, "#feedback-state", "关闭").await?;
    k.check_page(c, "feedback closed").await?;
    let history = text_of(c, "#feedback-history").await?;
    for step in [
        "记录",
        "新建 → 已分派",
        "已分派 → 处理中",
        "已答复 → 已告知客户",
        "已告知客户 → 关闭",
    ] {
        if !history.contains(step) {
            return Err(format!("feedback history lacks {step}: {history}").into());
        }
    }
    k.visit(c, "/feedback").await?;
    let board = text_of(c, "#feedback-board").await?;
    if !board.contains("计费部") {
        return Err(format!("board: {board}").into());
    }
    k.visit(c, "/feedback/themes?period=2026-03").await?;
    let themes = text_of(c, "#themes").await?;
    if !themes.contains('1') {
        return Err(format!("themes: {themes}").into());
    }
    wait_css(c, "#theme-1 .verbatims li a").await?;
    Ok(())
}

async fn run(app: &App, driver: &Driver, http: &reqwest::Client) -> Res<()> {
    let c = driver.session().await?;
    let result = scenario(app, &c, driver, http).await;
    let _ = c.close().await;
    result
}

async fn scenario(app: &App, c: &Client, driver: &Driver, http: &reqwest::Client) -> Res<()> {
    let mut k = Checker {
        http: http.clone(),
        driver: driver.url.clone(),
        base: app.base.clone(),
        checked: HashSet::new(),
        pages: 0,
    };

    // Conversations arrive through the API.
    let mut batch: Vec<Value> = FIXTURES
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(30)
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    batch.push(failing("b-fail-1", "a-07"));
    batch.push(failing(ODD_ID, "a-66"));
    batch.extend(rated_month()?);
    api_import(http, &app.base, &batch).await?;

    // Every role: sign in, every page of the navigation.
    for (user, _, password) in USERS {
        login(c, &mut k, user, password).await?;
        let nav = c
            .execute(
                "return Array.from(document.querySelectorAll('.main-nav a')).map(a => a.getAttribute('href'));",
                vec![],
            )
            .await?;
        let nav: Vec<String> = nav
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        let expected = match *user {
            "admin" => 12,
            "boss" | "qa" => 11,
            _ => 8,
        };
        if nav.len() != expected {
            return Err(format!("{user} sees {} sections: {nav:?}", nav.len()).into());
        }
        for path in &nav {
            k.visit(c, path).await?;
            let current = c
                .find(Locator::Css(".main-nav a[aria-current=page]"))
                .await?
                .attr("href")
                .await?;
            if current.as_deref() != Some(path.as_str()) {
                return Err(format!("{path}: current section is {current:?}").into());
            }
        }
    }

    // The agent (still signed in) sees the failing conversation, highlighted.
    k.visit(c, "/conversations/b-fail-1").await?;
    let marks = c.find_all(Locator::Css("mark.finding")).await?;
    let mut texts = Vec::new();
    for m in &marks {
        texts.push(m.text().await?);
    }
    if !texts.iter().any(|t| t == "不知道") {
        return Err(format!("no <mark> over 不知道: {texts:?}").into());
    }
    // Following the finding's link lands on its highlight.
    let link = c
        .find(Locator::XPath(
            "//a[contains(@class,'finding-link') and text()='服务禁语']",
        ))
        .await?;
    let href = link
        .attr("href")
        .await?
        .ok_or("finding link without href")?;
    link.click().await?;
    let url = wait_url(c, |u| u.ends_with(&href)).await?;
    let target = c
        .execute(
            "var t = document.querySelector(':target'); return t && t.nextElementSibling ? t.nextElementSibling.textContent : null;",
            vec![],
        )
        .await?;
    if target != json!("不知道") {
        return Err(format!("{url}: the link's target is {target}").into());
    }
    k.check_page(c, "finding link").await?;

    // English and back.
    c.find(Locator::Css(".langs a[lang=en]"))
        .await?
        .click()
        .await?;
    wait_css(c, "html[lang=en]").await?;
    let nav = text_of(c, ".main-nav").await?;
    if !nav.contains("Conversations") || nav.contains("会话") {
        return Err(format!("English navigation: {nav:?}").into());
    }
    k.check_page(c, "English").await?;
    c.find(Locator::Css(".langs a[lang=zh]"))
        .await?
        .click()
        .await?;
    wait_css(c, "html[lang=zh-CN]").await?;

    review_and_appeal(c, &mut k).await?;
    odd_id_review(c, &mut k).await?;

    // A supervisor files a complaint, resolves it, records the survey and
    // the revisit it calls for.
    login(c, &mut k, "boss", "boss-pass-1").await?;
    k.visit(c, "/complaints/new?conversation_id=b-fail-1")
        .await?;
    c.find(Locator::Css("input[name=customer_name]"))
        .await?
        .send_keys("王芳")
        .await?;
    c.find(Locator::Css("input[name=customer_phone]"))
        .await?
        .send_keys("13800138000")
        .await?;
    c.find(Locator::Css("input[name=category]"))
        .await?
        .send_keys("服务态度")
        .await?;
    c.find(Locator::Css("textarea[name=description]"))
        .await?
        .send_keys("坐席说“不知道”，让客户自己去营业厅")
        .await?;
    c.find(Locator::Css("#new-complaint button[type=submit]"))
        .await?
        .click()
        .await?;
    let detail = wait_url(c, |u| u.contains("/complaints/CMP-")).await?;
    k.check_page(c, "complaint created").await?;
    let state = text_of(c, "#complaint-state").await?;
    if state != "受理" {
        return Err(format!("new complaint in {state:?}").into());
    }
    // The default assignee 本人 assigns the supervisor who filed it, and
    // the history tells it in words (no JSON values, no ids of rows).
    let facts = text_of(c, "#complaint-facts").await?;
    if !facts.contains("坐席 boss") {
        return Err(format!("the default assignee did not assign boss: {facts}").into());
    }
    let created = text_of(c, "#history").await?;
    if !created.contains("服务态度 · 中 · 坐席 boss · 关联会话 b-fail-1") {
        return Err(format!("creation reads {created:?}").into());
    }
    c.find(Locator::Css("form[data-action=start_handling] button"))
        .await?
        .click()
        .await?;
    wait_text(c, "#complaint-state", "处理中").await?;
    k.check_page(c, "handling").await?;
    c.find(Locator::Css("details[data-action=resolve] summary"))
        .await?
        .click()
        .await?;
    c.find(Locator::Css(
        "details[data-action=resolve] textarea[name=summary]",
    ))
    .await?
    .send_keys("已致歉并退还多扣的 20 元")
    .await?;
    c.find(Locator::Css(
        "details[data-action=resolve] button[type=submit]",
    ))
    .await?
    .click()
    .await?;
    wait_css(c, "#resolved-at").await?;
    k.check_page(c, "resolved").await?;
    c.find(Locator::Css("#survey-form input[name=result_score]"))
        .await?
        .send_keys("3")
        .await?;
    c.find(Locator::Css("#survey-form input[name=attitude_score]"))
        .await?
        .send_keys("9")
        .await?;
    c.find(Locator::Css("#survey-form input[name=comment]"))
        .await?
        .send_keys("钱退了，但太慢")
        .await?;
    c.find(Locator::Css("#survey-form button[type=submit]"))
        .await?
        .click()
        .await?;
    let survey = wait_css(c, "#survey").await?.text().await?;
    if !survey.contains("3 (不满意)") || !survey.contains("9 (满意)") {
        return Err(format!("survey shows {survey:?}").into());
    }
    k.check_page(c, "surveyed").await?;
    let history = text_of(c, "#history").await?;
    for event in ["创建", "开始处理", "办结", "记录满意度"] {
        if !history.contains(event) {
            return Err(format!("history lacks {event}: {history}").into());
        }
    }
    c.find(Locator::Css(".revisits form button[type=submit]"))
        .await?
        .click()
        .await?;
    wait_text(c, "#history", "回访完成").await?;
    k.check_page(c, "revisit").await?;
    if !detail.contains("/complaints/CMP-") {
        return Err(detail.into());
    }

    // The supervisor marks the customer's turn as feedback and moves it
    // through every state; the board and the themes page show it.
    feedback_flow(c, &mut k).await?;

    // The pack editor points at a broken line.
    login(c, &mut k, "qa", "inspector-pass-1").await?;
    k.visit(c, "/packs/editor").await?;
    let source = c.find(Locator::Css("#source")).await?;
    source.clear().await?;
    source.send_keys("[pack]\nid = \"x\"\nname = 1\n").await?;
    c.find(Locator::Css("button[value=validate]"))
        .await?
        .click()
        .await?;
    let goto = wait_css(c, ".goto-line").await?;
    goto.click().await?;
    let selected = c
        .execute(
            "var t = document.getElementById('source'); return t.value.substring(t.selectionStart, t.selectionEnd);",
            vec![],
        )
        .await?;
    if selected.as_str().is_none_or(str::is_empty) {
        return Err(format!("goto-line selected {selected}").into());
    }
    k.check_page(c, "pack issues").await?;
    // Inspectors may not activate packs; a supervisor saves an edited
    // version, which becomes the active one.
    if c.find(Locator::Css("#save-pack")).await.is_ok() {
        return Err("an inspector is offered to activate a pack".into());
    }
    login(c, &mut k, "boss", "boss-pass-1").await?;
    k.visit(c, "/packs/editor").await?;
    c.execute(
        "var t = document.getElementById('source'); t.value = t.value.replace(/^version = \".*\"$/m, 'version = \"2026.12.9\"');",
        vec![],
    )
    .await?;
    c.find(Locator::Css("#save-pack")).await?.click().await?;
    wait_url(c, |u| u.contains("/packs?done=saved")).await?;
    wait_text(c, ".summary", "2026.12.9").await?;
    k.check_page(c, "pack activated").await?;

    // An admin opens the settings, saves the KPI settings with a stricter
    // answer limit in its typed field, and a refused value is shown next to
    // its field with the reason.
    login(c, &mut k, "admin", "admin-pass-1").await?;
    k.visit(c, "/admin").await?;
    c.find(Locator::Css("#edit-settings"))
        .await?
        .click()
        .await?;
    wait_css(c, "#quality input[name=answer_within_s]").await?;
    k.check_page(c, "settings").await?;
    c.execute(
        "document.querySelector('#quality input[name=answer_within_s]').value = '20';",
        vec![],
    )
    .await?;
    c.find(Locator::Css("#quality button[type=submit]"))
        .await?
        .click()
        .await?;
    wait_url(c, |u| u.contains("done=saved")).await?;
    let saved = c
        .execute(
            "return document.querySelector('#quality input[name=answer_within_s]').value;",
            vec![],
        )
        .await?;
    if saved.as_str() != Some("20") {
        return Err(format!("the answer limit was not saved: {saved}").into());
    }
    c.execute(
        "document.querySelector('#policy input[name=revisit_days]').value = '0';",
        vec![],
    )
    .await?;
    c.find(Locator::Css("#policy button[type=submit]"))
        .await?
        .click()
        .await?;
    wait_css(c, "#policy .field-error").await?;
    k.check_page(c, "settings refused").await?;

    // An admin adds a user and deactivates them (confirming the dialog).
    login(c, &mut k, "admin", "admin-pass-1").await?;
    k.visit(c, "/admin").await?;
    c.find(Locator::Css("#add-user input[name=id]"))
        .await?
        .send_keys("a-30")
        .await?;
    c.find(Locator::Css("#add-user input[name=display_name]"))
        .await?
        .send_keys("新坐席")
        .await?;
    c.find(Locator::Css("#add-user input[name=password]"))
        .await?
        .send_keys("new-pass-123")
        .await?;
    c.find(Locator::Css("#add-user button[type=submit]"))
        .await?
        .click()
        .await?;
    wait_css(c, "tr[data-user=a-30]").await?;
    k.check_page(c, "user added").await?;
    c.find(Locator::Css("tr[data-user=a-30] button"))
        .await?
        .click()
        .await?;
    c.accept_alert().await?;
    wait_url(c, |u| u.contains("done=user_deactivated")).await?;
    k.check_page(c, "user deactivated").await?;

    // Tablet width: the same pages must still work (and can be looked at).
    c.set_window_size(820, 1180).await?;
    for path in [
        "/conversations",
        "/conversations/b-fail-1",
        "/complaints",
        "/admin",
    ] {
        k.visit(c, path).await?;
    }

    eprintln!(
        "browser test: {} pages checked, {} links followed",
        k.pages,
        k.checked.len()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_a_real_browser() {
    if !webdriver::available("the browser test") {
        return;
    }
    let started = Instant::now();
    let app = start_app().await;
    let http = reqwest::Client::new();
    let driver = Driver::start(&http).await.expect("chromedriver");
    let outcome = run(&app, &driver, &http).await;
    drop(driver);
    if let Err(e) = outcome {
        panic!("browser test failed: {e}");
    }
    eprintln!("browser test took {:?}", started.elapsed());
}

/// The browser's cookies as a `Cookie` header, to fetch what a link
/// downloads the way the browser would.
async fn cookie_header(c: &Client) -> Res<String> {
    Ok(c.get_all_cookies()
        .await?
        .iter()
        .map(|k| format!("{}={}", k.name(), k.value()))
        .collect::<Vec<_>>()
        .join("; "))
}

/// Downloads what link `css` of the current page points at; checks its
/// `href` holds every part of `expect` and returns the body.
async fn download(c: &Client, k: &Checker, css: &str, expect: &[&str]) -> Res<Vec<u8>> {
    let href = c
        .find(Locator::Css(css))
        .await?
        .prop("href")
        .await?
        .ok_or_else(|| format!("`{css}` has no href"))?;
    for part in expect {
        if !href.contains(part) {
            return Err(format!("`{css}` links {href}, without {part}").into());
        }
    }
    let r = k
        .http
        .get(&href)
        .header("cookie", cookie_header(c).await?)
        .send()
        .await?;
    if !r.status().is_success() {
        return Err(format!("{href}: {}", r.status()).into());
    }
    Ok(r.bytes().await?.to_vec())
}

/// Issue 12's admin work in the browser: upload a file and read the
/// summary, upload a complaint list, export the filtered conversation list, export a report, run
/// and publish an assessment, re-inspect with progress, and administer a
/// user (reset the password, change the role, deactivate).
async fn admin_work(app: &App, c: &Client, driver: &Driver, http: &reqwest::Client) -> Res<()> {
    let mut k = Checker {
        http: http.clone(),
        driver: driver.url.clone(),
        base: app.base.clone(),
        checked: HashSet::new(),
        pages: 0,
    };
    api_import(http, &app.base, &rated_month()?).await?;
    login(c, &mut k, "admin", "admin-pass-1").await?;

    // Upload: from the list's import link, a JSON Lines file with a bad
    // line; the summary counts what was stored and names the line.
    k.visit(c, "/conversations").await?;
    c.find(Locator::Css("#open-import")).await?.click().await?;
    wait_css(c, "#upload-form").await?;
    k.check_page(c, "upload form").await?;
    let dir = std::env::temp_dir().join(format!("kefu-browser-upload-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("上传-day.jsonl");
    let lines = [
        failing("up-1", "a-07").to_string(),
        "{broken".to_string(),
        failing("up#2 聊天", "a-07").to_string(),
    ];
    std::fs::write(&file, lines.join("\n"))?;
    c.find(Locator::Css("#upload-form input[type=file]"))
        .await?
        .send_keys(&file.display().to_string())
        .await?;
    c.find(Locator::Css("#upload-form button[type=submit]"))
        .await?
        .click()
        .await?;
    wait_css(c, "#upload-summary").await?;
    let _ = std::fs::remove_dir_all(&dir);
    k.check_page(c, "upload summary").await?;
    let stored = text_of(c, "#upload-stored").await?;
    let errors = text_of(c, "#upload-errors").await?;
    if stored != "2" || !errors.contains('2') {
        return Err(format!("upload summary: stored {stored:?}, errors {errors:?}").into());
    }

    // Complaints from a file: the same form with contents 投诉; the summary
    // counts what was filed and names the bad line; the complaint is listed.
    k.visit(c, "/import").await?;
    c.find(Locator::Css(
        "#upload-form select[name=kind] option[value=complaints]",
    ))
    .await?
    .click()
    .await?;
    let dir = std::env::temp_dir().join(format!("kefu-browser-complaints-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("投诉登记.csv");
    std::fs::write(
        &file,
        "投诉编号,客户,渠道,类别,严重程度,内容,提交时间
         BR-C1,张伟,电话,计费,高,话费多扣二十元,2026-03-09 09:00
         BR-C2,李娜,在线,物流,中,快递未到,yesterday
",
    )?;
    c.find(Locator::Css("#upload-form input[type=file]"))
        .await?
        .send_keys(&file.display().to_string())
        .await?;
    c.find(Locator::Css("#upload-form button[type=submit]"))
        .await?
        .click()
        .await?;
    wait_css(c, "#upload-summary").await?;
    let _ = std::fs::remove_dir_all(&dir);
    k.check_page(c, "complaint upload summary").await?;
    let filed = text_of(c, "#upload-stored").await?;
    let errors = text_of(c, "#upload-errors").await?;
    if filed != "1" || !errors.contains('3') || !errors.contains("yesterday") {
        return Err(format!("complaint upload: filed {filed:?}, errors {errors:?}").into());
    }
    k.visit(c, "/complaints/BR-C1").await?;
    let page = text_of(c, "main").await?;
    if !page.contains("话费多扣二十元") {
        return Err(format!("the imported complaint reads {page:?}").into());
    }

    // Filtered export: the list's CSV link carries the filters.
    k.visit(c, "/conversations?agent=a-07&passed=0").await?;
    let csv = download(
        c,
        &k,
        "#export-csv",
        &["agent=a-07", "passed=0", "format=csv"],
    )
    .await?;
    let csv = String::from_utf8(csv)?;
    if !csv.contains("up-1") || csv.contains("r-ok-") {
        return Err(format!("filtered export holds {csv}").into());
    }
    let xlsx = download(c, &k, "#export-xlsx", &["agent=a-07", "format=xlsx"]).await?;
    if !xlsx.starts_with(b"PK") {
        return Err("the XLSX export is not a workbook".into());
    }

    // A period's report, from the agents page.
    k.visit(c, "/agents?period=2026-03").await?;
    let report = download(
        c,
        &k,
        "a[href*='table=agents']",
        &["period=2026-03", "format=csv"],
    )
    .await?;
    if !String::from_utf8(report)?.contains("a-90") {
        return Err("the agents report lacks a-90".into());
    }

    // Assessment: run March as a draft, then publish it (confirming).
    k.visit(c, "/assessments").await?;
    let period = c
        .find(Locator::Css("#run-assessment input[name=period]"))
        .await?;
    period.clear().await?;
    period.send_keys("2026-03").await?;
    c.find(Locator::Css("#run-assessment button[type=submit]"))
        .await?
        .click()
        .await?;
    wait_css(c, "#assessment-table").await?;
    wait_text(c, "#run-status", "草稿").await?;
    wait_text(c, "#assessment-table", "a-90").await?;
    k.check_page(c, "assessment draft").await?;
    c.find(Locator::Css("#publish-assessment button[type=submit]"))
        .await?
        .click()
        .await?;
    c.accept_alert().await?;
    wait_text(c, "#run-status", "已发布").await?;
    k.check_page(c, "assessment published").await?;

    // Re-inspect with the active pack: the button starts it, the page
    // shows its progress until it has finished.
    k.visit(c, "/packs").await?;
    c.find(Locator::Css("#reinspect-form button[type=submit]"))
        .await?
        .click()
        .await?;
    c.accept_alert().await?;
    wait_css(c, "#reinspect-progress").await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let running = c
            .find(Locator::Css(".reinspect-status"))
            .await?
            .attr("data-running")
            .await?;
        if running.as_deref() == Some("false") {
            break;
        }
        if Instant::now() > deadline {
            return Err("the re-inspection never finished".into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        k.visit(c, "/packs").await?;
    }
    let progress = text_of(c, "#reinspect-progress").await?;
    if progress.trim().is_empty() {
        return Err("no progress shown".into());
    }
    k.check_page(c, "re-inspected").await?;

    // A user: new password, new role, deactivated.
    k.visit(c, "/admin/users/qa").await?;
    c.find(Locator::Css("#reset-password input[name=password]"))
        .await?
        .send_keys("qa-new-pass-2026")
        .await?;
    c.find(Locator::Css("#reset-password button[type=submit]"))
        .await?
        .click()
        .await?;
    wait_url(c, |u| u.contains("done=")).await?;
    k.check_page(c, "password reset").await?;
    c.find(Locator::Css(
        "#change-role select[name=role] option[value=supervisor]",
    ))
    .await?
    .click()
    .await?;
    c.find(Locator::Css("#change-role button[type=submit]"))
        .await?
        .click()
        .await?;
    wait_url(c, |u| u.contains("done=role")).await?;
    k.check_page(c, "role changed").await?;
    login(c, &mut k, "qa", "qa-new-pass-2026").await?;
    let nav = text_of(c, ".main-nav").await?;
    if !nav.contains("考核") && !nav.contains("坐席") {
        return Err(format!("qa as supervisor sees {nav:?}").into());
    }
    login(c, &mut k, "admin", "admin-pass-1").await?;
    k.visit(c, "/admin").await?;
    c.find(Locator::Css("tr[data-user=qa] button"))
        .await?
        .click()
        .await?;
    c.accept_alert().await?;
    wait_url(c, |u| u.contains("done=user_deactivated")).await?;
    k.check_page(c, "qa deactivated").await?;
    eprintln!("admin browser test: {} pages checked", k.pages);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_work_in_a_real_browser() {
    if !webdriver::available("the admin browser test") {
        return;
    }
    let server = common::Server::start(TestDb::sqlite("browser_admin"), USERS, |id| {
        format!("{id} 名")
    })
    .await;
    let app = App {
        base: server.base.clone(),
        _server: server,
    };
    let http = reqwest::Client::new();
    let driver = Driver::start(&http).await.expect("chromedriver");
    let c = driver.session().await.expect("session");
    let outcome = admin_work(&app, &c, &driver, &http).await;
    let _ = c.close().await;
    drop(driver);
    if let Err(e) = outcome {
        panic!("admin browser test failed: {e}");
    }
}
