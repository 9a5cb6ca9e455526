//! `/api/v1/complaints`, revisits, SLA settings and the SLA met-rate report.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::{DateTime, Utc};
use kefu_service::auth as users;
use kefu_service::complaint::{Actor, Assignee, Command, NewComplaint, Priority, RevisitOutcome};
use kefu_service::complaint::{ComplaintFilter, ComplaintService, MetRateGrouping, SlaFilter};
use kefu_service::sla::SlaSettings;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::auth::Caller;
use crate::error::{rejection, ApiError};
use crate::params::{page_params, parse_bool, parse_complaint_states, parse_time_bound, Page};
use crate::AppState;

/// The complaint workflow's view of the caller.
fn actor(caller: &Caller) -> Actor {
    Actor::from_principal(&caller.principal)
}

fn service(state: &AppState) -> ComplaintService {
    ComplaintService::new(state.store.clone())
}

fn utc(ms: i64) -> Result<DateTime<Utc>, ApiError> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| ApiError::BadRequest(format!("time out of range: {ms}")))
}

/// `POST /api/v1/complaints`: open a complaint (by hand or from a
/// conversation: `conversation_id`); without `id` one is generated.
/// Answers `201 Created` with `Location`.
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<NewComplaint>, axum::extract::rejection::JsonRejection>,
) -> Result<axum::response::Response, ApiError> {
    let Json(input) = body.map_err(rejection)?;
    let complaint = service(&state)
        .create(input, &actor(&caller), Utc::now())
        .await?;
    let location = format!(
        "/api/v1/complaints/{}",
        crate::web::urls::segment(&complaint.id)
    );
    Ok(crate::created::respond(
        true,
        Some(location),
        Json(json!({"complaint": complaint})),
    ))
}

/// `GET /api/v1/complaints`: filters `state` (comma-separated), `assignee`
/// (agent id), `group`, `unassigned`, `from`, `to` (opened), `special`,
/// `priority`, `sla` (`breached`, `near_breach`, `at_risk`, `paused`),
/// `claimable`; pagination `per_page` (≤ 500) and `cursor` (the `next` of
/// the previous page: keyset, found by index at any depth) or the older
/// `page` (offset; slower deep down). `total` is exact unless
/// `total_estimated` is true (then at least that many: counting stops at
/// 1,000). Agents see their own.
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
    if per_page > 500 {
        return Err(ApiError::BadRequest(
            "`per_page` must be at most 500 for complaints".into(),
        ));
    }
    let states = match q.get("state") {
        Some(list) => parse_complaint_states(list)?,
        None => Vec::new(),
    };
    let assignee = match (q.get("assignee"), q.get("group")) {
        (Some(a), _) => Some(Assignee::Agent(a.clone())),
        (None, Some(g)) => Some(Assignee::Group(g.clone())),
        (None, None) => None,
    };
    let sla = match q.get("sla").map(String::as_str) {
        None => None,
        Some("breached") => Some(SlaFilter::Breached),
        Some("near_breach") => Some(SlaFilter::NearBreach),
        Some("at_risk") => Some(SlaFilter::AtRisk),
        Some("paused") => Some(SlaFilter::Paused),
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "`sla` must be breached, near_breach, at_risk or paused, got {other:?}"
            )))
        }
    };
    let filter = ComplaintFilter {
        states,
        assignee,
        unassigned: q
            .get("unassigned")
            .map(|v| parse_bool("unassigned", v))
            .transpose()?
            .unwrap_or(false),
        opened_from: q
            .get("from")
            .map(|v| parse_time_bound("from", v).and_then(utc))
            .transpose()?,
        opened_to: q
            .get("to")
            .map(|v| parse_time_bound("to", v).and_then(utc))
            .transpose()?,
        special: q
            .get("special")
            .map(|v| parse_bool("special", v))
            .transpose()?,
        priority: q
            .get("priority")
            .map(|v| {
                v.parse::<Priority>()
                    .map_err(|e| ApiError::BadRequest(e.to_string()))
            })
            .transpose()?,
        sla,
        claimable: q
            .get("claimable")
            .map(|v| parse_bool("claimable", v))
            .transpose()?
            .unwrap_or(false),
        limit: Some(per_page),
        offset: Some(offset),
        after: q.get("cursor").filter(|c| !c.is_empty()).cloned(),
    };
    let list = service(&state)
        .list_page(&filter, &actor(&caller), Utc::now())
        .await?;
    Ok(Json(json!({
        "items": list.items,
        "page": page,
        "per_page": per_page,
        "total": list.total,
        "total_estimated": list.total_estimated,
        "next": list.next,
    })))
}

