//! Review, appeals and agents: the pages over human review, appeals, KPIs
//! and star ratings, and the review and appeal panel of the conversation
//! page. One file per surface; the helpers they share are here.

mod agents;
mod appeals;
mod panel;
mod queue;

pub(in crate::web) use agents::{agent, agents};
pub(in crate::web) use appeals::{appeal, appeals, decide};
pub(in crate::web) use panel::{file_appeal, review_panel, save_review, status_name, ReviewPanel};
pub(in crate::web) use queue::{build_queue, queue};

use chrono::Utc;
use kefu_service::kpi::{is_rate, Rating, Target};
use kefu_service::period::Period;

use super::html;
use super::i18n::msg;
use super::page::{parse_period, Ctx, Page, WebError};
use super::urls;

fn now() -> i64 {
    Utc::now().timestamp_millis()
}

fn conversation_href(id: &str) -> String {
    urls::conversation(id)
}

/// The period of `?period=`, or the current month in China time.
fn period_of(page: &Page) -> Result<Period, WebError> {
    match page.param("period").filter(|p| !p.trim().is_empty()) {
        Some(p) => parse_period(p),
        None => Ok(Period::month_of(
            Utc::now().with_timezone(&html::china()).date_naive(),
        )),
    }
}

/// `★★★☆☆`.
fn stars_text(stars: u8) -> String {
    let n = usize::from(stars.min(5));
    format!("{}{}", "★".repeat(n), "☆".repeat(5 - n))
}

fn fmt_kpi(key: &str, v: f64) -> String {
    if is_rate(key) {
        format!("{:.1}%", v * 100.0)
    } else {
        html::num((v * 100.0).round() / 100.0)
    }
}

fn criterion_key(c: kefu_service::kpi::Criterion) -> &'static str {
    use kefu_service::kpi::Criterion::*;
    match c {
        Quality => msg("q.crit_quality"),
        Satisfaction => msg("q.crit_satisfaction"),
        Response => msg("q.crit_response"),
        Errors => msg("q.crit_errors"),
        Resolution => msg("q.crit_resolution"),
        Veto => msg("q.crit_veto"),
    }
}

/// What holds a rating down, in the page's language.
fn rating_words(ctx: &Ctx, r: &Rating) -> String {
    if let Some(few) = &r.not_rated {
        return ctx.t2("q.not_rated", few.conversations, few.needed);
    }
    r.limited_by
        .iter()
        .map(|g| {
            let fmt = |v: f64| match g.criterion {
                kefu_service::kpi::Criterion::Quality => format!("{v:.1}"),
                kefu_service::kpi::Criterion::Veto => format!("{v:.0}"),
                _ => format!("{:.1}%", v * 100.0),
            };
            let (op, t) = match g.needed {
                Target::AtLeast(t) => ("≥", t),
                Target::AtMost(t) => ("≤", t),
            };
            format!(
                "{} {} → {op} {}",
                ctx.t(criterion_key(g.criterion)),
                fmt(g.value),
                fmt(t)
            )
        })
        .collect::<Vec<_>>()
        .join("；")
}

fn kpi_key(key: &str) -> String {
    format!("q.kpi.{key}")
}

/// Every key built at run time here, for the catalogue tests.
#[cfg(test)]
pub(in crate::web) fn dynamic_keys() -> Vec<String> {
    kefu_service::kpi::KPI_KEYS
        .iter()
        .map(|(k, _, _)| kpi_key(k))
        .chain(
            ["open", "accepted", "rejected"]
                .iter()
                .map(|s| format!("q.appeal_state.{s}")),
        )
        .chain(
            ["veto", "below_pass", "random"]
                .iter()
                .map(|s| format!("q.reason.{s}")),
        )
        .chain(
            ["pending", "confirmed", "overturned", "withdrawn"]
                .iter()
                .map(|s| format!("q.status.{s}")),
        )
        .chain(
            ["open", "accepted", "rejected", "all"]
                .iter()
                .map(|s| format!("q.appeal_tab.{s}")),
        )
        .chain(
            [
                "filed",
                "accepted",
                "rejected",
                "reviewed",
                "revised",
                "built",
                "run",
                "published",
            ]
            .iter()
            .map(|s| format!("q.audit.{s}")),
        )
        .collect()
}
