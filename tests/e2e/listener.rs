//! The HTTP listener under abuse: clients that never finish their headers
//! or bodies, more connections than the cap, foreign `Origin` headers,
//! `/metrics` without the right token, a non-loopback address without
//! authentication, and a token revoked while the host runs; and a request
//! the host sends the client from a call that left its serving thread still
//! rides the call's own response stream.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

async fn http_host(dir: &PluginDir, extra: &[&str]) -> Connected {
    let mut options = HostOptions::new(Era::Handshake, Transport::Http);
    for arg in extra {
        options = options.arg(*arg);
    }
    Connected::start(dir, options).await.unwrap()
}

/// Whether the host closed `stream` (read returns end of file or an
/// error) within `limit`.
async fn closed_within(stream: &mut tokio::net::TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 512];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test]
async fn clients_that_never_finish_their_headers_are_disconnected() {
    let dir = PluginDir::with(&["hello"], &[]);
    let host = http_host(&dir, &["--http-header-timeout-ms", "400"]).await;
    let authority = authority_of(host.url.as_deref().unwrap()).to_string();
    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut stream = tokio::net::TcpStream::connect(&authority).await.unwrap();
        stream.write_all(b"POST /mcp HT").await.unwrap();
        slow.push(stream);
    }
    for stream in &mut slow {
        assert!(
            closed_within(stream, Duration::from_secs(5)).await,
            "a half-sent request kept its connection"
        );
    }
    // The host still serves.
    host.call_ok("add", json!({"a": 1, "b": 2})).await;
    host.shutdown().await;
}

