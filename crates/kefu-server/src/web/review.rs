//! Review queue, appeals and agents: the pages over review, appeals, KPIs
//! and star ratings, and the review and appeal forms of the conversation
//! page.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use kefu_engine::review::{
    AddedFinding, Decision, FindingStatus, ManualScore, Origin, ReviewInput, ReviewedFinding,
    Verdict,
};
use kefu_engine::RuleKind;
use kefu_service::auth::{can_read_agent_data, Role};
use kefu_service::kpi::{is_rate, KpiService, KpiValue, Rating, Target};
use kefu_service::period::Period;
use kefu_service::review::{Appeal, ReviewService, ReviewView};

use super::charts::{self, Chart};
use super::html;
use super::i18n::msg;
use super::page::{
    encode, render, render_status, see_other, CsrfForm, Ctx, FormData, Page, PageResult, Section,
    WebError,
};
use super::urls;
use crate::AppState;

fn now() -> i64 {
    Utc::now().timestamp_millis()
}

fn conversation_href(id: &str) -> String {
    urls::conversation(id)
}

/// The period of `?period=`, or the current month in China time.
fn period_of(page: &Page) -> Result<Period, WebError> {
    match page.param("period").filter(|p| !p.trim().is_empty()) {
        Some(p) => p
            .parse()
            .map_err(|e: kefu_service::period::PeriodError| WebError::BadRequest(e.to_string())),
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
pub(super) fn dynamic_keys() -> Vec<String> {
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

// ---------------------------------------------------------------------------
// The review and appeal panel of the conversation page
// ---------------------------------------------------------------------------

/// The name of a review status (message key suffix and CSS class).
pub(super) fn status_name(s: FindingStatus) -> &'static str {
    match s {
        FindingStatus::Pending => "pending",
        FindingStatus::Confirmed => "confirmed",
        FindingStatus::Overturned => "overturned",
        FindingStatus::Withdrawn => "withdrawn",
    }
}

/// How reviewers and agents read a finding: rule name, turn and the
/// quoted words (`服务禁语 · 第 3 句 · «不知道»`), never its key.
pub(super) fn finding_label(ctx: &Ctx, f: &ReviewedFinding) -> String {
    let mut out = if f.name.is_empty() {
        f.rule.clone()
    } else {
        f.name.clone()
    };
    match f.turn {
        Some(t) => {
            out.push_str(" · ");
            out.push_str(&ctx.t1("conv.turn_no", t + 1));
        }
        None => {
            out.push_str(" · ");
            out.push_str(ctx.t("conv.whole_conversation"));
        }
    }
    if let Some(text) = f.text.as_deref().filter(|t| !t.trim().is_empty()) {
        out.push_str(&format!(" · «{text}»"));
    }
    out
}

/// One finding as the conversation page shows it after review.
pub(super) struct ReviewedRow {
    /// `auto:0` … (kept for the form and for tests).
    pub key: String,
    /// Rule name, turn and quoted text.
    pub label: String,
    /// Form field suffix (`auto_0`).
    pub field: String,
    /// 1-based number, as in the transcript marks.
    pub number: usize,
    /// Automatic (can be confirmed or overturned).
    pub auto: bool,
    /// Status label.
    pub status: String,
    /// Status name (CSS class).
    pub status_name: &'static str,
    /// Current verdict: "", "confirm", "overturn".
    pub verdict: &'static str,
    /// The reviewer's comment.
    pub comment: String,
    /// The agent may appeal it now.
    pub appealable: bool,
    /// The appeal's state label, if appealed.
    pub appeal: Option<String>,
}

/// A manual item of the pack, with the reviewer's points.
pub(super) struct ManualRow {
    /// Rule id.
    pub rule: String,
    /// Name.
    pub name: String,
    /// Most points.
    pub cap: String,
    /// Points given ("" when not scored).
    pub points: String,
    /// Comment.
    pub comment: String,
}

/// A rule that can be added as a missed finding.
pub(super) struct RuleOption {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
}

/// The review and appeal part of a conversation page.
pub(super) struct ReviewPanel {
    /// Findings in the order of the page's numbers.
    pub rows: Vec<ReviewedRow>,
    /// The automatic score, when a review changed it.
    pub auto_score: Option<String>,
    /// Score after review and appeals.
    pub score: f64,
    /// Grade after review.
    pub grade: String,
    /// Passed after review.
    pub passed: bool,
    /// Veto after review.
    pub veto: bool,
    /// Who reviewed, when.
    pub reviewed_by: Option<String>,
    /// The review's overall remark.
    pub remark: String,
    /// The stored review's version ("" before the first review).
    pub version: String,
    /// The user may review (staff, not their own conversation).
    pub can_review: bool,
    /// The user may appeal (the conversation's agent).
    pub can_appeal: bool,
    /// Manual items to score (empty when the result's pack is not the active one).
    pub manual: Vec<ManualRow>,
    /// Rules for added findings.
    pub rules: Vec<RuleOption>,
    /// Added findings already in the review.
    pub added: Vec<(usize, String, String)>,
    /// Appeals of this result.
    pub appeals: Vec<AppealRow>,
}

/// The review view of a conversation for the page (`None` without a
/// current result), with the findings the page numbers and marks.
pub(super) async fn review_panel(
    state: &AppState,
    page: &Page,
    ctx: &Ctx,
    id: &str,
) -> Result<Option<(ReviewPanel, Vec<ReviewedFinding>)>, WebError> {
    let view = match ReviewService::new(state.store.clone())
        .view(&page.user.principal, id)
        .await
    {
        Ok(v) => v,
        Err(kefu_service::Error::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    Ok(Some(panel_of(state, page, ctx, view)))
}

fn panel_of(
    state: &AppState,
    page: &Page,
    ctx: &Ctx,
    view: ReviewView,
) -> (ReviewPanel, Vec<ReviewedFinding>) {
    let input = view
        .review
        .as_ref()
        .map(|r| r.input.clone())
        .unwrap_or_default();
    let own = view.agent_id.as_deref() == Some(page.user.id());
    let staff = matches!(
        page.user.role(),
        Role::Inspector | Role::Supervisor | Role::Admin
    );
    let appealed: HashMap<&str, &Appeal> = view
        .appeals
        .iter()
        .map(|a| (a.finding_key.as_str(), a))
        .collect();
    let rows = view
        .result
        .findings
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let status_name = status_name(f.status);
            let decision = input.decisions.iter().find(|d| d.key == f.key);
            let appeal = appealed.get(f.key.as_str());
            ReviewedRow {
                key: f.key.clone(),
                label: finding_label(ctx, f),
                field: f.key.replace(':', "_"),
                number: i + 1,
                auto: f.origin == Origin::Auto,
                status: ctx.t(&format!("q.status.{status_name}")).to_string(),
                status_name,
                verdict: match decision.map(|d| d.verdict) {
                    Some(Verdict::Confirm) => "confirm",
                    Some(Verdict::Overturn) => "overturn",
                    None => "",
                },
                comment: f.comment.clone().unwrap_or_default(),
                appealable: own
                    && page.user.role() == Role::Agent
                    && f.status.counts()
                    && appeal.is_none(),
                appeal: appeal.map(|a| ctx.t(&format!("q.appeal_state.{}", a.state)).to_string()),
            }
        })
        .collect();
    let same_pack = view.pack_version_id == state.pack_version_id();
    let active = state.inspector();
    let pack = active.pack();
    let manual = if same_pack {
        pack.rules
            .iter()
            .filter(|r| matches!(r.kind, RuleKind::Manual))
            .map(|r| {
                let given = input.manual.iter().find(|m| m.rule == r.id);
                ManualRow {
                    rule: r.id.clone(),
                    name: r.name.clone(),
                    cap: html::num(r.cap),
                    points: given.map(|m| html::num(m.deduction)).unwrap_or_default(),
                    comment: given.and_then(|m| m.comment.clone()).unwrap_or_default(),
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    let rules = if same_pack {
        pack.rules
            .iter()
            .filter(|r| !matches!(r.kind, RuleKind::Manual))
            .map(|r| RuleOption {
                id: r.id.clone(),
                name: r.name.clone(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let added = input
        .added
        .iter()
        .enumerate()
        .map(|(i, a)| (i, a.rule.clone(), a.comment.clone()))
        .collect();
    let appeals = view
        .appeals
        .iter()
        .map(|a| {
            let f = view.result.findings.iter().find(|f| f.key == a.finding_key);
            appeal_row(ctx, a, f)
        })
        .collect();
    let auto_score = view
        .automatic
        .get("score")
        .and_then(serde_json::Value::as_f64)
        .filter(|s| (s - view.result.score).abs() > 1e-9)
        .map(html::num);
    let panel = ReviewPanel {
        rows,
        auto_score,
        score: view.result.score,
        grade: view.result.grade.clone().unwrap_or_default(),
        passed: view.result.passed,
        veto: view.result.veto,
        reviewed_by: view
            .review
            .as_ref()
            .map(|r| format!("{} · {}", r.reviewer_id, html::fmt_ms(r.updated_at))),
        remark: input.comment.clone().unwrap_or_default(),
        version: view
            .review
            .as_ref()
            .map(|r| r.version.to_string())
            .unwrap_or_default(),
        can_review: staff && !own,
        can_appeal: own && page.user.role() == Role::Agent,
        manual,
        rules,
        added,
        appeals,
    };
    (panel, view.result.findings)
}

/// Reads the review form into a review input.
fn review_input(form: &FormData, previous: &ReviewInput, findings: usize) -> ReviewInput {
    let mut decisions = Vec::new();
    for i in 0..findings {
        let key = format!("auto:{i}");
        let verdict = match form.get(&format!("verdict_auto_{i}")) {
            Some("confirm") => Verdict::Confirm,
            Some("overturn") => Verdict::Overturn,
            _ => continue,
        };
        let comment = form.text(&format!("comment_auto_{i}"));
        decisions.push(Decision {
            key,
            verdict,
            comment: (!comment.is_empty()).then_some(comment),
        });
    }
    let mut manual = Vec::new();
    for (name, value) in form_pairs(form, "manual_") {
        if value.trim().is_empty() {
            continue;
        }
        let deduction = value.trim().parse::<f64>().unwrap_or(f64::NAN);
        let comment = form.text(&format!("mcomment_{name}"));
        manual.push(ManualScore {
            rule: name,
            deduction,
            comment: (!comment.is_empty()).then_some(comment),
        });
    }
    let mut added: Vec<AddedFinding> = previous
        .added
        .iter()
        .enumerate()
        .filter(|(i, _)| form.checked(&format!("keep_added_{i}")))
        .map(|(_, a)| a.clone())
        .collect();
    let rule = form.text("added_rule");
    let comment = form.text("added_comment");
    if !rule.is_empty() && !comment.is_empty() {
        added.push(AddedFinding {
            rule,
            turn: form
                .get("added_turn")
                .and_then(|t| t.trim().parse::<usize>().ok())
                .filter(|t| *t >= 1)
                .map(|t| t - 1),
            text: Some(form.text("added_text")).filter(|t| !t.is_empty()),
            deduction: form
                .get("added_deduction")
                .and_then(|d| d.trim().parse::<f64>().ok()),
            comment,
        });
    }
    let remark = form.text("remark");
    ReviewInput {
        decisions,
        manual,
        added,
        comment: (!remark.is_empty()).then_some(remark),
    }
}

/// Fields named `prefix…`, with the prefix cut off.
fn form_pairs(form: &FormData, prefix: &str) -> Vec<(String, String)> {
    form.pairs()
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(prefix).map(|n| (n.to_string(), v.clone())))
        .collect()
}

/// `POST /conversations/{id}/review`.
pub(super) async fn save_review(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm,
) -> PageResult {
    page.user.require(Section::Review)?;
    let svc = ReviewService::new(state.store.clone());
    let view = svc.view(&page.user.principal, &id).await?;
    let previous = view
        .review
        .as_ref()
        .map(|r| r.input.clone())
        .unwrap_or_default();
    let autos = view
        .result
        .findings
        .iter()
        .filter(|f| f.origin == Origin::Auto)
        .count();
    let input = review_input(&form, &previous, autos);
    let version = form
        .get("version")
        .and_then(|v| v.trim().parse::<i64>().ok());
    match svc
        .save_review(&page.user.principal, &id, &input, version, now())
        .await
    {
        Ok(_) => Ok(see_other(&format!(
            "{}?done=reviewed#review",
            conversation_href(&id)
        ))),
        Err(e) => Err(e.into()),
    }
}

/// `POST /conversations/{id}/appeals`.
pub(super) async fn file_appeal(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm,
) -> PageResult {
    let finding = form.text("finding");
    let reason = form.text("reason");
    if reason.is_empty() {
        return Err(WebError::BadRequest(
            page.ctx(None, msg("nav.appeals"))
                .t("q.reason_required")
                .to_string(),
        ));
    }
    ReviewService::new(state.store.clone())
        .file_appeal(&page.user.principal, &id, &finding, &reason, now())
        .await?;
    Ok(see_other(&format!(
        "{}?done=appealed#review",
        conversation_href(&id)
    )))
}

// ---------------------------------------------------------------------------
// Review queue
// ---------------------------------------------------------------------------

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
pub(super) async fn queue(State(state): State<AppState>, page: Page) -> PageResult {
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
pub(super) async fn build_queue(
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

// ---------------------------------------------------------------------------
// Appeals
// ---------------------------------------------------------------------------

/// An appeal as listed.
pub(super) struct AppealRow {
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
async fn appealed_findings(
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

fn appeal_row(ctx: &Ctx, a: &Appeal, finding: Option<&ReviewedFinding>) -> AppealRow {
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
pub(super) async fn appeals(State(state): State<AppState>, page: Page) -> PageResult {
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
pub(super) async fn appeal(
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
pub(super) async fn decide(
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

// ---------------------------------------------------------------------------
// Agents
// ---------------------------------------------------------------------------

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
pub(super) async fn agents(State(state): State<AppState>, page: Page) -> PageResult {
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
pub(super) async fn agent(
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
