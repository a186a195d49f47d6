//! Exactly-once effects: a handler's writes to the ledger's database and its delivery's `done`
//! in one transaction, and, opt-in, per-resource ordering in that same transaction.

use std::future::Future;
use std::ops::Deref;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use appwrite_webhooks::inbox::{Attempt, Handled, InboxHandler, ResourceVersion};
use appwrite_webhooks::{Delivery, HandlerError, StoreError};
use futures_util::FutureExt;

use crate::ledger::PostgresLedger;
use crate::order::{Applied, record_version, stale_reason};
use crate::{Failure, ms, row_id};

/// What an exactly-once handler returns: the future of its writes, borrowing the delivery and
/// the [`LedgerTransaction`] it was given. Write it `Box::pin(async move { … })`.
pub type Effects<'a> = Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send + 'a>>;

/// The ledger's transaction, as an [`ExactlyOnce`] handler sees it: a
/// [`deadpool_postgres::Transaction`] (through `Deref`, and from it a
/// [`tokio_postgres::Transaction`]) inside the transaction that will also record its
/// delivery done.
///
/// Write your tables with it as with any `tokio-postgres` transaction (`execute`, `query`,
/// `query_one`, `prepare_cached`, …). Return `Err` to undo everything you wrote; never run
/// `COMMIT`, `ROLLBACK` or `BEGIN` yourself — the ledger does, and a handler that ends the
/// transaction fails its attempt (what it committed by hand is outside the guarantee). The
/// tables are yours: anything outside the schema `appwrite_webhooks`.
pub struct LedgerTransaction<'a> {
    pub(crate) tx: deadpool_postgres::Transaction<'a>,
    pub(crate) id: u64,
    pub(crate) attempt: u32,
}

impl LedgerTransaction<'_> {
    /// The delivery's inbox id (what `appwrite-webhooks inbox show` takes); for
    /// [`PostgresLedger::complete_with`], the claim's row id.
    pub fn delivery_id(&self) -> u64 {
        self.id
    }

    /// Which attempt this is, from 1 (always 1 on the synchronous path).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }
}

impl<'a> Deref for LedgerTransaction<'a> {
    type Target = deadpool_postgres::Transaction<'a>;

    fn deref(&self) -> &deadpool_postgres::Transaction<'a> {
        &self.tx
    }
}

impl std::fmt::Debug for LedgerTransaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerTransaction")
            .field("delivery_id", &self.id)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

/// An inbox handler whose writes to the ledger's database commit together with its
/// delivery's `done`, or not at all: made by [`PostgresLedger::exactly_once`]; give it to
/// [`Workers`](appwrite_webhooks::inbox::Workers) like any handler, on any number of replicas.
///
/// **What is exactly once.** The writes the handler makes through its [`LedgerTransaction`],
/// in the ledger's own database. They commit in the same Postgres transaction that marks the
/// delivery done, and only while the attempt's lease is still the delivery's current one: the
/// transaction first locks the delivery's row (`SELECT … FOR UPDATE`) with the attempt's lease
/// token, so no other worker or replica can take the delivery until it ends (their takes skip
/// locked rows). If the handler returns `Err`, panics, or outlives its attempt timeout, or the
/// process (or its connection) dies at any point before the commit, Postgres rolls back its
/// writes with the `done`, and the delivery is attempted again; once committed, no copy —
/// Appwrite's redelivery, another replica, a restart — runs it again.
///
/// **What is not.** Anything the handler does outside that transaction: an e-mail sent, an
/// HTTP call, a write to another database or through another connection. Those run once per
/// *attempt*, and an attempt that is rolled back runs again: make them idempotent, or record
/// them in your table and send them after the commit (an outbox). Deliveries that are
/// distinct to the inbox — one change delivered by two webhooks, a relabelled replay — are
/// distinct deliveries, each applied once; [`with_ordering`](Self::with_ordering) keeps those
/// from undoing newer changes. A `COMMIT` the handler runs itself ends the guarantee.
///
/// **Cost.** The transaction holds one pooled connection and the delivery's row lock while
/// the handler runs, and takes a few more round trips than a plain handler (`BEGIN`, the lease
/// check, the `done`, `COMMIT`). Keep slow work out of it: the row lock lasts as long.
///
/// ```no_run
/// use std::time::Duration;
/// use appwrite_webhooks::inbox::{Inbox, Workers};
/// use appwrite_webhooks::{Verifier, models::User};
/// use appwrite_webhooks_postgres::PostgresLedger;
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let ledger = PostgresLedger::connect("postgres://app@db.internal/webhooks").await?;
/// ledger.migrate().await?;
/// // Your table, in the ledger's database (created by your own migrations).
/// let mirror = ledger
///     .exactly_once(|delivery, tx| {
///         Box::pin(async move {
///             let user: User = delivery.json()?;
///             tx.execute(
///                 "INSERT INTO users (id, name) VALUES ($1, $2)
///                  ON CONFLICT (id) DO UPDATE SET name = excluded.name",
///                 &[&user.id, &user.name],
///             )
///             .await?;
///             Ok(())
///         })
///     })
///     .with_ordering();
///
/// let verifier = Verifier::new("key", "https://example.com/hook");
/// let workers = Workers::new(Inbox::new(ledger.clone()), verifier, mirror).start();
/// # workers.shutdown(Duration::from_secs(10)).await;
/// # Ok(()) }
/// ```
pub struct ExactlyOnce<F> {
    ledger: PostgresLedger,
    handler: Arc<F>,
    ordering: bool,
}

