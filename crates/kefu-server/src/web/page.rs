//! What every page handler works with: the signed-in [`WebUser`], the
//! [`Page`] extractor (user + language + URL), the layout context [`Ctx`]
//! with the navigation, HTML errors ([`WebError`]), and CSRF-checked forms
//! ([`CsrfForm`]).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use kefu_service::auth::{self as users, Principal, Role};
use sha2::{Digest, Sha256};

use super::assets;
use super::i18n::{msg, Lang, Messages, LANG_COOKIE};
use crate::AppState;

/// Name of the session cookie.
pub(crate) const SESSION_COOKIE: &str = "kefu_session";
/// Name of the form field that carries the CSRF token.
pub(crate) const CSRF_FIELD: &str = "_csrf";

// ---------------------------------------------------------------------------
// Cookies and URLs

/// The value of cookie `name`, if the request sent it.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
}

/// Whether the request came over HTTPS through a trusted proxy that says
/// so ([`crate::proxy`]), so cookies get the `Secure` flag.
pub(crate) fn is_https(headers: &HeaderMap) -> bool {
    crate::proxy::is_https(headers)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/ unless `path`.
pub(crate) fn set_cookie(
    name: &str,
    value: &str,
    max_age_s: i64,
    path: &str,
    https: bool,
) -> Option<HeaderValue> {
    let secure = if https { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; Max-Age={max_age_s}; HttpOnly; SameSite=Lax{secure}"
    ))
    .ok()
}

/// The query parameters of a URI query string.
pub(crate) fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// `?a=1&b=2` from pairs (empty string when there are none).
pub(crate) fn query_string<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (k, v) in pairs {
        s.append_pair(k, v);
        any = true;
    }
    if any {
        format!("?{}", s.finish())
    } else {
        String::new()
    }
}

/// Percent-encodes one query value.
pub(crate) fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// `next` if it is a path on this site (no open redirects), else `/`.
pub(crate) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control) =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

