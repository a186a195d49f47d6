//! De-duplication: a delivery is handled once per fingerprint within a time window.
//!
//! Appwrite's signature has no timestamp and deliveries carry no id: a captured delivery
//! verifies forever, and Appwrite re-sends byte-identical deliveries (automatic retries, an
//! operator's `queue-retry`). A [`ReplayGuard`] remembers each verified delivery for a while and
//! answers repeats without running the handler.
//!
//! # The fingerprint
//! The 20-byte signature. It is an HMAC over the URL and the body, so it is fixed-size, differs
//! for the same body sent to two webhooks (different URL or key), and — being keyed — tells a
//! reader of the shared store nothing about the payloads. Two deliveries with the same
//! fingerprint are the same bytes to the same URL: the same delivery.
//!
//! The opt-in [`Scheme`](crate::Scheme)s carry an event id in their envelope (`$id`, `id`)
//! that stays the same when the sender retries with a fresh timestamp and signature; there
//! the fingerprint is a SHA-1 digest of the scheme's name and that id (the signature when the
//! body has no id).
//!
//! # The contract: at least once, de-duplicated
//! A delivery is *claimed* once verified. If the handler succeeds the claim is kept for the
//! TTL, and repeats are answered with the duplicate status (200 by default, so Appwrite stops
//! retrying and counts no failure). If the handler fails (an error response), the claim is
//! released so Appwrite's retry can succeed. A crash between claiming and answering leaves the
//! claim in place until the TTL ends: choose a TTL that bounds how long such a delivery may be
//! shadowed, and make handlers idempotent where a second run within that time matters.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use http::StatusCode;

use crate::{Delivery, Error, TAG_LEN};

/// A boxed, sendable future, as [`ReplayStore`] returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A store's failure (connection lost, timeout): the guard applies its [`StoreFailure`] policy.
#[derive(Debug, thiserror::Error)]
#[error("replay store unavailable: {0}")]
pub struct StoreError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// Where claims are kept: in memory ([`MemoryStore`]), or shared between replicas
/// (`appwrite-webhooks-redis`).
pub trait ReplayStore: Send + Sync + 'static {
    /// Atomically records `fingerprint` for `ttl` if it is not recorded yet. Returns `true` if
    /// this call recorded it (the delivery is new), `false` if it was already there.
    fn claim<'a>(&'a self, fingerprint: &'a [u8; TAG_LEN], ttl: Duration) -> StoreFuture<'a, bool>;

    /// Forgets `fingerprint`, so the next claim succeeds.
    fn release<'a>(&'a self, fingerprint: &'a [u8; TAG_LEN]) -> StoreFuture<'a, ()>;
}

/// What to do when the store cannot answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreFailure {
    /// Refuse the delivery with `503 Service Unavailable`; Appwrite counts a failed attempt and
    /// the delivery can be retried. The default: never handle a delivery twice.
    Reject,
    /// Accept the delivery without de-duplication and log a warning: never lose a delivery.
    Accept,
}

/// De-duplicates verified deliveries; set it with
/// [`Verifier::replay_guard`](crate::Verifier::replay_guard) and every adapter applies it.
///
/// ```
/// use std::time::Duration;
/// use appwrite_webhooks::{ReplayGuard, Verifier};
///
/// let verifier = Verifier::new("whsec_…", "https://example.com/hook")
///     .replay_guard(ReplayGuard::in_memory().ttl(Duration::from_secs(3600)));
/// ```
#[derive(Clone)]
pub struct ReplayGuard {
    store: Arc<dyn ReplayStore>,
    ttl: Duration,
    on_store_failure: StoreFailure,
    duplicate_status: StatusCode,
    max_age: Option<Duration>,
}

impl ReplayGuard {
    /// A guard over `store`, with a 24-hour TTL, fail-closed, answering duplicates with 200.
    pub fn new(store: impl ReplayStore) -> Self {
        Self {
            store: Arc::new(store),
            ttl: Duration::from_secs(24 * 60 * 60),
            on_store_failure: StoreFailure::Reject,
            duplicate_status: StatusCode::OK,
            max_age: None,
        }
    }

