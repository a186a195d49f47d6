//! The history of attempts (schema version 3), and the queries an operator's view makes:
//! filtered pages under a keyset cursor, a delivery's attempts, activity per minute.
//!
//! An attempt's row is written in the transaction that takes the delivery and completed in the
//! one that settles it, so the history never disagrees with the delivery's state. Rows go with
//! their delivery (a trigger), so a purge or an expiry leaves none behind.

use std::time::{Duration, SystemTime};

use appwrite_webhooks::StoreFuture;
use appwrite_webhooks::inbox::{
    AttemptOutcome, AttemptRecord, FIND_SCAN_LIMIT, Filter, Minute, Page, empty_minutes,
    from_unix_millis, minute_of,
};
use rusqlite::{Connection, Row, params};

use crate::SqliteLedger;
use crate::inbox::{RECEIVED, STORED, rowid, state_filter, stored};

/// Version 3's additions, each idempotent: the attempts table, its trigger, and the indexes the
/// view's queries use (by state in id order, by arrival time).
pub(crate) const V3: &str = "
CREATE TABLE IF NOT EXISTS attempts (
    id            INTEGER PRIMARY KEY,
    delivery      INTEGER NOT NULL,
    attempt       INTEGER NOT NULL,
    lease         TEXT    NOT NULL,
    worker        TEXT,
    started_at_ms INTEGER NOT NULL,
    ended_at_ms   INTEGER,
    outcome       TEXT    NOT NULL DEFAULT 'running',
    error         TEXT
);
CREATE INDEX IF NOT EXISTS attempts_delivery ON attempts (delivery, lease);
CREATE INDEX IF NOT EXISTS attempts_ended ON attempts (ended_at_ms) WHERE ended_at_ms IS NOT NULL;
CREATE TRIGGER IF NOT EXISTS attempts_follow_deliveries AFTER DELETE ON deliveries
BEGIN
    DELETE FROM attempts WHERE delivery = old.id;
END;
CREATE INDEX IF NOT EXISTS deliveries_state_id ON deliveries (state, id) WHERE body IS NOT NULL;
CREATE INDEX IF NOT EXISTS deliveries_received ON deliveries (received_at_ms) WHERE body IS NOT NULL;
";

/// Records that attempt `attempt` at delivery `id` started under `lease`; an earlier attempt
/// still open lost its lease without an outcome (its worker died): abandoned.
pub(crate) fn taken(
    db: &Connection,
    id: i64,
    attempt: u32,
    lease: &str,
    worker: &str,
    now: i64,
) -> rusqlite::Result<()> {
    db.prepare_cached(
        "UPDATE attempts SET outcome = 'abandoned'
         WHERE delivery = ?1 AND outcome = 'running'",
    )?
    .execute(params![id])?;
    db.prepare_cached(
        "INSERT INTO attempts (delivery, attempt, lease, worker, started_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![id, attempt, lease, worker, now])?;
    Ok(())
}

/// Records how the attempt under `lease` ended.
pub(crate) fn settled(
    db: &Connection,
    id: i64,
    lease: &str,
    outcome: AttemptOutcome,
    error: Option<&str>,
    now: i64,
) -> rusqlite::Result<()> {
    db.prepare_cached(
        "UPDATE attempts SET ended_at_ms = ?3, outcome = ?4, error = ?5
         WHERE delivery = ?1 AND lease = ?2 AND outcome = 'running'",
    )?
    .execute(params![id, lease, now, outcome.as_str(), error])?;
    Ok(())
}

/// How many ids one statement of a filtered `find` covers.
const FIND_WINDOW: i64 = 2_000;

/// [`InboxAdmin::find`](appwrite_webhooks::inbox::InboxAdmin::find), highest id first.
///
/// Without conditions, or with a state alone, one indexed statement reads the page (the
/// primary key, or `deliveries_state_id`). Other conditions are checked by SQLite where it can
/// (a delivery id is a whole header line; a resource id must appear after a dot) and exactly in
/// Rust, over windows of [`FIND_WINDOW`] ids going down from the cursor, at most
/// [`FIND_SCAN_LIMIT`] ids per page: a page that reaches the bound ends early, with a cursor to
/// go on from, so no request reads the whole table.
pub(crate) fn find<'a>(
    ledger: &'a SqliteLedger,
    filter: &Filter,
    before: Option<u64>,
    limit: usize,
) -> StoreFuture<'a, Page> {
    let filter = filter.clone();
    ledger.run(move |db| find_now(db, &filter, before, limit))
}

