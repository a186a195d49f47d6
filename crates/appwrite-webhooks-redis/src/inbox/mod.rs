//! An [`InboxStore`] on Redis Streams: any number of replicas receive into one inbox and work
//! from it.
//!
//! Under the prefix `P` (default [`DEFAULT_INBOX_PREFIX`]):
//!
//! | key | type | holds |
//! |---|---|---|
//! | `P d:<id>` | hash | one delivery: fingerprint, arrival, URI, headers, body, state, attempts, last error, its stream entry |
//! | `P fp:<fingerprint>` | string | the id holding that fingerprint (de-duplication at the door) |
//! | `P ready` | stream, group `workers` | one entry per delivery due now: `XREADGROUP` hands it to one worker, `XAUTOCLAIM` to another once its worker has been silent for the visibility timeout, `XACK`+`XDEL` when settled |
//! | `P retry` | sorted set | deliveries waiting for a retry, by due time; moved to `ready` when due |
//! | `P dead` | stream | the dead letters, with their last error and attempts |
//! | `P done` | sorted set | done deliveries by the end of their retention (their keys expire then) |
//! | `P ids` | sorted set | every id held, for listing |
//!
//! Every operation is one Lua script, so it happens whole or not at all, and every outcome is
//! checked against its lease (the stream entry and the consumer holding it): a worker whose
//! delivery was reclaimed cannot settle it.
//!
//! **Durability** is the server's: a `202` follows the write's reply, which Redis sends after
//! appending it to its AOF. With `appendonly yes` a restarted or killed `redis-server` loses
//! nothing acknowledged; add `appendfsync always` to survive a power loss too (`everysec`, the
//! default, may lose the last second). Replication is asynchronous: a failover can lose the last
//! writes.

use std::fmt;
use std::time::{Duration, SystemTime};

use appwrite_webhooks::StoreFuture;
use appwrite_webhooks::inbox::{
    InboxStore, Lease, Purge, Put, Received, State, Stats, Stored, Taken, from_unix_millis,
    unix_millis,
};
use appwrite_webhooks::{Fingerprint, StoreError};
use redis::aio::ConnectionManager;

use crate::connection::{bounded, boxed, eager_connection, lazy_connection};

/// The key prefix of a [`RedisInbox`] unless [`RedisInbox::prefix`] sets another.
pub const DEFAULT_INBOX_PREFIX: &str = "appwrite-webhooks:inbox:";

/// How long an inbox command may take unless [`RedisInbox::timeout`] sets another.
pub const DEFAULT_INBOX_TIMEOUT: Duration = Duration::from_secs(2);

/// An inbox in Redis; see the [module docs](self).
///
/// ```no_run
/// use appwrite_webhooks::inbox::Inbox;
/// use appwrite_webhooks_redis::RedisInbox;
///
/// # async fn run() -> Result<(), appwrite_webhooks::StoreError> {
/// let inbox = Inbox::new(RedisInbox::connect("redis://127.0.0.1:6379/").await?.prefix("shop:inbox:"));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisInbox {
    client: redis::Client,
    connection: ConnectionManager,
    prefix: String,
    timeout: Duration,
}

