//! Background jobs for the dashboard: re-inspecting every stored
//! conversation with the active pack after a pack was activated.
//!
//! The job runs on the node that was asked, but its status lives in the
//! database (`jobs`, `kefu_store::JobRow`): every node shows its progress,
//! and a second start is refused while one runs on any node (a partial
//! unique index). The running node writes its progress and a heartbeat
//! every [`PROGRESS_EVERY`]; a job whose heartbeat is older than
//! [`STALE_AFTER_MS`] (its node died) is marked abandoned by the next
//! start. The work itself is `Store::reinspect`, page by page in
//! time-bounded write slices, so the dashboard stays responsive and a job
//! stopped half-way leaves whole conversations and can simply be started
//! again. Results a person reviewed or appealed stay current, as with
//! `kefu reinspect`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use kefu_store::{JobRow, ReinspectOutcome, StoreError};

use crate::AppState;

/// Conversations read per page of a re-inspection.
const REINSPECT_PAGE: i64 = 500;
/// The job kind of a re-inspection.
const REINSPECT: &str = "reinspect";
/// How often the running node records progress and its heartbeat.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);
/// A running job without a heartbeat for this long is taken as abandoned.
const STALE_AFTER_MS: i64 = 60_000;

/// The state of the last re-inspection, from the database.
#[derive(Debug, Clone)]
pub(crate) struct ReinspectStatus {
    /// `id@version` of the pack it inspects with.
    pub(crate) pack: String,
    /// Who started it.
    pub(crate) started_by: String,
    /// When, Unix ms.
    pub(crate) started_at: i64,
    /// When it ended, Unix ms (`None` while running).
    pub(crate) finished_at: Option<i64>,
    /// Conversations stored when it started.
    pub(crate) total: i64,
    /// Counts so far.
    pub(crate) outcome: ReinspectOutcome,
    /// Why it stopped, when it failed.
    pub(crate) error: Option<String>,
}

impl From<JobRow> for ReinspectStatus {
    fn from(j: JobRow) -> ReinspectStatus {
        ReinspectStatus {
            pack: j.label,
            started_by: j.started_by,
            started_at: j.started_at,
            finished_at: j.finished_at,
            total: j.total,
            outcome: j.outcome,
            error: j.error,
        }
    }
}

impl ReinspectStatus {
    /// Conversations handled so far.
    pub(crate) fn done(&self) -> u64 {
        let o = &self.outcome;
        o.reinspected + o.unchanged + o.unreadable + o.kept
    }

    /// Whether it is still running.
    pub(crate) fn running(&self) -> bool {
        self.finished_at.is_none()
    }
}

/// This node's name in the jobs it runs.
#[derive(Clone)]
pub(crate) struct Jobs {
    node: Arc<str>,
}

impl Default for Jobs {
    fn default() -> Jobs {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "kefu".into());
        Jobs {
            node: format!("{host}-{}", std::process::id()).into(),
        }
    }
}

impl Jobs {
    /// The last re-inspection's status (any node's), if one was started.
    pub(crate) async fn reinspect_status(
        &self,
        state: &AppState,
    ) -> Result<Option<ReinspectStatus>, StoreError> {
        Ok(state
            .store
            .latest_job(REINSPECT)
            .await?
            .map(ReinspectStatus::from))
    }

    /// Starts re-inspecting with the active pack in the background; false
    /// (nothing started) when a re-inspection is already running on any
    /// node.
    pub(crate) async fn start_reinspect(
        &self,
        state: &AppState,
        by: &str,
    ) -> Result<bool, StoreError> {
        let inspector = state.inspector();
        let version = state.pack_version_id();
        let meta = &inspector.pack().meta;
        let label = format!("{}@{}", meta.id, meta.version);
        let now = Utc::now().timestamp_millis();
        let Some(id) = state
            .store
            .start_job(REINSPECT, &label, by, &self.node, now, STALE_AFTER_MS)
            .await?
        else {
            return Ok(false);
        };
        let state = state.clone();
        tokio::spawn(async move {
            let store = state.store.clone();
            let total = match store.conversation_count().await {
                Ok(total) => total,
                Err(e) => {
                    tracing::warn!(error = %e, "counting conversations");
                    0
                }
            };
            let latest = Arc::new(Mutex::new(ReinspectOutcome::default()));
            let seen = latest.clone();
            let mut progress = move |o: &ReinspectOutcome| {
                *seen.lock().unwrap_or_else(|p| p.into_inner()) = *o;
            };
            // Progress and heartbeat go to the database while it runs.
            let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
            let ticker = {
                let store = store.clone();
                let latest = latest.clone();
                tokio::spawn(async move {
                    loop {
                        tokio::select! {
                            _ = &mut stopped => break,
                            () = tokio::time::sleep(PROGRESS_EVERY) => {}
                        }
                        let o = *latest.lock().unwrap_or_else(|p| p.into_inner());
                        let now = Utc::now().timestamp_millis();
                        if let Err(e) = store.job_progress(id, total, &o, now).await {
                            tracing::warn!(error = %e, "recording re-inspection progress");
                        }
                    }
                })
            };
            let result = match store
                .reinspect_with_progress(&inspector, version, REINSPECT_PAGE, &mut progress)
                .await
            {
                Ok(outcome) => store.refresh_rollups().await.map(|_| outcome),
                Err(e) => Err(e),
            };
            let _ = stop.send(());
            let _ = ticker.await;
            state.reports_changed();
            let now = Utc::now().timestamp_millis();
            let (outcome, error) = match result {
                Ok(outcome) => {
                    tracing::info!(?outcome, "re-inspection done");
                    (outcome, None)
                }
                Err(e) => {
                    tracing::error!(error = %e, "re-inspection failed");
                    let o = *latest.lock().unwrap_or_else(|p| p.into_inner());
                    (o, Some(e.to_string()))
                }
            };
            if let Err(e) = store
                .finish_job(id, total, &outcome, now, error.as_deref())
                .await
            {
                tracing::error!(error = %e, "recording the end of a re-inspection");
            }
        });
        Ok(true)
    }
}
