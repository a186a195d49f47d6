//! De-duplication: a delivery is handled once per fingerprint within a time window.
//!
//! Appwrite's signature has no timestamp and deliveries carry no id: a captured delivery
//! verifies forever, and Appwrite re-sends byte-identical deliveries (automatic retries, an
//! operator's `queue-retry`). A [`ReplayGuard`] remembers each verified delivery for a while and
//! answers repeats without running the handler.
//!
//! # The fingerprint
//! Each [`Scheme`](crate::Scheme) decides what identifies a delivery. Appwrite's: the 20-byte
//! signature. It is an HMAC over the URL and the body, so it is fixed-size, differs for the
//! same body sent to two webhooks (different URL or key), and — being keyed — tells a reader of
//! the shared store nothing about the payloads. Two deliveries with the same fingerprint are
//! the same bytes to the same URL: the same delivery.
//!
//! The opt-in schemes carry an event id in their envelope (`$id`, `id`) that stays the same
//! when the sender retries with a fresh timestamp and signature; there the fingerprint is a
//! SHA-1 digest of the scheme's name and that id (the signature when the body has no id).
//!
//! # The contract: at least once, de-duplicated
//! A delivery is *claimed* once verified. If the handler succeeds the claim is kept for the
//! TTL, and repeats are answered with the duplicate status (200 by default, so Appwrite stops
//! retrying and counts no failure). If the handler fails (an error response), the claim is
//! released so Appwrite's retry can succeed. A crash between claiming and answering leaves the
//! claim in place until the TTL ends: choose a TTL that bounds how long such a delivery may be
//! shadowed, and make handlers idempotent where a second run within that time matters.

mod memory;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::StatusCode;

use crate::delivery::{Delivery, Fingerprint};
use crate::error::{Error, StoreError};

pub use memory::MemoryStore;

/// A boxed, sendable future, as [`ReplayStore`] returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Where claims are kept: in memory ([`MemoryStore`]), or shared between replicas
/// (`appwrite-webhooks-redis`).
pub trait ReplayStore: Send + Sync + 'static {
    /// Atomically records `fingerprint` for `ttl` if it is not recorded yet. Returns `true` if
    /// this call recorded it (the delivery is new), `false` if it was already there.
    fn claim<'a>(&'a self, fingerprint: &'a Fingerprint, ttl: Duration) -> StoreFuture<'a, bool>;

    /// Forgets `fingerprint`, so the next claim succeeds.
    fn release<'a>(&'a self, fingerprint: &'a Fingerprint) -> StoreFuture<'a, ()>;
}

/// What to do when the store cannot answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreFailure {
    /// Refuse the delivery with `503 Service Unavailable`; Appwrite counts a failed attempt and
    /// the delivery can be retried. The default: never handle a delivery twice.
    Reject,
    /// Accept the delivery without de-duplication and log a warning: never lose a delivery.
    Accept,
}

/// De-duplicates verified deliveries; set it with
/// [`Verifier::replay_guard`](crate::Verifier::replay_guard) and every adapter applies it.
///
/// ```
/// use std::time::Duration;
/// use appwrite_webhooks::{ReplayGuard, Verifier};
///
/// let verifier = Verifier::new("whsec_…", "https://example.com/hook")
///     .replay_guard(ReplayGuard::in_memory().ttl(Duration::from_secs(3600)));
/// ```
#[derive(Clone)]
pub struct ReplayGuard {
    store: Arc<dyn ReplayStore>,
    ttl: Duration,
    on_store_failure: StoreFailure,
    duplicate_status: StatusCode,
    max_age: Option<Duration>,
}

impl ReplayGuard {
    /// A guard over `store`, with a 24-hour TTL, fail-closed, answering duplicates with 200.
    pub fn new(store: impl ReplayStore) -> Self {
        Self {
            store: Arc::new(store),
            ttl: Duration::from_secs(24 * 60 * 60),
            on_store_failure: StoreFailure::Reject,
            duplicate_status: StatusCode::OK,
            max_age: None,
        }
    }

    /// A guard over a [`MemoryStore`] with its default capacity: for a single process.
    pub fn in_memory() -> Self {
        Self::new(MemoryStore::default())
    }

    /// How long a handled delivery is remembered (default 24 hours). Repeats after that are
    /// handled again; see [`max_age`](Self::max_age) to refuse them instead.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// What to do when the store fails (default [`StoreFailure::Reject`], a 503).
    pub fn on_store_failure(mut self, policy: StoreFailure) -> Self {
        self.on_store_failure = policy;
        self
    }

    /// The status a duplicate is answered with (default `200 OK`: Appwrite stops retrying and
    /// counts no failure). `409 Conflict` makes duplicates visible in Appwrite's logs, at the
    /// cost of a failed attempt each.
    pub fn duplicate_status(mut self, status: StatusCode) -> Self {
        self.duplicate_status = status;
        self
    }

