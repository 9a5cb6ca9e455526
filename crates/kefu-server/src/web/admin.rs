//! Users and settings (admins): the users, adding one, deactivating and
//! reactivating; the SLA settings and survey policy in force (read-only
//! here; they are changed through the API).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::TimeDelta;
use kefu_service::auth::{self as users, NewUser, Role};
use kefu_service::complaint::ComplaintService;

use super::i18n::msg;
use super::labels;
use super::page::{
    render_status, see_other, CsrfForm, Ctx, FormData, Page, PageResult, Section, WebError,
};
use crate::AppState;

/// A user as listed.
struct UserRow {
    id: String,
    name: String,
    role: String,
    team: String,
    active: bool,
    action: String,
    /// The user's account controls.
    href: String,
    is_me: bool,
}

/// A role in the add-user form.
struct RoleOpt {
    value: &'static str,
    label: String,
    selected: bool,
}

#[derive(askama::Template)]
#[template(path = "admin.html")]
struct AdminPage {
    ctx: Ctx,
    users: Vec<UserRow>,
    roles: Vec<RoleOpt>,
    error: Option<String>,
    f_id: String,
    f_name: String,
    f_team: String,
    /// SLA settings, as (label, value) lines.
    sla: Vec<(String, String)>,
    /// The business calendar as stored (JSON), when business hours count.
    calendar: String,
    /// Survey bands and revisit delay.
    policy: Vec<(String, String)>,
}

fn target(ctx: &Ctx, t: Option<TimeDelta>) -> String {
    match t {
        Some(d) => {
            let minutes = d.num_minutes().max(0);
            ctx.t2("unit.hours_minutes", minutes / 60, minutes % 60)
        }
        None => ctx.t("admin.no_target").to_string(),
    }
}

async fn admin_page(
    state: &AppState,
    page: &Page,
    form: &FormData,
    error: Option<String>,
    status: StatusCode,
) -> PageResult {
    let ctx = page.ctx(Some(Section::Admin), msg("admin.title"));
    let list = users::list_users(&state.store).await?;
    let rows = list
        .iter()
        .map(|u| UserRow {
            action: super::urls::user_active(&u.id),
            href: format!("/admin/users/{}", super::urls::segment(&u.id)),
            is_me: u.id == page.user.id(),
            id: u.id.clone(),
            name: u.display_name.clone(),
            role: ctx.t(&labels::role(u.role)).to_string(),
            team: u.team.clone().unwrap_or_default(),
            active: u.active,
        })
        .collect();
    let chosen = form.get("role").unwrap_or("agent");
    let roles = Role::ALL
        .iter()
        .map(|r| RoleOpt {
            value: r.as_str(),
            label: ctx.t(&labels::role(*r)).to_string(),
            selected: r.as_str() == chosen,
        })
        .collect();
    let svc = ComplaintService::new(state.store.clone());
    let settings = svc.sla_settings().await?;
    let policy = svc.complaint_policy().await?;
    let yes_no = |b: bool| {
        ctx.t(if b {
            msg("common.yes")
        } else {
            msg("common.no")
        })
        .to_string()
    };
    let p = &settings.policy;
    let special = match p.special {
        Some(t) => format!(
            "{} / {}",
            target(&ctx, t.first_reply),
            target(&ctx, t.resolution)
        ),
        None => ctx.t("admin.special_standard").to_string(),
    };
    let sla = vec![
        (
            ctx.t("sla.first_reply").to_string(),
            target(&ctx, p.first_reply),
        ),
        (
            ctx.t("sla.resolution").to_string(),
            target(&ctx, p.resolution),
        ),
        (ctx.t("admin.special_targets").to_string(), special),
        (
            ctx.t("admin.near_breach").to_string(),
            format!("{}%", super::html::num(p.near_breach_ratio * 100.0)),
        ),
        (
            ctx.t("admin.business_hours").to_string(),
            yes_no(p.business_hours),
        ),
        (
            ctx.t("admin.builtin_holidays").to_string(),
            yes_no(settings.builtin_holidays),
        ),
    ];
    let calendar = if p.business_hours {
        serde_json::to_string_pretty(&settings.calendar).unwrap_or_default()
    } else {
        String::new()
    };
    let b = &policy.bands;
    let policy = vec![
        (
            ctx.t("complaint.band.unsatisfied").to_string(),
            format!("0–{}", b.unsatisfied_max),
        ),
        (
            ctx.t("complaint.band.neutral").to_string(),
            if b.neutral_max > b.unsatisfied_max {
                format!("{}–{}", b.unsatisfied_max + 1, b.neutral_max)
            } else {
                "—".to_string()
            },
        ),
        (
            ctx.t("complaint.band.satisfied").to_string(),
            format!("{}–10", b.neutral_max + 1),
        ),
        (
            ctx.t("admin.revisit_days").to_string(),
            ctx.t1("unit.days", policy.revisit_days),
        ),
    ];
    render_status(
        status,
        &AdminPage {
            users: rows,
            roles,
            error,
            f_id: form.text("id"),
            f_name: form.text("display_name"),
            f_team: form.text("team"),
            sla,
            calendar,
            policy,
            ctx,
        },
    )
}

/// `GET /admin`: users and settings.
pub(super) async fn page(State(state): State<AppState>, page: Page) -> PageResult {
    page.user.require(Section::Admin)?;
    admin_page(&state, &page, &FormData::default(), None, StatusCode::OK).await
}

/// `POST /admin/users`: adds a user; a refusal shows the page again with
/// the reason and what was typed (not the password).
pub(super) async fn add_user(
    State(state): State<AppState>,
    page: Page,
    CsrfForm(form): CsrfForm,
) -> PageResult {
    page.user.require(Section::Admin)?;
    let role = match form.get("role").map(str::parse::<Role>) {
        Some(Ok(r)) => r,
        _ => Role::Agent,
    };
    let new = NewUser {
        id: form.text("id"),
        display_name: form.text("display_name"),
        role,
        team: form.get("team").map(str::to_string),
        password: Some(form.raw("password").to_string()),
    };
    match users::add_user(&state.store, new).await {
        Ok(_) => Ok(see_other("/admin?done=user_added")),
        Err(kefu_service::Error::Invalid(m) | kefu_service::Error::Conflict(m)) => {
            admin_page(
                &state,
                &page,
                &form,
                Some(m),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /admin/users/{id}/active` with `active=0|1`: deactivates (and
/// signs out) or reactivates a user. Admins cannot deactivate themselves.
pub(super) async fn set_active(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm,
) -> PageResult {
    page.user.require(Section::Admin)?;
    let active = form.checked("active");
    if !active && id == page.user.id() {
        let ctx = page.ctx(Some(Section::Admin), msg("admin.title"));
        return Err(WebError::Conflict(ctx.t("admin.not_yourself").to_string()));
    }
    if active {
        users::set_active(&state.store, &id, active).await?;
    } else {
        // Deactivation ends the sessions and goes to the audit log.
        let by = kefu_service::accounts::AccountActor {
            id: page.user.id().to_string(),
            role: page.user.role().as_str().to_string(),
        };
        kefu_service::accounts::deactivate(&state.store, &by, &id).await?;
    }
    Ok(see_other(if active {
        "/admin?done=user_activated"
    } else {
        "/admin?done=user_deactivated"
    }))
}
