//! Review, appeals, review queues, KPI reports, star ratings, assessments
//! and their settings, under `/api/v1`.

use std::collections::HashMap;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use kefu_engine::review::ReviewInput;
use kefu_formats::export::{write_csv, Lang};
use kefu_service::kpi::{agents_table_in, centre_table_in, rules_table};
use kefu_service::kpi::{assess_with, KpiService, PeriodReport, QualitySettings};
use kefu_service::period::Period;
use kefu_service::review::ReviewService;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::auth::Caller;
use crate::error::{rejection, ApiError};
use crate::params::{page_params, parse_bool, parse_period, Page};
use crate::AppState;

fn now() -> i64 {
    Utc::now().timestamp_millis()
}

fn period_param(q: &HashMap<String, String>) -> Result<Period, ApiError> {
    parse_period(
        q.get("period").ok_or_else(|| {
            ApiError::BadRequest("`period` is required, e.g. period=2026-10".into())
        })?,
    )
}

/// `GET /api/v1/conversations/{id}/review`: the automatic result, the
/// review (if any), the effective findings with their status, and appeals.
pub(crate) async fn get_review(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let view = ReviewService::new(state.store.clone())
        .view(&caller.principal, &id)
        .await?;
    Ok(Json(json!(view)))
}

/// `PUT /api/v1/conversations/{id}/review`: saves a review (inspectors,
/// supervisors, admins) and returns the recomputed result.
pub(crate) async fn put_review(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(raw) = body.map_err(rejection)?;
    // The body is the review input plus the `version` it was edited from;
    // split that off so the input itself can refuse unknown fields.
    let mut raw = raw;
    let version = match raw.as_object_mut().and_then(|o| o.remove("version")) {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .ok_or_else(|| ApiError::BadRequest("`version` must be a whole number".into()))?,
        ),
    };
    let input: ReviewInput = serde_json::from_value(raw).map_err(rejection)?;
    let view = ReviewService::new(state.store.clone())
        .save_review(&caller.principal, &id, &input, version, now())
        .await?;
    Ok(Json(json!(view)))
}

/// Body of `POST /api/v1/conversations/{id}/appeals`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AppealBody {
    /// The finding's key (`auto:0`, `added:1`, `manual:mandarin`).
    finding: String,
    /// Why the agent thinks it is wrong.
    reason: String,
}

/// `POST /api/v1/conversations/{id}/appeals`: the conversation's agent
/// appeals one finding.
pub(crate) async fn file_appeal(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<AppealBody>, JsonRejection>,
) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    let Json(body) = body.map_err(rejection)?;
    let appeal = ReviewService::new(state.store.clone())
        .file_appeal(&caller.principal, &id, &body.finding, &body.reason, now())
        .await?;
    Ok((axum::http::StatusCode::CREATED, Json(json!(appeal))))
}

/// `GET /api/v1/appeals?state=open`: agents see their own, staff all.
pub(crate) async fn list_appeals(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let filter = q.get("state").map(String::as_str);
    if let Some(s) = filter {
        if !matches!(s, "open" | "accepted" | "rejected") {
            return Err(ApiError::BadRequest(
                "`state` is open, accepted or rejected".into(),
            ));
        }
    }
    let Page { per_page, .. } = page_params(&q)?;
    let items = ReviewService::new(state.store.clone())
        .appeals(&caller.principal, filter, per_page)
        .await?;
    Ok(Json(json!({ "items": items })))
}

/// `GET /api/v1/appeals/{id}`: an appeal and every step taken on it.
pub(crate) async fn get_appeal(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let (appeal, audit) = ReviewService::new(state.store.clone())
        .appeal(&caller.principal, id)
        .await?;
    Ok(Json(json!({ "appeal": appeal, "audit": audit })))
}

/// Body of `POST /api/v1/appeals/{id}/decision`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DecisionBody {
    /// `accept` (申诉成立: the finding is withdrawn) or `reject`.
    decision: String,
    /// Why.
    comment: String,
}

/// `POST /api/v1/appeals/{id}/decision`: a supervisor decides.
pub(crate) async fn decide_appeal(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: Result<Json<DecisionBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body.map_err(rejection)?;
    let accept = match body.decision.as_str() {
        "accept" => true,
        "reject" => false,
        _ => {
            return Err(ApiError::BadRequest(
                "`decision` is accept or reject".into(),
            ))
        }
    };
    let appeal = ReviewService::new(state.store.clone())
        .decide_appeal(&caller.principal, id, accept, &body.comment, now())
        .await?;
    Ok(Json(json!(appeal)))
}

