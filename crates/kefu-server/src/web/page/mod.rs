//! What every page handler works with, one concern a file:
//!
//! - `extract` — the [`Page`] extractor (signed-in user, language, URL) and
//!   the `WebUser` extractor;
//! - `user` — the signed-in `WebUser`, looked up from the session cookie,
//!   and the checks handlers make on it;
//! - `layout` — the layout context [`Ctx`] of every template (navigation,
//!   language switch, CSRF token, asset URLs, notices);
//! - `nav` — the dashboard's [`Section`]s and which roles may use them;
//! - `csrf` — the session-derived CSRF token and [`CsrfForm`], the
//!   extractor of every state-changing form;
//! - `form` — the fields of a submitted form ([`FormData`]);
//! - `error` — [`WebError`], answered as an error page, and the one mapping
//!   of `kefu_service::Error` onto it;
//! - `render` — [`render`], [`render_status`], [`see_other`];
//! - `cookies` — reading and setting cookies;
//! - `query` — query strings, percent-encoding, safe redirect targets, the
//!   request's language.
//!
//! Handlers import from `page` (`use super::page::{Ctx, Page, …}`); the
//! files are private and re-exported here.

mod cookies;
mod csrf;
mod error;
mod extract;
mod form;
mod layout;
mod nav;
mod query;
mod render;
mod user;

pub(crate) use cookies::{cookie, is_https, set_cookie, SESSION_COOKIE};
pub(crate) use csrf::{same, CsrfForm, CSRF_FIELD};
pub(crate) use error::{ErrorInfo, WebError};
pub(crate) use extract::{parse_period, Page};
pub(crate) use form::FormData;
pub(crate) use layout::Ctx;
pub(crate) use nav::Section;
pub(crate) use query::{encode, query_pairs, query_string, request_lang, safe_next};
pub(crate) use render::{render, render_status, see_other, PageResult};
pub(crate) use user::session_user;
