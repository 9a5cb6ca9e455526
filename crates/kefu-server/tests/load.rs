//! Reliability under load: an import and a re-inspection run (each with its
//! own connection pool, as `kefu import` and `kefu reinspect` would) while
//! clients save reviews and file complaints through the real server on a
//! random port, over one SQLite file. No request may fail with a 5xx, and
//! every write the server acknowledged must be there afterwards — reviews
//! still on their conversation's current result.
//!
//! The waits of the interactive writes are printed (`--nocapture`) for the
//! record, not asserted: this machine's speed is not a test condition.

use std::time::{Duration, Instant};

use kefu_engine::{Conversation, Inspector, RulePack, Scratch};
use kefu_service::auth::Role;
use kefu_store::testing::TestDb;
use kefu_store::{ImportItem, Store};
use reqwest::StatusCode;
use serde_json::{json, Value};

mod common;

const FIXTURES: &str = include_str!("../../kefu-engine/tests/golden/conversations.jsonl");

/// `copies` copies of every golden conversation, with ids `{prefix}-{n}-…`
/// and all assigned to agent `a-07`.
fn items(inspector: &Inspector, prefix: &str, copies: usize) -> Vec<ImportItem> {
    let mut scratch = Scratch::default();
    let mut out = Vec::new();
    for n in 0..copies {
        for line in FIXTURES.lines().filter(|l| !l.trim().is_empty()) {
            let mut v: Value = serde_json::from_str(line).expect("fixture");
            let id = format!("{prefix}-{n}-{}", v["id"].as_str().unwrap_or("x"));
            v["id"] = json!(id);
            v["agent_id"] = json!("a-07");
            let text = v.to_string();
            let conv: Conversation<'_> = serde_json::from_str(&text).expect("conversation");
            let result = inspector.inspect(&conv, &mut scratch);
            out.push(ImportItem::new(&conv, Some(&text), result));
        }
    }
    out
}

