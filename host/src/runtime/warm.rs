//! Warm instances of plugins whose manifest asks for `instance =
//! "per-session"`: one live instance per session, reused by that session's
//! calls one at a time, so a plugin with a costly start (a language runtime,
//! a parsed data set) pays it once per session instead of once per call.
//! What the instance keeps in its memory is visible to later calls of the
//! same session and never to another session.
//!
//! An instance goes back to the pool only after a call that finished (with a
//! result or a tool error); a trap, an exceeded limit or a cancellation
//! drops it, and the session's next call starts a fresh one (on the
//! plugin's spare, [`super::spare`], when one is ready). A closed session's
//! instance is dropped at once ([`WarmPool::forget`]), instances idle
//! longer than [`IDLE_TIMEOUT`] too, and a plugin keeps at most
//! [`MAX_WARM`] of them, at most [`MAX_WARM_PER_OWNER`] for one
//! authenticated principal:
//! a principal at its share gives up its own least recently used place, and
//! a full pool takes a place from the principal holding the most, so one
//! principal opening sessions never pushes out another's instances.

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
/// The most warm instances one plugin keeps for one principal.
pub const MAX_WARM_PER_OWNER: usize = 8;

/// A live instance kept between calls, with the sandbox slot it occupies.
pub(crate) struct WarmInstance {
    pub store: Store<HostState>,
    pub instance: Instance,
    pub _slot: OwnedSemaphorePermit,
}

/// One session's place in the pool: holding its lock is running a call.
pub(crate) type WarmCell = Arc<tokio::sync::Mutex<Option<WarmInstance>>>;

/// One session's place, whose principal holds it, and when it was used.
struct Place {
    cell: WarmCell,
    owner: String,
    used: Instant,
}

/// The warm instances of one plugin, by session.
#[derive(Default)]
pub struct WarmPool {
    cells: Mutex<HashMap<String, Place>>,
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

    /// Drop the place of `session` (closed); a call still running there
    /// drops its instance when it ends.
    pub fn forget(&self, session: &str) {
        let place = self
            .cells
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(session);
        drop(place);
    }

    /// The place of `session` (of principal `owner`), made when missing.
    /// Idle places go first; then the owner's least recently used place no
    /// call is using when the owner holds its share, or, when the pool is
    /// full, that of the owner holding the most.
    pub(crate) fn cell(&self, owner: &str, session: &str) -> WarmCell {
        let now = Instant::now();
        let mut cells = self.cells.lock().unwrap_or_else(|e| e.into_inner());
        // A place a call holds (another reference) is never dropped under it.
        let in_use = |cell: &WarmCell| Arc::strong_count(cell) > 1;
        cells.retain(|_, p| in_use(&p.cell) || now.duration_since(p.used) < IDLE_TIMEOUT);
        if let Some(place) = cells.get_mut(session) {
            place.used = now;
            return place.cell.clone();
        }
        let held_by = |who: &str, cells: &HashMap<String, Place>| {
            cells.values().filter(|p| p.owner == who).count()
        };
        // Without authentication every session has the same owner (`""`),
        // whose share is the whole pool.
        let share = if owner.is_empty() {
            MAX_WARM
        } else {
            MAX_WARM_PER_OWNER
        };
        let evict_from = if held_by(owner, &cells) >= share {
            Some(owner.to_string())
        } else if cells.len() >= MAX_WARM {
            let mut counts: HashMap<&str, usize> = HashMap::new();
            for p in cells.values().filter(|p| !in_use(&p.cell)) {
                *counts.entry(p.owner.as_str()).or_default() += 1;
            }
            counts
                .into_iter()
                .max_by_key(|(_, n)| *n)
                .map(|(who, _)| who.to_string())
        } else {
            None
        };
        if let Some(who) = evict_from
            && let Some(oldest) = cells
                .iter()
                .filter(|(_, p)| p.owner == who && !in_use(&p.cell))
                .min_by_key(|(_, p)| p.used)
                .map(|(session, _)| session.clone())
        {
            cells.remove(&oldest);
        }
        let cell = WarmCell::default();
        cells.insert(
            session.to_string(),
            Place {
                cell: cell.clone(),
                owner: owner.to_string(),
                used: now,
            },
        );
        cell
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_per_session_and_bounded() {
        let pool = WarmPool::default();
        let a = pool.cell("p", "a");
        assert!(
            Arc::ptr_eq(&a, &pool.cell("p", "a")),
            "the same session's place"
        );
        assert!(!Arc::ptr_eq(&a, &pool.cell("p", "b")));
        drop(a);
        for i in 0..MAX_WARM + 5 {
            pool.cell(&format!("owner{}", i % 8), &format!("s{i}"));
        }
        assert_eq!(pool.len(), MAX_WARM);
        // Without authentication one owner may fill the pool.
        let pool = WarmPool::default();
        for i in 0..MAX_WARM + 5 {
            pool.cell("", &format!("s{i}"));
        }
        assert_eq!(pool.len(), MAX_WARM);
        // A place in use survives eviction.
        let pool = WarmPool::default();
        let held = pool.cell("p", "held");
        for i in 0..MAX_WARM + 5 {
            pool.cell("p", &format!("s{i}"));
        }
        assert!(Arc::ptr_eq(&held, &pool.cell("p", "held")));
    }

    #[test]
    fn a_closed_sessions_place_goes_while_a_running_call_keeps_its_own() {
        let pool = WarmPool::default();
        let running = pool.cell("p", "closing");
        pool.cell("p", "other");
        pool.forget("closing");
        assert_eq!(pool.len(), 1, "only the other session's place is left");
        // The call still holds its place; the session, were it named
        // again, would get a new one, never the instance the call hands back.
        assert!(!Arc::ptr_eq(&running, &pool.cell("p", "closing")));
        pool.forget("no such session");
        assert_eq!(pool.len(), 2);
    }

    #[test]
    fn one_principal_cannot_push_out_anothers_places() {
        let pool = WarmPool::default();
        let mine: Vec<WarmCell> = (0..4)
            .map(|i| pool.cell("alice", &format!("a{i}")))
            .collect();
        drop(mine);
        for i in 0..10 * MAX_WARM {
            pool.cell("mallory", &format!("m{i}"));
        }
        let cells = pool.cells.lock().unwrap();
        assert_eq!(
            cells.values().filter(|p| p.owner == "mallory").count(),
            MAX_WARM_PER_OWNER
        );
        assert_eq!(cells.values().filter(|p| p.owner == "alice").count(), 4);
    }
}
