//! Group commit ([`Store::write_grouped`]): short interactive writes that
//! queue at the same moment share one write transaction.
//!
//! SQLite has one write lock, so this process's writers take turns through
//! the store's write gate (see [`Store::write`]). Each turn costs more
//! than the write itself: a hand-over between tasks, `BEGIN IMMEDIATE`, and
//! a commit that appends every page the write touched — the table's and
//! each of its indexes' — to the WAL. Under a burst of writers (many agents
//! filing complaints at once) those costs, not the inserts, set the rate
//! and the tail latency.
//!
//! So a grouped write is not run by its caller. It is queued; whoever gets
//! the gate next takes every queued write (up to [`GROUP_LIMIT`]) and runs
//! them one after the other in one transaction, each after the first
//! inside a savepoint: a write that fails is rolled back to its savepoint
//! alone and its caller gets its error at once, while the others go on. (A
//! failed first write has no savepoint: the transaction is rolled back and
//! begun again, still holding the turn. Under light load most groups are
//! a single write, and each such group saves a round trip.) One commit then makes
//! the rest permanent, and only after it does each caller get its result
//! — or, if the commit fails, the commit's error, as none of the group was
//! written. Writes of the group see the earlier ones' rows, exactly as if
//! they had run one after the other.
//!
//! The group runs on a task of its own, so a caller that goes away (a
//! client that disconnects) cannot abandon the other writes half done.
//!
//! PostgreSQL groups the same way, with a gate of its own (plain
//! [`Store::write`] transactions do not queue there). Its writers do not
//! share one lock, but concurrent creates do meet on one row — the day's
//! complaint number, locked from the moment it is taken until the commit —
//! and each commit waits for its WAL flush; a group takes the number many
//! times and flushes once. A write that locks existing rows is better kept
//! out of groups there: two nodes' groups locking several rows in
//! different orders could deadlock (complaint commands stay one
//! transaction each on PostgreSQL for that reason).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{oneshot, OwnedSemaphorePermit};

use crate::dialect;
use crate::{Context, Store, StoreError, Tx};

/// The most writes one group runs, so that a long queue does not keep the
/// lock (and the first callers' answers) for too long.
pub const GROUP_LIMIT: usize = 64;

/// The future of one write of a group, borrowing the group's transaction.
pub type WriteFuture<'t, T> = Pin<Box<dyn Future<Output = T> + Send + 't>>;

/// What is left to do for a write once the group's commit is known:
/// answer its caller.
type Answer = Box<dyn FnOnce(Result<(), &StoreError>) + Send>;

/// One queued write, type-erased: given the group's transaction (or the
/// error that kept the group from starting) it runs the caller's write and
/// says whether to keep it, and how to answer the caller after the commit.
type QueuedRun =
    Box<dyn for<'t> FnOnce(Result<&'t mut Tx, &'t StoreError>) -> WriteFuture<'t, Ran> + Send>;

/// The outcome of one write of a group, before the commit.
struct Ran {
    /// It succeeded: keep its changes (its savepoint stays, unreleased).
    keep: bool,
    answer: Answer,
}

struct Queued {
    id: u64,
    run: QueuedRun,
}

/// The writes waiting for a group. Shared by every clone of a store.
#[derive(Default)]
pub(crate) struct WriteQueue {
    waiting: Mutex<VecDeque<Queued>>,
    next_id: AtomicU64,
    /// How many groups have committed (for tests and logs).
    groups: AtomicU64,
}

impl std::fmt::Debug for WriteQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteQueue")
            .field("groups", &self.groups.load(Ordering::Relaxed))
            .finish()
    }
}

impl WriteQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Queued>> {
        // The queue is only pushed to and drained; a panic elsewhere while
        // it was held cannot have left it half changed.
        self.waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn push(&self, run: QueuedRun) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().push_back(Queued { id, run });
        id
    }

    /// Takes the write `id` back out, if no group has taken it yet.
    fn withdraw(&self, id: u64) -> bool {
        let mut waiting = self.lock();
        match waiting.iter().position(|q| q.id == id) {
            Some(at) => waiting.remove(at).is_some(),
            None => false,
        }
    }

    fn take_group(&self) -> Vec<Queued> {
        let mut waiting = self.lock();
        let n = waiting.len().min(GROUP_LIMIT);
        waiting.drain(..n).collect()
    }
}

