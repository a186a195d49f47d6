//! Exactly-once effects and leases on a real Postgres: an attempt whose lease passed to another
//! commits nothing; an attempt whose lease ran out but whose transaction still holds the
//! delivery is never taken over meanwhile; a handler that ends the transaction itself fails its
//! attempt.

mod common;
mod once_support;

use std::sync::Arc;
use std::time::Duration;

use appwrite_webhooks::inbox::{
    Attempt, Handled, Inbox, InboxHandler, InboxStore, RetryPolicy, State, Taken, Workers,
};
use common::PostgresServer;
use once_support::*;

/// The attempt a worker would pass for `taken`.
fn attempt_for(taken: &Taken) -> Attempt {
    Attempt::new(
        taken.lease.clone(),
        taken.attempt,
        Duration::from_secs(3600),
        std::time::Instant::now() + Duration::from_secs(30),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_lease_commits_nothing() {
    let server = PostgresServer::start();
    let ledger = with_tables(&server, "lease").await;
    let inbox = Inbox::new(ledger.clone());
    let sent = Outgoing {
        delivery_id: "d1".into(),
        event: "users.u1.create".into(),
        body: r#"{"$id":"u1","name":"Ada"}"#.into(),
    };
    accept(&inbox, &sent).await;
    // Taken under one lease, then by another attempt once it ran out (on another replica:
    // the first one's process "died").
    let first = ledger
        .take("a", Duration::from_millis(1))
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let other = common::replica(&server, "lease");
    let second = other
        .take("b", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_ne!(first.lease, second.lease);
    // The first attempt's handler runs now: it must commit nothing.
    let handler = Arc::new(mirror(&ledger, |_, _| Ok(())));
    let delivery = verifier().verify_stored(&first.received).await.unwrap();
    let handled = Arc::clone(&handler)
        .handle_attempt(delivery.clone(), attempt_for(&first))
        .await
        .unwrap();
    assert_eq!(handled, Handled::LeaseLost);
    assert_eq!(count(&server, "lease", "SELECT count(*) FROM effects"), 0);
    // The second settles it, once.
    let handled = handler
        .handle_attempt(delivery, attempt_for(&second))
        .await
        .unwrap();
    assert_eq!(handled, Handled::Done);
    assert_eq!(count(&server, "lease", "SELECT count(*) FROM effects"), 1);
    assert_eq!(users(&server, "lease").len(), 1);
    let row = inbox.admin().get(second.lease.id).await.unwrap().unwrap();
    assert_eq!(row.state, State::Done);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lease_still_locked_is_not_taken_over() {
    let server = PostgresServer::start();
    let ledger = with_tables(&server, "locked").await;
    let inbox = Inbox::new(ledger.clone());
    let sent = Outgoing {
        delivery_id: "d1".into(),
        event: "users.u1.create".into(),
        body: r#"{"$id":"u1","name":"Ada"}"#.into(),
    };
    accept(&inbox, &sent).await;
    let taken = ledger
        .take("a", Duration::from_millis(1))
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    // The lease ran out, and nobody took the delivery yet: the attempt still owns it. While
    // its transaction holds the row, the other replica's workers skip it.
    let other = common::replica(&server, "locked");
    let handler = Arc::new(ledger.exactly_once(move |_delivery, tx| {
        let other = other.clone();
        Box::pin(async move {
            let taken = other.take("b", Duration::from_secs(60)).await?;
            assert!(taken.is_none(), "taken while locked: {taken:?}");
            let id = tx.delivery_id() as i64;
            tx.execute(
                "INSERT INTO effects (delivery_id, attempt) VALUES ($1, 1)",
                &[&id],
            )
            .await?;
            Ok(())
        })
    }));
    let delivery = verifier().verify_stored(&taken.received).await.unwrap();
    let handled = handler
        .handle_attempt(delivery, attempt_for(&taken))
        .await
        .unwrap();
    assert_eq!(handled, Handled::Done);
    assert_eq!(count(&server, "locked", "SELECT count(*) FROM effects"), 1);
    let replica = common::replica(&server, "locked");
    let again = replica.take("c", Duration::from_secs(60)).await.unwrap();
    assert!(again.is_none(), "done, so never taken again: {again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_ends_the_transaction_fails_its_attempt() {
    let server = PostgresServer::start();
    let ledger = with_tables(&server, "ended").await;
    let inbox = Inbox::new(ledger.clone());
    let handler = ledger.exactly_once(|_delivery, tx| {
        Box::pin(async move {
            if tx.attempt() == 1 {
                tx.batch_execute("COMMIT").await?;
            }
            Ok(())
        })
    });
    let sent = Outgoing {
        delivery_id: "d1".into(),
        event: "users.u1.create".into(),
        body: r#"{"$id":"u1","name":"Ada"}"#.into(),
    };
    let id = accept(&inbox, &sent).await.id().unwrap();
    let workers = Workers::new(inbox.clone(), verifier(), handler)
        .with_poll_interval(Duration::from_millis(5))
        .with_retry(
            RetryPolicy::default()
                .with_initial_backoff(Duration::from_millis(1))
                .with_max_backoff(Duration::from_millis(5)),
        )
        .start();
    drained(&inbox, Duration::from_secs(30)).await;
    workers.shutdown(Duration::from_secs(5)).await;
    let row = inbox.admin().get(id).await.unwrap().unwrap();
    // Not recorded done by the attempt that committed by hand: the next one did.
    assert_eq!((row.state, row.attempts), (State::Done, 2), "{row:?}");
    let error = row.last_error.unwrap_or_default();
    assert!(error.contains("ended the ledger's transaction"), "{error}");
}