/// Body of `POST /api/v1/review-queue`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueueBody {
    /// Period to sample.
    period: String,
    /// Share of the rest per agent and week (default from settings).
    #[serde(default)]
    rate: Option<f64>,
    /// Seed (default from settings).
    #[serde(default)]
    seed: Option<String>,
}

/// `POST /api/v1/review-queue`: queues every veto, every failed result and
/// a seeded random share of the rest per agent and week.
pub(crate) async fn build_queue(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<QueueBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body.map_err(rejection)?;
    let period = parse_period(&body.period)?;
    let settings = KpiService::new(state.store.clone()).settings().await?;
    let rate = body.rate.unwrap_or(settings.sampling.rate);
    let seed = body.seed.unwrap_or(settings.sampling.seed);
    let outcome = ReviewService::new(state.store.clone())
        .build_queue(&caller.principal, &period, rate, &seed, now())
        .await?;
    Ok(Json(
        json!({"period": period.label, "rate": rate, "seed": seed, "queued": outcome}),
    ))
}

/// `GET /api/v1/review-queue?open=true&agent=a-01`: entries to review,
/// vetoes first.
pub(crate) async fn list_queue(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let open = q
        .get("open")
        .map(|v| parse_bool("open", v))
        .transpose()?
        .unwrap_or(true);
    let Page {
        page,
        per_page,
        offset,
    } = page_params(&q)?;
    let items = ReviewService::new(state.store.clone())
        .queue(
            &caller.principal,
            open,
            q.get("agent").map(String::as_str),
            per_page,
            offset,
        )
        .await?;
    Ok(Json(
        json!({"page": page, "per_page": per_page, "items": items}),
    ))
}

/// The period report, with agents limited to the caller's own row.
async fn scoped_report(
    state: &AppState,
    caller: &Caller,
    period: &Period,
) -> Result<PeriodReport, ApiError> {
    let mut report = (*state.period_report(period).await?).clone();
    if let Some(own) = caller.agent_scope() {
        report.agents.retain(|a| a.id == own);
    }
    Ok(report)
}

fn lang_param(q: &HashMap<String, String>) -> Lang {
    q.get("lang")
        .and_then(|l| l.parse().ok())
        .unwrap_or_default()
}

fn csv_response(
    table: &kefu_formats::export::Table,
    lang: Lang,
    name: &str,
) -> Result<Response, ApiError> {
    let mut body = Vec::new();
    write_csv(table, lang, &mut body).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.csv\""),
            ),
        ],
        body,
    )
        .into_response())
}

fn wants_csv(q: &HashMap<String, String>) -> Result<bool, ApiError> {
    match q.get("format").map(String::as_str) {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(other) => Err(ApiError::BadRequest(format!(
            "format `{other}`: use json or csv"
        ))),
    }
}

/// `GET /api/v1/reports/agents?period=2026-10[&format=csv&lang=en]`: KPIs
/// against targets and star ratings per agent (agents: only themselves).
pub(crate) async fn report_agents(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let period = period_param(&q)?;
    let csv = wants_csv(&q)?;
    let report = scoped_report(&state, &caller, &period).await?;
    if csv {
        let lang = lang_param(&q);
        let table = agents_table_in(&report, Some(state.inspector().pack()), lang);
        return csv_response(&table, lang, &format!("agents-{}", period.label));
    }
    Ok(Json(json!({"period": report.period, "agents": report.agents})).into_response())
}

/// `GET /api/v1/reports/rules?period=…`: violations per rule (staff).
pub(crate) async fn report_rules(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    caller.require_staff("read centre-wide reports")?;
    let period = period_param(&q)?;
    let csv = wants_csv(&q)?;
    let report = scoped_report(&state, &caller, &period).await?;
    if csv {
        let lang = lang_param(&q);
        let table = rules_table(&report, Some(state.inspector().pack()));
        return csv_response(&table, lang, &format!("rules-{}", period.label));
    }
    let active = state.inspector();
    let names: HashMap<&str, &str> = active
        .pack()
        .rules
        .iter()
        .map(|r| (r.id.as_str(), r.name.as_str()))
        .collect();
    let rules: Vec<Value> = report
        .centre
        .rules
        .iter()
        .map(|r| {
            let mut v = json!(r);
            v["name"] = json!(names
                .get(r.rule.as_str())
                .copied()
                .unwrap_or(r.rule.as_str()));
            v
        })
        .collect();
    Ok(Json(json!({"period": report.period, "rules": rules})).into_response())
}

