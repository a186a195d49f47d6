//! The interface an inbox's storage implements.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use crate::fingerprint::Fingerprint;
use crate::inbox::record::{Lease, Received, Taken};
use crate::replay::labels::LabelStore;
use crate::replay::store::StoreFuture;

/// What [`InboxStore::put`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    /// Written durably under this id.
    Stored(u64),
    /// A delivery with the same fingerprint is already held (pending, done within the
    /// retention window, or dead) under this id: this one needs no storing of its own.
    Duplicate(u64),
    /// Not stored: its signed body was already delivered under
    /// [`MAX_LABELS_PER_BODY`](crate::MAX_LABELS_PER_BODY) other labels within the retention —
    /// a captured body replayed under invented events or delivery ids. Answered `202` like a
    /// copy (our limit must never cost a webhook), and logged at WARN.
    OverLabelLimit,
}

/// What a route in inbox mode answers with its `202`: `stored 7`, or
/// `duplicate of 7, already stored`.
///
/// ```
/// use appwrite_webhooks::inbox::Put;
/// assert_eq!(Put::Stored(7).to_string(), "stored 7");
/// assert_eq!(Put::Duplicate(7).to_string(), "duplicate of 7, already stored");
/// ```
impl std::fmt::Display for Put {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Put::Stored(id) => write!(f, "stored {id}"),
            Put::Duplicate(id) => write!(f, "duplicate of {id}, already stored"),
            Put::OverLabelLimit => f.write_str("duplicate body, not stored"),
        }
    }
}

impl Put {
    /// The id of the delivery, stored now or before; `None` when it was not stored.
    pub fn id(self) -> Option<u64> {
        match self {
            Put::Stored(id) | Put::Duplicate(id) => Some(id),
            Put::OverLabelLimit => None,
        }
    }
}

/// The protocol an [`Inbox`](crate::inbox::Inbox)'s storage speaks with the receive path and
/// the workers: store a delivery, take one under a lease, settle the attempt. Administration
/// (counting, listing, requeueing, purging) is [`InboxAdmin`](crate::inbox::InboxAdmin); the
/// labels of a body, asked before [`put`](Self::put), are [`LabelStore`], as for the guard.
///
/// A delivery is *pending* (due, or held by one worker's lease), *done* (kept for the
/// retention to recognise copies) or *dead*. Every method either completes or fails as a
/// whole: a `put` that returns `Err` has stored nothing a worker could see. The outcome
/// methods (`complete`, `fail`, `dead`, `hand_back`) take effect only while `lease` is the
/// delivery's current one — one attempt's, never its worker's name — and return `false`
/// otherwise (the lease ran out and another attempt took it).
pub trait InboxStore: LabelStore {
    /// Stores `received` as pending unless its fingerprint is already held.
    fn put(&self, received: Received) -> StoreFuture<'_, Put>;

    /// [`label`](LabelStore::label) `fingerprint` as one of `body`'s labels, then — if it is one
    /// — [`put`](Self::put) `received` ([`Put::OverLabelLimit`] when the body has `limit` other
    /// labels): what an inbox asks of every new delivery of Appwrite's scheme. A networked
    /// store overrides it to answer in one round trip (and one commit) instead of two.
    fn label_and_put<'a>(
        &'a self,
        body: &'a Fingerprint,
        fingerprint: &'a Fingerprint,
        (limit, keep): (u32, Duration),
        received: Received,
    ) -> StoreFuture<'a, Put> {
        Box::pin(async move {
            if !self.label(body, fingerprint, limit, keep).await? {
                return Ok(Put::OverLabelLimit);
            }
            self.put(received).await
        })
    }

    /// Takes the oldest delivery that is due, if any, leasing it to this attempt for `lease`
    /// (hidden from other workers) and counting an attempt; a delivery taken earlier whose visibility passed
    /// without an outcome (its worker died) is due again. `worker` names the taker (for stores
    /// that track consumers). Workers of one inbox should agree on `visibility`: a store that
    /// measures how long a delivery has been idle (Redis's `XAUTOCLAIM`) applies the taker's.
    fn take(&self, worker: &str, lease: Duration) -> StoreFuture<'_, Option<Taken>>;

    /// Marks the leased delivery done, kept for `retention` to recognise re-sends.
    fn complete(&self, lease: &Lease, retention: Duration) -> StoreFuture<'_, bool>;

    /// Records a failed attempt and makes the delivery due again at `at`.
    fn fail(&self, lease: &Lease, error: &str, at: SystemTime) -> StoreFuture<'_, bool>;

    /// Moves the leased delivery to the dead letters with its last error.
    fn dead(&self, lease: &Lease, error: &str) -> StoreFuture<'_, bool>;

    /// Gives an unfinished attempt back (a worker shutting down): due now, and the attempt
    /// not counted.
    fn hand_back(&self, lease: &Lease) -> StoreFuture<'_, bool>;

    /// Resolves when a delivery may have become due that this process did not store (another
    /// replica's `put`, a requeue by an operator), so an idle worker takes it at once rather
    /// than at its next poll. The default never resolves: workers find other processes'
    /// deliveries by polling ([`Workers::with_poll_interval`](crate::inbox::Workers::with_poll_interval)).
    /// A store with a push channel (Postgres's `LISTEN`) overrides it. A wake-up that finds
    /// nothing costs one [`take`](Self::take); the poll stays as the fallback, so a store may
    /// miss one, and must never resolve over and over without cause (a lost connection, say).
    fn arrived(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(std::future::pending())
    }
}
