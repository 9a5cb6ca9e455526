//! `/api/v1/feedback`: information feedback (信息反馈) — records, commands,
//! the board per department, theme analysis and the feedback settings.
//! The rules (states, roles, ageing) are `kefu_service::feedback`'s.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::Json;
use kefu_service::feedback::{
    Command, FeedbackFilter, FeedbackService, FeedbackSettings, FeedbackSource, FeedbackState,
    NewFeedback,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::doc;
use crate::api::auth::Caller;
use crate::error::{rejection, ApiError};
use crate::params::{page_params, parse_bool, parse_period, parse_time_bound};
use crate::AppState;

fn service(state: &AppState) -> FeedbackService {
    FeedbackService::new(state.store.clone())
}

fn now() -> i64 {
    kefu_store::now_ms()
}

/// `POST /api/v1/feedback`: record feedback (`source`: `conversation_turn`
/// with `conversation_id` and `turn_index`, `survey_comment`, `complaint`
/// with `complaint_id`, or `manual`; `category` a path of the category
/// tree; `content`). Answers `201 Created` with `Location`.
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<NewFeedback>, axum::extract::rejection::JsonRejection>,
) -> Result<axum::response::Response, ApiError> {
    let Json(input) = body.map_err(rejection)?;
    let f = service(&state)
        .create(&caller.principal, input, now())
        .await?;
    let location = format!("/api/v1/feedback/{}", crate::web::urls::segment(&f.id));
    Ok(crate::created::respond(
        true,
        Some(location),
        Json(json!({"feedback": f})),
    ))
}

/// A query parameter the service refused: 400, like other bad parameters.
fn bad_request(e: kefu_service::Error) -> ApiError {
    ApiError::BadRequest(e.message().to_string())
}

/// Reads the list filters of `GET /api/v1/feedback` (shared with the
/// dashboard's list).
pub(crate) fn filter_of(q: &HashMap<String, String>) -> Result<FeedbackFilter, ApiError> {
    let text = |k: &str| q.get(k).filter(|v| !v.is_empty()).cloned();
    let states = match q.get("state") {
        Some(list) => list
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<FeedbackState>().map_err(bad_request))
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    Ok(FeedbackFilter {
        states,
        department: text("department"),
        owner: text("owner"),
        category: text("category"),
        source: text("source")
            .map(|s| s.parse::<FeedbackSource>().map_err(bad_request))
            .transpose()?,
        conversation_id: text("conversation_id"),
        customer_id: text("customer_id"),
        from: text("from")
            .map(|v| parse_time_bound("from", &v))
            .transpose()?,
        to: text("to").map(|v| parse_time_bound("to", &v)).transpose()?,
        escalated: text("escalated")
            .map(|v| parse_bool("escalated", &v))
            .transpose()?
            .unwrap_or(false),
        overdue: text("overdue")
            .map(|v| parse_bool("overdue", &v))
            .transpose()?
            .unwrap_or(false),
    })
}

/// `GET /api/v1/feedback`: filters `state` (comma-separated), `department`,
/// `owner`, `category` (with subcategories), `source`, `conversation_id`,
/// `customer_id`, `from`, `to` (recorded), `escalated`, `overdue`; keyset
/// pages of `per_page` (≤ 500) after `cursor`. Agents see the records they
/// recorded or own.
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let page = page_params(&q)?;
    if page.per_page > 500 {
        return Err(ApiError::BadRequest(
            "`per_page` must be at most 500 for feedback".into(),
        ));
    }
    let filter = filter_of(&q)?;
    let list = service(&state)
        .list(
            &caller.principal,
            &filter,
            page.per_page,
            q.get("cursor").map(String::as_str),
            now(),
        )
        .await?;
    Ok(Json(json!(list)))
}

/// `GET /api/v1/feedback/{id}`: the record, its history and the commands
/// the caller may run.
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let view = service(&state).get(&caller.principal, &id, now()).await?;
    Ok(Json(json!(view)))
}

/// Body of `POST /api/v1/feedback/{id}/commands`.
#[derive(Debug, Deserialize)]
pub(crate) struct CommandBody {
    /// The version the caller last saw; a concurrent change is a 409.
    #[serde(default)]
    version: Option<i64>,
    /// What to do: `{"type":"assign","department":"物流部","owner_id":"…","due_at":"2026-12-01T10:00:00+08:00"}`,
    /// `start`, `{"type":"respond","response":"…"}`, `tell_customer`,
    /// `close`, `{"type":"reject","reason":"…"}`, `{"type":"note","text":"…"}`.
    command: Command,
}

