//! Where plugin state outlives a call: one [`StateStore`] trait behind the
//! key-value service and session state, with two backends. SQLite
//! ([`sqlite`]) is embedded and the default: a file in the data directory,
//! so state survives a restart. Redis ([`redis`]) lets several host
//! replicas share state, so a client may reach any of them.
//!
//! Entries live in [`Bucket`]s: a plugin's key-value namespace, or a
//! plugin's values in one session scope (a handshake-era session, an
//! authenticated principal, or a client's state handle). Session scopes
//! expire after [`StateOptions::session_idle`] without use, each plugin
//! may keep [`StateOptions::session_budget`] bytes in a scope, and each
//! scope's owner (its principal) holds at most
//! [`StateOptions::max_scopes_per_owner`] of them, so one principal making
//! scopes pushes out only its own.
//! A plugin's key-value entries, across its namespaces, stay within its
//! [`Quota`] of entries and bytes; entries past their TTL stop counting
//! once the store notices them (at the latest when a write would go over).
//! [`spawn_cleanup`] runs the backend's sweep in the background.

pub mod redis;
pub mod sqlite;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Most keys one `list_keys` returns.
pub const MAX_LISTED_KEYS: usize = 1000;

/// How much one plugin may keep in its key-value namespaces, together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Entries.
    pub entries: u64,
    /// Bytes of keys and values.
    pub bytes: u64,
}

impl Quota {
    /// No bound: for the host's own entries.
    pub const UNLIMITED: Quota = Quota {
        entries: u64::MAX,
        bytes: u64::MAX,
    };
    /// What a plugin gets when the policy says nothing.
    pub const DEFAULT: Quota = Quota {
        entries: 100_000,
        bytes: 64 << 20,
    };
}

/// A key-value bucket's parts, for the operations only such buckets have.
#[derive(Debug, Clone, Copy)]
struct Namespace<'a> {
    plugin: &'a str,
    name: &'a str,
    quota: Quota,
}

impl<'a> Bucket<'a> {
    /// The parts of a key-value bucket; a session bucket has no counters.
    fn namespace(self) -> Result<Namespace<'a>, StateError> {
        match self {
            Bucket::KeyValue {
                plugin,
                namespace,
                quota,
            } => Ok(Namespace {
                plugin,
                name: namespace,
                quota,
            }),
            Bucket::Session { .. } => Err(StateError::Backend(
                "only key-value entries can be incremented".into(),
            )),
        }
    }
}

impl Default for Quota {
    fn default() -> Self {
        Quota::DEFAULT
    }
}

/// Where an entry lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket<'a> {
    /// A plugin's key-value namespace; writes stay within the plugin's
    /// quota (a write that does not grow its usage always succeeds).
    KeyValue {
        plugin: &'a str,
        namespace: &'a str,
        quota: Quota,
    },
    /// A plugin's session state in one scope, which belongs to `owner`
    /// (an authenticated principal's id; empty when there is none).
    Session {
        owner: &'a str,
        scope: &'a str,
        plugin: &'a str,
    },
}

/// The limits a store applies to session state.
#[derive(Debug, Clone, Copy)]
pub struct StateOptions {
    /// A scope unused this long is forgotten.
    pub session_idle: Duration,
    /// Bytes of keys and values one plugin may keep in one scope.
    pub session_budget: usize,
    /// Scopes kept at once. Beyond it, the owner holding the most scopes
    /// gives up its least recently used one.
    pub max_scopes: usize,
    /// Scopes one owner (an authenticated principal) keeps at once; beyond
    /// it, the owner gives up its own least recently used one. Scopes
    /// without an owner share only `max_scopes`.
    pub max_scopes_per_owner: usize,
}

impl Default for StateOptions {
    fn default() -> Self {
        Self {
            session_idle: Duration::from_secs(30 * 60),
            session_budget: 1 << 20,
            max_scopes: 10_000,
            max_scopes_per_owner: 1_000,
        }
    }
}

/// Why a state operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("the state store failed: {0}")]
    Backend(String),
    #[error("session state would exceed its budget of {budget} bytes")]
    OverBudget { budget: usize },
    #[error(
        "the plugin's key-value quota of {limit} {unit} is reached \
         (delete entries or let them expire first)"
    )]
    OverQuota { limit: u64, unit: &'static str },
    #[error("the value under `{key}` is not a decimal integer")]
    NotAnInteger { key: String },
    #[error("incrementing `{key}` by {delta} overflows")]
    Overflow { key: String, delta: i64 },
}

/// Why a store could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the {backend} state store {location}: {message}")]
pub struct OpenError {
    pub backend: &'static str,
    pub location: String,
    pub message: String,
}

