//! `plugins.lock`: the digests of every plugin pulled into a directory,
//! so a later pull (`--locked`) or an inspection can tell whether the
//! bytes are still the ones first pulled.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::PluginDigests;

/// The lock file's name in the plugin directory.
pub const LOCK_FILE: &str = "plugins.lock";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockFile {
    #[serde(default, rename = "plugin")]
    pub entries: Vec<LockEntry>,
}

/// One pulled plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockEntry {
    /// The file stem in the plugin directory.
    pub name: String,
    /// The reference it was pulled by (repository and tag or digest).
    pub reference: String,
    /// The artifact's manifest digest in the registry.
    pub digest: String,
    pub component: String,
    pub manifest: String,
}

/// How a plugin's files compare with the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockState {
    /// No lock entry names it.
    NotLocked,
    /// The files are those pulled as `digest`.
    Matches { reference: String, digest: String },
    /// The files differ from what was pulled.
    Differs { reference: String, what: String },
}

impl std::fmt::Display for LockState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockState::NotLocked => write!(f, "not in {LOCK_FILE}"),
            LockState::Matches { reference, digest } => {
                write!(f, "matches {LOCK_FILE} ({reference}, {digest})")
            }
            LockState::Differs { reference, what } => {
                write!(f, "differs from {LOCK_FILE} ({reference}): {what}")
            }
        }
    }
}

/// Why the lock file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl LockFile {
    pub fn path_in(dir: &Path) -> PathBuf {
        dir.join(LOCK_FILE)
    }

    /// The lock of `dir`; empty when there is none.
    pub fn load(dir: &Path) -> Result<Self, LockError> {
        let path = Self::path_in(dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => return Err(LockError::Read { path, source }),
        };
        toml::from_str(&text).map_err(|e| LockError::Invalid {
            message: crate::manifest::describe_toml_error(&text, &e),
            path,
        })
    }

    pub fn entry(&self, name: &str) -> Option<&LockEntry> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// Record `entry` (replacing the one of the same name) and write the
    /// lock into `dir`.
    pub fn record(dir: &Path, entry: LockEntry) -> Result<(), LockError> {
        let mut lock = Self::load(dir)?;
        lock.entries.retain(|e| e.name != entry.name);
        lock.entries.push(entry);
        lock.entries.sort_by(|a, b| a.name.cmp(&b.name));
        let path = Self::path_in(dir);
        let text = toml::to_string_pretty(&lock).map_err(|e| LockError::Invalid {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let text = format!("# Written by `mcp-wasm-host plugin pull`; commit it.\n{text}");
        super::write_atomically(&path, text.as_bytes())
            .map_err(|source| LockError::Write { path, source })
    }

    /// How plugin `name`'s files, with `digests`, compare with the lock.
    pub fn state(&self, name: &str, digests: &PluginDigests) -> LockState {
        let Some(entry) = self.entry(name) else {
            return LockState::NotLocked;
        };
        let mut differs = Vec::new();
        if entry.component != digests.component {
            differs.push(format!(
                "component {} (locked {})",
                digests.component, entry.component
            ));
        }
        if entry.manifest != digests.manifest {
            differs.push(format!(
                "manifest {} (locked {})",
                digests.manifest, entry.manifest
            ));
        }
        if differs.is_empty() {
            LockState::Matches {
                reference: entry.reference.clone(),
                digest: entry.digest.clone(),
            }
        } else {
            LockState::Differs {
                reference: entry.reference.clone(),
                what: differs.join("; "),
            }
        }
    }
}
