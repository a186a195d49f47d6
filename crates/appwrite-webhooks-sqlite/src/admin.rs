//! Administration over many rows, in bounded batches.
//!
//! One connection commits everything, so one statement over a hundred thousand rows would hold
//! every receiver's `put` behind it — and answer Appwrite late, or not at all within its 15 s.
//! Purging and retrying instead work through the rows in id order, [`ADMIN_BATCH`] per
//! transaction; between two batches the writer commits whatever arrived meanwhile. Each batch
//! stands alone: an operation that fails half-way has done the batches before it, and running
//! it again finishes the job.

use appwrite_webhooks::StoreError;
use appwrite_webhooks::inbox::Purge;
use rusqlite::{Connection, OptionalExtension, params};

use crate::SqliteLedger;
use crate::now_ms;

/// The most rows one transaction of administration (a purge, a retry of every dead letter, a
/// sweep of expired rows) changes before the writer takes other work.
pub const ADMIN_BATCH: usize = 500;

/// [`ADMIN_BATCH`] as SQLite binds it.
pub(crate) const ADMIN_BATCH_ROWS: i64 = ADMIN_BATCH as i64;

/// Which rows a batched operation works through: up to the highest id when it started (rows
/// that arrive while it runs are left for the next one), after a cursor.
#[derive(Clone, Copy)]
struct Range {
    after: i64,
    until: i64,
}

/// One transaction of a batched operation: how many rows it changed and the id it reached, or
/// `None` when nothing is left.
type Batch = fn(&Connection, Range) -> rusqlite::Result<Option<(u64, i64)>>;

/// The highest id now, the end of a batched operation's range.
async fn last_id(ledger: &SqliteLedger) -> Result<i64, StoreError> {
    ledger
        .run(|db| {
            db.query_row("SELECT max(id) FROM deliveries", [], |row| {
                row.get::<_, Option<i64>>(0)
            })
        })
        .await
        .map(|id| id.unwrap_or(0))
}

/// Runs `batch` over `ledger`'s rows, one transaction per call, until a call finds nothing
/// more; each call returns how many rows it changed and the id it reached.
async fn in_batches(ledger: &SqliteLedger, batch: Batch) -> Result<u64, StoreError> {
    let until = last_id(ledger).await?;
    let mut range = Range { after: 0, until };
    let mut total = 0u64;
    // Each batch moves the cursor forward by at least one id, so this ends.
    while range.after < range.until {
        let Some((changed, reached)) = ledger.run(move |db| batch(db, range)).await? else {
            break;
        };
        total = total.saturating_add(changed);
        range.after = reached;
    }
    Ok(total)
}

/// The id of the last of the next [`ADMIN_BATCH`] rows in `range` matching `filter`.
fn batch_end(db: &Connection, range: Range, filter: &str) -> rusqlite::Result<Option<i64>> {
    db.prepare_cached(&format!(
        "SELECT max(id) FROM (SELECT id FROM deliveries
                              WHERE id > ?1 AND id <= ?2 AND {filter} ORDER BY id LIMIT ?3)"
    ))?
    .query_row(params![range.after, range.until, ADMIN_BATCH_ROWS], |row| {
        row.get::<_, Option<i64>>(0)
    })
    .optional()
    .map(Option::flatten)
}

const DONE: &str = "state = 'done'";
const DONE_AND_DEAD: &str = "state IN ('done', 'dead')";
const DEAD: &str = "state = 'dead' AND body IS NOT NULL";

/// [`InboxAdmin::purge`](appwrite_webhooks::inbox::InboxAdmin::purge), in batches. Pending rows
/// (deliveries and claims in flight) are never purged; done claims go with done deliveries.
pub(crate) async fn purge(ledger: &SqliteLedger, what: Purge) -> Result<u64, StoreError> {
    fn batch(db: &Connection, range: Range, filter: &str) -> rusqlite::Result<Option<(u64, i64)>> {
        let Some(end) = batch_end(db, range, filter)? else {
            return Ok(None);
        };
        let deleted = db
            .prepare_cached(&format!(
                "DELETE FROM deliveries WHERE id > ?1 AND id <= ?2 AND {filter}"
            ))?
            .execute(params![range.after, end])?;
        Ok(Some((deleted as u64, end)))
    }
    match what {
        Purge::Done => in_batches(ledger, |db, range| batch(db, range, DONE)).await,
        Purge::DoneAndDead => in_batches(ledger, |db, range| batch(db, range, DONE_AND_DEAD)).await,
    }
}

/// [`InboxAdmin::requeue_dead`](appwrite_webhooks::inbox::InboxAdmin::requeue_dead), in
/// batches: each dead letter as of the start is made pending once.
pub(crate) async fn requeue_dead(ledger: &SqliteLedger) -> Result<u64, StoreError> {
    in_batches(ledger, |db, range| {
        let Some(end) = batch_end(db, range, DEAD)? else {
            return Ok(None);
        };
        let retried = db
            .prepare_cached(&format!(
                "UPDATE deliveries SET state = 'pending', attempts = 0, due_at_ms = ?3, lease = NULL
                 WHERE id > ?1 AND id <= ?2 AND {DEAD}"
            ))?
            .execute(params![range.after, end, now_ms()])?;
        Ok(Some((retried as u64, end)))
    })
    .await
}
