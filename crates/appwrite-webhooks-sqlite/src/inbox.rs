//! The ledger as an inbox: storing deliveries, workers taking and settling them, inspection.

use std::time::{Duration, SystemTime};

use appwrite_webhooks::inbox::{
    AttemptOutcome, AttemptRecord, Filter, InboxAdmin, InboxStore, Lease, Minute, Page, Purge, Put,
    Received, State, Stats, Stored, Taken, from_unix_millis,
};
use appwrite_webhooks::{Fingerprint, LeaseToken, StoreFuture};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::labels::admit;
use crate::ledger::{SqliteLedger, forget_expired};
use crate::{after, capacity, millis, now_ms};

pub(crate) const RECEIVED: &str = "fingerprint, received_at_ms, uri, headers, body";

fn received(row: &Row<'_>, at: usize) -> rusqlite::Result<Received> {
    let headers: Vec<u8> = row.get(at + 3)?;
    let received_at: i64 = row.get(at + 1)?;
    Ok(Received {
        fingerprint: row.get(at)?,
        received_at: from_unix_millis(u64::try_from(received_at).unwrap_or(0)),
        uri: row.get(at + 2)?,
        headers: Received::parse_header_block(&headers).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(at + 3, rusqlite::types::Type::Blob, e.into())
        })?,
        body: row.get::<_, Vec<u8>>(at + 4)?.into(),
    })
}

/// The columns [`stored`] reads.
pub(crate) const STORED: &str = "id, state, attempts, last_error, outcome";

pub(crate) fn stored(row: &Row<'_>) -> rusqlite::Result<Stored> {
    let state: String = row.get(1)?;
    let outcome: Option<String> = row.get(4)?;
    let state = match State::parse(&state) {
        // A done row settled without its handler (see `ExactlyOnce::with_ordering`).
        Ok(State::Done) if outcome.as_deref() == Some("stale") => State::Stale,
        Ok(state) => state,
        Err(e) => {
            return Err(rusqlite::Error::FromSqlConversionFailure(
                1,
                rusqlite::types::Type::Text,
                e.into(),
            ));
        }
    };
    Ok(Stored {
        id: id_of(row.get(0)?),
        state,
        attempts: row.get(2)?,
        last_error: row.get(3)?,
        received: received(row, 5)?,
    })
}

/// How a [`State`] is written: a state column, and for a stale row the outcome column.
pub(crate) fn state_filter(state: Option<State>) -> (Option<&'static str>, Option<&'static str>) {
    match state {
        None => (None, None),
        Some(State::Stale) => (Some("done"), Some("stale")),
        Some(state) => (Some(state.as_str()), None),
    }
}

/// A row id as the inbox's id (ids are positive).
fn id_of(rowid: i64) -> u64 {
    u64::try_from(rowid).unwrap_or(0)
}

/// An inbox id as a row id: one past what SQLite holds matches nothing.
pub(crate) fn rowid(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(-1)
}

/// Stores `received` unless its fingerprint is held; in the receiving request's savepoint. A new
/// row holds its label until `label_until` (see [`admit`]).
fn put_now(
    db: &Connection,
    received: &Received,
    max_bytes: Option<u64>,
    label_until: Option<i64>,
) -> rusqlite::Result<Put> {
    let now = now_ms();
    // A done delivery past its retention, or a claim whose lease ran out, no longer counts.
    forget_expired(db, &received.fingerprint, now)?;
    let inserted = db
        .prepare_cached(
            "INSERT INTO deliveries (fingerprint, received_at_ms, uri, headers, body, state, attempts,
                                     due_at_ms, label_until_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6, ?7) ON CONFLICT (fingerprint) DO NOTHING",
        )?
        .execute(params![
            received.fingerprint,
            millis(received.received_at),
            received.uri,
            received.header_block(),
            &received.body[..],
            // Due on arrival (oldest first), but never later than now: a delivery stamped in
            // the future (a clock that jumped) must not hide from workers until then.
            millis(received.received_at).min(now),
            label_until,
        ])?;
    if inserted == 1 {
        let id = db.last_insert_rowid();
        capacity::check(db, max_bytes)?;
        return Ok(Put::Stored(id_of(id)));
    }
    let id: i64 = db
        .prepare_cached("SELECT id FROM deliveries WHERE fingerprint = ?1")?
        .query_row(params![received.fingerprint], |row| row.get(0))?;
    // A pending claim holds the fingerprint: a guard's request is handling this delivery now.
    // Keep the delivery in the claim's row, so that if that request fails (the claim is
    // released, or its lease runs out) workers handle it: the 202 this answers is honoured.
    let adopted = db
        .prepare_cached(
            "UPDATE deliveries SET received_at_ms = ?2, uri = ?3, headers = ?4, body = ?5
             WHERE id = ?1 AND state = 'pending' AND body IS NULL",
        )?
        .execute(params![
            id,
            millis(received.received_at),
            received.uri,
            received.header_block(),
            &received.body[..],
        ])?;
    if adopted == 1 {
        capacity::check(db, max_bytes)?;
    }
    Ok(Put::Duplicate(id_of(id)))
}

