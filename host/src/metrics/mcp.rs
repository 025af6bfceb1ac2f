//! The metrics of the OpenTelemetry MCP semantic conventions, as Prometheus
//! histograms in seconds: `mcp_server_operation_duration_seconds` (each
//! request and notification, by method, its tool or prompt, protocol
//! version, transport and error type) and
//! `mcp_server_session_duration_seconds` (each handshake-era session).

use std::time::Duration;

use prometheus_client::metrics::family::Family;
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
}

impl Default for McpMetrics {
    fn default() -> Self {
        Self {
            operations: histograms(),
            sessions: histograms(),
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

    /// One session that lasted `elapsed`.
    pub fn session(&self, labels: Labels, elapsed: Duration) {
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
    }
}
