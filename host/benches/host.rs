//! `just bench`: the figures recorded in docs/benchmarks.md.
//!
//! 1. In-process: instantiate a fresh sandbox from the cached `InstancePre`
//!    and call `hello.add` (no MCP, no transport); back to back, and again
//!    with the thread idle for a while before each call (the state a stdio
//!    server is in between requests).
//! 2. End to end over stdio: sequential `tools/call add` round trips against
//!    the real binary, from a blocking raw JSON-RPC client (p50, p99,
//!    calls/s), and `ping` as the transport's floor; beside them, a line
//!    echoed by `cat` (what the machine charges for two pipe hops) and the
//!    Node.js MCP reference server's `get-sum` (when
//!    `scripts/setup-bench-peers.sh` has installed it).
//! 3. Cold start: process start to the first `initialize` response, with a
//!    warm compile cache, for the example plugins and for ten plugins.
//!
//! 4. Hot reload: a component replaced in the watched directory to the
//!    client reading `tools/list_changed`, compile cache miss and hit.
//! 5. HTTP: calls/s at 1, 4 and 16 concurrent clients, and a 200-client,
//!    100 000-call soak with the host's memory sampled.
//! 6. Compile: what a compile-cache miss costs per plugin, under the host's
//!    engine configuration and variations of it.
//! 7. Polyglot: the Python and JavaScript examples (language runtimes inside):
//!    start with a cache miss and a warm cache, first and later calls with an
//!    instance per session and per call.
//! 8. Tasks: `countdown` with zero steps as a plain call and as a task
//!    (create, first `tasks/get`, completed), over stdio and HTTP; tasks run
//!    to completion per second by 16 HTTP clients.
//! 9. SQL: the `crm` example's `find_customer` on SQLite over stdio, and a
//!    one-row PostgreSQL query from 16 HTTP clients with the server's
//!    sessions counted (the pool is reused).
//!
//! `cargo bench --bench host -- NAME` runs only the sections whose name
//! contains NAME (`in-process`, `stdio`, `traced`, `cold-start`, `reload`, `http`,
//! `compile`, `polyglot`, `tasks`, `sql`). `MCP_WASM_HOST_BENCH_BINARY=PATH` runs the
//! end-to-end sections against another build of the host, to compare two
//! builds in one run.
//! Every loop is bounded in count. Needs `scripts/build-plugins.sh` first.

#[path = "host/compile.rs"]
mod compile;
#[path = "host/http_load.rs"]
mod http_load;
#[path = "host/noisy.rs"]
mod noisy;
#[path = "host/pipelined.rs"]
mod pipelined;
#[path = "host/polyglot.rs"]
mod polyglot;
#[path = "host/reload.rs"]
mod reload;
#[path = "host/scale.rs"]
mod scale;
#[path = "host/sql.rs"]
mod sql;
#[path = "host/tasks.rs"]
mod tasks;
#[path = "host/traced.rs"]
mod traced;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mcp_wasm_host::context::CallContext;
use mcp_wasm_host::plugin::Plugin;
use mcp_wasm_host::runtime::{Runtime, RuntimeConfig};
use serde_json::{Value, json};
use std::io::{BufRead as _, Write as _};

const IN_PROCESS_CALLS: usize = 20_000;
const IDLE_GAP_CALLS: usize = 1_000;
const IDLE_GAPS: [Duration; 3] = [
    Duration::from_micros(100),
    Duration::from_millis(1),
    Duration::from_millis(10),
];
const STDIO_CALLS: usize = 20_000;
const COLD_STARTS: usize = 20;

