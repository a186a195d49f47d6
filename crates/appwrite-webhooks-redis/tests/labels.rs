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
