//! Traces over OTLP: a tool call continues the caller's trace (from
//! `params._meta`, or the HTTP headers) through the host, into the sandbox
//! (the guest's run, the spans the plugin opens, its facade calls) and on
//! to the services the plugin calls; spans are flushed when stdin closes;
//! and a collector that cannot be reached costs a call nothing but a
//! counter.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use axum::routing::get;
use rmcp::model::RequestParamsMeta as _;
use serde_json::json;

use super::collector::{Collector, named};
use super::support::*;

/// A service on 127.0.0.1 that answers `ok` and keeps the `traceparent`
/// of every request.
async fn start_origin() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let kept = seen.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/page",
        get(move |headers: HeaderMap| {
            let kept = kept.clone();
            async move {
                let traceparent = headers
                    .get("traceparent")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("none")
                    .to_string();
                kept.lock().unwrap().push(traceparent);
                "ok"
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, seen)
}

/// A host serving the `traced` fixture with `http` to `origin`, exporting
/// to `collector` every 50 ms.
async fn traced_host(
    era: Era,
    transport: Transport,
    collector: &Collector,
    origin: SocketAddr,
) -> (Connected, PluginDir) {
    let dir = PluginDir::with(&[], &["traced"]);
    let policy = format!(
        "[[rule]]\nplugins = \"traced\"\ngrant = [\"http\"]\nhttp-allow = [\"http://127.0.0.1:{}\"]\n",
        origin.port()
    );
    let options = HostOptions::new(era, transport)
        .policy(&dir, &policy)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.endpoint())
        .env("OTEL_BSP_SCHEDULE_DELAY", "50");
    let host = Connected::start(&dir, options).await.unwrap();
    (host, dir)
}

/// A trace id of 32 hex digits, different for each `n`.
fn trace_id(n: u32) -> String {
    format!("4bf92f3577b34da6a3ce929d{n:08x}")
}

const CALLER_SPAN: &str = "00f067aa0ba902b7";

#[tokio::test]
async fn a_tool_call_continues_the_callers_trace_through_the_sandbox_to_the_services_it_calls() {
    let collector = Collector::start().await;
    let (origin, seen) = start_origin().await;
    let mut n = 0;
    for (era, transport) in ALL_COMBINATIONS {
        eprintln!("--- {era:?} over {transport:?}");
        n += 1;
        let trace = trace_id(n);
        let (host, _dir) = traced_host(era, transport, &collector, origin).await;
        let url = format!("http://{origin}/page");
        let mut request = params("traced", json!({ "url": url }));
        request.set_traceparent(&format!("00-{trace}-{CALLER_SPAN}-01"));
        let result = host.client.call_tool(request).await.unwrap();
        assert_eq!(
            text_of(&result),
            format!("trace={trace} status=200"),
            "the plugin sees the caller's trace id"
        );

        let spans = collector
            .trace(
                &trace,
                &[
                    "tools/call traced",
                    "guest traced",
                    "instantiate",
                    "fixture.step",
                    "fixture.inner",
                    "http.send",
                    "fixture.left-open",
                ],
                Duration::from_secs(20),
            )
            .await;
        let server = named(&spans, "tools/call traced");
        assert_eq!(
            server.parent_span_id, CALLER_SPAN,
            "the caller's span is the parent"
        );
        assert_eq!(server.kind, 2, "a server span");
        assert_eq!(server.attribute("mcp.method.name"), Some("tools/call"));
        assert_eq!(server.attribute("gen_ai.tool.name"), Some("traced"));
        assert_eq!(
            server.attribute("gen_ai.operation.name"),
            Some("execute_tool")
        );
        assert!(
            server.attribute("jsonrpc.request.id").is_some(),
            "{server:?}"
        );
        let version = match era {
            Era::Handshake => "2025-11-25",
            Era::Modern => "2026-07-28",
        };
        assert_eq!(server.attribute("mcp.protocol.version"), Some(version));
        let network = match transport {
            Transport::Stdio => "pipe",
            Transport::Http => "tcp",
        };
        assert_eq!(server.attribute("network.transport"), Some(network));
        if era == Era::Handshake {
            assert!(server.attribute("mcp.session.id").is_some(), "{server:?}");
        }
        assert_ne!(server.status_code, 2, "{server:?}");
        assert_eq!(
            server.resource.get("service.name").map(String::as_str),
            Some("mcp-wasm-host")
        );

        let guest = named(&spans, "guest traced");
        assert_eq!(guest.parent_span_id, server.span_id);
        assert_eq!(guest.attribute("mcp_wasm_host.outcome"), Some("ok"));
        let fuel: u64 = guest
            .attribute("mcp_wasm_host.fuel")
            .unwrap()
            .parse()
            .unwrap();
        assert!(fuel > 0, "{guest:?}");
        let peak: u64 = guest
            .attribute("mcp_wasm_host.memory.peak_bytes")
            .unwrap()
            .parse()
            .unwrap();
        assert!(peak > 0, "{guest:?}");
        assert_eq!(named(&spans, "instantiate").parent_span_id, guest.span_id);

        let step = named(&spans, "fixture.step");
        assert_eq!(
            step.parent_span_id, guest.span_id,
            "a plugin span is under its run"
        );
        assert_eq!(step.attribute("fixture.kind"), Some("outer"));
        assert!(
            step.events.iter().any(|e| e == "inside the step"),
            "the guest's log line is an event of its span: {step:?}"
        );
        let inner = named(&spans, "fixture.inner");
        assert_eq!(inner.parent_span_id, step.span_id, "plugin spans nest");
        let send = named(&spans, "http.send");
        assert_eq!(
            send.parent_span_id, inner.span_id,
            "facade calls go under the open span"
        );
        assert_eq!(
            named(&spans, "fixture.left-open").parent_span_id,
            guest.span_id
        );

        // The service the plugin called continues the same trace, under the
        // `http.send` span.
        let traceparent = seen.lock().unwrap().last().cloned().unwrap();
        assert_eq!(
            traceparent,
            format!("00-{trace}-{}-01", send.span_id),
            "the outbound request carried the trace"
        );
        // The audit line names the trace.
        host.stderr
            .wait_for(&format!("trace_id=\"{trace}\""), Duration::from_secs(5))
            .await
            .unwrap();
        host.shutdown().await;
    }
}

