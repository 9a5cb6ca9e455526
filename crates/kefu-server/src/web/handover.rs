//! Shift handover (交接班) on the dashboard: the list (mine, waiting for
//! me, escalated) with the shift form for supervisors, the new-handover
//! page (the next shift's pre-filled items to review and edit, plus free
//! items, saved as a draft or submitted), and the handover page where the
//! next shift acknowledges, restates or disputes each item. Everything
//! goes through [`HandoverService`], which applies the states and rules.

use axum::extract::{Path, State};
use kefu_service::auth::Role;
use kefu_service::handover::{
    parse_hhmm, Answer, HandoverService, HandoverState, ItemInput, ItemKind, ItemState, ListView,
    NewHandover, Severity, Shift,
};

use super::html;
use super::i18n::msg;
use super::page::{
    query_string, render, see_other, CsrfForm, Ctx, FormData, Page, PageResult, Section, WebError,
};
use super::urls;
use crate::AppState;

/// Empty free-item rows on the new-handover page.
const FREE_ROWS: usize = 3;

fn service(state: &AppState) -> HandoverService {
    HandoverService::new(state.store.clone())
}

fn handover_url(id: &str) -> String {
    format!("/handovers/{}", urls::segment(id))
}

fn state_label(ctx: &Ctx, s: HandoverState) -> String {
    ctx.t(&format!("ho.state.{}", s.as_str())).to_string()
}

fn severity_label(ctx: &Ctx, s: Severity) -> String {
    ctx.t(&format!("ho.severity.{}", s.as_str())).to_string()
}

/// Message keys this module builds at run time.
#[cfg(test)]
pub(crate) fn dynamic_keys() -> Vec<String> {
    let mut keys: Vec<String> = HandoverState::ALL
        .iter()
        .map(|s| format!("ho.state.{}", s.as_str()))
        .collect();
    keys.extend(
        Severity::ALL
            .iter()
            .map(|s| format!("ho.severity.{}", s.as_str())),
    );
    keys.extend(
        ItemState::ALL
            .iter()
            .map(|s| format!("ho.item_state.{}", s.as_str())),
    );
    keys.extend(
        ItemKind::ALL
            .iter()
            .map(|s| format!("ho.kind.{}", s.as_str())),
    );
    keys.extend(
        [
            "created",
            "items_replaced",
            "submitted",
            "acknowledged",
            "restated",
            "disputed",
            "escalated",
            "complaint_assigned",
            "complaint_not_assigned",
        ]
        .iter()
        .map(|k| format!("ho.event.{k}")),
    );
    keys.extend(["ho.tab.mine", "ho.tab.waiting", "ho.tab.escalated"].map(String::from));
    keys
}

struct Row {
    id: String,
    href: String,
    state: &'static str,
    state_label: String,
    shifts: String,
    from_user: String,
    to_user: String,
    window: String,
    created: String,
}

#[derive(askama::Template)]
#[template(path = "handover_list.html")]
struct ListPage {
    ctx: Ctx,
    tabs: Vec<(String, String, bool)>,
    rows: Vec<Row>,
    shift_names: Vec<String>,
    staff: bool,
    team: String,
    shifts_text: String,
    all_shifts: Vec<(String, String)>,
    escalate_after: i64,
}

fn window_text(from: i64, to: i64) -> String {
    format!("{} – {}", html::fmt_ms(from), html::fmt_ms(to))
}

