//! The inbox's exactly-once handler: one attempt — the lease check, the ordering, the
//! handler's writes and the `done` — in one transaction of the ledger's writer.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use appwrite_webhooks::inbox::{Attempt, AttemptOutcome, Handled, InboxHandler, ResourceVersion};
use appwrite_webhooks::{Delivery, HandlerError};
use rusqlite::{Connection, OptionalExtension, params};

use crate::inbox::rowid;
use crate::ledger::SqliteLedger;
use crate::once::ordering;
use crate::once::transaction::{LedgerTransaction, in_savepoint, release};
use crate::{after, now_ms};

#[cfg(doc)]
use appwrite_webhooks::inbox::Change;

/// An inbox handler whose writes to the ledger's file commit together with its delivery's
/// `done`, or not at all: made by [`SqliteLedger::exactly_once`]; give it to
/// [`Workers`](appwrite_webhooks::inbox::Workers) like any handler.
///
/// **What is exactly once.** The writes the handler makes through its [`LedgerTransaction`],
/// in the ledger's own file. They commit in the same SQLite transaction that marks the
/// delivery done, and only while the attempt's lease is still the delivery's current one.
/// If the handler returns `Err`, panics, or outlives its attempt timeout, or the process is
/// killed at any point before the commit, neither its writes nor the `done` persist and the
/// delivery is attempted again; once committed, no copy — Appwrite's redelivery (a
/// duplicate at the door), a second worker or process whose lease ran out, a restart —
/// runs it again.
///
/// **What is not.** Anything the handler does outside that transaction: an e-mail sent, an
/// HTTP call, a write to another database. Those run once per *attempt*, and an attempt
/// that is rolled back runs again: make them idempotent, or record them in your table and
/// send them after the commit (an outbox). Deliveries that are distinct to the inbox — one
/// change delivered by two webhooks, a relabelled replay — are distinct deliveries, each
/// applied once; [`with_ordering`](Self::with_ordering) keeps those from undoing newer
/// changes.
///
/// **Where it runs, and why.** SQLite has one writer per file. The ledger already has one
/// connection on a thread of its own that commits every change (group commit), so the handler
/// runs *there*, in a savepoint of the writer's transaction: no second connection can wait on
/// the first for the write lock (no `SQLITE_BUSY`, no deadlock), the lease check and the
/// commit cannot be interleaved with another worker's take, and the commit is shared with
/// whatever else arrived. The price: while the handler runs, the ledger commits nothing else —
/// stored deliveries wait for their `202`. Keep the handler to its SQL (tens of microseconds to
/// a few milliseconds); do slow work before the delivery reaches it, or after, and never wait
/// on the ledger (`put`, `stats`, …) from inside it, which would wait on itself. The attempt
/// timeout cannot stop code already running on the writer; it makes its writes roll back.
///
/// ```
/// use std::time::Duration;
/// use appwrite_webhooks::inbox::{Inbox, InboxAdmin, Workers};
/// use appwrite_webhooks::{Verifier, models::User, sender::DeliveryBuilder};
/// use appwrite_webhooks_sqlite::{SqliteLedger, rusqlite::params};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let path = testkit::scratch::dir("doc-once").join("ledger.db");
/// let url = "https://example.com/hook";
/// let verifier = Verifier::new("k", url);
/// let ledger = SqliteLedger::open(&path)?;
/// // Your table, in the ledger's file.
/// ledger.execute_batch("CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, name TEXT)").await?;
///
/// let mirror = ledger.exactly_once(|delivery, tx| {
///     let user: User = delivery.json()?;
///     tx.execute(
///         "INSERT INTO users (id, name) VALUES (?1, ?2)
///          ON CONFLICT (id) DO UPDATE SET name = excluded.name",
///         params![user.id, user.name],
///     )?;
///     Ok(())
/// })
/// .with_ordering();
///
/// let inbox = Inbox::new(ledger.clone());
/// # let body = r#"{"$id":"u1","name":"Ada","$updatedAt":"2025-01-01T00:00:00.000+00:00"}"#;
/// # let (parts, body) = DeliveryBuilder::new("k", url, body).events(["users.u1.create"]).build().into_request().into_parts();
/// # inbox.accept(&verifier, &parts.uri, &parts.headers, http_body_util::Full::new(body)).await?;
/// let workers = Workers::new(inbox.clone(), verifier, mirror).start();
/// # while inbox.admin().stats().await?.done == 0 { tokio::time::sleep(Duration::from_millis(5)).await; }
/// workers.shutdown(Duration::from_secs(10)).await;
/// # drop(inbox); drop(ledger); let _ = std::fs::remove_file(&path);
/// # Ok(()) }
/// ```
///
/// **A Postgres ledger** follows the same shape: `PostgresLedger::exactly_once(handler)`
/// returning its own `ExactlyOnce`, whose handler gets the delivery and a wrapper of the
/// ledger's `Transaction` (async there: a pool connection, `SELECT … FOR UPDATE` on the
/// delivery's row for the lease check instead of the single writer, then the handler's
/// writes, the `resource_versions` upsert and the `done`, one `COMMIT`). It implements the
/// same [`InboxHandler::handle_attempt`], returning the same [`Handled`], so the workers, the
/// metrics and the inbox's `stale` state are the same.
pub struct ExactlyOnce<F> {
    ledger: SqliteLedger,
    handler: Arc<F>,
    ordering: bool,
}

