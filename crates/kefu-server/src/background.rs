//! Periodic jobs `kefu serve` runs beside the HTTP server. Each is safe on
//! several nodes at once: the service method it calls claims its work in
//! the database, so two nodes never do the same piece twice.

use std::time::Duration;

/// How often `kefu serve` applies the information-feedback ageing rules.
/// The rules themselves count in hours, so five minutes late is on time.
pub const FEEDBACK_AGEING_EVERY: Duration = Duration::from_secs(300);

/// Applies the feedback ageing rules ([`kefu_service::feedback::FeedbackService::age`])
/// every `every`, starting at once: records left untouched longer than
/// their state allows are flagged and escalated, once per state entered.
pub fn spawn_feedback_ageing(
    store: kefu_store::Store,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    let service = kefu_service::feedback::FeedbackService::new(store);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match service.age(chrono::Utc::now().timestamp_millis()).await {
                Ok(out) if out.escalated.is_empty() => {}
                Ok(out) => tracing::info!(
                    escalated = out.escalated.len(),
                    "feedback left untouched escalated by the ageing rules"
                ),
                Err(e) => tracing::error!(error = %e, "feedback ageing failed"),
            }
        }
    })
}

/// How often `kefu serve` checkpoints the SQLite WAL
/// ([`kefu_store::Store::checkpoint`]).
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Checkpoints the SQLite WAL every `every` for a store opened with
/// [`kefu_store::Store::open_for_server`], whose commits never do it
/// themselves: the copying happens here, beside the requests, instead of
/// inside whichever write found the WAL over its limit.
pub fn spawn_checkpointer(
    store: kefu_store::Store,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = store.checkpoint().await {
                tracing::warn!(error = %e, "WAL checkpoint failed");
            }
        }
    })
}

/// How often `kefu serve` looks for queued transcripts to move into the
/// full-text index. Search finds queued transcripts anyway (by a slower
/// substring test), so this bounds how long that slower path lasts, not
/// correctness.
pub const SEARCH_INDEXING_EVERY: Duration = Duration::from_secs(5);

/// Keeps the full-text index complete: first every conversation it has
/// never seen ([`kefu_store::Store::reindex_missing`]: stored before the
/// index existed, or queued by imports), then what imports (on this node,
/// another node or `kefu import`) queue later
/// ([`kefu_store::Store::index_backlog`]).
///
/// While an import is still queueing, indexing waits: two batch writers
/// taking turns with the write lock would make interactive writes wait for
/// both. The queue is indexed once nothing new arrived for one `every`.
pub fn spawn_search_indexer(
    store: kefu_store::Store,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        match store.reindex_missing().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(conversations = n, "indexed for full-text search"),
            Err(e) => tracing::error!(error = %e, "full-text indexing failed"),
        }
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut seen = None;
        loop {
            tick.tick().await;
            let newest = match store.newest_queued_transcript().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::error!(error = %e, "looking for queued transcripts failed");
                    continue;
                }
            };
            let index_now = queue_settled(seen, newest);
            seen = newest;
            if !index_now {
                continue;
            }
            match store.index_backlog().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(conversations = n, "queued transcripts indexed"),
                Err(e) => tracing::error!(error = %e, "full-text indexing failed"),
            }
        }
    })
}

/// Whether to index the search queue now, given its newest entry at the
/// last look and now: only when something waits and nothing was queued
/// since (an import still running gets the write lock to itself).
fn queue_settled(last_look: Option<i64>, now: Option<i64>) -> bool {
    now.is_some() && now == last_look
}

#[cfg(test)]
mod tests {
    use super::queue_settled;

    #[test]
    fn the_queue_is_indexed_once_imports_stop_adding_to_it() {
        assert!(!queue_settled(None, None), "nothing queued");
        assert!(!queue_settled(None, Some(10)), "an import just queued");
        assert!(!queue_settled(Some(10), Some(40)), "still queueing");
        assert!(queue_settled(Some(40), Some(40)), "quiet for a while");
        assert!(!queue_settled(Some(40), None), "indexed meanwhile");
    }
}