impl fmt::Debug for RedisInbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisInbox")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisInbox {
    /// Connects to `url`, failing if Redis cannot be reached now.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(boxed)?;
        let connection = eager_connection(&client, DEFAULT_INBOX_TIMEOUT).await?;
        Ok(Self::with(client, connection))
    }

    /// Like [`connect`](Self::connect), but connects on first use: a receiver starts while
    /// Redis is down and answers `503` until it is back.
    pub fn connect_lazily(url: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(boxed)?;
        let connection = lazy_connection(&client, DEFAULT_INBOX_TIMEOUT)?;
        Ok(Self::with(client, connection))
    }

    fn with(client: redis::Client, connection: ConnectionManager) -> Self {
        Self {
            client,
            connection,
            prefix: DEFAULT_INBOX_PREFIX.to_owned(),
            timeout: DEFAULT_INBOX_TIMEOUT,
        }
    }

    /// Sets the key prefix (default [`DEFAULT_INBOX_PREFIX`]): one inbox per prefix.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Bounds each command (default [`DEFAULT_INBOX_TIMEOUT`]); past it the store counts as
    /// unavailable (a `put` answers `503`; if Redis applied it after all, Appwrite's next copy
    /// is recognised as a duplicate and answered `202`). The connection is remade with it.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        if let Ok(connection) = lazy_connection(&self.client, timeout) {
            self.connection = connection;
            self.timeout = timeout;
        }
        self
    }

    async fn script<T: redis::FromRedisValue>(
        &self,
        script: &redis::Script,
        args: Vec<Arg>,
    ) -> Result<T, StoreError> {
        let mut invocation = script.prepare_invoke();
        invocation.arg(self.prefix.as_bytes());
        for arg in &args {
            match arg {
                Arg::Text(text) => invocation.arg(text.as_bytes()),
                Arg::Bytes(bytes) => invocation.arg(&bytes[..]),
            };
        }
        let mut connection = self.connection.clone();
        match bounded(self.timeout, invocation.invoke_async(&mut connection)).await {
            // A connection that broke since the last call (Redis restarted) fails once before
            // the manager reconnects: try once more. Every script is safe to repeat: a put that
            // did happen is a duplicate the second time, a take's entry is reclaimed after the
            // visibility timeout, and outcomes are checked against their lease.
            Err(error) if connection_lost(&error) => {
                bounded(self.timeout, invocation.invoke_async(&mut connection)).await
            }
            result => result,
        }
    }

    fn outcome<'a>(
        &'a self,
        script: &'static redis::Script,
        lease: &Lease,
        extra: Vec<Arg>,
    ) -> StoreFuture<'a, bool> {
        let mut args = lease_args(lease);
        args.extend(extra);
        Box::pin(async move { Ok(self.script::<i64>(script, args).await? == 1) })
    }
}

fn connection_lost(error: &StoreError) -> bool {
    error
        .0
        .downcast_ref::<redis::RedisError>()
        .is_some_and(|e| e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal())
}

enum Arg {
    Text(String),
    Bytes(Vec<u8>),
}

impl From<String> for Arg {
    fn from(text: String) -> Self {
        Arg::Text(text)
    }
}

impl From<&str> for Arg {
    fn from(text: &str) -> Self {
        Arg::Text(text.to_owned())
    }
}

fn now() -> String {
    unix_millis(SystemTime::now()).to_string()
}

fn millis(duration: Duration) -> String {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .clamp(1, 1 << 52)
        .to_string()
}

/// A lease's token is the stream entry and the consumer holding it.
fn lease_args(lease: &Lease) -> Vec<Arg> {
    let (entry, consumer) = lease.token.split_once(' ').unwrap_or((&lease.token, ""));
    vec![lease.id.to_string().into(), entry.into(), consumer.into()]
}

/// What the take, get and list scripts return per delivery.
type Row = (
    u64,
    String,
    u32,
    Option<String>,
    Vec<u8>,
    u64,
    String,
    Vec<u8>,
    Vec<u8>,
);

fn stored(row: Row) -> Result<Stored, StoreError> {
    let (id, state, attempts, last_error, fingerprint, at, uri, headers, body) = row;
    Ok(Stored {
        id,
        state: State::parse(&state).map_err(boxed)?,
        attempts,
        last_error: last_error.filter(|e| !e.is_empty()),
        received: Received {
            fingerprint,
            received_at: from_unix_millis(at),
            uri,
            headers: Received::parse_header_block(&headers).map_err(boxed)?,
            body: body.into(),
        },
    })
}

