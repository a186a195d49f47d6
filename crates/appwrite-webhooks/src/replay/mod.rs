//! De-duplication: a delivery is handled successfully once per fingerprint within a time
//! window, and never acknowledged unless a handler succeeded with it.
//!
//! Appwrite's signature has no timestamp: a captured delivery verifies forever, and Appwrite
//! re-sends byte-identical deliveries (its own redeliveries since 2.x, an operator's
//! `queue-retry`). A [`ReplayGuard`] remembers each verified delivery and answers copies
//! without running the handler.
//!
//! # The identity
//! A delivery is identified by its [`Fingerprint`](crate::Fingerprint), which the
//! [`Scheme`](crate::Scheme) defines ([`Delivery::fingerprint`]) and an inbox uses alike. For
//! Appwrite's scheme it is the signature — an HMAC over URL and body, so keyed, and different
//! for the same body sent to two webhooks — together with the `X-Appwrite-Webhook-Delivery-Id`
//! when the server sends one, else the events header as sent: Appwrite sends one body under
//! several events (a row created, then deleted unchanged), and each is a delivery to handle.
//! The opt-in schemes use their signed envelope's event id, which stays the same when the
//! sender retries with a fresh timestamp and signature, under the key that verified it.
//!
//! The labels (events, delivery id) are not signed. A captured genuine body replayed under a
//! new label is therefore a new delivery — never a forged body, and the ids its events header
//! names are checked against the body — so keep handlers idempotent, confirm destructive
//! actions with Appwrite's API, and bound the age of replays with [`ReplayGuard::with_max_age`].
//!
//! # The delivery guarantee
//! **If any copy of a delivery was answered 2xx, a handler finished successfully with it.**
//! A verified delivery is claimed as *pending* for a lease ([`ReplayGuard::with_lease`], 30 s by
//! default: twice Appwrite's 15 s timeout) while its handler runs, and becomes *done* — for the
//! TTL — only when the handler succeeded. Every other ending gives the claim back: an error
//! response, an `Err`, a panic, a cancelled or timed-out handler, a client that disconnected
//! (see [`Claim`]); a process that dies leaves its claims pending until their lease runs out.
//! While a claim is pending, other copies are answered `409 Conflict`
//! ([`Admission::InProgress`]): a failed attempt to Appwrite, never a
//! 2xx, because success is not known yet. Once done, copies are answered with the duplicate
//! status (`200` by default) without running the handler. When the store cannot answer, the
//! [`StoreFailure`] policy decides (503 by default); a claim whose outcome is unknown (a
//! timeout) is released by its owner token, so nothing is left behind that nobody releases.
//!
//! A handler may therefore run more than once for one delivery (a success whose `complete`
//! did not reach the store, a lease that ran out under a slow handler): make handlers
//! idempotent.

mod claim;
pub(crate) mod labels;
pub(crate) mod memory;
pub(crate) mod store;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::StatusCode;

use crate::delivery::Delivery;
use crate::error::Error;

pub use claim::Claim;
pub use labels::{LabelStore, MAX_LABELS_PER_BODY};
#[allow(deprecated)]
pub use memory::MemoryStore;
#[allow(deprecated)]
pub use store::ClaimToken;
pub use store::{ClaimOutcome, LeaseToken, ReplayStore, StoreFuture};

/// The longest TTL or lease a guard uses: longer ones (up to `Duration::MAX`) are clamped to
/// it, so no store's clock arithmetic overflows. About a hundred years.
pub const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// `keep` after `now`, saturating at [`MAX_TTL`]: a lease or TTL of `Duration::MAX` must not
/// panic an `Instant`'s arithmetic.
pub(crate) fn expiry(now: std::time::Instant, keep: Duration) -> std::time::Instant {
    now.checked_add(keep).unwrap_or(now + MAX_TTL)
}

/// What the replay guard made of a verified delivery: handle it, or answer a copy without the
/// handler. Outcomes, not errors: a duplicate is Appwrite's redelivery working as intended.
#[derive(Debug)]
#[must_use = "handle the delivery and settle the claim, or answer the copy"]
#[non_exhaustive]
pub enum Admission {
    /// Handle it, then settle the [`Claim`] with the handler's outcome (without a guard the
    /// claim has nothing to settle).
    Handle(Claim),
    /// A copy of a delivery a handler already finished: answer `status` (200 unless the guard
    /// says otherwise), do not handle.
    Duplicate {
        /// The status to answer with ([`ReplayGuard::duplicate_status`]).
        status: StatusCode,
    },
    /// A copy of a delivery whose handler is running now: answer `409`, do not handle.
    InProgress,
}

