//! Customers on the dashboard: the list by grade, the customer page (十问
//! profile, figures, timeline, grade history, contact and grade forms) and
//! "my follow-ups" (overdue, due today, care reminders). Everything goes
//! through [`CustomerService`], which applies the role rules and masks
//! personal data.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use kefu_service::auth::Role;
use kefu_service::customer::profile::TEN_QUESTIONS;
use kefu_service::customer::{
    ContactInput, CustomerInput, CustomerService, CustomerSummary, CustomerView, Profile,
};
use kefu_store::customers::{CustomerFilter, CustomerListKey};

use super::charts::{self, Chart};
use super::html;
use super::i18n::msg;
use super::page::{
    query_string, render, render_status, safe_next, see_other, CsrfForm, Ctx, FormData, Page,
    PageResult, Section, WebError,
};
use super::urls;
use crate::AppState;

/// Rows per page of the list.
const PER_PAGE: i64 = 50;

fn service(state: &AppState) -> CustomerService {
    CustomerService::new(state.store.clone())
}

/// `/customers/{id}`.
fn customer_href(id: &str) -> String {
    format!("/customers/{}", urls::segment(id))
}

/// A row of the list or the follow-up queue.
struct Row {
    name: String,
    href: String,
    grade: String,
    manual: bool,
    owner: String,
    last: String,
    due: String,
    state: String,
    state_class: &'static str,
}

/// An agent as shown: `name（id）`, or the id when no name is known.
fn agent_label(names: &HashMap<String, String>, id: &str) -> String {
    match names.get(id) {
        Some(n) if n != id => format!("{n}（{id}）"),
        _ => id.to_string(),
    }
}

/// The display names of the owners of `summaries`.
async fn owner_names(
    svc: &CustomerService,
    summaries: &[&CustomerSummary],
) -> Result<HashMap<String, String>, WebError> {
    let ids: Vec<&str> = summaries
        .iter()
        .filter_map(|s| s.owner_id.as_deref())
        .collect();
    Ok(svc.agent_names(&ids).await?)
}

fn row(ctx: &Ctx, names: &HashMap<String, String>, s: &CustomerSummary) -> Row {
    Row {
        name: s.name.clone(),
        href: customer_href(&s.id),
        grade: s.grade.clone(),
        manual: s.grade_manual,
        owner: s
            .owner_id
            .as_deref()
            .map(|o| agent_label(names, o))
            .unwrap_or_default(),
        last: s.last_contact_at.map(html::fmt_ms).unwrap_or_default(),
        due: s.next_due_at.map(html::fmt_ms).unwrap_or_default(),
        state: if s.do_not_disturb {
            ctx.t("cust.dnd").to_string()
        } else {
            ctx.label(&format!("cust.state.{}", s.cadence_state), s.cadence_state)
                .to_string()
        },
        state_class: s.cadence_state,
    }
}

#[derive(askama::Template)]
#[template(path = "customers.html")]
struct ListPage {
    ctx: Ctx,
    tabs: Vec<(String, String, bool)>,
    q: String,
    grade: String,
    rows: Vec<Row>,
    /// "1000+" when the count stopped early.
    total: String,
    page_no: i64,
    pages: String,
    prev: Option<String>,
    next: Option<String>,
}