    /// A guard over a [`MemoryStore`] with its default capacity: for a single process.
    pub fn in_memory() -> Self {
        Self::new(MemoryStore::default())
    }

    /// How long a handled delivery is remembered (default 24 hours). Repeats after that are
    /// handled again; see [`max_age`](Self::max_age) to refuse them instead.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// What to do when the store fails (default [`StoreFailure::Reject`], a 503).
    pub fn on_store_failure(mut self, policy: StoreFailure) -> Self {
        self.on_store_failure = policy;
        self
    }

    /// The status a duplicate is answered with (default `200 OK`: Appwrite stops retrying and
    /// counts no failure). `409 Conflict` makes duplicates visible in Appwrite's logs, at the
    /// cost of a failed attempt each.
    pub fn duplicate_status(mut self, status: StatusCode) -> Self {
        self.duplicate_status = status;
        self
    }

    /// Refuses deliveries whose payload `$updatedAt` (or `$createdAt`) is older than `age`,
    /// with [`Error::Stale`] (401): a second defence for the timestamp-less scheme, covering
    /// replays older than the TTL. Off by default. The trade-offs: the payload time is when the
    /// resource changed, not when the delivery was sent, so a legitimate delivery retried after a
    /// long outage is refused too; and the receiver's clock must be within a margin of
    /// Appwrite's — leave minutes of slack. Payloads without either field pass.
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = Some(age);
        self
    }

    /// Checks and claims a verified delivery.
    ///
    /// `Ok(claim)` means: handle it, then [`Claim::release`] if handling failed. Duplicates are
    /// [`Error::Duplicate`] (answer with its status, do not handle); stale deliveries
    /// [`Error::Stale`]; an unavailable store under [`StoreFailure::Reject`]
    /// [`Error::ReplayStore`].
    pub async fn admit<B: AsRef<[u8]>>(&self, delivery: &Delivery<B>) -> Result<Claim, Error> {
        if let Some(max_age) = self.max_age {
            check_age(delivery.body(), max_age)?;
        }
        let fingerprint = delivery.fingerprint();
        match self.store.claim(&fingerprint, self.ttl).await {
            Ok(true) => Ok(Claim {
                store: Some(Arc::clone(&self.store)),
                fingerprint,
            }),
            Ok(false) => {
                tracing::debug!(
                    webhook = delivery.webhook_id(),
                    "duplicate Appwrite delivery ignored"
                );
                Err(Error::Duplicate {
                    status: self.duplicate_status,
                })
            }
            Err(error) => match self.on_store_failure {
                StoreFailure::Reject => Err(Error::ReplayStore(error)),
                StoreFailure::Accept => {
                    tracing::warn!(%error, "replay store unavailable; accepting without de-duplication");
                    Ok(Claim {
                        store: None,
                        fingerprint,
                    })
                }
            },
        }
    }
}

impl fmt::Debug for ReplayGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplayGuard")
            .field("ttl", &self.ttl)
            .field("on_store_failure", &self.on_store_failure)
            .field("duplicate_status", &self.duplicate_status)
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

/// A claimed delivery. Keep it (drop it) when handling succeeded; [`release`](Self::release) it
/// when handling failed so a retry is handled.
#[must_use = "release the claim if handling fails"]
#[derive(Debug)]
pub struct Claim {
    /// `None` when the store was down and the policy accepted the delivery anyway.
    store: Option<Arc<dyn ReplayStore>>,
    fingerprint: [u8; TAG_LEN],
}

impl fmt::Debug for dyn ReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReplayStore")
    }
}

impl Claim {
    /// A claim with nothing to release (no guard configured).
    pub(crate) fn none() -> Self {
        Self {
            store: None,
            fingerprint: [0; TAG_LEN],
        }
    }

    /// Forgets the delivery so Appwrite's retry is handled. A store failure here is logged: the
    /// claim then expires with its TTL.
    pub async fn release(self) {
        if let Some(store) = self.store
            && let Err(error) = store.release(&self.fingerprint).await
        {
            tracing::warn!(%error, "could not release a replay claim; it expires with its TTL");
        }
    }
}

