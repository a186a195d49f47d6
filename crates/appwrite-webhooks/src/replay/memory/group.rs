//! A group of the memory ledger: the identities that share a key — one body's labels and its
//! deliveries' claims, or a single claim — and what each holds.

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

/// How many identities a group holds before a new one takes the place of a done claim (the
/// one soonest to expire): twice the labels a body is handled under. With a lease no longer
/// than the retention nothing this crate computes fills a group (a body's labels of one
/// retention, and their claims); identities that share their first 16 bytes without being one
/// body's labels could (`Fingerprint::new` makes them), and so could claims of handlers that
/// hang through a lease longer than the retention, which then shortens how long one done claim
/// of that body is remembered, as a full ledger does.
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
/// single claim (an identity without a body key). Nearly every group holds one identity: it is
/// kept inline, and only a second one allocates.
pub(super) struct Group {
    first: Item,
    more: Vec<Item>,
    /// When the labels are forgotten: `keep` after the newest one.
    labels_until: Instant,
    /// Which entry of the order is this group's: older ones are obsolete.
    pub(super) generation: u64,
    /// Whether a claim was made in it since the last look (not one settled in place): the
    /// group moves to the back of the order, so that a claim just made is not the first
    /// forgotten.
    pub(super) claimed: bool,
}

impl Group {
    pub(super) fn new(now: Instant) -> Self {
        Self {
            first: Item::new(Fingerprint::new(&[])),
            more: Vec::new(),
            labels_until: now,
            generation: 0,
            claimed: false,
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
    pub(super) fn claims(&self) -> usize {
        self.items().filter(|item| item.claim.is_some()).count()
    }

    /// Whether nothing in it is held any longer: it can be forgotten.
    pub(super) fn expired(&self, now: Instant) -> bool {
        let labels_live = self.labels_until > now;
        self.items().all(|item| !item.holds(now, labels_live))
    }

    /// The unexpired claim on `fingerprint`.
    fn current(&self, fingerprint: &Fingerprint, now: Instant) -> Option<State> {
        let claim = self.item(fingerprint)?.claim?;
        (claim.expiry > now).then_some(claim.state)
    }

    /// The item of `fingerprint`, if it has none put in the place of one that holds nothing any
    /// longer, or added, or — in a group of [`GROUP`] — in the place of the done claim soonest
    /// to expire (forgetting it early, as a full ledger forgets its oldest). Never the place of
    /// a label or a pending claim.
    fn slot(&mut self, fingerprint: &Fingerprint, now: Instant) -> &mut Item {
        let labels_live = self.labels_until > now;
        let found = self
            .items()
            .position(|item| item.fingerprint == *fingerprint)
            .or_else(|| self.items().position(|item| !item.holds(now, labels_live)))
            .or_else(|| self.soonest_done(labels_live));
        let index = found.unwrap_or_else(|| {
            self.more.push(Item::new(*fingerprint));
            self.more.len()
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

    /// In a group of [`GROUP`], the place of the done claim soonest to expire that is not a
    /// live label.
    fn soonest_done(&self, labels_live: bool) -> Option<usize> {
        if self.more.len() + 1 < GROUP {
            return None;
        }
        self.items()
            .enumerate()
            .filter(|(_, item)| {
                !(item.labelled && labels_live)
                    && item.claim.is_some_and(|claim| claim.state == State::Done)
            })
            .min_by_key(|(_, item)| item.claim.map(|claim| claim.expiry))
            .map(|(index, _)| index)
    }

    pub(super) fn claim(
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
                self.claimed = true;
                ClaimOutcome::Claimed
            }
        }
    }

    pub(super) fn complete(
        &mut self,
        fingerprint: &Fingerprint,
        owner: &LeaseToken,
        ttl: Duration,
        now: Instant,
    ) -> bool {
        let current = self.current(fingerprint, now);
        match current {
            Some(State::Pending(holder)) if holder != *owner => false,
            Some(State::Done) => false,
            // Held by `owner` (done in place), or by nobody: the lease ran out while the
            // handler ran, and it still succeeded — a claim made now, as `claim` makes one.
            _ => {
                self.slot(fingerprint, now).claim = Some(Claim {
                    state: State::Done,
                    expiry: expiry(now, ttl),
                });
                self.claimed |= current.is_none();
                true
            }
        }
    }

    pub(super) fn release(&mut self, fingerprint: &Fingerprint, owner: &LeaseToken) -> bool {
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
    pub(super) fn label(
        &mut self,
        label: &Fingerprint,
        limit: u32,
        keep: Duration,
        now: Instant,
    ) -> bool {
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
