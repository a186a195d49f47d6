//! The ledger in this process's memory: claims for the synchronous path and deliveries for an
//! inbox, with one set of label counts, for one process, tests and examples. Not durable: a
//! restart forgets everything (use `SqliteLedger` or `RedisLedger` for that).

#![allow(deprecated)] // its two halves keep their former public names as deprecated aliases

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::fingerprint::Fingerprint;
use crate::inbox::query::{AttemptRecord, Minute};
use crate::inbox::record::{Lease, Purge, Received, State, Stats, Stored, Taken};
use crate::inbox::{InboxAdmin, InboxStore, MemoryInbox, Put};
use crate::replay::labels::LabelStore;
use crate::replay::{ClaimOutcome, LeaseToken, MemoryStore, ReplayStore, StoreFuture};

/// A ledger in memory: a [`ReplayGuard`](crate::ReplayGuard)'s store and an
/// [`Inbox`](crate::inbox::Inbox)'s alike, bounded (past the capacity, the oldest claims and
/// label counts are forgotten first). It pairs with `SqliteLedger` and `RedisLedger`.
///
/// ```
/// use appwrite_webhooks::{MemoryLedger, ReplayGuard, Verifier, inbox::{Inbox, Put}, sender::DeliveryBuilder};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), appwrite_webhooks::Error> {
/// let url = "https://example.com/hook";
/// let guard = ReplayGuard::new(MemoryLedger::with_capacity(10_000)); // or ReplayGuard::in_memory()
/// let verifier = Verifier::new("k", url).with_replay_guard(guard);
///
/// let inbox = Inbox::new(MemoryLedger::default());
/// let (parts, body) = DeliveryBuilder::new("k", url, "{}").build().into_request().into_parts();
/// let accept = || inbox.accept(&verifier, &parts.uri, &parts.headers, http_body_util::Full::new(body.clone()));
/// assert_eq!(accept().await?, Put::Stored(1));
/// assert_eq!(accept().await?, Put::Duplicate(1));
/// # Ok(()) }
/// ```
///
/// A clone is another handle on the same ledger (as with the durable ledgers), so one ledger
/// can back a guard and an inbox at once, sharing its label counts.
#[derive(Debug, Clone, Default)]
pub struct MemoryLedger {
    claims: Arc<MemoryStore>,
    deliveries: Arc<MemoryInbox>,
}

impl MemoryLedger {
    /// A ledger remembering about `capacity` bodies' label counts and claims, or claims
    /// without a body (100 000 by default, about 20 MiB when full).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            claims: Arc::new(MemoryStore::with_capacity(capacity)),
            deliveries: Arc::default(),
        }
    }

    /// How many claims are held now (expired ones included until they are swept).
    pub fn len(&self) -> usize {
        self.claims.len()
    }

    /// Whether no claim is held.
    pub fn is_empty(&self) -> bool {
        self.claims.is_empty()
    }
}

impl ReplayStore for MemoryLedger {
    fn claim<'a>(
        &'a self,
        fingerprint: &'a Fingerprint,
        owner: &'a LeaseToken,
        lease: Duration,
    ) -> StoreFuture<'a, ClaimOutcome> {
        self.claims.claim(fingerprint, owner, lease)
    }

    fn complete<'a>(
        &'a self,
        fingerprint: &'a Fingerprint,
        owner: &'a LeaseToken,
        retention: Duration,
    ) -> StoreFuture<'a, bool> {
        ReplayStore::complete(&*self.claims, fingerprint, owner, retention)
    }

    fn release<'a>(
        &'a self,
        fingerprint: &'a Fingerprint,
        owner: &'a LeaseToken,
    ) -> StoreFuture<'a, bool> {
        self.claims.release(fingerprint, owner)
    }

    fn label_and_claim<'a>(
        &'a self,
        body: &'a Fingerprint,
        fingerprint: &'a Fingerprint,
        owner: &'a LeaseToken,
        limit: (u32, Duration),
        lease: Duration,
    ) -> StoreFuture<'a, Option<ClaimOutcome>> {
        let outcome = self
            .claims
            .label_and_claim_now(body, fingerprint, owner, limit, lease);
        Box::pin(std::future::ready(Ok(outcome)))
    }
}

impl LabelStore for MemoryLedger {
    /// One label count for both paths: a body replayed to the guard and to the inbox shares
    /// its limit.
    fn label<'a>(
        &'a self,
        body: &'a Fingerprint,
        label: &'a Fingerprint,
        limit: u32,
        keep: Duration,
    ) -> StoreFuture<'a, bool> {
        LabelStore::label(&*self.claims, body, label, limit, keep)
    }
}

impl InboxStore for MemoryLedger {
    fn put(&self, received: Received) -> StoreFuture<'_, Put> {
        self.deliveries.put(received)
    }

    fn take(&self, worker: &str, lease: Duration) -> StoreFuture<'_, Option<Taken>> {
        self.deliveries.take(worker, lease)
    }

    fn complete(&self, lease: &Lease, retention: Duration) -> StoreFuture<'_, bool> {
        InboxStore::complete(&*self.deliveries, lease, retention)
    }

    fn fail(&self, lease: &Lease, error: &str, at: SystemTime) -> StoreFuture<'_, bool> {
        self.deliveries.fail(lease, error, at)
    }

    fn dead(&self, lease: &Lease, error: &str) -> StoreFuture<'_, bool> {
        self.deliveries.dead(lease, error)
    }

    fn hand_back(&self, lease: &Lease) -> StoreFuture<'_, bool> {
        self.deliveries.hand_back(lease)
    }
}

impl InboxAdmin for MemoryLedger {
    fn stats(&self) -> StoreFuture<'_, Stats> {
        self.deliveries.stats()
    }

    fn list(&self, state: Option<State>, limit: usize) -> StoreFuture<'_, Vec<Stored>> {
        self.deliveries.list(state, limit)
    }

    fn get(&self, id: u64) -> StoreFuture<'_, Option<Stored>> {
        self.deliveries.get(id)
    }

    fn requeue(&self, id: u64) -> StoreFuture<'_, bool> {
        self.deliveries.requeue(id)
    }

    fn requeue_dead(&self) -> StoreFuture<'_, u64> {
        self.deliveries.requeue_dead()
    }

    fn delete_dead(&self, id: u64) -> StoreFuture<'_, bool> {
        self.deliveries.delete_dead(id)
    }

    fn purge(&self, what: Purge) -> StoreFuture<'_, u64> {
        self.deliveries.purge(what)
    }

    fn attempts(&self, id: u64) -> StoreFuture<'_, Option<Vec<AttemptRecord>>> {
        self.deliveries.attempts(id)
    }

    fn activity(&self, since: SystemTime) -> StoreFuture<'_, Option<Vec<Minute>>> {
        self.deliveries.activity(since)
    }
}