#[tokio::test]
async fn over_http_the_trace_headers_count_when_meta_has_none() {
    let collector = Collector::start().await;
    let (origin, _seen) = start_origin().await;
    let (host, _dir) = traced_host(Era::Handshake, Transport::Http, &collector, origin).await;
    let url = host.url.clone().unwrap();
    let trace = trace_id(0xabc);
    let session = open_raw_session(&url, json!({})).await;
    let headers = [
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    let traceparent = format!("00-{trace}-{CALLER_SPAN}-01");
    let mut with_trace = headers.to_vec();
    with_trace.push(("traceparent", traceparent.as_str()));
    let answer = post_mcp(
        &url,
        &with_trace,
        &json!({"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}),
    )
    .await;
    assert!(answer.body.contains("traced"), "{}", answer.body);
    let spans = collector
        .trace(&trace, &["tools/list"], Duration::from_secs(20))
        .await;
    assert_eq!(named(&spans, "tools/list").parent_span_id, CALLER_SPAN);

    // With a context in `_meta` too, `_meta` wins.
    let meta_trace = trace_id(0xdef);
    let meta_parent = format!("00-{meta_trace}-{CALLER_SPAN}-01");
    post_mcp(
        &url,
        &with_trace,
        &json!({"jsonrpc":"2.0","id":3,"method":"tools/list",
                "params":{"_meta":{"traceparent": meta_parent}}}),
    )
    .await;
    let spans = collector
        .trace(&meta_trace, &["tools/list"], Duration::from_secs(20))
        .await;
    assert_eq!(named(&spans, "tools/list").parent_span_id, CALLER_SPAN);
    host.shutdown().await;
}

#[tokio::test]
async fn protocol_errors_and_tool_errors_mark_their_spans_failed() {
    let collector = Collector::start().await;
    let (origin, _seen) = start_origin().await;
    let (host, _dir) = traced_host(Era::Handshake, Transport::Stdio, &collector, origin).await;
    let trace = trace_id(0x51);
    // Refused by the policy's origins: the tool reports an error.
    let mut refused = params("traced", json!({ "url": "http://127.0.0.1:9/page" }));
    refused.set_traceparent(&format!("00-{trace}-{CALLER_SPAN}-01"));
    let result = host.client.call_tool(refused).await.unwrap();
    assert_eq!(result.is_error, Some(true));
    // Unknown tool: a protocol error.
    let unknown_trace = trace_id(0x52);
    let mut unknown = params("no_such_tool", json!({}));
    unknown.set_traceparent(&format!("00-{unknown_trace}-{CALLER_SPAN}-01"));
    assert!(host.client.call_tool(unknown).await.is_err());

    let spans = collector
        .trace(
            &trace,
            &["tools/call traced", "guest traced"],
            Duration::from_secs(20),
        )
        .await;
    let server = named(&spans, "tools/call traced");
    assert_eq!(server.attribute("error.type"), Some("tool_error"));
    assert_eq!(server.status_code, 2);
    let guest = named(&spans, "guest traced");
    assert_eq!(guest.attribute("mcp_wasm_host.outcome"), Some("tool_error"));

    let spans = collector
        .trace(
            &unknown_trace,
            &["tools/call no_such_tool"],
            Duration::from_secs(20),
        )
        .await;
    let server = named(&spans, "tools/call no_such_tool");
    assert_eq!(server.attribute("error.type"), Some("-32602"));
    assert_eq!(server.attribute("rpc.response.status_code"), Some("-32602"));
    assert_eq!(server.status_code, 2);
    host.shutdown().await;
}

#[tokio::test]
async fn a_plugin_opens_at_most_its_share_of_spans_per_call() {
    let collector = Collector::start().await;
    let (origin, _seen) = start_origin().await;
    let (host, _dir) = traced_host(Era::Handshake, Transport::Stdio, &collector, origin).await;
    for _ in 0..2 {
        // Each call has its own share.
        let result = host.call_ok("many_spans", empty_args()).await;
        assert_eq!(text_of(&result), "granted=64");
    }
    host.shutdown().await;
}

#[tokio::test]
async fn spans_are_flushed_when_stdin_closes() {
    let collector = Collector::start().await;
    let (origin, _seen) = start_origin().await;
    let dir = PluginDir::with(&[], &["traced"]);
    let trace = trace_id(0xf1);
    let input = [
        json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
            "protocolVersion":"2025-11-25","capabilities":{},
            "clientInfo":{"name":"raw","version":"0"}}}),
        json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
        json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{
            "name":"many_spans","arguments":{},
            "_meta":{"traceparent": format!("00-{trace}-{CALLER_SPAN}-01")}}}),
    ]
    .iter()
    .map(|m| format!("{m}\n"))
    .collect::<String>();
    let _ = origin;
    let mut command = std::process::Command::new(host_binary());
    command
        .arg("serve")
        .arg("--plugins")
        .arg(&dir.path)
        .arg("--cache-dir")
        .arg(shared_cache_dir())
        .arg("--data-dir")
        .arg(dir.path.join("data"))
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint())
        // Far longer than the test: only the flush at exit sends them.
        .env("OTEL_BSP_SCHEDULE_DELAY", "600000");
    let output = tokio::task::spawn_blocking(move || output_fed(&mut command, input.as_bytes()))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("granted=64"), "{stdout}");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Everything had arrived by the time the host exited.
    let spans: Vec<_> = collector
        .spans()
        .into_iter()
        .filter(|s| s.trace_id == trace)
        .collect();
    for name in ["tools/call many_spans", "guest traced", "fixture.many"] {
        assert!(
            spans.iter().any(|s| s.name == name),
            "{name} was not flushed: {spans:#?}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert_eq!(
        spans.iter().filter(|s| s.name == "fixture.many").count(),
        64
    );
}

