//! The overview (`GET /`): for one period, the KPIs against their targets,
//! the complaints that need attention now, daily (or weekly) trends, the
//! most broken rules and the score distribution.
//!
//! Supervisors, admins and inspectors see the centre (or one agent with
//! `?agent=`); an agent sees their own figures only. Everything is read from
//! the daily rollups (`kpi_daily`, `wait_daily`, `rule_daily`,
//! `score_daily`) and the complaints table, never from the inspections.
//!
//! The page reads only the totals of its scope rather than the whole
//! [`KpiService::report`] (every agent's KPIs, wait histograms and rule
//! counts: ~250–300 ms for a month of a million conversations on SQLite,
//! against ~130 ms for this page); it adds up the day totals into a
//! [`KpiCounts`], whose KPIs are the report's definitions (the report
//! computes its own through the same type), and a test checks the two
//! paths agree.

use std::collections::BTreeMap;

use axum::extract::State;
use chrono::{Datelike, Duration, NaiveDate, Utc};
use kefu_service::auth::{self as users, can_read_agent_data};
use kefu_service::kpi::{is_rate, KpiCounts, KpiService, KpiValue, QualitySettings, Target};
use kefu_service::period::{Period, PeriodKind};
use kefu_store::quality::{DayTotals, RuleTotal};
use kefu_store::OpenComplaintCounts;

use super::charts::{self, Chart, Datum};
use super::html::{self, num};
use super::i18n::msg;
use super::page::{query_string, render, Ctx, Page, PageResult, Section, WebError};
use crate::AppState;

/// Periods longer than this many days are drawn by ISO week.
const DAILY_MAX_DAYS: i64 = 45;
/// Periods longer than this many days are drawn by month.
const WEEKLY_MAX_DAYS: i64 = 740;
/// Rules in the Pareto chart and its table.
const TOP_RULES: usize = 10;
/// Width of a score bucket of `score_daily`.
const BUCKET: i64 = 5;

/// The KPI tiles, in order, with the message key of their name.
const TILES: &[(&str, &str)] = &[
    ("answer_rate", msg("overview.kpi.answer_rate")),
    ("timely_answer_rate", msg("overview.kpi.timely_answer_rate")),
    ("avg_score", msg("overview.kpi.avg_score")),
    ("pass_rate", msg("overview.kpi.pass_rate")),
    ("satisfied_share", msg("overview.kpi.satisfied_share")),
];

/// `12,345`.
fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A KPI value as shown: rates in percent, the rest as they are.
fn shown(key: &str, v: f64) -> String {
    if is_rate(key) {
        format!("{}%", num(v * 100.0))
    } else {
        num(v)
    }
}

/// A target as a threshold on the chart's scale (rates in percent).
fn target_value(key: &str, t: Target) -> f64 {
    let v = match t {
        Target::AtLeast(v) | Target::AtMost(v) => v,
    };
    if is_rate(key) {
        v * 100.0
    } else {
        v
    }
}

/// `目标 ≥ 90%`.
fn target_text(ctx: &Ctx, key: &str, t: Target) -> String {
    match t {
        Target::AtLeast(v) => ctx.t1("overview.target_at_least", shown(key, v)),
        Target::AtMost(v) => ctx.t1("overview.target_at_most", shown(key, v)),
    }
}

// ---------------------------------------------------------------------------
// The period

/// A link of the period picker.
struct PeriodLink {
    label: String,
    href: String,
    current: bool,
}

/// `/?period=…` keeping the agent chosen by staff.
fn period_href(period: &str, agent: Option<&str>) -> String {
    let mut pairs = vec![("period", period)];
    if let Some(a) = agent {
        pairs.push(("agent", a));
    }
    format!("/{}", query_string(pairs))
}

/// The period after `p`, of the same kind and length.
fn next_label(p: &Period) -> String {
    let start = p.end;
    match p.kind {
        PeriodKind::Day => start.to_string(),
        PeriodKind::Week => {
            let w = start.iso_week();
            format!("{:04}-W{:02}", w.year(), w.week())
        }
        PeriodKind::Month => Period::month_of(start).label,
        PeriodKind::Quarter => format!("{:04}-Q{}", start.year(), start.month0() / 3 + 1),
        PeriodKind::Year => format!("{:04}", start.year()),
        PeriodKind::Range => {
            let last = start + (p.end - p.start) - Duration::days(1);
            format!("{start}..{last}")
        }
    }
}

