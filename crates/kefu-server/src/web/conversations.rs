//! Conversations: the filtered, paginated list of current results and the
//! detail page (transcript timeline with findings highlighted, score,
//! dimensions, pack version, result history).

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, State};
use kefu_engine::Role as Speaker;
use kefu_service::auth::{can_read_agent_data, Role};
use kefu_store::{ConversationFilter, InspectionKey, InspectionRow};
use serde::Deserialize;
use serde_json::Value;

use super::charts::{self, Chart, Datum};
use super::html::{self, Mark};
use super::i18n::msg;
use super::labels;
use super::page::{query_string, render, Ctx, Page, PageResult, Section, WebError};
use super::urls;
use crate::AppState;

/// Rows per page.
const PER_PAGE: i64 = 50;
/// A pause between turns longer than this is shown as a silence.
const SILENCE_MS: u64 = 5_000;

/// One line of the list.
struct Row {
    id: String,
    href: String,
    agent: String,
    started: String,
    channel: String,
    score: String,
    grade: String,
    passed: bool,
    veto: bool,
    findings: i64,
}

/// A rule to filter by.
struct RuleOption {
    id: String,
    name: String,
    selected: bool,
}

#[derive(askama::Template)]
#[template(path = "conversations.html")]
struct ListPage {
    ctx: Ctx,
    rows: Vec<Row>,
    /// How many match ("1000+" when the count stopped early).
    total: String,
    page_no: i64,
    /// Pages ("40+" likewise).
    pages: String,
    prev: Option<String>,
    next: Option<String>,
    /// The filter values, as typed (to refill the form).
    f_agent: String,
    f_from: String,
    f_to: String,
    f_min: String,
    f_max: String,
    f_passed: String,
    f_text: String,
    f_channel: String,
    f_team: String,
    f_reviewed: String,
    rules: Vec<RuleOption>,
    /// Agents see only their own; no agent field for them.
    agent_field: bool,
    /// The list with these filters as CSV and XLSX.
    export_csv: String,
    export_xlsx: String,
    /// Staff may upload files.
    can_import: bool,
    /// Labels of filters that could not be read and were ignored.
    invalid: Vec<String>,
    histogram: String,
    pareto: String,
}

/// Reads a `YYYY-MM-DD` date as Unix ms of midnight, China time; `end`
/// moves to the next midnight (the day is included).
fn date_bound(value: &str, end: bool) -> Option<i64> {
    let date = chrono::NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d").ok()?;
    let date = if end { date.succ_opt()? } else { date };
    let t = date
        .and_hms_opt(0, 0, 0)?
        .and_local_timezone(html::china())
        .single()?;
    Some(t.timestamp_millis())
}