/// `GET /customers?grade=A&q=…&page=`: customers by grade (agents: those
/// they own or served).
pub(super) async fn list(State(state): State<AppState>, page: Page) -> PageResult {
    page.user.require(Section::Customers)?;
    let ctx = page.ctx(Some(Section::Customers), msg("cust.list_title"));
    let grade = page
        .param("grade")
        .filter(|g| ["A", "B", "C"].contains(g))
        .map(str::to_string);
    let q = page.param("q").map(str::to_string);
    let page_no = page
        .param("page")
        .and_then(|p| p.parse::<i64>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    // "Next" links carry the keyset cursor; a page number alone (old
    // links, "previous") is found by offset. A cursor that does not parse
    // is ignored.
    let after = page.param("cursor").and_then(CustomerListKey::from_cursor);
    let filter = CustomerFilter {
        grade: grade.clone(),
        q: q.clone(),
        limit: Some(PER_PAGE),
        offset: Some((page_no - 1).saturating_mul(PER_PAGE)),
        after,
        ..Default::default()
    };
    let svc = service(&state);
    let found = svc
        .list(&page.user.principal, &filter, kefu_store::now_ms())
        .await?;
    let items = &found.items;
    let names = owner_names(&svc, &items.iter().collect::<Vec<_>>()).await?;
    let plus = if found.total_estimated { "+" } else { "" };
    let pages = ((found.total + PER_PAGE - 1) / PER_PAGE).max(page_no);
    let g = grade.clone().unwrap_or_default();
    let qs = q.clone().unwrap_or_default();
    let link = |n: i64, cursor: Option<&str>| {
        let n = n.to_string();
        let mut pairs = vec![
            ("grade", g.as_str()),
            ("q", qs.as_str()),
            ("page", n.as_str()),
        ];
        if let Some(c) = cursor {
            pairs.push(("cursor", c));
        }
        format!("/customers{}", query_string(pairs))
    };
    let tabs = [
        ("", "cust.all"),
        ("A", "cust.grade_a"),
        ("B", "cust.grade_b"),
        ("C", "cust.grade_c"),
    ]
    .iter()
    .map(|(value, key)| {
        (
            ctx.t(key).to_string(),
            format!(
                "/customers{}",
                query_string([("grade", *value), ("q", qs.as_str())])
            ),
            g == *value,
        )
    })
    .collect();
    let rows = items.iter().map(|s| row(&ctx, &names, s)).collect();
    render(&ListPage {
        tabs,
        q: qs.clone(),
        grade: g.clone(),
        rows,
        total: format!("{}{plus}", found.total),
        page_no,
        pages: format!("{pages}{plus}"),
        prev: (page_no > 1).then(|| link(page_no - 1, None)),
        next: found.next.as_deref().map(|c| link(page_no + 1, Some(c))),
        ctx,
    })
}

/// An entry of the timeline.
struct TimelineRow {
    at: String,
    kind: String,
    id: String,
    href: Option<String>,
    summary: String,
    agent: String,
}

#[derive(askama::Template)]
#[template(path = "customer.html")]
struct DetailPage {
    ctx: Ctx,
    id: String,
    name: String,
    grade: String,
    manual: bool,
    owner: String,
    state: String,
    state_class: &'static str,
    masked: bool,
    dnd: bool,
    answered: usize,
    ten: Vec<(String, String)>,
    more: Vec<(String, String)>,
    phones: String,
    platform_ids: String,
    tags: String,
    fields: Vec<(String, String)>,
    purchases: Vec<(String, String, String)>,
    dates: Vec<(String, String, String)>,
    stats: Vec<(String, String)>,
    rules_grade: String,
    timeline: Vec<TimelineRow>,
    grades: Vec<(String, String, String, String, String)>,
    can_log: bool,
    can_grade: bool,
    can_edit: bool,
    contact_action: String,
    grade_action: String,
    edit_href: String,
    trend_chart: String,
    trend: Vec<(String, String, i64)>,
    findings: Vec<FindingRow>,
}

/// A finding of the latest inspections of the customer's conversations.
struct FindingRow {
    at: String,
    conversation: String,
    href: String,
    rule: String,
    dimension: String,
    deduction: String,
}

/// Whether `user` may change `v` (owners, supervisors and admins; never a
/// merged customer). Editors always see the archive unmasked.
fn can_edit(role: Role, user: &str, v: &CustomerView) -> bool {
    v.merged_into.is_none()
        && !v.masked
        && match role {
            Role::Supervisor | Role::Admin => true,
            Role::Agent => v.owner_id.as_deref() == Some(user),
            Role::Inspector => false,
        }
}

fn yuan(cents: i64) -> String {
    format!("¥{}.{:02}", cents / 100, (cents % 100).abs())
}

/// `GET /customers/{id}`: the 十问 profile, figures, timeline and grades.
pub(super) async fn detail(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
) -> PageResult {
    page.user.require(Section::Customers)?;
    let ctx = page.ctx(Some(Section::Customers), msg("cust.detail_title"));
    let svc = service(&state);
    let p = &page.user.principal;
    let now = kefu_store::now_ms();
    let v = svc.get(p, &id, now).await?;
    let stats = svc.stats(p, &id, now).await?;
    let timeline = svc.timeline(p, &id, 200).await?;
    let grades = svc.grade_history(p, &id).await?;
    let agent_ids: Vec<&str> = v
        .owner_id
        .as_deref()
        .into_iter()
        .chain(
            timeline
                .iter()
                .filter(|t| t.agent_name.is_none())
                .filter_map(|t| t.agent_id.as_deref()),
        )
        .collect();
    let names = svc.agent_names(&agent_ids).await?;
    let ten = TEN_QUESTIONS
        .iter()
        .map(|(field, zh, en)| {
            let label = match ctx.lang.code() {
                "zh" => (*zh).to_string(),
                _ => (*en).to_string(),
            };
            (label, v.profile.get(field).unwrap_or("").to_string())
        })
        .collect();
    let pr = &v.profile;
    let more = [
        ("cust.gender", &pr.gender),
        ("cust.age_band", &pr.age_band),
        ("cust.preferred_channel", &pr.preferred_channel),
        ("cust.preferred_time", &pr.preferred_time),
        ("cust.id_number", &pr.id_number),
        ("cust.notes", &pr.notes),
    ]
    .iter()
    .filter_map(|(k, val)| val.as_ref().map(|x| (ctx.t(k).to_string(), x.clone())))
    .collect();
    let f = &stats.figures;
    let stat_rows = vec![
        (ctx.t("cust.s_contacts").to_string(), f.contacts.to_string()),
        (
            ctx.t("cust.s_recent_contacts").to_string(),
            f.recent_contacts.to_string(),
        ),
        (ctx.t("cust.s_value").to_string(), yuan(f.value_cents)),
        (
            ctx.t("cust.s_recent_value").to_string(),
            yuan(f.recent_value_cents),
        ),
        (
            ctx.t("cust.s_complaints").to_string(),
            format!("{} / {}", f.open_complaints, f.complaints),
        ),
        (
            ctx.t("cust.s_sla_breaches").to_string(),
            f.sla_breaches.to_string(),
        ),
        (
            ctx.t("cust.s_satisfaction").to_string(),
            f.satisfaction.map_or_else(
                || "—".to_string(),
                |s| format!("{} ({})", html::num(s), f.rated),
            ),
        ),
        (
            ctx.t("cust.s_last_contact").to_string(),
            f.last_contact_at.map(html::fmt_ms).unwrap_or_default(),
        ),
        (
            ctx.t("cust.s_next_due").to_string(),
            v.next_due_at.map(html::fmt_ms).unwrap_or_default(),
        ),
    ];
    let dates = v
        .dates
        .iter()
        .map(|d| {
            let when = format!(
                "{}{}{}月{}日",
                if d.calendar == "lunar" {
                    ctx.t("cust.lunar")
                } else {
                    ctx.t("cust.solar")
                },
                if d.leap { ctx.t("cust.leap") } else { "" },
                d.month,
                d.day
            );
            let next = kefu_service::customer::care::recurring(d)
                .ok()
                .and_then(|r| r.next_on_or_after(CustomerService::today(&Default::default(), now)))
                .map(|n| n.to_string())
                .unwrap_or_default();
            (d.label.clone(), when, next)
        })
        .collect();
    let timeline = timeline
        .into_iter()
        .map(|t| TimelineRow {
            at: html::fmt_ms(t.at),
            kind: ctx
                .label(&format!("cust.kind.{}", t.kind), &t.kind)
                .to_string(),
            href: match t.kind.as_str() {
                "conversation" => Some(urls::conversation(&t.id)),
                "complaint" | "survey" | "revisit" => Some(urls::complaint(&t.id)),
                _ => None,
            },
            id: if t.kind == "contact" {
                String::new()
            } else {
                t.id
            },
            summary: t.summary,
            agent: match (t.agent_name, t.agent_id) {
                (Some(n), _) => n,
                (None, Some(a)) => agent_label(&names, &a),
                (None, None) => String::new(),
            },
        })
        .collect();
    let grades = grades
        .into_iter()
        .rev()
        .map(|g| {
            (
                html::fmt_ms(g.at),
                g.grade,
                ctx.label(&format!("cust.source.{}", g.source), &g.source)
                    .to_string(),
                g.reason,
                g.actor_id,
            )
        })
        .collect();
    let trend_rows: Vec<(String, String, i64)> = stats
        .satisfaction_trend
        .iter()
        .map(|t| (t.month.clone(), html::num(t.average), t.rated))
        .collect();
    let trend_chart = charts::line_chart(
        &Chart::new(ctx.t("cust.trend"), ctx.t("chart.no_data"))
            .axes("", ctx.t("cust.trend_avg"))
            .size(480.0, 200.0),
        &stats
            .satisfaction_trend
            .iter()
            .map(|t| (t.month.clone(), Some(t.average)))
            .collect::<Vec<_>>(),
        None,
    );
    let active = state.inspector();
    let findings = stats
        .last_findings
        .iter()
        .map(|f| FindingRow {
            at: html::fmt_ms(f.at),
            href: urls::conversation(&f.conversation_id),
            conversation: f.conversation_id.clone(),
            rule: active
                .pack()
                .rules
                .iter()
                .find(|r| r.id == f.rule)
                .map_or_else(|| f.rule.clone(), |r| r.name.clone()),
            dimension: f.dimension.clone(),
            deduction: html::num(f.deduction),
        })
        .collect();
    let role = page.user.role();
    render(&DetailPage {
        can_edit: can_edit(role, page.user.id(), &v),
        edit_href: format!("{}/edit", customer_href(&v.id)),
        trend_chart,
        trend: trend_rows,
        findings,
        id: v.id.clone(),
        name: v.name.clone(),
        grade: v.grade.clone(),
        manual: v.grade_manual,
        owner: v
            .owner_id
            .as_deref()
            .map(|o| agent_label(&names, o))
            .unwrap_or_default(),
        state: ctx
            .label(&format!("cust.state.{}", v.cadence_state), v.cadence_state)
            .to_string(),
        state_class: v.cadence_state,
        masked: v.masked,
        dnd: v.do_not_disturb,
        answered: v.ten_questions_answered,
        ten,
        more,
        phones: v.phones.join("，"),
        platform_ids: v
            .platform_ids
            .iter()
            .map(|p| format!("{}: {}", p.kind, p.value))
            .collect::<Vec<_>>()
            .join("，"),
        tags: v.tags.join("，"),
        fields: v
            .fields
            .iter()
            .map(|f| (f.name.clone(), f.value.clone()))
            .collect(),
        purchases: v
            .purchases
            .iter()
            .map(|p| (p.bought_on.clone(), p.item.clone(), yuan(p.amount_cents)))
            .collect(),
        dates,
        stats: stat_rows,
        rules_grade: format!("{} — {}", stats.rules_grade.grade, stats.rules_grade.reason),
        timeline,
        grades,
        can_log: role != Role::Inspector && v.merged_into.is_none(),
        can_grade: matches!(role, Role::Supervisor | Role::Admin),
        contact_action: format!("{}/contact", customer_href(&v.id)),
        grade_action: format!("{}/grade", customer_href(&v.id)),
        ctx,
    })
}

/// A text input of the edit form: `(name, label, value)`.
type Input = (&'static str, String, String);

#[derive(askama::Template)]
#[template(path = "customer_edit.html")]
struct EditPage {
    ctx: Ctx,
    id: String,
    href: String,
    action: String,
    name: String,
    owner: String,
    can_owner: bool,
    ten: Vec<Input>,
    more: Vec<Input>,
    phones: String,
    tags: String,
    dnd: bool,
    version: i64,
    error: Option<String>,
}

/// The profile fields of the form beyond the ten questions, with their
/// label keys.
const MORE_FIELDS: [(&str, &str); 6] = [
    ("gender", "cust.gender"),
    ("age_band", "cust.age_band"),
    ("preferred_channel", "cust.preferred_channel"),
    ("preferred_time", "cust.preferred_time"),
    ("id_number", "cust.id_number"),
    ("notes", "cust.notes"),
];

fn more_value<'a>(p: &'a Profile, field: &str) -> Option<&'a str> {
    match field {
        "gender" => p.gender.as_deref(),
        "age_band" => p.age_band.as_deref(),
        "preferred_channel" => p.preferred_channel.as_deref(),
        "preferred_time" => p.preferred_time.as_deref(),
        "id_number" => p.id_number.as_deref(),
        "notes" => p.notes.as_deref(),
        _ => p.get(field),
    }
}

