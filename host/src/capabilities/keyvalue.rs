//! The `mcp:plugin/keyvalue` interface and the store behind it: an embedded
//! SQLite database in the host's data directory, so values survive
//! restarts. Each plugin sees only its own entries, and only in the
//! namespaces its manifest declares and the policy grants.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};
use wasmtime::component::{HasSelf, Linker};

use super::client_requests::FacadeResult;
use crate::bindings::{keyvalue, types};
use crate::capabilities::Capability;
use crate::runtime::HostState;

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    keyvalue::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)
}

/// Largest key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// Largest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 1 << 20;
/// Most keys one `list-keys` returns.
pub const MAX_LISTED_KEYS: usize = 1000;

/// Why the store cannot be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the key-value store {}: {message}", path.display())]
pub struct StoreError {
    pub path: PathBuf,
    pub message: String,
}

/// The host's key-value database.
#[derive(Debug)]
pub struct KeyValueStore {
    connection: Mutex<Connection>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl KeyValueStore {
    /// Open (creating when missing) the database file `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let error = |message: String| StoreError {
            path: path.to_path_buf(),
            message,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| error(e.to_string()))?;
        }
        let connection = Connection::open(path).map_err(|e| error(e.to_string()))?;
        Self::init(connection).map_err(|e| error(e.to_string()))
    }

    /// A store that lives in memory only (tests, `--no-data-dir`).
    pub fn in_memory() -> Self {
        Self::init(Connection::open_in_memory().expect("an in-memory database opens"))
            .expect("the schema applies to an empty database")
    }

    fn init(connection: Connection) -> rusqlite::Result<Self> {
        connection.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             CREATE TABLE IF NOT EXISTS entries (
                 plugin TEXT NOT NULL,
                 namespace TEXT NOT NULL,
                 key TEXT NOT NULL,
                 value BLOB NOT NULL,
                 expires_ms INTEGER,
                 PRIMARY KEY (plugin, namespace, key)
             ) WITHOUT ROWID;",
        )?;
        Ok(Self {
            connection: Mutex::new(connection),
        })
    }

    fn with<R>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<R>) -> Result<R, String> {
        let connection = self.connection.lock().unwrap_or_else(|e| e.into_inner());
        f(&connection).map_err(|e| format!("the key-value store failed: {e}"))
    }

    pub fn get(&self, plugin: &str, namespace: &str, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.with(|c| {
            c.query_row(
                "SELECT value FROM entries WHERE plugin = ?1 AND namespace = ?2 AND key = ?3
                 AND (expires_ms IS NULL OR expires_ms > ?4)",
                params![plugin, namespace, key, now_ms()],
                |row| row.get(0),
            )
            .optional()
        })
    }

    pub fn set(
        &self,
        plugin: &str,
        namespace: &str,
        key: &str,
        value: &[u8],
        ttl_ms: Option<u64>,
    ) -> Result<(), String> {
        let expires = ttl_ms.map(|t| now_ms().saturating_add(t.min(i64::MAX as u64) as i64));
        self.with(|c| {
            c.execute(
                "INSERT INTO entries (plugin, namespace, key, value, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (plugin, namespace, key) DO UPDATE SET value = excluded.value, expires_ms = excluded.expires_ms",
                params![plugin, namespace, key, value, expires],
            )
            .map(|_| ())
        })
    }

    pub fn delete(&self, plugin: &str, namespace: &str, key: &str) -> Result<bool, String> {
        self.with(|c| {
            let live = c
                .query_row(
                    "SELECT 1 FROM entries WHERE plugin = ?1 AND namespace = ?2 AND key = ?3
                     AND (expires_ms IS NULL OR expires_ms > ?4)",
                    params![plugin, namespace, key, now_ms()],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            c.execute(
                "DELETE FROM entries WHERE plugin = ?1 AND namespace = ?2 AND key = ?3",
                params![plugin, namespace, key],
            )?;
            Ok(live)
        })
    }

    pub fn list_keys(
        &self,
        plugin: &str,
        namespace: &str,
        prefix: &str,
    ) -> Result<Vec<String>, String> {
        self.with(|c| {
            let mut statement = c.prepare_cached(
                "SELECT key FROM entries WHERE plugin = ?1 AND namespace = ?2
                 AND substr(key, 1, length(?3)) = ?3
                 AND (expires_ms IS NULL OR expires_ms > ?4) ORDER BY key LIMIT ?5",
            )?;
            let rows = statement.query_map(
                params![plugin, namespace, prefix, now_ms(), MAX_LISTED_KEYS as i64],
                |row| row.get(0),
            )?;
            rows.collect()
        })
    }

    /// Add `delta` to the decimal integer under `key`, in one transaction.
    pub fn increment(
        &self,
        plugin: &str,
        namespace: &str,
        key: &str,
        delta: i64,
    ) -> Result<Result<i64, String>, String> {
        let mut connection = self.connection.lock().unwrap_or_else(|e| e.into_inner());
        let run = |c: &mut Connection| -> rusqlite::Result<Result<i64, String>> {
            let tx = c.transaction()?;
            let current: Option<(Vec<u8>, Option<i64>)> = tx
                .query_row(
                    "SELECT value, expires_ms FROM entries WHERE plugin = ?1 AND namespace = ?2 AND key = ?3
                     AND (expires_ms IS NULL OR expires_ms > ?4)",
                    params![plugin, namespace, key, now_ms()],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()?;
            let (base, expires) = match current {
                None => (0, None),
                Some((bytes, expires)) => match std::str::from_utf8(&bytes)
                    .ok()
                    .and_then(|t| t.trim().parse::<i64>().ok())
                {
                    Some(n) => (n, expires),
                    None => {
                        return Ok(Err(format!(
                            "the value under `{key}` is not a decimal integer"
                        )));
                    }
                },
            };
            let Some(next) = base.checked_add(delta) else {
                return Ok(Err(format!("incrementing `{key}` by {delta} overflows")));
            };
            tx.execute(
                "INSERT INTO entries (plugin, namespace, key, value, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (plugin, namespace, key) DO UPDATE SET value = excluded.value, expires_ms = excluded.expires_ms",
                params![plugin, namespace, key, next.to_string().into_bytes(), expires],
            )?;
            tx.commit()?;
            Ok(Ok(next))
        };
        run(&mut connection).map_err(|e| format!("the key-value store failed: {e}"))
    }
}

impl HostState {
    /// The store, if the namespace is one the plugin may use.
    fn keyvalue(
        &self,
        namespace: &str,
        key: Option<&str>,
    ) -> Result<Arc<KeyValueStore>, types::FacadeError> {
        self.check_grant(Capability::KeyValue)?;
        if !self.grants.namespaces.iter().any(|n| n == namespace) {
            super::super::runtime::PluginCounters::bump(&self.counters.denials);
            return Err(types::FacadeError::Denied(format!(
                "namespace `{namespace}` is not among the plugin's key-value namespaces ({})",
                self.grants.namespaces.join(", ")
            )));
        }
        if let Some(key) = key
            && (key.is_empty() || key.len() > MAX_KEY_BYTES)
        {
            return Err(types::FacadeError::InvalidInput(format!(
                "a key must be 1 to {MAX_KEY_BYTES} bytes"
            )));
        }
        self.services
            .keyvalue
            .clone()
            .ok_or_else(|| types::FacadeError::Failed("the host has no key-value store".into()))
    }
}

fn failed(message: String) -> types::FacadeError {
    types::FacadeError::Failed(message)
}

impl keyvalue::Host for HostState {
    async fn get(&mut self, namespace: String, key: String) -> FacadeResult<Option<Vec<u8>>> {
        Ok(self
            .keyvalue(&namespace, Some(&key))
            .and_then(|s| s.get(&self.plugin, &namespace, &key).map_err(failed)))
    }

    async fn set(
        &mut self,
        namespace: String,
        key: String,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    ) -> FacadeResult<()> {
        if value.len() > MAX_VALUE_BYTES {
            return Ok(Err(types::FacadeError::InvalidInput(format!(
                "a value may have at most {MAX_VALUE_BYTES} bytes"
            ))));
        }
        Ok(self.keyvalue(&namespace, Some(&key)).and_then(|s| {
            s.set(&self.plugin, &namespace, &key, &value, ttl_ms)
                .map_err(failed)
        }))
    }

    async fn delete(&mut self, namespace: String, key: String) -> FacadeResult<bool> {
        Ok(self
            .keyvalue(&namespace, Some(&key))
            .and_then(|s| s.delete(&self.plugin, &namespace, &key).map_err(failed)))
    }

    async fn list_keys(&mut self, namespace: String, prefix: String) -> FacadeResult<Vec<String>> {
        Ok(self.keyvalue(&namespace, None).and_then(|s| {
            s.list_keys(&self.plugin, &namespace, &prefix)
                .map_err(failed)
        }))
    }

    async fn increment(&mut self, namespace: String, key: String, delta: i64) -> FacadeResult<i64> {
        Ok(self.keyvalue(&namespace, Some(&key)).and_then(|s| {
            s.increment(&self.plugin, &namespace, &key, delta)
                .map_err(failed)?
                .map_err(types::FacadeError::InvalidInput)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_private_expire_and_count() {
        let store = KeyValueStore::in_memory();
        store.set("a", "ns", "k", b"v", None).unwrap();
        assert_eq!(
            store.get("a", "ns", "k").unwrap().as_deref(),
            Some(&b"v"[..])
        );
        assert_eq!(store.get("b", "ns", "k").unwrap(), None, "another plugin");
        assert_eq!(
            store.get("a", "other", "k").unwrap(),
            None,
            "another namespace"
        );
        store.set("a", "ns", "gone", b"x", Some(0)).unwrap();
        assert_eq!(store.get("a", "ns", "gone").unwrap(), None);
        assert_eq!(
            store.list_keys("a", "ns", "").unwrap(),
            vec!["k".to_string()]
        );
        assert_eq!(store.increment("a", "ns", "n", 2).unwrap(), Ok(2));
        assert_eq!(store.increment("a", "ns", "n", -5).unwrap(), Ok(-3));
        assert!(
            store.increment("a", "ns", "k", 1).unwrap().is_err(),
            "not an integer"
        );
        assert!(store.delete("a", "ns", "k").unwrap());
        assert!(!store.delete("a", "ns", "k").unwrap());
    }

    #[test]
    fn values_survive_reopening_the_file() {
        let dir = std::env::temp_dir().join(format!("kv-{}", std::process::id()));
        let path = dir.join("keyvalue.sqlite3");
        let _ = std::fs::remove_dir_all(&dir);
        KeyValueStore::open(&path)
            .unwrap()
            .set("p", "ns", "k", b"kept", None)
            .unwrap();
        let reopened = KeyValueStore::open(&path).unwrap();
        assert_eq!(
            reopened.get("p", "ns", "k").unwrap().as_deref(),
            Some(&b"kept"[..])
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
