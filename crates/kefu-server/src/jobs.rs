//! Background jobs this node runs for the dashboard: re-inspecting every
//! stored conversation with the active pack after a pack was activated.
//!
//! The job runs on the node that was asked (its status lives in memory, one
//! job at a time per node); the work itself is `Store::reinspect`, page by
//! page in time-bounded write slices, so the dashboard stays responsive and
//! a job that is stopped half-way leaves whole conversations and can simply
//! be started again. Results a person reviewed or appealed stay current,
//! as with `kefu reinspect`.

use std::sync::{Arc, Mutex};

use chrono::Utc;
use kefu_store::ReinspectOutcome;

use crate::AppState;

/// Conversations read per page of a re-inspection.
const REINSPECT_PAGE: i64 = 500;

/// The state of the last re-inspection started on this node.
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

/// The jobs of this node (shared by every clone of the state).
#[derive(Clone, Default)]
pub(crate) struct Jobs {
    reinspect: Arc<Mutex<Option<ReinspectStatus>>>,
}

impl Jobs {
    /// The last re-inspection's status, if one was started.
    pub(crate) fn reinspect_status(&self) -> Option<ReinspectStatus> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<ReinspectStatus>> {
        self.reinspect.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn update(&self, f: impl FnOnce(&mut ReinspectStatus)) {
        if let Some(s) = self.lock().as_mut() {
            f(s);
        }
    }

    /// Starts re-inspecting with the active pack in the background; false
    /// (nothing started) when a re-inspection is already running here.
    pub(crate) fn start_reinspect(&self, state: &AppState, by: &str) -> bool {
        let inspector = state.inspector();
        let version = state.pack_version_id();
        {
            let mut slot = self.lock();
            if slot.as_ref().is_some_and(ReinspectStatus::running) {
                return false;
            }
            let meta = &inspector.pack().meta;
            *slot = Some(ReinspectStatus {
                pack: format!("{}@{}", meta.id, meta.version),
                started_by: by.to_string(),
                started_at: Utc::now().timestamp_millis(),
                finished_at: None,
                total: 0,
                outcome: ReinspectOutcome::default(),
                error: None,
            });
        }
        let jobs = self.clone();
        let state = state.clone();
        tokio::spawn(async move {
            let store = &state.store;
            match store.conversation_count().await {
                Ok(total) => jobs.update(|s| s.total = total),
                Err(e) => tracing::warn!(error = %e, "counting conversations"),
            }
            let progress_jobs = jobs.clone();
            let mut progress = move |o: &ReinspectOutcome| {
                let o = *o;
                progress_jobs.update(|s| s.outcome = o);
            };
            let result = match store
                .reinspect_with_progress(&inspector, version, REINSPECT_PAGE, &mut progress)
                .await
            {
                Ok(outcome) => store.refresh_rollups().await.map(|_| outcome),
                Err(e) => Err(e),
            };
            state.reports_changed();
            let now = Utc::now().timestamp_millis();
            match result {
                Ok(outcome) => {
                    tracing::info!(?outcome, "re-inspection done");
                    jobs.update(|s| {
                        s.outcome = outcome;
                        s.finished_at = Some(now);
                    });
                }
                Err(e) => {
                    tracing::error!(error = %e, "re-inspection failed");
                    jobs.update(|s| {
                        s.error = Some(e.to_string());
                        s.finished_at = Some(now);
                    });
                }
            }
        });
        true
    }
}