#[tokio::test]
async fn an_unreachable_collector_costs_a_call_nothing_but_a_counter() {
    // A port nothing listens on.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let (origin, _seen) = start_origin().await;
    let dir = PluginDir::with(&[], &["traced"]);
    let policy = format!(
        "[[rule]]\nplugins = \"traced\"\ngrant = [\"http\"]\nhttp-allow = [\"http://127.0.0.1:{}\"]\n",
        origin.port()
    );
    let options = HostOptions::new(Era::Handshake, Transport::Http)
        .policy(&dir, &policy)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &format!("http://{closed}"))
        .env("OTEL_BSP_SCHEDULE_DELAY", "50")
        .env("OTEL_EXPORTER_OTLP_TIMEOUT", "500");
    let host = Connected::start(&dir, options).await.unwrap();
    let url = format!("http://{origin}/page");
    for _ in 0..5 {
        let result = host.call_ok("traced", json!({ "url": url })).await;
        assert!(text_of(&result).ends_with("status=200"), "{result:?}");
    }
    let mcp_url = host.url.clone().unwrap();
    let start = std::time::Instant::now();
    loop {
        let text = raw_http(&mcp_url, "GET", "/metrics", &[], "").await.body;
        let dropped =
            metric_sample(&text, "mcp_wasm_host_trace_spans_dropped_total").unwrap_or(0.0);
        if dropped > 0.0 {
            assert_eq!(
                metric_sample(&text, "mcp_wasm_host_trace_spans_exported_total"),
                Some(0.0)
            );
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no dropped spans counted:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // One warning, however many spans go.
    for _ in 0..3 {
        host.call_ok("traced", json!({ "url": url })).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        host.stderr.text().matches("dropping trace spans").count(),
        1,
        "{}",
        host.stderr.text()
    );
    host.shutdown().await;
}

/// A host exporting to `collector` with `OTEL_EXPORTER_OTLP_PROTOCOL` set
/// to `protocol` delivers a call's spans, under the configured service
/// name, in requests whose content type starts with `content_type`.
async fn exports_over(collector: Collector, protocol: &str, content_type: &str, n: u32) {
    let dir = PluginDir::with(&[], &["traced"]);
    let options = HostOptions::new(Era::Handshake, Transport::Stdio)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.endpoint())
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        .env("OTEL_SERVICE_NAME", "tools-for-tests")
        .env("OTEL_BSP_SCHEDULE_DELAY", "50");
    let host = Connected::start(&dir, options).await.unwrap();
    let trace = trace_id(n);
    let mut request = params("many_spans", json!({}));
    request.set_traceparent(&format!("00-{trace}-{CALLER_SPAN}-01"));
    host.client.call_tool(request).await.unwrap();
    let spans = collector
        .trace(&trace, &["tools/call many_spans"], Duration::from_secs(20))
        .await;
    let server = named(&spans, "tools/call many_spans");
    assert_eq!(server.parent_span_id, CALLER_SPAN);
    assert_eq!(
        server.resource.get("service.name").map(String::as_str),
        Some("tools-for-tests")
    );
    let types = collector.content_types();
    assert!(
        !types.is_empty() && types.iter().all(|t| t.starts_with(content_type)),
        "{protocol}: {types:?}"
    );
    host.shutdown().await;
}

