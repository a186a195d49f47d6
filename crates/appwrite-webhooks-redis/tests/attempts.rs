//! Deliveries are never stranded and attempts never cross: a pending delivery whose stream
//! entry vanished (`XTRIM`, `XDEL`) is taken again, and an attempt whose delivery was taken
//! again — by a worker of the same name, on another handle — can no longer settle it. Against
//! a real `redis-server`; loops are bounded, nothing asserts on time.

use std::time::{Duration, SystemTime};

use appwrite_webhooks::inbox::{Inbox, InboxStore, State, Taken};
use appwrite_webhooks_redis::RedisLedger;
use testkit::inbox_suite::stored;
use testkit::redis::RedisServer;

const MINUTE: Duration = Duration::from_secs(60);

async fn inbox(redis: &RedisServer, prefix: &str) -> Inbox {
    Inbox::new(
        RedisLedger::connect(&redis.url())
            .await
            .unwrap()
            .with_inbox_prefix(prefix),
    )
}

/// Takes until something is taken, at most `tries` times, pausing `pause` between tries.
async fn take_within(
    store: &dyn InboxStore,
    worker: &str,
    visibility: Duration,
    tries: usize,
    pause: Duration,
) -> Option<Taken> {
    for _ in 0..tries {
        if let Some(taken) = store.take(worker, visibility).await.unwrap() {
            return Some(taken);
        }
        tokio::time::sleep(pause).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_whose_stream_entry_vanished_is_taken_and_completed() {
    let redis = RedisServer::start();
    let inbox = inbox(&redis, "trimmed:").await;
    let store = inbox.store();
    let first = stored(&inbox, r#"{"$id":"u1"}"#).await;
    let second = stored(&inbox, r#"{"$id":"u2"}"#).await;
    assert_eq!(
        redis.cli(&["XTRIM", "trimmed:ready", "MAXLEN", "0"]),
        "2",
        "both entries gone"
    );
    assert_eq!(
        inbox.admin().get(first).await.unwrap().unwrap().state,
        State::Pending
    );

    let mut taken = Vec::new();
    for _ in 0..100 {
        if let Some(one) = store.take("w", MINUTE).await.unwrap() {
            assert!(store.complete(&one.lease, MINUTE).await.unwrap());
            taken.push(one.lease.id);
        }
        if taken.len() == 2 {
            break;
        }
    }
    taken.sort();
    assert_eq!(taken, [first, second], "both were found and handled");
    for id in [first, second] {
        assert_eq!(
            inbox.admin().get(id).await.unwrap().unwrap().state,
            State::Done
        );
    }
    assert!(
        store.take("w", MINUTE).await.unwrap().is_none(),
        "once each"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_delivery_whose_entry_was_deleted_is_taken_again_after_its_worker_died() {
    let redis = RedisServer::start();
    let inbox = inbox(&redis, "deleted:").await;
    let store = inbox.store();
    let id = stored(&inbox, r#"{"$id":"u1"}"#).await;
    let visibility = Duration::from_millis(50);
    let lost = store.take("dies", visibility).await.unwrap().unwrap();
    let entry = lost.lease.token.split(' ').next().unwrap().to_owned();
    assert_eq!(redis.cli(&["XDEL", "deleted:ready", &entry]), "1");

    // Its worker never settles it; another takes it once it has been idle.
    let again = take_within(store, "lives", visibility, 500, Duration::from_millis(10))
        .await
        .expect("taken again");
    assert_eq!((again.lease.id, again.attempt), (id, 2));
    assert!(!store.complete(&lost.lease, MINUTE).await.unwrap());
    assert!(store.complete(&again.lease, MINUTE).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_belongs_to_one_attempt_even_under_the_same_worker_name() {
    let redis = RedisServer::start();
    // Two replicas configured alike: separate handles, one worker name.
    let (a, b) = (
        inbox(&redis, "leases:").await,
        inbox(&redis, "leases:").await,
    );
    let id = stored(&a, r#"{"$id":"u1"}"#).await;
    let visibility = Duration::from_millis(50);
    let first = a
        .store()
        .take("worker-0", visibility)
        .await
        .unwrap()
        .unwrap();
    // Attempt A stalls past its visibility; B's worker of the same name takes the delivery
    // again, on the same stream entry.
    let second = take_within(
        b.store(),
        "worker-0",
        visibility,
        500,
        Duration::from_millis(10),
    )
    .await
    .expect("taken again after the visibility timeout");
    assert_eq!((second.lease.id, second.attempt), (id, 2));
    assert_ne!(first.lease, second.lease);

    // Nothing A does settles B's attempt.
    let later = SystemTime::now() + MINUTE;
    assert!(!a.store().complete(&first.lease, MINUTE).await.unwrap());
    assert!(!a.store().fail(&first.lease, "a", later).await.unwrap());
    assert!(!a.store().dead(&first.lease, "a").await.unwrap());
    assert!(!a.store().hand_back(&first.lease).await.unwrap());
    let row = a.admin().get(id).await.unwrap().unwrap();
    assert_eq!(
        (row.state, row.attempts, row.last_error),
        (State::Pending, 2, None)
    );
    assert_eq!(a.admin().stats().await.unwrap().in_flight, 1, "B holds it");

    // B's attempt settles it, once.
    assert!(b.store().complete(&second.lease, MINUTE).await.unwrap());
    assert!(!b.store().complete(&second.lease, MINUTE).await.unwrap());
    assert_eq!(a.admin().get(id).await.unwrap().unwrap().state, State::Done);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_token_of_another_shape_settles_nothing() {
    let redis = RedisServer::start();
    let inbox = inbox(&redis, "tokens:").await;
    let store = inbox.store();
    stored(&inbox, r#"{"$id":"u1"}"#).await;
    let taken = store.take("w", MINUTE).await.unwrap().unwrap();
    let entry = taken.lease.token.split(' ').next().unwrap().to_owned();
    // The token as this store wrote it before leases had a nonce: `{entry} {worker}`.
    for token in [format!("{entry} w"), entry.clone(), String::new()] {
        let forged = appwrite_webhooks::inbox::Lease {
            id: taken.lease.id,
            token,
        };
        assert!(!store.complete(&forged, MINUTE).await.unwrap());
    }
    assert!(store.complete(&taken.lease, MINUTE).await.unwrap());
}
