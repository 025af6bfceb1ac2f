//! The on-disk compile cache: precompiled components keyed by the hash of
//! their bytes and the engine's compatibility hash, so a restart (or a second
//! host sharing the directory) deserializes in a fraction of a millisecond
//! instead of compiling again.
//!
//! A cache entry (`<key>.cwasm`) is native code the host will run, so it is
//! trusted only when it proves a host holding the cache key wrote it: its
//! seal (`<key>.mac`) holds a keyed BLAKE3 MAC over the entry's name and
//! contents, checked before the entry is deserialized (an entry swapped for
//! another one, or altered, is discarded and compiled again). Hashing a
//! language runtime's tens of megabytes at every start would cost more than
//! the rest of the start, so the seal also holds a MAC over the file's
//! identity as the kernel reports it (device, inode, size, change time):
//! while that matches, the contents are the ones verified; any write to the
//! file changes its change time, and the contents are hashed again. Entries
//! and seals are created 0600; a cache directory another user owns, or that
//! group or others may write, is not used at all: the host compiles in
//! memory and says why. A seal's modification time records the entry's last
//! use, for pruning.
//!
//! Plugins whose components have the same bytes share one compiled
//! component while any of them is loaded: its code and memory images are
//! loaded once, however many names it is served under.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use wasmtime::Engine;
use wasmtime::component::Component;

/// Where a compiled component came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Already loaded for another plugin with the same bytes, and shared.
    Shared,
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
    /// The compiled components plugins hold now, by cache key: plugins
    /// with the same bytes share one (its code and memory images), and a
    /// component no plugin holds any more is dropped.
    in_use: Arc<Mutex<HashMap<String, Weak<Component>>>>,
    /// The engine's compatibility hash, part of every key.
    compat: std::sync::OnceLock<u64>,
}

