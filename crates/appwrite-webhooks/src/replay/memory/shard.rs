//! One shard of the memory ledger: claims and label counts in one map, grouped by the first
//! bytes of their identities, bounded by capacity with the oldest groups forgotten first.
//!
//! A labelled identity begins with its body key
//! ([`Fingerprint::BODY_KEY_PREFIX`]), so a delivery's label and its claim are one map entry:
//! the guard's first question about a new delivery probes one table, not two (with tables of
//! tens of thousands of entries, each probe is a cache miss; two were 5 % of a request).

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use super::group::Group;
use crate::fingerprint::Fingerprint;
use crate::replay::store::{ClaimOutcome, LeaseToken};

/// What a group's map is keyed by: an identity's first [`Fingerprint::BODY_KEY_PREFIX`] bytes
/// (zero past a shorter one's end). A body's key and the identities of its deliveries share it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct Key([u8; Fingerprint::BODY_KEY_PREFIX]);

/// Hashes its two halves folded into one word: the bytes are a hash or an HMAC tag already, so
/// 64 bits of them keep collisions out of reach, and the map's keyed `SipHash` hashes one word.
impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let (low, high) = self.0.split_at(8);
        let word = |half: &[u8]| u64::from_le_bytes(half.try_into().unwrap_or_default());
        state.write_u64(word(low) ^ word(high));
    }
}

impl Key {
    pub(super) fn of(fingerprint: &Fingerprint) -> Self {
        let mut key = [0; Fingerprint::BODY_KEY_PREFIX];
        let bytes = fingerprint.as_bytes();
        let len = bytes.len().min(key.len());
        key[..len].copy_from_slice(&bytes[..len]);
        Self(key)
    }

    /// Which of `shards` locks holds it: its bytes folded, with no second hash. An identity is
    /// a hash or an HMAC tag already, so this spreads them evenly; it only chooses a lock (each
    /// shard's map still hashes with a random key).
    pub(super) fn shard(&self, shards: usize) -> usize {
        usize::from(self.0.iter().fold(0u8, |folded, byte| folded ^ byte)) % shards
    }
}

/// The groups of one shard, with the order in which to forget them: by when a group was made
/// or last had a claim made in it, the oldest first.
#[derive(Default)]
pub(super) struct Shard {
    groups: HashMap<Key, Group>,
    /// Keys with the generation they were queued at: an entry whose group has moved on since
    /// is obsolete, and skipped.
    pub(super) order: VecDeque<(Key, u64)>,
    next_generation: u64,
    /// How many claims the groups hold, kept as they change: counting would visit them all.
    claims: usize,
}

impl Shard {
    /// How many claims it holds (expired ones included until their group is forgotten).
    pub(super) fn claims(&self) -> usize {
        self.claims
    }

    /// Runs `f` on the group of `key`, made if it has none. A group made that holds nothing
    /// afterwards is not kept (a label refused, a claim for no time); one kept, or one that had
    /// a claim made in it, goes to the back of the order, and then groups that expired and,
    /// past `capacity`, the oldest are forgotten (never this one: it is the newest).
    fn with_group<T>(
        &mut self,
        key: Key,
        (now, capacity): (Instant, usize),
        f: impl FnOnce(&mut Group) -> T,
    ) -> T {
        let mut made = false;
        let group = self.groups.entry(key).or_insert_with(|| {
            made = true;
            Group::new(now)
        });
        let held = group.claims();
        let value = f(group);
        let holds = group.claims();
        let claimed = std::mem::take(&mut group.claimed);
        self.claims = self.claims + holds - held;
        if made && group.expired(now) {
            self.groups.remove(&key);
            self.claims -= holds;
        } else if made || claimed {
            group.generation = self.next_generation;
            self.next_generation += 1;
            self.order.push_back((key, group.generation));
            self.evict(now, false);
            while self.groups.len() > capacity && self.evict(now, true) {}
            if self.order.len() > 2 * capacity.max(self.groups.len()) {
                // Groups moved to the back leave obsolete entries behind.
                let groups = &self.groups;
                self.order.retain(|(key, generation)| {
                    groups.get(key).is_some_and(|g| g.generation == *generation)
                });
            }
        }
        value
    }

