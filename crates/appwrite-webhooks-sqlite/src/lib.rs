//! One SQLite file as the ledger of the deliveries a receiver has seen: a durable
//! [`InboxStore`](appwrite_webhooks::inbox::InboxStore) (answer `202`, handle later) and a
//! [`ReplayStore`](appwrite_webhooks::ReplayStore) for the synchronous replay guard that
//! survives a restart. Zero setup, inspectable with `sqlite3`.
//!
//! A route in inbox mode answers `202` only once the delivery is committed here; workers take
//! it, run your handler with retries, and record the outcome. Several processes may share one
//! file (a receiver and separate workers, say): every change is one transaction.
//!
//! **One ledger.** Both uses keep one row per fingerprint in one table: an inbox delivery
//! (with its body), or a guard's claim (no body: pending while its request runs, done for the
//! TTL; workers never take one). A fingerprint held by either is held for both: an inbox `put`
//! of a fingerprint a claim holds or completed is a [`Put::Duplicate`], and a claim of a
//! fingerprint the inbox holds is [`ClaimOutcome::Done`] once a worker handled it and
//! [`ClaimOutcome::InProgress`] while it is pending or a dead letter (no handler succeeded
//! with it, so no `2xx`). The inbox and the guard derive their fingerprints differently, so
//! one delivery received both ways is two rows; the rule matters for stores fed by hand. A
//! `put` that meets a *pending* claim keeps the delivery in that claim's row: if the claim
//! completes, it is done; if it is released or its lease runs out, workers handle it — the
//! `202` it answered is never left without a handler. See [`SqliteLedger`].
//!
//! **Durability.** The file is in WAL mode. With [`Durability::Full`] (the default) a stored
//! delivery's commit runs with `synchronous = FULL`: it is flushed to disk before the `202`, so
//! an acknowledged delivery survives a killed process *and* a power loss or OS crash.
//! Concurrent deliveries share one commit and one flush (group commit), each in a savepoint of
//! its own: one that fails (too big for the cap) is undone alone, and a failed commit fails
//! every delivery in it, none stored. Workers' changes, claims and administration commit with
//! `synchronous = NORMAL`, unflushed until the next stored delivery's or a checkpoint: a power
//! loss may undo the last outcomes, and those deliveries are handled again, which
//! at-least-once allows. [`Durability::Normal`] commits everything that way: a killed process
//! still loses nothing, but a power loss may lose the last deliveries before the `202`s they
//! answered.
//!
//! **Exactly-once effects.** [`SqliteLedger::exactly_once`] makes an inbox handler whose
//! writes — to your own tables in this file, through the [`LedgerTransaction`] it is given —
//! commit in the same transaction that marks its delivery done, checked against the attempt's
//! lease. An error, a panic, a timeout or a killed process before the commit leaves neither
//! the writes nor the `done`, and the delivery is handled again; after it, no copy runs it
//! again. Only those writes are exactly once: an e-mail sent from the handler is still at
//! least once. The handler runs on the writer thread, in a savepoint of its group commit (one
//! connection: no `SQLITE_BUSY`, no deadlock between two writers), so keep it short. See
//! [`ExactlyOnce`].
//!
//! **Per-resource ordering, opt-in.** [`ExactlyOnce::with_ordering`] keeps, per resource, the
//! newest version applied (`$updatedAt`, then `create < update < delete`) in the
//! `resource_versions` table, in the same transaction: an older delivery is settled
//! [`State::Stale`](appwrite_webhooks::inbox::State::Stale) without its handler (answered
//! `2xx` like a handled one, counted in `stats().stale` and in
//! `appwrite_webhooks_inbox_attempts_total{outcome="stale"}`), so a late copy never undoes a
//! newer change and a delete is never undone by a late create or update. Deliveries without a
//! `$updatedAt` pass through.
//!
//! **Schema.** Both arrived within schema version 2, added by whichever version of this crate
//! opens the file (an idempotent migration): the `resource_versions` table and a nullable
//! `outcome` column on `deliveries` (`'stale'` on a done row settled without its handler). An
//! older version of this crate still opens the file and reads a stale row as done.
//!
//! **The synchronous path.** [`SqliteLedger::complete_with`] completes a replay claim made on
//! this ledger in the same transaction as the handler's writes — for a route that verifies,
//! claims and handles by hand. A [`ReplayGuard`](appwrite_webhooks::ReplayGuard) on a verifier
//! (the adapters' `serve`) does not hand out its claim's token, so there the handler's effects
//! stay at least once, and per-resource ordering is inbox-only.
//!
//! **Bounded, and never stuck.** [`SqliteLedgerBuilder::max_bytes`] caps the pages in use; a
//! full ledger refuses new deliveries and claims (the route answers `503`, nothing stored
//! half-way), while workers keep taking and settling and a purge frees room at once.
//! Administration ([`purge`](appwrite_webhooks::inbox::InboxAdmin::purge),
//! [`requeue_dead`](appwrite_webhooks::inbox::InboxAdmin::requeue_dead)) runs in
//! transactions of at most [`ADMIN_BATCH`] rows, so deliveries keep being stored while it runs.
//!
//! ```
//! use std::time::Duration;
//! use appwrite_webhooks::inbox::{InboxAdmin, Inbox, Put, Workers};
//! use appwrite_webhooks::{Delivery, Verifier, sender::DeliveryBuilder};
//! use appwrite_webhooks_sqlite::SqliteLedger;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let path = testkit::scratch::dir("doc").join("inbox.db");
//! let url = "https://example.com/hook";
//! let verifier = Verifier::new("k", url);
//! let inbox = Inbox::new(SqliteLedger::open(&path)?);
//!
//! // The route (an adapter's InboxService does this): verify, store, answer 202.
//! let (parts, body) = DeliveryBuilder::new("k", url, "{}").build().into_request().into_parts();
//! let body = http_body_util::Full::new(body);
//! assert!(matches!(inbox.accept(&verifier, &parts.uri, &parts.headers, body).await?, Put::Stored(_)));
//!
//! // The workers: your handler (or a Router), with retries and dead letters.
//! let workers = Workers::new(inbox.clone(), verifier, |delivery: Delivery| async move {
//!     println!("handling {}", delivery.events_header());
//!     Ok::<_, std::io::Error>(())
//! })
//! .start();
//! # while inbox.admin().stats().await?.done == 0 { tokio::time::sleep(Duration::from_millis(5)).await; }
//! workers.shutdown(Duration::from_secs(10)).await;
//! assert_eq!(inbox.admin().stats().await?.done, 1);
//! # Ok(()) }
//! ```
//!
//! The synchronous guard over the same kind of file — a handled delivery stays handled across
//! a restart:
//!
//! ```
//! use appwrite_webhooks::{ReplayGuard, Verifier};
//! use appwrite_webhooks_sqlite::SqliteLedger;
//!
//! # let path = testkit::scratch::dir("doc-guard").join("ledger.db");
//! let verifier = Verifier::new("k", "https://example.com/hook")
//!     .with_replay_guard(ReplayGuard::new(SqliteLedger::open(&path)?));
//! # drop(verifier); let _ = std::fs::remove_file(&path);
//! # Ok::<(), appwrite_webhooks::StoreError>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod admin;
mod capacity;
mod claims;
mod history;
mod inbox;
mod labels;
mod ledger;
mod once;
mod schema;
mod writer;

