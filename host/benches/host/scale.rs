//! Scale with plugins (`-- scale`): 1, 10, 100 and 1,000 copies of `hello`
//! under different names, served over stdio with a warm compile cache.
//! For each: cold start to the first response, the host's resident memory
//! once it serves, a `tools/list` page (the host's default page size) and a
//! `tools/call` of one plugin's `add`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;

use super::Host;

const COUNTS: [usize; 4] = [1, 10, 100, 1_000];
const COLD_STARTS: usize = 5;
const CALLS: usize = 2_000;

pub fn plugins(examples: &Path, cache: &Path) -> anyhow::Result<()> {
    let mut one_plugin_call_p50 = None;
    for count in COUNTS {
        let dir = copies_of_hello(examples, count)?;
        let measured = measure(&dir, cache, count, &mut one_plugin_call_p50);
        let _ = std::fs::remove_dir_all(&dir);
        measured?;
    }
    Ok(())
}

fn measure(
    dir: &Path,
    cache: &Path,
    count: usize,
    one_plugin_call_p50: &mut Option<Duration>,
) -> anyhow::Result<()> {
    // Warm the cache once.
    let mut host = Host::spawn(dir, cache)?;
    host.initialize()?;
    host.close();
    let mut starts = Vec::with_capacity(COLD_STARTS);
    let mut last = None;
    for _ in 0..COLD_STARTS {
        if let Some(host) = last.take() {
            Host::close(host);
        }
        let t = Instant::now();
        let mut host = Host::spawn(dir, cache)?;
        host.initialize()?;
        starts.push(t.elapsed());
        last = Some(host);
    }
    let mut host = last.expect("started at least once");
    let rss = super::http_load::HttpHost::rss_of(host.child.id());

    // Every page of `tools/list`, each timed, a few times over.
    let mut pages = Vec::new();
    let mut tools = 0;
    for round in 0..3 {
        let mut cursor: Option<String> = None;
        tools = 0;
        loop {
            let mut params = json!({});
            if let Some(c) = &cursor {
                params["cursor"] = json!(c);
            }
            let t = Instant::now();
            let answer = host.request(
                &json!({"jsonrpc":"2.0","id": 1_000_000 + round * 10_000 + pages.len(),"method":"tools/list","params": params}),
            )?;
            pages.push(t.elapsed());
            let result = &answer["result"];
            tools += result["tools"].as_array().map_or(0, Vec::len);
            match result["nextCursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => break,
            }
        }
    }
    // `hello` declares echo, add and countdown.
    anyhow::ensure!(
        tools == 3 * count,
        "{count} plugins list {tools} tools, not {}",
        3 * count
    );

    let tool = if count == 1 {
        "add".to_string()
    } else {
        format!("hello{}.add", count / 2)
    };
    let mut calls = Vec::with_capacity(CALLS);
    for id in 0..CALLS + 200 {
        let t = Instant::now();
        let answer = host.request(&json!({"jsonrpc":"2.0","id": id + 1,"method":"tools/call",
            "params":{"name": tool,"arguments":{"a":2,"b":3}}}))?;
        if id >= 200 {
            calls.push(t.elapsed());
        }
        anyhow::ensure!(
            answer["result"]["isError"] != json!(true) && answer.get("error").is_none(),
            "{tool} failed: {answer}"
        );
    }
    let rss_after = super::http_load::HttpHost::rss_of(host.child.id());
    host.close();

    starts.sort();
    pages.sort();
    calls.sort();
    let call_p50 = super::percentile(&calls, 0.5);
    let baseline = *one_plugin_call_p50.get_or_insert(call_p50);
    println!(
        "| {count} plugin(s): cold start (warm cache) / RSS serving, after {CALLS} calls | {:.1} ms | max {:.1} ms | {rss:.0} MiB / {rss_after:.0} MiB |",
        super::percentile(&starts, 0.5).as_secs_f64() * 1e3,
        starts.last().unwrap().as_secs_f64() * 1e3,
    );
    println!(
        "| {count} plugin(s): `tools/list` page ({} tools in {} pages) | {:.1} µs | {:.1} µs | |",
        tools,
        pages.len() / 3,
        super::percentile(&pages, 0.5).as_secs_f64() * 1e6,
        super::percentile(&pages, 0.99).as_secs_f64() * 1e6,
    );
    println!(
        "| {count} plugin(s): `tools/call {tool}` | {:.1} µs | {:.1} µs | {:+.0} % p50 against 1 plugin |",
        call_p50.as_secs_f64() * 1e6,
        super::percentile(&calls, 0.99).as_secs_f64() * 1e6,
        (call_p50.as_secs_f64() / baseline.as_secs_f64() - 1.0) * 100.0
    );
    Ok(())
}

/// `count` copies of `hello` named `hello0`, `hello1`, … (`hello` alone for 1).
fn copies_of_hello(examples: &Path, count: usize) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "mcp-wasm-host-scale-{}-{count}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir)?;
    let manifest = std::fs::read_to_string(examples.join("hello.toml"))?;
    for i in 0..count {
        let name = if count == 1 {
            "hello".to_string()
        } else {
            format!("hello{i}")
        };
        std::fs::copy(
            examples.join("hello.wasm"),
            dir.join(format!("{name}.wasm")),
        )?;
        std::fs::write(
            dir.join(format!("{name}.toml")),
            manifest.replace("name = \"hello\"", &format!("name = \"{name}\"")),
        )?;
    }
    Ok(dir)
}