/// The quick choices: yesterday, the last 7 days, this month, last month.
fn quick_links(
    ctx: &Ctx,
    today: NaiveDate,
    current: &Period,
    agent: Option<&str>,
) -> Vec<PeriodLink> {
    let yesterday = today - Duration::days(1);
    let this_month = Period::month_of(today);
    [
        (msg("overview.yesterday"), yesterday.to_string()),
        (
            msg("overview.last_7_days"),
            format!("{}..{}", today - Duration::days(6), today),
        ),
        (msg("overview.this_month"), this_month.label.clone()),
        (msg("overview.last_month"), this_month.previous().label),
    ]
    .into_iter()
    .map(|(key, label)| PeriodLink {
        label: ctx.t(key).to_string(),
        href: period_href(&label, agent),
        current: label == current.label,
    })
    .collect()
}

// ---------------------------------------------------------------------------
// KPI tiles

/// One KPI against its target.
struct Tile {
    label: String,
    /// The gauge, SVG.
    gauge: String,
    /// The value as text (for screen readers; the gauge shows it too).
    value: String,
    /// `good`, `bad` or `none` (a CSS class).
    status: &'static str,
    /// ✓ 达标 / ✗ 未达标 / 无数据.
    status_text: String,
    target: String,
    /// What the value is computed from.
    of: String,
}

/// `value` to one decimal, as shown, without rounding across the target:
/// 89.97 % against a target of at least 90 % shows as 89.9 %, not 90 %.
fn displayed(value: f64, target: Option<f64>, met: Option<bool>) -> f64 {
    let rounded = (value * 10.0).round() / 10.0;
    match (target, met) {
        (Some(t), Some(false)) if value < t && rounded >= t => (value * 10.0).floor() / 10.0,
        (Some(t), Some(false)) if value > t && rounded <= t => (value * 10.0).ceil() / 10.0,
        _ => rounded,
    }
}

fn tile(ctx: &Ctx, key: &str, label_key: &str, kpi: Option<&KpiValue>, answered: i64) -> Tile {
    let label = ctx.t(label_key).to_string();
    let value = kpi.and_then(|k| k.value).filter(|v| v.is_finite());
    let target = kpi.and_then(|k| k.target);
    let rate = is_rate(key);
    let scale = if rate { 100.0 } else { 1.0 };
    let chart = Chart::new(label.clone(), ctx.t("chart.no_data"))
        .suffix(if rate { "%" } else { "" })
        .size(240.0, 150.0);
    let met = kpi.and_then(|k| k.met);
    let shown_value =
        value.map(|v| displayed(v * scale, target.map(|t| target_value(key, t)), met));
    let gauge = charts::gauge(
        &chart,
        shown_value,
        0.0,
        100.0,
        target.map(|t| target_value(key, t)),
    );
    let (status, status_text) = match (met, value) {
        (Some(true), _) => ("good", format!("✓ {}", ctx.t("overview.met"))),
        (Some(false), _) => ("bad", format!("✗ {}", ctx.t("overview.not_met"))),
        (None, None) => ("none", format!("– {}", ctx.t("overview.no_data"))),
        (None, Some(_)) => ("none", ctx.t("overview.no_target").to_string()),
    };
    let of = match (key, kpi.and_then(|k| k.of)) {
        ("avg_score", _) if value.is_some() => ctx.t1("overview.of.avg_score", thousands(answered)),
        (_, Some((n, d))) => {
            let (n, d) = (thousands(n.round() as i64), thousands(d.round() as i64));
            match key {
                "answer_rate" => ctx.t2("overview.of.answer_rate", n, d),
                "timely_answer_rate" => ctx.t2("overview.of.timely_answer_rate", n, d),
                "pass_rate" => ctx.t2("overview.of.pass_rate", n, d),
                _ => ctx.t2("overview.of.satisfied_share", n, d),
            }
        }
        _ => String::new(),
    };
    Tile {
        value: shown_value.map_or_else(
            || ctx.t("overview.no_data").to_string(),
            |v| format!("{}{}", num(v), if rate { "%" } else { "" }),
        ),
        target: target.map_or_else(String::new, |t| target_text(ctx, key, t)),
        label,
        gauge,
        status,
        status_text,
        of,
    }
}

