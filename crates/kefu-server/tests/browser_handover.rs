//! Shift handover (交接班) in a real headless Chromium (WebDriver,
//! fantoccini): the outgoing agent picks their shift, reviews the
//! pre-filled page, writes two free items (one urgent, with a 若…则…
//! contingency) and submits; the incoming agent of the same team finds it
//! under 待我确认, acknowledges one item, restates the other in their own
//! words, and sees the handover acknowledged, in Chinese and English.
//! Every page visited must log no browser error.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver`. Without them the
//! test prints a notice and passes.

use fantoccini::Locator;
use kefu_service::auth::Role;
use kefu_store::testing::TestDb;
use serde_json::{json, Value};

mod common;
mod webdriver;
use webdriver::{wait_css, Browser, Driver, Res};

const USERS: &[(&str, Role, &str)] = &[
    ("boss", Role::Supervisor, "boss-pass-1"),
    ("a-1", Role::Agent, "agent-pass-01"),
    ("a-2", Role::Agent, "agent-pass-02"),
];

/// Teams (一组 for everyone) and the team's three shifts.
async fn seed(server: &common::Server) -> Res<()> {
    for user in ["boss", "a-1", "a-2"] {
        sqlx::query("UPDATE users SET team = '一组' WHERE id = $1")
            .bind(user)
            .execute(kefu_store::testing::pool(&server.store))
            .await?;
    }
    let http = reqwest::Client::new();
    let login: Value = http
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&json!({"user": "boss", "password": "boss-pass-1"}))
        .send()
        .await?
        .json()
        .await?;
    let token = login["token"].as_str().ok_or("no token")?;
    let r = http
        .put(format!(
            "{}/api/v1/handovers/shifts/%E4%B8%80%E7%BB%84",
            server.base
        ))
        .bearer_auth(token)
        .json(&json!({"shifts": [
            {"name": "早班", "start": "08:00", "end": "16:00"},
            {"name": "中班", "start": "16:00", "end": "00:00"},
            {"name": "晚班", "start": "00:00", "end": "08:00"}
        ]}))
        .send()
        .await?;
    if !r.status().is_success() {
        return Err(format!("shifts: {} {}", r.status(), r.text().await?).into());
    }
    Ok(())
}

/// The outgoing agent's handover; returns its page's path.
async fn outgoing(b: &Browser) -> Res<String> {
    b.login("a-1", "agent-pass-01").await?;
    b.visit("/handovers").await?;
    b.click("#handover-new-link").await?;
    wait_css(&b.c, "#handover-shift-pick").await?;
    b.click("#handover-shift-pick select option[value='早班']")
        .await?;
    b.click("#handover-shift-pick button[type=submit]").await?;
    wait_css(&b.c, "#handover-new-form").await?;
    b.clean("new handover").await?;
    b.shows("#handover-window", &["早班", "中班"]).await?;
    b.fill("#free-title-0", "VIP 客户王先生 18:00 回电").await?;
    b.click("#free-severity-0 option[value=urgent]").await?;
    b.fill("#free-action-0", "18:00 前回电说明退款进度").await?;
    b.fill("#free-contingency-0", "若未接通，则发短信并记录")
        .await?;
    b.fill("#free-title-1", "打印机卡纸").await?;
    b.fill("#free-action-1", "报修").await?;
    let url = b.submit_saved("#handover-submit").await?;
    b.shows("#handover-state", &["待接班"]).await?;
    b.shows(
        "main",
        &["VIP 客户王先生", "若未接通，则发短信并记录", "打印机卡纸"],
    )
    .await?;
    if b.c.find(Locator::Css("form.ack-form")).await.is_ok() {
        return Err("the outgoing agent is offered acknowledgement".into());
    }
    let path = url
        .split_once("/handovers/")
        .map(|(_, rest)| format!("/handovers/{}", rest.split('?').next().unwrap_or_default()))
        .ok_or("no handover path")?;
    Ok(path)
}

/// The incoming agent acknowledges one item and restates the other.
async fn incoming(b: &Browser, path: &str) -> Res<()> {
    b.login("a-2", "agent-pass-02").await?;
    b.visit("/handovers?view=waiting").await?;
    b.c.find(Locator::Css(&format!("#handover-list a[href='{path}']")))
        .await?
        .click()
        .await?;
    wait_css(&b.c, "form.ack-form").await?;
    b.clean("handover page").await?;
    b.submit_saved("article:nth-of-type(1) form.ack-form button.ack")
        .await?;
    b.shows("article:nth-of-type(1)", &["已确认"]).await?;
    b.shows("#handover-state", &["待接班"]).await?;
    b.fill(
        "article:nth-of-type(2) form.ack-form textarea[name=restatement]",
        "找行政换新打印机",
    )
    .await?;
    b.submit_saved("article:nth-of-type(2) form.ack-form button.ack")
        .await?;
    b.shows("#handover-state", &["已接班"]).await?;
    b.shows("article:nth-of-type(2) .restatement", &["找行政换新打印机"])
        .await?;
    b.shows("article:nth-of-type(2) .original", &["报修"])
        .await?;
    b.shows("#handover-history", &["复述并确认"]).await?;
    if b.c.find(Locator::Css("form.ack-form")).await.is_ok() {
        return Err("an acknowledged handover still offers acknowledgement".into());
    }
    // In English.
    b.click(".langs a[lang=en]").await?;
    wait_css(&b.c, "html[lang=en]").await?;
    b.clean("en").await?;
    b.shows("#handover-state", &["Acknowledged"]).await?;
    b.shows("#handover-history", &["Restated and acknowledged"])
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handover_in_chromium() -> Res<()> {
    if !webdriver::available("the handover browser test") {
        return Ok(());
    }
    let server =
        common::Server::start(TestDb::sqlite("browser_handover"), USERS, str::to_string).await;
    seed(&server).await?;
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
        let path = outgoing(&b).await?;
        incoming(&b, &path).await
    }
    .await;
    b.c.clone().close().await?;
    outcome
}