/// Extra environment variables for the next host spawned.
static HOST_ENV: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() -> anyhow::Result<()> {
    if std::env::var_os(pipelined::LINE_ANSWERER).is_some() {
        return pipelined::answer_lines();
    }
    let plugins = repo().join("target/plugins");
    anyhow::ensure!(
        plugins.join("hello.wasm").is_file(),
        "build the plugins first: scripts/build-plugins.sh"
    );
    let cache = repo().join("target/bench-compile-cache");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;

    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wanted = |section: &str| only.as_deref().is_none_or(|o| section.contains(o));
    println!("| benchmark | p50 | p99 | throughput |");
    println!("|---|---|---|---|");
    if wanted("in-process") {
        rt.block_on(in_process(&plugins, &cache))?;
    }
    if wanted("stdio") {
        stdio_round_trips(&plugins, &cache)?;
    }
    if wanted("pipelined") {
        pipelined::pipelined(&plugins, &cache)?;
    }
    if wanted("sparse") {
        pipelined::sparse(&plugins, &cache)?;
    }
    if wanted("traced") {
        traced::traced_stdio(&plugins, &cache)?;
    }
    if wanted("cold-start") {
        cold_start("cold start, example plugins", &plugins, &cache)?;
        let ten = ten_plugins(&plugins)?;
        cold_start("cold start, 10 plugins", &ten, &cache)?;
        let _ = std::fs::remove_dir_all(&ten);
    }
    if wanted("scale") {
        scale::plugins(&plugins, &cache)?;
    }
    if wanted("reload") {
        reload::file_replaced_to_list_changed(&plugins, &repo().join("target/fixture-plugins"))?;
    }
    if wanted("http") {
        http_load::http_load(&plugins, &cache)?;
    }
    if wanted("http-soak") {
        http_load::soak(&plugins, &cache)?;
    }
    if wanted("cores") {
        pipelined::cores(&plugins, &cache)?;
        http_load::cores(&plugins, &cache)?;
    }
    if wanted("noisy") {
        noisy::noisy_neighbours(&cache)?;
    }
    if wanted("polyglot") {
        polyglot::polyglot(&plugins)?;
    }
    if wanted("compile") {
        compile::compile_times(&plugins, &repo().join("target/fixture-plugins"))?;
    }
    if wanted("tasks") {
        tasks::tasks(&plugins, &cache)?;
    }
    if wanted("sql") {
        sql::sql(&plugins, &cache)?;
    }
    Ok(())
}

async fn in_process(plugins: &Path, cache: &Path) -> anyhow::Result<()> {
    let runtime = Arc::new(Runtime::new(RuntimeConfig {
        limits: Default::default(),
        cache_dir: Some(cache.to_path_buf()),
        cache_key: Some([0x5a; 32]),
        capabilities: mcp_wasm_host::capabilities::wiring(Default::default()),
    })?);
    let cx = mcp_wasm_host::plugin::LoadContext {
        runtime: runtime.clone(),
        policy: Arc::new(mcp_wasm_host::policy::PolicyHandle::new(
            mcp_wasm_host::policy::Policy::grant_declared(mcp_wasm_host::capabilities::registry()),
        )),
        consent_file: None,
    };
    let plugin = Plugin::load(
        &cx,
        &plugins.join("hello.wasm"),
        &plugins.join("hello.toml"),
    )
    .await?;
    // Warm-up.
    timed_calls(&runtime, &plugin, 1000, None).await?;
    let (samples, total) = timed_calls(&runtime, &plugin, IN_PROCESS_CALLS, None).await?;
    report(
        "in-process instantiate + call `add`",
        samples,
        IN_PROCESS_CALLS,
        total,
    );
    for gap in IDLE_GAPS {
        let (samples, total) = timed_calls(&runtime, &plugin, IDLE_GAP_CALLS, Some(gap)).await?;
        report(
            &format!(
                "in-process instantiate + call `add`, thread idle {} µs before each call",
                gap.as_micros()
            ),
            samples,
            IDLE_GAP_CALLS,
            total,
        );
    }
    Ok(())
}

