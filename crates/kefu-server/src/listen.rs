//! Accepting connections with limits, so that idle or slow clients cannot
//! exhaust the server (issue 17).
//!
//! - A connection cap: at most [`Limits::max_connections`] connections are
//!   open; beyond that, new ones wait in the kernel's accept queue instead
//!   of running the process out of file descriptors.
//! - A header-read timeout: a client that does not send a complete request
//!   head within [`Limits::header_read_timeout`] is disconnected. Hyper runs
//!   this timer whenever the connection waits for a request head, so it is
//!   also the idle timeout of keep-alive connections between requests.
//! - A body deadline: a body not received within [`Limits::body_timeout`]
//!   answers 408 (see `body_timeout`).
//! - Handlers are bounded by the router's request timeout; bodies by the
//!   per-route body limits (see `router`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tower::Service;

/// Connection limits of [`crate::serve_with_limits`].
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// Longest wait for a complete request head, idle keep-alive time
    /// included.
    pub header_read_timeout: Duration,
    /// Longest wait for a whole request body, from the request head on;
    /// then `408` (shorter than the 120 s handler timeout).
    pub body_timeout: Duration,
}

impl Default for Limits {
    /// 4096 connections (well below common file-descriptor limits once the
    /// database pool and files are counted), 10 s for a request head and
    /// 30 s for a body.
    fn default() -> Self {
        Limits {
            max_connections: 4096,
            header_read_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
        }
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes,
/// then lets open connections finish their requests.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(max));
    let (closing_tx, closing_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors or a connection reset before
                    // accept: wait a little rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        // The peer address reaches handlers as `ConnectInfo` (login
        // throttling per client address).
        let app = app.clone();
        let service = hyper::service::service_fn(
            move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                // A router is always ready, so `call` needs no `poll_ready`.
                app.clone().call(request)
            },
        );
        let mut closing = closing_rx.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .keep_alive(true);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended");
                    }
                }
                () = async {
                    // The guard `wait_for` returns is not Send: drop it here.
                    let _ = closing.wait_for(|c| *c).await.map(|_| ());
                } => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    let _ = closing_tx.send(true);
    // Every slot back means every connection closed.
    let _ = slots.acquire_many(max as u32).await;
    Ok(())
}
