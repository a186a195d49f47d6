//! The file's settings, its one table, and the migrations that bring an older file up to date.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::Durability;

/// The schema this crate writes, kept in the file's `user_version`. A file from before
/// versions were recorded reads 0 (with a `deliveries` table: the inbox-only schema, 1).
pub(crate) const VERSION: i64 = 3;

/// One row per fingerprint: the ledger. A row with a body is an inbox delivery; a row without
/// one is a replay guard's claim (pending while its request runs, done for the TTL), which
/// workers never take. `due_at_ms` is when a worker may take a delivery next (its arrival, a
/// retry's time, or the end of a lease) and when a claim's lease ends; `lease` is the owner
/// token of the attempt or claim that holds the row; `keep_until_ms` ends a done row's
/// retention.
const TABLE: &str = "
CREATE TABLE deliveries (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint    BLOB    NOT NULL UNIQUE,
    received_at_ms INTEGER NOT NULL,
    uri            TEXT,
    headers        BLOB,
    body           BLOB,
    state          TEXT    NOT NULL CHECK (state IN ('pending', 'done', 'dead')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    due_at_ms      INTEGER NOT NULL,
    lease          TEXT,
    worker         TEXT,
    last_error     TEXT,
    done_at_ms     INTEGER,
    keep_until_ms  INTEGER,
    CHECK ((body IS NULL) = (uri IS NULL) AND (body IS NULL) = (headers IS NULL))
)";

/// What workers look for: due deliveries, oldest first. Claims are not in it.
const INDEX: &str = "
CREATE INDEX deliveries_due ON deliveries (state, due_at_ms, id) WHERE body IS NOT NULL";

/// The columns version 1 had, all of which version 2 keeps.
const V1_COLUMNS: &str = "id, fingerprint, received_at_ms, uri, headers, body, state, attempts, \
                          due_at_ms, lease, worker, last_error, done_at_ms, keep_until_ms";

/// Opens the file with WAL, the chosen durability and a busy timeout (other processes may hold
/// the write lock for a moment), and brings its schema up to date.
pub(crate) fn open(
    path: &Path,
    durability: Durability,
    create: bool,
) -> rusqlite::Result<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let db = Connection::open_with_flags(path, flags)?;
    db.busy_timeout(Duration::from_secs(5))?;
    // Every statement the ledger runs is prepared once and kept: rusqlite keeps 16 by default,
    // fewer than the ledger has, so a worker's take and settle would evict what a receiving
    // request uses and every call would parse its SQL again.
    db.set_prepared_statement_cache_capacity(128);
    db.pragma_update(None, "journal_mode", "WAL")?;
    db.pragma_update(
        None,
        "synchronous",
        match durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        },
    )?;
    // SQLite's own page cache stays at its default (2 MiB): pages read from the database file
    // come from a memory map instead (the operating system's cache, no copy per read). A
    // 64 MiB cache cost more than it saved: profiled under load, SQLite walked its hash table
    // on commits (`pcache1TruncateUnsafe`, 14 % of the writer thread's time), and the inbox
    // stored 17 % fewer deliveries per second (durable_load, BENCHMARKS.md).
    db.pragma_update(None, "mmap_size", 256 * 1024 * 1024)?;
    // Each request the writer thread runs has a savepoint of its own, so SQLite copies every
    // page a request changes into a statement journal first: in memory, not a temporary file
    // (a write and a kernel copy of 4 KiB per page: 26 KB written per stored delivery
    // before, 22 KB after, measured). The journal holds one request's pages; what an
    // administration batch changes is bounded.
    db.pragma_update(None, "temp_store", "MEMORY")?;
    // After a checkpoint the WAL is cut back to 64 MiB: a burst (a large purge, a backlog)
    // does not leave a large WAL file behind for good. Below that it is reused, not regrown.
    db.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    migrate(&db)?;
    Ok(db)
}

/// Brings the file to [`VERSION`] in one transaction: idempotent, and safe when several
/// processes open one file at once (the first upgrades it, the others find it done). A file
/// written by a newer version of this crate is refused rather than misread.
pub(crate) fn migrate(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch("BEGIN IMMEDIATE")?;
    let result = migrate_in_transaction(db);
    match &result {
        Ok(()) => db.execute_batch("COMMIT")?,
        Err(_) => {
            let _ = db.execute_batch("ROLLBACK");
        }
    }
    result
}

fn migrate_in_transaction(db: &Connection) -> rusqlite::Result<()> {
    let version: i64 = db.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version > VERSION {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
            Some(format!(
                "the file has schema version {version}, newer than this version of \
                 appwrite-webhooks-sqlite understands ({VERSION})"
            )),
        ));
    }
    // Added within version 2: created by whichever version of this crate opens the file.
    db.execute_batch(crate::labels::TABLE)?;
    if version == VERSION {
        return added_within_v2(db);
    }
    let has_table = db
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'deliveries'",
            [],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    if !has_table {
        db.execute_batch(TABLE)?;
        db.execute_batch(INDEX)?;
    } else if version < 2 {
        upgrade_from_v1(db)?;
    }
    // Version 3: the history of attempts and the view's indexes (idempotent).
    db.execute_batch(crate::history::V3)?;
    added_within_v2(db)?;
    db.pragma_update(None, "user_version", VERSION)
}

