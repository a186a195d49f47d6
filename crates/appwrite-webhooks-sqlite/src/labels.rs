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
//! deleted before its label's time was up (a released claim, a purge: [`OUTLIVE`]).

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

/// Records `label` in the `labels` table, unless `body` has `limit` other labels there.
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

/// Admits the label of a delivery whose row the same transaction goes on to insert (or finds):
/// `None` when `body` already has `limit` other labels; otherwise the time until which the new
/// row holds its label (its `label_until_ms`), or `None` inside when the label was recorded in
/// the `labels` table instead (an identity that does not carry its body key).
pub(crate) fn label_with_row(
    db: &Connection,
    body: &Fingerprint,
    label: &Fingerprint,
    limit: u32,
    keep: Duration,
) -> rusqlite::Result<Option<Option<i64>>> {
    if !label.carries_body_key(body) {
        let admitted = label_now(db, body.as_bytes(), label.as_bytes(), limit, keep)?;
        return Ok(admitted.then_some(None));
    }
    let now = now_ms();
    let prefix = &body.as_bytes()[..Fingerprint::BODY_KEY_PREFIX];
    // Every identity that begins with `prefix` sorts at or after it, and before `prefix`
    // followed by more 0xff bytes than any identity has after it.
    let mut end = [0xff; Fingerprint::MAX_LEN + 1];
    end[..prefix.len()].copy_from_slice(prefix);
    // A label may be both a row and a kept label (its claim released, then claimed again), so
    // they are told apart here rather than by SQLite's `UNION` (a temporary B-tree per call).
    // A body has few: at most `limit` rows and each of those once more in the table.
    let mut statement = db.prepare_cached(
        "SELECT fingerprint FROM deliveries WHERE fingerprint >= ?1 AND fingerprint < ?2
         UNION ALL
         SELECT label FROM labels WHERE body IN (?3, ?1) AND keep_until_ms > ?4",
    )?;
    let mut rows = statement.query(params![prefix, &end[..], body.as_bytes(), now])?;
    let mut known: Vec<Vec<u8>> = Vec::new();
    while let Some(row) = rows.next()? {
        let known_label: Vec<u8> = row.get(0)?;
        if known_label == label.as_bytes() {
            return Ok(Some(Some(after(now, keep))));
        }
        if !known.contains(&known_label) {
            known.push(known_label);
        }
    }
    if known.len() >= limit as usize {
        return Ok(None);
    }
    Ok(Some(Some(after(now, keep))))
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