impl<F> ExactlyOnce<F> {
    /// Per-resource ordering, in the same transaction: the ledger remembers, per resource
    /// ([`ResourceVersion`]: kind and ids from the primary event, `$updatedAt` from the
    /// payload), the newest version applied and whether it was a delete. A delivery older than
    /// that is settled *stale* without running the handler — [`State::Stale`] in `stats`,
    /// `list`, `get` and `find`, the attempt counted with `outcome="stale"` — and its copies
    /// are answered `2xx` like a done delivery's.
    ///
    /// Within one `$updatedAt`, `create < update < delete`
    /// ([`Change`](appwrite_webhooks::inbox::Change)): a delete is never undone by a late
    /// create or update of the same or an older `$updatedAt`; a resource created again later
    /// (a newer `$updatedAt`) is applied. An equal version is applied again, so keep the effect
    /// an upsert. Deliveries with no version (no `$updatedAt`, executions, alerts) pass
    /// through, unordered. The state lives in `appwrite_webhooks.resource_versions`, one row
    /// per resource, kept after a delete. Attempts at one resource wait for each other (a
    /// transaction-scoped advisory lock on it), across replicas.
    ///
    /// [`State::Stale`]: appwrite_webhooks::inbox::State::Stale
    pub fn with_ordering(mut self) -> Self {
        self.ordering = true;
        self
    }

    /// Whether per-resource ordering is on.
    pub fn ordering(&self) -> bool {
        self.ordering
    }
}

impl<F> std::fmt::Debug for ExactlyOnce<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExactlyOnce")
            .field("ledger", &self.ledger)
            .field("ordering", &self.ordering)
            .finish_non_exhaustive()
    }
}

impl PostgresLedger {
    /// An inbox handler whose writes (through the [`LedgerTransaction`] it is given, to tables
    /// in this database) commit in the same transaction as its delivery's `done`: see
    /// [`ExactlyOnce`] for what that guarantees, and what it does not.
    pub fn exactly_once<F>(&self, handler: F) -> ExactlyOnce<F>
    where
        F: for<'a> Fn(&'a Delivery, &'a LedgerTransaction<'a>) -> Effects<'a>
            + Send
            + Sync
            + 'static,
    {
        ExactlyOnce {
            ledger: self.clone(),
            handler: Arc::new(handler),
            ordering: false,
        }
    }
}

impl<F> InboxHandler for ExactlyOnce<F>
where
    F: for<'a> Fn(&'a Delivery, &'a LedgerTransaction<'a>) -> Effects<'a> + Send + Sync + 'static,
{
    fn handle(
        self: Arc<Self>,
        _delivery: Delivery,
    ) -> Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send + 'static>> {
        // Workers call `handle_attempt`; without a lease there is nothing to settle with.
        Box::pin(async {
            Err("ExactlyOnce needs the attempt's lease: run it with inbox Workers".into())
        })
    }

    fn handle_attempt(
        self: Arc<Self>,
        delivery: Delivery,
        attempt: Attempt,
    ) -> Pin<Box<dyn Future<Output = Result<Handled, HandlerError>> + Send + 'static>> {
        let version = if self.ordering {
            ResourceVersion::of(&delivery)
        } else {
            None
        };
        Box::pin(async move {
            let deadline = tokio::time::Instant::from_std(attempt.deadline);
            // Past the deadline the future is dropped, and with it the transaction: Postgres
            // rolls it back (tokio-postgres sends the ROLLBACK; a dead connection aborts it).
            let settled = self.settle(&delivery, &attempt, version.as_ref());
            match tokio::time::timeout_at(deadline, settled).await {
                Ok(settled) => settled,
                Err(_) => Err(timed_out()),
            }
        })
    }
}

