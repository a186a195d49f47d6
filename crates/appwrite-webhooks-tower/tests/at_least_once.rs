//! The delivery guarantee through the layer, with the memory store and a real Redis: every
//! failure path of the inner service (error status, `Err`, panic, a timeout layer, the sender
//! disconnecting, a copy arriving mid-handler) gives the delivery back; only a success is
//! acknowledged.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use appwrite_webhooks::{ReplayGuard, Verifier};
use appwrite_webhooks_redis::RedisStore;
use appwrite_webhooks_tower::{AppwriteWebhookLayer, ResponseBody};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt as _, Either, Full};
use testkit::at_least_once::{self, Act, BEHAVIOUR, Handler, Paths};
use testkit::redis::RedisServer;
use tower::ServiceBuilder;

/// The layer around a service that acts as the suite's handler says; an `Err` from it (or the
/// timeout layer outside it) becomes a 500, as a server would answer.
async fn spawn(verifier: Verifier, handler: Handler, timeout: Option<Duration>) -> SocketAddr {
    let inner = move |request: Request<Full<Bytes>>| {
        let handler = handler.clone();
        async move {
            let behaviour = request
                .headers()
                .get(BEHAVIOUR)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = request.into_body().collect().await.unwrap().to_bytes();
            match handler.act(behaviour.as_deref(), &body).await {
                Act::Status(status) => Ok(Response::builder()
                    .status(status)
                    .body(Full::<Bytes>::default())
                    .unwrap()),
                Act::Err => Err(std::io::Error::other("the handler failed")),
            }
        }
    };
    let layered = ServiceBuilder::new()
        // No timeout: longer than any handler of the suite runs.
        .timeout(timeout.unwrap_or(Duration::from_secs(300)))
        .layer(AppwriteWebhookLayer::new(verifier))
        .service_fn(inner);
    let service = tower::service_fn(move |request: Request<hyper::body::Incoming>| {
        let layered = layered.clone();
        async move {
            let response: Response<ResponseBody<Full<Bytes>>> =
                match tower::ServiceExt::oneshot(layered, request).await {
                    Ok(response) => response,
                    Err(_) => Response::builder()
                        .status(500)
                        .body(Either::Right(Full::default()))
                        .unwrap(),
                };
            Ok::<_, Infallible>(response)
        }
    });
    testkit::net::serve_tower(service).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failure_path_gives_the_delivery_back() {
    let redis = RedisServer::start();
    for guard in [
        ReplayGuard::in_memory(),
        ReplayGuard::new(RedisStore::connect(&redis.url()).await.unwrap()),
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
        ReplayGuard::new(RedisStore::connect(&redis.url()).await.unwrap()),
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