#[tokio::test]
async fn http_json_is_spoken_when_asked_for() {
    exports_over(
        Collector::start().await,
        "http/json",
        "application/json",
        0x15,
    )
    .await;
}

#[tokio::test]
async fn grpc_is_spoken_when_asked_for() {
    exports_over(
        Collector::start_grpc().await,
        "grpc",
        "application/grpc",
        0x16,
    )
    .await;
}

#[test]
fn a_bad_trace_setting_stops_the_host_naming_the_variable() {
    let dir = PluginDir::with(&[], &[]);
    let output = std::process::Command::new(host_binary())
        .arg("serve")
        .arg("--plugins")
        .arg(&dir.path)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("OTEL_EXPORTER_OTLP_PROTOCOL=\"thrift\""),
        "{stderr}"
    );
}

#[tokio::test]
async fn python_and_javascript_plugins_open_spans_in_the_callers_trace() {
    let collector = Collector::start().await;
    for (n, lang) in [(0x9e, "py"), (0x95, "js")] {
        let plugin = format!("parity-{lang}");
        let dir = PluginDir::with(&[], &[&plugin]);
        let options = HostOptions::new(Era::Handshake, Transport::Stdio)
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.endpoint())
            .env("OTEL_BSP_SCHEDULE_DELAY", "50");
        let host = Connected::start(&dir, options).await.unwrap();
        let trace = trace_id(n);
        let mut request = params("traced", json!({}));
        request.set_traceparent(&format!("00-{trace}-{CALLER_SPAN}-01"));
        let result = host.client.call_tool(request).await.unwrap();
        assert_eq!(text_of(&result), trace, "{lang}");
        let guest_name = format!("guest {plugin}");
        let spans = collector
            .trace(
                &trace,
                &[&guest_name, "parity.step"],
                Duration::from_secs(20),
            )
            .await;
        let step = named(&spans, "parity.step");
        assert_eq!(
            step.parent_span_id,
            named(&spans, &guest_name).span_id,
            "{lang}"
        );
        assert_eq!(step.attribute("lang"), Some(lang));
        assert!(
            step.events.iter().any(|e| e == "inside the step"),
            "{lang}: {step:?}"
        );
        host.shutdown().await;
    }
}

