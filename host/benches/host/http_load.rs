//! HTTP under load: `tools/call add` through Streamable HTTP from 1, 4 and
//! 16 concurrent handshake-era clients (each its own session, calling back
//! to back), then a bounded soak: 1 000 sessions open at once, 100 000
//! calls in all, with the host's resident memory sampled as the calls go
//! and again once every session has closed. The clients (raw
//! JSON-RPC over reqwest) run in this process, on the same two cores as the
//! host.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

const CALLS_PER_LEVEL: usize = 20_000;
const LEVELS: [usize; 3] = [1, 4, 16];
const SOAK_CLIENTS: usize = 1_000;
const SOAK_CALLS: usize = 100_000;
/// Memory samples taken during the soak.
const SOAK_SAMPLES: usize = 10;

/// The host serving HTTP on an ephemeral loopback port.
pub(super) struct HttpHost {
    child: Child,
    pub(super) url: String,
}

impl HttpHost {
    pub(super) fn spawn(plugins: &Path, cache: &Path) -> anyhow::Result<Self> {
        Self::spawn_on(plugins, cache, None, &[])
    }

    /// The host, on the CPUs `cpus` (a `taskset` list) when given, with
    /// `args` added to `serve`.
    pub(super) fn spawn_on(
        plugins: &Path,
        cache: &Path,
        cpus: Option<&str>,
        args: &[&str],
    ) -> anyhow::Result<Self> {
        let mut command = match cpus {
            Some(cpus) => {
                let mut taskset = std::process::Command::new("taskset");
                taskset.args(["-c", cpus]).arg(super::host_binary());
                taskset
            }
            None => std::process::Command::new(super::host_binary()),
        };
        let mut child = command
            .arg("serve")
            .arg("--plugins")
            .arg(plugins)
            .arg("--cache-dir")
            .arg(cache)
            .arg("--no-watch")
            .arg("--http")
            .arg("127.0.0.1:0")
            .args(args)
            // The default log, as an operator gets it (the audit lines included).
            .env_remove("MCP_WASM_HOST_LOG")
            .env_remove("RUST_LOG")
            .envs(super::HOST_ENV.lock().unwrap().clone())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut line = String::new();
        let url = loop {
            anyhow::ensure!(Instant::now() < deadline, "the host never listened");
            line.clear();
            anyhow::ensure!(stderr.read_line(&mut line)? > 0, "the host exited");
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.trim().to_string();
            }
        };
        // Keep draining stderr so the host never blocks on it.
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        Ok(Self { child, url })
    }

    /// The host's resident set size, in MiB.
    fn rss_mib(&self) -> f64 {
        Self::rss_of(self.child.id())
    }
}

impl Drop for HttpHost {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw JSON-RPC client for one handshake-era session: `initialize`, then
/// POSTs carrying the session id, reading the one SSE event (or JSON body)
/// that answers each. Light, so the figures are mostly the server's.
pub(super) struct Session {
    http: reqwest::Client,
    url: String,
    id: String,
    next_id: u64,
}

impl Session {
    async fn connect(url: &str) -> anyhow::Result<Self> {
        Self::connect_with(url, json!({})).await
    }

