//! kefu's HTTP server: the JSON API under `/api/v1`, its OpenAPI document
//! at `/api/openapi.json`, and `/healthz`.
//!
//! The server keeps no state of its own between requests — sessions, SLA
//! escalations and everything else live in the database — so several
//! `kefu serve` processes can share one PostgreSQL database.

mod api;
mod background;
mod body_timeout;
mod created;
mod error;
mod ids;
mod jobs;
mod listen;
mod params;
pub mod proxy;
mod upload;
mod web;

use std::sync::{Arc, Mutex, RwLock};

use kefu_service::kpi::{KpiService, PeriodReport};
use kefu_service::period::Period;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use kefu_engine::Inspector;
use kefu_store::Store;
use serde_json::{json, Value};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use api::customers as api_customers;
use api::feedback as api_feedback;
use api::handover as api_handover;
use api::notifications as api_notifications;
use api::review_and_kpi;
use api::{auth, complaints, conversations, openapi};

pub use background::{
    spawn_checkpointer, spawn_feedback_ageing, spawn_search_indexer, CHECKPOINT_EVERY,
    FEEDBACK_AGEING_EVERY, SEARCH_INDEXING_EVERY,
};
pub use error::ApiError;
pub use listen::Limits;

/// Largest request body of a batch of conversations.
const MAX_BATCH_BODY_BYTES: usize = 64 * 1024 * 1024;
/// Largest request body elsewhere (forms, commands, rule packs).
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// Largest login or logout body: read before anyone is authenticated.
pub(crate) const MAX_LOGIN_BODY_BYTES: usize = 4 * 1024;

/// The rule pack new conversations are inspected with, compiled, and its
/// version row; replaced whole when another version is activated.
type Active = (Arc<Inspector>, i64);

/// How long a node keeps a computed period report when nothing changed
/// through it (other nodes' and the CLI's writes show after this).
const REPORT_TTL: Duration = Duration::from_secs(30);

/// Period reports computed recently, by period; dropped whenever this node
/// handles a write (any request but GET and HEAD).
#[derive(Default)]
struct ReportCache {
    generation: u64,
    reports: std::collections::HashMap<String, (std::time::Instant, u64, Arc<PeriodReport>)>,
}

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    active: Arc<RwLock<Active>>,
    reports: Arc<Mutex<ReportCache>>,
    jobs: jobs::Jobs,
    max_upload_bytes: u64,
}

/// Largest file uploaded from the dashboard, unless configured
/// (`kefu serve --max-upload-size`): 1 GiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 1 << 30;

impl AppState {
    /// A state over `store` inspecting with `inspector` (pack version row
    /// `pack_version_id`).
    pub fn new(store: Store, inspector: Inspector, pack_version_id: i64) -> AppState {
        AppState {
            store,
            active: Arc::new(RwLock::new((Arc::new(inspector), pack_version_id))),
            reports: Arc::new(Mutex::new(ReportCache::default())),
            jobs: jobs::Jobs::default(),
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
        }
    }

    /// The same state with uploads limited to `bytes` (spooled to a
    /// temporary file as they arrive, so the limit is about disk, not
    /// memory).
    pub fn with_max_upload_bytes(mut self, bytes: u64) -> AppState {
        self.max_upload_bytes = bytes;
        self
    }

    /// Largest accepted upload, in bytes.
    pub fn max_upload_bytes(&self) -> u64 {
        self.max_upload_bytes
    }

    /// KPIs and ratings of `period` with the current settings, reused for
    /// up to 30 s while no write went through this node.
    pub async fn period_report(
        &self,
        period: &Period,
    ) -> Result<Arc<PeriodReport>, kefu_service::Error> {
        let key = period.label.clone();
        let generation = {
            let cache = self.reports.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((at, g, report)) = cache.reports.get(&key) {
                if *g == cache.generation && at.elapsed() < REPORT_TTL {
                    return Ok(report.clone());
                }
            }
            cache.generation
        };
        let report = Arc::new(KpiService::new(self.store.clone()).report(period).await?);
        let mut cache = self.reports.lock().unwrap_or_else(|p| p.into_inner());
        if cache.generation == generation {
            cache
                .reports
                .retain(|_, (at, _, _)| at.elapsed() < REPORT_TTL);
            cache
                .reports
                .insert(key, (std::time::Instant::now(), generation, report.clone()));
        }
        Ok(report)
    }

