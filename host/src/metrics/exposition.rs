//! `/metrics` in the Prometheus text format, written by `prometheus-client`:
//! a collector reads the host's atomics once per scrape (the families keep
//! the names they always had), beside the MCP semantic-convention
//! histograms, the build, the process and the trace exporter.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use super::{BUCKETS, CounterSnapshot, Gauges, Histogram, Metrics, Refusal, process, read};

/// What a histogram held at the scrape.
#[derive(Debug, Clone)]
struct HistogramSnapshot {
    sum: f64,
    count: u64,
    /// Per-bucket (not cumulative) counts, with their upper bounds.
    buckets: Vec<(f64, u64)>,
}

impl Histogram {
    fn snapshot(&self) -> HistogramSnapshot {
        let buckets: Vec<(f64, u64)> = self
            .buckets
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let bound = BUCKETS.get(i).copied().unwrap_or(f64::INFINITY);
                (bound, b.load(Ordering::Relaxed))
            })
            .collect();
        HistogramSnapshot {
            sum: self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
            count: buckets.iter().map(|(_, n)| n).sum(),
            buckets,
        }
    }
}

/// One tool's figures at the scrape.
#[derive(Debug)]
struct ToolSnapshot {
    calls: u64,
    tool_errors: u64,
    host_errors: u64,
    latency: HistogramSnapshot,
}

