//! Several replicas on one database: two `PostgresLedger`s (two pools, two listeners) racing
//! for the same takes, claims and labels never both win one; and a worker waiting on one
//! replica is woken by `NOTIFY` when another stores a delivery, or an operator requeues one
//! by hand, long before its next poll.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use appwrite_webhooks::inbox::{Inbox, InboxStore, RunningWorkers, Workers};
use appwrite_webhooks::{
    ClaimOutcome, Delivery, Fingerprint, LabelStore, LeaseToken, MAX_LABELS_PER_BODY, ReplayStore,
};
use appwrite_webhooks_postgres::PostgresLedger;
use common::{PostgresServer, ledger, replica};
use testkit::inbox_suite::{self, stored, until};

const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_replicas_never_take_one_delivery_twice() {
    let server = PostgresServer::start();
    let (first, second) = (ledger(&server, "takes").await, replica(&server, "takes"));
    let inbox = Inbox::new(first.clone());
    const DELIVERIES: usize = 200;
    for i in 0..DELIVERIES {
        stored(&inbox, &format!(r#"{{"$id":"u{i}"}}"#)).await;
    }
    let mut takers = tokio::task::JoinSet::new();
    for (r, ledger) in [first, second].into_iter().enumerate() {
        for n in 0..8 {
            let ledger = ledger.clone();
            takers.spawn(async move {
                let mut taken = Vec::new();
                while let Some(t) = ledger.take(&format!("r{r}-w{n}"), MINUTE).await.unwrap() {
                    assert_eq!(t.attempt, 1, "taken once, so first attempt");
                    taken.push((t.lease.id, r));
                }
                taken
            });
        }
    }
    let mut by_id = BTreeMap::new();
    let mut replicas = [0usize; 2];
    while let Some(taken) = takers.join_next().await {
        for (id, r) in taken.unwrap() {
            replicas[r] += 1;
            assert!(by_id.insert(id, r).is_none(), "delivery {id} taken twice");
        }
    }
    assert_eq!(by_id.len(), DELIVERIES, "every delivery taken once");
    assert!(
        replicas[0] > 0 && replicas[1] > 0,
        "both replicas took some: {replicas:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_replicas_never_both_claim_one_delivery_nor_pass_the_label_limit() {
    let server = PostgresServer::start();
    let (first, second) = (ledger(&server, "claims").await, replica(&server, "claims"));
    let mut claims = tokio::task::JoinSet::new();
    for i in 0..50u8 {
        for ledger in [&first, &second] {
            for _ in 0..3 {
                let ledger = ledger.clone();
                claims.spawn(async move {
                    let outcome = ledger
                        .claim(&Fingerprint::new(&[i; 20]), &LeaseToken::new(), MINUTE)
                        .await
                        .unwrap();
                    (i, outcome)
                });
            }
        }
    }
    let mut claimed = BTreeMap::<u8, usize>::new();
    while let Some(result) = claims.join_next().await {
        let (i, outcome) = result.unwrap();
        assert_ne!(outcome, ClaimOutcome::Done);
        *claimed.entry(i).or_default() += usize::from(outcome == ClaimOutcome::Claimed);
    }
    assert!(claimed.values().all(|&n| n == 1), "{claimed:?}");
    assert_eq!(claimed.len(), 50);

    // One captured body under many invented labels at once, from both replicas: at most the
    // limit are admitted.
    let body = Fingerprint::new(&[0xab; 32]);
    let mut labels = tokio::task::JoinSet::new();
    for i in 0..24u8 {
        let (ledger, body) = (if i % 2 == 0 { &first } else { &second }.clone(), body);
        labels.spawn(async move {
            let label = Fingerprint::new(&[i; 20]);
            LabelStore::label(&ledger, &body, &label, MAX_LABELS_PER_BODY, MINUTE)
                .await
                .unwrap()
        });
    }
    let admitted = labels
        .join_all()
        .await
        .into_iter()
        .filter(|&admitted| admitted)
        .count();
    assert_eq!(admitted, MAX_LABELS_PER_BODY as usize);

    // label_and_claim is both in one statement: a new label of a full body claims nothing.
    let (owner, other) = (LeaseToken::new(), Fingerprint::new(&[0xcd; 20]));
    assert_eq!(
        first
            .label_and_claim(&body, &other, &owner, (MAX_LABELS_PER_BODY, MINUTE), MINUTE)
            .await
            .unwrap(),
        None
    );
    let fresh = Fingerprint::new(&[0xef; 32]);
    assert_eq!(
        second
            .label_and_claim(
                &fresh,
                &other,
                &owner,
                (MAX_LABELS_PER_BODY, MINUTE),
                MINUTE
            )
            .await
            .unwrap(),
        Some(ClaimOutcome::Claimed)
    );
    assert!(
        ReplayStore::complete(&first, &other, &owner, MINUTE)
            .await
            .unwrap()
    );
    assert_eq!(
        second
            .claim(&other, &LeaseToken::new(), MINUTE)
            .await
            .unwrap(),
        ClaimOutcome::Done
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_wakes_a_waiting_worker_on_another_replica() {
    let server = PostgresServer::start();
    let receiver = ledger(&server, "notify").await;
    let worker_side = replica(&server, "notify");
    // Polling once an hour: only a notification can wake these workers within the test.
    let (workers, handled) = counting_workers(worker_side, Duration::from_secs(3600));
    // The workers found nothing, went idle and started listening.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Stored through the other replica's own inbox: nothing in the workers' process knows.
    let inbox = Inbox::new(receiver.clone());
    for i in 1..=3 {
        let started = Instant::now();
        stored(&inbox, &format!(r#"{{"$id":"n{i}"}}"#)).await;
        until("the notified worker handled it", async || {
            handled.load(Ordering::SeqCst) == i
        })
        .await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    // An operator's hand-written requeue in psql wakes them too (the trigger notifies).
    requeue_by_hand(
        &server,
        "notify",
        "id = (SELECT min(id) FROM appwrite_webhooks.deliveries)",
    );
    until("the requeued delivery handled again", async || {
        handled.load(Ordering::SeqCst) == 4
    })
    .await;
    workers.shutdown(MINUTE).await;
}

/// Storing transactions share their flushes: only the transaction holding the notifier's
/// advisory lock sends `NOTIFY` (which would otherwise make each commit flush alone). One that
/// finds the lock taken stores its delivery without notifying, and a worker on another
/// replica still handles it (here by its poll); once the lock is free, a store notifies again,
/// and one transaction that makes several rows due notifies once per row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_transaction_at_a_time_notifies_and_no_delivery_waits_for_it() {
    use appwrite_webhooks_postgres::tokio_postgres::{self, AsyncMessage, NoTls};

    let server = PostgresServer::start();
    let receiver = ledger(&server, "notifier").await;
    let url = server.url("notifier");

    // Count the notifications, on a connection of the test's own.
    let (listener, mut connection) = tokio_postgres::connect(&url, NoTls).await.unwrap();
    let notified = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&notified);
    tokio::spawn(async move {
        while let Some(Ok(message)) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            if let AsyncMessage::Notification(_) = message {
                count.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    listener
        .batch_execute("LISTEN appwrite_webhooks_due")
        .await
        .unwrap();

    // Another transaction is notifying (it holds the lock, as one does until it commits).
    let (holder, holding) = tokio_postgres::connect(&url, NoTls).await.unwrap();
    tokio::spawn(holding);
    holder
        .batch_execute("BEGIN; SELECT pg_advisory_xact_lock(1098343289, 0)")
        .await
        .unwrap();

    let (workers, handled) =
        counting_workers(replica(&server, "notifier"), Duration::from_millis(100));

    // Stored (the put returns: it does not wait for the lock) without a notification; the
    // other replica's worker handles it anyway.
    let inbox = Inbox::new(receiver.clone());
    stored(&inbox, r#"{"$id":"quiet"}"#).await;
    until("the worker handled the quiet delivery", async || {
        handled.load(Ordering::SeqCst) == 1
    })
    .await;
    // A notification sent with that commit would have arrived before the worker's poll found
    // the delivery and handled it.
    assert_eq!(notified.load(Ordering::SeqCst), 0, "nothing notified");

    // The notifying transaction ends: the next store notifies.
    holder.batch_execute("COMMIT").await.unwrap();
    stored(&inbox, r#"{"$id":"heard"}"#).await;
    until("the store notified", async || {
        notified.load(Ordering::SeqCst) == 1
    })
    .await;
    until("the worker handled it", async || {
        handled.load(Ordering::SeqCst) == 2
    })
    .await;

    // One statement making both rows due again: a notification for each.
    requeue_by_hand(&server, "notifier", "true");
    until("one notification per requeued row", async || {
        notified.load(Ordering::SeqCst) == 3
    })
    .await;
    until("both handled again", async || {
        handled.load(Ordering::SeqCst) == 4
    })
    .await;
    workers.shutdown(MINUTE).await;
}

/// Workers on `ledger` that count what they handle, polling every `poll`.
fn counting_workers(ledger: PostgresLedger, poll: Duration) -> (RunningWorkers, Arc<AtomicUsize>) {
    let handled = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&handled);
    let workers = Workers::new(
        Inbox::new(ledger),
        inbox_suite::verifier(),
        move |_: Delivery| {
            let counter = Arc::clone(&counter);
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                Ok::<_, std::io::Error>(())
            }
        },
    )
    .with_concurrency(2)
    .with_poll_interval(poll)
    .start();
    (workers, handled)
}

/// An operator's requeue in `psql`, by hand: the rows `filter` selects, pending and due now, in
/// one statement.
fn requeue_by_hand(server: &PostgresServer, database: &str, filter: &str) {
    let done = server.psql(
        database,
        &format!(
            "UPDATE appwrite_webhooks.deliveries
             SET state = 'pending', due_at_ms = appwrite_webhooks.now_ms(), lease = NULL
             WHERE {filter}"
        ),
    );
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
}
