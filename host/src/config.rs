//! The `serve` settings: their definitions (each a flag with an
//! environment variable and a default) and the configuration file that may
//! set any of them. A setting is taken from, in order: the command line,
//! its environment variable (`MCP_WASM_HOST_<NAME>`), the `--config` file,
//! its default. `docs/configuration.md` lists them all.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::capabilities::services::{SettingValues, every_setting};
use crate::mcp;
use crate::reload::watch;

/// Where plugin state (key-value entries, session state) lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StateBackend {
    /// An SQLite file in the data directory.
    Sqlite,
    /// A Redis server, shared by several hosts.
    Redis,
}

/// The log's format on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A configuration file (TOML): any of these settings by their long
    /// name, for example `max-timeout-ms = 60000`. The command line and the
    /// environment override it.
    #[arg(long, env = "MCP_WASM_HOST_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// How the host writes its log on stderr: `text`, or `json` (one object
    /// per line). `MCP_WASM_HOST_LOG`, else `RUST_LOG`, sets the filter
    /// (default `info,cranelift=warn,wasmtime=warn`).
    #[arg(long, env = "MCP_WASM_HOST_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Plugin directory (`<name>.wasm` + `<name>.toml`). Defaults to the
    /// `plugins` directory beside the binary's build directory
    /// (`target/plugins` for a binary built in the repository), else
    /// `plugins` in the data directory (`~/.local/share/mcp-wasm-host/plugins`).
    #[arg(long, env = "MCP_WASM_HOST_PLUGINS")]
    pub plugins: Option<PathBuf>,
    /// Serve Streamable HTTP at `http://ADDR/mcp` instead of stdio.
    #[arg(long, env = "MCP_WASM_HOST_HTTP", value_name = "ADDR")]
    pub http: Option<SocketAddr>,
    /// Serve stdio as well when `--http` is given.
    #[arg(long, env = "MCP_WASM_HOST_STDIO")]
    pub stdio: bool,
    /// Accept this Host header on HTTP besides the loopback names (repeatable).
    #[arg(
        long = "allowed-host",
        env = "MCP_WASM_HOST_ALLOWED_HOST",
        value_name = "HOST",
        value_delimiter = ','
    )]
    pub allowed_hosts: Vec<String>,
    /// Bearer-token authentication for `/mcp` (TOML: principals with roles
    /// and SHA-256 token digests, roles with the plugins they may use; see
    /// docs/auth.md). Without it every HTTP request is let in. An unreadable
    /// or invalid file stops the host.
    #[arg(long, env = "MCP_WASM_HOST_AUTH_FILE", value_name = "FILE")]
    pub auth_file: Option<PathBuf>,
    /// The principal stdio requests are made as, with its roles from
    /// --auth-file (policy rules for some callers apply to it). Without
    /// it, stdio is a caller with every role.
    #[arg(long, env = "MCP_WASM_HOST_STDIO_PRINCIPAL", value_name = "ID")]
    pub stdio_principal: Option<String>,
    /// Disable the Host header check (only behind a trusted reverse proxy).
    #[arg(long, env = "MCP_WASM_HOST_ALLOW_ANY_HOST")]
    pub allow_any_host: bool,
    /// Operator policy (TOML): which capabilities each plugin is granted,
    /// and limit ceilings. Without one, what is declared is granted, except
    /// files, env, http, secrets and sql. An unreadable or invalid policy stops the host.
    #[arg(long, env = "MCP_WASM_HOST_POLICY", value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Where the host keeps data that must survive restarts, such as the
    /// key-value store (default: `$XDG_DATA_HOME/mcp-wasm-host`, else
    /// `~/.local/share/mcp-wasm-host`).
    #[arg(long, env = "MCP_WASM_HOST_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Where key-value entries and session state live: `sqlite` (the file
    /// `state.sqlite3` in the data directory; in memory when there is no
    /// data directory) or `redis` (shared by several hosts; needs
    /// `--state-redis-url`).
    #[arg(long, env = "MCP_WASM_HOST_STATE_STORE", value_enum, default_value_t = StateBackend::Sqlite)]
    pub state_store: StateBackend,
    /// The Redis server of `--state-store redis`, for example
    /// `redis://127.0.0.1:6379/0` (`redis://:PASSWORD@HOST:PORT/DB` with a
    /// password). The host does not start if it cannot reach it.
    #[arg(long, env = "MCP_WASM_HOST_STATE_REDIS_URL", value_name = "URL")]
    pub state_redis_url: Option<String>,
    /// Prefix of every Redis key the host writes; hosts that should share
    /// state use the same one.
    #[arg(
        long,
        env = "MCP_WASM_HOST_STATE_REDIS_PREFIX",
        default_value = "mcp-wasm-host:"
    )]
    pub state_redis_prefix: String,
    /// A session (handshake-era HTTP session, principal or state handle)
    /// unused this long is closed and its session state forgotten, in
    /// milliseconds.
    #[arg(
        long,
        env = "MCP_WASM_HOST_SESSION_IDLE_MS",
        default_value_t = 1_800_000
    )]
    pub session_idle_ms: u64,
    /// Session-state scopes kept at once; beyond it the principal holding
    /// the most gives up its least recently used one.
    #[arg(
        long,
        env = "MCP_WASM_HOST_MAX_SESSION_SCOPES",
        default_value_t = 10_000
    )]
    pub max_session_scopes: usize,
    /// Session-state scopes one authenticated principal keeps at once;
    /// beyond it, the principal's own least recently used one is forgotten.
    #[arg(
        long,
        env = "MCP_WASM_HOST_MAX_SESSION_SCOPES_PER_PRINCIPAL",
        default_value_t = 1_000
    )]
    pub max_session_scopes_per_principal: usize,
    /// The settings of the capabilities' services (such as
    /// `--secrets-file`), each declared by its capability.
    #[command(flatten)]
    pub capability_settings: CapabilitySettings,
    /// Do not watch the plugin directory and the policy file for changes
    /// (SIGHUP still reloads them).
    #[arg(long, env = "MCP_WASM_HOST_NO_WATCH")]
    pub no_watch: bool,
    /// How long the plugin directory must be quiet after a change before
    /// the changed plugins are reloaded, in ms.
    #[arg(long, env = "MCP_WASM_HOST_RELOAD_QUIET_MS", default_value_t = watch::DEFAULT_QUIET.as_millis() as u64, value_name = "MS")]
    pub reload_quiet_ms: u64,
    /// Compile cache directory (default: `$XDG_CACHE_HOME/mcp-wasm-host`).
    #[arg(long, env = "MCP_WASM_HOST_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Compile every plugin in memory; keep nothing on disk.
    #[arg(long, env = "MCP_WASM_HOST_NO_CACHE", conflicts_with = "cache_dir")]
    pub no_cache: bool,
    /// On SIGTERM or Ctrl-C, how long the calls running may take to finish
    /// before the host stops anyway, in ms.
    #[arg(
        long,
        env = "MCP_WASM_HOST_SHUTDOWN_GRACE_MS",
        default_value_t = 10_000,
        value_name = "MS"
    )]
    pub shutdown_grace_ms: u64,
    /// At start, delete compile-cache entries no host has loaded for this
    /// many days (0: keep everything).
    #[arg(
        long,
        env = "MCP_WASM_HOST_CACHE_MAX_AGE_DAYS",
        default_value_t = 30,
        value_name = "DAYS"
    )]
    pub cache_max_age_days: u64,
    /// Memory per call for plugins whose manifest asks for none, in MiB.
    #[arg(long, env = "MCP_WASM_HOST_DEFAULT_MEMORY_MIB", default_value_t = 64)]
    pub default_memory_mib: u64,
    /// The most memory per call any plugin may have, in MiB.
    #[arg(long, env = "MCP_WASM_HOST_MAX_MEMORY_MIB", default_value_t = 512)]
    pub max_memory_mib: u64,
    /// Time per call for plugins whose manifest asks for none, in ms.
    #[arg(
        long,
        env = "MCP_WASM_HOST_DEFAULT_TIMEOUT_MS",
        default_value_t = 30_000
    )]
    pub default_timeout_ms: u64,
    /// The longest time per call any plugin may have, in ms.
    #[arg(long, env = "MCP_WASM_HOST_MAX_TIMEOUT_MS", default_value_t = 300_000)]
    pub max_timeout_ms: u64,
    /// Time per tool call run as an MCP task, for plugins whose manifest
    /// asks for none, in ms.
    #[arg(
        long,
        env = "MCP_WASM_HOST_DEFAULT_TASK_TIMEOUT_MS",
        default_value_t = 600_000
    )]
    pub default_task_timeout_ms: u64,
    /// The longest time per task any plugin may have, in ms.
    #[arg(
        long,
        env = "MCP_WASM_HOST_MAX_TASK_TIMEOUT_MS",
        default_value_t = 3_600_000
    )]
    pub max_task_timeout_ms: u64,
    /// How long a finished task's result is kept for the client to fetch,
    /// in ms (a client asking for less gets less).
    #[arg(long, env = "MCP_WASM_HOST_TASK_TTL_MS", default_value_t = crate::mcp::TaskOptions::DEFAULT_TTL.as_millis() as u64)]
    pub task_ttl_ms: u64,
    /// Tasks one principal may have running at once (across its
    /// sessions); one more is refused until one finishes.
    #[arg(long, env = "MCP_WASM_HOST_MAX_TASKS_PER_PRINCIPAL", default_value_t = crate::mcp::TaskOptions::DEFAULT_MAX_PER_PRINCIPAL)]
    pub max_tasks_per_principal: usize,
    /// Tasks of one plugin that may run at once on this host.
    #[arg(long, env = "MCP_WASM_HOST_MAX_TASKS_PER_PLUGIN", default_value_t = crate::mcp::TaskOptions::DEFAULT_MAX_PER_PLUGIN)]
    pub max_tasks_per_plugin: usize,
    /// How many sandboxes may run at once across all plugins.
    #[arg(long, env = "MCP_WASM_HOST_MAX_INSTANCES", default_value_t = 256)]
    pub max_instances: u32,
    /// How many calls that have computed for a while (a few milliseconds
    /// of fuel) may run at once; the rest wait for their turn, so short
    /// calls keep the other cores. 0: one fewer than the cores.
    #[arg(long, env = "MCP_WASM_HOST_LONG_CALL_LANES", default_value_t = 0)]
    pub long_call_lanes: usize,
    /// The largest result a call may return, in KiB.
    #[arg(long, env = "MCP_WASM_HOST_MAX_RESPONSE_KIB", default_value_t = 4096)]
    pub max_response_kib: u64,
    /// Tools per `tools/list` page.
    #[arg(long, env = "MCP_WASM_HOST_PAGE_SIZE", default_value_t = mcp::DEFAULT_PAGE_SIZE)]
    pub page_size: usize,
    /// How long a client has to answer a sampling, elicitation or roots
    /// request before the plugin gets `timeout`, in milliseconds.
    #[arg(
        long,
        env = "MCP_WASM_HOST_CLIENT_TIMEOUT_MS",
        default_value_t = 60_000
    )]
    pub client_timeout_ms: u64,
    /// How long a 2026-07-28 call waiting for the client's input stays
    /// parked before it is dropped (a later retry replays it), in
    /// milliseconds.
    #[arg(long, env = "MCP_WASM_HOST_PARKED_TTL_MS", default_value_t = 120_000)]
    pub parked_ttl_ms: u64,
    /// How many calls may wait parked at once; beyond it the oldest is
    /// dropped (and replayed if its client comes back).
    #[arg(long, env = "MCP_WASM_HOST_MAX_PARKED", default_value_t = 64)]
    pub max_parked: usize,
    /// Over stdio, how long the serving thread watches stdin for the
    /// client's next message once it has nothing left to do, before it
    /// sleeps, in microseconds (0: sleep at once). It watches only right
    /// after traffic, so an idle host uses no CPU; see docs/architecture.md.
    #[arg(long, env = "MCP_WASM_HOST_STDIO_POLL_US", default_value_t = crate::mcp::stdin_watch::DEFAULT_WINDOW.as_micros() as u64, value_name = "US")]
    pub stdio_poll_us: u64,
    /// Over HTTP, how many threads serve connections and the quick calls
    /// of their sessions (default: one per CPU); each connection stays on
    /// one of them. Calls that compute go to the worker pool, a thread per
    /// CPU; see docs/architecture.md.
    #[arg(long, env = "MCP_WASM_HOST_HTTP_THREADS", value_name = "N")]
    pub http_threads: Option<std::num::NonZeroUsize>,
    /// File holding the 32-byte key that seals `requestState` (created when
    /// missing). Hosts sharing it can resume each other's calls. Default:
    /// `state.key` in the compile cache directory, or a key that lives only
    /// as long as the process when there is no cache.
    #[arg(long, env = "MCP_WASM_HOST_STATE_KEY_FILE", value_name = "FILE")]
    pub state_key_file: Option<PathBuf>,
    /// Handshake-era HTTP sessions held at once; an `initialize` beyond it
    /// is answered 503 with `Retry-After` until one closes.
    #[arg(long, env = "MCP_WASM_HOST_MAX_SESSIONS", default_value_t = crate::mcp::HttpOptions::DEFAULT_MAX_SESSIONS)]
    pub max_sessions: usize,
    /// HTTP connections served at once; one beyond is answered 503 and
    /// closed.
    #[arg(long, env = "MCP_WASM_HOST_MAX_CONNECTIONS", default_value_t = crate::listener::ListenerLimits::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// How long an HTTP client has to send a request's headers (from
    /// connecting, or from the previous response), in milliseconds; then
    /// the connection is closed.
    #[arg(long, env = "MCP_WASM_HOST_HTTP_HEADER_TIMEOUT_MS", default_value_t = crate::listener::ListenerLimits::DEFAULT_HEADER_TIMEOUT.as_millis() as u64)]
    pub http_header_timeout_ms: u64,
    /// How long an HTTP client has to send a request's body once its
    /// headers arrived, in milliseconds (answered 408 after).
    #[arg(long, env = "MCP_WASM_HOST_HTTP_BODY_TIMEOUT_MS", default_value_t = crate::mcp::HttpOptions::DEFAULT_BODY_TIMEOUT.as_millis() as u64)]
    pub http_body_timeout_ms: u64,
    /// Serve `/healthz`, `/readyz` and `/metrics` on this second address
    /// too, without a token (for scrapers on a private network).
    #[arg(long, env = "MCP_WASM_HOST_OPS_HTTP", value_name = "ADDR")]
    pub ops_http: Option<std::net::SocketAddr>,
    /// Serve HTTP on an address other than the loopback without
    /// `--auth-file` (anyone who reaches it may call every tool).
    #[arg(long, env = "MCP_WASM_HOST_ALLOW_UNAUTHENTICATED")]
    pub allow_unauthenticated: bool,
    /// Tool calls one principal may have running at once; one more is
    /// answered with an error result naming the cap (over stdio, the
    /// client's calls beyond it wait their turn instead).
    #[arg(long, env = "MCP_WASM_HOST_MAX_CALLS_PER_PRINCIPAL", default_value_t = crate::mcp::CallShares::DEFAULT_MAX)]
    pub max_calls_per_principal: usize,
}

