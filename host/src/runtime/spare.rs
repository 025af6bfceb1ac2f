//! Spare instances of `per-session` plugins: each version of such a plugin
//! keeps one instance made ahead of need, while no request waits for it,
//! and a session's first call starts on it instead of paying the
//! instantiation (milliseconds for a language runtime). The spare has run
//! nothing but its own instantiation, under the plugin's grants for every
//! caller, and goes to exactly one session; a new one is made after the
//! call that took it.
//!
//! Spares never cost a call its sandbox: one is made only while more than
//! half of the sandbox slots are free and fewer than [`MAX_SPARES`] exist,
//! and a call that finds no free slot first releases a spare
//! ([`SpareShelf::release_one`]). A plugin whose grants depend on the
//! caller gets none (a spare holds one set of grants), and neither does a
//! version whose spare failed to instantiate (it would fail again, at the
//! cost of a sandbox each time).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use super::warm::WarmInstance;
use super::{CallClock, Guest, Runtime};
use crate::context::CallContext;
use crate::metrics::PluginCounters;

/// The most spares the host keeps, over all plugins.
pub const MAX_SPARES: usize = 8;

/// The spare of one plugin version.
#[derive(Default)]
pub(crate) struct SpareCell {
    ready: Mutex<Option<WarmInstance>>,
    /// One is being made.
    making: AtomicBool,
    /// Making one failed: this version gets no more.
    failed: AtomicBool,
}

impl SpareCell {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<WarmInstance>> {
        self.ready.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The spare, if one is ready and holds `grants`; a spare holding other
    /// grants (the policy changed them) is dropped.
    pub(crate) fn take(&self, grants: &Arc<crate::policy::Grants>) -> Option<WarmInstance> {
        let spare = self.lock().take()?;
        Arc::ptr_eq(&spare.store.data().grants, grants).then_some(spare)
    }

    /// Start making one, unless one is ready or under way, or making one
    /// failed before.
    fn claim(&self) -> bool {
        !self.failed.load(Ordering::Relaxed)
            && self.lock().is_none()
            && !self.making.swap(true, Ordering::AcqRel)
    }

    fn is_ready(&self) -> bool {
        self.lock().is_some()
    }
}

impl std::fmt::Debug for SpareCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpareCell")
            .field("ready", &self.is_ready())
            .field("making", &self.making.load(Ordering::Relaxed))
            .field("failed", &self.failed.load(Ordering::Relaxed))
            .finish()
    }
}

/// Every spare of the host, held weakly (a spare lives and dies with its
/// plugin version), so a call short of a sandbox slot can release one.
#[derive(Debug, Default)]
pub(crate) struct SpareShelf {
    cells: Mutex<Vec<Weak<SpareCell>>>,
}

impl SpareShelf {
    fn cells(&self) -> std::sync::MutexGuard<'_, Vec<Weak<SpareCell>>> {
        self.cells.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Spares ready or under way.
    fn count(&self) -> usize {
        let mut cells = self.cells();
        cells.retain(|c| c.strong_count() > 0);
        cells
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|c| c.making.load(Ordering::Relaxed) || c.is_ready())
            .count()
    }

    fn add(&self, cell: &Arc<SpareCell>) {
        let mut cells = self.cells();
        if !cells.iter().any(|c| c.as_ptr() == Arc::as_ptr(cell)) {
            cells.push(Arc::downgrade(cell));
        }
    }

    /// Drop one ready spare, freeing its sandbox slot; `false` if none was
    /// ready.
    pub(crate) fn release_one(&self) -> bool {
        let spare = self
            .cells()
            .iter()
            .filter_map(Weak::upgrade)
            .find_map(|c| c.lock().take());
        match spare {
            Some(spare) => {
                PluginCounters::bump(&spare.store.data().counters.spares_released);
                // The store goes before the slot (the fields' order).
                drop(spare);
                true
            }
            None => false,
        }
    }
}

impl Runtime {
    /// Make a spare instance of `guest` in the background, if it keeps one
    /// instance per session and has no spare ready or under way (see the
    /// module docs for when it gets none).
    pub(crate) fn prepare_spare(self: &Arc<Self>, guest: Guest<'_>) {
        let Some(pool) = &guest.budget.warm else {
            return;
        };
        if guest.caller_grants.is_some_and(|g| g.depends_on_caller()) {
            return;
        }
        let cell = pool.spare().clone();
        if !cell.claim() {
            return;
        }
        let give_up = || cell.making.store(false, Ordering::Release);
        self.spares.add(&cell);
        // This one counts itself among those under way.
        let slots = self.limits().max_instances.max(1) as usize;
        if self.slots.available_permits() <= slots / 2 || self.spares.count() > MAX_SPARES {
            return give_up();
        }
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            return give_up();
        };
        let clock = CallClock::new(Instant::now() + guest.limits.timeout);
        let mut store = self.new_store(
            guest.name.clone(),
            CallContext::detached("spare instance"),
            guest.grants.clone(),
            guest.budget,
            guest.limits,
            clock.clone(),
        );
        let pre = guest.pre.clone();
        let runtime = self.clone();
        let made = async move {
            let instantiated = {
                let _ticking = runtime.ticker.guest_running();
                tokio::select! {
                    biased;
                    made = pre.instantiate_async(&mut store) => made,
                    () = clock.expired() => Err(wasmtime::Error::msg("deadline exceeded")),
                }
            };
            match instantiated {
                Ok(instance) => {
                    let counters = store.data().counters.clone();
                    *cell.lock() = Some(WarmInstance {
                        store,
                        instance,
                        _slot: slot,
                    });
                    PluginCounters::bump(&counters.spares_made);
                }
                Err(e) => {
                    let plugin = store.data().plugin.clone();
                    drop(store);
                    drop(slot);
                    cell.failed.store(true, Ordering::Relaxed);
                    tracing::warn!(
                        plugin = &*plugin,
                        "cannot make a spare instance: {}",
                        crate::error::one_line(&e)
                    );
                }
            }
            cell.making.store(false, Ordering::Release);
        };
        self.placement.spawn_detached(made);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_spare_is_made_at_a_time_and_none_after_a_failure() {
        let cell = SpareCell::default();
        assert!(cell.claim(), "none ready, none under way");
        assert!(!cell.claim(), "one is under way");
        cell.making.store(false, Ordering::Release);
        assert!(cell.claim(), "the one under way was given up");
        cell.failed.store(true, Ordering::Relaxed);
        cell.making.store(false, Ordering::Release);
        assert!(!cell.claim(), "this version's spare failed before");
    }

    #[test]
    fn the_shelf_counts_live_cells_once_and_forgets_dropped_ones() {
        let shelf = SpareShelf::default();
        let cell = Arc::new(SpareCell::default());
        shelf.add(&cell);
        shelf.add(&cell);
        assert_eq!(shelf.count(), 0, "neither ready nor under way");
        assert!(cell.claim());
        assert_eq!(shelf.count(), 1);
        drop(cell);
        assert_eq!(shelf.count(), 0);
        assert!(
            shelf.cells().is_empty(),
            "a dropped version's cell is forgotten"
        );
        assert!(!shelf.release_one(), "nothing to release");
    }
}
