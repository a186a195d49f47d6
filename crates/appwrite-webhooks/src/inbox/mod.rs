//! Ack fast, process later: a durable inbox between verification and your handlers.
//!
//! Appwrite waits at most 15 s for an answer, counts a timeout or any status ≥ 400 as a failed
//! attempt, disables a webhook after 10 failures in a row, and never re-sends on a schedule. A
//! handler that is slow, or a database that is down for a minute, therefore costs deliveries or
//! the webhook. In inbox mode a route verifies a delivery, writes it durably — the exact bytes,
//! the headers needed to verify and route it again, when it arrived — and only then answers
//! `202`; if the write fails it answers `503`, so nothing is acknowledged that is not stored.
//! [`Workers`] then run your handler with retries, and a delivery that fails every attempt goes
//! to the dead letters with its last error, for `appwrite-webhooks inbox retry`.
//!
//! **The guarantee.** A delivery answered `202` is handled successfully or ends in the dead
//! letters; it is never dropped silently. Handlers run at least once per delivery (a worker that
//! dies mid-handler has its delivery taken again after the visibility timeout), so make them
//! idempotent.
//!
//! **De-duplication at the door.** A re-send — Appwrite re-sends byte for byte, headers
//! included — is not stored twice while the first copy is pending, dead, or done within the
//! retention window ([`Inbox::retention`]): the inbox is the replay guard, and a verifier's own
//! [`ReplayGuard`](crate::ReplayGuard) is not consulted in inbox mode. The inbox recognises a
//! copy by its signature *and* its events ([`Received::new`]): a row created and then deleted
//! unchanged has one body and one signature under two events, and both are kept and handled.
//!
//! **Ordering.** None across deliveries: retries, several workers and Appwrite's own
//! re-sends reorder them. To tell which of two deliveries about one resource is newer, compare
//! the payload's `$updatedAt` (every resource carries it; a `delete` carries the resource as it
//! was), and keep the newest you have applied per resource: [`ResourceVersion`] says which
//! resource and which version a delivery carries, and in which order (`create < update <
//! delete` within one `$updatedAt`). A store can keep that state for you, opt-in:
//! `ExactlyOnce::with_ordering` (`appwrite-webhooks-sqlite`, `appwrite-webhooks-postgres`)
//! settles an older delivery as [`State::Stale`] without running the handler, in the same
//! transaction as the handler's effects; `appwrite-webhooks-redis`'s `RedisLedger::ordered`
//! does it for any handler, without exactly-once (the handler's effects are outside Redis: keep
//! them idempotent).
//!
//! **Exactly-once effects.** A handler that writes to the ledger's own database can have its
//! writes and the delivery's `done` commit in one transaction ([`InboxHandler::handle_attempt`],
//! [`Attempt`], [`Handled`]; `SqliteLedger::exactly_once`, `PostgresLedger::exactly_once`):
//! what it writes there happens once per delivery, whatever fails or is killed. What it does
//! elsewhere (an e-mail, an HTTP call) is still at least once.
//!
//! The durable stores are separate crates: `appwrite-webhooks-sqlite` (a file, zero setup),
//! `appwrite-webhooks-redis` (Redis Streams, shared by replicas) and `appwrite-webhooks-postgres`
//! (shared by replicas, workers woken by `NOTIFY`); [`MemoryLedger`](crate::MemoryLedger) is for
//! tests. Adapters put a route in inbox
//! mode in one line (`InboxService` for tower and axum, `inbox_route` for actix-web).
//!
//! The runnable example is in `appwrite-webhooks-sqlite`'s docs; in short:
//!
//! ```text
//! let inbox = Inbox::new(SqliteLedger::open("inbox.db")?);
//! let app = Router::new().route("/hooks", post_service(InboxService::new(verifier.clone(), inbox.clone())));
//! let workers = Workers::new(inbox, verifier, router).with_concurrency(4).start();
//! ```

pub(crate) mod admin;
pub(crate) mod attempt;
pub(crate) mod memory;
pub(crate) mod order;
pub(crate) mod query;
pub(crate) mod record;
pub(crate) mod retry;
pub(crate) mod store;
pub(crate) mod worker;

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, Uri};
use tokio::sync::Notify;

use crate::error::Error;
use crate::verify::source::KeySource;
use crate::verify::verifier::Verifier;

pub use admin::InboxAdmin;
#[allow(deprecated)]
pub use memory::MemoryInbox;
pub use order::{Change, ResourceVersion};
pub use query::{
    ACTIVITY_MINUTES_MAX, AttemptOutcome, AttemptRecord, FIND_SCAN_LIMIT, Filter, Minute, Page,
    empty_minutes, minute_of,
};
pub use record::{
    InvalidRecord, Lease, Purge, Received, State, Stats, Stored, Taken, from_unix_millis,
    unix_millis,
};
pub use store::{InboxStore, Put};

use crate::observe::Outcome;
pub use retry::RetryPolicy;
pub use worker::{Attempt, Handled, InboxHandler, RunningWorkers, Workers};

