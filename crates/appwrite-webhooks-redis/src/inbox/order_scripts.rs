//! The Lua scripts of per-resource ordering ([`Ordered`](super::Ordered)). Like the inbox's
//! own, each runs whole or not at all and touches a fixed number of keys; each starts with the
//! inbox's helpers, and `ARGV[2..5]` is the attempt's lease (id, stream entry, consumer, nonce),
//! checked as every outcome is.
//!
//! Per resource `R` (a [`ResourceVersion`](appwrite_webhooks::inbox::ResourceVersion)'s
//! `resource`), under the inbox prefix `P`:
//!
//! - `P v:R`, a hash: `at` (the newest `$updatedAt` applied, µs), `change` (its rank: 0 create,
//!   1 update, 2 delete — a resource whose `change` is 2 was deleted), `by` (the delivery that
//!   applied it), `applied` (when, ms). No expiry: see `Ordered`'s docs.
//! - `P lock:R`, a string: the nonce of the attempt running a handler for `R`, expiring at that
//!   attempt's deadline, so two versions of one resource are never handled at once.
//! - `P stale`, a sorted set: the stale deliveries, by the end of their retention — the same
//!   score as in `P done`, where they also are, so retention and purges treat them as done.

use super::scripts::COMMON;

/// Helpers: settling the attempt's delivery, comparing versions, letting go of the lock.
const HELPERS: &str = r"
-- Settles the attempt's delivery as 'done' or 'stale' (with why), kept for the retention.
local function settle(state, now, retention, why)
  local key = p .. 'd:' .. ARGV[2]
  unready(ARGV[3])
  redis.call('HSET', key, 'state', state, 'entry', '', 'lease', '', 'settled', settlement())
  if why then redis.call('HSET', key, 'error', why) end
  end_attempt(ARGV[2], state, why)
  redis.call('PEXPIRE', p .. 'a:' .. ARGV[2], retention)
  redis.call('ZADD', p .. 'done', now + retention, ARGV[2])
  if state == 'stale' then redis.call('ZADD', p .. 'stale', now + retention, ARGV[2]) end
  redis.call('PEXPIRE', key, retention)
  redis.call('PEXPIRE', p .. 'fp:' .. redis.call('HGET', key, 'fphex'), retention)
end
-- Whether version (at, rank) is older than (applied_at, applied_rank). Microseconds since
-- 1970 stay exact in Lua's doubles until the year 2255.
local function older(at, rank, applied_at, applied_rank)
  at, applied_at = tonumber(at), tonumber(applied_at)
  return at < applied_at or (at == applied_at and tonumber(rank) < tonumber(applied_rank))
end
-- Deletes the resource's lock if this attempt holds it.
local function release(resource)
  local lock = p .. 'lock:' .. resource
  if redis.call('GET', lock) == ARGV[5] then redis.call('DEL', lock) end
end
";

/// ARGV: prefix, id, entry, consumer, nonce, now ms, retention ms, resource, at µs, rank,
/// change name, lock ms, call nonce. Before the handler runs: returns {0} if the lease is no
/// longer the attempt's; {2, ms} if another attempt holds the resource (for about that long);
/// {3} if a newer version was applied — the delivery is now settled stale, with why as its
/// error; else {1}: the attempt now holds the resource's lock, for `lock ms`.
const BEGIN: &str = r"
if not owned() then return {0} end
local lock = p .. 'lock:' .. ARGV[8]
local holder = redis.call('GET', lock)
if holder and holder ~= ARGV[5] then return {2, redis.call('PTTL', lock)} end
local applied = redis.call('HMGET', p .. 'v:' .. ARGV[8], 'at', 'change', 'by')
if applied[1] and older(ARGV[9], ARGV[10], applied[1], applied[2]) then
  release(ARGV[8])
  local names = {'Create', 'Update', 'Delete'}
  local why = 'stale: ' .. ARGV[8] .. ' (' .. ARGV[11] .. ' at ' .. ARGV[9] ..
    ' µs) is older than the ' .. (names[tonumber(applied[2]) + 1] or 'Update') .. ' at ' ..
    applied[1] .. ' µs already applied by delivery ' .. (applied[3] or '?')
  settle('stale', ARGV[6], ARGV[7], why)
  return {3}
end
redis.call('SET', lock, ARGV[5], 'PX', ARGV[12])
return {1}
";

/// ARGV: prefix, id, entry, consumer, nonce, now ms, retention ms, resource, at µs, rank, call
/// nonce. After the handler succeeded: raises the resource's version to this one unless a newer one
/// is there (never lowers it), settles the delivery done and lets go of the lock, all at once.
/// Returns 1, or 0 (nothing recorded) if the lease is no longer the attempt's.
const DONE: &str = r"
if not owned() then
  release(ARGV[8])
  return 0
end
local version = p .. 'v:' .. ARGV[8]
local applied = redis.call('HMGET', version, 'at', 'change')
if not applied[1] or not older(ARGV[9], ARGV[10], applied[1], applied[2]) then
  redis.call('HSET', version, 'at', ARGV[9], 'change', ARGV[10], 'by', ARGV[2], 'applied', ARGV[6])
end
settle('done', ARGV[6], ARGV[7], nil)
release(ARGV[8])
return 1
";

/// ARGV: prefix, id, entry, consumer, nonce, resource. Lets go of the resource's lock if this
/// attempt holds it (a failed, timed-out or abandoned attempt). Returns 1 if it did.
const RELEASE: &str = r"
local held = redis.call('GET', p .. 'lock:' .. ARGV[6]) == ARGV[5]
release(ARGV[6])
if held then return 1 end
return 0
";

pub(super) struct OrderScripts {
    pub(super) begin: redis::Script,
    pub(super) done: redis::Script,
    pub(super) release: redis::Script,
}

pub(super) static ORDER_SCRIPTS: std::sync::LazyLock<OrderScripts> =
    std::sync::LazyLock::new(|| {
        let script = |body: &str| redis::Script::new(&format!("{COMMON}{HELPERS}{body}"));
        OrderScripts {
            begin: script(BEGIN),
            done: script(DONE),
            release: script(RELEASE),
        }
    });
