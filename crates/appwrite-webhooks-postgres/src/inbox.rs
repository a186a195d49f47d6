//! The ledger as an inbox: storing deliveries, workers taking and settling them.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use appwrite_webhooks::inbox::{
    InboxStore, Lease, Put, Received, Stored, Taken, from_unix_millis, unix_millis,
};
use appwrite_webhooks::{Fingerprint, LeaseToken, StoreFuture};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::claims::limit_of;
use crate::ledger::PostgresLedger;
use crate::{Failure, id_of, ms, row_id};

/// The columns a [`Received`] is read from, in [`received`]'s order.
pub(crate) const RECEIVED: &str = "fingerprint, received_at_ms, uri, headers, body";

/// The [`Received`] in `row` from column `at` on ([`RECEIVED`]).
pub(crate) fn received(row: &Row, at: usize) -> Result<Received, Failure> {
    let received_at: i64 = row.try_get(at + 1)?;
    let headers: Vec<u8> = row.try_get(at + 3)?;
    Ok(Received {
        fingerprint: row.try_get(at)?,
        received_at: from_unix_millis(u64::try_from(received_at).unwrap_or(0)),
        uri: row.try_get(at + 2)?,
        headers: Received::parse_header_block(&headers)
            .map_err(|e| Failure::Invalid(format!("a stored delivery's headers: {e}")))?,
        body: row.try_get::<_, Vec<u8>>(at + 4)?.into(),
    })
}

/// A delivery's [`State`](appwrite_webhooks::inbox::State) as the inbox spells it: the
/// `state` column, except that a done row settled without its handler (outcome `'stale'`,
/// schema version 3) is `stale`.
pub(crate) const STATE: &str =
    "(CASE WHEN state = 'done' AND outcome = 'stale' THEN 'stale' ELSE state END)";

/// The [`Stored`] in `row`: id, [`STATE`], attempts, last error, then [`RECEIVED`].
pub(crate) fn stored(row: &Row) -> Result<Stored, Failure> {
    let state: String = row.try_get(1)?;
    let attempts: i32 = row.try_get(2)?;
    Ok(Stored {
        id: id_of(row.try_get(0)?),
        state: appwrite_webhooks::inbox::State::parse(&state)
            .map_err(|e| Failure::Invalid(format!("a stored delivery's state: {e}")))?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        last_error: row.try_get(3)?,
        received: received(row, 4)?,
    })
}

/// Applies an outcome only while `lease` holds the delivery: its id, its attempt's token, and
/// still pending. `set` assigns from `$3` on; `values` binds them.
fn settle<'a>(
    ledger: &'a PostgresLedger,
    lease: &Lease,
    set: &'static str,
    values: Vec<Box<dyn ToSql + Send + Sync>>,
) -> StoreFuture<'a, bool> {
    let (id, token) = (row_id(lease.id), lease.token.clone());
    ledger.run(async move {
        let sql = format!(
            "UPDATE appwrite_webhooks.deliveries SET lease = NULL, {set}
             WHERE id = $1 AND lease = $2 AND state = 'pending' AND body IS NOT NULL"
        );
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&id, &token];
        params.extend(values.iter().map(|value| &**value as &(dyn ToSql + Sync)));
        Ok(ledger.execute(&sql, &params).await? == 1)
    })
}