impl<F> ExactlyOnce<F> {
    /// Per-resource ordering, in the same transaction: the ledger remembers, per resource
    /// ([`ResourceVersion`]: kind and ids from the primary event, `$updatedAt` from the
    /// payload), the newest version applied and whether it was a delete. A delivery older than
    /// that is settled *stale* without running the handler — [`State::Stale`] in `stats`,
    /// `list` and `get`, the attempt counted with `outcome="stale"` — and its copies are
    /// answered `2xx` like a done delivery's.
    ///
    /// Within one `$updatedAt`, `create < update < delete` ([`Change`]): a delete is never
    /// undone by a late create or update of the same or an older `$updatedAt`; a resource
    /// created again later (a newer `$updatedAt`) is applied. An equal version is applied
    /// again, so keep the effect an upsert. Deliveries with no version (no `$updatedAt`,
    /// executions, alerts) pass through, unordered. The state lives in the ledger's
    /// `resource_versions` table, one row per resource, kept after a delete.
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

impl SqliteLedger {
    /// An inbox handler whose writes (through the [`LedgerTransaction`] it is given, to tables
    /// in this file) commit in the same transaction as its delivery's `done`: see
    /// [`ExactlyOnce`] for what that guarantees, and what it does not.
    pub fn exactly_once<F>(&self, handler: F) -> ExactlyOnce<F>
    where
        F: Fn(&Delivery, &LedgerTransaction<'_>) -> Result<(), HandlerError>
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

    /// Runs `sql` (statements separated by `;`) in the ledger's next transaction: to create
    /// your tables in its file.
    pub async fn execute_batch(&self, sql: &str) -> Result<(), appwrite_webhooks::StoreError> {
        let sql = sql.to_owned();
        self.run(move |db| db.execute_batch(&sql)).await
    }
}

/// What one attempt's transaction did, as the writer reports it.
enum Settled {
    Handled(Handled),
    Failed(String),
}

/// Sets its flag when dropped: the attempt's future is gone (the worker timed it out or
/// handed it back), so its transaction must not commit a `done`.
struct Abandon(Arc<AtomicBool>);

impl Drop for Abandon {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl<F> InboxHandler for ExactlyOnce<F>
where
    F: Fn(&Delivery, &LedgerTransaction<'_>) -> Result<(), HandlerError> + Send + Sync + 'static,
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
        let abandoned = Arc::new(AtomicBool::new(false));
        let guard = Abandon(Arc::clone(&abandoned));
        let handler = Arc::clone(&self.handler);
        let ledger = self.ledger.clone();
        Box::pin(async move {
            let _guard = guard;
            let settled = ledger
                .run(move |db| {
                    settle_in_transaction(
                        db,
                        &delivery,
                        &attempt,
                        version.as_ref(),
                        &abandoned,
                        &*handler,
                    )
                })
                .await?;
            match settled {
                Settled::Handled(handled) => Ok(handled),
                Settled::Failed(error) => Err(error.into()),
            }
        })
    }
}

/// Whether the attempt may still settle: its worker is still waiting for it.
fn live(attempt: &Attempt, abandoned: &AtomicBool) -> bool {
    !abandoned.load(Ordering::SeqCst) && Instant::now() < attempt.deadline
}

/// One attempt, inside the writer's transaction: the lease check, the ordering, the handler
/// in a savepoint, the version and the `done` — all or nothing.
fn settle_in_transaction<F>(
    db: &Connection,
    delivery: &Delivery,
    attempt: &Attempt,
    version: Option<&ResourceVersion>,
    abandoned: &AtomicBool,
    handler: &F,
) -> rusqlite::Result<Settled>
where
    F: Fn(&Delivery, &LedgerTransaction<'_>) -> Result<(), HandlerError>,
{
    let (id, token) = (rowid(attempt.lease.id), attempt.lease.token.as_str());
    // The lease, checked inside the write transaction: no other worker or process can take
    // the delivery between this check and the commit.
    let ours = db
        .prepare_cached(
            "SELECT 1 FROM deliveries
             WHERE id = ?1 AND lease = ?2 AND state = 'pending' AND body IS NOT NULL",
        )?
        .query_row(params![id, token], |_| Ok(()))
        .optional()?
        .is_some();
    if !ours {
        return Ok(Settled::Handled(Handled::LeaseLost));
    }
    if !live(attempt, abandoned) {
        return Ok(Settled::Failed(abandoned_error()));
    }
    let now = now_ms();
    if let Some(version) = version
        && let Some(why) = ordering::stale(db, version)?
    {
        settle_done(db, attempt, now, Some(&why))?;
        return Ok(Settled::Handled(Handled::Stale));
    }
    let ran = in_savepoint(db, attempt.lease.id, attempt.number, |tx| {
        handler(delivery, tx)?;
        // A handler that outlived its attempt has had its delivery handed on: no `done`.
        if live(attempt, abandoned) {
            Ok(())
        } else {
            Err(abandoned_error().into())
        }
    })?;
    if let Err(error) = ran {
        return Ok(Settled::Failed(error));
    }
    if let Some(version) = version {
        ordering::record(db, version, id, now)?;
    }
    settle_done(db, attempt, now, None)?;
    release(db)?;
    Ok(Settled::Handled(Handled::Done))
}

/// Marks the leased delivery done — or, given why it is stale, done without its handler
/// (outcome `stale`, the reason as its last error).
fn settle_done(
    db: &Connection,
    attempt: &Attempt,
    now: i64,
    stale: Option<&str>,
) -> rusqlite::Result<()> {
    let settled = db
        .prepare_cached(
            "UPDATE deliveries SET lease = NULL, state = 'done', done_at_ms = ?1,
                                   keep_until_ms = ?2,
                                   outcome = CASE WHEN ?3 IS NULL THEN NULL ELSE 'stale' END,
                                   last_error = coalesce(?3, last_error)
             WHERE id = ?4 AND lease = ?5 AND state = 'pending' AND body IS NOT NULL",
        )?
        .execute(params![
            now,
            after(now, attempt.retention),
            stale,
            rowid(attempt.lease.id),
            attempt.lease.token,
        ])?;
    if settled == 1 {
        let outcome = match stale {
            Some(_) => AttemptOutcome::Stale,
            None => AttemptOutcome::Done,
        };
        let (id, token) = (rowid(attempt.lease.id), &attempt.lease.token);
        crate::history::settled(db, id, token, outcome, stale, now)
    } else {
        // Checked at the start of this same transaction; only a handler that rewrote the
        // ledger's own table gets here.
        Err(rusqlite::Error::QueryReturnedNoRows)
    }
}

fn abandoned_error() -> String {
    "the attempt ran past its timeout (or was handed back) before it could commit; its writes \
     were rolled back"
        .to_owned()
}
