//! `/api/v1/conversations`: store and inspect conversations, list and read
//! results.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::Json;
use kefu_engine::Scratch;
use kefu_formats::native::parse_conversation;
use kefu_store::{ConversationFilter, ImportItem, InspectionKey};
use serde_json::{json, Value};

use crate::api::auth::Caller;
use crate::error::ApiError;
use crate::params::{page_params, parse_bool, parse_f64, parse_time_bound, Page};
use crate::AppState;

/// `POST /api/v1/conversations`: one conversation (an object) or a batch (an
/// array), in the native format. Each is inspected and stored with its
/// result; ids already stored are skipped (idempotent); a record without
/// `id` gets a generated one (see [`crate::ids`]). Bad items are reported
/// by index; the rest are stored. `201 Created` when something was stored
/// (with `Location` for a single conversation), `200` when all were
/// already there.
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<axum::response::Response, ApiError> {
    let single = !body.trim_ascii_start().starts_with(b"[");
    caller.require_staff("store conversations")?;
    let inspector = state.inspector();
    // Parsing and inspection are CPU work: keep them off the async threads.
    let (items, errors) = tokio::task::spawn_blocking(move || prepare(&body, &inspector))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    if items.is_empty() && !errors.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "no usable conversation: {}",
            errors
                .iter()
                .map(|(i, m)| format!("[{i}] {m}"))
                .collect::<Vec<_>>()
                .join("; ")
        )));
    }
    let outcome = state
        .store
        .import_batch(state.pack_version_id(), &items)
        .await?;
    let results: Vec<Value> = items
        .iter()
        .map(|i| {
            json!({
                "id": i.id,
                "score": i.inspection.score,
                "grade": i.inspection.grade,
                "passed": i.inspection.passed,
                "veto": i.inspection.veto,
                "findings": i.inspection.findings.len(),
            })
        })
        .collect();
    let body = Json(json!({
        "stored": outcome.inserted,
        "skipped": outcome.skipped,
        "results": results,
        "errors": errors.iter().map(|(i, m)| json!({"index": i, "message": m})).collect::<Vec<_>>(),
    }));
    Ok(crate::created::respond(
        outcome.inserted > 0,
        single
            .then(|| items.first())
            .flatten()
            .map(|i| format!("/api/v1/conversations/{}", crate::web::urls::segment(&i.id))),
        body,
    ))
}

/// `POST /api/v1/imports`: a file in any format `kefu import` reads, as the
/// multipart field `file` (its file name helps detection), spooled to disk
/// up to the server's upload limit, inspected and stored (staff). Answers
/// the counts and the line-numbered errors (the first 1,000); `201` when
/// something was stored, `200` when all was there. With the field `kind`
/// = `complaints` before the file, a CSV/TSV/XLSX complaint list is filed
/// instead (supervisors and admins; inspectors do not open complaints;
/// as `kefu complaints import`).
pub(crate) async fn import_file(
    State(state): State<AppState>,
    caller: Caller,
    mut multipart: axum::extract::Multipart,
) -> Result<axum::response::Response, ApiError> {
    caller.require_staff("import conversations")?;
    let (kind, spooled) = crate::upload::spool(&mut multipart, state.max_upload_bytes()).await?;
    if kind == "complaints" {
        if caller.principal.role == kefu_service::auth::Role::Inspector {
            return Err(ApiError::Forbidden(
                "inspectors do not open complaints".into(),
            ));
        }
        let file = spooled.name().to_string();
        let (encoding, o) =
            crate::upload::import_complaints(&state, &caller.principal, spooled).await?;
        let body = Json(json!({
            "file": file,
            "format": "complaints",
            "encoding": encoding,
            "stored": o.filed,
            "skipped": o.skipped,
            "error_count": o.errors.len(),
            "errors": o.errors.iter().take(1000).map(|(line, m)| json!({"line": line, "message": m})).collect::<Vec<_>>(),
            "without_agent": 0,
            "without_started_at": 0,
        }));
        return Ok(crate::created::respond(o.filed > 0, None, body));
    }
    if kind != "conversations" {
        return Err(ApiError::BadRequest(format!(
            "kind `{kind}` is not conversations or complaints"
        )));
    }
    let o = crate::upload::import(&state, spooled).await?;
    let body = Json(json!({
        "file": o.file,
        "format": o.format,
        "stored": o.stored,
        "skipped": o.skipped,
        "error_count": o.error_count,
        "errors": o.errors.iter().map(|(line, m)| json!({"line": line, "message": m})).collect::<Vec<_>>(),
        "without_agent": o.no_agent,
        "without_started_at": o.no_start,
    }));
    Ok(crate::created::respond(o.stored > 0, None, body))
}

impl From<crate::upload::UploadError> for ApiError {
    fn from(e: crate::upload::UploadError) -> ApiError {
        use crate::upload::UploadError;
        match e {
            UploadError::BadRequest(m) => ApiError::BadRequest(m),
            UploadError::TooLarge(n) => {
                ApiError::TooLarge(format!("the file is larger than the limit of {n} bytes"))
            }
            UploadError::NoFile => ApiError::BadRequest(
                "send the file as the multipart field `file` (not empty)".into(),
            ),
            UploadError::Unreadable(m) => ApiError::Unprocessable(m),
            UploadError::Store(e) => e.into(),
            UploadError::Internal(m) => ApiError::Internal(m),
        }
    }
}

type Prepared = (Vec<ImportItem>, Vec<(usize, String)>);