/// The values of the settings the capabilities declare
/// ([`crate::capabilities::services::Setting`]), added to `serve` as flags
/// with their environment variables, so the configuration file sets them
/// like any other.
#[derive(Debug, Clone, Default)]
pub struct CapabilitySettings {
    pub values: SettingValues,
}

impl clap::FromArgMatches for CapabilitySettings {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let mut settings = Self::default();
        settings.update_from_arg_matches(matches)?;
        Ok(settings)
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        for setting in every_setting() {
            if let Some(value) = matches.get_one::<String>(setting.name) {
                self.values.set(setting.name, value.clone());
            }
        }
        Ok(())
    }
}

impl clap::Args for CapabilitySettings {
    fn augment_args(command: clap::Command) -> clap::Command {
        command.args(every_setting().map(|setting| {
            clap::Arg::new(setting.name)
                .long(setting.name)
                .env(setting.env)
                .value_name(setting.value_name)
                .help(setting.help)
        }))
    }

    fn augment_args_for_update(command: clap::Command) -> clap::Command {
        Self::augment_args(command)
    }
}

/// The long names of the `serve` settings, each with whether it is a
/// switch (takes no value).
pub fn serve_settings() -> Vec<(String, bool)> {
    use clap::Args as _;
    let serve = ServeArgs::augment_args(clap::Command::new("serve"));
    serve
        .get_arguments()
        .filter_map(|arg| {
            let long = arg.get_long()?;
            Some((long.to_string(), !arg.get_action().takes_values()))
        })
        .collect()
}

