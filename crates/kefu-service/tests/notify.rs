//! Notifications on SQLite and PostgreSQL: the outbox row commits (or rolls
//! back) with its event; two delivery workers ("nodes") on one database
//! deliver each notification once per recipient and channel (webhook hits
//! counted by a local receiver that checks the signature, inbox rows, mails
//! received by a local SMTP sink); retries with backoff after a 500; the
//! inbox and its unread count; the SLA scan notifies once however many
//! nodes scan; revisits due are notified once.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use chrono::{TimeZone, Utc};
use hmac::Mac;
use kefu_service::auth::{self, NewUser, Principal, Role};
use kefu_service::complaint::{
    Actor, ActorRole, Assignee, ComplaintService, Customer, NewComplaint,
};
use kefu_service::feedback::{Command, FeedbackService, NewFeedback};
use kefu_service::notify::{
    signature, Deliverer, DeliveryConfig, Event, Notification, NotifyService, SmtpConfig,
};
use kefu_store::Store;

/// Runs `body(store, url)` against SQLite and, when `KEFU_TEST_PG_URL` is
/// set, PostgreSQL (a fresh database each).
macro_rules! both {
    ($name:ident, $body:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            let db = kefu_store::testing::TestDb::sqlite(stringify!($name));
            let store = db.open().await;
            ($body)(store.clone(), db.url.clone()).await;
            store.close().await;
            if let Some(db) = kefu_store::testing::TestDb::postgres(stringify!($name)).await {
                let store = db.open().await;
                ($body)(store.clone(), db.url.clone()).await;
                store.close().await;
            }
        }
    };
}
use sqlx::Row;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const SECRET: &str = "a-test-secret-of-some-length";

fn who(id: &str, role: Role) -> Principal {
    Principal {
        user_id: id.into(),
        role,
        team: None,
    }
}

async fn users(store: &Store) {
    for (id, role) in [
        ("boss", Role::Admin),
        ("sup1", Role::Supervisor),
        ("sup2", Role::Supervisor),
        ("a-07", Role::Agent),
    ] {
        auth::add_user(
            store,
            NewUser {
                id: id.into(),
                display_name: id.into(),
                role,
                team: None,
                password: None,
            },
        )
        .await
        .expect("add user");
    }
}

async fn count(store: &Store, sql: &'static str) -> i64 {
    sqlx::query(sql)
        .fetch_one(kefu_store::testing::pool(store))
        .await
        .expect("count")
        .try_get::<i64, _>("n")
        .expect("n")
}

/// What the local webhook receiver saw: (delivery id, event, body).
type Hits = Arc<Mutex<Vec<(String, String, String)>>>;

/// A local HTTP receiver at `/hook` that checks `X-Kefu-Signature` with
/// [`SECRET`] and records each delivery; it answers 500 to the first
/// `fail_first` requests.
async fn receiver(fail_first: usize) -> (String, Hits, Arc<Mutex<usize>>) {
    let hits: Hits = Arc::default();
    let failures = Arc::new(Mutex::new(0usize));
    let (h, f) = (hits.clone(), failures.clone());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let (hits, failures) = (h.clone(), f.clone());
            async move {
                let header = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string()
                };
                // Verify as a receiver would: HMAC-SHA256 of the raw body.
                let mut mac =
                    hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
                mac.update(&body);
                let hex: String = mac
                    .finalize()
                    .into_bytes()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                if header("x-kefu-signature") != format!("sha256={hex}") {
                    return StatusCode::UNAUTHORIZED;
                }
                assert!(!header("x-kefu-timestamp").is_empty());
                {
                    let mut n = failures.lock().expect("lock");
                    if *n < fail_first {
                        *n += 1;
                        return StatusCode::INTERNAL_SERVER_ERROR;
                    }
                }
                hits.lock().expect("lock").push((
                    header("x-kefu-delivery"),
                    header("x-kefu-event"),
                    String::from_utf8_lossy(&body).into_owned(),
                ));
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hook"), hits, failures)
}

/// Messages the SMTP sink received (the DATA of each).
type Mails = Arc<Mutex<Vec<String>>>;

