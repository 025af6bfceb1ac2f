//! The on-disk compile cache: precompiled components keyed by the hash of
//! their bytes and the engine's compatibility hash, so a restart (or a second
//! host sharing the directory) deserializes in a fraction of a millisecond
//! instead of compiling again.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

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
                Ok(component) => return Ok((component, CacheOutcome::Hit)),
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