/// `calls` sequential calls of `hello.add`, each timed; with `idle`, the
/// thread sleeps that long before each call (not counted).
async fn timed_calls(
    runtime: &Runtime,
    plugin: &Plugin,
    calls: usize,
    idle: Option<Duration>,
) -> anyhow::Result<(Vec<Duration>, Duration)> {
    let arguments = json!({"a": 2, "b": 3});
    let add = plugin
        .tools
        .iter()
        .position(|t| t.name == "add")
        .ok_or_else(|| anyhow::anyhow!("the plugin has no `add` tool"))?;
    let mut samples = Vec::with_capacity(calls);
    let start = Instant::now();
    for _ in 0..calls {
        if let Some(idle) = idle {
            std::thread::sleep(idle);
        }
        let t = Instant::now();
        let r = runtime
            .call_tool(plugin, add, &arguments, CallContext::detached("bench"))
            .await?;
        samples.push(t.elapsed());
        anyhow::ensure!(!r.is_error, "add failed: {r:?}");
    }
    Ok((samples, start.elapsed()))
}

fn report(name: &str, mut samples: Vec<Duration>, calls: usize, total: Duration) {
    samples.sort();
    println!(
        "| {name} | {:.1} µs | {:.1} µs | {:.0} calls/s |",
        micros(percentile(&samples, 0.5)),
        micros(percentile(&samples, 0.99)),
        calls as f64 / total.as_secs_f64()
    );
}

/// The host binary the end-to-end sections run: this build's, or the one
/// `MCP_WASM_HOST_BENCH_BINARY` names (to compare two builds in one run).
pub fn host_binary() -> PathBuf {
    std::env::var_os("MCP_WASM_HOST_BENCH_BINARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_mcp-wasm-host")))
}

/// `mcp-wasm-host serve` on `plugins` over piped stdio, logging warnings
/// only (stderr discarded).
fn spawn_host(plugins: &Path, cache: &Path) -> std::io::Result<std::process::Child> {
    std::process::Command::new(host_binary())
        .arg("serve")
        .arg("--plugins")
        .arg(plugins)
        .arg("--cache-dir")
        .arg(cache)
        .env("MCP_WASM_HOST_LOG", "warn")
        .envs(HOST_ENV.lock().unwrap().clone())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
}

/// The host as a child process, driven by a blocking client on the calling
/// thread: a raw JSON-RPC client with no runtime of its own, so the figures
/// are the server's.
struct Host {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
}

impl Host {
    fn spawn(plugins: &Path, cache: &Path) -> anyhow::Result<Self> {
        Self::attach(spawn_host(plugins, cache)?)
    }

    /// Any line-oriented JSON-RPC peer started with `command`.
    fn spawn_command(mut command: std::process::Command) -> anyhow::Result<Self> {
        let child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        Self::attach(child)
    }

    fn attach(mut child: std::process::Child) -> anyhow::Result<Self> {
        let stdin = child.stdin.take().unwrap();
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        Ok(Self {
            child,
            stdin,
            stdout,
        })
    }

