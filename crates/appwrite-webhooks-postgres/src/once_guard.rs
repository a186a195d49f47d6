//! Exactly-once effects on the synchronous path: the guard's claim completed in the same
//! transaction as the handler's writes; and the ledger's database for the user's tables.

use std::time::Duration;

use appwrite_webhooks::{Fingerprint, HandlerError, LeaseToken, StoreError};

use crate::ledger::PostgresLedger;
use crate::once::{Effects, LedgerTransaction, ended_by_handler, run_effects, store};
use crate::{id_of, ms};

impl PostgresLedger {
    /// The synchronous path's exactly-once settlement: completes the replay claim that
    /// `owner` holds on `fingerprint` (from [`ReplayStore::claim`](appwrite_webhooks::ReplayStore::claim)
    /// on this ledger) in the same transaction as `effects`' writes, kept done for
    /// `retention`. `Ok(true)`: both committed. `Ok(false)`: the claim is no longer `owner`'s
    /// (completed already, or its lease ran out and another copy claimed it) — nothing was
    /// written. `Err`: `effects` failed or panicked, or the database did — nothing was written
    /// and the claim is still held: release it so the next copy is handled.
    ///
    /// This is the guard's sequence spelled out by hand — verify, claim, handle, complete —
    /// since [`Verifier::receive`](appwrite_webhooks::Verifier::receive)'s
    /// [`Claim`](appwrite_webhooks::Claim) does not hand out its token. The claim's row is
    /// locked while `effects` runs, so a copy claiming it meanwhile waits, then sees it done.
    /// Not bounded by the ledger's timeout: bound the whole request instead.
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use appwrite_webhooks::{ClaimOutcome, LeaseToken, ReplayStore, Verifier};
    /// use appwrite_webhooks_postgres::PostgresLedger;
    /// # let (headers, body) = (http::HeaderMap::new(), bytes::Bytes::new());
    ///
    /// let ledger = PostgresLedger::connect("postgres://app@db.internal/webhooks").await?;
    /// let delivery = Verifier::new("k", "https://example.com/hook").verify(&headers, &body)?;
    /// let owner = LeaseToken::new();
    /// let status = match ledger.claim(delivery.fingerprint(), &owner, Duration::from_secs(30)).await? {
    ///     ClaimOutcome::Claimed => {
    ///         let event = delivery.events_header().to_owned();
    ///         let settled = ledger.complete_with(delivery.fingerprint(), &owner, Duration::from_secs(86_400), |tx| {
    ///             Box::pin(async move {
    ///                 tx.execute("INSERT INTO seen (event) VALUES ($1)", &[&event]).await?;
    ///                 Ok(())
    ///             })
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
    /// # let _ = status;
    /// # Ok(()) }
    /// ```
    pub async fn complete_with<F>(
        &self,
        fingerprint: &Fingerprint,
        owner: &LeaseToken,
        retention: Duration,
        effects: F,
    ) -> Result<bool, HandlerError>
    where
        F: for<'a> FnOnce(&'a LedgerTransaction<'a>) -> Effects<'a>,
    {
        let (fingerprint, owner) = (fingerprint.as_bytes(), owner.to_string());
        let mut client = self.client().await.map_err(store)?;
        let tx = client.transaction().await.map_err(store)?;
        // Locked: a claim of the same fingerprint waits for this transaction, then sees it.
        let held = tx
            .query_opt(
                "SELECT id, txid_current() FROM appwrite_webhooks.deliveries
                 WHERE fingerprint = $1 AND lease = $2 AND state = 'pending'
                 FOR UPDATE",
                &[&fingerprint, &owner],
            )
            .await
            .map_err(store)?;
        let Some(row) = held else {
            tx.rollback().await.map_err(store)?;
            return Ok(false);
        };
        let (id, xid): (i64, i64) = (
            row.try_get(0).map_err(store)?,
            row.try_get(1).map_err(store)?,
        );
        let tx = LedgerTransaction {
            tx,
            id: id_of(id),
            attempt: 1,
        };
        let ran = run_effects(effects(&tx)).await;
        let LedgerTransaction { tx, .. } = tx;
        if let Err(error) = ran {
            // Dropping it would roll back too, later; an explicit one frees the lock now.
            let _ = tx.rollback().await;
            return Err(error);
        }
        let done = tx
            .execute(
                "UPDATE appwrite_webhooks.deliveries
                 SET state = 'done', lease = NULL, done_at_ms = appwrite_webhooks.now_ms(),
                     keep_until_ms = appwrite_webhooks.after(appwrite_webhooks.now_ms(), $3)
                 WHERE id = $1 AND lease = $2 AND state = 'pending' AND txid_current() = $4",
                &[&id, &owner, &ms(retention), &xid],
            )
            .await
            .map_err(store)?;
        if done != 1 {
            let _ = tx.rollback().await;
            return Err(ended_by_handler());
        }
        tx.commit().await.map_err(store)?;
        Ok(true)
    }

    /// Runs `sql` (statements separated by `;`) in one transaction: to create your tables in
    /// the ledger's database, as `SqliteLedger::execute_batch` does in its file. Bounded by
    /// the ledger's timeout. Your own migrations do the same.
    pub async fn execute_batch(&self, sql: &str) -> Result<(), StoreError> {
        self.run(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            tx.batch_execute(sql).await?;
            Ok(tx.commit().await?)
        })
        .await
    }
}
