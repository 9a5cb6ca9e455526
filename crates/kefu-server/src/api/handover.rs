//! `/api/v1/handovers`: shift handover (交接班) — shifts per team, the
//! pre-filled items of the next shift's window, handovers, their items'
//! acknowledgement, and the handover settings. The rules (states, who may
//! answer, escalation) are `kefu_service::handover`'s.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::Json;
use kefu_service::handover::{
    Answer, HandoverService, HandoverSettings, ItemInput, ListView, NewHandover, Shift,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::doc;
use crate::api::auth::Caller;
use crate::error::{rejection, ApiError};
use crate::AppState;

type JsonBody<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

fn service(state: &AppState) -> HandoverService {
    HandoverService::new(state.store.clone())
}

fn now() -> i64 {
    kefu_store::now_ms()
}

/// Reads `view` (`mine`, `waiting`, `escalated`; default `mine`).
pub(crate) fn view_of(v: Option<&str>) -> Result<ListView, ApiError> {
    match v.unwrap_or("mine") {
        "" | "mine" => Ok(ListView::Mine),
        "waiting" => Ok(ListView::Waiting),
        "escalated" => Ok(ListView::Escalated),
        other => Err(ApiError::BadRequest(format!(
            "`view` must be mine, waiting or escalated, not `{other}`"
        ))),
    }
}

/// `GET /api/v1/handovers?view=mine|waiting|escalated`: the caller's
/// handovers, those waiting for them, or those with an escalated item.
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let view = view_of(q.get("view").map(String::as_str))?;
    let items = service(&state).list(&caller.principal, view).await?;
    Ok(Json(json!({"items": items})))
}

/// `POST /api/v1/handovers`: create a handover of the caller's shift
/// (`shift`, `to_user`, `note`, `items` — pre-filled from live data when
/// left out — and `submit`). Answers `201 Created` with `Location`.
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: JsonBody<NewHandover>,
) -> Result<axum::response::Response, ApiError> {
    let Json(input) = body.map_err(rejection)?;
    let v = service(&state)
        .create(&caller.principal, input, now())
        .await?;
    let location = format!(
        "/api/v1/handovers/{}",
        crate::web::urls::segment(&v.handover.id)
    );
    Ok(crate::created::respond(
        true,
        Some(location),
        Json(json!(v)),
    ))
}

/// `GET /api/v1/handovers/prefill?shift=早班`: the next shift's window and
/// the items live data suggests for it.
pub(crate) async fn prefill(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let shift = q
        .get("shift")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::BadRequest("`shift` is required, e.g. 早班".into()))?;
    let p = service(&state)
        .prefill(&caller.principal, shift, now())
        .await?;
    Ok(Json(json!(p)))
}

/// `GET /api/v1/handovers/shifts?team=…`: the shifts of a team (every
/// team's without `team`).
pub(crate) async fn shifts(
    State(state): State<AppState>,
    _caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let team = q.get("team").filter(|t| !t.is_empty()).map(String::as_str);
    let items = service(&state).shifts(team).await?;
    Ok(Json(json!({"items": items})))
}

/// Body of `PUT /api/v1/handovers/shifts/{team}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ShiftsBody {
    /// `[{"name":"早班","start":"08:00","end":"16:00"}, …]`.
    shifts: Vec<Shift>,
}

/// `PUT /api/v1/handovers/shifts/{team}`: replace a team's shifts
/// (supervisors and admins).
pub(crate) async fn put_shifts(
    State(state): State<AppState>,
    caller: Caller,
    Path(team): Path<String>,
    body: JsonBody<ShiftsBody>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body.map_err(rejection)?;
    let items = service(&state)
        .put_shifts(&caller.principal, &team, &body.shifts, now())
        .await?;
    Ok(Json(json!({"items": items})))
}

/// `GET /api/v1/handovers/{id}`: the handover, its items (with links to
/// their objects), its history and what the caller may do.
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let v = service(&state).get(&caller.principal, &id).await?;
    Ok(Json(json!(v)))
}

/// Body of `PUT /api/v1/handovers/{id}/items`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ItemsBody {
    /// The version the caller last saw; a concurrent change is a 409.
    #[serde(default)]
    version: Option<i64>,
    /// A new note.
    #[serde(default)]
    note: Option<String>,
    /// The items, replacing the draft's.
    items: Vec<ItemInput>,
}

/// `PUT /api/v1/handovers/{id}/items`: replace a draft's items (its
/// outgoing user).
pub(crate) async fn put_items(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody<ItemsBody>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body.map_err(rejection)?;
    let v = service(&state)
        .replace_items(
            &caller.principal,
            &id,
            &body.items,
            body.note.as_deref(),
            body.version,
            now(),
        )
        .await?;
    Ok(Json(json!(v)))
}

/// Body of `POST /api/v1/handovers/{id}/submit`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct SubmitBody {
    /// The version the caller last saw.
    version: Option<i64>,
}