    /// Forgets expired groups from the front of the order, or (when `force`) the oldest live
    /// one, skipping obsolete entries. Whether it forgot any.
    fn evict(&mut self, now: Instant, force: bool) -> bool {
        let mut forgot = false;
        while let Some(&(key, generation)) = self.order.front() {
            let current = self
                .groups
                .get(&key)
                .filter(|group| group.generation == generation);
            let stale = current.is_none_or(|group| group.expired(now));
            if !stale && !force {
                break;
            }
            self.order.pop_front();
            if current.is_some() {
                if let Some(group) = self.groups.remove(&key) {
                    self.claims -= group.claims();
                }
                forgot = true;
                if !stale {
                    break; // forced out a live group: one is enough
                }
            }
        }
        forgot
    }

    pub(super) fn claim(
        &mut self,
        fingerprint: &Fingerprint,
        owner: &LeaseToken,
        lease: Duration,
        at: (Instant, usize),
    ) -> ClaimOutcome {
        self.with_group(Key::of(fingerprint), at, |group| {
            group.claim(fingerprint, owner, lease, at.0)
        })
    }

    pub(super) fn complete(
        &mut self,
        fingerprint: &Fingerprint,
        owner: &LeaseToken,
        ttl: Duration,
        at: (Instant, usize),
    ) -> bool {
        self.with_group(Key::of(fingerprint), at, |group| {
            group.complete(fingerprint, owner, ttl, at.0)
        })
    }

    pub(super) fn release(&mut self, fingerprint: &Fingerprint, owner: &LeaseToken) -> bool {
        let released = self
            .groups
            .get_mut(&Key::of(fingerprint))
            .is_some_and(|group| group.release(fingerprint, owner));
        self.claims -= usize::from(released);
        released
    }

    /// Whether `label` is (now) one of at most `limit` labels of `body`, kept for `keep` after
    /// the newest.
    pub(super) fn label(
        &mut self,
        body: &Fingerprint,
        label: &Fingerprint,
        (limit, keep): (u32, Duration),
        at: (Instant, usize),
    ) -> bool {
        self.with_group(Key::of(body), at, |group| {
            group.label(label, limit, keep, at.0)
        })
    }

    /// [`label`](Self::label), then [`claim`](Self::claim), of an identity that shares its
    /// body's key: one lookup.
    pub(super) fn label_and_claim(
        &mut self,
        fingerprint: &Fingerprint,
        owner: &LeaseToken,
        (limit, keep): (u32, Duration),
        lease: Duration,
        at: (Instant, usize),
    ) -> Option<ClaimOutcome> {
        self.with_group(Key::of(fingerprint), at, |group| {
            group
                .label(fingerprint, limit, keep, at.0)
                .then(|| group.claim(fingerprint, owner, lease, at.0))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_claim_count_follows_every_change() {
        let mut shard = Shard::default();
        let owners = [LeaseToken::new(), LeaseToken::new()];
        let mut state = 7u64;
        let mut next = |n: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        let keeps = [Duration::ZERO, Duration::from_secs(3600)];
        for _ in 0..20_000 {
            // 8 bodies of 40 identities each (more than a group holds), in a shard of capacity 5.
            let body = next(8) as u8;
            let mut bytes = [body; 32];
            bytes[16..].fill(next(40) as u8);
            let identity = Fingerprint::new(&bytes);
            let owner = &owners[next(2) as usize];
            let keep = keeps[next(2) as usize];
            let at = (Instant::now(), 5);
            match next(4) {
                0 => drop(shard.claim(&identity, owner, keep, at)),
                1 => drop(shard.complete(&identity, owner, keep, at)),
                2 => drop(shard.release(&identity, owner)),
                _ => drop(shard.label_and_claim(&identity, owner, (3, keep), keep, at)),
            }
            let counted: usize = shard.groups.values().map(Group::claims).sum();
            assert_eq!(shard.claims(), counted);
            assert!(shard.groups.len() <= 5 && shard.order.len() <= 2 * 5 + 1);
        }
    }
}