fn check_age(body: &[u8], max_age: Duration) -> Result<(), Error> {
    #[derive(serde::Deserialize)]
    struct Stamps {
        #[serde(
            rename = "$updatedAt",
            default,
            with = "crate::models::datetime::option"
        )]
        updated_at: Option<time::OffsetDateTime>,
        #[serde(
            rename = "$createdAt",
            default,
            with = "crate::models::datetime::option"
        )]
        created_at: Option<time::OffsetDateTime>,
    }
    // A body that is not an object has no time to check; the payload parse reports it later.
    let Ok(stamps) = serde_json::from_slice::<Stamps>(body) else {
        return Ok(());
    };
    let Some(at) = stamps.updated_at.or(stamps.created_at) else {
        return Ok(());
    };
    let now = time::OffsetDateTime::from(SystemTime::now());
    let age = now - at;
    if age > max_age {
        return Err(Error::Stale {
            age: age.unsigned_abs(),
        });
    }
    Ok(())
}

/// A bounded in-memory store: claims expire with their TTL, and past `capacity` live claims the
/// oldest are forgotten first, so a flood of unique deliveries cannot grow memory without bound
/// (it can only shorten how long old deliveries are remembered).
///
/// Sharded by fingerprint so concurrent requests rarely contend on one lock.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// use appwrite_webhooks::{MemoryStore, ReplayStore};
///
/// let store = MemoryStore::with_capacity(1000);
/// let fingerprint = [7u8; 20];
/// assert!(store.claim(&fingerprint, Duration::from_secs(60)).await.unwrap());
/// assert!(!store.claim(&fingerprint, Duration::from_secs(60)).await.unwrap());
/// store.release(&fingerprint).await.unwrap();
/// assert!(store.claim(&fingerprint, Duration::from_secs(60)).await.unwrap());
/// # }
/// ```
pub struct MemoryStore {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
    per_shard: usize,
}

const SHARDS: usize = 16;

#[derive(Default)]
struct Shard {
    /// Fingerprint → (expiry, generation of the claim).
    live: HashMap<[u8; TAG_LEN], (Instant, u64)>,
    /// Claims in the order made, which is also expiry order for a fixed TTL.
    order: VecDeque<([u8; TAG_LEN], u64)>,
    next_generation: u64,
}

impl Shard {
    /// Drops queue entries that are expired, or (when `force`) the oldest one.
    fn evict(&mut self, now: Instant, force: bool) {
        while let Some((fingerprint, generation)) = self.order.front().copied() {
            let stale = match self.live.get(&fingerprint) {
                // Released or re-claimed since: the queue entry is obsolete.
                Some(&(_, live_generation)) if live_generation != generation => true,
                None => true,
                Some(&(expiry, _)) => expiry <= now,
            };
            if !stale && !force {
                break;
            }
            self.order.pop_front();
            if self
                .live
                .get(&fingerprint)
                .is_some_and(|&(_, g)| g == generation)
            {
                self.live.remove(&fingerprint);
                if !stale {
                    // Forced out a live claim: one is enough.
                    break;
                }
            }
        }
    }
}

impl MemoryStore {
    /// A store remembering at most about `capacity` live claims (default 100 000, a few MiB).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            hasher: RandomState::new(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }

    /// How many claims are held now (expired ones included until they are swept).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|s| s.live.len()).unwrap_or(0))
            .sum()
    }

    /// Whether no claim is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard(&self, fingerprint: &[u8; TAG_LEN]) -> std::sync::MutexGuard<'_, Shard> {
        let index = (self.hasher.hash_one(fingerprint) as usize) % SHARDS;
        // A panic while holding the lock cannot leave a shard inconsistent in a way that
        // matters here (at worst a claim is forgotten early), so recover from poisoning.
        self.shards[index]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn claim_now(&self, fingerprint: &[u8; TAG_LEN], ttl: Duration) -> bool {
        let now = Instant::now();
        let mut shard = self.shard(fingerprint);
        if let Some(&(expiry, _)) = shard.live.get(fingerprint)
            && expiry > now
        {
            return false;
        }
        shard.evict(now, false);
        while shard.live.len() >= self.per_shard {
            shard.evict(now, true);
        }
        let generation = shard.next_generation;
        shard.next_generation += 1;
        shard.live.insert(*fingerprint, (now + ttl, generation));
        shard.order.push_back((*fingerprint, generation));
        // Released claims leave queue entries behind; keep the queue within twice the map.
        if shard.order.len() > 2 * self.per_shard {
            shard.evict(now, false);
            let live = std::mem::take(&mut shard.live);
            shard
                .order
                .retain(|(f, g)| live.get(f).is_some_and(|&(_, lg)| lg == *g));
            shard.live = live;
        }
        true
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::with_capacity(100_000)
    }
}