use std::path::Path;
use std::time::{Duration, SystemTime};

use appwrite_webhooks::inbox::unix_millis;
#[cfg(doc)]
use appwrite_webhooks::{ClaimOutcome, inbox::Put};

pub use admin::ADMIN_BATCH;
pub use ledger::{SqliteLedger, SqliteLedgerBuilder};
pub use once::handler::ExactlyOnce;
pub use once::transaction::LedgerTransaction;
/// The `rusqlite` this crate uses: an [`ExactlyOnce`] handler writes through its
/// [`Connection`](rusqlite::Connection), so `params!` and the types must be this version's.
pub use rusqlite;

/// The ledger's former name, from when it was only an inbox.
#[deprecated(note = "renamed `SqliteLedger`: the same file now backs the replay guard too")]
pub type SqliteInbox = SqliteLedger;

/// The builder's former name.
#[deprecated(note = "renamed `SqliteLedgerBuilder`")]
pub type SqliteInboxBuilder = SqliteLedgerBuilder;

/// How hard each commit is flushed; see the crate docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous = FULL`: every stored delivery survives a power loss. The default.
    #[default]
    Full,
    /// `synchronous = NORMAL`: every commit survives a killed process; a power loss may lose
    /// the last ones.
    Normal,
}

fn store_error(path: &Path, error: rusqlite::Error) -> appwrite_webhooks::StoreError {
    appwrite_webhooks::StoreError(format!("SQLite ledger {}: {error}", path.display()).into())
}

/// Now, in milliseconds since the Unix epoch.
fn now_ms() -> i64 {
    millis(SystemTime::now())
}

/// `at` in milliseconds since the Unix epoch: 0 before it, `i64::MAX` past what fits.
fn millis(at: SystemTime) -> i64 {
    i64::try_from(unix_millis(at)).unwrap_or(i64::MAX)
}

/// `duration` in milliseconds, `i64::MAX` past what fits (`Duration::MAX` included).
fn ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// `duration` after `now`, in milliseconds: saturating, so `Duration::MAX` is "never" rather
/// than an overflow (which SQLite would turn into a floating-point number).
fn after(now: i64, duration: Duration) -> i64 {
    now.saturating_add(ms(duration))
}