/// What to do when the store cannot answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreFailure {
    /// Refuse the delivery with `503 Service Unavailable`; Appwrite counts a failed attempt and
    /// the delivery can be retried. The default: never handle a delivery twice.
    Reject,
    /// Handle the delivery without de-duplication and log a warning: never refuse a delivery
    /// because of the store. The claim is still settled when the store answers again.
    Accept,
}

/// De-duplicates verified deliveries; set it with
/// [`Verifier::with_replay_guard`](crate::Verifier::with_replay_guard) and every adapter applies it
/// (see the module docs for the guarantee).
///
/// ```
/// use std::time::Duration;
/// use appwrite_webhooks::{ReplayGuard, Verifier};
///
/// let verifier = Verifier::new("whsec_…", "https://example.com/hook")
///     .with_replay_guard(ReplayGuard::in_memory().with_retention(Duration::from_secs(3600)));
/// ```
#[derive(Clone)]
pub struct ReplayGuard {
    store: Arc<dyn ReplayStore>,
    ttl: Duration,
    lease: Duration,
    on_store_failure: StoreFailure,
    duplicate_status: StatusCode,
    max_age: Option<Duration>,
}

impl ReplayGuard {
    /// A guard over `store`, with a 24-hour TTL and a 30-second lease, fail-closed, answering
    /// duplicates with 200.
    pub fn new(store: impl ReplayStore) -> Self {
        Self {
            store: Arc::new(store),
            ttl: Duration::from_secs(24 * 60 * 60),
            lease: Duration::from_secs(30),
            on_store_failure: StoreFailure::Reject,
            duplicate_status: StatusCode::OK,
            max_age: None,
        }
    }

    /// A guard over a [`MemoryLedger`](crate::MemoryLedger) with its default capacity: for a
    /// single process.
    pub fn in_memory() -> Self {
        Self::new(crate::MemoryLedger::default())
    }

