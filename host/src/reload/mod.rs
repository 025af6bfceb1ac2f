//! Hot reload: bring the published catalog up to date with the plugin
//! directory and the policy file while the host serves.
//!
//! A reload loads only the plugins it is asked about (compiling off the
//! request path, through the compile cache), keeps every other plugin as the
//! same `Arc`, and publishes one new catalog snapshot. Calls that already
//! hold the old snapshot (running, or parked waiting for a client's input)
//! finish on the version they started with.
//!
//! A new version that fails to load (corrupt component, invalid manifest, a
//! required capability the policy refuses) leaves the old version serving.
//! A changed policy is different: grants must follow it, so every plugin is
//! evaluated again and one the new policy refuses stops being served. A
//! policy file that cannot be used keeps the policy in force.
//!
//! Reloads are serialised; each one is reported to subscribers (the MCP
//! adapter tells clients) as a [`ReloadReport`]. [`watch`] triggers reloads
//! from file-system events; the binary also triggers a full rescan on SIGHUP.

pub mod watch;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::broadcast;

use crate::catalog::{Catalog, CatalogHandle, LoadFailure};
use crate::loader;
use crate::plugin::LoadContext;
use crate::plugin::{Plugin, files_digest};
use crate::policy::Policy;
use crate::runtime::Runnable as _;

/// How many reports a slow subscriber may fall behind before it is told it
/// missed some (and then assumes every list changed).
const REPORT_BACKLOG: usize = 64;

/// What to bring up to date.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReloadRequest {
    /// Plugins, by file stem (`x` for `x.wasm` and `x.toml`).
    pub plugins: BTreeSet<String>,
    /// Re-read the policy file; if it changed, evaluate every plugin again.
    pub policy: bool,
    /// Every plugin in the directory (unchanged files are skipped).
    pub everything: bool,
    /// A signature file or the operator's consent file changed: admit
    /// every plugin again (and retry those waiting for consent).
    pub provenance: bool,
}

impl ReloadRequest {
    /// Everything: the policy file and every plugin in the directory.
    pub fn rescan() -> Self {
        Self {
            policy: true,
            everything: true,
            provenance: true,
            ..Self::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.plugins.is_empty() && !self.policy && !self.everything && !self.provenance
    }
}

/// A new version (or policy) that could not be used.
#[derive(Debug, Clone)]
pub struct ReloadFailure {
    pub path: PathBuf,
    pub reason: String,
    /// What keeps serving in its place, if anything (for example
    /// "plugin `hello` 0.1.0").
    pub kept: Option<String>,
}

impl std::fmt::Display for ReloadFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "reload of {} failed: {}",
            self.path.display(),
            self.reason
        )?;
        match &self.kept {
            Some(kept) => write!(f, "; {kept} keeps serving"),
            None => Ok(()),
        }
    }
}

/// What one reload did.
#[derive(Debug)]
pub struct ReloadReport {
    /// The snapshot before the reload.
    pub previous: Arc<Catalog>,
    /// The snapshot after it: the same `Arc` when nothing was published.
    pub current: Arc<Catalog>,
    /// Plugins loaded, new or replacing an older version.
    pub loaded: Vec<Arc<Plugin>>,
    /// Unchanged plugins whose grants or limits a changed policy changed.
    pub regranted: Vec<Arc<Plugin>>,
    /// Names of plugins no longer served.
    pub removed: Vec<Arc<str>>,
    pub failures: Vec<ReloadFailure>,
    /// Whether a changed policy was put in force.
    pub policy_changed: bool,
}

impl ReloadReport {
    pub fn published(&self) -> bool {
        !Arc::ptr_eq(&self.previous, &self.current)
    }
}

