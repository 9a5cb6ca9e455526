//! `/assessments`: the periodic assessment (考核) run and published from the
//! dashboard. Supervisors and admins pick a period and run it as a draft,
//! check the review table (scores per indicator, total, rank, stars,
//! recommendation, rules to work on), and publish it; a published run is
//! frozen (the store refuses changes, and a period has one published run).
//! Inspectors may look; agents see their results on their own page.

use axum::extract::{Path, State};
use chrono::Utc;
use kefu_service::auth::Role;
use kefu_service::kpi::{AssessmentRun, KpiService};
use kefu_service::period::Period;

use super::html;
use super::i18n::{msg, Lang};
use super::page::{render, see_other, CsrfForm, Ctx, Page, PageResult, Section, WebError};
use super::urls;
use crate::AppState;

/// One run in the list.
struct RunRow {
    href: String,
    id: i64,
    period: String,
    published: bool,
    agents: usize,
    created: String,
    created_by: String,
    published_text: String,
}

#[derive(askama::Template)]
#[template(path = "assessments.html")]
struct ListPage {
    ctx: Ctx,
    runs: Vec<RunRow>,
    /// The period proposed in the picker (last month).
    period: String,
    /// Whether the user may run and publish.
    can_run: bool,
    /// Why the last run was refused.
    error: Option<String>,
}

/// One agent's row of the review table.
struct ResultRow {
    rank: String,
    href: String,
    agent: String,
    conversations: i64,
    scores: Vec<String>,
    total: String,
    stars: String,
    recommendation: String,
    focus: String,
}

#[derive(askama::Template)]
#[template(path = "assessment.html")]
struct RunPage {
    ctx: Ctx,
    id: i64,
    period: String,
    published: bool,
    published_text: String,
    indicators: Vec<String>,
    rows: Vec<ResultRow>,
    can_publish: bool,
    error: Option<String>,
}

fn may_run(role: Role) -> bool {
    matches!(role, Role::Admin | Role::Supervisor)
}

fn stamp(ms: Option<i64>, by: Option<&str>) -> String {
    match (ms, by) {
        (Some(ms), Some(by)) => format!("{} · {by}", html::fmt_ms(ms)),
        (Some(ms), None) => html::fmt_ms(ms),
        _ => String::new(),
    }
}

fn last_month() -> String {
    Period::month_of(Utc::now().with_timezone(&html::china()).date_naive())
        .previous()
        .label
}

async fn list_page(state: &AppState, page: &Page, error: Option<String>) -> PageResult {
    let ctx = page.ctx(Some(Section::Agents), msg("assess.title"));
    let runs = KpiService::new(state.store.clone())
        .assessments()
        .await?
        .into_iter()
        .map(|r| RunRow {
            href: format!("/assessments/{}", r.id),
            id: r.id,
            published: r.status == "published",
            agents: r.results.len(),
            created: html::fmt_ms(r.created_at),
            created_by: r.created_by.clone(),
            published_text: stamp(r.published_at, r.published_by.as_deref()),
            period: r.period,
        })
        .collect();
    render(&ListPage {
        period: page
            .param("period")
            .map(str::to_string)
            .unwrap_or_else(last_month),
        can_run: may_run(page.user.role()),
        runs,
        error,
        ctx,
    })
}

/// `GET /assessments`: the runs, newest first, and the period picker.
pub(super) async fn list(State(state): State<AppState>, page: Page) -> PageResult {
    page.user.require(Section::Agents)?;
    list_page(&state, &page, None).await
}

/// `POST /assessments`: runs the assessment of `period` as a draft (one
/// draft per period: a rerun replaces it) and opens it.
pub(super) async fn run(
    State(state): State<AppState>,
    page: Page,
    CsrfForm(form): CsrfForm,
) -> PageResult {
    page.user.require(Section::Agents)?;
    if !may_run(page.user.role()) {
        return Err(WebError::Forbidden);
    }
    let text = form.text("period");
    let period: Period = match text.parse() {
        Ok(p) => p,
        Err(e) => {
            let ctx = page.ctx(Some(Section::Agents), msg("assess.title"));
            let reason = ctx.t1("assess.bad_period", e);
            return list_page(&state, &page, Some(reason)).await;
        }
    };
    let run = KpiService::new(state.store.clone())
        .run_assessment(&period, &page.user.principal, Utc::now().timestamp_millis())
        .await?;
    Ok(see_other(&format!("/assessments/{}?done=assessed", run.id)))
}

