//! What the ledger asks of the Redis server before it trusts it with data: no eviction of its
//! keys, and, for the inbox, writes logged to the append-only file.
//!
//! Redis's defaults are safe (`maxmemory-policy noeviction`), but a Redis shared with a cache is
//! often run with `allkeys-lru`, and the stock configuration has `appendonly no`. Either drops
//! what the ledger was told to keep without any error: an evicted pending inbox delivery was
//! answered `202` and is never handled; an evicted replay claim lets a second replica handle a
//! delivery again. So the ledger reads the server's settings when it connects and refuses a
//! server that may lose its keys, unless the user opted in with `with_data_loss_allowed(true)`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use appwrite_webhooks::StoreError;
use redis::aio::ConnectionManager;

use crate::connection::{boxed, within};

/// A Redis server a ledger refused because it may drop what the ledger keeps. It is the error
/// inside the [`StoreError`] that `connect` (or the first command that needs more than was
/// checked: an inbox command, or any command of a ledger connected lazily) returns; read it
/// with [`DataLossRisk::of`].
///
/// Each says which setting is unsafe and how to fix it; to run on such a server anyway, build
/// the ledger with
/// [`with_data_loss_allowed(true)`](crate::RedisLedgerBuilder::with_data_loss_allowed).
///
/// ```
/// use appwrite_webhooks::StoreError;
/// use appwrite_webhooks_redis::DataLossRisk;
///
/// let error = StoreError(Box::new(DataLossRisk::Eviction { policy: "allkeys-lru".into() }));
/// assert!(matches!(DataLossRisk::of(&error), Some(DataLossRisk::Eviction { .. })));
/// assert!(error.0.to_string().contains("maxmemory-policy noeviction"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DataLossRisk {
    /// `maxmemory-policy` lets Redis evict keys once it reaches `maxmemory`. Every policy but
    /// `noeviction` can evict this crate's keys: `allkeys-*` any key, `volatile-*` keys with an
    /// expiry, which the ledger sets (replay claims, handled inbox deliveries and their
    /// fingerprints); and `maxmemory` can be set at run time, so a limit of 0 today is no
    /// protection.
    Eviction {
        /// The server's `maxmemory-policy`.
        policy: String,
    },
    /// `appendonly` is off, so a restart loses every write since the last snapshot (if any):
    /// deliveries already answered `202` would be gone. Only the inbox requires it.
    NoAppendOnly {
        /// The server's `appendonly`.
        appendonly: String,
    },
    /// The settings could not be read: `CONFIG GET` failed with this reply (managed Redis
    /// services often rename or forbid `CONFIG`).
    ConfigUnavailable {
        /// What Redis answered.
        reply: String,
    },
}

impl DataLossRisk {
    /// The risk inside `error`, if a ledger refused its server for one.
    pub fn of(error: &StoreError) -> Option<&DataLossRisk> {
        error.0.downcast_ref()
    }
}

impl std::fmt::Display for DataLossRisk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const OPT_IN: &str =
            "or build the ledger with `with_data_loss_allowed(true)` to accept the risk";
        match self {
            DataLossRisk::Eviction { policy } => write!(
                f,
                "Redis may evict this ledger's keys (maxmemory-policy is `{policy}`): set \
                 `maxmemory-policy noeviction` (CONFIG SET maxmemory-policy noeviction, and in \
                 redis.conf), {OPT_IN}"
            ),
            DataLossRisk::NoAppendOnly { appendonly } => write!(
                f,
                "Redis does not log writes to its append-only file (appendonly is \
                 `{appendonly}`), so a restart loses acknowledged deliveries: set `appendonly \
                 yes` (CONFIG SET appendonly yes, and in redis.conf), {OPT_IN}"
            ),
            DataLossRisk::ConfigUnavailable { reply } => write!(
                f,
                "cannot check that Redis keeps this ledger's keys: CONFIG GET is not available \
                 ({reply}; managed services often rename or forbid CONFIG). Make sure the \
                 server runs with `maxmemory-policy noeviction` (and, for the inbox, \
                 `appendonly yes`), then build the ledger with `with_data_loss_allowed(true)`"
            ),
        }
    }
}

impl std::error::Error for DataLossRisk {}

/// What a use of the ledger needs of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Needs {
    /// `appendonly yes`: what it keeps must survive a restart.
    pub(crate) append_only: bool,
}