/// `GET /conversations`: filters `agent`, `team`, `from`, `to` (dates,
/// both included), `min`, `max` (score), `rule`, `channel`, `passed`
/// (`1`/`0`), `reviewed` (`1`/`0`), `q` (text in the transcript); `page`
/// from 1.
/// The list's filter from the query (agents: their own conversations),
/// the labels of filters that could not be read, and the page number.
pub(super) fn list_filter(page: &Page, ctx: &Ctx) -> (ConversationFilter, Vec<String>, i64) {
    let mut invalid = Vec::new();
    let mut number = |name: &str, label: &str| -> Option<f64> {
        let v = page.param(name)?;
        match v.parse::<f64>().ok().filter(|x| x.is_finite()) {
            Some(x) => Some(x),
            None => {
                invalid.push(ctx.t(label).to_string());
                None
            }
        }
    };
    let min_score = number("min", msg("conv.f_min"));
    let max_score = number("max", msg("conv.f_max"));
    let mut date = |name: &str, label: &str, end: bool| -> Option<i64> {
        let v = page.param(name)?;
        let parsed = date_bound(v, end);
        if parsed.is_none() {
            invalid.push(ctx.t(label).to_string());
        }
        parsed
    };
    let from_ms = date("from", msg("conv.f_from"), false);
    let to_ms = date("to", msg("conv.f_to"), true);
    let passed = match page.param("passed") {
        Some("1") => Some(true),
        Some("0") => Some(false),
        _ => None,
    };
    let page_no = page
        .param("page")
        .and_then(|p| p.parse::<i64>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let agent_id = match page.user.agent_scope() {
        Some(own) => Some(own.to_string()),
        None => page.param("agent").map(str::to_string),
    };
    let rule = page.param("rule").map(str::to_string);
    let text = page.param("q").map(str::to_string);
    let channel = page
        .param("channel")
        .filter(|c| matches!(*c, "phone" | "chat"))
        .map(str::to_string);
    // Agents have no team filter: they see their own conversations only.
    let team = page
        .param("team")
        .filter(|_| page.user.agent_scope().is_none())
        .map(str::to_string);
    let pack_version_id = page
        .param("pack_version")
        .and_then(|v| v.parse::<i64>().ok());
    let reviewed = match page.param("reviewed") {
        Some("1") => Some(true),
        Some("0") => Some(false),
        _ => None,
    };
    let filter = ConversationFilter {
        agent_id,
        from_ms,
        to_ms,
        passed,
        rule: rule.clone(),
        min_score,
        max_score,
        limit: Some(PER_PAGE),
        offset: Some((page_no - 1).saturating_mul(PER_PAGE)),
        text: text.clone(),
        channel: channel.clone(),
        team: team.clone(),
        reviewed,
        pack_version_id,
        // "Next" links carry the keyset cursor; a page number alone (old
        // links, "previous") is found by offset.
        after: page.param("cursor").and_then(InspectionKey::from_cursor),
    };
    (filter, invalid, page_no)
}

pub(super) async fn list(State(state): State<AppState>, page: Page) -> PageResult {
    page.user.require(Section::Conversations)?;
    let ctx = page.ctx(Some(Section::Conversations), msg("conv.list_title"));
    let (filter, invalid, page_no) = list_filter(&page, &ctx);
    let (rule, text, channel, team) = (
        filter.rule.clone(),
        filter.text.clone(),
        filter.channel.clone(),
        filter.team.clone(),
    );
    let list = state.store.list_inspections_page(&filter).await?;
    let (items, total) = (list.items, list.total);
    let pages = ((total + PER_PAGE - 1) / PER_PAGE).max(page_no);
    // A count that stopped early is a lower bound: shown as "1000+".
    let plus = if list.total_estimated { "+" } else { "" };
    // Links to other pages keep the filters.
    let kept: Vec<(String, String)> = page
        .query
        .iter()
        .filter(|(k, v)| {
            k != "page" && k != "cursor" && k != "lang" && k != "done" && !v.trim().is_empty()
        })
        .cloned()
        .collect();
    let link = |n: i64, cursor: Option<String>| {
        let n = n.to_string();
        let mut pairs: Vec<(&str, &str)> =
            kept.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        pairs.push(("page", &n));
        if let Some(c) = &cursor {
            pairs.push(("cursor", c));
        }
        format!("/conversations{}", query_string(pairs))
    };
    let export = |format: &str| {
        let mut pairs: Vec<(&str, &str)> =
            kept.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        pairs.push(("format", format));
        format!("/export/conversations{}", query_string(pairs))
    };
    let (export_csv, export_xlsx) = (export("csv"), export("xlsx"));
    let rows: Vec<Row> = items.iter().map(|r| row(&ctx, r)).collect();
    let scores: Vec<f64> = items.iter().map(|r| r.score).collect();
    let mut by_rule: BTreeMap<String, f64> = BTreeMap::new();
    for r in &items {
        for f in findings_of(&r.result) {
            *by_rule.entry(f.name).or_default() += 1.0;
        }
    }
    let histogram = charts::histogram(
        &Chart::new(ctx.t("conv.chart_scores"), ctx.t("chart.no_data"))
            .axes(
                ctx.t("conv.chart_score_axis"),
                ctx.t("conv.chart_count_axis"),
            )
            .size(560.0, 260.0),
        &scores,
        0.0,
        100.0,
        10,
    );
    let pareto = charts::pareto_chart(
        &Chart::new(ctx.t("conv.chart_rules"), ctx.t("chart.no_data"))
            .axes("", ctx.t("conv.chart_count_axis"))
            .size(560.0, 260.0),
        &by_rule
            .into_iter()
            .map(|(k, v)| Datum::new(k, v))
            .collect::<Vec<_>>(),
        ctx.t("chart.cumulative"),
    );
    let rules = state
        .inspector()
        .pack()
        .rules
        .iter()
        .map(|r| RuleOption {
            selected: rule.as_deref() == Some(r.id.as_str()),
            id: r.id.clone(),
            name: r.name.clone(),
        })
        .collect();
    let p = |name: &str| page.param(name).unwrap_or("").to_string();
    render(&ListPage {
        rows,
        total: format!("{total}{plus}"),
        page_no,
        pages: format!("{pages}{plus}"),
        prev: (page_no > 1).then(|| link(page_no - 1, None)),
        next: list
            .next
            .map(|key| link(page_no + 1, Some(key.to_cursor()))),
        f_agent: p("agent"),
        f_from: p("from"),
        f_to: p("to"),
        f_min: p("min"),
        f_max: p("max"),
        f_passed: p("passed"),
        f_text: text.unwrap_or_default(),
        f_channel: channel.unwrap_or_default(),
        f_team: team.unwrap_or_default(),
        f_reviewed: p("reviewed"),
        rules,
        agent_field: page.user.agent_scope().is_none(),
        export_csv,
        export_xlsx,
        can_import: page.user.role() != kefu_service::auth::Role::Agent,
        invalid,
        histogram,
        pareto,
        ctx,
    })
}

fn row(ctx: &Ctx, r: &InspectionRow) -> Row {
    let channel = r
        .result
        .get("channel")
        .and_then(Value::as_str)
        .unwrap_or("");
    Row {
        href: urls::conversation(&r.conversation_id),
        id: r.conversation_id.clone(),
        agent: r.agent_id.clone().unwrap_or_default(),
        started: r.started_at.map(html::fmt_ms).unwrap_or_default(),
        channel: ctx.label(&labels::channel(channel), channel).to_string(),
        score: html::num(r.score),
        grade: r.grade.clone().unwrap_or_default(),
        passed: r.passed,
        veto: r.veto,
        findings: r.finding_count,
    }
}

/// What the page needs of an automatic finding as stored in a result (the
/// rest comes from the reviewed findings).
#[derive(Debug, Clone, Deserialize)]
struct StoredFinding {
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
}

#[derive(Debug, Clone, Deserialize)]
struct StoredDimension {
    #[serde(default)]
    dimension: String,
    #[serde(default)]
    deduction: f64,
}

/// The parts of a stored result the page shows.
#[derive(Debug, Clone, Default, Deserialize)]
struct StoredResult {
    #[serde(default)]
    score: f64,
    #[serde(default)]
    grade: Option<String>,
    #[serde(default)]
    passed: bool,
    #[serde(default)]
    veto: bool,
    #[serde(default)]
    findings: Vec<StoredFinding>,
    #[serde(default)]
    dimensions: Vec<StoredDimension>,
    #[serde(default)]
    not_applicable: Vec<String>,
    #[serde(default)]
    manual: Vec<String>,
    #[serde(default)]
    pack: String,
}

fn findings_of(result: &Value) -> Vec<StoredFinding> {
    result
        .get("findings")
        .cloned()
        .and_then(|f| serde_json::from_value(f).ok())
        .unwrap_or_default()
}

/// A finding as listed on the detail page.
struct FindingRow {
    number: usize,
    rule: String,
    name: String,
    dimension: String,
    kind: String,
    message: String,
    text: String,
    deduction: String,
    veto: bool,
    /// `#f{number}` when it points into the transcript.
    href: Option<String>,
    /// The turn it is in, 1-based, for people.
    turn: Option<usize>,
    /// Whether it still counts (not overturned or withdrawn).
    counts: bool,
    /// Review status name (`overturned`, `withdrawn`, …; CSS class).
    status_name: &'static str,
    /// Its label, shown instead of the deduction when it no longer counts.
    status: String,
}

/// Something between two turns.
struct Gap {
    /// `silence` or `overlap` (CSS class and label).
    kind: &'static str,
    label: String,
}

/// A turn of the timeline.
struct TurnRow {
    number: usize,
    speaker: &'static str,
    speaker_label: String,
    time: String,
    end: String,
    html: String,
    gap: Option<Gap>,
    flagged: bool,
}

/// A previous result.
struct HistoryRow {
    current: bool,
    pack: String,
    score: String,
    passed: bool,
    at: String,
}

#[derive(askama::Template)]
#[template(path = "conversation.html")]
struct DetailPage {
    ctx: Ctx,
    id: String,
    review_href: String,
    appeals_href: String,
    agent: String,
    customer: String,
    channel: String,
    started: String,
    ended_by: String,
    wait: String,
    has_result: bool,
    grade: String,
    passed: bool,
    veto: bool,
    pack: String,
    findings: Vec<FindingRow>,
    turns: Vec<TurnRow>,
    not_applicable: Vec<String>,
    manual: Vec<String>,
    dimensions: String,
    /// The score on a half ring, the pass mark ticked.
    gauge: String,
    history: Vec<HistoryRow>,
    complaint_href: Option<String>,
    /// Review and appeal state and forms.
    review: Option<super::review::ReviewPanel>,
    /// Marking a customer's turn as information feedback.
    mark: Option<super::feedback::MarkForm>,
}

/// Points deducted per dimension, after review when there is a review
/// view (dimensions in the result's order, then any others).
fn dimension_data(
    result: &StoredResult,
    reviewed: &[kefu_engine::review::ReviewedFinding],
) -> Vec<Datum> {
    if reviewed.is_empty() {
        return result
            .dimensions
            .iter()
            .map(|d| Datum::new(d.dimension.clone(), d.deduction))
            .collect();
    }
    let mut data: Vec<Datum> = result
        .dimensions
        .iter()
        .map(|d| Datum::new(d.dimension.clone(), 0.0))
        .collect();
    for f in reviewed.iter().filter(|f| f.status.counts()) {
        match data.iter_mut().find(|d| d.label == f.dimension) {
            Some(d) => d.value += f.deduction,
            None => data.push(Datum::new(f.dimension.clone(), f.deduction)),
        }
    }
    data
}

fn speaker_name(s: Speaker) -> &'static str {
    match s {
        Speaker::Agent => "agent",
        Speaker::Customer => "customer",
        Speaker::System => "system",
    }
}

