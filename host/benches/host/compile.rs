//! Where a compile-cache miss goes: `Component::new` for each plugin, under
//! the host's engine configuration and under variations of it, so the cost
//! of each setting (fuel, epoch interruption, optimisation level, the
//! pooling allocator, parallel compilation) can be read off.

use std::path::Path;
use std::time::{Duration, Instant};

use mcp_wasm_host::limits::HostLimits;
use wasmtime::{Config, Engine, OptLevel};

/// Compilations per row; the median is reported.
const ROUNDS: usize = 3;

pub fn compile_times(plugins: &Path, fixtures: &Path) -> anyhow::Result<()> {
    let host = || mcp_wasm_host::runtime::engine_config(&HostLimits::default());
    let variants: Vec<(&str, Config)> = vec![
        ("host configuration", host()),
        ("host, no fuel", {
            let mut c = host();
            c.consume_fuel(false);
            c
        }),
        ("host, no fuel, no epoch interruption", {
            let mut c = host();
            c.consume_fuel(false).epoch_interruption(false);
            c
        }),
        ("host, opt level none", {
            let mut c = host();
            c.cranelift_opt_level(OptLevel::None);
            c
        }),
        ("host, one compile thread", {
            let mut c = host();
            c.parallel_compilation(false);
            c
        }),
        ("wasmtime defaults (component model on)", {
            let mut c = Config::new();
            c.wasm_component_model(true);
            c
        }),
    ];
    let components = [
        ("hello", plugins.join("hello.wasm")),
        ("texttools", plugins.join("texttools.wasm")),
        ("spin (fixture)", fixtures.join("spin.wasm")),
    ];
    println!();
    println!("| compile (`Component::new`, median of {ROUNDS}) | configuration | time |");
    println!("|---|---|---|");
    for (name, path) in &components {
        let bytes = std::fs::read(path)?;
        for (label, config) in &variants {
            let engine = Engine::new(config)?;
            let mut times: Vec<Duration> = (0..ROUNDS)
                .map(|_| {
                    let started = Instant::now();
                    wasmtime::component::Component::new(&engine, &bytes).map(|_| started.elapsed())
                })
                .collect::<Result<_, _>>()?;
            times.sort();
            println!(
                "| {name} ({} KB) | {label} | {:.1} ms |",
                bytes.len() / 1000,
                times[ROUNDS / 2].as_secs_f64() * 1e3
            );
        }
    }
    Ok(())
}
