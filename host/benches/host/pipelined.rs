//! Pipelined stdio (`-- pipelined`): a raw client keeps 8 requests in flight
//! (a writer thread sends while the reader takes answers off the pipe), for
//! this host, the Node reference server and FastMCP serving the same
//! addition, and this host answering `ping` (no sandbox) for the floor under
//! a call. Prints throughput and the server's CPU per call, read from
//! `/proc/<pid>/stat` around the measured calls, so the client's own CPU
//! does not count.

use std::io::Write as _;
use std::path::Path;
use std::sync::mpsc;
use std::time::Instant;

use serde_json::{Value, json};

use super::Host;

const IN_FLIGHT: usize = 8;

/// The server's user and system CPU so far, in seconds.
pub(super) fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which ends with the last `)`.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 here.
    (ticks(11) + ticks(12)) / rustix::param::clock_ticks_per_second() as f64
}

/// The CPU time of each live thread of `pid` (nanoseconds on a CPU, from
/// `/proc/<pid>/task/*/schedstat`), by thread id.
fn threads_cpu(pid: u32) -> std::collections::BTreeMap<u32, u64> {
    let mut threads = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return threads;
    };
    for task in tasks.flatten() {
        let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        let ns = std::fs::read_to_string(task.path().join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse().ok());
        if let Some(ns) = ns {
            threads.insert(tid, ns);
        }
    }
    threads
}

/// A reading of a server's CPU time: the clock ticks of `/proc/<pid>/stat`
/// (which count threads that have exited) and each live thread's
/// nanoseconds.
struct CpuReading {
    ticks: f64,
    threads: std::collections::BTreeMap<u32, u64>,
}

impl CpuReading {
    fn of(pid: u32) -> Self {
        Self {
            ticks: cpu_seconds(pid),
            threads: threads_cpu(pid),
        }
    }

    /// Seconds of CPU from `self` to `later`: to the nanosecond when the
    /// same threads lived at both readings, else in clock ticks.
    fn until(&self, later: &CpuReading) -> f64 {
        let same_threads = !self.threads.is_empty() && self.threads.keys().eq(later.threads.keys());
        if same_threads {
            let sum = |t: &std::collections::BTreeMap<u32, u64>| t.values().sum::<u64>();
            (sum(&later.threads) - sum(&self.threads)) as f64 / 1e9
        } else {
            later.ticks - self.ticks
        }
    }
}

/// Send `calls` requests with at most `IN_FLIGHT` unanswered; returns the
/// wall time and how many answers were errors.
fn drive(
    peer: &mut Host,
    first_id: usize,
    calls: usize,
    message: &(dyn Fn(usize) -> Value + Sync),
) -> anyhow::Result<(std::time::Duration, usize)> {
    let (permits, permit) = mpsc::channel::<()>();
    for _ in 0..IN_FLIGHT {
        permits.send(())?;
    }
    let lines: Vec<String> = (first_id..first_id + calls)
        .map(|id| {
            let mut line = message(id).to_string();
            line.push('\n');
            line
        })
        .collect();
    let start = Instant::now();
    let mut errors = 0;
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let stdin = &mut peer.stdin;
        let writer = scope.spawn(move || -> std::io::Result<()> {
            for line in &lines {
                if permit.recv().is_err() {
                    break;
                }
                stdin.write_all(line.as_bytes())?;
                stdin.flush()?;
            }
            Ok(())
        });
        let mut answered = 0;
        while answered < calls {
            let line = peer
                .stdout
                .next()
                .ok_or_else(|| anyhow::anyhow!("the server closed stdout"))??;
            if !line.contains("\"id\"") {
                continue; // a notification
            }
            if line.contains("\"error\"") || line.contains("\"isError\":true") {
                errors += 1;
            }
            answered += 1;
            let _ = permits.send(());
        }
        drop(permits);
        writer
            .join()
            .map_err(|_| anyhow::anyhow!("the writer panicked"))??;
        Ok(())
    })?;
    Ok((start.elapsed(), errors))
}

fn measure(
    mut peer: Host,
    name: &str,
    calls: usize,
    message: &(dyn Fn(usize) -> Value + Sync),
) -> anyhow::Result<()> {
    peer.initialize()?;
    let (_, errors) = drive(&mut peer, 1, calls / 10, message)?;
    anyhow::ensure!(errors == 0, "{name}: {errors} errors while warming up");
    let pid = peer.child.id();
    let cpu_before = cpu_seconds(pid);
    let (wall, errors) = drive(&mut peer, 1 + calls / 10, calls, message)?;
    let cpu = cpu_seconds(pid) - cpu_before;
    anyhow::ensure!(errors == 0, "{name}: {errors} errors");
    println!(
        "| {name}, {IN_FLIGHT} in flight | {:.1} µs server CPU per call | | {:.0} calls/s |",
        cpu / calls as f64 * 1e6,
        calls as f64 / wall.as_secs_f64()
    );
    peer.close();
    Ok(())
}

