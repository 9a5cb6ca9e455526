//! Agents (`/agents`): the leaderboard with star ratings, and one agent's
//! KPIs against targets, trend, most broken rules and appeals.

use std::collections::HashMap;

use axum::extract::{Path, State};
use chrono::Utc;
use kefu_service::auth::{can_read_agent_data, Role};
use kefu_service::kpi::{KpiService, KpiValue, Target};
use kefu_service::period::Period;
use kefu_service::review::{Appeal, ReviewService};

use super::appeals::{appeal_row, appealed_findings, AppealRow};
use super::{fmt_kpi, kpi_key, period_of, rating_words, stars_text};
use crate::web::charts::{self, Chart};
use crate::web::html;
use crate::web::i18n::msg;
use crate::web::page::{encode, render, see_other, Ctx, Page, PageResult, Section, WebError};
use crate::web::urls;
use crate::AppState;

struct AgentRow {
    rank: usize,
    href: String,
    id: String,
    name: String,
    team: String,
    stars: String,
    stars_n: u8,
    limited: String,
    answered: String,
    avg_score: String,
    pass_rate: String,
    timely: String,
    satisfied: String,
}

#[derive(askama::Template)]
#[template(path = "agents.html")]
struct AgentsPage {
    ctx: Ctx,
    period: String,
    rows: Vec<AgentRow>,
    periods: Vec<(String, String)>,
}

fn kpi_text(kpis: &[KpiValue], key: &str) -> String {
    kpis.iter()
        .find(|k| k.key == key)
        .and_then(|k| k.value)
        .map(|v| fmt_kpi(key, v))
        .unwrap_or_else(|| "—".into())
}

fn period_links(period: &Period, base: &str) -> Vec<(String, String)> {
    let prev = period.previous();
    let this_month = Period::month_of(Utc::now().with_timezone(&html::china()).date_naive());
    let mut v = vec![
        (
            format!("{base}?period={}", encode(&prev.label)),
            prev.label.clone(),
        ),
        (
            format!("{base}?period={}", encode(&this_month.label)),
            this_month.label.clone(),
        ),
    ];
    let year = period.start.format("%Y").to_string();
    v.push((format!("{base}?period={year}"), year));
    v
}

/// `GET /agents?period=2026-10`: the leaderboard with stars. Agents go to
/// their own page.
pub(in crate::web) async fn agents(State(state): State<AppState>, page: Page) -> PageResult {
    if page.user.role() == Role::Agent {
        let q = page
            .param("period")
            .map(|p| format!("?period={}", encode(p)))
            .unwrap_or_default();
        return Ok(see_other(&format!("{}{q}", urls::agent(page.user.id()))));
    }
    page.user.require(Section::Agents)?;
    let period = period_of(&page)?;
    let ctx = page.ctx(Some(Section::Agents), msg("nav.agents"));
    let report = state.period_report(&period).await?;
    let mut agents: Vec<_> = report.agents.iter().collect();
    // Rated agents by stars then average score; not rated last.
    agents.sort_by(|a, b| {
        let key = |s: &&kefu_service::kpi::ScopeReport| {
            (
                s.rating.as_ref().and_then(|r| r.stars).unwrap_or(0),
                s.kpi("avg_score").unwrap_or(0.0),
            )
        };
        let (sa, qa) = key(a);
        let (sb, qb) = key(b);
        sb.cmp(&sa)
            .then(qb.partial_cmp(&qa).unwrap_or(std::cmp::Ordering::Equal))
            .then(a.id.cmp(&b.id))
    });
    let rows = agents
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let rating = a.rating.as_ref();
            let stars_n = rating.and_then(|r| r.stars).unwrap_or(0);
            AgentRow {
                rank: i + 1,
                href: urls::agent_in(&a.id, &period.label),
                id: a.id.clone(),
                name: a.name.clone(),
                team: a.team.clone().unwrap_or_default(),
                stars: if stars_n > 0 {
                    stars_text(stars_n)
                } else {
                    String::new()
                },
                stars_n,
                limited: rating.map(|r| rating_words(&ctx, r)).unwrap_or_default(),
                answered: kpi_text(&a.kpis, "answered"),
                avg_score: kpi_text(&a.kpis, "avg_score"),
                pass_rate: kpi_text(&a.kpis, "pass_rate"),
                timely: kpi_text(&a.kpis, "timely_answer_rate"),
                satisfied: kpi_text(&a.kpis, "satisfied_share"),
            }
        })
        .collect();
    render(&AgentsPage {
        periods: period_links(&period, "/agents"),
        period: period.label.clone(),
        rows,
        ctx,
    })
}

struct KpiRow {
    label: String,
    value: String,
    target: String,
    met: Option<bool>,
    of: String,
}

struct RuleRow {
    name: String,
    href: String,
    conversations: i64,
    rate: String,
    centre: String,
}

#[derive(askama::Template)]
#[template(path = "agent.html")]
struct AgentPage {
    ctx: Ctx,
    id: String,
    back_href: String,
    name: String,
    team: String,
    period: String,
    periods: Vec<(String, String)>,
    stars: String,
    stars_n: u8,
    rating: String,
    kpis: Vec<KpiRow>,
    rules: Vec<RuleRow>,
    trend: String,
    appeals: Vec<AppealRow>,
    conversations_href: String,
    has_data: bool,
}

