//! Mystery customers (神秘客户) in a real headless Chromium (WebDriver,
//! fantoccini): a supervisor creates and activates a plan, an inspector
//! records a shop on the plan page (per-item verdicts, the linked call), a
//! supervisor returns it with a reason, the inspector re-shops it, another
//! supervisor approves the re-shop, the agreement report shows the mapped
//! items, and the agent finds only the approved result — never the plan.
//! Every page visited must log no browser error.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver`; without them the
//! test prints a notice and passes.

use fantoccini::Locator;
use kefu_service::auth::Role;
use kefu_store::testing::TestDb;
use serde_json::{json, Value};

mod common;
mod webdriver;
use webdriver::{text_of, wait_url, Browser, Driver, Res};

const USERS: &[(&str, Role, &str)] = &[
    ("boss", Role::Supervisor, "boss-pass-1"),
    ("boss2", Role::Supervisor, "boss-pass-2"),
    ("qa", Role::Inspector, "inspector-pass-1"),
    ("a-07", Role::Agent, "agent-pass-07"),
];

/// The id of the first shop waiting on the review page.
async fn first_in_review(b: &Browser) -> Res<String> {
    let id =
        b.c.find(Locator::Css("section.mystery-review"))
            .await?
            .attr("id")
            .await?
            .ok_or("no id")?;
    Ok(id.trim_start_matches("review-").to_string())
}

/// A call of a-07 that breaks opening, taboo and closing rules, and the
/// score sheet (through the API).
async fn seed(base: &str) -> Res<()> {
    let http = reqwest::Client::new();
    let login: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"user": "boss", "password": "boss-pass-1"}))
        .send()
        .await?
        .json()
        .await?;
    let token = login["token"].as_str().ok_or("no token")?;
    let now = chrono::Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).ok_or("tz")?)
        .to_rfc3339();
    let r = http
        .post(format!("{base}/api/v1/conversations"))
        .bearer_auth(token)
        .json(
            &json!([{"id": "bm-call", "channel": "phone", "agent_id": "a-07",
            "started_at": now,
            "turns": [{"role": "agent", "text": "说吧。"},
                      {"role": "customer", "text": "我想查一下我的订单到哪了。"},
                      {"role": "agent", "text": "不知道。"}]}]),
        )
        .send()
        .await?;
    if !r.status().is_success() {
        return Err(format!("import: {} {}", r.status(), r.text().await?).into());
    }
    let sheet = json!({"id": "phone-basic", "name": "电话服务暗访表", "sections": [
        {"title": "开场", "items": [{"id": "greet", "text": "使用规范开头语", "weight": 10, "rule": "opening"}]},
        {"title": "服务", "items": [
            {"id": "solve", "text": "准确解答客户问题", "weight": 40, "critical": true},
            {"id": "no_taboo", "text": "未使用服务禁语", "weight": 30, "rule": "forbidden"}]},
        {"title": "结束", "items": [{"id": "farewell", "text": "使用规范结束语", "weight": 20, "rule": "closing"}]}
    ]});
    let r = http
        .post(format!("{base}/api/v1/mystery/sheets"))
        .bearer_auth(token)
        .json(&sheet)
        .send()
        .await?;
    if !r.status().is_success() {
        return Err(format!("sheet: {} {}", r.status(), r.text().await?).into());
    }
    Ok(())
}

