//! Claims kept in this process's memory, bounded.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::delivery::Fingerprint;
use crate::replay::{ReplayStore, StoreFuture};

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
/// let fingerprint = appwrite_webhooks::Fingerprint::new(&[7; 20]);
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
    live: HashMap<Fingerprint, (Instant, u64)>,
    /// Claims in the order made, which is also expiry order for a fixed TTL.
    order: VecDeque<(Fingerprint, u64)>,
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

    fn shard(&self, fingerprint: &Fingerprint) -> std::sync::MutexGuard<'_, Shard> {
        let index = (self.hasher.hash_one(fingerprint) as usize) % SHARDS;
        // A panic while holding the lock cannot leave a shard inconsistent in a way that
        // matters here (at worst a claim is forgotten early), so recover from poisoning.
        self.shards[index]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn claim_now(&self, fingerprint: &Fingerprint, ttl: Duration) -> bool {
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
    fn claim<'a>(&'a self, fingerprint: &'a Fingerprint, ttl: Duration) -> StoreFuture<'a, bool> {
        let claimed = self.claim_now(fingerprint, ttl);
        Box::pin(std::future::ready(Ok(claimed)))
    }

    fn release<'a>(&'a self, fingerprint: &'a Fingerprint) -> StoreFuture<'a, ()> {
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
    use std::sync::Arc;

    fn fp(i: u32) -> Fingerprint {
        Fingerprint::new(&i.to_le_bytes())
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
}
