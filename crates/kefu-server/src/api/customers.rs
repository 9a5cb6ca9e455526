//! `/api/v1/customers`: the customer archive (十问 profile), its timeline
//! and figures, grades and overrides, logged contacts, merges, the
//! follow-up queue, the care calendar and the customer settings. Who sees
//! what is decided by [`kefu_service::customer`]; personal data is masked
//! there too.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::Json;
use kefu_service::customer::{ContactInput, CustomerInput, CustomerService, CustomerSettings};
use kefu_store::customers::{CustomerFilter, CustomerListKey};
use serde::Deserialize;
use serde_json::{json, Value};

use super::doc;
use crate::auth::Caller;
use crate::error::{rejection, ApiError};
use crate::params::{page_params, Page};
use crate::AppState;

type Body<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

fn service(state: &AppState) -> CustomerService {
    CustomerService::new(state.store.clone())
}

fn now() -> i64 {
    kefu_store::now_ms()
}

/// `GET /api/v1/customers`: filters `grade`, `owner`, `tag`, `q` (name,
/// id, phone or platform id), `due` (`1`: due by now); `per_page`, and
/// `cursor` (the `next` of the page before) or `page`. `total` is counted
/// up to 1,000 (`total_estimated` past that). Agents see customers they own
/// or served.
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let Page {
        page,
        per_page,
        offset,
    } = page_params(&q)?;
    let grade = match q.get("grade").map(String::as_str) {
        None | Some("") => None,
        Some(g @ ("A" | "B" | "C")) => Some(g.to_string()),
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "`grade` must be A, B or C, got {other:?}"
            )))
        }
    };
    let now = now();
    let filter = CustomerFilter {
        grade,
        owner: q.get("owner").filter(|s| !s.is_empty()).cloned(),
        tag: q.get("tag").filter(|s| !s.is_empty()).cloned(),
        q: q.get("q").filter(|s| !s.is_empty()).cloned(),
        due_before: match q.get("due").map(String::as_str) {
            Some("1" | "true") => Some(now),
            _ => None,
        },
        limit: Some(per_page),
        offset: Some(offset),
        after: match q.get("cursor").map(String::as_str) {
            None | Some("") => None,
            Some(c) => Some(CustomerListKey::from_cursor(c).ok_or_else(|| {
                ApiError::BadRequest(format!("`cursor` {c:?} is not a cursor this list gave"))
            })?),
        },
        ..Default::default()
    };
    let list = service(&state)
        .list(&caller.principal, &filter, now)
        .await?;
    Ok(Json(json!({
        "items": list.items,
        "total": list.total,
        "total_estimated": list.total_estimated,
        "next": list.next,
        "page": page,
        "per_page": per_page,
    })))
}

/// `POST /api/v1/customers`: a new customer (agents own what they create);
/// `201` with `Location`.
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Body<CustomerInput>,
) -> Result<axum::response::Response, ApiError> {
    let Json(input) = body.map_err(rejection)?;
    let view = service(&state)
        .create(&caller.principal, &input, now())
        .await?;
    let location = format!("/api/v1/customers/{}", crate::web::urls::segment(&view.id));
    Ok(crate::created::respond(
        true,
        Some(location),
        Json(json!({"customer": view})),
    ))
}

/// `GET /api/v1/customers/{id}`: the profile, with derived figures.
pub(crate) async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let svc = service(&state);
    let now = now();
    let view = svc.get(&caller.principal, &id, now).await?;
    let stats = svc.stats(&caller.principal, &id, now).await?;
    let owner_name = match view.owner_id.as_deref() {
        Some(o) => svc.agent_names(&[o]).await?.remove(o),
        None => None,
    };
    Ok(Json(
        json!({"customer": view, "owner_name": owner_name, "stats": stats}),
    ))
}

/// `PUT /api/v1/customers/{id}`: replace the archive (`version` for
/// optimistic concurrency).
pub(crate) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Body<CustomerInput>,
) -> Result<Json<Value>, ApiError> {
    let Json(input) = body.map_err(rejection)?;
    let view = service(&state)
        .update(&caller.principal, &id, &input, now())
        .await?;
    Ok(Json(json!({"customer": view})))
}

fn limit(q: &HashMap<String, String>, default: i64) -> Result<i64, ApiError> {
    match q.get("limit") {
        None => Ok(default),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| ApiError::BadRequest(format!("`limit` must be 1–1000, got {v:?}"))),
    }
}