/// One interactive write: its status and how long the client waited.
#[derive(Debug)]
struct Write {
    what: String,
    at: Duration,
    status: StatusCode,
    waited: Duration,
    body: Value,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn import_reinspect_and_api_writes_at_once() {
    let db = TestDb::sqlite("load");
    let url = db.url.clone();
    let server = common::Server::start(
        db,
        &[
            ("qa", Role::Inspector, "inspector-pass-1"),
            ("a-07", Role::Agent, "agent-pass-07"),
        ],
        str::to_string,
    )
    .await;
    let source = kefu_engine::pack::DEFAULT_PACK_ZH_CN;
    let inspector = Inspector::new(RulePack::from_toml(source).expect("pack")).expect("compile");
    let v1 = server
        .store
        .register_pack("zh-CN", "test", source)
        .await
        .expect("pack v1");

    // The batch jobs' own pool, as a separate process would have.
    let batch = Store::open(&url).await.expect("batch store");
    let seeded = items(&inspector, "seed", 12);
    batch.import_batch(v1.id, &seeded).await.expect("seed");
    let review_targets: Vec<String> = seeded.iter().map(|i| i.id.clone()).collect();
    let fresh = items(&inspector, "new", 30);
    let fresh_ids: Vec<String> = fresh.iter().map(|i| i.id.clone()).collect();

    let http = reqwest::Client::new();
    let login = |user: &'static str, password: &'static str| {
        let http = http.clone();
        let base = server.base.clone();
        async move {
            let r: Value = http
                .post(format!("{base}/api/v1/auth/login"))
                .json(&json!({"user": user, "password": password}))
                .send()
                .await
                .expect("login")
                .json()
                .await
                .expect("login json");
            r["token"].as_str().expect("token").to_string()
        }
    };
    let qa = login("qa", "inspector-pass-1").await;
    let agent = login("a-07", "agent-pass-07").await;

    let t0 = Instant::now();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));

    // The import, in batches of 1000 as `kefu import` sends them.
    let import = {
        let batch = batch.clone();
        tokio::spawn(async move {
            let mut inserted = 0;
            for chunk in fresh.chunks(1000) {
                inserted += batch
                    .import_batch(v1.id, chunk)
                    .await
                    .expect("import")
                    .inserted;
            }
            eprintln!("load: import done at {:?}", t0.elapsed());
            inserted
        })
    };
    // The re-inspection with a new pack version, then the rollup refresh.
    let reinspect = {
        let batch = batch.clone();
        tokio::spawn(async move {
            let v2_source = format!("{source}\n# load test: a new version\n");
            let v2 = batch
                .register_pack("zh-CN", "test-2", &v2_source)
                .await
                .expect("pack v2");
            let inspector = Inspector::new(RulePack::from_toml(&v2_source).expect("pack v2"))
                .expect("compile v2");
            let out = batch
                .reinspect(&inspector, v2.id, 1000)
                .await
                .expect("reinspect");
            let reinspected = t0.elapsed();
            batch.refresh_rollups().await.expect("refresh");
            eprintln!(
                "load: re-inspection done at {reinspected:?}, rollups at {:?}",
                t0.elapsed()
            );
            out
        })
    };
    // Reviews: an inspector confirms results one after another.
    let reviews = {
        let (http, base, qa, done) = (http.clone(), server.base.clone(), qa.clone(), done.clone());
        let targets = review_targets.clone();
        tokio::spawn(async move {
            let mut writes = Vec::new();
            for id in targets.iter().step_by(3) {
                if done.load(std::sync::atomic::Ordering::Relaxed) && writes.len() >= 40 {
                    break;
                }
                let started = Instant::now();
                let r = http
                    .put(format!("{base}/api/v1/conversations/{id}/review"))
                    .bearer_auth(&qa)
                    .json(&json!({"decisions": []}))
                    .send()
                    .await
                    .expect("review request");
                let status = r.status();
                let waited = started.elapsed();
                writes.push(Write {
                    at: started - t0,
                    what: id.clone(),
                    status,
                    waited,
                    body: r.json().await.unwrap_or(Value::Null),
                });
            }
            writes
        })
    };
    // Complaints: an agent files them one after another.
    let complaints = {
        let (http, base, agent, done) = (http.clone(), server.base.clone(), agent, done.clone());
        tokio::spawn(async move {
            let mut writes = Vec::new();
            for n in 0..400 {
                if done.load(std::sync::atomic::Ordering::Relaxed) && writes.len() >= 40 {
                    break;
                }
                let started = Instant::now();
                let r = http
                    .post(format!("{base}/api/v1/complaints"))
                    .bearer_auth(&agent)
                    .json(&json!({
                        "id": "",
                        "customer": {"name": "张伟", "phone": "13812345678"},
                        "channel": "phone",
                        "category": "计费",
                        "description": format!("负载测试投诉 {n}"),
                        "special": false
                    }))
                    .send()
                    .await
                    .expect("complaint request");
                let status = r.status();
                let waited = started.elapsed();
                writes.push(Write {
                    at: started - t0,
                    what: format!("complaint {n}"),
                    status,
                    waited,
                    body: r.json().await.unwrap_or(Value::Null),
                });
            }
            writes
        })
    };

    let inserted = import.await.expect("import task");
    let outcome = reinspect.await.expect("reinspect task");
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let reviews = reviews.await.expect("review task");
    let complaints = complaints.await.expect("complaint task");

    let all: Vec<&Write> = reviews.iter().chain(complaints.iter()).collect();
    let server_errors: Vec<&&Write> = all.iter().filter(|w| w.status.is_server_error()).collect();
    let mut waits: Vec<Duration> = all.iter().map(|w| w.waited).collect();
    waits.sort();
    eprintln!(
        "load: {} interactive writes, {} 5xx; waits p50 {:?}, p95 {:?}, max {:?}; \
         imported {inserted}; re-inspection {outcome:?}",
        all.len(),
        server_errors.len(),
        percentile(&waits, 0.5),
        percentile(&waits, 0.95),
        percentile(&waits, 1.0),
    );
    let mut slowest: Vec<&&Write> = all.iter().collect();
    slowest.sort_by_key(|w| std::cmp::Reverse(w.waited));
    for w in all
        .iter()
        .filter(|w| w.what.starts_with("complaint"))
        .take(12)
    {
        eprintln!("load: {} at {:?} waited {:?}", w.what, w.at, w.waited);
    }
    for w in slowest.iter().take(5) {
        eprintln!(
            "load: slowest: {} at {:?} waited {:?}",
            w.what, w.at, w.waited
        );
    }
    assert!(
        server_errors.is_empty(),
        "5xx under load: {server_errors:#?}"
    );
    assert!(reviews.len() >= 40 && complaints.len() >= 40);
    assert_eq!(inserted as usize, fresh_ids.len(), "the import completed");
    assert!(outcome.reinspected > 0, "{outcome:?}");

    // Every acknowledged review is on its conversation's current result.
    let base = &server.base;
    let acknowledged = |w: &&Write| w.status.is_success();
    assert!(
        reviews.iter().filter(acknowledged).count() > 0
            && complaints.iter().filter(acknowledged).count() > 0,
        "some writes must have been acknowledged"
    );
    for w in reviews.iter().filter(acknowledged) {
        let view: Value = http
            .get(format!("{base}/api/v1/conversations/{}/review", w.what))
            .bearer_auth(&qa)
            .send()
            .await
            .expect("read review")
            .json()
            .await
            .expect("review json");
        assert!(
            view["review"].is_object(),
            "review of {} lost after re-inspection: {view}",
            w.what
        );
    }
    // Every acknowledged complaint is stored.
    for w in complaints.iter().filter(acknowledged) {
        let id = w.body["complaint"]["id"].as_str().expect("complaint id");
        let r = http
            .get(format!("{base}/api/v1/complaints/{id}"))
            .bearer_auth(&qa)
            .send()
            .await
            .expect("read complaint");
        assert_eq!(r.status(), StatusCode::OK, "complaint {id} lost");
    }
    // No partial conversations: every imported one has its current result.
    assert_eq!(
        batch.conversation_count().await.expect("count") as usize,
        review_targets.len() + fresh_ids.len()
    );
    batch.close().await;
    server.stop().await;
}
