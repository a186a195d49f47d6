//! The ledger as an [`InboxStore`](appwrite_webhooks::inbox::InboxStore) on Redis Streams:
//! any number of replicas receive into one inbox and work from it.
//!
//! Under the inbox prefix `P` (default [`DEFAULT_INBOX_PREFIX`], the ledger's prefix then
//! `inbox:`; see [`RedisLedgerBuilder::with_inbox_prefix`](crate::RedisLedgerBuilder::with_inbox_prefix)):
//!
//! | key | type | holds |
//! |---|---|---|
//! | `P d:<id>` | hash | one delivery: fingerprint, arrival, URI, headers, body, state, attempts, last error, its stream entry, the lease of the attempt holding it, the nonces of the `put` call that stored it and of the outcome call that last settled it |
//! | `P fp:<fingerprint>` | string | the id holding that fingerprint (de-duplication at the door) |
//! | `P ready` | stream, group `workers` | one entry per delivery due now: `XREADGROUP` hands it to one worker, `XAUTOCLAIM` to another once its worker has been silent for the visibility timeout, `XACK`+`XDEL` when settled |
//! | `P retry` | sorted set | deliveries waiting for a retry, by due time; moved to `ready` when due |
//! | `P dead` | stream | the dead letters, with their last error and attempts |
//! | `P done` | sorted set | done (and stale) deliveries by the end of their retention (their keys expire then) |
//! | `P stale` | sorted set | of those, the ones settled stale by [`Ordered`], by the same time |
//! | `P ids` | sorted set | every id held, for listing |
//! | `P seq` | string | the last id given |
//! | `P repair`, `P repair:due` | strings | where the search for deliveries whose stream entry vanished stands, and when it runs next |
//! | `P a:<id>` | list | the delivery's newest 64 attempts, JSON `[attempt, worker, started ms, ended ms, outcome, error]` ([`InboxAdmin::attempts`](appwrite_webhooks::inbox::InboxAdmin::attempts)); deleted or expired with the delivery |
//! | `P m:<minute>` | hash | `received`, `done`, `retried`, `failed` in that minute ([`InboxAdmin::activity`](appwrite_webhooks::inbox::InboxAdmin::activity)), kept a week |
//! | `P v:<resource>` | hash | with [`Ordered`]: the newest version applied to one resource (`at` µs, `change` 0 create / 1 update / 2 delete, `by` delivery, `applied` ms); no expiry |
//! | `P lock:<resource>` | string | with [`Ordered`]: the attempt handling that resource now, until its deadline |
//!
//! Every operation is a Lua script, so it happens whole or not at all, and each does a bounded
//! amount of work (administration runs as a loop of batches), so no script stalls the receivers'
//! `put`s. Every outcome is checked against its lease: a random nonce written when the attempt
//! took the delivery, so an attempt whose delivery was taken again — by any worker, even one
//! with the same name — cannot settle it. A `put` or an outcome sent again because the
//! connection broke before its answer came looks for the nonce its first call wrote, and
//! answers as that call did — "stored", taken — unless the delivery was settled again or is
//! gone meanwhile; a `take` sent again gives back what its first call took, so that delivery
//! is due at once rather than after the visibility timeout. A pending delivery whose stream
//! entry vanished (an `XTRIM` or `XDEL` on `P ready`) is found by the workers' `take` and given
//! a new entry.
//!
//! **Durability** is the server's: a `202` follows the write's reply, which Redis sends after
//! appending it to its AOF. With `appendonly yes` a restarted or killed `redis-server` loses
//! nothing acknowledged; add `appendfsync always` to survive a power loss too (`everysec`, the
//! default, may lose the last second). Replication is asynchronous: a failover can lose the last
//! writes. So the inbox refuses a server with `appendonly no`, or a `maxmemory-policy` that may
//! evict keys ([`DataLossRisk`](crate::DataLossRisk)), unless the ledger is built with
//! [`with_data_loss_allowed(true)`](crate::RedisLedgerBuilder::with_data_loss_allowed): before
//! its first command, or at start-up with [`RedisLedger::check_inbox`]. A ledger used only as
//! the replay guard never asks for `appendonly`.

mod order_scripts;
mod ordered;
mod scripts;
mod store;

use appwrite_webhooks::StoreError;

use crate::connection::bounded;
use crate::durability;
use crate::ledger::RedisLedger;
use scripts::BATCH;

