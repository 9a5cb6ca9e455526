//! A bounded pool for password hashing.
//!
//! Each argon2 hash takes 19 MiB and tens of milliseconds of CPU; without a
//! bound, a burst of (even wrong) logins would run them all at once and
//! grow memory without limit. At most [`max_in_flight`] hashes run at a
//! time; the rest wait their turn.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use tokio::sync::Semaphore;

use crate::error::Error;

static POOL: OnceLock<Semaphore> = OnceLock::new();
static RUNNING: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// Most hashes running at once: the number of CPUs (at least 2).
pub fn max_in_flight() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().max(2))
}

fn pool() -> &'static Semaphore {
    POOL.get_or_init(|| Semaphore::new(max_in_flight()))
}

/// The most hashes that ever ran at once in this process (for tests and
/// diagnostics).
pub fn peak_in_flight() -> usize {
    PEAK.load(Ordering::Relaxed)
}

/// Runs the blocking, expensive `work` on a blocking thread once a slot of
/// the pool is free.
pub async fn run<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    let _slot = pool()
        .acquire()
        .await
        .map_err(|e| Error::Internal(format!("password hashing pool: {e}")))?;
    tokio::task::spawn_blocking(move || {
        let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
        PEAK.fetch_max(now, Ordering::SeqCst);
        let result = work();
        RUNNING.fetch_sub(1, Ordering::SeqCst);
        result
    })
    .await
    .map_err(|e| Error::Internal(format!("password hashing task: {e}")))?
}