/// The language of a request: `?lang=` first, then the `lang` cookie,
/// then Chinese.
pub(crate) fn request_lang(headers: &HeaderMap, query: Option<&str>) -> Lang {
    query_pairs(query)
        .iter()
        .find(|(k, _)| k == "lang")
        .and_then(|(_, v)| Lang::parse(v))
        .or_else(|| cookie(headers, LANG_COOKIE).and_then(|v| Lang::parse(&v)))
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Errors

/// What the error page shows; carried in the response extensions so that the
/// web middleware can render it in the request's language.
#[derive(Debug, Clone)]
pub(crate) struct ErrorInfo {
    /// Message key of the explanation.
    pub key: &'static str,
    /// Extra detail (already meant for the user), if any.
    pub detail: Option<String>,
}

/// An error answered with an HTML page.
#[derive(Debug)]
pub(crate) enum WebError {
    /// No such page or object (or not visible to the user).
    NotFound,
    /// The user's role may not do this.
    Forbidden,
    /// The user may not do this, for the reason given.
    Denied(String),
    /// The CSRF token is missing or wrong.
    Csrf,
    /// The request is malformed.
    BadRequest(String),
    /// The request is well-formed but breaks a rule of the domain.
    Invalid(String),
    /// The request conflicts with the current state.
    Conflict(String),
    /// Our fault; the detail goes to the log only.
    Internal(String),
    /// The database is busy with other writers: 503 with `Retry-After`.
    Busy(String),
    /// Not signed in: go to the login page, then back to this path.
    Login(String),
}

impl WebError {
    /// The status of the error page.
    fn status(&self) -> StatusCode {
        match self {
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::Forbidden | WebError::Denied(_) | WebError::Csrf => StatusCode::FORBIDDEN,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            WebError::Conflict(_) => StatusCode::CONFLICT,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            WebError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Login(_) => StatusCode::SEE_OTHER,
        }
    }

    /// A refusal the user can act on — invalid input, not allowed, a
    /// conflict — as the status and message a form page shows in place;
    /// any other error stays an error page.
    pub(crate) fn refusal(self) -> Result<(StatusCode, String), WebError> {
        let status = self.status();
        match self {
            WebError::Invalid(m) | WebError::Denied(m) | WebError::Conflict(m) => Ok((status, m)),
            other => Err(other),
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (key, detail) = match self {
            WebError::NotFound => (msg("error.not_found"), None),
            WebError::Forbidden => (msg("error.forbidden"), None),
            WebError::Denied(d) => (msg("error.forbidden"), Some(d)),
            WebError::Csrf => (msg("error.csrf"), None),
            WebError::BadRequest(d) | WebError::Invalid(d) => (msg("error.bad_request"), Some(d)),
            WebError::Conflict(d) => (msg("error.conflict"), Some(d)),
            WebError::Internal(d) => {
                tracing::error!(error = %d, "page failed");
                (msg("error.internal"), None)
            }
            WebError::Busy(d) => {
                tracing::warn!(error = %d, "database busy: answered 503");
                let mut response = status.into_response();
                response.headers_mut().insert(
                    axum::http::header::RETRY_AFTER,
                    axum::http::HeaderValue::from(crate::error::BUSY_RETRY_AFTER_S),
                );
                response.extensions_mut().insert(ErrorInfo {
                    key: msg("error.busy"),
                    detail: None,
                });
                return response;
            }
            WebError::Login(next) => {
                return Redirect::to(&format!("/login?next={}", encode(&next))).into_response();
            }
        };
        let mut response = status.into_response();
        response.extensions_mut().insert(ErrorInfo { key, detail });
        response
    }
}

/// The one mapping of the services' error kinds to the dashboard's error
/// pages.
impl From<kefu_service::Error> for WebError {
    fn from(e: kefu_service::Error) -> WebError {
        use kefu_service::Error;
        match e {
            Error::Invalid(m) => WebError::Invalid(m),
            Error::Forbidden(m) => WebError::Denied(m),
            Error::NotFound(_) => WebError::NotFound,
            Error::Conflict(m) => WebError::Conflict(m),
            Error::Internal(m) => WebError::Internal(m),
            Error::Busy(m) => WebError::Busy(m),
        }
    }
}

/// Store errors reach the dashboard as the service error they are.
impl From<kefu_store::StoreError> for WebError {
    fn from(e: kefu_store::StoreError) -> WebError {
        kefu_service::Error::from(e).into()
    }
}

impl From<askama::Error> for WebError {
    fn from(e: askama::Error) -> WebError {
        WebError::Internal(format!("template: {e}"))
    }
}

/// A page's result.
pub(crate) type PageResult = Result<Response, WebError>;

/// Renders a template into a response.
pub(crate) fn render(t: &impl askama::Template) -> PageResult {
    Ok(Html(t.render()?).into_response())
}

/// Renders a template with a status other than 200.
pub(crate) fn render_status(status: StatusCode, t: &impl askama::Template) -> PageResult {
    Ok((status, Html(t.render()?)).into_response())
}

/// A 303 redirect (after a POST).
pub(crate) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

// ---------------------------------------------------------------------------
// The signed-in user

/// The user of a dashboard request, from the `kefu_session` cookie.
#[derive(Debug, Clone)]
pub(crate) struct WebUser {
    /// Who, with which role and team.
    pub principal: Principal,
    /// Name shown in the header.
    pub display_name: String,
    /// The session token (to sign out and to derive the CSRF token).
    pub session: String,
    /// Unread notifications (the header's badge).
    pub unread: i64,
}

impl WebUser {
    /// The role.
    pub(crate) fn role(&self) -> Role {
        self.principal.role
    }

    /// The user id.
    pub(crate) fn id(&self) -> &str {
        &self.principal.user_id
    }

    /// The CSRF token of this session (what forms must send back).
    pub(crate) fn csrf(&self) -> String {
        csrf_token(&self.session)
    }

    /// For agents, their own id: the only agent whose data they may see.
    pub(crate) fn agent_scope(&self) -> Option<&str> {
        (self.role() == Role::Agent).then_some(self.id())
    }

    /// Fails with 403 unless the role may use `section`.
    pub(crate) fn require(&self, section: Section) -> Result<(), WebError> {
        if section.allowed(self.role()) {
            Ok(())
        } else {
            Err(WebError::Forbidden)
        }
    }
}

/// The CSRF token bound to a session token: a hash of it, so a page can only
/// be forged by someone who already holds the session.
pub(crate) fn csrf_token(session: &str) -> String {
    let digest = Sha256::digest(format!("kefu-web-csrf\0{session}").as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Compares two strings in time independent of where they differ.
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Looks up the session of a request.
pub(crate) async fn session_user(
    headers: &HeaderMap,
    state: &AppState,
) -> Result<Option<WebUser>, WebError> {
    let Some(token) = cookie(headers, SESSION_COOKIE).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let now = Utc::now().timestamp_millis();
    let Some(principal) = users::principal_for_session(&state.store, &token, now).await? else {
        return Ok(None);
    };
    let display_name = users::get_user(&state.store, &principal.user_id)
        .await?
        .map(|u| u.display_name)
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| principal.user_id.clone());
    // The header's badge: one count over a partial index; a failure only
    // hides the badge.
    let unread = state
        .store
        .unread_count(&principal.user_id)
        .await
        .unwrap_or(0);
    Ok(Some(WebUser {
        principal,
        display_name,
        session: token,
        unread,
    }))
}

/// A dashboard request by a signed-in user: who, in which language, for
/// which URL. Not signed in: a redirect to `/login?next=…`.
#[derive(Debug, Clone)]
pub(crate) struct Page {
    /// The user.
    pub user: WebUser,
    /// The language.
    pub lang: Lang,
    /// Path and query of the request (to come back to).
    pub uri: String,
    /// The query parameters.
    pub query: Vec<(String, String)>,
}

impl Page {
    /// The first value of query parameter `name`, trimmed, if not empty.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The layout context for a page of `section` titled by `title_key`.
    pub(crate) fn ctx(&self, section: Option<Section>, title_key: &str) -> Ctx {
        Ctx::new(self.lang, Some(&self.user), &self.uri, section, title_key)
    }
}

impl FromRequestParts<AppState> for Page {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Page, WebError> {
        let uri = parts.uri.path_and_query().map_or_else(
            || parts.uri.path().to_string(),
            |pq| pq.as_str().to_string(),
        );
        // After signing in, come back here; a form post cannot be replayed,
        // so it comes back to the start page.
        let back = if parts.method == axum::http::Method::GET {
            uri.clone()
        } else {
            "/".to_string()
        };
        let user = session_user(&parts.headers, state)
            .await?
            .ok_or(WebError::Login(back))?;
        Ok(Page {
            user,
            lang: request_lang(&parts.headers, parts.uri.query()),
            query: query_pairs(parts.uri.query()),
            uri,
        })
    }
}

/// The signed-in user alone, for handlers that need no page context; not
/// signed in: a redirect to `/login?next=…`.
impl FromRequestParts<AppState> for WebUser {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<WebUser, WebError> {
        Ok(Page::from_request_parts(parts, state).await?.user)
    }
}

// ---------------------------------------------------------------------------
// Forms

/// The fields of a submitted form.
#[derive(Debug, Clone, Default)]
pub(crate) struct FormData(Vec<(String, String)>);

impl FormData {
    /// Parses an `application/x-www-form-urlencoded` body.
    pub(crate) fn parse(body: &[u8]) -> FormData {
        FormData(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// Field `name`, trimmed, when present and not blank.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Field `name` as it was typed (not trimmed), or empty.
    pub(crate) fn raw(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Field `name`, trimmed, or an empty string.
    pub(crate) fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or("").to_string()
    }

    /// Every field, in order.
    pub(crate) fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// Whether a checkbox `name` was ticked.
    pub(crate) fn checked(&self, name: &str) -> bool {
        matches!(self.get(name), Some("1" | "on" | "true" | "yes"))
    }
}

/// A POSTed form whose CSRF token matches the session: use it for every
/// state-changing form. A wrong token is a 403; no session, a redirect to
/// the login page.
#[derive(Debug, Clone)]
pub(crate) struct CsrfForm(pub FormData);

impl FromRequest<AppState> for CsrfForm {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &AppState) -> Result<CsrfForm, WebError> {
        let headers = req.headers().clone();
        // Browsers say where a request comes from: refuse other sites outright.
        if headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == "cross-site")
        {
            return Err(WebError::Csrf);
        }
        let session = cookie(&headers, SESSION_COOKIE)
            .filter(|s| !s.is_empty())
            .ok_or(WebError::Login("/".to_string()))?;
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|e| WebError::BadRequest(e.to_string()))?;
        let form = FormData::parse(&body);
        match form.get(CSRF_FIELD) {
            Some(sent) if same(sent, &csrf_token(&session)) => Ok(CsrfForm(form)),
            _ => Err(WebError::Csrf),
        }
    }
}

// ---------------------------------------------------------------------------
// Sections and the layout

/// A part of the dashboard, as listed in the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    /// 概览.
    Overview,
    /// 会话.
    Conversations,
    /// 复核队列.
    Review,
    /// 申诉.
    Appeals,
    /// 投诉.
    Complaints,
    /// 客户.
    Customers,
    /// 信息反馈.
    Feedback,
    /// 交接班.
    Handover,
    /// 神秘客户.
    Mystery,
    /// 坐席.
    Agents,
    /// 规则包.
    Packs,
    /// 用户与设置.
    Admin,
}

impl Section {
    /// In navigation order.
    pub(crate) const ALL: [Section; 12] = [
        Section::Overview,
        Section::Conversations,
        Section::Review,
        Section::Appeals,
        Section::Complaints,
        Section::Customers,
        Section::Feedback,
        Section::Handover,
        Section::Mystery,
        Section::Agents,
        Section::Packs,
        Section::Admin,
    ];

    /// Where it lives.
    pub(crate) fn href(self) -> &'static str {
        match self {
            Section::Overview => "/",
            Section::Conversations => "/conversations",
            Section::Review => "/review",
            Section::Appeals => "/appeals",
            Section::Complaints => "/complaints",
            Section::Customers => "/customers",
            Section::Feedback => "/feedback",
            Section::Handover => "/handovers",
            Section::Mystery => "/mystery",
            Section::Agents => "/agents",
            Section::Packs => "/packs",
            Section::Admin => "/admin",
        }
    }

    /// Message key of its name.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Section::Overview => msg("nav.overview"),
            Section::Conversations => msg("nav.conversations"),
            Section::Review => msg("nav.review"),
            Section::Appeals => msg("nav.appeals"),
            Section::Complaints => msg("nav.complaints"),
            Section::Customers => msg("nav.customers"),
            Section::Feedback => msg("nav.feedback"),
            Section::Handover => msg("nav.handover"),
            Section::Mystery => msg("nav.mystery"),
            Section::Agents => msg("nav.agents"),
            Section::Packs => msg("nav.packs"),
            Section::Admin => msg("nav.admin"),
        }
    }

    /// Whether `role` may use it. Agents: their own overview, conversations,
    /// appeals and complaints. Staff: everything but users and settings,
    /// which are the admins'.
    pub(crate) fn allowed(self, role: Role) -> bool {
        match self {
            Section::Overview
            | Section::Conversations
            | Section::Appeals
            | Section::Complaints
            | Section::Customers
            | Section::Feedback
            | Section::Handover => true,
            Section::Mystery => true,
            Section::Review | Section::Agents | Section::Packs => role != Role::Agent,
            Section::Admin => role == Role::Admin,
        }
    }
}

