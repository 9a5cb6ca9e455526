//! `/api/v1/mystery/…`: mystery customers (神秘客户) — score sheets, plans,
//! shops, reviews, per-agent results and the agreement report. The rules
//! (roles, states, scoring, what agents may see) are
//! `kefu_service::mystery`'s.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kefu_formats::csvout::{CsvOut, Field, LineEnd};
use kefu_service::mystery::{
    AgreementReport, Decision, MysteryService, NewPlan, NewShop, PlanState, SheetInput, ShopFilter,
    ShopState,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::doc;
use crate::api::auth::Caller;
use crate::error::{rejection, ApiError};
use crate::params::{parse_period, parse_time_bound};
use crate::AppState;

/// China time, in which `period` is read.
const CHINA_OFFSET_S: i64 = 8 * 3600;

fn service(state: &AppState) -> MysteryService {
    MysteryService::new(state.store.clone())
}

fn now() -> i64 {
    kefu_store::now_ms()
}

/// `[from, to)` from `period` (China time) or `from`/`to` (either may be
/// missing).
pub(crate) fn range_of(
    q: &HashMap<String, String>,
) -> Result<(Option<i64>, Option<i64>), ApiError> {
    let text = |k: &str| q.get(k).filter(|v| !v.is_empty());
    if let Some(p) = text("period") {
        let (from, to) = parse_period(p)?.utc_ms(CHINA_OFFSET_S);
        return Ok((Some(from), Some(to)));
    }
    Ok((
        text("from")
            .map(|v| parse_time_bound("from", v))
            .transpose()?,
        text("to").map(|v| parse_time_bound("to", v)).transpose()?,
    ))
}

/// `GET /api/v1/mystery/sheets`: the latest version of every score sheet
/// (staff).
pub(crate) async fn sheets(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let items = service(&state).sheets(&caller.principal).await?;
    Ok(Json(json!({"items": items})))
}

/// `POST /api/v1/mystery/sheets`: save a sheet (a new version when the id
/// exists; supervisors). The body is the sheet as JSON, or TOML with
/// `Content-Type: application/toml`.
pub(crate) async fn save_sheet(
    State(state): State<AppState>,
    caller: Caller,
    body: String,
) -> Result<Response, ApiError> {
    let input =
        SheetInput::parse(&body).map_err(|e| ApiError::BadRequest(e.message().to_string()))?;
    let sheet = service(&state)
        .save_sheet(&caller.principal, &input, now())
        .await?;
    let location = format!(
        "/api/v1/mystery/sheets/{}?version={}",
        crate::web::urls::segment(&sheet.id),
        sheet.version
    );
    Ok(crate::created::respond(
        true,
        Some(location),
        Json(json!({"sheet": sheet})),
    ))
}

/// `GET /api/v1/mystery/sheets/{id}?version=N`: a sheet version (the
/// latest by default; staff).
pub(crate) async fn sheet(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let version = match q.get("version") {
        Some(v) => Some(
            v.parse::<i64>()
                .map_err(|_| ApiError::BadRequest("`version` must be a whole number".into()))?,
        ),
        None => None,
    };
    let sheet = service(&state)
        .sheet(&caller.principal, &id, version)
        .await?;
    Ok(Json(json!({"sheet": sheet})))
}

/// `GET /api/v1/mystery/plans?state=active`: plans, newest first (staff;
/// agents never see plans).
pub(crate) async fn plans(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let states = match q.get("state").filter(|s| !s.is_empty()) {
        Some(list) => list
            .split(',')
            .map(|s| {
                s.parse::<PlanState>()
                    .map_err(|e| ApiError::BadRequest(e.message().to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    let items = service(&state).plans(&caller.principal, &states).await?;
    Ok(Json(json!({"items": items})))
}

/// `POST /api/v1/mystery/plans`: create a plan as a draft (supervisors).
pub(crate) async fn create_plan(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<NewPlan>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(input) = body.map_err(rejection)?;
    let plan = service(&state)
        .create_plan(&caller.principal, &input, now())
        .await?;
    let location = format!(
        "/api/v1/mystery/plans/{}",
        crate::web::urls::segment(&plan.id)
    );
    Ok(crate::created::respond(
        true,
        Some(location),
        Json(json!({"plan": plan})),
    ))
}

/// `GET /api/v1/mystery/plans/{id}`: a plan and its shops (staff).
pub(crate) async fn plan(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let svc = service(&state);
    let plan = svc.plan(&caller.principal, &id).await?;
    let shops = svc
        .shops(
            &caller.principal,
            &ShopFilter {
                plan_id: Some(id),
                ..ShopFilter::default()
            },
        )
        .await?;
    Ok(Json(json!({"plan": plan, "shops": shops})))
}

/// Body of `POST /api/v1/mystery/plans/{id}/state`.
#[derive(Debug, Deserialize)]
pub(crate) struct PlanStateBody {
    /// `active` or `closed`.
    state: PlanState,
    /// The version the caller last saw.
    #[serde(default)]
    version: Option<i64>,
}

/// `POST /api/v1/mystery/plans/{id}/state`: activate or close a plan
/// (supervisors).
pub(crate) async fn set_plan_state(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<PlanStateBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body.map_err(rejection)?;
    let plan = service(&state)
        .set_plan_state(&caller.principal, &id, body.state, body.version, now())
        .await?;
    Ok(Json(json!({"plan": plan})))
}

/// `GET /api/v1/mystery/shops?state=&plan_id=&agent_id=&period=|from=&to=`:
/// shops, newest first (at most 1,000). Agents get their own approved
/// shops only.
pub(crate) async fn shops(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let text = |k: &str| q.get(k).filter(|v| !v.is_empty()).cloned();
    let states = match text("state") {
        Some(list) => list
            .split(',')
            .map(|s| {
                s.parse::<ShopState>()
                    .map_err(|e| ApiError::BadRequest(e.message().to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    let (from, to) = range_of(&q)?;
    let filter = ShopFilter {
        states,
        plan_id: text("plan_id"),
        agent_id: text("agent_id"),
        from,
        to,
    };
    let items = service(&state).shops(&caller.principal, &filter).await?;
    Ok(Json(json!({"items": items})))
}

/// `POST /api/v1/mystery/shops`: record a shop (staff): `plan_id`,
/// `shopped_at`, `conversation_id`, `agent_id`, `shopper_name`,
/// `previous_id` (a re-shop), `results` [{item, verdict, note}].
pub(crate) async fn record_shop(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<NewShop>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(input) = body.map_err(rejection)?;
    let shop = service(&state)
        .record_shop(&caller.principal, &input, now())
        .await?;
    let location = format!(
        "/api/v1/mystery/shops/{}",
        crate::web::urls::segment(&shop.id)
    );
    Ok(crate::created::respond(
        true,
        Some(location),
        Json(json!({"shop": shop})),
    ))
}

/// `GET /api/v1/mystery/shops/{id}`: a shop (agents: their own approved
/// ones).
pub(crate) async fn shop(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let shop = service(&state).shop(&caller.principal, &id).await?;
    Ok(Json(json!({"shop": shop})))
}

/// Body of `POST /api/v1/mystery/shops/{id}/review`.
#[derive(Debug, Deserialize)]
pub(crate) struct ReviewBody {
    /// `{"decision":"approve"}` or `{"decision":"return","reason":"…"}`.
    #[serde(flatten)]
    decision: Decision,
    /// The version the caller last saw.
    #[serde(default)]
    version: Option<i64>,
}

/// `POST /api/v1/mystery/shops/{id}/review`: approve or return a
/// submitted shop (supervisors other than the shopper).
pub(crate) async fn review(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<ReviewBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body.map_err(rejection)?;
    let shop = service(&state)
        .review(&caller.principal, &id, &body.decision, body.version, now())
        .await?;
    Ok(Json(json!({"shop": shop})))
}

/// `GET /api/v1/mystery/results?period=|from=&to=`: per agent, the counted
/// shops and their mean score (agents: their own).
pub(crate) async fn results(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let (from, to) = range_of(&q)?;
    let items = service(&state).results(&caller.principal, from, to).await?;
    Ok(Json(json!({"items": items})))
}

/// The agreement report as CSV (UTF-8 with BOM), Chinese or English
/// headers.
pub(crate) fn agreement_csv(report: &AgreementReport, zh: bool) -> Result<Vec<u8>, ApiError> {
    let mut out = CsvOut::new(b"\xEF\xBB\xBF".to_vec(), LineEnd::CrLf);
    let header: &[&str] = if zh {
        &[
            "评分表",
            "项目",
            "内容",
            "质检规则",
            "暗访数",
            "均合格",
            "均不合格",
            "仅暗访不合格",
            "仅质检不合格",
            "一致率%",
            "Kappa",
        ]
    } else {
        &[
            "sheet",
            "item",
            "text",
            "rule",
            "shops",
            "both_pass",
            "both_fail",
            "shopper_only_fail",
            "inspection_only_fail",
            "agreement_pct",
            "kappa",
        ]
    };
    let io = |e: std::io::Error| ApiError::Internal(e.to_string());
    out.write_text_row(header).map_err(io)?;
    for r in &report.items {
        let nums = [
            r.shops.to_string(),
            r.both_pass.to_string(),
            r.both_fail.to_string(),
            r.shopper_only_fail.to_string(),
            r.inspection_only_fail.to_string(),
            r.agreement_pct.map(|v| v.to_string()).unwrap_or_default(),
            r.kappa.map(|v| v.to_string()).unwrap_or_default(),
        ];
        let mut fields = vec![
            Field::Text(&r.sheet_id),
            Field::Text(&r.item),
            Field::Text(&r.text),
            Field::Text(&r.rule),
        ];
        fields.extend(nums.iter().map(|n| Field::Value(n)));
        out.write_fields(&fields).map_err(io)?;
    }
    out.into_inner().map_err(io)
}

/// `GET /api/v1/mystery/agreement?period=|from=&to=&format=csv`: per sheet
/// item mapped to an inspection rule, the shopper's verdicts against the
/// automatic inspection of the linked conversations (staff).
pub(crate) async fn agreement(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let (from, to) = range_of(&q)?;
    let report = service(&state)
        .agreement(&caller.principal, from, to)
        .await?;
    match q.get("format").map(String::as_str) {
        None | Some("") | Some("json") => Ok(Json(json!(report)).into_response()),
        Some("csv") => {
            let bytes = agreement_csv(&report, q.get("lang").map(String::as_str) != Some("en"))?;
            Ok((
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"mystery-agreement.csv\"",
                    ),
                ],
                bytes,
            )
                .into_response())
        }
        Some(other) => Err(ApiError::BadRequest(format!(
            "`format` must be json or csv, got {other:?}"
        ))),
    }
}

/// The OpenAPI paths of this module.
pub(crate) fn openapi_paths() -> Value {
    let id = doc::path_id();
    let q = doc::query;
    let ok = doc::ok;
    let errors = doc::errors;
    let body = doc::body;
    let range = || {
        vec![
            q("period", "2026-11, 2026-Q4 … (China time)"),
            q("from", "shopped from (date or time)"),
            q("to", "shopped before"),
        ]
    };
    let created = |d: &str| json!({"201": {"description": d}});
    json!({
        "/api/v1/mystery/sheets": {
            "get": {"summary": "Score sheets (神秘客户评分表), latest versions (staff)", "responses": errors(ok("items"))},
            "post": {"summary": "Save a score sheet: id, name, sections [{title, items [{id, text, weight, critical, rule}]}] as JSON or TOML; a new version when the id exists (supervisors)",
                     "requestBody": body("the sheet"), "responses": errors(created("sheet; Location header"))}
        },
        "/api/v1/mystery/sheets/{id}": {"get": {"summary": "A score sheet version (latest by default)", "parameters": [id, {"name": "version", "in": "query", "schema": {"type": "integer"}}], "responses": errors(ok("sheet"))}},
        "/api/v1/mystery/plans": {
            "get": {"summary": "Mystery-shopping plans, newest first (staff only: agents never see plans)", "parameters": [q("state", "comma-separated: draft, active, closed")], "responses": errors(ok("items"))},
            "post": {"summary": "Create a plan (draft): title, scenario, persona, script, target_kind (agent/team), target, channel, window_from, window_to, sheet_id (supervisors)",
                     "requestBody": body("the plan"), "responses": errors(created("plan; Location header"))}
        },
        "/api/v1/mystery/plans/{id}": {"get": {"summary": "A plan and its shops (staff)", "parameters": [id], "responses": errors(ok("plan, shops"))}},
        "/api/v1/mystery/plans/{id}/state": {"post": {"summary": "Activate or close a plan: state, version (supervisors)", "parameters": [id], "requestBody": body("state, version"), "responses": errors(ok("plan"))}},
        "/api/v1/mystery/shops": {
            "get": {"summary": "Shops, newest first; agents get only their own approved shops",
                    "parameters": [q("state", "comma-separated: submitted, approved, returned"), q("plan_id", "plan"), q("agent_id", "agent"), q("period", "period (China time)"), q("from", "shopped from"), q("to", "shopped before")],
                    "responses": errors(ok("items"))},
            "post": {"summary": "Record a shop against an active plan: plan_id, shopped_at, conversation_id (must exist; its agent is the agent served), agent_id, shopper_name, previous_id (re-shop), results [{item, verdict pass/fail/na, note}] (staff)",
                     "requestBody": body("the shop"), "responses": errors(created("shop with its score; Location header"))}
        },
        "/api/v1/mystery/shops/{id}": {"get": {"summary": "A shop (agents: their own approved shops)", "parameters": [id], "responses": errors(ok("shop"))}},
        "/api/v1/mystery/shops/{id}/review": {"post": {"summary": "Approve or return a submitted shop: {decision: approve} or {decision: return, reason}; not by its shopper (supervisors)", "parameters": [id], "requestBody": body("decision, reason, version"), "responses": errors(ok("shop"))}},
        "/api/v1/mystery/results": {"get": {"summary": "Per agent: counted shops (approved, latest of each re-shop chain) and the mean score; agents see their own", "parameters": range(), "responses": errors(ok("items"))}},
        "/api/v1/mystery/agreement": {"get": {"summary": "Shopper verdicts against automatic inspection per mapped sheet item: shops, both_pass, both_fail, shopper_only_fail, inspection_only_fail, agreement_pct, kappa (staff); format=csv for CSV",
            "parameters": [q("period", "period (China time)"), q("from", "shopped from"), q("to", "shopped before"), q("format", "json (default) or csv"), q("lang", "zh (default) or en CSV headers")],
            "responses": errors(ok("shops, inspected_shops, items"))}}
    })
}
