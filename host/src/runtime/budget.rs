//! A plugin's budget across calls: how many of its calls may run at once,
//! and counters of what it was refused or stopped for (ready for a metrics
//! endpoint).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::notices::NoticeShare;

/// Counts of denials and limit hits for one plugin, and its shares of the
/// log and of notifications (shared by the plugin's versions).
#[derive(Debug)]
pub struct PluginCounters {
    pub denials: AtomicU64,
    pub deadlines: AtomicU64,
    pub memory: AtomicU64,
    pub fuel: AtomicU64,
    pub traps: AtomicU64,
    pub busy: AtomicU64,
    pub oversized: AtomicU64,
    /// Times an instance grew its linear memory past what it started with.
    pub memory_grows: AtomicU64,
    /// Lines of guest stdout/stderr dropped by the rate limit.
    pub output_dropped: AtomicU64,
    /// Key-value writes refused by the plugin's quota.
    pub keyvalue_quota: AtomicU64,
    /// Resource notices (updated, list changed) beyond the plugin's share
    /// that were merged into an identical held one, or dropped.
    pub notices_dropped: AtomicU64,
    /// The plugin's share of the log: lines of stdout and stderr.
    pub output_rate: RateLimit,
    /// The plugin's share of notifications to clients.
    pub notices: NoticeShare,
}

/// A token bucket: `per_second` events on average, bursts of `burst`.
#[derive(Debug)]
pub struct RateLimit {
    per_second: f64,
    burst: f64,
    state: std::sync::Mutex<(f64, std::time::Instant)>,
}

impl RateLimit {
    pub fn new(per_second: f64, burst: f64) -> Self {
        Self {
            per_second,
            burst,
            state: std::sync::Mutex::new((burst, std::time::Instant::now())),
        }
    }

    pub fn per_second(&self) -> f64 {
        self.per_second
    }

    /// Give back one event's token (taken but not spent).
    pub fn refund(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.0 = (state.0 + 1.0).min(self.burst);
    }

    /// Whether one more event fits now.
    pub fn allow(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, last) = &mut *state;
        let now = std::time::Instant::now();
        *tokens =
            (*tokens + now.duration_since(*last).as_secs_f64() * self.per_second).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Lines of guest output per second one plugin may log (bursts of twice).
pub const OUTPUT_LINES_PER_SECOND: f64 = 200.0;

impl Default for PluginCounters {
    fn default() -> Self {
        Self {
            denials: AtomicU64::default(),
            deadlines: AtomicU64::default(),
            memory: AtomicU64::default(),
            fuel: AtomicU64::default(),
            traps: AtomicU64::default(),
            busy: AtomicU64::default(),
            oversized: AtomicU64::default(),
            memory_grows: AtomicU64::default(),
            output_dropped: AtomicU64::default(),
            keyvalue_quota: AtomicU64::default(),
            notices_dropped: AtomicU64::default(),
            output_rate: RateLimit::new(OUTPUT_LINES_PER_SECOND, 2.0 * OUTPUT_LINES_PER_SECOND),
            notices: NoticeShare::default(),
        }
    }
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    pub denials: u64,
    pub deadlines: u64,
    pub memory: u64,
    pub fuel: u64,
    pub traps: u64,
    pub busy: u64,
    pub oversized: u64,
    pub memory_grows: u64,
    pub output_dropped: u64,
    pub keyvalue_quota: u64,
    pub notices_dropped: u64,
}

impl PluginCounters {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> CounterSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CounterSnapshot {
            denials: get(&self.denials),
            deadlines: get(&self.deadlines),
            memory: get(&self.memory),
            fuel: get(&self.fuel),
            traps: get(&self.traps),
            busy: get(&self.busy),
            oversized: get(&self.oversized),
            memory_grows: get(&self.memory_grows),
            output_dropped: get(&self.output_dropped),
            keyvalue_quota: get(&self.keyvalue_quota),
            notices_dropped: get(&self.notices_dropped),
        }
    }
}

/// What one plugin's calls share.
#[derive(Debug)]
pub struct PluginBudget {
    /// One permit per call that may run at once; `None`: no per-plugin cap.
    concurrency: Option<Arc<Semaphore>>,
    pub max_concurrent: Option<u32>,
    pub counters: Arc<PluginCounters>,
    /// Live instances by session, for a `per-session` plugin.
    pub warm: Option<super::warm::WarmPool>,
}

impl PluginBudget {
    /// A budget counting into `counters` (shared by the plugin's versions).
    pub fn new(
        max_concurrent: Option<u32>,
        mode: crate::manifest::InstanceMode,
        counters: Arc<PluginCounters>,
    ) -> Self {
        Self {
            concurrency: max_concurrent.map(|n| Arc::new(Semaphore::new(n.max(1) as usize))),
            max_concurrent,
            counters,
            warm: (mode == crate::manifest::InstanceMode::PerSession)
                .then(super::warm::WarmPool::default),
        }
    }

    /// Wait (until `deadline`) for the plugin to have room for one more call.
    /// `Ok(None)` when there is no cap; `Err(())` when no room freed up.
    pub async fn admit(
        &self,
        deadline: std::time::Instant,
    ) -> Result<Option<OwnedSemaphorePermit>, ()> {
        let Some(semaphore) = &self.concurrency else {
            return Ok(None);
        };
        match tokio::time::timeout_at(deadline.into(), semaphore.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Some(permit)),
            _ => Err(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn a_full_plugin_turns_calls_away_after_waiting() {
        let budget = PluginBudget::new(Some(1), Default::default(), Arc::default());
        let soon = || Instant::now() + Duration::from_millis(50);
        let first = budget.admit(soon()).await.unwrap();
        assert!(first.is_some());
        assert!(
            budget.admit(soon()).await.is_err(),
            "the second call finds no room"
        );
        drop(first);
        assert!(budget.admit(soon()).await.unwrap().is_some());
        assert!(
            PluginBudget::new(None, Default::default(), Arc::default())
                .admit(soon())
                .await
                .unwrap()
                .is_none()
        );
    }
}
