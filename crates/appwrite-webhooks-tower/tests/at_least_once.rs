//! The delivery guarantee through the layer, with the memory store and a real Redis: every
//! failure path of the inner service (error status, `Err`, panic, a timeout layer, the sender
//! disconnecting, a copy arriving mid-handler) gives the delivery back; only a success is
//! acknowledged.

mod support;

use std::time::Duration;

use appwrite_webhooks::ReplayGuard;
use appwrite_webhooks_redis::RedisLedger;
use support::spawn;
use testkit::at_least_once::{self, Handler, Paths};
use testkit::redis::RedisServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failure_path_gives_the_delivery_back() {
    let redis = RedisServer::start();
    for guard in [
        ReplayGuard::in_memory(),
        ReplayGuard::new(RedisLedger::connect(&redis.url()).await.unwrap()),
    ] {
        let handler = Handler::new();
        let addr = spawn(at_least_once::verifier(guard), handler.clone(), None).await;
        at_least_once::run(
            addr,
            &handler,
            Paths {
                err: true,
                cancels_on_disconnect: true,
            },
        )
        .await;
        at_least_once::concurrent_copies(addr, &handler, 16).await;
    }
}

/// A timeout layer outside ours cancels the request: the claim goes back with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_layer_cancelling_the_handler_gives_the_delivery_back() {
    let redis = RedisServer::start();
    for guard in [
        ReplayGuard::in_memory(),
        ReplayGuard::new(RedisLedger::connect(&redis.url()).await.unwrap()),
    ] {
        let handler = Handler::new();
        let addr = spawn(
            at_least_once::verifier(guard),
            handler.clone(),
            Some(Duration::from_millis(300)),
        )
        .await;
        let sent = at_least_once::delivery("timeout");
        assert_eq!(
            at_least_once::deliver(addr, &handler, &sent, "hang").await,
            500
        );
        // A networked store's release runs as a task: a copy sent at once may still see 409.
        assert_eq!(
            at_least_once::once_settled(addr, &handler, &sent).await,
            204
        );
        assert_eq!(
            at_least_once::deliver(addr, &handler, &sent, "ok").await,
            200
        );
    }
}
