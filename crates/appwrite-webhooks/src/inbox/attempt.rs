//! One worker's loop: take a delivery, verify it again, run the handler in its own task
//! bounded by the attempt timeout, and settle the attempt through its lease — and the gauge of
//! the inbox's counts.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument as _;
use tracing::field::Empty;

use crate::delivery::Delivery;
use crate::inbox::Inbox;
use crate::inbox::record::{Lease, Taken};
use crate::inbox::retry::RetryPolicy;
use crate::inbox::worker::{Attempt, Handled, InboxHandler};
use crate::observe::observation::PrimaryEvent;
use crate::observe::{INBOX_ATTEMPT_DURATION, INBOX_ATTEMPTS, INBOX_DELIVERIES};
use crate::verify::source::AnyKeys;
use crate::verify::verifier::Verifier;

pub(crate) struct Shared {
    /// Keeps the stop channel open when [`RunningWorkers`] is dropped without a shutdown, so
    /// workers keep running rather than seeing a closed channel.
    pub(crate) _keep_open: watch::Sender<Option<Instant>>,
    pub(crate) inbox: Inbox,
    pub(crate) verifier: Verifier<AnyKeys>,
    pub(crate) handler: Arc<dyn InboxHandler>,
    pub(crate) policy: RetryPolicy,
    pub(crate) visibility: Duration,
    pub(crate) poll_interval: Duration,
}

pub(crate) struct Worker {
    pub(crate) shared: Arc<Shared>,
    pub(crate) name: String,
    pub(crate) stop: watch::Receiver<Option<Instant>>,
}

/// How one attempt ended.
enum Outcome {
    Succeeded,
    /// The handler settled the attempt itself (in its own transaction): nothing to record.
    Settled(Handled),
    Failed(String),
    /// Cancelled by shutdown: give it back.
    Unfinished,
}

impl Worker {
    pub(crate) async fn run(mut self) {
        let mut store_failures = 0u32;
        while self.stop.borrow().is_none() {
            let shared = Arc::clone(&self.shared);
            match shared
                .inbox
                .store()
                .take(&self.name, shared.visibility)
                .await
            {
                Ok(Some(taken)) => {
                    store_failures = 0;
                    self.attempt(taken).await;
                }
                Ok(None) => {
                    store_failures = 0;
                    self.idle(shared.poll_interval).await;
                }
                Err(error) => {
                    store_failures = store_failures.saturating_add(1);
                    tracing::warn!(worker = %self.name, %error, "inbox store unavailable; retrying");
                    let wait = shared.poll_interval * store_failures.min(20);
                    self.idle(wait).await;
                }
            }
        }
    }

    /// Waits for a local delivery, the store's word of another process's, the poll interval,
    /// or shutdown.
    async fn idle(&mut self, wait: Duration) {
        let shared = Arc::clone(&self.shared);
        tokio::select! {
            () = shared.inbox.arrived() => {}
            () = shared.inbox.store().arrived() => {}
            () = tokio::time::sleep(wait) => {}
            _ = self.stop.changed() => {}
        }
    }

    /// One attempt, in its own span, counted by how it ended.
    async fn attempt(&mut self, taken: Taken) {
        let span = tracing::info_span!(
            "appwrite_webhook_attempt",
            id = taken.lease.id,
            attempt = taken.attempt,
            webhook_id = Empty,
            event = Empty,
            outcome = Empty,
        );
        let started = Instant::now();
        let outcome = self
            .settle_attempt(taken, &span)
            .instrument(span.clone())
            .await;
        span.record("outcome", outcome);
        metrics::counter!(INBOX_ATTEMPTS, "outcome" => outcome).increment(1);
        metrics::histogram!(INBOX_ATTEMPT_DURATION, "outcome" => outcome)
            .record(started.elapsed().as_secs_f64());
    }

