//! Where a tool call runs. A host serving only stdio handles its one
//! session on a single thread, so that a request reaches its response
//! without hand-offs between threads; there a call runs on that thread
//! while no other call does, and a call that overlaps a running one goes to
//! a worker pool (one thread per core, started the first time it is
//! needed), so parallel calls still use every core. Over HTTP each
//! connection is served by one of several serving threads (each its own
//! single-threaded runtime, see `listener`), and a session's requests are
//! handled on the thread where it began; the sessions spread the calls
//! over the cores, so a call runs on its session's thread even when others
//! do. Either way a call of a plugin whose recent calls took
//! long ([`CallPace`]) goes to the pool: run inline, it would hold a
//! serving thread, which could not read its next requests until it
//! finished, and calls sent together would run one after another; and a
//! call that began inline and has computed there for [`HAND_OVER_AFTER`]
//! (typically a guest computing until its first epoch tick) is handed to
//! the pool for the rest. On a multi-threaded runtime (a host serving
//! stdio and HTTP together, tests) every call runs where its request is
//! handled.

use std::cell::Cell;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::runtime::RuntimeFlavor;

/// How long a call may compute on a serving thread before the rest of it
/// goes to the worker pool: as long as the calls of a plugin must take
/// lately for the next to go there at once.
pub const HAND_OVER_AFTER: Duration = CallPace::LONG;

/// Runs calls inline or on the worker pool; see the module docs.
#[derive(Default)]
pub struct CallPlacement {
    /// A call is running on the serving thread.
    inline_busy: AtomicBool,
    /// The worker pool, once a call needed it; `None` if it could not start.
    pool: OnceLock<Option<tokio::runtime::Runtime>>,
}

impl std::fmt::Debug for CallPlacement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallPlacement")
            .field("inline_busy", &self.inline_busy.load(Ordering::Relaxed))
            .field(
                "pool_started",
                &self.pool.get().is_some_and(Option::is_some),
            )
            .finish()
    }
}

impl CallPlacement {
    /// Run `call` to completion, where the module docs say; `pace` says
    /// how long the calls like it took lately. A panic in it propagates to
    /// the caller either way; dropping the returned future stops the call
    /// either way. The call is given boxed (`Unpin`): it may be moved to the
    /// pool after it began.
    pub async fn run<F>(&self, pace: &CallPace, call: F) -> F::Output
    where
        F: Future + Send + Unpin + 'static,
        F::Output: Send + 'static,
    {
        match ServingThread::current() {
            ServingThread::Worker => return call.await,
            ServingThread::OneOfMany if !pace.runs_long() => {
                return self.inline_while_quick(call, None).await;
            }
            ServingThread::OneSession
                if !pace.runs_long() && !self.inline_busy.swap(true, Ordering::AcqRel) =>
            {
                let busy = ClearOnDrop(&self.inline_busy);
                return self.inline_while_quick(call, Some(busy)).await;
            }
            ServingThread::OneSession | ServingThread::OneOfMany => {}
        }
        self.on_pool(call).await
    }