/// Brings the catalog up to date; one per host.
pub struct Reloader {
    /// The runtime and the policy in force that plugins load under.
    cx: LoadContext,
    dir: PathBuf,
    policy_file: Option<PathBuf>,
    catalog: Arc<CatalogHandle>,
    state: tokio::sync::Mutex<ReloaderState>,
    reports: broadcast::Sender<Arc<ReloadReport>>,
    /// Components being compiled ahead of their reload, by stem.
    precompiling: std::sync::Mutex<HashMap<String, tokio::task::JoinHandle<()>>>,
    /// Turns to compile ahead, as many as the loader compiles at once.
    compiling: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader")
            .field("dir", &self.dir)
            .field("policy_file", &self.policy_file)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct ReloaderState {
    generation: u64,
}

impl Reloader {
    /// A reloader for `catalog`, loaded from `dir` under the policy read from
    /// `policy_file` (if any).
    pub fn new(
        cx: LoadContext,
        dir: PathBuf,
        policy_file: Option<PathBuf>,
        catalog: Arc<CatalogHandle>,
    ) -> Self {
        let generation = catalog.snapshot().generation();
        Self {
            cx,
            dir,
            policy_file,
            catalog,
            state: tokio::sync::Mutex::new(ReloaderState { generation }),
            reports: broadcast::channel(REPORT_BACKLOG).0,
            precompiling: std::sync::Mutex::new(HashMap::new()),
            compiling: Arc::new(tokio::sync::Semaphore::new(loader::LOAD_CONCURRENCY)),
        }
    }

    /// Start compiling the component of plugin `stem` into the compile
    /// cache now, while the directory settles, so the reload that follows
    /// finds it compiled. Does nothing without a compile cache or while a
    /// compile of `stem` is already running; bytes that are not a component
    /// (yet) are left for the reload to report.
    pub fn precompile(&self, stem: &str) {
        if self.cx.runtime.cache().dir().is_none() {
            return;
        }
        let mut running = self.precompiling.lock().unwrap_or_else(|e| e.into_inner());
        if running.get(stem).is_some_and(|task| !task.is_finished()) {
            return;
        }
        let (wasm, _) = loader::plugin_files(&self.dir, stem);
        let runtime = self.cx.runtime.clone();
        let compiling = self.compiling.clone();
        let task = tokio::spawn(async move {
            // Closed only when the reloader is gone.
            let Ok(_turn) = compiling.acquire_owned().await else {
                return;
            };
            let _ = tokio::task::spawn_blocking(move || {
                if let Ok(bytes) = std::fs::read(&wasm)
                    && crate::plugin::check_component_bytes(&bytes).is_ok()
                {
                    // Failures are the reload's to report.
                    let name = wasm.file_stem().unwrap_or_default().to_string_lossy();
                    let _ = runtime.compile(&name, &bytes);
                }
            })
            .await;
        });
        running.insert(stem.to_owned(), task);
    }

