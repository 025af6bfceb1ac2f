//! The host's metrics: counters and latency histograms kept in memory with
//! atomics (read once per scrape and written by `prometheus-client`,
//! [`exposition`]), the MCP semantic conventions' histograms ([`mcp`]) and
//! the process's figures ([`process`]), for `/metrics`.
//!
//! Series are keyed by plugin name (and tool name), not by plugin version,
//! so a reloaded plugin keeps counting where its previous version stopped.

mod exposition;
pub mod mcp;
mod process;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Counts of denials and limit hits for one plugin, shared by its
/// versions.
#[derive(Debug, Default)]
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
    /// Spare instances made ahead for sessions' first calls.
    pub spares_made: AtomicU64,
    /// Sessions whose first call started on a spare instance.
    pub spares_used: AtomicU64,
    /// Spare instances dropped to free a sandbox slot for a call.
    pub spares_released: AtomicU64,
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
    pub spares_made: u64,
    pub spares_used: u64,
    pub spares_released: u64,
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
            spares_made: get(&self.spares_made),
            spares_used: get(&self.spares_used),
            spares_released: get(&self.spares_released),
        }
    }
}

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// A latency histogram with fixed buckets.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations per bucket (not cumulative); the last one is `+Inf`.
    pub(super) buckets: [AtomicU64; BUCKETS.len() + 1],
    pub(super) sum_nanos: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let i = BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKETS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

/// What one tool's calls came to.
#[derive(Debug, Default)]
pub struct ToolMetrics {
    pub calls: AtomicU64,
    /// Calls whose result was a tool error (the plugin said it failed).
    pub tool_errors: AtomicU64,
    /// Calls the host could not complete (a limit, a trap, a refusal).
    pub host_errors: AtomicU64,
    pub latency: Histogram,
}

/// How a tool call ended, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    Ok,
    ToolError,
    HostError,
}

/// A tool's series: its plugin's name and its own.
type ToolKey = (Arc<str>, Arc<str>);

/// Every metric of one host.
#[derive(Debug, Default)]
pub struct Metrics {
    plugins: RwLock<HashMap<Arc<str>, Arc<PluginCounters>>>,
    tools: RwLock<HashMap<ToolKey, Arc<ToolMetrics>>>,
    /// Time to instantiate a fresh sandbox.
    pub instantiate: Histogram,
    pub reloads: AtomicU64,
    pub reload_failures: AtomicU64,
    /// Tool calls running now (including those waiting for the client).
    in_flight: AtomicU64,
    /// Requests refused at a trust boundary, by reason.
    refusals: [AtomicU64; Refusal::ALL.len()],
    /// Retries of a 2026-07-28 round that had already completed, answered
    /// with the stored result instead of running again.
    pub round_repeats: AtomicU64,
    /// Requests refused for their bearer token: missing, invalid.
    auth_failures: [AtomicU64; 2],
    /// Tool calls run as tasks, by how they ended ([`TASK_ENDS`]).
    task_ends: [AtomicU64; TASK_ENDS.len()],
    /// Tasks started.
    pub tasks_started: AtomicU64,
    /// Tool calls that computed long enough to run in turns.
    pub long_calls: AtomicU64,
    /// Calls that ran long waiting for their next turn now.
    pub long_calls_waiting: AtomicU64,
    /// The MCP semantic conventions' histograms.
    pub mcp: mcp::McpMetrics,
}

/// How a task may end.
pub const TASK_ENDS: [&str; 3] = ["completed", "failed", "cancelled"];

/// Why a request was refused at a trust boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A session id sent by a principal other than the one that opened it.
    ForeignSession,
    /// A new session while the host holds its maximum.
    SessionsFull,
    /// A new session of an authenticated principal that holds its share of
    /// the maximum.
    SessionsShare,
    /// A `requestState` sent by a principal (or session) other than the
    /// one it was issued to.
    ForeignRequestState,
    /// A connection beyond `--max-connections`.
    ConnectionsFull,
    /// An `Origin` header naming a host that is not allowed.
    ForeignOrigin,
}

impl Refusal {
    pub const ALL: [Refusal; 6] = [
        Refusal::ForeignSession,
        Refusal::SessionsFull,
        Refusal::SessionsShare,
        Refusal::ForeignRequestState,
        Refusal::ConnectionsFull,
        Refusal::ForeignOrigin,
    ];

    /// The `reason` label.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::ForeignSession => "foreign-session",
            Refusal::SessionsFull => "sessions-full",
            Refusal::SessionsShare => "sessions-share",
            Refusal::ForeignRequestState => "foreign-request-state",
            Refusal::ConnectionsFull => "connections-full",
            Refusal::ForeignOrigin => "foreign-origin",
        }
    }
}

/// One tool call running; dropping it ends it.
#[derive(Debug)]
pub struct InFlight<'a>(&'a AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Point-in-time values the host adds when rendering.
#[derive(Debug, Default, Clone)]
pub struct Gauges {
    pub sessions: usize,
    /// 2026-07-28 calls parked between rounds.
    pub parked_calls: usize,
    /// Tool calls running as tasks on this host.
    pub tasks_running: usize,
    pub plugins: usize,
    pub tools: usize,
    pub catalog_generation: u64,
}