impl InboxStore for RedisInbox {
    fn put(&self, received: Received) -> StoreFuture<'_, Put> {
        Box::pin(async move {
            let args = vec![
                Fingerprint::new(&received.fingerprint).to_string().into(),
                Arg::Bytes(received.fingerprint.clone()),
                received.received_at_millis().to_string().into(),
                received.uri.as_str().into(),
                Arg::Bytes(received.header_block()),
                Arg::Bytes(received.body.to_vec()),
            ];
            let (stored, id): (i64, u64) = self.script(&SCRIPTS.put, args).await?;
            Ok(if stored == 1 {
                Put::Stored(id)
            } else {
                Put::Duplicate(id)
            })
        })
    }

    fn take(&self, worker: &str, visibility: Duration) -> StoreFuture<'_, Option<Taken>> {
        let args = vec![worker.into(), now().into(), millis(visibility).into()];
        let worker = worker.to_owned();
        Box::pin(async move {
            let taken: Option<(String, Row)> = self.script(&SCRIPTS.take, args).await?;
            let Some((entry, row)) = taken else {
                return Ok(None);
            };
            let stored = stored(row)?;
            Ok(Some(Taken {
                lease: Lease {
                    id: stored.id,
                    token: format!("{entry} {worker}"),
                },
                attempt: stored.attempts,
                received: stored.received,
            }))
        })
    }

    fn complete(&self, lease: &Lease, retention: Duration) -> StoreFuture<'_, bool> {
        self.outcome(
            &SCRIPTS.complete,
            lease,
            vec![now().into(), millis(retention).into()],
        )
    }

    fn retry_at(&self, lease: &Lease, error: &str, at: SystemTime) -> StoreFuture<'_, bool> {
        let due = unix_millis(at).to_string();
        self.outcome(&SCRIPTS.retry_at, lease, vec![due.into(), error.into()])
    }

    fn dead(&self, lease: &Lease, error: &str) -> StoreFuture<'_, bool> {
        self.outcome(&SCRIPTS.dead, lease, vec![error.into()])
    }

    fn hand_back(&self, lease: &Lease) -> StoreFuture<'_, bool> {
        self.outcome(&SCRIPTS.hand_back, lease, Vec::new())
    }

    fn stats(&self) -> StoreFuture<'_, Stats> {
        Box::pin(async move {
            let (pending, in_flight, done, dead): (u64, u64, u64, u64) =
                self.script(&SCRIPTS.stats, vec![now().into()]).await?;
            Ok(Stats {
                stored: pending + done + dead,
                pending,
                in_flight,
                done,
                dead,
            })
        })
    }

    fn list(&self, state: Option<State>, limit: usize) -> StoreFuture<'_, Vec<Stored>> {
        let args = vec![
            state.map_or("", State::as_str).into(),
            limit.to_string().into(),
        ];
        Box::pin(async move {
            let rows: Vec<Row> = self.script(&SCRIPTS.list, args).await?;
            rows.into_iter().map(stored).collect()
        })
    }

    fn get(&self, id: u64) -> StoreFuture<'_, Option<Stored>> {
        Box::pin(async move {
            let row: Option<Row> = self
                .script(&SCRIPTS.get, vec![id.to_string().into()])
                .await?;
            row.map(stored).transpose()
        })
    }

    fn retry(&self, id: u64) -> StoreFuture<'_, bool> {
        Box::pin(async move {
            Ok(self
                .script::<i64>(&SCRIPTS.retry, vec![id.to_string().into()])
                .await?
                == 1)
        })
    }

    fn retry_all_dead(&self) -> StoreFuture<'_, u64> {
        Box::pin(async move { self.script(&SCRIPTS.retry, vec!["all".into()]).await })
    }

    fn purge(&self, what: Purge) -> StoreFuture<'_, u64> {
        let dead = if what == Purge::DoneAndDead { "1" } else { "0" };
        Box::pin(async move {
            self.script(&SCRIPTS.purge, vec![now().into(), dead.into()])
                .await
        })
    }
}

/// Helpers every script starts with. `ARGV[1]` is the prefix.
const COMMON: &str = r"
local p = ARGV[1]
local stream = p .. 'ready'
local function row(id)
  local h = redis.call('HMGET', p .. 'd:' .. id, 'state', 'attempts', 'error', 'fp', 'at', 'uri', 'headers', 'body')
  if not h[1] then return false end
  return {tonumber(id), h[1], tonumber(h[2]), h[3], h[4], tonumber(h[5]), h[6], h[7], h[8]}
end
-- Whether entry ARGV[3] of delivery ARGV[2] is held by consumer ARGV[4].
local function owned()
  local key = p .. 'd:' .. ARGV[2]
  if redis.call('HGET', key, 'entry') ~= ARGV[3] then return false end
  local held = redis.call('XPENDING', stream, 'workers', ARGV[3], ARGV[3], 1)
  return held[1] ~= nil and held[1][2] == ARGV[4]
end
local function unready(entry)
  redis.call('XACK', stream, 'workers', entry)
  redis.call('XDEL', stream, entry)