    /// Forgets computed reports (something changed).
    pub fn reports_changed(&self) {
        let mut cache = self.reports.lock().unwrap_or_else(|p| p.into_inner());
        cache.generation += 1;
        cache.reports.clear();
    }

    fn active(&self) -> Active {
        match self.active.read() {
            Ok(a) => a.clone(),
            // A panic while swapping left the old value: still usable.
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The active pack, compiled.
    pub fn inspector(&self) -> Arc<Inspector> {
        self.active().0
    }

    /// The active pack's version row.
    pub fn pack_version_id(&self) -> i64 {
        self.active().1
    }

    /// Makes `inspector` (version row `pack_version_id`) the active pack of
    /// this node.
    pub fn activate(&self, inspector: Inspector, pack_version_id: i64) {
        let next = (Arc::new(inspector), pack_version_id);
        match self.active.write() {
            Ok(mut a) => *a = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
    }

    /// Switches to the pack version recorded as active in the database when
    /// another node (or the dashboard) activated one; true when it switched.
    pub async fn follow_active_pack(&self) -> Result<bool, String> {
        let Some(id) = self.store.active_pack().await.map_err(|e| e.to_string())? else {
            return Ok(false);
        };
        if id == self.pack_version_id() {
            return Ok(false);
        }
        let source = self
            .store
            .pack_source(id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("active pack version {id} is missing"))?;
        let inspector = kefu_engine::RulePack::from_toml(&source)
            .map_err(|e| e.to_string())
            .and_then(|p| Inspector::new(p).map_err(|e| e.to_string()))?;
        self.activate(inspector, id);
        Ok(true)
    }
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route(
            "/auth/login",
            post(auth::login).layer(DefaultBodyLimit::max(MAX_LOGIN_BODY_BYTES)),
        )
        .route(
            "/auth/logout",
            post(auth::logout).layer(DefaultBodyLimit::max(MAX_LOGIN_BODY_BYTES)),
        )
        .route("/me", get(auth::me))
        .route(
            "/conversations",
            post(conversations::create)
                .layer(DefaultBodyLimit::max(MAX_BATCH_BODY_BYTES))
                .get(conversations::list),
        )
        .route(
            "/imports",
            // The upload limit is the server's (checked while spooling).
            post(conversations::import_file).layer(DefaultBodyLimit::disable()),
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
            get(review_and_kpi::get_review).put(review_and_kpi::put_review),
        )
        .route(
            "/conversations/{id}/appeals",
            post(review_and_kpi::file_appeal),
        )
        .route("/appeals", get(review_and_kpi::list_appeals))
        .route("/appeals/{id}", get(review_and_kpi::get_appeal))
        .route(
            "/appeals/{id}/decision",
            post(review_and_kpi::decide_appeal),
        )
        .route(
            "/review-queue",
            get(review_and_kpi::list_queue).post(review_and_kpi::build_queue),
        )
        .route("/reports/agents", get(review_and_kpi::report_agents))
        .route("/reports/rules", get(review_and_kpi::report_rules))
        .route("/reports/centre", get(review_and_kpi::report_centre))
        .route(
            "/reports/assessment",
            get(review_and_kpi::report_assessment),
        )
        .route(
            "/settings/quality",
            get(review_and_kpi::get_settings).put(review_and_kpi::put_settings),
        )
        .route(
            "/assessments",
            get(review_and_kpi::list_assessments).post(review_and_kpi::run_assessment),
        )
        .route("/assessments/{id}", get(review_and_kpi::get_assessment))
        .route(
            "/assessments/{id}/publish",
            post(review_and_kpi::publish_assessment),
        )
        .route(
            "/customers",
            get(api_customers::list).post(api_customers::create),
        )
        .route(
            "/customers/{id}",
            get(api_customers::get_one).put(api_customers::update),
        )
        .route("/customers/{id}/timeline", get(api_customers::timeline))
        .route(
            "/customers/{id}/conversations",
            get(api_customers::conversations),
        )
        .route(
            "/customers/{id}/grade",
            get(api_customers::grades).post(api_customers::set_grade),
        )
        .route("/customers/{id}/contacts", post(api_customers::log_contact))
        .route("/customers/{id}/merge", post(api_customers::merge))
        .route(
            "/customer-merges/{id}/undo",
            post(api_customers::undo_merge),
        )
        .route(
            "/feedback",
            get(api_feedback::list).post(api_feedback::create),
        )
        .route("/feedback/board", get(api_feedback::board))
        .route("/feedback/themes", get(api_feedback::themes))
        .route("/feedback/{id}", get(api_feedback::get))
        .route("/feedback/{id}/commands", post(api_feedback::command))
        .route(
            "/settings/feedback",
            get(api_feedback::settings).put(api_feedback::put_settings),
        )
        .route(
            "/handovers",
            get(api_handover::list).post(api_handover::create),
        )
        .route("/handovers/prefill", get(api_handover::prefill))
        .route("/handovers/shifts", get(api_handover::shifts))
        .route("/handovers/shifts/{team}", put(api_handover::put_shifts))
        .route("/handovers/{id}", get(api_handover::get))
        .route("/handovers/{id}/items", put(api_handover::put_items))
        .route("/handovers/{id}/submit", post(api_handover::submit))
        .route(
            "/handovers/{id}/items/{item}/answer",
            post(api_handover::answer),
        )
        .route(
            "/settings/handover",
            get(api_handover::settings).put(api_handover::put_settings),
        )
        .route(
            "/mystery/sheets",
            get(api::mystery::sheets).post(api::mystery::save_sheet),
        )
        .route("/mystery/sheets/{id}", get(api::mystery::sheet))
        .route(
            "/mystery/plans",
            get(api::mystery::plans).post(api::mystery::create_plan),
        )
        .route("/mystery/plans/{id}", get(api::mystery::plan))
        .route(
            "/mystery/plans/{id}/state",
            post(api::mystery::set_plan_state),
        )
        .route(
            "/mystery/shops",
            get(api::mystery::shops).post(api::mystery::record_shop),
        )
        .route("/mystery/shops/{id}", get(api::mystery::shop))
        .route("/mystery/shops/{id}/review", post(api::mystery::review))
        .route("/mystery/results", get(api::mystery::results))
        .route("/mystery/agreement", get(api::mystery::agreement))
        .route("/notifications", get(api_notifications::list))
        .route(
            "/notifications/unread-count",
            get(api_notifications::unread_count),
        )
        .route(
            "/notifications/read-all",
            post(api_notifications::mark_all_read),
        )
        .route(
            "/notifications/{id}/read",
            post(api_notifications::mark_read),
        )
        .route(
            "/webhooks",
            get(api_notifications::webhooks).post(api_notifications::add_webhook),
        )
        .route("/webhooks/deliveries", get(api_notifications::deliveries))
        .route(
            "/webhooks/{id}",
            axum::routing::delete(api_notifications::disable_webhook),
        )
        .route(
            "/users/{id}/email",
            axum::routing::put(api_notifications::set_email),
        )
        .route("/follow-ups", get(api_customers::follow_ups))
        .route("/care", get(api_customers::care))
        .route(
            "/settings/customers",
            get(api_customers::settings).put(api_customers::put_settings),
        )
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
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            forget_reports_on_write,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Any request that may change data makes this node's cached reports
/// stale (after it is handled, so a report asked for next sees the change).
async fn forget_reports_on_write(
    State(state): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let writes = !matches!(
        *req.method(),
        axum::http::Method::GET | axum::http::Method::HEAD
    );
    let response = next.run(req).await;
    if writes {
        state.reports_changed();
    }
    response
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such endpoint".into())
}

/// `GET /healthz`: the process is up and the database answers.
async fn health(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state
        .store
        .ping()
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

/// Scans SLA clocks every `every`, escalating breaches to supervisors, and
/// follows the active rule pack. Safe to run on every node: the database
/// lets each escalation happen once.
pub fn spawn_sla_scanner(
    state: &AppState,
    every: Duration,
    node_id: String,
) -> tokio::task::JoinHandle<()> {
    let service = kefu_service::complaint::ComplaintService::new(state.store.clone());
    let state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match state.follow_active_pack().await {
                Ok(true) => tracing::info!(
                    version = state.pack_version_id(),
                    "switched to the rule pack activated on another node"
                ),
                Ok(false) => {}
                Err(e) => tracing::error!(error = %e, "cannot load the active rule pack"),
            }
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

/// Escalates urgent shift-handover items nobody acknowledged in time to the
/// supervisor, every `every`
/// ([`kefu_service::handover::HandoverService::escalate_overdue`]). Safe to
/// run on every node sharing one database: each item's escalation is one
/// row keyed by the item, so it happens once.
pub fn spawn_handover_escalation(
    store: kefu_store::Store,
    every: Duration,
    node_id: String,
) -> tokio::task::JoinHandle<()> {
    let service = kefu_service::handover::HandoverService::new(store);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match service
                .escalate_overdue(chrono::Utc::now().timestamp_millis(), &node_id)
                .await
            {
                Ok(items) => {
                    for i in &items {
                        tracing::warn!(handover = %i.handover_id, item = i.item_id, team = %i.team,
                            "urgent handover item not acknowledged: escalated to supervisor");
                    }
                }
                Err(e) => tracing::error!(error = %e, "handover escalation scan failed"),
            }
        }
    })
}

/// How often `kefu serve` records complaint activity as customer contacts
/// by default ([`spawn_customer_sync`]).
pub const CUSTOMER_SYNC_DEFAULT: Duration = Duration::from_secs(300);

/// Records complaint activity (openings, replies, the customer's
/// responses, surveys and revisits) as contacts of the customers the
/// complaints name every `every`, so it resets their contact cadence
/// ([`kefu_service::customer::CustomerService::sync_complaint_contacts`]).
/// Safe to run on every node sharing one database: a complaint history
/// entry becomes a contact at most once (unique source), so nodes racing
/// over the same entries only skip each other's work.
pub fn spawn_customer_sync(
    store: kefu_store::Store,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    let service = kefu_service::customer::CustomerService::new(store);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match service
                .sync_complaint_contacts(chrono::Utc::now().timestamp_millis())
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    contacts = n,
                    "complaint activity recorded as customer contacts"
                ),
                Err(e) => tracing::error!(error = %e, "customer contact sync failed"),
            }
        }
    })
}

