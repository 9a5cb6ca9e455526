//! Complaints: the board by state, lists of one state, the detail page
//! (history, SLA countdowns, survey, revisits, actions) and the
//! new-complaint form. Everything goes through
//! [`ComplaintService`], which applies the role rules.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};
use kefu_service::auth::Role;
use kefu_service::complaint::{
    Actor, Assignee, Command, CommandKind, ComplaintState, Customer, KeyFact, KeyFactKind,
    NewComplaint, Priority, ReopenTarget, RevisitOutcome,
};
use kefu_service::complaint::{ComplaintFilter, ComplaintService, ComplaintSummary, ComplaintView};
use kefu_service::sla::{SlaState, SlaStatus};

use super::html;
use super::i18n::msg;
use super::labels;
use super::page::{
    query_string, render, render_status, safe_next, see_other, CsrfForm, Ctx, FormData, Page,
    PageResult, Section, WebError,
};
use super::urls;
use crate::AppState;

/// Cards per column of the board.
const BOARD_CARDS: i64 = 30;
/// Rows per page of a one-state list.
const PER_PAGE: i64 = 50;

fn actor(page: &Page) -> Actor {
    Actor::from_principal(&page.user.principal)
}

fn service(state: &AppState) -> ComplaintService {
    ComplaintService::new(state.store.clone())
}

fn detail_href(id: &str) -> String {
    urls::complaint(id)
}

/// A label for an SLA state name.
fn sla_label(ctx: &Ctx, name: &str) -> String {
    ctx.label(&labels::sla_state(name), name).to_string()
}

/// `12 小时 30 分` / `12 h 30 min`, `2 分 28 秒` (see [`super::history`]).
fn duration(ctx: &Ctx, d: TimeDelta) -> String {
    super::history::human_duration(ctx.m, d.max(TimeDelta::zero()))
}

fn assignee_label(ctx: &Ctx, a: Option<&Assignee>) -> String {
    match a {
        None => ctx.t("complaint.unassigned").to_string(),
        Some(Assignee::Agent(id)) => ctx.t1("complaint.assignee_agent", id),
        Some(Assignee::Group(id)) => ctx.t1("complaint.assignee_group", id),
    }
}

// ---------------------------------------------------------------------------
// Board and lists

/// A complaint card / list row.
struct Card {
    id: String,
    href: String,
    customer: String,
    category: String,
    priority: String,
    urgent: bool,
    special: bool,
    assignee: String,
    opened: String,
    sla_state: String,
    sla_class: String,
    waiting: bool,
    state: String,
    /// In an agent's list of claimable complaints (which they cannot open
    /// yet): where the claim button posts.
    claim: Option<String>,
}

fn card(ctx: &Ctx, s: &ComplaintSummary) -> Card {
    Card {
        href: detail_href(&s.id),
        id: s.id.clone(),
        customer: s.customer_name.clone(),
        category: s.category.clone(),
        priority: ctx.t(&labels::priority(s.priority)).to_string(),
        urgent: s.priority >= Priority::High,
        special: s.special,
        assignee: assignee_label(ctx, s.assignee.as_ref()),
        opened: html::fmt_dt(s.opened_at),
        sla_state: sla_label(ctx, &s.sla_state),
        sla_class: s.sla_state.clone(),
        waiting: s.waiting,
        state: ctx.t(&labels::state(s.state)).to_string(),
        claim: None,
    }
}

/// A total as shown: "1000+" when the count stopped early (a lower bound).
fn shown_total(total: i64, estimated: bool) -> String {
    if estimated {
        format!("{total}+")
    } else {
        total.to_string()
    }
}

/// A column of the board.
struct Column {
    label: String,
    /// How many ("1000+" when the count stopped early).
    total: String,
    cards: Vec<Card>,
    more: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "complaints.html")]
struct BoardPage {
    ctx: Ctx,
    /// Board (all states) or the list of one state.
    columns: Vec<Column>,
    /// One state's list, when `?state=` is given.
    list: Option<Column>,
    prev: Option<String>,
    next: Option<String>,
    page_no: i64,
    /// Pages ("40+" when the count stopped early).
    pages: String,
    can_create: bool,
    /// Agents: link to the complaints they may claim.
    claimable_href: Option<String>,
    claimable: bool,
    /// What is shown, as CSV and XLSX (the same state / view).
    export_csv: String,
    export_xlsx: String,
}

