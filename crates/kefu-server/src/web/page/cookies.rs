//! Cookies: reading one from a request, writing a `Set-Cookie` value, and
//! whether the request came over HTTPS (for the `Secure` flag). The
//! session cookie's name lives here.

use axum::http::header::{self, HeaderMap, HeaderValue};

/// Name of the session cookie.
pub(crate) const SESSION_COOKIE: &str = "kefu_session";

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; kefu_session=abc; lang=en"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "missing"), None);
    }
}
