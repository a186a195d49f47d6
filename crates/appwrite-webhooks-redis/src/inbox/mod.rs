//! An [`InboxStore`](appwrite_webhooks::inbox::InboxStore) on Redis Streams: any number of
//! replicas receive into one inbox and work from it.
//!
//! Under the prefix `P` (default [`DEFAULT_INBOX_PREFIX`]):
//!
//! | key | type | holds |
//! |---|---|---|
//! | `P d:<id>` | hash | one delivery: fingerprint, arrival, URI, headers, body, state, attempts, last error, its stream entry, the lease of the attempt holding it |
//! | `P fp:<fingerprint>` | string | the id holding that fingerprint (de-duplication at the door) |
//! | `P ready` | stream, group `workers` | one entry per delivery due now: `XREADGROUP` hands it to one worker, `XAUTOCLAIM` to another once its worker has been silent for the visibility timeout, `XACK`+`XDEL` when settled |
//! | `P retry` | sorted set | deliveries waiting for a retry, by due time; moved to `ready` when due |
//! | `P dead` | stream | the dead letters, with their last error and attempts |
//! | `P done` | sorted set | done deliveries by the end of their retention (their keys expire then) |
//! | `P ids` | sorted set | every id held, for listing |
//! | `P repair`, `P repair:due` | strings | where the search for deliveries whose stream entry vanished stands, and when it runs next |
//!
//! Every operation is a Lua script, so it happens whole or not at all, and each does a bounded
//! amount of work (administration runs as a loop of batches), so no script stalls the receivers'
//! `put`s. Every outcome is checked against its lease: a random nonce written when the attempt
//! took the delivery, so an attempt whose delivery was taken again — by any worker, even one
//! with the same name — cannot settle it. A pending delivery whose stream entry vanished (an
//! `XTRIM` or `XDEL` on `P ready`) is found by the workers' `take` and given a new entry.
//!
//! **Durability** is the server's: a `202` follows the write's reply, which Redis sends after
//! appending it to its AOF. With `appendonly yes` a restarted or killed `redis-server` loses
//! nothing acknowledged; add `appendfsync always` to survive a power loss too (`everysec`, the
//! default, may lose the last second). Replication is asynchronous: a failover can lose the last
//! writes. So the inbox refuses a server with `appendonly no`, or a `maxmemory-policy` that may
//! evict keys, unless built with [`allow_data_loss`](RedisInboxBuilder::allow_data_loss)
//! ([`DataLossRisk`](crate::DataLossRisk)).

mod scripts;
mod store;

use std::fmt;
use std::time::Duration;

use appwrite_webhooks::StoreError;
use redis::aio::ConnectionManager;

use crate::connection::{bounded, boxed, eager_connection, lazy_connection};
use crate::durability::{Gate, Needs};
use scripts::BATCH;

/// The key prefix of a [`RedisInbox`] unless [`RedisInbox::prefix`] sets another.
pub const DEFAULT_INBOX_PREFIX: &str = "appwrite-webhooks:inbox:";

/// How long an inbox command may take unless [`RedisInbox::timeout`] sets another.
pub const DEFAULT_INBOX_TIMEOUT: Duration = Duration::from_secs(2);

/// The inbox keeps deliveries answered `202`: they must survive a restart and never be evicted.
const NEEDS: Needs = Needs { append_only: true };

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
    gate: Gate,
}

impl fmt::Debug for RedisInbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisInbox")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("allow_data_loss", &self.gate.allows_data_loss())
            .finish_non_exhaustive()
    }
}

/// The options of a [`RedisInbox`], set before it connects.
///
/// ```no_run
/// use std::time::Duration;
/// use appwrite_webhooks_redis::RedisInbox;
///
/// # async fn run() -> Result<(), appwrite_webhooks::StoreError> {
/// let inbox = RedisInbox::builder("redis://127.0.0.1:6379/")
///     .prefix("shop:inbox:")
///     .timeout(Duration::from_millis(500))
///     .connect()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RedisInboxBuilder {
    url: String,
    prefix: String,
    timeout: Duration,
    allow_data_loss: bool,
}

impl RedisInboxBuilder {
    /// Sets the key prefix (default [`DEFAULT_INBOX_PREFIX`]): one inbox per prefix.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Bounds each command and each (re)connection (default [`DEFAULT_INBOX_TIMEOUT`]); see
    /// [`RedisInbox::timeout`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Runs on a Redis that may lose deliveries: `appendonly no`, a `maxmemory-policy` that may
    /// evict keys, or settings that cannot be read (`CONFIG` renamed or forbidden, as on many
    /// managed services). Without it the inbox refuses such a server with a
    /// [`DataLossRisk`](crate::DataLossRisk).
    ///
    /// The consequence: deliveries answered `202` may be gone — all of them since the last
    /// snapshot when Redis restarts without its append-only file, any of them when it evicts
    /// keys under memory pressure — and are never handled, with no error anywhere. An evicted
    /// done record also lets a re-send be stored and handled again. Use it for tests, or for a
    /// server whose settings you have checked yourself.
    pub fn allow_data_loss(mut self) -> Self {
        self.allow_data_loss = true;
        self
    }