/// `GET /complaints`: the board; `?state=…&page=…` lists one state;
/// `?view=claimable` (agents) lists what they may claim.
pub(super) async fn board(State(state): State<AppState>, page: Page) -> PageResult {
    page.user.require(Section::Complaints)?;
    let ctx = page.ctx(Some(Section::Complaints), msg("complaint.board_title"));
    let svc = service(&state);
    let actor = actor(&page);
    let now = Utc::now();
    let claimable = page.user.role() == Role::Agent && page.param("view") == Some("claimable");
    let one_state = match page.param("state") {
        Some(s) => {
            let states = crate::params::parse_complaint_states(s)
                .map_err(|e| WebError::BadRequest(e.to_string()))?;
            match states.as_slice() {
                [one] => Some(*one),
                [] => None,
                _ => {
                    return Err(WebError::BadRequest(
                        "`state` names one state on this page".into(),
                    ))
                }
            }
        }
        None => None,
    };
    let mut columns = Vec::new();
    let mut list = None;
    let (mut prev, mut next, mut page_no, mut pages) = (None, None, 1, "1".to_string());
    if let Some(st) = one_state.filter(|_| !claimable) {
        page_no = page
            .param("page")
            .and_then(|p| p.parse::<i64>().ok())
            .filter(|p| *p >= 1)
            .unwrap_or(1);
        // "Next" links carry the keyset cursor; a page number alone (old
        // links, "previous") is found by offset. A cursor that does not
        // parse is ignored.
        let cursor = page
            .param("cursor")
            .filter(|c| kefu_store::ComplaintKey::from_cursor(c).is_some());
        let filter = ComplaintFilter {
            states: vec![st],
            limit: Some(PER_PAGE),
            offset: Some((page_no - 1).saturating_mul(PER_PAGE)),
            after: cursor.map(str::to_string),
            ..ComplaintFilter::default()
        };
        let found = svc.list_page(&filter, &actor, now).await?;
        let (items, total) = (found.items, found.total);
        let plus = if found.total_estimated { "+" } else { "" };
        pages = format!("{}{plus}", ((total + PER_PAGE - 1) / PER_PAGE).max(page_no));
        let link = |n: i64, cursor: Option<&str>| {
            let n = n.to_string();
            let mut pairs = vec![("state", st.as_str()), ("page", n.as_str())];
            if let Some(c) = cursor {
                pairs.push(("cursor", c));
            }
            format!("/complaints{}", query_string(pairs))
        };
        prev = (page_no > 1).then(|| link(page_no - 1, None));
        next = found.next.as_deref().map(|c| link(page_no + 1, Some(c)));
        list = Some(Column {
            label: ctx.t(&labels::state(st)).to_string(),
            total: format!("{total}{plus}"),
            cards: items.iter().map(|s| card(&ctx, s)).collect(),
            more: None,
        });
    } else if claimable {
        let filter = ComplaintFilter {
            claimable: true,
            limit: Some(PER_PAGE),
            ..ComplaintFilter::default()
        };
        let found = svc.list_page(&filter, &actor, now).await?;
        let items = found.items;
        list = Some(Column {
            label: ctx.t("complaint.claimable").to_string(),
            total: shown_total(found.total, found.total_estimated),
            cards: items
                .iter()
                .map(|s| Card {
                    claim: Some(urls::complaint_command(&s.id)),
                    ..card(&ctx, s)
                })
                .collect(),
            more: None,
        });
    } else {
        for st in ComplaintState::ALL {
            let filter = ComplaintFilter {
                states: vec![*st],
                limit: Some(BOARD_CARDS),
                ..ComplaintFilter::default()
            };
            let found = svc.list_page(&filter, &actor, now).await?;
            let items = found.items;
            columns.push(Column {
                label: ctx.t(&labels::state(*st)).to_string(),
                total: shown_total(found.total, found.total_estimated),
                more: found
                    .next
                    .is_some()
                    .then(|| format!("/complaints{}", query_string([("state", st.as_str())]))),
                cards: items.iter().map(|s| card(&ctx, s)).collect(),
            });
        }
    }
    let export = |format: &str| {
        let mut pairs = Vec::new();
        if let Some(st) = one_state.filter(|_| !claimable) {
            pairs.push(("state", st.as_str()));
        }
        if claimable {
            pairs.push(("view", "claimable"));
        }
        pairs.push(("format", format));
        format!("/export/complaints{}", query_string(pairs))
    };
    render(&BoardPage {
        export_csv: export("csv"),
        export_xlsx: export("xlsx"),
        columns,
        list,
        prev,
        next,
        page_no,
        pages,
        can_create: page.user.role() != Role::Inspector,
        claimable_href: (page.user.role() == Role::Agent)
            .then(|| "/complaints?view=claimable".to_string()),
        claimable,
        ctx,
    })
}

