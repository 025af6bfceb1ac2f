//! A plugin's notices to clients (a resource was updated, the resource list
//! changed): its share of them per second, and what happens to the ones
//! beyond it. Those are held back, merged with an identical one already
//! held, and sent once the share allows, so a flood costs clients at most
//! the share plus one trailing notice per distinct change, and the last
//! change is never lost. Notices say only *that* something changed
//! (clients re-read it), so merging identical ones loses nothing.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use super::budget::{PluginCounters, RateLimit};
use crate::context::BoxFuture;

/// Resource notices per second one plugin may send (bursts of twice).
pub const NOTICES_PER_SECOND: f64 = 20.0;

/// Distinct resource URIs held back at once; a flood of more is dropped
/// (and counted), the URIs already held still go out.
pub const MAX_HELD_URIS: usize = 256;

/// One notice a plugin sends to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    ResourceUpdated(String),
    ResourceListChanged,
}

/// What became of a notice offered to the share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Within the share: send it now.
    SendNow,
    /// Held back, and nothing else was: the caller starts [`NoticeShare::drain`].
    HeldStartDrain,
    /// Held back behind others; the running drain sends it.
    Held,
    /// An identical notice is already held: this one is merged into it.
    Merged,
    /// Too many distinct notices are held: dropped.
    Dropped,
}

/// Notices held back, waiting for the share.
#[derive(Debug, Default)]
struct Held {
    list_changed: bool,
    uris: BTreeSet<String>,
    /// A drain task is sending what is held.
    draining: bool,
}

impl Held {
    fn take_next(&mut self) -> Option<Notice> {
        if std::mem::take(&mut self.list_changed) {
            return Some(Notice::ResourceListChanged);
        }
        self.uris.pop_first().map(Notice::ResourceUpdated)
    }
}

/// One plugin's share of notices (shared by the plugin's versions).
#[derive(Debug)]
pub struct NoticeShare {
    rate: RateLimit,
    held: Mutex<Held>,
}

impl Default for NoticeShare {
    fn default() -> Self {
        Self::new(NOTICES_PER_SECOND, 2.0 * NOTICES_PER_SECOND)
    }
}

impl NoticeShare {
    pub fn new(per_second: f64, burst: f64) -> Self {
        Self {
            rate: RateLimit::new(per_second, burst),
            held: Mutex::new(Held::default()),
        }
    }

    /// Offer `notice`: send it now if the share allows and nothing is held
    /// (so notices keep their order), else hold it back. Notices merged or
    /// dropped are counted in `not_sent`.
    pub fn offer(&self, notice: Notice, not_sent: &AtomicU64) -> Admission {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if !held.draining && self.rate.allow() {
            return Admission::SendNow;
        }
        let admission = match notice {
            Notice::ResourceListChanged if held.list_changed => Admission::Merged,
            Notice::ResourceListChanged => {
                held.list_changed = true;
                Admission::Held
            }
            Notice::ResourceUpdated(uri) if held.uris.contains(&uri) => Admission::Merged,
            Notice::ResourceUpdated(_) if held.uris.len() >= MAX_HELD_URIS => Admission::Dropped,
            Notice::ResourceUpdated(uri) => {
                held.uris.insert(uri);
                Admission::Held
            }
        };
        match admission {
            Admission::Merged | Admission::Dropped => PluginCounters::bump(not_sent),
            _ if !held.draining => {
                held.draining = true;
                return Admission::HeldStartDrain;
            }
            _ => {}
        }
        admission
    }

    /// Send what is held, one notice each time the share allows, until
    /// nothing is. Run by the caller that got [`Admission::HeldStartDrain`].
    pub async fn drain<F>(&self, mut send: F)
    where
        F: FnMut(Notice) -> BoxFuture<'static, ()>,
    {
        let pause = Duration::from_secs_f64(1.0 / self.rate.per_second());
        loop {
            while !self.rate.allow() {
                tokio::time::sleep(pause).await;
            }
            let next = {
                let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
                match held.take_next() {
                    Some(next) => next,
                    None => {
                        held.draining = false;
                        // The token taken is not spent: give it back.
                        self.rate.refund();
                        return;
                    }
                }
            };
            send(next).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    fn updated(uri: &str) -> Notice {
        Notice::ResourceUpdated(uri.into())
    }

    #[test]
    fn within_the_share_notices_go_at_once() {
        let share = NoticeShare::new(1.0, 3.0);
        let not_sent = AtomicU64::new(0);
        for _ in 0..3 {
            assert_eq!(share.offer(updated("a"), &not_sent), Admission::SendNow);
        }
        assert_eq!(
            share.offer(updated("a"), &not_sent),
            Admission::HeldStartDrain
        );
        assert_eq!(share.offer(updated("a"), &not_sent), Admission::Merged);
        assert_eq!(share.offer(updated("b"), &not_sent), Admission::Held);
        assert_eq!(
            share.offer(Notice::ResourceListChanged, &not_sent),
            Admission::Held
        );
        assert_eq!(
            share.offer(Notice::ResourceListChanged, &not_sent),
            Admission::Merged
        );
        assert_eq!(not_sent.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_flood_of_distinct_uris_holds_a_bounded_number() {
        let share = NoticeShare::new(1.0, 1.0);
        let not_sent = AtomicU64::new(0);
        assert_eq!(share.offer(updated("first"), &not_sent), Admission::SendNow);
        let mut dropped = 0;
        for i in 0..MAX_HELD_URIS + 10 {
            if share.offer(updated(&format!("u{i}")), &not_sent) == Admission::Dropped {
                dropped += 1;
            }
        }
        assert_eq!(dropped, 10);
        assert_eq!(not_sent.load(Ordering::Relaxed), 10);
    }

    #[tokio::test]
    async fn the_drain_sends_each_held_change_once_within_the_share() {
        let share = Arc::new(NoticeShare::new(100.0, 2.0));
        let not_sent = AtomicU64::new(0);
        let mut sent_now = 0;
        let mut start_drain = 0;
        for i in 0..50 {
            let uri = if i == 49 { "last" } else { "busy" };
            match share.offer(updated(uri), &not_sent) {
                Admission::SendNow => sent_now += 1,
                Admission::HeldStartDrain => start_drain += 1,
                _ => {}
            }
        }
        assert_eq!(
            share.offer(Notice::ResourceListChanged, &not_sent),
            Admission::Held
        );
        assert_eq!(sent_now, 2, "the burst");
        assert_eq!(start_drain, 1, "one drain at a time");
        let sent = Arc::new(Mutex::new(Vec::new()));
        let record = sent.clone();
        share
            .drain(move |n| {
                record.lock().unwrap().push(n);
                Box::pin(async {})
            })
            .await;
        assert_eq!(
            *sent.lock().unwrap(),
            vec![
                Notice::ResourceListChanged,
                updated("busy"),
                updated("last")
            ],
            "each held change once, the last one included"
        );
        assert_eq!(not_sent.load(Ordering::Relaxed), 46, "merged into `busy`");
        // Drained: notices within the share go at once again.
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(share.offer(updated("x"), &not_sent), Admission::SendNow);
    }
}
