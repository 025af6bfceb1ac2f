//! The `mcp-wasm-host` binary: parse the command line (and the `serve`
//! configuration file), send diagnostics to stderr as text or JSON (stdout
//! is the MCP channel on stdio), run, and print the error chain on failure.

use clap::Parser;
use mcp_wasm_host::cli::{Cli, Command};
use mcp_wasm_host::config;
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
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
        Command::Dev(_) => "info,mcp_wasm_host::calls=debug,cranelift=warn,wasmtime=warn",
        _ => "info,cranelift=warn,wasmtime=warn",
    };
    let filter = match log_filter(default_filter) {
        Ok(filter) => filter,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let log = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    match &cli.command {
        Command::Serve(args) if args.log_format == config::LogFormat::Json => log.json().init(),
        Command::Dev(args) if args.host.log_format == config::LogFormat::Json => log.json().init(),
        _ => log.init(),
    }

    let runtime = match async_runtime(&cli.command).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(mcp_wasm_host::cli::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

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
/// `runtime::CallPlacement`). Everything else runs on a thread per core.
fn async_runtime(command: &Command) -> tokio::runtime::Builder {
    match command {
        Command::Serve(args) if args.http.is_none() => {
            let mut builder = tokio::runtime::Builder::new_current_thread();
            builder.on_thread_park(mcp_wasm_host::mcp::stdin_watch::before_sleep(
                std::time::Duration::from_micros(args.stdio_poll_us),
            ));
            builder
        }
        _ => tokio::runtime::Builder::new_multi_thread(),
    }
}