    /// How long a handled delivery is kept, so a copy within it is answered without the
    /// handler (default 24 hours, at most [`MAX_TTL`]). Copies after that are handled again;
    /// see [`with_max_age`](Self::with_max_age) to refuse them instead.
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.ttl = retention.min(MAX_TTL);
        self
    }

    /// How long a handled delivery is kept.
    pub fn retention(&self) -> Duration {
        self.ttl
    }

    /// How long an attempt's lease on a delivery lasts if it never settles it — the process
    /// died (default 30 s, at most [`MAX_TTL`]). Copies arriving meanwhile are answered `409`.
    /// A handler that runs longer than the lease may see a copy handled beside it.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease.clamp(Duration::from_millis(1), MAX_TTL);
        self
    }

    /// How long an attempt's lease lasts.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// What to do when the store fails (default [`StoreFailure::Reject`], a 503).
    pub fn with_store_failure(mut self, policy: StoreFailure) -> Self {
        self.on_store_failure = policy;
        self
    }

    /// What the guard does when the store fails.
    pub fn store_failure(&self) -> StoreFailure {
        self.on_store_failure
    }

    /// The status a copy of a handled delivery is answered with (default `200 OK`: Appwrite
    /// stops sending it and counts no failure). `409 Conflict` makes copies visible in
    /// Appwrite's logs, at the cost of a failed attempt each.
    pub fn with_duplicate_status(mut self, status: StatusCode) -> Self {
        self.duplicate_status = status;
        self
    }

    /// The status a copy of a handled delivery is answered with.
    pub fn duplicate_status(&self) -> StatusCode {
        self.duplicate_status
    }

    /// Refuses deliveries whose payload `$updatedAt` (or `$createdAt`) is older than `age`,
    /// with [`Error::Stale`] (401): a second defence for the timestamp-less scheme, covering
    /// replays older than the retention. Off by default. The trade-offs: the payload time is
    /// when the resource changed, not when the delivery was sent, so a legitimate delivery
    /// retried after a long outage is refused too; and the receiver's clock must be within a
    /// margin of Appwrite's — leave minutes of slack. Payloads without either field pass.
    pub fn with_max_age(mut self, age: Duration) -> Self {
        self.max_age = Some(age);
        self
    }

    /// Renamed [`with_retention`](Self::with_retention): one word for how long a handled
    /// delivery is kept, in the guard and the inbox alike.
    #[deprecated(note = "use with_retention")]
    pub fn ttl(self, ttl: Duration) -> Self {
        self.with_retention(ttl)
    }

    /// Renamed [`with_max_age`](Self::with_max_age).
    #[deprecated(note = "use with_max_age")]
    pub fn max_age(self, age: Duration) -> Self {
        self.with_max_age(age)
    }

    /// Renamed [`with_store_failure`](Self::with_store_failure).
    #[deprecated(note = "use with_store_failure")]
    pub fn on_store_failure(self, policy: StoreFailure) -> Self {
        self.with_store_failure(policy)
    }

    /// Checks a verified delivery and claims it as pending.
    ///
    /// [`Admission::Handle`] means: handle it, then settle the claim with the outcome
    /// ([`Claim`]); copies are [`Admission::Duplicate`] or [`Admission::InProgress`]. Errors
    /// are refusals: a stale delivery [`Error::Stale`], an unavailable store under
    /// [`StoreFailure::Reject`] [`Error::ReplayStore`].
    #[deprecated(note = "use Verifier::admit, which measures max_age with the verifier's clock")]
    pub async fn admit<B: AsRef<[u8]>>(&self, delivery: &Delivery<B>) -> Result<Admission, Error> {
        self.admit_at(delivery, SystemTime::now()).await
    }

    /// [`admit`](Self::admit), with `now` as the time [`max_age`](Self::with_max_age) is measured
    /// to: the verifier's [`Clock`](crate::Clock).
    pub(crate) async fn admit_at<B: AsRef<[u8]>>(
        &self,
        delivery: &Delivery<B>,
        now: SystemTime,
    ) -> Result<Admission, Error> {
        if let Some(max_age) = self.max_age {
            check_age(delivery.body(), max_age, now)?;
        }
        let fingerprint = *delivery.fingerprint();
        let token = LeaseToken::new();
        let times = (self.ttl, self.lease);
        let claim = |uncertain| {
            Claim::held(
                Arc::clone(&self.store),
                fingerprint,
                token,
                times,
                uncertain,
            )
        };
        // One captured body is handled under a bounded number of labels, whatever unsigned
        // events or delivery ids an attacker invents for it.
        let claimed = match delivery.body_key() {
            Some(body) => {
                let limit = (MAX_LABELS_PER_BODY, self.ttl);
                self.store
                    .label_and_claim(&body, &fingerprint, &token, limit, self.lease)
                    .await
            }
            None => self
                .store
                .claim(&fingerprint, &token, self.lease)
                .await
                .map(Some),
        };
        let claimed = match claimed {
            Ok(Some(outcome)) => Ok(outcome),
            Ok(None) => {
                tracing::warn!(
                    limit = MAX_LABELS_PER_BODY,
                    "a signed body arrived under more labels than allowed; answered as a copy, not handled (a replay?)"
                );
                return Ok(Admission::Duplicate {
                    status: self.duplicate_status,
                });
            }
            Err(error) => Err(error),
        };
        match claimed {
            Ok(ClaimOutcome::Claimed) => Ok(Admission::Handle(claim(false))),
            Ok(ClaimOutcome::InProgress) => Ok(Admission::InProgress),
            Ok(_) => Ok(Admission::Duplicate {
                status: self.duplicate_status,
            }),
            // The store may still apply the claim (a timeout), so this attempt's token is given
            // back either way: released now (`Reject`: dropping the claim releases it), or
            // settled with the handler's outcome (`Accept`). Nothing is left behind.
            Err(error) => match self.on_store_failure {
                StoreFailure::Reject => {
                    drop(claim(true));
                    Err(Error::ReplayStore(error))
                }
                StoreFailure::Accept => {
                    tracing::warn!(%error, "replay store unavailable; handling without de-duplication");
                    Ok(Admission::Handle(claim(true)))
                }
            },
        }
    }
}

impl fmt::Debug for ReplayGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplayGuard")
            .field("ttl", &self.ttl)
            .field("lease", &self.lease)
            .field("on_store_failure", &self.on_store_failure)
            .field("duplicate_status", &self.duplicate_status)
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

fn check_age(body: &[u8], max_age: Duration, now: SystemTime) -> Result<(), Error> {
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
    let age = time::OffsetDateTime::from(now) - at;
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
            check_age(old, Duration::from_secs(3600), SystemTime::now()),
            Err(Error::Stale { .. })
        ));
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let fresh =
            format!(r#"{{"$createdAt":"2020-10-15T06:38:00.000+00:00","$updatedAt":"{now}"}}"#);
        let now = SystemTime::now();
        assert!(check_age(fresh.as_bytes(), Duration::from_secs(3600), now).is_ok());
        assert!(check_age(b"[1,2]", Duration::from_secs(1), now).is_ok());
        assert!(check_age(br#"{"name":"no dates"}"#, Duration::from_secs(1), now).is_ok());
    }
}
