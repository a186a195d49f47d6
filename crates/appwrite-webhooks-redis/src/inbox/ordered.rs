//! Per-resource ordering on Redis, without exactly-once: [`RedisLedger::ordered`] wraps an
//! inbox handler so that a delivery older than what was applied to its resource is settled
//! *stale* instead of handled.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use appwrite_webhooks::inbox::{Attempt, Handled, InboxHandler, ResourceVersion};
use appwrite_webhooks::{Delivery, HandlerError};

use super::Arg;
use super::order_scripts::ORDER_SCRIPTS;
use super::store::{lease_args, millis, now};
use crate::ledger::RedisLedger;

/// The longest pause between two looks at a resource another attempt is handling.
const MAX_PAUSE: Duration = Duration::from_millis(50);

/// An inbox handler with per-resource ordering on Redis: made by [`RedisLedger::ordered`];
/// give it to [`Workers`](appwrite_webhooks::inbox::Workers) like any handler, with an
/// [`Inbox`](appwrite_webhooks::inbox::Inbox) on the same ledger.
///
/// **What it does.** The ledger remembers, per resource ([`ResourceVersion`]: kind and ids
/// from the primary event, `$updatedAt` from the payload), the newest version applied and
/// whether it was a delete. Before the handler runs, one Lua script checks the attempt's lease
/// and that version: a delivery older than it is settled *stale* without running the handler —
/// [`State::Stale`](appwrite_webhooks::inbox::State::Stale) in `stats`, `list` and `get`, with
/// why as its last error, the attempt counted with `outcome="stale"` — and its copies are
/// answered `2xx` like a done delivery's. Otherwise the handler runs, and when it succeeds one
/// script raises the resource's version to the delivery's (compare-and-set: only ever up) and
/// settles the delivery done, if the lease is still the attempt's. A handler that fails,
/// panics or times out records no version: the retry is compared again, and applied. (An
/// effect it made before failing is outside Redis: until the retry applies it again, an
/// older delivery of that resource may still be applied over it.)
///
/// The order is SQLite's ([`ExactlyOnce::with_ordering`] in `appwrite-webhooks-sqlite`):
/// `(updated_at, change)` with `create < update < delete` within one `$updatedAt`
/// ([`Change`](appwrite_webhooks::inbox::Change)), so a delete is never undone by a late
/// create or update of the same or an older `$updatedAt`, and a resource created again later
/// (a newer `$updatedAt`) is applied. An equal version is applied again. Deliveries with no
/// version (no `$updatedAt`, executions, alerts) pass through, unordered, settled by the
/// worker as usual.
///
/// **One version of a resource at a time.** While a handler runs for a resource, the attempt
/// holds a lock on it (`I lock:<resource>`, expiring at the attempt's deadline, let go when it
/// settles, fails or is dropped); an attempt at another delivery of that resource waits for it,
/// then compares. Without it, two workers could each pass the check with versions 5 and 6 and
/// apply 6 before 5. Deliveries of other resources run in parallel as before; a worker waiting
/// for a busy resource waits at most until its own attempt timeout, then fails the attempt
/// (retried with backoff).
///
/// **Ordering, not exactly-once.** The handler's effects are outside Redis, so they cannot
/// commit with the delivery's *done*: a process killed (or a Redis unreachable) between the
/// handler's effect and the settling script leaves the delivery pending, and it is handled
/// again — with the same version, which is not older than what was applied, so it runs.
/// Keep the effect idempotent (an upsert, a delete of what may be gone). What ordering adds
/// is that a late copy of an *older* version never runs after a newer one was applied. For
/// effects committed with the delivery, use the SQLite or Postgres ledger's exactly-once
/// handler.
///
/// **How long versions are kept.** For ever: `I v:<resource>` (a small hash: `at`, `change`,
/// `by`, `applied`) has no expiry, one per resource ever seen. A stale copy may arrive at any
/// time — Appwrite redelivers failures later, a retry waits its backoff, a dead letter is
/// retried weeks later — and a forgotten version would let it through, undoing newer state
/// (bringing a deleted resource back). So the versions need what the inbox needs of the
/// server, and the ledger's data-loss check refuses what would lose them: a
/// `maxmemory-policy` that may evict keys (an evicted version lets a stale copy through) and
/// `appendonly no` (a restart forgets them), unless the ledger was built with
/// `with_data_loss_allowed(true)`. To forget a resource on purpose (it will never change
/// again), `DEL I v:<resource>`.
///
/// ```no_run
/// use std::time::Duration;
/// use appwrite_webhooks::inbox::{Inbox, Workers};
/// use appwrite_webhooks::{Delivery, HandlerError, Verifier, models::User};
/// use appwrite_webhooks_redis::RedisLedger;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let ledger = RedisLedger::connect("redis://127.0.0.1:6379/").await?;
/// ledger.check_inbox().await?;
/// let inbox = Inbox::new(ledger.clone());
/// // Idempotent: an upsert of the user as the delivery carries it.
/// let mirror = ledger.ordered(|delivery: Delivery| async move {
///     let user: User = delivery.json()?;
///     println!("upsert {} as {}", user.id, user.name);
///     Ok::<(), HandlerError>(())
/// });
/// let verifier = Verifier::new("whsec_…", "https://example.com/hooks/appwrite");
/// let workers = Workers::new(inbox, verifier, mirror).start();
/// // …
/// workers.shutdown(Duration::from_secs(10)).await;
/// # Ok(()) }
/// ```
///
/// [`ExactlyOnce::with_ordering`]: https://docs.rs/appwrite-webhooks-sqlite/latest/appwrite_webhooks_sqlite/struct.ExactlyOnce.html#method.with_ordering
pub struct Ordered<H> {
    ledger: RedisLedger,
    handler: Arc<H>,
}