/// `GET /api/v1/complaints/{id}`: the complaint with its SLA clocks and
/// history (personal data masked for roles that do not need it).
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let view = service(&state)
        .get(&id, &actor(&caller), Utc::now())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no complaint `{id}`")))?;
    Ok(Json(json!(view)))
}

/// Body of `POST /api/v1/complaints/{id}/commands`.
#[derive(Debug, Deserialize)]
pub(crate) struct CommandBody {
    /// The version the caller last saw; a concurrent change is a 409.
    #[serde(default)]
    version: Option<u64>,
    /// What to do, e.g. `{"type":"investigate"}`, `{"type":"resolve","summary":"…"}`.
    command: Command,
}

/// `POST /api/v1/complaints/{id}/commands`: move the complaint on (state
/// changes, replies, pauses, assignment, surveys …); every change is
/// recorded in its history.
pub(crate) async fn command(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<CommandBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body.map_err(rejection)?;
    let complaint = service(&state)
        .execute(&id, body.version, &actor(&caller), body.command, Utc::now())
        .await?;
    Ok(Json(json!({"complaint": complaint})))
}

/// `GET /api/v1/revisits/overdue`: revisit tasks past their due date.
pub(crate) async fn revisits_overdue(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let items = service(&state)
        .revisits_overdue(&actor(&caller), Utc::now())
        .await?;
    Ok(Json(json!({"items": items})))
}

/// Body of `POST /api/v1/revisits/{id}/complete`.
#[derive(Debug, Deserialize)]
pub(crate) struct RevisitBody {
    outcome_kind: RevisitOutcome,
    #[serde(default)]
    outcome: Option<String>,
}

/// `POST /api/v1/revisits/{id}/complete`: record a revisit's outcome.
pub(crate) async fn complete_revisit(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<RevisitBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body.map_err(rejection)?;
    let task = service(&state)
        .complete_revisit(
            &id,
            &actor(&caller),
            body.outcome_kind,
            body.outcome,
            Utc::now(),
        )
        .await?;
    Ok(Json(json!({"revisit": task})))
}

/// `GET /api/v1/settings/sla`.
pub(crate) async fn sla_settings(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(service(&state).sla_settings().await?)))
}

/// `PUT /api/v1/settings/sla`: supervisors and admins only.
pub(crate) async fn set_sla_settings(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<SlaSettings>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require_supervisor("change SLA settings")?;
    let Json(settings) = body.map_err(rejection)?;
    let saved = service(&state)
        .set_sla_settings(settings, &actor(&caller), Utc::now())
        .await?;
    Ok(Json(json!(saved)))
}

/// `GET /api/v1/reports/sla?from=…&to=…&by=agent|team`: SLA met-rate per
/// agent or team, with the complaint ids behind every number.
pub(crate) async fn sla_report(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let now = Utc::now();
    // `period` (2026-10, 2026-Q4 …) or `from`/`to`; not both.
    let period = match q.get("period") {
        Some(_) if q.contains_key("from") || q.contains_key("to") => {
            return Err(ApiError::BadRequest(
                "give either `period` or `from`/`to`, not both".into(),
            ))
        }
        Some(p) => Some(crate::params::parse_period(p)?),
        None => None,
    };
    let (from, to) = match period {
        // Periods are China-time days, like the dashboard's.
        Some(p) => {
            let (start, end) = p.utc_ms(8 * 3600);
            (utc(start)?, utc(end)?)
        }
        None => (
            match q.get("from") {
                Some(v) => utc(parse_time_bound("from", v)?)?,
                None => now - chrono::TimeDelta::days(30),
            },
            match q.get("to") {
                Some(v) => utc(parse_time_bound("to", v)?)?,
                None => now,
            },
        ),
    };
    let grouping = match q.get("by").map(String::as_str) {
        None | Some("agent") => MetRateGrouping::Agent,
        Some("team") => {
            let teams: BTreeMap<String, String> = users::list_users(&state.store)
                .await?
                .into_iter()
                .filter_map(|u| u.team.map(|t| (u.id, t)))
                .collect();
            MetRateGrouping::Team(teams)
        }
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "`by` must be agent or team, got {other:?}"
            )))
        }
    };
    let report = service(&state)
        .sla_met_rate(&actor(&caller), from, to, &grouping, now)
        .await?;
    Ok(Json(json!(report)))
}