    /// Wait for the compiles started ahead of reloading `stems`.
    async fn precompiled(&self, stems: &BTreeSet<String>) {
        let tasks: Vec<_> = {
            let mut running = self.precompiling.lock().unwrap_or_else(|e| e.into_inner());
            stems.iter().filter_map(|s| running.remove(s)).collect()
        };
        for task in tasks {
            let _ = task.await;
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn policy_file(&self) -> Option<&Path> {
        self.policy_file.as_deref()
    }

    /// The operator's consent file, if the host has a data directory.
    pub fn consent_file(&self) -> Option<&Path> {
        self.cx.consent_file.as_deref()
    }

    /// Reports of every reload from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<ReloadReport>> {
        self.reports.subscribe()
    }

    /// Bring what `request` names up to date, publish the new snapshot if
    /// anything changed, and report it (to the log and to subscribers).
    pub async fn reload(&self, request: &ReloadRequest) -> Arc<ReloadReport> {
        let mut state = self.state.lock().await;
        let previous = self.catalog.snapshot();
        let mut failures = Vec::new();

        let policy_changed = request.policy && self.refresh_policy(&mut failures);
        // Grants, signatures or consent may differ: evaluate every plugin.
        let readmit = policy_changed || request.provenance;
        let stems = if readmit || request.everything {
            let mut stems = loader::plugin_stems(&self.dir, self.policy_file.as_deref())
                .unwrap_or_else(|e| {
                    failures.push(ReloadFailure {
                        path: self.dir.clone(),
                        reason: e.to_string(),
                        kept: Some("every loaded plugin".into()),
                    });
                    BTreeSet::new()
                });
            stems.extend(
                previous
                    .plugins()
                    .iter()
                    .filter_map(|p| stem_of(&p.wasm_path)),
            );
            stems.extend(request.plugins.iter().cloned());
            stems
        } else {
            request.plugins.clone()
        };

        self.precompiled(&stems).await;
        let mut next = NextCatalog {
            previous: &previous,
            plugins: previous.plugins().to_vec(),
            load_failures: previous.failures().to_vec(),
            loaded: Vec::new(),
            regranted: Vec::new(),
            removed: Vec::new(),
            failures,
        };
        for stem in &stems {
            self.bring_up_to_date(stem, readmit, &mut next).await;
        }
        let NextCatalog {
            plugins,
            mut load_failures,
            loaded,
            regranted,
            removed,
            failures,
            ..
        } = next;
        load_failures.sort_by(|a, b| a.path.cmp(&b.path));

        let plugins_changed = !loaded.is_empty() || !regranted.is_empty() || !removed.is_empty();
        let failures_changed = load_failures.len() != previous.failures().len()
            || load_failures
                .iter()
                .zip(previous.failures())
                .any(|(a, b)| a.path != b.path || a.reason != b.reason);
        let current = if plugins_changed || failures_changed {
            state.generation += 1;
            let catalog = Arc::new(Catalog::new(state.generation, plugins, load_failures));
            self.catalog.publish_arc(catalog.clone());
            catalog
        } else {
            previous.clone()
        };
        drop(state);

        let report = Arc::new(ReloadReport {
            previous,
            current,
            loaded,
            regranted,
            removed,
            failures,
            policy_changed,
        });
        log_report(&report);
        for plugin in report.loaded.iter().chain(&report.regranted) {
            self.cx.runtime.prepare_spare(plugin.guest());
        }
        let metrics = self.cx.runtime.metrics();
        if report.published() {
            metrics.reloads.fetch_add(1, Ordering::Relaxed);
        }
        metrics
            .reload_failures
            .fetch_add(report.failures.len() as u64, Ordering::Relaxed);
        if report.published() || !report.failures.is_empty() || report.policy_changed {
            // No subscriber is not an error.
            let _ = self.reports.send(report.clone());
        }
        report
    }

    /// Read the policy file and put it in force if it decides differently
    /// from the one in force. Returns whether it did. A file that cannot be
    /// read, is empty or does not parse leaves the policy in force.
    fn refresh_policy(&self, failures: &mut Vec<ReloadFailure>) -> bool {
        let Some(path) = &self.policy_file else {
            return false;
        };
        let refuse = |failures: &mut Vec<ReloadFailure>, reason: String| {
            failures.push(ReloadFailure {
                path: path.clone(),
                reason,
                kept: Some("the policy in force".into()),
            });
            false
        };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => return refuse(failures, format!("cannot read the policy: {e}")),
        };
        let policy = match Policy::parse(&text, Some(path), crate::capabilities::registry()) {
            Ok(policy) => policy,
            Err(e) => return refuse(failures, e.to_string()),
        };
        let changed = !policy.decides_like(&self.cx.policy.current());
        if !changed {
            tracing::info!(path = %path.display(), "policy re-read; it decides as before");
        }
        // Also in force when only its line numbers moved, so that refusals
        // name the right lines.
        self.cx.policy.replace(policy);
        changed
    }

