//! The shared state backend: a Redis server that several host replicas
//! use at once, so a client's state follows it to whichever replica
//! answers. Every operation is one command, one atomic pipeline or one
//! Lua script, so replicas never see half an update.
//!
//! Layout under the configured prefix `P`:
//! - `P kv:<plugin>:<namespace>:<key>`: a key-value entry (a string, with
//!   Redis's own expiry for a TTL), and `P kvkeys:<plugin>:<namespace>`: a
//!   sorted set of its keys for listing (expired members are dropped as a
//!   listing meets them);
//! - `P kvsize:<plugin>`: a hash of the size of each of the plugin's
//!   entries (fields `<namespace>:<key>`), `P kvusage:<plugin>`: a hash of
//!   its totals (`entries`, `bytes`) against its quota, and
//!   `P kvexpiry:<plugin>`: a sorted set of its entries with a TTL by
//!   expiry time. Redis expires entries silently, so the writes that
//!   could meet the quota first take expired entries out of the totals;
//! - `P session:<scope>`: a hash of the scope's values, fields
//!   `<plugin>:<key>`, with `#<plugin>` counting each plugin's bytes; it
//!   expires after the idle time, renewed by every use;
//! - `P sessions`: a sorted set of scopes by last use, which caps their
//!   number; `P sessions-of:<owner>`: the same for one owner's scopes;
//!   `P scope-owners`: a hash of each scope's owner; `P owners`: a sorted
//!   set of owners by the scopes they hold.
//!
//! Plugin names and namespaces never contain `:`, so the names cannot
//! collide. Script times come from the Redis server's clock, so replicas
//! with skewed clocks agree.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};

mod scripts;

use scripts::Scripts;

use super::{Bucket, OpenError, Quota, StateError, StateOptions, StateStore, millis};

/// A key-value script's verdict: -1 and -2 mean over the quota's entries
/// and bytes.
fn quota_verdict(verdict: i64, quota: Quota) -> Result<(), StateError> {
    match verdict {
        -1 => Err(StateError::OverQuota {
            limit: quota.entries,
            unit: "entries",
        }),
        -2 => Err(StateError::OverQuota {
            limit: quota.bytes,
            unit: "bytes",
        }),
        _ => Ok(()),
    }
}

/// State in Redis.
pub struct RedisStore {
    connection: ConnectionManager,
    prefix: String,
    options: StateOptions,
    location: String,
    scripts: Scripts,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("location", &self.location)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn backend(e: redis::RedisError) -> StateError {
    StateError::Backend(format!("Redis: {e}"))
}

impl RedisStore {
    /// Connect to the server at `url` (`redis://host:port/db`), keeping
    /// every name under `prefix`. Fails when the server does not answer.
    pub async fn connect(
        url: &str,
        prefix: &str,
        options: StateOptions,
    ) -> Result<Self, OpenError> {
        let location = redact(url);
        let error = |message: String| OpenError {
            backend: "Redis",
            location: location.clone(),
            message,
        };
        let client = redis::Client::open(url).map_err(|e| error(e.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(2);
        let mut connection = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| error(e.to_string()))?;
        let _: String = redis::cmd("PING")
            .query_async(&mut connection)
            .await
            .map_err(|e| error(e.to_string()))?;
        Ok(Self {
            connection,
            prefix: prefix.to_string(),
            options,
            location,
            scripts: Scripts::new(),
        })
    }

    fn entry(&self, plugin: &str, namespace: &str, key: &str) -> String {
        format!("{}kv:{plugin}:{namespace}:{key}", self.prefix)
    }

    fn index(&self, plugin: &str, namespace: &str) -> String {
        format!("{}kvkeys:{plugin}:{namespace}", self.prefix)
    }

    /// A key-value script invocation with the shared usage arguments.
    fn kv_write<'s>(
        &'s self,
        script: &'s Script,
        plugin: &str,
        namespace: &str,
        key: &str,
        quota: Quota,
    ) -> redis::ScriptInvocation<'s> {
        let mut invocation = script.prepare_invoke();
        invocation
            .key(self.entry(plugin, namespace, key))
            .key(self.index(plugin, namespace))
            .key(format!("{}kvsize:{plugin}", self.prefix))
            .key(format!("{}kvexpiry:{plugin}", self.prefix))
            .key(format!("{}kvusage:{plugin}", self.prefix))
            .arg(format!("{namespace}:{key}"))
            .arg(key)
            .arg(format!("{}kv:{plugin}:", self.prefix))
            .arg(format!("{}kvkeys:{plugin}:", self.prefix))
            .arg(quota.entries)
            .arg(quota.bytes);
        invocation
    }

    fn scopes(&self) -> String {
        format!("{}sessions", self.prefix)
    }

    fn scope_prefix(&self) -> String {
        format!("{}session:", self.prefix)
    }

