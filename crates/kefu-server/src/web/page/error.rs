//! The dashboard's errors: [`WebError`], answered as an HTML error page
//! in the request's language ([`ErrorInfo`] is what the web middleware
//! renders), and the one mapping of `kefu_service::Error` onto it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::query::encode;
use crate::web::i18n::msg;

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

#[cfg(test)]
mod tests {
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
