//! One shard of the memory ledger: claims and label counts in one map, grouped by the first
//! bytes of their identities, bounded by capacity with the oldest groups forgotten first.
//!
//! A labelled identity begins with its body key
//! ([`Fingerprint::BODY_KEY_PREFIX`]), so a delivery's label and its claim are one map entry:
//! the guard's first question about a new delivery probes one table, not two (with tables of
//! tens of thousands of entries, each probe is a cache miss; two were 5 % of a request).

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::iter;
use std::time::{Duration, Instant};

use crate::fingerprint::Fingerprint;
use crate::replay::expiry;
use crate::replay::labels::MAX_LABELS_PER_BODY;
use crate::replay::store::{ClaimOutcome, LeaseToken};

/// A claim: held by its owner under a lease, or done.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Pending(LeaseToken),
    Done,
}

/// A claim and until when it is kept.
#[derive(Clone, Copy)]
struct Claim {
    state: State,
    expiry: Instant,
}

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

/// The most identities a group holds: twice the labels a body is handled under.
const GROUP: usize = 2 * MAX_LABELS_PER_BODY as usize;

/// One identity of a group: its claim, if any, and whether it is one of the body's labels.
struct Item {
    fingerprint: Fingerprint,
    claim: Option<Claim>,
    labelled: bool,
}

impl Item {
    fn new(fingerprint: Fingerprint) -> Self {
        Self {
            fingerprint,
            claim: None,
            labelled: false,
        }
    }

    /// Whether it still holds something at `now`: an unexpired claim, or a live label.
    fn holds(&self, now: Instant, labels_live: bool) -> bool {
        (self.labelled && labels_live) || self.claim.is_some_and(|claim| claim.expiry > now)
    }
}

/// The identities that share a [`Key`]: one body's labels and their deliveries' claims, or a
/// single claim (an identity without a body key), at most [`GROUP`]. Nearly every group holds
/// one identity: it is kept inline, and only a second one allocates.
struct Group {
    first: Item,
    more: Vec<Item>,
    /// When the labels are forgotten: `keep` after the newest one.
    labels_until: Instant,
}

impl Group {
    fn new(now: Instant) -> Self {
        Self {
            first: Item::new(Fingerprint::new(&[])),
            more: Vec::new(),
            labels_until: now,
        }
    }

    fn items(&self) -> impl Iterator<Item = &Item> {
        iter::once(&self.first).chain(&self.more)
    }

    fn items_mut(&mut self) -> impl Iterator<Item = &mut Item> {
        iter::once(&mut self.first).chain(&mut self.more)
    }

    fn item(&self, fingerprint: &Fingerprint) -> Option<&Item> {
        self.items().find(|item| item.fingerprint == *fingerprint)
    }

    /// How many claims it holds, expired ones included.
    fn claims(&self) -> usize {
        self.items().filter(|item| item.claim.is_some()).count()
    }

    /// Whether nothing in it is held any longer: it can be forgotten.
    fn expired(&self, now: Instant) -> bool {
        let labels_live = self.labels_until > now;
        self.items().all(|item| !item.holds(now, labels_live))
    }

    /// The unexpired claim on `fingerprint`.
    fn current(&self, fingerprint: &Fingerprint, now: Instant) -> Option<State> {
        let claim = self.item(fingerprint)?.claim?;
        (claim.expiry > now).then_some(claim.state)
    }

    /// The item of `fingerprint`, put in the place of one that holds nothing any longer (or
    /// added) if it has none.
    fn slot(&mut self, fingerprint: &Fingerprint, now: Instant) -> &mut Item {
        let labels_live = self.labels_until > now;
        let found = self
            .items()
            .position(|item| item.fingerprint == *fingerprint)
            .or_else(|| self.items().position(|item| !item.holds(now, labels_live)));
        let index = found.unwrap_or_else(|| {
            if self.more.len() + 1 < GROUP {
                self.more.push(Item::new(*fingerprint));
                return self.more.len();
            }
            // Full (identities sharing their first 16 bytes that are not one body's labels,
            // which stay within MAX_LABELS_PER_BODY): forget the claim soonest to expire.
            self.items()
                .enumerate()
                .min_by_key(|(_, item)| (item.labelled, item.claim.map(|claim| claim.expiry)))
                .map_or(0, |(index, _)| index)
        });
        let item = match index {
            0 => &mut self.first,
            n => &mut self.more[n - 1],
        };
        if item.fingerprint != *fingerprint {
            *item = Item::new(*fingerprint);
        }
        item
    }

