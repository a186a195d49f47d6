//! One ledger of deliveries in Redis for `appwrite-webhooks`: [`RedisLedger`] is the replay
//! guard's [`ReplayStore`](appwrite_webhooks::ReplayStore) (replicas of a receiver share one
//! record of the deliveries they handled, so each is handled once between them) and a durable
//! [`InboxStore`](appwrite_webhooks::inbox::InboxStore) on Redis Streams (answer `202`, handle
//! later, see the [`inbox`] module) — alone or both at once, over one connection, one
//! data-loss check and one timeout, like the SQLite crate's `SqliteLedger`.
//!
//! ```no_run
//! use appwrite_webhooks::inbox::Inbox;
//! use appwrite_webhooks::{ReplayGuard, Verifier};
//! use appwrite_webhooks_redis::RedisLedger;
//!
//! # async fn run() -> Result<(), appwrite_webhooks::StoreError> {
//! let ledger = RedisLedger::builder("redis://127.0.0.1:6379/")
//!     .with_prefix("shop:appwrite:")
//!     .connect()
//!     .await?;
//! // Synchronous routes: each delivery handled once between the replicas.
//! let verifier = Verifier::new("whsec_…", "https://example.com/hooks/appwrite")
//!     .with_replay_guard(ReplayGuard::new(ledger.clone()));
//! // Inbox routes: refuse a Redis that would lose acknowledged deliveries, at start-up.
//! ledger.check_inbox().await?;
//! let inbox = Inbox::new(ledger);
//! # Ok(()) }
//! ```
//!
//! # Keys
//!
//! The ledger's prefix `P` (default [`DEFAULT_LEDGER_PREFIX`], `appwrite-webhooks:`) gives the
//! replay guard's prefix `R` = `P seen:` and the inbox's `I` = `P inbox:` — with the default,
//! exactly the keys `RedisStore` and `RedisInbox` have always used ([`DEFAULT_REPLAY_PREFIX`],
//! [`DEFAULT_INBOX_PREFIX`]), so a ledger reads what they wrote. Either can be set on its own
//! ([`with_replay_prefix`](RedisLedgerBuilder::with_replay_prefix),
//! [`with_inbox_prefix`](RedisLedgerBuilder::with_inbox_prefix)): a deployment that ran
//! `RedisStore::….prefix(a)` and `RedisInbox::….prefix(b)` keeps its data with
//! `.with_replay_prefix(a).with_inbox_prefix(b)`.
//!
//! | key | type | holds |
//! |---|---|---|
//! | `R <fingerprint>` | string | a guard's claim: `p:<owner>` while its handler runs (expires with the lease), `d:<owner>` once it succeeded (for the TTL) |
//! | `R labels:<body>` | set | the labels one signed body came under (at the guard and in the inbox alike), at most [`MAX_LABELS_PER_BODY`](appwrite_webhooks::MAX_LABELS_PER_BODY) |
//! | `I d:<id>`, `I fp:<fingerprint>`, `I ready`, `I retry`, `I dead`, `I done`, `I stale`, `I ids`, `I seq`, `I a:<id>`, `I m:<minute>`, `I repair`, `I repair:due` | | the inbox: see the [`inbox`] module |
//! | `I v:<resource>`, `I lock:<resource>` | hash, string | per-resource ordering ([`Ordered`]): the newest version applied (kept for ever), the attempt handling it now |
//!
//! The two uses keep apart: a fingerprint the guard claimed is not an inbox delivery, nor the
//! reverse, and each counts the labels of a body on its own (the SQLite ledger, one table,
//! shares both; here the keys stay where existing data is).
//!
//! # The replay guard
//!
//! A claim is `SET NX PX` (a crashed replica's claims expire by themselves); finishing and
//! releasing are Lua scripts that compare the owner token before they write (compare-and-set,
//! compare-and-delete), so a replica whose lease ran out never finishes or deletes another
//! replica's claim — and a claim whose `SET` timed out on the client but was applied by a slow
//! server is released by its token afterwards, not left behind. The connection is the `redis`
//! crate's auto-reconnecting `ConnectionManager`; every command is bounded by the timeout, and
//! while Redis is unreachable the guard applies its
//! [`StoreFailure`](appwrite_webhooks::StoreFailure) policy (503 by default, or accept with a
//! warning).
//!
//! # A Redis that may drop data is refused
//!
//! The ledger reads `maxmemory-policy` when it connects and refuses a server that may evict its
//! keys; the inbox also needs `appendonly yes` (what it answered `202` must survive a restart),
//! the guard does not (a restart that forgets handled deliveries only means a copy is handled
//! again). So `appendonly` is checked only when the ledger is used as an inbox: before its first
//! inbox command, or at start-up with [`RedisLedger::check_inbox`]; a ledger used only by the
//! guard runs on a server without it. A server whose `CONFIG` is renamed (managed services) is
//! refused too. Each refusal is a [`DataLossRisk`] naming the setting and the fix. Opt in with
//! [`with_data_loss_allowed(true)`](RedisLedgerBuilder::with_data_loss_allowed) only for a
//! server you have checked yourself.
//!
//! # Per-resource ordering, without exactly-once
//!
//! [`RedisLedger::ordered(handler)`](RedisLedger::ordered) ([`Ordered`]) keeps, per resource,
//! the newest version applied (`$updatedAt`, then `create < update < delete`) and settles an
//! older delivery *stale* without running the handler, as the SQLite ledger's
//! `ExactlyOnce::with_ordering` does — but the handler's effects are outside Redis, so they do
//! not commit with the delivery's *done*: a crash between the two runs the handler again.
//! Keep it idempotent.
//!
//! # Options and former names
//!
//! Options are set with `with_<option>(value)` before connecting ([`RedisLedger::builder`]) or
//! after (on the ledger), and read with `<option>()`. The data-loss opt-in is an option like
//! the others, `with_data_loss_allowed(bool)`, read with `data_loss_allowed()`.
//!
//! `RedisStore` and `RedisInbox` (and their builders, `DEFAULT_PREFIX`, `DEFAULT_TIMEOUT`,
//! `DEFAULT_INBOX_TIMEOUT`) are deprecated wrappers around a ledger that keep their old
//! defaults: the same keys, a timeout of 1 s and 2 s, `.prefix(…)` setting their own prefix, and
//! `RedisInbox::connect` checking `appendonly` at once. `RedisLedger::from(store)` takes the
//! ledger out of one.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod connection;
mod deprecated;
mod durability;
pub mod inbox;
mod labels;
mod ledger;
mod prefix;
mod replay;

pub use durability::DataLossRisk;
pub use inbox::Ordered;
pub use ledger::{
    DEFAULT_INBOX_PREFIX, DEFAULT_LEDGER_PREFIX, DEFAULT_LEDGER_TIMEOUT, DEFAULT_REPLAY_PREFIX,
    RedisLedger, RedisLedgerBuilder,
};

#[allow(deprecated)]
pub use deprecated::{
    DEFAULT_INBOX_TIMEOUT, DEFAULT_PREFIX, DEFAULT_TIMEOUT, RedisInbox, RedisInboxBuilder,
    RedisStore, RedisStoreBuilder,
};
