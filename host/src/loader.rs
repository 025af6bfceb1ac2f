//! Reading a plugin directory: every `<name>.wasm` with its `<name>.toml`
//! becomes a [`Plugin`]; each failure is recorded with its reason and never
//! stops the others. Plugins load concurrently (compilation runs on blocking
//! threads through the compile cache).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::catalog::{Catalog, LoadFailure};
use crate::error::LoadError;
use crate::plugin::LoadContext;
use crate::plugin::Plugin;

/// How many plugins are compiled at the same time.
pub(crate) const LOAD_CONCURRENCY: usize = 4;

/// The plugin files found in a directory, by plugin stem.
#[derive(Debug, Default)]
struct DirectoryListing {
    stems: BTreeSet<String>,
}

/// Load every plugin in `dir` into a catalog of generation `generation`.
/// An unreadable directory is an error; a bad plugin is a [`LoadFailure`].
/// `policy_file` is not a plugin's manifest, should it be kept in `dir`.
pub async fn load_directory(
    cx: &LoadContext,
    dir: &Path,
    generation: u64,
    policy_file: Option<&Path>,
) -> Result<Catalog, LoadError> {
    let listing = list_directory(dir, policy_file)?;
    let mut plugins = Vec::new();
    let mut failures = Vec::new();
    let mut pending = tokio::task::JoinSet::new();
    let mut stems = listing.stems.into_iter();
    loop {
        while pending.len() < LOAD_CONCURRENCY {
            let Some(stem) = stems.next() else { break };
            let cx = cx.clone();
            let (wasm, manifest) = plugin_files(dir, &stem);
            pending.spawn(async move {
                let result = load_one(&cx, &wasm, &manifest).await;
                (wasm, result)
            });
        }
        let Some(joined) = pending.join_next().await else {
            break;
        };
        match joined {
            Ok((_, Ok(plugin))) => plugins.push(Arc::new(plugin)),
            Ok((path, Err(error))) => failures.push(LoadFailure {
                path,
                reason: error.to_string(),
            }),
            Err(e) => failures.push(LoadFailure {
                path: dir.to_path_buf(),
                reason: format!("loading a plugin panicked: {e}"),
            }),
        }
    }
    failures.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Catalog::new(generation, plugins, failures))
}

/// Load the plugin `stem` of `dir`: a missing component or manifest is an
/// error naming the file that is missing.
pub(crate) async fn load_stem(
    cx: &LoadContext,
    dir: &Path,
    stem: &str,
) -> Result<Plugin, LoadError> {
    let (wasm, manifest) = plugin_files(dir, stem);
    load_one(cx, &wasm, &manifest).await
}

/// The component and manifest paths of plugin `stem` in `dir`.
pub(crate) fn plugin_files(dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{stem}.wasm")),
        dir.join(format!("{stem}.toml")),
    )
}

/// The plugin stem a file in the plugin directory belongs to: `x` for
/// `x.wasm` and `x.toml`; `None` for hidden files and anything else.
pub(crate) fn plugin_stem(file_name: &str) -> Option<&str> {
    if file_name.starts_with('.') {
        return None;
    }
    file_name
        .strip_suffix(".wasm")
        .or_else(|| file_name.strip_suffix(".toml"))
        .filter(|stem| !stem.is_empty())
}

async fn load_one(cx: &LoadContext, wasm: &Path, manifest: &Path) -> Result<Plugin, LoadError> {
    match (wasm.is_file(), manifest.is_file()) {
        (true, true) => Plugin::load(cx, wasm, manifest).await,
        (true, false) => Err(LoadError::MissingManifest {
            wasm: wasm.to_path_buf(),
            manifest: manifest.to_path_buf(),
        }),
        (false, _) => Err(LoadError::MissingComponent {
            manifest: manifest.to_path_buf(),
            wasm: wasm.to_path_buf(),
        }),
    }
}

/// The plugin stems of `dir`: every `*.wasm` and `*.toml` (hidden files
/// and `policy_file` ignored).
pub(crate) fn plugin_stems(
    dir: &Path,
    policy_file: Option<&Path>,
) -> Result<BTreeSet<String>, LoadError> {
    list_directory(dir, policy_file).map(|listing| listing.stems)
}

/// Whether `a` and `b` name the same file.
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Whether a `.toml` file with no component beside it is a plugin's
/// manifest (whose component is missing) rather than another tool's file,
/// such as the `Cargo.toml` or `pyproject.toml` of a plugin's own project
/// directory: a manifest names its plugin at the top level. A file that is
/// not valid TOML counts, so the error names it.
pub(crate) fn is_lone_manifest(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return true;
    };
    match text.parse::<toml::Table>() {
        Ok(table) => table.get("name").is_some_and(toml::Value::is_str),
        Err(_) => true,
    }
}

/// Collect the stems of `*.wasm` and `*.toml` files (hidden files,
/// `policy_file`, and `.toml` files that are no plugin's manifest ignored).
fn list_directory(dir: &Path, policy_file: Option<&Path>) -> Result<DirectoryListing, LoadError> {
    let read_error = |source| LoadError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut listing = DirectoryListing::default();
    let mut lone_tomls = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let path: PathBuf = entry.map_err(read_error)?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !path.is_file() || policy_file.is_some_and(|policy| same_file(&path, policy)) {
            continue;
        }
        match name.strip_suffix(".toml").and(plugin_stem(name)) {
            Some(stem) => lone_tomls.push((stem.to_string(), path.clone())),
            None => {
                if let Some(stem) = plugin_stem(name) {
                    listing.stems.insert(stem.to_string());
                }
            }
        }
    }
    for (stem, path) in lone_tomls {
        if listing.stems.contains(&stem) || is_lone_manifest(&path) {
            listing.stems.insert(stem);
        }
    }
    Ok(listing)
}

/// Report a catalog's load failures and notices on the host's log (stderr).
pub fn report(catalog: &Catalog) {
    for plugin in catalog.plugins() {
        tracing::info!(
            plugin = %plugin.name,
            version = %plugin.manifest.version,
            tools = plugin.tools.len(),
            cache = ?plugin.cache,
            "plugin loaded"
        );
    }
    for failure in catalog.failures() {
        tracing::error!(path = %failure.path.display(), "plugin not loaded: {}", failure.reason);
    }
    for notice in catalog.notices() {
        tracing::warn!("{notice}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plugins_project_files_are_not_taken_for_manifests() {
        let dir = std::env::temp_dir().join(format!("loader-listing-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
        write("greeter.wasm", "");
        write("greeter.toml", "name = \"greeter\"\nversion = \"0.1.0\"\n");
        write(
            "Cargo.toml",
            "[package]\nname = \"greeter\"\nversion = \"0.1.0\"\n",
        );
        write("pyproject.toml", "[project]\nname = \"greeter\"\n");
        // A manifest whose component is missing, and a broken one, are
        // still listed, so the load names what is wrong with them.
        write("unbuilt.toml", "name = \"unbuilt\"\nversion = \"0.1.0\"\n");
        write("broken.toml", "name = \n");
        let stems = plugin_stems(&dir, None).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            stems.into_iter().collect::<Vec<_>>(),
            ["broken", "greeter", "unbuilt"]
        );
    }
}
