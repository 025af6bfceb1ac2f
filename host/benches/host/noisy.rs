//! Noisy neighbours over HTTP: `hello.add` from 8 clients alone, then while
//! one client keeps six calls of a plugin that loops until its deadline
//! (`spin`) and six of a memory bomb (`hog`, stopped at 64 MiB) running.
//! Reports both throughputs, the share kept, and the latencies under load.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use super::http_load::{HttpHost, Session};

const CLIENTS: usize = 8;
const HOSTILE_EACH: usize = 6;
const MEASURED_FOR: Duration = Duration::from_secs(5);

pub fn noisy_neighbours(cache: &Path) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("mcp-wasm-host-noisy-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let measured = measure(&dir, cache);
    let _ = std::fs::remove_dir_all(&dir);
    measured
}

fn measure(plugins: &Path, cache: &Path) -> anyhow::Result<()> {
    let examples = super::repo().join("target/plugins");
    let fixtures = super::repo().join("target/fixture-plugins");
    for (from, name) in [
        (&examples, "hello"),
        (&fixtures, "spin"),
        (&fixtures, "hog"),
    ] {
        for ext in ["wasm", "toml"] {
            std::fs::copy(
                from.join(format!("{name}.{ext}")),
                plugins.join(format!("{name}.{ext}")),
            )?;
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let host = HttpHost::spawn(plugins, cache)?;
    rt.block_on(async {
        add_for(&host.url, Duration::from_secs(1)).await?;
        let alone = add_for(&host.url, MEASURED_FOR).await?;
        super::report(
            &format!("noisy neighbours: HTTP `hello.add`, {CLIENTS} clients, alone"),
            alone.latencies.clone(),
            alone.latencies.len(),
            MEASURED_FOR,
        );

        let stop = Arc::new(AtomicBool::new(false));
        let hostile_ended = Arc::new(AtomicUsize::new(0));
        let mut hostile = tokio::task::JoinSet::new();
        for tool in ["spin", "grow"] {
            for _ in 0..HOSTILE_EACH {
                let (url, stop, ended) = (host.url.clone(), stop.clone(), hostile_ended.clone());
                hostile.spawn(async move {
                    let mut session = Session::connect_with(&url, json!({})).await?;
                    let mut id = 1;
                    // Keep one call of `tool` running, starting the next as
                    // soon as the last one is stopped.
                    while !stop.load(Ordering::Relaxed) {
                        id += 1;
                        let call = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                            "params": {"name": tool, "arguments": {}}});
                        session.post(call).await?;
                        ended.fetch_add(1, Ordering::Relaxed);
                    }
                    anyhow::Ok(())
                });
            }
        }
        // Let the hostile calls get going.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let loaded = add_for(&host.url, MEASURED_FOR).await?;
        stop.store(true, Ordering::Relaxed);
        hostile.abort_all();
        let mut latencies = loaded.latencies.clone();
        latencies.sort();
        let max = latencies.last().copied().unwrap_or_default();
        super::report(
            &format!(
                "noisy neighbours: the same, beside {HOSTILE_EACH} `spin` and {HOSTILE_EACH} \
                 `hog` calls ({} hostile calls stopped meanwhile, max {:.1} ms, {} failed)",
                hostile_ended.load(Ordering::Relaxed),
                max.as_secs_f64() * 1e3,
                loaded.failed
            ),
            loaded.latencies.clone(),
            loaded.latencies.len(),
            MEASURED_FOR,
        );
        println!(
            "| noisy neighbours: `hello.add` throughput kept beside the hostile calls | {:.0} % | | |",
            100.0 * loaded.latencies.len() as f64 / alone.latencies.len().max(1) as f64
        );
        anyhow::ensure!(alone.failed == 0 && loaded.failed == 0, "calls failed");
        anyhow::Ok(())
    })?;
    drop(host);
    Ok(())
}

struct Measured {
    latencies: Vec<Duration>,
    failed: usize,
}

/// `CLIENTS` sessions calling `add` back to back for `period`.
async fn add_for(url: &str, period: Duration) -> anyhow::Result<Measured> {
    let mut sessions = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        sessions.push(Session::connect_with(url, json!({})).await?);
    }
    let until = Instant::now() + period;
    let mut tasks = tokio::task::JoinSet::new();
    for mut session in sessions {
        tasks.spawn(async move {
            let (mut latencies, mut failed) = (Vec::new(), 0);
            while Instant::now() < until {
                let t = Instant::now();
                if !session.add().await {
                    failed += 1;
                }
                latencies.push(t.elapsed());
            }
            session.close().await;
            (latencies, failed)
        });
    }
    let mut measured = Measured {
        latencies: Vec::new(),
        failed: 0,
    };
    while let Some(done) = tasks.join_next().await {
        let (latencies, failed) = done?;
        measured.latencies.extend(latencies);
        measured.failed += failed;
    }
    Ok(measured)
}
