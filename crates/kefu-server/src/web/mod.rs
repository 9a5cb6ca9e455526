//! The web dashboard: server-rendered HTML pages inside `kefu serve`.
//!
//! * Pages are askama templates (`templates/*.html`, compiled in), each
//!   extending `base.html`, which draws the header, the navigation allowed
//!   to the user's role, the language switch and the sign-out button.
//! * Every label comes from `messages/zh.toml` / `messages/en.toml`
//!   ([`i18n`]); templates call `ctx.t("nav.overview")`.
//! * The stylesheet, the small script and the icon are compiled in and
//!   served under `/assets/…` ([`assets`]).
//! * Sign-in sets the `kefu_session` cookie (a database session, like the
//!   API's); every state-changing form is a POST carrying a CSRF token
//!   derived from the session ([`page::CsrfForm`]).
//! * Errors are rendered as pages in the user's language by the
//!   [`web_layer`] middleware, which also sets the security headers.
//!
//! # Adding a page
//!
//! 1. A handler taking [`page::Page`] (signed-in user, language, URL) that
//!    calls `page.user.require(Section::…)?` and renders a template struct
//!    with a `ctx: Ctx` field (from `page.ctx(Some(Section::…),
//!    msg("conv.list_title"))`). Agents' data: `page.user.agent_scope()` /
//!    `kefu_service::auth::can_read_agent_data`. Forms that change state
//!    are POSTs whose handler takes a [`page::CsrfForm`] and whose template
//!    has `<input type="hidden" name="_csrf" value="{{ ctx.csrf }}">`;
//!    answer success with `see_other("/…?done=saved")` (shows a notice).
//! 2. A template `templates/<name>.html` starting with
//!    `{% extends "base.html" %}` and filling `{% block content %}`; labels
//!    as `{{ ctx.t("common.filter") }}` (`ctx.t1`/`ctx.t2` fill `{0}`/`{1}`), charts
//!    from [`charts`] as `{{ svg|safe }}`. No inline `style=` or `<script>`:
//!    the Content-Security-Policy forbids them (and the browser test fails).
//! 3. Its labels in both `messages/zh.toml` and `messages/en.toml`. Keys
//!    written in Rust go through `i18n::msg("nav.overview")`; keys built at run time
//!    from domain values live in [`labels`] (with their list in
//!    `labels::dynamic_keys`). The unit tests in [`i18n`] fail when a key is
//!    missing from either file or the two files differ.
//! 4. A route in [`router`].
//!
//! Links and form actions that carry an id are built with [`urls`] (never
//! `format!("/…/{id}")` or `{{ id }}` in a template): ids from imported
//! files contain `#`, `?`, `/`, `%`, spaces and Chinese.

mod accounts;
mod admin;
mod assessments;
pub(crate) mod assets;
pub(crate) mod charts;
mod complaints;
mod conversations;
mod customers;
mod exports;
mod feedback;
mod handover;
mod history;
pub(crate) mod html;
pub(crate) mod i18n;
mod inbox;
pub(crate) mod labels;
mod mystery;
mod overview;
mod packs;
pub(crate) mod page;
mod review;
mod session;
mod settings;
mod upload;
pub(crate) mod urls;

