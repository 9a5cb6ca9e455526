//! Background jobs in the database (migration 0018): two nodes — two
//! stores with their own pools on one database — see the same job and its
//! progress, a second start is refused while one runs, and a job whose node
//! stopped sending heartbeats is taken over.

use kefu_store::testing::TestDb;
use kefu_store::{ReinspectOutcome, Store};

async fn two_nodes_share_jobs(db: TestDb) {
    let a = db.open().await;
    let b = Store::open(&db.url).await.expect("second node");
    assert_eq!(b.latest_job("reinspect").await.expect("latest"), None);
    let id = a
        .start_job("reinspect", "zh-CN@1", "boss", "node-a", 1_000, 60_000)
        .await
        .expect("start")
        .expect("nothing runs yet");
    // The other node refuses a second one while it runs…
    let refused = b
        .start_job("reinspect", "zh-CN@1", "admin", "node-b", 2_000, 60_000)
        .await
        .expect("start");
    assert_eq!(refused, None);
    // …and shows its progress.
    let progress = ReinspectOutcome {
        reinspected: 40,
        unchanged: 2,
        unreadable: 0,
        kept: 1,
    };
    a.job_progress(id, 100, &progress, 3_000)
        .await
        .expect("progress");
    let seen = b
        .latest_job("reinspect")
        .await
        .expect("latest")
        .expect("job");
    assert_eq!(
        (
            seen.id,
            seen.total,
            seen.outcome,
            seen.finished_at,
            seen.node.as_str()
        ),
        (id, 100, progress, None, "node-a")
    );
    assert_eq!(seen.heartbeat_at, 3_000);
    a.finish_job(id, 100, &progress, 4_000, None)
        .await
        .expect("finish");
    let done = b
        .latest_job("reinspect")
        .await
        .expect("latest")
        .expect("job");
    assert_eq!(done.finished_at, Some(4_000));
    assert_eq!(done.error, None);

    // Finished: the next may start. A node that dies leaves its job
    // running; once its heartbeat is stale, a start marks it abandoned.
    let second = b
        .start_job("reinspect", "zh-CN@2", "admin", "node-b", 5_000, 60_000)
        .await
        .expect("start")
        .expect("the first finished");
    let early = a
        .start_job("reinspect", "zh-CN@2", "boss", "node-a", 30_000, 60_000)
        .await
        .expect("start");
    assert_eq!(early, None, "its heartbeat is recent");
    let third = a
        .start_job("reinspect", "zh-CN@2", "boss", "node-a", 70_000, 60_000)
        .await
        .expect("start")
        .expect("the stale one was abandoned");
    assert!(third > second);
    let latest = a
        .latest_job("reinspect")
        .await
        .expect("latest")
        .expect("job");
    assert_eq!(latest.id, third);
    b.close().await;
    a.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_on_sqlite() {
    two_nodes_share_jobs(TestDb::sqlite("jobs")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_on_postgres() {
    if let Some(db) = TestDb::postgres("jobs").await {
        two_nodes_share_jobs(db).await;
    }
}
