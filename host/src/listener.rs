//! Serving an HTTP router on a TCP listener so that abuse stays bounded:
//! at most `max_connections` connections at once (one beyond is answered
//! 503 and closed), each served by hyper's HTTP/1.1 with its timer wired
//! in, so a client that does not finish its request headers within
//! `header_timeout` (a half-sent request line, an idle keep-alive) is
//! disconnected. Shutdown stops accepting, asks every connection to close
//! after its current response, and waits a bounded time for them.
//!
//! Connections are served by [`ServingThreads`]: threads that each run a
//! single-threaded runtime of their own. An accepted connection goes to the
//! thread serving the fewest, and what it starts stays on that thread:
//! hyper's connection and, for the MCP session it opens, the session's
//! worker and the handlers of its later requests (and their quick calls). On a runtime
//! whose workers share their tasks, each request's tasks would hop between
//! threads, and every hop wakes a sleeping one: a sequential client cost
//! the host twice the CPU per call (docs/benchmarks.md).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

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

/// Serve `app` on `listener` until `stop` completes, its connections on
/// `threads` serving threads (0: on the current runtime's tasks).
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: ListenerLimits,
    metrics: Arc<Metrics>,
    threads: usize,
    stop: impl std::future::Future<Output = ()>,
) {
    let threads = match threads {
        0 => None,
        n => match ServingThreads::start(n) {
            Ok(threads) => Some(threads),
            Err(e) => {
                tracing::warn!("cannot start the serving threads, serving on the runtime's: {e}");
                None
            }
        },
    };
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
        let watcher = graceful.watcher();
        let service = TowerToHyperService::new(app.clone());
        let builder = builder.clone();
        // Served until it ends or shutdown closes it, holding its permit.
        let serve_connection = move |stream: tokio::net::TcpStream| async move {
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(connection).await {
                tracing::debug!("HTTP connection ended: {e}");
            }
            drop(permit);
        };
        let Some(threads) = &threads else {
            tokio::spawn(serve_connection(stream));
            continue;
        };
        // The socket is registered again with the runtime that serves it.
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(e) => {
                tracing::warn!("handing a connection to a serving thread: {e}");
                continue;
            }
        };
        threads.serve(async move {
            match tokio::net::TcpStream::from_std(stream) {
                Ok(stream) => serve_connection(stream).await,
                Err(e) => tracing::warn!("serving a handed-over connection: {e}"),
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(CLOSE_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::debug!("connections still open after shutdown are dropped");
    }
    if let Some(threads) = threads {
        threads.stop().await;
    }
}

/// Threads that each drive a single-threaded runtime of their own and
/// serve the connections handed to them; see the module docs.
struct ServingThreads {
    threads: Vec<ServingThread>,
    /// Where the search for the least busy thread starts, turning, so that
    /// threads equally busy take connections in turn.
    next: AtomicUsize,
    stop: CancellationToken,
}

struct ServingThread {
    runtime: tokio::runtime::Handle,
    /// Connections it serves now.
    open: Arc<AtomicUsize>,
    thread: std::thread::JoinHandle<()>,
}

impl ServingThreads {
    fn start(count: usize) -> std::io::Result<Self> {
        let stop = CancellationToken::new();
        // Threads started before a failure end with it.
        let started_all = stop.clone().drop_guard();
        let mut threads = Vec::with_capacity(count);
        for index in 0..count {
            let (ready, runtime) = std::sync::mpsc::channel();
            let stopped = stop.clone();
            // The runtime is made (and dropped) on its own thread: dropping
            // one on an async thread panics.
            let thread = std::thread::Builder::new()
                .name(format!("http-{index}"))
                .spawn(move || serving_thread(&ready, &stopped))?;
            let runtime = match runtime.recv() {
                Ok(Ok(handle)) => handle,
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(std::io::Error::other("a serving thread ended at start")),
            };
            threads.push(ServingThread {
                runtime,
                open: Arc::new(AtomicUsize::new(0)),
                thread,
            });
        }
        started_all.disarm();
        Ok(Self {
            threads,
            next: AtomicUsize::new(0),
            stop,
        })
    }

    /// Run `connection` on the thread serving the fewest connections.
    fn serve(&self, connection: impl std::future::Future<Output = ()> + Send + 'static) {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let count = self.threads.len();
        let thread = (0..count)
            .map(|i| &self.threads[(start + i) % count])
            .min_by_key(|thread| thread.open.load(Ordering::Relaxed))
            .expect("at least one serving thread");
        thread.open.fetch_add(1, Ordering::Relaxed);
        // Counted until the task ends or is dropped unrun.
        let open = OpenConnection(thread.open.clone());
        thread.runtime.spawn(async move {
            let _open = open;
            connection.await;
        });
    }

    /// Stop every thread once its connections are done with, and wait.
    async fn stop(mut self) {
        self.stop.cancel();
        let threads: Vec<_> = std::mem::take(&mut self.threads)
            .into_iter()
            .map(|t| t.thread)
            .collect();
        let _ = tokio::task::spawn_blocking(move || {
            for thread in threads {
                let _ = thread.join();
            }
        })
        .await;
    }
}

impl Drop for ServingThreads {
    /// Serving stopped without [`ServingThreads::stop`] (its future was
    /// dropped): the threads end on their own.
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The life of a serving thread: make its runtime, report its handle (or
/// the failure) on `ready`, and drive it until `stop`. Then give the calls
/// it handed to the worker pool a while to end, since their timers and
/// sockets may be registered with this runtime, and drop it with the tasks
/// still there (sessions' workers).
fn serving_thread(
    ready: &std::sync::mpsc::Sender<std::io::Result<tokio::runtime::Handle>>,
    stop: &CancellationToken,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    if ready.send(Ok(runtime.handle().clone())).is_err() {
        return;
    }
    crate::runtime::mark_one_of_many_serving_threads();
    let handed_over = crate::runtime::calls_handed_over_from_this_thread();
    runtime.block_on(async {
        stop.cancelled().await;
        let deadline = tokio::time::Instant::now() + CLOSE_GRACE;
        while handed_over.load(Ordering::Acquire) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    drop(runtime);
}

/// Counts a connection among its thread's open ones while it lives.
struct OpenConnection(Arc<AtomicUsize>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt as _;

    /// One `GET /` on `stream` (kept alive); the body of the answer.
    async fn get(stream: &mut tokio::net::TcpStream) -> String {
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            let n = stream.read(&mut buf).await.unwrap();
            assert_ne!(n, 0, "the connection closed before the answer");
            answer.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&answer);
            let Some((head, body)) = text.split_once("\r\n\r\n") else {
                continue;
            };
            let length: usize = head
                .lines()
                .find_map(|line| {
                    line.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_owned)
                })
                .and_then(|value| value.trim().parse().ok())
                .expect("a content length");
            if body.len() >= length {
                return body[..length].to_owned();
            }
        }
    }

    /// The router of these tests answers with the name of the thread that
    /// ran the handler.
    fn thread_naming_app() -> axum::Router {
        axum::Router::new().route(
            "/",
            axum::routing::get(|| async {
                std::thread::current().name().unwrap_or_default().to_owned()
            }),
        )
    }

    /// Serve the thread-naming router on `threads` serving threads: its
    /// address, what stops it, and the serving task.
    async fn serving(
        threads: usize,
    ) -> (
        std::net::SocketAddr,
        CancellationToken,
        tokio::task::JoinHandle<()>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let served = tokio::spawn(serve(
            listener,
            thread_naming_app(),
            ListenerLimits::default(),
            Arc::new(Metrics::default()),
            threads,
            stop.clone().cancelled_owned(),
        ));
        (addr, stop, served)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_connection_stays_on_one_serving_thread_and_the_next_goes_to_the_least_busy() {
        let (addr, stop, served) = serving(2).await;
        let mut first = tokio::net::TcpStream::connect(addr).await.unwrap();
        let first_thread = get(&mut first).await;
        let mut second = tokio::net::TcpStream::connect(addr).await.unwrap();
        let second_thread = get(&mut second).await;
        assert!(first_thread.starts_with("http-"), "{first_thread}");
        assert!(second_thread.starts_with("http-"), "{second_thread}");
        assert_ne!(
            first_thread, second_thread,
            "the second connection goes to the thread serving none"
        );
        for _ in 0..10 {
            assert_eq!(get(&mut first).await, first_thread);
            assert_eq!(get(&mut second).await, second_thread);
        }
        // Once the first closes, its thread serves the fewest again.
        drop(first);
        let mut third = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut third_thread = get(&mut third).await;
        for _ in 0..50 {
            if third_thread == first_thread {
                break;
            }
            // The first connection's end may not have been counted yet.
            drop(third);
            tokio::time::sleep(Duration::from_millis(20)).await;
            third = tokio::net::TcpStream::connect(addr).await.unwrap();
            third_thread = get(&mut third).await;
        }
        assert_eq!(third_thread, first_thread);
        stop.cancel();
        tokio::time::timeout(CLOSE_GRACE * 2, served)
            .await
            .expect("serving ends, its threads stopped, once its connections are closed")
            .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn with_no_serving_threads_the_runtime_serves_the_connections() {
        let (addr, stop, served) = serving(0).await;
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let thread = get(&mut stream).await;
        assert!(!thread.starts_with("http-"), "{thread}");
        drop(stream);
        stop.cancel();
        served.await.unwrap();
    }
}
