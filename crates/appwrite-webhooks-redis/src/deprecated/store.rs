//! `RedisStore`: the ledger as a replay store, under its old name and defaults.

use std::time::Duration;

use appwrite_webhooks::{
    ClaimOutcome, Fingerprint, LabelStore, LeaseToken, ReplayStore, StoreError, StoreFuture,
};

use super::DEFAULT_TIMEOUT;
use crate::{RedisLedger, RedisLedgerBuilder};

/// The replay store's former name: a [`RedisLedger`] used as a [`ReplayStore`], with a
/// timeout of 1 s unless set, and [`prefix`](Self::prefix) setting the replay prefix.
#[deprecated(
    note = "use RedisLedger: RedisLedger::connect(url), .with_replay_prefix(a) for \
                     .prefix(a), .with_timeout(t); the same keys"
)]
#[derive(Debug, Clone)]
pub struct RedisStore(RedisLedger);

/// The former builder of a [`RedisStore`].
#[deprecated(
    note = "use RedisLedger::builder(url) with .with_replay_prefix, .with_timeout, \
                     .with_data_loss_allowed(true)"
)]
#[derive(Debug, Clone)]
pub struct RedisStoreBuilder(RedisLedgerBuilder);

impl RedisStoreBuilder {
    /// Sets the key prefix ([`RedisLedgerBuilder::with_replay_prefix`]).
    pub fn prefix(self, prefix: impl Into<String>) -> Self {
        Self(self.0.with_replay_prefix(prefix))
    }

    /// Bounds each command ([`RedisLedgerBuilder::with_timeout`]).
    pub fn timeout(self, timeout: Duration) -> Self {
        Self(self.0.with_timeout(timeout))
    }

    /// [`RedisLedgerBuilder::with_data_loss_allowed`] with `true`.
    pub fn allow_data_loss(self) -> Self {
        Self(self.0.with_data_loss_allowed(true))
    }

    /// [`RedisLedgerBuilder::connect`].
    pub async fn connect(self) -> Result<RedisStore, StoreError> {
        self.0.connect().await.map(RedisStore)
    }

    /// [`RedisLedgerBuilder::connect_lazily`].
    pub fn connect_lazily(self) -> Result<RedisStore, StoreError> {
        self.0.connect_lazily().map(RedisStore)
    }
}

impl RedisStore {
    /// A builder with the old defaults.
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder(RedisLedger::builder(url).with_timeout(DEFAULT_TIMEOUT))
    }

    /// Connects with the old defaults; see [`RedisLedger::connect`].
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::builder(url).connect().await
    }

    /// Connects on first use; see [`RedisLedger::connect_lazily`].
    pub fn connect_lazily(url: &str) -> Result<Self, StoreError> {
        Self::builder(url).connect_lazily()
    }

    /// Sets the key prefix ([`RedisLedger::with_replay_prefix`]).
    pub fn prefix(self, prefix: impl Into<String>) -> Self {
        Self(self.0.with_replay_prefix(prefix))
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

impl From<RedisStore> for RedisLedger {
    /// The ledger inside, with the store's options.
    fn from(store: RedisStore) -> Self {
        store.0
    }
}

impl ReplayStore for RedisStore {
    fn claim<'a>(
        &'a self,
        fingerprint: &'a Fingerprint,
        owner: &'a LeaseToken,
        lease: Duration,
    ) -> StoreFuture<'a, ClaimOutcome> {
        self.0.claim(fingerprint, owner, lease)
    }

    fn complete<'a>(
        &'a self,
        fingerprint: &'a Fingerprint,
        owner: &'a LeaseToken,
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        self.0.complete(fingerprint, owner, ttl)
    }

    fn release<'a>(
        &'a self,
        fingerprint: &'a Fingerprint,
        owner: &'a LeaseToken,
    ) -> StoreFuture<'a, bool> {
        self.0.release(fingerprint, owner)
    }
}

impl LabelStore for RedisStore {
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
