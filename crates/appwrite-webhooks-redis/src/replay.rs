//! A [`ReplayStore`] in Redis: see the crate docs for its keys and scripts.

use std::fmt;
use std::time::Duration;

use appwrite_webhooks::{
    ClaimOutcome, Fingerprint, LeaseToken, ReplayStore, StoreError, StoreFuture,
};
use redis::aio::ConnectionManager;

use crate::connection::{bounded, boxed, eager_connection, lazy_connection};
use crate::durability::{Gate, Needs};

/// A replay store needs no eviction of its keys; it does not need `appendonly`: a restart that
/// forgets handled deliveries only means a later copy is handled again (handlers run at least
/// once anyway), while an eviction would happen silently, at any time, under memory pressure.
const NEEDS: Needs = Needs { append_only: false };

/// The key prefix used unless [`RedisStore::prefix`] sets another.
pub const DEFAULT_PREFIX: &str = "appwrite-webhooks:seen:";

/// How long a command may take unless [`RedisStore::timeout`] sets another.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

/// A [`ReplayStore`] in Redis.
#[derive(Clone)]
pub struct RedisStore {
    client: redis::Client,
    connection: ConnectionManager,
    prefix: String,
    timeout: Duration,
    gate: Gate,
}

/// The options of a [`RedisStore`], set before it connects.
///
/// ```no_run
/// use std::time::Duration;
/// use appwrite_webhooks_redis::RedisStore;
///
/// # async fn run() -> Result<(), appwrite_webhooks::StoreError> {
/// let store = RedisStore::builder("redis://127.0.0.1:6379/")
///     .prefix("shop:appwrite:")
///     .timeout(Duration::from_millis(300))
///     .connect()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RedisStoreBuilder {
    url: String,
    prefix: String,
    timeout: Duration,
    allow_data_loss: bool,
}

impl RedisStoreBuilder {
    /// Sets the key prefix (default [`DEFAULT_PREFIX`]).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Bounds each command and each (re)connection (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Runs on a Redis whose `maxmemory-policy` may evict keys, or whose settings cannot be
    /// read (`CONFIG` renamed or forbidden, as on many managed services). Without it the
    /// store refuses such a server with a [`DataLossRisk`](crate::DataLossRisk).
    ///
    /// The consequence: an evicted pending claim lets another replica handle a delivery while
    /// its first handler still runs, and an evicted done record lets a repeat (or a relabelled
    /// replay) be handled again within the TTL. Use it only for a server you have checked
    /// yourself.
    pub fn allow_data_loss(mut self) -> Self {
        self.allow_data_loss = true;
        self
    }

    /// Connects now, failing if Redis cannot be reached or may evict the store's keys
    /// ([`DataLossRisk`](crate::DataLossRisk), unless [`allow_data_loss`](Self::allow_data_loss)).
    pub async fn connect(self) -> Result<RedisStore, StoreError> {
        let client = redis::Client::open(self.url.as_str()).map_err(boxed)?;
        let connection = eager_connection(&client, self.timeout).await?;
        let gate = Gate::new(NEEDS, self.allow_data_loss);
        gate.pass(&connection, self.timeout).await?;
        Ok(RedisStore {
            client,
            connection,
            prefix: self.prefix,
            timeout: self.timeout,
            gate,
        })
    }

    /// Connects on first use: the receiver starts even while Redis is down, and the guard's
    /// failure policy answers until it is back. The server's settings are checked before the
    /// first command (every command fails with the [`DataLossRisk`](crate::DataLossRisk) until
    /// they pass).
    pub fn connect_lazily(self) -> Result<RedisStore, StoreError> {
        let client = redis::Client::open(self.url.as_str()).map_err(boxed)?;
        let connection = lazy_connection(&client, self.timeout)?;
        Ok(RedisStore {
            client,
            connection,
            prefix: self.prefix,
            timeout: self.timeout,
            gate: Gate::new(NEEDS, self.allow_data_loss),
        })
    }
}

impl RedisStore {
    /// A builder for a store at `url` (`redis://host:port/db`, `rediss://` for TLS if the
    /// `redis` crate is built with it).
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder {
            url: url.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            allow_data_loss: false,
        }
    }

    /// Connects to `url` with the default options, failing if Redis cannot be reached now or
    /// may evict the store's keys ([`DataLossRisk`](crate::DataLossRisk)).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::builder(url).connect().await
    }

    /// Like [`connect`](Self::connect), but connects on first use.
    pub fn connect_lazily(url: &str) -> Result<Self, StoreError> {
        Self::builder(url).connect_lazily()
    }

    /// Sets the key prefix (default [`DEFAULT_PREFIX`]), to share a Redis between receivers or
    /// environments.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Bounds each command and each (re)connection (default [`DEFAULT_TIMEOUT`]): past it the
    /// store counts as unavailable. Keep it well under Appwrite's 15 s delivery timeout. Zero
    /// makes every command fail at once (the guard's failure policy answers); `Duration::MAX`
    /// waits as long as Redis takes.
    ///
    /// The connection manager fixes its own timeouts when it is made, so a new one with this
    /// timeout replaces the current connection; it connects on first use.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        // Making a lazy manager from a client that already opened cannot fail on the network;
        // should it fail anyway, the store keeps its connection and its timeout together.
        if let Ok(connection) = lazy_connection(&self.client, timeout) {
            self.connection = connection;
            self.timeout = timeout;
        }
        self
    }

    /// For a store made with [`connect_lazily`](Self::connect_lazily): see
    /// [`RedisStoreBuilder::allow_data_loss`]. (A store that connected has passed the check.)
    pub fn allow_data_loss(mut self) -> Self {
        self.gate.allow_data_loss();
        self
    }

    fn key(&self, fingerprint: &Fingerprint) -> String {
        format!("{}{fingerprint}", self.prefix)
    }

    /// Runs `command`, bounded by the timeout.
    async fn query<T: redis::FromRedisValue>(&self, command: redis::Cmd) -> Result<T, StoreError> {
        self.gate.pass(&self.connection, self.timeout).await?;
        let mut connection = self.connection.clone();
        bounded(self.timeout, command.query_async(&mut connection)).await
    }

    /// Runs `script` on the claim's key with `args`, bounded by the timeout.
    async fn run(
        &self,
        script: &redis::Script,
        fingerprint: &Fingerprint,
        args: &[&str],
    ) -> Result<i64, StoreError> {
        self.gate.pass(&self.connection, self.timeout).await?;
        let mut invocation = script.key(self.key(fingerprint));
        for arg in args {
            invocation.arg(*arg);
        }
        let mut connection = self.connection.clone();
        bounded(self.timeout, invocation.invoke_async(&mut connection)).await
    }
}

