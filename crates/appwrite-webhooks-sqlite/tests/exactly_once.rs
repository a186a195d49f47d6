//! Exactly-once effects on a real file: a handler's writes commit with its delivery's `done` or
//! not at all (error, panic, timeout, a lost lease), on the inbox's path and the guard's.
//! Per-resource ordering is `ordering.rs`.

mod once_support;

use std::sync::Arc;
use std::time::Duration;

use appwrite_webhooks::inbox::{Inbox, Put, RetryPolicy, State, Workers};
use appwrite_webhooks_sqlite::SqliteLedger;
use appwrite_webhooks_sqlite::rusqlite::{self, params};
use once_support::*;

fn count(path: &std::path::Path, sql: &str) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row(sql, [], |row| row.get(0))
        .unwrap()
}

/// A handler that writes, then fails its first attempt as `how` says; the second succeeds.
async fn first_attempt_fails(how: &'static str) {
    let file = path(&format!("rollback-{how}"));
    let ledger = SqliteLedger::open(&file).unwrap();
    ledger.execute_batch(TABLES).await.unwrap();
    let inbox = Inbox::new(ledger.clone());
    let handler = ledger.exactly_once(move |_delivery, tx| {
        tx.execute(
            "INSERT INTO effects (delivery_id, attempt) VALUES (?1, ?2)",
            params![tx.delivery_id() as i64, tx.attempt()],
        )?;
        if tx.attempt() == 1 {
            match how {
                "error" => return Err("the first attempt fails".into()),
                "panic" => panic!("the first attempt panics"),
                _ => std::thread::sleep(Duration::from_millis(400)),
            }
        }
        Ok::<_, appwrite_webhooks::HandlerError>(())
    });
    let sent = Outgoing {
        delivery_id: "d1".into(),
        event: "users.u1.create".into(),
        body: r#"{"$id":"u1","name":"Ada"}"#.into(),
    };
    let Put::Stored(id) = accept(&inbox, &sent).await else {
        panic!("not stored")
    };
    let workers = Workers::new(inbox.clone(), verifier(), handler)
        .with_poll_interval(Duration::from_millis(5))
        .with_retry(
            RetryPolicy::default()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(1))
                .with_max_backoff(Duration::from_millis(5))
                // Short only where the timeout is the failure: a panic's backtrace on a busy
                // machine can take longer than that.
                .with_attempt_timeout(Duration::from_millis(match how {
                    "timeout" => 150,
                    _ => 20_000,
                })),
        )
        .start();
    drained(&inbox, Duration::from_secs(20)).await;
    workers.shutdown(Duration::from_secs(5)).await;
    let row = inbox.admin().get(id).await.unwrap().unwrap();
    assert_eq!(
        (row.state, row.attempts),
        (State::Done, 2),
        "{how}: {row:?}"
    );
    let error = row.last_error.unwrap_or_default();
    let expected = match how {
        "error" => "the first attempt fails",
        "panic" => "panicked",
        _ => "timed out",
    };
    assert!(error.contains(expected), "{how}: {error}");
    // Only the second attempt's write is there: the first one's was rolled back.
    assert_eq!(
        count(&file, "SELECT count(*) FROM effects"),
        1,
        "{how}: the failed attempt's write persisted"
    );
    assert_eq!(count(&file, "SELECT max(attempt) FROM effects"), 2, "{how}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_error_rolls_its_writes_back() {
    first_attempt_fails("error").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_panic_rolls_its_writes_back() {
    first_attempt_fails("panic").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_timeout_rolls_its_writes_back() {
    first_attempt_fails("timeout").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_lease_commits_nothing() {
    let file = path("lease-lost");
    let ledger = SqliteLedger::open(&file).unwrap();
    ledger.execute_batch(TABLES).await.unwrap();
    let inbox = Inbox::new(ledger.clone());
    let sent = Outgoing {
        delivery_id: "d1".into(),
        event: "users.u1.create".into(),
        body: r#"{"$id":"u1","name":"Ada"}"#.into(),
    };
    accept(&inbox, &sent).await;
    // Take it under one lease, then let another attempt take it over (the first one's
    // process "died": its lease ran out).
    use appwrite_webhooks::inbox::InboxStore;
    let first = ledger
        .take("a", Duration::from_millis(1))
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let second = ledger
        .take("b", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_ne!(first.lease, second.lease);
    // The first attempt's handler runs now: it must commit nothing.
    let handler = Arc::new(mirror(&ledger, |_, _| Ok(())));
    let delivery = verifier().verify_stored(&first.received).await.unwrap();
    let attempt = attempt_for(&first);
    let handled = appwrite_webhooks::inbox::InboxHandler::handle_attempt(
        Arc::clone(&handler),
        delivery.clone(),
        attempt,
    )
    .await
    .unwrap();
    assert_eq!(handled, appwrite_webhooks::inbox::Handled::LeaseLost);
    assert_eq!(count(&file, "SELECT count(*) FROM effects"), 0);
    // The second settles it, once.
    let handled = appwrite_webhooks::inbox::InboxHandler::handle_attempt(
        handler,
        delivery,
        attempt_for(&second),
    )
    .await
    .unwrap();
    assert_eq!(handled, appwrite_webhooks::inbox::Handled::Done);
    assert_eq!(count(&file, "SELECT count(*) FROM effects"), 1);
    assert_eq!(users(&file).len(), 1);
}

/// The attempt a worker would pass for `taken`.
fn attempt_for(taken: &appwrite_webhooks::inbox::Taken) -> appwrite_webhooks::inbox::Attempt {
    appwrite_webhooks::inbox::Attempt::new(
        taken.lease.clone(),
        taken.attempt,
        Duration::from_secs(3600),
        std::time::Instant::now() + Duration::from_secs(30),
    )
}

/// Property: for random histories of users (create, updates, deletes, re-creates), each change
/// sent as several copies (redeliveries and distinct deliveries), shuffled, handled by
/// concurrent workers whose handler fails some first attempts, the mirrored table ends equal
/// to every user's newest state; every applied delivery's effect is there exactly once; late
/// copies are settled stale, and none is left pending or dead.
/// The synchronous path: a claim completed with `complete_with` commits the effects with it;
/// a failing or panicking effect writes nothing and leaves the claim held; a claim that passed
/// to another copy writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_path_commits_effects_with_the_claim() {
    use appwrite_webhooks::{ClaimOutcome, Fingerprint, HandlerError, LeaseToken, ReplayStore};
    let file = path("guard");
    let ledger = SqliteLedger::open(&file).unwrap();
    ledger.execute_batch(TABLES).await.unwrap();
    let effects = |file: &std::path::Path| count(file, "SELECT count(*) FROM effects");
    let lease = Duration::from_secs(60);
    let keep = Duration::from_secs(3600);
    let write = |fail: &'static str| {
        move |tx: &appwrite_webhooks_sqlite::LedgerTransaction<'_>| {
            tx.execute(
                "INSERT INTO effects (delivery_id, attempt) VALUES (?1, 1)",
                params![tx.delivery_id() as i64],
            )?;
            match fail {
                "error" => Err(HandlerError::from("failed after writing")),
                "panic" => panic!("panicked after writing"),
                _ => Ok(()),
            }
        }
    };
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
        assert_eq!(effects(&file), 0, "{fail}: rolled back");
        assert_eq!(
            ledger.claim(&delivery, &second, lease).await.unwrap(),
            ClaimOutcome::InProgress,
            "{fail}: the claim is still held"
        );
    }
    assert!(
        ledger
            .complete_with(&delivery, &first, keep, write(""))
            .await
            .unwrap()
    );
    assert_eq!(effects(&file), 1);
    assert_eq!(
        ledger.claim(&delivery, &second, lease).await.unwrap(),
        ClaimOutcome::Done
    );
    // Completed already: a second completion is not the owner's any more, and writes nothing.
    assert!(
        !ledger
            .complete_with(&delivery, &first, keep, write(""))
            .await
            .unwrap()
    );
    assert_eq!(effects(&file), 1);

    // A claim whose lease ran out and passed to another copy.
    let other = Fingerprint::new(&[10; 20]);
    let (late, taker) = (LeaseToken::new(), LeaseToken::new());
    ledger
        .claim(&other, &late, Duration::from_millis(1))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        ledger.claim(&other, &taker, lease).await.unwrap(),
        ClaimOutcome::Claimed
    );
    assert!(
        !ledger
            .complete_with(&other, &late, keep, write(""))
            .await
            .unwrap()
    );
    assert_eq!(effects(&file), 1);
    assert!(
        ledger
            .complete_with(&other, &taker, keep, write(""))
            .await
            .unwrap()
    );
    assert_eq!(effects(&file), 2);
}
