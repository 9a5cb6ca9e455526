//! The customer pages in a real headless Chromium (WebDriver, fantoccini),
//! in Chinese and English: an agent opens the grade list and a customer's
//! 十问 profile (with the satisfaction trend and the latest inspection
//! findings), logs a follow-up outcome from 我的跟进 and sees the queue
//! update, records a care contact from the care reminders, edits the
//! profile (a refusal keeps what was typed); a supervisor overrides the
//! grade with a reason and finds the customer under grade A; an inspector
//! sees phones masked and no edit link. Every page visited must log no
//! browser error (script errors, failed resources, CSP violations).
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian packages
//! `chromium`, `chromium-driver`). Without them the test prints a notice
//! and passes.

use chrono::{Duration as Days, Utc};
use fantoccini::Locator;
use kefu_service::auth::Role;
use kefu_store::testing::TestDb;
use serde_json::{json, Value};

mod common;
mod webdriver;
use webdriver::{wait_css, Browser, Driver, Res};

const USERS: &[(&str, Role, &str)] = &[
    ("boss", Role::Supervisor, "boss-pass-1"),
    ("qa", Role::Inspector, "inspector-pass-1"),
    ("a-07", Role::Agent, "agent-pass-07"),
];

/// Imports two calls of agent a-07 with customer u-1 (周杰): one in January
/// that breaks the taboo-phrase rules, rated 6, and a clean one in
/// February, rated 9; creates 林芳 (owned by a-07) with a birthday in three
/// days.
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
    let call = |id: &str, at: &str, agent_text: &str, rating: i64| {
        json!({"id": id, "channel": "phone", "agent_id": "a-07", "agent_name": "李娜",
        "customer_id": "u-1", "customer_name": "周杰", "started_at": at, "ended_by": "customer",
        "meta": {"caller_number": "13512345678", "satisfaction": rating},
        "turns": [
            {"role": "agent", "text": "您好，星联通信，请问有什么可以帮您？", "start_ms": 0, "end_ms": 4000},
            {"role": "customer", "text": "我的话费怎么多扣了二十块？", "start_ms": 4500, "end_ms": 8000},
            {"role": "agent", "text": agent_text, "start_ms": 9000, "end_ms": 14000},
            {"role": "customer", "text": "好的，谢谢。", "start_ms": 14500, "end_ms": 16000}
        ]})
    };
    let r = http
        .post(format!("{base}/api/v1/conversations"))
        .bearer_auth(token)
        .json(&json!([
            call(
                "bc-1",
                "2026-01-05T10:00:00+08:00",
                "这个我不知道。不关我的事，爱找谁找谁去。",
                6
            ),
            call(
                "bc-2",
                "2026-02-10T10:00:00+08:00",
                "您好，我帮您查询一下，多扣的二十元会退回。",
                9
            ),
        ]))
        .send()
        .await?;
    if !r.status().is_success() {
        return Err(format!("import: {} {}", r.status(), r.text().await?).into());
    }
    let birthday = (Utc::now() + Days::hours(8)).date_naive() + Days::days(3);
    let r = http
        .post(format!("{base}/api/v1/customers"))
        .bearer_auth(token)
        .json(&json!({
            "name": "林芳", "owner_id": "a-07", "phones": ["13900001111"],
            "dates": [{"label": "生日", "calendar": "solar", "year": null,
                       "month": birthday.format("%m").to_string().parse::<i64>()?,
                       "day": birthday.format("%d").to_string().parse::<i64>()?,
                       "leap": false, "remind_days": 7}]
        }))
        .send()
        .await?;
    if !r.status().is_success() {
        return Err(format!("create customer: {} {}", r.status(), r.text().await?).into());
    }
    Ok(())
}