impl<H> std::fmt::Debug for Ordered<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ordered")
            .field("ledger", &self.ledger)
            .finish_non_exhaustive()
    }
}

impl RedisLedger {
    /// `handler` with per-resource ordering kept in this ledger: a delivery older than what was
    /// applied to its resource is settled stale without running it. See [`Ordered`] for what
    /// that guarantees — ordering, not exactly-once — and for how long versions are kept.
    ///
    /// The handler is any [`InboxHandler`] that does not settle its own attempts (a
    /// [`Router`](appwrite_webhooks::Router), an async function): it is run through
    /// [`InboxHandler::handle`], and `Ordered` settles the attempt.
    pub fn ordered<H: InboxHandler>(&self, handler: H) -> Ordered<H> {
        Ordered {
            ledger: self.clone(),
            handler: Arc::new(handler),
        }
    }
}

impl<H: InboxHandler> InboxHandler for Ordered<H> {
    fn handle(
        self: Arc<Self>,
        _delivery: Delivery,
    ) -> Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send + 'static>> {
        // Workers call `handle_attempt`; without a lease there is nothing to settle with, and
        // running the handler unordered would break the promise silently.
        Box::pin(async {
            Err("Ordered needs the attempt's lease: run it with inbox Workers".into())
        })
    }

    fn handle_attempt(
        self: Arc<Self>,
        delivery: Delivery,
        attempt: Attempt,
    ) -> Pin<Box<dyn Future<Output = Result<Handled, HandlerError>> + Send + 'static>> {
        Box::pin(async move { self.attempt(delivery, attempt).await })
    }
}

/// What the check before the handler found.
enum Begun {
    /// The attempt holds the resource: run the handler.
    Go,
    /// Settled stale.
    Stale,
    /// The lease is another attempt's.
    LeaseLost,
}

