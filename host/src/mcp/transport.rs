//! Transports: MCP over stdio (one session per process) and over Streamable
//! HTTP at `/mcp` (sessions for handshake-era clients, stateless requests for
//! 2026-07-28 clients), with loopback Host checks on by default.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use rmcp::ServiceExt;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use axum::extract::State;
use axum::response::IntoResponse as _;

use super::{HostServices, McpServer};
use crate::auth::{Access, AuthFailure, Authenticator};

/// Why a transport stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the MCP session over stdio failed: {0}")]
    Stdio(String),
    #[error("the HTTP server failed: {0}")]
    Http(#[source] std::io::Error),
}

/// Serve one MCP session on the process's stdin and stdout until the client
/// closes stdin or `shutdown` fires.
pub async fn serve_stdio(
    services: Arc<HostServices>,
    shutdown: CancellationToken,
    grace: Duration,
) -> Result<(), TransportError> {
    let server = McpServer::new(services.clone(), Some(new_session_id()));
    let (reader, writer) = stdio_streams();
    let running = server
        .serve((reader, writer))
        .await
        .map_err(|e| TransportError::Stdio(e.to_string()))?;
    let cancel = running.cancellation_token();
    tokio::select! {
        r = running.waiting() => r.map(|_| ()).map_err(|e| TransportError::Stdio(e.to_string())),
        () = shutdown.cancelled() => {
            drain(&services, grace).await;
            cancel.cancel();
            Ok(())
        }
    }
}

/// Wait (at most `grace`) for the tool calls running to finish.
async fn drain(services: &HostServices, grace: Duration) {
    services.start_draining();
    let metrics = services.runtime.metrics();
    let deadline = tokio::time::Instant::now() + grace;
    let running = metrics.calls_in_flight();
    if running > 0 {
        tracing::info!(calls = running, "waiting for the calls running to finish");
    }
    while metrics.calls_in_flight() > 0 {
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(
                calls = metrics.calls_in_flight(),
                "calls still running after the shutdown grace period of {} ms are dropped",
                grace.as_millis()
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

type Reader = Box<dyn tokio::io::AsyncRead + Send + Unpin>;
type Writer = Box<dyn tokio::io::AsyncWrite + Send + Unpin>;

/// The process's stdin and stdout as async streams. When they are pipes (as
/// MCP clients start servers), they are driven by the event loop directly;
/// otherwise (a file, a terminal) every read and write goes through tokio's
/// blocking thread pool, which costs a thread hand-off per message.
fn stdio_streams() -> (Reader, Writer) {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        use tokio::net::unix::pipe;
        let reader = std::io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .and_then(pipe::Receiver::from_owned_fd);
        let writer = std::io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .and_then(pipe::Sender::from_owned_fd);
        let reader: Reader = match reader {
            Ok(r) => Box::new(NotedInput(r)),
            Err(_) => Box::new(NotedInput(tokio::io::stdin())),
        };
        let writer: Writer = match writer {
            Ok(w) => Box::new(w),
            Err(_) => Box::new(tokio::io::stdout()),
        };
        (reader, writer)
    }
    #[cfg(not(unix))]
    {
        (
            Box::new(NotedInput(tokio::io::stdin())),
            Box::new(tokio::io::stdout()),
        )
    }
}

/// Stdin, telling [`stdin_watch`](super::stdin_watch) when data arrives.
struct NotedInput<R>(R);

impl<R: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for NotedInput<R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.0).poll_read(cx, buf);
        if buf.filled().len() > before {
            super::stdin_watch::note_input();
        }
        polled
    }
}

/// How the HTTP transport is exposed.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub addr: SocketAddr,
    /// Host header values accepted besides the loopback names; empty keeps
    /// the loopback-only default.
    pub extra_allowed_hosts: Vec<String>,
    /// Turn the Host header check off (only behind a trusted proxy).
    pub allow_any_host: bool,
    /// How long, once shutdown begins, the calls running may take to finish.
    pub shutdown_grace: Duration,
    /// Bearer-token authentication of `/mcp`; `None` lets every request in.
    pub auth: Option<Arc<Authenticator>>,
    /// A handshake-era session unused this long is closed.
    pub session_idle: Duration,
}