    /// Run `call` on this serving thread until it has computed here for
    /// [`HAND_OVER_AFTER`] in all (a guest computing until its epoch
    /// callback yields, say), then hand the rest of it to the pool: on a
    /// single-threaded runtime a computing call would take the thread in
    /// turns of an epoch tick from everything else it serves, and the
    /// runtime looks at its sockets and at tasks woken from other threads
    /// only every few dozen turns. Time spent waiting (for the host, the
    /// client, a timer) does not count. `busy` is released at the hand-over.
    async fn inline_while_quick<F>(&self, mut call: F, busy: Option<ClearOnDrop<'_>>) -> F::Output
    where
        F: Future + Send + Unpin + 'static,
        F::Output: Send + 'static,
    {
        let mut computed = Duration::ZERO;
        let finished = std::future::poll_fn(|cx| {
            let began = Instant::now();
            let polled = std::pin::Pin::new(&mut call).poll(cx);
            computed += began.elapsed();
            match polled {
                Poll::Ready(output) => Poll::Ready(Some(output)),
                Poll::Pending if computed >= HAND_OVER_AFTER => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            }
        })
        .await;
        match finished {
            Some(output) => output,
            None => {
                drop(busy);
                let still_running = HandedOver::new();
                self.on_pool(async move {
                    let _still_running = still_running;
                    call.await
                })
                .await
            }
        }
    }

    /// Run `call` on the worker pool (on this thread if it cannot start).
    async fn on_pool<F>(&self, call: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let Some(pool) = self.pool.get_or_init(start_pool) else {
            return call.await;
        };
        let mut task = AbortOnDrop(pool.spawn(call));
        match (&mut task.0).await {
            Ok(output) => output,
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(error) => unreachable!("a call task is aborted only when dropped: {error}"),
        }
    }

    /// What the current thread is to the server.
    pub fn serving_thread(&self) -> ServingThread {
        ServingThread::current()
    }

    /// Run `work` in the background, where it holds up no request: on the
    /// worker pool from a serving thread, otherwise as a task of the
    /// current runtime. Outside a runtime it is dropped.
    pub fn spawn_detached<F>(&self, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let Ok(current) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if ServingThread::current() != ServingThread::Worker
            && let Some(pool) = self.pool.get_or_init(start_pool)
        {
            pool.spawn(work);
        } else {
            current.spawn(work);
        }
    }

    /// Run `work` on the current thread once the tasks ready now have run
    /// (an answer on its way out, say), ahead of nothing the runtime
    /// already had to do. Outside a runtime it is dropped.
    pub fn spawn_when_idle<F>(&self, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let Ok(current) = tokio::runtime::Handle::try_current() else {
            return;
        };
        current.spawn(async move {
            // A yielded task runs again after the others ready and a look
            // at the event loop.
            tokio::task::yield_now().await;
            work.await;
        });
    }
}

impl Drop for CallPlacement {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which an async context forbids.
        if let Some(Some(pool)) = self.pool.take() {
            pool.shutdown_background();
        }
    }
}

thread_local! {
    /// Set on each of the HTTP serving threads.
    static ONE_OF_MANY: Cell<bool> = const { Cell::new(false) };
    /// Calls this thread handed to the pool that have not ended yet.
    static HANDED_OVER: Arc<AtomicUsize> = Arc::default();
}

/// How many calls the current thread handed to the worker pool are still
/// running there. Their timers and sockets may be registered with this
/// thread's runtime, which should outlive them.
pub fn calls_handed_over_from_this_thread() -> Arc<AtomicUsize> {
    HANDED_OVER.with(Arc::clone)
}

/// Mark the current thread as one of several serving threads, each running
/// a single-threaded runtime of its own (the HTTP listener's).
pub fn mark_one_of_many_serving_threads() {
    ONE_OF_MANY.with(|one| one.set(true));
}

/// What a thread is to the server, which says where calls run and where a
/// spare instance is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServingThread {
    /// The one thread of a host serving only stdio: one session.
    OneSession,
    /// One of the HTTP serving threads, serving the connections handed to
    /// it.
    OneOfMany,
    /// A worker of a multi-threaded runtime, or no runtime at all.
    Worker,
}

impl ServingThread {
    fn current() -> Self {
        let single = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::CurrentThread);
        match (single, ONE_OF_MANY.with(Cell::get)) {
            (false, _) => ServingThread::Worker,
            (true, false) => ServingThread::OneSession,
            (true, true) => ServingThread::OneOfMany,
        }
    }
}

/// How long a plugin's calls took lately: a moving average of their
/// durations, which [`CallPlacement`] reads to keep long calls off the
/// serving thread; and whether they come in quick succession, which says
/// whether an instance made ahead for the next call will be used soon.
#[derive(Debug, Default)]
pub struct CallPace {
    /// The average, in microseconds; 0 before the first call.
    recent_micros: AtomicU64,
    /// When the latest call ended, in microseconds after [`origin`]; 0
    /// before the first.
    last_end_micros: AtomicU64,
    /// The last call began within [`CallPace::CHAINED`] of the end of the
    /// one before, or while it ran.
    chained: AtomicBool,
}