/// A link of the navigation.
#[derive(Debug, Clone)]
pub(crate) struct NavItem {
    /// Label.
    pub label: String,
    /// Target.
    pub href: &'static str,
    /// Whether it is the current section.
    pub current: bool,
}

/// A link of the language switch.
#[derive(Debug, Clone)]
pub(crate) struct LangLink {
    /// Label (the language's own name).
    pub label: String,
    /// `/lang/xx?next=…`.
    pub href: String,
    /// Whether it is the current language.
    pub current: bool,
    /// `zh` or `en`.
    pub code: &'static str,
}

/// What the layout (`base.html`) needs on every page.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    /// The language.
    pub lang: Lang,
    /// Its labels.
    pub m: &'static Messages,
    /// The page title.
    pub title: String,
    /// Navigation visible to the user (empty when signed out).
    pub nav: Vec<NavItem>,
    /// Language switch.
    pub langs: Vec<LangLink>,
    /// Whether someone is signed in.
    pub signed_in: bool,
    /// Signed-in user's name.
    pub user_name: String,
    /// Signed-in user's role, as a label.
    pub user_role: String,
    /// CSRF token for forms (empty when signed out).
    pub csrf: String,
    /// Stylesheet URL (versioned).
    pub css: String,
    /// Script URL (versioned).
    pub js: String,
    /// Favicon URL (versioned).
    pub icon: String,
    /// A confirmation to show (after a successful POST), already a label.
    pub notice: Option<String>,
    /// The signed-in user's unread notifications (the header's badge).
    pub unread: i64,
}