/// `GET /conversations/{id}`.
pub(super) async fn detail(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
) -> PageResult {
    page.user.require(Section::Conversations)?;
    let conv = state
        .store
        .conversation(&id)
        .await?
        .ok_or(WebError::NotFound)?;
    // Agents: another agent's conversation is "not found", like a missing one.
    let owner = conv.agent_id.as_deref().unwrap_or("");
    if !can_read_agent_data(&page.user.principal, owner)
        || (page.user.role() == Role::Agent && owner.is_empty())
    {
        return Err(WebError::NotFound);
    }
    let ctx = page.ctx(Some(Section::Conversations), msg("conv.detail_title"));
    let history = state.store.inspection_history(&id).await?;
    let versions: HashMap<i64, String> = state
        .store
        .pack_versions()
        .await?
        .into_iter()
        .map(|v| (v.id, format!("{}@{}", v.pack_id, v.version)))
        .collect();
    let current = history.iter().find(|h| h.is_current);
    let result: StoredResult = current
        .and_then(|h| serde_json::from_value(h.result.clone()).ok())
        .unwrap_or_default();

    // The effective findings (after review and appeals), numbered; marks
    // per turn for those that count.
    let panel = match current {
        Some(_) => super::review::review_panel(&state, &page, &ctx, &id).await?,
        None => None,
    };
    let reviewed: Vec<kefu_engine::review::ReviewedFinding> = match &panel {
        Some((_, f)) => f.clone(),
        None => Vec::new(),
    };
    let mut marks: HashMap<usize, Vec<Mark>> = HashMap::new();
    let mut findings = Vec::with_capacity(reviewed.len());
    for (i, f) in reviewed.iter().enumerate() {
        let number = i + 1;
        let counts = f.status.counts();
        let in_text = f.turn.filter(|t| *t < conv.turns.len());
        if let (Some(t), true) = (in_text, counts) {
            let [start, end] = f.span.unwrap_or([0, 0]);
            marks.entry(t).or_default().push(Mark {
                start,
                end: end.max(start),
                number,
                veto: f.veto,
            });
        }
        let kind = f
            .key
            .strip_prefix("auto:")
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| result.findings.get(n))
            .map_or_else(|| "manual".to_string(), |a| a.kind.clone());
        findings.push(FindingRow {
            number,
            rule: f.rule.clone(),
            name: f.name.clone(),
            dimension: f.dimension.clone(),
            kind: ctx.label(&labels::rule_kind(&kind), &kind).to_string(),
            message: f.message.clone(),
            text: f.text.clone().unwrap_or_default(),
            deduction: html::num(f.deduction),
            veto: f.veto,
            href: (in_text.is_some() && counts).then(|| format!("#f{number}")),
            turn: in_text.map(|t| t + 1),
            counts,
            status_name: super::review::status_name(f.status),
            status: ctx
                .t(&format!(
                    "q.status.{}",
                    super::review::status_name(f.status)
                ))
                .to_string(),
        });
    }

    // The timeline.
    let mut turns = Vec::with_capacity(conv.turns.len());
    let mut prev_end: Option<u64> = None;
    for (i, t) in conv.turns.iter().enumerate() {
        let gap = match (prev_end, t.start_ms) {
            (Some(end), Some(start)) if start > end && start - end > SILENCE_MS => Some(Gap {
                kind: "silence",
                label: ctx.t1("conv.silence", html::secs((start - end) as f64)),
            }),
            (Some(end), Some(start)) if start < end => Some(Gap {
                kind: "overlap",
                label: ctx.t1("conv.overlap", html::secs((end - start) as f64)),
            }),
            _ => None,
        };
        if t.end_ms.is_some() || t.start_ms.is_some() {
            prev_end = t.end_ms.or(t.start_ms);
        }
        let turn_marks = marks.remove(&i).unwrap_or_default();
        let speaker = speaker_name(t.role);
        turns.push(TurnRow {
            number: i + 1,
            speaker,
            speaker_label: ctx.t(&labels::speaker(speaker)).to_string(),
            time: t.start_ms.map(html::clock).unwrap_or_default(),
            end: t.end_ms.map(html::clock).unwrap_or_default(),
            flagged: !turn_marks.is_empty(),
            html: html::highlight(&t.text, &turn_marks),
            gap,
        });
    }

    let dimensions = charts::bar_chart(
        &Chart::new(ctx.t("conv.chart_dimensions"), ctx.t("chart.no_data"))
            .axes("", ctx.t("conv.deduction"))
            .size(560.0, 240.0),
        &dimension_data(&result, &reviewed),
    );
    let active = state.inspector();
    let scoring = &active.pack().scoring;
    let score = panel.as_ref().map_or(result.score, |(p, _)| p.score);
    let gauge = charts::gauge(
        &Chart::new(ctx.t("conv.score"), ctx.t("chart.no_data")).size(220.0, 150.0),
        current.map(|_| score),
        0.0,
        scoring.base,
        Some(scoring.pass_mark),
    );
    let history_rows = history
        .iter()
        .map(|h| HistoryRow {
            current: h.is_current,
            pack: versions
                .get(&h.pack_version_id)
                .cloned()
                .unwrap_or_else(|| h.pack_version_id.to_string()),
            score: html::num(h.score),
            passed: h.passed,
            at: html::fmt_ms(h.created_at),
        })
        .collect();
    let pack = current
        .and_then(|h| versions.get(&h.pack_version_id).cloned())
        .unwrap_or_else(|| result.pack.clone());
    let channel = conv.channel.as_str();
    let ended_by = conv.ended_by.map(|e| match e {
        kefu_engine::EndedBy::Agent => "agent",
        kefu_engine::EndedBy::Customer => "customer",
        kefu_engine::EndedBy::System => "system",
    });
    let agent = match (&conv.agent_name, &conv.agent_id) {
        (Some(n), Some(a)) => format!("{n} ({a})"),
        (None, Some(a)) => a.to_string(),
        (Some(n), None) => n.to_string(),
        (None, None) => String::new(),
    };
    let customer = if kefu_service::auth::sees_personal_data(&page.user.principal) {
        conv.customer_name.as_deref().unwrap_or("").to_string()
    } else {
        conv.customer_name
            .as_deref()
            .map(kefu_service::complaint::mask_name)
            .unwrap_or_default()
    };
    // Agents, supervisors and admins open complaints; inspectors do not.
    let complaint_href =
        (page.user.role() != Role::Inspector).then(|| urls::complaint_new_for(&id));
    render(&DetailPage {
        review_href: urls::conversation_review(&id),
        appeals_href: urls::conversation_appeals(&id),
        id: id.clone(),
        agent,
        customer,
        channel: ctx.t(&labels::channel(channel)).to_string(),
        started: conv
            .started_at
            .map(|t| html::fmt_ms(t.timestamp_millis()))
            .unwrap_or_default(),
        ended_by: ended_by
            .map(|e| ctx.t(&labels::speaker(e)).to_string())
            .unwrap_or_default(),
        wait: conv
            .wait_ms
            .map(|w| ctx.t1("unit.seconds", html::secs(w as f64)))
            .unwrap_or_default(),
        has_result: current.is_some(),
        grade: panel.as_ref().map_or_else(
            || result.grade.clone().unwrap_or_default(),
            |(p, _)| p.grade.clone(),
        ),
        passed: panel.as_ref().map_or(result.passed, |(p, _)| p.passed),
        veto: panel.as_ref().map_or(result.veto, |(p, _)| p.veto),
        pack,
        findings,
        turns,
        not_applicable: result.not_applicable.clone(),
        manual: result.manual.clone(),
        dimensions,
        gauge,
        history: history_rows,
        complaint_href,
        review: panel.map(|(p, _)| p),
        mark: super::feedback::mark_form(&state, &conv).await?,
        ctx,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_china_midnights_and_to_is_inclusive() {
        let from = date_bound("2026-03-18", false).expect("date");
        let to = date_bound("2026-03-18", true).expect("date");
        assert_eq!(to - from, 86_400_000);
        assert_eq!(html::fmt_ms(from), "2026-03-18 00:00");
        assert_eq!(date_bound("18/03/2026", false), None);
        assert_eq!(date_bound("", true), None);
    }
}
