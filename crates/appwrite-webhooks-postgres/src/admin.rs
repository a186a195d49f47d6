//! Administration: counting, listing, requeueing and purging, over many rows in bounded
//! batches.
//!
//! One statement over a hundred thousand rows would lock them all until it commits, and every
//! receiver whose re-send or claim touches one would wait behind it — answering Appwrite late,
//! or not within its 15 s. Purging and requeueing instead work through the rows in id order,
//! [`ADMIN_BATCH`] per transaction, each batch locking its rows with `FOR UPDATE SKIP LOCKED`:
//! a row a receiver or a worker holds at that moment is left alone (it is changing anyway), and
//! the operation never waits for one. Each batch stands alone: an operation that fails half-way
//! has done the batches before it, and running it again finishes the job.

use appwrite_webhooks::StoreFuture;
use std::time::SystemTime;

use appwrite_webhooks::inbox::{AttemptRecord, InboxAdmin, Minute, Purge, State, Stats, Stored};

use crate::inbox::{RECEIVED, STATE, stored};
use crate::ledger::PostgresLedger;
use crate::{Failure, id_of, row_id};

/// The most rows one transaction of administration (a purge, a requeue of every dead letter, a
/// sweep of expired rows) changes.
pub const ADMIN_BATCH: usize = 500;

/// [`ADMIN_BATCH`] as Postgres binds it.
pub(crate) const BATCH_ROWS: i64 = ADMIN_BATCH as i64;

const DONE: &str = "state = 'done'";
const DONE_AND_DEAD: &str = "state IN ('done', 'dead')";
const DEAD: &str = "state = 'dead' AND body IS NOT NULL";

impl PostgresLedger {
    /// Runs `change` (a statement over the ids in `batch`) on the rows matching `filter`, up to
    /// the highest id when it started (rows that arrive meanwhile are left for the next run),
    /// [`ADMIN_BATCH`] rows per transaction; returns how many rows it changed.
    async fn in_batches(&self, filter: &str, change: &str) -> Result<u64, Failure> {
        let until: i64 = self
            .bounded(self.query(
                "SELECT coalesce(max(id), 0) FROM appwrite_webhooks.deliveries",
                &[],
            ))
            .await?
            .first()
            .map(|row| row.try_get(0))
            .transpose()?
            .unwrap_or(0);
        let sql = format!(
            "WITH batch AS (
                 SELECT id FROM appwrite_webhooks.deliveries
                 WHERE id > $1 AND id <= $2 AND {filter}
                 ORDER BY id LIMIT $3
                 FOR UPDATE SKIP LOCKED),
             changed AS ({change} RETURNING 1)
             SELECT (SELECT count(*) FROM changed), (SELECT max(id) FROM batch)"
        );
        let (mut after, mut total) = (0i64, 0u64);
        // Each batch moves the cursor forward by at least one id, so this ends.
        while after < until {
            let rows = self
                .bounded(self.query(&sql, &[&after, &until, &BATCH_ROWS]))
                .await?;
            let Some(row) = rows.first() else { break };
            let (changed, reached): (i64, Option<i64>) = (row.try_get(0)?, row.try_get(1)?);
            let Some(reached) = reached else { break };
            total = total.saturating_add(id_of(changed));
            after = reached;
        }
        Ok(total)
    }
}

