//! kefu's HTTP server: the JSON API under `/api/v1`, its OpenAPI document
//! at `/api/openapi.json`, and `/healthz`.
//!
//! The server keeps no state of its own between requests — sessions, SLA
//! escalations and everything else live in the database — so several
//! `kefu serve` processes can share one PostgreSQL database.

mod auth;
mod complaints;
mod conversations;
mod error;
mod openapi;
mod params;
mod quality;
mod web;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use kefu_engine::Inspector;
use kefu_store::Store;
use serde_json::{json, Value};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use error::ApiError;

/// Largest request body: a batch of conversations.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// The active rule pack, compiled.
    pub inspector: Arc<Inspector>,
    /// The active pack's version row.
    pub pack_version_id: i64,
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/me", get(auth::me))
        .route(
            "/conversations",
            post(conversations::create).get(conversations::list),
        )
        .route("/conversations/{id}", get(conversations::get))
        .route("/packs", get(conversations::packs))
        .route(
            "/complaints",
            post(complaints::create).get(complaints::list),
        )
        .route("/complaints/{id}", get(complaints::get))
        .route("/complaints/{id}/commands", post(complaints::command))
        .route("/revisits/overdue", get(complaints::revisits_overdue))
        .route(
            "/revisits/{id}/complete",
            post(complaints::complete_revisit),
        )
        .route(
            "/settings/sla",
            get(complaints::sla_settings).put(complaints::set_sla_settings),
        )
        .route("/reports/sla", get(complaints::sla_report))
        .route(
            "/conversations/{id}/review",
            get(quality::get_review).put(quality::put_review),
        )
        .route("/conversations/{id}/appeals", post(quality::file_appeal))
        .route("/appeals", get(quality::list_appeals))
        .route("/appeals/{id}", get(quality::get_appeal))
        .route("/appeals/{id}/decision", post(quality::decide_appeal))
        .route(
            "/review-queue",
            get(quality::list_queue).post(quality::build_queue),
        )
        .route("/reports/agents", get(quality::report_agents))
        .route("/reports/rules", get(quality::report_rules))
        .route("/reports/centre", get(quality::report_centre))
        .route("/reports/assessment", get(quality::report_assessment))
        .route(
            "/settings/quality",
            get(quality::get_settings).put(quality::put_settings),
        )
        .route(
            "/assessments",
            get(quality::list_assessments).post(quality::run_assessment),
        )
        .route("/assessments/{id}", get(quality::get_assessment))
        .route("/assessments/{id}/publish", post(quality::publish_assessment))
        .fallback(not_found);
    Router::new()
        .route("/healthz", get(health))
        .route("/api/openapi.json", get(openapi::document))
        .nest("/api/v1", api)
        .merge(web::router())
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(120),
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such endpoint".into())
}

/// `GET /healthz`: the process is up and the database answers.
async fn health(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    sqlx::query("SELECT 1")
        .execute(state.store.pool())
        .await
        .map_err(|e| ApiError::Internal(format!("database check failed: {e}")))?;
    Ok(Json(json!({
        "status": "ok",
        "database": match state.store.backend() {
            kefu_store::Backend::Sqlite => "sqlite",
            kefu_store::Backend::Postgres => "postgres",
        },
    })))
}

/// Scans SLA clocks every `every`, escalating breaches to supervisors. Safe
/// to run on every node: the database lets each escalation happen once.
pub fn spawn_sla_scanner(
    state: &AppState,
    every: Duration,
    node_id: String,
) -> tokio::task::JoinHandle<()> {
    let service = kefu_service::complaints::ComplaintService::new(state.store.clone());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match service.scan_sla(chrono::Utc::now(), &node_id).await {
                Ok(outcome) => {
                    for e in &outcome.escalated {
                        tracing::warn!(escalation = ?e, "SLA escalation to supervisor");
                    }
                }
                Err(e) => tracing::error!(error = %e, "SLA scan failed"),
            }
        }
    })
}

/// Serves on `listener` until the future `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
