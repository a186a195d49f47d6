//! Per-resource ordering (schema version 3, `appwrite_webhooks.resource_versions`): the newest
//! version applied to each resource, read and written inside an exactly-once transaction.

use appwrite_webhooks::inbox::{Change, ResourceVersion};
use deadpool_postgres::Transaction;

/// The advisory-lock class of resources: not the migrations' and labels' (1098343287), so a
/// resource never waits on a migration or a label count.
const RESOURCE_LOCKS: i32 = 1_098_343_288;

/// The newest version applied to one resource.
#[derive(Debug)]
pub(crate) struct Applied {
    updated_at: i64,
    change: Change,
    by: Option<i64>,
}

impl Applied {
    /// Waits for every other transaction working on `version`'s resource to end, then reads
    /// what they left applied.
    ///
    /// A row lock would not do: a resource seen for the first time has no row to lock, and two
    /// first deliveries would both run their handlers. The advisory lock (keyed by a hash of
    /// the resource: a collision only makes two resources wait for each other) is held until
    /// the transaction ends. Its own statement comes first, so the read that follows takes its
    /// snapshot after the wait and sees the other transaction's commit.
    pub(crate) async fn lock_and_read(
        tx: &Transaction<'_>,
        version: &ResourceVersion,
    ) -> Result<Option<Self>, tokio_postgres::Error> {
        let lock = tx
            .prepare_cached("SELECT pg_advisory_xact_lock($1, hashtext($2))")
            .await?;
        tx.execute(&lock, &[&RESOURCE_LOCKS, &version.resource])
            .await?;
        let read = tx
            .prepare_cached(
                "SELECT updated_at_us, change, delivery_id FROM appwrite_webhooks.resource_versions
                 WHERE resource = $1",
            )
            .await?;
        let Some(row) = tx.query_opt(&read, &[&version.resource]).await? else {
            return Ok(None);
        };
        let change: i16 = row.try_get(1)?;
        Ok(Some(Self {
            updated_at: row.try_get(0)?,
            change: Change::from_rank(u8::try_from(change).unwrap_or(1)),
            by: row.try_get(2)?,
        }))
    }

    /// Whether `version` is older than this: then its delivery is stale.
    pub(crate) fn is_newer_than(&self, version: &ResourceVersion) -> bool {
        version.cmp_version(self.updated_at, self.change).is_lt()
    }
}

/// What `inbox show` tells an operator about a stale delivery (as the SQLite ledger says it).
pub(crate) fn stale_reason(version: &ResourceVersion, applied: &Applied) -> String {
    format!(
        "stale: {} ({:?} at {} µs) is older than the {:?} at {} µs already applied by \
         delivery {}",
        version.resource,
        version.change,
        version.updated_at,
        applied.change,
        applied.updated_at,
        applied
            .by
            .map_or_else(|| "?".to_owned(), |id| id.to_string()),
    )
}

/// Records `version` as applied by delivery `id` (never replacing a newer one: the lock makes
/// that impossible already, the condition keeps a hand-written row safe too).
pub(crate) async fn record_version(
    tx: &Transaction<'_>,
    version: &ResourceVersion,
    id: i64,
) -> Result<(), tokio_postgres::Error> {
    let upsert = tx
        .prepare_cached(
            "INSERT INTO appwrite_webhooks.resource_versions AS applied
                 (resource, updated_at_us, change, deleted, delivery_id, applied_at_ms)
             VALUES ($1, $2, $3, $4, $5, appwrite_webhooks.now_ms())
             ON CONFLICT (resource) DO UPDATE SET
                 updated_at_us = excluded.updated_at_us, change = excluded.change,
                 deleted = excluded.deleted, delivery_id = excluded.delivery_id,
                 applied_at_ms = excluded.applied_at_ms
             WHERE (excluded.updated_at_us, excluded.change)
                   >= (applied.updated_at_us, applied.change)",
        )
        .await?;
    tx.execute(
        &upsert,
        &[
            &version.resource,
            &version.updated_at,
            &i16::from(version.change.rank()),
            &(version.change == Change::Delete),
            &id,
        ],
    )
    .await?;
    Ok(())
}