impl std::fmt::Debug for CompileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompileCache")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// Bumped whenever the cache file format or keying changes.
const CACHE_FORMAT: &str = "mcp-wasm-host-cwasm-v3";

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
        Self {
            dir,
            mac_key,
            in_use: Arc::default(),
            compat: std::sync::OnceLock::new(),
        }
    }

    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The cache key of a component (by the BLAKE3 hash of its bytes) for
    /// `engine`: content hash plus engine compatibility hash (wasmtime
    /// version, target, and compiler settings), the latter worked out once.
    fn key(&self, engine: &Engine, component_hash: &blake3::Hash) -> String {
        let compat = *self.compat.get_or_init(|| {
            let mut compat = std::hash::DefaultHasher::new();
            engine.precompile_compatibility_hash().hash(&mut compat);
            compat.finish()
        });
        let mut h = blake3::Hasher::new();
        h.update(CACHE_FORMAT.as_bytes());
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        h.update(&compat.to_le_bytes());
        h.update(component_hash.as_bytes());
        h.finalize().to_hex()[..40].to_string()
    }

    fn mac(&self, name: &str, code: &[u8]) -> blake3::Hash {
        let mut hasher = blake3::Hasher::new_keyed(&self.mac_key);
        hasher.update(b"contents\0");
        hasher.update(name.as_bytes());
        hasher.update(&[0]);
        hasher.update(code);
        hasher.finalize()
    }

    /// The MAC binding `contents_mac` to one file as the kernel knows it.
    fn identity_mac(&self, name: &str, contents_mac: &[u8], file: &std::fs::Metadata) -> [u8; 32] {
        let mut hasher = blake3::Hasher::new_keyed(&self.mac_key);
        hasher.update(b"identity\0");
        hasher.update(name.as_bytes());
        hasher.update(&[0]);
        hasher.update(contents_mac);
        hasher.update(&file_identity(file));
        *hasher.finalize().as_bytes()
    }

    /// The seal of entry `name` for the open file `file`: the contents MAC
    /// and the identity MAC.
    fn seal(&self, name: &str, contents_mac: blake3::Hash, file: &std::fs::Metadata) -> Vec<u8> {
        let mut seal = contents_mac.as_bytes().to_vec();
        seal.extend_from_slice(&self.identity_mac(name, contents_mac.as_bytes(), file));
        seal
    }

    /// Whether the entry `name`, open as `file`, is what a host holding the
    /// key wrote, by its seal at `seal_path`. Re-seals an entry whose
    /// identity changed but whose contents verify (a copied cache).
    fn verify(&self, name: &str, file: &mut std::fs::File, seal_path: &Path) -> bool {
        use std::io::Read as _;
        let Ok(seal) = std::fs::read(seal_path) else {
            return false;
        };
        let Ok(metadata) = file.metadata() else {
            return false;
        };
        let Some((contents_mac, identity)) = seal.split_at_checked(MAC_LEN) else {
            return false;
        };
        if identity.len() != MAC_LEN {
            return false;
        }
        let expected = self.identity_mac(name, contents_mac, &metadata);
        // `blake3::Hash` compares in constant time.
        if blake3::Hash::from(expected)
            == blake3::Hash::from_slice(identity).unwrap_or(blake3::Hash::from([0; 32]))
        {
            return true;
        }
        let mut code = Vec::with_capacity(metadata.len() as usize);
        if file.read_to_end(&mut code).is_err() {
            return false;
        }
        let Ok(stored) = blake3::Hash::from_slice(contents_mac) else {
            return false;
        };
        if self.mac(name, &code) != stored {
            return false;
        }
        if let Err(e) = write_atomically(
            seal_path.parent().unwrap_or(Path::new(".")),
            seal_path,
            &self.seal(name, stored, &metadata),
        ) {
            tracing::debug!("cannot renew the seal {}: {e}", seal_path.display());
        }
        true
    }

    /// Compile `bytes`, the component of plugin `name`, or load the
    /// precompiled artifact from the cache. Cache failures never fail the
    /// load: they are logged and the component is compiled in memory
    /// instead. Compiling (not loading) is traced.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        name: &str,
        bytes: &[u8],
    ) -> wasmtime::Result<(Arc<Component>, CacheOutcome)> {
        self.load_or_compile_hashed(engine, name, bytes, &blake3::hash(bytes))
    }

    /// [`load_or_compile`](Self::load_or_compile) of bytes whose BLAKE3
    /// hash is `component_hash`.
    pub fn load_or_compile_hashed(
        &self,
        engine: &Engine,
        name: &str,
        bytes: &[u8],
        component_hash: &blake3::Hash,
    ) -> wasmtime::Result<(Arc<Component>, CacheOutcome)> {
        let key = self.key(engine, component_hash);
        let in_use = |map: &HashMap<String, Weak<Component>>| map.get(&key).and_then(Weak::upgrade);
        if let Some(shared) = in_use(&self.in_use.lock().unwrap_or_else(|e| e.into_inner())) {
            return Ok((shared, CacheOutcome::Shared));
        }
        let (component, outcome) = self.load_or_compile_anew(engine, name, bytes, &key)?;
        let mut map = self.in_use.lock().unwrap_or_else(|e| e.into_inner());
        // Another plugin with these bytes may have loaded them meanwhile.
        if let Some(shared) = in_use(&map) {
            return Ok((shared, CacheOutcome::Shared));
        }
        map.retain(|_, held| held.strong_count() > 0);
        let component = Arc::new(component);
        map.insert(key, Arc::downgrade(&component));
        Ok((component, outcome))
    }

    fn load_or_compile_anew(
        &self,
        engine: &Engine,
        name: &str,
        bytes: &[u8],
        key: &str,
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        let Some(dir) = &self.dir else {
            let _span = crate::telemetry::spans::compile(name);
            return Ok((Component::new(engine, bytes)?, CacheOutcome::Disabled));
        };
        let plugin = name;
        let name = format!("{key}.cwasm");
        let path = dir.join(&name);
        let seal_path = dir.join(format!("{key}.mac"));
        if let Ok(mut file) = std::fs::File::open(&path) {
            if self.verify(&name, &mut file, &seal_path) {
                // Loaded through the descriptor just verified, so a file
                // renamed into its place meanwhile is not the one loaded.
                let opened = opened_path(&file, &path);
                // SAFETY: the seal proves a host holding the cache key wrote
                // this file with `precompile_component` of an engine with the
                // same compatibility hash (it is in the name), and only this
                // user may write it (0600, in a private directory).
                match unsafe { Component::deserialize_file(engine, &opened) } {
                    Ok(component) => {
                        mark_used(&seal_path);
                        return Ok((component, CacheOutcome::Hit));
                    }
                    Err(e) => tracing::warn!(
                        path = %path.display(),
                        "discarding unusable compile-cache entry: {e}"
                    ),
                }
            } else {
                tracing::warn!(
                    path = %path.display(),
                    "discarding a compile-cache entry that fails its integrity check \
                     (altered, or not written by a host holding this cache key)"
                );
            }
        }
        let compiling = crate::telemetry::spans::compile(plugin);
        let cwasm = engine.precompile_component(bytes)?;
        drop(compiling);
        let written = write_atomically(dir, &path, &cwasm)
            .and_then(|()| std::fs::metadata(&path))
            .and_then(|metadata| {
                let seal = self.seal(&name, self.mac(&name, &cwasm), &metadata);
                write_atomically(dir, &seal_path, &seal)
            });
        if let Err(e) = written {
            tracing::warn!(dir = %dir.display(), "cannot write the compile cache: {e}");
        }
        // SAFETY: `cwasm` was produced just now by this engine.
        let component = unsafe { Component::deserialize(engine, &cwasm)? };
        Ok((component, CacheOutcome::Miss))
    }
}

