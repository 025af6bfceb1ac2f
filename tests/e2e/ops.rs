//! The operations endpoints beside `/mcp`: health, readiness and metrics
//! that count what the clients' calls did.

use std::sync::Arc;
use std::time::Duration;

use rmcp::ServiceExt as _;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

/// `GET path` on the host serving `mcp_url`: the status line and the body.
pub(crate) async fn get(mcp_url: &str, path: &str) -> (String, String) {
    let authority = mcp_url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    let mut stream = tokio::net::TcpStream::connect(authority).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("the host answers")
        .unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.lines().next().unwrap_or_default().to_string();
    (status, body.to_string())
}

/// The value of the sample `series` (name and labels, exactly) in `text`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn health_readiness_and_metrics_count_the_calls() {
    let dir = PluginDir::with(&["hello"], &["spin"]);
    dir.set_manifest(
        "spin",
        "name = \"spin\"\nversion = \"0.1.0\"\n[limits]\ntimeout-ms = 200\n",
    );
    // The example added below is two files; a quiet period well beyond
    // their copying keeps a stalled machine from reloading between them.
    let options = HostOptions::new(Era::Handshake, Transport::Http)
        .arg("--reload-quiet-ms")
        .arg("500");
    let host = Connected::start(&dir, options).await.unwrap();
    let url = host.url.clone().unwrap();
    assert_eq!(
        get(&url, "/healthz").await,
        ("HTTP/1.1 200 OK".into(), "ok\n".into())
    );
    assert_eq!(
        get(&url, "/readyz").await,
        ("HTTP/1.1 200 OK".into(), "ready\n".into())
    );

    for n in 0..3 {
        host.call_ok("add", json!({"a": n, "b": 1})).await;
    }
    let spin = host.call("spin", empty_args()).await.unwrap();
    assert_eq!(spin.is_error, Some(true));
    // Arguments that fail the schema never reach the plugin: not a call.
    assert!(host.call("add", json!({"a": "one"})).await.is_err());

    let (status, text) = get(&url, "/metrics").await;
    assert_eq!(status, "HTTP/1.1 200 OK", "{text}");
    let add = "plugin=\"hello\",tool=\"add\"";
    for (series, value) in [
        (format!("mcp_wasm_host_tool_calls_total{{{add}}}"), 3.0),
        (
            format!("mcp_wasm_host_tool_errors_total{{{add},kind=\"host\"}}"),
            0.0,
        ),
        (
            format!("mcp_wasm_host_tool_call_duration_seconds_count{{{add}}}"),
            3.0,
        ),
        (
            "mcp_wasm_host_tool_calls_total{plugin=\"spin\",tool=\"spin\"}".into(),
            1.0,
        ),
        (
            "mcp_wasm_host_tool_errors_total{plugin=\"spin\",tool=\"spin\",kind=\"host\"}".into(),
            1.0,
        ),
        (
            "mcp_wasm_host_plugin_limit_hits_total{plugin=\"spin\",limit=\"deadline\"}".into(),
            1.0,
        ),
        // The Rust SDK's allocator serves a call from the initial memory.
        (
            "mcp_wasm_host_plugin_memory_grows_total{plugin=\"hello\"}".into(),
            0.0,
        ),
        ("mcp_wasm_host_sessions_active".into(), 1.0),
        ("mcp_wasm_host_parked_calls".into(), 0.0),
        // The MCP semantic conventions' histogram, by method and tool; the
        // failed and refused calls apart, by error type.
        (
            "mcp_server_operation_duration_seconds_count{mcp_method_name=\"tools/call\",\
             gen_ai_tool_name=\"add\",network_transport=\"tcp\",mcp_protocol_version=\"2025-11-25\"}"
                .into(),
            3.0,
        ),
        (
            "mcp_server_operation_duration_seconds_count{mcp_method_name=\"tools/call\",\
             gen_ai_tool_name=\"spin\",network_transport=\"tcp\",mcp_protocol_version=\"2025-11-25\",\
             error_type=\"tool_error\"}"
                .into(),
            1.0,
        ),
        (
            "mcp_server_operation_duration_seconds_count{mcp_method_name=\"tools/call\",\
             gen_ai_tool_name=\"add\",network_transport=\"tcp\",mcp_protocol_version=\"2025-11-25\",\
             error_type=\"-32602\"}"
                .into(),
            1.0,
        ),
        ("mcp_wasm_host_plugins_loaded".into(), 2.0),
        ("mcp_wasm_host_catalog_generation".into(), 1.0),
    ] {
        assert_eq!(sample(&text, &series), Some(value), "{series} in:\n{text}");
    }
    // Every sandbox instantiated was timed: one per call, and one per
    // plugin to read its descriptors.
    let instantiated = sample(&text, "mcp_wasm_host_instantiate_duration_seconds_count").unwrap();
    assert!(instantiated >= 4.0, "{text}");
    // What the build and the process are.
    let build = text
        .lines()
        .find(|l| l.starts_with("mcp_wasm_host_build_info{"))
        .unwrap_or_else(|| panic!("no build_info in:\n{text}"));
    for label in [
        "version=\"0.1.0\"",
        "wasmtime_version=\"48.",
        "rmcp_version=\"3.9.",
    ] {
        assert!(build.contains(label), "{build}");
    }
    assert!(build.ends_with(" 1"), "{build}");
    for process in [
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "process_threads",
    ] {
        assert!(
            sample(&text, process).is_some_and(|v| v > 0.0),
            "{process} in:\n{text}"
        );
    }

    // Sessions open now, by protocol version; a session that ends is timed.
    let open = "mcp_wasm_host_sessions_open{mcp_protocol_version=\"2025-11-25\",\
                network_transport=\"tcp\"}";
    assert_eq!(sample(&text, open), Some(1.0), "{text}");
    let second = ().serve(http_client_transport(url.clone())).await.unwrap();
    second.cancel().await.unwrap();
    let session = "mcp_server_session_duration_seconds_count{mcp_protocol_version=\"2025-11-25\",\
                   network_transport=\"tcp\"}";
    let start = std::time::Instant::now();
    while sample(&get(&url, "/metrics").await.1, session).is_none() {
        assert!(start.elapsed() < Duration::from_secs(10), "no {session}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(sample(&get(&url, "/metrics").await.1, open), Some(1.0));

    // A reload is counted, and so is the new generation.
    dir.add_example("texttools");
    wait_until(&host.received, "tools/list_changed", |r| {
        r.tool_list_changes >= 1
    })
    .await;
    let (_, text) = get(&url, "/metrics").await;
    assert_eq!(
        sample(&text, "mcp_wasm_host_reloads_total"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "mcp_wasm_host_catalog_generation"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "mcp_wasm_host_plugins_loaded"),
        Some(3.0),
        "{text}"
    );
    host.shutdown().await;
}

type PendingCall = tokio::task::JoinHandle<Result<rmcp::model::CallToolResult, rmcp::ServiceError>>;

/// An HTTP host (started with `args`) running one call that waits for the
/// client's answer; the client answers once the returned gate opens.
async fn host_with_a_call_waiting_for_the_client(
    args: &[&str],
) -> (Connected, Arc<tokio::sync::Semaphore>, PendingCall) {
    let dir = PluginDir::with(&[], &["facade"]);
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let script = ClientScript {
        gate: Some(gate.clone()),
        ..ClientScript::capable([accept(json!({"name": "Ada"}))])
    };
    let mut options = HostOptions::new(Era::Handshake, Transport::Http).script(script);
    for arg in args {
        options = options.arg(*arg);
    }
    let host = Connected::start(&dir, options).await.unwrap();
    let call = {
        let client = host.client.peer().clone();
        tokio::spawn(async move { client.call_tool(params("elicit_name", json!({}))).await })
    };
    wait_until(&host.received, "the elicitation", |r| {
        !r.elicitations.is_empty()
    })
    .await;
    (host, gate, call)
}

#[cfg(unix)]
#[tokio::test]
async fn shutdown_lets_the_calls_running_finish_within_the_grace_period() {
    let (mut host, gate, call) = host_with_a_call_waiting_for_the_client(&[]).await;
    let url = host.url.clone().unwrap();
    host.signal("TERM");
    host.stderr
        .wait_for(
            "waiting for the calls running to finish",
            Duration::from_secs(20),
        )
        .await
        .unwrap();
    // Draining: not ready, and new calls are refused with the reason.
    assert_eq!(
        get(&url, "/readyz").await.0,
        "HTTP/1.1 503 Service Unavailable"
    );
    let refused = host.call("elicit_name", json!({})).await.unwrap_err();
    assert!(refused.to_string().contains("shutting down"), "{refused}");
    // The call waiting for the client still completes.
    gate.add_permits(1);
    let result = tokio::time::timeout(Duration::from_secs(20), call)
        .await
        .expect("the call finishes")
        .unwrap()
        .unwrap();
    assert_eq!(text_of(&result), "hello Ada");
    let status = host.exited(Duration::from_secs(20)).await;
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    let text = host.stderr.text();
    assert!(!text.contains("after the shutdown grace period"), "{text}");
}

#[cfg(unix)]
#[tokio::test]
async fn shutdown_stops_waiting_after_the_grace_period() {
    let (mut host, _gate, call) =
        host_with_a_call_waiting_for_the_client(&["--shutdown-grace-ms", "300"]).await;
    host.signal("TERM");
    // The client never answers: the host gives up on the call and stops.
    let status = host.exited(Duration::from_secs(20)).await;
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    let text = host.stderr.text();
    assert!(
        text.contains("after the shutdown grace period of 300 ms"),
        "{text}"
    );
    call.abort();
}

#[tokio::test]
async fn a_configuration_file_sets_what_flags_and_environment_leave() {
    let dir = PluginDir::with(&["hello"], &[]);
    let config = PluginDir::empty();
    config.write(
        "config.toml",
        "log-format = \"json\"\nno-watch = true\npage-size = 1\n",
    );
    let host = Connected::start(
        &dir,
        HostOptions::new(Era::Handshake, Transport::Http)
            .arg("--config")
            .arg(config.path.join("config.toml").to_str().unwrap())
            // The command line wins over the file.
            .arg("--page-size")
            .arg("50"),
    )
    .await
    .unwrap();
    let page = host.client.list_tools(Default::default()).await.unwrap();
    assert_eq!(page.tools.len(), 3, "a page of 50 holds every tool");
    let text = host
        .stderr
        .wait_for("ready", Duration::from_secs(20))
        .await
        .unwrap();
    let ready: serde_json::Value = text
        .lines()
        .find(|l| l.contains("\"ready\""))
        .map(|l| serde_json::from_str(l).expect("a JSON log line"))
        .unwrap();
    assert_eq!(ready["level"], "INFO", "{ready}");
    assert_eq!(ready["fields"]["message"], "ready", "{ready}");
    assert!(!text.contains("watching the plugin directory"), "{text}");
    host.shutdown().await;

    config.write("bad.toml", "page-size = 10\nshoe-size = 44\n");
    let refused = serve_refuses([
        "--plugins",
        dir.path.to_str().unwrap(),
        "--config",
        config.path.join("bad.toml").to_str().unwrap(),
    ]);
    assert!(refused.contains("unknown setting `shoe-size`"), "{refused}");
}

/// The audit events on `stderr` (JSON log lines at the `audit` target).
fn audit_events(stderr: &str) -> Vec<serde_json::Value> {
    stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|event| event["target"] == "audit")
        .map(|event| event["fields"].clone())
        .collect()
}

