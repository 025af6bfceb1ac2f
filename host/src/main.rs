//! The `mcp-wasm-host` binary: parse the command line (and the `serve`
//! configuration file), send diagnostics to stderr as text or JSON (stdout
//! is the MCP channel on stdio), run, and print the error chain on failure.

use clap::Parser;
use mcp_wasm_host::cli::{Cli, Command};
use mcp_wasm_host::config;
use mcp_wasm_host::telemetry::log_sink::{self, LogSink};
use mcp_wasm_host::telemetry::{TRACE_TARGET, TraceSettings, Tracing};
use tracing_log::AsLog as _;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{FilterExt as _, filter_fn};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::{EnvFilter, Registry};

fn main() -> std::process::ExitCode {
    // Before any thread starts, so that no arena predates the cap.
    mcp_wasm_host::allocator::cap_arenas();
    let args = match config::with_config_file(
        std::env::args_os().collect(),
        |name| std::env::var_os(name),
        &config::serve_settings(),
    ) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let cli = Cli::parse_from(args);
    // `list` and `call` print their answer; only trouble goes to the log.
    let default_filter = match &cli.command {
        Command::List(_) | Command::Call(_) => "warn,rmcp=error,cranelift=warn,wasmtime=warn",
        // rmcp says at `info` when each session starts and ends (five
        // lines, and a span held for the session's life): at thousands of
        // sessions that is noise, and memory the log keeps.
        Command::Dev(_) => "info,mcp_wasm_host::calls=debug,rmcp=warn,cranelift=warn,wasmtime=warn",
        _ => "info,rmcp=warn,cranelift=warn,wasmtime=warn",
    };
    let filter = match log_filter(default_filter) {
        Ok(filter) => filter,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let runtime = match async_runtime(&cli.command).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // A gRPC exporter starts its connection on the runtime.
    let tracing = match TraceSettings::from_env(|name| std::env::var(name).ok()) {
        Ok(None) => None,
        Ok(Some(settings)) => {
            let _entered = runtime.enter();
            match Tracing::start(&settings) {
                Ok(tracing) => Some(tracing),
                Err(e) => {
                    eprintln!("error: {e}");
                    return std::process::ExitCode::FAILURE;
                }
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let json = match &cli.command {
        Command::Serve(args) => args.log_format == config::LogFormat::Json,
        Command::Dev(args) => args.host.log_format == config::LogFormat::Json,
        _ => false,
    };
    // The log leaves the trace spans (and their events) out: they are for
    // the collector.
    // Records of the `log` crate above the filter's most verbose level are
    // never turned into events: below it, they would cost every call.
    let log_records = filter
        .max_level_hint()
        .map_or(tracing_log::log::LevelFilter::Trace, |level| level.as_log());
    let log_filter = filter.and(filter_fn(|meta| meta.target() != TRACE_TARGET));
    // Written by a thread of its own: a client that pipes stderr and never
    // reads it costs log lines, never a stalled call.
    let log_sink = match LogSink::start(std::io::stderr(), log_sink::QUEUE_BYTES, |dropped| {
        tracing::warn!(
            dropped,
            "log lines were dropped: stderr was not read as fast as the host wrote them"
        );
    }) {
        Ok(sink) => sink,
        Err(e) => {
            eprintln!("error: cannot start the log writer: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let log = tracing_subscriber::fmt::layer()
        .with_writer(log_sink.clone())
        .with_ansi(false);
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = vec![if json {
        log.json().with_filter(log_filter).boxed()
    } else {
        log.with_filter(log_filter).boxed()
    }];
    if let Some(tracing) = &tracing {
        layers.push(tracing.layer().boxed());
    }
    let subscriber = tracing_subscriber::registry().with(layers);
    if tracing::subscriber::set_global_default(subscriber).is_ok() {
        let _ = tracing_log::LogTracer::init_with_filter(log_records);
    }

    let outcome = runtime.block_on(async {
        let outcome = mcp_wasm_host::cli::run(cli).await;
        // Whatever ended the run (stdin closed, a signal, an error), the
        // spans of finished calls are sent before the process exits.
        if let Some(tracing) = tracing {
            tracing.shutdown().await;
        }
        outcome
    });
    // What is still queued is written first (unless stderr stays full).
    log_sink.close(LOG_FLUSH_GRACE);
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) if e.is::<mcp_wasm_host::error::CommandFailed>() => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// How long the process waits at exit for the log still queued.
const LOG_FLUSH_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// The variables that set the log filter, the first one set winning.
const LOG_FILTER_VARIABLES: [&str; 2] = ["MCP_WASM_HOST_LOG", "RUST_LOG"];

/// The log filter: from the first of [`LOG_FILTER_VARIABLES`] that is set
/// (and not empty), else `default`. A filter that does not parse is an error
/// naming its variable, not a silent fallback.
fn log_filter(default: &str) -> Result<EnvFilter, String> {
    for variable in LOG_FILTER_VARIABLES {
        let Some(value) = std::env::var_os(variable).filter(|v| !v.is_empty()) else {
            continue;
        };
        let text = value
            .to_str()
            .ok_or_else(|| format!("{variable} is not valid UTF-8"))?;
        return EnvFilter::try_new(text)
            .map_err(|e| format!("{variable}={text:?} is not a log filter: {e}"));
    }
    Ok(EnvFilter::new(default))
}

/// The async runtime `command` runs on. A host serving only stdio has one
/// session: one thread serves it (no hand-offs between threads on the way
/// from a request to its response), watching stdin briefly before it sleeps;
/// tool calls that overlap a running one go to a worker pool (see
/// `runtime::CallPlacement`). Everything else runs on a thread per core, or
/// on `--http-threads`.
fn async_runtime(command: &Command) -> tokio::runtime::Builder {
    match command {
        Command::Serve(args) if args.http.is_none() => {
            let mut builder = tokio::runtime::Builder::new_current_thread();
            builder.on_thread_park(mcp_wasm_host::mcp::stdin_watch::before_sleep(
                std::time::Duration::from_micros(args.stdio_poll_us),
            ));
            builder
        }
        _ => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            if let Command::Serve(args) = command
                && let Some(threads) = args.http_threads
            {
                builder.worker_threads(threads.get());
            }
            builder
        }
    }
}
