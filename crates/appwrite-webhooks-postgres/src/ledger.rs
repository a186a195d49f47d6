//! The ledger type, its options, its pool, and how each operation is bounded.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use appwrite_webhooks::inbox::unix_millis;
use appwrite_webhooks::{StoreError, StoreFuture};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Config, NoTls, Row};

use crate::listen::Arrivals;
use crate::{Failure, schema};

/// How long one operation may take unless [`PostgresLedgerBuilder::with_timeout`] sets
/// another.
pub const DEFAULT_LEDGER_TIMEOUT: Duration = Duration::from_secs(5);

/// How many connections one ledger (and its clones) keeps at most, unless
/// [`PostgresLedgerBuilder::with_pool_size`] sets another.
pub const DEFAULT_POOL_SIZE: usize = 16;

/// The options of a [`PostgresLedger`], set before it connects: `with_<option>(value)` sets
/// one.
///
/// ```
/// use std::time::Duration;
/// use appwrite_webhooks_postgres::PostgresLedger;
///
/// let ledger = PostgresLedger::builder("postgres://app@db.internal/webhooks")
///     .with_pool_size(32)
///     .with_timeout(Duration::from_secs(3))
///     .connect_lazily()?;
/// assert_eq!(ledger.pool_size(), 32);
/// # Ok::<(), appwrite_webhooks::StoreError>(())
/// ```
#[derive(Debug, Clone)]
pub struct PostgresLedgerBuilder {
    url: String,
    pool_size: usize,
    timeout: Duration,
}

impl PostgresLedgerBuilder {
    /// The most connections the ledger holds at once (default [`DEFAULT_POOL_SIZE`]), besides
    /// one for `LISTEN` when workers wait. Receivers and workers beyond it wait their turn,
    /// within the timeout. Mind the server's `max_connections` across replicas.
    pub fn with_pool_size(mut self, size: usize) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// Bounds each operation, connecting included (default [`DEFAULT_LEDGER_TIMEOUT`]): past
    /// it the ledger counts as unavailable — an inbox `put` answers `503` (if the database
    /// committed it after all, Appwrite's next copy is a duplicate, answered `202`), and the
    /// guard applies its store-failure policy. Without a bound, a database that stopped
    /// answering would hold every request until Appwrite gives up on it.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Makes the ledger without connecting: the first operation connects. Fails only on a
    /// URL that does not parse.
    pub fn connect_lazily(self) -> Result<PostgresLedger, StoreError> {
        let mut config: Config = self.url.parse().map_err(|e| {
            StoreError(format!("Postgres ledger: not a connection string: {e}").into())
        })?;
        config.connect_timeout(self.timeout);
        if config.get_application_name().is_none() {
            config.application_name("appwrite-webhooks");
        }
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(self.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(self.timeout))
            .create_timeout(Some(self.timeout))
            .recycle_timeout(Some(self.timeout))
            .build()
            .map_err(|e| StoreError(format!("Postgres ledger: {e}").into()))?;
        Ok(PostgresLedger {
            pool,
            arrivals: Arc::new(Arrivals::new(config.clone())),
            config: Arc::new(config),
            timeout: self.timeout,
            last_sweep: Arc::new(AtomicI64::new(0)),
        })
    }

    /// Makes the ledger and connects once, so an unreachable database or a wrong password is
    /// an error now rather than at the first delivery. Does not look at the schema: see
    /// [`PostgresLedger::migrate`] and [`PostgresLedger::check_schema`].
    pub async fn connect(self) -> Result<PostgresLedger, StoreError> {
        let ledger = self.connect_lazily()?;
        ledger
            .run(async { ledger.client().await.map(drop) })
            .await?;
        Ok(ledger)
    }
}