/// `POST /api/v1/handovers/{id}/submit`: hand the draft to the next shift.
pub(crate) async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody<SubmitBody>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body.map_err(rejection)?;
    let v = service(&state)
        .submit(&caller.principal, &id, body.version, now())
        .await?;
    Ok(Json(json!(v)))
}

/// `POST /api/v1/handovers/{id}/items/{item}/answer`: acknowledge
/// (`{"type":"acknowledge","restatement":"…"}`) or dispute
/// (`{"type":"dispute","reason":"…"}`) an item (the next shift).
pub(crate) async fn answer(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, item)): Path<(String, i64)>,
    body: JsonBody<Answer>,
) -> Result<Json<Value>, ApiError> {
    let Json(a) = body.map_err(rejection)?;
    let v = service(&state)
        .answer(&caller.principal, &id, item, &a, now())
        .await?;
    Ok(Json(json!(v)))
}

/// `GET /api/v1/settings/handover`: when urgent items escalate.
pub(crate) async fn settings(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let s = service(&state).settings().await?;
    Ok(Json(json!({"settings": s})))
}

/// `PUT /api/v1/settings/handover`: replace them (supervisors).
pub(crate) async fn put_settings(
    State(state): State<AppState>,
    caller: Caller,
    body: JsonBody<HandoverSettings>,
) -> Result<Json<Value>, ApiError> {
    let Json(s) = body.map_err(rejection)?;
    service(&state)
        .put_settings(&caller.principal, &s, now())
        .await?;
    Ok(Json(json!({"settings": s})))
}

/// The OpenAPI paths of this module.
pub(crate) fn openapi_paths() -> Value {
    let id = doc::path_id();
    let ok = doc::ok;
    let errors = doc::errors;
    let body = doc::body;
    json!({
        "/api/v1/handovers": {
            "get": {"summary": "Shift handovers (交接班): the caller's, those waiting for them, or those with an escalated item",
                    "parameters": [{"name": "view", "in": "query", "schema": {"type": "string", "enum": ["mine", "waiting", "escalated"], "default": "mine"}}],
                    "responses": errors(ok("items"))},
            "post": {"summary": "Create a handover of the caller's shift: shift, to_user, note, items (pre-filled from live data when left out), submit",
                     "requestBody": body("the handover"),
                     "responses": errors(json!({"201": {"description": "handover, items, history; Location header"}}))}
        },
        "/api/v1/handovers/prefill": {"get": {"summary": "The next shift's window and the items live data suggests: complaints whose first-response or resolution deadline falls in it, revisits, follow-ups, care reminders, open appeals, feedback due",
            "parameters": [{"name": "shift", "in": "query", "required": true, "description": "the caller's shift, e.g. 早班", "schema": {"type": "string"}}],
            "responses": errors(ok("team, shift, next_shift, window_from, window_to, items"))}},
        "/api/v1/handovers/shifts": {"get": {"summary": "Shifts per team (name, start, end as HH:MM China time; may cross midnight)",
            "parameters": [{"name": "team", "in": "query", "schema": {"type": "string"}}],
            "responses": errors(ok("items"))}},
        "/api/v1/handovers/shifts/{team}": {"put": {"summary": "Replace a team's shifts (supervisors)",
            "parameters": [{"name": "team", "in": "path", "required": true, "schema": {"type": "string"}}],
            "requestBody": body("shifts [{name, start, end}]"), "responses": errors(ok("items"))}},
        "/api/v1/handovers/{id}": {"get": {"summary": "A handover with its items, history, may_edit and may_answer", "parameters": [id], "responses": errors(ok("handover, items, history, may_edit, may_answer"))}},
        "/api/v1/handovers/{id}/items": {"put": {"summary": "Replace a draft's items and note (its outgoing user)", "parameters": [id], "requestBody": body("version, note, items"), "responses": errors(ok("handover, items, history"))}},
        "/api/v1/handovers/{id}/submit": {"post": {"summary": "Submit a draft to the next shift", "parameters": [id], "requestBody": body("version"), "responses": errors(ok("handover, items, history"))}},
        "/api/v1/handovers/{id}/items/{item}/answer": {"post": {"summary": "Acknowledge (optionally restated) or dispute an item (the next shift); acknowledging a complaint item assigns the complaint to the caller",
            "parameters": [id, {"name": "item", "in": "path", "required": true, "schema": {"type": "integer"}}],
            "requestBody": body("{type: acknowledge, restatement} or {type: dispute, reason}"),
            "responses": errors(ok("handover, items, history"))}},
        "/api/v1/settings/handover": {
            "get": {"summary": "Handover settings: escalate_after_minutes", "responses": errors(ok("settings"))},
            "put": {"summary": "Replace handover settings (supervisors)", "requestBody": body("settings"), "responses": errors(ok("settings"))}
        }
    })
}