/// Why the configuration file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the configuration file {path} is not valid TOML: {message}")]
    Toml { path: String, message: String },
    #[error("the configuration file {path}: {message}")]
    Setting { path: String, message: String },
}

/// The environment variable of setting `name` (its long flag name).
pub fn env_name(name: &str) -> String {
    format!("MCP_WASM_HOST_{}", name.to_uppercase().replace('-', "_"))
}

/// `args` (the whole command line) with the settings of the `serve`
/// command's configuration file added as flags, except those the command
/// line or the environment already set. `env` reads an environment
/// variable; `settings` are the long names `serve` accepts, each with
/// whether it is a switch (takes no value).
pub fn with_config_file(
    args: Vec<OsString>,
    env: impl Fn(&str) -> Option<OsString>,
    settings: &[(String, bool)],
) -> Result<Vec<OsString>, ConfigError> {
    // The commands that take the `serve` settings, and the `plugin`
    // commands that take those they use and pass over the rest.
    let (checking, taken) = match args.windows(2).enumerate().find_map(|(i, w)| {
        let taken = (w[0] == "plugin")
            .then(|| {
                PLUGIN_COMMAND_SETTINGS
                    .iter()
                    .find(|(command, _)| w[1] == *command)
            })
            .flatten()?;
        Some((i + 1, taken.1))
    }) {
        Some((at, taken)) => (Some(at), taken),
        None => (None, &[][..]),
    };
    let Some(serve) = checking.or_else(|| {
        args.iter()
            .position(|a| ["serve", "list", "call", "dev"].iter().any(|c| a == c))
    }) else {
        return Ok(args);
    };
    let given = |name: &str| {
        let flag = format!("--{name}");
        let prefixed = format!("--{name}=");
        args[serve + 1..].iter().any(|a| {
            a.to_str()
                .is_some_and(|a| a == flag || a.starts_with(&prefixed))
        })
    };
    let file = args[serve + 1..]
        .iter()
        .enumerate()
        .find_map(|(i, a)| {
            let a = a.to_str()?;
            if a == "--config" {
                args.get(serve + 2 + i).cloned()
            } else {
                a.strip_prefix("--config=").map(OsString::from)
            }
        })
        .or_else(|| env(&env_name("config")));
    let Some(file) = file else {
        return Ok(args);
    };
    let path = file.to_string_lossy().into_owned();
    let text = std::fs::read_to_string(&file).map_err(|source| ConfigError::Read {
        path: path.clone(),
        source,
    })?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Toml {
        path: path.clone(),
        message: e.message().to_string(),
    })?;
    let invalid = |message: String| ConfigError::Setting {
        path: path.clone(),
        message,
    };
    let mut added = Vec::new();
    for (name, value) in &table {
        let Some((_, switch)) = settings.iter().find(|(s, _)| s == name) else {
            return Err(invalid(format!(
                "unknown setting `{name}` (`mcp-wasm-host serve --help` lists them)"
            )));
        };
        if name == "config" {
            return Err(invalid("a configuration file cannot name another".into()));
        }
        if given(name)
            || env(&env_name(name)).is_some()
            || (checking.is_some() && !taken.contains(&name.as_str()))
        {
            continue;
        }
        let flag = OsString::from(format!("--{name}"));
        match (value, switch) {
            (toml::Value::Boolean(true), true) => added.push(flag),
            (toml::Value::Boolean(false), true) => {}
            (_, true) => return Err(invalid(format!("`{name}` is true or false"))),
            (toml::Value::Array(items), false) => {
                for item in items {
                    added.push(flag.clone());
                    added.push(scalar(name, item).map_err(&invalid)?);
                }
            }
            (value, false) => {
                added.push(flag);
                added.push(scalar(name, value).map_err(&invalid)?);
            }
        }
    }
    let mut expanded = args;
    expanded.splice(serve + 1..serve + 1, added);
    Ok(expanded)
}