// ---------------------------------------------------------------------------
// New complaint

/// A `<select>` option.
struct Opt {
    value: String,
    label: String,
    selected: bool,
}

fn options<T: Copy>(
    all: &[T],
    value: impl Fn(T) -> &'static str,
    label: impl Fn(T) -> String,
    selected: &str,
) -> Vec<Opt> {
    all.iter()
        .map(|v| Opt {
            value: value(*v).to_string(),
            label: label(*v),
            selected: value(*v) == selected,
        })
        .collect()
}

#[derive(askama::Template)]
#[template(path = "complaint_new.html")]
struct NewPage {
    ctx: Ctx,
    error: Option<String>,
    conversation_id: String,
    customer_name: String,
    customer_phone: String,
    customer_id_number: String,
    category: String,
    description: String,
    channels: Vec<Opt>,
    priorities: Vec<Opt>,
    special: bool,
    assignee_kinds: Vec<Opt>,
    assignee_id: String,
}

/// The new complaint's assignee from the form: the default choice (`""`
/// or `self`, shown as 本人) assigns the signed-in user; `agent`/`group`
/// need an id; `none` leaves it unassigned.
fn new_assignee(form: &FormData, me: &str) -> Result<Option<Assignee>, kefu_service::Error> {
    let id = form.get("assignee_id").map(str::trim).unwrap_or("");
    match form.get("assignee_kind").unwrap_or("") {
        "none" => Ok(None),
        // An id typed without choosing a kind is an agent's.
        "" | "self" if id.is_empty() => Ok(Some(Assignee::Agent(me.to_string()))),
        "" | "self" => Ok(Some(Assignee::from_parts("agent", id)?)),
        kind => Ok(Some(Assignee::from_parts(kind, id)?)),
    }
}

fn new_page(ctx: Ctx, form: &FormData, error: Option<String>) -> NewPage {
    let m = ctx.m;
    let channel = form.get("channel").unwrap_or("phone");
    let priority = form.get("priority").unwrap_or("normal");
    let kind = form.get("assignee_kind").unwrap_or("");
    let mut assignee_kinds = vec![Opt {
        value: String::new(),
        label: m.t("complaint.assignee_default").to_string(),
        selected: kind.is_empty(),
    }];
    for (value, key) in [
        ("none", msg("complaint.unassigned")),
        ("agent", msg("complaint.assignee_kind_agent")),
        ("group", msg("complaint.assignee_kind_group")),
    ] {
        assignee_kinds.push(Opt {
            value: value.to_string(),
            label: m.t(key).to_string(),
            selected: kind == value,
        });
    }
    NewPage {
        error,
        conversation_id: form.text("conversation_id"),
        customer_name: form.text("customer_name"),
        customer_phone: form.text("customer_phone"),
        customer_id_number: form.text("customer_id_number"),
        category: form.text("category"),
        description: form.text("description"),
        channels: labels::COMPLAINT_CHANNELS
            .iter()
            .map(|c| Opt {
                value: (*c).to_string(),
                label: m.t(&labels::complaint_channel(c)).to_string(),
                selected: *c == channel,
            })
            .collect(),
        priorities: options(
            Priority::ALL,
            Priority::as_str,
            |p| m.t(&labels::priority(p)).to_string(),
            priority,
        ),
        special: form.checked("special"),
        assignee_kinds,
        assignee_id: form.text("assignee_id"),
        ctx,
    }
}