impl Ctx {
    /// The context of a page.
    pub(crate) fn new(
        lang: Lang,
        user: Option<&WebUser>,
        uri: &str,
        section: Option<Section>,
        title_key: &str,
    ) -> Ctx {
        let m = lang.messages();
        let nav = match user {
            Some(u) => Section::ALL
                .iter()
                .filter(|s| s.allowed(u.role()))
                .map(|s| NavItem {
                    label: m.t(s.key()).to_string(),
                    href: s.href(),
                    current: Some(*s) == section,
                })
                .collect(),
            None => Vec::new(),
        };
        let back = strip_lang_param(uri);
        let langs = Lang::ALL
            .iter()
            .map(|l| LangLink {
                label: m
                    .t(match l {
                        Lang::Zh => msg("lang.zh"),
                        Lang::En => msg("lang.en"),
                    })
                    .to_string(),
                href: format!("/lang/{}?next={}", l.code(), encode(&back)),
                current: *l == lang,
                code: l.code(),
            })
            .collect();
        let notice = query_pairs(uri.split_once('?').map(|(_, q)| q))
            .iter()
            .find(|(k, _)| k == "done")
            .and_then(|(_, v)| m.try_get(&format!("notice.{v}")))
            .map(str::to_string);
        Ctx {
            lang,
            m,
            title: m.t(title_key).to_string(),
            nav,
            langs,
            signed_in: user.is_some(),
            user_name: user.map(|u| u.display_name.clone()).unwrap_or_default(),
            user_role: user
                .map(|u| m.t(&super::labels::role(u.role())).to_string())
                .unwrap_or_default(),
            csrf: user.map(WebUser::csrf).unwrap_or_default(),
            css: assets::url("app.css"),
            js: assets::url("app.js"),
            icon: assets::url("favicon.svg"),
            notice,
            unread: user.map_or(0, |u| u.unread),
        }
    }