    fn request(&mut self, message: &Value) -> anyhow::Result<Value> {
        let mut line = message.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes())?;
        self.stdin.flush()?;
        loop {
            let line = self
                .stdout
                .next()
                .ok_or_else(|| anyhow::anyhow!("host closed stdout"))??;
            let v: Value = serde_json::from_str(&line)?;
            if v.get("id") == message.get("id") {
                return Ok(v);
            }
        }
    }

    fn initialize(&mut self) -> anyhow::Result<()> {
        let r = self.request(&json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
            "protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"0"}}}))?;
        anyhow::ensure!(r.get("result").is_some(), "initialize failed: {r}");
        self.stdin
            .write_all(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n")?;
        Ok(())
    }

    /// Close stdin and wait (at most 5 s) for the host to exit.
    fn close(mut self) {
        drop(self.stdin);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `STDIO_CALLS` sequential round trips of `message(id)` (after 1000 not
/// counted), each answer checked by `check`; reported as `name`.
fn round_trips(
    peer: &mut Host,
    name: &str,
    message: impl Fn(usize) -> Value,
    check: impl Fn(&Value) -> bool,
) -> anyhow::Result<Duration> {
    counted_round_trips(peer, name, STDIO_CALLS, message, check)
}

/// `calls` sequential requests after a twentieth as many (100 to 1000) to
/// warm up; prints the row and returns the p50.
fn counted_round_trips(
    peer: &mut Host,
    name: &str,
    calls: usize,
    message: impl Fn(usize) -> Value,
    check: impl Fn(&Value) -> bool,
) -> anyhow::Result<Duration> {
    let warm_up = (calls / 20).clamp(100, 1000);
    for id in 1..=warm_up {
        let r = peer.request(&message(id))?;
        anyhow::ensure!(check(&r), "{name}: unexpected answer {r}");
    }
    let mut samples = Vec::with_capacity(calls);
    let start = Instant::now();
    for id in warm_up + 1..warm_up + 1 + calls {
        let t = Instant::now();
        let r = peer.request(&message(id))?;
        samples.push(t.elapsed());
        anyhow::ensure!(check(&r), "{name}: unexpected answer {r}");
    }
    let total = start.elapsed();
    samples.sort();
    let p50 = percentile(&samples, 0.5);
    report(name, samples, calls, total);
    Ok(p50)
}

fn stdio_round_trips(plugins: &Path, cache: &Path) -> anyhow::Result<()> {
    stdio_rows(plugins, cache, "")?;
    // The same with the client and every process it starts on one CPU: no
    // wake-up crosses CPUs, which on a virtual machine is most of the cost
    // above.
    match on_one_cpu(|| stdio_rows(plugins, cache, ", client and server on one CPU")) {
        Some(rows) => rows,
        None => {
            println!("| client and server on one CPU: cannot set the CPU affinity | | | |");
            Ok(())
        }
    }
}

/// Run `f` with this thread (the client, and the processes it starts)
/// allowed on its first allowed CPU only; `None` if the affinity cannot be
/// set.
fn on_one_cpu<R>(f: impl FnOnce() -> R) -> Option<R> {
    use rustix::thread::{CpuSet, sched_getaffinity, sched_setaffinity};
    let allowed = sched_getaffinity(None).ok()?;
    let first = (0..CpuSet::MAX_CPU).find(|&cpu| allowed.is_set(cpu))?;
    let mut one = CpuSet::new();
    one.set(first);
    sched_setaffinity(None, &one).ok()?;
    let result = f();
    sched_setaffinity(None, &allowed).ok()?;
    Some(result)
}

/// The stdio rows: the machine's floor, our `add` and `ping`, and the Node
/// reference server; `suffix` ends each row's name.
fn stdio_rows(plugins: &Path, cache: &Path, suffix: &str) -> anyhow::Result<()> {
    // The machine's floor: a line echoed by `cat` through two pipes, one
    // wake-up of a sleeping process each way.
    if let Ok(mut cat) = Host::spawn_command(std::process::Command::new("cat")) {
        round_trips(
            &mut cat,
            &format!("pipe round trip through `cat` (the machine's floor){suffix}"),
            |id| json!({"jsonrpc":"2.0","id":id,"method":"ping"}),
            |_| true,
        )?;
        cat.close();
    }

    let mut host = Host::spawn(plugins, cache)?;
    host.initialize()?;
    let ours = round_trips(
        &mut host,
        &format!("stdio end to end `tools/call add` (sequential){suffix}"),
        |id| json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3}}}),
        |r| r["result"]["structuredContent"]["sum"] == json!(5.0),
    )?;
    // The transport's own floor: `ping` reaches no plugin.
    round_trips(
        &mut host,
        &format!("stdio end to end `ping` (transport floor){suffix}"),
        |id| json!({"jsonrpc":"2.0","id":100_000 + id,"method":"ping"}),
        |r| r.get("result").is_some(),
    )?;
    host.close();
    for (peer, p50) in [
        ("Node reference server", node_reference_server(suffix)?),
        ("FastMCP", fastmcp_server(suffix)?),
    ] {
        if let Some(p50) = p50 {
            println!(
                "| ratio, sequential p50: {peer} / this host{suffix} | {:.1}× | | |",
                p50.as_secs_f64() / ours.as_secs_f64()
            );
        }
    }
    Ok(())
}