/// The agent's flows, in Chinese, then their pages in English; returns
/// the path of 周杰's page.
async fn agent(b: &Browser) -> Res<String> {
    b.login("a-07", "agent-pass-07").await?;
    b.visit("/customers").await?;
    b.shows("#customers", &["周杰", "林芳"]).await?;
    b.c.find(Locator::XPath("//table[@id='customers']//a[text()='周杰']"))
        .await?
        .click()
        .await?;
    wait_css(&b.c, "#ten-questions").await?;
    b.clean("profile").await?;
    let profile = b.c.current_url().await?.path().to_string();
    b.shows("h1", &["周杰"]).await?;
    b.shows("main", &["十问档案", "客户时间线"]).await?;
    b.shows("#phones", &["13512345678"]).await?;
    b.shows("#satisfaction-trend", &["满意度趋势", "2026-01", "2026-02"])
        .await?;
    b.c.find(Locator::Css("#satisfaction-trend svg")).await?;
    b.shows("#last-findings", &["最近质检发现", "bc-1"]).await?;
    b.shows("#timeline", &["bc-1", "bc-2", "李娜"]).await?;

    // 我的跟进: 周杰 is overdue (last call in February, grade C); logging an
    // outcome resets the clock.
    b.visit("/follow-ups").await?;
    b.shows("h1", &["我的跟进"]).await?;
    b.shows("#overdue", &["周杰"]).await?;
    b.c.find(Locator::XPath("//section[@id='overdue']//a[text()='周杰']"))
        .await?
        .click()
        .await?;
    wait_css(&b.c, "#log-contact").await?;
    b.click("#log-contact summary").await?;
    b.click("#log-contact select[name=outcome] option[value=callback]")
        .await?;
    b.fill("#log-contact textarea[name=note]", "客户约周五回电")
        .await?;
    b.submit_saved("#log-contact button[type=submit]").await?;
    b.shows("#timeline", &["客户约周五回电"]).await?;
    b.visit("/follow-ups").await?;
    if b.text("#overdue").await?.contains("周杰") {
        return Err("周杰 is still overdue after the logged contact".into());
    }

    // Care: 林芳's birthday in three days; the care contact is recorded.
    b.shows("#care", &["林芳", "生日"]).await?;
    b.fill("#care input[name=outcome]", "电话祝福").await?;
    let url = b.submit_saved("#care button[type=submit]").await?;
    if !url.contains("/follow-ups") {
        return Err(format!("care went to {url}").into());
    }
    b.shows("#care", &["已关怀"]).await?;

    // Edit the profile: a bad phone is refused and what was typed stays.
    b.visit(&profile).await?;
    b.click("#edit-link").await?;
    wait_css(&b.c, "#edit-customer").await?;
    b.clean("edit form").await?;
    b.shows("h1", &["编辑客户档案"]).await?;
    b.fill("input[name=title]", "周先生").await?;
    b.fill("input[name=region]", "杭州").await?;
    b.fill("textarea[name=phones]", "12").await?;
    b.click("#save-customer").await?;
    wait_css(&b.c, "#edit-error").await?;
    b.refused("refused edit").await?;
    b.shows("#edit-error", &["未保存", "phones"]).await?;
    let kept =
        b.c.find(Locator::Css("input[name=title]"))
            .await?
            .prop("value")
            .await?;
    if kept.as_deref() != Some("周先生") {
        return Err(format!("the refused form lost what was typed: {kept:?}").into());
    }
    b.fill("textarea[name=phones]", "13512345678\n13800138000")
        .await?;
    b.submit_saved("#save-customer").await?;
    b.shows("#ten-questions", &["周先生", "杭州"]).await?;
    b.shows("#phones", &["13800138000"]).await?;

    // English.
    b.language("en").await?;
    b.shows("main", &["Ten questions", "Satisfaction trend", "Timeline"])
        .await?;
    b.shows("#last-findings", &["Latest inspection findings", "bc-1"])
        .await?;
    b.visit("/follow-ups").await?;
    b.shows("h1", &["My follow-ups"]).await?;
    b.shows("#care", &["林芳", "Done"]).await?;
    b.visit("/customers").await?;
    b.shows("#grade-tabs", &["All"]).await?;
    b.visit(&format!("{profile}/edit")).await?;
    b.shows("h1", &["Edit customer"]).await?;
    b.language("zh").await?;
    Ok(profile)
}

/// A supervisor sets grade A by hand (in English) and finds the customer
/// under grade A; an inspector sees phones masked and cannot edit.
async fn supervisor_and_inspector(b: &Browser, profile: &str) -> Res<()> {
    b.login("boss", "boss-pass-1").await?;
    b.visit(profile).await?;
    b.language("en").await?;
    b.click("#set-grade summary").await?;
    b.click("#set-grade select[name=grade] option[value=A]")
        .await?;
    b.fill("#set-grade input[name=reason]", "Key account for 2027")
        .await?;
    b.submit_saved("#set-grade button[type=submit]").await?;
    b.shows("#grade-history", &["Key account for 2027", "By hand"])
        .await?;
    b.shows("h1", &["A"]).await?;
    b.visit("/customers?grade=A").await?;
    b.shows("#customers", &["周杰", "set by hand"]).await?;
    if b.text("#customers").await?.contains("林芳") {
        return Err("林芳 is not grade A".into());
    }

    b.login("qa", "inspector-pass-1").await?;
    b.visit(profile).await?;
    b.shows("#phones", &["135****5678"]).await?;
    let page = b.text("main").await?;
    if page.contains("13512345678") || page.contains("13800138000") || page.contains("周杰") {
        return Err(format!("the inspector sees personal data: {page}").into());
    }
    if b.c.find(Locator::Css("#edit-link")).await.is_ok() {
        return Err("the inspector is offered the edit form".into());
    }
    b.c.goto(&format!("{}{profile}/edit", b.base)).await?;
    if b.c.find(Locator::Css("#edit-customer")).await.is_ok() {
        return Err("the inspector got the edit form".into());
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_pages_in_chromium() -> Res<()> {
    if !webdriver::available("the customer browser test") {
        return Ok(());
    }
    let server = common::Server::start(TestDb::sqlite("browser_customers"), USERS, |id| {
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
    let outcome = async {
        let profile = agent(&b).await?;
        supervisor_and_inspector(&b, &profile).await
    }
    .await;
    b.c.clone().close().await?;
    outcome
}