/// The replay guard needs no eviction of its keys; it does not need `appendonly`: a restart
/// that forgets handled deliveries only means a later copy is handled again (handlers run at
/// least once anyway), while an eviction would happen silently, at any time, under memory
/// pressure.
pub(crate) const REPLAY: Needs = Needs { append_only: false };

/// The inbox keeps deliveries answered `202`: they must survive a restart and never be evicted.
pub(crate) const INBOX: Needs = Needs { append_only: true };

/// Reads the server's settings and refuses those that may drop the ledger's keys.
pub(crate) async fn check(
    connection: &ConnectionManager,
    timeout: Duration,
    needs: Needs,
) -> Result<(), StoreError> {
    let policy = config_get(connection, timeout, "maxmemory-policy").await?;
    if policy != "noeviction" {
        return Err(refused(DataLossRisk::Eviction { policy }));
    }
    if needs.append_only {
        let appendonly = config_get(connection, timeout, "appendonly").await?;
        if appendonly != "yes" {
            return Err(refused(DataLossRisk::NoAppendOnly { appendonly }));
        }
    }
    Ok(())
}

fn refused(risk: DataLossRisk) -> StoreError {
    StoreError(Box::new(risk))
}

/// `CONFIG GET name`'s value. A reply that is an error from the server (an unknown or
/// forbidden command) is [`DataLossRisk::ConfigUnavailable`]; a connection failure is passed
/// on as it is, so a ledger connected lazily tries again on its next command.
async fn config_get(
    connection: &ConnectionManager,
    timeout: Duration,
    name: &str,
) -> Result<String, StoreError> {
    let mut command = redis::cmd("CONFIG");
    command.arg("GET").arg(name);
    let mut connection = connection.clone();
    let reply: redis::RedisResult<Vec<String>> =
        within(timeout, command.query_async(&mut connection)).await?;
    match reply {
        Ok(pair) => match pair.as_slice() {
            [_, value] => Ok(value.to_ascii_lowercase()),
            _ => Err(refused(DataLossRisk::ConfigUnavailable {
                reply: format!("no value for `{name}`"),
            })),
        },
        Err(error) if from_server(&error) => Err(refused(DataLossRisk::ConfigUnavailable {
            reply: error.to_string(),
        })),
        Err(error) => Err(boxed(error)),
    }
}

fn from_server(error: &redis::RedisError) -> bool {
    matches!(
        error.kind(),
        redis::ErrorKind::Server(_) | redis::ErrorKind::Extension
    )
}

/// Whether a ledger's server has been found safe, shared by the ledger's clones: checked on
/// `connect` for what every use needs, and before the first command that needs more (the
/// inbox's `appendonly`) — or, for a ledger connected lazily, before its first command — and
/// again before each such command until it passes, so a server that is down or unsafe at first
/// is checked when it is back or fixed.
#[derive(Debug, Clone)]
pub(crate) struct Gate {
    allow_data_loss: bool,
    /// Found to keep its keys (`maxmemory-policy noeviction`): enough for the replay guard.
    keeps_keys: Arc<AtomicBool>,
    /// Found to keep its keys across a restart too (`appendonly yes`): what the inbox needs.
    durable: Arc<AtomicBool>,
}

impl Gate {
    pub(crate) fn new(allow_data_loss: bool) -> Self {
        Self {
            allow_data_loss,
            keeps_keys: Arc::new(AtomicBool::new(false)),
            durable: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Accepts whatever the server's settings are, without reading them (or, with `false`,
    /// reads them again before the next command that has not passed yet).
    pub(crate) fn set_allow_data_loss(&mut self, allow: bool) {
        self.allow_data_loss = allow;
    }

    pub(crate) fn allows_data_loss(&self) -> bool {
        self.allow_data_loss
    }

    /// `Ok` once the server has passed the check for `needs` (or the user accepted the risk).
    pub(crate) async fn pass(
        &self,
        connection: &ConnectionManager,
        timeout: Duration,
        needs: Needs,
    ) -> Result<(), StoreError> {
        if self.allow_data_loss || self.durable.load(Ordering::Acquire) {
            return Ok(());
        }
        if !needs.append_only && self.keeps_keys.load(Ordering::Acquire) {
            return Ok(());
        }
        check(connection, timeout, needs).await?;
        // Only a server found safe marks the shared flags, so a clone that did not opt in
        // never skips the check because another one did.
        self.keeps_keys.store(true, Ordering::Release);
        if needs.append_only {
            self.durable.store(true, Ordering::Release);
        }
        Ok(())
    }
}