/// A place to keep plugin state. Every method is one atomic step.
#[async_trait::async_trait]
pub trait StateStore: Send + Sync + std::fmt::Debug {
    /// The backend and where it keeps its data, for logs.
    fn describe(&self) -> String;

    async fn get(&self, bucket: Bucket<'_>, key: &str) -> Result<Option<Vec<u8>>, StateError>;

    /// Store `value`; with `ttl`, the entry disappears after that long.
    /// A session bucket refuses a value that would exceed its budget.
    async fn set(
        &self,
        bucket: Bucket<'_>,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<(), StateError>;

    /// Remove an entry; true if it was present.
    async fn delete(&self, bucket: Bucket<'_>, key: &str) -> Result<bool, StateError>;

    /// The keys that start with `prefix`, sorted, at most `limit`.
    async fn list_keys(
        &self,
        bucket: Bucket<'_>,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<String>, StateError>;

    /// Add `delta` to the decimal integer under `key` in a key-value
    /// namespace (absent counts as 0) and return the sum. The entry keeps
    /// its expiry.
    async fn increment(&self, bucket: Bucket<'_>, key: &str, delta: i64)
    -> Result<i64, StateError>;

    /// Forget idle session scopes and expired entries; how many scopes
    /// went.
    async fn sweep(&self) -> Result<usize, StateError>;
}

/// The shared handle.
pub type SharedStore = Arc<dyn StateStore>;

/// A store that lives in memory only, with default limits.
pub fn in_memory() -> SharedStore {
    Arc::new(sqlite::SqliteStore::in_memory(StateOptions::default()))
}

impl StateError {
    /// The error of a write that would take a plugin past `quota`, given
    /// the entries and bytes it would then hold.
    fn over_quota(quota: Quota, entries: u64, bytes: u64) -> Option<Self> {
        if entries > quota.entries {
            Some(StateError::OverQuota {
                limit: quota.entries,
                unit: "entries",
            })
        } else if bytes > quota.bytes {
            Some(StateError::OverQuota {
                limit: quota.bytes,
                unit: "bytes",
            })
        } else {
            None
        }
    }
}

/// A key-value bucket with no quota, for tests.
#[cfg(test)]
pub(crate) fn kv<'a>(plugin: &'a str, namespace: &'a str) -> Bucket<'a> {
    Bucket::KeyValue {
        plugin,
        namespace,
        quota: Quota::UNLIMITED,
    }
}

/// Run `store.sweep()` every so often while the process lives.
pub fn spawn_cleanup(store: SharedStore, idle: Duration) {
    let every = (idle / 4).clamp(Duration::from_millis(250), Duration::from_secs(60));
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match store.sweep().await {
                Ok(0) => {}
                Ok(scopes) => tracing::debug!(scopes, "forgot idle session scopes"),
                Err(e) => tracing::warn!("cleaning the state store: {e}"),
            }
        }
    });
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The behaviour every backend must show, run by each backend's tests.
#[cfg(test)]
pub(crate) mod contract {
    use super::*;

    const KV: Bucket<'static> = Bucket::KeyValue {
        plugin: "a",
        namespace: "ns",
        quota: Quota::UNLIMITED,
    };

    pub async fn entries_are_private_expire_and_count(store: &dyn StateStore) {
        store.set(KV, "k", b"v", None).await.unwrap();
        assert_eq!(
            store.get(KV, "k").await.unwrap().as_deref(),
            Some(&b"v"[..])
        );
        let other_plugin = kv("b", "ns");
        assert_eq!(store.get(other_plugin, "k").await.unwrap(), None);
        let other_namespace = kv("a", "other");
        assert_eq!(store.get(other_namespace, "k").await.unwrap(), None);
        let session = Bucket::Session {
            owner: "",
            scope: "ns",
            plugin: "a",
        };
        assert_eq!(store.get(session, "k").await.unwrap(), None, "session");

        store
            .set(KV, "gone", b"x", Some(Duration::from_millis(1)))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(store.get(KV, "gone").await.unwrap(), None);
        assert_eq!(store.list_keys(KV, "", 10).await.unwrap(), vec!["k"]);

        assert_eq!(store.increment(KV, "n", 2).await, Ok(2));
        assert_eq!(store.increment(KV, "n", -5).await, Ok(-3));
        assert_eq!(
            store.increment(KV, "k", 1).await,
            Err(StateError::NotAnInteger { key: "k".into() })
        );
        store
            .set(KV, "max", i64::MAX.to_string().as_bytes(), None)
            .await
            .unwrap();
        assert!(matches!(
            store.increment(KV, "max", 1).await,
            Err(StateError::Overflow { .. })
        ));
        store
            .set(KV, "ttl", b"1", Some(Duration::from_secs(60)))
            .await
            .unwrap();
        assert_eq!(store.increment(KV, "ttl", 1).await, Ok(2));

        assert!(store.delete(KV, "k").await.unwrap());
        assert!(!store.delete(KV, "k").await.unwrap());
        assert_eq!(store.get(KV, "k").await.unwrap(), None);
    }

    pub async fn keys_list_by_prefix_in_order(store: &dyn StateStore) {
        let bucket = kv("lister", "ns");
        for key in ["b/2", "a/1", "b/1", "c", "b/3"] {
            store.set(bucket, key, b"x", None).await.unwrap();
        }
        store
            .set(bucket, "b/0", b"x", Some(Duration::from_millis(1)))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(
            store.list_keys(bucket, "b/", 10).await.unwrap(),
            vec!["b/1", "b/2", "b/3"]
        );
        assert_eq!(
            store.list_keys(bucket, "b/", 2).await.unwrap(),
            vec!["b/1", "b/2"]
        );
        assert_eq!(store.list_keys(bucket, "", 10).await.unwrap().len(), 5);
    }

    pub async fn a_plugins_entries_stay_within_its_quota(store: &dyn StateStore) {
        let quota = Quota {
            entries: 3,
            bytes: 40,
        };
        let one = Bucket::KeyValue {
            plugin: "quoted",
            namespace: "one",
            quota,
        };
        let two = Bucket::KeyValue {
            plugin: "quoted",
            namespace: "two",
            quota,
        };
        let entries_full = StateError::OverQuota {
            limit: 3,
            unit: "entries",
        };
        let bytes_full = StateError::OverQuota {
            limit: 40,
            unit: "bytes",
        };
        // Three entries, across namespaces, of 2 + 8 bytes each.
        store.set(one, "k1", b"12345678", None).await.unwrap();
        store.set(one, "k2", b"12345678", None).await.unwrap();
        store.set(two, "k1", b"12345678", None).await.unwrap();
        assert_eq!(
            store.set(two, "k2", b"x", None).await,
            Err(entries_full.clone())
        );
        assert_eq!(
            store.increment(two, "n", 1).await,
            Err(entries_full.clone())
        );
        // Replacing an entry is not a new one; growing it past the bytes is
        // refused, and a refused write changes nothing.
        store.set(one, "k1", b"abcdefgh", None).await.unwrap();
        assert_eq!(
            store.set(one, "k1", &[b'y'; 19], None).await,
            Err(bytes_full.clone())
        );
        assert_eq!(
            store.get(one, "k1").await.unwrap().as_deref(),
            Some(&b"abcdefgh"[..])
        );
        // Another plugin has a quota of its own.
        let other = Bucket::KeyValue {
            plugin: "other",
            namespace: "one",
            quota,
        };
        store.set(other, "k2", b"x", None).await.unwrap();
        // Deleting makes room.
        assert!(store.delete(one, "k2").await.unwrap());
        assert_eq!(store.increment(two, "n", 7).await, Ok(7));
        assert_eq!(store.set(two, "k3", b"x", None).await, Err(entries_full));
        // An entry past its TTL stops counting.
        assert!(store.delete(two, "n").await.unwrap());
        store
            .set(two, "brief", b"x", Some(Duration::from_millis(1)))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        store.set(two, "k3", b"x", None).await.unwrap();
        // A write that does not grow the usage goes through at the limit.
        store.set(two, "k3", b"", None).await.unwrap();
        assert!(store.delete(two, "k3").await.unwrap());
        // Usage is exact after all of that: two entries of 10 bytes, so a
        // third of 20 fits exactly and one of 21 does not.
        store.set(two, "k4", &[b'z'; 18], None).await.unwrap();
        assert!(store.delete(two, "k4").await.unwrap());
        assert_eq!(
            store.set(two, "k4", &[b'z'; 19], None).await,
            Err(bytes_full)
        );
    }

    pub async fn session_scopes_are_isolated_and_budgeted(store: &dyn StateStore, budget: usize) {
        let s1 = Bucket::Session {
            owner: "",
            scope: "s1",
            plugin: "p",
        };
        let s2 = Bucket::Session {
            owner: "",
            scope: "s2",
            plugin: "p",
        };
        let other = Bucket::Session {
            owner: "",
            scope: "s1",
            plugin: "q",
        };
        store.set(s1, "k", b"1", None).await.unwrap();
        assert_eq!(
            store.get(s1, "k").await.unwrap().as_deref(),
            Some(&b"1"[..])
        );
        assert_eq!(store.get(s2, "k").await.unwrap(), None);
        assert_eq!(store.get(other, "k").await.unwrap(), None);
        assert_eq!(store.list_keys(s1, "", 10).await.unwrap(), vec!["k"]);

        let half = vec![b'x'; budget / 2];
        store.set(s1, "a", &half, None).await.unwrap();
        assert_eq!(
            store.set(s1, "b", &half, None).await,
            Err(StateError::OverBudget { budget })
        );
        // Replacing a value counts only the new one; another plugin has
        // its own budget.
        store.set(s1, "a", &half, None).await.unwrap();
        store.set(other, "b", &half, None).await.unwrap();
        assert!(store.delete(s1, "a").await.unwrap());
        store.set(s1, "b", &half, None).await.unwrap();
        assert!(store.delete(s1, "k").await.unwrap());
        assert!(!store.delete(s1, "k").await.unwrap());
    }

    pub async fn idle_scopes_are_forgotten(store: &dyn StateStore, idle: Duration) {
        let kept = Bucket::Session {
            owner: "",
            scope: "kept",
            plugin: "p",
        };
        let idle_scope = Bucket::Session {
            owner: "",
            scope: "idle",
            plugin: "p",
        };
        store.set(kept, "k", b"1", None).await.unwrap();
        store.set(idle_scope, "k", b"1", None).await.unwrap();
        let deadline = tokio::time::Instant::now() + idle * 2;
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(idle / 4).await;
            assert!(store.get(kept, "k").await.unwrap().is_some(), "in use");
        }
        store.sweep().await.unwrap();
        assert_eq!(store.get(idle_scope, "k").await.unwrap(), None);
        assert!(
            store
                .list_keys(idle_scope, "", 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(store.get(kept, "k").await.unwrap().is_some());
    }

    /// With `max_scopes` 4 and `max_scopes_per_owner` 3.
    pub async fn one_owner_cannot_push_out_anothers_scopes(store: &dyn StateStore) {
        fn bucket<'a>(owner: &'a str, scope: &'a str) -> Bucket<'a> {
            Bucket::Session {
                owner,
                scope,
                plugin: "p",
            }
        }
        async fn make(store: &dyn StateStore, owner: &str, scope: &str) {
            store
                .set(bucket(owner, scope), "k", b"1", None)
                .await
                .unwrap();
            // Distinct creation times.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let held = async |owner: &str, scope: &str| {
            store
                .get(bucket(owner, scope), "k")
                .await
                .unwrap()
                .is_some()
        };
        make(store, "bob", "bob-1").await;
        for i in 1..=5 {
            make(store, "mallory", &format!("mallory-{i}")).await;
        }
        // Mallory's flood pushed out only Mallory's oldest.
        assert!(held("bob", "bob-1").await);
        for (i, kept) in [(1, false), (2, false), (3, true), (4, true), (5, true)] {
            assert_eq!(held("mallory", &format!("mallory-{i}")).await, kept, "{i}");
        }
        // The store is full (4): a newcomer's scope pushes out the oldest
        // of whoever holds the most, although Bob's is older.
        make(store, "carol", "carol-1").await;
        assert!(held("bob", "bob-1").await);
        assert!(held("carol", "carol-1").await);
        assert!(!held("mallory", "mallory-3").await);
        assert!(held("mallory", "mallory-4").await);
        // And an owner's reads and writes of a scope it holds never push
        // anything out.
        make(store, "mallory", "mallory-5").await;
        assert!(held("mallory", "mallory-4").await);
        assert!(held("bob", "bob-1").await);
    }

    pub async fn the_least_recently_used_scope_goes_beyond_the_cap(
        store: &dyn StateStore,
        max_scopes: usize,
    ) {
        let scope = |i: usize| format!("capped-{i}");
        for i in 0..max_scopes {
            let bucket = Bucket::Session {
                owner: "",
                scope: &scope(i),
                plugin: "p",
            };
            store.set(bucket, "k", b"1", None).await.unwrap();
            // Distinct use times, a second apart at the stores' precision.
            tokio::time::sleep(Duration::from_millis(1100)).await;
        }
        let first = scope(0);
        fn bucket(scope: &str) -> Bucket<'_> {
            Bucket::Session {
                owner: "",
                scope,
                plugin: "p",
            }
        }
        // Using the oldest makes the second the least recently used.
        assert!(store.get(bucket(&first), "k").await.unwrap().is_some());
        let newcomer = scope(max_scopes);
        store.set(bucket(&newcomer), "k", b"1", None).await.unwrap();
        assert!(store.get(bucket(&first), "k").await.unwrap().is_some());
        assert_eq!(store.get(bucket(&scope(1)), "k").await.unwrap(), None);
        assert!(store.get(bucket(&newcomer), "k").await.unwrap().is_some());
    }
}
