//! `/api/v1/notifications`: the caller's inbox (list, unread count, mark
//! read); `/api/v1/webhooks`: admin-configured webhook endpoints and the
//! delivery log; `/api/v1/users/{id}/email`: users' e-mail addresses
//! (admins). The rules are `kefu_service::notify`'s.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::Json;
use kefu_service::notify::NotifyService;
use serde::Deserialize;
use serde_json::{json, Value};

use super::doc;
use crate::api::auth::Caller;
use crate::error::{rejection, ApiError};
use crate::params::parse_bool;
use crate::AppState;

fn service(state: &AppState) -> NotifyService {
    NotifyService::new(state.store.clone())
}

fn number(q: &HashMap<String, String>, key: &str) -> Result<Option<i64>, ApiError> {
    q.get(key)
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| ApiError::BadRequest(format!("{key} must be a whole number")))
        })
        .transpose()
}

/// `GET /api/v1/notifications?unread=true&before=ID&limit=50`: the
/// caller's notifications, newest first, with the unread count; the next
/// page is `before` = the last item's `id`.
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let unread_only = match q.get("unread") {
        Some(v) => parse_bool("unread", v)?,
        None => false,
    };
    let limit = number(&q, "limit")?.unwrap_or(50).clamp(1, 500);
    let before = number(&q, "before")?;
    let svc = service(&state);
    let items = svc
        .inbox(&caller.principal, before, unread_only, limit)
        .await?;
    let unread = svc.unread_count(&caller.principal).await?;
    let next = (items.len() as i64 == limit)
        .then(|| items.last().map(|i| i.id))
        .flatten();
    Ok(Json(
        json!({"items": items, "unread": unread, "next_before": next}),
    ))
}

/// `GET /api/v1/notifications/unread-count`: `{"unread": N}`.
pub(crate) async fn unread_count(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let unread = service(&state).unread_count(&caller.principal).await?;
    Ok(Json(json!({ "unread": unread })))
}

/// `POST /api/v1/notifications/{id}/read`: marks one read.
pub(crate) async fn mark_read(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let Ok(id) = id.trim().parse::<i64>() else {
        return Err(ApiError::NotFound(format!("no notification {id}")));
    };
    let svc = service(&state);
    svc.mark_read(&caller.principal, id, kefu_store::now_ms())
        .await?;
    let unread = svc.unread_count(&caller.principal).await?;
    Ok(Json(json!({ "id": id, "read": true, "unread": unread })))
}

/// `POST /api/v1/notifications/read-all`: marks all read.
pub(crate) async fn mark_all_read(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let n = service(&state)
        .mark_all_read(&caller.principal, kefu_store::now_ms())
        .await?;
    Ok(Json(json!({ "marked": n, "unread": 0 })))
}

/// The body of `POST /api/v1/webhooks`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewWebhook {
    url: String,
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    events: Option<String>,
}

/// `GET /api/v1/webhooks`: the endpoints (admins; secrets are not shown).
pub(crate) async fn webhooks(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let items = service(&state).webhooks(&caller.principal).await?;
    Ok(Json(json!({ "items": items })))
}

/// `POST /api/v1/webhooks`: adds an endpoint (`url`, `events` filter,
/// `secret` — generated when absent and shown once). 201.
pub(crate) async fn add_webhook(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<NewWebhook>, axum::extract::rejection::JsonRejection>,
) -> Result<axum::response::Response, ApiError> {
    let Json(b) = body.map_err(rejection)?;
    let hook = service(&state)
        .add_webhook(
            &caller.principal,
            &b.url,
            b.secret.as_deref(),
            b.events.as_deref().unwrap_or("*"),
            kefu_store::now_ms(),
        )
        .await?;
    Ok(crate::created::respond(
        true,
        Some(format!("/api/v1/webhooks/{}", hook.id)),
        Json(json!({ "webhook": hook })),
    ))
}

/// `DELETE /api/v1/webhooks/{id}`: switches an endpoint off (its log
/// stays).
pub(crate) async fn disable_webhook(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let Ok(id) = id.trim().parse::<i64>() else {
        return Err(ApiError::NotFound(format!("no webhook {id}")));
    };
    service(&state)
        .disable_webhook(&caller.principal, id)
        .await?;
    Ok(Json(json!({ "id": id, "active": false })))
}

/// `GET /api/v1/webhooks/deliveries?channel=webhook&limit=100`: the
/// delivery log of e-mail and webhooks (admins): state, attempts, last
/// status code and error, next attempt.
pub(crate) async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let limit = number(&q, "limit")?.unwrap_or(100);
    let channel = q.get("channel").filter(|c| !c.is_empty());
    let items = service(&state)
        .delivery_log(&caller.principal, channel.map(String::as_str), limit)
        .await?;
    Ok(Json(json!({ "items": items })))
}

/// The body of `PUT /api/v1/users/{id}/email`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EmailBody {
    email: Option<String>,
}

/// `PUT /api/v1/users/{id}/email`: sets (or, with `null`, clears) a user's
/// e-mail address (admins).
pub(crate) async fn set_email(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<EmailBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(b) = body.map_err(rejection)?;
    service(&state)
        .set_email(&caller.principal, &id, b.email.as_deref())
        .await?;
    Ok(Json(json!({ "id": id, "email": b.email })))
}

/// The OpenAPI paths of these endpoints.
pub(crate) fn openapi_paths() -> Value {
    let id = doc::path_id();
    let ok = |d: &str| doc::errors(doc::ok(d));
    let q = doc::query;
    let body = doc::body;
    json!({
        "/api/v1/notifications": {"get": {"summary": "The caller's notifications, newest first, with the unread count",
            "parameters": [q("unread", "only unread (true/false)"), q("before", "entries with ids below this (paging)"), q("limit", "1–500, default 50")],
            "responses": ok("items, unread, next_before")}},
        "/api/v1/notifications/unread-count": {"get": {"summary": "How many of the caller's notifications are unread", "responses": ok("unread")}},
        "/api/v1/notifications/{id}/read": {"post": {"summary": "Mark one notification read", "parameters": [id], "responses": ok("id, read, unread")}},
        "/api/v1/notifications/read-all": {"post": {"summary": "Mark all the caller's notifications read", "responses": ok("marked, unread")}},
        "/api/v1/webhooks": {
            "get": {"summary": "Webhook endpoints (admins; secrets not shown)", "responses": ok("items")},
            "post": {"summary": "Add a webhook endpoint: url, events (comma-separated, `prefix.*` or `*`), secret (generated if absent, shown once)",
                     "requestBody": body("url, events, secret"), "responses": {"201": {"description": "webhook (with its secret); Location header"}, "400": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"}}}
        },
        "/api/v1/webhooks/{id}": {"delete": {"summary": "Switch a webhook endpoint off", "parameters": [id], "responses": ok("id, active")}},
        "/api/v1/webhooks/deliveries": {"get": {"summary": "Delivery log of e-mail and webhooks (admins): state, attempts, status code, error, next attempt",
            "parameters": [q("channel", "email, webhook or inbox"), q("limit", "1–1000, default 100")], "responses": ok("items")}},
        "/api/v1/users/{id}/email": {"put": {"summary": "Set (or clear with null) a user's e-mail address (admins)", "parameters": [id], "requestBody": body("email"), "responses": ok("id, email")}},
    })
}