/// The Node reference server over stdio, when `scripts/setup-bench-peers.sh`
/// has installed it.
fn node_reference() -> Option<std::process::Command> {
    let node = super::repo().join(
        "target/bench-peers/node_modules/@modelcontextprotocol/server-everything/dist/index.js",
    );
    node.is_file().then(|| {
        let mut command = std::process::Command::new("node");
        command.arg(&node).arg("stdio");
        command
    })
}

pub fn pipelined(plugins: &Path, cache: &Path) -> anyhow::Result<()> {
    let add = |id: usize| json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3}}});
    measure(
        Host::spawn(plugins, cache)?,
        "stdio pipelined `tools/call add`",
        40_000,
        &add,
    )?;
    // The floor under a call: the same framing and dispatch with no
    // sandbox (`-- in-process` gives what a fresh instance adds).
    measure(
        Host::spawn(plugins, cache)?,
        "stdio pipelined `ping` (no sandbox: the transport's floor)",
        40_000,
        &|id| json!({"jsonrpc":"2.0","id":id,"method":"ping"}),
    )?;
    if let Some(command) = node_reference() {
        measure(
            Host::spawn_command(command)?,
            "Node reference server pipelined `tools/call get-sum`",
            40_000,
            &|id| json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":"get-sum","arguments":{"a":2,"b":3}}}),
        )?;
    }
    let python = super::repo().join("target/bench-peers/fastmcp/bin/python");
    if python.is_file() {
        let mut command = std::process::Command::new(python);
        command.arg(super::repo().join("host/benches/peers/fastmcp_add.py"));
        measure(
            Host::spawn_command(command)?,
            "FastMCP 4.1.6 pipelined `tools/call add`",
            4_000,
            &add,
        )?;
    }
    Ok(())
}

/// Calls per second of the sparse run.
const SPARSE_RATE: u32 = 100;
/// Calls of the sparse run.
const SPARSE_CALLS: usize = 1_000;
/// How long the idle host is watched.
const IDLE_FOR: std::time::Duration = std::time::Duration::from_secs(10);

/// Set in the environment of this bench's own binary, it answers request
/// lines instead of benchmarking ([`answer_lines`]).
pub const LINE_ANSWERER: &str = "MCP_WASM_HOST_BENCH_LINE_ANSWERER";

/// The machine's floor for a stdio server: read each JSON-RPC line from
/// stdin and write a fixed result for every request, on one thread with
/// blocking reads and one write per answer. No server can spend less per
/// request; at 100 requests/s what it spends is the cost of being woken.
pub fn answer_lines() -> anyhow::Result<()> {
    use std::io::BufRead as _;
    let mut stdout = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let Ok(request) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let Some(id) = request.get("id") else {
            continue;
        };
        let answer =
            json!({"jsonrpc":"2.0","id":id,"result":{"content":[{"type":"text","text":"5"}]}});
        writeln!(stdout, "{answer}")?;
        stdout.flush()?;
    }
    Ok(())
}

/// Sparse traffic (`-- sparse`): the server's CPU per call at saturation
/// (8 in flight), back to back, and at 100 calls/s (one request every
/// 10 ms, each answered before the next), with the p50 of the last two;
/// then its CPU over 10 s without calls. This host, the machine's floor
/// ([`answer_lines`]), then the Node reference server for comparison. CPU
/// is read to the nanosecond from each thread's schedstat when no thread
/// started or ended during a measurement, else in clock ticks.
pub fn sparse(plugins: &Path, cache: &Path) -> anyhow::Result<()> {
    let add = |id: usize| json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3}}});
    sparse_traffic(Host::spawn(plugins, cache)?, "this host, `add`", &add)?;
    let mut floor = std::process::Command::new(std::env::current_exe()?);
    floor.env(LINE_ANSWERER, "1");
    sparse_traffic(
        Host::spawn_command(floor)?,
        "a line answerer (the machine's floor)",
        &add,
    )?;
    if let Some(command) = node_reference() {
        sparse_traffic(
            Host::spawn_command(command)?,
            "Node reference server, `get-sum`",
            &|id| json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":"get-sum","arguments":{"a":2,"b":3}}}),
        )?;
    }
    Ok(())
}

