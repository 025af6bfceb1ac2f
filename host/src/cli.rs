//! The command line: argument definitions and the glue that wires the
//! runtime, the loader, the catalog and the transports together. This is the
//! binary's edge, so errors are `anyhow` with context.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;

use crate::catalog::CatalogHandle;
use crate::componentize::{self, Adapter, WitSource};
pub use crate::config::ServeArgs;
use crate::limits::HostLimits;
use crate::mcp::FacadeOptions;
use crate::mcp::{self, HttpOptions, ServerState};
use crate::plugin::LoadContext;
use crate::policy::{Policy, PolicyHandle};
use crate::reload::{ReloadRequest, Reloader, watch};
use crate::runtime::HostServices;
use crate::runtime::{Runtime, RuntimeConfig, default_cache_dir};
use crate::sealed::SealKey;

/// Serve MCP tools from sandboxed WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "mcp-wasm-host", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load the plugins of a directory and serve them over MCP.
    Serve(Box<ServeArgs>),
    /// Turn a core WebAssembly module into a component.
    Componentize(ComponentizeArgs),
    /// Inspect plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Helpers for the auth file.
    #[command(subcommand)]
    Auth(AuthCommand),
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Read a bearer token from stdin (one line) and print the SHA-256
    /// digest to put in the auth file as `token-sha256`.
    HashToken,
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Print a component's imports and exports, its declared capabilities,
    /// what the policy grants it, and whether (and why not) it would load.
    /// Exits with status 1 when it would not.
    Check(CheckArgs),
    /// Write the WIT package and a world for a plugin's manifest: the
    /// interfaces of its declared capabilities and the exports it offers.
    /// For toolchains that bind a whole world (Python, JavaScript, C).
    Wit(WitArgs),
    /// Start a new plugin: a directory with source holding one working tool,
    /// a manifest, a build script and the SDK for its language.
    New(NewArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LanguageArg {
    Rust,
    Python,
    Js,
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// The plugin's name (also its directory's).
    pub name: String,
    /// The language to write it in.
    #[arg(long)]
    pub lang: LanguageArg,
    /// Where to create the plugin's directory.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct WitArgs {
    /// The plugin's manifest (`<name>.toml`).
    pub manifest: PathBuf,
    /// The directory to write the WIT files into (created when missing).
    #[arg(short, long)]
    pub out: PathBuf,
    /// The exports of the world, comma-separated: tools, resources,
    /// prompts, completions.
    #[arg(long, value_delimiter = ',', default_value = "tools")]
    pub exports: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The component (`<name>.wasm`).
    pub file: PathBuf,
    /// Its manifest (default: `<name>.toml` beside it).
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// The operator policy to check against (default: none, which grants
    /// what is declared except files, env, http and secrets).
    #[arg(long, env = "MCP_WASM_HOST_POLICY")]
    pub policy: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AdapterArg {
    Auto,
    Reactor,
    Command,
    None,
}

#[derive(Debug, Args)]
pub struct ComponentizeArgs {
    /// The core module.
    pub input: PathBuf,
    /// Where to write the component.
    #[arg(short, long)]
    pub output: PathBuf,
    /// A WIT directory whose world describes the module (when the module
    /// does not carry its own `component-type` section).
    #[arg(long)]
    pub wit: Option<PathBuf>,
    /// The world in `--wit` (needed when it has several).
    #[arg(long, requires = "wit")]
    pub world: Option<String>,
    /// WASI preview 1 adapter: auto links the reactor adapter when needed.
    #[arg(long, value_enum, default_value_t = AdapterArg::Auto)]
    pub adapter: AdapterArg,
}

/// Run the command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(*args).await,
        Command::Componentize(args) => componentize_file(&args),
        Command::Plugin(PluginCommand::Check(args)) => check_plugin(&args).await,
        Command::Plugin(PluginCommand::Wit(args)) => write_plugin_wit(&args),
        Command::Plugin(PluginCommand::New(args)) => new_plugin(&args),
        Command::Auth(AuthCommand::HashToken) => {
            let mut token = String::new();
            std::io::stdin()
                .read_line(&mut token)
                .context("reading the token from stdin")?;
            let token = token.trim_end_matches(['\r', '\n']);
            if token.is_empty() {
                bail!("no token on stdin");
            }
            println!("{}", crate::auth::hash_token(token));
            Ok(())
        }
    }
}