/// The ordering state of [`ExactlyOnce::with_ordering`](crate::ExactlyOnce::with_ordering):
/// per resource ([`ResourceVersion::resource`](appwrite_webhooks::inbox::ResourceVersion)),
/// the newest version applied — `$updatedAt` in microseconds and the change's rank
/// (create 0, update 1, delete 2) — whether that was a delete, and by which delivery. Rows
/// are kept after a delete (that is what keeps a late update from resurrecting it) and never
/// swept: one small row per resource ever ordered.
pub(crate) const RESOURCE_VERSIONS: &str = "
CREATE TABLE IF NOT EXISTS resource_versions (
    resource      TEXT    NOT NULL PRIMARY KEY,
    updated_at_us INTEGER NOT NULL,
    change        INTEGER NOT NULL,
    deleted       INTEGER NOT NULL,
    delivery_id   INTEGER,
    applied_at_ms INTEGER NOT NULL
) WITHOUT ROWID";

/// What version 2 gained after it was first released, added by whichever version of this
/// crate opens the file, so no version bump is needed and an older crate still reads the file:
/// the `resource_versions` table, the `outcome` column (`'stale'` on a done row settled
/// without its handler; an older crate reads such a row as done, which it also is), and the
/// `label_until_ms` column with the trigger that keeps a deleted row's label
/// ([`OUTLIVE`](crate::labels::OUTLIVE)). An older crate sharing the file counts only the
/// `labels` table, so while both run, a body may get up to twice the labels.
fn added_within_v2(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(RESOURCE_VERSIONS)?;
    for (column, kind) in [("outcome", "TEXT"), ("label_until_ms", "INTEGER")] {
        let has_column = db
            .query_row(
                "SELECT 1 FROM pragma_table_info('deliveries') WHERE name = ?1",
                [column],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if !has_column {
            db.execute_batch(&format!(
                "ALTER TABLE deliveries ADD COLUMN {column} {kind}"
            ))?;
        }
    }
    db.execute_batch(crate::labels::OUTLIVE)
}

/// Version 1 (the inbox alone) required a body on every row. SQLite cannot relax a `NOT NULL`
/// in place, so the table is rebuilt under its name, keeping every row, every id and the id
/// sequence (a purged id is never handed out again).
fn upgrade_from_v1(db: &Connection) -> rusqlite::Result<()> {
    let sequence: i64 = db
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = 'deliveries'",
            [],
            |row| row.get(0),
        )
        .optional()?
        .unwrap_or(0);
    db.execute_batch(&format!(
        "DROP TABLE IF EXISTS deliveries_v2;
         {table};
         INSERT INTO deliveries_v2 ({V1_COLUMNS}) SELECT {V1_COLUMNS} FROM deliveries;
         DROP TABLE deliveries;
         ALTER TABLE deliveries_v2 RENAME TO deliveries;
         {INDEX};",
        table = TABLE.replace("CREATE TABLE deliveries", "CREATE TABLE deliveries_v2"),
    ))?;
    db.execute(
        "DELETE FROM sqlite_sequence WHERE name IN ('deliveries', 'deliveries_v2')",
        [],
    )?;
    db.execute(
        "INSERT INTO sqlite_sequence (name, seq)
         VALUES ('deliveries', max(?1, (SELECT coalesce(max(id), 0) FROM deliveries)))",
        [sequence],
    )?;
    Ok(())
}

/// The hard page limit under a `max_bytes` cap: the cap plus headroom. Receiving stops at
/// the cap itself ([`crate::capacity`]); the headroom is for everything that must go on at
/// the cap — taking, settling, administration, a migration — so a full ledger always drains.
pub(crate) fn limit_pages(db: &Connection, max_bytes: u64) -> rusqlite::Result<()> {
    let page_size: i64 = db.pragma_query_value(None, "page_size", |row| row.get(0))?;
    let pages: i64 = db.pragma_query_value(None, "page_count", |row| row.get(0))?;
    let cap = i64::try_from(max_bytes).unwrap_or(i64::MAX) / page_size.max(1);
    // A quarter of the cap, and at least 4 MiB: a take or a settlement needs a few pages at
    // most, a batch of administration a few hundred.
    let headroom = (cap / 4).max(4 * 1024 * 1024 / page_size.max(1));
    let limit = cap.max(pages).saturating_add(headroom);
    // SQLite's own ceiling is 2^32 - 2 pages; it clamps larger values itself.
    db.pragma_update(None, "max_page_count", limit.min(u32::MAX as i64 - 1))
}
