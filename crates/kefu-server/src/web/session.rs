//! Signing in and out, and the language switch.
//!
//! The login form is protected by a double-submit token (a random value in
//! a `kefu_login` cookie and in the form; a page on another site can set
//! neither); forms of signed-in users carry the session-derived token.

use axum::extract::{Path, Request, State};
use axum::http::header::{self, HeaderMap};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use kefu_service::auth as users;
use kefu_service::throttle;

use super::i18n::{msg, Lang, LANG_COOKIE};
use super::page::{
    cookie, is_https, query_pairs, render_status, request_lang, safe_next, same, see_other,
    session_user, set_cookie, Ctx, FormData, Page, PageResult, WebError, CSRF_FIELD,
    SESSION_COOKIE,
};
use crate::proxy::ClientAddr;
use crate::AppState;

/// How long a dashboard session lasts (as the API's).
const SESSION_HOURS: u64 = 12;
/// Cookie of the login form's double-submit token.
const LOGIN_COOKIE: &str = "kefu_login";

#[derive(askama::Template)]
#[template(path = "login.html")]
struct LoginPage {
    ctx: Ctx,
    next: String,
    user: String,
    token: String,
    /// Message key of the refusal shown above the form.
    alert: Option<&'static str>,
}

/// Why the sign-in form is shown again.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    /// Wrong user name or password (401).
    Failed,
    /// Too many failed attempts: locked for this many seconds (429).
    Throttled(u64),
}

#[derive(askama::Template)]
#[template(path = "logout.html")]
struct LogoutPage {
    ctx: Ctx,
}

fn random_token() -> Result<String, WebError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| WebError::Internal(format!("random source: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn login_page(
    headers: &HeaderMap,
    lang: Lang,
    next: String,
    user: String,
    refusal: Option<Refusal>,
) -> PageResult {
    let token = random_token()?;
    let page = LoginPage {
        ctx: Ctx::new(
            lang,
            None,
            &format!("/login?next={}", super::page::encode(&next)),
            None,
            msg("login.title"),
        ),
        next,
        user,
        token: token.clone(),
        alert: refusal.map(|r| match r {
            Refusal::Failed => msg("login.failed"),
            Refusal::Throttled(_) => msg("login.throttled"),
        }),
    };
    let status = match refusal {
        None => StatusCode::OK,
        Some(Refusal::Failed) => StatusCode::UNAUTHORIZED,
        Some(Refusal::Throttled(_)) => StatusCode::TOO_MANY_REQUESTS,
    };
    let mut response = render_status(status, &page)?;
    if let Some(Refusal::Throttled(s)) = refusal {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, axum::http::HeaderValue::from(s));
    }
    if let Some(v) = set_cookie(LOGIN_COOKIE, &token, 3600, "/login", is_https(headers)) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}

/// `GET /login?next=…`: the sign-in form (or straight on when signed in).
pub(super) async fn login_form(State(state): State<AppState>, req: Request) -> PageResult {
    let query = query_pairs(req.uri().query());
    let next = safe_next(
        query
            .iter()
            .find(|(k, _)| k == "next")
            .map(|(_, v)| v.as_str()),
    );
    if session_user(req.headers(), &state).await?.is_some() {
        return Ok(see_other(&next));
    }
    let lang = request_lang(req.headers(), req.uri().query());
    login_page(req.headers(), lang, next, String::new(), None)
}

/// `POST /login`: checks the password, starts a session, sets the
/// `kefu_session` cookie (HttpOnly, SameSite=Lax) and goes to `next`.
///
/// Throttled like the API's sign-in (`kefu_service::throttle`): while
/// locked, the form again with 429 and `Retry-After`.
pub(super) async fn login(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    req: Request,
) -> PageResult {
    let headers = req.headers().clone();
    let lang = request_lang(&headers, req.uri().query());
    let body = axum::body::to_bytes(req.into_body(), crate::MAX_LOGIN_BODY_BYTES)
        .await
        .map_err(|e| WebError::BadRequest(e.to_string()))?;
    let form = FormData::parse(&body);
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    let sent = form.get(CSRF_FIELD).unwrap_or("");
    if expected.is_empty() || !same(sent, &expected) {
        return Err(WebError::Csrf);
    }
    let next = safe_next(form.get("next"));
    let user = form.text("user");
    let password = form.raw("password").to_string();
    let now = Utc::now().timestamp_millis();
    if let Some(t) = throttle::check(&state.store, &user, addr.as_deref(), now).await? {
        return login_page(
            &headers,
            lang,
            next,
            user,
            Some(Refusal::Throttled(t.retry_after_s)),
        );
    }
    let Some(principal) = users::verify_password(&state.store, &user, &password).await? else {
        let refusal = match throttle::failed(&state.store, &user, addr.as_deref(), now).await? {
            Some(t) => Refusal::Throttled(t.retry_after_s),
            None => Refusal::Failed,
        };
        return login_page(&headers, lang, next, user, Some(refusal));
    };
    throttle::succeeded(&state.store, &user).await?;
    let (token, _expires) = users::create_session(
        &state.store,
        &principal.user_id,
        std::time::Duration::from_secs(SESSION_HOURS * 3600),
        Utc::now().timestamp_millis(),
    )
    .await?;
    let https = is_https(&headers);
    let mut response = see_other(&next);
    let max_age = i64::try_from(SESSION_HOURS * 3600).unwrap_or(43_200);
    for v in [
        set_cookie(SESSION_COOKIE, &token, max_age, "/", https),
        set_cookie(LOGIN_COOKIE, "", 0, "/login", https),
    ]
    .into_iter()
    .flatten()
    {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}

/// `GET /logout`: a page with the sign-out button (signing out is a POST).
pub(super) async fn logout_form(page: Page) -> PageResult {
    super::page::render(&LogoutPage {
        ctx: page.ctx(None, msg("logout.title")),
    })
}

/// `POST /logout`: ends the session and clears the cookie.
pub(super) async fn logout(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
    _form: super::page::CsrfForm,
) -> PageResult {
    users::end_session(&state.store, &page.user.session).await?;
    let mut response = see_other("/login");
    if let Some(v) = set_cookie(SESSION_COOKIE, "", 0, "/", is_https(&headers)) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}

/// `GET /lang/{zh|en}?next=…`: remembers the language in the `lang`
/// cookie and goes back.
pub(super) async fn switch_lang(
    Path(code): Path<String>,
    req: Request,
) -> Result<Response, WebError> {
    let lang = Lang::parse(&code).ok_or(WebError::NotFound)?;
    let query = query_pairs(req.uri().query());
    let next = safe_next(
        query
            .iter()
            .find(|(k, _)| k == "next")
            .map(|(_, v)| v.as_str()),
    );
    let mut response = see_other(&next);
    if let Some(v) = set_cookie(
        LANG_COOKIE,
        lang.code(),
        365 * 24 * 3600,
        "/",
        is_https(req.headers()),
    ) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response.into_response())
}
