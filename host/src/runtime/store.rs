//! Per-call store data: the WASI context, the resource table, the memory
//! limiter, the request's [`CallContext`] and the guest's last
//! [`PanicReport`]. A fresh [`HostState`] (and `Store`) is built for every
//! call and dropped with it.

use std::sync::Arc;

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::WasiCtx;

use super::clock::CallClock;
use super::panic::PanicReport;
use crate::context::CallContext;
use crate::policy::Grants;
use crate::telemetry::plugin_spans::PluginSpans;

/// The data of one call's `Store`.
pub struct HostState {
    pub(crate) plugin: Arc<str>,
    pub(crate) call: CallContext,
    /// What the policy grants the plugin.
    pub(crate) grants: Arc<Grants>,
    pub(crate) counters: Arc<super::PluginCounters>,
    /// The plugin's shares of the log and of notifications.
    pub(crate) shares: Arc<super::PluginShares>,
    /// The services the capabilities share.
    pub(crate) services: Arc<super::HostServices>,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) clock: Arc<CallClock>,
    /// Built on the guest's first WASI call: most plugins never make one.
    pub(crate) wasi: Option<WasiCtx>,
    pub(crate) table: ResourceTable,
    /// The guest's last report of a panic in this call (`report-panic`),
    /// used if the call traps.
    pub(crate) panic: Option<PanicReport>,
    /// The spans the guest opened in this call.
    pub(crate) spans: PluginSpans,
    /// Epoch ticks the guest met in this call; from
    /// [`LONG_AFTER_TICKS`](super::LONG_AFTER_TICKS) on, it runs in turns
    /// ([`LongCalls`](super::LongCalls)).
    pub(crate) ticks_met: u32,
}

impl HostState {
    pub(crate) fn new(
        plugin: Arc<str>,
        call: CallContext,
        grants: Arc<Grants>,
        budget: &super::PluginBudget,
        services: Arc<super::HostServices>,
        memory_bytes: usize,
        clock: Arc<CallClock>,
    ) -> Self {
        let counters = budget.counters.clone();
        let limiter = MemoryLimiter::new(memory_bytes, counters.clone());
        Self {
            plugin,
            call,
            grants,
            counters,
            shares: budget.shares.clone(),
            services,
            limiter,
            clock,
            wasi: None,
            table: ResourceTable::new(),
            panic: None,
            spans: PluginSpans::default(),
            ticks_met: 0,
        }
    }
}

/// Caps the total linear memory of one call's instance and remembers whether
/// the cap was hit, so a trap that follows can be reported as a memory limit.
/// Counts every growth past a memory's initial size in the plugin's
/// counters: each one costs the host page-protection changes when the
/// instance grows and again when its memory is reset.
#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    cap: usize,
    total: usize,
    /// The most linear memory the instance has held.
    pub(crate) peak: usize,
    pub(crate) hit: bool,
    counters: Arc<super::PluginCounters>,
}

/// Table elements per table; generous for real programs, bounded for hostile ones.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl MemoryLimiter {
    fn new(cap: usize, counters: Arc<super::PluginCounters>) -> Self {
        Self {
            cap,
            total: 0,
            peak: 0,
            hit: false,
            counters,
        }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.total - current.min(self.total) + desired;
        if total > self.cap {
            self.hit = true;
            return Ok(false);
        }
        self.total = total;
        self.peak = self.peak.max(total);
        // Instantiation sizes a memory from zero; only later requests grow.
        if current > 0 && desired > current {
            super::PluginCounters::bump(&self.counters.memory_grows);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_counts_all_memories_and_records_the_hit() {
        let counters = Arc::new(crate::runtime::PluginCounters::default());
        let mut l = MemoryLimiter::new(100, counters.clone());
        assert!(l.memory_growing(0, 60, None).unwrap());
        assert!(l.memory_growing(0, 30, None).unwrap());
        assert!(!l.hit);
        assert!(!l.memory_growing(30, 50, None).unwrap());
        assert!(l.hit);
        assert!(l.memory_growing(30, 40, None).unwrap());
        assert_eq!(l.total, 100);
        // Sizing the two memories at instantiation is no growth; the one
        // growth allowed from 30 to 40 is counted, the refused one is not.
        assert_eq!(counters.snapshot().memory_grows, 1);
    }
}
