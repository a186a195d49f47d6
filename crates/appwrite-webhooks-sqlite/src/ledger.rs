//! The ledger type, its options, and how its work reaches the writer thread.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use appwrite_webhooks::StoreFuture;
use rusqlite::{Connection, params};

use crate::writer::Writer;
use crate::{Durability, ms, schema, store_error};

/// The options of a [`SqliteLedger`], set before it opens.
///
/// ```
/// use appwrite_webhooks_sqlite::{Durability, SqliteLedger};
///
/// # let path = testkit::scratch::dir("doc-builder").join("ledger.db");
/// let store = SqliteLedger::builder(&path)
///     .durability(Durability::Full)
///     .max_bytes(1 << 30)
///     .open()?;
/// # drop(store); let _ = std::fs::remove_file(&path);
/// # Ok::<(), appwrite_webhooks::StoreError>(())
/// ```
#[derive(Debug, Clone)]
pub struct SqliteLedgerBuilder {
    path: PathBuf,
    durability: Durability,
    max_bytes: Option<u64>,
    create: bool,
}

impl SqliteLedgerBuilder {
    /// How hard commits are flushed ([`Durability::Full`] unless set).
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// The most the ledger's data may take, in bytes (pages in use; the WAL beside the file is
    /// checkpointed and cut back on its own). Without it, a flood fills the disk.
    ///
    /// At the cap, new deliveries and new claims fail — the route answers `503`, and the guard
    /// applies its store-failure policy — while everything that drains goes on: workers take
    /// and settle, claims complete and release, purge and retry run. What a purge frees is
    /// reused at once. `0` refuses every new delivery (a read-only inbox for inspection).
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = Some(bytes);
        self
    }

    /// Opens only a ledger that exists (for tools that inspect one): a missing file is an
    /// error rather than a new, empty ledger. An older file is still upgraded.
    pub fn existing(mut self) -> Self {
        self.create = false;
        self
    }

    /// Opens (creating unless [`existing`](Self::existing)) the file, upgrading its schema if
    /// it was written by an earlier version.
    pub fn open(self) -> Result<SqliteLedger, appwrite_webhooks::StoreError> {
        let fail = |e| store_error(&self.path, e);
        let connection = schema::open(&self.path, self.durability, self.create).map_err(fail)?;
        if let Some(bytes) = self.max_bytes {
            schema::limit_pages(&connection, bytes).map_err(fail)?;
        }
        let writer = Writer::start(connection, self.durability == Durability::Full)
            .map_err(|e| appwrite_webhooks::StoreError(e.into()))?;
        Ok(SqliteLedger {
            writer,
            path: Arc::new(self.path),
            max_bytes: self.max_bytes,
            last_sweep: Arc::new(AtomicI64::new(0)),
        })
    }
}

/// A ledger of deliveries in one SQLite file: the durable inbox
/// ([`InboxStore`](appwrite_webhooks::inbox::InboxStore)) and the replay guard's store
/// ([`ReplayStore`](appwrite_webhooks::ReplayStore)), alone or both on one file.
///
/// One connection, on a thread of its own, runs every change; requests that arrive together
/// are committed together. Cheap to clone; clones share the connection.
///
/// **As a replay store** a claim is a row without a body: pending, owned by the attempt's
/// [`LeaseToken`](appwrite_webhooks::LeaseToken), until its lease ends; done for the TTL after
/// `complete`; deleted by `release` only while its owner holds it; claimable again once its
/// lease ran out (a crashed process). Claims are not inbox deliveries: `stats`, `list`, `get`,
/// `retry` and workers never see them; a purge of done deliveries forgets done claims too
/// (both are kept only to recognise re-sends). How the two uses meet on one fingerprint is in
/// the [crate docs](crate).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use appwrite_webhooks::{ClaimOutcome, LeaseToken, Fingerprint, ReplayStore};
/// use appwrite_webhooks_sqlite::SqliteLedger;
///
/// # let path = testkit::scratch::dir("doc-ledger").join("ledger.db");
/// let ledger = SqliteLedger::open(&path)?;
/// let (delivery, first, second) = (Fingerprint::new(&[7; 20]), LeaseToken::new(), LeaseToken::new());
/// let lease = Duration::from_secs(30);
/// assert_eq!(ledger.claim(&delivery, &first, lease).await?, ClaimOutcome::Claimed);
/// assert_eq!(ledger.claim(&delivery, &second, lease).await?, ClaimOutcome::InProgress);
/// assert!(!ledger.release(&delivery, &second).await?); // not the owner
/// assert!(ledger.complete(&delivery, &first, Duration::from_secs(3600)).await?);
///
/// // After a restart the delivery is still handled.
/// drop(ledger);
/// let ledger = SqliteLedger::open(&path)?;
/// assert_eq!(ledger.claim(&delivery, &second, lease).await?, ClaimOutcome::Done);
/// # drop(ledger); let _ = std::fs::remove_file(&path);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SqliteLedger {
    writer: Writer,
    path: Arc<PathBuf>,
    max_bytes: Option<u64>,
    /// When expired rows were last deleted (unix ms).
    last_sweep: Arc<AtomicI64>,
}