/// What identifies one version of a file: device, inode, size and change
/// time (which every write and rename updates, and which only the kernel
/// sets).
fn file_identity(metadata: &std::fs::Metadata) -> Vec<u8> {
    let mut out = Vec::with_capacity(40);
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        for n in [
            metadata.dev(),
            metadata.ino(),
            metadata.size(),
            metadata.ctime() as u64,
            metadata.ctime_nsec() as u64,
        ] {
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
    #[cfg(not(unix))]
    {
        // Without a change time, every use hashes the contents.
        out.extend_from_slice(&metadata.len().to_le_bytes());
        let mut nonce = [0u8; 16];
        let _ = getrandom::fill(&mut nonce);
        out.extend_from_slice(&nonce);
    }
    out
}

/// A path that names the open `file` itself (Linux), else `path`.
fn opened_path(file: &std::fs::File, path: &Path) -> PathBuf {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let by_descriptor = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
        if by_descriptor.exists() {
            return by_descriptor;
        }
    }
    let _ = file;
    path.to_path_buf()
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
        let stale = |path: &Path| {
            std::fs::metadata(path)
                .and_then(|m| m.modified())
                .is_ok_and(|m| m < oldest)
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let ours =
                name.ends_with(".cwasm") || name.ends_with(".mac") || name.starts_with(".tmp-");
            let Ok(metadata) = entry.metadata() else {
                continue;
            };
            // An entry's last use is its seal's modification time.
            let seal = path.with_extension("mac");
            let unused = if name.ends_with(".cwasm") && seal.exists() {
                stale(&seal)
            } else {
                stale(&path)
            };
            if ours && metadata.is_file() && unused && std::fs::remove_file(&path).is_ok() {
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
    {
        use std::io::Write as _;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        options.open(&tmp)?.write_all(bytes)?;
    }
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
    fn plugins_with_the_same_bytes_share_one_compiled_component_while_loaded() {
        // An empty component: the magic number and the component layer.
        const EMPTY: &[u8] = &[0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
        let engine = Engine::default();
        let cache = CompileCache::new(None, [2; 32]);
        let (first, outcome) = cache.load_or_compile(&engine, "a", EMPTY).unwrap();
        assert_eq!(outcome, CacheOutcome::Disabled);
        let (second, outcome) = cache.load_or_compile(&engine, "b", EMPTY).unwrap();
        assert_eq!(outcome, CacheOutcome::Shared);
        assert!(Arc::ptr_eq(&first, &second));
        drop((first, second));
        let (_, outcome) = cache.load_or_compile(&engine, "c", EMPTY).unwrap();
        assert_eq!(
            outcome,
            CacheOutcome::Disabled,
            "compiled again once no plugin held it"
        );
    }

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
        // Using an entry (which touches its seal) keeps it.
        let file = std::fs::File::options().write(true).open(&fresh).unwrap();
        file.set_modified(long_ago).unwrap();
        let seal = dir.join("fresh.mac");
        std::fs::write(&seal, b"seal").unwrap();
        mark_used(&seal);
        assert_eq!(cache.prune(Duration::from_secs(30 * 24 * 3600)), (0, 0));
        assert!(fresh.exists() && seal.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn entries_verify_only_under_their_name_key_and_contents() {
        let dir = std::env::temp_dir().join(format!("mcp-wasm-host-seal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cache = CompileCache::new(Some(dir.clone()), [1; 32]);
        let (entry, seal) = (dir.join("a.cwasm"), dir.join("a.mac"));
        write_atomically(&dir, &entry, b"precompiled").unwrap();
        let metadata = std::fs::metadata(&entry).unwrap();
        let sealed = cache.seal("a.cwasm", cache.mac("a.cwasm", b"precompiled"), &metadata);
        write_atomically(&dir, &seal, &sealed).unwrap();
        let open = || std::fs::File::open(&entry).unwrap();
        assert!(cache.verify("a.cwasm", &mut open(), &seal));
        assert!(!cache.verify("b.cwasm", &mut open(), &seal), "another name");
        let other = CompileCache::new(Some(dir.clone()), [2; 32]);
        assert!(!other.verify("a.cwasm", &mut open(), &seal), "another key");
        // A copy (another inode) with the same contents verifies and is
        // sealed anew.
        std::fs::write(dir.join("copy"), b"precompiled").unwrap();
        std::fs::rename(dir.join("copy"), &entry).unwrap();
        assert!(cache.verify("a.cwasm", &mut open(), &seal));
        assert_ne!(std::fs::read(&seal).unwrap(), sealed, "sealed anew");
        // Altered contents do not.
        std::fs::write(&entry, b"precompilex").unwrap();
        assert!(!cache.verify("a.cwasm", &mut open(), &seal));
        std::fs::write(&seal, b"short").unwrap();
        assert!(
            !cache.verify("a.cwasm", &mut open(), &seal),
            "a broken seal"
        );
        std::fs::remove_dir_all(&dir).unwrap();
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