    /// A session whose client declares `capabilities`.
    pub(super) async fn connect_with(
        url: &str,
        capabilities: serde_json::Value,
    ) -> anyhow::Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder().no_proxy().build()?;
        let response = http
            .post(url)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(
                json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                    "protocolVersion": "2025-11-25", "capabilities": capabilities,
                    "clientInfo": {"name": "bench", "version": "0"}}})
                .to_string(),
            )
            .send()
            .await?;
        let Some(id) = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
        else {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            anyhow::bail!("no session id: {status} {body}");
        };
        let _ = response.bytes().await?;
        let mut session = Self {
            http,
            url: url.to_string(),
            id,
            next_id: 1,
        };
        session
            .post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await?;
        Ok(session)
    }

    pub(super) async fn post(
        &mut self,
        message: serde_json::Value,
    ) -> anyhow::Result<Option<serde_json::Value>> {
        let body = self
            .http
            .post(&self.url)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .header("mcp-session-id", &self.id)
            .header("mcp-protocol-version", "2025-11-25")
            .body(message.to_string())
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        let json = body
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(str::trim)
            .find(|d| !d.is_empty())
            .unwrap_or(body.trim());
        Ok(serde_json::from_str(json).ok())
    }

    /// `tools/call add {a: 2, b: 3}`; whether it answered 5 (structured,
    /// as this host and FastMCP do).
    pub(super) async fn add(&mut self) -> bool {
        let id = self.next_id;
        self.next_id += 1;
        let call = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": "add", "arguments": {"a": 2, "b": 3}}});
        match self.post(call).await {
            Ok(Some(r)) => r["result"]["structuredContent"]["sum"] == json!(5.0),
            _ => false,
        }
    }

    /// `get-sum {a: 2, b: 3}` of the Node reference server; whether its
    /// text answer holds 5.
    async fn get_sum(&mut self) -> bool {
        let id = self.next_id;
        self.next_id += 1;
        let call = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": "get-sum", "arguments": {"a": 2, "b": 3}}});
        match self.post(call).await {
            Ok(Some(r)) => r["result"]["content"][0]["text"]
                .as_str()
                .is_some_and(|t| t.contains('5')),
            _ => false,
        }
    }

    /// Call `tool`; whether it answered right.
    async fn call(&mut self, tool: Tool) -> bool {
        match tool {
            Tool::Add => self.add().await,
            Tool::GetSum => self.get_sum().await,
        }
    }

    pub(super) async fn close(self) {
        let _ = self
            .http
            .delete(&self.url)
            .header("mcp-session-id", &self.id)
            .send()
            .await;
    }
}

/// The tool the clients call: `add` of this host and FastMCP, or the Node
/// reference server's `get-sum`.
#[derive(Debug, Clone, Copy)]
enum Tool {
    Add,
    GetSum,
}

/// `clients` sessions sharing `calls` calls of `add`; returns every call's
/// latency, the wall time, and how many calls failed. `on_progress` is told
/// how many calls are done, now and then.
async fn run_clients(
    url: &str,
    clients: usize,
    calls: usize,
    on_progress: impl Fn(usize) + Send + Sync + 'static,
) -> anyhow::Result<(Vec<Duration>, Duration, usize)> {
    run_clients_calling(url, clients, calls, Tool::Add, on_progress).await
}

/// [`run_clients`], calling `tool`.
async fn run_clients_calling(
    url: &str,
    clients: usize,
    calls: usize,
    tool: Tool,
    on_progress: impl Fn(usize) + Send + Sync + 'static,
) -> anyhow::Result<(Vec<Duration>, Duration, usize)> {
    let mut sessions = Vec::with_capacity(clients);
    for _ in 0..clients {
        sessions.push(Session::connect(url).await?);
    }
    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let on_progress = Arc::new(on_progress);
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for mut session in sessions {
        let (next, failed, on_progress) = (next.clone(), failed.clone(), on_progress.clone());
        tasks.spawn(async move {
            let mut samples = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= calls {
                    break;
                }
                let t = Instant::now();
                let ok = session.call(tool).await;
                samples.push(t.elapsed());
                if !ok {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                if n % 1000 == 999 {
                    on_progress(n + 1);
                }
            }
            session.close().await;
            samples
        });
    }
    let mut samples = Vec::with_capacity(calls);
    while let Some(done) = tasks.join_next().await {
        samples.extend(done?);
    }
    Ok((samples, start.elapsed(), failed.load(Ordering::Relaxed)))
}

pub fn http_load(plugins: &Path, cache: &Path) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let host = HttpHost::spawn(plugins, cache)?;
    rt.block_on(async {
        // Warm-up.
        run_clients(&host.url, 4, 2_000, |_| {}).await?;
        for clients in LEVELS {
            let (samples, total, failed) =
                run_clients(&host.url, clients, CALLS_PER_LEVEL, |_| {}).await?;
            anyhow::ensure!(failed == 0, "{failed} calls failed at {clients} clients");
            super::report(
                &format!("HTTP `tools/call add`, {clients} concurrent client(s)"),
                samples,
                CALLS_PER_LEVEL,
                total,
            );
        }
        Ok::<_, anyhow::Error>(())
    })?;
    // The host stays up, idle while a peer is measured, so that each round
    // measures the two back to back.
    rt.block_on(fastmcp_http(&host))?;
    rt.block_on(node_http(&host))?;
    Ok(())
}

