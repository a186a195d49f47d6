//! The labels each signed body was delivered under, for the inbox and the guard alike: one
//! table, so a captured body is handled under at most
//! [`MAX_LABELS_PER_BODY`](appwrite_webhooks::MAX_LABELS_PER_BODY) labels whichever path it
//! takes.

use std::time::Duration;

use appwrite_webhooks::{Fingerprint, LabelStore, StoreFuture};
use rusqlite::{Connection, params};

use crate::ledger::SqliteLedger;
use crate::{after, now_ms};

/// The table, created by the schema's migration (idempotent).
pub(crate) const TABLE: &str = "
CREATE TABLE IF NOT EXISTS labels (
    body BLOB NOT NULL,
    label BLOB NOT NULL,
    keep_until_ms INTEGER NOT NULL,
    PRIMARY KEY (body, label)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS labels_expiry ON labels (keep_until_ms)";

pub(crate) fn label_now(
    db: &Connection,
    body: &[u8],
    label: &[u8],
    limit: u32,
    keep: Duration,
) -> rusqlite::Result<bool> {
    let now = now_ms();
    db.prepare_cached("DELETE FROM labels WHERE body = ?1 AND keep_until_ms <= ?2")?
        .execute(params![body, now])?;
    let known = db
        .prepare_cached(
            "SELECT count(*), coalesce(sum(label = ?2), 0) FROM labels WHERE body = ?1",
        )?
        .query_row(params![body, label], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?))
        })?;
    match known {
        (_, mine) if mine > 0 => Ok(true),
        (count, _) if count >= i64::from(limit) => Ok(false),
        _ => {
            db.prepare_cached(
                "INSERT INTO labels (body, label, keep_until_ms) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![body, label, after(now, keep)])?;
            Ok(true)
        }
    }
}

impl LabelStore for SqliteLedger {
    fn label<'a>(
        &'a self,
        body: &'a Fingerprint,
        label: &'a Fingerprint,
        limit: u32,
        keep: Duration,
    ) -> StoreFuture<'a, bool> {
        let (body, label) = (body.as_bytes().to_vec(), label.as_bytes().to_vec());
        self.run(move |db| label_now(db, &body, &label, limit, keep))
    }
}
