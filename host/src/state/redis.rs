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
//!   number.
//!
//! Plugin names and namespaces never contain `:`, so the names cannot
//! collide. Script times come from the Redis server's clock, so replicas
//! with skewed clocks agree.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};

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

/// Shared by the session scripts: note the scope's use (a write may add a
/// scope, pushing out the least recently used beyond the cap; a read only
/// renews one) and renew its expiry.
/// `KEYS[1]` the scope hash, `KEYS[2]` the scope set; `ARGV[1]` the scope,
/// `ARGV[2]` the idle time in ms, `ARGV[3]` the cap, `ARGV[4]` the prefix
/// of scope hashes.
const TOUCH: &str = r"
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function touch(creating)
  if not creating then
    redis.call('ZADD', KEYS[2], 'XX', now_ms(), ARGV[1])
  elseif redis.call('ZADD', KEYS[2], now_ms(), ARGV[1]) == 1 then
    local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
    if excess > 0 then
      local old = redis.call('ZPOPMIN', KEYS[2], excess)
      for i = 1, #old, 2 do
        redis.call('DEL', ARGV[4] .. old[i])
      end
    end
  end
end
local function renew()
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
";

/// `ARGV[5]` the field.
const SESSION_GET: &str = r"
touch(false)
local value = redis.call('HGET', KEYS[1], ARGV[5])
renew()
return value
";

/// `ARGV[5]` the field, `ARGV[6]` the plugin's byte counter, `ARGV[7]` the
/// value, `ARGV[8]` the key's length, `ARGV[9]` the budget. Returns the
/// plugin's bytes, or -1 over budget.
const SESSION_SET: &str = r"
touch(true)
local key_len = tonumber(ARGV[8])
local old = 0
if redis.call('HEXISTS', KEYS[1], ARGV[5]) == 1 then
  old = redis.call('HSTRLEN', KEYS[1], ARGV[5]) + key_len
end
local used = tonumber(redis.call('HGET', KEYS[1], ARGV[6]) or '0')
local total = used - old + key_len + string.len(ARGV[7])
if total > tonumber(ARGV[9]) then
  renew()
  return -1
end
redis.call('HSET', KEYS[1], ARGV[5], ARGV[7], ARGV[6], total)
renew()
return total
";

/// `ARGV[5]` the field, `ARGV[6]` the byte counter, `ARGV[7]` the key's
/// length. Returns 1 if the value was present.
const SESSION_DELETE: &str = r"
touch(false)
local removed = 0
if redis.call('HEXISTS', KEYS[1], ARGV[5]) == 1 then
  local size = redis.call('HSTRLEN', KEYS[1], ARGV[5]) + tonumber(ARGV[7])
  redis.call('HDEL', KEYS[1], ARGV[5])
  redis.call('HINCRBY', KEYS[1], ARGV[6], -size)
  removed = 1
end
renew()
return removed
";

/// `ARGV[5]` the plugin's field prefix. Returns its fields, unsorted.
const SESSION_FIELDS: &str = r"
touch(false)
local prefix = ARGV[5]
local found = {}
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(field, 1, string.len(prefix)) == prefix then
    table.insert(found, field)
  end
end
renew()
return found
";

/// Shared by the key-value writes, which keep a plugin's usage.
/// `KEYS[1]` the entry, `KEYS[2]` its namespace's key index, `KEYS[3]` the
/// plugin's sizes, `KEYS[4]` its expiry set, `KEYS[5]` its totals;
/// `ARGV[1]` the size field (`<namespace>:<key>`), `ARGV[2]` the key,
/// `ARGV[3]` the prefix of the plugin's entries, `ARGV[4]` the prefix of
/// its key indexes, `ARGV[5]` and `ARGV[6]` the quota's entries and bytes.
const KV_USAGE: &str = r"
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function totals()
  local t = redis.call('HMGET', KEYS[5], 'entries', 'bytes')
  return tonumber(t[1] or '0'), tonumber(t[2] or '0')