    /// Connects now, failing if Redis cannot be reached or may lose deliveries
    /// ([`DataLossRisk`](crate::DataLossRisk), unless [`allow_data_loss`](Self::allow_data_loss)).
    pub async fn connect(self) -> Result<RedisInbox, StoreError> {
        let client = redis::Client::open(self.url.as_str()).map_err(boxed)?;
        let connection = eager_connection(&client, self.timeout).await?;
        let inbox = self.with(client, connection);
        inbox.gate.pass(&inbox.connection, inbox.timeout).await?;
        Ok(inbox)
    }

    /// Connects on first use: a receiver starts while Redis is down and answers `503` until it
    /// is back. The server's settings are checked before the first command: until they pass,
    /// every command fails with the [`DataLossRisk`](crate::DataLossRisk) (a `503`).
    pub fn connect_lazily(self) -> Result<RedisInbox, StoreError> {
        let client = redis::Client::open(self.url.as_str()).map_err(boxed)?;
        let connection = lazy_connection(&client, self.timeout)?;
        Ok(self.with(client, connection))
    }

    fn with(self, client: redis::Client, connection: ConnectionManager) -> RedisInbox {
        RedisInbox {
            client,
            connection,
            prefix: self.prefix,
            timeout: self.timeout,
            gate: Gate::new(NEEDS, self.allow_data_loss),
        }
    }
}

impl RedisInbox {
    /// A builder for an inbox at `url` (`redis://host:port/db`).
    pub fn builder(url: impl Into<String>) -> RedisInboxBuilder {
        RedisInboxBuilder {
            url: url.into(),
            prefix: DEFAULT_INBOX_PREFIX.to_owned(),
            timeout: DEFAULT_INBOX_TIMEOUT,
            allow_data_loss: false,
        }
    }

    /// Connects to `url`, failing if Redis cannot be reached now or may lose deliveries
    /// ([`DataLossRisk`](crate::DataLossRisk)).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::builder(url).connect().await
    }

    /// Like [`connect`](Self::connect), but connects on first use: a receiver starts while
    /// Redis is down and answers `503` until it is back (or while its settings are unsafe).
    pub fn connect_lazily(url: &str) -> Result<Self, StoreError> {
        Self::builder(url).connect_lazily()
    }

    /// Sets the key prefix (default [`DEFAULT_INBOX_PREFIX`]): one inbox per prefix.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Bounds each command (default [`DEFAULT_INBOX_TIMEOUT`]); past it the store counts as
    /// unavailable (a `put` answers `503`; if Redis applied it after all, Appwrite's next copy
    /// is recognised as a duplicate and answered `202`). The connection is remade with it.
    /// Zero makes every command time out; `Duration::MAX` waits as long as Redis takes.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        if let Ok(connection) = lazy_connection(&self.client, timeout) {
            self.connection = connection;
            self.timeout = timeout;
        }
        self
    }

    /// For an inbox made with [`connect_lazily`](Self::connect_lazily): see
    /// [`RedisInboxBuilder::allow_data_loss`]. (An inbox that connected has passed the check.)
    pub fn allow_data_loss(mut self) -> Self {
        self.gate.allow_data_loss();
        self
    }

    async fn script<T: redis::FromRedisValue>(
        &self,
        script: &redis::Script,
        args: Vec<Arg>,
    ) -> Result<T, StoreError> {
        self.gate.pass(&self.connection, self.timeout).await?;
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
            // visibility timeout, outcomes are checked against their lease, and each batch of
            // administration works on what is left.
            Err(error) if connection_lost(&error) => {
                bounded(self.timeout, invocation.invoke_async(&mut connection)).await
            }
            result => result,
        }
    }

    /// Runs a script shaped like `RETRY_DEAD` over every dead letter there is now, a
    /// batch at a time; returns the sum of what each batch counted.
    async fn over_dead_letters(&self, script: &redis::Script) -> Result<u64, StoreError> {
        let (mut total, mut cursor, mut end) = (0, String::new(), String::new());
        loop {
            let (counted, looked_at, next, last): (u64, usize, String, String) =
                self.script(script, vec![cursor.into(), end.into()]).await?;
            total += counted;
            if looked_at < BATCH {
                return Ok(total);
            }
            (cursor, end) = (next, last);
        }
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