    /// Refuses deliveries whose payload `$updatedAt` (or `$createdAt`) is older than `age`,
    /// with [`Error::Stale`] (401): a second defence for the timestamp-less scheme, covering
    /// replays older than the TTL. Off by default. The trade-offs: the payload time is when the
    /// resource changed, not when the delivery was sent, so a legitimate delivery retried after a
    /// long outage is refused too; and the receiver's clock must be within a margin of
    /// Appwrite's — leave minutes of slack. Payloads without either field pass.
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = Some(age);
        self
    }

    /// Checks and claims a verified delivery.
    ///
    /// `Ok(claim)` means: handle it, then [`Claim::release`] if handling failed. Duplicates are
    /// [`Error::Duplicate`] (answer with its status, do not handle); stale deliveries
    /// [`Error::Stale`]; an unavailable store under [`StoreFailure::Reject`]
    /// [`Error::ReplayStore`].
    pub async fn admit<B: AsRef<[u8]>>(&self, delivery: &Delivery<B>) -> Result<Claim, Error> {
        if let Some(max_age) = self.max_age {
            check_age(delivery.body(), max_age)?;
        }
        let fingerprint = delivery.fingerprint();
        match self.store.claim(&fingerprint, self.ttl).await {
            Ok(true) => Ok(Claim {
                store: Some(Arc::clone(&self.store)),
                fingerprint,
            }),
            Ok(false) => {
                tracing::debug!(
                    webhook = delivery.webhook_id(),
                    "duplicate Appwrite delivery ignored"
                );
                Err(Error::Duplicate {
                    status: self.duplicate_status,
                })
            }
            Err(error) => match self.on_store_failure {
                StoreFailure::Reject => Err(Error::ReplayStore(error)),
                StoreFailure::Accept => {
                    tracing::warn!(%error, "replay store unavailable; accepting without de-duplication");
                    Ok(Claim {
                        store: None,
                        fingerprint,
                    })
                }
            },
        }
    }
}

impl fmt::Debug for ReplayGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplayGuard")
            .field("ttl", &self.ttl)
            .field("on_store_failure", &self.on_store_failure)
            .field("duplicate_status", &self.duplicate_status)
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

/// A claimed delivery. Keep it (drop it) when handling succeeded; [`release`](Self::release) it
/// when handling failed so a retry is handled.
#[must_use = "release the claim if handling fails"]
#[derive(Debug)]
pub struct Claim {
    /// `None` when the store was down and the policy accepted the delivery anyway.
    store: Option<Arc<dyn ReplayStore>>,
    fingerprint: Fingerprint,
}

impl fmt::Debug for dyn ReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReplayStore")
    }
}

impl Claim {
    /// A claim with nothing to release (no guard configured).
    pub(crate) fn none() -> Self {
        Self {
            store: None,
            fingerprint: Fingerprint::new(&[]),
        }
    }

    /// Forgets the delivery so Appwrite's retry is handled. A store failure here is logged: the
    /// claim then expires with its TTL.
    pub async fn release(self) {
        if let Some(store) = self.store
            && let Err(error) = store.release(&self.fingerprint).await
        {
            tracing::warn!(%error, "could not release a replay claim; it expires with its TTL");
        }
    }
}

fn check_age(body: &[u8], max_age: Duration) -> Result<(), Error> {
    #[derive(serde::Deserialize)]
    struct Stamps {
        #[serde(
            rename = "$updatedAt",
            default,
            with = "crate::models::datetime::option"
        )]
        updated_at: Option<time::OffsetDateTime>,
        #[serde(
            rename = "$createdAt",
            default,
            with = "crate::models::datetime::option"
        )]
        created_at: Option<time::OffsetDateTime>,
    }
    // A body that is not an object has no time to check; the payload parse reports it later.
    let Ok(stamps) = serde_json::from_slice::<Stamps>(body) else {
        return Ok(());
    };
    let Some(at) = stamps.updated_at.or(stamps.created_at) else {
        return Ok(());
    };
    let now = time::OffsetDateTime::from(SystemTime::now());
    let age = now - at;
    if age > max_age {
        return Err(Error::Stale {
            age: age.unsigned_abs(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_check_reads_updated_then_created() {
        let old = br#"{"$createdAt":"2020-10-15T06:38:00.000+00:00","$updatedAt":"2020-10-15T06:38:00.000+00:00"}"#;
        assert!(matches!(
            check_age(old, Duration::from_secs(3600)),
            Err(Error::Stale { .. })
        ));
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let fresh =
            format!(r#"{{"$createdAt":"2020-10-15T06:38:00.000+00:00","$updatedAt":"{now}"}}"#);
        assert!(check_age(fresh.as_bytes(), Duration::from_secs(3600)).is_ok());
        assert!(check_age(b"[1,2]", Duration::from_secs(1)).is_ok());
        assert!(check_age(br#"{"name":"no dates"}"#, Duration::from_secs(1)).is_ok());
    }
}