#[tokio::test]
async fn a_body_that_never_arrives_is_answered_408() {
    let dir = PluginDir::with(&["hello"], &[]);
    let host = http_host(&dir, &["--http-body-timeout-ms", "300"]).await;
    let authority = authority_of(host.url.as_deref().unwrap()).to_string();
    let mut stream = tokio::net::TcpStream::connect(&authority).await.unwrap();
    stream
        .write_all(
            format!(
                "POST /mcp HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
                 Accept: application/json, text/event-stream\r\nContent-Length: 200\r\n\r\n{{\"jsonrpc\""
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response)).await;
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    host.shutdown().await;
}

#[tokio::test]
async fn connections_beyond_the_cap_are_turned_away() {
    let dir = PluginDir::with(&["hello"], &[]);
    // The client's own connection is one of the four.
    let host = http_host(&dir, &["--max-connections", "4"]).await;
    let url = host.url.clone().unwrap();
    host.call_ok("add", json!({"a": 1, "b": 2})).await;
    let authority = authority_of(&url).to_string();
    let mut held = Vec::new();
    let mut turned_away = 0;
    for _ in 0..8 {
        let mut stream = tokio::net::TcpStream::connect(&authority).await.unwrap();
        // A whole request on a connection kept alive: one taken in is
        // answered 200 and stays open, holding its place; one beyond the
        // cap is answered 503.
        let request = format!("GET /healthz HTTP/1.1\r\nHost: {authority}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("every connection is answered")
            .unwrap();
        let status = String::from_utf8_lossy(&buf[..n]).to_string();
        if status.starts_with("HTTP/1.1 503") {
            turned_away += 1;
        } else {
            assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        }
        held.push(stream);
    }
    assert!(
        (5..=7).contains(&turned_away),
        "{turned_away} of 8 turned away"
    );
    drop(held);
    // Places free up as connections close.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let health = raw_http(&url, "GET", "/healthz", &[], "").await;
        if health.status == 200 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{health:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let metrics = raw_http(&url, "GET", "/metrics", &[], "").await;
    let refused = metric_sample(
        &metrics.body,
        "mcp_wasm_host_refused_total{reason=\"connections-full\"}",
    )
    .unwrap_or(0.0);
    assert!(refused >= turned_away as f64, "{}", metrics.body);
    host.shutdown().await;
}

#[tokio::test]
async fn a_foreign_origin_is_refused() {
    let dir = PluginDir::with(&["hello"], &[]);
    let host = http_host(&dir, &[]).await;
    let url = host.url.clone().unwrap();
    let foreign = post_initialize(&url, &[("Origin", "https://evil.example.com")]).await;
    assert!(foreign.starts_with("HTTP/1.1 403"), "{foreign}");
    let null = post_initialize(&url, &[("Origin", "null")]).await;
    assert!(null.starts_with("HTTP/1.1 403"), "{null}");
    let local = post_initialize(&url, &[("Origin", "http://localhost:6274")]).await;
    assert!(local.starts_with("HTTP/1.1 200"), "{local}");
    host.shutdown().await;
}

#[test]
fn a_public_address_without_authentication_is_refused() {
    let dir = PluginDir::with(&["hello"], &[]);
    let refused = serve_refuses([
        "--http",
        "0.0.0.0:0",
        "--plugins",
        dir.path.to_str().unwrap(),
    ]);
    assert!(
        refused.contains("refusing to serve HTTP on 0.0.0.0:0 without --auth-file"),
        "{refused}"
    );
    assert!(refused.contains("--allow-unauthenticated"), "{refused}");
}

fn auth_file(principals: &[(&str, &str, &str)]) -> String {
    let mut text = String::from(
        "[[role]]\nname = \"caller\"\nplugins = [\"*\"]\n\
         [[role]]\nname = \"scraper\"\nmetrics = true\n",
    );
    for (id, role, token) in principals {
        text.push_str(&format!(
            "[[principal]]\nid = \"{id}\"\nroles = [\"{role}\"]\ntoken-sha256 = \"{}\"\n",
            token_digest(token)
        ));
    }
    text
}

#[tokio::test]
async fn metrics_need_a_scrapers_token_and_a_revoked_token_stops_working() {
    let dir = PluginDir::with(&["hello"], &[]);
    let config = PluginDir::empty();
    config.write(
        "auth.toml",
        auth_file(&[
            ("app", "caller", "app-token"),
            ("prom", "scraper", "prom-token"),
        ]),
    );
    let host = Connected::start(
        &dir,
        HostOptions::new(Era::Handshake, Transport::Http)
            .arg("--auth-file")
            .arg(config.path.join("auth.toml").to_str().unwrap())
            .arg("--ops-http")
            .arg("127.0.0.1:0")
            .bearer("app-token"),
    )
    .await
    .unwrap();
    let url = host.url.clone().unwrap();
    let none = raw_http(&url, "GET", "/metrics", &[], "").await;
    assert_eq!(none.status, 401, "{none:?}");
    let app = raw_http(
        &url,
        "GET",
        "/metrics",
        &[("Authorization", "Bearer app-token")],
        "",
    )
    .await;
    assert_eq!(app.status, 403, "{app:?}");
    let prom = raw_http(
        &url,
        "GET",
        "/metrics",
        &[("Authorization", "Bearer prom-token")],
        "",
    )
    .await;
    assert_eq!(prom.status, 200, "{prom:?}");
    assert!(prom.body.contains("mcp_wasm_host_tool_calls_in_flight"));
    for open in ["/healthz", "/readyz"] {
        assert_eq!(raw_http(&url, "GET", open, &[], "").await.status, 200);
    }
    // The operations listener serves metrics without a token.
    let text = host
        .stderr
        .wait_for("operations endpoints on http://", Duration::from_secs(10))
        .await
        .unwrap();
    let ops = text
        .split("operations endpoints on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .trim_end_matches("/metrics")
        .to_string();
    let scraped = raw_http(&format!("{ops}/mcp"), "GET", "/metrics", &[], "").await;
    assert_eq!(scraped.status, 200, "{scraped:?}");
    let no_mcp = raw_http(&format!("{ops}/mcp"), "GET", "/mcp", &[], "").await;
    assert_eq!(no_mcp.status, 404, "the operations listener serves no MCP");

    // Revoke `app`: rewrite the file, then SIGHUP.
    host.call_ok("add", json!({"a": 1, "b": 2})).await;
    config.replace("auth.toml", auth_file(&[("prom", "scraper", "prom-token")]));
    host.signal("HUP");
    let started = Instant::now();
    loop {
        let revoked = post_initialize(&url, &[("Authorization", "Bearer app-token")]).await;
        if revoked.starts_with("HTTP/1.1 401") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the revoked token still works: {revoked}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A broken file keeps the one in force.
    config.replace("auth.toml", "[[principal]]\nid = \"x\"\n");
    host.signal("HUP");
    host.stderr
        .wait_for("the auth file in force stays", Duration::from_secs(10))
        .await
        .unwrap();
    let prom = raw_http(
        &url,
        "GET",
        "/metrics",
        &[("Authorization", "Bearer prom-token")],
        "",
    )
    .await;
    assert_eq!(prom.status, 200, "{prom:?}");
    host.shutdown().await;
}

#[tokio::test]
async fn one_serving_thread_still_serves_others_while_a_guest_spins() {
    let dir = PluginDir::with(&["hello"], &["spin"]);
    // Far longer than `add` takes even on a loaded machine.
    dir.extend_manifest("spin", "[limits]\ntimeout-ms = 20000\n");
    let host = std::sync::Arc::new(http_host(&dir, &["--http-threads", "1"]).await);
    let spinning = tokio::spawn({
        let host = host.clone();
        async move { host.call("spin", empty_args()).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The one thread runs the spinning guest, which yields to it at every
    // epoch tick: other requests are served meanwhile, not after its
    // deadline.
    host.call_ok("add", json!({"a": 1, "b": 2})).await;
    assert!(
        !spinning.is_finished(),
        "`add` was answered only once the spinning call had ended"
    );
    // The host, and the spin with it, ends with the test.
    spinning.abort();
}

#[test]
fn a_thread_count_of_zero_is_refused() {
    let dir = PluginDir::with(&["hello"], &[]);
    let refused = serve_refuses([
        "--http",
        "127.0.0.1:0",
        "--http-threads",
        "0",
        "--plugins",
        dir.path.to_str().unwrap(),
    ]);
    assert!(refused.contains("--http-threads"), "{refused}");
}

/// Read `stream` (an SSE answer) until an event's JSON satisfies `wanted`;
/// that JSON, or `None` once the stream ends or `limit` passes.
async fn next_event(
    stream: &mut tokio::net::TcpStream,
    seen: &mut String,
    limit: Duration,
    wanted: impl Fn(&serde_json::Value) -> bool,
) -> Option<serde_json::Value> {
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 4096];
    loop {
        let mut start = 0;
        while let Some(len) = seen[start..].find('\n') {
            let line = &seen[start..start + len];
            start += len + 1;
            let Some(data) = line.strip_prefix("data: ") else {
                continue;
            };
            let Ok(value) = serde_json::from_str::<serde_json::Value>(data) else {
                continue;
            };
            if wanted(&value) {
                // Lines up to this one are not looked at again.
                seen.drain(..start);
                return Some(value);
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
            _ => return None,
        }
    }
}

/// Over HTTP a handshake-era client need not open the standalone stream: a
/// request the host sends it while calling a tool (here an elicitation)
/// arrives on the tool call's own response stream. A plugin whose calls
/// wait for the client has them run on the worker pool after the first, and
/// the request still finds that stream.
#[tokio::test]
async fn a_question_for_the_client_rides_the_calls_stream_wherever_the_call_runs() {
    let dir = PluginDir::with(&[], &["facade"]);
    let host = http_host(&dir, &[]).await;
    let url = host.url.clone().unwrap();
    let session = open_raw_session(&url, json!({"elicitation":{}})).await;
    let headers = [
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    let authority = authority_of(&url).to_string();
    for (round, name) in ["Ada", "Grace", "Edsger"].into_iter().enumerate() {
        let id = 10 + round;
        let body = json!({"jsonrpc":"2.0","id":id,"method":"tools/call",
            "params":{"name":"elicit_name","arguments":{}}})
        .to_string();
        let mut call = tokio::net::TcpStream::connect(&authority).await.unwrap();
        let request = format!(
            "POST /mcp HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
             Accept: application/json, text/event-stream\r\nmcp-session-id: {session}\r\n\
             mcp-protocol-version: 2025-11-25\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        );
        call.write_all(request.as_bytes()).await.unwrap();
        let mut seen = String::new();
        let question = next_event(&mut call, &mut seen, Duration::from_secs(10), |v| {
            v["method"] == "elicitation/create"
        })
        .await
        .unwrap_or_else(|| panic!("call {round}: no question on the call's stream: {seen}"));
        // The call waits for the client well past a millisecond, so the
        // plugin's calls count as long and the next ones run on the pool.
        tokio::time::sleep(Duration::from_millis(5)).await;
        let answered = post_mcp(
            &url,
            &headers,
            &json!({"jsonrpc":"2.0","id":question["id"],
                    "result":{"action":"accept","content":{"name":name}}}),
        )
        .await;
        assert_eq!(answered.status, 202, "{answered:?}");
        let result = next_event(&mut call, &mut seen, Duration::from_secs(10), |v| {
            v["id"] == json!(id)
        })
        .await
        .unwrap_or_else(|| panic!("call {round}: no result: {seen}"));
        assert_eq!(
            result["result"]["content"][0]["text"],
            format!("hello {name}"),
            "{result}"
        );
    }
    host.shutdown().await;
}