fn percent_free(x: f64) -> String {
    html::num((x * 10.0).round() / 10.0)
}

fn run_page(
    state: &AppState,
    ctx: Ctx,
    run: AssessmentRun,
    can_publish: bool,
    error: Option<String>,
) -> PageResult {
    let lang = ctx.lang;
    let active = state.inspector();
    let rule_name = |id: &str| -> String {
        active
            .pack()
            .rules
            .iter()
            .find(|r| r.id == id)
            .map_or_else(|| id.to_string(), |r| r.name.clone())
    };
    let indicators: Vec<String> = run
        .scheme
        .indicators
        .iter()
        .map(|i| match lang {
            Lang::Zh => i.name.clone(),
            Lang::En => i.name_en.clone(),
        })
        .collect();
    let rows = run
        .results
        .iter()
        .map(|a| ResultRow {
            rank: a.rank.map(|r| r.to_string()).unwrap_or_default(),
            href: urls::agent_in(&a.agent_id, &run.period),
            agent: if a.name.is_empty() || a.name == a.agent_id {
                a.agent_id.clone()
            } else {
                format!("{} ({})", a.name, a.agent_id)
            },
            conversations: a.conversations,
            scores: run
                .scheme
                .indicators
                .iter()
                .map(|i| {
                    a.indicators
                        .get(&i.id)
                        .map(|v| percent_free(*v))
                        .unwrap_or_default()
                })
                .collect(),
            total: match (a.total, &a.not_assessed) {
                (Some(t), _) => percent_free(t),
                (None, Some(_)) => ctx.t("assess.too_few").to_string(),
                (None, None) => String::new(),
            },
            stars: a
                .stars
                .map(|s| "★".repeat(usize::from(s.min(5))))
                .unwrap_or_default(),
            recommendation: match a.recommendation.as_deref() {
                Some("reward") => ctx.t("assess.reward").to_string(),
                Some("coaching") => ctx.t("assess.coaching").to_string(),
                Some(other) => other.to_string(),
                None => String::new(),
            },
            focus: a
                .focus_rules
                .iter()
                .map(|f| rule_name(&f.rule))
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect();
    let published = run.status == "published";
    render(&RunPage {
        id: run.id,
        published_text: stamp(run.published_at, run.published_by.as_deref()),
        period: run.period,
        published,
        indicators,
        rows,
        can_publish: can_publish && !published,
        error,
        ctx,
    })
}

/// `GET /assessments/{id}`: the review table of one run.
pub(super) async fn detail(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
) -> PageResult {
    page.user.require(Section::Agents)?;
    let run = KpiService::new(state.store.clone())
        .assessment(id)
        .await?
        .ok_or(WebError::NotFound)?;
    let ctx = page.ctx(Some(Section::Agents), msg("assess.title"));
    run_page(&state, ctx, run, may_run(page.user.role()), None)
}

/// `POST /assessments/{id}/publish`: freezes a draft. A period that already
/// has a published run is refused with the reason on the page.
pub(super) async fn publish(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    CsrfForm(_form): CsrfForm,
) -> PageResult {
    page.user.require(Section::Agents)?;
    if !may_run(page.user.role()) {
        return Err(WebError::Forbidden);
    }
    let kpis = KpiService::new(state.store.clone());
    match kpis
        .publish_assessment(id, &page.user.principal, Utc::now().timestamp_millis())
        .await
    {
        Ok(Some(_)) => Ok(see_other(&format!("/assessments/{id}?done=published"))),
        Ok(None) => Err(WebError::NotFound),
        Err(e) => {
            let (_, reason) = WebError::from(e).refusal()?;
            let run = kpis.assessment(id).await?.ok_or(WebError::NotFound)?;
            let ctx = page.ctx(Some(Section::Agents), msg("assess.title"));
            let reason = format!("{} {reason}", ctx.t("assess.not_published"));
            run_page(&state, ctx, run, true, Some(reason))
        }
    }
}