/// `POST /api/v1/feedback/{id}/commands`: move the record on; every change
/// is recorded in its history.
pub(crate) async fn command(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<CommandBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body.map_err(rejection)?;
    let f = service(&state)
        .execute(&caller.principal, &id, &body.command, body.version, now())
        .await?;
    Ok(Json(json!({"feedback": f})))
}

/// `GET /api/v1/feedback/board`: per department, counts per state, open,
/// overdue and escalated (staff).
pub(crate) async fn board(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let items = service(&state).board(&caller.principal, now()).await?;
    Ok(Json(json!({"items": items})))
}

/// `GET /api/v1/feedback/themes?period=2026-11&verbatims=5`: themes of the
/// period's feedback and customer turns, with counts, trend against the
/// previous period and verbatims (staff).
pub(crate) async fn themes(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let period = parse_period(
        q.get("period")
            .ok_or_else(|| ApiError::BadRequest("`period` is required, e.g. 2026-11".into()))?,
    )?;
    let verbatims = match q.get("verbatims") {
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= 1000)
            .ok_or_else(|| ApiError::BadRequest("`verbatims` must be 0–1000".into()))?,
        None => 5,
    };
    let view = service(&state)
        .themes(&caller.principal, &period, verbatims)
        .await?;
    Ok(Json(json!(view)))
}

/// `GET /api/v1/settings/feedback`: the category tree, ageing rules and
/// default answer time.
pub(crate) async fn settings(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let s = service(&state).settings().await?;
    Ok(Json(json!({"settings": s})))
}

/// `PUT /api/v1/settings/feedback`: replace them (supervisors).
pub(crate) async fn put_settings(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<FeedbackSettings>, axum::extract::rejection::JsonRejection>,
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
    let q = doc::query;
    let ok = doc::ok;
    let errors = doc::errors;
    let body = doc::body;
    json!({
        "/api/v1/feedback": {
            "get": {"summary": "Feedback records (信息反馈), newest first; agents see those they recorded or own",
                    "parameters": [
                        q("state", "comma-separated: new, assigned, in_progress, answered, customer_told, closed, rejected"),
                        q("department", "department"), q("owner", "owner user id"),
                        q("category", "category path, with its subcategories"),
                        q("source", "conversation_turn, survey_comment, complaint or manual"),
                        q("conversation_id", "conversation"), q("customer_id", "customer"),
                        q("from", "recorded from (date or time)"), q("to", "recorded before"),
                        q("escalated", "only those flagged by ageing (true/false)"),
                        q("overdue", "only open ones past due (true/false)"),
                        q("cursor", "the `next` of the previous page"),
                        {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}}
                    ],
                    "responses": errors(ok("items, total, total_estimated, next"))},
            "post": {"summary": "Record feedback: source, conversation_id + turn_index, complaint_id, customer_id, category, content",
                     "requestBody": body("the feedback"),
                     "responses": errors(json!({"201": {"description": "feedback; Location header"}}))}
        },
        "/api/v1/feedback/{id}": {"get": {"summary": "A record with its history and the commands the caller may run", "parameters": [id], "responses": errors(ok("feedback, overdue, history, available_commands"))}},
        "/api/v1/feedback/{id}/commands": {"post": {"summary": "Run a command: assign, start, respond, tell_customer, close, reject, note (version for optimistic concurrency)", "parameters": [id], "requestBody": body("version, command {type, …}"), "responses": errors(ok("feedback"))}},
        "/api/v1/feedback/board": {"get": {"summary": "Per department: counts per state, open, overdue, escalated (staff)", "responses": errors(ok("items"))}},
        "/api/v1/feedback/themes": {"get": {"summary": "Themes of a period's feedback and customer turns: keywords, counts, trend, verbatims (staff)",
            "parameters": [
                {"name": "period", "in": "query", "required": true, "description": "2026-11, 2026-Q4, 2026-W44, 2026-11-05 …", "schema": {"type": "string"}},
                {"name": "verbatims", "in": "query", "description": "texts per theme (default 5)", "schema": {"type": "integer", "minimum": 0, "maximum": 1000}}
            ],
            "responses": errors(ok("period, previous_period, texts, previous_texts, unthemed, themes"))}},
        "/api/v1/settings/feedback": {
            "get": {"summary": "Feedback settings: category tree, ageing per state, answer_within, survey_comment_category", "responses": errors(ok("settings"))},
            "put": {"summary": "Replace feedback settings (supervisors)", "requestBody": body("settings"), "responses": errors(ok("settings"))}
        }
    })
}
