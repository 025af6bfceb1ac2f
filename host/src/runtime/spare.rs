//! Spare instances: each plugin version keeps one instance made ahead of
//! need, while no request waits for it, and a call starts on it instead of
//! paying the instantiation (microseconds for a small Rust component,
//! milliseconds for a language runtime). For a `per-session` plugin the
//! spare is made at load and serves a session's first call; for a plugin
//! that takes a fresh instance per call it is made after a call that came
//! in quick succession of the one before ([`super::placement::CallPace::chained`])
//! and serves the next one. Either way the call still starts on an instance
//! that has run nothing but its own instantiation (and, for a `per-session`
//! plugin, its `list-tools` export, see [`instantiate`]), nothing of any
//! caller, under the plugin's grants for every caller, and that goes to
//! exactly one call or session.
//!
//! Spares never cost a call its sandbox: one is made only while more than
//! half of the sandbox slots are free and fewer than [`MAX_SPARES`] exist,
//! and a call that finds no free slot first releases a spare
//! ([`SpareShelf::release_one`]). A plugin whose grants depend on the
//! caller gets none (a spare holds one set of grants), and neither does a
//! version whose spare failed to instantiate or to list its tools (it would
//! fail again, at the cost of a sandbox each time).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use super::placement::HAND_OVER_AFTER;
use super::warm::WarmInstance;
use super::{CallClock, Guest, Runtime, ServingThread};
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
    /// How long making the last one took, in microseconds; 0 before the
    /// first.
    made_in_micros: AtomicU64,
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

    /// Whether the last spare took less than `limit` to make (`false`
    /// before the first).
    fn made_within(&self, limit: std::time::Duration) -> bool {
        let took = self.made_in_micros.load(Ordering::Relaxed);
        took != 0 && u128::from(took) < limit.as_micros()
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
    /// At load: make a spare of `guest` in the background if it keeps one
    /// instance per session, so that the first session's first call finds
    /// one ([`LOAD_HEAD_START`] after the load, which the host's first
    /// answers need more). A plugin that keeps none gets its first spare after its first
    /// call ([`Runtime::replace_spare`]): most loaded plugins may never be
    /// called, and a spare holds a sandbox slot.
    pub(crate) fn prepare_spare(self: &Arc<Self>, guest: Guest<'_>) {
        if guest.budget.warm.is_some() {
            self.make_spare(guest, SpareWhere::AfterTheLoad);
        }
    }

    /// After a call of `guest`, which may have taken its spare: make the
    /// next one. A host serving only stdio serves one session, so a
    /// per-session plugin there needs no second. On a serving thread (stdio's
    /// or one of HTTP's, where the last spare took under
    /// [`HAND_OVER_AFTER`] to make) the spare of a plugin whose calls are
    /// quick and need a fresh instance each is made on that thread once the
    /// answer is out and nothing else is ready: in a session that chains
    /// calls it is made while the client reads the answer, and the next
    /// call starts on it.
    pub(crate) fn replace_spare(self: &Arc<Self>, guest: Guest<'_>) {
        let serving = self.placement.serving_thread();
        if guest.budget.warm.is_some() && serving == ServingThread::OneSession {
            return;
        }
        // A plugin called now and then would keep a spare that serves no
        // one soon, and making it costs a wake-up of its own.
        if guest.budget.warm.is_none() && !guest.budget.pace.chained() {
            return;
        }
        // A thread shared by many connections makes only a spare that was
        // quick to make last time (a language runtime's takes
        // milliseconds, which its other connections would wait).
        let quick_here = match serving {
            ServingThread::OneSession => true,
            ServingThread::OneOfMany => guest.budget.spare.made_within(HAND_OVER_AFTER),
            ServingThread::Worker => false,
        };
        let place = if guest.budget.warm.is_some() {
            SpareWhere::AfterTheAnswer
        } else if quick_here && !guest.budget.pace.runs_long() {
            SpareWhere::WhenIdle
        } else {
            SpareWhere::Background
        };
        self.make_spare(guest, place);
    }

    /// Make a spare instance of `guest` where `place` says, unless it has
    /// one ready or under way (see the module docs for when it gets none).
    fn make_spare(self: &Arc<Self>, guest: Guest<'_>, place: SpareWhere) {
        if guest.caller_grants.is_some_and(|g| g.depends_on_caller()) {
            return;
        }
        let cell = guest.budget.spare.clone();
        if !cell.claim() {
            return;
        }
        let give_up = || cell.making.store(false, Ordering::Release);
        self.spares.add(&cell);
        // This one counts itself among those under way.
        if self.spares.count() > MAX_SPARES {
            return give_up();
        }
        // A spare that waits takes its slot only once it stops waiting.
        let head_start = match place {
            SpareWhere::AfterTheAnswer => Some(ANSWER_HEAD_START),
            SpareWhere::AfterTheLoad => Some(LOAD_HEAD_START),
            SpareWhere::Background | SpareWhere::WhenIdle => None,
        };
        let slot = match head_start {
            Some(_) => None,
            None => match self.spare_slot() {
                Some(slot) => Some(slot),
                None => return give_up(),
            },
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
        let warm_up = guest.budget.warm.is_some();
        let runtime = self.clone();
        let made = async move {
            if let Some(head_start) = head_start {
                tokio::time::sleep(head_start).await;
            }
            let Some(slot) = slot.or_else(|| runtime.spare_slot()) else {
                drop(store);
                cell.making.store(false, Ordering::Release);
                return;
            };
            let began = Instant::now();
            let instantiated = {
                let _ticking = runtime.ticker.guest_running();
                tokio::select! {
                    biased;
                    made = instantiate(&mut store, &pre, warm_up) => made,
                    () = clock.expired() => Err(wasmtime::Error::msg("deadline exceeded")),
                }
            };
            match instantiated {
                Ok(instance) => {
                    let took = u64::try_from(began.elapsed().as_micros()).unwrap_or(u64::MAX);
                    cell.made_in_micros.store(took.max(1), Ordering::Relaxed);
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
        match place {
            SpareWhere::Background | SpareWhere::AfterTheAnswer | SpareWhere::AfterTheLoad => {
                self.placement.spawn_detached(made)
            }
            SpareWhere::WhenIdle => self.placement.spawn_when_idle(made),
        }
    }

    /// A sandbox slot for a spare, if more than half of them are free: a
    /// spare never takes one a call may soon need.
    fn spare_slot(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let slots = self.limits().max_instances.max(1) as usize;
        if self.slots.available_permits() <= slots / 2 {
            return None;
        }
        self.slots.clone().try_acquire_owned().ok()
    }
}

/// Instantiate `pre` in `store`; with `warm_up`, then run its `list-tools`
/// export once (what the host already ran at load, with nothing of any
/// caller), so that a language runtime has run its dispatch before the
/// session's first call: the interpreter's first run writes all over its
/// memory image (reference counts, caches, allocator arenas), and each
/// page it writes first is a copy-on-write fault, ~0.8 ms of a Python
/// plugin's first call in `docs/benchmarks.md`, now taken here instead.
async fn instantiate(
    store: &mut wasmtime::Store<super::HostState>,
    pre: &wasmtime::component::InstancePre<super::HostState>,
    warm_up: bool,
) -> wasmtime::Result<wasmtime::component::Instance> {
    let instance = pre.instantiate_async(&mut *store).await?;
    if warm_up && let Ok(tools) = crate::bindings::tools::GuestIndices::new(pre) {
        let tools = tools.load(&mut *store, &instance)?;
        tools.call_list_tools(&mut *store).await?;
    }
    Ok(instance)
}

/// Where a spare is made.
#[derive(Debug, Clone, Copy)]
enum SpareWhere {
    /// Where it holds up no request ([`super::CallPlacement::spawn_detached`]).
    Background,
    /// In the background, once the answer of the call that took the last
    /// one has had [`ANSWER_HEAD_START`] to leave.
    AfterTheAnswer,
    /// In the background, [`LOAD_HEAD_START`] after the plugin loaded.
    AfterTheLoad,
    /// On the current thread, once what is ready has run
    /// ([`super::CallPlacement::spawn_when_idle`]).
    WhenIdle,
}

/// How long a per-session plugin's next spare waits on a multi-threaded
/// server after the session's first call returns. The answer still crosses
/// the transport then (the SDK's session tasks, the HTTP connection, the
/// socket), and instantiating a language runtime at once (milliseconds of
/// CPU) would take a core from it on a small machine. The spare serves the
/// next session's first call, which seldom comes that soon.
const ANSWER_HEAD_START: std::time::Duration = std::time::Duration::from_millis(5);

/// How long a per-session plugin's spare waits after the plugin loaded.
/// At start the host is about to answer its first requests, and making a
/// language runtime's spare (instantiating it and running its `list-tools`:
/// milliseconds of CPU) would take a core from them on a small machine; a
/// client's first call comes after it has listed the tools and chosen one.
const LOAD_HEAD_START: std::time::Duration = std::time::Duration::from_millis(50);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_serving_thread_makes_only_spares_that_were_quick_to_make() {
        let cell = SpareCell::default();
        assert!(
            !cell.made_within(HAND_OVER_AFTER),
            "none made yet: not known to be quick"
        );
        let limit = u64::try_from(HAND_OVER_AFTER.as_micros()).unwrap();
        cell.made_in_micros.store(limit / 10, Ordering::Relaxed);
        assert!(cell.made_within(HAND_OVER_AFTER));
        cell.made_in_micros.store(limit * 3, Ordering::Relaxed);
        assert!(
            !cell.made_within(HAND_OVER_AFTER),
            "a language runtime's spare"
        );
    }

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