fn prepare(body: &[u8], inspector: &kefu_engine::Inspector) -> Result<Prepared, ApiError> {
    let trimmed = body.trim_ascii_start();
    let raws: Vec<Box<serde_json::value::RawValue>> = if trimmed.starts_with(b"[") {
        serde_json::from_slice(trimmed)
            .map_err(|e| ApiError::BadRequest(format!("the body is not a JSON array: {e}")))?
    } else {
        vec![serde_json::from_slice(trimmed)
            .map_err(|e| ApiError::BadRequest(format!("the body is not JSON: {e}")))?]
    };
    let mut scratch = Scratch::default();
    let mut items = Vec::with_capacity(raws.len());
    let mut errors = Vec::new();
    for (index, raw) in raws.iter().enumerate() {
        // `id` is optional: a record without one gets a stable generated id.
        let generated = crate::ids::conversation_with_generated_id(raw.get());
        let raw = generated.as_deref().unwrap_or(raw.get());
        match parse_conversation(raw.as_bytes()) {
            Ok(conv) => {
                let ins = inspector.inspect(&conv, &mut scratch);
                items.push(ImportItem::new(&conv, Some(raw), ins));
            }
            Err(e) => errors.push((index, e)),
        }
    }
    Ok((items, errors))
}

/// `GET /api/v1/conversations`: current results, newest first. Filters:
/// `agent`, `from`, `to` (RFC 3339 or `YYYY-MM-DD`, China time), `passed`,
/// `rule`, `min_score`, `max_score`, `channel`, `team`, `reviewed`,
/// `pack_version`, `q` (full-text search of the
/// transcript; space-separated terms must all occur); pagination `per_page`
/// (≤ 1000) and `cursor` (the previous page's `next`; keyset) or `page`
/// (from 1; offset). `total` is exact unless `total_estimated` (a lower
/// bound: counting stops at 1,000). Agents see only their own conversations.
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
    let mut filter = ConversationFilter {
        agent_id: q.get("agent").cloned(),
        from_ms: q
            .get("from")
            .map(|v| parse_time_bound("from", v))
            .transpose()?,
        to_ms: q.get("to").map(|v| parse_time_bound("to", v)).transpose()?,
        passed: q
            .get("passed")
            .map(|v| parse_bool("passed", v))
            .transpose()?,
        rule: q.get("rule").cloned(),
        min_score: q
            .get("min_score")
            .map(|v| parse_f64("min_score", v))
            .transpose()?,
        max_score: q
            .get("max_score")
            .map(|v| parse_f64("max_score", v))
            .transpose()?,
        text: q.get("q").filter(|t| !t.trim().is_empty()).cloned(),
        channel: match q.get("channel").map(String::as_str) {
            None | Some("") => None,
            Some(c @ ("phone" | "chat")) => Some(c.to_string()),
            Some(other) => {
                return Err(ApiError::BadRequest(format!(
                    "channel `{other}`: use phone or chat"
                )))
            }
        },
        team: q.get("team").filter(|t| !t.trim().is_empty()).cloned(),
        pack_version_id: q
            .get("pack_version")
            .map(|v| {
                v.trim().parse::<i64>().map_err(|_| {
                    ApiError::BadRequest(format!("pack_version `{v}` is not a version id"))
                })
            })
            .transpose()?,
        reviewed: q
            .get("reviewed")
            .map(|v| parse_bool("reviewed", v))
            .transpose()?,
        limit: Some(per_page),
        offset: Some(offset),
        after: match q.get("cursor").map(String::as_str) {
            None | Some("") => None,
            Some(c) => Some(InspectionKey::from_cursor(c).ok_or_else(|| {
                ApiError::BadRequest(format!("`cursor` {c:?} is not a cursor this list gave"))
            })?),
        },
    };
    if let Some(own) = caller.agent_scope() {
        match &filter.agent_id {
            Some(asked) if asked != own => {
                return Err(ApiError::Forbidden(
                    "agents see only their own conversations".into(),
                ));
            }
            _ => filter.agent_id = Some(own.to_string()),
        }
    }
    let list = state.store.list_inspections_page(&filter).await?;
    Ok(Json(json!({
        "items": list.items,
        "page": page,
        "per_page": per_page,
        "total": list.total,
        "total_estimated": list.total_estimated,
        "next": list.next.as_ref().map(InspectionKey::to_cursor),
    })))
}

/// `GET /api/v1/conversations/{id}`: the conversation, its current result
/// and the history of results (which pack version produced which).
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let not_found = || ApiError::NotFound(format!("no conversation `{id}`"));
    let conv = state.store.conversation(&id).await?.ok_or_else(not_found)?;
    if let Some(own) = caller.agent_scope() {
        // Same answer as for a missing id: an agent learns nothing about
        // other agents' conversations.
        if conv.agent_id.as_deref() != Some(own) {
            return Err(not_found());
        }
    }
    let history = state.store.inspection_history(&id).await?;
    let current = history
        .iter()
        .find(|h| h.is_current)
        .map(|h| h.result.clone());
    Ok(Json(json!({
        "conversation": conv,
        "inspection": current,
        "history": history.iter().map(|h| json!({
            "id": h.id,
            "pack_version_id": h.pack_version_id,
            "current": h.is_current,
            "score": h.score,
            "passed": h.passed,
            "created_at": kefu_store::json_time::rfc3339(h.created_at),
        })).collect::<Vec<_>>(),
    })))
}

/// `GET /api/v1/packs`: rule-pack versions that produced stored results.
pub(crate) async fn packs(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require_staff("list rule pack versions")?;
    let versions = state.store.pack_versions().await?;
    Ok(Json(
        json!({"items": versions, "active": state.pack_version_id()}),
    ))
}