    /// Bring plugin `stem` up to date in `next`: load a new or changed
    /// version, drop a deleted one, and (with `readmit`) evaluate an
    /// unchanged one again under the policy, signatures and consent now in
    /// force.
    async fn bring_up_to_date(&self, stem: &str, readmit: bool, next: &mut NextCatalog<'_>) {
        let (wasm, manifest) = loader::plugin_files(&self.dir, stem);
        next.load_failures
            .retain(|f| f.path != wasm && f.path != manifest);
        let old = next.plugins.iter().position(|p| p.wasm_path == wasm);
        if !wasm.exists() {
            // The component is gone: so is the plugin.
            if let Some(i) = old {
                next.removed.push(next.plugins.remove(i).name.clone());
            }
            if manifest.exists() && loader::is_lone_manifest(&manifest) {
                let reason = crate::error::LoadError::MissingComponent {
                    manifest: manifest.clone(),
                    wasm: wasm.clone(),
                }
                .to_string();
                // Recorded under the component's path, as the loader does.
                next.fail(wasm, reason, None, false);
            }
            return;
        }
        if let Some(i) = old
            && files_digest(&wasm, &manifest).await.as_deref() == Some(&next.plugins[i].digest)
        {
            if readmit && let Err(refusal) = next.regrant(i, &self.cx) {
                next.fail(wasm, refusal, None, true);
            }
            return;
        }
        match loader::load_stem(&self.cx, &self.dir, stem).await {
            Ok(plugin) => {
                let plugin = Arc::new(plugin);
                match old {
                    Some(i) => next.plugins[i] = plugin.clone(),
                    None => next.plugins.push(plugin.clone()),
                }
                next.loaded.push(plugin);
            }
            Err(error) => {
                let mut reason = error.to_string();
                let mut kept = None;
                if let Some(i) = old {
                    // The version serving stays, if the policy in force
                    // still lets it.
                    let serving = next.plugins[i].clone();
                    let regranted = if readmit {
                        next.regrant(i, &self.cx)
                    } else {
                        Ok(())
                    };
                    match regranted {
                        Ok(()) => {
                            kept = Some(format!(
                                "plugin `{}` {}",
                                serving.name, serving.manifest.version
                            ));
                        }
                        Err(refusal) => {
                            reason =
                                format!("{reason}; the version serving was removed too: {refusal}");
                        }
                    }
                }
                let removed = old.is_some() && kept.is_none();
                next.fail(wasm, reason, kept, removed);
            }
        }
    }
}

/// The catalog a reload is putting together.
struct NextCatalog<'a> {
    previous: &'a Catalog,
    plugins: Vec<Arc<Plugin>>,
    load_failures: Vec<LoadFailure>,
    loaded: Vec<Arc<Plugin>>,
    regranted: Vec<Arc<Plugin>>,
    removed: Vec<Arc<str>>,
    failures: Vec<ReloadFailure>,
}

impl NextCatalog<'_> {
    /// Evaluate `plugins[i]` again under the policy in force: swap in the
    /// version with its new grants, or remove it (returning why) when the
    /// policy refuses a capability it requires.
    fn regrant(&mut self, i: usize, cx: &LoadContext) -> Result<(), String> {
        match self.plugins[i].under_policy(cx) {
            Ok(None) => Ok(()),
            Ok(Some(plugin)) => {
                let plugin = Arc::new(plugin);
                self.plugins[i] = plugin.clone();
                self.regranted.push(plugin);
                Ok(())
            }
            Err(refusal) => {
                self.removed.push(self.plugins.remove(i).name.clone());
                Err(refusal.to_string())
            }
        }
    }

    /// Record a failure to load `path` in the next catalog. It is reported
    /// when a plugin was `removed` for it, or when the previous catalog did
    /// not already record it (a rescan of a file still broken in the same
    /// way says nothing new).
    fn fail(&mut self, path: PathBuf, reason: String, kept: Option<String>, removed: bool) {
        let known = self
            .previous
            .failures()
            .iter()
            .any(|f| f.path == path && f.reason == reason);
        self.load_failures.push(LoadFailure {
            path: path.clone(),
            reason: reason.clone(),
        });
        if removed || !known {
            self.failures.push(ReloadFailure { path, reason, kept });
        }
    }
}

/// The file stem of a plugin's component path.
fn stem_of(wasm_path: &Path) -> Option<String> {
    wasm_path
        .file_stem()
        .and_then(|s| s.to_str())
        .map(str::to_owned)
}

fn log_report(report: &ReloadReport) {
    if report.policy_changed {
        tracing::info!("policy reloaded; every plugin evaluated again");
    }
    for plugin in &report.loaded {
        tracing::info!(
            plugin = %plugin.name,
            version = %plugin.manifest.version,
            tools = plugin.tools.len(),
            cache = ?plugin.cache,
            generation = report.current.generation(),
            "plugin reloaded"
        );
    }
    for plugin in &report.regranted {
        tracing::info!(
            plugin = %plugin.name,
            generation = report.current.generation(),
            "plugin's grants or limits changed under the new policy"
        );
    }
    for name in &report.removed {
        tracing::info!(plugin = %name, generation = report.current.generation(), "plugin removed");
    }
    for failure in &report.failures {
        tracing::warn!("{failure}");
    }
    if report.published() {
        for failure in report.previous.failures() {
            if !report
                .current
                .failures()
                .iter()
                .any(|f| f.path == failure.path)
            {
                tracing::info!(path = %failure.path.display(), "the earlier load failure is resolved");
            }
        }
        for notice in report.current.notices() {
            if !report.previous.notices().contains(notice) {
                tracing::warn!("{notice}");
            }
        }
    }
}
