//! The delivery guarantee through actix-web: the extractor behind the `require_signature`
//! middleware, with the memory store and a real Redis, on every failure path of the handler;
//! and the bare extractor, which verifies but never de-duplicates.

use std::net::SocketAddr;

use actix_web::middleware::from_fn;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use appwrite_webhooks::{Delivery, ReplayGuard, Verifier};
use appwrite_webhooks_actix::{Webhook, require_signature};
use appwrite_webhooks_redis::RedisStore;
use testkit::at_least_once::{self, Act, BEHAVIOUR, Handler, Paths};
use testkit::redis::RedisServer;

async fn on_event(
    request: HttpRequest,
    handler: web::Data<Handler>,
    Webhook(delivery): Webhook<Delivery>,
) -> HttpResponse {
    let behaviour = request
        .headers()
        .get(BEHAVIOUR)
        .and_then(|v| v.to_str().ok());
    let status = match handler.act(behaviour, delivery.body()).await {
        Act::Status(status) => status,
        Act::Err => 500,
    };
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).finish()
}

fn start(verifier: Verifier, handler: Handler, middleware: bool) -> SocketAddr {
    start_route(verifier, handler, middleware, || web::post().to(on_event))
}

/// `route` on `POST /hook`, behind the middleware or not, with the verifier and handler as data.
fn start_route(
    verifier: Verifier,
    handler: Handler,
    middleware: bool,
    route: impl Fn() -> actix_web::Route + Clone + Send + 'static,
) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (verifier, handler) = (web::Data::new(verifier), web::Data::new(handler));
    let server = HttpServer::new(move || {
        let resource = web::resource("/hook").route(route());
        let app = App::new()
            .app_data(verifier.clone())
            .app_data(handler.clone());
        if middleware {
            app.service(resource.wrap(from_fn(require_signature)))
        } else {
            // The same type either way: an identity wrap where the middleware would be.
            app.service(resource.wrap(from_fn(pass_through)))
        }
    })
    .workers(2)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    addr
}

async fn pass_through(
    request: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    next.call(request).await
}

#[actix_web::test]
async fn behind_the_middleware_every_failure_path_gives_the_delivery_back() {
    let redis = RedisServer::start();
    for guard in [
        ReplayGuard::in_memory(),
        ReplayGuard::new(RedisStore::connect(&redis.url()).await.unwrap()),
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
