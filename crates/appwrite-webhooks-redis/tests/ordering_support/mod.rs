//! What the ordering tests share: a seeded generator of bursts of user deliveries (copies,
//! redeliveries, shuffled), a handler that mirrors users into a map, and the ledger under a
//! prefix of its own.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use appwrite_webhooks::inbox::{
    Attempt, Handled, Inbox, InboxHandler, Put, RetryPolicy, Taken, Workers,
};
use appwrite_webhooks::models::User;
use appwrite_webhooks::{Delivery, HandlerError, Verifier, sender::DeliveryBuilder};
use appwrite_webhooks_redis::RedisLedger;
use testkit::redis::RedisServer;

pub const URL: &str = "https://example.com/hook";
pub const KEY: &str = "order-key";

pub fn verifier() -> Verifier {
    Verifier::new(KEY, URL)
}

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

/// xorshift64*: a small seeded PRNG, so every failure names the seed that reproduces it.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// `ms` milliseconds into 2025, as Appwrite writes `$updatedAt`.
pub fn timestamp(ms: u64) -> String {
    let (h, rest) = (ms / 3_600_000, ms % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let (s, milli) = (rest / 1000, rest % 1000);
    format!("2025-01-01T{h:02}:{m:02}:{s:02}.{milli:03}+00:00")
}

/// One delivery to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub delivery_id: String,
    pub event: String,
    pub body: String,
}

impl Outgoing {
    /// A change to user `u1`: `action` at `stamp` (none: a body without `$updatedAt`).
    pub fn user(id: &str, action: &str, name: &str, stamp: Option<&str>) -> Self {
        Self {
            delivery_id: id.into(),
            event: format!("users.u1.{action}"),
            body: match stamp {
                Some(at) => format!(r#"{{"$id":"u1","name":"{name}","$updatedAt":"{at}"}}"#),
                None => format!(r#"{{"$id":"u1","name":"{name}"}}"#),
            },
        }
    }
}

/// Stores `send` in `inbox`; returns its inbox id (a duplicate's: the first copy's).
pub async fn accept(inbox: &Inbox, send: &Outgoing) -> Put {
    let (parts, body) = DeliveryBuilder::new(KEY, URL, send.body.clone())
        .events([send.event.as_str()])
        .delivery_id(send.delivery_id.clone())
        .build()
        .into_request()
        .into_parts();
    inbox
        .accept(
            &verifier(),
            &parts.uri,
            &parts.headers,
            http_body_util::Full::new(body),
        )
        .await
        .unwrap()
}

/// A burst: every user's history (create, updates, maybe a delete, maybe created again),
/// each change sent one to three times — as the same delivery (a redelivery: the same
/// delivery id) or as another (a second webhook: a new id) — all shuffled. Returns the sends
/// and each user's final state (`None`: deleted).
pub fn burst(rng: &mut Rng, users: usize) -> (Vec<Outgoing>, BTreeMap<String, Option<String>>) {
    let mut sends = Vec::new();
    let mut expected = BTreeMap::new();
    let mut next_id = 0u64;
    for u in 0..users {
        let user = format!("u{u}");
        let mut at = rng.below(1000);
        let mut changes = Vec::new();
        let mut lives = 0;
        loop {
            lives += 1;
            changes.push(("create", at, format!("{user}-v{}", changes.len())));
            for _ in 0..rng.below(4) {
                // Updates may share the create's millisecond, never each other's.
                at += if changes.len() == 1 {
                    rng.below(2)
                } else {
                    1 + rng.below(3)
                };
                changes.push(("update", at, format!("{user}-v{}", changes.len())));
            }
            if !rng.chance(50) {
                break;
            }
            // A delete carries the resource as it was: the last change's $updatedAt.
            let last = changes.last().unwrap().2.clone();
            changes.push(("delete", at, last));
            if lives == 2 || !rng.chance(40) {
                break;
            }
            at += 1 + rng.below(3);
        }
        let last = changes.last().unwrap();
        expected.insert(user.clone(), (last.0 != "delete").then(|| last.2.clone()));
        for (action, at, name) in changes {
            let body = format!(
                r#"{{"$id":"{user}","name":"{name}","$updatedAt":"{}"}}"#,
                timestamp(at)
            );
            let copies = 1 + rng.below(3);
            let mut id = None;
            for _ in 0..copies {
                if id.is_none() || rng.chance(50) {
                    next_id += 1;
                    id = Some(format!("d{next_id}"));
                }
                sends.push(Outgoing {
                    delivery_id: id.clone().unwrap(),
                    event: format!("users.{user}.{action}"),
                    body: body.clone(),
                });
            }
        }
    }
    rng.shuffle(&mut sends);
    (sends, expected)
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