end
local function ready(id)
  local entry = redis.call('XADD', stream, '*', 'id', id)
  redis.call('HSET', p .. 'd:' .. id, 'entry', entry)
end
";

/// ARGV: prefix, fingerprint hex, fingerprint, arrival ms, uri, headers, body.
/// Returns {1, id} when stored, {0, id} when that fingerprint is held.
const PUT: &str = r"
local fpkey = p .. 'fp:' .. ARGV[2]
local held = redis.call('GET', fpkey)
if held and redis.call('EXISTS', p .. 'd:' .. held) == 1 then return {0, tonumber(held)} end
local id = redis.call('INCR', p .. 'seq')
redis.call('HSET', p .. 'd:' .. id, 'fp', ARGV[3], 'fphex', ARGV[2], 'at', ARGV[4], 'uri', ARGV[5],
  'headers', ARGV[6], 'body', ARGV[7], 'state', 'pending', 'attempts', 0)
redis.call('SET', fpkey, id)
redis.call('ZADD', p .. 'ids', id, id)
ready(id)
return {1, id}
";

/// ARGV: prefix, consumer, now ms, visibility ms. Returns {entry, row} or nil.
const TAKE: &str = r"
if redis.call('EXISTS', stream) == 0 or #redis.call('XINFO', 'GROUPS', stream) == 0 then
  redis.call('XGROUP', 'CREATE', stream, 'workers', '0', 'MKSTREAM')
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', p .. 'retry', '-inf', ARGV[3], 'LIMIT', 0, 100)) do
  redis.call('ZREM', p .. 'retry', id)
  if redis.call('HGET', p .. 'd:' .. id, 'state') == 'pending' then ready(id) end
end
for _ = 1, 10 do
  local found = redis.call('XAUTOCLAIM', stream, 'workers', ARGV[2], ARGV[4], '0-0', 'COUNT', 1)[2][1]
  if not found then
    local read = redis.call('XREADGROUP', 'GROUP', 'workers', ARGV[2], 'COUNT', 1, 'STREAMS', stream, '>')
    if not read then return false end
    found = read[1][2][1]
  end
  local entry, id = found[1], found[2][2]
  local key = p .. 'd:' .. id
  if redis.call('HGET', key, 'entry') == entry and redis.call('HGET', key, 'state') == 'pending' then
    redis.call('HINCRBY', key, 'attempts', 1)
    return {entry, row(id)}
  end
  unready(entry) -- left over from a settled or purged delivery
end
return false
";

/// ARGV: prefix, id, entry, consumer, now ms, retention ms.
const COMPLETE: &str = r"
if not owned() then return 0 end
local key = p .. 'd:' .. ARGV[2]
unready(ARGV[3])
redis.call('HSET', key, 'state', 'done', 'entry', '')
redis.call('ZADD', p .. 'done', ARGV[5] + ARGV[6], ARGV[2])
redis.call('PEXPIRE', key, ARGV[6])
redis.call('PEXPIRE', p .. 'fp:' .. redis.call('HGET', key, 'fphex'), ARGV[6])
return 1
";

/// ARGV: prefix, id, entry, consumer, due ms, error.
const RETRY_AT: &str = r"
if not owned() then return 0 end
unready(ARGV[3])
redis.call('HSET', p .. 'd:' .. ARGV[2], 'entry', '', 'error', ARGV[6])
redis.call('ZADD', p .. 'retry', ARGV[5], ARGV[2])
return 1
";

/// ARGV: prefix, id, entry, consumer, error.
const DEAD: &str = r"
if not owned() then return 0 end
local key = p .. 'd:' .. ARGV[2]
unready(ARGV[3])
local letter = redis.call('XADD', p .. 'dead', '*', 'id', ARGV[2], 'error', ARGV[5],
  'attempts', redis.call('HGET', key, 'attempts'))
redis.call('HSET', key, 'state', 'dead', 'entry', '', 'error', ARGV[5], 'letter', letter)
return 1
";

/// ARGV: prefix, id, entry, consumer.
const HAND_BACK: &str = r"
if not owned() then return 0 end
local key = p .. 'd:' .. ARGV[2]
unready(ARGV[3])
if tonumber(redis.call('HGET', key, 'attempts')) > 0 then redis.call('HINCRBY', key, 'attempts', -1) end
ready(ARGV[2])
return 1
";

