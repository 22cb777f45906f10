//! `/healthz`, `/readyz` and `/metrics` for probes and Prometheus.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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

/// Binds `addr` now (so a taken port fails start-up) and serves until the process ends.
pub async fn serve(addr: SocketAddr, health: Arc<Health>) -> Result<SocketAddr, String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(health);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the HTTP endpoint stopped");
        }
    });
    Ok(local)
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
