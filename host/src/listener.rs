//! Serving an HTTP router on a TCP listener so that abuse stays bounded:
//! at most `max_connections` connections at once (one beyond is answered
//! 503 and closed), each served by hyper's HTTP/1.1 with its timer wired
//! in, so a client that does not finish its request headers within
//! `header_timeout` (a half-sent request line, an idle keep-alive) is
//! disconnected. Shutdown stops accepting, asks every connection to close
//! after its current response, and waits a bounded time for them.

use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpListener;

use crate::metrics::{Metrics, Refusal};

/// How a listener bounds its clients.
#[derive(Debug, Clone, Copy)]
pub struct ListenerLimits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Time a client has to send a request's headers (from the start of
    /// the connection, or from the end of the previous response).
    pub header_timeout: Duration,
}

impl ListenerLimits {
    pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
    pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
}

impl Default for ListenerLimits {
    fn default() -> Self {
        Self {
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            header_timeout: Self::DEFAULT_HEADER_TIMEOUT,
        }
    }
}

/// How long shutdown waits for open connections to close.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// What a connection beyond the cap is told before it is closed.
const FULL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n\
Content-Type: text/plain\r\nContent-Length: 44\r\nConnection: close\r\n\r\n\
the host serves its maximum of connections.\n";

/// Serve `app` on `listener` until `stop` completes.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: ListenerLimits,
    metrics: Arc<Metrics>,
    stop: impl std::future::Future<Output = ()>,
) {
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, most likely: let some close.
                tracing::warn!("accepting a connection: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            metrics.refused(Refusal::ConnectionsFull);
            tokio::spawn(async move {
                let mut stream = stream;
                let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(FULL)).await;
            });
            continue;
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY: {e}");
        }
        let connection =
            builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("HTTP connection ended: {e}");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(CLOSE_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::debug!("connections still open after shutdown are dropped");
    }
}