impl<F> ExactlyOnce<F>
where
    F: for<'a> Fn(&'a Delivery, &'a LedgerTransaction<'a>) -> Effects<'a> + Send + Sync + 'static,
{
    /// One attempt in one transaction: the lease check, the ordering, the handler, the
    /// version and the `done` — all or nothing.
    async fn settle(
        &self,
        delivery: &Delivery,
        attempt: &Attempt,
        version: Option<&ResourceVersion>,
    ) -> Result<Handled, HandlerError> {
        let (id, token) = (row_id(attempt.lease.id), attempt.lease.token.as_str());
        let mut client = self.ledger.client().await.map_err(store)?;
        let tx = client.transaction().await.map_err(store)?;
        // The lease, checked and locked: until this transaction ends no other worker can take
        // the delivery (takes skip locked rows) nor settle it (its statements wait). The
        // transaction id tells, at the `done`, whether the handler ended the transaction.
        let lease = tx
            .prepare_cached(
                "SELECT txid_current() FROM appwrite_webhooks.deliveries
                 WHERE id = $1 AND lease = $2 AND state = 'pending' AND body IS NOT NULL
                 FOR UPDATE",
            )
            .await
            .map_err(store)?;
        let Some(row) = tx.query_opt(&lease, &[&id, &token]).await.map_err(store)? else {
            tx.rollback().await.map_err(store)?;
            return Ok(Handled::LeaseLost);
        };
        let xid: i64 = row.try_get(0).map_err(store)?;
        if let Some(version) = version
            && let Some(applied) = Applied::lock_and_read(&tx, version).await.map_err(store)?
            && applied.is_newer_than(version)
        {
            let why = stale_reason(version, &applied);
            settle_done(&tx, attempt, xid, Some(&why)).await?;
            commit_in_time(tx, attempt).await?;
            return Ok(Handled::Stale);
        }
        let tx = LedgerTransaction {
            tx,
            id: attempt.lease.id,
            attempt: attempt.number,
        };
        let ran = run_effects((self.handler)(delivery, &tx)).await;
        let LedgerTransaction { tx, .. } = tx;
        if let Err(error) = ran {
            // Dropping it would roll back too, later; an explicit one frees the lock now.
            let _ = tx.rollback().await;
            return Err(error);
        }
        if let Some(version) = version {
            record_version(&tx, version, id).await.map_err(store)?;
        }
        settle_done(&tx, attempt, xid, None).await?;
        commit_in_time(tx, attempt).await?;
        Ok(Handled::Done)
    }
}

/// Commits, unless the attempt's deadline has passed: the worker then counts the attempt
/// failed, and it must not also be settled.
async fn commit_in_time(
    tx: deadpool_postgres::Transaction<'_>,
    attempt: &Attempt,
) -> Result<(), HandlerError> {
    if Instant::now() >= attempt.deadline {
        let _ = tx.rollback().await;
        return Err(timed_out());
    }
    tx.commit().await.map_err(store)
}

/// Marks the leased delivery done — or, given why it is stale, done without its handler
/// (outcome `stale`, the reason as its last error) — in the transaction `xid` that locked it.
async fn settle_done(
    tx: &deadpool_postgres::Transaction<'_>,
    attempt: &Attempt,
    xid: i64,
    stale: Option<&str>,
) -> Result<(), HandlerError> {
    let (id, token) = (row_id(attempt.lease.id), attempt.lease.token.as_str());
    let statement = tx
        .prepare_cached(
            "UPDATE appwrite_webhooks.deliveries
             SET lease = NULL, state = 'done', done_at_ms = appwrite_webhooks.now_ms(),
                 keep_until_ms = appwrite_webhooks.after(appwrite_webhooks.now_ms(), $3),
                 outcome = CASE WHEN $4::text IS NULL THEN NULL ELSE 'stale' END,
                 last_error = coalesce($4, last_error)
             WHERE id = $1 AND lease = $2 AND state = 'pending' AND txid_current() = $5",
        )
        .await
        .map_err(store)?;
    let settled = tx
        .execute(
            &statement,
            &[&id, &token, &ms(attempt.retention), &stale, &xid],
        )
        .await
        .map_err(store)?;
    // The row is locked by this transaction since the lease check: only a handler that ended
    // the transaction (a new transaction id) or rewrote the ledger's table gets here.
    if settled == 1 {
        Ok(())
    } else {
        Err(ended_by_handler())
    }
}

/// Awaits the handler's effects, a panic made an error like any other failure.
pub(crate) async fn run_effects(effects: Effects<'_>) -> Result<(), HandlerError> {
    match AssertUnwindSafe(effects).catch_unwind().await {
        Ok(ran) => ran,
        Err(panic) => Err(format!("handler panicked: {}", panic_message(&*panic)).into()),
    }
}

/// A database failure, as the attempt's error.
pub(crate) fn store(error: impl Into<Failure>) -> HandlerError {
    StoreError::from(error.into()).into()
}

pub(crate) fn ended_by_handler() -> HandlerError {
    "an exactly-once handler ended the ledger's transaction (or rewrote its delivery); \
     nothing was recorded done"
        .into()
}

fn timed_out() -> HandlerError {
    "the handler timed out at its attempt's deadline; its writes were rolled back".into()
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(not a string)")
}