/// `GET /complaints/new?conversation_id=…`: the form.
pub(super) async fn new_form(page: Page) -> PageResult {
    page.user.require(Section::Complaints)?;
    if page.user.role() == Role::Inspector {
        return Err(WebError::Forbidden);
    }
    let mut prefill = FormData::default();
    if let Some(c) = page.param("conversation_id") {
        prefill = FormData::parse(
            query_string([("conversation_id", c)])
                .trim_start_matches('?')
                .as_bytes(),
        );
    }
    render(&new_page(
        page.ctx(Some(Section::Complaints), msg("complaint.new_title")),
        &prefill,
        None,
    ))
}

fn opt(form: &FormData, name: &str) -> Option<String> {
    form.get(name).map(str::to_string)
}

/// `POST /complaints`: opens a complaint; on a mistake, the form again with
/// what was typed and the reason.
pub(super) async fn create(
    State(state): State<AppState>,
    page: Page,
    CsrfForm(form): CsrfForm,
) -> PageResult {
    page.user.require(Section::Complaints)?;
    let priority = form
        .get("priority")
        .and_then(|p| p.parse::<Priority>().ok())
        .unwrap_or_default();
    let assignee = match new_assignee(&form, page.user.id()) {
        Ok(a) => a,
        Err(e) => {
            // Refused input: the form again with the reason (422).
            let (status, message) = WebError::from(e).refusal()?;
            let ctx = page.ctx(Some(Section::Complaints), msg("complaint.new_title"));
            return render_status(status, &new_page(ctx, &form, Some(message)));
        }
    };
    let input = NewComplaint {
        id: String::new(),
        conversation_id: opt(&form, "conversation_id"),
        customer: Customer {
            id: None,
            name: form.text("customer_name"),
            phone: opt(&form, "customer_phone"),
            id_number: opt(&form, "customer_id_number"),
        },
        channel: form.text("channel"),
        category: form.text("category"),
        description: form.text("description"),
        key_facts: Vec::new(),
        priority,
        special: form.checked("special"),
        assignee,
    };
    match service(&state)
        .create(input, &actor(&page), Utc::now())
        .await
    {
        Ok(c) => Ok(see_other(&format!("{}?done=created", detail_href(&c.id)))),
        Err(e) => {
            let (status, message) = WebError::from(e).refusal()?;
            let ctx = page.ctx(Some(Section::Complaints), msg("complaint.new_title"));
            render_status(status, &new_page(ctx, &form, Some(message)))
        }
    }
}

// ---------------------------------------------------------------------------
// Detail

/// One SLA clock.
struct Clock {
    name: String,
    target: String,
    elapsed: String,
    remaining: String,
    due: String,
    /// Unix ms of the deadline while the clock runs (for the countdown).
    due_ms: Option<i64>,
    state: String,
    class: String,
}

fn clock(ctx: &Ctx, name_key: &str, s: &SlaStatus, closed: bool) -> Clock {
    let label = kefu_service::sla::clock_label(s.state, closed);
    let running = matches!(
        s.state,
        SlaState::Running | SlaState::NearBreach | SlaState::Breached
    );
    Clock {
        name: ctx.t(name_key).to_string(),
        target: if s.state == SlaState::NoTarget {
            String::new()
        } else {
            duration(ctx, s.target)
        },
        elapsed: duration(ctx, s.elapsed),
        remaining: duration(ctx, s.remaining),
        due: s.due_at.map(html::fmt_dt).unwrap_or_default(),
        due_ms: s
            .due_at
            .filter(|_| running && !closed)
            .map(|d| d.timestamp_millis()),
        state: sla_label(ctx, label),
        class: label.to_string(),
    }
}

/// A line of the history.
struct HistoryLine {
    at: String,
    actor: String,
    kind: String,
    from: String,
    to: String,
    detail: String,
}

/// A revisit task.
struct Revisit {
    complete_href: String,
    due: String,
    done: String,
    outcome: String,
    open: bool,
    overdue: bool,
}

/// An action form.
struct Action {
    kind: &'static str,
    label: String,
    /// Which fields the form has (see `complaint.html`).
    fields: &'static str,
}

