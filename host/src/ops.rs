//! Operations endpoints served beside `/mcp` on the HTTP listener:
//! `/healthz` (the process is up and answering), `/readyz` (it takes new
//! work: the catalog is loaded and it is not shutting down) and `/metrics`
//! (the [`Metrics`] in the Prometheus text format).

use std::sync::Arc;

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio_util::sync::CancellationToken;

use crate::metrics::{Gauges, Metrics};

/// What the endpoints read.
pub struct OpsState {
    pub metrics: Arc<Metrics>,
    /// The point-in-time values (sessions, catalog size) at the moment of
    /// a scrape.
    pub gauges: Box<dyn Fn() -> Gauges + Send + Sync>,
    /// Cancelled once the host begins shutting down.
    pub shutdown: CancellationToken,
}

/// The routes `/healthz`, `/readyz` and `/metrics`.
pub fn router(state: Arc<OpsState>) -> axum::Router {
    let ready = state.clone();
    let metrics = state;
    axum::Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(move || async move {
                if ready.shutdown.is_cancelled() {
                    (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
                } else {
                    (StatusCode::OK, "ready\n")
                }
            }),
        )
        .route(
            "/metrics",
            get(move || async move {
                let text = metrics.metrics.render(&(metrics.gauges)());
                (
                    [(
                        header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    text,
                )
                    .into_response()
            }),
        )
}