#[tokio::test]
async fn every_tool_call_leaves_one_audit_line_without_its_arguments() {
    let dir = PluginDir::with(&["hello"], &["crash"]);
    let options = HostOptions::new(Era::Handshake, Transport::Stdio)
        .arg("--log-format")
        .arg("json");
    let host = Connected::start(&dir, options).await.unwrap();
    let secret_argument = "an argument the log must not keep";
    host.call_ok("echo", json!({"text": secret_argument})).await;
    host.call_err("panic", empty_args()).await;
    host.stderr
        .wait_until_count("\"target\":\"audit\"", 2, Duration::from_secs(10))
        .await;
    let text = host.stderr.text();
    let events = audit_events(&text);
    let [echo, panic] = events.as_slice() else {
        panic!("two audit events were expected: {events:?}\n{text}");
    };
    assert_eq!(
        (&echo["plugin"], &echo["tool"], &echo["outcome"]),
        (&json!("hello"), &json!("echo"), &json!("ok"))
    );
    assert_eq!(
        (&panic["plugin"], &panic["tool"], &panic["outcome"]),
        (&json!("crash"), &json!("panic"), &json!("trap"))
    );
    for event in [echo, panic] {
        assert!(event["fuel"].as_u64().unwrap() > 0, "{event}");
        assert!(event["peak_memory_bytes"].as_u64().unwrap() > 0, "{event}");
        assert!(event["duration_ms"].as_f64().unwrap() >= 0.0, "{event}");
        assert_eq!(event["principal"], "-", "{event}");
        assert!(event["session"].is_string(), "{event}");
        assert_eq!(event["message"], "tool call", "{event}");
    }
    let audit_lines: Vec<&str> = text.lines().filter(|l| l.contains("\"audit\"")).collect();
    assert!(
        audit_lines.iter().all(|l| !l.contains(secret_argument)),
        "{audit_lines:?}"
    );
    host.shutdown().await;
}