    /// A session script invocation with the shared `touch` arguments.
    fn session<'s>(
        &'s self,
        script: &'s Script,
        owner: &str,
        scope: &str,
    ) -> redis::ScriptInvocation<'s> {
        let mut invocation = script.prepare_invoke();
        invocation
            .key(format!("{}{scope}", self.scope_prefix()))
            .key(self.scopes())
            .key(format!("{}{owner}", self.owner_prefix()))
            .key(format!("{}scope-owners", self.prefix))
            .key(format!("{}owners", self.prefix))
            .arg(scope)
            .arg(millis(self.options.session_idle).max(1))
            .arg(self.options.max_scopes.max(1))
            .arg(self.scope_prefix())
            .arg(owner)
            .arg(self.options.max_scopes_per_owner.max(1))
            .arg(self.owner_prefix());
        invocation
    }

    fn owner_prefix(&self) -> String {
        format!("{}sessions-of:", self.prefix)
    }
}

/// `url` without a password.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

#[async_trait::async_trait]
impl StateStore for RedisStore {
    fn describe(&self) -> String {
        format!("Redis ({}, prefix `{}`)", self.location, self.prefix)
    }

    async fn get(&self, bucket: Bucket<'_>, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        let mut c = self.connection.clone();
        match bucket {
            Bucket::KeyValue {
                plugin, namespace, ..
            } => c
                .get(self.entry(plugin, namespace, key))
                .await
                .map_err(backend),
            Bucket::Session {
                owner,
                scope,
                plugin,
            } => self
                .session(&self.scripts.session_get, owner, scope)
                .arg(format!("{plugin}:{key}"))
                .invoke_async(&mut c)
                .await
                .map_err(backend),
        }
    }

    async fn set(
        &self,
        bucket: Bucket<'_>,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<(), StateError> {
        let mut c = self.connection.clone();
        match bucket {
            Bucket::KeyValue {
                plugin,
                namespace,
                quota,
            } => {
                let ttl = ttl.map(millis);
                if ttl == Some(0) {
                    // Expired on arrival.
                    return self.delete(bucket, key).await.map(|_| ());
                }
                let verdict: i64 = self
                    .kv_write(&self.scripts.kv_set, plugin, namespace, key, quota)
                    .arg(value)
                    .arg(ttl.map(|ms| ms.to_string()).unwrap_or_default())
                    .invoke_async(&mut c)
                    .await
                    .map_err(backend)?;
                quota_verdict(verdict, quota)
            }
            Bucket::Session {
                owner,
                scope,
                plugin,
            } => {
                let budget = self.options.session_budget;
                let total: i64 = self
                    .session(&self.scripts.session_set, owner, scope)
                    .arg(format!("{plugin}:{key}"))
                    .arg(format!("#{plugin}"))
                    .arg(value)
                    .arg(key.len())
                    .arg(budget)
                    .invoke_async(&mut c)
                    .await
                    .map_err(backend)?;
                if total < 0 {
                    return Err(StateError::OverBudget { budget });
                }
                Ok(())
            }
        }
    }

    async fn delete(&self, bucket: Bucket<'_>, key: &str) -> Result<bool, StateError> {
        let mut c = self.connection.clone();
        match bucket {
            Bucket::KeyValue {
                plugin,
                namespace,
                quota,
            } => {
                let removed: i64 = self
                    .kv_write(&self.scripts.kv_delete, plugin, namespace, key, quota)
                    .invoke_async(&mut c)
                    .await
                    .map_err(backend)?;
                Ok(removed > 0)
            }
            Bucket::Session {
                owner,
                scope,
                plugin,
            } => {
                let removed: i64 = self
                    .session(&self.scripts.session_delete, owner, scope)
                    .arg(format!("{plugin}:{key}"))
                    .arg(format!("#{plugin}"))
                    .arg(key.len())
                    .invoke_async(&mut c)
                    .await
                    .map_err(backend)?;
                Ok(removed > 0)
            }
        }
    }

    async fn list_keys(
        &self,
        bucket: Bucket<'_>,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<String>, StateError> {
        let mut c = self.connection.clone();
        match bucket {
            Bucket::KeyValue {
                plugin, namespace, ..
            } => {
                // Keys are UTF-8, which never holds the byte 0xFF: every key
                // starting with `prefix` sorts below `prefix` + 0xFF.
                let mut to = format!("[{prefix}").into_bytes();
                to.push(0xFF);
                self.scripts
                    .kv_list
                    .key(self.index(plugin, namespace))
                    .arg(format!("[{prefix}"))
                    .arg(to)
                    .arg(limit)
                    .arg(self.entry(plugin, namespace, ""))
                    .invoke_async(&mut c)
                    .await
                    .map_err(backend)
            }
            Bucket::Session {
                owner,
                scope,
                plugin,
            } => {
                let field_prefix = format!("{plugin}:");
                let fields: Vec<String> = self
                    .session(&self.scripts.session_fields, owner, scope)
                    .arg(format!("{field_prefix}{prefix}"))
                    .invoke_async(&mut c)
                    .await
                    .map_err(backend)?;
                let mut keys: Vec<String> = fields
                    .into_iter()
                    .filter_map(|f| f.strip_prefix(&field_prefix).map(str::to_string))
                    .collect();
                keys.sort_unstable();
                keys.truncate(limit);
                Ok(keys)
            }
        }
    }

