//! The metrics of the OpenTelemetry MCP semantic conventions, as Prometheus
//! histograms in seconds: `mcp_server_operation_duration_seconds` (each
//! request and notification, by method, its tool or prompt, protocol
//! version, transport and error type) and
//! `mcp_server_session_duration_seconds` (each handshake-era session).

use std::time::Duration;

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// The conventions' bucket boundaries, in seconds.
const BUCKETS: [f64; 14] = [
    0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// Labels of one series: only those that apply are present.
pub type Labels = Vec<(&'static str, String)>;

fn histograms() -> Family<Labels, Histogram> {
    Family::new_with_constructor(|| Histogram::new(BUCKETS))
}

/// The MCP histograms of one host.
#[derive(Debug)]
pub struct McpMetrics {
    operations: Family<Labels, Histogram>,
    sessions: Family<Labels, Histogram>,
    /// Handshake-era sessions open now, by protocol version and transport.
    open_sessions: Family<Labels, Gauge>,
}

impl Default for McpMetrics {
    fn default() -> Self {
        Self {
            operations: histograms(),
            sessions: histograms(),
            open_sessions: Family::default(),
        }
    }
}

impl McpMetrics {
    /// One request or notification handled in `elapsed`.
    pub fn operation(&self, labels: Labels, elapsed: Duration) {
        self.operations
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// A session with `labels` began.
    pub fn session_opened(&self, labels: &Labels) {
        self.open_sessions.get_or_create(labels).inc();
    }

    /// A session with `labels`, open since `elapsed` ago, ended.
    pub fn session_closed(&self, labels: Labels, elapsed: Duration) {
        self.open_sessions.get_or_create(&labels).dec();
        self.sessions
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    pub(super) fn register(&self, registry: &mut Registry) {
        registry.register_with_unit(
            "mcp_server_operation_duration",
            "MCP request or notification duration as observed on the server",
            Unit::Seconds,
            self.operations.clone(),
        );
        registry.register_with_unit(
            "mcp_server_session_duration",
            "MCP session duration as observed on the server",
            Unit::Seconds,
            self.sessions.clone(),
        );
        registry.register(
            "mcp_wasm_host_sessions_open",
            "Handshake-era sessions open now, by protocol version and transport",
            self.open_sessions.clone(),
        );
    }
}
