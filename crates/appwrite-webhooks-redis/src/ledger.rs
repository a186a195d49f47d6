//! The ledger type, its options, its key prefixes, and the connection and data-loss gate its
//! two uses share.

use std::fmt;
use std::time::Duration;

use appwrite_webhooks::StoreError;
use redis::aio::ConnectionManager;

use crate::connection::{boxed, eager_connection, lazy_connection};
use crate::durability::{self, Gate, Needs};
use crate::prefix::Prefixes;

pub use crate::prefix::{DEFAULT_INBOX_PREFIX, DEFAULT_LEDGER_PREFIX, DEFAULT_REPLAY_PREFIX};

/// How long a command may take unless [`RedisLedgerBuilder::with_timeout`] sets another.
pub const DEFAULT_LEDGER_TIMEOUT: Duration = Duration::from_secs(2);

/// The options of a [`RedisLedger`], set before it connects: `with_<option>(value)` sets one,
/// `<option>()` reads it.
///
/// ```no_run
/// use std::time::Duration;
/// use appwrite_webhooks_redis::RedisLedger;
///
/// # async fn run() -> Result<(), appwrite_webhooks::StoreError> {
/// let ledger = RedisLedger::builder("redis://127.0.0.1:6379/")
///     .with_prefix("shop:appwrite:") // shop:appwrite:seen:…, shop:appwrite:inbox:…
///     .with_timeout(Duration::from_millis(500))
///     .connect()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RedisLedgerBuilder {
    url: String,
    prefixes: Prefixes,
    timeout: Duration,
    data_loss_allowed: bool,
}

impl RedisLedgerBuilder {
    /// Sets the ledger's key prefix (default [`DEFAULT_LEDGER_PREFIX`]): the replay guard's
    /// keys go under `<prefix>seen:` and the inbox's under `<prefix>inbox:`, unless
    /// [`with_replay_prefix`](Self::with_replay_prefix) or
    /// [`with_inbox_prefix`](Self::with_inbox_prefix) set them on their own (in any order).
    /// One ledger per prefix: receivers or environments sharing a Redis each take their own.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefixes.set_base(prefix.into());
        self
    }

    /// Sets the replay guard's key prefix exactly, whatever [`with_prefix`](Self::with_prefix)
    /// says: for a deployment that ran `RedisStore::prefix(a)`, `with_replay_prefix(a)` keeps
    /// its keys.
    pub fn with_replay_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefixes.set_replay(prefix.into());
        self
    }

    /// Sets the inbox's key prefix exactly, whatever [`with_prefix`](Self::with_prefix) says:
    /// for a deployment that ran `RedisInbox::prefix(b)`, `with_inbox_prefix(b)` keeps its
    /// deliveries.
    pub fn with_inbox_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefixes.set_inbox(prefix.into());
        self
    }

    /// Bounds each command and each (re)connection (default [`DEFAULT_LEDGER_TIMEOUT`]); see
    /// [`RedisLedger::with_timeout`].
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// With `true`, runs on a Redis that may lose what the ledger keeps: a `maxmemory-policy`
    /// that may evict keys, `appendonly no` (which only the inbox minds), or settings that
    /// cannot be read (`CONFIG` renamed or forbidden, as on many managed services). Without
    /// it (`false`, the default) the ledger refuses such a server with a
    /// [`DataLossRisk`](crate::DataLossRisk).
    ///
    /// The consequence: deliveries the inbox answered `202` may be gone — all of them since
    /// the last snapshot when Redis restarts without its append-only file, any of them when it
    /// evicts keys under memory pressure — and are never handled, with no error anywhere; an
    /// evicted replay claim lets another replica handle a delivery while its first handler
    /// still runs, and an evicted done record lets a repeat be handled again. Use it for
    /// tests, or for a server whose settings you have checked yourself.
    pub fn with_data_loss_allowed(mut self, allowed: bool) -> Self {
        self.data_loss_allowed = allowed;
        self
    }

    /// Connects now, failing if Redis cannot be reached or may evict the ledger's keys
    /// ([`DataLossRisk`](crate::DataLossRisk), unless
    /// [`with_data_loss_allowed(true)`](Self::with_data_loss_allowed)). What only the inbox
    /// needs (`appendonly yes`) is checked before the first inbox command, or now with
    /// [`RedisLedger::check_inbox`].
    pub async fn connect(self) -> Result<RedisLedger, StoreError> {
        let client = redis::Client::open(self.url.as_str()).map_err(boxed)?;
        let connection = eager_connection(&client, self.timeout).await?;
        let ledger = self.with(client, connection);
        ledger.pass(durability::REPLAY).await?;
        Ok(ledger)
    }

    /// Connects on first use: a receiver starts while Redis is down, and answers `503` (or
    /// applies the guard's failure policy) until it is back. The server's settings are checked
    /// before the first command: until they pass, every command fails with the
    /// [`DataLossRisk`](crate::DataLossRisk).
    pub fn connect_lazily(self) -> Result<RedisLedger, StoreError> {
        let client = redis::Client::open(self.url.as_str()).map_err(boxed)?;
        let connection = lazy_connection(&client, self.timeout)?;
        Ok(self.with(client, connection))
    }

    fn with(self, client: redis::Client, connection: ConnectionManager) -> RedisLedger {
        RedisLedger {
            client,
            connection,
            prefixes: self.prefixes,
            timeout: self.timeout,
            gate: Gate::new(self.data_loss_allowed),
        }
    }
}