    /// Verifies the stored delivery again, runs the handler and records the outcome in the
    /// store; returns the `outcome` label: `done`, `retry`, `dead`, `handed_back`, or for a
    /// handler that settles its own attempt, `stale` and `lease_lost`.
    async fn settle_attempt(&mut self, taken: Taken, span: &tracing::Span) -> &'static str {
        let shared = Arc::clone(&self.shared);
        let store = shared.inbox.store();
        let Taken {
            lease,
            attempt,
            received,
        } = taken;
        let max = shared.policy.max_attempts;
        if attempt > max {
            let error = format!(
                "attempt {} of {max} was abandoned: its worker stopped before settling it",
                attempt - 1
            );
            settle(&lease, store.dead(&lease, &error).await);
            return "dead";
        }
        let outcome = match shared.verifier.verify_stored(&received).await {
            Ok(delivery) => {
                if !span.is_disabled() {
                    span.record("webhook_id", delivery.webhook_id());
                    let event = PrimaryEvent(delivery.events_header());
                    span.record("event", tracing::field::display(&event));
                }
                let attempt = Attempt {
                    lease: lease.clone(),
                    number: attempt,
                    retention: shared.inbox.retention,
                    deadline: deadline_after(shared.policy.attempt_timeout),
                };
                self.run_handler(delivery, attempt).await
            }
            // A store or key resolver that is down: a failed attempt, tried again later.
            Err(error) if error.status() == http::StatusCode::SERVICE_UNAVAILABLE => {
                Outcome::Failed(error.to_string())
            }
            Err(error) => {
                let error = format!("no longer verifies: {error}");
                tracing::warn!(id = lease.id, %error, "inbox delivery sent to the dead letters");
                settle(&lease, store.dead(&lease, &error).await);
                return "dead";
            }
        };
        match outcome {
            Outcome::Succeeded => {
                settle(&lease, store.complete(&lease, shared.inbox.retention).await);
                "done"
            }
            Outcome::Settled(Handled::Succeeded | Handled::Done) => "done",
            Outcome::Settled(Handled::Stale) => "stale",
            Outcome::Settled(Handled::LeaseLost) => {
                settle(&lease, Ok(false));
                "lease_lost"
            }
            Outcome::Unfinished => {
                settle(&lease, store.hand_back(&lease).await);
                "handed_back"
            }
            Outcome::Failed(error) if attempt >= max => {
                tracing::warn!(id = lease.id, attempt, %error, "inbox delivery failed its last attempt; now a dead letter");
                settle(&lease, store.dead(&lease, &error).await);
                "dead"
            }
            Outcome::Failed(error) => {
                // The verifier's clock, as everything else time-dependent; a backoff past the end
                // of time waits as long as time allows.
                let now = shared.verifier.now();
                let backoff = shared.policy.backoff(attempt);
                let at = now
                    .checked_add(backoff)
                    .unwrap_or(now + crate::replay::MAX_TTL);
                tracing::info!(id = lease.id, attempt, %error, "inbox delivery failed; will retry");
                settle(&lease, store.fail(&lease, &error, at).await);
                "retry"
            }
        }
    }

    /// Runs the handler in its own task (so a panic is an outcome, not a dead worker), bounded
    /// by the attempt timeout and, once shutdown begins, by its grace period.
    async fn run_handler(&mut self, delivery: Delivery<Bytes>, attempt: Attempt) -> Outcome {
        let policy = self.shared.policy;
        // The handler's task runs in the attempt's span, so its logs carry the delivery.
        let handle = Arc::clone(&self.shared.handler).handle_attempt(delivery, attempt);
        let mut task = tokio::spawn(handle.instrument(tracing::Span::current()));
        let timeout = tokio::time::sleep(policy.attempt_timeout);
        tokio::pin!(timeout);
        let mut grace = *self.stop.borrow();
        loop {
            let grace_over = async {
                match grace {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                joined = &mut task => {
                    return match joined {
                        Ok(Ok(Handled::Succeeded)) => Outcome::Succeeded,
                        Ok(Ok(handled)) => Outcome::Settled(handled),
                        Ok(Err(error)) => Outcome::Failed(error.to_string()),
                        Err(join) => Outcome::Failed(match join.try_into_panic() {
                            Ok(panic) => format!("handler panicked: {}", panic_message(&*panic)),
                            Err(_) => "handler was cancelled".to_owned(),
                        }),
                    };
                }
                () = &mut timeout => {
                    task.abort();
                    return Outcome::Failed(format!(
                        "handler timed out after {:?}",
                        policy.attempt_timeout
                    ));
                }
                () = grace_over => {
                    task.abort();
                    return Outcome::Unfinished;
                }
                _ = self.stop.changed(), if grace.is_none() => grace = *self.stop.borrow(),
            }
        }
    }
}

/// Publishes the inbox's counts as gauges until shutdown begins.
pub(crate) async fn publish_stats(
    shared: Arc<Shared>,
    interval: Duration,
    mut stop: watch::Receiver<Option<Instant>>,
) {
    while stop.borrow().is_none() {
        match shared.inbox.admin().stats().await {
            Ok(stats) => {
                for (state, count) in [
                    ("pending", stats.pending),
                    ("in_flight", stats.in_flight),
                    ("done", stats.done),
                    ("dead", stats.dead),
                    ("stale", stats.stale),
                ] {
                    metrics::gauge!(INBOX_DELIVERIES, "state" => state).set(count as f64);
                }
            }
            Err(error) => tracing::debug!(%error, "could not read the inbox's counts"),
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Logs an outcome the store did not take: the lease had passed (the delivery will be taken
/// again) or the store failed (the lease will pass). Either way it is not lost.
fn settle(lease: &Lease, result: Result<bool, crate::error::StoreError>) {
    match result {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            id = lease.id,
            "inbox delivery's lease had passed before its outcome was recorded; it will be attempted again"
        ),
        Err(error) => tracing::warn!(
            id = lease.id,
            %error,
            "could not record an inbox delivery's outcome; it will be attempted again after its visibility timeout"
        ),
    }
}

/// `timeout` from now; "no timeout" (`Duration::MAX`) is a century, which an `Instant` holds.
fn deadline_after(timeout: Duration) -> std::time::Instant {
    let now = std::time::Instant::now();
    now.checked_add(timeout)
        .or_else(|| now.checked_add(crate::replay::MAX_TTL))
        .unwrap_or(now)
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(not a string)")
}