/// The edit form filled from the archive, or (after a refusal) from what
/// was typed.
fn edit_page(ctx: Ctx, v: &CustomerView, role: Role, typed: Option<&FormData>) -> EditPage {
    let value = |field: &str| -> String {
        match typed {
            Some(f) => f.text(field),
            None => more_value(&v.profile, field).unwrap_or("").to_string(),
        }
    };
    let ten = TEN_QUESTIONS
        .iter()
        .map(|(field, zh, en)| {
            let label = if ctx.lang.code() == "zh" { *zh } else { *en };
            (*field, label.to_string(), value(field))
        })
        .collect();
    let more = MORE_FIELDS
        .iter()
        .map(|(field, key)| (*field, ctx.t(key).to_string(), value(field)))
        .collect();
    EditPage {
        id: v.id.clone(),
        href: customer_href(&v.id),
        action: format!("{}/edit", customer_href(&v.id)),
        name: typed.map_or_else(|| v.name.clone(), |f| f.text("name")),
        owner: typed.map_or_else(
            || v.owner_id.clone().unwrap_or_default(),
            |f| f.text("owner_id"),
        ),
        can_owner: matches!(role, Role::Supervisor | Role::Admin),
        ten,
        more,
        phones: typed.map_or_else(|| v.phones.join("\n"), |f| f.raw("phones").to_string()),
        tags: typed.map_or_else(|| v.tags.join("，"), |f| f.text("tags")),
        dnd: typed.map_or(v.do_not_disturb, |f| f.checked("do_not_disturb")),
        version: typed
            .and_then(|f| f.get("version"))
            .and_then(|x| x.parse().ok())
            .unwrap_or(v.version),
        error: None,
        ctx,
    }
}

