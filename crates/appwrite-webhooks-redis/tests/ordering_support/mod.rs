//! What the ordering tests share: a seeded generator of bursts of user deliveries (copies,
//! redeliveries, shuffled), a handler that mirrors users into a map, and the ledger under a
//! prefix of its own.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use appwrite_webhooks::inbox::{
    Attempt, Handled, Inbox, InboxHandler, RetryPolicy, Taken, Workers,
};
use appwrite_webhooks::models::User;
use appwrite_webhooks::{Delivery, HandlerError};
use appwrite_webhooks_redis::RedisLedger;
use testkit::redis::RedisServer;

// The bursts every store's tests share; each test binary uses its own part of them.
#[allow(unused_imports)]
pub use testkit::burst::*;

/// A ledger and an inbox on it, under `prefix`.
pub async fn ledger(redis: &RedisServer, prefix: &str) -> (RedisLedger, Inbox) {
    let ledger = RedisLedger::connect(&redis.url())
        .await
        .unwrap()
        .with_prefix(prefix);
    let inbox = Inbox::new(ledger.clone());
    (ledger, inbox)
}

/// Quick workers: polling every 2 ms, retrying within milliseconds, up to 20 attempts.
pub fn workers(inbox: &Inbox, handler: impl InboxHandler, concurrency: usize) -> Workers {
    Workers::new(inbox.clone(), verifier(), handler)
        .with_concurrency(concurrency)
        .with_poll_interval(Duration::from_millis(2))
        .with_retry(
            RetryPolicy::default()
                .with_max_attempts(20)
                .with_initial_backoff(Duration::from_millis(1))
                .with_max_backoff(Duration::from_millis(4)),
        )
}

/// `expected` without its deleted users: what the mirror must hold.
pub fn live(expected: &BTreeMap<String, Option<String>>) -> BTreeMap<String, String> {
    expected
        .iter()
        .filter_map(|(k, v)| v.clone().map(|name| (k.clone(), name)))
        .collect()
}

/// What the mirroring handler did: the users it holds, and per Appwrite delivery id how many
/// times its effect was applied and how many times the handler was called.
#[derive(Debug, Default)]
pub struct Seen {
    pub users: BTreeMap<String, String>,
    pub effects: HashMap<String, u32>,
    pub calls: HashMap<String, u32>,
}

pub type Shared = Arc<Mutex<Seen>>;

/// Where a failing call fails: before its effect, or after it (the effect is then applied and
/// the attempt still fails, as when the process dies before settling).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fail {
    No,
    BeforeEffect,
    AfterEffect,
}

/// The mirror: a user's create or update is an upsert, a delete a delete — idempotent, as a
/// handler ordered without exactly-once must be. `fail(delivery id, call number from 1)` says
/// whether (and where) that call fails.
pub fn mirror<F>(
    seen: Shared,
    fail: F,
) -> impl Fn(Delivery) -> std::future::Ready<Result<(), HandlerError>> + Send + Sync + 'static
where
    F: Fn(&str, u32) -> Fail + Send + Sync + 'static,
{
    move |delivery: Delivery| {
        std::future::ready((|| {
            let id = delivery.delivery_id().unwrap_or("").to_owned();
            let mut seen = seen.lock().unwrap();
            let call = {
                let calls = seen.calls.entry(id.clone()).or_default();
                *calls += 1;
                *calls
            };
            let failing = fail(&id, call);
            if failing == Fail::BeforeEffect {
                return Err(format!("{id}: call {call} fails before its effect").into());
            }
            let user: User = delivery.json()?;
            let action = delivery
                .primary_event()
                .and_then(|e| e.action().map(str::to_owned));
            if action.as_deref() == Some("delete") {
                seen.users.remove(&user.id);
            } else {
                seen.users.insert(user.id, user.name);
            }
            *seen.effects.entry(id.clone()).or_default() += 1;
            if failing == Fail::AfterEffect {
                return Err(format!("{id}: call {call} fails after its effect").into());
            }
            Ok(())
        })())
    }
}

/// Waits until nothing is pending (bounded: a hung inbox fails the test, it never hangs it).
pub async fn drained(inbox: &Inbox) {
    for _ in 0..6000 {
        if inbox.admin().stats().await.unwrap().pending == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("still pending: {:?}", inbox.admin().stats().await.unwrap());
}

/// The attempt a worker would pass for `taken`.
pub fn attempt_for(taken: &Taken) -> Attempt {
    Attempt::new(
        taken.lease.clone(),
        taken.attempt,
        Duration::from_secs(60),
        Instant::now() + Duration::from_secs(60),
    )
}

/// Takes the next delivery and runs `handler` on it as a worker would.
pub async fn attempt(
    inbox: &Inbox,
    handler: &Arc<dyn InboxHandler>,
) -> (Taken, Result<Handled, appwrite_webhooks::HandlerError>) {
    let taken = inbox
        .store()
        .take("w", Duration::from_secs(60))
        .await
        .unwrap()
        .expect("a delivery");
    let delivery = verifier().verify_stored(&taken.received).await.unwrap();
    let handled = Arc::clone(handler)
        .handle_attempt(delivery, attempt_for(&taken))
        .await;
    (taken, handled)
}