/// `GET /api/v1/customers/{id}/timeline?limit=`: conversations,
/// complaints, surveys, revisits and logged contacts, newest first.
pub(crate) async fn timeline(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let items = service(&state)
        .timeline(&caller.principal, &id, limit(&q, 200)?)
        .await?;
    Ok(Json(json!({"items": items})))
}

/// `GET /api/v1/customers/{id}/conversations`: the conversation ids linked
/// to the customer (the conversation list filtered by customer).
pub(crate) async fn conversations(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let Page {
        page,
        per_page,
        offset,
    } = page_params(&q)?;
    let ids = service(&state)
        .conversations(&caller.principal, &id, per_page, offset)
        .await?;
    Ok(Json(
        json!({"items": ids, "page": page, "per_page": per_page}),
    ))
}

/// `GET /api/v1/customers/{id}/grade`: the grade history.
pub(crate) async fn grades(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let items = service(&state)
        .grade_history(&caller.principal, &id)
        .await?;
    Ok(Json(json!({"items": items})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GradeBody {
    /// `A`, `B`, `C`, or null to clear the override.
    grade: Option<String>,
    reason: String,
}

/// `POST /api/v1/customers/{id}/grade`: a manual grade with a reason
/// (supervisors, admins); `grade: null` clears the override.
pub(crate) async fn set_grade(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Body<GradeBody>,
) -> Result<Json<Value>, ApiError> {
    caller.require_supervisor("set a customer's grade")?;
    let Json(b) = body.map_err(rejection)?;
    let view = service(&state)
        .override_grade(&caller.principal, &id, b.grade.as_deref(), &b.reason, now())
        .await?;
    Ok(Json(json!({"customer": view})))
}

/// `POST /api/v1/customers/{id}/contacts`: log a contact and its outcome
/// (resets the cadence clock); a care contact names its reminder's key.
pub(crate) async fn log_contact(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Body<ContactInput>,
) -> Result<axum::response::Response, ApiError> {
    let Json(c) = body.map_err(rejection)?;
    let new = service(&state)
        .log_contact(&caller.principal, &id, &c, now())
        .await?;
    Ok(crate::created::respond(
        new,
        None,
        Json(json!({"recorded": new})),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MergeBody {
    /// The customer merged into the one in the path.
    merged_id: String,
}

/// `POST /api/v1/customers/{id}/merge`: merge `merged_id` into this
/// customer (supervisors, admins); answers the merge id for undoing it.
pub(crate) async fn merge(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Body<MergeBody>,
) -> Result<axum::response::Response, ApiError> {
    caller.require_supervisor("merge customers")?;
    let Json(b) = body.map_err(rejection)?;
    let merge_id = service(&state)
        .merge(&caller.principal, &id, &b.merged_id, now())
        .await?;
    Ok(crate::created::respond(
        true,
        None,
        Json(json!({"merge_id": merge_id})),
    ))
}

/// `POST /api/v1/customer-merges/{id}/undo`: undo a merge (supervisors,
/// admins).
pub(crate) async fn undo_merge(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_supervisor("undo merges")?;
    let merge_id: i64 = id
        .parse()
        .map_err(|_| ApiError::NotFound(format!("no merge {id}")))?;
    let m = service(&state)
        .undo_merge(&caller.principal, merge_id, now())
        .await?;
    Ok(Json(json!({"merge": m})))
}

fn agent_param(caller: &Caller, q: &HashMap<String, String>) -> Result<String, ApiError> {
    match (
        caller.agent_scope(),
        q.get("agent").filter(|a| !a.is_empty()),
    ) {
        (Some(me), None) => Ok(me.to_string()),
        (_, Some(a)) => Ok(a.clone()),
        (None, None) => Err(ApiError::BadRequest("`agent` is required".into())),
    }
}

/// `GET /api/v1/follow-ups?agent=`: the agent's overdue and due-today
/// customers (agents: their own; `agent` defaults to the caller).
pub(crate) async fn follow_ups(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let agent = agent_param(&caller, &q)?;
    let f = service(&state)
        .follow_ups(&caller.principal, &agent, now())
        .await?;
    Ok(Json(json!(f)))
}

/// `GET /api/v1/care?agent=&days=`: care reminders (birthdays, other
/// important dates, festivals) due now, or within `days` (≤ 366).
pub(crate) async fn care(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let agent = agent_param(&caller, &q)?;
    let days = match q.get("days") {
        None => 0,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|d| (0..=366).contains(d))
            .ok_or_else(|| ApiError::BadRequest(format!("`days` must be 0–366, got {v:?}")))?,
    };
    let items = service(&state)
        .care(&caller.principal, &agent, now(), days)
        .await?;
    Ok(Json(json!({"items": items})))
}

/// `GET /api/v1/settings/customers`: matching keys, cadence, grading and
/// care settings (staff).
pub(crate) async fn settings(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require_staff("read customer settings")?;
    Ok(Json(json!(service(&state).settings().await?)))
}

/// `PUT /api/v1/settings/customers` (supervisors, admins).
pub(crate) async fn put_settings(
    State(state): State<AppState>,
    caller: Caller,
    body: Body<CustomerSettings>,
) -> Result<Json<Value>, ApiError> {
    caller.require_supervisor("change customer settings")?;
    let Json(s) = body.map_err(rejection)?;
    let svc = service(&state);
    svc.put_settings(&caller.principal, &s, now()).await?;
    Ok(Json(json!(svc.settings().await?)))
}

/// The OpenAPI paths of these routes.
pub(crate) fn openapi_paths() -> Value {
    let id = doc::path_id();
    let ok = doc::ok;
    let errors = doc::errors;
    let body = doc::body;
    json!({
        "/api/v1/customers": {
            "get": {"summary": "Customers (agents: owned or served); filters grade, owner, tag, q, due; per_page, cursor (the previous page's next) or page; total counted up to 1000 (total_estimated past that)",
                    "responses": errors(ok("items, total, total_estimated, next"))},
            "post": {"summary": "Create a customer: name, owner_id, profile (十问), phones, platform_ids, tags, fields, purchases, dates",
                     "requestBody": body("the customer"), "responses": errors(json!({"201": {"description": "the customer"}}))}
        },
        "/api/v1/customers/{id}": {
            "get": {"summary": "The profile (personal data masked by role), the owner's display name and derived stats (contacts, complaints, satisfaction trend by month, latest inspection findings)", "parameters": [id], "responses": errors(ok("customer, owner_name, stats"))},
            "put": {"summary": "Replace the archive (version for optimistic concurrency)", "parameters": [id], "requestBody": body("the customer"), "responses": errors(ok("customer"))}
        },
        "/api/v1/customers/{id}/timeline": {"get": {"summary": "Conversations, complaints, surveys, revisits, contacts; newest first", "parameters": [id], "responses": errors(ok("items"))}},
        "/api/v1/customers/{id}/conversations": {"get": {"summary": "Conversation ids linked to the customer", "parameters": [id], "responses": errors(ok("items"))}},
        "/api/v1/customers/{id}/grade": {
            "get": {"summary": "Grade history", "parameters": [id], "responses": errors(ok("items"))},
            "post": {"summary": "Manual grade with a reason, or grade null to clear (supervisors)", "parameters": [id], "requestBody": body("grade, reason"), "responses": errors(ok("customer"))}
        },
        "/api/v1/customers/{id}/contacts": {"post": {"summary": "Log a contact and its outcome (resets the cadence)", "parameters": [id], "requestBody": body("kind, outcome, note, at, care_key"), "responses": errors(json!({"201": {"description": "recorded"}, "200": {"description": "already recorded"}}))}},
        "/api/v1/customers/{id}/merge": {"post": {"summary": "Merge merged_id into this customer (supervisors)", "parameters": [id], "requestBody": body("merged_id"), "responses": errors(json!({"201": {"description": "merge_id"}}))}},
        "/api/v1/customer-merges/{id}/undo": {"post": {"summary": "Undo a merge (supervisors)", "parameters": [id], "responses": errors(ok("merge"))}},
        "/api/v1/follow-ups": {"get": {"summary": "Overdue and due-today customers of an agent", "responses": errors(ok("overdue, due_today"))}},
        "/api/v1/care": {"get": {"summary": "Care reminders of an agent's customers (days: look ahead)", "responses": errors(ok("items"))}},
        "/api/v1/settings/customers": {
            "get": {"summary": "Customer settings (staff)", "responses": errors(ok("settings"))},
            "put": {"summary": "Replace customer settings (supervisors)", "requestBody": body("settings"), "responses": errors(ok("settings"))}
        }
    })
}