/// Everything the host's atomics held at the scrape.
#[derive(Debug)]
struct Scrape {
    tools: BTreeMap<(Arc<str>, Arc<str>), ToolSnapshot>,
    instantiate: HistogramSnapshot,
    plugins: BTreeMap<Arc<str>, CounterSnapshot>,
    reloads: u64,
    reload_failures: u64,
    refusals: Vec<(&'static str, u64)>,
    round_repeats: u64,
    in_flight: u64,
    gauges: Gauges,
    auth_failures: Vec<(&'static str, u64)>,
    task_ends: Vec<(&'static str, u64)>,
    tasks_started: u64,
    long_calls: u64,
    long_calls_waiting: u64,
}

/// Write one family of counters or gauges: `name`, and a value per label set.
fn family<L: EncodeLabelSet>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    samples: impl IntoIterator<Item = (L, u64)>,
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, kind)?;
    for (labels, value) in samples {
        let sample = metric.encode_family(&labels)?;
        match kind {
            MetricType::Counter => ConstCounter::new(value).encode(sample)?,
            _ => ConstGauge::new(value as i64).encode(sample)?,
        }
    }
    Ok(())
}

/// One value without labels.
fn single(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let no_labels: [(&str, &str); 0] = [];
    family(encoder, name, help, kind, [(no_labels, value)])
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        use MetricType::{Counter, Gauge};
        let tool = |(plugin, tool): &(Arc<str>, Arc<str>)| {
            [("plugin", plugin.to_string()), ("tool", tool.to_string())]
        };
        family(
            &mut encoder,
            "mcp_wasm_host_tool_calls",
            "Tool calls run, by tool.",
            Counter,
            self.tools.iter().map(|(k, t)| (tool(k), t.calls)),
        )?;
        family(
            &mut encoder,
            "mcp_wasm_host_tool_errors",
            "Tool calls that failed: kind=\"tool\" when the plugin returned a tool error, \
             kind=\"host\" when the host stopped or refused it.",
            Counter,
            self.tools.iter().flat_map(|(k, t)| {
                let [plugin, name] = tool(k);
                [
                    (
                        [plugin.clone(), name.clone(), ("kind", "tool".into())],
                        t.tool_errors,
                    ),
                    ([plugin, name, ("kind", "host".into())], t.host_errors),
                ]
            }),
        )?;
        {
            let mut metric = encoder.encode_descriptor(
                "mcp_wasm_host_tool_call_duration_seconds",
                "Time from a tool call reaching the runtime to its result.",
                None,
                MetricType::Histogram,
            )?;
            for (key, t) in &self.tools {
                let labels = tool(key);
                let h = &t.latency;
                metric
                    .encode_family(&labels)?
                    .encode_histogram::<NoLabelSet>(h.sum, h.count, &h.buckets, None)?;
            }
        }
        {
            let h = &self.instantiate;
            encoder
                .encode_descriptor(
                    "mcp_wasm_host_instantiate_duration_seconds",
                    "Time to instantiate a fresh sandbox for a call.",
                    None,
                    MetricType::Histogram,
                )?
                .encode_histogram::<NoLabelSet>(h.sum, h.count, &h.buckets, None)?;
        }
        let per_plugin = |field: fn(&CounterSnapshot) -> u64| {
            self.plugins
                .iter()
                .map(move |(p, c)| ([("plugin", p.to_string())], field(c)))
        };
        family(
            &mut encoder,
            "mcp_wasm_host_plugin_denials",
            "Capability uses the policy refused, by plugin.",
            Counter,
            per_plugin(|c| c.denials),
        )?;
        family(
            &mut encoder,
            "mcp_wasm_host_plugin_limit_hits",
            "Calls stopped or refused by a limit, by plugin and limit.",
            Counter,
            self.plugins.iter().flat_map(|(p, c)| {
                [
                    ("deadline", c.deadlines),
                    ("memory", c.memory),
                    ("fuel", c.fuel),
                    ("concurrency", c.busy),
                    ("response-size", c.oversized),
                    ("output-rate", c.output_dropped),
                    ("notice-rate", c.notices_dropped),
                    ("keyvalue-quota", c.keyvalue_quota),
                ]
                .map(|(limit, n)| ([("plugin", p.to_string()), ("limit", limit.into())], n))
            }),
        )?;
        family(
            &mut encoder,
            "mcp_wasm_host_plugin_traps",
            "Calls that ended in a trap (a guest crash), by plugin.",
            Counter,
            per_plugin(|c| c.traps),
        )?;
        family(
            &mut encoder,
            "mcp_wasm_host_plugin_spare_instances",
            "Spare instances of a per-session plugin, by plugin and event (made ahead; used by a \
             session's first call; released to free a sandbox slot).",
            Counter,
            self.plugins.iter().flat_map(|(p, c)| {
                [
                    ("made", c.spares_made),
                    ("used", c.spares_used),
                    ("released", c.spares_released),
                ]
                .map(|(event, n)| ([("plugin", p.to_string()), ("event", event.into())], n))
            }),
        )?;
        family(
            &mut encoder,
            "mcp_wasm_host_plugin_memory_grows",
            "Times a plugin's instance grew its linear memory past its initial size, by plugin.",
            Counter,
            per_plugin(|c| c.memory_grows),
        )?;
        single(
            &mut encoder,
            "mcp_wasm_host_reloads",
            "Reloads of the plugin directory or the policy that published a new catalog.",
            Counter,
            self.reloads,
        )?;
        single(
            &mut encoder,
            "mcp_wasm_host_reload_failures",
            "New plugin versions or policies a reload could not use.",
            Counter,
            self.reload_failures,
        )?;
        family(
            &mut encoder,
            "mcp_wasm_host_refused",
            "Requests refused at a trust boundary, by reason.",
            Counter,
            self.refusals.iter().map(|(r, n)| ([("reason", *r)], *n)),
        )?;
        family(
            &mut encoder,
            "mcp_wasm_host_auth_failures",
            "Requests refused for their bearer token, by reason (missing, invalid).",
            Counter,
            self.auth_failures
                .iter()
                .map(|(r, n)| ([("reason", *r)], *n)),
        )?;
        single(
            &mut encoder,
            "mcp_wasm_host_tasks_started",
            "Tool calls started as MCP tasks.",
            Counter,
            self.tasks_started,
        )?;
        family(
            &mut encoder,
            "mcp_wasm_host_tasks_ended",
            "Tool calls run as MCP tasks that ended, by status (completed, failed, cancelled).",
            Counter,
            self.task_ends.iter().map(|(s, n)| ([("status", *s)], *n)),
        )?;
        single(
            &mut encoder,
            "mcp_wasm_host_tasks_running",
            "Tool calls running as MCP tasks on this host.",
            Gauge,
            self.gauges.tasks_running as u64,
        )?;
        let spans = crate::telemetry::stats();
        single(
            &mut encoder,
            "mcp_wasm_host_trace_spans_exported",
            "Trace spans the OTLP collector accepted.",
            Counter,
            spans.exported(),
        )?;
        single(
            &mut encoder,
            "mcp_wasm_host_trace_spans_dropped",
            "Trace spans dropped: the export queue was full, or the collector refused them \
             or could not be reached.",
            Counter,
            spans.dropped(),
        )?;
        single(
            &mut encoder,
            "mcp_wasm_host_round_repeats",
            "Retries of a completed 2026-07-28 round answered with its stored result, never run again.",
            Counter,
            self.round_repeats,
        )?;
        single(
            &mut encoder,
            "mcp_wasm_host_tool_calls_in_flight",
            "Tool calls running now, including those waiting for the client.",
            Gauge,
            self.in_flight,
        )?;
        single(
            &mut encoder,
            "mcp_wasm_host_long_calls",
            "Calls whose guest computed long enough to run in turns beside short calls.",
            Counter,
            self.long_calls,
        )?;
        single(
            &mut encoder,
            "mcp_wasm_host_long_calls_waiting",
            "Calls that ran long, waiting for their next turn now.",
            Gauge,
            self.long_calls_waiting,
        )?;
        single(
            &mut encoder,
            "mcp_wasm_host_sessions_active",
            "Open handshake-era sessions.",
            Gauge,
            self.gauges.sessions as u64,
        )?;
        single(
            &mut encoder,
            "mcp_wasm_host_parked_calls",
            "2026-07-28 tool calls parked, waiting for the client's next round.",
            Gauge,
            self.gauges.parked_calls as u64,
        )?;
        single(
            &mut encoder,
            "mcp_wasm_host_plugins_loaded",
            "Plugins in the catalog.",
            Gauge,
            self.gauges.plugins as u64,
        )?;
        single(
            &mut encoder,
            "mcp_wasm_host_tools_listed",
            "Tools in the catalog.",
            Gauge,
            self.gauges.tools as u64,
        )?;
        single(
            &mut encoder,
            "mcp_wasm_host_catalog_generation",
            "Generation of the catalog serving (1 at start, one more per reload).",
            Gauge,
            self.gauges.catalog_generation,
        )?;
        let build = [
            ("version", env!("CARGO_PKG_VERSION")),
            ("git_commit", env!("MCP_WASM_HOST_COMMIT")),
            ("wasmtime_version", env!("MCP_WASM_HOST_WASMTIME_VERSION")),
            ("rmcp_version", env!("MCP_WASM_HOST_RMCP_VERSION")),
        ];
        family(
            &mut encoder,
            "mcp_wasm_host_build_info",
            "The host's build: version, git commit, and the wasmtime and rmcp it runs on (always 1).",
            Gauge,
            [(build, 1)],
        )?;
        process::encode(&mut encoder)
    }
}

