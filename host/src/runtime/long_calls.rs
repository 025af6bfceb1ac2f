//! Fair shares of the cores between short calls and calls that run long.
//!
//! A sandbox bounds a call's memory and time, not its share of the CPU: a
//! plugin whose calls compute until their deadline would otherwise hold
//! every worker thread, and the short calls of every other plugin would
//! queue behind them. So a call whose guest has reached its epoch callback
//! [`LONG_AFTER_TICKS`] times (it was computing when the epoch advanced, or
//! came back from the host after it did) runs only in *turns*: at each epoch tick it gives
//! up the CPU and waits for the next turn. The epoch ticker hands out at
//! most [`LongCalls::lanes`] turns per tick (by default one core fewer than
//! the machine has), and while short calls keep arriving it hands them out
//! only every other tick. Turns go to waiting calls first come, first
//! served, so long calls share their lanes evenly; a waiting call uses no
//! CPU and still stops at its deadline or when it is cancelled.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::metrics::Metrics;

/// Epoch ticks a guest meets in one call before the call counts as long:
/// about 15–20 ms of computing. A short call rarely meets one.
pub const LONG_AFTER_TICKS: u32 = 4;

/// For how long after a short call began long calls yield every other
/// tick to short ones.
const SHORT_TRAFFIC_RECENT: Duration = Duration::from_millis(20);

/// The turns of long calls, shared by every call of the runtime.
#[derive(Debug)]
pub struct LongCalls {
    turns: Arc<Semaphore>,
    lanes: usize,
    /// When a call last began, in nanoseconds after `origin`; 0: never.
    last_start: AtomicU64,
    origin: Instant,
    /// Ticks handed out so far, to halve the turns under short traffic.
    ticks: AtomicU64,
    metrics: Arc<Metrics>,
}

impl LongCalls {
    /// `lanes` turns per tick; 0 picks one fewer than the cores (at least 1).
    pub fn new(lanes: usize, metrics: Arc<Metrics>) -> Self {
        let lanes = match lanes {
            0 => default_lanes(),
            n => n,
        };
        Self {
            turns: Arc::new(Semaphore::new(lanes)),
            lanes,
            last_start: AtomicU64::new(0),
            origin: Instant::now(),
            ticks: AtomicU64::new(0),
            metrics,
        }
    }

    /// How many long calls may compute at once.
    pub fn lanes(&self) -> usize {
        self.lanes
    }

    /// Note that a call began (every call is short when it begins).
    pub(crate) fn call_began(&self) {
        let nanos = u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.last_start.store(nanos.max(1), Ordering::Relaxed);
    }

    fn short_traffic(&self) -> bool {
        let last = self.last_start.load(Ordering::Relaxed);
        last != 0
            && u128::from(last) + SHORT_TRAFFIC_RECENT.as_nanos()
                >= self.origin.elapsed().as_nanos()
    }

    /// The epoch ticked: top the turns up to one per lane (every other
    /// tick while short calls keep arriving). Called by the epoch ticker.
    pub(crate) fn tick(&self) {
        let tick = self.ticks.fetch_add(1, Ordering::Relaxed);
        if tick % 2 == 1 && self.short_traffic() {
            return;
        }
        let available = self.turns.available_permits();
        if available < self.lanes {
            self.turns.add_permits(self.lanes - available);
        }
    }

    /// Wait for a long call's next turn (the first time, count the call
    /// as long).
    pub(crate) fn next_turn(
        self: &Arc<Self>,
        first: bool,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        let this = self.clone();
        Box::pin(async move {
            if first {
                this.metrics.long_calls.fetch_add(1, Ordering::Relaxed);
            }
            let _waiting = Waiting::new(&this.metrics.long_calls_waiting);
            // The semaphore is never closed; a turn is used up, not returned.
            if let Ok(turn) = this.turns.acquire().await {
                turn.forget();
            }
        })
    }
}

/// One fewer than the cores, at least one.
fn default_lanes() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .saturating_sub(1)
        .max(1)
}

/// A long call waiting for its turn; dropping it ends the wait.
struct Waiting<'a>(&'a AtomicU64);

impl<'a> Waiting<'a> {
    fn new(gauge: &'a AtomicU64) -> Self {
        gauge.fetch_add(1, Ordering::Relaxed);
        Self(gauge)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turns(calls: &Arc<LongCalls>, waiters: usize) -> usize {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut granted = 0;
            for _ in 0..waiters {
                let turn = calls.next_turn(false);
                if tokio::time::timeout(Duration::from_millis(20), turn)
                    .await
                    .is_ok()
                {
                    granted += 1;
                }
            }
            granted
        })
    }

    #[test]
    fn a_tick_hands_out_one_turn_per_lane_and_never_stores_more() {
        let calls = Arc::new(LongCalls::new(2, Arc::default()));
        assert_eq!(turns(&calls, 3), 2, "two lanes: two turns before any tick");
        calls.tick();
        calls.tick();
        calls.tick();
        assert_eq!(turns(&calls, 4), 2, "ticks top up to the lanes, not beyond");
    }

    #[test]
    fn under_short_traffic_long_calls_get_turns_every_other_tick() {
        let calls = Arc::new(LongCalls::new(1, Arc::default()));
        assert_eq!(turns(&calls, 1), 1);
        let mut granted = 0;
        for _ in 0..4 {
            calls.call_began();
            calls.tick();
            granted += turns(&calls, 1);
        }
        assert_eq!(granted, 2, "half the ticks while short calls arrive");
        std::thread::sleep(SHORT_TRAFFIC_RECENT + Duration::from_millis(5));
        let mut granted = 0;
        for _ in 0..4 {
            calls.tick();
            granted += turns(&calls, 1);
        }
        assert_eq!(granted, 4, "every tick once they stopped");
    }

    #[test]
    fn a_waiting_call_is_counted_until_it_gets_its_turn_or_gives_up() {
        let metrics: Arc<Metrics> = Arc::default();
        let calls = Arc::new(LongCalls::new(1, metrics.clone()));
        assert_eq!(turns(&calls, 2), 1);
        assert_eq!(metrics.long_calls_waiting.load(Ordering::Relaxed), 0);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let waiting = tokio::spawn(calls.next_turn(true));
            tokio::task::yield_now().await;
            assert_eq!(metrics.long_calls_waiting.load(Ordering::Relaxed), 1);
            assert_eq!(metrics.long_calls.load(Ordering::Relaxed), 1);
            calls.tick();
            waiting.await.unwrap();
        });
        assert_eq!(metrics.long_calls_waiting.load(Ordering::Relaxed), 0);
    }
}