/// A tiny SMTP server on a local port: greets, accepts EHLO/HELO, MAIL,
/// RCPT, DATA up to the lone `.`, RSET, NOOP and QUIT.
async fn smtp_sink() -> (u16, Mails) {
    let mails: Mails = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let m = mails.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let mails = m.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(body) = data.as_mut() {
                        if line == "." {
                            mails.lock().expect("lock").push(std::mem::take(body));
                            data = None;
                            let _ = write.write_all(b"250 2.0.0 queued\r\n").await;
                        } else {
                            body.push_str(&line);
                            body.push('\n');
                        }
                        continue;
                    }
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let answer: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 sink\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 end with <CRLF>.<CRLF>\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            break;
                        }
                        _ => b"250 OK\r\n",
                    };
                    let _ = write.write_all(answer).await;
                }
            });
        }
    });
    (port, mails)
}

fn config(node: &str) -> DeliveryConfig {
    let mut c = DeliveryConfig::new(node);
    c.timeout = Duration::from_secs(5);
    c.batch = 3;
    c
}

async fn notify(store: &Store, n: usize) {
    for i in 0..n {
        let mut tx = store.write().await.expect("tx");
        Notification::new(Event::ComplaintEscalated, "complaint", format!("C-{i}"))
            .title(format!("Complaint C-{i} escalated"))
            .body("first reply overdue")
            .link(format!("/complaints/C-{i}"))
            .to_all(["sup1".to_string(), "sup2".to_string(), "a-07".to_string()])
            .record(&mut tx, kefu_store::now_ms())
            .await
            .expect("record");
        tx.commit().await.expect("commit");
    }
}

both!(
    outbox_row_commits_with_its_event,
    |store: Store, _url: String| async move {
        users(&store).await;
        // A transaction that records a notification and rolls back leaves none.
        {
            let mut tx = store.write().await.expect("tx");
            Notification::new(Event::AppealDecided, "appeal", "1")
                .to("a-07")
                .record(&mut tx, 1)
                .await
                .expect("record");
            drop(tx);
        }
        assert_eq!(
            count(&store, "SELECT COUNT(*) AS n FROM notifications").await,
            0
        );

        // Feedback assignment: the notification commits with the assignment;
        // an assignment refused (stale version) records nothing.
        let fb = FeedbackService::new(store.clone());
        let boss = who("boss", Role::Admin);
        let f = fb
            .create(
                &boss,
                NewFeedback {
                    category: "建议/服务建议".into(),
                    content: "希望延长服务时间".into(),
                    ..NewFeedback::default()
                },
                1_000,
            )
            .await
            .expect("create");
        let assign = Command::Assign {
            department: "客服部".into(),
            owner_id: Some("a-07".into()),
            due_at: None,
        };
        let stale = fb
            .execute(&boss, &f.id, &assign, Some(f.version + 7), 2_000)
            .await;
        assert!(stale.is_err());
        assert_eq!(
            count(&store, "SELECT COUNT(*) AS n FROM notifications").await,
            0
        );
        fb.execute(&boss, &f.id, &assign, Some(f.version), 2_000)
            .await
            .expect("assign");
        assert_eq!(
            count(
                &store,
                "SELECT COUNT(*) AS n FROM notifications WHERE event = 'feedback.assigned'"
            )
            .await,
            1
        );
        // The worker puts it in the owner's inbox.
        let d = Deliverer::new(store.clone(), config("n1")).expect("deliverer");
        let r = d.run_once(3_000).await.expect("deliver");
        assert_eq!(r.expanded, 1);
        let svc = NotifyService::new(store.clone());
        let a07 = who("a-07", Role::Agent);
        let inbox = svc.inbox(&a07, None, false, 50).await.expect("inbox");
        assert_eq!(inbox.len(), 1);
        assert_eq!(inbox[0].event, "feedback.assigned");
        assert!(inbox[0].link.starts_with("/feedback/"), "{:?}", inbox[0]);
        assert_eq!(svc.unread_count(&a07).await.expect("count"), 1);
        // Nobody else's.
        assert!(svc
            .inbox(&who("sup1", Role::Supervisor), None, false, 50)
            .await
            .expect("inbox")
            .is_empty());
        assert!(svc
            .mark_read(&who("sup1", Role::Supervisor), inbox[0].id, 4_000)
            .await
            .is_err());
        svc.mark_read(&a07, inbox[0].id, 4_000).await.expect("read");
        assert_eq!(svc.unread_count(&a07).await.expect("count"), 0);
        let read = svc.inbox(&a07, None, false, 50).await.expect("inbox");
        assert_eq!(read[0].read_at, Some(4_000));
        assert!(svc
            .inbox(&a07, None, true, 50)
            .await
            .expect("unread")
            .is_empty());
    }
);