impl InboxAdmin for PostgresLedger {
    fn stats(&self) -> StoreFuture<'_, Stats> {
        self.run(async move {
            let rows = self
                .query(
                    "SELECT state, count(*),
                            count(*) FILTER (WHERE lease IS NOT NULL
                                               AND due_at_ms > appwrite_webhooks.now_ms()),
                            count(*) FILTER (WHERE outcome = 'stale')
                     FROM appwrite_webhooks.deliveries WHERE body IS NOT NULL GROUP BY state",
                    &[],
                )
                .await?;
            let mut stats = Stats::default();
            for row in rows {
                let (state, count, leased, stale): (String, i64, i64, i64) = (
                    row.try_get(0)?,
                    row.try_get(1)?,
                    row.try_get(2)?,
                    row.try_get(3)?,
                );
                let (count, leased, stale) = (id_of(count), id_of(leased), id_of(stale));
                match state.as_str() {
                    "pending" => {
                        stats.pending = count;
                        stats.in_flight = leased;
                    }
                    // A stale delivery is a done row with outcome 'stale' (schema version 3).
                    "done" => {
                        stats.done = count - stale;
                        stats.stale = stale;
                    }
                    _ => stats.dead += count,
                }
            }
            stats.stored = stats.pending + stats.done + stats.dead + stats.stale;
            Ok(stats)
        })
    }

    fn list(&self, state: Option<State>, limit: usize) -> StoreFuture<'_, Vec<Stored>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(async move {
            let state = state.map(State::as_str);
            self.query(
                &format!(
                    "SELECT id, {STATE}, attempts, last_error, {RECEIVED}
                     FROM appwrite_webhooks.deliveries
                     WHERE ($1::text IS NULL OR {STATE} = $1) AND body IS NOT NULL
                     ORDER BY id LIMIT $2"
                ),
                &[&state, &limit],
            )
            .await?
            .iter()
            .map(stored)
            .collect()
        })
    }

    fn get(&self, id: u64) -> StoreFuture<'_, Option<Stored>> {
        self.run(async move {
            self.query(
                &format!(
                    "SELECT id, {STATE}, attempts, last_error, {RECEIVED}
                     FROM appwrite_webhooks.deliveries WHERE id = $1 AND body IS NOT NULL"
                ),
                &[&row_id(id)],
            )
            .await?
            .first()
            .map(stored)
            .transpose()
        })
    }

    fn requeue(&self, id: u64) -> StoreFuture<'_, bool> {
        self.run(async move {
            let changed = self
                .execute(
                    "UPDATE appwrite_webhooks.deliveries
                     SET state = 'pending', attempts = 0, lease = NULL,
                         due_at_ms = appwrite_webhooks.now_ms()
                     WHERE id = $1 AND state = 'dead' AND body IS NOT NULL",
                    &[&row_id(id)],
                )
                .await?;
            Ok(changed == 1)
        })
    }

    fn attempts(&self, id: u64) -> StoreFuture<'_, Option<Vec<AttemptRecord>>> {
        crate::history::attempts(self, id)
    }

    fn activity(&self, since: SystemTime) -> StoreFuture<'_, Option<Vec<Minute>>> {
        crate::history::activity(self, since)
    }

    fn delete_dead(&self, id: u64) -> StoreFuture<'_, bool> {
        self.run(async move {
            let deleted = self
                .execute(
                    "DELETE FROM appwrite_webhooks.deliveries
                     WHERE id = $1 AND state = 'dead' AND body IS NOT NULL",
                    &[&row_id(id)],
                )
                .await?;
            Ok(deleted == 1)
        })
    }

    /// Each dead letter as of the start made pending once, in batches; the schema's trigger
    /// wakes the workers for each.
    fn requeue_dead(&self) -> StoreFuture<'_, u64> {
        // Not bounded as a whole by the timeout: each batch is.
        Box::pin(async move {
            Ok(self
                .in_batches(
                    DEAD,
                    &format!(
                        "UPDATE appwrite_webhooks.deliveries
                         SET state = 'pending', attempts = 0, lease = NULL,
                             due_at_ms = appwrite_webhooks.now_ms()
                         WHERE id IN (SELECT id FROM batch) AND {DEAD}"
                    ),
                )
                .await?)
        })
    }

    /// Pending rows (deliveries and claims in flight) are never purged; done claims go with
    /// done deliveries.
    fn purge(&self, what: Purge) -> StoreFuture<'_, u64> {
        let filter = match what {
            Purge::Done => DONE,
            Purge::DoneAndDead => DONE_AND_DEAD,
        };
        Box::pin(async move {
            Ok(self
                .in_batches(
                    filter,
                    &format!(
                        "DELETE FROM appwrite_webhooks.deliveries
                         WHERE id IN (SELECT id FROM batch) AND {filter}"
                    ),
                )
                .await?)
        })
    }
}
