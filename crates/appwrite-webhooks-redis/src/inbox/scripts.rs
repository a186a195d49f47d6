//! The inbox's Lua scripts. Each runs whole or not at all, and each does a bounded amount of
//! work: Redis runs one script at a time and nothing else meanwhile, so a script over an
//! unbounded number of keys would stall every receiver's `put`. Administration that may touch
//! many deliveries (`list`, `purge`, `requeue_dead`) is a loop of calls from Rust, each over
//! at most [`BATCH`] of them.

/// The most deliveries one script call looks at.
pub(crate) const BATCH: usize = 500;

/// Helpers every script starts with. `ARGV[1]` is the prefix.
pub(super) const COMMON: &str = r"
local p = ARGV[1]
local stream = p .. 'ready'
local function row(id)
  local h = redis.call('HMGET', p .. 'd:' .. id, 'state', 'attempts', 'error', 'fp', 'at', 'uri', 'headers', 'body')
  if not h[1] then return false end
  return {tonumber(id), h[1], tonumber(h[2]), h[3], h[4], tonumber(h[5]), h[6], h[7], h[8]}
end
-- Whether ARGV[2..5] (delivery id, stream entry, consumer, lease nonce) is the delivery's
-- current attempt: the nonce is written by the take that started the attempt and cleared when
-- it is settled, so an attempt whose delivery was taken again (even by a worker of the same
-- name, on the same stream entry) no longer matches.
local function owned()
  if ARGV[5] == '' then return false end
  local held = redis.call('HMGET', p .. 'd:' .. ARGV[2], 'entry', 'lease', 'state')
  return held[1] == ARGV[3] and held[2] == ARGV[5] and held[3] == 'pending'