/// A ledger of deliveries in a Postgres database: the durable inbox
/// ([`InboxStore`](appwrite_webhooks::inbox::InboxStore) and
/// [`InboxAdmin`](appwrite_webhooks::inbox::InboxAdmin)) and the replay guard's store
/// ([`ReplayStore`](appwrite_webhooks::ReplayStore)), alone or both on one database, for any
/// number of replicas. Pairs with `SqliteLedger`, `RedisLedger` and
/// [`MemoryLedger`](appwrite_webhooks::MemoryLedger).
///
/// Cheap to clone; clones share the pool and the `LISTEN` connection.
///
/// **As a replay store** a claim is a row without a body: pending, owned by the attempt's
/// [`LeaseToken`](appwrite_webhooks::LeaseToken), until its lease ends; done for the TTL after
/// `complete`; deleted by `release` only while its owner holds it; claimable again once its
/// lease ran out (a crashed replica). Claims are not inbox deliveries: `stats`, `list`, `get`,
/// `retry` and workers never see them; a purge of done deliveries forgets done claims too.
/// How the two uses meet on one fingerprint is in the [crate docs](crate).
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use appwrite_webhooks::{ClaimOutcome, Fingerprint, LeaseToken, ReplayStore};
/// use appwrite_webhooks_postgres::PostgresLedger;
///
/// let ledger = PostgresLedger::connect("postgres://app@db.internal/webhooks").await?;
/// ledger.migrate().await?;
/// let (delivery, first, second) = (Fingerprint::new(&[7; 20]), LeaseToken::new(), LeaseToken::new());
/// let lease = Duration::from_secs(30);
/// assert_eq!(ledger.claim(&delivery, &first, lease).await?, ClaimOutcome::Claimed);
/// assert_eq!(ledger.claim(&delivery, &second, lease).await?, ClaimOutcome::InProgress);
/// assert!(!ledger.release(&delivery, &second).await?); // not the owner
/// assert!(ledger.complete(&delivery, &first, Duration::from_secs(3600)).await?);
/// assert_eq!(ledger.claim(&delivery, &second, lease).await?, ClaimOutcome::Done);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PostgresLedger {
    pool: Pool,
    config: Arc<Config>,
    arrivals: Arc<Arrivals>,
    timeout: Duration,
    /// When expired rows were last deleted (unix ms, this process's clock: only a pace).
    last_sweep: Arc<AtomicI64>,
}

/// How often expired rows (done past their retention, claims past their lease, labels) are
/// deleted, by each replica.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

