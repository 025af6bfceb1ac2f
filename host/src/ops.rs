//! Operations endpoints served beside `/mcp` on the HTTP listener:
//! `/healthz` (the process is up and answering), `/readyz` (it takes new
//! work: the catalog is loaded and it is not shutting down) and `/metrics`
//! (the [`Metrics`] in the Prometheus text format). With an auth file,
//! `/metrics` on the MCP listener needs the bearer token of a principal
//! whose role sets `metrics = true`; a separate operations listener
//! (`--ops-http`) serves all three without a token, for scrapers on a
//! private network.

use std::sync::Arc;

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio_util::sync::CancellationToken;

use crate::auth::SharedAuthenticator;
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

/// Who may read `/metrics` on a router.
#[derive(Clone)]
pub enum MetricsAccess {
    Open,
    /// A principal of the auth file whose role allows it.
    Token(SharedAuthenticator),
}

/// The routes `/healthz`, `/readyz` and `/metrics`.
pub fn router(state: Arc<OpsState>, access: MetricsAccess) -> axum::Router {
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
            get(move |headers: axum::http::HeaderMap| async move {
                if let MetricsAccess::Token(auth) = &access {
                    let header = headers
                        .get(header::AUTHORIZATION)
                        .and_then(|v| v.to_str().ok());
                    match auth.load().verify(header) {
                        Ok(p) if p.may_read_metrics() => {}
                        Ok(_) => {
                            return (
                                StatusCode::FORBIDDEN,
                                "this principal's roles do not allow reading /metrics\n",
                            )
                                .into_response();
                        }
                        Err(failure) => {
                            return (
                                StatusCode::UNAUTHORIZED,
                                [(header::WWW_AUTHENTICATE, "Bearer realm=\"mcp-wasm-host\"")],
                                format!("{failure}\n"),
                            )
                                .into_response();
                        }
                    }
                }
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
