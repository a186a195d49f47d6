//! One shard of the in-memory claims: a map bounded by capacity, whose oldest claims are
//! forgotten first, so that a flood of unique deliveries cannot grow memory without bound.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::fingerprint::Fingerprint;
use crate::replay::expiry;
use crate::replay::store::LeaseToken;

/// A claim: held by its owner under a lease, or done.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    Pending(LeaseToken),
    Done,
}

/// A claim and how long it is kept.
#[derive(Clone, Copy)]
pub(super) struct Entry {
    pub(super) expiry: Instant,
    /// Which queue entry is this claim's: older ones for the same fingerprint are obsolete.
    pub(super) generation: u64,
    pub(super) state: State,
}

/// The claims of one shard, with the order in which to forget them.
#[derive(Default)]
pub(super) struct Shard {
    pub(super) live: HashMap<Fingerprint, Entry>,
    /// Claims in the order made or last changed: the oldest are forgotten first.
    pub(super) order: VecDeque<(Fingerprint, u64)>,
    next_generation: u64,
}

impl Shard {
    /// Drops queue entries that are obsolete or expired from the front, or (when `force`) the
    /// oldest live one.
    pub(super) fn evict(&mut self, now: Instant, force: bool) {
        while let Some((fingerprint, generation)) = self.order.front().copied() {
            let current = self
                .live
                .get(&fingerprint)
                .filter(|entry| entry.generation == generation);
            let stale = current.is_none_or(|entry| entry.expiry <= now);
            if !stale && !force {
                break;
            }
            self.order.pop_front();
            if current.is_some() {
                self.live.remove(&fingerprint);
                if !stale {
                    // Forced out a live claim: one is enough.
                    break;
                }
            }
        }
    }

    /// The unexpired entry for `fingerprint`.
    pub(super) fn current(&self, fingerprint: &Fingerprint, now: Instant) -> Option<Entry> {
        self.live
            .get(fingerprint)
            .copied()
            .filter(|entry| entry.expiry > now)
    }

    /// Changes the live entry of `fingerprint` to `state` until `now + keep`, in place: its
    /// place in the order of forgetting stays. Whether there was one.
    pub(super) fn settle(
        &mut self,
        fingerprint: &Fingerprint,
        state: State,
        now: Instant,
        keep: Duration,
    ) -> bool {
        let Some(entry) = self.live.get_mut(fingerprint) else {
            return false;
        };
        entry.state = state;
        entry.expiry = expiry(now, keep);
        true
    }

    /// Records `state` for `fingerprint` until `now + keep`, keeping the shard within `capacity`.
    pub(super) fn record(
        &mut self,
        fingerprint: Fingerprint,
        state: State,
        now: Instant,
        keep: Duration,
        capacity: usize,
    ) {
        self.evict(now, false);
        while self.live.len() >= capacity && !self.live.contains_key(&fingerprint) {
            self.evict(now, true);
        }
        let generation = self.next_generation;
        self.next_generation += 1;
        let expiry = expiry(now, keep);
        self.live.insert(
            fingerprint,
            Entry {
                expiry,
                generation,
                state,
            },
        );
        self.order.push_back((fingerprint, generation));
        // Released and re-recorded claims leave queue entries behind; keep the queue within
        // twice the map.
        if self.order.len() > 2 * capacity {
            self.evict(now, false);
            let live = std::mem::take(&mut self.live);
            self.order
                .retain(|(f, g)| live.get(f).is_some_and(|entry| entry.generation == *g));
            self.live = live;
        }
    }
}