/// Reads a customer `page`'s user may edit, or 403.
async fn editable(svc: &CustomerService, page: &Page, id: &str) -> Result<CustomerView, WebError> {
    let v = svc
        .get(&page.user.principal, id, kefu_store::now_ms())
        .await?;
    if !can_edit(page.user.role(), page.user.id(), &v) {
        return Err(WebError::Forbidden);
    }
    Ok(v)
}

/// Splits a list typed in a form: one item a line, or separated by commas
/// (`,` `，` `、`) or semicolons.
fn split_list(s: &str) -> Vec<String> {
    s.split(['\n', '\r', ',', '，', '、', ';', '；'])
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

/// `GET /customers/{id}/edit`: the archive's form (owners, supervisors and
/// admins).
pub(super) async fn edit(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
) -> PageResult {
    page.user.require(Section::Customers)?;
    let v = editable(&service(&state), &page, &id).await?;
    let ctx = page.ctx(Some(Section::Customers), msg("cust.edit_title"));
    render(&edit_page(ctx, &v, page.user.role(), None))
}

/// `POST /customers/{id}/edit`: saves the profile, phones, tags and
/// do-not-disturb (custom fields, purchases, dates and platform ids are
/// kept); a refusal shows the form again with the reason and what was
/// typed.
pub(super) async fn save(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm,
) -> PageResult {
    page.user.require(Section::Customers)?;
    let svc = service(&state);
    let v = editable(&svc, &page, &id).await?;
    let typed = |f: &str| form.get(f).map(str::to_string);
    let input = CustomerInput {
        id: v.id.clone(),
        name: form.text("name"),
        owner_id: match page.user.role() {
            Role::Supervisor | Role::Admin => typed("owner_id"),
            _ => v.owner_id.clone(),
        },
        profile: Profile {
            title: typed("title"),
            region: typed("region"),
            company: typed("company"),
            department: typed("department"),
            contact: typed("contact"),
            usage: typed("usage"),
            needed_by: typed("needed_by"),
            quantity: typed("quantity"),
            budget: typed("budget"),
            invoice: typed("invoice"),
            gender: typed("gender"),
            age_band: typed("age_band"),
            preferred_channel: typed("preferred_channel"),
            preferred_time: typed("preferred_time"),
            id_number: typed("id_number"),
            notes: typed("notes"),
        },
        do_not_disturb: form.checked("do_not_disturb"),
        phones: split_list(form.raw("phones")),
        platform_ids: v.platform_ids.clone(),
        tags: split_list(form.raw("tags")),
        fields: v.fields.clone(),
        purchases: v.purchases.clone(),
        dates: v.dates.clone(),
        version: form.get("version").and_then(|x| x.parse().ok()),
    };
    match svc
        .update(&page.user.principal, &id, &input, kefu_store::now_ms())
        .await
    {
        Ok(_) => Ok(see_other(&format!("{}?done=saved", customer_href(&id)))),
        Err(kefu_service::Error::Invalid(m) | kefu_service::Error::Conflict(m)) => {
            let ctx = page.ctx(Some(Section::Customers), msg("cust.edit_title"));
            let mut p = edit_page(ctx, &v, page.user.role(), Some(&form));
            p.error = Some(m);
            render_status(StatusCode::UNPROCESSABLE_ENTITY, &p)
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /customers/{id}/contact`: log a contact (or a care contact with
/// `care_key`), then back (`next`) or to the customer.
pub(super) async fn log_contact(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm,
) -> PageResult {
    page.user.require(Section::Customers)?;
    let input = ContactInput {
        kind: form.text("kind"),
        outcome: form.text("outcome"),
        note: form.get("note").map(str::to_string),
        at: None,
        care_key: form.get("care_key").map(str::to_string),
    };
    service(&state)
        .log_contact(&page.user.principal, &id, &input, kefu_store::now_ms())
        .await?;
    let back = safe_next(form.get("next").or(Some(&customer_href(&id))));
    Ok(see_other(&format!("{back}?done=saved")))
}

/// `POST /customers/{id}/grade`: a manual grade with a reason, or `clear`.
pub(super) async fn set_grade(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm,
) -> PageResult {
    page.user.require(Section::Customers)?;
    let grade = form.text("grade");
    let grade = (!grade.is_empty() && grade != "clear").then_some(grade);
    service(&state)
        .override_grade(
            &page.user.principal,
            &id,
            grade.as_deref(),
            &form.text("reason"),
            kefu_store::now_ms(),
        )
        .await?;
    Ok(see_other(&format!("{}?done=saved", customer_href(&id))))
}

/// Rows of each follow-up list shown on the page (the longest overdue
/// first); the heading counts them all.
const QUEUE_SHOWN: usize = 200;

/// A care reminder on the follow-up page.
struct CareRow {
    customer: String,
    href: String,
    label: String,
    on: String,
    days_left: i64,
    done: bool,
    action: String,
    key: String,
}

#[derive(askama::Template)]
#[template(path = "follow_ups.html")]
struct FollowUpsPage {
    ctx: Ctx,
    agent: String,
    overdue: Vec<Row>,
    overdue_total: usize,
    due_today: Vec<Row>,
    due_today_total: usize,
    shown: usize,
    care: Vec<CareRow>,
    care_total: usize,
    can_log: bool,
    can_choose: bool,
}

/// `GET /follow-ups?agent=`: overdue and due-today customers and care
/// reminders of the next 7 days (agents: their own; staff pick an agent).
pub(super) async fn follow_ups(State(state): State<AppState>, page: Page) -> PageResult {
    page.user.require(Section::Customers)?;
    let ctx = page.ctx(Some(Section::Customers), msg("cust.follow_title"));
    let role = page.user.role();
    let agent = match role {
        Role::Agent => page.user.id().to_string(),
        _ => page.param("agent").unwrap_or(page.user.id()).to_string(),
    };
    let svc = service(&state);
    let now = kefu_store::now_ms();
    let queue = svc.follow_ups(&page.user.principal, &agent, now).await?;
    let names = owner_names(
        &svc,
        &queue
            .overdue
            .iter()
            .chain(&queue.due_today)
            .collect::<Vec<_>>(),
    )
    .await?;
    let mut care = svc.care(&page.user.principal, &agent, now, 7).await?;
    // Near a festival every greeted customer has a reminder (thousands for
    // a busy agent): the ones still to do come first, and the page shows
    // as many as of the other lists.
    care.sort_by_key(|c| c.done);
    let care_total = care.len();
    let care = care
        .into_iter()
        .take(QUEUE_SHOWN)
        .map(|c| CareRow {
            href: customer_href(&c.reminder.customer_id),
            action: format!("{}/contact", customer_href(&c.reminder.customer_id)),
            customer: c.reminder.customer_name,
            label: c.reminder.label,
            on: c.reminder.on.to_string(),
            days_left: c.reminder.days_left,
            done: c.done,
            key: c.reminder.key,
        })
        .collect();
    render(&FollowUpsPage {
        overdue: queue
            .overdue
            .iter()
            .take(QUEUE_SHOWN)
            .map(|s| row(&ctx, &names, s))
            .collect(),
        overdue_total: queue.overdue.len(),
        due_today: queue
            .due_today
            .iter()
            .take(QUEUE_SHOWN)
            .map(|s| row(&ctx, &names, s))
            .collect(),
        due_today_total: queue.due_today.len(),
        shown: QUEUE_SHOWN,
        care,
        care_total,
        can_log: role != Role::Inspector,
        can_choose: role != Role::Agent,
        agent,
        ctx,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn lists_typed_in_forms() {
        assert_eq!(
            super::split_list("138 0013 8000\r\n 010-12345678，；0755-1234567、"),
            vec!["138 0013 8000", "010-12345678", "0755-1234567"]
        );
    }

    #[test]
    fn money() {
        assert_eq!(super::yuan(123_456), "¥1234.56");
        assert_eq!(super::yuan(5), "¥0.05");
    }
}
