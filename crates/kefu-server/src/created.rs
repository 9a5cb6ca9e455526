//! The API's answer to a create request: `201 Created` with a `Location`
//! header naming the new resource, or `200 OK` when nothing was created
//! (an idempotent repeat).

use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;

/// `201` + `Location` (when known) if `created`, else `200`.
pub(crate) fn respond(created: bool, location: Option<String>, body: Json<Value>) -> Response {
    if !created {
        return (StatusCode::OK, body).into_response();
    }
    let mut response = (StatusCode::CREATED, body).into_response();
    // Locations are built from percent-encoded ids, so they are always
    // valid header values; a failure would only drop the header.
    if let Some(value) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}