impl<H: InboxHandler> Ordered<H> {
    async fn attempt(&self, delivery: Delivery, attempt: Attempt) -> Result<Handled, HandlerError> {
        let Some(version) = ResourceVersion::of(&delivery) else {
            let handled = Arc::clone(&self.handler).handle(delivery);
            return handled.await.map(|()| Handled::Succeeded);
        };
        // Armed before the first script: a reply lost after Redis took the lock still lets go
        // of it (by this attempt's nonce) instead of blocking the resource until the deadline.
        let mut lock = Lock {
            ledger: self.ledger.clone(),
            args: Some(lock_args(&attempt, &version)),
        };
        match self.begin(&attempt, &version).await? {
            Begun::Go => {}
            Begun::Stale => {
                lock.disarm();
                return Ok(Handled::Stale);
            }
            Begun::LeaseLost => {
                lock.disarm();
                return Ok(Handled::LeaseLost);
            }
        }
        Arc::clone(&self.handler).handle(delivery).await?;
        if Instant::now() >= attempt.deadline {
            // The worker has counted the attempt a timeout: settle nothing.
            return Err(past_deadline());
        }
        let mut args = lease_args(&attempt.lease);
        args.extend(outcome_args(&attempt, &version));
        let (settled, first_call_settled) = self
            .ledger
            .settling(&ORDER_SCRIPTS.done, args, attempt.lease.id, |s: &i64| {
                *s != 1
            })
            .await?;
        lock.disarm(); // the script let go of it
        Ok(if settled == 1 || first_call_settled {
            Handled::Done
        } else {
            Handled::LeaseLost
        })
    }

    /// Checks the lease and the version, taking the resource's lock; waits while another
    /// attempt holds it, up to this attempt's deadline.
    async fn begin(
        &self,
        attempt: &Attempt,
        version: &ResourceVersion,
    ) -> Result<Begun, HandlerError> {
        let mut pause = Duration::from_millis(1);
        loop {
            let left = attempt.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(past_deadline());
            }
            let mut args = lease_args(&attempt.lease);
            args.extend(outcome_args(attempt, version));
            args.push(format!("{:?}", version.change).into());
            args.push(millis(left).into());
            let lease_lost = |reply: &Vec<i64>| reply.as_slice() == [0];
            let (reply, first_call_settled) = self
                .ledger
                .settling(&ORDER_SCRIPTS.begin, args, attempt.lease.id, lease_lost)
                .await?;
            match reply.as_slice() {
                // Sent twice, its first call found the delivery stale and settled it.
                [0] if first_call_settled => return Ok(Begun::Stale),
                [0] => return Ok(Begun::LeaseLost),
                [1] => return Ok(Begun::Go),
                [3] => return Ok(Begun::Stale),
                [2, held] => {
                    let held = Duration::from_millis(u64::try_from(*held).unwrap_or(1).max(1));
                    let wait = pause.min(held);
                    if Instant::now() + wait >= attempt.deadline {
                        return Err(format!(
                            "{} was being handled by another attempt until this attempt's \
                             timeout; it will be compared again on the next attempt",
                            version.resource
                        )
                        .into());
                    }
                    tokio::time::sleep(wait).await;
                    pause = (pause * 2).min(MAX_PAUSE);
                }
                other => return Err(format!("unexpected reply from Redis: {other:?}").into()),
            }
        }
    }
}

/// `now, retention, resource, at, rank`: what both scripts take after the lease.
fn outcome_args(attempt: &Attempt, version: &ResourceVersion) -> Vec<Arg> {
    vec![
        now().into(),
        millis(attempt.retention).into(),
        version.resource.as_str().into(),
        version.updated_at.to_string().into(),
        version.change.rank().to_string().into(),
    ]
}

fn lock_args(attempt: &Attempt, version: &ResourceVersion) -> Vec<Arg> {
    let mut args = lease_args(&attempt.lease);
    args.push(version.resource.as_str().into());
    args
}

fn past_deadline() -> HandlerError {
    "the attempt ran past its timeout before it could settle; its version was not recorded".into()
}

/// The resource's lock while this attempt may hold it: dropped armed — the handler failed or
/// panicked, a script failed, or the worker dropped the attempt (timeout, shutdown) — it lets
/// go of the lock in a task of its own, so the next version need not wait for it to expire.
struct Lock {
    ledger: RedisLedger,
    args: Option<Vec<Arg>>,
}

impl Lock {
    fn disarm(&mut self) {
        self.args = None;
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let Some(args) = self.args.take() else {
            return;
        };
        // Outside a runtime (it is shutting down) the lock expires at the attempt's deadline.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let ledger = self.ledger.clone();
            runtime.spawn(async move {
                let _ = ledger.script::<i64>(&ORDER_SCRIPTS.release, args).await;
            });
        }
    }
}
