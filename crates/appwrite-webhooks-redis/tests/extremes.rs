//! Every option at its extreme is safe: `Duration::MAX` visibility and retention, the replay
//! guard's TTL and lease at `MAX_TTL`, a far-future retry, zero and `Duration::MAX` timeouts.
//! No overflow reaches Redis (its expiry arguments are saturated), nothing panics, and what is
//! kept "forever" is kept.

use std::time::{Duration, SystemTime};

use appwrite_webhooks::inbox::{Inbox, InboxStore, RetryPolicy, State, Workers};
use appwrite_webhooks::sender::DeliveryBuilder;
use appwrite_webhooks::{
    Admission, ClaimOutcome, Delivery, Fingerprint, LeaseToken, MAX_TTL, ReplayGuard, ReplayStore,
    Verifier,
};
use appwrite_webhooks_redis::RedisLedger;
use testkit::at_least_once;
use testkit::inbox_suite::{self, accept, stored, until};
use testkit::redis::RedisServer;

fn ttl_ms(redis: &RedisServer, key: &str) -> i64 {
    redis.cli(&["PTTL", key]).parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbox_takes_the_longest_visibility_retention_and_retry() {
    let redis = RedisServer::start();
    let inbox = Inbox::new(
        RedisLedger::connect(&redis.url())
            .await
            .unwrap()
            .with_inbox_prefix("max:")
            .with_timeout(Duration::MAX),
    );
    let store = inbox.store();
    let id = stored(&inbox, r#"{"$id":"u1"}"#).await;
    let taken = store.take("w", Duration::MAX).await.unwrap().unwrap();
    assert!(store.take("w", Duration::MAX).await.unwrap().is_none());
    assert!(store.complete(&taken.lease, Duration::MAX).await.unwrap());
    assert_eq!(
        inbox.admin().get(id).await.unwrap().unwrap().state,
        State::Done
    );
    assert!(ttl_ms(&redis, &format!("max:d:{id}")) > 1 << 50, "kept");
    assert_eq!(inbox.admin().stats().await.unwrap().done, 1);

    // A retry due in a thousand years waits; one due at the epoch is due now.
    let later = stored(&inbox, r#"{"$id":"u2"}"#).await;
    let taken = store.take("w", Duration::MAX).await.unwrap().unwrap();
    let far = SystemTime::now() + Duration::from_secs(1000 * 365 * 24 * 3600);
    assert!(store.fail(&taken.lease, "later", far).await.unwrap());
    assert!(store.take("w", Duration::ZERO).await.unwrap().is_none());
    assert_eq!(
        inbox.admin().get(later).await.unwrap().unwrap().state,
        State::Pending
    );

    // Workers with the longest visibility and retention handle a delivery.
    let inbox = inbox.with_retention(Duration::MAX);
    let workers = Workers::new(
        inbox.clone(),
        inbox_suite::verifier(),
        |_: Delivery| async { Ok::<_, std::io::Error>(()) },
    )
    .with_lease(Duration::MAX)
    .with_poll_interval(Duration::from_millis(20))
    .with_retry(RetryPolicy::default().with_max_attempts(u32::MAX))
    .start();
    let third = stored(&inbox, r#"{"$id":"u3"}"#).await;
    until("the worker completes it", async || {
        inbox.admin().get(third).await.unwrap().unwrap().state == State::Done
    })
    .await;
    workers.shutdown(Duration::from_secs(1)).await;
    assert!(ttl_ms(&redis, &format!("max:d:{third}")) > 1 << 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_guard_at_max_ttl_keeps_its_claims() {
    let redis = RedisServer::start();
    let store = RedisLedger::connect(&redis.url())
        .await
        .unwrap()
        .with_replay_prefix("max:")
        .with_timeout(Duration::MAX);
    let guard = ReplayGuard::new(store.clone())
        .with_retention(MAX_TTL)
        .with_lease(MAX_TTL);
    let verifier = Verifier::new("k", "https://example.com/hook");
    let sent = DeliveryBuilder::new("k", "https://example.com/hook", r#"{"$id":"t1"}"#).build();
    let delivery = verifier.verify(sent.headers(), sent.body()).unwrap();
    let key = format!("max:{}", delivery.fingerprint());

    let claim = at_least_once::admit(&guard, &delivery).await.unwrap();
    assert!(
        ttl_ms(&redis, &key) > 1 << 40,
        "a pending claim for the lease"
    );
    assert!(matches!(
        at_least_once::admit(&guard, &delivery).await,
        Err(Admission::InProgress)
    ));
    claim.complete().await;
    assert!(ttl_ms(&redis, &key) > 1 << 40, "done for the TTL");
    assert!(matches!(
        at_least_once::admit(&guard, &delivery).await,
        Err(Admission::Duplicate { .. })
    ));

    // The store itself, given more than the guard ever passes.
    let fingerprint = Fingerprint::new(&[9; 20]);
    let owner = LeaseToken::new();
    assert_eq!(
        store
            .claim(&fingerprint, &owner, Duration::MAX)
            .await
            .unwrap(),
        ClaimOutcome::Claimed
    );
    assert!(
        ReplayStore::complete(&store, &fingerprint, &owner, Duration::MAX)
            .await
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_timeouts_fail_every_command_without_panicking() {
    let redis = RedisServer::start();
    let url = redis.url();
    assert!(
        RedisLedger::builder(&url)
            .with_timeout(Duration::ZERO)
            .connect()
            .await
            .is_err()
    );

    let store = RedisLedger::connect(&url)
        .await
        .unwrap()
        .with_timeout(Duration::ZERO);
    let fingerprint = Fingerprint::new(&[1; 20]);
    assert!(
        store
            .claim(&fingerprint, &LeaseToken::new(), Duration::ZERO)
            .await
            .is_err()
    );
    let lazy = RedisLedger::builder(&url)
        .with_timeout(Duration::ZERO)
        .connect_lazily()
        .unwrap();
    assert!(
        lazy.release(&fingerprint, &LeaseToken::new())
            .await
            .is_err()
    );

    let inbox = Inbox::new(
        RedisLedger::connect(&url)
            .await
            .unwrap()
            .with_timeout(Duration::ZERO),
    );
    let error = accept(&inbox, r#"{"$id":"u1"}"#).await.unwrap_err();
    assert_eq!(error.status(), 503, "not acknowledged: {error}");
    let lazy = RedisLedger::connect_lazily(&url)
        .unwrap()
        .with_timeout(Duration::ZERO);
    assert!(lazy.take("w", Duration::ZERO).await.is_err());
    assert_eq!(redis.cli(&["DBSIZE"]), "0", "nothing was written");

    // The same store with a usable timeout again works: zero broke nothing.
    let store = store.with_timeout(Duration::from_secs(5));
    assert_eq!(
        store
            .claim(&fingerprint, &LeaseToken::new(), Duration::ZERO)
            .await
            .unwrap(),
        ClaimOutcome::Claimed
    );
}
