//! The embedded state backend: one SQLite database file (or an in-memory
//! database when the host has no data directory). One connection behind a
//! mutex; every operation is a short statement or transaction.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{Bucket, Namespace, OpenError, StateError, StateOptions, StateStore, millis, now_ms};

/// State in SQLite.
#[derive(Debug)]
pub struct SqliteStore {
    connection: Mutex<Connection>,
    options: StateOptions,
    location: String,
}

const SCHEMA: &str = "
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = NORMAL;
    PRAGMA busy_timeout = 5000;
    CREATE TABLE IF NOT EXISTS entries (
        plugin TEXT NOT NULL,
        namespace TEXT NOT NULL,
        key TEXT NOT NULL,
        value BLOB NOT NULL,
        expires_ms INTEGER,
        PRIMARY KEY (plugin, namespace, key)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS session_scopes (
        scope TEXT PRIMARY KEY,
        used_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS session_scopes_by_use ON session_scopes (used_ms);
    CREATE TABLE IF NOT EXISTS session_entries (
        scope TEXT NOT NULL,
        plugin TEXT NOT NULL,
        key TEXT NOT NULL,
        value BLOB NOT NULL,
        PRIMARY KEY (scope, plugin, key)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS kv_usage (
        plugin TEXT PRIMARY KEY,
        entries INTEGER NOT NULL,
        bytes INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TRIGGER IF NOT EXISTS kv_usage_on_insert AFTER INSERT ON entries BEGIN
        INSERT OR IGNORE INTO kv_usage (plugin, entries, bytes) VALUES (NEW.plugin, 0, 0);
        UPDATE kv_usage SET entries = entries + 1,
            bytes = bytes + length(CAST(NEW.key AS BLOB)) + length(NEW.value)
            WHERE plugin = NEW.plugin;
    END;
    CREATE TRIGGER IF NOT EXISTS kv_usage_on_update AFTER UPDATE ON entries BEGIN
        UPDATE kv_usage SET
            bytes = bytes + length(NEW.value) - length(OLD.value)
            WHERE plugin = NEW.plugin;
    END;
    CREATE TRIGGER IF NOT EXISTS kv_usage_on_delete AFTER DELETE ON entries BEGIN
        UPDATE kv_usage SET entries = entries - 1,
            bytes = bytes - length(CAST(OLD.key AS BLOB)) - length(OLD.value)
            WHERE plugin = OLD.plugin;
    END;";

/// Scopes gained an owner; a file from before has none (`''`).
const ADD_SCOPE_OWNERS: &str = "
    ALTER TABLE session_scopes ADD COLUMN owner TEXT NOT NULL DEFAULT '';";
const INDEX_SCOPE_OWNERS: &str = "
    CREATE INDEX IF NOT EXISTS session_scopes_by_owner ON session_scopes (owner, used_ms);";

/// Recount every plugin's key-value usage from its entries (the triggers
/// keep it from then on; a file written before they existed is counted
/// right this way).
const RECOUNT_USAGE: &str = "
    DELETE FROM kv_usage;
    INSERT INTO kv_usage (plugin, entries, bytes)
        SELECT plugin, count(*), COALESCE(SUM(length(CAST(key AS BLOB)) + length(value)), 0)
        FROM entries GROUP BY plugin;";

/// Bring a database (new, or written by an older host) to the schema.
fn prepare(connection: &Connection) -> rusqlite::Result<()> {
    connection.execute_batch(SCHEMA)?;
    let has_owners: bool = connection.query_row(
        "SELECT count(*) FROM pragma_table_info('session_scopes') WHERE name = 'owner'",
        [],
        |row| row.get::<_, i64>(0).map(|n| n > 0),
    )?;
    if !has_owners {
        connection.execute_batch(ADD_SCOPE_OWNERS)?;
    }
    connection.execute_batch(INDEX_SCOPE_OWNERS)?;
    connection.execute_batch(RECOUNT_USAGE)
}

fn backend(e: rusqlite::Error) -> StateError {
    StateError::Backend(e.to_string())
}

impl SqliteStore {
    /// Open (creating when missing) the database file `path`.
    pub fn open(path: &Path, options: StateOptions) -> Result<Self, OpenError> {
        let error = |message: String| OpenError {
            backend: "SQLite",
            location: path.display().to_string(),
            message,
        };
        if let Some(dir) = path.parent()
            && !dir.exists()
        {
            std::fs::create_dir_all(dir).map_err(|e| error(e.to_string()))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                    .map_err(|e| error(e.to_string()))?;
            }
        }
        let connection = Connection::open(path).map_err(|e| error(e.to_string()))?;
        prepare(&connection).map_err(|e| error(e.to_string()))?;
        // Plugins' state is the operator's data: readable by the host's
        // user only (the journal files too).
        #[cfg(unix)]
        for suffix in ["", "-wal", "-shm", "-journal"] {
            use std::os::unix::fs::PermissionsExt;
            let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
            if file.exists() {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| error(e.to_string()))?;
            }
        }
        Ok(Self {
            connection: Mutex::new(connection),
            options,
            location: path.display().to_string(),
        })
    }

    /// A store that lives in memory only.
    pub fn in_memory(options: StateOptions) -> Self {
        let connection = Connection::open_in_memory().expect("an in-memory database opens");
        prepare(&connection).expect("the schema applies to an empty database");
        Self {
            connection: Mutex::new(connection),
            options,
            location: "in memory".into(),
        }
    }

    fn transaction<R>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<R, StateError>,
    ) -> Result<R, StateError> {
        let mut connection = self.connection.lock().unwrap_or_else(|e| e.into_inner());
        let tx = connection.transaction().map_err(backend)?;
        let result = f(&tx)?;
        tx.commit().map_err(backend)?;
        Ok(result)
    }

    /// Mark `scope` used now; a scope idle too long is emptied first. Only
    /// a write (`creating`) adds a scope, which `owner` then holds; beyond
    /// the owner's cap it gives up its own least recently used scope, and
    /// beyond the store's cap the owner holding the most gives up one.
    fn touch(
        &self,
        tx: &Transaction<'_>,
        owner: &str,
        scope: &str,
        creating: bool,
    ) -> Result<(), StateError> {
        let now = now_ms();
        let used: Option<i64> = tx
            .query_row(
                "SELECT used_ms FROM session_scopes WHERE scope = ?1",
                params![scope],
                |row| row.get(0),
            )
            .optional()
            .map_err(backend)?;
        let idle = millis(self.options.session_idle);
        match used {
            Some(used) if now.saturating_sub(used) <= idle => {
                // Writing on every read costs; a second's precision (finer
                // for short idle times) will do.
                if now - used >= (idle / 4).min(1000) {
                    tx.execute(
                        "UPDATE session_scopes SET used_ms = ?2 WHERE scope = ?1",
                        params![scope, now],
                    )
                    .map_err(backend)?;
                }
                return Ok(());
            }
            Some(_) => {
                tx.execute(
                    "DELETE FROM session_entries WHERE scope = ?1",
                    params![scope],
                )
                .map_err(backend)?;
                if !creating {
                    Self::forget_scope(tx, scope)?;
                    return Ok(());
                }
            }
            None if !creating => return Ok(()),
            None => {}
        }
        tx.execute(
            "INSERT INTO session_scopes (scope, used_ms, owner) VALUES (?1, ?2, ?3)
             ON CONFLICT (scope) DO UPDATE SET used_ms = excluded.used_ms",
            params![scope, now, owner],
        )
        .map_err(backend)?;
        if used.is_some() {
            return Ok(());
        }
        let count = |sql: &str, params: &[&dyn rusqlite::ToSql]| -> Result<usize, StateError> {
            tx.query_row(sql, params, |row| row.get::<_, i64>(0))
                .map(|n| n as usize)
                .map_err(backend)
        };
        // The oldest scope of `owner` other than the new one.
        let oldest_of = |owner: &str| -> Result<Option<String>, StateError> {
            tx.query_row(
                "SELECT scope FROM session_scopes WHERE owner = ?1 AND scope <> ?2
                 ORDER BY used_ms LIMIT 1",
                params![owner, scope],
                |row| row.get(0),
            )
            .optional()
            .map_err(backend)
        };
        if !owner.is_empty()
            && count(
                "SELECT count(*) FROM session_scopes WHERE owner = ?1",
                params![owner],
            )? > self.options.max_scopes_per_owner.max(1)
            && let Some(oldest) = oldest_of(owner)?
        {
            Self::forget_scope(tx, &oldest)?;
        }
        while count("SELECT count(*) FROM session_scopes", params![])? > self.options.max_scopes {
            let top: String = tx
                .query_row(
                    "SELECT owner FROM session_scopes GROUP BY owner
                     ORDER BY count(*) DESC, min(used_ms) LIMIT 1",
                    [],
                    |row| row.get(0),
                )
                .map_err(backend)?;
            let victim = match oldest_of(&top)? {
                Some(victim) => victim,
                // The newcomer's owner holds only the new scope: the
                // oldest of all goes.
                None => tx
                    .query_row(
                        "SELECT scope FROM session_scopes WHERE scope <> ?1 ORDER BY used_ms LIMIT 1",
                        params![scope],
                        |row| row.get(0),
                    )
                    .map_err(backend)?,
            };
            Self::forget_scope(tx, &victim)?;
        }
        Ok(())
    }

    fn forget_scope(tx: &Transaction<'_>, scope: &str) -> Result<(), StateError> {
        tx.execute(
            "DELETE FROM session_entries WHERE scope = ?1",
            params![scope],
        )
        .map_err(backend)?;
        tx.execute(
            "DELETE FROM session_scopes WHERE scope = ?1",
            params![scope],
        )
        .map(|_| ())
        .map_err(backend)
    }

    fn kv_get(tx: &Transaction<'_>, plugin: &str, namespace: &str, key: &str) -> LiveEntry {
        tx.query_row(
            "SELECT value, expires_ms FROM entries WHERE plugin = ?1 AND namespace = ?2 AND key = ?3
             AND (expires_ms IS NULL OR expires_ms > ?4)",
            params![plugin, namespace, key, now_ms()],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
        .map_err(backend)
    }

    /// Write an entry, within the plugin's `quota`: a write that would
    /// grow its usage past it first drops the plugin's expired entries,
    /// then is refused if it still does not fit.
    fn kv_put(
        tx: &Transaction<'_>,
        target: Namespace<'_>,
        key: &str,
        value: &[u8],
        expires_ms: Option<i64>,
    ) -> Result<(), StateError> {
        let Namespace {
            plugin,
            name: namespace,
            quota,
        } = target;
        let replaced: Option<u64> = tx
            .query_row(
                "SELECT length(value) FROM entries WHERE plugin = ?1 AND namespace = ?2 AND key = ?3",
                params![plugin, namespace, key],
                |row| row.get(0),
            )
            .optional()
            .map_err(backend)?;
        let size = (key.len() + value.len()) as u64;
        let usage = |tx: &Transaction<'_>| -> Result<(u64, u64), StateError> {
            tx.query_row(
                "SELECT entries, bytes FROM kv_usage WHERE plugin = ?1",
                params![plugin],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map(Option::unwrap_or_default)
            .map_err(backend)
        };
        let after = |(entries, bytes): (u64, u64)| match replaced {
            Some(old) => (entries, (bytes + value.len() as u64).saturating_sub(old)),
            None => (entries + 1, bytes + size),
        };
        let before = usage(tx)?;
        let (entries, bytes) = after(before);
        let grows = entries > before.0 || bytes > before.1;
        if grows && StateError::over_quota(quota, entries, bytes).is_some() {
            tx.execute(
                "DELETE FROM entries WHERE plugin = ?1 AND expires_ms IS NOT NULL AND expires_ms <= ?2
                 AND NOT (namespace = ?3 AND key = ?4)",
                params![plugin, now_ms(), namespace, key],
            )
            .map_err(backend)?;
            let (entries, bytes) = after(usage(tx)?);
            if let Some(over) = StateError::over_quota(quota, entries, bytes) {
                return Err(over);
            }
        }
        tx.execute(
            "INSERT INTO entries (plugin, namespace, key, value, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (plugin, namespace, key)
             DO UPDATE SET value = excluded.value, expires_ms = excluded.expires_ms",
            params![plugin, namespace, key, value, expires_ms],
        )
        .map(|_| ())
        .map_err(backend)
    }
}

/// A live key-value entry: its value and expiry.
type LiveEntry = Result<Option<(Vec<u8>, Option<i64>)>, StateError>;

#[async_trait::async_trait]
impl StateStore for SqliteStore {
    fn describe(&self) -> String {
        format!("SQLite ({})", self.location)
    }

    async fn get(&self, bucket: Bucket<'_>, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        self.transaction(|tx| match bucket {
            Bucket::KeyValue {
                plugin, namespace, ..
            } => Ok(Self::kv_get(tx, plugin, namespace, key)?.map(|(value, _)| value)),
            Bucket::Session {
                owner,
                scope,
                plugin,
            } => {
                self.touch(tx, owner, scope, false)?;
                tx.query_row(
                    "SELECT value FROM session_entries WHERE scope = ?1 AND plugin = ?2 AND key = ?3",
                    params![scope, plugin, key],
                    |row| row.get(0),
                )
                .optional()
                .map_err(backend)
            }
        })
    }

    async fn set(
        &self,
        bucket: Bucket<'_>,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<(), StateError> {
        self.transaction(|tx| match bucket {
            Bucket::KeyValue { .. } => {
                let expires = ttl.map(|t| now_ms().saturating_add(millis(t)));
                Self::kv_put(tx, bucket.namespace()?, key, value, expires)
            }
            Bucket::Session {
                owner,
                scope,
                plugin,
            } => {
                self.touch(tx, owner, scope, true)?;
                let others: i64 = tx
                    .query_row(
                        "SELECT COALESCE(SUM(length(CAST(key AS BLOB)) + length(value)), 0)
                         FROM session_entries WHERE scope = ?1 AND plugin = ?2 AND key <> ?3",
                        params![scope, plugin, key],
                        |row| row.get(0),
                    )
                    .map_err(backend)?;
                let budget = self.options.session_budget;
                if others as usize + key.len() + value.len() > budget {
                    return Err(StateError::OverBudget { budget });
                }
                tx.execute(
                    "INSERT INTO session_entries (scope, plugin, key, value) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (scope, plugin, key) DO UPDATE SET value = excluded.value",
                    params![scope, plugin, key, value],
                )
                .map(|_| ())
                .map_err(backend)
            }
        })
    }

    async fn delete(&self, bucket: Bucket<'_>, key: &str) -> Result<bool, StateError> {
        self.transaction(|tx| match bucket {
            Bucket::KeyValue {
                plugin, namespace, ..
            } => {
                let live = Self::kv_get(tx, plugin, namespace, key)?.is_some();
                tx.execute(
                    "DELETE FROM entries WHERE plugin = ?1 AND namespace = ?2 AND key = ?3",
                    params![plugin, namespace, key],
                )
                .map_err(backend)?;
                Ok(live)
            }
            Bucket::Session {
                owner,
                scope,
                plugin,
            } => {
                self.touch(tx, owner, scope, false)?;
                tx.execute(
                    "DELETE FROM session_entries WHERE scope = ?1 AND plugin = ?2 AND key = ?3",
                    params![scope, plugin, key],
                )
                .map(|n| n > 0)
                .map_err(backend)
            }
        })
    }

    async fn list_keys(
        &self,
        bucket: Bucket<'_>,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<String>, StateError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.transaction(|tx| {
            let keys = |sql: &str, params: &[&dyn rusqlite::ToSql]| {
                let mut statement = tx.prepare_cached(sql).map_err(backend)?;
                let rows = statement
                    .query_map(params, |row| row.get(0))
                    .map_err(backend)?;
                rows.collect::<rusqlite::Result<Vec<String>>>()
                    .map_err(backend)
            };
            match bucket {
                Bucket::KeyValue {
                    plugin, namespace, ..
                } => keys(
                    "SELECT key FROM entries WHERE plugin = ?1 AND namespace = ?2
                     AND substr(key, 1, length(?3)) = ?3
                     AND (expires_ms IS NULL OR expires_ms > ?4) ORDER BY key LIMIT ?5",
                    params![plugin, namespace, prefix, now_ms(), limit],
                ),
                Bucket::Session {
                    owner,
                    scope,
                    plugin,
                } => {
                    self.touch(tx, owner, scope, false)?;
                    keys(
                        "SELECT key FROM session_entries WHERE scope = ?1 AND plugin = ?2
                         AND substr(key, 1, length(?3)) = ?3 ORDER BY key LIMIT ?4",
                        params![scope, plugin, prefix, limit],
                    )
                }
            }
        })
    }

    async fn increment(
        &self,
        bucket: Bucket<'_>,
        key: &str,
        delta: i64,
    ) -> Result<i64, StateError> {
        let target = bucket.namespace()?;
        self.transaction(|tx| {
            let (base, expires) = match Self::kv_get(tx, target.plugin, target.name, key)? {
                None => (0, None),
                Some((bytes, expires)) => {
                    let n = std::str::from_utf8(&bytes)
                        .ok()
                        .and_then(|t| t.parse::<i64>().ok())
                        .ok_or_else(|| StateError::NotAnInteger { key: key.into() })?;
                    (n, expires)
                }
            };
            let next = base
                .checked_add(delta)
                .ok_or_else(|| StateError::Overflow {
                    key: key.into(),
                    delta,
                })?;
            Self::kv_put(tx, target, key, next.to_string().as_bytes(), expires)?;
            Ok(next)
        })
    }

    async fn sweep(&self) -> Result<usize, StateError> {
        let now = now_ms();
        let stale = now.saturating_sub(millis(self.options.session_idle));
        self.transaction(|tx| {
            tx.execute(
                "DELETE FROM entries WHERE expires_ms IS NOT NULL AND expires_ms <= ?1",
                params![now],
            )
            .map_err(backend)?;
            tx.execute(
                "DELETE FROM session_entries WHERE scope IN
                 (SELECT scope FROM session_scopes WHERE used_ms < ?1)",
                params![stale],
            )
            .map_err(backend)?;
            tx.execute(
                "DELETE FROM session_scopes WHERE used_ms < ?1",
                params![stale],
            )
            .map_err(backend)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Quota, contract};
    use super::*;

    fn store() -> SqliteStore {
        SqliteStore::in_memory(StateOptions {
            session_idle: Duration::from_millis(400),
            session_budget: 64,
            max_scopes: 3,
            max_scopes_per_owner: 3,
        })
    }

    #[tokio::test]
    async fn honours_the_contract() {
        let s = store();
        contract::entries_are_private_expire_and_count(&s).await;
        contract::keys_list_by_prefix_in_order(&s).await;
        contract::a_plugins_entries_stay_within_its_quota(&s).await;
        contract::session_scopes_are_isolated_and_budgeted(&s, 64).await;
        contract::idle_scopes_are_forgotten(&store(), Duration::from_millis(400)).await;
        let capped = SqliteStore::in_memory(StateOptions {
            max_scopes: 2,
            ..StateOptions::default()
        });
        contract::the_least_recently_used_scope_goes_beyond_the_cap(&capped, 2).await;
        let shared = SqliteStore::in_memory(StateOptions {
            max_scopes: 4,
            max_scopes_per_owner: 3,
            ..StateOptions::default()
        });
        contract::one_owner_cannot_push_out_anothers_scopes(&shared).await;
    }

    fn quota_of_one(namespace: &str) -> Bucket<'_> {
        Bucket::KeyValue {
            plugin: "p",
            namespace,
            quota: Quota {
                entries: 1,
                bytes: 1024,
            },
        }
    }

    /// Plugin `p` holds an entry: under a quota of one, another is refused.
    async fn assert_plugin_p_holds_one_entry(store: &SqliteStore) {
        assert!(matches!(
            store.set(quota_of_one("other"), "k2", b"x", None).await,
            Err(StateError::OverQuota { .. })
        ));
    }

    #[tokio::test]
    async fn state_survives_reopening_the_file() {
        let dir = std::env::temp_dir().join(format!("state-{}", std::process::id()));
        let path = dir.join("state.sqlite3");
        let _ = std::fs::remove_dir_all(&dir);
        let options = StateOptions::default();
        let session = Bucket::Session {
            owner: "",
            scope: "s",
            plugin: "p",
        };
        let kv = super::super::kv("p", "ns");
        {
            let store = SqliteStore::open(&path, options).unwrap();
            store.set(session, "k", b"\"kept\"", None).await.unwrap();
            store.set(kv, "k", b"kept", None).await.unwrap();
        }
        let reopened = SqliteStore::open(&path, options).unwrap();
        assert_eq!(
            reopened.get(session, "k").await.unwrap().as_deref(),
            Some(&b"\"kept\""[..])
        );
        assert_eq!(
            reopened.get(kv, "k").await.unwrap().as_deref(),
            Some(&b"kept"[..])
        );
        // So is the plugin's usage.
        assert_plugin_p_holds_one_entry(&reopened).await;
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_file_from_before_scope_owners_and_quotas_opens_with_its_state() {
        let dir = std::env::temp_dir().join(format!("state-old-{}", std::process::id()));
        let path = dir.join("state.sqlite3");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        {
            let old = Connection::open(&path).unwrap();
            old.execute_batch(
                "CREATE TABLE entries (plugin TEXT NOT NULL, namespace TEXT NOT NULL,
                    key TEXT NOT NULL, value BLOB NOT NULL, expires_ms INTEGER,
                    PRIMARY KEY (plugin, namespace, key)) WITHOUT ROWID;
                 CREATE TABLE session_scopes (scope TEXT PRIMARY KEY, used_ms INTEGER NOT NULL)
                    WITHOUT ROWID;
                 CREATE TABLE session_entries (scope TEXT NOT NULL, plugin TEXT NOT NULL,
                    key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (scope, plugin, key))
                    WITHOUT ROWID;
                 INSERT INTO entries VALUES ('p', 'ns', 'k', x'3132', NULL);",
            )
            .unwrap();
            old.execute(
                "INSERT INTO session_scopes VALUES ('s', ?1)",
                params![now_ms()],
            )
            .unwrap();
            old.execute_batch("INSERT INTO session_entries VALUES ('s', 'p', 'k', x'31');")
                .unwrap();
        }
        let store = SqliteStore::open(&path, StateOptions::default()).unwrap();
        let session = Bucket::Session {
            owner: "",
            scope: "s",
            plugin: "p",
        };
        assert_eq!(
            store.get(session, "k").await.unwrap().as_deref(),
            Some(&b"1"[..])
        );
        // The old entry counts against the plugin's quota.
        assert_plugin_p_holds_one_entry(&store).await;
        assert_eq!(store.increment(quota_of_one("ns"), "k", 1).await, Ok(13));
        let _ = std::fs::remove_dir_all(dir);
    }
}
