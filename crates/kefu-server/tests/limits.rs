//! Connection and body limits (issue 17): idle and slow clients cannot
//! take the server down, login bodies are small, password hashing is
//! bounded.

use std::time::Duration;

use kefu_engine::{Inspector, RulePack};
use kefu_server::{AppState, Limits};
use kefu_service::auth::{self, NewUser, PasswordCost, Role};
use kefu_store::testing::TestDb;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Starts a server within `limits`; returns its address, the shutdown
/// sender and the database guard.
async fn start(name: &str, limits: Limits) -> (String, tokio::sync::oneshot::Sender<()>, TestDb) {
    let _ = auth::set_password_cost(PasswordCost::CHEAP_FOR_TESTS);
    let db = TestDb::sqlite(name);
    let store = db.open().await;
    auth::add_user(
        &store,
        NewUser {
            id: "admin".into(),
            display_name: "admin".into(),
            role: Role::Admin,
            team: None,
            password: Some("admin-pass-1".into()),
        },
    )
    .await
    .expect("add user");
    let source = kefu_engine::pack::DEFAULT_PACK_ZH_CN;
    let inspector = Inspector::new(RulePack::from_toml(source).expect("pack")).expect("compile");
    let version = store
        .register_pack("zh-CN", "test", source)
        .await
        .expect("register");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let state = AppState::new(store, inspector, version.id);
    tokio::spawn(kefu_server::serve_with_limits(
        listener,
        state,
        limits,
        async {
            let _ = rx.await;
        },
    ));
    (addr, tx, db)
}

async fn healthz(addr: &str) -> StatusCode {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .expect("healthz answers")
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_while_a_thousand_idle_sockets_are_open() {
    let (addr, stop, _db) = start("limits-flood", Limits::default()).await;
    let mut idle = Vec::new();
    for _ in 0..1200 {
        idle.push(TcpStream::connect(&addr).await.expect("connect"));
    }
    assert_eq!(healthz(&addr).await, StatusCode::OK);
    drop(idle);
    let _ = stop.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sockets_beyond_the_cap_are_timed_out_and_health_recovers() {
    let limits = Limits {
        max_connections: 16,
        header_read_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let (addr, stop, _db) = start("limits-cap", limits).await;
    let mut idle = Vec::new();
    for _ in 0..64 {
        idle.push(TcpStream::connect(&addr).await.expect("connect"));
    }
    // More idle sockets than slots: /healthz waits in the accept queue
    // until the header timeout frees slots, then answers.
    assert_eq!(healthz(&addr).await, StatusCode::OK);
    // The first idle sockets were closed by the server.
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(30), idle[0].read(&mut buf))
        .await
        .expect("closed by the server, not left open")
        .unwrap_or(0);
    assert_eq!(n, 0, "an idle socket gets no data, only EOF");
    let _ = stop.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_header_is_cut_off() {
    let limits = Limits {
        max_connections: 64,
        header_read_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let (addr, stop, _db) = start("limits-slow", limits).await;
    let mut slow = TcpStream::connect(&addr).await.expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), slow.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "the server closed the slow connection");
    assert!(
        !String::from_utf8_lossy(&out).contains("200 OK"),
        "no answer to an unfinished request"
    );
    let _ = stop.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_bodies_are_small_and_hashing_is_bounded() {
    let (addr, stop, _db) = start("limits-login", Limits::default()).await;
    // No connection reuse: the server closes a connection whose body it
    // refused unread, and a reused one would fail the next request.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let url = format!("http://{addr}/api/v1/auth/login");
    let big = format!(
        r#"{{"user":"admin","password":"{}"}}"#,
        "x".repeat(64 * 1024)
    );
    let r = http
        .post(&url)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .expect("request");
    // Refused while reading the body, before any password check.
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body = r.text().await.expect("body");
    assert!(body.contains("length limit"), "{body}");
    let r = http
        .post(&url)
        .json(&serde_json::json!({"user": "admin", "password": "admin-pass-1"}))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::OK, "a normal login still works");

    // Many concurrent wrong logins: never more hashes at once than the pool.
    let mut tasks = Vec::new();
    for i in 0..40 {
        let http = http.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            http.post(&url)
                .json(&serde_json::json!({"user": format!("nobody-{i}"), "password": "wrong-pass"}))
                .send()
                .await
                .map(|r| r.status())
        }));
    }
    for t in tasks {
        let status = t.await.expect("task").expect("request");
        assert!(status.is_client_error(), "{status}");
    }
    let peak = kefu_service::hashing::peak_in_flight();
    assert!(peak >= 1, "hashes ran");
    assert!(
        peak <= kefu_service::hashing::max_in_flight(),
        "{peak} hashes at once"
    );
    let _ = stop.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_body_gets_408_at_the_body_deadline() {
    let limits = Limits {
        body_timeout: Duration::from_secs(2),
        ..Limits::default()
    };
    let (addr, stop, _db) = start("limits-slow-body", limits).await;
    let mut slow = TcpStream::connect(&addr).await.expect("connect");
    slow.write_all(
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60\r\n\r\n{\"user\":",
    )
    .await
    .expect("write");
    // Drip a byte now and then, each well within the header timeout: only
    // the body deadline can end this.
    let drip = async {
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if slow.write_all(b" ").await.is_err() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(4), drip).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), slow.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    // A normal body is unaffected.
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/api/v1/auth/login"))
        .json(&serde_json::json!({"user": "admin", "password": "admin-pass-1"}))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::OK);
    let _ = stop.send(());
}
