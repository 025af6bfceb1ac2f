//! A plugin's budget across calls: how many of its calls may run at once,
//! where it counts what it was refused or stopped for (the
//! [metrics](crate::metrics)' counters), and its shares of the log and of
//! notifications.

use std::sync::Arc;

pub use crate::metrics::{CounterSnapshot, PluginCounters};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::notices::NoticeShare;

/// A plugin's shares of the log and of notifications to clients (shared
/// by the plugin's versions).
#[derive(Debug)]
pub struct PluginShares {
    /// Lines of stdout and stderr.
    pub output_rate: RateLimit,
    /// Resource notices.
    pub notices: NoticeShare,
}

impl Default for PluginShares {
    fn default() -> Self {
        Self {
            output_rate: RateLimit::new(OUTPUT_LINES_PER_SECOND, 2.0 * OUTPUT_LINES_PER_SECOND),
            notices: NoticeShare::default(),
        }
    }
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

/// What one plugin's calls share.
#[derive(Debug)]
pub struct PluginBudget {
    /// One permit per call that may run at once; `None`: no per-plugin cap.
    concurrency: Option<Arc<Semaphore>>,
    pub max_concurrent: Option<u32>,
    pub counters: Arc<PluginCounters>,
    pub shares: Arc<PluginShares>,
    /// Live instances by session, for a `per-session` plugin.
    pub warm: Option<super::warm::WarmPool>,
    /// How long its tool calls took lately (where they run).
    pub pace: super::placement::CallPace,
    /// How long its resource, prompt and completion exports took lately
    /// (where they run); apart from `pace`, which also says whether tool
    /// calls come in quick succession.
    pub export_pace: super::placement::CallPace,
    /// The instance made ahead for its next call ([`super::spare`]).
    pub(crate) spare: Arc<super::spare::SpareCell>,
}

impl PluginBudget {
    /// A budget counting into `counters` and drawing on `shares` (both
    /// shared by the plugin's versions).
    pub fn new(
        max_concurrent: Option<u32>,
        mode: crate::manifest::InstanceMode,
        counters: Arc<PluginCounters>,
        shares: Arc<PluginShares>,
    ) -> Self {
        Self {
            concurrency: max_concurrent.map(|n| Arc::new(Semaphore::new(n.max(1) as usize))),
            max_concurrent,
            counters,
            shares,
            warm: (mode == crate::manifest::InstanceMode::PerSession)
                .then(super::warm::WarmPool::default),
            pace: super::placement::CallPace::default(),
            export_pace: super::placement::CallPace::default(),
            spare: Arc::default(),
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
        let budget = PluginBudget::new(Some(1), Default::default(), Arc::default(), Arc::default());
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
            PluginBudget::new(None, Default::default(), Arc::default(), Arc::default())
                .admit(soon())
                .await
                .unwrap()
                .is_none()
        );
    }
}
