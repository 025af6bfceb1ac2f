//! The WebAssembly runtime: one wasmtime [`Engine`] (pooling allocator, epoch
//! interruption driven by a ticker thread that parks while no guest runs),
//! the one [`Linker`] holding every host capability, the on-disk
//! [`CompileCache`], where tool calls run ([`CallPlacement`]), and the per-call
//! sandbox (a fresh `Store` from a cached `InstancePre`, with its own
//! deadline and memory cap).

mod audit;
mod budget;
mod cache;
mod catalog_exports;
mod clock;
mod guest;
mod guest_content;
mod invoke;
mod long_calls;
mod notices;
mod panic;
mod placement;
mod services;
mod spare;
mod store;
mod ticker;
mod warm;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};

pub use audit::{AUDIT_LOG, AuditEntry, CallUsage, DENIED};
pub use budget::{
    CounterSnapshot, OUTPUT_LINES_PER_SECOND, PluginBudget, PluginCounters, PluginShares, RateLimit,
};
pub use cache::{CacheOutcome, CompileCache, default_cache_dir, ensure_private_dir};
pub(crate) use clock::CallClock;
pub use guest::{Declarations, Guest, GuestExports, ResourceSupport, Runnable, ServeError};
pub use long_calls::{LONG_AFTER_TICKS, LongCalls};
pub use notices::{Admission, MAX_HELD_URIS, NOTICES_PER_SECOND, Notice, NoticeShare};
pub(crate) use panic::PanicReport;
pub use placement::{
    CallPlacement, ServingThread, calls_handed_over_from_this_thread,
    mark_one_of_many_serving_threads,
};
pub use services::HostServices;
pub use store::HostState;
pub use warm::WarmPool;

use crate::context::CallContext;
use crate::limits::{HostLimits, PluginLimits};
use crate::policy::Grants;

/// How often the epoch advances. It bounds how late a deadline or a
/// cancellation is noticed while a guest computes without calling the host.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// What the host's capabilities bring to the runtime, which knows none of
/// them: how to link their interfaces, and the services they share (each
/// found by its type).
#[derive(Debug, Clone)]
pub struct CapabilityWiring {
    pub link: fn(&mut Linker<HostState>) -> wasmtime::Result<()>,
    pub services: Arc<HostServices>,
}

/// How the runtime is set up.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    pub limits: HostLimits,
    /// Directory of the compile cache; `None` compiles in memory every time.
    pub cache_dir: Option<PathBuf>,
    /// The key of the compile cache's MACs; `None` draws one for this
    /// process (entries other processes wrote are then compiled again).
    pub cache_key: Option<[u8; 32]>,
    /// The capabilities plugins may import.
    pub capabilities: CapabilityWiring,
}

/// Failure to set up the runtime itself.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the WebAssembly runtime: {0}")]
pub struct RuntimeError(String);

