//! The extractors of page handlers: [`Page`] (the signed-in user, the
//! language, the URL and its query) and [`WebUser`] alone. Not signed in,
//! both redirect to `/login?next=…`. Also [`parse_period`], the one reading
//! of a period typed in a query parameter.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use kefu_service::period::{Period, PeriodError};

use super::error::WebError;
use super::layout::Ctx;
use super::nav::Section;
use super::query::{query_pairs, request_lang};
use super::user::{session_user, WebUser};
use crate::web::i18n::Lang;
use crate::AppState;

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

/// A report period typed in a query parameter (`2026-10`, `2026-Q4`,
/// `2026-W40`, `2026-10-01..2026-10-07` …). Malformed text is the request's
/// fault, a 400 page — the dashboard twin of the API's
/// `params::parse_period`; service calls fail with `kefu_service::Error`.
pub(crate) fn parse_period(text: &str) -> Result<Period, WebError> {
    text.parse()
        .map_err(|e: PeriodError| WebError::BadRequest(e.to_string()))
}
