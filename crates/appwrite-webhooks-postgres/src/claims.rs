//! The ledger as the replay guard's store: claims are rows without a body.
//!
//! The contract is [`ReplayStore`]'s, as [`MemoryLedger`](appwrite_webhooks::MemoryLedger)
//! keeps it. Each operation is one call of a function in the schema (`claim`,
//! `label_and_claim`, `complete_claim`, `release_claim`, `label`), so it is one round trip and
//! one transaction, atomic across every replica: a concurrent claim of one fingerprint waits
//! on its unique index for the other's insert and then sees it.

use std::time::Duration;

use appwrite_webhooks::{
    ClaimOutcome, Fingerprint, LabelStore, LeaseToken, ReplayStore, StoreFuture,
};

use crate::ledger::PostgresLedger;
use crate::{Failure, ms};

/// A claim's outcome as the schema's `claim()` and `label_and_claim()` spell it; `None` when the
/// body had its limit of other labels (`over_limit`).
fn outcome(word: &str) -> Result<Option<ClaimOutcome>, Failure> {
    match word {
        "claimed" => Ok(Some(ClaimOutcome::Claimed)),
        "in_progress" => Ok(Some(ClaimOutcome::InProgress)),
        "done" => Ok(Some(ClaimOutcome::Done)),
        "over_limit" => Ok(None),
        other => Err(Failure::Invalid(format!("unknown claim outcome {other:?}"))),
    }
}

/// A label limit as `integer`.
pub(crate) fn limit_of(limit: u32) -> i32 {
    i32::try_from(limit).unwrap_or(i32::MAX)
}

/// One label count per body for the guard and the inbox alike.
impl LabelStore for PostgresLedger {
    fn label<'a>(
        &'a self,
        body: &'a Fingerprint,
        label: &'a Fingerprint,
        limit: u32,
        keep: Duration,
    ) -> StoreFuture<'a, bool> {
        self.run(async move {
            let rows = self
                .query(
                    "SELECT appwrite_webhooks.label($1, $2, $3, $4)",
                    &[
                        &body.as_bytes(),
                        &label.as_bytes(),
                        &limit_of(limit),
                        &ms(keep),
                    ],
                )
                .await?;
            Ok(rows.first().map(|row| row.try_get(0)).transpose()? == Some(true))
        })
    }
}

impl ReplayStore for PostgresLedger {
    fn claim<'a>(
        &'a self,
        fingerprint: &'a Fingerprint,
        owner: &'a LeaseToken,
        lease: Duration,
    ) -> StoreFuture<'a, ClaimOutcome> {
        self.run(async move {
            // A ledger used only as a guard has no workers to sweep it: claims do.
            self.sweep_if_due();
            let rows = self
                .query(
                    "SELECT appwrite_webhooks.claim($1, $2, $3)",
                    &[&fingerprint.as_bytes(), &owner.to_string(), &ms(lease)],
                )
                .await?;
            let word: String = rows
                .first()
                .ok_or_else(|| Failure::Invalid("claim() returned no row".into()))?
                .try_get(0)?;
            outcome(&word)?.ok_or_else(|| Failure::Invalid("claim() answered over_limit".into()))
        })
    }

    /// One statement: the schema's `label_and_claim`.
    fn label_and_claim<'a>(
        &'a self,
        body: &'a Fingerprint,
        fingerprint: &'a Fingerprint,
        owner: &'a LeaseToken,
        (limit, keep): (u32, Duration),
        lease: Duration,
    ) -> StoreFuture<'a, Option<ClaimOutcome>> {
        self.run(async move {
            self.sweep_if_due();
            let rows = self
                .query(
                    "SELECT appwrite_webhooks.label_and_claim($1, $2, $3, $4, $5, $6)",
                    &[
                        &body.as_bytes(),
                        &limit_of(limit),
                        &ms(keep),
                        &fingerprint.as_bytes(),
                        &owner.to_string(),
                        &ms(lease),
                    ],
                )
                .await?;
            let word: String = rows
                .first()
                .ok_or_else(|| Failure::Invalid("label_and_claim() returned no row".into()))?
                .try_get(0)?;
            outcome(&word)
        })
    }

    fn complete<'a>(
        &'a self,
        fingerprint: &'a Fingerprint,
        owner: &'a LeaseToken,
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        self.run(async move {
            let rows = self
                .query(
                    "SELECT appwrite_webhooks.complete_claim($1, $2, $3)",
                    &[&fingerprint.as_bytes(), &owner.to_string(), &ms(ttl)],
                )
                .await?;
            Ok(rows.first().map(|row| row.try_get(0)).transpose()? == Some(true))
        })
    }

    fn release<'a>(
        &'a self,
        fingerprint: &'a Fingerprint,
        owner: &'a LeaseToken,
    ) -> StoreFuture<'a, bool> {
        self.run(async move {
            let rows = self
                .query(
                    "SELECT appwrite_webhooks.release_claim($1, $2)",
                    &[&fingerprint.as_bytes(), &owner.to_string()],
                )
                .await?;
            Ok(rows.first().map(|row| row.try_get(0)).transpose()? == Some(true))
        })
    }
}
