//! The size cap: checked by what receives (a `put`, a new claim), never by what drains.
//!
//! SQLite's own page limit fails *any* statement that needs a page past it, so a cap applied
//! that way alone can lock a full file: a take or a settlement that splits an index page fails,
//! nothing drains, and nothing makes room. Here a receiving statement runs, then the pages in
//! use are counted inside its savepoint; past the cap it fails and is rolled back, alone.
//! Everything else runs below a hard limit with headroom above the cap
//! ([`limit_pages`](crate::schema::limit_pages)), and deleting frees pages for reuse, so a purge
//! makes room for new deliveries at once.

use rusqlite::Connection;

/// Fails with `SQLITE_FULL` when the pages in use (the file's pages less its free list) are
/// more than `max_bytes`, or does nothing without a cap. Run after the receiving statement,
/// in its savepoint, so that failing undoes it.
pub(crate) fn check(db: &Connection, max_bytes: Option<u64>) -> rusqlite::Result<()> {
    let Some(max_bytes) = max_bytes else {
        return Ok(());
    };
    let used = used_bytes(db)?;
    if used > max_bytes {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            Some(format!(
                "the ledger is full ({used} bytes in use, at most {max_bytes}): \
                 purge handled deliveries or raise max_bytes"
            )),
        ));
    }
    Ok(())
}

/// The bytes of the pages holding data now (inside a transaction: as it stands).
pub(crate) fn used_bytes(db: &Connection) -> rusqlite::Result<u64> {
    let pragma = |name: &str| -> rusqlite::Result<i64> {
        db.prepare_cached(&format!("PRAGMA {name}"))?
            .query_row([], |row| row.get(0))
    };
    let used = pragma("page_count")?.saturating_sub(pragma("freelist_count")?);
    let bytes = used.saturating_mul(pragma("page_size")?);
    Ok(u64::try_from(bytes).unwrap_or(0))
}