/// How long handled deliveries are kept to recognise re-sends, unless [`Inbox::retention`] sets
/// another: a week, longer than Appwrite keeps a failed delivery for an operator to retry.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// A durable inbox: a store, how long handled deliveries are kept, and a wake-up for the
/// workers of this process. Cheap to clone; clones share the store.
#[derive(Clone)]
pub struct Inbox {
    store: Arc<dyn InboxStore>,
    /// The same store, for administration.
    admin: Arc<dyn InboxAdmin>,
    retention: Duration,
    arrived: Arc<Notify>,
}

impl Inbox {
    /// An inbox over `store`: a ledger that speaks the receive-and-work protocol
    /// ([`InboxStore`]) and answers an operator ([`InboxAdmin`]).
    pub fn new<S: InboxStore + InboxAdmin>(store: S) -> Self {
        let store = Arc::new(store);
        Self {
            admin: Arc::clone(&store) as Arc<dyn InboxAdmin>,
            store,
            retention: DEFAULT_RETENTION,
            arrived: Arc::new(Notify::new()),
        }
    }

    /// How long a handled delivery is kept, so a copy within it is recognised and not handled
    /// again ([`DEFAULT_RETENTION`] unless set).
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// How long handled deliveries are kept.
    pub fn retention(&self) -> Duration {
        self.retention
    }

    /// The store's protocol: what the receive path and the workers use.
    pub fn store(&self) -> &dyn InboxStore {
        &*self.store
    }

    /// The store's administration: `stats`, `list`, `get`, `requeue`, `requeue_dead`, `purge`.
    pub fn admin(&self) -> &dyn InboxAdmin {
        &*self.admin
    }

    /// Inbox mode's receive sequence: verifies the body as it arrives, then stores the
    /// delivery. Answer `202` on `Ok` (stored now, or a re-send of one already held) and the
    /// error's status otherwise: `401`/`400`/`413` as for any delivery, `503`
    /// ([`Error::InboxStore`]) when the store failed, `400` when the events header names another
    /// resource than the signed body ([`Delivery::check_event_ids`](crate::Delivery::check_event_ids)).
    /// Runs in the delivery's span and records
    /// its outcome (`enqueued`, `duplicate` or `rejected`; see [`observe`](crate::observe)).
    pub async fn accept<B, K: KeySource>(
        &self,
        verifier: &Verifier<K>,
        uri: &Uri,
        headers: &HeaderMap,
        body: B,
    ) -> Result<Put, Error>
    where
        B: http_body::Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        use tracing::Instrument as _;

        let mut observation = verifier.observe(headers);
        let span = observation.span().clone();
        async {
            let stored = match verifier.verify_body(uri, headers, body).await {
                Ok(delivery) => {
                    observation.verified(&delivery);
                    // An events header relabelled to name another resource is refused at the
                    // door (400), as the typed extractors refuse it.
                    match delivery.check_event_ids() {
                        Ok(()) => {
                            let mut received = Received::new(uri, headers, &delivery);
                            received.received_at = verifier.now();
                            self.label_and_put(&delivery, received).await
                        }
                        Err(error) => Err(error),
                    }
                }
                Err(error) => Err(error),
            };
            observation.finish(match &stored {
                Ok(Put::Stored(_)) => Outcome::Enqueued,
                Ok(Put::Duplicate(_) | Put::OverLabelLimit) => Outcome::Duplicate,
                Err(error) => Outcome::of_error(error),
            });
            stored
        }
        .instrument(span)
        .await
    }

    /// Stores a verified delivery if its label is one of the few its signed body may have
    /// (see [`MAX_LABELS_PER_BODY`](crate::MAX_LABELS_PER_BODY)): one call to the store.
    async fn label_and_put(
        &self,
        delivery: &crate::Delivery,
        received: Received,
    ) -> Result<Put, Error> {
        let Some(body) = delivery.body_key() else {
            return self.put(received).await;
        };
        let limits = (crate::MAX_LABELS_PER_BODY, self.retention);
        let put = self
            .store
            .label_and_put(&body, delivery.fingerprint(), limits, received)
            .await
            .map_err(Error::InboxStore)?;
        match put {
            Put::Stored(_) => self.arrived.notify_one(),
            Put::OverLabelLimit => tracing::warn!(
                limit = crate::MAX_LABELS_PER_BODY,
                "a signed body arrived under more labels than allowed; answered 202, not stored (a replay?)"
            ),
            Put::Duplicate(_) => {}
        }
        Ok(put)
    }

    /// Stores a verified delivery; [`accept`](Self::accept) after verification.
    pub async fn put(&self, received: Received) -> Result<Put, Error> {
        let put = self.store.put(received).await.map_err(Error::InboxStore)?;
        if let Put::Stored(_) = put {
            self.arrived.notify_one();
        }
        Ok(put)
    }

    /// Resolves when this process stored a delivery (other processes' are found by polling, or
    /// by the store's [`InboxStore::arrived`]).
    pub(crate) async fn arrived(&self) {
        self.arrived.notified().await;
    }
}

impl std::fmt::Debug for Inbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbox")
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}
