//! The delivery guarantee through actix-web: the extractor behind the `require_signature`
//! middleware, with the memory store and a real Redis, on every failure path of the handler;
//! and the bare extractor, which verifies but never de-duplicates.

mod support;

use actix_web::{HttpResponse, web};
use appwrite_webhooks::ReplayGuard;
use appwrite_webhooks_actix::Webhook;
use appwrite_webhooks_redis::RedisLedger;
use support::{start, start_route};
use testkit::at_least_once::{self, Handler, Paths};
use testkit::redis::RedisServer;

#[actix_web::test]
async fn behind_the_middleware_every_failure_path_gives_the_delivery_back() {
    let redis = RedisServer::start();
    for guard in [
        ReplayGuard::in_memory(),
        ReplayGuard::new(RedisLedger::connect(&redis.url()).await.unwrap()),
    ] {
        let handler = Handler::new();
        let addr = start(at_least_once::verifier(guard), handler.clone(), true);
        at_least_once::run(
            addr,
            &handler,
            Paths {
                err: false,
                cancels_on_disconnect: false,
            },
        )
        .await;
        at_least_once::concurrent_copies(addr, &handler, 16).await;
    }
}

#[actix_web::test]
async fn the_bare_extractor_hands_every_copy_to_the_handler() {
    let handler = Handler::new();
    let addr = start(
        at_least_once::verifier(ReplayGuard::in_memory()),
        handler.clone(),
        false,
    );
    at_least_once::run_without_deduplication(addr, &handler).await;
}

/// A delivery the extractor refuses itself (here a header that contradicts the signed body)
/// keeps no claim: the retry is refused again, never answered as a duplicate. Bare and behind
/// the middleware.
#[actix_web::test]
async fn a_refused_delivery_keeps_no_claim() {
    async fn typed(Webhook(event): Webhook) -> HttpResponse {
        HttpResponse::Ok().body(format!("{:?}", event.kind()))
    }
    for middleware in [false, true] {
        let verifier = at_least_once::verifier(ReplayGuard::in_memory());
        let addr = start_route(verifier, Handler::new(), middleware, || {
            web::post().to(typed)
        });
        let sent = at_least_once::contradicted_delivery();
        assert_eq!(
            testkit::net::send(&sent, addr).await.0,
            400,
            "middleware {middleware}"
        );
        assert_eq!(
            testkit::net::send(&sent, addr).await.0,
            400,
            "retry, middleware {middleware}"
        );
    }
}
