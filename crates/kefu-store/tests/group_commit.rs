//! Group commit ([`Store::write_grouped`]): writes queued together share a
//! transaction on SQLite, yet each one succeeds or fails on its own, and
//! its caller hears only after the commit.

use std::sync::Arc;
use std::time::Duration;

use kefu_store::group_commit::WriteFuture;
use kefu_store::testing::TestDb;
use kefu_store::{both_backends, Store, StoreError, Tx};
use tokio::sync::Barrier;

/// Takes the next number of the sequence `name` in a grouped write; with
/// `fail`, the write fails after having taken it.
async fn take_number(store: Store, name: &'static str, fail: bool) -> Result<i64, StoreError> {
    store
        .write_grouped(
            move |tx: &mut Tx| -> WriteFuture<'_, Result<i64, StoreError>> {
                Box::pin(async move {
                    let n = tx.next_sequence(name).await?;
                    if fail {
                        return Err(StoreError::Conflict(format!("writer refused number {n}")));
                    }
                    Ok(n)
                })
            },
        )
        .await
}

const WRITERS: usize = 48;

both_backends!(
    failed_writes_of_a_group_undo_only_themselves,
    |store: Store| async move {
        let start = Arc::new(Barrier::new(WRITERS));
        let mut tasks = Vec::new();
        for i in 0..WRITERS {
            let (store, start) = (store.clone(), start.clone());
            tasks.push(tokio::spawn(async move {
                start.wait().await;
                (i, take_number(store, "grouped", i % 5 == 0).await)
            }));
        }
        let mut taken = Vec::new();
        for task in tasks {
            let (i, outcome) = task.await.expect("writer task");
            match outcome {
                Ok(n) => {
                    assert!(i % 5 != 0, "writer {i} should have failed");
                    taken.push(n);
                }
                Err(StoreError::Conflict(m)) => {
                    assert!(i % 5 == 0, "writer {i} failed: {m}");
                }
                Err(e) => panic!("writer {i}: {e}"),
            }
        }
        // A failed writer's number was given back with its savepoint, so
        // the ones kept are exactly 1..=kept, each once.
        taken.sort_unstable();
        let kept = WRITERS - WRITERS.div_ceil(5);
        assert_eq!(taken, (1..=kept as i64).collect::<Vec<_>>());
        // And what the callers were told is what was committed.
        let next = take_number(store.clone(), "grouped", false)
            .await
            .expect("one more");
        assert_eq!(next, kept as i64 + 1);
        if store.backend() == kefu_store::Backend::Sqlite {
            let groups = store.write_groups_committed();
            assert!(
                groups < WRITERS as u64 / 2,
                "{WRITERS} writers queued together should share transactions: {groups} commits"
            );
        }
    }
);

/// A caller that stops waiting before its turn takes its write back: it
/// is never run later behind the caller's back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_write_never_runs() {
    let db = TestDb::sqlite("an_abandoned_write_never_runs");
    let store = db.open().await;
    // Another writer holds the turn…
    let holder = store.write().await.expect("write transaction");
    // …while a grouped write queues, and its caller gives up.
    let gave_up = tokio::time::timeout(
        Duration::from_millis(100),
        take_number(store.clone(), "abandoned", false),
    )
    .await;
    assert!(gave_up.is_err(), "the write could not have had its turn");
    holder.commit().await.expect("commit");
    // The next grouped write is the first to take a number.
    let n = take_number(store.clone(), "abandoned", false)
        .await
        .expect("take");
    assert_eq!(n, 1, "the abandoned write ran after all");
    store.close().await;
}
