//! A headless Chromium driven through chromedriver (WebDriver, fantoccini),
//! shared by the browser suites (`browser.rs`, `xss.rs`).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};

/// Errors of a browser scenario: anything, with its message.
pub(crate) type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Debian's chromedriver (package chromium-driver).
pub(crate) const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Debian's Chromium (package chromium).
pub(crate) const CHROMIUM: &str = "/usr/bin/chromium";

/// Whether Chromium and chromedriver are installed; prints a notice naming
/// the skipped suite when they are not (`.ci/run` installs them).
pub(crate) fn available(suite: &str) -> bool {
    let ok = Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists();
    if !ok {
        eprintln!(
            "NOTICE: {CHROMEDRIVER} or {CHROMIUM} is missing (Debian packages chromium, \
             chromium-driver): skipping {suite}"
        );
    }
    ok
}

/// A free loopback port.
pub(crate) fn free_port() -> Res<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// chromedriver, killed when dropped.
pub(crate) struct Driver {
    child: Child,
    /// Where it listens.
    pub url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    /// Starts chromedriver on a free port and waits until it is ready.
    pub(crate) async fn start(http: &reqwest::Client) -> Res<Driver> {
        let port = free_port()?;
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(r) = http.get(format!("{}/status", driver.url)).send().await {
                if let Ok(v) = r.json::<Value>().await {
                    if v["value"]["ready"] == json!(true) {
                        return Ok(driver);
                    }
                }
            }
            if Instant::now() > deadline {
                return Err("chromedriver did not start".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A new headless Chromium session (Chinese locale, browser log kept so
    /// scenarios can read console errors and CSP violations).
    pub(crate) async fn session(&self) -> Res<Client> {
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,900", "--lang=zh-CN", "--no-first-run"],
            }),
        );
        caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
        Ok(
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps)
                .connect(&self.url)
                .await?,
        )
    }
}

/// Waits (10 s at most) for an element matching `css`.
#[allow(dead_code)] // not every suite uses every helper
pub(crate) async fn wait_css(c: &Client, css: &str) -> Res<fantoccini::elements::Element> {
    Ok(c.wait()
        .at_most(Duration::from_secs(10))
        .every(Duration::from_millis(50))
        .for_element(fantoccini::Locator::Css(css))
        .await
        .map_err(|e| format!("waiting for `{css}`: {e}"))?)
}

/// Waits (10 s at most) until the URL satisfies `pred`; returns it.
#[allow(dead_code)]
pub(crate) async fn wait_url(c: &Client, pred: impl Fn(&str) -> bool) -> Res<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let url = c.current_url().await?.to_string();
        if pred(&url) {
            return Ok(url);
        }
        if Instant::now() > deadline {
            return Err(format!("still at {url}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The text of the first element matching `css`.
#[allow(dead_code)]
pub(crate) async fn text_of(c: &Client, css: &str) -> Res<String> {
    Ok(c.find(fantoccini::Locator::Css(css)).await?.text().await?)
}

/// Errors the page recorded (`window.__kefuErrors`: script errors, failed
/// resources, CSP) and the severe entries of chromedriver's browser log
/// since the last call.
#[allow(dead_code)]
pub(crate) async fn page_errors(
    http: &reqwest::Client,
    driver: &str,
    c: &Client,
) -> Res<Vec<String>> {
    let mut out = Vec::new();
    match c
        .execute("return window.__kefuErrors || null;", vec![])
        .await?
    {
        Value::Array(list) => out.extend(list.iter().map(|v| v.to_string())),
        Value::Null => out.push("the page's script (app.js) did not run".to_string()),
        other => out.push(format!("unexpected error list {other}")),
    }
    let sid = c.session_id().await?.ok_or("no session id")?;
    let log: Value = http
        .post(format!("{driver}/session/{sid}/se/log"))
        .json(&json!({"type": "browser"}))
        .send()
        .await?
        .json()
        .await?;
    for entry in log["value"].as_array().into_iter().flatten() {
        if entry["level"] == json!("SEVERE") {
            out.push(format!("browser log: {}", entry["message"]));
        }
    }
    Ok(out)
}

/// The browser, where it is driven from and the site under test.
#[allow(dead_code)] // not every suite drives pages this way
pub(crate) struct Browser {
    /// The WebDriver session.
    pub c: Client,
    /// A plain HTTP client (for chromedriver's log endpoint).
    pub http: reqwest::Client,
    /// chromedriver's URL.
    pub driver: String,
    /// The site under test (`http://127.0.0.1:PORT`).
    pub base: String,
}

#[allow(dead_code)]
impl Browser {
    /// Fails when the page logged a browser error.
    pub(crate) async fn clean(&self, what: &str) -> Res<()> {
        let errors = page_errors(&self.http, &self.driver, &self.c).await?;
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!("{what}: browser errors: {errors:#?}").into())
        }
    }

    /// Like [`Browser::clean`] after a refused form: the page's 422 is
    /// expected, nothing else.
    pub(crate) async fn refused(&self, what: &str) -> Res<()> {
        let errors: Vec<String> = page_errors(&self.http, &self.driver, &self.c)
            .await?
            .into_iter()
            .filter(|e| !e.contains("status of 422"))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!("{what}: browser errors: {errors:#?}").into())
        }
    }

    pub(crate) async fn visit(&self, path: &str) -> Res<()> {
        self.c.goto(&format!("{}{path}", self.base)).await?;
        self.clean(path).await
    }

    pub(crate) async fn click(&self, css: &str) -> Res<()> {
        self.c
            .find(fantoccini::Locator::Css(css))
            .await?
            .click()
            .await?;
        Ok(())
    }

    /// Replaces the value of the field `css` with `text`.
    pub(crate) async fn fill(&self, css: &str, text: &str) -> Res<()> {
        let e = self.c.find(fantoccini::Locator::Css(css)).await?;
        e.clear().await?;
        e.send_keys(text).await?;
        Ok(())
    }

    pub(crate) async fn text(&self, css: &str) -> Res<String> {
        text_of(&self.c, css).await
    }

    /// Fails unless the element `css` shows every one of `needles`.
    pub(crate) async fn shows(&self, css: &str, needles: &[&str]) -> Res<()> {
        let text = self.text(css).await?;
        for n in needles {
            if !text.contains(n) {
                return Err(format!("`{css}` lacks {n:?}: {text}").into());
            }
        }
        Ok(())
    }

    pub(crate) async fn login(&self, user: &str, password: &str) -> Res<()> {
        self.c.delete_all_cookies().await?;
        self.visit("/login").await?;
        self.fill("input[name=user]", user).await?;
        self.fill("input[name=password]", password).await?;
        self.click("form button[type=submit]").await?;
        wait_url(&self.c, |u| !u.contains("/login")).await?;
        self.clean("after login").await
    }

    /// Switches the dashboard's language (`en` or `zh`).
    pub(crate) async fn language(&self, lang: &str) -> Res<()> {
        self.click(&format!(".langs a[lang={lang}]")).await?;
        let html = if lang == "zh" { "zh-CN" } else { lang };
        wait_css(&self.c, &format!("html[lang={html}]")).await?;
        self.clean(lang).await
    }

    /// Submits the form whose button is `button` and waits for the
    /// redirect that says it was saved.
    pub(crate) async fn submit_saved(&self, button: &str) -> Res<String> {
        self.click(button).await?;
        let url = wait_url(&self.c, |u| u.contains("done=saved")).await?;
        self.clean(button).await?;
        Ok(url)
    }
}