/// Takes the oldest due delivery for `worker` with a fresh per-attempt token.
fn take_now(
    db: &Connection,
    worker: &str,
    visibility: Duration,
) -> rusqlite::Result<Option<Taken>> {
    let now = now_ms();
    // One token per attempt, never per worker: an attempt whose lease passed cannot settle
    // the attempt that took the delivery after it, even under the same worker name.
    let token = LeaseToken::new().to_string();
    db.prepare_cached(&format!(
        "UPDATE deliveries SET lease = ?1, worker = ?2, attempts = attempts + 1, due_at_ms = ?4
         WHERE id = (SELECT id FROM deliveries
                     WHERE state = 'pending' AND due_at_ms <= ?3 AND body IS NOT NULL
                     ORDER BY due_at_ms, id LIMIT 1)
         RETURNING id, attempts, {RECEIVED}"
    ))?
    .query_row(params![token, worker, now, after(now, visibility)], |row| {
        Ok(Taken {
            lease: Lease {
                id: id_of(row.get(0)?),
                token: token.clone(),
            },
            attempt: row.get(1)?,
            received: received(row, 2)?,
        })
    })
    .optional()
    .and_then(|taken| {
        if let Some(taken) = &taken {
            crate::history::taken(
                db,
                rowid(taken.lease.id),
                taken.attempt,
                &token,
                worker,
                now,
            )?;
        }
        Ok(taken)
    })
}

/// Applies an outcome only while `lease` holds the delivery: its id, its attempt's token, and
/// still pending. `set` assigns from `?1` on; `values` binds them.
fn settle<'a>(
    store: &'a SqliteLedger,
    lease: &Lease,
    set: &'static str,
    (outcome, error): (AttemptOutcome, Option<String>),
    values: impl FnOnce(i64) -> Vec<Value> + Send + 'static,
) -> StoreFuture<'a, bool> {
    let (id, token) = (rowid(lease.id), lease.token.clone());
    store.run(move |db| {
        let now = now_ms();
        let mut values = values(now);
        values.push(Value::Integer(id));
        values.push(Value::Text(token.clone()));
        let n = values.len();
        let sql = format!(
            "UPDATE deliveries SET lease = NULL, {set}
             WHERE id = ?{} AND lease = ?{n} AND state = 'pending' AND body IS NOT NULL",
            n - 1
        );
        // One statement per outcome kind: prepared once, like the rest of the hot path.
        let settled = db
            .prepare_cached(&sql)?
            .execute(rusqlite::params_from_iter(values))?
            == 1;
        if settled {
            crate::history::settled(db, id, &token, outcome, error.as_deref(), now)?;
        }
        Ok(settled)
    })
}

impl InboxStore for SqliteLedger {
    fn put(&self, received: Received) -> StoreFuture<'_, Put> {
        let max_bytes = self.max_bytes();
        self.run_flushed(true, move |db| put_now(db, &received, max_bytes, None))
    }

    /// One job for the ledger's thread, in one savepoint: a delivery refused (a full file) keeps
    /// no label either, and label and delivery share one commit.
    fn label_and_put<'a>(
        &'a self,
        body: &'a Fingerprint,
        fingerprint: &'a Fingerprint,
        (limit, keep): (u32, Duration),
        received: Received,
    ) -> StoreFuture<'a, Put> {
        let (body, label) = (*body, *fingerprint);
        let max_bytes = self.max_bytes();
        self.run_flushed(true, move |db| {
            let row = label.as_bytes() == received.fingerprint;
            let Some(label_until) = admit(db, &body, &label, (limit, keep), row)? else {
                return Ok(Put::OverLabelLimit);
            };
            put_now(db, &received, max_bytes, label_until)
        })
    }

    fn take(&self, worker: &str, visibility: Duration) -> StoreFuture<'_, Option<Taken>> {
        let worker = worker.to_owned();
        let sweep = self.sweep_if_due();
        self.run(move |db| {
            sweep(db, now_ms())?;
            take_now(db, &worker, visibility)
        })
    }

    fn complete(&self, lease: &Lease, retention: Duration) -> StoreFuture<'_, bool> {
        settle(
            self,
            lease,
            "state = 'done', done_at_ms = ?1, keep_until_ms = ?2",
            (AttemptOutcome::Done, None),
            move |now| vec![now.into(), after(now, retention).into()],
        )
    }

    fn fail(&self, lease: &Lease, error: &str, at: SystemTime) -> StoreFuture<'_, bool> {
        let (error, at) = (error.to_owned(), millis(at));
        settle(
            self,
            lease,
            "due_at_ms = ?2, last_error = ?3",
            (AttemptOutcome::Retry, Some(error.clone())),
            move |now| vec![now.into(), at.into(), error.into()],
        )
    }

    fn dead(&self, lease: &Lease, error: &str) -> StoreFuture<'_, bool> {
        let error = error.to_owned();
        settle(
            self,
            lease,
            "state = 'dead', done_at_ms = ?1, last_error = ?2",
            (AttemptOutcome::Dead, Some(error.clone())),
            move |now| vec![now.into(), error.into()],
        )
    }

    fn hand_back(&self, lease: &Lease) -> StoreFuture<'_, bool> {
        settle(
            self,
            lease,
            "due_at_ms = ?1, attempts = max(attempts - 1, 0)",
            (AttemptOutcome::HandedBack, None),
            move |now| vec![now.into()],
        )
    }
}