/// The MCP reference server (Node.js, no sandbox) measured the same way, its
/// `get-sum` tool beside our `add`; skipped unless
/// `scripts/setup-bench-peers.sh` has installed it. Returns its p50.
fn node_reference_server(suffix: &str) -> anyhow::Result<Option<Duration>> {
    let entry = repo().join(
        "target/bench-peers/node_modules/@modelcontextprotocol/server-everything/dist/index.js",
    );
    if !entry.is_file() {
        println!("| Node reference server: not installed (scripts/setup-bench-peers.sh) | | | |");
        return Ok(None);
    }
    let mut command = std::process::Command::new("node");
    command.arg(&entry).arg("stdio");
    let mut node = Host::spawn_command(command)?;
    node.initialize()?;
    let p50 = round_trips(
        &mut node,
        &format!("Node reference server (server-everything) `tools/call get-sum`{suffix}"),
        |id| json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":"get-sum","arguments":{"a":2,"b":3}}}),
        |r| {
            r["result"]["content"][0]["text"]
                .as_str()
                .is_some_and(|t| t.contains('5'))
        },
    )?;
    node.close();
    Ok(Some(p50))
}

/// FastMCP (Python) serving the same `add` (`host/benches/peers/
/// fastmcp_add.py`); skipped unless `scripts/setup-bench-peers.sh` has
/// installed it. Fewer calls: each takes about a millisecond. Returns its
/// p50.
fn fastmcp_server(suffix: &str) -> anyhow::Result<Option<Duration>> {
    let python = repo().join("target/bench-peers/fastmcp/bin/python");
    if !python.is_file() {
        println!("| FastMCP: not installed (scripts/setup-bench-peers.sh) | | | |");
        return Ok(None);
    }
    let mut command = std::process::Command::new(python);
    command.arg(repo().join("host/benches/peers/fastmcp_add.py"));
    let mut fastmcp = Host::spawn_command(command)?;
    fastmcp.initialize()?;
    let p50 = counted_round_trips(
        &mut fastmcp,
        &format!("FastMCP 4.1.6 `tools/call add`{suffix}"),
        2_000,
        |id| json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3}}}),
        |r| r["result"]["structuredContent"]["sum"] == json!(5.0),
    )?;
    fastmcp.close();
    Ok(Some(p50))
}

fn cold_start(name: &str, plugins: &Path, cache: &Path) -> anyhow::Result<()> {
    // Warm the cache once.
    let mut host = Host::spawn(plugins, cache)?;
    host.initialize()?;
    host.close();
    let mut samples = Vec::with_capacity(COLD_STARTS);
    for _ in 0..COLD_STARTS {
        let t = Instant::now();
        let mut host = Host::spawn(plugins, cache)?;
        host.initialize()?;
        samples.push(t.elapsed());
        host.close();
    }
    samples.sort();
    println!(
        "| {name} (warm compile cache, to first response) | {:.1} ms | {:.1} ms (max) | |",
        percentile(&samples, 0.5).as_secs_f64() * 1e3,
        samples.last().unwrap().as_secs_f64() * 1e3,
    );
    Ok(())
}

/// Ten distinct plugins: copies of the examples under new names.
fn ten_plugins(plugins: &Path) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("mcp-wasm-host-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    for i in 0..10 {
        let source = if i % 2 == 0 { "hello" } else { "texttools" };
        let name = format!("{source}{i}");
        std::fs::copy(
            plugins.join(format!("{source}.wasm")),
            dir.join(format!("{name}.wasm")),
        )?;
        let manifest = std::fs::read_to_string(plugins.join(format!("{source}.toml")))?.replace(
            &format!("name = \"{source}\""),
            &format!("name = \"{name}\""),
        );
        std::fs::write(dir.join(format!("{name}.toml")), manifest)?;
    }
    Ok(dir)
}
