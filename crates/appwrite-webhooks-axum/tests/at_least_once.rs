//! The delivery guarantee through axum: the extractor under the one-line layer, with the memory
//! store and a real Redis, on every failure path of the handler; and the bare extractor, which
//! verifies but never de-duplicates.

mod support;

use appwrite_webhooks::ReplayGuard;
use appwrite_webhooks_axum::{AppwriteWebhookLayer, Webhook};
use appwrite_webhooks_redis::RedisLedger;
use axum::Router;
use axum::routing::post;
use support::spawn;
use testkit::at_least_once::{self, Handler, Paths};
use testkit::redis::RedisServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_the_layer_every_failure_path_gives_the_delivery_back() {
    let redis = RedisServer::start();
    for guard in [
        ReplayGuard::in_memory(),
        ReplayGuard::new(RedisLedger::connect(&redis.url()).await.unwrap()),
    ] {
        let handler = Handler::new();
        let addr = spawn(at_least_once::verifier(guard), handler.clone(), true).await;
        at_least_once::run(
            addr,
            &handler,
            Paths {
                err: false,
                cancels_on_disconnect: true,
            },
        )
        .await;
        at_least_once::concurrent_copies(addr, &handler, 16).await;
    }
}

/// Without the layer the extractor cannot see the handler's outcome, so it claims nothing:
/// every verified copy reaches the handler, and a payload it rejects itself (400) is refused
/// again on the retry rather than acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bare_extractor_hands_every_copy_to_the_handler() {
    let handler = Handler::new();
    let addr = spawn(
        at_least_once::verifier(ReplayGuard::in_memory()),
        handler.clone(),
        false,
    )
    .await;
    at_least_once::run_without_deduplication(addr, &handler).await;

    async fn typed(Webhook(event): Webhook) -> String {
        format!("{:?}", event.kind())
    }
    let verifier = at_least_once::verifier(ReplayGuard::in_memory());
    for layer in [false, true] {
        let mut app = Router::new().route("/hook", post(typed));
        if layer {
            app = app.route_layer(AppwriteWebhookLayer::new(verifier.clone()));
        }
        let app = app.with_state(verifier.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        // The extractor refuses it with 400, every time: a refusal keeps no claim.
        let sent = at_least_once::contradicted_delivery();
        assert_eq!(
            testkit::net::send(&sent, addr).await.0,
            400,
            "layer {layer}"
        );
        assert_eq!(
            testkit::net::send(&sent, addr).await.0,
            400,
            "retry, layer {layer}"
        );
    }
}
