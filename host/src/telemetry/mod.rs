//! Traces: whether and where the host exports them (the standard `OTEL_*`
//! variables), the tracer provider and its bounded export queue, the
//! `tracing` layer that turns the host's spans into OpenTelemetry spans,
//! the spans themselves ([`spans`]: one per MCP message, after the MCP
//! semantic conventions, and the sandbox's children) and W3C context
//! propagation ([`propagation`]).
//!
//! Tracing is off unless an OTLP endpoint is set; off, no span is built
//! (the span callsites are disabled). Exporting runs on its own thread and
//! never makes a call wait: spans that do not fit the queue, or that the
//! collector refuses, are dropped and counted ([`export::stats`]).
//!
//! The log goes to stderr the same way: written by a thread of its own from
//! a bounded queue, so a client that never reads stderr cannot stall the
//! host ([`log_sink`]).

mod export;
pub mod log_sink;
pub mod plugin_spans;
pub mod propagation;
pub mod spans;

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{Key, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider};
use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

pub use export::{ExportStats, stats};

/// The target of every span the host exports (and of nothing else): the
/// log filter leaves these spans out of the log.
pub const TRACE_TARGET: &str = "mcp_wasm_host::trace";

/// The service name when neither `OTEL_SERVICE_NAME` nor
/// `OTEL_RESOURCE_ATTRIBUTES` names one.
const SERVICE_NAME: &str = "mcp-wasm-host";

/// How long shutting down may take to send the last spans.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the trace settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("{variable}={value:?} is not one of {expected}")]
    Invalid {
        variable: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("cannot build the OTLP trace exporter: {0}")]
    Exporter(String),
}

/// How spans travel to the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceProtocol {
    HttpProtobuf,
    HttpJson,
    Grpc,
}

/// Where and how traces go, from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceSettings {
    pub protocol: TraceProtocol,
    /// At most this many finished spans wait for export.
    pub queue_capacity: usize,
}

/// The spans that may wait for export unless `OTEL_BSP_MAX_QUEUE_SIZE`
/// says otherwise.
const DEFAULT_QUEUE_CAPACITY: usize = 2048;