impl ReplayStore for MemoryStore {
    fn claim<'a>(&'a self, fingerprint: &'a [u8; TAG_LEN], ttl: Duration) -> StoreFuture<'a, bool> {
        let claimed = self.claim_now(fingerprint, ttl);
        Box::pin(std::future::ready(Ok(claimed)))
    }

    fn release<'a>(&'a self, fingerprint: &'a [u8; TAG_LEN]) -> StoreFuture<'a, ()> {
        self.shard(fingerprint).live.remove(fingerprint);
        Box::pin(std::future::ready(Ok(())))
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("len", &self.len())
            .field("capacity", &(self.per_shard * SHARDS))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(i: u32) -> [u8; TAG_LEN] {
        let mut f = [0u8; TAG_LEN];
        f[..4].copy_from_slice(&i.to_le_bytes());
        f
    }

    #[test]
    fn expired_claims_can_be_claimed_again() {
        let store = MemoryStore::with_capacity(100);
        assert!(store.claim_now(&fp(1), Duration::from_millis(0)));
        assert!(store.claim_now(&fp(1), Duration::from_secs(60)));
        assert!(!store.claim_now(&fp(1), Duration::from_secs(60)));
    }

    #[test]
    fn a_flood_of_unique_deliveries_stays_bounded() {
        let store = MemoryStore::with_capacity(1_000);
        for i in 0..200_000 {
            assert!(store.claim_now(&fp(i), Duration::from_secs(3600)));
        }
        assert!(store.len() <= 1_000 + SHARDS, "{}", store.len());
        let queued: usize = store
            .shards
            .iter()
            .map(|s| s.lock().unwrap().order.len())
            .sum();
        assert!(queued <= 2 * (1_000 + SHARDS), "{queued}");
        // The newest are remembered.
        assert!(!store.claim_now(&fp(199_999), Duration::from_secs(3600)));
    }

    #[test]
    fn release_and_reclaim_cycles_do_not_grow_the_queue() {
        let store = MemoryStore::with_capacity(160);
        for _ in 0..10_000 {
            assert!(store.claim_now(&fp(5), Duration::from_secs(3600)));
            store.shard(&fp(5)).live.remove(&fp(5));
        }
        let queued: usize = store
            .shards
            .iter()
            .map(|s| s.lock().unwrap().order.len())
            .sum();
        assert!(queued <= 2 * 10 + 1, "{queued}");
    }

    #[test]
    fn concurrent_claims_of_one_fingerprint_have_one_winner() {
        for round in 0..50u32 {
            let store = Arc::new(MemoryStore::default());
            let winners: usize = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..8)
                    .map(|_| {
                        let store = Arc::clone(&store);
                        scope.spawn(move || {
                            store.claim_now(&fp(round), Duration::from_secs(60)) as usize
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).sum()
            });
            assert_eq!(winners, 1);
        }
    }

    #[test]
    fn age_check_reads_updated_then_created() {
        let old = br#"{"$createdAt":"2020-10-15T06:38:00.000+00:00","$updatedAt":"2020-10-15T06:38:00.000+00:00"}"#;
        assert!(matches!(
            check_age(old, Duration::from_secs(3600)),
            Err(Error::Stale { .. })
        ));
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let fresh =
            format!(r#"{{"$createdAt":"2020-10-15T06:38:00.000+00:00","$updatedAt":"{now}"}}"#);
        assert!(check_age(fresh.as_bytes(), Duration::from_secs(3600)).is_ok());
        assert!(check_age(b"[1,2]", Duration::from_secs(1)).is_ok());
        assert!(check_age(br#"{"name":"no dates"}"#, Duration::from_secs(1)).is_ok());
    }
}
