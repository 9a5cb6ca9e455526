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

/// Reads setting `k` in the write's transaction.
async fn setting_in(tx: &mut Tx) -> Result<Option<String>, StoreError> {
    Ok(tx.settings(&["k"]).await?.pop().map(|(_, v)| v))
}

both_backends!(
    settings_read_in_a_group_follow_its_writes_and_rollbacks,
    |store: Store| async move {
        store.put_setting("k", "old", "t", 0).await.expect("seed");
        // Hold the turn so the three writes below queue into one group.
        let holder = store.write().await.expect("write transaction");
        let read_only = |store: Store| async move {
            store
                .write_grouped(
                    |tx: &mut Tx| -> WriteFuture<'_, Result<Option<String>, StoreError>> {
                        Box::pin(async move { setting_in(tx).await })
                    },
                )
                .await
        };
        let first = tokio::spawn(read_only(store.clone()));
        // Changes the setting, reads it back (the transaction must see its
        // own change, not the first write's read), then fails.
        let changer = tokio::spawn({
            let store = store.clone();
            async move {
                store
                    .write_grouped(
                        |tx: &mut Tx| -> WriteFuture<'_, Result<Option<String>, StoreError>> {
                            Box::pin(async move {
                                tx.put_setting("k", "changed", "t", 1).await?;
                                let seen = setting_in(tx).await?;
                                Err(StoreError::Conflict(format!("saw {seen:?}, then failed")))
                            })
                        },
                    )
                    .await
            }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let last = tokio::spawn(read_only(store.clone()));
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(holder);
        assert_eq!(
            first.await.expect("join").expect("first"),
            Some("old".into())
        );
        match changer.await.expect("join") {
            Err(StoreError::Conflict(m)) => {
                assert_eq!(m, "saw Some(\"changed\"), then failed", "its own write")
            }
            other => panic!("{other:?}"),
        }
        // The failed write was rolled back: the group's last write reads
        // the old value again, not the one the failed write had read.
        assert_eq!(last.await.expect("join").expect("last"), Some("old".into()));
        assert_eq!(store.setting("k").await.expect("read"), Some("old".into()));
    }
);

both_backends!(
    a_group_whose_first_write_fails_keeps_the_others,
    |store: Store| async move {
        for (round, ending) in [Ending::Refuses, Ending::BreaksAStatement]
            .into_iter()
            .enumerate()
        {
            let name: &'static str = ["first-refuses", "first-breaks"][round];
            let before = store.write_groups_committed();
            // A grouped write that holds the group's turn until released,
            // so the three below queue into the next group, in this order.
            let (release, released) = tokio::sync::oneshot::channel::<()>();
            let blocker = tokio::spawn({
                let store = store.clone();
                async move {
                    store
                        .write_grouped(
                            move |_tx: &mut Tx| -> WriteFuture<'_, Result<(), StoreError>> {
                                Box::pin(async move {
                                    let _ = released.await;
                                    Ok(())
                                })
                            },
                        )
                        .await
                }
            });
            tokio::time::sleep(Duration::from_millis(50)).await;
            let mut writers = Vec::new();
            for e in [ending, Ending::Succeeds, Ending::Succeeds] {
                writers.push(tokio::spawn(take_number(store.clone(), name, e)));
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
            release.send(()).expect("blocker waiting");
            blocker.await.expect("join").expect("blocker");
            let mut outcomes = Vec::new();
            for w in writers {
                outcomes.push(w.await.expect("join"));
            }
            match (&outcomes[0], ending) {
                (Err(StoreError::Conflict(_)), Ending::Refuses)
                | (Err(StoreError::Database { .. }), Ending::BreaksAStatement) => {}
                (other, _) => panic!("{ending:?} first write: {other:?}"),
            }
            // The failed first write was undone (its number given back);
            // the two after it in the same group were kept.
            let kept: Vec<i64> = outcomes[1..]
                .iter()
                .map(|o| *o.as_ref().expect("a later write of the group"))
                .collect();
            assert_eq!(kept, vec![1, 2], "{ending:?}");
            assert_eq!(
                store.write_groups_committed() - before,
                2,
                "the blocker's group and one group of three"
            );
            let next = take_number(store.clone(), name, Ending::Succeeds)
                .await
                .expect("one more");
            assert_eq!(
                next, 3,
                "{ending:?}: what the callers were told was committed"
            );
        }
    }
);
