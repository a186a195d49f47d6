//! The suites every ledger passes, against a real Postgres started by the test: the inbox's
//! (de-duplication, workers, retries, dead letters, visibility, shutdown, purge, labels) and the
//! synchronous guard's delivery guarantee on every failure path through a real server.

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use appwrite_webhooks::inbox::Inbox;
use appwrite_webhooks::{ReplayGuard, Verifier};
use appwrite_webhooks_postgres::PostgresLedger;
use appwrite_webhooks_tower::{AppwriteWebhookLayer, ResponseBody};
use bytes::Bytes;
use common::{PostgresServer, migrated_by_hand};
use http::{Request, Response};
use http_body_util::{BodyExt as _, Either, Full};
use testkit::at_least_once::{self, Act, BEHAVIOUR, Handler, Paths};
use testkit::inbox_suite;
use tower::ServiceBuilder;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behaves_as_every_inbox_must() {
    let server = PostgresServer::start();
    inbox_suite::run_all(|name| {
        let url = migrated_by_hand(&server, name);
        Inbox::new(PostgresLedger::connect_lazily(&url).unwrap())
    })
    .await;
}

/// The tower layer on `POST /hook` around a service that acts as the suite's handler says.
async fn spawn(verifier: Verifier, handler: Handler) -> SocketAddr {
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
        .timeout(Duration::from_secs(300))
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
async fn the_guard_gives_every_failed_delivery_back() {
    let server = PostgresServer::start();
    let ledger = common::ledger(&server, "guard").await;
    let handler = Handler::new();
    let addr = spawn(
        at_least_once::verifier(ReplayGuard::new(ledger)),
        handler.clone(),
    )
    .await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_receivers_sharing_one_database_handle_each_delivery_once() {
    let server = PostgresServer::start();
    let first = common::ledger(&server, "receivers").await;
    let second = common::replica(&server, "receivers");
    let handler = Handler::new();
    let mut receivers = Vec::new();
    for ledger in [first, second] {
        let guard = ReplayGuard::new(ledger);
        receivers.push(spawn(at_least_once::verifier(guard), handler.clone()).await);
    }
    for i in 0..10 {
        let sent = at_least_once::delivery(&format!("replica-{i}"));
        let (a, b) = tokio::join!(
            at_least_once::deliver(receivers[0], &handler, &sent, "ok"),
            at_least_once::deliver(receivers[1], &handler, &sent, "ok"),
        );
        let mut statuses = [a, b];
        statuses.sort();
        assert!(
            statuses == [200, 204] || statuses == [204, 409],
            "{statuses:?}"
        );
        assert_eq!(handler.successes(sent.body()), 1);
    }
}
