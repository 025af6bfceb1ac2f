//! The on-disk compile cache: precompiled components keyed by the hash of
//! their bytes and the engine's compatibility hash, so a restart (or a second
//! host sharing the directory) deserializes in a fraction of a millisecond
//! instead of compiling again.
//!
//! A cache entry is native code the host will run, so it is trusted only
//! when it proves it was written by a host holding the cache key: each entry
//! ends with a keyed BLAKE3 MAC over its name and contents, checked before
//! the entry is deserialized (an entry swapped for another one, or altered,
//! is discarded and compiled again). A cache directory another user owns,
//! or that group or others may write, is not used at all: the host compiles
//! in memory and says why.

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
#[derive(Clone)]
pub struct CompileCache {
    dir: Option<PathBuf>,
    /// The key of the entries' MACs.
    mac_key: [u8; 32],
}

impl std::fmt::Debug for CompileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompileCache")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// Bumped whenever the cache file format or keying changes.
const CACHE_FORMAT: &str = "mcp-wasm-host-cwasm-v2";

/// Bytes of the MAC at the end of every entry.
const MAC_LEN: usize = 32;

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl CompileCache {
    /// A cache in `dir` whose entries carry MACs keyed with `mac_key`. A
    /// directory that is not private to this user is not used.
    pub fn new(dir: Option<PathBuf>, mac_key: [u8; 32]) -> Self {
        let dir = dir.filter(|dir| match ensure_private_dir(dir) {
            Ok(()) => true,
            Err(why) => {
                tracing::warn!(
                    "not using the compile cache {}: {why}; compiling in memory",
                    dir.display()
                );
                false
            }
        });
        Self { dir, mac_key }
    }

    fn mac(&self, name: &str, code: &[u8]) -> blake3::Hash {
        let mut hasher = blake3::Hasher::new_keyed(&self.mac_key);
        hasher.update(name.as_bytes());
        hasher.update(&[0]);
        hasher.update(code);
        hasher.finalize()
    }

    /// The precompiled code of entry `name` (`<key>.cwasm`) held in
    /// `bytes`, if its MAC proves this cache wrote it.
    fn verified<'a>(&self, name: &str, bytes: &'a [u8]) -> Option<&'a [u8]> {
        let split = bytes.len().checked_sub(MAC_LEN)?;
        let (code, mac) = bytes.split_at(split);
        let mac: [u8; MAC_LEN] = mac.try_into().ok()?;
        // `blake3::Hash` compares in constant time.
        (self.mac(name, code) == blake3::Hash::from(mac)).then_some(code)
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
        let name = format!("{}.cwasm", Self::key(engine, bytes));
        let path = dir.join(&name);
        if let Ok(entry) = std::fs::read(&path) {
            match self.verified(&name, &entry) {
                // SAFETY: the entry's MAC proves a host holding the cache
                // key wrote it with `precompile_component` of an engine with
                // the same compatibility hash (it is in the name).
                Some(code) => match unsafe { Component::deserialize(engine, code) } {
                    Ok(component) => {
                        mark_used(&path);
                        return Ok((component, CacheOutcome::Hit));
                    }
                    Err(e) => tracing::warn!(
                        path = %path.display(),
                        "discarding unusable compile-cache entry: {e}"
                    ),
                },
                None => tracing::warn!(
                    path = %path.display(),
                    "discarding a compile-cache entry that fails its integrity check \
                     (altered, or not written by a host holding this cache key)"
                ),
            }
        }
        let cwasm = engine.precompile_component(bytes)?;
        let mut entry = Vec::with_capacity(cwasm.len() + MAC_LEN);
        entry.extend_from_slice(&cwasm);
        entry.extend_from_slice(self.mac(&name, &cwasm).as_bytes());
        if let Err(e) = write_atomically(dir, &path, &entry) {
            tracing::warn!(dir = %dir.display(), "cannot write the compile cache: {e}");
        }
        // SAFETY: `cwasm` was produced just now by this engine.
        let component = unsafe { Component::deserialize(engine, &cwasm)? };
        Ok((component, CacheOutcome::Miss))
    }
}

/// Make sure `dir` is a directory only this user may write: create it
/// (mode 0700) when missing; refuse one owned by another user or writable
/// by group or others.
pub fn ensure_private_dir(dir: &Path) -> Result<(), String> {
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create it: {e}"))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| format!("cannot make it private: {e}"))?;
        }
        return Ok(());
    }
    let metadata = std::fs::metadata(dir).map_err(|e| e.to_string())?;
    if !metadata.is_dir() {
        return Err("it is not a directory".into());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let me = rustix::process::geteuid().as_raw();
        if metadata.uid() != me {
            return Err(format!(
                "it belongs to user {}, not to this host's user {me}",
                metadata.uid()
            ));
        }
        if metadata.mode() & 0o022 != 0 {
            return Err(format!(
                "group or others may write it (mode {:o}); `chmod go-w` it",
                metadata.mode() & 0o7777
            ));
        }
    }
    Ok(())
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
        let cache = CompileCache::new(Some(dir.clone()), [7; 32]);
        assert_eq!(cache.prune(Duration::from_secs(30 * 24 * 3600)), (1, 4));
        assert!(!old.exists() && fresh.exists() && foreign.exists());
        // Using an entry keeps it.
        let file = std::fs::File::options().write(true).open(&fresh).unwrap();
        file.set_modified(long_ago).unwrap();
        mark_used(&fresh);
        assert_eq!(cache.prune(Duration::from_secs(30 * 24 * 3600)), (0, 0));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn entries_verify_only_under_their_name_and_key() {
        let cache = CompileCache::new(None, [1; 32]);
        let code = b"precompiled".to_vec();
        let mut entry = code.clone();
        entry.extend_from_slice(cache.mac("a.cwasm", &code).as_bytes());
        assert_eq!(cache.verified("a.cwasm", &entry), Some(&code[..]));
        assert_eq!(
            cache.verified("b.cwasm", &entry),
            None,
            "moved to another name"
        );
        let other = CompileCache::new(None, [2; 32]);
        assert_eq!(other.verified("a.cwasm", &entry), None, "another key");
        let mut altered = entry.clone();
        altered[0] ^= 1;
        assert_eq!(cache.verified("a.cwasm", &altered), None);
        assert_eq!(cache.verified("a.cwasm", &entry[..10]), None, "truncated");
    }

    #[cfg(unix)]
    #[test]
    fn a_directory_others_may_write_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("mcp-wasm-host-open-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        ensure_private_dir(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = ensure_private_dir(&dir).unwrap_err();
        assert!(err.contains("group or others may write it"), "{err}");
        assert!(
            CompileCache::new(Some(dir.clone()), [0; 32])
                .dir()
                .is_none()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
