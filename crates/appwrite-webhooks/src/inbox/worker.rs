//! Workers: take stored deliveries, verify them again, run the handler with a timeout, and
//! settle each attempt — done, retried later with backoff, or dead.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use tracing::Instrument as _;
use tracing::field::Empty;

use crate::delivery::Delivery;
use crate::inbox::Inbox;
use crate::inbox::record::{Lease, Taken};
use crate::inbox::retry::RetryPolicy;
use crate::observe::observation::PrimaryEvent;
use crate::observe::{INBOX_ATTEMPT_DURATION, INBOX_ATTEMPTS, INBOX_DELIVERIES};
use crate::router::{HandlerError, Router};
use crate::verify::source::{AnyKeys, KeySource};
use crate::verify::verifier::Verifier;

/// What workers run for each delivery: a [`Router`], or any async function taking the verified
/// delivery and returning `Result<(), E>`.
///
/// `Err`, a panic and a timeout are failed attempts, retried with backoff.
pub trait InboxHandler: Send + Sync + 'static {
    /// Handles one delivery.
    fn handle(
        self: Arc<Self>,
        delivery: Delivery<Bytes>,
    ) -> Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send + 'static>>;
}

impl InboxHandler for Router {
    fn handle(
        self: Arc<Self>,
        delivery: Delivery<Bytes>,
    ) -> Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send + 'static>> {
        Box::pin(async move {
            self.dispatch(delivery)
                .await
                .map(drop)
                .map_err(HandlerError::from)
        })
    }
}

impl<F, Fut, E> InboxHandler for F
where
    F: Fn(Delivery<Bytes>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<HandlerError>,
{
    fn handle(
        self: Arc<Self>,
        delivery: Delivery<Bytes>,
    ) -> Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send + 'static>> {
        let attempt = self(delivery);
        Box::pin(async move { attempt.await.map_err(Into::into) })
    }
}

/// Workers for an [`Inbox`]: `concurrency` attempts at a time in this process, each verified
/// again with the verifier and handled with the retry policy.
///
/// A delivery a worker holds is leased to that attempt, hidden from others (for at least the
/// attempt timeout plus 5 s, so a live attempt is never taken twice); a worker that dies has
/// its delivery taken again when the lease runs out, that attempt counted. A delivery that no longer verifies
/// (a key was removed, or the store was written by something else) goes straight to the dead
/// letters.
pub struct Workers {
    inbox: Inbox,
    verifier: Verifier<AnyKeys>,
    handler: Arc<dyn InboxHandler>,
    concurrency: usize,
    policy: RetryPolicy,
    lease: Option<Duration>,
    stats_interval: Duration,
    poll_interval: Duration,
    name: String,
}

impl Workers {
    /// Workers running `handler` for the deliveries in `inbox`, verified with `verifier`.
    pub fn new<K: KeySource>(
        inbox: Inbox,
        verifier: Verifier<K>,
        handler: impl InboxHandler,
    ) -> Self {
        Self {
            inbox,
            verifier: verifier.any_keys(),
            handler: Arc::new(handler),
            concurrency: 4,
            policy: RetryPolicy::default(),
            lease: None,
            poll_interval: Duration::from_millis(250),
            stats_interval: Duration::from_secs(5),
            name: format!("{}-{}", host_name(), std::process::id()),
        }
    }

    /// How many attempts run at once in this process (4 unless set; at least 1).
    pub fn with_concurrency(mut self, workers: usize) -> Self {
        self.concurrency = workers.max(1);
        self
    }

