//! A Redis [`ReplayStore`] for `appwrite-webhooks`: replicas of a receiver share one record of
//! the deliveries they handled, so each delivery is handled once between them.
//!
//! Claims are `SET <prefix><fingerprint> 1 NX PX <ttl>` — atomic, expiring on their own — and
//! releases are `DEL`. The connection is the `redis` crate's auto-reconnecting
//! `ConnectionManager`; every command is bounded by a timeout, and while Redis is unreachable
//! the guard applies its [`StoreFailure`](appwrite_webhooks::StoreFailure) policy (503 by
//! default, or accept with a warning).
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
use std::fmt::Write as _;
use std::time::Duration;

use appwrite_webhooks::{ReplayStore, StoreError, StoreFuture, TAG_LEN};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// The key prefix used unless [`RedisStore::prefix`] sets another.
pub const DEFAULT_PREFIX: &str = "appwrite-webhooks:seen:";

/// A [`ReplayStore`] in Redis.
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    prefix: String,
    timeout: Duration,
}

impl RedisStore {
    /// Connects to `url` (`redis://host:port/db`, `rediss://` for TLS if the `redis` crate is
    /// built with it), failing if Redis cannot be reached now.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let timeout = Duration::from_secs(1);
        let client = redis::Client::open(url).map_err(boxed)?;
        let connection = ConnectionManager::new_with_config(client, config(timeout))
            .await
            .map_err(boxed)?;
        Ok(Self {
            connection,
            prefix: DEFAULT_PREFIX.to_owned(),
            timeout,
        })
    }

    /// Like [`connect`](Self::connect), but connects on first use: the receiver starts even
    /// while Redis is down, and the guard's failure policy answers until it is back.
    pub fn connect_lazily(url: &str) -> Result<Self, StoreError> {
        let timeout = Duration::from_secs(1);
        let client = redis::Client::open(url).map_err(boxed)?;
        let connection =
            ConnectionManager::new_lazy_with_config(client, config(timeout)).map_err(boxed)?;
        Ok(Self {
            connection,
            prefix: DEFAULT_PREFIX.to_owned(),
            timeout,
        })
    }

    /// Sets the key prefix (default [`DEFAULT_PREFIX`]), to share a Redis between receivers or
    /// environments.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Bounds each command (default 1 s): past it the store counts as unavailable. Keep it well
    /// under Appwrite's 15 s delivery timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn key(&self, fingerprint: &[u8; TAG_LEN]) -> String {
        let mut key = String::with_capacity(self.prefix.len() + 2 * TAG_LEN);
        key.push_str(&self.prefix);
        for byte in fingerprint {
            let _ = write!(key, "{byte:02x}");
        }
        key
    }

    async fn run<T: redis::FromRedisValue>(&self, command: redis::Cmd) -> Result<T, StoreError> {
        let mut connection = self.connection.clone();
        match tokio::time::timeout(self.timeout, command.query_async::<T>(&mut connection)).await {
            Ok(result) => result.map_err(boxed),
            Err(elapsed) => Err(boxed(elapsed)),
        }
    }
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
    fn claim<'a>(&'a self, fingerprint: &'a [u8; TAG_LEN], ttl: Duration) -> StoreFuture<'a, bool> {
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

    fn release<'a>(&'a self, fingerprint: &'a [u8; TAG_LEN]) -> StoreFuture<'a, ()> {
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
            store.key(&[0xab; TAG_LEN]),
            format!("p:{}", "ab".repeat(TAG_LEN))
        );
    }
}
