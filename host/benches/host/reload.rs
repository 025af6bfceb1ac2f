//! Hot reload latency: from a plugin's component replaced in the watched
//! directory (an atomic rename, as deploy tools do) to the client reading
//! `notifications/tools/list_changed`, over stdio.
//!
//! The component alternates between two ~150–180 KB Rust plugins with
//! different tools, so every replacement changes the tool list. For a
//! compile-cache miss each version carries a custom section no earlier
//! version had (new bytes, same code); for a hit, two fixed versions that
//! were compiled once before measuring.

use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const REPLACEMENTS: usize = 10;
/// The longest the host may take to announce one replacement.
const ANNOUNCE_TIMEOUT: Duration = Duration::from_secs(30);

/// A host serving one directory, with its stdout read on a thread so every
/// wait is bounded.
struct WatchingHost {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl WatchingHost {
    fn spawn(dir: &Path, cache: &Path) -> anyhow::Result<Self> {
        let mut child = crate::spawn_host(dir, cache)?;
        let stdin = child.stdin.take().unwrap();
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let mut host = Self {
            child,
            stdin,
            lines,
        };
        host.send(&json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
            "protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"0"}}}))?;
        host.wait_for(|v| v.get("id") == Some(&json!(0)))?;
        host.send(&json!({"jsonrpc":"2.0","method":"notifications/initialized"}))?;
        Ok(host)
    }

    fn send(&mut self, message: &Value) -> anyhow::Result<()> {
        let mut line = message.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes())?;
        self.stdin.flush()?;
        Ok(())
    }

    /// The first message from the host that satisfies `want` (bounded).
    fn wait_for(&self, want: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
        let deadline = Instant::now() + ANNOUNCE_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).map_err(|_| {
                anyhow::anyhow!("the host said nothing expected within {ANNOUNCE_TIMEOUT:?}")
            })?;
            let v: Value = serde_json::from_str(&line)?;
            if want(&v) {
                return Ok(v);
            }
        }
    }

    fn close(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `component` with a custom section appended: different bytes (so a
/// different compile-cache key), the same code.
fn with_custom_section(component: &[u8], payload: &str) -> Vec<u8> {
    fn leb128(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let name = b"mcp-wasm-host-bench";
    let mut body = Vec::new();
    leb128(name.len(), &mut body);
    body.extend_from_slice(name);
    body.extend_from_slice(payload.as_bytes());
    let mut bytes = component.to_vec();
    bytes.push(0);
    leb128(body.len(), &mut bytes);
    bytes.extend_from_slice(&body);
    bytes
}

/// Put `component` in place as `probe.wasm` with one rename and time until
/// the client reads the tool list change.
fn replace_and_time(host: &WatchingHost, dir: &Path, component: &[u8]) -> anyhow::Result<Duration> {
    let staged = dir.join(".probe.wasm.staged");
    std::fs::write(&staged, component)?;
    let t = Instant::now();
    std::fs::rename(&staged, dir.join("probe.wasm"))?;
    host.wait_for(|v| v["method"] == "notifications/tools/list_changed")?;
    let elapsed = t.elapsed();
    // Let the host settle before the next replacement.
    std::thread::sleep(Duration::from_millis(200));
    Ok(elapsed)
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "| {name} | {:.1} ms | {:.1} ms (max) | |",
        ms(samples[samples.len() / 2]),
        ms(*samples.last().unwrap()),
    );
}

pub fn file_replaced_to_list_changed(plugins: &Path, fixtures: &Path) -> anyhow::Result<()> {
    let versions = [
        std::fs::read(plugins.join("hello.wasm"))?,
        std::fs::read(fixtures.join("twin.wasm"))?,
    ];
    let dir =
        std::env::temp_dir().join(format!("mcp-wasm-host-bench-reload-{}", std::process::id()));
    let cache: PathBuf = dir.with_extension("cache");
    for d in [&dir, &cache] {
        let _ = std::fs::remove_dir_all(d);
        std::fs::create_dir_all(d)?;
    }
    std::fs::write(
        dir.join("probe.toml"),
        // The twin also asks the user (elicitation).
        "name = \"probe\"\nversion = \"0.1.0\"\n[capabilities]\noptional = [\"elicitation\"]\n",
    )?;
    std::fs::write(dir.join("probe.wasm"), &versions[0])?;
    let host = WatchingHost::spawn(&dir, &cache)?;

    let run = std::process::id();
    let mut misses = Vec::with_capacity(REPLACEMENTS);
    for i in 0..REPLACEMENTS {
        let fresh = with_custom_section(&versions[(i + 1) % 2], &format!("miss {run} {i}"));
        misses.push(replace_and_time(&host, &dir, &fresh)?);
    }
    let fixed = [
        with_custom_section(&versions[1], "hit a"),
        with_custom_section(&versions[0], "hit b"),
    ];
    // Compile both once.
    for component in &fixed {
        replace_and_time(&host, &dir, component)?;
    }
    let mut hits = Vec::with_capacity(REPLACEMENTS);
    for i in 0..REPLACEMENTS {
        hits.push(replace_and_time(&host, &dir, &fixed[i % 2])?);
    }
    host.close();
    for d in [&dir, &cache] {
        let _ = std::fs::remove_dir_all(d);
    }
    report(
        "component replaced → `tools/list_changed` read, compile cache miss",
        misses,
    );
    report(
        "component replaced → `tools/list_changed` read, compile cache hit",
        hits,
    );
    Ok(())
}