impl Store {
    /// Runs `write` in a write transaction and commits it; the transaction
    /// may be shared with other writes of this process queued at the same
    /// moment (see the [module docs](crate::group_commit)), each undone on
    /// its own when it fails.
    ///
    /// `write` must work through the transaction it is given only (another
    /// write transaction of this store would wait for the gate its own
    /// group holds), and must not depend on being alone in it.
    ///
    /// Its result is returned once the commit succeeded; its error at once,
    /// with its changes undone; the commit's error if the group could not
    /// be committed. A write that waited longer than the busy timeout for
    /// its turn fails with [`StoreError::Busy`] without having run.
    pub async fn write_grouped<T, E, F>(&self, write: F) -> Result<T, E>
    where
        F: for<'t> FnOnce(&'t mut Tx) -> WriteFuture<'t, Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let gate = self.group_gate.clone();
        let (send, mut answer) = oneshot::channel::<Result<T, E>>();
        let run: QueuedRun = Box::new(move |tx| {
            Box::pin(async move {
                let tx = match tx {
                    Ok(tx) => tx,
                    Err(e) => {
                        let _ = send.send(Err(E::from(copy_error(e))));
                        return Ran {
                            keep: false,
                            answer: Box::new(|_| {}),
                        };
                    }
                };
                match write(tx).await {
                    Ok(value) => Ran {
                        keep: true,
                        answer: Box::new(move |commit| {
                            let _ = send.send(match commit {
                                Ok(()) => Ok(value),
                                Err(e) => Err(E::from(copy_error(e))),
                            });
                        }),
                    },
                    Err(e) => {
                        let _ = send.send(Err(e));
                        Ran {
                            keep: false,
                            answer: Box::new(|_| {}),
                        }
                    }
                }
            })
        });
        let id = self.write_queue.push(run);
        // A caller that goes away before a group took its write takes it
        // back: it must not run later, unseen.
        let _withdraw = Withdraw {
            queue: &self.write_queue,
            id,
        };
        let wait = Duration::from_millis(dialect::SQLITE_BUSY_TIMEOUT_MS);
        let turn = tokio::time::timeout(wait, gate.acquire_owned());
        tokio::select! {
            biased;
            done = &mut answer => return received(done),
            turn = turn => match turn {
                Ok(Ok(permit)) => {
                    let group = self.write_queue.take_group();
                    if group.is_empty() {
                        // An earlier group ran this write; its answer is
                        // on the way.
                        drop(permit);
                    } else {
                        tokio::spawn(self.clone().run_group(permit, group));
                    }
                }
                Ok(Err(_)) | Err(_) => {
                    if self.write_queue.withdraw(id) {
                        return Err(E::from(StoreError::Busy(format!(
                            "waited {} s for the write queue",
                            wait.as_secs()
                        ))));
                    }
                    // A group holds it already: its answer will come.
                }
            },
        }
        received(answer.await)
    }

    /// Runs `group` in one transaction under `permit` and answers each
    /// write's caller.
    async fn run_group(self, permit: OwnedSemaphorePermit, group: Vec<Queued>) {
        let size = group.len();
        let mut tx = match self.begin_holding(Some(permit)).await {
            Ok(tx) => tx,
            Err(e) => {
                for queued in group {
                    (queued.run)(Err(&e)).await;
                }
                return;
            }
        };
        let mut answers = Vec::with_capacity(size);
        let mut broken: Option<StoreError> = None;
        // The first write runs without a savepoint of its own (most groups
        // under light load hold one write: a round trip saved each); if it
        // fails, the whole transaction is rolled back and begun again.
        let mut first = true;
        let mut pending = group.into_iter();
        while let Some(queued) = pending.next() {
            if let Some(e) = &broken {
                (queued.run)(Err(e)).await;
                continue;
            }
            let alone = std::mem::take(&mut first);
            if !alone {
                if let Err(e) = savepoint(&mut tx, "SAVEPOINT kefu_write").await {
                    (queued.run)(Err(&e)).await;
                    broken = Some(e);
                    continue;
                }
            }
            let ran = (queued.run)(Ok(&mut tx)).await;
            // A kept write's savepoint is not released: the next one
            // shadows it (`ROLLBACK TO` goes to the newest of the name)
            // and the commit keeps them all, so a round trip a write is
            // saved. A released savepoint would stay part of the
            // transaction anyway (PostgreSQL keeps its subtransaction id
            // until the commit either way).
            let end = if ran.keep {
                Ok(())
            } else if alone {
                match tx.restart(&self).await {
                    Ok(fresh) => {
                        tx = fresh;
                        Ok(())
                    }
                    Err(e) => {
                        // No transaction to go on in, and nothing of the
                        // group written (this was its first write).
                        (ran.answer)(Err(&e));
                        for queued in pending {
                            (queued.run)(Err(&e)).await;
                        }
                        return;
                    }
                }
            } else {
                // It may have written a setting it then read back.
                tx.settings_read.forget();
                savepoint(&mut tx, "ROLLBACK TO kefu_write").await
            };
            match end {
                Ok(()) => answers.push(ran.answer),
                Err(e) => {
                    (ran.answer)(Err(&e));
                    broken = Some(e);
                }
            }
        }
        let outcome = match broken {
            // The transaction is in an unknown state: undo all of it.
            Some(e) => {
                drop(tx);
                Err(e)
            }
            None => tx.commit().await,
        };
        if outcome.is_ok() {
            self.write_queue.groups.fetch_add(1, Ordering::Relaxed);
        }
        tracing::debug!(size, ok = outcome.is_ok(), "group commit");
        for answer in answers {
            answer(outcome.as_ref().map(|_| ()));
        }
    }

    /// How many write groups this store (and its clones) has committed.
    pub fn write_groups_committed(&self) -> u64 {
        self.write_queue.groups.load(Ordering::Relaxed)
    }
}

/// Takes a queued write back out when its caller stops waiting.
struct Withdraw<'a> {
    queue: &'a WriteQueue,
    id: u64,
}

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        self.queue.withdraw(self.id);
    }
}

async fn savepoint(tx: &mut Tx, sql: &'static str) -> Result<(), StoreError> {
    sqlx::query(sql)
        .execute(tx.conn())
        .await
        .context("marking a write of a group")
        .map(|_| ())
}

/// The caller's answer; a group task that ended without one (it panicked)
/// means nothing of the write was committed.
fn received<T, E: From<StoreError>>(
    answer: Result<Result<T, E>, oneshot::error::RecvError>,
) -> Result<T, E> {
    answer.unwrap_or_else(|_| {
        Err(E::from(StoreError::Busy(
            "the write's group stopped before committing".into(),
        )))
    })
}

/// The group's one error, for each of its callers.
fn copy_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Busy(m) => StoreError::Busy(m.clone()),
        StoreError::Conflict(m) => StoreError::Conflict(m.clone()),
        other => StoreError::Database {
            context: "committing a group of writes",
            source: sqlx::Error::Io(std::io::Error::other(other.to_string())),
        },
    }
}