/// One ledger of deliveries in Redis: the replay guard's store
/// ([`ReplayStore`](appwrite_webhooks::ReplayStore)) and the durable inbox
/// ([`InboxStore`](appwrite_webhooks::inbox::InboxStore)), alone or both at once, over one
/// connection, one data-loss check and one timeout. See the [crate docs](crate) for its keys.
///
/// Cheap to clone; clones share the connection and what the check found.
///
/// ```no_run
/// use appwrite_webhooks::inbox::Inbox;
/// use appwrite_webhooks::{ReplayGuard, Verifier};
/// use appwrite_webhooks_redis::RedisLedger;
///
/// # async fn run() -> Result<(), appwrite_webhooks::StoreError> {
/// let ledger = RedisLedger::connect("redis://127.0.0.1:6379/").await?;
/// let verifier = Verifier::new("whsec_…", "https://example.com/hooks/appwrite")
///     .with_replay_guard(ReplayGuard::new(ledger.clone()));
/// ledger.check_inbox().await?; // appendonly yes, before answering any 202
/// let inbox = Inbox::new(ledger);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisLedger {
    client: redis::Client,
    pub(crate) connection: ConnectionManager,
    pub(crate) prefixes: Prefixes,
    pub(crate) timeout: Duration,
    pub(crate) gate: Gate,
}

impl RedisLedger {
    /// A builder for a ledger at `url` (`redis://host:port/db`, `rediss://` for TLS if the
    /// `redis` crate is built with it).
    pub fn builder(url: impl Into<String>) -> RedisLedgerBuilder {
        RedisLedgerBuilder {
            url: url.into(),
            prefixes: Prefixes::default(),
            timeout: DEFAULT_LEDGER_TIMEOUT,
            data_loss_allowed: false,
        }
    }