// ---------------------------------------------------------------------------
// Complaints

// ---------------------------------------------------------------------------
// Trends

/// How trend points are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grain {
    Day,
    Week,
    Month,
}

impl Grain {
    fn of(period: &Period) -> Grain {
        match period.days() {
            d if d <= DAILY_MAX_DAYS => Grain::Day,
            d if d <= WEEKLY_MAX_DAYS => Grain::Week,
            _ => Grain::Month,
        }
    }

    /// The first day of the group of `date`.
    fn start(self, date: NaiveDate) -> NaiveDate {
        match self {
            Grain::Day => date,
            Grain::Week => date - Duration::days(i64::from(date.weekday().num_days_from_monday())),
            Grain::Month => date.with_day(1).unwrap_or(date),
        }
    }

    /// The first day of the group after the one starting at `start`.
    fn next(self, start: NaiveDate) -> NaiveDate {
        match self {
            Grain::Day => start + Duration::days(1),
            Grain::Week => start + Duration::days(7),
            Grain::Month => Period::month_of(start).end,
        }
    }

    fn label(self, start: NaiveDate, one_year: bool) -> String {
        match self {
            Grain::Day if one_year => start.format("%m-%d").to_string(),
            Grain::Day => start.to_string(),
            Grain::Week => {
                let w = start.iso_week();
                format!("{:04}-W{:02}", w.year(), w.week())
            }
            Grain::Month => start.format("%Y-%m").to_string(),
        }
    }

    fn note_key(self) -> &'static str {
        match self {
            Grain::Day => msg("overview.by_day"),
            Grain::Week => msg("overview.by_week"),
            Grain::Month => msg("overview.by_month"),
        }
    }
}

/// Sums of one trend point.
#[derive(Debug, Default, Clone, PartialEq)]
struct Bucket {
    label: String,
    counts: KpiCounts,
}

impl Bucket {
    /// KPI `key` of the point on the chart's scale (rates in percent).
    fn value(&self, key: &str) -> Option<f64> {
        let v = self.counts.value(key)?;
        Some(if is_rate(key) { v * 100.0 } else { v })
    }
}

/// Every day, week or month of the period in order (empty ones too, so
/// the x axis is time), with the day totals added to theirs.
fn buckets(period: &Period, days: &[DayTotals]) -> (Grain, Vec<Bucket>) {
    let grain = Grain::of(period);
    let one_year = period.start.year() == (period.end - Duration::days(1)).year();
    let mut index: BTreeMap<NaiveDate, usize> = BTreeMap::new();
    let mut out = Vec::new();
    let mut at = grain.start(period.start);
    while at < period.end && out.len() < 2_000 {
        index.insert(at, out.len());
        out.push(Bucket {
            label: grain.label(at, one_year),
            ..Bucket::default()
        });
        at = grain.next(at);
    }
    for d in days {
        let Some(date) = kefu_store::day_date(d.day) else {
            continue;
        };
        let Some(&i) = index.get(&grain.start(date)) else {
            continue;
        };
        out[i].counts.add(d);
    }
    (grain, out)
}

fn trend_chart(
    ctx: &Ctx,
    key: &str,
    label_key: &str,
    buckets: &[Bucket],
    target: Option<Target>,
    x_label: &str,
) -> String {
    let rate = key != "avg_score";
    let chart = Chart::new(ctx.t(label_key), ctx.t("chart.no_data"))
        .axes(
            x_label,
            ctx.t(if rate {
                msg("overview.axis_percent")
            } else {
                msg("overview.axis_score")
            }),
        )
        .suffix(if rate { "%" } else { "" })
        .size(560.0, 260.0);
    let points: Vec<(String, Option<f64>)> = buckets
        .iter()
        .map(|b| (b.label.clone(), b.value(key)))
        .collect();
    let legend = target.map(|t| {
        ctx.t(match t {
            Target::AtLeast(_) => msg("overview.target_min"),
            Target::AtMost(_) => msg("overview.target_max"),
        })
    });
    charts::line_chart(
        &chart,
        &points,
        target.zip(legend).map(|(t, l)| (target_value(key, t), l)),
    )
}

// ---------------------------------------------------------------------------
// Rules and scores

