//! What kefu believes about the client: its address and whether it used
//! HTTPS. Both come from the connection unless kefu is told it runs behind
//! a reverse proxy (`kefu serve --trust-proxy`); only then are the proxy's
//! `X-Forwarded-For` and `X-Forwarded-Proto` headers believed. Without that
//! option any client could send them: claim HTTPS, or a fresh address for
//! every guessed password.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;

static TRUST_PROXY: AtomicBool = AtomicBool::new(false);

/// Whether to believe `X-Forwarded-*` headers (set once at start; off by
/// default).
pub fn set_trust_proxy(on: bool) {
    TRUST_PROXY.store(on, Ordering::Relaxed);
}

/// Whether `X-Forwarded-*` headers are believed.
pub fn trust_proxy() -> bool {
    TRUST_PROXY.load(Ordering::Relaxed)
}

/// Whether the client reached kefu over HTTPS: only a trusted proxy can say
/// so (kefu itself serves plain HTTP).
pub fn is_https(headers: &HeaderMap) -> bool {
    trust_proxy()
        && headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// The client's address: from a trusted proxy, the last `X-Forwarded-For`
/// entry (the one the proxy added; earlier ones the client may have
/// forged); otherwise the peer of the connection.
pub fn client_addr(headers: &HeaderMap, peer: Option<SocketAddr>) -> Option<String> {
    if trust_proxy() {
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .rfind(|v| !v.is_empty());
        if let Some(f) = forwarded {
            return Some(f.to_string());
        }
    }
    peer.map(|p| p.ip().to_string())
}

/// Extractor: the client's address ([`client_addr`]), if known.
#[derive(Debug, Clone)]
pub struct ClientAddr(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        Ok(ClientAddr(client_addr(&parts.headers, peer)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One test for both settings: the flag is process-wide.
    #[test]
    fn forwarded_headers_count_only_from_a_trusted_proxy() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        h.append("x-forwarded-for", "6.6.6.6, 10.0.0.9".parse().unwrap());
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        set_trust_proxy(false);
        assert!(!is_https(&h), "a client cannot claim HTTPS");
        assert_eq!(client_addr(&h, Some(peer)).as_deref(), Some("127.0.0.1"));
        set_trust_proxy(true);
        assert!(is_https(&h));
        assert_eq!(client_addr(&h, Some(peer)).as_deref(), Some("10.0.0.9"));
        assert_eq!(
            client_addr(&HeaderMap::new(), Some(peer)).as_deref(),
            Some("127.0.0.1")
        );
        set_trust_proxy(false);
    }
}