/// Serve Streamable HTTP at `/mcp` until `shutdown` fires. `on_bound` is
/// told the bound address (useful with port 0).
pub async fn serve_http(
    services: Arc<HostServices>,
    options: HttpOptions,
    shutdown: CancellationToken,
    on_bound: impl FnOnce(SocketAddr),
) -> Result<(), TransportError> {
    // Streams (response streams of calls running, and standalone ones)
    // end only once the calls running have finished or the grace ran out.
    let streams = CancellationToken::new();
    let mut config = StreamableHttpServerConfig::default()
        .with_sse_keep_alive(Some(Duration::from_secs(15)))
        .with_cancellation_token(streams.clone());
    if options.allow_any_host {
        config.allowed_hosts.clear();
    } else {
        config
            .allowed_hosts
            .extend(options.extra_allowed_hosts.iter().cloned());
    }
    let factory_services = services.clone();
    let service = StreamableHttpService::new(
        move || Ok(McpServer::new(factory_services.clone(), None)),
        Arc::new({
            let mut sessions = LocalSessionManager::default();
            sessions.session_config.keep_alive = Some(options.session_idle);
            sessions
        }),
        config,
    );
    let ops = crate::ops::OpsState {
        metrics: services.runtime.metrics().clone(),
        gauges: Box::new({
            let services = services.clone();
            move || {
                let catalog = services.catalog.snapshot();
                crate::metrics::Gauges {
                    sessions: services.hub.active_sessions(),
                    plugins: catalog.plugins().len(),
                    tools: catalog.tools().len(),
                    catalog_generation: catalog.generation(),
                }
            }
        }),
        shutdown: shutdown.clone(),
    };
    let mcp =
        axum::Router::new()
            .fallback_service(service)
            .layer(axum::middleware::from_fn_with_state(
                options.auth.clone(),
                authenticate,
            ));
    let app = axum::Router::new()
        .nest_service("/mcp", mcp)
        .merge(crate::ops::router(Arc::new(ops)));
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .map_err(|source| TransportError::Bind {
            addr: options.addr,
            source,
        })?;
    let bound = listener.local_addr().map_err(TransportError::Http)?;
    on_bound(bound);
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY: {e}");
        }
    });
    let closing = streams.clone();
    let draining = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            shutdown.cancelled().await;
            drain(&services, options.shutdown_grace).await;
            streams.cancel();
        })
    };
    // On shutdown the calls running drain first: a call waiting for the
    // client needs the client's next request to arrive. Then streams end and
    // the listener closes.
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move { closing.cancelled().await })
        .await
        .map_err(TransportError::Http);
    draining.abort();
    served
}

/// Let a request to `/mcp` in with the [`Access`] its bearer token gives
/// (every plugin when there is no authenticator), or answer 401.
async fn authenticate(
    State(auth): State<Option<Arc<Authenticator>>>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let access = match &auth {
        None => Access::everything(),
        Some(auth) => {
            let header = request
                .headers()
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            match auth.verify(header) {
                Ok(principal) => Access::of(principal),
                Err(failure) => {
                    let challenge = match failure {
                        AuthFailure::Missing => "Bearer realm=\"mcp-wasm-host\"",
                        AuthFailure::Invalid => {
                            "Bearer realm=\"mcp-wasm-host\", error=\"invalid_token\""
                        }
                    };
                    return (
                        http::StatusCode::UNAUTHORIZED,
                        [(http::header::WWW_AUTHENTICATE, challenge)],
                        format!("{failure}\n"),
                    )
                        .into_response();
                }
            }
        }
    };
    request.extensions_mut().insert(access);
    next.run(request).await
}

/// A session id for a stdio connection, unique per process start.
fn new_session_id() -> String {
    let mut h = blake3::Hasher::new();
    h.update(&std::process::id().to_le_bytes());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    h.update(&now.as_nanos().to_le_bytes());
    let stack_addr = &h as *const _ as usize;
    h.update(&stack_addr.to_le_bytes());
    format!("stdio-{}", &h.finalize().to_hex()[..24])
}