/// A row of the most-broken-rules table.
struct RuleRow {
    rank: usize,
    id: String,
    name: String,
    /// Conversations that broke it (for the chart).
    n: i64,
    dimension: String,
    conversations: String,
    rate: String,
    /// The conversations of the period that broke it.
    href: String,
}

/// The most broken rules, most first, with links to their conversations.
fn rule_rows(
    state: &AppState,
    rules: &[RuleTotal],
    answered: i64,
    period: &Period,
    agent: Option<&str>,
) -> Vec<RuleRow> {
    let active = state.inspector();
    let names: BTreeMap<&str, &str> = active
        .pack()
        .rules
        .iter()
        .map(|r| (r.id.as_str(), r.name.as_str()))
        .collect();
    let from = period.start.to_string();
    let to = (period.end - Duration::days(1)).to_string();
    let mut top: Vec<&RuleTotal> = rules.iter().filter(|r| r.conversations > 0).collect();
    top.sort_by(|a, b| {
        b.conversations
            .cmp(&a.conversations)
            .then_with(|| a.rule.cmp(&b.rule))
    });
    top.into_iter()
        .take(TOP_RULES)
        .enumerate()
        .map(|(i, r)| {
            let mut pairs = vec![
                ("rule", r.rule.as_str()),
                ("from", from.as_str()),
                ("to", to.as_str()),
            ];
            if let Some(a) = agent {
                pairs.push(("agent", a));
            }
            RuleRow {
                rank: i + 1,
                name: names
                    .get(r.rule.as_str())
                    .map_or_else(|| r.rule.clone(), |n| (*n).to_string()),
                id: r.rule.clone(),
                n: r.conversations,
                dimension: r.dimension.clone(),
                conversations: thousands(r.conversations),
                rate: if answered > 0 {
                    format!("{}%", num(r.conversations as f64 / answered as f64 * 100.0))
                } else {
                    String::new()
                },
                href: format!("/conversations{}", query_string(pairs)),
            }
        })
        .collect()
}

/// The score histogram (5-point buckets, 100 counted with 95–100) as bars,
/// with a dashed vertical line at the pass mark.
fn score_chart(ctx: &Ctx, counts: &BTreeMap<i64, i64>, pass_mark: f64) -> String {
    let bins = (100 / BUCKET) as usize;
    let mut n = vec![0i64; bins];
    for (bucket, count) in counts {
        let i = (bucket / BUCKET).clamp(0, bins as i64 - 1) as usize;
        n[i] += count;
    }
    let mark = ctx.t1("overview.pass_mark", num(pass_mark));
    let chart = Chart::new(ctx.t("overview.scores"), ctx.t("chart.no_data"))
        .axes(
            ctx.t2("overview.scores_axis", BUCKET, &mark),
            ctx.t("overview.axis_conversations"),
        )
        .size(880.0, 300.0)
        .marker_x(pass_mark / BUCKET as f64, &mark);
    if n.iter().all(|c| *c == 0) {
        return charts::bar_chart(&chart, &[]);
    }
    let data: Vec<Datum> = n
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let lo = i as i64 * BUCKET;
            Datum::new(format!("{lo}–{}", lo + BUCKET), *c as f64)
        })
        .collect();
    charts::bar_chart(&chart, &data)
}

// ---------------------------------------------------------------------------
// The page

#[derive(askama::Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    ctx: Ctx,
    /// The period as typed in the picker.
    period_value: String,
    /// `2026-10-01 – 2026-10-31`.
    period_span: String,
    invalid_period: Option<String>,
    quick: Vec<PeriodLink>,
    prev_href: String,
    next_href: Option<String>,
    /// Staff may pick an agent; agents see only themselves.
    agent_field: bool,
    f_agent: String,
    /// Whose figures: the centre or an agent.
    scope: String,
    tiles: Vec<Tile>,
    timely_note: String,
    complaints: OpenComplaintCounts,
    complaints_note: String,
    grain_note: String,
    trends: Vec<String>,
    pareto: String,
    rules: Vec<RuleRow>,
    rules_note: String,
    scores: String,
}

