//! The labels each signed body was delivered under, for the inbox and the guard alike, so a
//! captured body is handled under at most
//! [`MAX_LABELS_PER_BODY`](appwrite_webhooks::MAX_LABELS_PER_BODY) labels whichever path it
//! takes.
//!
//! A label is a delivery's identity, and an Appwrite identity begins with its body key
//! ([`Fingerprint::carries_body_key`]): when a label comes with the row that will hold its
//! delivery (a put, a claim), the rows themselves are the body's labels, found by that prefix
//! in the identities' index, and nothing else is written. Measured, a second index keyed by
//! body cost 40 % of the inbox's throughput: every insert into a hash-keyed index dirties a
//! page of its own. The `labels` table keeps the rest: labels recorded alone
//! ([`LabelStore::label`]), the labels of files written before, and the label of a row
//! deleted before its label's time was up (a released claim, a purge: [`OUTLIVE`]). One
//! function, [`admit`], counts both for every path.

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

/// Keeps the label of a deleted row until its time is up: a delivery released, swept or purged
/// early must not give its body a label back. SQLite's clock (the one `now_ms` reads too)
/// decides, in whole milliseconds as `now_ms` counts them (a Julian day in a double is a few
/// microseconds off either way); a row without a label time (an unlabelled delivery, one from
/// before) keeps none.
pub(crate) const OUTLIVE: &str = "
CREATE TRIGGER IF NOT EXISTS labels_outlive_deliveries AFTER DELETE ON deliveries
WHEN old.label_until_ms > round((julianday('now') - 2440587.5) * 86400000.0)
BEGIN
    INSERT INTO labels (body, label, keep_until_ms)
    VALUES (substr(old.fingerprint, 1, 16), old.fingerprint, old.label_until_ms)
    ON CONFLICT (body, label) DO UPDATE
        SET keep_until_ms = max(keep_until_ms, excluded.keep_until_ms);
END";

/// Admits `label` as one of `body`'s labels, unless the body has `limit` others: `None` when
/// it does not; otherwise the time until which the row the same transaction inserts next holds
/// the label (its `label_until_ms`), or `None` inside when the label was kept in the `labels`
/// table instead. The body's labels are the rows whose identities begin with its body key and
/// whose label's time is not up, and the labels the table keeps, for every path alike: a label
/// recorded alone, a guard's claim and an inbox delivery count against one limit.
///
/// `row` says that the next row has `label` as its fingerprint; it holds the label only if
/// that identity begins with the body key ([`Fingerprint::carries_body_key`]). A label that no
/// row will hold (recorded alone, an identity without its body key, a delivery whose
/// fingerprint is not its label) is kept in the table for `keep`.
pub(crate) fn admit(
    db: &Connection,
    body: &Fingerprint,
    label: &Fingerprint,
    (limit, keep): (u32, Duration),
    row: bool,
) -> rusqlite::Result<Option<Option<i64>>> {
    let now = now_ms();
    let whole = body.as_bytes();
    let prefix = &whole[..Fingerprint::BODY_KEY_PREFIX.min(whole.len())];
    // Every identity that begins with `prefix` sorts at or after it, and before `prefix`
    // followed by more 0xff bytes than any identity has after it. Only a body key longer than
    // the prefix begins identities (`carries_body_key`): a shorter one's labels are all in the
    // table, and its range is empty.
    let mut past = [0xff; Fingerprint::MAX_LEN + 1];
    past[..prefix.len()].copy_from_slice(prefix);
    let past = if whole.len() > Fingerprint::BODY_KEY_PREFIX {
        &past[..]
    } else {
        prefix
    };
    // A row is a label while its label's time is not up: a row stored without one (a plain
    // `put`, a delivery whose fingerprint is not its label) holds none. A label may be both a
    // row and a kept label (its claim released, then claimed again), so they are told apart
    // here rather than by SQLite's `UNION` (a temporary B-tree per call). A body has few: at
    // most `limit` rows and each of those once more in the table.
    let mut statement = db.prepare_cached(
        "SELECT fingerprint FROM deliveries
         WHERE fingerprint >= ?1 AND fingerprint < ?2 AND label_until_ms > ?4
         UNION ALL
         SELECT label FROM labels WHERE body IN (?3, ?1) AND keep_until_ms > ?4",
    )?;
    let mut rows = statement.query(params![prefix, past, whole, now])?;
    let mut known: Vec<Vec<u8>> = Vec::new();
    let mut mine = false;
    while let Some(found) = rows.next()? {
        let found: Vec<u8> = found.get(0)?;
        if found == label.as_bytes() {
            mine = true;
            break;
        }
        if !known.contains(&found) {
            known.push(found);
        }
    }
    drop(rows);
    if !mine && known.len() >= limit as usize {
        return Ok(None);
    }
    if row && label.carries_body_key(body) {
        return Ok(Some(Some(after(now, keep))));
    }
    if !mine {
        // The body may still have this label kept past its time (the sweep has not deleted
        // it yet): it is renewed.
        db.prepare_cached(
            "INSERT INTO labels (body, label, keep_until_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (body, label) DO UPDATE SET keep_until_ms = excluded.keep_until_ms",
        )?
        .execute(params![body.as_bytes(), label.as_bytes(), after(now, keep)])?;
    }
    Ok(Some(None))
}

impl LabelStore for SqliteLedger {
    fn label<'a>(
        &'a self,
        body: &'a Fingerprint,
        label: &'a Fingerprint,
        limit: u32,
        keep: Duration,
    ) -> StoreFuture<'a, bool> {
        let (body, label) = (*body, *label);
        self.run(move |db| Ok(admit(db, &body, &label, (limit, keep), false)?.is_some()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The trigger writes a body key's prefix as SQL, where the constant cannot reach: the two
    /// must say the same length.
    #[test]
    fn the_trigger_keeps_the_body_key_prefix_the_identities_carry() {
        let prefix = format!(
            "substr(old.fingerprint, 1, {})",
            Fingerprint::BODY_KEY_PREFIX
        );
        assert!(OUTLIVE.contains(&prefix), "{OUTLIVE}");
    }
}