/// `GET /agents/{id}?period=…`: one agent's KPIs against targets, stars
/// and what limits them, trend, most broken rules and appeals. Agents may
/// open only their own.
pub(in crate::web) async fn agent(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
) -> PageResult {
    if !can_read_agent_data(&page.user.principal, &id) {
        return Err(WebError::NotFound);
    }
    let period = period_of(&page)?;
    let section = (page.user.role() != Role::Agent).then_some(Section::Agents);
    let ctx = page.ctx(section, msg("q.agent_title"));
    let settings = KpiService::new(state.store.clone()).settings().await?;
    let report = state.period_report(&period).await?;
    let me = report.agents.iter().find(|a| a.id == id);
    let active = state.inspector();
    let names: HashMap<&str, &str> = active
        .pack()
        .rules
        .iter()
        .map(|r| (r.id.as_str(), r.name.as_str()))
        .collect();
    let centre: HashMap<&str, f64> = report
        .centre
        .rules
        .iter()
        .map(|r| (r.rule.as_str(), r.rate))
        .collect();
    let (from_ms, to_ms) = period.utc_ms(8 * 3600);
    let kpi_rows = me
        .map(|a| {
            a.kpis
                .iter()
                .map(|k| KpiRow {
                    label: ctx.t(&kpi_key(k.key)).to_string(),
                    value: k
                        .value
                        .map(|v| fmt_kpi(k.key, v))
                        .unwrap_or_else(|| "—".into()),
                    target: k
                        .target
                        .map(|t| match t {
                            Target::AtLeast(x) => format!("≥ {}", fmt_kpi(k.key, x)),
                            Target::AtMost(x) => format!("≤ {}", fmt_kpi(k.key, x)),
                        })
                        .unwrap_or_default(),
                    met: k.met,
                    of: k.of.map(|(n, d)| format!("{n}/{d}")).unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    let rules = me
        .map(|a| {
            a.rules
                .iter()
                .take(10)
                .map(|r| RuleRow {
                    name: names
                        .get(r.rule.as_str())
                        .copied()
                        .unwrap_or(&r.rule)
                        .to_string(),
                    href: format!(
                        "/conversations?agent={}&rule={}&from={}&to={}",
                        encode(&id),
                        encode(&r.rule),
                        html::fmt_ms(from_ms).get(..10).unwrap_or(""),
                        html::fmt_ms(to_ms - 1).get(..10).unwrap_or("")
                    ),
                    conversations: r.conversations,
                    rate: format!("{:.1}%", r.rate * 100.0),
                    centre: format!(
                        "{:.1}%",
                        centre.get(r.rule.as_str()).copied().unwrap_or(0.0) * 100.0
                    ),
                })
                .collect()
        })
        .unwrap_or_default();
    let days = state
        .store
        .daily_totals(
            period.start_day(),
            period.end_day(),
            Some(&id),
            settings.answer_within_s,
        )
        .await?;
    let points: Vec<(String, Option<f64>)> = days
        .iter()
        .map(|d| {
            (
                Period::date_of_day(d.day)
                    .map(|x| x.format("%m-%d").to_string())
                    .unwrap_or_default(),
                (d.answered > 0).then(|| d.score_sum / d.answered as f64),
            )
        })
        .collect();
    let trend = charts::line_chart(
        &Chart::new(ctx.t("q.trend_score"), ctx.t("chart.no_data"))
            .axes("", ctx.t("q.kpi.avg_score"))
            .size(640.0, 240.0),
        &points,
        Some((
            state.inspector().pack().scoring.pass_mark,
            ctx.t("q.pass_mark"),
        )),
    );
    let appeals: Vec<Appeal> = ReviewService::new(state.store.clone())
        .appeals(&page.user.principal, None, 500)
        .await?
        .into_iter()
        .filter(|a| a.agent_id == id)
        .collect();
    let found = appealed_findings(&state, &page, &appeals).await;
    let appeals = appeals
        .iter()
        .map(|a| {
            let f = found.get(&(a.conversation_id.clone(), a.finding_key.clone()));
            appeal_row(&ctx, a, f)
        })
        .collect();
    let rating = me.and_then(|a| a.rating.as_ref());
    let stars_n = rating.and_then(|r| r.stars).unwrap_or(0);
    render(&AgentPage {
        name: me.map(|a| a.name.clone()).unwrap_or_else(|| id.clone()),
        team: me.and_then(|a| a.team.clone()).unwrap_or_default(),
        back_href: format!("/agents?period={}", encode(&period.label)),
        periods: period_links(&period, &urls::agent(&id)),
        period: period.label.clone(),
        stars: if stars_n > 0 {
            stars_text(stars_n)
        } else {
            String::new()
        },
        stars_n,
        rating: rating.map(|r| rating_words(&ctx, r)).unwrap_or_default(),
        kpis: kpi_rows,
        rules,
        trend,
        appeals,
        conversations_href: format!("/conversations?agent={}", encode(&id)),
        has_data: me.is_some(),
        id,
        ctx,
    })
}