async fn check_plugin(args: &CheckArgs) -> anyhow::Result<()> {
    let policy = match &args.policy {
        Some(path) => Policy::load(path, crate::capabilities::registry())?,
        None => Policy::grant_declared(crate::capabilities::registry()),
    };
    let policy = policy.protecting(
        [default_cache_dir(), default_data_dir(), args.policy.clone()]
            .into_iter()
            .flatten(),
    );
    let cache_dir = default_cache_dir();
    let cache_key = default_state_key(cache_dir.as_deref())
        .ok()
        .map(|key| key.derive(CACHE_KEY_PURPOSE));
    let runtime = Arc::new(Runtime::new(RuntimeConfig {
        limits: HostLimits::default(),
        cache_dir,
        cache_key,
        capabilities: crate::capabilities::wiring(HostServices::default()),
    })?);
    let cx = LoadContext {
        runtime,
        policy: Arc::new(PolicyHandle::new(policy)),
    };
    let manifest = args
        .manifest
        .clone()
        .unwrap_or_else(|| args.file.with_extension("toml"));
    let report = crate::inspect::check(&cx, &args.file, &manifest).await;
    print!("{}", report.text);
    if !report.loads {
        std::process::exit(1);
    }
    Ok(())
}

fn componentize_file(args: &ComponentizeArgs) -> anyhow::Result<()> {
    let module =
        std::fs::read(&args.input).with_context(|| format!("reading {}", args.input.display()))?;
    let adapter = match args.adapter {
        AdapterArg::Auto => Adapter::Auto,
        AdapterArg::Reactor => Adapter::Reactor,
        AdapterArg::Command => Adapter::Command,
        AdapterArg::None => Adapter::None,
    };
    let wit = args.wit.as_deref().map(|dir| WitSource {
        dir,
        world: args.world.as_deref(),
    });
    let component = componentize::componentize(&module, wit, adapter)
        .with_context(|| format!("componentizing {}", args.input.display()))?;
    std::fs::write(&args.output, &component)
        .with_context(|| format!("writing {}", args.output.display()))?;
    Ok(())
}

/// `plugin new`: write the plugin and say how to build it.
fn new_plugin(args: &NewArgs) -> anyhow::Result<()> {
    use crate::scaffold::Language;
    let language = match args.lang {
        LanguageArg::Rust => Language::Rust,
        LanguageArg::Python => Language::Python,
        LanguageArg::Js => Language::JavaScript,
    };
    let host = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .unwrap_or_else(|_| PathBuf::from("mcp-wasm-host"));
    let dir = crate::scaffold::new_plugin(&args.dir, &args.name, language, &host)?;
    println!("created {}", dir.display());
    println!(
        "build it with {}/build.sh, then copy {name}.wasm and {name}.toml into your plugin directory",
        dir.display(),
        name = args.name
    );
    Ok(())
}

/// `plugin wit`: the contract plus the manifest's world; prints the world's
/// name, which the binding generator needs.
fn write_plugin_wit(args: &WitArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.manifest)
        .with_context(|| format!("reading {}", args.manifest.display()))?;
    let stem = args
        .manifest
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let manifest =
        crate::manifest::PluginManifest::parse(&text, &stem, crate::capabilities::registry())
            .map_err(|e| anyhow::anyhow!("invalid manifest {}: {e}", args.manifest.display()))?;
    let world =
        crate::contract::world_for(&manifest, &args.exports, crate::capabilities::registry())?;
    let name = crate::contract::world_name(&manifest.name);
    crate::contract::write_package(&args.out, &format!("{name}.wit"), &world)?;
    println!("{name}");
    Ok(())
}

/// What the compile cache's MAC key is derived for, from the state key.
const CACHE_KEY_PURPOSE: &str = "mcp-wasm-host 2026-12 compile cache entry MAC";

/// The state key kept beside the compile cache (`state.key`), created when
/// missing; a fresh key for this process when there is no cache directory.
/// A cache directory that is not private to this user holds no key the
/// host trusts.
fn default_state_key(cache_dir: Option<&Path>) -> anyhow::Result<SealKey> {
    let Some(dir) = cache_dir else {
        return Ok(SealKey::generate()?);
    };
    crate::runtime::ensure_private_dir(dir)
        .map_err(|why| anyhow::anyhow!("the state key in {}: {why}", dir.display()))?;
    Ok(SealKey::load_or_create(&dir.join("state.key"))?)
}