end
-- Take `field` out of the totals, the sizes and the expiry set.
local function forget(field)
  local size = redis.call('HGET', KEYS[3], field)
  if size then
    redis.call('HDEL', KEYS[3], field)
    redis.call('HINCRBY', KEYS[5], 'entries', -1)
    redis.call('HINCRBY', KEYS[5], 'bytes', -tonumber(size))
  end
  redis.call('ZREM', KEYS[4], field)
end
-- Drop up to `limit` of the plugin's expired entries (never `keep`).
local function purge(limit, keep)
  local expired = redis.call('ZRANGE', KEYS[4], '-inf', now_ms(), 'BYSCORE', 'LIMIT', 0, limit)
  for _, field in ipairs(expired) do
    if field ~= keep then
      forget(field)
      local sep = string.find(field, ':', 1, true)
      redis.call('DEL', ARGV[3] .. field)
      redis.call('ZREM', ARGV[4] .. string.sub(field, 1, sep - 1), string.sub(field, sep + 1))
    end
  end
end
-- Whether a write leaving the field `size` bytes fits the quota: a
-- write that does not grow the usage always does. 0 if it fits, -1 over
-- the entries, -2 over the bytes.
local function fits(size)
  local old = redis.call('HGET', KEYS[3], ARGV[1])
  local function check()
    local entries, bytes = totals()
    local new_entries, new_bytes = entries + 1, bytes + size
    if old then new_entries, new_bytes = entries, bytes - tonumber(old) + size end
    if new_entries <= entries and new_bytes <= bytes then return 0 end
    if new_entries > tonumber(ARGV[5]) then return -1 end
    if new_bytes > tonumber(ARGV[6]) then return -2 end
    return 0
  end
  local verdict = check()
  if verdict ~= 0 then
    purge(1000, ARGV[1])
    verdict = check()
  end
  return verdict
end
-- Record the field's new size (and expiry, or none).
local function record(size, expires_at)
  local old = redis.call('HGET', KEYS[3], ARGV[1])
  if old then
    redis.call('HINCRBY', KEYS[5], 'bytes', size - tonumber(old))
  else
    redis.call('HINCRBY', KEYS[5], 'entries', 1)
    redis.call('HINCRBY', KEYS[5], 'bytes', size)
  end
  redis.call('HSET', KEYS[3], ARGV[1], size)
  if expires_at then
    redis.call('ZADD', KEYS[4], expires_at, ARGV[1])
  else
    redis.call('ZREM', KEYS[4], ARGV[1])
  end
end
";

/// `ARGV[7]` the value, `ARGV[8]` the TTL in ms (empty: none). Returns 0,
/// or -1 / -2 over the quota's entries / bytes.
const KV_SET: &str = r"
local size = string.len(ARGV[2]) + string.len(ARGV[7])
local verdict = fits(size)
if verdict ~= 0 then return verdict end
if ARGV[8] == '' then
  redis.call('SET', KEYS[1], ARGV[7])
  record(size, nil)
else
  local ttl = tonumber(ARGV[8])
  redis.call('SET', KEYS[1], ARGV[7], 'PX', ttl)
  record(size, now_ms() + ttl)
end
redis.call('ZADD', KEYS[2], 0, ARGV[2])
return 0
";

/// Returns 1 if the entry was live.
const KV_DELETE: &str = r"
local removed = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
forget(ARGV[1])
return removed
";

/// `ARGV[7]` the delta. Returns `{0, sum}`, `{-1}` / `{-2}` over the
/// quota, or an error naming what is wrong with the value.
const KV_INCREMENT: &str = r"
local existed = redis.call('EXISTS', KEYS[1]) == 1
local ok, sum = pcall(redis.call, 'INCRBY', KEYS[1], ARGV[7])
if not ok then return redis.error_reply(sum.err or tostring(sum)) end
local size = string.len(ARGV[2]) + string.len(tostring(sum))
local verdict = fits(size)
if verdict ~= 0 then
  if existed then
    redis.call('DECRBY', KEYS[1], ARGV[7])
  else
    redis.call('DEL', KEYS[1])
  end
  return {verdict}
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then record(size, now_ms() + ttl) else record(size, nil) end
redis.call('ZADD', KEYS[2], 0, ARGV[2])
return {0, sum}
";