async fn flow(b: &Browser) -> Res<()> {
    // The supervisor creates and activates a plan.
    b.login("boss", "boss-pass-1").await?;
    b.visit("/mystery").await?;
    b.fill("#mystery-new-plan input[name=title]", "电话暗访")
        .await?;
    b.fill("#mystery-new-plan textarea[name=scenario]", "咨询订单物流")
        .await?;
    b.fill("#mystery-new-plan input[name=persona]", "老客户")
        .await?;
    b.fill(
        "#mystery-new-plan textarea[name=script]",
        "我的快递三天没动了",
    )
    .await?;
    b.fill("#mystery-new-plan input[name=target]", "a-07")
        .await?;
    b.click("#mystery-new-plan button[type=submit]").await?;
    let plan = wait_url(&b.c, |u| u.contains("/mystery/plans/MP-")).await?;
    b.clean("new plan").await?;
    let plan_path = plan
        .strip_prefix(&b.base)
        .ok_or("plan URL off the site")?
        .to_string();
    b.submit_saved("#plan-activate button").await?;
    b.shows("#plan-state", &["进行中"]).await?;

    // The shopper records a shop.
    b.login("qa", "inspector-pass-1").await?;
    b.visit(&plan_path).await?;
    b.fill("#mystery-record input[name=conversation_id]", "bm-call")
        .await?;
    b.fill("#mystery-record input[name=shopper_name]", "外部暗访员")
        .await?;
    b.click("#mystery-record input[name='v.no_taboo'][value=fail]")
        .await?;
    b.click("#mystery-record input[name='v.farewell'][value=fail]")
        .await?;
    b.submit_saved("#mystery-record button[type=submit]")
        .await?;
    b.shows(".mystery-shops", &["待复核", "50", "bm-call"])
        .await?;

    // The reviewer returns it.
    b.login("boss", "boss-pass-1").await?;
    b.visit("/mystery/review").await?;
    let first = first_in_review(b).await?;
    b.fill(
        &format!("#return-{first} input[name=reason]"),
        "开头语判断有误",
    )
    .await?;
    b.submit_saved(&format!("#return-{first} button[type=submit]"))
        .await?;
    b.visit(&plan_path).await?;
    b.shows(".mystery-shops", &["已退回", "开头语判断有误"])
        .await?;

    // The shopper re-shops it.
    b.login("qa", "inspector-pass-1").await?;
    b.visit(&plan_path).await?;
    b.click(&format!(
        "#mystery-record select[name=previous_id] option[value='{first}']"
    ))
    .await?;
    b.fill("#mystery-record input[name=conversation_id]", "bm-call")
        .await?;
    b.click("#mystery-record input[name='v.greet'][value=fail]")
        .await?;
    b.click("#mystery-record input[name='v.no_taboo'][value=fail]")
        .await?;
    b.click("#mystery-record input[name='v.farewell'][value=fail]")
        .await?;
    b.submit_saved("#mystery-record button[type=submit]")
        .await?;

    // Another supervisor approves the re-shop.
    b.login("boss2", "boss-pass-2").await?;
    b.visit("/mystery/review").await?;
    let second = first_in_review(b).await?;
    if second == first {
        return Err("the returned shop is still in the queue".into());
    }
    b.submit_saved(&format!("#approve-{second} button[type=submit]"))
        .await?;

    // The agreement report: the three mapped items, all agreeing.
    b.visit("/mystery/agreement").await?;
    b.shows(
        "#mystery-agreement",
        &["opening", "forbidden", "closing", "100"],
    )
    .await?;
    b.visit("/mystery/results").await?;
    b.shows("#mystery-results", &["a-07", "40"]).await?;

    // The agent: results only, the approved re-shop, no plan.
    b.login("a-07", "agent-pass-07").await?;
    b.visit("/mystery").await?;
    let url = b.c.current_url().await?;
    if !url.path().ends_with("/mystery/results") {
        return Err(format!("the agent landed on {url}").into());
    }
    b.shows("#mystery-results", &[second.as_str()]).await?;
    let page = text_of(&b.c, "main").await?;
    if page.contains(&first) || page.contains("我的快递三天没动了") {
        return Err(format!("the agent sees more than the approved result: {page}").into());
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mystery_flow_in_chromium() -> Res<()> {
    if !webdriver::available("the mystery-shopping browser test") {
        return Ok(());
    }
    let server = common::Server::start(TestDb::sqlite("browser_mystery"), USERS, |id| {
        format!("{id} 名")
    })
    .await;
    seed(&server.base).await?;
    let http = reqwest::Client::new();
    let driver = Driver::start(&http).await?;
    let c = driver.session().await?;
    let b = Browser {
        c,
        http,
        driver: driver.url.clone(),
        base: server.base.clone(),
    };
    let outcome = flow(&b).await;
    b.c.clone().close().await?;
    outcome
}
