//! Transports: MCP over stdio (one session per process) and over Streamable
//! HTTP at `/mcp` (sessions for handshake-era clients, stateless requests for
//! 2026-07-28 clients), with loopback Host checks on by default.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rmcp::ServiceExt;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use super::core_tasks;
use super::gate::{Gate, LOOPBACK_HOSTS, OpenAnswers, guard, host_checked};
use super::sessions::{OwnedSessions, SessionOwners};
use super::stdio_wire::StdioWire;
use super::{McpServer, ServerState, Traced};
use crate::auth::SharedAuthenticator;
use crate::listener::ListenerLimits;
use crate::ops::MetricsAccess;

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
/// closes stdin or stdout, or `shutdown` fires. A client that goes away,
/// before `initialize` or after, ends the session without an error: that
/// is how stdio sessions end.
pub async fn serve_stdio(
    services: Arc<ServerState>,
    caller: crate::auth::StdioCaller,
    shutdown: CancellationToken,
    grace: Duration,
) -> Result<(), TransportError> {
    let server = Traced::new(
        McpServer::new(services.clone(), Some(new_session_id())).with_stdio_caller(caller),
    );
    let output_closed = CancellationToken::new();
    let (reader, writer) = stdio_streams(output_closed.clone());
    let wire = StdioWire::new(
        reader,
        writer,
        core_tasks::rewrite_incoming,
        core_tasks::rewrite_outgoing,
    )
    .with_call_limit(services.shares.max());
    let serving = tokio::select! {
        serving = server.serve(wire) => serving,
        () = output_closed.cancelled() => return Ok(()),
        () = shutdown.cancelled() => return Ok(()),
    };
    let running = match serving {
        Ok(running) => running,
        Err(rmcp::service::ServerInitializeError::ConnectionClosed(_)) => return Ok(()),
        Err(_) if output_closed.is_cancelled() => return Ok(()),
        Err(e) => return Err(TransportError::Stdio(e.to_string())),
    };
    let cancel = running.cancellation_token();
    let waiting = running.waiting();
    tokio::pin!(waiting);
    tokio::select! {
        r = &mut waiting => r.map(|_| ()).map_err(|e| TransportError::Stdio(e.to_string())),
        () = output_closed.cancelled() => {
            // Nobody reads the answers any more: stop at once.
            cancel.cancel();
            Ok(())
        }
        () = shutdown.cancelled() => {
            drain(&services, grace, || 0).await;
            cancel.cancel();
            // The session closes its wire, which writes the answers still
            // queued (those of the calls that just finished) before the
            // process exits; bounded, for a client that reads no more.
            let _ = tokio::time::timeout(FLUSH_AT_SHUTDOWN, waiting).await;
            Ok(())
        }
    }
}

/// How long, at shutdown, the stdio session may take to write the answers
/// it has queued.
const FLUSH_AT_SHUTDOWN: Duration = Duration::from_secs(2);

