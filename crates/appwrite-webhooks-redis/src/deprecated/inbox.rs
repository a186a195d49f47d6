//! `RedisInbox`: the ledger as an inbox, under its old name and defaults.

use std::time::{Duration, SystemTime};

use appwrite_webhooks::inbox::{
    InboxAdmin, InboxStore, Lease, Purge, Put, Received, State, Stats, Stored, Taken,
};
use appwrite_webhooks::{Fingerprint, LabelStore, StoreError, StoreFuture};

use super::DEFAULT_INBOX_TIMEOUT;
use crate::{RedisLedger, RedisLedgerBuilder};

/// The inbox's former name: a [`RedisLedger`] used as an [`InboxStore`], with a timeout of 2 s
/// unless set, [`prefix`](Self::prefix) setting the inbox prefix, and `connect` refusing a
/// server without `appendonly yes` at once.
#[deprecated(
    note = "use RedisLedger: RedisLedger::connect(url) then .check_inbox(), \
                     .with_inbox_prefix(b) for .prefix(b), .with_timeout(t); the same keys"
)]
#[derive(Debug, Clone)]
pub struct RedisInbox(RedisLedger);

/// The former builder of a [`RedisInbox`].
#[deprecated(
    note = "use RedisLedger::builder(url) with .with_inbox_prefix, .with_timeout, \
                     .with_data_loss_allowed(true)"
)]
#[derive(Debug, Clone)]
pub struct RedisInboxBuilder(RedisLedgerBuilder);

impl RedisInboxBuilder {
    /// Sets the key prefix ([`RedisLedgerBuilder::with_inbox_prefix`]).
    pub fn prefix(self, prefix: impl Into<String>) -> Self {
        Self(self.0.with_inbox_prefix(prefix))
    }

    /// Bounds each command ([`RedisLedgerBuilder::with_timeout`]).
    pub fn timeout(self, timeout: Duration) -> Self {
        Self(self.0.with_timeout(timeout))
    }

    /// [`RedisLedgerBuilder::with_data_loss_allowed`] with `true`.
    pub fn allow_data_loss(self) -> Self {
        Self(self.0.with_data_loss_allowed(true))
    }

    /// [`RedisLedgerBuilder::connect`], then [`RedisLedger::check_inbox`].
    pub async fn connect(self) -> Result<RedisInbox, StoreError> {
        let ledger = self.0.connect().await?;
        ledger.check_inbox().await?;
        Ok(RedisInbox(ledger))
    }

    /// [`RedisLedgerBuilder::connect_lazily`].
    pub fn connect_lazily(self) -> Result<RedisInbox, StoreError> {
        self.0.connect_lazily().map(RedisInbox)
    }
}

impl RedisInbox {
    /// A builder with the old defaults.
    pub fn builder(url: impl Into<String>) -> RedisInboxBuilder {
        RedisInboxBuilder(RedisLedger::builder(url).with_timeout(DEFAULT_INBOX_TIMEOUT))
    }

    /// Connects with the old defaults and checks what the inbox needs; see
    /// [`RedisLedger::connect`] and [`RedisLedger::check_inbox`].
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::builder(url).connect().await
    }

    /// Connects on first use; see [`RedisLedger::connect_lazily`].
    pub fn connect_lazily(url: &str) -> Result<Self, StoreError> {
        Self::builder(url).connect_lazily()
    }

    /// Sets the key prefix ([`RedisLedger::with_inbox_prefix`]).
    pub fn prefix(self, prefix: impl Into<String>) -> Self {
        Self(self.0.with_inbox_prefix(prefix))
    }

    /// Bounds each command ([`RedisLedger::with_timeout`]).
    pub fn timeout(self, timeout: Duration) -> Self {
        Self(self.0.with_timeout(timeout))
    }

    /// [`RedisLedger::with_data_loss_allowed`] with `true`.
    pub fn allow_data_loss(self) -> Self {
        Self(self.0.with_data_loss_allowed(true))
    }
}

impl From<RedisInbox> for RedisLedger {
    /// The ledger inside, with the inbox's options.
    fn from(inbox: RedisInbox) -> Self {
        inbox.0
    }
}

impl InboxStore for RedisInbox {
    fn put(&self, received: Received) -> StoreFuture<'_, Put> {
        self.0.put(received)
    }

    fn take(&self, worker: &str, lease: Duration) -> StoreFuture<'_, Option<Taken>> {
        self.0.take(worker, lease)
    }

    fn complete(&self, lease: &Lease, retention: Duration) -> StoreFuture<'_, bool> {
        InboxStore::complete(&self.0, lease, retention)
    }

    fn fail(&self, lease: &Lease, error: &str, at: SystemTime) -> StoreFuture<'_, bool> {
        self.0.fail(lease, error, at)
    }

    fn dead(&self, lease: &Lease, error: &str) -> StoreFuture<'_, bool> {
        self.0.dead(lease, error)
    }

    fn hand_back(&self, lease: &Lease) -> StoreFuture<'_, bool> {
        self.0.hand_back(lease)
    }
}

impl LabelStore for RedisInbox {
    fn label<'a>(
        &'a self,
        body: &'a Fingerprint,
        label: &'a Fingerprint,
        limit: u32,
        keep: Duration,
    ) -> StoreFuture<'a, bool> {
        LabelStore::label(&self.0, body, label, limit, keep)
    }
}

impl InboxAdmin for RedisInbox {
    fn stats(&self) -> StoreFuture<'_, Stats> {
        self.0.stats()
    }

    fn list(&self, state: Option<State>, limit: usize) -> StoreFuture<'_, Vec<Stored>> {
        self.0.list(state, limit)
    }

    fn get(&self, id: u64) -> StoreFuture<'_, Option<Stored>> {
        self.0.get(id)
    }

    fn requeue(&self, id: u64) -> StoreFuture<'_, bool> {
        self.0.requeue(id)
    }

    fn requeue_dead(&self) -> StoreFuture<'_, u64> {
        self.0.requeue_dead()
    }

    fn purge(&self, what: Purge) -> StoreFuture<'_, u64> {
        self.0.purge(what)
    }
}