/// How often expired rows (done past their retention, claims past their lease) are deleted.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

impl SqliteLedger {
    /// Opens the ledger at `path`, creating it if needed, with the default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, appwrite_webhooks::StoreError> {
        Self::builder(path).open()
    }

    /// Options for the ledger at `path`.
    pub fn builder(path: impl AsRef<Path>) -> SqliteLedgerBuilder {
        SqliteLedgerBuilder {
            path: path.as_ref().to_owned(),
            durability: Durability::default(),
            max_bytes: None,
            create: true,
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The size cap, if one was set.
    pub fn max_bytes(&self) -> Option<u64> {
        self.max_bytes
    }

    /// Runs `work` in the next transaction, unflushed: what a `202` does not depend on.
    pub(crate) fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreFuture<'_, T> {
        self.run_flushed(false, work)
    }

    /// Runs `work` in the next transaction; with `flush`, its commit is flushed to disk (under
    /// [`Durability::Full`]) before it is answered.
    pub(crate) fn run_flushed<T: Send + 'static>(
        &self,
        flush: bool,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreFuture<'_, T> {
        let reply = self.writer.submit(flush, work);
        let path = Arc::clone(&self.path);
        Box::pin(async move { reply.await.map_err(|e| store_error(&path, e)) })
    }

    /// Deletes up to [`ADMIN_BATCH`](crate::ADMIN_BATCH) expired rows if the last sweep is a
    /// minute old (or left more behind): done rows past their retention, and claims whose
    /// lease ran out (their owner's `complete` still works: it records the delivery done
    /// afresh). Runs inside the caller's transaction.
    pub(crate) fn sweep_if_due(
        &self,
    ) -> impl FnOnce(&Connection, i64) -> rusqlite::Result<()> + Send + use<> {
        let last_sweep = Arc::clone(&self.last_sweep);
        move |db, now| {
            if now.saturating_sub(last_sweep.load(Ordering::Relaxed)) < ms(SWEEP_EVERY) {
                return Ok(());
            }
            let deleted = db
                .prepare_cached(
                    "DELETE FROM deliveries WHERE id IN (
                         SELECT id FROM deliveries
                         WHERE (state = 'done' AND keep_until_ms <= ?1)
                            OR (state = 'pending' AND body IS NULL AND due_at_ms <= ?1)
                         LIMIT ?2)",
                )?
                .execute(params![now, crate::admin::ADMIN_BATCH_ROWS])?;
            // Label sets of bodies not seen again within their retention.
            let forgotten = db
                .prepare_cached(
                    "DELETE FROM labels WHERE (body, label) IN (
                         SELECT body, label FROM labels WHERE keep_until_ms <= ?1 LIMIT ?2)",
                )?
                .execute(params![now, crate::admin::ADMIN_BATCH_ROWS])?;
            // A full batch may have left more: sweep again next time.
            if deleted.max(forgotten) < crate::ADMIN_BATCH {
                last_sweep.store(now, Ordering::Relaxed);
            }
            Ok(())
        }
    }
}

impl fmt::Debug for SqliteLedger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteLedger")
            .field("path", &self.path)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

/// Deletes the row for `fingerprint` if it has expired — done past its retention, or a claim
/// whose lease ran out — so the fingerprint counts as absent. Run before claiming or storing.
pub(crate) fn forget_expired(
    db: &Connection,
    fingerprint: &[u8],
    now: i64,
) -> rusqlite::Result<()> {
    db.prepare_cached(
        "DELETE FROM deliveries WHERE fingerprint = ?1
           AND ((state = 'done' AND keep_until_ms <= ?2)
             OR (state = 'pending' AND body IS NULL AND due_at_ms <= ?2))",
    )?
    .execute(params![fingerprint, now])?;
    Ok(())
}
