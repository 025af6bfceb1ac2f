//! Opening the host the `serve` settings describe: the policy, the state
//! key, the state store and the capabilities' services, the runtime, and
//! the catalog of the plugin directory (or of one component), ready for a
//! transport (`serve`) or for an in-process session (`list`, `call`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::catalog::{Catalog, CatalogHandle};
use crate::config::ServeArgs;
use crate::limits::HostLimits;
use crate::mcp::{FacadeOptions, ServerState};
use crate::plugin::LoadContext;
use crate::policy::{Policy, PolicyHandle};
use crate::runtime::{HostServices, Runnable as _, Runtime, RuntimeConfig, default_cache_dir};
use crate::sealed::SealKey;

/// A host opened from its settings.
pub struct OpenedHost {
    /// What every MCP session of it shares.
    pub state: Arc<ServerState>,
    /// The runtime and the policy plugins load under.
    pub cx: LoadContext,
    /// Where its plugins come from: a directory, or one component.
    pub plugin_dir: PathBuf,
    pub catalog: Arc<CatalogHandle>,
}

/// Open the host `args` describe. Whatever the operator named and cannot be
/// used (a policy, a key file, a state store, a secrets file) stops it.
pub async fn open_host(args: &ServeArgs) -> anyhow::Result<OpenedHost> {
    // Fail closed: a policy that cannot be used stops the host.
    let policy = match &args.policy {
        Some(path) => Policy::load(path, crate::capabilities::registry())?,
        None => Policy::grant_declared(crate::capabilities::registry()),
    };
    let limits = HostLimits {
        default_memory_bytes: mib(args.default_memory_mib)?,
        max_memory_bytes: mib(args.max_memory_mib)?,
        default_timeout: Duration::from_millis(args.default_timeout_ms),
        max_timeout: Duration::from_millis(args.max_timeout_ms),
        default_task_timeout: Duration::from_millis(args.default_task_timeout_ms),
        max_task_timeout: Duration::from_millis(args.max_task_timeout_ms),
        max_instances: args.max_instances,
        long_call_lanes: args.long_call_lanes,
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
        tasks: crate::mcp::TaskOptions {
            ttl: Duration::from_millis(
                args.task_ttl_ms
                    .clamp(1, crate::mcp::TaskOptions::MAX_TTL.as_millis() as u64),
            ),
            max_per_principal: args.max_tasks_per_principal.max(1),
            max_per_plugin: args.max_tasks_per_plugin.max(1),
        },
    };
    let state = open_state(args).await?;
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
        consent_file: args
            .data_dir
            .clone()
            .or_else(default_data_dir)
            .map(|dir| crate::trust::consent::consent_file(&dir)),
    };
    if let Some(dir) = cx.consent_file.as_deref().and_then(Path::parent) {
        // Watched for the operator's decisions; the commands write there.
        if let Err(e) = std::fs::create_dir_all(dir) {
            tracing::warn!(
                "cannot create {}: {e}; consent decisions are read at SIGHUP",
                dir.display()
            );
        }
    }
    let plugin_dir = args.plugins.clone().unwrap_or_else(default_plugin_dir);
    let catalog = load(&cx, &plugin_dir, args.policy.as_deref()).await?;
    for plugin in catalog.plugins() {
        runtime.prepare_spare(plugin.guest());
    }
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
    let state = Arc::new(ServerState::new(
        catalog.clone(),
        runtime,
        args.page_size,
        facade,
    ));
    Ok(OpenedHost {
        state,
        cx,
        plugin_dir,
        catalog,
    })
}

/// What the compile cache's MAC key is derived for, from the state key.
pub(crate) const CACHE_KEY_PURPOSE: &str = "mcp-wasm-host 2026-12 compile cache entry MAC";

/// The state key kept beside the compile cache (`state.key`), created when
/// missing; a fresh key for this process when there is no cache directory.
/// A cache directory that is not private to this user holds no key the
/// host trusts.
pub(crate) fn default_state_key(cache_dir: Option<&Path>) -> anyhow::Result<SealKey> {
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

/// The plugin directory used when `--plugins` is not given: `plugins` in
/// the build directory the binary sits in (`target/release/..` →
/// `target/plugins`, where `scripts/build-plugins.sh` puts the examples)
/// when there is one; otherwise, as for an installed binary, `plugins` in
/// the data directory (`~/.local/share/mcp-wasm-host/plugins`).
pub fn default_plugin_dir() -> PathBuf {
    let beside_binary = std::env::current_exe().ok().and_then(|exe| {
        let build_dir = exe.parent()?.parent()?;
        Some(build_dir.join("plugins"))
    });
    match beside_binary {
        Some(dir) if dir.is_dir() => dir,
        _ => default_data_dir()
            .map(|data| data.join("plugins"))
            .unwrap_or_else(|| PathBuf::from("plugins")),
    }
}

async fn load(cx: &LoadContext, dir: &Path, policy_file: Option<&Path>) -> anyhow::Result<Catalog> {
    if dir.is_file() {
        return load_component(cx, dir).await;
    }
    if !dir.is_dir() {
        bail!(
            "plugin directory {} does not exist (create it and put plugins in it, build \
             the examples with `scripts/build-plugins.sh`, or pass --plugins DIR)",
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

/// The catalog of one component (`x.wasm`, with `x.toml` beside it).
async fn load_component(cx: &LoadContext, wasm: &Path) -> anyhow::Result<Catalog> {
    let stem = wasm
        .extension()
        .filter(|ext| *ext == "wasm")
        .and(wasm.file_stem())
        .and_then(|stem| stem.to_str())
        .with_context(|| {
            format!(
                "{} is neither a plugin directory nor a component (`<name>.wasm`)",
                wasm.display()
            )
        })?;
    let dir = wasm.parent().unwrap_or(Path::new("."));
    let plugin = crate::loader::load_stem(cx, dir, stem)
        .await
        .with_context(|| format!("loading {}", wasm.display()))?;
    Ok(Catalog::new(1, vec![Arc::new(plugin)], Vec::new()))
}

fn mib(value: u64) -> anyhow::Result<usize> {
    usize::try_from(value)
        .ok()
        .and_then(|v| v.checked_mul(1 << 20))
        .filter(|&v| v > 0)
        .with_context(|| format!("{value} MiB is not a usable memory size"))
}