/// The soak (`-- http-soak`): `SOAK_CLIENTS` sessions open at once,
/// `SOAK_CALLS` calls in all, resident memory as they go and once they
/// closed.
pub fn soak(plugins: &Path, cache: &Path) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // The soak, on a fresh host. Without authentication every session is
    // one principal, whose calls in flight are capped (64 by default), and
    // each client holds a connection (1 024 by default): both are raised
    // for the number of sessions, as an operator would for a load test.
    let soak_clients = SOAK_CLIENTS.to_string();
    let connections = (2 * SOAK_CLIENTS).to_string();
    let host = HttpHost::spawn_on(
        plugins,
        cache,
        None,
        &[
            "--max-calls-per-principal",
            &soak_clients,
            "--max-connections",
            &connections,
        ],
    )?;
    let pid = host.child.id();
    // Warm up (compile cache, instance pool, allocator) before the first sample.
    let (_, _, failed) = rt.block_on(run_clients(&host.url, 4, 2_000, |_| {}))?;
    anyhow::ensure!(failed == 0, "{failed} warm-up calls failed");
    let before = host.rss_mib();
    let anonymous_before = host.anonymous_mib();
    let rss = Arc::new(std::sync::Mutex::new(vec![(0usize, before)]));
    let every = SOAK_CALLS / SOAK_SAMPLES;
    let (samples, total, failed) =
        rt.block_on(run_clients(&host.url, SOAK_CLIENTS, SOAK_CALLS, {
            let rss = rss.clone();
            move |done| {
                if done % every == 0 {
                    let mib = HttpHost::rss_of(pid);
                    rss.lock().unwrap().push((done, mib));
                }
            }
        }))?;
    super::report(
        &format!(
            "HTTP soak: {SOAK_CLIENTS} concurrent clients, {SOAK_CALLS} calls, {failed} failed"
        ),
        samples,
        SOAK_CALLS,
        total,
    );
    let rss = rss.lock().unwrap();
    let shown: Vec<String> = rss
        .iter()
        .map(|(done, mib)| format!("{}k: {mib:.0}", done / 1000))
        .collect();
    println!(
        "| HTTP soak host RSS (MiB) after N calls | {} | | |",
        shown.join(", ")
    );
    // Every session was closed (DELETE) by its client; give the host a
    // moment to drop what they held.
    std::thread::sleep(Duration::from_secs(2));
    let after = host.rss_mib();
    let anonymous_after = host.anonymous_mib();
    let held = host.largest_anonymous_mappings(4);
    let metrics = rt.block_on(async {
        let url = host.url.replace("/mcp", "/metrics");
        reqwest::Client::builder()
            .no_proxy()
            .build()?
            .get(url)
            .send()
            .await?
            .text()
            .await
    })?;
    let open = metrics
        .lines()
        .find_map(|l| l.strip_prefix("mcp_wasm_host_sessions_active "))
        .unwrap_or("?")
        .to_string();
    println!("| HTTP soak: sessions still open once every client closed its own | {open} | | |");
    println!(
        "| HTTP soak host RSS once the sessions closed: before / after | {before:.0} / {after:.0} MiB | {:+.0} % | |",
        (after / before - 1.0) * 100.0
    );
    println!(
        "| the same, anonymous memory only (heap and instances, not code pages) | {anonymous_before:.0} / {anonymous_after:.0} MiB | {:+.0} % | |",
        (anonymous_after / anonymous_before - 1.0) * 100.0
    );
    println!(
        "| the largest anonymous mappings then (resident KiB: where) | {} | | |",
        held.join(", ")
    );
    anyhow::ensure!(failed == 0, "{failed} soak calls failed");
    Ok(())
}

/// How many clients the peers are measured with over HTTP.
const PEER_CLIENTS: usize = 16;
/// Calls FastMCP gets in a round (each takes milliseconds).
const PEER_CALLS: usize = 2_000;
/// Rounds in which this host and a peer are measured back to back, each
/// round giving a ratio: this VM's speed drifts by a third over a minute,
/// so a ratio of runs made minutes apart says more about the drift.
const PEER_ROUNDS: usize = 3;

/// FastMCP serving the same `add` over Streamable HTTP on 127.0.0.1 to
/// `PEER_CLIENTS` clients, and `host`'s throughput over its; skipped
/// unless `scripts/setup-bench-peers.sh` has installed it.
async fn fastmcp_http(host: &HttpHost) -> anyhow::Result<()> {
    let python = super::repo().join("target/bench-peers/fastmcp/bin/python");
    if !python.is_file() {
        println!("| FastMCP over HTTP: not installed (scripts/setup-bench-peers.sh) | | | |");
        return Ok(());
    }
    let port = free_port()?;
    let mut command = std::process::Command::new(python);
    command
        .arg(super::repo().join("host/benches/peers/fastmcp_add.py"))
        .args(["--http", &port.to_string()]);
    let peer = HttpPeer {
        name: "FastMCP",
        figure: "FastMCP 4.1.6 over HTTP `tools/call add`",
        tool: Tool::Add,
        warm_up: 200,
        calls: PEER_CALLS,
    };
    peer.measure(command, port, host).await
}