/// Wait (at most `grace`) for the tool calls running to finish and for
/// `answers_open()` (the answers still being written) to reach zero.
async fn drain(services: &ServerState, grace: Duration, answers_open: impl Fn() -> usize) {
    services.start_draining();
    let metrics = services.runtime.metrics();
    let deadline = tokio::time::Instant::now() + grace;
    let running = metrics.calls_in_flight();
    if running > 0 {
        tracing::info!(calls = running, "waiting for the calls running to finish");
    }
    while metrics.calls_in_flight() > 0 || answers_open() > 0 {
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(
                calls = metrics.calls_in_flight(),
                answers = answers_open(),
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
/// `output_closed` fires when the reader of stdout has gone away.
fn stdio_streams(output_closed: CancellationToken) -> (Reader, Writer) {
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
            Ok(w) => Box::new(WatchedOutput::new(w, output_closed)),
            Err(_) => Box::new(WatchedOutput::new(tokio::io::stdout(), output_closed)),
        };
        (reader, writer)
    }
    #[cfg(not(unix))]
    {
        (
            Box::new(NotedInput(tokio::io::stdin())),
            Box::new(WatchedOutput::new(tokio::io::stdout(), output_closed)),
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

/// Stdout, noticing when its reader has gone away (`EPIPE`, where other
/// programs die of `SIGPIPE`): it fires `closed`, and swallows the write,
/// so the session ends quietly instead of logging each answer it cannot
/// send.
struct WatchedOutput<W> {
    inner: W,
    closed: CancellationToken,
}

impl<W> WatchedOutput<W> {
    fn new(inner: W, closed: CancellationToken) -> Self {
        Self { inner, closed }
    }

    fn watch<T>(
        &self,
        polled: std::task::Poll<std::io::Result<T>>,
        gone: T,
    ) -> std::task::Poll<std::io::Result<T>> {
        match polled {
            std::task::Poll::Ready(Err(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed.cancel();
                std::task::Poll::Ready(Ok(gone))
            }
            other => other,
        }
    }
}

impl<W: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for WatchedOutput<W> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if self.closed.is_cancelled() {
            return std::task::Poll::Ready(Ok(buf.len()));
        }
        let polled = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(polled, buf.len())
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.closed.is_cancelled() {
            return std::task::Poll::Ready(Ok(()));
        }
        let polled = std::pin::Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(polled, ())
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_shutdown(cx);
        self.watch(polled, ())
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
    /// Bearer-token authentication of `/mcp` (and `/metrics`); `None` lets
    /// every request in.
    pub auth: Option<SharedAuthenticator>,
    /// A handshake-era session unused this long is closed.
    pub session_idle: Duration,
    /// Handshake-era sessions held at once; a new one beyond is answered
    /// 503 with `Retry-After`.
    pub max_sessions: usize,
    /// Connections at once, and how long a client has to send headers.
    pub limits: ListenerLimits,
    /// How long a client has to send a request's body once its headers
    /// arrived.
    pub body_timeout: Duration,
    /// A second listener for `/healthz`, `/readyz` and `/metrics` without
    /// a token (for scrapers).
    pub ops_addr: Option<SocketAddr>,
    /// Threads serving the connections, each with a runtime of its own (0:
    /// the current runtime's tasks serve them).
    pub serving_threads: usize,
}

impl HttpOptions {
    pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
    pub const DEFAULT_MAX_SESSIONS: usize = 1000;
}

/// Serve Streamable HTTP at `/mcp` until `shutdown` fires. `on_bound` is
/// told the bound address (useful with port 0).
pub async fn serve_http(
    services: Arc<ServerState>,
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
    let owners = Arc::new(SessionOwners::new(options.max_sessions));
    let service = StreamableHttpService::new(
        move || Ok(Traced::new(McpServer::new(factory_services.clone(), None))),
        Arc::new({
            let mut sessions = LocalSessionManager::default();
            sessions.session_config.keep_alive = Some(options.session_idle);
            OwnedSessions::new(
                sessions,
                owners.clone(),
                services.hub.clone(),
                services.catalog.clone(),
            )
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
                    parked_calls: services.parked.parked(),
                    tasks_running: services.tasks.running(),
                    plugins: catalog.plugins().len(),
                    tools: catalog.tools().len(),
                    catalog_generation: catalog.generation(),
                }
            }
        }),
        shutdown: shutdown.clone(),
    };
    let origin_hosts = (!options.allow_any_host).then(|| {
        let mut hosts: Vec<String> = LOOPBACK_HOSTS.iter().map(|h| h.to_string()).collect();
        hosts.extend(options.extra_allowed_hosts.iter().cloned());
        Arc::new(hosts)
    });
    let metrics = services.runtime.metrics().clone();
    let answers = Arc::new(OpenAnswers::default());
    let gate = Gate {
        auth: options.auth.clone(),
        sessions: owners,
        metrics: metrics.clone(),
        origin_hosts: origin_hosts.clone(),
        body_timeout: options.body_timeout,
        answers: answers.clone(),
    };
    let mcp = axum::Router::new()
        .fallback_service(service)
        .layer(axum::middleware::from_fn_with_state(gate, guard));
    let ops = Arc::new(ops);
    let metrics_access = match &options.auth {
        Some(auth) => MetricsAccess::Token(auth.clone()),
        None => MetricsAccess::Open,
    };
    let app = axum::Router::new().nest_service("/mcp", mcp).merge(
        crate::ops::router(ops.clone(), metrics_access).layer(
            axum::middleware::from_fn_with_state(origin_hosts, host_checked),
        ),
    );
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .map_err(|source| TransportError::Bind {
            addr: options.addr,
            source,
        })?;
    let bound = listener.local_addr().map_err(TransportError::Http)?;
    let ops_listener = match options.ops_addr {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| TransportError::Bind { addr, source })?,
        ),
        None => None,
    };
    on_bound(bound);
    let closing = streams.clone();
    let draining = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            shutdown.cancelled().await;
            drain(&services, options.shutdown_grace, || answers.count()).await;
            streams.cancel();
        })
    };
    // The operations listener stops with the main one.
    let ops_served = ops_listener.map(|listener| {
        if let Ok(addr) = listener.local_addr() {
            tracing::info!("operations endpoints on http://{addr}/metrics");
        }
        let closing = closing.clone();
        let metrics = metrics.clone();
        tokio::spawn(crate::listener::serve(
            listener,
            crate::ops::router(ops, MetricsAccess::Open),
            options.limits,
            metrics,
            0,
            async move { closing.cancelled().await },
        ))
    });
    // On shutdown the calls running drain first: a call waiting for the
    // client needs the client's next request to arrive. Then streams end and
    // the listener closes.
    crate::listener::serve(
        listener,
        app,
        options.limits,
        metrics,
        options.serving_threads,
        async move { closing.cancelled().await },
    )
    .await;
    if let Some(ops) = ops_served {
        let _ = ops.await;
    }
    draining.abort();
    Ok(())
}

/// A session id for a stdio connection, unique per process start.
pub(super) fn new_session_id() -> String {
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
