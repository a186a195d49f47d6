//! Claims kept in this process's memory, bounded.

#![allow(deprecated)] // the type keeps its former public name as a deprecated alias

mod shard;

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::fingerprint::Fingerprint;
use crate::replay::labels::{LabelSets, LabelStore};
use crate::replay::store::{ClaimOutcome, LeaseToken, ReplayStore, StoreFuture};

use self::shard::{Shard, State};

/// A bounded in-memory store: claims expire with their lease or TTL, and past `capacity` live
/// claims the oldest are forgotten first, so a flood of unique deliveries cannot grow memory
/// without bound (it can only shorten how long old deliveries are remembered).
///
/// Sharded by fingerprint so concurrent requests rarely contend on one lock. Every operation
/// completes at once, so releasing a dropped claim needs no task.
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
    labels: LabelSets,
}

const SHARDS: usize = 16;

impl MemoryStore {
    /// A store remembering at most about `capacity` live claims (default 100 000, a few MiB).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            labels: LabelSets::with_capacity(capacity),
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

    fn shard(&self, fingerprint: &Fingerprint) -> std::sync::MutexGuard<'_, Shard> {
        let index = fingerprint.shard(SHARDS);
        // A panic while holding the lock cannot leave a shard inconsistent in a way that
        // matters here (at worst a claim is forgotten early), so recover from poisoning.
        self.shards[index]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn claim_now(
        &self,
        fingerprint: &Fingerprint,
        owner: &LeaseToken,
        lease: Duration,
    ) -> ClaimOutcome {
        let now = Instant::now();
        let mut shard = self.shard(fingerprint);
        match shard.current(fingerprint, now).map(|entry| entry.state) {
            Some(State::Done) => ClaimOutcome::Done,
            Some(State::Pending(_)) => ClaimOutcome::InProgress,
            None => {
                shard.record(
                    *fingerprint,
                    State::Pending(*owner),
                    now,
                    lease,
                    self.per_shard,
                );
                ClaimOutcome::Claimed
            }
        }
    }

    fn complete_now(&self, fingerprint: &Fingerprint, owner: &LeaseToken, ttl: Duration) -> bool {
        let now = Instant::now();
        let mut shard = self.shard(fingerprint);
        match shard.current(fingerprint, now).map(|entry| entry.state) {
            Some(State::Pending(holder)) if holder != *owner => false,
            Some(State::Done) => false,
            // The owner's claim becomes done where it is: same place in the order in which
            // claims are forgotten, no second queue entry.
            Some(State::Pending(_)) => shard.settle(fingerprint, State::Done, now, ttl),
            None => {
                shard.record(*fingerprint, State::Done, now, ttl, self.per_shard);
                true
            }
        }
    }

    /// The guard's first question about a delivery, answered at once: its label, then its
    /// claim (`None` when the body has `limit` other labels).
    pub(crate) fn label_and_claim_now(
        &self,
        body: &Fingerprint,
        fingerprint: &Fingerprint,
        owner: &LeaseToken,
        (limit, keep): (u32, Duration),
        lease: Duration,
    ) -> Option<ClaimOutcome> {
        self.labels
            .admit(body, fingerprint, limit, keep)
            .then(|| self.claim_now(fingerprint, owner, lease))
    }