fn sparse_traffic(
    mut host: Host,
    name: &str,
    add: &(dyn Fn(usize) -> Value + Sync),
) -> anyhow::Result<()> {
    host.initialize()?;
    let pid = host.child.id();
    let (_, errors) = drive(&mut host, 1, 2_000, add)?;
    anyhow::ensure!(errors == 0, "{errors} errors while warming up");

    let saturated_calls = 20_000;
    let before = CpuReading::of(pid);
    let (_, errors) = drive(&mut host, 10_000, saturated_calls, add)?;
    let saturated = before.until(&CpuReading::of(pid)) / saturated_calls as f64;
    anyhow::ensure!(errors == 0, "{errors} errors at saturation");

    let mut paced = |first_id: usize, calls: usize, every: Option<std::time::Duration>| {
        let mut latencies = Vec::with_capacity(calls);
        let before = CpuReading::of(pid);
        let mut next = Instant::now();
        for id in first_id..first_id + calls {
            if let Some(every) = every {
                next += every;
                if let Some(wait) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
            let started = Instant::now();
            let answer = host.request(&add(id))?;
            latencies.push(started.elapsed());
            anyhow::ensure!(answer.get("result").is_some(), "call {id} failed: {answer}");
        }
        let cpu = before.until(&CpuReading::of(pid)) / calls as f64;
        latencies.sort();
        anyhow::Ok((cpu, latencies[latencies.len() / 2]))
    };
    let (back_to_back, back_to_back_p50) = paced(100_000, 5_000, None)?;
    let every = std::time::Duration::from_secs(1) / SPARSE_RATE;
    let (sparse, sparse_p50) = paced(200_000, SPARSE_CALLS, Some(every))?;
    println!(
        "| sparse traffic, {name}: server CPU per stdio call, {IN_FLIGHT} in flight | {:.1} µs | | |",
        saturated * 1e6
    );
    println!(
        "| sparse traffic, {name}: server CPU per stdio call, back to back | {:.1} µs | p50 {:.1} µs | |",
        back_to_back * 1e6,
        back_to_back_p50.as_secs_f64() * 1e6
    );
    println!(
        "| sparse traffic, {name}: server CPU per stdio call, {SPARSE_RATE} calls/s | {:.1} µs | p50 {:.1} µs | {:.1}× the CPU per call at saturation |",
        sparse * 1e6,
        sparse_p50.as_secs_f64() * 1e6,
        sparse / saturated
    );
    let before = CpuReading::of(pid);
    std::thread::sleep(IDLE_FOR);
    println!(
        "| idle, {name}: server CPU over {} s without calls | {:.1} ms | | |",
        IDLE_FOR.as_secs(),
        before.until(&CpuReading::of(pid)) * 1e3
    );
    host.close();
    Ok(())
}

/// Bytes of text each call of the stdio half of `-- cores` hashes.
const HASHED_BYTES: usize = 256 << 10;
/// Calls of the stdio half of `-- cores`.
const HASH_CALLS: usize = 400;

/// Scaling with cores over stdio (`-- cores`): `crc32` of 256 KiB of text
/// (checksum-c), 8 requests in flight, with the host confined by `taskset`
/// to one CPU, then to every CPU. Calls this long run on the worker pool;
/// reading and checking each request stays on the serving thread.
pub fn cores(plugins: &Path, cache: &Path) -> anyhow::Result<()> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let text = "0123456789abcdef".repeat(HASHED_BYTES / 16);
    let crc = |id: usize| json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":"crc32","arguments":{"text": text}}});
    let mut one_cpu = f64::NAN;
    for (label, list) in [
        ("1 CPU", "0".to_string()),
        ("every CPU", format!("0-{}", cpus - 1)),
    ] {
        let mut command = std::process::Command::new("taskset");
        command
            .args(["-c", &list])
            .arg(super::host_binary())
            .arg("serve")
            .arg("--plugins")
            .arg(plugins)
            .arg("--cache-dir")
            .arg(cache)
            .env("MCP_WASM_HOST_LOG", "warn");
        let mut host = Host::spawn_command(command)?;
        host.initialize()?;
        let (_, errors) = drive(&mut host, 1, 40, &crc)?;
        anyhow::ensure!(errors == 0, "{errors} errors while warming up on {label}");
        let pid = host.child.id();
        let cpu_before = cpu_seconds(pid);
        let (wall, errors) = drive(&mut host, 1_000, HASH_CALLS, &crc)?;
        let cpu = cpu_seconds(pid) - cpu_before;
        anyhow::ensure!(errors == 0, "{errors} errors on {label}");
        let throughput = HASH_CALLS as f64 / wall.as_secs_f64();
        if one_cpu.is_nan() {
            one_cpu = throughput;
        }
        println!(
            "| cores: stdio `crc32` of {} KiB, {IN_FLIGHT} in flight, host on {label} (taskset -c {list}; {:.2}× 1 CPU; host busy {:.2} CPUs) | {:.0} µs CPU per call | | {throughput:.0} calls/s |",
            HASHED_BYTES >> 10,
            throughput / one_cpu,
            cpu / wall.as_secs_f64(),
            cpu / HASH_CALLS as f64 * 1e6,
        );
        host.close();
    }
    Ok(())
}