impl TraceSettings {
    /// The settings `env` gives, `None` when tracing is off: no
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`,
    /// `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`. The
    /// endpoint, headers, timeout, service name, resource attributes and
    /// sampler are read by the OpenTelemetry SDK itself.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, TelemetryError> {
        let var = |name: &str| {
            env(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        if var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Ok(None);
        }
        match var("OTEL_TRACES_EXPORTER").map(|v| v.to_ascii_lowercase()) {
            None => {}
            Some(v) if v == "otlp" => {}
            Some(v) if v == "none" => return Ok(None),
            Some(value) => {
                return Err(TelemetryError::Invalid {
                    variable: "OTEL_TRACES_EXPORTER",
                    value,
                    expected: "otlp, none",
                });
            }
        }
        if var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_none()
            && var("OTEL_EXPORTER_OTLP_ENDPOINT").is_none()
        {
            return Ok(None);
        }
        let mut protocol = TraceProtocol::HttpProtobuf;
        for variable in [
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ] {
            let Some(value) = var(variable) else { continue };
            protocol = match value.to_ascii_lowercase().as_str() {
                "http/protobuf" => TraceProtocol::HttpProtobuf,
                "http/json" => TraceProtocol::HttpJson,
                "grpc" => TraceProtocol::Grpc,
                _ => {
                    return Err(TelemetryError::Invalid {
                        variable,
                        value,
                        expected: "http/protobuf, http/json, grpc",
                    });
                }
            };
            break;
        }
        let queue_capacity = match var("OTEL_BSP_MAX_QUEUE_SIZE") {
            None => DEFAULT_QUEUE_CAPACITY,
            Some(value) => match value.parse::<usize>() {
                Ok(n) if n > 0 => n,
                _ => {
                    return Err(TelemetryError::Invalid {
                        variable: "OTEL_BSP_MAX_QUEUE_SIZE",
                        value,
                        expected: "a positive number of spans",
                    });
                }
            },
        };
        Ok(Some(Self {
            protocol,
            queue_capacity,
        }))
    }
}

/// The running trace pipeline.
#[derive(Debug)]
pub struct Tracing {
    provider: SdkTracerProvider,
}

impl Tracing {
    /// Start exporting as `settings` say. A gRPC exporter needs a tokio
    /// runtime: call this inside one.
    pub fn start(settings: &TraceSettings) -> Result<Self, TelemetryError> {
        // The host's HTTP client carries no TLS provider of its own; the
        // exporter's client needs the process default.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let exporter = match settings.protocol {
            TraceProtocol::HttpProtobuf => opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .build(),
            TraceProtocol::HttpJson => opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpJson)
                .build(),
            TraceProtocol::Grpc => opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .build(),
        }
        .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
        let processor = BatchSpanProcessor::builder(export::CountingExporter { inner: exporter })
            .with_batch_config(
                // The other OTEL_BSP_* variables are read here.
                BatchConfigBuilder::default()
                    .with_max_queue_size(settings.queue_capacity)
                    .build(),
            )
            .build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(export::BoundedProcessor {
                inner: processor,
                capacity: settings.queue_capacity,
            })
            .with_resource(resource())
            .build();
        Ok(Self { provider })
    }

    /// The layer that turns the host's trace spans (and the events inside
    /// them) into OpenTelemetry spans.
    pub fn layer<S>(&self) -> impl Layer<S> + use<S>
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
    {
        tracing_opentelemetry::layer()
            .with_tracer(self.provider.tracer("mcp-wasm-host"))
            .with_location(false)
            .with_threads(false)
            .with_target(false)
            .with_tracked_inactivity(false)
            .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
                if meta.is_span() {
                    meta.target() == TRACE_TARGET
                } else {
                    // Events become events of the span they happen in.
                    *meta.level() <= tracing::Level::INFO
                }
            }))
    }

    /// Send what is still queued and stop. Blocking work, run off the async
    /// threads (a gRPC exporter needs them to make progress).
    pub async fn shutdown(self) {
        let provider = self.provider;
        let flushed =
            tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(FLUSH_TIMEOUT))
                .await;
        if let Ok(Err(error)) = flushed {
            tracing::warn!(%error, "the last trace spans may not have been sent");
        }
    }
}

/// The resource the spans describe: what the SDK reads from
/// `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`, named
/// `mcp-wasm-host` when they do not name it, with the host's version.
fn resource() -> Resource {
    let detected = Resource::builder().build();
    let unnamed = detected
        .get(&Key::new("service.name"))
        .is_none_or(|name| name.as_str().starts_with("unknown_service"));
    let mut resource = Resource::builder();
    if unnamed {
        resource = resource.with_service_name(SERVICE_NAME);
    }
    resource
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Option<TraceSettings>, TelemetryError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        TraceSettings::from_env(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn tracing_is_off_without_an_endpoint() {
        assert_eq!(settings(&[]).unwrap(), None);
        assert_eq!(
            settings(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")]).unwrap(),
            None
        );
        assert_eq!(
            settings(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]).unwrap(),
            None
        );
    }

    #[test]
    fn an_endpoint_turns_tracing_on_with_http_protobuf() {
        for endpoint in [
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        ] {
            let on = settings(&[(endpoint, "http://127.0.0.1:4318")])
                .unwrap()
                .expect("on");
            assert_eq!(on.protocol, TraceProtocol::HttpProtobuf);
            assert_eq!(on.queue_capacity, DEFAULT_QUEUE_CAPACITY);
        }
    }

    #[test]
    fn the_traces_protocol_wins_over_the_general_one() {
        let on = settings(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "GRPC"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(on.protocol, TraceProtocol::Grpc);
    }

    #[test]
    fn the_off_switches_win_over_an_endpoint() {
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318");
        assert_eq!(
            settings(&[endpoint, ("OTEL_SDK_DISABLED", "TRUE")]).unwrap(),
            None
        );
        assert_eq!(
            settings(&[endpoint, ("OTEL_TRACES_EXPORTER", "none")]).unwrap(),
            None
        );
    }

    #[test]
    fn a_bad_setting_is_an_error_naming_its_variable() {
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318");
        for (bad, variable) in [
            (
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http"),
                "OTEL_EXPORTER_OTLP_PROTOCOL",
            ),
            (("OTEL_TRACES_EXPORTER", "zipkin"), "OTEL_TRACES_EXPORTER"),
            (("OTEL_BSP_MAX_QUEUE_SIZE", "0"), "OTEL_BSP_MAX_QUEUE_SIZE"),
            (
                ("OTEL_BSP_MAX_QUEUE_SIZE", "lots"),
                "OTEL_BSP_MAX_QUEUE_SIZE",
            ),
        ] {
            let error = settings(&[endpoint, bad]).unwrap_err().to_string();
            assert!(error.contains(variable), "{error}");
        }
    }
}
