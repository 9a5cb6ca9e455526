//! Turning a page into a response: [`PageResult`], rendering a template
//! (with or without another status) and the redirect after a POST.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::error::WebError;

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