/// Claims: 1 when this owner now holds the key as pending, 2 when it is done, 0 when another
/// attempt holds it as pending.
const CLAIM: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
local held = redis.call('GET', KEYS[1])
if held and string.sub(held, 1, 2) == 'd:' then return 2 end
return 0
";

/// Marks done when this owner holds the key as pending, or nobody does: 1 if it did.
const COMPLETE: &str = r"
local held = redis.call('GET', KEYS[1])
if held == false or held == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
";

/// Deletes the key when this owner holds it as pending: 1 if it did.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// The scripts, hashed once (`EVALSHA`, falling back to `EVAL` when the server lacks them).
struct Scripts {
    claim: redis::Script,
    complete: redis::Script,
    release: redis::Script,
}

static SCRIPTS: std::sync::LazyLock<Scripts> = std::sync::LazyLock::new(|| Scripts {
    claim: redis::Script::new(CLAIM),
    complete: redis::Script::new(COMPLETE),
    release: redis::Script::new(RELEASE),
});

fn millis(duration: Duration) -> String {
    // Redis refuses expiry times past about 292 million years; the guard's longest is 100.
    u64::try_from(duration.min(appwrite_webhooks::MAX_TTL).as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
        .to_string()
}

fn pending(owner: &LeaseToken) -> String {
    format!("p:{owner}")
}

impl ReplayStore for RedisStore {
    fn claim<'a>(
        &'a self,
        fingerprint: &'a Fingerprint,
        owner: &'a LeaseToken,
        lease: Duration,
    ) -> StoreFuture<'a, ClaimOutcome> {
        Box::pin(async move {
            // A new delivery is the common case: a plain `SET NX PX` claims it. Only when the
            // key exists does the script run, to tell a pending claim from a done one.
            let mut set = redis::cmd("SET");
            set.arg(self.key(fingerprint))
                .arg(pending(owner))
                .arg("NX")
                .arg("PX")
                .arg(millis(lease));
            if self.query::<Option<String>>(set).await?.is_some() {
                return Ok(ClaimOutcome::Claimed);
            }
            let reply = self
                .run(
                    &SCRIPTS.claim,
                    fingerprint,
                    &[&pending(owner), &millis(lease)],
                )
                .await?;
            Ok(match reply {
                1 => ClaimOutcome::Claimed,
                2 => ClaimOutcome::Done,
                _ => ClaimOutcome::InProgress,
            })
        })
    }

    fn complete<'a>(
        &'a self,
        fingerprint: &'a Fingerprint,
        owner: &'a LeaseToken,
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let done = format!("d:{owner}");
            let reply = self
                .run(
                    &SCRIPTS.complete,
                    fingerprint,
                    &[&pending(owner), &done, &millis(ttl)],
                )
                .await?;
            Ok(reply == 1)
        })
    }

    fn release<'a>(
        &'a self,
        fingerprint: &'a Fingerprint,
        owner: &'a LeaseToken,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let reply = self
                .run(&SCRIPTS.release, fingerprint, &[&pending(owner)])
                .await?;
            Ok(reply == 1)
        })
    }

    fn label<'a>(
        &'a self,
        body: &'a Fingerprint,
        label: &'a Fingerprint,
        limit: u32,
        keep: Duration,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let labels = crate::labels::Labels {
                connection: &self.connection,
                gate: &self.gate,
                timeout: self.timeout,
                prefix: &self.prefix,
            };
            labels.label(body, label, limit, keep).await
        })
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password: show only what is safe.
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("allow_data_loss", &self.gate.allows_data_loss())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keys_are_prefixed_hex() {
        let store = RedisStore::connect_lazily("redis://127.0.0.1:1/")
            .unwrap()
            .prefix("p:");
        assert_eq!(
            store.key(&Fingerprint::new(&[0xab; 20])),
            format!("p:{}", "ab".repeat(20))
        );
    }

    #[tokio::test]
    async fn options_reach_the_store_before_and_after_connecting() {
        let before = RedisStore::builder("redis://127.0.0.1:1/")
            .timeout(Duration::from_millis(250))
            .prefix("a:")
            .connect_lazily()
            .unwrap();
        assert_eq!(
            (before.timeout, before.prefix.as_str()),
            (Duration::from_millis(250), "a:")
        );
        let after = RedisStore::connect_lazily("redis://127.0.0.1:1/")
            .unwrap()
            .timeout(Duration::from_millis(250));
        assert_eq!(after.timeout, Duration::from_millis(250));
    }
}
