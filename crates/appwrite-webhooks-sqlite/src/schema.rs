//! The file's settings and its one table.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::Durability;

/// One row per delivery. `due_at_ms` is when a worker may take it next: its arrival, a retry's
/// time, or a taken delivery's visibility deadline (`lease` set). `keep_until_ms` ends a done
/// delivery's retention.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS deliveries (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint    BLOB    NOT NULL UNIQUE,
    received_at_ms INTEGER NOT NULL,
    uri            TEXT    NOT NULL,
    headers        BLOB    NOT NULL,
    body           BLOB    NOT NULL,
    state          TEXT    NOT NULL CHECK (state IN ('pending', 'done', 'dead')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    due_at_ms      INTEGER NOT NULL,
    lease          TEXT,
    worker         TEXT,
    last_error     TEXT,
    done_at_ms     INTEGER,
    keep_until_ms  INTEGER
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, due_at_ms, id);
";

/// Opens the file with WAL, the chosen durability and a busy timeout (other processes may hold
/// the write lock for a moment), and creates the table.
pub(crate) fn open(
    path: &Path,
    durability: Durability,
    max_bytes: Option<u64>,
    create: bool,
) -> rusqlite::Result<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let db = Connection::open_with_flags(path, flags)?;
    db.busy_timeout(Duration::from_secs(5))?;
    db.pragma_update(None, "journal_mode", "WAL")?;
    db.pragma_update(
        None,
        "synchronous",
        match durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        },
    )?;
    // A page cache of up to 64 MiB (the default is 2 MiB): the fingerprint index of a busy
    // inbox stays in memory instead of being read back from the file on every delivery.
    db.pragma_update(None, "cache_size", -65_536)?;
    // Pages read from the database file come from a memory map rather than a copy per read.
    db.pragma_update(None, "mmap_size", 256 * 1024 * 1024)?;
    db.execute_batch(SCHEMA)?;
    if let Some(bytes) = max_bytes {
        let page_size: i64 = db.pragma_query_value(None, "page_size", |row| row.get(0))?;
        db.pragma_update(
            None,
            "max_page_count",
            (i64::try_from(bytes).unwrap_or(i64::MAX) / page_size.max(1)).max(1),
        )?;
    }
    Ok(db)
}