fn fields_of(kind: CommandKind) -> &'static str {
    match kind {
        CommandKind::Investigate
        | CommandKind::StartHandling
        | CommandKind::CustomerResponded
        | CommandKind::RequestFollowUp => "none",
        CommandKind::Reply => "message",
        CommandKind::WaitOnCustomer => "reason_optional",
        CommandKind::Resolve => "summary",
        CommandKind::Close => "reason",
        CommandKind::Reopen => "reopen",
        CommandKind::Assign => "assign",
        CommandKind::SetPriority => "priority",
        CommandKind::MarkSpecial => "special",
        CommandKind::SetCategory => "category",
        CommandKind::AddKeyFact => "fact",
        CommandKind::AddNote => "note",
        CommandKind::RecordSurvey => "survey",
    }
}

#[derive(askama::Template)]
#[template(path = "complaint.html")]
struct DetailPage {
    ctx: Ctx,
    error: Option<String>,
    id: String,
    action_href: String,
    version: u64,
    state: String,
    state_class: &'static str,
    priority: String,
    special: bool,
    category: String,
    channel: String,
    customer: String,
    phone: String,
    id_number: String,
    description: String,
    facts: Vec<(String, String)>,
    assignee: String,
    created_by: String,
    opened: String,
    updated: String,
    first_reply: String,
    resolved: String,
    resolution: String,
    closed: String,
    close_reason: String,
    waiting: String,
    reopen_count: u32,
    conversation_href: Option<String>,
    conversation_id: String,
    sla_state: String,
    sla_class: String,
    clocks: Vec<Clock>,
    history: Vec<HistoryLine>,
    escalations: Vec<(String, String)>,
    survey: Option<(String, String, String)>,
    revisits: Vec<Revisit>,
    can_complete_revisit: bool,
    revisit_outcomes: Vec<Opt>,
    actions: Vec<Action>,
    survey_form: bool,
    is_agent: bool,
    priorities: Vec<Opt>,
    fact_kinds: Vec<Opt>,
    reopen_targets: Vec<Opt>,
}