    async fn increment(
        &self,
        bucket: Bucket<'_>,
        key: &str,
        delta: i64,
    ) -> Result<i64, StateError> {
        let super::Namespace {
            plugin,
            name: namespace,
            quota,
        } = bucket.namespace()?;
        let mut c = self.connection.clone();
        // INCRBY keeps the entry's expiry and checks the number and the
        // overflow itself.
        let result: redis::RedisResult<Vec<i64>> = self
            .kv_write(&self.scripts.kv_increment, plugin, namespace, key, quota)
            .arg(delta)
            .invoke_async(&mut c)
            .await;
        match result {
            Ok(reply) => match reply[..] {
                [0, sum] => Ok(sum),
                [verdict] => quota_verdict(verdict, quota).map(|()| 0),
                _ => Err(StateError::Backend(format!(
                    "Redis: unexpected reply to an increment: {reply:?}"
                ))),
            },
            Err(e) => {
                let text = e.to_string();
                if text.contains("overflow") {
                    Err(StateError::Overflow {
                        key: key.into(),
                        delta,
                    })
                } else if text.contains("not an integer") {
                    Err(StateError::NotAnInteger { key: key.into() })
                } else {
                    Err(backend(e))
                }
            }
        }
    }

    async fn sweep(&self) -> Result<usize, StateError> {
        let mut c = self.connection.clone();
        let removed: i64 = self
            .session(&self.scripts.sweep, "", "")
            .invoke_async(&mut c)
            .await
            .map_err(backend)?;
        Ok(removed.max(0) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::super::contract;
    use super::*;

    /// A `redis-server` of its own on a free loopback port, stopped on drop.
    struct Server {
        child: std::process::Child,
        url: String,
    }

    impl Server {
        fn start() -> Self {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let child = std::process::Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("redis-server runs (scripts/test.sh installs it)");
            Self {
                child,
                url: format!("redis://127.0.0.1:{port}/0"),
            }
        }

        async fn store(&self, prefix: &str, options: StateOptions) -> RedisStore {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            loop {
                match RedisStore::connect(&self.url, prefix, options).await {
                    Ok(store) => return store,
                    Err(e) if std::time::Instant::now() > deadline => panic!("{e}"),
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn options() -> StateOptions {
        StateOptions {
            session_idle: Duration::from_millis(400),
            session_budget: 64,
            max_scopes: 3,
            max_scopes_per_owner: 3,
        }
    }

    #[tokio::test]
    async fn honours_the_contract() {
        let server = Server::start();
        let s = server.store("a:", options()).await;
        contract::entries_are_private_expire_and_count(&s).await;
        contract::keys_list_by_prefix_in_order(&s).await;
        contract::a_plugins_entries_stay_within_its_quota(&s).await;
        contract::session_scopes_are_isolated_and_budgeted(&s, 64).await;
        let idle = server.store("b:", options()).await;
        contract::idle_scopes_are_forgotten(&idle, Duration::from_millis(400)).await;
        let cap = StateOptions {
            max_scopes: 2,
            ..StateOptions::default()
        };
        let capped = server.store("c:", cap).await;
        contract::the_least_recently_used_scope_goes_beyond_the_cap(&capped, 2).await;
        let shares = StateOptions {
            max_scopes: 4,
            max_scopes_per_owner: 3,
            ..StateOptions::default()
        };
        let shared = server.store("d:", shares).await;
        contract::one_owner_cannot_push_out_anothers_scopes(&shared).await;
    }

    #[tokio::test]
    async fn hosts_with_one_prefix_share_state_and_others_do_not() {
        let server = Server::start();
        let one = server.store("shared:", options()).await;
        let two = server.store("shared:", options()).await;
        let other = server.store("other:", options()).await;
        let bucket = Bucket::Session {
            owner: "",
            scope: "s",
            plugin: "p",
        };
        one.set(bucket, "k", b"1", None).await.unwrap();
        assert_eq!(
            two.get(bucket, "k").await.unwrap().as_deref(),
            Some(&b"1"[..])
        );
        assert_eq!(other.get(bucket, "k").await.unwrap(), None);
        let kv = super::super::kv("p", "ns");
        assert_eq!(one.increment(kv, "n", 1).await, Ok(1));
        assert_eq!(two.increment(kv, "n", 1).await, Ok(2));
    }

    #[tokio::test]
    async fn an_unreachable_server_is_named() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let err = RedisStore::connect(
            &format!("redis://:hunter2@127.0.0.1:{port}/0"),
            "x:",
            options(),
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(err.contains("Redis state store"), "{err}");
        assert!(err.contains(&port.to_string()), "{err}");
        assert!(
            !err.contains("hunter2"),
            "the password is never logged: {err}"
        );
    }
}
