//! Administration of an inbox's storage: what an operator (the CLI's `inbox` commands, a
//! dashboard) asks of it, apart from the protocol receivers and workers speak
//! ([`InboxStore`](crate::inbox::InboxStore)).

use crate::inbox::record::{Purge, Stats, Stored};
use crate::replay::store::StoreFuture;

/// Counting, listing, requeueing and purging what an inbox holds. Every durable store
/// implements it beside [`InboxStore`](crate::inbox::InboxStore); reach it through
/// [`Inbox::admin`](crate::inbox::Inbox::admin). Operations over many deliveries work in
/// bounded batches, so they never hold up receivers.
pub trait InboxAdmin: Send + Sync + 'static {
    /// Counts by state.
    fn stats(&self) -> StoreFuture<'_, Stats>;

    /// Up to `limit` deliveries, oldest first, in `state` or in any.
    fn list(
        &self,
        state: Option<crate::inbox::State>,
        limit: usize,
    ) -> StoreFuture<'_, Vec<Stored>>;

    /// One delivery by id.
    fn get(&self, id: u64) -> StoreFuture<'_, Option<Stored>>;

    /// Makes a dead letter pending again with its attempts reset; `false` if `id` is not a
    /// dead letter.
    fn requeue(&self, id: u64) -> StoreFuture<'_, bool>;

    /// [`requeue`](Self::requeue) for every dead letter, in bounded batches that let receivers
    /// through; returns how many.
    fn requeue_dead(&self) -> StoreFuture<'_, u64>;

    /// Deletes what `what` names, in bounded batches that let receivers through; returns how
    /// many. Pending deliveries are never purged.
    fn purge(&self, what: Purge) -> StoreFuture<'_, u64>;
}
