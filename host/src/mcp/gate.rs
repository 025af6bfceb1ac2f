//! What every HTTP request to `/mcp` passes through before rmcp sees it:
//! the bearer token (401 without a valid one), the `Origin` header (403
//! unless it names an allowed host), the request body read within its
//! timeout (408) and size (413), the session id (404 when it is another
//! principal's session), the session cap (503 with `Retry-After` for an
//! `initialize` beyond it); and, as the `initialize` response leaves, the
//! new session bound to the principal that opened it. It also counts the
//! answers to POSTs still being written, which a shutdown waits for.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::response::IntoResponse as _;

use super::sessions::{SessionCheck, SessionOwners};
use crate::auth::{Access, AuthFailure, SharedAuthenticator};
use crate::metrics::{Metrics, Refusal};

/// The host names a local client may use (in `Host` and `Origin`).
pub(super) const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Largest request body read.
const MAX_BODY: usize = 4 << 20;

/// What the gate checks against.
#[derive(Clone)]
pub(super) struct Gate {
    pub(super) auth: Option<SharedAuthenticator>,
    pub(super) sessions: Arc<SessionOwners>,
    pub(super) metrics: Arc<Metrics>,
    /// Hosts an `Origin` header may name; `None` accepts any.
    pub(super) origin_hosts: Option<Arc<Vec<String>>>,
    pub(super) body_timeout: Duration,
    pub(super) answers: Arc<OpenAnswers>,
}

/// How many POSTs have an answer not yet written to the end: a call's
/// answer streams until its result is sent, so a shutdown that ends the
/// streams only when this is zero loses no result of a call that finished.
#[derive(Debug, Default)]
pub(super) struct OpenAnswers(AtomicUsize);

impl OpenAnswers {
    /// How many answers are being written now.
    pub(super) fn count(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }

    fn open(self: &Arc<Self>) -> AnswerOpen {
        self.0.fetch_add(1, Ordering::AcqRel);
        AnswerOpen(self.clone())
    }
}

/// One answer being written; counted until dropped with its body.
struct AnswerOpen(Arc<OpenAnswers>);

