//! Group commit ([`Store::write_grouped`]): writes queued together share a
//! transaction on SQLite, yet each one succeeds or fails on its own, and
//! its caller hears only after the commit.

use std::sync::Arc;
use std::time::Duration;

use kefu_store::group_commit::WriteFuture;
use kefu_store::testing::TestDb;
use kefu_store::{both_backends, HistoryRow, Store, StoreError, Tx};
use tokio::sync::Barrier;

/// How a grouped write ends.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Ending {
    Succeeds,
    /// The write itself returns an error.
    Refuses,
    /// A statement of the write fails in the database (a foreign key), which
    /// on PostgreSQL aborts the transaction up to the savepoint.
    BreaksAStatement,
}

/// Takes the next number of the sequence `name` in a grouped write, then
/// ends as `ending` says.
async fn take_number(store: Store, name: &'static str, ending: Ending) -> Result<i64, StoreError> {
    store
        .write_grouped(
            move |tx: &mut Tx| -> WriteFuture<'_, Result<i64, StoreError>> {
                Box::pin(async move {
                    let n = tx.next_sequence(name).await?;
                    match ending {
                        Ending::Succeeds => Ok(n),
                        Ending::Refuses => {
                            Err(StoreError::Conflict(format!("writer refused number {n}")))
                        }
                        Ending::BreaksAStatement => {
                            tx.append_complaint_history(&HistoryRow {
                                id: 0,
                                complaint_id: "no-such-complaint".into(),
                                at: 0,
                                actor_id: "t".into(),
                                actor_role: "agent".into(),
                                kind: "note".into(),
                                from_state: None,
                                to_state: None,
                                detail: "{}".into(),
                            })
                            .await?;
                            Ok(n)
                        }
                    }
                })
            },
        )
        .await
}

fn ending_of(writer: usize) -> Ending {
    match writer % 5 {
        0 => Ending::Refuses,
        3 => Ending::BreaksAStatement,
        _ => Ending::Succeeds,
    }
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
                (i, take_number(store, "grouped", ending_of(i)).await)
            }));
        }
        let mut taken = Vec::new();
        for task in tasks {
            let (i, outcome) = task.await.expect("writer task");
            match (ending_of(i), outcome) {
                (Ending::Succeeds, Ok(n)) => taken.push(n),
                (Ending::Refuses, Err(StoreError::Conflict(_))) => {}
                (Ending::BreaksAStatement, Err(StoreError::Database { .. })) => {}
                (ending, outcome) => panic!("writer {i} ({ending:?}): {outcome:?}"),
            }
        }
        // A failed writer's number was given back with its savepoint, so
        // the ones kept are exactly 1..=kept, each once.
        taken.sort_unstable();
        let kept = (0..WRITERS)
            .filter(|&i| ending_of(i) == Ending::Succeeds)
            .count();
        assert_eq!(taken, (1..=kept as i64).collect::<Vec<_>>());
        // And what the callers were told is what was committed.
        let next = take_number(store.clone(), "grouped", Ending::Succeeds)
            .await
            .expect("one more");
        assert_eq!(next, kept as i64 + 1);
        let groups = store.write_groups_committed();
        assert!(
            groups < WRITERS as u64 / 2,
            "{WRITERS} writers queued together should share transactions: {groups} commits"
        );
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
        take_number(store.clone(), "abandoned", Ending::Succeeds),
    )
    .await;
    assert!(gave_up.is_err(), "the write could not have had its turn");
    holder.commit().await.expect("commit");
    // The next grouped write is the first to take a number.
    let n = take_number(store.clone(), "abandoned", Ending::Succeeds)
        .await
        .expect("take");
    assert_eq!(n, 1, "the abandoned write ran after all");
    store.close().await;
}
