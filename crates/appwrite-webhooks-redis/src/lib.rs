//! A Redis [`ReplayStore`] for `appwrite-webhooks`: replicas of a receiver share one record of
//! the deliveries they handled, so each delivery is handled once between them.
//!
//! Claims are `SET <prefix><fingerprint> 1 NX PX <ttl>` — atomic, expiring on their own — and
//! releases are `DEL`. The connection is the `redis` crate's auto-reconnecting
//! `ConnectionManager`; every command is bounded by a timeout, and while Redis is unreachable
//! the guard applies its [`StoreFailure`](appwrite_webhooks::StoreFailure) policy (503 by
//! default, or accept with a warning).
//!
//! Options can be set before connecting ([`RedisStore::builder`]) or after
//! ([`RedisStore::prefix`], [`RedisStore::timeout`]); either way they reach the connection.
//!
//! ```no_run
//! use appwrite_webhooks::{ReplayGuard, Verifier};
//! use appwrite_webhooks_redis::RedisStore;
//!
//! # async fn run() -> Result<(), appwrite_webhooks::StoreError> {
//! let store = RedisStore::connect("redis://127.0.0.1:6379/").await?.prefix("shop:appwrite:");
//! let verifier = Verifier::new("whsec_…", "https://example.com/hooks/appwrite")
//!     .replay_guard(ReplayGuard::new(store));
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fmt;
use std::time::Duration;

use appwrite_webhooks::{Fingerprint, ReplayStore, StoreError, StoreFuture};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

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

    /// Connects now, failing if Redis cannot be reached.
    pub async fn connect(self) -> Result<RedisStore, StoreError> {
        let client = redis::Client::open(self.url.as_str()).map_err(boxed)?;
        let connection = ConnectionManager::new_with_config(client.clone(), config(self.timeout))
            .await
            .map_err(boxed)?;
        Ok(RedisStore {
            client,
            connection,
            prefix: self.prefix,
            timeout: self.timeout,
        })
    }

    /// Connects on first use: the receiver starts even while Redis is down, and the guard's
    /// failure policy answers until it is back.
    pub fn connect_lazily(self) -> Result<RedisStore, StoreError> {
        let client = redis::Client::open(self.url.as_str()).map_err(boxed)?;
        let connection = lazy_connection(&client, self.timeout)?;
        Ok(RedisStore {
            client,
            connection,
            prefix: self.prefix,
            timeout: self.timeout,
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
        }
    }

    /// Connects to `url` with the default options, failing if Redis cannot be reached now.
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
    /// store counts as unavailable. Keep it well under Appwrite's 15 s delivery timeout.
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

    fn key(&self, fingerprint: &Fingerprint) -> String {
        format!("{}{fingerprint}", self.prefix)
    }

    async fn run<T: redis::FromRedisValue>(&self, command: redis::Cmd) -> Result<T, StoreError> {
        let mut connection = self.connection.clone();
        match tokio::time::timeout(self.timeout, command.query_async::<T>(&mut connection)).await {
            Ok(result) => result.map_err(boxed),
            Err(elapsed) => Err(boxed(elapsed)),
        }
    }
}

fn lazy_connection(
    client: &redis::Client,
    timeout: Duration,
) -> Result<ConnectionManager, StoreError> {
    ConnectionManager::new_lazy_with_config(client.clone(), config(timeout)).map_err(boxed)
}

fn config(timeout: Duration) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_millis(500))
}

fn boxed(error: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError(Box::new(error))
}

impl ReplayStore for RedisStore {
    fn claim<'a>(&'a self, fingerprint: &'a Fingerprint, ttl: Duration) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
            let mut command = redis::cmd("SET");
            command
                .arg(self.key(fingerprint))
                .arg(1)
                .arg("NX")
                .arg("PX")
                .arg(millis);
            // `OK` when set, nil when the key already existed.
            let reply: Option<String> = self.run(command).await?;
            Ok(reply.is_some())
        })
    }

    fn release<'a>(&'a self, fingerprint: &'a Fingerprint) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut command = redis::cmd("DEL");
            command.arg(self.key(fingerprint));
            let _removed: i64 = self.run(command).await?;
            Ok(())
        })
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password: show only what is safe.
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
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
