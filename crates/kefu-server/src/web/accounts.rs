//! Account controls in the dashboard (issue 17): an admin resets a user's
//! password, changes their role, revokes their API tokens and ends their
//! sessions; every signed-in user changes their own password (the old one
//! required). All of it goes through `kefu_service::accounts`, which
//! applies the password policy and writes the audit log.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use kefu_service::accounts::{self, AccountActor, PasswordIssue};
use kefu_service::auth::{self as users, Role};

use super::i18n::msg;
use super::labels;
use super::page::{render_status, see_other, CsrfForm, Ctx, Page, PageResult, Section, WebError};
use super::urls::segment;
use crate::AppState;

/// An API token as listed.
struct TokenRow {
    name: String,
    prefix: String,
    created: String,
    revoked: bool,
    action: String,
}

/// A role choice of the role form.
struct RoleOpt {
    value: &'static str,
    label: String,
    selected: bool,
}

#[derive(askama::Template)]
#[template(path = "admin_user.html")]
struct UserPage {
    ctx: Ctx,
    id: String,
    name: String,
    is_me: bool,
    base: String,
    roles: Vec<RoleOpt>,
    tokens: Vec<TokenRow>,
    /// The password form's validation message.
    error: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "account_password.html")]
struct PasswordPage {
    ctx: Ctx,
    error: Option<String>,
}

/// `/admin/users/{id}`.
fn user_href(id: &str) -> String {
    format!("/admin/users/{}", segment(id))
}

fn actor(page: &Page) -> AccountActor {
    AccountActor {
        id: page.user.id().to_string(),
        role: page.user.role().as_str().to_string(),
    }
}

/// The message key of a broken password rule.
fn issue_key(issue: PasswordIssue) -> String {
    format!("account.weak.{}", issue.as_str())
}

async fn user_page(state: &AppState, page: &Page, id: &str, error: Option<String>) -> PageResult {
    let user = users::get_user(&state.store, id)
        .await?
        .ok_or(WebError::NotFound)?;
    let ctx = page.ctx(Some(Section::Admin), msg("account.user_title"));
    let base = user_href(&user.id);
    let roles = Role::ALL
        .iter()
        .map(|r| RoleOpt {
            value: r.as_str(),
            label: ctx.t(&labels::role(*r)).to_string(),
            selected: *r == user.role,
        })
        .collect();
    let tokens = users::list_tokens(&state.store, &user.id)
        .await?
        .into_iter()
        .map(|t| TokenRow {
            action: format!("{base}/tokens/{}/revoke", t.id),
            name: t.name,
            prefix: t.prefix,
            created: super::html::fmt_ms(t.created_at),
            revoked: t.revoked_at.is_some(),
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render_status(
        status,
        &UserPage {
            is_me: user.id == page.user.id(),
            id: user.id,
            name: user.display_name,
            base,
            roles,
            tokens,
            error,
            ctx,
        },
    )
}

/// `GET /admin/users/{id}`: one user's account controls (admins).
pub(super) async fn user(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
) -> PageResult {
    page.user.require(Section::Admin)?;
    user_page(&state, &page, &id, None).await
}

/// `POST /admin/users/{id}/password`: sets a new password (policy
/// checked, the user's sessions end). A weak password shows the page again
/// with the reason and changes nothing.
pub(super) async fn reset_password(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm,
) -> PageResult {
    page.user.require(Section::Admin)?;
    let password = form.raw("password").to_string();
    if let Some(issue) = accounts::password_issue(&id, &password) {
        let ctx = page.ctx(Some(Section::Admin), msg("account.user_title"));
        let m = ctx.t(&issue_key(issue)).to_string();
        return user_page(&state, &page, &id, Some(m)).await;
    }
    accounts::change_password(&state.store, &actor(&page), &id, password).await?;
    Ok(see_other(&format!(
        "{}?done=password_reset",
        user_href(&id)
    )))
}

/// `POST /admin/users/{id}/role` with `role`: another role (the user's
/// sessions end so that it applies at once). Not one's own role, so that
/// the last admin cannot lock everybody out.
pub(super) async fn change_role(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm,
) -> PageResult {
    page.user.require(Section::Admin)?;
    let Some(Ok(role)) = form.get("role").map(str::parse::<Role>) else {
        return Err(WebError::BadRequest("unknown role".into()));
    };
    if id == page.user.id() {
        let ctx = page.ctx(Some(Section::Admin), msg("admin.title"));
        return Err(WebError::Conflict(
            ctx.t("account.not_own_role").to_string(),
        ));
    }
    accounts::change_role(&state.store, &actor(&page), &id, role).await?;
    Ok(see_other(&format!("{}?done=role_changed", user_href(&id))))
}

/// `POST /admin/users/{id}/logout-all`: ends every session of the user.
pub(super) async fn logout_all(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    CsrfForm(_form): CsrfForm,
) -> PageResult {
    page.user.require(Section::Admin)?;
    accounts::logout_all(&state.store, &actor(&page), &id).await?;
    Ok(see_other(&format!(
        "{}?done=sessions_ended",
        user_href(&id)
    )))
}

/// `POST /admin/users/{id}/tokens/{token}/revoke`: revokes an API token.
pub(super) async fn revoke_token(
    State(state): State<AppState>,
    page: Page,
    Path((id, token)): Path<(String, i64)>,
    CsrfForm(_form): CsrfForm,
) -> PageResult {
    page.user.require(Section::Admin)?;
    accounts::revoke_token(&state.store, &actor(&page), &id, token).await?;
    Ok(see_other(&format!("{}?done=token_revoked", user_href(&id))))
}

fn password_page(page: &Page, error: Option<String>) -> PageResult {
    let ctx = page.ctx(None, msg("account.password_title"));
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render_status(status, &PasswordPage { ctx, error })
}

/// `GET /account/password`: the own-password form (every role).
pub(super) async fn password_form(page: Page) -> PageResult {
    password_page(&page, None)
}

/// `POST /account/password` with `old`, `new` and `repeat`: changes the
/// signed-in user's password. Every session ends, this one included, so
/// the answer is the sign-in page.
pub(super) async fn change_own_password(
    State(state): State<AppState>,
    page: Page,
    CsrfForm(form): CsrfForm,
) -> Result<Response, WebError> {
    let ctx = page.ctx(None, msg("account.password_title"));
    let new = form.raw("new").to_string();
    let problem = if new != form.raw("repeat") {
        Some(ctx.t("account.mismatch").to_string())
    } else if let Some(issue) = accounts::password_issue(page.user.id(), &new) {
        Some(ctx.t(&issue_key(issue)).to_string())
    } else if users::verify_password(&state.store, page.user.id(), form.raw("old"))
        .await?
        .is_none()
    {
        Some(ctx.t("account.wrong_old").to_string())
    } else {
        None
    };
    if problem.is_some() {
        return password_page(&page, problem);
    }
    accounts::change_password(&state.store, &actor(&page), page.user.id(), new).await?;
    Ok(see_other("/login?done=password_changed"))
}