fn detail_page(ctx: Ctx, page: &Page, view: ComplaintView, error: Option<String>) -> DetailPage {
    let m = ctx.m;
    let c = &view.complaint;
    let closed = !c.is_open();
    let clocks = vec![
        clock(&ctx, msg("sla.first_reply"), &view.sla.first_reply, closed),
        clock(&ctx, msg("sla.resolution"), &view.sla.resolution, closed),
    ];
    let history = view
        .history
        .iter()
        .map(|h| HistoryLine {
            at: html::fmt_dt(h.at),
            actor: h.actor_id.clone(),
            kind: ctx.label(&labels::history(&h.kind), &h.kind).to_string(),
            from: h
                .from_state
                .map(|s| m.t(&labels::state(s)).to_string())
                .unwrap_or_default(),
            to: h
                .to_state
                .map(|s| m.t(&labels::state(s)).to_string())
                .unwrap_or_default(),
            detail: super::history::describe(m, &h.kind, &h.detail),
        })
        .collect();
    let now = Utc::now();
    let revisits = view
        .revisits
        .iter()
        .map(|r| Revisit {
            complete_href: urls::revisit_complete(&r.id),
            due: html::fmt_dt(r.due_at),
            done: r.done_at.map(html::fmt_dt).unwrap_or_default(),
            outcome: [
                r.outcome_kind
                    .map(|k| m.t(&labels::revisit_outcome(k)).to_string())
                    .unwrap_or_default(),
                r.outcome.clone().unwrap_or_default(),
            ]
            .iter()
            .filter(|s| !s.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join(" · "),
            open: r.done_at.is_none(),
            overdue: r.done_at.is_none() && r.due_at < now,
        })
        .collect();
    let actions: Vec<Action> = view
        .available_commands
        .iter()
        .filter(|k| **k != CommandKind::RecordSurvey)
        .map(|k| Action {
            kind: k.as_str(),
            label: m.t(&labels::command(*k)).to_string(),
            fields: fields_of(*k),
        })
        .collect();
    let survey = c.survey.as_ref().map(|s| {
        (
            format!("{} ({})", s.result_score, m.t(&labels::band(s.result_band))),
            format!(
                "{} ({})",
                s.attitude_score,
                m.t(&labels::band(s.attitude_band))
            ),
            s.comment.clone().unwrap_or_default(),
        )
    });
    let opt_dt = |t: Option<DateTime<Utc>>| t.map(html::fmt_dt).unwrap_or_default();
    DetailPage {
        error,
        id: c.id.clone(),
        action_href: urls::complaint_command(&c.id),
        version: c.version,
        state: m.t(&labels::state(c.state)).to_string(),
        state_class: c.state.as_str(),
        priority: m.t(&labels::priority(c.priority)).to_string(),
        special: c.special,
        category: c.category.clone(),
        channel: ctx
            .label(&labels::complaint_channel(&c.channel), &c.channel)
            .to_string(),
        customer: c.customer.name.clone(),
        phone: c.customer.phone.clone().unwrap_or_default(),
        id_number: c.customer.id_number.clone().unwrap_or_default(),
        description: c.description.clone(),
        facts: c
            .key_facts
            .iter()
            .map(|f| (m.t(&labels::fact(f.kind)).to_string(), f.value.clone()))
            .collect(),
        assignee: assignee_label(&ctx, c.assignee.as_ref()),
        created_by: c.created_by.clone(),
        opened: html::fmt_dt(c.opened_at),
        updated: html::fmt_dt(c.updated_at),
        first_reply: opt_dt(c.first_reply_at),
        resolved: opt_dt(c.resolved_at),
        resolution: c.resolution.clone().unwrap_or_default(),
        closed: opt_dt(c.closed_at),
        close_reason: c.close_reason.clone().unwrap_or_default(),
        waiting: opt_dt(c.waiting_since),
        reopen_count: c.reopen_count,
        conversation_href: c.conversation_id.as_deref().map(urls::conversation),
        conversation_id: c.conversation_id.clone().unwrap_or_default(),
        sla_state: sla_label(&ctx, &view.sla_state),
        sla_class: view.sla_state.clone(),
        clocks,
        history,
        escalations: view
            .escalations
            .iter()
            .map(|e| {
                (
                    html::fmt_dt(e.created_at),
                    m.t(&labels::escalation(e.kind)).to_string(),
                )
            })
            .collect(),
        survey,
        revisits,
        can_complete_revisit: page.user.role() != Role::Agent,
        revisit_outcomes: options(
            RevisitOutcome::ALL,
            RevisitOutcome::as_str,
            |o| m.t(&labels::revisit_outcome(o)).to_string(),
            "",
        ),
        actions,
        survey_form: view.available_commands.contains(&CommandKind::RecordSurvey),
        is_agent: page.user.role() == Role::Agent,
        priorities: options(
            Priority::ALL,
            Priority::as_str,
            |p| m.t(&labels::priority(p)).to_string(),
            c.priority.as_str(),
        ),
        fact_kinds: options(
            KeyFactKind::ALL,
            KeyFactKind::as_str,
            |k| m.t(&labels::fact(k)).to_string(),
            "",
        ),
        reopen_targets: options(
            ReopenTarget::ALL,
            ReopenTarget::as_str,
            |t| m.t(&labels::reopen_to(t)).to_string(),
            "",
        ),
        ctx,
    }
}

/// `GET /complaints/{id}`.
pub(super) async fn detail(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
) -> PageResult {
    page.user.require(Section::Complaints)?;
    let view = service(&state)
        .get(&id, &actor(&page), Utc::now())
        .await?
        .ok_or(WebError::NotFound)?;
    let ctx = page.ctx(Some(Section::Complaints), msg("complaint.detail_title"));
    render(&detail_page(ctx, &page, view, None))
}

/// Reads a command from an action form; `Err` is a message for the user.
fn command_from(ctx: &Ctx, form: &FormData, me: &str) -> Result<Command, String> {
    let required = |name: &str, label: &str| -> Result<String, String> {
        form.get(name)
            .map(str::to_string)
            .ok_or_else(|| ctx.t1("error.required", ctx.t(label)))
    };
    let score = |name: &str, label: &str| -> Result<u8, String> {
        form.get(name)
            .and_then(|v| v.parse::<u8>().ok())
            .filter(|v| *v <= kefu_service::complaint::SCORE_MAX)
            .ok_or_else(|| ctx.t1("error.score", ctx.t(label)))
    };
    let kind = form
        .get("type")
        .and_then(|t| t.parse::<CommandKind>().ok())
        .ok_or_else(|| ctx.t("error.bad_request").to_string())?;
    Ok(match kind {
        CommandKind::Investigate => Command::Investigate,
        CommandKind::StartHandling => Command::StartHandling,
        CommandKind::CustomerResponded => Command::CustomerResponded,
        CommandKind::RequestFollowUp => Command::RequestFollowUp,
        CommandKind::Reply => Command::Reply {
            message: required("message", msg("complaint.f_message"))?,
        },
        CommandKind::WaitOnCustomer => Command::WaitOnCustomer {
            reason: opt(form, "reason"),
        },
        CommandKind::Resolve => Command::Resolve {
            summary: required("summary", msg("complaint.f_summary"))?,
        },
        CommandKind::Close => Command::Close {
            reason: required("reason", msg("complaint.f_reason"))?,
        },
        CommandKind::Reopen => Command::Reopen {
            reason: required("reason", msg("complaint.f_reason"))?,
            to: form
                .get("to")
                .and_then(|t| t.parse().ok())
                .unwrap_or_default(),
        },
        CommandKind::Assign => {
            let kind = form.get("assignee_kind").unwrap_or("agent");
            let id = match form.get("assignee_id") {
                Some(id) => id.to_string(),
                // Agents claim: to themselves.
                None if kind == "self" => me.to_string(),
                None => return Err(ctx.t1("error.required", ctx.t("complaint.f_assignee"))),
            };
            let kind = if kind == "self" { "agent" } else { kind };
            Command::Assign {
                assignee: Assignee::from_parts(kind, &id).map_err(|e| e.to_string())?,
            }
        }
        CommandKind::SetPriority => Command::SetPriority {
            priority: form
                .get("priority")
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| ctx.t1("error.required", ctx.t("complaint.priority")))?,
        },
        CommandKind::MarkSpecial => Command::MarkSpecial {
            special: form.checked("special"),
        },
        CommandKind::SetCategory => Command::SetCategory {
            category: required("category", msg("complaint.category"))?,
        },
        CommandKind::AddKeyFact => Command::AddKeyFact {
            fact: KeyFact::new(
                form.get("fact_kind")
                    .and_then(|k| k.parse().ok())
                    .unwrap_or(KeyFactKind::Other),
                required("fact_value", msg("complaint.f_fact"))?,
            ),
        },
        CommandKind::AddNote => Command::AddNote {
            text: required("text", msg("complaint.f_note"))?,
        },
        CommandKind::RecordSurvey => Command::RecordSurvey {
            result_score: score("result_score", msg("complaint.survey_result"))?,
            attitude_score: score("attitude_score", msg("complaint.survey_attitude"))?,
            comment: opt(form, "comment"),
        },
    })
}

