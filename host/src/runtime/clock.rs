//! A call's wall-clock budget. Time the guest spends waiting for the client
//! (a user filling in a form, a model sampling, a call parked between two
//! rounds of a 2026-07-28 request) is not its own, so the clock can be
//! paused; the deadline moves by the paused time when it resumes.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;

/// The deadline of one call, pausable.
#[derive(Debug)]
pub(crate) struct CallClock {
    state: Mutex<ClockState>,
    changed: Notify,
}

#[derive(Debug)]
struct ClockState {
    deadline: Instant,
    /// Open pauses, and when the first of them began.
    pauses: u32,
    paused_since: Option<Instant>,
}

impl CallClock {
    pub(crate) fn new(deadline: Instant) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(ClockState {
                deadline,
                pauses: 0,
                paused_since: None,
            }),
            changed: Notify::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ClockState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// True once the (unpaused) deadline has passed.
    pub(crate) fn expired_now(&self) -> bool {
        let s = self.lock();
        s.pauses == 0 && Instant::now() >= s.deadline
    }

    /// Stop the clock until the guard is dropped.
    pub(crate) fn pause(self: &Arc<Self>) -> PauseGuard {
        let mut s = self.lock();
        if s.pauses == 0 {
            s.paused_since = Some(Instant::now());
        }
        s.pauses += 1;
        PauseGuard {
            clock: self.clone(),
        }
    }

    /// Resolves when the deadline passes while the clock runs.
    pub(crate) async fn expired(&self) {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let (deadline, paused) = {
                let s = self.lock();
                (s.deadline, s.pauses > 0)
            };
            if paused {
                notified.await;
                continue;
            }
            if Instant::now() >= deadline {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep_until(deadline.into()) => {}
                () = &mut notified => {}
            }
        }
    }
}

/// Restarts the clock (moving the deadline by the paused time) when dropped.
#[must_use = "the clock restarts when the guard is dropped"]
pub(crate) struct PauseGuard {
    clock: Arc<CallClock>,
}

impl Drop for PauseGuard {
    fn drop(&mut self) {
        let mut s = self.clock.lock();
        s.pauses -= 1;
        if s.pauses == 0
            && let Some(since) = s.paused_since.take()
        {
            s.deadline += since.elapsed();
        }
        drop(s);
        self.clock.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn paused_time_does_not_count() {
        let clock = CallClock::new(Instant::now() + Duration::from_millis(100));
        let guard = clock.pause();
        let waiter = {
            let clock = clock.clone();
            tokio::spawn(async move { clock.expired().await })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!clock.expired_now(), "a paused clock never expires");
        assert!(!waiter.is_finished());
        drop(guard);
        assert!(!clock.expired_now(), "the deadline moved by the pause");
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(clock.expired_now());
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("the waiter sees the moved deadline pass")
            .unwrap();
    }
}