    /// How failed attempts are retried.
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// How long an attempt's lease on a delivery lasts — the delivery hidden from other
    /// workers — before another may take it (a worker that died); raised to the attempt
    /// timeout plus 5 s if shorter, and twice that unless set.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = Some(lease);
        self
    }

    /// How often an idle worker looks for deliveries stored by other processes or due for a
    /// retry (250 ms unless set). Deliveries stored through this process's [`Inbox`] wake a
    /// worker at once.
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// How often the inbox's counts are read from the store and published as the
    /// `appwrite_webhooks_inbox_deliveries{state}` gauge (every 5 s unless set; see
    /// [`observe`](crate::observe)). Each reading is one [`stats`](super::InboxAdmin::stats)
    /// call.
    pub fn with_stats_interval(mut self, interval: Duration) -> Self {
        self.stats_interval = interval.max(Duration::from_millis(10));
        self
    }

    /// This process's name to the store (`host-pid` unless set); worker `n` is `name-n`.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Renamed [`with_concurrency`](Self::with_concurrency).
    #[deprecated(note = "use with_concurrency")]
    pub fn concurrency(self, workers: usize) -> Self {
        self.with_concurrency(workers)
    }

    /// Renamed [`with_retry`](Self::with_retry).
    #[deprecated(note = "use with_retry")]
    pub fn retry(self, policy: RetryPolicy) -> Self {
        self.with_retry(policy)
    }

    /// Renamed [`with_lease`](Self::with_lease): one word for how long an attempt holds a
    /// delivery, in the guard and the inbox alike.
    #[deprecated(note = "use with_lease")]
    pub fn visibility_timeout(self, timeout: Duration) -> Self {
        self.with_lease(timeout)
    }

    /// Renamed [`with_poll_interval`](Self::with_poll_interval).
    #[deprecated(note = "use with_poll_interval")]
    pub fn poll_interval(self, interval: Duration) -> Self {
        self.with_poll_interval(interval)
    }

    /// Renamed [`with_stats_interval`](Self::with_stats_interval).
    #[deprecated(note = "use with_stats_interval")]
    pub fn stats_interval(self, interval: Duration) -> Self {
        self.with_stats_interval(interval)
    }

    /// Renamed [`with_name`](Self::with_name).
    #[deprecated(note = "use with_name")]
    pub fn name(self, name: impl Into<String>) -> Self {
        self.with_name(name)
    }

    /// Starts the workers on the current Tokio runtime.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub fn start(self) -> RunningWorkers {
        // Saturating: an attempt timeout of `Duration::MAX` (no timeout) must not panic.
        let floor = self
            .policy
            .attempt_timeout
            .saturating_add(Duration::from_secs(5));
        let visibility = self.lease.unwrap_or(floor.saturating_mul(2)).max(floor);
        let (stop, stopped) = watch::channel(None);
        let shared = Arc::new(Shared {
            _keep_open: stop.clone(),
            inbox: self.inbox,
            verifier: self.verifier,
            handler: self.handler,
            policy: self.policy,
            visibility,
            poll_interval: self.poll_interval,
        });
        let mut tasks: Vec<JoinHandle<()>> = (0..self.concurrency)
            .map(|n| {
                let worker = Worker {
                    shared: Arc::clone(&shared),
                    name: format!("{}-{n}", self.name),
                    stop: stopped.clone(),
                };
                tokio::spawn(worker.run())
            })
            .collect();
        tasks.push(tokio::spawn(publish_stats(
            shared,
            self.stats_interval,
            stopped,
        )));
        RunningWorkers { stop, tasks }
    }
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers")
            .field("concurrency", &self.concurrency)
            .field("policy", &self.policy)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Started [`Workers`]. Dropping this does not stop them; call
/// [`shutdown`](Self::shutdown).
#[derive(Debug)]
pub struct RunningWorkers {
    stop: watch::Sender<Option<Instant>>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningWorkers {
    /// Stops taking deliveries, gives the attempts in flight up to `grace` to finish (settled
    /// as usual), then cancels the rest and hands them back to the store uncounted, so the
    /// next worker takes them at once. Returns when every worker has stopped.
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.stop.send(Some(Instant::now() + grace));
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

struct Shared {
    /// Keeps the stop channel open when [`RunningWorkers`] is dropped without a shutdown, so
    /// workers keep running rather than seeing a closed channel.
    _keep_open: watch::Sender<Option<Instant>>,
    inbox: Inbox,
    verifier: Verifier<AnyKeys>,
    handler: Arc<dyn InboxHandler>,
    policy: RetryPolicy,
    visibility: Duration,
    poll_interval: Duration,
}

struct Worker {
    shared: Arc<Shared>,
    name: String,
    stop: watch::Receiver<Option<Instant>>,
}

/// How one attempt ended.
enum Outcome {
    Succeeded,
    Failed(String),
    /// Cancelled by shutdown: give it back.
    Unfinished,
}

impl Worker {
    async fn run(mut self) {
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

    /// Waits for a local delivery, the poll interval, or shutdown.
    async fn idle(&mut self, wait: Duration) {
        let shared = Arc::clone(&self.shared);
        tokio::select! {
            () = shared.inbox.arrived() => {}
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
    /// store; returns the `outcome` label: `done`, `retry`, `dead` or `handed_back`.
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
                self.run_handler(delivery).await
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
    async fn run_handler(&mut self, delivery: Delivery<Bytes>) -> Outcome {
        let policy = self.shared.policy;
        // The handler's task runs in the attempt's span, so its logs carry the delivery.
        let handle = Arc::clone(&self.shared.handler).handle(delivery);
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
                        Ok(Ok(())) => Outcome::Succeeded,
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
async fn publish_stats(
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

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(not a string)")
}

fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".to_owned())
}