end
-- What every outcome writes as the delivery's `settled`: the nonce of the call that settled it,
-- its last argument. An outcome sent again after its answer was lost with the connection reads
-- it (`RedisLedger::holds_nonce`) to answer as the first call did, not as a lost lease.
local function settlement()
  return ARGV[#ARGV]
end
local function unready(entry)
  redis.call('XACK', stream, 'workers', entry)
  redis.call('XDEL', stream, entry)
end
local function ready(id)
  local entry = redis.call('XADD', stream, '*', 'id', id)
  redis.call('HSET', p .. 'd:' .. id, 'entry', entry, 'lease', '')
end
-- The history of attempts (what the web view shows): `P a:ID`, a list of the delivery's newest
-- 64 attempts as JSON arrays [attempt, worker, started ms, ended ms, outcome, error], and
-- `P m:MINUTE`, a hash counting what happened in that minute (received, done, retried, failed),
-- kept for a week (`ACTIVITY_MINUTES_MAX`). Times are the Redis server's, as one clock for every replica.
local function clock_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function count(field, at)
  local key = p .. 'm:' .. math.floor(at / 60000)
  redis.call('HINCRBY', key, field, 1)
  redis.call('PEXPIRE', key, 604800000)
end
-- Ends the attempt still running, if any: with `outcome` (and `err`), or abandoned.
local function end_attempt(id, outcome, err)
  local key = p .. 'a:' .. id
  local last = redis.call('LINDEX', key, -1)
  if not last then return end
  local r = cjson.decode(last)
  if r[5] ~= 'running' then return end
  r[5] = outcome
  if outcome ~= 'abandoned' then
    r[4] = clock_ms()
    local field = ({done = 'done', retry = 'retried', dead = 'failed'})[outcome]
    if field then count(field, r[4]) end
  end
  if err then r[6] = err end
  redis.call('LSET', key, -1, cjson.encode(r))
end
local function begin_attempt(id, worker, attempt)
  local key = p .. 'a:' .. id
  end_attempt(id, 'abandoned', nil) -- its lease ran out without an outcome: its worker died
  redis.call('RPUSH', key, cjson.encode({attempt, worker, clock_ms(), cjson.null, 'running', cjson.null}))
  redis.call('LTRIM', key, -64, -1)
end
-- Gives a delivery taken on `entry` back, its attempt not counted: due again at once.
local function give_back(id, entry)
  local key = p .. 'd:' .. id
  unready(entry)
  if tonumber(redis.call('HGET', key, 'attempts')) > 0 then redis.call('HINCRBY', key, 'attempts', -1) end
  end_attempt(id, 'handed back', nil)
  ready(id)
end
";

/// ARGV: prefix, fingerprint hex, fingerprint, arrival ms, uri, headers, body, put nonce.
/// Returns {1, id} when stored, {0, id} when that fingerprint is held. The nonce, unique per
/// `put`, is kept as the delivery's `put`: the same call sent again (its answer lost with the
/// connection) reads it to answer "stored", not "duplicate" (`RedisLedger::holds_nonce`).
const PUT: &str = r"
local fpkey = p .. 'fp:' .. ARGV[2]
local held = redis.call('GET', fpkey)
if held and redis.call('EXISTS', p .. 'd:' .. held) == 1 then return {0, tonumber(held)} end
local id = redis.call('INCR', p .. 'seq')
redis.call('HSET', p .. 'd:' .. id, 'fp', ARGV[3], 'fphex', ARGV[2], 'at', ARGV[4], 'uri', ARGV[5],
  'headers', ARGV[6], 'body', ARGV[7], 'state', 'pending', 'attempts', 0, 'put', ARGV[8])
redis.call('SET', fpkey, id)
redis.call('ZADD', p .. 'ids', id, id)
ready(id)
count('received', tonumber(ARGV[4]))
return {1, id}
";

/// `PUT` for a delivery whose label must be one of its body's few (see `crate::labels`):
/// ARGV[9..12] are the body's label set, the label, the limit and how long the set is kept.
/// Returns {-1, 0} when the set is full without the label, otherwise what `PUT` returns.
const LABELLED: &str = r"
if not admit(ARGV[9], ARGV[10], ARGV[11], ARGV[12]) then return {-1, 0} end
";

/// ARGV: prefix, consumer, now ms, visibility ms, lease nonce. Returns {entry, row} or nil.
///
/// A pending delivery is due again if it is in `retry` (by time) or has an entry in `ready`
/// (new, or held by a worker). One whose entry vanished — `XTRIM`/`XDEL` on the stream, a
/// stream deleted or lost — would be in neither and wait forever, so `repair` looks for them:
/// in a take that found nothing (an idle worker) and, while workers are busy, once a second,
/// each time over the next [`BATCH`] / 5 ids (a cursor in `P repair`), giving each such
/// delivery a new entry.
const TAKE: &str = r"
if redis.call('EXISTS', stream) == 0 or #redis.call('XINFO', 'GROUPS', stream) == 0 then
  redis.call('XGROUP', 'CREATE', stream, 'workers', '0', 'MKSTREAM')
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', p .. 'retry', '-inf', ARGV[3], 'LIMIT', 0, 100)) do
  redis.call('ZREM', p .. 'retry', id)
  if redis.call('HGET', p .. 'd:' .. id, 'state') == 'pending' then ready(id) end
end
local function repair(n)
  local cursor = redis.call('GET', p .. 'repair') or '0'
  local ids = redis.call('ZRANGEBYSCORE', p .. 'ids', '(' .. cursor, '+inf', 'LIMIT', 0, n)
  if #ids < n then redis.call('SET', p .. 'repair', '0') else redis.call('SET', p .. 'repair', ids[#ids]) end
  local fixed = 0
  for _, id in ipairs(ids) do
    local h = redis.call('HMGET', p .. 'd:' .. id, 'state', 'entry')
    if h[1] == 'pending' and not redis.call('ZSCORE', p .. 'retry', id) then
      local lost = not h[2] or h[2] == ''
      if not lost then
        local listed = #redis.call('XRANGE', stream, h[2], h[2]) > 0
        local held = #redis.call('XPENDING', stream, 'workers', h[2], h[2], 1) > 0
        lost = not listed and not held
      end
      if lost then
        ready(id)
        fixed = fixed + 1
      end
    end
  end
  return fixed
end
local function next_entry()
  local found = redis.call('XAUTOCLAIM', stream, 'workers', ARGV[2], ARGV[4], '0-0', 'COUNT', 1)[2][1]
  if found then return found end
  local read = redis.call('XREADGROUP', 'GROUP', 'workers', ARGV[2], 'COUNT', 1, 'STREAMS', stream, '>')
  if read then return read[1][2][1] end
  return nil
end
local repaired = false
if redis.call('SET', p .. 'repair:due', '1', 'NX', 'PX', 1000) then
  repair(100)
  repaired = true
end
for _ = 1, 10 do
  local found = next_entry()
  if not found and not repaired then
    repaired = true
    if repair(100) > 0 then found = next_entry() end
  end
  if not found then return false end
  local entry = found[1]
  -- Redis before 7.0 hands out an entry deleted from the stream with no fields.
  local id = found[2] and found[2][2]
  local key = p .. 'd:' .. tostring(id)
  if id and redis.call('HGET', key, 'entry') == entry and redis.call('HGET', key, 'state') == 'pending' then
    local attempt = redis.call('HINCRBY', key, 'attempts', 1)
    redis.call('HSET', key, 'lease', ARGV[5])
    begin_attempt(id, ARGV[2], attempt)
    return {entry, row(id)}
  end
  unready(entry) -- left over from a settled, repaired or purged delivery
end
return false
";

/// ARGV: prefix, id, entry, consumer, nonce, now ms, retention ms, call nonce.
const COMPLETE: &str = r"
if not owned() then return 0 end
local key = p .. 'd:' .. ARGV[2]
unready(ARGV[3])
redis.call('HSET', key, 'state', 'done', 'entry', '', 'lease', '', 'settled', settlement())
redis.call('ZADD', p .. 'done', ARGV[6] + ARGV[7], ARGV[2])
end_attempt(ARGV[2], 'done', nil)
redis.call('PEXPIRE', key, ARGV[7])
redis.call('PEXPIRE', p .. 'a:' .. ARGV[2], ARGV[7])
redis.call('PEXPIRE', p .. 'fp:' .. redis.call('HGET', key, 'fphex'), ARGV[7])
return 1
";

/// ARGV: prefix, id, entry, consumer, nonce, due ms, error, call nonce.
const RETRY_AT: &str = r"
if not owned() then return 0 end
unready(ARGV[3])
redis.call('HSET', p .. 'd:' .. ARGV[2], 'entry', '', 'lease', '', 'settled', settlement(),
  'error', ARGV[7])
redis.call('ZADD', p .. 'retry', ARGV[6], ARGV[2])
end_attempt(ARGV[2], 'retry', ARGV[7])
return 1
";

/// ARGV: prefix, id, entry, consumer, nonce, error, call nonce.
const DEAD: &str = r"
if not owned() then return 0 end
local key = p .. 'd:' .. ARGV[2]
unready(ARGV[3])
local letter = redis.call('XADD', p .. 'dead', '*', 'id', ARGV[2], 'error', ARGV[6],
  'attempts', redis.call('HGET', key, 'attempts'))
redis.call('HSET', key, 'state', 'dead', 'entry', '', 'lease', '', 'settled', settlement(),
  'error', ARGV[6], 'letter', letter)
end_attempt(ARGV[2], 'dead', ARGV[6])
return 1
";

/// ARGV: prefix, id, entry, consumer, nonce, call nonce.
const HAND_BACK: &str = r"
if not owned() then return 0 end
give_back(ARGV[2], ARGV[3])
redis.call('HSET', p .. 'd:' .. ARGV[2], 'settled', settlement())
return 1
";

/// ARGV: prefix, consumer, lease nonce, the entry of the delivery taken ('' if none). For a
/// `TAKE` sent twice: its first call may have taken a delivery under the same nonce whose
/// answer was lost, which no worker will settle; gives back each such delivery the consumer
/// holds (among its first 100 entries), so it is due again now, not after the visibility
/// timeout. Returns how many it gave back.
const GIVE_BACK_LOST_TAKE: &str = r"
if redis.call('EXISTS', stream) == 0 or #redis.call('XINFO', 'GROUPS', stream) == 0 then return 0 end
local given = 0
for _, pending in ipairs(redis.call('XPENDING', stream, 'workers', '-', '+', 100, ARGV[2])) do
  local entry = pending[1]
  local found = entry ~= ARGV[4] and redis.call('XRANGE', stream, entry, entry)[1]
  local id = found and found[2] and found[2][2]
  if id then
    local held = redis.call('HMGET', p .. 'd:' .. id, 'entry', 'lease', 'state')
    if held[1] == entry and held[2] == ARGV[3] and held[3] == 'pending' then
      give_back(id, entry)
      given = given + 1
    end
  end
end
return given
";

/// ARGV: prefix, now ms. Returns {pending, in flight, done, dead, stale}. Forgets at most
/// [`BATCH`] ids whose retention passed (their keys expired by themselves); those left are not
/// counted. Stale deliveries are in `done` and in `stale` alike, with the same score (see the
/// ordering scripts), so they count once, as stale.
const STATS: &str = r"
local done = p .. 'done'
for _, id in ipairs(redis.call('ZRANGEBYSCORE', done, '-inf', ARGV[2], 'LIMIT', 0, 500)) do
  redis.call('ZREM', p .. 'ids', id)
  redis.call('ZREM', done, id)
  redis.call('ZREM', p .. 'stale', id)
end
local in_flight = 0
if redis.call('EXISTS', stream) == 1 and #redis.call('XINFO', 'GROUPS', stream) > 0 then
  in_flight = redis.call('XPENDING', stream, 'workers')[1]
end
local pending = redis.call('ZCARD', p .. 'retry')
if redis.call('EXISTS', stream) == 1 then pending = pending + redis.call('XLEN', stream) end
local stale = redis.call('ZCOUNT', p .. 'stale', '(' .. ARGV[2], '+inf')
local settled = redis.call('ZCOUNT', done, '(' .. ARGV[2], '+inf')
return {pending, in_flight, settled - stale, redis.call('XLEN', p .. 'dead'), stale}
";

/// ARGV: prefix, state or '', how many more rows, cursor (the last id looked at, 0 first).
/// Looks at up to [`BATCH`] ids after the cursor, oldest first. Returns {more, cursor, rows}:
/// `more` is 0 once the last id was looked at.
const LIST: &str = r"
local out, limit = {}, tonumber(ARGV[3])
local ids = redis.call('ZRANGEBYSCORE', p .. 'ids', '(' .. ARGV[4], '+inf', 'LIMIT', 0, 500)
local cursor = ARGV[4]
for _, id in ipairs(ids) do
  cursor = id
  local r = row(id)
  if not r then redis.call('ZREM', p .. 'ids', id)
  elseif ARGV[2] == '' or r[2] == ARGV[2] then
    table.insert(out, r)
    if #out == limit then return {1, cursor, out} end
  end
end
if #ids < 500 then return {0, cursor, out} end
return {1, cursor, out}
";

/// ARGV: prefix, id.
const GET: &str = r"
return row(ARGV[2])
";

/// ARGV: prefix, id. The delivery's recorded attempts, oldest first (JSON arrays).
const ATTEMPTS: &str = r"
if redis.call('EXISTS', p .. 'd:' .. ARGV[2]) == 0 then return {} end
return redis.call('LRANGE', p .. 'a:' .. ARGV[2], 0, -1)
";

/// ARGV: prefix, first minute (minutes since 1970), how many minutes. Returns per minute
/// {received, done, retried, failed}, flattened.
const ACTIVITY: &str = r"
local out = {}
for m = tonumber(ARGV[2]), tonumber(ARGV[2]) + tonumber(ARGV[3]) - 1 do
  local h = redis.call('HMGET', p .. 'm:' .. m, 'received', 'done', 'retried', 'failed')
  for i = 1, 4 do table.insert(out, tonumber(h[i]) or 0) end
end
return out
";

/// Makes a dead letter pending again; shared by `retry` and `requeue_dead`.
const REVIVE: &str = r"
local function revive(id)
  local key = p .. 'd:' .. id
  if redis.call('HGET', key, 'state') ~= 'dead' then return 0 end
  redis.call('XDEL', p .. 'dead', redis.call('HGET', key, 'letter'))
  redis.call('HSET', key, 'state', 'pending', 'attempts', 0, 'letter', '')
  ready(id)
  return 1
end
";

/// ARGV: prefix, id. Returns 1 if that dead letter is pending again.
const RETRY: &str = r"
return revive(ARGV[2])
";

/// ARGV: prefix, cursor (the last letter looked at, '' first), end (the last letter when the
/// first call ran, '' first). Revives up to [`BATCH`] letters after the cursor, up to the end
/// (letters written meanwhile, by deliveries revived and failed again, are left alone).
/// Returns {revived, letters looked at, cursor, end}.
const RETRY_DEAD: &str = r"
local dead = p .. 'dead'
local last = ARGV[3]
if last == '' then
  local newest = redis.call('XREVRANGE', dead, '+', '-', 'COUNT', 1)[1]
  if not newest then return {0, 0, '', ''} end
  last = newest[1]
end
local from = '-'
if ARGV[2] ~= '' then from = '(' .. ARGV[2] end
local letters = redis.call('XRANGE', dead, from, last, 'COUNT', 500)
local n, cursor = 0, ARGV[2]
for _, letter in ipairs(letters) do
  n = n + revive(letter[2][2])
  cursor = letter[1]
end
return {n, #letters, cursor, last}
";

/// Deletes a delivery and what points to it. `n` counts deleted deliveries.
const FORGET: &str = r"
local n = 0
local function forget(id)
  local key = p .. 'd:' .. id
  local fphex = redis.call('HGET', key, 'fphex')
  if fphex and redis.call('GET', p .. 'fp:' .. fphex) == id then redis.call('DEL', p .. 'fp:' .. fphex) end
  n = n + redis.call('DEL', key)
  redis.call('DEL', p .. 'a:' .. id)
  redis.call('ZREM', p .. 'ids', id)
end
";

/// ARGV: prefix, now ms. Deletes up to [`BATCH`] done (and stale) deliveries (first those whose
/// retention passed). Returns {deleted, looked at, done left}.
const PURGE_DONE: &str = r"
local done = p .. 'done'
local expired = redis.call('ZRANGEBYSCORE', done, '-inf', ARGV[2], 'LIMIT', 0, 500)
for _, id in ipairs(expired) do
  redis.call('ZREM', p .. 'ids', id)
  redis.call('ZREM', done, id)
  redis.call('ZREM', p .. 'stale', id)
end
local seen = #expired
if seen < 500 then
  for _, id in ipairs(redis.call('ZRANGE', done, 0, 499 - seen)) do
    forget(id)
    redis.call('ZREM', done, id)
    redis.call('ZREM', p .. 'stale', id)
    seen = seen + 1
  end
end
return {n, seen, redis.call('ZCARD', done)}
";

/// ARGV: prefix, cursor, end, as [`RETRY_DEAD`]. Deletes up to [`BATCH`] dead letters and
/// their deliveries. Returns {deleted, letters looked at, cursor, end}.
const PURGE_DEAD: &str = r"
local dead = p .. 'dead'
local last = ARGV[3]
if last == '' then
  local newest = redis.call('XREVRANGE', dead, '+', '-', 'COUNT', 1)[1]
  if not newest then return {0, 0, '', ''} end
  last = newest[1]
end
local from = '-'
if ARGV[2] ~= '' then from = '(' .. ARGV[2] end
local letters = redis.call('XRANGE', dead, from, last, 'COUNT', 500)
local cursor = ARGV[2]
for _, letter in ipairs(letters) do
  local id = letter[2][2]
  local state = redis.call('HGET', p .. 'd:' .. id, 'state')
  if state == 'dead' or not state then forget(id) end
  redis.call('XDEL', dead, letter[1])
  cursor = letter[1]
end
return {n, #letters, cursor, last}
";

/// ARGV: prefix, id. Deletes that dead letter and its delivery; returns 1 if it was one.
const DELETE_DEAD: &str = r"
local key = p .. 'd:' .. ARGV[2]
if redis.call('HGET', key, 'state') ~= 'dead' then return 0 end
redis.call('XDEL', p .. 'dead', redis.call('HGET', key, 'letter'))
forget(ARGV[2])
return n
";

pub(crate) struct Scripts {
    pub(crate) put: redis::Script,
    pub(crate) label_and_put: redis::Script,
    pub(crate) take: redis::Script,
    pub(crate) complete: redis::Script,
    pub(crate) retry_at: redis::Script,
    pub(crate) dead: redis::Script,
    pub(crate) hand_back: redis::Script,
    pub(crate) give_back_lost_take: redis::Script,
    pub(crate) stats: redis::Script,
    pub(crate) list: redis::Script,
    pub(crate) get: redis::Script,
    pub(crate) attempts: redis::Script,
    pub(crate) activity: redis::Script,
    pub(crate) retry: redis::Script,
    pub(crate) retry_dead: redis::Script,
    pub(crate) purge_done: redis::Script,
    pub(crate) purge_dead: redis::Script,
    pub(crate) delete_dead: redis::Script,
}

pub(crate) static SCRIPTS: std::sync::LazyLock<Scripts> = std::sync::LazyLock::new(|| {
    let script = |parts: &[&str]| redis::Script::new(&format!("{COMMON}{}", parts.concat()));
    Scripts {
        put: script(&[PUT]),
        label_and_put: script(&[crate::labels::ADMIT, LABELLED, PUT]),
        take: script(&[TAKE]),
        complete: script(&[COMPLETE]),
        retry_at: script(&[RETRY_AT]),
        dead: script(&[DEAD]),
        hand_back: script(&[HAND_BACK]),
        give_back_lost_take: script(&[GIVE_BACK_LOST_TAKE]),
        stats: script(&[STATS]),
        list: script(&[LIST]),
        get: script(&[GET]),
        attempts: script(&[ATTEMPTS]),
        activity: script(&[ACTIVITY]),
        retry: script(&[REVIVE, RETRY]),
        retry_dead: script(&[REVIVE, RETRY_DEAD]),
        purge_done: script(&[FORGET, PURGE_DONE]),
        purge_dead: script(&[FORGET, PURGE_DEAD]),
        delete_dead: script(&[FORGET, DELETE_DEAD]),
    }
});