impl Drop for AnswerOpen {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn refuse(status: http::StatusCode, message: String) -> axum::response::Response {
    (status, message).into_response()
}

/// The gate, as axum middleware.
pub(super) async fn guard(
    State(gate): State<Gate>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let access = match &gate.auth {
        None => Access::everything(),
        Some(auth) => {
            let header = request
                .headers()
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            match auth.load().verify(header) {
                Ok(principal) => Access::of(principal),
                Err(failure) => {
                    gate.metrics.auth_failed(failure == AuthFailure::Missing);
                    return unauthorized(failure);
                }
            }
        }
    };
    if let (Some(hosts), Some(origin)) = (
        &gate.origin_hosts,
        request.headers().get(http::header::ORIGIN),
    ) && !origin_allowed(origin.to_str().unwrap_or_default(), hosts)
    {
        gate.metrics.refused(Refusal::ForeignOrigin);
        return refuse(
            http::StatusCode::FORBIDDEN,
            format!(
                "Forbidden: the Origin `{}` is not an allowed host\n",
                String::from_utf8_lossy(origin.as_bytes())
            ),
        );
    }
    let principal = access.principal().map(|p| p.id.clone()).unwrap_or_default();
    let session = request
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(id) = &session
        && gate.sessions.check(id, &principal) == SessionCheck::Foreign
    {
        gate.metrics.refused(Refusal::ForeignSession);
        tracing::warn!(
            principal = %principal,
            "refused a session id that belongs to another principal"
        );
        return refuse(
            http::StatusCode::NOT_FOUND,
            "Not Found: Session not found".into(),
        );
    }
    let (mut parts, body) = request.into_parts();
    let answer_open = (parts.method == http::Method::POST).then(|| gate.answers.open());
    let mut rewrite_answer = false;
    let body = if parts.method == http::Method::POST {
        match tokio::time::timeout(gate.body_timeout, axum::body::to_bytes(body, MAX_BODY)).await {
            Err(_) => {
                return refuse(
                    http::StatusCode::REQUEST_TIMEOUT,
                    format!(
                        "the request body did not arrive within {} ms\n",
                        gate.body_timeout.as_millis()
                    ),
                );
            }
            Ok(Err(_)) => {
                return refuse(
                    http::StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the request body is larger than {MAX_BODY} bytes, or broken\n"),
                );
            }
            Ok(Ok(bytes)) => {
                let method = method_of(&bytes);
                if session.is_none()
                    && method.as_deref() == Some("initialize")
                    && let Some(refused) = gate.sessions.no_room_for(&principal)
                {
                    gate.metrics.refused(refused.reason);
                    return (
                        refused.status,
                        [(http::header::RETRY_AFTER, "5")],
                        refused.message,
                    )
                        .into_response();
                }
                // What the SDK cannot write goes into these answers.
                rewrite_answer = matches!(method.as_deref(), Some("initialize" | "tools/list"));
                match super::core_tasks::rewrite_incoming(&bytes) {
                    Some(rewritten) => axum::body::Body::from(rewritten),
                    None => axum::body::Body::from(bytes),
                }
            }
        }
    } else {
        body
    };
    parts.extensions.insert(access);
    let mut response = next
        .run(axum::extract::Request::from_parts(parts, body))
        .await;
    if rewrite_answer {
        response = rewritten_answer(response);
    }
    if session.is_none()
        && let Some(id) = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
    {
        gate.sessions.bind(id, &principal);
    }
    match answer_open {
        Some(open) => held_until_written(response, open),
        None => response,
    }
}

/// `response` with `open` dropped only once its body has been written (or
/// dropped, when the client went away).
fn held_until_written(
    response: axum::response::Response,
    open: AnswerOpen,
) -> axum::response::Response {
    use http_body_util::BodyExt as _;
    let (parts, body) = response.into_parts();
    let body = body.map_frame(move |frame| {
        let _held = &open;
        frame
    });
    axum::response::Response::from_parts(parts, axum::body::Body::new(body))
}

fn unauthorized(failure: AuthFailure) -> axum::response::Response {
    let challenge = match failure {
        AuthFailure::Missing => "Bearer realm=\"mcp-wasm-host\"",
        AuthFailure::Invalid => "Bearer realm=\"mcp-wasm-host\", error=\"invalid_token\"",
    };
    (
        http::StatusCode::UNAUTHORIZED,
        [(http::header::WWW_AUTHENTICATE, challenge)],
        format!("{failure}\n"),
    )
        .into_response()
}

/// An `initialize` or `tools/list` response (a JSON body, or an event
/// stream) with what the SDK cannot write put into its result
/// ([`super::core_tasks::rewrite_outgoing`]).
fn rewritten_answer(response: axum::response::Response) -> axum::response::Response {
    use http_body_util::BodyExt as _;
    let (mut parts, body) = response.into_parts();
    parts.headers.remove(http::header::CONTENT_LENGTH);
    let body = body.map_frame(|frame| match frame.into_data() {
        Ok(data) => hyper::body::Frame::data(match rewrite_event(&data) {
            Some(rewritten) => bytes::Bytes::from(rewritten),
            None => data,
        }),
        Err(frame) => frame,
    });
    axum::response::Response::from_parts(parts, axum::body::Body::new(body))
}

/// A JSON message, or the `data:` lines of server-sent events, with each
/// message rewritten; `None` when nothing changed.
fn rewrite_event(data: &[u8]) -> Option<Vec<u8>> {
    if data.first() == Some(&b'{') {
        return super::core_tasks::rewrite_outgoing(data);
    }
    let mut changed = false;
    let mut out = Vec::with_capacity(data.len() + 64);
    for line in data.split_inclusive(|b| *b == b'\n') {
        let payload = line
            .strip_prefix(b"data:")
            .map(|p| p.strip_prefix(b" ").unwrap_or(p));
        let rewritten = payload.and_then(|p| {
            let end = p
                .iter()
                .rposition(|b| !b.is_ascii_whitespace())
                .map_or(0, |i| i + 1);
            super::core_tasks::rewrite_outgoing(&p[..end])
        });
        match rewritten {
            Some(json) => {
                out.extend_from_slice(b"data: ");
                out.extend_from_slice(&json);
                out.push(b'\n');
                changed = true;
            }
            None => out.extend_from_slice(line),
        }
    }
    changed.then_some(out)
}

/// The method of a request body (`initialize` opens a session), escapes
/// undone; `None` for a body that does not parse or names none.
fn method_of(body: &[u8]) -> Option<std::borrow::Cow<'_, str>> {
    #[derive(serde::Deserialize)]
    struct Method<'a> {
        #[serde(borrow)]
        method: Option<std::borrow::Cow<'a, str>>,
    }
    serde_json::from_slice::<Method>(body).ok()?.method
}