use axum::extract::Request;
use axum::http::header::{self, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

use crate::AppState;
use i18n::{Lang, LANG_COOKIE};
use page::{is_https, query_pairs, request_lang, set_cookie, Ctx, ErrorInfo};

/// The dashboard's routes (merged into the application router).
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(overview::page))
        .route("/login", get(session::login_form).post(session::login))
        .route("/logout", get(session::logout_form).post(session::logout))
        .route("/lang/{lang}", get(session::switch_lang))
        .route("/assets/{name}", get(assets::serve))
        .route("/favicon.ico", get(assets::favicon))
        .route("/customers", get(customers::list))
        .route("/customers/{id}", get(customers::detail))
        .route(
            "/customers/{id}/edit",
            get(customers::edit).post(customers::save),
        )
        .route("/customers/{id}/contact", post(customers::log_contact))
        .route("/customers/{id}/grade", post(customers::set_grade))
        .route("/follow-ups", get(customers::follow_ups))
        .route("/feedback", get(feedback::list).post(feedback::create))
        .route("/feedback/themes", get(feedback::themes))
        .route("/feedback/{id}", get(feedback::detail))
        .route("/feedback/{id}/command", post(feedback::command))
        .route("/handovers", get(handover::list).post(handover::create))
        .route("/handovers/new", get(handover::new_form))
        .route("/handovers/shifts", post(handover::save_shifts))
        .route("/handovers/{id}", get(handover::detail))
        .route("/handovers/{id}/submit", post(handover::submit))
        .route("/handovers/{id}/items/{item}", post(handover::answer))
        .route("/mystery", get(mystery::plans))
        .route("/mystery/plans", post(mystery::create_plan))
        .route("/mystery/plans/{id}", get(mystery::plan))
        .route("/mystery/plans/{id}/state", post(mystery::plan_state))
        .route("/mystery/plans/{id}/shops", post(mystery::record_shop))
        .route(
            "/mystery/sheets",
            get(mystery::sheets).post(mystery::save_sheet),
        )
        .route("/mystery/review", get(mystery::review_queue))
        .route("/mystery/shops/{id}", get(mystery::shop))
        .route("/mystery/shops/{id}/review", post(mystery::review))
        .route("/mystery/results", get(mystery::results))
        .route("/mystery/agreement", get(mystery::agreement))
        .route("/mystery/agreement.csv", get(mystery::agreement_csv))
        .route("/conversations", get(conversations::list))
        // Not under /conversations/: a conversation may be called "export".
        .route("/export/conversations", get(exports::conversations))
        .route("/export/complaints", get(complaints::export))
        .route(
            "/import",
            get(upload::form)
                .post(upload::upload)
                // The upload limit is the server's (checked while spooling).
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/conversations/{id}", get(conversations::detail))
        .route("/conversations/{id}/review", post(review::save_review))
        .route("/conversations/{id}/appeals", post(review::file_appeal))
        .route("/review", get(review::queue))
        .route("/review/build", post(review::build_queue))
        .route("/appeals", get(review::appeals))
        .route("/appeals/{id}", get(review::appeal))
        .route("/appeals/{id}/decision", post(review::decide))
        .route("/agents", get(review::agents))
        .route("/agents/{id}", get(review::agent))
        .route(
            "/complaints",
            get(complaints::board).post(complaints::create),
        )
        .route("/complaints/new", get(complaints::new_form))
        .route("/complaints/{id}", get(complaints::detail))
        .route("/complaints/{id}/command", post(complaints::command))
        .route(
            "/revisits/{id}/complete",
            post(complaints::complete_revisit),
        )
        .route(
            "/assessments",
            get(assessments::list).post(assessments::run),
        )
        .route("/assessments/{id}", get(assessments::detail))
        .route("/reports/export", get(exports::reports))
        .route("/assessments/{id}/publish", post(assessments::publish))
        .route("/packs", get(packs::overview))
        .route("/packs/reinspect", post(packs::reinspect))
        .route("/packs/editor", get(packs::editor).post(packs::check))
        .route("/inbox", get(inbox::page))
        .route("/inbox/read-all", post(inbox::mark_all_read))
        .route("/inbox/{id}/read", post(inbox::mark_read))
        .route("/admin/notifications", get(inbox::admin))
        .route("/admin/notifications/webhooks", post(inbox::add_webhook))
        .route(
            "/admin/notifications/webhooks/{id}/disable",
            post(inbox::disable_webhook),
        )
        .route("/admin/notifications/email", post(inbox::set_email))
        .route("/admin", get(admin::page))
        .route("/admin/users", post(admin::add_user))
        .route("/admin/settings", get(settings::page).post(settings::save))
        .route("/admin/users/{id}/active", post(admin::set_active))
        .route("/admin/users/{id}", get(accounts::user))
        .route("/admin/users/{id}/password", post(accounts::reset_password))
        .route("/admin/users/{id}/role", post(accounts::change_role))
        .route("/admin/users/{id}/logout-all", post(accounts::logout_all))
        .route(
            "/admin/users/{id}/tokens/{token}/revoke",
            post(accounts::revoke_token),
        )
        .route(
            "/account/password",
            get(accounts::password_form).post(accounts::change_own_password),
        )
        .fallback(not_found)
        .layer(middleware::from_fn(web_layer))
}

async fn not_found() -> page::WebError {
    page::WebError::NotFound
}

/// The error page's template.
#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorPage {
    ctx: Ctx,
    status: u16,
    message: String,
    detail: Option<String>,
    home: &'static str,
}

/// Around every dashboard response: renders errors as pages in the
/// request's language, remembers `?lang=` in the cookie, and sets the
/// security headers (a strict Content-Security-Policy: no inline script or
/// style, nothing from other sites).
pub(crate) async fn web_layer(req: Request, next: Next) -> Response {
    let lang = request_lang(req.headers(), req.uri().query());
    let asked_lang = query_pairs(req.uri().query())
        .into_iter()
        .find(|(k, _)| k == "lang")
        .and_then(|(_, v)| Lang::parse(&v));
    let https = is_https(req.headers());
    let uri = req.uri().path().to_string();
    let mut response = next.run(req).await;
    if response.status() == axum::http::StatusCode::METHOD_NOT_ALLOWED {
        response.extensions_mut().insert(ErrorInfo {
            key: i18n::msg("error.method"),
            detail: None,
        });
    }
    if let Some(info) = response.extensions_mut().remove::<ErrorInfo>() {
        let status = response.status();
        let ctx = Ctx::new(lang, None, &uri, None, i18n::msg("error.title"));
        let page = ErrorPage {
            message: ctx.t(info.key).to_string(),
            detail: info.detail,
            status: status.as_u16(),
            home: "/",
            ctx,
        };
        let body = askama::Template::render(&page).unwrap_or_else(|_| "error".to_string());
        // Keep the headers (`Allow` of a 405 …), replace the body.
        *response.body_mut() = axum::body::Body::from(body);
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
    }
    let headers = response.headers_mut();
    if let Some(l) = asked_lang {
        if let Some(v) = set_cookie(LANG_COOKIE, l.code(), 365 * 24 * 3600, "/", https) {
            headers.append(header::SET_COOKIE, v);
        }
    }
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
             base-uri 'none'; object-src 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    let is_html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_html && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
