//! A small OTLP trace collector on 127.0.0.1 for the trace tests: it
//! accepts `POST /v1/traces` in protobuf or JSON, or the gRPC
//! `TraceService/Export` call over HTTP/2, as the host's exporter sends
//! them, and keeps every span it received.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use http_body_util::{BodyExt as _, StreamBody};
use hyper::body::Frame;
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

    /// A collector that speaks OTLP over gRPC: HTTP/2 without TLS, the
    /// unary `TraceService/Export` call with its length-prefixed messages
    /// and `grpc-status` trailer.
    pub async fn start_grpc() -> Self {
        let spans: Arc<Mutex<Vec<ReceivedSpan>>> = Arc::default();
        let content_types: Arc<Mutex<Vec<String>>> = Arc::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (kept, types) = (spans.clone(), content_types.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (kept, types) = (kept.clone(), types.clone());
                let service = hyper::service::service_fn(move |request| {
                    let (kept, types) = (kept.clone(), types.clone());
                    async move {
                        Ok::<_, std::convert::Infallible>(grpc_export(request, &kept, &types).await)
                    }
                });
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http2::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
                });
            }
        });
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

/// The export path of the OTLP trace service.
const GRPC_EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

type GrpcBody = http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>;

/// Answer one gRPC request: a well-formed export is kept and answered with
/// an empty response and `grpc-status: 0`; anything else gets the gRPC
/// status that says why.
async fn grpc_export(
    request: hyper::Request<hyper::body::Incoming>,
    kept: &Mutex<Vec<ReceivedSpan>>,
    types: &Mutex<Vec<String>>,
) -> hyper::Response<GrpcBody> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    types.lock().unwrap().push(content_type);
    if request.uri().path() != GRPC_EXPORT {
        return grpc_reply(None, 12); // UNIMPLEMENTED
    }
    let Ok(body) = request.into_body().collect().await else {
        return grpc_reply(None, 13); // INTERNAL
    };
    let body = body.to_bytes();
    // One message: a compression flag, a big-endian length, the message.
    let message = match body.as_ref() {
        [0, a, b, c, d, rest @ ..]
            if u32::from_be_bytes([*a, *b, *c, *d]) as usize == rest.len() =>
        {
            rest
        }
        _ => return grpc_reply(None, 3), // INVALID_ARGUMENT
    };
    let Ok(export) = ExportTraceServiceRequest::decode(message) else {
        return grpc_reply(None, 3);
    };
    kept.lock().unwrap().extend(flatten(&export));
    let response = ExportTraceServiceResponse {
        partial_success: None,
    }
    .encode_to_vec();
    grpc_reply(Some(response), 0)
}

fn grpc_reply(message: Option<Vec<u8>>, status: u32) -> hyper::Response<GrpcBody> {
    let mut frames: Vec<Result<Frame<Bytes>, std::convert::Infallible>> = Vec::new();
    if let Some(message) = message {
        let mut framed = vec![0u8];
        framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
        framed.extend_from_slice(&message);
        frames.push(Ok(Frame::data(Bytes::from(framed))));
    }
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", status.to_string().parse().unwrap());
    frames.push(Ok(Frame::trailers(trailers)));
    hyper::Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/grpc")
        .body(StreamBody::new(futures::stream::iter(frames)).boxed())
        .unwrap()
}
