//! The command line: argument definitions and the glue that wires the
//! runtime, the loader, the catalog and the transports together. This is the
//! binary's edge, so errors are `anyhow` with context.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;

use crate::componentize::{self, Adapter, WitSource};
pub use crate::config::ServeArgs;
use crate::launch::{
    CACHE_KEY_PURPOSE, OpenedHost, default_data_dir, default_state_key, open_host,
};
use crate::limits::HostLimits;
use crate::mcp::{self, HttpOptions};
use crate::plugin::LoadContext;
use crate::policy::{Policy, PolicyHandle};
use crate::reload::{ReloadRequest, Reloader, watch};
use crate::runtime::HostServices;
use crate::runtime::{Runtime, RuntimeConfig, default_cache_dir};

/// Serve MCP tools from sandboxed WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "mcp-wasm-host", version = VERSION, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The version `--version` prints: the package's, and the commit it was
/// built from when it was built from a git checkout.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("MCP_WASM_HOST_COMMIT"),
    ")"
);

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load the plugins of a directory and serve them over MCP.
    Serve(Box<ServeArgs>),
    /// Print the tools, prompts, resources and resource templates a plugin
    /// directory (or one component) serves, with their schemas.
    List(Box<crate::tryout::ListArgs>),
    /// Run one tool call in this process, under the same sandbox, limits
    /// and policy as `serve`, and print its result.
    Call(Box<crate::tryout::CallArgs>),
    /// Serve a plugin's project directory while it is written: run its
    /// `build.sh` at start and after every change to its sources, hot-reload
    /// each build, and log every tool call and its outcome.
    Dev(Box<crate::dev::DevArgs>),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Turn a core WebAssembly module into a component.
    Componentize(ComponentizeArgs),
    /// Inspect plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Helpers for the auth file.
    #[command(subcommand)]
    Auth(AuthCommand),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
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
    /// Everything `check` says, and the tools, prompts and resource
    /// templates with their schemas; `--json` for tools. Exits with status 1
    /// when the plugin would not load.
    Inspect(InspectArgs),
    /// Write the WIT package and a world for a plugin's manifest: the
    /// interfaces of its declared capabilities and the exports it offers.
    /// For toolchains that bind a whole world (Python, JavaScript, C).
    Wit(WitArgs),
    /// Start a new plugin: a directory with source holding one working tool,
    /// a manifest, a build script and the SDK for its language.
    New(NewArgs),
    /// Fetch a plugin published as an OCI artifact into the plugin
    /// directory (atomically), with its cosign signatures, and record its
    /// digest in `plugins.lock`.
    Pull(crate::distribution::PullArgs),
    /// Publish a plugin (component and manifest) as an OCI artifact,
    /// optionally signed with a cosign key.
    Push(crate::distribution::PushArgs),
    /// Print the digest statement of a plugin, which a minisign signature
    /// (`<name>.wasm.minisig`) signs.
    Digest(crate::distribution::DigestArgs),
    /// List the plugins waiting for the operator's consent, with what they
    /// reach.
    Pending(crate::distribution::ConsentArgs),
    /// Approve what a plugin reaches; a running host serves it at once.
    Approve(crate::distribution::DecideArgs),
    /// Deny a plugin what it reaches; a running host stops serving it.
    Deny(crate::distribution::DecideArgs),
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
    /// what is declared except files, env, http, secrets and sql).
    #[arg(long, env = "MCP_WASM_HOST_POLICY")]
    pub policy: Option<PathBuf>,
    /// Show the grants of this principal of --auth-file (policy rules for
    /// some callers apply by its roles). Default: a caller with every role.
    #[arg(long, value_name = "ID", requires = "auth_file")]
    pub principal: Option<String>,
    /// The auth file naming the principals and their roles.
    #[arg(long, env = "MCP_WASM_HOST_AUTH_FILE", value_name = "FILE")]
    pub auth_file: Option<PathBuf>,
    /// A `serve` configuration file (TOML), for its `policy`, `auth-file`
    /// and `data-dir`; its other settings are passed over.
    #[arg(long, env = "MCP_WASM_HOST_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The data directory holding the operator's consent decisions.
    #[arg(long, env = "MCP_WASM_HOST_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[command(flatten)]
    pub check: CheckArgs,
    /// Print JSON: digest, imports, exports, declarations, grants and what
    /// they reach, the verdict, and the tools with their schemas.
    #[arg(long)]
    pub json: bool,
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
        Command::List(args) => crate::tryout::list(*args).await,
        Command::Call(args) => crate::tryout::call(*args).await,
        Command::Dev(args) => {
            let (host, _rebuilding) = crate::dev::start(*args).await?;
            serve(host).await
        }
        Command::Completions(args) => {
            use clap::CommandFactory;
            clap_complete::generate(
                args.shell,
                &mut Cli::command(),
                "mcp-wasm-host",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Command::Componentize(args) => componentize_file(&args),
        Command::Plugin(PluginCommand::Check(args)) => check_plugin(&args, false).await,
        Command::Plugin(PluginCommand::Inspect(args)) => check_plugin(&args.check, args.json).await,
        Command::Plugin(PluginCommand::Wit(args)) => write_plugin_wit(&args),
        Command::Plugin(PluginCommand::New(args)) => new_plugin(&args),
        Command::Plugin(PluginCommand::Pull(args)) => crate::distribution::pull(&args).await,
        Command::Plugin(PluginCommand::Push(args)) => crate::distribution::push(&args).await,
        Command::Plugin(PluginCommand::Digest(args)) => crate::distribution::digest(&args),
        Command::Plugin(PluginCommand::Pending(args)) => crate::distribution::list_pending(&args),
        Command::Plugin(PluginCommand::Approve(args)) => {
            crate::distribution::approve_or_deny(&args, crate::trust::consent::Verdict::Approved)
        }
        Command::Plugin(PluginCommand::Deny(args)) => {
            crate::distribution::approve_or_deny(&args, crate::trust::consent::Verdict::Denied)
        }
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

/// `plugin check` and `plugin inspect`: the report for people, or (with
/// `json`) the whole inspection as JSON; exits with status 1 when the
/// plugin would not load.
async fn check_plugin(args: &CheckArgs, json: bool) -> anyhow::Result<()> {
    let policy = match &args.policy {
        Some(path) => Policy::load(path, crate::capabilities::registry())?,
        None => Policy::grant_declared(crate::capabilities::registry()),
    };
    let policy = policy.protecting(
        [
            default_cache_dir(),
            default_data_dir(),
            args.policy.clone(),
            args.auth_file.clone(),
        ]
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
        consent_file: args
            .data_dir
            .clone()
            .or_else(default_data_dir)
            .map(|dir| crate::trust::consent::consent_file(&dir)),
    };
    let manifest = args
        .manifest
        .clone()
        .unwrap_or_else(|| args.file.with_extension("toml"));
    let access = match &args.principal {
        None => crate::auth::Access::everything(),
        Some(id) => {
            let path = args
                .auth_file
                .as_ref()
                .context("--principal needs --auth-file, which gives the principal its roles")?;
            let file = crate::auth::Authenticator::load(path, |name| std::env::var(name).ok())?;
            let principal = file.principal(id).ok_or_else(|| {
                anyhow::anyhow!("--principal `{id}`: the auth file names no such principal")
            })?;
            crate::auth::Access::of(principal)
        }
    };
    let inspection = crate::inspect::inspect(&cx, &args.file, &manifest, &access).await;
    if json {
        println!("{}", serde_json::to_string_pretty(&inspection)?);
    } else {
        print!("{}", inspection.text());
    }
    if !inspection.loads {
        return Err(crate::error::CommandFailed.into());
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
        "build it with {dir}/build.sh; then `mcp-wasm-host list {dir}` shows its tool, \
         `mcp-wasm-host call <tool> '<json>' --plugins {dir}` runs it, and \
         `mcp-wasm-host serve --plugins {dir}` serves it (or copy {name}.wasm and {name}.toml \
         into your plugin directory)",
        dir = dir.display(),
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

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    // From here on SIGHUP reloads instead of ending the process.
    let hangups = hangup_signals()?;
    // Changes from here until the watch begins are caught up on then.
    let loaded_at = std::time::SystemTime::now();
    // Fail closed: and an auth file.
    let authenticator = match &args.auth_file {
        Some(path) if args.http.is_some() || args.stdio_principal.is_some() => {
            Some(crate::auth::Authenticator::load(path, |name| {
                std::env::var(name).ok()
            })?)
        }
        Some(_) => bail!(
            "--auth-file applies to HTTP, or to stdio with --stdio-principal ID; add --http ADDR \
             or --stdio-principal"
        ),
        None => None,
    };
    let auth_file = authenticator.map(|file| Arc::new(arc_swap::ArcSwap::from_pointee(file)));
    let stdio_caller = match (&args.stdio_principal, &auth_file) {
        (None, _) => crate::auth::StdioCaller::Everything,
        (Some(_), None) => {
            bail!("--stdio-principal needs --auth-file, which gives the principal its roles")
        }
        (Some(id), Some(file)) => {
            if file.load().principal(id).is_none() {
                bail!("--stdio-principal `{id}`: the auth file names no such principal");
            }
            crate::auth::StdioCaller::Principal {
                id: id.clone(),
                file: file.clone(),
            }
        }
    };
    // HTTP authenticates with it; SIGHUP re-reads it for both.
    let auth = auth_file.clone().filter(|_| args.http.is_some());
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
    let OpenedHost {
        state: services,
        cx,
        plugin_dir,
        catalog,
    } = open_host(&args).await?;
    let reloader = Arc::new(Reloader::new(
        cx,
        plugin_dir,
        args.policy.clone(),
        catalog.clone(),
    ));
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
    reload_on_hangup(
        hangups,
        reloader,
        args.auth_file.clone().zip(auth_file),
        services.hub.clone(),
    );
    tracing::info!(elapsed_ms = started.elapsed().as_secs_f64() * 1e3, "ready");

    let shutdown = CancellationToken::new();
    spawn_signal_handler(shutdown.clone());
    let shutdown_grace = Duration::from_millis(args.shutdown_grace_ms);
    match args.http {
        None => mcp::serve_stdio(services, stdio_caller, shutdown, shutdown_grace).await?,
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
                serving_threads: args.http_threads.map_or_else(
                    || std::thread::available_parallelism().map_or(2, |n| n.get()),
                    |n| n.get(),
                ),
            };
            let http = mcp::serve_http(services.clone(), options, shutdown.clone(), |bound| {
                tracing::info!("listening on http://{bound}/mcp");
            });
            if args.stdio {
                let stdio_shutdown = shutdown.clone();
                let stdio = async move {
                    let r = mcp::serve_stdio(
                        services,
                        stdio_caller,
                        stdio_shutdown.clone(),
                        shutdown_grace,
                    )
                    .await;
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
    hub: Arc<crate::mcp::SubscriptionHub>,
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
                            let fresh = Arc::new(fresh);
                            current.store(fresh.clone());
                            hub.refresh_access(|id| {
                                fresh
                                    .principal(id)
                                    .map_or(crate::auth::Access::Nothing, crate::auth::Access::of)
                            });
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
    let _ = (hangups, reloader, auth, hub);
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
