//! kefu's HTTP server: the JSON API under `/api/v1`, its OpenAPI document
//! at `/api/openapi.json`, and `/healthz`.
//!
//! The server keeps no state of its own between requests — sessions, SLA
//! escalations and everything else live in the database — so several
//! `kefu serve` processes can share one PostgreSQL database.

mod auth;
mod conversations;
mod error;
mod openapi;
mod params;

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
        .fallback(not_found);
    Router::new()
        .route("/healthz", get(health))
        .route("/api/openapi.json", get(openapi::document))
        .nest("/api/v1", api)
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
