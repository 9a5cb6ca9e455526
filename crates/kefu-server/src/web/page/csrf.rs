//! CSRF protection: the token derived from the session, a comparison in
//! constant time, and [`CsrfForm`], the extractor every state-changing
//! form goes through.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use sha2::{Digest, Sha256};

use super::cookies::{cookie, SESSION_COOKIE};
use super::error::WebError;
use super::form::FormData;
use crate::AppState;

/// Name of the form field that carries the CSRF token.
pub(crate) const CSRF_FIELD: &str = "_csrf";

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_depend_on_the_session() {
        assert_ne!(csrf_token("a"), csrf_token("b"));
        assert!(same(&csrf_token("a"), &csrf_token("a")));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
    }
}
