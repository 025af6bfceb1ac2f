//! The on-disk compile cache: precompiled components keyed by the hash of
//! their bytes and the engine's compatibility hash, so a restart (or a second
//! host sharing the directory) deserializes in a fraction of a millisecond
//! instead of compiling again.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use wasmtime::Engine;
use wasmtime::component::Component;

/// Whether a component came from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    Hit,
    Miss,
    Disabled,
}

/// A compile cache in one directory, or none.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: Option<PathBuf>,
}

/// Bumped whenever the cache file format or keying changes.
const CACHE_FORMAT: &str = "mcp-wasm-host-cwasm-v1";

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl CompileCache {
    pub fn new(dir: Option<PathBuf>) -> Self {
        Self { dir }
    }

    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The cache key of `bytes` for `engine`: content hash plus engine
    /// compatibility hash (wasmtime version, target, and compiler settings).
    pub fn key(engine: &Engine, bytes: &[u8]) -> String {
        let mut compat = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut compat);
        let mut h = blake3::Hasher::new();
        h.update(CACHE_FORMAT.as_bytes());
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        h.update(&compat.finish().to_le_bytes());
        h.update(bytes);
        h.finalize().to_hex()[..40].to_string()
    }

    /// Compile `bytes`, or load the precompiled artifact from the cache.
    /// Cache failures never fail the load: they are logged and the component
    /// is compiled in memory instead.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        let Some(dir) = &self.dir else {
            return Ok((Component::new(engine, bytes)?, CacheOutcome::Disabled));
        };
        let path = dir.join(format!("{}.cwasm", Self::key(engine, bytes)));
        if path.is_file() {
            // SAFETY: the file was written by `precompile_component` of an
            // engine with the same compatibility hash (it is in the key), and
            // the cache directory belongs to the operator running the host.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => {
                    mark_used(&path);
                    return Ok((component, CacheOutcome::Hit));
                }
                Err(e) => tracing::warn!(
                    path = %path.display(),
                    "discarding unusable compile-cache entry: {e}"
                ),
            }
        }
        let cwasm = engine.precompile_component(bytes)?;
        if let Err(e) = write_atomically(dir, &path, &cwasm) {
            tracing::warn!(dir = %dir.display(), "cannot write the compile cache: {e}");
        }
        // SAFETY: `cwasm` was produced just now by this engine.
        let component = unsafe { Component::deserialize(engine, &cwasm)? };
        Ok((component, CacheOutcome::Miss))
    }
}

impl CompileCache {
    /// Delete the entries (and stray temporary files) no host has used for
    /// `max_age`: a cache entry's modification time is when it was last
    /// loaded. Returns how many files and bytes were removed.
    pub fn prune(&self, max_age: Duration) -> (usize, u64) {
        let Some(dir) = &self.dir else {
            return (0, 0);
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return (0, 0);
        };
        let Some(oldest) = SystemTime::now().checked_sub(max_age) else {
            return (0, 0);
        };
        let mut removed = (0, 0);
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let ours = name.ends_with(".cwasm") || name.starts_with(".tmp-");
            let Ok(metadata) = entry.metadata() else {
                continue;
            };
            let stale = metadata.modified().is_ok_and(|m| m < oldest);
            if ours && metadata.is_file() && stale && std::fs::remove_file(entry.path()).is_ok() {
                removed.0 += 1;
                removed.1 += metadata.len();
            }
        }
        removed
    }
}

/// Note that a cache entry was just used, so pruning keeps it.
fn mark_used(path: &Path) {
    let touched = std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|file| file.set_modified(SystemTime::now()));
    if let Err(e) = touched {
        tracing::debug!(path = %path.display(), "cannot mark a compile-cache entry used: {e}");
    }
}

/// Write through a temporary file and rename, so readers never see a torn file.
fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".tmp-{}-{}",
        std::process::id(),
        TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// The default cache directory: `$XDG_CACHE_HOME/mcp-wasm-host` or
/// `~/.cache/mcp-wasm-host`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("mcp-wasm-host"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_removes_only_entries_unused_for_long() {
        let dir = std::env::temp_dir().join(format!("mcp-wasm-host-prune-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let old = dir.join("old.cwasm");
        let fresh = dir.join("fresh.cwasm");
        let foreign = dir.join("notes.txt");
        for path in [&old, &fresh, &foreign] {
            std::fs::write(path, b"1234").unwrap();
        }
        let long_ago = SystemTime::now() - Duration::from_secs(90 * 24 * 3600);
        for path in [&old, &foreign] {
            let file = std::fs::File::options().write(true).open(path).unwrap();
            file.set_modified(long_ago).unwrap();
        }
        let cache = CompileCache::new(Some(dir.clone()));
        assert_eq!(cache.prune(Duration::from_secs(30 * 24 * 3600)), (1, 4));
        assert!(!old.exists() && fresh.exists() && foreign.exists());
        // Using an entry keeps it.
        let file = std::fs::File::options().write(true).open(&fresh).unwrap();
        file.set_modified(long_ago).unwrap();
        mark_used(&fresh);
        assert_eq!(cache.prune(Duration::from_secs(30 * 24 * 3600)), (0, 0));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