/// Serves on `listener` with the default [`Limits`] until the future
/// `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with_limits(listener, state, Limits::default(), shutdown).await
}

/// Serves on `listener` within `limits` (connection cap, header-read and
/// idle timeout) until the future `shutdown` completes.
pub async fn serve_with_limits(
    listener: tokio::net::TcpListener,
    state: AppState,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = body_timeout::layer(router(state), limits.body_timeout);
    listen::serve(listener, app, limits, shutdown).await
}

/// How often `kefu serve` delivers notifications by default
/// ([`spawn_notifier`]).
pub const NOTIFY_DEFAULT: Duration = Duration::from_secs(15);

/// Every `every`: records the revisits and follow-ups that fell due, then
/// delivers notifications — inbox rows, e-mail (when `config.smtp` is set)
/// and webhooks, with retries ([`kefu_service::notify::Deliverer`]). Safe on
/// every node sharing one database: delivery rows are unique per
/// notification, recipient and channel, and claimed under a lease
/// (`SKIP LOCKED` on PostgreSQL), so each is delivered at most once.
pub fn spawn_notifier(
    store: kefu_store::Store,
    every: Duration,
    config: kefu_service::notify::DeliveryConfig,
) -> Result<tokio::task::JoinHandle<()>, kefu_service::Error> {
    let deliverer = kefu_service::notify::Deliverer::new(store.clone(), config)?;
    let service = kefu_service::notify::NotifyService::new(store);
    Ok(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = service.scan_due(kefu_store::now_ms()).await {
                tracing::error!(error = %e, "scan for revisits and follow-ups due failed");
            }
            match deliverer.run_once(kefu_store::now_ms()).await {
                Ok(r) if r.dead > 0 || r.retried > 0 => {
                    tracing::warn!(report = ?r, "notification deliveries failed")
                }
                Ok(r) if r.sent > 0 || r.expanded > 0 => {
                    tracing::debug!(report = ?r, "notifications delivered")
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "notification delivery failed"),
            }
        }
    }))
}
