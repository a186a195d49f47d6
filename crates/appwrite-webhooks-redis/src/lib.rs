//! Redis stores for `appwrite-webhooks`: a [`ReplayStore`](appwrite_webhooks::ReplayStore) (replicas of a receiver share one
//! record of the deliveries they handled, so each delivery is handled once between them) and a
//! durable inbox on Redis Streams ([`RedisInbox`], see the [`inbox`] module).
//!
//! A key `<prefix><fingerprint>` holds `p:<owner token>` while a handler runs (a pending claim
//! with a lease: `SET NX PX`, so a crashed replica's claims expire by themselves) and
//! `d:<owner token>` once it succeeded (for the TTL). Finishing and releasing are Lua scripts
//! that compare the owner token before they write (compare-and-set, compare-and-delete), so a
//! replica whose lease ran out never finishes or deletes another replica's claim — and a claim
//! whose `SET` timed out on the client but was applied by a slow server is released by its
//! token afterwards, not left behind. The connection is the `redis` crate's auto-reconnecting
//! `ConnectionManager`; every command is bounded by a timeout, and while Redis is unreachable
//! the guard applies its [`StoreFailure`](appwrite_webhooks::StoreFailure) policy (503 by
//! default, or accept with a warning).
//!
//! **A Redis that may drop data is refused.** Both stores read `maxmemory-policy` (and the
//! inbox `appendonly`) when they connect, and refuse a server that may evict their keys or, for
//! the inbox, loses writes on a restart, with a [`DataLossRisk`] naming the setting and the
//! fix; a server whose `CONFIG` is renamed (managed services) is refused too. Opt in with
//! `allow_data_loss()` ([`RedisStoreBuilder::allow_data_loss`],
//! [`RedisInboxBuilder::allow_data_loss`]) only for a server you have checked yourself.
//!
//! Options can be set before connecting ([`RedisStore::builder`]) or after
//! ([`RedisStore::prefix`], [`RedisStore::timeout`]); either way they reach the connection.
//!
//! ```no_run
//! use appwrite_webhooks::{ReplayGuard, Verifier};
//! use appwrite_webhooks_redis::RedisStore;
//!
//! # async fn run() -> Result<(), appwrite_webhooks::StoreError> {
//! let store = RedisStore::connect("redis://127.0.0.1:6379/").await?.prefix("shop:appwrite:");
//! let verifier = Verifier::new("whsec_…", "https://example.com/hooks/appwrite")
//!     .with_replay_guard(ReplayGuard::new(store));
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod connection;
mod durability;
pub mod inbox;
mod labels;
mod replay;

pub use durability::DataLossRisk;
pub use inbox::{DEFAULT_INBOX_PREFIX, DEFAULT_INBOX_TIMEOUT, RedisInbox, RedisInboxBuilder};
pub use replay::{DEFAULT_PREFIX, DEFAULT_TIMEOUT, RedisStore, RedisStoreBuilder};
