//! The API's one error shape: `{"error":{"code":…,"message":…}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// An error answered to a client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed or invalid.
    #[error("{0}")]
    BadRequest(String),
    /// No or bad credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// No such resource (or not visible to the caller).
    #[error("{0}")]
    NotFound(String),
    /// A concurrent change or a duplicate.
    #[error("{0}")]
    Conflict(String),
    /// The request is well-formed but breaks a rule of the domain.
    #[error("{0}")]
    Unprocessable(String),
    /// The request body is larger than the server accepts.
    #[error("{0}")]
    TooLarge(String),
    /// Something failed on our side; details go to the log, not the client.
    #[error("internal error")]
    Internal(String),
    /// The database is busy with other writers: 503 with `Retry-After`.
    #[error("the server is busy; try again shortly")]
    Busy(String),
    /// Too many failed sign-ins: 429 with `Retry-After` (seconds).
    #[error("too many failed sign-ins; try again in {0} s")]
    TooManyRequests(u64),
}

/// Seconds a client is asked to wait after a 503 for a busy database.
pub(crate) const BUSY_RETRY_AFTER_S: u32 = 1;

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            ApiError::Busy(_) => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            ApiError::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let retry_after = match &self {
            ApiError::Busy(_) => Some(u64::from(BUSY_RETRY_AFTER_S)),
            ApiError::TooManyRequests(s) => Some(*s),
            _ => None,
        };
        let message = match &self {
            ApiError::Internal(detail) => {
                tracing::error!(error = %detail, "request failed");
                "internal error; see the server log".to_string()
            }
            ApiError::Busy(detail) => {
                tracing::warn!(error = %detail, "database busy: answered 503");
                self.to_string()
            }
            other => other.to_string(),
        };
        let mut response = (
            status,
            Json(json!({"error": {"code": code, "message": message}})),
        )
            .into_response();
        if let Some(s) = retry_after {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(s),
            );
        }
        response
    }
}

/// The one mapping of the services' error kinds to the API's statuses.
impl From<kefu_service::Error> for ApiError {
    fn from(e: kefu_service::Error) -> ApiError {
        use kefu_service::Error;
        match e {
            Error::Invalid(m) => ApiError::Unprocessable(m),
            Error::Forbidden(m) => ApiError::Forbidden(m),
            Error::NotFound(m) => ApiError::NotFound(m),
            Error::Conflict(m) => ApiError::Conflict(m),
            Error::Internal(m) => ApiError::Internal(m),
            Error::Busy(m) => ApiError::Busy(m),
        }
    }
}

/// Store errors reach the API as the service error they are.
impl From<kefu_store::StoreError> for ApiError {
    fn from(e: kefu_store::StoreError) -> ApiError {
        kefu_service::Error::from(e).into()
    }
}

/// Turns axum's body/query rejections (and serde errors) into the one
/// error shape, in the API's own words: axum's wording of the failing step
/// ("Failed to deserialize the JSON body into the target type") and
/// serde's source positions are dropped; what was wrong stays.
pub(crate) fn rejection(e: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(client_message(&e.to_string()))
}

/// The client's half of a rejection message.
fn client_message(raw: &str) -> String {
    const PREFIXES: &[(&str, &str)] = &[
        (
            "Failed to deserialize the JSON body into the target type: ",
            "invalid request body: ",
        ),
        (
            "Failed to parse the request body as JSON: ",
            "the request body is not valid JSON: ",
        ),
        ("Failed to deserialize query string: ", "invalid query: "),
        (
            "Failed to buffer the request body: ",
            "the request body could not be read: ",
        ),
    ];
    let (lead, rest) = PREFIXES
        .iter()
        .find_map(|(p, lead)| raw.strip_prefix(p).map(|rest| (*lead, rest)))
        .unwrap_or(("", raw));
    // serde_json ends with ` at line 1 column 42`; the field path before it
    // says enough.
    let rest = match rest.rfind(" at line ") {
        Some(at) if rest[at..].contains(" column ") => &rest[..at],
        _ => rest,
    };
    format!("{lead}{rest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A busy database is 503 with `Retry-After` and the `busy` code —
    /// something a client may retry — never a 500.
    #[test]
    fn busy_store_is_503_with_retry_after() {
        let e: ApiError = kefu_store::StoreError::Busy("held".into()).into();
        let response = e.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.headers()[axum::http::header::RETRY_AFTER],
            BUSY_RETRY_AFTER_S.to_string().as_str()
        );
        let e: ApiError = kefu_store::StoreError::Conflict("taken".into()).into();
        assert!(e.into_response().headers().get("retry-after").is_none());
    }
}

#[cfg(test)]
mod message_tests {
    use super::client_message;

    #[test]
    fn axum_and_serde_internals_are_left_out() {
        assert_eq!(
            client_message(
                "Failed to deserialize the JSON body into the target type: missing field `category` at line 1 column 20"
            ),
            "invalid request body: missing field `category`"
        );
        assert_eq!(
            client_message("Failed to parse the request body as JSON: EOF while parsing an object at line 1 column 1"),
            "the request body is not valid JSON: EOF while parsing an object"
        );
        assert_eq!(client_message("plain"), "plain");
    }
}
