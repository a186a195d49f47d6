//! The history of attempts (schema version 2, `migrations/002_history.sql`) and what an
//! operator's view reads of it: a delivery's attempts and the activity per minute. The rows are
//! written by a trigger on `deliveries`, in the statement that takes or settles a delivery.

use std::time::{Duration, SystemTime};

use appwrite_webhooks::StoreFuture;
use appwrite_webhooks::inbox::{
    AttemptOutcome, AttemptRecord, Minute, empty_minutes, from_unix_millis, minute_of, unix_millis,
};
use tokio_postgres::Row;

use crate::ledger::PostgresLedger;
use crate::{Failure, row_id};

/// One row of `attempts` as the view shows it.
fn record(row: &Row) -> Result<AttemptRecord, Failure> {
    let attempt: i32 = row.try_get(0)?;
    let started: i64 = row.try_get(2)?;
    let ended: Option<i64> = row.try_get(3)?;
    let outcome: String = row.try_get(4)?;
    Ok(AttemptRecord {
        attempt: u32::try_from(attempt).unwrap_or(0),
        worker: row.try_get(1)?,
        started_at: from_unix_millis(u64::try_from(started).unwrap_or(0)),
        duration: ended.map(|ended| {
            Duration::from_millis(u64::try_from(ended.saturating_sub(started)).unwrap_or(0))
        }),
        outcome: AttemptOutcome::parse(&outcome)
            .ok_or_else(|| Failure::Invalid(format!("an attempt's outcome: {outcome:?}")))?,
        error: row.try_get(5)?,
    })
}

/// [`InboxAdmin::attempts`](appwrite_webhooks::inbox::InboxAdmin::attempts), oldest first.
pub(crate) fn attempts(
    ledger: &PostgresLedger,
    id: u64,
) -> StoreFuture<'_, Option<Vec<AttemptRecord>>> {
    ledger.run(async move {
        let rows = ledger
            .query(
                "SELECT attempt, worker, started_at_ms, ended_at_ms, outcome, error
                 FROM appwrite_webhooks.attempts WHERE delivery = $1 ORDER BY id",
                &[&row_id(id)],
            )
            .await?;
        rows.iter().map(record).collect::<Result<_, _>>().map(Some)
    })
}

/// [`InboxAdmin::activity`](appwrite_webhooks::inbox::InboxAdmin::activity): two grouped,
/// indexed counts, on the database's clock like every time the ledger writes.
pub(crate) fn activity(
    ledger: &PostgresLedger,
    since: SystemTime,
) -> StoreFuture<'_, Option<Vec<Minute>>> {
    ledger.run(async move {
        let now = SystemTime::now();
        let mut minutes = empty_minutes(since, now);
        let first = minutes.first().map_or(unix_millis(now), |m| m.start_millis);
        let start = i64::try_from(first).unwrap_or(i64::MAX);
        let received = ledger
            .query(
                "SELECT received_at_ms / 60000, count(*) FROM appwrite_webhooks.deliveries
                 WHERE body IS NOT NULL AND received_at_ms >= $1 GROUP BY 1",
                &[&start],
            )
            .await?;
        for row in &received {
            if let Some(m) = u64::try_from(row.try_get::<_, i64>(0)?)
                .ok()
                .and_then(|at| minute_of(&mut minutes, at))
            {
                m.received = u64::try_from(row.try_get::<_, i64>(1)?).unwrap_or(0);
            }
        }
        let ended = ledger
            .query(
                "SELECT ended_at_ms / 60000, outcome, count(*) FROM appwrite_webhooks.attempts
                 WHERE ended_at_ms IS NOT NULL AND ended_at_ms >= $1 GROUP BY 1, 2",
                &[&start],
            )
            .await?;
        for row in &ended {
            let n = u64::try_from(row.try_get::<_, i64>(2)?).unwrap_or(0);
            let outcome = AttemptOutcome::parse(&row.try_get::<_, String>(1)?);
            if let Some(m) = u64::try_from(row.try_get::<_, i64>(0)?)
                .ok()
                .and_then(|at| minute_of(&mut minutes, at))
                && let Some(outcome) = outcome
            {
                m.count_ended(outcome, n);
            }
        }
        Ok(Some(minutes))
    })
}