/// ARGV: prefix, now ms. Returns {pending, in flight, done, dead}.
const STATS: &str = r"
local done = p .. 'done'
for _, id in ipairs(redis.call('ZRANGEBYSCORE', done, '-inf', ARGV[2])) do
  redis.call('ZREM', p .. 'ids', id)
end
redis.call('ZREMRANGEBYSCORE', done, '-inf', ARGV[2])
local in_flight = 0
if redis.call('EXISTS', stream) == 1 and #redis.call('XINFO', 'GROUPS', stream) > 0 then
  in_flight = redis.call('XPENDING', stream, 'workers')[1]
end
local pending = redis.call('ZCARD', p .. 'retry')
if redis.call('EXISTS', stream) == 1 then pending = pending + redis.call('XLEN', stream) end
return {pending, in_flight, redis.call('ZCARD', done), redis.call('XLEN', p .. 'dead')}
";

/// ARGV: prefix, state or '', limit. Oldest first.
const LIST: &str = r"
local out, limit, from = {}, tonumber(ARGV[3]), 0
while #out < limit do
  local ids = redis.call('ZRANGE', p .. 'ids', from, from + 499)
  if #ids == 0 then break end
  from = from + #ids
  for _, id in ipairs(ids) do
    local r = row(id)
    if not r then redis.call('ZREM', p .. 'ids', id); from = from - 1
    elseif ARGV[2] == '' or r[2] == ARGV[2] then
      table.insert(out, r)
      if #out == limit then break end
    end
  end
end
return out
";

/// ARGV: prefix, id.
const GET: &str = r"
return row(ARGV[2])
";

/// ARGV: prefix, id or 'all'. Returns how many dead letters are pending again.
const RETRY: &str = r"
local function revive(id)
  local key = p .. 'd:' .. id
  if redis.call('HGET', key, 'state') ~= 'dead' then return 0 end
  redis.call('XDEL', p .. 'dead', redis.call('HGET', key, 'letter'))
  redis.call('HSET', key, 'state', 'pending', 'attempts', 0, 'letter', '')
  ready(id)
  return 1
end
if ARGV[2] ~= 'all' then return revive(ARGV[2]) end
local n = 0
for _, letter in ipairs(redis.call('XRANGE', p .. 'dead', '-', '+')) do
  n = n + revive(letter[2][2])
end
return n
";

/// ARGV: prefix, now ms, '1' to purge the dead letters too. Returns how many were deleted.
const PURGE: &str = r"
local n = 0
local function forget(id)
  local key = p .. 'd:' .. id
  local fphex = redis.call('HGET', key, 'fphex')
  if fphex then redis.call('DEL', p .. 'fp:' .. fphex) end
  n = n + redis.call('DEL', key)
  redis.call('ZREM', p .. 'ids', id)
end
redis.call('ZREMRANGEBYSCORE', p .. 'done', '-inf', ARGV[2])
for _, id in ipairs(redis.call('ZRANGE', p .. 'done', 0, -1)) do forget(id) end
redis.call('DEL', p .. 'done')
if ARGV[3] == '1' then
  for _, letter in ipairs(redis.call('XRANGE', p .. 'dead', '-', '+')) do forget(letter[2][2]) end
  redis.call('DEL', p .. 'dead')
end
return n
";

struct Scripts {
    put: redis::Script,
    take: redis::Script,
    complete: redis::Script,
    retry_at: redis::Script,
    dead: redis::Script,
    hand_back: redis::Script,
    stats: redis::Script,
    list: redis::Script,
    get: redis::Script,
    retry: redis::Script,
    purge: redis::Script,
}

static SCRIPTS: std::sync::LazyLock<Scripts> = std::sync::LazyLock::new(|| {
    let script = |body: &str| redis::Script::new(&format!("{COMMON}{body}"));
    Scripts {
        put: script(PUT),
        take: script(TAKE),
        complete: script(COMPLETE),
        retry_at: script(RETRY_AT),
        dead: script(DEAD),
        hand_back: script(HAND_BACK),
        stats: script(STATS),
        list: script(LIST),
        get: script(GET),
        retry: script(RETRY),
        purge: script(PURGE),
    }
});
