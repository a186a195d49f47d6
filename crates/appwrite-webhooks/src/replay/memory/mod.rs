//! Claims kept in this process's memory, bounded.

#![allow(deprecated)] // the type keeps its former public name as a deprecated alias

mod group;
mod shard;

use std::fmt;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::fingerprint::Fingerprint;
use crate::replay::labels::LabelStore;
use crate::replay::store::{ClaimOutcome, LeaseToken, ReplayStore, StoreFuture};

use self::shard::{Key, Shard};

/// A bounded in-memory store of claims and label counts: claims expire with their lease or
/// TTL, labels `keep` after a body's newest, and past `capacity` groups (a body's labels and
/// its deliveries' claims, or one claim) those made longest ago are forgotten first, so a
/// flood of unique deliveries cannot grow memory without bound (it can only shorten how long
/// old deliveries are remembered).
///
/// Sharded by the first bytes of an identity, which a labelled identity shares with its body
/// key, so concurrent requests rarely contend on one lock and a delivery's label and claim
/// are one entry. Every operation completes at once, so releasing a dropped claim needs no
/// task.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// use appwrite_webhooks::{ClaimOutcome, LeaseToken, Fingerprint, MemoryLedger, ReplayStore};
///
/// let store = MemoryLedger::with_capacity(1000);
/// let (fingerprint, first, second) = (Fingerprint::new(&[7; 20]), LeaseToken::new(), LeaseToken::new());
/// let lease = Duration::from_secs(30);
/// assert_eq!(store.claim(&fingerprint, &first, lease).await.unwrap(), ClaimOutcome::Claimed);
/// assert_eq!(store.claim(&fingerprint, &second, lease).await.unwrap(), ClaimOutcome::InProgress);
/// assert!(!store.release(&fingerprint, &second).await.unwrap()); // not the owner
/// assert!(store.complete(&fingerprint, &first, Duration::from_secs(60)).await.unwrap());
/// assert_eq!(store.claim(&fingerprint, &second, lease).await.unwrap(), ClaimOutcome::Done);
/// # }
/// ```
#[deprecated(note = "use MemoryLedger: one memory store for the guard and the inbox")]
pub struct MemoryStore {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
}

const SHARDS: usize = 16;

impl MemoryStore {
    /// A store remembering about `capacity` bodies' labels and claims, or claims without a
    /// body (default 100 000, about 20 MiB).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }

    /// How many claims are held now (expired ones included until they are swept).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|s| s.claims()).unwrap_or(0))
            .sum()
    }

    /// Whether no claim is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The shard holding `fingerprint`'s group, the time, and the shard's capacity.
    fn shard(&self, fingerprint: &Fingerprint) -> (MutexGuard<'_, Shard>, (Instant, usize)) {
        let index = Key::of(fingerprint).shard(SHARDS);
        // A panic while holding the lock cannot leave a shard inconsistent in a way that
        // matters here (at worst a claim is forgotten early), so recover from poisoning.
        let shard = self.shards[index]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        (shard, (Instant::now(), self.per_shard))
    }

    fn claim_now(
        &self,
        fingerprint: &Fingerprint,
        owner: &LeaseToken,
        lease: Duration,
    ) -> ClaimOutcome {
        let (mut shard, at) = self.shard(fingerprint);
        shard.claim(fingerprint, owner, lease, at)
    }

    fn complete_now(&self, fingerprint: &Fingerprint, owner: &LeaseToken, ttl: Duration) -> bool {
        let (mut shard, at) = self.shard(fingerprint);
        shard.complete(fingerprint, owner, ttl, at)
    }

    fn release_now(&self, fingerprint: &Fingerprint, owner: &LeaseToken) -> bool {
        self.shard(fingerprint).0.release(fingerprint, owner)
    }

    /// Whether `label` is (now) one of at most `limit` labels of `body`.
    pub(crate) fn label_now(
        &self,
        body: &Fingerprint,
        label: &Fingerprint,
        limit: u32,
        keep: Duration,
    ) -> bool {
        let (mut shard, at) = self.shard(body);
        shard.label(body, label, (limit, keep), at)
    }

    /// The guard's first question about a delivery, answered at once: its label, then its
    /// claim (`None` when the body has `limit` other labels).
    pub(crate) fn label_and_claim_now(
        &self,
        body: &Fingerprint,
        fingerprint: &Fingerprint,
        owner: &LeaseToken,
        limit: (u32, Duration),
        lease: Duration,
    ) -> Option<ClaimOutcome> {
        if Key::of(fingerprint) != Key::of(body) {
            // An identity without its body key: the label and the claim are in two groups.
            return self
                .label_now(body, fingerprint, limit.0, limit.1)
                .then(|| self.claim_now(fingerprint, owner, lease));
        }
        let (mut shard, at) = self.shard(fingerprint);
        shard.label_and_claim(fingerprint, owner, limit, lease, at)
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::with_capacity(100_000)
    }
}

impl ReplayStore for MemoryStore {
    fn claim<'a>(
        &'a self,
        fingerprint: &'a Fingerprint,
        owner: &'a LeaseToken,
        lease: Duration,
    ) -> StoreFuture<'a, ClaimOutcome> {
        let outcome = self.claim_now(fingerprint, owner, lease);
        Box::pin(std::future::ready(Ok(outcome)))
    }

    fn complete<'a>(
        &'a self,
        fingerprint: &'a Fingerprint,
        owner: &'a LeaseToken,
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        let done = self.complete_now(fingerprint, owner, ttl);
        Box::pin(std::future::ready(Ok(done)))
    }

    fn release<'a>(
        &'a self,
        fingerprint: &'a Fingerprint,
        owner: &'a LeaseToken,
    ) -> StoreFuture<'a, bool> {
        let released = self.release_now(fingerprint, owner);
        Box::pin(std::future::ready(Ok(released)))
    }
}

impl LabelStore for MemoryStore {
    fn label<'a>(
        &'a self,
        body: &'a Fingerprint,
        label: &'a Fingerprint,
        limit: u32,
        keep: Duration,
    ) -> StoreFuture<'a, bool> {
        let labelled = self.label_now(body, label, limit, keep);
        Box::pin(std::future::ready(Ok(labelled)))
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
mod tests;