impl CallPace {
    /// Calls that took at least this long lately run on the pool: handing a
    /// call to another thread costs a wake-up (tens of microseconds on a
    /// virtual machine), a few percent of such a call.
    pub const LONG: Duration = Duration::from_millis(1);

    /// A call that begins within this of the end of the one before comes
    /// in quick succession (an agent chaining calls, or a busy server).
    pub const CHAINED: Duration = Duration::from_millis(1);

    /// Count one call that took `duration` and just ended; each call weighs
    /// a quarter in the average.
    pub fn record(&self, duration: Duration) {
        let took = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
        let recent = self.recent_micros.load(Ordering::Relaxed);
        let next = if recent == 0 {
            took.max(1)
        } else {
            (recent.saturating_mul(3).saturating_add(took) / 4).max(1)
        };
        self.recent_micros.store(next, Ordering::Relaxed);
        let now = micros_since_origin().max(1);
        let began = now.saturating_sub(took);
        let last_end = self.last_end_micros.fetch_max(now, Ordering::Relaxed);
        let chained =
            last_end != 0 && began.saturating_sub(last_end) < Self::CHAINED.as_micros() as u64;
        self.chained.store(chained, Ordering::Relaxed);
    }

    /// Whether the calls took [`CallPace::LONG`] or more lately.
    pub fn runs_long(&self) -> bool {
        self.recent_micros.load(Ordering::Relaxed) >= Self::LONG.as_micros() as u64
    }

    /// Whether the last call came in quick succession of the one before.
    pub fn chained(&self) -> bool {
        self.chained.load(Ordering::Relaxed)
    }
}

/// When the process first timed a call: the origin of [`CallPace`]'s times.
fn origin() -> std::time::Instant {
    static ORIGIN: OnceLock<std::time::Instant> = OnceLock::new();
    *ORIGIN.get_or_init(std::time::Instant::now)
}

fn micros_since_origin() -> u64 {
    u64::try_from(origin().elapsed().as_micros()).unwrap_or(u64::MAX)
}

fn start_pool() -> Option<tokio::runtime::Runtime> {
    let started = tokio::runtime::Builder::new_multi_thread()
        .thread_name("call-worker")
        .enable_all()
        .build();
    match started {
        Ok(pool) => Some(pool),
        Err(e) => {
            tracing::warn!(
                "cannot start the call worker pool, overlapping calls share one thread: {e}"
            );
            None
        }
    }
}

/// Counts a call among those its serving thread handed over, until it
/// ends (or is dropped unfinished).
struct HandedOver(Arc<AtomicUsize>);

impl HandedOver {
    fn new() -> Self {
        let count = calls_handed_over_from_this_thread();
        count.fetch_add(1, Ordering::AcqRel);
        Self(count)
    }
}

impl Drop for HandedOver {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

struct ClearOnDrop<'a>(&'a AtomicBool);