/// `GET /handovers?view=mine|waiting|escalated`.
pub(super) async fn list(State(state): State<AppState>, page: Page) -> PageResult {
    page.user.require(Section::Handover)?;
    let ctx = page.ctx(Some(Section::Handover), msg("ho.list_title"));
    let p = &page.user.principal;
    let svc = service(&state);
    let view = match page.param("view") {
        Some("waiting") => ListView::Waiting,
        Some("escalated") => ListView::Escalated,
        _ => ListView::Mine,
    };
    let tabs = [
        (ListView::Mine, "mine"),
        (ListView::Waiting, "waiting"),
        (ListView::Escalated, "escalated"),
    ]
    .into_iter()
    .map(|(v, name)| {
        (
            ctx.t(&format!("ho.tab.{name}")).to_string(),
            format!("/handovers{}", query_string([("view", name)])),
            v == view,
        )
    })
    .collect();
    let rows = svc
        .list(p, view)
        .await?
        .into_iter()
        .map(|h| Row {
            href: handover_url(&h.id),
            state: h.state.as_str(),
            state_label: state_label(&ctx, h.state),
            shifts: format!("{} → {}", h.shift, h.next_shift),
            from_user: h.from_user,
            to_user: h.to_user.unwrap_or_default(),
            window: window_text(h.window_from, h.window_to),
            created: html::fmt_ms(h.created_at),
            id: h.id,
        })
        .collect();
    let team = p.team.clone().unwrap_or_default();
    let mine = if team.is_empty() {
        Vec::new()
    } else {
        svc.shifts(Some(&team)).await?
    };
    let staff = matches!(p.role, Role::Supervisor | Role::Admin);
    let all_shifts = if staff {
        svc.shifts(None)
            .await?
            .into_iter()
            .map(|s| {
                (
                    s.team,
                    format!("{} {}-{}", s.shift.name, s.shift.start, s.shift.end),
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    let shifts_text = mine
        .iter()
        .map(|s| format!("{} {}-{}", s.shift.name, s.shift.start, s.shift.end))
        .collect::<Vec<_>>()
        .join("\n");
    render(&ListPage {
        tabs,
        rows,
        shift_names: mine.into_iter().map(|s| s.shift.name).collect(),
        staff,
        team,
        shifts_text,
        all_shifts,
        escalate_after: svc.settings().await?.escalate_after_minutes,
        ctx,
    })
}

/// Reads `早班 08:00-16:00` lines.
fn shifts_of(text: &str) -> Result<Vec<Shift>, WebError> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let bad = || WebError::BadRequest(format!("shift line `{line}`: 早班 08:00-16:00"));
        let (name, times) = line.rsplit_once(char::is_whitespace).ok_or_else(bad)?;
        let (start, end) = times.split_once('-').ok_or_else(bad)?;
        parse_hhmm("start", start).map_err(|_| bad())?;
        parse_hhmm("end", end).map_err(|_| bad())?;
        out.push(Shift {
            name: name.trim().to_string(),
            start: start.to_string(),
            end: end.to_string(),
        });
    }
    Ok(out)
}

/// `POST /handovers/shifts`: a team's shifts (supervisors), and the
/// escalation delay.
pub(super) async fn save_shifts(
    State(state): State<AppState>,
    page: Page,
    CsrfForm(form): CsrfForm,
) -> PageResult {
    page.user.require(Section::Handover)?;
    let p = &page.user.principal;
    let svc = service(&state);
    let now = kefu_store::now_ms();
    let shifts = shifts_of(form.raw("shifts"))?;
    svc.put_shifts(p, &form.text("team"), &shifts, now).await?;
    if let Some(m) = form.get("escalate_after_minutes") {
        let minutes = m
            .parse::<i64>()
            .map_err(|_| WebError::BadRequest("escalate_after_minutes".into()))?;
        svc.put_settings(
            p,
            &kefu_service::handover::HandoverSettings {
                escalate_after_minutes: minutes,
            },
            now,
        )
        .await?;
    }
    Ok(see_other("/handovers?done=shifts"))
}

struct ItemRow {
    n: usize,
    kind: &'static str,
    kind_label: String,
    object_id: String,
    link: String,
    title: String,
    severity: &'static str,
    action: String,
    owner: String,
    due_ms: String,
    due: String,
    contingency: String,
}

#[derive(askama::Template)]
#[template(path = "handover_new.html")]
struct NewPage {
    ctx: Ctx,
    shift_names: Vec<String>,
    shift: String,
    next_shift: String,
    window: String,
    items: Vec<ItemRow>,
    free_from: usize,
    free_to: usize,
    severities: Vec<(&'static str, String)>,
}

/// `GET /handovers/new?shift=早班`: pick the shift, then review the
/// pre-filled items of the next shift's window and add free ones.
pub(super) async fn new_form(State(state): State<AppState>, page: Page) -> PageResult {
    page.user.require(Section::Handover)?;
    let ctx = page.ctx(Some(Section::Handover), msg("ho.new_title"));
    let p = &page.user.principal;
    let svc = service(&state);
    let team = p.team.clone().unwrap_or_default();
    let shift_names: Vec<String> = if team.is_empty() {
        Vec::new()
    } else {
        svc.shifts(Some(&team))
            .await?
            .into_iter()
            .map(|s| s.shift.name)
            .collect()
    };
    let severities = Severity::ALL
        .iter()
        .map(|s| (s.as_str(), severity_label(&ctx, *s)))
        .collect();
    let Some(shift) = page.param("shift").map(str::to_string) else {
        return render(&NewPage {
            shift_names,
            shift: String::new(),
            next_shift: String::new(),
            window: String::new(),
            items: Vec::new(),
            free_from: 0,
            free_to: 0,
            severities,
            ctx,
        });
    };
    let pre = svc.prefill(p, &shift, kefu_store::now_ms()).await?;
    let items: Vec<ItemRow> = pre
        .items
        .iter()
        .enumerate()
        .map(|(n, i)| ItemRow {
            n,
            kind: i.kind.as_str(),
            kind_label: ctx.t(&format!("ho.kind.{}", i.kind.as_str())).to_string(),
            object_id: i.object_id.clone().unwrap_or_default(),
            link: i
                .object_id
                .as_deref()
                .and_then(|o| i.kind.link(o))
                .unwrap_or_default(),
            title: i.title.clone(),
            severity: i.severity.as_str(),
            action: i.action.clone(),
            owner: i.owner.clone().unwrap_or_default(),
            due_ms: i.due_at.map(|d| d.to_string()).unwrap_or_default(),
            due: i.due_at.map(html::fmt_ms).unwrap_or_default(),
            contingency: i.contingency.clone(),
        })
        .collect();
    let free_from = items.len();
    render(&NewPage {
        shift_names,
        shift: pre.shift,
        next_shift: pre.next_shift,
        window: window_text(pre.window_from, pre.window_to),
        items,
        free_from,
        free_to: free_from + FREE_ROWS,
        severities,
        ctx,
    })
}

/// The items of the new-handover form: rows `item.N.*`, those ticked
/// (`item.N.keep`) with a title.
fn items_of(form: &FormData) -> Result<Vec<ItemInput>, WebError> {
    let count = form
        .get("count")
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(0)
        .min(500);
    let mut out = Vec::new();
    for n in 0..count {
        let f = |k: &str| form.text(&format!("item.{n}.{k}"));
        let title = f("title");
        if !form.checked(&format!("item.{n}.keep")) || title.is_empty() {
            continue;
        }
        let kind: ItemKind = match form.get(&format!("item.{n}.kind")) {
            Some(k) => k.parse().map_err(|_| WebError::BadRequest("kind".into()))?,
            None => ItemKind::Free,
        };
        let severity: Severity = match form.get(&format!("item.{n}.severity")) {
            Some(s) => s
                .parse()
                .map_err(|_| WebError::BadRequest("severity".into()))?,
            None => Severity::Normal,
        };
        let opt = |v: String| Some(v).filter(|s| !s.is_empty());
        out.push(ItemInput {
            kind,
            object_id: opt(f("object_id")),
            parent_id: None,
            title,
            severity,
            action: f("action"),
            owner: opt(f("owner")),
            due_at: form
                .get(&format!("item.{n}.due"))
                .map(|d| d.parse::<i64>())
                .transpose()
                .map_err(|_| WebError::BadRequest("due".into()))?,
            contingency: f("contingency"),
        });
    }
    Ok(out)
}

/// `POST /handovers`: create the handover from the form, as a draft or
/// submitted (`submit=1`).
pub(super) async fn create(
    State(state): State<AppState>,
    page: Page,
    CsrfForm(form): CsrfForm,
) -> PageResult {
    page.user.require(Section::Handover)?;
    let input = NewHandover {
        shift: form.text("shift"),
        to_user: form.get("to_user").map(str::to_string),
        note: form.text("note"),
        items: Some(items_of(&form)?),
        submit: form.get("submit") == Some("1"),
    };
    let v = service(&state)
        .create(&page.user.principal, input, kefu_store::now_ms())
        .await?;
    Ok(see_other(&format!(
        "{}?done=saved",
        handover_url(&v.handover.id)
    )))
}

struct DetailItem {
    id: i64,
    kind_label: String,
    link: String,
    object_id: String,
    title: String,
    severity: &'static str,
    severity_label: String,
    action: String,
    owner: String,
    due: String,
    contingency: String,
    state: &'static str,
    state_label: String,
    restatement: String,
    dispute_reason: String,
    answered: String,
    escalated: bool,
    answerable: bool,
}

struct HistoryRow {
    at: String,
    who: String,
    what: String,
    detail: String,
}

#[derive(askama::Template)]
#[template(path = "handover_detail.html")]
struct DetailPage {
    ctx: Ctx,
    id: String,
    version: i64,
    state: &'static str,
    state_label: String,
    team: String,
    shifts: String,
    from_user: String,
    to_user: String,
    window: String,
    note: String,
    items: Vec<DetailItem>,
    history: Vec<HistoryRow>,
    may_edit: bool,
    saved: bool,
}

/// `GET /handovers/{id}`.
pub(super) async fn detail(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
) -> PageResult {
    page.user.require(Section::Handover)?;
    let ctx = page.ctx(Some(Section::Handover), msg("ho.detail_title"));
    let v = service(&state).get(&page.user.principal, &id).await?;
    let h = &v.handover;
    let items = v
        .items
        .iter()
        .map(|i| DetailItem {
            id: i.id,
            kind_label: ctx.t(&format!("ho.kind.{}", i.kind.as_str())).to_string(),
            link: i.link.clone().unwrap_or_default(),
            object_id: i.object_id.clone().unwrap_or_default(),
            title: i.title.clone(),
            severity: i.severity.as_str(),
            severity_label: severity_label(&ctx, i.severity),
            action: i.action.clone(),
            owner: i.owner.clone().unwrap_or_default(),
            due: i.due_at.map(html::fmt_ms).unwrap_or_default(),
            contingency: i.contingency.clone(),
            state: i.state.as_str(),
            state_label: ctx
                .t(&format!("ho.item_state.{}", i.state.as_str()))
                .to_string(),
            restatement: i.restatement.clone().unwrap_or_default(),
            dispute_reason: i.dispute_reason.clone().unwrap_or_default(),
            answered: match (&i.answered_by, i.answered_at) {
                (Some(who), Some(at)) => format!("{who} · {}", html::fmt_ms(at)),
                _ => String::new(),
            },
            escalated: i.escalated,
            answerable: v.may_answer && i.state != ItemState::Acknowledged,
        })
        .collect();
    let history = v
        .history
        .iter()
        .map(|e| HistoryRow {
            at: html::fmt_ms(e.at),
            who: e.actor_id.clone(),
            what: format!(
                "{}{}",
                ctx.t(&format!("ho.event.{}", e.kind)),
                e.item_id.map(|i| format!(" #{i}")).unwrap_or_default()
            ),
            detail: e
                .detail
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter(|(k, v)| !v.is_null() && k.as_str() != "items")
                        .map(|(k, v)| match v {
                            serde_json::Value::String(s) => format!("{k}: {s}"),
                            other => format!("{k}: {other}"),
                        })
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_default(),
        })
        .collect();
    render(&DetailPage {
        id: h.id.clone(),
        version: h.version,
        state: h.state.as_str(),
        state_label: state_label(&ctx, h.state),
        team: h.team.clone(),
        shifts: format!("{} → {}", h.shift, h.next_shift),
        from_user: h.from_user.clone(),
        to_user: h.to_user.clone().unwrap_or_default(),
        window: window_text(h.window_from, h.window_to),
        note: h.note.clone(),
        items,
        history,
        may_edit: v.may_edit,
        saved: page.param("done") == Some("saved"),
        ctx,
    })
}

/// `POST /handovers/{id}/submit`.
pub(super) async fn submit(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm,
) -> PageResult {
    page.user.require(Section::Handover)?;
    let version = form.get("version").and_then(|v| v.parse::<i64>().ok());
    service(&state)
        .submit(&page.user.principal, &id, version, kefu_store::now_ms())
        .await?;
    Ok(see_other(&format!("{}?done=saved", handover_url(&id))))
}

/// `POST /handovers/{id}/items/{item}`: acknowledge (`type=acknowledge`,
/// optional `restatement`) or dispute (`type=dispute`, `reason`).
pub(super) async fn answer(
    State(state): State<AppState>,
    page: Page,
    Path((id, item)): Path<(String, i64)>,
    CsrfForm(form): CsrfForm,
) -> PageResult {
    page.user.require(Section::Handover)?;
    let answer = match form.get("type") {
        Some("dispute") => Answer::Dispute {
            reason: form.text("reason"),
        },
        Some("acknowledge") => Answer::Acknowledge {
            restatement: form.get("restatement").map(str::to_string),
        },
        _ => return Err(WebError::BadRequest("type".into())),
    };
    service(&state)
        .answer(
            &page.user.principal,
            &id,
            item,
            &answer,
            kefu_store::now_ms(),
        )
        .await?;
    Ok(see_other(&format!("{}?done=saved", handover_url(&id))))
}
