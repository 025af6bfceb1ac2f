//! W3C trace context in and out: the caller's `traceparent`/`tracestate`
//! from a request's `params._meta` (the MCP convention) or from its HTTP
//! headers, and the current call's context into the headers of an outbound
//! request. A context that does not parse is ignored, never an error.

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use serde_json::{Map, Value};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// `params._meta`, read as a carrier of trace context. Its keys are
/// unprefixed (`traceparent`, `tracestate`), an exception the MCP
/// specification makes for them.
struct MetaCarrier<M>(M);

impl Injector for MetaCarrier<Map<String, Value>> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), Value::String(value));
    }
}

impl Extractor for MetaCarrier<&Map<String, Value>> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

fn valid(context: Context) -> Option<Context> {
    context.span().span_context().is_valid().then_some(context)
}

/// The caller's context in a request's `_meta`, if it carries a valid one.
pub fn from_meta(meta: &Map<String, Value>) -> Option<Context> {
    valid(TraceContextPropagator::new().extract(&MetaCarrier(meta)))
}

/// The caller's context in HTTP request headers, if they carry a valid one.
pub fn from_headers(headers: &http::HeaderMap) -> Option<Context> {
    valid(TraceContextPropagator::new().extract(&opentelemetry_http::HeaderExtractor(headers)))
}

/// Make `span` continue the caller's trace: its parent is the context in
/// `_meta`, else the one in the HTTP headers; when both are there the HTTP
/// one becomes a link (one HTTP request is not one MCP message). Must run
/// before `span` is first entered.
pub fn continue_trace(span: &tracing::Span, meta: Option<Context>, http: Option<Context>) {
    match (meta, http) {
        (Some(meta), http) => {
            let _ = span.set_parent(meta);
            if let Some(http) = http {
                span.add_link(http.span().span_context().clone());
            }
        }
        (None, Some(http)) => {
            let _ = span.set_parent(http);
        }
        (None, None) => {}
    }
}

/// Write `span`'s context into `headers` as `traceparent`/`tracestate`,
/// replacing what was there. Nothing is written for a span that is not
/// traced.
pub fn inject(span: &tracing::Span, headers: &mut http::HeaderMap) {
    if span.is_disabled() {
        return;
    }
    let context = span.context();
    if !context.span().span_context().is_valid() {
        return;
    }
    TraceContextPropagator::new()
        .inject_context(&context, &mut opentelemetry_http::HeaderInjector(headers));
}

/// `span`'s context as the `_meta` keys of an MCP request the host sends
/// (`traceparent`, `tracestate`), if it is traced.
pub fn meta_of(span: &tracing::Span) -> Option<Map<String, Value>> {
    if span.is_disabled() {
        return None;
    }
    let context = span.context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut meta = MetaCarrier(Map::new());
    TraceContextPropagator::new().inject_context(&context, &mut meta);
    Some(meta.0)
}

/// The trace `span` belongs to, as 32 lowercase hex digits, if it is traced.
pub fn trace_id(span: &tracing::Span) -> Option<String> {
    if span.is_disabled() {
        return None;
    }
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn meta_with_a_traceparent_gives_the_callers_context() {
        let meta: Map<String, Value> =
            serde_json::from_value(serde_json::json!({ "traceparent": PARENT })).unwrap();
        let context = from_meta(&meta).expect("a valid context");
        let span = context.span();
        let span_context = span.span_context();
        assert_eq!(
            span_context.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(span_context.span_id().to_string(), "00f067aa0ba902b7");
        assert!(span_context.is_remote());
    }

    #[test]
    fn a_malformed_or_absent_traceparent_gives_nothing() {
        for value in [
            serde_json::json!({}),
            serde_json::json!({ "traceparent": "00-xyz-00f067aa0ba902b7-01" }),
            serde_json::json!({ "traceparent": "00-00000000000000000000000000000000-00f067aa0ba902b7-01" }),
            serde_json::json!({ "traceparent": 7 }),
        ] {
            let meta: Map<String, Value> = serde_json::from_value(value.clone()).unwrap();
            assert!(from_meta(&meta).is_none(), "{value}");
        }
    }

    #[test]
    fn headers_with_a_traceparent_give_the_callers_context() {
        let mut headers = http::HeaderMap::new();
        headers.insert("traceparent", PARENT.parse().unwrap());
        assert!(from_headers(&headers).is_some());
        assert!(from_headers(&http::HeaderMap::new()).is_none());
    }

    #[test]
    fn an_untraced_span_injects_nothing() {
        let mut headers = http::HeaderMap::new();
        inject(&tracing::Span::none(), &mut headers);
        assert!(headers.is_empty());
        assert_eq!(meta_of(&tracing::Span::none()), None);
        assert_eq!(trace_id(&tracing::Span::none()), None);
    }
}