/// `POST /complaints/{id}/command`: one action (its `type` and fields,
/// and the `version` the page showed). Success goes back to the complaint;
/// a refusal shows the complaint again with the reason.
pub(super) async fn command(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm,
) -> PageResult {
    page.user.require(Section::Complaints)?;
    let svc = service(&state);
    let actor = actor(&page);
    let ctx = page.ctx(Some(Section::Complaints), msg("complaint.detail_title"));
    let version = form.get("version").and_then(|v| v.parse::<u64>().ok());
    let outcome = match command_from(&ctx, &form, page.user.id()) {
        Ok(cmd) => match svc.execute(&id, version, &actor, cmd, Utc::now()).await {
            Ok(_) => return Ok(see_other(&format!("{}?done=saved", detail_href(&id)))),
            Err(e) => WebError::from(e).refusal()?,
        },
        Err(message) => (StatusCode::UNPROCESSABLE_ENTITY, message),
    };
    let (status, message) = outcome;
    match svc.get(&id, &actor, Utc::now()).await? {
        Some(view) => render_status(status, &detail_page(ctx, &page, view, Some(message))),
        // An agent's failed claim: they may not see the complaint itself.
        None => Err(WebError::Conflict(message)),
    }
}

/// `POST /revisits/{id}/complete`: records a revisit's outcome, then back
/// to the complaint (`back`).
pub(super) async fn complete_revisit(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm,
) -> PageResult {
    page.user.require(Section::Complaints)?;
    let kind = form
        .get("outcome_kind")
        .and_then(|k| k.parse::<RevisitOutcome>().ok())
        .ok_or_else(|| WebError::BadRequest("outcome_kind".into()))?;
    let task = service(&state)
        .complete_revisit(&id, &actor(&page), kind, opt(&form, "outcome"), Utc::now())
        .await?;
    let back = safe_next(Some(&detail_href(&task.complaint_id)));
    Ok(see_other(&format!("{back}?done=saved")))
}