    /// The label of `key`.
    pub(crate) fn t<'a>(&'a self, key: &'a str) -> &'a str {
        self.m.t(key)
    }

    /// The label of `key` with `{0}` filled in.
    pub(crate) fn t1(&self, key: &str, arg: impl std::fmt::Display) -> String {
        self.m.t1(key, arg)
    }

    /// The label of `key` with `{0}` and `{1}` filled in.
    pub(crate) fn t2(
        &self,
        key: &str,
        a: impl std::fmt::Display,
        b: impl std::fmt::Display,
    ) -> String {
        self.m.t2(key, a, b)
    }

    /// The label of a key built at run time (see `labels`); `fallback` when
    /// the catalogue has none (a value the dashboard does not know).
    pub(crate) fn label<'a>(&'a self, key: &str, fallback: &'a str) -> &'a str {
        self.m.try_get(key).unwrap_or(fallback)
    }

    /// Title shown in the browser tab.
    pub(crate) fn full_title(&self) -> String {
        format!("{} · {}", self.title, self.m.t("app.name"))
    }
}

/// `uri` without `lang=` and `done=` parameters (for the language switch).
fn strip_lang_param(uri: &str) -> String {
    let (path, query) = match uri.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (uri, None),
    };
    let pairs: Vec<(String, String)> = query_pairs(query)
        .into_iter()
        .filter(|(k, _)| k != "lang" && k != "done")
        .collect();
    format!(
        "{path}{}",
        query_string(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_must_stay_on_the_site() {
        assert_eq!(
            safe_next(Some("/conversations?page=2")),
            "/conversations?page=2"
        );
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; kefu_session=abc; lang=en"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(request_lang(&h, None), Lang::En);
        assert_eq!(request_lang(&h, Some("lang=zh")), Lang::Zh);
        assert_eq!(cookie(&h, "missing"), None);
    }

    #[test]
    fn csrf_tokens_depend_on_the_session() {
        assert_ne!(csrf_token("a"), csrf_token("b"));
        assert!(same(&csrf_token("a"), &csrf_token("a")));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
    }

    #[test]
    fn language_switch_drops_lang_and_done() {
        assert_eq!(
            strip_lang_param("/x?lang=en&page=2&done=saved"),
            "/x?page=2"
        );
        assert_eq!(strip_lang_param("/x"), "/x");
    }

    #[test]
    fn roles_see_their_sections() {
        let agent: Vec<_> = Section::ALL
            .iter()
            .filter(|s| s.allowed(Role::Agent))
            .collect();
        assert_eq!(
            agent.len(),
            8,
            "overview, conversations, appeals, complaints, customers, feedback, handover, mystery"
        );
        assert!(Section::ALL.iter().all(|s| s.allowed(Role::Admin)));
        assert!(!Section::Admin.allowed(Role::Supervisor));
    }
}

#[cfg(test)]
mod busy_tests {
    use super::*;

    /// A busy database is a 503 error page with `Retry-After`, not a 500.
    #[test]
    fn busy_store_is_a_503_page_with_retry_after() {
        let e: WebError = kefu_store::StoreError::Busy("held".into()).into();
        let response = e.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.headers()[axum::http::header::RETRY_AFTER],
            crate::error::BUSY_RETRY_AFTER_S.to_string().as_str()
        );
        let info = response.extensions().get::<ErrorInfo>().expect("page info");
        assert_eq!(info.key, "error.busy");
    }
}
