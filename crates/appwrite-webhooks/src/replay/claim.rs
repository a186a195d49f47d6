//! A claim held while a handler runs: settled by the handler's outcome, given back when dropped.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Waker};
use std::time::Duration;

use crate::fingerprint::Fingerprint;
use crate::replay::store::{LeaseToken, ReplayStore};

/// A pending claim on a delivery, held while its handler runs.
///
/// Settle it with the handler's outcome: [`complete`](Self::complete) after success (repeats are
/// then duplicates for the TTL), [`release`](Self::release) after failure (the next copy is
/// handled). **Dropping it unsettled releases it** — a handler that panicked, was cancelled, timed
/// out or lost its client gives the delivery back, so a retry is handled. A process that dies
/// holding claims leaves them pending until their lease runs out.
///
/// [`Verifier::receive`](crate::Verifier::receive) hands one out with every delivery; the
/// adapters settle it from the response status.
#[must_use = "settle the claim with the handler's outcome; dropping it releases the delivery"]
#[derive(Debug)]
pub struct Claim {
    held: Option<Held>,
}

#[derive(Debug)]
struct Held {
    store: Arc<dyn ReplayStore>,
    fingerprint: Fingerprint,
    token: LeaseToken,
    ttl: Duration,
    lease: Duration,
    /// The store did not answer the claim itself (a timeout): it may apply it later, after a
    /// first release has already run.
    uncertain: bool,
}

impl Claim {
    /// A claim with nothing to settle (no replay guard configured).
    pub(crate) fn none() -> Self {
        Self { held: None }
    }

    pub(crate) fn held(
        store: Arc<dyn ReplayStore>,
        fingerprint: Fingerprint,
        token: LeaseToken,
        (ttl, lease): (Duration, Duration),
        uncertain: bool,
    ) -> Self {
        Self {
            held: Some(Held {
                store,
                fingerprint,
                token,
                ttl,
                lease,
                uncertain,
            }),
        }
    }

    /// The handler succeeded: remember the delivery as done for the TTL, so repeats are answered
    /// as duplicates. A store failure is logged; the claim then runs out with its lease and a
    /// repeat is handled again (at least once, never lost).
    pub async fn complete(mut self) {
        let Some(held) = self.held.take() else {
            return;
        };
        match held
            .store
            .complete(&held.fingerprint, &held.token, held.ttl)
            .await
        {
            Ok(true) => {}
            Ok(false) => tracing::debug!(
                "the claim's lease ran out and another copy claimed it before this one finished"
            ),
            Err(error) => tracing::warn!(
                %error,
                "could not mark a handled delivery done; a repeat will be handled again"
            ),
        }
    }

    /// The handler failed: forget the claim so the next copy is handled.
    pub async fn release(mut self) {
        if let Some(held) = self.held.take() {
            held.release().await;
        }
    }

    /// [`complete`](Self::complete) when `succeeded`, else [`release`](Self::release).
    pub async fn settle(self, succeeded: bool) {
        if succeeded {
            self.complete().await
        } else {
            self.release().await
        }
    }
}

impl Held {
    async fn release(self) {
        let result = self.store.release(&self.fingerprint, &self.token).await;
        if let Err(error) = &result {
            tracing::warn!(%error, "could not release a replay claim; retrying until its lease ends");
        }
        if self.uncertain || result.is_err() {
            self.release_later();
        }
    }

    /// The store may still apply this attempt's claim (or its release was lost): try again,
    /// backing off, until the lease has passed — after that the claim has run out anyway. A
    /// release under this attempt's token never touches another attempt's claim, so trying
    /// again is always safe.
    fn release_later(self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        drop(runtime.spawn(async move {
            let started = tokio::time::Instant::now();
            let mut delay = Duration::from_millis(250);
            while started.elapsed() < self.lease {
                tokio::time::sleep(delay.min(self.lease)).await;
                if let Ok(true) = self.store.release(&self.fingerprint, &self.token).await {
                    return;
                }
                delay *= 2;
            }
        }));
    }
}

impl Drop for Claim {
    /// Unsettled: the handler did not finish (a panic, a cancelled future, an early return).
    /// Give the delivery back. The memory store answers at once, so nothing is spawned for it
    /// (and nothing needs to be, even while a panic unwinds); a networked store's release runs
    /// as a task on the current Tokio runtime.
    fn drop(&mut self) {
        let Some(held) = self.held.take() else {
            return;
        };
        let mut release: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(held.release());
        if release
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_ready()
        {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(release)),
            Err(_) => tracing::warn!(
                "a replay claim was dropped outside a Tokio runtime; it runs out with its lease"
            ),
        }
    }
}