/// `GET /api/v1/reports/centre?period=…`: the centre's and teams' KPIs
/// against targets (staff).
pub(crate) async fn report_centre(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    caller.require_staff("read centre-wide reports")?;
    let period = period_param(&q)?;
    let csv = wants_csv(&q)?;
    let report = scoped_report(&state, &caller, &period).await?;
    if csv {
        let lang = lang_param(&q);
        let table = centre_table_in(&report, lang);
        return csv_response(&table, lang, &format!("centre-{}", period.label));
    }
    Ok(
        Json(json!({"period": report.period, "centre": report.centre, "teams": report.teams}))
            .into_response(),
    )
}

/// `GET /api/v1/settings/quality`: targets, star thresholds, assessment
/// scheme and sampling defaults.
pub(crate) async fn get_settings(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(
        KpiService::new(state.store.clone()).settings().await?
    )))
}

/// `PUT /api/v1/settings/quality` (supervisors, admins).
pub(crate) async fn put_settings(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<QualitySettings>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require_supervisor("change quality settings")?;
    let Json(settings) = body.map_err(rejection)?;
    let kpis = KpiService::new(state.store.clone());
    kpis.set_settings(&settings, &caller.principal.user_id, now())
        .await?;
    Ok(Json(json!(kpis.settings().await?)))
}

/// Body of `POST /api/v1/assessments`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AssessmentBody {
    /// Period (a month or quarter, usually).
    period: String,
}

/// `POST /api/v1/assessments`: runs the assessment of a period as a draft
/// (supervisors, admins).
pub(crate) async fn run_assessment(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<AssessmentBody>, JsonRejection>,
) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    caller.require_supervisor("run assessments")?;
    let Json(body) = body.map_err(rejection)?;
    let period = parse_period(&body.period)?;
    let run = KpiService::new(state.store.clone())
        .run_assessment(&period, &caller.principal, now())
        .await?;
    Ok((axum::http::StatusCode::CREATED, Json(json!(run))))
}

/// `GET /api/v1/assessments`: runs, newest first (agents: only their rows
/// of published runs).
pub(crate) async fn list_assessments(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let mut runs = KpiService::new(state.store.clone()).assessments().await?;
    if let Some(own) = caller.agent_scope() {
        runs.retain(|r| r.status == "published");
        for r in &mut runs {
            r.results.retain(|a| a.agent_id == own);
        }
    }
    Ok(Json(json!({ "items": runs })))
}

/// `GET /api/v1/assessments/{id}`.
pub(crate) async fn get_assessment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let mut run = KpiService::new(state.store.clone())
        .assessment(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no assessment {id}")))?;
    if let Some(own) = caller.agent_scope() {
        if run.status != "published" {
            return Err(ApiError::NotFound(format!("no assessment {id}")));
        }
        run.results.retain(|a| a.agent_id == own);
    }
    Ok(Json(json!(run)))
}

/// `POST /api/v1/assessments/{id}/publish`: freezes a draft.
pub(crate) async fn publish_assessment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    caller.require_supervisor("publish assessments")?;
    let kpis = KpiService::new(state.store.clone());
    let run = kpis
        .publish_assessment(id, &caller.principal, now())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no assessment {id}")))?;
    if run.status != "published" {
        return Err(ApiError::Conflict(format!(
            "assessment {id} was not published"
        )));
    }
    Ok(Json(json!(run)))
}

/// `GET /api/v1/reports/assessment?period=…`: the assessment computed now,
/// without storing it (staff).
pub(crate) async fn report_assessment(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    caller.require_staff("read assessments")?;
    let period = period_param(&q)?;
    let kpis = KpiService::new(state.store.clone());
    let settings = kpis.settings().await?;
    let report = kpis.report_with(&period, &settings).await?;
    let mystery = kpis.mystery_scores(&period, &settings).await?;
    Ok(Json(json!({
        "period": period,
        "scheme": settings.assessment,
        "results": assess_with(&report, &settings.assessment, &mystery),
    })))
}