// ---------------------------------------------------------------------------
// Export

/// `GET /export/complaints?state=…&view=claimable&format=csv|xlsx`: the
/// complaints the board or list shows with the same query (all states
/// without `state`; masked as for the viewer), up to
/// `exports::MAX_EXPORT_ROWS`, labels in the page's language.
pub(super) async fn export(State(state): State<AppState>, page: Page) -> PageResult {
    use kefu_formats::export::{Cell, Column, ColumnKind, Table};
    page.user.require(Section::Complaints)?;
    let ctx = page.ctx(Some(Section::Complaints), msg("complaint.board_title"));
    let states = match page.param("state") {
        Some(s) => crate::params::parse_complaint_states(s)
            .map_err(|e| WebError::BadRequest(e.to_string()))?,
        None => Vec::new(),
    };
    let claimable = page.user.role() == Role::Agent && page.param("view") == Some("claimable");
    let format = page.param("format").unwrap_or("csv").to_string();
    let svc = service(&state);
    let actor = actor(&page);
    let now = Utc::now();
    use ColumnKind::{DateTime as Time, Integer, Text};
    let mut table = Table::new(
        "投诉",
        "Complaints",
        vec![
            Column::new("id", "投诉编号", "Complaint", Text),
            Column::new("state", "状态", "State", Text),
            Column::new("priority", "优先级", "Priority", Text),
            Column::new("special", "特殊疑难", "Special", ColumnKind::Bool),
            Column::new("customer", "客户", "Customer", Text),
            Column::new("channel", "渠道", "Channel", Text),
            Column::new("category", "类别", "Category", Text),
            Column::new("assignee", "处理人", "Assignee", Text),
            Column::new("opened_at", "受理时间", "Opened", Time),
            Column::new("first_reply_at", "首次答复", "First reply", Time),
            Column::new("resolved_at", "解决时间", "Resolved", Time),
            Column::new("closed_at", "关闭时间", "Closed", Time),
            Column::new("sla", "时限状态", "SLA", Text),
            Column::new("reopened", "重开次数", "Reopened", Integer),
        ],
    );
    let time = |t: Option<DateTime<Utc>>| {
        t.map_or(Cell::Empty, |t| Cell::Time(t.with_timezone(&html::china())))
    };
    let mut after = None;
    loop {
        let left = super::exports::MAX_EXPORT_ROWS - table.rows.len();
        let filter = ComplaintFilter {
            states: states.clone(),
            claimable,
            limit: Some(i64::try_from(left.min(500)).unwrap_or(500)),
            after: after.take(),
            ..ComplaintFilter::default()
        };
        let found = svc.list_page(&filter, &actor, now).await?;
        for s in &found.items {
            table.rows.push(vec![
                Cell::text(s.id.as_str()),
                Cell::text(ctx.t(&labels::state(s.state))),
                Cell::text(ctx.t(&labels::priority(s.priority))),
                Cell::Bool(s.special),
                Cell::text(s.customer_name.as_str()),
                Cell::text(s.channel.as_str()),
                Cell::text(s.category.as_str()),
                Cell::text(assignee_label(&ctx, s.assignee.as_ref())),
                time(Some(s.opened_at)),
                time(s.first_reply_at),
                time(s.resolved_at),
                time(s.closed_at),
                Cell::text(sla_label(&ctx, &s.sla_state)),
                Cell::Int(i64::from(s.reopen_count)),
            ]);
        }
        match found.next {
            Some(next) if table.rows.len() < super::exports::MAX_EXPORT_ROWS => after = Some(next),
            _ => break,
        }
    }
    super::exports::download(
        table,
        super::exports::export_lang(page.lang),
        &format,
        "complaints",
    )
    .await
}