/// The Node reference server (`server-everything`, no sandbox) serving its
/// `get-sum` over Streamable HTTP to `PEER_CLIENTS` clients, and `host`'s
/// throughput over its; skipped unless `scripts/setup-bench-peers.sh`
/// has installed it. It listens on every interface when left alone, so a
/// preloaded script (`host/benches/peers/loopback.cjs`) binds it to
/// 127.0.0.1.
async fn node_http(host: &HttpHost) -> anyhow::Result<()> {
    let entry = super::repo().join(
        "target/bench-peers/node_modules/@modelcontextprotocol/server-everything/dist/index.js",
    );
    if !entry.is_file() {
        println!(
            "| Node reference server over HTTP: not installed (scripts/setup-bench-peers.sh) | | | |"
        );
        return Ok(());
    }
    let port = free_port()?;
    let mut command = std::process::Command::new("node");
    command
        .arg("--require")
        .arg(super::repo().join("host/benches/peers/loopback.cjs"))
        .arg(&entry)
        .arg("streamableHttp")
        .env("PORT", port.to_string());
    let peer = HttpPeer {
        name: "Node reference server",
        figure: "Node reference server (server-everything) over HTTP `tools/call get-sum`",
        tool: Tool::GetSum,
        warm_up: 2_000,
        calls: CALLS_PER_LEVEL,
    };
    peer.measure(command, port, host).await
}

/// A free port on 127.0.0.1 for a peer to listen on.
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A peer server measured over HTTP beside this host.
struct HttpPeer {
    /// How the ratio names it.
    name: &'static str,
    /// How its throughput row is named.
    figure: &'static str,
    tool: Tool,
    /// Calls made first and not counted.
    warm_up: usize,
    /// Calls measured.
    calls: usize,
}

impl HttpPeer {
    /// Start `command` (the peer, told to listen on 127.0.0.1:`port`), wait
    /// for it to listen and warm it up; then, `PEER_ROUNDS` times, measure
    /// `host` and the peer back to back with `PEER_CLIENTS` clients each.
    /// Prints the peer's figures over every round and `host`'s throughput
    /// over the peer's: the median of the rounds' ratios, and each one.
    async fn measure(
        self,
        mut command: std::process::Command,
        port: u16,
        host: &HttpHost,
    ) -> anyhow::Result<()> {
        let name = self.name;
        let mut child = command
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                let _ = child.wait();
                anyhow::bail!("{name} did not listen on 127.0.0.1:{port}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let url = format!("http://127.0.0.1:{port}/mcp");
        let measured = async {
            run_clients_calling(&url, 4, self.warm_up, self.tool, |_| {}).await?;
            let mut rounds = Vec::with_capacity(PEER_ROUNDS);
            for _ in 0..PEER_ROUNDS {
                let (_, ours, failed) =
                    run_clients(&host.url, PEER_CLIENTS, CALLS_PER_LEVEL, |_| {}).await?;
                anyhow::ensure!(failed == 0, "{failed} calls of this host failed");
                let ours = CALLS_PER_LEVEL as f64 / ours.as_secs_f64();
                let (samples, total, failed) =
                    run_clients_calling(&url, PEER_CLIENTS, self.calls, self.tool, |_| {}).await?;
                anyhow::ensure!(failed == 0, "{failed} calls of {name} failed");
                rounds.push((ours, samples, total));
            }
            Ok(rounds)
        }
        .await;
        let _ = child.kill();
        let _ = child.wait();
        let rounds = measured?;
        let mut ratios: Vec<f64> = rounds
            .iter()
            .map(|(ours, _, total)| ours / (self.calls as f64 / total.as_secs_f64()))
            .collect();
        let each: Vec<String> = ratios.iter().map(|r| format!("{r:.1}×")).collect();
        let total: Duration = rounds.iter().map(|(_, _, total)| *total).sum();
        let samples: Vec<Duration> = rounds.into_iter().flat_map(|(_, s, _)| s).collect();
        super::report(
            &format!(
                "{}, {PEER_CLIENTS} concurrent clients ({PEER_ROUNDS} rounds)",
                self.figure
            ),
            samples,
            self.calls * PEER_ROUNDS,
            total,
        );
        ratios.sort_by(f64::total_cmp);
        println!(
            "| ratio, HTTP throughput at {PEER_CLIENTS} clients: this host / {name}, median of \
             {PEER_ROUNDS} rounds (each: this host, then {name}) | {:.1}× | rounds: {} | |",
            ratios[ratios.len() / 2],
            each.join(", ")
        );
        Ok(())
    }
}

impl HttpHost {
    /// The resident set size of process `pid`, in MiB.
    pub(super) fn rss_of(pid: u32) -> f64 {
        Self::status_mib(pid, "VmRSS:")
    }

