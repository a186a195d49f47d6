//! A Postgres database as the ledger of the deliveries your receivers have seen, for teams that
//! outgrow one machine: a durable [`InboxStore`](appwrite_webhooks::inbox::InboxStore) shared
//! by every replica (answer `202`, handle later, on any of them) and a
//! [`ReplayStore`](appwrite_webhooks::ReplayStore) for the synchronous replay guard, shared as
//! well and surviving restarts. Inspectable with `psql`.
//!
//! A route in inbox mode answers `202` only once the delivery is committed here; workers on any
//! replica take it, run your handler with retries, and record the outcome; what fails every
//! attempt ends in the dead letters. Operators count, list, requeue and purge through
//! [`InboxAdmin`](appwrite_webhooks::inbox::InboxAdmin) (`appwrite-webhooks inbox … --postgres
//! URL`).
//!
//! **One ledger.** Both uses keep one row per fingerprint
//! ([`Delivery::fingerprint`](appwrite_webhooks::Delivery::fingerprint) for the guard,
//! [`Received::fingerprint`](appwrite_webhooks::inbox::Received) for the inbox) in one table,
//! exactly as `appwrite-webhooks-sqlite` does: an inbox delivery (with its body) or a guard's
//! claim (no body: pending while its request runs, done for the TTL; workers never take one).
//! A fingerprint held by either is held for both: an inbox `put` of a fingerprint a claim holds
//! or completed is a [`Put::Duplicate`], and a claim of a fingerprint the inbox holds is
//! [`ClaimOutcome::Done`] once a worker handled it and [`ClaimOutcome::InProgress`] while it is
//! pending or a dead letter. A `put` that meets a *pending* claim keeps the delivery in that
//! claim's row: if the claim is released or its lease runs out, workers handle it. The labels
//! of each signed body are counted once for both paths, at most
//! [`MAX_LABELS_PER_BODY`](appwrite_webhooks::MAX_LABELS_PER_BODY): a label is a delivery's
//! identity, and an Appwrite identity begins with its body key, so the rows of a body's
//! deliveries and claims are its labels, found by that prefix in the identities' unique index
//! (schema version 5). The `labels` table keeps the rest: a label recorded alone, an identity
//! that does not begin with its body key, and the label of a row deleted before its label's
//! time was up (a released claim, a purge), which a trigger keeps there. A label is so held
//! for its time or as long as its row is kept, whichever is longer (a dead letter's, until
//! it is purged).
//!
//! **Several replicas, one database.**
//! - *Takes* use `SELECT … FOR UPDATE SKIP LOCKED`: each worker locks the oldest due delivery
//!   no one else is locking and leases it in the same statement, so two workers never take
//!   one delivery and never queue behind each other's locks.
//! - *Claims* and *puts* are decided by the unique fingerprint: an `INSERT … ON CONFLICT DO
//!   NOTHING` makes a concurrent second insert of one fingerprint wait for the first and then
//!   see it, so exactly one wins. SKIP LOCKED would be wrong there: a claim must learn where
//!   *its* delivery stands, not move on to another row.
//! - Each operation is one statement (the guard's label-and-claim, a `put`, a claim are
//!   functions in the schema), so it is one round trip and one transaction.
//! - *Wake-ups*: a delivery that becomes due and is held by no one (stored, handed back,
//!   released, requeued — by a replica or by hand in `psql`) `NOTIFY`s the channel
//!   `appwrite_webhooks_due` from a trigger — one transaction at a time: `NOTIFY` holds a
//!   database-wide lock through its commit's flush, so a transaction that finds another one
//!   notifying leaves the wake-up to it, and the storing transactions still share their flushes
//!   (group commit). The process that stored a delivery wakes its own workers either way.
//!   Each ledger whose workers wait `LISTEN`s on one connection of its own and wakes one idle
//!   worker per notification
//!   ([`InboxStore::arrived`](appwrite_webhooks::inbox::InboxStore::arrived)). Polling stays as
//!   the fallback ([`Workers::with_poll_interval`](appwrite_webhooks::inbox::Workers::with_poll_interval)):
//!   a lost connection, a retry that falls due, a lease that runs out. The listener reconnects
//!   on its own.
//! - *Time* is the database server's clock, so replicas whose clocks drift still agree on
//!   leases, retries and retention.
//!
//! **Schema.** Created and upgraded explicitly, never behind your back:
//! [`PostgresLedger::migrate`] runs the migrations that have not run yet, in one transaction
//! under an advisory lock (replicas starting together are safe), and is idempotent. The same
//! SQL ships in `migrations/` for a DBA to run by hand, file after file (`psql
//! --single-transaction -f migrations/001_ledger.sql`, then `002_history.sql`: the history of
//! attempts an operator's view shows, written by a trigger in the statement that takes or
//! settles a delivery; then `003_ordering.sql`: the per-resource versions of
//! [`ExactlyOnce::with_ordering`] and the *stale* outcome; then `004_notify.sql`: wake-ups
//! that let storing transactions share their flushes; then `005_labels.sql`: labels counted
//! from the deliveries' rows, none written beside them, and functions whose plans Postgres
//! keeps); [`MIGRATIONS`] embeds them.
//! Everything lives in the schema `appwrite_webhooks`. [`PostgresLedger::check_schema`] refuses a database that was not
//! migrated, and one written by a newer version of this crate. Postgres 12 or newer.
//!
//! **Exactly-once effects.** [`PostgresLedger::exactly_once`] makes an inbox handler whose
//! writes to *this database* commit in one transaction with its delivery's `done`, and only
//! while its attempt's lease is current (the delivery's row is locked `FOR UPDATE` first): an
//! error, a panic, a timeout or a killed process leaves neither, and once committed no copy —
//! Appwrite's redelivery, another replica, a restart — runs it again. What the handler does
//! anywhere else (an e-mail, an HTTP call, another database) is still at least once.
//! [`ExactlyOnce::with_ordering`] adds per-resource ordering in the same transaction: a
//! delivery older than the newest version applied to its resource is settled *stale* without
//! its handler. [`PostgresLedger::complete_with`] does the same for the synchronous guard's
//! claim. See [`ExactlyOnce`] for the details.
//!
//! **Administration never blocks receivers.** `purge` and `requeue_dead` work through the rows
//! in transactions of at most [`ADMIN_BATCH`] rows, skipping rows another transaction holds
//! at that moment (running the command again catches them), so deliveries keep being stored
//! and taken while they run.
//!
//! **Failures.** Each operation is bounded by [`PostgresLedgerBuilder::with_timeout`]: a
//! database that is down or unreachable makes a `put` fail, and the route answers `503`
//! (Appwrite retries), and the guard applies its store-failure policy. Connections come from a
//! pool and are replaced when they break.
//!
//! **Why `tokio-postgres` and `deadpool-postgres`, not `sqlx`.** The ledger needs a handful of
//! fixed statements, `LISTEN`, and a pool: `tokio-postgres` is the async driver underneath
//! most of the ecosystem, and `deadpool-postgres` a small, well-kept pool over it (with
//! per-connection prepared-statement caches). `sqlx` would add its macros, its own
//! migration runner and several database drivers' worth of compile time to every user's
//! build and to CI, for nothing this crate uses. TLS: connections are plain TCP today; run the
//! database on a private network, or reach it through a TLS tunnel.
//!
//! ```no_run
//! use std::time::Duration;
//! use appwrite_webhooks::inbox::{Inbox, Workers};
//! use appwrite_webhooks::{Delivery, ReplayGuard, Verifier};
//! use appwrite_webhooks_postgres::PostgresLedger;
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let ledger = PostgresLedger::connect("postgres://app@db.internal/webhooks").await?;
//! ledger.migrate().await?; // once per deploy, or run migrations/*.sql by hand
//!
//! // Inbox mode: every replica stores and works; an adapter's InboxService answers 202.
//! let verifier = Verifier::new("key", "https://example.com/hook");
//! let inbox = Inbox::new(ledger.clone());
//! let workers = Workers::new(inbox, verifier.clone(), |delivery: Delivery| async move {
//!     println!("handling {}", delivery.events_header());
//!     Ok::<_, std::io::Error>(())
//! })
//! .start();
//!
//! // Or the synchronous guard, shared by the replicas:
//! let guarded = verifier.with_replay_guard(ReplayGuard::new(ledger));
//! # drop(guarded);
//! workers.shutdown(Duration::from_secs(10)).await;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod admin;
mod claims;
mod history;
mod inbox;
mod ledger;
mod listen;
mod once;
mod once_guard;
mod order;
mod schema;

