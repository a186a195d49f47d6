//! The ledger as the replay guard's store: claims are rows without a body.
//!
//! The contract is [`ReplayStore`]'s, as [`MemoryLedger`](appwrite_webhooks::MemoryLedger) keeps
//! it: a fingerprint is absent, pending (owned by one attempt's token until its lease ends) or
//! done (for the TTL); `complete` and `release` act only for the owner (`complete` also when
//! nobody holds it: the handler still succeeded). Each operation is one statement group in
//! one transaction, so it is atomic across every process sharing the file.
//!
//! Where a fingerprint is held by an inbox delivery (see the [crate docs](crate)): done is
//! [`ClaimOutcome::Done`]; pending or dead is [`ClaimOutcome::InProgress`] — no handler has
//! succeeded with it yet, so the guard must not answer a `2xx`.

use std::time::Duration;

use appwrite_webhooks::{ClaimOutcome, Fingerprint, LeaseToken, ReplayStore, StoreFuture};
use rusqlite::{Connection, params};

use crate::labels::admit;
use crate::ledger::{SqliteLedger, forget_expired};
use crate::{after, capacity, now_ms};

/// Claims `fingerprint` for `owner`; a new claim's row holds its label until `label_until`
/// (see [`admit`]).
fn claim_now(
    db: &Connection,
    fingerprint: &[u8],
    owner: &str,
    lease: Duration,
    max_bytes: Option<u64>,
    label_until: Option<i64>,
) -> rusqlite::Result<ClaimOutcome> {
    let now = now_ms();
    forget_expired(db, fingerprint, now)?;
    let inserted = db
        .prepare_cached(
            "INSERT INTO deliveries (fingerprint, received_at_ms, state, attempts, due_at_ms, lease,
                                     label_until_ms)
             VALUES (?1, ?2, 'pending', 0, ?3, ?4, ?5) ON CONFLICT (fingerprint) DO NOTHING",
        )?
        .execute(params![fingerprint, now, after(now, lease), owner, label_until])?;
    if inserted == 1 {
        // A new claim is receiving: it obeys the cap (settling never has to).
        capacity::check(db, max_bytes)?;
        return Ok(ClaimOutcome::Claimed);
    }
    let state: String = db
        .prepare_cached("SELECT state FROM deliveries WHERE fingerprint = ?1")?
        .query_row(params![fingerprint], |row| row.get(0))?;
    Ok(match state.as_str() {
        "done" => ClaimOutcome::Done,
        _ => ClaimOutcome::InProgress,
    })
}

fn complete_now(
    db: &Connection,
    fingerprint: &[u8],
    owner: &str,
    ttl: Duration,
) -> rusqlite::Result<bool> {
    let now = now_ms();
    forget_expired(db, fingerprint, now)?;
    let keep_until = after(now, ttl);
    // Held by this owner, or by nobody: its lease ran out, or it is an inbox delivery no
    // worker holds (kept in a claim's row by a put; the guard's handler succeeded with it).
    let finished = db
        .prepare_cached(
            "UPDATE deliveries
             SET state = 'done', lease = NULL, done_at_ms = ?2, keep_until_ms = ?3
             WHERE fingerprint = ?1 AND state = 'pending'
               AND (lease = ?4 OR lease IS NULL OR due_at_ms <= ?2)",
        )?
        .execute(params![fingerprint, now, keep_until, owner])?;
    if finished == 1 {
        return Ok(true);
    }
    // Absent (its lease ran out and it was swept, or another's release): still handled.
    let recorded = db
        .prepare_cached(
            "INSERT INTO deliveries (fingerprint, received_at_ms, state, attempts, due_at_ms,
                                     done_at_ms, keep_until_ms)
             VALUES (?1, ?2, 'done', 0, ?2, ?2, ?3) ON CONFLICT (fingerprint) DO NOTHING",
        )?
        .execute(params![fingerprint, now, keep_until])?;
    Ok(recorded == 1)
}

fn release_now(db: &Connection, fingerprint: &[u8], owner: &str) -> rusqlite::Result<bool> {
    let forgotten = db
        .prepare_cached(
            "DELETE FROM deliveries
             WHERE fingerprint = ?1 AND state = 'pending' AND body IS NULL AND lease = ?2",
        )?
        .execute(params![fingerprint, owner])?;
    if forgotten == 1 {
        return Ok(true);
    }
    // A claim whose row a put filled with the delivery: not forgotten but handed to workers,
    // due now, so the 202 that put answered is honoured.
    let handed_over = db
        .prepare_cached(
            "UPDATE deliveries SET lease = NULL, due_at_ms = ?3
             WHERE fingerprint = ?1 AND state = 'pending' AND body IS NOT NULL AND lease = ?2",
        )?
        .execute(params![fingerprint, owner, now_ms()])?;
    Ok(handed_over == 1)
}

impl ReplayStore for SqliteLedger {
    fn claim<'a>(
        &'a self,
        fingerprint: &'a Fingerprint,
        owner: &'a LeaseToken,
        lease: Duration,
    ) -> StoreFuture<'a, ClaimOutcome> {
        let (fingerprint, owner) = (fingerprint.as_bytes().to_vec(), owner.to_string());
        let (max_bytes, sweep) = (self.max_bytes(), self.sweep_if_due());
        self.run(move |db| {
            // A ledger used only as a guard has no workers to sweep it: claims do.
            sweep(db, now_ms())?;
            claim_now(db, &fingerprint, &owner, lease, max_bytes, None)
        })
    }

    /// One transaction: the label and the claim together.
    fn label_and_claim<'a>(
        &'a self,
        body: &'a Fingerprint,
        fingerprint: &'a Fingerprint,
        owner: &'a LeaseToken,
        (limit, keep): (u32, Duration),
        lease: Duration,
    ) -> StoreFuture<'a, Option<ClaimOutcome>> {
        let (body, fingerprint) = (*body, *fingerprint);
        let owner = owner.to_string();
        let (max_bytes, sweep) = (self.max_bytes(), self.sweep_if_due());
        self.run(move |db| {
            sweep(db, now_ms())?;
            let Some(label_until) = admit(db, &body, &fingerprint, (limit, keep), true)? else {
                return Ok(None);
            };
            let fingerprint = fingerprint.as_bytes();
            claim_now(db, fingerprint, &owner, lease, max_bytes, label_until).map(Some)
        })
    }

    fn complete<'a>(
        &'a self,
        fingerprint: &'a Fingerprint,
        owner: &'a LeaseToken,
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        let (fingerprint, owner) = (fingerprint.as_bytes().to_vec(), owner.to_string());
        self.run(move |db| complete_now(db, &fingerprint, &owner, ttl))
    }

    fn release<'a>(
        &'a self,
        fingerprint: &'a Fingerprint,
        owner: &'a LeaseToken,
    ) -> StoreFuture<'a, bool> {
        let (fingerprint, owner) = (fingerprint.as_bytes().to_vec(), owner.to_string());
        self.run(move |db| release_now(db, &fingerprint, &owner))
    }
}