    /// The host's anonymous resident memory (heap and instances, not the
    /// pages of its code files), in MiB.
    fn anonymous_mib(&self) -> f64 {
        Self::status_mib(self.child.id(), "RssAnon:")
    }

    /// The `n` anonymous mappings of the host holding the most resident
    /// memory, each as its size and what it is (`[heap]`, a thread's
    /// stack, or `anon` for the allocator's arenas and the sandboxes).
    fn largest_anonymous_mappings(&self, n: usize) -> Vec<String> {
        let smaps =
            std::fs::read_to_string(format!("/proc/{}/smaps", self.child.id())).unwrap_or_default();
        let mut mappings: Vec<(u64, String)> = Vec::new();
        let mut name = String::new();
        for line in smaps.lines() {
            let mut fields = line.split_whitespace();
            match fields.next() {
                Some("Anonymous:") => {
                    let kib = fields.next().and_then(|v| v.parse().ok()).unwrap_or(0);
                    mappings.push((kib, name.clone()));
                }
                Some(first) if first.contains('-') && !first.ends_with(':') => {
                    let size = first
                        .split_once('-')
                        .and_then(|(a, b)| {
                            Some(
                                u64::from_str_radix(b, 16).ok()?
                                    - u64::from_str_radix(a, 16).ok()?,
                            )
                        })
                        .unwrap_or(0);
                    let what = fields.nth(4).unwrap_or("anon");
                    name = format!("{what} of {} KiB", size / 1024);
                }
                _ => {}
            }
        }
        mappings.sort_by_key(|m| std::cmp::Reverse(m.0));
        mappings
            .into_iter()
            .take(n)
            .map(|(kib, name)| format!("{kib}: {name}"))
            .collect()
    }

    /// A memory figure of `/proc/<pid>/status`, in MiB.
    fn status_mib(pid: u32, field: &str) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kib| kib / 1024.0)
    }
}

/// Scaling with cores (`-- cores`): HTTP `tools/call add` from 16 clients
/// with the host confined by `taskset` to one CPU, then to every CPU (the
/// clients run unconfined, in this process).
pub fn cores(plugins: &Path, cache: &Path) -> anyhow::Result<()> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut one_core = f64::NAN;
    for (label, list) in [
        ("1 CPU", "0".to_string()),
        ("every CPU", format!("0-{}", cpus - 1)),
    ] {
        let host = HttpHost::spawn_on(plugins, cache, Some(&list), &[])?;
        rt.block_on(run_clients(&host.url, 4, 2_000, |_| {}))?;
        let cpu_before = super::pipelined::cpu_seconds(host.child.id());
        let (samples, total, failed) = rt.block_on(run_clients(
            &host.url,
            PEER_CLIENTS,
            CALLS_PER_LEVEL,
            |_| {},
        ))?;
        let cpu = super::pipelined::cpu_seconds(host.child.id()) - cpu_before;
        anyhow::ensure!(failed == 0, "{failed} calls failed on {label}");
        let throughput = CALLS_PER_LEVEL as f64 / total.as_secs_f64();
        if one_core.is_nan() {
            one_core = throughput;
        }
        super::report(
            &format!(
                "cores: HTTP `tools/call add`, {PEER_CLIENTS} clients, host on {label} \
                 (taskset -c {list}; {:.2}× 1 CPU; host busy {:.2} CPUs, {:.0} µs CPU per call)",
                throughput / one_core,
                cpu / total.as_secs_f64(),
                cpu / CALLS_PER_LEVEL as f64 * 1e6
            ),
            samples,
            CALLS_PER_LEVEL,
            total,
        );
    }
    Ok(())
}