use std::fmt;
use std::time::Duration;

#[cfg(doc)]
use appwrite_webhooks::{ClaimOutcome, inbox::Put};

pub use admin::ADMIN_BATCH;
/// The pool an exactly-once handler's [`LedgerTransaction`] comes from, at the version this
/// crate uses.
pub use deadpool_postgres;
pub use ledger::{
    DEFAULT_LEDGER_TIMEOUT, DEFAULT_POOL_SIZE, PostgresLedger, PostgresLedgerBuilder,
};
pub use once::{Effects, ExactlyOnce, LedgerTransaction};
pub use schema::{MIGRATIONS, Migration, SCHEMA_VERSION};
/// The driver, at the version this crate uses: its types (`ToSql`, `Row`, errors) for an
/// exactly-once handler's statements.
pub use tokio_postgres;

/// Why an operation failed, before it becomes a [`StoreError`](appwrite_webhooks::StoreError).
#[derive(Debug)]
pub(crate) enum Failure {
    /// The database answered with an error, or the connection broke.
    Postgres(tokio_postgres::Error),
    /// No connection could be had from the pool.
    Pool(deadpool_postgres::PoolError),
    /// The operation took longer than the ledger's timeout.
    Timeout(Duration),
    /// The schema is missing, older or newer than this crate's.
    Schema(String),
    /// A row that this crate did not write as it does.
    Invalid(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Postgres(error) => match error.as_db_error() {
                Some(db) => write!(f, "{}: {}", db.severity(), db.message()),
                None => write!(f, "{error}"),
            },
            Failure::Pool(error) => write!(f, "no connection: {error}"),
            Failure::Timeout(timeout) => write!(f, "no answer within {timeout:?}"),
            Failure::Schema(reason) | Failure::Invalid(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for Failure {}

impl From<tokio_postgres::Error> for Failure {
    fn from(error: tokio_postgres::Error) -> Self {
        Failure::Postgres(error)
    }
}

impl From<deadpool_postgres::PoolError> for Failure {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        Failure::Pool(error)
    }
}

impl From<Failure> for appwrite_webhooks::StoreError {
    fn from(failure: Failure) -> Self {
        appwrite_webhooks::StoreError(format!("Postgres ledger: {failure}").into())
    }
}

/// `duration` in milliseconds, `i64::MAX` past what fits (`Duration::MAX` included); the
/// schema's `after()` saturates the sum.
fn ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// An id from the database as the inbox's id (ids are positive).
fn id_of(id: i64) -> u64 {
    u64::try_from(id).unwrap_or(0)
}

/// An inbox id as the database's: one past what `bigint` holds matches nothing.
fn row_id(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(-1)
}
