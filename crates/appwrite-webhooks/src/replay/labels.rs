//! How many labels one signed body has been delivered under: the bound on what a captured body
//! can make a ledger handle, whatever unsigned labels (events, delivery id) come with it.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::fingerprint::Fingerprint;
use crate::replay::store::StoreFuture;

/// The most labels one signed body is handled under within the retention: deliveries of one
/// body under more distinct labels (events headers, delivery ids) are answered as copies
/// (`200`, `202`: our limit never costs a webhook) without being handled or stored, and
/// logged at WARN.
///
/// Appwrite sends one body under several events when a resource is announced unchanged — a
/// user created, then deleted, or their sessions deleted; the deliveries Appwrite's releases
/// make carry one user body under up to 14 events — so genuine deliveries stay below it, while
/// a captured body replayed under invented labels is handled at most this many times.
pub const MAX_LABELS_PER_BODY: u32 = 16;

/// Where a ledger counts the labels each signed body was delivered under: the one operation the
/// synchronous guard ([`ReplayStore`](crate::ReplayStore)) and the inbox
/// ([`InboxStore`](crate::inbox::InboxStore)) share, implemented once per ledger.
///
/// A labelled delivery's identity begins with its body key
/// ([`Fingerprint::carries_body_key`]), so a ledger that keeps identities in order may count a
/// body's labels among them instead of keeping each label a second time; it must then still
/// count a label whose delivery it forgot (a released claim, a purge) until `keep` has passed.
pub trait LabelStore: Send + Sync + 'static {
    /// Records `label` (a delivery's fingerprint) as one of the labels the signed body `body`
    /// was delivered under, kept for `keep` after the last new one, unless the body already
    /// has `limit` others. Returns whether `label` is (now) one of them. Atomic: this is what
    /// bounds how often one captured body is handled ([`MAX_LABELS_PER_BODY`]).
    fn label<'a>(
        &'a self,
        body: &'a Fingerprint,
        label: &'a Fingerprint,
        limit: u32,
        keep: Duration,
    ) -> StoreFuture<'a, bool>;
}

/// The label sets of the bodies seen, in memory, for the memory stores: bounded by `capacity`
/// bodies (the oldest forgotten first), each set kept until `keep` after its last new label.
/// Sharded by body, as the claims are, so concurrent deliveries rarely meet on one lock.
#[derive(Debug)]
pub(crate) struct LabelSets {
    shards: Box<[Mutex<Sets>]>,
    per_shard: usize,
}

const SHARDS: usize = 16;

#[derive(Debug, Default)]
struct Sets {
    bodies: HashMap<Fingerprint, Labels>,
    order: VecDeque<Fingerprint>,
}

/// One body's labels until a time. Nearly every body has one label: it is kept inline, and
/// only a second one allocates.
#[derive(Debug)]
struct Labels {
    first: Fingerprint,
    more: Vec<Fingerprint>,
    until: Instant,
    /// `false` once expired: the set then holds nothing, whatever `first` says.
    live: bool,
}

impl Labels {
    fn contains(&self, label: &Fingerprint) -> bool {
        self.live && (self.first == *label || self.more.contains(label))
    }

    fn len(&self) -> usize {
        if self.live { 1 + self.more.len() } else { 0 }
    }

    fn push(&mut self, label: Fingerprint) {
        if self.live {
            self.more.push(label);
        } else {
            self.first = label;
            self.live = true;
        }
    }

    fn clear(&mut self) {
        self.live = false;
        self.more.clear();
    }
}

impl Default for LabelSets {
    /// As many bodies as a [`MemoryLedger`](crate::MemoryLedger) remembers claims by default.
    fn default() -> Self {
        Self::with_capacity(100_000)
    }
}

impl LabelSets {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Sets::default())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }

    /// Whether `label` is (now) one of at most `limit` labels of `body`.
    pub(crate) fn admit(
        &self,
        body: &Fingerprint,
        label: &Fingerprint,
        limit: u32,
        keep: Duration,
    ) -> bool {
        let now = Instant::now();
        let expiry = super::expiry(now, keep);
        let shard = body.shard(SHARDS);
        let mut sets = self.shards[shard].lock().unwrap_or_else(|e| e.into_inner());
        if let Some(labels) = sets.bodies.get_mut(body) {
            if labels.until <= now {
                labels.clear();
            }
            if labels.contains(label) {
                return true;
            }
            if labels.len() >= limit as usize {
                return false;
            }
            labels.push(*label);
            labels.until = expiry;
            return true;
        }
        if limit == 0 {
            return false;
        }
        while sets.bodies.len() >= self.per_shard {
            let Some(oldest) = sets.order.pop_front() else {
                break;
            };
            sets.bodies.remove(&oldest);
        }
        let labels = Labels {
            first: *label,
            more: Vec::new(),
            until: expiry,
            live: true,
        };
        sets.bodies.insert(*body, labels);
        sets.order.push_back(*body);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_takes_at_most_the_limit_of_labels_and_always_its_own_again() {
        let sets = LabelSets::with_capacity(10);
        let body = Fingerprint::new(&[1; 32]);
        let label = |n: u8| Fingerprint::new(&[n; 32]);
        let keep = Duration::from_secs(60);
        for n in 0..4 {
            assert!(sets.admit(&body, &label(n), 4, keep), "label {n}");
        }
        assert!(!sets.admit(&body, &label(9), 4, keep), "a fifth label");
        assert!(sets.admit(&body, &label(2), 4, keep), "a label it has");
        assert!(sets.admit(&Fingerprint::new(&[2; 32]), &label(9), 4, keep));
    }

    #[test]
    fn the_sets_are_bounded_and_expire() {
        let sets = LabelSets::with_capacity(2);
        let label = Fingerprint::new(&[9; 32]);
        for n in 0..10u8 {
            assert!(sets.admit(&Fingerprint::new(&[n; 32]), &label, 1, Duration::MAX));
        }
        let held: usize = sets
            .shards
            .iter()
            .map(|s| s.lock().unwrap().bodies.len())
            .sum();
        assert!(held <= SHARDS, "{held}");
        let body = Fingerprint::new(&[42; 32]);
        assert!(sets.admit(&body, &label, 1, Duration::ZERO));
        assert!(sets.admit(&body, &Fingerprint::new(&[8; 32]), 1, Duration::ZERO));
    }
}
