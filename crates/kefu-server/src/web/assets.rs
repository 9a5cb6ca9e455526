//! The dashboard's static files — stylesheet, script, icon — compiled into
//! the binary and served under `/assets/…`. Pages link them with a
//! `?v=<content hash>` so they can be cached for a year: a new build
//! changes the hash and so the URL.

use std::sync::LazyLock;

use axum::extract::{Path, Request};
use axum::http::header::{self, HeaderValue};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const FILES: &[Asset] = &[
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/app.css"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/app.js"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("../../assets/favicon.svg"),
    },
];

/// Content hashes (first 12 hex digits of SHA-256), in `FILES` order.
static HASHES: LazyLock<Vec<String>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|f| {
            Sha256::digest(f.bytes)
                .iter()
                .take(6)
                .map(|b| format!("{b:02x}"))
                .collect()
        })
        .collect()
});

fn find(name: &str) -> Option<(usize, &'static Asset)> {
    FILES.iter().enumerate().find(|(_, f)| f.name == name)
}

/// The versioned URL of asset `name` (`/assets/app.css?v=…`).
pub(crate) fn url(name: &str) -> String {
    match find(name) {
        Some((i, f)) => format!("/assets/{}?v={}", f.name, HASHES[i]),
        None => format!("/assets/{name}"),
    }
}

/// `GET /assets/{name}`: the file, cacheable for a year (the URL changes
/// with the content), with an `ETag` for revalidation. An unknown name is a
/// bare 404: assets sit below the page layer, which links to them.
pub(crate) async fn serve(Path(name): Path<String>, req: Request) -> Response {
    let Some((i, file)) = find(&name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!("\"{}\"", HASHES[i]);
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(file.content_type),
            )],
            file.bytes,
        )
            .into_response()
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    response
}

/// `GET /favicon.ico`: browsers ask for it whatever the page says.
pub(crate) async fn favicon() -> Response {
    axum::response::Redirect::permanent(&url("favicon.svg")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_versioned_url() {
        for f in FILES {
            assert!(!f.bytes.is_empty(), "{} is empty", f.name);
            let u = url(f.name);
            assert!(u.starts_with(&format!("/assets/{}?v=", f.name)), "{u}");
            assert_eq!(u.len(), "/assets/".len() + f.name.len() + 3 + 12);
        }
    }

    #[test]
    fn assets_name_no_network_resources() {
        for f in FILES {
            let text = String::from_utf8_lossy(f.bytes);
            for bad in ["http://", "https://", "@import", "url("] {
                // The SVG namespace is the one URL allowed.
                let allowed = bad == "http://"
                    && text.matches(bad).count() == text.matches("http://www.w3.org/").count();
                assert!(!text.contains(bad) || allowed, "{} mentions {bad}", f.name);
            }
        }
    }
}