#[allow(deprecated)]
pub use crate::deprecated::{DEFAULT_INBOX_TIMEOUT, RedisInbox, RedisInboxBuilder};
pub use crate::ledger::DEFAULT_INBOX_PREFIX;
pub use ordered::Ordered;

impl RedisLedger {
    async fn script<T: redis::FromRedisValue>(
        &self,
        script: &redis::Script,
        args: Vec<Arg>,
    ) -> Result<T, StoreError> {
        Ok(self.script_sent(script, args).await?.0)
    }

    /// `script`'s answer, and how often it was sent. A connection that broke since the last
    /// call (Redis restarted, a proxy between) fails once before the manager reconnects, so a
    /// call that failed so is sent once more. The first may have run before the break, and
    /// every script is safe to repeat:
    /// - a `put` or an outcome whose first call did run gets the answer to a second call —
    ///   "duplicate", "not taken" — so each passes a nonce of its own call, which its script
    ///   writes into the delivery, and when sent twice looks for it
    ///   ([`holds_nonce`](Self::holds_nonce), [`settling`](Self::settling)) to answer as the first
    ///   call would have;
    /// - a take sent twice gives back what its first call took (`GIVE_BACK_LOST_TAKE`);
    /// - administration works on what is left, and answers for the second call: a dead letter
    ///   revived or deleted by the first is "not found" by the second.
    async fn script_sent<T: redis::FromRedisValue>(
        &self,
        script: &redis::Script,
        args: Vec<Arg>,
    ) -> Result<(T, Sent), StoreError> {
        self.pass(durability::INBOX).await?;
        let mut invocation = script.prepare_invoke();
        invocation.arg(self.prefixes.inbox.as_bytes());
        for arg in &args {
            match arg {
                Arg::Text(text) => invocation.arg(text.as_bytes()),
                Arg::Bytes(bytes) => invocation.arg(&bytes[..]),
            };
        }
        let mut connection = self.connection.clone();
        match bounded(self.timeout, invocation.invoke_async(&mut connection)).await {
            Err(error) if connection_lost(&error) => {
                bounded(self.timeout, invocation.invoke_async(&mut connection))
                    .await
                    .map(|answer| (answer, Sent::Twice))
            }
            result => result.map(|answer| (answer, Sent::Once)),
        }
    }

    /// Whether delivery `id` holds `nonce` as `field` (`put`: the call that stored it;
    /// `settled`: the call that last settled it), so a call sent twice whose second answer was
    /// "duplicate" or "not taken" was the one that did it. False when it cannot be told — the
    /// delivery gone (done with a zero retention, purged), settled again by a later attempt,
    /// Redis not answering — so the script's own answer stands.
    async fn holds_nonce(&self, id: u64, field: &str, nonce: &str) -> bool {
        let key = format!("{}d:{id}", self.prefixes.inbox);
        let mut connection = self.connection.clone();
        let held = bounded(
            self.timeout,
            redis::cmd("HGET")
                .arg(key)
                .arg(field)
                .query_async::<Option<Vec<u8>>>(&mut connection),
        )
        .await;
        matches!(held, Ok(Some(held)) if held == nonce.as_bytes())
    }

    /// Runs a script shaped like `RETRY_DEAD` over every dead letter there is now, a
    /// batch at a time; returns the sum of what each batch counted.
    async fn over_dead_letters(&self, script: &redis::Script) -> Result<u64, StoreError> {
        let (mut total, mut cursor, mut end) = (0, String::new(), String::new());
        loop {
            let (counted, looked_at, next, last): (u64, usize, String, String) =
                self.script(script, vec![cursor.into(), end.into()]).await?;
            total += counted;
            if looked_at < BATCH {
                return Ok(total);
            }
            (cursor, end) = (next, last);
        }
    }
}

fn connection_lost(error: &StoreError) -> bool {
    error
        .0
        .downcast_ref::<redis::RedisError>()
        .is_some_and(|e| e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal())
}

/// How often [`RedisLedger::script_sent`] sent a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    Once,
    /// Again after a lost connection: the first call may have run.
    Twice,
}

enum Arg {
    Text(String),
    Bytes(Vec<u8>),
}

impl From<String> for Arg {
    fn from(text: String) -> Self {
        Arg::Text(text)
    }
}

impl From<&str> for Arg {
    fn from(text: &str) -> Self {
        Arg::Text(text.to_owned())
    }
}