/// `KEYS[1]` the key index; `ARGV[1]`, `ARGV[2]` the lexical range,
/// `ARGV[3]` the limit, `ARGV[4]` the prefix of entry names. Returns the
/// live keys in order, dropping the expired ones from the index.
const KV_LIST: &str = r"
local found = {}
local from = ARGV[1]
local limit = tonumber(ARGV[3])
while #found < limit do
  local batch = redis.call('ZRANGE', KEYS[1], from, ARGV[2], 'BYLEX', 'LIMIT', 0, 256)
  if #batch == 0 then break end
  for _, key in ipairs(batch) do
    if redis.call('EXISTS', ARGV[4] .. key) == 1 then
      if #found < limit then table.insert(found, key) end
    else
      redis.call('ZREM', KEYS[1], key)
    end
  end
  from = '(' .. batch[#batch]
end
return found
";

/// `KEYS[1]` the scope set; `ARGV[1]` the idle time in ms. Returns how
/// many scopes were forgotten (their hashes have expired already).
const SWEEP: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[1])))
";

struct Scripts {
    kv_set: Script,
    kv_delete: Script,
    kv_increment: Script,
    session_get: Script,
    session_set: Script,
    session_delete: Script,
    session_fields: Script,
    kv_list: Script,
    sweep: Script,
}

impl Scripts {
    fn new() -> Self {
        let with_touch = |body: &str| Script::new(&format!("{TOUCH}{body}"));
        let with_usage = |body: &str| Script::new(&format!("{KV_USAGE}{body}"));
        Self {
            kv_set: with_usage(KV_SET),
            kv_delete: with_usage(KV_DELETE),
            kv_increment: with_usage(KV_INCREMENT),
            session_get: with_touch(SESSION_GET),
            session_set: with_touch(SESSION_SET),
            session_delete: with_touch(SESSION_DELETE),
            session_fields: with_touch(SESSION_FIELDS),
            kv_list: Script::new(KV_LIST),
            sweep: Script::new(SWEEP),
        }
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
    fn session<'s>(&'s self, script: &'s Script, scope: &str) -> redis::ScriptInvocation<'s> {
        let mut invocation = script.prepare_invoke();
        invocation
            .key(format!("{}{scope}", self.scope_prefix()))
            .key(self.scopes())
            .arg(scope)
            .arg(millis(self.options.session_idle).max(1))
            .arg(self.options.max_scopes.max(1))
            .arg(self.scope_prefix());
        invocation
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
            Bucket::Session { scope, plugin } => self
                .session(&self.scripts.session_get, scope)
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
            Bucket::Session { scope, plugin } => {
                let budget = self.options.session_budget;
                let total: i64 = self
                    .session(&self.scripts.session_set, scope)
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
            Bucket::Session { scope, plugin } => {
                let removed: i64 = self
                    .session(&self.scripts.session_delete, scope)
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
            Bucket::Session { scope, plugin } => {
                let field_prefix = format!("{plugin}:");
                let fields: Vec<String> = self
                    .session(&self.scripts.session_fields, scope)
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
        let (plugin, namespace, quota) = bucket.counter()?;
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
            .scripts
            .sweep
            .key(self.scopes())
            .arg(millis(self.options.session_idle))
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
    }

    #[tokio::test]
    async fn hosts_with_one_prefix_share_state_and_others_do_not() {
        let server = Server::start();
        let one = server.store("shared:", options()).await;
        let two = server.store("shared:", options()).await;
        let other = server.store("other:", options()).await;
        let bucket = Bucket::Session {
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