impl InboxAdmin for SqliteLedger {
    fn stats(&self) -> StoreFuture<'_, Stats> {
        self.run(|db| {
            let mut stats = Stats::default();
            let mut query = db.prepare_cached(
                "SELECT state, count(*), coalesce(sum(lease IS NOT NULL AND due_at_ms > ?1), 0),
                        coalesce(sum(outcome = 'stale'), 0)
                 FROM deliveries WHERE body IS NOT NULL GROUP BY state",
            )?;
            let mut rows = query.query(params![now_ms()])?;
            while let Some(row) = rows.next()? {
                let (state, count, leased, stale): (String, i64, i64, i64) =
                    (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
                let (count, leased, stale) = (id_of(count), id_of(leased), id_of(stale));
                match state.as_str() {
                    "pending" => {
                        stats.pending = count;
                        stats.in_flight = leased;
                    }
                    "done" => {
                        stats.done = count - stale;
                        stats.stale = stale;
                    }
                    _ => stats.dead += count,
                }
            }
            stats.stored = stats.pending + stats.done + stats.dead + stats.stale;
            Ok(stats)
        })
    }

    fn list(&self, state: Option<State>, limit: usize) -> StoreFuture<'_, Vec<Stored>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |db| {
            let mut query = db.prepare_cached(&format!(
                "SELECT {STORED}, {RECEIVED} FROM deliveries
                 WHERE (?1 IS NULL OR state = ?1)
                   AND (?1 IS NULL OR ?1 <> 'done' OR outcome IS ?3)
                   AND body IS NOT NULL ORDER BY id LIMIT ?2"
            ))?;
            let (state, outcome) = state_filter(state);
            query
                .query_map(params![state, limit, outcome], stored)?
                .collect()
        })
    }

    fn get(&self, id: u64) -> StoreFuture<'_, Option<Stored>> {
        self.run(move |db| {
            db.prepare_cached(&format!(
                "SELECT {STORED}, {RECEIVED} FROM deliveries
                 WHERE id = ?1 AND body IS NOT NULL"
            ))?
            .query_row(params![rowid(id)], stored)
            .optional()
        })
    }

    fn requeue(&self, id: u64) -> StoreFuture<'_, bool> {
        self.run(move |db| {
            Ok(db.execute(
                "UPDATE deliveries SET state = 'pending', attempts = 0, due_at_ms = ?1, lease = NULL
                 WHERE id = ?2 AND state = 'dead' AND body IS NOT NULL",
                params![now_ms(), rowid(id)],
            )? == 1)
        })
    }

    fn requeue_dead(&self) -> StoreFuture<'_, u64> {
        Box::pin(crate::admin::requeue_dead(self))
    }

    fn purge(&self, what: Purge) -> StoreFuture<'_, u64> {
        Box::pin(crate::admin::purge(self, what))
    }

    fn find<'a>(
        &'a self,
        filter: &'a Filter,
        before: Option<u64>,
        limit: usize,
    ) -> StoreFuture<'a, Page> {
        crate::history::find(self, filter, before, limit)
    }

    fn attempts(&self, id: u64) -> StoreFuture<'_, Option<Vec<AttemptRecord>>> {
        crate::history::attempts(self, id)
    }

    fn activity(&self, since: SystemTime) -> StoreFuture<'_, Option<Vec<Minute>>> {
        crate::history::activity(self, since)
    }

    fn delete_dead(&self, id: u64) -> StoreFuture<'_, bool> {
        crate::history::delete_dead(self, id)
    }
}