impl Metrics {
    /// Count a request refused at a trust boundary.
    pub fn refused(&self, reason: Refusal) {
        self.refusals[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// How many requests were refused for `reason`.
    pub fn refusals(&self, reason: Refusal) -> u64 {
        self.refusals[reason as usize].load(Ordering::Relaxed)
    }

    /// Count a request refused for its bearer token: `missing` when it
    /// had none, else it was not valid.
    pub fn auth_failed(&self, missing: bool) {
        self.auth_failures[usize::from(!missing)].fetch_add(1, Ordering::Relaxed);
    }

    /// Count a task that ended `how` (one of [`TASK_ENDS`]).
    pub fn task_ended(&self, how: &str) {
        if let Some(i) = TASK_ENDS.iter().position(|t| *t == how) {
            self.task_ends[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The tasks ended, by status label.
    pub(super) fn task_ends(&self) -> Vec<(&'static str, u64)> {
        TASK_ENDS
            .iter()
            .zip(&self.task_ends)
            .map(|(how, n)| (*how, n.load(Ordering::Relaxed)))
            .collect()
    }

    /// The auth failures by reason label.
    pub(super) fn auth_failures(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("missing", self.auth_failures[0].load(Ordering::Relaxed)),
            ("invalid", self.auth_failures[1].load(Ordering::Relaxed)),
        ]
    }

    /// The counters of plugin `name`, shared by all its versions.
    pub fn plugin(&self, name: &Arc<str>) -> Arc<PluginCounters> {
        if let Some(c) = read(&self.plugins).get(name) {
            return c.clone();
        }
        write(&self.plugins)
            .entry(name.clone())
            .or_default()
            .clone()
    }

    /// The metrics of tool `tool` of plugin `plugin`.
    pub fn tool(&self, plugin: &Arc<str>, tool: &str) -> Arc<ToolMetrics> {
        let key = (plugin.clone(), Arc::<str>::from(tool));
        if let Some(m) = read(&self.tools).get(&key) {
            return m.clone();
        }
        write(&self.tools).entry(key).or_default().clone()
    }

    /// A tool call begins; it runs until the guard is dropped.
    pub fn begin_call(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(&self.in_flight)
    }

    /// How many tool calls are running now.
    pub fn calls_in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Count one call of `tool` of `plugin` that took `elapsed`.
    pub fn record_call(
        &self,
        plugin: &Arc<str>,
        tool: &str,
        outcome: CallOutcome,
        elapsed: Duration,
    ) {
        let m = self.tool(plugin, tool);
        m.calls.fetch_add(1, Ordering::Relaxed);
        match outcome {
            CallOutcome::Ok => {}
            CallOutcome::ToolError => {
                m.tool_errors.fetch_add(1, Ordering::Relaxed);
            }
            CallOutcome::HostError => {
                m.host_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        m.latency.observe(elapsed);
    }
}

pub(super) fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_counted_and_bucketed_per_tool() {
        let m = Metrics::default();
        let hello: Arc<str> = Arc::from("hello");
        m.record_call(&hello, "add", CallOutcome::Ok, Duration::from_micros(80));
        m.record_call(
            &hello,
            "add",
            CallOutcome::ToolError,
            Duration::from_millis(3),
        );
        m.record_call(
            &hello,
            "echo",
            CallOutcome::HostError,
            Duration::from_secs(20),
        );
        PluginCounters::bump(&m.plugin(&hello).deadlines);
        let text = m.render(&Gauges {
            sessions: 2,
            ..Gauges::default()
        });
        for line in [
            "mcp_wasm_host_tool_calls_total{plugin=\"hello\",tool=\"add\"} 2",
            "mcp_wasm_host_tool_errors_total{plugin=\"hello\",tool=\"add\",kind=\"tool\"} 1",
            "mcp_wasm_host_tool_errors_total{plugin=\"hello\",tool=\"echo\",kind=\"host\"} 1",
            "mcp_wasm_host_tool_call_duration_seconds_bucket{plugin=\"hello\",tool=\"add\",le=\"0.0001\"} 1",
            "mcp_wasm_host_tool_call_duration_seconds_bucket{plugin=\"hello\",tool=\"add\",le=\"0.0025\"} 1",
            "mcp_wasm_host_tool_call_duration_seconds_bucket{plugin=\"hello\",tool=\"add\",le=\"0.005\"} 2",
            "mcp_wasm_host_tool_call_duration_seconds_bucket{plugin=\"hello\",tool=\"echo\",le=\"10\"} 0",
            "mcp_wasm_host_tool_call_duration_seconds_bucket{plugin=\"hello\",tool=\"echo\",le=\"+Inf\"} 1",
            "mcp_wasm_host_tool_call_duration_seconds_count{plugin=\"hello\",tool=\"add\"} 2",
            "mcp_wasm_host_plugin_limit_hits_total{plugin=\"hello\",limit=\"deadline\"} 1",
            "mcp_wasm_host_sessions_active 2",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from:\n{text}"
            );
        }
        // The same counters for the next version of the plugin.
        assert!(Arc::ptr_eq(
            &m.plugin(&hello),
            &m.plugin(&Arc::from("hello"))
        ));
    }
}