    fn release_now(&self, fingerprint: &Fingerprint, owner: &LeaseToken) -> bool {
        let mut shard = self.shard(fingerprint);
        let owned = shard
            .live
            .get(fingerprint)
            .is_some_and(|entry| entry.state == State::Pending(*owner));
        if owned {
            shard.live.remove(fingerprint);
        }
        owned
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
        let labelled = self.labels.admit(body, label, limit, keep);
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
mod tests {
    use super::*;
    use std::sync::Arc;

    fn fp(i: u32) -> Fingerprint {
        Fingerprint::new(&i.to_le_bytes())
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn expired_claims_can_be_claimed_again() {
        let store = MemoryStore::with_capacity(100);
        let (a, b) = (LeaseToken::new(), LeaseToken::new());
        assert_eq!(
            store.claim_now(&fp(1), &a, Duration::ZERO),
            ClaimOutcome::Claimed
        );
        assert_eq!(store.claim_now(&fp(1), &b, HOUR), ClaimOutcome::Claimed);
        assert_eq!(store.claim_now(&fp(1), &a, HOUR), ClaimOutcome::InProgress);
    }

    #[test]
    fn only_the_owner_releases_and_a_done_claim_stays_done() {
        let store = MemoryStore::with_capacity(100);
        let (a, b) = (LeaseToken::new(), LeaseToken::new());
        assert_eq!(store.claim_now(&fp(1), &a, HOUR), ClaimOutcome::Claimed);
        assert!(!store.release_now(&fp(1), &b));
        assert!(!store.complete_now(&fp(1), &b, HOUR));
        assert!(store.complete_now(&fp(1), &a, HOUR));
        assert!(
            !store.release_now(&fp(1), &a),
            "a done claim is not released"
        );
        assert_eq!(store.claim_now(&fp(1), &b, HOUR), ClaimOutcome::Done);
    }

    #[test]
    fn a_lapsed_lease_still_completes_unless_another_copy_claimed() {
        let store = MemoryStore::with_capacity(100);
        let (a, b) = (LeaseToken::new(), LeaseToken::new());
        assert_eq!(
            store.claim_now(&fp(1), &a, Duration::ZERO),
            ClaimOutcome::Claimed
        );
        assert!(
            store.complete_now(&fp(1), &a, HOUR),
            "nobody holds it: done"
        );
        assert_eq!(
            store.claim_now(&fp(2), &a, Duration::ZERO),
            ClaimOutcome::Claimed
        );
        assert_eq!(store.claim_now(&fp(2), &b, HOUR), ClaimOutcome::Claimed);
        assert!(!store.complete_now(&fp(2), &a, HOUR), "b holds it now");
    }

    #[test]
    fn the_longest_ttl_does_not_overflow() {
        let store = MemoryStore::with_capacity(100);
        let a = LeaseToken::new();
        assert_eq!(
            store.claim_now(&fp(1), &a, Duration::MAX),
            ClaimOutcome::Claimed
        );
        assert!(store.complete_now(&fp(1), &a, Duration::MAX));
        assert_eq!(
            store.claim_now(&fp(1), &a, Duration::MAX),
            ClaimOutcome::Done
        );
    }

    #[test]
    fn a_flood_of_unique_deliveries_stays_bounded() {
        let store = MemoryStore::with_capacity(1_000);
        let owner = LeaseToken::new();
        for i in 0..200_000 {
            assert_eq!(store.claim_now(&fp(i), &owner, HOUR), ClaimOutcome::Claimed);
            assert!(store.complete_now(&fp(i), &owner, HOUR));
        }
        assert!(store.len() <= 1_000 + SHARDS, "{}", store.len());
        let queued: usize = store
            .shards
            .iter()
            .map(|s| s.lock().unwrap().order.len())
            .sum();
        assert!(queued <= 2 * (1_000 + SHARDS), "{queued}");
        // The newest are remembered.
        assert_eq!(
            store.claim_now(&fp(199_999), &owner, HOUR),
            ClaimOutcome::Done
        );
    }

    #[test]
    fn release_and_reclaim_cycles_do_not_grow_the_queue() {
        let store = MemoryStore::with_capacity(160);
        for _ in 0..10_000 {
            let owner = LeaseToken::new();
            assert_eq!(store.claim_now(&fp(5), &owner, HOUR), ClaimOutcome::Claimed);
            assert!(store.release_now(&fp(5), &owner));
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
                            let outcome = store.claim_now(&fp(round), &LeaseToken::new(), HOUR);
                            usize::from(outcome == ClaimOutcome::Claimed)
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).sum()
            });
            assert_eq!(winners, 1);
        }
    }
}
