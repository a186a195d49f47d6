//! Per-resource ordering on Redis: leases and locks, against a real `redis-server`. Two
//! versions of one resource never run at once; an attempt whose lease passed runs and records
//! nothing; an attempt dropped mid-handler lets go of its resource. Loops are bounded; nothing
//! asserts on time.

mod ordering_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use appwrite_webhooks::inbox::{Attempt, Handled, InboxHandler, Lease};
use appwrite_webhooks::{Delivery, HandlerError};
use ordering_support::{Outgoing, accept, attempt, ledger, timestamp, verifier};
use testkit::redis::RedisServer;
use tokio::sync::{mpsc, watch};

/// A handler that says which delivery it entered, then waits for the gate to open.
fn gated(
    entered: mpsc::UnboundedSender<String>,
    gate: watch::Receiver<bool>,
) -> impl Fn(Delivery) -> std::pin::Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send>>
+ Send
+ Sync
+ 'static {
    move |delivery: Delivery| {
        let (entered, mut gate) = (entered.clone(), gate.clone());
        Box::pin(async move {
            let id = delivery.delivery_id().unwrap_or("").to_owned();
            entered.send(id)?;
            gate.wait_for(|open| *open).await?;
            Ok(())
        })
    }
}

/// Two versions of one resource never run at once: an older one that arrives while a newer
/// one's handler runs waits for it, then finds it stale — it does not run beside it and
/// apply the older state after the newer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_version_waits_for_the_newer_one_running_and_is_stale() {
    let redis = RedisServer::start();
    let (ledger, inbox) = ledger(&redis, "busy:").await;
    let (entered, mut inside) = mpsc::unbounded_channel();
    let (release, gate) = watch::channel(false);
    let handler: Arc<dyn InboxHandler> = Arc::new(ledger.ordered(gated(entered, gate)));
    accept(
        &inbox,
        &Outgoing::user("d1", "update", "six", Some(&timestamp(6))),
    )
    .await;
    accept(
        &inbox,
        &Outgoing::user("d2", "update", "five", Some(&timestamp(5))),
    )
    .await;
    let newer = tokio::spawn({
        let (inbox, handler) = (inbox.clone(), Arc::clone(&handler));
        async move { attempt(&inbox, &handler).await.1.unwrap() }
    });
    assert_eq!(
        inside.recv().await.unwrap(),
        "d1",
        "the newer one's handler runs"
    );
    let older = tokio::spawn({
        let (inbox, handler) = (inbox.clone(), Arc::clone(&handler));
        async move { attempt(&inbox, &handler).await.1.unwrap() }
    });
    // However long the older one has waited, it is let through only after the newer settles.
    tokio::time::sleep(Duration::from_millis(50)).await;
    release.send(true).unwrap();
    assert_eq!(newer.await.unwrap(), Handled::Done);
    assert_eq!(older.await.unwrap(), Handled::Stale);
    assert!(
        inside.try_recv().is_err(),
        "the older one's handler never ran"
    );
    let stats = inbox.admin().stats().await.unwrap();
    assert_eq!((stats.done, stats.stale), (1, 1), "{stats:?}");
}

/// An attempt whose lease is not the delivery's current one (its lease ran out and another
/// attempt took the delivery) neither runs the handler nor records anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_whose_lease_passed_runs_and_records_nothing() {
    let redis = RedisServer::start();
    let (ledger, inbox) = ledger(&redis, "lost:").await;
    let (entered, mut inside) = mpsc::unbounded_channel();
    let (_release, gate) = watch::channel(true);
    let handler: Arc<dyn InboxHandler> = Arc::new(ledger.ordered(gated(entered, gate)));
    accept(
        &inbox,
        &Outgoing::user("d1", "update", "six", Some(&timestamp(6))),
    )
    .await;
    let taken = inbox
        .store()
        .take("w", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    let delivery = verifier().verify_stored(&taken.received).await.unwrap();
    // The lease another attempt would have had before this one took the delivery.
    let passed = Lease {
        id: taken.lease.id,
        token: taken.lease.token.replacen(' ', " 0", 1),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let stale_attempt = Attempt::new(passed, 1, Duration::from_secs(60), deadline);
    let handled = Arc::clone(&handler)
        .handle_attempt(delivery, stale_attempt)
        .await;
    assert_eq!(handled.unwrap(), Handled::LeaseLost);
    assert!(inside.try_recv().is_err(), "the handler never ran");
    assert_eq!(redis.cli(&["EXISTS", "lost:inbox:v:users.u1"]), "0");
    assert_eq!(redis.cli(&["EXISTS", "lost:inbox:lock:users.u1"]), "0");
    // The current attempt still holds it, and settles it.
    let delivery = verifier().verify_stored(&taken.received).await.unwrap();
    let current = Attempt::new(taken.lease.clone(), 1, Duration::from_secs(60), deadline);
    let handled = Arc::clone(&handler).handle_attempt(delivery, current).await;
    assert_eq!(handled.unwrap(), Handled::Done);
    assert_eq!(redis.cli(&["HGET", "lost:inbox:v:users.u1", "by"]), "1");
}

/// An attempt dropped while its handler runs (the worker timed it out, or shutdown handed it
/// back) lets go of its resource at once, not at its deadline, and records no version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_attempt_lets_go_of_its_resource() {
    let redis = RedisServer::start();
    let (ledger, inbox) = ledger(&redis, "dropped:").await;
    let (entered, mut inside) = mpsc::unbounded_channel();
    let (_release, gate) = watch::channel(false);
    let handler: Arc<dyn InboxHandler> = Arc::new(ledger.ordered(gated(entered, gate)));
    accept(
        &inbox,
        &Outgoing::user("d1", "update", "six", Some(&timestamp(6))),
    )
    .await;
    let running = tokio::spawn({
        let (inbox, handler) = (inbox.clone(), Arc::clone(&handler));
        async move { attempt(&inbox, &handler).await }
    });
    assert_eq!(inside.recv().await.unwrap(), "d1");
    assert_eq!(redis.cli(&["EXISTS", "dropped:inbox:lock:users.u1"]), "1");
    running.abort();
    assert!(running.await.unwrap_err().is_cancelled());
    // Its deadline is a minute away; the lock goes long before.
    for _ in 0..2000 {
        if redis.cli(&["EXISTS", "dropped:inbox:lock:users.u1"]) == "0" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(redis.cli(&["EXISTS", "dropped:inbox:lock:users.u1"]), "0");
    assert_eq!(redis.cli(&["EXISTS", "dropped:inbox:v:users.u1"]), "0");
}
