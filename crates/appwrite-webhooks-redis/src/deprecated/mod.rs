//! The names from before the ledger, kept so code written against them still builds: thin
//! wrappers around a [`RedisLedger`](crate::RedisLedger) that keep their old defaults (prefix,
//! timeout) and their old checks, and so read and write the same keys as before.
//!
//! | old | new |
//! |---|---|
//! | `RedisStore::connect(url)` | `RedisLedger::connect(url)` (same replay keys) |
//! | `RedisStore::….prefix(a)` | `….with_replay_prefix(a)` |
//! | `RedisInbox::connect(url)` | `RedisLedger::connect(url)`, then `check_inbox()` to refuse `appendonly no` at start-up (same inbox keys) |
//! | `RedisInbox::….prefix(b)` | `….with_inbox_prefix(b)` |
//! | `….timeout(t)` | `….with_timeout(t)` (one timeout, default 2 s) |
//! | `….allow_data_loss()` | `….with_data_loss_allowed(true)` |

#![allow(deprecated)]

mod inbox;
mod store;

use std::time::Duration;

pub use inbox::{RedisInbox, RedisInboxBuilder};
pub use store::{RedisStore, RedisStoreBuilder};

/// The replay keys' prefix of a `RedisStore`.
#[deprecated(
    note = "use RedisLedger, whose replay keys are under DEFAULT_REPLAY_PREFIX (the same)"
)]
pub const DEFAULT_PREFIX: &str = crate::DEFAULT_REPLAY_PREFIX;

/// How long a `RedisStore` command may take unless set otherwise.
#[deprecated(note = "use RedisLedger, whose one timeout is DEFAULT_LEDGER_TIMEOUT unless set")]
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a `RedisInbox` command may take unless set otherwise.
#[deprecated(note = "use RedisLedger, whose one timeout is DEFAULT_LEDGER_TIMEOUT unless set")]
pub const DEFAULT_INBOX_TIMEOUT: Duration = Duration::from_secs(2);
