//! Administration of an inbox's storage: what an operator (the CLI's `inbox` commands, a
//! dashboard) asks of it, apart from the protocol receivers and workers speak
//! ([`InboxStore`](crate::inbox::InboxStore)).

use std::time::SystemTime;

use crate::StoreError;
use crate::inbox::query::{AttemptRecord, FIND_SCAN_LIMIT, Filter, Minute, Page};
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

    /// Up to `limit` deliveries that `filter` matches, highest id first, with ids below
    /// `before` when given; the page's [`next`](Page::next) continues it (a keyset cursor, so
    /// pages hold still while deliveries arrive).
    ///
    /// The provided implementation reads the oldest [`FIND_SCAN_LIMIT`] deliveries in the
    /// filter's state through [`list`](Self::list) and filters them here: correct for small
    /// inboxes, blind past that bound. Stores override it with indexed queries.
    fn find<'a>(
        &'a self,
        filter: &'a Filter,
        before: Option<u64>,
        limit: usize,
    ) -> StoreFuture<'a, Page> {
        Box::pin(async move {
            let mut rows = self.list(filter.state(), FIND_SCAN_LIMIT).await?;
            rows.retain(|row| before.is_none_or(|b| row.id < b) && filter.matches(row));
            rows.reverse();
            let next = (rows.len() > limit).then(|| rows[limit - 1].id);
            rows.truncate(limit);
            Ok(Page { items: rows, next })
        })
    }

    /// The recorded attempts at delivery `id`, oldest first; `None` when this store keeps no
    /// history of attempts (only the count and the last error, in [`Stored`]).
    fn attempts(&self, id: u64) -> StoreFuture<'_, Option<Vec<AttemptRecord>>> {
        let _ = id;
        Box::pin(async { Ok(None) })
    }

    /// What happened in each minute from `since` on, oldest first, one entry per minute up to
    /// now (minutes without activity included) and at most
    /// [`ACTIVITY_MINUTES_MAX`](crate::inbox::ACTIVITY_MINUTES_MAX) of them (the newest: fill
    /// them in from [`empty_minutes`](crate::inbox::empty_minutes)); `None` when this store
    /// keeps no history of attempts to count from.
    fn activity(&self, since: SystemTime) -> StoreFuture<'_, Option<Vec<Minute>>> {
        let _ = since;
        Box::pin(async { Ok(None) })
    }

    /// Deletes dead letter `id`; `false` if it is not a dead letter. The provided
    /// implementation fails: a store that cannot delete one delivery says so rather than
    /// purging others.
    fn delete_dead(&self, id: u64) -> StoreFuture<'_, bool> {
        let _ = id;
        Box::pin(async {
            Err(StoreError(
                "this store cannot delete one dead letter; purge them all instead".into(),
            ))
        })
    }
}
