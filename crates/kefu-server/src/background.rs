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