impl PostgresLedger {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`, or
    /// `host=… user=… dbname=…`) with the default options.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::builder(url).connect().await
    }

    /// [`connect`](Self::connect) without connecting yet: the first operation connects.
    pub fn connect_lazily(url: &str) -> Result<Self, StoreError> {
        Self::builder(url).connect_lazily()
    }

    /// Options for the database at `url`.
    pub fn builder(url: impl Into<String>) -> PostgresLedgerBuilder {
        PostgresLedgerBuilder {
            url: url.into(),
            pool_size: DEFAULT_POOL_SIZE,
            timeout: DEFAULT_LEDGER_TIMEOUT,
        }
    }

    /// Creates the schema, or upgrades it, by running the [`MIGRATIONS`](crate::MIGRATIONS)
    /// the database has not run yet, in one transaction; returns the schema version. Idempotent,
    /// and safe when several replicas run it at once. Refuses a database whose schema is newer
    /// than this crate's. Not bounded by the timeout (an upgrade may take a while).
    pub async fn migrate(&self) -> Result<i32, StoreError> {
        let mut client = self.client().await?;
        Ok(schema::migrate(&mut client).await?)
    }

    /// Checks that the database has this crate's schema version: fails when it was never
    /// migrated, is older (call [`migrate`](Self::migrate)), or is newer.
    pub async fn check_schema(&self) -> Result<(), StoreError> {
        self.run(async {
            let client = self.client().await?;
            schema::check(&client).await
        })
        .await
    }

    /// The most connections in the pool.
    pub fn pool_size(&self) -> usize {
        self.pool.status().max_size
    }

    /// The bound on each operation.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// A connection from the pool.
    pub(crate) async fn client(&self) -> Result<Object, Failure> {
        Ok(self.pool.get().await?)
    }

    /// Runs `work` bounded by the timeout, as a [`StoreFuture`].
    pub(crate) fn run<'a, T: Send + 'a>(
        &'a self,
        work: impl Future<Output = Result<T, Failure>> + Send + 'a,
    ) -> StoreFuture<'a, T> {
        let timeout = self.timeout;
        Box::pin(async move {
            match tokio::time::timeout(timeout, work).await {
                Ok(result) => result.map_err(StoreError::from),
                Err(_) => Err(Failure::Timeout(timeout).into()),
            }
        })
    }

    /// `work` bounded by the timeout, for steps of a longer operation.
    pub(crate) async fn bounded<T>(
        &self,
        work: impl Future<Output = Result<T, Failure>>,
    ) -> Result<T, Failure> {
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| Failure::Timeout(self.timeout))?
    }

    /// One statement (prepared once per connection) and its rows.
    pub(crate) async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, Failure> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await?;
        Ok(client.query(&statement, params).await?)
    }

    /// One statement and the rows it changed.
    pub(crate) async fn execute(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, Failure> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await?;
        Ok(client.execute(&statement, params).await?)
    }

    /// The `LISTEN` wake-ups, started by the first worker that waits.
    pub(crate) fn arrivals(&self) -> &Arrivals {
        &self.arrivals
    }

    /// Deletes expired rows in the background if this replica's last sweep is a minute old (or
    /// left more behind): up to [`ADMIN_BATCH`](crate::ADMIN_BATCH) of each kind, skipping
    /// rows another transaction holds. Correctness never waits for it: a `put` or a claim that
    /// finds its fingerprint held by an expired row forgets that row and tries again.
    pub(crate) fn sweep_if_due(&self) {
        let now = i64::try_from(unix_millis(SystemTime::now())).unwrap_or(i64::MAX);
        let last = self.last_sweep.load(Ordering::Relaxed);
        if now.saturating_sub(last) < crate::ms(SWEEP_EVERY)
            || self
                .last_sweep
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let ledger = self.clone();
        tokio::spawn(async move {
            let swept = ledger.run(ledger.sweep()).await;
            // A full batch, or a failure: sweep again at the next chance.
            if !matches!(swept, Ok(deleted) if deleted < crate::ADMIN_BATCH as u64) {
                ledger.last_sweep.store(0, Ordering::Relaxed);
            }
        });
    }

    async fn sweep(&self) -> Result<u64, Failure> {
        const SWEEPS: [&str; 3] = [
            "DELETE FROM appwrite_webhooks.deliveries WHERE id IN (
                 SELECT id FROM appwrite_webhooks.deliveries
                 WHERE state = 'done' AND keep_until_ms <= appwrite_webhooks.now_ms()
                 LIMIT $1 FOR UPDATE SKIP LOCKED)",
            "DELETE FROM appwrite_webhooks.deliveries WHERE id IN (
                 SELECT id FROM appwrite_webhooks.deliveries
                 WHERE state = 'pending' AND body IS NULL
                   AND due_at_ms <= appwrite_webhooks.now_ms()
                 LIMIT $1 FOR UPDATE SKIP LOCKED)",
            "DELETE FROM appwrite_webhooks.labels WHERE (body, label) IN (
                 SELECT body, label FROM appwrite_webhooks.labels
                 WHERE keep_until_ms <= appwrite_webhooks.now_ms()
                 LIMIT $1 FOR UPDATE SKIP LOCKED)",
        ];
        let mut most = 0;
        for sql in SWEEPS {
            most = most.max(self.execute(sql, &[&crate::admin::BATCH_ROWS]).await?);
        }
        Ok(most)
    }
}

impl fmt::Debug for PostgresLedger {
    /// The hosts, port and database; never the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresLedger")
            .field("hosts", &self.config.get_hosts())
            .field("ports", &self.config.get_ports())
            .field("dbname", &self.config.get_dbname())
            .field("pool_size", &self.pool_size())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}