/// `GET /`: the overview of `?period=` (default: this month, China time);
/// staff may add `?agent=`.
pub(super) async fn page(State(state): State<AppState>, page: Page) -> PageResult {
    page.user.require(Section::Overview)?;
    let ctx = page.ctx(Some(Section::Overview), msg("nav.overview"));
    let now = Utc::now();
    let today = now.with_timezone(&html::china()).date_naive();
    let asked = page.param("period");
    let (period, invalid_period) = match asked.map(str::parse::<Period>) {
        Some(Ok(p)) => (p, None),
        Some(Err(_)) => (
            Period::month_of(today),
            Some(ctx.t1("overview.invalid_period", asked.unwrap_or(""))),
        ),
        None => (Period::month_of(today), None),
    };
    let agent: Option<String> = match page.user.agent_scope() {
        Some(me) => Some(me.to_string()),
        None => page.param("agent").map(str::to_string),
    };
    if let Some(a) = &agent {
        if !can_read_agent_data(&page.user.principal, a) {
            return Err(WebError::Forbidden);
        }
    }
    let staff_agent = agent
        .as_deref()
        .filter(|_| page.user.agent_scope().is_none());

    let settings: QualitySettings = KpiService::new(state.store.clone()).settings().await?;
    let (from, to, who) = (period.start_day(), period.end_day(), agent.as_deref());
    // First: it folds in the days changed since the last read, which the
    // rule totals below rely on. (Running these reads side by side on
    // SQLite was measured slower than one after the other.)
    let days = state
        .store
        .daily_totals(from, to, who, settings.answer_within_s)
        .await?;
    let histogram = state.store.score_histogram(from, to, who).await?;
    let rule_totals = state.store.rule_totals(from, to, who).await?;
    let complaints = state
        .store
        .open_complaint_counts(who, now.timestamp_millis())
        .await?;
    let person = match who {
        Some(id) => users::get_user(&state.store, id).await?,
        None => None,
    };

    let totals = KpiCounts::sum(&days);
    let values = totals.kpis(&settings);
    let tiles: Vec<Tile> = TILES
        .iter()
        .map(|(key, label)| {
            tile(
                &ctx,
                key,
                label,
                values.iter().find(|k| k.key == *key),
                totals.answered,
            )
        })
        .collect();

    let (grain, points) = buckets(&period, &days);
    let x_label = ctx.t(match grain {
        Grain::Day => msg("overview.axis_day"),
        Grain::Week => msg("overview.axis_week"),
        Grain::Month => msg("overview.axis_month"),
    });
    let trends = TILES
        .iter()
        .filter(|(key, _)| *key != "satisfied_share")
        .map(|(key, label)| {
            let target = settings.targets.get(*key).copied();
            trend_chart(&ctx, key, label, &points, target, x_label)
        })
        .collect();

    let rules = rule_rows(&state, &rule_totals, totals.answered, &period, staff_agent);
    let pareto = charts::pareto_chart(
        &Chart::new(ctx.t("overview.rules_chart"), ctx.t("chart.no_data"))
            .axes("", ctx.t("overview.axis_conversations"))
            .size(880.0, 300.0),
        &rules
            .iter()
            .map(|r| Datum::new(r.name.clone(), r.n as f64))
            .collect::<Vec<_>>(),
        ctx.t("chart.cumulative"),
    );
    let scores = score_chart(&ctx, &histogram, state.inspector().pack().scoring.pass_mark);

    let last = period.end - Duration::days(1);
    let scope_label = match &agent {
        None => ctx.t("overview.scope_centre").to_string(),
        Some(a) => {
            let name = person
                .as_ref()
                .map(|u| u.display_name.trim())
                .filter(|n| !n.is_empty())
                .unwrap_or(a);
            if name == a {
                ctx.t1("overview.scope_agent", a)
            } else {
                ctx.t1("overview.scope_agent", format!("{name}（{a}）"))
            }
        }
    };
    render(&OverviewPage {
        period_value: asked
            .filter(|_| invalid_period.is_some())
            .map_or_else(|| period.label.clone(), str::to_string),
        period_span: if period.days() == 1 {
            period.start.to_string()
        } else {
            ctx.t2("overview.period_span", period.start, last)
        },
        quick: quick_links(&ctx, today, &period, staff_agent),
        prev_href: period_href(&period.previous().label, staff_agent),
        next_href: (period.end <= today).then(|| period_href(&next_label(&period), staff_agent)),
        invalid_period,
        agent_field: page.user.agent_scope().is_none(),
        f_agent: staff_agent.unwrap_or("").to_string(),
        scope: scope_label,
        tiles,
        timely_note: ctx.t1("overview.timely_note", settings.answer_within_s),
        complaints,
        complaints_note: ctx
            .t(if agent.is_some() {
                msg("overview.complaints_note_agent")
            } else {
                msg("overview.complaints_note")
            })
            .to_string(),
        grain_note: ctx.t(grain.note_key()).to_string(),
        trends,
        pareto,
        rules_note: ctx.t1("overview.rules_note", TOP_RULES),
        rules,
        scores,
        ctx,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(date: &str) -> i64 {
        kefu_store::local_day(date.parse().expect("date"))
    }

    fn totals(date: &str, offered: i64, answered: i64) -> DayTotals {
        DayTotals {
            day: day(date),
            offered,
            answered,
            score_sum: 90.0 * answered as f64,
            passed: answered - 1,
            vetoes: 0,
            wait_count: answered,
            timely: answered / 2,
            sat_count: 0,
            sat_satisfied: 0,
        }
    }

    #[test]
    fn tile_kpis_equal_the_reports() {
        use kefu_service::kpi::build_report;
        use kefu_store::quality::{KpiDay, Rollups};
        use std::collections::HashMap;
        let settings = QualitySettings::default();
        let within = settings.answer_within_s;
        let kpi_day =
            |agent: &str, offered, answered, passed, waits: &[(i64, i64)], sat: (i64, i64)| {
                KpiDay {
                    day: day("2026-10-02"),
                    agent_id: agent.into(),
                    offered,
                    answered,
                    score_sum: 86.5 * answered as f64,
                    passed,
                    vetoes: 1,
                    reviewed: 0,
                    wait_count: waits.iter().map(|(_, n)| n).sum(),
                    wait_sum: 0,
                    wait_hist: waits.iter().copied().collect(),
                    sat_count: sat.0,
                    sat_sum: 0,
                    sat_satisfied: sat.1,
                }
            };
        let rollups = Rollups {
            kpi: vec![
                kpi_day(
                    "a-1",
                    20,
                    18,
                    15,
                    &[(3, 10), (within, 4), (within + 1, 3)],
                    (6, 5),
                ),
                kpi_day("a-2", 10, 9, 9, &[(40, 9)], (0, 0)),
            ],
            ..Rollups::default()
        };
        let days: Vec<DayTotals> = rollups
            .kpi
            .iter()
            .map(|k| DayTotals {
                day: k.day,
                offered: k.offered,
                answered: k.answered,
                score_sum: k.score_sum,
                passed: k.passed,
                vetoes: k.vetoes,
                wait_count: k.wait_count,
                timely: k.wait_hist.range(..=within).map(|(_, n)| n).sum(),
                sat_count: k.sat_count,
                sat_satisfied: k.sat_satisfied,
            })
            .collect();
        let period: Period = "2026-10".parse().expect("period");
        let report = build_report(
            &period,
            &rollups,
            &HashMap::new(),
            &HashMap::new(),
            &settings,
        );
        let ours = KpiCounts::sum(&days).kpis(&settings);
        assert_eq!(ours.len(), 6);
        for k in &ours {
            let theirs = report
                .centre
                .kpis
                .iter()
                .find(|r| r.key == k.key)
                .expect("the report has the KPI");
            assert_eq!(k, theirs, "{}", k.key);
        }
        assert_eq!(
            ours.iter()
                .find(|k| k.key == "timely_answer_rate")
                .and_then(|k| k.of),
            Some((14.0, 26.0))
        );
        let none = KpiCounts::default().kpis(&settings);
        assert!(none
            .iter()
            .filter(|k| k.key != "answered")
            .all(|k| k.value.is_none() && k.met.is_none()));
    }

    #[test]
    fn shown_values_do_not_round_across_the_target() {
        assert_eq!(displayed(89.97, Some(90.0), Some(false)), 89.9);
        assert_eq!(displayed(15.04, Some(15.0), Some(false)), 15.1, "at most");
        assert_eq!(displayed(89.94, Some(90.0), Some(false)), 89.9);
        assert_eq!(displayed(90.04, Some(90.0), Some(true)), 90.0);
        assert_eq!(displayed(93.96, None, None), 94.0);
    }

    #[test]
    fn numbers_get_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(-12345), "-12,345");
    }

    #[test]
    fn short_periods_are_daily_with_gaps() {
        let p: Period = "2026-10-01..2026-10-07".parse().expect("period");
        let (grain, b) = buckets(
            &p,
            &[totals("2026-10-02", 10, 8), totals("2026-10-05", 4, 4)],
        );
        assert_eq!(grain, Grain::Day);
        assert_eq!(b.len(), 7);
        assert_eq!(b[0].label, "10-01");
        assert_eq!(b[0].value("answer_rate"), None, "no calls: a gap");
        assert_eq!(b[1].value("answer_rate"), Some(80.0));
        assert_eq!(b[1].value("avg_score"), Some(90.0));
        assert_eq!(b[1].value("timely_answer_rate"), Some(50.0));
        assert_eq!(b[4].value("pass_rate"), Some(75.0));
    }

    #[test]
    fn long_periods_are_weekly_or_monthly() {
        let q: Period = "2026-Q4".parse().expect("period");
        let (grain, b) = buckets(
            &q,
            &[totals("2026-10-01", 10, 10), totals("2026-10-04", 10, 0)],
        );
        assert_eq!(grain, Grain::Week);
        // 2026-10-01 is a Thursday of ISO week 40; the quarter ends in W53.
        assert_eq!(b[0].label, "2026-W40");
        assert_eq!(
            (b[0].counts.offered, b[0].counts.answered),
            (20, 10),
            "same week"
        );
        assert_eq!(b.last().expect("weeks").label, "2026-W53");
        let long: Period = "2024-01-01..2026-12-31".parse().expect("period");
        let (grain, b) = buckets(&long, &[totals("2026-10-15", 3, 3)]);
        assert_eq!(grain, Grain::Month);
        assert_eq!(b.len(), 36);
        assert_eq!(b[33].label, "2026-10");
        assert_eq!(b[33].counts.offered, 3);
    }

    #[test]
    fn next_periods_follow_their_kind() {
        let next = |s: &str| next_label(&s.parse().expect("period"));
        assert_eq!(next("2026-12"), "2027-01");
        assert_eq!(next("2026-10-31"), "2026-11-01");
        assert_eq!(next("2026-W53"), "2027-W01");
        assert_eq!(next("2026-Q4"), "2027-Q1");
        assert_eq!(next("2026"), "2027");
        assert_eq!(next("2026-10-01..2026-10-07"), "2026-10-08..2026-10-14");
    }

    #[test]
    fn pass_mark_is_drawn_between_the_right_bars() {
        let ctx = Ctx::new(
            super::super::i18n::Lang::Zh,
            None,
            "/",
            None,
            "nav.overview",
        );
        let mut counts = BTreeMap::new();
        for (b, n) in [(55, 3), (75, 10), (80, 20), (100, 4)] {
            counts.insert(b, n);
        }
        let svg = score_chart(&ctx, &counts, 80.0);
        assert!(svg.contains("合格线 80 分"));
        assert!(
            svg.contains("95–100: 4</title>"),
            "100 counted in the last bin"
        );
        let mut bars = Vec::new();
        let mut marks = Vec::new();
        let mut reader = quick_xml::Reader::from_str(&svg);
        let mut in_marker = false;
        loop {
            match reader.read_event().expect("well-formed SVG") {
                quick_xml::events::Event::Eof => break,
                quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                    let attr = |name: &str| {
                        e.try_get_attribute(name)
                            .expect("attribute")
                            .map(|a| a.value.into_owned())
                    };
                    let class = attr("class");
                    match e.name().as_ref() {
                        "rect" if class.as_deref() == Some("bar") => {
                            bars.push(attr("x").expect("x").parse::<f64>().expect("number"));
                        }
                        "g" if class.as_deref() == Some("marker") => in_marker = true,
                        "line" if in_marker => {
                            marks.push(attr("x1").expect("x1").parse::<f64>().expect("number"));
                        }
                        _ => {}
                    }
                }
                quick_xml::events::Event::End(e) if e.name().as_ref() == "g" => in_marker = false,
                _ => {}
            }
        }
        assert_eq!(bars.len(), 20);
        assert_eq!(marks.len(), 1, "one pass-mark line");
        let x = marks[0];
        assert!(bars[15] < x && x < bars[16], "between 75–80 and 80–85: {x}");
        assert!(
            score_chart(&ctx, &BTreeMap::new(), 80.0).contains("暂无数据"),
            "no scores: no data"
        );
    }
}