impl Metrics {
    /// Everything, in the Prometheus text exposition format (0.0.4).
    pub fn render(&self, gauges: &Gauges) -> String {
        let scrape = Scrape {
            tools: read(&self.tools)
                .iter()
                .map(|(k, m)| {
                    let snapshot = ToolSnapshot {
                        calls: m.calls.load(Ordering::Relaxed),
                        tool_errors: m.tool_errors.load(Ordering::Relaxed),
                        host_errors: m.host_errors.load(Ordering::Relaxed),
                        latency: m.latency.snapshot(),
                    };
                    (k.clone(), snapshot)
                })
                .collect(),
            instantiate: self.instantiate.snapshot(),
            plugins: read(&self.plugins)
                .iter()
                .map(|(k, v)| (k.clone(), v.snapshot()))
                .collect(),
            reloads: self.reloads.load(Ordering::Relaxed),
            reload_failures: self.reload_failures.load(Ordering::Relaxed),
            refusals: Refusal::ALL
                .iter()
                .map(|r| (r.label(), self.refusals(*r)))
                .collect(),
            round_repeats: self.round_repeats.load(Ordering::Relaxed),
            in_flight: self.calls_in_flight(),
            gauges: gauges.clone(),
            auth_failures: self.auth_failures(),
            task_ends: self.task_ends(),
            tasks_started: self
                .tasks_started
                .load(std::sync::atomic::Ordering::Relaxed),
            long_calls: self.long_calls.load(Ordering::Relaxed),
            long_calls_waiting: self.long_calls_waiting.load(Ordering::Relaxed),
        };
        let mut registry = Registry::default();
        registry.register_collector(Box::new(scrape));
        self.mcp.register(&mut registry);
        let mut out = String::with_capacity(16 * 1024);
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry);
        out
    }
}
