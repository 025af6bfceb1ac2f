//! HTTP without an MCP client: raw requests over their own connections,
//! raw sessions, and the host's `/metrics` read and waited on.

use super::*;

/// `host:port` of an `http://host:port/path` URL.
pub fn authority_of(url: &str) -> &str {
    url.trim_start_matches("http://").split('/').next().unwrap()
}

/// POST a raw `initialize` to `url` (over its own connection) with extra
/// `headers` (a `Host` given here replaces the URL's); the raw response.
pub async fn post_initialize(url: &str, headers: &[(&str, &str)]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let authority = authority_of(url);
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#;
    let host = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("host"))
        .map_or(authority, |(_, value)| value);
    let extra: String = headers
        .iter()
        .filter(|(name, _)| !name.eq_ignore_ascii_case("host"))
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\n{extra}Content-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(authority).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response)).await;
    String::from_utf8_lossy(&response).into_owned()
}

/// A raw HTTP response: status code, header block (lower-case names) and
/// body.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

impl RawResponse {
    /// The value of header `name` (lower case), if present.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

/// Send one raw HTTP/1.1 request over its own connection to the host
/// serving `mcp_url`; `Host` is the URL's authority unless `headers`
/// names one. Waits at most ten seconds for the whole response.
pub async fn raw_http(
    mcp_url: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> RawResponse {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let authority = authority_of(mcp_url);
    let host = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("host"))
        .map_or(authority, |(_, value)| value);
    let extra: String = headers
        .iter()
        .filter(|(name, _)| !name.eq_ignore_ascii_case("host"))
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Content-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(authority).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response)).await;
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    RawResponse {
        status,
        headers: lines.collect::<Vec<_>>().join("\n"),
        body: body.to_string(),
    }
}

/// A JSON-RPC POST to `/mcp` as a handshake-era client would send it.
pub async fn post_mcp(mcp_url: &str, headers: &[(&str, &str)], body: &Value) -> RawResponse {
    let mut all = vec![
        ("Content-Type", "application/json"),
        ("Accept", "application/json, text/event-stream"),
    ];
    all.extend_from_slice(headers);
    raw_http(mcp_url, "POST", "/mcp", &all, &body.to_string()).await
}

/// Open a handshake-era (2025-11-25) session with raw POSTs, the client
/// declaring `capabilities`: its id, for the `mcp-session-id` header.
pub async fn open_raw_session(mcp_url: &str, capabilities: Value) -> String {
    let init = post_mcp(
        mcp_url,
        &[],
        &json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
            "protocolVersion":"2025-11-25","capabilities":capabilities,
            "clientInfo":{"name":"raw","version":"0"}}}),
    )
    .await;
    let session = init.header("mcp-session-id").expect("a session");
    post_mcp(
        mcp_url,
        &[
            ("mcp-session-id", session.as_str()),
            ("mcp-protocol-version", "2025-11-25"),
        ],
        &json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
    )
    .await;
    session
}

/// The value of the sample `series` (name and labels, exactly) in a
/// Prometheus text `text`.
/// Read `/metrics` (with `headers`) until `ready` accepts its text, every
/// 20 ms for at most 20 s; that text. `what` names the wait in a failure.
pub async fn wait_for_metrics(
    mcp_url: &str,
    headers: &[(&str, &str)],
    what: &str,
    ready: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = raw_http(mcp_url, "GET", "/metrics", headers, "").await.body;
        if ready(&text) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Drive `call` until the host runs it, then drop it: the client gives up,
/// which cancels the request. Over HTTP, where the cancellation travels in a
/// request of its own, "running" is read from the in-flight gauge; over
/// stdio the wire keeps the two in order, so a moment suffices.
pub async fn give_up_once_running<T: std::fmt::Debug>(
    host: &Connected,
    call: impl std::future::Future<Output = T>,
) {
    tokio::pin!(call);
    let running = async {
        let Some(url) = &host.url else {
            tokio::time::sleep(Duration::from_millis(400)).await;
            return;
        };
        wait_for_metrics(url, &[], "the call to run", one_call_running).await;
    };
    tokio::select! {
        finished = &mut call => panic!("the call cannot finish on its own: {finished:?}"),
        () = running => {}
    }
}

/// Whether the metrics `text` show exactly one tool call running.
pub fn one_call_running(text: &str) -> bool {
    metric_sample(text, "mcp_wasm_host_tool_calls_in_flight") == Some(1.0)
}

pub fn metric_sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}
