//! `/healthz`, `/readyz` and `/metrics` for probes and Prometheus; and the listener the
//! reviewer page (`crate::web`) is served on too.
//!
//! The listener must not be a way to stop the work: a client that opens connections and
//! sends nothing (slowloris) could otherwise take every file descriptor, and the control loop
//! could no longer open the manifests. So a connection must send its request headers within
//! a timeout (also the most a kept-alive connection waits idle), lives at most a while, and
//! only so many are open at once: those over the cap are closed as soon as accepted.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use super::metrics::Metrics;
use crate::directory::http::request_counts;

/// What the endpoints report, shared with the control loop.
#[derive(Debug, Default)]
pub struct Health {
    /// The first full reconcile is done.
    pub synced: AtomicBool,
    /// Every directory the last passes needed answered.
    pub directories_ok: AtomicBool,
    pub metrics: Metrics,
}

impl Health {
    pub fn ready(&self) -> bool {
        self.synced.load(Ordering::SeqCst) && self.directories_ok.load(Ordering::SeqCst)
    }
}

/// What one client may hold of the listener.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The time to send a request's headers, and the longest a kept-alive connection idles.
    pub header_timeout: Duration,
    /// Open connections at most. A probe or a scrape needs one; the default (64) leaves the
    /// process's other descriptors (at least 1024 less these) to the work.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_timeout: Duration::from_secs(10),
            max_connections: 64,
        }
    }
}

/// The longest one connection is kept, however busy: it is then closed after its response.
const MAX_LIFETIME: Duration = Duration::from_secs(120);

/// The address cannot be listened on (taken, or not this host's).
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {source}")]
pub struct ListenError {
    addr: SocketAddr,
    source: std::io::Error,
}

/// Binds `addr` now (so a taken port fails start-up) and serves until the process ends.
pub async fn serve(
    addr: SocketAddr,
    health: Arc<Health>,
    limits: Limits,
) -> Result<SocketAddr, ListenError> {
    let (listener, local) = bind(addr).await?;
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(health);
    tokio::spawn(accept_loop(listener, app, limits));
    Ok(local)
}

/// Binds `addr` now, so that a taken port fails start-up; returns the address bound (the
/// port, when `addr` asked for any).
pub(crate) async fn bind(
    addr: SocketAddr,
) -> Result<(tokio::net::TcpListener, SocketAddr), ListenError> {
    let failed = |source| ListenError { addr, source };
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(failed)?;
    let local = listener.local_addr().map_err(failed)?;
    Ok((listener, local))
}

/// Serves `app` on `listener` under `limits` until the process ends: the reviewer page is
/// held to the same header timeout, connection lifetime and connection cap as the probes.
pub(crate) async fn accept_loop(listener: tokio::net::TcpListener, app: Router, limits: Limits) {
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors, most likely: accepting again at once would spin.
                tracing::warn!(error = %e, "the HTTP endpoint cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!(
                max = limits.max_connections,
                "an HTTP connection over the limit was closed"
            );
            drop(stream);
            continue;
        };
        let app = app.clone();
        tokio::spawn(async move {
            let service = hyper_util::service::TowerToHyperService::new(app);
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(limits.header_timeout);
            let connection =
                builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = tokio::time::sleep(MAX_LIFETIME) => {
                    connection.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(limits.header_timeout, connection).await;
                }
            }
            drop(slot);
        });
    }
}

async fn readyz(State(health): State<Arc<Health>>) -> impl IntoResponse {
    if !health.synced.load(Ordering::SeqCst) {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the first full reconcile has not finished\n",
        )
    } else if !health.directories_ok.load(Ordering::SeqCst) {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: a directory could not be read (see the reviews' status)\n",
        )
    } else {
        (StatusCode::OK, "ok\n")
    }
}

async fn metrics(State(health): State<Arc<Health>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        health.metrics.render(&request_counts()),
    )
}
