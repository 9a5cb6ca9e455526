//! The review queue (`/review`): conversations sampled for a person to
//! review, vetoes and failures first, and the form that builds a sample.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use kefu_service::kpi::KpiService;
use kefu_service::period::Period;
use kefu_service::review::ReviewService;

use super::{conversation_href, now};
use crate::web::html;
use crate::web::i18n::msg;
use crate::web::page::{
    encode, render_status, see_other, CsrfForm, Ctx, Page, PageResult, Section,
};
use crate::AppState;

struct QueueRow {
    href: String,
    conversation_id: String,
    agent: String,
    day: String,
    reason: String,
    score: String,
    done: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "review_queue.html")]
struct QueuePage {
    ctx: Ctx,
    rows: Vec<QueueRow>,
    open_only: bool,
    agent: String,
    period: String,
    rate: String,
    seed: String,
    message: Option<String>,
    all_href: String,
    open_href: String,
}

async fn queue_page(
    state: &AppState,
    page: &Page,
    status: StatusCode,
    message: Option<String>,
) -> PageResult {
    // `queued`/`invalid` are one-off notices: links built from this page's
    // URL (the language switch) should not repeat them, which is fine as
    // they only restate what happened.
    page.user.require(Section::Review)?;
    let ctx = page.ctx(Some(Section::Review), msg("nav.review"));
    let open_only = page.param("all").is_none();
    let agent = page.param("agent").unwrap_or("").trim().to_string();
    let items = ReviewService::new(state.store.clone())
        .queue(
            &page.user.principal,
            open_only,
            (!agent.is_empty()).then_some(agent.as_str()),
            200,
            0,
        )
        .await?;
    let rows = items
        .into_iter()
        .map(|q| QueueRow {
            href: format!("{}#review", conversation_href(&q.conversation_id)),
            agent: q.agent_id.unwrap_or_default(),
            day: q
                .local_day
                .and_then(Period::date_of_day)
                .map(|d| d.to_string())
                .unwrap_or_default(),
            reason: ctx.t(&format!("q.reason.{}", q.reason)).to_string(),
            score: html::num(q.score),
            done: q
                .done_at
                .map(|t| format!("{} · {}", q.done_by.unwrap_or_default(), html::fmt_ms(t))),
            conversation_id: q.conversation_id,
        })
        .collect();
    let settings = KpiService::new(state.store.clone()).settings().await?;
    let default_period = Period::month_of(Utc::now().with_timezone(&html::china()).date_naive());
    render_status(
        status,
        &QueuePage {
            rows,
            open_only,
            all_href: format!("/review?all=1&agent={}", encode(&agent)),
            open_href: format!("/review?agent={}", encode(&agent)),
            agent,
            period: page
                .param("period")
                .map_or(default_period.label, str::to_string),
            rate: format!("{}", settings.sampling.rate * 100.0),
            seed: settings.sampling.seed,
            message,
            ctx,
        },
    )
}

/// `GET /review`: the review queue, vetoes and failures first.
pub(in crate::web) async fn queue(State(state): State<AppState>, page: Page) -> PageResult {
    let ctx = page.ctx(Some(Section::Review), msg("nav.review"));
    let message = if page.param("invalid").is_some() {
        Some(ctx.t("q.queue_invalid").to_string())
    } else {
        page.param("queued").map(|q| {
            let n: Vec<&str> = q.splitn(3, '-').collect();
            ctx.t("q.queue_built")
                .replace("{veto}", n.first().copied().unwrap_or("0"))
                .replace("{below}", n.get(1).copied().unwrap_or("0"))
                .replace("{random}", n.get(2).copied().unwrap_or("0"))
        })
    };
    queue_page(&state, &page, StatusCode::OK, message).await
}

/// `POST /review/build`: queues a period's sample, then back to the queue
/// (`?queued=VETO-BELOW-RANDOM`, or `?invalid=1` for unusable input).
pub(in crate::web) async fn build_queue(
    State(state): State<AppState>,
    page: Page,
    CsrfForm(form): CsrfForm,
) -> PageResult {
    page.user.require(Section::Review)?;
    let Ok(period) = form.text("period").parse::<Period>() else {
        return Ok(see_other("/review?invalid=1"));
    };
    let rate = form
        .text("rate")
        .parse::<f64>()
        .map(|r| r / 100.0)
        .unwrap_or(f64::NAN);
    let seed = form.text("seed");
    match ReviewService::new(state.store.clone())
        .build_queue(&page.user.principal, &period, rate, &seed, now())
        .await
    {
        Ok(o) => Ok(see_other(&format!(
            "/review?queued={}-{}-{}",
            o.veto, o.below_pass, o.random
        ))),
        Err(kefu_service::Error::Invalid(_)) => Ok(see_other("/review?invalid=1")),
        Err(e) => Err(e.into()),
    }
}
