//! A small OTLP/HTTP trace collector on 127.0.0.1 for the trace tests: it
//! accepts `POST /v1/traces` in protobuf or JSON, as the host's exporter
//! sends them, and keeps every span it received.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message as _;

/// One span as the collector received it; ids are lowercase hex.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    pub name: String,
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a root span.
    pub parent_span_id: String,
    /// 1 internal, 2 server, 3 client.
    pub kind: i32,
    pub attributes: BTreeMap<String, String>,
    /// The names (messages) of its events.
    pub events: Vec<String>,
    /// 0 unset, 1 ok, 2 error.
    pub status_code: i32,
    /// The attributes of the resource that sent it.
    pub resource: BTreeMap<String, String>,
}

impl ReceivedSpan {
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

/// A running collector.
pub struct Collector {
    pub addr: SocketAddr,
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
    /// The content types of the requests received.
    content_types: Arc<Mutex<Vec<String>>>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn text(value: Option<&opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(AnyValue::StringValue(s)) => s.clone(),
        Some(AnyValue::IntValue(i)) => i.to_string(),
        Some(AnyValue::BoolValue(b)) => b.to_string(),
        Some(AnyValue::DoubleValue(d)) => d.to_string(),
        other => format!("{other:?}"),
    }
}

fn flatten(request: &ExportTraceServiceRequest) -> Vec<ReceivedSpan> {
    let mut out = Vec::new();
    for resource_spans in &request.resource_spans {
        let resource: BTreeMap<String, String> = resource_spans
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .map(|kv| (kv.key.clone(), text(kv.value.as_ref())))
            .collect();
        for scope in &resource_spans.scope_spans {
            for span in &scope.spans {
                out.push(ReceivedSpan {
                    name: span.name.clone(),
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    kind: span.kind,
                    attributes: span
                        .attributes
                        .iter()
                        .map(|kv| (kv.key.clone(), text(kv.value.as_ref())))
                        .collect(),
                    events: span.events.iter().map(|e| e.name.clone()).collect(),
                    status_code: span.status.as_ref().map_or(0, |s| s.code),
                    resource: resource.clone(),
                });
            }
        }
    }
    out
}

impl Collector {
    pub async fn start() -> Self {
        let spans: Arc<Mutex<Vec<ReceivedSpan>>> = Arc::default();
        let content_types: Arc<Mutex<Vec<String>>> = Arc::default();
        let (kept, types) = (spans.clone(), content_types.clone());
        let app = axum::Router::new().route(
            "/v1/traces",
            post(move |headers: HeaderMap, body: Bytes| {
                let (kept, types) = (kept.clone(), types.clone());
                async move {
                    let content_type = headers
                        .get(header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    let json = content_type.starts_with("application/json");
                    types.lock().unwrap().push(content_type);
                    let request = if json {
                        serde_json::from_slice::<ExportTraceServiceRequest>(&body).ok()
                    } else {
                        ExportTraceServiceRequest::decode(body.as_ref()).ok()
                    };
                    let Some(request) = request else {
                        return (StatusCode::BAD_REQUEST, HeaderMap::new(), Vec::new());
                    };
                    kept.lock().unwrap().extend(flatten(&request));
                    let response = ExportTraceServiceResponse {
                        partial_success: None,
                    };
                    let mut out = HeaderMap::new();
                    if json {
                        out.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
                        (StatusCode::OK, out, serde_json::to_vec(&response).unwrap())
                    } else {
                        out.insert(
                            header::CONTENT_TYPE,
                            "application/x-protobuf".parse().unwrap(),
                        );
                        (StatusCode::OK, out, response.encode_to_vec())
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            addr,
            spans,
            content_types,
        }
    }

    /// `http://127.0.0.1:<port>`, for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().unwrap().clone()
    }

    pub fn content_types(&self) -> Vec<String> {
        self.content_types.lock().unwrap().clone()
    }

    /// The spans of trace `trace_id`, once every name in `names` is among
    /// them (waiting at most `limit`); panics naming what is missing.
    pub async fn trace(
        &self,
        trace_id: &str,
        names: &[&str],
        limit: Duration,
    ) -> Vec<ReceivedSpan> {
        let start = Instant::now();
        loop {
            let spans: Vec<ReceivedSpan> = self
                .spans()
                .into_iter()
                .filter(|s| s.trace_id == trace_id)
                .collect();
            let missing: Vec<&&str> = names
                .iter()
                .filter(|n| !spans.iter().any(|s| s.name == **n))
                .collect();
            if missing.is_empty() {
                return spans;
            }
            assert!(
                start.elapsed() < limit,
                "spans {missing:?} of trace {trace_id} never arrived; received: {:#?}",
                self.spans()
                    .iter()
                    .map(|s| (&s.name, &s.trace_id))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The span named `name` in `spans`.
pub fn named<'a>(spans: &'a [ReceivedSpan], name: &str) -> &'a ReceivedSpan {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name} in {spans:#?}"))
}