    fn claim(
        &mut self,
        fingerprint: &Fingerprint,
        owner: &LeaseToken,
        lease: Duration,
        now: Instant,
    ) -> ClaimOutcome {
        match self.current(fingerprint, now) {
            Some(State::Done) => ClaimOutcome::Done,
            Some(State::Pending(_)) => ClaimOutcome::InProgress,
            None => {
                self.slot(fingerprint, now).claim = Some(Claim {
                    state: State::Pending(*owner),
                    expiry: expiry(now, lease),
                });
                ClaimOutcome::Claimed
            }
        }
    }

    fn complete(
        &mut self,
        fingerprint: &Fingerprint,
        owner: &LeaseToken,
        ttl: Duration,
        now: Instant,
    ) -> bool {
        match self.current(fingerprint, now) {
            Some(State::Pending(holder)) if holder != *owner => false,
            Some(State::Done) => false,
            // Held by `owner`, or by nobody (the lease ran out while the handler ran: it
            // still succeeded).
            _ => {
                self.slot(fingerprint, now).claim = Some(Claim {
                    state: State::Done,
                    expiry: expiry(now, ttl),
                });
                true
            }
        }
    }

    fn release(&mut self, fingerprint: &Fingerprint, owner: &LeaseToken) -> bool {
        let Some(item) = self
            .items_mut()
            .find(|item| item.fingerprint == *fingerprint)
        else {
            return false;
        };
        let owned = item
            .claim
            .is_some_and(|claim| claim.state == State::Pending(*owner));
        if owned {
            item.claim = None;
        }
        owned
    }

    /// Whether `label` is (now) one of at most `limit` labels of the group's body.
    fn label(&mut self, label: &Fingerprint, limit: u32, keep: Duration, now: Instant) -> bool {
        if self.labels_until <= now {
            self.items_mut().for_each(|item| item.labelled = false);
        }
        if self.item(label).is_some_and(|item| item.labelled) {
            return true;
        }
        if self.items().filter(|item| item.labelled).count() >= limit as usize {
            return false;
        }
        self.slot(label, now).labelled = true;
        self.labels_until = expiry(now, keep);
        true
    }
}

/// The groups of one shard, with the order in which they were made: the oldest are forgotten
/// first. Each group has exactly one entry in the order, from when it was made to when it is
/// forgotten.
#[derive(Default)]
pub(super) struct Shard {
    groups: HashMap<Key, Group>,
    pub(super) order: VecDeque<Key>,
    /// How many claims the groups hold, kept as they change: counting would visit them all.
    claims: usize,
}

impl Shard {
    /// How many claims it holds (expired ones included until their group is forgotten).
    pub(super) fn claims(&self) -> usize {
        self.claims
    }

    /// Runs `f` on the group of `key`, made if it has none; a group made then forgets groups
    /// that expired and, past `capacity`, the oldest (never itself: it is the newest).
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
        self.claims = self.claims + group.claims() - held;
        if made {
            self.order.push_back(key);
            self.evict(now, false);
            while self.groups.len() > capacity && self.evict(now, true) {}
        }
        value
    }

    /// Forgets expired groups from the front of the order, or (when `force`) the oldest live
    /// one. Whether it forgot any.
    fn evict(&mut self, now: Instant, force: bool) -> bool {
        let mut forgot = false;
        while let Some(&key) = self.order.front() {
            let stale = self.groups.get(&key).is_none_or(|group| group.expired(now));
            if !stale && !force {
                break;
            }
            if let Some(group) = self.groups.remove(&key) {
                self.claims -= group.claims();
                forgot = true;
            }
            self.order.pop_front();
            if !stale {
                break; // forced out a live group: one is enough
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
            // 8 bodies of 4 identities each, in a shard of capacity 5.
            let body = next(8) as u8;
            let mut bytes = [body; 32];
            bytes[16..].fill(next(4) as u8);
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
            assert!(shard.groups.len() <= 5 && shard.order.len() == shard.groups.len());
        }
    }
}