/// Whether an `Origin` header value names one of `hosts` (each a host, or
/// `host:port`). `null` and anything that is not an http(s) origin do not.
/// The `Host` check for the host's own endpoints (`/healthz`, `/readyz`,
/// `/metrics`) on the MCP listener, as axum middleware: the same hosts as
/// `/mcp` accepts (whose check rmcp makes), so a DNS-rebinding page cannot
/// read them either. `None`: any host is allowed.
pub(super) async fn host_checked(
    State(hosts): State<Option<Arc<Vec<String>>>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if let Some(hosts) = &hosts {
        let host = request
            .headers()
            .get(http::header::HOST)
            .map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned());
        let allowed = host
            .as_deref()
            .is_some_and(|h| host_header_allowed(h, hosts));
        if !allowed {
            return refuse(
                http::StatusCode::FORBIDDEN,
                format!(
                    "Forbidden: the Host `{}` is not an allowed host\n",
                    host.unwrap_or_default()
                ),
            );
        }
    }
    next.run(request).await
}

/// Whether a `Host` header (`name` or `name:port`) names one of `hosts`.
/// Anything that is not a bare authority (a path, user info) is refused.
pub(super) fn host_header_allowed(host: &str, hosts: &[String]) -> bool {
    let host = host.trim();
    !host.is_empty()
        && !host.contains(|c: char| matches!(c, '/' | '\\' | '@' | '?' | '#') || c.is_whitespace())
        && origin_allowed(&format!("http://{host}"), hosts)
}