/// The engine, linker and cache shared by every plugin and call.
pub struct Runtime {
    engine: Engine,
    /// One permit per sandbox the instance pool can hold; a call waits for
    /// one (up to its deadline) instead of failing when all are busy.
    slots: Arc<tokio::sync::Semaphore>,
    linker: Linker<HostState>,
    cache: CompileCache,
    limits: HostLimits,
    services: Arc<HostServices>,
    ticker: ticker::EpochTicker,
    metrics: Arc<crate::metrics::Metrics>,
    /// Each plugin's shares of the log and of notifications, by name, so a
    /// reloaded plugin draws on the same ones.
    shares: std::sync::RwLock<std::collections::HashMap<Arc<str>, Arc<PluginShares>>>,
    /// Where tool calls run.
    placement: CallPlacement,
    /// The turns of calls that have run long.
    long_calls: Arc<LongCalls>,
    /// The spare instances of per-session plugins.
    spares: spare::SpareShelf,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("cache", &self.cache)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    pub fn new(config: RuntimeConfig) -> Result<Self, RuntimeError> {
        let limits = config.limits;
        let engine =
            Engine::new(&engine_config(&limits)).map_err(|e| RuntimeError(e.to_string()))?;
        let mut linker = Linker::new(&engine);
        (config.capabilities.link)(&mut linker)
            .map_err(|e| RuntimeError(format!("linking host capabilities: {e}")))?;
        let metrics: Arc<crate::metrics::Metrics> = Arc::default();
        let long_calls = Arc::new(LongCalls::new(limits.long_call_lanes, metrics.clone()));
        let ticker = ticker::EpochTicker::start(&engine, Some(long_calls.clone()))?;
        let slots = Arc::new(tokio::sync::Semaphore::new(
            limits.max_instances.max(1) as usize
        ));
        Ok(Self {
            engine,
            slots,
            linker,
            cache: CompileCache::new(
                config.cache_dir,
                config.cache_key.unwrap_or_else(|| {
                    let mut key = [0u8; 32];
                    let _ = getrandom::fill(&mut key);
                    key
                }),
            ),
            limits,
            services: config.capabilities.services,
            ticker,
            metrics,
            shares: Default::default(),
            placement: CallPlacement::default(),
            long_calls,
            spares: Default::default(),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn limits(&self) -> &HostLimits {
        &self.limits
    }

    /// The host's counters and histograms.
    pub fn metrics(&self) -> &Arc<crate::metrics::Metrics> {
        &self.metrics
    }

    /// The shares of the log and of notifications of plugin `name`, the
    /// same for all its versions.
    pub fn shares(&self, name: &Arc<str>) -> Arc<PluginShares> {
        let read = self.shares.read().unwrap_or_else(|e| e.into_inner());
        if let Some(shares) = read.get(name) {
            return shares.clone();
        }
        drop(read);
        let mut write = self.shares.write().unwrap_or_else(|e| e.into_inner());
        write.entry(name.clone()).or_default().clone()
    }

    /// The turns of calls that have run long.
    pub fn long_calls(&self) -> &LongCalls {
        &self.long_calls
    }

    /// The services the capabilities share, as they were wired in.
    pub fn services(&self) -> &HostServices {
        &self.services
    }

    pub fn cache(&self) -> &CompileCache {
        &self.cache
    }

    /// Wait for a free sandbox slot until `deadline`; `None` if none freed
    /// up. Spare instances give theirs up first.
    pub(crate) async fn acquire_slot(
        &self,
        deadline: Instant,
    ) -> Option<tokio::sync::OwnedSemaphorePermit> {
        loop {
            if let Ok(slot) = self.slots.clone().try_acquire_owned() {
                return Some(slot);
            }
            if !self.spares.release_one() {
                break;
            }
        }
        tokio::time::timeout_at(deadline.into(), self.slots.clone().acquire_owned())
            .await
            .ok()?
            .ok()
    }

    /// Compile the component of plugin `name` (through the cache).
    pub(crate) fn compile(
        &self,
        name: &str,
        bytes: &[u8],
    ) -> wasmtime::Result<(Arc<Component>, CacheOutcome)> {
        self.cache.load_or_compile(&self.engine, name, bytes)
    }

    /// [`compile`](Self::compile) bytes whose BLAKE3 hash is known.
    pub(crate) fn compile_hashed(
        &self,
        name: &str,
        bytes: &[u8],
        component_hash: &blake3::Hash,
    ) -> wasmtime::Result<(Arc<Component>, CacheOutcome)> {
        self.cache
            .load_or_compile_hashed(&self.engine, name, bytes, component_hash)
    }

    /// Resolve a component's imports against the host's capabilities once,
    /// so each call only instantiates.
    pub(crate) fn instantiate_pre(
        &self,
        component: &Component,
    ) -> wasmtime::Result<InstancePre<HostState>> {
        self.linker.instantiate_pre(component)
    }

    /// A fresh store for one call of `plugin`, with its memory cap (which
    /// also bounds what the guest may hand the host in one crossing), its
    /// deadline, and an epoch callback that stops the guest when the deadline
    /// passes or the request is cancelled, and otherwise yields to the
    /// scheduler on every tick; once the call has run long, it yields until
    /// its next turn (see [`LongCalls`]), so spinning guests never starve
    /// other calls.
    pub(crate) fn new_store(
        &self,
        plugin: Arc<str>,
        call: CallContext,
        grants: Arc<Grants>,
        budget: &PluginBudget,
        limits: PluginLimits,
        clock: Arc<CallClock>,
    ) -> Store<HostState> {
        let state = HostState::new(
            plugin,
            call,
            grants,
            budget,
            self.services.clone(),
            limits.memory_bytes,
            clock,
        );
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        // What one crossing may copy into the host: no more than the guest's
        // own memory holds, so a guest cannot multiply its memory by handing
        // over one string many times (a list whose entries all point at it).
        store.set_hostcall_fuel(limits.memory_bytes);
        arm(&mut store, limits);
        let long_calls = self.long_calls.clone();
        store.epoch_deadline_callback(move |mut ctx| {
            let state = ctx.data();
            if state.clock.expired_now() {
                return Err(wasmtime::Error::new(Interrupted::Deadline));
            }
            if state.call.cancel.is_cancelled() {
                return Err(wasmtime::Error::new(Interrupted::Cancelled));
            }
            let state = ctx.data_mut();
            state.ticks_met = state.ticks_met.saturating_add(1);
            if state.ticks_met < LONG_AFTER_TICKS {
                return Ok(wasmtime::UpdateDeadline::Yield(1));
            }
            let first = state.ticks_met == LONG_AFTER_TICKS;
            Ok(wasmtime::UpdateDeadline::YieldCustom(
                1,
                long_calls.next_turn(first),
            ))
        });
        store
    }
}

/// Give a store one call's budget: its fuel, and an epoch deadline at the
/// next tick (where the callback checks the call's clock).
fn arm(store: &mut Store<HostState>, limits: PluginLimits) {
    // Fuel is metered for every store (the engine compiles metering in); a
    // plugin without a fuel limit gets more than it can ever burn.
    store
        .set_fuel(limits.fuel.unwrap_or(u64::MAX))
        .expect("fuel is enabled in the engine");
    store.data_mut().ticks_met = 0;
    store.set_epoch_deadline(1);
}

impl Runtime {
    /// Ready a warm instance's store for another call of its session: the
    /// new request's context and clock, a full budget.
    pub(crate) fn reuse_store(
        &self,
        store: &mut Store<HostState>,
        call: CallContext,
        limits: PluginLimits,
        clock: Arc<CallClock>,
    ) {
        let state = store.data_mut();
        state.call = call;
        state.clock = clock;
        state.limiter.hit = false;
        state.panic = None;
        state.spans.end_all();
        arm(store, limits);
    }
}

/// Why the host stopped a running guest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Interrupted {
    #[error("deadline exceeded")]
    Deadline,
    #[error("request cancelled")]
    Cancelled,
    /// The host ended the call for a reason it names (for example a replay
    /// that diverged from its recorded answers).
    #[error("{0}")]
    Aborted(String),
}

/// The configuration of the host's one `Engine` (public so benchmarks can
/// measure what each setting costs).
pub fn engine_config(limits: &HostLimits) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.consume_fuel(true);
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    let instances = limits.max_instances.max(1);
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(instances)
        .total_core_instances(instances.saturating_mul(8))
        .total_memories(instances.saturating_mul(2))
        .total_tables(instances.saturating_mul(8))
        .total_stacks(instances)
        .max_memory_size(limits.max_memory_bytes)
        // Reset only the pages a call dirtied (Linux 6.7+ PAGEMAP_SCAN) and
        // keep them resident: no page faults on the next call's first touch.
        .pagemap_scan(wasmtime::Enabled::Auto)
        .linear_memory_keep_resident(1 << 20)
        .table_keep_resident(64 << 10);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config
}
