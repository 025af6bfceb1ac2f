//! Plugins that carry a language runtime (the Python and JavaScript
//! examples, 12–18 MB): what a compile-cache miss costs at start, a start
//! with a warm cache, the first call of a session (after `tools/list`, as a
//! client makes it), and later calls with one
//! instance per session (as their manifests ask) and with a fresh instance
//! per call; then, over HTTP, the first call of each of a series of fresh
//! sessions opened one after another on one host.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{Host, percentile};

/// Sequential calls measured after the first one.
const CALLS: usize = 200;

struct Case {
    plugin: &'static str,
    tool: &'static str,
    arguments: Value,
}

pub fn polyglot(plugins: &Path) -> anyhow::Result<()> {
    let cases = [
        Case {
            plugin: "stats-py",
            tool: "describe",
            arguments: json!({"numbers": [1, 2, 3, 4]}),
        },
        Case {
            plugin: "json-js",
            tool: "format",
            arguments: json!({"json": "{\"a\": [1, 2]}", "indent": 0}),
        },
    ];
    println!();
    println!(
        "| {:<60} | value |",
        "language runtimes (stdio, one plugin per host)"
    );
    println!("|---|---|");
    for case in &cases {
        let source = plugins.join(format!("{}.wasm", case.plugin));
        if !source.is_file() {
            println!("| {} not built: skipped | |", case.plugin);
            continue;
        }
        let size = std::fs::metadata(&source)?.len();
        let label = format!("{} ({:.1} MB)", case.plugin, size as f64 / 1e6);
        let work = std::env::temp_dir().join(format!(
            "mcp-wasm-host-bench-polyglot-{}-{}",
            case.plugin,
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&work);
        let dir = work.join("plugins");
        let cache = work.join("cache");
        std::fs::create_dir_all(&dir)?;
        std::fs::copy(&source, dir.join(format!("{}.wasm", case.plugin)))?;
        let manifest = std::fs::read_to_string(plugins.join(format!("{}.toml", case.plugin)))?;
        std::fs::write(dir.join(format!("{}.toml", case.plugin)), &manifest)?;

        // Start with an empty cache: the component compiles.
        let (miss, host) = start(&dir, &cache)?;
        host.close();
        row(
            &label,
            "start to first response, compile cache miss",
            ms(miss),
        );
        let (hit, mut host) = start(&dir, &cache)?;
        row(
            &label,
            "start to first response, warm compile cache",
            ms(hit),
        );
        list_then_pause(&mut host)?;
        let (first, rest) = calls(&mut host, case)?;
        host.close();
        // A stdio host serves one session: more first calls take more hosts.
        let mut firsts = vec![first];
        for _ in 1..STDIO_SESSIONS {
            let (_, mut host) = start(&dir, &cache)?;
            list_then_pause(&mut host)?;
            firsts.push(timed_call(&mut host, case, 1)?);
            host.close();
        }
        firsts.sort();
        row(
            &label,
            &format!(
                "first call of a session (per-session instance), p50 / max of {STDIO_SESSIONS} hosts"
            ),
            format!(
                "{} / {}",
                ms(percentile(&firsts, 0.5)),
                ms(*firsts.last().unwrap())
            ),
        );
        let firsts = fresh_sessions(&dir, &cache, case)?;
        row(
            &label,
            &format!(
                "HTTP, first call of a fresh session, p50 / max of sessions 2–{FRESH_SESSIONS} \
                 (the first: {})",
                ms(firsts[0])
            ),
            {
                let mut later = firsts[1..].to_vec();
                later.sort();
                format!(
                    "{} / {}",
                    ms(percentile(&later, 0.5)),
                    ms(*later.last().unwrap())
                )
            },
        );
        row(
            &label,
            "later calls, p50 / p99 (per-session instance)",
            format!(
                "{} / {}",
                us(percentile(&rest, 0.5)),
                us(percentile(&rest, 0.99))
            ),
        );

        // The same component with a fresh instance per call.
        let per_call = manifest.replace("instance = \"per-session\"", "instance = \"per-call\"");
        std::fs::write(dir.join(format!("{}.toml", case.plugin)), per_call)?;
        let (_, mut host) = start(&dir, &cache)?;
        let (first, rest) = calls(&mut host, case)?;
        host.close();
        row(&label, "first call (per-call instance)", ms(first));
        row(
            &label,
            "later calls, p50 / p99 (per-call instance)",
            format!(
                "{} / {}",
                us(percentile(&rest, 0.5)),
                us(percentile(&rest, 0.99))
            ),
        );
        let _ = std::fs::remove_dir_all(&work);
    }
    Ok(())
}

/// Between a session's `tools/list` and its first call on stdio, and
/// between sessions over HTTP: the time a client takes to choose a tool
/// (a model's turn takes far longer).
const CLIENT_PAUSE: Duration = Duration::from_millis(100);

/// Stdio hosts started one after another, each for its first call.
const STDIO_SESSIONS: usize = 7;

/// Sessions opened one after another over HTTP.
const FRESH_SESSIONS: usize = 20;

/// Over HTTP, `FRESH_SESSIONS` sessions one after another, each closed
/// after its first call: how long each first call took. A pause between
/// sessions stands for the time between clients.
fn fresh_sessions(dir: &Path, cache: &Path, case: &Case) -> anyhow::Result<Vec<Duration>> {
    let host = crate::http_load::HttpHost::spawn(dir, cache)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut firsts = Vec::with_capacity(FRESH_SESSIONS);
        for _ in 0..FRESH_SESSIONS {
            let mut session = crate::http_load::Session::connect_with(&host.url, json!({})).await?;
            let request = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": case.tool, "arguments": case.arguments}});
            let started = Instant::now();
            let response = session.post(request).await?;
            firsts.push(started.elapsed());
            anyhow::ensure!(
                response
                    .as_ref()
                    .is_some_and(|r| r["result"]["isError"] == json!(false)),
                "{} failed: {response:?}",
                case.tool
            );
            session.close().await;
            tokio::time::sleep(CLIENT_PAUSE).await;
        }
        Ok(firsts)
    })
}

fn start(dir: &Path, cache: &Path) -> anyhow::Result<(Duration, Host)> {
    let started = Instant::now();
    let mut host = Host::spawn(dir, cache)?;
    host.initialize()?;
    Ok((started.elapsed(), host))
}

/// The first call, then `CALLS` more, each timed.
fn calls(host: &mut Host, case: &Case) -> anyhow::Result<(Duration, Vec<Duration>)> {
    let mut times = (1..=CALLS + 1)
        .map(|id| timed_call(host, case, id))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let first = times.remove(0);
    times.sort();
    Ok((first, times))
}

/// As a client starts a session's work: list the tools, choose one a
/// moment later.
fn list_then_pause(host: &mut Host) -> anyhow::Result<()> {
    host.request(&json!({"jsonrpc": "2.0", "id": 0, "method": "tools/list"}))?;
    std::thread::sleep(CLIENT_PAUSE);
    Ok(())
}

/// One call of `case`'s tool with request id `id`, timed; an error result
/// fails the benchmark.
fn timed_call(host: &mut Host, case: &Case, id: usize) -> anyhow::Result<Duration> {
    let request = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": case.tool, "arguments": case.arguments}});
    let started = Instant::now();
    let response = host.request(&request)?;
    let took = started.elapsed();
    anyhow::ensure!(
        response["result"]["isError"] == json!(false),
        "{} failed: {response}",
        case.tool
    );
    Ok(took)
}

fn row(label: &str, what: &str, value: String) {
    println!("| {label}: {what} | {value} |");
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}
