//! The synchronous path's exactly-once settlement: a replay claim completed in the same
//! transaction as the handler's writes.

use std::future::Future;

use appwrite_webhooks::HandlerError;
use rusqlite::{Connection, OptionalExtension, params};

use crate::ledger::SqliteLedger;
use crate::once::transaction::{LedgerTransaction, in_savepoint, release};
use crate::{after, now_ms};

#[cfg(doc)]
use crate::once::handler::ExactlyOnce;

impl SqliteLedger {
    /// The synchronous path's exactly-once settlement: completes the replay claim that
    /// `owner` holds on `fingerprint` (from [`ReplayStore::claim`](appwrite_webhooks::ReplayStore::claim)
    /// on this ledger) in the same transaction as `effects`' writes, kept done for
    /// `retention`. `Ok(true)`: both committed. `Ok(false)`: the claim is no longer `owner`'s
    /// (its lease ran out and another copy claimed it) — nothing was written. `Err`: `effects`
    /// failed or panicked, or the ledger did — nothing was written and the claim is still
    /// held: release it so the next copy is handled.
    ///
    /// This is the guard's sequence spelled out by hand — verify, claim, handle, complete —
    /// since [`Verifier::receive`](appwrite_webhooks::Verifier::receive)'s
    /// [`Claim`](appwrite_webhooks::Claim) does not hand out its token. `effects` runs on the
    /// writer thread, as [`ExactlyOnce`]'s handler does: keep it to its SQL.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use appwrite_webhooks::{ClaimOutcome, LeaseToken, ReplayStore, Verifier, sender::DeliveryBuilder};
    /// use appwrite_webhooks_sqlite::{SqliteLedger, rusqlite::params};
    ///
    /// # let path = testkit::scratch::dir("doc-guard-once").join("ledger.db");
    /// let ledger = SqliteLedger::open(&path)?;
    /// ledger.execute_batch("CREATE TABLE IF NOT EXISTS seen (event TEXT)").await?;
    /// let url = "https://example.com/hook";
    /// # let sent = DeliveryBuilder::new("k", url, r#"{"$id":"u1"}"#).events(["users.u1.create"]).build();
    /// let delivery = Verifier::new("k", url).verify(sent.headers(), sent.body())?;
    ///
    /// let owner = LeaseToken::new();
    /// let status = match ledger.claim(delivery.fingerprint(), &owner, Duration::from_secs(30)).await? {
    ///     ClaimOutcome::Claimed => {
    ///         let event = delivery.events_header().to_owned();
    ///         let settled = ledger.complete_with(delivery.fingerprint(), &owner, Duration::from_secs(86_400), move |tx| {
    ///             tx.execute("INSERT INTO seen (event) VALUES (?1)", params![event])?;
    ///             Ok(())
    ///         });
    ///         match settled.await {
    ///             Ok(true) => 200,
    ///             Ok(false) => 409, // another copy holds it now
    ///             Err(_) => {
    ///                 ledger.release(delivery.fingerprint(), &owner).await?;
    ///                 500
    ///             }
    ///         }
    ///     }
    ///     ClaimOutcome::Done => 200,
    ///     _ => 409,
    /// };
    /// assert_eq!(status, 200);
    /// # drop(ledger); let _ = std::fs::remove_file(&path);
    /// # Ok(()) }
    /// ```
    pub fn complete_with<F>(
        &self,
        fingerprint: &appwrite_webhooks::Fingerprint,
        owner: &appwrite_webhooks::LeaseToken,
        retention: std::time::Duration,
        effects: F,
    ) -> impl Future<Output = Result<bool, HandlerError>> + Send + 'static
    where
        F: FnOnce(&LedgerTransaction<'_>) -> Result<(), HandlerError> + Send + 'static,
    {
        let fingerprint = fingerprint.as_bytes().to_vec();
        let owner = owner.to_string();
        let work = move |db: &Connection| {
            let now = now_ms();
            let held = db
                .prepare_cached(
                    "SELECT id FROM deliveries
                     WHERE fingerprint = ?1 AND lease = ?2 AND state = 'pending'",
                )?
                .query_row(params![fingerprint, owner], |row| row.get::<_, i64>(0))
                .optional()?;
            let Some(id) = held else {
                return Ok(Ok(false));
            };
            if let Err(error) = in_savepoint(db, u64::try_from(id).unwrap_or(0), 1, effects)? {
                return Ok(Err(error));
            }
            let done = db
                .prepare_cached(
                    "UPDATE deliveries
                     SET state = 'done', lease = NULL, done_at_ms = ?2, keep_until_ms = ?3
                     WHERE id = ?1 AND lease = ?4 AND state = 'pending'",
                )?
                .execute(params![id, now, after(now, retention), owner])?;
            if done != 1 {
                return Err(rusqlite::Error::QueryReturnedNoRows);
            }
            release(db)?;
            Ok(Ok(true))
        };
        let ledger = self.clone();
        async move {
            match ledger.run(work).await {
                Ok(Ok(committed)) => Ok(committed),
                Ok(Err(error)) => Err(error.into()),
                Err(error) => Err(error.into()),
            }
        }
    }
}