/// The `plugin` commands that read a `serve` configuration file, each with
/// the settings it takes from it.
const PLUGIN_COMMAND_SETTINGS: &[(&str, &[&str])] = &[
    ("check", &["policy", "auth-file", "data-dir"]),
    ("inspect", &["policy", "auth-file", "data-dir"]),
    ("pending", &["plugins", "policy", "data-dir"]),
    ("approve", &["plugins", "policy", "data-dir"]),
    ("deny", &["plugins", "policy", "data-dir"]),
];

/// A single setting value as its flag's argument.
fn scalar(name: &str, value: &toml::Value) -> Result<OsString, String> {
    match value {
        toml::Value::String(s) => Ok(s.into()),
        toml::Value::Integer(n) => Ok(n.to_string().into()),
        toml::Value::Float(f) => Ok(f.to_string().into()),
        toml::Value::Boolean(b) => Ok(b.to_string().into()),
        _ => Err(format!("`{name}` takes a string or a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Vec<(String, bool)> {
        [
            ("config", false),
            ("max-timeout-ms", false),
            ("page-size", false),
            ("no-watch", true),
            ("allowed-host", false),
        ]
        .into_iter()
        .map(|(n, s)| (n.to_string(), s))
        .collect()
    }

    fn expand(file: &str, cli: &[&str], env: &[(&str, &str)]) -> Result<Vec<String>, ConfigError> {
        let path = std::env::temp_dir().join(format!(
            "mcp-wasm-host-config-{}-{}.toml",
            std::process::id(),
            blake3::hash(file.as_bytes()).to_hex()
        ));
        std::fs::write(&path, file).unwrap();
        let mut args: Vec<OsString> = vec!["mcp-wasm-host".into(), "serve".into()];
        args.extend(cli.iter().map(OsString::from));
        args.push("--config".into());
        args.push(path.clone().into());
        let env = |name: &str| {
            env.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| OsString::from(v))
        };
        let out = with_config_file(args, env, &settings());
        std::fs::remove_file(&path).unwrap();
        out.map(|args| {
            args.into_iter()
                .map(|a| a.into_string().unwrap())
                .filter(|a| !a.ends_with(".toml") && a != "--config")
                .collect()
        })
    }

    #[test]
    fn plugin_check_takes_only_the_settings_it_uses() {
        let path = std::env::temp_dir().join(format!(
            "mcp-wasm-host-config-check-{}.toml",
            std::process::id()
        ));
        std::fs::write(&path, "policy = \"p.toml\"\npage-size = 7\n").unwrap();
        let args: Vec<OsString> = ["mcp-wasm-host", "plugin", "check", "x.wasm", "--config"]
            .into_iter()
            .map(OsString::from)
            .chain([path.clone().into_os_string()])
            .collect();
        let mut known = settings();
        known.push(("policy".into(), false));
        let out = with_config_file(args, |_| None, &known).unwrap();
        std::fs::remove_file(&path).unwrap();
        let out: Vec<String> = out.into_iter().map(|a| a.into_string().unwrap()).collect();
        assert_eq!(
            &out[..5],
            ["mcp-wasm-host", "plugin", "check", "--policy", "p.toml"]
        );
        assert!(!out.iter().any(|a| a == "--page-size"), "{out:?}");
    }

    #[test]
    fn the_consent_commands_take_the_plugins_policy_and_data_directory() {
        let path = std::env::temp_dir().join(format!(
            "mcp-wasm-host-config-pending-{}.toml",
            std::process::id()
        ));
        std::fs::write(
            &path,
            "plugins = \"d\"\npolicy = \"p.toml\"\ndata-dir = \"/var/lib/h\"\nauth-file = \"a\"\npage-size = 7\n",
        )
        .unwrap();
        let mut known = settings();
        for name in ["plugins", "policy", "data-dir", "auth-file"] {
            known.push((name.into(), false));
        }
        for verb in ["pending", "approve"] {
            let args: Vec<OsString> = ["mcp-wasm-host", "plugin", verb, "--config"]
                .into_iter()
                .map(OsString::from)
                .chain([path.clone().into_os_string()])
                .collect();
            let out = with_config_file(args, |_| None, &known).unwrap();
            let out: Vec<String> = out.into_iter().map(|a| a.into_string().unwrap()).collect();
            for wanted in ["--plugins", "--policy", "--data-dir"] {
                assert!(out.iter().any(|a| a == wanted), "{verb}: {out:?}");
            }
            for unwanted in ["--auth-file", "--page-size"] {
                assert!(!out.iter().any(|a| a == unwanted), "{verb}: {out:?}");
            }
        }
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn the_file_fills_in_what_the_command_line_and_environment_leave() {
        let file = "max-timeout-ms = 5000\npage-size = 7\nno-watch = true\nallowed-host = [\"a\", \"b\"]\n";
        let args = expand(
            file,
            &["--page-size=9"],
            &[("MCP_WASM_HOST_MAX_TIMEOUT_MS", "1")],
        )
        .unwrap();
        assert_eq!(
            args,
            [
                "mcp-wasm-host",
                "serve",
                "--allowed-host",
                "a",
                "--allowed-host",
                "b",
                "--no-watch",
                "--page-size=9",
            ]
        );
    }

    #[test]
    fn bad_files_name_the_cause() {
        let err = expand("colour = 1\n", &[], &[]).unwrap_err().to_string();
        assert!(err.contains("unknown setting `colour`"), "{err}");
        let err = expand("no-watch = 1\n", &[], &[]).unwrap_err().to_string();
        assert!(err.contains("`no-watch` is true or false"), "{err}");
        let err = expand("page-size = [[1]]\n", &[], &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`page-size` takes a string or a number"),
            "{err}"
        );
        let err = expand("page-size = \n", &[], &[]).unwrap_err().to_string();
        assert!(err.contains("not valid TOML"), "{err}");
    }

    #[test]
    fn every_setting_has_its_environment_variable_and_is_documented() {
        use clap::CommandFactory;
        let cli = crate::cli::Cli::command();
        let serve = cli.find_subcommand("serve").unwrap();
        let docs = include_str!("../../docs/configuration.md");
        for arg in serve.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if long == "help" {
                continue;
            }
            let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
            assert_eq!(env, Some(env_name(long)), "--{long}");
            assert!(
                docs.contains(&format!("`{long}`")),
                "--{long} is not in docs/configuration.md"
            );
            assert!(
                docs.contains(&env_name(long)),
                "{} is not in docs/configuration.md",
                env_name(long)
            );
        }
    }
}