fn find_now(
    db: &Connection,
    filter: &Filter,
    before: Option<u64>,
    limit: usize,
) -> rusqlite::Result<Page> {
    if limit == 0 {
        return Ok(Page::default());
    }
    // A stale delivery is a done row with outcome 'stale' (see `inbox::state_filter`).
    let (state, outcome) = state_filter(filter.state());
    let want = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
    let cursor = before.map_or(i64::MAX, rowid);
    let simple = filter.event().is_none()
        && filter.resource().is_none()
        && filter.delivery_id().is_none()
        && filter.since_millis().is_none()
        && filter.until_millis().is_none();
    if simple {
        let sql = format!(
            "SELECT {STORED}, {RECEIVED} FROM deliveries {}
             WHERE body IS NOT NULL AND id < ?1 AND {} ORDER BY id DESC LIMIT ?3",
            if state.is_some() {
                "INDEXED BY deliveries_state_id"
            } else {
                ""
            },
            if state.is_some() {
                "state = ?2 AND (?2 <> 'done' OR outcome IS ?4)"
            } else {
                "?2 IS NULL AND ?4 IS NULL"
            },
        );
        let mut items: Vec<_> = db
            .prepare_cached(&sql)?
            .query_map(params![cursor, state, want, outcome], stored)?
            .collect::<rusqlite::Result<_>>()?;
        let next = (items.len() > limit).then(|| items[limit - 1].id);
        items.truncate(limit);
        return Ok(Page { items, next });
    }

    let sql = format!(
        "SELECT {STORED}, {RECEIVED} FROM deliveries {}
         WHERE body IS NOT NULL AND id < ?1 AND id >= ?2 AND {}
           AND (?4 IS NULL OR received_at_ms >= ?4) AND (?5 IS NULL OR received_at_ms < ?5)
           AND (?6 IS NULL OR instr(headers, CAST('x-appwrite-webhook-delivery-id: ' || ?6 || char(10) AS BLOB)) > 0)
           AND (?7 IS NULL OR instr(headers, CAST('.' || ?7 AS BLOB)) > 0)
         ORDER BY id DESC LIMIT ?8",
        if state.is_some() { "INDEXED BY deliveries_state_id" } else { "" },
        if state.is_some() { "state = ?3 AND (?3 <> 'done' OR outcome IS ?9)" } else { "?3 IS NULL AND ?9 IS NULL" },
    );
    let mut query = db.prepare_cached(&sql)?;
    let lowest: i64 = db
        .prepare_cached("SELECT coalesce(min(id), 0) FROM deliveries")?
        .query_row([], |row| row.get(0))?;
    let highest: i64 = db
        .prepare_cached("SELECT coalesce(max(id), 0) FROM deliveries")?
        .query_row([], |row| row.get(0))?;
    let mut cursor = cursor.min(highest.saturating_add(1));
    let floor = cursor
        .saturating_sub(i64::try_from(FIND_SCAN_LIMIT).unwrap_or(i64::MAX))
        .max(lowest);
    let (since, until) = (
        filter.since_millis().map(clamp),
        filter.until_millis().map(clamp),
    );
    let mut items: Vec<appwrite_webhooks::inbox::Stored> = Vec::new();
    while cursor > floor {
        let low = cursor.saturating_sub(FIND_WINDOW).max(floor);
        let need = want - i64::try_from(items.len()).unwrap_or(0);
        let rows: Vec<_> = query
            .query_map(
                params![
                    cursor,
                    low,
                    state,
                    since,
                    until,
                    filter.delivery_id(),
                    filter.resource(),
                    need,
                    outcome
                ],
                stored,
            )?
            .collect::<rusqlite::Result<_>>()?;
        let full = i64::try_from(rows.len()).unwrap_or(i64::MAX) == need;
        let last = rows.last().map(|row| rowid(row.id));
        for row in rows {
            if filter.matches(&row) {
                items.push(row);
                if items.len() > limit {
                    items.truncate(limit);
                    let next = items.last().map(|last| last.id);
                    return Ok(Page { items, next });
                }
            }
        }
        // A window read in full goes on below its last row; otherwise below the window.
        cursor = match (full, last) {
            (true, Some(last)) => last,
            _ => low,
        };
    }
    let next = (cursor > lowest)
        .then(|| u64::try_from(cursor).ok())
        .flatten();
    Ok(Page { items, next })
}