both!(
    two_nodes_deliver_each_once_per_recipient_and_channel,
    |store: Store, url: String| async move {
        let db_url = url.clone();
        users(&store).await;
        let (url, hits, _) = receiver(0).await;
        let (port, mails) = smtp_sink().await;
        let svc = NotifyService::new(store.clone());
        let boss = who("boss", Role::Admin);
        let hook = svc
            .add_webhook(&boss, &url, Some(SECRET), "complaint.*", 1)
            .await
            .expect("webhook");
        assert_eq!(hook.secret.as_deref(), Some(SECRET));
        // An endpoint whose filter does not take the event gets nothing.
        svc.add_webhook(&boss, &url, Some(SECRET), "appeal.decided", 1)
            .await
            .expect("webhook");
        assert!(svc
            .add_webhook(&who("sup1", Role::Supervisor), &url, None, "*", 1)
            .await
            .is_err());
        svc.set_email(&boss, "a-07", Some("a07@example.com"))
            .await
            .expect("email");
        const N: usize = 12;
        notify(&store, N).await;

        // Two nodes: each its own pool on the same database, run at once.
        let second = Store::open(&db_url).await.expect("second node's pool");
        let smtp = SmtpConfig::from_url(&format!("smtp://127.0.0.1:{port}"), "kefu@example.com")
            .expect("smtp");
        let mut c1 = config("node-1");
        c1.smtp = Some(smtp.clone());
        let mut c2 = config("node-2");
        c2.smtp = Some(smtp);
        let d1 = Deliverer::new(store.clone(), c1).expect("d1");
        let d2 = Deliverer::new(second.clone(), c2).expect("d2");
        let now = kefu_store::now_ms();
        let (r1, r2) = tokio::join!(
            async {
                let mut total = kefu_service::notify::DeliveryReport::default();
                for _ in 0..3 {
                    let r = d1.run_once(now).await.expect("node 1");
                    total.expanded += r.expanded;
                    total.sent += r.sent;
                }
                total
            },
            async {
                let mut total = kefu_service::notify::DeliveryReport::default();
                for _ in 0..3 {
                    let r = d2.run_once(now).await.expect("node 2");
                    total.expanded += r.expanded;
                    total.sent += r.sent;
                }
                total
            }
        );
        assert_eq!(r1.expanded + r2.expanded, N, "{r1:?} {r2:?}");
        // N webhooks (one endpoint) and N e-mails (a-07 has an address).
        assert_eq!(r1.sent + r2.sent, 2 * N, "{r1:?} {r2:?}");

        let hits = hits.lock().expect("lock").clone();
        assert_eq!(hits.len(), N, "each notification hit the endpoint once");
        let ids: std::collections::BTreeSet<&str> = hits.iter().map(|h| h.0.as_str()).collect();
        assert_eq!(ids.len(), N);
        let body: serde_json::Value = serde_json::from_str(&hits[0].2).expect("json body");
        assert_eq!(hits[0].1, "complaint.escalated");
        assert_eq!(body["event"], "complaint.escalated");
        assert!(body["occurred_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')));
        assert_eq!(body["object"]["kind"], "complaint");
        assert!(body["id"].as_str().is_some());
        // The library's signature is what the receiver checked.
        assert!(signature(SECRET, hits[0].2.as_bytes()).starts_with("sha256="));

        let mails = mails.lock().expect("lock").clone();
        assert_eq!(mails.len(), N, "one mail per notification to a-07");
        assert!(mails
            .iter()
            .all(|m| m.contains("Subject: [kefu] Complaint C-") && m.contains("a07@example.com")));
        assert!(mails.iter().any(|m| m.contains("first reply overdue")));

        // Inbox rows: one per notification and recipient.
        assert_eq!(
            count(
                &store,
                "SELECT COUNT(*) AS n FROM notification_deliveries WHERE channel = 'inbox'"
            )
            .await,
            3 * N as i64
        );
        let mut per_user = BTreeMap::new();
        for u in ["sup1", "sup2", "a-07"] {
            let n = svc.unread_count(&who(u, Role::Agent)).await.expect("count");
            per_user.insert(u, n);
        }
        assert!(per_user.values().all(|n| *n == N as i64), "{per_user:?}");
        // Nothing is left to deliver, and the log shows it.
        let log = svc.delivery_log(&boss, None, 100).await.expect("log");
        assert_eq!(log.len(), 2 * N);
        assert!(log.iter().all(|d| d.state == "sent" && d.attempts == 1));
    }
);

both!(
    webhook_retried_with_backoff_then_delivered,
    |store: Store, _url: String| async move {
        users(&store).await;
        let (url, hits, failures) = receiver(1).await;
        let svc = NotifyService::new(store.clone());
        let boss = who("boss", Role::Admin);
        svc.add_webhook(&boss, &url, Some(SECRET), "*", 1)
            .await
            .expect("webhook");
        notify(&store, 1).await;
        let mut c = config("node-1");
        c.backoff = vec![Duration::from_millis(1_000), Duration::from_millis(2_000)];
        let d = Deliverer::new(store.clone(), c).expect("deliverer");
        let now = kefu_store::now_ms();
        let r = d.run_once(now).await.expect("first run");
        assert_eq!((r.sent, r.retried), (0, 1));
        assert_eq!(*failures.lock().expect("lock"), 1);
        let log = svc
            .delivery_log(&boss, Some("webhook"), 10)
            .await
            .expect("log");
        assert_eq!(log[0].state, "pending");
        assert_eq!(log[0].status_code, Some(500));
        assert_eq!(log[0].attempts, 1);
        assert_eq!(log[0].next_attempt_at, Some(now + 1_000));
        // Not due yet: nothing is sent.
        let r = d.run_once(now + 500).await.expect("early run");
        assert_eq!((r.sent, r.retried), (0, 0));
        // Due: delivered.
        let r = d.run_once(now + 1_000).await.expect("second run");
        assert_eq!((r.sent, r.retried), (1, 0));
        assert_eq!(hits.lock().expect("lock").len(), 1);
        let log = svc
            .delivery_log(&boss, Some("webhook"), 10)
            .await
            .expect("log");
        assert_eq!(log[0].state, "sent");
        assert_eq!(log[0].status_code, Some(204));
        assert_eq!(log[0].attempts, 2);

        // With no retries left a failure is dead.
        let (url, hits, _) = receiver(usize::MAX).await;
        svc.disable_webhook(&boss, 1).await.expect("disable");
        svc.add_webhook(&boss, &url, Some(SECRET), "*", 1)
            .await
            .expect("webhook");
        notify(&store, 1).await;
        let mut c = config("node-1");
        c.backoff = Vec::new();
        let d = Deliverer::new(store.clone(), c).expect("deliverer");
        let r = d.run_once(now + 5_000).await.expect("run");
        assert_eq!((r.sent, r.dead), (0, 1));
        assert!(hits.lock().expect("lock").is_empty());
        let log = svc
            .delivery_log(&boss, Some("webhook"), 10)
            .await
            .expect("log");
        assert_eq!(log[0].state, "dead");
        assert_eq!(log[0].next_attempt_at, None);
    }
);

both!(
    a_crashed_nodes_claim_is_retried_after_its_lease,
    |store: Store, _url: String| async move {
        users(&store).await;
        let (url, hits, _) = receiver(0).await;
        let svc = NotifyService::new(store.clone());
        svc.add_webhook(&who("boss", Role::Admin), &url, Some(SECRET), "*", 1)
            .await
            .expect("webhook");
        notify(&store, 1).await;
        let now = kefu_store::now_ms();
        store
            .expand_notifications(now, 10, false)
            .await
            .expect("expand");
        // Node 1 claims and "crashes" (never finishes).
        let claimed = store
            .claim_deliveries(&["webhook"], "node-1", now, 60_000, 10)
            .await
            .expect("claim");
        assert_eq!(claimed.len(), 1);
        // Node 2 sees nothing while the lease holds …
        let d2 = Deliverer::new(store.clone(), config("node-2")).expect("d2");
        assert_eq!(d2.run_once(now + 1_000).await.expect("run").sent, 0);
        // … and delivers after it ran out.
        assert_eq!(d2.run_once(now + 61_000).await.expect("run").sent, 1);
        assert_eq!(hits.lock().expect("lock").len(), 1);
        // Node 1 coming back late records nothing over node 2's outcome.
        let late = store
            .finish_delivery(
                claimed[0].id,
                "node-1",
                &kefu_store::outbox::DeliveryResult::Dead {
                    status_code: None,
                    error: "late".into(),
                },
                now + 62_000,
            )
            .await
            .expect("finish");
        assert!(!late);
    }
);

both!(
    sla_scans_on_two_nodes_notify_once,
    |store: Store, _url: String| async move {
        users(&store).await;
        let svc = ComplaintService::new(store.clone());
        let t0 = Utc
            .with_ymd_and_hms(2026, 3, 9, 1, 0, 0)
            .single()
            .expect("time");
        let mut input = NewComplaint::new(
            "",
            Customer {
                id: Some("cust-9".into()),
                name: "张三丰".into(),
                phone: None,
                id_number: None,
            },
            "phone",
            "billing",
            "上月多扣了 30 元话费",
        );
        input.assignee = Some(Assignee::Agent("a-07".into()));
        let c = svc
            .create(input, &Actor::new("s1", ActorRole::Supervisor), t0)
            .await
            .expect("create");
        // Near breach of the first reply (12 h target), then breached: two
        // nodes scan at each instant.
        for at in [
            t0 + chrono::Duration::hours(11),
            t0 + chrono::Duration::hours(60),
        ] {
            let (a, b) = tokio::join!(svc.scan_sla(at, "node-a"), svc.scan_sla(at, "node-b"));
            a.expect("scan a");
            b.expect("scan b");
        }
        let rows = sqlx::query("SELECT event, recipients FROM notifications ORDER BY id")
            .fetch_all(kefu_store::testing::pool(&store))
            .await
            .expect("rows");
        let got: Vec<(String, String)> = rows
            .iter()
            .map(|r| (r.get("event"), r.get("recipients")))
            .collect();
        let near: Vec<_> = got.iter().filter(|g| g.0 == "sla.near_breach").collect();
        let escalated: Vec<_> = got
            .iter()
            .filter(|g| g.0 == "complaint.escalated")
            .collect();
        assert!(!near.is_empty(), "{got:?}");
        assert!(near.iter().all(|n| n.1 == r#"["a-07"]"#), "{got:?}");
        // One per escalation row, to the supervisors.
        let escalations = count(&store, "SELECT COUNT(*) AS n FROM escalations WHERE kind LIKE '%breach' AND kind NOT LIKE '%near%'").await;
        assert_eq!(escalated.len() as i64, escalations, "{got:?}");
        assert!(
            escalated.iter().all(|n| n.1 == r#"["sup1","sup2"]"#),
            "{got:?}"
        );
        assert!(got.len() as i64 == count(&store, "SELECT COUNT(*) AS n FROM escalations").await);
        let _ = c;
    }
);

both!(
    revisits_and_follow_ups_due_are_notified_once,
    |store: Store, _url: String| async move {
        users(&store).await;
        let now = kefu_store::now_ms();
        // A complaint row is needed for the task; insert through the service.
        let svc = ComplaintService::new(store.clone());
        let c = svc
            .create(
                NewComplaint::new(
                    "",
                    Customer {
                        id: Some("cust-1".into()),
                        name: "李娜".into(),
                        phone: None,
                        id_number: None,
                    },
                    "phone",
                    "billing",
                    "多扣费",
                ),
                &Actor::new("s1", ActorRole::Supervisor),
                Utc::now(),
            )
            .await
            .expect("create");
        let mut tx = store.write().await.expect("tx");
        tx.insert_revisit(&kefu_store::NewRevisit {
            complaint_id: c.id.clone(),
            created_at: now - 10_000,
            due_at: now - 1_000,
            assigned_role: "supervisor",
            result_score: 3,
            attitude_score: 4,
        })
        .await
        .expect("revisit");
        tx.commit().await.expect("commit");
        // Two customers of a-07 due a contact, one of them do-not-disturb.
        for (id, dnd) in [("cu-1", 0i64), ("cu-2", 1i64)] {
            sqlx::query(
                "INSERT INTO customers (id, name, owner_id, grade, grade_manual, profile, do_not_disturb, \
                 last_contact_at, next_due_at, merged_into, created_at, updated_at, version) \
                 VALUES ($1, $2, 'a-07', 'B', 0, '{}', $3, NULL, $4, NULL, 0, 0, 1)",
            )
            .bind(id)
            .bind(format!("客户 {id}"))
            .bind(dnd)
            .bind(now - 60_000)
            .execute(kefu_store::testing::pool(&store))
            .await
            .expect("customer");
        }
        let notify = NotifyService::new(store.clone());
        let (a, b) = tokio::join!(notify.scan_due(now), notify.scan_due(now));
        let (a, b) = (a.expect("a"), b.expect("b"));
        assert_eq!(a.revisits + b.revisits, 1);
        assert_eq!(a.follow_ups + b.follow_ups, 1);
        let again = notify.scan_due(now + 5_000).await.expect("again");
        assert_eq!((again.revisits, again.follow_ups), (0, 0));
        let revisit =
            sqlx::query("SELECT recipients FROM notifications WHERE event = 'revisit.due'")
                .fetch_all(kefu_store::testing::pool(&store))
                .await
                .expect("revisit notification");
        assert_eq!(revisit.len(), 1);
        assert_eq!(
            revisit[0].get::<String, _>("recipients"),
            r#"["sup1","sup2"]"#
        );
        let row = sqlx::query(
            "SELECT recipients, summary, title FROM notifications WHERE event = 'follow_up.due'",
        )
        .fetch_one(kefu_store::testing::pool(&store))
        .await
        .expect("follow-up notification");
        assert_eq!(row.get::<String, _>("recipients"), r#"["a-07"]"#);
        assert!(row.get::<String, _>("summary").contains(r#""due":1"#));
        assert_eq!(row.get::<String, _>("title"), "1 位客户待跟进");
    }
);

both!(
    complaint_assignment_tells_the_agent_not_the_claimer,
    |store: Store, _url: String| async move {
        users(&store).await;
        let svc = ComplaintService::new(store.clone());
        let t0 = Utc
            .with_ymd_and_hms(2026, 3, 9, 1, 0, 0)
            .single()
            .expect("time");
        let new = || {
            NewComplaint::new(
                "",
                Customer {
                    id: Some("cust-3".into()),
                    name: "王五".into(),
                    phone: Some("13812345678".into()),
                    id_number: None,
                },
                "phone",
                "billing",
                "电话 13812345678 多扣费",
            )
        };
        let sup = Actor::new("sup1", ActorRole::Supervisor);
        let c = svc.create(new(), &sup, t0).await.expect("create");
        svc.execute(
            &c.id,
            None,
            &sup,
            kefu_service::complaint::Command::Assign {
                assignee: Assignee::Agent("a-07".into()),
            },
            t0,
        )
        .await
        .expect("assign");
        // The agent claiming another complaint tells nobody.
        let d = svc.create(new(), &sup, t0).await.expect("create");
        svc.execute(
            &d.id,
            None,
            &Actor::new("a-07", ActorRole::Agent),
            kefu_service::complaint::Command::Assign {
                assignee: Assignee::Agent("a-07".into()),
            },
            t0,
        )
        .await
        .expect("claim");
        let rows = sqlx::query(
            "SELECT object_id, recipients, body, summary FROM notifications WHERE event = 'complaint.assigned'",
        )
        .fetch_all(kefu_store::testing::pool(&store))
        .await
        .expect("rows");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].get::<String, _>("object_id"), c.id);
        assert_eq!(rows[0].get::<String, _>("recipients"), r#"["a-07"]"#);
        // No personal data in what is sent out.
        for col in ["body", "summary"] {
            assert!(!rows[0].get::<String, _>(col).contains("13812345678"));
        }
    }
);
