//! The Lua scripts of the Redis backend: each runs as one atomic step on
//! the server. Times come from the server's clock (`TIME`), so replicas
//! with skewed clocks agree.

use redis::Script;

/// Shared by the session scripts and the sweep: how scopes come and go.
/// `KEYS[1]` the scope hash, `KEYS[2]` the set of scopes by last use,
/// `KEYS[3]` the owner's set of scopes by last use, `KEYS[4]` the hash of
/// each scope's owner, `KEYS[5]` the set of owners by scopes held;
/// `ARGV[1]` the scope, `ARGV[2]` the idle time in ms, `ARGV[3]` the cap,
/// `ARGV[4]` the prefix of scope hashes, `ARGV[5]` the owner (empty: none),
/// `ARGV[6]` the owner's cap, `ARGV[7]` the prefix of owners' sets.
const SCOPES: &str = r"
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function forget_scope(scope)
  redis.call('DEL', ARGV[4] .. scope)
  redis.call('ZREM', KEYS[2], scope)
  local owner = redis.call('HGET', KEYS[4], scope)
  if owner then
    redis.call('HDEL', KEYS[4], scope)
    redis.call('ZREM', ARGV[7] .. owner, scope)
    if tonumber(redis.call('ZINCRBY', KEYS[5], -1, owner)) <= 0 then
      redis.call('ZREM', KEYS[5], owner)
    end
  end
end
-- The scope to give up when the store is full: the oldest of the owner
-- holding the most (of up to 16 tied, the one whose oldest is oldest),
-- never the one being created.
local function victim()
  local top = redis.call('ZRANGE', KEYS[5], 0, 0, 'REV', 'WITHSCORES')
  local best, best_used = nil, nil
  if #top == 2 then
    local tied = redis.call('ZRANGE', KEYS[5], top[2], top[2], 'BYSCORE', 'LIMIT', 0, 16)
    for _, owner in ipairs(tied) do
      local own = redis.call('ZRANGE', ARGV[7] .. owner, 0, 1, 'WITHSCORES')
      local i = 1
      if own[1] == ARGV[1] then i = 3 end
      if own[i] then
        local used = tonumber(own[i + 1])
        if best_used == nil or used < best_used then best, best_used = own[i], used end
      end
    end
  end
  if best then return best end
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 1)
  if oldest[1] ~= ARGV[1] then return oldest[1] end
  return oldest[2]
end
";

/// Note the scope's use (a write may add a scope, which its owner then
/// holds: beyond the owner's cap it gives up its own least recently used
/// one, beyond the store's cap the owner holding the most gives up one; a
/// read only renews a scope) and renew its expiry.
const TOUCH: &str = r"
local function touch(creating)
  local now = now_ms()
  if not creating or redis.call('ZADD', KEYS[2], now, ARGV[1]) == 0 then
    redis.call('ZADD', KEYS[2], 'XX', now, ARGV[1])
    redis.call('ZADD', KEYS[3], 'XX', now, ARGV[1])
    return
  end
  redis.call('ZADD', KEYS[3], now, ARGV[1])
  redis.call('HSET', KEYS[4], ARGV[1], ARGV[5])
  local held = tonumber(redis.call('ZINCRBY', KEYS[5], 1, ARGV[5]))
  if ARGV[5] ~= '' and held > tonumber(ARGV[6]) then
    local own = redis.call('ZRANGE', KEYS[3], 0, 1)
    if own[1] ~= ARGV[1] then forget_scope(own[1]) else forget_scope(own[2]) end
  end
  while redis.call('ZCARD', KEYS[2]) > tonumber(ARGV[3]) do
    local gone = victim()
    if not gone then break end
    forget_scope(gone)
  end
end
local function renew()
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
";

/// `ARGV[8]` the field.
const SESSION_GET: &str = r"
touch(false)
local value = redis.call('HGET', KEYS[1], ARGV[8])
renew()
return value
";

/// `ARGV[8]` the field, `ARGV[9]` the plugin's byte counter, `ARGV[10]` the
/// value, `ARGV[11]` the key's length, `ARGV[12]` the budget. Returns the
/// plugin's bytes, or -1 over budget.
const SESSION_SET: &str = r"
touch(true)
local key_len = tonumber(ARGV[11])
local old = 0
if redis.call('HEXISTS', KEYS[1], ARGV[8]) == 1 then
  old = redis.call('HSTRLEN', KEYS[1], ARGV[8]) + key_len
end
local used = tonumber(redis.call('HGET', KEYS[1], ARGV[9]) or '0')
local total = used - old + key_len + string.len(ARGV[10])
if total > tonumber(ARGV[12]) then
  renew()
  return -1
end
redis.call('HSET', KEYS[1], ARGV[8], ARGV[10], ARGV[9], total)
renew()
return total
";

/// `ARGV[8]` the field, `ARGV[9]` the byte counter, `ARGV[10]` the key's
/// length. Returns 1 if the value was present.
const SESSION_DELETE: &str = r"
touch(false)
local removed = 0
if redis.call('HEXISTS', KEYS[1], ARGV[8]) == 1 then
  local size = redis.call('HSTRLEN', KEYS[1], ARGV[8]) + tonumber(ARGV[10])
  redis.call('HDEL', KEYS[1], ARGV[8])
  redis.call('HINCRBY', KEYS[1], ARGV[9], -size)
  removed = 1
end
renew()
return removed
";

/// `ARGV[8]` the plugin's field prefix. Returns its fields, unsorted.
const SESSION_FIELDS: &str = r"
touch(false)
local prefix = ARGV[8]
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

/// With the keys and arguments of [`SCOPES`] (the scope's own unused):
/// forget scopes idle too long (their hashes have expired already) and
/// return how many.
const SWEEP: &str = r"
local stale = redis.call('ZRANGE', KEYS[2], '-inf', '(' .. (now_ms() - tonumber(ARGV[2])),
  'BYSCORE', 'LIMIT', 0, 10000)
for _, scope in ipairs(stale) do forget_scope(scope) end
return #stale
";

pub(super) struct Scripts {
    pub(super) kv_set: Script,
    pub(super) kv_delete: Script,
    pub(super) kv_increment: Script,
    pub(super) session_get: Script,
    pub(super) session_set: Script,
    pub(super) session_delete: Script,
    pub(super) session_fields: Script,
    pub(super) kv_list: Script,
    pub(super) sweep: Script,
}

impl Scripts {
    pub(super) fn new() -> Self {
        let with_touch = |body: &str| Script::new(&format!("{SCOPES}{TOUCH}{body}"));
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
            sweep: Script::new(&format!("{SCOPES}{SWEEP}")),
        }
    }
}
