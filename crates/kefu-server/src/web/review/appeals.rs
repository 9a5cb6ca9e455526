//! Appeals (`/appeals`): an agent's objections to findings, listed, one
//! with its history, and the supervisor's decision.

use std::collections::HashMap;

use axum::extract::{Path, State};
use kefu_engine::review::ReviewedFinding;
use kefu_service::auth::Role;
use kefu_service::review::{Appeal, ReviewService};

use super::panel::finding_label;
use super::{conversation_href, now};
use crate::web::html;
use crate::web::i18n::msg;
use crate::web::page::{render, see_other, CsrfForm, Ctx, Page, PageResult, Section, WebError};
use crate::web::urls;
use crate::AppState;

/// An appeal as listed.
pub(in crate::web) struct AppealRow {
    /// Id.
    pub id: i64,
    /// Its page.
    pub href: String,
    /// The decision form's action.
    pub decision_href: String,
    /// The conversation's page.
    pub conversation_href: String,
    /// Conversation id.
    pub conversation_id: String,
    /// Agent.
    pub agent: String,
    /// Finding key and rule.
    pub finding: String,
    /// The agent's reason.
    pub reason: String,
    /// State name (CSS class).
    pub state_name: String,
    /// State label.
    pub state: String,
    /// Filed at.
    pub created: String,
    /// Decision: who, when, why.
    pub decision: Option<String>,
    /// Score before → after.
    pub scores: String,
    /// Still open.
    pub open: bool,
}

/// The reviewed findings of the appeals' conversations, by
/// (conversation, finding key), so appeals name the rule, turn and words.
pub(super) async fn appealed_findings(
    state: &AppState,
    page: &Page,
    appeals: &[Appeal],
) -> HashMap<(String, String), ReviewedFinding> {
    let svc = ReviewService::new(state.store.clone());
    let mut out = HashMap::new();
    let mut seen = std::collections::HashSet::new();
    for a in appeals {
        if !seen.insert(a.conversation_id.as_str()) {
            continue;
        }
        // An appeal still lists without its finding's words when the
        // conversation's result cannot be read.
        let Ok(view) = svc.view(&page.user.principal, &a.conversation_id).await else {
            continue;
        };
        for f in view.result.findings {
            out.insert((a.conversation_id.clone(), f.key.clone()), f);
        }
    }
    out
}

pub(super) fn appeal_row(ctx: &Ctx, a: &Appeal, finding: Option<&ReviewedFinding>) -> AppealRow {
    AppealRow {
        id: a.id,
        href: urls::appeal(a.id),
        decision_href: urls::appeal_decision(a.id),
        conversation_href: conversation_href(&a.conversation_id),
        conversation_id: a.conversation_id.clone(),
        agent: a.agent_id.clone(),
        finding: finding.map_or_else(|| a.rule.clone(), |f| finding_label(ctx, f)),
        reason: a.reason.clone(),
        state_name: a.state.clone(),
        state: ctx.t(&format!("q.appeal_state.{}", a.state)).to_string(),
        created: html::fmt_ms(a.created_at),
        decision: a.decided_by.as_ref().map(|by| {
            format!(
                "{by} · {} · {}",
                a.decided_at.map(html::fmt_ms).unwrap_or_default(),
                a.decision_comment.clone().unwrap_or_default()
            )
        }),
        scores: match a.score_after {
            Some(after) => format!("{} → {}", html::num(a.score_before), html::num(after)),
            None => html::num(a.score_before),
        },
        open: a.state == "open",
    }
}

#[derive(askama::Template)]
#[template(path = "appeals.html")]
struct AppealsPage {
    ctx: Ctx,
    rows: Vec<AppealRow>,
    can_decide: bool,
    tabs: Vec<(String, String, bool)>,
}

/// `GET /appeals?state=open`: agents see their own; supervisors decide.
pub(in crate::web) async fn appeals(State(state): State<AppState>, page: Page) -> PageResult {
    page.user.require(Section::Appeals)?;
    let ctx = page.ctx(Some(Section::Appeals), msg("nav.appeals"));
    let filter = page
        .param("state")
        .filter(|s| matches!(*s, "open" | "accepted" | "rejected" | "all"))
        .unwrap_or(if page.user.role() == Role::Agent {
            "all"
        } else {
            "open"
        })
        .to_string();
    let items = ReviewService::new(state.store.clone())
        .appeals(
            &page.user.principal,
            (filter != "all").then_some(filter.as_str()),
            500,
        )
        .await?;
    let found = appealed_findings(&state, &page, &items).await;
    let rows = items
        .iter()
        .map(|a| {
            let f = found.get(&(a.conversation_id.clone(), a.finding_key.clone()));
            appeal_row(&ctx, a, f)
        })
        .collect();
    let tabs = ["open", "accepted", "rejected", "all"]
        .iter()
        .map(|s| {
            (
                format!("/appeals?state={s}"),
                ctx.t(&format!("q.appeal_tab.{s}")).to_string(),
                *s == filter,
            )
        })
        .collect();
    render(&AppealsPage {
        can_decide: matches!(page.user.role(), Role::Supervisor | Role::Admin),
        rows,
        tabs,
        ctx,
    })
}

struct AuditRow {
    at: String,
    who: String,
    action: String,
    detail: String,
}

#[derive(askama::Template)]
#[template(path = "appeal.html")]
struct AppealPage {
    ctx: Ctx,
    a: AppealRow,
    trail: Vec<AuditRow>,
    can_decide: bool,
}

/// `GET /appeals/{id}`: one appeal and every step taken on it.
pub(in crate::web) async fn appeal(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
) -> PageResult {
    page.user.require(Section::Appeals)?;
    let ctx = page.ctx(Some(Section::Appeals), msg("q.appeal_title"));
    let (a, trail) = ReviewService::new(state.store.clone())
        .appeal(&page.user.principal, id)
        .await?;
    let trail = trail
        .into_iter()
        .map(|e| AuditRow {
            at: html::fmt_ms(e.at),
            who: format!("{} ({})", e.actor_id, e.actor_role),
            action: ctx.t(&format!("q.audit.{}", e.action)).to_string(),
            detail: e
                .detail
                .get("comment")
                .or_else(|| e.detail.get("reason"))
                .and_then(serde_json::Value::as_str)
                .unwrap_or("")
                .to_string(),
        })
        .collect();
    render(&AppealPage {
        can_decide: matches!(page.user.role(), Role::Supervisor | Role::Admin) && a.state == "open",
        a: {
            let found = appealed_findings(&state, &page, std::slice::from_ref(&a)).await;
            let f = found.get(&(a.conversation_id.clone(), a.finding_key.clone()));
            appeal_row(&ctx, &a, f)
        },
        trail,
        ctx,
    })
}

/// `POST /appeals/{id}/decision`: accept or reject.
pub(in crate::web) async fn decide(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm,
) -> PageResult {
    page.user.require(Section::Appeals)?;
    let accept = match form.get("decision") {
        Some("accept") => true,
        Some("reject") => false,
        _ => return Err(WebError::BadRequest("decision".into())),
    };
    ReviewService::new(state.store.clone())
        .decide_appeal(
            &page.user.principal,
            id,
            accept,
            &form.text("comment"),
            now(),
        )
        .await?;
    Ok(see_other(&format!("/appeals/{id}?done=decided")))
}
