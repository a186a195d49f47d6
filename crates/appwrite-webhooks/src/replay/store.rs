//! What a replay store does: three atomic operations on a fingerprint, each tied to the owner
//! token of the attempt that made the claim.

use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::StoreError;
use crate::fingerprint::Fingerprint;
use crate::replay::labels::LabelStore;

/// A boxed, sendable future, as [`ReplayStore`] returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Where a delivery stands after [`ReplayStore::claim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClaimOutcome {
    /// Nothing was recorded: the caller now holds a pending claim for the lease.
    Claimed,
    /// Another attempt holds a pending claim: its handler is running (or its process died and
    /// the lease has not run out yet).
    InProgress,
    /// A handler finished successfully with this delivery within the TTL.
    Done,
}

/// Where claims are kept: in memory ([`MemoryLedger`](crate::MemoryLedger)), or shared between
/// replicas (`appwrite-webhooks-redis`, `appwrite-webhooks-postgres`).
///
/// A fingerprint is absent, *pending* (owned by one attempt's [`LeaseToken`], for a lease), or
/// *done* (for the TTL). Every operation must be atomic, and [`complete`](Self::complete) and
/// [`release`](Self::release) must act only on a claim the given owner still holds
/// (compare-and-set, compare-and-delete): an attempt whose lease ran out must not delete or
/// finish the claim of the attempt that came after it.
pub trait ReplayStore: LabelStore {
    /// Records `fingerprint` as pending for `owner` for `lease` if it is absent (or expired),
    /// and says where it stands.
    fn claim<'a>(
        &'a self,
        fingerprint: &'a Fingerprint,
        owner: &'a LeaseToken,
        lease: Duration,
    ) -> StoreFuture<'a, ClaimOutcome>;

    /// Marks `fingerprint` done for `ttl` if `owner` holds it, or if nobody does (the lease ran
    /// out while the handler ran: it still succeeded). Returns whether it is now done by this
    /// call; `false` when another attempt holds it.
    fn complete<'a>(
        &'a self,
        fingerprint: &'a Fingerprint,
        owner: &'a LeaseToken,
        ttl: Duration,
    ) -> StoreFuture<'a, bool>;

    /// Forgets `fingerprint` if `owner` holds it as pending, so the next copy is handled.
    /// Returns whether it did.
    fn release<'a>(
        &'a self,
        fingerprint: &'a Fingerprint,
        owner: &'a LeaseToken,
    ) -> StoreFuture<'a, bool>;

    /// [`label`](LabelStore::label) `fingerprint` as one of `body`'s labels, then — if it is one —
    /// [`claim`](Self::claim) it; `None` when the body has `limit` other labels. What the
    /// guard asks of every new delivery of Appwrite's scheme: a networked store overrides it
    /// to answer in one round trip instead of two.
    #[allow(clippy::too_many_arguments)]
    fn label_and_claim<'a>(
        &'a self,
        body: &'a Fingerprint,
        fingerprint: &'a Fingerprint,
        owner: &'a LeaseToken,
        (limit, keep): (u32, Duration),
        lease: Duration,
    ) -> StoreFuture<'a, Option<ClaimOutcome>> {
        Box::pin(async move {
            if !self.label(body, fingerprint, limit, keep).await? {
                return Ok(None);
            }
            self.claim(fingerprint, owner, lease).await.map(Some)
        })
    }
}

impl fmt::Debug for dyn ReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReplayStore")
    }
}

/// Which attempt holds a lease on a delivery — a claim in the synchronous path, a take by an
/// inbox worker: unique per attempt, across threads, processes and replicas, so a stale
/// attempt can never settle the attempt after it. An owner tag, not a secret.
///
/// ```
/// use appwrite_webhooks::LeaseToken;
/// assert_ne!(LeaseToken::new(), LeaseToken::new());
/// assert_eq!(LeaseToken::new().to_string().len(), 32);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct LeaseToken([u8; 16]);

impl LeaseToken {
    /// A new token: 64 bits from the standard library's randomly seeded hasher (seeded from the
    /// operating system once per thread) over the time, and a process-wide counter: no two
    /// attempts of one process share one, nor of two processes, whose seeds differ. A forked
    /// child shares its parent's seed and counter; the time tells them apart unless both make
    /// their n-th token in the same nanosecond. (The process id would, but it costs a system
    /// call per token, 0.6 % of a guarded request.)
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let random = RandomState::new().hash_one((count, now));
        let mut bytes = [0; 16];
        bytes[..8].copy_from_slice(&random.to_le_bytes());
        bytes[8..].copy_from_slice(&count.to_le_bytes());
        Self(bytes)
    }

    /// The token's bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

/// Renamed [`LeaseToken`]: one word for an attempt's hold, in the guard and the inbox alike.
#[deprecated(note = "renamed LeaseToken")]
pub type ClaimToken = LeaseToken;

impl fmt::Display for LeaseToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::crypto::hex::hex(&self.0))
    }
}

impl fmt::Debug for LeaseToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LeaseToken({self})")
    }
}