fn clamp(millis: u64) -> i64 {
    i64::try_from(millis).unwrap_or(i64::MAX)
}

fn attempt_record(row: &Row<'_>) -> rusqlite::Result<AttemptRecord> {
    let started: i64 = row.get(2)?;
    let ended: Option<i64> = row.get(3)?;
    let outcome: String = row.get(4)?;
    let outcome = AttemptOutcome::parse(&outcome).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            4,
            rusqlite::types::Type::Text,
            "an unknown attempt outcome".into(),
        )
    })?;
    Ok(AttemptRecord {
        attempt: row.get(0)?,
        worker: row.get(1)?,
        started_at: from_unix_millis(u64::try_from(started).unwrap_or(0)),
        duration: ended.map(|ended| {
            Duration::from_millis(u64::try_from(ended.saturating_sub(started)).unwrap_or(0))
        }),
        outcome,
        error: row.get(5)?,
    })
}

/// [`InboxAdmin::attempts`](appwrite_webhooks::inbox::InboxAdmin::attempts).
pub(crate) fn attempts(
    ledger: &SqliteLedger,
    id: u64,
) -> StoreFuture<'_, Option<Vec<AttemptRecord>>> {
    ledger.run(move |db| {
        db.prepare_cached(
            "SELECT attempt, worker, started_at_ms, ended_at_ms, outcome, error
             FROM attempts WHERE delivery = ?1 ORDER BY id",
        )?
        .query_map(params![rowid(id)], attempt_record)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map(Some)
    })
}

/// [`InboxAdmin::activity`](appwrite_webhooks::inbox::InboxAdmin::activity): two grouped,
/// indexed counts.
pub(crate) fn activity(
    ledger: &SqliteLedger,
    since: SystemTime,
) -> StoreFuture<'_, Option<Vec<Minute>>> {
    ledger.run(move |db| {
        let now = SystemTime::now();
        let mut minutes = empty_minutes(since, now);
        let first = minutes.first().map_or(0, |m| m.start_millis);
        let start = clamp(first);
        let mut received = db.prepare_cached(
            "SELECT received_at_ms / 60000, count(*) FROM deliveries
             WHERE body IS NOT NULL AND received_at_ms >= ?1 GROUP BY 1",
        )?;
        let mut rows = received.query(params![start])?;
        while let Some(row) = rows.next()? {
            if let Some(m) = u64::try_from(row.get::<_, i64>(0)?)
                .ok()
                .and_then(|at| minute_of(&mut minutes, at))
            {
                m.received = u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0);
            }
        }
        let mut ended = db.prepare_cached(
            "SELECT ended_at_ms / 60000, outcome, count(*) FROM attempts
             WHERE ended_at_ms IS NOT NULL AND ended_at_ms >= ?1 GROUP BY 1, 2",
        )?;
        let mut rows = ended.query(params![start])?;
        while let Some(row) = rows.next()? {
            let n = u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0);
            let outcome = AttemptOutcome::parse(&row.get::<_, String>(1)?);
            if let Some(m) = u64::try_from(row.get::<_, i64>(0)?)
                .ok()
                .and_then(|at| minute_of(&mut minutes, at))
                && let Some(outcome) = outcome
            {
                m.count_ended(outcome, n);
            }
        }
        Ok(Some(minutes))
    })
}

/// [`InboxAdmin::delete_dead`](appwrite_webhooks::inbox::InboxAdmin::delete_dead).
pub(crate) fn delete_dead(ledger: &SqliteLedger, id: u64) -> StoreFuture<'_, bool> {
    ledger.run(move |db| {
        Ok(db
            .prepare_cached(
                "DELETE FROM deliveries WHERE id = ?1 AND state = 'dead' AND body IS NOT NULL",
            )?
            .execute(params![rowid(id)])?
            == 1)
    })
}