/// The data directory used when `--data-dir` is not given.
pub fn default_data_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .map(|base| base.join("mcp-wasm-host"))
}

/// The state store the settings name. An SQLite file the operator chose,
/// or a Redis server, must open; the default file falls back to memory
/// (with a warning) when it cannot.
async fn open_state(args: &ServeArgs) -> anyhow::Result<crate::state::SharedStore> {
    use crate::state::{StateOptions, redis::RedisStore, sqlite::SqliteStore};
    let options = StateOptions {
        session_idle: Duration::from_millis(args.session_idle_ms.max(1)),
        session_budget: crate::state::StateOptions::default().session_budget,
        max_scopes: args.max_session_scopes.max(1),
        max_scopes_per_owner: args.max_session_scopes_per_principal.max(1),
    };
    match args.state_store {
        crate::config::StateBackend::Redis => {
            let url = args
                .state_redis_url
                .as_deref()
                .context("--state-store redis needs --state-redis-url")?;
            Ok(Arc::new(
                RedisStore::connect(url, &args.state_redis_prefix, options).await?,
            ))
        }
        crate::config::StateBackend::Sqlite => {
            let chosen = args.data_dir.is_some();
            let Some(dir) = args.data_dir.clone().or_else(default_data_dir) else {
                return Ok(Arc::new(SqliteStore::in_memory(options)));
            };
            let path = dir.join("state.sqlite3");
            adopt_keyvalue_file(&dir, &path);
            match SqliteStore::open(&path, options) {
                Ok(store) => Ok(Arc::new(store)),
                Err(e) if chosen => Err(e.into()),
                Err(e) => {
                    tracing::warn!("{e}; plugin state lasts only until the host stops");
                    Ok(Arc::new(SqliteStore::in_memory(options)))
                }
            }
        }
    }
}

/// Earlier versions kept key-value entries in `keyvalue.sqlite3`, whose
/// table the state file shares: take the file over rather than lose it.
fn adopt_keyvalue_file(dir: &std::path::Path, state: &std::path::Path) {
    let old = dir.join("keyvalue.sqlite3");
    if state.exists() || !old.exists() {
        return;
    }
    for suffix in ["", "-wal", "-shm"] {
        let from = PathBuf::from(format!("{}{suffix}", old.display()));
        let to = PathBuf::from(format!("{}{suffix}", state.display()));
        if from.exists()
            && let Err(e) = std::fs::rename(&from, &to)
        {
            tracing::warn!("cannot move {} to {}: {e}", from.display(), to.display());
        }
    }
}

