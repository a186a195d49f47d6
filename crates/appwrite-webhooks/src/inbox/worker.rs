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

use crate::delivery::Delivery;
use crate::inbox::Inbox;
use crate::inbox::attempt::{Shared, Worker, publish_stats};
use crate::inbox::record::Lease;
use crate::inbox::retry::RetryPolicy;
use crate::router::{HandlerError, Router};
use crate::verify::source::{AnyKeys, KeySource};
use crate::verify::verifier::Verifier;

/// What workers run for each delivery: a [`Router`], or any async function taking the verified
/// delivery and returning `Result<(), E>`.
///
/// `Err`, a panic and a timeout are failed attempts, retried with backoff.
///
/// A handler that settles its own attempt — a store's exactly-once handler, which commits its
/// effects and the delivery's `done` in one transaction (`ExactlyOnce` in
/// `appwrite-webhooks-sqlite` and `appwrite-webhooks-postgres`) — implements
/// [`handle_attempt`](Self::handle_attempt) as well and says there what it settled
/// ([`Handled`]); the worker then records nothing more.
pub trait InboxHandler: Send + Sync + 'static {
    /// Handles one delivery.
    fn handle(
        self: Arc<Self>,
        delivery: Delivery<Bytes>,
    ) -> Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send + 'static>>;

    /// Handles one delivery within `attempt`, the lease a worker holds on it: what workers
    /// call. Unless a handler settles its own attempt, this is [`handle`](Self::handle), and
    /// `Ok` is [`Handled::Succeeded`] (the worker then marks the delivery done).
    ///
    /// A handler that settles its own attempt must do so only while `attempt.lease` is the
    /// delivery's current one (as every [`InboxStore`](crate::inbox::InboxStore) outcome
    /// does), and must settle nothing once `attempt.deadline` has passed or the returned
    /// future was dropped: the worker has then counted the attempt failed (a timeout) or
    /// handed it back (shutdown).
    fn handle_attempt(
        self: Arc<Self>,
        delivery: Delivery<Bytes>,
        attempt: Attempt,
    ) -> Pin<Box<dyn Future<Output = Result<Handled, HandlerError>> + Send + 'static>> {
        let _ = attempt;
        let handled = self.handle(delivery);
        Box::pin(async move { handled.await.map(|()| Handled::Succeeded) })
    }
}

/// One attempt at a delivery, as [`InboxHandler::handle_attempt`] sees it: what a handler
/// needs to settle the attempt itself, through the lease the worker holds.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Attempt {
    /// The attempt's lease: the only hold a store accepts an outcome from.
    pub lease: Lease,
    /// Which attempt this is, from 1.
    pub number: u32,
    /// How long a done delivery is kept ([`Inbox::retention`]).
    pub retention: Duration,
    /// When the worker stops waiting and counts the attempt failed (its attempt timeout):
    /// nothing may be settled after it.
    pub deadline: std::time::Instant,
}

impl Attempt {
    /// An attempt under `lease`, the `number`th, keeping a done delivery for `retention`, to be
    /// settled before `deadline`: what a worker passes (and a test of a store's handler).
    pub fn new(
        lease: Lease,
        number: u32,
        retention: Duration,
        deadline: std::time::Instant,
    ) -> Self {
        Self {
            lease,
            number,
            retention,
            deadline,
        }
    }
}

/// How an attempt ended for a handler that may settle it itself
/// ([`InboxHandler::handle_attempt`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Handled {
    /// The handler succeeded; the worker records the delivery done.
    Succeeded,
    /// The handler succeeded and recorded the delivery done itself, in the same transaction
    /// as its effects.
    Done,
    /// Not handled: a newer version of its resource was already applied. The handler
    /// recorded it [`State::Stale`](crate::inbox::State::Stale) itself.
    Stale,
    /// Nothing was committed: the lease had passed to another attempt before the handler
    /// could settle, so that attempt handles the delivery.
    LeaseLost,
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

fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".to_owned())
}
