//! Exactly-once effects on the synchronous path, on a real Postgres: a replay claim completed
//! with `complete_with` commits the handler's writes with it, or neither.

mod common;
mod once_support;

use std::time::Duration;

use appwrite_webhooks::{ClaimOutcome, Fingerprint, HandlerError, LeaseToken, ReplayStore};
use appwrite_webhooks_postgres::{Effects, LedgerTransaction};
use common::PostgresServer;
use once_support::{count, with_tables};

/// Effects that write one row, then fail as `fail` says.
fn write(fail: &'static str) -> impl for<'a> FnOnce(&'a LedgerTransaction<'a>) -> Effects<'a> {
    move |tx| {
        Box::pin(async move {
            let id = tx.delivery_id() as i64;
            tx.execute(
                "INSERT INTO effects (delivery_id, attempt) VALUES ($1, 1)",
                &[&id],
            )
            .await?;
            match fail {
                "error" => Err(HandlerError::from("failed after writing")),
                "panic" => panic!("panicked after writing"),
                _ => Ok(()),
            }
        })
    }
}

/// The synchronous path: a claim completed with `complete_with` commits the effects with it;
/// a failing or panicking effect writes nothing and leaves the claim held; a claim that passed
/// to another copy writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_path_commits_effects_with_the_claim() {
    let server = PostgresServer::start();
    let ledger = with_tables(&server, "guard").await;
    let effects = || count(&server, "guard", "SELECT count(*) FROM effects");
    let (lease, keep) = (Duration::from_secs(60), Duration::from_secs(3600));
    let (delivery, first, second) = (
        Fingerprint::new(&[9; 20]),
        LeaseToken::new(),
        LeaseToken::new(),
    );
    assert_eq!(
        ledger.claim(&delivery, &first, lease).await.unwrap(),
        ClaimOutcome::Claimed
    );
    for fail in ["error", "panic"] {
        let error = ledger
            .complete_with(&delivery, &first, keep, write(fail))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("after writing"), "{error}");
        assert_eq!(effects(), 0, "{fail}: rolled back");
        assert_eq!(
            ledger.claim(&delivery, &second, lease).await.unwrap(),
            ClaimOutcome::InProgress,
            "{fail}: the claim is still held"
        );
    }
    let done = ledger.complete_with(&delivery, &first, keep, write(""));
    assert!(done.await.unwrap());
    assert_eq!(effects(), 1);
    assert_eq!(
        ledger.claim(&delivery, &second, lease).await.unwrap(),
        ClaimOutcome::Done
    );
    // Completed already: a second completion is not the owner's any more, and writes nothing.
    let again = ledger.complete_with(&delivery, &first, keep, write(""));
    assert!(!again.await.unwrap());
    assert_eq!(effects(), 1);

    // A claim whose lease ran out and passed to another copy, on another replica.
    let other = Fingerprint::new(&[10; 20]);
    let (late, taker) = (LeaseToken::new(), LeaseToken::new());
    ledger
        .claim(&other, &late, Duration::from_millis(1))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let replica = common::replica(&server, "guard");
    assert_eq!(
        replica.claim(&other, &taker, lease).await.unwrap(),
        ClaimOutcome::Claimed
    );
    let late = ledger.complete_with(&other, &late, keep, write(""));
    assert!(!late.await.unwrap());
    assert_eq!(effects(), 1);
    let taken = replica.complete_with(&other, &taker, keep, write(""));
    assert!(taken.await.unwrap());
    assert_eq!(effects(), 2);
}