impl InboxStore for PostgresLedger {
    fn put(&self, received: Received) -> StoreFuture<'_, Put> {
        self.run(async move {
            let received_at = i64::try_from(unix_millis(received.received_at)).unwrap_or(i64::MAX);
            let rows = self
                .query(
                    "SELECT outcome, delivery_id FROM appwrite_webhooks.put($1, $2, $3, $4, $5)",
                    &[
                        &received.fingerprint,
                        &received_at,
                        &received.uri,
                        &received.header_block(),
                        &&received.body[..],
                    ],
                )
                .await?;
            let row = rows
                .first()
                .ok_or_else(|| Failure::Invalid("put() returned no row".into()))?;
            put_outcome(&row.try_get::<_, String>(0)?, row.try_get(1)?)
        })
    }

    /// One statement, so one round trip and one commit: the schema's `label_and_put`.
    fn label_and_put<'a>(
        &'a self,
        body: &'a Fingerprint,
        fingerprint: &'a Fingerprint,
        (limit, keep): (u32, Duration),
        received: Received,
    ) -> StoreFuture<'a, Put> {
        self.run(async move {
            let received_at = i64::try_from(unix_millis(received.received_at)).unwrap_or(i64::MAX);
            let rows = self
                .query(
                    "SELECT outcome, delivery_id
                     FROM appwrite_webhooks.label_and_put($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    &[
                        &body.as_bytes(),
                        &fingerprint.as_bytes(),
                        &limit_of(limit),
                        &ms(keep),
                        &received.fingerprint,
                        &received_at,
                        &received.uri,
                        &received.header_block(),
                        &&received.body[..],
                    ],
                )
                .await?;
            let row = rows
                .first()
                .ok_or_else(|| Failure::Invalid("label_and_put() returned no row".into()))?;
            put_outcome(&row.try_get::<_, String>(0)?, row.try_get(1)?)
        })
    }

    /// The oldest due delivery that no other transaction is taking (`FOR UPDATE SKIP LOCKED`),
    /// leased to a fresh token in the same statement.
    fn take(&self, worker: &str, lease: Duration) -> StoreFuture<'_, Option<Taken>> {
        let worker = worker.to_owned();
        self.run(async move {
            self.sweep_if_due();
            // One token per attempt, never per worker: an attempt whose lease passed cannot
            // settle the attempt that took the delivery after it, even under the same name.
            let token = LeaseToken::new().to_string();
            let rows = self
                .query(
                    &format!(
                        "UPDATE appwrite_webhooks.deliveries
                         SET lease = $1, worker = $2, attempts = attempts + 1,
                             due_at_ms = appwrite_webhooks.after(appwrite_webhooks.now_ms(), $3)
                         WHERE id = (
                             SELECT id FROM appwrite_webhooks.deliveries
                             WHERE state = 'pending' AND body IS NOT NULL
                               AND due_at_ms <= appwrite_webhooks.now_ms()
                             ORDER BY due_at_ms, id
                             LIMIT 1
                             FOR UPDATE SKIP LOCKED)
                         RETURNING id, attempts, {RECEIVED}"
                    ),
                    &[&token, &worker, &ms(lease)],
                )
                .await?;
            let Some(row) = rows.first() else {
                return Ok(None);
            };
            let attempt: i32 = row.try_get(1)?;
            Ok(Some(Taken {
                lease: Lease {
                    id: id_of(row.try_get(0)?),
                    token,
                },
                attempt: u32::try_from(attempt).unwrap_or(0),
                received: received(row, 2)?,
            }))
        })
    }

    fn complete(&self, lease: &Lease, retention: Duration) -> StoreFuture<'_, bool> {
        settle(
            self,
            lease,
            "state = 'done', done_at_ms = appwrite_webhooks.now_ms(),
             keep_until_ms = appwrite_webhooks.after(appwrite_webhooks.now_ms(), $3)",
            vec![Box::new(ms(retention))],
        )
    }

    /// Due again `at` on this process's clock, kept as the same delay on the database's.
    fn fail(&self, lease: &Lease, error: &str, at: SystemTime) -> StoreFuture<'_, bool> {
        let delay = at.duration_since(SystemTime::now()).unwrap_or_default();
        settle(
            self,
            lease,
            "due_at_ms = appwrite_webhooks.after(appwrite_webhooks.now_ms(), $3), last_error = $4",
            vec![Box::new(ms(delay)), Box::new(error.to_owned())],
        )
    }

    fn dead(&self, lease: &Lease, error: &str) -> StoreFuture<'_, bool> {
        settle(
            self,
            lease,
            "state = 'dead', done_at_ms = appwrite_webhooks.now_ms(), last_error = $3",
            vec![Box::new(error.to_owned())],
        )
    }

    fn hand_back(&self, lease: &Lease) -> StoreFuture<'_, bool> {
        settle(
            self,
            lease,
            "due_at_ms = appwrite_webhooks.now_ms(), attempts = greatest(attempts - 1, 0)",
            Vec::new(),
        )
    }

    /// The next `NOTIFY` on `appwrite_webhooks_due`: a delivery another replica (or an
    /// operator) made due. See the [crate docs](crate).
    fn arrived(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(self.arrivals().wait())
    }
}

/// What `put` or `label_and_put` answered: `stored` or `duplicate` and the id, or
/// `over_limit`.
fn put_outcome(outcome: &str, id: Option<i64>) -> Result<Put, Failure> {
    match (outcome, id) {
        ("stored", Some(id)) => Ok(Put::Stored(id_of(id))),
        ("duplicate", Some(id)) => Ok(Put::Duplicate(id_of(id))),
        ("over_limit", None) => Ok(Put::OverLabelLimit),
        other => Err(Failure::Invalid(format!("unknown put outcome {other:?}"))),
    }
}
