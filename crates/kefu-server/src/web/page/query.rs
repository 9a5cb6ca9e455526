//! URLs and query strings: parameters in and out, percent-encoding, safe
//! redirect targets, and the language a request asks for.

use axum::http::header::HeaderMap;

use super::cookies::cookie;
use crate::web::i18n::{Lang, LANG_COOKIE};

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

#[cfg(test)]
mod tests {
    use axum::http::header::{self, HeaderValue};

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
    fn language_comes_from_the_query_then_the_cookie() {
        let h = HeaderMap::from_iter([(header::COOKIE, HeaderValue::from_static("lang=en"))]);
        assert_eq!(request_lang(&h, None), Lang::En);
        assert_eq!(request_lang(&h, Some("lang=zh")), Lang::Zh);
        assert_eq!(request_lang(&HeaderMap::new(), None), Lang::Zh);
    }
}
