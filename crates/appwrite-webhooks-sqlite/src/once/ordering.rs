//! Per-resource ordering, inside the attempt's transaction: the newest version applied to
//! each resource, and why a delivery older than that is stale.

use appwrite_webhooks::inbox::{Change, ResourceVersion};
use rusqlite::{Connection, OptionalExtension, params};

/// Why `version` is stale — older than the version already applied to its resource, and by
/// which delivery — or `None` when it may be applied.
pub(crate) fn stale(
    db: &Connection,
    version: &ResourceVersion,
) -> rusqlite::Result<Option<String>> {
    let applied = db
        .prepare_cached(
            "SELECT updated_at_us, change, delivery_id FROM resource_versions
             WHERE resource = ?1",
        )?
        .query_row(params![version.resource], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, u8>(1)?,
                row.get::<_, Option<i64>>(2)?,
            ))
        })
        .optional()?;
    if let Some((updated_at, change, by)) = applied
        && version
            .cmp_version(updated_at, Change::from_rank(change))
            .is_lt()
    {
        // What `inbox show` tells an operator about it.
        return Ok(Some(format!(
            "stale: {} ({:?} at {} µs) is older than the {:?} at {updated_at} µs \
             already applied by delivery {}",
            version.resource,
            version.change,
            version.updated_at,
            Change::from_rank(change),
            by.map_or_else(|| "?".to_owned(), |id| id.to_string()),
        )));
    }
    Ok(None)
}

/// Records `version` as applied by delivery `id`, unless a newer one already is.
pub(crate) fn record(
    db: &Connection,
    version: &ResourceVersion,
    id: i64,
    now: i64,
) -> rusqlite::Result<()> {
    db.prepare_cached(
        "INSERT INTO resource_versions
             (resource, updated_at_us, change, deleted, delivery_id, applied_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (resource) DO UPDATE SET
             updated_at_us = excluded.updated_at_us, change = excluded.change,
             deleted = excluded.deleted, delivery_id = excluded.delivery_id,
             applied_at_ms = excluded.applied_at_ms
         WHERE (excluded.updated_at_us, excluded.change) >= (updated_at_us, change)",
    )?
    .execute(params![
        version.resource,
        version.updated_at,
        version.change.rank(),
        version.change == Change::Delete,
        id,
        now,
    ])?;
    Ok(())
}