impl Drop for ClearOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    fn single_threaded() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    fn thread_name() -> String {
        std::thread::current()
            .name()
            .unwrap_or_default()
            .to_string()
    }

    /// `call` placed as a call at the default pace, in a task of its own.
    fn spawn_call<T: Send + 'static>(
        placement: &Arc<CallPlacement>,
        call: std::pin::Pin<Box<dyn Future<Output = T> + Send>>,
    ) -> tokio::task::JoinHandle<T> {
        let placement = placement.clone();
        tokio::spawn(async move { placement.run(&CallPace::default(), call).await })
    }

    /// Two calls, the second made while the first runs: the threads each
    /// ran on.
    async fn two_overlapping_calls(placement: &Arc<CallPlacement>) -> (String, String) {
        let (release, hold) = tokio::sync::oneshot::channel::<()>();
        let first = spawn_call(
            placement,
            Box::pin(async move {
                let name = thread_name();
                let _ = hold.await;
                name
            }),
        );
        tokio::task::yield_now().await;
        let second = placement
            .run(&CallPace::default(), Box::pin(async { thread_name() }))
            .await;
        release.send(()).unwrap();
        (first.await.unwrap(), second)
    }

    #[test]
    fn calls_in_quick_succession_are_chained_and_a_pause_breaks_the_chain() {
        let pace = CallPace::default();
        pace.record(Duration::from_micros(10));
        assert!(!pace.chained(), "the first call follows none");
        pace.record(Duration::from_micros(10));
        assert!(pace.chained(), "it began right after the first ended");
        std::thread::sleep(CallPace::CHAINED * 3);
        pace.record(Duration::from_micros(10));
        assert!(!pace.chained(), "it began after a pause");
        // A call that ran while the one before it was still running.
        pace.record(CallPace::CHAINED * 10);
        assert!(pace.chained());
    }

    #[test]
    fn work_spawned_when_idle_runs_after_what_was_ready() {
        let rt = single_threaded();
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        rt.block_on(async {
            let placement = CallPlacement::default();
            let (send, answer_ready) = tokio::sync::oneshot::channel::<()>();
            let answer = tokio::spawn({
                let order = order.clone();
                async move {
                    let _ = answer_ready.await;
                    order.lock().unwrap().push("answer");
                }
            });
            // Yield once, so the answer's task waits on its channel.
            tokio::task::yield_now().await;
            let (done, spare_made) = tokio::sync::oneshot::channel::<()>();
            placement.spawn_when_idle({
                let order = order.clone();
                async move {
                    order.lock().unwrap().push("spare");
                    let _ = done.send(());
                }
            });
            // The answer becomes ready after the spare's task was spawned.
            send.send(()).unwrap();
            answer.await.unwrap();
            spare_made.await.unwrap();
        });
        assert_eq!(*order.lock().unwrap(), ["answer", "spare"]);
    }

    #[test]
    fn on_one_thread_a_lone_call_runs_inline_and_an_overlapping_one_on_the_pool() {
        let rt = single_threaded();
        let placement = Arc::new(CallPlacement::default());
        let (first, second) = rt.block_on(two_overlapping_calls(&placement));
        assert_ne!(
            first, "call-worker",
            "the lone call runs on the serving thread"
        );
        assert_eq!(
            second, "call-worker",
            "the overlapping call runs on the pool"
        );
        // With nothing running, the next call is inline again.
        let third =
            rt.block_on(placement.run(&CallPace::default(), Box::pin(async { thread_name() })));
        assert_eq!(third, first);
        drop(rt);
    }

    #[test]
    fn on_one_thread_a_lone_call_of_a_plugin_whose_calls_ran_long_goes_to_the_pool() {
        let rt = single_threaded();
        let placement = CallPlacement::default();
        let pace = CallPace::default();
        let serving = thread_name();
        pace.record(Duration::from_micros(40));
        assert!(!pace.runs_long());
        let quick = rt.block_on(placement.run(&pace, Box::pin(async { thread_name() })));
        assert_eq!(quick, serving, "a plugin of quick calls runs inline");
        for _ in 0..8 {
            pace.record(Duration::from_millis(3));
        }
        assert!(pace.runs_long());
        let long = rt.block_on(placement.run(&pace, Box::pin(async { thread_name() })));
        assert_eq!(
            long, "call-worker",
            "its calls now leave the serving thread"
        );
        // Quick calls again bring it back.
        for _ in 0..16 {
            pace.record(Duration::from_micros(40));
        }
        assert!(!pace.runs_long());
        let back = rt.block_on(placement.run(&pace, Box::pin(async { thread_name() })));
        assert_eq!(back, serving);
    }

    #[test]
    fn on_one_of_many_serving_threads_overlapping_calls_stay_and_long_ones_leave() {
        let placement = Arc::new(CallPlacement::default());
        let worker = placement.clone();
        let (serving, first, second, long, spare_where) = std::thread::spawn(move || {
            mark_one_of_many_serving_threads();
            let placement = worker;
            let rt = single_threaded();
            rt.block_on(async {
                let serving = thread_name();
                let (first, second) = two_overlapping_calls(&placement).await;
                let pace = CallPace::default();
                for _ in 0..8 {
                    pace.record(Duration::from_millis(3));
                }
                let long = placement
                    .run(&pace, Box::pin(async { thread_name() }))
                    .await;
                (serving, first, second, long, placement.serving_thread())
            })
        })
        .join()
        .unwrap();
        assert_eq!(first, serving, "a call runs on its connection's thread");
        assert_eq!(
            second, serving,
            "so does one that overlaps it: the connections spread the calls over the threads"
        );
        assert_eq!(long, "call-worker", "a plugin's long calls leave it");
        assert_eq!(spare_where, ServingThread::OneOfMany);
        assert_eq!(
            placement.serving_thread(),
            ServingThread::Worker,
            "outside a runtime"
        );
    }

    /// On a serving thread of each kind: the threads `call` ran on before
    /// and after it computed for `computing` without yielding, then waited.
    fn threads_of_a_call_computing_for(kind: ServingThread, computing: Duration) -> [String; 3] {
        std::thread::spawn(move || {
            if kind == ServingThread::OneOfMany {
                mark_one_of_many_serving_threads();
            }
            let rt = single_threaded();
            let placement = CallPlacement::default();
            rt.block_on(async {
                assert_eq!(placement.serving_thread(), kind);
                let serving = thread_name();
                let ran = placement
                    .run(
                        &CallPace::default(),
                        Box::pin(async move {
                            let before = thread_name();
                            // Computing: the thread is held, as by a guest
                            // until its epoch callback.
                            std::thread::sleep(computing);
                            tokio::task::yield_now().await;
                            // Waiting does not count as computing.
                            tokio::time::sleep(HAND_OVER_AFTER * 3).await;
                            (before, thread_name())
                        }),
                    )
                    .await;
                [serving, ran.0, ran.1]
            })
        })
        .join()
        .unwrap()
    }

    #[test]
    fn a_call_that_computes_on_a_serving_thread_leaves_it_for_the_pool() {
        for kind in [ServingThread::OneSession, ServingThread::OneOfMany] {
            let [serving, before, after] =
                threads_of_a_call_computing_for(kind, HAND_OVER_AFTER * 2);
            assert_eq!(before, serving, "{kind:?}: it begins inline");
            assert_eq!(after, "call-worker", "{kind:?}: the rest runs on the pool");
            let [serving, before, after] =
                threads_of_a_call_computing_for(kind, Duration::from_micros(50));
            assert_eq!(before, serving, "{kind:?}");
            assert_eq!(
                after, serving,
                "{kind:?}: a call that computes briefly and waits stays"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_many_threads_calls_run_where_they_are_awaited() {
        let placement = CallPlacement::default();
        let name = placement
            .run(&CallPace::default(), Box::pin(async { thread_name() }))
            .await;
        assert_ne!(name, "call-worker");
        assert!(placement.pool.get().is_none(), "no pool is started");
    }

    #[test]
    fn dropping_the_caller_stops_a_call_on_the_pool() {
        let rt = single_threaded();
        let placement = Arc::new(CallPlacement::default());
        let stopped = rt.block_on(async {
            let (_keep, hold) = tokio::sync::oneshot::channel::<()>();
            let inline = spawn_call(&placement, Box::pin(async move { hold.await.is_err() }));
            tokio::task::yield_now().await;
            let (dropped_tx, dropped_rx) = tokio::sync::oneshot::channel::<()>();
            struct Signal(Option<tokio::sync::oneshot::Sender<()>>);
            impl Drop for Signal {
                fn drop(&mut self) {
                    if let Some(tx) = self.0.take() {
                        let _ = tx.send(());
                    }
                }
            }
            let pace = CallPace::default();
            let pooled = placement.run(
                &pace,
                Box::pin(async move {
                    let _signal = Signal(Some(dropped_tx));
                    std::future::pending::<()>().await
                }),
            );
            // Give up on the pooled call after it has started.
            let _ = tokio::time::timeout(Duration::from_millis(50), pooled).await;
            let stopped = tokio::time::timeout(Duration::from_secs(10), dropped_rx)
                .await
                .is_ok();
            inline.abort();
            stopped
        });
        assert!(
            stopped,
            "the pooled call's future is dropped with its caller"
        );
    }
}
