//! The Redis ledger counts a body's labels once for every path (one set per body), as every
//! ledger does.

use appwrite_webhooks_redis::RedisLedger;
use testkit::redis::RedisServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bodys_labels_are_counted_once_for_every_path() {
    let redis = RedisServer::start();
    testkit::label_suite::a_bodys_labels_are_counted_once_for_every_path(async |name| {
        RedisLedger::builder(redis.url())
            .with_prefix(format!("labels-{name}:"))
            .connect()
            .await
            .unwrap()
    })
    .await;
}

/// A body's label set is kept for the longest time any of its labels asked for: the guard's
/// short TTL does not cut the inbox's retention.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_keep_never_cuts_a_longer_one() {
    use appwrite_webhooks::inbox::{InboxStore, Put};
    use appwrite_webhooks::{LeaseToken, MAX_LABELS_PER_BODY, ReplayStore};
    use std::time::Duration;
    use testkit::label_suite::{body, delivery, label};

    let redis = RedisServer::start();
    let ledger = RedisLedger::builder(redis.url())
        .with_prefix("keep:")
        .connect()
        .await
        .unwrap();
    let b = body(1);
    let week = Duration::from_secs(7 * 24 * 3600);
    let put = ledger
        .label_and_put(
            &b,
            &label(&b, 1),
            (MAX_LABELS_PER_BODY, week),
            delivery(&label(&b, 1)),
        )
        .await
        .unwrap();
    assert!(matches!(put, Put::Stored(_)));
    let claimed = ledger
        .label_and_claim(
            &b,
            &label(&b, 2),
            &LeaseToken::new(),
            (MAX_LABELS_PER_BODY, Duration::from_secs(60)),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert!(claimed.is_some());
    let ttl: u64 = redis
        .cli(&["PTTL", &format!("keep:seen:labels:{b}")])
        .trim()
        .parse()
        .unwrap();
    assert!(ttl > 3600 * 1000, "{ttl} ms");
}