    /// Connects to `url` with the default options (the keys a `RedisStore` and a `RedisInbox`
    /// with their default prefixes have always used), failing if Redis cannot be reached now
    /// or may evict the ledger's keys ([`DataLossRisk`](crate::DataLossRisk)).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::builder(url).connect().await
    }

    /// Like [`connect`](Self::connect), but connects on first use.
    pub fn connect_lazily(url: &str) -> Result<Self, StoreError> {
        Self::builder(url).connect_lazily()
    }

    /// Checks now what the inbox needs of the server — no eviction, and `appendonly yes` — so
    /// a receiver in inbox mode refuses to start on a server that would lose acknowledged
    /// deliveries, rather than answer `503` (the inbox checks before its first command
    /// anyway). Fails with the [`DataLossRisk`](crate::DataLossRisk), or if Redis cannot be
    /// reached; always passes with [`with_data_loss_allowed(true)`](Self::with_data_loss_allowed).
    pub async fn check_inbox(&self) -> Result<(), StoreError> {
        self.pass(durability::INBOX).await
    }

    /// Sets the ledger's key prefix; see [`RedisLedgerBuilder::with_prefix`].
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefixes.set_base(prefix.into());
        self
    }

    /// Sets the replay guard's key prefix; see [`RedisLedgerBuilder::with_replay_prefix`].
    pub fn with_replay_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefixes.set_replay(prefix.into());
        self
    }

    /// Sets the inbox's key prefix; see [`RedisLedgerBuilder::with_inbox_prefix`].
    pub fn with_inbox_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefixes.set_inbox(prefix.into());
        self
    }

    /// Bounds each command and each (re)connection (default [`DEFAULT_LEDGER_TIMEOUT`]): past
    /// it the ledger counts as unavailable — an inbox `put` answers `503` (if Redis applied it
    /// after all, Appwrite's next copy is a duplicate, answered `202`), and the guard applies
    /// its failure policy. Keep it well under Appwrite's 15 s delivery timeout. Zero makes
    /// every command fail at once; `Duration::MAX` waits as long as Redis takes.
    ///
    /// The connection manager fixes its own timeouts when it is made, so a new one with this
    /// timeout replaces the current connection; it connects on first use.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        // Making a lazy manager from a client that already opened cannot fail on the network;
        // should it fail anyway, the ledger keeps its connection and its timeout together.
        if let Ok(connection) = lazy_connection(&self.client, timeout) {
            self.connection = connection;
            self.timeout = timeout;
        }
        self
    }

    /// See [`RedisLedgerBuilder::with_data_loss_allowed`]; for a ledger made with
    /// [`connect_lazily`](Self::connect_lazily) (one that connected has passed the check of
    /// what every use needs).
    pub fn with_data_loss_allowed(mut self, allowed: bool) -> Self {
        self.gate.set_allow_data_loss(allowed);
        self
    }

    /// The ledger's key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefixes.base
    }

    /// The replay guard's key prefix.
    pub fn replay_prefix(&self) -> &str {
        &self.prefixes.replay
    }

    /// The inbox's key prefix.
    pub fn inbox_prefix(&self) -> &str {
        &self.prefixes.inbox
    }

    /// The bound on each command.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether the ledger runs on a server that may lose its keys.
    pub fn data_loss_allowed(&self) -> bool {
        self.gate.allows_data_loss()
    }

    /// `Ok` once the server has what `needs` asks (or data loss is allowed).
    pub(crate) async fn pass(&self, needs: Needs) -> Result<(), StoreError> {
        self.gate.pass(&self.connection, self.timeout, needs).await
    }
}

impl fmt::Debug for RedisLedger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password: show only what is safe.
        f.debug_struct("RedisLedger")
            .field("replay_prefix", &self.prefixes.replay)
            .field("inbox_prefix", &self.prefixes.inbox)
            .field("timeout", &self.timeout)
            .field("data_loss_allowed", &self.gate.allows_data_loss())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn prefixes_derive_unless_set_in_any_order() {
        let ledger = RedisLedger::builder("redis://127.0.0.1:1/")
            .with_inbox_prefix("b:")
            .with_prefix("shop:")
            .connect_lazily()
            .unwrap();
        assert_eq!(
            (ledger.replay_prefix(), ledger.inbox_prefix()),
            ("shop:seen:", "b:")
        );
        let ledger = ledger.with_replay_prefix("a:").with_prefix("other:");
        assert_eq!(
            (
                ledger.prefix(),
                ledger.replay_prefix(),
                ledger.inbox_prefix()
            ),
            ("other:", "a:", "b:")
        );
    }

    #[tokio::test]
    async fn options_reach_the_ledger_before_and_after_connecting() {
        let before = RedisLedger::builder("redis://127.0.0.1:1/")
            .with_timeout(Duration::from_millis(250))
            .with_data_loss_allowed(true)
            .connect_lazily()
            .unwrap();
        assert_eq!(before.timeout(), Duration::from_millis(250));
        assert!(before.data_loss_allowed());
        let after = RedisLedger::connect_lazily("redis://127.0.0.1:1/")
            .unwrap()
            .with_timeout(Duration::from_millis(250))
            .with_data_loss_allowed(true);
        assert_eq!(after.timeout(), Duration::from_millis(250));
        assert!(after.data_loss_allowed());
        assert!(!after.with_data_loss_allowed(false).data_loss_allowed());
    }
}
