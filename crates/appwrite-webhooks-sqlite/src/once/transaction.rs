//! The handle an exactly-once handler writes through, and the savepoint its writes run in —
//! one protocol for the inbox's handler and the guard's `complete_with`, so that a failed, a
//! panicking and a transaction-ending handler are treated alike on both paths.

use std::ops::Deref;
use std::panic::{AssertUnwindSafe, catch_unwind};

use appwrite_webhooks::HandlerError;
use rusqlite::Connection;

#[cfg(doc)]
use crate::once::handler::ExactlyOnce;

/// The ledger's transaction, as an [`ExactlyOnce`] handler sees it: a [`Connection`] (through
/// `Deref`) inside the transaction that will also record its delivery done.
///
/// Write your tables with it as with any `rusqlite` connection (`execute`, `prepare_cached`,
/// `query_row`). Return `Err` to undo everything you wrote; never run `COMMIT`, `ROLLBACK`,
/// `BEGIN` or `RELEASE` yourself — the ledger does, and a handler that ends the transaction
/// fails its attempt and every request that shared it. The tables are yours: any name but
/// `deliveries`, `labels` and `resource_versions`.
pub struct LedgerTransaction<'a> {
    db: &'a Connection,
    id: u64,
    attempt: u32,
}

impl LedgerTransaction<'_> {
    /// The delivery's inbox id (what `appwrite-webhooks inbox show` takes).
    pub fn delivery_id(&self) -> u64 {
        self.id
    }

    /// Which attempt this is, from 1.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }
}

impl Deref for LedgerTransaction<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.db
    }
}

impl std::fmt::Debug for LedgerTransaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerTransaction")
            .field("delivery_id", &self.id)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

/// Runs `effects` through a [`LedgerTransaction`] for attempt `attempt` of delivery `id`, in a
/// savepoint of the writer's transaction. `Ok(Ok(()))`: the writes are made and the savepoint
/// is still open — the caller records the `done` and releases it, so both commit together.
/// `Ok(Err(why))`: `effects` failed or panicked, and its writes are rolled back. `Err`: SQLite
/// failed, or the handler ended the transaction itself.
pub(crate) fn in_savepoint(
    db: &Connection,
    id: u64,
    attempt: u32,
    effects: impl FnOnce(&LedgerTransaction<'_>) -> Result<(), HandlerError>,
) -> rusqlite::Result<Result<(), String>> {
    db.execute_batch("SAVEPOINT effects")?;
    let tx = LedgerTransaction { db, id, attempt };
    let ran = catch_unwind(AssertUnwindSafe(|| effects(&tx)));
    if db.is_autocommit() {
        return Err(ended_by_handler());
    }
    let failure = match ran {
        Ok(Ok(())) => return Ok(Ok(())),
        Ok(Err(error)) => error.to_string(),
        Err(panic) => format!("handler panicked: {}", panic_message(&*panic)),
    };
    db.execute_batch("ROLLBACK TO effects; RELEASE effects")?;
    Ok(Err(failure))
}

/// Ends the savepoint that [`in_savepoint`] left open, keeping its writes in the writer's
/// transaction: call it once the `done` is recorded beside them.
pub(crate) fn release(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch("RELEASE effects")
}

/// The handler ended the transaction itself: nothing in it can be vouched for, and the writer
/// fails every request that shared it.
fn ended_by_handler() -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_MISUSE),
        Some("an exactly-once handler ended the ledger's transaction".to_owned()),
    )
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(not a string)")
}