pub(super) fn origin_allowed(origin: &str, hosts: &[String]) -> bool {
    let Ok(url) = url::Url::parse(origin.trim()) else {
        return false;
    };
    if !matches!(url.scheme(), "http" | "https") {
        return false;
    }
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let with_port = url.port().map(|p| format!("{host}:{p}"));
    hosts.iter().any(|allowed| {
        let allowed = allowed.trim();
        allowed.eq_ignore_ascii_case(host)
            || allowed.eq_ignore_ascii_case(bare)
            || with_port
                .as_deref()
                .is_some_and(|hp| allowed.eq_ignore_ascii_case(hp))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_headers_must_be_a_bare_allowed_authority() {
        let hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"]
            .iter()
            .map(|h| h.to_string())
            .collect();
        for good in ["127.0.0.1", "127.0.0.1:8080", "localhost:1", "[::1]:9"] {
            assert!(host_header_allowed(good, &hosts), "{good}");
        }
        for bad in [
            "",
            "evil.example",
            "evil.example:80",
            "127.0.0.1@evil.example",
            "evil.example/127.0.0.1",
            "127.0.0.1/x",
            "127.0.0.1.evil.example",
            "localhost evil",
        ] {
            assert!(!host_header_allowed(bad, &hosts), "{bad}");
        }
    }

    #[test]
    fn origins_must_name_an_allowed_host() {
        let hosts: Vec<String> = ["localhost", "127.0.0.1", "::1", "mcp.internal:8443"]
            .iter()
            .map(|h| h.to_string())
            .collect();
        for ok in [
            "http://localhost:3000",
            "http://127.0.0.1",
            "https://[::1]:8080",
            "https://mcp.internal:8443",
        ] {
            assert!(origin_allowed(ok, &hosts), "{ok}");
        }
        for refused in [
            "null",
            "https://evil.example.com",
            "http://localhost.evil.example.com",
            "https://mcp.internal:9999",
            "file:///etc/passwd",
            "",
            "http://",
        ] {
            assert!(!origin_allowed(refused, &hosts), "{refused}");
        }
    }

    #[test]
    fn an_initialize_result_gains_the_tasks_capability_in_either_body() {
        let result = r#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-11-25","capabilities":{},"serverInfo":{"name":"h","version":"1"}}}"#;
        let json = rewrite_event(result.as_bytes()).unwrap();
        let parsed: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert!(parsed["result"]["capabilities"]["tasks"]["requests"]["tools"]["call"].is_object());
        let event = format!("id: 0\nevent: message\ndata: {result}\n\n");
        let rewritten = String::from_utf8(rewrite_event(event.as_bytes()).unwrap()).unwrap();
        assert!(
            rewritten.starts_with("id: 0\nevent: message\ndata: {"),
            "{rewritten}"
        );
        assert!(rewritten.ends_with("}\n\n"), "{rewritten}");
        assert!(rewritten.contains(r#""tasks":{"#), "{rewritten}");
        assert_eq!(
            rewrite_event(b"data: {\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}\n\n"),
            None
        );
    }

    #[tokio::test]
    async fn an_answer_stays_open_until_its_body_is_written_or_dropped() {
        use http_body_util::BodyExt as _;
        let answers = Arc::new(OpenAnswers::default());
        let written = held_until_written(
            axum::response::Response::new(axum::body::Body::from("data: {}\n\n")),
            answers.open(),
        );
        let dropped = held_until_written(
            axum::response::Response::new(axum::body::Body::from("data: {}\n\n")),
            answers.open(),
        );
        assert_eq!(answers.count(), 2);
        let body = written.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"data: {}\n\n");
        assert_eq!(answers.count(), 1);
        drop(dropped);
        assert_eq!(answers.count(), 0);
    }

    #[test]
    fn the_method_is_read_with_its_escapes_undone() {
        let method = |body: &str| method_of(body.as_bytes()).map(|m| m.into_owned());
        assert_eq!(
            method(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#).as_deref(),
            Some("initialize")
        );
        // An escaped name is the same method, so it meets the session cap.
        assert_eq!(
            method(r#"{"jsonrpc":"2.0","id":1,"method":"initi\u0061lize"}"#).as_deref(),
            Some("initialize")
        );
        assert_eq!(
            method(r#"{"jsonrpc":"2.0","id":1,"method":"tools\/list"}"#).as_deref(),
            Some("tools/list")
        );
        assert_eq!(method("not json"), None);
        assert_eq!(method(r#"[{"method":"initialize"}]"#), None);
    }
}

#[cfg(test)]
mod properties {
    use super::{method_of, origin_allowed};
    use crate::test_strategies::{CASES, text_from};
    use proptest::prelude::*;

    const FRAGMENTS: &[&str] = &[
        "http://",
        "https://",
        "null",
        "localhost",
        "127.0.0.1",
        "[::1]",
        ":8080",
        "evil.example",
        ".",
        "@",
        "/",
        "%00",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(CASES))]

        /// An Origin header is allowed only when its host is one of the
        /// allowed hosts.
        #[test]
        fn origins_are_allowed_only_for_allowed_hosts(origin in text_from(FRAGMENTS, 5)) {
            let hosts = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
            if origin_allowed(&origin, &hosts) {
                let url = url::Url::parse(origin.trim()).unwrap();
                let host = url.host_str().unwrap().trim_matches(|c| c == '[' || c == ']');
                prop_assert!(hosts.iter().any(|h| h == host), "{origin} -> {host}");
            }
        }

        #[test]
        fn any_body_is_looked_into_safely(body in any::<Vec<u8>>()) {
            let _ = method_of(&body);
        }
    }
}
