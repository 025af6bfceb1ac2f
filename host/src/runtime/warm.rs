//! Warm instances of plugins whose manifest asks for `instance =
//! "per-session"`: one live instance per session, reused by that session's
//! calls one at a time, so a plugin with a costly start (a language runtime,
//! a parsed data set) pays it once per session instead of once per call.
//! What the instance keeps in its memory is visible to later calls of the
//! same session and never to another session.
//!
//! An instance goes back to the pool only after a call that finished (with a
//! result or a tool error); a trap, an exceeded limit or a cancellation
//! drops it, and the session's next call starts a fresh one. Instances idle
//! longer than [`IDLE_TIMEOUT`] are dropped, and a plugin keeps at most
//! [`MAX_WARM`] of them (the least recently used goes first).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OwnedSemaphorePermit;
use wasmtime::Store;
use wasmtime::component::Instance;

use super::HostState;

/// How long an unused warm instance lives.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// The most warm instances one plugin keeps.
pub const MAX_WARM: usize = 32;

/// A live instance kept between calls, with the sandbox slot it occupies.
pub(crate) struct WarmInstance {
    pub store: Store<HostState>,
    pub instance: Instance,
    pub _slot: OwnedSemaphorePermit,
}

/// One session's place in the pool: holding its lock is running a call.
pub(crate) type WarmCell = Arc<tokio::sync::Mutex<Option<WarmInstance>>>;

/// The warm instances of one plugin, by session.
#[derive(Default)]
pub struct WarmPool {
    cells: Mutex<HashMap<String, (WarmCell, Instant)>>,
}

impl std::fmt::Debug for WarmPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WarmPool")
            .field("sessions", &self.len())
            .finish()
    }
}

impl WarmPool {
    /// Sessions with a place in the pool.
    pub fn len(&self) -> usize {
        self.cells.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The place of `session`, made when missing. Idle places go first; when
    /// the pool is full, the least recently used place no call is using.
    pub(crate) fn cell(&self, session: &str) -> WarmCell {
        let now = Instant::now();
        let mut cells = self.cells.lock().unwrap_or_else(|e| e.into_inner());
        // A place a call holds (another reference) is never dropped under it.
        let in_use = |cell: &WarmCell| Arc::strong_count(cell) > 1;
        cells.retain(|_, (cell, used)| in_use(cell) || now.duration_since(*used) < IDLE_TIMEOUT);
        if let Some((cell, used)) = cells.get_mut(session) {
            *used = now;
            return cell.clone();
        }
        if cells.len() >= MAX_WARM
            && let Some(oldest) = cells
                .iter()
                .filter(|(_, (cell, _))| !in_use(cell))
                .min_by_key(|(_, (_, used))| *used)
                .map(|(session, _)| session.clone())
        {
            cells.remove(&oldest);
        }
        let cell = WarmCell::default();
        cells.insert(session.to_string(), (cell.clone(), now));
        cell
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_per_session_and_bounded() {
        let pool = WarmPool::default();
        let a = pool.cell("a");
        assert!(Arc::ptr_eq(&a, &pool.cell("a")), "the same session's place");
        assert!(!Arc::ptr_eq(&a, &pool.cell("b")));
        drop(a);
        for i in 0..MAX_WARM + 5 {
            pool.cell(&format!("s{i}"));
        }
        assert_eq!(pool.len(), MAX_WARM);
        // A place in use survives eviction.
        let pool = WarmPool::default();
        let held = pool.cell("held");
        for i in 0..MAX_WARM + 5 {
            pool.cell(&format!("s{i}"));
        }
        assert!(Arc::ptr_eq(&held, &pool.cell("held")));
    }
}
