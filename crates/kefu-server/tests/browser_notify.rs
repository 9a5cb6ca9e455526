//! Notifications in a real headless Chromium (WebDriver, fantoccini): an
//! agent with two notifications sees the badge in the header, opens the
//! inbox from it, marks one read (the badge drops to 1), then all read
//! (the badge goes); the inbox in English. Every page visited must log no
//! browser error (script errors, failed resources, CSP violations).
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver`. Without them the
//! test prints a notice and passes.

use fantoccini::{Client, Locator};
use kefu_service::auth::Role;
use kefu_service::notify::{Deliverer, DeliveryConfig, Event, Notification};
use kefu_store::testing::TestDb;

mod common;
mod webdriver;
use webdriver::{page_errors, text_of, wait_css, wait_url, Driver, Res};

const USERS: &[(&str, Role, &str)] = &[("a-07", Role::Agent, "agent-pass-07")];

async fn clean(http: &reqwest::Client, driver: &str, c: &Client, what: &str) -> Res<()> {
    let errors = page_errors(http, driver, c).await?;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("{what}: browser errors: {errors:#?}").into())
    }
}

async fn badge(c: &Client) -> Res<Option<String>> {
    Ok(match c.find(Locator::Css("#unread-badge")).await {
        Ok(e) => Some(e.text().await?),
        Err(_) => None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_in_chromium() -> Res<()> {
    if !webdriver::available("the notification browser test") {
        return Ok(());
    }
    let server = common::Server::start(TestDb::sqlite("browser_notify"), USERS, |id| {
        format!("{id} 名")
    })
    .await;
    for (i, title) in ["投诉 C-1 首次响应即将超时", "信息反馈 FB-1 已分派给您"]
        .iter()
        .enumerate()
    {
        let mut tx = server.store.write().await?;
        Notification::new(Event::SlaNearBreach, "complaint", format!("C-{i}"))
            .title(*title)
            .link("/complaints")
            .to("a-07")
            .record(&mut tx, kefu_store::now_ms())
            .await?;
        tx.commit().await?;
    }
    Deliverer::new(server.store.clone(), DeliveryConfig::new("browser"))?
        .run_once(kefu_store::now_ms())
        .await?;
    let http = reqwest::Client::new();
    let driver = Driver::start(&http).await?;
    let c = driver.session().await?;
    let d = driver.url.clone();
    let base = server.base.clone();
    let outcome = async {
        c.goto(&format!("{base}/login")).await?;
        c.find(Locator::Css("input[name=user]"))
            .await?
            .send_keys("a-07")
            .await?;
        c.find(Locator::Css("input[name=password]"))
            .await?
            .send_keys("agent-pass-07")
            .await?;
        c.find(Locator::Css("form button[type=submit]"))
            .await?
            .click()
            .await?;
        wait_url(&c, |u| !u.contains("/login")).await?;
        clean(&http, &d, &c, "after login").await?;
        if badge(&c).await?.as_deref() != Some("2") {
            return Err(format!("badge after login: {:?}", badge(&c).await?).into());
        }
        c.find(Locator::Css("#inbox-link")).await?.click().await?;
        wait_url(&c, |u| u.ends_with("/inbox")).await?;
        clean(&http, &d, &c, "inbox").await?;
        let list = text_of(&c, "#inbox").await?;
        if !list.contains("首次响应即将超时") || !list.contains("已分派给您") {
            return Err(format!("inbox: {list}").into());
        }
        c.find(Locator::Css("#inbox .mark-read"))
            .await?
            .click()
            .await?;
        wait_url(&c, |u| u.contains("done=marked_read")).await?;
        clean(&http, &d, &c, "marked read").await?;
        if badge(&c).await?.as_deref() != Some("1") {
            return Err(format!("badge after one read: {:?}", badge(&c).await?).into());
        }
        wait_css(&c, "#inbox tr.read").await?;
        c.find(Locator::Css("#mark-all-read button"))
            .await?
            .click()
            .await?;
        wait_url(&c, |u| u.contains("done=marked_read")).await?;
        if let Some(b) = badge(&c).await? {
            return Err(format!("badge after all read: {b}").into());
        }
        c.find(Locator::Css(".langs a[lang=en]"))
            .await?
            .click()
            .await?;
        wait_css(&c, "html[lang=en]").await?;
        let title = text_of(&c, "h1").await?;
        if !title.contains("Notifications") {
            return Err(format!("English title: {title}").into());
        }
        clean(&http, &d, &c, "inbox in English").await
    }
    .await;
    c.clone().close().await?;
    outcome
}