#[tokio::test]
async fn every_round_of_a_call_that_asks_the_client_stays_in_the_callers_trace() {
    let collector = Collector::start().await;
    let dir = PluginDir::with(&[], &["facade"]);
    let options = HostOptions::new(Era::Modern, Transport::Http)
        .script(ClientScript::capable([accept(json!({"name": "Ada"}))]))
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.endpoint())
        .env("OTEL_BSP_SCHEDULE_DELAY", "50");
    let host = Connected::start(&dir, options).await.unwrap();
    let trace = trace_id(0x2a);
    let mut request = params("elicit_name", json!({}));
    request.set_traceparent(&format!("00-{trace}-{CALLER_SPAN}-01"));
    let result = host.client.call_tool(request).await.unwrap();
    assert!(text_of(&result).contains("Ada"), "{result:?}");
    let spans = collector
        .trace(
            &trace,
            &[
                "tools/call elicit_name",
                "guest facade",
                "elicitation/create",
            ],
            Duration::from_secs(20),
        )
        .await;
    // One server span per round, each under the caller's span.
    let rounds: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "tools/call elicit_name")
        .collect();
    assert_eq!(rounds.len(), 2, "{spans:#?}");
    assert!(rounds.iter().all(|r| r.parent_span_id == CALLER_SPAN));
    // The guest ran once, under the round that started it, and its
    // question to the client is a client span under it.
    let guest = named(&spans, "guest facade");
    assert!(rounds.iter().any(|r| r.span_id == guest.parent_span_id));
    let asked = named(&spans, "elicitation/create");
    assert_eq!(asked.parent_span_id, guest.span_id);
    assert_eq!(asked.kind, 3, "a client span");
    host.shutdown().await;
}

#[tokio::test]
async fn a_request_the_host_sends_the_client_carries_the_calls_trace() {
    let collector = Collector::start().await;
    let dir = PluginDir::with(&[], &["facade"]);
    for traced in [true, false] {
        let mut options = HostOptions::new(Era::Handshake, Transport::Stdio)
            .script(ClientScript::capable([accept(json!({"name": "Ada"}))]));
        if traced {
            options = options
                .env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.endpoint())
                .env("OTEL_BSP_SCHEDULE_DELAY", "50");
        }
        let host = Connected::start(&dir, options).await.unwrap();
        let trace = trace_id(0x3b);
        let mut request = params("elicit_name", json!({}));
        request.set_traceparent(&format!("00-{trace}-{CALLER_SPAN}-01"));
        host.client.call_tool(request).await.unwrap();
        let seen = host
            .received
            .lock()
            .unwrap()
            .elicitation_traceparents
            .clone();
        if !traced {
            // Without tracing nothing is added to the client's request.
            assert_eq!(seen, vec![None]);
            host.shutdown().await;
            continue;
        }
        let spans = collector
            .trace(&trace, &["elicitation/create"], Duration::from_secs(20))
            .await;
        let asked = named(&spans, "elicitation/create");
        assert_eq!(
            seen,
            vec![Some(format!("00-{trace}-{}-01", asked.span_id))],
            "the client's request names the host's client span"
        );
        host.shutdown().await;
    }
}