/// The plugin directory used when `--plugins` is not given.
pub fn default_plugin_dir() -> PathBuf {
    let beside_binary = std::env::current_exe().ok().and_then(|exe| {
        let build_dir = exe.parent()?.parent()?;
        Some(build_dir.join("plugins"))
    });
    match beside_binary {
        Some(dir) if dir.is_dir() => dir,
        _ => PathBuf::from("target/plugins"),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    // From here on SIGHUP reloads instead of ending the process.
    let hangups = hangup_signals()?;
    // Changes from here until the watch begins are caught up on then.
    let loaded_at = std::time::SystemTime::now();
    // Fail closed: a policy that cannot be used stops the host.
    let policy = match &args.policy {
        Some(path) => Policy::load(path, crate::capabilities::registry())?,
        None => Policy::grant_declared(crate::capabilities::registry()),
    };
    // Fail closed: and an auth file.
    let auth = match &args.auth_file {
        Some(path) if args.http.is_some() => Some(Arc::new(arc_swap::ArcSwap::from_pointee(
            crate::auth::Authenticator::load(path, |name| std::env::var(name).ok())?,
        ))),
        Some(_) => bail!("--auth-file applies to HTTP only; add --http ADDR"),
        None => None,
    };
    if let Some(addr) = args.http
        && !addr.ip().is_loopback()
        && auth.is_none()
        && !args.allow_unauthenticated
    {
        bail!(
            "refusing to serve HTTP on {addr} without --auth-file: anyone who can reach that \
             address could call every tool. Add --auth-file (see docs/auth.md), listen on a \
             loopback address, or pass --allow-unauthenticated if something in front of the \
             host authenticates every request"
        );
    }
    if args.http.is_none() && args.stdio {
        bail!("--stdio only makes sense together with --http (stdio is the default)");
    }
    let limits = HostLimits {
        default_memory_bytes: mib(args.default_memory_mib)?,
        max_memory_bytes: mib(args.max_memory_mib)?,
        default_timeout: Duration::from_millis(args.default_timeout_ms),
        max_timeout: Duration::from_millis(args.max_timeout_ms),
        max_instances: args.max_instances,
        max_response_bytes: usize::try_from(args.max_response_kib)
            .ok()
            .and_then(|k| k.checked_mul(1024))
            .context("--max-response-kib is too large")?,
    };
    let cache_dir = if args.no_cache {
        None
    } else {
        args.cache_dir.clone().or_else(default_cache_dir)
    };
    let state_key = match &args.state_key_file {
        // An operator's key file must be usable: fail closed.
        Some(path) => SealKey::load_or_create(path)?,
        // The default one beside the compile cache may be rebuilt.
        None => default_state_key(cache_dir.as_deref()).or_else(|e| {
            tracing::warn!("{e}; using a key that lasts until the host stops");
            SealKey::generate()
        })?,
    };
    let cache_key = Some(state_key.derive(CACHE_KEY_PURPOSE));
    let facade = FacadeOptions {
        client_timeout: Duration::from_millis(args.client_timeout_ms),
        parked_ttl: Duration::from_millis(args.parked_ttl_ms),
        max_parked: args.max_parked,
        state_key,
        max_calls_per_principal: args.max_calls_per_principal,
    };
    let state = open_state(&args).await?;
    tracing::info!("plugin state in {}", state.describe());
    let mut services = HostServices::default();
    services.insert(state.clone());
    // Fail closed: a capability's service that cannot be opened (a secrets
    // file that cannot be used) stops the host.
    let services =
        crate::capabilities::services::open_services(&args.capability_settings.values, services)
            .await?;
    // No grant may reach the host's own files.
    let policy = policy.protecting(
        [
            args.data_dir.clone().or_else(default_data_dir),
            cache_dir.clone(),
            args.state_key_file.clone(),
            args.auth_file.clone(),
            args.policy.clone(),
        ]
        .into_iter()
        .flatten()
        .chain(args.capability_settings.values.host_files()),
    );
    crate::state::spawn_cleanup(state.clone(), Duration::from_millis(args.session_idle_ms));
    let runtime = Arc::new(Runtime::new(RuntimeConfig {
        limits,
        cache_dir,
        cache_key,
        capabilities: crate::capabilities::wiring(services),
    })?);
    let cx = LoadContext {
        runtime: runtime.clone(),
        policy: Arc::new(PolicyHandle::new(policy)),
    };
    let plugin_dir = args.plugins.clone().unwrap_or_else(default_plugin_dir);
    let catalog = load(&cx, &plugin_dir, args.policy.as_deref()).await?;
    let catalog = Arc::new(CatalogHandle::new(catalog));
    if args.cache_max_age_days > 0 {
        let cache = runtime.cache().clone();
        let max_age = Duration::from_secs(args.cache_max_age_days.saturating_mul(24 * 3600));
        // After loading, so every entry the catalog uses counts as used.
        tokio::task::spawn_blocking(move || {
            let (files, bytes) = cache.prune(max_age);
            if files > 0 {
                tracing::info!(
                    files,
                    bytes,
                    "removed compile-cache entries unused for {} days",
                    max_age.as_secs() / 86400
                );
            }
        });
    }
    let reloader = Arc::new(Reloader::new(
        cx,
        plugin_dir,
        args.policy.clone(),
        catalog.clone(),
    ));
    let services = Arc::new(ServerState::new(catalog, runtime, args.page_size, facade));
    services.spawn_sweeper();
    services.spawn_reload_announcer(reloader.subscribe());
    let _watch = if args.no_watch {
        None
    } else {
        let quiet = Duration::from_millis(args.reload_quiet_ms);
        watch::watch(reloader.clone(), quiet, loaded_at)
            .inspect_err(|e| tracing::warn!("{e}; send SIGHUP to reload"))
            .ok()
    };
    reload_on_hangup(hangups, reloader, args.auth_file.clone().zip(auth.clone()));
    tracing::info!(elapsed_ms = started.elapsed().as_secs_f64() * 1e3, "ready");

    let shutdown = CancellationToken::new();
    spawn_signal_handler(shutdown.clone());
    let shutdown_grace = Duration::from_millis(args.shutdown_grace_ms);
    match args.http {
        None => mcp::serve_stdio(services, shutdown, shutdown_grace).await?,
        Some(addr) => {
            let options = HttpOptions {
                addr,
                extra_allowed_hosts: args.allowed_hosts.clone(),
                allow_any_host: args.allow_any_host,
                shutdown_grace,
                auth,
                session_idle: Duration::from_millis(args.session_idle_ms.max(1)),
                max_sessions: args.max_sessions,
                limits: crate::listener::ListenerLimits {
                    max_connections: args.max_connections.max(1),
                    header_timeout: Duration::from_millis(args.http_header_timeout_ms.max(1)),
                },
                body_timeout: Duration::from_millis(args.http_body_timeout_ms.max(1)),
                ops_addr: args.ops_http,
            };
            let http = mcp::serve_http(services.clone(), options, shutdown.clone(), |bound| {
                tracing::info!("listening on http://{bound}/mcp");
            });
            if args.stdio {
                let stdio_shutdown = shutdown.clone();
                let stdio = async move {
                    let r =
                        mcp::serve_stdio(services, stdio_shutdown.clone(), shutdown_grace).await;
                    stdio_shutdown.cancel();
                    r
                };
                let (h, s) = tokio::join!(http, stdio);
                h?;
                s?;
            } else {
                http.await?;
            }
        }
    }
    Ok(())
}

async fn load(
    cx: &LoadContext,
    dir: &Path,
    policy_file: Option<&Path>,
) -> anyhow::Result<crate::catalog::Catalog> {
    if !dir.is_dir() {
        bail!(
            "plugin directory {} does not exist (build the example plugins with \
             `scripts/build-plugins.sh`, or pass --plugins DIR)",
            dir.display()
        );
    }
    let catalog = crate::loader::load_directory(cx, dir, 1, policy_file)
        .await
        .with_context(|| format!("loading plugins from {}", dir.display()))?;
    crate::loader::report(&catalog);
    tracing::info!(
        dir = %dir.display(),
        plugins = catalog.plugins().len(),
        tools = catalog.tools().len(),
        failed = catalog.failures().len(),
        "plugins loaded"
    );
    Ok(catalog)
}

fn mib(value: u64) -> anyhow::Result<usize> {
    usize::try_from(value)
        .ok()
        .and_then(|v| v.checked_mul(1 << 20))
        .filter(|&v| v > 0)
        .with_context(|| format!("{value} MiB is not a usable memory size"))
}

#[cfg(unix)]
type HangupSignals = tokio::signal::unix::Signal;
#[cfg(not(unix))]
type HangupSignals = ();

fn hangup_signals() -> anyhow::Result<HangupSignals> {
    #[cfg(unix)]
    {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .context("cannot handle SIGHUP")
    }
    #[cfg(not(unix))]
    Ok(())
}

/// Rescan the plugin directory and the policy file on every SIGHUP, and
/// re-read the auth file (one that cannot be used keeps the one in force).
fn reload_on_hangup(
    hangups: HangupSignals,
    reloader: Arc<Reloader>,
    auth: Option<(PathBuf, crate::auth::SharedAuthenticator)>,
) {
    #[cfg(unix)]
    {
        let mut hangups = hangups;
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                tracing::info!(
                    "SIGHUP: reloading the plugin directory, the policy and the auth file"
                );
                if let Some((path, current)) = &auth {
                    match crate::auth::Authenticator::load(path, |name| std::env::var(name).ok()) {
                        Ok(fresh) => {
                            current.store(Arc::new(fresh));
                            tracing::info!("auth file {} re-read", path.display());
                        }
                        Err(e) => tracing::error!("{e}; the auth file in force stays"),
                    }
                }
                reloader.reload(&ReloadRequest::rescan()).await;
            }
        });
    }
    #[cfg(not(unix))]
    let _ = (hangups, reloader, auth);
}

fn spawn_signal_handler(shutdown: CancellationToken) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => return,
                };
            tokio::select! {
                _ = ctrl_c => {},
                _ = term.recv() => {},
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down");
        shutdown.cancel();
    });
}
